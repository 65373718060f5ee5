//! The REST API of CONTRACT §3, Graph's error bodies, and the request log.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{FromRequestParts, MatchedPath, Path, RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, MethodRouter};
use axum::Router;
use serde_json::{json, Map, Value};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;
use usernotify::core::feed::{ReadState, UserActionState};
use usernotify::core::notification::{unknown_fields, UnknownField, MAX_PUSH_JSON_BYTES};
use usernotify::core::preferences::InvalidPreferences;
use usernotify::core::sync::{change_push_visible_until, OnDevice};
use usernotify::core::{
    format_iso8601, Field, InvalidNotification, Json, Millis, Notification, Priority,
};

use crate::body::{parse_json, read_body};
use crate::clock::now_millis;
use crate::config::StaticDir;
use crate::deliveries::DeliveryInfo;
use crate::egress::PushPolicy;
use crate::error::{graph_error_body, ApiError, InternalError};
use crate::identity::{Caller, SubscriptionHeader};
use crate::ids::{looks_like_id, new_id};
use crate::push::{check_endpoint, decode_key, is_valid_p256dh};
use crate::store::{FeedItem, LoggedChange, NewSubscription, Registration, SubscriptionInfo};
use crate::{openapi, ops, AppState};

/// The header naming the user notification subscription a post is for.
pub const X_UNS: &str = "x-uns";
/// Longest `displayName` stored; it is only a label for the user's devices.
const MAX_DISPLAY_NAME_CHARS: usize = 256;
/// Longest DNS name.
const MAX_HOST_NAME_CHARS: usize = 253;

/// The API routes alone, with no fallback and no state yet: merge them into another router
/// (e.g. the demo's) and call `.with_state(state)`; wrap with [`finish`] for Graph error
/// bodies on 405 and the request log.
pub fn api_routes() -> Router<AppState> {
    route_table()
        .into_iter()
        .fold(Router::new(), |router, (path, methods)| {
            router.route(path, methods)
        })
}

/// Every route, one entry per path: [`api_routes`] is made of this table, and a test holds
/// `/openapi.json` to it (every path here in the document with its methods, nothing more).
pub fn route_table() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/vapidPublicKey", get(vapid_public_key)),
        ("/me/notificationSubscriptions", post(create_subscription)),
        ("/me/notificationSubscriptions/", post(create_subscription)),
        (
            "/me/notificationSubscriptions/{id}",
            delete(delete_subscription),
        ),
        (
            "/me/notifications",
            post(create_notification).get(list_notifications),
        ),
        (
            "/me/notifications/",
            post(create_notification).get(list_notifications),
        ),
        (
            "/me/notifications/{id}",
            patch(update_notification).delete(delete_notification),
        ),
        ("/me/notifications/{id}/deliveries", get(list_deliveries)),
        ("/me/notifications/changes", get(change_stream)),
        (
            "/me/notificationPreferences",
            get(get_preferences).patch(patch_preferences),
        ),
        ("/healthz", get(ops::healthz)),
        ("/readyz", get(ops::readyz)),
        ("/metrics", get(ops::metrics)),
        ("/openapi.json", get(openapi::document)),
    ]
}

/// The whole service: the API, then the static directories (a `/` mount serves every path
/// the API does not), else Graph's 404 for unknown paths; CORS for `cors_origins`.
pub fn router(state: AppState, static_dirs: &[StaticDir], cors_origins: &[String]) -> Router {
    let mut app: Router = api_routes().with_state(state);
    let mut root = None;
    for dir in static_dirs {
        let mount = dir.mount.trim_end_matches('/');
        let files = static_files(&dir.dir);
        if mount.is_empty() {
            root = Some(files);
        } else {
            app = app.nest_service(mount, files);
        }
    }
    app = match root {
        Some(serve) => app.fallback_service(serve),
        None => app.fallback(not_found),
    };
    let app = finish(app);
    match cors(cors_origins) {
        Some(layer) => app.layer(layer),
        None => app,
    }
}

/// A static directory. `Service-Worker-Allowed: /` lets the package's worker, served from
/// `/pkg/`, control the whole site, as the demo and web apps register it.
fn static_files(
    dir: &std::path::Path,
) -> tower_http::set_header::SetResponseHeader<ServeDir, HeaderValue> {
    tower_http::set_header::SetResponseHeader::overriding(
        ServeDir::new(dir),
        HeaderName::from_static("service-worker-allowed"),
        HeaderValue::from_static("/"),
    )
}

/// Lets pages of the listed origins call the API with a bearer token; `*` lets any
/// origin's pages call it. Credentials mode stays off either way: the API takes bearer
/// tokens, which a page must hold to send, and never reads cookies, so another origin's
/// page gets nothing it could not get by itself. `None` when no origin is listed.
pub fn cors(origins: &[String]) -> Option<CorsLayer> {
    let allow = if origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        let origins: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|origin| HeaderValue::from_str(origin).ok())
            .collect();
        if origins.is_empty() {
            return None;
        }
        AllowOrigin::list(origins)
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::CONTENT_ENCODING,
                HeaderName::from_static(X_UNS),
                // A page resuming the change stream (`GET /me/notifications/changes`).
                HeaderName::from_static("last-event-id"),
            ])
            .expose_headers([header::LOCATION, header::RETRY_AFTER])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// Adds Graph bodies to axum's own 405s and one log line per request.
pub fn finish(app: Router) -> Router {
    app.layer(middleware::map_response(graph_method_not_allowed))
        .layer(middleware::from_fn(log_request))
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// The `{id}` of a resource path. One that does not even percent-decode names nothing:
/// Graph's 404, where axum's own `Path` rejection would answer a plain-text 400.
struct ResourceId(String);

impl<S: Send + Sync> FromRequestParts<S> for ResourceId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| ResourceId(id))
            .map_err(|_| ApiError::NotFound)
    }
}

impl ResourceId {
    /// The id, or Graph's 404 when it cannot be one this service made. Called once the
    /// caller is admitted, so that a missing token is 401 whatever the path.
    fn checked(self) -> Result<String, ApiError> {
        let ResourceId(id) = self;
        looks_like_id(&id).then_some(id).ok_or(ApiError::NotFound)
    }
}

/// axum answers a known path with an unsupported method with a bare 405 (and `Allow`);
/// give it Graph's body, keeping the headers.
async fn graph_method_not_allowed(response: Response) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let error = ApiError::MethodNotAllowed;
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(
        parts,
        Body::from(graph_error_body(error.code(), &error.message())),
    )
}

/// One line per request: method, route (ids stay out of the log), status, duration.
/// Headers are never logged: they carry bearer tokens.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| request.uri().path().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        route = %route,
        status = response.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

async fn vapid_public_key(State(state): State<AppState>) -> Response {
    axum::Json(json!({ "publicKey": state.vapid().public_key() })).into_response()
}

/// The base of absolute URLs in answers: the configured public URL (production sets it),
/// else `http://` and the request's `Host` when that is a plain authority (a host name or
/// an address, and a port); else none, and the URLs are relative. A `Host` is the
/// caller's text: one with a path, a query, user info or anything else is never reflected.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = state.public_url() {
        return url.to_owned();
    }
    headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .and_then(plain_authority)
        .map(|authority| format!("http://{authority}"))
        .unwrap_or_default()
}

/// `host[:port]` rebuilt from its parts, when `text` is nothing more: a DNS name or an IPv4
/// address, or a bracketed IPv6 address, and an optional numeric port.
fn plain_authority(text: &str) -> Option<String> {
    let authority: axum::http::uri::Authority = text.parse().ok()?;
    if authority.as_str().contains('@') {
        return None;
    }
    let host = authority.host();
    let valid_host = match host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
    {
        Some(inner) => inner.parse::<std::net::Ipv6Addr>().is_ok(),
        None => {
            !host.is_empty()
                && host.len() <= MAX_HOST_NAME_CHARS
                && host
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'.')
        }
    };
    if !valid_host {
        return None;
    }
    let written_port = authority.as_str().len() > host.len();
    match authority.port_u16() {
        Some(port) => Some(format!("{host}:{port}")),
        None if written_port => None,
        None => Some(host.to_owned()),
    }
}

fn created(location: String, body: Value) -> Response {
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::try_from(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// An object body, or the core's error for an array or anything else.
fn require_object(body: &Json) -> Result<(), ApiError> {
    match body {
        Json::Object(_) => Ok(()),
        Json::Array(_) => Err(ApiError::Invalid(InvalidNotification::BodyIsArray)),
        _ => Err(ApiError::Invalid(InvalidNotification::ContractMismatch(
            Field::Root,
        ))),
    }
}

fn read_subscription(body: &Json, policy: &PushPolicy) -> Result<NewSubscription, ApiError> {
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

fn subscription_body(info: &SubscriptionInfo) -> Value {
    json!({
        "id": info.id,
        "targetHostName": info.target_host_name,
        "displayName": info.display_name,
        "createdDateTime": format_iso8601(info.created_at),
    })
}

async fn create_subscription(
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
fn demo_curl(base: &str, token: &str, info: &SubscriptionInfo, now: i64) -> String {
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

async fn delete_subscription(
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

/// The stored resource as a JSON object, with the feed's client state when `with_state`.
fn resource_value(item: &FeedItem, with_state: bool) -> Result<Map<String, Value>, ApiError> {
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

fn odata_context(base: &str, user: &str, entity: bool) -> String {
    let user: String = url::form_urlencoded::byte_serialize(user.as_bytes()).collect();
    let suffix = if entity { "/$entity" } else { "" };
    format!("{base}/$metadata#users('{user}')/notifications{suffix}")
}

/// `POST /me/notifications`, its answers counted by status for `/metrics`.
async fn create_notification(
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

async fn post_notification(
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
const WARNINGS: &str = "@usernotify.warnings";

fn unknown_field_warning(unknown: &UnknownField) -> Value {
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
fn unreached_message(
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

/// Notifications on a page of `GET /me/notifications` when the request names no `$top`.
pub const DEFAULT_PAGE: usize = 100;
/// The most notifications on one page; a larger `$top` gets pages of this size.
pub const MAX_PAGE: usize = 500;

/// The page a list request asks for: `$top` and `$skiptoken` (from an `@odata.nextLink`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PageQuery {
    top: usize,
    before: Option<i64>,
}

impl PageQuery {
    /// Reads the query string; any other OData system option (`$...`) is refused, so that a
    /// misspelt `$top` does not silently list the default page.
    fn read(query: Option<&str>) -> Result<PageQuery, ApiError> {
        let mut page = PageQuery {
            top: DEFAULT_PAGE,
            before: None,
        };
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match name.as_ref() {
                "$top" => {
                    let top: usize = value.trim().parse().map_err(|_| {
                        ApiError::InvalidQuery(format!(
                            "$top must be a whole number from 1 (pages hold at most {MAX_PAGE})."
                        ))
                    })?;
                    if top == 0 {
                        return Err(ApiError::InvalidQuery(format!(
                            "$top must be a whole number from 1 (pages hold at most {MAX_PAGE})."
                        )));
                    }
                    page.top = top.min(MAX_PAGE);
                }
                "$skiptoken" => {
                    page.before = Some(value.trim().parse().map_err(|_| {
                        ApiError::InvalidQuery(
                            "$skiptoken is not one this service gave: follow @odata.nextLink as \
                             it is."
                                .to_owned(),
                        )
                    })?);
                }
                other if other.starts_with('$') => {
                    return Err(ApiError::InvalidQuery(format!(
                        "{other} is not supported here; $top and $skiptoken are."
                    )))
                }
                _ => {}
            }
        }
        Ok(page)
    }
}

/// `GET /me/notifications`: a page of the user's unexpired notifications, newest first,
/// with `@odata.nextLink` while older ones remain (Graph's server-driven paging). Pages are
/// keyset pages: following the links lists each notification once while new ones arrive.
async fn list_notifications(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    Caller(user): Caller,
) -> Result<Response, ApiError> {
    let page = PageQuery::read(query.as_deref())?;
    let now = now_millis();
    let listed = state
        .db()
        .feed(user.clone(), page.before, page.top, now)
        .await?;
    let base = base_url(&state, &headers);
    // A page is up to a few megabytes of JSON to write: written on the blocking pool, so
    // that one user's large pages never keep the request workers from another user's call.
    let written = tokio::task::spawn_blocking(move || {
        let value = listed
            .items
            .iter()
            .map(|item| resource_value(item, true).map(Value::Object))
            .collect::<Result<Vec<_>, _>>()?;
        let mut body = json!({
            "@odata.context": odata_context(&base, &user, false),
            "value": value,
        });
        if let (Some(next), Value::Object(object)) = (listed.next, &mut body) {
            object.insert(
                "@odata.nextLink".to_owned(),
                json!(format!(
                    "{base}/me/notifications?$top={}&$skiptoken={next}",
                    page.top
                )),
            );
        }
        Ok::<_, ApiError>(body.to_string())
    })
    .await
    .map_err(|_| ApiError::Internal(InternalError::PageWriting))??;
    Ok(json_text(written))
}

/// Graph's client states; anything else (another value, another type) is refused.
fn read_state_patch(body: &Json) -> Result<(Option<&'static str>, Option<&'static str>), ApiError> {
    require_object(body)?;
    // The core's parsers name the states; the store takes them as text.
    let pick = |name: &str, parse: fn(&str) -> Option<&'static str>, why: &'static str| match body
        .get(name)
    {
        None => Ok(None),
        Some(value) => value
            .as_str()
            .and_then(parse)
            .map(Some)
            .ok_or(ApiError::InvalidState(why)),
    };
    Ok((
        pick(
            "readState",
            |text| ReadState::parse(text).ok().map(ReadState::as_str),
            "readState must be unread or read.",
        )?,
        pick(
            "userActionState",
            |text| {
                UserActionState::parse(text)
                    .ok()
                    .map(UserActionState::as_str)
            },
            "userActionState must be none, activated, dismissed or snoozed.",
        )?,
    ))
}

async fn update_notification(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: ResourceId,
    Caller(user): Caller,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(&headers, body).await?;
    let (read_state, action_state) = read_state_patch(&parse_json(&bytes)?)?;
    let id = id.checked()?;
    let now = now_millis();
    let updated = state
        .db()
        .update_state(user.clone(), id, read_state, action_state, now)
        .await?
        .ok_or(ApiError::NotFound)?;
    if let Some(change) = &updated.change {
        changed(&state, &user, change, now).await;
    }
    Ok(axum::Json(Value::Object(resource_value(&updated.item, true)?)).into_response())
}

async fn delete_notification(
    State(state): State<AppState>,
    id: ResourceId,
    Caller(user): Caller,
) -> Result<StatusCode, ApiError> {
    let id = id.checked()?;
    let change = state
        .db()
        .delete_notification(user.clone(), id)
        .await?
        .ok_or(ApiError::NotFound)?;
    changed(&state, &user, &change, now_millis()).await;
    Ok(StatusCode::NO_CONTENT)
}

/// After a change was logged: this process's streams of the user hear it at once (the
/// store tells other replicas), and each device where the change would leave a group's
/// notification redrawn gets a push that only carries changes (the core's rule,
/// [`usernotify::core::sync::change_push_visible_until`]); never during quiet hours. The
/// change is made already: a failure here only delays it to the next push or page visit.
async fn changed(state: &AppState, user: &str, change: &LoggedChange, now: Millis) {
    state.changes().wake(user);
    let Some(group) = &change.group else {
        return;
    };
    match queue_change_pushes(state, user, &change.change.id, group, now).await {
        Ok(0) => {}
        Ok(count) => {
            tracing::debug!(count, "pushes that only carry changes queued");
            state.wake_deliveries();
        }
        Err(error) => tracing::warn!(%error, "queueing pushes that only carry changes failed"),
    }
}

/// Queues a push that only carries changes to each of the user's devices where the change
/// of `id` in `group` leaves that group's notification redrawn; none in quiet hours.
async fn queue_change_pushes(
    state: &AppState,
    user: &str,
    id: &str,
    group: &str,
    now: Millis,
) -> Result<usize, crate::store::StoreError> {
    let quiet = crate::preferences::withheld(state.db(), user, None, Priority::Low, now).await?;
    if quiet.is_some() {
        return Ok(0);
    }
    let on_devices = state
        .db()
        .on_devices(user.to_owned(), None, vec![group.to_owned()])
        .await?;
    let mut by_device: BTreeMap<String, Vec<OnDevice>> = BTreeMap::new();
    for (subscription, shown) in on_devices {
        by_device.entry(subscription).or_default().push(shown);
    }
    let changed = [(id, Some(group))];
    let subscriptions: Vec<String> = by_device
        .into_iter()
        .filter(|(_, shown)| change_push_visible_until(&changed, shown, now).is_some())
        .map(|(subscription, _)| subscription)
        .collect();
    if subscriptions.is_empty() {
        return Ok(0);
    }
    state.db().queue_change_pushes(subscriptions, now).await
}

/// How many logged changes a stream reads at a time.
const STREAM_BATCH: usize = 100;
/// How often an idle stream sends a comment, so that proxies keep the connection open.
const STREAM_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// `GET /me/notifications/changes` (`Accept: text/event-stream`): the user's notification
/// changes as Server-Sent Events, each `id: <seq>` and `data: {"id", "readState",
/// "userActionState", "deleted"}`. Resumed after `Last-Event-ID`; without one (or with one
/// this log never reached, e.g. another deployment's) it starts from the oldest change kept,
/// so a new device catches up on everything that changed in the notifications' lifetime.
/// It stays open, sending each change as it is logged (on any replica), until the client
/// goes or the service stops.
async fn change_stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(user): Caller,
) -> Result<Response, ApiError> {
    let after = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<i64>().ok())
        .filter(|seq| *seq >= 0)
        .unwrap_or(0);
    // Watched before the first read, so that a change between the read and the wait wakes it.
    let max = state.limits().change_streams;
    let wake = state
        .changes()
        .watch(&user, max)
        .ok_or(ApiError::TooManyChangeStreams { max })?;
    let (first, head) = state
        .db()
        .changes_since(user.clone(), after, STREAM_BATCH)
        .await?;
    // A position beyond the log's head is not this log's: start from its beginning.
    let (first, after) = if after > head {
        let (first, _) = state
            .db()
            .changes_since(user.clone(), 0, STREAM_BATCH)
            .await?;
        (first, 0)
    } else {
        (first, after)
    };
    let stream = ChangeStream {
        db: state.db().clone(),
        user,
        after,
        more: first.len() == STREAM_BATCH,
        pending: first.into(),
        wake,
        closing: state.changes().closing(),
    };
    let events = futures_util::stream::unfold(stream, |mut stream| async move {
        let event = stream.next().await?;
        Some((Ok::<_, std::convert::Infallible>(event), stream))
    });
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(STREAM_KEEP_ALIVE))
        .into_response();
    // Proxies that buffer responses (nginx) would hold the events back.
    response.headers_mut().insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    Ok(response)
}

/// One open change stream: what it has read and not sent yet, and where it is in the log.
struct ChangeStream {
    db: crate::store::Db,
    user: String,
    /// The last `seq` read.
    after: i64,
    pending: std::collections::VecDeque<LoggedChange>,
    /// The last read filled a batch: read again before waiting.
    more: bool,
    wake: tokio::sync::watch::Receiver<()>,
    closing: tokio::sync::watch::Receiver<bool>,
}

impl ChangeStream {
    /// The next event; `None` ends the stream (the service stops, or the database failed:
    /// the client reconnects with its `Last-Event-ID`).
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(logged) = self.pending.pop_front() {
                self.after = logged.seq;
                return Some(
                    Event::default()
                        .id(logged.seq.to_string())
                        .data(logged.change.to_json()),
                );
            }
            if *self.closing.borrow() {
                return None;
            }
            if !self.more {
                tokio::select! {
                    changed = self.wake.changed() => changed.ok()?,
                    _ = self.closing.changed() => return None,
                }
            }
            match self
                .db
                .changes_since(self.user.clone(), self.after, STREAM_BATCH)
                .await
            {
                Ok((changes, _)) => {
                    self.more = changes.len() == STREAM_BATCH;
                    self.pending = changes.into();
                }
                Err(error) => {
                    tracing::warn!(%error, "reading the change log for a stream failed; it ends");
                    return None;
                }
            }
        }
    }
}

/// `GET /me/notificationPreferences`: the user's preferences (the defaults until set).
async fn get_preferences(
    State(state): State<AppState>,
    Caller(user): Caller,
) -> Result<Response, ApiError> {
    let (preferences, _) = crate::preferences::load(state.db(), &user).await?;
    Ok(json_text(preferences.to_json()))
}

/// `PATCH /me/notificationPreferences`: a member present replaces it (`quietHours: null`
/// clears it), one absent stays; validated by the core (the browser's page API checks the
/// same), the time zone against the service's time zone database. Answers the whole
/// preferences as stored.
async fn patch_preferences(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(user): Caller,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(&headers, body).await?;
    let patch = parse_json(&bytes)?;
    // Two requests at once: the second reads again and applies its patch to the first's.
    for _ in 0..5 {
        let (current, version) = crate::preferences::load(state.db(), &user).await?;
        let patched = current
            .patched(&&patch)
            .map_err(ApiError::InvalidPreferences)?;
        if let Some(hours) = &patched.quiet_hours {
            if !crate::preferences::is_known_time_zone(&hours.time_zone) {
                return Err(ApiError::InvalidPreferences(
                    InvalidPreferences::InvalidTimeZone,
                ));
            }
        }
        let text = patched.to_json();
        let stored = state
            .db()
            .put_preferences(user.clone(), text.clone(), version, now_millis())
            .await?;
        if stored {
            return Ok(json_text(text));
        }
    }
    Err(ApiError::Busy)
}

/// A JSON answer from text already written (by the core, or the OpenAPI document).
pub(crate) fn json_text(text: impl IntoResponse) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// `GET /me/notifications/{id}/deliveries`: where the notification stands for each of the
/// user's subscriptions (CONTRACT §5).
async fn list_deliveries(
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

fn delivery_body(delivery: &DeliveryInfo) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_host_and_port_is_taken_from_the_host_header() {
        for (host, base) in [
            ("notify.example.com", "notify.example.com"),
            ("127.0.0.1:8080", "127.0.0.1:8080"),
            ("[::1]:8080", "[::1]:8080"),
            ("Notify.Example.com", "Notify.Example.com"),
        ] {
            assert_eq!(plain_authority(host).as_deref(), Some(base), "{host}");
        }
        for host in [
            "evil.example/x?y=",
            "evil.example?y=",
            "evil.example#x",
            "user@evil.example",
            "evil.example:",
            "evil.example:http",
            "evil.example:99999",
            "evil_example",
            "[not-v6]",
            "",
            "a b",
        ] {
            assert_eq!(plain_authority(host), None, "{host:?}");
        }
    }
}
