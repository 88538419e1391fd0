//! Extraction end to end: an offline import with realistic review threads → `difflore extract`
//! → pending candidates with their evidence, clusters across PRs, reasons, globs, tombstones.

mod common;
use common::Env;
use serde_json::{Value, json};

fn history() -> Value {
    let c = |id: &str, author: &str, body: &str, path: &str| json!({"id": id, "author": author, "body": body, "path": path, "line": 3, "thread": id});
    json!({
        "version": 1,
        "repo": "git.example.com/pay/ledger",
        "pull_requests": [
            {"number": 1, "author": "sam", "comments": [
                c("1", "rita", "Please use Money instead of f64 for amounts.", "src/billing/total.rs"),
                c("2", "rita", "LGTM!", "src/billing/total.rs"),
                c("3", "sam", "We always do it this way, right?", "src/billing/total.rs"),
                c("4", "lint-bot", "We never allow lines over 100 characters.", "src/billing/tax.rs"),
            ]},
            {"number": 2, "author": "kim", "comments": [
                c("5", "omar", "Use Money, not f64, for billing amounts.", "src/billing/refund.rs"),
                c("6", "omar", "typo: recieve", "src/billing/refund.rs"),
                c("7", "rita", "Why is this async?", "src/api/handler.rs"),
                c("8", "rita", "Please rebase on main before merging.", "src/api/handler.rs"),
                {"id": "9", "author": "omar", "body": "We don't call db.raw outside migrations.", "path": "src/api/users.rs", "line": 9, "thread": "9"},
                {"id": "10", "author": "omar", "body": "Never mind, this is a migration.", "path": "src/api/users.rs", "thread": "9", "in_reply_to": "9"},
            ]},
            {"number": 3, "author": "lee", "comments": [
                c("11", "rita", "Amounts must use Money instead of f64 here too.", "src/invoice/pdf.rs"),
                c("12", "kim", "Avoid unwrap() in library code; return a Result.", "src/lib.rs"),
                {"id": "13", "author": "kim", "body": "```suggestion\nlet total = Money::zero();\n```", "path": "src/invoice/pdf.rs", "thread": "13"},
            ]},
        ]
    })
}

fn setup() -> Env {
    let e = Env::init();
    let p = e.dir.path().join("history.json");
    std::fs::write(&p, history().to_string()).unwrap();
    let (out, err, code) = e.run(&["import", "file", p.to_str().unwrap(), "--no-extract"]);
    assert_eq!(code, 0, "{out}{err}");
    e
}

fn rules(e: &Env) -> Vec<(String, String, f64, String, i64)> {
    let c = rusqlite::Connection::open(e.db()).unwrap();
    let mut st = c
        .prepare("SELECT statement, status, confidence, globs, (SELECT COUNT(*) FROM rule_evidence WHERE rule_id = id) FROM rules ORDER BY confidence DESC")
        .unwrap();
    st.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn extraction_keeps_norms_clusters_them_and_explains_itself() {
    let e = setup();
    let (out, err, code) = e.run(&["extract", "--json"]);
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["comments"], 13);
    assert_eq!(r["kept"], 4, "{r}");
    let dropped = &r["dropped"];
    for why in [
        "praise or acknowledgement",
        "the PR author's own comment",
        "written by a bot",
        "a typo or wording nit",
        "a question that states no norm",
        "an instruction for this PR only",
        "retracted later in the thread",
        "a one-off suggestion block",
    ] {
        assert!(
            dropped.get(why).is_some(),
            "missing drop reason {why}: {dropped}"
        );
    }
    let rs = rules(&e);
    assert_eq!(rs.len(), 2, "{rs:?}");
    let (statement, status, conf, globs, evidence) = &rs[0];
    assert!(
        statement.starts_with("Use Money instead of f64"),
        "{statement}"
    );
    assert_eq!(status, "pending");
    assert_eq!(*evidence, 3, "said 3 times across PRs");
    assert!(
        globs.contains("src/billing/*.rs") && globs.contains("src/invoice/*.rs"),
        "{globs}"
    );
    assert!(*conf > rs[1].2, "more evidence ranks higher");
    let top = &r["candidates"][0];
    assert!(
        top["reason"]
            .as_str()
            .unwrap()
            .contains("said 3 times by 2 reviewers"),
        "{top}"
    );
    assert!(
        rs.iter().all(|r| r.1 == "pending"),
        "nothing is ever active after extraction"
    );
    // Re-running proposes nothing new and duplicates no evidence.
    let (out, _, _) = e.run(&["extract", "--json"]);
    let again: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(again["candidates_new"], 0);
    assert_eq!(rules(&e).iter().map(|r| r.4).sum::<i64>(), 4);
}

#[test]
fn dry_run_writes_nothing_and_tombstones_are_respected() {
    let e = setup();
    let (out, _, _) = e.run(&["extract", "--dry-run"]);
    assert!(out.contains("would propose 2 new"), "{out}");
    assert!(rules(&e).is_empty());
    // A person rejected comment 12 and the Money rule's signature earlier.
    let conn =
        difflore_core::store::open_for_write(&difflore_core::home::Home::at(e.home())).unwrap();
    difflore_rules::extract::tombstone(
        &conn,
        difflore_rules::kinds::TombstoneKind::Comment,
        "git.example.com/pay/ledger",
        "file:12",
        "rejected",
    )
    .unwrap();
    let sig = difflore_rules::cluster::signature("Use Money instead of f64 for amounts.");
    difflore_rules::extract::tombstone(
        &conn,
        difflore_rules::kinds::TombstoneKind::Signature,
        "git.example.com/pay/ledger",
        &sig,
        "rejected",
    )
    .unwrap();
    drop(conn);
    let (out, _, _) = e.run(&["extract", "--json"]);
    let r: Value = serde_json::from_str(&out).unwrap();
    assert!(r["tombstoned"].as_i64().unwrap() >= 2, "{r}");
    let rs = rules(&e);
    assert!(
        rs.iter().all(|r| !r.0.contains("unwrap")),
        "a rejected comment is not re-proposed: {rs:?}"
    );
    assert!(
        rs.iter()
            .all(|r| r.0 != "Use Money instead of f64 for amounts."),
        "{rs:?}"
    );
    // Re-importing the same history does not bring them back either.
    let p = e.dir.path().join("history.json");
    e.run(&["import", "file", p.to_str().unwrap()]);
    assert!(rules(&e).iter().all(|r| !r.0.contains("unwrap")));
}

#[test]
fn explain_shows_every_comment_feature_by_feature() {
    let e = setup();
    let (out, err, code) = e.run(&["extract", "--dry-run", "--explain"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Every comment, feature by feature (kept at a score of 1.0):"),
        "{out}"
    );
    // A kept norm: its score, the features that fired with their weights, the statement.
    let kept = out
        .split("\nkept")
        .find(|b| b.contains("file:1 "))
        .unwrap_or_else(|| panic!("comment 1 kept:\n{out}"));
    assert!(kept.contains("+0.60  says X instead of Y"), "{kept}");
    assert!(
        kept.contains("→ Use Money instead of f64 for amounts."),
        "{kept}"
    );
    // A dropped question and a hard drop, each with its reason.
    let why = out
        .split("\ndrop")
        .find(|b| b.contains("file:7 "))
        .unwrap_or_else(|| panic!("comment 7 dropped:\n{out}"));
    assert!(
        why.contains("-1.00  a question asking for information"),
        "{why}"
    );
    assert!(
        why.contains("reason: a question that states no norm"),
        "{why}"
    );
    assert!(out.contains("reason: written by a bot"), "{out}");
    // Nothing was written by a dry run.
    assert!(rules(&e).is_empty());

    let (out, err, code) = e.run(&["extract", "--dry-run", "--explain", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let list = v["explained"].as_array().expect("explained");
    assert_eq!(list.len(), 13, "one entry per comment");
    let one = list.iter().find(|x| x["comment"] == "file:1").unwrap();
    assert_eq!(one["kept"], true);
    assert!(one["score"].as_f64().unwrap() >= one["threshold"].as_f64().unwrap());
    assert!(
        one["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "says X instead of Y" && f["weight"] == 0.6),
        "{one}"
    );
    // Without --explain the JSON has no such array.
    let (out, _, _) = e.run(&["extract", "--dry-run", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v.get("explained").is_none());
}
