//! `usernotify-service`: reads the settings from the environment and serves until stopped.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::IsTerminal;
use std::process::ExitCode;

use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;
use usernotify_service::{start, Config, LogFormat};

#[tokio::main]
async fn main() -> ExitCode {
    let format = LogFormat::from_vars(|name| std::env::var(name).ok());
    init_logging(format.clone().unwrap_or_default());
    if let Err(error) = format {
        tracing::error!(code = error.code(), %error, "bad settings");
        return ExitCode::from(2);
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(code = error.code(), %error, "bad settings");
            return ExitCode::from(2);
        }
    };
    if config.tokens.is_empty() && config.oidc.is_none() {
        tracing::warn!(
            "neither USERNOTIFY_TOKENS nor USERNOTIFY_JWT_ISSUER is set: every /me request will be refused"
        );
    }
    raise_open_file_limit();
    let listener = match TcpListener::bind((config.host.as_str(), config.port)).await {
        Ok(listener) => listener,
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {
            tracing::error!(
                %error,
                host = %config.host,
                port = config.port,
                "cannot listen: port {} is taken by another process; set PORT to a free port",
                config.port
            );
            return ExitCode::FAILURE;
        }
        Err(error) => {
            tracing::error!(%error, host = %config.host, port = config.port, "cannot listen (check HOST and PORT)");
            return ExitCode::FAILURE;
        }
    };
    if let Some(oidc) = &config.oidc {
        tracing::info!(issuer = %oidc.issuer, audience = %oidc.audience, user_claim = %oidc.user_claim, "bearer JWTs accepted from the identity provider");
    }
    // Shown without a password.
    let db = config.db.to_string();
    let grace = config.delivery.shutdown_grace;
    let service = match start(config, listener).await {
        Ok(service) => service,
        Err(error) => {
            tracing::error!(code = error.code(), %error, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(address = %service.local_addr(), db = %db, "usernotify service listening");
    wait_for_stop().await;
    tracing::info!(
        grace_seconds = grace.as_secs(),
        "stopping: no new requests; the pushes in flight get the grace to finish"
    );
    let state = service.state().clone();
    service.shutdown().await;
    match state.db().queue_stats().await {
        Ok(queue) => tracing::info!(
            queued = queue.depth,
            "stopped; queued deliveries are sent after the next start"
        ),
        Err(error) => tracing::warn!(%error, "stopped; the queue could not be read"),
    }
    ExitCode::SUCCESS
}

/// Raises the open-file soft limit to the hard limit: each client connection is a
/// descriptor, and the usual soft limit (1,024) is reached long before memory is.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(error) => tracing::warn!(%error, "the open-file limit could not be raised"),
    }
}

/// Text lines (coloured on a terminal) or one JSON object per line; `RUST_LOG` filters.
fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stdout().is_terminal()).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// Ctrl-C, or SIGTERM on Unix (what service managers send).
async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
