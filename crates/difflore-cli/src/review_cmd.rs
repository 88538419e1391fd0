//! `difflore memory review`: pending candidates one at a time, with their evidence, decided with
//! single keys — `a` approve, `r` reject (with an optional reason), `e` edit then decide, `s`
//! skip, `q` quit, `?` help. Text is edited readline-style (rustyline: Ctrl-A/E/U/K/W, arrows,
//! the current value pre-filled in full). Interactive only: without a terminal it says which
//! non-interactive commands do the same.

use crate::context::refuse_agents;
use crate::rule_view::{print_evidence, print_rule};
use anyhow::bail;
use console::{Key, Term};
use difflore_rules::memory::{self, Edit};
use rusqlite::Connection;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;
use std::io::IsTerminal;

#[derive(Default)]
struct Tally {
    approved: usize,
    rejected: usize,
    edited: usize,
    skipped: usize,
}

/// One key's decision.
enum Decision {
    Approve,
    Reject,
    Edit,
    Skip,
    Quit,
}

const KEYS: &str = "[a]pprove  [r]eject  [e]dit  [s]kip  [q]uit  [?]help";
const HELP: &str = "  a  approve: the rule becomes active and is served to agents
  r  reject: never served; its comments and wording are never proposed again (a reason helps)
  e  edit the title, statement and globs, then decide
  s  skip: leave it pending for later
  q  quit (Esc and Ctrl-C too); decisions already made are kept";

pub fn run(conn: &Connection, repo: Option<&str>) -> anyhow::Result<()> {
    refuse_agents("review")?;
    let pending = memory::list(conn, Some(difflore_rules::kinds::Status::Pending), repo)?;
    if pending.is_empty() {
        println!("no pending candidates to review");
        return Ok(());
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        bail!(
            "`difflore memory review` is interactive and needs a terminal. Without one use:\n  difflore memory list --status pending\n  difflore memory show ID\n  difflore memory approve ID…\n  difflore memory reject ID… [--reason TEXT]\n  difflore memory edit ID [--title …] [--statement …] [--glob …]"
        );
    }
    let term = Term::stderr();
    let mut editor = DefaultEditor::new()?;
    let mut t = Tally::default();
    let n = pending.len();
    'rules: for (i, rule) in pending.iter().enumerate() {
        let mut rule = rule.clone();
        loop {
            println!("\n── candidate {} of {n} ──", i + 1);
            print_rule(conn, &rule);
            print_evidence(&rule);
            match decide(&term)? {
                Decision::Approve => {
                    crate::team::set_status(
                        conn,
                        &rule.id,
                        difflore_rules::kinds::Status::Active,
                        None,
                    )?;
                    println!("approved {}", memory::handle(conn, &rule.id));
                    t.approved += 1;
                }
                Decision::Reject => {
                    let Some(reason) = line(&mut editor, "Reason (optional): ", "")? else {
                        break 'rules;
                    };
                    let reason = Some(reason.trim()).filter(|r| !r.is_empty());
                    crate::team::set_status(
                        conn,
                        &rule.id,
                        difflore_rules::kinds::Status::Rejected,
                        reason,
                    )?;
                    println!(
                        "rejected {}: never served, its comments never proposed again",
                        memory::handle(conn, &rule.id)
                    );
                    t.rejected += 1;
                }
                Decision::Edit => {
                    match edit(conn, &mut editor, &rule)? {
                        Some(updated) => rule = updated,
                        None => break 'rules,
                    }
                    t.edited += 1;
                    continue;
                }
                Decision::Skip => t.skipped += 1,
                Decision::Quit => break 'rules,
            }
            break;
        }
    }
    println!(
        "\nreviewed: {} approved, {} rejected, {} edited, {} skipped; {} still pending",
        t.approved,
        t.rejected,
        t.edited,
        t.skipped,
        memory::list(conn, Some(difflore_rules::kinds::Status::Pending), repo)?.len()
    );
    Ok(())
}

/// Reads one decision key; `?` prints the help, anything else asks again.
fn decide(term: &Term) -> anyhow::Result<Decision> {
    loop {
        term.write_str(&format!("{KEYS}: "))?;
        let key = term.read_key()?;
        term.write_line("")?;
        return Ok(match key {
            Key::Char('a' | 'A') => Decision::Approve,
            Key::Char('r' | 'R') => Decision::Reject,
            Key::Char('e' | 'E') => Decision::Edit,
            Key::Char('s' | 'S') => Decision::Skip,
            Key::Char('q' | 'Q') | Key::Escape | Key::CtrlC => Decision::Quit,
            Key::Char('?' | 'h') => {
                term.write_line(HELP)?;
                continue;
            }
            _ => {
                term.write_line("press a, r, e, s or q (? for help)")?;
                continue;
            }
        });
    }
}

/// One line of text with `initial` pre-filled in full; `None` on Ctrl-C / Ctrl-D (quit).
fn line(editor: &mut DefaultEditor, prompt: &str, initial: &str) -> anyhow::Result<Option<String>> {
    match editor.readline_with_initial(prompt, (initial, "")) {
        Ok(s) => Ok(Some(s)),
        Err(ReadlineError::Interrupted | ReadlineError::Eof) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Edits title, statement and globs; `None` when the person quit halfway (nothing saved).
fn edit(
    conn: &Connection,
    editor: &mut DefaultEditor,
    r: &memory::Rule,
) -> anyhow::Result<Option<memory::Rule>> {
    let Some(title) = line(editor, "Title: ", &r.title)? else {
        return Ok(None);
    };
    let Some(statement) = line(editor, "Statement: ", &r.statement)? else {
        return Ok(None);
    };
    let Some(globs) = line(
        editor,
        "Globs (comma-separated, empty = all files): ",
        &r.globs.join(","),
    )?
    else {
        return Ok(None);
    };
    let globs: Vec<String> = globs
        .split(',')
        .map(|g| g.trim().to_string())
        .filter(|g| !g.is_empty())
        .collect();
    let e = Edit {
        title: Some(title),
        statement: Some(statement),
        globs: Some(globs),
        enforce: None,
    };
    match crate::team::edit(conn, &r.id, &e) {
        Ok(updated) => Ok(Some(updated)),
        Err(err) => {
            eprintln!("not saved: {err}");
            Ok(Some(r.clone()))
        }
    }
}
