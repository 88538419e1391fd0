//! `difflore mcp` end to end with real MCP clients: the official Python SDK (`mcp` on PyPI) in
//! its three connection modes, and the MCP Inspector CLI (`--strict` schema lint, tools/list,
//! tools/call, resources). Both are installed by `scripts/test`, which points these tests at
//! them (`DIFFLORE_MCP_PYTHON`, `DIFFLORE_MCP_INSPECTOR`); without them the tests say they were
//! skipped, unless `DIFFLORE_REQUIRE_MCP=1` (CI) makes that a failure. Also: a closed stdin ends
//! the server, stdout carries only protocol, proposals never become active, calls are recorded.

mod common;
use common::{Env, bin};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tool(var: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ if std::env::var("DIFFLORE_REQUIRE_MCP").as_deref() == Ok("1") => {
            panic!("{var} is not set but DIFFLORE_REQUIRE_MCP=1: run ./scripts/test")
        }
        _ => {
            eprintln!("skipped: {var} is not set (./scripts/test installs the MCP clients)");
            None
        }
    }
}

/// An env whose checkout has one active rule on src/*.rs with review evidence.
fn env_with_rule() -> (Env, String) {
    let e = Env::init();
    let doc = json!({"version": 1, "repo": "github.com/acme/shop", "pull_requests": [
    {"number": 7, "author": "sam", "comments": [
        {"id": "11", "author": "rita", "body": "We never use f64 for amounts: use Money.", "path": "src/billing.rs", "line": 3, "url": "https://github.com/acme/shop/pull/7#r11"}
    ]}]});
    let p = e.dir.path().join("h.json");
    std::fs::write(&p, doc.to_string()).unwrap();
    assert_eq!(e.run(&["import", "file", p.to_str().unwrap()]).2, 0);
    let (out, _, _) = e.run(&["memory", "list", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let id = v["rules"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(e.run(&["memory", "approve", &id]).2, 0);
    (e, id)
}

fn statuses(e: &Env) -> Vec<(String, String, String)> {
    let (out, _, _) = e.run(&["memory", "list", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["title"].as_str().unwrap().into(),
                r["status"].as_str().unwrap().into(),
                r["origin"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[test]
fn python_sdk_client_in_all_three_modes() {
    let Some(python) = tool("DIFFLORE_MCP_PYTHON") else {
        return;
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/mcp/client.py");
    for mode in ["legacy", "auto", "2026-07-28"] {
        // A fresh store per mode: the proposals of one run would be "existing" in the next.
        let (e, id) = env_with_rule();
        let out = Command::new(&python)
            .arg(&script)
            .args([bin(), e.project().to_str().unwrap(), mode, &id])
            .env("DIFFLORE_HOME", e.home())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mode {mode}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(seen["proposals"], json!(["pending", "pending", "pending"]));
        // Only the person-approved rule is active; every proposal is a pending agent proposal.
        let s = statuses(&e);
        assert_eq!(
            s.iter().filter(|(_, st, _)| st == "active").count(),
            1,
            "{s:?}"
        );
        assert_eq!(
            s.iter()
                .filter(|(_, st, o)| st == "pending" && o == "agent_proposal")
                .count(),
            3,
            "{s:?}"
        );
        let served: Vec<Value> = e
            .queued()
            .into_iter()
            .filter(|(_, k, _)| k == "rules.served")
            .map(|(_, _, p)| p)
            .collect();
        assert!(served.len() >= 4, "{served:?}");
        assert!(
            served
                .iter()
                .all(|p| p["mode"] == "mcp" && p["rule_ids"] == json!([id]))
        );
    }
}

fn inspector(prefix: &PathBuf, e: &Env, args: &[&str]) -> (i32, String, String) {
    let mut c = Command::new("npx");
    c.arg("--prefix")
        .arg(prefix)
        .args(["mcp-inspector", "--cli"])
        .arg("-e")
        .arg(format!("DIFFLORE_HOME={}", e.home().display()))
        .arg("--cwd")
        .arg(e.project())
        .args(args)
        .args(["--format", "json", "-q", "--"])
        .arg(bin())
        .arg("mcp")
        .env("DIFFLORE_HOME", e.home())
        .current_dir(e.project());
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn inspector_cli_strict_lint_calls_and_resources() {
    let Some(prefix) = tool("DIFFLORE_MCP_INSPECTOR") else {
        return;
    };
    let (e, id) = env_with_rule();
    let (code, out, err) = inspector(&prefix, &e, &["--strict", "--method", "tools/list"]);
    assert_eq!(code, 0, "strict schema lint failed:\n{out}\n{err}");
    assert!(!err.contains("Warning"), "schema lint warnings:\n{err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}"));
    let tools = v["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(tools.len(), 4);
    let search = tools.iter().find(|t| t["name"] == "search_rules").unwrap();
    assert_eq!(search["annotations"]["readOnlyHint"], true);
    let propose = tools.iter().find(|t| t["name"] == "propose_rule").unwrap();
    assert_eq!(propose["annotations"]["readOnlyHint"], false);

    let (code, out, err) = inspector(
        &prefix,
        &e,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "search_rules",
            "--tool-args-json",
            r#"{"path":"src/billing.rs","query":"money"}"#,
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains(&id), "{out}");
    // A tool error is exit 5 with the message.
    let (code, out, err) = inspector(
        &prefix,
        &e,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "get_rule",
            "--tool-args-json",
            r#"{"id":"ffffffff"}"#,
        ],
    );
    assert_eq!(code, 5, "{out}\n{err}");
    assert!(format!("{out}{err}").contains("no rule"), "{out}\n{err}");
    let (code, out, err) = inspector(&prefix, &e, &["--method", "resources/list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("difflore://rules/active"), "{out}");
    let (code, out, err) = inspector(
        &prefix,
        &e,
        &[
            "--method",
            "resources/read",
            "--uri",
            "difflore://rules/active",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("f64"), "{out}");
}

#[test]
fn closed_stdin_ends_the_server_and_stdout_is_only_protocol() {
    let (e, _) = env_with_rule();
    let t = Instant::now();
    let out = e
        .cmd(&["mcp"])
        .current_dir(e.project())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "ends on EOF, not on a timeout"
    );
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Garbage, then a valid handshake: every stdout line is a JSON-RPC message.
    let mut c = e.cmd(&["mcp"]);
    c.current_dir(e.project());
    let input = concat!(
        "not json\n",
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
        "\n",
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        "\n",
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_rules","arguments":{"query":"money","path":"src/billing.rs"}}}"#,
        "\n",
    );
    let (o, _) = common::run_with_stdin(&mut c, input.as_bytes());
    let text = String::from_utf8_lossy(&o.stdout);
    for line in text.lines() {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not protocol: {line}"));
        assert_eq!(v["jsonrpc"], "2.0");
    }
    assert!(
        text.contains("\"id\":2"),
        "{text}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn serve_kill_switch_empties_results() {
    let (e, _) = env_with_rule();
    let mut c = e.cmd(&["mcp"]);
    c.current_dir(e.project()).env("DIFFLORE_SERVE", "off");
    let input = concat!(
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
        "\n",
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        "\n",
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"rules_for_files","arguments":{"paths":["src/billing.rs"]}}}"#,
        "\n",
    );
    let (o, _) = common::run_with_stdin(&mut c, input.as_bytes());
    let text = String::from_utf8_lossy(&o.stdout);
    let reply: Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["id"] == 2)
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(reply["result"]["structuredContent"]["files"], json!([]));
    assert!(
        reply["result"]["structuredContent"]["note"]
            .as_str()
            .unwrap()
            .contains("DIFFLORE_SERVE")
    );
}
