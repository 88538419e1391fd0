//! The matching engine: which active rules apply to an edit, ranked, with why.
//!
//! A query is (repo key, repo-relative path, optional text — the changed lines, a prompt, a
//! search). Rules are scoped first (the repo's own rules and global ones; never another repo's),
//! then matched by glob, then judged on three named parts ([`score`]): how much of the path the
//! glob pins (*scope*), how much of the rule the change talks about (*text*: its changed lines
//! and its path's own words, code identifiers split into words, [`words`]), and the rule's
//! *evidence*. A rule applies when its text relevance reaches a floor that rises as its glob
//! widens — nothing relevant means nothing returned — and the kept rules are cut by top-k and a
//! token budget.
//!
//! It is built for a fresh process (the hook): candidate globs come from an index of each
//! distinct glob's literal directory prefix and extension (schema 4, kept by triggers), so a
//! call compiles only the handful of globs that could match; the full-text index holds only
//! *active* rules, tagged with their scope and glob ids, so the rules governing a file are one
//! indexed lookup, and when too many do (thousands of rules under one wide glob) bm25 picks the
//! ones worth reading.
//!
//! - Path, no text (a read): rules whose best glob has scope ≥ [`score::PATH_FLOOR`].
//! - Path and text (an edit, a prompt naming a file): a glob-matched rule when its text
//!   relevance reaches [`score::floor`] of its glob (none for a glob naming the file); a rule
//!   without globs at [`score::UNSCOPED_FLOOR`].
//! - Text, no path (a search): rules with relevance ≥ [`score::SEARCH_FLOOR`].

pub mod score;
pub mod words;

use globset::GlobSetBuilder;
use rusqlite::{Connection, OptionalExtension, params};
use score::{QueryWords, RuleWords};
use serde::Serialize;
use std::collections::HashMap;

/// Default number of rules returned.
pub const DEFAULT_TOP_K: usize = 5;
/// Default token budget of the returned rules' text.
pub const DEFAULT_TOKEN_BUDGET: usize = 1000;
/// How many words are kept from a long text.
const MAX_TERMS: usize = 64;
/// Up to this many rules governing a file are read and judged one by one; past it (or for rules
/// without globs, or a search) the full-text index's bm25 picks [`FTS_PICK`] of those sharing a
/// word with the query.
const READ_ALL: usize = 64;
const FTS_PICK: usize = 32;

/// What to match.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    /// Repo key of the working tree; `None` outside a repository (then only global rules).
    pub repo: Option<&'a str>,
    /// Repo-relative path with `/`.
    pub path: Option<&'a str>,
    /// Changed text, prompt or search words.
    pub text: Option<&'a str>,
    pub top_k: usize,
    /// Approximate tokens (4 characters each) of title + statement across the returned rules.
    pub token_budget: usize,
    /// Only rules with severity `enforce` (the gate).
    pub enforce_only: bool,
}

impl<'a> Query<'a> {
    pub fn new(repo: Option<&'a str>) -> Query<'a> {
        Query {
            repo,
            path: None,
            text: None,
            top_k: DEFAULT_TOP_K,
            token_budget: DEFAULT_TOKEN_BUDGET,
            enforce_only: false,
        }
    }
    pub fn path(mut self, p: &'a str) -> Self {
        self.path = Some(p);
        self
    }
    pub fn text(mut self, t: &'a str) -> Self {
        self.text = Some(t).filter(|t| !t.trim().is_empty());
        self
    }
}

/// One applicable rule.
#[derive(Debug, Clone, Serialize)]
pub struct Match {
    pub id: String,
    pub title: String,
    pub statement: String,
    pub globs: Vec<String>,
    pub repo: Option<String>,
    pub severity: crate::kinds::Severity,
    pub confidence: f64,
    pub score: f64,
    /// Why it applies, for people: "glob src/billing/*.rs; terms: round, cents".
    pub why: String,
    pub matched_glob: Option<String>,
    pub terms: Vec<String>,
    /// One link to the review comment it came from, when there is one.
    pub evidence_url: Option<String>,
}

impl Match {
    /// Approximate tokens this rule costs when shown.
    pub fn tokens(&self) -> usize {
        (self.title.len() + self.statement.len()).div_ceil(4) + 12
    }
}

/// Query terms from free text or code: words split at non-alphanumerics and case changes,
/// abbreviations written out, lower-cased, ≥ 3 letters, no stopwords or numbers, first
/// occurrence order, one per stem, at most 64.
pub fn terms(text: &str) -> Vec<String> {
    words::words(text, MAX_TERMS)
        .into_iter()
        .map(|w| w.word)
        .collect()
}

/// A glob's specificity (see [`score::specificity`]).
pub fn specificity(glob: &str) -> f64 {
    score::specificity(glob)
}

/// The directory prefixes the index may hold for a path: "", "src/", "src/billing/".
fn path_prefixes(path: &str) -> Vec<String> {
    let mut v = vec![String::new()];
    for (i, c) in path.char_indices() {
        if c == '/' {
            v.push(path[..=i].to_string());
        }
    }
    v
}

/// The literal extension of a path's last segment, as the index computes it for globs.
fn path_ext(path: &str) -> &str {
    let seg = path.rsplit('/').next().unwrap_or(path);
    seg.rsplit_once('.').map_or("", |(_, e)| e)
}

/// The FTS query for some words: each quoted (so nothing in it is syntax), OR-ed. (Prefix
/// queries would find more, at many times the cost; the index's porter stemmer meets word
/// forms, and the query carries split identifiers' parts and whole.)
fn fts_query(words: &[words::Word]) -> String {
    words
        .iter()
        .map(|w| format!("\"{}\"", w.word.replace('"', "")))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// A rule that may apply: its best matching glob and scope (none for a rule without globs),
/// then what reading it found.
struct Candidate {
    glob: Option<(String, f64)>,
    /// Worth reading: it may share a word with the query.
    read: bool,
    rel: f64,
    met: Vec<String>,
    confidence: f64,
}

/// The scope ids (`scopes.id`) of the repo and of global rules, as FTS tags.
fn scope_tags(conn: &Connection, repo: &str) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare_cached("SELECT id FROM scopes WHERE key IN (?1, '')")?;
    let ids = st.query_map([repo], |r| r.get::<_, i64>(0))?;
    ids.map(|id| id.map(|id| format!("zs{id}"))).collect()
}

/// The active rules tagged with any of `tags` — with `words`, only those sharing one of them,
/// best bm25 first, at most `limit`.
fn tagged(
    conn: &Connection,
    tags: &[String],
    words: Option<&[words::Word]>,
    limit: usize,
) -> rusqlite::Result<Vec<i64>> {
    if tags.is_empty() {
        return Ok(Vec::new());
    }
    let tags = format!("tags : ({})", tags.join(" OR "));
    let (sql, fts) = match words {
        Some(w) => (
            "SELECT rowid FROM rules_fts WHERE rules_fts MATCH ?1 ORDER BY bm25(rules_fts, 3.0, 2.0, 1.0, 0.0) LIMIT ?2",
            format!(
                "{{title statement rationale}} : ({}) AND {tags}",
                fts_query(w)
            ),
        ),
        None => (
            "SELECT rowid FROM rules_fts WHERE rules_fts MATCH ?1 LIMIT ?2",
            tags,
        ),
    };
    let mut st = conn.prepare_cached(sql)?;
    let rows = st.query_map(params![fts, limit as i64], |r| r.get::<_, i64>(0))?;
    rows.collect()
}

/// Reads each candidate's words and confidence and judges its text against the query.
fn judge(
    conn: &Connection,
    cands: &mut HashMap<i64, Candidate>,
    query: &QueryWords,
) -> rusqlite::Result<()> {
    let mut st = conn.prepare_cached(
        "SELECT r.title, r.statement, COALESCE(r.rationale, ''), r.confidence
         FROM rule_keys k JOIN rules r ON r.id = k.rule_id WHERE k.seq = ?1",
    )?;
    for (seq, c) in cands.iter_mut().filter(|(_, c)| c.read) {
        let row = st
            .query_row([seq], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, f64>(3)?,
                ))
            })
            .optional()?;
        let Some((title, statement, rationale, confidence)) = row else {
            continue;
        };
        c.confidence = confidence;
        if !query.is_empty() {
            let (rel, met) = RuleWords::cached(&title, &statement, &rationale).relevance(query);
            c.rel = rel;
            c.met = met;
        }
    }
    Ok(())
}

/// The candidates for a query: the rules governing the path (by glob) and, with text, the rules
/// without globs that share a word with it; or, for a search, the in-scope rules sharing a word.
fn candidates(
    conn: &Connection,
    q: &Query<'_>,
    scopes: &[String],
    qwords: &[words::Word],
) -> rusqlite::Result<HashMap<i64, Candidate>> {
    let mut cands: HashMap<i64, Candidate> = HashMap::new();
    let fresh = |glob: Option<(String, f64)>, read: bool| Candidate {
        glob,
        read,
        rel: 0.0,
        met: Vec::new(),
        confidence: 1.0,
    };
    let has_text = !qwords.is_empty();
    // The full-text index is asked only for telling words: a common word's postings span most
    // rules (all cost, no choice), and a rule sharing nothing but common words with a change
    // never reaches the floor of a wide glob or of a rule without globs anyway.
    let telling: Vec<words::Word> = qwords.iter().filter(|w| w.weight >= 1.0).cloned().collect();
    let Some(path) = q.path else {
        let ask = if telling.is_empty() { qwords } else { &telling };
        for seq in tagged(conn, scopes, Some(ask), FTS_PICK)? {
            cands.insert(seq, fresh(None, true));
        }
        return Ok(cands);
    };
    // Most specific first: a rule keeps its best glob.
    let found = matching_globs(conn, q.repo.unwrap_or(""), path)?;
    // The rules the globs govern, most specific glob first. A read ranks by scope alone, so
    // once enough rules are in hand the wider globs add nothing (unless the gate must look for
    // `enforce` rules among them). An edit reads every governing rule while there are few; past
    // [`READ_ALL`] the wider globs' rules are left to the full-text pick below, except a glob
    // naming the file, whose rules apply whatever the text.
    let enough = if q.enforce_only {
        usize::MAX
    } else {
        (q.top_k * 8).max(40)
    };
    let mut governing: Vec<(i64, usize)> = Vec::new();
    let mut seen: std::collections::HashSet<i64> = std::collections::HashSet::new();
    let mut overflow = false;
    for (i, (id, glob, spec)) in found.iter().enumerate() {
        if !has_text && (*spec < score::PATH_FLOOR || seen.len() >= enough) {
            continue;
        }
        if overflow && !score::names_the_file(glob) {
            continue;
        }
        for seq in tagged(conn, &[format!("zg{id}")], None, usize::MAX >> 1)? {
            seen.insert(seq);
            governing.push((seq, i));
        }
        overflow = has_text && seen.len() > READ_ALL;
    }
    let read_all = has_text && !overflow;
    // One full-text query: rules without globs (they may apply to any file, by text alone) and,
    // when too many rules govern the file to read them all, bm25's pick of those sharing a
    // telling word with the change.
    let mut picked: Vec<i64> = Vec::new();
    if has_text && !telling.is_empty() {
        let mut tags: Vec<String> = scopes.iter().map(|s| format!("{s}any")).collect();
        if overflow {
            tags.extend(found.iter().map(|(id, _, _)| format!("zg{id}")));
        }
        picked = tagged(conn, &tags, Some(&telling), FTS_PICK)?;
    }
    let picked_set: std::collections::HashSet<i64> = picked.iter().copied().collect();
    for (seq, i) in governing {
        let (_, glob, spec) = &found[i];
        let read = read_all || picked_set.contains(&seq);
        if !has_text || read || score::names_the_file(glob) {
            cands
                .entry(seq)
                .or_insert_with(|| fresh(Some((glob.clone(), *spec)), read));
        }
    }
    // A picked rule not met above: governed by a wider glob (its best matching one), or without
    // globs.
    for seq in picked {
        if let std::collections::hash_map::Entry::Vacant(e) = cands.entry(seq) {
            e.insert(fresh(best_glob(conn, seq, &found)?, true));
        }
    }
    Ok(cands)
}

/// The most specific of `found` (the globs matching the path) that rule `seq` has, with its
/// specificity; `None` for a rule without globs.
fn best_glob(
    conn: &Connection,
    seq: i64,
    found: &[(i64, String, f64)],
) -> rusqlite::Result<Option<(String, f64)>> {
    let mut st = conn.prepare_cached("SELECT glob_id FROM rule_globs WHERE seq = ?1")?;
    let mut best: Option<&(i64, String, f64)> = None;
    for gid in st.query_map([seq], |r| r.get::<_, i64>(0))? {
        let gid = gid?;
        if let Some(g) = found.iter().find(|g| g.0 == gid)
            && best.is_none_or(|b| g.2 > b.2)
        {
            best = Some(g);
        }
    }
    Ok(best.map(|g| (g.1.clone(), g.2)))
}

/// The query's words: with a path and text, the path's own words first, then the text's.
fn query_words(q: &Query<'_>) -> Vec<words::Word> {
    let Some(text) = q.text else {
        return Vec::new();
    };
    let mut out = q.path.map(words::path_words).unwrap_or_default();
    for w in words::words(text, MAX_TERMS) {
        if out.len() >= MAX_TERMS {
            break;
        }
        if !out.iter().any(|o| o.stem == w.stem) {
            out.push(w);
        }
    }
    out
}

/// Active rules for this query, best first, within top-k and the token budget.
pub fn match_rules(conn: &Connection, q: &Query<'_>) -> rusqlite::Result<Vec<Match>> {
    // One read transaction for the dozen statements of a match: outside one, SQLite takes its
    // locks and checks the journal afresh for every statement.
    let _read = difflore_core::store::read_tx(conn)?;
    let scopes = scope_tags(conn, q.repo.unwrap_or(""))?;
    if scopes.is_empty() {
        return Ok(Vec::new());
    }
    let qwords = query_words(q);
    if q.path.is_none() && qwords.is_empty() {
        return Ok(Vec::new());
    }
    let query = QueryWords::new(&qwords);
    let mut cands = candidates(conn, q, &scopes, &qwords)?;
    let has_text = !query.is_empty();
    if has_text {
        judge(conn, &mut cands, &query)?;
    }
    let mut kept: Vec<(i64, f64, Candidate)> = cands
        .into_iter()
        .filter_map(|(seq, c)| {
            let spec = c.glob.as_ref().map(|g| g.1);
            let applies = match (q.path.is_some(), has_text) {
                (true, false) => spec.is_some_and(|s| s >= score::PATH_FLOOR),
                (true, true) => c.rel >= score::floor(c.glob.as_ref().map(|g| g.0.as_str())),
                (false, _) => c.rel >= score::SEARCH_FLOOR,
            };
            let s = match (q.path.is_some(), has_text) {
                // A read: the scope alone (no rule is read on this hot path).
                (true, false) => spec.unwrap_or(0.0),
                (true, true) => score::combined(spec, c.rel, c.confidence),
                (false, _) => 0.9 * c.rel + 0.1 * c.confidence,
            };
            applies.then_some((seq, s, c))
        })
        .collect();
    kept.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    assemble(conn, q, kept)
}

/// The kept rules as [`Match`]es, within top-k, severity and the token budget.
fn assemble(
    conn: &Connection,
    q: &Query<'_>,
    kept: Vec<(i64, f64, Candidate)>,
) -> rusqlite::Result<Vec<Match>> {
    let mut out = Vec::new();
    let mut spent = 0usize;
    let mut st = conn.prepare_cached(
        "SELECT r.id, title, statement, globs, repo, severity, confidence,
                (SELECT url FROM rule_evidence e WHERE e.rule_id = r.id AND url IS NOT NULL ORDER BY comment_id LIMIT 1)
         FROM rule_keys k JOIN rules r ON r.id = k.rule_id WHERE k.seq = ?1 AND r.status = 'active'",
    )?;
    for (seq, score, c) in kept {
        if out.len() >= q.top_k {
            break;
        }
        let Some(mut m) = st
            .query_row([seq], |r| {
                Ok(Match {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    statement: r.get(2)?,
                    globs: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default(),
                    repo: r.get(4)?,
                    severity: r.get(5)?,
                    confidence: r.get(6)?,
                    score: (score * 1000.0).round() / 1000.0,
                    why: String::new(),
                    matched_glob: c.glob.as_ref().map(|g| g.0.clone()),
                    terms: c.met.iter().take(6).cloned().collect(),
                    evidence_url: r.get(7)?,
                })
            })
            .optional()?
        else {
            continue;
        };
        if q.enforce_only && m.severity != crate::kinds::Severity::Enforce {
            continue;
        }
        let cost = m.tokens();
        if spent + cost > q.token_budget {
            continue;
        }
        spent += cost;
        m.why = why(&m, c.glob.as_ref().map(|g| g.1), c.rel);
        out.push(m);
    }
    Ok(out)
}

/// Why a rule applies, naming each part: "glob src/billing/*.rs (scope 0.64); terms: cents,
/// f64 (text 0.71)".
fn why(m: &Match, spec: Option<f64>, rel: f64) -> String {
    let mut parts = Vec::new();
    match (&m.matched_glob, spec) {
        (Some(g), Some(s)) => parts.push(format!("glob {g} (scope {s:.2})")),
        _ if m.globs.is_empty() => parts.push("applies to any file".to_string()),
        _ => {}
    }
    if m.repo.is_none() {
        parts.push("global rule".to_string());
    }
    if !m.terms.is_empty() {
        parts.push(format!("terms: {} (text {rel:.2})", m.terms.join(", ")));
    }
    if m.confidence < 1.0 {
        parts.push(format!("evidence {:.2}", m.confidence));
    }
    parts.join("; ")
}

/// The globs (id, text, specificity) of this repo and of global rules that match `path`, most
/// specific first: an index lookup by literal prefix and extension, then only those globs are
/// matched — the common shapes directly ([`difflore_proto::globs::simple_match`]), the rest
/// compiled into one set.
fn matching_globs(
    conn: &Connection,
    scope: &str,
    path: &str,
) -> rusqlite::Result<Vec<(i64, String, f64)>> {
    // The prefixes as parameters, one statement per path depth: simpler for a fresh process to
    // run than a JSON array unpacked by `json_each`.
    let prefixes = path_prefixes(path);
    let marks: Vec<String> = (0..prefixes.len()).map(|i| format!("?{}", i + 3)).collect();
    let mut st = conn.prepare_cached(&format!(
        "SELECT id, glob FROM glob_ids
         WHERE scope IN (?1, '') AND ext IN (?2, '') AND prefix IN ({})",
        marks.join(", ")
    ))?;
    let ext = path_ext(path);
    let mut args: Vec<&dyn rusqlite::ToSql> = vec![&scope, &ext];
    args.extend(prefixes.iter().map(|p| p as &dyn rusqlite::ToSql));
    let rows = st.query_map(args.as_slice(), |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    let mut rest = Vec::new();
    let mut set = GlobSetBuilder::new();
    for row in rows {
        let (id, glob) = row?;
        let spec = score::specificity(&glob);
        match difflore_proto::globs::simple_match(&glob, path) {
            Some(true) => out.push((id, glob, spec)),
            Some(false) => {}
            // A glob that does not compile matches nothing (memory add/edit validate them).
            None => {
                if let Ok(g) = difflore_proto::globs::compile(&glob) {
                    set.add(g);
                    rest.push((id, glob, spec));
                }
            }
        }
    }
    if !rest.is_empty()
        && let Ok(set) = set.build()
    {
        out.extend(set.matches(path).into_iter().map(|i| rest[i].clone()));
    }
    out.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_split_code_and_prose() {
        assert_eq!(
            terms("let totalCents = parseFloat(amount_cents); // Round the CENTS"),
            vec![
                "total",
                "cents",
                "totalcents",
                "parse",
                "parsefloat",
                "amount",
                "amountcents",
                "round"
            ]
        );
        assert!(terms("a an to 42 the").is_empty());
    }

    #[test]
    fn prefixes_and_ext() {
        assert_eq!(path_prefixes("src/b/x.rs"), vec!["", "src/", "src/b/"]);
        assert_eq!(path_ext("src/b/x.test.js"), "js");
        assert_eq!(path_ext("Makefile"), "");
        assert_eq!(path_ext("a.d/Makefile"), "");
    }

    #[test]
    fn fts_query_quotes_everything() {
        let w = |s: &str| words::Word {
            word: s.to_string(),
            stem: s.to_string(),
            weight: 1.0,
            whole: true,
            code: false,
        };
        assert_eq!(fts_query(&[w("near"), w("or\"x")]), "\"near\" OR \"orx\"");
    }
}
