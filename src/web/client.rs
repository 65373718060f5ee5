//! The page API: `NotificationClient` reads and changes the feed the worker writes.
//!
//! Every change is one IndexedDB transaction (see [`super::store`]); afterwards every other
//! context of the origin hears it on a BroadcastChannel (`onChanged`), and the app's worker
//! is asked to close or redraw what the change affects on screen. Errors reject with an
//! `Error` whose `name` is a stable code.

use alloc::string::String;

use super::task::{promise_of, settled};
use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    BroadcastChannel, MessageChannel, MessageEvent, ServiceWorkerContainer,
    ServiceWorkerRegistration,
};

use super::js::{error, get, global, now, set};
use super::store::{announce, record_of, rejection, Feed, StoreError, CHANGES_CHANNEL};
use crate::core::feed::{listing, set_state, FeedEntry, InvalidState, ReadState, UserActionState};
use crate::core::format_iso8601;
use crate::core::record::INTERNAL_FIELDS;

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
  priority: Priority;
  /** When this browser received it (ISO 8601). */
  creationDateTime: string;
  expirationDateTime: string;
  displayTimeToLive: number | null;
  readState: ReadState;
  userActionState: UserActionState;
}
/** What changed: one entry (`id`), or expired entries purged (`id` null). Heard by every page of the origin, the one that made the change included. */
export interface FeedChange {
  id: string | null;
  change: "added" | "updated" | "deleted" | "purged";
}
/**
 * The `name` of every `Error` the page API rejects with. `subscribe`, `sync` and changes sent
 * to the app service may also reject with the service's own Graph error code.
 */
export type UsernotifyErrorCode =
  | "not-found" | "invalid-state" | "storage-unavailable" | "quota-exceeded"
  | "invalid-options" | "push-unavailable" | "service-unreachable" | "not-subscribed"
  | "service-error";
"#;

/// The feed of this origin, as the app's pages see it.
#[wasm_bindgen]
pub struct NotificationClient {
    pub(super) feed: Feed,
}

impl NotificationClient {
    /// `open()` for Rust callers (the in-browser tests).
    pub async fn connect() -> Result<NotificationClient, JsValue> {
        let feed = Feed::open().await.map_err(rejection)?;
        if feed.purge(now()).await.map_err(rejection)? > 0 {
            announce(None, "purged");
        }
        if let Err(failure) = super::subscription::keep_registered(&feed).await {
            super::js::warn("registration-not-renewed", &failure);
        }
        Ok(NotificationClient { feed })
    }
}

#[wasm_bindgen]
impl NotificationClient {
    /// Opens the feed (creating it on first use) and purges what expired. When this browser
    /// is subscribed with an app service and its push subscription changed, registers it
    /// again (a failure there, e.g. offline, only warns; the next `open()` retries).
    #[wasm_bindgen(unchecked_return_type = "Promise<NotificationClient>")]
    pub fn open() -> Promise {
        promise_of(async { NotificationClient::connect().await.map(JsValue::from) })
    }

    /// Every unexpired notification, newest first.
    #[wasm_bindgen(
        js_name = getAllNotifications,
        unchecked_return_type = "Promise<FeedEntry[]>"
    )]
    pub fn get_all_notifications(&self) -> Promise {
        let feed = self.feed.clone();
        promise_of(async move {
            let now = now();
            let entries = feed.all().await.map_err(rejection)?;
            let list: Array = listing(entries, now).iter().map(entry_to_api).collect();
            Ok(list.into())
        })
    }

    /// Sets `readState`; resolves to the entry as stored.
    #[wasm_bindgen(js_name = updateReadState, unchecked_return_type = "Promise<FeedEntry>")]
    pub fn update_read_state(
        &self,
        id: String,
        #[wasm_bindgen(js_name = readState, unchecked_param_type = "ReadState")] read_state: String,
    ) -> Promise {
        match ReadState::parse(&read_state) {
            Ok(state) => self.change(id, move |entry| set_state(entry, Some(state), None)),
            Err(invalid) => invalid_state(invalid),
        }
    }

    /// Sets `userActionState` (`activated` also marks it read, as a click does); resolves
    /// to the entry as stored. A dismissed notification leaves the screen.
    #[wasm_bindgen(
        js_name = updateUserActionState,
        unchecked_return_type = "Promise<FeedEntry>"
    )]
    pub fn update_user_action_state(
        &self,
        id: String,
        #[wasm_bindgen(js_name = userActionState, unchecked_param_type = "UserActionState")]
        user_action_state: String,
    ) -> Promise {
        match UserActionState::parse(&user_action_state) {
            Ok(state) => self.change(id, move |entry| set_state(entry, None, Some(state))),
            Err(invalid) => invalid_state(invalid),
        }
    }

    /// Deletes it from the feed and from the screen; a redelivered push does not bring it
    /// back before it expires.
    #[wasm_bindgen(js_name = deleteNotification, unchecked_return_type = "Promise<void>")]
    pub fn delete_notification(&self, id: String) -> Promise {
        let feed = self.feed.clone();
        promise_of(async move {
            let entry = feed.delete(&id, now()).await.map_err(rejection)?;
            changed(&entry, "deleted").await;
            super::subscription::send_change(&feed, &entry, true).await;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Calls `callback` whenever the feed changes: by a push, a click or close in the
    /// worker, or a change made from any page (this one included). Returns a function that
    /// stops listening.
    #[wasm_bindgen(js_name = onChanged, unchecked_return_type = "() => void")]
    pub fn on_changed(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(change: FeedChange) => void")] callback: Function,
    ) -> Result<JsValue, JsValue> {
        let channel = BroadcastChannel::new(CHANGES_CHANNEL)
            .map_err(|_| error("storage-unavailable", "BroadcastChannel is not available"))?;
        let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let _ = callback.call1(&JsValue::UNDEFINED, &event.data());
        });
        channel.set_onmessage(Some(listener.as_ref().unchecked_ref()));
        let stop = Closure::once_into_js(move || {
            channel.set_onmessage(None);
            channel.close();
            drop(listener);
        });
        Ok(stop)
    }
}

impl NotificationClient {
    /// One state change of one entry: read, decide, write in one transaction, then tell.
    fn change(&self, id: String, update: impl Fn(&mut FeedEntry) + 'static) -> Promise {
        let feed = self.feed.clone();
        promise_of(async move {
            let written = feed
                .update(core::slice::from_ref(&id), now(), update)
                .await
                .map_err(rejection)?;
            let entry = written
                .into_iter()
                .next()
                .ok_or_else(|| rejection(StoreError::NotFound))?;
            changed(&entry, "updated").await;
            super::subscription::send_change(&feed, &entry, false).await;
            Ok(entry_to_api(&entry))
        })
    }
}

/// After a page's change: the worker redraws the screen, then every context hears it (this
/// page's listeners too), so that listeners read a screen that already shows the change.
pub(super) async fn changed(entry: &FeedEntry, change: &str) {
    redrawn(entry).await;
    announce(Some(&entry.key), change);
}

/// Asks the app's worker to close or redraw what showed `entry`; settles once it says the
/// screen shows the change, or after [`REDRAW_WAIT`] when no worker answers (none
/// registered, or one whose module cannot load).
async fn redrawn(entry: &FeedEntry) {
    let Some(worker) = active_worker().await else {
        return;
    };
    let message = Object::new();
    set(
        &message,
        "type",
        &JsValue::from_str("usernotify-feed-changed"),
    );
    set(&message, "id", &JsValue::from_str(&entry.key));
    if let Some(group) = &entry.group_name {
        set(&message, "groupName", &JsValue::from_str(group));
    }
    let Ok(channel) = MessageChannel::new() else {
        let _ = worker.post_message(&message);
        return;
    };
    let reply = Promise::new(&mut |resolve, _reject| {
        channel.port1().set_onmessage(Some(&resolve));
        set_timeout(&resolve, REDRAW_WAIT);
    });
    if worker
        .post_message_with_transferable(&message, &Array::of1(&channel.port2()))
        .is_ok()
    {
        let _ = settled(reply).await;
    }
    channel.port1().close();
}

/// How long a change waits for the worker to redraw before resolving anyway, in ms.
const REDRAW_WAIT: i32 = 3_000;

#[wasm_bindgen]
extern "C" {
    /// The global `setTimeout`, of a window or a worker alike.
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &Function, millis: i32);
}

/// The app's active service worker for this page, if it has one; never waits for one.
/// None inside a service worker: Firefox exposes `navigator.serviceWorker` there too (its
/// own registration, itself active), and a worker does not message itself (as in Chromium).
async fn active_worker() -> Option<web_sys::ServiceWorker> {
    let container = get(&get(&global(), "navigator"), "serviceWorker");
    if !container.is_object() || get(&global(), "registration").is_object() {
        return None;
    }
    let container: ServiceWorkerContainer = container.unchecked_into();
    let registration = settled(container.get_registration()).await.ok()?;
    if !registration.is_object() {
        return None;
    }
    registration
        .unchecked_into::<ServiceWorkerRegistration>()
        .active()
}

/// An entry as the page API hands it out (see `FeedEntry` in the TypeScript types): the
/// stored record with its instants as ISO 8601 text and without the index-only fields.
fn entry_to_api(entry: &FeedEntry) -> JsValue {
    let object: Object = record_of(entry).unchecked_into();
    for internal in INTERNAL_FIELDS {
        let _ = Reflect::delete_property(&object, &JsValue::from_str(internal));
    }
    set(
        &object,
        "creationDateTime",
        &JsValue::from_str(&format_iso8601(entry.creation)),
    );
    set(
        &object,
        "expirationDateTime",
        &JsValue::from_str(&format_iso8601(entry.expiration)),
    );
    object.into()
}

fn invalid_state(invalid: InvalidState) -> Promise {
    Promise::reject(&error(
        invalid.code(),
        "not one of Graph's state names (see ReadState and UserActionState)",
    ))
}
