//! Rules that may have gone stale (DESIGN §10 "Staleness"), each with its reason and a
//! suggested action — flagged, never changed: globs that match no file of the checkout, evidence
//! whose file is gone, a rule not served for the whole window although agents edited its files,
//! and two active rules of one scope that contradict each other ("use X" / "don't use X",
//! "prefer A over B" / "prefer B over A") or say the same thing twice.

use crate::cluster;
use crate::kinds::Status;
use crate::memory::Rule;
use difflore_proto::globs::RuleGlobs;
use difflore_proto::rules::signature;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// Why a rule may be stale, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stale {
    /// `globs_match_nothing`, `evidence_file_gone`, `not_served_while_edited`, `contradicts`,
    /// `duplicates`.
    pub reason: &'static str,
    pub detail: String,
    pub suggestion: String,
}

/// What the checks look at besides the rules.
pub struct Context<'a> {
    /// The checkout's files (repo-relative), when there is a checkout of the rules' repo.
    pub files: Option<&'a HashSet<String>>,
    /// Times each rule was served in the window.
    pub served: &'a BTreeMap<String, i64>,
    /// Files agents edited in the window, with how often (repo-relative).
    pub edited: &'a BTreeMap<String, i64>,
    pub window_days: i64,
}

fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

/// The stale flags of each rule (only rules with at least one).
pub fn check(rules: &[Rule], cx: &Context<'_>) -> BTreeMap<String, Vec<Stale>> {
    let mut out: BTreeMap<String, Vec<Stale>> = BTreeMap::new();
    let active: Vec<&Rule> = rules
        .iter()
        .filter(|r| r.status == Status::Active)
        .collect();
    for r in &active {
        let flags = out.entry(r.id.clone()).or_default();
        let globs = RuleGlobs::new(&r.globs);
        if let Some(files) = cx.files {
            if !r.globs.is_empty() && !files.iter().any(|f| globs.governs(f)) {
                flags.push(Stale {
                    reason: "globs_match_nothing",
                    detail: format!("no file of the checkout matches {}", r.globs.join(", ")),
                    suggestion: format!(
                        "edit its globs (difflore memory edit {} --glob …) or reject it",
                        short(&r.id)
                    ),
                });
            }
            let gone: Vec<&str> = r
                .evidence
                .iter()
                .filter_map(|e| e.path.as_deref())
                .filter(|p| !files.contains(*p))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            if !gone.is_empty()
                && gone.len() == r.evidence.iter().filter(|e| e.path.is_some()).count()
            {
                flags.push(Stale {
                    reason: "evidence_file_gone",
                    detail: format!(
                        "the code its evidence was about is gone: {}",
                        gone.join(", ")
                    ),
                    suggestion: "check that it still applies; pause or reject it if not".into(),
                });
            }
        }
        if cx.served.get(&r.id).copied().unwrap_or(0) == 0 {
            let edits: i64 = cx
                .edited
                .iter()
                .filter(|(p, _)| globs.governs(p))
                .map(|(_, n)| n)
                .sum();
            if edits > 0 {
                flags.push(Stale {
                    reason: "not_served_while_edited",
                    detail: format!(
                        "not served in {} days although agents edited its files {edits} times",
                        cx.window_days
                    ),
                    suggestion: "check why the hooks miss it (difflore recall --file PATH)".into(),
                });
            }
        }
    }
    for (i, a) in active.iter().enumerate() {
        for b in &active[i + 1..] {
            if a.repo != b.repo {
                continue;
            }
            if let Some((reason, detail)) = conflict(&a.statement, &b.statement) {
                for (x, y) in [(a, b), (b, a)] {
                    out.entry(x.id.clone()).or_default().push(Stale {
                        reason,
                        detail: format!("{detail} rule {} ({})", short(&y.id), y.title),
                        suggestion: if reason == "contradicts" {
                            "decide which one holds; pause or reject the other".into()
                        } else {
                            "keep one: reject the other (or merge them on the team's server)".into()
                        },
                    });
                }
            }
        }
    }
    out.retain(|_, v| !v.is_empty());
    out
}

/// The team signature's words without its negations, and how many negations it has.
fn polarity(statement: &str) -> (Vec<String>, usize) {
    let sig = signature(statement);
    let body = sig.split_once(':').map_or(sig.as_str(), |(_, b)| b);
    let words: Vec<String> = body
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let neg = words.iter().filter(|w| *w == "not").count();
    (words.into_iter().filter(|w| w != "not").collect(), neg)
}

/// "prefer A over B" → (a, b).
fn preference(statement: &str) -> Option<(String, String)> {
    let lower = statement.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '.'))
        .filter(|w| !w.is_empty())
        .collect();
    let p = words.iter().position(|w| *w == "prefer")?;
    let o = words[p..]
        .iter()
        .position(|w| matches!(*w, "over" | "to"))?
        + p;
    let a = words.get(p + 1..o)?.join(" ");
    let b = words
        .get(o + 1..(o + 1 + (o - p - 1)).min(words.len()))?
        .join(" ");
    (!a.is_empty() && !b.is_empty()).then_some((a, b))
}

/// Whether two statements contradict each other or say the same thing.
fn conflict(a: &str, b: &str) -> Option<(&'static str, &'static str)> {
    if let (Some((a1, a2)), Some((b1, b2))) = (preference(a), preference(b))
        && a1 == b2
        && a2 == b1
    {
        return Some(("contradicts", "prefers the opposite of"));
    }
    let (wa, na) = polarity(a);
    let (wb, nb) = polarity(b);
    let (ta, tb) = (cluster::tokens(a), cluster::tokens(b));
    let near = cluster::jaccard(&ta, &tb) >= cluster::SAME_RULE;
    if (wa == wb || near) && na % 2 != nb % 2 {
        return Some(("contradicts", "says the opposite of"));
    }
    if near && na % 2 == nb % 2 {
        return Some(("duplicates", "says the same as"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contradictions_and_repeats() {
        assert_eq!(
            conflict("Use unwrap in tests", "Don't use unwrap in tests").map(|c| c.0),
            Some("contradicts")
        );
        assert_eq!(
            conflict("Prefer tabs over spaces", "Prefer spaces over tabs").map(|c| c.0),
            Some("contradicts")
        );
        assert_eq!(
            conflict(
                "Use Money instead of f64 for amounts",
                "Amounts use Money instead of f64"
            )
            .map(|c| c.0),
            Some("duplicates")
        );
        assert_eq!(
            conflict("Prefer tabs over spaces", "Log with tracing"),
            None
        );
        assert_eq!(
            conflict("Keep handlers thin", "Name tests after behaviour"),
            None
        );
    }
}
