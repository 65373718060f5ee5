//! The app's notifications on screen: read once per event, swept, and shown.
//!
//! Between the core's [`Display`] and the browser's `Notification`: the options passed to
//! `showNotification`, and what later events read back from a shown notification's `data`.

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, Object};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Notification, NotificationOptions, ServiceWorkerRegistration};

use super::js::{get, get_millis, get_string, set, settle, string_list, strings};
use super::task::{Settled, WorkerCell};
use crate::core::display::STATUS_TAG;
use crate::core::{should_close, Display, Millis};

/// The member of `data` that marks a notification as shown by usernotify.
const DATA_KEY: &str = "usernotify";

/// What usernotify remembers on a notification it showed.
pub struct Shown {
    pub notification: Notification,
    pub tag: String,
    pub key: String,
    pub members: Vec<String>,
    pub url: Option<String>,
    pub close_at: Option<Millis>,
    pub expiration: Option<Millis>,
}

impl Shown {
    /// Reads a shown notification; `None` for one usernotify did not show (an app's own).
    pub fn read(notification: Notification) -> Option<Shown> {
        let data = get(&notification.data(), DATA_KEY);
        if !data.is_object() {
            return None;
        }
        Some(Shown {
            tag: notification.tag().unwrap_or_default(),
            key: get_string(&data, "key").unwrap_or_default(),
            members: string_list(&get(&data, "members")),
            url: get_string(&data, "url"),
            close_at: get_millis(&data, "closeAt"),
            expiration: get_millis(&data, "expiration"),
            notification,
        })
    }
}

/// The screen after a sweep: what is still shown, read with a single `getNotifications`.
pub struct Screen {
    /// usernotify's own notifications still on screen.
    pub ours: Vec<Shown>,
    /// Status notifications, known by their tag alone: the shell shows one without data
    /// when the module cannot load.
    statuses: Vec<Notification>,
    /// Every notification of the app still on screen, the app's own included.
    pub count: usize,
}

impl Screen {
    /// Reads the screen and closes what is due (display time over, or expired): swept on
    /// every worker event, since a stopped worker runs no timers.
    pub async fn sweep(registration: &ServiceWorkerRegistration, now: Millis) -> Screen {
        Screen::swept(reading(registration), now).await
    }

    /// [`Screen::sweep`] of a `getNotifications` started earlier ([`reading`]), so that
    /// reading the screen overlaps other work.
    pub async fn swept(reading: Settled, now: Millis) -> Screen {
        let mut screen = Screen {
            ours: Vec::new(),
            statuses: Vec::new(),
            count: 0,
        };
        for notification in notifications(reading.await) {
            if notification.tag().as_deref() == Some(STATUS_TAG) {
                screen.statuses.push(notification.clone());
            }
            match Shown::read(notification) {
                Some(shown) if should_close(shown.close_at, shown.expiration, now) => {
                    close_here(&shown);
                }
                Some(shown) => {
                    screen.count += 1;
                    screen.ours.push(shown);
                }
                None => screen.count += 1,
            }
        }
        screen
    }

    /// The keys a group's (or an item's) notification counts now.
    pub fn members_of(&self, tag: &str) -> &[String] {
        self.ours
            .iter()
            .find(|shown| shown.tag == tag)
            .map_or(&[], |shown| shown.members.as_slice())
    }

    /// Closes usernotify's notifications under `tag`.
    pub fn close_tagged(&self, tag: &str) {
        for shown in self.ours.iter().filter(|shown| shown.tag == tag) {
            close_here(shown);
        }
    }

    /// The status notification only stands in for real ones; it goes when one is shown.
    pub fn close_status(&self) {
        for status in &self.statuses {
            status.close();
        }
    }
}

/// The notifications this worker closed itself, by tag and timestamp. Firefox fires
/// `notificationclose` for those too (Chromium only for the user's), and the worker's own
/// close is not the user's dismissal. A few are enough: the event follows the close.
static CLOSED_HERE: WorkerCell<Vec<(String, f64)>> = WorkerCell::new();
const CLOSED_HERE_KEPT: usize = 8;

/// Closes one of usernotify's notifications, remembering that the worker did.
pub fn close_here(shown: &Shown) {
    let mut closed = CLOSED_HERE.0.take().unwrap_or_default();
    if closed.len() >= CLOSED_HERE_KEPT {
        closed.remove(0);
    }
    closed.push((shown.tag.clone(), shown.notification.timestamp()));
    CLOSED_HERE.0.set(Some(closed));
    shown.notification.close();
}

/// Whether the worker closed `shown` itself ([`close_here`]); forgotten once asked.
pub fn closed_here(shown: &Shown) -> bool {
    let mut closed = CLOSED_HERE.0.take().unwrap_or_default();
    let before = closed.len();
    let stamp = shown.notification.timestamp();
    // Bitwise: Firefox has no `timestamp` (NaN), and fires the event for every close of
    // the worker's, so the tag alone is enough there; Chromium never fires it for them.
    closed.retain(|(tag, at)| !(*tag == shown.tag && at.to_bits() == stamp.to_bits()));
    let found = closed.len() != before;
    CLOSED_HERE.0.set(Some(closed));
    found
}

/// Shows `display`; the promise settles once the browser has it on screen.
pub async fn show(
    registration: &ServiceWorkerRegistration,
    display: &Display,
) -> Result<(), JsValue> {
    // NotificationOptions is a dictionary: a plain object set member by member costs one
    // import, where web-sys's typed setters cost one each.
    let options = Object::new();
    set(&options, "body", &JsValue::from_str(&display.body));
    set(&options, "tag", &JsValue::from_str(&display.tag));
    set(
        &options,
        "timestamp",
        &JsValue::from_f64(display.timestamp as f64),
    );
    set(
        &options,
        "requireInteraction",
        &JsValue::from_bool(display.require_interaction),
    );
    set(&options, "silent", &JsValue::from_bool(display.silent));
    if display.renotify {
        set(&options, "renotify", &JsValue::TRUE);
    }
    set(&options, "data", &data_of(display));
    let options = options.unchecked_ref::<NotificationOptions>();
    settle(registration.show_notification_with_options(&display.title, options)).await?;
    Ok(())
}

fn data_of(display: &Display) -> JsValue {
    let optional_string =
        |value: &Option<String>| value.as_deref().map_or(JsValue::NULL, JsValue::from_str);
    let optional_millis =
        |value: Option<Millis>| value.map_or(JsValue::NULL, |at| JsValue::from_f64(at as f64));
    let data = Object::new();
    set(&data, "key", &JsValue::from_str(&display.key));
    set(&data, "members", &strings(&display.members));
    set(&data, "count", &JsValue::from_f64(display.count() as f64));
    set(&data, "groupName", &optional_string(&display.group_name));
    set(&data, "url", &optional_string(&display.url));
    set(&data, "closeAt", &optional_millis(display.close_at));
    set(&data, "expiration", &optional_millis(display.expiration));
    let outer = Object::new();
    set(&outer, DATA_KEY, &data);
    outer.into()
}

/// Every notification of this registration on screen now.
pub async fn on_screen(registration: &ServiceWorkerRegistration) -> Vec<Notification> {
    notifications(reading(registration).await)
}

/// `getNotifications()`, started now and awaited later.
pub fn reading(registration: &ServiceWorkerRegistration) -> Settled {
    settle(registration.get_notifications())
}

fn notifications(list: Result<JsValue, JsValue>) -> Vec<Notification> {
    match list {
        Ok(list) if Array::is_array(&list) => Array::from(&list)
            .iter()
            .map(|item| item.unchecked_into::<Notification>())
            .collect(),
        _ => Vec::new(),
    }
}
