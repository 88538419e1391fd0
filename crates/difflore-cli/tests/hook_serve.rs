//! Serving rules through the real hook process, per agent: fixture event in → exact answer out.
//! Context on the read of a governed file, on a prompt naming it, right after an edit and at
//! session start; gate mode denying the first edit once; abstention, the token budget,
//! per-session dedup, nothing on Stop / SessionEnd or for Cursor, the kill switches, the
//! `rules.served` record, and never a deny on an internal error.

mod common;
use common::Env;
use serde_json::{Value, json};

/// An env with one enforced repo rule on `src/*.rs` (the fixtures' `src/billing.rs`).
fn env_with_rule() -> (Env, String) {
    let e = Env::init();
    let (out, err, code) = e.run(&[
        "memory",
        "add",
        "--json",
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
    let id = serde_json::from_str::<Value>(&out).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    (e, id)
}

fn hook(e: &Env, agent: &str, file: &str) -> Value {
    // GitHub Copilot CLI's payloads do not name the event: the installed command passes it.
    let event = file
        .trim_end_matches(".json")
        .split('-')
        .next()
        .unwrap_or("");
    let mut args = vec!["--agent", agent];
    if agent == "copilot" {
        args.extend(["--event", event]);
    }
    let (o, _) = e.hook(&args, &e.fixture(agent, file));
    assert_eq!(o.status.code(), Some(0));
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&o.stdout)))
}

fn config(e: &Env, toml: &str) {
    std::fs::write(e.home().join("config.toml"), toml).unwrap();
}

fn ctx(event: &str, text: &str) -> Value {
    json!({"hookSpecificOutput": {"hookEventName": event, "additionalContext": text}})
}

fn served(e: &Env) -> Vec<Value> {
    e.queued()
        .into_iter()
        .filter(|(_, k, _)| k == "rules.served")
        .map(|(_, _, p)| p)
        .collect()
}

#[test]
fn claude_code_context_on_read_after_edit_and_session_start() {
    let (e, id) = env_with_rule();
    let line = format!(
        "- Use Money instead of f64 for amounts. (src/*.rs; rule {})",
        difflore_rules::memory::tail_handle(&id)
    );
    assert_eq!(
        hook(&e, "claude-code", "SessionStart.json"),
        ctx(
            "SessionStart",
            "difflore: 1 active team rule from past code review apply here. They are shown when you read or edit the files they govern; follow them."
        )
    );
    // Context on PreToolUse of a read or an edit would arrive after the tool ran: nothing there.
    assert_eq!(hook(&e, "claude-code", "PreToolUse-Read.json"), json!({}));
    assert_eq!(
        hook(&e, "claude-code", "PostToolUse-Read.json"),
        ctx(
            "PostToolUse",
            &format!("difflore — team rules for src/billing.rs (from past code review):\n{line}")
        )
    );
    // Shown once before the first edit: a second read says nothing.
    assert_eq!(hook(&e, "claude-code", "PostToolUse-Read.json"), json!({}));
    assert_eq!(hook(&e, "claude-code", "PreToolUse-Edit.json"), json!({}));
    assert_eq!(
        hook(&e, "claude-code", "PostToolUse-Edit.json"),
        ctx(
            "PostToolUse",
            &format!(
                "difflore — this edit touched src/billing.rs; check it against the team's rules for that file:\n{line}"
            )
        )
    );
    // …and once after it.
    assert_eq!(hook(&e, "claude-code", "PostToolUse-Edit.json"), json!({}));
    assert_eq!(hook(&e, "claude-code", "PostToolUse-Read.json"), json!({}));
    // Never on Stop or SessionEnd; nothing for a file no rule governs.
    assert_eq!(hook(&e, "claude-code", "Stop.json"), json!({}));
    assert_eq!(hook(&e, "claude-code", "SessionEnd.json"), json!({}));
    assert_eq!(hook(&e, "claude-code", "PostToolUse-Write.json"), json!({}));

    // The read and the after-edit; the session-start summary names no rule and is not recorded.
    let mut s = served(&e);
    assert_eq!(s.len(), 2, "{s:?}");
    s.insert(0, Value::Null);
    assert_eq!(s[1]["rule_ids"], json!([id]));
    assert_eq!(s[1]["file"], "src/billing.rs");
    assert_eq!(s[1]["mode"], "context");
    assert_eq!(s[1]["repo"], "github.com/acme/shop");
    assert_eq!(s[1]["agent"], "claude-code");
    assert_eq!(s[1]["session"], "3f6c1a2b-4d5e-4f70-8a9b-0c1d2e3f4a5b");
    assert_eq!(
        (s[1]["moment"].as_str(), s[2]["moment"].as_str()),
        (Some("read"), Some("after_edit"))
    );
    // The same firing seen twice records one event (derived stable id).
    let ids: std::collections::HashSet<String> =
        e.queued().into_iter().map(|(i, _, _)| i).collect();
    assert_eq!(ids.len(), e.queue_len() as usize);
}

#[test]
fn prompts_codex_shell_reads_and_gemini() {
    let (e, id) = env_with_rule();
    let line = format!(
        "- Use Money instead of f64 for amounts. (src/*.rs; rule {})",
        difflore_rules::memory::tail_handle(&id)
    );
    assert_eq!(
        hook(&e, "claude-code", "UserPromptSubmit.json"),
        ctx(
            "UserPromptSubmit",
            &format!("difflore — team rules for src/billing.rs, which this prompt names:\n{line}")
        )
    );
    // Codex: `cat src/billing.rs` through its shell is a read.
    assert_eq!(
        hook(&e, "codex", "PostToolUse-Bash.json"),
        ctx(
            "PostToolUse",
            &format!("difflore — team rules for src/billing.rs (from past code review):\n{line}")
        )
    );
    assert_eq!(hook(&e, "codex", "PostToolUse-Bash-failed.json"), json!({}));
    assert_eq!(
        hook(&e, "codex", "PostToolUse-apply_patch-update-file.json"),
        ctx(
            "PostToolUse",
            &format!(
                "difflore — this edit touched src/billing.rs; check it against the team's rules for that file:\n{line}"
            )
        )
    );
    assert_eq!(hook(&e, "codex", "Stop.json"), json!({}));
    // Gemini (its own session in a fresh env): AfterTool on read_file; BeforeTool takes no context.
    let (g, gid) = env_with_rule();
    // Each env has its own rule, and so its own id in the line.
    let line = line.replace(
        difflore_rules::memory::tail_handle(&id),
        difflore_rules::memory::tail_handle(&gid),
    );
    assert_eq!(hook(&g, "gemini", "BeforeTool-read_file.json"), json!({}));
    assert_eq!(
        hook(&g, "gemini", "AfterTool-read_file.json"),
        ctx(
            "AfterTool",
            &format!("difflore — team rules for src/billing.rs (from past code review):\n{line}")
        )
    );
    assert_eq!(hook(&g, "gemini", "BeforeTool-replace.json"), json!({}));
    assert_eq!(hook(&g, "gemini", "AfterAgent.json"), json!({}));
    let (g2, g2id) = env_with_rule();
    let line = line.replace(
        difflore_rules::memory::tail_handle(&gid),
        difflore_rules::memory::tail_handle(&g2id),
    );
    assert_eq!(
        hook(&g2, "gemini", "BeforeAgent.json"),
        ctx(
            "BeforeAgent",
            &format!("difflore — team rules for src/billing.rs, which this prompt names:\n{line}")
        )
    );
    // Cursor's hooks cannot carry context: its permission answer, unchanged.
    assert_eq!(
        hook(&g2, "cursor", "beforeReadFile.json"),
        json!({"permission": "allow"})
    );
    assert_eq!(hook(&g2, "cursor", "afterFileEdit.json"), json!({}));
}

#[test]
fn gate_denies_the_first_edit_once_per_file_and_session() {
    let (e, id) = env_with_rule();
    config(&e, "[serving]\nmode = \"gate\"\n");
    let reason = format!(
        "difflore held this edit back once so that the team's rules are in view; it will not hold back this file again in this session. Apply them and retry the edit.\nTeam rules (enforced) for src/billing.rs, from past code review:\n- Use Money instead of f64 for amounts. (src/*.rs; rule {})",
        difflore_rules::memory::tail_handle(&id)
    );
    let deny = json!({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny", "permissionDecisionReason": reason}});
    assert_eq!(hook(&e, "claude-code", "PreToolUse-Edit.json"), deny);
    assert_eq!(
        hook(&e, "claude-code", "PreToolUse-Edit.json"),
        json!({}),
        "never twice"
    );
    let s = served(&e);
    assert_eq!(
        (s[0]["mode"].as_str(), s[0]["moment"].as_str()),
        (Some("gate"), Some("gate"))
    );
    // Context still flows in gate mode.
    assert!(
        hook(&e, "claude-code", "PostToolUse-Edit.json")["hookSpecificOutput"]["additionalContext"]
            .is_string()
    );
    // Codex apply_patch and Gemini BeforeTool, each in its own session.
    assert_eq!(
        hook(&e, "codex", "PreToolUse-apply_patch-update-file.json"),
        deny
    );
    let (g, gid) = env_with_rule();
    config(&g, "[serving]\nmode = \"gate\"\n");
    let reason = reason.replace(
        difflore_rules::memory::tail_handle(&id),
        difflore_rules::memory::tail_handle(&gid),
    );
    assert_eq!(
        hook(&g, "gemini", "BeforeTool-replace.json"),
        json!({"decision": "deny", "reason": reason})
    );
    assert_eq!(hook(&g, "gemini", "BeforeTool-replace.json"), json!({}));
    // A rule that is not `enforce` never gates; a new file nobody governs is never held back.
    let (c, id2) = env_with_rule();
    config(&c, "[serving]\nmode = \"gate\"\n");
    assert_eq!(c.run(&["memory", "edit", &id2, "--no-enforce"]).2, 0);
    assert_eq!(hook(&c, "claude-code", "PreToolUse-Edit.json"), json!({}));
    assert_eq!(hook(&c, "claude-code", "PreToolUse-Write.json"), json!({}));
}

#[test]
fn never_a_deny_on_an_internal_error() {
    let (e, _) = env_with_rule();
    config(&e, "[serving]\nmode = \"gate\"\n");
    let c = rusqlite::Connection::open(e.db()).unwrap();
    c.pragma_update(None, "user_version", 4).unwrap();
    drop(c);
    assert_eq!(hook(&e, "claude-code", "PreToolUse-Edit.json"), json!({}));
    assert!(e.hook_log().contains("schema version"), "{}", e.hook_log());
}

#[test]
fn kill_switches_budget_and_abstention() {
    let (e, _) = env_with_rule();
    for off in ["off", "0", "FALSE", "no"] {
        let (o, _) = {
            let mut c = e.cmd(&["hook", "--agent", "claude-code"]);
            c.env("DIFFLORE_SERVE", off);
            common::run_with_stdin(&mut c, &e.fixture("claude-code", "PostToolUse-Read.json"))
        };
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "{}");
    }
    // Capture goes on while serving is off (the same firing four times is one event).
    assert_eq!(e.queue_len(), 1);
    assert!(served(&e).is_empty());
    config(&e, "[serving]\nmode = \"off\"\n");
    assert_eq!(hook(&e, "claude-code", "PostToolUse-Read.json"), json!({}));

    // Capture off, serving on: served, nothing recorded.
    let (f, _) = env_with_rule();
    let mut c = f.cmd(&["hook", "--agent", "claude-code"]);
    c.env("DIFFLORE_CAPTURE", "off");
    let (o, _) = common::run_with_stdin(&mut c, &f.fixture("claude-code", "PostToolUse-Read.json"));
    assert!(String::from_utf8_lossy(&o.stdout).contains("additionalContext"));
    assert_eq!(f.queue_len(), 0);

    // Budget: with room for one rule only, one rule (the most specific) is shown.
    let (b, _) = env_with_rule();
    let (_, err, code) = b.run(&[
        "memory",
        "add",
        "--repo",
        "github.com/acme/shop",
        "--title",
        "Errors",
        "--statement",
        "Return errors instead of calling unwrap on outside data.",
        "--glob",
        "**/*.rs",
    ]);
    assert_eq!(code, 0, "{err}");
    config(&b, "[serving]\ntoken_budget = 30\n");
    let text =
        hook(&b, "claude-code", "PostToolUse-Read.json")["hookSpecificOutput"]["additionalContext"]
            .as_str()
            .unwrap()
            .to_string();
    assert!(
        text.contains("Use Money") && !text.contains("unwrap"),
        "{text}"
    );
    // Abstention: a `**` rule alone does not make every file governed.
    let (a, _) = {
        let e = Env::init();
        (e, ())
    };
    assert_eq!(
        a.run(&[
            "memory",
            "add",
            "--repo",
            "github.com/acme/shop",
            "--title",
            "Vague",
            "--statement",
            "Be careful.",
            "--glob",
            "**"
        ])
        .2,
        0
    );
    assert_eq!(hook(&a, "claude-code", "PostToolUse-Read.json"), json!({}));
}

#[test]
fn a_prompt_about_a_rules_topic_gets_it_without_naming_a_file() {
    let e = Env::init();
    let (out, err, code) = e.run(&[
        "memory",
        "add",
        "--json",
        "--global",
        "--title",
        "Changelog entries",
        "--statement",
        "Add a changelog entry for every user-visible change.",
    ]);
    assert_eq!(code, 0, "{err}");
    let id = serde_json::from_str::<Value>(&out).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut v: Value =
        serde_json::from_slice(&e.fixture("claude-code", "UserPromptSubmit.json")).unwrap();
    v["prompt"] = "Please write the changelog entry for this release.".into();
    let (o, _) = e.hook(&["--agent", "claude-code"], v.to_string().as_bytes());
    let got: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        got,
        ctx(
            "UserPromptSubmit",
            &format!(
                "difflore — team rules about what this prompt asks (from past code review):\n- Add a changelog entry for every user-visible change. (all repositories; rule {})",
                difflore_rules::memory::tail_handle(&id)
            )
        )
    );
    // A prompt about something else: nothing.
    v["prompt"] = "Rename the variable in the parser.".into();
    v["prompt_id"] = "another".into();
    let (o, _) = e.hook(&["--agent", "claude-code"], v.to_string().as_bytes());
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "{}");
}

/// Qwen Code (payloads captured from the real CLI): context after a read and after an edit in
/// Claude Code's format, none on `PreToolUse` (Qwen Code does not deliver it), and the gate as a
/// `PreToolUse` deny (which stops the tool there).
#[test]
fn qwen_code_context_after_read_and_edit_and_the_gate() {
    let (e, id) = env_with_rule();
    let line = format!(
        "- Use Money instead of f64 for amounts. (src/*.rs; rule {})",
        difflore_rules::memory::tail_handle(&id)
    );
    assert_eq!(
        hook(&e, "qwen-code", "PreToolUse-read_file.json"),
        json!({})
    );
    assert_eq!(
        hook(&e, "qwen-code", "PostToolUse-read_file.json"),
        ctx(
            "PostToolUse",
            &format!("difflore — team rules for src/billing.rs (from past code review):\n{line}")
        )
    );
    assert_eq!(hook(&e, "qwen-code", "PreToolUse-edit.json"), json!({}));
    let after = hook(&e, "qwen-code", "PostToolUse-edit.json");
    assert_eq!(after["hookSpecificOutput"]["hookEventName"], "PostToolUse");
    assert!(
        after["hookSpecificOutput"]["additionalContext"]
            .as_str()
            .unwrap()
            .starts_with("difflore — this edit touched src/billing.rs"),
        "{after}"
    );
    let s = served(&e);
    assert_eq!(s[0]["agent"], "qwen-code");

    let (g, gid) = env_with_rule();
    config(&g, "[serving]\nmode = \"gate\"\n");
    let deny = hook(&g, "qwen-code", "PreToolUse-edit.json");
    assert_eq!(
        deny["hookSpecificOutput"]["permissionDecision"], "deny",
        "{deny}"
    );
    assert!(
        deny["hookSpecificOutput"]["permissionDecisionReason"]
            .as_str()
            .unwrap()
            .contains(&format!(
                "rule {}",
                difflore_rules::memory::tail_handle(&gid)
            )),
        "{deny}"
    );
    assert_eq!(
        hook(&g, "qwen-code", "PreToolUse-edit.json"),
        json!({}),
        "never twice"
    );
}

/// Cline (its own payload and answer): the rules as `contextModification` after a read and after
/// an edit — verified to reach the model in the next request — and no gate: its `cancel` would
/// abort the whole task, so in gate mode the `PreToolUse` of an edit is still the no-op.
#[test]
fn cline_context_after_read_and_edit_and_no_gate() {
    let (e, id) = env_with_rule();
    let line = format!(
        "- Use Money instead of f64 for amounts. (src/*.rs; rule {})",
        difflore_rules::memory::tail_handle(&id)
    );
    assert_eq!(
        hook(&e, "cline", "PostToolUse-read_files.json"),
        json!({"cancel": false, "contextModification": format!(
            "difflore — team rules for src/billing.rs (from past code review):\n{line}"
        )})
    );
    let after = hook(&e, "cline", "PostToolUse-editor.json");
    assert_eq!(after["cancel"], false, "{after}");
    assert!(
        after["contextModification"]
            .as_str()
            .unwrap()
            .starts_with("difflore — this edit touched src/billing.rs"),
        "{after}"
    );
    assert_eq!(
        hook(&e, "cline", "PostToolUse-run_commands.json"),
        json!({})
    );
    let s = served(&e);
    assert_eq!(s[0]["agent"], "cline");

    let (g, _) = env_with_rule();
    config(&g, "[serving]\nmode = \"gate\"\n");
    assert_eq!(hook(&g, "cline", "PreToolUse-editor.json"), json!({}));
}

/// GitHub Copilot CLI: the session summary at `sessionStart`, the rules when the prompt names a
/// governed file, after a read (`view`) and after an edit, each as `additionalContext` (all
/// verified to reach the model), and the gate as a `preToolUse` `permissionDecision: "deny"`
/// (the tool does not run; the model goes on).
#[test]
fn copilot_context_on_start_prompt_read_and_edit_and_the_gate() {
    let (e, id) = env_with_rule();
    let start = hook(&e, "copilot", "sessionStart.json");
    assert!(
        start["additionalContext"]
            .as_str()
            .unwrap()
            .starts_with("difflore: 1 active team rule"),
        "{start}"
    );
    let line = format!(
        "- Use Money instead of f64 for amounts. (src/*.rs; rule {})",
        difflore_rules::memory::tail_handle(&id)
    );
    let read = hook(&e, "copilot", "postToolUse-view.json");
    assert_eq!(
        read,
        json!({"additionalContext": format!(
            "difflore — team rules for src/billing.rs (from past code review):\n{line}"
        )})
    );
    assert_eq!(hook(&e, "copilot", "preToolUse-edit.json"), json!({}));
    let after = hook(&e, "copilot", "postToolUse-edit.json");
    assert!(
        after["additionalContext"]
            .as_str()
            .unwrap()
            .starts_with("difflore — this edit touched src/billing.rs"),
        "{after}"
    );
    assert_eq!(served(&e)[0]["agent"], "copilot");

    let (p, _) = env_with_rule();
    let prompt = hook(&p, "copilot", "userPromptSubmitted.json");
    assert!(
        prompt["additionalContext"]
            .as_str()
            .unwrap()
            .contains("which this prompt names"),
        "{prompt}"
    );

    let (g, gid) = env_with_rule();
    config(&g, "[serving]\nmode = \"gate\"\n");
    let deny = hook(&g, "copilot", "preToolUse-edit.json");
    assert_eq!(deny["permissionDecision"], "deny", "{deny}");
    assert!(
        deny["permissionDecisionReason"]
            .as_str()
            .unwrap()
            .contains(&format!(
                "rule {}",
                difflore_rules::memory::tail_handle(&gid)
            )),
        "{deny}"
    );
    assert_eq!(
        hook(&g, "copilot", "preToolUse-edit.json"),
        json!({}),
        "never twice"
    );
}
