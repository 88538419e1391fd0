//! The harness the workspace's tests and benches share (never shipped, `publish = false`):
//!
//! - [`server`]: a real `difflore-server` process on 127.0.0.1 over SQLite (a temp dir) or
//!   PostgreSQL (`DIFFLORE_TEST_PG_URL`), its tokens and its event listing, and the
//!   [`on_both_backends!`] test declarator;
//! - [`http`]: a small `/v1` client for tests (status + parsed body, never an error for a 4xx);
//! - [`forge`]: a local HTTP server replaying GitHub REST / GitLab v4 answers with a request log;
//! - [`proc`]: children killed on drop, and polling with a bound;
//! - [`console`]: a visitor of the team console (session cookie, forms, CSRF) without a browser;
//! - [`webdriver`]: a real Chromium driven over the W3C WebDriver protocol (`chromedriver`).
#![forbid(unsafe_code)]

pub mod console;
pub mod forge;
pub mod http;
pub mod proc;
pub mod server;
pub mod webdriver;

/// Declares each named `fn(&Backend)` as two tests, `sqlite::NAME` and `postgres::NAME` (the
/// latter skipped, or failed with `DIFFLORE_REQUIRE_PG=1`, without a PostgreSQL URL). The
/// calling module must have `Backend` in scope.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(&super::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { if let Some(b) = super::Backend::postgres() { super::$name(&b) } } )*
        }
    };
}
