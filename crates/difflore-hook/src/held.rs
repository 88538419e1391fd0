//! Events the hook built but has not committed yet, and the spool they go to when the database
//! gives up on them: the main path on an error, or the watchdog on a hang — under one lock, so
//! the watchdog can never end the process halfway through a spool write.

use super::{LOG, Outcome};
use difflore_core::home::Home;
use difflore_core::store::StoreError;
use difflore_core::{clock, logfile, spool};
use difflore_proto::EventEnvelope;
use std::sync::Mutex;

/// Events built but not yet committed to the outbox: whoever gives up on the database (the
/// main path on an error, the watchdog on a hang) writes them to the spool, under this lock.
pub(crate) static UNSTORED: Mutex<Vec<EventEnvelope>> = Mutex::new(Vec::new());

/// Writes the events not yet committed to the spool; returns how many it wrote. Holds the lock
/// while writing, so the watchdog can never end the process halfway through a write.
pub(crate) fn spool_unstored(home: &Home) -> usize {
    let mut pending = UNSTORED.lock().unwrap_or_else(|e| e.into_inner());
    let now = clock::now_ms();
    let mut n = 0;
    for ev in pending.drain(..) {
        match spool::write(home, &ev, now) {
            Ok(spool::Spooled::Written) => n += 1,
            Ok(spool::Spooled::Dropped) => logfile::append(
                home,
                LOG,
                "ERROR",
                &format!("event {} dropped: the spool is full", ev.id),
            ),
            Err(e) => logfile::append(
                home,
                LOG,
                "ERROR",
                &format!("event {} lost: cannot write the spool: {e}", ev.id),
            ),
        }
    }
    n
}

/// Holds `env` for the spool until the transaction that appends it commits.
pub(crate) fn hold(env: &EventEnvelope) {
    UNSTORED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(env.clone());
}

/// The transaction that appended the held events committed: nothing is left to spool.
pub(crate) fn release_held() {
    UNSTORED.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// The event could not be stored: spool what was built and say why.
pub(crate) fn spooled(home: &Home, why: &str) -> Outcome {
    match spool_unstored(home) {
        0 => Outcome::Failed(why.to_string()),
        n => Outcome::Spooled(format!("{why}; {n} events spooled")),
    }
}

/// The database could not be opened: the event goes to the spool. Another schema is still an
/// error for the caller to log once (it is spooled all the same, for after the upgrade).
pub(crate) fn spool_unopened(
    home: &Home,
    env: EventEnvelope,
    e: StoreError,
) -> Result<Outcome, StoreError> {
    hold(&env);
    if matches!(e, StoreError::TooOld { .. } | StoreError::TooNew { .. }) {
        spool_unstored(home);
        Err(e)
    } else {
        Ok(spooled(home, &e.to_string()))
    }
}
