//! The HTTP client of the `/v1` protocol (ureq, blocking): `POST /v1/events` classified into
//! what the drain must do, and `GET /v1/whoami`. Trusts the platform's CA roots, or the one CA
//! given with `--ca-cert`; honours `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`.

use crate::creds::Credentials;
use difflore_proto::rules::{Decision, RulesPage, TeamRule};
use difflore_proto::{EventEnvelope, EventResult, IngestRequest, IngestResponse, WhoAmI};
use std::time::Duration;

/// What the server said to a batch.
#[derive(Debug)]
pub enum PostOutcome {
    /// 200 with one result per event.
    Results(Vec<EventResult>),
    /// 413; the ids the server named as too large, if any.
    TooLarge(Vec<String>),
    /// 429, with `Retry-After` in ms when given.
    RateLimited(Option<i64>),
    /// 401 / 403.
    Auth(u16, String),
    /// 5xx (or a 200 that is not a valid answer).
    ServerError(u16, String),
    /// 400 for the whole batch.
    BadRequest(String),
    /// Any other 4xx (404, 405, …): most likely a wrong URL or a proxy in the way.
    OtherClientError(u16, String),
    /// No answer: connection refused, timeout, TLS or DNS failure.
    Transport(String),
}

pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: String,
}

/// Why the server did not take a decision.
#[derive(Debug, thiserror::Error)]
pub enum DecisionFailure {
    #[error("the server refused: {0}")]
    Forbidden(String),
    #[error("the team has no such rule: {0}")]
    NotFound(String),
    /// The rule moved on since this machine pulled it; the current rule when the server sent it.
    #[error("{0}")]
    Conflict(String, Option<Box<TeamRule>>),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot reach the team's server ({0})")]
    Unreachable(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read the CA certificate {0}: {1}")]
    CaCert(String, String),
    #[error("{0}")]
    Request(String),
}

impl Client {
    /// A client whose requests may take `request_timeout` each ([`crate::Tuning`]).
    pub fn new(c: &Credentials, request_timeout: Duration) -> Result<Client, ClientError> {
        let roots = match &c.ca_cert {
            Some(p) => {
                let pem = std::fs::read(p)
                    .map_err(|e| ClientError::CaCert(p.display().to_string(), e.to_string()))?;
                let cert = ureq::tls::Certificate::from_pem(&pem)
                    .map_err(|e| ClientError::CaCert(p.display().to_string(), e.to_string()))?;
                ureq::tls::RootCerts::new_with_certs(&[cert])
            }
            None => ureq::tls::RootCerts::PlatformVerifier,
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(request_timeout))
            .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
            .proxy(ureq::Proxy::try_from_env())
            .user_agent(concat!("difflore/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Client {
            agent,
            base: c.server.trim_end_matches('/').to_string(),
            token: c.token.clone(),
        })
    }

    pub fn server(&self) -> &str {
        &self.base
    }

    /// `GET /v1/whoami`.
    pub fn whoami(&self) -> Result<WhoAmI, ClientError> {
        let mut r = self
            .agent
            .get(format!("{}/v1/whoami", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .call()
            .map_err(|e| ClientError::Request(format!("cannot reach {}: {e}", self.base)))?;
        let status = r.status().as_u16();
        let body = r.body_mut().read_to_string().unwrap_or_default();
        match status {
            200 => serde_json::from_str(&body).map_err(|_| {
                ClientError::Request(format!(
                    "{} answered, but not like a difflore-server (is the URL right?)",
                    self.base
                ))
            }),
            401 | 403 => Err(ClientError::Request(format!(
                "the server refused the token ({status}): {}",
                error_message(&body)
            ))),
            404 => Err(ClientError::Request(format!(
                "{} has no /v1/whoami (404): is this the URL of a difflore-server?",
                self.base
            ))),
            _ => Err(ClientError::Request(format!(
                "{} answered {status}: {}",
                self.base,
                error_message(&body)
            ))),
        }
    }

    /// `GET /v1/rules?since=V&limit=N`: the team's rules changed after `since`.
    pub fn get_rules(&self, since: i64, limit: usize) -> Result<RulesPage, ClientError> {
        self.get_json(
            &format!("/v1/rules?since={since}&limit={limit}"),
            "a pull",
            "has no team rulebook (/v1/rules answered 404): upgrade the server",
        )
    }

    /// `GET /v1/outcomes?since=DAY`: how often the team's agents were served each rule.
    pub fn get_outcomes(
        &self,
        since: &str,
    ) -> Result<difflore_proto::outcomes::Outcomes, ClientError> {
        self.get_json(
            &format!("/v1/outcomes?since={since}"),
            "the figures",
            "keeps no figures (/v1/outcomes answered 404): upgrade the server",
        )
    }

    /// A GET of the team's data, read as `T`; `what` names it in errors, `missing` says what a
    /// 404 means.
    fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        what: &str,
        missing: &str,
    ) -> Result<T, ClientError> {
        let mut r = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .call()
            .map_err(|e| ClientError::Request(format!("cannot reach {}: {e}", self.base)))?;
        let status = r.status().as_u16();
        let body = r
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        match status {
            200 => serde_json::from_str(&body).map_err(|e| {
                ClientError::Request(format!(
                    "{} answered {what} that does not read: {e}",
                    self.base
                ))
            }),
            404 => Err(ClientError::Request(format!("{} {missing}", self.base))),
            _ => Err(ClientError::Request(format!(
                "{} answered {status} to {what}: {}",
                self.base,
                error_message(&body)
            ))),
        }
    }

    /// `POST /v1/rules/{id}/decision`: a maintainer's decision on a team rule.
    pub fn decide(&self, id: &str, d: &Decision) -> Result<TeamRule, DecisionFailure> {
        let body = serde_json::to_vec(d).map_err(|e| DecisionFailure::Invalid(e.to_string()))?;
        let mut r = self
            .agent
            .post(format!("{}/v1/rules/{id}/decision", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .send(&body[..])
            .map_err(|e| DecisionFailure::Unreachable(format!("{}: {e}", self.base)))?;
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        match status {
            200 => serde_json::from_str(&text).map_err(|e| {
                DecisionFailure::Invalid(format!("the server's answer is not a rule: {e}"))
            }),
            403 => Err(DecisionFailure::Forbidden(error_message(&text))),
            404 => Err(DecisionFailure::NotFound(error_message(&text))),
            409 => {
                let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                Err(DecisionFailure::Conflict(
                    error_message(&text),
                    serde_json::from_value(v["rule"].clone()).ok().map(Box::new),
                ))
            }
            400 => Err(DecisionFailure::Invalid(error_message(&text))),
            _ => Err(DecisionFailure::Unreachable(format!(
                "{} answered {status}: {}",
                self.base,
                error_message(&text)
            ))),
        }
    }

    /// `POST /v1/events`.
    pub fn post_events(&self, events: &[EventEnvelope]) -> PostOutcome {
        let body = match serde_json::to_vec(&IngestRequest {
            events: events.into(),
        }) {
            Ok(b) => b,
            Err(e) => return PostOutcome::BadRequest(e.to_string()),
        };
        let resp = self
            .agent
            .post(format!("{}/v1/events", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .send(&body[..]);
        let mut r = match resp {
            Ok(r) => r,
            Err(e) => return PostOutcome::Transport(e.to_string()),
        };
        let status = r.status().as_u16();
        let retry_after = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map(|s| s.max(0) * 1000);
        let text = match r
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string()
        {
            Ok(t) => t,
            Err(e) => return PostOutcome::Transport(format!("reading the answer: {e}")),
        };
        match status {
            200 => match serde_json::from_str::<IngestResponse>(&text) {
                Ok(v) => PostOutcome::Results(v.results),
                Err(_) => PostOutcome::ServerError(
                    200,
                    "the answer is not a difflore-server answer".into(),
                ),
            },
            413 => {
                let ids = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v.get("too_large_ids").cloned())
                    .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
                    .unwrap_or_default();
                PostOutcome::TooLarge(ids)
            }
            429 => PostOutcome::RateLimited(retry_after),
            401 | 403 => PostOutcome::Auth(status, error_message(&text)),
            400 => PostOutcome::BadRequest(error_message(&text)),
            s if s >= 500 => PostOutcome::ServerError(s, error_message(&text)),
            s => PostOutcome::OtherClientError(s, error_message(&text)),
        }
    }
}

fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_else(|| body.chars().take(200).collect())
}
