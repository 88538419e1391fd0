//! Daemon figures against a real `difflore-server` on 127.0.0.1 (release builds): time to
//! deliver a 100 000-event backlog; hook p99 while that drain runs; end-to-end latency from hook
//! exit to the server holding the event with an idle daemon; idle CPU and RSS.
//!
//! Run `./bench/daemon.sh` (builds the server, starts a throwaway PostgreSQL for the second
//! backend). `cargo bench -p difflore-cli --bench daemon` alone runs SQLite only.

use difflore_core::home::Home;
use difflore_core::outbox::{EnqueuePolicy, Outbox};
use difflore_core::{clock, store};
use difflore_test_support::server::{Backend, TestServer};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_difflore");

fn difflore(home: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("DIFFLORE_HOME", home)
        .output()
        .unwrap()
}

fn proc_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(i) = s.rfind(')') else { return 0 };
    let f: Vec<&str> = s[i + 1..].split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

fn proc_kb(pid: u32, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .map(|l| l[key.len()..].trim().to_string())
        .unwrap_or_default()
}

/// Backlog rows (seq ≤ `last`) still in the outbox.
fn backlog_left(home: &Home, last: i64) -> i64 {
    let c = store::open_read_only(home).unwrap();
    c.query_row("SELECT COUNT(*) FROM outbox WHERE seq <= ?1", [last], |r| {
        r.get(0)
    })
    .unwrap()
}

fn hook(home: &Path, payload: &[u8]) -> Duration {
    let t = Instant::now();
    let mut c = Command::new(BIN)
        .args(["hook", "--agent", "claude-code"])
        .env("DIFFLORE_HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(payload).unwrap();
    c.wait().unwrap();
    t.elapsed()
}

fn payload(n: usize) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/hooks/claude-code/PreToolUse-Edit.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    v["tool_use_id"] = format!("toolu_bench_{n}_{}", uuid::Uuid::now_v7()).into();
    serde_json::to_vec(&v).unwrap()
}

fn pct(v: &mut [Duration], q: f64) -> f64 {
    v.sort();
    v[((v.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e3
}

fn run(label: &str, backend: &Backend) {
    let dir = tempfile::tempdir().unwrap();
    let home_path = dir.path().join("home");
    let home = Home::at(&home_path);
    let s = TestServer::start(backend);
    let tf = dir.path().join("tok");
    std::fs::write(&tf, s.token("ingest", "ingest")).unwrap();
    let read = s.token("read", "read");
    assert!(difflore(&home_path, &["init"]).status.success());
    let o = difflore(
        &home_path,
        &[
            "sync",
            "login",
            "--server",
            &s.url,
            "--token-file",
            tf.to_str().unwrap(),
            "--no-daemon",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // 1. A 100 000-event backlog.
    {
        let conn = store::open_for_write(&home).unwrap();
        conn.execute_batch("PRAGMA synchronous=OFF").unwrap();
        let ob = Outbox::new(&conn);
        let policy = EnqueuePolicy {
            cap: 1_000_000,
            logged_in: true,
        };
        for i in 0..100_000 {
            let env = difflore_proto::EventEnvelope {
                id: uuid::Uuid::now_v7().to_string(),
                kind: "hook.event".into(),
                occurred_at: clock::rfc3339(clock::now_ms()),
                payload: serde_json::json!({"agent":"claude-code","event":"PreToolUse","phase":"tool_pre","tool":"Edit","repo":"github.com/acme/shop","files":[format!("src/m{i}.rs")],"sizes":{"stdin_bytes":637}}),
            };
            ob.enqueue(&env, policy, clock::now_ms()).unwrap();
        }
    }
    let last: i64 = store::open_read_only(&home)
        .unwrap()
        .query_row("SELECT MAX(seq) FROM outbox", [], |r| r.get(0))
        .unwrap();
    let t = Instant::now();
    let mut daemon = Command::new(BIN)
        .args(["daemon", "run"])
        .env("DIFFLORE_HOME", &home_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Hooks while the drain runs.
    let mut during = Vec::new();
    let mut n = 0;
    while backlog_left(&home, last) > 0 {
        during.push(hook(&home_path, &payload(n)));
        n += 1;
        if t.elapsed() > Duration::from_secs(300) {
            panic!("drain did not finish in 300 s");
        }
    }
    let drain = t.elapsed();
    let rss_peak = proc_kb(daemon.id(), "VmHWM:");
    println!(
        "{label:<9} 100 000-event backlog delivered in {:.2} s ({:.0} events/s); hook during the drain p50 {:.2} ms p99 {:.2} ms ({} runs)",
        drain.as_secs_f64(),
        100_000.0 / drain.as_secs_f64(),
        pct(&mut during, 0.5),
        pct(&mut during, 0.99),
        during.len()
    );

    // 2. End-to-end latency with an idle daemon: hook exit → visible on the server.
    std::thread::sleep(Duration::from_secs(2));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut cursor = String::new();
    loop {
        let mut r = agent
            .get(format!("{}/v1/events?limit=1000&after={cursor}", s.url))
            .header("Authorization", format!("Bearer {read}"))
            .call()
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        match v["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    let mut lat = Vec::new();
    for i in 0..40 {
        hook(&home_path, &payload(1_000_000 + i));
        let t = Instant::now();
        loop {
            let mut r = agent
                .get(format!("{}/v1/events?limit=10&after={cursor}", s.url))
                .header("Authorization", format!("Bearer {read}"))
                .call()
                .unwrap();
            let v: serde_json::Value =
                serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
            if let Some(c) = v["next_cursor"].as_str() {
                cursor = c.to_string();
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        lat.push(t.elapsed());
        std::thread::sleep(Duration::from_millis(300 + (i as u64 % 7) * 37));
    }
    // 3. Idle CPU and RSS over 10 s.
    std::thread::sleep(Duration::from_secs(1));
    let t0 = proc_ticks(daemon.id());
    std::thread::sleep(Duration::from_secs(10));
    let ticks = proc_ticks(daemon.id()) - t0;
    println!(
        "{label:<9} hook exit → server, idle daemon: p50 {:.0} ms p99 {:.0} ms; idle CPU {:.2} % of a core; RSS {} (peak {rss_peak})",
        pct(&mut lat, 0.5),
        pct(&mut lat, 0.99),
        ticks as f64 / 10.0, // 100 ticks per second → ticks/10 s = percent
        proc_kb(daemon.id(), "VmRSS:")
    );
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let _ = daemon.wait();
}

fn main() {
    run("sqlite", &Backend::Sqlite);
    match std::env::var("DIFFLORE_BENCH_PG_URL") {
        Ok(u) if !u.is_empty() => run("postgres", &Backend::Postgres(u)),
        _ => println!("postgres  skipped (set DIFFLORE_BENCH_PG_URL)"),
    }
}
