//! The hook's inbox against real SQLite files: created by a writing command, appended to by the
//! hook's connection, folded into the outbox oldest first, once, with the cap and the drop
//! count carried over, unreadable rows kept aside, and nothing lost or doubled when a fold is
//! interrupted between its two commits.

use difflore_core::home::Home;
use difflore_core::outbox::{EnqueuePolicy, Outbox};
use difflore_core::outcomes::ServedCounts;
use difflore_core::{inbox, spool::Folded, store};
use difflore_proto::EventEnvelope;
use rusqlite::Connection;

fn ev(n: u32) -> EventEnvelope {
    EventEnvelope {
        id: format!("0190a6b4-7c1e-7d2f-8a9b-{n:012}"),
        kind: "hook.event".into(),
        occurred_at: "2026-11-29T10:00:00Z".into(),
        payload: serde_json::json!({"agent": "codex", "n": n}),
    }
}

fn ids(conn: &Connection) -> Vec<String> {
    Outbox::new(conn)
        .list(None, 1000)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

fn policy(cap: i64) -> EnqueuePolicy {
    EnqueuePolicy {
        cap,
        logged_in: true,
    }
}

#[test]
fn a_writing_command_creates_the_inbox_and_folds_it_oldest_first_once() {
    let d = tempfile::tempdir().unwrap();
    let home = Home::at(d.path().join("h"));
    let conn = store::open_for_write(&home).unwrap();
    assert!(home.inbox_path().exists(), "created with the store");
    let hook = inbox::open_for_hook(&home).unwrap();
    for n in [3, 1, 2, 1] {
        assert_eq!(
            inbox::append(&hook, &ev(n), 100).unwrap(),
            inbox::Appended::Appended
        );
    }
    assert_eq!(inbox::waiting(&home), 4);
    assert!(ids(&conn).is_empty(), "nothing in the outbox before a fold");
    let f = inbox::fold(&home, &conn, policy(100), 5).unwrap();
    assert_eq!((f.queued, f.duplicates, f.unreadable), (3, 1, 0));
    assert_eq!(ids(&conn), vec![ev(3).id, ev(1).id, ev(2).id]);
    assert_eq!(inbox::waiting(&home), 0);
    assert_eq!(
        inbox::fold(&home, &conn, policy(100), 6).unwrap(),
        Folded::default()
    );
    // The next writing command folds what the hook appended since.
    inbox::append(&hook, &ev(4), 100).unwrap();
    drop(conn);
    let conn = store::open_for_write(&home).unwrap();
    assert_eq!(ids(&conn).last(), Some(&ev(4).id));
}

#[test]
fn the_inbox_holds_at_most_the_cap_and_the_drop_count_reaches_the_outbox() {
    let d = tempfile::tempdir().unwrap();
    let home = Home::at(d.path().join("h"));
    let conn = store::open_for_write(&home).unwrap();
    let hook = inbox::open_for_hook(&home).unwrap();
    let got: Vec<_> = (0..5)
        .map(|n| inbox::append(&hook, &ev(n), 3).unwrap())
        .collect();
    assert_eq!(
        got.iter()
            .filter(|a| **a == inbox::Appended::Dropped)
            .count(),
        2
    );
    assert_eq!(inbox::waiting(&home), 3);
    let f = inbox::fold(&home, &conn, policy(100), 5).unwrap();
    assert_eq!(f.queued, 3);
    let dropped: i64 = conn
        .query_row(
            "SELECT value FROM counters WHERE name = 'dropped'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(dropped, 2, "what the inbox turned away is counted once");
    assert_eq!(
        inbox::fold(&home, &conn, policy(100), 6).unwrap(),
        Folded::default()
    );
    // Emptied by the fold, the inbox takes events again.
    assert_eq!(
        inbox::append(&hook, &ev(9), 3).unwrap(),
        inbox::Appended::Appended
    );
}

#[test]
fn the_outbox_cap_applies_at_the_fold() {
    let d = tempfile::tempdir().unwrap();
    let home = Home::at(d.path().join("h"));
    let conn = store::open_for_write(&home).unwrap();
    let hook = inbox::open_for_hook(&home).unwrap();
    for n in 0..4 {
        inbox::append(&hook, &ev(n), 100).unwrap();
    }
    let f = inbox::fold(&home, &conn, policy(2), 5).unwrap();
    assert_eq!((f.queued, f.dropped), (2, 2));
    assert_eq!(ids(&conn), vec![ev(0).id, ev(1).id]);
    assert_eq!(inbox::waiting(&home), 0);
}

#[test]
fn a_row_that_is_not_an_event_is_set_aside_not_lost() {
    let d = tempfile::tempdir().unwrap();
    let home = Home::at(d.path().join("h"));
    let conn = store::open_for_write(&home).unwrap();
    let hook = inbox::open_for_hook(&home).unwrap();
    inbox::append(&hook, &ev(1), 100).unwrap();
    hook.execute("INSERT INTO inbox (envelope) VALUES ('{not json')", [])
        .unwrap();
    inbox::append(&hook, &ev(2), 100).unwrap();
    let f = inbox::fold(&home, &conn, policy(100), 5).unwrap();
    assert_eq!((f.queued, f.unreadable), (2, 1));
    assert_eq!(ids(&conn), vec![ev(1).id, ev(2).id]);
    let kept: String = hook
        .query_row("SELECT envelope FROM set_aside", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, "{not json");
    assert_eq!(inbox::waiting(&home), 0);
}

#[test]
fn a_fold_interrupted_between_its_commits_stores_each_event_once() {
    let d = tempfile::tempdir().unwrap();
    let home = Home::at(d.path().join("h"));
    let conn = store::open_for_write(&home).unwrap();
    let hook = inbox::open_for_hook(&home).unwrap();
    for n in 0..3 {
        inbox::append(&hook, &ev(n), 100).unwrap();
    }
    // What a fold killed after the outbox's commit leaves: the rows in both places.
    let rows: Vec<String> = hook
        .prepare("SELECT envelope FROM inbox ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    inbox::fold(&home, &conn, policy(100), 5).unwrap();
    for r in &rows {
        hook.execute("INSERT INTO inbox (envelope) VALUES (?1)", [r])
            .unwrap();
    }
    let f = inbox::fold(&home, &conn, policy(100), 6).unwrap();
    assert_eq!((f.queued, f.duplicates), (0, 3));
    assert_eq!(ids(&conn), vec![ev(0).id, ev(1).id, ev(2).id]);
}

#[test]
fn the_hook_refuses_an_inbox_it_does_not_know_and_a_missing_one() {
    let d = tempfile::tempdir().unwrap();
    let home = Home::at(d.path().join("h"));
    assert!(matches!(
        inbox::open_for_hook(&home),
        Err(store::StoreError::Missing(_))
    ));
    let conn = store::open_for_write(&home).unwrap();
    Connection::open(home.inbox_path())
        .unwrap()
        .pragma_update(None, "user_version", 7)
        .unwrap();
    assert!(matches!(
        inbox::open_for_hook(&home),
        Err(store::StoreError::TooNew { found: 7, .. })
    ));
    // A fold leaves an inbox of another version alone.
    assert_eq!(
        inbox::fold(&home, &conn, policy(100), 5).unwrap(),
        Folded::default()
    );
}

#[test]
fn the_stores_own_inbox_folds_once_with_the_cap_and_keeps_unreadable_rows() {
    // A serving step appends to the store's `inbox` table in its own transaction.
    let d = tempfile::tempdir().unwrap();
    let home = Home::at(d.path().join("h"));
    let conn = store::open_for_write(&home).unwrap();
    let hook = store::open_for_hook(&home).unwrap();
    let tx = store::write_tx(&hook).unwrap();
    for n in [5, 4, 5] {
        assert_eq!(
            inbox::append(&tx, &ev(n), 3).unwrap(),
            inbox::Appended::Appended
        );
    }
    assert_eq!(
        inbox::append(&tx, &ev(6), 3).unwrap(),
        inbox::Appended::Dropped,
        "at the cap the event is counted, not stored"
    );
    tx.execute("INSERT INTO inbox (envelope) VALUES ('not an event')", [])
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(inbox::held(&conn).unwrap(), 4);
    assert!(ids(&conn).is_empty());
    // Oldest first, once: 5 and 4 queued, the second 5 a duplicate, the bad row set aside.
    // (Real times: the fold below by `fold_hook_events` keeps a logged-out queue to 7 days.)
    let now = difflore_core::clock::now_ms();
    let f = inbox::fold_store(&conn, policy(100), now).unwrap();
    assert_eq!(
        (f.queued, f.duplicates, f.dropped, f.unreadable),
        (2, 1, 0, 1)
    );
    assert_eq!(ids(&conn), vec![ev(5).id, ev(4).id]);
    assert_eq!(inbox::held(&conn).unwrap(), 0);
    let aside: String = conn
        .query_row("SELECT envelope FROM inbox_set_aside", [], |r| r.get(0))
        .unwrap();
    assert_eq!(aside, "not an event");
    let dropped = Outbox::new(&conn).summary(now).unwrap().dropped;
    assert_eq!(
        dropped, 1,
        "the hook's drop was counted in the store at once"
    );
    assert_eq!(
        inbox::fold_store(&conn, policy(100), now).unwrap(),
        Folded::default()
    );
    // `fold_hook_events` (every writing command, every daemon turn) moves them too.
    let tx = store::write_tx(&hook).unwrap();
    inbox::append(&tx, &ev(8), 100).unwrap();
    tx.commit().unwrap();
    store::fold_hook_events(&home, &conn);
    assert_eq!(ids(&conn), vec![ev(5).id, ev(4).id, ev(8).id]);
}

fn figures(conn: &Connection) -> (i64, i64) {
    conn.query_row(
        "SELECT (SELECT COALESCE(SUM(count), 0) FROM served_daily),
                (SELECT COALESCE(SUM(count), 0) FROM served_files)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

#[test]
fn a_serving_steps_figures_are_applied_once_at_the_fold() {
    let d = tempfile::tempdir().unwrap();
    let home = Home::at(d.path().join("h"));
    let conn = store::open_for_write(&home).unwrap();
    let hook = store::open_for_hook(&home).unwrap();
    let counts = |n: usize| ServedCounts {
        at: difflore_core::clock::now_ms(),
        agent: "codex".into(),
        repo: "github.com/acme/shop".into(),
        moment: "read".into(),
        rule_ids: (0..n).map(|i| format!("r{i}")).collect(),
        pairs: (0..n)
            .map(|i| ("src/a.rs".into(), format!("r{i}")))
            .collect(),
    };
    let tx = store::write_tx(&hook).unwrap();
    inbox::append_served(&tx, &ev(1), &counts(3), 10).unwrap();
    inbox::append_served(&tx, &ev(2), &counts(2), 10).unwrap();
    tx.execute(
        "INSERT INTO inbox (envelope, counts) VALUES (?1, 'not figures')",
        [serde_json::to_string(&ev(3)).unwrap()],
    )
    .unwrap();
    tx.commit().unwrap();
    assert_eq!(figures(&conn), (0, 0), "nothing counted on the hook's path");
    let now = difflore_core::clock::now_ms();
    let f = inbox::fold_store(&conn, policy(100), now).unwrap();
    assert_eq!((f.queued, f.unreadable), (2, 1));
    assert_eq!(figures(&conn), (5, 5));
    assert_eq!(ids(&conn), vec![ev(1).id, ev(2).id]);
    let aside: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM inbox_set_aside WHERE counts = 'not figures'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(aside, 1, "the unreadable row is kept whole");
    inbox::fold_store(&conn, policy(100), now).unwrap();
    assert_eq!(figures(&conn), (5, 5), "applied once");
    // At the cap the event is turned away but the serving still counts, at once.
    let tx = store::write_tx(&hook).unwrap();
    assert_eq!(
        inbox::append_served(&tx, &ev(4), &counts(1), 0).unwrap(),
        inbox::Appended::Dropped
    );
    tx.commit().unwrap();
    assert_eq!(figures(&conn), (6, 6));
}
