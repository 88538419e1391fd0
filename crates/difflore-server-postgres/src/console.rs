//! What the console keeps on PostgreSQL: sessions (by the hash of their secret; in the database,
//! so every instance behind a load balancer shares them), a rule's audit trail, and the activity
//! counts kept at ingest.

use deadpool_postgres::GenericClient;
use difflore_server_db::{
    ActivityRow, AuditEntry, NewEvent, Served, ServedKey, SessionRecord, StorageError, Tally,
};

fn db(e: tokio_postgres::Error) -> StorageError {
    StorageError::unavailable(e)
}

pub async fn create_session(c: &impl GenericClient, s: &SessionRecord) -> Result<(), StorageError> {
    c.execute(
        "INSERT INTO console_sessions (id_sha256, token_id, csrf, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &s.id_sha256,
            &s.token_id,
            &s.csrf,
            &s.created_at,
            &s.expires_at,
        ],
    )
    .await
    .map_err(db)?;
    Ok(())
}

pub async fn session(
    c: &impl GenericClient,
    id_sha256: &str,
    now: i64,
) -> Result<Option<SessionRecord>, StorageError> {
    let row = c
        .query_opt(
            "SELECT id_sha256, token_id, csrf, created_at, expires_at FROM console_sessions
             WHERE id_sha256 = $1 AND expires_at > $2",
            &[&id_sha256, &now],
        )
        .await
        .map_err(db)?;
    Ok(row.map(|r| SessionRecord {
        id_sha256: r.get(0),
        token_id: r.get(1),
        csrf: r.get(2),
        created_at: r.get(3),
        expires_at: r.get(4),
    }))
}

pub async fn delete_session(
    c: &impl GenericClient,
    id_sha256: &str,
    now: i64,
) -> Result<(), StorageError> {
    c.execute(
        "DELETE FROM console_sessions WHERE id_sha256 = $1 OR expires_at <= $2",
        &[&id_sha256, &now],
    )
    .await
    .map_err(db)?;
    Ok(())
}

/// Ends the console sessions of tokens that are revoked.
pub async fn end_revoked_sessions(c: &impl GenericClient) -> Result<(), StorageError> {
    c.execute(
        "DELETE FROM console_sessions WHERE token_id IN
             (SELECT id FROM tokens WHERE revoked_at IS NOT NULL)",
        &[],
    )
    .await
    .map_err(db)?;
    Ok(())
}

pub async fn rule_audit(
    c: &impl GenericClient,
    team: &str,
    id: &str,
) -> Result<Vec<AuditEntry>, StorageError> {
    let rows = c
        .query(
            "SELECT action, actor, from_revision, from_version, to_status, reason, at
             FROM rule_audit WHERE team = $1 AND rule_id = $2 ORDER BY seq",
            &[&team, &id.to_ascii_lowercase()],
        )
        .await
        .map_err(db)?;
    Ok(rows
        .iter()
        .map(|r| AuditEntry {
            action: r.get(0),
            actor: r.get(1),
            from_revision: r.get(2),
            from_version: r.get(3),
            to_status: r.get(4),
            reason: r.get(5),
            at: r.get(6),
        })
        .collect())
}

/// Counts the events a batch inserted, inside its transaction, in one statement.
pub async fn tally<'a>(
    tx: &impl GenericClient,
    team: &str,
    inserted: impl Iterator<Item = &'a NewEvent>,
) -> Result<(), StorageError> {
    let counted = Tally::count(inserted);
    if counted.is_empty() {
        return Ok(());
    }
    let (mut days, mut kinds, mut agents, mut repos, mut ns) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (t, n) in &counted {
        days.push(t.day.as_str());
        kinds.push(t.kind.as_str());
        agents.push(t.agent.as_str());
        repos.push(t.repo.as_str());
        ns.push(*n);
    }
    let st = tx
        .prepare_cached(
            "INSERT INTO activity_daily (team, day, kind, agent, repo, count)
             SELECT $1, t.* FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::int8[])
                  AS t(day, kind, agent, repo, count)
             ORDER BY 2, 3, 4, 5
             ON CONFLICT (team, day, kind, agent, repo)
             DO UPDATE SET count = activity_daily.count + excluded.count",
        )
        .await
        .map_err(db)?;
    tx.execute(&st, &[&team, &days, &kinds, &agents, &repos, &ns])
        .await
        .map_err(db)?;
    Ok(())
}

pub async fn activity(
    c: &impl GenericClient,
    team: &str,
    since: &str,
) -> Result<Vec<ActivityRow>, StorageError> {
    let rows = c
        .query(
            "SELECT day, kind, agent, repo, count FROM activity_daily
             WHERE team = $1 AND day >= $2 ORDER BY day DESC, count DESC",
            &[&team, &since],
        )
        .await
        .map_err(db)?;
    Ok(rows
        .iter()
        .map(|r| ActivityRow {
            day: r.get(0),
            kind: r.get(1),
            agent: r.get(2),
            repo: r.get(3),
            count: r.get(4),
        })
        .collect())
}

/// Counts the rules the batch's new `rules.served` events served, inside its transaction, in
/// one statement (rows in key order, so concurrent batches lock them in the same order).
pub async fn count_served<'a>(
    tx: &impl GenericClient,
    team: &str,
    inserted: impl Iterator<Item = &'a NewEvent>,
) -> Result<(), StorageError> {
    let counted = Served::count(inserted);
    if counted.is_empty() {
        return Ok(());
    }
    let mut cols: [Vec<&str>; 5] = Default::default();
    let mut ns = Vec::with_capacity(counted.len());
    for (k, n) in &counted {
        cols[0].push(&k.rule_id);
        cols[1].push(&k.day);
        cols[2].push(&k.agent);
        cols[3].push(&k.repo);
        cols[4].push(&k.moment);
        ns.push(*n);
    }
    let st = tx
        .prepare_cached(
            "INSERT INTO served_daily (team, rule_id, day, agent, repo, moment, count)
             SELECT $1, t.* FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[],
                                        $6::text[], $7::int8[])
                  AS t(rule_id, day, agent, repo, moment, count)
             ON CONFLICT (team, rule_id, day, agent, repo, moment)
             DO UPDATE SET count = served_daily.count + excluded.count",
        )
        .await
        .map_err(db)?;
    tx.execute(
        &st,
        &[&team, &cols[0], &cols[1], &cols[2], &cols[3], &cols[4], &ns],
    )
    .await
    .map_err(db)?;
    Ok(())
}

pub async fn served(
    c: &impl GenericClient,
    team: &str,
    since: &str,
    rule_id: Option<&str>,
) -> Result<Vec<(ServedKey, i64)>, StorageError> {
    // Two statements, so one rule's figures are read by the primary key.
    let rows = match rule_id {
        Some(id) => {
            c.query(
                "SELECT rule_id, day, agent, repo, moment, count FROM served_daily
                 WHERE team = $1 AND rule_id = $3 AND day >= $2 ORDER BY day",
                &[&team, &since, &id],
            )
            .await
        }
        None => {
            c.query(
                "SELECT rule_id, day, agent, repo, moment, count FROM served_daily
                 WHERE team = $1 AND day >= $2 ORDER BY rule_id, day",
                &[&team, &since],
            )
            .await
        }
    }
    .map_err(db)?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                ServedKey {
                    rule_id: r.get(0),
                    day: r.get(1),
                    agent: r.get(2),
                    repo: r.get(3),
                    moment: r.get(4),
                },
                r.get(5),
            )
        })
        .collect())
}
