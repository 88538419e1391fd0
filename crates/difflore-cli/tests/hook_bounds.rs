//! The hook's bounds under attack, through the real process: a huge edit still meets the gate
//! and is recorded (its content marked dropped), every stored field is bounded so the server can
//! never refuse an event for its size, paths that only look relative are treated as outside, and
//! input that can never be an event is drained (the writer sees no broken pipe).

mod common;
use common::Env;
use serde_json::Value;
use std::io::Write;
use std::process::Stdio;

fn env_with_enforced_rule() -> Env {
    let e = Env::init();
    let (_, err, code) = e.run(&[
        "memory",
        "add",
        "--repo",
        "github.com/acme/shop",
        "--title",
        "Money",
        "--statement",
        "Use Money instead of f64 for amounts.",
        "--glob",
        "src/*.rs",
        "--enforce",
    ]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(e.home().join("config.toml"), "[serving]\nmode = \"gate\"\n").unwrap();
    e
}

fn write_of(e: &Env, session: &str, content_bytes: usize) -> Vec<u8> {
    let mut v: Value =
        serde_json::from_slice(&e.fixture("claude-code", "PreToolUse-Write.json")).unwrap();
    v["session_id"] = session.into();
    v["tool_input"]["file_path"] = format!("{}/src/billing.rs", e.project().display()).into();
    v["tool_input"]["content"] = "fn f() -> f64 { 0.0 }\n"
        .repeat(content_bytes / 22 + 1)
        .into();
    serde_json::to_vec(&v).unwrap()
}

fn hook_events(e: &Env) -> Vec<Value> {
    e.queued()
        .into_iter()
        .filter(|(_, k, _)| k == "hook.event")
        .map(|(_, _, p)| p)
        .collect()
}

#[test]
fn a_huge_write_to_a_governed_file_is_still_gated_and_recorded() {
    let e = env_with_enforced_rule();
    for (i, size) in [1_100_000usize, 2_500_000].into_iter().enumerate() {
        let (o, _) = e.hook(
            &["--agent", "claude-code"],
            &write_of(&e, &format!("s{i}"), size),
        );
        assert_eq!(o.status.code(), Some(0));
        let answer: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(
            answer["hookSpecificOutput"]["permissionDecision"], "deny",
            "{size} bytes: {answer}"
        );
    }
    let evs = hook_events(&e);
    assert_eq!(evs.len(), 2, "{evs:?}");
    for ev in &evs {
        assert_eq!(ev["files"], serde_json::json!(["src/billing.rs"]), "{ev}");
        assert_eq!(ev["content_dropped"], true, "{ev}");
        assert!(ev["sizes"]["stdin_bytes"].as_u64().unwrap() > 1_000_000);
    }
}

#[test]
fn every_stored_field_is_bounded_and_odd_paths_stay_outside() {
    let e = Env::init();
    std::fs::write(e.home().join("config.toml"), "[capture]\ncontent = true\n").unwrap();
    let mut v: Value =
        serde_json::from_slice(&e.fixture("claude-code", "PreToolUse-Edit.json")).unwrap();
    v["session_id"] = "s".repeat(600_000).into();
    v["tool_name"] = "T".repeat(600_000).into();
    v["tool_input"]["file_path"] = format!("src/{}.rs", "p".repeat(100_000)).into();
    let (o, _) = e.hook(
        &["--agent", "claude-code"],
        &serde_json::to_vec(&v).unwrap(),
    );
    assert_eq!(o.status.code(), Some(0));
    for odd in [
        "~/.ssh/id_rsa",
        "C:\\Users\\dev\\x.rs",
        "\\\\server\\share\\x",
        "file:/etc/passwd",
    ] {
        let mut v: Value =
            serde_json::from_slice(&e.fixture("claude-code", "PreToolUse-Edit.json")).unwrap();
        v["tool_use_id"] = odd.into();
        v["tool_input"]["file_path"] = odd.into();
        e.hook(
            &["--agent", "claude-code"],
            &serde_json::to_vec(&v).unwrap(),
        );
    }
    let rows = e.queued();
    assert_eq!(rows.len(), 5);
    for (_, _, p) in &rows {
        let bytes = serde_json::to_vec(p).unwrap().len();
        assert!(bytes < difflore_proto::MAX_PAYLOAD_BYTES, "{bytes} bytes");
    }
    let first = &rows[0].2;
    assert!(first["session"].as_str().unwrap().len() <= 256);
    assert!(first["tool"].as_str().unwrap().len() <= 256);
    assert_eq!(
        first["files"],
        serde_json::json!([]),
        "a 100 KB path is not kept"
    );
    assert_eq!(first["files_outside_repo"], 1);
    for (_, _, p) in &rows[1..] {
        assert_eq!(p["files"], serde_json::json!([]), "{p}");
        assert_eq!(p["files_outside_repo"], 1, "{p}");
    }
}

#[test]
fn input_that_is_no_event_is_drained_without_a_broken_pipe() {
    let e = Env::init();
    for junk in [&b"xyz"[..], b"[1,2", b"\xff\xfe{", b"{\"a\":}"] {
        let mut child = e
            .cmd(&["hook", "--agent", "codex"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut sin = child.stdin.take().unwrap();
        sin.write_all(junk).unwrap();
        // More follows once the hook has seen that this is not an event: it must still read it.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let rest = vec![b'x'; 256 * 1024];
        let wrote = sin.write_all(&rest);
        drop(sin);
        let out = child.wait_with_output().unwrap();
        assert!(wrote.is_ok(), "{junk:?}: {wrote:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "{}");
    }
}
