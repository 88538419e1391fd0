//! The hook's inbox: `DIFFLORE_HOME/inbox.db`, a SQLite file of three small tables where the hook
//! appends the event of a step that serves nothing (most tool calls: every `PreToolUse` while
//! serving is in `context` mode, every tool that reads or edits no file, a stop). Opening
//! `difflore.db` means parsing its whole schema (56 tables, indexes and triggers: most of what
//! a hook costs beyond starting a process) and writing seven pages of outbox, indexes and
//! counters for one event; the inbox's schema is three tables and one event is one page. It
//! also keeps such a step off `difflore.db`'s write lock, which an import or a pull may hold.
//!
//! The inbox is not a second queue: nothing leaves the machine from it. Every command that
//! opens the store for writing and every turn of the daemon [`fold`] it into the outbox —
//! oldest first, one outbox transaction per batch, the folded rows deleted only after that
//! transaction commits. A crash in between leaves rows that the next fold finds already stored
//! (the outbox deduplicates by event id), so an event is neither lost nor queued twice. The
//! outbox's policy (cap, local window, duplicates) applies at the fold; while nobody folds, the
//! inbox holds at most the configured queue cap and counts what it turned away.
//!
//! Steps that serve rules open `difflore.db` anyway (they read the rules and record what they
//! served in the same commit), so they append their `hook.event` and `rules.served` to the
//! store's own table `inbox` (schema 11, the same shape plus the serving figures a
//! `rules.served` adds, [`ServedCounts`]) in that commit: one page per event instead of the
//! outbox's seven, and no upserts of figures. [`fold_store`] moves those rows into the outbox
//! and applies their figures in the same transaction that deletes them.

use crate::home::{self, Home};
use crate::outbox::{EnqueuePolicy, Enqueued, Outbox};
use crate::outcomes::ServedCounts;
use crate::spool::Folded;
use crate::store::{self, StoreError};
use difflore_proto::EventEnvelope;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

/// The inbox's own schema version (`PRAGMA user_version`), independent of `difflore.db`'s.
pub const VERSION: i64 = 1;
/// Most rows one fold moves into the outbox per transaction.
pub const FOLD_BATCH: usize = 2_000;
/// Frames in the inbox's WAL past which the hook restarts it (see [`store::hook_trim_wal`]).
/// An event is about one frame here, against seven in the store: restarting (a checkpoint and
/// its two `fsync`s) every ~200 events keeps it out of the hook's p99, and rebuilding the WAL
/// index from at most 1 MiB of frames costs a hook ~0.1 ms on average.
pub const WAL_TRIM_FRAMES: i32 = 256;
/// Most batches one [`fold`] moves (a backlog larger than this waits for the next fold).
const FOLD_BATCHES: usize = 50;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS inbox (
    seq      INTEGER PRIMARY KEY,
    envelope TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
";

/// Rows the inbox holds. Folds delete the oldest rows, so the rows held are one run of `seq`:
/// its span is their count, read from the two ends of the table's b-tree (two subqueries: one
/// `SELECT MAX(seq) - MIN(seq)` would scan the table).
const HELD: &str =
    "SELECT COALESCE((SELECT MAX(seq) FROM inbox) - (SELECT MIN(seq) FROM inbox) + 1, 0)";

/// What [`append`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    Appended,
    /// The inbox held the queue cap already: the event was counted as dropped.
    Dropped,
}

impl From<Appended> for Enqueued {
    fn from(a: Appended) -> Enqueued {
        match a {
            Appended::Appended => Enqueued::Queued,
            Appended::Dropped => Enqueued::Dropped,
        }
    }
}

/// Creates the inbox when it does not exist yet (writing commands call it, after migrating the
/// store). An inbox of another version is left alone: the hook then writes to the store.
pub fn ensure(home: &Home) -> Result<(), StoreError> {
    let path = home.inbox_path();
    let existed = path.exists();
    let conn = Connection::open(&path).map_err(|e| StoreError::from_sqlite(&path, e))?;
    if !existed {
        let _ = home::make_private(&path);
    }
    let err = |e| StoreError::from_sqlite(&path, e);
    conn.busy_timeout(store::CLI_BUSY_TIMEOUT).map_err(err)?;
    // Closing must not checkpoint and delete the WAL the hooks write: the next hook would
    // create and sync a new one.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
        .map_err(err)?;
    if store::schema_version(&conn).map_err(err)? != 0 {
        return Ok(());
    }
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(err)?;
    let tx = store::write_tx(&conn).map_err(err)?;
    if store::schema_version(&tx).map_err(err)? == 0 {
        tx.execute_batch(SCHEMA).map_err(err)?;
        tx.pragma_update(None, "user_version", VERSION)
            .map_err(err)?;
    }
    tx.commit().map_err(err)
}

/// Opens an existing inbox for the hook: never creates it, refuses another version.
pub fn open_for_hook(home: &Home) -> Result<Connection, StoreError> {
    store::open_existing_for_hook(home, &home.inbox_path(), VERSION)
}

/// Appends one event, unless the inbox already holds `cap` rows (then the event is counted as
/// dropped, like the outbox does at its cap). One statement, one commit.
pub fn append(conn: &Connection, ev: &EventEnvelope, cap: i64) -> rusqlite::Result<Appended> {
    insert(conn, ev, None, cap)
}

/// Appends a `rules.served` event to the store's own inbox with the serving figures it adds
/// (applied at the fold). When the cap turns the event away the figures are applied at once:
/// they count servings, not queued events.
pub fn append_served(
    conn: &Connection,
    ev: &EventEnvelope,
    counts: &ServedCounts,
    cap: i64,
) -> rusqlite::Result<Appended> {
    let a = insert(conn, ev, Some(counts), cap)?;
    if a == Appended::Dropped {
        counts.apply(conn)?;
    }
    Ok(a)
}

fn to_json<T: serde::Serialize>(v: &T) -> rusqlite::Result<String> {
    serde_json::to_string(v).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn insert(
    conn: &Connection,
    ev: &EventEnvelope,
    counts: Option<&ServedCounts>,
    cap: i64,
) -> rusqlite::Result<Appended> {
    let body = to_json(ev)?;
    if held(conn)? >= cap {
        conn.prepare_cached(
            "INSERT INTO counters (name, value) VALUES ('dropped', 1)
             ON CONFLICT (name) DO UPDATE SET value = value + 1",
        )?
        .execute([])?;
        return Ok(Appended::Dropped);
    }
    match counts {
        None => conn
            .prepare_cached("INSERT INTO inbox (envelope) VALUES (?1)")?
            .execute([body])?,
        Some(c) => conn
            .prepare_cached("INSERT INTO inbox (envelope, counts) VALUES (?1, ?2)")?
            .execute([body, to_json(c)?])?,
    };
    Ok(Appended::Appended)
}

/// Rows a connection's `inbox` table holds: the inbox file's or the store's own.
pub fn held(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached(HELD)?.query_row([], |r| r.get(0))
}

/// Events waiting in the inbox file (0 when there is none), for `status`.
pub fn waiting(home: &Home) -> i64 {
    let path = home.inbox_path();
    if !path.exists() {
        return 0;
    }
    Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row(HELD, [], |r| r.get(0)))
        .unwrap_or(0)
}

/// Moves the inbox's events into the outbox of `conn` (see the module doc), oldest first.
/// Rows that do not hold an event (never written by a hook of this version) are counted as
/// unreadable and moved to the inbox's table `set_aside`, never deleted.
pub fn fold(
    home: &Home,
    conn: &Connection,
    policy: EnqueuePolicy,
    now: i64,
) -> Result<Folded, StoreError> {
    let path = home.inbox_path();
    let mut out = Folded::default();
    if !path.exists() {
        return Ok(out);
    }
    let err = |e| StoreError::from_sqlite(&path, e);
    let inbox =
        Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE).map_err(err)?;
    inbox.busy_timeout(store::CLI_BUSY_TIMEOUT).map_err(err)?;
    // The WAL is restarted below, not deleted on close: the next hook then finds a WAL with a
    // valid header and no frames to read, instead of creating and syncing a new file.
    inbox
        .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
        .map_err(err)?;
    let found = store::schema_version(&inbox).map_err(err)?;
    if store::check_version(&path, found, VERSION).is_err() {
        return Ok(out);
    }
    let outbox_err = |e| StoreError::from_sqlite(&home.db_path(), e);
    for _ in 0..FOLD_BATCHES {
        let (rows, dropped) = batch(&inbox).map_err(err)?;
        if rows.is_empty() && dropped == 0 {
            break;
        }
        let last = rows.last().map(|(seq, _)| *seq);
        let mut events = Vec::with_capacity(rows.len());
        let mut bad = Vec::new();
        for (seq, body) in rows {
            match serde_json::from_str::<EventEnvelope>(&body) {
                Ok(ev) => events.push(ev),
                Err(_) => bad.push(seq),
            }
        }
        let results = Outbox::new(conn)
            .enqueue_many(&events, dropped, policy, now)
            .map_err(outbox_err)?;
        for r in results {
            out.count(r);
        }
        out.unreadable += bad.len();
        settle(&inbox, last, &bad, dropped).map_err(err)?;
        if last.is_none() || events.len() + bad.len() < FOLD_BATCH {
            break;
        }
    }
    if out != Folded::default() && inbox.busy_timeout(std::time::Duration::ZERO).is_ok() {
        store::restart_wal(&inbox);
    }
    Ok(out)
}

/// Moves the store's own `inbox` rows (the events of steps that served rules) into its outbox
/// and applies the serving figures they carry, oldest first: each batch is read, enqueued,
/// counted and deleted in one transaction, so a row is moved and counted exactly once. A row
/// that cannot be read goes whole to `inbox_set_aside`. The events the hook turned away at the
/// cap were counted in the store's `dropped` already.
pub fn fold_store(conn: &Connection, policy: EnqueuePolicy, now: i64) -> rusqlite::Result<Folded> {
    let mut out = Folded::default();
    // Most folds find nothing: they read that without taking the write lock.
    if held(conn)? == 0 {
        return Ok(out);
    }
    for _ in 0..FOLD_BATCHES {
        let tx = store::write_tx(conn)?;
        let rows = tx
            .prepare_cached("SELECT seq, envelope, counts FROM inbox ORDER BY seq LIMIT ?1")?
            .query_map([FOLD_BATCH as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let Some(last) = rows.last().map(|(seq, _, _)| *seq) else {
            break;
        };
        let full = rows.len() == FOLD_BATCH;
        let outbox = Outbox::new(&tx);
        for (seq, body, counts) in rows {
            let ev = serde_json::from_str::<EventEnvelope>(&body).ok();
            let figures = match &counts {
                None => Some(None),
                Some(c) => serde_json::from_str::<ServedCounts>(c).ok().map(Some),
            };
            let (Some(ev), Some(figures)) = (ev, figures) else {
                tx.execute(
                    "INSERT OR REPLACE INTO inbox_set_aside (seq, envelope, counts) VALUES (?1, ?2, ?3)",
                    rusqlite::params![seq, body, counts],
                )?;
                out.unreadable += 1;
                continue;
            };
            if let Some(f) = figures {
                f.apply(&tx)?;
            }
            out.count(outbox.enqueue_in_open_tx(&ev, policy, now)?);
        }
        tx.execute("DELETE FROM inbox WHERE seq <= ?1", [last])?;
        tx.commit()?;
        if !full {
            break;
        }
    }
    Ok(out)
}

/// The oldest rows and the count of events turned away, in one read.
type Batch = (Vec<(i64, String)>, i64);

fn batch(inbox: &Connection) -> rusqlite::Result<Batch> {
    let tx = store::read_tx(inbox)?;
    let rows = inbox
        .prepare("SELECT seq, envelope FROM inbox ORDER BY seq LIMIT ?1")?
        .query_map([FOLD_BATCH as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let dropped: i64 = inbox
        .query_row(
            "SELECT value FROM counters WHERE name = 'dropped'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0);
    drop(tx);
    Ok((rows, dropped))
}

/// Deletes the folded rows (keeping unreadable ones aside) and takes the folded drop count.
fn settle(
    inbox: &Connection,
    last: Option<i64>,
    bad: &[i64],
    dropped: i64,
) -> rusqlite::Result<()> {
    let tx = store::write_tx(inbox)?;
    if !bad.is_empty() {
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS set_aside (seq INTEGER PRIMARY KEY, envelope TEXT NOT NULL)",
        )?;
        let mut keep = tx.prepare(
            "INSERT OR REPLACE INTO set_aside (seq, envelope)
             SELECT seq, envelope FROM inbox WHERE seq = ?1",
        )?;
        for seq in bad {
            keep.execute([seq])?;
        }
        drop(keep);
    }
    if let Some(last) = last {
        tx.execute("DELETE FROM inbox WHERE seq <= ?1", [last])?;
    }
    if dropped > 0 {
        tx.execute(
            "UPDATE counters SET value = value - ?1 WHERE name = 'dropped'",
            [dropped],
        )?;
    }
    tx.commit()
}
