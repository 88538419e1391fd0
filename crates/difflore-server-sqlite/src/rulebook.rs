//! The team rulebook on SQLite: load and store team rules, tombstones and the audit inside the
//! caller's transaction; what a proposal or a decision *does* is `difflore_server_db::rulebook`.
//! SQLite has one writer at a time, so versions become visible in order.

use difflore_proto::rules::{
    Action, Decision, RuleProposal, RulesPage, TeamRule, TeamTombstone, signature,
};
use difflore_server_db::rulebook::{self, Decided, Proposed, parse_body as parse, status_text};
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
    tx.execute(
        "INSERT INTO team_rules (team, id, repo, signature, status, version, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (team, id) DO UPDATE SET repo = excluded.repo,
             signature = excluded.signature, status = excluded.status,
             version = excluded.version, body = excluded.body",
        params![
            team,
            r.id,
            r.repo,
            r.signature,
            status_text(r.status),
            r.version,
            body
        ],
    )
    .map_err(db)?;
    Ok(())
}

/// Applies a `rule.proposed` inside the transaction that inserted its event.
pub fn propose(tx: &Connection, team: &str, p: &RuleProposal) -> Result<Proposed, StorageError> {
    let sig = signature(&p.statement);
    let repo = p.repo.clone().unwrap_or_default();
    let buried: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM rule_tombstones
                            WHERE team = ?1 AND repo = ?2 AND signature = ?3 AND lifted = 0)",
            params![team, repo, sig],
            |r| r.get(0),
        )
        .map_err(db)?;
    if buried {
        return Ok(Proposed::Tombstoned);
    }
    let id = p.rule_id.to_ascii_lowercase();
    // By id (the primary key), else by signature (indexed) in the same repo.
    let by_id: Option<String> = tx
        .query_row(
            "SELECT body FROM team_rules WHERE team = ?1 AND id = ?2",
            params![team, id],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    let known = match by_id {
        Some(b) => Some(b),
        None => tx
            .query_row(
                "SELECT body FROM team_rules
                 WHERE team = ?1 AND signature = ?2 AND COALESCE(repo, '') = ?3 LIMIT 1",
                params![team, sig, repo],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?,
    };
    let now = now_rfc3339();
    match known {
        Some(body) => match rulebook::grow(&parse(&body)?, p, 0, &now) {
            Some(mut g) => {
                g.version = next_version(tx, team)?;
                save(tx, team, &g)?;
                Ok(Proposed::Grew(g))
            }
            None => Ok(Proposed::Unchanged),
        },
        None => {
            let r = rulebook::new_rule(p, next_version(tx, team)?, &now);
            save(tx, team, &r)?;
            Ok(Proposed::Created(r))
        }
    }
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
