//! `difflore memory review`: pending candidates one at a time, with their evidence — approve,
//! reject (with an optional reason), edit then decide, skip, or quit. Interactive only: without
//! a terminal it says which non-interactive commands do the same.

use crate::memory_cmd::{print_evidence, print_rule, refuse_agents};
use anyhow::bail;
use dialoguer::theme::ColorfulTheme;
use dialoguer::{Input, Select};
use difflore_rules::memory::{self, Edit};
use rusqlite::Connection;
use std::io::IsTerminal;

#[derive(Default)]
struct Tally {
    approved: usize,
    rejected: usize,
    edited: usize,
    skipped: usize,
}

pub fn run(conn: &Connection, repo: Option<&str>) -> anyhow::Result<()> {
    refuse_agents("review")?;
    let pending = memory::list(conn, Some("pending"), repo)?;
    if pending.is_empty() {
        println!("no pending candidates to review");
        return Ok(());
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        bail!(
            "`difflore memory review` is interactive and needs a terminal. Without one use:\n  difflore memory list --status pending\n  difflore memory show ID\n  difflore memory approve ID…\n  difflore memory reject ID… [--reason TEXT]\n  difflore memory edit ID [--title …] [--statement …] [--globs …]"
        );
    }
    let theme = ColorfulTheme::default();
    let mut t = Tally::default();
    let n = pending.len();
    'rules: for (i, rule) in pending.iter().enumerate() {
        let mut rule = rule.clone();
        loop {
            println!("\n── candidate {} of {n} ──", i + 1);
            print_rule(conn, &rule);
            print_evidence(&rule);
            let choice = Select::with_theme(&theme)
                .with_prompt("Decide")
                .items(["approve", "reject", "edit", "skip", "quit"])
                .default(0)
                .interact_opt()?;
            match choice {
                Some(0) => {
                    memory::set_status(conn, &rule.id, "active", None)?;
                    println!("approved {}", memory::short_id(conn, &rule.id));
                    t.approved += 1;
                }
                Some(1) => {
                    let reason: String = Input::with_theme(&theme)
                        .with_prompt("Reason (optional)")
                        .allow_empty(true)
                        .interact_text()?;
                    let reason = Some(reason.trim()).filter(|r| !r.is_empty());
                    memory::set_status(conn, &rule.id, "rejected", reason)?;
                    println!(
                        "rejected {}: never served, its comments never proposed again",
                        memory::short_id(conn, &rule.id)
                    );
                    t.rejected += 1;
                }
                Some(2) => {
                    rule = edit(conn, &theme, &rule)?;
                    t.edited += 1;
                    continue;
                }
                Some(3) => t.skipped += 1,
                _ => break 'rules,
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
        memory::list(conn, Some("pending"), repo)?.len()
    );
    Ok(())
}

fn edit(
    conn: &Connection,
    theme: &ColorfulTheme,
    r: &memory::Rule,
) -> anyhow::Result<memory::Rule> {
    let title: String = Input::with_theme(theme)
        .with_prompt("Title")
        .with_initial_text(r.title.clone())
        .interact_text()?;
    let statement: String = Input::with_theme(theme)
        .with_prompt("Statement")
        .with_initial_text(r.statement.clone())
        .interact_text()?;
    let globs: String = Input::with_theme(theme)
        .with_prompt("Globs (comma-separated, empty = all files)")
        .with_initial_text(r.globs.join(","))
        .allow_empty(true)
        .interact_text()?;
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
    match memory::edit(conn, &r.id, &e) {
        Ok(updated) => Ok(updated),
        Err(err) => {
            eprintln!("not saved: {err}");
            Ok(r.clone())
        }
    }
}
