//! The delivery side's error types: why a drain could not go on ([`DrainError`]) and why the
//! daemon could not be started, stopped or installed as a service ([`ControlError`]).

use crate::client::ClientError;
use crate::creds::CredsError;
use difflore_core::store::StoreError;

/// Why a drain (the daemon's loop, `sync now`) could not go on.
#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error(transparent)]
    Creds(#[from] CredsError),
    #[error("not logged in: run `difflore sync login --server URL` first")]
    NotLoggedIn,
    /// The queue is parked until the credentials change; says why.
    #[error("the queue is {0}")]
    Parked(String),
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Why the daemon could not be started, stopped or installed as a service.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the daemon exited at once ({status}). Last log lines:\n  {log}")]
    ExitedAtOnce { status: String, log: String },
    #[error("the daemon did not take its lock within 5 s. Last log lines:\n  {0}")]
    NoLock(String),
    #[error("the lock is held but names no process; try again in a moment")]
    LockNamesNoProcess,
    #[error(
        "pid {0} is not the daemon that took the lock (its start time differs); not signalling it"
    )]
    NotTheDaemon(u32),
    #[error("invalid pid {0} in the lock file")]
    InvalidPid(u32),
    #[error("pid {0} still holds the lock after SIGKILL")]
    Unkillable(u32),
    #[error("HOME is not set")]
    NoHome,
    #[error("systemd-analyze verify failed:\n{0}")]
    Verify(String),
}

impl ControlError {
    /// An I/O failure while doing `what` ("open /x/daemon.out", "start /usr/bin/difflore").
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ControlError {
        let what = what.into();
        move |source| ControlError::Io { what, source }
    }
}
