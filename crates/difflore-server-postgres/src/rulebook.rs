//! The team rulebook on PostgreSQL: load and store team rules, tombstones and the audit inside
//! the caller's transaction; what a proposal or a decision *does* is
//! `difflore_server_db::rulebook`. Versions commit in order: see `migrations/0003_rulebook.sql`.

use deadpool_postgres::GenericClient;
use difflore_proto::rules::{
    Action, Decision, RuleProposal, RulesPage, TeamRule, TeamTombstone, signature,
};
use difflore_server_db::rulebook::{self, Decided, Proposed, parse_body as parse, status_text};
use difflore_server_db::{DecisionError, RulesQuery, StorageError, now_rfc3339};

fn db(e: tokio_postgres::Error) -> StorageError {
    StorageError::unavailable(e)
}

/// The team's next version (the first is 1); the team's row stays locked until commit.
async fn next_version(tx: &impl GenericClient, team: &str) -> Result<i64, StorageError> {
    let row = tx
        .query_one(
            "INSERT INTO rule_versions (team, version) VALUES ($1, 1)
             ON CONFLICT (team) DO UPDATE SET version = rule_versions.version + 1
             RETURNING version",
            &[&team],
        )
        .await
        .map_err(db)?;
    Ok(row.get(0))
}

pub async fn load(
    c: &impl GenericClient,
    team: &str,
    id: &str,
) -> Result<Option<TeamRule>, StorageError> {
    let row = c
        .query_opt(
            "SELECT body FROM team_rules WHERE team = $1 AND id = $2",
            &[&team, &id.to_ascii_lowercase()],
        )
        .await
        .map_err(db)?;
    row.map(|r| parse(&r.get::<_, String>(0))).transpose()
}

async fn save(tx: &impl GenericClient, team: &str, r: &TeamRule) -> Result<(), StorageError> {
    let body = serde_json::to_string(r).map_err(StorageError::unavailable)?;
    tx.execute(
        "INSERT INTO team_rules (team, id, repo, signature, status, version, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (team, id) DO UPDATE SET repo = excluded.repo,
             signature = excluded.signature, status = excluded.status,
             version = excluded.version, body = excluded.body",
        &[
            &team,
            &r.id,
            &r.repo,
            &r.signature,
            &status_text(r.status),
            &r.version,
            &body,
        ],
    )
    .await
    .map_err(db)?;
    Ok(())
}

/// Applies a `rule.proposed` inside the transaction that inserted its event.
pub async fn propose(
    tx: &impl GenericClient,
    team: &str,
    p: &RuleProposal,
) -> Result<Proposed, StorageError> {
    let sig = signature(&p.statement);
    let repo = p.repo.clone().unwrap_or_default();
    let buried: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM rule_tombstones
                            WHERE team = $1 AND repo = $2 AND signature = $3 AND NOT lifted)",
            &[&team, &repo, &sig],
        )
        .await
        .map_err(db)?
        .get(0);
    if buried {
        return Ok(Proposed::Tombstoned);
    }
    let id = p.rule_id.to_ascii_lowercase();
    // By id (the primary key), else by signature (indexed) in the same repo.
    let known = match tx
        .query_opt(
            "SELECT body FROM team_rules WHERE team = $1 AND id = $2",
            &[&team, &id],
        )
        .await
        .map_err(db)?
    {
        Some(row) => Some(row),
        None => tx
            .query_opt(
                "SELECT body FROM team_rules
                 WHERE team = $1 AND signature = $2 AND COALESCE(repo, '') = $3 LIMIT 1",
                &[&team, &sig, &repo],
            )
            .await
            .map_err(db)?,
    };
    let now = now_rfc3339();
    match known {
        Some(row) => match rulebook::grow(&parse(&row.get::<_, String>(0))?, p, 0, &now) {
            Some(mut g) => {
                g.version = next_version(tx, team).await?;
                save(tx, team, &g).await?;
                Ok(Proposed::Grew(g))
            }
            None => Ok(Proposed::Unchanged),
        },
        None => {
            let r = rulebook::new_rule(p, next_version(tx, team).await?, &now);
            save(tx, team, &r).await?;
            Ok(Proposed::Created(r))
        }
    }
}

/// Rules and tombstones changed after `q.since`.
pub async fn list(
    c: &impl GenericClient,
    team: &str,
    q: &RulesQuery,
) -> Result<RulesPage, StorageError> {
    let status = q.status.map(status_text);
    let rows = c
        .query(
            "SELECT body FROM team_rules
             WHERE team = $1 AND version > $2
               AND ($3::text IS NULL OR repo = $3) AND ($4::text IS NULL OR status = $4)
             ORDER BY version LIMIT $5",
            &[&team, &q.since, &q.repo, &status, &(q.limit as i64)],
        )
        .await
        .map_err(db)?;
    let rules = rows
        .iter()
        .map(|r| parse(&r.get::<_, String>(0)))
        .collect::<Result<Vec<_>, _>>()?;
    let upto = rules.last().map(|r| r.version);
    let rows = c
        .query(
            "SELECT signature, repo, lifted, version FROM rule_tombstones
             WHERE team = $1 AND version > $2 AND ($3::bigint IS NULL OR version <= $3)
               AND ($4::text IS NULL OR repo = $4)
             ORDER BY version",
            &[&team, &q.since, &upto, &q.repo],
        )
        .await
        .map_err(db)?;
    let tombstones: Vec<TeamTombstone> = rows
        .iter()
        .map(|r| {
            let repo: String = r.get(1);
            TeamTombstone {
                signature: r.get(0),
                repo: (!repo.is_empty()).then_some(repo),
                lifted: r.get(2),
                version: r.get(3),
            }
        })
        .collect();
    let last = upto.max(tombstones.last().map(|t| t.version));
    Ok(RulesPage {
        schema_version: 1,
        rules,
        tombstones,
        next_since: last,
    })
}

async fn tombstone(
    tx: &impl GenericClient,
    team: &str,
    repo: Option<&str>,
    sig: &str,
    lifted: bool,
    version: i64,
) -> Result<(), StorageError> {
    tx.execute(
        "INSERT INTO rule_tombstones (team, repo, signature, lifted, version)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (team, repo, signature) DO UPDATE SET lifted = excluded.lifted,
             version = excluded.version",
        &[&team, &repo.unwrap_or(""), &sig, &lifted, &version],
    )
    .await
    .map_err(db)?;
    Ok(())
}

/// A decision inside one transaction: 404, then 409 with the current rule, else applied,
/// tombstones written or lifted, audited.
pub async fn decide(
    tx: &impl GenericClient,
    team: &str,
    id: &str,
    d: &Decision,
    actor: &str,
) -> Result<TeamRule, DecisionError> {
    let rule = load(tx, team, id)
        .await?
        .ok_or_else(|| DecisionError::NotFound(id.to_string()))?;
    let now = now_rfc3339();
    let version = next_version(tx, team).await?;
    let decided = if d.action == Action::Merge {
        let into_id = d.into.as_deref().ok_or_else(|| {
            rulebook::DecideError::Invalid("merge needs `into`: the rule to merge into".into())
        })?;
        let into = load(tx, team, into_id)
            .await?
            .ok_or_else(|| DecisionError::NotFound(into_id.to_string()))?;
        let (gone, target) = rulebook::merge(&rule, &into, d, actor, version, &now)?;
        save(tx, team, &target).await?;
        gone
    } else {
        rulebook::decide(&rule, d, actor, version, &now)?
    };
    finish(tx, team, &rule, decided, d, actor, version).await
}

async fn finish(
    tx: &impl GenericClient,
    team: &str,
    before: &TeamRule,
    decided: Decided,
    d: &Decision,
    actor: &str,
    version: i64,
) -> Result<TeamRule, DecisionError> {
    let repo = decided.rule.repo.as_deref();
    if let Some(sig) = &decided.lift {
        tombstone(tx, team, repo, sig, true, version).await?;
    }
    if let Some(sig) = &decided.tombstone {
        tombstone(tx, team, repo, sig, false, version).await?;
    }
    save(tx, team, &decided.rule).await?;
    let action = serde_json::to_value(d.action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    tx.execute(
        "INSERT INTO rule_audit (team, rule_id, action, actor, from_revision, from_version,
                                 to_status, reason, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &team,
            &before.id,
            &action,
            &actor,
            &before.revision,
            &before.version,
            &status_text(decided.rule.status),
            &d.reason,
            &now_rfc3339(),
        ],
    )
    .await
    .map_err(db)?;
    Ok(decided.rule)
}
