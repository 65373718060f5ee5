//! The worker's handlers inside a real service worker, in headless Chromium and Firefox
//! (`wasm-pack test --headless --chrome` / `--firefox`, wasm-bindgen-test's
//! `run_in_service_worker`; webdriver.json grants the notification permission). Events are
//! built as the browser builds them and handed to the exported handlers, as the shell does;
//! what they leave is read back from the real screen (`getNotifications`) and the real feed
//! (IndexedDB).
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Promise, Reflect};
use usernotify::core::feed::{ReadState, UserActionState};
use usernotify::web::service::Service;
use usernotify::web::store::{Feed, StoreError};
use usernotify::web::worker::{on_notification_click, on_notification_close, on_push};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{
    DomException, ExtendableEvent, Notification, NotificationEvent, NotificationEventInit,
    NotificationOptions, PushEvent, PushEventInit, ServiceWorkerGlobalScope,
};

wasm_bindgen_test_configure!(run_in_service_worker);

fn scope() -> ServiceWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// Every notification of the worker's registration on screen now.
async fn shown() -> Vec<Notification> {
    let promise = scope().registration().get_notifications().unwrap();
    let list = JsFuture::from(promise).await.unwrap();
    Array::from(&list)
        .iter()
        .map(JsCast::unchecked_into)
        .collect()
}

/// Waits `millis` milliseconds.
async fn pause(millis: i32) {
    let wait = Promise::new(&mut |resolve, _| {
        scope()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, millis)
            .unwrap();
    });
    JsFuture::from(wait).await.unwrap();
}

/// Closes every notification and waits until none is listed: Firefox's `close()` takes a
/// notification off `getNotifications()` a moment later, Chromium's at once.
async fn close_all() {
    for notification in shown().await {
        notification.close();
    }
    for _ in 0..100 {
        if shown().await.is_empty() {
            return;
        }
        pause(20).await;
    }
}

/// Waits for an IndexedDB request to succeed.
async fn settled(request: &web_sys::IdbRequest) {
    JsFuture::from(Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    }))
    .await
    .unwrap();
}

/// A `push` event carrying `data` as text, or no data, handled as the shell hands it over.
async fn deliver(data: Option<&str>) {
    let init = PushEventInit::new();
    if let Some(data) = data {
        init.set_data_str(data);
    }
    let event = PushEvent::new_with_event_init_dict("push", &init).unwrap();
    JsFuture::from(on_push(event)).await.unwrap();
}

/// What the user did to `notification`, handled as the shell hands it over.
async fn user(kind: &str, notification: Notification) {
    let init = NotificationEventInit::new(&notification);
    let event = NotificationEvent::new(kind, &init).unwrap();
    let handled = match kind {
        "notificationclick" => on_notification_click(event),
        _ => on_notification_close(event),
    };
    JsFuture::from(handled).await.unwrap();
}

/// The instant `millis` from now, as ISO 8601 text.
fn later(millis: f64) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(js_sys::Date::now() + millis));
    date.to_iso_string().as_string().unwrap()
}

fn visual(id: &str, group: Option<&str>, title: &str, fields: &str) -> String {
    let group = group.map_or(String::new(), |group| format!(r#""groupName":"{group}","#));
    format!(
        r#"{{"appNotificationId":"{id}",{group}{fields}"expirationDateTime":"{}",
            "payload":{{"visualContent":{{"title":"{title}","body":"b of {id}"}}}}}}"#,
        later(3_600_000.0)
    )
}

fn usernotify_data(notification: &Notification, name: &str) -> JsValue {
    let data = Reflect::get(&notification.data(), &"usernotify".into()).unwrap();
    Reflect::get(&data, &name.into()).unwrap()
}

async fn feed_entry(key: &str) -> Option<usernotify::core::feed::FeedEntry> {
    let feed = Feed::open().await.unwrap();
    feed.all()
        .await
        .unwrap()
        .into_iter()
        .find(|entry| entry.key == key)
}

#[wasm_bindgen_test]
async fn a_push_shows_its_title_body_tag_and_options_and_stores_an_unread_entry() {
    close_all().await;
    let body = format!(
        r#"{{"appNotificationId":"w-options","groupName":"TestGroup","priority":"High",
            "displayTimeToLive":"60","expirationDateTime":"{}",
            "payload":{{"visualContent":{{"title":"Hello World!","body":"Notifications are Great!","url":"/inbox"}}}}}}"#,
        later(3_600_000.0)
    );
    deliver(Some(&body)).await;
    let list = shown().await;
    assert_eq!(list.len(), 1);
    let notification = &list[0];
    assert_eq!(notification.title(), "Hello World!");
    assert_eq!(
        notification.body().as_deref(),
        Some("Notifications are Great!")
    );
    assert_eq!(
        notification.tag().as_deref(),
        Some("usernotify-group:TestGroup")
    );
    assert!(notification.require_interaction());
    assert_eq!(notification.silent(), Some(false));
    assert_eq!(
        usernotify_data(notification, "key").as_string().as_deref(),
        Some("w-options")
    );
    assert_eq!(usernotify_data(notification, "count").as_f64(), Some(1.0));
    assert_eq!(
        usernotify_data(notification, "url").as_string().as_deref(),
        Some("/inbox")
    );
    let close_at = usernotify_data(notification, "closeAt").as_f64().unwrap();
    let expected = js_sys::Date::now() + 60_000.0;
    assert!(
        (close_at - expected).abs() < 5_000.0,
        "closeAt {close_at} ~ {expected}"
    );

    let entry = feed_entry("w-options")
        .await
        .expect("the push is in the feed");
    assert_eq!(entry.title.as_deref(), Some("Hello World!"));
    assert_eq!(entry.group_name.as_deref(), Some("TestGroup"));
    assert_eq!(entry.read_state, ReadState::Unread);
    assert_eq!(entry.user_action_state, UserActionState::None);
}

#[wasm_bindgen_test]
async fn a_low_priority_push_is_shown_silent_under_its_own_tag() {
    close_all().await;
    deliver(Some(&visual(
        "w-low",
        None,
        "Quiet",
        r#""priority":"Low","#,
    )))
    .await;
    let list = shown().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].silent(), Some(true));
    assert!(!list[0].require_interaction());
    assert_eq!(list[0].tag().as_deref(), Some("usernotify:w-low"));
}

#[wasm_bindgen_test]
async fn a_second_push_of_a_group_shows_one_notification_with_the_count() {
    close_all().await;
    deliver(Some(&visual("w-g1", Some("w-group"), "First", ""))).await;
    deliver(Some(&visual("w-g2", Some("w-group"), "Second", ""))).await;
    let list = shown().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].title(), "Second (2)");
    assert_eq!(usernotify_data(&list[0], "count").as_f64(), Some(2.0));
}

#[wasm_bindgen_test]
async fn malformed_empty_invalid_and_expired_pushes_leave_only_the_quiet_status() {
    let expired = format!(
        r#"{{"appNotificationId":"w-expired","expirationDateTime":"{}","payload":{{"visualContent":{{"title":"Too late"}}}}}}"#,
        later(-60_000.0)
    );
    let bodies: [Option<&str>; 10] = [
        None,
        Some(""),
        Some("   "),
        Some("{"),
        Some("[1,2]"),
        Some("null"),
        Some(r#"{"payload":{"visualContent":{"title":5}}}"#),
        Some(r#"{"payload":{"rawContent":""}}"#),
        Some(r#"{"displayTimeToLive":-1,"payload":{"visualContent":{"title":"t"}}}"#),
        Some(&expired),
    ];
    for body in bodies {
        close_all().await;
        deliver(body).await;
        let list = shown().await;
        assert_eq!(list.len(), 1, "{body:?}");
        assert_eq!(
            list[0].tag().as_deref(),
            Some("usernotify-status"),
            "{body:?}"
        );
        assert_eq!(list[0].title(), "Notifications");
        assert_eq!(list[0].silent(), Some(true));
    }
    assert!(
        feed_entry("w-expired").await.is_none(),
        "an expired push is never stored"
    );
}

#[wasm_bindgen_test]
async fn a_click_marks_the_entry_activated_and_read_and_closes_the_notification() {
    close_all().await;
    deliver(Some(&visual("w-click", None, "Click me", ""))).await;
    let notification = shown().await.into_iter().next().expect("shown");
    user("notificationclick", notification).await;
    let entry = feed_entry("w-click").await.unwrap();
    assert_eq!(entry.user_action_state, UserActionState::Activated);
    assert_eq!(entry.read_state, ReadState::Read);
    for _ in 0..100 {
        if shown().await.is_empty() {
            return;
        }
        pause(20).await;
    }
    panic!("the clicked notification stayed on screen");
}

#[wasm_bindgen_test]
async fn the_users_close_of_a_group_dismisses_every_entry_it_counted() {
    close_all().await;
    deliver(Some(&visual("w-c1", Some("w-closed"), "One", ""))).await;
    deliver(Some(&visual("w-c2", Some("w-closed"), "Two", ""))).await;
    let notification = shown().await.into_iter().next().expect("shown");
    notification.close();
    for _ in 0..100 {
        if shown().await.is_empty() {
            break;
        }
        pause(20).await;
    }
    user("notificationclose", notification).await;
    for key in ["w-c1", "w-c2"] {
        let entry = feed_entry(key).await.unwrap();
        assert_eq!(entry.user_action_state, UserActionState::Dismissed, "{key}");
        assert_eq!(entry.read_state, ReadState::Unread, "{key}");
    }
}

#[wasm_bindgen_test]
async fn a_feed_database_of_a_newer_version_is_storage_unavailable() {
    let factory = scope().indexed_db().unwrap().unwrap();
    let name = "usernotify";
    // Connections of earlier tests close on `versionchange`, so the delete goes through.
    settled(&factory.delete_database(name).unwrap()).await;
    let newer = factory.open_with_u32(name, 99).unwrap();
    settled(&newer).await;
    newer
        .result()
        .unwrap()
        .unchecked_into::<web_sys::IdbDatabase>()
        .close();

    let failure = Feed::open()
        .await
        .err()
        .expect("a newer database cannot be opened");
    assert_eq!(failure.code(), "storage-unavailable");

    // The worker still shows pushes; it says they were not stored.
    close_all().await;
    deliver(Some(&visual("w-newer", None, "Still shown", ""))).await;
    assert_eq!(
        shown().await.first().map(Notification::title).as_deref(),
        Some("Still shown")
    );

    settled(&factory.delete_database(name).unwrap()).await;
}

#[wasm_bindgen_test]
fn a_refused_write_over_quota_is_quota_exceeded_and_other_failures_storage_unavailable() {
    let quota = DomException::new_with_message_and_name("no room", "QuotaExceededError").unwrap();
    assert_eq!(StoreError::of(quota.into()).code(), "quota-exceeded");
    let aborted = DomException::new_with_message_and_name("aborted", "AbortError").unwrap();
    assert_eq!(StoreError::of(aborted.into()).code(), "storage-unavailable");
    assert_eq!(StoreError::NotFound.code(), "not-found");
}

#[wasm_bindgen_test]
async fn an_app_service_that_cannot_be_reached_is_service_unreachable() {
    // Port 9 (discard) has no listener on loopback: the connection is refused.
    let service = Service {
        url: "http://127.0.0.1:9".into(),
        token: "t".into(),
    };
    let failure = service
        .call(gloo_net::http::Method::GET, "/vapidPublicKey", None)
        .await
        .expect_err("nothing answers");
    assert_eq!(failure.code, "service-unreachable");
    assert_eq!(failure.status, 0);
    assert!(failure.is_retryable());
    assert!(
        failure
            .message
            .starts_with("could not reach the app service at http://127.0.0.1:9: "),
        "{}",
        failure.message
    );
}

#[wasm_bindgen_test]
async fn an_answer_that_is_not_a_graph_error_body_is_service_error_with_its_status() {
    // The test server answers an unknown path with 404 and no Graph error body.
    let origin = scope().location().origin();
    let service = Service {
        url: origin,
        token: "t".into(),
    };
    let failure = service
        .call(gloo_net::http::Method::GET, "/no/such/path", None)
        .await
        .expect_err("404");
    assert_eq!(failure.code, "service-error");
    assert_eq!(failure.status, 404);
    assert!(!failure.is_retryable());
    assert!(
        failure.message.contains(" answered 404: "),
        "{}",
        failure.message
    );
}

/// Firefox and Chromium expose different members of a shown notification.
fn in_firefox() -> bool {
    scope()
        .navigator()
        .user_agent()
        .is_ok_and(|agent| agent.contains("Firefox"))
}

fn member(value: &JsValue, name: &str) -> JsValue {
    Reflect::get(value, &name.into()).unwrap()
}

#[wasm_bindgen_test]
async fn a_push_with_pictures_and_buttons_shows_them_where_the_browser_exposes_them() {
    close_all().await;
    let body = format!(
        r#"{{"appNotificationId":"w-rich","expirationDateTime":"{}",
            "payload":{{"visualContent":{{"title":"Rich","body":"b","icon":"/icon.png",
              "image":"https://cdn.example/parcel.jpg","badge":"/badge.png",
              "actions":[{{"action":"track","title":"Track","url":"/orders/7"}},{{"action":"later","title":"Later"}}]}}}}}}"#,
        later(3_600_000.0)
    );
    deliver(Some(&body)).await;
    let list = shown().await;
    assert_eq!(list.len(), 1);
    let notification: &JsValue = list[0].as_ref();
    let origin = scope().location().origin();
    assert_eq!(
        member(notification, "icon").as_string(),
        Some(format!("{origin}/icon.png"))
    );
    let actions = Array::from(&member(notification, "actions"));
    let names: Vec<(String, String)> = actions
        .iter()
        .map(|action| {
            let text = |name| member(&action, name).as_string().unwrap();
            (text("action"), text("title"))
        })
        .collect();
    assert_eq!(
        names,
        [
            ("track".into(), "Track".into()),
            ("later".into(), "Later".into())
        ]
    );
    if in_firefox() {
        // Firefox 153 has no `image` or `badge` on a notification: it ignores them.
        assert!(member(notification, "image").is_undefined());
    } else {
        assert_eq!(
            member(notification, "image").as_string().as_deref(),
            Some("https://cdn.example/parcel.jpg")
        );
        assert_eq!(
            member(notification, "badge").as_string(),
            Some(format!("{origin}/badge.png"))
        );
    }
    let entry = feed_entry("w-rich").await.expect("stored");
    let rich = entry.rich.expect("pictures and buttons kept");
    assert!(rich.contains(r#""image":"https://cdn.example/parcel.jpg""#));
    assert!(rich.contains(r#"{"action":"later","title":"Later","url":null}"#));
    assert!(rich.contains(r#""urls":{"track":"/orders/7"}"#));
}

#[wasm_bindgen_test]
async fn a_push_with_a_picture_the_contract_refuses_leaves_only_the_quiet_status() {
    close_all().await;
    deliver(Some(
        r#"{"payload":{"visualContent":{"title":"Bad icon","icon":"http://cdn.example/i.png"}}}"#,
    ))
    .await;
    let list = shown().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].tag().as_deref(), Some("usernotify-status"));
}

#[wasm_bindgen_test]
async fn a_click_on_a_button_activates_and_reads_the_entry_and_closes_the_notification() {
    close_all().await;
    let body = format!(
        r#"{{"appNotificationId":"w-button","expirationDateTime":"{}",
            "payload":{{"visualContent":{{"title":"Buttons","actions":[{{"action":"track","title":"Track","url":"/orders/7"}}]}}}}}}"#,
        later(3_600_000.0)
    );
    deliver(Some(&body)).await;
    let notification = shown().await.into_iter().next().expect("shown");
    let init = NotificationEventInit::new(&notification);
    Reflect::set(&init, &"action".into(), &"track".into()).unwrap();
    let event = NotificationEvent::new("notificationclick", &init).unwrap();
    JsFuture::from(on_notification_click(event)).await.unwrap();
    let entry = feed_entry("w-button").await.unwrap();
    assert_eq!(entry.user_action_state, UserActionState::Activated);
    assert_eq!(entry.read_state, ReadState::Read);
}

/// What a browser with Declarative Web Push hands the worker for a mutable message: the
/// notification it would show. No browser here parses declarative messages, so the test
/// shows that notification itself (a `Notification` cannot be constructed in a worker),
/// takes it off the screen, and sets it as the event's `notification` (W3C Push API) or
/// `proposedNotification` (WebKit's `pushnotification`).
async fn proposed(title: &str, tag: &str, data: Option<&str>) -> Notification {
    let options = NotificationOptions::new();
    options.set_tag(tag);
    options.set_body("proposed body");
    if let Some(data) = data {
        options.set_data(&js_sys::JSON::parse(data).unwrap());
    }
    let registration = scope().registration();
    JsFuture::from(
        registration
            .show_notification_with_options(title, &options)
            .unwrap(),
    )
    .await
    .unwrap();
    let notification = shown()
        .await
        .into_iter()
        .find(|shown| shown.tag().as_deref() == Some(tag))
        .expect("the proposed notification");
    notification.close();
    for _ in 0..100 {
        if !shown()
            .await
            .iter()
            .any(|shown| shown.tag().as_deref() == Some(tag))
        {
            break;
        }
        pause(20).await;
    }
    notification
}

fn with_member<T: JsCast>(event: T, name: &str, value: &JsValue) -> T {
    let descriptor = js_sys::Object::new();
    Reflect::set(&descriptor, &"value".into(), value).unwrap();
    let target: &js_sys::Object = event.as_ref().unchecked_ref();
    js_sys::Object::define_property(target, &name.into(), &descriptor);
    event
}

async fn deliver_declarative(notification: &Notification) {
    let event = PushEvent::new("push").unwrap();
    let event = with_member(event, "notification", notification.as_ref());
    JsFuture::from(on_push(event)).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_mutable_declarative_push_is_decided_from_the_resource_in_its_data_and_shown_by_the_worker(
) {
    close_all().await;
    deliver(Some(&visual("w-d1", Some("w-declared"), "First", ""))).await;
    let second = visual("w-d2", Some("w-declared"), "Second", "");
    let notification = proposed("Second", "usernotify-group:w-declared", Some(&second)).await;
    deliver_declarative(&notification).await;
    let list = shown().await;
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0].title(),
        "Second (2)",
        "the group's count, from the feed"
    );
    assert_eq!(usernotify_data(&list[0], "count").as_f64(), Some(2.0));
    assert!(feed_entry("w-d2").await.is_some(), "stored");
}

#[wasm_bindgen_test]
async fn a_mutable_declarative_push_whose_resource_expired_is_replaced_by_the_quiet_status() {
    close_all().await;
    deliver(Some(&visual("w-visible", None, "Already here", ""))).await;
    let expired = format!(
        r#"{{"appNotificationId":"w-d-expired","expirationDateTime":"{}","payload":{{"visualContent":{{"title":"Too late"}}}}}}"#,
        later(-60_000.0)
    );
    let notification = proposed("Too late", "usernotify:w-d-expired", Some(&expired)).await;
    deliver_declarative(&notification).await;
    let mut tags: Vec<String> = shown().await.iter().filter_map(Notification::tag).collect();
    tags.sort();
    // The worker shows the status though another notification is visible: had it shown
    // nothing, the browser would show the expired notification it proposed.
    assert_eq!(tags, ["usernotify-status", "usernotify:w-visible"]);
    assert!(feed_entry("w-d-expired").await.is_none());
}

#[wasm_bindgen_test]
async fn a_mutable_declarative_push_from_another_sender_is_read_from_the_notification_itself() {
    close_all().await;
    let notification = proposed("From elsewhere", "their-tag", None).await;
    deliver_declarative(&notification).await;
    let list = shown().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].title(), "From elsewhere");
    assert_eq!(list[0].body().as_deref(), Some("proposed body"));
    assert_eq!(
        list[0].tag().as_deref(),
        Some("usernotify:their-tag"),
        "its tag is the key"
    );
    assert!(feed_entry("their-tag").await.is_some());
}

#[wasm_bindgen_test]
async fn webkits_pushnotification_event_is_handled_as_a_mutable_declarative_push() {
    close_all().await;
    let resource = visual("w-webkit", None, "Through WebKit", "");
    let notification = proposed("Through WebKit", "usernotify:w-webkit", Some(&resource)).await;
    // The shell hands WebKit's event to the module's `push` handler.
    let event = ExtendableEvent::new("pushnotification").unwrap();
    let event = with_member(event, "proposedNotification", notification.as_ref());
    JsFuture::from(on_push(event.unchecked_into()))
        .await
        .unwrap();
    let list = shown().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].title(), "Through WebKit");
    assert_eq!(
        usernotify_data(&list[0], "key").as_string().as_deref(),
        Some("w-webkit")
    );
}

#[wasm_bindgen_test]
async fn a_plain_declarative_message_from_another_sender_is_shown_and_stored() {
    close_all().await;
    deliver(Some(
        r#"{"web_push":8030,"notification":{"title":"Sale","body":"Today only","navigate":"/sale","tag":"sale-1"}}"#,
    ))
    .await;
    let list = shown().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].title(), "Sale");
    assert_eq!(list[0].tag().as_deref(), Some("usernotify:sale-1"));
    assert_eq!(
        usernotify_data(&list[0], "url").as_string().as_deref(),
        Some("/sale")
    );
    assert_eq!(
        feed_entry("sale-1").await.unwrap().url.as_deref(),
        Some("/sale")
    );
}

#[wasm_bindgen_test]
async fn a_push_is_shown_where_the_badging_api_is_missing() {
    // Firefox has no `setAppBadge`; in Chromium it is taken away for this test.
    let prototype = member(&js_sys::global(), "WorkerNavigator");
    let prototype = member(&prototype, "prototype");
    let original = member(&prototype, "setAppBadge");
    let prototype: js_sys::Object = prototype.unchecked_into();
    Reflect::delete_property(&prototype, &"setAppBadge".into()).unwrap();
    close_all().await;
    deliver(Some(&visual("w-no-badge", None, "No badge", ""))).await;
    if !original.is_undefined() {
        Reflect::set(&prototype, &"setAppBadge".into(), &original).unwrap();
    }
    assert_eq!(
        shown().await.first().map(Notification::title).as_deref(),
        Some("No badge")
    );
}

#[wasm_bindgen_test]
async fn a_feed_of_schema_2_is_upgraded_and_its_unread_entries_counted() {
    let factory = scope().indexed_db().unwrap().unwrap();
    let done = |request: &web_sys::IdbRequest| {
        JsFuture::from(Promise::new(&mut |resolve, reject| {
            request.set_onsuccess(Some(&resolve));
            request.set_onerror(Some(&reject));
        }))
    };
    done(&factory.delete_database("usernotify").unwrap())
        .await
        .unwrap();
    // Version 2 as it was: the feed with its three indexes, tombstones, settings.
    let opening = factory.open_with_u32("usernotify", 2).unwrap();
    let upgrade = Closure::<dyn FnMut()>::new({
        let opening = opening.clone();
        move || {
            let database: web_sys::IdbDatabase = opening.result().unwrap().unchecked_into();
            let by_id = web_sys::IdbObjectStoreParameters::new();
            by_id.set_key_path(&"id".into());
            let feed = database
                .create_object_store_with_optional_parameters("feed", &by_id)
                .unwrap();
            feed.create_index_with_str("expires", "expires").unwrap();
            feed.create_index_with_str("groupName", "groupName")
                .unwrap();
            let counted: Array = ["groupName", "counted", "created"]
                .iter()
                .map(|name| JsValue::from_str(name))
                .collect();
            feed.create_index_with_str_sequence("counted", &counted)
                .unwrap();
            database
                .create_object_store_with_optional_parameters("tombstones", &by_id)
                .unwrap()
                .create_index_with_str("expires", "expires")
                .unwrap();
            database.create_object_store("settings").unwrap();
            let now = js_sys::Date::now();
            for (id, counted, expires) in [
                ("old-unread", 1, now + 3_600_000.0),
                ("old-read", 0, now + 3_600_000.0),
                ("old-expired", 1, now - 1.0),
            ] {
                let record = js_sys::JSON::parse(&format!(
                    r#"{{"id":"{id}","title":"t","priority":"None","created":{now},"counted":{counted},
                        "expires":{expires},"readState":"unread","userActionState":"none"}}"#
                ))
                .unwrap();
                feed.put(&record).unwrap();
            }
        }
    });
    opening.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    done(&opening).await.unwrap();
    opening
        .result()
        .unwrap()
        .unchecked_into::<web_sys::IdbDatabase>()
        .close();

    let feed = Feed::open().await.expect("upgraded to the current schema");
    assert_eq!(feed.unread(js_sys::Date::now() as i64).await.unwrap(), 1);
    let old = feed_entry("old-unread").await.expect("kept");
    assert_eq!(
        old.rich, None,
        "a record of schema 2 has no pictures or buttons"
    );
}

/// A notification the app service sent: its resource `id` is the feed key, as the changes
/// other devices make name it.
fn from_service(id: &str, group: Option<&str>, title: &str, extra: &str) -> String {
    let group = group.map_or(String::new(), |group| format!(r#""groupName":"{group}","#));
    format!(
        r#"{{"id":"{id}",{group}"expirationDateTime":"{}",
            "payload":{{"visualContent":{{"title":"{title}","body":"b of {id}"}}}}{extra}}}"#,
        later(3_600_000.0)
    )
}

fn read_change(id: &str) -> String {
    format!(r#"{{"id":"{id}","readState":"read","userActionState":"none","deleted":false}}"#)
}

fn titles(list: &[Notification]) -> Vec<String> {
    let mut titles: Vec<String> = list.iter().map(Notification::title).collect();
    titles.sort();
    titles
}

/// The titles on screen once they are `expected` (Firefox takes a closed notification off
/// `getNotifications()` a moment later), or as they are after a second.
async fn titles_once(expected: &[&str]) -> Vec<String> {
    let mut now = titles(&shown().await);
    for _ in 0..50 {
        if now == expected {
            break;
        }
        pause(20).await;
        now = titles(&shown().await);
    }
    now
}

#[wasm_bindgen_test]
async fn a_push_applies_the_changes_it_carries_before_it_is_shown_closing_what_was_read_and_removing_what_was_deleted(
) {
    close_all().await;
    deliver(Some(&from_service("sync-read", None, "Read elsewhere", ""))).await;
    deliver(Some(&from_service(
        "sync-gone",
        None,
        "Deleted elsewhere",
        "",
    )))
    .await;
    deliver(Some(&from_service("sync-c1", Some("sync-chat"), "Ana", ""))).await;
    deliver(Some(&from_service("sync-c2", Some("sync-chat"), "Rui", ""))).await;
    assert_eq!(
        titles(&shown().await),
        ["Deleted elsewhere", "Read elsewhere", "Rui (2)"]
    );
    let changes = format!(
        r#","changes":[{},{{"id":"sync-gone","deleted":true}},{}]"#,
        read_change("sync-read"),
        read_change("sync-c2")
    );
    deliver(Some(&from_service("sync-new", None, "New", &changes))).await;
    // The group counts what is left: Ana alone, redrawn without a count.
    assert_eq!(titles_once(&["Ana", "New"]).await, ["Ana", "New"]);
    let read = feed_entry("sync-read").await.unwrap();
    assert_eq!(read.read_state, ReadState::Read);
    assert!(feed_entry("sync-gone").await.is_none(), "deleted here too");
    assert_eq!(
        feed_entry("sync-c2").await.unwrap().read_state,
        ReadState::Read
    );
    // The deleted one stays deleted: a late copy of its push does not bring it back.
    deliver(Some(&from_service(
        "sync-gone",
        None,
        "Deleted elsewhere",
        "",
    )))
    .await;
    assert!(feed_entry("sync-gone").await.is_none());
}

#[wasm_bindgen_test]
async fn a_push_that_only_carries_changes_redraws_the_group_and_leaves_the_quiet_status_when_nothing_is_left(
) {
    close_all().await;
    deliver(Some(&from_service("only-1", Some("only-chat"), "Ana", ""))).await;
    deliver(Some(&from_service("only-2", Some("only-chat"), "Rui", ""))).await;
    assert_eq!(titles(&shown().await), ["Rui (2)"]);
    deliver(Some(&format!(
        r#"{{"changes":[{}]}}"#,
        read_change("only-2")
    )))
    .await;
    assert_eq!(
        titles_once(&["Ana"]).await,
        ["Ana"],
        "redrawn with what is left"
    );
    deliver(Some(&format!(
        r#"{{"changes":[{}]}}"#,
        read_change("only-1")
    )))
    .await;
    assert_eq!(
        titles_once(&["Notifications"]).await,
        ["Notifications"],
        "never nothing: the quiet status"
    );
    assert_eq!(
        feed_entry("only-1").await.unwrap().read_state,
        ReadState::Read
    );
}

#[wasm_bindgen_test]
async fn a_push_read_on_another_device_before_it_arrived_is_stored_read_and_not_shown() {
    close_all().await;
    let changes = format!(r#","changes":[{}]"#, read_change("own-1"));
    deliver(Some(&from_service("own-1", None, "Read first", &changes))).await;
    assert_eq!(titles(&shown().await), ["Notifications"]);
    assert_eq!(
        feed_entry("own-1").await.unwrap().read_state,
        ReadState::Read
    );
}

#[wasm_bindgen_test]
async fn a_push_already_read_elsewhere_whose_changes_close_the_last_notification_leaves_the_quiet_status(
) {
    close_all().await;
    deliver(Some(&from_service("own-before", None, "On screen", ""))).await;
    assert_eq!(titles(&shown().await), ["On screen"]);
    let changes = format!(
        r#","changes":[{},{}]"#,
        read_change("own-before"),
        read_change("own-after")
    );
    deliver(Some(&from_service(
        "own-after",
        None,
        "Read first",
        &changes,
    )))
    .await;
    assert_eq!(
        titles_once(&["Notifications"]).await,
        ["Notifications"],
        "never nothing: the quiet status"
    );
}

/// Keeps `preferences` (JSON) as the page API caches them for the worker.
async fn keep_preferences(preferences: &str) {
    let feed = Feed::open().await.unwrap();
    let value = js_sys::JSON::parse(preferences).unwrap();
    feed.set_setting("preferences", Some(&value)).await.unwrap();
}

/// `HH:MM` in UTC, `minutes` from now.
fn utc_in(minutes: f64) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(js_sys::Date::now() + minutes * 60_000.0));
    format!("{:02}:{:02}", date.get_utc_hours(), date.get_utc_minutes())
}

#[wasm_bindgen_test]
async fn a_push_of_a_muted_group_or_during_quiet_hours_is_stored_and_leaves_the_quiet_status_instead(
) {
    close_all().await;
    keep_preferences(r#"{"mutedGroups":["promos"],"quietHours":null}"#).await;
    deliver(Some(&from_service(
        "pref-muted",
        Some("promos"),
        "Sale",
        "",
    )))
    .await;
    assert_eq!(titles(&shown().await), ["Notifications"]);
    let stored = feed_entry("pref-muted").await.unwrap();
    assert_eq!(stored.read_state, ReadState::Unread, "kept in the feed");
    close_all().await;
    // Quiet hours around now, in a zone whose local time the browser's Intl tells.
    let hours = format!(
        r#"{{"mutedGroups":[],"quietHours":{{"start":"{}","end":"{}","timeZone":"UTC","allowHigh":true}}}}"#,
        utc_in(-60.0),
        utc_in(60.0)
    );
    keep_preferences(&hours).await;
    deliver(Some(&from_service("pref-quiet", None, "At night", ""))).await;
    assert_eq!(titles(&shown().await), ["Notifications"]);
    deliver(Some(&from_service(
        "pref-high",
        None,
        "Urgent",
        r#","priority":"High""#,
    )))
    .await;
    assert_eq!(
        titles_once(&["Urgent"]).await,
        ["Urgent"],
        "High breaks through, as allowed"
    );
    keep_preferences(r#"{"mutedGroups":[],"quietHours":null}"#).await;
}
