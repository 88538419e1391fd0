//! Hostile input and broken environments for the real `difflore hook` process: whatever
//! arrives, it exits 0 with the agent's no-op answer, within the time bound, and loses nothing
//! already queued.

mod common;
use common::{Env, is_root, run_with_stdin};
use proptest::prelude::*;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_secs(2);

fn assert_noop(out: &std::process::Output, took: Duration, expect: &str, what: &str) {
    assert_eq!(out.status.code(), Some(0), "{what}: exit code");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        expect,
        "{what}: answer"
    );
    assert!(took < BOUND, "{what}: took {took:?}");
}

#[test]
fn empty_binary_truncated_and_wrong_shape_inputs() {
    let e = Env::init();
    let mut big = b"{\"hook_event_name\":\"PreToolUse\",\"x\":\"".to_vec();
    big.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
    big.extend_from_slice(b"\"}");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("whitespace", b"   \n\t ".to_vec()),
        ("10 MB", big),
        ("invalid utf-8", b"{\"hook_event_name\":\"PreToolUse\",\"x\":\"\xff\xfe\"}".to_vec()),
        ("binary", (0..=255u8).cycle().take(4096).collect()),
        ("truncated", br#"{"session_id":"s","hook_event_name":"PreTo"#.to_vec()),
        ("array", b"[1,2,3]".to_vec()),
        ("string", b"\"PreToolUse\"".to_vec()),
        ("number", b"42".to_vec()),
        ("null", b"null".to_vec()),
        ("no event name", br#"{"session_id":"s"}"#.to_vec()),
        ("event name not a string", br#"{"hook_event_name":7}"#.to_vec()),
        ("unknown event", br#"{"hook_event_name":"Teleport","session_id":"s"}"#.to_vec()),
        ("wrong field types", br#"{"hook_event_name":"PreToolUse","session_id":5,"tool_name":[],"tool_input":"x","cwd":{}}"#.to_vec()),
        ("deep nesting", format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes()),
    ];
    for (what, input) in &cases {
        let (out, took) = e.hook(&["--agent", "claude-code"], input);
        assert_noop(&out, took, "{}", what);
    }
    // The well-formed events among them are kept: wrong field types but a known event, and the
    // 10 MB one, whose long string is cut while reading (its content marked dropped).
    assert!(e.queue_len() <= 2);
    for (_, _, p) in e.queued() {
        if p["sizes"]["stdin_bytes"].as_u64().unwrap_or(0) > 10_000_000 {
            assert_eq!(p["content_dropped"], true, "{p}");
        }
    }
}

#[test]
fn stdin_left_open_does_not_hang() {
    let e = Env::init();
    // 1. Nothing written, stdin never closed.
    let mut c = e.cmd(&["hook", "--agent", "claude-code"]);
    let start = Instant::now();
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let held = child.stdin.take();
    let out = child.wait_with_output().unwrap();
    assert_noop(&out, start.elapsed(), "{}", "silent open stdin");
    drop(held);
    // 2. A complete event written, stdin kept open: answered without waiting for EOF.
    let mut c = e.cmd(&["hook", "--agent", "claude-code"]);
    let start = Instant::now();
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut sin = child.stdin.take().unwrap();
    sin.write_all(&e.fixture("claude-code", "PreToolUse-Edit.json"))
        .unwrap();
    sin.flush().unwrap();
    let out = child.wait_with_output().unwrap();
    let took = start.elapsed();
    // Waiting for EOF would never end: the bound of assert_noop proves it did not.
    assert_noop(&out, took, "{}", "event then open stdin");
    drop(sin);
    assert_eq!(e.queue_len(), 1, "the event was captured");
    // 3. A slow trickle that never completes: bounded by the read deadline.
    let mut c = e.cmd(&["hook", "--agent", "codex"]);
    let start = Instant::now();
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut sin = child.stdin.take().unwrap();
    let trickle = std::thread::spawn(move || {
        for _ in 0..40 {
            if sin.write_all(b"{\"a\":[").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let out = child.wait_with_output().unwrap();
    assert_noop(&out, start.elapsed(), "{}", "trickle");
    let _ = trickle.join();
}

#[test]
fn bad_agent_and_bad_arguments_never_fail() {
    let e = Env::init();
    let payload = e.fixture("claude-code", "PreToolUse-Edit.json");
    for args in [
        vec!["--agent", "vim"],
        vec![],
        vec!["--agent"],
        vec!["--frobnicate", "--agent", "claude-code", "extra", "-x"],
        vec!["--agent=", "--"],
    ] {
        let (out, took) = e.hook(&args, &payload);
        assert_noop(&out, took, "{}", &format!("{args:?}"));
    }
    // Cursor's permission events still get their allow answer on garbage after the name.
    let (out, took) = e.hook(
        &["--agent", "cursor"],
        br#"{"hook_event_name":"beforeShellExecution","command":"ls"#,
    );
    assert_noop(
        &out,
        took,
        r#"{"permission":"allow"}"#,
        "truncated cursor event",
    );
}

#[test]
fn missing_newer_and_corrupt_databases_fail_open() {
    // Never initialised.
    let e = Env::new();
    let payload = e.fixture("claude-code", "PreToolUse-Edit.json");
    let (out, took) = e.hook(&["--agent", "claude-code"], &payload);
    assert_noop(&out, took, "{}", "not initialised");
    assert!(e.hook_log().contains("difflore init"), "{}", e.hook_log());
    // Newer schema than this binary: logged once, CLI errors clearly. A step that serves
    // (here: right after an edit) needs the store; one that serves nothing goes to the inbox.
    let serving = e.fixture("claude-code", "PostToolUse-Edit.json");
    let e = Env::init();
    let c = rusqlite::Connection::open(e.db()).unwrap();
    c.pragma_update(None, "user_version", 99).unwrap();
    drop(c);
    for _ in 0..3 {
        let (out, took) = e.hook(&["--agent", "claude-code"], &serving);
        assert_noop(&out, took, "{}", "newer schema");
    }
    let (out, took) = e.hook(&["--agent", "claude-code"], &payload);
    assert_noop(&out, took, "{}", "newer schema, nothing to serve");
    let log = e.hook_log();
    assert_eq!(
        log.matches("schema version 99").count(),
        1,
        "logged once: {log}"
    );
    let (_, err, code) = e.run(&["outbox", "status"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("newer than this difflore") && err.contains("upgrade"),
        "{err}"
    );
    let (out, _, code) = e.run(&["status"]);
    assert_eq!(code, 0);
    assert!(out.contains("MISMATCH"), "{out}");
    // Corrupt file.
    let e = Env::init();
    std::fs::remove_file(e.home().join("difflore.db-wal")).ok();
    std::fs::write(e.db(), vec![0x5au8; 16384]).unwrap();
    let (out, took) = e.hook(&["--agent", "claude-code"], &serving);
    assert_noop(&out, took, "{}", "corrupt");
    assert!(e.hook_log().contains("corrupt"), "{}", e.hook_log());
    let (_, err, code) = e.run(&["outbox", "list"]);
    assert_eq!(code, 1);
    assert!(err.contains("corrupt"), "{err}");
}

#[test]
fn locked_database_answers_within_the_bound() {
    let e = Env::init();
    // A step that serves (right after an edit) reads and writes the store.
    let payload = e.fixture("claude-code", "PostToolUse-Edit.json");
    let c = rusqlite::Connection::open(e.db()).unwrap();
    c.execute_batch("BEGIN EXCLUSIVE; INSERT INTO settings VALUES ('x','y');")
        .unwrap();
    let (out, took) = e.hook(&["--agent", "claude-code"], &payload);
    assert_noop(&out, took, "{}", "locked");
    assert!(
        took >= Duration::from_millis(400),
        "waited for the lock: {took:?}"
    );
    assert!(e.hook_log().contains("locked"), "{}", e.hook_log());
    // A step that serves nothing does not wait for the store's lock: its event goes to the
    // hook's inbox.
    let quiet = e.fixture("claude-code", "PreToolUse-Edit.json");
    let (out, took) = e.hook(&["--agent", "claude-code"], &quiet);
    assert_noop(&out, took, "{}", "locked store, nothing to serve");
    assert!(
        took < Duration::from_millis(400),
        "did not wait for the store's lock: {took:?}"
    );
    c.execute_batch("COMMIT").unwrap();
    let (out, took) = e.hook(&["--agent", "claude-code"], &payload);
    assert_noop(&out, took, "{}", "unlocked");
    // The spooled copy of the first firing and the second firing are one event; plus the
    // inbox's.
    assert_eq!(e.queue_len(), 2);
    // The inbox locked in turn: the step that serves nothing waits for it, then spools.
    let c = rusqlite::Connection::open(e.inbox()).unwrap();
    c.execute_batch("BEGIN EXCLUSIVE; INSERT INTO settings VALUES ('x','y');")
        .unwrap();
    let mut other: serde_json::Value = serde_json::from_slice(&quiet).unwrap();
    other["tool_use_id"] = "toolu_other".into();
    let other = serde_json::to_vec(&other).unwrap();
    let (out, took) = e.hook(&["--agent", "claude-code"], &other);
    assert_noop(&out, took, "{}", "locked inbox");
    assert!(
        took >= Duration::from_millis(400),
        "waited for the inbox's lock: {took:?}"
    );
    c.execute_batch("COMMIT").unwrap();
    assert_eq!(e.queue_len(), 3, "{}", e.hook_log());
}

#[test]
fn read_only_home_as_an_unprivileged_user() {
    if !is_root() {
        eprintln!("SKIPPED: needs root to run the hook as `nobody` (root ignores chmod)");
        return;
    }
    let e = Env::init();
    let payload = e.fixture("claude-code", "PreToolUse-Edit.json");
    e.hook(&["--agent", "claude-code"], &payload);
    assert_eq!(e.queue_len(), 1);
    // The home stays owned by root (0700/0600): `nobody` can neither write nor even read it.
    // Make the path traversable so the failure is the database's, not a missing directory.
    for p in [e.dir.path().to_path_buf(), e.home()] {
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(e.db(), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let other = e.fixture("claude-code", "PostToolUse-Edit.json");
    let mut c = Command::new("runuser");
    c.args([
        "-u",
        "nobody",
        "--",
        e.bin_for_other_user().to_str().unwrap(),
        "hook",
        "--agent",
        "claude-code",
    ])
    .env("DIFFLORE_HOME", e.home())
    .current_dir("/");
    let (out, took) = run_with_stdin(&mut c, &other);
    assert_noop(&out, took, "{}", "read-only home");
    assert_eq!(e.queue_len(), 1, "nothing lost, nothing added");
}

#[test]
fn full_disk_fails_open_and_loses_nothing() {
    let e = Env::init();
    let payload = e.fixture("claude-code", "PreToolUse-Edit.json");
    e.hook(&["--agent", "claude-code"], &payload);
    // Checkpoint so the WAL is empty and any new write must grow a file.
    let c = rusqlite::Connection::open(e.db()).unwrap();
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    drop(c);
    // RLIMIT_FSIZE=0 makes every file extension fail (EFBIG), as a full disk would (ENOSPC).
    // SIGXFSZ is ignored by the shell and stays ignored across exec.
    let other = e.fixture("claude-code", "PostToolUse-Edit.json");
    let script = format!(
        "trap '' XFSZ; ulimit -f 0; exec '{}' hook --agent claude-code",
        common::bin()
    );
    let mut c = Command::new("sh");
    c.args(["-c", &script]).env("DIFFLORE_HOME", e.home());
    let (out, took) = run_with_stdin(&mut c, &other);
    assert_noop(&out, took, "{}", "full disk");
    assert_eq!(e.queue_len(), 1);
    let c = rusqlite::Connection::open(e.db()).unwrap();
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_always_get_the_noop(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let e = Env::init();
        let (out, took) = e.hook(&["--agent", "gemini"], &bytes);
        prop_assert_eq!(out.status.code(), Some(0));
        let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
        prop_assert_eq!(answer.as_str(), "{}");
        prop_assert!(took < BOUND);
    }

    #[test]
    fn arbitrary_json_always_gets_the_noop(v in arb_json()) {
        let e = Env::init();
        let (out, took) = e.hook(&["--agent", "codex"], v.to_string().as_bytes());
        prop_assert_eq!(out.status.code(), Some(0));
        let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
        prop_assert_eq!(answer.as_str(), "{}");
        prop_assert!(took < BOUND);
        prop_assert!(!e.hook_log().contains("panic"));
    }
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just("PreToolUse".to_string()),
            Just("SessionStart".to_string()),
            Just("/tmp".to_string()),
            "\\PC{0,40}",
        ]
        .prop_map(Value::String),
    ];
    let keys = prop_oneof![
        Just("hook_event_name".to_string()),
        Just("session_id".to_string()),
        Just("tool_name".to_string()),
        Just("tool_input".to_string()),
        Just("cwd".to_string()),
        Just("file_path".to_string()),
        Just("command".to_string()),
        "[a-z_]{1,12}",
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(keys.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
