//! The command-line grammar of `difflore` (clap derive): every subcommand, flag and help text.

use clap::{Args, Parser, Subcommand};
use difflore_core::config::{BatchSize, PollMs};

/// difflore turns your team's past code-review comments into rules and serves them to AI
/// coding agents (Claude Code, Codex, Gemini CLI, Qwen Code, Cursor) at the moment they matter.
///
/// Everything is local under DIFFLORE_HOME (default ~/.difflore) unless you log in to a team
/// server.
#[derive(Debug, Parser)]
#[command(name = "difflore", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// See the whole idea in a minute: a demo in a temporary home, offline, nothing to set up.
    ///
    /// Imports a bundled review history, shows the candidate rules and why they were kept,
    /// approves some, replays an agent reading and editing a governed file through the real
    /// hook, and shows what the agent receives. Writes nothing outside a temporary directory.
    Try {
        /// Keep the temporary directory (its DIFFLORE_HOME) to look around afterwards.
        #[arg(long)]
        keep: bool,
    },
    /// Create DIFFLORE_HOME and its database (or migrate an existing one).
    Init,
    /// Show the local installation: database, schema version, queue, last error.
    Status(JsonFlag),
    /// Inspect and repair the local outbox of captured events.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Import review history (GitHub, GitLab, or an offline JSON file) into the local store.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Turn imported review comments into candidate rules (pending until a person approves).
    Extract {
        /// Only this repo key (e.g. github.com/acme/shop).
        #[arg(long)]
        repo: Option<String>,
        /// Show what would be proposed; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print every comment's verdict with the named features and weights behind its score
        /// (kept at a score of 1.0 or more). With --json: an `explained` array.
        #[arg(long)]
        explain: bool,
        /// Skip the language-model pass even when `[extract.llm]` enables it.
        #[arg(long)]
        no_llm: bool,
        #[arg(long)]
        json: bool,
    },
    /// Review rules: list, show, approve, reject, pause, resume, edit, add.
    #[command(subcommand)]
    Memory(MemoryCommand),
    /// The rules that apply to the current change or to one file, ranked, with why.
    ///
    /// `--diff` takes every uncommitted change (plus untracked files); `--staged` only what is
    /// staged; `--base REV` everything since the branch left REV. `--file PATH` asks for one
    /// file, optionally with `--text` standing for the change.
    /// Did the rules reach the agents? Per rule: times served, when last, a per-day sparkline,
    /// and the rules that may have gone stale (with the reason and what to do).
    ///
    /// The team's figures when logged in and the server answers; this machine's own daily totals
    /// otherwise (it says which). Inside a checkout, its repository's rules and the global ones
    /// (`--repo KEY` for another, `--all-repos` for every one).
    Report {
        /// Only this repo key.
        #[arg(long, conflicts_with = "all_repos")]
        repo: Option<String>,
        /// Every repository's rules, wherever you are.
        #[arg(long)]
        all_repos: bool,
        /// The window's first day, YYYY-MM-DD (default: 90 days ago).
        #[arg(long, value_name = "DAY")]
        since: Option<String>,
        /// The checkout whose files the glob and evidence checks look at (default: the current
        /// directory's).
        #[arg(long, value_name = "DIR")]
        checkout: Option<std::path::PathBuf>,
        #[arg(long)]
        json: bool,
    },
    #[command(group = clap::ArgGroup::new("what").required(true).args(["diff", "file"]))]
    Recall {
        /// Rules for the files of the current git change.
        #[arg(long)]
        diff: bool,
        /// With --diff: only staged changes.
        #[arg(long, requires = "diff", conflicts_with = "base")]
        staged: bool,
        /// With --diff: changes since the merge base with this revision (e.g. main).
        #[arg(long, requires = "diff", value_name = "REV")]
        base: Option<String>,
        /// Rules for this file (relative to the current directory).
        #[arg(long, value_name = "PATH")]
        file: Option<String>,
        /// With --file: the changed text, for relevance.
        #[arg(long, requires = "file", value_name = "T")]
        text: Option<String>,
        /// At most this many rules per file.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=100))]
        top_k: u16,
        #[arg(long)]
        json: bool,
    },
    /// Write the active rules into a marked section of AGENTS.md or CLAUDE.md.
    ///
    /// Only the section between `<!-- difflore:begin -->` and `<!-- difflore:end -->` is
    /// rewritten; the rest of the file stays byte-for-byte as it was. Running it again with the
    /// same rules changes nothing.
    Export {
        /// agents-md (AGENTS.md: Codex, Cursor, Gemini CLI…) or claude-md (CLAUDE.md).
        #[arg(long, value_parser = ["agents-md", "claude-md"])]
        format: String,
        /// The file to write (default: AGENTS.md / CLAUDE.md at the repository root); `-` prints
        /// the section instead.
        #[arg(long, value_name = "PATH")]
        output: Option<std::path::PathBuf>,
    },
    /// Connect difflore to your agents (hooks + MCP server), undo it, or show how they are wired.
    #[command(subcommand)]
    Agents(AgentsCommand),
    /// The MCP server on stdio, for agents that ask for rules themselves.
    ///
    /// Register it in the agent's MCP configuration as the command `difflore mcp` (run in the
    /// project: the repository of the working directory scopes the rules). Tools:
    /// search_rules, rules_for_files, get_rule, propose_rule (pending only); resource:
    /// difflore://rules/active. stdout is the protocol; logs go to stderr.
    Mcp,
    /// Connect to a team server: login, logout, status, drain now.
    #[command(subcommand)]
    Sync(SyncCommand),
    /// The background daemon that delivers captured events to the team server.
    #[command(subcommand)]
    Daemon(DaemonCommand),
    /// Agent lifecycle hook: reads one event on stdin, records it, answers the agent.
    ///
    /// Wire it into the agent's hook configuration; it always exits 0 and prints the agent's
    /// no-op answer, whatever goes wrong (errors go to DIFFLORE_HOME/logs/hook.log).
    Hook(HookArgs),
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HookArgs {
    /// The agent that runs the hook: claude-code, codex, gemini, cursor, qwen-code, cline, copilot or opencode.
    #[arg(long)]
    pub agent: Option<String>,
    /// The event, for agents whose payload does not name it (GitHub Copilot CLI).
    #[arg(long)]
    pub event: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Queue depth per state, dropped events, age of the oldest pending event.
    Status(JsonFlag),
    /// List queued events, oldest first.
    List {
        /// Only events in this state: pending, leased, dead or parked.
        #[arg(long)]
        state: Option<String>,
        /// Show at most this many events.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Show one event with its payload (id or unique id prefix).
    Show {
        id: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Send dead or parked events (or one event) back to pending, attempts reset.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["dead", "parked", "id"])))]
    Retry {
        /// Retry every dead event.
        #[arg(long)]
        dead: bool,
        /// Retry every parked event.
        #[arg(long)]
        parked: bool,
        /// Retry one event (id or unique id prefix).
        id: Option<String>,
    },
    /// Delete dead events for good.
    Purge {
        /// Required: purge dead events.
        #[arg(long, required = true)]
        dead: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Log in to a difflore-server: verifies the token, stores it (0600), starts the daemon.
    ///
    /// The token is read from stdin (or --token-file), never from the command line:
    ///   difflore sync login --server https://sync.acme.dev < alice.token
    Login {
        /// The server's base URL, e.g. https://sync.acme.dev (plain http only on loopback).
        #[arg(long)]
        server: String,
        /// Read the token from this file instead of stdin.
        #[arg(long)]
        token_file: Option<std::path::PathBuf>,
        /// Trust this CA certificate (PEM) for the server instead of the platform's roots.
        #[arg(long)]
        ca_cert: Option<std::path::PathBuf>,
        /// Allow plain http to a host that is not loopback (the token travels unencrypted).
        #[arg(long)]
        insecure: bool,
        /// Do not start the daemon.
        #[arg(long)]
        no_daemon: bool,
        /// Upload the events captured before this login without asking.
        #[arg(long, conflicts_with = "discard_backlog")]
        upload_backlog: bool,
        /// Delete the events captured before this login without asking.
        #[arg(long)]
        discard_backlog: bool,
    },
    /// Forget the server and token; the queue is kept. Stops the daemon.
    Logout,
    /// What is sent (kinds and fields), to which server, and the queue state.
    Status(JsonFlag),
    /// Deliver the queue now, in the foreground (asks the daemon when it runs).
    Now(JsonFlag),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Most events per request (1–500; also `[daemon] batch_size` in config.toml).
    #[arg(long)]
    pub batch_size: Option<BatchSize>,
    /// How often an idle daemon checks for new events, in ms (10–10000; also `[daemon] poll_ms`).
    #[arg(long)]
    pub poll_ms: Option<PollMs>,
}

#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Start the daemon in the background (waits until it runs).
    Start(RunArgs),
    /// Stop the daemon: SIGTERM, then SIGKILL after the grace period.
    Stop {
        /// Seconds to wait after SIGTERM before SIGKILL.
        #[arg(long, default_value_t = 10)]
        grace: u64,
    },
    /// Is it running, what has it delivered, is the breaker open (read-only).
    Status(JsonFlag),
    /// Run the drain loop in the foreground (what `start` runs).
    Run(RunArgs),
    /// Show the daemon's log.
    Logs {
        /// Number of lines.
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: usize,
        /// Keep printing new lines.
        #[arg(short, long)]
        follow: bool,
    },
    /// Write a systemd user unit (Linux) or launchd agent (macOS) that runs the daemon.
    Install,
    /// Remove that unit.
    Uninstall,
}

#[derive(Debug, Args)]
pub struct ImportCommon {
    /// Only pull requests updated on or after this date (2026-01-31) or RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Stop after this many pull requests (newest first).
    #[arg(long)]
    pub max_prs: Option<usize>,
    /// Show what would be fetched; store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
    /// Do not run extraction after the import.
    #[arg(long)]
    pub no_extract: bool,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Pull requests and their review comments from GitHub (or GitHub Enterprise).
    ///
    /// Token from GITHUB_TOKEN, GH_TOKEN or `gh auth token`. Re-running fetches only what is new;
    /// an interrupted import resumes where it stopped.
    Github {
        /// OWNER/REPO (default: the current checkout's remote).
        repo: Option<String>,
        /// API base URL, e.g. https://ghe.example.com/api/v3.
        #[arg(long, default_value = "https://api.github.com")]
        api_url: String,
        #[command(flatten)]
        common: ImportCommon,
    },
    /// Merge requests and their discussions from GitLab (or a self-managed instance).
    ///
    /// Token from GITLAB_TOKEN.
    Gitlab {
        /// GROUP/PROJECT (default: the current checkout's remote).
        repo: Option<String>,
        /// API base URL including /api/v4, e.g. https://gitlab.example.com/api/v4.
        #[arg(long, conflicts_with = "host")]
        api_url: Option<String>,
        /// Shorthand for --api-url https://HOST/api/v4.
        #[arg(long)]
        host: Option<String>,
        #[command(flatten)]
        common: ImportCommon,
    },
    /// Review history from a JSON file in difflore's offline format (see the README).
    File {
        path: std::path::PathBuf,
        /// Repo key to store it under (default: the file's `repo`).
        #[arg(long)]
        repo: Option<String>,
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
        /// Do not run extraction after the import.
        #[arg(long)]
        no_extract: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MemoryCommand {
    /// List rules (every status unless --status), pending first, best first.
    List {
        /// pending, active, paused or rejected.
        #[arg(long)]
        status: Option<String>,
        /// Only this repo key (default inside a checkout: its own rules and the global ones).
        #[arg(long, conflicts_with = "all_repos")]
        repo: Option<String>,
        /// Every repository's rules, wherever you are.
        #[arg(long)]
        all_repos: bool,
        #[arg(long)]
        json: bool,
    },
    /// Review pending candidates one at a time in the terminal: approve, reject, edit, skip.
    Review {
        /// Only this repo key (default inside a checkout: its own).
        #[arg(long, conflicts_with = "all_repos")]
        repo: Option<String>,
        /// Every repository's candidates, wherever you are.
        #[arg(long)]
        all_repos: bool,
    },
    /// Show one rule with every piece of evidence (id or unique prefix).
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Make rules active (a no-op for rules already active).
    Approve {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Reject rules: never served, and their source comments never proposed again.
    Reject {
        #[arg(required = true)]
        ids: Vec<String>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Stop serving an active rule for now.
    Pause { id: String },
    /// Serve a paused rule again.
    Resume { id: String },
    /// Fold rules that make the same point into one: KEEP gains the evidence of each OTHER
    /// (confidence and globs recomputed); each OTHER is rejected as "merged into KEEP", so its
    /// point and comments are never proposed again. Team rules merge on the team's server.
    ///
    /// Example: `difflore memory merge 3e9f0a 7c21b4`.
    Merge {
        /// The rule that stays (id, handle or unique prefix).
        keep: String,
        /// The rule(s) folded into it.
        #[arg(required = true)]
        others: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Change a rule's title, statement, globs or severity.
    Edit {
        id: String,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        statement: Option<String>,
        #[command(flatten)]
        globs: GlobArgs,
        /// Severity `enforce`: eligible for the gate.
        #[arg(long, conflicts_with = "no_enforce")]
        enforce: bool,
        /// Severity `context`.
        #[arg(long)]
        no_enforce: bool,
        #[arg(long)]
        json: bool,
    },
    /// Add your own rule; it is active at once.
    Add {
        #[arg(long)]
        title: String,
        #[arg(long)]
        statement: String,
        #[command(flatten)]
        globs: GlobArgs,
        /// Repo key (default: the current checkout's).
        #[arg(long, conflicts_with = "global")]
        repo: Option<String>,
        /// A rule for every repository.
        #[arg(long)]
        global: bool,
        #[arg(long)]
        enforce: bool,
        /// Also offer it to the team's rulebook (pending for a maintainer; a maintainer's own
        /// share is approved at once when the server answers).
        #[arg(long)]
        share: bool,
        #[arg(long)]
        json: bool,
    },
    /// Offer one of your own rules to the team's rulebook (needs `sync login`).
    Share { id: String },
}

#[derive(Debug, Args)]
pub struct AgentsTarget {
    /// Only this agent: claude-code, codex, gemini, cursor, qwen-code, cline, copilot or opencode (repeatable; default: the agents
    /// found on this machine).
    #[arg(long = "agent", value_parser = ["claude-code", "codex", "gemini", "cursor", "qwen-code", "cline", "copilot", "opencode"])]
    pub agents: Vec<String>,
    /// user (default: your own config files) or project (the repository's, shared with the team).
    #[arg(long, default_value = "user", value_parser = ["user", "project"])]
    pub scope: String,
    /// Show the changes as a diff; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// Register difflore's hooks and MCP server in each agent's own config files.
    ///
    /// Keeps everything you wrote (order, formatting), backs each file up before its first
    /// change, refuses files it cannot rewrite byte-for-byte, and records what it added so
    /// `uninstall` removes exactly that. Running it again changes nothing.
    Install(AgentsTarget),
    /// Remove exactly what `install` added.
    Uninstall(AgentsTarget),
    /// Per agent: detected, MCP registered, hooks registered, current or stale, installed twice.
    Status {
        #[arg(long = "agent", value_parser = ["claude-code", "codex", "gemini", "cursor", "qwen-code", "cline", "copilot", "opencode"])]
        agents: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

/// `--glob G` (repeatable), the one spelling of a rule's globs (on `edit` they replace all of
/// the rule's); `--globs a,b` is the older, hidden one.
#[derive(Debug, clap::Args)]
pub struct GlobArgs {
    /// A repo-relative glob the rule governs (repeatable), e.g. --glob 'src/billing/**/*.rs'.
    #[arg(long = "glob")]
    glob: Vec<String>,
    #[arg(
        long = "globs",
        value_delimiter = ',',
        hide = true,
        conflicts_with = "glob"
    )]
    globs_csv: Vec<String>,
}

impl GlobArgs {
    /// Every glob given, in order.
    pub fn all(self) -> Vec<String> {
        [self.glob, self.globs_csv].concat()
    }
}
