//! The service worker's event handlers, exported under their events' names for the JS
//! shell (`www/sw.js`), which only hands each event over: `event.waitUntil(...)` of the
//! module's start, then of `worker[event.type](event)`.
//!
//! Every handler returns a promise that never rejects. Every push ends with a notification
//! of the app visible, or with a visible page that got the raw content: browsers penalise
//! silent pushes and Safari revokes the subscription after three. Every event ends swept:
//! a stopped worker runs no timers, so what fell due meanwhile goes on the next event.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;
use core::future::Future;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    ExtendableEvent, ExtendableMessageEvent, MessagePort, NotificationEvent, PushEvent,
    ServiceWorkerGlobalScope, ServiceWorkerRegistration, WindowClient,
};

use super::js::listed;
use super::js::{
    now, object, parse, promise_of, spawn, start, stringify, warn, worker_scope, Boxed, Started,
    Work,
};
use super::lock::serialized;
use super::pages::{
    focus_or_open, is_visible, list_pages, post, post_to_pages, post_value, same_origin_target,
    window_clients,
};
use super::screen::{close_here, closed_here, on_screen, reading, show, Screen, Shown};
use super::store::{Applied, Arrived, Commit, Feed, StoreError};
use super::wasm_cache;
use crate::core::display::{tag_of, DEFAULT_RAW_TITLE};
use crate::core::feed::{activate, dismiss, FeedEntry};
use crate::core::json::{JsonRead, ObjectWriter};
use crate::core::messages::{
    read_page_request, to_pages, PageRequest, ACTIVATED, DISMISSED, PUSH_HANDLED, RAW,
};
use crate::core::preferences::{parse_time_of_day, withheld_by, Withheld};
use crate::core::record::PREFERENCES;
use crate::core::sync::{changes_of, is_changes_only, StateChange};
use crate::core::{
    plan_raw_fallback, plan_status, plan_visual, refresh_after_change, tag_for,
    InvalidNotification, Millis, Notification, Refresh,
};

#[wasm_bindgen]
extern "C" {
    /// The worker's scope as an app extends it.
    #[wasm_bindgen(extends = ServiceWorkerGlobalScope)]
    type AppScope;

    /// The optional worker hook for raw content: `self.usernotifyRawContentHook = async
    /// (rawContent, notification) => boolean`. Resolving to `true`, or showing a
    /// notification, means the hook took care of it.
    #[wasm_bindgen(method, getter, js_name = usernotifyRawContentHook)]
    fn raw_content_hook(this: &AppScope) -> JsValue;

    /// `Intl.DateTimeFormat(locales, options)`, throwing for a time zone the browser does
    /// not know (js-sys's constructor does not catch).
    #[wasm_bindgen(catch, js_namespace = Intl, js_name = DateTimeFormat)]
    fn date_time_format(
        locales: &str,
        options: &JsValue,
    ) -> Result<js_sys::Intl::DateTimeFormat, JsValue>;

    /// A `push` as the W3C Push API has it now, or WebKit's `pushnotification`.
    #[wasm_bindgen(extends = PushEvent)]
    type DeclarativePushEvent;

    /// A mutable Declarative Web Push message's notification, which the browser shows
    /// unless the worker shows one itself; absent in a plain `push`.
    #[wasm_bindgen(method, getter, js_name = notification)]
    fn proposed(this: &DeclarativePushEvent) -> Option<web_sys::Notification>;

    /// The same in WebKit's `pushnotification`.
    #[wasm_bindgen(method, getter, js_name = proposedNotification)]
    fn proposed_notification(this: &DeclarativePushEvent) -> Option<web_sys::Notification>;

    #[wasm_bindgen(extends = NotificationEvent)]
    type ActionEvent;

    /// The button a `notificationclick` was on; empty for the notification itself.
    #[wasm_bindgen(method, getter)]
    fn action(this: &ActionEvent) -> Option<String>;

    /// The Badging API, where the browser has it (Chromium, Safari).
    #[wasm_bindgen(extends = web_sys::WorkerNavigator)]
    type BadgeNavigator;

    #[wasm_bindgen(method, getter, js_name = setAppBadge)]
    fn set_app_badge_function(this: &BadgeNavigator) -> JsValue;

    #[wasm_bindgen(catch, method, js_name = setAppBadge)]
    fn set_app_badge(this: &BadgeNavigator, contents: f64) -> Result<Promise, JsValue>;

    #[wasm_bindgen(catch, method, js_name = clearAppBadge)]
    fn clear_app_badge(this: &BadgeNavigator) -> Result<Promise, JsValue>;
}

/// The shortest delay before a display-time close, so that a push (even with
/// `displayTimeToLive: 0`) has ended with its notification visible before it goes.
const MIN_CLOSE_DELAY: Millis = 1_000;

/// How often the worker purges the feed. What expired is left out wherever the feed is
/// read, so purging only frees storage: a burst of pushes need not pay for it each time.
const PURGE_EVERY: Millis = 60_000;

thread_local! {
    /// The worker's feed: one connection, opened on first use and reopened after a failure.
    static FEED: Feed = Feed::default();
    static PURGED_AT: Cell<Option<Millis>> = const { Cell::new(None) };
    /// The wasm being put in its cache since the module started (the shell found it
    /// missing), for `install` to wait on rather than fetch it again.
    static KEEPING: Cell<Option<Promise>> = const { Cell::new(None) };
}

fn feed() -> Feed {
    FEED.with(Feed::clone)
}

/// A handler's promise: fulfilled when it is done, never rejected.
fn handled(work: impl Future<Output = ()> + 'static) -> Promise {
    promise_of(Box::pin(work))
}

/// Runs when an instance starts: nothing to do, but its export (`__wbindgen_start`) is what
/// wasm-bindgen's reset-state function calls on the fresh instance, and a module built
/// without reference types (the Makefile's worker build) has none otherwise.
#[wasm_bindgen(start)]
fn started() {}

/// Tells the module where its wasm lives and which build it is (for its cache); the shell
/// calls it when the module has started, with `keep` when it found the wasm nowhere in the
/// Cache Storage (evicted, or a first start before `install` filled it), and the feed's
/// connection it began to open meanwhile (none after a fresh instance).
#[wasm_bindgen(js_name = configure)]
pub fn configure(wasm_url: String, cache_name: String, keep: bool, feed_opening: Option<Promise>) {
    wasm_cache::configure(wasm_url, cache_name);
    if let Some(opening) = feed_opening {
        FEED.with(|feed| feed.adopt(opening));
    }
    if keep {
        KEEPING.with(|keeping| keeping.set(Some(handled(keep_module()))));
    }
}

async fn keep_module() {
    if let Err(failure) = wasm_cache::keep().await {
        warn("wasm-not-cached", &failure);
    }
}

/// `install`: the wasm goes into its cache, and this build takes over at once.
#[wasm_bindgen(js_name = install)]
pub fn on_install(_event: ExtendableEvent) -> Promise {
    handled(async {
        // A new build starts with its cache empty: the module is being kept already.
        match KEEPING.with(Cell::take) {
            Some(keeping) => {
                let _ = JsFuture::from(keeping).await;
            }
            None => keep_module().await,
        }
        if let Some(scope) = worker_scope() {
            if let Ok(skipping) = scope.skip_waiting() {
                let _ = JsFuture::from(skipping).await;
            }
        }
    })
}

/// `activate`: controls the app's open pages, and drops earlier builds' wasm.
#[wasm_bindgen(js_name = activate)]
pub fn on_activate(_event: ExtendableEvent) -> Promise {
    handled(async {
        if let Some(scope) = worker_scope() {
            let claiming = JsFuture::from(scope.clients().claim());
            let _ = wasm_cache::drop_earlier_builds().await;
            let _ = claiming.await;
        }
    })
}

/// `push`: validated, stored in the feed, then shown, handed to the app, or left as the
/// quiet status. A mutable Declarative Web Push message comes with the notification the
/// browser proposes instead of data: `push` with `notification` (W3C Push API), or WebKit's
/// `pushnotification` with `proposedNotification`, which the shell hands here too.
#[wasm_bindgen(js_name = push)]
pub fn on_push(event: PushEvent) -> Promise {
    let text = event.data().map(|data| data.text());
    let event = event.unchecked_ref::<DeclarativePushEvent>();
    let proposed = event.proposed().or_else(|| event.proposed_notification());
    handled(async move {
        receive(text, proposed).await;
    })
}

/// The quiet status, unless a notification of the app is already on screen: what a push
/// ends with when its handler failed part-way (the shell calls it on a fresh instance).
#[wasm_bindgen(js_name = showQuietStatus)]
pub fn show_quiet_status() -> Promise {
    handled(async {
        if let Some(scope) = worker_scope() {
            let registration = scope.registration();
            let screen = Screen::sweep(&registration, now()).await;
            show_status_unless_shown(&registration, screen.count, now()).await;
        }
    })
}

/// Messages from the app's pages: `{type: "usernotify-push", data}` runs the push path on
/// `data` (JSON text or an object), so a page can show a notification with no push service,
/// and answers with the push's report on the port the message carries, if any;
/// `{type: "usernotify-sweep"}` closes what is due; `{type: "usernotify-feed-changed", id,
/// groupName}` (sent by the page API) closes or redraws what that change affects, then
/// answers on the port the message carries.
#[wasm_bindgen(js_name = message)]
pub fn on_message(event: ExtendableMessageEvent) -> Promise {
    handled(async move {
        match read_page_request(&event.data()) {
            PageRequest::Push(pushed) => {
                let text = pushed
                    .as_ref()
                    .and_then(|pushed| pushed.as_string().or_else(|| stringify(pushed)));
                // The push path sweeps on its way. Its report also goes back on the port
                // the message carries (the page API's `show()`).
                let report = receive(text, None).await;
                if let Some(port) = event.ports().get(0).dyn_ref::<MessagePort>() {
                    let _ = port.post_message(&report);
                }
                return;
            }
            PageRequest::FeedChanged { id, group } => {
                if let (Some(scope), Some(key)) = (worker_scope(), id) {
                    let registration = scope.registration();
                    serialized(redraw(&registration, &key, group.as_deref())).await;
                }
                // The page API resolves its call once the screen shows the change.
                if let Some(port) = event.ports().get(0).dyn_ref::<MessagePort>() {
                    let _ = port.post_message(&JsValue::TRUE);
                }
                // The redraw swept.
                return settle(now()).await;
            }
            PageRequest::Other => {}
        }
        sweep_now().await;
    })
}

/// `notificationclick`: focuses or opens the app (same origin only) at the notification's
/// URL, or its button's, tells its pages what was activated (and which button), and marks it
/// activated and read in the feed.
#[wasm_bindgen(js_name = notificationclick)]
pub fn on_notification_click(event: NotificationEvent) -> Promise {
    let action = event
        .unchecked_ref::<ActionEvent>()
        .action()
        .unwrap_or_default();
    handled(async move {
        if let (Some(scope), Some(shown)) = (worker_scope(), Shown::read(event.notification())) {
            close_here(&shown);
            let url = match action.as_str() {
                "" => None,
                action => shown.action_url(action),
            }
            .or_else(|| shown.url.clone());
            let target = same_origin_target(&scope, url.as_deref());
            let pages = window_clients(&scope).await;
            focus_or_open(&scope, &pages, &target, url.is_some()).await;
            let button = (!action.is_empty()).then_some(action.as_str());
            post(
                &pages,
                to_pages(ACTIVATED, &shown.key).opt_str("action", button),
            );
            change_state(core::slice::from_ref(&shown.key), activate).await;
        }
        sweep_now().await;
    })
}

/// `notificationclose`: the user closed a notification, so everything it counted is
/// dismissed in the feed, and its pages hear it. Firefox also fires it when a notification
/// is replaced by one with its tag (a group's update) and when the worker closes one (a
/// click, its display time, a page's change that leaves its group nothing to count): none
/// is the user's, so none dismisses.
#[wasm_bindgen(js_name = notificationclose)]
pub fn on_notification_close(event: NotificationEvent) -> Promise {
    handled(async move {
        if let (Some(scope), Some(shown)) = (worker_scope(), Shown::read(event.notification())) {
            let replaced = on_screen(&scope.registration())
                .await
                .iter()
                .any(|notification| notification.tag().as_deref() == Some(shown.tag.as_str()));
            if !replaced && !closed_here(&shown) {
                change_state(&shown.members, dismiss).await;
                post_to_pages(&scope, to_pages(DISMISSED, &shown.key)).await;
            }
        }
        sweep_now().await;
    })
}

/// `pushsubscriptionchange`: the browser's push subscription changed (expired, rotated,
/// revoked); registered again with the app service (see [`super::subscription::renew`]).
#[wasm_bindgen(js_name = pushsubscriptionchange)]
pub fn on_push_subscription_change(_event: ExtendableEvent) -> Promise {
    handled(async {
        super::subscription::renew(&feed()).await;
        sweep_now().await;
    })
}

/// Applies the user's action to stored entries and tells every page; failures only warn,
/// since the click or close has already happened on screen.
fn change_state(keys: &[String], update: fn(&mut FeedEntry)) -> Boxed<'_, ()> {
    Box::pin(async move {
        match feed().update(keys, now(), update).await {
            Ok(written) => written.iter().for_each(|entry| entry.announce()),
            Err(error) => error.warn(),
        }
    })
}

/// After a page read, dismissed or deleted `key`: closes its notification, or redraws its
/// group's with the new count, from what the feed now holds.
async fn redraw(
    registration: &ServiceWorkerRegistration,
    key: &str,
    group: Option<&str>,
) -> Option<String> {
    let now = now();
    let screen = Screen::sweep(registration, now).await;
    let entries = match feed().around(key, group).await {
        Ok(entries) => entries,
        Err(error) => {
            error.warn();
            return None;
        }
    };
    let group_shown = screen.shows(&tag_of(group, key));
    match refresh_after_change(key, group, &entries, group_shown, now) {
        Refresh::Keep => None,
        Refresh::Close(tag) => {
            screen.close_tagged(&tag);
            Some(tag)
        }
        Refresh::Show(display) => {
            if let Err(error) = show(registration, &display, group_shown).await {
                warn("show-failed", &error);
            }
            None
        }
    }
}

/// Applies the changes a push carries to the feed, before the push is stored and decided,
/// so that its group counts what is left. A change of the pushed notification itself (read
/// on another device before it reached this one) is kept for once it is stored.
async fn apply_changes(
    mut changes: Vec<StateChange>,
    pushed: &mut Result<Pushed, InvalidNotification>,
    now: Millis,
) -> Vec<Applied> {
    if let Ok(pushed) = pushed.as_mut() {
        let key = pushed.notification.key();
        if let Some(at) = changes.iter().position(|change| change.id == key) {
            pushed.own = Some(changes.swap_remove(at));
        }
    }
    if changes.is_empty() {
        return Vec::new();
    }
    feed().apply(&changes, now).await.unwrap_or_else(|error| {
        error.warn();
        Vec::new()
    })
}

/// After changes from other devices were applied to the feed: every page hears each, and
/// its notification closes or its group's is redrawn, once per notification on screen (the
/// feed holds every change already). Returns the tags it closed.
fn redraw_applied<'a>(
    registration: &'a ServiceWorkerRegistration,
    applied: &'a [Applied],
) -> Boxed<'a, Vec<String>> {
    Box::pin(async move {
        let mut redrawn = Vec::new();
        let mut closed = Vec::new();
        for done in applied {
            let entry = done.announce();
            let group = entry.group_name.as_deref();
            let tag = tag_of(group, &entry.key);
            if !redrawn.contains(&tag) {
                closed.extend(redraw(registration, &entry.key, group).await);
                redrawn.push(tag);
            }
        }
        closed
    })
}

/// What is under way for a push when its own notification is decided: the feed reads
/// started while it waited for the screen's lock (its arrival, none for a refused push, and
/// the kept preferences), and the tags its changes closed.
struct Underway<'a> {
    arriving: Option<Started<Result<Arrived, StoreError>>>,
    preferences: Started<Option<JsValue>>,
    closed: &'a [String],
}

/// The user's preferences as this browser keeps them, read while a push is handled (a
/// round trip of its own, so not on the push's path).
fn kept_preferences() -> Started<Option<JsValue>> {
    start(async { feed().setting(PREFERENCES).await.ok() })
}

/// Whether the kept preferences withhold `notification` now; the core decides, with the
/// local time in the quiet hours' time zone.
fn withheld(kept: &JsValue, notification: &Notification, now: Millis) -> Option<Withheld> {
    withheld_by(
        kept,
        notification.group_name.as_deref(),
        notification.priority,
        |zone| minute_of_day_in(zone, now),
    )
}

/// Minutes after midnight in `zone` at `now`, by the browser's `Intl.DateTimeFormat`;
/// `None` for a zone it does not know.
fn minute_of_day_in(zone: &str, now: Millis) -> Option<u16> {
    let options = ObjectWriter::default()
        .str("timeZone", zone)
        .str("hour", "2-digit")
        .str("minute", "2-digit")
        .str("hourCycle", "h23")
        .end();
    let format = date_time_format("en-GB", &object(&options)).ok()?;
    let date = js_sys::Date::new(&JsValue::from_f64(now as f64));
    let text = format.format().call1(&format, &date).ok()?.as_string()?;
    parse_time_of_day(&text)
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
    /// Deleted by the user, or a redelivery of what the user read or dismissed: stays as
    /// the user left it, the quiet status at most.
    Quiet { key: String, why: &'static str },
    /// The browser refused to show it (permission revoked).
    ShowFailed { key: String },
}

impl Outcome {
    fn name(&self) -> &'static str {
        match self {
            Outcome::Shown { .. } => "shown",
            Outcome::TakenByApp { .. } => "taken-by-app",
            Outcome::Refused(invalid) => invalid.code(),
            Outcome::Quiet { why, .. } => why,
            Outcome::ShowFailed { .. } => "show-failed",
        }
    }

    fn key(&self) -> &str {
        match self {
            Outcome::Shown { key, .. }
            | Outcome::TakenByApp { key }
            | Outcome::Quiet { key, .. }
            | Outcome::ShowFailed { key } => key,
            Outcome::Refused(_) => "",
        }
    }
}

/// A push as read: the notification, and the text it came as (handed to the app as sent).
struct Pushed {
    notification: Notification,
    /// A change of this very notification the push carries (read elsewhere first).
    own: Option<StateChange>,
    /// The parsed value, for the hook.
    value: JsValue,
    text: String,
}

/// The push path, then the display-time close and the report to the app's pages. With a
/// proposed notification (a mutable declarative push), the push ends with a notification
/// the worker showed, the quiet status at least, or the browser would show the proposed one
/// whatever the worker decided (expired, deleted, already seen).
async fn receive(text: Option<String>, proposed: Option<web_sys::Notification>) -> JsValue {
    let Some(scope) = worker_scope() else {
        return JsValue::UNDEFINED;
    };
    let registration = scope.registration();
    let now = now();
    // The app's pages to report to, listed while the push is handled.
    let pages_listed = list_pages(&scope);
    let preferences = kept_preferences();
    let declarative = proposed.is_some();
    // What the user did on other devices since this browser's last push (`changes`), and
    // whether that is all the push carries.
    let body = text.as_deref().and_then(parse);
    let changes_only = body.as_ref().is_some_and(is_changes_only);
    let changes = body.as_ref().map(changes_of).unwrap_or_default();
    let mut pushed = read_push(text, body.clone(), proposed, now);
    let applied = apply_changes(changes, &mut pushed, now).await;
    // The feed's part starts at once, outside the screen's lock: IndexedDB runs the
    // transactions of pushes that arrive together one after another, in order, so each
    // reads what the one before it wrote, while the screen is still busy with that one.
    let arriving = pushed.as_ref().ok().map(|pushed| {
        let notification = pushed.notification.clone();
        start(async move { feed().receive(&notification, now).await })
    });
    let mut pages = None;
    let (outcome, stored) = serialized(async {
        let closed = redraw_applied(&registration, &applied).await;
        let mut commit = None;
        let outcome = match changes_only {
            // Nothing of its own to show: what the changes left, or the quiet status.
            true => {
                let screen = Screen::sweep(&registration, now).await.without(&closed);
                show_status_unless_shown(&registration, screen.count, now).await;
                Outcome::Quiet {
                    key: String::new(),
                    why: "changes-applied",
                }
            }
            false => {
                push_path(
                    &scope,
                    &registration,
                    pushed,
                    Underway {
                        arriving,
                        preferences,
                        closed: &closed,
                    },
                    &mut pages,
                    &mut commit,
                    now,
                )
                .await
            }
        };
        if declarative && !matches!(outcome, Outcome::Shown { .. }) {
            show_status_unless_shown(&registration, 0, now).await;
        }
        // The feed's transaction commits on its own while the notification is shown.
        let stored = match commit {
            Some(commit) => commit
                .finished()
                .await
                .map_err(|error| error.warn())
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
        schedule_sweep(
            &scope,
            close_at
                .saturating_sub(super::js::now())
                .max(MIN_CLOSE_DELAY),
        );
    }
    // Sent once the browser has the notification on screen: pages (and tests) read what is
    // shown after this, never while a show is in flight, when Chromium's getNotifications
    // can drop the entry it is still displaying.
    let pages = match pages {
        Some(pages) => pages,
        None => listed(pages_listed.await),
    };
    let report = object(
        &to_pages(PUSH_HANDLED, outcome.key())
            .str("outcome", outcome.name())
            .bool("stored", stored)
            .end(),
    );
    post_value(&pages, &report);
    settle(super::js::now()).await;
    report
}

/// Validates, stores in the feed, then shows, hands over to the app, or leaves the quiet
/// status. The screen is read once, while the push is stored: nothing else changes it
/// while the lock is held. The feed's commit is left in `commit` while the notification is
/// shown. When the feed cannot be written the notification is still shown, its group
/// counted from the screen instead.
async fn push_path(
    scope: &ServiceWorkerGlobalScope,
    registration: &ServiceWorkerRegistration,
    pushed: Result<Pushed, InvalidNotification>,
    Underway {
        arriving,
        preferences,
        closed,
    }: Underway<'_>,
    pages: &mut Option<Vec<WindowClient>>,
    commit: &mut Option<Commit>,
    now: Millis,
) -> Outcome {
    let reading = reading(registration);
    let pushed = match pushed {
        Ok(pushed) => pushed,
        Err(invalid) => {
            warn(invalid.code(), &JsValue::from_str("push refused"));
            let screen = Screen::swept(reading, now).await.without(closed);
            show_status_unless_shown(registration, screen.count, now).await;
            return Outcome::Refused(invalid);
        }
    };
    let notification = &pushed.notification;
    let key = notification.key();
    let arrived = match arriving {
        Some(arriving) => arriving.finish().await,
        None => None,
    };
    let screen = Screen::swept(reading, now).await.without(closed);
    let feed_members = match arrived {
        Some(Ok(arrived)) => {
            *commit = Some(arrived.commit);
            if let Some(why) = arrived.arrival.quiet_outcome() {
                show_status_unless_shown(registration, screen.count, now).await;
                return Outcome::Quiet { key, why };
            }
            // Read, dismissed or deleted on another device before it reached this one: it
            // is kept so, and not shown (its change applies once the arrival is written).
            if let Some(change) = pushed.own.as_ref().filter(|change| !change.counts()) {
                if let Ok(applied) = feed().apply(core::slice::from_ref(change), now).await {
                    applied.iter().for_each(|done| {
                        done.announce();
                    });
                }
                show_status_unless_shown(registration, screen.count, now).await;
                return Outcome::Quiet {
                    key,
                    why: "already-seen",
                };
            }
            Some(arrived.members)
        }
        Some(Err(error)) => {
            error.warn();
            None
        }
        None => None,
    };
    let taken_by_app = match &notification.raw_content {
        Some(raw) => {
            let listed = pages.insert(window_clients(scope).await);
            hand_raw_to_app(scope, registration, &screen, listed, &key, raw, &pushed).await
        }
        None => false,
    };
    let display = if notification.visual.is_some() {
        let members: Vec<&str> = match &feed_members {
            Some(members) => members.iter().map(String::as_str).collect(),
            None => screen
                .members_of(&tag_for(notification))
                .iter()
                .map(String::as_str)
                .collect(),
        };
        plan_visual(notification, &members, now)
    } else if taken_by_app {
        None
    } else {
        plan_raw_fallback(notification, DEFAULT_RAW_TITLE, now)
    };
    let Some(display) = display else {
        return Outcome::TakenByApp { key };
    };
    // A push the user's preferences withhold (a muted group, quiet hours), from another
    // sender or under preferences that changed since it was sent: kept, not shown.
    let kept = preferences.finish().await.flatten();
    if let Some(why) = kept.and_then(|kept| withheld(&kept, notification, now)) {
        show_status_unless_shown(registration, screen.count, now).await;
        return Outcome::Quiet {
            key,
            why: why.reason(),
        };
    }
    let replacing = screen.shows(&display.tag);
    if let Err(error) = show(registration, &display, replacing).await {
        warn("show-failed", &error);
        return Outcome::ShowFailed { key };
    }
    screen.close_status();
    Outcome::Shown {
        key,
        close_at: display.close_at,
    }
}

/// The quiet status, unless `visible` notifications of the app are already on screen.
fn show_status_unless_shown(
    registration: &ServiceWorkerRegistration,
    visible: usize,
    now: Millis,
) -> Boxed<'_, ()> {
    Box::pin(async move {
        if visible == 0 {
            if let Err(error) = show(registration, &plan_status(now), false).await {
                warn("show-failed", &error);
            }
        }
    })
}

/// A push as a valid notification. Its text, `parsed` once by the engine's `JSON.parse` (for
/// this and for the changes it carries), is read in place: no text (or only JSON whitespace)
/// is `empty-body`, text that is not JSON `malformed-json`; a Graph resource, or a declarative message alone. A proposed
/// notification (a mutable declarative push) is read from its `data` when that is the
/// resource (the service sends it there), else as a declarative notification itself.
fn read_push(
    text: Option<String>,
    parsed: Option<JsValue>,
    proposed: Option<web_sys::Notification>,
    now: Millis,
) -> Result<Pushed, InvalidNotification> {
    let (value, text, notification) = match proposed {
        Some(proposed) => {
            let data = proposed.data();
            let notification = match data.member("payload") {
                Some(_) => Notification::read(data.clone(), now),
                None => Notification::read_declarative(JsValue::from(proposed), now),
            }?;
            (
                data.clone(),
                stringify(&data).unwrap_or_default(),
                notification,
            )
        }
        None => {
            let text = text.unwrap_or_default();
            // JSON whitespace is ASCII only; `trim()` would also pull in Unicode tables.
            if text.trim_ascii().is_empty() {
                return Err(InvalidNotification::EmptyBody);
            }
            let value = parsed.ok_or(InvalidNotification::MalformedJson)?;
            let notification = Notification::read_push(value.clone(), now)?;
            (value, text, notification)
        }
    };
    Ok(Pushed {
        notification,
        own: None,
        value,
        text,
    })
}

/// Posts the raw content to every open page and calls the worker hook. True when a page is
/// visible, the hook said it handled it, or the hook showed something: then nothing more
/// needs to be shown.
async fn hand_raw_to_app(
    scope: &ServiceWorkerGlobalScope,
    registration: &ServiceWorkerRegistration,
    screen: &Screen,
    pages: &[WindowClient],
    key: &str,
    raw: &str,
    pushed: &Pushed,
) -> bool {
    let handed = to_pages(RAW, key)
        .str("rawContent", raw)
        .raw("notification", &pushed.text);
    post(pages, handed);
    let page_visible = pages.iter().any(is_visible);
    let hook = scope.unchecked_ref::<AppScope>().raw_content_hook();
    let Some(hook) = hook.dyn_ref::<Function>() else {
        return page_visible;
    };
    // Promise.resolve adopts whatever the hook returns: a value, a promise, a thenable.
    let answer = match hook.call2(scope, &JsValue::from_str(raw), &pushed.value) {
        Ok(value) => JsFuture::from(Promise::resolve(&value)).await,
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

/// Closes what is due on screen, then settles the feed.
fn sweep_now() -> Work {
    Box::pin(async {
        if let Some(scope) = worker_scope() {
            let registration = scope.registration();
            let now = now();
            serialized(Screen::sweep(&registration, now)).await;
            settle(now).await;
        }
    })
}

/// What every event ends with: the feed purged unless this worker did less than
/// [`PURGE_EVERY`] ago, then the app badge set to the feed's unread count (cleared at 0)
/// where the browser has the Badging API; elsewhere nothing happens.
fn settle(now: Millis) -> Work {
    Box::pin(async move {
        let feed = feed();
        let last = PURGED_AT.with(Cell::get);
        if last.is_none_or(|at| now.saturating_sub(at) >= PURGE_EVERY) {
            PURGED_AT.with(|at| at.set(Some(now)));
            if feed.purge(now).await.is_err() {
                // Purging only frees storage; the next event tries again.
                PURGED_AT.with(|at| at.set(None));
            }
        }
        // The count is read only where the Badging API can show it.
        let Some(scope) = worker_scope() else {
            return;
        };
        let navigator: BadgeNavigator = scope.navigator().unchecked_into();
        if !navigator.set_app_badge_function().is_function() {
            return;
        }
        let Ok(count) = feed.unread(now).await else {
            return;
        };
        let badged = match count {
            0 => navigator.clear_app_badge(),
            count => navigator.set_app_badge(f64::from(count)),
        };
        // Refused where the app is not installed: the count stays in the feed.
        if let Ok(badged) = badged {
            let _ = JsFuture::from(badged).await;
        }
    })
}

/// Closes due notifications while the worker is alive; a stopped worker catches up on its
/// next event, since every handler sweeps.
fn schedule_sweep(scope: &ServiceWorkerGlobalScope, delay: Millis) {
    let delay = i32::try_from(delay).unwrap_or(i32::MAX);
    let timer = Promise::new(&mut |resolve, _reject| {
        let _ = scope.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, delay);
    });
    spawn(Box::pin(async move {
        let _ = JsFuture::from(timer).await;
        sweep_now().await;
    }));
}
