//! `difflore memory`: status transitions and refusals (agent markers included), ids by prefix,
//! the JSON shapes of DESIGN §9, and rejection tombstoning the source comments.

mod common;
use common::Env;
use serde_json::{Value, json};

fn with_candidates() -> Env {
    let e = Env::init();
    let doc = json!({"version": 1, "repo": "git.example.com/pay/ledger", "pull_requests": [
    {"number": 1, "author": "sam", "comments": [
        {"id": "1", "author": "rita", "body": "Please use Money instead of f64 for amounts.", "path": "src/billing/total.rs", "line": 4, "url": "https://git.example.com/pay/ledger/pulls/1#1"},
        {"id": "2", "author": "omar", "body": "We don't call db.raw outside migrations.", "path": "src/api/users.rs", "line": 9}
    ]}]});
    let p = e.dir.path().join("h.json");
    std::fs::write(&p, doc.to_string()).unwrap();
    let (_, err, code) = e.run(&["import", "file", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    e
}

fn list(e: &Env, args: &[&str]) -> Vec<Value> {
    let mut a = vec!["memory", "list", "--json"];
    a.extend_from_slice(args);
    let (out, err, code) = e.run(&a);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema_version"], 1);
    v["rules"].as_array().unwrap().clone()
}

#[test]
fn json_shapes_and_prefix_ids() {
    let e = with_candidates();
    let rules = list(&e, &[]);
    assert_eq!(rules.len(), 2);
    let r = &rules[0];
    for k in [
        "id",
        "title",
        "statement",
        "status",
        "severity",
        "globs",
        "repo",
        "confidence",
        "origin",
        "evidence",
    ] {
        assert!(r.get(k).is_some(), "missing {k}: {r}");
    }
    assert_eq!(r["status"], "pending");
    assert_eq!(r["origin"], "review_import");
    let ev = &r["evidence"][0];
    for k in ["url", "comment_id", "author", "path", "line", "excerpt"] {
        assert!(ev.get(k).is_some(), "missing evidence.{k}: {ev}");
    }
    let id = r["id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
    // The handle `memory list` shows is unique and accepted everywhere.
    let (table, _, _) = e.run(&["memory", "list"]);
    let shown = table
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let (out, err, code) = e.run(&["memory", "show", &shown, "--json"]);
    assert_eq!(code, 0, "{shown}: {err}");
    let one: Value = serde_json::from_str(&out).unwrap();
    assert!(
        one["id"].as_str().unwrap().ends_with(&shown),
        "{shown} is the id's tail"
    );
    let (out, _, _) = e.run(&["memory", "show", &shown]);
    assert!(out.contains(" on src/"), "{out}");
    for (bad, needle) in [
        ("zz", "not a rule id"),
        ("ffffffff", "no rule"),
        ("01a", "at least 4"),
    ] {
        let (_, err, code) = e.run(&["memory", "show", bad]);
        assert_eq!(code, 1);
        assert!(err.contains(needle), "{bad}: {err}");
    }
    // Two rules created in the same millisecond share a prefix: a short one is ambiguous.
    let p = &rules[0]["id"].as_str().unwrap()[..4];
    if rules[1]["id"].as_str().unwrap().starts_with(p) {
        let (_, err, _) = e.run(&["memory", "show", p]);
        assert!(err.contains("several rules"), "{err}");
    }
}

#[test]
fn every_transition_and_refusal() {
    let e = with_candidates();
    let id = list(&e, &[])[0]["id"].as_str().unwrap().to_string();
    let short = id.as_str();
    // Pending cannot be paused or resumed.
    let (_, err, code) = e.run(&["memory", "pause", short]);
    assert_eq!(code, 1);
    assert!(
        err.contains("pending") && err.contains("cannot become paused"),
        "{err}"
    );
    assert_eq!(e.run(&["memory", "resume", short]).2, 1);
    // approve, approve again (no-op, exit 0), pause, resume.
    assert!(
        e.run(&["memory", "approve", short])
            .0
            .starts_with("approved")
    );
    let (out, _, code) = e.run(&["memory", "approve", short]);
    assert_eq!(code, 0);
    assert!(out.starts_with("already active"), "{out}");
    assert_eq!(list(&e, &["--status", "active"]).len(), 1);
    assert!(e.run(&["memory", "pause", short]).0.starts_with("paused"));
    assert!(e.run(&["memory", "resume", short]).0.starts_with("resumed"));
    // edit
    let (out, err, code) = e.run(&[
        "memory",
        "edit",
        short,
        "--globs",
        "src/billing/**/*.rs,src/invoice/*.rs",
        "--enforce",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["globs"],
        json!(["src/billing/**/*.rs", "src/invoice/*.rs"])
    );
    assert_eq!(v["severity"], "enforce");
    let (_, err, code) = e.run(&["memory", "edit", short, "--globs", "/etc/*"]);
    assert_eq!(code, 1);
    assert!(err.contains("repo-relative"), "{err}");
    assert_eq!(e.run(&["memory", "edit", short]).2, 1, "nothing to change");
    // Agent markers: every changing command refuses, nothing changes.
    for marker in [
        "CLAUDECODE",
        "CODEX_SESSION_ID",
        "GEMINI_SESSION_ID",
        "CURSOR_AGENT",
    ] {
        for args in [
            vec!["memory", "approve", short],
            vec!["memory", "reject", short],
            vec!["memory", "pause", short],
            vec![
                "memory",
                "add",
                "--title",
                "t",
                "--statement",
                "s",
                "--global",
            ],
        ] {
            let o = e.cmd(&args).env(marker, "1").output().unwrap();
            assert_eq!(o.status.code(), Some(1), "{marker} {args:?}");
            assert!(String::from_utf8_lossy(&o.stderr).contains("your own terminal"));
        }
    }
    assert_eq!(list(&e, &["--status", "active"]).len(), 1);
    // reject with a reason → tombstones: re-extraction never proposes it again.
    let (out, _, code) = e.run(&["memory", "reject", short, "--reason", "not our rule"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("rejected"));
    e.run(&["extract"]);
    let rules = list(&e, &[]);
    assert_eq!(
        rules.len(),
        2,
        "no new candidate from the rejected comment: {rules:?}"
    );
    assert_eq!(list(&e, &["--status", "rejected"]).len(), 1);
    // add: a person's rule is active at once; needs a scope outside a checkout.
    let (_, err, code) = e.run(&[
        "memory",
        "add",
        "--title",
        "Money",
        "--statement",
        "Use Money.",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("--repo KEY or --global"), "{err}");
    let (out, err, code) = e.run(&[
        "memory",
        "add",
        "--title",
        "Money",
        "--statement",
        "Use Money.",
        "--glob",
        "src/**",
        "--repo",
        "git.example.com/pay/ledger",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["status"].as_str(), v["origin"].as_str()),
        (Some("active"), Some("manual"))
    );
    let o = e
        .cmd(&["memory", "add", "--title", "T", "--statement", "S."])
        .current_dir(e.project())
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(
        list(&e, &["--repo", "github.com/acme/shop"]).len() == 1,
        "scope from the checkout"
    );
    let (_, err, code) = e.run(&["memory", "list", "--status", "lost"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown status"));
}
