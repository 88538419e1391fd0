//! Team rulebook figures (release builds, a real `difflore-server` on 127.0.0.1):
//! - the server's apply rate of `rule.proposed` (10 000 new rules, batches of 500);
//! - a full pull of the 10 000-rule rulebook into an empty mirror (`difflore sync now`, process
//!   start to exit) and the bytes it moves; an incremental pull of 10 changes;
//! - the hook's serving latency (Read of a governed file) with those 10 000 team rules mirrored and
//!   active (set in SQL), against `/bin/true` in the same run.
//!
//! Run `./bench/team.sh` (SQLite; PostgreSQL too with `DIFFLORE_BENCH_PG_URL`). `BENCH_RUNS`
//! sets the hook runs (default 300).

use difflore_test_support::http;
use difflore_test_support::server::{Backend, TestServer};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_difflore");
const HOOK: &str = env!("CARGO_BIN_EXE_difflore-hook");
const RULES: usize = 10_000;

fn difflore(home: &Path, cwd: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("DIFFLORE_HOME", home)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn proposal(i: usize) -> Value {
    json!({"id": uuid::Uuid::now_v7().to_string(), "kind": "rule.proposed",
        "occurred_at": "2026-11-29T10:00:00Z", "payload": {
            "rule_id": uuid::Uuid::now_v7().to_string(), "repo": "github.com/acme/shop",
            "title": format!("Rule {i}"),
            "statement": format!("Keep invariant {i} of module {} intact", i % 100),
            "globs": [format!("src/mod{}/**", i % 100)], "severity": "context",
            "origin": "review_import", "confidence": 0.6,
            "evidence": [{"url": format!("https://github.com/acme/shop/pull/{i}#r1"),
                          "source": "github", "comment_id": i.to_string(),
                          "excerpt": "keep this invariant, it broke twice"}]}})
}

fn pct(v: &mut [Duration], q: f64) -> f64 {
    v.sort();
    v[((v.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e3
}

fn run(label: &str, backend: &Backend, hook_runs: usize) {
    let s = TestServer::start(backend);
    let dev = s.token("bench", "ingest");
    let lead = s.token("lead", "maintainer");

    // 1. Apply rate at the server.
    let t = Instant::now();
    for chunk in 0..RULES / 500 {
        let events: Vec<Value> = (0..500).map(|i| proposal(chunk * 500 + i)).collect();
        let (st, v) = http::post(&s.url, Some(&dev), http::batch(&events));
        assert_eq!(st, 200, "{v}");
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{label:<9} apply rule.proposed        {:>8.0} proposals/s ({RULES} new rules in {secs:.2} s)",
        RULES as f64 / secs
    );

    // Bytes of a full pull, as the client pages it.
    let mut bytes = 0usize;
    let mut since = 0i64;
    loop {
        let mut r = http::agent()
            .get(format!("{}/v1/rules?since={since}&limit=500", s.url))
            .header("Authorization", format!("Bearer {dev}"))
            .call()
            .unwrap();
        let text = r
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .unwrap();
        bytes += text.len();
        let v: Value = serde_json::from_str(&text).unwrap();
        match v["next_since"].as_i64() {
            Some(n) if n > since && !v["rules"].as_array().unwrap().is_empty() => since = n,
            _ => break,
        }
    }

    // 2. Full pull into an empty mirror, then an incremental pull of 10 changes.
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let project = dir.path().join("shop");
    std::fs::create_dir_all(project.join(".git")).unwrap();
    std::fs::write(
        project.join(".git/config"),
        "[remote \"origin\"]\n\turl = https://github.com/acme/shop.git\n",
    )
    .unwrap();
    assert!(difflore(&home, &project, &["init"]).status.success());
    let tf = dir.path().join("tok");
    std::fs::write(&tf, &dev).unwrap();
    let o = difflore(
        &home,
        &project,
        &[
            "sync",
            "login",
            "--server",
            &s.url,
            "--token-file",
            tf.to_str().unwrap(),
            "--no-daemon",
            "--upload-backlog",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The login pulled; measure a full pull into an emptied mirror.
    let clear = || {
        let c = rusqlite::Connection::open(home.join("difflore.db")).unwrap();
        c.execute("DELETE FROM rules WHERE location = 'team'", [])
            .unwrap();
        c.execute("DELETE FROM daemon_state WHERE key = 'rules_version'", [])
            .unwrap();
    };
    let mut full = Vec::new();
    for _ in 0..3 {
        clear();
        let t = Instant::now();
        let o = difflore(&home, &project, &["sync", "now"]);
        full.push(t.elapsed());
        assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("pulled {RULES} team rules")));
    }
    println!(
        "{label:<9} full pull, {RULES} rules      median {:>8.0} ms ({:.1} MB over the wire)",
        pct(&mut full, 0.5),
        bytes as f64 / 1e6
    );
    let (_, page) = http::get(&s.url, "/v1/rules?limit=10", Some(&dev));
    let mut inc = Vec::new();
    for round in 0..3 {
        for r in page["rules"].as_array().unwrap() {
            let id = r["id"].as_str().unwrap();
            let action = if round % 2 == 0 { "approve" } else { "pause" };
            let (_, cur) = http::get(&s.url, &format!("/v1/rules/{id}"), Some(&dev));
            let body = json!({"action": action, "expected_revision": cur["revision"]});
            http::agent()
                .post(format!("{}/v1/rules/{id}/decision", s.url))
                .header("Authorization", format!("Bearer {lead}"))
                .send(body.to_string().as_bytes())
                .unwrap();
        }
        let t = Instant::now();
        let o = difflore(&home, &project, &["sync", "now"]);
        inc.push(t.elapsed());
        assert!(String::from_utf8_lossy(&o.stdout).contains("pulled 10 team rules"));
    }
    println!(
        "{label:<9} incremental pull, 10 changes median {:>6.0} ms (process start to exit)",
        pct(&mut inc, 0.5)
    );

    // 3. Hook serving with every mirrored team rule active (set in SQL).
    {
        let c = rusqlite::Connection::open(home.join("difflore.db")).unwrap();
        c.execute(
            "UPDATE rules SET status = 'active' WHERE location = 'team'",
            [],
        )
        .unwrap();
    }
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/hooks/claude-code/PostToolUse-Read.json");
    let base: Value = serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    let (mut hook, mut truth) = (Vec::new(), Vec::new());
    for i in 0..hook_runs {
        let mut v = base.clone();
        v["cwd"] = json!(project.display().to_string());
        v["session_id"] = json!(format!("bench-{i}"));
        v["tool_use_id"] = json!(format!("toolu_bench_{i}"));
        v["tool_input"]["file_path"] = json!(
            project
                .join(format!("src/mod{}/lib.rs", i % 100))
                .display()
                .to_string()
        );
        let input = v.to_string();
        let t = Instant::now();
        let _ = Command::new("/bin/true").status();
        truth.push(t.elapsed());
        let t = Instant::now();
        let mut child = Command::new(HOOK)
            .args(["--agent", "claude-code"])
            .env("DIFFLORE_HOME", &home)
            .current_dir(&project)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut sin = child.stdin.take().unwrap();
            let _ = sin.write_all(input.as_bytes());
        }
        let out = child.wait_with_output().unwrap();
        hook.push(t.elapsed());
        if i == 0 {
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("difflore"),
                "the hook serves team rules: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
    let t50 = pct(&mut truth, 0.5);
    let (h50, h99) = (pct(&mut hook, 0.5), pct(&mut hook, 0.99));
    println!(
        "{label:<9} hook Read, {RULES} team rules  p50 {h50:>6.2} ms  p99 {h99:>6.2} ms  (/bin/true p50 {t50:.2} ms, {:.1}x)",
        h50 / t50
    );
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    println!(
        "difflore team rulebook benchmark, {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    run("sqlite", &Backend::Sqlite, runs);
    match std::env::var("DIFFLORE_BENCH_PG_URL") {
        Ok(u) if !u.is_empty() => run("postgres", &Backend::Postgres(u), runs),
        _ => println!("postgres  skipped (set DIFFLORE_BENCH_PG_URL)"),
    }
}
