//! The team console (DESIGN §10 "The console"): server-rendered pages on the API's port — sign
//! in with a token, the review queue, the rules, a rule's page, activity and tokens. Sessions
//! live in the server's database (several instances share them); the cookie is HttpOnly and
//! SameSite=Strict (+ Secure behind TLS), every form carries the session's CSRF token, sign-in
//! attempts are rate-limited per address, and every page is sent with a Content-Security-Policy
//! that allows no inline script and nothing from elsewhere. Imported text is escaped by the
//! templates (maud); links are `http(s)` only.

// Page handlers return `Result<_, Response>` so a refusal (sign in, CSRF, role) is an early
// return; the size of `Response` does not matter on this path.
#![allow(clippy::result_large_err)]

mod admin;
mod page;
mod review;
mod rules;
mod session;

use crate::api::AppState;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::Arc;

pub use session::SignInLimiter;

const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("console.js");

/// The console's routes, merged into the API's router.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(session::home))
        .route("/signin", get(session::signin_page).post(session::signin))
        .route("/signout", post(session::signout))
        .route("/queue", get(review::queue))
        .route("/rules", get(rules::list))
        .route("/rules/{id}", get(rules::one))
        .route("/rules/{id}/decide", post(review::decide))
        .route("/activity", get(admin::activity))
        .route("/tokens", get(admin::tokens).post(admin::create_token))
        .route("/tokens/{id}/revoke", post(admin::revoke_token))
        .route("/assets/style.css", get(|| asset(STYLE, "text/css")))
        .route(
            "/assets/console.js",
            get(|| asset(SCRIPT, "text/javascript")),
        )
        .layer(axum::middleware::map_response(secure_headers))
}

async fn asset(body: &'static str, kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// Every console response: no inline script, nothing from elsewhere, never framed, no referrer.
async fn secure_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}
