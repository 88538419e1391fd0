//! `difflore agents status`: how each agent is wired, per scope — detected or not, the MCP entry
//! current, stale or missing, hooks current or stale — read without changing anything.

use crate::edit::{self, Doc, File};
use crate::spec::{self, Agent, Scope, Wiring};
use crate::{Ctx, EntryKind, desired, matches_agent, scripts, toml_value};
use serde::Serialize;
use serde_json::Value;
use std::path::PathBuf;

/// The state of one agent in one scope.
#[derive(Debug, Serialize)]
pub struct ScopeStatus {
    pub scope: &'static str,
    pub hooks_file: PathBuf,
    pub mcp_file: PathBuf,
    /// "current", "stale" (another binary or an old entry), "missing" or "unreadable: …".
    pub mcp: String,
    /// Hook events registered with the current command, out of those difflore uses.
    pub hooks_current: usize,
    pub hooks_stale: usize,
    pub hooks_expected: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AgentStatus {
    pub agent: &'static str,
    pub detected: bool,
    pub scopes: Vec<ScopeStatus>,
    /// Hooks registered in both scopes: every event would run the hook twice.
    pub installed_twice: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn on_path(exe: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(exe).is_file()))
}

/// Reports, without changing anything, how each agent is wired.
pub fn status(ctx: &Ctx, agent: Agent) -> AgentStatus {
    let detected = agent
        .config_dir(&ctx.home, &ctx.project, Scope::User)
        .is_dir()
        || agent.executables().iter().any(|e| on_path(e));
    let want = desired(ctx, agent, Scope::User);
    let mut scopes = Vec::new();
    for scope in [Scope::User, Scope::Project] {
        let hooks_file = agent.hooks_file(&ctx.home, &ctx.project, scope);
        let mcp_file = agent.mcp_file(&ctx.home, &ctx.project, scope);
        let mut st = ScopeStatus {
            scope: scope.as_str(),
            hooks_file: hooks_file.clone(),
            mcp_file: mcp_file.clone(),
            mcp: "missing".into(),
            hooks_current: 0,
            hooks_stale: 0,
            hooks_expected: agent.hook_events().len(),
            error: None,
        };
        if agent == Agent::Cline {
            let (current, stale) = scripts::status(ctx, scope);
            st.hooks_current = current;
            st.hooks_stale = stale;
            st.hooks_expected = spec::CLINE_EVENTS.len();
        }
        // Cline's hooks are script files in a directory (counted above), not a config file.
        let hooks_doc = if agent == Agent::Cline {
            Err(None)
        } else {
            File::load(&hooks_file).map_err(Some)
        };
        match hooks_doc {
            Ok(File {
                doc: Doc::Json { value, .. },
                ..
            }) => {
                for e in want.iter().filter(|e| e.kind == EntryKind::Hook) {
                    if let Some(Value::Array(a)) = edit::get(&value, &e.path) {
                        if a.contains(&e.value) {
                            st.hooks_current += 1;
                        } else if a.iter().any(|x| matches_agent(x, agent)) {
                            st.hooks_stale += 1;
                        }
                    }
                }
            }
            Ok(_) => {}
            Err(Some(e)) => st.error = Some(e.to_string()),
            Err(None) => {}
        }
        let mcp_want = want
            .iter()
            .find(|e| e.kind == EntryKind::Mcp)
            .map(|e| e.value.clone());
        st.mcp = match File::load(&mcp_file) {
            Ok(File {
                doc: Doc::Json { value, .. },
                ..
            }) => {
                let key = vec![agent.mcp_key().to_string(), "difflore".to_string()];
                match edit::get(&value, &key) {
                    Some(v) if Some(v) == mcp_want.as_ref() => "current".into(),
                    Some(_) => "stale".into(),
                    None => "missing".into(),
                }
            }
            Ok(File {
                doc: Doc::Toml(doc),
                ..
            }) => {
                match doc
                    .get("mcp_servers")
                    .and_then(|i| i.get("difflore"))
                    .and_then(|i| i.as_table())
                {
                    Some(t) if Some(toml_value(t)) == mcp_want => "current".into(),
                    Some(_) => "stale".into(),
                    None => "missing".into(),
                }
            }
            Err(e) => format!("unreadable: {e}"),
        };
        if agent == Agent::Cline && scope == Scope::Project {
            // Cline reads MCP servers from its data directory only.
            st.mcp = "n/a".into();
        }
        scopes.push(st);
    }
    let has_hooks = |s: &ScopeStatus| s.hooks_current + s.hooks_stale > 0;
    let installed_twice = scopes.iter().all(has_hooks);
    let note = (agent == Agent::Codex && scopes.iter().any(has_hooks)).then(|| {
        "Codex runs only hooks you trusted: open Codex and review them with /hooks (difflore cannot read Codex's trust state)".to_string()
    });
    AgentStatus {
        agent: agent.as_str(),
        detected,
        scopes,
        installed_twice,
        note,
    }
}
