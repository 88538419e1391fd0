//! The console's review queue with 1 000 pending rules (three pieces of evidence each, excerpts
//! of review-comment length): time to answer `GET /queue` as the signed-in maintainer sees it
//! (request to last byte on loopback, so an upper bound of the server's time) and the page's
//! size; `GET /rules` over the same rulebook for comparison.
//!
//! `cargo bench -p difflore-server --bench console` runs SQLite; with `DIFFLORE_BENCH_PG_URL`
//! set it runs PostgreSQL too (`./bench/console.sh`). `BENCH_RUNS` (default 200) requests each.

use difflore_test_support::console::Visitor;
use difflore_test_support::http;
use difflore_test_support::server::{Backend, TestServer};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const RULES: usize = 1000;

fn proposal(i: usize) -> Value {
    let evidence: Vec<Value> = (0..3)
        .map(|k| {
            json!({
            "url": format!("https://github.com/acme/shop/pull/{}#discussion_r{}", 100 + i, k),
            "source": "github", "author": format!("reviewer{}", (i + k) % 7),
            "path": format!("src/module{}/file{k}.rs", i % 40), "line": 10 + k,
            "excerpt": format!("Please keep invariant {i} here: we broke it twice in production \
                                because the caller assumed the list was sorted. Add a check and a \
                                test for the empty case ({k}).")})
        })
        .collect();
    json!({"id": http::new_id(), "kind": "rule.proposed", "occurred_at": "2026-11-29T10:00:00Z",
        "payload": {"rule_id": uuid::Uuid::now_v7().to_string(), "repo": "github.com/acme/shop",
            "title": format!("Keep invariant {i}"),
            "statement": format!("Keep invariant {i} of module {} checked, with a test for the empty case", i % 40),
            "globs": [format!("src/module{}/**", i % 40)], "severity": "context",
            "origin": "review_import", "confidence": (i % 100) as f64 / 100.0,
            "evidence": evidence}})
}

fn pct(v: &mut [Duration], q: f64) -> f64 {
    v.sort();
    v[((v.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e3
}

fn run(label: &str, backend: &Backend, runs: usize) {
    let s = TestServer::start(backend);
    let dev = s.token("bench", "ingest");
    for chunk in 0..RULES / 500 {
        let events: Vec<Value> = (0..500).map(|i| proposal(chunk * 500 + i)).collect();
        let (st, v) = http::post(&s.url, Some(&dev), http::batch(&events));
        assert_eq!(st, 200, "{v}");
    }
    let mut lead = Visitor::new(&s.url);
    assert_eq!(lead.sign_in(&s.token("lead", "maintainer")).status, 303);
    for (what, path) in [
        ("GET /queue (1 000 pending)", "/queue"),
        ("GET /rules (1 000 rules)", "/rules"),
    ] {
        let mut times = Vec::with_capacity(runs);
        let mut bytes = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let p = lead.get(path);
            times.push(t.elapsed());
            assert_eq!(p.status, 200);
            bytes = p.body.len();
        }
        println!(
            "{label:<9} {what:<28} p50 {:>6.2} ms  p99 {:>6.2} ms  page {:>6.1} KB",
            pct(&mut times, 0.5),
            pct(&mut times, 0.99),
            bytes as f64 / 1024.0
        );
    }
}

fn main() {
    let runs = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    println!(
        "difflore console benchmark, {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    run("sqlite", &Backend::Sqlite, runs);
    match std::env::var("DIFFLORE_BENCH_PG_URL") {
        Ok(u) if !u.is_empty() => run("postgres", &Backend::Postgres(u), runs),
        _ => println!("postgres  skipped (set DIFFLORE_BENCH_PG_URL)"),
    }
}
