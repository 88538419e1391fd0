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

/// The compiled globs of one rule.
pub struct RuleGlobs {
    set: Option<GlobSet>,
}

impl RuleGlobs {
    /// Compiles a rule's globs; a pattern that does not compile matches nothing.
    pub fn new(globs: &[String]) -> RuleGlobs {
        if globs.is_empty() {
            return RuleGlobs { set: None };
        }
        let mut b = GlobSetBuilder::new();
        for g in globs {
            if let Ok(g) = compile(g) {
                b.add(g);
            }
        }
        RuleGlobs {
            set: Some(b.build().unwrap_or_else(|_| GlobSet::empty())),
        }
    }

    /// Whether the rule governs `path` (repo-relative).
    pub fn governs(&self, path: &str) -> bool {
        match &self.set {
            None => true,
            Some(s) => s.is_match(normalize(path)),
        }
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
        assert!(check("src/**").is_ok());
        for bad in ["", "/etc/*", "../x", "a\\b", "src/[z"] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }
}
