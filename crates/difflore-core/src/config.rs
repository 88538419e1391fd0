//! `config.toml` under `DIFFLORE_HOME`: capture and serving policy, and the environment kill
//! switches (`DIFFLORE_CAPTURE`, `DIFFLORE_SERVE`) that override it (DESIGN §9).

use serde::Deserialize;
use std::path::Path;

/// The whole file; every section and key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub capture: CaptureConfig,
    pub serving: ServingConfig,
    pub server: Option<ServerConfig>,
    pub daemon: DaemonConfig,
    pub extract: ExtractConfig,
}

/// `[extract]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExtractConfig {
    /// `[extract.llm]`: an optional language-model pass.
    pub llm: Option<LlmConfig>,
}

/// `[extract.llm]`: an OpenAI-compatible chat endpoint (Ollama, llama.cpp's server, a hosted
/// API) that confirms borderline verdicts and writes candidates' statements. Off unless
/// `enabled = true`; it never activates a rule, and whenever it fails or its answer does not
/// validate, the deterministic result stands.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    #[serde(default)]
    pub enabled: bool,
    /// The API's base URL, up to `/v1` (`http://127.0.0.1:11434/v1`).
    pub endpoint: String,
    pub model: String,
    /// The environment variable holding the API key (none for a local server).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Per request, 100–120 000 ms.
    #[serde(default = "llm_timeout_ms")]
    pub timeout_ms: u64,
    /// Most requests per extraction run, 1–10 000.
    #[serde(default = "llm_max_calls")]
    pub max_calls: u32,
}

fn llm_timeout_ms() -> u64 {
    15_000
}

fn llm_max_calls() -> u32 {
    100
}

/// `[capture]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptureConfig {
    /// Record agent events at all (the env `DIFFLORE_CAPTURE=off` wins).
    pub enabled: bool,
    /// Also store prompts, file contents, diffs, commands and tool output (redacted, truncated).
    /// Off by default: only names, paths and sizes are recorded.
    pub content: bool,
    /// Most rows the outbox holds; further events are counted as dropped.
    pub queue_cap: i64,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            enabled: true,
            content: false,
            queue_cap: crate::outbox::DEFAULT_CAP,
        }
    }
}

/// `serving.mode`: what the hooks do with the rules that apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum ServingMode {
    /// Tell the agent (the default).
    #[default]
    Context,
    /// Tell it, and hold an edit back when an `enforce` rule applies.
    Gate,
    /// Serve nothing (capture goes on).
    Off,
}

impl ServingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ServingMode::Context => "context",
            ServingMode::Gate => "gate",
            ServingMode::Off => "off",
        }
    }
}

impl TryFrom<String> for ServingMode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "context" => Ok(ServingMode::Context),
            "gate" => Ok(ServingMode::Gate),
            "off" => Ok(ServingMode::Off),
            _ => Err(format!(
                "serving.mode = {s:?}: expected \"context\", \"gate\" or \"off\""
            )),
        }
    }
}

/// `[serving]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServingConfig {
    pub mode: ServingMode,
    /// Approximate tokens of rule text one hook answer may carry (default 1 000).
    pub token_budget: usize,
}

impl Default for ServingConfig {
    fn default() -> Self {
        ServingConfig {
            mode: ServingMode::Context,
            token_budget: 1000,
        }
    }
}

/// A whole number checked against a range when it is read (config file or command line), so
/// nothing downstream clamps it again.
macro_rules! bounded {
    ($(#[$doc:meta])* $name:ident: $ty:ty, $lo:expr, $hi:expr, $default:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
        #[serde(try_from = "i64")]
        pub struct $name($ty);

        impl $name {
            pub const MIN: $ty = $lo;
            pub const MAX: $ty = $hi;
            pub fn get(self) -> $ty {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name($default)
            }
        }

        impl TryFrom<i64> for $name {
            type Error = String;
            fn try_from(v: i64) -> Result<Self, String> {
                if (Self::MIN as i64..=Self::MAX as i64).contains(&v) {
                    Ok($name(v as $ty))
                } else {
                    Err(format!("{} must be {}–{} (got {v})", $what, Self::MIN, Self::MAX))
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let v: i64 = s
                    .trim()
                    .parse()
                    .map_err(|_| format!("{} must be a whole number, not {s:?}", $what))?;
                $name::try_from(v)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

bounded!(
    /// Most events per request to the server.
    BatchSize: usize, 1, difflore_proto::MAX_EVENTS_PER_REQUEST, 500, "batch size"
);
bounded!(
    /// How often an idle daemon looks for new events, in milliseconds.
    PollMs: u64, 10, 10_000, 250, "poll interval (ms)"
);

bounded!(
    /// How often the daemon pulls the team's rules, in seconds.
    PullInterval: u64, 5, 86_400, 60, "pull interval (s)"
);

/// `[daemon]`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonConfig {
    pub batch_size: BatchSize,
    pub poll_ms: PollMs,
    pub pull_interval: PullInterval,
}

/// `[server]` (written by `sync login`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub url: String,
    #[serde(default)]
    pub ca_cert: Option<String>,
    #[serde(default)]
    pub insecure: bool,
}

/// Why config.toml could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {detail}")]
pub struct ConfigError {
    pub path: String,
    pub detail: String,
}

impl Config {
    /// Reads the file; a missing file is the default configuration.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => {
                return Err(ConfigError {
                    path: path.display().to_string(),
                    detail: e.to_string(),
                });
            }
        };
        let cfg: Config = toml::from_str(&text).map_err(|e| ConfigError {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        if cfg.capture.queue_cap < 1 {
            return Err(ConfigError {
                path: path.display().to_string(),
                detail: "capture.queue_cap must be at least 1".into(),
            });
        }
        if let Some(l) = &cfg.extract.llm {
            let bad = if !(l.endpoint.starts_with("http://") || l.endpoint.starts_with("https://"))
            {
                Some(format!(
                    "extract.llm.endpoint {:?} must be an http(s) URL",
                    l.endpoint
                ))
            } else if l.model.trim().is_empty() {
                Some("extract.llm.model must not be empty".to_string())
            } else if !(100..=120_000).contains(&l.timeout_ms) {
                Some("extract.llm.timeout_ms must be 100–120000".to_string())
            } else if !(1..=10_000).contains(&l.max_calls) {
                Some("extract.llm.max_calls must be 1–10000".to_string())
            } else {
                None
            };
            if let Some(detail) = bad {
                return Err(ConfigError {
                    path: path.display().to_string(),
                    detail,
                });
            }
        }
        Ok(cfg)
    }
}

/// `true` when an environment value is one of the falsy spellings `0|false|off|no` (any case).
pub fn is_falsy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "0" | "false" | "off" | "no"
    )
}

impl Config {
    /// Capture is on: neither `DIFFLORE_CAPTURE` nor `[capture] enabled` turns it off.
    pub fn capture_on(&self) -> bool {
        switch_on("DIFFLORE_CAPTURE") && self.capture.enabled
    }
}

/// `false` when the environment variable `name` holds a falsy spelling.
pub fn switch_on(name: &str) -> bool {
    std::env::var(name).map_or(true, |v| !is_falsy(&v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falsy_spellings() {
        for v in ["0", "false", "OFF", "No", " off "] {
            assert!(is_falsy(v), "{v}");
        }
        for v in ["1", "on", "yes", "", "disabled"] {
            assert!(!is_falsy(v), "{v}");
        }
    }

    #[test]
    fn loads_defaults_and_rejects_nonsense() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("config.toml");
        let c = Config::load(&p).unwrap();
        assert!(c.capture.enabled && !c.capture.content);
        std::fs::write(&p, "[capture]\ncontent = true\nqueue_cap = 5\n").unwrap();
        let c = Config::load(&p).unwrap();
        assert!(c.capture.content);
        assert_eq!(c.capture.queue_cap, 5);
        std::fs::write(&p, "[serving]\nmode = \"loud\"\n").unwrap();
        assert!(
            Config::load(&p)
                .unwrap_err()
                .to_string()
                .contains("serving.mode")
        );
        std::fs::write(&p, "[capture\n").unwrap();
        assert!(Config::load(&p).is_err());
        std::fs::write(
            &p,
            "[extract.llm]\nenabled = true\nendpoint = \"http://127.0.0.1:11434/v1\"\nmodel = \"m\"\n",
        )
        .unwrap();
        let c = Config::load(&p).unwrap();
        let l = c.extract.llm.unwrap();
        assert!(l.enabled && l.timeout_ms == 15_000 && l.max_calls == 100);
        std::fs::write(&p, "[extract.llm]\nendpoint = \"ftp://x\"\nmodel = \"m\"\n").unwrap();
        assert!(
            Config::load(&p)
                .unwrap_err()
                .to_string()
                .contains("extract.llm.endpoint")
        );
        std::fs::write(
            &p,
            "[extract.llm]\nendpoint = \"http://x\"\nmodel = \"m\"\ntimeout_ms = 5\n",
        )
        .unwrap();
        assert!(
            Config::load(&p)
                .unwrap_err()
                .to_string()
                .contains("timeout_ms")
        );
    }
}
