//! The service worker's decisions (src/worker.rs), asked as its shell asks them: a question
//! written as a tape, the answer read as JSON. What a push, a click, a close or a page's
//! change leads to on screen and in the feed, checked on the host.
#![cfg(not(target_arch = "wasm32"))]

use serde_json::{json, Value};
use usernotify::core::json::Json;
use usernotify::core::tape::write::tape_of;
use usernotify::core::Millis;
use usernotify::worker::decide;

/// 2026-11-23T12:00:00Z: every question is asked at this instant unless it says otherwise.
const NOW: Millis = 1_795_435_200_000;
const MINUTE: Millis = 60_000;

fn ask(question: Value) -> Value {
    let mut question = question;
    if question.get("now").is_none() {
        question["now"] = json!(NOW);
    }
    let tree: Json = serde_json::from_value(question).expect("a question is JSON");
    let answer = decide(&tape_of(&tree));
    serde_json::from_str(&answer).expect("an answer is JSON")
}

fn iso(at: Millis) -> String {
    usernotify::core::format_iso8601(at)
}

/// A push with a title, an id, an hour to live and `fields`.
fn push(id: &str, title: &str, fields: Value) -> Value {
    let mut body = json!({
        "appNotificationId": id,
        "expirationDateTime": iso(NOW + 60 * MINUTE),
        "payload": { "visualContent": { "title": title, "body": format!("body of {title}") } },
    });
    if let (Some(body), Some(fields)) = (body.as_object_mut(), fields.as_object()) {
        body.extend(fields.clone());
    }
    body
}

/// The feed's record of a push that arrived at `NOW` (what `arrive` answers to write).
fn stored(body: &Value) -> Value {
    ask(json!({ "op": "arrive", "body": body }))["put"].clone()
}

#[test]
fn a_valid_push_is_accepted_under_its_key_with_its_group_and_raw_content() {
    let body = push(
        "order-1",
        "Shipped",
        json!({ "groupName": "orders", "payload": { "visualContent": { "title": "Shipped" }, "rawContent": "{\"id\":1}" } }),
    );
    assert_eq!(
        ask(json!({ "op": "accept", "body": body })),
        json!({ "key": "order-1", "group": "orders", "raw": "{\"id\":1}" })
    );
}

#[test]
fn pushes_that_are_empty_not_json_or_invalid_are_refused_with_their_stable_code() {
    let cases = [
        (json!({ "op": "accept" }), "empty-body"),
        (
            json!({ "op": "accept", "malformed": true }),
            "malformed-json",
        ),
        (json!({ "op": "accept", "body": null }), "contract-mismatch"),
        (json!({ "op": "accept", "body": [1, 2] }), "body-is-array"),
        (
            json!({ "op": "accept", "body": { "payload": {} } }),
            "invalid-payload",
        ),
        (
            json!({ "op": "accept", "body": push("x", "t", json!({ "expirationDateTime": iso(NOW - MINUTE) })) }),
            "expired",
        ),
        (
            json!({ "op": "accept", "body": push("x", "t", json!({ "displayTimeToLive": -1 })) }),
            "negative-ttl",
        ),
    ];
    for (question, code) in cases {
        assert_eq!(ask(question.clone())["refused"], json!(code), "{question}");
    }
}

#[test]
fn a_new_push_is_written_unread_as_added_and_counted_as_news_in_its_group() {
    let body = push("c", "Third", json!({ "groupName": "news" }));
    let answer = ask(
        json!({ "op": "arrive", "body": body, "counted": ["a", "b", "gone"], "expired": ["gone"] }),
    );
    assert_eq!(answer["change"], json!("added"));
    assert_eq!(answer["members"], json!(["a", "b"]));
    assert_eq!(answer["outcome"], Value::Null);
    let record = &answer["put"];
    assert_eq!(
        (
            &record["id"],
            &record["title"],
            &record["readState"],
            &record["userActionState"],
            &record["counted"]
        ),
        (
            &json!("c"),
            &json!("Third"),
            &json!("unread"),
            &json!("none"),
            &json!(1)
        )
    );
    assert_eq!(record["created"], json!(NOW));
}

#[test]
fn the_same_id_with_new_content_is_an_update_and_the_same_content_is_a_redelivery() {
    let first = push("n", "Draft", json!({}));
    let entry = stored(&first);
    let edited = push("n", "Final", json!({}));
    let update = ask(json!({ "op": "arrive", "body": edited, "entry": entry }));
    assert_eq!(
        (&update["change"], &update["put"]["title"]),
        (&json!("updated"), &json!("Final"))
    );
    let again = ask(json!({ "op": "arrive", "body": first, "entry": entry }));
    assert_eq!(
        (&again["put"], &again["change"], &again["outcome"]),
        (&Value::Null, &Value::Null, &Value::Null)
    );
}

#[test]
fn a_redelivery_of_what_the_user_read_is_already_seen_and_a_deleted_one_stays_deleted() {
    let body = push("r", "Read it", json!({}));
    let mut entry = stored(&body);
    entry["readState"] = json!("read");
    assert_eq!(
        ask(json!({ "op": "arrive", "body": body, "entry": entry }))["outcome"],
        json!("already-seen")
    );
    let tombstone = json!({ "id": "r", "expires": NOW + 60 * MINUTE });
    let answer = ask(json!({ "op": "arrive", "body": body, "tombstone": tombstone }));
    assert_eq!(
        (&answer["outcome"], &answer["put"]),
        (&json!("deleted"), &Value::Null)
    );
}

#[test]
fn a_group_shows_the_newest_title_with_the_count_and_alerts_again() {
    let body = push(
        "c",
        "Third",
        json!({ "groupName": "news", "priority": "High" }),
    );
    let shown = ask(json!({ "op": "show", "body": body, "members": ["a", "b"], "screen": [] }));
    assert_eq!(shown["title"], json!("Third (3)"));
    let options = &shown["options"];
    assert_eq!(
        (
            &options["tag"],
            &options["body"],
            &options["renotify"],
            &options["requireInteraction"],
            &options["silent"]
        ),
        (
            &json!("usernotify-group:news"),
            &json!("body of Third"),
            &json!(true),
            &json!(true),
            &json!(false)
        )
    );
    assert_eq!(
        options["data"]["usernotify"]["members"],
        json!(["a", "b", "c"])
    );
    assert_eq!(options["data"]["usernotify"]["count"], json!(3));
}

#[test]
fn when_the_feed_cannot_be_read_a_group_is_counted_from_the_screen() {
    let body = push("c", "Third", json!({ "groupName": "news" }));
    let screen =
        json!([["usernotify-group:news", { "key": "b", "members": ["a", "b"] }], ["other", null]]);
    let shown = ask(json!({ "op": "show", "body": body, "members": null, "screen": screen }));
    assert_eq!(shown["title"], json!("Third (3)"));
}

#[test]
fn a_shown_notification_closes_the_quiet_status_and_carries_its_display_time() {
    let body = push(
        "t",
        "Timed",
        json!({ "displayTimeToLive": "60", "payload": { "visualContent": { "title": "Timed", "url": "/inbox" } } }),
    );
    let screen = json!([["other", null], ["usernotify-status", null]]);
    let shown = ask(json!({ "op": "show", "body": body, "members": [], "screen": screen }));
    assert_eq!(shown["close"], json!([1]));
    let data = &shown["options"]["data"]["usernotify"];
    assert_eq!(
        (&data["closeAt"], &data["url"], &data["key"]),
        (&json!(NOW + MINUTE), &json!("/inbox"), &json!("t"))
    );
}

#[test]
fn raw_content_taken_by_the_app_shows_nothing_and_otherwise_shows_under_the_default_title() {
    let body =
        json!({ "appNotificationId": "raw", "payload": { "rawContent": "{\"orderId\":7}" } });
    assert_eq!(
        ask(json!({ "op": "show", "body": body, "taken": true, "screen": [] })),
        Value::Null
    );
    let fallback = ask(json!({ "op": "show", "body": body, "taken": false, "screen": [] }));
    assert_eq!(
        (&fallback["title"], &fallback["options"]["body"]),
        (&json!("New notification"), &json!("{\"orderId\":7}"))
    );
}

#[test]
fn the_quiet_status_is_shown_only_when_nothing_of_the_app_is_on_screen() {
    let status = ask(json!({ "op": "status", "screen": [] }));
    assert_eq!(
        (
            &status["title"],
            &status["options"]["tag"],
            &status["options"]["silent"]
        ),
        (
            &json!("Notifications"),
            &json!("usernotify-status"),
            &json!(true)
        )
    );
    assert_eq!(
        ask(json!({ "op": "status", "screen": [["an-apps-own", null]] })),
        Value::Null
    );
}

#[test]
fn a_sweep_closes_what_outlived_its_display_time_or_expired_and_nothing_else() {
    let screen = json!([
        ["a", { "closeAt": NOW - 1, "expiration": NOW + MINUTE }],
        ["b", { "closeAt": null, "expiration": NOW }],
        ["c", { "closeAt": NOW + 1, "expiration": NOW + MINUTE }],
        ["an-apps-own", null],
    ]);
    assert_eq!(
        ask(json!({ "op": "sweep", "screen": screen })),
        json!([0, 1])
    );
}

#[test]
fn a_click_activates_and_reads_and_a_close_dismisses_only_unexpired_entries() {
    let entry = stored(&push("k", "Click me", json!({})));
    let mut expired = stored(&push("old", "Old", json!({})));
    expired["expires"] = json!(NOW - 1);
    let activated =
        ask(json!({ "op": "change", "action": "activated", "records": [entry, expired] }));
    assert_eq!(activated.as_array().map(Vec::len), Some(1));
    assert_eq!(
        (
            &activated[0]["readState"],
            &activated[0]["userActionState"],
            &activated[0]["counted"]
        ),
        (&json!("read"), &json!("activated"), &json!(0))
    );
    let dismissed = ask(json!({ "op": "change", "action": "dismissed", "records": [entry] }));
    assert_eq!(
        (&dismissed[0]["readState"], &dismissed[0]["userActionState"]),
        (&json!("unread"), &json!("dismissed"))
    );
}

#[test]
fn a_page_reading_one_of_a_shown_group_redraws_it_quietly_with_the_new_count() {
    let mut first = stored(&push("a", "First", json!({ "groupName": "g" })));
    let second = stored(&push("b", "Second", json!({ "groupName": "g" })));
    first["readState"] = json!("read");
    first["counted"] = json!(0);
    let screen = json!([["usernotify-group:g", { "key": "b", "members": ["a", "b"] }]]);
    let redraw = ask(
        json!({ "op": "refresh", "key": "a", "group": "g", "records": [first, second], "screen": screen }),
    );
    assert_eq!(redraw["title"], json!("Second"));
    assert_eq!(
        redraw["options"]["data"]["usernotify"]["members"],
        json!(["b"])
    );
    // Not on screen (the user closed it): nothing comes back.
    assert_eq!(
        ask(
            json!({ "op": "refresh", "key": "a", "group": "g", "records": [second], "screen": [] })
        ),
        json!({})
    );
}

#[test]
fn a_page_reading_the_last_of_a_group_or_deleting_an_item_closes_its_notification() {
    let screen = json!([["other", null], ["usernotify-group:g", { "key": "a", "members": ["a"] }], ["usernotify:x", { "key": "x" }]]);
    assert_eq!(
        ask(json!({ "op": "refresh", "key": "a", "group": "g", "records": [], "screen": screen })),
        json!({ "close": [1] })
    );
    assert_eq!(
        ask(json!({ "op": "refresh", "key": "x", "group": null, "records": [], "screen": screen })),
        json!({ "close": [2] })
    );
}

#[test]
fn any_bytes_at_all_get_an_answer_and_never_a_panic() {
    for question in [
        &b""[..],
        &[6, 255, 255, 255, 255],
        &[6, 2, 0, 0, 0, 4, 9],
        b"{\"op\":\"accept\"}",
    ] {
        let answer = decide(question);
        assert!(serde_json::from_str::<Value>(&answer).is_ok(), "{answer}");
    }
}
