//! [`SqliteStorage`]: `difflore-server`'s embedded default. One SQLite file (`server.db`), WAL,
//! `synchronous=FULL` — the client deletes an event once the server says `accepted`, so an
//! acknowledged batch must survive a power cut. Versioned migrations on `PRAGMA user_version`,
//! applied at start.
//!
//! SQLite runs one writer at a time, so rows become visible in the order of their `seq`: the
//! cursor is simply the last `seq` handed out and can never skip a late commit.
#![forbid(unsafe_code)]

use difflore_server_db::rulebook::Proposals;
use difflore_server_db::*;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Arc, Mutex};

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_maintainer.sql"),
    include_str!("migrations/0003_rulebook.sql"),
    include_str!("migrations/0004_console.sql"),
    include_str!("migrations/0005_outcomes.sql"),
    include_str!("migrations/0006_recurrences.sql"),
];

mod console;
mod recurrence;
mod rulebook;

/// The SQLite backend. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStorage {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStorage")
    }
}

impl SqliteStorage {
    /// Opens (creating) the database at `path` and applies pending migrations.
    pub fn open(path: &Path) -> Result<SqliteStorage, StorageError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StorageError::unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(path).map_err(|e| {
            StorageError::unavailable(format!("cannot open {}: {e}", path.display()))
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(StorageError::unavailable)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(StorageError::unavailable)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(StorageError::unavailable)?;
        migrate(&conn)?;
        Ok(SqliteStorage {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = conn
                .lock()
                .map_err(|_| StorageError::unavailable("connection poisoned"))?;
            f(&mut c)
        })
        .await
        .map_err(StorageError::unavailable)?
    }
}

fn migrate(conn: &Connection) -> Result<(), StorageError> {
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(StorageError::unavailable)?;
    if v > MIGRATIONS.len() as i64 {
        return Err(StorageError::unavailable(format!(
            "database schema version {v} is newer than this difflore-server ({}); upgrade the server",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(v as usize) {
        let tx = conn
            .unchecked_transaction()
            .map_err(StorageError::unavailable)?;
        tx.execute_batch(sql).map_err(StorageError::unavailable)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)
            .map_err(StorageError::unavailable)?;
        tx.commit().map_err(StorageError::unavailable)?;
    }
    Ok(())
}

fn token_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRecord> {
    let role: String = r.get(3)?;
    Ok(TokenRecord {
        id: r.get(0)?,
        team: r.get(1)?,
        name: r.get(2)?,
        role: Role::parse(&role).unwrap_or(Role::Ingest),
        secret_sha256: r.get(4)?,
        created_at: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

const TOKEN_COLS: &str = "id, team, name, role, secret_sha256, created_at, revoked_at";

impl Storage for SqliteStorage {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.with(|c| {
            c.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(StorageError::unavailable)
        })
        .await
    }

    async fn insert_events(
        &self,
        team: &str,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Stored>, StorageError> {
        let team = team.to_string();
        self.with(move |c| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(StorageError::unavailable)?;
            let received = now_rfc3339();
            let mut out = Vec::with_capacity(events.len());
            let mut proposals = Vec::new();
            let mut inserted = Vec::new();
            {
                let mut st = tx
                    .prepare_cached(
                        "INSERT INTO events (team, id, kind, occurred_at, payload, received_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (team, id) DO NOTHING",
                    )
                    .map_err(StorageError::unavailable)?;
                for e in &events {
                    let r = st.execute(params![
                        team,
                        e.id,
                        e.kind,
                        e.occurred_at,
                        e.payload,
                        received
                    ]);
                    out.push(match r {
                        Ok(1) => {
                            // Effects only for an event stored now: a replay changes nothing.
                            if let Some(Effect::Propose(p)) = &e.effect {
                                proposals.push(&**p);
                            }
                            inserted.push(e);
                            Stored::Inserted
                        }
                        Ok(_) => Stored::Existed,
                        // A constraint or data refusal concerns this row only.
                        Err(rusqlite::Error::SqliteFailure(f, msg))
                            if matches!(
                                f.code,
                                rusqlite::ErrorCode::ConstraintViolation
                                    | rusqlite::ErrorCode::TooBig
                                    | rusqlite::ErrorCode::TypeMismatch
                            ) =>
                        {
                            Stored::Refused(msg.unwrap_or_else(|| f.to_string()))
                        }
                        Err(e) => return Err(StorageError::unavailable(e)),
                    });
                }
            }
            rulebook::propose(&tx, &team, &Proposals::new(proposals))?;
            console::tally(&tx, &team, inserted.iter().copied())?;
            recurrence::record(&tx, &team, &recurred(inserted.iter().copied()))?;
            console::count_served(&tx, &team, inserted.into_iter())?;
            tx.commit().map_err(StorageError::unavailable)?;
            Ok(out)
        })
        .await
    }

    async fn list_events(
        &self,
        team: &str,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Page, StorageError> {
        let after: i64 = match after {
            None => 0,
            Some(c) => c
                .strip_prefix("s")
                .and_then(|n| n.parse().ok())
                .ok_or(StorageError::BadCursor)?,
        };
        let team = team.to_string();
        self.with(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT seq, id, kind, occurred_at, payload, received_at FROM events
                     WHERE team = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                )
                .map_err(StorageError::unavailable)?;
            let mut last = None;
            let events = st
                .query_map(params![team, after, limit as i64], |r| {
                    let payload: String = r.get(4)?;
                    Ok((
                        r.get::<_, i64>(0)?,
                        StoredEvent {
                            id: r.get(1)?,
                            kind: r.get(2)?,
                            occurred_at: r.get(3)?,
                            payload: serde_json::from_str(&payload)
                                .unwrap_or(serde_json::Value::Null),
                            received_at: r.get(5)?,
                        },
                    ))
                })
                .map_err(StorageError::unavailable)?
                .map(|r| {
                    r.map(|(seq, e)| {
                        last = Some(seq);
                        e
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(StorageError::unavailable)?;
            Ok(Page {
                events,
                next_cursor: last.map(|s| format!("s{s}")),
            })
        })
        .await
    }

    async fn get_rule(
        &self,
        team: &str,
        id: &str,
    ) -> Result<Option<difflore_proto::rules::TeamRule>, StorageError> {
        let (team, id) = (team.to_string(), id.to_string());
        self.with(move |c| rulebook::load(c, &team, &id)).await
    }

    async fn list_rules(
        &self,
        team: &str,
        q: RulesQuery,
    ) -> Result<difflore_proto::rules::RulesPage, StorageError> {
        let team = team.to_string();
        self.with(move |c| rulebook::list(c, &team, &q)).await
    }

    async fn decide(
        &self,
        team: &str,
        id: &str,
        d: difflore_proto::rules::Decision,
        actor: String,
    ) -> Result<difflore_proto::rules::TeamRule, DecisionError> {
        let (team, id) = (team.to_string(), id.to_string());
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = conn
                .lock()
                .map_err(|_| StorageError::unavailable("connection poisoned"))?;
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(StorageError::unavailable)?;
            let r = rulebook::decide(&tx, &team, &id, &d, &actor)?;
            tx.commit().map_err(StorageError::unavailable)?;
            Ok(r)
        })
        .await
        .map_err(|e| DecisionError::Storage(StorageError::unavailable(e)))?
    }

    async fn stats(&self, team: &str) -> Result<Stats, StorageError> {
        let team = team.to_string();
        self.with(move |c| {
            let mut by_kind = std::collections::BTreeMap::new();
            let mut st = c
                .prepare_cached("SELECT kind, COUNT(*) FROM events WHERE team = ?1 GROUP BY kind")
                .map_err(StorageError::unavailable)?;
            let rows = st
                .query_map([&team], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
                .map_err(StorageError::unavailable)?;
            for r in rows {
                let (k, n) = r.map_err(StorageError::unavailable)?;
                by_kind.insert(k, n);
            }
            let (first, last): (Option<String>, Option<String>) = c
                .query_row(
                    "SELECT MIN(received_at), MAX(received_at) FROM events WHERE team = ?1",
                    [&team],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(StorageError::unavailable)?;
            Ok(Stats {
                events: by_kind.values().sum(),
                by_kind,
                first_received_at: first,
                last_received_at: last,
            })
        })
        .await
    }

    async fn create_token(&self, record: TokenRecord) -> Result<TokenRecord, StorageError> {
        self.with(move |c| {
            let r = c.execute(
                "INSERT INTO tokens (id, team, name, role, secret_sha256, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    record.id,
                    record.team,
                    record.name,
                    record.role.as_str(),
                    record.secret_sha256,
                    record.created_at
                ],
            );
            match r {
                Ok(_) => Ok(record),
                Err(rusqlite::Error::SqliteFailure(f, _))
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Err(StorageError::TokenExists {
                        team: record.team,
                        name: record.name,
                    })
                }
                Err(e) => Err(StorageError::unavailable(e)),
            }
        })
        .await
    }

    async fn active_token(&self, id: &str) -> Result<Option<TokenRecord>, StorageError> {
        let id = id.to_string();
        self.with(move |c| {
            c.query_row(
                &format!("SELECT {TOKEN_COLS} FROM tokens WHERE id = ?1 AND revoked_at IS NULL"),
                [&id],
                token_from_row,
            )
            .optional()
            .map_err(StorageError::unavailable)
        })
        .await
    }

    async fn list_tokens(&self, team: Option<String>) -> Result<Vec<TokenRecord>, StorageError> {
        self.with(move |c| {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {TOKEN_COLS} FROM tokens WHERE (?1 IS NULL OR team = ?1) ORDER BY created_at, id"
                ))
                .map_err(StorageError::unavailable)?;
            st.query_map([&team], token_from_row)
                .map_err(StorageError::unavailable)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(StorageError::unavailable)
        })
        .await
    }

    async fn revoke_token(
        &self,
        id_or_name: &str,
        team: Option<String>,
    ) -> Result<usize, StorageError> {
        let key = id_or_name.to_string();
        self.with(move |c| {
            let n = c
                .execute(
                    "UPDATE tokens SET revoked_at = ?3 WHERE revoked_at IS NULL
                     AND (id = ?1 OR (?2 IS NOT NULL AND team = ?2 AND name = ?1))",
                    params![key, team, now_rfc3339()],
                )
                .map_err(StorageError::unavailable)?;
            console::end_revoked_sessions(c)?;
            Ok(n)
        })
        .await
    }

    async fn create_session(&self, s: SessionRecord) -> Result<(), StorageError> {
        self.with(move |c| console::create_session(c, &s)).await
    }

    async fn session(&self, id: &str, now: i64) -> Result<Option<SessionRecord>, StorageError> {
        let id = id.to_string();
        self.with(move |c| console::session(c, &id, now)).await
    }

    async fn delete_session(&self, id: &str, now: i64) -> Result<(), StorageError> {
        let id = id.to_string();
        self.with(move |c| console::delete_session(c, &id, now))
            .await
    }

    async fn rule_audit(&self, team: &str, id: &str) -> Result<Vec<AuditEntry>, StorageError> {
        let (team, id) = (team.to_string(), id.to_string());
        self.with(move |c| console::rule_audit(c, &team, &id)).await
    }

    async fn served(
        &self,
        team: &str,
        since: &str,
        rule_id: Option<String>,
    ) -> Result<Vec<(ServedKey, i64)>, StorageError> {
        let (team, since) = (team.to_string(), since.to_string());
        self.with(move |c| console::served(c, &team, &since, rule_id.as_deref()))
            .await
    }

    async fn recurrence_dates(
        &self,
        team: &str,
        rule_id: Option<String>,
    ) -> Result<Vec<RuleDates>, StorageError> {
        let team = team.to_string();
        self.with(move |c| recurrence::dates(c, &team, rule_id.as_deref()))
            .await
    }

    async fn activity(&self, team: &str, since: &str) -> Result<Vec<ActivityRow>, StorageError> {
        let (team, since) = (team.to_string(), since.to_string());
        self.with(move |c| console::activity(c, &team, &since))
            .await
    }
}
