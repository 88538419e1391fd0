//! A real browser for the console's tests: Debian's headless Chromium driven by `chromedriver`
//! over the W3C WebDriver protocol (plain JSON over HTTP, spoken here with the client the other
//! tests use, so the suite builds no second HTTP stack). One driver process per [`Browser`],
//! killed on drop; `DIFFLORE_CHROMEDRIVER` / `DIFFLORE_CHROMIUM` override the binaries.

use crate::proc::wait_for;
use base64::Engine;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The W3C key of a web element in a WebDriver answer.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: ureq::Agent,
}

/// Whether this machine has the browser (`./scripts/test` installs it).
pub fn available() -> bool {
    std::path::Path::new(&chromedriver()).exists() && std::path::Path::new(&chromium()).exists()
}

fn chromedriver() -> String {
    std::env::var("DIFFLORE_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}

fn chromium() -> String {
    std::env::var("DIFFLORE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium window of `width`×`height`.
    pub fn start(width: u32, height: u32) -> Browser {
        let port = free_port();
        let driver = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        wait_for(20, "chromedriver to become ready", || {
            http.get(format!("{base}/status"))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == true)
        });
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium(),
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--no-first-run", "--disable-extensions",
                         format!("--window-size={width},{height}")]
            }
        }}});
        let mut me = Browser {
            driver,
            base,
            session: String::new(),
            http,
        };
        let v = me.call("POST", "/session", Some(caps));
        me.session = v["sessionId"]
            .as_str()
            .expect("a WebDriver session")
            .to_string();
        me
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let r = match method {
            "GET" => self.http.get(&url).call(),
            "DELETE" => self.http.delete(&url).call(),
            _ => self
                .http
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or(json!({})).to_string().as_bytes()),
        };
        let mut r = r.expect("chromedriver answers");
        let v: Value = r.body_mut().read_json().unwrap_or(Value::Null);
        v["value"].clone()
    }

    fn checked(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let v = self.call(method, path, body);
        if let Some(e) = v.get("error") {
            panic!("WebDriver {method} {path}: {e} {}", v["message"]);
        }
        v
    }

    pub fn goto(&self, url: &str) {
        self.checked("POST", "/url", Some(json!({"url": url})));
    }

    pub fn url(&self) -> String {
        self.checked("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The elements matching a CSS selector.
    pub fn all(&self, css: &str) -> Vec<String> {
        self.checked(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e[ELEMENT].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
    }

    /// The first element matching a CSS selector (panics when there is none).
    pub fn find(&self, css: &str) -> String {
        self.all(css)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no element {css} on {}", self.url()))
    }

    pub fn click(&self, element: &str) {
        self.checked("POST", &format!("/element/{element}/click"), None);
    }

    pub fn type_into(&self, element: &str, text: &str) {
        self.checked(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        );
    }

    pub fn clear(&self, element: &str) {
        self.checked("POST", &format!("/element/{element}/clear"), None);
    }

    pub fn text(&self, element: &str) -> String {
        self.checked("GET", &format!("/element/{element}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Presses keys on the page (not in a field).
    pub fn keys(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|c| {
                [
                    json!({"type": "keyDown", "value": c.to_string()}),
                    json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        self.checked(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
    }

    /// Runs a script in the page and returns its value (scripts from the test, never the page's).
    pub fn eval(&self, script: &str) -> Value {
        self.checked(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// The text of an open alert, if a script of the page opened one.
    pub fn alert(&self) -> Option<String> {
        let v = self.call("GET", "/alert/text", None);
        v.as_str().map(str::to_string)
    }

    pub fn resize(&self, width: u32, height: u32) {
        self.checked(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        );
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        let b64 = self.checked("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .expect("a base64 PNG")
    }

    /// Cookies the browser holds for the page, as WebDriver reports them.
    pub fn cookies(&self) -> Vec<Value> {
        self.checked("GET", "/cookie", None)
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.call("DELETE", "", None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
