//! What the user did, as it travels between devices (CONTRACT §5's change records), checked
//! on the host.
#![cfg(not(target_arch = "wasm32"))]

use usernotify::core::feed::{FeedEntry, ReadState, UserActionState};
use usernotify::core::sync::{changes_of, StateChange, MAX_CHANGES_PER_PUSH};
use usernotify::core::{Json, Millis, Notification};

const NOW: Millis = 1_795_435_200_000;

fn json(text: &str) -> Json {
    serde_json::from_str(text).expect("test JSON parses")
}

fn entry_from_service(id: &str) -> FeedEntry {
    let body = json(&format!(
        r#"{{"id": "{id}", "expirationDateTime": "2026-11-23T13:00:00Z", "payload": {{"visualContent": {{"title": "t"}}}}}}"#
    ));
    FeedEntry::arrived(&Notification::from_json(&body, NOW).expect("valid"), NOW)
}

#[test]
fn a_change_of_state_and_a_deletion_are_written_and_read_back_the_same() {
    let read = StateChange {
        id: "n1".into(),
        state: Some((ReadState::Read, UserActionState::Dismissed)),
    };
    assert_eq!(
        read.to_json(),
        r#"{"id":"n1","readState":"read","userActionState":"dismissed","deleted":false}"#
    );
    assert_eq!(StateChange::read(&&json(&read.to_json())), Some(read));
    let deleted = StateChange {
        id: "n2".into(),
        state: None,
    };
    assert_eq!(deleted.to_json(), r#"{"id":"n2","deleted":true}"#);
    assert_eq!(StateChange::read(&&json(&deleted.to_json())), Some(deleted));
}

#[test]
fn an_outbox_entry_written_before_deleted_was_false_reads_as_a_change_of_state() {
    let change = StateChange::read(&&json(
        r#"{"id":"n1","readState":"read","userActionState":"none"}"#,
    ));
    assert_eq!(
        change.and_then(|change| change.state),
        Some((ReadState::Read, UserActionState::None))
    );
}

#[test]
fn records_that_are_not_changes_are_left_out() {
    for text in [
        r#"{}"#,
        r#"{"id": 5}"#,
        r#"{"id":"n","readState":"seen","userActionState":"none"}"#,
        r#"{"id":"n"}"#,
        "[]",
    ] {
        assert_eq!(StateChange::read(&&json(text)), None, "{text}");
    }
}

#[test]
fn only_a_notification_the_service_sent_has_a_change_to_send() {
    let mut entry = entry_from_service("n1");
    entry.read_state = ReadState::Read;
    assert_eq!(
        StateChange::of(&entry, false).and_then(|change| change.state),
        Some((ReadState::Read, UserActionState::None))
    );
    assert_eq!(
        StateChange::of(&entry, true).map(|change| change.state),
        Some(None)
    );
    entry.id = None;
    assert_eq!(StateChange::of(&entry, false), None);
}

#[test]
fn a_change_applied_sets_both_states_and_says_whether_anything_changed() {
    let mut entry = entry_from_service("n1");
    let read = StateChange {
        id: "n1".into(),
        state: Some((ReadState::Read, UserActionState::Activated)),
    };
    assert!(read.apply(&mut entry));
    assert_eq!(
        (entry.read_state, entry.user_action_state),
        (ReadState::Read, UserActionState::Activated)
    );
    assert!(
        !read.apply(&mut entry),
        "the same change again changes nothing"
    );
    assert!(
        !StateChange {
            id: "n1".into(),
            state: None
        }
        .apply(&mut entry),
        "a deletion is the feed's to make"
    );
}

#[test]
fn a_push_carries_at_most_twenty_changes_and_nothing_else_counts_as_one() {
    let items: Vec<String> = (0..25)
        .map(|index| format!(r#"{{"id":"n{index}","readState":"read","userActionState":"none"}}"#))
        .collect();
    let body = json(&format!(
        r#"{{"changes": [{}, "junk", 7]}}"#,
        items.join(",")
    ));
    let changes = changes_of(&&body);
    assert_eq!(changes.len(), MAX_CHANGES_PER_PUSH);
    assert_eq!(changes.first().map(|change| change.id.as_str()), Some("n0"));
    assert!(changes_of(&&json(r#"{"changes": "n1"}"#)).is_empty());
    assert!(changes_of(&&json("{}")).is_empty());
}

use usernotify::core::sync::{change_push_visible_until, is_changes_only, OnDevice};

const HOUR: Millis = 3_600_000;

fn on_device(id: &str, group: &str, counts: bool, posted: Millis) -> OnDevice {
    OnDevice {
        id: id.into(),
        group: group.into(),
        counts,
        posted,
        expiration: NOW + HOUR,
        display_until: None,
    }
}

#[test]
fn a_change_in_a_group_that_still_counts_another_pushed_notification_is_pushed_until_it_expires() {
    let shown = [
        on_device("n1", "chat", true, NOW - 2_000),
        on_device("n2", "chat", true, NOW - 1_000),
    ];
    assert_eq!(
        change_push_visible_until(&[("n2", Some("chat"))], &shown, NOW),
        Some(NOW + HOUR),
        "n1 is left: the group is redrawn with its new count"
    );
}

#[test]
fn a_change_that_would_leave_nothing_visible_is_not_pushed() {
    let shown = [on_device("n1", "chat", true, NOW - 1_000)];
    assert_eq!(
        change_push_visible_until(&[("n1", Some("chat"))], &shown, NOW),
        None,
        "the last one of its group"
    );
    assert_eq!(
        change_push_visible_until(&[("n9", None)], &shown, NOW),
        None,
        "an ungrouped notification only closes"
    );
    let read = [
        on_device("n1", "chat", false, NOW - 2_000),
        on_device("n2", "chat", true, NOW - 1_000),
    ];
    assert_eq!(
        change_push_visible_until(&[("n2", Some("chat"))], &read, NOW),
        None,
        "what is left is read already"
    );
    let other_group = [on_device("n1", "news", true, NOW - 2_000)];
    assert_eq!(
        change_push_visible_until(&[("n2", Some("chat"))], &other_group, NOW),
        None
    );
}

#[test]
fn a_group_whose_newest_notification_ran_out_of_display_time_gets_no_change_push() {
    let mut newest = on_device("n2", "chat", true, NOW - 1_000);
    newest.display_until = Some(NOW - 1);
    let shown = [on_device("n1", "chat", true, NOW - 5_000), newest.clone()];
    assert_eq!(
        change_push_visible_until(&[("n3", Some("chat"))], &shown, NOW),
        None,
        "the group's notification was closed by its display time"
    );
    newest.display_until = Some(NOW + 60_000);
    let shown = [on_device("n1", "chat", true, NOW - 5_000), newest];
    assert_eq!(
        change_push_visible_until(&[("n3", Some("chat"))], &shown, NOW),
        Some(NOW + 60_000),
        "worth delivering only while it is still shown"
    );
}

#[test]
fn a_body_with_changes_and_no_payload_is_a_change_only_push() {
    assert!(is_changes_only(&&json(r#"{"changes": []}"#)));
    assert!(!is_changes_only(&&json(
        r#"{"changes": [], "payload": {"rawContent": "x"}}"#
    )));
    assert!(!is_changes_only(&&json(
        r#"{"payload": {"rawContent": "x"}}"#
    )));
}

use usernotify::core::sync::{EventReader, StreamEvent};

fn event(id: &str, data: &str) -> StreamEvent {
    StreamEvent {
        id: Some(id.into()),
        data: data.into(),
    }
}

#[test]
fn a_change_stream_read_in_chunks_cut_anywhere_gives_each_event_once_with_its_id() {
    let stream =
        ": keep-alive\n\nid: 1\ndata: {\"id\":\"n1\"}\n\nid:2\r\ndata: {\"t\":\"é\"}\r\n\r\n";
    let whole = EventReader::default().push(stream.as_bytes());
    assert_eq!(
        whole,
        [event("1", r#"{"id":"n1"}"#), event("2", r#"{"t":"é"}"#)]
    );
    for size in 1..stream.len() {
        let mut reader = EventReader::default();
        let events: Vec<StreamEvent> = stream
            .as_bytes()
            .chunks(size)
            .flat_map(|chunk| reader.push(chunk))
            .collect();
        assert_eq!(events, whole, "chunks of {size} bytes");
    }
}

#[test]
fn data_lines_join_an_event_without_an_id_keeps_the_last_one_and_one_without_data_is_none() {
    let mut reader = EventReader::default();
    assert_eq!(
        reader.push(b"id: 7\ndata: a\ndata: b\n\n"),
        [event("7", "a\nb")]
    );
    assert_eq!(reader.push(b"data: c\n\n"), [event("7", "c")]);
    assert_eq!(reader.push(b"id: 8\nevent: other\n\n"), []);
    assert_eq!(reader.push(b"data: d\rdata"), [], "not ended yet");
    assert_eq!(reader.push(b"\r\r"), [event("8", "d\n")]);
}

// The push body the service writes, read back by the worker's readers: both ends here.
use usernotify::core::notification::MAX_PUSH_JSON_BYTES;
use usernotify::core::sync::push_body_with_changes;

fn read(id: &str) -> StateChange {
    StateChange {
        id: id.to_owned(),
        state: Some((ReadState::Read, UserActionState::None)),
    }
}

#[test]
fn a_push_carries_the_resource_with_its_changes_newest_first() {
    let body = push_body_with_changes(
        Some(r#"{"id":"n3","payload":{}}"#),
        &[read("n2"), read("n1")],
        MAX_PUSH_JSON_BYTES,
    );
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(value["id"], "n3");
    assert_eq!(value["changes"][0]["id"], "n2");
    assert_eq!(value["changes"][1]["id"], "n1");
    assert_eq!(value["changes"][1]["readState"], "read");
    let only = push_body_with_changes(None, &[read("n2")], MAX_PUSH_JSON_BYTES);
    assert_eq!(
        String::from_utf8(only).unwrap(),
        r#"{"changes":[{"id":"n2","readState":"read","userActionState":"none","deleted":false}]}"#
    );
}

#[test]
fn changes_that_do_not_fit_are_dropped_oldest_first_and_never_the_notification() {
    let big = "x".repeat(MAX_PUSH_JSON_BYTES - 300);
    let resource = format!(r#"{{"id":"n","payload":{{"rawContent":"{big}"}}}}"#);
    let changes: Vec<StateChange> = (0..20).rev().map(|n| read(&format!("c{n}"))).collect();
    let body = push_body_with_changes(Some(&resource), &changes, MAX_PUSH_JSON_BYTES);
    assert!(body.len() <= MAX_PUSH_JSON_BYTES, "{}", body.len());
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let carried = value["changes"].as_array().unwrap();
    assert!(
        !carried.is_empty() && carried.len() < 20,
        "{}",
        carried.len()
    );
    assert_eq!(carried[0]["id"], "c19", "the newest stays");
    assert_eq!(value["payload"]["rawContent"], big.as_str());
    let full = format!(
        r#"{{"id":"n","payload":{{"rawContent":"{}"}}}}"#,
        "y".repeat(MAX_PUSH_JSON_BYTES - 40)
    );
    assert_eq!(
        push_body_with_changes(Some(&full), &changes, MAX_PUSH_JSON_BYTES),
        full.as_bytes(),
        "alone when none fits"
    );
}

#[test]
fn the_worker_reads_back_the_notification_and_the_changes_a_push_body_carries() {
    let resource = r#"{"id":"n9","expirationDateTime":"2026-11-23T13:00:00Z","payload":{"visualContent":{"title":"Build"}}}"#;
    let deleted = StateChange {
        id: "n7".to_owned(),
        state: None,
    };
    let sent = [read("n8"), deleted];
    let body = json(
        core::str::from_utf8(&push_body_with_changes(
            Some(resource),
            &sent,
            MAX_PUSH_JSON_BYTES,
        ))
        .unwrap(),
    );
    assert_eq!(changes_of(&&body), sent.to_vec());
    assert!(!is_changes_only(&&body));
    let notification = Notification::from_json(&body, NOW).expect("the notification reads");
    assert_eq!(notification.key(), "n9");
    let only = json(
        core::str::from_utf8(&push_body_with_changes(None, &sent, MAX_PUSH_JSON_BYTES)).unwrap(),
    );
    assert!(is_changes_only(&&only));
    assert_eq!(changes_of(&&only), sent.to_vec());
}
