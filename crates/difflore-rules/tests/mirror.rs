//! The team mirror on a real store: near duplicates are resolved at pull time — this machine's
//! pending candidates making a team rule's point are replaced (the same words or near the same,
//! with as many negations), its own active rules making an active team rule's point are paused
//! and audited — while a contrary statement, another repo or another point is left alone; a
//! replayed page changes nothing.

use difflore_core::home::Home;
use difflore_core::store;
use difflore_proto::rules::{Severity, TeamRule, TeamStatus, signature};
use difflore_rules::memory;
use difflore_rules::mirror;
use rusqlite::{Connection, params};

const SHOP: &str = "github.com/acme/shop";

fn team_rule(n: u8, statement: &str, status: TeamStatus) -> TeamRule {
    TeamRule {
        id: format!("0192f0c0-0000-7000-8000-0000000000{n:02x}"),
        repo: Some(SHOP.into()),
        title: "Money".into(),
        statement: statement.into(),
        rationale: None,
        globs: vec!["src/billing/**".into()],
        severity: Severity::Context,
        status,
        origin: "review_import".into(),
        confidence: 0.7,
        signature: signature(statement),
        evidence: vec![],
        version: n as i64,
        revision: 1,
        created_at: "2026-11-29T10:00:00Z".into(),
        updated_at: "2026-11-29T10:00:00Z".into(),
        decided_by: None,
        decided_at: None,
    }
}

fn candidate(c: &Connection, statement: &str, repo: &str) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    c.execute(
        "INSERT INTO rules (id, title, statement, globs, repo, status, confidence, origin,
                            created_at, updated_at)
         VALUES (?1, 't', ?2, '[\"src/**\"]', ?3, 'pending', 0.6, 'review_import', 1, 1)",
        params![id, statement, repo],
    )
    .unwrap();
    id
}

fn status_of(c: &Connection, id: &str) -> Option<String> {
    c.query_row("SELECT status FROM rules WHERE id = ?1", [id], |r| r.get(0))
        .ok()
}

#[test]
fn near_duplicates_are_resolved_when_the_team_rule_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let c = store::open_for_write(&Home::at(dir.path())).unwrap();
    let paraphrase = candidate(&c, "Use Money instead of f64 for amounts", SHOP);
    let contrary = candidate(&c, "Never use f64 for amounts; no Money type here", SHOP);
    let elsewhere = candidate(
        &c,
        "Use Money instead of f64 for amounts",
        "github.com/acme/other",
    );
    let unrelated = candidate(&c, "Keep request handlers free of SQL", SHOP);
    let own_active = memory::add(
        &c,
        "Money",
        "Amounts use the Money type instead of f64",
        &["src/billing/**".into()],
        Some(SHOP),
        false,
    )
    .unwrap()
    .id;

    // A pending team rule: the paraphrased candidate goes, everything else stays.
    let pending = team_rule(
        1,
        "Use the Money type for amounts instead of f64",
        TeamStatus::Pending,
    );
    let report = mirror::apply(&c, std::slice::from_ref(&pending)).unwrap();
    assert_eq!(
        (report.written, report.replaced, report.shadowed),
        (1, 1, 0)
    );
    assert_eq!(status_of(&c, &paraphrase), None);
    assert_eq!(status_of(&c, &contrary).as_deref(), Some("pending"));
    assert_eq!(status_of(&c, &elsewhere).as_deref(), Some("pending"));
    assert_eq!(status_of(&c, &unrelated).as_deref(), Some("pending"));
    assert_eq!(status_of(&c, &own_active).as_deref(), Some("active"));

    // The same page again: nothing changes.
    let again = mirror::apply(&c, std::slice::from_ref(&pending)).unwrap();
    assert_eq!((again.written, again.unchanged), (0, 1));

    // Approved: the person's own active rule making the point is paused, with the reason.
    let mut active = pending;
    active.status = TeamStatus::Active;
    active.version = 2;
    let report = mirror::apply(&c, std::slice::from_ref(&active)).unwrap();
    assert_eq!((report.written, report.shadowed), (1, 1));
    assert_eq!(status_of(&c, &own_active).as_deref(), Some("paused"));
    let (actor, reason): (String, String) = c
        .query_row(
            "SELECT actor, reason FROM rule_audit WHERE rule_id = ?1 ORDER BY id DESC LIMIT 1",
            [&own_active],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(actor, "team sync");
    assert!(reason.contains("0192f0c0"), "{reason}");
    // Resumed by the person, it stays resumed when the team rule changes again.
    memory::set_status(&c, &own_active, difflore_rules::kinds::Status::Active, None).unwrap();
    let mut changed = active;
    changed.version = 3;
    changed.title = "Money, not f64".into();
    let report = mirror::apply(&c, &[changed]).unwrap();
    assert_eq!((report.written, report.shadowed), (1, 0));
    assert_eq!(status_of(&c, &own_active).as_deref(), Some("active"));
}
