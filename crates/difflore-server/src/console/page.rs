//! The console's page frame and the pieces pages share: the layout (one stylesheet, one script
//! file, no inline script), the sign-in and error pages, and how a rule and its evidence are
//! shown. Everything imported is text to maud, which escapes it; a link is only ever `http(s)`.

use super::session::Session;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use difflore_proto::rules::{Evidence, TeamRule, TeamStatus};
use maud::{DOCTYPE, Markup, html};

/// A whole page.
pub fn layout(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " — difflore" }
                link rel="stylesheet" href="/assets/style.css";
                script src="/assets/console.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "difflore" }
                    @if let Some(s) = session {
                        nav {
                            @if s.can_decide() { a href="/queue" { "Review" } }
                            a href="/rules" { "Rules" }
                            a href="/activity" { "Activity" }
                            @if s.is_admin() { a href="/tokens" { "Tokens" } }
                        }
                        form.signout method="post" action="/signout" {
                            input type="hidden" name="csrf_token" value=(s.csrf);
                            span.who { (s.token.name) " · " (s.token.team) " · " (s.token.role.as_str()) }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A page as a response.
pub fn respond(status: StatusCode, page: Markup) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page.into_string(),
    )
        .into_response()
}

pub fn signin(message: Option<&str>, status: StatusCode) -> Response {
    respond(
        status,
        layout(
            "Sign in",
            None,
            html! {
                section.signin {
                    h1 { "Sign in" }
                    p { "Paste a " strong { "read" } ", " strong { "maintainer" } " or " strong { "admin" }
                        " token of your team (" code { "difflore-server token create" } ")." }
                    @if let Some(m) = message { p.error role="alert" { (m) } }
                    form method="post" action="/signin" {
                        label for="token" { "Token" }
                        input #token type="password" name="token" autocomplete="off" required
                            placeholder="dfl_…";
                        button type="submit" { "Sign in" }
                    }
                }
            },
        ),
    )
}

pub fn error(status: StatusCode, message: &str) -> Response {
    respond(
        status,
        layout(
            "Error",
            None,
            html! {
                section { h1 { (status.as_u16()) } p.error role="alert" { (message) } p { a href="/" { "Back" } } }
            },
        ),
    )
}

/// A link target only when it is `http(s)`.
pub fn safe_url(url: Option<&str>) -> Option<&str> {
    url.filter(|u| {
        let l = u.trim_start().to_ascii_lowercase();
        l.starts_with("https://") || l.starts_with("http://")
    })
}

pub fn status_text(s: TeamStatus) -> &'static str {
    match s {
        TeamStatus::Pending => "pending",
        TeamStatus::Active => "active",
        TeamStatus::Paused => "paused",
        TeamStatus::Rejected => "rejected",
        TeamStatus::Merged => "merged",
    }
}

/// Distinct reviewers among a rule's evidence.
pub fn reviewers(r: &TeamRule) -> usize {
    let mut a: Vec<&str> = r
        .evidence
        .iter()
        .filter_map(|e| e.author.as_deref())
        .collect();
    a.sort_unstable();
    a.dedup();
    a.len()
}

/// A rule's statement, scope and figures.
pub fn rule_head(r: &TeamRule, link: bool) -> Markup {
    html! {
        h2 {
            @if link { a href={ "/rules/" (r.id) } { (r.title) } } @else { (r.title) }
            " " span class={ "status " (status_text(r.status)) } { (status_text(r.status)) }
        }
        p.statement { (r.statement) }
        @if let Some(why) = &r.rationale { p.rationale { (why) } }
        dl.facts {
            dt { "repo" } dd { (r.repo.as_deref().unwrap_or("every repo")) }
            dt { "globs" } dd {
                @if r.globs.is_empty() { "every file" }
                @for g in &r.globs { code { (g) } " " }
            }
            dt { "confidence" } dd { (format!("{:.2}", r.confidence)) }
            dt { "evidence" } dd { (r.evidence.len()) " from " (reviewers(r)) " reviewer(s)" }
            dt { "revision" } dd { (r.revision) }
        }
    }
}

/// The evidence, each excerpt cut to `max_chars`.
pub fn evidence(list: &[Evidence], max_chars: usize) -> Markup {
    html! {
        ol.evidence {
            @for e in list {
                li {
                    blockquote { (cut(&e.excerpt, max_chars)) }
                    p.meta {
                        (e.author.as_deref().unwrap_or("someone"))
                        @if let Some(p) = &e.path {
                            " on " code { (p) @if let Some(l) = e.line { ":" (l) } }
                        }
                        @if let Some(u) = safe_url(e.url.as_deref()) {
                            " · " a href=(u) rel="noopener noreferrer nofollow" target="_blank" { "the comment" }
                        }
                    }
                }
            }
        }
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}
