//! Everything difflore knows about an agent as such, in one place: its names, its lifecycle
//! event names and their phases, its tools' kinds, its no-op answers (DESIGN §6,
//! `fixtures/hooks/README.md`) and the environment variables that show a process runs inside it.
//! How each agent's config files are wired lives in `difflore-agents`, over this type.

use serde_json::{Value, json};

/// A supported agent (`--agent`); serialized by its name (`claude-code`, `codex`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Agent {
    ClaudeCode,
    Codex,
    Gemini,
    Cursor,
    /// Qwen Code: Claude Code's hook contract with Gemini CLI's tool names (verified, see the
    /// fixtures README).
    QwenCode,
    /// OpenCode: no command hooks (only a JavaScript plugin API), so difflore reaches it through
    /// MCP and AGENTS.md alone; nothing is captured (verified, see the fixtures README).
    OpenCode,
    /// Cline's CLI: one executable per event in a hooks directory, its own payload (turned into
    /// the common shape by `difflore-hook`) and answer (`contextModification`); a `cancel` aborts
    /// the whole task, so there is no gate (verified, see the fixtures README).
    Cline,
    /// GitHub Copilot CLI: command hooks from `.github/hooks/*.json` and `~/.copilot/hooks/`,
    /// payloads without the event's name (the installed command passes `--event`), answers
    /// `additionalContext` / `permissionDecision` (verified, see the fixtures README).
    Copilot,
}

impl Agent {
    pub const ALL: [Agent; 8] = [
        Agent::ClaudeCode,
        Agent::Codex,
        Agent::Gemini,
        Agent::Cursor,
        Agent::QwenCode,
        Agent::OpenCode,
        Agent::Cline,
        Agent::Copilot,
    ];

    pub fn parse(s: &str) -> Option<Agent> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "claude-code" | "claude" | "claudecode" => Agent::ClaudeCode,
            "codex" => Agent::Codex,
            "gemini" | "gemini-cli" => Agent::Gemini,
            "cursor" => Agent::Cursor,
            "qwen-code" | "qwen" | "qwencode" => Agent::QwenCode,
            "opencode" | "open-code" => Agent::OpenCode,
            "cline" => Agent::Cline,
            "copilot" | "copilot-cli" | "github-copilot" => Agent::Copilot,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "claude-code",
            Agent::Codex => "codex",
            Agent::Gemini => "gemini",
            Agent::Cursor => "cursor",
            Agent::QwenCode => "qwen-code",
            Agent::OpenCode => "opencode",
            Agent::Cline => "cline",
            Agent::Copilot => "copilot",
        }
    }

    /// Where the agent's event sits in the lifecycle; `None` for events difflore does not
    /// capture (Stop, AfterAgent, PreCompress, PostToolBatch, notifications, …).
    pub fn phase(self, event: &str) -> Option<Phase> {
        use Phase::*;
        Some(match (self, event) {
            (
                Agent::ClaudeCode | Agent::Codex | Agent::Gemini | Agent::QwenCode,
                "SessionStart",
            ) => SessionStart,
            (Agent::ClaudeCode | Agent::Codex | Agent::Gemini | Agent::QwenCode, "SessionEnd") => {
                SessionEnd
            }
            (Agent::ClaudeCode | Agent::Codex | Agent::QwenCode, "UserPromptSubmit") => Prompt,
            (Agent::ClaudeCode | Agent::Codex | Agent::QwenCode, "PreToolUse") => ToolPre,
            (Agent::ClaudeCode | Agent::Codex | Agent::QwenCode, "PostToolUse") => ToolPost,
            (Agent::ClaudeCode | Agent::Codex | Agent::QwenCode, "PostToolUseFailure") => {
                ToolFailure
            }
            (Agent::Copilot, "sessionStart") => SessionStart,
            (Agent::Copilot, "sessionEnd") => SessionEnd,
            (Agent::Copilot, "userPromptSubmitted") => Prompt,
            (Agent::Copilot, "preToolUse") => ToolPre,
            (Agent::Copilot, "postToolUse") => ToolPost,
            (Agent::Cline, "TaskStart" | "TaskResume") => SessionStart,
            (Agent::Cline, "TaskComplete" | "TaskCancel") => SessionEnd,
            (Agent::Cline, "UserPromptSubmit") => Prompt,
            (Agent::Cline, "PreToolUse") => ToolPre,
            (Agent::Cline, "PostToolUse") => ToolPost,
            (Agent::Gemini, "BeforeAgent") => Prompt,
            (Agent::Gemini, "BeforeTool") => ToolPre,
            (Agent::Gemini, "AfterTool") => ToolPost,
            (Agent::Cursor, "sessionStart") => SessionStart,
            (Agent::Cursor, "sessionEnd") => SessionEnd,
            (Agent::Cursor, "beforeSubmitPrompt") => Prompt,
            (
                Agent::Cursor,
                "beforeReadFile" | "beforeShellExecution" | "beforeMCPExecution" | "preToolUse",
            ) => ToolPre,
            (
                Agent::Cursor,
                "afterFileEdit" | "afterShellExecution" | "afterMCPExecution" | "postToolUse",
            ) => ToolPost,
            (Agent::Cursor, "postToolUseFailure") => ToolFailure,
            _ => return None,
        })
    }

    /// Environment variables the agent sets for the processes it runs.
    pub fn env_markers(self) -> &'static [&'static str] {
        match self {
            Agent::ClaudeCode => &[
                "CLAUDECODE",
                "CLAUDE_CODE_SESSION_ID",
                "CLAUDE_CODE_ENTRYPOINT",
            ],
            Agent::Codex => &[
                "CODEX_SESSION_ID",
                "CODEX_THREAD_ID",
                "CODEX_SANDBOX",
                "CODEX_SANDBOX_NETWORK_DISABLED",
            ],
            Agent::Gemini => &["GEMINI_SESSION_ID", "GEMINI_CLI"],
            Agent::Cursor => &["CURSOR_AGENT", "CURSOR_SESSION_ID"],
            Agent::QwenCode => &["QWEN_CODE_SESSION_ID", "QWEN_CODE_CLI"],
            // Set in the processes its tools run (`OPENCODE=1`, `OPENCODE_PID`).
            Agent::OpenCode => &["OPENCODE"],
            // Set in the processes its `run_commands` tool starts (verified with the CLI 3.0.65).
            Agent::Cline => &["CLINE_CONNECTOR_CLI_LAUNCH"],
            Agent::Copilot => &["COPILOT_AGENT_SESSION_ID", "COPILOT_CLI"],
        }
    }

    /// The first agent environment variable set (non-empty) in this process, if any: the
    /// process runs inside an agent.
    pub fn env_marker() -> Option<&'static str> {
        Agent::ALL
            .iter()
            .flat_map(|a| a.env_markers())
            .copied()
            .find(|m| std::env::var_os(m).is_some_and(|v| !v.is_empty()))
    }

    /// The answer that changes nothing for this agent and event.
    pub fn noop(agent: Option<Agent>, event: Option<&str>) -> Value {
        match (agent, event) {
            (
                Some(Agent::Cursor),
                Some("beforeShellExecution" | "beforeMCPExecution" | "beforeReadFile"),
            ) => json!({"permission": "allow"}),
            (Some(Agent::Cursor), Some("beforeSubmitPrompt")) => json!({"continue": true}),
            _ => json!({}),
        }
    }
}

/// The normalised lifecycle phase of a captured event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    SessionStart,
    SessionEnd,
    Prompt,
    ToolPre,
    ToolPost,
    ToolFailure,
}

/// What a tool does, across the agents' names for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolKind {
    Read,
    Edit,
    Write,
    Shell,
    Mcp,
    Other,
}

impl ToolKind {
    pub fn of(tool: &str) -> ToolKind {
        match tool {
            "Read" | "NotebookRead" | "read_file" | "read_many_files" | "beforeReadFile"
            | "read_files" | "view" => ToolKind::Read,
            "Edit" | "MultiEdit" | "NotebookEdit" | "replace" | "apply_patch" | "edit"
            | "afterFileEdit" | "editor" => ToolKind::Edit,
            "Write" | "write_file" | "write_to_file" | "create" => ToolKind::Write,
            "Bash" | "bash" | "run_shell_command" | "shell" | "Shell" | "run_commands" => {
                ToolKind::Shell
            }
            t if t.starts_with("mcp__") || t.starts_with("mcp_") || t == "MCP" => ToolKind::Mcp,
            _ => ToolKind::Other,
        }
    }
}
