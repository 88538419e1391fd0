//! How well a rule fits a query, in three named parts that `why` prints:
//! - *scope*: how much of the path the rule's glob pins (directories, the file's name, its
//!   extension), in [0.3, 1];
//! - *text*: how much of the rule the change (its changed lines and its path's words) talks
//!   about, in [0, 1) — telling words count fully, common code words little, a word of the
//!   rule's title more than one of its statement;
//! - *evidence*: the rule's confidence.
//!
//! A rule applies to an edit when its text relevance reaches a floor that rises as its glob
//! widens: a glob naming the file itself (`**/index.ts`, `pkg/*/handler.go`) needs none, a
//! directory glob a little, a whole-tree `**/*.go` real textual evidence, and a rule without
//! globs more still.

use super::words::Word;

/// Specificity a glob needs to apply on a path alone (a read): a literal extension or
/// directory; `**` alone never applies.
pub const PATH_FLOOR: f64 = 0.4;
/// The specificity of a glob naming a file (`**/index.ts`): the floor reaches its least there.
const NAMES_THE_FILE: f64 = 0.7;
/// The least relevance a glob that does not name the file needs.
pub const MIN_FLOOR: f64 = 0.15;
/// Relevance a whole-tree glob (specificity 0.4 or less) needs.
pub const WIDE_FLOOR: f64 = 0.55;
/// Relevance a rule without globs needs when a path is given.
pub const UNSCOPED_FLOOR: f64 = 0.7;
/// Relevance a text search (no path) needs.
pub const SEARCH_FLOOR: f64 = 0.5;
/// Text weight at which relevance reaches 1 − 1/e.
const SATURATION: f64 = 1.2;
/// A word of the rule's title weighs this much more than one of its statement.
const TITLE_BONUS: f64 = 1.5;

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// A glob's specificity: a literal path 1; otherwise 0.3, +0.12 per literal directory (up to
/// three), +0.03 per one-level `*` directory, and for the file-name part: a literal name +0.4,
/// a literal part besides the extension (`*_test.go`, `*Controller.java`) +0.3, an extension
/// alone +0.1. `**/*.rs` 0.4, `src/billing/*.rs` 0.64, `**/index.ts` 0.7, `pkg/*/handler.go`
/// 0.85, `**` 0.3.
pub fn specificity(glob: &str) -> f64 {
    if !has_wildcard(glob) {
        return 1.0;
    }
    let segs: Vec<&str> = glob.split('/').collect();
    let (name, dirs) = segs.split_last().map_or(("", &[][..]), |(n, d)| (*n, d));
    let mut s = 0.3;
    let mut literal_dirs = 0;
    for d in dirs {
        if !has_wildcard(d) {
            literal_dirs += 1;
        } else if *d != "**" {
            s += 0.03;
        }
    }
    s += 0.12 * f64::from(literal_dirs.min(3));
    if !has_wildcard(name) {
        s += 0.4;
    } else {
        let (stem, ext) = match name.rsplit_once('.') {
            Some((st, e)) if !has_wildcard(e) && !e.is_empty() => (st, true),
            _ => (name, false),
        };
        let literal: usize = stem
            .split(['*', '?'])
            .map(|p| {
                p.trim_matches('.')
                    .chars()
                    .filter(|c| c.is_alphanumeric())
                    .count()
            })
            .sum();
        if literal >= 3 && !stem.contains(['[', '{']) {
            s += 0.3;
        } else if ext {
            s += 0.1;
        }
    }
    f64::min(s, 0.95)
}

/// Whether a glob names the file itself: a literal path, or a literal last segment
/// (`**/index.ts`, `pkg/*/handler.go`, `**/Dockerfile`).
pub fn names_the_file(glob: &str) -> bool {
    !has_wildcard(glob.rsplit('/').next().unwrap_or(glob))
}

/// The relevance an edit needs for a rule whose best matching glob is `glob` (`None`: the rule
/// has no glob, it may apply to any file). A glob naming the file needs none; otherwise the
/// floor falls from [`WIDE_FLOOR`] (a whole-tree glob) as the glob pins more of the path, but
/// never below [`MIN_FLOOR`]: deep directories (`src/main/java/**`) are layout, not topic.
pub fn floor(glob: Option<&str>) -> f64 {
    let Some(g) = glob else {
        return UNSCOPED_FLOOR;
    };
    if names_the_file(g) {
        return 0.0;
    }
    let s = specificity(g);
    (WIDE_FLOOR * (NAMES_THE_FILE - s) / (NAMES_THE_FILE - PATH_FLOOR)).clamp(MIN_FLOOR, WIDE_FLOOR)
}

/// Ranking score of an applicable rule: scope first, then text, then evidence.
pub fn combined(spec: Option<f64>, rel: f64, confidence: f64) -> f64 {
    0.5 * spec.unwrap_or(0.25) + 0.4 * rel + 0.1 * confidence.clamp(0.0, 1.0)
}

/// A rule's words, each with its weight and whether it is in the title.
pub struct RuleWords {
    words: Vec<(Word, bool)>,
}

/// Rule texts already split into words, by a hash of the text: `recall --diff` and the MCP
/// server judge the same rules for file after file.
static SPLIT: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<u64, std::sync::Arc<RuleWords>>>,
> = std::sync::LazyLock::new(Default::default);
/// Entries kept before the cache starts afresh.
const SPLIT_MAX: usize = 20_000;

impl RuleWords {
    /// [`RuleWords::new`], remembered for the process.
    pub fn cached(title: &str, statement: &str, rationale: &str) -> std::sync::Arc<RuleWords> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (title, statement, rationale).hash(&mut h);
        let key = h.finish();
        if let Ok(map) = SPLIT.lock()
            && let Some(w) = map.get(&key)
        {
            return w.clone();
        }
        let w = std::sync::Arc::new(RuleWords::new(title, statement, rationale));
        if let Ok(mut map) = SPLIT.lock() {
            if map.len() >= SPLIT_MAX {
                map.clear();
            }
            map.insert(key, w.clone());
        }
        w
    }

    pub fn new(title: &str, statement: &str, rationale: &str) -> Self {
        let mut words: Vec<(Word, bool)> = super::words::words(title, 24)
            .into_iter()
            .map(|w| (w, true))
            .collect();
        for w in super::words::words(&format!("{statement}\n{rationale}"), 64) {
            if !words.iter().any(|(x, _)| x.stem == w.stem) {
                words.push((w, false));
            }
        }
        RuleWords { words }
    }

    /// Text relevance for these query words, and the rule's words they met (for `why`).
    pub fn relevance(&self, query: &QueryWords) -> (f64, Vec<String>) {
        let mut mass = 0.0;
        let mut met = Vec::new();
        for (w, in_title) in &self.words {
            if let Some(factor) = query.meets(&w.stem) {
                mass += factor * w.weight * if *in_title { TITLE_BONUS } else { 1.0 };
                met.push(w.word.clone());
            }
        }
        (1.0 - (-mass / SATURATION).exp(), met)
    }
}

/// What a word met only as a fragment of a longer identifier (`aws` of `aws_s3_bucket`) counts,
/// against a word the change uses on its own.
const FRAGMENT: f64 = 0.6;

/// The query's words by stem, for fast comparison with each candidate rule.
pub struct QueryWords {
    /// Stem → [`FRAGMENT`] or 1.
    stems: std::collections::HashMap<String, f64>,
    sorted: Vec<String>,
}

/// Stems at least this long meet a longer stem they begin (`error` meets `errorf`, `query`
/// meets `querycontext`).
const PREFIX_MIN: usize = 5;

impl QueryWords {
    pub fn new(words: &[Word]) -> Self {
        let mut stems = std::collections::HashMap::new();
        for w in words {
            let f = if w.whole { 1.0 } else { FRAGMENT };
            let e = stems.entry(w.stem.clone()).or_insert(f);
            *e = f64::max(*e, f);
        }
        let mut sorted: Vec<String> = stems.keys().cloned().collect();
        sorted.sort();
        QueryWords { stems, sorted }
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// Whether a rule's stem meets one of the query's — equal, or one begins the other and the
    /// shorter has at least five letters — and what the query's word counts ([`FRAGMENT`] or 1).
    pub fn meets(&self, stem: &str) -> Option<f64> {
        if let Some(f) = self.stems.get(stem) {
            return Some(*f);
        }
        if stem.chars().count() >= PREFIX_MIN {
            // A query stem that begins with this one.
            let i = self.sorted.partition_point(|s| s.as_str() < stem);
            if let Some(s) = self.sorted.get(i).filter(|s| s.starts_with(stem)) {
                return self.stems.get(s).copied();
            }
        }
        // A query stem of five letters or more that begins this one.
        stem.char_indices()
            .skip(PREFIX_MIN)
            .find_map(|(i, _)| self.stems.get(&stem[..i]).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::words::words;

    #[test]
    fn specificity_orders_globs() {
        let s = specificity;
        assert_eq!(s("src/a.rs"), 1.0);
        assert!((s("**/*.rs") - 0.4).abs() < 1e-9);
        assert!((s("src/billing/*.rs") - 0.64).abs() < 1e-9);
        assert!((s("**/index.ts") - 0.7).abs() < 1e-9);
        assert!((s("pkg/*/handler.go") - 0.85).abs() < 1e-9);
        assert!((s("**") - 0.3).abs() < 1e-9);
        assert!(s("**/*_test.go") > s("**/*.go"));
        assert!(s("**/*Controller.java") > s("**/*.java"));
        assert!(s("src/**") > s("**") && s("src/**") >= PATH_FLOOR);
        assert!(s("**/*.{ts,tsx}") < s("**/index.ts"));
    }

    #[test]
    fn the_floor_rises_as_the_glob_widens() {
        assert_eq!(floor(Some("src/a.rs")), 0.0);
        assert_eq!(floor(Some("**/__init__.py")), 0.0);
        assert_eq!(floor(Some("pkg/*/handler.go")), 0.0);
        let dir = floor(Some("src/billing/*.rs"));
        let wide = floor(Some("**/*.rs"));
        assert!(0.0 < dir && dir < wide && wide < floor(None));
        // Deep layout directories are not a topic.
        assert_eq!(floor(Some("src/main/java/**/*.java")), MIN_FLOOR);
    }

    #[test]
    fn telling_words_count_more_than_common_ones() {
        let rule = RuleWords::new(
            "No unwrap on outside data",
            "Never call unwrap() on values parsed from input; return the error.",
            "",
        );
        let q = |t: &str| QueryWords::new(&words(t, 48));
        let (strong, met) = rule.relevance(&q("let x = raw.parse().unwrap();"));
        assert!(met.contains(&"unwrap".to_string()), "{met:?}");
        let (weak, _) = rule.relevance(&q("let value = error;"));
        assert!(strong >= WIDE_FLOOR && weak < WIDE_FLOOR, "{strong} {weak}");
        assert_eq!(rule.relevance(&q("kubernetes helm")).0, 0.0);
    }

    #[test]
    fn prefixes_meet() {
        let q = QueryWords::new(&words("fmt.Errorf QueryContext", 48));
        assert!(q.meets("error").is_some() && q.meets("query").is_some());
        assert!(q.meets("err").is_none());
        // `Errorf` is one whole word; `query` only a fragment of `QueryContext`.
        assert_eq!(q.meets("errorf"), Some(1.0));
        assert_eq!(q.meets("query"), Some(FRAGMENT));
    }
}
