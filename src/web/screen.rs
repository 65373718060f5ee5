//! The app's notifications on screen: read once per event, swept, and shown.
//!
//! Between the core's [`Display`] and the browser's `Notification`: the options passed to
//! `showNotification`, and what later events read back from a shown notification's `data`.

use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use js_sys::Promise;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Notification, NotificationOptions, ServiceWorkerRegistration};

use super::js::{listed, object};
use crate::core::display::STATUS_TAG;
use crate::core::json::{JsonRead, ObjectWriter};
use crate::core::{should_close, Display, Millis};

/// The member of `data` that marks a notification as shown by usernotify.
const DATA_KEY: &str = "usernotify";

/// What usernotify remembers on a notification it showed.
pub struct Shown {
    pub notification: Notification,
    pub tag: String,
    /// The newest entry's key: what a click activates.
    pub key: String,
    /// Every key it counts, oldest first: what the user's close dismisses.
    pub members: Vec<String>,
    pub url: Option<String>,
    pub close_at: Option<Millis>,
    pub expiration: Option<Millis>,
}

impl Shown {
    /// Reads a shown notification; `None` for one usernotify did not show (an app's own).
    pub fn read(notification: Notification) -> Option<Shown> {
        let data = notification.data().member(DATA_KEY)?;
        let text = |name: &str| data.member(name)?.as_string();
        let millis = |name: &str| Some(data.member(name)?.as_f64()? as Millis);
        Some(Shown {
            tag: notification.tag().unwrap_or_default(),
            key: text("key").unwrap_or_default(),
            members: data
                .member("members")
                .map(|list| list.strings())
                .unwrap_or_default(),
            url: text("url"),
            close_at: millis("closeAt"),
            expiration: millis("expiration"),
            notification,
        })
    }

    /// The URL of the button `action`, when it has one.
    pub fn action_url(&self, action: &str) -> Option<String> {
        let data = self.notification.data().member(DATA_KEY)?;
        data.member("rich")?
            .member("urls")?
            .member(action)?
            .as_string()
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
    pub async fn swept(reading: JsFuture, now: Millis) -> Screen {
        let mut screen = Screen {
            ours: Vec::new(),
            statuses: Vec::new(),
            count: 0,
        };
        for notification in listed::<Notification>(reading.await) {
            if notification.tag().as_deref() == Some(STATUS_TAG) {
                screen.statuses.push(notification.clone());
            }
            match Shown::read(notification) {
                Some(shown) if should_close(shown.close_at, shown.expiration, now) => {
                    close_here(&shown);
                }
                Some(shown) => {
                    // WebKit (2.50) replaces a notification by one with its tag on the
                    // desktop only, and keeps listing the old one (earlier: the list is in
                    // the order shown), which would count a group twice with stale members.
                    match screen
                        .ours
                        .iter()
                        .position(|earlier| earlier.tag == shown.tag)
                    {
                        Some(at) => screen.ours.remove(at).notification.close(),
                        None => screen.count += 1,
                    }
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

    /// Whether one of usernotify's notifications is shown under `tag`.
    pub fn shows(&self, tag: &str) -> bool {
        self.ours.iter().any(|shown| shown.tag == tag)
    }

    /// Leaves out the notifications under `closed`: `close()` returns before the browser
    /// takes a notification away (Firefox lists it a while longer), and one this push
    /// closed must not count as visible.
    pub fn without(mut self, closed: &[String]) -> Screen {
        let before = self.ours.len();
        self.ours.retain(|shown| !closed.contains(&shown.tag));
        self.count = self.count.saturating_sub(before - self.ours.len());
        self
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

thread_local! {
    /// The notifications this worker closed itself, by tag and timestamp. Firefox fires
    /// `notificationclose` for those too (Chromium only for the user's), and the worker's
    /// own close is not the user's dismissal. A few are enough: the event follows the close.
    static CLOSED_HERE: RefCell<Vec<(String, f64)>> = const { RefCell::new(Vec::new()) };
}
const CLOSED_HERE_KEPT: usize = 8;

/// Closes one of usernotify's notifications, remembering that the worker did.
pub fn close_here(shown: &Shown) {
    CLOSED_HERE.with(|closed| {
        if let Ok(mut closed) = closed.try_borrow_mut() {
            if closed.len() >= CLOSED_HERE_KEPT {
                closed.remove(0);
            }
            closed.push((shown.tag.clone(), shown.notification.timestamp()));
        }
    });
    shown.notification.close();
}

/// Whether the worker closed `shown` itself ([`close_here`]); forgotten once asked.
pub fn closed_here(shown: &Shown) -> bool {
    forget(&shown.tag, Some(shown.notification.timestamp()))
}

/// Forgets the worker's own closes under `tag`: of the notification with `stamp`, or all of
/// them (`None`: a notification was shown under `tag`, and its close will be the user's).
/// WebKit fires no close event for the worker's own close, which would have consumed the
/// record, and has no `timestamp` to tell two notifications of a tag apart, so a stale
/// record made the user's close of a group's next notification look like the worker's.
/// Whether one was remembered.
fn forget(tag: &str, stamp: Option<f64>) -> bool {
    CLOSED_HERE.with(|closed| {
        let Ok(mut closed) = closed.try_borrow_mut() else {
            return false;
        };
        let before = closed.len();
        // Bitwise: Firefox gives no `timestamp` (NaN), and fires the event for every close
        // of the worker's, so the tag alone is enough there.
        closed.retain(|(closed_tag, at)| {
            !(closed_tag == tag && stamp.is_none_or(|stamp| at.to_bits() == stamp.to_bits()))
        });
        closed.len() != before
    })
}

/// One of `NotificationOptions`' typed setters of a string.
type Setter = fn(&NotificationOptions, &str);

/// Shows `display`; settles once the browser has it on screen. `replacing`: something was
/// on screen under its tag, which the new one replaces; the screen is then read again, so
/// that what WebKit still lists under the tag goes ([`Screen::swept`]).
pub async fn show(
    registration: &ServiceWorkerRegistration,
    display: &Display,
    replacing: bool,
) -> Result<(), JsValue> {
    let options = NotificationOptions::new();
    options.set_body(&display.body);
    options.set_tag(&display.tag);
    options.set_timestamp(display.timestamp as f64);
    options.set_require_interaction(display.require_interaction);
    options.set_silent(Some(display.silent));
    if display.renotify {
        options.set_renotify(true);
    }
    // Pictures and buttons, as the feed keeps them; the browser reads each action's
    // `action` and `title`, and `data` keeps their URLs.
    let rich = object(display.rich.as_deref().unwrap_or("{}"));
    let pictures: [(&str, Setter); 3] = [
        ("icon", NotificationOptions::set_icon),
        ("image", NotificationOptions::set_image),
        ("badge", NotificationOptions::set_badge),
    ];
    for (name, set) in pictures {
        if let Some(url) = rich.member(name).and_then(|url| url.as_string()) {
            set(&options, &url);
        }
    }
    if let Some(actions) = rich.member("actions") {
        options.set_actions(&actions);
    }
    options.set_data(&data_of(display));
    let shown = registration.show_notification_with_options(&display.title, &options)?;
    JsFuture::from(shown).await?;
    forget(&display.tag, None);
    if replacing {
        // What is still listed under the tag goes now (WebKit: see Screen::swept).
        Screen::sweep(registration, display.timestamp).await;
    }
    Ok(())
}

/// What later events read back ([`Shown::read`], [`Shown::action_url`]), under
/// `data.usernotify`.
fn data_of(display: &Display) -> JsValue {
    let data = ObjectWriter::default()
        .str("key", &display.key)
        .strs("members", &display.members)
        .int("count", display.count() as i64)
        .opt_str("groupName", display.group_name.as_deref())
        .opt_str("url", display.url.as_deref())
        .opt_int("closeAt", display.close_at)
        .opt_int("expiration", display.expiration)
        .raw("rich", display.rich.as_deref().unwrap_or("null"))
        .end();
    object(&ObjectWriter::default().raw(DATA_KEY, &data).end())
}

/// Every notification of this registration on screen now.
pub async fn on_screen(registration: &ServiceWorkerRegistration) -> Vec<Notification> {
    listed(reading(registration).await)
}

/// `getNotifications()`, started now and awaited later.
pub fn reading(registration: &ServiceWorkerRegistration) -> JsFuture {
    let listed = registration
        .get_notifications()
        .unwrap_or_else(|error| Promise::reject(&error));
    JsFuture::from(listed)
}
