//! The repo key (DESIGN §9) and repo-relative paths, found by reading `.git` files only: no
//! `git` process, so it is cheap enough for the hook's hot path.
//!
//! `git@github.com:Acme/Shop.git` → `github.com/acme/shop`; worktrees are followed through
//! `gitdir:` and `commondir`; a repository without a remote gets
//! `local:<first 12 hex of sha256 of its root path>`.

use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Component, Path, PathBuf};

/// A repository found from a working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    /// The work tree root.
    pub root: PathBuf,
    /// `host/owner[/group…]/name` or `local:<hex>`.
    pub key: String,
}

/// Walks up from `start` to the nearest work tree and derives its key. `None` outside a repo.
pub fn discover(start: &Path) -> Option<Repo> {
    let start = normalize(start);
    let mut dir: Option<&Path> = Some(&start);
    while let Some(d) = dir {
        let dotgit = d.join(".git");
        if let Ok(meta) = fs::metadata(&dotgit) {
            let git_dir = if meta.is_dir() {
                Some(dotgit)
            } else {
                read_gitdir_file(&dotgit, d)
            };
            if let Some(git_dir) = git_dir {
                let common = common_dir(&git_dir);
                let key = fs::read_to_string(common.join("config"))
                    .ok()
                    .and_then(|c| remote_url(&c))
                    .and_then(|u| key_from_url(&u))
                    .unwrap_or_else(|| local_key(d));
                return Some(Repo {
                    root: d.to_path_buf(),
                    key,
                });
            }
        }
        dir = d.parent();
    }
    None
}

fn read_gitdir_file(dotgit: &Path, worktree: &Path) -> Option<PathBuf> {
    let text = fs::read_to_string(dotgit).ok()?;
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("gitdir:"))?;
    let p = PathBuf::from(line.trim());
    Some(if p.is_absolute() {
        p
    } else {
        normalize(&worktree.join(p))
    })
}

fn common_dir(git_dir: &Path) -> PathBuf {
    match fs::read_to_string(git_dir.join("commondir")) {
        Ok(t) => {
            let p = PathBuf::from(t.trim());
            if p.is_absolute() {
                p
            } else {
                normalize(&git_dir.join(p))
            }
        }
        Err(_) => git_dir.to_path_buf(),
    }
}

/// The URL of `origin`, else of the first remote, from git config text.
pub fn remote_url(config: &str) -> Option<String> {
    let mut section: Option<String> = None;
    let mut first: Option<String> = None;
    let mut origin: Option<String> = None;
    for raw in config.lines() {
        let line = raw.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            section = parse_remote_section(line);
            continue;
        }
        let Some(name) = &section else { continue };
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if !k.trim().eq_ignore_ascii_case("url") {
            continue;
        }
        let v = v.trim().trim_matches('"').to_string();
        if name == "origin" && origin.is_none() {
            origin = Some(v.clone());
        }
        if first.is_none() {
            first = Some(v);
        }
    }
    origin.or(first)
}

fn parse_remote_section(line: &str) -> Option<String> {
    let inner = line.trim_start_matches('[').trim_end_matches(']').trim();
    let rest = inner.strip_prefix("remote")?;
    let name = rest.trim().trim_matches('"');
    (!name.is_empty()).then(|| name.to_string())
}

/// Normalises a remote URL into a repo key; `None` for local paths and `file://` URLs.
pub fn key_from_url(url: &str) -> Option<String> {
    let url = url.trim();
    let (host, path) = if let Some((scheme, rest)) = url.split_once("://") {
        if scheme.eq_ignore_ascii_case("file") {
            return None;
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority.rsplit('@').next().unwrap_or(authority);
        let host = strip_port(host);
        (host.to_string(), path.to_string())
    } else if let Some((lhs, path)) = url.split_once(':') {
        // scp-like: [user@]host:path — but not a Windows drive or a local path.
        if lhs.contains('/') || lhs.len() <= 1 {
            return None;
        }
        let host = lhs.rsplit('@').next().unwrap_or(lhs);
        (host.to_string(), path.to_string())
    } else {
        return None;
    };
    let host = host.trim().to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    let path = path.trim_matches('/');
    let path = path
        .strip_suffix(".git")
        .unwrap_or(path)
        .trim_end_matches('/');
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != "." && *s != "..")
        .map(|s| s.to_ascii_lowercase())
        .collect();
    if segments.is_empty() {
        return None;
    }
    Some(format!("{host}/{}", segments.join("/")))
}

fn strip_port(host: &str) -> &str {
    if let Some(end) = host.find(']') {
        return &host[..=end];
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

/// `local:` + the first 12 hex digits of sha256 of the root path.
pub fn local_key(root: &Path) -> String {
    let digest = Sha256::digest(root.to_string_lossy().as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("local:{hex}")
}

/// Lexically normalises a path: resolves `.` and `..` without touching the file system.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `path` (absolute, or relative to `cwd`) relative to `root`, with `/` separators; `None` when
/// it lies outside the repository (such paths are never stored).
pub fn relative_path(root: &Path, cwd: &Path, path: &str) -> Option<String> {
    if !plausible_local_path(path) {
        return None;
    }
    let p = Path::new(path);
    let abs = if p.is_absolute() {
        normalize(p)
    } else {
        normalize(&cwd.join(p))
    };
    let rel = abs.strip_prefix(root).ok()?;
    let parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Longest path difflore keeps (PATH_MAX on Linux).
pub const MAX_PATH_BYTES: usize = 4096;

/// `false` for what only looks relative but names something else: a home-relative `~/…`, a
/// drive letter `C:\…`, a UNC `\\server\…`, a URL such as `file:/etc/passwd`, a NUL byte, or a
/// path longer than [`MAX_PATH_BYTES`].
fn plausible_local_path(path: &str) -> bool {
    if path.is_empty() || path.len() > MAX_PATH_BYTES || path.contains('\0') {
        return false;
    }
    if path.starts_with('~') || path.starts_with("\\\\") || path.starts_with("//") {
        return false;
    }
    // `scheme:` (file:, http:, C:, …): letters, digits, `+.-`, then a colon before any slash.
    if let Some(colon) = path.find(':') {
        let head = &path[..colon];
        if !head.is_empty()
            && head.starts_with(|c: char| c.is_ascii_alphabetic())
            && head
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
        {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_remote_urls() {
        let cases = [
            ("git@github.com:Acme/Shop.git", "github.com/acme/shop"),
            ("https://github.com/Acme/Shop.git", "github.com/acme/shop"),
            (
                "https://user:pw@github.com:443/Acme/Shop/",
                "github.com/acme/shop",
            ),
            (
                "ssh://git@gitlab.example.com:2222/group/sub/proj.git",
                "gitlab.example.com/group/sub/proj",
            ),
            ("git://host.xz/a/b", "host.xz/a/b"),
        ];
        for (url, key) in cases {
            assert_eq!(key_from_url(url).as_deref(), Some(key), "{url}");
        }
        assert_eq!(key_from_url("/srv/git/shop.git"), None);
        assert_eq!(key_from_url("file:///srv/git/shop.git"), None);
        assert_eq!(key_from_url("../shop"), None);
    }

    #[test]
    fn origin_wins_over_first_remote() {
        let cfg = "[core]\n\tbare = false\n[remote \"upstream\"]\n\turl = git@github.com:up/x.git\n[remote \"origin\"]\n\turl = https://github.com/Me/X.git\n";
        assert_eq!(
            remote_url(cfg).as_deref(),
            Some("https://github.com/Me/X.git")
        );
        let cfg = "[remote \"upstream\"]\n\turl = git@github.com:up/x.git\n";
        assert_eq!(remote_url(cfg).as_deref(), Some("git@github.com:up/x.git"));
        assert_eq!(remote_url("[core]\n"), None);
    }

    #[test]
    fn discovers_repos_and_worktrees() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("shop");
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::create_dir_all(root.join("src/deep")).unwrap();
        fs::write(
            root.join(".git/config"),
            "[remote \"origin\"]\n\turl = git@github.com:Acme/Shop.git\n",
        )
        .unwrap();
        let r = discover(&root.join("src/deep")).unwrap();
        assert_eq!(r.key, "github.com/acme/shop");
        assert_eq!(r.root, root);
        // A linked worktree: .git is a file pointing into the main repo's worktrees dir.
        let wt = d.path().join("wt");
        let wt_git = root.join(".git/worktrees/wt");
        fs::create_dir_all(&wt_git).unwrap();
        fs::write(wt_git.join("commondir"), "../..\n").unwrap();
        fs::create_dir_all(&wt).unwrap();
        fs::write(wt.join(".git"), format!("gitdir: {}\n", wt_git.display())).unwrap();
        let r = discover(&wt).unwrap();
        assert_eq!(r.key, "github.com/acme/shop");
        assert_eq!(r.root, wt);
        // No remote → local key.
        let lone = d.path().join("lone");
        fs::create_dir_all(lone.join(".git")).unwrap();
        let r = discover(&lone).unwrap();
        assert!(
            r.key.starts_with("local:") && r.key.len() == 18,
            "{}",
            r.key
        );
    }

    #[test]
    fn relative_paths_stay_inside() {
        let root = Path::new("/home/dev/project");
        let cwd = Path::new("/home/dev/project/src");
        assert_eq!(
            relative_path(root, cwd, "/home/dev/project/src/billing.rs").as_deref(),
            Some("src/billing.rs")
        );
        assert_eq!(
            relative_path(root, cwd, "lib.rs").as_deref(),
            Some("src/lib.rs")
        );
        assert_eq!(
            relative_path(root, cwd, "../README.md").as_deref(),
            Some("README.md")
        );
        assert_eq!(relative_path(root, cwd, "/home/dev/.ssh/id_rsa"), None);
        assert_eq!(relative_path(root, cwd, "../../other/x"), None);
        for odd in [
            "~/.ssh/id_rsa",
            "C:\\Users\\dev\\x.rs",
            "c:/x.rs",
            "\\\\server\\share\\x",
            "//server/share/x",
            "file:/etc/passwd",
            "file:///etc/passwd",
            "https://example.com/x",
            "a\0b",
        ] {
            assert_eq!(relative_path(root, cwd, odd), None, "{odd}");
        }
        assert_eq!(relative_path(root, cwd, &"a/".repeat(3000)), None);
        assert_eq!(
            relative_path(root, cwd, "src/a:b.rs").as_deref(),
            Some("src/src/a:b.rs")
        );
    }
}
