//! `difflore … | head -1`: every read command ends quietly with exit 0 when its reader goes
//! away after the first line, instead of panicking with "failed printing to stdout".

mod common;
use common::Env;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

/// Runs `args` with stdout read for one line and then closed; returns (exit code, stderr).
fn head_1(e: &Env, args: &[&str]) -> (Option<i32>, String) {
    let mut c = e
        .cmd(args)
        .current_dir(e.project())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut out = BufReader::new(c.stdout.take().unwrap());
        let mut line = String::new();
        let _ = out.read_line(&mut line);
    } // the reader goes away here
    let o = c.wait_with_output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn read_commands_exit_quietly_when_the_reader_goes_away() {
    let e = Env::init();
    // Enough rules that every listing is far longer than a pipe buffer.
    for i in 0..400 {
        let (_, err, code) = e.run(&[
            "memory",
            "add",
            "--repo",
            "github.com/acme/shop",
            "--title",
            &format!("Rule {i}"),
            "--statement",
            &format!("Always check the {i}th invariant before writing to the ledger store."),
            "--glob",
            "src/**/*.rs",
        ]);
        assert_eq!(code, 0, "{err}");
    }
    std::fs::write(e.project().join("src/a.rs"), "fn a() {}\n").unwrap();
    for args in [
        &["memory", "list"][..],
        &["memory", "list", "--json"],
        &["status"],
        &["status", "--json"],
        &["export", "--format", "agents-md", "--output", "-"],
        &["recall", "--file", "src/a.rs", "--top-k", "50"],
        &["outbox", "list"],
    ] {
        let (code, err) = head_1(&e, args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
    }
}
