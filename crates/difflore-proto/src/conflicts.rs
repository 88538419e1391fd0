//! Two rules of one scope that contradict each other ("use X" / "don't use X", "prefer A over
//! B" / "prefer B over A") or say the same thing twice — judged alike by `difflore report` on a
//! machine and by the team console's "stale" filter. Pairs are found through indexes, never by
//! comparing every pair.

use crate::cluster;
use crate::rules::signature;
use std::collections::HashSet;

/// A rule as the pair checks see it: its scope and its statement.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    /// The repository key; `None` for a rule of every repository.
    pub repo: Option<&'a str>,
    pub statement: &'a str,
}

/// Two items (indexes, `a < b`) that contradict each other or say the same thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub a: usize,
    pub b: usize,
    /// `contradicts` or `duplicates`.
    pub reason: &'static str,
    /// How the one relates to the other ("says the opposite of" …).
    pub detail: &'static str,
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
pub fn pairs(active: &[Item<'_>]) -> Vec<Pair> {
    use std::collections::HashMap;
    let facts: Vec<Facts> = active.iter().map(|r| Facts::of(r.statement)).collect();
    let mut out = Vec::new();
    let mut seen: HashSet<(usize, usize)> = HashSet::new();
    let mut scopes: HashMap<Option<&str>, Vec<usize>> = HashMap::new();
    for (i, r) in active.iter().enumerate() {
        scopes.entry(r.repo).or_default().push(i);
    }
    for members in scopes.values() {
        let mut push = |i: usize, j: usize, reason, detail| {
            let k = (i.min(j), i.max(j));
            if i != j && seen.insert(k) {
                out.push(Pair {
                    a: k.0,
                    b: k.1,
                    reason,
                    detail,
                });
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

#[cfg(test)]
mod tests {
    use super::*;

    fn conflict(a: &str, b: &str) -> Option<&'static str> {
        let it = |statement| Item {
            repo: Some("r"),
            statement,
        };
        pairs(&[it(a), it(b)]).first().map(|p| p.reason)
    }

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
    fn other_scopes_and_common_words_make_no_pair() {
        let other = [
            Item {
                repo: Some("a"),
                statement: "Prefer tabs over spaces",
            },
            Item {
                repo: Some("b"),
                statement: "Prefer spaces over tabs",
            },
        ];
        assert!(pairs(&other).is_empty());
        let words = [
            "ledger", "invoice", "refund", "payout", "ticket", "cart", "basket", "coupon",
        ];
        let mut statements: Vec<String> = (0..200)
            .map(|i| {
                let w = format!("{}{}", words[i % words.len()], i / words.len());
                format!("Keep the {w} invariant intact")
            })
            .collect();
        let items = |s: &[String]| -> Vec<Pair> {
            let v: Vec<Item> = s
                .iter()
                .map(|x| Item {
                    repo: None,
                    statement: x,
                })
                .collect();
            pairs(&v)
        };
        assert!(items(&statements).is_empty());
        // A real repeat among them is still found.
        statements.push("Keep the ledger0 invariant intact, always".into());
        assert_eq!(items(&statements).len(), 1);
    }
}
