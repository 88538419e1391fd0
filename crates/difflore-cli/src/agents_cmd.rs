//! `difflore agents install|uninstall|status`: the command around `difflore-agents` — which
//! agents, which scope, and what to print.

use crate::cli::{AgentsCommand, AgentsTarget};
use crate::render;
use anyhow::{Context, bail};
use difflore_agents::{Agent, Ctx, Scope};
use difflore_core::home::Home;
use difflore_core::repo;

/// One line per agent and scope that has difflore wired, for `difflore status`:
/// `(agent, scope, "hooks 4/4, MCP current")`.
pub fn wired() -> Vec<(String, String, String)> {
    let Ok(ctx) = ctx() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for a in Agent::ALL {
        for s in difflore_agents::status(&ctx, a).scopes {
            if s.hooks_current + s.hooks_stale > 0 || s.mcp != "missing" {
                out.push((
                    a.as_str().to_string(),
                    s.scope.to_string(),
                    format!(
                        "hooks {}/{}{}, MCP {}",
                        s.hooks_current,
                        s.hooks_expected,
                        if s.hooks_stale > 0 {
                            format!(" ({} stale)", s.hooks_stale)
                        } else {
                            String::new()
                        },
                        s.mcp
                    ),
                ));
            }
        }
    }
    out
}

fn ctx() -> anyhow::Result<Ctx> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(std::path::PathBuf::from)
        .context("HOME is not set; agents keep their config under it")?;
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let project = repo::discover(&cwd).map_or(cwd, |r| r.root);
    let bin = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .context("cannot find the difflore binary's own path")?;
    let dh = Home::from_env().context("cannot find DIFFLORE_HOME")?;
    let default = home.join(".difflore");
    let difflore_home = (dh.root() != default).then(|| dh.root().display().to_string());
    Ok(Ctx {
        home,
        project,
        bin: bin.display().to_string(),
        difflore_home,
        state_dir: dh.root().to_path_buf(),
    })
}

fn chosen(ctx: &Ctx, names: &[String]) -> anyhow::Result<Vec<Agent>> {
    if !names.is_empty() {
        return Ok(names.iter().filter_map(|n| Agent::parse(n)).collect());
    }
    let found: Vec<Agent> = Agent::ALL
        .into_iter()
        .filter(|a| difflore_agents::status(ctx, *a).detected)
        .collect();
    if found.is_empty() {
        bail!(
            "no agent found (looked for ~/.claude, ~/.codex, ~/.gemini, ~/.cursor and for claude, codex, gemini, cursor on PATH); name one with --agent"
        );
    }
    Ok(found)
}

fn short(ctx: &Ctx, p: &std::path::Path) -> String {
    match p.strip_prefix(&ctx.home) {
        Ok(rel) => format!("~/{}", rel.display()),
        Err(_) => p.display().to_string(),
    }
}

fn change(ctx: &Ctx, t: AgentsTarget, install: bool) -> anyhow::Result<()> {
    let scope = Scope::parse(&t.scope).context("--scope is user or project")?;
    let mut failed = 0;
    for agent in chosen(ctx, &t.agents)? {
        let result = if install {
            difflore_agents::install(ctx, agent, scope, t.dry_run)
        } else {
            difflore_agents::uninstall(ctx, agent, scope, t.dry_run)
        };
        let changes = match result {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{} ({}): {e}", agent.as_str(), scope.as_str());
                failed += 1;
                continue;
            }
        };
        let n: usize = changes
            .iter()
            .map(|c| c.added + c.replaced + c.removed)
            .sum();
        let verb = match (install, t.dry_run) {
            (true, true) => "would add or update",
            (true, false) => "added or updated",
            (false, true) => "would remove",
            (false, false) => "removed",
        };
        if n == 0 {
            println!(
                "{} ({}): {}",
                agent.as_str(),
                scope.as_str(),
                if install {
                    "already installed, nothing to change"
                } else {
                    "nothing of difflore's to remove"
                }
            );
        } else {
            println!(
                "{} ({}): {verb} {n} entries",
                agent.as_str(),
                scope.as_str()
            );
        }
        for c in changes.iter().filter(|c| !c.diff.is_empty()) {
            println!("  {}", short(ctx, &c.file));
            if let Some(b) = &c.backup {
                println!("    backup: {b}");
            }
            if let Some(note) = &c.note {
                println!("    note: {note}");
            }
            if t.dry_run {
                let on = crate::render::colour(false);
                for line in c.diff.lines() {
                    let sgr = match line.as_bytes().first() {
                        Some(b'+') if !line.starts_with("+++") => "32",
                        Some(b'-') if !line.starts_with("---") => "31",
                        Some(b'@') => "36",
                        _ => "",
                    };
                    if sgr.is_empty() {
                        println!("    {line}");
                    } else {
                        println!("    {}", crate::render::paint(on, sgr, line));
                    }
                }
            }
        }
        if install && agent == Agent::Codex && n > 0 && !t.dry_run {
            println!(
                "  Codex runs only hooks you trust: start `codex`, type /hooks and trust the difflore hooks."
            );
        }
    }
    if failed > 0 {
        bail!("{failed} agent(s) were left untouched (see above)");
    }
    Ok(())
}

pub fn run(cmd: AgentsCommand) -> anyhow::Result<()> {
    let ctx = ctx()?;
    match cmd {
        AgentsCommand::Install(t) => change(&ctx, t, true),
        AgentsCommand::Uninstall(t) => change(&ctx, t, false),
        AgentsCommand::Status { agents, json } => {
            let list: Vec<Agent> = if agents.is_empty() {
                Agent::ALL.to_vec()
            } else {
                agents.iter().filter_map(|n| Agent::parse(n)).collect()
            };
            let all: Vec<_> = list
                .iter()
                .map(|a| difflore_agents::status(&ctx, *a))
                .collect();
            if json {
                return render::json(&serde_json::json!({"schema_version": 1, "agents": all}));
            }
            let mut t = render::table(&["agent", "detected", "scope", "mcp", "hooks", "warning"]);
            for a in &all {
                for s in &a.scopes {
                    let hooks = match (s.hooks_current, s.hooks_stale) {
                        _ if s.hooks_expected == 0 => "n/a (MCP only)".to_string(),
                        (0, 0) => "none".to_string(),
                        (c, 0) => format!("{c}/{} current", s.hooks_expected),
                        (c, st) => format!("{c}/{} current, {st} stale", s.hooks_expected),
                    };
                    let warn = [
                        s.error.clone(),
                        (a.installed_twice && s.scope == "project")
                            .then(|| "hooks in both scopes: each event runs twice".to_string()),
                        (s.mcp == "stale" || s.hooks_stale > 0)
                            .then(|| "stale: run `difflore agents install`".to_string()),
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("; ");
                    t.add_row(vec![
                        a.agent.to_string(),
                        if a.detected { "yes" } else { "no" }.to_string(),
                        s.scope.to_string(),
                        s.mcp.clone(),
                        hooks,
                        warn,
                    ]);
                }
            }
            println!("{t}");
            for a in all.iter().filter_map(|a| a.note.as_ref()) {
                println!("note: {a}");
            }
            Ok(())
        }
    }
}
