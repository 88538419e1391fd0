//! A person folds one of this machine's rules into another (`difflore memory merge KEEP OTHER`):
//! the kept rule gains the other's evidence (and its confidence and globs are recomputed from
//! all of it); the other is rejected with the reason "merged into …", which tombstones its
//! signature and its comments so extraction never proposes that point again. Both changes are
//! audited, in one transaction. Team rules merge on the team's server instead (the CLI's one
//! decision path sends the `merge` decision of DESIGN §10).

use crate::kinds::{Location, Status};
use crate::memory::{self, MemoryError, Rule};
use difflore_core::clock::now_ms;
use rusqlite::params;

/// Folds `other` into `keep` (both ids, handles or prefixes of this machine's rules).
pub fn merge_local(
    conn: &rusqlite::Connection,
    keep: &str,
    other: &str,
) -> Result<Rule, MemoryError> {
    let k = memory::get(conn, keep)?;
    let o = memory::get(conn, other)?;
    check(conn, &k, &o)?;
    if k.location == Location::Team || o.location == Location::Team {
        return Err(MemoryError::Invalid(
            "team rules merge on the team's server; this path is for this machine's own rules"
                .into(),
        ));
    }
    let why = format!("merged into {}", memory::handle(conn, &k.id));
    {
        let tx = difflore_core::store::write_tx(conn)?;
        let moved = tx.execute(
            "INSERT OR IGNORE INTO rule_evidence (rule_id, source, comment_id, pr_number, url, author, path, line, excerpt)
             SELECT ?1, source, comment_id, pr_number, url, author, path, line, excerpt FROM rule_evidence WHERE rule_id = ?2",
            params![k.id, o.id],
        )?;
        tx.execute(
            "INSERT INTO rule_audit (rule_id, from_status, to_status, actor, reason, at) VALUES (?1, ?2, ?2, 'person', ?3, ?4)",
            params![
                k.id,
                k.status,
                format!(
                    "merged {} into it ({moved} piece(s) of evidence)",
                    memory::handle(conn, &o.id)
                ),
                now_ms()
            ],
        )?;
        crate::extract::refresh(&tx, &k.id)?;
        tx.commit()?;
    }
    if o.status != Status::Rejected {
        memory::set_status(conn, &o.id, Status::Rejected, Some(&why))?;
    }
    memory::get(conn, &k.id)
}

/// Two different rules of one repository (or both global), neither already rejected.
pub fn check(conn: &rusqlite::Connection, k: &Rule, o: &Rule) -> Result<(), MemoryError> {
    if k.id == o.id {
        return Err(MemoryError::Invalid(
            "a rule cannot be merged into itself".into(),
        ));
    }
    if k.repo != o.repo {
        return Err(MemoryError::Invalid(format!(
            "rules {} ({}) and {} ({}) govern different repositories; only rules of one repository merge",
            memory::handle(conn, &k.id),
            k.repo.as_deref().unwrap_or("global"),
            memory::handle(conn, &o.id),
            o.repo.as_deref().unwrap_or("global"),
        )));
    }
    if k.status == Status::Rejected {
        return Err(MemoryError::Invalid(format!(
            "rule {} is rejected; merge into a rule you keep (approve it again first if you want it back)",
            memory::handle(conn, &k.id)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use difflore_core::home::Home;

    fn rule(c: &rusqlite::Connection, statement: &str, comment: &str) -> String {
        let id = uuid::Uuid::now_v7().to_string();
        c.execute(
            "INSERT INTO rules (id, title, statement, globs, repo, status, severity, confidence, origin, signature, created_at, updated_at)
             VALUES (?1, ?2, ?2, '[\"src/*.rs\"]', 'r', 'pending', 'context', 0.35, 'review_import', ?3, 0, 0)",
            params![id, statement, crate::extract::rule_signature(statement)],
        )
        .unwrap();
        c.execute(
            "INSERT INTO rule_evidence (rule_id, source, comment_id, pr_number, author, path, excerpt) VALUES (?1, 'file', ?2, 1, ?2, 'src/a.rs', ?3)",
            params![id, comment, statement],
        )
        .unwrap();
        id
    }

    #[test]
    fn the_kept_rule_gains_the_evidence_and_the_other_is_tombstoned() {
        let dir = tempfile::tempdir().unwrap();
        let c = difflore_core::store::open_for_write(&Home::at(dir.path())).unwrap();
        let a = rule(&c, "Log with tracing, not println!", "1");
        let b = rule(&c, "Prefer the tracing crate to printing.", "2");
        let kept = merge_local(&c, &a, &b).unwrap();
        assert_eq!(kept.evidence.len(), 2);
        assert!(kept.confidence > 0.35, "{}", kept.confidence);
        let other = memory::get(&c, &b).unwrap();
        assert_eq!(other.status, Status::Rejected);
        let sig = crate::extract::rule_signature("Prefer the tracing crate to printing.");
        assert!(
            crate::extract::tombstoned(&c, crate::kinds::TombstoneKind::Signature, "r", &sig)
                .unwrap()
        );
        let audit: Vec<String> = c
            .prepare("SELECT reason FROM rule_audit WHERE rule_id IN (?1, ?2) ORDER BY at, rowid")
            .unwrap()
            .query_map(params![a, b], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            audit.iter().any(
                |r| r.starts_with("merged ") && r.ends_with("into it (1 piece(s) of evidence)")
            ),
            "{audit:?}"
        );
        assert!(
            audit.iter().any(|r| r.starts_with("merged into ")),
            "{audit:?}"
        );
        // Refusals: itself, a rejected rule to keep.
        assert!(merge_local(&c, &a, &a).is_err());
        assert!(merge_local(&c, &b, &a).is_err());
    }
}
