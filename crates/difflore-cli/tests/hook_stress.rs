//! Load and crash safety of the real hook processes: many writers at once, and `kill -9` at
//! random moments. Runs in the serial nextest group (see `.config/nextest.toml`).

mod common;
use common::Env;
use serde_json::Value;
use std::collections::HashSet;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

fn payload(e: &Env, session: &str, tool_use: &str) -> Vec<u8> {
    let mut v: Value =
        serde_json::from_slice(&e.fixture("claude-code", "PreToolUse-Edit.json")).unwrap();
    v["session_id"] = Value::String(session.into());
    v["tool_use_id"] = Value::String(tool_use.into());
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn eight_processes_times_500_hooks_store_exactly_4000_rows() {
    let e = Env::init();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let payloads: Vec<Vec<u8>> = (0..500)
                .map(|i| payload(&e, &format!("writer-{w}"), &format!("toolu_{i}")))
                .collect();
            let home = e.home();
            std::thread::spawn(move || {
                let mut failures = 0;
                for p in payloads {
                    let mut c = std::process::Command::new(common::bin());
                    c.args(["hook", "--agent", "claude-code"])
                        .env("DIFFLORE_HOME", &home);
                    let (out, _) = common::run_with_stdin(&mut c, &p);
                    if out.status.code() != Some(0) || out.stdout != b"{}\n" {
                        failures += 1;
                    }
                }
                failures
            })
        })
        .collect();
    let failures: i32 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(failures, 0);
    // Short-lived hook processes alone keep the WAL short (no daemon checkpoints here), before
    // any command's close could checkpoint it: a new connection finds about one round of the
    // hooks' bound (256 frames, plus what the other writers appended meanwhile), not the ~4 000
    // frames 4000 events take, and the file stays near its high-water mark. These steps serve
    // nothing: the file they write is the hook's inbox.
    let wal = std::fs::metadata(e.home().join("inbox.db-wal")).map_or(0, |m| m.len());
    assert!(wal > 0, "the hooks wrote the inbox");
    assert!(wal < 4 * 1024 * 1024, "WAL grew to {wal} bytes");
    let frames: i64 = rusqlite::Connection::open(e.inbox())
        .unwrap()
        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
        .unwrap();
    let bound = 2 * i64::from(difflore_core::inbox::WAL_TRIM_FRAMES);
    assert!(
        frames <= bound,
        "{frames} frames in the WAL after 4000 hooks (bound {bound})"
    );
    // On a loaded machine a hook may wait out its 500 ms lock bound; it then spools its event
    // (logged as a warning) and a writing command folds the spool into the queue.
    let (_, err, code) = e.run(&["outbox", "status"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(e.queue_len(), 4000);
    let log = e.hook_log();
    assert!(
        log.lines()
            .all(|l| l.contains("WARN") && l.contains("spooled")),
        "nothing but spool warnings logged:\n{log}"
    );
    let sessions: HashSet<String> = e
        .queued()
        .into_iter()
        .map(|(id, _, p)| format!("{id}/{}", p["session"]))
        .collect();
    assert_eq!(sessions.len(), 4000, "4000 distinct events");
}

#[test]
fn kill_9_at_random_moments_never_loses_an_acknowledged_event() {
    let e = Env::init();
    // Kill moments spread over [0, 2 × a typical run] on this machine, however fast or busy it
    // is, so that some runs finish and some are cut at every stage.
    let mut typical: Vec<u64> = (0..7)
        .map(|i| {
            let (_, took) = e.hook(
                &["--agent", "claude-code"],
                &payload(&e, &format!("calibrate-{i}"), "toolu_1"),
            );
            took.as_micros() as u64
        })
        .collect();
    typical.sort_unstable();
    let span = (typical[3] * 2).max(1_000);
    let mut acknowledged = Vec::new();
    let mut killed = 0;
    for i in 0..240 {
        let session = format!("crash-{i}");
        let p = payload(&e, &session, "toolu_1");
        let mut child = e
            .cmd(&["hook", "--agent", "claude-code"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut sin = child.stdin.take().unwrap();
        let _ = sin.write_all(&p);
        drop(sin);
        std::thread::sleep(Duration::from_micros(fastrand_u64(i) % span));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.code() == Some(0) {
            acknowledged.push(session);
        } else {
            killed += 1;
        }
    }
    assert!(
        killed >= 20,
        "too few runs were killed ({killed}) to mean anything"
    );
    assert!(
        acknowledged.len() >= 20,
        "too few runs finished ({})",
        acknowledged.len()
    );
    // A writing command folds anything a hook spooled into the queue.
    let (_, err, code) = e.run(&["outbox", "status"]);
    assert_eq!(code, 0, "{err}");
    let c = rusqlite::Connection::open(e.db()).unwrap();
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let queued: HashSet<String> = e
        .queued()
        .into_iter()
        .map(|(_, _, p)| p["session"].as_str().unwrap().to_string())
        .collect();
    for s in &acknowledged {
        assert!(
            queued.contains(s),
            "event of {s} exited 0 but is not queued"
        );
    }
    // The store still works after all that.
    let (out, _) = e.hook(&["--agent", "claude-code"], &payload(&e, "after", "t"));
    assert_eq!(out.status.code(), Some(0));
    assert!(e.queued().iter().any(|(_, _, p)| p["session"] == "after"));
}

/// A cheap deterministic spread of delays (no extra dependency).
fn fastrand_u64(i: u64) -> u64 {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 32)
}
