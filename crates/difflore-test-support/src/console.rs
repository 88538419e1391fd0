//! A visitor of the team console without a browser: a cookie jar of one session cookie, no
//! redirects followed (the tests look at them), forms posted as a browser posts them, and the
//! CSRF token read from a page.

use std::time::Duration;

/// One answer of the console.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookie: Option<String>,
    pub body: String,
}

/// A person at the console: the server's base URL and the session cookie, if any.
pub struct Visitor {
    base: String,
    agent: ureq::Agent,
    /// `difflore_session=…` as the browser would send it.
    pub cookie: Option<String>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn page(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Page {
    let mut r = r.expect("the console answers");
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (location, set_cookie) = (header("location"), header("set-cookie"));
    Page {
        status: r.status().as_u16(),
        location,
        set_cookie,
        body: r.body_mut().read_to_string().unwrap_or_default(),
    }
}

impl Visitor {
    pub fn new(base: &str) -> Visitor {
        Visitor {
            base: base.trim_end_matches('/').to_string(),
            agent: agent(),
            cookie: None,
        }
    }

    pub fn get(&self, path: &str) -> Page {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header("Cookie", c);
        }
        page(req.call())
    }

    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.post_with(path, fields, &[])
    }

    /// A form post with extra request headers (a proxy's, say).
    pub fn post_with(&self, path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Page {
        let mut req = self.agent.post(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header("Cookie", c);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        page(req.send_form(fields.iter().copied()))
    }

    /// Signs in with `token`; keeps the session cookie the answer sets.
    pub fn sign_in(&mut self, token: &str) -> Page {
        let p = self.post("/signin", &[("token", token)]);
        if let Some(c) = &p.set_cookie {
            self.cookie = c.split(';').next().map(str::to_string);
        }
        p
    }

    /// The session's CSRF token, as the pages carry it.
    pub fn csrf(&self) -> String {
        csrf_in(&self.get("/rules").body).expect("a signed-in page carries the CSRF token")
    }
}

/// The first hidden `csrf_token` of a page.
pub fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf_token\" value=\"")? + "name=\"csrf_token\" value=\"".len();
    Some(html[at..].split('"').next()?.to_string())
}
