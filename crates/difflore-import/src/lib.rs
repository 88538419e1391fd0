//! Importing review history into the local store, faithfully and incrementally.
//!
//! Three sources feed one model ([`store`]: pull/merge requests, their review comments kept raw,
//! and a cursor per source and repo): [`github`] (REST, `Link` pagination), [`gitlab`] (v4,
//! `X-Next-Page` pagination) and [`file`] (a documented JSON format for other forges and
//! air-gapped use). [`http::Http`] is the one polite HTTP client they share: it waits out rate
//! limits with a visible message and retries 5xx and transport errors.
//!
//! Every page is written in one transaction together with the cursor that says it is done, so an
//! interrupted import (Ctrl-C, crash) resumes where it stopped, and upserts keyed by the
//! platform's ids make a re-run store nothing twice.
#![forbid(unsafe_code)]

pub mod file;
pub mod github;
pub mod gitlab;
pub mod http;
pub mod store;

use serde::Serialize;

/// Options every source takes.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only PRs updated at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Stop after this many PRs.
    pub max_prs: Option<usize>,
    /// Fetch the PR listing only; store nothing.
    pub dry_run: bool,
}

/// What an import did (`--json`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub schema_version: u32,
    pub source: String,
    pub repo: String,
    /// PRs seen in this run (new or updated).
    pub prs: usize,
    /// Review comments stored or updated in this run.
    pub comments: usize,
    /// Records left out (system notes, comments of PRs outside `--max-prs`, …).
    pub skipped: usize,
    /// Why, per reason: how many and one example id (`--json`: `skipped_reasons`).
    pub skipped_reasons: Vec<Skipped>,
    pub requests: usize,
    pub elapsed_s: f64,
    pub dry_run: bool,
    /// With `--dry-run`: what would be imported, per pull request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub would_import: Vec<Planned>,
}

/// One pull request a dry run would import, with the review comments it would bring.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Planned {
    pub number: i64,
    pub title: String,
    /// `None` where counting them would cost a request per pull request (GitLab).
    pub comments: Option<usize>,
}

/// One reason records were left out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Skipped {
    pub reason: String,
    pub count: usize,
    pub example: String,
}

impl Summary {
    /// Counts one record left out for `reason`; the first one's id is kept as the example.
    pub fn skip(&mut self, reason: &str, example: impl std::fmt::Display) {
        self.skipped += 1;
        match self.skipped_reasons.iter_mut().find(|s| s.reason == reason) {
            Some(s) => s.count += 1,
            None => self.skipped_reasons.push(Skipped {
                reason: reason.to_string(),
                count: 1,
                example: example.to_string(),
            }),
        }
    }
}

/// Progress reports for the CLI (a bar on a terminal, nothing otherwise).
pub trait Progress {
    /// A phase starts (`len` items when known).
    fn phase(&mut self, name: &str, len: Option<u64>);
    fn inc(&mut self, n: u64);
    /// A message a person should see now (rate-limit waits, retries).
    fn notice(&mut self, msg: &str);
}

/// A `Progress` that shows nothing.
pub struct Quiet;
impl Progress for Quiet {
    fn phase(&mut self, _: &str, _: Option<u64>) {}
    fn inc(&mut self, _: u64) {}
    fn notice(&mut self, _: &str) {}
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Auth(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Http(String),
    #[error("{0}")]
    Invalid(String),
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
}

/// `true` for RFC 3339 text (the wire protocol's own check).
pub use difflore_proto::is_valid_timestamp as is_rfc3339;

/// Accepts `YYYY-MM-DD` or RFC 3339 for `--since`; returns RFC 3339.
pub fn parse_since(s: &str) -> Result<String, ImportError> {
    let s = s.trim();
    if is_rfc3339(s) {
        return Ok(s.to_string());
    }
    let day = format!("{s}T00:00:00Z");
    if s.len() == 10 && is_rfc3339(&day) {
        return Ok(day);
    }
    Err(ImportError::Invalid(format!(
        "--since {s:?}: expected a date (2026-01-31) or an RFC 3339 time"
    )))
}

/// Compares two RFC 3339 times (falls back to text order when one does not parse).
pub fn time_lt(a: &str, b: &str) -> bool {
    let p = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
    };
    match (p(a), p(b)) {
        (Some(x), Some(y)) => x < y,
        _ => a < b,
    }
}

/// The later of two optional RFC 3339 times (where an import must start).
pub fn later_of(a: Option<&String>, b: Option<&String>) -> Option<String> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if time_lt(x, y) { y.clone() } else { x.clone() }),
        (x, y) => x.or(y).cloned(),
    }
}

/// A string field of a JSON object.
pub fn json_str(v: &serde_json::Value, k: &str) -> Option<String> {
    v.get(k)
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
}
