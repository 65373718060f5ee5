//! The feed's decisions (the feed of the product contract), checked on the host.
#![cfg(not(target_arch = "wasm32"))]

use usernotify::core::display::{GROUP_TAG_PREFIX, ITEM_TAG_PREFIX};
use usernotify::core::feed::{
    activate, arrive, dismiss, group_members, set_state, sorted_feed, tombstone_for, Arrival,
    FeedEntry, ReadState, UserActionState,
};
use usernotify::core::record::{entry_of, record_of};
use usernotify::core::{refresh_after_change, Json, Millis, Notification, Refresh};

const NOW: Millis = 1_795_435_200_000;
const MINUTE: Millis = 60_000;

fn notification(id: &str, group: Option<&str>, title: &str) -> Notification {
    let group = group.map_or(String::new(), |group| format!(r#""groupName": "{group}","#));
    let text = format!(
        r#"{{ "appNotificationId": "{id}", {group} "expirationDateTime": "2026-11-23T13:00:00Z",
             "payload": {{ "visualContent": {{ "title": "{title}", "body": "b" }} }} }}"#
    );
    let body: Json = serde_json::from_str(&text).expect("test JSON parses");
    Notification::from_json(&body, NOW).expect("test notification is valid")
}

fn stored(id: &str, group: Option<&str>, title: &str, at: Millis) -> FeedEntry {
    FeedEntry::arrived(&notification(id, group, title), at)
}

#[test]
fn a_new_key_is_stored_unread_with_no_action_and_the_arrival_time() {
    let Arrival::New(entry) = arrive(&notification("a", None, "Hi"), None, None, NOW) else {
        panic!("expected a new entry");
    };
    assert_eq!(entry.key, "a");
    assert_eq!(entry.title.as_deref(), Some("Hi"));
    assert_eq!(entry.creation, NOW);
    assert_eq!(entry.read_state, ReadState::Unread);
    assert_eq!(entry.user_action_state, UserActionState::None);
}

#[test]
fn a_redelivery_of_the_same_content_keeps_the_users_state_and_arrival_time() {
    let mut first = stored("a", None, "Hi", NOW - MINUTE);
    activate(&mut first);
    let arrival = arrive(&notification("a", None, "Hi"), Some(&first), None, NOW);
    assert_eq!(arrival, Arrival::Redelivered(first));
}

#[test]
fn an_update_of_the_same_key_is_news_again_unread_and_new() {
    let mut first = stored("a", None, "Draft", NOW - MINUTE);
    activate(&mut first);
    let Arrival::Updated(entry) =
        arrive(&notification("a", None, "Final"), Some(&first), None, NOW)
    else {
        panic!("expected an update");
    };
    assert_eq!(entry.title.as_deref(), Some("Final"));
    assert_eq!(entry.read_state, ReadState::Unread);
    assert_eq!(entry.creation, NOW);
}

#[test]
fn a_deleted_key_stays_deleted_until_its_expiry_then_may_come_back() {
    let first = stored("a", None, "Hi", NOW - MINUTE);
    let tombstone = tombstone_for(&first);
    assert_eq!(
        arrive(&notification("a", None, "Hi"), None, Some(&tombstone), NOW),
        Arrival::Deleted
    );
    let after_expiry = tombstone.expiration;
    assert!(matches!(
        arrive(
            &notification("a", None, "Hi"),
            None,
            Some(&tombstone),
            after_expiry
        ),
        Arrival::New(_)
    ));
}

#[test]
fn an_expired_stored_entry_is_replaced_as_new() {
    let old = stored("a", None, "Hi", NOW - MINUTE);
    assert!(matches!(
        arrive(
            &notification("a", None, "Hi"),
            Some(&old),
            None,
            old.expiration
        ),
        Arrival::New(_)
    ));
}

#[test]
fn a_click_marks_activated_and_read_and_a_close_marks_dismissed() {
    let mut entry = stored("a", None, "Hi", NOW);
    activate(&mut entry);
    assert_eq!(
        (entry.read_state, entry.user_action_state),
        (ReadState::Read, UserActionState::Activated)
    );
    let mut other = stored("b", None, "Hi", NOW);
    dismiss(&mut other);
    assert_eq!(
        (other.read_state, other.user_action_state),
        (ReadState::Unread, UserActionState::Dismissed)
    );
}

#[test]
fn a_group_counts_its_unread_undismissed_unexpired_entries_oldest_first() {
    let mut read = stored("read", Some("news"), "r", NOW - 4 * MINUTE);
    activate(&mut read);
    let mut dismissed = stored("dismissed", Some("news"), "d", NOW - 3 * MINUTE);
    dismiss(&mut dismissed);
    let entries = vec![
        stored("second", Some("news"), "2", NOW - MINUTE),
        stored("first", Some("news"), "1", NOW - 2 * MINUTE),
        read,
        dismissed,
        stored("other-group", Some("sport"), "s", NOW),
        stored("ungrouped", None, "u", NOW),
    ];
    assert_eq!(
        group_members(&entries, "news", NOW),
        vec!["first", "second"]
    );
    let expiry = entries[0].expiration;
    assert!(group_members(&entries, "news", expiry).is_empty());
}

#[test]
fn the_listing_is_newest_first_and_leaves_out_the_expired() {
    let entries = vec![
        stored("old", None, "o", NOW - 2 * MINUTE),
        stored("new", None, "n", NOW),
        stored("mid", None, "m", NOW - MINUTE),
    ];
    let keys: Vec<String> = sorted_feed(entries.clone(), NOW)
        .into_iter()
        .map(|entry| entry.key)
        .collect();
    assert_eq!(keys, ["new", "mid", "old"]);
    assert!(sorted_feed(entries.clone(), entries[0].expiration).is_empty());
}

#[test]
fn state_names_are_graphs_and_anything_else_is_an_invalid_state() {
    for name in ["unread", "read"] {
        assert_eq!(ReadState::parse(name).map(ReadState::as_str), Ok(name));
    }
    for name in ["none", "activated", "dismissed", "snoozed"] {
        assert_eq!(
            UserActionState::parse(name).map(UserActionState::as_str),
            Ok(name)
        );
    }
    for name in ["Read", "", "deleted"] {
        let error = ReadState::parse(name)
            .err()
            .zip(UserActionState::parse(name).err());
        assert_eq!(
            error.map(|(read, _)| read.code()),
            Some("invalid-state"),
            "{name}"
        );
    }
}

#[test]
fn a_page_activating_an_entry_also_reads_it_and_other_changes_set_only_what_was_asked() {
    let mut entry = stored("a", None, "Hi", NOW);
    set_state(&mut entry, None, Some(UserActionState::Activated));
    assert_eq!(
        (entry.read_state, entry.user_action_state),
        (ReadState::Read, UserActionState::Activated)
    );
    set_state(&mut entry, Some(ReadState::Unread), None);
    assert_eq!(
        (entry.read_state, entry.user_action_state),
        (ReadState::Unread, UserActionState::Activated)
    );
    set_state(&mut entry, None, Some(UserActionState::Snoozed));
    assert_eq!(entry.user_action_state, UserActionState::Snoozed);
    assert_eq!(entry.read_state, ReadState::Unread);
}

#[test]
fn an_ungrouped_notification_closes_once_read_dismissed_or_deleted_and_stays_while_unread() {
    let unread = stored("a", None, "Hi", NOW);
    assert_eq!(
        refresh_after_change("a", None, std::slice::from_ref(&unread), false, NOW),
        Refresh::Keep
    );
    let mut read = unread.clone();
    set_state(&mut read, Some(ReadState::Read), None);
    let close = Refresh::Close(format!("{ITEM_TAG_PREFIX}a"));
    assert_eq!(refresh_after_change("a", None, &[read], false, NOW), close);
    let mut dismissed = unread.clone();
    dismiss(&mut dismissed);
    assert_eq!(
        refresh_after_change("a", None, &[dismissed], false, NOW),
        close
    );
    assert_eq!(refresh_after_change("a", None, &[], false, NOW), close);
}

#[test]
fn a_shown_group_is_redrawn_quietly_with_the_newest_counted_entry_and_the_new_count() {
    let mut newest = stored("c", Some("news"), "Third", NOW);
    let entries = vec![
        stored("a", Some("news"), "First", NOW - 2 * MINUTE),
        stored("b", Some("news"), "Second", NOW - MINUTE),
        newest.clone(),
    ];
    let Refresh::Show(display) = refresh_after_change("a", Some("news"), &entries, true, NOW)
    else {
        panic!("expected a redraw");
    };
    assert_eq!(display.title, "Third (3)");
    assert_eq!(display.tag, format!("{GROUP_TAG_PREFIX}news"));
    assert!(!display.renotify, "a redraw never alerts again");

    dismiss(&mut newest);
    let entries = [entries[0].clone(), entries[1].clone(), newest];
    let Refresh::Show(display) = refresh_after_change("c", Some("news"), &entries, true, NOW)
    else {
        panic!("expected a redraw");
    };
    assert_eq!(
        (display.title.as_str(), display.key.as_str()),
        ("Second (2)", "b")
    );
}

#[test]
fn a_group_with_nothing_left_to_count_closes_and_one_already_closed_is_not_brought_back() {
    let mut only = stored("a", Some("news"), "First", NOW);
    assert_eq!(
        refresh_after_change("a", Some("news"), std::slice::from_ref(&only), false, NOW),
        Refresh::Keep
    );
    activate(&mut only);
    assert_eq!(
        refresh_after_change("a", Some("news"), &[only], true, NOW),
        Refresh::Close(format!("{GROUP_TAG_PREFIX}news"))
    );
}

/// `notification("a", None, "Hi")` with pictures and buttons.
fn with_rich(icon: &str) -> Notification {
    let text = format!(
        r#"{{ "appNotificationId": "a", "expirationDateTime": "2026-11-23T13:00:00Z",
             "payload": {{ "visualContent": {{ "title": "Hi", "body": "b", "icon": "{icon}",
                "image": "https://cdn.example/i.jpg",
                "actions": [{{"action": "open", "title": "Open", "url": "/o"}}, {{"action": "mute", "title": "Mute"}}] }} }} }}"#
    );
    let body: Json = serde_json::from_str(&text).expect("test JSON parses");
    Notification::from_json(&body, NOW).expect("test notification is valid")
}

#[test]
fn an_entry_keeps_its_pictures_and_buttons_through_its_stored_record() {
    let entry = FeedEntry::arrived(&with_rich("/i.png"), NOW);
    assert_eq!(
        entry.rich.as_deref(),
        Some(
            r#"{"icon":"/i.png","image":"https://cdn.example/i.jpg","actions":[{"action":"open","title":"Open","url":"/o"},{"action":"mute","title":"Mute","url":null}],"urls":{"open":"/o"}}"#
        )
    );
    let record: Json = serde_json::from_str(&record_of(&entry)).expect("records are JSON");
    assert_eq!(entry_of(&&record), Some(entry.clone()));
    // A record written before pictures and buttons existed reads with none.
    let old: Json = serde_json::from_str(
        r#"{"id":"o","created":1,"expires":2,"readState":"unread","userActionState":"none"}"#,
    )
    .unwrap();
    assert_eq!(entry_of(&&old).map(|entry| entry.rich), Some(None));
    assert_eq!(
        stored("p", None, "Plain", NOW).rich,
        None,
        "nothing but text"
    );
}

#[test]
fn a_push_that_changes_only_a_picture_is_an_update_and_the_same_pictures_a_redelivery() {
    let first = FeedEntry::arrived(&with_rich("/i.png"), NOW - MINUTE);
    let again = arrive(&with_rich("/i.png"), Some(&first), None, NOW);
    assert!(matches!(again, Arrival::Redelivered(_)));
    let changed = arrive(&with_rich("/other.png"), Some(&first), None, NOW);
    assert!(matches!(changed, Arrival::Updated(_)));
}

#[test]
fn what_is_shown_carries_the_newest_entrys_pictures_and_buttons() {
    let entry = FeedEntry::arrived(&with_rich("/i.png"), NOW);
    let display = usernotify::core::plan_entry(&entry, &[], NOW).unwrap();
    assert_eq!(display.rich, entry.rich);
    assert!(display.rich.unwrap().contains(r#""icon":"/i.png""#));
}
