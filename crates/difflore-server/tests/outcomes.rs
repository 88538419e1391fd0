//! Whether rules reach the agents, on the server (both backends): `rules.served` events counted
//! per rule, day, agent, repo and moment as they arrive — exactly once under replays and across a
//! restart — answered by `GET /v1/outcomes` and shown on the console's rule page and list; and
//! `rule.recurred` comments counted before and since the rule became active, once per comment.

mod common;
use common::*;
use difflore_test_support::console::Visitor;
use serde_json::{Value, json};

on_both_backends!(
    served_rules_are_counted_once_and_survive_a_restart,
    recurrences_are_counted_once_per_comment_before_and_since_activation
);

fn served(day: &str, agent: &str, moment: &str, rules: &[&str]) -> Value {
    json!({"id": new_id(), "kind": "rules.served", "occurred_at": format!("{day}T10:00:00Z"),
           "payload": {"agent": agent, "repo": "github.com/acme/shop", "rule_ids": rules,
                       "mode": if moment == "mcp" { "mcp" } else { "context" }, "moment": moment}})
}

fn served_rules_are_counted_once_and_survive_a_restart(b: &Backend) {
    let mut s = Server::start(b);
    let dev = s.token("laptop", "ingest");
    let today = time::OffsetDateTime::now_utc().date();
    let (d0, d1) = (
        (today - time::Duration::days(3)).to_string(),
        today.to_string(),
    );
    let x = uuid::Uuid::now_v7().to_string();
    let y = uuid::Uuid::now_v7().to_string();
    let events = vec![
        served(&d0, "claude-code", "read", &[&x]),
        served(&d1, "claude-code", "read", &[&x]),
        served(&d1, "codex", "gate", &[&x]),
        served(&d1, "mcp", "mcp", &[&x, &y, &y]),
        // Long ago: outside the default window.
        served("2020-01-01", "codex", "read", &[&y]),
        // Not a rules.served event: not counted.
        json!({"id": new_id(), "kind": "hook.event", "occurred_at": format!("{d1}T10:00:00Z"),
               "payload": {"agent": "codex", "rule_ids": [x]}}),
    ];
    assert_eq!(post(&s.url, Some(&dev), batch(&events)).0, 200);
    let check = |s: &Server| {
        let (st, v) = get(&s.url, "/v1/outcomes", Some(&dev));
        assert_eq!(st, 200, "{v}");
        let rules = v["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 2, "{v}");
        assert_eq!(rules[0]["rule_id"], x.as_str());
        assert_eq!(rules[0]["served"], 4);
        assert_eq!(rules[0]["last_served_day"], d1.as_str());
        assert_eq!(
            rules[0]["by_moment"],
            json!({"read": 2, "gate": 1, "mcp": 1})
        );
        assert_eq!(
            rules[0]["by_agent"],
            json!({"claude-code": 2, "codex": 1, "mcp": 1})
        );
        assert_eq!(rules[0]["per_day"][&d0], 1);
        assert_eq!(
            rules[1]["served"], 1,
            "a rule named twice in one event counts once"
        );
        let (_, all) = get(&s.url, "/v1/outcomes?since=2020-01-01", Some(&dev));
        let y_all = all["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule_id"] == y.as_str())
            .unwrap()
            .clone();
        assert_eq!(y_all["served"], 2);
    };
    check(&s);
    // Replays count nothing.
    assert_eq!(post(&s.url, Some(&dev), batch(&events)).0, 200);
    check(&s);
    // A restart keeps the counts.
    s.stop();
    s.spawn();
    check(&s);
    // Bad queries are 400s; another team sees nothing.
    assert_eq!(
        get(&s.url, "/v1/outcomes?since=yesterday", Some(&dev)).0,
        400
    );
    let other = s.token_in(&unique("other"), "x", "read");
    let (_, v) = get(&s.url, "/v1/outcomes", Some(&other));
    assert!(v["rules"].as_array().unwrap().is_empty());

    // The console shows the figures on the rule's page and in the list.
    let ev = json!({"id": new_id(), "kind": "rule.proposed", "occurred_at": "2026-11-29T10:00:00Z",
        "payload": {"rule_id": x, "repo": "github.com/acme/shop", "title": "Money",
            "statement": "Never use f64 for money", "globs": ["src/**"], "severity": "context",
            "origin": "review_import", "confidence": 0.8,
            "evidence": [{"url": "https://gh/p/1#r1", "excerpt": "f64"}]}});
    assert_eq!(post(&s.url, Some(&dev), batch(&[ev])).0, 200);
    let mut v = Visitor::new(&s.url);
    v.sign_in(&s.token("viewer", "read"));
    let page = v.get(&format!("/rules/{x}")).body;
    assert!(page.contains("<strong>4</strong> times; last on"), "{page}");
    assert!(page.contains("<svg class=\"chart\""), "{page}");
    assert!(page.contains(&format!("<title>{d0}: 1</title>")), "{page}");
    let list = v.get("/rules").body;
    assert!(
        list.contains("<td data-label=\"evidence\">1</td><td data-label=\"served (90 d)\">4</td>"),
        "evidence 1, served 4: {list}"
    );
}

/// A maintainer approves a rule at its first revision.
fn approve(s: &Server, lead: &str, id: &str) {
    let (st, v) = post_to(
        &s.url,
        &format!("/v1/rules/{id}/decision"),
        Some(lead),
        json!({"action": "approve", "expected_revision": 1}).to_string(),
    );
    assert_eq!(st, 200, "{v}");
}

fn recurred(rule: &str, comment: &str, at: &str, score: f64) -> Value {
    json!({"id": new_id(), "kind": "rule.recurred", "occurred_at": at,
           "payload": {"rule_id": rule, "repo": "github.com/acme/shop", "source": "github",
                       "comment_id": comment, "at": at, "score": score, "path": "src/pay.rs",
                       "url": format!("https://github.com/acme/shop/pull/9#discussion_r{comment}")}})
}

fn recurrences_are_counted_once_per_comment_before_and_since_activation(b: &Backend) {
    let mut s = Server::start(b);
    let dev = s.token("laptop", "ingest");
    let lead = s.token("lead", "maintainer");
    let now = time::OffsetDateTime::now_utc();
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let days = |n: i64| fmt(now + time::Duration::days(n));
    let (x, y) = (
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
    );
    let rule = |id: &str, statement: &str, evidence: Value| {
        json!({"id": new_id(), "kind": "rule.proposed", "occurred_at": days(0),
            "payload": {"rule_id": id, "repo": "github.com/acme/shop", "title": "t",
                "statement": statement, "globs": ["src/**"], "severity": "context",
                "origin": "review_import", "confidence": 0.8, "evidence": evidence}})
    };
    // Evidence 10 and 30 days old, on a governed file; one older than the window; one with no date.
    let ev = |id: &str, at: Option<String>| {
        json!({"url": format!("https://github.com/acme/shop/pull/1#r{id}"), "comment_id": id,
               "source": "github", "path": "src/pay.rs", "excerpt": "use Money", "created_at": at})
    };
    let proposals = [
        rule(
            &x,
            "Use Money for amounts, never f64",
            json!([
                ev("1", Some(days(-10))),
                ev("2", Some(days(-30))),
                ev("3", Some(days(-200))),
                ev("4", None)
            ]),
        ),
        rule(
            &y,
            "Log with the request id",
            json!([ev("5", Some(days(-5)))]),
        ),
    ];
    assert_eq!(post(&s.url, Some(&dev), batch(&proposals)).0, 200);
    for id in [&x, &y] {
        approve(&s, &lead, id);
    }
    let events = vec![
        // Said again 3 days before approval, and twice since.
        recurred(&x, "100", &days(-3), 0.7),
        recurred(&x, "101", &days(1), 0.7),
        recurred(&x, "102", &days(2), 0.9),
        // The same comment matched to y by a weaker match elsewhere: it stays x's.
        recurred(&y, "102", &days(2), 0.6),
        // Comment 103 is y's, better than a first guess for x.
        recurred(&x, "103", &days(3), 0.6),
        recurred(&y, "103", &days(3), 0.8),
    ];
    let (st, v) = post(&s.url, Some(&dev), batch(&events));
    assert_eq!(st, 200, "{v}");
    let check = |s: &Server| {
        let (st, v) = get(&s.url, "/v1/outcomes", Some(&dev));
        assert_eq!(st, 200, "{v}");
        assert_eq!(
            v["recurrence"][&x],
            json!({"before": 3, "after": 2, "window_days": 90}),
            "{v}"
        );
        assert_eq!(
            v["recurrence"][&y],
            json!({"before": 1, "after": 1, "window_days": 90}),
            "{v}"
        );
        let (_, one) = get(&s.url, &format!("/v1/outcomes?rule={y}"), Some(&dev));
        assert_eq!(one["recurrence"].as_object().unwrap().len(), 1, "{one}");
        assert_eq!(one["recurrence"][&y]["after"], 1);
    };
    check(&s);
    // A replay, and the same recurrence found by another machine (same comment, new event id),
    // count nothing more.
    assert_eq!(post(&s.url, Some(&dev), batch(&events)).0, 200);
    let again = recurred(&x, "101", &days(1), 0.7);
    assert_eq!(post(&s.url, Some(&dev), batch(&[again])).0, 200);
    check(&s);
    s.stop();
    s.spawn();
    check(&s);
    // An invalid recurrence is rejected alone, with the reason.
    let mut bad = recurred(&x, "104", &days(1), 0.7);
    bad["payload"]["at"] = json!("last week");
    let (st, v) = post(&s.url, Some(&dev), batch(&[bad]));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["results"][0]["status"], "rejected", "{v}");
    assert!(
        v["results"][0]["reason"].as_str().unwrap().contains("at"),
        "{v}"
    );
    check(&s);

    // The console: the figures on the rule's page; the "stale" filter finds two active rules
    // that contradict each other, and only them (the others were approved today: too soon to
    // say they are never served).
    let (z, w) = (
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
    );
    let pair = [
        rule(&z, "Prefer tabs over spaces", json!([])),
        rule(&w, "Prefer spaces over tabs", json!([])),
    ];
    assert_eq!(post(&s.url, Some(&dev), batch(&pair)).0, 200);
    for id in [&z, &w] {
        approve(&s, &lead, id);
    }
    let mut v = Visitor::new(&s.url);
    v.sign_in(&s.token("viewer", "read"));
    let page = v.get(&format!("/rules/{x}")).body;
    assert!(
        page.contains("<strong>3</strong> time(s) in the 90 days before it became active, <strong>2</strong> time(s) since."),
        "{page}"
    );
    assert!(!page.contains("May be stale"), "{page}");
    let stale = v.get("/rules?stale=yes").body;
    assert!(stale.contains("2 rule(s)"), "{stale}");
    assert!(
        stale.contains(&format!("/rules/{z}")) && stale.contains(&format!("/rules/{w}")),
        "{stale}"
    );
    assert!(
        stale.contains("<strong>contradicts</strong>: prefers the opposite of"),
        "{stale}"
    );
    let page = v.get(&format!("/rules/{z}")).body;
    assert!(
        page.contains("href=\"/rules?stale=yes&amp;repo=github.com%2Facme%2Fshop\""),
        "{page}"
    );
}
