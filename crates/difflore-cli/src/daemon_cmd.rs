//! `difflore daemon start|stop|status|run|logs|install|uninstall`.

use crate::cli::{DaemonCommand, RunArgs};
use crate::context::home;
use crate::render;
use anyhow::{Context, bail};
use difflore_core::config::Config;
use difflore_core::config::DaemonConfig;
use difflore_core::home::Home;
use difflore_core::logfile;
use difflore_sync::control::DaemonState;
use difflore_sync::control::{self, StartOutcome, StopOutcome};
use difflore_sync::{daemon, service};
use std::time::Duration;

/// `--batch-size` / `--poll-ms`, else `[daemon]` in config.toml, else defaults (each range-checked
/// where it was read).
pub fn run_opts(home: &Home, a: &RunArgs) -> anyhow::Result<daemon::RunOpts> {
    let cfg = Config::load(&home.config_path())?;
    Ok(daemon::RunOpts {
        daemon: DaemonConfig {
            batch_size: a.batch_size.unwrap_or(cfg.daemon.batch_size),
            poll_ms: a.poll_ms.unwrap_or(cfg.daemon.poll_ms),
            pull_interval: cfg.daemon.pull_interval,
        },
        tuning: crate::context::tuning(),
        // Tests pose as another version to exercise `daemon start`'s restart.
        version: std::env::var("DIFFLORE_TEST_DAEMON_VERSION")
            .unwrap_or_else(|_| env!("CARGO_PKG_VERSION").to_string()),
    })
}

fn run_args(a: &RunArgs) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(b) = a.batch_size {
        v.extend(["--batch-size".to_string(), b.to_string()]);
    }
    if let Some(p) = a.poll_ms {
        v.extend(["--poll-ms".to_string(), p.to_string()]);
    }
    v
}

/// Starts the daemon, printing what happened.
pub fn start(home: &Home, a: &RunArgs) -> anyhow::Result<()> {
    run_opts(home, a)?;
    difflore_core::store::open_for_write(home)?;
    let exe = std::env::current_exe().context("cannot find the difflore executable")?;
    match control::start(home, &exe, &run_args(a))? {
        StartOutcome::Started(i) => println!("daemon started (pid {})", i.pid),
        StartOutcome::AlreadyRunning(i) => println!(
            "daemon already running (pid {}, version {})",
            i.pid, i.version
        ),
        StartOutcome::Restarted { old, new } => println!(
            "daemon restarted: version {} (pid {}) replaced by {} (pid {})",
            old.version, old.pid, new.version, new.pid
        ),
    }
    Ok(())
}

pub fn run(cmd: DaemonCommand) -> anyhow::Result<()> {
    let home = home()?;
    match cmd {
        DaemonCommand::Start(a) => start(&home, &a),
        DaemonCommand::Stop { grace } => {
            match control::stop(&home, Duration::from_secs(grace))? {
                StopOutcome::Terminated(pid) => println!("daemon terminated (pid {pid})"),
                StopOutcome::Killed(pid) => {
                    println!("daemon did not stop within {grace} s: killed (pid {pid})")
                }
                StopOutcome::NotRunning => println!("daemon not running"),
                StopOutcome::StaleCleaned => {
                    println!("daemon not running; cleaned the state a crashed daemon left")
                }
            }
            Ok(())
        }
        DaemonCommand::Status(j) => {
            let s = control::status(&home);
            if j.json {
                return render::json(&s);
            }
            print_status(&s);
            Ok(())
        }
        DaemonCommand::Run(a) => {
            let opts = run_opts(&home, &a)?;
            match daemon::run(&home, &opts) {
                Ok(code) => std::process::exit(code),
                Err(e) => bail!(e),
            }
        }
        DaemonCommand::Logs { lines, follow } => {
            let path = logfile::path(&home, daemon::LOG);
            for l in logfile::tail(&home, daemon::LOG, lines) {
                println!("{l}");
            }
            if follow {
                let mut seen = std::fs::metadata(&path).map_or(0, |m| m.len());
                loop {
                    std::thread::sleep(Duration::from_millis(300));
                    let len = std::fs::metadata(&path).map_or(0, |m| m.len());
                    if len < seen {
                        seen = 0; // rotated
                    }
                    if len > seen {
                        let text = std::fs::read(&path).unwrap_or_default();
                        print!("{}", String::from_utf8_lossy(&text[seen as usize..]));
                        seen = len;
                    }
                }
            } else if !path.exists() {
                eprintln!("no daemon log yet ({})", path.display());
            }
            Ok(())
        }
        DaemonCommand::Install => {
            let exe = std::env::current_exe().context("cannot find the difflore executable")?;
            let (path, enable) = service::install(&exe, &home)?;
            println!("wrote {}", path.display());
            match service::verify(&path)? {
                Some(_) => println!("systemd-analyze verify: ok"),
                None => println!("(not linted: systemd-analyze is not installed)"),
            }
            println!("enable it with:\n  {enable}");
            Ok(())
        }
        DaemonCommand::Uninstall => {
            let (removed, path) = service::uninstall()?;
            if removed {
                println!(
                    "removed {}; disable a loaded unit with `systemctl --user disable --now {}`",
                    path.display(),
                    service::UNIT_NAME
                );
            } else {
                println!("no unit at {}", path.display());
            }
            Ok(())
        }
    }
}

pub fn print_status(s: &control::DaemonStatus) {
    let state = match s.state {
        DaemonState::Running => format!("running (pid {})", s.pid.unwrap_or(0)),
        DaemonState::Stale => {
            "not running (a crashed daemon left its lock file; `difflore daemon stop` cleans it)"
                .into()
        }
        DaemonState::NotRunning => "not running".into(),
    };
    println!("daemon       {state}");
    if let Some(v) = &s.version {
        if s.version_mismatch {
            println!(
                "version      {v} (this difflore is {}: restart with `difflore daemon start`)",
                env!("CARGO_PKG_VERSION")
            );
        } else {
            println!("version      {v}");
        }
    }
    if let Some(u) = s.uptime_s {
        println!("uptime       {}", render::age(u));
    }
    if let Some(a) = &s.activity {
        println!("activity     {a}");
    }
    println!(
        "server       {}",
        s.server.as_deref().unwrap_or("- (not logged in)")
    );
    println!("last drain   {}", s.last_drain_at.as_deref().unwrap_or("-"));
    println!("delivered    {}   failed {}", s.delivered, s.failed);
    if let Some(q) = &s.queue {
        println!(
            "queue        {} pending, {} leased, {} dead, {} parked",
            q.pending, q.leased, q.dead, q.parked
        );
    }
    println!("breaker      {}", s.breaker);
    if let Some(t) = &s.unreachable_since {
        println!("unreachable  since {t}");
    }
    if let Some(e) = &s.last_error {
        println!("last error   {e}");
    }
}
