//! GitHub Copilot CLI's hook payload in the common shape. Its payload does not name the event
//! (`{sessionId, timestamp, cwd, toolName, toolArgs, toolResult}`, `prompt`, `source`,
//! `reason`): the command `difflore agents install` writes passes it as `--event NAME`. This adds
//! `hook_event_name`, `session_id`, `tool_name`, `tool_input` (`toolArgs`, parsed when it is a
//! JSON string) and `tool_response`, and keeps everything else.

use serde_json::Value;

/// The payload with the common fields added (unchanged without an event to name).
pub fn to_common(v: Value, event: Option<&str>) -> Value {
    let Value::Object(mut o) = v else {
        return v;
    };
    let Some(event) = o
        .get("hook_event_name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| event.map(str::to_string))
    else {
        return Value::Object(o);
    };
    let mut add: Vec<(&str, Value)> = vec![("hook_event_name", event.into())];
    if let Some(s) = o.get("sessionId").filter(|s| s.is_string()) {
        add.push(("session_id", s.clone()));
    }
    if let Some(t) = o.get("toolName").filter(|t| t.is_string()) {
        add.push(("tool_name", t.clone()));
    }
    if let Some(a) = o.get("toolArgs") {
        let parsed = a
            .as_str()
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
            .unwrap_or_else(|| a.clone());
        add.push(("tool_input", parsed));
    }
    if let Some(r) = o.get("toolResult") {
        add.push(("tool_response", r.clone()));
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
    fn the_event_comes_from_the_command_line() {
        let v = to_common(
            json!({"sessionId": "s1", "cwd": "/p", "toolName": "edit",
                "toolArgs": "{\"path\":\"/p/a.rs\",\"old_str\":\"x\",\"new_str\":\"y\"}"}),
            Some("preToolUse"),
        );
        assert_eq!(v["hook_event_name"], "preToolUse");
        assert_eq!(v["session_id"], "s1");
        assert_eq!(v["tool_name"], "edit");
        assert_eq!(v["tool_input"]["path"], "/p/a.rs");
        let none = to_common(json!({"sessionId": "s1"}), None);
        assert!(none.get("hook_event_name").is_none());
    }
}
