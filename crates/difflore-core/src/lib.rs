//! difflore's local core: everything the client processes (`difflore` CLI, `difflore hook`, the
//! daemon, the MCP server) share. The hook itself lives in `difflore-hook`.
//!
//! - [`home::Home`] locates `DIFFLORE_HOME` and its files; [`store`] opens `difflore.db` (the CLI
//!   migrates it, the hook only checks its version) and names every failure.
//! - [`outbox::Outbox`] is the one queue state machine: the hook appends, a drainer claims,
//!   settles and retries (DESIGN §4); [`inbox`] takes the events of hook steps that serve
//!   nothing and [`spool`] the events the hook could not write in time, until a writing command
//!   or the daemon folds them into it.
//! - [`agent::Agent`] is what difflore knows of each agent: names, event phases, no-op answers,
//!   environment markers.
//! - [`repo`] derives the repo key and repo-relative paths from `.git` files alone;
//!   [`redact`] masks secrets in anything captured; [`config`] reads `config.toml` and the
//!   kill switches; [`logfile`] keeps bounded logs; [`status`] gathers `difflore status`.
#![forbid(unsafe_code)]

pub mod agent;
pub mod clock;
pub mod config;
pub mod home;
pub mod inbox;
pub mod logfile;
pub mod outbox;
pub mod outcomes;
pub mod redact;
pub mod repo;
pub mod spool;
pub mod status;
pub mod store;
