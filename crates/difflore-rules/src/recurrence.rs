//! Recurrence: does the point of an active rule keep coming up in review? Imported review
//! comments are matched against the active rules of their repository — governed file, same
//! polarity, and the rule's words contained in the comment or a near duplicate of one of its
//! evidence comments (extraction's similarity) — whether or not the classifier would keep the
//! comment as a rule. A comment counts for one rule at most, its best match. Per rule: how often
//! the point was made in the window before the rule became active (its own evidence included)
//! and since.

use crate::cluster;
use difflore_proto::globs::RuleGlobs;
use difflore_proto::rules::signature;
use rusqlite::{Connection, params};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};

/// A comment makes a rule's point when this share of the rule's words is in it…
const CONTAINED: f64 = 0.6;

/// Before and after a rule became active.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub before: i64,
    pub after: i64,
    pub window_days: i64,
}

struct Target {
    id: String,
    tokens: BTreeSet<String>,
    neg: usize,
    globs: RuleGlobs,
    has_globs: bool,
    evidence: Vec<BTreeSet<String>>,
    own: HashSet<(String, String)>,
}

fn negations(text: &str) -> usize {
    signature(text)
        .split([' ', ':'])
        .filter(|w| *w == "not")
        .count()
}

fn score(t: &Target, tokens: &BTreeSet<String>) -> f64 {
    let contained = if t.tokens.len() >= 2 {
        t.tokens.intersection(tokens).count() as f64 / t.tokens.len() as f64
    } else {
        0.0
    };
    let near = t
        .evidence
        .iter()
        .map(|e| cluster::jaccard(e, tokens))
        .fold(0.0, f64::max);
    if contained >= CONTAINED || near >= cluster::SAME_RULE {
        contained.max(near)
    } else {
        0.0
    }
}

fn targets(conn: &Connection, repo: &str) -> rusqlite::Result<Vec<Target>> {
    let mut st = conn.prepare(
        "SELECT id, statement, globs FROM rules
         WHERE status = 'active' AND (repo = ?1 OR repo IS NULL)",
    )?;
    let rules: Vec<(String, String, String)> = st
        .query_map([repo], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut ev = conn.prepare_cached(
        "SELECT source, comment_id, excerpt FROM rule_evidence WHERE rule_id = ?1",
    )?;
    let mut out = Vec::new();
    for (id, statement, globs) in rules {
        let globs: Vec<String> = serde_json::from_str(&globs).unwrap_or_default();
        let mut evidence = Vec::new();
        let mut own = HashSet::new();
        for row in ev.query_map([&id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?))
        })? {
            let (source, comment, excerpt) = row?;
            evidence.push(cluster::tokens(&excerpt));
            own.insert((source, comment));
        }
        out.push(Target {
            tokens: cluster::tokens(&statement),
            neg: negations(&statement),
            has_globs: !globs.is_empty(),
            globs: RuleGlobs::new(&globs),
            evidence,
            own,
            id,
        });
    }
    Ok(out)
}

/// Matches the repository's imported comments not matched before against its active rules;
/// returns how many recurrences were recorded.
pub fn match_comments(conn: &Connection, repo: &str) -> rusqlite::Result<usize> {
    let targets = targets(conn, repo)?;
    if targets.is_empty() {
        return Ok(0);
    }
    let mut st = conn.prepare(
        "SELECT c.source, c.platform_id, c.body, c.path, c.created_at, c.url FROM review_comments c
         WHERE c.repo = ?1 AND c.author_is_bot = 0
           AND NOT EXISTS (SELECT 1 FROM recurrences r
                           WHERE r.source = c.source AND r.comment_id = c.platform_id)",
    )?;
    type Row = (
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let comments: Vec<Row> = st
        .query_map([repo], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let tx = difflore_core::store::write_tx(conn)?;
    let mut n = 0;
    {
        let mut ins = tx.prepare_cached(
            "INSERT OR IGNORE INTO recurrences (source, comment_id, rule_id, repo, at, url, path, score)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for (source, id, body, path, at, url) in comments {
            let key = (source.clone(), id.clone());
            if targets.iter().any(|t| t.own.contains(&key)) {
                continue;
            }
            let tokens = cluster::tokens(&body);
            let neg = negations(&body) % 2;
            let best = targets
                .iter()
                .filter(|t| t.neg % 2 == neg)
                .filter(|t| match &path {
                    Some(p) => t.globs.governs(p),
                    None => !t.has_globs,
                })
                .map(|t| (score(t, &tokens), t))
                .filter(|(s, _)| *s > 0.0)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((s, t)) = best {
                n += ins.execute(params![source, id, t.id, repo, at, url, path, s])?;
            }
        }
    }
    tx.commit()?;
    Ok(n)
}

/// When each rule first became active (its audit trail; else its last change), in ms.
fn activations(conn: &Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut st = conn.prepare(
        "SELECT r.id, COALESCE((SELECT MIN(a.at) FROM rule_audit a
                                WHERE a.rule_id = r.id AND a.to_status = 'active'), r.updated_at)
         FROM rules r WHERE r.status IN ('active', 'paused')",
    )?;
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
}

/// Per rule that has been active: how often its point was made in review in the `window_days`
/// before it became active (its own evidence and recurrences) and since.
pub fn counts(conn: &Connection, window_days: i64) -> rusqlite::Result<HashMap<String, Counts>> {
    let mut out = HashMap::new();
    // Its evidence on files it governs (extraction files a new comment making the point of an
    // active rule as evidence), and its recurrences.
    let mut dates = conn.prepare_cached(
        "SELECT c.created_at, e.path FROM rule_evidence e
         JOIN review_comments c ON c.source = e.source AND c.platform_id = e.comment_id
         WHERE e.rule_id = ?1
         UNION ALL
         SELECT at, NULL FROM recurrences WHERE rule_id = ?1",
    )?;
    let mut globs_of = conn.prepare_cached("SELECT globs FROM rules WHERE id = ?1")?;
    // Dates compare as text on their first 19 characters (YYYY-MM-DDTHH:MM:SS, UTC).
    let key = |t: &str| t.chars().take(19).collect::<String>();
    let text = |ms: i64| key(&difflore_core::clock::rfc3339(ms));
    for (id, active_ms) in activations(conn)? {
        let (active, from) = (text(active_ms), text(active_ms - window_days * 86_400_000));
        let globs: Vec<String> = globs_of
            .query_row([&id], |r| r.get::<_, String>(0))
            .map(|g| serde_json::from_str(&g).unwrap_or_default())
            .unwrap_or_default();
        let governs = RuleGlobs::new(&globs);
        let mut c = Counts {
            window_days,
            ..Default::default()
        };
        let rows = dates.query_map([&id], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, Option<String>>(1)?,
            ))
        })?;
        for row in rows {
            let (Some(at), path) = row? else { continue };
            if path.is_some_and(|p| !governs.governs(&p)) {
                continue;
            }
            let at = key(&at);
            if at >= active {
                c.after += 1;
            } else if at >= from {
                c.before += 1;
            }
        }
        out.insert(id, c);
    }
    Ok(out)
}
