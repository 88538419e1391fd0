//! Ingest load benchmark against a real `difflore-server` on 127.0.0.1: clients post batches of
//! 100 events with unique ids (a fixed body would only measure the duplicate path) for a fixed
//! time; reports events/s, request latency percentiles and the server's peak RSS.
//!
//! `cargo bench -p difflore-server --bench ingest` runs SQLite; with `DIFFLORE_BENCH_PG_URL` set
//! it runs PostgreSQL too (`./bench/server.sh` starts a throwaway cluster with fsync on).
//! `BENCH_SECS` (default 10) and `BENCH_CLIENTS` (default 8) change the load.

use difflore_test_support::server::{Backend, TestServer};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn body(n: usize) -> String {
    let events: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "id": uuid::Uuid::now_v7().to_string(),
                "kind": "hook.event",
                "occurred_at": "2026-11-25T17:00:00.000Z",
                "payload": {"agent": "claude-code", "event": "PreToolUse", "phase": "tool_pre",
                            "tool": "Edit", "repo": "github.com/acme/shop",
                            "files": [format!("src/mod{i}.rs")], "sizes": {"stdin_bytes": 637}}
            })
        })
        .collect();
    serde_json::json!({ "events": events }).to_string()
}

fn run(label: &str, backend: &Backend, secs: u64, clients: usize) {
    let mut server = TestServer::start(backend);
    let token = server.token("bench", "ingest");
    let url = server.url.clone();
    let pid = server.child.as_ref().map_or(0, |c| c.id());
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let (url, token, stop) = (url.clone(), token.clone(), stop.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(Duration::from_secs(30)))
                    .build()
                    .into();
                let mut lat = Vec::new();
                let mut accepted = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let b = body(100);
                    let t = Instant::now();
                    let mut r = agent
                        .post(format!("{url}/v1/events"))
                        .header("Authorization", format!("Bearer {token}"))
                        .header("Content-Type", "application/json")
                        .send(b.as_str())
                        .expect("request");
                    let text = r.body_mut().read_to_string().unwrap();
                    lat.push(t.elapsed());
                    accepted += text.matches("\"accepted\"").count();
                }
                (lat, accepted)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    let mut accepted = 0;
    for h in handles {
        let (l, a) = h.join().unwrap();
        lat.extend(l);
        accepted += a;
    }
    let el = start.elapsed().as_secs_f64();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?")
        .to_string();
    server.stop();
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e3;
    println!(
        "{label:<10} {:>8.0} events/s  ({accepted} accepted in {el:.1} s, {} requests of 100)  latency p50 {:.1} ms  p99 {:.1} ms  server peak RSS {}",
        accepted as f64 / el,
        lat.len(),
        p(0.5),
        p(0.99),
        hwm.trim_start_matches("VmHWM:").trim()
    );
}

fn main() {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let clients: usize = std::env::var("BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    println!(
        "difflore-server ingest: {clients} clients, batches of 100 unique events, {secs} s per backend"
    );
    run("sqlite", &Backend::Sqlite, secs, clients);
    match std::env::var("DIFFLORE_BENCH_PG_URL") {
        Ok(u) if !u.is_empty() => run("postgres", &Backend::Postgres(u), secs, clients),
        _ => println!("postgres   skipped (set DIFFLORE_BENCH_PG_URL)"),
    }
}
