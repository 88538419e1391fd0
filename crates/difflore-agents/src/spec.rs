//! What difflore registers in each agent, and where (DESIGN §6, the fixtures README and each
//! agent's documentation): the hook events serving uses, with matchers and the agent's timeout
//! unit, and the MCP server entry — per agent and scope.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};

pub use difflore_core::agent::Agent;

/// Where the entries go: the user's own config (default) or the project's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    User,
    Project,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Project => "project",
        }
    }
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "user" => Some(Scope::User),
            "project" => Some(Scope::Project),
            _ => None,
        }
    }
}

/// How each agent (the hook's own `Agent` type) is wired.
pub trait Wiring: Copy {
    /// The agent's own directory under the user's home.
    fn dir_name(self) -> &'static str;
    /// Executables whose presence on PATH means the agent is installed.
    fn executables(self) -> &'static [&'static str];
    /// The agent's config directory for a scope.
    fn config_dir(self, home: &Path, project: &Path, scope: Scope) -> PathBuf;
    /// The file holding its hooks.
    fn hooks_file(self, home: &Path, project: &Path, scope: Scope) -> PathBuf;
    /// The file holding its MCP servers.
    fn mcp_file(self, home: &Path, project: &Path, scope: Scope) -> PathBuf;
    /// (event, matcher) pairs: only the moments serving uses.
    fn hook_events(self) -> &'static [(&'static str, Option<&'static str>)];
    /// One hook entry (the element appended to the event's array).
    fn hook_entry(self, command: &str, matcher: Option<&str>) -> Value;
    /// The MCP server entry.
    fn mcp_entry(self, bin: &str, env: &[(String, String)]) -> Value;
    /// The key of the MCP servers' table in its file.
    fn mcp_key(self) -> &'static str;
}

impl Wiring for Agent {
    fn dir_name(self) -> &'static str {
        match self {
            Agent::ClaudeCode => ".claude",
            Agent::Codex => ".codex",
            Agent::Gemini => ".gemini",
            Agent::Cursor => ".cursor",
            Agent::QwenCode => ".qwen",
            Agent::OpenCode => ".config/opencode",
            Agent::Cline => ".cline",
            Agent::Copilot => ".copilot",
        }
    }

    /// Executables whose presence on PATH means the agent is installed.
    fn executables(self) -> &'static [&'static str] {
        match self {
            Agent::ClaudeCode => &["claude"],
            Agent::Codex => &["codex"],
            Agent::Gemini => &["gemini"],
            Agent::Cursor => &["cursor", "cursor-agent"],
            Agent::QwenCode => &["qwen"],
            Agent::OpenCode => &["opencode"],
            Agent::Cline => &["cline"],
            Agent::Copilot => &["copilot"],
        }
    }

    /// The agent's config directory for a scope.
    fn config_dir(self, home: &Path, project: &Path, scope: Scope) -> PathBuf {
        match (self, scope) {
            // OpenCode reads `opencode.json` at the project's root; Cline's project hooks live in
            // `.clinerules/hooks/`.
            (Agent::OpenCode, Scope::Project) => project.to_path_buf(),
            (Agent::Cline, Scope::Project) => project.join(".clinerules"),
            // GitHub Copilot CLI reads a repository's `.github/hooks/*.json`.
            (Agent::Copilot, Scope::Project) => project.join(".github"),
            (_, Scope::User) => home.join(self.dir_name()),
            (_, Scope::Project) => project.join(self.dir_name()),
        }
    }

    /// The file holding its hooks.
    fn hooks_file(self, home: &Path, project: &Path, scope: Scope) -> PathBuf {
        let dir = self.config_dir(home, project, scope);
        match self {
            Agent::ClaudeCode | Agent::Gemini | Agent::QwenCode => dir.join("settings.json"),
            Agent::Codex | Agent::Cursor => dir.join("hooks.json"),
            // No command hooks: nothing is written here (its MCP file, for status).
            Agent::OpenCode => dir.join("opencode.json"),
            // Cline runs one executable per event from this directory (see `cline_scripts`).
            Agent::Cline => dir.join("hooks"),
            // Copilot loads every `hooks/*.json`: difflore keeps a file of its own there.
            Agent::Copilot => dir.join("hooks").join("difflore.json"),
        }
    }

    /// The file holding its MCP servers.
    fn mcp_file(self, home: &Path, project: &Path, scope: Scope) -> PathBuf {
        match (self, scope) {
            (Agent::ClaudeCode, Scope::User) => home.join(".claude.json"),
            (Agent::ClaudeCode, Scope::Project) => project.join(".mcp.json"),
            (Agent::Codex, _) => self.config_dir(home, project, scope).join("config.toml"),
            (Agent::Gemini | Agent::QwenCode, _) => {
                self.config_dir(home, project, scope).join("settings.json")
            }
            (Agent::Cursor, _) => self.config_dir(home, project, scope).join("mcp.json"),
            (Agent::OpenCode, _) => self.config_dir(home, project, scope).join("opencode.json"),
            // Cline's CLI keeps MCP servers in its data directory; it has no project MCP file.
            (Agent::Cline, Scope::User) => {
                home.join(".cline/data/settings/cline_mcp_settings.json")
            }
            (Agent::Cline, Scope::Project) => project.join(".clinerules/cline_mcp_settings.json"),
            (Agent::Copilot, Scope::User) => home.join(".copilot/mcp-config.json"),
            // `.github/mcp.json` rather than `.mcp.json`, which Claude Code's entry uses.
            (Agent::Copilot, Scope::Project) => project.join(".github/mcp.json"),
        }
    }

    /// (event, matcher) pairs: only the moments serving uses (see `difflore-hook`'s `serve`).
    fn hook_events(self) -> &'static [(&'static str, Option<&'static str>)] {
        match self {
            Agent::ClaudeCode => &[
                ("SessionStart", None),
                ("UserPromptSubmit", None),
                ("PreToolUse", Some("Edit|Write")),
                ("PostToolUse", Some("Read|Edit|Write")),
            ],
            Agent::Codex => &[
                ("SessionStart", None),
                ("UserPromptSubmit", None),
                ("PreToolUse", Some("apply_patch|Bash")),
                ("PostToolUse", Some("apply_patch|Bash")),
            ],
            Agent::Gemini => &[
                ("SessionStart", None),
                ("BeforeAgent", None),
                ("BeforeTool", Some("replace|write_file")),
                ("AfterTool", Some("read_file|replace|write_file")),
            ],
            // PreToolUse context never reaches Qwen Code's model: only its deny (the gate).
            Agent::QwenCode => &[
                ("SessionStart", None),
                ("UserPromptSubmit", None),
                ("PreToolUse", Some("edit|write_file")),
                ("PostToolUse", Some("read_file|edit|write_file")),
            ],
            // Cursor's hooks cannot carry context: capture only (DESIGN §6).
            Agent::Cursor => &[
                ("beforeSubmitPrompt", None),
                ("beforeReadFile", None),
                ("afterFileEdit", None),
            ],
            // No matchers: every tool fires `preToolUse`/`postToolUse`.
            Agent::Copilot => &[
                ("sessionStart", None),
                ("userPromptSubmitted", None),
                ("preToolUse", None),
                ("postToolUse", None),
            ],
            // OpenCode has no command hooks: MCP only. Cline's hooks are script files, not
            // entries of a JSON file: `cline_scripts` says which.
            Agent::OpenCode | Agent::Cline => &[],
        }
    }

    /// The key of the MCP servers' table in its file.
    fn mcp_key(self) -> &'static str {
        match self {
            Agent::Codex => "mcp_servers",
            Agent::OpenCode => "mcp",
            _ => "mcpServers",
        }
    }

    /// One hook entry (the element appended to the event's array).
    fn hook_entry(self, command: &str, matcher: Option<&str>) -> Value {
        match self {
            Agent::Cursor => json!({"command": command}),
            Agent::Copilot => json!({"type": "command", "bash": command, "timeoutSec": 3}),
            _ => {
                // Claude Code and Codex count seconds, Gemini CLI and Qwen Code milliseconds.
                let timeout = if matches!(self, Agent::Gemini | Agent::QwenCode) {
                    3000
                } else {
                    3
                };
                let hook = json!({"type": "command", "command": command, "timeout": timeout});
                match matcher {
                    Some(m) => json!({"matcher": m, "hooks": [hook]}),
                    None => json!({"hooks": [hook]}),
                }
            }
        }
    }

    /// The MCP server entry (JSON agents; Codex's TOML table is built from the same parts).
    fn mcp_entry(self, bin: &str, env: &[(String, String)]) -> Value {
        if self == Agent::OpenCode {
            let mut v = json!({"type": "local", "command": [bin, "mcp"], "enabled": true});
            if !env.is_empty() {
                let m: serde_json::Map<String, Value> = env
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect();
                v["environment"] = Value::Object(m);
            }
            return v;
        }
        let mut v = json!({"command": bin, "args": ["mcp"]});
        if self == Agent::ClaudeCode {
            v = json!({"type": "stdio", "command": bin, "args": ["mcp"]});
        }
        if self == Agent::Copilot {
            v = json!({"type": "local", "command": bin, "args": ["mcp"], "tools": ["*"]});
        }
        if !env.is_empty() {
            let m: serde_json::Map<String, Value> = env
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            v["env"] = Value::Object(m);
        }
        v
    }
}

/// Cline's hook scripts: (event, whether serving uses it). Cline runs the executable named after
/// the event from its hooks directory; a `PreToolUse` answer cannot hold an edit back (its
/// `cancel` aborts the whole task), so only the moments whose context reaches the model.
pub const CLINE_EVENTS: &[&str] = &["TaskStart", "UserPromptSubmit", "PostToolUse"];

/// The content of one Cline hook script.
pub fn cline_script(command: &str) -> String {
    format!(
        "#!/bin/sh\n# difflore: team rules for Cline (`difflore agents uninstall --agent cline` removes this file)\nexec {command}\n"
    )
}

/// The hook command line: the dedicated `difflore-hook` binary when it is installed next to
/// `bin` (it starts faster: it links only the hook), else `bin hook`; with `DIFFLORE_HOME` when it
/// is not the default.
pub fn hook_command(bin: &str, difflore_home: Option<&str>, agent: Agent) -> String {
    let quote = |s: &str| {
        if s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c))
        {
            s.to_string()
        } else {
            format!("'{}'", s.replace('\'', r"'\''"))
        }
    };
    let lean = Path::new(bin).with_file_name(HOOK_BIN);
    let run = if Path::new(bin).is_absolute() && lean.is_file() {
        format!(
            "{} --agent {}",
            quote(&lean.to_string_lossy()),
            agent.as_str()
        )
    } else {
        format!("{} hook --agent {}", quote(bin), agent.as_str())
    };
    match difflore_home {
        Some(h) => format!("DIFFLORE_HOME={} {run}", quote(h)),
        None => run,
    }
}

/// The file name of the dedicated hook binary, installed beside `difflore`.
pub const HOOK_BIN: &str = "difflore-hook";

/// True when a hook command is one of difflore's for this agent (current or stale).
pub fn is_our_command(command: &str, agent: Agent) -> bool {
    command.contains("difflore") && command.contains(&format!("hook --agent {}", agent.as_str()))
}
