//! What the console keeps on SQLite: sessions (by the hash of their secret), a rule's audit
//! trail, and the activity counts kept at ingest.

use difflore_server_db::{
    ActivityRow, AuditEntry, NewEvent, Served, ServedKey, SessionRecord, StorageError, Tally,
};
use rusqlite::{Connection, OptionalExtension, params};

fn db(e: rusqlite::Error) -> StorageError {
    StorageError::unavailable(e)
}

pub fn create_session(c: &Connection, s: &SessionRecord) -> Result<(), StorageError> {
    c.execute(
        "INSERT INTO console_sessions (id_sha256, token_id, csrf, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![s.id_sha256, s.token_id, s.csrf, s.created_at, s.expires_at],
    )
    .map_err(db)?;
    Ok(())
}

pub fn session(
    c: &Connection,
    id_sha256: &str,
    now: i64,
) -> Result<Option<SessionRecord>, StorageError> {
    c.prepare_cached(
        "SELECT id_sha256, token_id, csrf, created_at, expires_at FROM console_sessions
         WHERE id_sha256 = ?1 AND expires_at > ?2",
    )
    .map_err(db)?
    .query_row(params![id_sha256, now], |r| {
        Ok(SessionRecord {
            id_sha256: r.get(0)?,
            token_id: r.get(1)?,
            csrf: r.get(2)?,
            created_at: r.get(3)?,
            expires_at: r.get(4)?,
        })
    })
    .optional()
    .map_err(db)
}

pub fn delete_session(c: &Connection, id_sha256: &str, now: i64) -> Result<(), StorageError> {
    c.execute(
        "DELETE FROM console_sessions WHERE id_sha256 = ?1 OR expires_at <= ?2",
        params![id_sha256, now],
    )
    .map_err(db)?;
    Ok(())
}

/// Ends the console sessions of tokens that are revoked.
pub fn end_revoked_sessions(c: &Connection) -> Result<(), StorageError> {
    c.execute(
        "DELETE FROM console_sessions WHERE token_id IN
             (SELECT id FROM tokens WHERE revoked_at IS NOT NULL)",
        [],
    )
    .map_err(db)?;
    Ok(())
}

pub fn rule_audit(c: &Connection, team: &str, id: &str) -> Result<Vec<AuditEntry>, StorageError> {
    let mut st = c
        .prepare_cached(
            "SELECT action, actor, from_revision, from_version, to_status, reason, at
             FROM rule_audit WHERE team = ?1 AND rule_id = ?2 ORDER BY seq",
        )
        .map_err(db)?;
    st.query_map(params![team, id.to_ascii_lowercase()], |r| {
        Ok(AuditEntry {
            action: r.get(0)?,
            actor: r.get(1)?,
            from_revision: r.get(2)?,
            from_version: r.get(3)?,
            to_status: r.get(4)?,
            reason: r.get(5)?,
            at: r.get(6)?,
        })
    })
    .map_err(db)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(db)
}

/// Counts the events a batch inserted, inside its transaction.
pub fn tally<'a>(
    tx: &Connection,
    team: &str,
    inserted: impl Iterator<Item = &'a NewEvent>,
) -> Result<(), StorageError> {
    let mut st = tx
        .prepare_cached(
            "INSERT INTO activity_daily (team, day, kind, agent, repo, count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (team, day, kind, agent, repo) DO UPDATE SET count = count + excluded.count",
        )
        .map_err(db)?;
    for (
        Tally {
            day,
            kind,
            agent,
            repo,
        },
        n,
    ) in Tally::count(inserted)
    {
        st.execute(params![team, day, kind, agent, repo, n])
            .map_err(db)?;
    }
    Ok(())
}

pub fn activity(c: &Connection, team: &str, since: &str) -> Result<Vec<ActivityRow>, StorageError> {
    let mut st = c
        .prepare_cached(
            "SELECT day, kind, agent, repo, count FROM activity_daily
             WHERE team = ?1 AND day >= ?2 ORDER BY day DESC, count DESC",
        )
        .map_err(db)?;
    st.query_map(params![team, since], |r| {
        Ok(ActivityRow {
            day: r.get(0)?,
            kind: r.get(1)?,
            agent: r.get(2)?,
            repo: r.get(3)?,
            count: r.get(4)?,
        })
    })
    .map_err(db)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(db)
}

/// Counts the rules the batch's new `rules.served` events served, inside its transaction.
pub fn count_served<'a>(
    tx: &Connection,
    team: &str,
    inserted: impl Iterator<Item = &'a NewEvent>,
) -> Result<(), StorageError> {
    let counted = Served::count(inserted);
    if counted.is_empty() {
        return Ok(());
    }
    let mut st = tx
        .prepare_cached(
            "INSERT INTO served_daily (team, rule_id, day, agent, repo, moment, count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (team, rule_id, day, agent, repo, moment)
             DO UPDATE SET count = count + excluded.count",
        )
        .map_err(db)?;
    for (k, n) in counted {
        st.execute(params![
            team, k.rule_id, k.day, k.agent, k.repo, k.moment, n
        ])
        .map_err(db)?;
    }
    Ok(())
}

pub fn served(
    c: &Connection,
    team: &str,
    since: &str,
    rule_id: Option<&str>,
) -> Result<Vec<(ServedKey, i64)>, StorageError> {
    // Two statements, so one rule's figures are read by the primary key (an `OR` would hide it
    // from the planner and scan the team's counters).
    let mut st = match rule_id {
        Some(_) => c.prepare_cached(
            "SELECT rule_id, day, agent, repo, moment, count FROM served_daily
             WHERE team = ?1 AND rule_id = ?3 AND day >= ?2 ORDER BY day",
        ),
        None => c.prepare_cached(
            "SELECT rule_id, day, agent, repo, moment, count FROM served_daily
             WHERE team = ?1 AND day >= ?2 AND ?3 IS NULL ORDER BY rule_id, day",
        ),
    }
    .map_err(db)?;
    st.query_map(params![team, since, rule_id], |r| {
        Ok((
            ServedKey {
                rule_id: r.get(0)?,
                day: r.get(1)?,
                agent: r.get(2)?,
                repo: r.get(3)?,
                moment: r.get(4)?,
            },
            r.get(5)?,
        ))
    })
    .map_err(db)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(db)
}
