//! The MCP tools on a real store, without a client: proposals stay pending, are limited per
//! session and per day, are deduplicated and refused once rejected; another repository's rule is
//! never returned; bad arguments are clear errors.

use difflore_core::home::Home;
use difflore_mcp::tools::{GetParams, ProposeParams, SearchParams, ToolError, Tools};
use difflore_rules::memory;

fn setup() -> (tempfile::TempDir, Tools) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("shop");
    std::fs::create_dir_all(project.join(".git")).unwrap();
    std::fs::write(
        project.join(".git/config"),
        "[remote \"origin\"]\n\turl = https://github.com/acme/shop.git\n",
    )
    .unwrap();
    let tools = Tools::open(Home::at(dir.path().join("home")), project).unwrap();
    (dir, tools)
}

fn propose(
    t: &Tools,
    title: &str,
    statement: &str,
) -> Result<difflore_mcp::tools::ProposalResult, ToolError> {
    t.propose_rule(ProposeParams {
        title: title.into(),
        statement: statement.into(),
        globs: None,
        rationale: None,
    })
}

#[test]
fn proposals_are_pending_limited_deduplicated_and_respect_rejections() {
    let (dir, t) = setup();
    let first = propose(&t, "Tabs", "Indent Makefiles with tabs.").unwrap();
    assert_eq!((first.status.as_str(), first.existing), ("pending", false));
    let again = propose(&t, "Tabs again", "Indent Makefiles with tabs.").unwrap();
    assert!(again.existing && again.id == first.id, "{again:?}");
    for w in ["alpha", "beta", "gamma", "delta"] {
        let r = propose(
            &t,
            "Rule",
            &format!("Name the {w} module after its folder."),
        )
        .unwrap();
        assert!(!r.existing);
    }
    // The sixth new proposal of this session is refused with the reason.
    let e = propose(&t, "Six", "Prefer small functions in parsers.").unwrap_err();
    assert!(e.to_string().contains("per session"), "{e}");

    // A rule a person rejected is never proposed again, in any session.
    let conn = difflore_core::store::open_for_write(&Home::at(dir.path().join("home"))).unwrap();
    memory::set_status(
        &conn,
        &first.id,
        difflore_rules::kinds::Status::Rejected,
        Some("not ours"),
    )
    .unwrap();
    let (_, fresh) = {
        let project = dir.path().join("shop");
        (
            (),
            Tools::open(Home::at(dir.path().join("home")), project).unwrap(),
        )
    };
    let e = propose(&fresh, "Tabs", "Indent Makefiles with tabs.").unwrap_err();
    assert!(e.to_string().contains("rejected"), "{e}");
    // Nothing an agent proposed is active.
    let all = memory::list(&conn, None, None).unwrap();
    assert!(
        all.iter()
            .all(|r| r.origin == difflore_rules::kinds::Origin::AgentProposal
                && r.status != difflore_rules::kinds::Status::Active)
    );

    // The daily limit across sessions: 20 in 24 hours (5 so far, 15 more now).
    let words = [
        "red", "green", "blue", "cyan", "magenta", "yellow", "black", "white",
    ];
    for i in 0..3 {
        let s = Tools::open(Home::at(dir.path().join("home")), dir.path().join("shop")).unwrap();
        for j in 0..5 {
            let r = propose(
                &s,
                "Daily",
                &format!("Paint the {} {} widgets.", words[i], words[j + 3]),
            );
            assert!(r.is_ok_and(|r| !r.existing));
        }
    }
    let s = Tools::open(Home::at(dir.path().join("home")), dir.path().join("shop")).unwrap();
    let e = propose(&s, "Late", "Write one more rule today.").unwrap_err();
    assert!(e.to_string().contains("per day"), "{e}");
}

#[test]
fn scoping_and_bad_arguments() {
    let (dir, t) = setup();
    let conn = difflore_core::store::open_for_write(&Home::at(dir.path().join("home"))).unwrap();
    let other = memory::add(
        &conn,
        "Other",
        "Use other things.",
        &["src/*.rs".into()],
        Some("github.com/acme/other"),
        false,
    )
    .unwrap();
    let e = t
        .get_rule(GetParams {
            id: other.id.clone(),
        })
        .unwrap_err();
    assert!(matches!(e, ToolError::NotFound(_)), "{e}");
    let own = memory::add(
        &conn,
        "Own",
        "Use Money for amounts.",
        &["src/*.rs".into()],
        Some("github.com/acme/shop"),
        false,
    )
    .unwrap();
    assert_eq!(
        t.get_rule(GetParams {
            id: own.id[..13].into()
        })
        .unwrap()
        .id,
        own.id
    );
    for (q, k) in [("", None), ("money", Some(0)), ("money", Some(21))] {
        let e = t
            .search_rules(SearchParams {
                query: q.into(),
                path: None,
                top_k: k,
            })
            .unwrap_err();
        assert!(matches!(e, ToolError::Invalid(_)), "{e}");
    }
    let r = t
        .search_rules(SearchParams {
            query: "money".into(),
            path: Some("src/lib.rs".into()),
            top_k: None,
        })
        .unwrap();
    assert_eq!(
        r.rules.iter().map(|h| h.title.as_str()).collect::<Vec<_>>(),
        vec!["Own"]
    );
    let r = t
        .search_rules(SearchParams {
            query: "money".into(),
            path: Some("/etc/passwd".into()),
            top_k: None,
        })
        .unwrap();
    assert!(r.rules.is_empty() && r.note.unwrap().contains("not inside"));
}

/// On a logged-in machine an agent's proposal also goes to the team's rulebook (a
/// `rule.proposed` event in the outbox, pending for a maintainer); on a machine that never
/// logged in nothing leaves it.
#[test]
fn a_proposal_is_offered_to_the_team_only_when_logged_in() {
    let (dir, t) = setup();
    let queued = |kind: &str| -> i64 {
        rusqlite::Connection::open(dir.path().join("home/difflore.db"))
            .unwrap()
            .query_row("SELECT COUNT(*) FROM outbox WHERE kind = ?1", [kind], |r| {
                r.get(0)
            })
            .unwrap()
    };
    propose(&t, "Tabs", "Indent Makefiles with tabs.").unwrap();
    assert_eq!(queued("rule.proposed"), 0, "not logged in: stays here");
    let home = Home::at(dir.path().join("home"));
    std::fs::write(home.token_path(), "dfl_x").unwrap();
    let r = propose(&t, "Squash", "Squash fixup commits before merging.").unwrap();
    assert_eq!(queued("rule.proposed"), 1);
    let payload: String = rusqlite::Connection::open(dir.path().join("home/difflore.db"))
        .unwrap()
        .query_row(
            "SELECT payload FROM outbox WHERE kind = 'rule.proposed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let p: serde_json::Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(p["rule_id"], r.id.as_str());
    assert_eq!(p["origin"], "agent_proposal");
    assert_eq!(p["repo"], "github.com/acme/shop");
}
