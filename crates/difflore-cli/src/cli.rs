//! The command-line grammar of `difflore` (clap derive): every subcommand, flag and help text.

use clap::{Args, Parser, Subcommand};

/// difflore turns your team's past code-review comments into rules and serves them to AI
/// coding agents (Claude Code, Codex, Gemini CLI, Cursor) at the moment they matter.
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
    /// Create DIFFLORE_HOME and its database (or migrate an existing one).
    Init,
    /// Show the local installation: database, schema version, queue, last error.
    Status(JsonFlag),
    /// Inspect and repair the local outbox of captured events.
    #[command(subcommand)]
    Outbox(OutboxCommand),
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
    /// The agent that runs the hook: claude-code, codex, gemini or cursor.
    #[arg(long)]
    pub agent: Option<String>,
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
