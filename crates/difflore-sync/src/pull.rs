//! Down: the team's rulebook pulled into the local mirror (DESIGN §10). Pages after the last
//! version this machine applied are fetched, then written in one local transaction with the
//! version reached (kept in `daemon_state`) ([`difflore_rules::mirror`]). A pull is
//! idempotent: applying the same page twice changes nothing more.

use crate::client::Client;
use crate::error::DrainError;
use crate::state;
use difflore_rules::mirror::{self, MirrorReport};
use rusqlite::Connection;

/// Rules asked for per page.
const PAGE: usize = 500;
/// Most rules one pull takes in (the rest comes with the next pull).
const MAX_RULES: usize = 50_000;

/// What a pull did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PullReport {
    /// Rules the server sent.
    pub pulled: usize,
    pub mirror: MirrorReport,
    /// The team version the mirror has reached.
    pub version: i64,
}

/// Pulls every change after the mirror's version and applies it.
pub fn pull(conn: &Connection, client: &Client) -> Result<PullReport, DrainError> {
    let start = state::get_i64(conn, state::RULES_VERSION)?.unwrap_or(0);
    let mut since = start;
    let mut rules = Vec::new();
    let mut tombstones = Vec::new();
    while rules.len() < MAX_RULES {
        let page = client.get_rules(since, PAGE)?;
        let got = page.rules.len() + page.tombstones.len();
        rules.extend(page.rules);
        tombstones.extend(page.tombstones);
        match page.next_since {
            Some(n) if n > since => since = n,
            _ => break,
        }
        if got == 0 {
            break;
        }
    }
    // Rules, tombstones and the version reached in one transaction: a pull killed at any
    // point leaves the mirror at the old version or the new one.
    let tx = difflore_core::store::write_tx(conn)?;
    let report = mirror::write_rules(&tx, &rules)?;
    mirror::write_tombstones(&tx, &tombstones)?;
    if since != start {
        state::set(&tx, state::RULES_VERSION, &since.to_string())?;
    }
    state::set(
        &tx,
        state::LAST_PULL_AT,
        &difflore_core::clock::now_ms().to_string(),
    )?;
    tx.commit()?;
    Ok(PullReport {
        pulled: rules.len(),
        mirror: report,
        version: since,
    })
}

/// Logged out: the team's rules leave the mirror, and the next login pulls from the start.
pub fn forget(conn: &Connection) -> rusqlite::Result<usize> {
    let n = mirror::clear(conn)?;
    state::delete(conn, state::RULES_VERSION)?;
    Ok(n)
}
