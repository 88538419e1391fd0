//! The recall evaluation (`tests/recall/`, see its GUIDELINES.md): team rulebooks written for
//! this set and changed files with the rules a reviewer would want served, the rules it would be
//! wrong to serve, and changes where nothing applies. Each book goes into a real store; each
//! case is matched as `recall --diff` matches a file (its path and changed lines). Prints
//! recall@1, recall@3, leaks and abstention for the development and test parts and holds the
//! engine to floors on both. `bench/recall-eval.sh` prints the full report.

use difflore_core::home::Home;
use difflore_core::store;
use difflore_rules::matching::{Query, match_rules};
use difflore_rules::memory;
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Deserialize)]
struct Set {
    book: Vec<Book>,
}

#[derive(Deserialize)]
struct Book {
    name: String,
    repo: String,
    rule: Vec<RuleDef>,
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct RuleDef {
    id: String,
    title: String,
    statement: String,
    globs: Vec<String>,
    source: String,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    path: String,
    diff: String,
    expect: Vec<String>,
    #[serde(default)]
    forbid: Vec<String>,
}

/// What one part of the set scored.
#[derive(Default, Debug)]
struct Score {
    cases: usize,
    expected_pairs: usize,
    top1_cases: usize,
    top1_hits: usize,
    at3: usize,
    leaks: usize,
    abstain_cases: usize,
    abstain_ok: usize,
    misses: Vec<String>,
}

impl Score {
    fn recall_at1(&self) -> f64 {
        self.top1_hits as f64 / self.top1_cases.max(1) as f64
    }
    fn recall_at3(&self) -> f64 {
        self.at3 as f64 / self.expected_pairs.max(1) as f64
    }
}

/// The changed lines of a diff, as `recall --diff` reads them.
fn changed_text(diff: &str) -> String {
    diff.lines()
        .filter(|l| !l.starts_with("+++") && !l.starts_with("---"))
        .filter_map(|l| l.strip_prefix('+').or_else(|| l.strip_prefix('-')))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn run(part: &str) -> Score {
    let path = format!("{}/tests/recall/{part}.toml", env!("CARGO_MANIFEST_DIR"));
    let raw = std::fs::read_to_string(&path).unwrap();
    let set: Set = toml::from_str(&raw).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut score = Score::default();
    for book in &set.book {
        let dir = tempfile::tempdir().unwrap();
        let conn = store::open_for_write(&Home::at(dir.path())).unwrap();
        let mut by_rule: HashMap<String, String> = HashMap::new();
        for r in &book.rule {
            let made = memory::add(
                &conn,
                &r.title,
                &r.statement,
                &r.globs,
                Some(&book.repo),
                false,
            )
            .unwrap_or_else(|e| panic!("{}: {}: {e}", book.name, r.id));
            by_rule.insert(made.id, r.id.clone());
        }
        for c in &book.case {
            for id in c.expect.iter().chain(&c.forbid) {
                assert!(
                    book.rule.iter().any(|r| &r.id == id),
                    "{}: unknown rule {id}",
                    c.name
                );
            }
            let text = changed_text(&c.diff);
            let q = Query::new(Some(&book.repo)).path(&c.path).text(&text);
            let got = match_rules(&conn, &q).unwrap();
            let served: Vec<String> = got.iter().map(|m| by_rule[&m.id].clone()).collect();
            let whys: Vec<String> = got
                .iter()
                .map(|m| format!("{} [{}]", by_rule[&m.id], m.why))
                .collect();
            score.cases += 1;
            let label = format!("{}/{} ({})", book.name, c.name, c.path);
            if c.expect.is_empty() {
                score.abstain_cases += 1;
                if served.is_empty() {
                    score.abstain_ok += 1;
                } else {
                    score
                        .misses
                        .push(format!("{label}: should abstain, served {whys:?}"));
                }
                continue;
            }
            score.top1_cases += 1;
            if served.first().is_some_and(|s| c.expect.contains(s)) {
                score.top1_hits += 1;
            }
            score.expected_pairs += c.expect.len();
            let top3 = &served[..served.len().min(3)];
            for e in &c.expect {
                if top3.contains(e) {
                    score.at3 += 1;
                } else {
                    score
                        .misses
                        .push(format!("{label}: {e} not in top 3 of {whys:?}"));
                }
            }
            for f in &c.forbid {
                if served.contains(f) {
                    score.leaks += 1;
                    score
                        .misses
                        .push(format!("{label}: leaked {f} in {whys:?}"));
                }
            }
        }
    }
    score
}

/// Prints a part's figures; its misses only for the development part, unless
/// `RECALL_EVAL_DETAILS=test` asks (the test part is reported, not tuned on).
fn report(part: &str, s: &Score) {
    println!(
        "{part}: {} cases; recall@1 {:.2}, recall@3 {:.2} ({}/{}), leaks {}, abstention {}/{}",
        s.cases,
        s.recall_at1(),
        s.recall_at3(),
        s.at3,
        s.expected_pairs,
        s.leaks,
        s.abstain_ok,
        s.abstain_cases
    );
    let details = part == "dev" || std::env::var("RECALL_EVAL_DETAILS").is_ok_and(|v| v == part);
    if details {
        for m in &s.misses {
            println!("  {m}");
        }
    }
}

#[test]
fn recall_evaluation_meets_its_floors() {
    let dev = run("dev");
    let test = run("test");
    report("dev", &dev);
    report("test", &test);
    let all = dev.cases + test.cases;
    assert!(all >= 80, "{all} cases");
    assert!(dev.abstain_cases + test.abstain_cases >= 15);
    for (part, s, floor) in [("dev", &dev, DEV), ("test", &test, TEST)] {
        assert!(
            s.recall_at3() >= floor.at3,
            "{part}: recall@3 {:.2}",
            s.recall_at3()
        );
        assert!(
            s.recall_at1() >= floor.at1,
            "{part}: recall@1 {:.2}",
            s.recall_at1()
        );
        assert!(s.leaks <= floor.leaks, "{part}: {} leaks", s.leaks);
        assert!(
            s.abstain_ok + floor.missed_abstentions >= s.abstain_cases,
            "{part}: abstention {}/{}",
            s.abstain_ok,
            s.abstain_cases
        );
    }
}

/// What a part must reach (a little under what the engine measured, see the README).
struct Floor {
    at1: f64,
    at3: f64,
    leaks: usize,
    missed_abstentions: usize,
}

const DEV: Floor = Floor {
    at1: 0.85,
    at3: 0.95,
    leaks: 0,
    missed_abstentions: 0,
};
const TEST: Floor = Floor {
    at1: 0.85,
    at3: 0.85,
    leaks: 1,
    missed_abstentions: 1,
};

#[test]
fn every_rule_names_the_thread_it_is_modelled_on() {
    for part in ["dev", "test"] {
        let path = format!("{}/tests/recall/{part}.toml", env!("CARGO_MANIFEST_DIR"));
        let set: Set = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for book in &set.book {
            for r in &book.rule {
                assert!(
                    r.source.starts_with("https://github.com/"),
                    "{part}: {}: {} names no public thread",
                    book.name,
                    r.id
                );
            }
        }
    }
}
