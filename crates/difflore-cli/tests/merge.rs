//! `difflore memory merge KEEP OTHER`: this machine's rules merge locally (the kept rule gains
//! the evidence, the other is rejected as merged and its point never proposed again); team rules
//! merge on the team's server through the one decision path and come back by a pull — with a
//! real `difflore-server` on both backends. Refusals: agents, itself, other repositories, a
//! team rule with a local one.

mod common;
use common::*;
use difflore_test_support::http;
use serde_json::{Value, json};

/// Two comments of one repository making the same point in words clustering does not join.
fn history() -> Value {
    json!({"version": 1, "repo": "git.example.com/pay/ledger", "pull_requests": [
        {"number": 1, "author": "sam", "comments": [
            {"id": "1", "author": "rita", "body": "We keep business logic out of views: move this calculation into the service.", "path": "app/views/orders.py"}]},
        {"number": 2, "author": "kim", "comments": [
            {"id": "2", "author": "omar", "body": "Views should stay thin, the refund rules belong in the service layer.", "path": "app/views/refunds.py"}]},
        {"number": 3, "author": "kim", "comments": [
            {"id": "3", "author": "omar", "body": "Always open files with a `with` block so they are closed on errors.", "path": "app/io/export.py"}]},
    ]})
}

fn rules(e: &Env) -> Vec<Value> {
    let (out, err, code) = e.run(&["memory", "list", "--all-repos", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    v["rules"].as_array().unwrap().clone()
}

fn id_of(rules: &[Value], word: &str) -> String {
    rules
        .iter()
        .find(|r| r["statement"].as_str().unwrap_or("").contains(word))
        .unwrap_or_else(|| panic!("no rule with {word:?} in {rules:?}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn local_rules_merge_and_the_other_point_is_not_proposed_again() {
    let e = Env::init();
    let p = e.dir.path().join("history.json");
    std::fs::write(&p, history().to_string()).unwrap();
    let (out, err, code) = e.run(&["import", "file", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let before = rules(&e);
    assert_eq!(before.len(), 3, "{before:?}");
    let keep = id_of(&before, "business logic");
    let other = id_of(&before, "stay thin");
    let files = id_of(&before, "with` block");

    // Agents may not merge.
    let out = e
        .cmd(&["memory", "merge", &keep, &other])
        .env("CLAUDECODE", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(rules(&e).iter().all(|r| r["status"] == "pending"));
    // Itself, and nothing to merge.
    let (_, err, code) = e.run(&["memory", "merge", &keep, &keep]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot be merged into itself"), "{err}");
    let (_, err, code) = e.run(&["memory", "merge", &keep]);
    assert_eq!(code, 2, "{err}");

    let (out, err, code) = e.run(&["memory", "merge", &keep, &other]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("now has 2 piece(s) of evidence (+1)") && out.contains("rejected as merged"),
        "{out}"
    );
    let (out, _, _) = e.run(&["memory", "show", &keep, "--json"]);
    let k: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(k["evidence"].as_array().unwrap().len(), 2, "{k}");
    assert_eq!(k["status"], "pending", "merging decides nothing else");
    let (out, _, _) = e.run(&["memory", "show", &other, "--json"]);
    let o: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(o["status"], "rejected");

    // Extraction again: the merged point stays away, nothing new is proposed.
    let (out, err, code) = e.run(&["extract", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["candidates_new"], 0, "{v}");
    assert_eq!(rules(&e).len(), 3);

    // A global rule and a repository's do not merge.
    let (out, err, code) = e.run(&[
        "memory",
        "add",
        "--global",
        "--title",
        "Thin views",
        "--statement",
        "Keep views thin.",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let global: Value = serde_json::from_str(&out).unwrap();
    let (_, err, code) = e.run(&["memory", "merge", &files, global["id"].as_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("different repositories"), "{err}");
}

#[test]
fn sqlite_team_rules_merge_on_the_server() {
    team_rules_merge_on_the_server(&Backend::Sqlite);
}

#[test]
fn postgres_team_rules_merge_on_the_server() {
    if let Some(b) = Backend::postgres() {
        team_rules_merge_on_the_server(&b);
    }
}

fn team_rules_merge_on_the_server(b: &Backend) {
    let s = TestServer::start(b);
    let ingest = s.token("dev", "ingest");
    let propose = |id: &str, statement: &str, url: &str| {
        json!({"id": uuid::Uuid::now_v7().to_string(), "kind": "rule.proposed",
            "occurred_at": "2026-11-29T10:00:00Z", "payload": {
                "rule_id": id, "repo": "github.com/acme/shop", "title": statement,
                "statement": statement, "globs": ["app/views/*.py"], "severity": "context",
                "origin": "review_import", "confidence": 0.4,
                "evidence": [{"url": url, "excerpt": statement}]}})
    };
    let keep = uuid::Uuid::now_v7().to_string();
    let other = uuid::Uuid::now_v7().to_string();
    let batch = http::batch(&[
        propose(
            &keep,
            "Keep business logic out of views.",
            "https://github.com/acme/shop/pull/1#r1",
        ),
        propose(
            &other,
            "Views stay thin; rules belong in the service layer.",
            "https://github.com/acme/shop/pull/2#r2",
        ),
    ]);
    assert_eq!(http::post(&s.url, Some(&ingest), batch).0, 200);

    let lead = Env::init();
    let (out, err, code) = lead.login(&s, &s.token("lead", "maintainer"), false);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(rules(&lead).len(), 2, "pulled at login");

    // A team rule and this machine's own do not merge.
    let (out, err, code) = lead.run(&[
        "memory",
        "add",
        "--title",
        "Thin views",
        "--statement",
        "Views only render.",
        "--repo",
        "github.com/acme/shop",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let local: Value = serde_json::from_str(&out).unwrap();
    let (_, err, code) = lead.run(&["memory", "merge", &keep, local["id"].as_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("share the local one first"), "{err}");

    let (out, err, code) = lead.run(&["memory", "merge", &keep, &other]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("(on the team's server)"), "{out}");
    let (_, k) = http::get(&s.url, &format!("/v1/rules/{keep}"), Some(&ingest));
    assert_eq!(k["evidence"].as_array().unwrap().len(), 2, "{k}");
    let (_, o) = http::get(&s.url, &format!("/v1/rules/{other}"), Some(&ingest));
    assert_eq!(o["status"], "merged", "{o}");
    assert_eq!(o["decided_by"], "lead");
    // The mirror, by the pull after the decision: the kept rule with both pieces of evidence,
    // the merged one gone.
    let mirror: Vec<Value> = rules(&lead)
        .into_iter()
        .filter(|r| r["location"] == "team")
        .collect();
    assert_eq!(mirror.len(), 1, "{mirror:?}");
    assert_eq!(mirror[0]["id"], keep.as_str());
    let (out, _, _) = lead.run(&["memory", "show", &keep, "--json"]);
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["evidence"].as_array().unwrap().len(), 2, "{shown}");

    // A developer's token may not merge: nothing changes.
    let dev = Env::init();
    dev.login(&s, &ingest, false);
    let third = uuid::Uuid::now_v7().to_string();
    let batch = http::batch(&[propose(
        &third,
        "Never query the database from a view.",
        "https://github.com/acme/shop/pull/3#r3",
    )]);
    assert_eq!(http::post(&s.url, Some(&ingest), batch).0, 200);
    let (_, err, code) = dev.run(&["sync", "now"]);
    assert_eq!(code, 0, "{err}");
    let (_, err, code) = dev.run(&["memory", "merge", &keep, &third]);
    assert_eq!(code, 1);
    assert!(err.contains("maintainer"), "{err}");
    let (_, t) = http::get(&s.url, &format!("/v1/rules/{third}"), Some(&ingest));
    assert_eq!(t["status"], "pending");
}
