//! The hook's spool: where an event goes when the database does not take it within the hook's
//! budget (busy past the lock wait, the watchdog firing, a read-only or full database, a schema
//! mismatch), so that a hook never loses an event it read.
//!
//! One file per event under `DIFFLORE_HOME/spool/`, named `<created ms>-<event id>.json` and
//! written to a temporary name first, then renamed: a reader never sees half a file, and the
//! names sort oldest first. The file holds the event's envelope with its stable id, so an event
//! that reached both the outbox and the spool is stored once when the spool is folded.
//!
//! The spool is bounded ([`MAX_FILES`], [`MAX_BYTES`]); an event past the bound is counted in
//! `dropped.count` (under a file lock) and that count joins the outbox's `dropped` counter at the
//! next fold. [`fold`] moves spooled events into the outbox — bounded, oldest first, in one
//! transaction, files deleted only after it commits — and is run by the daemon's loop and by
//! every command that opens the store for writing.

use crate::home::{self, Home};
use crate::outbox::{EnqueuePolicy, Enqueued, Outbox};
use difflore_proto::EventEnvelope;
use rusqlite::Connection;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Most event files the spool holds.
pub const MAX_FILES: usize = 10_000;
/// Most bytes the spool's event files hold together.
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Most files one fold moves into the outbox.
pub const FOLD_BATCH: usize = 2_000;
const DROPPED: &str = "dropped.count";

/// What [`write`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spooled {
    Written,
    /// The spool was full: the event was counted as dropped.
    Dropped,
}

/// Size of the spool, for `status` and `outbox status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Size {
    pub files: usize,
    pub bytes: u64,
    /// Events dropped because the spool was full, not yet added to the outbox's counter.
    pub dropped: i64,
}

/// What one [`fold`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Folded {
    pub queued: usize,
    pub duplicates: usize,
    pub dropped: usize,
    /// Files that did not hold an event (moved aside to `spool/bad/`, never deleted).
    pub unreadable: usize,
}

impl Folded {
    /// Tallies what the outbox did with one folded event.
    pub fn count(&mut self, r: Enqueued) {
        match r {
            Enqueued::Queued => self.queued += 1,
            Enqueued::Duplicate => self.duplicates += 1,
            Enqueued::Dropped => self.dropped += 1,
        }
    }
}

/// Writes one event to the spool (temporary name, then rename).
pub fn write(home: &Home, ev: &EventEnvelope, now_ms: i64) -> io::Result<Spooled> {
    let dir = home.spool_dir();
    if !dir.is_dir() {
        home::create_private_dir(&dir)?;
    }
    let body = serde_json::to_vec(ev).map_err(io::Error::other)?;
    let size = size(home);
    if size.files >= MAX_FILES || size.bytes + body.len() as u64 > MAX_BYTES {
        add_dropped(&dir, 1)?;
        return Ok(Spooled::Dropped);
    }
    let name = format!("{:013}-{}.json", now_ms.max(0), safe_id(&ev.id));
    let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), safe_id(&ev.id)));
    // No fsync, like the hook's own `synchronous=NORMAL`: safe against a crashing process (the
    // rename is atomic), not against a power cut — and off the hook's latency.
    let mut f = private_file(&tmp)?;
    let written = f.write_all(&body);
    drop(f);
    if let Err(e) = written.and_then(|_| fs::rename(&tmp, dir.join(name))) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(Spooled::Written)
}

/// Counts the spool's event files and bytes (no file is read but the dropped count).
pub fn size(home: &Home) -> Size {
    let dir = home.spool_dir();
    let mut s = Size::default();
    let Ok(entries) = fs::read_dir(&dir) else {
        return s;
    };
    for e in entries.flatten() {
        if is_event_file(&e.path()) {
            s.files += 1;
            s.bytes += e.metadata().map_or(0, |m| m.len());
        }
    }
    s.dropped = read_dropped(&dir);
    s
}

/// Moves up to [`FOLD_BATCH`] spooled events (oldest first) into the outbox in one
/// transaction, then deletes their files. Cheap when the spool is empty or absent.
pub fn fold(home: &Home, conn: &Connection, policy: EnqueuePolicy, now: i64) -> io::Result<Folded> {
    let dir = home.spool_dir();
    let mut out = Folded::default();
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(out);
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if is_event_file(&p) {
            files.push(p);
        } else if is_stale_tmp(&e) {
            // A hook killed halfway through a write leaves its temporary file behind.
            let _ = fs::remove_file(&p);
        }
    }
    let dropped = read_dropped(&dir);
    if files.is_empty() && dropped == 0 {
        return Ok(out);
    }
    files.sort();
    files.truncate(FOLD_BATCH);
    let mut events = Vec::with_capacity(files.len());
    let mut taken = Vec::with_capacity(files.len());
    for p in files {
        match fs::read(&p)
            .ok()
            .and_then(|b| serde_json::from_slice::<EventEnvelope>(&b).ok())
        {
            Some(ev) => {
                events.push(ev);
                taken.push(p);
            }
            None => {
                out.unreadable += 1;
                set_aside(&dir, &p);
            }
        }
    }
    // The dropped count is taken (zeroed) only once the transaction that adds it commits.
    let results = Outbox::new(conn)
        .enqueue_many(&events, dropped, policy, now)
        .map_err(io::Error::other)?;
    if dropped > 0 {
        add_dropped(&dir, -dropped)?;
    }
    for (r, p) in results.iter().zip(&taken) {
        out.count(*r);
        let _ = fs::remove_file(p);
    }
    Ok(out)
}

fn is_stale_tmp(e: &fs::DirEntry) -> bool {
    e.file_name().to_string_lossy().starts_with(".tmp-")
        && e.metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(60))
}

fn is_event_file(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "json")
        && p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| !n.starts_with('.'))
}

/// Event ids are UUIDs; anything else is reduced to a file-name-safe form.
fn safe_id(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect()
}

fn private_file(p: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(p)
}

fn set_aside(dir: &Path, p: &Path) {
    let bad = dir.join("bad");
    if home::create_private_dir(&bad).is_ok()
        && let Some(name) = p.file_name()
    {
        let _ = fs::rename(p, bad.join(name));
    }
}

fn read_dropped(dir: &Path) -> i64 {
    fs::read_to_string(dir.join(DROPPED))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Adds `delta` to the dropped count, under an exclusive lock on its file.
fn add_dropped(dir: &Path, delta: i64) -> io::Result<()> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(dir.join(DROPPED))?;
    f.lock()?;
    let mut s = String::new();
    f.read_to_string(&mut s)?;
    let n = s
        .trim()
        .parse::<i64>()
        .unwrap_or(0)
        .saturating_add(delta)
        .max(0);
    f.set_len(0)?;
    f.rewind()?;
    f.write_all(n.to_string().as_bytes())?;
    f.unlock()
}

/// Reads the event-id key from its file copy (see [`Home::event_key_path`]).
pub fn read_key(home: &Home) -> Option<String> {
    let s = fs::read_to_string(home.event_key_path()).ok()?;
    let k = s.trim();
    (!k.is_empty()).then(|| k.to_string())
}

/// Keeps the file copy of the store's event-id key current (writing commands call it).
pub fn write_key(home: &Home, key: &str) -> io::Result<()> {
    if read_key(home).as_deref() == Some(key) {
        return Ok(());
    }
    let p = home.event_key_path();
    let tmp = home
        .root()
        .join(format!(".event_id.key.{}", std::process::id()));
    let mut f = private_file(&tmp)?;
    f.write_all(key.as_bytes())?;
    f.sync_data()?;
    drop(f);
    fs::rename(&tmp, p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store;

    fn ev(id: &str) -> EventEnvelope {
        EventEnvelope {
            id: id.into(),
            kind: "hook.event".into(),
            occurred_at: "2026-11-29T10:00:00Z".into(),
            payload: serde_json::json!({"agent": "codex"}),
        }
    }

    #[test]
    fn spooled_events_fold_once_oldest_first() {
        let d = tempfile::tempdir().unwrap();
        let home = Home::at(d.path());
        let conn = store::open_for_write(&home).unwrap();
        let a = "0190a6b4-7c1e-7d2f-8a9b-0c1d2e3f4a5b";
        let b = "0190a6b4-7c1e-7d2f-8a9b-0c1d2e3f4a5c";
        assert_eq!(write(&home, &ev(b), 2).unwrap(), Spooled::Written);
        assert_eq!(write(&home, &ev(a), 1).unwrap(), Spooled::Written);
        // `a` also reached the outbox before it was spooled: stored once.
        Outbox::new(&conn)
            .enqueue(&ev(a), EnqueuePolicy::default(), 0)
            .unwrap();
        assert_eq!(size(&home).files, 2);
        let f = fold(&home, &conn, EnqueuePolicy::default(), 5).unwrap();
        assert_eq!((f.queued, f.duplicates, f.unreadable), (1, 1, 0));
        assert_eq!(size(&home).files, 0);
        let ids: Vec<String> = Outbox::new(&conn)
            .list(None, 10)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, vec![a.to_string(), b.to_string()]);
        // Folding again changes nothing.
        assert_eq!(
            fold(&home, &conn, EnqueuePolicy::default(), 6).unwrap(),
            Folded::default()
        );
    }

    #[test]
    fn a_damaged_file_is_set_aside_and_the_dropped_count_carried_over() {
        let d = tempfile::tempdir().unwrap();
        let home = Home::at(d.path());
        let conn = store::open_for_write(&home).unwrap();
        fs::create_dir_all(home.spool_dir()).unwrap();
        fs::write(home.spool_dir().join("0000000000001-x.json"), b"{not json").unwrap();
        add_dropped(&home.spool_dir(), 3).unwrap();
        assert_eq!(size(&home).dropped, 3);
        let f = fold(&home, &conn, EnqueuePolicy::default(), 5).unwrap();
        assert_eq!(f.unreadable, 1);
        assert!(home.spool_dir().join("bad/0000000000001-x.json").exists());
        assert_eq!(size(&home).dropped, 0);
        assert_eq!(Outbox::new(&conn).summary(5).unwrap().dropped, 3);
    }

    #[test]
    fn key_copy_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let home = Home::at(d.path());
        assert_eq!(read_key(&home), None);
        write_key(&home, "abc").unwrap();
        assert_eq!(read_key(&home).as_deref(), Some("abc"));
    }
}
