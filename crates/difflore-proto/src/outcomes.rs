//! Whether rules reach the agents: how often each rule was served, per day, agent, repo and
//! moment — the figures `GET /v1/outcomes` answers with (from the server's counters) and
//! `difflore report` shows (from the team's, or this machine's own). One summary for both.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One rule's serving figures over a window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedFigures {
    pub rule_id: String,
    /// Times served in the window.
    pub served: i64,
    /// The last day (`YYYY-MM-DD`) it was served, if it was.
    pub last_served_day: Option<String>,
    /// By moment: `read`, `prompt`, `edit`, `gate`, `mcp` (`-` unknown).
    pub by_moment: BTreeMap<String, i64>,
    pub by_agent: BTreeMap<String, i64>,
    pub by_repo: BTreeMap<String, i64>,
    pub per_day: BTreeMap<String, i64>,
}

/// `GET /v1/outcomes` (schema 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcomes {
    pub schema_version: u32,
    /// The first day of the window.
    pub since: String,
    /// Rules served in the window, most served first.
    pub rules: Vec<ServedFigures>,
}

/// One counter row: (rule id, day, agent, repo, moment, count).
pub type ServedRow = (String, String, String, String, String, i64);

/// Sums counter rows into per-rule figures, most served first.
pub fn summarize(rows: impl IntoIterator<Item = ServedRow>) -> Vec<ServedFigures> {
    let mut out: Vec<ServedFigures> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (rule_id, day, agent, repo, moment, n) in rows {
        // Rows usually come grouped by rule: the last one is the likely one.
        let i = match out.last() {
            Some(f) if f.rule_id == rule_id => out.len() - 1,
            _ => match at.get(&rule_id) {
                Some(&i) => i,
                None => {
                    at.insert(rule_id.clone(), out.len());
                    out.push(ServedFigures {
                        rule_id,
                        ..Default::default()
                    });
                    out.len() - 1
                }
            },
        };
        let f = &mut out[i];
        f.served += n;
        add(&mut f.by_moment, moment, n);
        add(&mut f.by_agent, agent, n);
        add(&mut f.by_repo, repo, n);
        if f.last_served_day
            .as_deref()
            .is_none_or(|d| d < day.as_str())
        {
            f.last_served_day = Some(day.clone());
        }
        add(&mut f.per_day, day, n);
    }
    out.sort_by(|a, b| b.served.cmp(&a.served).then(a.rule_id.cmp(&b.rule_id)));
    out
}

/// Adds `n` under `k`, without copying a key that is there already.
fn add(m: &mut BTreeMap<String, i64>, k: String, n: i64) {
    match m.get_mut(&k) {
        Some(v) => *v += n,
        None => {
            m.insert(k, n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sum_per_rule_most_served_first() {
        let row = |r: &str, d: &str, a: &str, m: &str, n| {
            (r.into(), d.into(), a.into(), "shop".into(), m.into(), n)
        };
        let v = summarize([
            row("a", "2026-11-01", "codex", "read", 1),
            row("b", "2026-11-02", "claude-code", "read", 2),
            row("b", "2026-11-05", "codex", "gate", 3),
        ]);
        assert_eq!(v[0].rule_id, "b");
        assert_eq!(v[0].served, 5);
        assert_eq!(v[0].last_served_day.as_deref(), Some("2026-11-05"));
        assert_eq!(v[0].by_moment["gate"], 3);
        assert_eq!(v[0].per_day.len(), 2);
        assert_eq!(v[1].served, 1);
    }
}
