//! `GET /v1/outcomes?since=YYYY-MM-DD&rule=ID` (any token of the team): how often each rule was
//! served, from the counters kept as `rules.served` events arrive — never a scan of the events —
//! and how often its point was made in review before and since it became active (its evidence
//! and the `rule.recurred` comments). The console's figures come from the same functions, and
//! so do its stale flags: what the server can tell without a checkout — an active rule no agent
//! was given in the window, two active rules of one scope that contradict or repeat each other.

use crate::api::{AppState, authed, error, storage_error};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use difflore_proto::conflicts::{Item, pairs};
use difflore_proto::outcomes::{Outcomes, RECURRENCE_DAYS, Recurrence, ServedFigures, summarize};
use difflore_proto::rules::{TeamRule, TeamStatus};
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

/// Why a team rule may have gone stale, as the server can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleFlag {
    /// `not_served`, `contradicts` or `duplicates`.
    pub reason: &'static str,
    pub detail: String,
}

/// Days a rule must have been active before "not served" is said of it.
const SETTLED_DAYS: i64 = 14;

/// The stale flags of the active rules among `rules` (those with at least one): pairs are
/// looked for within `rules`, so pass every active rule of the scopes in question.
pub fn stale(rules: &[TeamRule], served: &HashMap<String, i64>) -> HashMap<String, Vec<StaleFlag>> {
    let active: Vec<&TeamRule> = rules
        .iter()
        .filter(|r| r.status == TeamStatus::Active)
        .collect();
    let settled = (time::OffsetDateTime::now_utc() - time::Duration::days(SETTLED_DAYS))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut out: HashMap<String, Vec<StaleFlag>> = HashMap::new();
    for r in &active {
        let since = r.decided_at.as_deref().unwrap_or(&r.updated_at);
        if served.get(&r.id).copied().unwrap_or(0) == 0 && since < settled.as_str() {
            out.entry(r.id.clone()).or_default().push(StaleFlag {
                reason: "not_served",
                detail: format!(
                    "no agent was given it in the last {DEFAULT_DAYS} days (active since {}): are its globs right, are the agents hooked?",
                    since.chars().take(10).collect::<String>()
                ),
            });
        }
    }
    let items: Vec<Item<'_>> = active
        .iter()
        .map(|r| Item {
            repo: r.repo.as_deref(),
            statement: &r.statement,
        })
        .collect();
    for p in pairs(&items) {
        let (x, y) = (active[p.a], active[p.b]);
        for (me, other) in [(x, y), (y, x)] {
            out.entry(me.id.clone()).or_default().push(StaleFlag {
                reason: p.reason,
                detail: format!("{} “{}”", p.detail, other.title),
            });
        }
    }
    out
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
