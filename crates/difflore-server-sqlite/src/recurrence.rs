//! Recurrence on SQLite: `rule.recurred` events counted at ingest (a comment once per team, for
//! the rule it matched best), and what a rule's before/since figures are read from — when it
//! first became active (its audit trail), its evidence's dates, its recurrences' dates.

use difflore_proto::outcomes::RuleRecurred;
use difflore_server_db::{RuleDates, StorageError};
use rusqlite::{Connection, params};
use std::collections::BTreeMap;

fn db(e: rusqlite::Error) -> StorageError {
    StorageError::unavailable(e)
}

/// Stores the batch's new recurrences inside its transaction; a better match replaces a worse.
pub fn record(tx: &Connection, team: &str, recurred: &[&RuleRecurred]) -> Result<(), StorageError> {
    if recurred.is_empty() {
        return Ok(());
    }
    let mut st = tx
        .prepare_cached(
            "INSERT INTO rule_recurrences
                 (team, source, repo, comment_id, rule_id, at, url, path, score)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (team, source, repo, comment_id) DO UPDATE SET
                 rule_id = excluded.rule_id, at = excluded.at, url = excluded.url,
                 path = excluded.path, score = excluded.score
             WHERE excluded.score > rule_recurrences.score",
        )
        .map_err(db)?;
    for r in recurred {
        st.execute(params![
            team,
            r.source,
            r.repo,
            r.comment_id,
            r.rule_id,
            r.at,
            r.url,
            r.path,
            r.score
        ])
        .map_err(db)?;
    }
    Ok(())
}

/// Per rule that has been active (one, or all of the team's).
pub fn dates(
    c: &Connection,
    team: &str,
    rule: Option<&str>,
) -> Result<Vec<RuleDates>, StorageError> {
    // One statement per part, each with and without the rule (an `OR` would hide the index).
    let one = rule.is_some();
    let rule = rule.unwrap_or("");
    let mut out: BTreeMap<String, RuleDates> = BTreeMap::new();
    let sql = if one {
        "SELECT rule_id, MIN(at) FROM rule_audit
         WHERE team = ?1 AND rule_id = ?2 AND to_status = 'active' GROUP BY rule_id"
    } else {
        "SELECT rule_id, MIN(at) FROM rule_audit
         WHERE team = ?1 AND to_status = 'active' AND ?2 = '' GROUP BY rule_id"
    };
    let mut st = c.prepare_cached(sql).map_err(db)?;
    let rows = st
        .query_map(params![team, rule], |r| {
            Ok((r.get::<_, String>(0)?, r.get(1)?))
        })
        .map_err(db)?;
    for row in rows {
        let (rule_id, activated_at) = row.map_err(db)?;
        out.insert(
            rule_id.clone(),
            RuleDates {
                rule_id,
                activated_at,
                ..Default::default()
            },
        );
    }
    if out.is_empty() {
        return Ok(Vec::new());
    }
    let sql = if one {
        "SELECT r.id, json_extract(r.body, '$.globs'), json_extract(e.value, '$.path'),
                json_extract(e.value, '$.created_at')
         FROM team_rules r LEFT JOIN json_each(r.body, '$.evidence') e
         WHERE r.team = ?1 AND r.id = ?2"
    } else {
        "SELECT r.id, json_extract(r.body, '$.globs'), json_extract(e.value, '$.path'),
                json_extract(e.value, '$.created_at')
         FROM team_rules r LEFT JOIN json_each(r.body, '$.evidence') e
         WHERE r.team = ?1 AND r.status IN ('active', 'paused') AND ?2 = ''"
    };
    let mut st = c.prepare_cached(sql).map_err(db)?;
    let rows = st
        .query_map(params![team, rule], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })
        .map_err(db)?;
    let mut current = std::collections::HashSet::new();
    for row in rows {
        let (id, globs, path, at) = row.map_err(db)?;
        let Some(d) = out.get_mut(&id) else { continue };
        current.insert(id);
        if d.globs.is_empty() {
            d.globs = globs
                .and_then(|g| serde_json::from_str(&g).ok())
                .unwrap_or_default();
        }
        if let Some(at) = at {
            d.evidence.push((path, at));
        }
    }
    // Rules active once but rejected or merged since have no figures.
    out.retain(|id, _| current.contains(id));
    let sql = if one {
        "SELECT rule_id, at FROM rule_recurrences WHERE team = ?1 AND rule_id = ?2"
    } else {
        "SELECT rule_id, at FROM rule_recurrences WHERE team = ?1 AND ?2 = ''"
    };
    let mut st = c.prepare_cached(sql).map_err(db)?;
    let rows = st
        .query_map(params![team, rule], |r| {
            Ok((r.get::<_, String>(0)?, r.get(1)?))
        })
        .map_err(db)?;
    for row in rows {
        let (id, at) = row.map_err(db)?;
        if let Some(d) = out.get_mut(&id) {
            d.recurred.push(at);
        }
    }
    Ok(out.into_values().collect())
}
