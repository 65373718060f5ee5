//! Subscribing this browser with the app service, one path for the page and the worker: the
//! service's VAPID key, the browser's `PushManager`, and the registration that names the
//! subscription with a UNSID (the `id` the app service then sends in `X-UNS`). The
//! registration is kept in the feed database ([`crate::core::record::Registration`]), so
//! that later calls, and the worker on `pushsubscriptionchange`, know it. Local changes the
//! service has not taken yet wait in an outbox there too.

use alloc::string::String;
use alloc::vec::Vec;

use gloo_net::http::Method;
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    PushManager, PushSubscription, PushSubscriptionOptionsInit, ServiceWorkerRegistration, Window,
};

use super::js::{for_pages, object, stringify, warn, worker_scope};
use super::service::{segment, Service, ServiceError};
use super::store::{Applied, Feed, StoreError};
use crate::core::feed::{FeedEntry, ReadState, UserActionState};
use crate::core::json::{push_int, JsonRead, ObjectWriter};
use crate::core::preferences::{InvalidPreferences, Preferences};
use crate::core::record::{
    registration_of, registration_record, Registration, OUTBOX, PREFERENCES, REGISTRATION,
};
use crate::core::sync::StateChange;
use crate::core::Millis;

/// Where and as whom this browser registers (`subscribe()`'s options).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeOptions {
    #[serde(default)]
    pub service_url: String,
    #[serde(default)]
    pub access_token: String,
    #[serde(default)]
    pub target_host_name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// How long to wait for the browser's push service, in ms.
    #[serde(default)]
    pub push_timeout: Option<f64>,
}

/// How long `PushManager.subscribe` may take before subscribing gives up, in ms: the
/// browser's push service answers in a second or two, or (out of reach behind a firewall,
/// or a browser without one) never.
pub const PUSH_TIMEOUT: i32 = 30_000;

/// Why subscribing, renewing or syncing failed; `code()` is the stable name pages see.
#[derive(Debug)]
pub enum SubscriptionError {
    Store(StoreError),
    Service(ServiceError),
    /// `subscribe()` without a service URL, token or host name, or with a service URL that is
    /// not an absolute http(s) URL: which one, what was expected, and how to fix it.
    InvalidOptions(String),
    /// The app's service worker is registered but cannot run (its wasm does not load, it
    /// failed to install): the worker's own reason.
    WorkerFailed(String),
    /// No service worker, no push, or the browser refused a subscription (no permission): why,
    /// and what the user or the app can do about it.
    PushUnavailable(String),
    /// `sync()` before `subscribe()`.
    NotSubscribed,
    /// `setPreferences()` with preferences the core refuses (its stable code).
    InvalidPreferences(InvalidPreferences),
}

impl SubscriptionError {
    pub fn code(&self) -> &str {
        match self {
            SubscriptionError::Store(error) => error.code(),
            SubscriptionError::Service(error) => &error.code,
            SubscriptionError::InvalidOptions(_) => "invalid-options",
            SubscriptionError::WorkerFailed(_) => "worker-failed",
            SubscriptionError::PushUnavailable(_) => "push-unavailable",
            SubscriptionError::NotSubscribed => "not-subscribed",
            SubscriptionError::InvalidPreferences(invalid) => invalid.code(),
        }
    }

    /// As the page API rejects with it: an `Error` named by its code.
    pub fn rejection(&self) -> JsValue {
        match self {
            SubscriptionError::Store(error) => error.rejection(),
            SubscriptionError::Service(error) => error.rejection(),
            SubscriptionError::InvalidOptions(why) => super::js::error(self.code(), why),
            SubscriptionError::PushUnavailable(why) | SubscriptionError::WorkerFailed(why) => {
                super::js::error(self.code(), why)
            }
            SubscriptionError::NotSubscribed => {
                super::js::error(self.code(), "this needs subscribe() first")
            }
            SubscriptionError::InvalidPreferences(invalid) => {
                super::js::error(self.code(), &invalid.message())
            }
        }
    }
}

impl From<StoreError> for SubscriptionError {
    fn from(error: StoreError) -> SubscriptionError {
        SubscriptionError::Store(error)
    }
}

impl From<ServiceError> for SubscriptionError {
    fn from(error: ServiceError) -> SubscriptionError {
        SubscriptionError::Service(error)
    }
}

impl From<SubscriptionError> for JsValue {
    fn from(error: SubscriptionError) -> JsValue {
        error.rejection()
    }
}

// What `push-unavailable` says, for each reason: what the user or the app can do. The
// worker's renewal reaches them too, where for_pages leaves them out; a page's subscribe()
// and unsubscribe() also say why the page has no worker (`worker_status`).
const NO_PUSH: &str = for_pages(
    "this browser offers no push messaging here (a private window; on iOS and \
     iPadOS, only a web app added to the Home Screen)",
);
const BLOCKED: &str = for_pages(
    "notifications are blocked for this site: the user can allow them in the \
     browser's site settings (private windows block them)",
);
const NOT_ALLOWED_YET: &str = for_pages(
    "the user has not allowed notifications: call \
     Notification.requestPermission() from a click, then subscribe()",
);
const NO_SUBSCRIPTION: &str = for_pages("the browser gave no push subscription");

fn push_unavailable(why: &str) -> SubscriptionError {
    SubscriptionError::PushUnavailable(String::from(why))
}

/// Why `PushManager.subscribe` refused, from the notification permission; with it granted,
/// the browser's own reason (its push service could not be reached, say). The worker, which
/// only logs it, says nothing more than the code.
fn refused(failure: &JsValue) -> SubscriptionError {
    if !cfg!(feature = "page") {
        return push_unavailable("");
    }
    match not_allowed() {
        Some(why) => why,
        None => {
            // A DOMException, whose prototype is Error's.
            let failure = failure.dyn_ref::<js_sys::Error>();
            let text = |part: fn(&js_sys::Error) -> js_sys::JsString| {
                failure.map(part).map(String::from).unwrap_or_default()
            };
            let mut why = String::from("the browser could not subscribe to its push service (");
            why.push_str(&text(js_sys::Error::name));
            why.push_str(": ");
            why.push_str(&text(js_sys::Error::message));
            why.push_str("); private windows and browsers without a push service cannot subscribe");
            SubscriptionError::PushUnavailable(why)
        }
    }
}

/// `Notification.permission`, when the global has one.
fn notification_permission() -> Option<String> {
    // By name: a page may have no `Notification` at all (iOS Safari outside a Home Screen
    // app), where web-sys's static getter would throw.
    let global = js_sys::global();
    js_sys::Reflect::get(&global, &JsValue::from_str("Notification"))
        .and_then(|notification| {
            js_sys::Reflect::get(&notification, &JsValue::from_str("permission"))
        })
        .ok()
        .and_then(|permission| permission.as_string())
}

/// `push-unavailable` saying what the user can do when notifications are blocked or not
/// allowed yet; `None` once they are allowed (or the browser does not say).
pub fn not_allowed() -> Option<SubscriptionError> {
    match notification_permission().as_deref() {
        Some("denied") => Some(push_unavailable(BLOCKED)),
        Some("default") => Some(push_unavailable(NOT_ALLOWED_YET)),
        _ => None,
    }
}

/// Subscribes this browser to push with the service's VAPID key and registers it with the
/// app service; the registration, with its UNSID, is kept.
pub async fn subscribe(
    feed: &Feed,
    options: SubscribeOptions,
) -> Result<Registration, SubscriptionError> {
    // Every option is checked before anything is fetched.
    let required = |value: &str, missing: &str| match value.trim() {
        "" => Err(SubscriptionError::InvalidOptions(String::from(missing))),
        value => Ok(String::from(value)),
    };
    let service_url = required(
        &options.service_url,
        "subscribe() needs serviceUrl: the app service's base URL, e.g. https://notify.example.com",
    )?;
    if !is_http_url(&service_url) {
        let mut why = String::from(
            "subscribe() needs serviceUrl to be an absolute http(s) URL, the app service's base \
             URL, e.g. https://notify.example.com or http://127.0.0.1:8080; got ",
        );
        why.push_str(&stringify(&JsValue::from_str(&service_url)).unwrap_or_default());
        return Err(SubscriptionError::InvalidOptions(why));
    }
    let service = Service {
        url: String::from(service_url.trim_end_matches('/')),
        token: required(
            &options.access_token,
            "subscribe() needs accessToken: a bearer token of the app service for the signed-in user",
        )?,
    };
    let target_host_name = required(
        &options.target_host_name,
        "subscribe() needs targetHostName: the app's host name, e.g. location.hostname",
    )?;
    let push_timeout =
        match options.push_timeout {
            None => PUSH_TIMEOUT,
            Some(ms) if (1.0..=600_000.0).contains(&ms) => ms as i32,
            Some(_) => return Err(SubscriptionError::InvalidOptions(String::from(
                "subscribe()'s pushTimeout is how long to wait for the browser's push service, \
                 in ms: from 1 to 600000 (default 30000)",
            ))),
        };
    // The worker first: one that cannot run says why before the service is asked anything.
    let registration = ready_registration().await?;
    let key = service.call(Method::GET, "/vapidPublicKey", None).await?;
    let public_key = key
        .member("publicKey")
        .and_then(|key| key.as_string())
        .ok_or_else(|| ServiceError {
            code: String::from("service-error"),
            message: String::from("the app service sent no VAPID key"),
            status: 200,
        })?;
    let subscription =
        push_subscribe(&push_manager(&registration)?, &public_key, push_timeout).await?;
    let kept = Registration {
        service_url: service.url,
        access_token: service.token,
        target_host_name,
        display_name: options.display_name.unwrap_or_default(),
        public_key,
        id: None,
        endpoint: None,
    };
    register(feed, kept, &subscription).await
}

/// An absolute `http:` or `https:` URL, as the browser parses it.
fn is_http_url(text: &str) -> bool {
    web_sys::Url::new(text).is_ok_and(|url| matches!(url.protocol().as_str(), "http:" | "https:"))
}

/// This browser's kept registration, if it subscribed.
pub async fn registered(feed: &Feed) -> Result<Option<Registration>, StoreError> {
    Ok(registration_of(&feed.setting(REGISTRATION).await?))
}

/// On `open()`, and on the worker's `pushsubscriptionchange`: when the browser's push
/// subscription is no longer the registered one (the push service rotated it, or it was
/// lost), registers the current one, subscribing again with the kept key when there is
/// none. The old registration stays: its UNSID still names the user, so the app service's
/// posts under it reach the new subscription too, and the service drops the old endpoint
/// once its push service answers 404 or 410.
pub async fn keep_registered(feed: &Feed) -> Result<(), SubscriptionError> {
    let Some(kept) = registered(feed).await? else {
        return Ok(());
    };
    let Some(registration) = current_registration().await? else {
        return Ok(());
    };
    let push_manager = push_manager(&registration)?;
    let subscription = match current_subscription(&push_manager).await? {
        Some(subscription) => subscription,
        None => push_subscribe(&push_manager, &kept.public_key, PUSH_TIMEOUT).await?,
    };
    if Some(subscription.endpoint()) == kept.endpoint {
        return Ok(());
    }
    register(feed, kept, &subscription).await.map(|_| ())
}

/// The worker's `pushsubscriptionchange`: registers the new subscription; when none can be
/// had any more (the permission was revoked), drops the registration at the service.
pub async fn renew(feed: &Feed) {
    match keep_registered(feed).await {
        Ok(()) => {}
        Err(SubscriptionError::PushUnavailable(_)) => {
            if let Err(failure) = forget(feed).await {
                warn("registration-not-dropped", &failure.rejection());
            }
        }
        Err(failure) => warn("registration-not-renewed", &failure.rejection()),
    }
}

/// Unregisters this browser from the app service and unsubscribes it from push.
pub async fn unsubscribe(feed: &Feed) -> Result<(), SubscriptionError> {
    let registration = ready_registration().await?;
    if let Some(subscription) = current_subscription(&push_manager(&registration)?).await? {
        let unsubscribed = subscription.unsubscribe().map_err(|_| unavailable())?;
        JsFuture::from(unsubscribed)
            .await
            .map_err(|_| unavailable())?;
    }
    forget(feed).await
}

/// Drops this browser's registration at the app service (one already gone there is fine)
/// and here.
pub async fn forget(feed: &Feed) -> Result<(), SubscriptionError> {
    if let Some(kept) = registered(feed).await? {
        if let Some(id) = &kept.id {
            let mut path = String::from("/me/notificationSubscriptions/");
            path.push_str(&segment(id));
            match service_of(&kept).call(Method::DELETE, &path, None).await {
                Err(refused) if refused.code != "not-found" => return Err(refused.into()),
                _ => {}
            }
        }
    }
    feed.set_setting(REGISTRATION, None).await?;
    Ok(())
}

/// After a local change of `entry` (one the app service sent): tells the service, when
/// subscribed. When it cannot be reached (or fails), the change waits in the outbox for
/// the next `sync()`; a refusal (the service no longer has it) is dropped.
pub async fn send_change(feed: &Feed, entry: &FeedEntry, deleted: bool) {
    let Some(change) = StateChange::of(entry, deleted) else {
        return;
    };
    let Ok(Some(kept)) = registered(feed).await else {
        return;
    };
    if kept.id.is_none() {
        return;
    }
    if let Err(failure) = send(&service_of(&kept), &change).await {
        if failure.is_retryable() {
            if let Err(error) = feed
                .append_setting(OUTBOX, &object(&change.to_json()))
                .await
            {
                error.warn();
            }
        }
    }
}

/// What `sync()` did.
pub struct Synced {
    /// Changes from the outbox the service took.
    pub sent: u32,
    /// Entries whose state the service's changed here, or deleted here because the service
    /// no longer has them.
    pub applied: Vec<Applied>,
}

/// Sends local changes the service has not taken yet, in order, then adopts the service's
/// state for every notification it sent here: read or dismissed on another device is so
/// here too, deleted there is deleted here (and kept deleted).
pub async fn sync(feed: &Feed, now: Millis) -> Result<Synced, SubscriptionError> {
    let kept = registered(feed)
        .await?
        .filter(|kept| kept.id.is_some())
        .ok_or(SubscriptionError::NotSubscribed)?;
    let service = service_of(&kept);

    // 1. What this browser changed while the service could not be reached, in order.
    let sent = send_outbox(feed, &service).await?;

    // 2. The service's state wins for what it sent here: every page of the feed, following
    // each `@odata.nextLink` as the service gave it.
    let mut listed = service
        .call(Method::GET, "/me/notifications?$top=500", None)
        .await?;
    let mut there = Vec::new();
    loop {
        there.extend(
            listed
                .member("value")
                .map(|value| value.items())
                .unwrap_or_default(),
        );
        let Some(next) = listed
            .member("@odata.nextLink")
            .and_then(|link| link.as_string())
        else {
            break;
        };
        listed = service.follow(&next).await?;
    }
    let mut changes = Vec::new();
    for entry in feed.all().await? {
        let Some(resource_id) = entry.id.as_deref() else {
            continue;
        };
        if entry.is_expired(now) {
            continue;
        }
        let found = there.iter().find(|item| {
            item.member("id").and_then(|id| id.as_string()).as_deref() == Some(resource_id)
        });
        // Not listed: deleted on another device (or by the app).
        let state = found.map(|found| {
            let state = |name: &str| found.member(name).and_then(|state| state.as_string());
            (
                state("readState")
                    .and_then(|state| ReadState::parse(&state).ok())
                    .unwrap_or(entry.read_state),
                state("userActionState")
                    .and_then(|state| UserActionState::parse(&state).ok())
                    .unwrap_or(entry.user_action_state),
            )
        });
        if state != Some((entry.read_state, entry.user_action_state)) {
            changes.push(StateChange {
                id: resource_id.to_owned(),
                state,
            });
        }
    }
    // In one transaction, as changes from the stream or a push are.
    let applied = feed.apply(&changes, now).await?;
    Ok(Synced { sent, applied })
}

/// Sends the changes waiting in the outbox, in order; how many the service took. What it
/// could not take for want of the service stays, in order, for the next time.
pub async fn send_outbox(feed: &Feed, service: &Service) -> Result<u32, SubscriptionError> {
    let waiting: Vec<StateChange> = feed
        .setting(OUTBOX)
        .await?
        .items()
        .iter()
        .filter_map(StateChange::read)
        .collect();
    if waiting.is_empty() {
        return Ok(0);
    }
    let mut sent = 0;
    for (done, change) in waiting.iter().enumerate() {
        match send(service, change).await {
            Ok(()) => sent += 1,
            Err(failure) if failure.is_retryable() => {
                let rest: js_sys::Array = waiting
                    .iter()
                    .skip(done)
                    .map(|change| object(&change.to_json()))
                    .collect();
                feed.set_setting(OUTBOX, Some(&rest)).await?;
                return Err(failure.into());
            }
            // Refused (gone at the service): nothing left to send.
            Err(_) => {}
        }
    }
    feed.set_setting(OUTBOX, None).await?;
    Ok(sent)
}

/// The app service as this browser registered with it; `not-subscribed` before.
pub async fn registered_service(feed: &Feed) -> Result<Service, SubscriptionError> {
    registered(feed)
        .await?
        .filter(|kept| kept.id.is_some())
        .map(|kept| service_of(&kept))
        .ok_or(SubscriptionError::NotSubscribed)
}

/// The user's preferences from the service, kept for the worker.
pub async fn fetch_preferences(
    feed: &Feed,
    service: &Service,
) -> Result<Preferences, SubscriptionError> {
    let answer = service
        .call(Method::GET, "/me/notificationPreferences", None)
        .await?;
    keep_preferences(feed, &answer).await
}

/// Changes the user's preferences at the service (`patch`: the members to replace), and
/// keeps what it answers for the worker. Checked first by the core, as the service checks
/// it: a refusal names the same stable code, and needs no network.
pub async fn change_preferences(
    feed: &Feed,
    patch: &JsValue,
) -> Result<Preferences, SubscriptionError> {
    Preferences::default()
        .patched(patch)
        .map_err(SubscriptionError::InvalidPreferences)?;
    let service = registered_service(feed).await?;
    let body = stringify(patch).unwrap_or_default();
    let answer = service
        .call(Method::PATCH, "/me/notificationPreferences", Some(&body))
        .await?;
    keep_preferences(feed, &answer).await
}

async fn keep_preferences(feed: &Feed, answer: &JsValue) -> Result<Preferences, SubscriptionError> {
    let preferences = Preferences::read(answer).map_err(|_| ServiceError {
        code: String::from("service-error"),
        message: String::from("the app service answered preferences that do not read"),
        status: 200,
    })?;
    feed.set_setting(PREFERENCES, Some(&object(&preferences.to_json())))
        .await?;
    Ok(preferences)
}

/// One local change: its state as a `PATCH`, or a `DELETE`, of the service's notification.
async fn send(service: &Service, change: &StateChange) -> Result<(), ServiceError> {
    let mut path = String::from("/me/notifications/");
    path.push_str(&segment(&change.id));
    match change.patch_body() {
        Some(body) => service.call(Method::PATCH, &path, Some(&body)).await,
        None => service.call(Method::DELETE, &path, None).await,
    }
    .map(|_| ())
}

fn service_of(kept: &Registration) -> Service {
    Service {
        url: kept.service_url.clone(),
        token: kept.access_token.clone(),
    }
}

/// Registers `subscription` with the service and keeps the registration with its new
/// UNSID and endpoint.
async fn register(
    feed: &Feed,
    mut kept: Registration,
    subscription: &PushSubscription,
) -> Result<Registration, SubscriptionError> {
    let json = subscription
        .to_json()
        .ok()
        .and_then(|json| stringify(&json))
        .ok_or_else(|| push_unavailable(NO_SUBSCRIPTION))?;
    let body = ObjectWriter::default()
        .raw("pushSubscription", &json)
        .str("targetHostName", &kept.target_host_name)
        .str("displayName", &kept.display_name)
        .end();
    let registered = service_of(&kept)
        .call(Method::POST, "/me/notificationSubscriptions", Some(&body))
        .await?;
    let id = registered
        .member("id")
        .and_then(|id| id.as_string())
        .ok_or_else(|| ServiceError {
            code: String::from("service-error"),
            message: String::from("the app service sent no subscription id"),
            status: 201,
        })?;
    kept.id = Some(id);
    kept.endpoint = Some(subscription.endpoint());
    feed.set_setting(REGISTRATION, Some(&object(&registration_record(&kept))))
        .await?;
    Ok(kept)
}

/// `PushManager.subscribe` with the service's key, visible pushes only; given up after
/// `timeout` ms, saying which push service did not answer and why that may be.
async fn push_subscribe(
    push_manager: &PushManager,
    public_key: &str,
    timeout: i32,
) -> Result<PushSubscription, SubscriptionError> {
    let options = PushSubscriptionOptionsInit::new();
    options.set_user_visible_only(true);
    options.set_application_server_key(&JsValue::from_str(public_key));
    let subscribing = push_manager
        .subscribe_with_options(&options)
        .map_err(|failure| refused(&failure))?;
    let subscription = super::js::within(&subscribing, timeout)
        .await
        .map_err(|failure| refused(&failure))?
        .ok_or_else(|| push_unavailable(&no_answer(timeout)))?;
    // Checked by shape, not by class: what a `PushManager` resolves with is the
    // subscription, whatever its prototype.
    match subscription.is_object() {
        true => Ok(subscription.unchecked_into()),
        false => Err(push_unavailable(NO_SUBSCRIPTION)),
    }
}

/// Why `PushManager.subscribe` did not answer within `timeout` ms: the browser's push
/// service, by name, and what keeps it out of reach. Only a page says it.
fn no_answer(timeout: i32) -> String {
    if !cfg!(feature = "page") {
        return String::new();
    }
    let agent = js_sys::global()
        .dyn_into::<Window>()
        .ok()
        .and_then(|window| window.navigator().user_agent().ok())
        .unwrap_or_default();
    let service = if agent.contains("Firefox/") {
        "Mozilla's push service (push.services.mozilla.com)"
    } else if agent.contains("Edg/") {
        "Microsoft's push service (Windows Push Notification Services, *.notify.windows.com)"
    } else if agent.contains("Chrome/") || agent.contains("Chromium/") {
        "Google's push service (Firebase Cloud Messaging: fcm.googleapis.com, and mtalk.googleapis.com on port 5228)"
    } else if agent.contains("Safari/") {
        "Apple's push service (web.push.apple.com)"
    } else {
        "the browser's push service"
    };
    let mut why = String::from("the browser could not reach its push service: ");
    why.push_str(service);
    why.push_str(" did not answer within ");
    push_int(&mut why, i64::from(timeout / 1000));
    why.push_str(
        " s. A firewall or proxy may block it (office networks often do), the device may be \
         offline, or this browser has no working push service (Chromium builds without \
         Google's API keys have none); try another network or browser (subscribe()'s \
         pushTimeout sets how long to wait)",
    );
    why
}

/// The browser's push subscription, if it has one. Checked by shape, not by class, as
/// [`push_subscribe`] does.
async fn current_subscription(
    push_manager: &PushManager,
) -> Result<Option<PushSubscription>, SubscriptionError> {
    let asking = push_manager.get_subscription().map_err(|_| unavailable())?;
    let current = JsFuture::from(asking).await.map_err(|_| unavailable())?;
    Ok(current.is_object().then(|| current.unchecked_into()))
}

fn push_manager(
    registration: &ServiceWorkerRegistration,
) -> Result<PushManager, SubscriptionError> {
    registration.push_manager().map_err(|_| unavailable())
}

fn unavailable() -> SubscriptionError {
    push_unavailable(NO_PUSH)
}

/// The app's service worker registration once it has an active worker that runs (a page
/// asks it, and never waits for ever; the worker has its own).
async fn ready_registration() -> Result<ServiceWorkerRegistration, SubscriptionError> {
    if let Some(scope) = worker_scope() {
        return Ok(scope.registration());
    }
    #[cfg(feature = "page")]
    {
        use super::worker_status::{ready, WorkerProblem, NO_SERVICE_WORKERS, NO_WORKER};
        ready().await.map_err(|problem| match problem {
            WorkerProblem::NoServiceWorkers => push_unavailable(NO_SERVICE_WORKERS),
            WorkerProblem::NotRegistered => push_unavailable(NO_WORKER),
            failed @ WorkerProblem::Failed(_) => SubscriptionError::WorkerFailed(failed.message()),
        })
    }
    #[cfg(not(feature = "page"))]
    Err(unavailable())
}

/// The worker's own registration, else the page's, if any; never waits for a worker: a
/// page without one has nothing to check.
async fn current_registration() -> Result<Option<ServiceWorkerRegistration>, SubscriptionError> {
    if let Some(scope) = worker_scope() {
        return Ok(Some(scope.registration()));
    }
    let Some(container) = page_container() else {
        return Ok(None);
    };
    let registration = JsFuture::from(container.get_registration())
        .await
        .map_err(|_| unavailable())?;
    Ok(registration
        .is_object()
        .then(|| registration.unchecked_into()))
}

/// `navigator.serviceWorker` of a page; `None` where the browser has none (an insecure
/// origin, a private mode that hides it).
pub fn page_container() -> Option<web_sys::ServiceWorkerContainer> {
    let window = js_sys::global().dyn_into::<Window>().ok()?;
    let container = window.navigator().service_worker();
    (!JsValue::from(container.clone()).is_undefined()).then_some(container)
}
