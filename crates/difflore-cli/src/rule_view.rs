//! How a rule looks to a person in a terminal and in `--json`: its line, its statement, scope,
//! globs and origin, and every piece of evidence with its link.

use difflore_rules::kinds::Severity;
use difflore_rules::memory::{self, Rule};
use serde_json::json;

/// The rule as JSON (DESIGN §9 shape).
pub fn rule_json(r: &Rule) -> serde_json::Value {
    json!({
        "id": r.id, "title": r.title, "statement": r.statement, "status": r.status, "severity": r.severity,
        "globs": r.globs, "repo": r.repo, "confidence": r.confidence, "origin": r.origin, "reason": r.reason,
        "location": r.location, "version": r.team_version, "evidence": r.evidence,
    })
}

pub fn print_rule(conn: &rusqlite::Connection, r: &Rule) {
    println!(
        "{}  [{}{}]  {}",
        memory::handle(conn, &r.id),
        r.status,
        if r.severity == Severity::Enforce {
            ", enforce"
        } else {
            ""
        },
        r.title
    );
    println!("  {}", r.statement);
    println!(
        "  scope: {}  globs: {}  confidence {:.2}  origin {}",
        r.repo.as_deref().unwrap_or("global"),
        if r.globs.is_empty() {
            "(all files)".to_string()
        } else {
            r.globs.join(", ")
        },
        r.confidence,
        r.origin
    );
    if let Some(why) = &r.reason {
        println!("  why: {why}");
    }
}

/// Every piece of evidence of a rule, with its link.
pub fn print_evidence(r: &Rule) {
    if r.evidence.is_empty() {
        println!("  evidence: none (a person's own rule)");
    }
    for e in &r.evidence {
        println!(
            "  - {} on {}:{}{}",
            e.author.as_deref().unwrap_or("?"),
            e.path.as_deref().unwrap_or("-"),
            e.line.map(|l| l.to_string()).unwrap_or_default(),
            e.url.as_ref().map(|u| format!("  {u}")).unwrap_or_default()
        );
        println!("    \"{}\"", e.excerpt.replace('\n', " "));
    }
}
