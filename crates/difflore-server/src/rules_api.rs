//! The team rulebook over HTTP (DESIGN §10): `GET /v1/rules?since=&limit=&repo=&status=` (a
//! pull: any token of the team), `GET /v1/rules/{id}`, and `POST /v1/rules/{id}/decision`
//! (maintainers: 403 first, whatever the body; then 400 for a bad body, 404 for an id the team
//! does not have, 409 with the current rule when its revision moved on).

use crate::api::{AppState, authed, error, read_body, storage_error};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use difflore_proto::rules::{Decision, TeamRule, TeamStatus};
use difflore_server_db::rulebook::DecideError;
use difflore_server_db::{DecisionError, RulesQuery, Storage, StorageError, TokenRecord};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// `GET /v1/rules`: the team's rules and tombstones changed after `since`, in version order.
pub async fn list(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let token = match authed(&st, &headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let query = match rules_query(&q) {
        Ok(query) => query,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    match st.store.list_rules(&token.team, query).await {
        Ok(page) => Json(page).into_response(),
        Err(e) => storage_error(e),
    }
}

fn rules_query(q: &HashMap<String, String>) -> Result<RulesQuery, String> {
    let since = match q.get("since").filter(|s| !s.is_empty()) {
        None => 0,
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|v| *v >= 0)
            .ok_or("`since` must be a version (a whole number ≥ 0)")?,
    };
    let limit = match q.get("limit") {
        None => 100,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or("`limit` must be a number from 1 to 1000")?,
    };
    let status = match q.get("status").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(serde_json::from_value::<TeamStatus>(json!(s)).map_err(|_| {
            format!("unknown status {s:?}: expected pending, active, paused, rejected or merged")
        })?),
    };
    Ok(RulesQuery {
        since,
        limit,
        repo: q.get("repo").filter(|r| !r.is_empty()).cloned(),
        status,
    })
}

/// `GET /v1/rules/{id}`.
pub async fn one(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let token = match authed(&st, &headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match st.store.get_rule(&token.team, &id).await {
        Ok(Some(rule)) => Json(rule).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("no rule {id} in team {:?}", token.team),
        ),
        Err(e) => storage_error(e),
    }
}

/// `POST /v1/rules/{id}/decision`.
pub async fn decision(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let token = match authed(&st, &headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if let Some(why) = may_not_decide(&token) {
        return error(StatusCode::FORBIDDEN, why);
    }
    let bytes = match read_body(body).await {
        Ok(Some(b)) => b,
        Ok(None) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body is over the limit",
            );
        }
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    let d: Decision = match serde_json::from_slice(&bytes) {
        Ok(d) => d,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "body must be {{\"action\": approve|reject|pause|resume|edit|merge, \"expected_revision\": N, \"reason\"?, \"changes\"?, \"into\"?}}: {e}"
                ),
            );
        }
    };
    match decide(&st, &token, &id, d).await {
        Ok(rule) => Json(rule).into_response(),
        Err(Refused::Forbidden(why)) => error(StatusCode::FORBIDDEN, why),
        Err(Refused::NotFound(why)) => error(StatusCode::NOT_FOUND, why),
        Err(Refused::Conflict(why, current)) => (
            StatusCode::CONFLICT,
            Json(json!({"error": why, "rule": current})),
        )
            .into_response(),
        Err(Refused::Invalid(why)) => error(StatusCode::BAD_REQUEST, why),
        Err(Refused::Storage(e)) => storage_error(e),
    }
}

/// Why a decision was not applied, for the API and the console alike.
pub enum Refused {
    /// The token may not decide.
    Forbidden(String),
    NotFound(String),
    /// The rule moved on: who decided what, and the current rule.
    Conflict(String, Box<TeamRule>),
    Invalid(String),
    Storage(StorageError),
}

/// Why `token` may not decide, if it may not.
pub fn may_not_decide(token: &TokenRecord) -> Option<String> {
    (!token.role.can_decide()).then(|| {
        format!(
            "token {:?} has role {:?}; deciding rules needs `maintainer`",
            token.name,
            token.role.as_str()
        )
    })
}

/// The one decision path: `POST /v1/rules/{id}/decision` and the console's forms both call it.
pub async fn decide(
    st: &AppState,
    token: &TokenRecord,
    id: &str,
    d: Decision,
) -> Result<TeamRule, Refused> {
    if let Some(why) = may_not_decide(token) {
        return Err(Refused::Forbidden(why));
    }
    match st
        .store
        .decide(&token.team, id, d, token.name.clone())
        .await
    {
        Ok(rule) => Ok(rule),
        Err(DecisionError::NotFound(what)) => Err(Refused::NotFound(format!(
            "no rule {what} in team {:?}",
            token.team
        ))),
        Err(DecisionError::Rulebook(DecideError::Conflict { expected, current })) => {
            Err(Refused::Conflict(
                format!(
                    "the rule changed since revision {expected}: it is at revision {} ({}), last decided by {} at {}",
                    current.revision,
                    difflore_server_db::rulebook::status_text(current.status),
                    current.decided_by.as_deref().unwrap_or("nobody"),
                    current.decided_at.as_deref().unwrap_or("-"),
                ),
                current,
            ))
        }
        Err(DecisionError::Rulebook(DecideError::Invalid(why))) => Err(Refused::Invalid(why)),
        Err(DecisionError::Storage(e)) => Err(Refused::Storage(e)),
    }
}
