//! The team rulebook on SQLite: load and store team rules, tombstones and the audit inside the
//! caller's transaction; what a proposal or a decision *does* is `difflore_server_db::rulebook`.
//! SQLite has one writer at a time, so versions become visible in order.

use difflore_proto::rules::{Action, Decision, RulesPage, TeamRule, TeamTombstone};
use difflore_server_db::rulebook::{
    self, Decided, Known, Proposals, parse_body as parse, status_text,
};
use difflore_server_db::{DecisionError, RulesQuery, StorageError, now_rfc3339};
use rusqlite::{Connection, OptionalExtension, params};

fn db(e: rusqlite::Error) -> StorageError {
    StorageError::unavailable(e)
}

/// The team's next version (the first is 1).
fn next_version(tx: &Connection, team: &str) -> Result<i64, StorageError> {
    tx.query_row(
        "INSERT INTO rule_versions (team, version) VALUES (?1, 1)
         ON CONFLICT (team) DO UPDATE SET version = version + 1
         RETURNING version",
        [team],
        |r| r.get(0),
    )
    .map_err(db)
}

pub fn load(tx: &Connection, team: &str, id: &str) -> Result<Option<TeamRule>, StorageError> {
    let body: Option<String> = tx
        .query_row(
            "SELECT body FROM team_rules WHERE team = ?1 AND id = ?2",
            params![team, id.to_ascii_lowercase()],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    body.as_deref().map(parse).transpose()
}

fn save(tx: &Connection, team: &str, r: &TeamRule) -> Result<(), StorageError> {
    let body = serde_json::to_string(r).map_err(StorageError::unavailable)?;
    tx.prepare_cached(
        "INSERT INTO team_rules (team, id, repo, signature, status, version, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (team, id) DO UPDATE SET repo = excluded.repo,
             signature = excluded.signature, status = excluded.status,
             version = excluded.version, body = excluded.body",
    )
    .and_then(|mut st| {
        st.execute(params![
            team,
            r.id,
            r.repo,
            r.signature,
            status_text(r.status),
            r.version,
            body
        ])
    })
    .map_err(db)?;
    Ok(())
}

/// Applies the `rule.proposed` events a batch stored now, inside the transaction that stored
/// them (SQLite has one writer: versions become visible in order): what the batch touches is
/// read by key, the effects are decided by `difflore_server_db::rulebook::propose`, and the
/// changed rules are stored with the next versions.
pub fn propose(tx: &Connection, team: &str, batch: &Proposals<'_>) -> Result<(), StorageError> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut known = Known::default();
    let mut seen = std::collections::HashSet::new();
    {
        let mut by_id = tx
            .prepare_cached("SELECT body FROM team_rules WHERE team = ?1 AND id = ?2")
            .map_err(db)?;
        let mut by_point = tx
            .prepare_cached(
                "SELECT body FROM team_rules
                 WHERE team = ?1 AND signature = ?2 AND COALESCE(repo, '') = ?3",
            )
            .map_err(db)?;
        let mut buried = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM rule_tombstones
                                WHERE team = ?1 AND repo = ?2 AND signature = ?3 AND lifted = 0)",
            )
            .map_err(db)?;
        let mut bodies = Vec::new();
        for id in batch.ids() {
            let b: Option<String> = by_id
                .query_row(params![team, id], |r| r.get(0))
                .optional()
                .map_err(db)?;
            bodies.extend(b);
        }
        for (repo, sig) in batch.points() {
            let rows = by_point
                .query_map(params![team, sig, repo], |r| r.get::<_, String>(0))
                .map_err(db)?;
            for b in rows {
                bodies.push(b.map_err(db)?);
            }
            if buried
                .query_row(params![team, repo, sig], |r| r.get::<_, bool>(0))
                .map_err(db)?
            {
                known.buried.push((repo.to_string(), sig.to_string()));
            }
        }
        for b in bodies {
            let r = parse(&b)?;
            if seen.insert(r.id.clone()) {
                known.rules.push(r);
            }
        }
    }
    known.rules.sort_by_key(|r| r.version);
    let mut changed = rulebook::propose(batch, known, &now_rfc3339());
    if changed.is_empty() {
        return Ok(());
    }
    let last: i64 = tx
        .query_row(
            "INSERT INTO rule_versions (team, version) VALUES (?1, ?2)
             ON CONFLICT (team) DO UPDATE SET version = version + ?2
             RETURNING version",
            params![team, changed.len() as i64],
            |r| r.get(0),
        )
        .map_err(db)?;
    rulebook::number(&mut changed, last);
    for r in &changed {
        save(tx, team, r)?;
    }
    Ok(())
}

/// Rules and tombstones changed after `q.since`.
pub fn list(c: &Connection, team: &str, q: &RulesQuery) -> Result<RulesPage, StorageError> {
    let status = q.status.map(status_text);
    let mut st = c
        .prepare_cached(
            "SELECT body FROM team_rules
             WHERE team = ?1 AND version > ?2
               AND (?3 IS NULL OR repo = ?3) AND (?4 IS NULL OR status = ?4)
             ORDER BY version LIMIT ?5",
        )
        .map_err(db)?;
    let rules = st
        .query_map(
            params![team, q.since, q.repo, status, q.limit as i64],
            |r| r.get::<_, String>(0),
        )
        .map_err(db)?
        .map(|b| b.map_err(db).and_then(|b| parse(&b)))
        .collect::<Result<Vec<_>, _>>()?;
    let upto = rules.last().map(|r| r.version);
    let mut st = c
        .prepare_cached(
            "SELECT signature, repo, lifted, version FROM rule_tombstones
             WHERE team = ?1 AND version > ?2 AND (?3 IS NULL OR version <= ?3)
               AND (?4 IS NULL OR repo = ?4)
             ORDER BY version",
        )
        .map_err(db)?;
    let tombstones = st
        .query_map(params![team, q.since, upto, q.repo], |r| {
            let repo: String = r.get(1)?;
            Ok(TeamTombstone {
                signature: r.get(0)?,
                repo: (!repo.is_empty()).then_some(repo),
                lifted: r.get::<_, i64>(2)? != 0,
                version: r.get(3)?,
            })
        })
        .map_err(db)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db)?;
    let last = upto.max(tombstones.last().map(|t| t.version));
    Ok(RulesPage {
        schema_version: 1,
        rules,
        tombstones,
        next_since: last,
    })
}

fn tombstone(
    tx: &Connection,
    team: &str,
    repo: Option<&str>,
    sig: &str,
    lifted: bool,
    version: i64,
) -> Result<(), StorageError> {
    tx.execute(
        "INSERT INTO rule_tombstones (team, repo, signature, lifted, version)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (team, repo, signature) DO UPDATE SET lifted = excluded.lifted,
             version = excluded.version",
        params![team, repo.unwrap_or(""), sig, lifted as i64, version],
    )
    .map_err(db)?;
    Ok(())
}

fn audit(
    tx: &Connection,
    team: &str,
    before: &TeamRule,
    after: &TeamRule,
    d: &Decision,
    actor: &str,
) -> Result<(), StorageError> {
    let action = serde_json::to_value(d.action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    tx.execute(
        "INSERT INTO rule_audit (team, rule_id, action, actor, from_revision, from_version,
                                 to_status, reason, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            team,
            before.id,
            action,
            actor,
            before.revision,
            before.version,
            status_text(after.status),
            d.reason,
            now_rfc3339()
        ],
    )
    .map_err(db)?;
    Ok(())
}

/// A decision inside one transaction: 404, then 409 with the current rule, else applied,
/// tombstones written or lifted, audited.
pub fn decide(
    tx: &Connection,
    team: &str,
    id: &str,
    d: &Decision,
    actor: &str,
) -> Result<TeamRule, DecisionError> {
    let rule = load(tx, team, id)?.ok_or_else(|| DecisionError::NotFound(id.to_string()))?;
    let now = now_rfc3339();
    if d.action == Action::Merge {
        let into_id = d.into.as_deref().ok_or_else(|| {
            rulebook::DecideError::Invalid("merge needs `into`: the rule to merge into".into())
        })?;
        let into =
            load(tx, team, into_id)?.ok_or_else(|| DecisionError::NotFound(into_id.to_string()))?;
        let version = next_version(tx, team)?;
        let (gone, target) = rulebook::merge(&rule, &into, d, actor, version, &now)?;
        save(tx, team, &target)?;
        return finish(tx, team, &rule, gone, d, actor, version);
    }
    let version = next_version(tx, team)?;
    let decided = rulebook::decide(&rule, d, actor, version, &now)?;
    finish(tx, team, &rule, decided, d, actor, version)
}

fn finish(
    tx: &Connection,
    team: &str,
    before: &TeamRule,
    decided: Decided,
    d: &Decision,
    actor: &str,
    version: i64,
) -> Result<TeamRule, DecisionError> {
    let repo = decided.rule.repo.as_deref();
    if let Some(sig) = &decided.lift {
        tombstone(tx, team, repo, sig, true, version)?;
    }
    if let Some(sig) = &decided.tombstone {
        tombstone(tx, team, repo, sig, false, version)?;
    }
    save(tx, team, &decided.rule)?;
    audit(tx, team, before, &decided.rule, d, actor)?;
    Ok(decided.rule)
}
