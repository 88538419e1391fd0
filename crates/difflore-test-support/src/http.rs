//! A small `/v1` client for tests: every call returns the status and the parsed JSON body
//! (`Null` when it is not JSON), so a test asserts on what a client would see.

use serde_json::Value;
use std::time::Duration;

/// An agent that reports 4xx/5xx as answers, not errors.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn answer(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, Value) {
    match r {
        Ok(mut r) => {
            let s = r.status().as_u16();
            let text = r.body_mut().read_to_string().unwrap_or_default();
            (s, serde_json::from_str(&text).unwrap_or(Value::Null))
        }
        Err(e) => (0, Value::String(e.to_string())),
    }
}

/// `POST {url}/v1/events` with `body`: (status, parsed body or Null).
pub fn post(url: &str, token: Option<&str>, body: impl Into<Vec<u8>>) -> (u16, Value) {
    post_to(url, "/v1/events", token, body)
}

/// `POST {url}{path}` with a JSON `body`: (status, parsed body or Null).
pub fn post_to(
    url: &str,
    path: &str,
    token: Option<&str>,
    body: impl Into<Vec<u8>>,
) -> (u16, Value) {
    let mut req = agent()
        .post(format!("{url}{path}"))
        .header("Content-Type", "application/json");
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let body: Vec<u8> = body.into();
    answer(req.send(&body[..]))
}

/// `GET {url}{path}`: (status, parsed body or Null).
pub fn get(url: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = agent().get(format!("{url}{path}"));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    answer(req.call())
}

/// A well-formed `hook.event`-like envelope with this id and kind.
pub fn event(id: &str, kind: &str) -> Value {
    serde_json::json!({"id": id, "kind": kind, "occurred_at": "2026-11-25T17:00:00Z", "payload": {"agent": "claude-code", "files": ["src/billing.rs"]}})
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The body of `POST /v1/events` for these events.
pub fn batch(events: &[Value]) -> String {
    serde_json::json!({ "events": events }).to_string()
}

/// Every event id of a team, paging with `limit`; checks the cursor ends with `null`.
pub fn all_ids(url: &str, token: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let (s, v) = get(
            url,
            &format!("/v1/events?limit={limit}&after={after}"),
            Some(token),
        );
        assert_eq!(s, 200, "{v}");
        let evs = v["events"].as_array().expect("an events array");
        if evs.is_empty() {
            assert!(v["next_cursor"].is_null());
            return out;
        }
        out.extend(evs.iter().map(|e| e["id"].as_str().unwrap().to_string()));
        after = v["next_cursor"].as_str().unwrap().to_string();
    }
}
