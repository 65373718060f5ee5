//! The usernotify app service: Graph's `/me/notifications` REST API over SQLite or
//! PostgreSQL (any number of replicas on one database), with Web Push fan-out (RFC 8291 encryption, RFC 8292 VAPID) to every browser a user subscribed.
//!
//! Validation is the core's (`usernotify::core`), so the service and the browser worker
//! refuse the same notifications with the same codes.
//!
//! Embedding: [`AppState::open`] opens the store and the VAPID key; [`routes::router`] (or
//! [`routes::api_routes`] to merge into another router) serves the API;
//! [`spawn_delivery_worker`] sends the queued pushes. [`start`] does all three on a listener.

// The house rule, enforced: no panics on input outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod body;
pub mod changes;
pub mod clock;
pub mod config;
pub mod deliveries;
pub mod egress;
pub mod error;
pub mod identity;
pub mod ids;
pub mod metrics;
pub mod notifications;
pub mod openapi;
pub mod ops;
pub mod preferences;
pub mod push;
pub mod routes;
pub mod server;
pub mod shrink;
pub mod store;
pub mod subscriptions;
pub mod vapid;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

pub use config::{
    Config, ConfigError, ConnectionSettings, DbLocation, DbSettings, DeliverySettings, LogFormat,
    OidcSettings, PushHosts, StaticDir, UserLimits,
};
pub use error::ApiError;
pub use identity::{auth, oidc};
pub use routes::{api_routes, router};

use auth::{Gate, RateLimiter, Tokens};
use changes::ChangeHub;
use clock::now_millis;
use deliveries::Deliverer;
use egress::PushPolicy;
use metrics::Metrics;
use oidc::Oidc;
use store::{Db, StoreError};
use vapid::{Vapid, VapidError};

/// Why the service could not start.
#[derive(Debug)]
pub enum StartError {
    Config(ConfigError),
    Store(StoreError),
    Vapid(VapidError),
    HttpClient(reqwest::Error),
    Io(std::io::Error),
}

impl StartError {
    pub fn code(&self) -> &'static str {
        match self {
            StartError::Config(error) => error.code(),
            StartError::Store(error) => error.code(),
            StartError::Vapid(error) => error.code(),
            StartError::HttpClient(_) => "http-client",
            StartError::Io(_) => "io",
        }
    }
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Config(error) => write!(f, "{error}"),
            StartError::Store(error) => write!(f, "{error}"),
            StartError::Vapid(error) => write!(f, "{error}"),
            StartError::HttpClient(error) => write!(f, "http-client: {error}"),
            StartError::Io(error) => write!(f, "io: {error}"),
        }
    }
}

impl std::error::Error for StartError {}

struct Shared {
    gate: Gate,
    db: Db,
    vapid: Arc<Vapid>,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    /// The change streams open in this process.
    changes: Arc<ChangeHub>,
    /// Where push endpoints may point.
    push_policy: Arc<PushPolicy>,
    demo_curl: bool,
    public_url: Option<String>,
    delivery: DeliverySettings,
    limits: UserLimits,
}

/// What every handler and the delivery worker share. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// Opens (or creates and migrates) the database and loads or generates the VAPID key.
    pub async fn open(config: &Config) -> Result<AppState, StartError> {
        let db = Db::open(&config.db, &config.db_settings)
            .await
            .map_err(StartError::Store)?;
        AppState::with_db(config, db).await
    }

    /// Builds the state around an already opened database. Refuses a configuration without
    /// a VAPID subject. The deployment's VAPID key is the first one stored; a replica's own
    /// candidate is dropped when another won.
    pub async fn with_db(config: &Config, db: Db) -> Result<AppState, StartError> {
        let subject = config
            .vapid_subject
            .clone()
            .ok_or_else(|| StartError::Config(ConfigError::missing_vapid_subject()))?;
        let oidc = match &config.oidc {
            Some(settings) => Some(Arc::new(
                Oidc::new(settings.clone()).map_err(StartError::HttpClient)?,
            )),
            None => None,
        };
        let (private, _) = db
            .vapid_key_or_insert(Vapid::generate(), now_millis())
            .await
            .map_err(StartError::Store)?;
        let vapid = Vapid::from_private_key(&private, subject).map_err(StartError::Vapid)?;
        Ok(AppState(Arc::new(Shared {
            gate: Gate {
                tokens: Tokens::new(&config.tokens),
                oidc,
                blocked: config.blocked_callers.clone(),
                limiter: RateLimiter::new(config.rate_per_minute),
            },
            db,
            vapid: Arc::new(vapid),
            metrics: Arc::new(Metrics::new()),
            wake: Arc::new(Notify::new()),
            changes: Arc::new(ChangeHub::default()),
            push_policy: Arc::new(PushPolicy {
                hosts: config.push_hosts.clone(),
                allow_loopback: config.allow_loopback_push,
            }),
            demo_curl: config.demo_curl,
            public_url: config
                .public_url
                .as_ref()
                .map(|url| url.trim_end_matches('/').to_owned()),
            delivery: config.delivery.clone(),
            limits: config.limits.clone(),
        })))
    }

    pub fn gate(&self) -> &Gate {
        &self.0.gate
    }

    pub fn db(&self) -> &Db {
        &self.0.db
    }

    pub fn vapid(&self) -> &Vapid {
        &self.0.vapid
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// Where push endpoints may point (`USERNOTIFY_PUSH_HOSTS`, and loopback for tests).
    pub fn push_policy(&self) -> &PushPolicy {
        &self.0.push_policy
    }

    pub fn demo_curl(&self) -> bool {
        self.0.demo_curl
    }

    pub fn public_url(&self) -> Option<&str> {
        self.0.public_url.as_deref()
    }

    /// What one user may store or hold open.
    pub fn limits(&self) -> &UserLimits {
        &self.0.limits
    }

    /// Tells the worker that deliveries were queued.
    pub fn wake_deliveries(&self) {
        self.0.wake.notify_one();
    }

    /// The change streams open in this process.
    pub fn changes(&self) -> &ChangeHub {
        &self.0.changes
    }
}

/// Starts what wakes this process when another replica on the same PostgreSQL queued
/// deliveries or logged a change (one LISTEN connection); nothing on SQLite. Started by
/// [`spawn_delivery_worker`]; call it alone when the process runs no delivery worker.
pub fn spawn_listener(state: &AppState, shutdown: watch::Receiver<bool>) {
    state.0.db.spawn_wakeups(
        Arc::clone(&state.0.wake),
        Arc::clone(&state.0.changes),
        shutdown,
    );
}

/// Starts the worker that sends queued pushes until `shutdown` turns true (and, on
/// PostgreSQL, the listener that wakes it when another replica queues deliveries).
pub fn spawn_delivery_worker(
    state: &AppState,
    shutdown: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, StartError> {
    let settings = state.0.delivery.clone();
    spawn_listener(state, shutdown.clone());
    let deliverer = Deliverer {
        db: state.0.db.clone(),
        vapid: Arc::clone(&state.0.vapid),
        metrics: Arc::clone(&state.0.metrics),
        client: deliveries::push_client(&settings, Arc::clone(&state.0.push_policy))
            .map_err(StartError::HttpClient)?,
        push_policy: Arc::clone(&state.0.push_policy),
        wake: Arc::clone(&state.0.wake),
        settings,
    };
    Ok(tokio::spawn(deliverer.run(shutdown)))
}

/// A running service: the HTTP server and (unless turned off) the delivery worker.
pub struct RunningService {
    addr: SocketAddr,
    state: AppState,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    worker: Option<JoinHandle<()>>,
}

/// Opens the store and serves the service on `listener`.
pub async fn start(config: Config, listener: TcpListener) -> Result<RunningService, StartError> {
    let addr = listener.local_addr().map_err(StartError::Io)?;
    let state = AppState::open(&config).await?;
    let (stop, stopped) = watch::channel(false);
    let worker = if config.delivery.run_worker {
        Some(spawn_delivery_worker(&state, stopped.clone())?)
    } else {
        spawn_listener(&state, stopped.clone());
        None
    };
    let app = router(state.clone(), &config.static_dirs, &config.cors_origins);
    let connections = config.connections.clone();
    let server =
        tokio::spawn(async move { server::serve(listener, app, &connections, stopped).await });
    Ok(RunningService {
        addr,
        state,
        stop,
        server,
        worker,
    })
}

impl RunningService {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting requests, gives those in flight and the pushes being sent the
    /// shutdown grace to finish (pushes still unanswered then stay queued), and returns once
    /// the database is no longer in use by them.
    pub async fn shutdown(self) {
        // Change streams never end by themselves: they end now, so the server can finish.
        self.state.changes().close();
        let _ = self.stop.send(true);
        let grace = self.state.0.delivery.shutdown_grace;
        let mut server = self.server;
        match tokio::time::timeout(grace, &mut server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::warn!(%error, "server stopped with an error"),
            Ok(Err(error)) => tracing::warn!(%error, "server task failed"),
            Err(_) => {
                tracing::warn!("requests still running after the shutdown grace are cut off");
                server.abort();
            }
        }
        if let Some(worker) = self.worker {
            if let Err(error) = worker.await {
                tracing::warn!(%error, "delivery worker failed");
            }
        }
    }
}
