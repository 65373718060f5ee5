//! The page API: `NotificationClient` reads and changes the feed the worker writes, and
//! subscribes this browser with the app service.
//!
//! Every change is one IndexedDB transaction ([`super::store`]); then the app's worker is
//! asked to close or redraw what the change affects on screen, and every context of the
//! origin hears it, with the entry as it now is (`onChanged`). Structured values cross to
//! JS through serde-wasm-bindgen. Errors reject with an `Error` whose `name` is a stable
//! code.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;

use js_sys::{Array, Function, Promise};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{BroadcastChannel, MessageChannel, MessageEvent, ServiceWorker, Window};

use super::follow;
use super::js::{error, now, object, parse, stringify, warn, within};
use super::store::{announce, Applied, Feed, StoreError, Written, CHANGES_CHANNEL};
use super::subscription::{self, SubscribeOptions, SubscriptionError};
use super::worker_status::{self, WorkerProblem};
use crate::core::feed::{
    set_state, sorted_feed, FeedEntry, InvalidState, ReadState, UserActionState,
};
use crate::core::format_iso8601;
use crate::core::json::{JsonRead, ObjectWriter};
use crate::core::messages;
use crate::core::record::{entry_of, CHANGES_CURSOR};
use crate::core::Notification;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** Graph's client read state. */
export type ReadState = "unread" | "read";
/** What the user did with a notification (Graph's client user action state). */
export type UserActionState = "none" | "activated" | "dismissed" | "snoozed";
export type Priority = "None" | "High" | "Low";
/** One notification of the feed. `id` is the resource id, else `appNotificationId`, else a content hash (`h:…`). */
export interface FeedEntry {
  id: string;
  appNotificationId: string | null;
  groupName: string | null;
  title: string | null;
  body: string | null;
  rawContent: string | null;
  /** The same-origin page a click opens (usernotify extension), if any. */
  url: string | null;
  /** Pictures (usernotify extensions): an https URL or a path of the app's origin. */
  icon: string | null;
  image: string | null;
  badge: string | null;
  /** Buttons (usernotify extension), at most 2. */
  actions: NotificationButton[];
  priority: Priority;
  /** When this browser received it (ISO 8601). */
  creationDateTime: string;
  expirationDateTime: string;
  displayTimeToLive: number | null;
  readState: ReadState;
  userActionState: UserActionState;
}
/** A button of a notification: a click on it opens `url` (same origin only). */
export interface NotificationButton {
  action: string;
  title: string;
  url: string | null;
}
/**
 * What changed: one entry (`id`), or expired entries purged (`id` null). Heard by every page
 * of the origin, the one that made the change included. `entry` is the entry as it now is,
 * after an `added` or `updated` change, so that a page can apply it without reading the
 * feed again. `unreadCount` is the feed's unread, undismissed, unexpired entries after it
 * (what the app badge shows), or null when the feed could not be read.
 */
export interface FeedChange {
  id: string | null;
  change: "added" | "updated" | "deleted" | "purged";
  entry?: FeedEntry;
  unreadCount: number | null;
}
/** Where and as whom this browser registers with the app service. */
export interface SubscribeOptions {
  /** The app service's base URL, e.g. `https://notify.example.com`. */
  serviceUrl: string;
  /** A bearer token of the app service for the signed-in user. */
  accessToken: string;
  /** The app's host name; notifications name it in `targetHostName`. */
  targetHostName: string;
  /** How this browser is listed to the user, e.g. "Firefox on the laptop". */
  displayName?: string;
  /**
   * How long to wait for the browser's push service, in ms (default 30000): past it,
   * `subscribe()` rejects with `push-unavailable`, naming the push service.
   */
  pushTimeout?: number;
}
/** What `sync()` did: changes sent to the service, entries updated and deleted here. */
export interface SyncResult {
  sent: number;
  updated: number;
  deleted: number;
}
/** This browser's registration: `id` is its UNSID, for the app service's `X-UNS` header. */
export interface Subscription {
  id: string;
  endpoint: string;
}
/** A daily window, in the user's time zone, when the app service pushes nothing. */
export interface QuietHours {
  /** Local time `HH:MM`, from 00:00 to 23:59. */
  start: string;
  /** Local time `HH:MM`; before `start`, the window runs over midnight. */
  end: string;
  /** An IANA time zone name, e.g. `Intl.DateTimeFormat().resolvedOptions().timeZone`. */
  timeZone: string;
  /** High priority notifications break through quiet hours; false when absent. */
  allowHigh?: boolean;
}
/** The user's own preferences, stored at the app service and followed on every device. */
export interface Preferences {
  /** Groups whose notifications are kept in the feed but not pushed. */
  mutedGroups: string[];
  quietHours: QuietHours | null;
}
/** What `setPreferences` changes: a member present replaces it (`quietHours: null` clears it). */
export interface PreferencesPatch {
  mutedGroups?: string[] | null;
  quietHours?: QuietHours | null;
}
/**
 * The `name` of every `Error` the page API rejects with. `subscribe`, `sync` and changes sent
 * to the app service may also reject with the service's own Graph error code.
 */
export type UsernotifyErrorCode =
  | "not-found" | "invalid-state" | "storage-unavailable" | "quota-exceeded"
  | "invalid-options" | "push-unavailable" | "service-unreachable" | "not-subscribed"
  | "service-error" | "contract-mismatch" | "invalid-time" | "invalid-time-zone"
  | "too-many-muted-groups" | "worker-failed" | "show-failed"
  | "empty-body" | "malformed-json" | "body-is-array" | "invalid-date" | "negative-ttl"
  | "invalid-payload" | "missing-title" | "expired" | "expires-too-late"
  | "invalid-media-url" | "media-url-too-long" | "too-many-actions" | "invalid-action";
/**
 * What `show()` did: `id` is the feed entry's (the resource's `id`, else its
 * `appNotificationId`, else a content hash); `outcome` is `shown`, `taken-by-app` (raw content
 * a visible page or the worker hook took), `deleted` (the user deleted it before) or
 * `already-seen` (the same again, read or dismissed); `stored` whether the feed has it.
 */
export interface ShowResult {
  id: string;
  outcome: "shown" | "taken-by-app" | "deleted" | "already-seen";
  stored: boolean;
}
"#;

/// How a feed entry crosses to JS (`FeedEntry` above): the page API's names, instants as
/// ISO 8601, absent values as `null`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiEntry<'a> {
    id: &'a str,
    app_notification_id: Option<&'a str>,
    group_name: Option<&'a str>,
    title: Option<&'a str>,
    body: Option<&'a str>,
    raw_content: Option<&'a str>,
    url: Option<&'a str>,
    icon: Option<String>,
    image: Option<String>,
    badge: Option<String>,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    actions: JsValue,
    priority: &'static str,
    creation_date_time: String,
    expiration_date_time: String,
    display_time_to_live: Option<u32>,
    read_state: &'static str,
    user_action_state: &'static str,
}

impl<'a> ApiEntry<'a> {
    fn of(entry: &'a FeedEntry) -> ApiEntry<'a> {
        // Pictures and buttons as the feed keeps them (a JSON object of those present).
        let rich = object(entry.rich.as_deref().unwrap_or("{}"));
        let url = |name: &str| rich.member(name).and_then(|url| url.as_string());
        ApiEntry {
            id: &entry.key,
            app_notification_id: entry.app_notification_id.as_deref(),
            group_name: entry.group_name.as_deref(),
            title: entry.title.as_deref(),
            body: entry.body.as_deref(),
            raw_content: entry.raw_content.as_deref(),
            url: entry.url.as_deref(),
            icon: url("icon"),
            image: url("image"),
            badge: url("badge"),
            actions: rich
                .member("actions")
                .unwrap_or_else(|| Array::new().into()),
            priority: entry.priority.as_str(),
            creation_date_time: format_iso8601(entry.creation),
            expiration_date_time: format_iso8601(entry.expiration),
            display_time_to_live: entry.display_time_to_live,
            read_state: entry.read_state.as_str(),
            user_action_state: entry.user_action_state.as_str(),
        }
    }
}

/// `onChanged`'s payload (`FeedChange` above).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiChange<'a> {
    id: Option<String>,
    change: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    entry: Option<ApiEntry<'a>>,
    unread_count: Option<u32>,
}

#[derive(Serialize)]
struct ApiSubscription<'a> {
    id: &'a str,
    endpoint: &'a str,
}

#[derive(Serialize)]
struct ApiSyncResult {
    sent: u32,
    updated: usize,
    deleted: usize,
}

/// A Rust value as the page API hands it out: plain objects, `null` for what is absent.
fn to_js<T: Serialize>(value: &T) -> JsValue {
    let serializer = serde_wasm_bindgen::Serializer::new().serialize_missing_as_null(true);
    value.serialize(&serializer).unwrap_or(JsValue::NULL)
}

/// The feed of this origin, as the app's pages see it.
#[wasm_bindgen]
pub struct NotificationClient {
    feed: Feed,
}

#[wasm_bindgen]
impl NotificationClient {
    /// Opens the feed (creating it on first use) and purges what expired. When this browser
    /// is subscribed with an app service and its push subscription changed, registers it
    /// again (a failure there, e.g. offline, only warns; the next `open()` retries). While
    /// subscribed, the page follows the user's change stream from then on (once per page):
    /// what was read, dismissed or deleted on another device since this browser last heard
    /// is applied at once, and each later change as it happens.
    pub async fn open() -> Result<NotificationClient, JsValue> {
        let feed = Feed::open().await?;
        feed.purge(now()).await?;
        if let Err(failure) = subscription::keep_registered(&feed).await {
            warn("registration-not-renewed", &failure.rejection());
        }
        if subscription::registered_service(&feed).await.is_ok() {
            follow::start(&feed);
        }
        Ok(NotificationClient { feed })
    }

    /// Every unexpired notification, newest first.
    #[wasm_bindgen(js_name = getAllNotifications, unchecked_return_type = "FeedEntry[]")]
    pub async fn get_all_notifications(&self) -> Result<JsValue, JsValue> {
        let entries = sorted_feed(self.feed.all().await?, now());
        let list: Vec<ApiEntry> = entries.iter().map(ApiEntry::of).collect();
        Ok(to_js(&list))
    }

    /// Sets `readState`; resolves to the entry as stored. An entry read leaves the screen.
    #[wasm_bindgen(js_name = updateReadState, unchecked_return_type = "FeedEntry")]
    pub async fn update_read_state(
        &self,
        id: String,
        #[wasm_bindgen(js_name = readState, unchecked_param_type = "ReadState")] read_state: String,
    ) -> Result<JsValue, JsValue> {
        let state = ReadState::parse(&read_state).map_err(invalid_state)?;
        self.change(id, move |entry| set_state(entry, Some(state), None))
            .await
    }

    /// Sets `userActionState` (`activated` also marks it read, as a click does); resolves
    /// to the entry as stored. A dismissed notification leaves the screen.
    #[wasm_bindgen(js_name = updateUserActionState, unchecked_return_type = "FeedEntry")]
    pub async fn update_user_action_state(
        &self,
        id: String,
        #[wasm_bindgen(js_name = userActionState, unchecked_param_type = "UserActionState")]
        user_action_state: String,
    ) -> Result<JsValue, JsValue> {
        let state = UserActionState::parse(&user_action_state).map_err(invalid_state)?;
        self.change(id, move |entry| set_state(entry, None, Some(state)))
            .await
    }

    /// Deletes it from the feed and from the screen; a redelivered push does not bring it
    /// back before it expires.
    #[wasm_bindgen(js_name = deleteNotification)]
    pub async fn delete_notification(&self, id: String) -> Result<(), JsValue> {
        let entry = self.feed.delete(&id, now()).await?;
        deleted(&entry).await;
        subscription::send_change(&self.feed, &entry, true).await;
        Ok(())
    }

    /// How many unexpired notifications are unread and not dismissed: the number the
    /// worker shows on the app badge.
    #[wasm_bindgen(js_name = getUnreadCount)]
    pub async fn get_unread_count(&self) -> Result<u32, JsValue> {
        Ok(self.feed.unread(now()).await?)
    }

    /// Calls `callback` whenever the feed changes: by a push, a click or close in the
    /// worker, or a change made from any page (this one included), with the entry as it
    /// now is and the unread count after it, in the order the changes happened. Returns a
    /// function that stops listening.
    #[wasm_bindgen(js_name = onChanged, unchecked_return_type = "() => void")]
    pub fn on_changed(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(change: FeedChange) => void")] callback: Function,
    ) -> Result<JsValue, JsValue> {
        let channel = BroadcastChannel::new(CHANGES_CHANNEL)
            .map_err(|_| error("storage-unavailable", "BroadcastChannel is not available"))?;
        let feed = self.feed.clone();
        // The count is asked for as each change arrives (IndexedDB answers in order); each
        // callback waits for the one before, so changes are told in the order they came.
        let told: Rc<Cell<Option<Promise>>> = Rc::default();
        let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let (feed, callback, message) = (feed.clone(), callback.clone(), event.data());
            let before = told.take();
            let telling = wasm_bindgen_futures::future_to_promise(async move {
                let count = feed.unread(now()).await.ok();
                if let Some(before) = before {
                    let _ = JsFuture::from(before).await;
                }
                let _ = callback.call1(&JsValue::UNDEFINED, &change_of(&message, count));
                Ok(JsValue::UNDEFINED)
            });
            told.set(Some(telling));
        });
        channel.set_onmessage(Some(listener.as_ref().unchecked_ref()));
        let stop = Closure::once_into_js(move || {
            channel.set_onmessage(None);
            channel.close();
            drop(listener);
        });
        Ok(stop)
    }

    /// Subscribes this browser to push (with the service's VAPID key) and registers it with
    /// the app service; resolves to `{id, endpoint}`. Needs the notification permission and
    /// the app's service worker.
    #[wasm_bindgen(unchecked_return_type = "Subscription")]
    pub async fn subscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "SubscribeOptions")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let options: SubscribeOptions = serde_wasm_bindgen::from_value(options)
            .map_err(|_| {
                SubscriptionError::InvalidOptions(String::from(
                    "subscribe() takes {serviceUrl, accessToken, targetHostName, displayName?, pushTimeout?}: strings, and pushTimeout in ms",
                ))
            })?;
        let registered = subscription::subscribe(&self.feed, options).await?;
        // Another registration may be another user's: its changes start from the beginning.
        follow::stop();
        self.feed.set_setting(CHANGES_CURSOR, None).await?;
        follow::start(&self.feed);
        Ok(subscription_of(
            registered.id.as_deref(),
            registered.endpoint.as_deref(),
        ))
    }

    /// Resolves once the app's service worker is active and has loaded its wasm. Rejects with
    /// `worker-failed` saying why when it cannot run: the worker's own reason (its wasm is not
    /// served, say), that it failed to install, or that none is registered for this page.
    /// It never waits for ever, as `navigator.serviceWorker.ready` does after a failed install.
    #[wasm_bindgen(js_name = workerReady)]
    pub async fn worker_ready(&self) -> Result<(), JsValue> {
        worker_status::ready()
            .await
            .map(|_| ())
            .map_err(|problem| problem.rejection())
    }

    /// Shows `notification` (the Graph resource, as a push carries it: an object or its JSON
    /// text) with no push service: the worker takes it down its push path, so it is checked,
    /// kept in the feed, grouped and shown as a push would be. Checked here first, with the
    /// contract's codes and messages; needs the notification permission and a worker that
    /// runs (`worker-failed` otherwise). Resolves once the browser shows it, with `{id,
    /// outcome, stored}`.
    #[wasm_bindgen(unchecked_return_type = "ShowResult")]
    pub async fn show(
        &self,
        #[wasm_bindgen(unchecked_param_type = "object | string")] notification: JsValue,
    ) -> Result<JsValue, JsValue> {
        let text = notification
            .as_string()
            .or_else(|| stringify(&notification))
            .unwrap_or_default();
        let value = parse(&text).ok_or_else(|| {
            error(
                "malformed-json",
                "show() takes a notification resource: an object, or its JSON text",
            )
        })?;
        if let Err(invalid) = Notification::read_push(value, now()) {
            return Err(error(invalid.code(), &invalid.message()));
        }
        if let Some(refused) = subscription::not_allowed() {
            return Err(refused.rejection());
        }
        let registration = worker_status::ready()
            .await
            .map_err(|problem| problem.rejection())?;
        let worker = registration
            .active()
            .ok_or_else(|| WorkerProblem::NotRegistered.rejection())?;
        let channel = MessageChannel::new()
            .map_err(|_| error("worker-failed", "MessageChannel is not available"))?;
        let reply = Promise::new(&mut |resolve, _reject| {
            channel.port1().set_onmessage(Some(&resolve));
        });
        let message = object(&messages::push_request(&text));
        worker
            .post_message_with_transferable(&message, &Array::of1(&channel.port2()))
            .map_err(|_| error("worker-failed", "the app's service worker took no message"))?;
        let answered = within(&reply, SHOW_WITHIN).await.ok().flatten();
        channel.port1().close();
        let report = answered
            .map(|event| event.unchecked_into::<MessageEvent>().data())
            .ok_or_else(|| {
                error(
                    "worker-failed",
                    "the app's service worker did not show the notification within 10 s; its console may say why",
                )
            })?;
        let text = |name: &str| report.member(name).and_then(|value| value.as_string());
        let outcome = text("outcome").unwrap_or_default();
        match outcome.as_str() {
            "shown" | "taken-by-app" | "deleted" | "already-seen" => Ok(object(
                &ObjectWriter::default()
                    .str("id", &text("key").unwrap_or_default())
                    .str("outcome", &outcome)
                    .bool(
                        "stored",
                        report.member("stored").and_then(|stored| stored.as_bool()) == Some(true),
                    )
                    .end(),
            )),
            "show-failed" => Err(error(
                "show-failed",
                "the browser did not show it: notifications may have been blocked meanwhile",
            )),
            refused => Err(error(refused, "the worker refused the notification")),
        }
    }

    /// This browser's current registration, `{id, endpoint}`, or `null` when it is not
    /// subscribed. The `id` changes when `open()` registers a rotated push subscription:
    /// send it to your app service for its `X-UNS` header.
    #[wasm_bindgen(js_name = getSubscription, unchecked_return_type = "Subscription | null")]
    pub async fn get_subscription(&self) -> Result<JsValue, JsValue> {
        let kept = subscription::registered(&self.feed).await?;
        Ok(match kept {
            Some(kept) if kept.id.is_some() => {
                subscription_of(kept.id.as_deref(), kept.endpoint.as_deref())
            }
            _ => JsValue::NULL,
        })
    }

    /// Unregisters this browser from the app service and unsubscribes it from push; does
    /// nothing when it is not subscribed.
    pub async fn unsubscribe(&self) -> Result<(), JsValue> {
        follow::stop();
        subscription::unsubscribe(&self.feed).await?;
        Ok(())
    }

    /// The user's preferences, from the app service (and kept for the worker):
    /// `{mutedGroups, quietHours}`. Rejects with `not-subscribed` before `subscribe()`.
    #[wasm_bindgen(js_name = getPreferences, unchecked_return_type = "Preferences")]
    pub async fn get_preferences(&self) -> Result<JsValue, JsValue> {
        let service = subscription::registered_service(&self.feed).await?;
        let preferences = subscription::fetch_preferences(&self.feed, &service).await?;
        Ok(object(&preferences.to_json()))
    }

    /// Changes the user's preferences at the app service: the muted groups (their
    /// notifications are kept in the feed but not pushed) and quiet hours in the user's
    /// time zone (nothing is pushed then; High priority only with `allowHigh`). A member
    /// present replaces it, `quietHours: null` clears it. Checked here with the service's
    /// rules first; resolves to the preferences as stored, kept for the worker.
    #[wasm_bindgen(js_name = setPreferences, unchecked_return_type = "Preferences")]
    pub async fn set_preferences(
        &self,
        #[wasm_bindgen(unchecked_param_type = "PreferencesPatch")] preferences: JsValue,
    ) -> Result<JsValue, JsValue> {
        let stored = subscription::change_preferences(&self.feed, &preferences).await?;
        Ok(object(&stored.to_json()))
    }

    /// Sends local changes the service has not taken yet, then merges the service's feed
    /// into this one: what was read, dismissed or deleted on the user's other devices is so
    /// here too, and its notification closes. Resolves to `{sent, updated, deleted}`.
    #[wasm_bindgen(unchecked_return_type = "SyncResult")]
    pub async fn sync(&self) -> Result<JsValue, JsValue> {
        let synced = subscription::sync(&self.feed, now()).await?;
        for done in &synced.applied {
            announce_applied(done).await;
        }
        let deleted = synced
            .applied
            .iter()
            .filter(|done| matches!(done, Applied::Deleted(_)))
            .count();
        Ok(to_js(&ApiSyncResult {
            sent: synced.sent,
            updated: synced.applied.len() - deleted,
            deleted,
        }))
    }
}

impl NotificationClient {
    /// One state change of one entry: read, decide, write in one transaction, then tell.
    async fn change(
        &self,
        id: String,
        update: impl Fn(&mut FeedEntry),
    ) -> Result<JsValue, JsValue> {
        let written = self
            .feed
            .update(core::slice::from_ref(&id), now(), update)
            .await?;
        let written = written.into_iter().next().ok_or(StoreError::NotFound)?;
        updated(&written).await;
        subscription::send_change(&self.feed, &written.entry, false).await;
        Ok(to_js(&ApiEntry::of(&written.entry)))
    }
}

/// After a page's change: the worker redraws the screen, then every context hears it (this
/// page's listeners too), so that listeners read a screen that already shows the change.
async fn updated(written: &Written) {
    redrawn(&written.entry).await;
    written.announce();
}

async fn deleted(entry: &FeedEntry) {
    redrawn(entry).await;
    announce(Some(&entry.key), "deleted", None);
}

/// After a change from another device was applied here: the worker redraws, then every
/// context hears it, as for a change made in this page.
pub(super) async fn announce_applied(applied: &Applied) {
    match applied {
        Applied::Updated(written) => updated(written).await,
        Applied::Deleted(entry) => deleted(entry).await,
    }
}

/// A message of the feed's channel (`{id, change, record}`) as `onChanged` hands it out.
fn change_of(message: &JsValue, unread_count: Option<u32>) -> JsValue {
    let text = |name: &str| message.member(name).and_then(|value| value.as_string());
    let entry = message
        .member("record")
        .and_then(|record| entry_of(&record));
    to_js(&ApiChange {
        id: text("id"),
        change: text("change").unwrap_or_default(),
        entry: entry.as_ref().map(ApiEntry::of),
        unread_count,
    })
}

fn subscription_of(id: Option<&str>, endpoint: Option<&str>) -> JsValue {
    to_js(&ApiSubscription {
        id: id.unwrap_or_default(),
        endpoint: endpoint.unwrap_or_default(),
    })
}

/// Asks the app's worker to close or redraw what showed `entry`; settles once it says the
/// screen shows the change, or after [`REDRAW_WAIT`] when no worker answers (none
/// registered, or one whose module cannot load).
async fn redrawn(entry: &FeedEntry) {
    let (Some(window), Some(worker)) = (window(), active_worker().await) else {
        return;
    };
    let message = object(&messages::feed_changed(
        &entry.key,
        entry.group_name.as_deref(),
    ));
    let Ok(channel) = MessageChannel::new() else {
        let _ = worker.post_message(&message);
        return;
    };
    let reply = Promise::new(&mut |resolve, _reject| {
        channel.port1().set_onmessage(Some(&resolve));
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, REDRAW_WAIT);
    });
    if worker
        .post_message_with_transferable(&message, &Array::of1(&channel.port2()))
        .is_ok()
    {
        let _ = JsFuture::from(reply).await;
    }
    channel.port1().close();
}

/// How long a change waits for the worker to redraw before resolving anyway, in ms.
const REDRAW_WAIT: i32 = 3_000;

/// How long `show()` waits for the worker to have shown the notification, in ms.
const SHOW_WITHIN: i32 = 10_000;

fn window() -> Option<Window> {
    js_sys::global().dyn_into().ok()
}

/// The app's active service worker for this page, if it has one; never waits for one.
async fn active_worker() -> Option<ServiceWorker> {
    let container = window()?.navigator().service_worker();
    if JsValue::from(container.clone()).is_undefined() {
        return None;
    }
    let registration = JsFuture::from(container.get_registration()).await.ok()?;
    if !registration.is_object() {
        return None;
    }
    registration
        .unchecked_into::<web_sys::ServiceWorkerRegistration>()
        .active()
}

fn invalid_state(invalid: InvalidState) -> JsValue {
    error(
        invalid.code(),
        "not one of Graph's state names (see ReadState and UserActionState)",
    )
}
