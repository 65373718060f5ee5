//! The messages a page sends its worker, written as the page API writes them and read as the
//! worker reads them, on the host: both ends of each in one test.
#![cfg(not(target_arch = "wasm32"))]

use usernotify::core::messages::{
    feed_changed, push_request, read_page_request, status_question, to_pages, PageRequest,
    ACTIVATED,
};
use usernotify::core::Json;

fn json(text: &str) -> Json {
    serde_json::from_str(text).expect("a page's message is JSON")
}

#[test]
fn a_page_asking_for_a_push_hands_the_worker_the_push_text_as_sent() {
    let push = r#"{"id":"n-1","payload":{"visualContent":{"title":"Hi \"there\""}}}"#;
    let message = json(&push_request(push));
    match read_page_request(&&message) {
        PageRequest::Push(Some(data)) => assert_eq!(data.as_str(), Some(push)),
        other => panic!("read as {other:?}"),
    }
}

#[test]
fn a_page_telling_of_a_feed_change_names_the_entry_and_its_group() {
    let grouped = json(&feed_changed("n-2", Some("build")));
    assert_eq!(
        read_page_request(&&grouped),
        PageRequest::FeedChanged {
            id: Some("n-2".into()),
            group: Some("build".into())
        }
    );
    let alone = json(&feed_changed("n-3", None));
    assert_eq!(
        read_page_request(&&alone),
        PageRequest::FeedChanged {
            id: Some("n-3".into()),
            group: None
        }
    );
}

#[test]
fn the_status_question_and_unknown_messages_leave_the_worker_only_sweeping() {
    assert_eq!(
        read_page_request(&&json(&status_question())),
        PageRequest::Other
    );
    assert_eq!(
        read_page_request(&&json(r#"{"type":"usernotify-sweep"}"#)),
        PageRequest::Other
    );
    assert_eq!(
        read_page_request(&&json(r#"{"type":"an app's own"}"#)),
        PageRequest::Other
    );
    assert_eq!(read_page_request(&&json("[1,2]")), PageRequest::Other);
}

#[test]
fn a_message_to_pages_carries_its_type_and_key() {
    let message = json(&to_pages(ACTIVATED, "n-4").str("action", "open").end());
    assert_eq!(
        message.get("type").and_then(Json::as_str),
        Some("usernotify-activated")
    );
    assert_eq!(message.get("key").and_then(Json::as_str), Some("n-4"));
    assert_eq!(message.get("action").and_then(Json::as_str), Some("open"));
}
