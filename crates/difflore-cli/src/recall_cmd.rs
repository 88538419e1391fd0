//! `difflore recall`: the rules that apply to the current change (`--diff`, from git) or to one
//! file (`--file`), grouped per file, ranked, with why — the matching engine as people and
//! scripts see it.

use crate::context::home;
use crate::render;
use anyhow::{Context, bail};
use difflore_core::{repo, store};
use difflore_rules::matching::{self, Match, Query};
use serde_json::json;
use std::path::Path;
use std::process::Command;

/// Changed text kept per file for relevance.
const MAX_TEXT: usize = 64 * 1024;

/// What `recall` was asked.
pub struct RecallArgs {
    pub diff: bool,
    pub staged: bool,
    pub base: Option<String>,
    pub file: Option<String>,
    pub text: Option<String>,
    pub top_k: usize,
    pub json: bool,
}

/// Per file, in the order of the files: the rules that apply to the change, and — when none
/// does — the rules whose glob governs the file but that were judged not relevant to it.
type PerFile = Vec<(String, Vec<Match>, Vec<Match>)>;

/// One changed file: repo-relative path and its added and removed lines.
#[derive(Debug, PartialEq)]
pub struct Changed {
    pub path: String,
    pub text: String,
}

/// Parses `git diff -U0` output into changed files with their changed lines.
pub fn parse_diff(diff: &str) -> Vec<Changed> {
    let mut out: Vec<Changed> = Vec::new();
    let mut old_path: Option<String> = None;
    for line in diff.lines() {
        if line.starts_with("diff --git ") {
            old_path = None;
        } else if let Some(p) = line.strip_prefix("--- ") {
            old_path = p.strip_prefix("a/").map(str::to_string);
        } else if let Some(p) = line.strip_prefix("+++ ") {
            // A deleted file keeps its old name.
            let path = p.strip_prefix("b/").map(str::to_string).or(old_path.take());
            if let Some(path) = path {
                out.push(Changed {
                    path: path.trim_end_matches('\t').to_string(),
                    text: String::new(),
                });
            }
        } else if let Some(rest) = line.strip_prefix('+').or_else(|| line.strip_prefix('-'))
            && let Some(c) = out.last_mut()
            && c.text.len() < MAX_TEXT
        {
            c.text.push_str(rest);
            c.text.push('\n');
        }
    }
    out
}

fn git(root: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .args(["-c", "core.quotepath=off", "-C"])
        .arg(root)
        .args(args)
        .output()
        .context("cannot run git; is it installed?")?;
    if !out.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The files of the current change: `git diff HEAD` (all uncommitted changes) plus untracked
/// files, or the staged changes, or everything since the merge base with `base`.
fn changed_files(root: &Path, staged: bool, base: Option<&str>) -> anyhow::Result<Vec<Changed>> {
    let common = ["diff", "--no-color", "--no-ext-diff", "-U0"];
    let mut args: Vec<String> = common.iter().map(|s| s.to_string()).collect();
    if staged {
        args.push("--cached".into());
    } else if let Some(b) = base {
        if b.starts_with('-') {
            bail!("--base {b:?} is not a revision");
        }
        let mb = git(root, &["merge-base", b, "HEAD"])
            .with_context(|| format!("cannot find where HEAD left {b}"))?;
        args.push(mb.trim().to_string());
    } else {
        let has_head = git(root, &["rev-parse", "--verify", "-q", "HEAD"]).is_ok();
        if has_head {
            args.push("HEAD".into());
        } else {
            args.push("--cached".into());
        }
    }
    args.push("--".into());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut files = parse_diff(&git(root, &argv)?);
    if !staged {
        let others = git(
            root,
            &["ls-files", "-z", "--others", "--exclude-standard", "--"],
        )?;
        for p in others.split('\0').filter(|p| !p.is_empty()) {
            // Only the head of a (possibly huge) new file is read.
            let mut bytes = Vec::new();
            if let Ok(f) = std::fs::File::open(root.join(p)) {
                use std::io::Read;
                let _ = f.take(MAX_TEXT as u64).read_to_end(&mut bytes);
            }
            let text = String::from_utf8_lossy(&bytes);
            let text = difflore_core::redact::prefix_at_most(&text, MAX_TEXT).to_string();
            files.push(Changed {
                path: p.to_string(),
                text,
            });
        }
    }
    Ok(files)
}

/// Matches every file, spread over the machine's cores (one read connection per worker) when
/// the change is large; results keep the order of `files`.
fn match_all(
    home: &difflore_core::home::Home,
    conn: &rusqlite::Connection,
    key: Option<&str>,
    files: &[Changed],
    top_k: usize,
) -> anyhow::Result<PerFile> {
    let one = |c: &rusqlite::Connection,
               f: &Changed|
     -> rusqlite::Result<(String, Vec<Match>, Vec<Match>)> {
        let mut q = Query::new(key).path(&f.path).text(&f.text);
        q.top_k = top_k;
        let apply = matching::match_rules(c, &q)?;
        // A person asking which rules govern a change must hear about a rule whose glob names
        // the file even when the change's text made it rank below the floor.
        let by_glob = if apply.is_empty() && !f.text.is_empty() {
            let mut q = Query::new(key).path(&f.path);
            q.top_k = top_k;
            matching::match_rules(c, &q)?
        } else {
            Vec::new()
        };
        Ok((f.path.clone(), apply, by_glob))
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(files.len() / 8)
        .max(1);
    if workers == 1 {
        return Ok(files
            .iter()
            .map(|f| one(conn, f))
            .collect::<Result<_, _>>()?);
    }
    let chunk = files.len().div_ceil(workers);
    let parts: Vec<anyhow::Result<PerFile>> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || -> anyhow::Result<PerFile> {
                    let c = store::open_read_only(home)?;
                    Ok(part.iter().map(|f| one(&c, f)).collect::<Result<_, _>>()?)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a matching worker failed")))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(files.len());
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

pub fn run(a: RecallArgs) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let found = repo::discover(&cwd);
    let files: Vec<Changed> = if a.diff {
        let r = found
            .as_ref()
            .context("`recall --diff` needs a git checkout; run it inside one, or use --file")?;
        changed_files(&r.root, a.staged, a.base.as_deref())?
    } else if let Some(f) = &a.file {
        let path = match &found {
            Some(r) => repo::relative_path(&r.root, &cwd, f).with_context(|| {
                format!("{f} is outside the repository at {}", r.root.display())
            })?,
            None => f.trim_start_matches("./").to_string(),
        };
        vec![Changed {
            path,
            text: a.text.clone().unwrap_or_default(),
        }]
    } else {
        bail!("say what to recall for: --diff (the current change) or --file PATH");
    };
    let home = home()?;
    let conn = store::open_for_write(&home)?;
    let key = found.as_ref().map(|r| r.key.as_str());
    let results = match_all(&home, &conn, key, &files, a.top_k)?;
    if a.json {
        let files: Vec<_> = results
            .iter()
            .map(|(p, rules, by_glob)| {
                json!({"path": p, "rules": rules.iter().map(|m| json!({
                    "id": m.id, "title": m.title, "score": m.score, "why": m.why,
                })).collect::<Vec<_>>(),
                "governed_not_relevant": by_glob.iter().map(|m| json!({
                    "id": m.id, "title": m.title, "why": m.why,
                })).collect::<Vec<_>>()})
            })
            .collect();
        return render::json(&json!({"schema_version": 1, "files": files}));
    }
    if results.is_empty() {
        println!("no changed files");
        return Ok(());
    }
    let with = results
        .iter()
        .filter(|(_, r, g)| !r.is_empty() || !g.is_empty())
        .count();
    let only_glob = results
        .iter()
        .filter(|(_, r, g)| r.is_empty() && !g.is_empty())
        .count();
    // A rule is named as the hook names it: the random tail of its id, no lookup (a shortest
    // unique handle per shown rule would scan the rulebook for each; `memory show` takes both).
    let handle = |id: &str| difflore_rules::memory::tail_handle(id).to_string();
    for (path, rules, by_glob) in results
        .iter()
        .filter(|(_, r, g)| !r.is_empty() || !g.is_empty())
    {
        println!("{path}");
        for m in rules {
            println!("  {}  {}  ({:.2})", handle(&m.id), m.title, m.score);
            println!("      {}", m.statement);
            println!("      why: {}", m.why);
        }
        for m in by_glob {
            println!(
                "  {}  {}  (matched by glob, judged not relevant to this change)",
                handle(&m.id),
                m.title
            );
            println!("      {}", m.statement);
            println!("      why: {}", m.why);
        }
    }
    println!(
        "{with} of {} file{} governed by active rules{}{}",
        results.len(),
        if results.len() == 1 { "" } else { "s" },
        if only_glob > 0 {
            format!(
                " ({only_glob} only by glob: their rules were judged not relevant to the change)"
            )
        } else {
            String::new()
        },
        if found.is_none() {
            " (outside a repository: global rules only)"
        } else {
            ""
        }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_git_diff() {
        let d = "diff --git a/src/a.rs b/src/a.rs\nindex 1..2 100644\n--- a/src/a.rs\n+++ b/src/a.rs\n@@ -1 +1 @@\n-let x = 1.0;\n+let x = Money::new(1);\n\
diff --git a/old.txt b/old.txt\ndeleted file mode 100644\n--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-gone\n\
diff --git a/new file.md b/new file.md\nnew file mode 100644\n--- /dev/null\n+++ b/new file.md\n@@ -0,0 +1 @@\n+# hi\n";
        let got = parse_diff(d);
        assert_eq!(
            got,
            vec![
                Changed {
                    path: "src/a.rs".into(),
                    text: "let x = 1.0;\nlet x = Money::new(1);\n".into()
                },
                Changed {
                    path: "old.txt".into(),
                    text: "gone\n".into()
                },
                Changed {
                    path: "new file.md".into(),
                    text: "# hi\n".into()
                },
            ]
        );
    }
}
