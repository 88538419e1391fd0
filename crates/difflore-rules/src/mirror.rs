//! The local mirror of the team's rulebook (DESIGN §10): a pull's rules written into the store
//! in one transaction, so the hooks see the old rulebook or the new one, never half. A pulled
//! rule replaces this machine's candidate with the same id, or the same point in the same repo
//! (its pending candidate whose statement has the team rule's signature); a merged rule leaves
//! the mirror. The hooks, MCP and `recall` serve team rules exactly like local ones (pending
//! ones are never served).

use crate::cluster;
use difflore_core::clock::now_ms;
use difflore_proto::rules::{Severity as TeamSeverity, TeamRule, TeamStatus, signature};
use rusqlite::{Connection, params};

/// What a pull changed in the mirror.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MirrorReport {
    /// Team rules written (new or changed).
    pub written: usize,
    /// Local candidates the team's rules replaced.
    pub replaced: usize,
    /// Team rules removed (merged away).
    pub removed: usize,
}

fn status(s: TeamStatus) -> Option<&'static str> {
    Some(match s {
        TeamStatus::Pending => "pending",
        TeamStatus::Active => "active",
        TeamStatus::Paused => "paused",
        TeamStatus::Rejected => "rejected",
        TeamStatus::Merged => return None,
    })
}

/// The local origin a team rule keeps: how it came to be, else `team`.
fn origin(o: &str) -> &'static str {
    match o {
        "review_import" => "review_import",
        "manual" => "manual",
        "agent_proposal" => "agent_proposal",
        _ => "team",
    }
}

/// Writes `rules` into the mirror in one transaction.
pub fn apply(conn: &Connection, rules: &[TeamRule]) -> rusqlite::Result<MirrorReport> {
    let tx = conn.unchecked_transaction()?;
    let mut report = MirrorReport::default();
    // This machine's pending candidates by (repo, team signature), read once.
    let mut candidates: std::collections::HashMap<(Option<String>, String), Vec<String>> =
        std::collections::HashMap::new();
    {
        let mut st = tx.prepare(
            "SELECT id, repo, statement FROM rules WHERE location = 'local' AND status = 'pending'",
        )?;
        let rows = st.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (id, repo, statement) = row?;
            candidates
                .entry((repo, signature(&statement)))
                .or_default()
                .push(id);
        }
    }
    for r in rules {
        let id = r.id.to_ascii_lowercase();
        let Some(st) = status(r.status) else {
            report.removed += tx.execute(
                "DELETE FROM rules WHERE id = ?1 AND location = 'team'",
                [&id],
            )?;
            continue;
        };
        let same_point = candidates
            .remove(&(r.repo.clone(), r.signature.clone()))
            .unwrap_or_default();
        report.replaced += replace_local(&tx, &id, &same_point)?;
        write(&tx, r, &id, st)?;
        report.written += 1;
    }
    tx.commit()?;
    Ok(report)
}

/// Removes this machine's own copy of the team rule's point: the same id, or its pending
/// candidates of the same repo whose statement has the team rule's signature (`same_point`).
fn replace_local(tx: &Connection, id: &str, same_point: &[String]) -> rusqlite::Result<usize> {
    let mut n = tx.execute(
        "DELETE FROM rules WHERE id = ?1 AND location = 'local'",
        [id],
    )?;
    for other in same_point {
        n += tx.execute("DELETE FROM rules WHERE id = ?1", [other])?;
    }
    Ok(n)
}

fn write(tx: &Connection, r: &TeamRule, id: &str, st: &str) -> rusqlite::Result<()> {
    let now = now_ms();
    let severity = match r.severity {
        TeamSeverity::Context => "context",
        TeamSeverity::Enforce => "enforce",
    };
    let globs = serde_json::to_string(&r.globs).unwrap_or_else(|_| "[]".into());
    // UPDATE, then INSERT when there was nothing to update: an upsert's conflict clause would
    // override the `INSERT OR IGNORE` of the rule index's triggers.
    let upsert = |sig: Option<String>| -> rusqlite::Result<usize> {
        let values = params![
            id,
            r.title,
            r.statement,
            r.rationale,
            globs,
            r.repo,
            st,
            severity,
            r.confidence,
            origin(&r.origin),
            sig,
            now,
            r.version,
            r.revision
        ];
        let n = tx.execute(
            "UPDATE rules SET title = ?2, statement = ?3, rationale = ?4, globs = ?5, repo = ?6,
                 status = ?7, severity = ?8, confidence = ?9, origin = ?10, signature = ?11,
                 updated_at = ?12, location = 'team', team_version = ?13, team_revision = ?14
             WHERE id = ?1",
            values,
        )?;
        if n > 0 {
            return Ok(n);
        }
        tx.execute(
            "INSERT INTO rules (id, title, statement, rationale, globs, repo, status, severity,
                                confidence, origin, reason, signature, created_at, updated_at,
                                location, team_version, team_revision)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, ?11, ?12, ?12, 'team', ?13, ?14)",
            values,
        )
    };
    // The local clustering signature, so extraction finds the team's rule for a comment making
    // the same point; two team rules with one such signature keep only the first.
    match upsert(Some(cluster::signature(&r.statement))) {
        Err(rusqlite::Error::SqliteFailure(f, _))
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            upsert(None)?;
        }
        other => {
            other?;
        }
    }
    tx.execute("DELETE FROM rule_evidence WHERE rule_id = ?1", [id])?;
    let mut ins = tx.prepare_cached(
        "INSERT OR IGNORE INTO rule_evidence
             (rule_id, source, comment_id, url, author, path, line, excerpt)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for (i, e) in r.evidence.iter().enumerate() {
        let comment = e
            .comment_id
            .clone()
            .or_else(|| e.url.clone())
            .unwrap_or_else(|| format!("team-{i}"));
        ins.execute(params![
            id,
            e.source.as_deref().unwrap_or("team"),
            comment,
            e.url,
            e.author,
            e.path,
            e.line,
            e.excerpt
        ])?;
    }
    Ok(())
}

/// The team's tombstones: a rejected point is never proposed from this machine again; a lifted
/// one may be. Kept as `signature` tombstones keyed by the team's (`v1:`) signature.
pub fn apply_tombstones(
    conn: &Connection,
    tombstones: &[difflore_proto::rules::TeamTombstone],
) -> rusqlite::Result<usize> {
    let tx = conn.unchecked_transaction()?;
    for t in tombstones {
        let repo = t.repo.as_deref().unwrap_or("");
        if t.lifted {
            tx.execute(
                "DELETE FROM tombstones WHERE kind = 'signature' AND repo = ?1 AND key = ?2",
                params![repo, t.signature],
            )?;
        } else {
            tx.execute(
                "INSERT OR IGNORE INTO tombstones (kind, key, repo, reason, created_at)
                 VALUES ('signature', ?1, ?2, 'rejected by the team', ?3)",
                params![t.signature, repo, now_ms()],
            )?;
        }
    }
    tx.commit()?;
    Ok(tombstones.len())
}

/// Logging out: the team's rules leave the mirror (this machine's own stay).
pub fn clear(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM rules WHERE location = 'team'", [])
}
