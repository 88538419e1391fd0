//! A real `difflore-server` process on 127.0.0.1 for tests and benches: SQLite in a temp dir or
//! PostgreSQL from `DIFFLORE_TEST_PG_URL`; restartable on the same URL; tokens made with its own
//! `token create` command.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// The `difflore-server` binary the workspace build put beside the running test or bench
/// (`target/<profile>/difflore-server`; tests run from `target/<profile>/deps/`).
pub fn server_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut dir = exe.parent().expect("a directory").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let p = dir.join("difflore-server");
    assert!(
        p.exists(),
        "{} is missing: build the whole workspace first (`cargo build --workspace`)",
        p.display()
    );
    p
}

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
                    "SKIPPED: PostgreSQL case (set DIFFLORE_TEST_PG_URL; ./scripts/test does)"
                );
                None
            }
        }
    }
}

/// A unique name (a team) per test, so tests can share one PostgreSQL database.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

/// A running `difflore-server`. Killed when dropped.
pub struct TestServer {
    pub child: Option<Child>,
    /// `http://127.0.0.1:PORT`, the same across restarts.
    pub url: String,
    pub port: u16,
    pub database: String,
    /// A team of its own, for [`TestServer::token`].
    pub team: String,
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
    bin: PathBuf,
}

impl TestServer {
    pub fn start(backend: &Backend) -> TestServer {
        TestServer::start_with_env(backend, &[])
    }

    /// Starts a server with extra environment variables (its settings).
    pub fn start_with_env(backend: &Backend, env: &[(&str, &str)]) -> TestServer {
        let dir = tempfile::tempdir().expect("a temp dir");
        let database = match backend {
            Backend::Sqlite => format!("sqlite:{}", dir.path().join("server.db").display()),
            Backend::Postgres(u) => u.clone(),
        };
        let mut s = TestServer {
            child: None,
            url: String::new(),
            port: 0,
            database,
            team: unique("team"),
            dir,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            bin: server_bin(),
        };
        s.spawn();
        s
    }

    /// (Re)starts the process on the same database; the first start takes a port from the
    /// system, every restart listens on that same port again.
    pub fn spawn(&mut self) {
        let mut child = Command::new(&self.bin)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{}", self.port),
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
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("the server's first line");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        self.port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {url}"));
        self.url = url;
        self.child = Some(child);
    }

    /// `difflore-server token create` in `team`; returns the token text.
    pub fn token_in(&self, team: &str, name: &str, role: &str) -> String {
        let out = self.cli(&[
            "token", "create", "--team", team, "--name", name, "--role", role,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let t = String::from_utf8(out.stdout).expect("UTF-8 token");
        assert_eq!(t.lines().count(), 1, "stdout holds only the token");
        t.trim().to_string()
    }

    /// A token in this server's own team.
    pub fn token(&self, name: &str, role: &str) -> String {
        self.token_in(&self.team, name, role)
    }

    /// `difflore-server token revoke NAME` in this server's team.
    pub fn revoke(&self, name: &str) {
        let out = self.cli(&["token", "revoke", name, "--team", &self.team]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs `difflore-server ARGS --database DB`.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .args(args)
            .args(["--database", &self.database])
            .output()
            .expect("run difflore-server")
    }

    /// Every event id the server holds for the token's team.
    pub fn ids(&self, read_token: &str) -> Vec<String> {
        crate::http::all_ids(&self.url, read_token, 1000)
    }

    /// SIGTERM and wait (≤ 5 s, then SIGKILL); returns the exit code.
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

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
