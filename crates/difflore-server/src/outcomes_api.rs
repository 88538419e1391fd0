//! `GET /v1/outcomes?since=YYYY-MM-DD&rule=ID` (any token of the team): how often each rule was
//! served, from the counters kept as `rules.served` events arrive — never a scan of the events —
//! and how often its point was made in review before and since it became active (its evidence
//! and the `rule.recurred` comments). The console's figures come from the same functions.

use crate::api::{AppState, authed, error, storage_error};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use difflore_proto::outcomes::{Outcomes, RECURRENCE_DAYS, Recurrence, ServedFigures, summarize};
use difflore_server_db::{Storage, StorageError};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Days a window covers when no `since` is given.
pub const DEFAULT_DAYS: i64 = 90;

/// The first day of a window of `days` days ending today (UTC).
pub fn days_ago(days: i64) -> String {
    (time::OffsetDateTime::now_utc() - time::Duration::days(days - 1))
        .date()
        .to_string()
}

/// The team's serving figures from `since` on (one rule, or all).
pub async fn figures(
    st: &AppState,
    team: &str,
    since: &str,
    rule: Option<String>,
) -> Result<Vec<ServedFigures>, StorageError> {
    let rows = st.store.served(team, since, rule).await?;
    Ok(summarize(rows.into_iter().map(|(k, n)| {
        (k.rule_id, k.day, k.agent, k.repo, k.moment, n)
    })))
}

/// Before and since activation, per rule that has been active (one, or all).
pub async fn recurrence(
    st: &AppState,
    team: &str,
    rule: Option<String>,
) -> Result<BTreeMap<String, Recurrence>, StorageError> {
    Ok(st
        .store
        .recurrence_dates(team, rule)
        .await?
        .into_iter()
        .map(|d| {
            let r = d.recurrence(RECURRENCE_DAYS);
            (d.rule_id, r)
        })
        .collect())
}

pub async fn outcomes(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let token = match authed(&st, &headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let since = match q.get("since").filter(|s| !s.is_empty()) {
        None => days_ago(DEFAULT_DAYS),
        Some(s) => {
            let ok = time::Date::parse(
                s,
                &time::macros::format_description!("[year]-[month]-[day]"),
            )
            .is_ok();
            if !ok {
                return error(StatusCode::BAD_REQUEST, "`since` must be a day, YYYY-MM-DD");
            }
            s.clone()
        }
    };
    let rule = q
        .get("rule")
        .filter(|r| !r.is_empty())
        .map(|r| r.to_ascii_lowercase());
    let served = figures(&st, &token.team, &since, rule.clone()).await;
    let recurred = recurrence(&st, &token.team, rule).await;
    match (served, recurred) {
        (Ok(rules), Ok(recurrence)) => Json(Outcomes {
            schema_version: 1,
            since,
            rules,
            recurrence,
        })
        .into_response(),
        (Err(e), _) | (_, Err(e)) => storage_error(e),
    }
}
