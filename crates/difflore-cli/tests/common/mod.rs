//! Helpers shared by the end-to-end tests: a throwaway `DIFFLORE_HOME`, a fake git checkout, the
//! agent fixtures, and running the real `difflore` binary as a child process.
#![allow(dead_code, unused_imports)]

pub use difflore_test_support::forge;
pub use difflore_test_support::proc::{Reaped, wait_for};
pub use difflore_test_support::server::{Backend, TestServer, server_bin};

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

    /// The `difflore` binary placed in this Env's temp dir, for a test that runs it as another
    /// user (`runuser -u nobody`): the checkout — and the build inside it — may sit in a
    /// directory only its owner can enter (`mktemp -d` makes 0700 ones). The caller makes the
    /// temp dir traversable. A hard link when the two share a filesystem, else a copy.
    pub fn bin_for_other_user(&self) -> PathBuf {
        let to = self.dir.path().join("difflore-bin");
        if !to.exists() && std::fs::hard_link(bin(), &to).is_err() {
            std::fs::copy(bin(), &to).expect("copy the difflore binary");
        }
        to
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
    /// The hook's inbox, where steps that serve nothing append their event.
    pub fn inbox(&self) -> PathBuf {
        self.home().join("inbox.db")
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

    /// What the user's next command does first: fold the hook's inbox (and spool) into the
    /// outbox. Only for an initialised home; a failure leaves everything where it was.
    pub fn fold(&self) {
        if self.db().exists() {
            let _ =
                difflore_core::store::open_for_write(&difflore_core::home::Home::at(self.home()));
        }
    }

    /// Payloads of the queued events, oldest first (after a fold, as `outbox list` shows them).
    pub fn queued(&self) -> Vec<(String, String, serde_json::Value)> {
        self.fold();
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
        self.fold();
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
    for agent in [
        "claude-code",
        "codex",
        "gemini",
        "cursor",
        "qwen-code",
        "cline",
        "copilot",
    ] {
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
