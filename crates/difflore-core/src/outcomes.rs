//! This machine's own serving figures (schema 8): daily totals of the rules its hooks and MCP
//! served, and of the files its agents edited — kept apart from the outbox, so delivering it
//! never erases them — and the files each rule was served for; read back for `difflore report`.
//! A hook step that records its `rules.served` leaves its share ([`ServedCounts`]) with the event
//! in the store's inbox, applied when the inbox is folded (every writing command, every daemon
//! turn): ten upserts across two tables cost the hook more than the rest of its writes.

use difflore_proto::outcomes::ServedRow;
use rusqlite::{Connection, params};

/// `YYYY-MM-DD` (UTC) of a time in milliseconds.
pub fn day(now_ms: i64) -> String {
    crate::clock::rfc3339(now_ms).chars().take(10).collect()
}

/// What one serving adds to the figures: [`count_served`] and [`count_served_files`] as of `at`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ServedCounts {
    /// Milliseconds since the epoch.
    pub at: i64,
    pub agent: String,
    /// Repo key, '' outside a repository.
    pub repo: String,
    pub moment: String,
    pub rule_ids: Vec<String>,
    /// (file, rule id) pairs.
    pub pairs: Vec<(String, String)>,
}

impl ServedCounts {
    /// Adds them to the figures, in the caller's transaction if there is one.
    pub fn apply(&self, conn: &Connection) -> rusqlite::Result<()> {
        count_served(
            conn,
            self.at,
            &self.agent,
            &self.repo,
            &self.moment,
            &self.rule_ids,
        )?;
        count_served_files(conn, self.at, &self.repo, &self.pairs)
    }
}

/// Counts each rule served once more today (`repo` '' outside a repository).
pub fn count_served(
    conn: &Connection,
    now_ms: i64,
    agent: &str,
    repo: &str,
    moment: &str,
    rule_ids: &[String],
) -> rusqlite::Result<()> {
    let mut up = conn.prepare_cached(
        "INSERT INTO served_daily (day, rule_id, agent, repo, moment, count)
         VALUES (?1, ?2, ?3, ?4, ?5, 1)
         ON CONFLICT (day, rule_id, agent, repo, moment) DO UPDATE SET count = count + 1",
    )?;
    let day = day(now_ms);
    for id in rule_ids {
        up.execute(params![day, id, agent, repo, moment])?;
    }
    Ok(())
}

/// Records the files each rule was served for: (file, rule id) pairs.
pub fn count_served_files(
    conn: &Connection,
    now_ms: i64,
    repo: &str,
    pairs: &[(String, String)],
) -> rusqlite::Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let mut up = conn.prepare_cached(
        "INSERT INTO served_files (rule_id, repo, path, first_at, last_at, count)
         VALUES (?1, ?2, ?3, ?4, ?4, 1)
         ON CONFLICT (rule_id, repo, path) DO UPDATE SET last_at = ?4, count = count + 1",
    )?;
    for (path, id) in pairs {
        up.execute(params![id, repo, path, now_ms])?;
    }
    Ok(())
}

/// Whether agents had been given rule `rule_id` on `path` before `before_ms`: the times it was
/// served for that file from its first serving on (0: never before that moment).
pub fn served_on_file(
    conn: &Connection,
    rule_id: &str,
    repo: &str,
    path: &str,
    before_ms: i64,
) -> rusqlite::Result<i64> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .prepare_cached(
            "SELECT count FROM served_files
             WHERE rule_id = ?1 AND repo = ?2 AND path = ?3 AND first_at < ?4",
        )?
        .query_row(params![rule_id, repo, path, before_ms], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Counts one more edit of `path` by `agent` today.
pub fn count_edit(
    conn: &Connection,
    now_ms: i64,
    agent: &str,
    repo: &str,
    path: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO edits_daily (day, repo, path, agent, count) VALUES (?1, ?2, ?3, ?4, 1)
         ON CONFLICT (day, repo, path, agent) DO UPDATE SET count = count + 1",
    )?
    .execute(params![day(now_ms), repo, path, agent])?;
    Ok(())
}

/// The counter rows from day `since` on (of one repo, or all).
pub fn served_rows(
    conn: &Connection,
    since: &str,
    repo: Option<&str>,
) -> rusqlite::Result<Vec<ServedRow>> {
    let mut st = conn.prepare(
        "SELECT rule_id, day, agent, repo, moment, count FROM served_daily
         WHERE day >= ?1 AND (?2 IS NULL OR repo = ?2)",
    )?;
    st.query_map(params![since, repo], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
        ))
    })?
    .collect()
}

/// The files agents edited from day `since` on (of one repo), with how often.
pub fn edited_paths(
    conn: &Connection,
    since: &str,
    repo: &str,
) -> rusqlite::Result<std::collections::BTreeMap<String, i64>> {
    let mut st = conn.prepare(
        "SELECT path, SUM(count) FROM edits_daily WHERE day >= ?1 AND repo = ?2 GROUP BY path",
    )?;
    st.query_map(params![since, repo], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}
