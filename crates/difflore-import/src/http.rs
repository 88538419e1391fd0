//! The importers' HTTP client: one GET with the politeness a forge expects. Rate limits
//! (`X-RateLimit-Remaining: 0` + `X-RateLimit-Reset`, `Retry-After`, on 403 or 429) are waited
//! out with a visible message; 5xx and transport errors are retried with exponential backoff;
//! 401 / 404 become clear errors. Tokens travel only in headers and never appear in messages,
//! and only to the API's own origin: a pagination link to any other scheme, host or port is an
//! error, never a request. A connection refused (or a host not found) before anything worked
//! fails at once: retries are for a server that answered before.

use crate::{ImportError, Progress};
use std::time::Duration;

/// An answer worth reading.
pub struct Resp {
    pub status: u16,
    pub body: String,
    headers: Vec<(String, String)>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Http {
    agent: ureq::Agent,
    auth: Option<(String, String)>,
    forge: &'static str,
    retries: u32,
    backoff_ms: u64,
    /// Longest single rate-limit wait we accept before giving up.
    max_wait_s: u64,
    /// `(scheme, host, port)` of the API base: the only origin requests go to.
    origin: Option<(String, String, u16)>,
    /// Some request got an answer (retrying a refused connection makes sense only after that).
    answered: bool,
    pub requests: usize,
}

/// `(scheme, host, port)` of an absolute http(s) URL, with the scheme's default port.
pub fn origin_of(url: &str) -> Option<(String, String, u16)> {
    let uri: ureq::http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let port = uri.port_u16().or(match scheme.as_str() {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    })?;
    Some((scheme, uri.host()?.to_ascii_lowercase(), port))
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
pub fn enc(v: &str) -> String {
    let mut o = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

impl Http {
    /// `auth` is the header carrying the token (`Authorization: Bearer …`, `PRIVATE-TOKEN: …`).
    pub fn new(forge: &'static str, auth: Option<(String, String)>) -> Http {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .proxy(ureq::Proxy::try_from_env())
            .user_agent(concat!("difflore/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Http {
            agent,
            auth,
            forge,
            retries: 5,
            backoff_ms: 1_000,
            max_wait_s: 3_600,
            origin: None,
            answered: false,
            requests: 0,
        }
    }

    /// The first retry delay (doubling after each retry); 1 s unless a caller shortens it.
    pub fn with_backoff_ms(mut self, ms: u64) -> Http {
        self.backoff_ms = ms;
        self
    }

    /// Sends requests (and the token) only to the origin of `api_base`.
    pub fn with_base(mut self, api_base: &str) -> Result<Http, ImportError> {
        self.origin = Some(origin_of(api_base).ok_or_else(|| {
            ImportError::Invalid(format!(
                "{api_base:?} is not an http(s) URL (expected e.g. https://api.github.com)"
            ))
        })?);
        Ok(self)
    }

    /// GET `url` (JSON), waiting and retrying as described above.
    pub fn get(&mut self, url: &str, progress: &mut dyn Progress) -> Result<Resp, ImportError> {
        if let Some(o) = &self.origin
            && origin_of(url).as_ref() != Some(o)
        {
            return Err(ImportError::Http(format!(
                "{} gave a link to {url}, which is not on the API's own origin ({}://{}:{}); not following it, so the token is never sent there",
                self.forge, o.0, o.1, o.2
            )));
        }
        let mut failures = 0u32;
        let mut waits = 0u32;
        loop {
            let r = match self.call(url) {
                Ok(r) => r,
                Err(e) => {
                    failures += 1;
                    let refused = matches!(
                        e,
                        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound
                    ) || matches!(&e, ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused);
                    if failures > self.retries || (refused && !self.answered) {
                        return Err(ImportError::Http(format!(
                            "cannot reach {}: {e}",
                            host_of(url)
                        )));
                    }
                    let d = self.backoff(failures);
                    progress.notice(&format!(
                        "network error talking to {} ({e}); retrying in {:.1} s",
                        self.forge,
                        d.as_secs_f64()
                    ));
                    std::thread::sleep(d);
                    continue;
                }
            };
            self.answered = true;
            match r.status {
                200..=299 => return Ok(r),
                403 | 429 if self.rate_limit_wait(&r).is_some() => {
                    let wait = self.rate_limit_wait(&r).unwrap_or(60);
                    waits += 1;
                    if wait > self.max_wait_s || waits > 20 {
                        return Err(ImportError::Http(format!(
                            "{} rate limit: would have to wait {wait} s; try again later",
                            self.forge
                        )));
                    }
                    progress.notice(&format!(
                        "{} rate limit reached; waiting {wait} s before continuing",
                        self.forge
                    ));
                    std::thread::sleep(Duration::from_secs(wait));
                }
                500..=599 => {
                    failures += 1;
                    if failures > self.retries {
                        return Err(ImportError::Http(format!(
                            "{} kept failing ({}) for {}",
                            self.forge,
                            r.status,
                            path_of(url)
                        )));
                    }
                    let d = self.backoff(failures);
                    progress.notice(&format!(
                        "{} answered {}; retrying in {:.1} s",
                        self.forge,
                        r.status,
                        d.as_secs_f64()
                    ));
                    std::thread::sleep(d);
                }
                _ => return Err(self.refusal(url, &r)),
            }
        }
    }

    /// Why an answer that will not get better by waiting ends the import.
    fn refusal(&self, url: &str, r: &Resp) -> ImportError {
        match r.status {
            401 => ImportError::Auth(format!(
                "{} rejected the token (401): {}. Check the token and its scopes",
                self.forge,
                message(&r.body)
            )),
            403 => ImportError::Auth(format!(
                "{} refused access (403): {}",
                self.forge,
                message(&r.body)
            )),
            404 => ImportError::NotFound(format!(
                "{} answered 404 for {}: the repository does not exist or the token cannot see it",
                self.forge,
                path_of(url)
            )),
            s => ImportError::Http(format!(
                "{} answered {s} for {}: {}",
                self.forge,
                path_of(url),
                message(&r.body)
            )),
        }
    }

    /// One request (the forge's headers, the token) and its whole answer, bounded at 64 MiB.
    fn call(&mut self, url: &str) -> Result<Resp, ureq::Error> {
        let mut req = self.agent.get(url).header("Accept", "application/json");
        if self.forge == "GitHub" {
            req = req
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28");
        }
        if let Some((k, v)) = &self.auth {
            req = req.header(k.as_str(), v.as_str());
        }
        self.requests += 1;
        let mut r = req.call()?;
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = r
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        Ok(Resp {
            status,
            body,
            headers,
        })
    }

    fn backoff(&self, n: u32) -> Duration {
        Duration::from_millis(self.backoff_ms.saturating_mul(1 << (n - 1).min(6)))
    }

    /// Seconds to wait when the answer is a rate limit, `None` otherwise.
    fn rate_limit_wait(&self, r: &Resp) -> Option<u64> {
        if let Some(s) = r
            .header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            return Some(s.max(1));
        }
        let exhausted = r
            .header("x-ratelimit-remaining")
            .is_some_and(|v| v.trim() == "0")
            || r.header("ratelimit-remaining")
                .is_some_and(|v| v.trim() == "0");
        if !exhausted && r.status != 429 {
            return None;
        }
        let reset = r
            .header("x-ratelimit-reset")
            .or(r.header("ratelimit-reset"))
            .and_then(|v| v.trim().parse::<i64>().ok());
        let now = difflore_core::clock::now_ms() / 1000;
        Some(reset.map_or(60, |t| (t - now).max(1) as u64))
    }
}

/// Longest error message from a forge shown (the whole of any real one).
const MESSAGE_MAX: usize = 2_000;

/// The forge's error message, with its details (GitHub's `errors`, GitLab's `error`), whole up
/// to [`MESSAGE_MAX`] and cut at a word boundary past it.
fn message(body: &str) -> String {
    let text = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) => {
            let main = v
                .get("message")
                .or(v.get("error"))
                .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_string));
            let details = v
                .get("errors")
                .filter(|e| !e.is_null())
                .map(|e| e.to_string());
            match (main, details) {
                (Some(m), Some(d)) => format!("{m} ({d})"),
                (Some(m), None) => m,
                (None, _) => body.to_string(),
            }
        }
        Err(_) => body.to_string(),
    };
    let text = text.trim();
    if text.len() <= MESSAGE_MAX {
        return text.to_string();
    }
    let cut = difflore_core::redact::prefix_at_most(text, MESSAGE_MAX);
    let cut = cut.rfind(' ').map_or(cut, |i| &cut[..i]);
    format!("{cut} …")
}

fn host_of(url: &str) -> &str {
    url.split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or(url)
}

fn path_of(url: &str) -> &str {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let p = rest.find('/').map_or("/", |i| &rest[i..]);
    p.split('?').next().unwrap_or(p)
}

/// The `rel="next"` URL of a `Link` header.
pub fn link_next(link: Option<&str>) -> Option<String> {
    link?.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"")
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn origins_and_encoding() {
        use super::*;
        assert_eq!(
            origin_of("https://api.github.com/repos/a/b?page=2"),
            Some(("https".into(), "api.github.com".into(), 443))
        );
        assert_eq!(
            origin_of("http://127.0.0.1:9000/x"),
            Some(("http".into(), "127.0.0.1".into(), 9000))
        );
        assert_ne!(
            origin_of("https://evil.example/x"),
            origin_of("https://api.github.com/")
        );
        assert_eq!(
            enc("2020-01-01T00:00:00+01:00"),
            "2020-01-01T00%3A00%3A00%2B01%3A00"
        );
        let long = format!("{{\"message\":\"{}\"}}", "word ".repeat(1000));
        let m = message(&long);
        assert!(m.len() <= MESSAGE_MAX + 4 && m.ends_with(" …"), "{m}");
        assert_eq!(
            message(r#"{"message":"Validation Failed","errors":[{"field":"since"}]}"#),
            r#"Validation Failed ([{"field":"since"}])"#
        );
    }

    #[test]
    fn link_header() {
        let l = r#"<https://api.github.com/repositories/1/pulls?page=2>; rel="next", <https://api.github.com/repositories/1/pulls?page=5>; rel="last""#;
        assert_eq!(
            super::link_next(Some(l)).as_deref(),
            Some("https://api.github.com/repositories/1/pulls?page=2")
        );
        assert_eq!(
            super::link_next(Some(r#"<https://x/a?page=1>; rel="prev""#)),
            None
        );
        assert_eq!(super::link_next(None), None);
    }
}
