//! Rules that may have gone stale (DESIGN §10 "Staleness"), each with its reason and a
//! suggested action — flagged, never changed: globs that match no file of the checkout, evidence
//! whose file is gone, a rule not served for the whole window although agents edited its files,
//! and two active rules of one scope that contradict each other ("use X" / "don't use X",
//! "prefer A over B" / "prefer B over A") or say the same thing twice.

use crate::kinds::Status;
use crate::memory::Rule;
use difflore_proto::conflicts::{Item, Pair, pairs};
use difflore_proto::globs::RuleGlobs;
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

/// Most rules one rule is said to contradict or repeat.
const MAX_PAIRS: usize = 3;

/// How another rule is named in a flag: its id's random tail (see [`crate::memory::tail_handle`]).
fn short(id: &str) -> &str {
    crate::memory::tail_handle(id)
}

/// The stale flags of each rule (only rules with at least one).
pub fn check(rules: &[Rule], cx: &Context<'_>) -> BTreeMap<String, Vec<Stale>> {
    let mut out: BTreeMap<String, Vec<Stale>> = BTreeMap::new();
    let active: Vec<&Rule> = rules
        .iter()
        .filter(|r| r.status == Status::Active)
        .collect();
    let live = cx
        .files
        .map(|f| matched_globs(&active, f))
        .unwrap_or_default();
    for r in &active {
        let flags = out.entry(r.id.clone()).or_default();
        // Compiled only when a check needs them (a glob set per rule is the costly part).
        let globs = std::cell::OnceCell::new();
        let globs = || globs.get_or_init(|| RuleGlobs::new(&r.globs));
        if let Some(files) = cx.files {
            if !r.globs.is_empty() && !r.globs.iter().any(|g| live.contains(g.as_str())) {
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
        if cx.served.get(&r.id).copied().unwrap_or(0) == 0 && !cx.edited.is_empty() {
            let edits: i64 = cx
                .edited
                .iter()
                .filter(|(p, _)| globs().governs(p))
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
    let items: Vec<Item<'_>> = active
        .iter()
        .map(|r| Item {
            repo: r.repo.as_deref(),
            statement: &r.statement,
        })
        .collect();
    for Pair {
        a,
        b,
        reason,
        detail,
    } in pairs(&items)
    {
        let (x, y) = (active[a], active[b]);
        for (me, other) in [(x, y), (y, x)] {
            let flags = out.entry(me.id.clone()).or_default();
            if flags.iter().filter(|f| f.reason == reason).count() >= MAX_PAIRS {
                continue;
            }
            flags.push(Stale {
                reason,
                detail: format!("{detail} rule {} ({})", short(&other.id), other.title),
                suggestion: if reason == "contradicts" {
                    "decide which one holds; pause or reject the other".into()
                } else {
                    "keep one: reject the other (or merge them on the team's server)".into()
                },
            });
        }
    }
    out.retain(|_, v| !v.is_empty());
    out
}

/// The rules' globs that match at least one file: one glob set over all of them, each file
/// matched once (never every rule against every file).
fn matched_globs<'a>(active: &[&'a Rule], files: &HashSet<String>) -> HashSet<&'a str> {
    let mut distinct: Vec<&str> = active
        .iter()
        .flat_map(|r| r.globs.iter().map(String::as_str))
        .collect();
    distinct.sort_unstable();
    distinct.dedup();
    let mut b = globset::GlobSetBuilder::new();
    let mut kept = Vec::new();
    for g in distinct {
        if let Ok(c) = difflore_proto::globs::compile(g) {
            b.add(c);
            kept.push(g);
        }
    }
    let Ok(set) = b.build() else {
        return HashSet::new();
    };
    let mut live = HashSet::new();
    for f in files {
        for i in set.matches(f) {
            live.insert(kept[i]);
        }
    }
    live
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_flagged_on_both_rules_and_capped() {
        let mut rules = vec![Rule::for_test("a", "Prefer tabs over spaces")];
        for i in 0..5 {
            rules.push(Rule::for_test(&format!("b{i}"), "Prefer spaces over tabs"));
        }
        let (served, edited) = (BTreeMap::new(), BTreeMap::new());
        let out = check(
            &rules,
            &Context {
                files: None,
                served: &served,
                edited: &edited,
                window_days: 90,
            },
        );
        assert_eq!(out["a"].len(), MAX_PAIRS, "{:?}", out["a"]);
        assert!(
            out["b0"]
                .iter()
                .any(|f| f.reason == "contradicts" && f.detail.contains("rule a (a)")),
            "{:?}",
            out["b0"]
        );
        assert!(out["b0"].iter().any(|f| f.reason == "duplicates"));
    }
}
