//! Credentials: the server URL and TLS options in `config.toml` (`[server]`, edited with
//! `toml_edit` so the user's comments and order survive) and the token in its own 0600 file
//! (`DIFFLORE_HOME/token`). The token never appears in argv, logs or the config file.

use difflore_core::home::{self, Home};
use std::path::{Path, PathBuf};

/// What the drain needs to reach the server.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub server: String,
    pub token: String,
    pub ca_cert: Option<PathBuf>,
    pub insecure: bool,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("server", &self.server)
            .field("token", &"***")
            .field("ca_cert", &self.ca_cert)
            .field("insecure", &self.insecure)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredsError {
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CredsError + '_ {
    move |source| CredsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Checks a server URL: http(s) only, and plain http only to a loopback host unless `insecure`.
pub fn check_server_url(url: &str, insecure: bool) -> Result<String, CredsError> {
    let url = url.trim().trim_end_matches('/').to_string();
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        CredsError::Invalid(format!(
            "{url:?} is not a URL (expected https://HOST[:PORT])"
        ))
    })?;
    let host = rest.split('/').next().unwrap_or("");
    let host_only = if let Some(end) = host.find(']') {
        &host[..=end]
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    if host_only.is_empty() {
        return Err(CredsError::Invalid(format!("{url:?} has no host")));
    }
    match scheme {
        "https" => Ok(url),
        "http" if insecure || is_loopback(host_only) => Ok(url),
        "http" => Err(CredsError::Invalid(format!(
            "refusing plain http to {host_only}: the token would travel unencrypted. Use https, or pass --insecure if you really mean it"
        ))),
        other => Err(CredsError::Invalid(format!(
            "unsupported scheme {other:?}: use https (or http on loopback)"
        ))),
    }
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A token as read from stdin or a file: one line, printable, no spaces.
pub fn clean_token(raw: &str) -> Result<String, CredsError> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(CredsError::Invalid(
            "no token given (pipe it on stdin or use --token-file)".into(),
        ));
    }
    if t.len() > 4096 || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(CredsError::Invalid(
            "the token must be a single line without spaces".into(),
        ));
    }
    Ok(t.to_string())
}

/// Loads the credentials; `None` while nobody is logged in.
pub fn load(home: &Home) -> Result<Option<Credentials>, CredsError> {
    let token = match std::fs::read_to_string(home.token_path()) {
        Ok(t) => t.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&home.token_path())(e)),
    };
    let cfg = difflore_core::config::Config::load(&home.config_path())
        .map_err(|e| CredsError::Invalid(e.to_string()))?;
    let Some(server) = cfg.server else {
        return Ok(None);
    };
    if token.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials {
        server: server.url,
        token,
        ca_cert: server.ca_cert.map(PathBuf::from),
        insecure: server.insecure,
    }))
}

/// A cheap fingerprint of the credentials files (changes when either is rewritten), to notice a
/// new login without re-reading the token on every pass.
pub fn fingerprint(home: &Home) -> String {
    let stamp = |p: PathBuf| {
        std::fs::metadata(&p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos())
    };
    let token = std::fs::read(home.token_path()).unwrap_or_default();
    let digest: u64 = token.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!(
        "{:x}:{}:{}",
        digest,
        stamp(home.token_path()),
        stamp(home.config_path())
    )
}

/// Writes the token (0600) and the `[server]` section of config.toml, keeping everything else
/// in the file as the user wrote it.
pub fn save(home: &Home, c: &Credentials) -> Result<(), CredsError> {
    home.ensure_dirs().map_err(io(home.root()))?;
    let tp = home.token_path();
    let tmp = tp.with_extension("tmp");
    std::fs::write(&tmp, format!("{}\n", c.token)).map_err(io(&tmp))?;
    home::make_private(&tmp).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &tp).map_err(io(&tp))?;
    let cp = home.config_path();
    let text = match std::fs::read_to_string(&cp) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io(&cp)(e)),
    };
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| CredsError::Invalid(format!("{}: {e}", cp.display())))?;
    let mut server = toml_edit::Table::new();
    server["url"] = toml_edit::value(c.server.clone());
    if let Some(ca) = &c.ca_cert {
        server["ca_cert"] = toml_edit::value(ca.display().to_string());
    }
    if c.insecure {
        server["insecure"] = toml_edit::value(true);
    }
    doc["server"] = toml_edit::Item::Table(server);
    std::fs::write(&cp, doc.to_string()).map_err(io(&cp))?;
    home::make_private(&cp).map_err(io(&cp))?;
    Ok(())
}

/// Removes the token and the `[server]` section; the queue is left alone.
pub fn clear(home: &Home) -> Result<bool, CredsError> {
    let had = home.token_path().exists();
    match std::fs::remove_file(home.token_path()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(&home.token_path())(e)),
    }
    let cp = home.config_path();
    if let Ok(text) = std::fs::read_to_string(&cp)
        && let Ok(mut doc) = text.parse::<toml_edit::DocumentMut>()
        && doc.remove("server").is_some()
    {
        std::fs::write(&cp, doc.to_string()).map_err(io(&cp))?;
    }
    Ok(had)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(check_server_url("http://127.0.0.1:8787", false).is_ok());
        assert!(check_server_url("http://localhost:8787/", false).is_ok());
        assert!(check_server_url("http://[::1]:8787", false).is_ok());
        assert!(check_server_url("https://sync.acme.dev", false).is_ok());
        let e = check_server_url("http://sync.acme.dev", false).unwrap_err();
        assert!(e.to_string().contains("--insecure"));
        assert!(check_server_url("http://sync.acme.dev", true).is_ok());
        assert!(check_server_url("ftp://x", true).is_err());
        assert!(check_server_url("sync.acme.dev", true).is_err());
    }

    #[test]
    fn save_keeps_the_users_config_and_clear_removes_only_ours() {
        let d = tempfile::tempdir().unwrap();
        let home = Home::at(d.path());
        home.ensure_dirs().unwrap();
        let original = "# my settings\n[capture]\ncontent = false # keep it private\n";
        std::fs::write(home.config_path(), original).unwrap();
        let c = Credentials {
            server: "https://sync.acme.dev".into(),
            token: "dfl_x".into(),
            ca_cert: None,
            insecure: false,
        };
        save(&home, &c).unwrap();
        let text = std::fs::read_to_string(home.config_path()).unwrap();
        assert!(text.starts_with(original), "{text}");
        assert_eq!(load(&home).unwrap().unwrap(), c);
        assert!(clear(&home).unwrap());
        assert_eq!(
            std::fs::read_to_string(home.config_path()).unwrap(),
            original
        );
        assert!(load(&home).unwrap().is_none());
        assert!(format!("{c:?}").contains("***") && !format!("{c:?}").contains("dfl_x"));
    }
}
