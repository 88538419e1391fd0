//! Helpers shared by the end-to-end tests: a throwaway `DIFFLORE_HOME`, a fake git checkout, the
//! agent fixtures, and running the real `difflore` binary as a child process.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_difflore")
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/hooks")
}

/// A temp dir holding `home/` (DIFFLORE_HOME) and `project/` (a git checkout of
/// github.com/acme/shop).
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let project = dir.path().join("project");
        std::fs::create_dir_all(project.join(".git")).unwrap();
        std::fs::create_dir_all(project.join("src")).unwrap();
        std::fs::write(
            project.join(".git/config"),
            "[core]\n\tbare = false\n[remote \"origin\"]\n\turl = git@github.com:Acme/Shop.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n",
        )
        .unwrap();
        Env { dir }
    }

    /// A fresh env whose store is initialised.
    pub fn init() -> Env {
        let e = Env::new();
        let out = e.cmd(&["init"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        e
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    pub fn project(&self) -> PathBuf {
        self.dir.path().join("project")
    }
    pub fn db(&self) -> PathBuf {
        self.home().join("difflore.db")
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .env("DIFFLORE_HOME", self.home())
            .env_remove("DIFFLORE_CAPTURE")
            .current_dir(self.dir.path());
        c
    }

    /// Runs `difflore <args>`, returns (stdout, stderr, exit code).
    pub fn run(&self, args: &[&str]) -> (String, String, i32) {
        let o = self.cmd(args).output().unwrap();
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
            o.status.code().unwrap_or(-1),
        )
    }

    /// Runs the hook with `stdin` and returns its output and wall time.
    pub fn hook(&self, args: &[&str], stdin: &[u8]) -> (Output, Duration) {
        let mut full = vec!["hook"];
        full.extend_from_slice(args);
        let mut c = self.cmd(&full);
        run_with_stdin(&mut c, stdin)
    }

    /// The same hook through the dedicated `difflore-hook` binary the agents' config calls.
    #[allow(dead_code)]
    pub fn lean_hook(&self, args: &[&str], stdin: &[u8]) -> (Output, Duration) {
        let mut c = Command::new(env!("CARGO_BIN_EXE_difflore-hook"));
        c.args(args)
            .env("DIFFLORE_HOME", self.home())
            .env_remove("DIFFLORE_CAPTURE")
            .current_dir(self.dir.path());
        run_with_stdin(&mut c, stdin)
    }

    /// A fixture with the captured project dir rewritten to this env's project.
    pub fn fixture(&self, agent: &str, file: &str) -> Vec<u8> {
        let text = std::fs::read_to_string(fixtures_dir().join(agent).join(file)).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        if let Some(o) = v.as_object_mut() {
            o.remove("_source");
        }
        let text = serde_json::to_string(&v)
            .unwrap()
            .replace("/home/dev/project", &self.project().display().to_string());
        text.into_bytes()
    }

    /// Payloads of the queued events, oldest first.
    pub fn queued(&self) -> Vec<(String, String, serde_json::Value)> {
        let c = rusqlite::Connection::open(self.db()).unwrap();
        let mut st = c
            .prepare("SELECT event_id, kind, payload FROM outbox ORDER BY seq")
            .unwrap();
        st.query_map([], |r| {
            let p: String = r.get(2)?;
            Ok((r.get(0)?, r.get(1)?, serde_json::from_str(&p).unwrap()))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }

    pub fn queue_len(&self) -> i64 {
        let c = rusqlite::Connection::open(self.db()).unwrap();
        c.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))
            .unwrap()
    }

    pub fn hook_log(&self) -> String {
        std::fs::read_to_string(self.home().join("logs/hook.log")).unwrap_or_default()
    }
}

/// Runs `git args` in `dir` with a throwaway identity; panics with git's message on failure.
pub fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Runs `difflore <args>` in `dir`; returns (stdout, stderr, exit code).
pub fn run_in(e: &Env, dir: &Path, args: &[&str]) -> (String, String, i32) {
    let o = e.cmd(args).current_dir(dir).output().unwrap();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

/// `true` when the tests run as root (then permissions do not stop the process).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// A child process killed (SIGKILL) and reaped when the test ends, also when it fails: a failed
/// test never leaves a daemon behind.
pub struct Reaped(pub std::process::Child);

impl std::ops::Deref for Reaped {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}
impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}
impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Drop for Env {
    /// A daemon started with `daemon start` (detached) is stopped with its home.
    fn drop(&mut self) {
        if self.home().join("daemon.lock").exists() {
            let _ = self
                .cmd(&["daemon", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

pub fn run_with_stdin(c: &mut Command, stdin: &[u8]) -> (Output, Duration) {
    let start = Instant::now();
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn difflore");
    let mut sin = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = sin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    let took = start.elapsed();
    let _ = writer.join();
    (out, took)
}

/// Every fixture file: (agent dir, file name).
pub fn all_fixtures() -> Vec<(String, String)> {
    let mut v = Vec::new();
    for agent in ["claude-code", "codex", "gemini", "cursor"] {
        let mut files: Vec<String> = std::fs::read_dir(fixtures_dir().join(agent))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|f| f.ends_with(".json"))
            .collect();
        files.sort();
        for f in files {
            v.push((agent.to_string(), f));
        }
    }
    v
}

/// `difflore-server`, built beside `difflore` by the workspace build.
pub fn server_bin() -> PathBuf {
    let p = Path::new(bin()).with_file_name("difflore-server");
    assert!(
        p.exists(),
        "{} is missing: build the whole workspace first (`cargo build --workspace`)",
        p.display()
    );
    p
}

/// Which storage a test server runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// PostgreSQL from `DIFFLORE_TEST_PG_URL`; with `DIFFLORE_REQUIRE_PG=1` its absence fails.
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

/// A real `difflore-server` on 127.0.0.1 (a fixed free port, so it can be restarted on the
/// same URL).
pub struct TestServer {
    pub child: Option<std::process::Child>,
    pub url: String,
    pub port: u16,
    pub database: String,
    pub team: String,
    pub dir: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl TestServer {
    pub fn start(b: &Backend) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let database = match b {
            Backend::Sqlite => format!("sqlite:{}", dir.path().join("server.db").display()),
            Backend::Postgres(u) => u.clone(),
        };
        let port = free_port();
        let mut s = TestServer {
            child: None,
            url: format!("http://127.0.0.1:{port}"),
            port,
            database,
            team: format!("team-{}", uuid::Uuid::now_v7().simple()),
            dir,
        };
        s.spawn();
        s
    }

    pub fn spawn(&mut self) {
        use std::io::BufRead;
        let mut child = Command::new(server_bin())
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{}", self.port),
                "--database",
                &self.database,
            ])
            .env("DIFFLORE_SERVER_LOG", "error")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains("listening"), "{line}");
        self.child = Some(child);
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }

    pub fn token(&self, name: &str, role: &str) -> String {
        let out = Command::new(server_bin())
            .args([
                "token",
                "create",
                "--team",
                &self.team,
                "--name",
                name,
                "--role",
                role,
                "--database",
                &self.database,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    pub fn revoke(&self, name: &str) {
        let out = Command::new(server_bin())
            .args([
                "token",
                "revoke",
                name,
                "--team",
                &self.team,
                "--database",
                &self.database,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Every event id the server holds for the team (read token).
    pub fn ids(&self, read_token: &str) -> Vec<String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut out = Vec::new();
        let mut after = String::new();
        loop {
            let mut r = agent
                .get(format!("{}/v1/events?limit=1000&after={after}", self.url))
                .header("Authorization", format!("Bearer {read_token}"))
                .call()
                .unwrap();
            let v: serde_json::Value =
                serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
            let evs = v["events"].as_array().unwrap();
            if evs.is_empty() {
                return out;
            }
            out.extend(evs.iter().map(|e| e["id"].as_str().unwrap().to_string()));
            after = v["next_cursor"].as_str().unwrap().to_string();
        }
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

/// Polls `f` every 100 ms until it returns true or `secs` pass.
pub fn wait_for(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after {secs} s waiting for {what}");
}

impl Env {
    /// Logs this env in to `server` with `token` (without the daemon unless `daemon`).
    pub fn login(&self, server: &TestServer, token: &str, daemon: bool) -> (String, String, i32) {
        let tf = self.dir.path().join("token.txt");
        std::fs::write(&tf, token).unwrap();
        let mut args = vec![
            "sync",
            "login",
            "--server",
            &server.url,
            "--token-file",
            tf.to_str().unwrap(),
            "--upload-backlog",
        ];
        if !daemon {
            args.push("--no-daemon");
        }
        self.run(&args)
    }

    /// `outbox status --json` (a writing command: it folds the spool first).
    pub fn outbox_json(&self) -> serde_json::Value {
        let (out, err, code) = self.run(&["outbox", "status", "--json"]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    }

    /// Queue counts from `outbox status --json`.
    pub fn counts(&self) -> serde_json::Value {
        self.outbox_json()["counts"].clone()
    }

    pub fn daemon_status(&self) -> serde_json::Value {
        let (out, _, _) = self.run(&["daemon", "status", "--json"]);
        serde_json::from_str(&out).unwrap()
    }

    /// Enqueues `n` events straight into the outbox (fast; for drain tests that are not about
    /// the hook). Returns their ids.
    pub fn enqueue_direct(&self, n: usize) -> Vec<String> {
        let home = difflore_core::home::Home::at(self.home());
        let conn = difflore_core::store::open_for_write(&home).unwrap();
        let ob = difflore_core::outbox::Outbox::new(&conn);
        let policy = difflore_core::outbox::EnqueuePolicy {
            cap: 10_000_000,
            logged_in: true,
        };
        conn.execute_batch("PRAGMA synchronous=OFF").unwrap();
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let id = uuid::Uuid::now_v7().to_string();
            let env = difflore_proto::EventEnvelope {
                id: id.clone(),
                kind: "hook.event".into(),
                occurred_at: difflore_core::clock::rfc3339(difflore_core::clock::now_ms()),
                payload: serde_json::json!({"agent": "claude-code", "n": i, "files": ["src/billing.rs"]}),
            };
            ob.enqueue(&env, policy, difflore_core::clock::now_ms())
                .unwrap();
            ids.push(id);
        }
        ids
    }
}

pub mod forge;
