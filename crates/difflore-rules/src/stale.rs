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
    for (x, y, reason, detail) in pairs(&active) {
        let (x, y) = (active[x], active[y]);
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

/// Most rules one rule is said to contradict or repeat.
const MAX_PAIRS: usize = 3;

/// What the pair checks need of one statement, computed once.
struct Facts {
    /// The team signature's words without negations, and the count of negations.
    words: Vec<String>,
    neg: usize,
    tokens: std::collections::BTreeSet<String>,
    pref: Option<(String, String)>,
}

impl Facts {
    fn of(statement: &str) -> Facts {
        let (words, neg) = polarity(statement);
        Facts {
            words,
            neg,
            tokens: cluster::tokens(statement),
            pref: preference(statement),
        }
    }
}

/// Pairs of active rules of one scope that contradict each other or say the same thing, found
/// through indexes (never every pair): equal words with other negations, swapped preferences,
/// and near-duplicate words (Jaccard ≥ the clustering threshold over the words that are not
/// common in that scope — a word in over 5 % of its rules says nothing about sameness).
fn pairs(active: &[&Rule]) -> Vec<(usize, usize, &'static str, &'static str)> {
    use std::collections::HashMap;
    let facts: Vec<Facts> = active.iter().map(|r| Facts::of(&r.statement)).collect();
    let mut out = Vec::new();
    let mut seen: HashSet<(usize, usize)> = HashSet::new();
    let mut scopes: HashMap<Option<&str>, Vec<usize>> = HashMap::new();
    for (i, r) in active.iter().enumerate() {
        scopes.entry(r.repo.as_deref()).or_default().push(i);
    }
    for members in scopes.values() {
        let mut push = |i: usize, j: usize, reason, detail| {
            let k = (i.min(j), i.max(j));
            if i != j && seen.insert(k) {
                out.push((k.0, k.1, reason, detail));
            }
        };
        // Same words, other negations.
        let mut by_words: HashMap<&[String], Vec<usize>> = HashMap::new();
        for &i in members {
            by_words.entry(&facts[i].words).or_default().push(i);
        }
        for group in by_words.values() {
            for (n, &i) in group.iter().enumerate() {
                for &j in &group[n + 1..] {
                    if facts[i].neg % 2 != facts[j].neg % 2 {
                        push(i, j, "contradicts", "says the opposite of");
                    }
                }
            }
        }
        // Swapped preferences.
        let mut prefs: HashMap<&(String, String), Vec<usize>> = HashMap::new();
        for &i in members {
            if let Some(p) = &facts[i].pref {
                prefs.entry(p).or_default().push(i);
            }
        }
        for &i in members {
            if let Some((a, b)) = &facts[i].pref
                && let Some(js) = prefs.get(&(b.clone(), a.clone()))
            {
                for &j in js {
                    push(i, j, "contradicts", "prefers the opposite of");
                }
            }
        }
        // Near duplicates over the scope's telling words.
        let mut df: HashMap<&str, usize> = HashMap::new();
        for &i in members {
            for t in &facts[i].tokens {
                *df.entry(t.as_str()).or_default() += 1;
            }
        }
        let common = (members.len() / 20).max(20);
        let telling = |i: usize| -> Vec<&str> {
            facts[i]
                .tokens
                .iter()
                .map(String::as_str)
                .filter(|t| df.get(t).copied().unwrap_or(0) <= common)
                .collect()
        };
        let mut index: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut shared: HashMap<usize, usize> = HashMap::new();
        let mut size: HashMap<usize, usize> = HashMap::new();
        for &i in members {
            let mine = telling(i);
            size.insert(i, mine.len());
            shared.clear();
            for t in &mine {
                for &j in index.get(t).map(Vec::as_slice).unwrap_or(&[]) {
                    *shared.entry(j).or_default() += 1;
                }
            }
            for (&j, &n) in &shared {
                let union = mine.len() + size[&j] - n;
                if union > 0 && n as f64 / union as f64 >= cluster::SAME_RULE {
                    if facts[i].neg % 2 == facts[j].neg % 2 {
                        push(i, j, "duplicates", "says the same as");
                    } else {
                        push(i, j, "contradicts", "says the opposite of");
                    }
                }
            }
            for t in mine {
                index.entry(t).or_default().push(i);
            }
        }
    }
    out
}

/// Whether two statements contradict each other or say the same thing (as [`pairs`] finds).
#[cfg(test)]
fn conflict(a: &str, b: &str) -> Option<&'static str> {
    let r = |s: &str, id: &str| Rule::for_test(id, s);
    let (x, y) = (r(a, "a"), r(b, "b"));
    pairs(&[&x, &y]).first().map(|p| p.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contradictions_and_repeats() {
        assert_eq!(
            conflict("Use unwrap in tests", "Don't use unwrap in tests"),
            Some("contradicts")
        );
        assert_eq!(
            conflict("Prefer tabs over spaces", "Prefer spaces over tabs"),
            Some("contradicts")
        );
        assert_eq!(
            conflict(
                "Use Money instead of f64 for amounts",
                "Amounts use Money instead of f64"
            ),
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

    #[test]
    fn words_common_in_a_scope_make_no_pair() {
        let words = [
            "ledger", "invoice", "refund", "payout", "ticket", "cart", "basket", "coupon",
        ];
        let rules: Vec<Rule> = (0..200)
            .map(|i| {
                let w = format!("{}{}", words[i % words.len()], i / words.len());
                Rule::for_test(&format!("r{i}"), &format!("Keep the {w} invariant intact"))
            })
            .collect();
        let refs: Vec<&Rule> = rules.iter().collect();
        assert!(pairs(&refs).is_empty(), "{:?}", pairs(&refs).first());
        // A real repeat among them is still found.
        let mut more = rules.clone();
        more.push(Rule::for_test(
            "dup",
            "Keep the ledger0 invariant intact, always",
        ));
        let refs: Vec<&Rule> = more.iter().collect();
        assert_eq!(pairs(&refs).len(), 1);
    }
}
