//! Every message the service sends, read as WebKit reads it.

use super::*;
use usernotify::core::sync::{push_body_with_changes, StateChange};

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
    let message =
        |notification: Value| json!({ "web_push": 8030, "notification": notification }).to_string();
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
    assert!(webkit_reads(&json!({ "web_push": 8030, "notification": "Hi" }).to_string()).is_err());
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
/// deployment turned it off), then the changes that fit (`push_body_with_changes`).
fn sent(resource: &str, unread: u64, changes: &[StateChange], declarative: bool) -> String {
    let content = match declarative {
        true => with_declarative_members(resource, Some(unread)),
        false => resource.to_owned(),
    };
    String::from_utf8(push_body_with_changes(
        Some(&content),
        changes,
        MAX_PUSH_JSON_BYTES,
    ))
    .expect("UTF-8")
}

/// Checks one body the service sends, as WebKit reads it: a declarative message that
/// WebKit accepts and that shows what the resource says, or none at all.
fn check_as_webkit_reads(body: &str, graph: &Map<String, Value>, unread: u64) -> bool {
    let read = webkit_reads(body).unwrap_or_else(|error| panic!("WebKit refuses {body}: {error}"));
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
fn every_message_the_service_sends_is_one_webkits_parser_accepts_and_shows_as_the_resource_says() {
    use usernotify::core::feed::{ReadState, UserActionState};
    let changes: Vec<StateChange> = (0..25)
        .rev()
        .map(|seq| StateChange {
            id: format!("earlier-{seq}"),
            state: Some((ReadState::Read, UserActionState::Dismissed)),
        })
        .collect();
    let change_sets: [&[StateChange]; 3] = [&[], &changes[..1], &changes];
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
    let only =
        String::from_utf8(push_body_with_changes(None, &changes, MAX_PUSH_JSON_BYTES)).unwrap();
    assert!(webkit_reads(&only).unwrap().is_none());
    assert!(
        declarative > 3_000 && plain > 3_000,
        "{declarative} declarative, {plain} plain"
    );
}
