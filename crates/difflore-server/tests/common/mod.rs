//! Test harness: a real `difflore-server` process on 127.0.0.1 with a random port, on SQLite (a
//! temp dir) or PostgreSQL (`DIFFLORE_TEST_PG_URL`), plus a small HTTP client.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_difflore-server");

/// Which storage a server under test runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// The PostgreSQL backend, or `None` (with a loud SKIPPED line) when no database is
    /// configured. With `DIFFLORE_REQUIRE_PG=1` (set by ./scripts/test and CI) a missing
    /// database is a failure, never a silent pass.
    pub fn postgres() -> Option<Backend> {
        match std::env::var("DIFFLORE_TEST_PG_URL") {
            Ok(u) if !u.is_empty() => Some(Backend::Postgres(u)),
            _ => {
                if std::env::var("DIFFLORE_REQUIRE_PG").is_ok_and(|v| v == "1") {
                    panic!("DIFFLORE_REQUIRE_PG=1 but DIFFLORE_TEST_PG_URL is not set");
                }
                eprintln!(
                    "SKIPPED: PostgreSQL test (set DIFFLORE_TEST_PG_URL; ./scripts/test does)"
                );
                None
            }
        }
    }
}

/// A unique name (team) per test, so tests can share one PostgreSQL database.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

pub struct Server {
    pub child: Option<Child>,
    pub url: String,
    pub database: String,
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

impl Server {
    pub fn start(backend: &Backend) -> Server {
        Server::start_with_env(backend, &[])
    }

    /// Starts a server with extra environment variables (its settings).
    pub fn start_with_env(backend: &Backend, env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let database = match backend {
            Backend::Sqlite => format!("sqlite:{}", dir.path().join("server.db").display()),
            Backend::Postgres(u) => u.clone(),
        };
        let mut s = Server {
            child: None,
            url: String::new(),
            database,
            dir,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        s.spawn();
        s
    }

    /// (Re)starts the process on the same database.
    pub fn spawn(&mut self) {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database",
                &self.database,
            ])
            .env("DIFFLORE_SERVER_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn difflore-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        self.url = url;
        self.child = Some(child);
    }

    /// `difflore-server token create`; returns the token text.
    pub fn token(&self, team: &str, name: &str, role: &str) -> String {
        let out = Command::new(BIN)
            .args([
                "token", "create", "--team", team, "--name", name, "--role", role,
            ])
            .args(["--database", &self.database])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let t = String::from_utf8(out.stdout).unwrap();
        assert_eq!(t.lines().count(), 1, "stdout holds only the token");
        t.trim().to_string()
    }

    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(BIN)
            .args(args)
            .args(["--database", &self.database])
            .output()
            .unwrap()
    }

    /// SIGTERM and wait; returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        for _ in 0..100 {
            if let Ok(Some(st)) = c.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// (status, parsed JSON body or Null).
pub fn post(url: &str, token: Option<&str>, body: impl Into<Vec<u8>>) -> (u16, Value) {
    let mut req = agent()
        .post(format!("{url}/v1/events"))
        .header("Content-Type", "application/json");
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let body: Vec<u8> = body.into();
    match req.send(&body[..]) {
        Ok(mut r) => {
            let s = r.status().as_u16();
            let text = r.body_mut().read_to_string().unwrap_or_default();
            (s, serde_json::from_str(&text).unwrap_or(Value::Null))
        }
        Err(e) => (0, Value::String(e.to_string())),
    }
}

pub fn get(url: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = agent().get(format!("{url}{path}"));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    match req.call() {
        Ok(mut r) => {
            let s = r.status().as_u16();
            let text = r.body_mut().read_to_string().unwrap_or_default();
            (s, serde_json::from_str(&text).unwrap_or(Value::Null))
        }
        Err(e) => (0, Value::String(e.to_string())),
    }
}

pub fn event(id: &str, kind: &str) -> Value {
    serde_json::json!({"id": id, "kind": kind, "occurred_at": "2026-11-25T17:00:00Z", "payload": {"agent": "claude-code", "files": ["src/billing.rs"]}})
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub fn batch(events: &[Value]) -> String {
    serde_json::json!({ "events": events }).to_string()
}

/// Every event id of a team, paging with `limit`.
pub fn all_ids(url: &str, token: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let (s, v) = get(
            url,
            &format!("/v1/events?limit={limit}&after={after}"),
            Some(token),
        );
        assert_eq!(s, 200, "{v}");
        let evs = v["events"].as_array().unwrap();
        if evs.is_empty() {
            assert!(v["next_cursor"].is_null());
            return out;
        }
        out.extend(evs.iter().map(|e| e["id"].as_str().unwrap().to_string()));
        after = v["next_cursor"].as_str().unwrap().to_string();
    }
}

/// Declares each named `fn(&Backend)` as two tests, `sqlite::NAME` and `postgres::NAME` (the
/// latter skipped, or failed with `DIFFLORE_REQUIRE_PG=1`, without a PostgreSQL URL).
#[allow(unused_macros)]
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
