//! `difflore try`: the whole idea in a minute, in a temporary home, with no network and no
//! setup — import a bundled review history, show the candidates and why they were kept, approve
//! some, replay an agent's read and edit of a governed file through the real hook process, and
//! show what the agent receives and what was recorded. Nothing is written outside the temporary
//! directory, which is removed at the end (unless `--keep`).

use anyhow::Context;
use difflore_core::home::Home;
use difflore_core::store;
use difflore_import::file;
use difflore_rules::kinds::Status;
use difflore_rules::{extract, memory};
use rusqlite::Connection;
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// A review history in difflore's offline format: a fictional shop, eight pull requests.
const SAMPLE: &str = include_str!("../../../docs/try-history.json");
/// How many candidates the demo approves (the most confident).
const APPROVE: usize = 4;

fn step(n: u32, what: &str) {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        println!("\n\x1b[1m{n}. {what}\x1b[0m");
    } else {
        println!("\n{n}. {what}");
    }
}

/// Runs the hook binary like an agent would and returns its answer.
fn hook(home: &Path, payload: &Value) -> anyhow::Result<Value> {
    let exe = std::env::current_exe().context("cannot find the difflore binary")?;
    let mut child = Command::new(exe)
        .args(["hook", "--agent", "claude-code"])
        .env("DIFFLORE_HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot run `difflore hook`")?;
    if let Some(mut sin) = child.stdin.take() {
        sin.write_all(payload.to_string().as_bytes())?;
    }
    let out = child.wait_with_output()?;
    Ok(serde_json::from_slice(&out.stdout).unwrap_or(Value::Null))
}

fn show_answer(answer: &Value, when: &str) {
    let out = &answer["hookSpecificOutput"];
    if let Some(ctx) = out["additionalContext"].as_str() {
        println!("   the agent receives, {when}:");
        for l in ctx.lines() {
            println!("   │ {l}");
        }
    } else if let Some(reason) = out["permissionDecisionReason"].as_str() {
        println!("   the edit is held back once; the agent is told:");
        for l in reason.lines() {
            println!("   │ {l}");
        }
    } else {
        println!("   difflore answers {answer} — nothing to add at this moment");
    }
}

pub fn run(keep: bool) -> anyhow::Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("difflore-try-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let root = tmp.path().to_path_buf();
    println!(
        "difflore try — a demo in {} (removed at the end{})",
        root.display(),
        if keep { ", kept with --keep" } else { "" }
    );
    let home = Home::at(root.join("home"));
    let conn = store::open_for_write(&home)?;
    let repo = import_and_extract(&conn)?;
    review(&conn)?;
    agent_works(&root, &home, &repo)?;
    // What the hook appended to its inbox reaches the outbox as any next command moves it.
    store::fold_hook_events(&home, &conn);
    recorded(&conn)?;
    recurrence_line(&conn)?;

    println!("\nFor real, in your own repository:");
    println!("   difflore import github OWNER/REPO     # or gitlab, or an offline file");
    println!("   difflore memory review                # approve what your team stands by");
    println!(
        "   difflore agents install               # wire Claude Code, Codex, Gemini CLI, Copilot CLI, Qwen Code, Cline, Cursor, OpenCode"
    );
    if keep {
        let kept = tmp.keep();
        println!(
            "\nThe demo's files are kept in {} (DIFFLORE_HOME={}).",
            kept.display(),
            kept.join("home").display()
        );
    } else {
        drop(conn);
        tmp.close()
            .context("cannot remove the demo's temporary directory")?;
        println!("\nNothing was written outside the temporary directory, and it is removed.");
    }
    Ok(())
}

/// Did the rule work? How often reviewers made an approved rule's point before it was approved,
/// and since — the figure `difflore report` keeps per rule.
fn recurrence_line(conn: &Connection) -> anyhow::Result<()> {
    // The sample's history is older than the report's 90 days: the window spans all of it.
    let oldest: Option<String> =
        conn.query_row("SELECT MIN(created_at) FROM review_comments", [], |r| {
            r.get(0)
        })?;
    let days = oldest
        .as_deref()
        .and_then(difflore_core::clock::parse_ms)
        .map_or(90, |ms| {
            (difflore_core::clock::now_ms() - ms) / 86_400_000 + 1
        });
    let counts = difflore_rules::recurrence::counts(conn, days)?;
    let best = memory::list(conn, Some(Status::Active), None)?
        .into_iter()
        .filter_map(|r| counts.get(&r.id).map(|c| (*c, r)))
        .max_by_key(|(c, r)| (c.before, std::cmp::Reverse(r.title.clone())));
    if let Some((c, r)) = best {
        println!(
            "\n   \"{}\": said {} in review before it was approved, {} since — `difflore report` keeps this per rule as new reviews are imported",
            r.title,
            times(c.before),
            times(c.after)
        );
    }
    Ok(())
}

fn times(n: i64) -> String {
    match n {
        1 => "once".to_string(),
        n => format!("{n} times"),
    }
}

/// Step 1: the bundled history imported and extracted; returns its repository key.
fn import_and_extract(conn: &Connection) -> anyhow::Result<String> {
    step(
        1,
        "Import a team's review history (bundled sample, offline)",
    );
    let parsed = file::parse(SAMPLE, None)?;
    let s = file::store_all(conn, &parsed, false)?;
    println!(
        "   {} review comments from {} pull requests of {}",
        s.comments, s.prs, parsed.repo
    );
    let report = extract::run(conn, None, false)?;
    println!(
        "   {} of {} comments state a team convention; the others were dropped:",
        report.kept, report.comments
    );
    for (why, n) in &report.dropped {
        println!("     {n:>2} × {why}");
    }
    Ok(parsed.repo)
}

/// Steps 2 and 3: the candidates, and the most confident approved.
fn review(conn: &Connection) -> anyhow::Result<()> {
    step(2, "Candidate rules — pending until a person approves them");
    let pending = memory::list(conn, Some(Status::Pending), None)?;
    for r in pending.iter().take(8) {
        println!("   {:.2}  {}", r.confidence, r.statement);
        println!(
            "         kept because: {}; globs: {}",
            r.reason.as_deref().unwrap_or("-"),
            r.globs.join(", ")
        );
    }
    if pending.len() > 8 {
        println!("   … and {} more", pending.len() - 8);
    }

    step(
        3,
        "A person approves some (here: the most confident; for real: `difflore memory review`)",
    );
    for r in pending.iter().take(APPROVE) {
        memory::set_status(
            conn,
            &r.id,
            Status::Active,
            Some("approved in difflore try"),
        )?;
        println!("   approved {}  {}", memory::handle(conn, &r.id), r.title);
    }
    Ok(())
}

/// Step 4: a checkout of the sample repository, and an agent's session start, read and edit of
/// a governed file through the real hook process.
fn agent_works(root: &Path, home: &Home, repo: &str) -> anyhow::Result<()> {
    step(
        4,
        "An agent works in the repository; its hooks run `difflore hook`",
    );
    let project = root.join("shop");
    std::fs::create_dir_all(project.join(".git"))?;
    std::fs::create_dir_all(project.join("src/billing"))?;
    std::fs::write(
        project.join(".git/config"),
        format!("[remote \"origin\"]\n\turl = https://{repo}.git\n"),
    )?;
    let file = project.join("src/billing/total.rs");
    std::fs::write(
        &file,
        "pub fn total(items: &[f64]) -> f64 {\n    items.iter().sum()\n}\n",
    )?;
    let base = json!({
        "session_id": "difflore-try-session",
        "transcript_path": root.join("transcript.jsonl"),
        "cwd": project,
    });
    let with = |extra: Value| {
        let mut v = base.clone();
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        v
    };
    let events = [
        (
            "Claude Code starts a session",
            "at the start",
            with(json!({"hook_event_name": "SessionStart", "source": "startup"})),
        ),
        (
            "Claude Code reads src/billing/total.rs (it must read a file before editing it)",
            "before it writes anything",
            with(
                json!({"hook_event_name": "PostToolUse", "tool_name": "Read", "tool_use_id": "toolu_try_1",
                        "tool_input": {"file_path": file}, "tool_response": {"type": "text"}}),
            ),
        ),
        (
            "Claude Code edits src/billing/total.rs",
            "right after the edit, as a self-review",
            with(
                json!({"hook_event_name": "PostToolUse", "tool_name": "Edit", "tool_use_id": "toolu_try_2",
                        "tool_input": {"file_path": file, "old_string": "f64", "new_string": "Money"}}),
            ),
        ),
    ];
    for (what, when, payload) in &events {
        println!("\n → {what}");
        show_answer(&hook(home.root(), payload)?, when);
    }
    Ok(())
}

/// Step 5: what the outbox holds.
fn recorded(conn: &Connection) -> anyhow::Result<()> {
    step(
        5,
        "What was recorded (local outbox; a daemon would deliver it to a team server)",
    );
    let rows: Vec<(String, String)> = {
        let mut st = conn.prepare("SELECT kind, payload FROM outbox ORDER BY seq")?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    for (kind, payload) in &rows {
        let p: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
        match kind.as_str() {
            "rules.served" => println!(
                "   rules.served  file={}  moment={}  rules={}",
                p["file"].as_str().unwrap_or("-"),
                p["moment"].as_str().unwrap_or("-"),
                p["rule_ids"].as_array().map_or(0, Vec::len)
            ),
            _ => println!(
                "   {kind:<13} {} {}",
                p["event"].as_str().unwrap_or("-"),
                p["files"]
                    .as_array()
                    .and_then(|f| f.first())
                    .and_then(Value::as_str)
                    .unwrap_or("")
            ),
        }
    }
    Ok(())
}
