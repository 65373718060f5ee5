//! Graph's error body, `{"error":{"code":...,"message":...}}`, with stable kebab-case codes.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use usernotify::core::preferences::InvalidPreferences;
use usernotify::core::InvalidNotification;

use crate::ids::RandomUnavailable;
use crate::oidc::TokenRejected;
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
    /// Preferences the core refused (its stable code), or a time zone the service's
    /// database does not know.
    InvalidPreferences(InvalidPreferences),
    /// A compressed body that does not decompress.
    UndecodableBody,
    /// The body did not arrive within the time a client has for it (a slow client).
    BodyTimedOut,
    /// No bearer token at all.
    Unauthorized,
    /// A bearer token that names nobody: unknown, or a JWT that does not verify.
    InvalidToken(TokenRejected),
    /// The identity provider's keys could not be fetched, so a JWT could not be checked.
    IdentityUnavailable {
        retry_after_secs: u64,
    },
    /// `/readyz`: the service cannot serve yet (the database does not answer).
    NotReady(&'static str),
    CallerBlocked,
    NotAllowedForUser,
    NotFound,
    MethodNotAllowed,
    UnsupportedEncoding,
    RateLimited {
        retry_after_secs: u64,
    },
    Busy,
    /// The database cannot be reached (PostgreSQL down or restarting): try again shortly.
    Unavailable,
    /// The request body (or what it decompresses to) is over the service's limit.
    RequestTooLarge,
    /// The stored resource would not fit a Web Push message.
    TooLargeToPush {
        bytes: usize,
    },
    /// The user already has the most push subscriptions the service keeps.
    SubscriptionLimit {
        max: usize,
    },
    /// The user already holds the most change streams open that the service allows.
    TooManyChangeStreams {
        max: usize,
    },
    /// A query option that is not supported, or a value it cannot take; the text says which.
    InvalidQuery(String),
    Internal(InternalError),
}

/// Failures that are the service's fault; logged in full, answered without detail.
#[derive(Debug)]
pub enum InternalError {
    Store(StoreError),
    Random(RandomUnavailable),
    CorruptResource,
    MetricsEncoding,
    /// The task writing a page of the feed failed.
    PageWriting,
}

impl std::fmt::Display for InternalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InternalError::Store(error) => write!(f, "store: {error}"),
            InternalError::Random(error) => write!(f, "{error}"),
            InternalError::CorruptResource => f.write_str("a stored resource is not JSON"),
            InternalError::MetricsEncoding => f.write_str("the metrics could not be written"),
            InternalError::PageWriting => f.write_str("a page of the feed could not be written"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        if error.is_busy() {
            ApiError::Busy
        } else if error.is_unavailable() {
            tracing::warn!(%error, "the database cannot be reached");
            ApiError::Unavailable
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
            | ApiError::InvalidPreferences(_)
            | ApiError::InvalidQuery(_)
            | ApiError::UndecodableBody => StatusCode::BAD_REQUEST,
            ApiError::SubscriptionLimit { .. } => StatusCode::CONFLICT,
            ApiError::TooManyChangeStreams { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unauthorized | ApiError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            ApiError::IdentityUnavailable { .. } | ApiError::NotReady(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::CallerBlocked | ApiError::NotAllowedForUser => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedEncoding => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } | ApiError::Busy => StatusCode::NOT_ACCEPTABLE,
            ApiError::RequestTooLarge | ApiError::TooLargeToPush { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::BodyTimedOut => StatusCode::REQUEST_TIMEOUT,
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
            ApiError::InvalidPreferences(invalid) => invalid.code(),
            ApiError::UndecodableBody => "undecodable-body",
            ApiError::BodyTimedOut => "request-timeout",
            ApiError::Unauthorized | ApiError::InvalidToken(_) => "unauthorized",
            ApiError::IdentityUnavailable { .. } => "identity-provider-unavailable",
            ApiError::NotReady(_) => "not-ready",
            ApiError::CallerBlocked => "caller-blocked",
            ApiError::NotAllowedForUser => "caller-not-allowed",
            ApiError::NotFound => "not-found",
            ApiError::MethodNotAllowed => "method-not-allowed",
            ApiError::UnsupportedEncoding => "unsupported-content-encoding",
            ApiError::RateLimited { .. } => "throttled",
            ApiError::Busy => "server-busy",
            ApiError::Unavailable => "service-unavailable",
            ApiError::RequestTooLarge => "request-too-large",
            ApiError::TooLargeToPush { .. } => "too-large-to-push",
            ApiError::SubscriptionLimit { .. } => "subscription-limit",
            ApiError::TooManyChangeStreams { .. } => "too-many-change-streams",
            ApiError::InvalidQuery(_) => "invalid-query",
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
            ApiError::InvalidPreferences(invalid) => invalid.message(),
            ApiError::UndecodableBody => {
                "The body does not decode with its Content-Encoding.".to_owned()
            }
            ApiError::BodyTimedOut => {
                "The request body did not arrive in time; send it whole, at once.".to_owned()
            }
            ApiError::Unauthorized => "A valid bearer token is required.".to_owned(),
            ApiError::InvalidToken(rejected) => rejected.message().to_owned(),
            ApiError::IdentityUnavailable { .. } => {
                "The identity provider's keys cannot be fetched; retry later.".to_owned()
            }
            ApiError::NotReady(why) => (*why).to_owned(),
            ApiError::CallerBlocked => "The caller is blocked.".to_owned(),
            ApiError::NotAllowedForUser => {
                "The X-UNS subscription is unknown, or belongs to another user than the caller's."
                    .to_owned()
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
            ApiError::Unavailable => {
                "The service cannot reach its database; retry shortly.".to_owned()
            }
            ApiError::RequestTooLarge => "The request body is too large.".to_owned(),
            ApiError::TooLargeToPush { bytes } => format!(
                "The notification is {bytes} bytes of JSON; a push holds at most {}.",
                usernotify::core::notification::MAX_PUSH_JSON_BYTES
            ),
            ApiError::SubscriptionLimit { max } => format!(
                "This user already has {max} push subscriptions, the most this service keeps \
                 for one user. Remove one that is no longer used \
                 (DELETE /me/notificationSubscriptions/{{id}}), or have the operator raise \
                 USERNOTIFY_MAX_SUBSCRIPTIONS_PER_USER."
            ),
            ApiError::TooManyChangeStreams { max } => format!(
                "This user already holds {max} change streams open, the most this service \
                 allows. Close one (a page that is hidden need not keep its stream), retry \
                 after the time in Retry-After, or have the operator raise \
                 USERNOTIFY_MAX_CHANGE_STREAMS_PER_USER."
            ),
            ApiError::InvalidQuery(why) => why.clone(),
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
            // RFC 6750 §3.1: a token was presented and is not accepted.
            ApiError::InvalidToken(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            ApiError::IdentityUnavailable { retry_after_secs }
            | ApiError::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            ApiError::Busy => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::TooManyChangeStreams { .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
            }
            ApiError::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}
