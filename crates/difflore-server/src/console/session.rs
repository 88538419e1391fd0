//! Signing in and out, and the session behind every page: a random secret in an HttpOnly,
//! SameSite=Strict cookie (Secure when the request came over TLS, as a proxy's
//! `X-Forwarded-Proto: https` says), only its SHA-256 stored with the token it acts as and its
//! CSRF token. A new session at every sign-in (no fixation); a revoked token ends it; failed
//! sign-ins are limited per address.

use super::page;
use crate::api::AppState;
use crate::auth;
use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use difflore_server_db::{Role, SessionRecord, Storage, TokenRecord};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

const COOKIE: &str = "difflore_session";
/// A session lasts this long.
const LIFETIME_SECS: i64 = 12 * 3600;
/// Failed sign-ins allowed per address in [`WINDOW`].
const MAX_FAILURES: u32 = 10;
const WINDOW: Duration = Duration::from_secs(600);

/// A signed-in person: the token they act as and the session's CSRF token.
pub struct Session {
    pub token: TokenRecord,
    pub csrf: String,
    id_sha256: String,
}

impl Session {
    pub fn can_decide(&self) -> bool {
        self.token.role.can_decide()
    }
    pub fn is_admin(&self) -> bool {
        self.token.role == Role::Admin
    }
    /// Whether a form's `csrf_token` is this session's.
    pub fn csrf_ok(&self, form: &HashMap<String, String>) -> bool {
        form.get("csrf_token")
            .is_some_and(|t| bool::from(t.as_bytes().ct_eq(self.csrf.as_bytes())))
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn random_hex(n: usize) -> Option<String> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).ok()?;
    Some(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn cookie_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The session of this request, if it has a live one whose token is not revoked.
pub async fn current(st: &AppState, headers: &HeaderMap) -> Option<Session> {
    let secret = cookie_secret(headers)?;
    let id = sha256_hex(&secret);
    let rec = st.store.session(&id, now()).await.ok()??;
    match st.store.active_token(&rec.token_id).await.ok()? {
        Some(token) => Some(Session {
            token,
            csrf: rec.csrf,
            id_sha256: id,
        }),
        None => {
            let _ = st.store.delete_session(&id, now()).await;
            None
        }
    }
}

/// The session, or the sign-in page to go to.
pub async fn require(st: &AppState, headers: &HeaderMap) -> Result<Session, Response> {
    current(st, headers)
        .await
        .ok_or_else(|| Redirect::to("/signin").into_response())
}

/// The session behind a posted form, with the form's CSRF token checked: 403 without a
/// session or with another token.
pub async fn for_form(
    st: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Session, Response> {
    let Some(s) = current(st, headers).await else {
        return Err(page::error(StatusCode::FORBIDDEN, "sign in first"));
    };
    if !s.csrf_ok(form) {
        return Err(page::error(
            StatusCode::FORBIDDEN,
            "the form's CSRF token is not this session's; reload the page and try again",
        ));
    }
    Ok(s)
}

/// Where a person lands: maintainers on the review queue, readers on the rules.
fn landing(role: Role) -> &'static str {
    if role.can_decide() {
        "/queue"
    } else {
        "/rules"
    }
}

pub async fn home(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match current(&st, &headers).await {
        Some(s) => Redirect::to(landing(s.token.role)).into_response(),
        None => Redirect::to("/signin").into_response(),
    }
}

pub async fn signin_page(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(s) = current(&st, &headers).await {
        return Redirect::to(landing(s.token.role)).into_response();
    }
    page::signin(None, StatusCode::OK)
}

/// Failed sign-ins per address.
#[derive(Default)]
pub struct SignInLimiter {
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl SignInLimiter {
    fn blocked(&self, ip: IpAddr) -> bool {
        let Ok(m) = self.failures.lock() else {
            return false;
        };
        m.get(&ip)
            .is_some_and(|(since, n)| since.elapsed() < WINDOW && *n >= MAX_FAILURES)
    }
    fn failed(&self, ip: IpAddr) {
        if let Ok(mut m) = self.failures.lock() {
            if m.len() > 10_000 {
                m.retain(|_, (since, _)| since.elapsed() < WINDOW);
            }
            let e = m.entry(ip).or_insert((Instant::now(), 0));
            if e.0.elapsed() >= WINDOW {
                *e = (Instant::now(), 0);
            }
            e.1 += 1;
        }
    }
}

fn peer(info: Option<&ConnectInfo<SocketAddr>>) -> IpAddr {
    info.map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |c| {
        c.0.ip().to_canonical()
    })
}

pub async fn signin(
    State(st): State<Arc<AppState>>,
    ext: axum::http::Extensions,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let ip = peer(ext.get::<ConnectInfo<SocketAddr>>());
    if st.signin.blocked(ip) {
        return page::signin(
            Some("Too many failed sign-ins from this address; wait ten minutes."),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let given = form.get("token").map(|t| t.trim()).unwrap_or_default();
    let token = match auth::authenticate(&st.store, Some(&format!("Bearer {given}"))).await {
        Ok(t) => t,
        Err(_) => {
            st.signin.failed(ip);
            return page::signin(
                Some("That token is not valid (or was revoked)."),
                StatusCode::UNAUTHORIZED,
            );
        }
    };
    if !token.role.can_read() {
        return page::signin(
            Some(
                "This is an ingest token: it can only send a daemon's events. The console needs a \
                 read, maintainer or admin token (difflore-server token create --role read).",
            ),
            StatusCode::FORBIDDEN,
        );
    }
    // Always a new session: an old cookie (perhaps planted) is ended, never reused.
    if let Some(old) = cookie_secret(&headers) {
        let _ = st.store.delete_session(&sha256_hex(&old), now()).await;
    }
    let (Some(secret), Some(csrf)) = (random_hex(32), random_hex(32)) else {
        return page::error(StatusCode::SERVICE_UNAVAILABLE, "no randomness available");
    };
    let rec = SessionRecord {
        id_sha256: sha256_hex(&secret),
        token_id: token.id.clone(),
        csrf,
        created_at: now(),
        expires_at: now() + LIFETIME_SECS,
    };
    if st.store.create_session(rec).await.is_err() {
        return page::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage unavailable; try again",
        );
    }
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let cookie = format!(
        "{COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={LIFETIME_SECS}{}",
        if secure { "; Secure" } else { "" }
    );
    (
        [(header::SET_COOKIE, cookie)],
        Redirect::to(landing(token.role)),
    )
        .into_response()
}

pub async fn signout(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(s) = current(&st, &headers).await {
        if !s.csrf_ok(&form) {
            return page::error(
                StatusCode::FORBIDDEN,
                "the form's CSRF token is not this session's",
            );
        }
        let _ = st.store.delete_session(&s.id_sha256, now()).await;
    }
    (
        [(
            header::SET_COOKIE,
            format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
        )],
        Redirect::to("/signin"),
    )
        .into_response()
}
