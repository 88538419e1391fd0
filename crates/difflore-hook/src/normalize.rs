//! Turns one agent's own hook payload into difflore's `hook.event` (DESIGN §9): agent, event,
//! phase, session, tool, repo key, repo-relative files and sizes — and content (prompt, tool
//! input and output, redacted and truncated) only when the user enabled it.

use crate::agent::{Agent, Phase, ToolKind};
use crate::patch::patch_paths;
use difflore_core::redact::redact_truncated;
use difflore_core::repo::{self, Repo};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Most bytes of each captured content field (keeps an event well under the 64 KiB limit).
const CONTENT_FIELD_MAX: usize = 12 * 1024;
/// Most bytes of a session id or tool name kept (real ones are far shorter).
pub const NAME_MAX: usize = 256;
/// Most files one event keeps (the rest are counted in `files_dropped`).
pub const FILES_MAX: usize = 256;

/// The normalised event: the payload of a `hook.event`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HookEvent {
    pub agent: &'static str,
    pub event: String,
    pub phase: Phase,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_kind: Option<ToolKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    pub files: Vec<String>,
    /// Files the event named that lie outside the repository (their paths are not kept).
    #[serde(skip_serializing_if = "is_zero")]
    pub files_outside_repo: usize,
    /// Files past [`FILES_MAX`] (or past the payload limit), counted but not kept.
    #[serde(skip_serializing_if = "is_zero")]
    pub files_dropped: usize,
    pub sizes: Sizes,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// The content was not kept: the input was too large, or the event would have been.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub content_dropped: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Sizes of what the agent sent (always recorded; they reveal no content).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sizes {
    pub stdin_bytes: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_chars: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_bytes: Option<usize>,
}

/// Content, only with `capture.content = true`, always redacted.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Content {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Working directory of the event: `cwd`, else Cursor's first workspace root.
pub fn event_cwd(v: &Value) -> Option<PathBuf> {
    v.get("cwd")
        .and_then(Value::as_str)
        .or_else(|| {
            v.get("workspace_roots")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(Value::as_str)
        })
        .filter(|s| Path::new(s).is_absolute())
        .map(PathBuf::from)
}

/// Normalises `v` (a parsed payload of `agent`). `None` when the event is not one difflore
/// captures. `repo` is the repository of the event's working directory, if any.
pub fn normalize(
    agent: Agent,
    v: &Value,
    raw_len: usize,
    repo: Option<&Repo>,
    with_content: bool,
) -> Option<HookEvent> {
    let event = v.get("hook_event_name")?.as_str()?;
    let phase = agent.phase(event)?;
    let str_of = |k: &str| v.get(k).and_then(Value::as_str).map(bounded_name);
    let session = str_of("session_id").or_else(|| str_of("conversation_id"));
    let tool = tool_name(agent, event, v).map(|t| bounded_name(&t));
    let tool_kind = tool.as_deref().map(ToolKind::of);
    let cwd = event_cwd(v).unwrap_or_default();

    let named = named_files(agent, event, v, tool_kind);
    let mut files = Vec::new();
    let mut outside = 0;
    let mut dropped = 0;
    for f in &named {
        match repo.and_then(|r| repo::relative_path(&r.root, &cwd, f)) {
            Some(rel) if files.contains(&rel) => {}
            Some(_) if files.len() >= FILES_MAX => dropped += 1,
            Some(rel) => files.push(rel),
            None => outside += 1,
        }
    }

    let prompt = v.get("prompt").and_then(Value::as_str);
    let input = tool_input(agent, event, v);
    let output = v
        .get("tool_response")
        .or_else(|| v.get("output"))
        .filter(|o| !o.is_null());
    let sizes = Sizes {
        stdin_bytes: raw_len,
        prompt_chars: prompt.map(|p| p.chars().count()),
        input_bytes: input.as_ref().map(json_len),
        output_bytes: output.map(json_len),
    };
    let content = with_content.then(|| Content {
        prompt: prompt.map(|p| redact_truncated(p, CONTENT_FIELD_MAX)),
        input: input
            .as_ref()
            .map(|i| redact_truncated(&text_of(i), CONTENT_FIELD_MAX)),
        output: output.map(|o| redact_truncated(&text_of(o), CONTENT_FIELD_MAX)),
        error: v
            .get("error")
            .and_then(Value::as_str)
            .map(|e| redact_truncated(e, CONTENT_FIELD_MAX)),
    });
    Some(HookEvent {
        agent: agent.as_str(),
        event: event.to_string(),
        phase,
        session,
        tool,
        tool_kind,
        repo: repo.map(|r| r.key.clone()),
        files,
        files_outside_repo: outside,
        files_dropped: dropped,
        sizes,
        content,
        content_dropped: false,
    })
}

/// A session id or tool name, cut at [`NAME_MAX`] bytes on a character boundary.
fn bounded_name(s: &str) -> String {
    difflore_core::redact::prefix_at_most(s, NAME_MAX).to_string()
}

fn json_len(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len(),
        other => serde_json::to_vec(other).map_or(0, |b| b.len()),
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The tool's name; Cursor's dedicated events get a stable name of their own.
fn tool_name(agent: Agent, event: &str, v: &Value) -> Option<String> {
    if agent == Agent::Cursor {
        let fixed = match event {
            "beforeReadFile" => Some("read_file"),
            "afterFileEdit" => Some("edit"),
            "beforeShellExecution" | "afterShellExecution" => Some("shell"),
            _ => None,
        };
        if let Some(f) = fixed {
            return Some(f.to_string());
        }
        if matches!(event, "beforeMCPExecution" | "afterMCPExecution") {
            let name = v
                .get("tool_name")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            return Some(format!("mcp__{name}"));
        }
    }
    v.get("tool_name")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The tool input, as a JSON value (Cursor's MCP input is a JSON string; its shell events carry
/// the command at the top level).
fn tool_input(agent: Agent, event: &str, v: &Value) -> Option<Value> {
    if let Some(i) = v.get("tool_input").filter(|i| !i.is_null()) {
        if let Some(s) = i.as_str()
            && let Ok(parsed) = serde_json::from_str::<Value>(s)
        {
            return Some(parsed);
        }
        return Some(i.clone());
    }
    if agent == Agent::Cursor {
        let mut o = serde_json::Map::new();
        for k in ["command", "file_path", "edits"] {
            if let Some(x) = v.get(k) {
                o.insert(k.to_string(), x.clone());
            }
        }
        if event == "beforeReadFile" {
            o.remove("edits");
        }
        return (!o.is_empty()).then_some(Value::Object(o));
    }
    None
}

/// Paths an event names, as the agent wrote them (absolute, or relative to `cwd`).
pub(crate) fn named_files(
    agent: Agent,
    event: &str,
    v: &Value,
    kind: Option<ToolKind>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !s.is_empty() && !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    };
    if agent == Agent::Cursor {
        if let Some(p) = v.get("file_path").and_then(Value::as_str) {
            push(p);
        }
        if event == "beforeSubmitPrompt"
            && let Some(atts) = v.get("attachments").and_then(Value::as_array)
        {
            for a in atts {
                if let Some(p) = a.get("filePath").and_then(Value::as_str) {
                    push(p);
                }
            }
        }
    }
    let Some(input) = v.get("tool_input") else {
        return out;
    };
    if kind == Some(ToolKind::Mcp) {
        return out;
    }
    for k in ["file_path", "absolute_path", "notebook_path", "path"] {
        if let Some(p) = input.get(k).and_then(Value::as_str) {
            push(p);
        }
    }
    if let Some(paths) = input.get("paths").and_then(Value::as_array) {
        for p in paths.iter().filter_map(Value::as_str) {
            push(p);
        }
    }
    // Cline's read_files: {"files": [{"path": …}, …]}.
    if let Some(files) = input.get("files").and_then(Value::as_array) {
        for p in files
            .iter()
            .filter_map(|f| f.get("path").and_then(Value::as_str))
        {
            push(p);
        }
    }
    if let Some(edits) = input.get("edits").and_then(Value::as_array) {
        for e in edits {
            if let Some(p) = e.get("file_path").and_then(Value::as_str) {
                push(p);
            }
        }
    }
    // Codex apply_patch (tool input `command`), also through the shell as a heredoc.
    if let Some(cmd) = input.get("command").and_then(Value::as_str) {
        for p in patch_paths(cmd) {
            push(&p);
        }
    }
    if let Some(s) = input.as_str() {
        for p in patch_paths(s) {
            push(&p);
        }
    }
    out
}
