//! What the tests running inside a real service worker share (wasm-bindgen-test with
//! `run_in_service_worker`): the screen, push events, instants.
#![allow(dead_code)]

use js_sys::Array;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Notification, PushEvent, PushEventInit, ServiceWorkerGlobalScope};

pub fn scope() -> ServiceWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// Every notification of the worker's registration on screen now.
pub async fn shown() -> Vec<Notification> {
    let promise = scope().registration().get_notifications().unwrap();
    let list = JsFuture::from(promise).await.unwrap();
    Array::from(&list)
        .iter()
        .map(|item| item.unchecked_into())
        .collect()
}

/// Closes every notification and waits until none is listed: Firefox's close() takes a
/// notification off getNotifications() a moment later, Chromium's at once.
pub async fn close_all() {
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

/// Waits `millis` milliseconds.
pub async fn pause(millis: i32) {
    let wait = js_sys::Promise::new(&mut |resolve, _| {
        scope()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, millis)
            .unwrap();
    });
    JsFuture::from(wait).await.unwrap();
}

/// A `push` event carrying `data` as text, or no data.
pub fn push_event(data: Option<&str>) -> PushEvent {
    let init = PushEventInit::new();
    if let Some(data) = data {
        init.set_data(&JsValue::from_str(data));
    }
    PushEvent::new_with_event_init_dict("push", &init).unwrap()
}

/// The instant `millis` from now, as ISO 8601 text.
pub fn later(millis: f64) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(js_sys::Date::now() + millis));
    date.to_iso_string().as_string().unwrap()
}
