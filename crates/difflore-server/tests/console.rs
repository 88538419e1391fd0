//! The team console over HTTP on both backends (the browser test drives the same pages in
//! Chromium): sign-in by role, decisions through forms on the API's one decision path, CSRF and
//! roles on every form, fresh sessions that end at sign-out and revocation and stay in their
//! team, escaping of imported text, rate-limited sign-in, activity counted at ingest, tokens.

mod common;
use common::*;
use difflore_test_support::console::{Visitor, csrf_in};
use serde_json::{Value, json};

on_both_backends!(
    sign_in_lands_by_role_and_refuses_ingest_tokens,
    form_decisions_take_the_one_decision_path,
    csrf_and_roles_guard_every_form,
    sessions_are_fresh_end_and_stay_in_their_team,
    imported_text_is_escaped_and_links_are_http_only,
    activity_is_counted_at_ingest,
    admins_manage_tokens_from_the_console,
    long_lists_are_paged_and_keep_their_filters,
);

const EVIL: &str = "<script>alert(1)</script><img src=x onerror=alert(2)></textarea>";

/// Proposes a pending rule (as a developer's daemon would); returns its id.
fn propose(s: &Server, token: &str, statement: &str, url: &str, excerpt: &str) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    let ev = json!({"id": new_id(), "kind": "rule.proposed", "occurred_at": "2026-11-29T10:00:00Z",
        "payload": {"rule_id": id, "repo": "github.com/acme/shop", "title": "Money, not f64",
            "statement": statement, "globs": ["src/billing/**"], "severity": "context",
            "origin": "review_import", "confidence": 0.8,
            "evidence": [{"url": url, "source": "github", "author": "rita",
                          "path": "src/billing/total.rs", "line": 14, "excerpt": excerpt}]}});
    let (st, v) = post(&s.url, Some(token), batch(&[ev]));
    assert_eq!(
        (st, v["results"][0]["status"].as_str()),
        (200, Some("accepted")),
        "{v}"
    );
    id
}

fn rule(s: &Server, token: &str, id: &str) -> Value {
    let (st, v) = get(&s.url, &format!("/v1/rules/{id}"), Some(token));
    assert_eq!(st, 200, "{v}");
    v
}

/// A server with one pending rule proposed by a developer: (server, its id).
fn one_rule(b: &Backend) -> (Server, String) {
    let s = Server::start(b);
    let dev = s.token("laptop", "ingest");
    let id = propose(
        &s,
        &dev,
        "Never use f64 for money amounts",
        "https://gh/p/1#r1",
        "f64",
    );
    (s, id)
}

fn signed_in(s: &Server, token: &str) -> Visitor {
    let mut v = Visitor::new(&s.url);
    let p = v.sign_in(token);
    assert_eq!(p.status, 303, "{}", p.body);
    v
}

fn sign_in_lands_by_role_and_refuses_ingest_tokens(b: &Backend) {
    let s = Server::start(b);
    let mut lead = Visitor::new(&s.url);
    assert_eq!(lead.get("/queue").location.as_deref(), Some("/signin"));
    let p = lead.sign_in(&s.token("lead", "maintainer"));
    assert_eq!((p.status, p.location.as_deref()), (303, Some("/queue")));
    let cookie = p.set_cookie.unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain http on loopback: {cookie}"
    );
    assert!(lead.get("/queue").body.contains("Review queue"));

    let mut reader = Visitor::new(&s.url);
    let p = reader.sign_in(&s.token("viewer", "read"));
    assert_eq!(p.location.as_deref(), Some("/rules"));
    assert_eq!(reader.get("/").location.as_deref(), Some("/rules"));

    let p = Visitor::new(&s.url).sign_in(&s.token("laptop", "ingest"));
    assert_eq!(p.status, 403);
    assert!(p.body.contains("ingest token"), "{}", p.body);
    assert!(p.set_cookie.is_none());
    let p = Visitor::new(&s.url)
        .sign_in("dfl_000000000000_000000000000000000000000000000000000000000000000");
    assert_eq!(p.status, 401);

    // Behind a proxy that says the request came over TLS, the cookie is Secure.
    let p = Visitor::new(&s.url).post_with(
        "/signin",
        &[("token", &s.token("lead2", "maintainer"))],
        &[("X-Forwarded-Proto", "https")],
    );
    let c = p.set_cookie.unwrap();
    assert!(c.contains("; Secure"), "{c}");

    // Every page forbids inline script and anything from elsewhere.
    let r = lead.get("/rules");
    assert_eq!(r.status, 200);
    let csp = agent()
        .get(format!("{}/signin", s.url))
        .call()
        .unwrap()
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );

    // Too many failed sign-ins from one address (ten, with the one above): refused for a while,
    // even with a good token.
    for _ in 0..9 {
        assert_eq!(Visitor::new(&s.url).sign_in("dfl_nope").status, 401);
    }
    let p = Visitor::new(&s.url).sign_in(&s.token("lead3", "maintainer"));
    assert_eq!(p.status, 429, "{}", p.body);
}

fn form_decisions_take_the_one_decision_path(b: &Backend) {
    let s = Server::start(b);
    let dev = s.token("laptop", "ingest");
    let money = propose(
        &s,
        &dev,
        "Never use f64 for money amounts",
        "https://gh/p/1#r1",
        "f64 rounds",
    );
    let logs = propose(
        &s,
        &dev,
        "Log through tracing, not println",
        "https://gh/p/2#r2",
        "use tracing",
    );
    let lead_token = s.token("lead", "maintainer");
    let lead = signed_in(&s, &lead_token);
    let queue = lead.get("/queue").body;
    assert!(queue.contains("2 pending rule(s)"), "{queue}");
    assert!(queue.contains("Never use f64 for money amounts") && queue.contains("the comment"));
    let csrf = csrf_in(&queue).unwrap();

    // Edit, then approve: one form.
    let p = lead.post(
        &format!("/rules/{money}/decide"),
        &[
            ("csrf_token", &csrf),
            ("expected_revision", "1"),
            ("action", "approve"),
            ("title", "Money type"),
            ("statement", "Amounts are Money, never f64"),
            ("globs", "src/billing/**\nsrc/tax/**"),
            ("back", "/queue?page=1"),
        ],
    );
    assert_eq!(
        (p.status, p.location.as_deref()),
        (303, Some("/queue?page=1")),
        "{}",
        p.body
    );
    let r = rule(&s, &lead_token, &money);
    assert_eq!(r["status"], "active");
    assert_eq!(r["statement"], "Amounts are Money, never f64");
    assert_eq!(r["globs"], json!(["src/billing/**", "src/tax/**"]));
    assert_eq!(r["decided_by"], "lead");

    // Reject with a reason; the rule's page shows the audit trail.
    let p = lead.post(
        &format!("/rules/{logs}/decide"),
        &[
            ("csrf_token", &csrf),
            ("expected_revision", "1"),
            ("action", "reject"),
            ("reason", "we log with println in scripts"),
            ("back", "//evil.example/"),
        ],
    );
    assert_eq!(
        p.location.as_deref(),
        Some("/queue"),
        "never a redirect to another site"
    );
    assert_eq!(rule(&s, &lead_token, &logs)["status"], "rejected");
    let page = lead.get(&format!("/rules/{logs}")).body;
    assert!(
        page.contains("Audit trail") && page.contains("we log with println in scripts"),
        "{page}"
    );

    // A stale form: 409, saying who decided what and when.
    let p = lead.post(
        &format!("/rules/{money}/decide"),
        &[
            ("csrf_token", &csrf),
            ("expected_revision", "1"),
            ("action", "pause"),
        ],
    );
    assert_eq!(p.status, 409, "{}", p.body);
    assert!(
        p.body.contains("(active), last decided by lead at"),
        "{}",
        p.body
    );
    // Bad forms: clear 400s.
    for (action, rev) in [("bless", "2"), ("pause", "x"), ("edit", "2")] {
        let p = lead.post(
            &format!("/rules/{money}/decide"),
            &[
                ("csrf_token", &csrf),
                ("expected_revision", rev),
                ("action", action),
                ("title", "Money type"),
                ("statement", "Amounts are Money, never f64"),
                ("globs", "src/billing/**\nsrc/tax/**"),
            ],
        );
        assert_eq!(p.status, 400, "{action}: {}", p.body);
    }
    assert!(lead.get("/queue").body.contains("Nothing to review"));
    // The rules list filters by path with the client's glob semantics.
    let hits = lead.get("/rules?path=src/tax/vat.rs").body;
    assert!(
        hits.contains("Money type") && !hits.contains("Log through tracing"),
        "{hits}"
    );
    let deep = lead.get("/rules?path=src/tax/sub/vat.rs").body;
    assert!(deep.contains("1 rule(s)"), "`**` crosses directories");
    let none = lead.get("/rules?path=src/taxes/vat.rs").body;
    assert!(none.contains("0 rule(s)"), "{none}");
    let by_text = lead.get("/rules?q=PRINTLN&status=rejected").body;
    assert!(by_text.contains("1 rule(s)") && by_text.contains("Log through tracing"));
}

fn csrf_and_roles_guard_every_form(b: &Backend) {
    let (s, id) = one_rule(b);
    let lead_token = s.token("lead", "maintainer");
    let lead = signed_in(&s, &lead_token);
    let other = signed_in(&s, &s.token("lead2", "maintainer"));
    let path = format!("/rules/{id}/decide");
    let approve = |csrf: &str| {
        vec![
            ("csrf_token", csrf.to_string()),
            ("expected_revision", "1".into()),
            ("action", "approve".into()),
        ]
    };
    let send = |v: &Visitor, f: Vec<(&str, String)>| {
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        v.post(&path, &f)
    };
    // No token, another session's token, no session at all.
    assert_eq!(
        lead.post(&path, &[("expected_revision", "1"), ("action", "approve")])
            .status,
        403
    );
    assert_eq!(send(&lead, approve(&other.csrf())).status, 403);
    assert_eq!(
        send(&Visitor::new(&s.url), approve(&lead.csrf())).status,
        403
    );
    // A reader sees no decision form, and a forged POST with its own valid CSRF token is refused.
    let reader = signed_in(&s, &s.token("viewer", "read"));
    let page = reader.get(&format!("/rules/{id}")).body;
    assert!(!page.contains("form class=\"decide\""), "{page}");
    assert!(!reader.get("/queue").body.contains("form class=\"decide\""));
    let p = send(&reader, approve(&reader.csrf()));
    assert_eq!(p.status, 403);
    assert!(p.body.contains("maintainer"), "{}", p.body);
    // Nothing was decided by any of them.
    assert_eq!(rule(&s, &lead_token, &id)["revision"], 1);
    // Sign-out needs the session's token too.
    assert_eq!(lead.post("/signout", &[("csrf_token", "nope")]).status, 403);
    assert_eq!(send(&lead, approve(&lead.csrf())).status, 303);
    assert_eq!(rule(&s, &lead_token, &id)["status"], "active");
}

fn sessions_are_fresh_end_and_stay_in_their_team(b: &Backend) {
    let (s, id) = one_rule(b);
    // Fixation: a planted cookie is never adopted; sign-in gives a new one and ends the old.
    let planted = format!("difflore_session={}", "ab".repeat(32));
    let mut v = Visitor::new(&s.url);
    v.cookie = Some(planted.clone());
    v.sign_in(&s.token("lead", "maintainer"));
    assert_ne!(v.cookie.as_deref(), Some(planted.as_str()));
    assert_eq!(v.get("/queue").status, 200);
    let mut stale = Visitor::new(&s.url);
    stale.cookie = Some(planted);
    assert_eq!(stale.get("/queue").location.as_deref(), Some("/signin"));
    // Signing in again is a new session; the earlier one still works until it signs out.
    let first = v.cookie.clone();
    let mut again = Visitor::new(&s.url);
    again.sign_in(&s.token("lead-b", "maintainer"));
    assert_ne!(again.cookie, first);
    // Sign-out ends the session.
    let csrf = v.csrf();
    assert_eq!(
        v.post("/signout", &[("csrf_token", &csrf)])
            .location
            .as_deref(),
        Some("/signin")
    );
    assert_eq!(v.get("/queue").location.as_deref(), Some("/signin"));
    // A revoked token's session ends at its next request.
    let viewer = signed_in(&s, &s.token("viewer", "read"));
    assert_eq!(viewer.get("/rules").status, 200);
    s.revoke("viewer");
    assert_eq!(viewer.get("/rules").location.as_deref(), Some("/signin"));
    // Team B's maintainer never sees team A's rules, by URL or listing, and cannot decide them.
    let b_lead = signed_in(&s, &s.token_in(&unique("other"), "boss", "maintainer"));
    assert_eq!(b_lead.get(&format!("/rules/{id}")).status, 404);
    // (Its title and id, not a bare "f64": the page's random CSRF token may hold those letters.)
    let listing = b_lead.get("/rules").body;
    assert!(
        listing.contains("0 rule(s)")
            && !listing.contains("Money, not f64")
            && !listing.contains(&id),
        "{listing}"
    );
    assert!(b_lead.get("/queue").body.contains("0 pending"));
    let csrf = b_lead.csrf();
    let p = b_lead.post(
        &format!("/rules/{id}/decide"),
        &[
            ("csrf_token", &csrf),
            ("expected_revision", "1"),
            ("action", "approve"),
        ],
    );
    assert_eq!(p.status, 404);
    assert_eq!(
        rule(&s, &s.token("check", "read"), &id)["status"],
        "pending"
    );
}

fn imported_text_is_escaped_and_links_are_http_only(b: &Backend) {
    let s = Server::start(b);
    let dev = s.token("laptop", "ingest");
    let id = propose(
        &s,
        &dev,
        &format!("Never {EVIL} use f64"),
        "https://gh/p/1\" onmouseover=\"alert(3)",
        EVIL,
    );
    let lead = signed_in(&s, &s.token("lead", "maintainer"));
    for path in [
        format!("/rules/{id}"),
        "/queue".to_string(),
        "/rules".to_string(),
    ] {
        let html = lead.get(&path).body;
        assert!(!html.contains("<script>alert"), "{path}: {html}");
        assert!(!html.contains("<img src=x"), "{path}");
        assert!(
            !html.contains("\" onmouseover=\""),
            "{path}: attributes stay attributes"
        );
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}"
        );
    }
    // The textarea of the edit form holds the statement as text.
    let html = lead.get(&format!("/rules/{id}")).body;
    assert!(html.contains("&lt;/textarea&gt;"), "{html}");
}

fn activity_is_counted_at_ingest(b: &Backend) {
    let s = Server::start(b);
    let dev = s.token("laptop", "ingest");
    let served = |id: &str, agent: &str| {
        json!({"id": id, "kind": "rules.served", "occurred_at": "2026-11-29T09:00:00Z",
               "payload": {"agent": agent, "repo": "github.com/acme/shop", "rule_ids": ["x"], "mode": "context"}})
    };
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let mut evs: Vec<Value> = (0..3).map(|_| served(&new_id(), "claude-code")).collect();
    evs.push(served(&new_id(), "codex"));
    for e in evs.iter_mut() {
        e["occurred_at"] = json!(format!("{today}T09:00:00Z"));
    }
    assert_eq!(post(&s.url, Some(&dev), batch(&evs)).0, 200);
    // A replay counts nothing.
    assert_eq!(post(&s.url, Some(&dev), batch(&evs)).0, 200);
    let reader = signed_in(&s, &s.token("viewer", "read"));
    let html = reader.get("/activity").body;
    let row = |k: &str, n: i64| format!("<td>{k}</td><td class=\"n\">{n}</td>");
    assert!(html.contains(&row(&today, 4)), "{html}");
    assert!(
        html.contains(&row("claude-code", 3)) && html.contains(&row("codex", 1)),
        "{html}"
    );
    assert!(html.contains(&row("github.com/acme/shop", 4)), "{html}");
}

fn admins_manage_tokens_from_the_console(b: &Backend) {
    let s = Server::start(b);
    assert_eq!(
        signed_in(&s, &s.token("lead", "maintainer"))
            .get("/tokens")
            .status,
        403
    );
    let admin = signed_in(&s, &s.token("root", "admin"));
    let csrf = admin.csrf();
    let p = admin.post(
        "/tokens",
        &[
            ("csrf_token", &csrf),
            ("name", "ci-viewer"),
            ("role", "read"),
        ],
    );
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("shown only this once"));
    let at = p.body.find("<pre class=\"token\">").unwrap() + "<pre class=\"token\">".len();
    let token = p.body[at..].split('<').next().unwrap().to_string();
    assert!(token.starts_with("dfl_"), "{token}");
    assert!(
        !admin.get("/tokens").body.contains(&token),
        "shown once only"
    );
    let viewer = signed_in(&s, &token);
    assert_eq!(viewer.get("/rules").status, 200);
    // Bad names are refused; the token list never shows a secret.
    let p = admin.post(
        "/tokens",
        &[("csrf_token", &csrf), ("name", "a b"), ("role", "read")],
    );
    assert_eq!(p.status, 400);
    // Revoking from the console ends the token and its session.
    let list = admin.get("/tokens").body;
    let id_at = list.find("ci-viewer</td><td>read</td><td><code>").unwrap()
        + "ci-viewer</td><td>read</td><td><code>".len();
    let tid = list[id_at..].split('<').next().unwrap().to_string();
    let p = admin.post(&format!("/tokens/{tid}/revoke"), &[("csrf_token", &csrf)]);
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(viewer.get("/rules").location.as_deref(), Some("/signin"));
    // Another team's token cannot be revoked from here.
    let theirs = s.token_in(&unique("other"), "x", "read");
    let their_id = theirs.split('_').nth(1).unwrap();
    let p = admin.post(
        &format!("/tokens/{their_id}/revoke"),
        &[("csrf_token", &csrf)],
    );
    assert_eq!(p.status, 404);
    assert_eq!(get(&s.url, "/v1/whoami", Some(&theirs)).0, 200);
}

fn long_lists_are_paged_and_keep_their_filters(b: &Backend) {
    let s = Server::start(b);
    let dev = s.token("laptop", "ingest");
    let events: Vec<Value> = (0..130)
        .map(|i| {
            json!({"id": new_id(), "kind": "rule.proposed", "occurred_at": "2026-11-29T10:00:00Z",
                "payload": {"rule_id": uuid::Uuid::now_v7().to_string(), "repo": "github.com/acme/shop",
                    "title": format!("Rule {i:03}"), "statement": format!("Keep invariant {i} intact"),
                    "globs": ["src/**"], "severity": "context", "origin": "review_import",
                    "confidence": (i % 10) as f64 / 10.0,
                    "evidence": [{"url": format!("https://gh/p/{i}#r1"), "excerpt": "keep it"}]}})
        })
        .collect();
    assert_eq!(post(&s.url, Some(&dev), batch(&events)).0, 200);
    let lead = signed_in(&s, &s.token("lead", "maintainer"));
    let q = lead.get("/queue").body;
    assert!(
        q.contains("130 pending rule(s)") && q.contains("page 1 of 13"),
        "{q}"
    );
    assert!(q.matches("<article class=\"rule\"").count() == 10);
    // Best first: the first page holds the most confident.
    assert!(q.contains("Rule 009") && !q.contains("Rule 000<"), "{q}");
    let last = lead.get("/queue?page=99").body;
    assert!(last.contains("page 13 of 13"));
    let list = lead.get("/rules?status=pending&path=src/a.rs").body;
    assert!(
        list.contains("130 rule(s)") && list.contains("page 1 of 2"),
        "{list}"
    );
    assert!(
        list.contains("href=\"/rules?status=pending&amp;path=src%2Fa.rs&amp;page=2\""),
        "{list}"
    );
    let second = lead
        .get("/rules?status=pending&path=src%2Fa.rs&page=2")
        .body;
    assert!(
        second.contains("Rule 129") && !second.contains("Rule 000"),
        "{second}"
    );
}
