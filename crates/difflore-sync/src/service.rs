//! `difflore daemon install|uninstall`: a systemd user unit (Linux) or a launchd agent (macOS)
//! that runs `difflore daemon run`. Written (and on Linux linted with `systemd-analyze verify`
//! when available), not started: the printed command enables it.

use crate::error::ControlError;
use difflore_core::home::Home;
use std::path::{Path, PathBuf};

pub const UNIT_NAME: &str = "difflore-daemon.service";
pub const PLIST_LABEL: &str = "dev.difflore.daemon";

/// Where the unit goes: `$XDG_CONFIG_HOME/systemd/user/` (Linux) or `~/Library/LaunchAgents/`.
pub fn unit_path() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from)?;
    if cfg!(target_os = "macos") {
        return Some(
            home.join("Library/LaunchAgents")
                .join(format!("{PLIST_LABEL}.plist")),
        );
    }
    let cfg = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".config"));
    Some(cfg.join("systemd/user").join(UNIT_NAME))
}

pub fn systemd_unit(exe: &Path, home: &Home) -> String {
    format!(
        "[Unit]\nDescription=difflore daemon: delivers captured agent events to the team server\nDocumentation=https://github.com/difflore/difflore\n\n[Service]\nType=simple\nExecStart={} daemon run\nEnvironment=DIFFLORE_HOME={}\nRestart=on-failure\nRestartSec=5\nKillSignal=SIGTERM\nTimeoutStopSec=10\n\n[Install]\nWantedBy=default.target\n",
        exe.display(),
        home.root().display()
    )
}

pub fn launchd_plist(exe: &Path, home: &Home) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n  <key>Label</key><string>{PLIST_LABEL}</string>\n  <key>ProgramArguments</key><array><string>{}</string><string>daemon</string><string>run</string></array>\n  <key>EnvironmentVariables</key><dict><key>DIFFLORE_HOME</key><string>{}</string></dict>\n  <key>RunAtLoad</key><true/>\n  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>\n</dict>\n</plist>\n",
        exe.display(),
        home.root().display()
    )
}

/// Writes the unit; returns its path and the command that enables it.
pub fn install(exe: &Path, home: &Home) -> Result<(PathBuf, String), ControlError> {
    let path = unit_path().ok_or(ControlError::NoHome)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(ControlError::io(format!("create {}", dir.display())))?;
    }
    let (text, enable) = if cfg!(target_os = "macos") {
        (
            launchd_plist(exe, home),
            format!("launchctl load -w {}", path.display()),
        )
    } else {
        (
            systemd_unit(exe, home),
            format!("systemctl --user daemon-reload && systemctl --user enable --now {UNIT_NAME}"),
        )
    };
    std::fs::write(&path, text).map_err(ControlError::io(format!("write {}", path.display())))?;
    Ok((path, enable))
}

/// Lints the unit with `systemd-analyze verify` when it is installed: `Ok(None)` when the tool
/// is missing, `Ok(Some(output))` when it passed.
pub fn verify(path: &Path) -> Result<Option<String>, ControlError> {
    if cfg!(target_os = "macos") {
        return Ok(None);
    }
    match std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(path)
        .output()
    {
        Err(_) => Ok(None),
        Ok(o) if o.status.success() => Ok(Some(String::from_utf8_lossy(&o.stderr).into_owned())),
        Ok(o) => Err(ControlError::Verify(
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )),
    }
}

/// Removes the unit; `false` when there was none.
pub fn uninstall() -> Result<(bool, PathBuf), ControlError> {
    let path = unit_path().ok_or(ControlError::NoHome)?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok((true, path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((false, path)),
        Err(e) => Err(ControlError::Io {
            what: format!("remove {}", path.display()),
            source: e,
        }),
    }
}
