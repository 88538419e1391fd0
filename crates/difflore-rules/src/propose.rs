//! Up: this machine's candidates offered to the team's rulebook as `rule.proposed` events
//! (DESIGN §10), queued in the outbox and delivered by the daemon like any event. A proposal's
//! event id is derived from the rule and the evidence it carries, so offering an unchanged
//! candidate again is the same event (a duplicate, dropped on the way); a candidate whose
//! evidence grew is a new event. At most 50 pieces of evidence travel in one proposal; more go
//! in further proposals.

use difflore_core::clock::{now_ms, rfc3339};
use difflore_core::home::Home;
use difflore_core::outbox::{EnqueuePolicy, Enqueued, Outbox};
use difflore_proto::rules::{
    Evidence, MAX_EVIDENCE_PER_PROPOSAL, RuleProposal, Severity, signature,
};
use difflore_proto::{EventEnvelope, kinds};
use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

/// What offering the candidates did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Offered {
    /// Proposals queued now (new candidates, or grown evidence).
    pub queued: usize,
    /// Proposals queued before with the same evidence.
    pub unchanged: usize,
}

/// The proposals for one rule of this machine: all its evidence; or, for a team rule, only the
/// evidence this machine found (not pulled), so the team's copy grows by it.
pub fn proposals(conn: &Connection, rule_id: &str) -> rusqlite::Result<Vec<EventEnvelope>> {
    let rule = conn.query_row(
        "SELECT id, title, statement, rationale, globs, repo, severity, origin, confidence,
                location = 'team'
         FROM rules WHERE id = ?1",
        [rule_id],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, f64>(8)?,
                r.get::<_, bool>(9)?,
            ))
        },
    );
    let (id, title, statement, rationale, globs, repo, severity, origin, confidence, team) =
        match rule {
            Ok(r) => r,
            Err(rusqlite::Error::QueryReturnedNoRows) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
    let mut st = conn.prepare_cached(
        "SELECT e.source, e.comment_id, e.url, e.author, e.path, e.line, e.excerpt, c.created_at
         FROM rule_evidence e
         LEFT JOIN review_comments c ON c.source = e.source AND c.platform_id = e.comment_id
         WHERE e.rule_id = ?1 AND e.pulled = 0 ORDER BY e.source, e.comment_id",
    )?;
    let evidence: Vec<Evidence> = st
        .query_map([&id], |r| {
            Ok(Evidence {
                source: Some(r.get(0)?),
                comment_id: Some(r.get(1)?),
                url: r
                    .get::<_, Option<String>>(2)?
                    .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
                author: r.get(3)?,
                path: r.get(4)?,
                line: r.get(5)?,
                excerpt: r.get::<_, String>(6)?.chars().take(4_000).collect(),
                // When the point was made: the team counts it "before" the rule was active.
                created_at: r
                    .get::<_, Option<String>>(7)?
                    .filter(|t| difflore_proto::is_valid_timestamp(t)),
            })
        })?
        .collect::<Result<_, _>>()?;
    let base = RuleProposal {
        rule_id: id.clone(),
        repo,
        title: title.chars().take(200).collect(),
        statement,
        rationale,
        globs: serde_json::from_str(&globs).unwrap_or_default(),
        severity: if severity == "enforce" {
            Severity::Enforce
        } else {
            Severity::Context
        },
        origin,
        confidence: confidence.clamp(0.0, 1.0),
        signature: None,
        evidence: Vec::new(),
    };
    if team && evidence.is_empty() {
        // The team has everything this machine knows of the rule.
        return Ok(Vec::new());
    }
    let chunks: Vec<&[Evidence]> = if evidence.is_empty() {
        vec![&[]]
    } else {
        evidence.chunks(MAX_EVIDENCE_PER_PROPOSAL).collect()
    };
    let now = rfc3339(now_ms());
    Ok(chunks
        .into_iter()
        .filter_map(|chunk| {
            let mut p = base.clone();
            p.signature = Some(signature(&p.statement));
            p.evidence = chunk.to_vec();
            p.check().ok()?;
            let payload = serde_json::to_value(&p).ok()?;
            Some(EventEnvelope {
                id: event_id(&p).to_string(),
                kind: kinds::RULE_PROPOSED.into(),
                occurred_at: now.clone(),
                payload,
            })
        })
        .collect())
}

/// The same rule with the same statement and evidence is always the same event.
fn event_id(p: &RuleProposal) -> uuid::Uuid {
    let mut h = Sha256::new();
    h.update(b"difflore.rule.proposed.v1\0");
    h.update(p.rule_id.as_bytes());
    h.update(b"\0");
    h.update(p.statement.as_bytes());
    for e in &p.evidence {
        h.update(b"\0");
        h.update(e.source.as_deref().unwrap_or("").as_bytes());
        h.update(b":");
        h.update(e.comment_id.as_deref().unwrap_or("").as_bytes());
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_custom_bytes(b).into_uuid()
}

/// Offers one rule of this machine (an agent's proposal, a shared rule) — on a logged-in
/// machine only.
pub fn offer_rule(conn: &Connection, home: &Home, id: &str, cap: i64) -> rusqlite::Result<Offered> {
    let mut offered = Offered::default();
    if !home.token_path().exists() {
        return Ok(offered);
    }
    let policy = EnqueuePolicy::for_home(home, cap);
    for env in proposals(conn, id)? {
        if buried(conn, &env)? {
            continue;
        }
        match Outbox::new(conn).enqueue(&env, policy, now_ms())? {
            Enqueued::Queued => offered.queued += 1,
            Enqueued::Duplicate | Enqueued::Dropped => offered.unchanged += 1,
        }
    }
    Ok(offered)
}

/// The team rejected this point (a tombstone pulled from its rulebook): never offered again.
fn buried(conn: &Connection, env: &EventEnvelope) -> rusqlite::Result<bool> {
    let sig = env.payload["signature"].as_str().unwrap_or_default();
    let repo = env.payload["repo"].as_str().unwrap_or_default();
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM tombstones WHERE kind = 'signature' AND repo = ?1 AND key = ?2)",
        params![repo, sig],
        |r| r.get(0),
    )
}

/// Offers every pending candidate of this machine that came from review history, and every team
/// rule that gained evidence here (an import matched it) — all of them, or those of `repo` —
/// on a logged-in machine only; nothing leaves a machine that never logged in.
pub fn offer_candidates(
    conn: &Connection,
    home: &Home,
    repo: Option<&str>,
    cap: i64,
) -> rusqlite::Result<Offered> {
    let mut offered = Offered::default();
    if !home.token_path().exists() {
        return Ok(offered);
    }
    let ids: Vec<String> = {
        let mut st = conn.prepare(
            "SELECT id FROM rules
             WHERE ((location = 'local' AND status = 'pending' AND origin = 'review_import')
                    OR (location = 'team' AND EXISTS (SELECT 1 FROM rule_evidence e
                                                      WHERE e.rule_id = rules.id AND e.pulled = 0)))
               AND (?1 IS NULL OR repo = ?1)
             ORDER BY created_at",
        )?;
        st.query_map(params![repo], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    let policy = EnqueuePolicy::for_home(home, cap);
    let now = now_ms();
    let ob = Outbox::new(conn);
    for id in ids {
        for env in proposals(conn, &id)? {
            if buried(conn, &env)? {
                continue;
            }
            match ob.enqueue(&env, policy, now)? {
                Enqueued::Queued => offered.queued += 1,
                Enqueued::Duplicate | Enqueued::Dropped => offered.unchanged += 1,
            }
        }
    }
    Ok(offered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use difflore_core::store;

    /// A pending review candidate with one piece of evidence, in a logged-in home.
    fn setup() -> (tempfile::TempDir, Home, Connection, String) {
        let d = tempfile::tempdir().unwrap();
        let home = Home::at(d.path());
        let conn = store::open_for_write(&home).unwrap();
        std::fs::write(home.token_path(), "dfl_x").unwrap();
        let id = uuid::Uuid::now_v7().to_string();
        conn.execute(
            "INSERT INTO rules (id, title, statement, globs, repo, status, severity, confidence,
                                origin, signature, created_at, updated_at)
             VALUES (?1, 'Money', 'Never use f64 for money amounts', '[]', 'github.com/acme/shop',
                     'pending', 'context', 0.7, 'review_import', 'sig', 0, 0)",
            [&id],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO rule_evidence (rule_id, source, comment_id, url, excerpt)
             VALUES (?1, 'github', '1', 'https://github.com/acme/shop/pull/1#r1', 'f64 rounds')",
            [&id],
        )
        .unwrap();
        (d, home, conn, id)
    }

    #[test]
    fn a_point_the_team_rejected_is_not_offered_again() {
        let (_d, home, conn, id) = setup();
        conn.execute(
            "INSERT INTO tombstones (kind, key, repo, created_at)
             VALUES ('signature', ?1, 'github.com/acme/shop', 0)",
            [signature("Never use f64 for money amounts")],
        )
        .unwrap();
        let o = offer_candidates(&conn, &home, None, 1000).unwrap();
        assert_eq!(o, Offered::default(), "buried: nothing queued");
        assert_eq!(offer_rule(&conn, &home, &id, 1000).unwrap().queued, 0);
        conn.execute("DELETE FROM tombstones", []).unwrap();
        assert_eq!(
            offer_candidates(&conn, &home, None, 1000).unwrap().queued,
            1
        );
        // Offered again unchanged: the same event, a duplicate.
        let again = offer_candidates(&conn, &home, None, 1000).unwrap();
        assert_eq!((again.queued, again.unchanged), (0, 1));
    }

    #[test]
    fn nothing_leaves_a_machine_that_is_not_logged_in() {
        let (_d, home, conn, _) = setup();
        std::fs::remove_file(home.token_path()).unwrap();
        assert_eq!(
            offer_candidates(&conn, &home, None, 1000).unwrap(),
            Offered::default()
        );
    }

    #[test]
    fn evidence_travels_fifty_pieces_per_proposal() {
        let (_d, _home, conn, id) = setup();
        for i in 2..=120 {
            conn.execute(
                "INSERT INTO rule_evidence (rule_id, source, comment_id, excerpt)
                 VALUES (?1, 'github', ?2, 'more')",
                params![id, i.to_string()],
            )
            .unwrap();
        }
        let ps = proposals(&conn, &id).unwrap();
        let sizes: Vec<usize> = ps
            .iter()
            .map(|e| e.payload["evidence"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, vec![50, 50, 20]);
        for e in &ps {
            assert!(RuleProposal::from_payload(&e.payload).is_ok());
            assert!(difflore_proto::validate_envelope(e).is_ok());
        }
    }

    #[test]
    fn a_team_rule_is_offered_back_with_only_the_evidence_found_here() {
        let (_d, home, conn, id) = setup();
        // The candidate became the team's rule: its evidence came with the pull.
        conn.execute(
            "UPDATE rules SET location = 'team', status = 'active' WHERE id = ?1",
            [&id],
        )
        .unwrap();
        conn.execute("UPDATE rule_evidence SET pulled = 1", [])
            .unwrap();
        assert_eq!(
            offer_candidates(&conn, &home, None, 1000).unwrap(),
            Offered::default(),
            "the team has everything this machine knows"
        );
        // An import here matched it: that comment goes to the team, alone.
        conn.execute(
            "INSERT INTO rule_evidence (rule_id, source, comment_id, url, excerpt)
             VALUES (?1, 'github', '77', 'https://github.com/acme/shop/pull/9#r77', 'f64 again')",
            [&id],
        )
        .unwrap();
        assert_eq!(
            offer_candidates(&conn, &home, None, 1000).unwrap().queued,
            1
        );
        let ps = proposals(&conn, &id).unwrap();
        assert_eq!(ps.len(), 1);
        assert_eq!(ps[0].payload["rule_id"], id.as_str());
        let ev = ps[0].payload["evidence"].as_array().unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0]["comment_id"], "77");
    }
}
