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
use usernotify_service::{start, Config};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(code = error.code(), %error, "bad settings");
            return ExitCode::from(2);
        }
    };
    if config.tokens.is_empty() {
        tracing::warn!("USERNOTIFY_TOKENS is empty: every /me request will be refused");
    }
    let listener = match TcpListener::bind((config.host.as_str(), config.port)).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, host = %config.host, port = config.port, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let db = config.db_path.display().to_string();
    let service = match start(config, listener).await {
        Ok(service) => service,
        Err(error) => {
            tracing::error!(code = error.code(), %error, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(address = %service.local_addr(), db = %db, "usernotify service listening");
    wait_for_stop().await;
    tracing::info!("stopping");
    service.shutdown().await;
    ExitCode::SUCCESS
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
