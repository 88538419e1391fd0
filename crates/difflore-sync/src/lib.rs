//! difflore's delivery side: *hook = enqueue, daemon = drain*.
//!
//! - [`creds`] holds the login (server URL in `config.toml`, token in a 0600 file);
//!   [`client::Client`] speaks `/v1` and classifies every answer into a [`client::PostOutcome`].
//! - [`drain::Drainer`] claims batches from the outbox (`difflore-core`), sends them, and
//!   settles each event by the server's answer: complete, dead, backoff, split, bisect or park.
//!   The circuit breaker ([`breaker`]) and every other piece of shared state ([`state`]) live in
//!   the database, so `sync now` and the daemon see the same truth.
//! - [`pull`] brings the team's rulebook down into the local mirror.
//! - [`lockfile`] is the daemon's liveness truth (`daemon.lock`, flock + pid + start time);
//!   [`daemon`] is the long-running loop; [`control`] starts, stops and reports on it;
//!   [`service`] writes the systemd / launchd units; [`error`] names why each can fail.
#![forbid(unsafe_code)]

pub mod breaker;
pub mod client;
pub mod control;
pub mod creds;
pub mod daemon;
pub mod drain;
pub mod error;
pub mod lockfile;
pub mod pull;
pub mod service;
pub mod state;

use std::time::Duration;

/// The delivery side's timings. The defaults are the product's; a binary may shorten them for
/// its tests ([`Tuning::from_test_env`]) and passes the result in — nothing in this crate reads
/// the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// How long a claimed batch stays leased.
    pub lease_ms: i64,
    /// First retry delay after a transient failure, and the cap of the backoff.
    pub backoff_base_ms: i64,
    pub backoff_cap_ms: i64,
    /// How long the breaker stays open before a probe.
    pub breaker_open_ms: i64,
    /// The longest one request may take (DESIGN: ≤ 10 s; leases are longer).
    pub request_timeout: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            lease_ms: 60_000,
            backoff_base_ms: 1_000,
            backoff_cap_ms: 300_000,
            breaker_open_ms: 30_000,
            request_timeout: Duration::from_secs(10),
        }
    }
}

impl Tuning {
    /// The defaults, each shortened by its `DIFFLORE_TEST_*_MS` variable when set (the test
    /// suite's way to see leases expire and breakers close in seconds).
    pub fn from_test_env() -> Tuning {
        let ms = |name: &str| -> Option<u64> {
            std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
        };
        let d = Tuning::default();
        Tuning {
            lease_ms: ms("DIFFLORE_TEST_LEASE_MS").map_or(d.lease_ms, |v| v as i64),
            backoff_base_ms: ms("DIFFLORE_TEST_BACKOFF_BASE_MS")
                .map_or(d.backoff_base_ms, |v| v as i64),
            backoff_cap_ms: ms("DIFFLORE_TEST_BACKOFF_CAP_MS")
                .map_or(d.backoff_cap_ms, |v| v as i64),
            breaker_open_ms: ms("DIFFLORE_TEST_BREAKER_OPEN_MS")
                .map_or(d.breaker_open_ms, |v| v as i64),
            request_timeout: ms("DIFFLORE_TEST_REQUEST_TIMEOUT_MS")
                .map_or(d.request_timeout, Duration::from_millis),
        }
    }
}
