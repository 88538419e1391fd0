//! `difflore import github|gitlab|file`: argument handling, token discovery, progress and the
//! summary; the importing itself is `difflore-import`.

use crate::cli::{ImportCommand, ImportCommon};
use crate::context::home;
use crate::render;
use anyhow::{Context, bail};
use difflore_core::{repo, store};
use difflore_import::http::Http;
use difflore_import::{ImportError, Options, Progress, Summary, file, github, gitlab};

/// A bar on a terminal; plain lines on stderr otherwise; nothing with `--json` but notices.
struct Bar {
    pb: indicatif::ProgressBar,
    visible: bool,
}

impl Bar {
    fn new(json: bool) -> Bar {
        let visible = !json && std::io::IsTerminal::is_terminal(&std::io::stderr());
        let pb = if visible {
            indicatif::ProgressBar::new_spinner()
        } else {
            indicatif::ProgressBar::hidden()
        };
        if let Ok(st) =
            indicatif::ProgressStyle::with_template("{spinner} {msg}: {pos} ({per_sec})")
        {
            pb.set_style(st);
        }
        Bar { pb, visible }
    }
}

impl Progress for Bar {
    fn phase(&mut self, name: &str, len: Option<u64>) {
        self.pb.set_position(0);
        self.pb.set_length(len.unwrap_or(0));
        self.pb.set_message(name.to_string());
    }
    fn inc(&mut self, n: u64) {
        self.pb.inc(n);
    }
    fn notice(&mut self, msg: &str) {
        if self.visible {
            self.pb.println(msg);
        } else {
            eprintln!("{msg}");
        }
    }
}

fn options(c: &ImportCommon) -> anyhow::Result<Options> {
    Ok(Options {
        since: c
            .since
            .as_deref()
            .map(difflore_import::parse_since)
            .transpose()?,
        max_prs: match c.max_prs {
            Some(0) => bail!("--max-prs must be at least 1"),
            m => m,
        },
        dry_run: c.dry_run,
    })
}

fn env_token(names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| {
        std::env::var(n)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    })
}

fn gh_cli_token() -> Option<String> {
    let out = std::process::Command::new("gh")
        .args(["auth", "token"])
        .output()
        .ok()?;
    let t = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !t.is_empty()).then_some(t)
}

fn host_of_api(api: &str) -> anyhow::Result<String> {
    let rest = api
        .split_once("://")
        .map(|(_, r)| r)
        .with_context(|| format!("--api-url {api:?} is not a URL"))?;
    let host = rest.split('/').next().unwrap_or("").to_ascii_lowercase();
    let host = host
        .rsplit_once(':')
        .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
        .map_or(host.clone(), |(h, _)| h.to_string());
    if host.is_empty() {
        bail!("--api-url {api:?} has no host");
    }
    Ok(if host == "api.github.com" {
        "github.com".into()
    } else {
        host
    })
}

/// OWNER/REPO from the argument, else from the current checkout (whose host must match).
fn target(arg: Option<&str>, host: &str, what: &str) -> anyhow::Result<String> {
    if let Some(a) = arg {
        let a = a.trim().trim_matches('/');
        if a.split('/').count() < 2 || a.split('/').any(|s| s.is_empty() || s == "..") {
            bail!("{a:?} is not {what}");
        }
        return Ok(a.to_string());
    }
    let cwd = std::env::current_dir()?;
    let r =
        repo::discover(&cwd).with_context(|| format!("not inside a git checkout: pass {what}"))?;
    match r.key.split_once('/') {
        Some((h, path)) if h == host => Ok(path.to_string()),
        _ => bail!(
            "this checkout's remote is {}, not on {host}: pass {what} (or --api-url)",
            r.key
        ),
    }
}

/// The store, tuned for a bulk import: an interrupted import is resumed from its cursors, so
/// `synchronous=NORMAL` (durable across crashes in WAL mode, not across power loss) is enough.
fn open_store(home: &difflore_core::home::Home) -> anyhow::Result<rusqlite::Connection> {
    let conn = store::open_for_write(home)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn report(
    s: &Summary,
    json: bool,
    extract_after: bool,
    conn: &rusqlite::Connection,
) -> anyhow::Result<()> {
    let ex = if extract_after && !s.dry_run {
        let cfg = llm_config()?;
        let opts = difflore_rules::extract::Options {
            llm: cfg.as_ref(),
            ..Default::default()
        };
        Some(difflore_rules::extract::run_with(
            conn,
            Some(&s.repo),
            opts,
        )?)
    } else {
        None
    };
    let offered = match &ex {
        Some(_) => Some(offer(conn, Some(&s.repo))?),
        None => None,
    };
    let recurred = match &ex {
        Some(_) => Some(recur(conn, Some(&s.repo))?),
        None => None,
    };
    if json {
        let mut v = serde_json::to_value(s)?;
        if let Some(e) = &ex {
            v["extract"] = serde_json::json!({"kept": e.kept, "candidates_new": e.candidates_new, "candidates_updated": e.candidates_updated});
        }
        if let Some(n) = recurred {
            v["recurrences"] = serde_json::json!(n);
        }
        if let Some(o) = &offered {
            v["proposed"] = serde_json::to_value(o)?;
        }
        return render::json(&v);
    }
    if s.dry_run {
        let counted = s.would_import.iter().all(|p| p.comments.is_some());
        println!(
            "dry run: would import {}{} from {} ({} requests made; nothing stored)",
            plural(s.prs, "pull request"),
            if counted {
                format!(" and {}", plural(s.comments, "review comment"))
            } else {
                " (their discussions are not fetched in a dry run)".to_string()
            },
            s.repo,
            s.requests
        );
        const SHOWN: usize = 30;
        for p in s.would_import.iter().take(SHOWN) {
            let n = p.comments.map_or("?".to_string(), |n| n.to_string());
            println!("  #{:<6} {n:>4} comments  {}", p.number, p.title);
        }
        if s.would_import.len() > SHOWN {
            println!(
                "  … and {} more (--json lists all)",
                s.would_import.len() - SHOWN
            );
        }
    } else {
        println!(
            "imported {} and {} (new or updated) from {} ({} skipped, {}, {:.1} s)",
            plural(s.prs, "pull request"),
            plural(s.comments, "review comment"),
            s.repo,
            s.skipped,
            plural(s.requests, "request"),
            s.elapsed_s
        );
    }
    for r in &s.skipped_reasons {
        println!(
            "  skipped {:>5}  {} (e.g. {})",
            r.count, r.reason, r.example
        );
    }
    if let Some(e) = ex {
        println!(
            "extraction: {} of {} comments state a convention → {} new and {} updated candidate rules (all pending: nothing is active until a person approves it)",
            e.kept, e.comments, e.candidates_new, e.candidates_updated
        );
    }
    if let Some(o) = offered {
        print_offered(&o);
    }
    Ok(())
}

/// The imported comments that make an active rule's point again (of one repo, or all).
pub fn recur(conn: &rusqlite::Connection, repo: Option<&str>) -> anyhow::Result<usize> {
    let repos: Vec<String> = match repo {
        Some(r) => vec![r.to_string()],
        None => {
            let mut st = conn.prepare("SELECT DISTINCT repo FROM review_comments")?;
            st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
        }
    };
    let mut n = 0;
    for r in repos {
        n += difflore_rules::recurrence::match_comments(conn, &r)?;
    }
    if n > 0 {
        eprintln!(
            "{n} review comment(s) made an active rule's point again (see `difflore report`)"
        );
    }
    let home = home()?;
    difflore_rules::recurrence::offer(conn, &home, queue_cap(&home))?;
    Ok(n)
}

/// On a logged-in machine, the candidates go to the team's rulebook (queued for the daemon).
pub fn offer(
    conn: &rusqlite::Connection,
    repo: Option<&str>,
) -> anyhow::Result<difflore_rules::propose::Offered> {
    let home = home()?;
    Ok(difflore_rules::propose::offer_candidates(
        conn,
        &home,
        repo,
        queue_cap(&home),
    )?)
}

/// The outbox's cap from the configuration (its default when the file cannot be read).
fn queue_cap(home: &difflore_core::home::Home) -> i64 {
    difflore_core::config::Config::load(&home.config_path())
        .map(|c| c.capture.queue_cap)
        .unwrap_or(difflore_core::outbox::DEFAULT_CAP)
}

pub fn print_offered(o: &difflore_rules::propose::Offered) {
    if o.queued > 0 {
        println!(
            "proposed {} to the team's rulebook (queued; the daemon delivers them, a maintainer decides)",
            plural(o.queued, "candidate")
        );
    }
}

/// `[extract.llm]` from the configuration (`None` when absent or disabled).
pub fn llm_config() -> anyhow::Result<Option<difflore_core::config::LlmConfig>> {
    let cfg = difflore_core::config::Config::load(&home()?.config_path())?;
    Ok(cfg.extract.llm.filter(|l| l.enabled))
}

/// `difflore extract`'s switches.
pub struct ExtractFlags {
    pub dry_run: bool,
    pub explain: bool,
    pub no_llm: bool,
}

/// `difflore extract`.
pub fn extract(repo: Option<&str>, flags: ExtractFlags, json: bool) -> anyhow::Result<()> {
    let dry_run = flags.dry_run;
    let llm = if flags.no_llm { None } else { llm_config()? };
    let opts = difflore_rules::extract::Options {
        dry_run,
        explain: flags.explain,
        llm: llm.as_ref(),
    };
    let home = home()?;
    let conn = open_store(&home)?;
    let r = difflore_rules::extract::run_with(&conn, repo, opts)?;
    if let Some(l) = &r.llm
        && !json
    {
        print_llm(l);
    }
    let offered = if dry_run {
        None
    } else {
        Some(offer(&conn, repo)?)
    };
    let recurred = if dry_run {
        None
    } else {
        Some(recur(&conn, repo)?)
    };
    if json {
        let mut v = serde_json::to_value(&r)?;
        if let Some(n) = recurred {
            v["recurrences"] = serde_json::json!(n);
        }
        if let Some(o) = &offered {
            v["proposed"] = serde_json::to_value(o)?;
        }
        return render::json(&v);
    }
    if let Some(o) = &offered {
        print_offered(o);
    }
    println!(
        "{} comments read: {} state a convention, {} tombstoned, {} dropped",
        r.comments,
        r.kept,
        r.tombstoned,
        r.dropped.values().sum::<usize>()
    );
    for (why, n) in &r.dropped {
        println!("  dropped {n:>5}  {why}");
    }
    println!(
        "{}{} new and {} updated candidate rules (all pending)",
        if dry_run {
            "dry run: would propose "
        } else {
            ""
        },
        r.candidates_new,
        r.candidates_updated
    );
    for c in r.candidates.iter().take(20) {
        println!(
            "  {:.2}  {}  [{}]  {}",
            c.confidence,
            c.statement,
            c.globs.join(", "),
            c.reason
        );
    }
    if opts.explain {
        print_explained(&r.explained);
    }
    Ok(())
}

/// What the language-model pass did, in one or two lines.
fn print_llm(l: &difflore_rules::llm::LlmStats) {
    println!(
        "language model {}: {} request(s) — {} borderline comment(s) confirmed, {} declined, {} statement(s) written, {} failed{}",
        l.model,
        l.calls,
        l.confirmed,
        l.declined,
        l.rewritten,
        l.failed,
        if l.capped > 0 {
            format!(", {} not asked (extract.llm.max_calls reached)", l.capped)
        } else {
            String::new()
        }
    );
    if let Some(e) = &l.first_error {
        println!("  first failure: {e} (the deterministic result stood)");
    }
}

/// `extract --explain`: every comment, its score against the threshold and each feature.
fn print_explained(list: &[difflore_rules::extract::Explained]) {
    println!(
        "\nEvery comment, feature by feature (kept at a score of {:.1}):",
        difflore_rules::classify::features::THRESHOLD
    );
    for e in list {
        let excerpt: String = e
            .excerpt
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(100)
            .collect();
        println!(
            "{}  {:>5.2}  {}  {}  \"{}\"",
            if e.kept { "kept" } else { "drop" },
            e.score,
            e.comment,
            e.url.as_deref().or(e.path.as_deref()).unwrap_or(""),
            excerpt
        );
        for f in &e.features {
            println!("        {:+.2}  {}", f.weight, f.name);
        }
        match &e.statement {
            Some(s) => println!("        → {s}"),
            None => println!("        reason: {}", e.reason),
        }
    }
}

/// Runs an import; with `--json`, a failure is also one JSON object on stdout
/// (`{"schema_version":1,"error":{"kind","message"}}`) so scripts can read it.
pub fn run(cmd: ImportCommand) -> anyhow::Result<()> {
    let json = match &cmd {
        ImportCommand::Github { common, .. } | ImportCommand::Gitlab { common, .. } => common.json,
        ImportCommand::File { json, .. } => *json,
    };
    let r = run_import(cmd);
    if json && let Err(e) = &r {
        let kind = match e.downcast_ref::<ImportError>() {
            Some(ImportError::Auth(_)) => "auth",
            Some(ImportError::NotFound(_)) => "not_found",
            Some(ImportError::Http(_)) => "http",
            Some(ImportError::Invalid(_)) => "invalid",
            Some(ImportError::Db(_)) => "database",
            None => "other",
        };
        let _ = render::json(&serde_json::json!({
            "schema_version": 1,
            "error": {"kind": kind, "message": format!("{e:#}")},
        }));
    }
    r
}

fn run_import(cmd: ImportCommand) -> anyhow::Result<()> {
    let home = home()?;
    match cmd {
        ImportCommand::Github {
            repo: arg,
            api_url,
            common,
        } => {
            let opts = options(&common)?;
            let host = host_of_api(&api_url)?;
            let path = target(arg.as_deref(), &host, "OWNER/REPO")?;
            let token = env_token(&["GITHUB_TOKEN", "GH_TOKEN"]).or_else(gh_cli_token);
            let mut bar = Bar::new(common.json);
            if token.is_none() {
                bar.notice("no GITHUB_TOKEN / GH_TOKEN / `gh auth token`: importing anonymously (60 requests per hour, public repositories only)");
            }
            let mut http = Http::new(
                "GitHub",
                token.map(|t| ("Authorization".to_string(), format!("Bearer {t}"))),
            )
            .with_backoff_ms(retry_backoff_ms())
            .with_base(&api_url)?;
            let key = format!("{host}/{}", path.to_ascii_lowercase());
            let conn = open_store(&home)?;
            let s = github::import(&conn, &mut http, &api_url, &path, &key, &opts, &mut bar)?;
            bar.pb.finish_and_clear();
            report(&s, common.json, !common.no_extract, &conn)
        }
        ImportCommand::Gitlab {
            repo: arg,
            api_url,
            host,
            common,
        } => {
            let opts = options(&common)?;
            let api = match (api_url, host) {
                (Some(a), _) => a.trim_end_matches('/').to_string(),
                (None, Some(h)) => format!("https://{}/api/v4", h.trim().trim_end_matches('/')),
                (None, None) => "https://gitlab.com/api/v4".into(),
            };
            let h = host_of_api(&api)?;
            let path = target(arg.as_deref(), &h, "GROUP/PROJECT")?;
            let token = env_token(&["GITLAB_TOKEN"]);
            let mut bar = Bar::new(common.json);
            if token.is_none() {
                bar.notice("no GITLAB_TOKEN: importing anonymously (public projects only)");
            }
            let mut http = Http::new("GitLab", token.map(|t| ("PRIVATE-TOKEN".to_string(), t)))
                .with_backoff_ms(retry_backoff_ms())
                .with_base(&api)?;
            let key = format!("{h}/{}", path.to_ascii_lowercase());
            let conn = open_store(&home)?;
            let s = gitlab::import(&conn, &mut http, &api, &path, &key, &opts, &mut bar)?;
            bar.pb.finish_and_clear();
            report(&s, common.json, !common.no_extract, &conn)
        }
        ImportCommand::File {
            path,
            repo: key,
            dry_run,
            json,
            no_extract,
        } => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let parsed = file::parse(&text, key.as_deref()).with_context(|| {
                format!("{} is not a valid difflore import file", path.display())
            })?;
            if key.is_none()
                && let Some(here) = std::env::current_dir()
                    .ok()
                    .and_then(|d| repo::discover(&d))
                && here.key != parsed.repo
            {
                eprintln!(
                    "note: {} holds the review history of {}, but this is a checkout of {}: its rules will apply to {} only. To import it as this repository's history, run again with --repo {}",
                    path.display(),
                    parsed.repo,
                    here.key,
                    parsed.repo,
                    here.key
                );
            }
            let conn = open_store(&home)?;
            let s = file::store_all(&conn, &parsed, dry_run)?;
            report(&s, json, !no_extract, &conn)
        }
    }
}

/// The importer's first retry delay: 1 s, shortened by `DIFFLORE_TEST_IMPORT_BACKOFF_MS` for the
/// test suite (read here, at the edge, and passed in).
fn retry_backoff_ms() -> u64 {
    std::env::var("DIFFLORE_TEST_IMPORT_BACKOFF_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}
