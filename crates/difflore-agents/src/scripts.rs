//! Cline's hooks are not entries of a config file but executables, one per event, named after
//! it, in a hooks directory (`~/.cline/hooks/`, or the project's `.clinerules/hooks/`). difflore
//! writes its own small script for each event serving uses and records it in the manifest; a
//! script of the user's own under the same name is never touched — the agent is refused with the
//! reason (Cline runs one script per event: chain difflore from yours by hand). `uninstall`
//! removes exactly the scripts difflore wrote, if they are still what it wrote.

use crate::edit::{self, EditError};
use crate::spec::{self, Agent, Scope, Wiring};
use crate::{AgentsError, Ctx, Entry, EntryKind, FileChange, Manifest};
use serde_json::Value;
use std::path::PathBuf;

/// (script path, content) for each Cline event difflore serves on.
pub fn desired(ctx: &Ctx, scope: Scope) -> Vec<(PathBuf, String)> {
    let cmd = spec::hook_command(&ctx.bin, ctx.difflore_home.as_deref(), Agent::Cline);
    let dir = Agent::Cline.hooks_file(&ctx.home, &ctx.project, scope);
    spec::CLINE_EVENTS
        .iter()
        .map(|e| (dir.join(e), spec::cline_script(&cmd)))
        .collect()
}

/// A script difflore wrote (for Cline), whatever binary it points at.
fn ours(text: &str) -> bool {
    text.contains("# difflore:") && spec::is_our_command(text, Agent::Cline)
}

/// Refuses, before anything is written, when a script of the user's own holds an event's name.
pub fn check(ctx: &Ctx, scope: Scope) -> Result<(), AgentsError> {
    for (path, _) in desired(ctx, scope) {
        match std::fs::read_to_string(&path) {
            Ok(t) if !ours(&t) => {
                return Err(AgentsError::State(
                    path,
                    "a hook script of your own is there, and Cline runs one per event; difflore leaves it alone — call `difflore-hook --agent cline` from it (stdin passed on) to add difflore".into(),
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(AgentsError::Edit(EditError::Read(path, e))),
        }
    }
    Ok(())
}

/// Writes (or, with `dry_run`, shows) the scripts; records new ones in the manifest.
pub fn install(
    ctx: &Ctx,
    scope: Scope,
    dry_run: bool,
    manifest: &mut Manifest,
) -> Result<Vec<FileChange>, AgentsError> {
    let mut changes = Vec::new();
    for (path, content) in desired(ctx, scope) {
        let old = std::fs::read_to_string(&path).ok();
        let same = old.as_deref() == Some(content.as_str());
        let mut change = FileChange {
            file: path.clone(),
            diff: edit::diff(&path, old.as_deref().unwrap_or(""), &content),
            added: usize::from(old.is_none()),
            replaced: usize::from(old.is_some() && !same),
            removed: 0,
            backup: None,
            note: None,
        };
        if same {
            change.diff.clear();
        } else if !dry_run {
            write_executable(&path, &content)?;
            let entry = Entry {
                agent: Agent::Cline,
                scope,
                file: path.clone(),
                kind: EntryKind::Script,
                path: Vec::new(),
                value: Value::String(content.clone()),
                created: Vec::new(),
                created_file: old.is_none(),
            };
            match manifest
                .entries
                .iter_mut()
                .find(|m| m.file == path && m.kind == EntryKind::Script)
            {
                Some(m) => m.value = entry.value,
                None => manifest.entries.push(entry),
            }
        }
        changes.push(change);
    }
    if !dry_run {
        manifest.save(ctx)?;
    }
    Ok(changes)
}

fn write_executable(path: &PathBuf, content: &str) -> Result<(), AgentsError> {
    let err = |e| AgentsError::Edit(EditError::Write(path.clone(), e));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension("difflore-tmp");
    std::fs::write(&tmp, content).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).map_err(err)?;
    }
    std::fs::rename(&tmp, path).map_err(err)
}

/// Removes the recorded scripts that are still what difflore wrote.
pub fn uninstall(entries: &[Entry], dry_run: bool) -> Vec<FileChange> {
    let mut changes = Vec::new();
    for e in entries {
        let now = std::fs::read_to_string(&e.file).ok();
        let still = now.as_deref().is_some_and(ours);
        let mut change = FileChange {
            file: e.file.clone(),
            diff: edit::diff(&e.file, now.as_deref().unwrap_or(""), ""),
            added: 0,
            replaced: 0,
            removed: usize::from(still),
            backup: None,
            note: None,
        };
        if !still {
            change.diff.clear();
            change.note = now
                .is_some()
                .then(|| "the script was changed since install and was left in place".into());
        } else if !dry_run && let Err(err) = std::fs::remove_file(&e.file) {
            change.note = Some(format!("could not remove it: {err}"));
        }
        changes.push(change);
    }
    changes
}

/// (current, stale) scripts for a scope.
pub fn status(ctx: &Ctx, scope: Scope) -> (usize, usize) {
    let (mut current, mut stale) = (0, 0);
    for (path, content) in desired(ctx, scope) {
        match std::fs::read_to_string(&path) {
            Ok(t) if t == content => current += 1,
            Ok(t) if ours(&t) => stale += 1,
            _ => {}
        }
    }
    (current, stale)
}
