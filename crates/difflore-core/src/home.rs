//! `DIFFLORE_HOME`: where every client file lives (DESIGN §3) and how it is created
//! (directories 0700, files 0600).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The resolved `DIFFLORE_HOME` and the well-known paths inside it.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// `$DIFFLORE_HOME`, else `~/.difflore`.
    pub fn from_env() -> Result<Home, io::Error> {
        if let Some(v) = std::env::var_os("DIFFLORE_HOME").filter(|v| !v.is_empty()) {
            return Ok(Home::at(PathBuf::from(v)));
        }
        match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(h) => Ok(Home::at(PathBuf::from(h).join(".difflore"))),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                "neither DIFFLORE_HOME nor HOME is set",
            )),
        }
    }

    /// A home at an explicit path.
    pub fn at(root: impl Into<PathBuf>) -> Home {
        Home { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn db_path(&self) -> PathBuf {
        self.root.join("difflore.db")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    /// The server token file (written by `sync login`); its presence means "logged in".
    pub fn token_path(&self) -> PathBuf {
        self.root.join("token")
    }
    /// The hook's inbox: events of steps that serve nothing, until folded ([`crate::inbox`]).
    pub fn inbox_path(&self) -> PathBuf {
        self.root.join("inbox.db")
    }
    /// Events the hook could not write to the database in time, one file each ([`crate::spool`]).
    pub fn spool_dir(&self) -> PathBuf {
        self.root.join("spool")
    }
    /// A copy of the store's event-id key, so the hook can name an event (and spool it) when
    /// the database cannot be read; written by every writing command.
    pub fn event_key_path(&self) -> PathBuf {
        self.root.join("event_id.key")
    }
    pub fn daemon_lock_path(&self) -> PathBuf {
        self.root.join("daemon.lock")
    }

    /// Creates the home and its `logs/` directory (0700) when missing.
    pub fn ensure_dirs(&self) -> io::Result<()> {
        create_private_dir(&self.root)?;
        create_private_dir(&self.logs_dir())
    }
}

pub(crate) fn create_private_dir(p: &Path) -> io::Result<()> {
    if p.is_dir() {
        return Ok(());
    }
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(p)
}

/// Restricts a file to its owner (0600). No-op off Unix.
pub fn make_private(p: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(p, fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = p;
    Ok(())
}
