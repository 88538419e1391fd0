//! Recurrence: does the point of an active rule keep coming up in review? Imported review
//! comments are matched against the active rules of their repository — governed file, same
//! polarity, and the rule's words contained in the comment or a near duplicate of one of its
//! evidence comments (extraction's similarity) — whether or not the classifier would keep the
//! comment as a rule. A comment counts for one rule at most, its best match. Per rule: how often
//! the point was made in the window before the rule became active (its own evidence included)
//! and since.

use crate::cluster;
use difflore_core::clock::{now_ms, rfc3339};
use difflore_core::home::Home;
use difflore_core::outbox::{EnqueuePolicy, Enqueued, Outbox};
use difflore_proto::globs::RuleGlobs;
use difflore_proto::outcomes::{Recurrence, RuleRecurred};
use difflore_proto::rules::signature;
use difflore_proto::{EventEnvelope, kinds};
use rusqlite::{Connection, params};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap, HashSet};

/// A comment makes a rule's point when this share of the rule's words is in it…
const CONTAINED: f64 = 0.6;

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
    if comments.is_empty() {
        return Ok(0);
    }
    let targets = targets(conn, repo)?;
    if targets.is_empty() {
        return Ok(0);
    }
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

/// A rule's globs, compiled.
fn rule_globs(st: &mut rusqlite::CachedStatement<'_>, id: &str) -> rusqlite::Result<RuleGlobs> {
    let globs: Vec<String> = match st.query_row([id], |r| r.get::<_, String>(0)) {
        Ok(g) => serde_json::from_str(&g).unwrap_or_default(),
        Err(rusqlite::Error::QueryReturnedNoRows) => Vec::new(),
        Err(e) => return Err(e),
    };
    Ok(RuleGlobs::new(&globs))
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

/// One time a rule's point was made in review: a piece of its evidence or a recurrence.
struct Said {
    at: String,
    repo: String,
    url: Option<String>,
    path: Option<String>,
    /// Evidence counts only on files the rule governs (extraction may file a comment on another
    /// file as evidence); a recurrence was matched on a governed file already.
    evidence: bool,
}

/// Every dated time each rule's point was made, in two statements (never one per rule).
fn said(conn: &Connection) -> rusqlite::Result<HashMap<String, Vec<Said>>> {
    let mut out: HashMap<String, Vec<Said>> = HashMap::new();
    let mut st = conn.prepare_cached(
        "SELECT e.rule_id, c.created_at, c.repo, COALESCE(e.url, c.url), e.path, 1
         FROM rule_evidence e
         JOIN review_comments c ON c.source = e.source AND c.platform_id = e.comment_id
         WHERE c.created_at IS NOT NULL
         UNION ALL
         SELECT rule_id, at, repo, url, path, 0 FROM recurrences WHERE at IS NOT NULL",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Said {
                at: r.get(1)?,
                repo: r.get(2)?,
                url: r.get(3)?,
                path: r.get(4)?,
                evidence: r.get(5)?,
            },
        ))
    })?;
    for row in rows {
        let (id, s) = row?;
        out.entry(id).or_default().push(s);
    }
    Ok(out)
}

/// The times a rule's point was made that count: recurrences, and evidence on files it governs
/// (its globs compiled only when a piece of evidence names a file).
fn counting<'a>(
    globs_of: &mut rusqlite::CachedStatement<'_>,
    id: &str,
    said: &'a [Said],
) -> rusqlite::Result<Vec<&'a Said>> {
    let mut governs: Option<RuleGlobs> = None;
    let mut out = Vec::with_capacity(said.len());
    for s in said {
        if s.evidence
            && let Some(p) = &s.path
        {
            if governs.is_none() {
                governs = Some(rule_globs(globs_of, id)?);
            }
            if governs.as_ref().is_some_and(|g| !g.governs(p)) {
                continue;
            }
        }
        out.push(s);
    }
    Ok(out)
}

/// Per rule that has been active: how often its point was made in review in the `window_days`
/// before it became active (its own evidence and recurrences) and since — the same window rule
/// as the team's server ([`Recurrence::count`]).
pub fn counts(
    conn: &Connection,
    window_days: i64,
) -> rusqlite::Result<HashMap<String, Recurrence>> {
    let _read = difflore_core::store::read_tx(conn)?;
    let said = said(conn)?;
    let mut globs_of = conn.prepare_cached("SELECT globs FROM rules WHERE id = ?1")?;
    let mut out = HashMap::new();
    for (id, active_ms) in activations(conn)? {
        let active = difflore_core::clock::rfc3339(active_ms);
        let dates = match said.get(&id) {
            Some(list) => counting(&mut globs_of, &id, list)?,
            None => Vec::new(),
        };
        let c = Recurrence::count(&active, window_days, dates.iter().map(|s| s.at.as_str()));
        out.insert(id, c);
    }
    Ok(out)
}

/// A comment that made a rule's point again after the rule became active: new evidence that the
/// rule is real, and a question — had the agents been given it on that file?
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SinceActive {
    pub at: String,
    pub url: Option<String>,
    pub path: Option<String>,
    /// Times the rule had been served for that file before the comment (0: never).
    pub served_on_file: i64,
}

/// Per rule, the comments that made its point since it became active — its recurrences and the
/// evidence extraction filed for it (on files it governs) — oldest first.
pub fn since_active(conn: &Connection) -> rusqlite::Result<HashMap<String, Vec<SinceActive>>> {
    let _read = difflore_core::store::read_tx(conn)?;
    let said = said(conn)?;
    let mut globs_of = conn.prepare_cached("SELECT globs FROM rules WHERE id = ?1")?;
    let mut out: HashMap<String, Vec<SinceActive>> = HashMap::new();
    // Dates compare as text on their first 19 characters (YYYY-MM-DDTHH:MM:SS, UTC).
    let key = |t: &str| t.chars().take(19).collect::<String>();
    for (id, active_ms) in activations(conn)? {
        let Some(list) = said.get(&id) else { continue };
        let active = key(&difflore_core::clock::rfc3339(active_ms));
        let mut found = Vec::new();
        for s in counting(&mut globs_of, &id, list)? {
            if key(&s.at) < active {
                continue;
            }
            let served_on_file = match (&s.path, difflore_core::clock::parse_ms(&s.at)) {
                (Some(p), Some(ms)) => {
                    difflore_core::outcomes::served_on_file(conn, &id, &s.repo, p, ms)?
                }
                _ => 0,
            };
            found.push(SinceActive {
                at: s.at.clone(),
                url: s.url.clone(),
                path: s.path.clone(),
                served_on_file,
            });
        }
        if !found.is_empty() {
            found.sort_by(|a, b| a.at.cmp(&b.at));
            out.insert(id, found);
        }
    }
    Ok(out)
}

/// Queues the recurrences of team rules not sent yet as `rule.recurred` events — on a logged-in
/// machine only — and marks them sent; returns how many were queued now. The event id is derived
/// from the comment and the rule, so two machines finding the same recurrence send one event.
pub fn offer(conn: &Connection, home: &Home, cap: i64) -> rusqlite::Result<usize> {
    if !home.token_path().exists() {
        return Ok(0);
    }
    type Row = (
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        f64,
    );
    let rows: Vec<Row> = {
        let mut st = conn.prepare(
            "SELECT r.source, r.comment_id, r.rule_id, r.repo, r.at, r.url, r.path, r.score
             FROM recurrences r JOIN rules ru ON ru.id = r.rule_id AND ru.location = 'team'
             WHERE r.offered = 0 AND r.at IS NOT NULL",
        )?;
        st.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })?
        .collect::<Result<_, _>>()?
    };
    let policy = EnqueuePolicy::for_home(home, cap);
    let ob = Outbox::new(conn);
    let now = now_ms();
    let mut mark = conn.prepare_cached(
        "UPDATE recurrences SET offered = 1 WHERE source = ?1 AND comment_id = ?2",
    )?;
    let mut queued = 0;
    for (source, comment_id, rule_id, repo, at, url, path, score) in rows {
        let r = RuleRecurred {
            rule_id,
            repo,
            source,
            comment_id,
            at,
            url: url.filter(|u| u.starts_with("https://") || u.starts_with("http://")),
            path,
            score: score.clamp(0.0, 1.0),
        };
        // A row the server would refuse (an odd date from an offline file) is counted here only.
        if r.check().is_err() {
            mark.execute(params![r.source, r.comment_id])?;
            continue;
        }
        let Ok(payload) = serde_json::to_value(&r) else {
            continue;
        };
        let env = EventEnvelope {
            id: event_id(&r).to_string(),
            kind: kinds::RULE_RECURRED.into(),
            occurred_at: rfc3339(now),
            payload,
        };
        match ob.enqueue(&env, policy, now)? {
            Enqueued::Queued => queued += 1,
            Enqueued::Duplicate => {}
            // The queue is full: offered again next time.
            Enqueued::Dropped => continue,
        }
        mark.execute(params![r.source, r.comment_id])?;
    }
    Ok(queued)
}

/// The same comment matched to the same rule is always the same event.
fn event_id(r: &RuleRecurred) -> uuid::Uuid {
    let mut h = Sha256::new();
    for part in [
        "difflore.rule.recurred.v1",
        &r.source,
        &r.repo,
        &r.comment_id,
        &r.rule_id,
    ] {
        h.update(part.as_bytes());
        h.update(b"\0");
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_custom_bytes(b).into_uuid()
}
