//! The push body: the Graph resource as stored, and beside it a Declarative Web Push
//! message (W3C Push API, 2025), so that a browser that shows push notifications without a
//! service worker (Safari 18.4 and later on iOS, 18.5 on macOS) shows this one too. It is
//! written here, beside its reader ([`Notification::read_push`] and
//! [`Notification::read_declarative`]), so that one host test runs both ends.
//!
//! The message is written as WebKit's parser reads it (`NotificationJSONParser::
//! parseNotificationPayload`, WebKit's `Source/WebCore/Modules/notifications`): `web_push`
//! 8030, and in `notification` the title, `navigate`, `app_badge` and `mutable`. WebKit
//! refuses the whole message when any member it reads has the wrong type, so the host tests
//! (`tests/core_declarative/`) hold every body this module can make to those types.
//! `app_badge` and `mutable` are also written at the top level, where the Push API's parser
//! text reads them (`message["app_badge"]`, w3c/push-api#402): a browser that follows the
//! specification rather than WebKit still sets the badge; the copy costs about 30 bytes.
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
//!
//! Senders write the message and run on hosts; the worker only reads it. So this module is
//! host only, and the `url` crate it makes URLs absolute with is a host dependency: the wasm
//! build neither compiles nor ships a URL parser.
//!
//! [`Notification::read_push`]: super::Notification::read_push
//! [`Notification::read_declarative`]: super::Notification::read_declarative

use alloc::borrow::ToOwned;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use url::Url;

use super::display::tag_of;
use super::json::{open_object, write_string, Json, ObjectWriter};
use super::notification::{DECLARATIVE_PUSH, MAX_PUSH_JSON_BYTES};

/// The members of the declarative `notification` dropped while the body does not fit, first
/// dropped first: the pictures and buttons (the largest image first), then the body text.
pub const DROP_ORDER: [&str; 5] = ["image", "actions", "badge", "icon", "body"];

/// The largest `app_badge` sent. WebKit reads a number as a C `int`
/// (`JSON::Value::asInteger`), so a larger one would turn negative there and make it refuse
/// the whole message; no badge shows a number that large anyway.
pub const MAX_APP_BADGE: u64 = i32::MAX as u64;

/// The body to push for a stored `resource` (JSON text, as the service stored it), read
/// from `parsed`, that text parsed into the core's tree: the resource with the declarative
/// members beside it (`web_push`, `notification`, `app_badge` when the user's unread count
/// is known, `mutable`), or the resource alone when it has no visual content or target host
/// (a declarative message needs a title and a URL), or when the declarative part cannot fit.
///
/// The core parses no text (the worker reads what `JSON.parse` made; hosts parse with
/// serde_json), so the caller hands both: the tree is only read, and the text is what is
/// sent, its members and the copy in `data` byte for byte as stored. A stored resource (the
/// core's `Notification::to_json`) has none of the members added here.
pub fn with_declarative_members(resource: &str, parsed: &Json, app_badge: Option<u64>) -> String {
    dual_body(resource, parsed, app_badge).unwrap_or_else(|| resource.to_owned())
}

/// The declarative `notification`'s members, each written as JSON, in the order written.
type Members = Vec<(&'static str, String)>;

fn dual_body(resource: &str, graph: &Json, app_badge: Option<u64>) -> Option<String> {
    let mut notification = declarative_notification(resource, graph)?;
    let app_badge = app_badge.map(|count| count.min(MAX_APP_BADGE) as i64);
    if let Some(count) = app_badge {
        notification.push(("app_badge", count.to_string()));
    }
    let head = open_object(resource)?;
    let mut drops = DROP_ORDER.iter();
    loop {
        let mut members = ObjectWriter::default().int("web_push", DECLARATIVE_PUSH as i64);
        if let Some(count) = app_badge {
            members = members.int("app_badge", count);
        }
        let members = members
            .bool("mutable", true)
            .raw("notification", &object(&notification))
            .end();
        // After the resource's members, these without their `{`.
        let body = alloc::format!("{head}{}", members.strip_prefix('{')?);
        if body.len() <= MAX_PUSH_JSON_BYTES {
            return Some(body);
        }
        let next = drops.find(|name| notification.iter().any(|(member, _)| member == *name))?;
        notification.retain(|(member, _)| member != next);
    }
}

/// The declarative `notification` for a Graph resource: its title and body, `navigate` (the
/// click URL, else the app's root), `tag` (the one the worker shows it under, so that what
/// the worker shows later replaces it), the pictures and buttons with absolute URLs, `silent`
/// for Low priority and `requireInteraction` for High, `mutable`, and the resource itself in
/// `data`. URLs are made absolute against `https://` and the resource's `targetHostName`
/// (the app's origin as the service knows it: Safari reads only absolute URLs); one of
/// another origin becomes the app's root, as the worker's click would.
fn declarative_notification(resource: &str, graph: &Json) -> Option<Members> {
    fn text(value: Option<&Json>) -> Option<&str> {
        value.and_then(Json::as_str).filter(|text| !text.is_empty())
    }
    let visual = graph.get("payload")?.get("visualContent")?;
    let title = text(visual.get("title"))?;
    let root = Url::parse(&alloc::format!(
        "https://{}/",
        text(graph.get("targetHostName"))?
    ))
    .ok()?;
    let same_origin = |url: Option<&str>| -> String {
        url.and_then(|url| root.join(url).ok())
            .filter(|url| url.origin() == root.origin())
            .unwrap_or_else(|| root.clone())
            .into()
    };
    let navigate = same_origin(text(visual.get("url")));
    let mut notification: Members = Vec::new();
    notification.push(("title", string(title)));
    if let Some(body) = text(visual.get("body")) {
        notification.push(("body", string(body)));
    }
    notification.push(("navigate", string(&navigate)));
    let key = text(graph.get("id")).or_else(|| text(graph.get("appNotificationId")));
    if let Some(key) = key {
        let tag = tag_of(text(graph.get("groupName")), key);
        notification.push(("tag", string(&tag)));
    }
    for name in ["icon", "image", "badge"] {
        // Validated when posted: an https URL or a path of the app's origin.
        if let Some(url) = text(visual.get(name)).and_then(|url| root.join(url).ok()) {
            notification.push((name, string(url.as_str())));
        }
    }
    let actions: Vec<String> = match visual.get("actions") {
        Some(Json::Array(actions)) => actions
            .iter()
            .filter_map(|action| {
                let url = text(action.get("url"))
                    .map_or_else(|| navigate.clone(), |url| same_origin(Some(url)));
                Some(
                    ObjectWriter::default()
                        .str("action", text(action.get("action"))?)
                        .str("title", text(action.get("title"))?)
                        .str("navigate", &url)
                        .end(),
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    if !actions.is_empty() {
        notification.push(("actions", alloc::format!("[{}]", actions.join(","))));
    }
    match text(graph.get("priority")) {
        Some("Low") => notification.push(("silent", "true".to_owned())),
        Some("High") => notification.push(("requireInteraction", "true".to_owned())),
        _ => {}
    }
    notification.push(("mutable", "true".to_owned()));
    notification.push(("data", resource.trim().to_owned()));
    Some(notification)
}

/// An object of members already written as JSON.
fn object(members: &Members) -> String {
    members
        .iter()
        .fold(ObjectWriter::default(), |object, (name, value)| {
            object.raw(name, value)
        })
        .end()
}

/// `text` as a JSON string.
fn string(text: &str) -> String {
    let mut out = String::new();
    write_string(text, &mut out);
    out
}
