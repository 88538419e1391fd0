//! A step that serves nothing — no serving moment in this event (most `PreToolUse`, tools that
//! read or edit no file, a stop), or serving switched off: its `hook.event` goes to the hook's
//! inbox ([`difflore_core::inbox`]), a three-table SQLite file, instead of `difflore.db`. The
//! store's 56-object schema is never parsed and its write lock never waited on; writing
//! commands and the daemon fold the inbox into the outbox.
//!
//! When the inbox cannot be used — never created (a home no command has opened since the
//! upgrade), another version, no copy of the event-id key — the event is recorded in the store
//! as before. A failure past opening spools it, like the store's path.

use super::held::{hold, release_held, spooled};
use super::{AS_PROCESS, Outcome, eventid, hook_envelope, normalize};
use crate::agent::Agent;
use difflore_core::home::Home;
use difflore_core::store::{self, StoreError};
use difflore_core::{clock, inbox, spool};
use serde_json::Value;

/// Appends the event (taken out of `norm`) to the inbox; `None`, with `norm` untouched, when
/// the inbox cannot be used.
pub(crate) fn record(
    home: &Home,
    agent: Agent,
    v: &Value,
    raw: &[u8],
    norm: &mut Option<normalize::HookEvent>,
    cap: i64,
) -> Option<Outcome> {
    let key = spool::read_key(home)?;
    let conn = inbox::open_for_hook(home).ok()?;
    let norm = norm.take()?;
    let now = clock::now_ms();
    let id = eventid::event_id(key.as_bytes(), agent.as_str(), v, raw);
    let env = hook_envelope(id, norm, now);
    hold(&env);
    let outcome = match inbox::append(&conn, &env, cap) {
        Ok(a) => {
            release_held();
            Outcome::Captured(a.into())
        }
        Err(e) => spooled(
            home,
            &StoreError::from_sqlite(&home.inbox_path(), e).to_string(),
        ),
    };
    store::hook_trim_wal(&conn, inbox::WAL_TRIM_FRAMES);
    if AS_PROCESS.get().is_some() {
        // As on the store's path: the commit is done, closing is left to the process exit.
        std::mem::forget(conn);
    }
    Some(outcome)
}
