//! `POST /me/notificationSubscriptions` and `DELETE /me/notificationSubscriptions/{id}`: a
//! browser's push subscription registered (its UNSID answered) and removed.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use usernotify::core::{format_iso8601, Json};

use crate::body::{parse_json, read_body};
use crate::clock::now_millis;
use crate::egress::PushPolicy;
use crate::error::ApiError;
use crate::identity::Caller;
use crate::ids::new_id;
use crate::push::{check_endpoint, decode_key, is_valid_p256dh};
use crate::routes::{base_url, created, require_object, ResourceId, MAX_HOST_NAME_CHARS};
use crate::subscriptions::{NewSubscription, Registration, SubscriptionInfo};
use crate::AppState;

/// Longest `displayName` stored; it is only a label for the user's devices.
const MAX_DISPLAY_NAME_CHARS: usize = 256;

pub(crate) fn read_subscription(
    body: &Json,
    policy: &PushPolicy,
) -> Result<NewSubscription, ApiError> {
    require_object(body)?;
    let push = body
        .get("pushSubscription")
        .filter(|push| matches!(push, Json::Object(_)))
        .ok_or(ApiError::InvalidSubscription(
            "pushSubscription must be an object with endpoint and keys.",
        ))?;
    let endpoint =
        push.get("endpoint")
            .and_then(Json::as_str)
            .ok_or(ApiError::InvalidSubscription(
                "pushSubscription.endpoint must be a string.",
            ))?;
    check_endpoint(endpoint, policy)
        .map_err(|error| ApiError::InvalidSubscription(error.message()))?;
    let keys = push.get("keys");
    let p256dh = keys
        .and_then(|keys| keys.get("p256dh"))
        .and_then(Json::as_str)
        .and_then(decode_key)
        .filter(|bytes| is_valid_p256dh(bytes))
        .ok_or(ApiError::InvalidSubscription(
            "pushSubscription.keys.p256dh must be a base64url uncompressed P-256 public key.",
        ))?;
    let auth = keys
        .and_then(|keys| keys.get("auth"))
        .and_then(Json::as_str)
        .and_then(decode_key)
        .filter(|bytes| bytes.len() == 16)
        .ok_or(ApiError::InvalidSubscription(
            "pushSubscription.keys.auth must be 16 bytes in base64url.",
        ))?;
    let target_host_name = body
        .get("targetHostName")
        .and_then(Json::as_str)
        .map(str::trim)
        .filter(|host| !host.is_empty() && host.len() <= MAX_HOST_NAME_CHARS)
        .ok_or(ApiError::InvalidSubscription(
            "targetHostName must be the app's host name.",
        ))?;
    let display_name = match body.get("displayName") {
        None => None,
        Some(Json::String(name)) if name.chars().count() <= MAX_DISPLAY_NAME_CHARS => {
            Some(name.clone()).filter(|name| !name.is_empty())
        }
        Some(_) => {
            return Err(ApiError::InvalidSubscription(
                "displayName must be a string of at most 256 characters.",
            ))
        }
    };
    Ok(NewSubscription {
        endpoint: endpoint.to_owned(),
        p256dh,
        auth,
        target_host_name: target_host_name.to_owned(),
        display_name,
    })
}

pub(crate) fn subscription_body(info: &SubscriptionInfo) -> Value {
    json!({
        "id": info.id,
        "targetHostName": info.target_host_name,
        "displayName": info.display_name,
        "createdDateTime": format_iso8601(info.created_at),
    })
}

pub(crate) async fn create_subscription(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(user): Caller,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(&headers, body).await?;
    let subscription = read_subscription(&parse_json(&bytes)?, state.push_policy())?;
    let candidate = new_id()?;
    let now = now_millis();
    let max = state.limits().subscriptions;
    let info = match state
        .db()
        .add_subscription(user, subscription, candidate, max, now)
        .await?
    {
        Registration::Registered(info) => info,
        Registration::AtLimit { held } => return Err(ApiError::SubscriptionLimit { max: held }),
    };
    let base = base_url(&state, &headers);
    if state.demo_curl() {
        if let Some(token) = crate::auth::bearer_token(&headers) {
            println!("{}", demo_curl(&base, token, &info, now));
        }
    }
    let location = format!("{base}/me/notificationSubscriptions/{}", info.id);
    Ok(created(location, subscription_body(&info)))
}

/// `make demo`'s ready-to-paste command: the Graph seed's example, an hour from expiring,
/// for the browser that just subscribed (its host name, web push allowed).
pub(crate) fn demo_curl(base: &str, token: &str, info: &SubscriptionInfo, now: i64) -> String {
    let seed = json!({
        "targetHostName": info.target_host_name,
        "appNotificationId": "testDirectToastNotification",
        "expirationDateTime": format_iso8601(now + 3_600_000),
        "payload": {
            "visualContent": { "title": "Hello World!", "body": "Notifications are Great!" }
        },
        "targetPolicy": { "platformTypes": ["windows", "ios", "android", "webPush"] },
        "priority": "High",
        "groupName": "TestGroup",
        "displayTimeToLive": "60"
    });
    // Single-quoted for the shell: a quote inside (a host name is the caller's text) is
    // closed, escaped and reopened.
    let quoted = |text: &str| text.replace('\'', "'\\''");
    format!(
        "A browser subscribed ({}). Send it the Graph seed example:\n  curl -i -X POST '{}/me/notifications' -H 'Authorization: Bearer {}' -H 'X-UNS: {}' -H 'Content-Type: application/json' -d '{}'",
        info.display_name.as_deref().unwrap_or("unnamed"),
        quoted(base),
        quoted(token),
        info.id,
        quoted(&seed.to_string())
    )
}

pub(crate) async fn delete_subscription(
    State(state): State<AppState>,
    id: ResourceId,
    Caller(user): Caller,
) -> Result<StatusCode, ApiError> {
    let id = id.checked()?;
    // Another user's subscription looks exactly like one that does not exist.
    match state.db().delete_subscription(user, id).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::NotFound),
    }
}
