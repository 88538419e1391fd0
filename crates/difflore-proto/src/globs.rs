//! Glob semantics of a rule's `globs`, the one definition the client's matching engine (`recall`,
//! the hooks) and the server's console ("which rules govern this path?") share, so the two can
//! never disagree: repo-relative patterns with `/`, `*` and `?` never cross a `/`, `**` crosses
//! directories, `{a,b}` alternatives and `[...]` classes; a rule without globs governs every path
//! of its scope.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

/// Compiles one pattern with the rules' semantics.
pub fn compile(pattern: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern).literal_separator(true).build()
}

/// Whether `pattern` matches `path`, answered without building an automaton when the pattern
/// is one of the common shapes: literal components, `*` inside a component, `**` as a whole
/// component (`src/billing/**`, `**/*.rs`, `src/*/mod.rs`). `None` for any other pattern
/// (`?`, classes, alternatives, escapes, `**` inside a component, empty components): compile
/// it with [`compile`]. The answer is the one [`compile`]'s matcher gives (tested against it
/// over every combination of the shapes); it exists because a fresh process (the hook) pays
/// ~0.1 ms to build a `GlobSet` for even one glob.
pub fn simple_match(pattern: &str, path: &str) -> Option<bool> {
    let parts = simple_parts(pattern)?;
    let comps: Vec<&str> = path.split('/').collect();
    Some(match_components(&parts, &comps))
}

/// A simple pattern's components (`None` = `**`), or `None` when it is not one.
fn simple_parts(pattern: &str) -> Option<Vec<Option<&str>>> {
    if pattern.is_empty()
        || pattern
            .bytes()
            .any(|b| matches!(b, b'?' | b'[' | b']' | b'{' | b'}' | b'\\'))
    {
        return None;
    }
    let mut parts = Vec::new();
    for seg in pattern.split('/') {
        if seg == "**" {
            parts.push(None);
        } else if seg.is_empty() || seg.contains("**") {
            return None;
        } else {
            parts.push(Some(seg));
        }
    }
    Some(parts)
}

/// Pattern components (`None` = `**`) against path components. `**` spans zero or more
/// components, at least one when it ends the pattern (`a/**` matches below `a`, not `a`).
fn match_components(parts: &[Option<&str>], comps: &[&str]) -> bool {
    match parts.split_first() {
        None => comps.is_empty(),
        Some((None, rest)) => {
            let least = usize::from(rest.is_empty());
            (least..=comps.len()).any(|k| match_components(rest, &comps[k..]))
        }
        Some((Some(seg), rest)) => match comps.split_first() {
            Some((c, more)) => {
                wildcard(seg.as_bytes(), c.as_bytes()) && match_components(rest, more)
            }
            None => false,
        },
    }
}

/// One component against a pattern where `*` matches any run of bytes (a component has no `/`).
fn wildcard(p: &[u8], t: &[u8]) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

/// Why a pattern cannot be a rule's glob, or `Ok`.
pub fn check(pattern: &str) -> Result<(), String> {
    if pattern.trim().is_empty()
        || pattern.starts_with('/')
        || pattern.contains('\\')
        || pattern.split('/').any(|s| s == "..")
    {
        return Err(format!(
            "glob {pattern:?} must be repo-relative with / (no leading /, no ..)"
        ));
    }
    compile(pattern)
        .map(|_| ())
        .map_err(|e| format!("glob {pattern:?} is not valid: {}", e.kind()))
}

/// A repo-relative path as the globs see it: `./` and leading `/` off, `\` as `/`.
pub fn normalize(path: &str) -> String {
    let p = path.trim().replace('\\', "/");
    let mut p = p.as_str();
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    p.trim_start_matches('/').to_string()
}

/// The compiled globs of one rule: the simple ones kept as text ([`simple_match`]), the others
/// in one `GlobSet` — built only when there are any, since building one costs more than
/// matching thousands of simple patterns (the console filters every rule of a team by path).
pub struct RuleGlobs {
    /// `None`: the rule has no globs and governs every path.
    globs: Option<(Vec<String>, Option<GlobSet>)>,
}

impl RuleGlobs {
    /// Compiles a rule's globs; a pattern that does not compile matches nothing.
    pub fn new(globs: &[String]) -> RuleGlobs {
        if globs.is_empty() {
            return RuleGlobs { globs: None };
        }
        let mut simple = Vec::new();
        let mut b = GlobSetBuilder::new();
        let mut others = 0;
        for g in globs {
            if simple_parts(g).is_some() {
                simple.push(g.clone());
            } else if let Ok(g) = compile(g) {
                b.add(g);
                others += 1;
            }
        }
        let set = (others > 0).then(|| b.build().unwrap_or_else(|_| GlobSet::empty()));
        RuleGlobs {
            globs: Some((simple, set)),
        }
    }

    /// Whether the rule governs `path` (repo-relative).
    pub fn governs(&self, path: &str) -> bool {
        let Some((simple, set)) = &self.globs else {
            return true;
        };
        let path = normalize(path);
        simple.iter().any(|g| simple_match(g, &path) == Some(true))
            || set.as_ref().is_some_and(|s| s.is_match(&path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn governs(globs: &[&str], path: &str) -> bool {
        let g: Vec<String> = globs.iter().map(|s| s.to_string()).collect();
        RuleGlobs::new(&g).governs(path)
    }

    #[test]
    fn the_semantics_recall_uses() {
        assert!(governs(&["src/billing/*.rs"], "src/billing/total.rs"));
        assert!(!governs(&["src/billing/*.rs"], "src/billing/tax/vat.rs"));
        assert!(governs(&["src/**/*.rs"], "src/billing/tax/vat.rs"));
        assert!(governs(&["**/*.rs"], "main.rs"));
        assert!(governs(&["*.{ts,tsx}"], "app.tsx"));
        assert!(governs(&["src/billing/*.rs"], "./src/billing/total.rs"));
        assert!(governs(&[], "anything/at/all.txt"));
        assert!(!governs(&["[", "docs/*.md"], "src/x.rs"));
        assert!(governs(&["[", "docs/*.md", "src/{a,b}.rs"], "src/b.rs"));
        assert!(!governs(&["["], "src/b.rs"));
        assert_eq!(
            simple_match("src/billing/**", "src/billing/tax/vat.rs"),
            Some(true)
        );
        assert_eq!(simple_match("src/billing/**", "src/billing"), Some(false));
        assert_eq!(simple_match("src/*.rs", "src/a/b.rs"), Some(false));
        assert_eq!(simple_match("src/[ab].rs", "src/a.rs"), None);
        assert!(check("src/**").is_ok());
        for bad in ["", "/etc/*", "../x", "a\\b", "src/[z"] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }

    /// Every `/`-joined sequence of one to `most` of `parts`.
    fn joined(parts: &[&str], most: usize) -> Vec<String> {
        let mut all: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
        let mut frontier = all.clone();
        for _ in 1..most {
            frontier = frontier
                .iter()
                .flat_map(|f| parts.iter().map(move |p| format!("{f}/{p}")))
                .collect();
            all.extend(frontier.iter().cloned());
        }
        all
    }

    /// The fast path gives globset's answer for every pattern of up to three components built
    /// from literals, `*` and `**`, against every path of up to four components; so does a
    /// rule of that one glob ([`RuleGlobs`], which normalises the path first).
    #[test]
    fn simple_match_agrees_with_globset() {
        let patterns = joined(
            &["a", "b", "*", "**", "*.rs", "a*", "*a*", "x.rs", "a*b"],
            3,
        );
        let paths = joined(&["a", "b", "x.rs", "", "aab", "ba"], 4);
        let mut checked = 0usize;
        for pat in &patterns {
            let m = compile(pat)
                .expect("a simple pattern compiles")
                .compile_matcher();
            let rule = RuleGlobs::new(std::slice::from_ref(pat));
            for path in &paths {
                let fast = simple_match(pat, path).expect("a simple pattern");
                assert_eq!(fast, m.is_match(path), "{pat} against {path:?}");
                let whole = m.is_match(normalize(path));
                assert_eq!(rule.governs(path), whole, "rule {pat} against {path:?}");
                checked += 1;
            }
        }
        assert!(checked > 1_000_000, "{checked}");
    }
}
