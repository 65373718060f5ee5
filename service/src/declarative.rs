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
    /// `app_badge`, when present, is an unsigned integer; `app_badge` and `mutable` are at the
    /// top level, where the specification's parser reads them, and inside `notification`,
    /// where WebKit's does.
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
        assert_eq!(
            notification.get("app_badge"),
            body.get("app_badge"),
            "app_badge in notification, where WebKit reads it, and at the top level"
        );
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
        let body = parsed(&with_declarative_members(&stored, Some(3)));
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
        let body = parsed(&with_declarative_members(
            &Value::Object(graph).to_string(),
            None,
        ));
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
        assert_eq!(with_declarative_members(&raw, Some(1)), raw);
        let no_host =
            json!({ "id": "r", "payload": { "visualContent": { "title": "t" } } }).to_string();
        assert_eq!(with_declarative_members(&no_host, Some(1)), no_host);
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
            let body = parsed(&with_declarative_members(&stored, Some(1)));
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

    /// What WebKit shows for a declarative message: the members its parser reads.
    #[derive(Debug)]
    struct WebKitNotification {
        navigate: Url,
        title: String,
        app_badge: Option<u64>,
        body: Option<String>,
        tag: Option<String>,
        icon: Option<Url>,
        silent: Option<bool>,
        data: Option<Value>,
        mutable: bool,
    }

    /// WebKit's reading of a push body, member by member as its parser reads it
    /// (`NotificationJSONParser::parseNotificationPayload` and `parseNotificationOptions`,
    /// WebKit's Source/WebCore/Modules/notifications/NotificationJSONParser.cpp): `Ok(None)`
    /// when the body is not a declarative message (no `web_push` number equal to 8030), so
    /// that Safari gives it to the worker's `push`; else the notification it shows, or the
    /// SyntaxError with which it refuses the whole message. A URL is valid when it parses on
    /// its own (WebKit's `URL { string }` takes no base); a number is read as a C `int`
    /// (`JSON::Value::asInteger`), out of range on x86 as `INT_MIN`.
    fn webkit_reads(body: &str) -> Result<Option<WebKitNotification>, String> {
        fn as_int(value: &Value) -> Option<i64> {
            let number = value.as_f64()?;
            Some(match number.trunc() {
                n if n >= f64::from(i32::MIN) && n <= f64::from(i32::MAX) => n as i64,
                _ => i64::from(i32::MIN),
            })
        }
        fn text(object: &Map<String, Value>, name: &str) -> Result<Option<String>, String> {
            match object.get(name) {
                None => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.clone())),
                Some(_) => Err(format!("'{name}' member is specified but is not a string")),
            }
        }
        fn url(object: &Map<String, Value>, name: &str) -> Result<Option<Url>, String> {
            text(object, name)?
                .map(|text| Url::parse(&text).map_err(|_| format!("'{name}' is not a valid URL")))
                .transpose()
        }
        let Ok(Value::Object(outer)) = serde_json::from_str::<Value>(body) else {
            return Ok(None);
        };
        if outer.get("web_push").and_then(as_int) != Some(8030) {
            return Ok(None);
        }
        let Some(Value::Object(notification)) = outer.get("notification") else {
            return Err("'notification' is missing or not an object".to_owned());
        };
        let navigate = url(notification, "navigate")?.ok_or("'navigate' is missing")?;
        let title = text(notification, "title")?
            .filter(|title| !title.is_empty())
            .ok_or("'title' is missing or is an empty string")?;
        let app_badge = match notification.get("app_badge") {
            None => None,
            Some(Value::String(digits)) if digits.bytes().all(|byte| byte.is_ascii_digit()) => {
                Some(digits.parse::<u64>().unwrap_or(0))
            }
            Some(value) => match as_int(value) {
                Some(count) if count >= 0 => Some(count as u64),
                _ => return Err(format!("'app_badge' is not a valid count: {value}")),
            },
        };
        match notification.get("dir").map(Value::as_str) {
            None | Some(Some("auto" | "ltr" | "rtl")) => {}
            Some(_) => return Err("'dir' is not a NotificationDirection".to_owned()),
        }
        text(notification, "lang")?;
        let silent = match notification.get("silent") {
            None => None,
            Some(Value::Bool(silent)) => Some(*silent),
            Some(_) => return Err("'silent' member is specified but is not a boolean".to_owned()),
        };
        let mutable = match notification.get("mutable") {
            None => false,
            Some(Value::Bool(mutable)) => *mutable,
            Some(_) => return Err("'mutable' member is specified but is not a boolean".to_owned()),
        };
        Ok(Some(WebKitNotification {
            navigate,
            title,
            app_badge,
            body: text(notification, "body")?,
            tag: text(notification, "tag")?,
            icon: url(notification, "icon")?,
            silent,
            data: notification.get("data").cloned(),
            mutable,
        }))
    }

    #[test]
    fn webkits_reading_refuses_what_webkits_parser_refuses() {
        let message = |notification: Value| {
            json!({ "web_push": 8030, "notification": notification }).to_string()
        };
        let good = json!({ "title": "Hi", "navigate": "https://app.example/" });
        assert!(webkit_reads(&message(good.clone())).unwrap().is_some());
        let with = |name: &str, value: Value| {
            let mut notification = good.clone();
            notification[name] = value;
            webkit_reads(&message(notification))
        };
        for (name, value) in [
            ("title", json!("")),
            ("title", json!(7)),
            ("navigate", json!("/relative")),
            ("navigate", json!(true)),
            ("app_badge", json!(-1)),
            ("app_badge", json!(4_294_967_296u64)),
            ("app_badge", json!("1a")),
            ("app_badge", json!(true)),
            ("mutable", json!("true")),
            ("silent", json!(1)),
            ("icon", json!("icon.png")),
            ("dir", json!("up")),
            ("body", json!(["text"])),
            ("tag", json!(null)),
            ("lang", json!(1)),
        ] {
            assert!(
                with(name, value.clone()).is_err(),
                "{name}: {value} is refused"
            );
        }
        for (name, value) in [
            ("app_badge", json!("12")),
            ("app_badge", json!(0)),
            ("dir", json!("rtl")),
        ] {
            assert!(with(name, value.clone()).is_ok(), "{name}: {value} is read");
        }
        assert!(
            webkit_reads(&json!({ "web_push": "8030", "notification": 1 }).to_string())
                .unwrap()
                .is_none()
        );
        assert!(webkit_reads(r#"{"changes":[]}"#).unwrap().is_none());
        assert!(
            webkit_reads(&json!({ "web_push": 8030, "notification": "Hi" }).to_string()).is_err()
        );
    }

    /// Every kind of resource the service stores (posted bodies its validation accepts,
    /// stored with an id), over hosts, titles, click URLs, pictures, buttons, priorities and
    /// groups, including the hostile ones the contract lets through.
    fn stored_resources() -> Vec<(String, Map<String, Value>)> {
        let hosts = [
            "app.example",
            "APP.Example:8443",
            "bücher.example",
            "127.0.0.1:8080",
            "[::1]",
            "app.example/#fragment",
            "bad host",
        ];
        let titles = [
            "Your order shipped",
            "Zoë’s “order” 📦 — 注文 <b>#7</b>\n\t\u{7}",
        ];
        let urls = [
            None,
            Some("/orders/7"),
            Some("orders/7?x=1#top"),
            Some("https://app.example/x"),
            Some("https://elsewhere.example/phish"),
            Some("//evil.example/x"),
            Some("/\\evil.example"),
            Some("javascript:alert(1)"),
            Some("http://app.example/x"),
            Some("/orders/ü 7"),
            Some("https://["),
            Some(""),
        ];
        let pictures = [
            json!({}),
            json!({ "icon": "/icons/box.png", "badge": "/badge.png" }),
            json!({ "icon": "https://cdn.example/i.png", "image": "https://cdn.example/p.jpg" }),
            json!({ "icon": "https://[", "image": "https://cdn.example/ü p.jpg" }),
        ];
        let actions = [
            json!(null),
            json!([{ "action": "track", "title": "Track", "url": "/orders/7/track" },
                   { "action": "away", "title": "Away", "url": "https://phish.example/" }]),
            json!([{ "action": "later", "title": "Later" }]),
        ];
        // Each priority and each kind of group once: they do not interact.
        let priorities = [
            ("None", Some("orders")),
            ("High", None),
            ("Low", Some("grüppe 📬")),
        ];
        let mut resources = Vec::new();
        for host in hosts {
            for (index, url) in urls.iter().enumerate() {
                let shapes = pictures.iter().flat_map(|pictures| {
                    actions.iter().flat_map(move |actions| {
                        priorities.map(|(priority, group)| (pictures, actions, priority, group))
                    })
                });
                for (pictures, actions, priority, group) in shapes {
                    let mut visual = pictures.clone();
                    visual["title"] = json!(titles[index % titles.len()]);
                    if index % 3 != 0 {
                        visual["body"] = json!("It arrives \"Thursday\".");
                    }
                    if let Some(url) = url {
                        visual["url"] = json!(url);
                    }
                    if !actions.is_null() {
                        visual["actions"] = actions.clone();
                    }
                    let mut posted = json!({
                        "targetHostName": host,
                        "priority": priority,
                        "payload": { "visualContent": visual },
                    });
                    if let Some(group) = group {
                        posted["groupName"] = json!(group);
                    }
                    if index % 2 == 0 {
                        posted["appNotificationId"] = json!("order-7");
                        posted["payload"]["rawContent"] = json!("{\"order\":7}");
                    }
                    resources.extend(stored(&posted));
                }
            }
        }
        resources
    }

    /// `posted` as the service stores it, or nothing when its validation refuses it.
    fn stored(posted: &Value) -> Option<(String, Map<String, Value>)> {
        use usernotify::core::{Json, Notification};
        let json: Json = serde_json::from_value(posted.clone()).ok()?;
        let mut notification = Notification::from_json(&json, 1_795_435_200_000).ok()?;
        notification.id = Some("n0123456789abcdef0123".to_owned());
        let text = notification.to_json().to_json_string();
        let graph = serde_json::from_str(&text).expect("the stored resource is JSON");
        Some((text, graph))
    }

    /// The body the service sends: the declarative message beside the resource (unless the
    /// deployment turned it off), then the changes that fit (crate::changes).
    fn sent(
        resource: &str,
        unread: u64,
        changes: &[crate::store::LoggedChange],
        declarative: bool,
    ) -> String {
        let content = match declarative {
            true => with_declarative_members(resource, Some(unread)),
            false => resource.to_owned(),
        };
        String::from_utf8(crate::changes::push_bytes_with_changes(
            Some(&content),
            changes,
            MAX_PUSH_JSON_BYTES,
        ))
        .expect("UTF-8")
    }

    /// Checks one body the service sends, as WebKit reads it: a declarative message that
    /// WebKit accepts and that shows what the resource says, or none at all.
    fn check_as_webkit_reads(body: &str, graph: &Map<String, Value>, unread: u64) -> bool {
        let read =
            webkit_reads(body).unwrap_or_else(|error| panic!("WebKit refuses {body}: {error}"));
        let Some(shown) = read else {
            return false;
        };
        let visual = &graph["payload"]["visualContent"];
        assert_eq!(shown.title, visual["title"].as_str().unwrap());
        let root = Url::parse(&format!(
            "https://{}/",
            graph["targetHostName"].as_str().unwrap()
        ))
        .unwrap();
        assert_eq!(
            shown.navigate.origin(),
            root.origin(),
            "navigate stays in the app: {body}"
        );
        assert_eq!(shown.app_badge, Some(unread.min(MAX_APP_BADGE)));
        assert!(shown.mutable, "mutable: the worker gets it first");
        let key = graph["id"].as_str().unwrap();
        assert_eq!(
            shown.tag.as_deref(),
            Some(tag_of(graph.get("groupName").and_then(Value::as_str), key).as_str())
        );
        assert_eq!(
            shown.data.as_ref(),
            Some(&Value::Object(graph.clone())),
            "the resource, for the worker"
        );
        let low = graph["priority"] == "Low";
        assert_eq!(shown.silent, low.then_some(true));
        if let Some(text) = &shown.body {
            assert_eq!(Some(text.as_str()), visual["body"].as_str());
        }
        if let Some(icon) = &shown.icon {
            let posted = visual["icon"].as_str().unwrap();
            assert_eq!(Some(icon.clone()), root.join(posted).ok());
        }
        true
    }

    #[test]
    fn every_message_the_service_sends_is_one_webkits_parser_accepts_and_shows_as_the_resource_says(
    ) {
        use crate::store::LoggedChange;
        use usernotify::core::feed::{ReadState, UserActionState};
        use usernotify::core::sync::StateChange;
        let changes: Vec<LoggedChange> = (0..25)
            .rev()
            .map(|seq| LoggedChange {
                seq,
                change: StateChange {
                    id: format!("earlier-{seq}"),
                    state: Some((ReadState::Read, UserActionState::Dismissed)),
                },
                group: Some("orders".to_owned()),
            })
            .collect();
        let change_sets: [&[LoggedChange]; 3] = [&[], &changes[..1], &changes];
        let counts = [0, 1, 3, MAX_APP_BADGE, MAX_APP_BADGE + 1, u64::MAX];
        let resources = stored_resources();
        assert!(resources.len() > 3_000, "{} resources", resources.len());
        let (mut declarative, mut plain) = (0, 0);
        for (n, (resource, graph)) in resources.iter().enumerate() {
            let unread = counts[n % counts.len()];
            let changes = change_sets[n / counts.len() % change_sets.len()];
            for on in [true, false] {
                let body = sent(resource, unread, changes, on);
                assert!(body.len() <= MAX_PUSH_JSON_BYTES, "{} bytes", body.len());
                let host_parses = Url::parse(&format!(
                    "https://{}/",
                    graph["targetHostName"].as_str().unwrap()
                ))
                .is_ok();
                let shown = check_as_webkit_reads(&body, graph, unread);
                assert_eq!(
                    shown,
                    on && host_parses,
                    "declarative exactly when it is on and the app's origin is known: {body}"
                );
                match shown {
                    true => declarative += 1,
                    false => plain += 1,
                }
            }
        }
        // Bodies at every size, through every step of DROP_ORDER to the resource alone.
        for filler in (1..2000).step_by(7) {
            let (resource, graph) = stored(&serde_json::from_str(&sized(filler)).unwrap()).unwrap();
            for (n, unread) in counts.iter().enumerate() {
                let body = sent(&resource, *unread, change_sets[n % change_sets.len()], true);
                match check_as_webkit_reads(&body, &graph, *unread) {
                    true => declarative += 1,
                    false => plain += 1,
                }
            }
        }
        // Change-only pushes (changes for a device, no notification) are no declarative
        // message: Safari gives them to the worker.
        let only = String::from_utf8(crate::changes::push_bytes_with_changes(
            None,
            &changes,
            MAX_PUSH_JSON_BYTES,
        ))
        .unwrap();
        assert!(webkit_reads(&only).unwrap().is_none());
        assert!(
            declarative > 3_000 && plain > 3_000,
            "{declarative} declarative, {plain} plain"
        );
    }
}
