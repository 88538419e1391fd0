//! The matching engine: which active rules apply to an edit, ranked, with why.
//!
//! A query is (repo key, repo-relative path, optional text — the changed lines, a prompt, a
//! search). Rules are scoped first (the repo's own rules and global ones; never another repo's),
//! then matched by glob, then ranked by text relevance (SQLite FTS5 `bm25` in the same
//! database), cut by a relevance floor — nothing relevant means nothing returned — then by
//! top-k and a token budget. It is built for a fresh process (the hook): candidate globs come
//! from an index of each distinct glob's literal directory prefix and extension (schema 4, kept
//! by triggers), so a call compiles only the handful of globs that could match; the full-text
//! index holds only active rules, tagged with their scope and glob ids, so one FTS query limited
//! to the globs that matched scores only the rules that govern the file.
//!
//! Scoring, in plain terms:
//! - A glob's *specificity*: a literal path 1.0; otherwise 0.4, +0.15 per literal directory
//!   (up to 3), +0.1 for a literal extension (`src/billing/*.rs` 0.8, `**/*.rs` 0.5, `**` 0.4).
//! - *Relevance* of the text to the rule: `s / (s + h)` with `s = -bm25` (title weighs 3,
//!   statement 2, rationale 1), in [0, 1); `h = max(0.5, ln(N + 1) / 2)` for N rules, because
//!   bm25's term weights grow with the size of the collection — a team with 30 rules and one
//!   with 10 000 get comparable relevance for comparable matches.
//! - Path, no text (a read): keep rules whose best glob has specificity ≥ 0.5; score = it.
//! - Path and text (an edit, a prompt naming a file): keep a glob-matched rule when relevance ≥
//!   0.2 or its glob names the file itself; a rule without globs when relevance ≥ 0.4; score =
//!   (specificity + relevance) / 2.
//! - Text, no path (a search): keep rules with relevance ≥ 0.4; score = relevance.

use globset::{GlobBuilder, GlobSetBuilder};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::collections::HashMap;

/// Relevance a glob-matched rule needs when text is given.
pub const REL_FLOOR: f64 = 0.2;
/// Relevance a rule needs when no glob ties it to the file.
pub const REL_FLOOR_UNSCOPED: f64 = 0.4;
/// Specificity a glob needs to apply on path alone.
pub const SPEC_FLOOR: f64 = 0.5;
/// Default number of rules returned.
pub const DEFAULT_TOP_K: usize = 5;
/// Default token budget of the returned rules' text.
pub const DEFAULT_TOKEN_BUDGET: usize = 1000;
/// How many query terms are kept from a long text.
const MAX_TERMS: usize = 48;

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
    pub severity: String,
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

const STOPWORDS: &[&str] = &[
    "the", "and", "for", "not", "but", "are", "was", "this", "that", "with", "from", "you", "your",
    "our", "its", "has", "have", "had", "will", "would", "should", "can", "could", "into", "than",
    "then", "there", "their", "they", "them", "what", "when", "where", "which", "who", "why",
    "how", "all", "any", "each", "use", "used", "using", "via", "let", "mut", "pub", "self",
    "return", "const", "var", "def", "else", "true", "false", "null", "none", "new", "please",
    "also", "just", "like", "here", "these", "those", "some", "more", "only", "other",
    // Words every piece of code is full of: they say nothing about which rule applies.
    "impl", "struct", "enum", "string", "str", "vec", "usize", "isize", "i32", "i64", "u32", "u64",
    "u8", "f32", "bool", "async", "await", "match", "iter", "map", "sum", "collect", "into",
    "clone", "function", "class", "import", "export", "public", "private", "static", "void", "int",
    "this", "value", "len", "err", "args", "arg", "fmt", "get", "set",
];

/// Query terms from free text or code: words split at non-alphanumerics and camelCase,
/// lower-cased, ≥ 3 letters, no stopwords or numbers, first occurrence order, at most 48.
pub fn terms(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |w: &str| {
        let w = w.to_lowercase();
        if w.chars().count() >= 3
            && !w.chars().all(|c| c.is_ascii_digit())
            && !STOPWORDS.contains(&w.as_str())
            && !out.contains(&w)
            && out.len() < MAX_TERMS
        {
            out.push(w);
        }
    };
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        let mut start = 0;
        let chars: Vec<(usize, char)> = word.char_indices().collect();
        for i in 1..chars.len() {
            let (pos, c) = chars[i];
            let prev = chars[i - 1].1;
            if c.is_uppercase() && prev.is_lowercase() {
                push(&word[start..pos]);
                start = pos;
            }
        }
        push(&word[start..]);
    }
    out
}

/// A glob's specificity (see the module doc).
pub fn specificity(glob: &str, prefix: &str, ext: &str) -> f64 {
    if !glob.contains(['*', '?', '[', '{']) {
        return 1.0;
    }
    let depth = prefix.matches('/').count().min(3) as f64;
    0.4 + 0.15 * depth + if ext.is_empty() { 0.0 } else { 0.1 }
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

fn stem_match(term: &str, word: &str) -> bool {
    let (term, word) = (crate::cluster::stem(term), crate::cluster::stem(word));
    let common = term
        .chars()
        .zip(word.chars())
        .take_while(|(a, b)| a == b)
        .count();
    common >= 3 && common >= term.chars().count().min(word.chars().count()).min(5)
}

/// Below this many rules bm25's inverse document frequency says little (with two rules, a term
/// in one of them weighs nothing), so relevance is at least the rule's term coverage.
const SMALL_COLLECTION: f64 = 500.0;

/// The share of a rule's distinct terms (title and statement) that the query contains, counting
/// at most four: a short rule fully named by the change scores 1.
fn coverage(
    text_of: &mut rusqlite::CachedStatement<'_>,
    seq: i64,
    qterms: &[String],
) -> rusqlite::Result<f64> {
    let text: Option<String> = text_of.query_row([seq], |r| r.get(0)).optional()?;
    let words = terms(&text.unwrap_or_default());
    if words.is_empty() {
        return Ok(0.0);
    }
    let hit = words
        .iter()
        .filter(|w| qterms.iter().any(|t| stem_match(t, w)))
        .count();
    Ok((hit as f64 / words.len().min(4) as f64).min(1.0) * 0.6)
}

/// The FTS5 query for some terms: each term quoted (so nothing in it is syntax), OR-ed.
fn fts_query(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "")))
        .collect::<Vec<_>>()
        .join(" OR ")
}

struct Candidate {
    spec: f64,
    glob: Option<String>,
    rel: f64,
}

/// The scope ids (`scopes.id`) of the repo and of global rules, as FTS tags.
fn scope_tags(conn: &Connection, repo: &str) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare_cached("SELECT id FROM scopes WHERE key IN (?1, '')")?;
    let ids = st.query_map([repo], |r| r.get::<_, i64>(0))?;
    ids.map(|id| id.map(|id| format!("zs{id}"))).collect()
}

/// Active rules for this query, best first, within top-k and the token budget.
pub fn match_rules(conn: &Connection, q: &Query<'_>) -> rusqlite::Result<Vec<Match>> {
    // One read transaction for the dozen statements of a match: outside one, SQLite takes its
    // locks and checks the journal afresh for every statement.
    let _read = if conn.is_autocommit() {
        Some(conn.unchecked_transaction()?)
    } else {
        None
    };
    let scopes = scope_tags(conn, q.repo.unwrap_or(""))?;
    if scopes.is_empty() {
        return Ok(Vec::new());
    }
    let qterms = q.text.map(terms).unwrap_or_default();
    let has_text = !qterms.is_empty();
    // seq → candidate
    let mut cands: HashMap<i64, Candidate> = HashMap::new();
    let mut tags: Vec<String> = Vec::new();
    let mut globs: HashMap<i64, (String, f64)> = HashMap::new();
    if let Some(path) = q.path {
        let found = matching_globs(conn, q.repo.unwrap_or(""), path)?;
        let mut st = conn.prepare_cached("SELECT rowid FROM rules_fts WHERE rules_fts MATCH ?1")?;
        // Without text a glob alone must be specific enough; with text only a glob naming the
        // file itself applies without relevance. Most specific first: a rule keeps the best glob.
        let alone = if has_text { 1.0 } else { SPEC_FLOOR };
        for (id, glob, spec) in &found {
            tags.push(format!("zg{id}"));
            globs.insert(*id, (glob.clone(), *spec));
            if *spec < alone {
                continue;
            }
            let rows = st.query_map([format!("tags : zg{id}")], |r| r.get::<_, i64>(0))?;
            for seq in rows {
                cands.entry(seq?).or_insert_with(|| Candidate {
                    spec: *spec,
                    glob: Some(glob.clone()),
                    rel: 0.0,
                });
            }
        }
        // Rules without globs may apply to any file, by text alone.
        tags.extend(scopes.iter().map(|s| format!("{s}any")));
    } else {
        tags.extend(scopes.iter().cloned());
    }
    if has_text {
        let n: f64 = conn
            .prepare_cached("SELECT COALESCE(max(seq), 0) FROM rule_keys")?
            .query_row([], |r| r.get(0))?;
        let half = ((n + 1.0).ln() / 2.0).max(0.5);
        let mut st = conn.prepare_cached(
            "SELECT rowid, bm25(rules_fts, 3.0, 2.0, 1.0, 0.0) FROM rules_fts WHERE rules_fts MATCH ?1",
        )?;
        let mut rule_globs =
            conn.prepare_cached("SELECT glob_id FROM rule_globs WHERE seq = ?1")?;
        let mut rule_text = conn.prepare_cached(
            "SELECT r.title || ' ' || r.statement FROM rule_keys k JOIN rules r ON r.id = k.rule_id WHERE k.seq = ?1",
        )?;
        let fts = format!(
            "{{title statement rationale}} : ({}) AND tags : ({})",
            fts_query(&qterms),
            tags.join(" OR ")
        );
        let rows: Vec<(i64, f64)> = st
            .query_map([fts], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (seq, bm25) in rows {
            let s = (-bm25).max(0.0);
            let mut rel = s / (s + half);
            if n < SMALL_COLLECTION {
                rel = rel.max(coverage(&mut rule_text, seq, &qterms)?);
            }
            if let Some(c) = cands.get_mut(&seq) {
                c.rel = rel;
                continue;
            }
            // The best of this rule's globs that matched the file, if any.
            let mut best: Option<&(String, f64)> = None;
            for id in rule_globs.query_map([seq], |r| r.get::<_, i64>(0))? {
                if let Some(g) = globs.get(&id?)
                    && best.is_none_or(|b| g.1 > b.1)
                {
                    best = Some(g);
                }
            }
            cands.insert(
                seq,
                Candidate {
                    spec: best.map_or(0.0, |b| b.1),
                    glob: best.map(|b| b.0.clone()),
                    rel,
                },
            );
        }
    }

    let mut kept: Vec<(i64, f64, Candidate)> = cands
        .into_iter()
        .filter_map(|(seq, c)| {
            let score = match (q.path.is_some(), has_text) {
                (true, false) => (c.spec >= SPEC_FLOOR).then_some(c.spec)?,
                (true, true) if c.glob.is_some() => {
                    (c.rel >= REL_FLOOR || c.spec >= 1.0).then_some((c.spec + c.rel) / 2.0)?
                }
                (true, true) => (c.rel >= REL_FLOOR_UNSCOPED).then_some((0.3 + c.rel) / 2.0)?,
                (false, true) => (c.rel >= REL_FLOOR_UNSCOPED).then_some(c.rel)?,
                (false, false) => return None,
            };
            Some((seq, score, c))
        })
        .collect();
    kept.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

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
                    matched_glob: c.glob.clone(),
                    terms: Vec::new(),
                    evidence_url: r.get(7)?,
                })
            })
            .optional()?
        else {
            continue;
        };
        if q.enforce_only && m.severity != "enforce" {
            continue;
        }
        let cost = m.tokens();
        if spent + cost > q.token_budget {
            continue;
        }
        spent += cost;
        if c.rel > 0.0 {
            let words = terms(&format!("{} {}", m.title, m.statement));
            m.terms = qterms
                .iter()
                .filter(|t| words.iter().any(|w| stem_match(t, w)))
                .take(6)
                .cloned()
                .collect();
        }
        m.why = why(&m);
        out.push(m);
    }
    Ok(out)
}

fn why(m: &Match) -> String {
    let mut parts = Vec::new();
    match &m.matched_glob {
        Some(g) => parts.push(format!("glob {g}")),
        None if m.globs.is_empty() => parts.push("applies to any file".to_string()),
        None => {}
    }
    if m.repo.is_none() {
        parts.push("global rule".to_string());
    }
    if !m.terms.is_empty() {
        parts.push(format!("terms: {}", m.terms.join(", ")));
    }
    parts.join("; ")
}

/// The globs (id, text, specificity) of this repo and of global rules that match `path`, most
/// specific first: an index lookup by literal prefix and extension, then only those globs are
/// compiled.
fn matching_globs(
    conn: &Connection,
    scope: &str,
    path: &str,
) -> rusqlite::Result<Vec<(i64, String, f64)>> {
    let prefixes = serde_json::to_string(&path_prefixes(path)).unwrap_or_else(|_| "[]".into());
    let mut st = conn.prepare_cached(
        "SELECT id, glob, prefix, ext FROM glob_ids
         WHERE scope IN (?1, '') AND prefix IN (SELECT value FROM json_each(?2)) AND ext IN (?3, '')",
    )?;
    let rows = st.query_map(params![scope, prefixes, path_ext(path)], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut found = Vec::new();
    let mut set = GlobSetBuilder::new();
    for row in rows {
        let (id, glob, prefix, ext) = row?;
        // A glob that does not compile matches nothing (memory add/edit validate them).
        if let Ok(g) = GlobBuilder::new(&glob).literal_separator(true).build() {
            set.add(g);
            let spec = specificity(&glob, &prefix, &ext);
            found.push((id, glob, spec));
        }
    }
    if found.is_empty() {
        return Ok(found);
    }
    let Ok(set) = set.build() else {
        return Ok(Vec::new());
    };
    let hits = set.matches(path);
    let mut out: Vec<(i64, String, f64)> = hits.into_iter().map(|i| found[i].clone()).collect();
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
            vec!["total", "cents", "parse", "float", "amount", "round"]
        );
        assert!(terms("a an to 42 the").is_empty());
    }

    #[test]
    fn specificity_orders_globs() {
        assert_eq!(specificity("src/a.rs", "src/", "rs"), 1.0);
        let narrow = specificity("src/billing/*.rs", "src/billing/", "rs");
        let broad = specificity("**/*.rs", "", "rs");
        let any = specificity("**", "", "");
        assert!(narrow > broad && broad > any);
        assert!(broad >= SPEC_FLOOR && any < SPEC_FLOOR);
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
        assert_eq!(
            fts_query(&["near".into(), "or\"x".into()]),
            "\"near\" OR \"orx\""
        );
    }

    #[test]
    fn stems() {
        assert!(stem_match("rounding", "round"));
        assert!(stem_match("cents", "cent"));
        assert!(!stem_match("cache", "cast"));
    }
}
