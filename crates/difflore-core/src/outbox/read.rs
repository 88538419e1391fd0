//! Reading the queue for people: depth per state, the oldest pending row, listing and finding
//! rows (`outbox status|list|show`, `difflore status`). Nothing here changes a row; the state
//! machine itself is in the parent module.

use super::{Outbox, State};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

/// A row as shown by `outbox list` / `outbox show`.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub seq: i64,
    pub id: String,
    pub kind: String,
    pub occurred_at: String,
    pub state: State,
    pub attempts: i64,
    pub bytes: i64,
    pub next_attempt_at: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
}

/// Queue depth per state (`outbox status`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub pending: i64,
    pub leased: i64,
    pub dead: i64,
    pub parked: i64,
}

/// Everything `outbox status` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub counts: Counts,
    pub dropped: i64,
    pub oldest_pending_age_s: Option<i64>,
}

impl Outbox<'_> {
    /// Queue depth per state, dropped count, age of the oldest pending row.
    pub fn summary(&self, now: i64) -> rusqlite::Result<Summary> {
        let mut counts = Counts::default();
        let mut st = self
            .conn
            .prepare_cached("SELECT state, COUNT(*) FROM outbox GROUP BY state")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (s, n) = row?;
            match State::parse(&s) {
                Some(State::Pending) => counts.pending = n,
                Some(State::Leased) => counts.leased = n,
                Some(State::Dead) => counts.dead = n,
                Some(State::Parked) => counts.parked = n,
                None => return Err(unknown_state(0, &s)),
            }
        }
        let dropped: i64 = self
            .conn
            .query_row(
                "SELECT value FROM counters WHERE name = 'dropped'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        let oldest: Option<i64> = self.conn.query_row(
            "SELECT MIN(created_at) FROM outbox WHERE state IN ('pending', 'leased')",
            [],
            |r| r.get(0),
        )?;
        Ok(Summary {
            counts,
            dropped,
            oldest_pending_age_s: oldest.map(|t| ((now - t) / 1000).max(0)),
        })
    }

    /// Rows in queue order, optionally of one state.
    pub fn list(&self, state: Option<State>, limit: usize) -> rusqlite::Result<Vec<Row>> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, event_id, kind, occurred_at, state, attempts, bytes, next_attempt_at,
                    lease_owner, lease_until, last_error, created_at, NULL
             FROM outbox WHERE (?1 IS NULL OR state = ?1) ORDER BY seq LIMIT ?2",
        )?;
        let rows = st.query_map(
            params![state.map(State::as_str), limit as i64],
            row_from_sql,
        )?;
        rows.collect()
    }

    /// The rows whose event id starts with `prefix` (at most `limit`), with payloads.
    pub fn find(&self, prefix: &str, limit: usize) -> rusqlite::Result<Vec<Row>> {
        let pattern = format!("{}%", like_escape(&prefix.to_ascii_lowercase()));
        let mut st = self.conn.prepare_cached(
            "SELECT seq, event_id, kind, occurred_at, state, attempts, bytes, next_attempt_at,
                    lease_owner, lease_until, last_error, created_at, payload
             FROM outbox WHERE event_id LIKE ?1 ESCAPE '\\' ORDER BY seq LIMIT ?2",
        )?;
        let rows = st.query_map(params![pattern, limit as i64], row_from_sql)?;
        rows.collect()
    }
}

/// A state this version does not know, read from column `col`: an error, never a guess.
pub(super) fn unknown_state(col: usize, s: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        col,
        rusqlite::types::Type::Text,
        format!("unknown outbox state {s:?}").into(),
    )
}

pub(super) fn like_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

fn row_from_sql(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let state: String = r.get(4)?;
    let payload: Option<String> = r.get(12)?;
    Ok(Row {
        seq: r.get(0)?,
        id: r.get(1)?,
        kind: r.get(2)?,
        occurred_at: r.get(3)?,
        state: State::parse(&state).ok_or_else(|| unknown_state(4, &state))?,
        attempts: r.get(5)?,
        bytes: r.get(6)?,
        next_attempt_at: r.get(7)?,
        lease_owner: r.get(8)?,
        lease_until: r.get(9)?,
        last_error: r.get(10)?,
        created_at: r.get(11)?,
        payload: payload.and_then(|p| serde_json::from_str(&p).ok()),
    })
}
