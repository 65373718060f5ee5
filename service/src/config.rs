//! Settings, read from the environment by the binary and built in code by tests and the demo.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::egress::PushHosts;
pub use crate::store::{DbLocation, DbSettings};
use crate::vapid::VapidSubject;

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
    /// Time limit for connecting to a push service (TCP and TLS), shorter than
    /// `request_timeout`: an endpoint that does not even accept gives its sender back soon.
    pub connect_timeout: Duration,
    /// First retry delay when the push service gave no `Retry-After`; doubles per attempt.
    pub backoff_base: Duration,
    /// Cap on the exponential delay.
    pub backoff_max: Duration,
    /// Attempts before a delivery that keeps failing transiently is given up.
    pub max_attempts: u32,
    /// Pushes in flight at once: the worker's pool of send tasks, refilled as each one
    /// finishes. Also the most pushes a crash can make it send twice
    /// (`USERNOTIFY_PUSHES_IN_FLIGHT`). A real push service answers in 50-150 ms, so the
    /// pool bounds a process at about pool ÷ that: 256 gives some 2,500 pushes a second.
    pub batch: usize,
    /// Pushes in flight at once for one user's subscriptions, in this process
    /// (`USERNOTIFY_PUSHES_IN_FLIGHT_PER_USER`): the rest of the pool stays free for the
    /// other users, whatever one user's endpoints do.
    pub per_user: usize,
    /// Pushes in flight at once to one push host (`host:port`), in this process
    /// (`USERNOTIFY_PUSHES_IN_FLIGHT_PER_HOST`): a slow or hanging push service holds at most
    /// this many senders.
    pub per_host: usize,
    /// On SIGTERM, how long the requests and pushes in flight get to finish; pushes still
    /// unanswered then are abandoned and stay queued for the next start.
    pub shutdown_grace: Duration,
    /// How long a claimed delivery stays this process's (PostgreSQL): past it, another
    /// replica takes over a claim whose process died. Longer than `request_timeout`, so a
    /// live process always records its outcome first.
    pub lease: Duration,
    /// Pushes carry a Declarative Web Push message beside the resource
    /// (`USERNOTIFY_DECLARATIVE_PUSH`, on unless `0`).
    pub declarative_push: bool,
}

impl Default for DeliverySettings {
    fn default() -> DeliverySettings {
        DeliverySettings {
            run_worker: true,
            poll_interval: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(3600),
            max_attempts: 12,
            batch: 256,
            per_user: 64,
            per_host: 192,
            shutdown_grace: Duration::from_secs(10),
            lease: Duration::from_secs(60),
            declarative_push: true,
        }
    }
}

/// What one user can make the service store or hold open: every signed-in user may be an
/// attacker. Each is a setting (docs/service.md); the defaults suit people, not scripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserLimits {
    /// Push subscriptions (browsers) a user may register (`USERNOTIFY_MAX_SUBSCRIPTIONS_PER_USER`);
    /// one more is refused with 409 `subscription-limit`. Re-registering an endpoint
    /// refreshes it and is never refused; a subscription its push service said is gone no
    /// longer counts.
    pub subscriptions: usize,
    /// Notifications kept in a user's feed (`USERNOTIFY_MAX_NOTIFICATIONS_PER_USER`): a post
    /// beyond it is accepted and evicts the user's oldest, as a deletion every device hears.
    pub notifications: usize,
    /// Change streams (`GET /me/notifications/changes`) a user may hold open in one process
    /// (`USERNOTIFY_MAX_CHANGE_STREAMS_PER_USER`); one more is answered 429
    /// `too-many-change-streams`.
    pub change_streams: usize,
}

impl Default for UserLimits {
    fn default() -> UserLimits {
        UserLimits {
            subscriptions: 50,
            notifications: 1_000,
            change_streams: 8,
        }
    }
}

/// Bearer JWTs from the deployment's OpenID Connect provider (CONTRACT §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// `iss`, exactly as the provider writes it (Auth0's ends with `/`, Keycloak's does not).
    pub issuer: String,
    /// The `aud` a token must name: the API's identifier at the provider.
    pub audience: String,
    /// Where the keys are; `None`: the `jwks_uri` of the issuer's discovery document.
    pub jwks_url: Option<String>,
    /// The claim that names the user ("me").
    pub user_claim: String,
    /// The least time between two fetches of the keys (a token with an unknown `kid` asks
    /// for one), so forged `kid`s cannot make the service hammer the provider.
    pub refetch_interval: Duration,
    /// Keys fetched longer ago are fetched again on the next token, so a key the provider
    /// withdrew stops being accepted.
    pub keys_max_age: Duration,
}

impl OidcSettings {
    pub fn new(issuer: &str, audience: &str) -> OidcSettings {
        OidcSettings {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            jwks_url: None,
            user_claim: "sub".to_owned(),
            refetch_interval: Duration::from_secs(60),
            keys_max_age: Duration::from_secs(3600),
        }
    }
}

/// What one client may hold of the HTTP server. Defaults suit production.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// Connections served at once (`USERNOTIFY_MAX_CONNECTIONS`); past it the service
    /// accepts no more until one closes (they wait in the listen backlog). Lowered at start
    /// to fit the open-file limit.
    pub max: usize,
    /// How long a client has to send a request's headers, on a new connection and between
    /// the requests of a kept-alive one (`USERNOTIFY_HEADER_TIMEOUT_SECONDS`); then the
    /// connection is closed.
    pub header_timeout: Duration,
}

impl Default for ConnectionSettings {
    fn default() -> ConnectionSettings {
        ConnectionSettings {
            max: 10_000,
            header_timeout: Duration::from_secs(20),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (tracing-subscriber's default format).
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl LogFormat {
    /// `USERNOTIFY_LOG_FORMAT` through `var` (read before the rest, to report their errors).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<LogFormat, ConfigError> {
        match var(LOG_FORMAT)
            .map(|value| value.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("") | Some("text") => Ok(LogFormat::Text),
            Some("json") => Ok(LogFormat::Json),
            Some(other) => Err(ConfigError::InvalidChoice {
                name: LOG_FORMAT,
                value: other.to_owned(),
                choices: "text or json",
            }),
        }
    }
}

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

/// A setting that could not be read; `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    InvalidPort(String),
    InvalidTokens,
    /// A static token's user name could be taken for a JWT user's (it holds `#`).
    ReservedUserName(String),
    InvalidRate(String),
    InvalidFlag {
        name: &'static str,
        value: String,
    },
    InvalidStaticDirs,
    /// A required setting is absent (or another setting needs it).
    Missing {
        name: &'static str,
        why: &'static str,
    },
    InvalidVapidSubject(String),
    /// Not an https URL (http is accepted for loopback hosts only).
    InvalidUrl {
        name: &'static str,
        value: String,
    },
    InvalidNumber {
        name: &'static str,
        value: String,
    },
    InvalidChoice {
        name: &'static str,
        value: String,
        choices: &'static str,
    },
    /// An item of a list setting is not what the setting takes.
    InvalidItem {
        name: &'static str,
        item: String,
        expected: &'static str,
    },
}

impl ConfigError {
    /// No VAPID subject: the service does not start without one.
    pub fn missing_vapid_subject() -> ConfigError {
        ConfigError::Missing {
            name: VAPID_SUBJECT,
            why: "a mailto: address or an https: URL where push services can reach you (Apple's refuses every push without one), e.g. mailto:ops@example.com",
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::InvalidPort(_) => "invalid-port",
            ConfigError::InvalidTokens => "invalid-tokens",
            ConfigError::ReservedUserName(_) => "reserved-user-name",
            ConfigError::InvalidRate(_) => "invalid-rate",
            ConfigError::InvalidNumber { .. } => "invalid-number",
            ConfigError::InvalidFlag { .. } => "invalid-flag",
            ConfigError::InvalidStaticDirs => "invalid-static-dirs",
            ConfigError::Missing { .. } => "missing-setting",
            ConfigError::InvalidVapidSubject(_) => "invalid-vapid-subject",
            ConfigError::InvalidUrl { .. } => "invalid-url",
            ConfigError::InvalidChoice { .. } => "invalid-choice",
            ConfigError::InvalidItem { .. } => "invalid-item",
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
            ConfigError::ReservedUserName(user) => write!(
                f,
                "{TOKENS}: the user name {user:?} holds '#', which only the users of JWTs have (<issuer>#<user claim>); choose a name without it"
            ),
            ConfigError::InvalidRate(value) => write!(
                f,
                "USERNOTIFY_RATE_PER_MINUTE is not a whole number: {value:?}"
            ),
            ConfigError::InvalidNumber { name, value } => {
                write!(
                    f,
                    "{name} must be a whole number (of seconds or connections), not {value:?}"
                )
            }
            ConfigError::InvalidFlag { name, value } => {
                write!(f, "{name} must be 1 or 0, not {value:?}")
            }
            ConfigError::InvalidStaticDirs => {
                f.write_str("USERNOTIFY_STATIC must be /mount=directory pairs separated by commas")
            }
            ConfigError::Missing { name, why } => write!(f, "{name} is required: {why}"),
            ConfigError::InvalidVapidSubject(value) => write!(
                f,
                "{VAPID_SUBJECT} must be a mailto: address or an https: URL, not {value:?}"
            ),
            ConfigError::InvalidUrl { name, value } => write!(
                f,
                "{name} must be an https URL (http only for a loopback host), not {value:?}"
            ),
            ConfigError::InvalidChoice {
                name,
                value,
                choices,
            } => write!(f, "{name} must be {choices}, not {value:?}"),
            ConfigError::InvalidItem {
                name,
                item,
                expected,
            } => write!(f, "{name}: {item:?} is not {expected}"),
        }
    }
}

impl std::error::Error for ConfigError {}

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

/// The limits per user, the delivery pool's shares and the push timeouts: each a whole
/// number above 0.
fn read_limits(
    present: &impl Fn(&str) -> Option<String>,
    config: &mut Config,
) -> Result<(), ConfigError> {
    let read = |name: &'static str, into: &mut usize| -> Result<(), ConfigError> {
        if let Some(value) = present(name) {
            *into = usize::try_from(positive(name, &value)?).unwrap_or(usize::MAX);
        }
        Ok(())
    };
    read(
        "USERNOTIFY_MAX_SUBSCRIPTIONS_PER_USER",
        &mut config.limits.subscriptions,
    )?;
    read(
        "USERNOTIFY_MAX_NOTIFICATIONS_PER_USER",
        &mut config.limits.notifications,
    )?;
    read(
        "USERNOTIFY_MAX_CHANGE_STREAMS_PER_USER",
        &mut config.limits.change_streams,
    )?;
    let seconds = |name: &'static str, into: &mut Duration| -> Result<(), ConfigError> {
        if let Some(value) = present(name) {
            *into = Duration::from_secs(u64::from(positive(name, &value)?));
        }
        Ok(())
    };
    seconds(
        "USERNOTIFY_PUSH_TIMEOUT_SECS",
        &mut config.delivery.request_timeout,
    )?;
    seconds(
        "USERNOTIFY_PUSH_CONNECT_TIMEOUT_SECS",
        &mut config.delivery.connect_timeout,
    )?;
    read("USERNOTIFY_PUSHES_IN_FLIGHT", &mut config.delivery.batch)?;
    read(
        "USERNOTIFY_PUSHES_IN_FLIGHT_PER_USER",
        &mut config.delivery.per_user,
    )?;
    read(
        "USERNOTIFY_PUSHES_IN_FLIGHT_PER_HOST",
        &mut config.delivery.per_host,
    )?;
    Ok(())
}

/// The JWT settings: none at all, or an issuer and an audience (and optionally the rest).
fn read_oidc(
    present: &impl Fn(&str) -> Option<String>,
) -> Result<Option<OidcSettings>, ConfigError> {
    let Some(issuer) = present(JWT_ISSUER) else {
        for name in [JWT_AUDIENCE, JWKS_URL, JWT_USER_CLAIM] {
            if present(name).is_some() {
                return Err(ConfigError::Missing {
                    name: JWT_ISSUER,
                    why: "the other USERNOTIFY_JWT settings need the issuer whose tokens to accept",
                });
            }
        }
        return Ok(None);
    };
    let audience = present(JWT_AUDIENCE).ok_or(ConfigError::Missing {
        name: JWT_AUDIENCE,
        why: "a JWT is accepted only if its aud names this service",
    })?;
    let issuer = checked_url(JWT_ISSUER, &issuer)?;
    // OpenID Connect Discovery §3: an issuer has no query or fragment (and a JWT user's
    // key, `<issuer>#<claim>`, relies on it).
    if issuer.contains(['#', '?']) {
        return Err(ConfigError::InvalidUrl {
            name: JWT_ISSUER,
            value: issuer,
        });
    }
    let mut settings = OidcSettings::new(&issuer, audience.trim());
    if let Some(url) = present(JWKS_URL) {
        settings.jwks_url = Some(checked_url(JWKS_URL, &url)?);
    }
    if let Some(claim) = present(JWT_USER_CLAIM) {
        settings.user_claim = claim.trim().to_owned();
    }
    Ok(Some(settings))
}

/// An https URL, or an http one on a loopback host (a provider on the same machine, tests).
pub(crate) fn checked_url(name: &'static str, text: &str) -> Result<String, ConfigError> {
    let text = text.trim();
    let invalid = || ConfigError::InvalidUrl {
        name,
        value: text.to_owned(),
    };
    let url = url::Url::parse(text).map_err(|_| invalid())?;
    let loopback = match url.host() {
        Some(url::Host::Domain(host)) => host.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => return Err(invalid()),
    };
    match url.scheme() {
        "https" => Ok(text.to_owned()),
        "http" if loopback => Ok(text.to_owned()),
        _ => Err(invalid()),
    }
}

/// `USERNOTIFY_PUBLIC_URL`: an absolute http(s) URL with a host and no query or fragment,
/// kept without its trailing `/`.
fn parse_public_url(text: &str) -> Result<String, ConfigError> {
    let text = text.trim();
    let usable = url::Url::parse(text).ok().filter(|url| {
        matches!(url.scheme(), "https" | "http")
            && url.host().is_some()
            && url.username().is_empty()
            && url.password().is_none()
            && url.query().is_none()
            && url.fragment().is_none()
    });
    match usable {
        Some(_) => Ok(text.trim_end_matches('/').to_owned()),
        None => Err(ConfigError::InvalidItem {
            name: PUBLIC_URL,
            item: text.to_owned(),
            expected: "an absolute http or https URL, e.g. https://notify.example.com",
        }),
    }
}

/// One item of `USERNOTIFY_CORS_ORIGINS`: `*`, or an origin (`https://app.example.com`,
/// with a port when not the scheme's), as a browser sends it in `Origin`.
fn parse_origin(item: &str) -> Result<String, ConfigError> {
    if item == "*" {
        return Ok(item.to_owned());
    }
    let invalid = || ConfigError::InvalidItem {
        name: CORS_ORIGINS,
        item: item.to_owned(),
        expected: "an origin (scheme://host[:port], e.g. https://app.example.com) or *",
    };
    let url = url::Url::parse(item).map_err(|_| invalid())?;
    let origin = url.origin();
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
    if !origin.is_tuple() || !bare || !url.username().is_empty() || url.password().is_some() {
        return Err(invalid());
    }
    Ok(origin.ascii_serialization())
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
            if user.contains('#') {
                return Err(ConfigError::ReservedUserName(user.to_owned()));
            }
            Ok(TokenEntry {
                token: token.to_owned(),
                user: user.to_owned(),
            })
        })
        .collect()
}

fn positive(name: &'static str, value: &str) -> Result<u32, ConfigError> {
    value
        .trim()
        .parse()
        .ok()
        .filter(|number| *number > 0)
        .ok_or_else(|| ConfigError::InvalidNumber {
            name,
            value: value.to_owned(),
        })
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

    const SUBJECT: (&str, &str) = ("USERNOTIFY_VAPID_SUBJECT", "mailto:ops@app.example");

    /// Reads `vars` as the environment, with a VAPID subject unless `vars` names one.
    fn read(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut map: HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        map.entry(SUBJECT.0.to_owned())
            .or_insert_with(|| SUBJECT.1.to_owned());
        Config::from_vars(|name| map.get(name).cloned())
    }

    #[test]
    fn without_a_vapid_subject_the_settings_are_refused_naming_it() {
        for value in ["", "  "] {
            let error = read(&[("USERNOTIFY_VAPID_SUBJECT", value)]).unwrap_err();
            assert_eq!(error.code(), "missing-setting");
            assert!(error.to_string().contains("USERNOTIFY_VAPID_SUBJECT"));
        }
        let error = read(&[("USERNOTIFY_VAPID_SUBJECT", "ops@app.example")]).unwrap_err();
        assert_eq!(error.code(), "invalid-vapid-subject");
        assert!(error.to_string().contains("USERNOTIFY_VAPID_SUBJECT"));
        let config = read(&[("USERNOTIFY_VAPID_SUBJECT", "https://app.example")]).unwrap();
        assert_eq!(
            config.vapid_subject.unwrap().as_str(),
            "https://app.example"
        );
    }

    #[test]
    fn jwt_settings_need_an_issuer_and_an_audience_and_default_the_rest() {
        assert_eq!(read(&[]).unwrap().oidc, None);
        let oidc = read(&[
            ("USERNOTIFY_JWT_ISSUER", "https://id.example/realms/app"),
            ("USERNOTIFY_JWT_AUDIENCE", "usernotify"),
        ])
        .unwrap()
        .oidc
        .unwrap();
        assert_eq!(oidc.issuer, "https://id.example/realms/app");
        assert_eq!(oidc.audience, "usernotify");
        assert_eq!(oidc.jwks_url, None);
        assert_eq!(oidc.user_claim, "sub");
        let error = read(&[("USERNOTIFY_JWT_ISSUER", "https://id.example/")]).unwrap_err();
        assert!(error.to_string().contains("USERNOTIFY_JWT_AUDIENCE"));
        let error = read(&[("USERNOTIFY_JWT_AUDIENCE", "usernotify")]).unwrap_err();
        assert!(error.to_string().contains("USERNOTIFY_JWT_ISSUER"));
        let oidc = read(&[
            ("USERNOTIFY_JWT_ISSUER", "http://127.0.0.1:9000/"),
            ("USERNOTIFY_JWT_AUDIENCE", "usernotify"),
            ("USERNOTIFY_JWKS_URL", "https://id.example/keys"),
            ("USERNOTIFY_JWT_USER_CLAIM", "email"),
        ])
        .unwrap()
        .oidc
        .unwrap();
        assert_eq!(oidc.jwks_url.as_deref(), Some("https://id.example/keys"));
        assert_eq!(oidc.user_claim, "email");
    }

    #[test]
    fn an_issuer_must_be_https_unless_it_is_on_this_machine() {
        for issuer in ["http://id.example/", "id.example", "ftp://127.0.0.1/"] {
            let error = read(&[
                ("USERNOTIFY_JWT_ISSUER", issuer),
                ("USERNOTIFY_JWT_AUDIENCE", "usernotify"),
            ])
            .unwrap_err();
            assert_eq!(error.code(), "invalid-url", "{issuer}");
        }
    }

    #[test]
    fn the_log_format_and_the_shutdown_grace_are_read() {
        let config = read(&[
            ("USERNOTIFY_LOG_FORMAT", "JSON"),
            ("USERNOTIFY_SHUTDOWN_GRACE_SECONDS", "3"),
        ])
        .unwrap();
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.delivery.shutdown_grace, Duration::from_secs(3));
        assert_eq!(read(&[]).unwrap().log_format, LogFormat::Text);
        assert_eq!(
            read(&[]).unwrap().delivery.shutdown_grace,
            Duration::from_secs(10)
        );
        assert_eq!(
            read(&[("USERNOTIFY_LOG_FORMAT", "xml")])
                .unwrap_err()
                .code(),
            "invalid-choice"
        );
        assert_eq!(
            read(&[("USERNOTIFY_SHUTDOWN_GRACE_SECONDS", "soon")])
                .unwrap_err()
                .code(),
            "invalid-number"
        );
    }

    #[test]
    fn an_empty_environment_but_the_vapid_subject_gives_the_contract_defaults() {
        let config = read(&[]).unwrap();
        assert_eq!(config.host, "127.0.0.1");
        assert_eq!(config.port, 8080);
        assert_eq!(
            config.db,
            DbLocation::Sqlite(PathBuf::from("./usernotify.db"))
        );
        assert_eq!(config.delivery.lease, Duration::from_secs(60));
        assert_eq!(config.rate_per_minute, 600);
        assert!(!config.allow_loopback_push);
        assert!(config.tokens.is_empty());
        assert!(
            config.delivery.declarative_push,
            "Declarative Web Push is on by default"
        );
    }

    #[test]
    fn declarative_web_push_is_turned_off_with_0_and_a_bad_value_is_refused() {
        let off = read(&[("USERNOTIFY_DECLARATIVE_PUSH", "0")]).unwrap();
        assert!(!off.delivery.declarative_push);
        let on = read(&[("USERNOTIFY_DECLARATIVE_PUSH", "1")]).unwrap();
        assert!(on.delivery.declarative_push);
        let error = read(&[("USERNOTIFY_DECLARATIVE_PUSH", "maybe")]).unwrap_err();
        assert_eq!(error.code(), "invalid-flag");
        assert!(error.to_string().contains("USERNOTIFY_DECLARATIVE_PUSH"));
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
    fn a_postgres_url_its_pool_and_the_lease_are_read_and_the_password_never_shown() {
        let config = read(&[
            (
                "USERNOTIFY_DB",
                "postgres://app:pw-secret@db.example:5432/notify",
            ),
            ("USERNOTIFY_DB_POOL", "8"),
            ("USERNOTIFY_DELIVERY_LEASE_SECS", "5"),
        ])
        .unwrap();
        assert!(matches!(config.db, DbLocation::Postgres(_)));
        assert_eq!(config.db_settings.max_connections, 8);
        assert_eq!(config.delivery.lease, Duration::from_secs(5));
        assert!(!format!("{config:?}").contains("pw-secret"));
        let error = read(&[("USERNOTIFY_DB_POOL", "0")]).unwrap_err();
        assert_eq!(error.code(), "invalid-number");
    }

    #[test]
    fn limits_per_user_and_the_pool_shares_are_read_and_default_sanely() {
        let defaults = read(&[]).unwrap();
        assert_eq!(defaults.limits, UserLimits::default());
        assert!(defaults.delivery.per_user < defaults.delivery.batch);
        assert!(defaults.delivery.per_host < defaults.delivery.batch);
        assert!(defaults.delivery.connect_timeout < defaults.delivery.request_timeout);
        let config = read(&[
            ("USERNOTIFY_MAX_SUBSCRIPTIONS_PER_USER", "3"),
            ("USERNOTIFY_MAX_NOTIFICATIONS_PER_USER", "100000"),
            ("USERNOTIFY_MAX_CHANGE_STREAMS_PER_USER", "2"),
            ("USERNOTIFY_PUSHES_IN_FLIGHT", "32"),
            ("USERNOTIFY_PUSHES_IN_FLIGHT_PER_USER", "4"),
            ("USERNOTIFY_PUSHES_IN_FLIGHT_PER_HOST", "8"),
            ("USERNOTIFY_PUSH_TIMEOUT_SECS", "20"),
            ("USERNOTIFY_PUSH_CONNECT_TIMEOUT_SECS", "2"),
        ])
        .unwrap();
        assert_eq!(config.delivery.request_timeout, Duration::from_secs(20));
        assert_eq!(config.delivery.connect_timeout, Duration::from_secs(2));
        assert_eq!(
            config.limits,
            UserLimits {
                subscriptions: 3,
                notifications: 100_000,
                change_streams: 2,
            }
        );
        assert_eq!(
            (
                config.delivery.batch,
                config.delivery.per_user,
                config.delivery.per_host
            ),
            (32, 4, 8)
        );
        let error = read(&[("USERNOTIFY_MAX_NOTIFICATIONS_PER_USER", "0")]).unwrap_err();
        assert_eq!(error.code(), "invalid-number");
        assert!(error
            .to_string()
            .contains("USERNOTIFY_MAX_NOTIFICATIONS_PER_USER"));
    }

    #[test]
    fn push_hosts_default_to_the_browsers_push_services_and_are_extended_or_replaced() {
        assert_eq!(read(&[]).unwrap().push_hosts, PushHosts::default());
        let extended = read(&[("USERNOTIFY_PUSH_HOSTS", "default,push.example.net")])
            .unwrap()
            .push_hosts;
        assert!(extended.names.contains(&"fcm.googleapis.com".to_owned()));
        assert!(extended.names.contains(&"push.example.net".to_owned()));
        assert!(
            read(&[("USERNOTIFY_PUSH_HOSTS", "*")])
                .unwrap()
                .push_hosts
                .any_public
        );
        let error = read(&[("USERNOTIFY_PUSH_HOSTS", "default,http://x")]).unwrap_err();
        assert_eq!(error.code(), "invalid-item");
        assert!(error.to_string().contains("USERNOTIFY_PUSH_HOSTS"));
    }

    #[test]
    fn connection_limits_have_defaults_and_must_be_positive() {
        let config = read(&[]).unwrap();
        assert_eq!(config.connections, ConnectionSettings::default());
        assert_eq!(config.connections.max, 10_000);
        assert_eq!(config.connections.header_timeout, Duration::from_secs(20));
        let config = read(&[
            ("USERNOTIFY_MAX_CONNECTIONS", "50"),
            ("USERNOTIFY_HEADER_TIMEOUT_SECONDS", "2"),
        ])
        .unwrap();
        assert_eq!(config.connections.max, 50);
        assert_eq!(config.connections.header_timeout, Duration::from_secs(2));
        for (name, value) in [
            ("USERNOTIFY_MAX_CONNECTIONS", "0"),
            ("USERNOTIFY_HEADER_TIMEOUT_SECONDS", "soon"),
        ] {
            let error = read(&[(name, value)]).unwrap_err();
            assert_eq!(error.code(), "invalid-number");
            assert!(error.to_string().contains(name));
        }
    }

    #[test]
    fn cors_origins_are_origins_or_a_star_and_anything_else_is_refused_naming_the_setting() {
        let config = read(&[(
            "USERNOTIFY_CORS_ORIGINS",
            "https://App.example.com/, http://127.0.0.1:5173, https://b.example:443",
        )])
        .unwrap();
        assert_eq!(
            config.cors_origins,
            [
                "https://app.example.com",
                "http://127.0.0.1:5173",
                "https://b.example"
            ]
        );
        assert_eq!(
            read(&[("USERNOTIFY_CORS_ORIGINS", "*")])
                .unwrap()
                .cors_origins,
            ["*"]
        );
        for bad in [
            "app.example.com",
            "https://app.example.com/path",
            "null",
            "*.example.com",
        ] {
            let error = read(&[("USERNOTIFY_CORS_ORIGINS", bad)]).unwrap_err();
            assert_eq!(error.code(), "invalid-item", "{bad}");
            assert!(error.to_string().contains("USERNOTIFY_CORS_ORIGINS"));
        }
    }

    #[test]
    fn a_public_url_must_be_an_absolute_http_url() {
        let config = read(&[("USERNOTIFY_PUBLIC_URL", "https://notify.example.com/")]).unwrap();
        assert_eq!(
            config.public_url.as_deref(),
            Some("https://notify.example.com")
        );
        for bad in [
            "notify.example.com",
            "https://notify.example.com/?x=1",
            "ftp://x/",
        ] {
            let error = read(&[("USERNOTIFY_PUBLIC_URL", bad)]).unwrap_err();
            assert!(error.to_string().contains("USERNOTIFY_PUBLIC_URL"), "{bad}");
        }
    }

    #[test]
    fn a_static_user_name_with_a_hash_is_refused_as_it_could_be_a_jwt_users() {
        let error = read(&[("USERNOTIFY_TOKENS", "t1:https://id.example#alice")]).unwrap_err();
        assert_eq!(error.code(), "reserved-user-name");
        assert!(error.to_string().contains("USERNOTIFY_TOKENS"));
        assert!(
            !error.to_string().contains("t1"),
            "the token is never shown"
        );
    }

    #[test]
    fn an_issuer_with_a_fragment_or_a_query_is_refused() {
        for issuer in ["https://id.example/#x", "https://id.example/?tenant=1"] {
            let error = read(&[
                ("USERNOTIFY_JWT_ISSUER", issuer),
                ("USERNOTIFY_JWT_AUDIENCE", "usernotify"),
            ])
            .unwrap_err();
            assert_eq!(error.code(), "invalid-url", "{issuer}");
        }
    }

    #[test]
    fn static_dirs_are_mount_equals_directory_pairs() {
        let config = read(&[("USERNOTIFY_STATIC", "/=www,/pkg=pkg")]).unwrap();
        assert_eq!(config.static_dirs.len(), 2);
        assert_eq!(config.static_dirs[1].mount, "/pkg");
        assert!(read(&[("USERNOTIFY_STATIC", "www")]).is_err());
    }
}
