//! `difflore init`, `status` and `outbox …` as a user runs them: JSON shapes (DESIGN §9),
//! tables, retry and purge, and clear errors on bad input.

mod common;
use common::Env;
use difflore_core::home::Home;
use difflore_core::outbox::{FailClass, Outbox};
use serde_json::Value;

fn seeded() -> (Env, Vec<String>) {
    let e = Env::init();
    for f in [
        "PreToolUse-Edit.json",
        "PostToolUse-Edit.json",
        "PreToolUse-Read.json",
        "SessionStart.json",
    ] {
        e.hook(&["--agent", "claude-code"], &e.fixture("claude-code", f));
    }
    // The session start first: steps that serve nothing reach the outbox through the hook's
    // inbox, at the next fold.
    let mut queued = e.queued();
    queued.sort_by_key(|(_, _, p)| p["event"] != "SessionStart");
    let ids: Vec<String> = queued.into_iter().map(|(id, _, _)| id).collect();
    // Settle some rows the way the daemon would.
    let conn = difflore_core::store::open_for_write(&Home::at(e.home())).unwrap();
    let ob = Outbox::new(&conn);
    let now = difflore_core::clock::now_ms();
    let c = ob.claim("test", 2, 1 << 20, 60_000, now).unwrap();
    let claimed: Vec<String> = c.iter().map(|c| c.envelope.id.clone()).collect();
    ob.fail(
        "test",
        &claimed[..1],
        FailClass::Rejected,
        None,
        "kind not allowed",
        now,
    )
    .unwrap();
    ob.fail("test", &claimed[1..2], FailClass::Auth, None, "401", now)
        .unwrap();
    (e, ids)
}

fn json(e: &Env, args: &[&str]) -> Value {
    let (out, err, code) = e.run(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|x| panic!("{args:?}: {x}: {out}"))
}

#[test]
fn outbox_status_json_has_the_pinned_shape() {
    let (e, _) = seeded();
    let v = json(&e, &["outbox", "status", "--json"]);
    assert_eq!(v["schema_version"], 1);
    assert_eq!(
        v["counts"],
        serde_json::json!({"pending": 2, "leased": 0, "dead": 1, "parked": 1})
    );
    assert_eq!(v["dropped"], 0);
    assert_eq!(v["spooled"], 0);
    assert!(v["oldest_pending_age_s"].is_u64());
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "counts",
            "dropped",
            "oldest_pending_age_s",
            "schema_version",
            "spooled"
        ]
    );
    let (out, _, _) = e.run(&["outbox", "status"]);
    assert!(out.contains("PENDING") || out.contains("pending"), "{out}");
    assert!(out.contains("dead") && out.contains("parked"));
}

#[test]
fn list_show_retry_purge() {
    let (e, ids) = seeded();
    let v = json(&e, &["outbox", "list", "--json", "--state", "dead"]);
    let dead = v["events"].as_array().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["last_error"], "rejected: kind not allowed");
    let (out, _, _) = e.run(&["outbox", "list"]);
    assert_eq!(out.lines().count(), 5, "header + 4 rows:\n{out}");
    assert!(out.contains("rejected: kind not allowed"));
    // show by prefix, with payload
    let v = json(&e, &["outbox", "show", &ids[0][..8], "--json"]);
    assert_eq!(v["event"]["payload"]["event"], "SessionStart");
    let (out, _, _) = e.run(&["outbox", "show", &ids[0][..8]]);
    assert!(out.contains("session_start"), "{out}");
    // retry
    let (out, _, code) = e.run(&["outbox", "retry", "--dead"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("1 event back to pending"), "{out}");
    let (out, _, _) = e.run(&["outbox", "retry", "--parked"]);
    assert!(out.starts_with("1 event back to pending"), "{out}");
    let v = json(&e, &["outbox", "status", "--json"]);
    assert_eq!(v["counts"]["pending"], 4);
    // purge
    let (out, _, code) = e.run(&["outbox", "purge", "--dead"]);
    assert_eq!((out.trim(), code), ("purged 0 dead events", 0));
}

#[test]
fn bad_input_gets_clear_errors() {
    let (e, ids) = seeded();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["outbox", "show", "zz"], "not an event id"),
        (vec!["outbox", "show", "ffffffff"], "no queued event"),
        (vec!["outbox", "list", "--state", "lost"], "unknown state"),
        (vec!["outbox", "retry"], "required"),
        (vec!["outbox", "purge"], "--dead"),
    ];
    for (args, needle) in cases {
        let (_, err, code) = e.run(&args);
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // Prefixes shorter than 4 hex digits are refused.
    let (_, err, code) = e.run(&["outbox", "show", &ids[0][..3]]);
    assert_ne!(code, 0);
    assert!(err.contains("at least 4"), "{err}");
}

#[test]
fn status_reports_everything_and_never_writes() {
    let e = Env::new();
    let (out, _, code) = e.run(&["status"]);
    assert_eq!(code, 0);
    assert!(out.contains("not initialised"), "{out}");
    assert!(!e.db().exists(), "status must not create the store");
    let (e, _) = seeded();
    let v = json(&e, &["status", "--json"]);
    assert_eq!(v["schema_version"], 1);
    assert_eq!(
        v["database"]["schema_version"],
        v["database"]["expected_schema_version"]
    );
    assert_eq!(v["outbox"]["counts"]["dead"], 1);
    assert!(v["database"]["size_bytes"].as_u64().unwrap() > 0);
    let (out, _, _) = e.run(&["status"]);
    for needle in [
        "home",
        "database",
        "schema",
        "queue",
        "dropped",
        "last error",
    ] {
        assert!(out.contains(needle), "{needle}: {out}");
    }
    let (out, _, _) = e.run(&["init"]);
    assert!(out.contains("is ready"), "{out}");
}

#[test]
fn help_teaches() {
    let e = Env::new();
    let (out, _, code) = e.run(&["--help"]);
    assert_eq!(code, 0);
    for cmd in ["init", "status", "outbox", "hook"] {
        assert!(out.contains(cmd), "{out}");
    }
    let (out, _, code) = e.run(&["hook", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--agent") && out.contains("exits 0"), "{out}");
}
