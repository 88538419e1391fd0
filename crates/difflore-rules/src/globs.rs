//! Globs for a rule from the path its comment was on. The narrow form (default) covers files
//! of the same kind in the same directory: `src/billing/total.rs` → `src/billing/*.rs`.

/// The narrow glob for a repo-relative path; `None` without a usable path.
pub fn narrow(path: &str) -> Option<String> {
    let p = path.trim().trim_start_matches("./");
    if p.is_empty() || p.starts_with('/') || p.split('/').any(|s| s == "..") {
        return None;
    }
    let (dir, file) = p.rsplit_once('/').map_or(("", p), |(d, f)| (d, f));
    let ext = file
        .rsplit_once('.')
        .filter(|(stem, _)| !stem.is_empty())
        .map(|(_, e)| e);
    Some(match (dir.is_empty(), ext) {
        (true, Some(e)) => format!("*.{e}"),
        (true, None) => file.to_string(),
        (false, Some(e)) => format!("{dir}/*.{e}"),
        (false, None) => format!("{dir}/*"),
    })
}

#[cfg(test)]
mod tests {
    use super::narrow;

    #[test]
    fn narrow_globs() {
        assert_eq!(
            narrow("src/billing/total.rs").as_deref(),
            Some("src/billing/*.rs")
        );
        assert_eq!(narrow("Makefile").as_deref(), Some("Makefile"));
        assert_eq!(narrow("README.md").as_deref(), Some("*.md"));
        assert_eq!(narrow("docker/Dockerfile").as_deref(), Some("docker/*"));
        assert_eq!(
            narrow(".github/workflows/ci.yml").as_deref(),
            Some(".github/workflows/*.yml")
        );
        assert_eq!(narrow("src/.env").as_deref(), Some("src/*"));
        assert_eq!(narrow(""), None);
        assert_eq!(narrow("../x.rs"), None);
    }
}
