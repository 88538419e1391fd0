//! The extraction pipeline: imported review comments → classified → clustered across PRs →
//! *pending* candidate rules with all their evidence, a confidence and the reason they were
//! kept. Re-running it adds new evidence to existing candidates instead of duplicating them,
//! never touches a rule a person decided on (active, paused, rejected), and never proposes a
//! tombstoned comment or signature again.

mod judging;
mod tombstones;

pub use tombstones::{rule_signature, signature_tombstoned, tombstone, tombstoned};

use crate::classify::features::Hit;
use crate::cluster::{self, Point, SAME_RULE};
use crate::globs;
use crate::kinds::{Origin, Status};
use difflore_core::clock::now_ms;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One imported comment as extraction reads it.
#[derive(Debug, Clone)]
struct Row {
    source: String,
    repo: String,
    id: String,
    pr: i64,
    url: Option<String>,
    author: Option<String>,
    is_bot: bool,
    is_pr_author: bool,
    path: Option<String>,
    line: Option<i64>,
    body: String,
    thread: Option<String>,
    resolved: Option<bool>,
    reactions: i64,
}

/// A candidate being built.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub id: Option<String>,
    pub repo: String,
    pub title: String,
    pub statement: String,
    pub reason: String,
    pub globs: Vec<String>,
    pub confidence: f64,
    pub evidence: usize,
    pub reviewers: usize,
    pub new: bool,
    #[serde(skip)]
    tokens: BTreeSet<String>,
    #[serde(skip)]
    point: Point,
    #[serde(skip)]
    rows: Vec<(Row, String)>,
}

impl Candidate {
    /// The source comments (`source:platform id`) that are this candidate's evidence.
    pub fn comment_ids(&self) -> Vec<String> {
        self.rows
            .iter()
            .map(|(r, _)| format!("{}:{}", r.source, r.id))
            .collect()
    }
}

/// What a run did (`extract --json`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub comments: usize,
    pub kept: usize,
    pub dropped: BTreeMap<String, usize>,
    pub tombstoned: usize,
    pub candidates_new: usize,
    pub candidates_updated: usize,
    pub dry_run: bool,
    pub candidates: Vec<Candidate>,
    /// What the language-model pass did, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm: Option<crate::llm::LlmStats>,
    /// With `--explain`: every comment's score and the features behind it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub explained: Vec<Explained>,
}

/// One comment's judgement, feature by feature (`extract --explain`).
#[derive(Debug, Clone, Serialize)]
pub struct Explained {
    pub comment: String,
    pub pr: i64,
    pub url: Option<String>,
    pub path: Option<String>,
    pub excerpt: String,
    pub kept: bool,
    pub score: f64,
    pub threshold: f64,
    pub reason: String,
    pub statement: Option<String>,
    pub features: Vec<Hit>,
}

/// How extraction runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    /// Write nothing; report what would be proposed.
    pub dry_run: bool,
    /// Report every comment's score and features.
    pub explain: bool,
    /// The optional language-model pass (`[extract.llm]`; used only when enabled).
    pub llm: Option<&'a difflore_core::config::LlmConfig>,
}

fn load(conn: &Connection, repo: Option<&str>) -> rusqlite::Result<Vec<Row>> {
    let mut st = conn.prepare(
        "SELECT source, repo, platform_id, pr_number, url, author, author_is_bot, COALESCE(author_is_pr_author, 0),
                path, line, body, thread_id, resolved, reactions
         FROM review_comments WHERE (?1 IS NULL OR repo = ?1) ORDER BY repo, created_at, id",
    )?;
    let rows = st.query_map([repo], |r| {
        let reactions: String = r.get(13)?;
        let v: serde_json::Value = serde_json::from_str(&reactions).unwrap_or_default();
        let plus = ["+1", "heart", "hooray", "rocket"]
            .iter()
            .filter_map(|k| v.get(k).and_then(serde_json::Value::as_i64))
            .sum();
        Ok(Row {
            source: r.get(0)?,
            repo: r.get(1)?,
            id: r.get(2)?,
            pr: r.get(3)?,
            url: r.get(4)?,
            author: r.get(5)?,
            is_bot: r.get(6)?,
            is_pr_author: r.get::<_, i64>(7)? == 1,
            path: r.get(8)?,
            line: r.get(9)?,
            body: r.get(10)?,
            thread: r.get(11)?,
            resolved: r.get(12)?,
            reactions: plus,
        })
    })?;
    rows.collect()
}

/// Confidence from evidence count, distinct reviewers, resolution and reactions.
pub fn confidence(evidence: usize, reviewers: usize, resolved: bool, reactions: i64) -> f64 {
    let c = 0.35
        + 0.12 * (evidence.saturating_sub(1)) as f64
        + 0.08 * (reviewers.saturating_sub(1)) as f64
        + if resolved { 0.05 } else { 0.0 }
        + 0.02 * reactions.clamp(0, 5) as f64;
    (c.min(0.95) * 100.0).round() / 100.0
}

/// A short title from a statement, never cut mid-thought and never with an ellipsis: the first
/// clause (before `:`, `;`, ` — `, or a comma after three words) when it is short, else the first
/// eight words without a dangling connective.
pub fn title_of(statement: &str) -> String {
    let s = statement.trim().trim_end_matches('.');
    let clause = s.split([':', ';']).next().unwrap_or(s);
    let clause = clause.split(" — ").next().unwrap_or(clause);
    let clause = clause.split(" - ").next().unwrap_or(clause);
    let clause = match clause.find(", ") {
        Some(i) if clause[..i].split_whitespace().count() >= 3 => &clause[..i],
        _ => clause,
    };
    let words: Vec<&str> = clause.split_whitespace().collect();
    let mut take = words.len().min(8);
    const DANGLING: &[&str] = &[
        "a", "an", "the", "to", "for", "of", "in", "on", "at", "by", "with", "and", "or", "but",
        "instead", "than", "from", "into", "as", "that", "which", "when", "if", "not", "is", "are",
        "you", "we",
    ];
    while take > 1 && DANGLING.contains(&words[take - 1].to_ascii_lowercase().as_str()) {
        take -= 1;
    }
    words[..take].join(" ")
}

/// Runs extraction over the imported comments (of `repo`, or all). With `dry_run` nothing is
/// written and the report lists what would be proposed.
pub fn run(conn: &Connection, repo: Option<&str>, dry_run: bool) -> rusqlite::Result<Report> {
    run_with(
        conn,
        repo,
        Options {
            dry_run,
            ..Default::default()
        },
    )
}

/// [`run`], with `--explain` when asked.
pub fn run_with(
    conn: &Connection,
    repo: Option<&str>,
    opts: Options<'_>,
) -> rusqlite::Result<Report> {
    let dry_run = opts.dry_run;
    let rows = load(conn, repo)?;
    let mut report = Report {
        schema_version: 1,
        comments: rows.len(),
        dry_run,
        ..Default::default()
    };
    let mut llm = crate::llm::Llm::from_config(opts.llm);
    let by_repo =
        judging::classify_and_cluster(conn, rows, &mut report, opts.explain, llm.as_mut())?;
    let tx = difflore_core::store::write_tx(conn)?;
    for (repo_key, list) in by_repo {
        for mut c in list {
            score(&mut c);
            if let Some(c) = save(&tx, &repo_key, c, dry_run, llm.as_mut())? {
                if c.new {
                    report.candidates_new += 1;
                } else {
                    report.candidates_updated += 1;
                }
                report.candidates.push(c);
            }
        }
    }
    if dry_run {
        tx.rollback()?;
    } else {
        tx.commit()?;
    }
    report.llm = llm.map(|l| l.stats);
    report
        .candidates
        .sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    Ok(report)
}

/// A candidate's globs, evidence, reviewers, confidence and reason from its comments.
fn score(c: &mut Candidate) {
    let reviewers: BTreeSet<&str> = c
        .rows
        .iter()
        .filter_map(|(r, _)| r.author.as_deref())
        .collect();
    let resolved = c.rows.iter().any(|(r, _)| r.resolved == Some(true));
    let reactions: i64 = c.rows.iter().map(|(r, _)| r.reactions).sum();
    let globs: BTreeSet<String> = c
        .rows
        .iter()
        .filter_map(|(r, _)| r.path.as_deref().and_then(globs::narrow))
        .collect();
    c.globs = globs.into_iter().collect();
    c.evidence = c.rows.len();
    c.reviewers = reviewers.len();
    c.confidence = confidence(c.evidence, c.reviewers, resolved, reactions);
    if c.evidence > 1 {
        c.reason = format!(
            "{} — said {} times by {} reviewer{}",
            c.reason,
            c.evidence,
            c.reviewers,
            if c.reviewers == 1 { "" } else { "s" }
        );
    }
}

/// Stores a candidate: a new pending rule, or evidence added to the rule that already holds it
/// (or a close statement). Returns the candidate for the report, `None` when a person already
/// decided on that rule (its evidence may grow, nothing else changes).
fn save(
    tx: &Connection,
    repo_key: &str,
    mut c: Candidate,
    dry_run: bool,
    llm: Option<&mut crate::llm::Llm>,
) -> rusqlite::Result<Option<Candidate>> {
    let sig = rule_signature(&c.statement);
    let (rule_id, status) = match find_existing(tx, repo_key, &c)? {
        Some((id, status)) => {
            c.new = false;
            (id, status)
        }
        None => (uuid::Uuid::now_v7().to_string(), Status::Pending),
    };
    c.id = Some(rule_id.clone());
    if status != Status::Pending {
        if !dry_run {
            add_evidence(tx, &rule_id, &c)?;
        }
        return Ok(None);
    }
    if c.new
        && let Some(llm) = llm
        && let Some((r, _)) = c.rows.first()
        && let Some(crate::llm::Answer::Convention { statement, title }) =
            llm.ask(&r.body, r.path.as_deref(), &c.statement)
    {
        llm.stats.rewritten += 1;
        c.statement = statement;
        c.title = title;
        c.reason = format!("{} (statement by {})", c.reason, llm.stats.model);
    }
    let sig = if c.new {
        rule_signature(&c.statement)
    } else {
        sig
    };
    if !dry_run {
        let now = now_ms();
        if c.new {
            tx.execute(
                "INSERT INTO rules (id, title, statement, globs, repo, status, severity, confidence, origin, reason, signature, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 'context', ?6, 'review_import', ?7, ?8, ?9, ?9)",
                params![rule_id, c.title, c.statement, serde_json::to_string(&c.globs).unwrap_or_default(), repo_key, c.confidence, c.reason, sig, now],
            )?;
            tx.execute(
                "INSERT INTO rule_audit (rule_id, from_status, to_status, actor, reason, at) VALUES (?1, NULL, 'pending', 'extract', ?2, ?3)",
                params![rule_id, c.reason, now],
            )?;
        }
        add_evidence(tx, &rule_id, &c)?;
        // Confidence and globs from all the evidence the rule now has.
        refresh(tx, &rule_id)?;
    }
    Ok(Some(c))
}

fn find_existing(
    conn: &Connection,
    repo: &str,
    c: &Candidate,
) -> rusqlite::Result<Option<(String, Status)>> {
    for (r, _) in &c.rows {
        let hit: Option<(String, Status)> = conn
            .query_row(
                "SELECT e.rule_id, x.status FROM rule_evidence e JOIN rules x ON x.id = e.rule_id
                 WHERE e.source = ?1 AND e.comment_id = ?2 AND x.repo = ?3",
                params![r.source, r.id, repo],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        if hit.is_some() {
            return Ok(hit);
        }
    }
    let mut st = conn.prepare_cached(
        "SELECT id, status, statement FROM rules WHERE repo = ?1 AND origin = ?2",
    )?;
    let rows = st.query_map(params![repo, Origin::ReviewImport], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Status>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (id, status, statement) = row?;
        if cluster::jaccard(&cluster::tokens(&statement), &c.tokens) >= SAME_RULE {
            return Ok(Some((id, status)));
        }
    }
    Ok(None)
}

fn add_evidence(conn: &Connection, rule_id: &str, c: &Candidate) -> rusqlite::Result<()> {
    let mut st = conn.prepare_cached(
        "INSERT OR IGNORE INTO rule_evidence (rule_id, source, comment_id, pr_number, url, author, path, line, excerpt)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for (r, _) in &c.rows {
        let excerpt: String = r.body.chars().take(400).collect();
        st.execute(params![
            rule_id, r.source, r.id, r.pr, r.url, r.author, r.path, r.line, excerpt
        ])?;
    }
    Ok(())
}

pub(crate) fn refresh(conn: &Connection, rule_id: &str) -> rusqlite::Result<()> {
    let (n, reviewers): (i64, i64) = conn.query_row(
        "SELECT COUNT(*), COUNT(DISTINCT author) FROM rule_evidence WHERE rule_id = ?1",
        [rule_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (resolved, reactions): (bool, i64) = conn.query_row(
        "SELECT COALESCE(MAX(m.resolved), 0), COALESCE(SUM(COALESCE(json_extract(m.reactions, '$.\"+1\"'), 0)), 0)
         FROM rule_evidence e JOIN rules x ON x.id = e.rule_id
         JOIN review_comments m ON m.source = e.source AND m.repo = x.repo AND m.platform_id = e.comment_id
         WHERE e.rule_id = ?1",
        [rule_id],
        |r| Ok((r.get::<_, i64>(0)? == 1, r.get(1)?)),
    )?;
    let mut st = conn.prepare_cached("SELECT DISTINCT path FROM rule_evidence WHERE rule_id = ?1 AND path IS NOT NULL ORDER BY path")?;
    let globs: BTreeSet<String> = st
        .query_map([rule_id], |r| r.get::<_, String>(0))?
        .filter_map(|p| p.ok().and_then(|p| globs::narrow(&p)))
        .collect();
    conn.execute(
        "UPDATE rules SET confidence = ?2, globs = ?3, updated_at = ?4
         WHERE id = ?1 AND location = 'local'",
        params![
            rule_id,
            confidence(n as usize, reviewers as usize, resolved, reactions),
            serde_json::to_string(&globs.into_iter().collect::<Vec<_>>()).unwrap_or_default(),
            now_ms()
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod title_tests {
    use super::title_of;

    #[test]
    fn titles_are_whole_phrases() {
        assert_eq!(
            title_of("Never use f64 for amounts in billing: use Money."),
            "Never use f64 for amounts in billing"
        );
        assert_eq!(
            title_of("Use Money instead of f64."),
            "Use Money instead of f64"
        );
        assert_eq!(
            title_of("Always close the database handle before you return from a handler."),
            "Always close the database handle before you return"
        );
        assert!(!title_of("Use a b c d e f g to the x y").contains('…'));
    }
}
