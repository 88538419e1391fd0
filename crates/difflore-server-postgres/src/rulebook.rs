//! The team rulebook on PostgreSQL: load and store team rules, tombstones and the audit inside
//! the caller's transaction; what a proposal or a decision *does* is
//! `difflore_server_db::rulebook`. Versions commit in order: see `migrations/0003_rulebook.sql`.

use deadpool_postgres::GenericClient;
use difflore_proto::rules::{Action, Decision, RulesPage, TeamRule, TeamTombstone};
use difflore_server_db::rulebook::{
    self, Decided, Known, Proposals, parse_body as parse, status_text,
};
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
    save_all(tx, team, std::slice::from_ref(r)).await
}

/// Stores rules in one statement (insert or replace by id).
async fn save_all(
    tx: &impl GenericClient,
    team: &str,
    rules: &[TeamRule],
) -> Result<(), StorageError> {
    let mut ids = Vec::with_capacity(rules.len());
    let (mut repos, mut sigs, mut statuses, mut versions, mut bodies) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in rules {
        ids.push(r.id.as_str());
        repos.push(r.repo.as_deref());
        sigs.push(r.signature.as_str());
        statuses.push(status_text(r.status));
        versions.push(r.version);
        bodies.push(serde_json::to_string(r).map_err(StorageError::unavailable)?);
    }
    let st = tx
        .prepare_cached(
            "INSERT INTO team_rules (team, id, repo, signature, status, version, body)
             SELECT $1, t.* FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[],
                                        $6::int8[], $7::text[])
                  AS t(id, repo, signature, status, version, body)
             ON CONFLICT (team, id) DO UPDATE SET repo = excluded.repo,
                 signature = excluded.signature, status = excluded.status,
                 version = excluded.version, body = excluded.body",
        )
        .await
        .map_err(db)?;
    tx.execute(
        &st,
        &[&team, &ids, &repos, &sigs, &statuses, &versions, &bodies],
    )
    .await
    .map_err(db)?;
    Ok(())
}

/// Applies the `rule.proposed` events a batch stored now, inside the transaction that stored
/// them: the team's version row is locked first (proposals of one team apply one batch at a
/// time, versions commit in order), what the batch touches is read in two statements, the
/// effects are decided by `difflore_server_db::rulebook::propose`, and the changed rules are
/// stored in one.
pub async fn propose(
    tx: &impl GenericClient,
    team: &str,
    batch: &Proposals<'_>,
) -> Result<(), StorageError> {
    if batch.is_empty() {
        return Ok(());
    }
    let lock = tx
        .prepare_cached(
            "INSERT INTO rule_versions (team, version) VALUES ($1, 0)
             ON CONFLICT (team) DO UPDATE SET version = rule_versions.version
             RETURNING version",
        )
        .await
        .map_err(db)?;
    let current: i64 = tx.query_one(&lock, &[&team]).await.map_err(db)?.get(0);
    let ids = batch.ids();
    let (repos, sigs): (Vec<&str>, Vec<&str>) = batch.points().into_iter().unzip();
    let read = tx
        .prepare_cached(
            "SELECT body FROM team_rules WHERE team = $1 AND id = ANY($2::text[])
             UNION
             SELECT r.body FROM team_rules r
             JOIN UNNEST($3::text[], $4::text[]) AS k(repo, signature)
               ON r.team = $1 AND r.signature = k.signature AND COALESCE(r.repo, '') = k.repo",
        )
        .await
        .map_err(db)?;
    let mut known = Known::default();
    for row in tx
        .query(&read, &[&team, &ids, &repos, &sigs])
        .await
        .map_err(db)?
    {
        known.rules.push(parse(&row.get::<_, String>(0))?);
    }
    known.rules.sort_by_key(|r| r.version);
    let buried = tx
        .prepare_cached(
            "SELECT t.repo, t.signature FROM rule_tombstones t
             JOIN UNNEST($2::text[], $3::text[]) AS k(repo, signature)
               ON t.team = $1 AND t.repo = k.repo AND t.signature = k.signature
             WHERE NOT t.lifted",
        )
        .await
        .map_err(db)?;
    for row in tx
        .query(&buried, &[&team, &repos, &sigs])
        .await
        .map_err(db)?
    {
        known.buried.push((row.get(0), row.get(1)));
    }
    let mut changed = rulebook::propose(batch, known, &now_rfc3339());
    if changed.is_empty() {
        return Ok(());
    }
    let last = current + changed.len() as i64;
    rulebook::number(&mut changed, last);
    tx.execute(
        "UPDATE rule_versions SET version = $2 WHERE team = $1",
        &[&team, &last],
    )
    .await
    .map_err(db)?;
    save_all(tx, team, &changed).await
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
