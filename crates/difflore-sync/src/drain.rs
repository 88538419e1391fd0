//! The drain: claim a batch from the outbox, `POST /v1/events`, settle every event by the
//! server's answer (DESIGN §4, §5):
//!
//! | answer | what happens |
//! |---|---|
//! | `accepted` / `duplicate` | complete (row deleted, id remembered) |
//! | `rejected` | dead, with the server's reason |
//! | no answer (transport, timeout) | back to pending after a delay, **no attempt counted**; breaker counts it |
//! | 5xx | attempt counted, backoff; if it persists for a batch, bisect to isolate the poison event |
//! | 400 for a batch | bisect; a single event the server refuses is dead |
//! | 413 | the named events are dead (too large), the rest is resent; unnamed: split |
//! | 429 | back to pending after `Retry-After`, no attempt counted |
//! | 401 / 403 | parked until the credentials change |
//! | other 4xx, repeatedly, for whole batches | parked as a configuration error (wrong URL, proxy) |

use crate::breaker::{self, BreakerCfg, Gate};
use crate::client::{Client, PostOutcome};
use crate::{creds, state};
use difflore_core::clock::now_ms;
use difflore_core::home::Home;
use difflore_core::outbox::{Claimed, FailClass, Outbox};
use difflore_proto::{EventResult, EventStatus, MAX_REQUEST_BYTES};
use rusqlite::Connection;

/// Consecutive "other 4xx" answers for whole batches before the queue parks.
const CONFIG_ERROR_STREAK: i64 = 3;

#[derive(Debug, Clone)]
pub struct DrainCfg {
    pub batch_size: usize,
    pub max_bytes: usize,
    /// Strictly longer than the worst request (timeout ≤ 10 s) and its settling.
    pub lease_ms: i64,
    pub breaker: BreakerCfg,
    pub backoff_base_ms: i64,
    pub backoff_cap_ms: i64,
}

impl Default for DrainCfg {
    fn default() -> Self {
        DrainCfg::tuned(&crate::Tuning::default())
    }
}

impl DrainCfg {
    /// The drain with these timings.
    pub fn tuned(t: &crate::Tuning) -> DrainCfg {
        DrainCfg {
            batch_size: 500,
            // Leave room for the envelope around the events.
            max_bytes: MAX_REQUEST_BYTES - 64 * 1024,
            lease_ms: t.lease_ms,
            breaker: BreakerCfg {
                open_ms: t.breaker_open_ms,
                ..BreakerCfg::default()
            },
            backoff_base_ms: t.backoff_base_ms,
            backoff_cap_ms: t.backoff_cap_ms,
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub claimed: usize,
    pub delivered: usize,
    pub dead: usize,
    pub retried: usize,
    /// The breaker is open: nothing was sent; the next try is at this time (Unix ms).
    pub breaker_open_until: Option<i64>,
    /// The queue was parked by this pass (reason).
    pub parked: Option<String>,
    pub last_error: Option<String>,
}

pub struct Drainer<'a> {
    conn: &'a Connection,
    home: &'a Home,
    client: &'a Client,
    owner: String,
    pub cfg: DrainCfg,
}

impl<'a> Drainer<'a> {
    pub fn new(
        conn: &'a Connection,
        home: &'a Home,
        client: &'a Client,
        owner: String,
        cfg: DrainCfg,
    ) -> Self {
        Drainer {
            conn,
            home,
            client,
            owner,
            cfg,
        }
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    fn outbox(&self) -> Outbox<'a> {
        Outbox::new(self.conn).with_backoff(self.cfg.backoff_base_ms, self.cfg.backoff_cap_ms)
    }

    /// Claims one batch and settles it.
    pub fn pass(&mut self) -> rusqlite::Result<Pass> {
        let now = now_ms();
        let mut p = Pass::default();
        let size = match breaker::gate(self.conn, &self.cfg.breaker, now)? {
            Gate::Open { until } => {
                p.breaker_open_until = Some(until);
                return Ok(p);
            }
            Gate::Probe => 1,
            Gate::Closed => self.cfg.batch_size,
        };
        let batch = self.outbox().claim(
            &self.owner,
            size,
            self.cfg.max_bytes,
            self.cfg.lease_ms,
            now,
        )?;
        if batch.is_empty() {
            if size == 1 && breaker::current(self.conn)? == breaker::BreakerState::HalfOpen {
                // Nothing to probe with: let the next event probe.
                state::delete(self.conn, state::BREAKER_PROBE_UNTIL)?;
            }
            return Ok(p);
        }
        p.claimed = batch.len();
        self.send(batch, &mut p)?;
        state::set(self.conn, state::LAST_DRAIN_AT, &now_ms().to_string())?;
        if p.delivered > 0 {
            state::add(self.conn, state::DELIVERED, p.delivered as i64)?;
        }
        if p.dead > 0 {
            state::add(self.conn, state::FAILED, p.dead as i64)?;
        }
        if let Some(e) = &p.last_error {
            state::set(self.conn, state::LAST_ERROR, e)?;
        }
        Ok(p)
    }

    fn ids(batch: &[Claimed]) -> Vec<String> {
        batch.iter().map(|c| c.envelope.id.clone()).collect()
    }

    fn send(&mut self, batch: Vec<Claimed>, p: &mut Pass) -> rusqlite::Result<()> {
        self.send_mode(batch, p, false).map(|_| ())
    }

    /// Sends and settles. With `probing`, a 5xx or 400 leaves the batch unsettled and returns it
    /// (the caller is bisecting).
    fn send_mode(
        &mut self,
        batch: Vec<Claimed>,
        p: &mut Pass,
        probing: bool,
    ) -> rusqlite::Result<Option<Vec<Claimed>>> {
        let ob = self.outbox();
        let ids = Self::ids(&batch);
        ob.extend_lease(&self.owner, &ids, self.cfg.lease_ms, now_ms())?;
        let envs: Vec<_> = batch.iter().map(|c| c.envelope.clone()).collect();
        let outcome = self.client.post_events(&envs);
        let now = now_ms();
        if !matches!(outcome, PostOutcome::Transport(_)) {
            breaker::on_answer(self.conn)?;
        }
        if !matches!(
            outcome,
            PostOutcome::OtherClientError(..) | PostOutcome::Transport(_)
        ) && self.config_errors() > 0
        {
            state::delete(self.conn, state::CONFIG_ERRORS)?;
        }
        match outcome {
            PostOutcome::Results(results) => self.settle(ids, results, p, now)?,
            PostOutcome::Transport(e) => self.unreachable(&ids, &e, p, now)?,
            PostOutcome::RateLimited(after) => {
                p.retried += ob.fail(
                    &self.owner,
                    &ids,
                    FailClass::RateLimited,
                    after,
                    "429 rate limited",
                    now,
                )?;
                p.last_error = Some("rate limited by the server".into());
            }
            PostOutcome::Auth(status, msg) => {
                let why = format!(
                    "the server refused the credentials ({status}: {msg}); log in again with `difflore sync login`"
                );
                ob.fail(&self.owner, &ids, FailClass::Auth, None, &why, now)?;
                self.park(&why, p)?;
                p.last_error = Some(why);
            }
            PostOutcome::TooLarge(named) => return self.too_large(batch, &named, p, now),
            PostOutcome::ServerError(status, msg) => {
                if probing {
                    p.last_error = Some(format!("server error {status}: {msg}"));
                    return Ok(Some(batch));
                }
                let persists = batch.iter().any(|c| c.attempts > 0);
                if batch.len() > 1 && persists {
                    return self.isolate(batch, p).map(|_| None);
                }
                let why = format!("server error {status}: {msg}");
                self.fail_transient(&ids, &why, p)?;
                p.last_error = Some(why);
            }
            PostOutcome::BadRequest(msg) => {
                if probing {
                    p.last_error = Some(format!("server answered 400: {msg}"));
                    return Ok(Some(batch));
                }
                if batch.len() > 1 {
                    return self.isolate(batch, p).map(|_| None);
                }
                p.dead += ob.fail(
                    &self.owner,
                    &ids,
                    FailClass::Rejected,
                    None,
                    &format!("the server refused the request: {msg}"),
                    now,
                )?;
                p.last_error = Some(format!("server answered 400: {msg}"));
            }
            PostOutcome::OtherClientError(status, msg) => {
                p.retried += ob.release(&self.owner, &ids)?;
                state::add(self.conn, state::CONFIG_ERRORS, 1)?;
                let why = format!(
                    "configuration error: {} answered {status} ({msg}) — is the server URL right, or is a proxy in the way? Fix it with `difflore sync login`",
                    self.client.server()
                );
                if self.config_errors() >= CONFIG_ERROR_STREAK {
                    self.park(&why, p)?;
                }
                p.last_error = Some(why);
            }
        }
        Ok(None)
    }

    /// The server answered per event: accepted and duplicates are done, rejected ones dead,
    /// events it did not name go back to pending.
    fn settle(
        &self,
        ids: Vec<String>,
        results: Vec<EventResult>,
        p: &mut Pass,
        now: i64,
    ) -> rusqlite::Result<()> {
        let ob = self.outbox();
        let mut done = Vec::new();
        let mut answered = std::collections::HashSet::new();
        for r in results {
            let Some(id) = ids.iter().find(|i| i.eq_ignore_ascii_case(&r.id)).cloned() else {
                continue;
            };
            answered.insert(id.clone());
            match r.status {
                EventStatus::Accepted | EventStatus::Duplicate => done.push(id),
                EventStatus::Rejected => {
                    let why = r.reason.unwrap_or_else(|| "no reason given".into());
                    p.dead += ob.fail(&self.owner, &[id], FailClass::Rejected, None, &why, now)?;
                    p.last_error = Some(format!("server rejected an event: {why}"));
                }
            }
        }
        p.delivered += ob.complete(&self.owner, &done, now)?;
        let missing: Vec<String> = ids.into_iter().filter(|i| !answered.contains(i)).collect();
        if !missing.is_empty() {
            p.retried += ob.release(&self.owner, &missing)?;
        }
        Ok(())
    }

    /// No answer: the breaker counts it; the batch waits without an attempt counted.
    fn unreachable(&self, ids: &[String], e: &str, p: &mut Pass, now: i64) -> rusqlite::Result<()> {
        let opened = breaker::on_transport_failure(self.conn, &self.cfg.breaker, now)?;
        let delay =
            difflore_core::outbox::backoff_ms(0, self.cfg.backoff_base_ms, self.cfg.backoff_cap_ms);
        p.retried +=
            self.outbox()
                .fail(&self.owner, ids, FailClass::Transport, Some(delay), e, now)?;
        p.last_error = Some(format!(
            "cannot reach {}: {e}{}",
            self.client.server(),
            if opened { " (breaker open)" } else { "" }
        ));
        Ok(())
    }

    /// 413: the events the server named die and the rest is sent again; unnamed, the batch is
    /// halved (and the byte budget with it) until a single event is too large, which dies.
    fn too_large(
        &mut self,
        batch: Vec<Claimed>,
        named: &[String],
        p: &mut Pass,
        now: i64,
    ) -> rusqlite::Result<Option<Vec<Claimed>>> {
        let ob = self.outbox();
        if !named.is_empty() {
            let (big, rest): (Vec<Claimed>, Vec<Claimed>) = batch
                .into_iter()
                .partition(|c| named.iter().any(|n| n.eq_ignore_ascii_case(&c.envelope.id)));
            p.dead += ob.fail(
                &self.owner,
                &Self::ids(&big),
                FailClass::TooLarge,
                None,
                "payload over the server's limit",
                now,
            )?;
            if !rest.is_empty() && !big.is_empty() {
                return self.send(rest, p).map(|_| None);
            }
            if !rest.is_empty() {
                p.retried += ob.release(&self.owner, &Self::ids(&rest))?;
            }
        } else if batch.len() > 1 {
            self.cfg.max_bytes = (self.cfg.max_bytes / 2).max(64 * 1024);
            let mut first = batch;
            let second = first.split_off(first.len() / 2);
            self.send(first, p)?;
            return self.send(second, p).map(|_| None);
        } else {
            p.dead += ob.fail(
                &self.owner,
                &Self::ids(&batch),
                FailClass::TooLarge,
                None,
                "request over the server's limit",
                now,
            )?;
        }
        Ok(None)
    }

    /// Bisects a batch the server keeps failing (5xx or 400) to find the poison event(s): both
    /// halves are sent; only a half that fails while its sibling succeeds is split further. When
    /// both halves fail, the server is failing everything: the whole batch backs off instead.
    /// At most about 2·log2(n) requests.
    fn isolate(&mut self, mut batch: Vec<Claimed>, p: &mut Pass) -> rusqlite::Result<()> {
        if batch.len() <= 1 {
            return self.send(batch, p);
        }
        let second = batch.split_off(batch.len() / 2);
        let fa = self.send_mode(batch, p, true)?;
        if p.parked.is_some() {
            return Ok(());
        }
        let fb = self.send_mode(second, p, true)?;
        match (fa, fb) {
            (None, None) => Ok(()),
            (Some(x), None) | (None, Some(x)) => self.isolate(x, p),
            (Some(mut x), Some(y)) => {
                x.extend(y);
                let why = p
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "server error".into());
                self.fail_transient(&Self::ids(&x), &why, p)
            }
        }
    }

    /// Parks the whole queue until the credentials change, and says why.
    fn park(&self, why: &str, p: &mut Pass) -> rusqlite::Result<()> {
        self.outbox().park_all(why)?;
        state::set(
            self.conn,
            state::PARKED_FINGERPRINT,
            &creds::fingerprint(self.home),
        )?;
        state::set_activity(self.conn, &state::Activity::Parked(why.to_string()))?;
        p.parked = Some(why.to_string());
        Ok(())
    }

    /// Consecutive "other 4xx" answers, shared by every drainer.
    fn config_errors(&self) -> i64 {
        state::get_i64(self.conn, state::CONFIG_ERRORS)
            .ok()
            .flatten()
            .unwrap_or(0)
    }

    /// An answered failure: an attempt with backoff (dead at the 20th); counts what died.
    fn fail_transient(&self, ids: &[String], why: &str, p: &mut Pass) -> rusqlite::Result<()> {
        let before = self.dead_count()?;
        self.outbox()
            .fail(&self.owner, ids, FailClass::Transient, None, why, now_ms())?;
        p.dead += (self.dead_count()? - before).max(0) as usize;
        p.retried += ids.len();
        Ok(())
    }

    fn dead_count(&self) -> rusqlite::Result<i64> {
        Ok(self.outbox().summary(now_ms())?.counts.dead)
    }
}

/// `true` while the queue is parked and the credentials have not changed since.
pub fn parked_and_unchanged(conn: &Connection, home: &Home) -> rusqlite::Result<bool> {
    match state::get(conn, state::PARKED_FINGERPRINT)? {
        None => Ok(false),
        Some(fp) if fp == creds::fingerprint(home) => Ok(true),
        Some(_) => {
            // New credentials: give every parked event another chance.
            Outbox::new(conn).unpark_all(now_ms())?;
            state::delete(conn, state::PARKED_FINGERPRINT)?;
            state::delete(conn, state::CONFIG_ERRORS)?;
            state::set_activity(conn, &state::Activity::Running)?;
            Ok(false)
        }
    }
}
