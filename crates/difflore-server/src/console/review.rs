//! The review queue (pending rules best first: confidence, evidence, reviewers; ten per page,
//! each with all its evidence) and the decision forms it and a rule's page carry. A form's
//! decision goes through the API's one decision path (`rules_api::decide`): the same checks,
//! the same audit, the same 409 saying who decided what and when.

use super::page::{self, evidence, layout, respond, rule_head};
use super::rules::all_rules;
use super::session::{self, Session};
use crate::api::AppState;
use crate::rules_api::{self, Refused};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use difflore_proto::rules::{Action, Decision, RuleChanges, TeamRule, TeamStatus};
use maud::{Markup, html};
use std::collections::HashMap;
use std::sync::Arc;

/// Rules per page of the queue.
const PER_PAGE: usize = 10;
/// Characters of an excerpt shown in the queue (the rule's page shows them whole).
const EXCERPT: usize = 600;

/// Best first: confidence, then evidence, then distinct reviewers, then the oldest.
pub fn best_first(rules: &mut [TeamRule]) {
    rules.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(b.evidence.len().cmp(&a.evidence.len()))
            .then(page::reviewers(b).cmp(&page::reviewers(a)))
            .then(a.version.cmp(&b.version))
    });
}

pub async fn queue(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let s = match session::require(&st, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut pending = match all_rules(&st, &s.token.team, Some(TeamStatus::Pending), None).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    best_first(&mut pending);
    let pages = pending.len().div_ceil(PER_PAGE).max(1);
    let at = q
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, pages);
    let shown = pending.iter().skip((at - 1) * PER_PAGE).take(PER_PAGE);
    let back = format!("/queue?page={at}");
    let body = html! {
        h1 { "Review queue" }
        p.lead {
            (pending.len()) " pending rule(s), best first."
            @if s.can_decide() { " Keys: " kbd { "j" } "/" kbd { "k" } " move, " kbd { "a" } " approve, "
                kbd { "r" } " reject, " kbd { "e" } " edit." }
            @else { " Your token may read, not decide." }
        }
        @for r in shown {
            article.rule id={ "r-" (r.id) } tabindex="-1" {
                (rule_head(r, true))
                (evidence(&r.evidence, EXCERPT))
                @if s.can_decide() { (decision_form(&s, r, &back)) }
            }
        }
        @if pending.is_empty() { p.empty { "Nothing to review." } }
        (pager(at, pages))
    };
    respond(StatusCode::OK, layout("Review queue", Some(&s), body))
}

fn pager(at: usize, pages: usize) -> Markup {
    html! {
        @if pages > 1 {
            nav.pager {
                @if at > 1 { a rel="prev" href={ "/queue?page=" (at - 1) } { "← newer-worse" } }
                span { "page " (at) " of " (pages) }
                @if at < pages { a rel="next" href={ "/queue?page=" (at + 1) } { "more →" } }
            }
        }
    }
}

/// The decision form of one rule: approve (with the edits made in it, if any), reject with a
/// reason, pause or resume, save an edit.
pub fn decision_form(s: &Session, r: &TeamRule, back: &str) -> Markup {
    html! {
        form.decide method="post" action={ "/rules/" (r.id) "/decide" } {
            input type="hidden" name="csrf_token" value=(s.csrf);
            input type="hidden" name="expected_revision" value=(r.revision);
            input type="hidden" name="back" value=(back);
            details.edit {
                summary data-key="e" { "Edit title, statement, globs" }
                label { "Title" input type="text" name="title" value=(r.title) maxlength="200"; }
                label { "Statement" textarea name="statement" rows="3" maxlength="1000" { (r.statement) } }
                label { "Globs, one per line" textarea name="globs" rows="2" { (r.globs.join("\n")) } }
                @if r.status != TeamStatus::Pending {
                    button type="submit" name="action" value="edit" { "Save the edit" }
                }
            }
            div.actions {
                @match r.status {
                    TeamStatus::Pending => {
                        button.approve type="submit" name="action" value="approve" data-key="a" { "Approve" }
                    }
                    TeamStatus::Active => {
                        button type="submit" name="action" value="pause" { "Pause" }
                    }
                    TeamStatus::Paused => {
                        button.approve type="submit" name="action" value="resume" { "Resume" }
                    }
                    TeamStatus::Rejected => {
                        button.approve type="submit" name="action" value="approve" { "Approve after all" }
                    }
                    TeamStatus::Merged => {}
                }
                @if matches!(r.status, TeamStatus::Pending | TeamStatus::Active | TeamStatus::Paused) {
                    input.reason type="text" name="reason" placeholder="reason (for a rejection)" maxlength="500";
                    button.reject type="submit" name="action" value="reject" data-key="r" { "Reject" }
                }
            }
        }
    }
}

/// A form's fields as a decision, checked against the rule as the form showed it: an approve
/// whose fields were edited carries the changes.
fn decision(form: &HashMap<String, String>, current: &TeamRule) -> Result<Decision, String> {
    let action = match form.get("action").map(String::as_str) {
        Some("approve") => Action::Approve,
        Some("reject") => Action::Reject,
        Some("pause") => Action::Pause,
        Some("resume") => Action::Resume,
        Some("edit") => Action::Edit,
        other => return Err(format!("unknown action {other:?}")),
    };
    let expected_revision = form
        .get("expected_revision")
        .and_then(|v| v.parse().ok())
        .ok_or("the form has no revision")?;
    let text = |k: &str| form.get(k).map(|v| v.trim().to_string());
    let globs: Option<Vec<String>> = form.get("globs").map(|g| {
        g.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    });
    let mut changes = RuleChanges::default();
    if let Some(t) = text("title").filter(|t| *t != current.title) {
        changes.title = Some(t);
    }
    if let Some(t) = text("statement").filter(|t| *t != current.statement) {
        changes.statement = Some(t);
    }
    if let Some(g) = globs.filter(|g| *g != current.globs) {
        changes.globs = Some(g);
    }
    let edited = changes != RuleChanges::default();
    if action == Action::Edit && !edited {
        return Err("nothing was changed".into());
    }
    Ok(Decision {
        action,
        expected_revision,
        reason: text("reason").filter(|r| !r.is_empty()),
        changes: (edited && matches!(action, Action::Approve | Action::Edit)).then_some(changes),
        into: None,
    })
}

/// Only a path of this console: never another site.
fn local_path(back: Option<&String>) -> String {
    back.filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .cloned()
        .unwrap_or_else(|| "/queue".into())
}

pub async fn decide(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let s = match session::for_form(&st, &headers, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Some(why) = rules_api::may_not_decide(&s.token) {
        return page::error(StatusCode::FORBIDDEN, &why);
    }
    let current = match super::rules::get(&st, &s.token.team, &id).await {
        Ok(Some(r)) => r,
        Ok(None) => return page::error(StatusCode::NOT_FOUND, "no such rule in your team"),
        Err(r) => return r,
    };
    let d = match decision(&form, &current) {
        Ok(d) => d,
        Err(why) => return page::error(StatusCode::BAD_REQUEST, &why),
    };
    match rules_api::decide(&st, &s.token, &id, d).await {
        Ok(_) => Redirect::to(&local_path(form.get("back"))).into_response(),
        Err(Refused::Conflict(why, now)) => respond(
            StatusCode::CONFLICT,
            layout(
                "Decided meanwhile",
                Some(&s),
                html! {
                    h1 { "Someone decided first" }
                    p.error role="alert" { (why) }
                    article.rule { (rule_head(&now, true)) (decision_form(&s, &now, "/queue")) }
                },
            ),
        ),
        Err(Refused::Forbidden(why)) => page::error(StatusCode::FORBIDDEN, &why),
        Err(Refused::NotFound(why)) => page::error(StatusCode::NOT_FOUND, &why),
        Err(Refused::Invalid(why)) => page::error(StatusCode::BAD_REQUEST, &why),
        Err(Refused::Storage(_)) => page::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage unavailable; try again",
        ),
    }
}
