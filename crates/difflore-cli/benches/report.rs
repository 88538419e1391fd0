//! `difflore report` at scale (release builds): 10 000 rules and 1 000 000 served events —
//! - locally: this machine's daily totals (`served_daily`, 200 000 rows summing to 1 000 000
//!   events over 20 days, made in SQL) and `difflore report --all-repos --json`, process start to
//!   exit, not logged in;
//! - on the server (SQLite): 10 000 active rules of one repository in the rulebook (proposed
//!   through `/v1/events`), the same counters in `served_daily` and 10 000 recurrences (made in
//!   SQL), and the console's page of one rule — with its recurrence figures and its stale flags
//!   judged against every active rule of its repository — request to last byte as its
//!   maintainer sees it.
//!
//! `cargo bench -p difflore-cli --bench report` (`./bench/report.sh`); `BENCH_RUNS` (default 20
//! reports, 200 pages).

use difflore_test_support::console::Visitor;
use difflore_test_support::http;
use difflore_test_support::server::{Backend, TestServer};
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_difflore");
const RULES: usize = 10_000;
const DAYS: i64 = 20;

fn pct(v: &mut [Duration], q: f64) -> f64 {
    v.sort();
    v[((v.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e3
}

fn day(i: i64) -> String {
    (time::OffsetDateTime::now_utc() - time::Duration::days(i))
        .date()
        .to_string()
}

fn local(runs: usize) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let st = Command::new(BIN)
        .arg("init")
        .env("DIFFLORE_HOME", &home)
        .output()
        .unwrap();
    assert!(st.status.success());
    let c = rusqlite::Connection::open(home.join("difflore.db")).unwrap();
    c.execute_batch(&format!(
        "BEGIN;
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {RULES} - 1)
         INSERT INTO rules (id, title, statement, globs, repo, status, confidence, origin,
                            created_at, updated_at)
         SELECT printf('0192f0c0-0000-7000-8000-%012d', i), 'Rule ' || i,
                'Keep invariant ' || i || ' of module ' || (i % 100) || ' intact',
                json_array('src/mod' || (i % 100) || '/**'), 'github.com/acme/shop', 'active', 0.5,
                'manual', 0, 0
         FROM n;
         COMMIT;"
    ))
    .unwrap();
    let days: Vec<String> = (0..DAYS).map(day).collect();
    let tx = c.unchecked_transaction().unwrap();
    {
        let mut ins = tx
            .prepare(
                "INSERT INTO served_daily (day, rule_id, agent, repo, moment, count)
                 VALUES (?1, ?2, 'claude-code', 'github.com/acme/shop', 'read', 5)",
            )
            .unwrap();
        for i in 0..RULES {
            let id = format!("0192f0c0-0000-7000-8000-{i:012}");
            for d in &days {
                ins.execute(rusqlite::params![d, id]).unwrap();
            }
        }
    }
    tx.commit().unwrap();
    let events: i64 = c
        .query_row("SELECT SUM(count) FROM served_daily", [], |r| r.get(0))
        .unwrap();
    assert_eq!(events, 1_000_000);
    drop(c);
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let o = Command::new(BIN)
            .args(["report", "--all-repos", "--json"])
            .env("DIFFLORE_HOME", &home)
            .current_dir(dir.path())
            .output()
            .unwrap();
        times.push(t.elapsed());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["rules"].as_array().unwrap().len(), RULES);
        assert_eq!(v["rules"][0]["served"], DAYS * 5);
    }
    println!(
        "local     report, {RULES} rules, 1 000 000 served  p50 {:>7.0} ms  p99 {:>7.0} ms (process start to exit)",
        pct(&mut times, 0.5),
        pct(&mut times, 0.99)
    );
}

fn server(runs: usize) {
    let s = TestServer::start(&Backend::Sqlite);
    let dev = s.token("bench", "ingest");
    let id = uuid::Uuid::now_v7().to_string();
    let ev = json!({"id": http::new_id(), "kind": "rule.proposed", "occurred_at": "2026-11-29T10:00:00Z",
        "payload": {"rule_id": id, "repo": "github.com/acme/shop", "title": "Money",
            "statement": "Never use f64 for money", "globs": ["src/**"], "severity": "context",
            "origin": "review_import", "confidence": 0.8,
            "evidence": [{"url": "https://gh/p/1#r1", "excerpt": "f64"}]}});
    assert_eq!(http::post(&s.url, Some(&dev), http::batch(&[ev])).0, 200);
    // The rest of the rulebook: distinct statements, all made active (in SQL, as a decision
    // would leave them).
    let others: Vec<Value> = (1..RULES)
        .map(|i| {
            json!({"id": http::new_id(), "kind": "rule.proposed", "occurred_at": "2026-11-29T10:00:00Z",
                "payload": {"rule_id": format!("0192f0c0-0000-7000-8000-{i:012}"),
                    "repo": "github.com/acme/shop", "title": format!("Rule {i}"),
                    "statement": format!("Keep invariant k{i} of module m{i} intact"),
                    "globs": [format!("src/m{}/**", i % 100)], "severity": "context",
                    "origin": "review_import", "confidence": 0.5,
                    "evidence": [{"url": format!("https://gh/p/{i}#r{i}"), "excerpt": "x",
                                  "created_at": "2026-10-01T10:00:00Z"}]}})
        })
        .collect();
    for chunk in others.chunks(500) {
        assert_eq!(http::post(&s.url, Some(&dev), http::batch(chunk)).0, 200);
    }
    let path = s.database.trim_start_matches("sqlite:").to_string();
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute(
        "UPDATE team_rules SET status = 'active',
             body = json_set(body, '$.status', 'active', '$.decided_at', '2026-11-01T00:00:00Z')",
        [],
    )
    .unwrap();
    c.execute(
        "INSERT INTO rule_audit (team, rule_id, action, actor, from_revision, from_version,
                                 to_status, at)
         SELECT team, id, 'approve', 'lead', 1, 1, 'active', '2026-11-01T00:00:00Z' FROM team_rules",
        [],
    )
    .unwrap();
    let tx = c.unchecked_transaction().unwrap();
    {
        let mut rec = tx
            .prepare(
                "INSERT INTO rule_recurrences (team, source, repo, comment_id, rule_id, at, score)
                 VALUES (?1, 'github', 'github.com/acme/shop', ?2, ?3, ?4, 0.8)",
            )
            .unwrap();
        for i in 0..RULES {
            let rid = if i == 0 {
                id.clone()
            } else {
                format!("0192f0c0-0000-7000-8000-{i:012}")
            };
            let at = if i % 2 == 0 {
                "2026-10-20T10:00:00Z"
            } else {
                "2026-11-20T10:00:00Z"
            };
            rec.execute(rusqlite::params![s.team, i.to_string(), rid, at])
                .unwrap();
        }
    }
    {
        let mut ins = tx
            .prepare(
                "INSERT INTO served_daily (team, rule_id, day, agent, repo, moment, count)
                 VALUES (?1, ?2, ?3, 'claude-code', 'github.com/acme/shop', 'read', 5)",
            )
            .unwrap();
        for i in 0..RULES {
            let rid = if i == 0 {
                id.clone()
            } else {
                format!("0192f0c0-0000-7000-8000-{i:012}")
            };
            for d in 0..DAYS {
                ins.execute(rusqlite::params![s.team, rid, day(d)]).unwrap();
            }
        }
    }
    tx.commit().unwrap();
    drop(c);
    let mut lead = Visitor::new(&s.url);
    assert_eq!(lead.sign_in(&s.token("lead", "maintainer")).status, 303);
    let mut times = Vec::new();
    for _ in 0..runs * 10 {
        let t = Instant::now();
        let p = lead.get(&format!("/rules/{id}"));
        times.push(t.elapsed());
        assert_eq!(p.status, 200);
        assert!(
            p.body
                .contains(&format!("<strong>{}</strong> times", DAYS * 5))
        );
        assert!(
            p.body
                .contains("time(s) in the 90 days before it became active")
        );
    }
    println!(
        "sqlite    console rule page, {RULES} active rules, 1 000 000 served  p50 {:>6.2} ms  p99 {:>6.2} ms",
        pct(&mut times, 0.5),
        pct(&mut times, 0.99)
    );
}

fn main() {
    let runs = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    println!(
        "difflore report benchmark, {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    local(runs);
    server(runs);
}
