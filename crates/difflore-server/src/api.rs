//! The `/v1` HTTP API (DESIGN §5): routing, request validation, roles and team scoping. Bad
//! input always gets a 4xx with a JSON `{"error": …}` body — 400 malformed, 401 bad token, 403
//! missing role, 413 over a limit (with the limits in the body) — never a 500.

// Handlers return `Result<_, Response>` so an early rejection is a plain `?`-style return;
// the size of `Response` does not matter on this path.
#![allow(clippy::result_large_err)]

use crate::auth::{self, AuthError};
use crate::backend::AnyStorage;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use difflore_proto::{
    EnvelopeError, EventEnvelope, EventResult, EventStatus, MAX_EVENTS_PER_REQUEST,
    MAX_PAYLOAD_BYTES, MAX_REQUEST_BYTES, WhoAmI,
};
use difflore_server_db::{NewEvent, Role, Storage, StorageError, TokenRecord};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Shared state of the handlers.
pub struct AppState {
    pub store: AnyStorage,
}

/// Bodies past this size are cut off by the transport layer (tower-http); bodies between the
/// protocol limit ([`MAX_REQUEST_BYTES`]) and this are read and discarded so the client gets a
/// readable 413 with the limits instead of a reset connection.
pub const HARD_BODY_LIMIT: usize = 8 * MAX_REQUEST_BYTES;

/// The router with its layers: body limit, request timeout, tracing.
pub fn router(state: Arc<AppState>, timeout: Duration) -> Router {
    Router::new()
        .route("/v1/events", get(list_events).post(post_events))
        .route("/v1/stats", get(stats))
        .route("/v1/whoami", get(whoami))
        .route("/v1/health", get(health))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint; see /v1/health") })
        .with_state(state)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            HARD_BODY_LIMIT,
        ))
        .layer(axum::middleware::map_response(limits_on_413))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({"error": msg.into()}))).into_response()
}

fn limits() -> Value {
    json!({
        "max_events": MAX_EVENTS_PER_REQUEST,
        "max_request_bytes": MAX_REQUEST_BYTES,
        "max_payload_bytes": MAX_PAYLOAD_BYTES,
    })
}

fn too_large(msg: &str, ids: Vec<String>) -> Response {
    let mut body = json!({"error": msg, "limits": limits()});
    if !ids.is_empty() {
        body["too_large_ids"] = json!(ids);
    }
    (StatusCode::PAYLOAD_TOO_LARGE, Json(body)).into_response()
}

/// Any 413 (including the body-limit layer's own) carries the limits as JSON.
async fn limits_on_413(r: Response) -> Response {
    let is_json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return too_large("request body is over the limit", Vec::new());
    }
    r
}

fn storage_error(e: StorageError) -> Response {
    match e {
        StorageError::BadCursor => error(StatusCode::BAD_REQUEST, "invalid cursor `after`"),
        other => {
            tracing::error!("storage: {other}");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage unavailable; try again",
            )
        }
    }
}

async fn authed(st: &AppState, headers: &HeaderMap) -> Result<TokenRecord, Response> {
    let h = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match auth::authenticate(&st.store, h).await {
        Ok(t) => Ok(t),
        Err(AuthError::Missing) => Err(error(
            StatusCode::UNAUTHORIZED,
            "missing `Authorization: Bearer <token>`",
        )),
        Err(AuthError::Invalid) => Err(error(StatusCode::UNAUTHORIZED, "invalid or revoked token")),
        Err(AuthError::Storage(e)) => Err(storage_error(e)),
    }
}

fn need_read(t: &TokenRecord) -> Result<(), Response> {
    if t.role.can_read() {
        Ok(())
    } else {
        Err(error(
            StatusCode::FORBIDDEN,
            format!(
                "token {:?} has role {:?}; this endpoint needs `read`",
                t.name,
                t.role.as_str()
            ),
        ))
    }
}

async fn post_events(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let token = match authed(&st, &headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let bytes = match read_body(body).await {
        Some(b) => b,
        None => return too_large("request body is over the limit", Vec::new()),
    };
    let v: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("body is not JSON: {e}")),
    };
    let Some(items) = v.get("events").and_then(Value::as_array) else {
        return error(
            StatusCode::BAD_REQUEST,
            "body must be {\"events\": [{\"id\", \"kind\", \"occurred_at\", \"payload\"}, …]}",
        );
    };
    if items.len() > MAX_EVENTS_PER_REQUEST {
        return too_large(
            &format!(
                "{} events in one request; the limit is {MAX_EVENTS_PER_REQUEST}",
                items.len()
            ),
            Vec::new(),
        );
    }
    // Validate every envelope; collect per-event verdicts in input order.
    enum Verdict {
        Rejected(Option<String>, String),
        Store(usize),
        DuplicateInRequest(String),
    }
    let mut verdicts = Vec::with_capacity(items.len());
    let mut to_store: Vec<NewEvent> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut oversized = Vec::new();
    for item in items {
        let given_id = item.get("id").and_then(Value::as_str).map(str::to_string);
        let env: EventEnvelope = match serde_json::from_value(item.clone()) {
            Ok(e) => e,
            Err(e) => {
                verdicts.push(Verdict::Rejected(given_id, format!("malformed event: {e}")));
                continue;
            }
        };
        match difflore_proto::validate_envelope(&env) {
            Ok(_) => {}
            Err(EnvelopeError::PayloadTooLarge { .. }) => {
                oversized.push(env.id.clone());
                continue;
            }
            Err(e) => {
                verdicts.push(Verdict::Rejected(given_id, e.to_string()));
                continue;
            }
        }
        let id = match uuid::Uuid::parse_str(&env.id) {
            Ok(u) => u.hyphenated().to_string(),
            Err(_) => {
                verdicts.push(Verdict::Rejected(given_id, "id is not a UUID".into()));
                continue;
            }
        };
        if !seen.insert(id.clone()) {
            verdicts.push(Verdict::DuplicateInRequest(env.id));
            continue;
        }
        verdicts.push(Verdict::Store(to_store.len()));
        to_store.push(NewEvent {
            id,
            kind: env.kind,
            occurred_at: env.occurred_at,
            payload: env.payload.to_string(),
        });
    }
    if !oversized.is_empty() {
        return too_large(
            &format!(
                "{} event payload(s) over {MAX_PAYLOAD_BYTES} bytes",
                oversized.len()
            ),
            oversized,
        );
    }
    let ids: Vec<String> = to_store.iter().map(|e| e.id.clone()).collect();
    let inserted = match st.store.insert_events(&token.team, to_store).await {
        Ok(v) => v,
        Err(e) => return storage_error(e),
    };
    let results: Vec<EventResult> = verdicts
        .into_iter()
        .map(|v| match v {
            Verdict::Rejected(id, reason) => EventResult {
                id: id.unwrap_or_default(),
                status: EventStatus::Rejected,
                reason: Some(reason),
            },
            Verdict::DuplicateInRequest(id) => EventResult {
                id,
                status: EventStatus::Duplicate,
                reason: None,
            },
            Verdict::Store(i) => EventResult {
                id: ids[i].clone(),
                status: if inserted.get(i).copied().unwrap_or(false) {
                    EventStatus::Accepted
                } else {
                    EventStatus::Duplicate
                },
                reason: None,
            },
        })
        .collect();
    Json(json!({"results": results})).into_response()
}

/// The body when it is within [`MAX_REQUEST_BYTES`]; `None` (after draining it) when over.
async fn read_body(mut body: Body) -> Option<Vec<u8>> {
    use http_body_util::BodyExt;
    let mut buf = Vec::new();
    let mut over = false;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return None;
        };
        if let Some(d) = frame.data_ref() {
            if over || buf.len() + d.len() > MAX_REQUEST_BYTES {
                over = true;
                buf = Vec::new();
            } else {
                buf.extend_from_slice(d);
            }
        }
    }
    (!over).then_some(buf)
}

async fn list_events(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let token = match authed(&st, &headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if let Err(r) = need_read(&token) {
        return r;
    }
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "`limit` must be a number from 1 to 1000",
            );
        }
    };
    let after = q.get("after").filter(|a| !a.is_empty()).cloned();
    match st.store.list_events(&token.team, after, limit).await {
        Ok(p) => Json(json!({"events": p.events, "next_cursor": p.next_cursor})).into_response(),
        Err(e) => storage_error(e),
    }
}

async fn stats(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let token = match authed(&st, &headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if let Err(r) = need_read(&token) {
        return r;
    }
    match st.store.stats(&token.team).await {
        Ok(s) => {
            let mut v = serde_json::to_value(s).unwrap_or_default();
            v["team"] = json!(token.team);
            Json(v).into_response()
        }
        Err(e) => storage_error(e),
    }
}

async fn whoami(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match authed(&st, &headers).await {
        Ok(t) => Json(WhoAmI {
            team: t.team,
            token_name: t.name,
            roles: t.role.grants().into_iter().map(String::from).collect(),
        })
        .into_response(),
        Err(r) => r,
    }
}

async fn health(State(st): State<Arc<AppState>>) -> Response {
    let db = st.store.ping().await;
    let body = json!({
        "status": if db.is_ok() { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "protocol": difflore_proto::PROTOCOL_VERSION,
        "database": st.store.backend(),
    });
    let code = if db.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// Roles a `--role` flag accepts.
pub fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role {s:?}: expected ingest, read or admin"))
}
