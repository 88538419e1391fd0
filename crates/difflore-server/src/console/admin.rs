//! Activity (events per day, agent and repo, from the counts kept at ingest) and, for admins,
//! the team's tokens: list, create (the token shown once), revoke.

use super::page::{self, layout, respond};
use super::session::{self, Session};
use crate::api::AppState;
use crate::auth;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use difflore_server_db::{Role, Storage, StorageError, now_rfc3339};
use maud::{Markup, html};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Days the activity page covers.
const DAYS: i64 = 30;

fn totals<'a>(rows: impl Iterator<Item = (&'a str, i64)>) -> Vec<(&'a str, i64)> {
    let mut m: BTreeMap<&str, i64> = BTreeMap::new();
    for (k, n) in rows {
        *m.entry(k).or_default() += n;
    }
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v
}

fn table(title: &str, rows: &[(&str, i64)]) -> Markup {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
    html! {
        section.activity {
            h2 { (title) }
            @if rows.is_empty() { p { "Nothing yet." } }
            table {
                @for (k, n) in rows {
                    tr {
                        td { @if *k == "-" { "(none)" } @else { (k) } }
                        td.n { (n) }
                        td.bar { meter min="0" max=(max) value=(n) { (n) } }
                    }
                }
            }
        }
    }
}

pub async fn activity(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let s = match session::require(&st, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let since = (time::OffsetDateTime::now_utc() - time::Duration::days(DAYS - 1))
        .date()
        .to_string();
    let rows = match st.store.activity(&s.token.team, &since).await {
        Ok(r) => r,
        Err(_) => return page::error(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable"),
    };
    let days = totals(rows.iter().map(|r| (r.day.as_str(), r.count)));
    let mut by_day: Vec<(&str, i64)> = days.clone();
    by_day.sort_by(|a, b| b.0.cmp(a.0));
    let served = |r: &&difflore_server_db::ActivityRow| r.kind == "rules.served";
    let body = html! {
        h1 { "Activity" }
        p.lead { "What the team's daemons delivered in the last " (DAYS) " days (counted as events arrive)." }
        div.grid {
            (table("Events per day", &by_day))
            (table("Per agent", &totals(rows.iter().map(|r| (r.agent.as_str(), r.count)))))
            (table("Per repo", &totals(rows.iter().map(|r| (r.repo.as_str(), r.count)))))
            (table("Per kind", &totals(rows.iter().map(|r| (r.kind.as_str(), r.count)))))
            (table("Rules served, per agent", &totals(rows.iter().filter(served).map(|r| (r.agent.as_str(), r.count)))))
        }
    };
    respond(StatusCode::OK, layout("Activity", Some(&s), body))
}

async fn admin(st: &AppState, headers: &HeaderMap) -> Result<Session, Response> {
    only_admin(session::require(st, headers).await?)
}

/// An admin's posted form (session and CSRF token checked).
async fn admin_form(
    st: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Session, Response> {
    only_admin(session::for_form(st, headers, form).await?)
}

fn only_admin(s: Session) -> Result<Session, Response> {
    if !s.is_admin() {
        return Err(page::error(
            StatusCode::FORBIDDEN,
            "tokens are managed by an admin token",
        ));
    }
    Ok(s)
}

async fn tokens_page(st: &AppState, s: &Session, created: Option<(String, String)>) -> Response {
    let list = match st.store.list_tokens(Some(s.token.team.clone())).await {
        Ok(l) => l,
        Err(_) => return page::error(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable"),
    };
    let body = html! {
        h1 { "Tokens of team " (s.token.team) }
        @if let Some((name, text)) = &created {
            section.created role="status" {
                p { "Token " strong { (name) } " created. It is shown only this once: copy it now." }
                pre.token { (text) }
            }
        }
        form.create method="post" action="/tokens" {
            input type="hidden" name="csrf_token" value=(s.csrf);
            label { "Name" input type="text" name="name" required maxlength="64" pattern="[A-Za-z0-9._-]+"; }
            label { "Role" select name="role" {
                @for r in ["ingest", "read", "maintainer", "admin"] { option value=(r) { (r) } }
            } }
            button type="submit" { "Create" }
        }
        div.scroll { table.tokens {
            thead { tr { th { "Name" } th { "Role" } th { "Id" } th { "Created" } th { "" } } }
            tbody {
                @for t in &list {
                    tr {
                        td { (t.name) } td { (t.role.as_str()) } td { code { (t.id) } } td { (t.created_at) }
                        td {
                            @if let Some(at) = &t.revoked_at { "revoked " (at) }
                            @else if t.id != s.token.id {
                                form method="post" action={ "/tokens/" (t.id) "/revoke" } {
                                    input type="hidden" name="csrf_token" value=(s.csrf);
                                    button.reject type="submit" { "Revoke" }
                                }
                            } @else { "this session" }
                        }
                    }
                }
            }
        } }
    };
    respond(StatusCode::OK, layout("Tokens", Some(s), body))
}

pub async fn tokens(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match admin(&st, &headers).await {
        Ok(s) => tokens_page(&st, &s, None).await,
        Err(r) => r,
    }
}

pub async fn create_token(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let s = match admin_form(&st, &headers, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let name = form.get("name").map(|n| n.trim()).unwrap_or_default();
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return page::error(
            StatusCode::BAD_REQUEST,
            "a token's name is 1–64 letters, digits, '.', '_' or '-'",
        );
    }
    let Some(role) = form.get("role").and_then(|r| Role::parse(r)) else {
        return page::error(StatusCode::BAD_REQUEST, "unknown role");
    };
    let (text, record) = match auth::new_token(&s.token.team, name, role, now_rfc3339()) {
        Ok(t) => t,
        Err(_) => return page::error(StatusCode::SERVICE_UNAVAILABLE, "no randomness available"),
    };
    match st.store.create_token(record).await {
        Ok(_) => tokens_page(&st, &s, Some((name.to_string(), text))).await,
        Err(e @ StorageError::TokenExists { .. }) => {
            page::error(StatusCode::CONFLICT, &e.to_string())
        }
        Err(_) => page::error(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable"),
    }
}

pub async fn revoke_token(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let s = match admin_form(&st, &headers, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    // Only a token of this admin's team.
    let ours = matches!(st.store.list_tokens(Some(s.token.team.clone())).await,
        Ok(l) if l.iter().any(|t| t.id == id && t.revoked_at.is_none()));
    if !ours {
        return page::error(StatusCode::NOT_FOUND, "no such active token in your team");
    }
    match st.store.revoke_token(&id, None).await {
        Ok(_) => Redirect::to("/tokens").into_response(),
        Err(_) => page::error(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable"),
    }
}
