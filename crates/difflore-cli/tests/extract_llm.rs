//! The optional language-model pass of `difflore extract` against a local fake of an
//! OpenAI-compatible chat API that replays answers in the real `chat.completion` format: good
//! answers confirm a borderline comment and write statements; a declined one stays dropped;
//! prose, a fenced block, an HTTP 500 and an answer slower than the timeout each count as a
//! failure and leave the deterministic result; the key travels from the named environment
//! variable; `max_calls` caps the requests; nothing is ever activated; off by default and with
//! `--no-llm`.

mod common;
use common::*;
use difflore_test_support::forge::{Answer, Forge};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

fn history() -> Value {
    let pr = |n: i64, body: &str, path: &str| {
        json!({"number": n, "author": "sam", "comments": [
            {"id": n.to_string(), "author": "rita", "body": body, "path": path}]})
    };
    json!({"version": 1, "repo": "git.example.com/pay/ledger", "pull_requests": [
        pr(1, "Please use Money instead of f64 for amounts.", "src/billing/total.rs"),
        pr(2, "Widgets that don't hold state should get a `const` constructor.", "lib/widgets/avatar.dart"),
        pr(3, "Handlers that parse input should get a size limit.", "src/api/upload.rs"),
        pr(4, "Avoid unwrap() in library code; return a Result.", "src/lib.rs"),
        pr(5, "Always log with tracing, never println.", "src/log.rs"),
        pr(6, "We never edit a migration that has shipped.", "db/migrations/0001.sql"),
        pr(7, "Avoid `.clone()` on hot paths.", "src/engine/step.rs"),
    ]})
}

fn completion(content: &str) -> Answer {
    let body = json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1_764_000_000,
        "model": "fake-1", "choices": [{"index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}});
    (200, Vec::new(), body.to_string())
}

/// The fake model: answers by what the review comment in the request says.
fn fake() -> Forge {
    Forge::start(Arc::new(
        |path: &str, _q: &HashMap<String, String>, h: &HashMap<String, String>| {
            if path != "/v1/chat/completions" {
                return (404, Vec::new(), "{}".into());
            }
            if h.get("authorization").map(String::as_str) != Some("Bearer sk-test") {
                return (401, Vec::new(), r#"{"error":{"message":"no key"}}"#.into());
            }
            let body: Value =
                serde_json::from_str(h.get(":body").map_or("", String::as_str)).unwrap_or_default();
            let user = body["messages"][1]["content"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if user.contains("Money") {
                completion(
                    r#"{"convention": true, "statement": "Use the Money type for every amount, never f64", "title": "Money for amounts"}"#,
                )
            } else if user.contains("const") {
                completion(
                    r#"{"convention": true, "statement": "Give stateless widgets a `const` constructor", "title": "Const stateless widgets"}"#,
                )
            } else if user.contains("size limit") {
                completion(r#"{"convention": false}"#)
            } else if user.contains("unwrap") {
                completion("Sure! This is a convention: {\"convention\": true}")
            } else if user.contains("tracing") {
                std::thread::sleep(std::time::Duration::from_millis(1500));
                completion(
                    r#"{"convention": true, "statement": "Log with tracing", "title": "Tracing"}"#,
                )
            } else if user.contains("migration") {
                (
                    500,
                    Vec::new(),
                    r#"{"error":{"message":"overloaded"}}"#.into(),
                )
            } else if user.contains("clone") {
                completion(
                    "```json\n{\"convention\": true, \"statement\": \"Avoid clones on hot paths\", \"title\": \"No clones\"}\n```",
                )
            } else {
                completion(r#"{"convention": false}"#)
            }
        },
    ))
}

fn setup(llm: &str) -> (Env, Forge) {
    let e = Env::init();
    let f = fake();
    std::fs::write(
        e.home().join("config.toml"),
        format!(
            "[extract.llm]\n{llm}\nendpoint = \"{}/v1\"\nmodel = \"fake-1\"\napi_key_env = \"FAKE_LLM_KEY\"\ntimeout_ms = 500\n",
            f.url
        ),
    )
    .unwrap();
    let p = e.dir.path().join("history.json");
    std::fs::write(&p, history().to_string()).unwrap();
    let (out, err, code) = e.run(&["import", "file", p.to_str().unwrap(), "--no-extract"]);
    assert_eq!(code, 0, "{out}{err}");
    (e, f)
}

fn extract(e: &Env, args: &[&str]) -> Value {
    let mut a = vec!["extract", "--json"];
    a.extend_from_slice(args);
    let out = e.cmd(&a).env("FAKE_LLM_KEY", "sk-test").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&text).unwrap()
}

fn statement_of(r: &Value, word: &str) -> String {
    r["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["statement"].as_str().unwrap().to_string())
        .find(|s| s.contains(word))
        .unwrap_or_else(|| panic!("no candidate with {word:?}: {r}"))
}

#[test]
fn the_model_confirms_and_writes_and_its_failures_change_nothing() {
    let (e, f) = setup("enabled = true");
    let r = extract(&e, &[]);
    let l = &r["llm"];
    assert_eq!(l["model"], "fake-1");
    assert_eq!(l["calls"], 8, "{l}");
    assert_eq!(l["confirmed"], 1, "{l}");
    assert_eq!(l["declined"], 1, "{l}");
    assert_eq!(l["rewritten"], 2, "{l}");
    assert_eq!(l["failed"], 4, "prose, fenced, 500, slow: {l}");
    assert_eq!(l["capped"], 0);
    assert!(l["first_error"].as_str().is_some(), "{l}");
    // Written by the model: the Money rule and the confirmed borderline one.
    assert_eq!(
        statement_of(&r, "Money"),
        "Use the Money type for every amount, never f64."
    );
    assert_eq!(
        statement_of(&r, "widgets"),
        "Give stateless widgets a `const` constructor."
    );
    // Its failures left the deterministic statements.
    assert_eq!(
        statement_of(&r, "unwrap"),
        "Avoid unwrap() in library code; return a Result."
    );
    statement_of(&r, "tracing");
    statement_of(&r, "migration");
    statement_of(&r, "clone()");
    // The declined borderline comment stays out.
    assert!(!r.to_string().contains("size limit"), "{r}");
    assert_eq!(f.requests().len(), 8);
    // Nothing was activated: every rule is pending.
    let c = rusqlite::Connection::open(e.db()).unwrap();
    let (all, pending): (i64, i64) = c
        .query_row(
            "SELECT COUNT(*), SUM(status = 'pending') FROM rules",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((all, pending), (6, 6));

    // The text output says what the pass did (a re-run: the candidates exist, only the two
    // borderline comments are asked about again).
    let out = e
        .cmd(&["extract", "--dry-run"])
        .env("FAKE_LLM_KEY", "sk-test")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "language model fake-1: 2 request(s) — 1 borderline comment(s) confirmed, 1 declined"
        ),
        "{text}"
    );
}

#[test]
fn a_missing_key_fails_every_request_and_the_cap_bounds_them() {
    let (e, f) = setup("enabled = true\nmax_calls = 3");
    // No key in the environment: the fake answers 401, every request fails, the result is the
    // deterministic one.
    let (out, err, code) = e.run(&["extract", "--dry-run", "--json"]);
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["llm"]["calls"], 3, "{r}");
    assert_eq!(r["llm"]["failed"], 3);
    assert!(r["llm"]["capped"].as_u64().unwrap() > 0, "{r}");
    assert!(
        r["llm"]["first_error"]
            .as_str()
            .unwrap()
            .contains("HTTP 401"),
        "{r}"
    );
    assert_eq!(
        statement_of(&r, "Money"),
        "Use Money instead of f64 for amounts."
    );
    assert_eq!(f.requests().len(), 3, "the cap held");
}

#[test]
fn off_unless_enabled_and_skipped_with_no_llm() {
    let (e, f) = setup("enabled = false");
    let r = extract(&e, &["--dry-run"]);
    assert!(r.get("llm").is_none(), "{r}");
    assert!(f.requests().is_empty());
    std::fs::write(
        e.home().join("config.toml"),
        format!(
            "[extract.llm]\nenabled = true\nendpoint = \"{}/v1\"\nmodel = \"fake-1\"\n",
            f.url
        ),
    )
    .unwrap();
    let r = extract(&e, &["--dry-run", "--no-llm"]);
    assert!(r.get("llm").is_none(), "{r}");
    assert!(f.requests().is_empty());
    // A configuration that does not validate is a clear error, not a silent default.
    std::fs::write(
        e.home().join("config.toml"),
        "[extract.llm]\nenabled = true\nendpoint = \"localhost:11434\"\nmodel = \"m\"\n",
    )
    .unwrap();
    let (_, err, code) = e.run(&["extract", "--dry-run"]);
    assert_eq!(code, 1);
    assert!(err.contains("extract.llm.endpoint"), "{err}");
}
