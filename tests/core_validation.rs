//! The notification contract (docs/contract.md), checked on the host against the pure core.
#![cfg(not(target_arch = "wasm32"))]

use usernotify::core::{
    parse_iso8601, Action, Field, InvalidNotification, Json, Millis, Notification, Platform,
    Priority, MAX_LIFETIME,
};

/// 2026-11-23T12:00:00Z: every test runs at this instant.
const NOW: Millis = 1_795_435_200_000;
const MINUTE: Millis = 60_000;

fn json(text: &str) -> Json {
    serde_json::from_str(text).expect("test JSON parses")
}

fn validate(text: &str) -> Result<Notification, InvalidNotification> {
    Notification::from_json(&json(text), NOW)
}

fn code(text: &str) -> &'static str {
    match validate(text) {
        Ok(_) => "valid",
        Err(invalid) => invalid.code(),
    }
}

/// The seed's `POST /me/notifications` example, with its expiry replaced.
fn seed_expiring_at(expiration: &str) -> String {
    format!(
        r#"{{
            "targetHostName": "graphnotifications.sample.windows.com",
            "appNotificationId": "testDirectToastNotification",
            "expirationDateTime": "{expiration}",
            "payload": {{ "visualContent": {{ "title": "Hello World!", "body": "Notifications are Great!" }} }},
            "targetPolicy": {{ "platformTypes": ["windows", "ios", "android"] }},
            "priority": "High",
            "groupName": "TestGroup",
            "displayTimeToLive": "60"
        }}"#
    )
}

fn minimal(extra: &str) -> String {
    format!(r#"{{ "payload": {{ "visualContent": {{ "title": "t" }} }} {extra} }}"#)
}

#[test]
fn the_seed_example_with_a_future_expiry_is_valid_with_every_field_read() {
    let notification = validate(&seed_expiring_at("2026-11-30T23:59:00.000Z")).unwrap();
    let visual = notification.visual.clone().unwrap();
    assert_eq!(visual.title, "Hello World!");
    assert_eq!(visual.body, "Notifications are Great!");
    assert_eq!(
        notification.target_host_name.as_deref(),
        Some("graphnotifications.sample.windows.com")
    );
    assert_eq!(notification.key(), "testDirectToastNotification");
    assert_eq!(notification.group_name.as_deref(), Some("TestGroup"));
    assert_eq!(notification.priority, Priority::High);
    assert_eq!(notification.display_time_to_live, Some(60));
    assert_eq!(
        notification.platform_types,
        Some(vec![Platform::Windows, Platform::Ios, Platform::Android])
    );
    assert_eq!(
        Some(notification.expiration),
        parse_iso8601("2026-11-30T23:59:00.000Z")
    );
}

#[test]
fn the_seed_example_verbatim_is_refused_as_expired_since_2019() {
    assert_eq!(
        code(&seed_expiring_at("2019-10-30T23:59:00.000Z")),
        "expired"
    );
}

#[test]
fn the_id_assigned_by_the_service_is_the_key_before_the_app_notification_id() {
    let notification =
        validate(&minimal(r#", "id": "abc", "appNotificationId": "app-1""#)).unwrap();
    assert_eq!(notification.key(), "abc");
}

#[test]
fn an_anonymous_notification_gets_a_content_key_that_is_stable_and_content_specific() {
    let first = validate(&minimal("")).unwrap().key();
    assert_eq!(first, validate(&minimal("")).unwrap().key());
    assert!(first.starts_with("h:"));
    let other = validate(r#"{ "payload": { "visualContent": { "title": "u" } } }"#)
        .unwrap()
        .key();
    assert_ne!(first, other);
}

#[test]
fn unknown_fields_and_the_ios_fallback_policy_are_ignored() {
    assert_eq!(
        code(&minimal(
            r#", "futureField": [1, 2], "fallbackPolicy": "anything""#
        )),
        "valid"
    );
}

#[test]
fn null_fields_read_as_absent() {
    assert_eq!(
        code(&minimal(
            r#", "groupName": null, "priority": null, "displayTimeToLive": null"#
        )),
        "valid"
    );
}

#[test]
fn an_array_body_is_refused_as_body_is_array() {
    assert_eq!(code(&format!("[{}]", minimal(""))), "body-is-array");
    assert_eq!(code("[]"), "body-is-array");
}

#[test]
fn a_body_that_is_not_an_object_is_a_contract_mismatch() {
    for text in ["\"text\"", "42", "true", "null"] {
        assert_eq!(
            validate(text),
            Err(InvalidNotification::ContractMismatch(Field::Root)),
            "{text}"
        );
    }
}

#[test]
fn each_field_of_the_wrong_type_is_a_contract_mismatch_naming_that_field() {
    let cases = [
        (r#", "id": 7"#, Field::Id),
        (r#", "targetHostName": {}"#, Field::TargetHostName),
        (r#", "appNotificationId": true"#, Field::AppNotificationId),
        (r#", "groupName": ["g"]"#, Field::GroupName),
        (r#", "targetPolicy": []"#, Field::TargetPolicy),
        (
            r#", "targetPolicy": {"platformTypes": "webPush"}"#,
            Field::PlatformTypes,
        ),
        (
            r#", "targetPolicy": {"platformTypes": ["webPush", 3]}"#,
            Field::PlatformTypes,
        ),
        (
            r#", "targetPolicy": {"platformTypes": ["fax"]}"#,
            Field::PlatformTypes,
        ),
        (r#", "priority": 1"#, Field::Priority),
        (r#", "priority": "Urgent""#, Field::Priority),
        (r#", "displayTimeToLive": true"#, Field::DisplayTimeToLive),
        (
            r#", "displayTimeToLive": "sixty""#,
            Field::DisplayTimeToLive,
        ),
        (r#", "displayTimeToLive": " 60""#, Field::DisplayTimeToLive),
        (r#", "displayTimeToLive": 1.5"#, Field::DisplayTimeToLive),
        (
            r#", "expirationDateTime": 1572479940000"#,
            Field::ExpirationDateTime,
        ),
    ];
    for (extra, field) in cases {
        assert_eq!(
            validate(&minimal(extra)),
            Err(InvalidNotification::ContractMismatch(field)),
            "{extra}"
        );
    }
    let payload_cases = [
        (r#"{ "payload": "hello" }"#, Field::Payload),
        (
            r#"{ "payload": { "visualContent": "hello" } }"#,
            Field::VisualContent,
        ),
        (
            r#"{ "payload": { "visualContent": { "title": 1 } } }"#,
            Field::Title,
        ),
        (
            r#"{ "payload": { "visualContent": { "title": "t", "body": {} } } }"#,
            Field::VisualBody,
        ),
        (
            r#"{ "payload": { "visualContent": { "title": "t", "url": 1 } } }"#,
            Field::Url,
        ),
        (
            r#"{ "payload": { "rawContent": {"a": 1} } }"#,
            Field::RawContent,
        ),
    ];
    for (text, field) in payload_cases {
        assert_eq!(
            validate(text),
            Err(InvalidNotification::ContractMismatch(field)),
            "{text}"
        );
    }
}

#[test]
fn platform_types_are_read_in_any_case_and_web_gets_only_what_names_web_push_or_is_untargeted() {
    let untargeted = validate(&minimal("")).unwrap();
    assert!(untargeted.targets_web_push());
    let web = validate(&minimal(
        r#", "targetPolicy": {"platformTypes": ["WEBPUSH", "Windows"]}"#,
    ))
    .unwrap();
    assert_eq!(
        web.platform_types,
        Some(vec![Platform::WebPush, Platform::Windows])
    );
    assert!(web.targets_web_push());
    let native = validate(&minimal(
        r#", "targetPolicy": {"platformTypes": ["iOS", "android"]}"#,
    ))
    .unwrap();
    assert!(!native.targets_web_push());
    let empty_policy = validate(&minimal(r#", "targetPolicy": {}"#)).unwrap();
    assert!(empty_policy.targets_web_push());
}

#[test]
fn priority_is_read_in_any_case_and_defaults_to_none() {
    assert_eq!(validate(&minimal("")).unwrap().priority, Priority::None);
    assert_eq!(
        validate(&minimal(r#", "priority": "None""#))
            .unwrap()
            .priority,
        Priority::None
    );
    assert_eq!(
        validate(&minimal(r#", "priority": "high""#))
            .unwrap()
            .priority,
        Priority::High
    );
    assert_eq!(
        validate(&minimal(r#", "priority": "LOW""#))
            .unwrap()
            .priority,
        Priority::Low
    );
}

#[test]
fn a_notification_without_visual_or_raw_content_is_an_invalid_payload() {
    assert_eq!(code("{}"), "invalid-payload");
    assert_eq!(code(r#"{ "payload": {} }"#), "invalid-payload");
    assert_eq!(
        code(r#"{ "payload": { "rawContent": "" } }"#),
        "invalid-payload"
    );
}

#[test]
fn raw_content_alone_is_enough() {
    let notification = validate(r#"{ "payload": { "rawContent": "{\"order\":42}" } }"#).unwrap();
    assert_eq!(notification.raw_content.as_deref(), Some("{\"order\":42}"));
    assert!(notification.visual.is_none());
}

#[test]
fn visual_content_needs_a_non_empty_title_and_the_body_may_be_absent() {
    assert_eq!(
        code(r#"{ "payload": { "visualContent": {} } }"#),
        "missing-title"
    );
    assert_eq!(
        code(r#"{ "payload": { "visualContent": { "title": "", "body": "b" } } }"#),
        "missing-title"
    );
    assert_eq!(
        code(r#"{ "payload": { "visualContent": { "body": "b" }, "rawContent": "r" } }"#),
        "missing-title"
    );
    let untitled_body =
        validate(r#"{ "payload": { "visualContent": { "title": "t" } } }"#).unwrap();
    assert_eq!(untitled_body.visual.unwrap().body, "");
}

#[test]
fn display_time_to_live_accepts_a_number_or_a_numeric_string_and_refuses_negatives() {
    assert_eq!(
        validate(&minimal(r#", "displayTimeToLive": 60"#))
            .unwrap()
            .display_time_to_live,
        Some(60)
    );
    assert_eq!(
        validate(&minimal(r#", "displayTimeToLive": "60""#))
            .unwrap()
            .display_time_to_live,
        Some(60)
    );
    assert_eq!(
        validate(&minimal(r#", "displayTimeToLive": 0"#))
            .unwrap()
            .display_time_to_live,
        Some(0)
    );
    assert_eq!(
        code(&minimal(r#", "displayTimeToLive": -1"#)),
        "negative-ttl"
    );
    assert_eq!(
        code(&minimal(r#", "displayTimeToLive": "-5""#)),
        "negative-ttl"
    );
    assert_eq!(validate(&minimal("")).unwrap().display_time_to_live, None);
}

#[test]
fn a_display_time_to_live_of_zero_is_due_at_the_instant_it_is_shown() {
    let notification = validate(&minimal(r#", "displayTimeToLive": 0"#)).unwrap();
    assert_eq!(notification.display_close_at(NOW), Some(NOW));
    let sixty = validate(&minimal(r#", "displayTimeToLive": "60""#)).unwrap();
    assert_eq!(sixty.display_close_at(NOW), Some(NOW + 60_000));
}

#[test]
fn an_unparseable_expiration_is_an_invalid_date() {
    for stamp in [
        "tomorrow",
        "2026-11-23",
        "2026-11-23T12:00:00",
        "2026-02-30T00:00:00Z",
    ] {
        assert_eq!(
            code(&minimal(&format!(r#", "expirationDateTime": "{stamp}""#))),
            "invalid-date",
            "{stamp}"
        );
    }
}

#[test]
fn expiry_exactly_now_is_expired_and_one_millisecond_later_is_not() {
    assert_eq!(
        code(&minimal(
            r#", "expirationDateTime": "2026-11-23T12:00:00.000Z""#
        )),
        "expired"
    );
    assert_eq!(
        code(&minimal(
            r#", "expirationDateTime": "2026-11-23T12:00:00.001Z""#
        )),
        "valid"
    );
}

#[test]
fn expiry_may_be_thirty_days_ahead_but_not_one_millisecond_more() {
    assert_eq!(
        code(&minimal(
            r#", "expirationDateTime": "2026-12-23T12:00:00.000Z""#
        )),
        "valid"
    );
    assert_eq!(
        code(&minimal(
            r#", "expirationDateTime": "2026-12-23T12:00:00.001Z""#
        )),
        "expires-too-late"
    );
}

#[test]
fn a_notification_without_expiry_expires_thirty_days_after_it_arrives() {
    assert_eq!(
        validate(&minimal("")).unwrap().expiration,
        NOW + MAX_LIFETIME
    );
}

#[test]
fn an_expiry_with_an_offset_is_compared_as_utc() {
    // 13:00+02:00 is 11:00Z, an hour before now.
    assert_eq!(
        code(&minimal(
            r#", "expirationDateTime": "2026-11-23T13:00:00+02:00""#
        )),
        "expired"
    );
    assert!(validate(&minimal(
        r#", "expirationDateTime": "2026-11-23T13:00:00+00:30""#
    ))
    .is_ok());
}

#[test]
fn a_valid_notification_is_expired_from_its_expiration_instant_on() {
    let notification = validate(&minimal(
        r#", "expirationDateTime": "2026-11-23T12:10:00Z""#,
    ))
    .unwrap();
    assert!(!notification.is_expired(NOW + 10 * MINUTE - 1));
    assert!(notification.is_expired(NOW + 10 * MINUTE));
}

#[test]
fn every_error_code_is_distinct_kebab_case() {
    let all = [
        InvalidNotification::EmptyBody,
        InvalidNotification::MalformedJson,
        InvalidNotification::BodyIsArray,
        InvalidNotification::ContractMismatch(Field::Root),
        InvalidNotification::InvalidDate,
        InvalidNotification::NegativeTtl,
        InvalidNotification::InvalidPayload,
        InvalidNotification::MissingTitle,
        InvalidNotification::Expired,
        InvalidNotification::ExpiresTooLate,
        InvalidNotification::InvalidMediaUrl(Field::Icon),
        InvalidNotification::MediaUrlTooLong(Field::Image),
        InvalidNotification::TooManyActions,
        InvalidNotification::InvalidAction,
    ];
    let codes: Vec<&str> = all.iter().map(|invalid| invalid.code()).collect();
    for (index, code) in codes.iter().enumerate() {
        assert!(
            code.bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte == b'-'),
            "{code}"
        );
        assert!(!codes[index + 1..].contains(code), "{code} repeats");
    }
    for invalid in all {
        assert!(invalid.message().ends_with('.'));
    }
}

#[test]
fn a_contract_mismatch_message_names_the_field_path_and_the_values_it_accepts() {
    let message = InvalidNotification::ContractMismatch(Field::PlatformTypes).message();
    assert_eq!(
        message,
        r#"targetPolicy.platformTypes must be an array of "windows", "ios", "android" or "webPush" (any case)."#
    );
    let message = InvalidNotification::ContractMismatch(Field::Priority).message();
    assert_eq!(
        message,
        r#"priority must be "None", "High" or "Low" (any case)."#
    );
    let message = InvalidNotification::ContractMismatch(Field::Root).message();
    assert_eq!(
        message,
        "The body must be a JSON object: one notification resource."
    );
}

#[test]
fn every_contract_mismatch_message_starts_with_its_field_and_says_what_it_must_be() {
    let fields = [
        Field::Id,
        Field::TargetHostName,
        Field::AppNotificationId,
        Field::GroupName,
        Field::TargetPolicy,
        Field::PlatformTypes,
        Field::Payload,
        Field::VisualContent,
        Field::Title,
        Field::VisualBody,
        Field::Url,
        Field::RawContent,
        Field::Priority,
        Field::DisplayTimeToLive,
        Field::ExpirationDateTime,
    ];
    for field in fields {
        let message = InvalidNotification::ContractMismatch(field).message();
        let mut expected = field.path().to_owned();
        expected.push_str(" must be ");
        assert!(message.starts_with(&expected), "{message}");
        assert!(message.ends_with('.'), "{message}");
    }
}

#[test]
fn the_resource_written_back_parses_to_the_same_notification() {
    let notification = validate(&seed_expiring_at("2026-11-30T23:59:00.250Z")).unwrap();
    let written = notification.to_json().to_json_string();
    let reparsed = Notification::from_json(&json(&written), NOW).unwrap();
    assert_eq!(reparsed, notification);
    assert!(
        written.contains(r#""expirationDateTime":"2026-11-30T23:59:00.250Z""#),
        "{written}"
    );
    assert!(written.contains(r#""displayTimeToLive":60"#), "{written}");
}

/// `minimal` with `visual` members added to `visualContent`.
fn rich(visual: &str) -> String {
    format!(r#"{{ "payload": {{ "visualContent": {{ "title": "t", {visual} }} }} }}"#)
}

#[test]
fn icon_image_badge_and_two_actions_are_read_with_their_urls() {
    let notification = validate(&rich(
        r#""icon": "/icons/order.png", "image": "https://cdn.example/parcel.jpg",
           "badge": "HTTPS://cdn.example/b.png",
           "actions": [{"action": "track", "title": "Track", "url": "/orders/7"},
                       {"action": "later", "title": "Later"}]"#,
    ))
    .unwrap();
    let rich = notification.visual.unwrap().rich;
    assert_eq!(rich.icon.as_deref(), Some("/icons/order.png"));
    assert_eq!(
        rich.image.as_deref(),
        Some("https://cdn.example/parcel.jpg")
    );
    assert_eq!(rich.badge.as_deref(), Some("HTTPS://cdn.example/b.png"));
    assert_eq!(
        rich.actions,
        vec![
            Action {
                action: "track".into(),
                title: "Track".into(),
                url: Some("/orders/7".into())
            },
            Action {
                action: "later".into(),
                title: "Later".into(),
                url: None
            },
        ]
    );
}

#[test]
fn a_picture_must_be_an_https_url_or_a_path_of_the_apps_origin() {
    for (url, expected) in [
        ("https://cdn.example/a.png", "valid"),
        ("/a.png", "valid"),
        ("/", "valid"),
        ("http://cdn.example/a.png", "invalid-media-url"),
        ("//cdn.example/a.png", "invalid-media-url"),
        ("/\\\\cdn.example/a.png", "invalid-media-url"),
        ("/\\t/cdn.example/a.png", "invalid-media-url"),
        ("a.png", "invalid-media-url"),
        ("javascript:alert(1)", "invalid-media-url"),
        ("data:image/png;base64,AAAA", "invalid-media-url"),
        ("https:cdn.example/a.png", "invalid-media-url"),
    ] {
        for field in ["icon", "image", "badge"] {
            let text = rich(&format!(r#""{field}": "{url}""#));
            assert_eq!(code(&text), expected, "{field} {url}");
        }
    }
    let refused = validate(&rich(r#""image": "ftp://x/a.png""#));
    assert_eq!(
        refused,
        Err(InvalidNotification::InvalidMediaUrl(Field::Image))
    );
}

#[test]
fn a_picture_may_be_2048_characters_long_but_not_one_more() {
    let url = |length: usize| format!("/{}", "a".repeat(length - 1));
    assert_eq!(code(&rich(&format!(r#""icon": "{}""#, url(2048)))), "valid");
    assert_eq!(
        validate(&rich(&format!(r#""badge": "{}""#, url(2049)))),
        Err(InvalidNotification::MediaUrlTooLong(Field::Badge))
    );
}

#[test]
fn more_than_two_actions_or_an_action_without_its_name_or_title_are_refused() {
    let three = r#""actions": [{"action":"a","title":"A"},{"action":"b","title":"B"},{"action":"c","title":"C"}]"#;
    assert_eq!(code(&rich(three)), "too-many-actions");
    for actions in [
        r#"[{"title":"A"}]"#,
        r#"[{"action":"a"}]"#,
        r#"[{"action":"","title":"A"}]"#,
        r#"[{"action":"a","title":""}]"#,
    ] {
        assert_eq!(
            code(&rich(&format!(r#""actions": {actions}"#))),
            "invalid-action",
            "{actions}"
        );
    }
    assert_eq!(code(&rich(r#""actions": []"#)), "valid");
}

#[test]
fn rich_fields_of_the_wrong_type_are_a_contract_mismatch_naming_the_field() {
    for (visual, field) in [
        (r#""icon": 1"#, Field::Icon),
        (r#""image": {}"#, Field::Image),
        (r#""badge": []"#, Field::Badge),
        (r#""actions": {}"#, Field::Actions),
        (r#""actions": ["a"]"#, Field::Actions),
        (
            r#""actions": [{"action": 1, "title": "A"}]"#,
            Field::ActionName,
        ),
        (
            r#""actions": [{"action": "a", "title": true}]"#,
            Field::ActionTitle,
        ),
        (
            r#""actions": [{"action": "a", "title": "A", "url": 3}]"#,
            Field::ActionUrl,
        ),
    ] {
        assert_eq!(
            validate(&rich(visual)),
            Err(InvalidNotification::ContractMismatch(field)),
            "{visual}"
        );
    }
    let message = InvalidNotification::ContractMismatch(Field::ActionTitle).message();
    assert!(
        message.contains("payload.visualContent.actions[].title"),
        "{message}"
    );
}

#[test]
fn rich_content_is_written_back_and_reads_to_the_same_notification() {
    let notification = validate(&rich(
        r#""icon": "/i.png", "image": "https://x.example/i.jpg", "badge": "/b.png",
           "actions": [{"action": "open", "title": "Open", "url": "/o"}]"#,
    ))
    .unwrap();
    let written = notification.to_json().to_json_string();
    assert_eq!(
        Notification::from_json(&json(&written), NOW).unwrap(),
        notification
    );
    assert!(
        written.contains(r#""actions":[{"action":"open","title":"Open","url":"/o"}]"#),
        "{written}"
    );
}

fn pushed(text: &str) -> Result<Notification, InvalidNotification> {
    Notification::read_push(&json(text), NOW)
}

#[test]
fn a_push_with_a_declarative_part_beside_the_resource_is_read_as_the_resource() {
    let text = r#"{"appNotificationId": "a1", "groupName": "g",
        "payload": {"visualContent": {"title": "Graph title"}},
        "web_push": 8030, "mutable": true, "app_badge": 2,
        "notification": {"title": "Declarative title", "navigate": "https://app.example/", "mutable": true}}"#;
    let notification = pushed(text).unwrap();
    assert_eq!(notification.visual.as_ref().unwrap().title, "Graph title");
    assert_eq!(notification.group_name.as_deref(), Some("g"));
    assert_eq!(notification.key(), "a1");
}

#[test]
fn a_declarative_message_alone_is_read_from_its_notification_member() {
    let text = r#"{"web_push": 8030, "app_badge": 4, "notification": {
        "title": "Sale", "body": "Today only", "navigate": "/sale", "tag": "sale-1",
        "icon": "/i.png", "silent": true,
        "actions": [{"action": "buy", "title": "Buy", "navigate": "/buy"}]}}"#;
    let notification = pushed(text).unwrap();
    assert_eq!(
        notification.key(),
        "sale-1",
        "the tag is the key: the same tag replaces"
    );
    assert_eq!(notification.priority, Priority::Low, "silent");
    assert_eq!(notification.expiration, NOW + MAX_LIFETIME);
    let visual = notification.visual.unwrap();
    assert_eq!(
        (visual.title.as_str(), visual.body.as_str()),
        ("Sale", "Today only")
    );
    assert_eq!(
        visual.url.as_deref(),
        Some("/sale"),
        "navigate is the click URL"
    );
    assert_eq!(visual.rich.icon.as_deref(), Some("/i.png"));
    assert_eq!(visual.rich.actions[0].url.as_deref(), Some("/buy"));

    let urgent = pushed(
        r#"{"web_push": 8030, "notification": {"title": "t", "navigate": "/", "requireInteraction": true}}"#,
    );
    assert_eq!(urgent.unwrap().priority, Priority::High);
    assert_eq!(
        pushed(r#"{"web_push": 8030, "notification": {"navigate": "/"}}"#),
        Err(InvalidNotification::MissingTitle)
    );
    assert_eq!(
        code(r#"{"web_push": 8030, "notification": {"title": "t"}}"#),
        "invalid-payload",
        "the service takes Graph resources only"
    );
    assert_eq!(
        pushed(r#"{"web_push": 9001, "notification": {"title": "t"}}"#),
        Err(InvalidNotification::InvalidPayload),
        "only web_push 8030 is a declarative message"
    );
}

#[test]
fn a_declarative_notification_keeps_its_text_when_its_pictures_or_buttons_break_the_contract() {
    let text = r#"{"web_push": 8030, "notification": {"title": "t", "navigate": "/",
        "icon": "http://plain.example/i.png",
        "actions": [{"action": "a", "title": "A"}, {"action": "b", "title": "B"}, {"action": "c", "title": "C"}]}}"#;
    let visual = pushed(text).unwrap().visual.unwrap();
    assert_eq!(visual.title, "t");
    assert_eq!(visual.rich, Default::default());
}

fn unknown(text: &str) -> Vec<(String, Option<String>)> {
    usernotify::core::notification::unknown_fields(&json(text))
        .into_iter()
        .map(|unknown| (unknown.field, unknown.did_you_mean))
        .collect()
}

fn named(field: &str, near: Option<&str>) -> (String, Option<String>) {
    (field.to_owned(), near.map(str::to_owned))
}

#[test]
fn a_misspelt_member_is_named_with_the_known_member_it_most_likely_meant() {
    let body = r#"{"prority": "High", "targetHostname": "app.example", "groupname": "g",
        "payload": {"visualContent": {"title": "t", "boby": "b", "actions": [{"action": "a", "title": "A", "ulr": "/x"}]},
                    "rawContnet": "r"},
        "targetPolicy": {"platformType": ["webPush"]},
        "expirationDateTme": "2026-11-23T13:00:00Z"}"#;
    assert_eq!(
        code(body),
        "valid",
        "ignored, as Graph ignores unknown members"
    );
    assert_eq!(
        unknown(body),
        [
            named("prority", Some("priority")),
            named("targetHostname", Some("targetHostName")),
            named("groupname", Some("groupName")),
            named("expirationDateTme", Some("expirationDateTime")),
            named(
                "targetPolicy.platformType",
                Some("targetPolicy.platformTypes")
            ),
            named("payload.rawContnet", Some("payload.rawContent")),
            named(
                "payload.visualContent.boby",
                Some("payload.visualContent.body")
            ),
            named(
                "payload.visualContent.actions[0].ulr",
                Some("payload.visualContent.actions[0].url")
            ),
        ]
    );
}

#[test]
fn a_member_close_to_no_known_name_is_named_without_a_guess_and_annotations_are_not_members() {
    let body = r##"{"@odata.type": "#microsoft.graph.notification", "customerTier": "gold", "ur": 1,
        "web_push": 8030, "fallbackPolicy": {}, "payload": {"visualContent": {"title": "t"}}}"##;
    assert_eq!(
        unknown(body),
        [
            named("customerTier", None),
            named("ur", None),
            named("web_push", None)
        ]
    );
    assert!(
        unknown(&seed_expiring_at("2026-11-23T13:00:00Z")).is_empty(),
        "the seed example uses only known members"
    );
}

#[test]
fn unknown_members_are_listed_once_each_at_most_sixteen_with_long_names_cut() {
    let mut members: Vec<String> = (0..40).map(|n| format!("\"extra{n}\": {n}")).collect();
    members.push(format!("\"{}\": 1", "x".repeat(5_000)));
    members.push("\"extra0\": 2".to_owned());
    let body = format!(
        r#"{{"payload": {{"rawContent": "r"}}, {}}}"#,
        members.join(", ")
    );
    let listed = unknown(&body);
    assert_eq!(listed.len(), 16);
    assert_eq!(listed[0], named("extra0", None));
    let long = unknown(&format!(r#"{{"{}": 1}}"#, "y".repeat(5_000)));
    assert_eq!(long[0].0.len(), 100);
}
