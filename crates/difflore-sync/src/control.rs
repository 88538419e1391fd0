//! Daemon control from the CLI: `status` (read-only), `start` (spawn detached and wait for the
//! lock), `stop` (signal only the process that holds the lock and whose start time matches).

use crate::lockfile::{self, LockInfo};
use crate::{breaker, creds, daemon, state};
use difflore_core::clock::now_ms;
use difflore_core::home::Home;
use difflore_core::{logfile, store};
use serde::Serialize;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `difflore daemon status --json` (DESIGN §9).
#[derive(Debug, Clone, Serialize)]
pub struct DaemonStatus {
    pub schema_version: u32,
    /// `running`, `not_running` or `stale`.
    pub state: &'static str,
    pub pid: Option<u32>,
    pub version: Option<String>,
    pub version_mismatch: bool,
    pub started_at: Option<String>,
    pub uptime_s: Option<i64>,
    pub last_drain_at: Option<String>,
    pub delivered: i64,
    pub failed: i64,
    pub queue: Option<difflore_core::outbox::Counts>,
    pub breaker: String,
    pub server: Option<String>,
    /// What the daemon says it is doing (`running`, `waiting for login`, `parked: …`).
    pub activity: Option<String>,
    pub logged_in: bool,
    /// The last delivery error, if any.
    pub last_error: Option<String>,
    /// Since when the server has not answered (RFC 3339), while it does not.
    pub unreachable_since: Option<String>,
}

/// Reads everything without changing anything.
pub fn status(home: &Home) -> DaemonStatus {
    let held = lockfile::is_held(home);
    let info = lockfile::read_info(home);
    let state = match (held, &info) {
        (true, _) => "running",
        (false, Some(_)) => "stale",
        (false, None) => "not_running",
    };
    let running_info = info.clone().filter(|_| held);
    let mut s = DaemonStatus {
        schema_version: 1,
        state,
        pid: running_info.as_ref().map(|i| i.pid),
        version: running_info.as_ref().map(|i| i.version.clone()),
        version_mismatch: running_info
            .as_ref()
            .is_some_and(|i| i.version != env!("CARGO_PKG_VERSION")),
        started_at: running_info.as_ref().map(|i| daemon::when(i.started_at)),
        uptime_s: running_info
            .as_ref()
            .map(|i| (now_ms() - i.started_at) / 1000),
        last_drain_at: None,
        delivered: 0,
        failed: 0,
        queue: None,
        breaker: "closed".into(),
        server: None,
        activity: None,
        logged_in: creds::load(home).ok().flatten().is_some(),
        last_error: None,
        unreachable_since: None,
    };
    if let Ok(conn) = store::open_read_only(home)
        && store::schema_version(&conn).ok() == Some(store::SCHEMA_VERSION)
    {
        s.last_drain_at = state::get_i64(&conn, state::LAST_DRAIN_AT)
            .ok()
            .flatten()
            .map(daemon::when);
        s.delivered = state::get_i64(&conn, state::DELIVERED)
            .ok()
            .flatten()
            .unwrap_or(0);
        s.failed = state::get_i64(&conn, state::FAILED)
            .ok()
            .flatten()
            .unwrap_or(0);
        s.breaker = breaker::current(&conn);
        s.server = state::get(&conn, state::SERVER).ok().flatten();
        s.last_error = state::get(&conn, state::LAST_ERROR).ok().flatten();
        s.unreachable_since = state::get_i64(&conn, state::UNREACHABLE_SINCE)
            .ok()
            .flatten()
            .map(daemon::when);
        s.activity = state::get(&conn, state::STATUS)
            .ok()
            .flatten()
            .filter(|_| held);
        s.queue = difflore_core::outbox::Outbox::new(&conn)
            .summary(now_ms())
            .ok()
            .map(|q| q.counts);
    }
    if s.server.is_none() {
        s.server = creds::load(home).ok().flatten().map(|c| c.server);
    }
    s
}

#[derive(Debug)]
pub enum StartOutcome {
    Started(LockInfo),
    AlreadyRunning(LockInfo),
    Restarted { old: LockInfo, new: LockInfo },
}

/// Starts `exe daemon run` detached (own process group, output to `logs/daemon.out`) and
/// waits ≤ 5 s until it holds the lock. Restarts a daemon of another version.
pub fn start(
    home: &Home,
    exe: &std::path::Path,
    extra_args: &[String],
) -> Result<StartOutcome, String> {
    let mut old = None;
    if lockfile::is_held(home)
        && let Some(info) = lockfile::read_info(home)
    {
        if info.version == env!("CARGO_PKG_VERSION") {
            return Ok(StartOutcome::AlreadyRunning(info));
        }
        stop(home, Duration::from_secs(10))?;
        old = Some(info);
    }
    home.ensure_dirs().map_err(|e| e.to_string())?;
    let out_path = logfile::path(home, "daemon.out");
    rotate(&out_path);
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&out_path)
        .map_err(|e| format!("cannot open {}: {e}", out_path.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.arg("daemon")
        .arg("run")
        .args(extra_args)
        .env("DIFFLORE_HOME", home.root())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut lines = logfile::tail(home, "daemon.out", 5);
            lines.extend(logfile::tail(home, daemon::LOG, 5));
            return Err(format!(
                "the daemon exited at once ({status}). Last log lines:\n  {}",
                lines.join("\n  ")
            ));
        }
        if lockfile::is_held(home)
            && let Some(info) = lockfile::read_info(home)
            && info.pid == child.id()
        {
            return Ok(match old {
                Some(old) => StartOutcome::Restarted { old, new: info },
                None => StartOutcome::Started(info),
            });
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let lines = logfile::tail(home, "daemon.out", 5);
            return Err(format!(
                "the daemon did not take its lock within 5 s. Last log lines:\n  {}",
                lines.join("\n  ")
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn rotate(p: &std::path::Path) {
    if std::fs::metadata(p).is_ok_and(|m| m.len() > logfile::MAX_LOG_BYTES) {
        let _ = std::fs::rename(p, p.with_extension("out.1"));
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum StopOutcome {
    Terminated(u32),
    Killed(u32),
    NotRunning,
    StaleCleaned,
}

/// SIGTERM, wait up to `grace`, SIGKILL; only the process whose pid and start time match the
/// lock file while the lock is held. Returns once the lock is free.
pub fn stop(home: &Home, grace: Duration) -> Result<StopOutcome, String> {
    if !lockfile::is_held(home) {
        return Ok(if lockfile::clean_stale(home).map_err(|e| e.to_string())? {
            StopOutcome::StaleCleaned
        } else {
            StopOutcome::NotRunning
        });
    }
    let info = lockfile::read_info(home)
        .ok_or("the lock is held but names no process; try again in a moment")?;
    if let Some(actual) = lockfile::proc_start_time(info.pid)
        && info.start_time != 0
        && actual != info.start_time
    {
        return Err(format!(
            "pid {} is not the daemon that took the lock (its start time differs); not signalling it",
            info.pid
        ));
    }
    let pid =
        rustix::process::Pid::from_raw(info.pid as i32).ok_or("invalid pid in the lock file")?;
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !lockfile::is_held(home) {
            return Ok(StopOutcome::Terminated(info.pid));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while lockfile::is_held(home) {
        if Instant::now() > deadline {
            return Err(format!(
                "pid {} still holds the lock after SIGKILL",
                info.pid
            ));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = lockfile::clean_stale(home);
    Ok(StopOutcome::Killed(info.pid))
}
