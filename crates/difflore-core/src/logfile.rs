//! Bounded, rotated log files under `DIFFLORE_HOME/logs/` (`hook.log`, `daemon.log`): one line
//! per entry of at most [`MAX_LINE_BYTES`], rotated to `<name>.1` before it would pass
//! [`MAX_LOG_BYTES`] (so neither file is ever larger). Writing a log line never fails the
//! caller: a log that cannot be written is skipped.

use crate::clock;
use crate::home::Home;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

/// A log file is rotated once it grows past this size; one previous file is kept.
pub const MAX_LOG_BYTES: u64 = 1024 * 1024;
/// Longest message kept on one line (the rest is cut).
pub const MAX_LINE_BYTES: usize = 4 * 1024;

/// Path of the log `name` (e.g. `hook.log`).
pub fn path(home: &Home, name: &str) -> PathBuf {
    home.logs_dir().join(name)
}

/// Appends one line (`<RFC 3339 time> <level> <message>`), rotating first when the file is full.
pub fn append(home: &Home, name: &str, level: &str, message: &str) {
    let _ = try_append(home, name, level, message);
}

fn try_append(home: &Home, name: &str, level: &str, message: &str) -> std::io::Result<()> {
    let dir = home.logs_dir();
    if !dir.is_dir() {
        home.ensure_dirs()?;
    }
    let p = dir.join(name);
    let one_line =
        crate::redact::prefix_at_most(message, MAX_LINE_BYTES).replace(['\n', '\r'], " ");
    let line = format!("{} {level} {one_line}\n", clock::rfc3339(clock::now_ms()));
    // Rotate before the line would take the file past its bound: neither file ever exceeds it.
    if fs::metadata(&p).is_ok_and(|m| m.len() + line.len() as u64 > MAX_LOG_BYTES) {
        fs::rename(&p, dir.join(format!("{name}.1")))?;
    }
    let mut f = OpenOptions::new().create(true).append(true).open(&p)?;
    f.write_all(line.as_bytes())
}

/// Like [`append`], but only the first time for `key` (until the marker file is removed):
/// repeated conditions such as a schema mismatch are logged once, not on every hook.
pub fn append_once(home: &Home, name: &str, key: &str, level: &str, message: &str) {
    let marker = home.logs_dir().join(format!(".once-{key}"));
    if marker.exists() {
        return;
    }
    append(home, name, level, message);
    let _ = fs::write(marker, message);
}

/// The last `n` lines of a log (for `status` and `daemon start` failures).
pub fn tail(home: &Home, name: &str, n: usize) -> Vec<String> {
    let Ok(text) = fs::read_to_string(path(home, name)) else {
        return Vec::new();
    };
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_and_tails() {
        let d = tempfile::tempdir().unwrap();
        let home = Home::at(d.path());
        // Lines far longer than the line bound, enough to rotate several times.
        let big = "x".repeat(600_000);
        for _ in 0..800 {
            append(&home, "t.log", "ERROR", &big);
        }
        for f in ["t.log", "t.log.1"] {
            let len = fs::metadata(home.logs_dir().join(f)).unwrap().len();
            assert!(len <= MAX_LOG_BYTES, "{f}: {len}");
        }
        append(&home, "t.log", "ERROR", "last\nline");
        let t = tail(&home, "t.log", 1);
        assert!(t[0].ends_with("ERROR last line"), "{t:?}");
        append_once(&home, "o.log", "k", "WARN", "once");
        append_once(&home, "o.log", "k", "WARN", "once");
        assert_eq!(tail(&home, "o.log", 10).len(), 1);
    }
}
