//! Cline's hook payload in the common shape the rest of the hook reads. Cline runs one
//! executable per event and sends its own JSON: `taskId`, `workspaceRoots`, `hookName`, and one
//! object named after the event (`preToolUse: {toolName, parameters}` with every parameter as a
//! string, `postToolUse`, `taskStart`, `userPromptSubmit`, …) beside `tool_call` / `tool_result`
//! (the tool's real input as JSON, its id, its output). This names the event
//! (`hook_event_name`), the session (`session_id` = the task), the directory (`cwd` = the first
//! workspace root), the tool (`tool_name`, `tool_input`, `tool_use_id`, `tool_response`) and the
//! prompt, and keeps everything else as it was.

use serde_json::{Map, Value};

/// Cline's per-event objects and the event each names.
const EVENTS: &[(&str, &str)] = &[
    ("preToolUse", "PreToolUse"),
    ("postToolUse", "PostToolUse"),
    ("userPromptSubmit", "UserPromptSubmit"),
    ("taskStart", "TaskStart"),
    ("taskResume", "TaskResume"),
    ("taskComplete", "TaskComplete"),
    ("taskCancel", "TaskCancel"),
    ("preCompact", "PreCompact"),
];

/// `hookName` values of the CLI's runtime, for payloads without a per-event object.
const HOOK_NAMES: &[(&str, &str)] = &[
    ("tool_call", "PreToolUse"),
    ("tool_result", "PostToolUse"),
    ("agent_start", "TaskStart"),
    ("agent_end", "TaskComplete"),
    ("prompt_submit", "UserPromptSubmit"),
];

/// The payload with the common fields added (unchanged when it is not Cline's).
pub fn to_common(v: Value) -> Value {
    let Value::Object(mut o) = v else {
        return v;
    };
    if o.contains_key("hook_event_name") {
        return Value::Object(o);
    }
    let event = EVENTS
        .iter()
        .find(|(k, _)| o.contains_key(*k))
        .map(|(_, e)| *e)
        .or_else(|| {
            let h = o.get("hookName").and_then(Value::as_str)?;
            HOOK_NAMES
                .iter()
                .chain(EVENTS.iter())
                .find(|(k, e)| *k == h || *e == h)
                .map(|(_, e)| *e)
        });
    let Some(event) = event else {
        return Value::Object(o);
    };
    let mut add = Map::new();
    add.insert("hook_event_name".into(), event.into());
    if let Some(t) = o.get("taskId").filter(|t| t.is_string()) {
        add.insert("session_id".into(), t.clone());
    }
    if let Some(root) = o
        .get("workspaceRoots")
        .and_then(|r| r.get(0))
        .filter(|r| r.is_string())
    {
        add.insert("cwd".into(), root.clone());
    }
    let call = o.get("tool_call").or_else(|| o.get("tool_result")).cloned();
    let named = o
        .get("preToolUse")
        .or_else(|| o.get("postToolUse"))
        .cloned();
    let tool = call
        .as_ref()
        .and_then(|c| c.get("name"))
        .or_else(|| named.as_ref().and_then(|n| n.get("toolName")))
        .filter(|t| t.is_string())
        .cloned();
    if let Some(t) = tool {
        add.insert("tool_name".into(), t);
    }
    if let Some(input) = call
        .as_ref()
        .and_then(|c| c.get("input"))
        .filter(|i| i.is_object())
        .cloned()
        .or_else(|| named.as_ref().and_then(|n| n.get("parameters")).cloned())
    {
        add.insert("tool_input".into(), input);
    }
    if let Some(id) = call
        .as_ref()
        .and_then(|c| c.get("id"))
        .filter(|i| i.is_string())
    {
        add.insert("tool_use_id".into(), id.clone());
    }
    if let Some(out) = o
        .get("tool_result")
        .and_then(|r| r.get("output"))
        .or_else(|| o.get("postToolUse").and_then(|p| p.get("result")))
    {
        add.insert("tool_response".into(), out.clone());
    }
    if let Some(p) = o
        .get("userPromptSubmit")
        .and_then(|u| u.get("prompt"))
        .filter(|p| p.is_string())
    {
        add.insert("prompt".into(), p.clone());
    }
    for (k, v) in add {
        o.entry(k).or_insert(v);
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::to_common;
    use serde_json::json;

    #[test]
    fn a_post_tool_use_reads_like_the_others() {
        let v = to_common(json!({
            "taskId": "conv_1", "workspaceRoots": ["/home/dev/project"], "hookName": "tool_result",
            "tool_result": {"id": "call_0", "name": "read_files",
                "input": {"files": [{"path": "/home/dev/project/src/a.rs"}]}, "output": [{"result": "x"}]},
            "postToolUse": {"toolName": "read_files", "parameters": {"files": "[...]"}, "result": "[...]"}
        }));
        assert_eq!(v["hook_event_name"], "PostToolUse");
        assert_eq!(v["session_id"], "conv_1");
        assert_eq!(v["cwd"], "/home/dev/project");
        assert_eq!(v["tool_name"], "read_files");
        assert_eq!(
            v["tool_input"]["files"][0]["path"],
            "/home/dev/project/src/a.rs"
        );
        assert_eq!(v["tool_use_id"], "call_0");
        assert_eq!(v["tool_response"][0]["result"], "x");
        let start = to_common(json!({"taskId": "t", "hookName": "agent_start", "taskStart": {}}));
        assert_eq!(start["hook_event_name"], "TaskStart");
        let odd = to_common(json!({"taskId": "t"}));
        assert!(odd.get("hook_event_name").is_none());
    }
}
