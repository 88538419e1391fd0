//! `difflore export --format agents-md|claude-md [--output PATH]`: the active rules of this
//! repository (and the global ones) into the marked section of AGENTS.md / CLAUDE.md, written
//! atomically, idempotent, everything outside the section untouched.

use crate::context::home;
use anyhow::{Context, bail};
use difflore_core::{repo, store};
use difflore_rules::export::{self, Format};
use difflore_rules::memory;
use std::io::Write;
use std::path::Path;

pub fn run(format: &str, output: Option<&Path>) -> anyhow::Result<()> {
    let format = Format::parse(format).context("--format must be agents-md or claude-md")?;
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let found = repo::discover(&cwd);
    let key = found.as_ref().map(|r| r.key.clone());
    let conn = store::open_for_write(&home()?)?;
    let rules = memory::active_in_scope(&conn, key.as_deref())?;
    let section = export::render(format, key.as_deref(), &rules);
    if output == Some(Path::new("-")) {
        println!("{section}");
        return Ok(());
    }
    let target = match (output, &found) {
        (Some(p), _) => cwd.join(p),
        (None, Some(r)) => r.root.join(format.file_name()),
        (None, None) => bail!(
            "{} is not inside a git checkout, so there is no repository to write {} into: run it in your checkout, or say where with --output PATH (--output - prints it)",
            cwd.display(),
            format.file_name()
        ),
    };
    let existing = match std::fs::read(&target) {
        Ok(b) => String::from_utf8(b).map_err(|_| {
            anyhow::anyhow!(
                "{} is not UTF-8 text; refusing to edit it",
                target.display()
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", target.display())),
    };
    let updated = export::splice(&existing, &section)
        .map_err(|e| anyhow::anyhow!("refusing to edit {}: {e}", target.display()))?;
    let n = rules.len();
    let what = format!("{n} active rule{}", if n == 1 { "" } else { "s" });
    if updated == existing {
        println!("{} is up to date ({what})", target.display());
        return Ok(());
    }
    write_atomically(&target, updated.as_bytes())?;
    println!(
        "{} {} ({what})",
        if existing.contains(export::BEGIN) {
            "updated the difflore section of"
        } else {
            "added a difflore section to"
        },
        target.display()
    );
    Ok(())
}

/// Writes via a temporary file in the same directory and a rename, keeping the permissions.
fn write_atomically(target: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        bail!("{} does not exist", dir.display());
    }
    let name = target
        .file_name()
        .context("the output path names no file")?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.difflore-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        if let Ok(meta) = std::fs::metadata(target) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, target)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", target.display()));
    }
    Ok(())
}
