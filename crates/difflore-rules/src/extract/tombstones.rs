//! What extraction must never propose again: tombstoned comments (`source:id`) and rule
//! signatures — the team signature of DESIGN §10 (negation and word order kept), and, for
//! tombstones older versions wrote, the sorted-word signature.

use crate::cluster;
use crate::kinds::TombstoneKind;
use difflore_core::clock::now_ms;
use rusqlite::{Connection, params};

/// Whether `key` of `kind` is tombstoned in `repo`.
pub fn tombstoned(
    conn: &Connection,
    kind: TombstoneKind,
    repo: &str,
    key: &str,
) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM tombstones WHERE kind = ?1 AND repo = ?2 AND key = ?3)",
        params![kind, repo, key],
        |r| r.get(0),
    )
}

/// The statement's signature (DESIGN §10: negation and word order kept) — what rules are
/// de-duplicated and tombstoned by.
pub fn rule_signature(statement: &str) -> String {
    difflore_proto::rules::signature(statement)
}

/// Whether a statement's point was rejected in `repo`: its signature, or the sorted-word
/// signature that versions before the team signature tombstoned by.
pub fn signature_tombstoned(
    conn: &Connection,
    repo: &str,
    statement: &str,
) -> rusqlite::Result<bool> {
    Ok(tombstoned(
        conn,
        TombstoneKind::Signature,
        repo,
        &rule_signature(statement),
    )? || tombstoned(
        conn,
        TombstoneKind::Signature,
        repo,
        &cluster::signature(statement),
    )?)
}

/// Tombstones a comment (`source:id`) or a signature so extraction never proposes it again.
pub fn tombstone(
    conn: &Connection,
    kind: TombstoneKind,
    repo: &str,
    key: &str,
    reason: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO tombstones (kind, repo, key, reason, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![kind, repo, key, reason, now_ms()],
    )?;
    Ok(())
}
