//! A newcomer's frictions, each as the user meets it: what `recall --diff` says of a file a
//! narrow glob governs, the hidden login prompt, the import that lands under another repo, and
//! the small things a terminal user expects.

mod common;
use common::{Env, git, run_in};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A checkout of github.com/acme/shop with one commit.
fn checkout(e: &Env) -> PathBuf {
    let d = e.dir.path().join("shop");
    std::fs::create_dir_all(d.join("src/billing")).unwrap();
    std::fs::create_dir_all(d.join("db/migrations")).unwrap();
    git(&d, &["init", "-q"]);
    git(
        &d,
        &["remote", "add", "origin", "git@github.com:acme/shop.git"],
    );
    std::fs::write(d.join("src/billing/total.rs"), "fn total() -> i64 { 0 }\n").unwrap();
    git(&d, &["add", "."]);
    git(&d, &["commit", "-qm", "init"]);
    d
}

#[test]
fn recall_diff_names_every_file_a_narrow_glob_governs() {
    let e = Env::init();
    let d = checkout(&e);
    for (title, statement, glob) in [
        (
            "No f64 in billing",
            "Never use f64 for amounts in billing: use Money.",
            "src/billing/*.rs",
        ),
        (
            "Append-only migrations",
            "Migrations are append-only: never edit one that shipped.",
            "db/migrations/**/*.sql",
        ),
    ] {
        let (_, err, code) = run_in(
            &e,
            &d,
            &[
                "memory",
                "add",
                "--title",
                title,
                "--statement",
                statement,
                "--glob",
                glob,
            ],
        );
        assert_eq!(code, 0, "{err}");
    }
    // Changes whose text shares nothing with the rules.
    std::fs::write(d.join("src/billing/total.rs"), "fn total() -> i64 { 42 }\n").unwrap();
    std::fs::write(
        d.join("db/migrations/0007_orders.sql"),
        "CREATE TABLE orders (id INT);\n",
    )
    .unwrap();
    let (out, err, code) = run_in(&e, &d, &["recall", "--diff"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("2 of 2 files governed by active rules"),
        "{out}"
    );
    assert!(
        out.contains("No f64 in billing") && out.contains("Append-only migrations"),
        "{out}"
    );
    let (out, _, _) = run_in(&e, &d, &["recall", "--diff", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    for f in v["files"].as_array().unwrap() {
        let n = f["rules"].as_array().unwrap().len()
            + f["governed_not_relevant"].as_array().unwrap().len();
        assert_eq!(n, 1, "{f}");
    }
}

#[test]
fn an_import_for_another_repo_says_so_and_lists_stay_in_the_checkout() {
    let e = Env::init();
    let d = checkout(&e);
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/import-example.json");
    let (out, err, code) = run_in(&e, &d, &["import", "file", example.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("but this is a checkout of github.com/acme/shop")
            && err.contains("--repo github.com/acme/shop"),
        "{err}"
    );
    // Inside the checkout: only its own rules (none yet) and global ones.
    let (out, _, _) = run_in(&e, &d, &["memory", "list"]);
    assert!(
        out.contains("for github.com/acme/shop") && out.contains("--all-repos"),
        "{out}"
    );
    let (out, _, _) = run_in(&e, &d, &["memory", "list", "--all-repos", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(!v["rules"].as_array().unwrap().is_empty(), "{v}");
    let (out, _, _) = run_in(&e, &d, &["memory", "list", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["rules"].as_array().unwrap().is_empty(), "{v}");
    // With --repo, no note, and the rules belong to the checkout.
    let (_, err, code) = run_in(
        &e,
        &d,
        &[
            "import",
            "file",
            example.to_str().unwrap(),
            "--repo",
            "github.com/acme/shop",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("note:"), "{err}");
    let (out, _, _) = run_in(&e, &d, &["memory", "list", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(!v["rules"].as_array().unwrap().is_empty(), "{v}");
}

/// Runs `cmd` (a shell command line) in a real terminal of 80 columns via `script`, feeding
/// `input` after a pause; returns everything the terminal showed.
fn in_terminal(e: &Env, dir: &Path, cmd: &str, input: &[u8], env: &[(&str, &str)]) -> String {
    use std::io::Write;
    let mut c = Command::new("script");
    c.args(["-qec", &format!("stty cols 80 rows 50; {cmd}"), "/dev/null"])
        .env("DIFFLORE_HOME", e.home())
        .env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    {
        let mut sin = child.stdin.take().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
        let _ = sin.write_all(input);
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let o = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn bin() -> &'static str {
    common::bin()
}

#[test]
fn handles_are_short_ambiguity_lists_candidates_and_tables_fit_80_columns() {
    let e = Env::init();
    let d = checkout(&e);
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/try-history.json");
    let (_, err, code) = run_in(
        &e,
        &d,
        &[
            "import",
            "file",
            example.to_str().unwrap(),
            "--repo",
            "github.com/acme/shop",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (out, _, _) = run_in(&e, &d, &["memory", "list", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<String> = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.len() >= 2, "{v}");
    // The table shows a handle of a few characters, and each handle works.
    let (table, _, _) = run_in(&e, &d, &["memory", "list"]);
    for id in &ids {
        let tail = id.rsplit('-').next().unwrap();
        let handle = (6..=12)
            .map(|n| &tail[12 - n..])
            .find(|h| table.contains(*h))
            .unwrap_or_else(|| panic!("no handle of {id} in\n{table}"));
        assert!(handle.len() <= 8, "{handle}");
        let (out, err, code) = run_in(&e, &d, &["memory", "show", handle, "--json"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(id.as_str()));
    }
    // A prefix they all share is ambiguous: the candidates are listed.
    let (_, err, code) = run_in(&e, &d, &["memory", "show", &ids[0][..4]]);
    assert_eq!(code, 1);
    assert!(
        err.contains("matches several rules") && err.lines().count() >= 3,
        "{err}"
    );
    // Pausing a pending rule says what to do.
    let (_, err, code) = run_in(&e, &d, &["memory", "pause", &ids[0]]);
    assert_eq!(code, 1);
    assert!(err.contains("approve it first"), "{err}");
    // In an 80-column terminal, the table fits.
    let shown = in_terminal(&e, &d, &format!("{} memory list", bin()), b"", &[]);
    assert!(
        shown.contains("STATUS") && shown.lines().count() > ids.len(),
        "{shown}"
    );
    for line in shown.lines() {
        assert!(
            line.trim_end_matches('\r').chars().count() <= 80,
            "too wide: {line:?}\n{shown}"
        );
    }
}

#[test]
fn the_login_token_is_not_echoed() {
    let e = Env::init();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token = "dfl_0123456789abcdef_SECRETSECRETSECRET";
    let shown = in_terminal(
        &e,
        e.dir.path(),
        &format!("{} sync login --server http://127.0.0.1:{port}", bin()),
        format!("{token}\r").as_bytes(),
        &[],
    );
    assert!(shown.contains("it is not shown"), "{shown}");
    assert!(
        !shown.contains("SECRETSECRET"),
        "the token was echoed: {shown}"
    );
}

#[test]
fn colour_errors_init_status_and_export_speak_to_a_terminal_user() {
    let e = Env::new();
    let (out, _, code) = e.run(&["init"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("next:") && out.contains("difflore import github"),
        "{out}"
    );
    // `error:` is red on a terminal, plain with NO_COLOR or in a pipe.
    let shown = in_terminal(
        &e,
        e.dir.path(),
        &format!("{} memory show 0000", bin()),
        b"",
        &[],
    );
    assert!(shown.contains("\x1b[1;31merror:\x1b[0m"), "{shown:?}");
    let shown = in_terminal(
        &e,
        e.dir.path(),
        &format!("{} memory show 0000", bin()),
        b"",
        &[("NO_COLOR", "1")],
    );
    assert!(
        shown.contains("error:") && !shown.contains("\x1b[1;31m"),
        "{shown:?}"
    );
    let (_, err, _) = e.run(&["memory", "show", "0000"]);
    assert!(err.starts_with("error:"), "{err}");
    // Status: rule counts and the wired agents.
    let (_, _, code) = e.run(&[
        "memory",
        "add",
        "--global",
        "--title",
        "T",
        "--statement",
        "Always test.",
    ]);
    assert_eq!(code, 0);
    let (out, _, _) = e.run(&["status"]);
    assert!(out.contains("rules          1 active"), "{out}");
    assert!(out.contains("agents"), "{out}");
    let (out, _, _) = e.run(&["status", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rules"]["active"], 1, "{v}");
    // Export outside a checkout asks where, and writes nothing.
    let (_, err, code) = e.run(&["export", "--format", "agents-md"]);
    assert_eq!(code, 1);
    assert!(err.contains("--output"), "{err}");
    assert!(!e.dir.path().join("AGENTS.md").exists());
}

#[test]
fn glob_is_one_repeatable_flag_everywhere() {
    let e = Env::init();
    let (out, err, code) = e.run(&[
        "memory",
        "add",
        "--global",
        "--json",
        "--title",
        "T",
        "--statement",
        "Always test.",
        "--glob",
        "src/a/*.rs",
        "--glob",
        "src/b/*.rs",
    ]);
    assert_eq!(code, 0, "{err}");
    let id = serde_json::from_str::<Value>(&out).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (out, err, code) = e.run(&[
        "memory", "edit", &id, "--json", "--glob", "lib/*.py", "--glob", "app/*.py",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["globs"], serde_json::json!(["lib/*.py", "app/*.py"]));
    // The older comma-separated spelling still works on both.
    let (out, err, code) = e.run(&["memory", "edit", &id, "--json", "--globs", "x/*.go,y/*.go"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["globs"], serde_json::json!(["x/*.go", "y/*.go"]));
}

/// `[daemon]` is a typed section: a value out of range, or an unknown key, is refused where it
/// is read — on the command line (exit 2, clap's message) and in config.toml (exit 1, naming the
/// file) — and the daemon never starts on it.
#[test]
fn daemon_settings_out_of_range_are_refused_where_they_are_read() {
    let e = Env::init();
    let (_, err, code) = e.run(&["daemon", "run", "--batch-size", "0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("batch size must be 1–500 (got 0)"), "{err}");
    let (_, err, code) = e.run(&["daemon", "start", "--poll-ms", "soon"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("must be a whole number"), "{err}");

    let cfg = e.home().join("config.toml");
    std::fs::write(&cfg, "[daemon]\npoll_ms = 5\n").unwrap();
    let (_, err, code) = e.run(&["daemon", "start"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("config.toml") && err.contains("poll interval (ms) must be 10–10000 (got 5)"),
        "{err}"
    );
    std::fs::write(&cfg, "[daemon]\nbatchsize = 50\n").unwrap();
    let (_, err, code) = e.run(&["daemon", "start"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("unknown field `batchsize`"), "{err}");
    let (out, _, _) = e.run(&["daemon", "status"]);
    assert!(!out.contains("running (pid"), "{out}");
}
