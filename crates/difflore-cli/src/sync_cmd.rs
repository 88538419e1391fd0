//! `difflore sync login|logout|status|now`.

use crate::cli::{RunArgs, SyncCommand};
use crate::context::{home, tuning};
use crate::render;
use anyhow::{Context, bail};
use difflore_core::clock::now_ms;
use difflore_core::home::Home;
use difflore_core::outbox::Outbox;
use difflore_core::store;
use difflore_sync::client::Client;
use difflore_sync::control;
use difflore_sync::control::DaemonState;
use difflore_sync::creds::{self, Credentials};
use difflore_sync::pull::{self, PullReport};
use difflore_sync::{daemon, state};
use rusqlite::Connection;
use serde_json::json;
use std::io::{IsTerminal, Read, Write};
use std::time::{Duration, Instant};

/// What `hook.event` and `rules.served` carry to the server (shown by `sync status`).
pub const WHAT_IS_SENT: &[(&str, &str)] = &[
    (
        "hook.event",
        "agent, event, phase, session id, tool name and kind, repo key, repo-relative file paths, sizes; prompts, file contents, commands and output only with [capture] content = true (redacted)",
    ),
    (
        "rules.served",
        "rule ids, repo key, file, agent, session id, mode",
    ),
];

pub fn run(cmd: SyncCommand) -> anyhow::Result<()> {
    let home = home()?;
    match cmd {
        SyncCommand::Login {
            server,
            token_file,
            ca_cert,
            insecure,
            no_daemon,
            upload_backlog,
            discard_backlog,
        } => {
            let url = creds::check_server_url(&server, insecure)?;
            let token = creds::clean_token(&read_token(token_file.as_deref())?)?;
            let ca_cert = match ca_cert {
                Some(p) => Some(
                    std::fs::canonicalize(&p)
                        .with_context(|| format!("cannot read {}", p.display()))?,
                ),
                None => None,
            };
            let c = Credentials {
                server: url.clone(),
                token,
                ca_cert,
                insecure,
            };
            let backlog = Backlog {
                upload: upload_backlog,
                discard: discard_backlog,
            };
            login(&home, &c, backlog, no_daemon)
        }
        SyncCommand::Logout => {
            if difflore_sync::lockfile::is_held(&home) {
                let _ = control::stop(&home, Duration::from_secs(10));
            }
            let had = creds::clear(&home)?;
            if let Ok(conn) = store::open_for_write(&home) {
                let n = pull::forget(&conn)?;
                if n > 0 {
                    println!("removed {n} team rules from this machine's mirror");
                }
            }
            println!(
                "{}",
                if had {
                    "logged out; the queue is kept and will be delivered after the next login"
                } else {
                    "not logged in"
                }
            );
            Ok(())
        }
        SyncCommand::Status(j) => status(&home, j.json),
        SyncCommand::Now(j) => sync_now(&home, j.json),
    }
}

/// The token from `--token-file`, else from the terminal without echo, else from stdin.
fn read_token(token_file: Option<&std::path::Path>) -> anyhow::Result<String> {
    if let Some(p) = token_file {
        return std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()));
    }
    if std::io::stdin().is_terminal() {
        // Read without echo: the secret never reaches the scrollback.
        eprint!("paste the token (it is not shown) and press Enter: ");
        let _ = std::io::stderr().flush();
        let line = console::Term::stderr()
            .read_secure_line()
            .context("cannot read the token from the terminal")?;
        eprintln!();
        return Ok(line);
    }
    let mut s = String::new();
    std::io::stdin().take(8192).read_to_string(&mut s)?;
    Ok(s)
}

/// What to do with events captured before the first login (`--upload-backlog`,
/// `--discard-backlog`; asked on a terminal when neither is given).
#[derive(Debug, Clone, Copy)]
struct Backlog {
    upload: bool,
    discard: bool,
}

/// `sync login`: checks the token with the server, settles the backlog, saves the login and
/// starts the daemon.
fn login(home: &Home, c: &Credentials, backlog: Backlog, no_daemon: bool) -> anyhow::Result<()> {
    let url = &c.server;
    let who = Client::new(c, tuning().request_timeout)?.whoami()?;
    let conn = store::open_for_write(home)?;
    let was_logged_in = creds::load(home).ok().flatten().is_some();
    if !was_logged_in && discard_backlog(&conn, url, backlog)? {
        let n = Outbox::new(&conn).discard_before(now_ms() + 1)?;
        println!("discarded {n} events captured before login");
    }
    creds::save(home, c)?;
    state::set(&conn, state::SERVER, url)?;
    state::set(&conn, "team", &who.team)?;
    println!(
        "logged in to {url} as {:?} of team {:?} (roles: {})",
        who.token_name,
        who.team,
        who.roles.join(", ")
    );
    if !who.roles.iter().any(|r| r == "ingest") {
        eprintln!("warning: this token cannot upload events (it lacks the ingest role)");
    }
    print_pull(&pull_now(home, &conn));
    // Candidates found before this login go to the team too.
    crate::import_cmd::print_offered(&crate::import_cmd::offer(&conn, None)?);
    if no_daemon {
        println!(
            "the daemon was not started (--no-daemon); run `difflore daemon start` or `difflore sync now`"
        );
        return Ok(());
    }
    let defaults = RunArgs {
        batch_size: None,
        poll_ms: None,
    };
    crate::daemon_cmd::start(home, &defaults)
}

/// Whether the events queued before this first login are to be discarded: the flags decide, a
/// terminal user is asked, a script without a flag is refused (nothing changed).
fn discard_backlog(conn: &Connection, url: &str, b: Backlog) -> anyhow::Result<bool> {
    let backlog = Outbox::new(conn).summary(now_ms())?;
    let queued = backlog.counts.pending + backlog.counts.parked;
    if queued == 0 || b.upload || b.discard {
        return Ok(b.discard);
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "{queued} events were captured before this login: pass --upload-backlog to send them to {url}, or --discard-backlog to delete them (nothing was changed)"
        );
    }
    eprint!("{queued} events were captured before this login. Upload them to {url}? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut a = String::new();
    std::io::stdin().read_line(&mut a)?;
    Ok(!matches!(
        a.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// The local mirror of the team's rulebook, for `sync status`.
#[derive(Debug, Default, serde::Serialize)]
struct Rulebook {
    version: i64,
    last_pull_at: Option<String>,
    /// Seconds since the last pull that reached the server: how old the mirror the hooks serve
    /// is (it keeps serving when the server is down).
    last_pull_age_seconds: Option<i64>,
    /// Team rules in the mirror per status.
    rules: std::collections::BTreeMap<String, i64>,
}

fn rulebook(c: &Connection) -> Rulebook {
    let mut rules = std::collections::BTreeMap::new();
    if let Ok(mut st) =
        c.prepare("SELECT status, COUNT(*) FROM rules WHERE location = 'team' GROUP BY status")
        && let Ok(rows) = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
    {
        rules.extend(rows.flatten());
    }
    let last = state::get_i64(c, state::LAST_PULL_AT).ok().flatten();
    Rulebook {
        version: state::get_i64(c, state::RULES_VERSION)
            .ok()
            .flatten()
            .unwrap_or(0),
        last_pull_at: last.map(daemon::when),
        last_pull_age_seconds: last.map(|ms| (difflore_core::clock::now_ms() - ms).max(0) / 1000),
        rules,
    }
}

/// `sync status`: the login, what is sent, the queue and the daemon.
fn status(home: &Home, json_out: bool) -> anyhow::Result<()> {
    let d = control::status(home);
    let ro = store::open_read_only(home).ok();
    let team = ro
        .as_ref()
        .and_then(|c| state::get(c, "team").ok().flatten());
    let book = ro.as_ref().map(rulebook).unwrap_or_default();
    if json_out {
        return render::json(&json!({
            "schema_version": 1,
            "logged_in": d.logged_in,
            "server": d.server,
            "team": team,
            "sends": WHAT_IS_SENT.iter().map(|(k, f)| json!({"kind": k, "fields": f})).collect::<Vec<_>>(),
            "queue": d.queue,
            "daemon": d.state,
            "activity": d.activity,
            "breaker": d.breaker,
            "last_error": d.last_error,
            "unreachable_since": d.unreachable_since,
            "rulebook": book,
        }));
    }
    if d.logged_in {
        println!(
            "logged in    {} (team {})",
            d.server.as_deref().unwrap_or("?"),
            team.as_deref().unwrap_or("?")
        );
    } else {
        println!("logged in    no — events stay on this machine (the last 7 days are kept)");
    }
    println!("sends");
    for (k, f) in WHAT_IS_SENT {
        println!("  {k:<13}{f}");
    }
    if let Some(q) = &d.queue {
        println!(
            "queue        {} pending, {} leased, {} dead, {} parked",
            q.pending, q.leased, q.dead, q.parked
        );
    }
    println!(
        "daemon       {}{}",
        d.state,
        d.activity
            .as_ref()
            .filter(|a| *a != "running")
            .map(|a| format!(" ({a})"))
            .unwrap_or_default()
    );
    if d.logged_in && d.state != DaemonState::Running {
        println!(
            "warning      logged in but no daemon is running: start it with `difflore daemon start`"
        );
    }
    println!("breaker      {}", d.breaker);
    if let Some(t) = &d.unreachable_since {
        println!("unreachable  since {t}");
    }
    if d.logged_in || book.version > 0 {
        println!(
            "team rules   {} mirrored at team version {} ({}); last pull {}",
            book.rules.values().sum::<i64>(),
            book.version,
            if book.rules.is_empty() {
                "none".to_string()
            } else {
                book.rules
                    .iter()
                    .map(|(k, n)| format!("{n} {k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            match (&book.last_pull_at, book.last_pull_age_seconds) {
                (Some(at), Some(age)) => format!("{at} ({} ago)", render::age(age)),
                _ => "never".to_string(),
            }
        );
    }
    if let Some(e) = &d.last_error {
        println!("last error   {e}");
    }
    Ok(())
}

fn bar(total: u64) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} events delivered ({per_sec}, {eta})",
    ) {
        pb.set_style(style);
    }
    pb
}

/// Pulls the team's rules into the local mirror (after delivering): what changed, or why not.
fn pull_now(home: &Home, conn: &Connection) -> Result<PullReport, String> {
    let creds = creds::load(home)
        .map_err(|e| e.to_string())?
        .ok_or("not logged in")?;
    let client = Client::new(&creds, tuning().request_timeout).map_err(|e| e.to_string())?;
    pull::pull(conn, &client).map_err(|e| e.to_string())
}

fn print_pull(pulled: &Result<PullReport, String>) {
    match pulled {
        Ok(r) if r.pulled == 0 => {
            println!("team rules up to date (team version {})", r.version)
        }
        Ok(r) => {
            println!(
                "pulled {} team rules (team version {}): {} written, {} removed, {} local candidates replaced",
                r.pulled, r.version, r.mirror.written, r.mirror.removed, r.mirror.replaced
            );
            if r.mirror.shadowed > 0 {
                println!(
                    "paused {} of your own rules: an active team rule makes the same point \
                     (`difflore memory list --status paused`; `memory resume ID` undoes it)",
                    r.mirror.shadowed
                );
            }
        }
        Err(e) => println!("team rules not pulled: {e}"),
    }
}

fn sync_now(home: &difflore_core::home::Home, json_out: bool) -> anyhow::Result<()> {
    let conn = store::open_for_write(home)?;
    let pending = Outbox::new(&conn).summary(now_ms())?.counts.pending as u64;
    let pb = bar(pending);
    if json_out {
        pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let daemon = control::status(home);
    if daemon.state == DaemonState::Running {
        // Ask the daemon (a commit wakes it) and follow its progress instead of draining beside it.
        state::set(&conn, state::DRAIN_REQUESTED_AT, &now_ms().to_string())?;
        let start_delivered = daemon.delivered;
        let mut last_change = Instant::now();
        let mut last_pending = pending;
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let s = control::status(home);
            let p = s.queue.as_ref().map_or(0, |q| q.pending + q.leased) as u64;
            pb.set_position((s.delivered - start_delivered).max(0) as u64);
            if p != last_pending {
                last_pending = p;
                last_change = Instant::now();
            }
            if p == 0
                || last_change.elapsed() > Duration::from_secs(10)
                || s.state != DaemonState::Running
            {
                pb.finish_and_clear();
                let delivered = (s.delivered - start_delivered).max(0);
                let pulled = pull_now(home, &conn);
                if json_out {
                    render::json(&json!({
                        "schema_version": 1, "by": "daemon", "delivered": delivered, "remaining": p,
                        "error": s.last_error, "unreachable_since": s.unreachable_since,
                        "pulled": pulled.as_ref().ok(), "pull_error": pulled.as_ref().err(),
                    }))?;
                } else {
                    println!("the daemon delivered {delivered} events; {p} remaining");
                    print_pull(&pulled);
                }
                nothing_delivered(
                    delivered as usize,
                    p,
                    s.last_error.as_deref(),
                    s.unreachable_since.as_deref(),
                )?;
                return not_pulled(&pulled);
            }
        }
    }
    let pass = daemon::drain_now(home, &tuning(), &mut |delivered, _| {
        pb.set_position(delivered as u64)
    })?;
    pb.finish_and_clear();
    let remaining = Outbox::new(&conn).summary(now_ms())?.counts;
    let pulled = pull_now(home, &conn);
    if json_out {
        return render::json(&json!({
            "schema_version": 1, "by": "foreground", "delivered": pass.delivered, "dead": pass.dead,
            "remaining": remaining.pending, "error": pass.last_error, "parked": pass.parked,
            "pulled": pulled.as_ref().ok(), "pull_error": pulled.as_ref().err(),
        }));
    }
    println!(
        "delivered {} events; {} dead; {} remaining",
        pass.delivered, pass.dead, remaining.pending
    );
    print_pull(&pulled);
    if let Some(e) = &pass.last_error {
        println!("last error: {e}");
    }
    if let Some(until) = pass.breaker_open_until {
        println!(
            "the server is unreachable; retrying after {}",
            daemon::when(until)
        );
    }
    let since = control::status(home).unreachable_since;
    nothing_delivered(
        pass.delivered,
        remaining.pending as u64,
        pass.last_error.as_deref(),
        since.as_deref(),
    )?;
    not_pulled(&pulled)
}

/// `sync now` fails (exit 1) when the team's rules could not be pulled: the hooks keep serving
/// the last mirror, but a script must not read that as up to date.
fn not_pulled(pulled: &Result<PullReport, String>) -> anyhow::Result<()> {
    match pulled {
        Err(e) => anyhow::bail!("the team's rules were not pulled: {e}"),
        Ok(_) => Ok(()),
    }
}

/// `sync now` fails (exit 1) when events wait and none could be delivered: an outage must not
/// read as success.
fn nothing_delivered(
    delivered: usize,
    remaining: u64,
    last_error: Option<&str>,
    unreachable_since: Option<&str>,
) -> anyhow::Result<()> {
    if delivered > 0 || remaining == 0 {
        return Ok(());
    }
    let why = match (unreachable_since, last_error) {
        (Some(t), Some(e)) => format!("the server has been unreachable since {t} ({e})"),
        (Some(t), None) => format!("the server has been unreachable since {t}"),
        (None, Some(e)) => e.to_string(),
        (None, None) => "no progress".to_string(),
    };
    anyhow::bail!("nothing could be delivered; {remaining} events wait: {why}")
}
