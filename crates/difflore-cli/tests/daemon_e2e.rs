//! The daemon end to end: real `difflore hook` processes, a real `difflore daemon` process and a
//! real `difflore-server` (SQLite and PostgreSQL), real signals. Serial nextest group.

mod common;
use common::*;
use serde_json::Value;
use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn hook_payload(e: &Env, session: &str, n: usize) -> Vec<u8> {
    let mut v: Value =
        serde_json::from_slice(&e.fixture("claude-code", "PreToolUse-Edit.json")).unwrap();
    v["session_id"] = Value::String(session.into());
    v["tool_use_id"] = Value::String(format!("toolu_{n}"));
    serde_json::to_vec(&v).unwrap()
}

fn twenty_thousand_hook_events_arrive_exactly_once(b: &Backend) {
    let server = TestServer::start(b);
    let e = Env::init();
    let (out, err, code) = e.login(&server, &server.token("dev", "ingest"), true);
    assert_eq!(code, 0, "{out}{err}");
    // 4 writers × 5 000 real hook processes while the daemon drains.
    let total = 20_000;
    std::thread::scope(|sc| {
        for w in 0..4 {
            let e = &e;
            sc.spawn(move || {
                for i in 0..total / 4 {
                    let (o, _) = e.hook(
                        &["--agent", "claude-code"],
                        &hook_payload(e, &format!("w{w}"), i),
                    );
                    assert_eq!(o.status.code(), Some(0));
                }
            });
        }
    });
    let read = server.token("reader", "read");
    // Generous: the bound only ends a run that is stuck, the figures live in the benches.
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    while server.ids(&read).len() < total {
        if std::time::Instant::now() > deadline {
            panic!(
                "timed out: server holds {} of {total}; queue {}; spooled {}; daemon {}; daemon log:\n{}\nhook log:\n{}",
                server.ids(&read).len(),
                e.counts(),
                e.outbox_json()["spooled"],
                e.daemon_status(),
                e.run(&["daemon", "logs", "-n", "20"]).0,
                e.hook_log()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let ids = server.ids(&read);
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), total, "exactly once");
    assert_eq!(distinct.len(), total);
    wait_for(10, "an empty queue", || {
        e.counts()["pending"] == 0 && e.counts()["leased"] == 0
    });
    assert_eq!(e.counts()["dead"], 0);
    // A busy machine may make some hooks spool (logged as WARN); nothing may be lost.
    let log = e.hook_log();
    assert!(
        !log.lines()
            .any(|l| l.contains("lost") || l.contains("dropped")),
        "no hook lost an event:\n{log}"
    );
    let (out, _, _) = e.run(&["daemon", "stop"]);
    assert!(out.contains("terminated"), "{out}");
}

#[test]
fn e2e_sqlite_twenty_thousand_hook_events() {
    twenty_thousand_hook_events_arrive_exactly_once(&Backend::Sqlite);
}

#[test]
fn e2e_postgres_twenty_thousand_hook_events() {
    if let Some(b) = Backend::postgres() {
        twenty_thousand_hook_events_arrive_exactly_once(&b);
    }
}

fn spawn_daemon(e: &Env, extra_env: &[(&str, &str)]) -> Reaped {
    let mut c = e.cmd(&["daemon", "run", "--batch-size", "50", "--poll-ms", "20"]);
    for (k, v) in extra_env {
        c.env(k, v);
    }
    c.stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Reaped)
        .unwrap()
}

#[test]
fn kill_9_during_a_50000_event_drain_loses_nothing_and_duplicates_nothing() {
    let server = TestServer::start(&Backend::Sqlite);
    let e = Env::init();
    let (_, err, code) = e.login(&server, &server.token("dev", "ingest"), false);
    assert_eq!(code, 0, "{err}");
    let ids = e.enqueue_direct(50_000);
    // A 10-minute lease: finishing quickly proves restarts never wait for lease expiry.
    let env = [("DIFFLORE_TEST_LEASE_MS", "600000")];
    let start = Instant::now();
    let mut kills = 0;
    let mut seed = 0x9E37_79B9u64;
    while kills < 30 {
        let mut d = spawn_daemon(&e, &env);
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(40 + (seed >> 33) % 160));
        d.kill().unwrap(); // SIGKILL
        d.wait().unwrap();
        kills += 1;
    }
    let c = e.counts();
    assert!(
        c["pending"].as_i64().unwrap() + c["leased"].as_i64().unwrap() > 0,
        "the kills must land mid-drain: {c}"
    );
    let mut d = spawn_daemon(&e, &env);
    let read = server.token("reader", "read");
    wait_for(180, "the drain to finish after 30 crashes", || {
        let c = e.counts();
        c["pending"] == 0 && c["leased"] == 0
    });
    let _ = Command::new("kill")
        .args(["-TERM", &d.id().to_string()])
        .status();
    assert_eq!(d.wait().unwrap().code(), Some(0));
    assert!(
        start.elapsed() < Duration::from_secs(240),
        "restarts waited for leases"
    );
    let got = server.ids(&read);
    assert_eq!(got.len(), 50_000, "every event exactly once on the server");
    let got: HashSet<String> = got.into_iter().collect();
    let want: HashSet<String> = ids.into_iter().collect();
    assert_eq!(got, want);
    assert_eq!(e.counts()["dead"], 0);
}

#[test]
fn server_outage_opens_the_breaker_keeps_cpu_low_and_loses_nothing() {
    let mut server = TestServer::start(&Backend::Sqlite);
    let e = Env::init();
    e.login(&server, &server.token("dev", "ingest"), false);
    let env = [
        ("DIFFLORE_TEST_BREAKER_OPEN_MS", "800"),
        ("DIFFLORE_TEST_BACKOFF_BASE_MS", "50"),
        ("DIFFLORE_TEST_BACKOFF_CAP_MS", "200"),
    ];
    let mut d = spawn_daemon(&e, &env);
    let mut want = e.enqueue_direct(200);
    let read = server.token("reader", "read");
    wait_for(30, "first delivery", || server.ids(&read).len() == 200);
    server.stop();
    want.extend(e.enqueue_direct(300));
    wait_for(30, "the breaker to open", || {
        e.daemon_status()["breaker"] != "closed"
    });
    // CPU over 2 s of outage: well under 10 % of a core.
    let cpu = |pid: u32| -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let rest = &s[s.rfind(')').unwrap() + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    };
    let before = cpu(d.id());
    std::thread::sleep(Duration::from_secs(2));
    let ticks = cpu(d.id()) - before;
    assert!(
        ticks < 20,
        "daemon used {ticks} clock ticks in 2 s of outage"
    );
    assert_eq!(e.counts()["dead"], 0, "an outage kills nothing");
    server.spawn();
    wait_for(60, "delivery after the outage", || {
        server.ids(&read).len() == 500
    });
    let got: HashSet<String> = server.ids(&read).into_iter().collect();
    assert_eq!(got, want.into_iter().collect::<HashSet<_>>());
    wait_for(10, "the breaker to close", || {
        e.daemon_status()["breaker"] == "closed"
    });
    let _ = Command::new("kill")
        .args(["-TERM", &d.id().to_string()])
        .status();
    assert_eq!(d.wait().unwrap().code(), Some(0));
    assert_eq!(e.counts()["dead"], 0);
}

#[test]
fn revoked_token_parks_and_a_new_login_resumes() {
    let server = TestServer::start(&Backend::Sqlite);
    let e = Env::init();
    let read = server.token("reader", "read");
    e.login(&server, &server.token("dev", "ingest"), false);
    let mut d = spawn_daemon(&e, &[]);
    let first = e.enqueue_direct(50);
    wait_for(30, "delivery", || server.ids(&read).len() == 50);
    server.revoke("dev");
    let second = e.enqueue_direct(50);
    wait_for(30, "the queue to park", || {
        e.counts()["parked"].as_i64().unwrap() > 0
    });
    let st = e.daemon_status();
    assert!(st["activity"].as_str().unwrap().contains("parked"), "{st}");
    assert_eq!(e.counts()["dead"], 0, "parked, not dead");
    // A new login (no backlog question: we were logged in) unparks and flows.
    let (out, err, code) = e.login(&server, &server.token("dev2", "ingest"), false);
    assert_eq!(code, 0, "{out}{err}");
    wait_for(30, "delivery after re-login", || {
        server.ids(&read).len() == 100
    });
    let got: HashSet<String> = server.ids(&read).into_iter().collect();
    assert_eq!(got, first.into_iter().chain(second).collect::<HashSet<_>>());
    let _ = Command::new("kill")
        .args(["-TERM", &d.id().to_string()])
        .status();
    d.wait().unwrap();
}

#[test]
fn wrong_url_parks_as_a_configuration_error() {
    let server = TestServer::start(&Backend::Sqlite);
    let e = Env::init();
    e.login(&server, &server.token("dev", "ingest"), false);
    // Point at a path where no difflore-server answers: every request gets 404.
    let cfg = std::fs::read_to_string(e.home().join("config.toml")).unwrap();
    std::fs::write(
        e.home().join("config.toml"),
        cfg.replace(&server.url, &format!("{}/not-here", server.url)),
    )
    .unwrap();
    e.enqueue_direct(30);
    let mut d = spawn_daemon(&e, &[("DIFFLORE_TEST_BACKOFF_BASE_MS", "10")]);
    wait_for(30, "the queue to park", || e.counts()["parked"] == 30);
    assert_eq!(e.counts()["dead"], 0);
    let st = e.daemon_status();
    assert!(
        st["activity"]
            .as_str()
            .unwrap()
            .contains("configuration error"),
        "{st}"
    );
    let (out, _, _) = e.run(&["status"]);
    assert!(
        out.contains("configuration error") || out.contains("parked"),
        "{out}"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &d.id().to_string()])
        .status();
    d.wait().unwrap();
}
