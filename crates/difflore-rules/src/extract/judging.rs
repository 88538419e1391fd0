//! Judging every imported comment: the thread each belongs to (agreement, push-back, a
//! retraction, a reviewer letting it go), the classifier's verdict with its features, the same
//! point made in another PR carrying a borderline comment over, the optional language model's
//! word on the rest of the borderline ones, and the kept comments grouped into candidates.

use super::tombstones::{signature_tombstoned, tombstoned};
use super::{Candidate, Explained, Report, Row, title_of};
use crate::classify::features::{Hit, SAID_ELSEWHERE, THRESHOLD};
use crate::classify::{self, CommentFacts, Judgement, Thread, Verdict};
use crate::cluster::{self, Point};
use crate::kinds::TombstoneKind;
use rusqlite::Connection;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What the rest of each comment's thread did with it: replies by the PR author (agreed,
/// pushed back) and by the comment's own author (took it back, let it go).
fn threads(rows: &[Row]) -> Vec<(bool, Thread)> {
    let mut by_thread: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if let Some(t) = &r.thread {
            by_thread.entry(t.as_str()).or_default().push(i);
        }
    }
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let mut thread = Thread::default();
            let mut retracted = false;
            let later = r
                .thread
                .as_deref()
                .and_then(|t| by_thread.get(t))
                .map(|v| v.iter().filter(|&&j| j > i).copied().collect::<Vec<_>>())
                .unwrap_or_default();
            for j in later {
                let reply = &rows[j];
                let same_author = reply.author.is_some() && reply.author == r.author;
                if same_author && classify::is_retraction(&reply.body) {
                    retracted = true;
                }
                classify::read_reply(&mut thread, &reply.body, reply.is_pr_author, same_author);
            }
            (retracted && !classify::is_retraction(&r.body), thread)
        })
        .collect()
}

/// Every comment judged (tombstoned, retracted, kept or dropped with its reason); the kept ones
/// grouped per repository into candidates making the same point. A comment just below the
/// threshold is kept when another PR of its repository made the same point.
pub(super) fn classify_and_cluster(
    conn: &Connection,
    rows: Vec<Row>,
    report: &mut Report,
    explain: bool,
    llm: Option<&mut crate::llm::Llm>,
) -> rusqlite::Result<BTreeMap<String, Vec<Candidate>>> {
    let facts = threads(&rows);
    let mut judged: Vec<(Row, Judgement)> = Vec::new();
    for (r, (retracted, thread)) in rows.into_iter().zip(facts) {
        if tombstoned(
            conn,
            TombstoneKind::Comment,
            &r.repo,
            &format!("{}:{}", r.source, r.id),
        )? {
            report.tombstoned += 1;
            continue;
        }
        let j = classify::judge(&CommentFacts {
            body: &r.body,
            is_bot: r.is_bot,
            is_pr_author: r.is_pr_author,
            retracted,
            path: r.path.as_deref(),
            thread,
        });
        judged.push((r, j));
    }
    promote_said_elsewhere(&mut judged);
    if let Some(llm) = llm {
        confirm_borderline(&mut judged, llm);
    }
    let mut by_repo: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
    for (r, j) in judged {
        let (statement, reason) = match &j.verdict {
            Verdict::Keep { statement, reason } => (statement.clone(), reason.clone()),
            Verdict::Drop { reason } => {
                *report.dropped.entry(reason.clone()).or_default() += 1;
                if explain {
                    report.explained.push(explained(&r, &j, None));
                }
                continue;
            }
        };
        if signature_tombstoned(conn, &r.repo, &statement)? {
            report.tombstoned += 1;
            continue;
        }
        if explain {
            report.explained.push(explained(&r, &j, Some(&statement)));
        }
        report.kept += 1;
        let point = Point::of(&format!("{statement} {}", code_spans(&r.body)));
        let list = by_repo.entry(r.repo.clone()).or_default();
        let best = list
            .iter_mut()
            .filter_map(|c| cluster::same_point(&c.point, &point).map(|s| (s, c)))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, c)| c);
        match best {
            Some(c) => c.rows.push((r, reason)),
            None => list.push(Candidate {
                id: None,
                repo: r.repo.clone(),
                title: title_of(&statement),
                tokens: cluster::tokens(&statement),
                statement,
                reason: reason.clone(),
                globs: Vec::new(),
                confidence: 0.0,
                evidence: 0,
                reviewers: 0,
                new: true,
                point,
                rows: vec![(r, reason)],
            }),
        }
    }
    Ok(by_repo)
}

/// The code spans of a comment (`like_this`), which clustering compares as identifiers.
fn code_spans(body: &str) -> String {
    body.split('`')
        .enumerate()
        .filter(|(i, s)| i % 2 == 1 && !s.contains('\n'))
        .map(|(_, s)| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A comment just below the threshold whose point another PR of the same repository made too
/// (kept or itself borderline) gains [`SAID_ELSEWHERE`] and is kept. The kept and borderline
/// comments are grouped once per repository (each joins the group whose first point it matches
/// best), so this stays linear in the comments times the groups.
fn promote_said_elsewhere(judged: &mut [(Row, Judgement)]) {
    struct Group {
        repo: String,
        point: Point,
        prs: BTreeSet<i64>,
        members: Vec<usize>,
    }
    let mut groups: Vec<Group> = Vec::new();
    for (i, (r, j)) in judged.iter().enumerate() {
        let statement = match (&j.verdict, &j.borderline) {
            (Verdict::Keep { statement, .. }, _) | (_, Some(statement)) => statement,
            _ => continue,
        };
        let p = Point::of(&format!("{statement} {}", code_spans(&r.body)));
        let best = groups
            .iter_mut()
            .filter(|g| g.repo == r.repo)
            .filter_map(|g| cluster::same_point(&g.point, &p).map(|s| (s, g)))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, g)| g);
        match best {
            Some(g) => {
                g.prs.insert(r.pr);
                g.members.push(i);
            }
            None => groups.push(Group {
                repo: r.repo.clone(),
                point: p,
                prs: BTreeSet::from([r.pr]),
                members: vec![i],
            }),
        }
    }
    for g in groups.iter().filter(|g| g.prs.len() > 1) {
        for &i in &g.members {
            let j = &mut judged[i].1;
            let Some(statement) = j.borderline.take() else {
                continue;
            };
            j.hits.push(Hit {
                name: "the same point was made in another PR",
                weight: SAID_ELSEWHERE,
            });
            j.score = ((j.score + SAID_ELSEWHERE) * 100.0).round() / 100.0;
            j.verdict = Verdict::Keep {
                statement,
                reason: "the same point was made in another PR".into(),
            };
        }
    }
}

/// The language model's word on each comment still just below the threshold: confirmed ones
/// are kept with its statement; anything else leaves the verdict as it was.
fn confirm_borderline(judged: &mut [(Row, Judgement)], llm: &mut crate::llm::Llm) {
    for (r, j) in judged.iter_mut() {
        let Some(draft) = j.borderline.clone() else {
            continue;
        };
        match llm.ask(&r.body, r.path.as_deref(), &draft) {
            Some(crate::llm::Answer::Convention { statement, .. }) => {
                llm.stats.confirmed += 1;
                j.hits.push(Hit {
                    name: "confirmed by the language model",
                    weight: THRESHOLD - j.score,
                });
                j.score = THRESHOLD;
                j.borderline = None;
                j.verdict = Verdict::Keep {
                    statement,
                    reason: format!("confirmed by {}", llm.stats.model),
                };
            }
            Some(crate::llm::Answer::NotConvention) => llm.stats.declined += 1,
            None => {}
        }
    }
}

fn explained(r: &Row, j: &Judgement, statement: Option<&str>) -> Explained {
    Explained {
        comment: format!("{}:{}", r.source, r.id),
        pr: r.pr,
        url: r.url.clone(),
        path: r.path.clone(),
        excerpt: r.body.chars().take(160).collect(),
        kept: statement.is_some(),
        score: j.score,
        threshold: THRESHOLD,
        reason: match &j.verdict {
            Verdict::Keep { reason, .. } | Verdict::Drop { reason } => reason.clone(),
        },
        statement: statement.map(str::to_string),
        features: j.hits.clone(),
    }
}
