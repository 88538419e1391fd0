//! The local mirror of the team's rulebook (DESIGN §10): a pull's rules written into the store
//! in one transaction, so the hooks see the old rulebook or the new one, never half. Near
//! duplicates are resolved here, never on the hook path: a pulled rule replaces this machine's
//! candidate with the same id or making the same point in the same repo (the same team
//! signature, or near-duplicate words with as many negations); an active team rule pauses this
//! machine's own active rule making its point (audited, `memory resume` undoes it); a merged
//! rule leaves the mirror. The hooks, MCP and `recall` serve team rules exactly like local ones (pending
//! ones are never served).

use crate::cluster;
use difflore_core::clock::now_ms;
use difflore_proto::rules::{Severity as TeamSeverity, TeamRule, TeamStatus, signature};
use rusqlite::{Connection, params};
use std::collections::{BTreeSet, HashMap};

/// What a pull changed in the mirror.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MirrorReport {
    /// Team rules written (new or changed).
    pub written: usize,
    /// Local candidates the team's rules replaced.
    pub replaced: usize,
    /// Team rules removed (merged away).
    pub removed: usize,
    /// Team rules the mirror already held at that version (a replayed page).
    pub unchanged: usize,
    /// This machine's own active rules paused because an active team rule makes their point.
    pub shadowed: usize,
}

fn status(s: TeamStatus) -> Option<&'static str> {
    Some(match s {
        TeamStatus::Pending => "pending",
        TeamStatus::Active => "active",
        TeamStatus::Paused => "paused",
        TeamStatus::Rejected => "rejected",
        TeamStatus::Merged => return None,
    })
}

/// The local origin a team rule keeps: how it came to be, else `team`.
fn origin(o: &str) -> &'static str {
    match o {
        "review_import" => "review_import",
        "manual" => "manual",
        "agent_proposal" => "agent_proposal",
        _ => "team",
    }
}

/// Writes `rules` into the mirror in one transaction.
pub fn apply(conn: &Connection, rules: &[TeamRule]) -> rusqlite::Result<MirrorReport> {
    let tx = difflore_core::store::write_tx(conn)?;
    let report = write_rules(&tx, rules)?;
    tx.commit()?;
    Ok(report)
}

/// Writes `rules` into the mirror inside the caller's transaction (a pull writes its rules, its
/// tombstones and the version reached in one).
pub fn write_rules(tx: &Connection, rules: &[TeamRule]) -> rusqlite::Result<MirrorReport> {
    let mut report = MirrorReport::default();
    let mut local = LocalPoints::read(tx)?;
    for r in rules {
        let id = r.id.to_ascii_lowercase();
        let Some(st) = status(r.status) else {
            report.removed += tx
                .prepare_cached("DELETE FROM rules WHERE id = ?1 AND location = 'team'")?
                .execute([&id])?;
            continue;
        };
        if held_at(tx, &id)? == Some(r.version) {
            report.unchanged += 1;
            continue;
        }
        let (pending, active) = local.same_point(r, &id);
        report.replaced += replace_local(tx, &id, &pending)?;
        if r.status == TeamStatus::Active {
            report.shadowed += shadow(tx, &id, &active)?;
        }
        write(tx, r, &id, st)?;
        report.written += 1;
    }
    Ok(report)
}

/// This machine's own pending and active rules, read once per pull, indexed by word so each
/// team rule finds the ones making its point without comparing against all.
struct LocalPoints {
    rules: Vec<LocalRule>,
    by_token: HashMap<String, Vec<usize>>,
}

struct LocalRule {
    id: String,
    repo: Option<String>,
    active: bool,
    tokens: BTreeSet<String>,
    signature: String,
    gone: bool,
}

/// How many negations a statement carries (the team signature writes each as `not`): "use X"
/// and "never use X" share their words but not their point.
fn negations(team_signature: &str) -> usize {
    team_signature
        .split([' ', ':'])
        .filter(|w| *w == "not")
        .count()
}

impl LocalPoints {
    fn read(tx: &Connection) -> rusqlite::Result<Self> {
        let mut st = tx.prepare(
            "SELECT id, repo, status, statement FROM rules
             WHERE location = 'local' AND status IN ('pending', 'active')",
        )?;
        let rows = st.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
            ))
        })?;
        let mut me = LocalPoints {
            rules: Vec::new(),
            by_token: HashMap::new(),
        };
        for row in rows {
            let (id, repo, status, statement) = row?;
            let i = me.rules.len();
            let tokens = cluster::tokens(&statement);
            for t in &tokens {
                me.by_token.entry(t.clone()).or_default().push(i);
            }
            me.rules.push(LocalRule {
                id,
                repo,
                active: status == "active",
                tokens,
                signature: signature(&statement),
                gone: false,
            });
        }
        Ok(me)
    }

    /// The local rules of the team rule's repo that make its point (not the team rule's own
    /// id): the same team signature, or near-duplicate words (Jaccard ≥ the clustering
    /// threshold) with as many negations. Returns (pending ids, active ids); each is taken
    /// once.
    fn same_point(&mut self, r: &TeamRule, id: &str) -> (Vec<String>, Vec<String>) {
        let tokens = cluster::tokens(&r.statement);
        let neg = negations(&r.signature);
        let mut shared: HashMap<usize, usize> = HashMap::new();
        for t in &tokens {
            for &i in self.by_token.get(t).map(Vec::as_slice).unwrap_or(&[]) {
                *shared.entry(i).or_default() += 1;
            }
        }
        let mut exact: Vec<usize> = Vec::new();
        if tokens.is_empty() {
            exact = (0..self.rules.len())
                .filter(|&i| self.rules[i].signature == r.signature)
                .collect();
        }
        let (mut pending, mut active) = (Vec::new(), Vec::new());
        for i in shared.keys().copied().chain(exact) {
            let l = &mut self.rules[i];
            if l.gone || l.id == id || l.repo != r.repo {
                continue;
            }
            let n = shared.get(&i).copied().unwrap_or(0) as f64;
            let union = (tokens.len() + l.tokens.len()) as f64 - n;
            let near = union > 0.0 && n / union >= cluster::SAME_RULE;
            let same = l.signature == r.signature || (near && negations(&l.signature) == neg);
            if !same {
                continue;
            }
            l.gone = true;
            if l.active {
                active.push(l.id.clone());
            } else {
                pending.push(l.id.clone());
            }
        }
        (pending, active)
    }
}

/// Removes this machine's own copy of the team rule's point: the same id, or its pending
/// candidates making the same point (`same_point`).
fn replace_local(tx: &Connection, id: &str, same_point: &[String]) -> rusqlite::Result<usize> {
    let mut n = tx
        .prepare_cached("DELETE FROM rules WHERE id = ?1 AND location = 'local'")?
        .execute([id])?;
    for other in same_point {
        n += tx
            .prepare_cached("DELETE FROM rules WHERE id = ?1")?
            .execute([other])?;
    }
    Ok(n)
}

/// This machine's own active rules that make an active team rule's point are paused, so agents
/// are not told the same thing twice; the audit says which team rule, and `memory resume`
/// undoes it for good (a rule paused this way once is never paused by a pull again).
fn shadow(tx: &Connection, team_id: &str, own: &[String]) -> rusqlite::Result<usize> {
    let now = now_ms();
    let reason = format!(
        "the team's rule {} makes the same point",
        &team_id[..team_id.len().min(8)]
    );
    let mut n = 0;
    for id in own {
        let before: bool = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM rule_audit WHERE rule_id = ?1 AND actor = 'team sync')",
            )?
            .query_row([id], |r| r.get(0))?;
        if before {
            continue;
        }
        n += 1;
        tx.prepare_cached(
            "UPDATE rules SET status = 'paused', updated_at = ?2 WHERE id = ?1 AND status = 'active'",
        )?
        .execute(params![id, now])?;
        tx.prepare_cached(
            "INSERT INTO rule_audit (rule_id, from_status, to_status, actor, reason, at)
             VALUES (?1, 'active', 'paused', 'team sync', ?2, ?3)",
        )?
        .execute(params![id, reason, now])?;
    }
    Ok(n)
}

/// The team version at which the mirror holds rule `id`, if it holds it.
fn held_at(tx: &Connection, id: &str) -> rusqlite::Result<Option<i64>> {
    use rusqlite::OptionalExtension;
    tx.prepare_cached("SELECT team_version FROM rules WHERE id = ?1 AND location = 'team'")?
        .query_row([id], |row| row.get(0))
        .optional()
        .map(Option::flatten)
}

fn write(tx: &Connection, r: &TeamRule, id: &str, st: &str) -> rusqlite::Result<()> {
    let now = now_ms();
    let severity = match r.severity {
        TeamSeverity::Context => "context",
        TeamSeverity::Enforce => "enforce",
    };
    let globs = serde_json::to_string(&r.globs).unwrap_or_else(|_| "[]".into());
    // UPDATE, then INSERT when there was nothing to update: an upsert's conflict clause would
    // override the `INSERT OR IGNORE` of the rule index's triggers.
    let upsert = |sig: Option<String>| -> rusqlite::Result<usize> {
        let values = params![
            id,
            r.title,
            r.statement,
            r.rationale,
            globs,
            r.repo,
            st,
            severity,
            r.confidence,
            origin(&r.origin),
            sig,
            now,
            r.version,
            r.revision
        ];
        let n = tx.prepare_cached(
            "UPDATE rules SET title = ?2, statement = ?3, rationale = ?4, globs = ?5, repo = ?6,
                 status = ?7, severity = ?8, confidence = ?9, origin = ?10, signature = ?11,
                 updated_at = ?12, location = 'team', team_version = ?13, team_revision = ?14
             WHERE id = ?1",
        )?
        .execute(values)?;
        if n > 0 {
            return Ok(n);
        }
        tx.prepare_cached(
            "INSERT INTO rules (id, title, statement, rationale, globs, repo, status, severity,
                                confidence, origin, reason, signature, created_at, updated_at,
                                location, team_version, team_revision)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, ?11, ?12, ?12, 'team', ?13, ?14)",
        )?
        .execute(values)
    };
    // The local signature, so an exact local duplicate finds the team's rule; two team rules
    // with one such signature keep only the first.
    match upsert(Some(crate::extract::rule_signature(&r.statement))) {
        Err(rusqlite::Error::SqliteFailure(f, _))
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            upsert(None)?;
        }
        other => {
            other?;
        }
    }
    tx.prepare_cached("DELETE FROM rule_evidence WHERE rule_id = ?1")?
        .execute([id])?;
    let mut ins = tx.prepare_cached(
        "INSERT OR IGNORE INTO rule_evidence
             (rule_id, source, comment_id, url, author, path, line, excerpt, pulled)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1)",
    )?;
    for (i, e) in r.evidence.iter().enumerate() {
        let comment = e
            .comment_id
            .clone()
            .or_else(|| e.url.clone())
            .unwrap_or_else(|| format!("team-{i}"));
        ins.execute(params![
            id,
            e.source.as_deref().unwrap_or("team"),
            comment,
            e.url,
            e.author,
            e.path,
            e.line,
            e.excerpt
        ])?;
    }
    Ok(())
}

/// The team's tombstones, inside the caller's transaction: a rejected point is never proposed
/// from this machine again; a lifted one may be. Kept as `signature` tombstones keyed by the
/// team's (`v1:`) signature.
pub fn write_tombstones(
    tx: &Connection,
    tombstones: &[difflore_proto::rules::TeamTombstone],
) -> rusqlite::Result<usize> {
    for t in tombstones {
        let repo = t.repo.as_deref().unwrap_or("");
        if t.lifted {
            tx.execute(
                "DELETE FROM tombstones WHERE kind = 'signature' AND repo = ?1 AND key = ?2",
                params![repo, t.signature],
            )?;
        } else {
            tx.execute(
                "INSERT OR IGNORE INTO tombstones (kind, key, repo, reason, created_at)
                 VALUES ('signature', ?1, ?2, 'rejected by the team', ?3)",
                params![t.signature, repo, now_ms()],
            )?;
        }
    }
    Ok(tombstones.len())
}

/// Logging out: the team's rules leave the mirror (this machine's own stay).
pub fn clear(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM rules WHERE location = 'team'", [])
}
