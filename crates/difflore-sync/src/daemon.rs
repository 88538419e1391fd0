//! `difflore daemon run`: the long-running drainer, one per `DIFFLORE_HOME`.
//!
//! The main thread owns the lock and the signals; a worker thread with its own connection
//! drains. Lifecycle: take `daemon.lock` (or refuse, naming the holder) → migrate → release
//! every lease earlier daemons left → loop: idle without credentials ("waiting for login"),
//! re-reading them every pass; stay parked until they change; otherwise drain back-to-back while
//! there is backlog, and wake on `PRAGMA data_version` (polled, no socket) when idle; age out old
//! rows and checkpoint the WAL periodically; exit when the schema version changes under it. On
//! SIGTERM/SIGINT: stop claiming, wait ≤ 3 s for the request in flight, release its leases, exit
//! 0; a second signal exits at once.

use crate::client::Client;
use crate::drain::{DrainCfg, Drainer, Pass, parked_and_unchanged};
use crate::error::DrainError;
use crate::lockfile::{self, DaemonLock, LockInfo};
use crate::state::Activity;
use crate::{creds, state};
use difflore_core::clock::{now_ms, rfc3339};
use difflore_core::config::DaemonConfig;
use difflore_core::home::Home;
use difflore_core::outbox::Outbox;
use difflore_core::{logfile, store};
use rusqlite::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub const LOG: &str = "daemon.log";
/// Prefix of every daemon's lease owner.
pub const OWNER_PREFIX: &str = "daemon:";

#[derive(Debug, Clone)]
pub struct RunOpts {
    /// Batch size and poll interval, already range-checked (`[daemon]` or the command line).
    pub daemon: DaemonConfig,
    pub tuning: crate::Tuning,
    /// The version the lock file announces (`daemon start` restarts a daemon of another one).
    pub version: String,
}

impl Default for RunOpts {
    fn default() -> Self {
        RunOpts {
            daemon: DaemonConfig::default(),
            tuning: crate::Tuning::default(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("another daemon is running for this DIFFLORE_HOME{}", .0.as_ref().map(|i| format!(" (pid {})", i.pid)).unwrap_or_default())]
    AlreadyRunning(Option<LockInfo>),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("{0}")]
    Other(String),
}

fn log(home: &Home, level: &str, msg: &str) {
    logfile::append(home, LOG, level, msg);
}

/// The daemon's lock. A `status` probe may hold a shared lock for a moment: retries briefly
/// before giving up.
fn acquire(home: &Home) -> Result<DaemonLock, RunError> {
    for _ in 0..10 {
        match DaemonLock::try_acquire(home)
            .map_err(|e| RunError::Other(format!("cannot open the lock file: {e}")))?
        {
            Ok(l) => return Ok(l),
            Err(lockfile::Held(Some(info))) => return Err(RunError::AlreadyRunning(Some(info))),
            Err(lockfile::Held(None)) => std::thread::sleep(Duration::from_millis(30)),
        }
    }
    Err(RunError::AlreadyRunning(lockfile::read_info(home)))
}

/// Runs the daemon in the foreground until a signal or a schema change. Returns the exit code.
pub fn run(home: &Home, opts: &RunOpts) -> Result<i32, RunError> {
    let mut lock = acquire(home)?;
    let pid = std::process::id();
    let info = LockInfo {
        pid,
        start_time: lockfile::proc_start_time(pid).unwrap_or(0),
        version: opts.version.clone(),
        started_at: now_ms(),
    };
    lock.write_info(&info)
        .map_err(|e| RunError::Other(format!("cannot write the lock file: {e}")))?;
    let conn = store::open_for_write(home)?;
    let released = Outbox::new(&conn)
        .release_leases_of(OWNER_PREFIX)
        .map_err(|e| RunError::Other(e.to_string()))?;
    let _ = state::set_activity(&conn, &Activity::Running);
    log(
        home,
        "INFO",
        &format!(
            "daemon {} started (pid {pid}); released {released} leases of earlier daemons",
            info.version
        ),
    );

    let term = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // A second signal while the first is being handled exits at once.
        let _ = signal_hook::flag::register_conditional_shutdown(sig, 1, term.clone());
        let _ = signal_hook::flag::register(sig, term.clone());
    }
    let exit_requested = Arc::new(AtomicBool::new(false));
    let owner = format!("{OWNER_PREFIX}{pid}:{}", info.start_time);
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let worker = {
        let (home, opts, term, exit_requested, owner) = (
            home.clone(),
            opts.clone(),
            term.clone(),
            exit_requested.clone(),
            owner.clone(),
        );
        std::thread::Builder::new()
            .name("drain".into())
            .spawn(move || {
                if let Err(e) = worker_loop(&home, &opts, &term, &exit_requested, owner) {
                    log(&home, "ERROR", &format!("drain loop stopped: {e}"));
                    exit_requested.store(true, Ordering::SeqCst);
                }
                let _ = done_tx.send(());
            })
            .map_err(|e| RunError::Other(e.to_string()))?
    };
    while !term.load(Ordering::SeqCst) && !exit_requested.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
    term.store(true, Ordering::SeqCst);
    // Wait ≤ 3 s for the request in flight to finish and be settled.
    let finished = done_rx.recv_timeout(Duration::from_secs(3)).is_ok();
    if finished {
        let _ = worker.join();
    }
    let n = Outbox::new(&conn).release_leases_of(&owner).unwrap_or(0);
    let _ = state::set_activity(&conn, &Activity::Stopped);
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);");
    log(
        home,
        "INFO",
        &format!(
            "daemon stopping (pid {pid}){}; released {n} leases",
            if finished {
                ""
            } else {
                " without waiting further for the request in flight"
            }
        ),
    );
    lock.clear();
    drop(lock);
    Ok(0)
}

fn worker_loop(
    home: &Home,
    opts: &RunOpts,
    term: &AtomicBool,
    exit_requested: &AtomicBool,
    owner: String,
) -> Result<(), DrainError> {
    let conn = store::open_for_write(home)?;
    let schema = store::schema_version(&conn)?;
    let mut w = Worker {
        conn: &conn,
        home,
        opts,
        owner,
        cfg: DrainCfg {
            batch_size: opts.daemon.batch_size.get(),
            ..DrainCfg::tuned(&opts.tuning)
        },
        client: None,
        last_maintenance: Instant::now() - Duration::from_secs(3600),
        last_status: None,
    };
    let poll = Duration::from_millis(opts.daemon.poll_ms.get());
    while !term.load(Ordering::SeqCst) {
        // A transient database error (a lock held too long, a full disk) must not kill the
        // daemon: log it, wait, try again. Only a schema change ends the loop.
        match store::schema_version(&conn) {
            Ok(v) if v == schema => {}
            Ok(_) => {
                log(
                    home,
                    "INFO",
                    "the database schema changed under the daemon; exiting so a matching version can take over",
                );
                exit_requested.store(true, Ordering::SeqCst);
                return Ok(());
            }
            Err(e) => {
                log(home, "WARN", &format!("database error, retrying: {e}"));
                idle(&conn, term, poll, Duration::from_secs(1));
                continue;
            }
        }
        w.maintain();
        let wait = match w.ready() {
            Err(wait) => wait,
            Ok(()) => {
                let requested = state::get(&conn, state::DRAIN_REQUESTED_AT)
                    .ok()
                    .flatten()
                    .is_some();
                let wait = w.drain(term);
                w.pull_if_due(requested);
                wait
            }
        };
        idle(&conn, term, poll, wait);
    }
    Ok(())
}

/// The drain loop's state between turns.
struct Worker<'a> {
    conn: &'a Connection,
    home: &'a Home,
    opts: &'a RunOpts,
    owner: String,
    cfg: DrainCfg,
    /// The client for the current credentials (by fingerprint).
    client: Option<(String, Client)>,
    last_maintenance: Instant,
    last_status: Option<Activity>,
}

impl Worker<'_> {
    fn set_status(&mut self, a: Activity) {
        if self.last_status.as_ref() != Some(&a) {
            let _ = state::set_activity(self.conn, &a);
            self.last_status = Some(a);
        }
    }

    /// Every turn: fold the hook's inbox and spool (cheap when empty); every 30 s: age out week-old events and
    /// checkpoint the WAL.
    fn maintain(&mut self) {
        store::fold_hook_events(self.home, self.conn);
        if self.last_maintenance.elapsed() < Duration::from_secs(30) {
            return;
        }
        if let Ok(n) = Outbox::new(self.conn).expire_old(now_ms())
            && n > 0
        {
            log(
                self.home,
                "WARN",
                &format!("{n} events older than 7 days aged out as dead"),
            );
        }
        let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);");
        self.last_maintenance = Instant::now();
    }

    /// Logged in, not parked, with a client for the current credentials; else how long to wait.
    fn ready(&mut self) -> Result<(), Duration> {
        let creds = match creds::load(self.home) {
            Ok(Some(c)) => c,
            Ok(None) => {
                self.set_status(Activity::WaitingForLogin);
                self.client = None;
                return Err(Duration::from_secs(1));
            }
            Err(e) => {
                self.set_status(Activity::CredentialsUnreadable(e.to_string()));
                return Err(Duration::from_secs(1));
            }
        };
        match parked_and_unchanged(self.conn, self.home) {
            Ok(false) => {}
            Ok(true) => return Err(Duration::from_secs(1)),
            Err(e) => {
                log(self.home, "WARN", &format!("database error, retrying: {e}"));
                return Err(Duration::from_secs(1));
            }
        }
        let fp = creds::fingerprint(self.home);
        if self.client.as_ref().is_none_or(|(f, _)| *f != fp) {
            match Client::new(&creds, self.opts.tuning.request_timeout) {
                Ok(c) => {
                    let _ = state::set(self.conn, state::SERVER, &creds.server);
                    self.client = Some((fp, c));
                }
                Err(e) => {
                    self.set_status(Activity::CredentialsRejected(e.to_string()));
                    return Err(Duration::from_secs(5));
                }
            }
        }
        self.set_status(Activity::Running);
        Ok(())
    }

    /// Pulls the team's rules every `pull_interval`, and whenever `sync now` asked.
    fn pull_if_due(&mut self, requested: bool) {
        let Some((_, c)) = self.client.as_ref() else {
            return;
        };
        let last = state::get_i64(self.conn, state::LAST_PULL_AT)
            .ok()
            .flatten()
            .unwrap_or(0);
        let every = self.opts.daemon.pull_interval.get() as i64 * 1000;
        if !requested && now_ms() - last < every {
            return;
        }
        let _ = state::set(self.conn, state::LAST_PULL_AT, &now_ms().to_string());
        match crate::pull::pull(self.conn, c) {
            Ok(r) if r.pulled > 0 => log(
                self.home,
                "INFO",
                &format!(
                    "pulled {} team rules (team version {}): {} written, {} removed",
                    r.pulled, r.version, r.mirror.written, r.mirror.removed
                ),
            ),
            Ok(_) => {}
            Err(e) => log(self.home, "WARN", &format!("pulling the team's rules: {e}")),
        }
    }

    /// Drains back-to-back while there is backlog; returns how long to idle next.
    fn drain(&mut self, term: &AtomicBool) -> Duration {
        let Some((_, c)) = self.client.as_ref() else {
            return Duration::from_secs(1);
        };
        let mut drainer = Drainer::new(
            self.conn,
            self.home,
            c,
            self.owner.clone(),
            self.cfg.clone(),
        );
        let mut pass;
        loop {
            pass = match drainer.pass() {
                Ok(p) => p,
                Err(e) => {
                    // Give this pass's leases back at once (best effort; otherwise they are
                    // re-claimed when they expire): nothing is lost, at worst sent twice.
                    let _ = Outbox::new(self.conn).release_leases_of(&self.owner);
                    log(
                        self.home,
                        "WARN",
                        &format!("database error during a drain, retrying: {e}"),
                    );
                    Pass {
                        last_error: Some(e.to_string()),
                        ..Pass::default()
                    }
                }
            };
            report(self.home, &pass);
            if term.load(Ordering::SeqCst)
                || pass.claimed == 0
                || pass.parked.is_some()
                || pass.breaker_open_until.is_some()
            {
                break;
            }
            if pass.delivered == 0 && pass.dead == 0 {
                break; // failures: let backoff pace the next try
            }
        }
        self.cfg.max_bytes = drainer.cfg.max_bytes;
        let _ = state::delete(self.conn, state::DRAIN_REQUESTED_AT);
        match pass.breaker_open_until {
            Some(until) => Duration::from_millis((until - now_ms()).clamp(50, 60_000) as u64),
            None => Duration::from_secs(1),
        }
    }
}

fn report(home: &Home, p: &Pass) {
    if p.claimed == 0 && p.last_error.is_none() {
        return;
    }
    if let Some(e) = &p.last_error {
        log(
            home,
            "WARN",
            &format!(
                "sent {}, delivered {}, dead {}, retry {}: {e}",
                p.claimed, p.delivered, p.dead, p.retried
            ),
        );
    }
    if let Some(why) = &p.parked {
        log(home, "ERROR", &format!("queue parked: {why}"));
    }
}

/// Sleeps until another connection commits (`PRAGMA data_version` changes), or `max` passes,
/// checking every `poll`.
fn idle(conn: &Connection, term: &AtomicBool, poll: Duration, max: Duration) {
    let version = |c: &Connection| {
        c.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0))
            .ok()
    };
    let start_v = version(conn);
    let start = Instant::now();
    while start.elapsed() < max && !term.load(Ordering::SeqCst) {
        std::thread::sleep(
            poll.min(max.saturating_sub(start.elapsed()))
                .max(Duration::from_millis(1)),
        );
        if version(conn) != start_v {
            return;
        }
    }
}

/// One foreground drain (`sync now` with no daemon running): drains until nothing is due,
/// calling `progress(delivered_so_far, remaining)` after every batch. Returns the total pass.
pub fn drain_now(
    home: &Home,
    tuning: &crate::Tuning,
    progress: &mut dyn FnMut(usize, i64),
) -> Result<Pass, DrainError> {
    let conn = store::open_for_write(home)?;
    let creds = creds::load(home)?.ok_or(DrainError::NotLoggedIn)?;
    if parked_and_unchanged(&conn, home)? {
        let why = state::activity(&conn)
            .ok()
            .flatten()
            .map(|a| a.to_string())
            .unwrap_or_default();
        return Err(DrainError::Parked(why));
    }
    let client = Client::new(&creds, tuning.request_timeout)?;
    let owner = format!("sync-now:{}:{}", std::process::id(), now_ms());
    let mut d = Drainer::new(&conn, home, &client, owner.clone(), DrainCfg::tuned(tuning));
    let mut total = Pass::default();
    loop {
        let p = d.pass()?;
        total.claimed += p.claimed;
        total.delivered += p.delivered;
        total.dead += p.dead;
        total.retried += p.retried;
        if p.last_error.is_some() {
            total.last_error = p.last_error.clone();
        }
        total.parked = p.parked.clone();
        total.breaker_open_until = p.breaker_open_until;
        let remaining = Outbox::new(&conn)
            .summary(now_ms())
            .map(|s| s.counts.pending)
            .unwrap_or(0);
        progress(total.delivered, remaining);
        if p.claimed == 0
            || p.parked.is_some()
            || p.breaker_open_until.is_some()
            || (p.delivered == 0 && p.dead == 0)
        {
            break;
        }
    }
    let _ = Outbox::new(&conn).release_leases_of(&owner);
    Ok(total)
}

/// Human form of a Unix-ms time.
pub fn when(ms: i64) -> String {
    rfc3339(ms)
}
