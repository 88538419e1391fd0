//! `difflore report` on real processes: a rule served by real hook processes is counted in this
//! machine's daily totals (kept when the outbox is delivered), and — once the daemon's events
//! reach a real `difflore-server` (both backends) — in the team's figures, which the report then
//! shows; a server restart changes nothing; bad input is a clear error.

mod common;
use common::*;
use serde_json::{Value, json};

fn report(e: &Env, dir: &std::path::Path) -> Value {
    let (out, err, code) = run_in(e, dir, &["report", "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn served_of(v: &Value, id: &str) -> (i64, Value) {
    let r = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("rule {id} in {v}"));
    (r["served"].as_i64().unwrap(), r["by_moment"].clone())
}

#[test]
fn sqlite_served_rules_are_reported_locally_and_for_the_team() {
    served_rules_are_reported_locally_and_for_the_team(&Backend::Sqlite);
}

#[test]
fn postgres_served_rules_are_reported_locally_and_for_the_team() {
    if let Some(b) = Backend::postgres() {
        served_rules_are_reported_locally_and_for_the_team(&b);
    }
}

fn served_rules_are_reported_locally_and_for_the_team(b: &Backend) {
    let e = Env::init();
    let d = e.dir.path().join("shop");
    std::fs::create_dir_all(d.join("src/billing")).unwrap();
    git(&d, &["init", "-q"]);
    git(
        &d,
        &["remote", "add", "origin", "git@github.com:acme/shop.git"],
    );
    std::fs::write(
        d.join("src/billing/total.rs"),
        "fn total() -> f64 { 0.0 }\n",
    )
    .unwrap();
    let (out, err, code) = run_in(
        &e,
        &d,
        &[
            "memory",
            "add",
            "--title",
            "Money",
            "--statement",
            "Use Money, never f64, for amounts",
            "--glob",
            "src/billing/**",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let id = serde_json::from_str::<Value>(&out).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (out, err, code) = run_in(
        &e,
        &d,
        &[
            "memory",
            "add",
            "--title",
            "Idle",
            "--statement",
            "Document every public function",
            "--glob",
            "docs/**",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let idle = serde_json::from_str::<Value>(&out).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Three sessions read the governed file through the real hook process.
    let base: Value =
        serde_json::from_slice(&e.fixture("claude-code", "PostToolUse-Read.json")).unwrap();
    for i in 0..3 {
        let mut v = base.clone();
        v["cwd"] = json!(d.display().to_string());
        v["session_id"] = json!(format!("s-{i}"));
        v["tool_use_id"] = json!(format!("toolu_{i}"));
        v["tool_input"]["file_path"] = json!(d.join("src/billing/total.rs").display().to_string());
        let (o, _) = e.hook(&["--agent", "claude-code"], v.to_string().as_bytes());
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Use Money"),
            "served"
        );
    }
    let local = report(&e, &d);
    assert_eq!(local["source"], "local");
    assert_eq!(served_of(&local, &id), (3, json!({"read": 3})));
    assert_eq!(served_of(&local, &idle).0, 0);
    let (text, _, _) = run_in(&e, &d, &["report"]);
    assert!(
        text.contains("this machine's own figures") && text.contains("never"),
        "{text}"
    );
    assert!(
        text.contains("1 active rule(s) were never served"),
        "{text}"
    );

    // Logged in: the daemon's events reach the server; the report shows the team's figures.
    let mut s = TestServer::start(b);
    let (out, err, code) = e.login(&s, &s.token("laptop", "ingest"), false);
    assert_eq!(code, 0, "{out}{err}");
    let (out, err, code) = e.run(&["sync", "now"]);
    assert_eq!(code, 0, "{out}{err}");
    let team = report(&e, &d);
    assert_eq!(team["source"], "team", "{team}");
    assert_eq!(served_of(&team, &id), (3, json!({"read": 3})));
    // Delivered: the local totals are kept all the same.
    s.stop();
    let offline = report(&e, &d);
    assert_eq!(offline["source"], "local");
    assert!(
        offline["note"].as_str().unwrap().contains("out of reach"),
        "{offline}"
    );
    assert_eq!(served_of(&offline, &id).0, 3);
    // Restarted: the team's counts are kept (replays are counted once: the server's tests).
    s.spawn();
    let again = report(&e, &d);
    assert_eq!(again["source"], "team", "{again}");
    assert_eq!(served_of(&again, &id).0, 3);

    // Bad input.
    let (_, err, code) = run_in(&e, &d, &["report", "--since", "last week"]);
    assert_eq!(code, 1);
    assert!(err.contains("--since must be a day, YYYY-MM-DD"), "{err}");
}
