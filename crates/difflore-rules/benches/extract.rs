//! Extraction speed: 10 000 imported review comments (a realistic mix of norms, praise,
//! questions, nits and replies) through `extract::run`, first run and re-run.
//!
//! Run: `cargo bench -p difflore-rules --bench extract`.

use difflore_core::home::Home;
use std::time::Instant;

const BODIES: &[&str] = &[
    "Please use Money instead of f64 for amounts in module {m}.",
    "We don't call db.raw outside migrations ({m}).",
    "LGTM, thanks!",
    "Why is this needed?",
    "typo: recieve",
    "Avoid unwrap() in library code {m}; return a Result.",
    "Nice work.",
    "Please rebase on main before merging.",
    "We always log with tracing in service {m}, never println.",
    "Could you split this function? It is long.",
];

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let conn = difflore_core::store::open_for_write(&Home::at(dir.path())).unwrap();
    conn.execute_batch("PRAGMA synchronous=OFF; BEGIN").unwrap();
    for i in 0..10_000 {
        let body = BODIES[i % BODIES.len()].replace("{m}", &format!("m{}", i % 40));
        conn.execute(
            "INSERT INTO review_comments (source, repo, platform_id, pr_number, author, author_is_bot, path, line, body, thread_id, reactions, imported_at)
             VALUES ('file', 'git.example.com/a/b', ?1, ?2, ?3, 0, ?4, 1, ?5, ?1, '{}', 0)",
            rusqlite::params![i.to_string(), (i / 7) as i64, format!("r{}", i % 13), format!("src/m{}/x.rs", i % 40), body],
        )
        .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
    let t = Instant::now();
    let mut kept = 0;
    for i in 0..10_000 {
        let body = BODIES[i % BODIES.len()].replace("{m}", &format!("m{}", i % 40));
        let j = difflore_rules::classify::judge(&difflore_rules::classify::CommentFacts {
            body: &body,
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
