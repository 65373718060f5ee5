//! The REST API of CONTRACT §3, Graph's error bodies, and the request log.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{FromRequestParts, MatchedPath, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, MethodRouter};
use axum::Router;
use serde_json::{json, Value};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;
use usernotify::core::{Field, InvalidNotification, Json};

use crate::changes::stream::change_stream;
use crate::config::StaticDir;
use crate::deliveries::handler::list_deliveries;
use crate::error::{graph_error_body, ApiError};
use crate::ids::looks_like_id;
use crate::notifications::feed::{delete_notification, list_notifications, update_notification};
use crate::notifications::post::create_notification;
use crate::preferences::handlers::{get_preferences, patch_preferences};
use crate::subscriptions::handlers::{create_subscription, delete_subscription};
use crate::{openapi, ops, AppState};

/// The header naming the user notification subscription a post is for.
pub const X_UNS: &str = "x-uns";
/// Longest DNS name.
pub(crate) const MAX_HOST_NAME_CHARS: usize = 253;

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
pub(crate) struct ResourceId(String);

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
    pub(crate) fn checked(self) -> Result<String, ApiError> {
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
pub(crate) fn base_url(state: &AppState, headers: &HeaderMap) -> String {
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

pub(crate) fn created(location: String, body: Value) -> Response {
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::try_from(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// An object body, or the core's error for an array or anything else.
pub(crate) fn require_object(body: &Json) -> Result<(), ApiError> {
    match body {
        Json::Object(_) => Ok(()),
        Json::Array(_) => Err(ApiError::Invalid(InvalidNotification::BodyIsArray)),
        _ => Err(ApiError::Invalid(InvalidNotification::ContractMismatch(
            Field::Root,
        ))),
    }
}

/// A JSON answer from text already written (by the core, or the OpenAPI document).
pub(crate) fn json_text(text: impl IntoResponse) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
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
