//! The push body's Declarative Web Push message (src/core/declarative.rs), checked on the
//! host: its members, what is dropped to fit, and raw-only resources; every body read as
//! WebKit reads it (webkit.rs).
#![cfg(not(target_arch = "wasm32"))]

use serde_json::{json, Map, Value};
use url::Url;
use usernotify::core::declarative::{self, DROP_ORDER, MAX_APP_BADGE};
use usernotify::core::display::tag_of;
use usernotify::core::notification::MAX_PUSH_JSON_BYTES;
use usernotify::core::Json;

/// The body the service pushes for a stored resource: the core's writer, with the resource
/// parsed into the core's tree as the service parses it (serde_json).
fn with_declarative_members(resource: &str, app_badge: Option<u64>) -> String {
    let parsed: Json = serde_json::from_str(resource).unwrap_or(Json::Null);
    declarative::with_declarative_members(resource, &parsed, app_badge)
}

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
    let url =
        |value: &Value| Url::parse(value.as_str().expect("a URL string")).expect("an absolute URL");
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

// The body written here, read back by the worker's readers: both ends in one test.
use usernotify::core::{tag_for, Action, Millis, Notification, Priority, RichContent};

const NOW: Millis = 1_795_435_200_000;

/// `posted` as the service stores it: validated, with its id, written by the core.
fn stored_text(posted: &str) -> String {
    let posted: Json = serde_json::from_str(posted).unwrap();
    let notification = Notification::from_json(&posted, NOW).unwrap();
    notification.to_json().to_json_string()
}

/// What the worker reads of a written body: the resource, from the whole body (as a browser
/// without Declarative Web Push hands it to `push`); and when there is a declarative part,
/// the resource again from its `data` (a mutable push's notification) and the declarative
/// notification, as a message alone (what the browser shows itself, read as the worker
/// reads such a message from another sender).
fn read_back(body: &str) -> (Notification, Option<(Notification, Notification)>) {
    let body: Json = serde_json::from_str(body).expect("the body is JSON");
    let pushed = Notification::read_push(&body, NOW).expect("the resource reads");
    let Some(declared) = body.get("notification") else {
        return (pushed, None);
    };
    let data = Notification::read(declared.get("data").expect("data"), NOW).expect("data reads");
    let alone = Json::Object(vec![
        (
            "web_push".to_owned(),
            body.get("web_push").expect("web_push").clone(),
        ),
        ("notification".to_owned(), declared.clone()),
    ]);
    let shown = Notification::read_push(&alone, NOW).expect("the declarative message reads");
    (pushed, Some((data, shown)))
}

#[test]
fn the_worker_reads_back_the_resource_and_the_declarative_notification_whole_or_cut_to_fit() {
    let resource = stored_text(&resource(rich()));
    let expected = Notification::from_json(&serde_json::from_str(&resource).unwrap(), NOW).unwrap();
    let (pushed, declarative) = read_back(&with_declarative_members(&resource, Some(3)));
    assert_eq!(pushed, expected, "the resource, as the worker reads it");
    let (data, shown) = declarative.expect("a declarative part");
    assert_eq!(data, expected, "the resource again, from data");
    let visual = shown.visual.as_ref().unwrap();
    assert_eq!(visual.title, "Your order shipped");
    assert_eq!(visual.body, "It arrives on Thursday.");
    assert_eq!(visual.url.as_deref(), Some("https://app.example/orders/7"));
    assert_eq!(
        shown.app_notification_id,
        Some(tag_for(&expected)),
        "the tag the worker shows the resource under"
    );
    assert_eq!(shown.priority, Priority::High, "requireInteraction");
    assert_eq!(
        visual.rich,
        RichContent {
            icon: Some("https://app.example/icons/box.png".to_owned()),
            image: Some("https://cdn.example/parcel.jpg".to_owned()),
            badge: Some("https://app.example/badge.png".to_owned()),
            actions: vec![
                Action {
                    action: "track".to_owned(),
                    title: "Track".to_owned(),
                    url: Some("https://app.example/orders/7/track".to_owned()),
                },
                Action {
                    action: "elsewhere".to_owned(),
                    title: "Elsewhere".to_owned(),
                    url: Some("https://app.example/".to_owned()),
                },
            ],
        },
        "the pictures, and the buttons with the app's URLs"
    );

    // Cut to fit: the resource still reads whole, the declarative notification without what
    // was dropped, down to its title; then the resource goes alone.
    let (mut cut, mut alone) = (false, false);
    for filler in (1..2000).step_by(4) {
        let resource = stored_text(&sized(filler));
        let expected =
            Notification::from_json(&serde_json::from_str(&resource).unwrap(), NOW).unwrap();
        let body = with_declarative_members(&resource, Some(3));
        let (pushed, declarative) = read_back(&body);
        assert_eq!(
            pushed, expected,
            "the resource whole, {filler} bytes of body text"
        );
        let Some((data, shown)) = declarative else {
            assert_eq!(body, resource, "the resource alone, as stored");
            alone = true;
            break;
        };
        assert_eq!(data, expected, "the resource whole in data");
        let visual = shown.visual.as_ref().unwrap();
        assert_eq!(visual.title, "Your order shipped", "never the title");
        assert_eq!(visual.url.as_deref(), Some("https://app.example/orders/7"));
        assert_eq!(shown.app_notification_id, Some(tag_for(&expected)));
        assert_eq!(shown.priority, Priority::High);
        if visual.body.is_empty() {
            assert_eq!(
                visual.rich,
                RichContent::default(),
                "the body text goes last"
            );
            cut = true;
        }
    }
    assert!(
        cut && alone,
        "cut down to the title, then the resource alone"
    );
}

mod webkit;
