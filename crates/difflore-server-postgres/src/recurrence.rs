//! Recurrence on PostgreSQL: `rule.recurred` events counted at ingest (a comment once per team,
//! for the rule it matched best), and what a rule's before/since figures are read from — when it
//! first became active (its audit trail), its evidence's dates, its recurrences' dates.

use deadpool_postgres::GenericClient;
use difflore_proto::outcomes::RuleRecurred;
use difflore_server_db::{RuleDates, StorageError};
use std::collections::{BTreeMap, HashSet};

fn db(e: tokio_postgres::Error) -> StorageError {
    StorageError::unavailable(e)
}

/// Stores the batch's new recurrences inside its transaction; a better match replaces a worse.
/// One row at a time: two recurrences of one comment in a batch must not meet in one upsert.
pub async fn record(
    tx: &impl GenericClient,
    team: &str,
    recurred: &[&RuleRecurred],
) -> Result<(), StorageError> {
    if recurred.is_empty() {
        return Ok(());
    }
    let st = tx
        .prepare_cached(
            "INSERT INTO rule_recurrences
                 (team, source, repo, comment_id, rule_id, at, url, path, score)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (team, source, repo, comment_id) DO UPDATE SET
                 rule_id = excluded.rule_id, at = excluded.at, url = excluded.url,
                 path = excluded.path, score = excluded.score
             WHERE excluded.score > rule_recurrences.score",
        )
        .await
        .map_err(db)?;
    for r in recurred {
        tx.execute(
            &st,
            &[
                &team,
                &r.source,
                &r.repo,
                &r.comment_id,
                &r.rule_id,
                &r.at,
                &r.url,
                &r.path,
                &r.score,
            ],
        )
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// Per rule that has been active (one, or all of the team's), in three set-based statements.
pub async fn dates(
    c: &impl GenericClient,
    team: &str,
    rule: Option<&str>,
) -> Result<Vec<RuleDates>, StorageError> {
    let one = rule.is_some();
    let rule = rule.unwrap_or("");
    let sql = if one {
        "SELECT rule_id, MIN(at) FROM rule_audit
         WHERE team = $1 AND rule_id = $2 AND to_status = 'active' GROUP BY rule_id"
    } else {
        "SELECT rule_id, MIN(at) FROM rule_audit
         WHERE team = $1 AND to_status = 'active' AND $2::text = '' GROUP BY rule_id"
    };
    let mut out: BTreeMap<String, RuleDates> = BTreeMap::new();
    for r in c.query(sql, &[&team, &rule]).await.map_err(db)? {
        let rule_id: String = r.get(0);
        out.insert(
            rule_id.clone(),
            RuleDates {
                rule_id,
                activated_at: r.get(1),
                ..Default::default()
            },
        );
    }
    if out.is_empty() {
        return Ok(Vec::new());
    }
    let sql = if one {
        "SELECT r.id, (r.body::jsonb -> 'globs')::text, e ->> 'path', e ->> 'created_at'
         FROM team_rules r
         LEFT JOIN LATERAL jsonb_array_elements(r.body::jsonb -> 'evidence') e ON true
         WHERE r.team = $1 AND r.id = $2"
    } else {
        "SELECT r.id, (r.body::jsonb -> 'globs')::text, e ->> 'path', e ->> 'created_at'
         FROM team_rules r
         LEFT JOIN LATERAL jsonb_array_elements(r.body::jsonb -> 'evidence') e ON true
         WHERE r.team = $1 AND r.status IN ('active', 'paused') AND $2::text = ''"
    };
    let mut current = HashSet::new();
    for r in c.query(sql, &[&team, &rule]).await.map_err(db)? {
        let id: String = r.get(0);
        let Some(d) = out.get_mut(&id) else { continue };
        current.insert(id);
        if d.globs.is_empty() {
            d.globs = r
                .get::<_, Option<String>>(1)
                .and_then(|g| serde_json::from_str(&g).ok())
                .unwrap_or_default();
        }
        if let Some(at) = r.get::<_, Option<String>>(3) {
            d.evidence.push((r.get(2), at));
        }
    }
    // Rules active once but rejected or merged since have no figures.
    out.retain(|id, _| current.contains(id));
    let sql = if one {
        "SELECT rule_id, at FROM rule_recurrences WHERE team = $1 AND rule_id = $2"
    } else {
        "SELECT rule_id, at FROM rule_recurrences WHERE team = $1 AND $2::text = ''"
    };
    for r in c.query(sql, &[&team, &rule]).await.map_err(db)? {
        if let Some(d) = out.get_mut(&r.get::<_, String>(0)) {
            d.recurred.push(r.get(1));
        }
    }
    Ok(out.into_values().collect())
}
