//! `difflore-server`: the self-hostable team sync server. `serve` runs the `/v1` API (axum on
//! tokio) over the chosen storage backend; `token` manages tokens. Modules: [`api`] (routes,
//! validation, roles), [`auth`] (tokens), [`backend`] (choosing SQLite or PostgreSQL),
//! [`listener`] (the accept loop and its connection limits), [`settings`] (flags, env, config
//! file).
#![forbid(unsafe_code)]

mod api;
mod auth;
mod backend;
mod console;
mod listener;
mod outcomes_api;
mod rules_api;
mod settings;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use difflore_server_db::Storage;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The difflore team sync server: receives the events of every developer's difflore daemon,
/// keeps the team's rulebook, and serves the team console in the browser (open its URL and sign
/// in with a read, maintainer or admin token).
///
/// Runs on embedded SQLite with zero setup (data in $XDG_DATA_HOME/difflore-server/server.db),
/// or on PostgreSQL with --database postgres://USER@HOST/DB.
#[derive(Debug, Parser)]
#[command(name = "difflore-server", version, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Global {
    /// Database: sqlite:PATH or postgres://USER:PASS@HOST:PORT/DB (default: sqlite in the data dir).
    #[arg(long, global = true, env = "DIFFLORE_SERVER_DATABASE")]
    database: Option<String>,
    /// Directory of the embedded SQLite database (server.db).
    #[arg(long, global = true, env = "DIFFLORE_SERVER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Config file (TOML: listen, database, data_dir, request_timeout_secs, header_timeout_secs,
    /// max_connections, pg_max_connections).
    #[arg(long, global = true, env = "DIFFLORE_SERVER_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the /v1 API and the console until SIGTERM or SIGINT (in-flight requests finish first).
    Serve {
        /// Address to listen on (port 0 picks a free port; the chosen address is printed).
        #[arg(long, env = "DIFFLORE_SERVER_LISTEN")]
        listen: Option<String>,
        /// Seconds a client has to send a request's headers; also how long a keep-alive
        /// connection may stay quiet (default 10).
        #[arg(long, env = "DIFFLORE_SERVER_HEADER_TIMEOUT_SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
        header_timeout_secs: Option<u64>,
        /// Most connections open at once; past it new connections are closed at once
        /// (default 1024).
        #[arg(long, env = "DIFFLORE_SERVER_MAX_CONNECTIONS", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        max_connections: Option<u64>,
    },
    /// Create, list and revoke tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token bound to one team; prints only the token on stdout.
    Create {
        #[arg(long)]
        team: String,
        /// A name to recognise the token by (e.g. the developer or machine).
        #[arg(long)]
        name: String,
        /// ingest (write events and proposals, pull rules), read (also read events, stats and
        /// rules), maintainer (also decide rules), admin (everything, tokens included).
        #[arg(long, default_value = "ingest")]
        role: String,
    },
    /// List tokens (never their secrets).
    List {
        #[arg(long)]
        team: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id, or by --team and name. Takes effect on the next request.
    Revoke {
        /// Token id (as `token list` shows it), or its name together with --team.
        token: String,
        #[arg(long)]
        team: Option<String>,
    },
}

fn main() {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(cli)) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn valid_name(what: &str, s: &str) -> anyhow::Result<()> {
    if s.is_empty() || s.len() > 128 || s.chars().any(|c| c.is_control()) {
        bail!("{what} must be 1–128 printable characters");
    }
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let file = settings::FileConfig::load(cli.global.config.as_deref())?;
    let db = settings::database(
        cli.global.database.as_deref(),
        cli.global.data_dir.as_deref(),
        &file,
    )?;
    let pg_max = file.pg_max_connections.unwrap_or(16);
    match cli.command {
        Command::Serve {
            listen,
            header_timeout_secs,
            max_connections,
        } => {
            let listen = listen
                .or(file.listen.clone())
                .unwrap_or_else(|| "127.0.0.1:8787".into());
            let addr: SocketAddr = listen.parse().with_context(|| {
                format!("--listen {listen:?} is not an address like 127.0.0.1:8787")
            })?;
            let limits = listener::Limits {
                header_timeout: Duration::from_secs(
                    header_timeout_secs
                        .or(file.header_timeout_secs)
                        .unwrap_or(10)
                        .max(1),
                ),
                max_connections: max_connections
                    .map(|n| n as usize)
                    .or(file.max_connections)
                    .unwrap_or(1024)
                    .max(1),
            };
            serve(
                &db,
                addr,
                Duration::from_secs(file.request_timeout_secs.unwrap_or(30)),
                limits,
                pg_max,
            )
            .await
        }
        Command::Token(t) => {
            let store = backend::AnyStorage::open(&db, 2)
                .await
                .with_context(|| format!("cannot open {}", db.describe()))?;
            token(store, t).await
        }
    }
}

async fn serve(
    db: &backend::DatabaseUrl,
    addr: SocketAddr,
    timeout: Duration,
    limits: listener::Limits,
    pg_max: usize,
) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DIFFLORE_SERVER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let store = backend::AnyStorage::open(db, pg_max)
        .await
        .with_context(|| format!("cannot open {}", db.describe()))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let app = api::router(Arc::new(api::AppState::new(store)), timeout);
    println!(
        "difflore-server listening on http://{local} ({})",
        db.describe()
    );
    tracing::info!(%local, database = %db.describe(), "listening");
    listener::serve(listener, app, limits, shutdown_signal()).await;
    tracing::info!("shut down cleanly");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("signal received: finishing in-flight requests");
}

async fn token(store: backend::AnyStorage, cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create { team, name, role } => {
            valid_name("--team", &team)?;
            valid_name("--name", &name)?;
            let role = api::parse_role(&role)?;
            let (text, record) =
                auth::new_token(&team, &name, role, difflore_server_db::now_rfc3339())?;
            let rec = store.create_token(record).await?;
            println!("{text}");
            eprintln!(
                "created {} token {:?} (id {}) for team {:?}.\nIt is shown only once: store it now. A developer logs in with:\n  difflore sync login --server URL < token-file",
                rec.role.as_str(),
                rec.name,
                rec.id,
                rec.team
            );
            Ok(())
        }
        TokenCommand::List { team, json } => {
            let tokens = store.list_tokens(team).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"schema_version": 1, "tokens": tokens})
                    )?
                );
                return Ok(());
            }
            if tokens.is_empty() {
                println!("no tokens");
                return Ok(());
            }
            let mut t = comfy_table::Table::new();
            t.load_style(comfy_table::presets::NOTHING);
            t.set_header(vec!["ID", "TEAM", "NAME", "ROLE", "CREATED", "REVOKED"]);
            for k in tokens {
                t.add_row(vec![
                    k.id,
                    k.team,
                    k.name,
                    k.role.as_str().to_string(),
                    k.created_at,
                    k.revoked_at.unwrap_or_else(|| "-".into()),
                ]);
            }
            println!("{t}");
            Ok(())
        }
        TokenCommand::Revoke { token, team } => {
            let n = store.revoke_token(&token, team.clone()).await?;
            if n == 0 {
                bail!(
                    "no active token {token:?}{}",
                    team.map_or(String::new(), |t| format!(" in team {t:?}"))
                );
            }
            println!("revoked {n} token{}", if n == 1 { "" } else { "s" });
            Ok(())
        }
    }
}
