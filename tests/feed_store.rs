//! The feed store inside a real service worker of headless Chromium, with real IndexedDB:
//! what the worker writes on a push and what the page API (`NotificationClient`, called
//! from Rust here) reads and changes.
#![cfg(target_arch = "wasm32")]

use futures_join::join_all;
use js_sys::{Array, Promise, Reflect};
use usernotify::web::client::NotificationClient;
use usernotify::web::worker::{handle_notification_click, handle_notification_close, handle_push};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{Notification, NotificationEvent, NotificationEventInit};

wasm_bindgen_test_configure!(run_in_service_worker);

mod in_worker;
use in_worker::{close_all, later, pause, push_event, scope, shown};

mod futures_join {
    //! Runs futures at once, as concurrent push events do, and waits for all of them.
    use js_sys::Promise;
    use std::future::Future;
    use wasm_bindgen_futures::{future_to_promise, JsFuture};

    pub async fn join_all(futures: Vec<impl Future<Output = ()> + 'static>) {
        let promises: js_sys::Array = futures
            .into_iter()
            .map(|future| {
                future_to_promise(async move {
                    future.await;
                    Ok(wasm_bindgen::JsValue::UNDEFINED)
                })
            })
            .collect();
        JsFuture::from(Promise::all(&promises)).await.unwrap();
    }
}

fn pushed(id: &str, group: Option<&str>, title: &str) -> String {
    let group = group.map_or(String::new(), |group| format!(r#""groupName":"{group}","#));
    format!(
        r#"{{"appNotificationId":"{id}",{group}"expirationDateTime":"{}",
            "payload":{{"visualContent":{{"title":"{title}","body":"b"}}}}}}"#,
        later(3_600_000.0)
    )
}

async fn entries(client: &NotificationClient) -> Vec<JsValue> {
    let list = JsFuture::from(client.get_all_notifications())
        .await
        .unwrap();
    Array::from(&list).iter().collect()
}

async fn entry(client: &NotificationClient, id: &str) -> Option<JsValue> {
    entries(client)
        .await
        .into_iter()
        .find(|entry| field(entry, "id").as_deref() == Some(id))
}

fn field(value: &JsValue, name: &str) -> Option<String> {
    Reflect::get(value, &name.into()).ok()?.as_string()
}

async fn rejection_name(promise: Promise) -> Option<String> {
    let error = JsFuture::from(promise).await.err()?;
    field(&error, "name")
}

#[wasm_bindgen_test]
async fn a_pushed_notification_is_in_the_feed_unread_once_the_push_is_handled() {
    close_all().await;
    handle_push(push_event(Some(&pushed("s1", None, "Stored")))).await;
    let client = NotificationClient::connect().await.unwrap();
    let stored = entry(&client, "s1").await.expect("in the feed");
    assert_eq!(field(&stored, "title").as_deref(), Some("Stored"));
    assert_eq!(field(&stored, "readState").as_deref(), Some("unread"));
    assert_eq!(field(&stored, "userActionState").as_deref(), Some("none"));
    assert!(field(&stored, "creationDateTime").is_some_and(|at| at.ends_with('Z')));
}

#[wasm_bindgen_test]
async fn the_same_id_pushed_again_updates_the_entry_and_never_duplicates_it() {
    handle_push(push_event(Some(&pushed("s2", None, "Draft")))).await;
    handle_push(push_event(Some(&pushed("s2", None, "Final")))).await;
    let client = NotificationClient::connect().await.unwrap();
    let all = entries(&client).await;
    let copies: Vec<_> = all
        .iter()
        .filter(|entry| field(entry, "id").as_deref() == Some("s2"))
        .collect();
    assert_eq!(copies.len(), 1);
    assert_eq!(field(copies[0], "title").as_deref(), Some("Final"));
}

#[wasm_bindgen_test]
async fn a_deleted_id_pushed_again_stays_deleted_and_is_not_shown() {
    close_all().await;
    handle_push(push_event(Some(&pushed("s3", None, "Gone")))).await;
    let client = NotificationClient::connect().await.unwrap();
    JsFuture::from(client.delete_notification("s3".into()))
        .await
        .unwrap();
    close_all().await;
    handle_push(push_event(Some(&pushed("s3", None, "Gone")))).await;
    assert!(entry(&client, "s3").await.is_none());
    let titles: Vec<String> = shown().await.iter().map(Notification::title).collect();
    assert!(!titles.contains(&"Gone".to_string()), "{titles:?}");
}

#[wasm_bindgen_test]
async fn state_changes_are_stored_and_bad_names_or_ids_reject_with_stable_codes() {
    handle_push(push_event(Some(&pushed("s4", None, "Read me")))).await;
    let client = NotificationClient::connect().await.unwrap();
    let read = JsFuture::from(client.update_read_state("s4".into(), "read".into()))
        .await
        .unwrap();
    assert_eq!(field(&read, "readState").as_deref(), Some("read"));
    JsFuture::from(client.update_user_action_state("s4".into(), "snoozed".into()))
        .await
        .unwrap();
    let stored = entry(&client, "s4").await.unwrap();
    assert_eq!(
        field(&stored, "userActionState").as_deref(),
        Some("snoozed")
    );
    assert_eq!(
        rejection_name(client.update_read_state("s4".into(), "Read".into())).await,
        Some("invalid-state".into())
    );
    assert_eq!(
        rejection_name(client.update_user_action_state("s4".into(), "deleted".into())).await,
        Some("invalid-state".into())
    );
    assert_eq!(
        rejection_name(client.update_read_state("no-such-id".into(), "read".into())).await,
        Some("not-found".into())
    );
    assert_eq!(
        rejection_name(client.delete_notification("no-such-id".into())).await,
        Some("not-found".into())
    );
}

#[wasm_bindgen_test]
async fn twenty_concurrent_pushes_of_one_group_are_all_stored_and_counted() {
    close_all().await;
    let pushes = (0..20)
        .map(|n| {
            handle_push(push_event(Some(&pushed(
                &format!("c{n}"),
                Some("burst"),
                "Burst",
            ))))
        })
        .collect();
    join_all(pushes).await;
    let client = NotificationClient::connect().await.unwrap();
    let in_group = entries(&client)
        .await
        .iter()
        .filter(|entry| field(entry, "groupName").as_deref() == Some("burst"))
        .count();
    assert_eq!(in_group, 20);
    let titles: Vec<String> = shown().await.iter().map(Notification::title).collect();
    assert_eq!(titles, ["Burst (20)"]);
}

#[wasm_bindgen_test]
async fn an_expired_entry_is_never_listed() {
    handle_push(push_event(Some(&format!(
        r#"{{"appNotificationId":"s5","expirationDateTime":"{}",
            "payload":{{"visualContent":{{"title":"Brief"}}}}}}"#,
        later(1_500.0)
    ))))
    .await;
    let client = NotificationClient::connect().await.unwrap();
    assert!(entry(&client, "s5").await.is_some());
    let wait = Promise::new(&mut |resolve, _| {
        scope()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 1_600)
            .unwrap();
    });
    JsFuture::from(wait).await.unwrap();
    assert!(entry(&client, "s5").await.is_none());
}

async fn on_screen(title: &str) -> Notification {
    shown()
        .await
        .into_iter()
        .find(|notification| notification.title() == title)
        .unwrap_or_else(|| panic!("{title} is on screen"))
}

fn user_event(kind: &str, notification: &Notification) -> NotificationEvent {
    NotificationEvent::new(kind, &NotificationEventInit::new(notification)).unwrap()
}

#[wasm_bindgen_test]
async fn a_click_marks_the_entry_activated_and_read() {
    close_all().await;
    handle_push(push_event(Some(&pushed("k1", None, "Click me")))).await;
    let clicked = on_screen("Click me").await;
    handle_notification_click(user_event("notificationclick", &clicked)).await;
    let client = NotificationClient::connect().await.unwrap();
    let stored = entry(&client, "k1").await.unwrap();
    assert_eq!(field(&stored, "readState").as_deref(), Some("read"));
    assert_eq!(
        field(&stored, "userActionState").as_deref(),
        Some("activated")
    );
}

#[wasm_bindgen_test]
async fn the_user_closing_a_group_notification_dismisses_every_entry_it_counted() {
    close_all().await;
    handle_push(push_event(Some(&pushed("d1", Some("closing"), "First")))).await;
    handle_push(push_event(Some(&pushed("d2", Some("closing"), "Second")))).await;
    let group = on_screen("Second (2)").await;
    // The user's close: the notification is gone from the screen when the event comes
    // (Firefox's close() takes it off getNotifications() a moment later).
    group.close();
    for _ in 0..100 {
        if !shown()
            .await
            .iter()
            .any(|shown| shown.title() == "Second (2)")
        {
            break;
        }
        pause(20).await;
    }
    handle_notification_close(user_event("notificationclose", &group)).await;
    let client = NotificationClient::connect().await.unwrap();
    for id in ["d1", "d2"] {
        let stored = entry(&client, id).await.unwrap();
        assert_eq!(
            field(&stored, "userActionState").as_deref(),
            Some("dismissed"),
            "{id}"
        );
        assert_eq!(
            field(&stored, "readState").as_deref(),
            Some("unread"),
            "{id}"
        );
    }
}
