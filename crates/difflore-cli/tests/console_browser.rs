//! The team console in a real browser (headless Chromium over WebDriver, one browser for the
//! whole test, SQLite backend; the storage under it is tested on both backends by the server's
//! console tests): a developer imports review history and delivers it; a maintainer signs in,
//! lands on the queue, approves with the keyboard, rejects with a reason, edits then approves;
//! the developer's daemon pulls the decisions. Imported text with script, event handlers and a
//! closing textarea renders inert in the browser. A `read` token sees no decision form, and a
//! forged POST from its session is refused. With `DIFFLORE_SCREENSHOTS=1` every page is saved
//! at desktop and phone width into `docs/console/`.

mod common;
use common::*;
use difflore_test_support::console::Visitor;
use difflore_test_support::http;
use difflore_test_support::proc::wait_for;
use difflore_test_support::webdriver::{self, Browser};
use serde_json::{Value, json};

const EVIL: &str = "<script>alert(1)</script><img src=x onerror=alert(2)></textarea><b>bold</b>";

fn rule(s: &TestServer, token: &str, id: &str) -> Value {
    http::get(&s.url, &format!("/v1/rules/{id}"), Some(token)).1
}

/// The rule ids of the queue as the page shows them, best first.
fn queue_ids(b: &Browser) -> Vec<String> {
    b.eval("return Array.from(document.querySelectorAll('article.rule')).map(a => a.id.slice(2))")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn sign_in(b: &Browser, url: &str, token: &str) {
    b.goto(&format!("{url}/signin"));
    b.type_into(&b.find("#token"), token);
    b.click(&b.find("section.signin button[type=submit]"));
}

fn shoot(b: &Browser, name: &str) {
    if std::env::var("DIFFLORE_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/console");
    std::fs::create_dir_all(&dir).unwrap();
    for (label, w, h) in [("desktop", 1280, 900), ("phone", 390, 844)] {
        b.resize(w, h);
        std::fs::write(dir.join(format!("{name}-{label}.png")), b.screenshot()).unwrap();
    }
    b.resize(1280, 900);
}

#[test]
fn a_maintainer_reviews_in_the_browser_and_a_developer_gets_the_decisions() {
    if !webdriver::available() {
        assert!(
            std::env::var("DIFFLORE_REQUIRE_BROWSER").is_err(),
            "DIFFLORE_REQUIRE_BROWSER=1 but chromium/chromedriver are missing"
        );
        eprintln!("skipped: no chromium and chromedriver on this machine");
        return;
    }
    let s = TestServer::start(&Backend::Sqlite);
    let lead_token = s.token("lead", "maintainer");

    // A developer (whose daemon pulls the rulebook every 5 s) imports review history from a
    // file and delivers the proposals.
    let dev = Env::init();
    let cfg = dev.home().join("config.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap_or_default();
    text.push_str("\n[daemon]\npull_interval = 5\n");
    std::fs::write(&cfg, text).unwrap();
    let dev_token = s.token("laptop", "ingest");
    let (out, err, code) = dev.login(&s, &dev_token, true);
    assert_eq!(code, 0, "{out}{err}");
    let history = fixtures_dir().join("../../../docs/try-history.json");
    let (out, err, code) = dev.run(&["import", "file", history.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let proposed = v["proposed"]["queued"].as_u64().unwrap() as usize;
    assert!(proposed >= 3, "{v}");
    let (out, err, code) = dev.run(&["sync", "now"]);
    assert_eq!(code, 0, "{out}{err}");

    let b = Browser::start(1280, 900);
    b.goto(&format!("{}/", s.url));
    assert!(b.url().ends_with("/signin"), "{}", b.url());
    shoot(&b, "signin");
    sign_in(&b, &s.url, &lead_token);
    wait_for(10, "the queue after signing in", || {
        b.url().ends_with("/queue")
    });
    let ids = queue_ids(&b);
    assert_eq!(ids.len(), proposed.min(10));
    shoot(&b, "queue");

    // `a` approves the rule in focus (the first).
    b.keys("a");
    wait_for(10, "the approval", || {
        rule(&s, &lead_token, &ids[0])["status"] == "active"
    });
    wait_for(10, "the queue again", || !queue_ids(&b).contains(&ids[0]));
    // The next one is rejected with a reason.
    let second = b.find(&format!("#r-{} input.reason", ids[1]));
    b.type_into(&second, "one PR's taste, not ours");
    b.click(&b.find(&format!("#r-{} button.reject", ids[1])));
    wait_for(10, "the rejection", || {
        rule(&s, &lead_token, &ids[1])["status"] == "rejected"
    });
    // The third is edited, then approved.
    wait_for(10, "the queue again", || !queue_ids(&b).contains(&ids[1]));
    b.click(&b.find(&format!("#r-{} details.edit summary", ids[2])));
    let statement = b.find(&format!("#r-{} textarea[name=statement]", ids[2]));
    b.clear(&statement);
    b.type_into(
        &statement,
        "Keep request handlers thin: move logic into services.",
    );
    b.click(&b.find(&format!("#r-{} button.approve", ids[2])));
    wait_for(10, "the edited approval", || {
        let r = rule(&s, &lead_token, &ids[2]);
        r["status"] == "active"
            && r["statement"] == "Keep request handlers thin: move logic into services."
    });
    let audit = rule(&s, &lead_token, &ids[1]);
    assert_eq!(audit["decided_by"], "lead");

    // The developer's daemon pulls all three decisions into the mirror.
    let status_of = |id: &str| {
        let (out, _, _) = dev.run(&["memory", "list", "--all-repos", "--json"]);
        let mine: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
        mine["rules"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["id"] == id))
            .map(|r| (r["status"].clone(), r["statement"].clone()))
    };
    wait_for(30, "the daemon's pull of the decisions", || {
        status_of(&ids[2])
            == Some((
                json!("active"),
                json!("Keep request handlers thin: move logic into services."),
            ))
    });
    assert_eq!(status_of(&ids[0]).unwrap().0, "active");
    assert_eq!(status_of(&ids[1]).unwrap().0, "rejected");

    // Hostile imported text renders inert in the browser.
    let evil_id = uuid::Uuid::now_v7().to_string();
    let ev = json!({"id": http::new_id(), "kind": "rule.proposed", "occurred_at": "2026-11-29T10:00:00Z",
        "payload": {"rule_id": evil_id, "repo": "git.example.com/acme/shop",
            "title": format!("Hostile {EVIL}"), "statement": format!("Never {EVIL} here"),
            "globs": ["src/**"], "severity": "context", "origin": "review_import", "confidence": 0.9,
            "evidence": [{"url": "https://git.example.com/x\" onmouseover=\"alert(3)", "author": EVIL,
                          "path": "src/a.rs", "line": 1, "excerpt": EVIL}]}});
    assert_eq!(
        http::post(&s.url, Some(&dev_token), http::batch(&[ev])).0,
        200
    );
    for page in [
        format!("/rules/{evil_id}"),
        "/queue".into(),
        "/rules".into(),
    ] {
        b.goto(&format!("{}{page}", s.url));
        assert_eq!(
            b.alert(),
            None,
            "{page}: no script of the review comment ran"
        );
        assert_eq!(
            b.eval("return document.scripts.length"),
            json!(1),
            "{page}: only the console's own script"
        );
        assert_eq!(
            b.eval("return document.querySelectorAll('main img, main b, main script, [onmouseover], [onerror]').length"),
            json!(0),
            "{page}: no element came from the comment"
        );
    }
    b.goto(&format!("{}/rules/{evil_id}", s.url));
    assert_eq!(
        b.eval("return document.querySelector('textarea[name=statement]').value"),
        json!(format!("Never {EVIL} here")),
        "the closing textarea stays text inside the edit form"
    );
    assert!(
        b.text(&b.find("blockquote"))
            .contains("<script>alert(1)</script>")
    );
    shoot(&b, "rule");
    b.goto(&format!("{}/rules?path=src/billing/total.rs", s.url));
    shoot(&b, "rules");
    // What the developers' daemons deliver shows on the activity page.
    let served: Vec<Value> = ["claude-code", "claude-code", "codex", "gemini"]
        .iter()
        .map(|agent| {
            json!({"id": http::new_id(), "kind": "rules.served",
            "occurred_at": time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339).unwrap(),
            "payload": {"agent": agent, "repo": "git.example.com/acme/shop",
                        "rule_ids": [ids[0]], "mode": "context", "moment": "read"}})
        })
        .collect();
    assert_eq!(
        http::post(&s.url, Some(&dev_token), http::batch(&served)).0,
        200
    );
    b.goto(&format!("{}/activity", s.url));
    assert!(b.text(&b.find("main")).contains("claude-code"));
    shoot(&b, "activity");
    // The approved rule's page: served per day, and how often review made its point.
    b.goto(&format!("{}/rules/{}", s.url, ids[0]));
    let main = b.text(&b.find("main"));
    assert!(
        main.contains("4 times; last on") && main.contains("Said in review"),
        "{main}"
    );
    shoot(&b, "rule-active");
    // Two approved rules that contradict each other show under the stale filter.
    let pair: Vec<(String, Value)> = ["Prefer tabs over spaces", "Prefer spaces over tabs"]
        .iter()
        .map(|statement| {
            let id = uuid::Uuid::now_v7().to_string();
            let ev = json!({"id": http::new_id(), "kind": "rule.proposed",
                "occurred_at": "2026-11-29T10:00:00Z",
                "payload": {"rule_id": id, "repo": "git.example.com/acme/shop",
                    "title": statement, "statement": statement, "globs": ["**/*.rs"],
                    "severity": "context", "origin": "review_import", "confidence": 0.7,
                    "evidence": []}});
            (id, ev)
        })
        .collect();
    let events: Vec<Value> = pair.iter().map(|(_, ev)| ev.clone()).collect();
    assert_eq!(
        http::post(&s.url, Some(&dev_token), http::batch(&events)).0,
        200
    );
    for (id, _) in &pair {
        let (st, v) = http::post_to(
            &s.url,
            &format!("/v1/rules/{id}/decision"),
            Some(&lead_token),
            json!({"action": "approve", "expected_revision": 1}).to_string(),
        );
        assert_eq!(st, 200, "{v}");
    }
    b.goto(&format!("{}/rules?stale=yes", s.url));
    let main = b.text(&b.find("main"));
    assert!(
        main.contains("2 rule(s)") && main.contains("contradicts: prefers the opposite of"),
        "{main}"
    );
    shoot(&b, "stale");

    // A reader: no decision form; a POST forged from its session is refused.
    b.click(&b.find("form.signout button"));
    wait_for(10, "the sign-in page", || b.url().ends_with("/signin"));
    sign_in(&b, &s.url, &s.token("viewer", "read"));
    wait_for(10, "the rules after signing in", || {
        b.url().ends_with("/rules")
    });
    b.goto(&format!("{}/rules/{evil_id}", s.url));
    assert!(b.all("form.decide").is_empty());
    let session = b
        .cookies()
        .into_iter()
        .find(|c| c["name"] == "difflore_session")
        .expect("the session cookie");
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["sameSite"], "Strict");
    let mut forger = Visitor::new(&s.url);
    forger.cookie = Some(format!(
        "difflore_session={}",
        session["value"].as_str().unwrap()
    ));
    let csrf = b
        .eval("return document.querySelector('input[name=csrf_token]').value")
        .as_str()
        .unwrap()
        .to_string();
    let p = forger.post(
        &format!("/rules/{evil_id}/decide"),
        &[
            ("csrf_token", &csrf),
            ("expected_revision", "1"),
            ("action", "approve"),
        ],
    );
    assert_eq!(p.status, 403, "{}", p.body);
    assert_eq!(rule(&s, &lead_token, &evil_id)["status"], "pending");

    // The tokens page, as an admin sees it.
    b.click(&b.find("form.signout button"));
    sign_in(&b, &s.url, &s.token("root", "admin"));
    wait_for(10, "the queue", || b.url().ends_with("/queue"));
    b.goto(&format!("{}/tokens", s.url));
    assert!(b.text(&b.find("table.tokens")).contains("viewer"));
    shoot(&b, "tokens");
}
