//! [`PgStorage`]: `difflore-server` on PostgreSQL (tokio-postgres behind a deadpool pool).
//!
//! Migrations are versioned in `difflore_schema` and applied at start under an advisory lock,
//! so several servers starting at once migrate once. Inserts are one `INSERT … SELECT FROM
//! UNNEST(…) ON CONFLICT DO NOTHING RETURNING id` per batch. The cursor is `(txid, seq)` of the
//! last row handed out, and pages only show rows whose writing transaction is older than the
//! oldest one still running (`pg_snapshot_xmin`): every row that can still appear later sorts
//! after every row already shown, so a late commit is never skipped.
#![forbid(unsafe_code)]

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use difflore_server_db::rulebook::Proposals;
use difflore_server_db::*;
use std::collections::{BTreeMap, HashSet};
use tokio_postgres::NoTls;

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
/// Advisory lock key for migrations ("difflore" in ASCII, truncated).
const MIGRATION_LOCK: i64 = 0x6469_6666_6c6f_7265;

/// The PostgreSQL backend. Cheap to clone.
#[derive(Clone)]
pub struct PgStorage {
    pool: Pool,
    url_redacted: String,
}

impl std::fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgStorage({})", self.url_redacted)
    }
}

/// The URL with its password replaced by `***` (for logs and `Debug`).
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((auth, host)) = rest.split_once('@')
        && let Some((user, _)) = auth.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_string()
}

impl PgStorage {
    /// Connects to `url` (`postgres://user:pass@host:port/db`), checks it, applies migrations.
    pub async fn connect(url: &str, max_connections: usize) -> Result<PgStorage, StorageError> {
        let redacted = redact_url(url);
        let pg: tokio_postgres::Config = url.parse().map_err(|e| {
            StorageError::unavailable(format!("bad PostgreSQL URL {redacted}: {e}"))
        })?;
        let mgr = Manager::from_config(
            pg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(max_connections.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(StorageError::unavailable)?;
        let s = PgStorage {
            pool,
            url_redacted: redacted,
        };
        s.migrate().await?;
        Ok(s)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StorageError> {
        self.pool.get().await.map_err(|e| {
            StorageError::unavailable(format!(
                "cannot reach PostgreSQL at {}: {e}",
                self.url_redacted
            ))
        })
    }

    async fn migrate(&self) -> Result<(), StorageError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(StorageError::unavailable)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(StorageError::unavailable)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS difflore_schema (
                 version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await
        .map_err(StorageError::unavailable)?;
        let v: i32 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM difflore_schema", &[])
            .await
            .map_err(StorageError::unavailable)?
            .get(0);
        if v as usize > MIGRATIONS.len() {
            return Err(StorageError::unavailable(format!(
                "database schema version {v} is newer than this difflore-server ({}); upgrade the server",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(v as usize) {
            tx.batch_execute(sql)
                .await
                .map_err(StorageError::unavailable)?;
            tx.execute(
                "INSERT INTO difflore_schema (version) VALUES ($1)",
                &[&(i as i32 + 1)],
            )
            .await
            .map_err(StorageError::unavailable)?;
        }
        tx.commit().await.map_err(StorageError::unavailable)
    }
}

fn token_from_row(r: &tokio_postgres::Row) -> TokenRecord {
    let role: String = r.get(3);
    TokenRecord {
        id: r.get(0),
        team: r.get(1),
        name: r.get(2),
        role: Role::parse(&role).unwrap_or(Role::Ingest),
        secret_sha256: r.get(4),
        created_at: r.get(5),
        revoked_at: r.get(6),
    }
}

const TOKEN_COLS: &str = "id, team, name, role, secret_sha256, created_at, revoked_at";

fn parse_cursor(c: &str) -> Result<(String, i64), StorageError> {
    let rest = c.strip_prefix('x').ok_or(StorageError::BadCursor)?;
    let (txid, seq) = rest.split_once(':').ok_or(StorageError::BadCursor)?;
    if txid.is_empty() || !txid.bytes().all(|b| b.is_ascii_digit()) {
        return Err(StorageError::BadCursor);
    }
    let seq: i64 = seq.parse().map_err(|_| StorageError::BadCursor)?;
    Ok((txid.to_string(), seq))
}

/// One `INSERT … SELECT FROM UNNEST … ORDER BY id`; returns the ids stored now.
/// Why a batch insert failed: the database's own error (retryable or about the data), or the
/// rulebook's.
enum BatchError {
    Pg(tokio_postgres::Error),
    Rulebook(StorageError),
}

impl From<tokio_postgres::Error> for BatchError {
    fn from(e: tokio_postgres::Error) -> Self {
        BatchError::Pg(e)
    }
}

/// Inserts a batch in one transaction, applying the effects of the events it newly inserted
/// (a replayed event has none); returns the ids inserted now.
async fn insert_batch(
    c: &mut deadpool_postgres::Object,
    team: &str,
    events: &[NewEvent],
) -> Result<HashSet<String>, BatchError> {
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    let at: Vec<&str> = events.iter().map(|e| e.occurred_at.as_str()).collect();
    let payloads: Vec<&str> = events.iter().map(|e| e.payload.as_str()).collect();
    let tx = c.transaction().await?;
    let st = tx
        .prepare_cached(
            "INSERT INTO events (team, id, kind, occurred_at, payload)
             SELECT $1, t.id::uuid, t.kind, t.occurred_at, t.payload::jsonb
             FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[])
                  AS t(id, kind, occurred_at, payload)
             ORDER BY t.id::uuid
             ON CONFLICT (team, id) DO NOTHING
             RETURNING id::text",
        )
        .await?;
    let rows = tx
        .query(&st, &[&team, &ids, &kinds, &at, &payloads])
        .await?;
    let set: HashSet<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
    // Effects only for events stored now: a replay changes nothing.
    let proposals = Proposals::new(events.iter().filter_map(|e| match &e.effect {
        Some(Effect::Propose(p)) if set.contains(&e.id) => Some(&**p),
        _ => None,
    }));
    rulebook::propose(&tx, team, &proposals)
        .await
        .map_err(BatchError::Rulebook)?;
    console::tally(&tx, team, events.iter().filter(|e| set.contains(&e.id)))
        .await
        .map_err(BatchError::Rulebook)?;
    console::count_served(&tx, team, events.iter().filter(|e| set.contains(&e.id)))
        .await
        .map_err(BatchError::Rulebook)?;
    let recurred = difflore_server_db::recurred(events.iter().filter(|e| set.contains(&e.id)));
    recurrence::record(&tx, team, &recurred)
        .await
        .map_err(BatchError::Rulebook)?;
    tx.commit().await?;
    Ok(set)
}

fn sql_state(e: &tokio_postgres::Error) -> Option<&str> {
    e.code().map(|c| c.code())
}

/// Deadlock detected or serialization failure: the same request succeeds when retried.
fn is_retryable(e: &tokio_postgres::Error) -> bool {
    matches!(sql_state(e), Some("40P01" | "40001"))
}

/// SQLSTATE class 22 (data exception, e.g. `\u0000` or a value jsonb cannot hold): about the
/// data sent, not the database's health.
fn is_data_error(e: &tokio_postgres::Error) -> bool {
    sql_state(e).is_some_and(|c| c.starts_with("22"))
}

fn db_message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |d| d.message().to_string())
}

impl Storage for PgStorage {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<(), StorageError> {
        let c = self.client().await?;
        c.query_one("SELECT 1", &[])
            .await
            .map_err(StorageError::unavailable)?;
        Ok(())
    }

    async fn insert_events(
        &self,
        team: &str,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Stored>, StorageError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = self.client().await?;
        // Rows are locked in id order by every request, so two requests carrying the same ids
        // in different orders cannot deadlock; a deadlock or serialization failure that still
        // happens (another writer's shape) is retried here, never answered as a 503.
        let mut attempt = 0;
        let inserted = loop {
            match insert_batch(&mut c, team, &events).await {
                Ok(set) => break Ok(set),
                Err(BatchError::Rulebook(e)) => return Err(e),
                Err(BatchError::Pg(e)) if is_retryable(&e) && attempt < 8 => {
                    attempt += 1;
                    let ms = fastrand::u64(1..=(10u64 << attempt.min(5)));
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                }
                Err(BatchError::Pg(e)) => break Err(e),
            }
        };
        match inserted {
            Ok(set) => Ok(events
                .iter()
                .map(|e| {
                    if set.contains(&e.id) {
                        Stored::Inserted
                    } else {
                        Stored::Existed
                    }
                })
                .collect()),
            // The data of some event was refused (e.g. a number jsonb cannot hold): store the
            // events one by one so only that event is refused.
            Err(e) if is_data_error(&e) => {
                let mut out = Vec::with_capacity(events.len());
                for ev in &events {
                    out.push(
                        match insert_batch(&mut c, team, std::slice::from_ref(ev)).await {
                            Ok(set) if set.contains(&ev.id) => Stored::Inserted,
                            Ok(_) => Stored::Existed,
                            Err(BatchError::Pg(e)) if is_data_error(&e) => {
                                Stored::Refused(db_message(&e))
                            }
                            Err(BatchError::Pg(e)) => return Err(StorageError::unavailable(e)),
                            Err(BatchError::Rulebook(e)) => return Err(e),
                        },
                    );
                }
                Ok(out)
            }
            Err(e) => Err(StorageError::unavailable(e)),
        }
    }

    async fn get_rule(
        &self,
        team: &str,
        id: &str,
    ) -> Result<Option<difflore_proto::rules::TeamRule>, StorageError> {
        let c = self.client().await?;
        rulebook::load(&c, team, id).await
    }

    async fn list_rules(
        &self,
        team: &str,
        q: RulesQuery,
    ) -> Result<difflore_proto::rules::RulesPage, StorageError> {
        let c = self.client().await?;
        rulebook::list(&c, team, &q).await
    }

    async fn decide(
        &self,
        team: &str,
        id: &str,
        d: difflore_proto::rules::Decision,
        actor: String,
    ) -> Result<difflore_proto::rules::TeamRule, DecisionError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(StorageError::unavailable)?;
        let r = rulebook::decide(&tx, team, id, &d, &actor).await?;
        tx.commit().await.map_err(StorageError::unavailable)?;
        Ok(r)
    }

    async fn list_events(
        &self,
        team: &str,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Page, StorageError> {
        let (txid, seq) = match after {
            None => ("0".to_string(), 0i64),
            Some(c) => parse_cursor(&c)?,
        };
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "SELECT seq, id::text, kind, occurred_at, payload::text,
                        to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                        txid::text AS txid_text
                 FROM events
                 WHERE team = $1
                   AND txid < pg_snapshot_xmin(pg_current_snapshot())
                   AND (txid, seq) > ($2::text::xid8, $3::bigint)
                 -- events.txid (xid8), not the text column of the select list.
                 ORDER BY events.txid, events.seq
                 LIMIT $4",
            )
            .await
            .map_err(StorageError::unavailable)?;
        let rows = c
            .query(&st, &[&team, &txid, &seq, &(limit as i64)])
            .await
            .map_err(StorageError::unavailable)?;
        let mut next = None;
        let events = rows
            .iter()
            .map(|r| {
                let s: i64 = r.get(0);
                let x: String = r.get(6);
                next = Some(format!("x{x}:{s}"));
                let payload: String = r.get(4);
                StoredEvent {
                    id: r.get(1),
                    kind: r.get(2),
                    occurred_at: r.get(3),
                    payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
                    received_at: r.get(5),
                }
            })
            .collect();
        Ok(Page {
            events,
            next_cursor: next,
        })
    }

    async fn stats(&self, team: &str) -> Result<Stats, StorageError> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT kind, COUNT(*) FROM events WHERE team = $1 GROUP BY kind",
                &[&team],
            )
            .await
            .map_err(StorageError::unavailable)?;
        let by_kind: BTreeMap<String, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let r = c
            .query_one(
                "SELECT to_char(MIN(received_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                        to_char(MAX(received_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')
                 FROM events WHERE team = $1",
                &[&team],
            )
            .await
            .map_err(StorageError::unavailable)?;
        Ok(Stats {
            events: by_kind.values().sum(),
            by_kind,
            first_received_at: r.get(0),
            last_received_at: r.get(1),
        })
    }

    async fn create_token(&self, record: TokenRecord) -> Result<TokenRecord, StorageError> {
        let c = self.client().await?;
        let r = c
            .execute(
                "INSERT INTO tokens (id, team, name, role, secret_sha256, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &record.id,
                    &record.team,
                    &record.name,
                    &record.role.as_str(),
                    &record.secret_sha256,
                    &record.created_at,
                ],
            )
            .await;
        match r {
            Ok(_) => Ok(record),
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
                Err(StorageError::TokenExists {
                    team: record.team,
                    name: record.name,
                })
            }
            Err(e) => Err(StorageError::unavailable(e)),
        }
    }

    async fn active_token(&self, id: &str) -> Result<Option<TokenRecord>, StorageError> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLS} FROM tokens WHERE id = $1 AND revoked_at IS NULL"
            ))
            .await
            .map_err(StorageError::unavailable)?;
        let row = c
            .query_opt(&st, &[&id])
            .await
            .map_err(StorageError::unavailable)?;
        Ok(row.as_ref().map(token_from_row))
    }

    async fn list_tokens(&self, team: Option<String>) -> Result<Vec<TokenRecord>, StorageError> {
        let c = self.client().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {TOKEN_COLS} FROM tokens WHERE ($1::text IS NULL OR team = $1)
                     ORDER BY created_at, id"
                ),
                &[&team],
            )
            .await
            .map_err(StorageError::unavailable)?;
        Ok(rows.iter().map(token_from_row).collect())
    }

    async fn revoke_token(
        &self,
        id_or_name: &str,
        team: Option<String>,
    ) -> Result<usize, StorageError> {
        let c = self.client().await?;
        let n = c
            .execute(
                "UPDATE tokens SET revoked_at = $3 WHERE revoked_at IS NULL
                 AND (id = $1 OR ($2::text IS NOT NULL AND team = $2 AND name = $1))",
                &[&id_or_name, &team, &now_rfc3339()],
            )
            .await
            .map_err(StorageError::unavailable)?;
        console::end_revoked_sessions(&c).await?;
        Ok(n as usize)
    }

    async fn create_session(&self, s: SessionRecord) -> Result<(), StorageError> {
        console::create_session(&self.client().await?, &s).await
    }

    async fn session(&self, id: &str, now: i64) -> Result<Option<SessionRecord>, StorageError> {
        console::session(&self.client().await?, id, now).await
    }

    async fn delete_session(&self, id: &str, now: i64) -> Result<(), StorageError> {
        console::delete_session(&self.client().await?, id, now).await
    }

    async fn rule_audit(&self, team: &str, id: &str) -> Result<Vec<AuditEntry>, StorageError> {
        console::rule_audit(&self.client().await?, team, id).await
    }

    async fn served(
        &self,
        team: &str,
        since: &str,
        rule_id: Option<String>,
    ) -> Result<Vec<(ServedKey, i64)>, StorageError> {
        console::served(&self.client().await?, team, since, rule_id.as_deref()).await
    }

    async fn activity(&self, team: &str, since: &str) -> Result<Vec<ActivityRow>, StorageError> {
        console::activity(&self.client().await?, team, since).await
    }

    async fn recurrence_dates(
        &self,
        team: &str,
        rule_id: Option<String>,
    ) -> Result<Vec<RuleDates>, StorageError> {
        recurrence::dates(&self.client().await?, team, rule_id.as_deref()).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://app:s3cret@db:5432/difflore"),
            "postgres://app:***@db:5432/difflore"
        );
        assert_eq!(super::redact_url("postgres://db/x"), "postgres://db/x");
    }

    #[test]
    fn cursors_are_checked() {
        assert_eq!(super::parse_cursor("x123:45").unwrap(), ("123".into(), 45));
        for bad in ["", "x", "x1", "xa:1", "123:4", "x1:b", "x-1:2"] {
            assert!(super::parse_cursor(bad).is_err(), "{bad}");
        }
    }
}
