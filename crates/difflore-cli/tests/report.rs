//! `difflore report` on real processes: a rule served by real hook processes is counted in this
//! machine's daily totals (kept when the outbox is delivered), and — once the daemon's events
//! reach a real `difflore-server` (both backends) — in the team's figures, which the report then
//! shows; a server restart changes nothing; bad input is a clear error. Recurrence: a point made
//! in review before a rule became active and again since, counted on this machine and — through
//! `rule.recurred` events the daemon delivers — by the team's server, on both backends.

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

/// A checkout of github.com/acme/shop with `src/billing/total.rs`.
fn shop(e: &Env) -> std::path::PathBuf {
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
    d
}

/// `n` agent sessions read `src/billing/total.rs` through the real hook process; each answer
/// must carry `expect`.
fn read_through_hook(e: &Env, d: &std::path::Path, tag: &str, n: usize, expect: &str) {
    let base: Value =
        serde_json::from_slice(&e.fixture("claude-code", "PostToolUse-Read.json")).unwrap();
    for i in 0..n {
        let mut v = base.clone();
        v["cwd"] = json!(d.display().to_string());
        v["session_id"] = json!(format!("{tag}-{i}"));
        v["tool_use_id"] = json!(format!("toolu_{tag}{i}"));
        v["tool_input"]["file_path"] = json!(d.join("src/billing/total.rs").display().to_string());
        let (o, _) = e.hook(&["--agent", "claude-code"], v.to_string().as_bytes());
        assert!(
            String::from_utf8_lossy(&o.stdout).contains(expect),
            "served"
        );
    }
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
    let d = shop(&e);
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
    read_through_hook(&e, &d, "s", 3, "Use Money");
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

/// Staleness on a real checkout: a rule whose directory was deleted (and whose evidence pointed
/// there), a rule not served while agents edited its files (paused meanwhile), and a
/// contradictory pair — each flagged with its reason and a suggestion; the rules are unchanged.
#[test]
fn stale_rules_are_flagged_and_left_alone() {
    let e = Env::init();
    let d = shop(&e);
    let add = |title: &str, statement: &str, glob: &str| -> String {
        let (out, err, code) = run_in(
            &e,
            &d,
            &[
                "memory",
                "add",
                "--title",
                title,
                "--statement",
                statement,
                "--glob",
                glob,
                "--json",
            ],
        );
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<Value>(&out).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let legacy = add(
        "Legacy",
        "Call the legacy ledger through its adapter",
        "src/legacy/**",
    );
    let tabs = add("Tabs", "Prefer tabs over spaces", "**/*.rs");
    let spaces = add("Spaces", "Prefer spaces over tabs", "**/*.rs");
    let cache = add(
        "Cache",
        "Cache totals per order in billing",
        "src/billing/**",
    );
    // The legacy rule's evidence pointed at a file that is gone.
    let db = rusqlite::Connection::open(e.db()).unwrap();
    db.execute(
        "INSERT INTO rule_evidence (rule_id, source, comment_id, path, line, excerpt)
         VALUES (?1, 'github', '9', 'src/legacy/ledger.rs', 3, 'go through the adapter')",
        [&legacy],
    )
    .unwrap();
    drop(db);
    // Agents edit a billing file while the cache rule is paused: it is never served.
    let (_, err, code) = run_in(&e, &d, &["memory", "pause", &cache]);
    assert_eq!(code, 0, "{err}");
    let base: Value =
        serde_json::from_slice(&e.fixture("claude-code", "PostToolUse-Edit.json")).unwrap();
    for i in 0..2 {
        let mut v = base.clone();
        v["cwd"] = json!(d.display().to_string());
        v["session_id"] = json!(format!("edit-{i}"));
        v["tool_use_id"] = json!(format!("toolu_e{i}"));
        v["tool_input"]["file_path"] = json!(d.join("src/billing/total.rs").display().to_string());
        e.hook(&["--agent", "claude-code"], v.to_string().as_bytes());
    }
    run_in(&e, &d, &["memory", "resume", &cache]);
    let (before, _, _) = run_in(&e, &d, &["memory", "list", "--json"]);

    let v = report(&e, &d);
    let reasons = |id: &str| -> Vec<String> {
        v["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()["stale"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["reason"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        reasons(&legacy),
        ["globs_match_nothing", "evidence_file_gone"],
        "{v}"
    );
    assert_eq!(reasons(&cache), ["not_served_while_edited"], "{v}");
    assert_eq!(reasons(&tabs), ["contradicts"], "{v}");
    assert_eq!(reasons(&spaces), ["contradicts"], "{v}");
    let (text, _, _) = run_in(&e, &d, &["report"]);
    assert!(
        text.contains("may be stale (nothing was changed)"),
        "{text}"
    );
    assert!(text.contains("edited its files 2 times"), "{text}");
    let (after, _, _) = run_in(&e, &d, &["memory", "list", "--json"]);
    assert_eq!(before, after, "the report changes no rule");
    // Another checkout of another repo: the glob check is not made against it.
    let other = e.dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    git(&other, &["init", "-q"]);
    let (out, err, code) = run_in(
        &e,
        &d,
        &["report", "--json", "--checkout", other.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let legacy_flags = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == legacy.as_str())
        .unwrap()["stale"]
        .clone();
    assert_eq!(legacy_flags, json!([]), "{v}");
    let (_, err, code) = run_in(&e, &d, &["report", "--checkout", "/nonexistent/dir"]);
    assert_eq!(code, 1);
    assert!(err.contains("is not a git checkout"), "{err}");
}

fn history(prs: Value) -> Value {
    json!({"version": 1, "repo": "github.com/acme/shop", "pull_requests": prs})
}

fn pr(number: u32, day: &str, comments: Value) -> Value {
    json!({"number": number, "title": format!("PR {number}"), "author": "sam", "state": "merged",
           "url": format!("https://github.com/acme/shop/pull/{number}"),
           "changed_paths": ["src/billing/total.rs", "src/billing/tax.rs"],
           "created_at": format!("{day}T09:00:00Z"), "merged_at": format!("{day}T17:00:00Z"),
           "comments": comments})
}

fn comment(id: &str, day: &str, path: &str, body: &str) -> Value {
    json!({"id": id, "author": "rita", "body": body, "path": path, "line": 3, "resolved": true,
           "url": format!("https://github.com/acme/shop/pull/1#{id}"),
           "created_at": format!("{day}T10:00:00Z")})
}

/// Recurrence: the point of a rule made in review before it became active (its evidence and a
/// paraphrase) and once since (imported later), while an unrelated comment on the same file
/// and a comment on a file the rule does not govern do not count.
#[test]
fn recurrences_are_counted_before_and_after_activation() {
    let e = Env::init();
    let d = e.dir.path().join("shop");
    std::fs::create_dir_all(&d).unwrap();
    git(&d, &["init", "-q"]);
    git(
        &d,
        &["remote", "add", "origin", "git@github.com:acme/shop.git"],
    );
    let first = e.dir.path().join("first.json");
    std::fs::write(
        &first,
        history(json!([
            pr(
                1,
                "2026-10-01",
                json!([comment(
                    "c1",
                    "2026-10-01",
                    "src/billing/total.rs",
                    "We never use f64 for amounts in billing: use Money."
                )])
            ),
            pr(
                2,
                "2026-10-10",
                json!([comment(
                    "c2",
                    "2026-10-10",
                    "src/billing/tax.rs",
                    "Please don't keep billing amounts in an f64; that is what Money is for."
                )])
            ),
        ]))
        .to_string(),
    )
    .unwrap();
    let (_, err, code) = run_in(&e, &d, &["import", "file", first.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (out, _, _) = run_in(&e, &d, &["memory", "list", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let rule = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["statement"].as_str().unwrap().contains("f64"))
        .unwrap_or_else(|| panic!("a candidate about f64: {v}"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, err, code) = run_in(&e, &d, &["memory", "approve", &rule]);
    assert_eq!(code, 0, "{err}");
    // It became active on 2026-10-20.
    let at = 1_792_454_400_000_i64; // 2026-10-20T00:00:00Z
    rusqlite::Connection::open(e.db())
        .unwrap()
        .execute(
            "UPDATE rule_audit SET at = ?2 WHERE rule_id = ?1 AND to_status = 'active'",
            rusqlite::params![rule, at],
        )
        .unwrap();
    let second = e.dir.path().join("second.json");
    std::fs::write(
        &second,
        history(json!([pr(
            3,
            "2026-11-10",
            json!([
                comment(
                    "c3",
                    "2026-11-10",
                    "src/billing/total.rs",
                    "Again an f64 for billing amounts here: we never do that, use Money."
                ),
                comment(
                    "c4",
                    "2026-11-10",
                    "src/billing/total.rs",
                    "Rename this variable to total_cents, please."
                ),
                comment(
                    "c5",
                    "2026-11-10",
                    "docs/money.md",
                    "We never use f64 for amounts in billing: use Money."
                ),
            ])
        )]))
        .to_string(),
    )
    .unwrap();
    let (out, err, code) = run_in(
        &e,
        &d,
        &["import", "file", second.to_str().unwrap(), "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["recurrences"].is_u64(), "{v}");
    let r = report(&e, &d);
    let mine = r["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == rule.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        mine["recurrence"],
        json!({"before": 2, "after": 1, "window_days": 90}),
        "c1 (evidence) and c2 before, c3 since; c4 unrelated, c5 on a file it does not govern: {mine}"
    );
    let (text, _, _) = run_in(&e, &d, &["report"]);
    assert!(text.contains("2 → 1"), "{text}");
}

#[test]
fn sqlite_recurrences_reach_the_team() {
    recurrences_reach_the_team(&Backend::Sqlite);
}

#[test]
fn postgres_recurrences_reach_the_team() {
    if let Some(b) = Backend::postgres() {
        recurrences_reach_the_team(&b);
    }
}

/// The whole loop with a team: a convention said twice in review (imported on a logged-in
/// machine, proposed, delivered), approved by a maintainer on the server, served by real hook
/// processes, then said twice more after approval next to an unrelated comment: the report counts
/// 2 before and 2 since — from this machine's store and from the server — and says the rule had
/// been served on that file.
fn recurrences_reach_the_team(b: &Backend) {
    let e = Env::init();
    let d = shop(&e);
    let mut s = TestServer::start(b);
    let (out, err, code) = e.login(&s, &s.token("lead", "maintainer"), false);
    assert_eq!(code, 0, "{out}{err}");
    let day = |n: i64| {
        (time::OffsetDateTime::now_utc() + time::Duration::days(n))
            .date()
            .to_string()
    };
    let first = e.dir.path().join("first.json");
    std::fs::write(
        &first,
        history(json!([
            pr(
                1,
                &day(-20),
                json!([comment(
                    "c1",
                    &day(-20),
                    "src/billing/total.rs",
                    "We never use f64 for amounts in billing: use Money."
                )])
            ),
            pr(
                2,
                &day(-10),
                json!([comment(
                    "c2",
                    &day(-10),
                    "src/billing/tax.rs",
                    "We never use f64 for amounts in billing, use Money instead."
                )])
            ),
        ]))
        .to_string(),
    )
    .unwrap();
    let (_, err, code) = run_in(&e, &d, &["import", "file", first.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (out, err, code) = e.run(&["sync", "now"]);
    assert_eq!(code, 0, "{out}{err}");
    let (out, _, _) = run_in(&e, &d, &["memory", "list", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let found = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["statement"].as_str().unwrap().contains("f64"))
        .unwrap_or_else(|| panic!("a candidate about f64: {v}"))
        .clone();
    assert_eq!(found["location"], "team", "proposed and pulled: {found}");
    let rule = found["id"].as_str().unwrap().to_string();
    let (_, err, code) = run_in(&e, &d, &["memory", "approve", &rule]);
    assert_eq!(code, 0, "{err}");

    // Real hook processes serve it on the governed file.
    read_through_hook(&e, &d, "r", 2, "f64");

    // After the approval: the point made once more, and an unrelated comment on the same file.
    let second = e.dir.path().join("second.json");
    std::fs::write(
        &second,
        history(json!([pr(
            3,
            &day(1),
            json!([
                comment(
                    "c3",
                    &day(1),
                    "src/billing/total.rs",
                    "Again an f64 for billing amounts here: we never do that, use Money."
                ),
                comment(
                    "c4",
                    &day(1),
                    "src/billing/total.rs",
                    "Rename this variable to total_cents, please."
                ),
                comment(
                    "c5",
                    &day(2),
                    "src/billing/total.rs",
                    "Hmm, f64 again for these billing amounts, not Money."
                ),
            ])
        )]))
        .to_string(),
    )
    .unwrap();
    let (_, err, code) = run_in(&e, &d, &["import", "file", second.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    // c3 is kept by extraction as new evidence of the rule (a proposal); c5, which extraction
    // would not keep, is a recurrence (a `rule.recurred` event); c4 is about something else.
    let expected = json!({"before": 2, "after": 2, "window_days": 90});
    let of = |v: &Value| {
        v["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == rule.as_str())
            .unwrap_or_else(|| panic!("{rule} in {v}"))
            .clone()
    };
    // Before delivery the team has not heard of c3 yet; the server's count says so.
    let r = of(&report(&e, &d));
    assert_eq!(
        r["recurrence"],
        json!({"before": 2, "after": 0, "window_days": 90}),
        "{r}"
    );
    let (out, err, code) = e.run(&["sync", "now"]);
    assert_eq!(code, 0, "{out}{err}");
    let team = report(&e, &d);
    assert_eq!(team["source"], "team", "{team}");
    let r = of(&team);
    assert_eq!(r["recurrence"], expected, "from the server: {r}");
    assert_eq!(r["served"], 2, "{r}");
    let said = r["said_again_since_active"].as_array().unwrap();
    assert_eq!(said.len(), 2, "{r}");
    assert!(said[0]["url"].as_str().unwrap().ends_with("#c3"), "{r}");
    assert!(said[1]["url"].as_str().unwrap().ends_with("#c5"), "{r}");
    assert_eq!(said[1]["path"], "src/billing/total.rs");
    assert_eq!(
        said[1]["served_on_file"], 2,
        "it had been served there: {r}"
    );
    let (_, v) =
        difflore_test_support::http::get(&s.url, "/v1/outcomes", Some(&s.token("viewer", "read")));
    assert_eq!(v["recurrence"][&rule], expected, "{v}");
    // This machine's own count agrees (the server out of reach).
    s.stop();
    let local = report(&e, &d);
    assert_eq!(local["source"], "local", "{local}");
    assert_eq!(of(&local)["recurrence"], expected, "{local}");
    let (text, _, _) = run_in(&e, &d, &["report"]);
    assert!(
        text.contains("said again in review since the rule became active")
            && text.contains("served for that file 2 time(s) before")
            && text.contains("2 → 2"),
        "{text}"
    );
}
