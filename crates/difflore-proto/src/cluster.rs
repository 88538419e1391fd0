//! Near-duplicate detection for statements: a normalised token set (lower case, light
//! stemming, stop words out), Jaccard similarity, and the sorted-token signature older versions
//! tombstoned by (tombstones now use the team signature of `rules`, which keeps negation and
//! word order). [`Point`] and [`same_point`] go further for extraction's clustering: the same
//! point made in other words — a code identifier both name, or enough key terms in common.

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

/// What clustering compares of a statement (or a review comment).
#[derive(Debug, Clone, Default)]
pub struct Point {
    pub tokens: BTreeSet<String>,
    /// The code identifiers it names (inside backticks), lower case, without call parentheses.
    pub idents: BTreeSet<String>,
    /// How many negations it carries ("use X" and "don't use X" never meet on words alone).
    pub negations: usize,
}

const NEGATION_WORDS: &[&str] = &["not", "don't", "dont", "never", "no", "avoid", "without"];

impl Point {
    pub fn of(text: &str) -> Point {
        let mut idents = BTreeSet::new();
        for (i, span) in text.split('`').enumerate() {
            if i % 2 == 1 {
                for t in span.split(|c: char| c.is_whitespace() || "(),\"'[]{}<>;=".contains(c)) {
                    let t = t.trim_matches(|c: char| c == '.' || c == ':' || c == '!');
                    if t.chars().count() >= 2 && t.chars().any(|c| c.is_alphanumeric()) {
                        idents.insert(t.to_lowercase());
                    }
                }
            }
        }
        let negations = text
            .to_lowercase()
            .split(|c: char| !(c.is_alphanumeric() || c == '\''))
            .filter(|w| NEGATION_WORDS.contains(w))
            .count();
        Point {
            tokens: tokens(text),
            idents,
            negations,
        }
    }
}

/// Words too common in review comments to say two of them make the same point.
const COMMON: &[&str] = &[
    "code", "file", "function", "method", "value", "call", "make", "like", "other", "rest", "way",
    "thing", "one", "new", "add", "need", "see", "keep", "put", "take", "get",
    // Words that are also keywords of some language: `if let Some(x)` is not "let it decide".
    "let", "var", "const", "else", "while", "return", "self", "nil", "null", "none", "true",
    "false", "some", "type", "def", "fn", "func",
];

/// How strongly two statements make the same point, `None` when they do not: near the same
/// words with as many negations; or two code identifiers in common; or one and another key
/// term; or three key terms in common; or two, in statements this short. Extraction joins a comment to the candidate it matches
/// most strongly.
pub fn same_point(a: &Point, b: &Point) -> Option<f64> {
    let j = jaccard(&a.tokens, &b.tokens);
    if j >= SAME_RULE && a.negations == b.negations {
        return Some(2.0 + j);
    }
    let shared: Vec<&String> = a.idents.intersection(&b.idents).collect();
    // Words inside a shared identifier (`unwrap()` → unwrap) do not count twice.
    let in_shared = |t: &str| shared.iter().any(|i| tokens(i).contains(t));
    let key = a
        .tokens
        .intersection(&b.tokens)
        .filter(|t| !COMMON.contains(&t.as_str()) && t.len() >= 3 && !in_shared(t))
        .count();
    let strength = shared.len() as f64 + 0.3 * key as f64;
    let same =
        shared.len() >= 2 || (shared.len() == 1 && key >= 1) || key >= 3 || (key >= 2 && j >= 0.25);
    same.then_some(strength)
}

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
