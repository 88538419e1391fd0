//! Hook hot-path benchmark: wall time of the hook (`difflore-hook`, and `difflore hook` once for
//! comparison) from spawn to exit, compared with spawning `/bin/true` in the same run, on two
//! Claude Code fixtures with unique ids (so every run really inserts): `PreToolUse` Edit, a step
//! that serves nothing (its event goes to the hook's inbox), and `PostToolUse` Read of a file a
//! rule governs (the rule is served and the event recorded in `difflore.db`); with and without
//! another process holding the database open; p99 with 8 concurrent writers; the same while
//! another process holds a write lock for 5 s — on the inbox (events spooled, none lost) and on
//! `difflore.db` (steps that serve nothing do not wait); peak RSS; in-process enqueue and
//! inbox append throughput.
//!
//! Run: `cargo bench -p difflore-cli --bench hook` (set `BENCH_RUNS` to change the sample size).

use difflore_core::home::Home;
use difflore_core::outbox::{EnqueuePolicy, Outbox};
use difflore_core::{clock, inbox, store};
use difflore_proto::EventEnvelope;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn fixture(project: &Path, session: &str, n: usize) -> Vec<u8> {
    fixture_named("PreToolUse-Edit.json", project, session, n)
}

/// A read of `src/billing.rs`, which the bench's rule governs; one session per run, so every
/// run serves the rule.
fn read_fixture(project: &Path, session: &str, n: usize) -> Vec<u8> {
    fixture_named(
        "PostToolUse-Read.json",
        project,
        &format!("{session}{n}"),
        n,
    )
}

fn fixture_named(name: &str, project: &Path, session: &str, n: usize) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/hooks/claude-code")
        .join(name);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    v["tool_use_id"] = format!("toolu_bench_{n}").into();
    v["session_id"] = session.into();
    serde_json::to_string(&v)
        .unwrap()
        .replace("/home/dev/project", &project.display().to_string())
        .into_bytes()
}

fn time_spawn(cmd: &mut Command, stdin: &[u8]) -> Duration {
    let t = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        let mut sin = child.stdin.take().unwrap();
        let _ = sin.write_all(stdin);
    }
    let out = child.wait_with_output().unwrap();
    let d = t.elapsed();
    assert!(out.status.success());
    d
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

struct Setup {
    _dir: tempfile::TempDir,
    home: PathBuf,
    project: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join(".git")).unwrap();
    std::fs::write(
        project.join(".git/config"),
        "[remote \"origin\"]\n\turl = git@github.com:acme/shop.git\n",
    )
    .unwrap();
    store::open_for_write(&Home::at(&home)).unwrap();
    Setup {
        _dir: dir,
        home,
        project,
    }
}

/// The lean `difflore-hook` binary the agents' config calls.
fn hook_cmd(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_difflore-hook"));
    c.args(["--agent", "claude-code"])
        .env("DIFFLORE_HOME", home);
    c
}

/// The same hook through the full `difflore` binary (`difflore hook`), for comparison.
fn full_hook_cmd(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_difflore"));
    c.args(["hook", "--agent", "claude-code"])
        .env("DIFFLORE_HOME", home);
    c
}

type Payload = fn(&Path, &str, usize) -> Vec<u8>;

fn series(
    runs: usize,
    s: &Setup,
    tag: &str,
    cmd: fn(&Path) -> Command,
) -> (Vec<Duration>, Vec<Duration>) {
    series_of(runs, s, tag, cmd, fixture)
}

fn series_of(
    runs: usize,
    s: &Setup,
    tag: &str,
    cmd: fn(&Path) -> Command,
    payload: Payload,
) -> (Vec<Duration>, Vec<Duration>) {
    let payloads: Vec<Vec<u8>> = (0..runs).map(|i| payload(&s.project, tag, i)).collect();
    let mut hook = Vec::with_capacity(runs);
    let mut truth = Vec::with_capacity(runs);
    for p in &payloads {
        // Interleave so both see the same machine conditions.
        truth.push(time_spawn(&mut Command::new("/bin/true"), b""));
        hook.push(time_spawn(&mut cmd(&s.home), p));
    }
    hook.sort();
    truth.sort();
    (hook, truth)
}

fn report(label: &str, hook: &[Duration], truth: &[Duration]) {
    let (h50, h99, t50, t99) = (
        pct(hook, 0.5),
        pct(hook, 0.99),
        pct(truth, 0.5),
        pct(truth, 0.99),
    );
    println!(
        "{label:<44} p50 {:>9}  p99 {:>9}  /bin/true p50 {:>8} p99 {:>8}  ratio {:.2}x",
        ms(h50),
        ms(h99),
        ms(t50),
        ms(t99),
        h50.as_secs_f64() / t50.as_secs_f64()
    );
}

/// `n` threads each running `per` hooks (unique ids); every run's wall time.
fn writers(s: &Setup, n: usize, per: usize, tag: &str) -> Vec<Duration> {
    std::thread::scope(|sc| {
        let hs: Vec<_> = (0..n)
            .map(|w| {
                sc.spawn(move || {
                    (0..per)
                        .map(|i| {
                            time_spawn(
                                &mut hook_cmd(&s.home),
                                &fixture(&s.project, &format!("{tag}{w}"), i),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

/// `runs` hooks from 8 writers while another process holds the write lock of `file` for 5 s.
/// On the inbox (the file these steps write), the hooks that meet the lock wait for it
/// (500 ms), then spool their event; on `difflore.db` they do not wait. None is lost.
fn locked_series(runs: usize, file: &str) {
    let s = setup();
    let db = s.home.join(file);
    let per = runs.max(8) / 8;
    let all: Vec<Duration> = std::thread::scope(|sc| {
        let db = &db;
        sc.spawn(move || {
            let c = rusqlite::Connection::open(db).unwrap();
            std::thread::sleep(Duration::from_millis(200));
            c.execute_batch("BEGIN IMMEDIATE").unwrap();
            std::thread::sleep(Duration::from_secs(5));
            c.execute_batch("COMMIT").unwrap();
        });
        writers(&s, 8, per, "lock")
    });
    let mut all = all;
    all.sort();
    let waited = all
        .iter()
        .filter(|d| **d >= Duration::from_millis(400))
        .count();
    // A writing command folds the inbox and the spool into the outbox.
    let conn = store::open_for_write(&Home::at(&s.home)).unwrap();
    let stored: i64 = conn
        .query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))
        .unwrap();
    println!(
        "{:<44} p50 {:>9}  p99 {:>9}  max {:>9}  ({} runs, {waited} met the lock; {} of {} events stored, {} lost)",
        format!("hook, {file} locked 5 s by another process"),
        ms(pct(&all, 0.5)),
        ms(pct(&all, 0.99)),
        ms(*all.last().unwrap()),
        all.len(),
        stored,
        all.len(),
        all.len() as i64 - stored
    );
}

/// An active rule for `src/**/*.rs` in the bench's repository, added as a person would.
fn add_rule(s: &Setup) {
    let out = Command::new(env!("CARGO_BIN_EXE_difflore"))
        .args([
            "memory",
            "add",
            "--title",
            "Money, not floats",
            "--statement",
            "Use the Money type for amounts; never f64.",
            "--glob",
            "src/**/*.rs",
            "--repo",
            "github.com/acme/shop",
        ])
        .env("DIFFLORE_HOME", &s.home)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    println!(
        "difflore hook benchmark: {runs} runs per series, {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let s = setup();
    let _ = series(50, &s, "warmup", hook_cmd);
    let (hook, truth) = series(runs, &s, "alone", hook_cmd);
    report("hook PreToolUse Edit (db not held open)", &hook, &truth);
    let (hook, truth) = series(runs, &s, "full", full_hook_cmd);
    report("  same through `difflore hook`", &hook, &truth);

    let held = rusqlite::Connection::open(s.home.join("difflore.db")).unwrap();
    let _: i64 = held
        .query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))
        .unwrap();
    let (hook, truth) = series(runs, &s, "held", hook_cmd);
    report("hook PreToolUse Edit (db held open)", &hook, &truth);
    drop(held);

    add_rule(&s);
    let (hook, truth) = series_of(runs, &s, "read", hook_cmd, read_fixture);
    report("hook PostToolUse Read serving a rule", &hook, &truth);

    // 8 concurrent writers.
    let per = runs.max(8) / 8 * 2;
    let mut all = writers(&s, 8, per, "conc");
    all.sort();
    println!(
        "{:<44} p50 {:>9}  p99 {:>9}  ({} runs)",
        "hook with 8 concurrent writers",
        ms(pct(&all, 0.5)),
        ms(pct(&all, 0.99)),
        all.len()
    );

    locked_series(runs, "inbox.db");
    locked_series(runs, "difflore.db");

    // Peak RSS of one hook run, as the kernel counts it (GNU time's %M).
    let payload_file = s.home.join("rss-payload.json");
    std::fs::write(&payload_file, fixture(&s.project, "rss", 0)).unwrap();
    let rss = Command::new("/usr/bin/time")
        .args([
            "-f",
            "%M",
            env!("CARGO_BIN_EXE_difflore"),
            "hook",
            "--agent",
            "claude-code",
        ])
        .env("DIFFLORE_HOME", &s.home)
        .stdin(std::fs::File::open(&payload_file).unwrap())
        .stdout(Stdio::null())
        .output();
    match rss {
        Ok(o) if o.status.success() => println!(
            "{:<44} {} KiB",
            "hook peak RSS",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        _ => println!("hook peak RSS: /usr/bin/time not available, skipped"),
    }

    // In-process enqueue throughput (one transaction per event, as the hook does).
    let conn = store::open_for_hook(&Home::at(&s.home)).unwrap();
    let ob = Outbox::new(&conn);
    let n = 20_000;
    let envs: Vec<EventEnvelope> = (0..n)
        .map(|_| EventEnvelope {
            id: uuid::Uuid::now_v7().to_string(),
            kind: "hook.event".into(),
            occurred_at: clock::rfc3339(clock::now_ms()),
            payload: serde_json::json!({"agent":"claude-code","event":"PreToolUse","files":["src/billing.rs"],"repo":"github.com/acme/shop"}),
        })
        .collect();
    let policy = EnqueuePolicy {
        cap: 1_000_000,
        logged_in: true,
    };
    throughput("in-process enqueue", &envs, |e| {
        ob.enqueue(e, policy, clock::now_ms()).unwrap();
    });
    // The same events appended to the hook's inbox, one commit each, as the hook does.
    let conn = inbox::open_for_hook(&Home::at(&s.home)).unwrap();
    throughput("in-process inbox append", &envs, |e| {
        inbox::append(&conn, e, 1_000_000).unwrap();
    });
}

/// Events per second of `one` over `envs`.
fn throughput(label: &str, envs: &[EventEnvelope], mut one: impl FnMut(&EventEnvelope)) {
    let t = Instant::now();
    envs.iter().for_each(&mut one);
    let el = t.elapsed();
    println!(
        "{label:<44} {:.0} events/s ({} events in {})",
        envs.len() as f64 / el.as_secs_f64(),
        envs.len(),
        ms(el)
    );
}
