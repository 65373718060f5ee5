//! Settings, read from the environment by the binary and built in code by tests and the demo.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A bearer token and the user it names ("me").
#[derive(Clone, PartialEq, Eq)]
pub struct TokenEntry {
    pub token: String,
    pub user: String,
}

/// A directory served as static files under `mount` (e.g. `/` for the demo page, `/pkg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticDir {
    pub mount: String,
    pub dir: PathBuf,
}

/// How the background worker delivers pushes. Defaults suit production; tests shorten them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverySettings {
    /// False keeps deliveries queued in SQLite without sending them (restart tests, tools).
    pub run_worker: bool,
    /// The longest the worker sleeps before looking for due deliveries again.
    pub poll_interval: Duration,
    /// Whole-request time limit for one push (connect included).
    pub request_timeout: Duration,
    /// First retry delay when the push service gave no `Retry-After`; doubles per attempt.
    pub backoff_base: Duration,
    /// Cap on the exponential delay.
    pub backoff_max: Duration,
    /// Attempts before a delivery that keeps failing transiently is given up.
    pub max_attempts: u32,
    /// Pushes in flight at once: the worker's pool of send tasks, refilled as each one
    /// finishes. Also the most pushes a crash can make it send twice.
    pub batch: usize,
}

impl Default for DeliverySettings {
    fn default() -> DeliverySettings {
        DeliverySettings {
            run_worker: true,
            poll_interval: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(3600),
            max_attempts: 12,
            batch: 64,
        }
    }
}

/// Everything the service needs to run. `Debug` never prints the tokens.
#[derive(Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub db_path: PathBuf,
    pub tokens: Vec<TokenEntry>,
    pub blocked_callers: HashSet<String>,
    /// Requests per minute per caller; 0 turns the limit off.
    pub rate_per_minute: u32,
    /// Lets `http://127.0.0.1…` and `http://[::1]…` push endpoints register (tests only).
    pub allow_loopback_push: bool,
    /// VAPID `sub` claim (`mailto:` or `https:`); Apple's push service requires one.
    pub vapid_subject: Option<String>,
    /// Base of `Location` and `@odata.context`; else `http://` + the request's `Host`.
    pub public_url: Option<String>,
    /// Static directories served beside the API (the demo page, the `pkg/` files).
    pub static_dirs: Vec<StaticDir>,
    /// Origins whose pages may call the API from another origin (CORS); empty: none.
    pub cors_origins: Vec<String>,
    /// `make demo`: print a ready-to-paste `curl` (with the caller's token) to stdout each
    /// time a browser subscribes. Never on outside the demo: it prints a bearer token.
    pub demo_curl: bool,
    pub delivery: DeliverySettings,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users: Vec<&str> = self
            .tokens
            .iter()
            .map(|entry| entry.user.as_str())
            .collect();
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("db_path", &self.db_path)
            .field("token_users", &users)
            .field("blocked_callers", &self.blocked_callers)
            .field("rate_per_minute", &self.rate_per_minute)
            .field("allow_loopback_push", &self.allow_loopback_push)
            .field("demo_curl", &self.demo_curl)
            .field("vapid_subject", &self.vapid_subject)
            .field("public_url", &self.public_url)
            .field("static_dirs", &self.static_dirs)
            .field("cors_origins", &self.cors_origins)
            .field("delivery", &self.delivery)
            .finish()
    }
}

/// A setting that could not be read; `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    InvalidPort(String),
    InvalidTokens,
    InvalidRate(String),
    InvalidFlag { name: &'static str, value: String },
    InvalidStaticDirs,
}

impl ConfigError {
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::InvalidPort(_) => "invalid-port",
            ConfigError::InvalidTokens => "invalid-tokens",
            ConfigError::InvalidRate(_) => "invalid-rate",
            ConfigError::InvalidFlag { .. } => "invalid-flag",
            ConfigError::InvalidStaticDirs => "invalid-static-dirs",
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::InvalidPort(value) => write!(f, "PORT is not a port number: {value:?}"),
            // Never echo the value: it holds secrets.
            ConfigError::InvalidTokens => {
                f.write_str("USERNOTIFY_TOKENS must be token:user pairs separated by commas")
            }
            ConfigError::InvalidRate(value) => write!(
                f,
                "USERNOTIFY_RATE_PER_MINUTE is not a whole number: {value:?}"
            ),
            ConfigError::InvalidFlag { name, value } => {
                write!(f, "{name} must be 1 or 0, not {value:?}")
            }
            ConfigError::InvalidStaticDirs => {
                f.write_str("USERNOTIFY_STATIC must be /mount=directory pairs separated by commas")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Defaults for everything but the database file; no tokens, so every `/me` call is 401.
    pub fn new(db_path: impl Into<PathBuf>) -> Config {
        Config {
            host: "127.0.0.1".to_owned(),
            port: 8080,
            db_path: db_path.into(),
            tokens: Vec::new(),
            blocked_callers: HashSet::new(),
            rate_per_minute: 600,
            allow_loopback_push: false,
            demo_curl: false,
            vapid_subject: None,
            public_url: None,
            static_dirs: Vec::new(),
            cors_origins: Vec::new(),
            delivery: DeliverySettings::default(),
        }
    }

    /// Adds a bearer token for `user` (builder style, for tests and embedding).
    pub fn with_token(mut self, token: &str, user: &str) -> Config {
        self.tokens.push(TokenEntry {
            token: token.to_owned(),
            user: user.to_owned(),
        });
        self
    }

    /// Reads the process environment (CONTRACT §3 "Settings").
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads settings through `var`, so parsing is testable without touching the environment.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let present = |name: &str| var(name).filter(|value| !value.trim().is_empty());
        let mut config =
            Config::new(present("USERNOTIFY_DB").unwrap_or_else(|| "./usernotify.db".to_owned()));
        if let Some(host) = present("HOST") {
            config.host = host.trim().to_owned();
        }
        if let Some(port) = present("PORT") {
            config.port = port
                .trim()
                .parse()
                .map_err(|_| ConfigError::InvalidPort(port.clone()))?;
        }
        if let Some(tokens) = var("USERNOTIFY_TOKENS") {
            config.tokens = parse_tokens(&tokens)?;
        }
        if let Some(blocked) = var("USERNOTIFY_BLOCKED_CALLERS") {
            config.blocked_callers = split_list(&blocked).map(str::to_owned).collect();
        }
        if let Some(rate) = present("USERNOTIFY_RATE_PER_MINUTE") {
            config.rate_per_minute = rate
                .trim()
                .parse()
                .map_err(|_| ConfigError::InvalidRate(rate.clone()))?;
        }
        if let Some(flag) = var("USERNOTIFY_ALLOW_LOOPBACK_PUSH") {
            config.allow_loopback_push = parse_flag("USERNOTIFY_ALLOW_LOOPBACK_PUSH", &flag)?;
        }
        if let Some(flag) = var("USERNOTIFY_DEMO_CURL") {
            config.demo_curl = parse_flag("USERNOTIFY_DEMO_CURL", &flag)?;
        }
        config.vapid_subject = present("USERNOTIFY_VAPID_SUBJECT").map(|s| s.trim().to_owned());
        config.public_url =
            present("USERNOTIFY_PUBLIC_URL").map(|url| url.trim().trim_end_matches('/').to_owned());
        if let Some(origins) = var("USERNOTIFY_CORS_ORIGINS") {
            config.cors_origins = split_list(&origins)
                .map(|origin| origin.trim_end_matches('/').to_owned())
                .collect();
        }
        if let Some(dirs) = var("USERNOTIFY_STATIC") {
            config.static_dirs = parse_static_dirs(&dirs)?;
        }
        Ok(config)
    }
}

fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// `token:user,...`; the user is after the last colon, so a token may contain colons.
fn parse_tokens(text: &str) -> Result<Vec<TokenEntry>, ConfigError> {
    split_list(text)
        .map(|pair| {
            let (token, user) = pair.rsplit_once(':').ok_or(ConfigError::InvalidTokens)?;
            let (token, user) = (token.trim(), user.trim());
            if token.is_empty() || user.is_empty() {
                return Err(ConfigError::InvalidTokens);
            }
            Ok(TokenEntry {
                token: token.to_owned(),
                user: user.to_owned(),
            })
        })
        .collect()
}

fn parse_flag(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "" | "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::InvalidFlag {
            name,
            value: value.to_owned(),
        }),
    }
}

/// `/mount=dir,...`, e.g. `/=www,/pkg=pkg`.
fn parse_static_dirs(text: &str) -> Result<Vec<StaticDir>, ConfigError> {
    split_list(text)
        .map(|pair| {
            let (mount, dir) = pair.split_once('=').ok_or(ConfigError::InvalidStaticDirs)?;
            let mount = mount.trim();
            if !mount.starts_with('/') || dir.trim().is_empty() {
                return Err(ConfigError::InvalidStaticDirs);
            }
            Ok(StaticDir {
                mount: mount.to_owned(),
                dir: PathBuf::from(dir.trim()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        Config::from_vars(|name| map.get(name).cloned())
    }

    #[test]
    fn an_empty_environment_gives_the_contract_defaults() {
        let config = read(&[]).unwrap();
        assert_eq!(config.host, "127.0.0.1");
        assert_eq!(config.port, 8080);
        assert_eq!(config.db_path, PathBuf::from("./usernotify.db"));
        assert_eq!(config.rate_per_minute, 600);
        assert!(!config.allow_loopback_push);
        assert!(config.tokens.is_empty());
    }

    #[test]
    fn tokens_blocked_callers_and_flags_are_read() {
        let config = read(&[
            ("USERNOTIFY_TOKENS", "abc:alice, x:y:bob"),
            ("USERNOTIFY_BLOCKED_CALLERS", "mallory,,eve"),
            ("USERNOTIFY_ALLOW_LOOPBACK_PUSH", "1"),
            ("USERNOTIFY_RATE_PER_MINUTE", "5"),
            ("PORT", "9000"),
        ])
        .unwrap();
        assert_eq!(config.tokens.len(), 2);
        assert_eq!(config.tokens[1].token, "x:y");
        assert_eq!(config.tokens[1].user, "bob");
        assert!(config.blocked_callers.contains("eve"));
        assert_eq!(config.blocked_callers.len(), 2);
        assert!(config.allow_loopback_push);
        assert_eq!(config.rate_per_minute, 5);
        assert_eq!(config.port, 9000);
    }

    #[test]
    fn a_bad_token_list_is_refused_without_echoing_it() {
        let error = read(&[("USERNOTIFY_TOKENS", "secret-without-user")]).unwrap_err();
        assert_eq!(error.code(), "invalid-tokens");
        assert!(!error.to_string().contains("secret"));
    }

    #[test]
    fn debug_output_hides_tokens() {
        let config = Config::new("x.db").with_token("s3cret", "alice");
        let text = format!("{config:?}");
        assert!(!text.contains("s3cret"));
        assert!(text.contains("alice"));
    }

    #[test]
    fn static_dirs_are_mount_equals_directory_pairs() {
        let config = read(&[("USERNOTIFY_STATIC", "/=www,/pkg=pkg")]).unwrap();
        assert_eq!(config.static_dirs.len(), 2);
        assert_eq!(config.static_dirs[1].mount, "/pkg");
        assert!(read(&[("USERNOTIFY_STATIC", "www")]).is_err());
    }
}
