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
    EnvelopeError, EventEnvelope, EventResult, EventStatus, IngestResponse, MAX_EVENTS_PER_REQUEST,
    MAX_PAYLOAD_BYTES, MAX_REQUEST_BYTES, WhoAmI,
};
use difflore_server_db::{
    Effect, NewEvent, Role, Served, Storage, StorageError, Stored, Tally, TokenRecord,
};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Shared state of the handlers.
pub struct AppState {
    pub store: AnyStorage,
    /// The console's failed sign-ins per address.
    pub signin: crate::console::SignInLimiter,
}

impl AppState {
    pub fn new(store: AnyStorage) -> AppState {
        AppState {
            store,
            signin: Default::default(),
        }
    }
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
        .route("/v1/rules", get(crate::rules_api::list))
        .route("/v1/rules/{id}", get(crate::rules_api::one))
        .route(
            "/v1/rules/{id}/decision",
            axum::routing::post(crate::rules_api::decision),
        )
        .route("/v1/outcomes", get(crate::outcomes_api::outcomes))
        .route("/v1/health", get(health))
        .merge(crate::console::routes())
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

pub(crate) fn error(status: StatusCode, msg: impl Into<String>) -> Response {
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

pub(crate) fn storage_error(e: StorageError) -> Response {
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

pub(crate) async fn authed(st: &AppState, headers: &HeaderMap) -> Result<TokenRecord, Response> {
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
        Ok(Some(b)) => b,
        Ok(None) => return too_large("request body is over the limit", Vec::new()),
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    let items = match batch_items(&bytes) {
        Ok(items) => items,
        Err(r) => return r,
    };
    let judged = judge(&items);
    if !judged.oversized.is_empty() {
        return too_large(
            &format!(
                "{} event payload(s) over {MAX_PAYLOAD_BYTES} bytes",
                judged.oversized.len()
            ),
            judged.oversized,
        );
    }
    let ids: Vec<String> = judged.to_store.iter().map(|e| e.id.clone()).collect();
    let inserted = match st.store.insert_events(&token.team, judged.to_store).await {
        Ok(v) => v,
        Err(e) => return storage_error(e),
    };
    let results = results(judged.verdicts, &ids, &inserted);
    Json(IngestResponse { results }).into_response()
}

/// The `events` array of a request body, or the 400/413 that says why there is none.
fn batch_items(bytes: &[u8]) -> Result<Vec<Value>, Response> {
    let mut v: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) if e.to_string().starts_with("recursion limit exceeded") => {
            let at = offset_of(bytes, e.line(), e.column());
            let which = event_index_at(bytes, at)
                .map_or_else(|| "the body".to_string(), |i| format!("events[{i}]"));
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!(
                    "{which} is nested deeper than 127 levels of arrays and objects (at byte {at}); nothing of this request was stored"
                ),
            ));
        }
        Err(e) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("body is not JSON: {e}"),
            ));
        }
    };
    let Some(Value::Array(items)) = v.get_mut("events").map(Value::take) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "body must be {\"events\": [{\"id\", \"kind\", \"occurred_at\", \"payload\"}, …]}",
        ));
    };
    if items.len() > MAX_EVENTS_PER_REQUEST {
        return Err(too_large(
            &format!(
                "{} events in one request; the limit is {MAX_EVENTS_PER_REQUEST}",
                items.len()
            ),
            Vec::new(),
        ));
    }
    Ok(items)
}

/// What ingest decided for one event of the request, in input order.
enum Verdict {
    Rejected(Option<String>, String),
    /// Stored as `to_store[i]`.
    Store(usize),
    DuplicateInRequest(String),
}

/// Every envelope judged: verdicts in input order, the events to store, and the ids of payloads
/// over the limit (which make the whole request a 413).
struct Judged {
    verdicts: Vec<Verdict>,
    to_store: Vec<NewEvent>,
    oversized: Vec<String>,
}

fn judge(items: &[Value]) -> Judged {
    let mut j = Judged {
        verdicts: Vec::with_capacity(items.len()),
        to_store: Vec::new(),
        oversized: Vec::new(),
    };
    let mut seen: HashSet<String> = HashSet::new();
    for item in items {
        let given_id = item.get("id").and_then(Value::as_str).map(str::to_string);
        let env: EventEnvelope = match serde_json::from_value(item.clone()) {
            Ok(e) => e,
            Err(e) => {
                j.verdicts
                    .push(Verdict::Rejected(given_id, format!("malformed event: {e}")));
                continue;
            }
        };
        match difflore_proto::validate_envelope(&env) {
            Ok(_) => {}
            Err(EnvelopeError::PayloadTooLarge { .. }) => {
                j.oversized.push(env.id.clone());
                continue;
            }
            Err(e) => {
                j.verdicts.push(Verdict::Rejected(given_id, e.to_string()));
                continue;
            }
        }
        let id = match uuid::Uuid::parse_str(&env.id) {
            Ok(u) => u.hyphenated().to_string(),
            Err(_) => {
                j.verdicts
                    .push(Verdict::Rejected(given_id, "id is not a UUID".into()));
                continue;
            }
        };
        if !seen.insert(id.clone()) {
            j.verdicts.push(Verdict::DuplicateInRequest(env.id));
            continue;
        }
        // Known kinds become typed effects; an invalid proposal or recurrence is rejected like
        // any invalid event.
        let effect = match env.kind.as_str() {
            difflore_proto::kinds::RULE_PROPOSED => {
                difflore_proto::rules::RuleProposal::from_payload(&env.payload)
                    .map(|p| Some(Effect::Propose(Box::new(p))))
                    .map_err(|e| e.to_string())
            }
            difflore_proto::kinds::RULE_RECURRED => {
                difflore_proto::outcomes::RuleRecurred::from_payload(&env.payload)
                    .map(|r| Some(Effect::Recur(Box::new(r))))
                    .map_err(|e| e.to_string())
            }
            _ => Ok(None),
        };
        let effect = match effect {
            Ok(e) => e,
            Err(why) => {
                j.verdicts.push(Verdict::Rejected(given_id, why));
                continue;
            }
        };
        j.verdicts.push(Verdict::Store(j.to_store.len()));
        let tally = Tally::of(&env.kind, &env.occurred_at, &env.payload);
        let served =
            (env.kind == difflore_proto::kinds::RULES_SERVED).then(|| Served::of(&env.payload));
        j.to_store.push(NewEvent {
            id,
            kind: env.kind,
            occurred_at: env.occurred_at,
            payload: env.payload.to_string(),
            effect,
            tally,
            served,
        });
    }
    j
}

/// The per-event answers: verdicts, with what the database did for the stored ones.
fn results(verdicts: Vec<Verdict>, ids: &[String], inserted: &[Stored]) -> Vec<EventResult> {
    let result = |id: String, status, reason| EventResult { id, status, reason };
    verdicts
        .into_iter()
        .map(|v| match v {
            Verdict::Rejected(id, reason) => {
                result(id.unwrap_or_default(), EventStatus::Rejected, Some(reason))
            }
            Verdict::DuplicateInRequest(id) => result(id, EventStatus::Duplicate, None),
            Verdict::Store(i) => match inserted.get(i) {
                Some(Stored::Inserted) => result(ids[i].clone(), EventStatus::Accepted, None),
                Some(Stored::Refused(why)) => result(
                    ids[i].clone(),
                    EventStatus::Rejected,
                    Some(format!("the database refused this event: {why}")),
                ),
                Some(Stored::Existed) | None => {
                    result(ids[i].clone(), EventStatus::Duplicate, None)
                }
            },
        })
        .collect()
}

/// Byte offset of a 1-based line and column in `b`.
fn offset_of(b: &[u8], line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match b[start..].iter().position(|c| *c == b'\n') {
            Some(p) => start += p + 1,
            None => break,
        }
    }
    (start + column.saturating_sub(1)).min(b.len())
}

/// Which element of the top-level `events` array byte `at` falls in (a lexical scan: strings
/// and escapes skipped, depth counted), when it falls in one.
fn event_index_at(b: &[u8], at: usize) -> Option<usize> {
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    let mut index: Option<usize> = None;
    let mut key_events = false;
    let mut last_key = Vec::new();
    let mut str_start = 0;
    for (i, &c) in b.iter().enumerate().take(at) {
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
                if depth == 1 {
                    last_key = b[str_start..i].to_vec();
                }
            }
            continue;
        }
        match c {
            b'"' => {
                in_str = true;
                str_start = i + 1;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth == 2 && c == b'[' {
                    key_events = last_key == b"events";
                    index = key_events.then_some(0);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 2 && key_events => index = index.map(|n| n + 1),
            _ => {}
        }
    }
    if depth >= 2 && key_events {
        index
    } else {
        None
    }
}

/// `true` when the error comes from the transport's body limit (then 413, not 400).
fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(x) = cur {
        if x.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cur = x.source();
    }
    false
}

/// The body when it is within [`MAX_REQUEST_BYTES`]; `Ok(None)` (after draining it) when over;
/// `Err` with the reason when the body itself is malformed (a bad chunk, a cut connection).
pub(crate) async fn read_body(mut body: Body) -> Result<Option<Vec<u8>>, String> {
    use http_body_util::BodyExt;
    let mut buf = Vec::new();
    let mut over = false;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) if is_length_limit(&e) => return Ok(None),
            Err(e) => return Err(format!("the request body could not be read: {e}")),
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
    Ok((!over).then_some(buf))
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

/// A `--role` value that names no role.
#[derive(Debug, thiserror::Error)]
#[error("unknown role {0:?}: expected ingest, read, maintainer or admin")]
pub struct UnknownRole(pub String);

/// Roles a `--role` flag accepts.
pub fn parse_role(s: &str) -> Result<Role, UnknownRole> {
    Role::parse(s).ok_or_else(|| UnknownRole(s.to_string()))
}
