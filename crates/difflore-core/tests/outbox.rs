//! The outbox state machine against a real SQLite file: leases, fencing, backoff, attempts,
//! dead and parked transitions, the cap, duplicates and the logged-out window.

use difflore_core::home::Home;
use difflore_core::outbox::*;
use difflore_core::store;
use difflore_proto::EventEnvelope;
use rusqlite::Connection;

const T0: i64 = 1_800_000_000_000;

fn setup() -> (tempfile::TempDir, Connection) {
    let d = tempfile::tempdir().unwrap();
    let conn = store::open_for_write(&Home::at(d.path())).unwrap();
    (d, conn)
}

fn ev(i: u32) -> EventEnvelope {
    EventEnvelope {
        id: format!("0190a6b4-7c1e-7d2f-8a9b-{i:012x}"),
        kind: "hook.event".into(),
        occurred_at: "2026-11-25T17:00:00Z".into(),
        payload: serde_json::json!({"n": i}),
    }
}

fn ids(c: &[Claimed]) -> Vec<String> {
    c.iter().map(|c| c.envelope.id.clone()).collect()
}

fn fill(ob: &Outbox<'_>, n: u32) {
    for i in 0..n {
        assert_eq!(
            ob.enqueue(&ev(i), EnqueuePolicy::default(), T0).unwrap(),
            Enqueued::Queued
        );
    }
}

#[test]
fn claim_complete_and_duplicates_after_delivery() {
    let (_d, conn) = setup();
    let ob = Outbox::new(&conn);
    fill(&ob, 5);
    assert_eq!(
        ob.enqueue(&ev(0), EnqueuePolicy::default(), T0).unwrap(),
        Enqueued::Duplicate
    );
    let c = ob.claim("d1", 3, 1 << 20, 30_000, T0).unwrap();
    assert_eq!(ids(&c), vec![ev(0).id, ev(1).id, ev(2).id]);
    assert_eq!(c[0].envelope.payload, serde_json::json!({"n": 0}));
    // Leased rows are not claimed twice.
    let c2 = ob.claim("d2", 10, 1 << 20, 30_000, T0).unwrap();
    assert_eq!(ids(&c2), vec![ev(3).id, ev(4).id]);
    assert_eq!(ob.complete("d1", &ids(&c), T0).unwrap(), 3);
    let s = ob.summary(T0).unwrap();
    assert_eq!((s.counts.pending, s.counts.leased), (0, 2));
    // A delivered id fired again by the agent is recognised through seen_event_ids.
    assert_eq!(
        ob.enqueue(&ev(1), EnqueuePolicy::default(), T0).unwrap(),
        Enqueued::Duplicate
    );
    // ...until it ages out after 7 days.
    ob.expire_old(T0 + RETENTION_MS + 1).unwrap();
    assert_eq!(
        ob.enqueue(
            &ev(1),
            EnqueuePolicy {
                logged_in: true,
                ..Default::default()
            },
            T0 + RETENTION_MS + 2
        )
        .unwrap(),
        Enqueued::Queued
    );
}

#[test]
fn claim_respects_byte_budget_but_always_takes_one() {
    let (_d, conn) = setup();
    let ob = Outbox::new(&conn);
    fill(&ob, 4);
    let one = ob.claim("d", 10, 1, 30_000, T0).unwrap();
    assert_eq!(one.len(), 1, "a single over-budget row is still claimed");
    let per = one[0].bytes as usize;
    let two = ob.claim("d", 10, per * 2, 30_000, T0).unwrap();
    assert_eq!(two.len(), 2);
}

#[test]
fn lease_expiry_reclaim_and_fencing() {
    let (_d, conn) = setup();
    let ob = Outbox::new(&conn);
    fill(&ob, 2);
    let old = ob.claim("old", 10, 1 << 20, 1_000, T0).unwrap();
    assert_eq!(old.len(), 2);
    // Not expired yet: nothing to claim.
    assert!(
        ob.claim("new", 10, 1 << 20, 1_000, T0 + 500)
            .unwrap()
            .is_empty()
    );
    // Expired: the new owner takes both, with no attempt counted.
    let new = ob.claim("new", 10, 1 << 20, 1_000, T0 + 1_001).unwrap();
    assert_eq!(ids(&new), ids(&old));
    assert!(new.iter().all(|c| c.attempts == 0));
    // The stale owner can no longer settle them (fencing).
    assert_eq!(ob.complete("old", &ids(&old), T0 + 1_002).unwrap(), 0);
    assert_eq!(
        ob.fail("old", &ids(&old), FailClass::Rejected, None, "x", T0)
            .unwrap(),
        0
    );
    assert_eq!(ob.extend_lease("old", &ids(&old), 5_000, T0).unwrap(), 0);
    assert_eq!(ob.summary(T0).unwrap().counts.leased, 2);
    assert_eq!(
        ob.extend_lease("new", &ids(&new), 60_000, T0 + 1_500)
            .unwrap(),
        2
    );
    assert!(
        ob.claim("third", 10, 1 << 20, 1_000, T0 + 2_500)
            .unwrap()
            .is_empty(),
        "extended"
    );
    assert_eq!(ob.complete("new", &ids(&new), T0 + 1_003).unwrap(), 2);
}

#[test]
fn reclaim_and_release_by_owner_prefix() {
    let (_d, conn) = setup();
    let ob = Outbox::new(&conn);
    fill(&ob, 3);
    ob.claim("daemon:11:100", 1, 1 << 20, 60_000, T0).unwrap();
    ob.claim("daemon:12:200", 1, 1 << 20, 60_000, T0).unwrap();
    ob.claim("sync-now:13", 1, 1 << 20, 60_000, T0).unwrap();
    assert_eq!(ob.release_leases_of("daemon:").unwrap(), 2);
    let s = ob.summary(T0).unwrap();
    assert_eq!((s.counts.pending, s.counts.leased), (2, 1));
    assert_eq!(ob.reclaim_expired(T0 + 60_000).unwrap(), 1);
    assert_eq!(ob.summary(T0).unwrap().counts.pending, 3);
    // A prefix with LIKE metacharacters matches literally.
    ob.claim("a%b", 3, 1 << 20, 60_000, T0).unwrap();
    assert_eq!(ob.release_leases_of("a_").unwrap(), 0);
    assert_eq!(ob.release_leases_of("a%").unwrap(), 3);
}

#[test]
fn release_counts_no_attempt() {
    let (_d, conn) = setup();
    let ob = Outbox::new(&conn);
    fill(&ob, 1);
    let c = ob.claim("d", 1, 1 << 20, 60_000, T0).unwrap();
    assert_eq!(ob.release("d", &ids(&c)).unwrap(), 1);
    let again = ob.claim("d", 1, 1 << 20, 60_000, T0).unwrap();
    assert_eq!(again[0].attempts, 0);
}

#[test]
fn transient_failures_back_off_without_blocking_the_rows_behind() {
    let (_d, conn) = setup();
    let ob = Outbox::new(&conn).with_backoff(1_000, 300_000);
    fill(&ob, 3);
    let first = ob.claim("d", 1, 1 << 20, 60_000, T0).unwrap();
    assert_eq!(ids(&first), vec![ev(0).id]);
    // 5xx for the head row: it backs off (answered attempt), at least retry_after.
    ob.fail(
        "d",
        &ids(&first),
        FailClass::Transient,
        Some(10_000),
        "503",
        T0,
    )
    .unwrap();
    // The rows behind it are claimable at once: no head-of-line blocking.
    let next = ob.claim("d", 10, 1 << 20, 60_000, T0).unwrap();
    assert_eq!(ids(&next), vec![ev(1).id, ev(2).id]);
    ob.complete("d", &ids(&next), T0).unwrap();
    assert!(
        ob.claim("d", 10, 1 << 20, 60_000, T0 + 9_999)
            .unwrap()
            .is_empty()
    );
    let back = ob.claim("d", 10, 1 << 20, 60_000, T0 + 10_000).unwrap();
    assert_eq!(back[0].attempts, 1);
}

#[test]
fn transport_and_rate_limit_failures_are_not_attempts() {
    let (_d, conn) = setup();
    let ob = Outbox::new(&conn).with_backoff(0, 0);
    fill(&ob, 1);
    for i in 0..50 {
        let c = ob.claim("d", 1, 1 << 20, 60_000, T0 + i).unwrap();
        assert_eq!(c[0].attempts, 0);
        let class = if i % 2 == 0 {
            FailClass::Transport
        } else {
            FailClass::RateLimited
        };
        ob.fail("d", &ids(&c), class, Some(0), "connection refused", T0 + i)
            .unwrap();
    }
    let s = ob.summary(T0).unwrap();
    assert_eq!(
        (s.counts.pending, s.counts.dead),
        (1, 0),
        "a long outage dead-letters nothing"
    );
    // Rate limit honours Retry-After exactly.
    let c = ob.claim("d", 1, 1 << 20, 60_000, T0 + 100).unwrap();
    ob.fail(
        "d",
        &ids(&c),
        FailClass::RateLimited,
        Some(7_000),
        "429",
        T0 + 100,
    )
    .unwrap();
    assert!(
        ob.claim("d", 1, 1 << 20, 60_000, T0 + 7_099)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ob.claim("d", 1, 1 << 20, 60_000, T0 + 7_100).unwrap().len(),
        1
    );
}

#[test]
fn twenty_answered_attempts_make_an_event_dead() {
    let (_d, conn) = setup();
    let ob = Outbox::new(&conn).with_backoff(0, 0);
    fill(&ob, 1);
    for i in 0..MAX_ANSWERED_ATTEMPTS {
        let c = ob.claim("d", 1, 1 << 20, 60_000, T0 + i).unwrap();
        assert_eq!(c.len(), 1, "attempt {i}");
        assert_eq!(c[0].attempts, i);
        ob.fail("d", &ids(&c), FailClass::Transient, None, "500", T0 + i)
            .unwrap();
    }
    let s = ob.summary(T0).unwrap();
    assert_eq!((s.counts.pending, s.counts.dead), (0, 1));
    let dead = ob.list(Some(State::Dead), 10).unwrap();
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("20 answered attempts")
    );
    // retry sends it back with a fresh count; purge deletes dead rows.
    assert_eq!(ob.retry(&RetrySelector::Dead, T0).unwrap(), 1);
    assert_eq!(
        ob.claim("d", 1, 1 << 20, 60_000, T0).unwrap()[0].attempts,
        0
    );
}

#[test]
fn rejected_and_too_large_die_at_once_auth_parks() {
    let (_d, conn) = setup();
    let ob = Outbox::new(&conn);
    fill(&ob, 4);
    let c = ob.claim("d", 4, 1 << 20, 60_000, T0).unwrap();
    let i = ids(&c);
    ob.fail(
        "d",
        &i[0..1],
        FailClass::Rejected,
        None,
        "kind is invalid",
        T0,
    )
    .unwrap();
    ob.fail("d", &i[1..2], FailClass::TooLarge, None, "70000 bytes", T0)
        .unwrap();
    ob.fail("d", &i[2..4], FailClass::Auth, None, "401 unauthorized", T0)
        .unwrap();
    let s = ob.summary(T0).unwrap();
    assert_eq!(
        (s.counts.dead, s.counts.parked, s.counts.pending),
        (2, 2, 0)
    );
    let dead = ob.list(Some(State::Dead), 10).unwrap();
    assert!(
        dead.iter()
            .any(|r| r.last_error.as_deref() == Some("rejected: kind is invalid"))
    );
    // Parked rows are never claimed until unparked.
    assert!(
        ob.claim("d", 10, 1 << 20, 60_000, T0 + 1)
            .unwrap()
            .is_empty()
    );
    assert_eq!(ob.unpark_all(T0 + 2).unwrap(), 2);
    assert_eq!(ob.claim("d", 10, 1 << 20, 60_000, T0 + 2).unwrap().len(), 2);
    assert_eq!(ob.purge_dead().unwrap(), 2);
    assert_eq!(ob.summary(T0).unwrap().counts.dead, 0);
}

#[test]
fn park_all_and_retry_one() {
    let (_d, conn) = setup();
    let ob = Outbox::new(&conn);
    fill(&ob, 3);
    ob.claim("d", 1, 1 << 20, 60_000, T0).unwrap();
    assert_eq!(
        ob.park_all("configuration error: 404 from server").unwrap(),
        3
    );
    assert_eq!(ob.summary(T0).unwrap().counts.parked, 3);
    assert_eq!(ob.retry(&RetrySelector::Id(ev(2).id), T0).unwrap(), 1);
    let c = ob.claim("d", 10, 1 << 20, 60_000, T0).unwrap();
    assert_eq!(ids(&c), vec![ev(2).id]);
    assert_eq!(ob.retry(&RetrySelector::Parked, T0).unwrap(), 2);
}

#[test]
fn cap_drops_and_counts() {
    let (_d, conn) = setup();
    let ob = Outbox::new(&conn);
    let policy = EnqueuePolicy {
        cap: 3,
        logged_in: true,
    };
    for i in 0..3 {
        assert_eq!(ob.enqueue(&ev(i), policy, T0).unwrap(), Enqueued::Queued);
    }
    assert_eq!(ob.enqueue(&ev(3), policy, T0).unwrap(), Enqueued::Dropped);
    assert_eq!(ob.enqueue(&ev(4), policy, T0).unwrap(), Enqueued::Dropped);
    assert_eq!(ob.enqueue(&ev(0), policy, T0).unwrap(), Enqueued::Duplicate);
    assert_eq!(ob.summary(T0).unwrap().dropped, 2);
    // Delivering makes room again.
    let c = ob.claim("d", 1, 1 << 20, 60_000, T0).unwrap();
    ob.complete("d", &ids(&c), T0).unwrap();
    assert_eq!(ob.enqueue(&ev(5), policy, T0).unwrap(), Enqueued::Queued);
}

#[test]
fn logged_out_capture_keeps_a_seven_day_window() {
    let (_d, conn) = setup();
    let ob = Outbox::new(&conn);
    let out = EnqueuePolicy {
        cap: 1_000,
        logged_in: false,
    };
    ob.enqueue(&ev(0), out, T0).unwrap();
    ob.enqueue(&ev(1), out, T0 + 1_000).unwrap();
    ob.enqueue(&ev(2), out, T0 + RETENTION_MS + 500).unwrap();
    let left: Vec<String> = ob
        .list(None, 10)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, vec![ev(1).id, ev(2).id]);
    // While logged in, old rows are not deleted on enqueue but age out as dead with a reason.
    let inn = EnqueuePolicy {
        cap: 1_000,
        logged_in: true,
    };
    ob.enqueue(&ev(3), inn, T0 + 2 * RETENTION_MS).unwrap();
    assert_eq!(ob.list(None, 10).unwrap().len(), 3);
    assert_eq!(
        ob.expire_old(T0 + 2 * RETENTION_MS).unwrap(),
        1,
        "only the row older than 7 days"
    );
    let dead = ob.list(Some(State::Dead), 10).unwrap();
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("expired")
    );
}

#[test]
fn backoff_is_full_jitter_within_cap() {
    for a in 0..40 {
        let d = backoff_ms(a, 1_000, 300_000);
        assert!((0..=300_000).contains(&d));
        assert!(d <= 1_000i64.saturating_mul(1 << a.min(30)));
    }
    let samples: Vec<i64> = (0..200).map(|_| backoff_ms(10, 1_000, 300_000)).collect();
    let distinct: std::collections::HashSet<_> = samples.iter().collect();
    assert!(distinct.len() > 100, "jittered, not fixed");
}

#[test]
fn find_by_prefix_and_summary_age() {
    let (_d, conn) = setup();
    let ob = Outbox::new(&conn);
    fill(&ob, 2);
    assert_eq!(ob.find("0190a6b4", 5).unwrap().len(), 2);
    assert_eq!(ob.find(&ev(1).id, 5).unwrap().len(), 1);
    assert_eq!(ob.find("0190A6B4", 5).unwrap().len(), 2, "case-insensitive");
    assert_eq!(
        ob.summary(T0 + 90_000).unwrap().oldest_pending_age_s,
        Some(90)
    );
}

#[test]
fn a_payload_damaged_at_rest_is_set_aside_not_sent_as_empty() {
    let (_d, conn) = setup();
    let ob = Outbox::new(&conn);
    fill(&ob, 3);
    conn.execute(
        "UPDATE outbox SET payload = '{\"n\": 1' WHERE event_id = ?1",
        [ev(1).id],
    )
    .unwrap();
    let c = ob.claim("d1", 10, 1 << 20, 30_000, T0).unwrap();
    assert_eq!(ids(&c), vec![ev(0).id, ev(2).id]);
    let s = ob.summary(T0).unwrap();
    assert_eq!((s.counts.leased, s.counts.dead), (2, 1));
    let why: String = conn
        .query_row(
            "SELECT last_error FROM outbox WHERE event_id = ?1",
            [ev(1).id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(why.contains("not JSON"), "{why}");
}
