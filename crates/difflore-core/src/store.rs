//! The local SQLite store (`difflore.db`): opening it for the CLI (which migrates first) and for
//! the hook (which never migrates and only checks `PRAGMA user_version`), the versioned
//! migrations, and the translation of SQLite failures into errors a person can act on.

use crate::home::{self, Home};
use crate::logfile;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

/// Migrations in order; schema version N is reached after applying `MIGRATIONS[..N]`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_outbox.sql"),
    include_str!("migrations/0002_reviews.sql"),
    include_str!("migrations/0003_rules.sql"),
    include_str!("migrations/0004_rule_index.sql"),
    include_str!("migrations/0005_serving.sql"),
    include_str!("migrations/0006_team_mirror.sql"),
    include_str!("migrations/0007_evidence_pulled.sql"),
    include_str!("migrations/0008_outcomes.sql"),
    include_str!("migrations/0009_recurrences.sql"),
    include_str!("migrations/0010_recurrence_up.sql"),
    include_str!("migrations/0011_store_inbox.sql"),
];

/// The schema version this binary reads and writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Why the store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the database {path} has schema version {found}, newer than this difflore understands ({SCHEMA_VERSION}); upgrade difflore"
    )]
    TooNew { path: PathBuf, found: i64 },
    #[error(
        "the database {path} has schema version {found}, but this difflore needs {SCHEMA_VERSION}; run any difflore command (e.g. `difflore init`) to migrate it"
    )]
    TooOld { path: PathBuf, found: i64 },
    #[error("difflore is not initialised at {0}; run `difflore init`")]
    Missing(PathBuf),
    #[error(
        "{path} is not a difflore database or is corrupt ({detail}); move it aside and run `difflore init`"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{path} is read-only ({detail}); check the permissions of the file and of its directory"
    )]
    ReadOnly { path: PathBuf, detail: String },
    #[error("{path} is locked by another process and stayed locked; try again")]
    Locked { path: PathBuf },
    #[error("the disk holding {path} is full ({detail})")]
    Full { path: PathBuf, detail: String },
    #[error("cannot create {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database error on {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// Classifies a rusqlite error raised while working on `path`.
    pub fn from_sqlite(path: &Path, e: rusqlite::Error) -> StoreError {
        use rusqlite::ErrorCode as C;
        let path = path.to_path_buf();
        if let rusqlite::Error::SqliteFailure(f, ref msg) = e {
            let detail = msg.clone().unwrap_or_else(|| f.to_string());
            match f.code {
                C::NotADatabase | C::DatabaseCorrupt => {
                    return StoreError::Corrupt { path, detail };
                }
                C::ReadOnly | C::CannotOpen if is_read_only(&detail) => {
                    return StoreError::ReadOnly { path, detail };
                }
                C::ReadOnly => return StoreError::ReadOnly { path, detail },
                C::DatabaseBusy | C::DatabaseLocked => return StoreError::Locked { path },
                C::DiskFull => return StoreError::Full { path, detail },
                _ => {}
            }
        }
        StoreError::Sqlite { path, source: e }
    }
}

fn is_read_only(detail: &str) -> bool {
    detail.contains("readonly") || detail.contains("read-only") || detail.contains("permission")
}

/// A write transaction: SQLite's write lock is taken at `BEGIN IMMEDIATE`, waiting out the busy
/// timeout. A deferred transaction that reads first and writes later cannot wait: when another
/// connection committed in between, its upgrade fails at once with "database is locked". Every
/// read-then-write transaction of the workspace starts here.
pub fn write_tx(conn: &Connection) -> rusqlite::Result<Transaction<'_>> {
    Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
}

/// A write transaction, unless the caller already holds one (then `None`: the caller's commit
/// covers these writes too).
pub fn write_tx_unless_open(conn: &Connection) -> rusqlite::Result<Option<Transaction<'_>>> {
    if conn.is_autocommit() {
        write_tx(conn).map(Some)
    } else {
        Ok(None)
    }
}

/// One read transaction for a run of reads (none when one is open already): outside one,
/// SQLite takes its locks and checks the journal afresh for every statement.
pub fn read_tx(conn: &Connection) -> rusqlite::Result<Option<Transaction<'_>>> {
    if conn.is_autocommit() {
        Transaction::new_unchecked(conn, TransactionBehavior::Deferred).map(Some)
    } else {
        Ok(None)
    }
}

/// How long a writer waits on a lock held by another connection.
pub const CLI_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The hook's bound on waiting for the lock (DESIGN §9).
pub const HOOK_BUSY_TIMEOUT: Duration = Duration::from_millis(500);

/// Frames in the WAL past which the hook checkpoints it after its commit (see
/// [`hook_trim_wal`]): 64 frames of 4 KiB pages, about nine hooks' events.
pub const HOOK_WAL_TRIM_FRAMES: i32 = 64;

/// Opens (creating if needed) the store for a command that writes: creates the home, sets WAL
/// once, applies pending migrations, and refuses a database newer than this binary.
pub fn open_for_write(home: &Home) -> Result<Connection, StoreError> {
    let path = home.db_path();
    home.ensure_dirs().map_err(|source| StoreError::Io {
        path: home.root().to_path_buf(),
        source,
    })?;
    let existed = path.exists();
    let conn = Connection::open(&path).map_err(|e| StoreError::from_sqlite(&path, e))?;
    if !existed {
        let _ = home::make_private(&path);
    }
    let err = |e| StoreError::from_sqlite(&path, e);
    conn.busy_timeout(CLI_BUSY_TIMEOUT).map_err(err)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(err)?;
    // Statement journals (every statement of a big transaction that fires the rule index's
    // triggers keeps one) in memory, not in temporary files: a pull of 10 000 rules ~25 % faster.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(err)?;
    migrate(&conn, &path)?;
    after_open_for_write(home, &conn);
    Ok(conn)
}

/// Keeps the file copy of the event-id key current, creates the hook's inbox and folds the
/// inbox and the spool into the outbox. None of it may fail the command: a problem is logged
/// to `logs/spool.log`.
fn after_open_for_write(home: &Home, conn: &Connection) {
    if let Ok(Some(key)) = setting(conn, "event_id_key")
        && let Err(e) = crate::spool::write_key(home, &key)
    {
        logfile::append(
            home,
            SPOOL_LOG,
            "WARN",
            &format!("cannot write the key copy: {e}"),
        );
    }
    // Created after the key copy: a hook that finds the inbox can name its event.
    if let Err(e) = crate::inbox::ensure(home) {
        logfile::append(
            home,
            SPOOL_LOG,
            "WARN",
            &format!("cannot create the hook's inbox (the hook writes to the store instead): {e}"),
        );
    }
    fold_hook_events(home, conn);
}

/// The log of spool and inbox folding.
pub const SPOOL_LOG: &str = "spool.log";

/// Folds what the hook left outside the outbox — the store's inbox table
/// ([`crate::inbox::fold_store`]), the inbox file ([`crate::inbox::fold`]) and its spool
/// ([`crate::spool::fold`]) — into the outbox; logs what it did.
pub fn fold_hook_events(home: &Home, conn: &Connection) {
    let cap = crate::config::Config::load(&home.config_path())
        .map(|c| c.capture.queue_cap)
        .unwrap_or(crate::outbox::DEFAULT_CAP);
    let policy = crate::outbox::EnqueuePolicy::for_home(home, cap);
    let now = crate::clock::now_ms();
    let served = crate::inbox::fold_store(conn, policy, now)
        .map_err(|e| StoreError::from_sqlite(&home.db_path(), e).to_string());
    log_fold(
        home,
        "the store's inbox",
        "set aside in inbox_set_aside",
        false,
        served,
    );
    let inbox = crate::inbox::fold(home, conn, policy, now).map_err(|e| e.to_string());
    // Events the hook appended to its inbox are expected there: only the unusual is logged.
    log_fold(
        home,
        "the hook's inbox",
        "set aside in inbox.db",
        false,
        inbox,
    );
    let spool = crate::spool::fold(home, conn, policy, now).map_err(|e| e.to_string());
    log_fold(home, "the spool", "set aside in spool/bad", true, spool);
}

/// Logs a fold that did something (`queued_too`: also one that only queued events).
fn log_fold(
    home: &Home,
    what: &str,
    aside: &str,
    queued_too: bool,
    r: Result<crate::spool::Folded, String>,
) {
    match r {
        Ok(f) if f == crate::spool::Folded::default() => {}
        Ok(f) if !queued_too && f.duplicates == 0 && f.dropped == 0 && f.unreadable == 0 => {}
        Ok(f) => logfile::append(
            home,
            SPOOL_LOG,
            "INFO",
            &format!(
                "folded {what}: {} queued, {} already stored, {} dropped at the cap, {} unreadable ({aside})",
                f.queued, f.duplicates, f.dropped, f.unreadable
            ),
        ),
        Err(e) => logfile::append(home, SPOOL_LOG, "WARN", &format!("cannot fold {what}: {e}")),
    }
}

/// Opens an existing store read-only (status, list, show). Never creates, never migrates; a
/// version mismatch is reported by [`schema_version`] to the caller.
pub fn open_read_only(home: &Home) -> Result<Connection, StoreError> {
    let path = home.db_path();
    if !path.exists() {
        return Err(StoreError::Missing(home.root().to_path_buf()));
    }
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::from_sqlite(&path, e))?;
    conn.busy_timeout(CLI_BUSY_TIMEOUT)
        .map_err(|e| StoreError::from_sqlite(&path, e))?;
    Ok(conn)
}

/// Opens the store on the hook's hot path: no create, no migration, short busy timeout,
/// `synchronous=NORMAL`, no checkpoint on close; the schema version must match exactly.
pub fn open_for_hook(home: &Home) -> Result<Connection, StoreError> {
    open_existing_for_hook(home, &home.db_path(), SCHEMA_VERSION)
}

/// Opens the existing SQLite file `path` of `home` as the hook does (see [`open_for_hook`]),
/// refusing a `user_version` other than `expected`; the hook's inbox opens the same way.
pub(crate) fn open_existing_for_hook(
    home: &Home,
    path: &Path,
    expected: i64,
) -> Result<Connection, StoreError> {
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::CannotOpen && !path.exists() =>
        {
            StoreError::Missing(home.root().to_path_buf())
        }
        e => StoreError::from_sqlite(path, e),
    })?;
    let err = |e| StoreError::from_sqlite(path, e);
    conn.busy_timeout(HOOK_BUSY_TIMEOUT).map_err(err)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
        .map_err(err)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(err)?;
    let found = schema_version(&conn).map_err(err)?;
    check_version(path, found, expected)?;
    watch_wal(&mut conn).map_err(err)?;
    Ok(conn)
}

/// Counts the WAL's frames after each commit of `conn` in [`HOOK_WAL_FRAMES`] (for
/// [`hook_trim_wal`]). Replaces SQLite's automatic checkpoint (also a WAL callback): the hook
/// checkpoints itself.
fn watch_wal(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.wal_hook(Some(|_: &mut rusqlite::hooks::Wal, frames: i32| {
        HOOK_WAL_FRAMES.store(frames, Ordering::Relaxed);
        Ok(())
    }))
}

/// Frames in the WAL after this process's last commit on a hook connection (SQLite's WAL
/// callback sets it; see [`open_for_hook`]). One per process: the hook has one connection.
static HOOK_WAL_FRAMES: AtomicI32 = AtomicI32::new(0);

/// Keeps the WAL short when nobody else keeps the database open.
///
/// A process that opens the database while no other connection has it open rebuilds the WAL
/// index by reading the WAL's frames (~0.4 ms per MiB on a small VM), and — since the index,
/// with its record of what was already checkpointed, died with the last connection — never
/// starts the WAL again from its beginning. With only short-lived hook processes (no daemon
/// running) the WAL would grow forever and every hook would get slower. So a hook whose commit
/// left more than `max_frames` frames ([`HOOK_WAL_TRIM_FRAMES`] for the store) runs `wal_checkpoint(RESTART)` without
/// waiting (if another connection is busy, it skips: that connection's owner, the daemon,
/// checkpoints) and then writes one small row, which starts the WAL again at its first frame
/// while this process still knows the checkpoint is complete. The next index rebuild stops at
/// the first frame of the older round. Not TRUNCATE: freeing the file's blocks cost ~0.7 ms on
/// ext4, and the next hook paid again to allocate them and to sync a new file's header; the
/// WAL file keeps its high-water mark instead (~0.3 MiB).
pub fn hook_trim_wal(conn: &Connection, max_frames: i32) {
    if HOOK_WAL_FRAMES.load(Ordering::Relaxed) > max_frames
        && conn.busy_timeout(Duration::ZERO).is_ok()
    {
        restart_wal(conn);
    }
}

/// Checkpoints the whole WAL without waiting on readers (`RESTART`) and, when that completed,
/// writes one small row to `settings` so the next writer starts the WAL again at its first
/// frame. Both `difflore.db` and the hook's inbox have a `settings` table for this.
pub(crate) fn restart_wal(conn: &Connection) {
    let done = conn
        .query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0))
        .is_ok_and(|busy| busy == 0);
    if done {
        let _ = conn.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES ('wal_restarted_at', ?1)",
            [crate::clock::now_ms().to_string()],
        );
    }
}

/// `PRAGMA user_version`.
pub fn schema_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// `found` against the version this binary reads and writes in that file.
pub(crate) fn check_version(path: &Path, found: i64, expected: i64) -> Result<(), StoreError> {
    match found.cmp(&expected) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Greater => Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
        }),
        std::cmp::Ordering::Less => Err(StoreError::TooOld {
            path: path.to_path_buf(),
            found,
        }),
    }
}

/// Brings the schema to [`SCHEMA_VERSION`], one transaction per migration; WAL is switched on
/// once, when the database is new.
fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let err = |e| StoreError::from_sqlite(path, e);
    let found = schema_version(conn).map_err(err)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    if found == 0 {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = i as i64 + 1;
        let tx = write_tx(conn).map_err(err)?;
        // Re-check inside the write transaction: another process may have migrated meanwhile.
        let now = schema_version(&tx).map_err(err)?;
        if now >= version {
            tx.commit().map_err(err)?;
            continue;
        }
        tx.execute_batch(sql).map_err(err)?;
        tx.pragma_update(None, "user_version", version)
            .map_err(err)?;
        tx.commit().map_err(err)?;
    }
    Ok(())
}

/// Reads one value from `settings`.
pub fn setting(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    use rusqlite::OptionalExtension;
    conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
        r.get(0)
    })
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_transaction_that_reads_first_is_not_refused_by_a_concurrent_commit() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("h"));
        let a = open_for_write(&home).unwrap();
        a.execute_batch("CREATE TABLE t(x INTEGER)").unwrap();
        let tx = write_tx(&a).unwrap();
        let before: i64 = tx
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        // Another process commits between this transaction's read and its write: under a
        // deferred BEGIN it would commit at once and this write would fail "database is locked".
        let path = home.db_path();
        let other = std::thread::spawn(move || {
            let b = Connection::open(path).unwrap();
            b.busy_timeout(CLI_BUSY_TIMEOUT).unwrap();
            b.execute("INSERT INTO t VALUES (2)", []).unwrap();
        });
        std::thread::sleep(Duration::from_millis(150));
        tx.execute("INSERT INTO t VALUES (?1)", [before + 1])
            .unwrap();
        tx.commit().unwrap();
        other.join().unwrap();
        let rows: Vec<i64> = a
            .prepare("SELECT x FROM t ORDER BY rowid")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![1, 2],
            "the first writer commits first, the other waits"
        );
    }

    #[test]
    fn migrates_once_and_sets_wal() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("h"));
        let c = open_for_write(&home).unwrap();
        assert_eq!(schema_version(&c).unwrap(), SCHEMA_VERSION);
        let mode: String = c
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let key = setting(&c, "event_id_key").unwrap().unwrap();
        assert_eq!(key.len(), 64);
        drop(c);
        let c = open_for_write(&home).unwrap();
        assert_eq!(setting(&c, "event_id_key").unwrap().unwrap(), key);
        assert!(open_for_hook(&home).is_ok());
    }

    #[test]
    fn newer_database_is_refused_everywhere() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let c = open_for_write(&home).unwrap();
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(c);
        let e = open_for_write(&home).unwrap_err();
        assert!(matches!(e, StoreError::TooNew { .. }), "{e}");
        assert!(e.to_string().contains("upgrade difflore"));
        assert!(matches!(
            open_for_hook(&home).unwrap_err(),
            StoreError::TooNew { .. }
        ));
    }

    #[test]
    fn corrupt_and_missing_databases_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        assert!(matches!(
            open_for_hook(&home).unwrap_err(),
            StoreError::Missing(_)
        ));
        std::fs::write(home.db_path(), vec![0x42u8; 8192]).unwrap();
        let e = open_for_write(&home).unwrap_err();
        assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
        assert!(matches!(
            open_for_hook(&home).unwrap_err(),
            StoreError::Corrupt { .. }
        ));
    }

    #[test]
    fn schema_4_indexes_rules_that_already_exist() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        home.ensure_dirs().unwrap();
        let c = Connection::open(home.db_path()).unwrap();
        for (i, sql) in MIGRATIONS[..3].iter().enumerate() {
            c.execute_batch(sql).unwrap();
            c.pragma_update(None, "user_version", i as i64 + 1).unwrap();
        }
        c.execute(
            "INSERT INTO rules (id, title, statement, globs, repo, status, origin, created_at, updated_at)
             VALUES ('r1', 'Money', 'Use Money for cents', '[\"src/billing/*.rs\", \"**\"]', 'h/o/r', 'active', 'manual', 1, 1)",
            [],
        )
        .unwrap();
        drop(c);
        let c = open_for_write(&home).unwrap();
        let globs: Vec<(String, String, String, String)> = c
            .prepare("SELECT glob, scope, prefix, ext FROM glob_ids ORDER BY glob")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let row = |g: &str, p: &str, e: &str| (g.into(), "h/o/r".into(), p.into(), e.into());
        assert_eq!(
            globs,
            vec![
                row("**", "", ""),
                row("src/billing/*.rs", "src/billing/", "rs")
            ]
        );
        let hits: i64 = c
            .query_row(
                "SELECT count(*) FROM rules_fts WHERE rules_fts MATCH 'cent'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(hits, 1, "porter stemming finds 'cents' for 'cent'");
        let tags: String = c
            .query_row("SELECT tags FROM rules_fts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tags.split(' ').count(), 3, "scope and two globs: {tags}");
    }
}
