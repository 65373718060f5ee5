//! The user's feed: `GET /me/notifications` (paged), `PATCH` and `DELETE
//! /me/notifications/{id}`.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use usernotify::core::feed::{ReadState, UserActionState};
use usernotify::core::Json;

use crate::body::{parse_json, read_body};
use crate::changes::stream::changed;
use crate::clock::now_millis;
use crate::error::{ApiError, InternalError};
use crate::identity::Caller;
use crate::notifications::post::{odata_context, resource_value};
use crate::routes::{base_url, json_text, require_object, ResourceId};
use crate::AppState;

/// Notifications on a page of `GET /me/notifications` when the request names no `$top`.
pub const DEFAULT_PAGE: usize = 100;
/// The most notifications on one page; a larger `$top` gets pages of this size.
pub const MAX_PAGE: usize = 500;

/// The page a list request asks for: `$top` and `$skiptoken` (from an `@odata.nextLink`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageQuery {
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
pub(crate) async fn list_notifications(
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
pub(crate) fn read_state_patch(
    body: &Json,
) -> Result<(Option<&'static str>, Option<&'static str>), ApiError> {
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

pub(crate) async fn update_notification(
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

pub(crate) async fn delete_notification(
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
