//! Operations: `/healthz` (the process runs), `/readyz` (it can serve), `/metrics`.

use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::{ApiError, InternalError};
use crate::metrics::{StoreGauges, CONTENT_TYPE};
use crate::AppState;

/// How long `/readyz` waits for the database before calling it unready.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// 200 for as long as the process answers at all.
pub async fn healthz() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

/// 200 when the database answers (within [`READY_TIMEOUT`]); else 503 with Graph's error
/// body. The VAPID key is loaded before the service listens, so it is loaded here.
pub async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    let ping = tokio::time::timeout(READY_TIMEOUT, state.db().ping()).await;
    match ping {
        Ok(Ok(())) => Ok(axum::Json(json!({
            "status": "ready",
            "database": "ok",
            "vapidKey": "loaded",
        }))
        .into_response()),
        Ok(Err(error)) => {
            tracing::warn!(%error, "not ready: the database does not answer");
            Err(ApiError::NotReady("The database does not answer."))
        }
        Err(_) => {
            tracing::warn!("not ready: the database does not answer in time");
            Err(ApiError::NotReady("The database does not answer in time."))
        }
    }
}

/// The Prometheus text exposition; the queue and subscription gauges are read now.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (queue, subscriptions) =
        tokio::try_join!(state.db().queue_stats(), state.db().subscription_count())?;
    let gauges = StoreGauges {
        queue_depth: queue.depth,
        oldest_queued_ms: queue.oldest_age_ms,
        subscriptions,
    };
    let text = state
        .metrics()
        .encode(gauges)
        .map_err(|_| ApiError::Internal(InternalError::MetricsEncoding))?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response())
}
