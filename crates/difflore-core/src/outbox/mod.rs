//! The outbox: the one queue state machine between `difflore hook` (which only appends) and the
//! daemon's drain loop (which claims, sends and settles). DESIGN §4 is its specification.
//!
//! ```text
//! enqueue ─▶ pending ──claim──▶ leased(owner, until) ──complete──▶ (deleted; id → seen_event_ids)
//!              ▲  ▲                 │  │  │
//!              │  └──release / ─────┘  │  └─fail(rejected | too_large | 20th answered attempt)─▶ dead
//!              │     reclaim_expired   │
//!              │     fail(transient…)  └─fail(auth) / park_all─▶ parked ──unpark_all──▶ pending
//!              └───────────────── retry (dead | parked | id) ◀──────────────────────────────┘
//! ```
//!
//! Every terminal write names the lease owner (fencing): a daemon whose lease expired and was
//! taken over cannot complete or fail rows it no longer holds. Time is passed in explicitly
//! (`now`, Unix ms) so the state machine is deterministic under test. Every transition stays in
//! this file, side by side: it is the one state machine of the queue. Reading it for people
//! (depth, listing, finding rows) is [`read`]'s.

use difflore_proto::EventEnvelope;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

/// After this many failures *answered by the server*, an event is dead.
mod read;
pub use read::{Counts, Row, Summary};

pub const MAX_ANSWERED_ATTEMPTS: i64 = 20;
/// Backoff base and cap (full jitter).
pub const BACKOFF_BASE_MS: i64 = 1_000;
pub const BACKOFF_CAP_MS: i64 = 5 * 60 * 1_000;
/// How long delivered ids are remembered, and the local window while nobody is logged in.
pub const RETENTION_MS: i64 = 7 * 24 * 3600 * 1_000;
/// Default bound on queued rows (`[capture] queue_cap` in config.toml overrides it).
pub const DEFAULT_CAP: i64 = 100_000;

/// The states a row can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Leased,
    Dead,
    Parked,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Leased => "leased",
            State::Dead => "dead",
            State::Parked => "parked",
        }
    }
    pub fn parse(s: &str) -> Option<State> {
        Some(match s {
            "pending" => State::Pending,
            "leased" => State::Leased,
            "dead" => State::Dead,
            "parked" => State::Parked,
            _ => return None,
        })
    }
}

/// Why a claimed batch (or some of its events) failed; decides what happens to the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailClass {
    /// The server answered with a transient error (5xx) for these events: counts as an attempt,
    /// backoff with full jitter, dead after [`MAX_ANSWERED_ATTEMPTS`].
    Transient,
    /// No answer from the server (connect error, timeout, open breaker): never an attempt; the
    /// rows become due again after `retry_after` (default: one jittered base delay).
    Transport,
    /// 429: not an attempt; due again after `retry_after` (the server's `Retry-After`) or backoff.
    RateLimited,
    /// The server rejected the event itself: dead at once, with the reason.
    Rejected,
    /// The event alone is over the server's limit: dead at once.
    TooLarge,
    /// 401/403: parked until the credentials change.
    Auth,
}

/// What [`Outbox::enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    Queued,
    /// The id is already queued, or was delivered within the last 7 days.
    Duplicate,
    /// The queue is at its cap; the `dropped` counter was incremented.
    Dropped,
}

/// Policy that applies at enqueue time.
#[derive(Debug, Clone, Copy)]
pub struct EnqueuePolicy {
    pub cap: i64,
    /// Nobody is logged in: keep only the last 7 days instead of growing.
    pub logged_in: bool,
}

impl EnqueuePolicy {
    /// The policy of this home: its configured cap, and whether anyone is logged in.
    pub fn for_home(home: &crate::home::Home, cap: i64) -> EnqueuePolicy {
        EnqueuePolicy {
            cap,
            logged_in: home.token_path().exists(),
        }
    }
}

/// The `rules.served` event for what was just served (the hook and MCP both record through it).
pub fn served_envelope(
    id: String,
    now_ms: i64,
    served: &difflore_proto::RulesServed,
) -> EventEnvelope {
    EventEnvelope {
        id,
        kind: difflore_proto::kinds::RULES_SERVED.into(),
        occurred_at: crate::clock::rfc3339(now_ms),
        payload: serde_json::to_value(served).unwrap_or_default(),
    }
}

impl Default for EnqueuePolicy {
    fn default() -> Self {
        EnqueuePolicy {
            cap: DEFAULT_CAP,
            logged_in: false,
        }
    }
}

/// A row handed to a drainer by [`Outbox::claim`].
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub envelope: EventEnvelope,
    pub attempts: i64,
    pub bytes: i64,
}

/// Which rows `retry` sends back to pending.
#[derive(Debug, Clone)]
pub enum RetrySelector {
    Dead,
    Parked,
    Id(String),
}

/// Full-jitter backoff: uniform in `[0, min(cap, base·2^attempts)]`.
pub fn backoff_ms(attempts: i64, base_ms: i64, cap_ms: i64) -> i64 {
    let exp = attempts.clamp(0, 30) as u32;
    let ceiling = base_ms.saturating_mul(1i64 << exp).min(cap_ms).max(0);
    fastrand::i64(0..=ceiling)
}

/// The queue, over one connection of the store.
pub struct Outbox<'c> {
    conn: &'c Connection,
    backoff_base_ms: i64,
    backoff_cap_ms: i64,
}

impl<'c> Outbox<'c> {
    pub fn new(conn: &'c Connection) -> Outbox<'c> {
        Outbox {
            conn,
            backoff_base_ms: BACKOFF_BASE_MS,
            backoff_cap_ms: BACKOFF_CAP_MS,
        }
    }

    /// Overrides the backoff base and cap (tests, and the daemon's test-only env overrides).
    pub fn with_backoff(mut self, base_ms: i64, cap_ms: i64) -> Self {
        self.backoff_base_ms = base_ms.max(0);
        self.backoff_cap_ms = cap_ms.max(0);
        self
    }

    fn write_tx(&self) -> rusqlite::Result<Transaction<'c>> {
        crate::store::write_tx(self.conn)
    }

    /// Appends one event. The only write the hook makes; one short IMMEDIATE transaction.
    pub fn enqueue(
        &self,
        ev: &EventEnvelope,
        policy: EnqueuePolicy,
        now: i64,
    ) -> rusqlite::Result<Enqueued> {
        let tx = self.write_tx()?;
        let r = enqueue_in(&tx, ev, policy, now)?;
        tx.commit()?;
        Ok(r)
    }

    /// Appends one event inside the caller's open transaction (the hook records its event, the
    /// serving state and `rules.served` in one commit); the caller commits.
    pub fn enqueue_in_open_tx(
        &self,
        ev: &EventEnvelope,
        policy: EnqueuePolicy,
        now: i64,
    ) -> rusqlite::Result<Enqueued> {
        if self.conn.is_autocommit() {
            return Err(rusqlite::Error::InvalidParameterName(
                "enqueue_in_open_tx needs an open transaction".into(),
            ));
        }
        enqueue_in(self.conn, ev, policy, now)
    }

    /// Appends several events in one transaction (folding the spool); `extra_dropped` is added
    /// to the `dropped` counter in the same transaction.
    pub fn enqueue_many(
        &self,
        evs: &[EventEnvelope],
        extra_dropped: i64,
        policy: EnqueuePolicy,
        now: i64,
    ) -> rusqlite::Result<Vec<Enqueued>> {
        let tx = self.write_tx()?;
        let mut out = Vec::with_capacity(evs.len());
        for ev in evs {
            out.push(enqueue_in(&tx, ev, policy, now)?);
        }
        if extra_dropped > 0 {
            tx.execute(
                "UPDATE counters SET value = value + ?1 WHERE name = 'dropped'",
                [extra_dropped],
            )?;
        }
        tx.commit()?;
        Ok(out)
    }

    /// Leases up to `max_events` due rows, whose payloads total at most `max_bytes` (the first
    /// row is always taken, so one large event cannot block the queue), to `owner` for
    /// `lease_ms`. Expired leases are reclaimed first. Rows not yet due never block rows behind
    /// them: the scan is over due rows only, earliest due first.
    pub fn claim(
        &self,
        owner: &str,
        max_events: usize,
        max_bytes: usize,
        lease_ms: i64,
        now: i64,
    ) -> rusqlite::Result<Vec<Claimed>> {
        let tx = self.write_tx()?;
        reclaim(&tx, now)?;
        let mut picked: Vec<(i64, i64)> = Vec::new();
        {
            let mut st = tx.prepare_cached(
                "SELECT seq, bytes FROM outbox
                 WHERE state = 'pending' AND next_attempt_at <= ?1
                 ORDER BY next_attempt_at, seq LIMIT ?2",
            )?;
            let mut rows = st.query(params![now, max_events as i64])?;
            let mut total: i64 = 0;
            while let Some(r) = rows.next()? {
                let (seq, bytes): (i64, i64) = (r.get(0)?, r.get(1)?);
                if !picked.is_empty() && total + bytes > max_bytes as i64 {
                    break;
                }
                total += bytes;
                picked.push((seq, bytes));
            }
        }
        let mut out = Vec::with_capacity(picked.len());
        {
            let mut st = tx.prepare_cached(
                "UPDATE outbox SET state = 'leased', lease_owner = ?2, lease_until = ?3
                 WHERE seq = ?1 AND state = 'pending'
                 RETURNING event_id, kind, occurred_at, payload, attempts, bytes",
            )?;
            for (seq, _) in &picked {
                let row = st
                    .query_row(params![seq, owner, now + lease_ms], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, i64>(4)?,
                            r.get::<_, i64>(5)?,
                        ))
                    })
                    .optional()?;
                if let Some((id, kind, occurred_at, payload, attempts, bytes)) = row {
                    // Enqueue stored only JSON; a payload that no longer parses was damaged at
                    // rest. Sending `{}` in its place would lose it silently: it is set aside
                    // as dead, with the reason, where `outbox list` and `outbox retry` see it.
                    let Ok(payload) = serde_json::from_str(&payload) else {
                        tx.execute(
                            "UPDATE outbox SET state = 'dead', lease_owner = NULL, lease_until = NULL,
                                    last_error = 'the stored payload is not JSON (damaged at rest)'
                             WHERE seq = ?1",
                            [seq],
                        )?;
                        continue;
                    };
                    out.push(Claimed {
                        envelope: EventEnvelope {
                            id,
                            kind,
                            occurred_at,
                            payload,
                        },
                        attempts,
                        bytes,
                    });
                }
            }
        }
        tx.commit()?;
        Ok(out)
    }

    /// Delivered: deletes the rows `owner` still holds and remembers their ids. Returns how
    /// many rows were completed (rows leased by someone else are left alone).
    pub fn complete(&self, owner: &str, ids: &[String], now: i64) -> rusqlite::Result<usize> {
        let tx = self.write_tx()?;
        let mut done = 0;
        {
            let mut del = tx.prepare_cached(
                "DELETE FROM outbox WHERE event_id = ?1 AND state = 'leased' AND lease_owner = ?2",
            )?;
            let mut seen = tx.prepare_cached(
                "INSERT OR REPLACE INTO seen_event_ids (event_id, seen_at) VALUES (?1, ?2)",
            )?;
            for id in ids {
                if del.execute(params![id, owner])? == 1 {
                    seen.execute(params![id, now])?;
                    done += 1;
                }
            }
        }
        tx.commit()?;
        Ok(done)
    }

    /// Gives leased rows back without counting an attempt (e.g. on shutdown).
    pub fn release(&self, owner: &str, ids: &[String]) -> rusqlite::Result<usize> {
        let tx = self.write_tx()?;
        let mut n = 0;
        {
            let mut st = tx.prepare_cached(
                "UPDATE outbox SET state = 'pending', lease_owner = NULL, lease_until = NULL
                 WHERE event_id = ?1 AND state = 'leased' AND lease_owner = ?2",
            )?;
            for id in ids {
                n += st.execute(params![id, owner])?;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// Settles a failure for the rows `owner` holds; see [`FailClass`] for what each class does.
    /// `retry_after_ms` is a lower bound on the next attempt (e.g. `Retry-After`).
    pub fn fail(
        &self,
        owner: &str,
        ids: &[String],
        class: FailClass,
        retry_after_ms: Option<i64>,
        reason: &str,
        now: i64,
    ) -> rusqlite::Result<usize> {
        let tx = self.write_tx()?;
        let mut n = 0;
        {
            let mut get = tx.prepare_cached(
                "SELECT attempts FROM outbox WHERE event_id = ?1 AND state = 'leased' AND lease_owner = ?2",
            )?;
            let mut set = tx.prepare_cached(
                "UPDATE outbox SET state = ?2, attempts = ?3, next_attempt_at = ?4, last_error = ?5,
                        lease_owner = NULL, lease_until = NULL
                 WHERE event_id = ?1",
            )?;
            for id in ids {
                let Some(attempts) = get
                    .query_row(params![id, owner], |r| r.get::<_, i64>(0))
                    .optional()?
                else {
                    continue;
                };
                let floor = retry_after_ms.unwrap_or(0).max(0);
                let (state, attempts, next, why) = match class {
                    FailClass::Transient => {
                        let a = attempts + 1;
                        if a >= MAX_ANSWERED_ATTEMPTS {
                            (
                                State::Dead,
                                a,
                                now,
                                format!("gave up after {a} answered attempts: {reason}"),
                            )
                        } else {
                            let d = self.backoff(a).max(floor);
                            (State::Pending, a, now + d, reason.to_string())
                        }
                    }
                    FailClass::Transport => {
                        let d = if retry_after_ms.is_some() {
                            floor
                        } else {
                            self.backoff(0)
                        };
                        (State::Pending, attempts, now + d, reason.to_string())
                    }
                    FailClass::RateLimited => {
                        let d = if retry_after_ms.is_some() {
                            floor
                        } else {
                            self.backoff(attempts + 1)
                        };
                        (State::Pending, attempts, now + d, reason.to_string())
                    }
                    FailClass::Rejected => (
                        State::Dead,
                        attempts + 1,
                        now,
                        format!("rejected: {reason}"),
                    ),
                    FailClass::TooLarge => (
                        State::Dead,
                        attempts + 1,
                        now,
                        format!("too large: {reason}"),
                    ),
                    FailClass::Auth => (State::Parked, attempts, now, reason.to_string()),
                };
                n += set.execute(params![id, state.as_str(), attempts, next, why])?;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    fn backoff(&self, attempts: i64) -> i64 {
        backoff_ms(attempts, self.backoff_base_ms, self.backoff_cap_ms)
    }

    /// Pushes the lease of rows `owner` still holds to `now + lease_ms`.
    pub fn extend_lease(
        &self,
        owner: &str,
        ids: &[String],
        lease_ms: i64,
        now: i64,
    ) -> rusqlite::Result<usize> {
        let tx = self.write_tx()?;
        let mut n = 0;
        {
            let mut st = tx.prepare_cached(
                "UPDATE outbox SET lease_until = ?3
                 WHERE event_id = ?1 AND state = 'leased' AND lease_owner = ?2",
            )?;
            for id in ids {
                n += st.execute(params![id, owner, now + lease_ms])?;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// Parks every pending and leased row (credentials refused, or a configuration error).
    pub fn park_all(&self, reason: &str) -> rusqlite::Result<usize> {
        self.conn.execute(
            "UPDATE outbox SET state = 'parked', last_error = ?1, lease_owner = NULL, lease_until = NULL
             WHERE state IN ('pending', 'leased')",
            [reason],
        )
    }

    /// Sends every parked row back to pending, due now (credentials changed).
    pub fn unpark_all(&self, now: i64) -> rusqlite::Result<usize> {
        self.conn.execute(
            "UPDATE outbox SET state = 'pending', next_attempt_at = ?1 WHERE state = 'parked'",
            [now],
        )
    }

    /// Returns rows whose lease expired to pending (no attempt counted).
    pub fn reclaim_expired(&self, now: i64) -> rusqlite::Result<usize> {
        let tx = self.write_tx()?;
        let n = reclaim(&tx, now)?;
        tx.commit()?;
        Ok(n)
    }

    /// Releases every lease whose owner starts with `owner_prefix` (a new daemon taking over
    /// from crashed ones), without waiting for the leases to expire.
    pub fn release_leases_of(&self, owner_prefix: &str) -> rusqlite::Result<usize> {
        let pattern = format!("{}%", read::like_escape(owner_prefix));
        self.conn.execute(
            "UPDATE outbox SET state = 'pending', lease_owner = NULL, lease_until = NULL
             WHERE state = 'leased' AND lease_owner LIKE ?1 ESCAPE '\\'",
            [pattern],
        )
    }

    /// Sends dead or parked rows, or one row, back to pending with a fresh attempt count.
    pub fn retry(&self, which: &RetrySelector, now: i64) -> rusqlite::Result<usize> {
        match which {
            RetrySelector::Dead | RetrySelector::Parked => {
                let state = if matches!(which, RetrySelector::Dead) {
                    "dead"
                } else {
                    "parked"
                };
                self.conn.execute(
                    "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?1,
                            created_at = MAX(created_at, ?1 - ?3)
                     WHERE state = ?2",
                    params![now, state, RETENTION_MS / 2],
                )
            }
            RetrySelector::Id(id) => self.conn.execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?1,
                        lease_owner = NULL, lease_until = NULL
                 WHERE event_id = ?2 AND state IN ('dead', 'parked', 'pending')",
                params![now, id],
            ),
        }
    }

    /// Deletes dead rows; returns how many.
    pub fn purge_dead(&self) -> rusqlite::Result<usize> {
        self.conn
            .execute("DELETE FROM outbox WHERE state = 'dead'", [])
    }

    /// Ages out rows older than 7 days as dead (while logged in), and forgets delivered ids
    /// older than 7 days. Returns how many rows died.
    pub fn expire_old(&self, now: i64) -> rusqlite::Result<usize> {
        let tx = self.write_tx()?;
        let n = tx.execute(
            "UPDATE outbox SET state = 'dead', last_error = 'expired: not delivered within 7 days',
                    lease_owner = NULL, lease_until = NULL
             WHERE state IN ('pending', 'parked') AND created_at < ?1",
            [now - RETENTION_MS],
        )?;
        tx.execute(
            "DELETE FROM seen_event_ids WHERE seen_at < ?1",
            [now - RETENTION_MS],
        )?;
        tx.commit()?;
        Ok(n)
    }

    /// Deletes every row captured before `cutoff` (Unix ms) that is not leased: `sync login
    /// --discard-backlog`. Returns how many.
    pub fn discard_before(&self, cutoff: i64) -> rusqlite::Result<usize> {
        self.conn.execute(
            "DELETE FROM outbox WHERE created_at < ?1 AND state != 'leased'",
            [cutoff],
        )
    }
}

/// The body of one enqueue, inside the caller's write transaction.
fn enqueue_in(
    tx: &Connection,
    ev: &EventEnvelope,
    policy: EnqueuePolicy,
    now: i64,
) -> rusqlite::Result<Enqueued> {
    let payload = serde_json::to_string(&ev.payload)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let seen: Option<i64> = tx
        .prepare_cached("SELECT 1 FROM seen_event_ids WHERE event_id = ?1")?
        .query_row([&ev.id], |r| r.get(0))
        .optional()?;
    if seen.is_some() {
        return Ok(Enqueued::Duplicate);
    }
    if !policy.logged_in {
        tx.prepare_cached("DELETE FROM outbox WHERE created_at < ?1")?
            .execute([now - RETENTION_MS])?;
    }
    let rows: i64 = tx
        .prepare_cached("SELECT value FROM counters WHERE name = 'outbox_rows'")?
        .query_row([], |r| r.get(0))?;
    if rows >= policy.cap {
        let dup: Option<i64> = tx
            .prepare_cached("SELECT 1 FROM outbox WHERE event_id = ?1")?
            .query_row([&ev.id], |r| r.get(0))
            .optional()?;
        if dup.is_some() {
            return Ok(Enqueued::Duplicate);
        }
        tx.prepare_cached("UPDATE counters SET value = value + 1 WHERE name = 'dropped'")?
            .execute([])?;
        return Ok(Enqueued::Dropped);
    }
    let n = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO outbox
                 (event_id, kind, occurred_at, payload, bytes, state, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6)",
        )?
        .execute(params![
            ev.id,
            ev.kind,
            ev.occurred_at,
            payload,
            payload.len() as i64,
            now
        ])?;
    Ok(if n == 1 {
        Enqueued::Queued
    } else {
        Enqueued::Duplicate
    })
}

fn reclaim(tx: &Connection, now: i64) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE outbox SET state = 'pending', lease_owner = NULL, lease_until = NULL
         WHERE state = 'leased' AND lease_until <= ?1",
        [now],
    )
}
