//! Rendering helpers shared by the commands: aligned tables, JSON on stdout, human durations
//! and sizes.

use comfy_table::{ContentArrangement, Table, presets::NOTHING};
use serde::Serialize;

/// A borderless, aligned table with a header row; on a terminal it fits the terminal's width
/// (long cells wrap), elsewhere lines are never wrapped.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(NOTHING);
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        t.set_content_arrangement(ContentArrangement::Dynamic);
    }
    t.set_header(header.iter().map(|h| h.to_uppercase()));
    t
}

/// `true` when stderr (`err`) or stdout may be coloured: a terminal, and `NO_COLOR` unset.
pub fn colour(err: bool) -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && if err {
            std::io::IsTerminal::is_terminal(&std::io::stderr())
        } else {
            std::io::IsTerminal::is_terminal(&std::io::stdout())
        }
}

/// `text` in an ANSI SGR style (`"1;31"` bold red) when `on`.
pub fn paint(on: bool, sgr: &str, text: &str) -> String {
    if on {
        format!("\x1b[{sgr}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// Prints one JSON object on stdout.
pub fn json<T: Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// `3s`, `4m 10s`, `2h 5m`, `3d 4h`.
pub fn age(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// `512 B`, `1.5 KiB`, `3.2 MiB`.
pub fn bytes(n: u64) -> String {
    const K: f64 = 1024.0;
    let f = n as f64;
    if f < K {
        format!("{n} B")
    } else if f < K * K {
        format!("{:.1} KiB", f / K)
    } else if f < K * K * K {
        format!("{:.1} MiB", f / K / K)
    } else {
        format!("{:.1} GiB", f / K / K / K)
    }
}
