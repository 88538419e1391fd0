//! Near-duplicate detection for statements: a normalised token set (lower case, light
//! stemming, stop words out), Jaccard similarity, and a signature — the sorted tokens — that
//! identifies a rule for clustering and tombstones.

use std::collections::BTreeSet;

const STOP: &[&str] = &[
    "the", "a", "an", "and", "or", "to", "of", "in", "on", "for", "with", "this", "that", "it",
    "is", "are", "be", "we", "you", "our", "here", "there", "as", "at", "by", "from", "please",
    "should", "could", "would", "can", "do", "don", "not", "no", "use", "using", "instead",
    "always", "never", "avoid", "prefer", "must", "just", "all", "any", "when", "than", "then",
    "so", "if", "into", "also", "its", "these", "those", "them", "they", "i", "me", "my", "your",
];

/// A light English stem (`rounding` → `round`, `retries` → `retr`), shared by clustering and
/// the matching engine's term comparisons.
pub fn stem(w: &str) -> String {
    for suf in ["ing", "ies", "es", "ed", "s"] {
        if w.len() > suf.len() + 3
            && let Some(s) = w.strip_suffix(suf)
        {
            return s.to_string();
        }
    }
    w.to_string()
}

/// The statement's normalised tokens.
pub fn tokens(statement: &str) -> BTreeSet<String> {
    statement
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map(str::to_lowercase)
        .filter(|w| w.len() >= 2 && !STOP.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect()
}

/// Sorted tokens joined by spaces.
pub fn signature(statement: &str) -> String {
    tokens(statement).into_iter().collect::<Vec<_>>().join(" ")
}

pub fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let i = a.intersection(b).count() as f64;
    let u = a.union(b).count() as f64;
    if u == 0.0 { 0.0 } else { i / u }
}

/// Statements at least this similar are one candidate.
pub const SAME_RULE: f64 = 0.5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_duplicates_meet_and_others_do_not() {
        let a = tokens("Use Money instead of f64 for amounts.");
        let b = tokens("Please use Money, not f64, for billing amounts.");
        let c = tokens("Don't call db.raw outside migrations.");
        assert!(jaccard(&a, &b) >= SAME_RULE, "{a:?} {b:?}");
        assert!(jaccard(&a, &c) < 0.2);
        assert_eq!(
            signature("Use Money instead of f64"),
            signature("use money instead of F64!")
        );
    }
}
