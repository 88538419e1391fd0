//! The rule store as people review it: list and show (with evidence), status changes with the
//! rules of DESIGN §9 (audited, tombstoning on reject), edits, and a person's own rules. Ids are
//! UUIDv7, accepted by unique prefix. Agents never change status: [`agent_marker`] finds the
//! environment markers the agents set, and the CLI refuses to run these commands under them.

use crate::cluster;
use crate::extract::tombstone;
use crate::kinds::{Location, Origin, Severity, Status, TombstoneKind};
use difflore_core::clock::now_ms;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// One piece of evidence (DESIGN §9 shape).
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    pub url: Option<String>,
    pub comment_id: String,
    pub author: Option<String>,
    pub path: Option<String>,
    pub line: Option<i64>,
    pub excerpt: String,
}

/// One rule (DESIGN §9 shape, plus `reason` and timestamps).
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub statement: String,
    pub status: Status,
    pub severity: Severity,
    pub globs: Vec<String>,
    pub repo: Option<String>,
    pub confidence: f64,
    pub origin: Origin,
    pub reason: Option<String>,
    /// This machine's own rule, or the team's (pulled; decided on the server).
    pub location: Location,
    /// The team version of a team rule's last change.
    pub team_version: Option<i64>,
    /// A team rule's revision (decisions are checked against it).
    #[serde(skip)]
    pub team_revision: Option<i64>,
    pub evidence: Vec<Evidence>,
}

#[cfg(test)]
impl Rule {
    /// An active manual rule of one repo, for the module tests.
    pub(crate) fn for_test(id: &str, statement: &str) -> Rule {
        Rule {
            id: id.into(),
            title: id.into(),
            statement: statement.into(),
            status: Status::Active,
            severity: Severity::Context,
            globs: Vec::new(),
            repo: Some("github.com/acme/shop".into()),
            confidence: 1.0,
            origin: Origin::Manual,
            reason: None,
            location: Location::Local,
            team_version: None,
            team_revision: None,
            evidence: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error("no rule with id {0}")]
    NotFound(String),
    #[error("{input} matches several rules; give more characters, e.g. one of:\n{}", candidates.join("\n"))]
    Ambiguous {
        input: String,
        /// `  HANDLE  title` lines, at most ten.
        candidates: Vec<String>,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
}

/// The agent environment variable present, if any (Claude Code, Codex, Gemini CLI, Cursor, Qwen Code).
pub fn agent_marker() -> Option<String> {
    difflore_core::agent::Agent::env_marker().map(str::to_string)
}

const COLS: &str =
    "id, title, statement, status, severity, globs, repo, confidence, origin, reason,
     location, team_version, team_revision";

fn rule_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<Rule> {
    let globs: String = r.get(5)?;
    Ok(Rule {
        id: r.get(0)?,
        title: r.get(1)?,
        statement: r.get(2)?,
        status: r.get(3)?,
        severity: r.get(4)?,
        globs: serde_json::from_str(&globs).unwrap_or_default(),
        repo: r.get(6)?,
        confidence: r.get(7)?,
        origin: r.get(8)?,
        reason: r.get(9)?,
        location: r.get(10)?,
        team_version: r.get(11)?,
        team_revision: r.get(12)?,
        evidence: Vec::new(),
    })
}

fn evidence(conn: &Connection, id: &str) -> rusqlite::Result<Vec<Evidence>> {
    let mut st = conn.prepare_cached(
        "SELECT url, comment_id, author, path, line, excerpt FROM rule_evidence WHERE rule_id = ?1 ORDER BY comment_id",
    )?;
    let rows = st.query_map([id], |r| {
        Ok(Evidence {
            url: r.get(0)?,
            comment_id: r.get(1)?,
            author: r.get(2)?,
            path: r.get(3)?,
            line: r.get(4)?,
            excerpt: r.get(5)?,
        })
    })?;
    rows.collect()
}

/// Rules, best first, optionally of one status and one repo.
pub fn list(
    conn: &Connection,
    status: Option<Status>,
    repo: Option<&str>,
) -> Result<Vec<Rule>, MemoryError> {
    let mut st = conn.prepare(&format!(
        "SELECT {COLS} FROM rules WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR repo = ?2)
         ORDER BY status = 'pending' DESC, confidence DESC, created_at"
    ))?;
    let mut rules: Vec<Rule> = st
        .query_map(params![status, repo], rule_from)?
        .collect::<Result<_, _>>()?;
    // The evidence of all of them in one statement (not one per rule).
    let mut by_rule: std::collections::HashMap<String, Vec<Evidence>> =
        std::collections::HashMap::new();
    let mut ev = conn.prepare(
        "SELECT e.rule_id, e.url, e.comment_id, e.author, e.path, e.line, e.excerpt
         FROM rule_evidence e JOIN rules r ON r.id = e.rule_id
         WHERE (?1 IS NULL OR r.status = ?1) AND (?2 IS NULL OR r.repo = ?2)
         ORDER BY e.rule_id, e.comment_id",
    )?;
    let rows = ev.query_map(params![status, repo], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Evidence {
                url: r.get(1)?,
                comment_id: r.get(2)?,
                author: r.get(3)?,
                path: r.get(4)?,
                line: r.get(5)?,
                excerpt: r.get(6)?,
            },
        ))
    })?;
    for row in rows {
        let (id, e) = row?;
        by_rule.entry(id).or_default().push(e);
    }
    for r in &mut rules {
        r.evidence = by_rule.remove(&r.id).unwrap_or_default();
    }
    Ok(rules)
}

/// The rules that apply in repository `key`: active, and either that repository's or global
/// (export and the MCP resource read the same set).
pub fn active_in_scope(conn: &Connection, key: Option<&str>) -> Result<Vec<Rule>, MemoryError> {
    Ok(list(conn, Some(Status::Active), None)?
        .into_iter()
        .filter(|r| r.repo.is_none() || r.repo.as_deref() == key)
        .collect())
}

/// The full id for what a person typed: a rule's handle (the tail [`handle`] shows), or a
/// prefix of its id (like git).
pub fn resolve(conn: &Connection, prefix: &str) -> Result<String, MemoryError> {
    let p = prefix.trim().to_ascii_lowercase();
    if p.len() < 4 || !p.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(MemoryError::Invalid(format!(
            "{prefix:?} is not a rule id, a rule's handle or a prefix of at least 4 hex digits"
        )));
    }
    let exact: Option<String> = conn
        .query_row("SELECT id FROM rules WHERE id = ?1", [&p], |r| r.get(0))
        .optional()?;
    if let Some(id) = exact {
        return Ok(id);
    }
    let mut st = conn.prepare_cached(
        "SELECT id, title FROM rules
         WHERE id LIKE ?1 || '%' OR (instr(?1, '-') = 0 AND id LIKE '%' || ?1)
         ORDER BY id LIMIT 11",
    )?;
    let found: Vec<(String, String)> = st
        .query_map([&p], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    match found.len() {
        0 => Err(MemoryError::NotFound(p)),
        1 => Ok(found.into_iter().next().map(|f| f.0).unwrap_or_default()),
        _ => Err(MemoryError::Ambiguous {
            input: p,
            candidates: found
                .iter()
                .take(10)
                .map(|(id, title)| format!("  {}  {title}", handle(conn, id)))
                .collect(),
        }),
    }
}

/// The handle a person types for a rule: the shortest unique tail (at least 6 hex digits) of
/// the random end of its UUIDv7. (A prefix of a UUIDv7 is its creation time: rules created
/// together share most of it.)
pub fn handle(conn: &Connection, id: &str) -> String {
    let tail = id.rsplit('-').next().unwrap_or(id);
    if tail.len() < 6 {
        return id.to_string();
    }
    for n in 6..=tail.len() {
        let suffix = &tail[tail.len() - n..];
        let others: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM rules WHERE id LIKE '%' || ?1 AND id != ?2",
                params![suffix, id],
                |r| r.get(0),
            )
            .unwrap_or(1);
        if others == 0 {
            return suffix.to_string();
        }
    }
    id.to_string()
}

pub fn get(conn: &Connection, prefix: &str) -> Result<Rule, MemoryError> {
    let id = resolve(conn, prefix)?;
    let mut r = conn
        .query_row(
            &format!("SELECT {COLS} FROM rules WHERE id = ?1"),
            [&id],
            rule_from,
        )
        .optional()?
        .ok_or(MemoryError::NotFound(id.clone()))?;
    r.evidence = evidence(conn, &id)?;
    Ok(r)
}

/// A status change by a person. Returns the rule and whether anything changed.
pub fn set_status(
    conn: &Connection,
    prefix: &str,
    to: Status,
    reason: Option<&str>,
) -> Result<(Rule, bool), MemoryError> {
    let rule = get(conn, prefix)?;
    let from = rule.status;
    if !from.can_become(to) {
        let hint = match (from, to) {
            (Status::Pending, Status::Paused) => {
                ": approve it first (`difflore memory approve ID`), then pause it"
            }
            (Status::Rejected, Status::Paused) => ": approve it again first if you want it back",
            _ => "",
        };
        return Err(MemoryError::Invalid(format!(
            "rule {} is {from}; it cannot become {to}{hint}",
            handle(conn, &rule.id)
        )));
    }
    if from == to {
        return Ok((rule, false));
    }
    let tx = difflore_core::store::write_tx(conn)?;
    let now = now_ms();
    tx.execute(
        "UPDATE rules SET status = ?2, updated_at = ?3 WHERE id = ?1",
        params![rule.id, to, now],
    )?;
    tx.execute(
        "INSERT INTO rule_audit (rule_id, from_status, to_status, actor, reason, at) VALUES (?1, ?2, ?3, 'person', ?4, ?5)",
        params![rule.id, from, to, reason, now],
    )?;
    let repo = rule.repo.clone().unwrap_or_default();
    let sig = crate::extract::rule_signature(&rule.statement);
    let sources: Vec<(String, String)> = {
        let mut st =
            tx.prepare("SELECT source, comment_id FROM rule_evidence WHERE rule_id = ?1")?;
        st.query_map([&rule.id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    if to == Status::Rejected {
        let why = reason.unwrap_or("rejected");
        tombstone(&tx, TombstoneKind::Signature, &repo, &sig, why)?;
        for (s, c) in &sources {
            tombstone(&tx, TombstoneKind::Comment, &repo, &format!("{s}:{c}"), why)?;
        }
    } else if from == Status::Rejected {
        let mut lift =
            tx.prepare("DELETE FROM tombstones WHERE kind = ?1 AND repo = ?2 AND key = ?3")?;
        lift.execute(params![TombstoneKind::Signature, repo, sig])?;
        for (s, c) in &sources {
            lift.execute(params![TombstoneKind::Comment, repo, format!("{s}:{c}")])?;
        }
    }
    tx.commit()?;
    Ok((get(conn, &rule.id)?, true))
}

/// What `edit` may change.
#[derive(Debug, Default)]
pub struct Edit {
    pub title: Option<String>,
    pub statement: Option<String>,
    pub globs: Option<Vec<String>>,
    pub enforce: Option<bool>,
}

fn check_text(what: &str, s: &str) -> Result<(), MemoryError> {
    if s.trim().is_empty() || s.chars().count() > 1000 {
        return Err(MemoryError::Invalid(format!(
            "{what} must be 1–1000 characters"
        )));
    }
    Ok(())
}

/// Checks globs: repo-relative, valid syntax (`difflore_proto::globs`).
pub fn check_globs(globs: &[String]) -> Result<(), MemoryError> {
    for g in globs {
        difflore_proto::globs::check(g).map_err(MemoryError::Invalid)?;
    }
    Ok(())
}

pub fn edit(conn: &Connection, prefix: &str, e: &Edit) -> Result<Rule, MemoryError> {
    let rule = get(conn, prefix)?;
    if let Some(t) = &e.title {
        check_text("--title", t)?;
    }
    if let Some(s) = &e.statement {
        check_text("--statement", s)?;
    }
    if let Some(g) = &e.globs {
        check_globs(g)?;
    }
    conn.execute(
        "UPDATE rules SET title = COALESCE(?2, title), statement = COALESCE(?3, statement),
                globs = COALESCE(?4, globs), severity = COALESCE(?5, severity), updated_at = ?6 WHERE id = ?1",
        params![
            rule.id,
            e.title,
            e.statement,
            e.globs.as_ref().map(|g| serde_json::to_string(g).unwrap_or_default()),
            e.enforce
                .map(|x| if x { Severity::Enforce } else { Severity::Context }),
            now_ms()
        ],
    )?;
    get(conn, &rule.id)
}

/// A person's own rule: `active` at once.
pub fn add(
    conn: &Connection,
    title: &str,
    statement: &str,
    globs: &[String],
    repo: Option<&str>,
    enforce: bool,
) -> Result<Rule, MemoryError> {
    check_text("--title", title)?;
    check_text("--statement", statement)?;
    check_globs(globs)?;
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_ms();
    let tx = difflore_core::store::write_tx(conn)?;
    tx.execute(
        "INSERT INTO rules (id, title, statement, globs, repo, status, severity, confidence, origin, reason, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6, 1.0, 'manual', 'added by a person', ?7, ?7)",
        params![id, title.trim(), statement.trim(), serde_json::to_string(globs).unwrap_or_default(), repo, if enforce { Severity::Enforce } else { Severity::Context }, now],
    )?;
    tx.execute(
        "INSERT INTO rule_audit (rule_id, from_status, to_status, actor, reason, at) VALUES (?1, NULL, 'active', 'person', 'memory add', ?2)",
        params![id, now],
    )?;
    tx.commit()?;
    get(conn, &id)
}

/// What [`propose`] did.
#[derive(Debug, Clone)]
pub enum Proposed {
    /// A new pending candidate.
    New(Rule),
    /// The same statement is already a rule here (any status but rejected): that rule.
    Existing(Rule),
}

/// An agent's proposal: always a *pending* candidate (origin `agent_proposal`) that only a
/// person can activate. A statement rejected before (tombstoned) is refused.
pub fn propose(
    conn: &Connection,
    repo: Option<&str>,
    title: &str,
    statement: &str,
    globs: &[String],
    rationale: Option<&str>,
) -> Result<Proposed, MemoryError> {
    check_text("title", title)?;
    check_text("statement", statement)?;
    if let Some(r) = rationale {
        check_text("rationale", r)?;
    }
    check_globs(globs)?;
    if cluster::signature(statement).is_empty() {
        return Err(MemoryError::Invalid(
            "statement has no words a rule could be matched by".into(),
        ));
    }
    let sig = crate::extract::rule_signature(statement);
    let scope = repo.unwrap_or("");
    if crate::extract::signature_tombstoned(conn, scope, statement)? {
        return Err(MemoryError::Invalid(
            "a person rejected this rule before; it is not proposed again".into(),
        ));
    }
    let existing: Option<String> = conn
        .query_row(
            "SELECT id FROM rules WHERE repo IS ?1 AND signature = ?2",
            params![repo, sig],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        return Ok(Proposed::Existing(get(conn, &id)?));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_ms();
    let tx = difflore_core::store::write_tx(conn)?;
    tx.execute(
        "INSERT INTO rules (id, title, statement, rationale, globs, repo, status, severity, confidence, origin, reason, signature, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 'context', 0.3, 'agent_proposal', 'proposed by an agent', ?7, ?8, ?8)",
        params![id, title.trim(), statement.trim(), rationale.map(str::trim), serde_json::to_string(globs).unwrap_or_default(), repo, sig, now],
    )?;
    tx.execute(
        "INSERT INTO rule_audit (rule_id, from_status, to_status, actor, reason, at) VALUES (?1, NULL, 'pending', 'agent', 'proposed over MCP', ?2)",
        params![id, now],
    )?;
    tx.commit()?;
    Ok(Proposed::New(get(conn, &id)?))
}

/// [`handle`] of every rule at once (for listings): one read of the ids, then the shortest
/// unique tail from the neighbours in tail order — no query per rule.
pub fn handles(conn: &Connection) -> rusqlite::Result<std::collections::HashMap<String, String>> {
    let mut st = conn.prepare("SELECT id FROM rules")?;
    let ids: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(shortest_tails(&ids))
}

/// For each id, the shortest tail (at least 6 characters) of its last `-` group that no other
/// id's last group ends with — the same answer as [`handle`], from the neighbours in the order
/// of the reversed tails.
fn shortest_tails(ids: &[String]) -> std::collections::HashMap<String, String> {
    let mut rev: Vec<(String, &str)> = ids
        .iter()
        .map(|id| {
            (
                id.rsplit('-').next().unwrap_or(id).chars().rev().collect(),
                id.as_str(),
            )
        })
        .collect();
    rev.sort();
    let shared = |a: &str, b: &str| a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    for i in 0..rev.len() {
        let (tail, id) = (&rev[i].0, rev[i].1);
        let before = i.checked_sub(1).map_or(0, |j| shared(tail, &rev[j].0));
        let after = rev.get(i + 1).map_or(0, |n| shared(tail, &n.0));
        let n = (before.max(after) + 1).max(6);
        let h = if n > tail.len() {
            id.to_string()
        } else {
            tail[..n].chars().rev().collect()
        };
        out.insert(id.to_string(), h);
    }
    out
}

/// The handle shown where no lookup may be afforded (the hook's answers): the last eight hex
/// digits of the id's random part — a tail of what [`handle`] shows, accepted by [`resolve`];
/// with 32 random bits, two rules share it only among tens of thousands.
pub fn tail_handle(id: &str) -> &str {
    let tail = id.rsplit('-').next().unwrap_or(id);
    &tail[tail.len().saturating_sub(8)..]
}

#[cfg(test)]
mod tests {
    use super::shortest_tails;

    #[test]
    fn shortest_tails_grow_past_a_shared_suffix() {
        let ids: Vec<String> = [
            "01a22600-0000-7000-8000-00000abcdef1",
            "01a22600-0000-7000-8000-11111abcdef1",
            "01a22600-0000-7000-8000-123456789012",
            "01a22600-0000-7000-8000-99999999999x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let t = shortest_tails(&ids);
        assert_eq!(t[&ids[0]], "0abcdef1");
        assert_eq!(t[&ids[1]], "1abcdef1");
        assert_eq!(t[&ids[2]], "789012");
        assert_eq!(t[&ids[3]], "99999x");
    }
}
