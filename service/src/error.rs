//! Graph's error body, `{"error":{"code":...,"message":...}}`, with stable kebab-case codes.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use usernotify::core::InvalidNotification;

use crate::ids::RandomUnavailable;
use crate::store::StoreError;

/// Every way a request is refused. `code()` and `status()` are the contract's error table.
#[derive(Debug)]
pub enum ApiError {
    /// The body failed the core's validation (array, contract mismatch, malformed JSON, ...).
    Invalid(InvalidNotification),
    /// `If-Modified-Since` or `If-Range`: Graph never supported conditional requests here.
    UnsupportedHeader(&'static str),
    MissingUns,
    /// A subscription body that cannot be pushed to; the text says which part.
    InvalidSubscription(&'static str),
    /// A PATCH with a state Graph does not define.
    InvalidState(&'static str),
    /// A compressed body that does not decompress.
    UndecodableBody,
    Unauthorized,
    CallerBlocked,
    NotAllowedForUser,
    NotFound,
    MethodNotAllowed,
    UnsupportedEncoding,
    RateLimited {
        retry_after_secs: u64,
    },
    Busy,
    /// The request body (or what it decompresses to) is over the service's limit.
    RequestTooLarge,
    /// The stored resource would not fit a Web Push message.
    TooLargeToPush {
        bytes: usize,
    },
    Internal(InternalError),
}

/// Failures that are the service's fault; logged in full, answered without detail.
#[derive(Debug)]
pub enum InternalError {
    Store(StoreError),
    Random(RandomUnavailable),
    CorruptResource,
}

impl std::fmt::Display for InternalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InternalError::Store(error) => write!(f, "store: {error}"),
            InternalError::Random(error) => write!(f, "{error}"),
            InternalError::CorruptResource => f.write_str("a stored resource is not JSON"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        if error.is_busy() {
            ApiError::Busy
        } else {
            ApiError::Internal(InternalError::Store(error))
        }
    }
}

impl From<RandomUnavailable> for ApiError {
    fn from(error: RandomUnavailable) -> ApiError {
        ApiError::Internal(InternalError::Random(error))
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid(_)
            | ApiError::UnsupportedHeader(_)
            | ApiError::MissingUns
            | ApiError::InvalidSubscription(_)
            | ApiError::InvalidState(_)
            | ApiError::UndecodableBody => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::CallerBlocked | ApiError::NotAllowedForUser => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedEncoding => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } | ApiError::Busy => StatusCode::NOT_ACCEPTABLE,
            ApiError::RequestTooLarge | ApiError::TooLargeToPush { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Invalid(invalid) => invalid.code(),
            ApiError::UnsupportedHeader(_) => "unsupported-header",
            ApiError::MissingUns => "missing-x-uns",
            ApiError::InvalidSubscription(_) => "invalid-subscription",
            ApiError::InvalidState(_) => "invalid-state",
            ApiError::UndecodableBody => "undecodable-body",
            ApiError::Unauthorized => "unauthorized",
            ApiError::CallerBlocked => "caller-blocked",
            ApiError::NotAllowedForUser => "caller-not-allowed",
            ApiError::NotFound => "not-found",
            ApiError::MethodNotAllowed => "method-not-allowed",
            ApiError::UnsupportedEncoding => "unsupported-content-encoding",
            ApiError::RateLimited { .. } => "throttled",
            ApiError::Busy => "server-busy",
            ApiError::RequestTooLarge => "request-too-large",
            ApiError::TooLargeToPush { .. } => "too-large-to-push",
            ApiError::Internal(_) => "internal-error",
        }
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::Invalid(invalid) => invalid.message(),
            ApiError::UnsupportedHeader(name) => format!("The {name} header is not supported."),
            ApiError::MissingUns => {
                "The X-UNS header (the user notification subscription id) is required.".to_owned()
            }
            ApiError::InvalidSubscription(why) | ApiError::InvalidState(why) => (*why).to_owned(),
            ApiError::UndecodableBody => {
                "The body does not decode with its Content-Encoding.".to_owned()
            }
            ApiError::Unauthorized => "A valid bearer token is required.".to_owned(),
            ApiError::CallerBlocked => "The caller is blocked.".to_owned(),
            ApiError::NotAllowedForUser => {
                "The caller may not act for the user of this subscription.".to_owned()
            }
            ApiError::NotFound => "No such resource.".to_owned(),
            ApiError::MethodNotAllowed => "The HTTP method is not supported here.".to_owned(),
            ApiError::UnsupportedEncoding => {
                "Content-Encoding must be gzip or deflate, or absent.".to_owned()
            }
            ApiError::RateLimited { .. } => {
                "Too many requests; retry after the time in Retry-After.".to_owned()
            }
            ApiError::Busy => "The server is busy; retry shortly.".to_owned(),
            ApiError::RequestTooLarge => "The request body is too large.".to_owned(),
            ApiError::TooLargeToPush { bytes } => format!(
                "The notification is {bytes} bytes of JSON; a push holds at most {}.",
                usernotify::core::notification::MAX_PUSH_JSON_BYTES
            ),
            ApiError::Internal(_) => "Something went wrong on the server.".to_owned(),
        }
    }
}

/// Graph's error body for `status`, `code` and `message`.
pub fn graph_error_body(code: &str, message: &str) -> String {
    serde_json::json!({ "error": { "code": code, "message": message } }).to_string()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(error) = &self {
            tracing::error!(%error, "request failed");
        }
        let mut response =
            Response::new(Body::from(graph_error_body(self.code(), &self.message())));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        match &self {
            ApiError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            ApiError::Busy => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}
