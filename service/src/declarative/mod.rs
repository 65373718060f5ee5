//! The push body: the Graph resource as stored, and beside it a Declarative Web Push
//! message (W3C Push API, 2025), so that a browser that shows push notifications without a
//! service worker (Safari 18.4 and later on iOS, 18.5 on macOS) shows this one too.
//!
//! The message is written as WebKit's parser reads it (`NotificationJSONParser::
//! parseNotificationPayload`, WebKit's `Source/WebCore/Modules/notifications`): `web_push`
//! 8030, and in `notification` the title, `navigate`, `app_badge` and `mutable`. WebKit
//! refuses the whole message when any member it reads has the wrong type, so the tests below
//! hold every body this module can make to those types. `app_badge` and `mutable` are also
//! written at the top level, where the Push API's parser text reads them
//! (`message["app_badge"]`, w3c/push-api#402): a browser that follows the specification
//! rather than WebKit still sets the badge; the copy costs about 30 bytes.
//!
//! Browsers without Declarative Web Push hand the whole body to the worker's `push`, which
//! reads the resource and ignores the rest. Those with it show `notification` themselves;
//! since it is `mutable`, a worker that runs gets it first (`push` with
//! `event.notification`, WebKit's `pushnotification`) and reads the resource again from
//! `notification.data`, so its decisions (expiry, the feed, group counts) still apply.
//!
//! Everything must fit one Web Push message (4,096 bytes encrypted, [`MAX_PUSH_JSON_BYTES`]
//! of JSON). The resource always does (a larger one is refused when posted). When both
//! parts do not fit, the declarative notification loses its members in [`DROP_ORDER`], one
//! at a time, and when even the least of it (title, `navigate`, `tag`, the resource in
//! `data`) does not fit, the declarative part goes and the resource is sent alone. The title
//! is never dropped: it is in the resource, and in the declarative part while there is one.

use serde_json::{json, Map, Value};
use url::Url;
use usernotify::core::display::tag_of;
use usernotify::core::notification::{DECLARATIVE_PUSH, MAX_PUSH_JSON_BYTES};

/// The members of the declarative `notification` dropped while the body does not fit, first
/// dropped first: the pictures and buttons (the largest image first), then the body text.
pub const DROP_ORDER: [&str; 5] = ["image", "actions", "badge", "icon", "body"];

/// The largest `app_badge` sent. WebKit reads a number as a C `int`
/// (`JSON::Value::asInteger`), so a larger one would turn negative there and make it refuse
/// the whole message; no badge shows a number that large anyway.
pub const MAX_APP_BADGE: u64 = i32::MAX as u64;

/// The body to push for a stored `resource` (JSON text): the resource with the declarative
/// members beside it (`web_push`, `notification`, `app_badge` when the user's unread count
/// is known, `mutable`), or the resource alone when it has no visual content or target host
/// (a declarative message needs a title and a URL), or when the declarative part cannot fit.
pub fn with_declarative_members(resource: &str, app_badge: Option<u64>) -> String {
    dual_body(resource, app_badge).unwrap_or_else(|| resource.to_owned())
}

fn dual_body(resource: &str, app_badge: Option<u64>) -> Option<String> {
    let graph: Map<String, Value> = serde_json::from_str(resource).ok()?;
    let mut notification = declarative_notification(&graph)?;
    let mut body = graph.clone();
    body.insert("web_push".to_owned(), json!(DECLARATIVE_PUSH as u64));
    if let Some(count) = app_badge {
        let count = json!(count.min(MAX_APP_BADGE));
        notification.insert("app_badge".to_owned(), count.clone());
        body.insert("app_badge".to_owned(), count);
    }
    body.insert("mutable".to_owned(), json!(true));
    let mut drops = DROP_ORDER.iter();
    loop {
        body.insert(
            "notification".to_owned(),
            Value::Object(notification.clone()),
        );
        let bytes = serde_json::to_string(&body).ok()?;
        if bytes.len() <= MAX_PUSH_JSON_BYTES {
            return Some(bytes);
        }
        let next = drops.find(|name| notification.contains_key(**name))?;
        notification.remove(*next);
    }
}

/// The declarative `notification` for a Graph resource: its title and body, `navigate` (the
/// click URL, else the app's root), `tag` (the one the worker shows it under, so that what
/// the worker shows later replaces it), the pictures and buttons with absolute URLs, `silent`
/// for Low priority and `requireInteraction` for High, the resource itself in `data`, and
/// `mutable`. URLs are made absolute against `https://` and the resource's `targetHostName`
/// (the app's origin as the service knows it: Safari reads only absolute URLs); one of
/// another origin becomes the app's root, as the worker's click would.
fn declarative_notification(graph: &Map<String, Value>) -> Option<Map<String, Value>> {
    fn text(value: Option<&Value>) -> Option<&str> {
        value
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
    }
    let visual = graph.get("payload")?.get("visualContent")?;
    let title = text(visual.get("title"))?;
    let root = Url::parse(&format!("https://{}/", text(graph.get("targetHostName"))?)).ok()?;
    let same_origin = |url: Option<&str>| -> String {
        url.and_then(|url| root.join(url).ok())
            .filter(|url| url.origin() == root.origin())
            .unwrap_or_else(|| root.clone())
            .into()
    };
    let navigate = same_origin(text(visual.get("url")));
    let mut notification = Map::new();
    notification.insert("title".to_owned(), json!(title));
    if let Some(body) = text(visual.get("body")) {
        notification.insert("body".to_owned(), json!(body));
    }
    notification.insert("navigate".to_owned(), json!(navigate));
    let key = text(graph.get("id")).or_else(|| text(graph.get("appNotificationId")));
    if let Some(key) = key {
        let tag = tag_of(text(graph.get("groupName")), key);
        notification.insert("tag".to_owned(), json!(tag));
    }
    for name in ["icon", "image", "badge"] {
        // Validated when posted: an https URL or a path of the app's origin.
        if let Some(url) = text(visual.get(name)).and_then(|url| root.join(url).ok()) {
            notification.insert(name.to_owned(), json!(String::from(url)));
        }
    }
    let actions: Vec<Value> = visual
        .get("actions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|action| {
            let url = text(action.get("url"))
                .map_or_else(|| navigate.clone(), |url| same_origin(Some(url)));
            Some(json!({
                "action": text(action.get("action"))?,
                "title": text(action.get("title"))?,
                "navigate": url,
            }))
        })
        .collect();
    if !actions.is_empty() {
        notification.insert("actions".to_owned(), Value::Array(actions));
    }
    match text(graph.get("priority")) {
        Some("Low") => {
            notification.insert("silent".to_owned(), json!(true));
        }
        Some("High") => {
            notification.insert("requireInteraction".to_owned(), json!(true));
        }
        _ => {}
    }
    notification.insert("data".to_owned(), Value::Object(graph.clone()));
    notification.insert("mutable".to_owned(), json!(true));
    Some(notification)
}

#[cfg(test)]
mod tests;
