//! The wasm glue inside a real service worker of headless Chromium (wasm-bindgen-test with
//! `run_in_service_worker`; webdriver.json grants the notification permission).
#![cfg(target_arch = "wasm32")]

use js_sys::Reflect;
use usernotify::web::pages::same_origin_target;
use usernotify::web::worker::handle_push;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::Notification;

wasm_bindgen_test_configure!(run_in_service_worker);

mod in_worker;
use in_worker::{close_all, later, push_event, scope, shown};

fn data_member(notification: &Notification, name: &str) -> JsValue {
    let data = Reflect::get(&notification.data(), &"usernotify".into()).unwrap();
    Reflect::get(&data, &name.into()).unwrap()
}

#[wasm_bindgen_test]
async fn a_pushed_notification_becomes_show_notification_with_the_expected_options() {
    close_all().await;
    let body = format!(
        r#"{{"appNotificationId":"w1","groupName":"TestGroup","priority":"High",
            "displayTimeToLive":"60","expirationDateTime":"{}",
            "payload":{{"visualContent":{{"title":"Hello World!","body":"Notifications are Great!","url":"/inbox"}}}}}}"#,
        later(3_600_000.0)
    );
    handle_push(push_event(Some(&body))).await;
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
        data_member(notification, "key").as_string().as_deref(),
        Some("w1")
    );
    assert_eq!(data_member(notification, "count").as_f64(), Some(1.0));
    assert_eq!(
        data_member(notification, "url").as_string().as_deref(),
        Some("/inbox")
    );
    let close_at = data_member(notification, "closeAt").as_f64().unwrap();
    let expected = js_sys::Date::now() + 60_000.0;
    assert!(
        (close_at - expected).abs() < 5_000.0,
        "closeAt {close_at} ~ {expected}"
    );
}

#[wasm_bindgen_test]
async fn a_low_priority_push_is_shown_silent_without_requiring_interaction() {
    close_all().await;
    handle_push(push_event(Some(
        r#"{"appNotificationId":"w2","priority":"Low","payload":{"visualContent":{"title":"Quiet"}}}"#,
    )))
    .await;
    let list = shown().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].silent(), Some(true));
    assert!(!list[0].require_interaction());
    assert_eq!(list[0].tag().as_deref(), Some("usernotify:w2"));
}

#[wasm_bindgen_test]
async fn bad_bodies_never_throw_and_leave_only_the_quiet_status() {
    let bodies: [Option<&str>; 9] = [
        None,
        Some(""),
        Some("   "),
        Some("{"),
        Some("[1,2]"),
        Some("null"),
        Some(r#"{"payload":{"visualContent":{"title":5}}}"#),
        Some(r#"{"payload":{"rawContent":""}}"#),
        Some(r#"{"displayTimeToLive":-1,"payload":{"visualContent":{"title":"t"}}}"#),
    ];
    for body in bodies {
        close_all().await;
        handle_push(push_event(body)).await;
        let list = shown().await;
        assert_eq!(list.len(), 1, "{body:?}");
        assert_eq!(
            list[0].tag().as_deref(),
            Some("usernotify-status"),
            "{body:?}"
        );
        assert_eq!(list[0].silent(), Some(true));
    }
}

#[wasm_bindgen_test]
fn a_click_url_of_another_origin_or_scheme_falls_back_to_the_app_root() {
    let scope = scope();
    let root = scope.registration().scope();
    let origin = scope.location().origin();
    assert_eq!(same_origin_target(&scope, None), root);
    assert_eq!(
        same_origin_target(&scope, Some("https://evil.example/phish")),
        root
    );
    assert_eq!(
        same_origin_target(&scope, Some("javascript:alert(1)")),
        root
    );
    assert_eq!(same_origin_target(&scope, Some("//evil.example/x")), root);
    assert_eq!(
        same_origin_target(&scope, Some("/inbox?id=1")),
        format!("{origin}/inbox?id=1")
    );
}
