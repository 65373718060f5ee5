//! The extractors a handler names its caller and a post's `X-UNS` with, as in axum's JWT
//! example: a handler that takes them runs only once they are admitted, and a refusal is
//! Graph's error.

use std::time::Instant;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::body::check_encoding;
use crate::error::ApiError;
use crate::routes::X_UNS;
use crate::AppState;

/// The user a request acts for ("me"), admitted by the gate: a known bearer token or JWT
/// (else 401), not blocked (403), within its rate (406), and no `If-Modified-Since` or
/// `If-Range` (400). Extracted after the path's `{id}`, so that an id that cannot even be
/// decoded is 404 with or without a token, as before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub String);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state
            .gate()
            .admit(&parts.headers, Instant::now())
            .await
            .map(Caller)
    }
}

/// A post's `X-UNS`: the subscription (UNSID) whose user the notification is for. The
/// body's `Content-Encoding` is checked first, so that a post with neither a supported
/// encoding nor `X-UNS` is 415, as Graph's table orders them; no `X-UNS` is 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionHeader(pub String);

impl<S: Send + Sync> FromRequestParts<S> for SubscriptionHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        check_encoding(&parts.headers)?;
        parts
            .headers
            .get(X_UNS)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(|uns| SubscriptionHeader(uns.to_owned()))
            .ok_or(ApiError::MissingUns)
    }
}
