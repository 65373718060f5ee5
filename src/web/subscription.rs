//! Subscribing this browser with the app service: its VAPID key, the browser's
//! `PushManager`, and the registration that names the subscription with a UNSID (the `id`
//! the app service then sends in `X-UNS`). The registration is kept in the feed database,
//! so that later calls (and the worker) know it.

use alloc::string::String;

use js_sys::{Array, Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::js::{error, get, get_string, global, set};
use super::store::{rejection, Feed};
use super::task::settled;
use {
    super::client::{changed, NotificationClient},
    super::js::{now, warn},
    super::task::promise_of,
    crate::core::feed::{FeedEntry, ReadState, UserActionState},
};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
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
"#;

/// The setting the registration is kept under.
const SUBSCRIPTION: &str = "subscription";
/// Local changes the app service has not taken yet (it could not be reached): sent first by
/// the next `sync()`.
const OUTBOX: &str = "outbox";

#[wasm_bindgen]
impl NotificationClient {
    /// Subscribes this browser to push (with the service's VAPID key) and registers it with
    /// the app service; resolves to `{id, endpoint}`. Needs the notification permission and
    /// the app's service worker.
    #[wasm_bindgen(unchecked_return_type = "Promise<Subscription>")]
    pub fn subscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "SubscribeOptions")] options: JsValue,
    ) -> Promise {
        let feed = self.feed.clone();
        promise_of(subscribe(feed, options))
    }

    /// Sends local changes the service has not taken yet, then merges the service's feed
    /// into this one: what was read, dismissed or deleted on the user's other devices is so
    /// here too, and its notification closes. Resolves to `{sent, updated, deleted}`.
    #[wasm_bindgen(unchecked_return_type = "Promise<SyncResult>")]
    pub fn sync(&self) -> Promise {
        let feed = self.feed.clone();
        promise_of(sync(feed))
    }

    /// This browser's current registration, `{id, endpoint}`, or `null` when it is not
    /// subscribed. The `id` changes when `open()` registers a rotated push subscription:
    /// send it to your app service for its `X-UNS` header.
    #[wasm_bindgen(
        js_name = getSubscription,
        unchecked_return_type = "Promise<Subscription | null>"
    )]
    pub fn get_subscription(&self) -> Promise {
        let feed = self.feed.clone();
        promise_of(async move {
            let kept = feed.setting(SUBSCRIPTION).await.map_err(rejection)?;
            let Some(id) = get_string(&kept, "id") else {
                return Ok(JsValue::NULL);
            };
            let answer = Object::new();
            set(&answer, "id", &JsValue::from_str(&id));
            set(&answer, "endpoint", &get(&kept, "endpoint"));
            Ok(answer.into())
        })
    }

    /// Unregisters this browser from the app service and unsubscribes it from push; does
    /// nothing when it is not subscribed.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn unsubscribe(&self) -> Promise {
        let feed = self.feed.clone();
        promise_of(unsubscribe(feed))
    }
}

async fn subscribe(feed: Feed, options: JsValue) -> Result<JsValue, JsValue> {
    let required = |name: &str| {
        get_string(&options, name)
            .filter(|value| !value.trim().is_empty())
            .ok_or_else(|| {
                error(
                    "invalid-options",
                    "serviceUrl, accessToken and targetHostName are required",
                )
            })
    };
    let service = Service {
        url: String::from(required("serviceUrl")?.trim_end_matches('/')),
        token: required("accessToken")?,
    };
    let target_host_name = required("targetHostName")?;
    let display_name = get_string(&options, "displayName").unwrap_or_default();

    let key = service.call("GET", "/vapidPublicKey", None).await?;
    let public_key = get_string(&key, "publicKey")
        .ok_or_else(|| error("service-error", "the app service sent no VAPID key"))?;
    let push_manager = get(&ready_registration().await?, "pushManager");
    let push_subscription = push_subscribe(&push_manager, &public_key).await?;
    let kept = Object::new();
    set(&kept, "serviceUrl", &JsValue::from_str(&service.url));
    set(&kept, "accessToken", &JsValue::from_str(&service.token));
    set(
        &kept,
        "targetHostName",
        &JsValue::from_str(&target_host_name),
    );
    set(&kept, "displayName", &JsValue::from_str(&display_name));
    set(&kept, "publicKey", &JsValue::from_str(&public_key));
    register(&feed, &service, &kept, &push_subscription).await
}

/// On `open()`, and on the worker's `pushsubscriptionchange`: when the browser's push subscription is no longer the registered one (the
/// push service rotated it, or it was lost), registers the current one, subscribing again
/// with the kept key when there is none. The old registration stays: its UNSID still names
/// the user, so the app service's posts under it reach the new subscription too, and the
/// service drops the old endpoint once its push service answers 404 or 410.
pub(super) async fn keep_registered(feed: &Feed) -> Result<(), JsValue> {
    let kept = feed.setting(SUBSCRIPTION).await.map_err(rejection)?;
    let (Some(url), Some(token), Some(public_key)) = (
        get_string(&kept, "serviceUrl"),
        get_string(&kept, "accessToken"),
        get_string(&kept, "publicKey"),
    ) else {
        return Ok(());
    };
    // The worker's own registration, else the page's; never waits for a worker: a page
    // without one has nothing to check.
    let mut registration = get(&global(), "registration");
    if !registration.is_object() {
        let container = get(&get(&global(), "navigator"), "serviceWorker");
        registration = awaited(call_method(&container, "getRegistration", &[])).await?;
    }
    if !registration.is_object() {
        return Ok(());
    }
    let push_manager = get(&registration, "pushManager");
    let current = awaited(call_method(&push_manager, "getSubscription", &[])).await?;
    let push_subscription = if current.is_object() {
        call_method(&current, "toJSON", &[])?
    } else {
        push_subscribe(&push_manager, &public_key).await?
    };
    if get_string(&push_subscription, "endpoint") == get_string(&kept, "endpoint") {
        return Ok(());
    }
    register(feed, &Service { url, token }, &kept, &push_subscription).await?;
    Ok(())
}

/// `PushManager.subscribe` with the service's key; the subscription as JSON.
async fn push_subscribe(push_manager: &JsValue, public_key: &str) -> Result<JsValue, JsValue> {
    let push_options = Object::new();
    set(&push_options, "userVisibleOnly", &JsValue::TRUE);
    set(
        &push_options,
        "applicationServerKey",
        &JsValue::from_str(public_key),
    );
    let subscription = awaited(call_method(
        push_manager,
        "subscribe",
        &[push_options.into()],
    ))
    .await
    .map_err(|_| {
        error(
            "push-unavailable",
            "the browser refused a push subscription (permission, or no push service)",
        )
    })?;
    call_method(&subscription, "toJSON", &[])
}

/// Registers `push_subscription` with the service and keeps the registration: `kept` (the
/// service, token, host name and key) with the new `id` and `endpoint`. Answers
/// `{id, endpoint}`.
async fn register(
    feed: &Feed,
    service: &Service,
    kept: &JsValue,
    push_subscription: &JsValue,
) -> Result<JsValue, JsValue> {
    let body = Object::new();
    set(&body, "pushSubscription", push_subscription);
    set(&body, "targetHostName", &get(kept, "targetHostName"));
    set(&body, "displayName", &get(kept, "displayName"));
    let registered = service
        .call("POST", "/me/notificationSubscriptions", Some(&body))
        .await?;
    let id = get_string(&registered, "id")
        .ok_or_else(|| error("service-error", "the app service sent no subscription id"))?;
    let endpoint = get(push_subscription, "endpoint");
    let kept: &Object = kept.unchecked_ref();
    set(kept, "id", &JsValue::from_str(&id));
    set(kept, "endpoint", &endpoint);
    feed.set_setting(SUBSCRIPTION, kept)
        .await
        .map_err(rejection)?;
    let answer = Object::new();
    set(&answer, "id", &JsValue::from_str(&id));
    set(&answer, "endpoint", &endpoint);
    Ok(answer.into())
}

/// After a local change of `entry` (one the app service sent): tells the service, when
/// subscribed. When it cannot be reached (or fails), the change waits in the outbox for
/// the next `sync()`; a refusal (the service no longer has it) is dropped.
pub(super) async fn send_change(feed: &Feed, entry: &FeedEntry, deleted: bool) {
    let Some(resource_id) = entry.id.as_deref() else {
        return;
    };
    let Ok(kept) = feed.setting(SUBSCRIPTION).await else {
        return;
    };
    let Some(service) = Service::kept(&kept) else {
        return;
    };
    let change = Object::new();
    set(&change, "id", &JsValue::from_str(resource_id));
    if deleted {
        set(&change, "deleted", &JsValue::TRUE);
    } else {
        set(
            &change,
            "readState",
            &JsValue::from_str(entry.read_state.as_str()),
        );
        set(
            &change,
            "userActionState",
            &JsValue::from_str(entry.user_action_state.as_str()),
        );
    }
    if let Err(failure) = service.send(&change).await {
        if retryable(&failure) {
            if let Err(error) = feed.append_setting(OUTBOX, &change).await {
                warn(error.code(), &error.detail());
            }
        }
    }
}

async fn sync(feed: Feed) -> Result<JsValue, JsValue> {
    let kept = feed.setting(SUBSCRIPTION).await.map_err(rejection)?;
    let service = Service::kept(&kept)
        .ok_or_else(|| error("not-subscribed", "sync() needs subscribe() first"))?;

    // 1. What this browser changed while the service could not be reached, in order.
    let outbox = feed.setting(OUTBOX).await.map_err(rejection)?;
    let waiting: alloc::vec::Vec<JsValue> = if Array::is_array(&outbox) {
        Array::from(&outbox).iter().collect()
    } else {
        alloc::vec::Vec::new()
    };
    let mut sent = 0;
    for (done, change) in waiting.iter().enumerate() {
        match service.send(change).await {
            Ok(()) => sent += 1,
            Err(failure) if retryable(&failure) => {
                let rest: Array = waiting.iter().skip(done).cloned().collect();
                feed.set_setting(OUTBOX, &rest).await.map_err(rejection)?;
                return Err(failure);
            }
            // Refused (gone at the service): nothing left to send.
            Err(_) => {}
        }
    }
    feed.set_setting(OUTBOX, &JsValue::UNDEFINED)
        .await
        .map_err(rejection)?;

    // 2. The service's state wins for what it sent here.
    let listed = service.call("GET", "/me/notifications", None).await?;
    let items = get(&listed, "value");
    let items: alloc::vec::Vec<JsValue> = if Array::is_array(&items) {
        Array::from(&items).iter().collect()
    } else {
        alloc::vec::Vec::new()
    };
    let now = now();
    let (mut updated, mut deleted) = (0, 0);
    for entry in feed.all().await.map_err(rejection)? {
        let Some(resource_id) = entry.id.as_deref() else {
            continue;
        };
        if entry.is_expired(now) {
            continue;
        }
        let there = items
            .iter()
            .find(|item| get_string(item, "id").as_deref() == Some(resource_id));
        let Some(there) = there else {
            // Deleted on another device (or by the app).
            if let Ok(gone) = feed.delete(&entry.key, now).await {
                changed(&gone, "deleted").await;
                deleted += 1;
            }
            continue;
        };
        let read_state = get_string(there, "readState").and_then(|s| ReadState::parse(&s).ok());
        let action =
            get_string(there, "userActionState").and_then(|s| UserActionState::parse(&s).ok());
        if read_state.is_none_or(|state| state == entry.read_state)
            && action.is_none_or(|state| state == entry.user_action_state)
        {
            continue;
        }
        let written = feed
            .update(core::slice::from_ref(&entry.key), now, |stored| {
                if let Some(state) = read_state {
                    stored.read_state = state;
                }
                if let Some(state) = action {
                    stored.user_action_state = state;
                }
            })
            .await
            .map_err(rejection)?;
        for entry in written {
            changed(&entry, "updated").await;
            updated += 1;
        }
    }
    let result = Object::new();
    set(&result, "sent", &JsValue::from_f64(f64::from(sent)));
    set(&result, "updated", &JsValue::from_f64(f64::from(updated)));
    set(&result, "deleted", &JsValue::from_f64(f64::from(deleted)));
    Ok(result.into())
}

/// Worth sending again later: the service could not be reached, or failed on its side.
fn retryable(failure: &JsValue) -> bool {
    let status = get(failure, "status").as_f64().unwrap_or(0.0);
    get_string(failure, "name").as_deref() == Some("service-unreachable")
        || status >= 500.0
        || status == 429.0
}

async fn unsubscribe(feed: Feed) -> Result<JsValue, JsValue> {
    let push_manager = get(&ready_registration().await?, "pushManager");
    let current = awaited(call_method(&push_manager, "getSubscription", &[])).await?;
    if current.is_object() {
        awaited(call_method(&current, "unsubscribe", &[])).await?;
    }
    forget(&feed).await?;
    Ok(JsValue::UNDEFINED)
}

/// Drops this browser's registration at the app service and here (its push subscription
/// is gone, or the user unsubscribed).
pub(super) async fn forget(feed: &Feed) -> Result<(), JsValue> {
    let kept = feed.setting(SUBSCRIPTION).await.map_err(rejection)?;
    if let (Some(service), Some(id)) = (Service::kept(&kept), get_string(&kept, "id")) {
        service.remove(&id).await?;
    }
    feed.set_setting(SUBSCRIPTION, &JsValue::UNDEFINED)
        .await
        .map_err(rejection)
}

/// The app service, called with the user's bearer token.
struct Service {
    url: String,
    token: String,
}

impl Service {
    /// The service of a kept registration, if this browser is subscribed.
    fn kept(kept: &JsValue) -> Option<Service> {
        get_string(kept, "id")?;
        Some(Service {
            url: get_string(kept, "serviceUrl")?,
            token: get_string(kept, "accessToken")?,
        })
    }

    /// One local change: `{id, readState, userActionState}` as a PATCH, `{id, deleted}` as
    /// a DELETE of the service's notification.
    async fn send(&self, change: &JsValue) -> Result<(), JsValue> {
        let id = get_string(change, "id").unwrap_or_default();
        let mut path = String::from("/me/notifications/");
        path.push_str(&encode_uri_component(&id));
        if get(change, "deleted").is_truthy() {
            return self.call("DELETE", &path, None).await.map(|_| ());
        }
        let body = Object::new();
        set(&body, "readState", &get(change, "readState"));
        set(&body, "userActionState", &get(change, "userActionState"));
        self.call("PATCH", &path, Some(&body)).await.map(|_| ())
    }

    /// Drops the registration `id`; one already gone at the service is fine.
    async fn remove(&self, id: &str) -> Result<(), JsValue> {
        let mut path = String::from("/me/notificationSubscriptions/");
        path.push_str(&encode_uri_component(id));
        match self.call("DELETE", &path, None).await {
            Err(refused) if get_string(&refused, "name").as_deref() != Some("not-found") => {
                Err(refused)
            }
            _ => Ok(()),
        }
    }

    /// One JSON call; a refusal rejects with the Graph error's code as the `name`.
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Object>,
    ) -> Result<JsValue, JsValue> {
        let mut url = self.url.clone();
        url.push_str(path);
        let headers = Object::new();
        let mut bearer = String::from("Bearer ");
        bearer.push_str(&self.token);
        set(&headers, "Authorization", &JsValue::from_str(&bearer));
        let init = Object::new();
        set(&init, "method", &JsValue::from_str(method));
        if let Some(body) = body {
            set(
                &headers,
                "Content-Type",
                &JsValue::from_str("application/json"),
            );
            set(&init, "body", &JSON::stringify(body)?.into());
        }
        set(&init, "headers", &headers);
        let response = awaited(call_method(
            &global(),
            "fetch",
            &[JsValue::from_str(&url), init.into()],
        ))
        .await
        .map_err(|_| {
            error(
                "service-unreachable",
                "the app service could not be reached",
            )
        })?;
        let ok = get(&response, "ok").as_bool().unwrap_or(false);
        let answer = if get(&response, "status").as_f64() == Some(204.0) {
            JsValue::UNDEFINED
        } else {
            awaited(call_method(&response, "json", &[]))
                .await
                .unwrap_or(JsValue::UNDEFINED)
        };
        if ok {
            return Ok(answer);
        }
        // Graph's error body: {"error": {"code", "message"}}.
        let graph = get(&answer, "error");
        let code = get_string(&graph, "code").unwrap_or_else(|| String::from("service-error"));
        let message = get_string(&graph, "message").unwrap_or_default();
        let refused = error(&code, &message);
        set(refused.unchecked_ref(), "status", &get(&response, "status"));
        Err(refused)
    }
}

/// The app's service worker registration once it has an active worker.
async fn ready_registration() -> Result<JsValue, JsValue> {
    let container = get(&get(&global(), "navigator"), "serviceWorker");
    let ready = get(&container, "ready");
    if !ready.is_object() {
        return Err(error(
            "push-unavailable",
            "this browser has no service workers",
        ));
    }
    awaited(Ok(ready)).await
}

/// `target[name](...args)`, a throw as an error.
fn call_method(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let method = get(target, name);
    let method = method
        .dyn_ref::<Function>()
        .ok_or_else(|| error("push-unavailable", "a browser API is missing"))?;
    Reflect::apply(method, target, &args.iter().collect::<Array>())
}

/// Awaits a value that may be a promise.
async fn awaited(value: Result<JsValue, JsValue>) -> Result<JsValue, JsValue> {
    settled(Promise::resolve(&value?)).await
}

fn encode_uri_component(text: &str) -> String {
    String::from(js_sys::encode_uri_component(text))
}
