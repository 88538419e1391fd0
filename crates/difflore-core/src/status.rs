//! `difflore status`: one read-only snapshot of the local installation — home, database size
//! and schema version (and any mismatch), queue depth per state, oldest pending age, dropped
//! events, spooled events, events in the hook's inbox, and the last error seen. Later parts (daemon, rules) add their own sections.

use crate::home::Home;
use crate::outbox::{Outbox, Summary};
use crate::{clock, logfile, store};
use rusqlite::OptionalExtension;
use serde::Serialize;

/// The snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub schema_version: u32,
    pub home: String,
    pub database: DbStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbox: Option<Summary>,
    pub capture: CaptureStatus,
    /// Events waiting in the hook's spool (the database did not take them in time).
    pub spooled: usize,
    /// Events the hook appended to its inbox (the file's and the store's table), not yet folded
    /// into the outbox.
    pub inbox: i64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DbStatus {
    pub path: String,
    pub exists: bool,
    /// Database plus WAL, in bytes.
    pub size_bytes: u64,
    pub schema_version: Option<i64>,
    pub expected_schema_version: i64,
    /// A human sentence when the versions differ or the database cannot be read.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaptureStatus {
    /// `false` when `DIFFLORE_CAPTURE` holds a falsy value.
    pub env_switch_on: bool,
    pub logged_in: bool,
}

/// Gathers the snapshot; never writes.
pub fn gather(home: &Home) -> Status {
    let db_path = home.db_path();
    let exists = db_path.exists();
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = db_path.clone().into_os_string();
    wal.push("-wal");
    let mut db = DbStatus {
        path: db_path.display().to_string(),
        exists,
        size_bytes: size(&db_path) + size(std::path::Path::new(&wal)),
        schema_version: None,
        expected_schema_version: store::SCHEMA_VERSION,
        problem: None,
    };
    let mut outbox = None;
    let mut last_outbox_error = None;
    // Events of steps that served rules, in the store's own inbox table.
    let mut store_inbox = 0;
    if !exists {
        db.problem = Some("not initialised: run `difflore init`".into());
    } else {
        match store::open_read_only(home) {
            Err(e) => db.problem = Some(e.to_string()),
            Ok(conn) => match store::schema_version(&conn) {
                Err(e) => {
                    db.problem = Some(store::StoreError::from_sqlite(&db_path, e).to_string())
                }
                Ok(v) => {
                    db.schema_version = Some(v);
                    if v != store::SCHEMA_VERSION {
                        db.problem = Some(if v > store::SCHEMA_VERSION {
                            format!(
                                "schema version {v} is newer than this difflore ({}); upgrade difflore — the hook captures nothing meanwhile",
                                store::SCHEMA_VERSION
                            )
                        } else {
                            format!(
                                "schema version {v} is older than this difflore ({}); run `difflore init` to migrate — the hook captures nothing meanwhile",
                                store::SCHEMA_VERSION
                            )
                        });
                    } else {
                        store_inbox = crate::inbox::held(&conn).unwrap_or(0);
                        match Outbox::new(&conn).summary(clock::now_ms()) {
                            Ok(s) => outbox = Some(s),
                            Err(e) => db.problem = Some(e.to_string()),
                        }
                        last_outbox_error = conn
                            .query_row(
                                "SELECT last_error FROM outbox WHERE last_error IS NOT NULL ORDER BY seq DESC LIMIT 1",
                                [],
                                |r| r.get::<_, String>(0),
                            )
                            .optional()
                            .ok()
                            .flatten();
                    }
                }
            },
        }
    }
    let last_hook_error = logfile::tail(home, "hook.log", 50)
        .into_iter()
        .rev()
        .find(|l| l.contains(" ERROR "));
    Status {
        schema_version: 1,
        home: home.root().display().to_string(),
        database: db,
        outbox,
        capture: CaptureStatus {
            env_switch_on: crate::config::switch_on("DIFFLORE_CAPTURE"),
            logged_in: home.token_path().exists(),
        },
        spooled: crate::spool::size(home).files,
        inbox: crate::inbox::waiting(home) + store_inbox,
        last_error: last_hook_error
            .map(|l| format!("hook: {l}"))
            .or(last_outbox_error),
    }
}
