//! Daemon control from the CLI: `status` (read-only), `start` (spawn detached and wait for the
//! lock), `stop` (signal only the process that holds the lock and whose start time matches).

use crate::breaker::{self, BreakerState};
use crate::error::ControlError;
use crate::lockfile::{self, LockInfo};
use crate::{creds, daemon, state};
use difflore_core::clock::now_ms;
use difflore_core::home::Home;
use difflore_core::{logfile, store};
use serde::Serialize;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Whether a daemon runs for this home.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DaemonState {
    Running,
    NotRunning,
    /// The lock file names a daemon that no longer holds it (it died).
    Stale,
}

impl std::fmt::Display for DaemonState {
    /// As a person reads it: `running`, `not running`, `stale`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DaemonState::Running => "running",
            DaemonState::NotRunning => "not running",
            DaemonState::Stale => "stale",
        })
    }
}

/// `difflore daemon status --json` (DESIGN §9).
#[derive(Debug, Clone, Serialize)]
pub struct DaemonStatus {
    pub schema_version: u32,
    pub state: DaemonState,
    pub pid: Option<u32>,
    pub version: Option<String>,
    pub version_mismatch: bool,
    pub started_at: Option<String>,
    pub uptime_s: Option<i64>,
    pub last_drain_at: Option<String>,
    pub delivered: i64,
    pub failed: i64,
    pub queue: Option<difflore_core::outbox::Counts>,
    /// Closed while nothing says otherwise (no database yet).
    pub breaker: BreakerState,
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
        (true, _) => DaemonState::Running,
        (false, Some(_)) => DaemonState::Stale,
        (false, None) => DaemonState::NotRunning,
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
        breaker: BreakerState::Closed,
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
        let breaker = breaker::current(&conn);
        s.server = state::get(&conn, state::SERVER).ok().flatten();
        s.last_error = state::get(&conn, state::LAST_ERROR).ok().flatten();
        match breaker {
            Ok(b) => s.breaker = b,
            Err(e) => s.last_error = Some(e.to_string()),
        }
        s.unreachable_since = state::get_i64(&conn, state::UNREACHABLE_SINCE)
            .ok()
            .flatten()
            .map(daemon::when);
        s.activity = match state::activity(&conn) {
            Ok(a) => a.map(|a| a.to_string()),
            Err(e) => Some(e.to_string()),
        }
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
) -> Result<StartOutcome, ControlError> {
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
    home.ensure_dirs().map_err(ControlError::io(format!(
        "create {}",
        home.root().display()
    )))?;
    let out_path = logfile::path(home, "daemon.out");
    rotate(&out_path);
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&out_path)
        .map_err(ControlError::io(format!("open {}", out_path.display())))?;
    let err = out
        .try_clone()
        .map_err(ControlError::io(format!("open {}", out_path.display())))?;
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
        .map_err(ControlError::io(format!("start {}", exe.display())))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut lines = logfile::tail(home, "daemon.out", 5);
            lines.extend(logfile::tail(home, daemon::LOG, 5));
            return Err(ControlError::ExitedAtOnce {
                status: status.to_string(),
                log: lines.join("\n  "),
            });
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
            return Err(ControlError::NoLock(lines.join("\n  ")));
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
pub fn stop(home: &Home, grace: Duration) -> Result<StopOutcome, ControlError> {
    if !lockfile::is_held(home) {
        let stale =
            lockfile::clean_stale(home).map_err(ControlError::io("remove the stale lock"))?;
        return Ok(if stale {
            StopOutcome::StaleCleaned
        } else {
            StopOutcome::NotRunning
        });
    }
    let info = lockfile::read_info(home).ok_or(ControlError::LockNamesNoProcess)?;
    if let Some(actual) = lockfile::proc_start_time(info.pid)
        && info.start_time != 0
        && actual != info.start_time
    {
        return Err(ControlError::NotTheDaemon(info.pid));
    }
    let pid = rustix::process::Pid::from_raw(info.pid as i32)
        .ok_or(ControlError::InvalidPid(info.pid))?;
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
            return Err(ControlError::Unkillable(info.pid));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = lockfile::clean_stale(home);
    Ok(StopOutcome::Killed(info.pid))
}
