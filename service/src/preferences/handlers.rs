//! `GET` and `PATCH /me/notificationPreferences`.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use usernotify::core::preferences::InvalidPreferences;

use crate::body::{parse_json, read_body};
use crate::clock::now_millis;
use crate::error::ApiError;
use crate::identity::Caller;
use crate::routes::json_text;
use crate::AppState;

/// `GET /me/notificationPreferences`: the user's preferences (the defaults until set).
pub(crate) async fn get_preferences(
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
pub(crate) async fn patch_preferences(
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
