//! The rules: a list filtered by repo, status, path ("which rules govern this file?", with the
//! globs' one definition in `difflore_proto::globs`, as `recall` matches) and text; and a rule's
//! page with all its evidence, its audit trail and, for a maintainer, the decision form; both
//! with the outcome figures (served, said before and since activation) and the stale flags.

use super::page::{self, evidence, layout, respond, rule_head, status_text};
use super::review::decision_form;
use super::session;
use crate::api::AppState;
use crate::outcomes_api;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use difflore_proto::globs::RuleGlobs;
use difflore_proto::outcomes::ServedFigures;
use difflore_proto::rules::{TeamRule, TeamStatus};
use difflore_server_db::{RulesQuery, Storage};
use maud::{Markup, html};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Every rule of the team (of one status, of one repo), paging through the rulebook.
pub async fn all_rules(
    st: &AppState,
    team: &str,
    status: Option<TeamStatus>,
    repo: Option<String>,
) -> Result<Vec<TeamRule>, Response> {
    let mut out = Vec::new();
    let mut since = 0;
    loop {
        let q = RulesQuery {
            since,
            limit: 1000,
            repo: repo.clone(),
            status,
        };
        let page = st.store.list_rules(team, q).await.map_err(|_| {
            page::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage unavailable; try again",
            )
        })?;
        let n = page.rules.len();
        out.extend(page.rules);
        match page.next_since {
            Some(v) if v > since && n > 0 => since = v,
            _ => return Ok(out),
        }
    }
}

/// One rule of the team.
pub async fn get(st: &AppState, team: &str, id: &str) -> Result<Option<TeamRule>, Response> {
    st.store.get_rule(team, id).await.map_err(|_| {
        page::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage unavailable; try again",
        )
    })
}

/// Rules per page of the list.
const PER_PAGE: usize = 100;

const STATUSES: [TeamStatus; 4] = [
    TeamStatus::Pending,
    TeamStatus::Active,
    TeamStatus::Paused,
    TeamStatus::Rejected,
];

pub async fn list(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let s = match session::require(&st, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let field = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let status = field("status").and_then(|v| STATUSES.into_iter().find(|s| status_text(*s) == v));
    let rules = match all_rules(&st, &s.token.team, status, None).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let repos: BTreeSet<&str> = rules.iter().filter_map(|r| r.repo.as_deref()).collect();
    let since = outcomes_api::days_ago(outcomes_api::DEFAULT_DAYS);
    let served: HashMap<String, i64> = outcomes_api::figures(&st, &s.token.team, &since, None)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|f| (f.rule_id, f.served))
        .collect();
    // Flags are for active rules, and every active rule is here unless the status filter
    // leaves them out (then no rule shown is flagged).
    let stale = outcomes_api::stale(&rules, &served);
    let (repo, path, text) = (field("repo"), field("path"), field("q"));
    let only_stale = field("stale") == Some("yes");
    let needle = text.map(str::to_lowercase);
    let mut shown: Vec<&TeamRule> = rules
        .iter()
        .filter(|r| r.status != TeamStatus::Merged)
        .filter(|r| repo.is_none_or(|want| r.repo.as_deref() == Some(want)))
        .filter(|r| path.is_none_or(|p| RuleGlobs::new(&r.globs).governs(p)))
        .filter(|r| !only_stale || stale.contains_key(&r.id))
        .filter(|r| {
            needle.as_deref().is_none_or(|n| {
                r.title.to_lowercase().contains(n)
                    || r.statement.to_lowercase().contains(n)
                    || r.rationale
                        .as_deref()
                        .is_some_and(|x| x.to_lowercase().contains(n))
            })
        })
        .collect();
    shown.sort_by_key(|r| r.title.to_lowercase());
    let pages = shown.len().div_ceil(PER_PAGE).max(1);
    let at = q
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, pages);
    // The other pages keep the filters.
    let mut keep: Vec<(&str, &str)> = Vec::new();
    for k in ["repo", "status", "path", "q", "stale"] {
        if let Some(v) = field(k) {
            keep.push((k, v));
        }
    }
    let link = |n: usize| {
        let page = n.to_string();
        let mut all = keep.clone();
        all.push(("page", &page));
        format!(
            "/rules?{}",
            serde_urlencoded::to_string(&all).unwrap_or_default()
        )
    };
    let body = html! {
        h1 { "Rules" }
        form.filters method="get" action="/rules" {
            label { "Repo" select name="repo" {
                option value="" { "any" }
                @for r in &repos { option value=(r) selected[repo == Some(*r)] { (r) } }
            } }
            label { "Status" select name="status" {
                option value="" { "any" }
                @for st in STATUSES { option value=(status_text(st)) selected[status == Some(st)] { (status_text(st)) } }
            } }
            label { "Governs the path" input type="text" name="path" value=(path.unwrap_or("")) placeholder="src/billing/total.rs"; }
            label { "Text" input type="search" name="q" value=(text.unwrap_or("")); }
            label { "Stale" select name="stale" {
                option value="" { "any" }
                option value="yes" selected[only_stale] { "may be stale" }
            } }
            button type="submit" { "Filter" }
        }
        p.lead { (shown.len()) " rule(s)" @if let Some(p) = path { " govern " code { (p) } } "." }
        table.rules {
            thead { tr { th { "Rule" } th { "Status" } th { "Repo" } th { "Globs" } th { "Evidence" }
                th { "Served (" (outcomes_api::DEFAULT_DAYS) " d)" } } }
            tbody {
                @for r in shown.iter().skip((at - 1) * PER_PAGE).take(PER_PAGE) {
                    tr {
                        td { a href={ "/rules/" (r.id) } { (r.title) } div.statement { (r.statement) }
                            @if let Some(flags) = stale.get(&r.id) {
                                ul.stale { @for f in flags { li { strong { (f.reason.replace('_', " ")) } ": " (f.detail) } } }
                            } }
                        td { span class={ "status " (status_text(r.status)) } { (status_text(r.status)) } }
                        td data-label="repo" { (r.repo.as_deref().unwrap_or("every repo")) }
                        td data-label="globs" { @for g in &r.globs { code { (g) } " " } }
                        td data-label="evidence" { (r.evidence.len()) }
                        td data-label="served (90 d)" { (served.get(&r.id).copied().unwrap_or(0)) }
                    }
                }
            }
        }
        @if pages > 1 {
            nav.pager {
                @if at > 1 { a rel="prev" href=(link(at - 1)) { "← previous" } }
                span { "page " (at) " of " (pages) }
                @if at < pages { a rel="next" href=(link(at + 1)) { "next →" } }
            }
        }
    };
    respond(StatusCode::OK, layout("Rules", Some(&s), body))
}

/// How often the agents were given the rule: totals and a served-per-day chart (SVG drawn
/// here, no script).
fn served_section(f: &ServedFigures) -> Markup {
    let days = 30;
    let first = outcomes_api::days_ago(days);
    let per_day: Vec<(String, i64)> = (0..days)
        .map(|i| {
            let d = (time::OffsetDateTime::now_utc() - time::Duration::days(days - 1 - i))
                .date()
                .to_string();
            let n = f.per_day.get(&d).copied().unwrap_or(0);
            (d, n)
        })
        .collect();
    let max = per_day.iter().map(|d| d.1).max().unwrap_or(0).max(1);
    let list = |m: &std::collections::BTreeMap<String, i64>| {
        m.iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    html! {
        section.served {
            h3 { "Served to agents (last " (outcomes_api::DEFAULT_DAYS) " days)" }
            @if f.served == 0 { p { "Not served in that time." } }
            @else {
                p {
                    strong { (f.served) } " times; last on " (f.last_served_day.as_deref().unwrap_or("-")) ". "
                    "By moment: " (list(&f.by_moment)) ". By agent: " (list(&f.by_agent)) "."
                }
            }
            svg.chart viewBox={ "0 0 " (days * 10) " 60" } role="img"
                aria-label={ "served per day since " (first) } preserveAspectRatio="none" {
                @for (i, (d, n)) in per_day.iter().enumerate() {
                    @let h = if *n == 0 { 1 } else { (n * 56 / max).max(2) };
                    rect x=(i * 10 + 1) y=(60 - h) width="8" height=(h) class=(if *n == 0 { "zero" } else { "bar" }) {
                        title { (d) ": " (n) }
                    }
                }
            }
        }
    }
}

pub async fn one(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match session::require(&st, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let rule = match get(&st, &s.token.team, &id).await {
        Ok(Some(r)) => r,
        Ok(None) => return page::error(StatusCode::NOT_FOUND, "no such rule in your team"),
        Err(r) => return r,
    };
    let audit = st
        .store
        .rule_audit(&s.token.team, &rule.id)
        .await
        .unwrap_or_default();
    let since = outcomes_api::days_ago(outcomes_api::DEFAULT_DAYS);
    let served = outcomes_api::figures(&st, &s.token.team, &since, Some(rule.id.clone()))
        .await
        .unwrap_or_default()
        .into_iter()
        .next()
        .unwrap_or_default();
    let recurrence = outcomes_api::recurrence(&st, &s.token.team, Some(rule.id.clone()))
        .await
        .unwrap_or_default()
        .remove(&rule.id);
    // Its own stale flag (pairs with other rules are the list's: judging them needs every
    // active rule of the scope, too much for one page view).
    let flags = outcomes_api::stale(
        std::slice::from_ref(&rule),
        &HashMap::from([(rule.id.clone(), served.served)]),
    )
    .remove(&rule.id)
    .unwrap_or_default();
    let scope_stale = {
        let mut q = vec![("stale", "yes")];
        if let Some(r) = rule.repo.as_deref() {
            q.push(("repo", r));
        }
        format!(
            "/rules?{}",
            serde_urlencoded::to_string(&q).unwrap_or_default()
        )
    };
    let back = format!("/rules/{}", rule.id);
    let body = html! {
        article.rule.whole {
            (rule_head(&rule, false))
            @if s.can_decide() { (decision_form(&s, &rule, &back)) }
            @if !flags.is_empty() {
                section.stale {
                    h3 { "May be stale" }
                    ul { @for f in &flags { li { strong { (f.reason.replace('_', " ")) } ": " (f.detail) } } }
                    p.meta { "Nothing is changed automatically: pause, edit or reject it if it no longer holds." }
                }
            }
            @if rule.status == TeamStatus::Active {
                p.meta { a href=(scope_stale) { "Active rules of this repo that may be stale" }
                    " (contradicting or repeating each other, or never served)." }
            }
            (served_section(&served))
            @if let Some(c) = recurrence {
                section.recurrence {
                    h3 { "Said in review" }
                    p {
                        strong { (c.before) } " time(s) in the " (c.window_days) " days before it became active, "
                        strong { (c.after) } " time(s) since."
                        @if c.after == 0 && c.before > 0 { " Reviewers have not had to say it again." }
                    }
                }
            }
            h3 { "Evidence" }
            (evidence(&rule.evidence, usize::MAX))
            h3 { "Audit trail" }
            @if audit.is_empty() { p { "No decision yet." } }
            @else {
                div.scroll { table.audit {
                    thead { tr { th { "When" } th { "Who" } th { "Did" } th { "From revision" } th { "Reason" } } }
                    tbody {
                        @for a in &audit {
                            tr {
                                td { (a.at) } td { (a.actor) } td { (a.action) " → " (a.to_status) }
                                td { (a.from_revision) } td { (a.reason.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                } }
            }
            p.meta { "Created " (rule.created_at) ", last changed " (rule.updated_at)
                @if let Some(by) = &rule.decided_by { ", decided by " (by) } "." }
        }
    };
    respond(StatusCode::OK, layout(&rule.title, Some(&s), body))
}
