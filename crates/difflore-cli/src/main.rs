//! The `difflore` binary: parses arguments (clap) and renders results (aligned tables or
//! `--json`); all behaviour lives in `difflore-core`. `difflore hook` bypasses clap entirely so
//! that no argument, however wrong, can make the agent's hook exit non-zero.
#![forbid(unsafe_code)]

mod agents_cmd;
mod cli;
mod context;
mod daemon_cmd;
mod export_cmd;
mod import_cmd;
mod memory_cmd;
mod outbox_cmd;
mod recall_cmd;
mod render;
mod report_cmd;
mod review_cmd;
mod rule_view;
mod status_cmd;
mod sync_cmd;
mod team;
mod try_cmd;

use clap::Parser;
use cli::{Cli, Command};

fn main() {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if args.get(1).map(String::as_str) == Some("hook")
        && !args[2..].iter().any(|a| a == "--help" || a == "-h")
    {
        difflore_hook::run_process(&args[2..]);
    }
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Try { keep } => try_cmd::run(keep),
        Command::Init => status_cmd::init(),
        Command::Status(a) => status_cmd::status(a.json),
        Command::Outbox(o) => outbox_cmd::run(o),
        Command::Sync(s) => sync_cmd::run(s),
        Command::Import(i) => import_cmd::run(i),
        Command::Memory(m) => memory_cmd::run(m),
        Command::Extract {
            repo,
            dry_run,
            explain,
            no_llm,
            json,
        } => import_cmd::extract(
            repo.as_deref(),
            import_cmd::ExtractFlags {
                dry_run,
                explain,
                no_llm,
            },
            json,
        ),
        Command::Recall {
            diff,
            staged,
            base,
            file,
            text,
            top_k,
            json,
        } => recall_cmd::run(recall_cmd::RecallArgs {
            diff,
            staged,
            base,
            file,
            text,
            top_k: usize::from(top_k),
            json,
        }),
        Command::Export { format, output } => export_cmd::run(&format, output.as_deref()),
        Command::Report {
            repo,
            all_repos,
            since,
            checkout,
            json,
        } => report_cmd::run(report_cmd::ReportArgs {
            repo,
            checkout,
            all_repos,
            since,
            json,
        }),
        Command::Daemon(d) => daemon_cmd::run(d),
        Command::Agents(a) => agents_cmd::run(a),
        Command::Mcp => difflore_mcp::run().map_err(anyhow::Error::from),
        Command::Hook(_) => unreachable_hook(),
    };
    if let Err(e) = result {
        if reader_went_away(&e) {
            std::process::exit(0);
        }
        eprintln!(
            "{} {e:#}",
            render::paint(render::colour(true), "1;31", "error:")
        );
        std::process::exit(1);
    }
}

/// `difflore … | head`: when the reader goes away, end quietly with 0, as Unix tools do —
/// `print!` panics on a closed stdout, so the panic hook turns exactly that panic into an exit.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let p = info.payload();
        let msg = p
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| p.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// An error caused by writing to a stdout whose reader has gone.
fn reader_went_away(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `difflore hook` is dispatched before clap; reaching here means `--help` was printed.
fn unreachable_hook() -> anyhow::Result<()> {
    Ok(())
}
