//! The team rulebook's rules, the same on every backend: what a proposal does to the rulebook,
//! how evidence merges, and what a decision changes. Backends only load and store, inside their
//! transaction; nothing here touches a database.

use difflore_proto::rules::{
    Action, Decision, Evidence, RuleProposal, TeamRule, TeamStatus, signature,
};

/// A status as the backends store it in their `status` column (the serde name).
pub fn status_text(s: TeamStatus) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A stored rule body read back; a body that does not read is the database's fault.
pub fn parse_body(body: &str) -> Result<TeamRule, crate::StorageError> {
    serde_json::from_str(body).map_err(|e| {
        crate::StorageError::unavailable(format!("a stored rule does not read back: {e}"))
    })
}

/// The `rule.proposed` events a batch stored now (a replayed event has no effect), keyed for
/// the backends' lookups: rule id, repo (`''` for global) and signature, computed once.
pub struct Proposals<'a> {
    items: Vec<(&'a RuleProposal, String, String, String)>,
}

impl<'a> Proposals<'a> {
    pub fn new(proposals: impl IntoIterator<Item = &'a RuleProposal>) -> Self {
        let items = proposals
            .into_iter()
            .map(|p| {
                (
                    p,
                    p.rule_id.to_ascii_lowercase(),
                    p.repo.clone().unwrap_or_default(),
                    signature(&p.statement),
                )
            })
            .collect();
        Proposals { items }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The rule ids the proposals name.
    pub fn ids(&self) -> Vec<&str> {
        self.items.iter().map(|i| i.1.as_str()).collect()
    }

    /// The (repo, signature) points the proposals make, `''` for a global rule.
    pub fn points(&self) -> Vec<(&str, &str)> {
        self.items
            .iter()
            .map(|i| (i.2.as_str(), i.3.as_str()))
            .collect()
    }
}

/// What the rulebook holds that a batch of proposals touches, read by the backend: the rules
/// with one of the batch's ids or points, and the points tombstoned (not lifted).
#[derive(Debug, Default)]
pub struct Known {
    pub rules: Vec<TeamRule>,
    pub buried: Vec<(String, String)>,
}

/// Applies proposals in order to what the rulebook holds (DESIGN §10 "Effects at ingest"): a
/// tombstoned point is ignored; a known rule (same id, else same signature in the same repo)
/// gains the evidence it lacks; anything else is a new pending rule. Returns the rules that
/// changed, in order of first change, each at version 0: the backend numbers them
/// ([`number`]) under its version lock and stores them.
pub fn propose(batch: &Proposals<'_>, known: Known, now: &str) -> Vec<TeamRule> {
    use std::collections::{HashMap, HashSet};
    let buried: HashSet<(String, String)> = known.buried.into_iter().collect();
    let mut rules = known.rules;
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut by_point: HashMap<(String, String), usize> = HashMap::new();
    for (i, r) in rules.iter().enumerate() {
        by_id.insert(r.id.clone(), i);
        by_point
            .entry((r.repo.clone().unwrap_or_default(), r.signature.clone()))
            .or_insert(i);
    }
    let (mut changed, mut seen) = (Vec::new(), HashSet::new());
    for (p, id, repo, sig) in &batch.items {
        let point = (repo.clone(), sig.clone());
        if buried.contains(&point) {
            continue;
        }
        let at = match by_id.get(id).or_else(|| by_point.get(&point)) {
            Some(&i) => match grow(&rules[i], p, 0, now) {
                Some(g) => {
                    rules[i] = g;
                    i
                }
                None => continue,
            },
            None => {
                rules.push(new_rule(p, 0, now));
                let i = rules.len() - 1;
                by_id.insert(id.clone(), i);
                by_point.entry(point).or_insert(i);
                i
            }
        };
        if seen.insert(at) {
            changed.push(at);
        }
    }
    changed.into_iter().map(|i| rules[i].clone()).collect()
}

/// Gives the changed rules the versions `last - n + 1 ..= last`, in order.
pub fn number(rules: &mut [TeamRule], last: i64) {
    let first = last - rules.len() as i64 + 1;
    for (i, r) in rules.iter_mut().enumerate() {
        r.version = first + i as i64;
    }
}

/// The key evidence is de-duplicated by: the URL, else (source, comment id), else the excerpt.
fn evidence_key(e: &Evidence) -> String {
    match (&e.url, &e.source, &e.comment_id) {
        (Some(u), _, _) => format!("url:{u}"),
        (None, Some(s), Some(c)) => format!("id:{s}:{c}"),
        _ => format!("text:{}", e.excerpt),
    }
}

/// Adds the evidence `into` does not have yet; returns whether it grew.
pub fn merge_evidence(into: &mut Vec<Evidence>, new: &[Evidence]) -> bool {
    let mut grew = false;
    for e in new {
        let k = evidence_key(e);
        if !into.iter().any(|x| evidence_key(x) == k) {
            into.push(e.clone());
            grew = true;
        }
    }
    grew
}

/// A new pending team rule from a proposal (its id is the proposal's `rule_id`).
pub fn new_rule(p: &RuleProposal, version: i64, now: &str) -> TeamRule {
    let mut evidence = Vec::new();
    merge_evidence(&mut evidence, &p.evidence);
    TeamRule {
        id: p.rule_id.to_ascii_lowercase(),
        repo: p.repo.clone(),
        title: p.title.trim().to_string(),
        statement: p.statement.trim().to_string(),
        rationale: p.rationale.clone(),
        globs: p.globs.clone(),
        severity: p.severity,
        status: TeamStatus::Pending,
        origin: p.origin.clone(),
        confidence: p.confidence,
        signature: signature(&p.statement),
        evidence,
        version,
        revision: 1,
        created_at: now.to_string(),
        updated_at: now.to_string(),
        decided_by: None,
        decided_at: None,
    }
}

/// A known rule (same id, or same signature in the same repo) meets a proposal: it gains the
/// evidence it lacks. Returns the updated rule when it grew.
pub fn grow(rule: &TeamRule, p: &RuleProposal, version: i64, now: &str) -> Option<TeamRule> {
    let mut r = rule.clone();
    if !merge_evidence(&mut r.evidence, &p.evidence) {
        return None;
    }
    r.version = version;
    r.updated_at = now.to_string();
    Some(r)
}

/// Why a decision cannot be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecideError {
    /// The rule moved on since the decider saw it: the current rule, to show who did what.
    #[error("the rule changed since revision {expected}: it is at revision {}", .current.revision)]
    Conflict {
        expected: i64,
        current: Box<TeamRule>,
    },
    /// The decision makes no sense for this rule (the reason says why).
    #[error("{0}")]
    Invalid(String),
}

/// What a decision changes besides the rule itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    pub rule: TeamRule,
    /// A signature to tombstone in the rule's repo (reject, merge).
    pub tombstone: Option<String>,
    /// A signature whose tombstone is lifted (a rejected rule approved again).
    pub lift: Option<String>,
}

/// Applies a decision (not `merge`, which needs two rules: [`merge`]) to `rule`.
pub fn decide(
    rule: &TeamRule,
    d: &Decision,
    actor: &str,
    version: i64,
    now: &str,
) -> Result<Decided, DecideError> {
    if d.expected_revision != rule.revision {
        return Err(DecideError::Conflict {
            expected: d.expected_revision,
            current: Box::new(rule.clone()),
        });
    }
    let mut r = rule.clone();
    let (mut tombstone, mut lift) = (None, None);
    if let Some(c) = &d.changes {
        apply_changes(&mut r, c)?;
    }
    use TeamStatus::*;
    r.status = match (d.action, rule.status) {
        (Action::Approve, Pending | Paused | Rejected) => {
            if rule.status == Rejected {
                lift = Some(rule.signature.clone());
            }
            Active
        }
        (Action::Reject, Pending | Active | Paused) => {
            tombstone = Some(r.signature.clone());
            Rejected
        }
        (Action::Pause, Active) => Paused,
        (Action::Pause, Pending) => {
            return Err(DecideError::Invalid(
                "a pending rule cannot be paused: approve it first".into(),
            ));
        }
        (Action::Resume, Paused) => Active,
        (Action::Edit, s) if s != Merged => {
            if d.changes.is_none() {
                return Err(DecideError::Invalid("an edit needs `changes`".into()));
            }
            s
        }
        (Action::Merge, _) => {
            return Err(DecideError::Invalid(
                "merge needs the rule to merge into (`into`)".into(),
            ));
        }
        (a, s) => {
            return Err(DecideError::Invalid(format!(
                "cannot {} a {} rule",
                serde_json::to_value(a)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            )));
        }
    };
    r.revision += 1;
    r.version = version;
    r.updated_at = now.to_string();
    r.decided_by = Some(actor.to_string());
    r.decided_at = Some(now.to_string());
    Ok(Decided {
        rule: r,
        tombstone,
        lift,
    })
}

/// Folds `from` into `into`: `into` gains `from`'s evidence, `from` becomes `merged` and its
/// signature is tombstoned. Returns (from, into) updated.
pub fn merge(
    from: &TeamRule,
    into: &TeamRule,
    d: &Decision,
    actor: &str,
    version: i64,
    now: &str,
) -> Result<(Decided, TeamRule), DecideError> {
    if d.expected_revision != from.revision {
        return Err(DecideError::Conflict {
            expected: d.expected_revision,
            current: Box::new(from.clone()),
        });
    }
    if from.id == into.id {
        return Err(DecideError::Invalid(
            "a rule cannot be merged into itself".into(),
        ));
    }
    if into.status == TeamStatus::Merged || from.status == TeamStatus::Merged {
        return Err(DecideError::Invalid(
            "a merged rule cannot take part in a merge".into(),
        ));
    }
    let mut target = into.clone();
    merge_evidence(&mut target.evidence, &from.evidence);
    target.version = version;
    target.updated_at = now.to_string();
    let mut gone = from.clone();
    gone.status = TeamStatus::Merged;
    gone.revision += 1;
    gone.version = version;
    gone.updated_at = now.to_string();
    gone.decided_by = Some(actor.to_string());
    gone.decided_at = Some(now.to_string());
    Ok((
        Decided {
            tombstone: Some(from.signature.clone()),
            lift: None,
            rule: gone,
        },
        target,
    ))
}

fn apply_changes(
    r: &mut TeamRule,
    c: &difflore_proto::rules::RuleChanges,
) -> Result<(), DecideError> {
    use difflore_proto::rules::{MAX_GLOBS, MAX_STATEMENT_CHARS, MAX_TITLE_CHARS};
    if let Some(t) = &c.title {
        if t.trim().is_empty() || t.chars().count() > MAX_TITLE_CHARS {
            return Err(DecideError::Invalid(format!(
                "title must be 1–{MAX_TITLE_CHARS} characters"
            )));
        }
        r.title = t.trim().to_string();
    }
    if let Some(s) = &c.statement {
        if s.trim().is_empty() || s.chars().count() > MAX_STATEMENT_CHARS {
            return Err(DecideError::Invalid(format!(
                "statement must be 1–{MAX_STATEMENT_CHARS} characters"
            )));
        }
        r.statement = s.trim().to_string();
        // The signature follows the words.
        r.signature = signature(&r.statement);
    }
    if let Some(g) = &c.globs {
        if g.len() > MAX_GLOBS || g.iter().any(|x| x.trim().is_empty()) {
            return Err(DecideError::Invalid(format!(
                "globs: at most {MAX_GLOBS}, none empty"
            )));
        }
        r.globs = g.clone();
    }
    if let Some(x) = &c.rationale {
        r.rationale = Some(x.clone());
    }
    if let Some(s) = c.severity {
        r.severity = s;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_applies_in_order_and_is_numbered_after_the_last_version() {
        let id = |n: u8| format!("0192f0c0-0000-7000-8000-0000000000{n:02x}");
        let known_rule = new_rule(
            &proposal(&id(1), "Use Money for amounts", &["u:1"]),
            4,
            "t0",
        );
        let ps = [
            // A new point, then the same point from another machine in the same batch: one rule.
            proposal(&id(2), "Keep handlers thin", &["u:2"]),
            proposal(&id(3), "keep HANDLERS thin!", &["u:3"]),
            // The known rule by signature, once with new evidence, once with nothing new.
            proposal(&id(4), "Use Money for amounts", &["u:4"]),
            proposal(&id(5), "use money for amounts", &["u:4"]),
            // A buried point.
            proposal(&id(6), "Log every request body", &["u:6"]),
        ];
        let batch = Proposals::new(ps.iter());
        let known = Known {
            rules: vec![known_rule.clone()],
            buried: vec![(
                "github.com/acme/shop".into(),
                signature("Log every request body"),
            )],
        };
        let mut changed = propose(&batch, known, "t1");
        number(&mut changed, 7);
        let summary: Vec<(&str, usize, i64)> = changed
            .iter()
            .map(|r| (r.id.as_str(), r.evidence.len(), r.version))
            .collect();
        assert_eq!(
            summary,
            vec![(id(2).as_str(), 2, 6), (id(1).as_str(), 2, 7)],
            "{changed:#?}"
        );
        assert_eq!(changed[1].created_at, known_rule.created_at);
        assert_eq!(changed[1].updated_at, "t1");
    }

    use difflore_proto::rules::{RuleChanges, Severity};

    fn proposal(id: &str, statement: &str, urls: &[&str]) -> RuleProposal {
        RuleProposal {
            rule_id: id.into(),
            repo: Some("github.com/acme/shop".into()),
            title: "Money".into(),
            statement: statement.into(),
            rationale: None,
            globs: vec!["src/billing/**".into()],
            severity: Severity::Context,
            origin: "review_import".into(),
            confidence: 0.7,
            signature: None,
            evidence: urls
                .iter()
                .map(|u| Evidence {
                    url: Some(u.to_string()),
                    comment_id: None,
                    source: Some("github".into()),
                    author: Some("rev".into()),
                    path: None,
                    line: None,
                    excerpt: "use Money".into(),
                    created_at: None,
                })
                .collect(),
        }
    }

    const ID: &str = "0193a5b2-7c1e-7d4a-9f00-3e9f0a1b2c3d";

    fn decision(action: Action, rev: i64) -> Decision {
        Decision {
            action,
            expected_revision: rev,
            reason: None,
            changes: None,
            into: None,
        }
    }

    #[test]
    fn evidence_merges_by_url_once() {
        let r = new_rule(
            &proposal(ID, "Never use f64 for money", &["https://x/1"]),
            1,
            "t0",
        );
        assert_eq!(r.evidence.len(), 1);
        assert!(grow(&r, &proposal(ID, "x", &["https://x/1"]), 2, "t1").is_none());
        let g = grow(
            &r,
            &proposal(ID, "x", &["https://x/1", "https://x/2"]),
            2,
            "t1",
        )
        .unwrap();
        assert_eq!((g.evidence.len(), g.version, g.revision), (2, 2, 1));
    }

    #[test]
    fn decisions_follow_the_status_rules_and_the_revision() {
        let r = new_rule(&proposal(ID, "Never use f64 for money", &[]), 1, "t0");
        let stale = decide(&r, &decision(Action::Approve, 7), "lead", 2, "t1").unwrap_err();
        assert!(matches!(stale, DecideError::Conflict { expected: 7, .. }));
        let pause = decide(&r, &decision(Action::Pause, 1), "lead", 2, "t1").unwrap_err();
        assert!(pause.to_string().contains("approve it first"));
        let a = decide(&r, &decision(Action::Approve, 1), "lead", 2, "t1").unwrap();
        assert_eq!(a.rule.status, TeamStatus::Active);
        assert_eq!((a.rule.revision, a.rule.version), (2, 2));
        assert_eq!(a.rule.decided_by.as_deref(), Some("lead"));
        let j = decide(&a.rule, &decision(Action::Reject, 2), "lead", 3, "t2").unwrap();
        assert_eq!(j.tombstone.as_deref(), Some(r.signature.as_str()));
        let again = decide(&j.rule, &decision(Action::Approve, 3), "lead", 4, "t3").unwrap();
        assert_eq!(again.lift.as_deref(), Some(r.signature.as_str()));
        let mut e = decision(Action::Edit, 4);
        e.changes = Some(RuleChanges {
            statement: Some("Use Money for amounts, never f64".into()),
            ..Default::default()
        });
        let ed = decide(&again.rule, &e, "lead", 5, "t4").unwrap();
        assert_eq!(ed.rule.status, TeamStatus::Active);
        assert_ne!(
            ed.rule.signature, r.signature,
            "the signature follows an edit"
        );
    }

    #[test]
    fn a_merge_moves_the_evidence_and_tombstones_the_merged_rule() {
        let a = new_rule(
            &proposal(ID, "Never use f64 for money", &["https://x/1"]),
            1,
            "t0",
        );
        let b = new_rule(
            &proposal(
                "0193a5b2-7c1e-7d4a-9f00-aaaaaaaaaaaa",
                "Amounts are Money, not f64",
                &["https://x/2"],
            ),
            2,
            "t0",
        );
        let (gone, into) = merge(&a, &b, &decision(Action::Merge, 1), "lead", 3, "t1").unwrap();
        assert_eq!(gone.rule.status, TeamStatus::Merged);
        assert_eq!(gone.tombstone.as_deref(), Some(a.signature.as_str()));
        assert_eq!(into.evidence.len(), 2);
        assert!(merge(&a, &a, &decision(Action::Merge, 1), "lead", 3, "t1").is_err());
    }
}
