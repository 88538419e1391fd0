//! `daemon.lock`: the daemon's liveness truth (DESIGN §3). The running daemon holds an
//! exclusive flock on it for its whole life and writes its pid, process start time (from
//! `/proc/<pid>/stat`) and version into it. A bare `kill(pid, 0)` is fooled by PID reuse; a held
//! lock plus a matching start time is not.

use difflore_core::home::Home;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};

/// What the daemon wrote into the lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    pub pid: u32,
    /// Start time in clock ticks since boot (`/proc/<pid>/stat` field 22); 0 where unknown.
    pub start_time: u64,
    pub version: String,
    /// Unix ms.
    pub started_at: i64,
}

impl LockInfo {
    fn render(&self) -> String {
        format!(
            "pid={}\nstart_time={}\nversion={}\nstarted_at={}\n",
            self.pid, self.start_time, self.version, self.started_at
        )
    }

    fn parse(text: &str) -> Option<LockInfo> {
        let mut pid = None;
        let mut start_time = 0;
        let mut version = String::new();
        let mut started_at = 0;
        for line in text.lines() {
            match line.split_once('=') {
                Some(("pid", v)) => pid = v.trim().parse().ok(),
                Some(("start_time", v)) => start_time = v.trim().parse().unwrap_or(0),
                Some(("version", v)) => version = v.trim().to_string(),
                Some(("started_at", v)) => started_at = v.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
        Some(LockInfo {
            pid: pid?,
            start_time,
            version,
            started_at,
        })
    }
}

/// The held lock; released when dropped (the kernel releases it if the process dies).
pub struct DaemonLock {
    file: File,
}

/// Someone else holds the lock.
#[derive(Debug)]
pub struct Held(pub Option<LockInfo>);

fn open(home: &Home) -> std::io::Result<File> {
    home.ensure_dirs()?;
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(home.daemon_lock_path())?;
    let _ = difflore_core::home::make_private(&home.daemon_lock_path());
    Ok(f)
}

impl DaemonLock {
    /// Takes the lock without waiting.
    pub fn try_acquire(home: &Home) -> std::io::Result<Result<DaemonLock, Held>> {
        let file = open(home)?;
        match file.try_lock() {
            Ok(()) => Ok(Ok(DaemonLock { file })),
            Err(TryLockError::WouldBlock) => Ok(Err(Held(read_info(home)))),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    /// Records who holds the lock.
    pub fn write_info(&mut self, info: &LockInfo) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(info.render().as_bytes())?;
        self.file.sync_all()
    }

    /// Empties the file before a clean exit, so nothing looks stale afterwards.
    pub fn clear(&mut self) {
        let _ = self.file.set_len(0);
    }
}

/// What the lock file says, whether or not anyone holds it.
pub fn read_info(home: &Home) -> Option<LockInfo> {
    let mut s = String::new();
    File::open(home.daemon_lock_path())
        .ok()?
        .read_to_string(&mut s)
        .ok()?;
    LockInfo::parse(&s)
}

/// `true` while some process holds the lock. Read-only: a shared probe, released at once.
pub fn is_held(home: &Home) -> bool {
    let Ok(f) = File::open(home.daemon_lock_path()) else {
        return false;
    };
    match f.try_lock_shared() {
        Ok(()) => {
            let _ = f.unlock();
            false
        }
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(_)) => false,
    }
}

/// Empties a stale lock file (only when nobody holds the lock).
pub fn clean_stale(home: &Home) -> std::io::Result<bool> {
    let f = open(home)?;
    match f.try_lock() {
        Ok(()) => {
            let had = f.metadata()?.len() > 0;
            f.set_len(0)?;
            let _ = f.unlock();
            Ok(had)
        }
        Err(_) => Ok(false),
    }
}

/// A process's start time in clock ticks since boot, from `/proc/<pid>/stat`.
pub fn proc_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: skip past the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_is_exclusive_and_records_its_holder() {
        let d = tempfile::tempdir().unwrap();
        let home = Home::at(d.path());
        let mut l = DaemonLock::try_acquire(&home).unwrap().unwrap();
        let me = LockInfo {
            pid: std::process::id(),
            start_time: proc_start_time(std::process::id()).unwrap(),
            version: "0.1.0".into(),
            started_at: 42,
        };
        l.write_info(&me).unwrap();
        assert!(is_held(&home));
        let Err(Held(info)) = DaemonLock::try_acquire(&home).unwrap() else {
            panic!("second acquire must fail");
        };
        assert_eq!(info, Some(me.clone()));
        assert!(!clean_stale(&home).unwrap(), "never cleans a held lock");
        drop(l);
        assert!(!is_held(&home));
        assert_eq!(
            read_info(&home),
            Some(me),
            "info stays after a crash-like drop"
        );
        assert!(clean_stale(&home).unwrap());
        assert_eq!(read_info(&home), None);
    }
}
