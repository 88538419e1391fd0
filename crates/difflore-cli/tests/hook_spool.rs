//! No event a hook read is lost when the database does not take it in time: real hook
//! processes against a database held locked by another process, or read-only to the hook's user
//! (the hook's inbox for steps that serve nothing, `difflore.db` for steps that serve);
//! the spool keeps the events and the next writing command folds them into the outbox, each
//! exactly once. Serial nextest group (load).

mod common;
use common::*;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A step that serves nothing: its event goes to the hook's inbox.
fn payload(e: &Env, session: &str, n: usize) -> Vec<u8> {
    fixture_payload(e, "PreToolUse-Edit.json", session, n)
}

/// A step that serves (right after an edit): its event goes to `difflore.db`.
fn serving_payload(e: &Env, session: &str, n: usize) -> Vec<u8> {
    fixture_payload(e, "PostToolUse-Edit.json", session, n)
}

fn fixture_payload(e: &Env, name: &str, session: &str, n: usize) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&e.fixture("claude-code", name)).unwrap();
    v["session_id"] = Value::String(session.into());
    v["tool_use_id"] = Value::String(format!("toolu_{n}"));
    serde_json::to_vec(&v).unwrap()
}

/// Event files in the spool, counted without folding it.
fn outbox_spooled(e: &Env) -> usize {
    std::fs::read_dir(e.home().join("spool"))
        .map(|d| {
            d.filter(|f| {
                f.as_ref()
                    .is_ok_and(|f| f.path().extension().is_some_and(|x| x == "json"))
            })
            .count()
        })
        .unwrap_or(0)
}

fn outbox_status(e: &Env) -> Value {
    let (out, err, code) = e.run(&["outbox", "status", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn a_writer_holding_the_lock_for_seconds_loses_no_event() {
    let e = Env::init();
    let total = 160;
    let done = AtomicBool::new(false);
    // The file these steps (they serve nothing) write: the hook's inbox.
    let db = e.inbox();
    std::thread::scope(|sc| {
        // Another process-like writer: holds the write lock 1.5 s at a time, lets go 0.2 s.
        let locker = sc.spawn(|| {
            let c = rusqlite::Connection::open(&db).unwrap();
            let mut held = 0;
            while !done.load(Ordering::SeqCst) {
                c.execute_batch("BEGIN IMMEDIATE").unwrap();
                std::thread::sleep(Duration::from_millis(1500));
                c.execute_batch("COMMIT").unwrap();
                held += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            held
        });
        let workers: Vec<_> = (0..8)
            .map(|w| {
                let e = &e;
                sc.spawn(move || {
                    for i in 0..total / 8 {
                        let (o, took) = e.hook(
                            &["--agent", "claude-code"],
                            &payload(e, &format!("w{w}"), i),
                        );
                        assert_eq!(o.status.code(), Some(0));
                        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "{}");
                        // 900 ms inside the process; the rest is spawn time on a busy machine.
                        assert!(took < Duration::from_secs(3), "within the bound: {took:?}");
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
        assert!(
            locker.join().unwrap() >= 2,
            "the lock was held several times"
        );
    });
    let log = e.hook_log();
    let spooled_lines = log.lines().filter(|l| l.contains("spooled")).count();
    assert!(spooled_lines > 10, "the lock made hooks spool: {log}");
    assert!(!log.contains("lost") && !log.contains("dropped"), "{log}");
    // Any writing command folds the spool: every event exactly once.
    let s = outbox_status(&e);
    assert_eq!(s["spooled"], 0, "{s}");
    assert_eq!(s["dropped"], 0, "{s}");
    assert_eq!(
        s["counts"]["pending"], total as i64,
        "{s}\nhook log:\n{log}"
    );
    let ids: HashSet<String> = e.queued().into_iter().map(|(id, _, _)| id).collect();
    assert_eq!(ids.len(), total);
    assert!(std::fs::read_dir(e.home().join("spool")).unwrap().all(|f| {
        let n = f.unwrap().file_name();
        n == "dropped.count" || n == "bad"
    }));
}

#[test]
fn spooled_event_and_a_late_commit_are_stored_once() {
    // The same firing delivered again after the lock is gone reaches the outbox directly; its
    // spooled copy folds as a duplicate.
    let e = Env::init();
    let p = payload(&e, "s", 1);
    let c = rusqlite::Connection::open(e.inbox()).unwrap();
    c.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (o, _) = e.hook(&["--agent", "claude-code"], &p);
    assert_eq!(o.status.code(), Some(0));
    c.execute_batch("COMMIT").unwrap();
    let (out, _, _) = e.run(&["status", "--json"]);
    let st: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(st["spooled"], 1, "{st}");
    let (out, _, _) = e.run(&["status"]);
    assert!(out.contains("spooled        1"), "{out}");
    e.hook(&["--agent", "claude-code"], &p);
    assert_eq!(e.queue_len(), 1);
    let s = outbox_status(&e);
    assert_eq!(s["counts"]["pending"], 1, "{s}");
    assert_eq!(s["spooled"], 0, "{s}");
    assert!(
        std::fs::read_to_string(e.home().join("logs/spool.log"))
            .unwrap()
            .contains("1 already stored"),
    );
}

#[test]
fn newer_schema_spools_until_an_upgrade_folds_it() {
    let e = Env::init();
    let c = rusqlite::Connection::open(e.db()).unwrap();
    let v: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    c.pragma_update(None, "user_version", v + 1).unwrap();
    for i in 0..3 {
        let (o, _) = e.hook(&["--agent", "claude-code"], &serving_payload(&e, "s", i));
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "{}");
    }
    assert_eq!(outbox_spooled(&e), 3);
    // The newer difflore (played here by restoring the version) folds what waited.
    c.pragma_update(None, "user_version", v).unwrap();
    drop(c);
    let s = outbox_status(&e);
    assert_eq!(s["counts"]["pending"], 3, "{s}");
}

#[test]
fn a_read_only_database_spools_into_a_writable_home() {
    if !is_root() {
        eprintln!("SKIPPED: needs root to run the hook as `nobody` (root ignores permissions)");
        return;
    }
    use std::os::unix::fs::{PermissionsExt, chown};
    let e = Env::init();
    e.hook(&["--agent", "claude-code"], &payload(&e, "s", 0));
    let conn = rusqlite::Connection::open(e.db()).unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    drop(conn);
    // The home and its logs belong to `nobody`; the database files stay root's, read-only to it.
    std::fs::set_permissions(e.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for p in [
        e.home(),
        e.home().join("logs"),
        e.home().join("event_id.key"),
    ] {
        chown(&p, Some(65534), Some(65534)).unwrap();
    }
    for f in std::fs::read_dir(e.home()).unwrap() {
        let p = f.unwrap().path();
        let name = p.to_string_lossy();
        if name.contains("difflore.db") || name.contains("inbox.db") {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let hook_bin = e.bin_for_other_user();
    for i in 1..=6 {
        // Steps that serve nothing and steps that serve: neither file takes them.
        let p = if i % 2 == 0 {
            payload(&e, "s", i)
        } else {
            serving_payload(&e, "s", i)
        };
        let mut c = std::process::Command::new("runuser");
        c.args([
            "-u",
            "nobody",
            "--",
            hook_bin.to_str().unwrap(),
            "hook",
            "--agent",
            "claude-code",
        ])
        .env("DIFFLORE_HOME", e.home())
        .current_dir("/");
        let (o, _) = run_with_stdin(&mut c, &p);
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "{}");
    }
    assert_eq!(outbox_spooled(&e), 6, "neither file was written");
    let s = outbox_status(&e);
    assert_eq!(s["counts"]["pending"], 7, "{s}\n{}", e.hook_log());
}

fn raw_count(path: &std::path::Path, table: &str) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn steps_that_serve_nothing_wait_in_the_inbox_until_the_next_command() {
    let e = Env::init();
    let (o, _) = e.hook(&["--agent", "claude-code"], &payload(&e, "s", 1));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "{}");
    assert_eq!(raw_count(&e.inbox(), "inbox"), 1);
    assert_eq!(raw_count(&e.db(), "outbox"), 0);
    // A step that serves writes the store (what it served and its event, in one commit): the
    // event waits in the store's own inbox table.
    e.hook(&["--agent", "claude-code"], &serving_payload(&e, "s", 2));
    assert_eq!(raw_count(&e.db(), "inbox"), 1);
    assert_eq!(raw_count(&e.db(), "outbox"), 0);
    // `status` reads without writing: it shows what waits in both.
    let (out, _, _) = e.run(&["status", "--json"]);
    let st: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(st["inbox"], 2, "{st}");
    let (out, _, _) = e.run(&["status"]);
    assert!(out.contains("hook inbox     2"), "{out}");
    // Any writing command (here `outbox list`) folds it first.
    let (out, _, code) = e.run(&["outbox", "list", "--json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["events"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(raw_count(&e.inbox(), "inbox"), 0);
    assert_eq!(raw_count(&e.db(), "inbox"), 0);
    assert_eq!(raw_count(&e.db(), "outbox"), 2);
    let (out, _, _) = e.run(&["status", "--json"]);
    let st: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(st["inbox"], 0, "{st}");
}

#[test]
fn without_a_usable_inbox_the_hook_writes_the_store() {
    // A home no command has opened since the upgrade has no inbox yet.
    let e = Env::init();
    for f in ["inbox.db", "inbox.db-wal", "inbox.db-shm"] {
        let _ = std::fs::remove_file(e.home().join(f));
    }
    e.hook(&["--agent", "claude-code"], &payload(&e, "s", 1));
    assert_eq!(raw_count(&e.db(), "inbox"), 1);
    assert!(!e.inbox().exists(), "the hook never creates it");
    // An inbox of a newer difflore is left alone.
    e.run(&["outbox", "status"]);
    assert!(e.inbox().exists(), "the next command created it");
    rusqlite::Connection::open(e.inbox())
        .unwrap()
        .pragma_update(None, "user_version", 2)
        .unwrap();
    e.hook(&["--agent", "claude-code"], &payload(&e, "s", 2));
    assert_eq!(
        raw_count(&e.db(), "outbox"),
        1,
        "the command folded the first"
    );
    assert_eq!(raw_count(&e.db(), "inbox"), 1);
    assert_eq!(raw_count(&e.inbox(), "inbox"), 0);
    assert!(e.hook_log().is_empty(), "{}", e.hook_log());
}
