//! `POST /me/notifications`: a notification validated, stored and fanned out to the user's
//! subscriptions (the deliveries the worker sends), answered with the stored resource.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use usernotify::core::notification::{unknown_fields, UnknownField, MAX_PUSH_JSON_BYTES};
use usernotify::core::{format_iso8601, Notification};

use crate::body::{parse_json, read_body};
use crate::clock::now_millis;
use crate::error::{ApiError, InternalError};
use crate::identity::{Caller, SubscriptionHeader};
use crate::ids::{looks_like_id, new_id};
use crate::notifications::FeedItem;
use crate::routes::{base_url, created};
use crate::AppState;

/// The stored resource as a JSON object, with the feed's client state when `with_state`.
pub(crate) fn resource_value(
    item: &FeedItem,
    with_state: bool,
) -> Result<Map<String, Value>, ApiError> {
    let mut object = match serde_json::from_str(&item.resource) {
        Ok(Value::Object(object)) => object,
        _ => return Err(ApiError::Internal(InternalError::CorruptResource)),
    };
    if with_state {
        object.insert("readState".to_owned(), json!(item.read_state));
        object.insert("userActionState".to_owned(), json!(item.user_action_state));
        object.insert(
            "creationDateTime".to_owned(),
            json!(format_iso8601(item.created_at)),
        );
    }
    Ok(object)
}

pub(crate) fn odata_context(base: &str, user: &str, entity: bool) -> String {
    let user: String = url::form_urlencoded::byte_serialize(user.as_bytes()).collect();
    let suffix = if entity { "/$entity" } else { "" };
    format!("{base}/$metadata#users('{user}')/notifications{suffix}")
}

/// `POST /me/notifications`, its answers counted by status for `/metrics`.
pub(crate) async fn create_notification(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    uns: Result<SubscriptionHeader, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let response = post_notification(&state, caller, uns, headers, body)
        .await
        .into_response();
    state.metrics().post_answered(response.status().as_u16());
    response
}

pub(crate) async fn post_notification(
    state: &AppState,
    caller: Result<Caller, ApiError>,
    uns: Result<SubscriptionHeader, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Caller(user) = caller?;
    let SubscriptionHeader(uns) = uns?;
    let bytes = read_body(&headers, body).await?;
    let json = parse_json(&bytes)?;
    let now = now_millis();
    let mut notification = Notification::from_json(&json, now).map_err(ApiError::Invalid)?;
    // Graph ignores members it does not know; the answer names them, so a typo is seen.
    let unknown = unknown_fields(&json);
    // Unknown and foreign UNSIDs get the same answer, so ids cannot be probed. The store
    // checks the UNSID is the caller's in the same statement that saves.
    if !looks_like_id(&uns) {
        return Err(ApiError::NotAllowedForUser);
    }
    // Every id this service hands out has the same length, so measuring with a fresh one
    // is exact even when the post updates an earlier notification.
    let candidate = new_id()?;
    notification.id = Some(candidate.clone());
    let bytes = notification.to_json().to_json_string().len();
    if bytes > MAX_PUSH_JSON_BYTES {
        return Err(ApiError::TooLargeToPush { bytes });
    }
    // The user's preferences: a muted group, or quiet hours now in the user's time zone,
    // and the notification is stored (the feed has it) but not pushed.
    let withheld = crate::preferences::withheld(
        state.db(),
        &user,
        notification.group_name.as_deref(),
        notification.priority,
        now,
    )
    .await?
    .map(|withheld| withheld.reason());
    let group = notification.group_name.clone();
    let target_host_name = notification.target_host_name.clone();
    let saved = state
        .db()
        .save_notification(
            user.clone(),
            uns.clone(),
            notification,
            candidate,
            withheld,
            state.limits().notifications,
            now,
        )
        .await?
        .ok_or(ApiError::NotAllowedForUser)?;
    if !saved.evicted.is_empty() {
        // The oldest made room: this process's streams of the user hear of it now (the
        // store told the other replicas), every device with the next push or visit.
        state.changes().wake(&user);
        tracing::info!(
            count = saved.evicted.len(),
            limit = state.limits().notifications,
            "the user's feed is full: its oldest notifications were deleted"
        );
    }
    let fan_out = saved.fan_out;
    let mut warnings: Vec<Value> = unknown.iter().map(unknown_field_warning).collect();
    if !unknown.is_empty() {
        let fields: Vec<&str> = unknown
            .iter()
            .map(|unknown| unknown.field.as_str())
            .collect();
        tracing::warn!(
            notification = %saved.item.id,
            fields = %fields.join(","),
            "the post has members the contract does not know: ignored"
        );
    }
    match fan_out.why_nothing_was_queued() {
        None => state.wake_deliveries(),
        Some(why) => {
            // The user's own preferences are theirs to set: logged, not warned about.
            let by_preferences = why == "withheld-by-preferences";
            let reason = match withheld {
                Some(withheld) if by_preferences => withheld,
                _ => why,
            };
            let subscribed_host = match reason {
                "target-host" => state
                    .db()
                    .subscription(uns)
                    .await
                    .ok()
                    .flatten()
                    .map(|info| info.target_host_name),
                _ => None,
            };
            let message = unreached_message(
                reason,
                target_host_name.as_deref(),
                subscribed_host.as_deref(),
                group.as_deref(),
            );
            if by_preferences {
                tracing::info!(
                    notification = %saved.item.id,
                    why,
                    reason,
                    "the user's preferences withhold the notification now: stored, not pushed"
                );
            } else {
                tracing::warn!(
                    notification = %saved.item.id,
                    why,
                    skipped_by_policy = fan_out.skipped_by_policy,
                    skipped_by_host = fan_out.skipped_by_host,
                    gone = fan_out.gone,
                    "the notification reaches no subscription: stored, not pushed: {message}"
                );
            }
            warnings.push(json!({
                "code": "reaches-no-subscription",
                "reason": reason,
                "message": message,
            }));
        }
    }
    let base = base_url(state, &headers);
    let mut object = resource_value(&saved.item, false)?;
    object.insert(
        "@odata.context".to_owned(),
        json!(odata_context(&base, &user, true)),
    );
    if !warnings.is_empty() {
        object.insert(WARNINGS.to_owned(), Value::Array(warnings));
    }
    let location = format!("{base}/me/notifications/{}", saved.item.id);
    Ok(created(location, Value::Object(object)))
}

/// The OData instance annotation of a created notification that lists what the service
/// ignored or could not do: members it does not know, and a post that reaches no browser.
pub(crate) const WARNINGS: &str = "@usernotify.warnings";

pub(crate) fn unknown_field_warning(unknown: &UnknownField) -> Value {
    let mut message = format!(
        "{} is not a member of the notification resource and was ignored",
        unknown.field
    );
    if let Some(near) = &unknown.did_you_mean {
        message.push_str(&format!(": did you mean {near}?"));
    }
    let mut warning = Map::new();
    warning.insert("code".to_owned(), json!("unknown-field"));
    warning.insert("field".to_owned(), json!(unknown.field));
    if let Some(near) = &unknown.did_you_mean {
        warning.insert("didYouMean".to_owned(), json!(near));
    }
    warning.insert("message".to_owned(), json!(message));
    Value::Object(warning)
}

/// Why a stored notification was pushed to no browser, and what to do about it.
pub(crate) fn unreached_message(
    reason: &str,
    target_host_name: Option<&str>,
    subscribed_host: Option<&str>,
    group: Option<&str>,
) -> String {
    const STORED: &str = "it is stored in the user's feed but pushed to no browser";
    match reason {
        "no-subscriptions" => format!("The user has no subscription: {STORED}."),
        "target-host" => {
            let posted = match target_host_name {
                Some(name) => format!("targetHostName {name:?} is not"),
                None => "The post has no targetHostName, which must be".to_owned(),
            };
            let subscribed = match subscribed_host {
                Some(host) => format!(" (the subscription X-UNS names has {host:?})"),
                None => String::new(),
            };
            format!("{posted} the host name the user's browsers subscribed with{subscribed}: {STORED}.")
        }
        "target-policy" => format!(
            "targetPolicy.platformTypes names no web platform (add \"webPush\", or leave targetPolicy out): {STORED}."
        ),
        "muted" => format!(
            "The user muted the group {:?}: {STORED}.",
            group.unwrap_or_default()
        ),
        "quiet-hours" => format!(
            "It is the user's quiet hours: {STORED} (High priority breaks through when the user allows it)."
        ),
        "all-subscriptions-gone" => format!(
            "Every subscription of the user is gone (their push services answered 404 or 410): {STORED}; the browsers must subscribe again."
        ),
        _ => format!(
            "No subscription of the user takes it (another targetHostName, gone, or withheld by the user's preferences): {STORED}; GET /me/notifications/{{id}}/deliveries says why for each."
        ),
    }
}
