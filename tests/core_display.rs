//! What the worker decides to show (docs/contract.md), checked on the host.
#![cfg(not(target_arch = "wasm32"))]

use usernotify::core::display::{
    DEFAULT_RAW_TITLE, GROUP_TAG_PREFIX, ITEM_TAG_PREFIX, STATUS_BODY, STATUS_TAG, STATUS_TITLE,
};
use usernotify::core::{
    plan_raw_fallback, plan_status, plan_visual, should_close, Json, Millis, Notification,
};

const NOW: Millis = 1_795_435_200_000;

fn notification(text: &str) -> Notification {
    let body: Json = serde_json::from_str(text).expect("test JSON parses");
    Notification::from_json(&body, NOW).expect("test notification is valid")
}

fn grouped(id: &str, title: &str) -> Notification {
    notification(&format!(
        r#"{{ "appNotificationId": "{id}", "groupName": "news",
             "payload": {{ "visualContent": {{ "title": "{title}", "body": "body of {title}" }} }} }}"#
    ))
}

fn members(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|key| key.to_string()).collect()
}

#[test]
fn an_ungrouped_notification_is_shown_under_its_own_tag_with_its_own_text() {
    let shown = plan_visual(
        &notification(r#"{ "appNotificationId": "a1", "payload": { "visualContent": { "title": "Hi", "body": "there" } } }"#),
        &["ignored"],
        NOW,
    )
    .unwrap();
    assert_eq!(shown.tag, format!("{ITEM_TAG_PREFIX}a1"));
    assert_eq!((shown.title.as_str(), shown.body.as_str()), ("Hi", "there"));
    assert_eq!(shown.members, members(&["a1"]));
    assert!(!shown.renotify);
}

#[test]
fn the_first_of_a_group_is_shown_without_a_count() {
    let shown = plan_visual(&grouped("a", "First"), &[], NOW).unwrap();
    assert_eq!(shown.tag, format!("{GROUP_TAG_PREFIX}news"));
    assert_eq!(shown.title, "First");
    assert_eq!(shown.count(), 1);
}

#[test]
fn a_group_shows_the_newest_title_and_body_and_counts_its_members() {
    let shown = plan_visual(&grouped("c", "Third"), &["a", "b"], NOW).unwrap();
    assert_eq!(shown.title, "Third (3)");
    assert_eq!(shown.body, "body of Third");
    assert_eq!(shown.members, members(&["a", "b", "c"]));
    assert!(
        shown.renotify,
        "a new member alerts again under the same tag"
    );
}

#[test]
fn the_same_id_again_in_a_group_replaces_and_never_adds_to_the_count() {
    let shown = plan_visual(&grouped("b", "Second, edited"), &["a", "b"], NOW).unwrap();
    assert_eq!(shown.title, "Second, edited (2)");
    assert_eq!(shown.members, members(&["a", "b"]));
    assert!(!shown.renotify, "an update does not alert again");
}

#[test]
fn the_same_ungrouped_id_again_is_shown_under_the_same_tag_so_it_replaces() {
    let first = plan_visual(
        &notification(
            r#"{ "appNotificationId": "x", "payload": { "visualContent": { "title": "v1" } } }"#,
        ),
        &[],
        NOW,
    )
    .unwrap();
    let second = plan_visual(
        &notification(
            r#"{ "appNotificationId": "x", "payload": { "visualContent": { "title": "v2" } } }"#,
        ),
        &[],
        NOW,
    )
    .unwrap();
    assert_eq!(first.tag, second.tag);
    assert_eq!(second.title, "v2");
}

#[test]
fn high_priority_requires_interaction_and_low_priority_is_silent() {
    let with_priority = |priority: &str| {
        plan_visual(
            &notification(&format!(r#"{{ "priority": "{priority}", "payload": {{ "visualContent": {{ "title": "t" }} }} }}"#)),
            &[],
            NOW,
        )
        .unwrap()
    };
    let high = with_priority("High");
    assert!(high.require_interaction && !high.silent);
    let low = with_priority("Low");
    assert!(low.silent && !low.require_interaction);
    let none = with_priority("None");
    assert!(!none.silent && !none.require_interaction);
}

#[test]
fn a_silent_low_priority_group_update_does_not_ask_to_alert_again() {
    let low = notification(
        r#"{ "appNotificationId": "n", "groupName": "g", "priority": "Low", "payload": { "visualContent": { "title": "t" } } }"#,
    );
    let shown = plan_visual(&low, &["m"], NOW).unwrap();
    assert_eq!(shown.count(), 2);
    assert!(shown.silent && !shown.renotify);
}

#[test]
fn a_shown_notification_carries_its_display_close_time_and_expiry() {
    let shown = plan_visual(
        &notification(r#"{ "displayTimeToLive": "60", "expirationDateTime": "2026-11-23T13:00:00Z", "payload": { "visualContent": { "title": "t", "url": "/inbox" } } }"#),
        &[],
        NOW,
    )
    .unwrap();
    assert_eq!(shown.close_at, Some(NOW + 60_000));
    assert_eq!(shown.expiration, Some(NOW + 3_600_000));
    assert_eq!(shown.url.as_deref(), Some("/inbox"));
    assert_eq!(shown.timestamp, NOW);
}

#[test]
fn a_raw_only_notification_has_no_visual_plan_and_falls_back_to_its_text_under_the_default_title() {
    let raw = notification(
        r#"{ "appNotificationId": "r", "payload": { "rawContent": "order 42 shipped" } }"#,
    );
    assert!(plan_visual(&raw, &[], NOW).is_none());
    let shown = plan_raw_fallback(&raw, DEFAULT_RAW_TITLE, NOW).unwrap();
    assert_eq!(shown.title, DEFAULT_RAW_TITLE);
    assert_eq!(shown.body, "order 42 shipped");
    assert_eq!(shown.tag, format!("{ITEM_TAG_PREFIX}r"));
}

#[test]
fn the_status_notification_is_quiet_under_one_fixed_tag_and_says_nothing_of_the_push() {
    let status = plan_status(NOW);
    assert_eq!(status.tag, STATUS_TAG);
    assert!(status.silent && !status.require_interaction);
    assert_eq!(
        (status.title.as_str(), status.body.as_str()),
        (STATUS_TITLE, STATUS_BODY)
    );
    assert!(status.close_at.is_none() && status.expiration.is_none());
}

#[test]
fn a_display_time_of_zero_is_due_for_closing_at_the_instant_it_was_shown() {
    assert!(should_close(Some(NOW), None, NOW));
    assert!(!should_close(Some(NOW + 1), None, NOW));
}

#[test]
fn a_shown_notification_is_closed_once_its_display_time_is_over_or_it_expired() {
    assert!(!should_close(None, None, NOW));
    assert!(!should_close(
        Some(NOW + 60_000),
        Some(NOW + 120_000),
        NOW + 59_999
    ));
    assert!(should_close(
        Some(NOW + 60_000),
        Some(NOW + 120_000),
        NOW + 60_000
    ));
    assert!(should_close(None, Some(NOW + 120_000), NOW + 120_000));
    assert!(!should_close(None, Some(NOW + 120_000), NOW + 119_999));
}
