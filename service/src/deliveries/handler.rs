//! `GET /me/notifications/{id}/deliveries`: where each delivery of a notification stands.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use usernotify::core::format_iso8601;

use crate::clock::now_millis;
use crate::deliveries::DeliveryInfo;
use crate::error::ApiError;
use crate::identity::Caller;
use crate::routes::ResourceId;
use crate::AppState;

/// `GET /me/notifications/{id}/deliveries`: where the notification stands for each of the
/// user's subscriptions (CONTRACT §5).
pub(crate) async fn list_deliveries(
    State(state): State<AppState>,
    id: ResourceId,
    Caller(user): Caller,
) -> Result<Response, ApiError> {
    let id = id.checked()?;
    let deliveries = state
        .db()
        .deliveries(user, id, now_millis())
        .await?
        .ok_or(ApiError::NotFound)?;
    let value: Vec<Value> = deliveries.iter().map(delivery_body).collect();
    Ok(axum::Json(json!({ "value": value })).into_response())
}

pub(crate) fn delivery_body(delivery: &DeliveryInfo) -> Value {
    json!({
        "subscriptionId": delivery.subscription_id,
        "state": delivery.state.as_str(),
        "attempts": delivery.attempts,
        "lastStatus": delivery.last_status,
        "reason": delivery.reason,
        "nextAttemptDateTime": delivery.next_attempt_at.map(format_iso8601),
        "updatedDateTime": format_iso8601(delivery.updated_at),
    })
}
