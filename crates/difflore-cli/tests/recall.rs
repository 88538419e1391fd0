//! `difflore recall`, `difflore export` and `difflore memory review` as a user runs them: a real
//! git checkout with a real change, the JSON shape of DESIGN §9, abstention, repo vs global scope,
//! cross-repo isolation; export idempotency and untouched surroundings; the interactive review
//! driven through a real pseudo-terminal (`script`), and its refusal without one.

mod common;
use common::{Env, bin, git, run_in};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A real checkout of github.com/acme/shop with one commit.
fn checkout(e: &Env) -> PathBuf {
    let d = e.dir.path().join("shop");
    std::fs::create_dir_all(d.join("src/billing")).unwrap();
    git(&d, &["init", "-q"]);
    git(
        &d,
        &[
            "remote",
            "add",
            "origin",
            "https://github.com/Acme/Shop.git",
        ],
    );
    std::fs::write(d.join("src/billing/total.rs"), "fn total() -> i64 { 0 }\n").unwrap();
    std::fs::write(d.join("README.md"), "# Shop\n").unwrap();
    git(&d, &["add", "."]);
    git(&d, &["commit", "-qm", "init"]);
    d
}

fn add(e: &Env, args: &[&str]) -> String {
    let mut a = vec!["memory", "add", "--json"];
    a.extend_from_slice(args);
    let (out, err, code) = e.run(&a);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str::<Value>(&out).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn rules_env() -> Env {
    let e = Env::init();
    add(
        &e,
        &[
            "--repo",
            "github.com/acme/shop",
            "--title",
            "Money type",
            "--statement",
            "Use Money instead of f64 for amounts and cents.",
            "--glob",
            "src/billing/*.rs",
        ],
    );
    add(
        &e,
        &[
            "--repo",
            "github.com/acme/shop",
            "--title",
            "No unwrap",
            "--statement",
            "Return errors instead of calling unwrap on outside data.",
            "--glob",
            "**/*.rs",
        ],
    );
    add(
        &e,
        &[
            "--repo",
            "github.com/acme/other",
            "--title",
            "Other money",
            "--statement",
            "Use Money instead of f64 for amounts and cents.",
            "--glob",
            "src/billing/*.rs",
        ],
    );
    add(
        &e,
        &[
            "--global",
            "--title",
            "Retry policy",
            "--statement",
            "Retry network calls with exponential backoff and jitter.",
        ],
    );
    add(
        &e,
        &[
            "--global",
            "--title",
            "Docs style",
            "--statement",
            "Write docs in second person.",
            "--glob",
            "**/*.md",
        ],
    );
    e
}

fn recall_json(e: &Env, dir: &Path, args: &[&str]) -> Value {
    let mut a = vec!["recall", "--json"];
    a.extend_from_slice(args);
    let (out, err, code) = run_in(e, dir, &a);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema_version"], 1);
    v
}

fn titles(file: &Value) -> Vec<String> {
    file["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn recall_diff_groups_per_file_with_why() {
    let e = rules_env();
    let d = checkout(&e);
    std::fs::write(
        d.join("src/billing/total.rs"),
        "fn total(cents: i64) -> f64 { cents as f64 / 100.0 }\n",
    )
    .unwrap();
    std::fs::write(
        d.join("src/net.rs"),
        "// retry the request with backoff and jitter\n",
    )
    .unwrap();
    std::fs::write(d.join("LICENSE"), "MIT\n").unwrap();
    let v = recall_json(&e, &d, &["--diff"]);
    let files = v["files"].as_array().unwrap();
    let by_path = |p: &str| {
        files
            .iter()
            .find(|f| f["path"] == p)
            .unwrap_or_else(|| panic!("{p} missing: {v}"))
    };
    // The changed file: the repo's own money rule, found by glob and by the changed terms.
    let total = by_path("src/billing/total.rs");
    assert_eq!(titles(total), vec!["Money type"], "{v}");
    let r = &total["rules"][0];
    for k in ["id", "title", "score", "why"] {
        assert!(r.get(k).is_some(), "{k} missing: {r}");
    }
    assert!(
        r["why"].as_str().unwrap().contains("glob src/billing/*.rs"),
        "{r}"
    );
    assert!(r["score"].as_f64().unwrap() > 0.0);
    // The untracked file: a global rule without globs, found by its text.
    assert_eq!(titles(by_path("src/net.rs")), vec!["Retry policy"], "{v}");
    // Nothing relevant → an empty list (abstention), and never another repo's rule.
    assert!(titles(by_path("LICENSE")).is_empty());
    assert!(!v.to_string().contains("Other money"));

    // The text form tells the same story.
    let (out, _, code) = run_in(&e, &d, &["recall", "--diff"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("src/billing/total.rs")
            && out.contains("Money type")
            && out.contains("why: glob"),
        "{out}"
    );

    // Staged only: nothing is staged yet.
    assert!(
        recall_json(&e, &d, &["--diff", "--staged"])["files"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    git(&d, &["add", "src/billing/total.rs"]);
    let staged = recall_json(&e, &d, &["--diff", "--staged"]);
    assert_eq!(staged["files"].as_array().unwrap().len(), 1);
    // Since a base revision: the commit made on a branch.
    git(&d, &["checkout", "-qb", "feature"]);
    git(&d, &["commit", "-qm", "money"]);
    let base = recall_json(&e, &d, &["--diff", "--base", "HEAD~1"]);
    assert!(
        base["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "src/billing/total.rs")
    );
}

#[test]
fn recall_file_scopes_and_abstains() {
    let e = rules_env();
    let d = checkout(&e);
    // A read (no text): every rule whose glob governs the file; global *.md rule on docs.
    let v = recall_json(&e, &d.join("src"), &["--file", "billing/total.rs"]);
    assert_eq!(v["files"][0]["path"], "src/billing/total.rs");
    assert_eq!(titles(&v["files"][0]), vec!["Money type", "No unwrap"]);
    let v = recall_json(&e, &d, &["--file", "README.md"]);
    assert_eq!(titles(&v["files"][0]), vec!["Docs style"]);
    assert!(
        v["files"][0]["rules"][0]["why"]
            .as_str()
            .unwrap()
            .contains("global rule")
    );
    // Unrelated text on a governed file: nothing.
    let v = recall_json(
        &e,
        &d,
        &[
            "--file",
            "src/billing/total.rs",
            "--text",
            "fix heading typo",
        ],
    );
    assert!(titles(&v["files"][0]).is_empty(), "{v}");
    // Outside any repository: only global rules.
    let v = recall_json(&e, e.dir.path(), &["--file", "src/billing/total.rs"]);
    assert!(titles(&v["files"][0]).is_empty(), "{v}");
    // Bad input gets a clear error.
    let (_, err, code) = run_in(&e, &d, &["recall", "--file", "../../etc/passwd"]);
    assert_eq!(code, 1);
    assert!(err.contains("outside the repository"), "{err}");
    let (_, err, code) = run_in(&e, &d, &["recall", "--diff", "--base", "no-such-rev"]);
    assert_eq!(code, 1);
    assert!(err.contains("no-such-rev"), "{err}");
    let (_, err, code) = run_in(&e, e.dir.path(), &["recall", "--diff"]);
    assert_eq!(code, 1);
    assert!(err.contains("git checkout"), "{err}");
    let (_, err, code) = run_in(&e, &d, &["recall"]);
    assert_eq!(code, 2);
    assert!(err.contains("--diff"), "{err}");
}

#[test]
fn export_is_idempotent_and_keeps_the_rest_of_the_file() {
    let e = rules_env();
    let d = checkout(&e);
    let own = "# Shop\r\n\r\nOur own words, kept exactly.  \n\n<!-- not ours -->\n";
    std::fs::write(d.join("AGENTS.md"), own).unwrap();
    let (out, err, code) = run_in(&e, &d.join("src"), &["export", "--format", "agents-md"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("added a difflore section") && out.contains("4 active rules"),
        "{out}"
    );
    let first = std::fs::read_to_string(d.join("AGENTS.md")).unwrap();
    assert!(first.starts_with(own), "{first}");
    for t in [
        "Money type",
        "No unwrap",
        "Retry policy",
        "Docs style",
        "### This repository (github.com/acme/shop)",
        "### All repositories",
    ] {
        assert!(first.contains(t), "{t} missing:\n{first}");
    }
    assert!(!first.contains("Other money"));
    // Again: byte-for-byte the same, and it says so.
    let (out, _, _) = run_in(&e, &d, &["export", "--format", "agents-md"]);
    assert!(out.contains("up to date"), "{out}");
    assert_eq!(std::fs::read_to_string(d.join("AGENTS.md")).unwrap(), first);
    // Text the user adds after the section survives a rule change.
    let tail = "\n## Later notes\nstill mine\n";
    std::fs::write(d.join("AGENTS.md"), format!("{first}{tail}")).unwrap();
    let (out, err, code) = run_in(&e, &d, &["memory", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let money = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["title"] == "Money type")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(e.run(&["memory", "pause", &money[..13]]).2, 0);
    let (out, _, code) = run_in(&e, &d, &["export", "--format", "agents-md"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("updated the difflore section") && out.contains("3 active rules"),
        "{out}"
    );
    let after = std::fs::read_to_string(d.join("AGENTS.md")).unwrap();
    assert!(after.starts_with(own) && after.ends_with(tail), "{after}");
    assert!(!after.contains("Money type"));
    // CLAUDE.md the same way; `-` prints; broken markers are refused and the file is untouched.
    assert_eq!(run_in(&e, &d, &["export", "--format", "claude-md"]).2, 0);
    assert!(
        std::fs::read_to_string(d.join("CLAUDE.md"))
            .unwrap()
            .contains("--format claude-md")
    );
    let (out, _, code) = run_in(
        &e,
        &d,
        &["export", "--format", "agents-md", "--output", "-"],
    );
    assert_eq!(code, 0);
    assert!(out.starts_with("<!-- difflore:begin -->"));
    let broken = "mine\n<!-- difflore:begin -->\nhalf\n";
    std::fs::write(d.join("X.md"), broken).unwrap();
    let (_, err, code) = run_in(
        &e,
        &d,
        &["export", "--format", "agents-md", "--output", "X.md"],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("refusing to edit") && err.contains("without a matching"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(d.join("X.md")).unwrap(), broken);
}

/// Pending candidates from the offline example file.
fn pending_env() -> Env {
    let e = Env::init();
    let doc = serde_json::json!({"version": 1, "repo": "github.com/acme/shop", "pull_requests": [
    {"number": 7, "author": "sam", "comments": [
        {"id": "11", "author": "rita", "body": "We never use f64 for amounts in billing: use Money.", "path": "src/billing/total.rs", "line": 3, "url": "https://github.com/acme/shop/pull/7#r11"},
        {"id": "12", "author": "omar", "body": "Please don't call db.raw outside migrations.", "path": "src/api/users.rs", "line": 9, "url": "https://github.com/acme/shop/pull/7#r12"}
    ]}]});
    let p = e.dir.path().join("h.json");
    std::fs::write(&p, doc.to_string()).unwrap();
    let (_, err, code) = e.run(&["import", "file", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    e
}

fn statuses(e: &Env) -> Vec<(String, String)> {
    let (out, _, _) = e.run(&["memory", "list", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let mut s: Vec<(String, String)> = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["title"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    s.sort();
    s
}

#[test]
fn review_needs_a_terminal_and_agents_may_not_run_it() {
    let e = pending_env();
    let (_, err, code) = e.run(&["memory", "review"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("needs a terminal") && err.contains("memory approve"),
        "{err}"
    );
    let o = e
        .cmd(&["memory", "review"])
        .env("CLAUDECODE", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("your own terminal"));
    assert!(statuses(&e).iter().all(|(_, s)| s == "pending"));
}

#[test]
fn review_in_a_terminal_approves_rejects_and_edits() {
    if Command::new("script").arg("--version").output().is_err() {
        panic!("`script` (util-linux) is needed to give the review a real terminal");
    }
    let e = pending_env();
    let before = statuses(&e);
    assert_eq!(before.len(), 2);
    // Keys, with pauses so each prompt has drawn: candidate 1 → `?` (help), `e` (edit), keep
    // the title, Ctrl-U clears the statement and a new one is typed, keep the globs, then `a`;
    // candidate 2 → `r` with a reason.
    let keys: &[&[u8]] = &[
        b"?",
        b"e",
        b"\r",
        b"\x15Money only for amounts.\r",
        b"\r",
        b"a",
        b"r",
        b"not a convention\r",
    ];
    let cmd = format!("{} memory review", bin());
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("DIFFLORE_HOME", e.home())
        .env("TERM", "xterm")
        .current_dir(e.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        for k in keys {
            std::thread::sleep(std::time::Duration::from_millis(400));
            stdin.write_all(k).unwrap();
            stdin.flush().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(600));
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("candidate 1 of 2") && text.contains("candidate 2 of 2"),
        "{text}"
    );
    assert!(
        text.contains("https://github.com/acme/shop/pull/7#r"),
        "evidence links shown: {text}"
    );
    assert!(
        text.contains("1 approved, 1 rejected, 1 edited, 0 skipped; 0 still pending")
            && text.contains("approve: the rule becomes active"),
        "{text}"
    );
    let after = statuses(&e);
    assert_eq!(
        after.iter().filter(|(_, s)| s == "active").count(),
        1,
        "{after:?}"
    );
    assert_eq!(
        after.iter().filter(|(_, s)| s == "rejected").count(),
        1,
        "{after:?}"
    );
    let (out, _, _) = e.run(&["memory", "list", "--status", "active", "--json"]);
    assert!(out.contains("Money only for amounts."), "{out}");
}
