//! The daemon's shared state in `difflore.db` (`daemon_state`, one key per value): what the
//! daemon and `sync now` coordinate through, and what `daemon status` / `difflore status` read.

use rusqlite::{Connection, OptionalExtension, params};

pub const LAST_DRAIN_AT: &str = "last_drain_at";
pub const DELIVERED: &str = "delivered_total";
pub const FAILED: &str = "failed_total";
pub const LAST_ERROR: &str = "last_error";
pub const STATUS: &str = "status";
pub const SERVER: &str = "server";
pub const DRAIN_REQUESTED_AT: &str = "drain_requested_at";
pub const PARKED_FINGERPRINT: &str = "parked_credentials";
pub const CONFIG_ERRORS: &str = "config_error_streak";
pub const BREAKER: &str = "breaker";
pub const BREAKER_FAILURES: &str = "breaker_failures";
pub const BREAKER_OPENED_AT: &str = "breaker_opened_at";
pub const BREAKER_PROBE_UNTIL: &str = "breaker_probe_until";
/// The team version the local rule mirror has reached (pulls ask for changes after it).
pub const RULES_VERSION: &str = "rules_version";
/// When the daemon last pulled the team's rules (Unix ms).
pub const LAST_PULL_AT: &str = "last_pull_at";
/// When the server stopped answering (Unix ms); cleared by the next answer.
pub const UNREACHABLE_SINCE: &str = "unreachable_since";

/// What the daemon says it is doing (`daemon_state.status`), written by the daemon and the
/// drainers, shown by `daemon status` / `difflore status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    Running,
    Stopped,
    WaitingForLogin,
    CredentialsUnreadable(String),
    CredentialsRejected(String),
    /// The whole queue is parked until the credentials change.
    Parked(String),
}

impl std::fmt::Display for Activity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Activity::Running => f.write_str("running"),
            Activity::Stopped => f.write_str("stopped"),
            Activity::WaitingForLogin => f.write_str("waiting for login"),
            Activity::CredentialsUnreadable(e) => write!(f, "credentials unreadable: {e}"),
            Activity::CredentialsRejected(e) => write!(f, "cannot use the credentials: {e}"),
            Activity::Parked(why) => write!(f, "parked: {why}"),
        }
    }
}

impl std::str::FromStr for Activity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let tail = |p: &str| s.strip_prefix(p).map(str::to_string);
        Ok(match s {
            "running" => Activity::Running,
            "stopped" => Activity::Stopped,
            "waiting for login" => Activity::WaitingForLogin,
            _ => {
                if let Some(e) = tail("credentials unreadable: ") {
                    Activity::CredentialsUnreadable(e)
                } else if let Some(e) = tail("cannot use the credentials: ") {
                    Activity::CredentialsRejected(e)
                } else if let Some(why) = tail("parked: ") {
                    Activity::Parked(why)
                } else {
                    return Err(format!("unknown daemon activity {s:?} in daemon_state"));
                }
            }
        })
    }
}

pub fn set_activity(conn: &Connection, a: &Activity) -> rusqlite::Result<()> {
    set(conn, STATUS, &a.to_string())
}

/// The recorded activity; a text this version does not know is an error.
pub fn activity(conn: &Connection) -> rusqlite::Result<Option<Activity>> {
    get(conn, STATUS)?
        .map(|s| {
            s.parse().map_err(|e: String| {
                rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
            })
        })
        .transpose()
}

pub fn get(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT value FROM daemon_state WHERE key = ?1",
        [key],
        |r| r.get(0),
    )
    .optional()
}

pub fn get_i64(conn: &Connection, key: &str) -> rusqlite::Result<Option<i64>> {
    Ok(get(conn, key)?.and_then(|v| v.parse().ok()))
}

pub fn set(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO daemon_state (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, key: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM daemon_state WHERE key = ?1", [key])?;
    Ok(())
}

pub fn add(conn: &Connection, key: &str, n: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO daemon_state (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + ?2",
        params![key, n],
    )?;
    Ok(())
}
