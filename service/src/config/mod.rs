//! Settings, read from the environment by the binary and built in code by tests and the demo.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::egress::PushHosts;
pub use crate::store::{DbLocation, DbSettings};
use crate::vapid::VapidSubject;

mod error;
mod parse;
mod settings;

pub use error::ConfigError;
pub(crate) use parse::checked_url;
use parse::*;
pub use settings::*;

const LOG_FORMAT: &str = "USERNOTIFY_LOG_FORMAT";
const VAPID_SUBJECT: &str = "USERNOTIFY_VAPID_SUBJECT";
const JWT_ISSUER: &str = "USERNOTIFY_JWT_ISSUER";
const JWT_AUDIENCE: &str = "USERNOTIFY_JWT_AUDIENCE";
const JWKS_URL: &str = "USERNOTIFY_JWKS_URL";
const JWT_USER_CLAIM: &str = "USERNOTIFY_JWT_USER_CLAIM";
const SHUTDOWN_GRACE: &str = "USERNOTIFY_SHUTDOWN_GRACE_SECONDS";
const DECLARATIVE_PUSH: &str = "USERNOTIFY_DECLARATIVE_PUSH";
const TOKENS: &str = "USERNOTIFY_TOKENS";
const PUSH_HOSTS: &str = "USERNOTIFY_PUSH_HOSTS";
const MAX_CONNECTIONS: &str = "USERNOTIFY_MAX_CONNECTIONS";
const HEADER_TIMEOUT: &str = "USERNOTIFY_HEADER_TIMEOUT_SECONDS";
const PUBLIC_URL: &str = "USERNOTIFY_PUBLIC_URL";
const CORS_ORIGINS: &str = "USERNOTIFY_CORS_ORIGINS";

/// Everything the service needs to run. `Debug` never prints the tokens.
#[derive(Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    /// `USERNOTIFY_DB`: a SQLite file, or a `postgres://` URL.
    pub db: DbLocation,
    pub db_settings: DbSettings,
    pub tokens: Vec<TokenEntry>,
    pub blocked_callers: HashSet<String>,
    /// Requests per minute per caller; 0 turns the limit off.
    pub rate_per_minute: u32,
    /// What one user may store or hold open.
    pub limits: UserLimits,
    /// Lets `http://127.0.0.1…` and `http://[::1]…` push endpoints register, and pushes
    /// go to loopback addresses (tests only); nothing else private.
    pub allow_loopback_push: bool,
    /// The hosts push endpoints may name (`USERNOTIFY_PUSH_HOSTS`): by default the
    /// browsers' push services.
    pub push_hosts: PushHosts,
    /// VAPID `sub` claim (`mailto:` or `https:`); required: the service does not start
    /// without one (Apple's push service refuses every push that lacks it).
    pub vapid_subject: Option<VapidSubject>,
    /// Bearer JWTs from an OpenID Connect provider, beside (or instead of) `tokens`.
    pub oidc: Option<OidcSettings>,
    pub log_format: LogFormat,
    /// Base of `Location` and `@odata.context`; else `http://` + the request's `Host`.
    pub public_url: Option<String>,
    /// Static directories served beside the API (the demo page, the `pkg/` files).
    pub static_dirs: Vec<StaticDir>,
    /// Origins whose pages may call the API from another origin (CORS); empty: none; `*`:
    /// any origin (without credentials: the API takes bearer tokens, never cookies).
    pub cors_origins: Vec<String>,
    /// `make demo`: print a ready-to-paste `curl` (with the caller's token) to stdout each
    /// time a browser subscribes. Never on outside the demo: it prints a bearer token.
    pub demo_curl: bool,
    pub delivery: DeliverySettings,
    pub connections: ConnectionSettings,
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
            .field("db", &self.db)
            .field("db_settings", &self.db_settings)
            .field("token_users", &users)
            .field("blocked_callers", &self.blocked_callers)
            .field("rate_per_minute", &self.rate_per_minute)
            .field("limits", &self.limits)
            .field("allow_loopback_push", &self.allow_loopback_push)
            .field("push_hosts", &self.push_hosts)
            .field("demo_curl", &self.demo_curl)
            .field("vapid_subject", &self.vapid_subject)
            .field("oidc", &self.oidc)
            .field("log_format", &self.log_format)
            .field("public_url", &self.public_url)
            .field("static_dirs", &self.static_dirs)
            .field("cors_origins", &self.cors_origins)
            .field("delivery", &self.delivery)
            .field("connections", &self.connections)
            .finish()
    }
}

impl Config {
    /// Defaults for everything but the database (a SQLite path or a `postgres://` URL); no
    /// tokens, so every `/me` call is 401.
    pub fn new(db: impl Into<DbLocation>) -> Config {
        Config {
            host: "127.0.0.1".to_owned(),
            port: 8080,
            db: db.into(),
            db_settings: DbSettings::default(),
            tokens: Vec::new(),
            blocked_callers: HashSet::new(),
            rate_per_minute: 600,
            limits: UserLimits::default(),
            allow_loopback_push: false,
            push_hosts: PushHosts::default(),
            demo_curl: false,
            vapid_subject: None,
            oidc: None,
            log_format: LogFormat::Text,
            public_url: None,
            static_dirs: Vec::new(),
            cors_origins: Vec::new(),
            delivery: DeliverySettings::default(),
            connections: ConnectionSettings::default(),
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

    /// Sets the VAPID subject (builder style); `None` if it is not a `mailto:` or `https:` URI.
    pub fn with_vapid_subject(mut self, subject: &str) -> Option<Config> {
        self.vapid_subject = Some(VapidSubject::parse(subject)?);
        Some(self)
    }

    /// Reads the process environment (CONTRACT §3 and §5 "Settings").
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
        if let Some(tokens) = var(TOKENS) {
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
        if let Some(pool) = present("USERNOTIFY_DB_POOL") {
            config.db_settings.max_connections = positive("USERNOTIFY_DB_POOL", &pool)?;
        }
        if let Some(lease) = present("USERNOTIFY_DELIVERY_LEASE_SECS") {
            config.delivery.lease = Duration::from_secs(u64::from(positive(
                "USERNOTIFY_DELIVERY_LEASE_SECS",
                &lease,
            )?));
        }
        read_limits(&present, &mut config)?;
        if let Some(flag) = var("USERNOTIFY_ALLOW_LOOPBACK_PUSH") {
            config.allow_loopback_push = parse_flag("USERNOTIFY_ALLOW_LOOPBACK_PUSH", &flag)?;
        }
        if let Some(flag) = var("USERNOTIFY_DEMO_CURL") {
            config.demo_curl = parse_flag("USERNOTIFY_DEMO_CURL", &flag)?;
        }
        let subject = present(VAPID_SUBJECT).ok_or_else(ConfigError::missing_vapid_subject)?;
        config.vapid_subject =
            Some(VapidSubject::parse(&subject).ok_or(ConfigError::InvalidVapidSubject(subject))?);
        config.oidc = read_oidc(&present)?;
        config.log_format = LogFormat::from_vars(&var)?;
        if let Some(grace) = present(SHUTDOWN_GRACE) {
            config.delivery.shutdown_grace =
                Duration::from_secs(grace.trim().parse().map_err(|_| {
                    ConfigError::InvalidNumber {
                        name: SHUTDOWN_GRACE,
                        value: grace.clone(),
                    }
                })?);
        }
        if let Some(flag) = present(DECLARATIVE_PUSH) {
            config.delivery.declarative_push = parse_flag(DECLARATIVE_PUSH, &flag)?;
        }
        if let Some(url) = present(PUBLIC_URL) {
            config.public_url = Some(parse_public_url(&url)?);
        }
        if let Some(origins) = var(CORS_ORIGINS) {
            config.cors_origins = split_list(&origins)
                .map(parse_origin)
                .collect::<Result<_, _>>()?;
        }
        if let Some(hosts) = present(PUSH_HOSTS) {
            config.push_hosts = PushHosts::parse(&hosts).map_err(|item| ConfigError::InvalidItem {
                name: PUSH_HOSTS,
                item,
                expected: "a host name, *.suffix, default (the browsers' push services) or * (any public host)",
            })?;
        }
        if let Some(max) = present(MAX_CONNECTIONS) {
            config.connections.max = positive(MAX_CONNECTIONS, &max)? as usize;
        }
        if let Some(seconds) = present(HEADER_TIMEOUT) {
            config.connections.header_timeout =
                Duration::from_secs(u64::from(positive(HEADER_TIMEOUT, &seconds)?));
        }
        if let Some(dirs) = var("USERNOTIFY_STATIC") {
            config.static_dirs = parse_static_dirs(&dirs)?;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests;
