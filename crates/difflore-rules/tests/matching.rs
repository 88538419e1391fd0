//! The matching engine on a real store: golden cases for reads, edits and searches —
//! abstention, global vs repo scope, cross-repo isolation, bm25 ranking, top-k, token budget,
//! statuses, severity — and the glob index following edits of a rule.

use difflore_core::home::Home;
use difflore_core::store;
use difflore_rules::matching::{Query, match_rules};
use difflore_rules::memory;
use rusqlite::Connection;

const SHOP: &str = "github.com/acme/shop";
const OTHER: &str = "github.com/acme/other";

struct Db {
    _dir: tempfile::TempDir,
    conn: Connection,
}

fn db() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let conn = store::open_for_write(&Home::at(dir.path())).unwrap();
    Db { _dir: dir, conn }
}

fn add(db: &Db, title: &str, statement: &str, globs: &[&str], repo: Option<&str>) -> String {
    let globs: Vec<String> = globs.iter().map(|s| s.to_string()).collect();
    memory::add(&db.conn, title, statement, &globs, repo, false)
        .unwrap()
        .id
}

fn ids(db: &Db, q: &Query<'_>) -> Vec<String> {
    match_rules(&db.conn, q)
        .unwrap()
        .into_iter()
        .map(|m| m.title)
        .collect()
}

fn fixture() -> Db {
    let d = db();
    add(
        &d,
        "Money type",
        "Use Money instead of f64 for amounts and cents.",
        &["src/billing/*.rs"],
        Some(SHOP),
    );
    add(
        &d,
        "No unwrap",
        "Return errors instead of calling unwrap on outside data.",
        &["**/*.rs"],
        Some(SHOP),
    );
    add(
        &d,
        "Changelog",
        "Add a changelog entry for every user-visible change.",
        &["**"],
        Some(SHOP),
    );
    add(
        &d,
        "Other money",
        "Use Money instead of f64 for amounts.",
        &["src/billing/*.rs"],
        Some(OTHER),
    );
    add(
        &d,
        "Tracing",
        "Log with tracing macros, never println.",
        &["**/*.rs"],
        None,
    );
    add(
        &d,
        "Retry policy",
        "Retry network calls with exponential backoff and jitter.",
        &[],
        None,
    );
    add(
        &d,
        "Retry budget",
        "Cap retries of network calls.",
        &[],
        None,
    );
    d
}

#[test]
fn read_of_a_governed_file_returns_scoped_rules_only() {
    let d = fixture();
    let got = ids(&d, &Query::new(Some(SHOP)).path("src/billing/total.rs"));
    // The narrow repo rule first, then the repo-wide and global *.rs rules; never `**` alone,
    // never the other repo's rule, never a rule without globs on path alone.
    assert_eq!(got[0], "Money type");
    let mut rest = got[1..].to_vec();
    rest.sort();
    assert_eq!(rest, vec!["No unwrap", "Tracing"]);
}

#[test]
fn cross_repo_isolation_and_no_repo() {
    let d = fixture();
    let got = ids(&d, &Query::new(Some(OTHER)).path("src/billing/total.rs"));
    assert!(got.contains(&"Other money".to_string()));
    assert!(!got.contains(&"Money type".to_string()) && !got.contains(&"No unwrap".to_string()));
    // Outside any repository only global rules apply.
    assert_eq!(
        ids(&d, &Query::new(None).path("src/billing/total.rs")),
        vec!["Tracing"]
    );
}

#[test]
fn abstains_when_nothing_is_relevant() {
    let d = fixture();
    assert!(ids(&d, &Query::new(Some(SHOP)).path("docs/guide.md")).is_empty());
    // An edit whose text has nothing to do with the rules: nothing, even on a governed file.
    let q = Query::new(Some(SHOP))
        .path("src/billing/total.rs")
        .text("fix typo in heading colour");
    assert!(ids(&d, &q).is_empty(), "{:?}", ids(&d, &q));
    // A search that matches nothing.
    assert!(ids(&d, &Query::new(Some(SHOP)).text("kubernetes helm chart")).is_empty());
}

#[test]
fn edit_text_ranks_by_relevance_with_why() {
    let d = fixture();
    let q = Query::new(Some(SHOP))
        .path("src/billing/total.rs")
        .text("let amount: f64 = cents as f64 / 100.0;");
    let got = match_rules(&d.conn, &q).unwrap();
    assert_eq!(got[0].title, "Money type", "{got:?}");
    assert_eq!(got[0].matched_glob.as_deref(), Some("src/billing/*.rs"));
    assert!(
        got[0].why.contains("glob src/billing/*.rs"),
        "{}",
        got[0].why
    );
    assert!(
        got[0].why.contains("terms:") && got[0].terms.contains(&"cents".to_string()),
        "{}",
        got[0].why
    );
    assert!(got.windows(2).all(|w| w[0].score >= w[1].score));
    // A rule of another file type never comes in through text alone when a path is given.
    assert!(got.iter().all(|m| m.title != "Other money"));
}

#[test]
fn bm25_ranks_search_results_and_global_rules_apply() {
    let d = fixture();
    let got = match_rules(
        &d.conn,
        &Query::new(Some(SHOP)).text("retry with backoff and jitter"),
    )
    .unwrap();
    let titles: Vec<&str> = got.iter().map(|m| m.title.as_str()).collect();
    assert_eq!(titles.first(), Some(&"Retry policy"), "{titles:?}");
    assert!(got[0].why.contains("global rule"), "{}", got[0].why);
    assert!(got.iter().all(|m| m.score > 0.0));
    // A glob-less global rule reaches an edit of any file when the text is about it.
    let q = Query::new(Some(SHOP))
        .path("src/net/client.rs")
        .text("retry the request with backoff and jitter");
    assert!(ids(&d, &q).contains(&"Retry policy".to_string()));
}

#[test]
fn statuses_severity_top_k_and_budget() {
    let d = fixture();
    let paused = add(
        &d,
        "Paused one",
        "Use Money for amounts.",
        &["src/billing/*.rs"],
        Some(SHOP),
    );
    memory::set_status(
        &d.conn,
        &paused,
        difflore_rules::kinds::Status::Paused,
        None,
    )
    .unwrap();
    assert!(
        !ids(&d, &Query::new(Some(SHOP)).path("src/billing/a.rs"))
            .contains(&"Paused one".to_string())
    );

    let mut q = Query::new(Some(SHOP)).path("src/billing/a.rs");
    q.top_k = 1;
    assert_eq!(ids(&d, &q), vec!["Money type"]);
    let mut q = Query::new(Some(SHOP)).path("src/billing/a.rs");
    q.token_budget = 30;
    let got = match_rules(&d.conn, &q).unwrap();
    assert!(got.iter().map(|m| m.tokens()).sum::<usize>() <= 30);
    assert!(got.len() < 3, "{got:?}");

    let mut q = Query::new(Some(SHOP)).path("src/billing/a.rs");
    q.enforce_only = true;
    assert!(ids(&d, &q).is_empty());
    let id = add(
        &d,
        "Gate me",
        "Never log card numbers.",
        &["src/billing/*.rs"],
        Some(SHOP),
    );
    memory::edit(
        &d.conn,
        &id,
        &memory::Edit {
            enforce: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(ids(&d, &q), vec!["Gate me"]);
}

#[test]
fn index_follows_edits_of_globs_and_text() {
    let d = fixture();
    let id = add(
        &d,
        "Migrations",
        "Never edit an applied migration.",
        &["db/migrations/*.sql"],
        Some(SHOP),
    );
    assert!(
        ids(&d, &Query::new(Some(SHOP)).path("db/migrations/0001.sql"))
            .contains(&"Migrations".to_string())
    );
    let e = memory::Edit {
        globs: Some(vec!["schema/*.sql".into()]),
        statement: Some("Add a new migration file rather than changing old ones.".into()),
        ..Default::default()
    };
    memory::edit(&d.conn, &id, &e).unwrap();
    assert!(ids(&d, &Query::new(Some(SHOP)).path("db/migrations/0001.sql")).is_empty());
    assert_eq!(
        ids(&d, &Query::new(Some(SHOP)).path("schema/0001.sql")),
        vec!["Migrations"]
    );
    // The full-text index follows the new statement.
    let got = ids(
        &d,
        &Query::new(Some(SHOP)).text("changing an old migration file"),
    );
    assert_eq!(got.first().map(String::as_str), Some("Migrations"));
    // Literal file globs, brace sets and character classes all go through the index.
    let id2 = add(
        &d,
        "Exact",
        "Keep the lockfile sorted.",
        &["Cargo.lock", "web/**/*.{ts,tsx}", "x/[ab].py"],
        Some(SHOP),
    );
    assert!(!id2.is_empty());
    for p in ["Cargo.lock", "web/src/app/page.tsx", "x/a.py"] {
        assert!(
            ids(&d, &Query::new(Some(SHOP)).path(p)).contains(&"Exact".to_string()),
            "{p}"
        );
    }
    assert!(!ids(&d, &Query::new(Some(SHOP)).path("x/c.py")).contains(&"Exact".to_string()));
    // `*` does not cross directories; `**` does.
    assert!(
        ids(&d, &Query::new(Some(SHOP)).path("src/billing/sub/a.rs"))
            .iter()
            .all(|t| t != "Money type")
    );
}

#[test]
fn listing_handles_equal_single_handles_and_resolve() {
    let db = db();
    let ids: Vec<String> = (0..300)
        .map(|i| add(&db, &format!("R{i}"), "Always check it.", &[], None))
        .collect();
    let all = memory::handles(&db.conn).unwrap();
    assert_eq!(all.len(), ids.len());

    for id in &ids {
        let h = &all[id];
        assert_eq!(h, &memory::handle(&db.conn, id), "{id}");
        assert!(h.len() >= 6 && h.len() < 12, "{h}");
        assert_eq!(&memory::resolve(&db.conn, h).unwrap(), id);
    }
}
