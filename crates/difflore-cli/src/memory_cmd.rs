//! `difflore memory list|show|approve|reject|pause|resume|edit|add` (the interactive `review`
//! lives in `review_cmd`).

use crate::cli::MemoryCommand;
use crate::context::{home, refuse_agents};
use crate::render;
use crate::rule_view::{print_evidence, print_rule, rule_json};
use crate::team;
use anyhow::{Context, bail};
use difflore_core::{repo, store};
use difflore_rules::kinds::{Location, Status};
use difflore_rules::memory::{self, Edit};
use rusqlite::Connection;
use serde_json::json;

/// The repo key of the checkout around the current directory, unless the user chose a scope.
fn checkout_scope(chosen: bool) -> Option<String> {
    if chosen {
        return None;
    }
    let cwd = std::env::current_dir().ok()?;
    repo::discover(&cwd).map(|r| r.key)
}

pub fn run(cmd: MemoryCommand) -> anyhow::Result<()> {
    let home = home()?;
    let conn = store::open_for_write(&home)?;
    match cmd {
        MemoryCommand::List {
            status,
            repo,
            all_repos,
            json,
        } => list(&conn, status.as_deref(), repo.as_deref(), all_repos, json),
        MemoryCommand::Review { repo, all_repos } => {
            let here = checkout_scope(repo.is_some() || all_repos);
            crate::review_cmd::run(&conn, repo.as_deref().or(here.as_deref()))
        }
        MemoryCommand::Show { id, json } => show(&conn, &id, json),
        MemoryCommand::Approve { ids } => {
            refuse_agents("approve")?;
            decide(
                &conn,
                &ids,
                Status::Active,
                None,
                ("approved", "already active"),
            )
        }
        MemoryCommand::Reject { ids, reason } => {
            refuse_agents("reject")?;
            let verbs = ("rejected", "already rejected");
            decide(&conn, &ids, Status::Rejected, reason.as_deref(), verbs)
        }
        MemoryCommand::Pause { id } => {
            refuse_agents("pause")?;
            decide(
                &conn,
                &[id],
                Status::Paused,
                None,
                ("paused", "already paused"),
            )
        }
        MemoryCommand::Resume { id } => {
            refuse_agents("resume")?;
            resume(&conn, &id)
        }
        MemoryCommand::Merge { keep, others, json } => {
            refuse_agents("merge")?;
            merge(&conn, &keep, &others, json)
        }
        MemoryCommand::Edit {
            id,
            title,
            statement,
            globs,
            enforce,
            no_enforce,
            json,
        } => {
            refuse_agents("edit")?;
            let globs = globs.all();
            let e = Edit {
                title,
                statement,
                globs: (!globs.is_empty()).then_some(globs),
                enforce: if enforce {
                    Some(true)
                } else if no_enforce {
                    Some(false)
                } else {
                    None
                },
            };
            edit(&conn, &id, &e, json)
        }
        MemoryCommand::Add {
            title,
            statement,
            globs,
            repo: r,
            global,
            enforce,
            share,
            json,
        } => {
            refuse_agents("add")?;
            if share && !home.token_path().exists() {
                bail!(
                    "--share sends the rule to the team's server, and this machine is not logged in: `difflore sync login` first (nothing was added)"
                );
            }
            let new = NewRule {
                title: &title,
                statement: &statement,
                globs: &globs.all(),
                enforce,
            };
            let id = add(&conn, &new, r, global, json)?;
            if share {
                crate::team::share(&conn, &home, &id)?;
            }
            Ok(())
        }
        MemoryCommand::Share { id } => {
            refuse_agents("share")?;
            let r = memory::get(&conn, &id)?;
            if r.location == Location::Team {
                bail!(
                    "rule {} is the team's already",
                    memory::handle(&conn, &r.id)
                );
            }
            crate::team::share(&conn, &home, &r.id)
        }
    }
}

/// What `memory add` was given.
struct NewRule<'a> {
    title: &'a str,
    statement: &'a str,
    globs: &'a [String],
    enforce: bool,
}

/// `memory add`: an active rule of the checkout's repository (or `--repo`, or `--global`).
fn add(
    conn: &Connection,
    new: &NewRule<'_>,
    repo_key: Option<String>,
    global: bool,
    json: bool,
) -> anyhow::Result<String> {
    let key = if global {
        None
    } else {
        Some(match repo_key {
            Some(k) => k.trim().to_ascii_lowercase(),
            None => repo::discover(&std::env::current_dir()?)
                .map(|x| x.key)
                .context("not inside a git checkout: pass --repo KEY or --global")?,
        })
    };
    let rule = memory::add(
        conn,
        new.title,
        new.statement,
        new.globs,
        key.as_deref(),
        new.enforce,
    )?;
    if json {
        render::json(&rule_json(&rule))?;
    } else {
        println!("added (active):");
        print_rule(conn, &rule);
    }
    Ok(rule.id)
}

/// `memory list`: the checkout's rules and global ones (or a chosen repo, or all), as a table
/// or JSON.
fn list(
    conn: &Connection,
    status: Option<&str>,
    repo: Option<&str>,
    all_repos: bool,
    json: bool,
) -> anyhow::Result<()> {
    let here = checkout_scope(repo.is_some() || all_repos);
    let status = status
        .map(str::parse::<Status>)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let all = memory::list(conn, status, repo)?;
    let total = all.len();
    let rules: Vec<memory::Rule> = match &here {
        Some(key) => all
            .into_iter()
            .filter(|r| r.repo.is_none() || r.repo.as_deref() == Some(key.as_str()))
            .collect(),
        None => all,
    };
    let elsewhere = total - rules.len();
    if json {
        return render::json(
            &json!({"schema_version": 1, "rules": rules.iter().map(rule_json).collect::<Vec<_>>()}),
        );
    }
    if rules.is_empty() {
        println!(
            "no rules{}{}",
            status
                .map(|s| format!(" with status {s}"))
                .unwrap_or_default(),
            match (&here, elsewhere) {
                (Some(key), n) if n > 0 =>
                    format!(" for {key} ({n} in other repositories: --all-repos)"),
                _ => String::new(),
            }
        );
        return Ok(());
    }
    let handles = memory::handles(conn)?;
    let mut t = render::table(&["id", "status", "conf", "evidence", "scope", "title"]);
    for r in &rules {
        t.add_row(vec![
            handles
                .get(&r.id)
                .cloned()
                .unwrap_or_else(|| memory::handle(conn, &r.id)),
            r.status.to_string(),
            format!("{:.2}", r.confidence),
            r.evidence.len().to_string(),
            r.repo.clone().unwrap_or_else(|| "global".into()),
            r.title.clone(),
        ]);
    }
    println!("{t}");
    if let (Some(key), true) = (&here, elsewhere > 0) {
        println!(
            "(rules of {key} and global rules; {elsewhere} of other repositories not shown: --all-repos)"
        );
    }
    Ok(())
}

fn show(conn: &Connection, id: &str, json: bool) -> anyhow::Result<()> {
    let r = memory::get(conn, id)?;
    if json {
        let mut v = rule_json(&r);
        v["schema_version"] = json!(1);
        return render::json(&v);
    }
    print_rule(conn, &r);
    println!("  id: {}", r.id);
    print_evidence(&r);
    Ok(())
}

/// Moves each rule to `to`, saying for each whether it changed (`verbs`: done, already); a team
/// rule is decided on the team's server.
fn decide(
    conn: &Connection,
    ids: &[String],
    to: Status,
    reason: Option<&str>,
    (done, already): (&str, &str),
) -> anyhow::Result<()> {
    for id in ids {
        let (r, changed) = team::set_status(conn, id, to, reason)?;
        let team = if r.location == Location::Team {
            " (on the team's server: every developer's agents get it at their next pull)"
        } else {
            ""
        };
        println!(
            "{} {}: {}{}",
            if changed { done } else { already },
            memory::handle(conn, &r.id),
            r.title,
            if changed { team } else { "" }
        );
    }
    Ok(())
}

/// Folds each of `others` into `keep` (through the team's server for team rules).
fn merge(conn: &Connection, keep: &str, others: &[String], json: bool) -> anyhow::Result<()> {
    let mut kept = memory::get(conn, keep)?;
    for o in others {
        let other = memory::get(conn, o)?;
        let before = kept.evidence.len();
        kept = team::merge(conn, &kept.id, &other.id)?;
        if !json {
            println!(
                "merged {} into {}: \"{}\" now has {} piece(s) of evidence (+{}); {} is rejected as merged and its point is not proposed again{}",
                memory::handle(conn, &other.id),
                memory::handle(conn, &kept.id),
                kept.title,
                kept.evidence.len(),
                kept.evidence.len().saturating_sub(before),
                memory::handle(conn, &other.id),
                if kept.location == Location::Team {
                    " (on the team's server)"
                } else {
                    ""
                }
            );
        }
    }
    if json {
        return render::json(&rule_json(&kept));
    }
    Ok(())
}

fn resume(conn: &Connection, id: &str) -> anyhow::Result<()> {
    let r = memory::get(conn, id)?;
    if r.status != Status::Paused {
        bail!(
            "rule {} is {}, not paused",
            memory::handle(conn, &r.id),
            r.status
        );
    }
    let (r, _) = team::set_status(conn, id, Status::Active, None)?;
    println!("resumed {}: {}", memory::handle(conn, &r.id), r.title);
    Ok(())
}

fn edit(conn: &Connection, id: &str, e: &Edit, json: bool) -> anyhow::Result<()> {
    if e.title.is_none() && e.statement.is_none() && e.globs.is_none() && e.enforce.is_none() {
        bail!(
            "nothing to change: give --title, --statement, --glob (repeatable), --enforce or --no-enforce"
        );
    }
    let r = team::edit(conn, id, e)?;
    if json {
        return render::json(&rule_json(&r));
    }
    print_rule(conn, &r);
    Ok(())
}
