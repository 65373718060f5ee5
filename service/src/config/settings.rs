//! The settings the service is built with, each with its defaults.

use std::path::PathBuf;
use std::time::Duration;

use super::*;

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
