//! difflore's delivery side: *hook = enqueue, daemon = drain*.
//!
//! - [`creds`] holds the login (server URL in `config.toml`, token in a 0600 file);
//!   [`client::Client`] speaks `/v1` and classifies every answer into a [`client::PostOutcome`].
//! - [`drain::Drainer`] claims batches from the outbox (`difflore-core`), sends them, and
//!   settles each event by the server's answer: complete, dead, backoff, split, bisect or park.
//!   The circuit breaker ([`breaker`]) and every other piece of shared state ([`state`]) live in
//!   the database, so `sync now` and the daemon see the same truth.
//! - [`lockfile`] is the daemon's liveness truth (`daemon.lock`, flock + pid + start time);
//!   [`daemon`] is the long-running loop; [`control`] starts, stops and reports on it;
//!   [`service`] writes the systemd / launchd units.
#![forbid(unsafe_code)]

pub mod breaker;
pub mod client;
pub mod control;
pub mod creds;
pub mod daemon;
pub mod drain;
pub mod lockfile;
pub mod service;
pub mod state;

/// A test-only duration override from the environment, in milliseconds.
pub fn env_ms(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}
