//! Extraction speed: 10 000 imported review comments (the labelled set's 384 comments, each
//! repeated in other PRs) through the classifier alone, then `extract::run`, first run and
//! re-run.
//!
//! Run: `cargo bench -p difflore-rules --bench extract`.

use difflore_core::home::Home;
use std::time::Instant;

/// The labelled set's comments (`tests/extraction/*.jsonl`): norms, bugs, questions, praise,
/// nits and suggestion blocks from thirteen ecosystems.
fn bodies() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in ["dev", "test", "holdout"] {
        let path = format!(
            "{}/tests/extraction/{part}.jsonl",
            env!("CARGO_MANIFEST_DIR")
        );
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            out.push((
                v["body"].as_str().unwrap().to_string(),
                v["path"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let conn = difflore_core::store::open_for_write(&Home::at(dir.path())).unwrap();
    conn.execute_batch("PRAGMA synchronous=OFF; BEGIN").unwrap();
    let bodies = bodies();
    for i in 0..10_000 {
        let (body, path) = &bodies[i % bodies.len()];
        conn.execute(
            "INSERT INTO review_comments (source, repo, platform_id, pr_number, author, author_is_bot, path, line, body, thread_id, reactions, imported_at)
             VALUES ('file', 'git.example.com/a/b', ?1, ?2, ?3, 0, ?4, 1, ?5, ?1, '{}', 0)",
            rusqlite::params![i.to_string(), i as i64, format!("r{}", i % 13), path, body],
        )
        .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
    let t = Instant::now();
    let mut kept = 0;
    for i in 0..10_000 {
        let (body, _) = &bodies[i % bodies.len()];
        let j = difflore_rules::classify::judge(&difflore_rules::classify::CommentFacts {
            body,
            ..Default::default()
        });
        kept += usize::from(matches!(
            j.verdict,
            difflore_rules::classify::Verdict::Keep { .. }
        ));
    }
    let el = t.elapsed().as_secs_f64();
    println!(
        "{:<10} 10 000 comments in {el:.2} s ({:.0} comments/s): {kept} kept",
        "judge only",
        10_000.0 / el
    );
    for label in ["first run", "re-run"] {
        let t = Instant::now();
        let r = difflore_rules::extract::run(&conn, None, false).unwrap();
        let el = t.elapsed().as_secs_f64();
        println!(
            "{label:<10} 10 000 comments in {el:.2} s ({:.0} comments/s): {} kept, {} new and {} updated candidates",
            10_000.0 / el,
            r.kept,
            r.candidates_new,
            r.candidates_updated
        );
    }
}
