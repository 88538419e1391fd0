//! `difflore try` runs offline in a temporary home, shows every step with the real hook's
//! answers, and writes nothing outside its temporary directory (which it removes).

mod common;
use common::bin;
use std::process::Command;

#[test]
fn try_shows_the_whole_idea_and_leaves_nothing_behind() {
    let sandbox = tempfile::tempdir().unwrap();
    let (home, tmp) = (sandbox.path().join("home"), sandbox.path().join("tmp"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    let out = Command::new(bin())
        .arg("try")
        .env("HOME", &home)
        .env_remove("DIFFLORE_HOME")
        .env("TMPDIR", &tmp)
        .current_dir(sandbox.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "1. Import a team's review history",
        "33 review comments from 8 pull requests of git.example.com/acme/shop",
        "12 of 33 comments state a team convention",
        "× written by a bot",
        "2. Candidate rules",
        "kept because: ",
        "3. A person approves some",
        "→ Claude Code reads src/billing/total.rs",
        "difflore — team rules for src/billing/total.rs (from past code review):",
        "- Never use f64 for amounts in billing: use Money",
        "https://git.example.com/acme/shop/pulls/101#c-5001",
        "this edit touched src/billing/total.rs",
        "rules.served  file=src/billing/total.rs  moment=read  rules=2",
        "rules.served  file=src/billing/total.rs  moment=after_edit  rules=2",
        // The three comments that make the Money point in other words are one candidate.
        "said 3 times by 2 reviewers; globs: src/billing/*.rs",
        "\": said 3 times in review before it was approved, 0 times since",
        "Nothing was written outside the temporary directory",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(
        !text.contains("\x1b["),
        "no terminal escapes when not on a terminal"
    );
    // Two rules made in the same millisecond are told apart by their shown ids.
    let ids: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split("; rule ").nth(1))
        .filter_map(|r| r.split(';').next())
        .collect();
    assert!(ids.len() >= 2 && ids[0] != ids[1], "{ids:?}");
    // Nothing in HOME (no ~/.difflore), and the temporary directory is gone.
    assert_eq!(std::fs::read_dir(&home).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
}
