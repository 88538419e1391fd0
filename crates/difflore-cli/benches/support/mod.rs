//! Shared by the benchmarks: a store seeded with many realistic active rules — narrow globs over
//! 1 000 directories, directory-wide and repo-wide globs, exact files, and global rules without
//! globs — with statements drawn from a review vocabulary so full-text ranking has real work.
#![allow(dead_code)]

use rusqlite::{Connection, params};

pub const REPO: &str = "github.com/acme/shop";
pub const AREAS: &[&str] = &[
    "billing", "api", "auth", "db", "search", "ui", "jobs", "mail", "cache", "queue", "export",
    "import", "reports", "admin", "audit", "payments", "users", "files", "sync", "metrics",
];
const DO: &[&str] = &[
    "Use Money instead of f64 for amounts",
    "Return a Result instead of calling unwrap",
    "Log with tracing macros, never println",
    "Wrap database calls in a transaction",
    "Validate the request body before parsing",
    "Retry network calls with exponential backoff",
    "Keep handlers thin and move logic into services",
    "Close file handles with a guard",
    "Check permissions before reading the record",
    "Paginate list endpoints with a cursor",
    "Escape user input before rendering templates",
    "Use the shared HTTP client with timeouts",
];
const WHY: &[&str] = &[
    "rounding bites us in invoices",
    "panics take the worker down",
    "logs must reach the collector",
    "partial writes corrupt the ledger",
    "malformed input crashed production",
    "the upstream rate limits bursts",
];

/// The directory a rule index lives in, for queries that hit it.
pub fn dir(i: usize) -> String {
    format!("src/{}/m{}", AREAS[i % AREAS.len()], (i / AREAS.len()) % 50)
}

/// Inserts `n` active rules in one transaction (the schema's triggers index them).
pub fn seed(conn: &Connection, n: usize) {
    conn.execute_batch("BEGIN").unwrap();
    for i in 0..n {
        let d = dir(i);
        let (globs, repo) = match i % 10 {
            0..=5 => (format!("[\"{d}/*.rs\"]"), Some(REPO)),
            6 => (format!("[\"{d}/**\"]"), Some(REPO)),
            7 => (
                format!("[\"**/*.{}\"]", ["ts", "py", "go", "rs"][i % 4]),
                Some(REPO),
            ),
            8 => (format!("[\"{d}/mod.rs\"]"), Some(REPO)),
            _ => ("[]".to_string(), None),
        };
        let statement = format!(
            "{} in {} module {}; {}.",
            DO[i % DO.len()],
            AREAS[(i / 7) % AREAS.len()],
            i % 97,
            WHY[i % WHY.len()]
        );
        let title: String = DO[i % DO.len()].chars().take(40).collect();
        conn.execute(
            "INSERT INTO rules (id, title, statement, globs, repo, status, severity, confidence, origin, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6, 0.8, 'manual', 0, 0)",
            params![
                format!("{:08x}-0000-7000-8000-{:012x}", i, i),
                title,
                statement,
                globs,
                repo,
                if i % 3 == 0 { "enforce" } else { "context" }
            ],
        )
        .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
}

/// A realistic changed text for an edit in `dir(i)`.
pub fn edit_text(i: usize) -> String {
    format!(
        "fn total_{i}(items: &[Item]) -> f64 {{\n    let amount: f64 = items.iter().map(|x| x.price).sum();\n    println!(\"total {{}}\", amount);\n    db.query(\"select * from invoices\").unwrap();\n    amount\n}}\n"
    )
}
