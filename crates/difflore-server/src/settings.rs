//! Server settings from, in order of precedence: command-line flags, environment variables
//! (`DIFFLORE_SERVER_*`), the config file (`--config`, else
//! `$XDG_CONFIG_HOME/difflore-server/config.toml` when it exists), then defaults.

use crate::backend::DatabaseUrl;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The config file; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub database: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub request_timeout_secs: Option<u64>,
    pub header_timeout_secs: Option<u64>,
    pub max_connections: Option<usize>,
    pub pg_max_connections: Option<usize>,
}

impl FileConfig {
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<FileConfig> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => match default_config_path() {
                Some(p) if p.exists() => p,
                _ => return Ok(FileConfig::default()),
            },
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))
    }
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

fn default_config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".config")))?;
    Some(base.join("difflore-server/config.toml"))
}

/// `$XDG_DATA_HOME/difflore-server` (else `~/.local/share/difflore-server`).
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("difflore-server")
}

/// The resolved database: `--database` wins, else `server.db` in the data dir.
pub fn database(
    flag: Option<&str>,
    data_dir: Option<&Path>,
    file: &FileConfig,
) -> anyhow::Result<DatabaseUrl> {
    if let Some(d) = flag.or(file.database.as_deref()) {
        return Ok(DatabaseUrl::parse(d)?);
    }
    let dir = data_dir
        .map(Path::to_path_buf)
        .or_else(|| file.data_dir.clone())
        .unwrap_or_else(default_data_dir);
    Ok(DatabaseUrl::Sqlite(dir.join("server.db")))
}
