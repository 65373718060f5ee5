//! Service-worker event handlers, behind one export for the JS shell (`www/sw.js`).
//!
//! `handleEvent` returns a promise that never rejects, for the shell to pass to
//! `event.waitUntil`; one export instead of one per event keeps a single promise adapter
//! in the module.
//! Every push ends with a notification of the app visible, or with a visible page that got
//! the raw content: browsers penalise silent pushes and Safari revokes after three.

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, Function, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    ClientQueryOptions, ClientType, Event, ExtendableMessageEvent, NotificationEvent, PushEvent,
    ServiceWorkerGlobalScope, ServiceWorkerRegistration, VisibilityState, WindowClient,
};

use super::js::{get, get_string, now, set, settle, warn, worker_scope};
use super::json::from_js;
use super::lock::serialized;
use super::shown::{show, visible, Shown};
use crate::core::display::{DEFAULT_RAW_TITLE, STATUS_TAG};
use crate::core::{
    plan_raw_fallback, plan_status, plan_visual, should_close, InvalidNotification, Millis,
    Notification,
};

/// Name of the optional worker hook for raw content: `self.usernotifyRawContentHook =
/// async (rawContent, notification) => boolean`. Resolving to `true`, or showing a
/// notification, means the hook took care of it.
const RAW_CONTENT_HOOK: &str = "usernotifyRawContentHook";

/// The shortest delay before a display-time close, so that a push (even with
/// `displayTimeToLive: 0`) has ended with its notification visible before it goes.
const MIN_CLOSE_DELAY: Millis = 1_000;

/// Handles `push`, `notificationclick`, `notificationclose`, `pushsubscriptionchange` and
/// `message`; other events are ignored.
#[wasm_bindgen(js_name = handleEvent)]
pub async fn handle_event(event: Event) {
    match event.type_().as_str() {
        "push" => handle_push(event.unchecked_into()).await,
        "notificationclick" => handle_notification_click(event.unchecked_into()).await,
        "notificationclose" => handle_notification_close(event.unchecked_into()).await,
        "message" => handle_message(event.unchecked_into()).await,
        "pushsubscriptionchange" => handle_push_subscription_change().await,
        _ => {}
    }
}

pub async fn handle_push(event: PushEvent) {
    receive(event.data().map(|data| data.text())).await;
}

/// Messages from the app's pages: `{type: "usernotify-push", data}` runs the push path on
/// `data` (JSON text or an object), so a page can show a notification with no push service;
/// `{type: "usernotify-sweep"}` closes what is due.
pub async fn handle_message(event: ExtendableMessageEvent) {
    let message = event.data();
    match get_string(&message, "type").as_deref() {
        Some("usernotify-push") => {
            let data = get(&message, "data");
            let text = match data.as_string() {
                Some(text) => Some(text),
                None => js_sys::JSON::stringify(&data)
                    .ok()
                    .and_then(|text| text.as_string()),
            };
            receive(text).await;
        }
        Some("usernotify-sweep") => sweep_now().await,
        _ => {}
    }
}

pub async fn handle_notification_click(event: NotificationEvent) {
    let Some(scope) = worker_scope() else {
        return;
    };
    let Some(shown) = Shown::read(event.notification()) else {
        return;
    };
    shown.notification.close();
    let target = same_origin_target(&scope, shown.url.as_deref());
    focus_or_open(&scope, &target, shown.url.is_some()).await;
    post_to_pages(&scope, &page_message("usernotify-activated", &shown.key)).await;
    sweep_now().await;
}

pub async fn handle_notification_close(event: NotificationEvent) {
    if let (Some(scope), Some(shown)) = (worker_scope(), Shown::read(event.notification())) {
        post_to_pages(&scope, &page_message("usernotify-dismissed", &shown.key)).await;
    }
    sweep_now().await;
}

/// Re-subscription needs the app service's key and lands with page subscription; until
/// then this event only sweeps, like every other.
pub async fn handle_push_subscription_change() {
    sweep_now().await;
}

/// How a push ended, reported to the app's pages as `usernotify-push-handled`.
enum Outcome {
    /// Its notification is on screen; closed at `close_at` if it has a display time.
    Shown {
        key: String,
        close_at: Option<Millis>,
    },
    /// Raw content taken by a visible page or the worker hook; nothing shown.
    TakenByApp { key: String },
    /// Refused (expired, invalid): the quiet status is shown unless something else is.
    Refused(InvalidNotification),
    /// The browser refused to show it (permission revoked, storage failure).
    ShowFailed { key: String },
}

impl Outcome {
    fn name(&self) -> &'static str {
        match self {
            Outcome::Shown { .. } => "shown",
            Outcome::TakenByApp { .. } => "taken-by-app",
            Outcome::Refused(invalid) => invalid.code(),
            Outcome::ShowFailed { .. } => "show-failed",
        }
    }

    fn key(&self) -> &str {
        match self {
            Outcome::Shown { key, .. }
            | Outcome::TakenByApp { key }
            | Outcome::ShowFailed { key } => key,
            Outcome::Refused(_) => "",
        }
    }
}

/// The push path: sweep, validate, then show, hand over, or leave the quiet status.
async fn receive(text: Option<String>) {
    let Some(scope) = worker_scope() else {
        return;
    };
    let registration = scope.registration();
    let outcome = serialized(async {
        let now = now();
        sweep(&registration, now).await;
        match parse(text.as_deref(), now) {
            Ok((notification, sent)) => {
                deliver(&scope, &registration, &notification, &sent, now).await
            }
            Err(invalid) => {
                warn(invalid.code(), &JsValue::UNDEFINED);
                show_status_unless_visible(&registration, now).await;
                Outcome::Refused(invalid)
            }
        }
    })
    .await;
    if let Outcome::Shown {
        close_at: Some(close_at),
        ..
    } = outcome
    {
        schedule_sweep(&scope, close_at.saturating_sub(now()).max(MIN_CLOSE_DELAY));
    }
    // Sent once the browser has the notification on screen: pages (and tests) read what is
    // shown after this, never while a show is in flight, when Chromium's getNotifications
    // can drop the entry it is still displaying.
    let message = page_message("usernotify-push-handled", outcome.key());
    set(&message, "outcome", &JsValue::from_str(outcome.name()));
    post_to_pages(&scope, &message).await;
}

/// Text to a valid notification, parsed by the engine's `JSON.parse`; also returns the
/// parsed object, which pages get as sent (unknown fields included).
fn parse(text: Option<&str>, now: Millis) -> Result<(Notification, JsValue), InvalidNotification> {
    let text = text.unwrap_or_default();
    if text.trim().is_empty() {
        return Err(InvalidNotification::EmptyBody);
    }
    let value = js_sys::JSON::parse(text).map_err(|_| InvalidNotification::MalformedJson)?;
    let notification = Notification::from_json(&from_js(&value), now)?;
    Ok((notification, value))
}

/// Shows a valid notification, or leaves raw content to the app when it took it.
async fn deliver(
    scope: &ServiceWorkerGlobalScope,
    registration: &ServiceWorkerRegistration,
    notification: &Notification,
    sent: &JsValue,
    now: Millis,
) -> Outcome {
    let taken_by_app = match &notification.raw_content {
        Some(raw) => hand_raw_to_app(scope, registration, notification, sent, raw).await,
        None => false,
    };
    let display = if notification.visual.is_some() {
        let group_members = match notification.group_name {
            Some(_) => {
                let tag = crate::core::tag_for(notification);
                visible(registration)
                    .await
                    .into_iter()
                    .filter_map(Shown::read)
                    .find(|shown| shown.tag == tag)
                    .map(|shown| shown.members)
                    .unwrap_or_default()
            }
            None => Vec::new(),
        };
        plan_visual(notification, &group_members, now)
    } else if taken_by_app {
        None
    } else {
        plan_raw_fallback(notification, DEFAULT_RAW_TITLE, now)
    };
    let Some(display) = display else {
        return Outcome::TakenByApp {
            key: notification.key(),
        };
    };
    match show(registration, &display).await {
        Ok(()) => {
            close_status(registration).await;
            Outcome::Shown {
                key: display.key,
                close_at: display.close_at,
            }
        }
        Err(error) => {
            warn("show-failed", &error);
            Outcome::ShowFailed { key: display.key }
        }
    }
}

/// Posts the raw content to every open page and calls the worker hook. True when a page is
/// visible or the hook showed something: then nothing more needs to be shown.
async fn hand_raw_to_app(
    scope: &ServiceWorkerGlobalScope,
    registration: &ServiceWorkerRegistration,
    notification: &Notification,
    resource: &JsValue,
    raw: &str,
) -> bool {
    let message = page_message("usernotify-raw", &notification.key());
    set(&message, "rawContent", &JsValue::from_str(raw));
    set(&message, "notification", resource);
    let mut page_visible = false;
    for page in window_clients(scope).await {
        if page.post_message(&message).is_err() {
            continue;
        }
        page_visible |= page.visibility_state() == VisibilityState::Visible;
    }
    let hook = get(scope, RAW_CONTENT_HOOK);
    let Some(hook) = hook.dyn_ref::<Function>() else {
        return page_visible;
    };
    let shown_before = visible(registration).await.len();
    let answer = match hook.call2(scope, &JsValue::from_str(raw), resource) {
        Ok(value) => match value.dyn_into::<Promise>() {
            Ok(promise) => JsFuture::from(promise).await,
            Err(value) => Ok(value),
        },
        Err(error) => Err(error),
    };
    let hook_said_handled = match answer {
        Ok(value) => value.is_truthy(),
        Err(error) => {
            warn("raw-content-hook-failed", &error);
            false
        }
    };
    let hook_showed = visible(registration).await.len() > shown_before;
    page_visible || hook_said_handled || hook_showed
}

async fn show_status_unless_visible(registration: &ServiceWorkerRegistration, now: Millis) {
    if !visible(registration).await.is_empty() {
        return;
    }
    if let Err(error) = show(registration, &plan_status(now)).await {
        warn("show-failed", &error);
    }
}

/// The status notification only stands in for real ones; it goes when one is shown.
async fn close_status(registration: &ServiceWorkerRegistration) {
    for notification in visible(registration).await {
        if notification.tag().as_deref() == Some(STATUS_TAG) {
            notification.close();
        }
    }
}

/// Closes every usernotify notification whose display time is over or that expired.
async fn sweep(registration: &ServiceWorkerRegistration, now: Millis) {
    for shown in visible(registration)
        .await
        .into_iter()
        .filter_map(Shown::read)
    {
        if should_close(shown.close_at, shown.expiration, now) {
            shown.notification.close();
        }
    }
}

async fn sweep_now() {
    if let Some(scope) = worker_scope() {
        let registration = scope.registration();
        serialized(sweep(&registration, now())).await;
    }
}

/// Closes due notifications while the worker is alive; a stopped worker catches up on its
/// next event, since every handler sweeps first.
fn schedule_sweep(scope: &ServiceWorkerGlobalScope, delay: Millis) {
    let callback = Closure::once_into_js(|| spawn_local(sweep_now()));
    let delay = i32::try_from(delay).unwrap_or(i32::MAX);
    if let Some(callback) = callback.dyn_ref::<Function>() {
        let _ = scope.set_timeout_with_callback_and_timeout_and_arguments_0(callback, delay);
    }
}

/// The click destination: the notification's URL when it is of this origin, else the
/// app's root (the registration scope). A pushed URL can never send the user elsewhere.
pub fn same_origin_target(scope: &ServiceWorkerGlobalScope, url: Option<&str>) -> String {
    let root = scope.registration().scope();
    let origin = scope.location().origin();
    url.and_then(|url| web_sys::Url::new_with_base(url, &root).ok())
        .filter(|url| url.origin() == origin)
        .map(|url| url.href())
        .unwrap_or(root)
}

async fn focus_or_open(scope: &ServiceWorkerGlobalScope, target: &str, has_own_url: bool) {
    let pages = window_clients(scope).await;
    let page = pages
        .iter()
        .find(|page| page.url() == target)
        .or(if has_own_url { None } else { pages.first() });
    let result = match page {
        Some(page) => settle(page.focus()).await,
        None => JsFuture::from(scope.clients().open_window(target)).await,
    };
    if let Err(error) = result {
        warn("open-failed", &error);
    }
}

/// A message to the app's pages: `{type, key}`, more members set by the caller.
fn page_message(kind: &str, key: &str) -> Object {
    let message = Object::new();
    set(&message, "type", &JsValue::from_str(kind));
    set(&message, "key", &JsValue::from_str(key));
    message
}

async fn post_to_pages(scope: &ServiceWorkerGlobalScope, message: &Object) {
    for page in window_clients(scope).await {
        let _ = page.post_message(message);
    }
}

/// Every page of the app, controlled or not (a page loaded before the worker is not).
async fn window_clients(scope: &ServiceWorkerGlobalScope) -> Vec<WindowClient> {
    let options = ClientQueryOptions::new();
    options.set_include_uncontrolled(true);
    options.set_type(ClientType::Window);
    match JsFuture::from(scope.clients().match_all_with_options(&options)).await {
        Ok(list) if Array::is_array(&list) => Array::from(&list)
            .iter()
            .filter_map(|client| client.dyn_into::<WindowClient>().ok())
            .collect(),
        _ => Vec::new(),
    }
}
