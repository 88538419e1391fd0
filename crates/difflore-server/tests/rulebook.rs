//! The team rulebook through a real `difflore-server` on both backends: `rule.proposed` events
//! applied at ingest (new → pending, known → evidence merged, replay → nothing, tombstoned →
//! ignored, invalid → rejected alone), pulls paged by version, decisions checked in the order
//! 403, 400, 404, 409, merges, and team isolation.

mod common;
use common::*;
use serde_json::{Value, json};

on_both_backends!(
    proposals_create_grow_and_a_replay_changes_nothing,
    decisions_are_checked_audited_and_tombstone,
    merges_and_pulls_page_by_version,
    a_puller_during_concurrent_proposals_misses_nothing,
    batches_apply_in_order_and_a_replay_of_1000_proposals_changes_nothing,
    bad_input_gets_a_clear_error_and_changes_nothing,
);

const REPO: &str = "github.com/acme/shop";

fn proposal(rule_id: &str, statement: &str, urls: &[&str]) -> Value {
    json!({
        "rule_id": rule_id,
        "repo": REPO,
        "title": "Money, not f64",
        "statement": statement,
        "globs": ["src/billing/**"],
        "severity": "context",
        "origin": "review_import",
        "confidence": 0.7,
        "evidence": urls.iter().map(|u| json!({
            "url": u, "source": "github", "author": "rev", "excerpt": "f64 rounds money"
        })).collect::<Vec<_>>(),
    })
}

fn propose(s: &Server, token: &str, id: &str, payload: Value) -> Value {
    let ev = json!({"id": id, "kind": "rule.proposed",
                    "occurred_at": "2026-11-29T10:00:00Z", "payload": payload});
    let (st, v) = post(&s.url, Some(token), batch(&[ev]));
    assert_eq!(st, 200, "{v}");
    v["results"][0].clone()
}

fn pull(s: &Server, token: &str, since: i64) -> Value {
    let (st, v) = get(&s.url, &format!("/v1/rules?since={since}"), Some(token));
    assert_eq!(st, 200, "{v}");
    v
}

fn decide(s: &Server, token: &str, id: &str, body: Value) -> (u16, Value) {
    decide_raw(s, token, id, &body.to_string())
}

fn rule_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn proposals_create_grow_and_a_replay_changes_nothing(b: &Backend) {
    let s = Server::start(b);
    let team = unique("acme");
    let dev = s.token_in(&team, "laptop", "ingest");
    let id = rule_id();
    let first = new_id();
    let r = propose(
        &s,
        &dev,
        &first,
        proposal(
            &id,
            "Never use f64 for money amounts",
            &["https://gh/p/1#r1"],
        ),
    );
    assert_eq!(r["status"], "accepted", "{r}");
    let page = pull(&s, &dev, 0);
    assert_eq!(page["rules"].as_array().unwrap().len(), 1, "{page}");
    let rule = &page["rules"][0];
    assert_eq!(rule["id"], id.as_str());
    assert_eq!(rule["status"], "pending");
    assert_eq!(
        (rule["version"].as_i64(), rule["revision"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(rule["signature"], "v1:not use f64 for money amount");
    assert_eq!(page["next_since"], 1);

    // More evidence for the same rule (one known, one new): it grows once.
    let r = propose(
        &s,
        &dev,
        &new_id(),
        proposal(
            &id,
            "Never use f64 for money amounts",
            &["https://gh/p/1#r1", "https://gh/p/2#r9"],
        ),
    );
    assert_eq!(r["status"], "accepted");
    // Another machine found the same point (same signature, its own rule id): it joins.
    let r = propose(
        &s,
        &dev,
        &new_id(),
        proposal(
            &rule_id(),
            "never use F64 for money amounts!",
            &["https://gh/p/3#r2"],
        ),
    );
    assert_eq!(r["status"], "accepted");
    let page = pull(&s, &dev, 0);
    assert_eq!(page["rules"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["rules"][0]["evidence"].as_array().unwrap().len(), 3);
    let v = page["rules"][0]["version"].as_i64().unwrap();
    assert_eq!(v, 3);

    // A replayed event changes nothing.
    let r = propose(
        &s,
        &dev,
        &first,
        proposal(
            &id,
            "Never use f64 for money amounts",
            &["https://gh/p/9#r9"],
        ),
    );
    assert_eq!(r["status"], "duplicate");
    assert!(pull(&s, &dev, v)["rules"].as_array().unwrap().is_empty());

    // An invalid proposal is rejected alone, with its reason.
    let bad = json!({"id": new_id(), "kind": "rule.proposed", "occurred_at": "2026-11-29T10:00:00Z",
                     "payload": {"rule_id": "r-1", "title": "t", "statement": "s",
                                 "severity": "context", "origin": "manual"}});
    let good = event(&new_id(), "hook.event");
    let (st, out) = post(&s.url, Some(&dev), batch(&[bad, good]));
    assert_eq!(st, 200);
    assert_eq!(out["results"][0]["status"], "rejected");
    assert!(
        out["results"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("not a UUID"),
        "{out}"
    );
    assert_eq!(out["results"][1]["status"], "accepted");

    // Another team sees nothing of it.
    let other = s.token_in(&unique("other"), "x", "admin");
    assert!(pull(&s, &other, 0)["rules"].as_array().unwrap().is_empty());
    assert_eq!(get(&s.url, &format!("/v1/rules/{id}"), Some(&other)).0, 404);
    assert_eq!(get(&s.url, &format!("/v1/rules/{id}"), Some(&dev)).0, 200);
    // Bad queries are 400s.
    assert_eq!(get(&s.url, "/v1/rules?since=-1", Some(&dev)).0, 400);
    assert_eq!(get(&s.url, "/v1/rules?limit=0", Some(&dev)).0, 400);
    assert_eq!(get(&s.url, "/v1/rules?status=maybe", Some(&dev)).0, 400);
    assert_eq!(get(&s.url, "/v1/rules", None).0, 401);
}

fn decisions_are_checked_audited_and_tombstone(b: &Backend) {
    let s = Server::start(b);
    let team = unique("acme");
    let dev = s.token_in(&team, "laptop", "ingest");
    let lead = s.token_in(&team, "lead", "maintainer");
    let id = rule_id();
    propose(
        &s,
        &dev,
        &new_id(),
        proposal(
            &id,
            "Never use f64 for money amounts",
            &["https://gh/p/1#r1"],
        ),
    );
    // 403 first, whatever the body.
    let (st, v) = decide(&s, &dev, &id, json!("garbage"));
    assert_eq!(st, 403, "{v}");
    assert!(v["error"].as_str().unwrap().contains("maintainer"));
    // Then 400, then 404.
    assert_eq!(decide(&s, &lead, &id, json!({"action": "bless"})).0, 400);
    assert_eq!(
        decide(
            &s,
            &lead,
            &rule_id(),
            json!({"action": "approve", "expected_revision": 1})
        )
        .0,
        404
    );
    // A pending rule cannot be paused.
    let (st, v) = decide(
        &s,
        &lead,
        &id,
        json!({"action": "pause", "expected_revision": 1}),
    );
    assert_eq!(st, 400);
    assert!(v["error"].as_str().unwrap().contains("approve it first"));

    let (st, r) = decide(
        &s,
        &lead,
        &id,
        json!({"action": "approve", "expected_revision": 1}),
    );
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (r["status"].as_str(), r["revision"].as_i64()),
        (Some("active"), Some(2))
    );
    assert_eq!(r["decided_by"], "lead");
    // Someone deciding from an old page meets a 409 that says who decided, with the rule.
    let (st, c) = decide(
        &s,
        &lead,
        &id,
        json!({"action": "reject", "expected_revision": 1}),
    );
    assert_eq!(st, 409, "{c}");
    assert!(
        c["error"].as_str().unwrap().contains("decided by lead"),
        "{c}"
    );
    assert_eq!(c["rule"]["revision"], 2);

    // Reject: the signature is tombstoned; the same point proposed again is ignored.
    let (st, r) = decide(
        &s,
        &lead,
        &id,
        json!({"action": "reject", "expected_revision": 2, "reason": "we use Decimal"}),
    );
    assert_eq!((st, r["status"].as_str()), (200, Some("rejected")));
    let page = pull(&s, &dev, 0);
    assert_eq!(
        page["tombstones"][0]["signature"],
        "v1:not use f64 for money amount"
    );
    assert_eq!(page["tombstones"][0]["lifted"], false);
    let before = page["next_since"].as_i64().unwrap();
    propose(
        &s,
        &dev,
        &new_id(),
        proposal(
            &rule_id(),
            "Do not use f64 for money amounts",
            &["https://gh/p/8#r8"],
        ),
    );
    let after = pull(&s, &dev, before);
    assert!(after["rules"].as_array().unwrap().is_empty(), "{after}");

    // Approved again: the tombstone is lifted, and pulls say so.
    let (st, r) = decide(
        &s,
        &lead,
        &id,
        json!({"action": "approve", "expected_revision": 3}),
    );
    assert_eq!((st, r["status"].as_str()), (200, Some("active")));
    let page = pull(&s, &dev, before);
    assert_eq!(page["tombstones"][0]["lifted"], true, "{page}");

    // Pause, resume, edit (the signature follows the words).
    let (_, r) = decide(
        &s,
        &lead,
        &id,
        json!({"action": "pause", "expected_revision": 4}),
    );
    assert_eq!(r["status"], "paused");
    let (_, r) = decide(
        &s,
        &lead,
        &id,
        json!({"action": "resume", "expected_revision": 5}),
    );
    assert_eq!(r["status"], "active");
    let (st, r) = decide(
        &s,
        &lead,
        &id,
        json!({"action": "edit", "expected_revision": 6,
               "changes": {"statement": "Amounts are Money, never f64", "severity": "enforce"}}),
    );
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["signature"], "v1:amount money not f64");
    assert_eq!(r["severity"], "enforce");
    assert_eq!(r["revision"], 7);
    let (_, one) = get(&s.url, &format!("/v1/rules/{id}"), Some(&dev));
    assert_eq!(one["statement"], "Amounts are Money, never f64");
}

fn merges_and_pulls_page_by_version(b: &Backend) {
    let s = Server::start(b);
    let team = unique("acme");
    let dev = s.token_in(&team, "laptop", "ingest");
    let lead = s.token_in(&team, "lead", "maintainer");
    let ids: Vec<String> = (0..5).map(|_| rule_id()).collect();
    for (i, id) in ids.iter().enumerate() {
        propose(
            &s,
            &dev,
            &new_id(),
            proposal(
                id,
                &format!("Rule number {i} about billing"),
                &[&format!("https://gh/p/{i}")],
            ),
        );
    }
    // Paging: two at a time, each rule once, in version order.
    let mut since = 0;
    let mut seen = Vec::new();
    loop {
        let (st, page) = get(
            &s.url,
            &format!("/v1/rules?since={since}&limit=2"),
            Some(&dev),
        );
        assert_eq!(st, 200);
        let rules = page["rules"].as_array().unwrap();
        if rules.is_empty() {
            assert!(page["next_since"].is_null());
            break;
        }
        assert!(rules.len() <= 2);
        seen.extend(rules.iter().map(|r| r["id"].as_str().unwrap().to_string()));
        since = page["next_since"].as_i64().unwrap();
    }
    assert_eq!(seen, ids);
    // Filtering by status and repo.
    let (_, p) = get(&s.url, "/v1/rules?status=active", Some(&dev));
    assert!(p["rules"].as_array().unwrap().is_empty());
    let (_, p) = get(
        &s.url,
        &format!("/v1/rules?repo={REPO}&status=pending"),
        Some(&dev),
    );
    assert_eq!(p["rules"].as_array().unwrap().len(), 5);

    // Merge rule 0 into rule 1: 0 is merged (and its signature tombstoned), 1 has both pieces.
    let (st, r) = decide(
        &s,
        &lead,
        &ids[0],
        json!({"action": "merge", "expected_revision": 1, "into": ids[1]}),
    );
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["status"], "merged");
    let (_, into) = get(&s.url, &format!("/v1/rules/{}", ids[1]), Some(&dev));
    assert_eq!(into["evidence"].as_array().unwrap().len(), 2);
    let page = pull(&s, &dev, since);
    assert_eq!(
        page["rules"].as_array().unwrap().len(),
        2,
        "both changed: {page}"
    );
    assert_eq!(page["tombstones"].as_array().unwrap().len(), 1);
    // A merge into a rule the team does not have is a 404.
    assert_eq!(
        decide(
            &s,
            &lead,
            &ids[2],
            json!({"action": "merge", "expected_revision": 1, "into": rule_id()})
        )
        .0,
        404
    );
}

/// Eight writers propose 160 rules while a puller pulls with `since` the whole time: the
/// puller's pages, put together, hold every rule — no change committing late is skipped.
fn a_puller_during_concurrent_proposals_misses_nothing(b: &Backend) {
    let s = Server::start(b);
    let team = unique("acme");
    let dev = s.token_in(&team, "laptop", "ingest");
    let done = std::sync::atomic::AtomicBool::new(false);
    let (written, seen) = std::thread::scope(|sc| {
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let (s, dev) = (&s, &dev);
                sc.spawn(move || {
                    (0..20)
                        .map(|i| {
                            let id = rule_id();
                            let r = propose(
                                s,
                                dev,
                                &new_id(),
                                proposal(&id, &format!("writer {w} rule {i} on billing"), &[]),
                            );
                            assert_eq!(r["status"], "accepted", "{r}");
                            id
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let puller = {
            let (s, dev, done) = (&s, &dev, &done);
            sc.spawn(move || {
                let mut since = 0i64;
                let mut seen = std::collections::HashSet::new();
                loop {
                    let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                    loop {
                        let (st, page) = get(
                            &s.url,
                            &format!("/v1/rules?since={since}&limit=7"),
                            Some(dev),
                        );
                        assert_eq!(st, 200);
                        let rules = page["rules"].as_array().unwrap();
                        if rules.is_empty() {
                            break;
                        }
                        let mut last = since;
                        for r in rules {
                            let v = r["version"].as_i64().unwrap();
                            assert!(v > last, "versions come in order: {v} after {last}");
                            last = v;
                            seen.insert(r["id"].as_str().unwrap().to_string());
                        }
                        since = page["next_since"].as_i64().unwrap();
                    }
                    if finished {
                        return seen;
                    }
                }
            })
        };
        let written: Vec<String> = writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        (written, puller.join().unwrap())
    });
    assert_eq!(written.len(), 160);
    let missing: Vec<&String> = written.iter().filter(|id| !seen.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "the puller missed {} rules",
        missing.len()
    );
}

/// Every page of the team's rulebook from the start.
fn pull_all(s: &Server, token: &str) -> Vec<Value> {
    let (mut since, mut rules) = (0, Vec::new());
    loop {
        let (st, v) = get(
            &s.url,
            &format!("/v1/rules?since={since}&limit=500"),
            Some(token),
        );
        assert_eq!(st, 200, "{v}");
        let page = v["rules"].as_array().unwrap().clone();
        if page.is_empty() {
            return rules;
        }
        since = v["next_since"].as_i64().unwrap();
        rules.extend(page);
    }
}

/// Posts `events` in batches of `per`; every result must be `status`.
fn post_all(s: &Server, token: &str, events: &[Value], per: usize, status: &str) {
    for chunk in events.chunks(per) {
        let (st, v) = post(&s.url, Some(token), batch(chunk));
        assert_eq!(st, 200, "{v}");
        let results = v["results"].as_array().unwrap();
        assert!(results.iter().all(|r| r["status"] == status), "{v}");
    }
}

fn batches_apply_in_order_and_a_replay_of_1000_proposals_changes_nothing(b: &Backend) {
    let s = Server::start(b);
    let team = unique("acme");
    let dev = s.token_in(&team, "laptop", "ingest");
    // 1 000 proposals making 800 points: the last 200 make the first 200 points again (their own
    // rule ids, new evidence), some in the same batch as the first, some in the next.
    let events: Vec<Value> = (0..1000)
        .map(|i| {
            let statement = format!("Keep invariant {} of the ledger intact", i % 800);
            let url = format!("https://gh/p/{i}#r1");
            json!({"id": new_id(), "kind": "rule.proposed", "occurred_at": "2026-11-29T10:00:00Z",
                   "payload": proposal(&rule_id(), &statement, &[url.as_str()])})
        })
        .collect();
    post_all(&s, &dev, &events, 300, "accepted");
    let before = pull_all(&s, &dev);
    assert_eq!(before.len(), 800, "one rule per point");
    let twice = before
        .iter()
        .filter(|r| r["evidence"].as_array().unwrap().len() == 2)
        .count();
    assert_eq!(twice, 200, "the repeated points gained their evidence");
    let versions: Vec<i64> = before
        .iter()
        .map(|r| r["version"].as_i64().unwrap())
        .collect();
    assert!(
        versions.windows(2).all(|w| w[0] < w[1]),
        "each rule at its own version, in order"
    );
    let top = *versions.last().unwrap();

    // The same 1 000 events again, in other batches: every one a duplicate, nothing changes.
    post_all(&s, &dev, &events, 250, "duplicate");
    assert!(pull(&s, &dev, top)["rules"].as_array().unwrap().is_empty());
    assert_eq!(
        pull_all(&s, &dev),
        before,
        "the rulebook is byte for byte the same"
    );
}

/// Sends a raw body as a decision.
fn decide_raw(s: &Server, token: &str, id: &str, body: &str) -> (u16, Value) {
    post_to(
        &s.url,
        &format!("/v1/rules/{id}/decision"),
        Some(token),
        body,
    )
}

fn bad_input_gets_a_clear_error_and_changes_nothing(b: &Backend) {
    let s = Server::start(b);
    let team = unique("acme");
    let dev = s.token_in(&team, "laptop", "ingest");
    let lead = s.token_in(&team, "lead", "maintainer");
    let id = rule_id();
    propose(
        &s,
        &dev,
        &new_id(),
        proposal(
            &id,
            "Never use f64 for money amounts",
            &["https://gh/p/1#r1"],
        ),
    );
    let before = pull_all(&s, &lead);
    assert_eq!(before.len(), 1);

    // Malformed decision bodies and unknown actions: 400s that say what is wrong.
    for body in [
        "{not json",
        "[]",
        "\"approve\"",
        r#"{"action": "approve"}"#,
        r#"{"action": "approve", "expected_revision": "one"}"#,
        r#"{"action": "bless", "expected_revision": 1}"#,
        r#"{"action": "approve", "expected_revision": 1, "colour": "red"}"#,
        r#"{"action": "edit", "expected_revision": 1, "changes": {"statement": ""}}"#,
        r#"{"action": "merge", "expected_revision": 1}"#,
    ] {
        let (st, v) = decide_raw(&s, &lead, &id, body);
        assert_eq!(st, 400, "{body} → {v}");
        let msg = v["error"].as_str().unwrap_or_default();
        assert!(!msg.is_empty(), "{body} → {v}");
    }

    // Proposals that are not rules, or carry too much evidence, are rejected alone.
    let urls =
        |n: usize| -> Vec<String> { (0..n).map(|i| format!("https://gh/p/{i}#r")).collect() };
    let many = urls(300);
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let not_rules = [
        json!("a rule"),
        json!([1, 2]),
        json!({"rule_id": rule_id(), "title": "t"}),
        json!({"rule_id": rule_id(), "title": "t", "statement": "   ", "severity": "context",
               "origin": "manual", "confidence": 0.5}),
        proposal(&rule_id(), "Keep handlers thin", &many),
    ];
    let mut events: Vec<Value> = not_rules
        .iter()
        .map(|p| {
            json!({"id": new_id(), "kind": "rule.proposed",
                        "occurred_at": "2026-11-29T10:00:00Z", "payload": p})
        })
        .collect();
    events.push(event(&new_id(), "hook.event"));
    let (st, out) = post(&s.url, Some(&dev), batch(&events));
    assert_eq!(st, 200, "{out}");
    let results = out["results"].as_array().unwrap();
    for r in &results[..not_rules.len()] {
        assert_eq!(r["status"], "rejected", "{out}");
        assert!(
            !r["reason"].as_str().unwrap_or_default().is_empty(),
            "{out}"
        );
    }
    assert_eq!(results[not_rules.len()]["status"], "accepted", "{out}");

    // A proposal past the payload limit: the request is refused, naming it.
    let huge = urls(5_000);
    let huge: Vec<&str> = huge.iter().map(String::as_str).collect();
    let big = json!({"id": new_id(), "kind": "rule.proposed", "occurred_at": "2026-11-29T10:00:00Z",
                     "payload": proposal(&rule_id(), "Keep handlers thin", &huge)});
    let (st, out) = post(&s.url, Some(&dev), batch(std::slice::from_ref(&big)));
    assert_eq!(st, 413, "{out}");
    assert_eq!(out["too_large_ids"][0], big["id"], "{out}");

    // Nothing of it reached the rulebook.
    assert_eq!(pull_all(&s, &lead), before);
}
