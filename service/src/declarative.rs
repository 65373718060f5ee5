//! The push body: the Graph resource as stored, and beside it a Declarative Web Push
//! message (W3C Push API, 2025), so that a browser that shows push notifications without a
//! service worker (Safari 18.4 and later on iOS, 18.5 on macOS) shows this one too.
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

/// The body to push for a stored `resource` (JSON text): the resource with the declarative
/// members beside it (`web_push`, `notification`, `app_badge` when the user's unread count
/// is known, `mutable`), or the resource alone when it has no visual content or target host
/// (a declarative message needs a title and a URL), or when the declarative part cannot fit.
pub fn push_body(resource: &str, app_badge: Option<u64>) -> String {
    dual_body(resource, app_badge).unwrap_or_else(|| resource.to_owned())
}

fn dual_body(resource: &str, app_badge: Option<u64>) -> Option<String> {
    let graph: Map<String, Value> = serde_json::from_str(resource).ok()?;
    let mut notification = declarative_notification(&graph)?;
    let mut body = graph.clone();
    body.insert("web_push".to_owned(), json!(DECLARATIVE_PUSH as u64));
    if let Some(count) = app_badge {
        body.insert("app_badge".to_owned(), json!(count));
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
mod tests {
    use super::*;

    fn resource(visual: Value) -> String {
        json!({
            "id": "n-1",
            "targetHostName": "app.example",
            "appNotificationId": "order-7",
            "groupName": "orders",
            "payload": { "visualContent": visual, "rawContent": "{\"order\":7}" },
            "priority": "High",
            "expirationDateTime": "2026-12-03T16:00:00.000Z",
        })
        .to_string()
    }

    fn rich() -> Value {
        json!({
            "title": "Your order shipped",
            "body": "It arrives on Thursday.",
            "url": "/orders/7",
            "icon": "/icons/box.png",
            "image": "https://cdn.example/parcel.jpg",
            "badge": "/badge.png",
            "actions": [
                { "action": "track", "title": "Track", "url": "/orders/7/track" },
                { "action": "elsewhere", "title": "Elsewhere", "url": "https://phish.example/" },
            ],
        })
    }

    fn parsed(text: &str) -> Map<String, Value> {
        serde_json::from_str(text).expect("the body is JSON")
    }

    /// The declarative push message parser's requirements (W3C Push API, "declarative push
    /// message"), as a browser that supports it checks a body before it shows it: `web_push`
    /// is 8030; `notification` is an object with a string `title` and a string `navigate`
    /// that parses as a URL (here absolute, as Safari needs); each action has string
    /// `action`, `title` and `navigate` (a URL); `icon`, `image`, `badge` are URLs;
    /// `app_badge`, when present, is an unsigned integer; `mutable` is a boolean (top level,
    /// and inside `notification`, where WebKit reads it).
    fn check_declarative(body: &Map<String, Value>) {
        assert_eq!(body["web_push"], json!(8030), "web_push");
        assert!(body["web_push"].is_u64(), "web_push is an integer");
        let notification = body["notification"]
            .as_object()
            .expect("notification object");
        assert!(notification["title"].is_string(), "title");
        let url = |value: &Value| {
            Url::parse(value.as_str().expect("a URL string")).expect("an absolute URL")
        };
        url(&notification["navigate"]);
        for name in ["icon", "image", "badge"] {
            if let Some(value) = notification.get(name) {
                url(value);
            }
        }
        for action in notification
            .get("actions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            assert!(
                action["action"].is_string() && action["title"].is_string(),
                "{action}"
            );
            url(&action["navigate"]);
        }
        if let Some(badge) = body.get("app_badge") {
            assert!(badge.is_u64(), "app_badge is an unsigned integer");
        }
        assert_eq!(body["mutable"], json!(true));
        assert_eq!(notification["mutable"], json!(true));
        for name in ["silent", "requireInteraction"] {
            if let Some(value) = notification.get(name) {
                assert!(value.is_boolean(), "{name}");
            }
        }
    }

    #[test]
    fn the_body_is_the_resource_with_a_declarative_message_beside_it_that_meets_the_spec() {
        let stored = resource(rich());
        let body = parsed(&push_body(&stored, Some(3)));
        check_declarative(&body);
        let graph: Map<String, Value> = serde_json::from_str(&stored).unwrap();
        for (name, value) in &graph {
            assert_eq!(&body[name], value, "the resource's {name} as stored");
        }
        assert_eq!(body["app_badge"], json!(3));
        let notification = &body["notification"];
        assert_eq!(notification["title"], "Your order shipped");
        assert_eq!(notification["body"], "It arrives on Thursday.");
        assert_eq!(notification["navigate"], "https://app.example/orders/7");
        assert_eq!(
            notification["tag"], "usernotify-group:orders",
            "the worker's tag for it"
        );
        assert_eq!(notification["icon"], "https://app.example/icons/box.png");
        assert_eq!(notification["image"], "https://cdn.example/parcel.jpg");
        assert_eq!(notification["badge"], "https://app.example/badge.png");
        assert_eq!(
            notification["actions"],
            json!([
                { "action": "track", "title": "Track", "navigate": "https://app.example/orders/7/track" },
                { "action": "elsewhere", "title": "Elsewhere", "navigate": "https://app.example/" },
            ]),
            "a button's URL of another origin opens the app's root, as the worker's click does"
        );
        assert_eq!(
            notification["requireInteraction"],
            json!(true),
            "High priority"
        );
        assert_eq!(
            notification["data"],
            Value::Object(graph),
            "the resource, for a mutable push's worker"
        );
    }

    #[test]
    fn an_ungrouped_notification_without_a_url_navigates_to_the_apps_root_under_its_own_tag() {
        let mut graph: Map<String, Value> =
            serde_json::from_str(&resource(json!({ "title": "Hi" }))).unwrap();
        graph.remove("groupName");
        graph.insert("priority".to_owned(), json!("Low"));
        let body = parsed(&push_body(&Value::Object(graph).to_string(), None));
        check_declarative(&body);
        let notification = &body["notification"];
        assert_eq!(notification["navigate"], "https://app.example/");
        assert_eq!(notification["tag"], "usernotify:n-1");
        assert_eq!(notification["silent"], json!(true), "Low priority");
        assert!(notification.get("body").is_none() && notification.get("actions").is_none());
        assert!(body.get("app_badge").is_none(), "no count, no app_badge");
    }

    #[test]
    fn raw_content_alone_or_no_target_host_is_pushed_as_the_resource_alone() {
        let raw =
            json!({ "id": "r", "targetHostName": "app.example", "payload": { "rawContent": "x" } })
                .to_string();
        assert_eq!(push_body(&raw, Some(1)), raw);
        let no_host =
            json!({ "id": "r", "payload": { "visualContent": { "title": "t" } } }).to_string();
        assert_eq!(push_body(&no_host, Some(1)), no_host);
    }

    /// A resource whose body text is `filler` bytes long.
    fn sized(filler: usize) -> String {
        let mut visual = rich();
        visual["body"] = json!("b".repeat(filler));
        resource(visual)
    }

    #[test]
    fn when_both_parts_do_not_fit_the_declarative_members_go_in_order_and_never_the_title() {
        // The declarative part holds the resource again in `data`, so a body of about half
        // the limit leaves room for only part of it; find, for each step, a resource for
        // which exactly the members before it were dropped.
        let mut seen = Vec::new();
        for filler in (1..2000).step_by(4) {
            let stored = sized(filler);
            let body = parsed(&push_body(&stored, Some(1)));
            let Some(notification) = body.get("notification") else {
                assert_eq!(
                    Value::Object(body.clone()),
                    serde_json::from_str::<Value>(&stored).unwrap(),
                    "the resource alone"
                );
                seen.push("all");
                break;
            };
            check_declarative(&body);
            assert_eq!(
                notification["title"], "Your order shipped",
                "never the title"
            );
            let dropped: Vec<&str> = DROP_ORDER
                .iter()
                .copied()
                .filter(|name| notification.get(*name).is_none())
                .collect();
            assert_eq!(dropped, DROP_ORDER[..dropped.len()], "dropped in order");
            assert!(serde_json::to_vec(&body).unwrap().len() <= MAX_PUSH_JSON_BYTES);
            if seen.last() != Some(&dropped.last().copied().unwrap_or("none")) {
                seen.push(dropped.last().copied().unwrap_or("none"));
            }
        }
        assert_eq!(
            seen,
            ["none", "image", "actions", "badge", "icon", "body", "all"]
        );
    }
}
