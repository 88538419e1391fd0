//! Stable ids for hook events (DESIGN §9): a UUIDv8 built from a keyed hash (HMAC-SHA256, key =
//! the random `event_id_key` of this store) of the fields that identify one firing of one agent
//! event. The same firing seen twice gets the same id; the id reveals nothing about its inputs.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

/// Fields that, together, identify one firing (those present are used, in this order).
const IDENTIFYING: &[&str] = &[
    "session_id",
    "conversation_id",
    "hook_event_name",
    "tool_name",
    "tool_use_id",
    "prompt_id",
    "turn_id",
    "generation_id",
    "timestamp",
    "source",
    "reason",
];

/// The UUIDv8 of one agent event. `raw` (the exact stdin bytes) is mixed in only when the event
/// carries no per-firing discriminator (no tool-use, prompt, turn or generation id, no
/// timestamp), so that two distinct firings never share an id.
pub fn event_id(key: &[u8], agent: &str, event: &Value, raw: &[u8]) -> uuid::Uuid {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return uuid::Uuid::now_v7(),
    };
    mac.update(b"difflore.hook.v1\0");
    mac.update(agent.as_bytes());
    let mut discriminated = false;
    for f in IDENTIFYING {
        if let Some(v) = event.get(*f).filter(|v| !v.is_null()) {
            mac.update(b"\0");
            mac.update(f.as_bytes());
            mac.update(b"=");
            match v {
                Value::String(s) => mac.update(s.as_bytes()),
                other => mac.update(other.to_string().as_bytes()),
            }
            if matches!(
                *f,
                "tool_use_id" | "prompt_id" | "turn_id" | "timestamp" | "source" | "reason"
            ) {
                discriminated = true;
            }
        }
    }
    // Cursor's generation can run several tools: its tool input tells them apart.
    let cursor_like = event.get("generation_id").is_some();
    if !discriminated || cursor_like {
        for f in ["tool_input", "command", "file_path", "prompt"] {
            if let Some(v) = event.get(f) {
                mac.update(b"\0");
                mac.update(f.as_bytes());
                mac.update(b"=");
                mac.update(v.to_string().as_bytes());
            }
        }
        if !discriminated && !cursor_like {
            mac.update(b"\0raw=");
            mac.update(raw);
        }
    }
    let digest = mac.finalize().into_bytes();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(b).into_uuid()
}

/// A stable id for an event derived from a hook event (e.g. its `rules.served`): the same
/// firing seen twice derives the same id, so a retried hook never records twice.
pub fn derived_id(key: &[u8], base: &uuid::Uuid, label: &str) -> uuid::Uuid {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return uuid::Uuid::now_v7();
    };
    mac.update(b"difflore.derived.v1\0");
    mac.update(base.as_bytes());
    mac.update(b"\0");
    mac.update(label.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(b).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_firing_same_id_and_version_8() {
        let e = json!({"session_id":"s","hook_event_name":"PreToolUse","tool_name":"Edit","tool_use_id":"t1"});
        let a = event_id(b"k", "claude-code", &e, b"x");
        let b = event_id(b"k", "claude-code", &e, b"y");
        assert_eq!(a, b);
        assert_eq!(a.get_version_num(), 8);
        let other = json!({"session_id":"s","hook_event_name":"PostToolUse","tool_name":"Edit","tool_use_id":"t1"});
        assert_ne!(a, event_id(b"k", "claude-code", &other, b"x"));
        assert_ne!(a, event_id(b"k2", "claude-code", &e, b"x"));
        assert_ne!(a, event_id(b"k", "codex", &e, b"x"));
    }

    #[test]
    fn cursor_tools_in_one_generation_differ() {
        let a = json!({"conversation_id":"c","generation_id":"g","hook_event_name":"beforeShellExecution","command":"ls"});
        let b = json!({"conversation_id":"c","generation_id":"g","hook_event_name":"beforeShellExecution","command":"pwd"});
        assert_ne!(
            event_id(b"k", "cursor", &a, b""),
            event_id(b"k", "cursor", &b, b"")
        );
    }
}
