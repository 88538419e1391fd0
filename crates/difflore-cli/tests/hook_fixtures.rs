//! Every captured agent payload in `tests/fixtures/hooks/` through the real `difflore hook`
//! process: the expected normalised `hook.event` (golden file
//! `tests/fixtures/expected-hook-events.json`, reviewed by hand), the agent's no-op answer,
//! stable ids, and privacy by default.

mod common;
use common::Env;
use serde_json::Value;

fn golden() -> serde_json::Map<String, Value> {
    let p = common::fixtures_dir().join("../expected-hook-events.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn every_fixture_gives_the_expected_event_and_answer() {
    every_fixture(false);
}

/// The dedicated `difflore-hook` binary (what `agents install` wires) answers and records exactly
/// as `difflore hook`.
#[test]
fn the_dedicated_hook_binary_behaves_the_same() {
    every_fixture(true);
}

fn every_fixture(lean: bool) {
    let golden = golden();
    let fixtures = common::all_fixtures();
    assert!(fixtures.len() >= 50, "fixtures missing: {}", fixtures.len());
    let e = Env::init();
    let mut expected_rows = 0;
    for (agent, file) in &fixtures {
        let key = format!("{agent}/{file}");
        let want = golden
            .get(&key)
            .unwrap_or_else(|| panic!("no golden entry for {key}"));
        let before = e.queue_len();
        let input = e.fixture(agent, file);
        // GitHub Copilot CLI's payloads do not name the event: the installed command passes it.
        let event = file
            .trim_end_matches(".json")
            .split('-')
            .next()
            .unwrap_or("");
        let mut args = vec!["--agent", agent.as_str()];
        if agent == "copilot" {
            args.extend(["--event", event]);
        }
        let (out, _) = if lean {
            e.lean_hook(&args, &input)
        } else {
            e.hook(&args, &input)
        };
        assert_eq!(out.status.code(), Some(0), "{key}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        let answer: Value = serde_json::from_str(stdout.trim()).expect("one JSON answer");
        let want_answer: Value = serde_json::from_str(want["stdout"].as_str().unwrap()).unwrap();
        assert_eq!(answer, want_answer, "answer for {key}");
        assert!(out.stderr.is_empty(), "{key}: stderr must stay quiet");
        let after = e.queue_len();
        match &want["event"] {
            Value::Null => assert_eq!(after, before, "{key} must not be captured"),
            ev => {
                assert_eq!(after, before + 1, "{key} must be captured once");
                expected_rows += 1;
                let (id, kind, mut payload) = e.queued().pop().unwrap();
                assert_eq!(kind, "hook.event");
                let id = uuid::Uuid::parse_str(&id).unwrap();
                assert_eq!(id.get_version_num(), 8, "{key}: hook ids are UUIDv8");
                let sizes = payload.as_object_mut().unwrap().remove("sizes").unwrap();
                assert!(sizes["stdin_bytes"].as_u64().unwrap() > 100, "{key}");
                assert_eq!(&payload, ev, "normalised event for {key}");
            }
        }
    }
    assert_eq!(e.queue_len(), expected_rows);
    assert_eq!(e.hook_log(), "", "no fixture may log an error");
}

#[test]
fn the_same_firing_twice_is_one_event() {
    let e = Env::init();
    let payload = e.fixture("claude-code", "PreToolUse-Edit.json");
    for _ in 0..3 {
        let (out, _) = e.hook(&["--agent", "claude-code"], &payload);
        assert_eq!(out.status.code(), Some(0));
    }
    assert_eq!(e.queue_len(), 1);
    // Pre and post of the same tool call are two events.
    e.hook(
        &["--agent", "claude-code"],
        &e.fixture("claude-code", "PostToolUse-Edit.json"),
    );
    assert_eq!(e.queue_len(), 2);
}

#[test]
fn prompts_and_contents_are_not_stored_by_default() {
    let e = Env::init();
    for (agent, file) in [
        ("claude-code", "UserPromptSubmit.json"),
        ("claude-code", "PostToolUse-Read.json"),
        ("codex", "PreToolUse-apply_patch-update-file.json"),
        ("gemini", "AfterTool-replace.json"),
        ("cursor", "beforeSubmitPrompt.json"),
    ] {
        e.hook(&["--agent", agent], &e.fixture(agent, file));
    }
    assert_eq!(e.queue_len(), 5);
    for (_, _, p) in e.queued() {
        assert!(p.get("content").is_none(), "{p}");
        let text = p.to_string();
        assert!(!text.contains("Money"), "content leaked: {text}");
        assert!(!text.contains("dev@example.com"), "e-mail leaked: {text}");
        assert!(
            !text.contains(&e.dir.path().display().to_string()),
            "absolute path: {text}"
        );
    }
}

#[test]
fn content_capture_is_opt_in_and_redacted() {
    let e = Env::init();
    std::fs::write(e.home().join("config.toml"), "[capture]\ncontent = true\n").unwrap();
    let mut v: Value =
        serde_json::from_slice(&e.fixture("claude-code", "UserPromptSubmit.json")).unwrap();
    v["prompt"] = Value::String(
        "deploy with GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789 to https://ci:hunter22@ci.example.com/x".into(),
    );
    e.hook(&["--agent", "claude-code"], v.to_string().as_bytes());
    let (_, _, p) = e.queued().pop().unwrap();
    let prompt = p["content"]["prompt"].as_str().unwrap();
    assert!(prompt.starts_with("deploy with"), "{prompt}");
    assert!(!prompt.contains("ghp_abc"), "{prompt}");
    assert!(!prompt.contains("hunter22"), "{prompt}");
    assert!(prompt.contains("[REDACTED]"));
    // Nothing of the secret reached the database file either.
    let raw = std::fs::read(e.db()).unwrap();
    let wal = std::fs::read(e.home().join("difflore.db-wal")).unwrap_or_default();
    for bytes in [raw, wal] {
        assert!(!bytes.windows(7).any(|w| w == b"ghp_abc"));
    }
}

#[test]
fn kill_switch_and_config_disable_capture() {
    let e = Env::init();
    let payload = e.fixture("claude-code", "PreToolUse-Edit.json");
    for v in ["off", "0", "FALSE", "no"] {
        let mut c = e.cmd(&["hook", "--agent", "claude-code"]);
        c.env("DIFFLORE_CAPTURE", v);
        let (out, _) = common::run_with_stdin(&mut c, &payload);
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "{}");
    }
    assert_eq!(e.queue_len(), 0);
    std::fs::write(e.home().join("config.toml"), "[capture]\nenabled = false\n").unwrap();
    e.hook(&["--agent", "claude-code"], &payload);
    assert_eq!(e.queue_len(), 0);
    std::fs::write(e.home().join("config.toml"), "[capture]\nenabled = true\n").unwrap();
    e.hook(&["--agent", "claude-code"], &payload);
    assert_eq!(e.queue_len(), 1);
}

#[test]
fn worktrees_and_repos_without_remote_get_their_keys() {
    let e = Env::init();
    // A repo without a remote → local:<12 hex>.
    let lone = e.dir.path().join("lone");
    std::fs::create_dir_all(lone.join(".git")).unwrap();
    let mut v: Value =
        serde_json::from_slice(&e.fixture("claude-code", "PreToolUse-Edit.json")).unwrap();
    v["cwd"] = Value::String(lone.display().to_string());
    v["tool_input"]["file_path"] = Value::String(lone.join("a/b.rs").display().to_string());
    e.hook(&["--agent", "claude-code"], v.to_string().as_bytes());
    let (_, _, p) = e.queued().pop().unwrap();
    let key = p["repo"].as_str().unwrap();
    assert!(key.starts_with("local:") && key.len() == 18, "{key}");
    assert_eq!(p["files"], serde_json::json!(["a/b.rs"]));
}
