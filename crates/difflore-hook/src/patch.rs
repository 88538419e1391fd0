//! Paths touched by a Codex `apply_patch` envelope (`*** Begin Patch` … `*** End Patch`), also
//! when the model ran `apply_patch <<'PATCH' …` through the shell.

/// The files an `apply_patch` text adds, updates, deletes or moves to, in order, without
/// duplicates. Empty when the text holds no patch.
pub fn patch_paths(text: &str) -> Vec<String> {
    if !text.contains("*** Begin Patch") {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let path = [
            "*** Update File:",
            "*** Add File:",
            "*** Delete File:",
            "*** Move to:",
        ]
        .iter()
        .find_map(|p| line.strip_prefix(p))
        .map(str::trim);
        if let Some(p) = path.filter(|p| !p.is_empty())
            && !out.iter().any(|o| o == p)
        {
            out.push(p.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::patch_paths;

    #[test]
    fn finds_every_kind_of_file_header() {
        let p = "*** Begin Patch\n*** Update File: src/billing.rs\n@@\n-a\n+b\n*** Add File: CHANGELOG.md\n+x\n*** Delete File: old.rs\n*** Update File: a.rs\n*** Move to: b.rs\n*** Update File: src/billing.rs\n*** End Patch\n";
        assert_eq!(
            patch_paths(p),
            ["src/billing.rs", "CHANGELOG.md", "old.rs", "a.rs", "b.rs"]
        );
    }

    #[test]
    fn heredoc_in_a_shell_command() {
        let c = "apply_patch <<'PATCH'\n*** Begin Patch\n*** Update File: CHANGELOG.md\n@@\n-x\n+y\n*** End Patch\nPATCH";
        assert_eq!(patch_paths(c), ["CHANGELOG.md"]);
        assert!(patch_paths("ls src && echo hi").is_empty());
        assert!(patch_paths("*** Update File: x").is_empty());
    }
}
