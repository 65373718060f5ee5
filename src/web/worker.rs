//! Service-worker event handlers, behind one export for the JS shell (`www/sw.js`).
//!
//! `handleEvent` returns a promise that never rejects, for the shell to pass to
//! `event.waitUntil`; one export instead of one per event keeps a single promise adapter
//! in the module. Every push ends with a notification of the app visible, or with a
//! visible page that got the raw content: browsers penalise silent pushes and Safari
//! revokes the subscription after three.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    Event, ExtendableMessageEvent, MessagePort, NotificationEvent, PushEvent,
    ServiceWorkerGlobalScope, ServiceWorkerRegistration, WindowClient,
};

use super::js::{get, get_string, now, set, warn, worker_scope};
use super::lock::serialized;
use super::pages::{
    focus_or_open, is_visible, listed, listing, page_message, post, post_to_pages,
    same_origin_target, window_clients,
};
use super::shown::{close_here, closed_here, on_screen, reading, show, Screen, Shown};
use super::store::{announce, Commit, Feed, Received};
use super::task::{promise_of, settled, spawn, WorkerCell};
use crate::core::display::{tag_of, DEFAULT_RAW_TITLE};
use crate::core::feed::{activate, dismiss, Arrival};
use crate::core::{
    plan_raw_fallback, plan_status, plan_visual, refresh_after_change, tag_for,
    InvalidNotification, Millis, Notification, Refresh,
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
pub fn handle_event(event: Event) -> Promise {
    promise_of(async move {
        dispatch(event).await;
        Ok(JsValue::UNDEFINED)
    })
}

/// Every event ends swept: a stopped worker runs no timers, so what fell due meanwhile goes
/// on the next event. A push (and a page's push or redraw message) sweeps on its way, as it
/// reads the screen and writes the feed; every other event sweeps at the end.
async fn dispatch(event: Event) {
    // Each handler is its own boxed future: the engine compiles a handler's code when it
    // first runs, so a cold start for a push compiles the push path alone.
    let handler: Pin<Box<dyn Future<Output = bool>>> = match event.type_().as_str() {
        "push" => Box::pin(async move {
            handle_push(event.unchecked_into()).await;
            true
        }),
        "message" => Box::pin(handle_message(event.unchecked_into())),
        "notificationclick" => Box::pin(async move {
            handle_notification_click(event.unchecked_into()).await;
            false
        }),
        "notificationclose" => Box::pin(async move {
            handle_notification_close(event.unchecked_into()).await;
            false
        }),
        "pushsubscriptionchange" => Box::pin(async move {
            renew_registration().await;
            false
        }),
        _ => Box::pin(async { false }),
    };
    let swept = handler.await;
    if !swept {
        sweep_now().await;
    }
}

pub async fn handle_push(event: PushEvent) {
    receive(event.data().map(|data| data.text())).await;
}

/// Messages from the app's pages: `{type: "usernotify-push", data}` runs the push path on
/// `data` (JSON text or an object), so a page can show a notification with no push service;
/// `{type: "usernotify-sweep"}` closes what is due; `{type: "usernotify-feed-changed", id,
/// groupName}` (sent by the page API) redraws or closes what that change affects. True
/// when it swept already: the push path and a redraw read the screen and purge the feed.
pub async fn handle_message(event: ExtendableMessageEvent) -> bool {
    let message = event.data();
    match get_string(&message, "type").as_deref() {
        Some("usernotify-push") => {
            let data = get(&message, "data");
            let text = data.as_string().or_else(|| {
                js_sys::JSON::stringify(&data)
                    .ok()
                    .and_then(|text| text.as_string())
            });
            receive(text).await;
            true
        }
        // The sweep itself follows.
        Some("usernotify-sweep") => false,
        Some("usernotify-feed-changed") => {
            if let (Some(scope), Some(key)) = (worker_scope(), get_string(&message, "id")) {
                let group = get_string(&message, "groupName");
                let registration = scope.registration();
                serialized(redraw(&registration, &key, group.as_deref())).await;
            }
            // The page API resolves its call once the screen shows the change.
            if let Some(port) = event.ports().get(0).dyn_ref::<MessagePort>() {
                let _ = port.post_message(&JsValue::TRUE);
            }
            true
        }
        _ => false,
    }
}

/// The worker's feed: one connection, opened on first use and reopened after a failure.
fn feed() -> Feed {
    let feed = FEED.0.take().unwrap_or_default();
    FEED.0.set(Some(feed.clone()));
    feed
}

static FEED: WorkerCell<Feed> = WorkerCell::new();

/// Applies a feed change to stored entries and tells every page; failures only warn, since
/// the user's click or close has already happened on screen.
async fn change_state(keys: &[String], update: fn(&mut crate::core::feed::FeedEntry)) {
    match feed().update(keys, now(), update).await {
        Ok(entries) => {
            for entry in entries {
                announce(Some(&entry.key), "updated");
            }
        }
        Err(error) => warn(error.code(), &error.detail()),
    }
}

/// After a page read, dismissed or deleted `key`: closes its notification, or redraws its
/// group's with the new count, from what the feed now holds.
async fn redraw(registration: &ServiceWorkerRegistration, key: &str, group: Option<&str>) {
    let now = now();
    let screen = Screen::sweep(registration, now).await;
    let entries = match feed().around(key, group, now).await {
        Ok(entries) => entries,
        Err(error) => return warn(error.code(), &error.detail()),
    };
    let tag = tag_of(group, key);
    let group_shown = screen.ours.iter().any(|shown| shown.tag == tag);
    match refresh_after_change(key, group, &entries, group_shown, now) {
        Refresh::Keep => {}
        Refresh::Close(tag) => screen.close_tagged(&tag),
        Refresh::Show(display) => {
            if let Err(error) = show(registration, &display).await {
                warn("show-failed", &error);
            }
        }
    }
}

/// Focuses or opens the app (same origin only) and tells its pages what was activated.
pub async fn handle_notification_click(event: NotificationEvent) {
    let Some(scope) = worker_scope() else {
        return;
    };
    let Some(shown) = Shown::read(event.notification()) else {
        return;
    };
    close_here(&shown);
    let target = same_origin_target(&scope, shown.url.as_deref());
    let pages = window_clients(&scope).await;
    focus_or_open(&scope, &pages, &target, shown.url.is_some()).await;
    post(&pages, &page_message("usernotify-activated", &shown.key));
    change_state(core::slice::from_ref(&shown.key), activate).await;
}

/// The user closed a notification: everything it counted is dismissed in the feed, and
/// its pages hear it. Firefox also fires `notificationclose` when a notification is replaced
/// by one with its tag (a group's update) and when the worker closes it (a click, its display
/// time, a page's change that leaves its group nothing to count): none is the user's, so
/// none dismisses.
pub async fn handle_notification_close(event: NotificationEvent) {
    if let (Some(scope), Some(shown)) = (worker_scope(), Shown::read(event.notification())) {
        let replaced = on_screen(&scope.registration())
            .await
            .iter()
            .any(|notification| notification.tag().as_deref() == Some(shown.tag.as_str()));
        if replaced || closed_here(&shown) {
            return;
        }
        change_state(&shown.members, dismiss).await;
        post_to_pages(&scope, &page_message("usernotify-dismissed", &shown.key)).await;
    }
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
    /// Deleted by the user before (a redelivery): stays deleted, the quiet status at most.
    Deleted { key: String },
    /// Delivered again after the user read or dismissed it: it stays as the user left it.
    AlreadySeen { key: String },
    /// The browser refused to show it (permission revoked, storage failure).
    ShowFailed { key: String },
}

impl Outcome {
    fn name(&self) -> &'static str {
        match self {
            Outcome::Shown { .. } => "shown",
            Outcome::TakenByApp { .. } => "taken-by-app",
            Outcome::Refused(invalid) => invalid.code(),
            Outcome::Deleted { .. } => "deleted",
            Outcome::AlreadySeen { .. } => "already-seen",
            Outcome::ShowFailed { .. } => "show-failed",
        }
    }

    fn key(&self) -> &str {
        match self {
            Outcome::Shown { key, .. }
            | Outcome::TakenByApp { key }
            | Outcome::Deleted { key }
            | Outcome::AlreadySeen { key }
            | Outcome::ShowFailed { key } => key,
            Outcome::Refused(_) => "",
        }
    }
}

/// The push path, one push at a time; then schedules the display-time close and reports.
async fn receive(text: Option<String>) {
    let Some(scope) = worker_scope() else {
        return;
    };
    let registration = scope.registration();
    // The app's pages to report to, listed while the push is handled; or listed by the
    // push itself when it had to (raw content).
    let listing = listing(&scope);
    let mut pages = None;
    let (outcome, stored) = serialized(async {
        let mut commit = None;
        let outcome = push_path(&scope, &registration, text, &mut pages, &mut commit).await;
        // The feed's transaction commits on its own while the notification is shown.
        let stored = match commit.map(Commit::finished) {
            Some(finished) => finished
                .await
                .map_err(|error| warn(error.code(), &error.detail()))
                .is_ok(),
            None => false,
        };
        (outcome, stored)
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
    set(&message, "stored", &JsValue::from_bool(stored));
    let pages = match pages {
        Some(pages) => pages,
        None => listed(listing.await),
    };
    post(&pages, &message);
    purge_if_due(now()).await;
}

/// How often the worker purges the feed. What expired is left out wherever the feed is
/// read, so purging only frees storage: a burst of pushes need not pay for it on each one.
const PURGE_EVERY: Millis = 60_000;

static PURGED_AT: WorkerCell<Millis> = WorkerCell::new();

/// Purges the feed unless this worker did less than [`PURGE_EVERY`] ago.
async fn purge_if_due(now: Millis) {
    let last = PURGED_AT.0.take();
    if last.is_some_and(|at| now.saturating_sub(at) < PURGE_EVERY) {
        PURGED_AT.0.set(last);
        return;
    }
    PURGED_AT.0.set(Some(now));
    if feed().purge(now).await.is_ok_and(|purged| purged > 0) {
        announce(None, "purged");
    }
}

/// Sweeps, validates, stores in the feed, then shows, hands over to the app, or leaves the
/// quiet status. The screen is read once, while the push is validated and written:
/// nothing else changes it while the lock is held. The feed's transaction is left
/// committing in `commit` while the notification is shown. When the feed cannot be
/// written the notification is still shown, counted from the screen instead.
async fn push_path(
    scope: &ServiceWorkerGlobalScope,
    registration: &ServiceWorkerRegistration,
    text: Option<String>,
    pages: &mut Option<Vec<WindowClient>>,
    commit: &mut Option<Commit>,
) -> Outcome {
    let now = now();
    let reading = reading(registration);
    let (notification, sent) = match parse(text.as_deref(), now) {
        Ok(parsed) => parsed,
        Err(invalid) => {
            warn(invalid.code(), &JsValue::from_str("push refused"));
            let screen = Screen::swept(reading, now).await;
            show_status_unless_shown(registration, &screen, now).await;
            return Outcome::Refused(invalid);
        }
    };
    let key = notification.key();
    let received = feed().receive(&notification, now).await;
    let screen = Screen::swept(reading, now).await;
    let feed_members = match received {
        Ok((
            Received {
                arrival,
                mut members,
            },
            committing,
        )) => {
            *commit = Some(committing);
            match arrival {
                Arrival::Deleted => {
                    show_status_unless_shown(registration, &screen, now).await;
                    return Outcome::Deleted { key };
                }
                Arrival::Redelivered(entry) if !entry.counts_in_group() => {
                    show_status_unless_shown(registration, &screen, now).await;
                    return Outcome::AlreadySeen { key };
                }
                Arrival::Redelivered(_) => {}
                // News: counted as a new member, so the group alerts again.
                Arrival::New(_) | Arrival::Updated(_) => {
                    members.retain(|member| *member != key);
                }
            }
            Some(members)
        }
        Err(error) => {
            warn(error.code(), &error.detail());
            None
        }
    };
    let taken_by_app = match &notification.raw_content {
        // Boxed, as in `dispatch`: compiled only when a push carries raw content (and 60 B
        // smaller than inlined).
        Some(raw) => {
            let listed = pages.insert(window_clients(scope).await);
            let handed = hand_raw_to_app(scope, registration, &screen, listed, &key, raw, &sent);
            Box::pin(handed).await
        }
        None => false,
    };
    let display = if notification.visual.is_some() {
        let members = match &feed_members {
            Some(members) => members.as_slice(),
            None => screen.members_of(&tag_for(&notification)),
        };
        plan_visual(&notification, members, now)
    } else if taken_by_app {
        None
    } else {
        plan_raw_fallback(&notification, DEFAULT_RAW_TITLE, now)
    };
    let Some(display) = display else {
        return Outcome::TakenByApp { key };
    };
    if let Err(error) = show(registration, &display).await {
        warn("show-failed", &error);
        return Outcome::ShowFailed { key };
    }
    screen.close_status();
    Outcome::Shown {
        key,
        close_at: display.close_at,
    }
}

/// The quiet status, unless a notification of the app is already on screen.
async fn show_status_unless_shown(
    registration: &ServiceWorkerRegistration,
    screen: &Screen,
    now: Millis,
) {
    if screen.count == 0 {
        if let Err(error) = show(registration, &plan_status(now)).await {
            warn("show-failed", &error);
        }
    }
}

/// Text to a valid notification, parsed by the engine's `JSON.parse`; also returns the
/// parsed object, which pages get as sent (unknown fields included).
fn parse(text: Option<&str>, now: Millis) -> Result<(Notification, JsValue), InvalidNotification> {
    let text = text.unwrap_or_default();
    // JSON whitespace is ASCII only; `trim()` would also pull in Unicode tables.
    if text.trim_ascii().is_empty() {
        return Err(InvalidNotification::EmptyBody);
    }
    let value = js_sys::JSON::parse(text).map_err(|_| InvalidNotification::MalformedJson)?;
    let notification = Notification::read(value.clone(), now)?;
    Ok((notification, value))
}

/// Posts the raw content to every open page and calls the worker hook. True when a page is
/// visible or the hook showed something: then nothing more needs to be shown.
async fn hand_raw_to_app(
    scope: &ServiceWorkerGlobalScope,
    registration: &ServiceWorkerRegistration,
    screen: &Screen,
    pages: &[WindowClient],
    key: &str,
    raw: &str,
    sent: &JsValue,
) -> bool {
    let message = page_message("usernotify-raw", key);
    set(&message, "rawContent", &JsValue::from_str(raw));
    set(&message, "notification", sent);
    post(pages, &message);
    let page_visible = pages.iter().any(is_visible);
    let hook = get(scope, RAW_CONTENT_HOOK);
    let Some(hook) = hook.dyn_ref::<Function>() else {
        return page_visible;
    };
    // Promise.resolve adopts whatever the hook returns: a value, a promise, a thenable.
    let answer = match hook.call2(scope, &JsValue::from_str(raw), sent) {
        Ok(value) => settled(Promise::resolve(&value)).await,
        Err(error) => Err(error),
    };
    let hook_said_handled = match answer {
        Ok(value) => value.is_truthy(),
        Err(error) => {
            warn("raw-content-hook-failed", &error);
            false
        }
    };
    let hook_showed = on_screen(registration).await.len() > screen.count;
    page_visible || hook_said_handled || hook_showed
}

/// Closes what is due on screen and purges what expired from the feed, when due.
async fn sweep_now() {
    if let Some(scope) = worker_scope() {
        let registration = scope.registration();
        let now = now();
        serialized(Screen::sweep(&registration, now)).await;
        purge_if_due(now).await;
    }
}

/// The browser's push subscription changed (expired, rotated, revoked): subscribes again
/// with the kept key and registers it with the app service; when no subscription can be
/// had any more (the permission was revoked), drops the registration there. Nothing to do
/// when this browser never subscribed.
async fn renew_registration() {
    let feed = feed();
    match super::subscription::keep_registered(&feed).await {
        Ok(()) => {}
        Err(failure) if get_string(&failure, "name").as_deref() == Some("push-unavailable") => {
            if let Err(failure) = super::subscription::forget(&feed).await {
                warn("registration-not-dropped", &failure);
            }
        }
        Err(failure) => warn("registration-not-renewed", &failure),
    }
}

/// Closes due notifications while the worker is alive; a stopped worker catches up on its
/// next event, since every handler sweeps first.
fn schedule_sweep(scope: &ServiceWorkerGlobalScope, delay: Millis) {
    let delay = i32::try_from(delay).unwrap_or(i32::MAX);
    let timer = Promise::new(&mut |resolve, _reject| {
        let _ = scope.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, delay);
    });
    spawn(async move {
        let _ = settled(timer).await;
        sweep_now().await;
    });
}
