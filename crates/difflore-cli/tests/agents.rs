//! `difflore agents` on realistic existing config files (the user's own settings, comments,
//! other MCP servers, other tools' hooks): install → install → uninstall leaves every file
//! byte-for-byte as it was; `--dry-run` writes nothing; odd files are refused untouched; stale
//! entries are found and replaced; status tells the truth.

mod common;
use common::bin;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    /// A HOME with every agent's realistic config files, and an initialised DIFFLORE_HOME.
    fn new() -> Sandbox {
        let b = Sandbox {
            dir: tempfile::tempdir().unwrap(),
        };
        let fx = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/agents");
        let h = b.home();
        for (src, dst) in [
            ("claude-code/settings.json", ".claude/settings.json"),
            ("claude-code/claude.json", ".claude.json"),
            ("codex/config.toml", ".codex/config.toml"),
            ("codex/hooks.json", ".codex/hooks.json"),
            ("gemini/settings.json", ".gemini/settings.json"),
            ("cursor/hooks.json", ".cursor/hooks.json"),
            ("cursor/mcp.json", ".cursor/mcp.json"),
            ("qwen-code/settings.json", ".qwen/settings.json"),
            ("opencode/opencode.json", ".config/opencode/opencode.json"),
            (
                "cline/cline_mcp_settings.json",
                ".cline/data/settings/cline_mcp_settings.json",
            ),
            ("cline/PreToolUse", ".cline/hooks/PreToolUse"),
            ("copilot/mcp-config.json", ".copilot/mcp-config.json"),
            ("copilot/audit.json", ".copilot/hooks/audit.json"),
        ] {
            let to = h.join(dst);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(fx.join(src), to).unwrap();
        }
        std::fs::create_dir_all(b.project()).unwrap();
        assert_eq!(b.run(&["init"]).2, 0);
        b
    }
    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    fn project(&self) -> PathBuf {
        self.dir.path().join("project")
    }
    fn run(&self, args: &[&str]) -> (String, String, i32) {
        let o = Command::new(bin())
            .args(args)
            .env("HOME", self.home())
            .env("DIFFLORE_HOME", self.dir.path().join("dh"))
            .env("PATH", "/usr/bin:/bin")
            .current_dir(self.project())
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
            o.status.code().unwrap_or(-1),
        )
    }
    /// Every file under HOME with its bytes.
    fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(d: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push((p.clone(), std::fs::read(&p).unwrap()));
                }
            }
        }
        let mut v = Vec::new();
        walk(&self.home(), &mut v);
        v.sort();
        v
    }
    fn status(&self) -> Value {
        let (out, err, code) = self.run(&["agents", "status", "--json"]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    }
}

fn scope<'a>(status: &'a Value, agent: &str, scope: &str) -> &'a Value {
    let a = status["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == agent)
        .unwrap();
    a["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scope"] == scope)
        .unwrap()
}

#[test]
fn install_twice_then_uninstall_restores_every_file_byte_for_byte() {
    let b = Sandbox::new();
    let before = b.snapshot();
    let (out, err, code) = b.run(&["agents", "install", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("+        \"matcher\": \"Read|Edit|Write\"")
            && out.contains("[mcp_servers.difflore]"),
        "{out}"
    );
    assert_eq!(b.snapshot(), before, "--dry-run wrote nothing");

    let (out, err, code) = b.run(&["agents", "install"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("/hooks"), "Codex trust instructions: {out}");
    let installed = b.snapshot();
    let st = b.status();
    for agent in [
        "claude-code",
        "codex",
        "gemini",
        "cursor",
        "qwen-code",
        "opencode",
    ] {
        let s = scope(&st, agent, "user");
        assert_eq!(s["mcp"], "current", "{agent}: {s}");
        assert_eq!(s["hooks_current"], s["hooks_expected"], "{agent}: {s}");
    }
    // The user's own entries are still there, and the units are each agent's own.
    let claude: Value =
        serde_json::from_slice(&std::fs::read(b.home().join(".claude/settings.json")).unwrap())
            .unwrap();
    assert_eq!(claude["model"], "opus");
    assert_eq!(
        claude["hooks"]["PostToolUse"][0]["hooks"][0]["command"],
        "npx prettier --write \"$CLAUDE_PROJECT_DIR\""
    );
    assert_eq!(claude["hooks"]["PostToolUse"][1]["hooks"][0]["timeout"], 3);
    let gemini: Value =
        serde_json::from_slice(&std::fs::read(b.home().join(".gemini/settings.json")).unwrap())
            .unwrap();
    assert_eq!(
        gemini["hooks"]["BeforeTool"][0]["hooks"][0]["timeout"],
        3000
    );
    assert_eq!(gemini["mcpServers"]["filesystem"]["command"], "npx");
    let cmd = gemini["hooks"]["BeforeTool"][0]["hooks"][0]["command"]
        .as_str()
        .unwrap();
    assert!(
        cmd.starts_with("DIFFLORE_HOME=")
            // The dedicated hook binary installed beside `difflore`.
            && cmd.ends_with(&format!("{}-hook --agent gemini", bin())),
        "{cmd}"
    );
    let qwen: Value =
        serde_json::from_slice(&std::fs::read(b.home().join(".qwen/settings.json")).unwrap())
            .unwrap();
    assert_eq!(qwen["hooks"]["PreToolUse"][0]["matcher"], "edit|write_file");
    assert_eq!(qwen["hooks"]["PreToolUse"][0]["hooks"][0]["timeout"], 3000);
    assert_eq!(
        qwen["hooks"]["PostToolUse"][0]["hooks"][0]["timeout"],
        20000
    );
    assert_eq!(
        qwen["hooks"]["PostToolUse"][1]["matcher"],
        "read_file|edit|write_file"
    );
    assert_eq!(qwen["mcpServers"]["github"]["command"], "npx");
    assert_eq!(qwen["mcpServers"]["difflore"]["args"][0], "mcp");
    assert!(
        qwen["hooks"]["UserPromptSubmit"][0]["hooks"][0]["command"]
            .as_str()
            .unwrap()
            .ends_with("-hook --agent qwen-code")
    );
    // OpenCode: MCP only (it has no command hooks), in its own shape, beside the user's servers.
    let oc: Value = serde_json::from_slice(
        &std::fs::read(b.home().join(".config/opencode/opencode.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(oc["mcp"]["context7"]["type"], "remote");
    assert_eq!(oc["mcp"]["difflore"]["type"], "local");
    assert_eq!(oc["mcp"]["difflore"]["command"][1], "mcp");
    assert_eq!(oc["mcp"]["difflore"]["enabled"], true);
    assert!(oc["mcp"]["difflore"]["environment"]["DIFFLORE_HOME"].is_string());
    assert!(oc.get("hooks").is_none());
    assert_eq!(scope(&st, "opencode", "user")["hooks_expected"], 0);
    // Cline: one executable script per event beside the user's own, and its MCP file.
    let hooks = b.home().join(".cline/hooks");
    for ev in ["TaskStart", "UserPromptSubmit", "PostToolUse"] {
        let script = std::fs::read_to_string(hooks.join(ev)).unwrap();
        assert!(
            script.starts_with("#!/bin/sh\n# difflore:") && script.contains("-hook --agent cline"),
            "{script}"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(hooks.join(ev))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "{ev} is executable");
    }
    assert!(
        std::fs::read_to_string(hooks.join("PreToolUse"))
            .unwrap()
            .contains("Use .ts files"),
        "the user's own script is untouched"
    );
    let cl: Value = serde_json::from_slice(
        &std::fs::read(
            b.home()
                .join(".cline/data/settings/cline_mcp_settings.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(cl["mcpServers"]["github"]["command"], "npx");
    assert_eq!(cl["mcpServers"]["difflore"]["args"][0], "mcp");
    assert_eq!(scope(&st, "cline", "user")["hooks_expected"], 3);
    assert!(
        scope(&st, "cline", "user")["error"].is_null(),
        "its hooks directory is not read as a config file: {st}"
    );
    // GitHub Copilot CLI: a hooks file of difflore's own beside the user's, each command naming
    // its event; the MCP server beside the user's.
    let cp: Value = serde_json::from_slice(
        &std::fs::read(b.home().join(".copilot/hooks/difflore.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(cp["version"], 1);
    let cmd = cp["hooks"]["preToolUse"][0]["bash"].as_str().unwrap();
    assert!(
        cmd.ends_with("-hook --agent copilot --event preToolUse"),
        "{cmd}"
    );
    assert_eq!(cp["hooks"]["postToolUse"][0]["timeoutSec"], 3);
    assert_eq!(cp["hooks"]["postToolUse"][0]["type"], "command");
    let mcp: Value =
        serde_json::from_slice(&std::fs::read(b.home().join(".copilot/mcp-config.json")).unwrap())
            .unwrap();
    assert_eq!(mcp["mcpServers"]["playwright"]["command"], "npx");
    assert_eq!(mcp["mcpServers"]["difflore"]["type"], "local");
    assert_eq!(mcp["mcpServers"]["difflore"]["tools"][0], "*");
    let codex = std::fs::read_to_string(b.home().join(".codex/config.toml")).unwrap();
    assert!(
        codex.starts_with("# My Codex settings\n")
            && codex.contains("approval_policy = \"on-request\"   # ask before running commands"),
        "{codex}"
    );

    let (out, _, code) = b.run(&["agents", "install"]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("already installed").count(), 8, "{out}");
    assert_eq!(b.snapshot(), installed, "a second install changes nothing");

    let (out, err, code) = b.run(&["agents", "uninstall"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("removed"), "{out}");
    assert_eq!(
        b.snapshot(),
        before,
        "uninstall restores every file byte-for-byte"
    );
    // Backups of the originals were taken before the first change.
    let backups: Vec<_> = std::fs::read_dir(b.dir.path().join("dh/backups"))
        .unwrap()
        .collect();
    assert_eq!(backups.len(), 11);
}

#[test]
fn fresh_home_gets_new_files_that_uninstall_removes_again() {
    let b = Sandbox::new();
    let h = b.home();
    for f in [
        ".claude/settings.json",
        ".claude.json",
        ".codex/config.toml",
        ".codex/hooks.json",
        ".gemini/settings.json",
        ".cursor/hooks.json",
        ".cursor/mcp.json",
        ".qwen/settings.json",
    ] {
        std::fs::remove_file(h.join(f)).unwrap();
    }
    let (_, err, code) = b.run(&["agents", "install", "--agent", "cursor", "--agent", "codex"]);
    assert_eq!(code, 0, "{err}");
    let hooks: Value =
        serde_json::from_slice(&std::fs::read(h.join(".cursor/hooks.json")).unwrap()).unwrap();
    assert_eq!(hooks["version"], 1);
    assert!(
        std::fs::read_to_string(h.join(".codex/config.toml"))
            .unwrap()
            .contains("[mcp_servers.difflore]")
    );
    assert_eq!(
        b.run(&[
            "agents",
            "uninstall",
            "--agent",
            "cursor",
            "--agent",
            "codex"
        ])
        .2,
        0
    );
    for f in [
        ".cursor/hooks.json",
        ".cursor/mcp.json",
        ".codex/config.toml",
        ".codex/hooks.json",
    ] {
        assert!(!h.join(f).exists(), "{f} should be gone again");
    }
}

#[test]
fn odd_files_are_refused_untouched() {
    let b = Sandbox::new();
    let h = b.home();
    let commented = "{\n  // my theme\n  \"theme\": \"GitHub\"\n}\n";
    std::fs::write(h.join(".gemini/settings.json"), commented).unwrap();
    let spaced = "{ \"mcpServers\" : {} }\n";
    std::fs::write(h.join(".cursor/mcp.json"), spaced).unwrap();
    std::fs::write(h.join(".codex/config.toml"), "model = \n").unwrap();
    let (out, err, code) = b.run(&["agents", "install"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("gemini") && err.contains("not valid JSON"),
        "{err}"
    );
    assert!(err.contains("byte-for-byte"), "{err}");
    assert!(err.contains("not valid TOML"), "{err}");
    assert_eq!(
        std::fs::read_to_string(h.join(".gemini/settings.json")).unwrap(),
        commented
    );
    assert_eq!(
        std::fs::read_to_string(h.join(".cursor/mcp.json")).unwrap(),
        spaced
    );
    // Nothing half-done for a refused agent: Cursor's hooks.json was not touched either.
    let cursor_hooks = std::fs::read_to_string(h.join(".cursor/hooks.json")).unwrap();
    assert!(!cursor_hooks.contains("difflore"), "{cursor_hooks}");
    // The others went in.
    assert!(out.contains("claude-code (user): added"), "{out}");
    // A directory where a file should be, and a top level that is not an object.
    std::fs::remove_file(h.join(".claude.json")).unwrap();
    std::fs::create_dir(h.join(".claude.json")).unwrap();
    let (_, err, code) = b.run(&["agents", "install", "--agent", "claude-code"]);
    assert_eq!(code, 1);
    assert!(err.contains(".claude.json"), "{err}");
    std::fs::write(h.join(".cursor/mcp.json"), "[]\n").unwrap();
    let (_, err, _) = b.run(&["agents", "install", "--agent", "cursor"]);
    assert!(err.contains("not a JSON object"), "{err}");
}

#[test]
fn stale_entries_and_two_scopes_show_in_status() {
    let b = Sandbox::new();
    assert_eq!(b.run(&["agents", "install", "--agent", "claude-code"]).2, 0);
    // The binary moved: the entries now point at an old path.
    let p = b.home().join(".claude/settings.json");
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace(bin(), "/old/place/difflore");
    std::fs::write(&p, text).unwrap();
    let st = b.status();
    let s = scope(&st, "claude-code", "user");
    assert_eq!(
        (s["hooks_current"].as_u64(), s["hooks_stale"].as_u64()),
        (Some(0), Some(4)),
        "{s}"
    );
    let (out, _, _) = b.run(&["agents", "status"]);
    assert!(out.contains("stale"), "{out}");
    // Installing again replaces them in place.
    assert_eq!(b.run(&["agents", "install", "--agent", "claude-code"]).2, 0);
    let s2 = b.status();
    assert_eq!(scope(&s2, "claude-code", "user")["hooks_current"], 4);
    assert!(!std::fs::read_to_string(&p).unwrap().contains("/old/place"));
    // Installed in the project too: every event would run twice — status says so.
    assert_eq!(
        b.run(&[
            "agents",
            "install",
            "--agent",
            "claude-code",
            "--scope",
            "project"
        ])
        .2,
        0
    );
    assert!(
        b.project().join(".claude/settings.json").exists()
            && b.project().join(".mcp.json").exists()
    );
    let st = b.status();
    let a = st["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "claude-code")
        .unwrap();
    assert_eq!(a["installed_twice"], true);
    let (out, _, _) = b.run(&["agents", "status"]);
    assert!(out.contains("both scopes"), "{out}");
}

/// OpenCode has no command hooks; should something run `difflore hook --agent opencode`
/// anyway, it answers the no-op and records nothing. Its tools' processes carry `OPENCODE`,
/// which keeps `memory approve` from running inside it.
#[test]
fn opencode_is_mcp_only_and_its_processes_are_told_apart() {
    let b = Sandbox::new();
    let mut c = Command::new(bin());
    c.args(["hook", "--agent", "opencode"])
        .env("HOME", b.home())
        .env("DIFFLORE_HOME", b.dir.path().join("dh"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"hook_event_name":"PreToolUse","tool_name":"edit","session_id":"s"}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "{}");
    let (out, _, _) = b.run(&["outbox", "status", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["counts"]["pending"], 0, "{v}");

    let o = Command::new(bin())
        .args(["memory", "approve", "abc"])
        .env("HOME", b.home())
        .env("DIFFLORE_HOME", b.dir.path().join("dh"))
        .env("OPENCODE", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("OPENCODE"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Cline runs one script per event: a script of the user's own under the name difflore needs is
/// never overwritten — Cline is refused with the reason and nothing of it is written.
#[test]
fn a_cline_hook_of_the_users_own_is_never_overwritten() {
    let b = Sandbox::new();
    let own = b.home().join(".cline/hooks/PostToolUse");
    std::fs::write(&own, "#!/bin/sh\necho '{}'\n").unwrap();
    let before = b.snapshot();
    let (out, err, code) = b.run(&["agents", "install", "--agent", "cline"]);
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("a hook script of your own is there") && err.contains("PostToolUse"),
        "{err}"
    );
    assert_eq!(b.snapshot(), before, "nothing was written");
}
