//! What the worker puts on screen for a notification: tag, text, count and options.
//!
//! These are decisions, not effects: the worker reads what is visible, asks here, and calls
//! `showNotification` with the answer.

use super::json::push_int;
use super::notification::{is_expired, Notification, Priority};
use super::time::Millis;
use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// The one tag of the quiet notification left when a push brings nothing to show.
pub const STATUS_TAG: &str = "usernotify-status";
/// Tag prefix of a group's single visible notification.
pub const GROUP_TAG_PREFIX: &str = "usernotify-group:";
/// Tag prefix of an ungrouped notification's own visible notification.
pub const ITEM_TAG_PREFIX: &str = "usernotify:";

/// The quiet status notification's text: never the invalid data, never an error.
pub const STATUS_TITLE: &str = "Notifications";
pub const STATUS_BODY: &str = "You're all caught up.";
/// Title of a raw-only notification that nothing else showed.
pub const DEFAULT_RAW_TITLE: &str = "New notification";

/// Everything `showNotification` needs, plus what later events must know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Display {
    pub tag: String,
    pub title: String,
    pub body: String,
    /// High priority: stays until the user acts.
    pub require_interaction: bool,
    /// Low priority (and the status notification): no sound, no vibration.
    pub silent: bool,
    /// Alert again when a group gains a member, though the tag is reused.
    pub renotify: bool,
    pub timestamp: Millis,
    /// When the notification is closed on screen (`displayTimeToLive`).
    pub close_at: Option<Millis>,
    /// When it must disappear whatever happens (`expirationDateTime`).
    pub expiration: Option<Millis>,
    /// The newest notification's key (what a click activates).
    pub key: String,
    pub group_name: Option<String>,
    pub url: Option<String>,
    /// Keys counted by this notification, oldest first; one for an ungrouped notification.
    pub members: Vec<String>,
}

impl Display {
    pub fn count(&self) -> usize {
        self.members.len()
    }
}

/// The tag a notification is shown under: its group's, else its own.
pub fn tag_for(notification: &Notification) -> String {
    match &notification.group_name {
        Some(group) => prefixed(GROUP_TAG_PREFIX, group),
        None => prefixed(ITEM_TAG_PREFIX, &notification.key()),
    }
}

/// Plans the visible notification for a valid, visual `notification` shown at `now`.
///
/// `group_members` are the keys the group's notification already counts (unread ones,
/// oldest first); they are ignored for an ungrouped notification. The same key again
/// replaces and never adds to the count.
pub fn plan_visual(
    notification: &Notification,
    group_members: &[String],
    now: Millis,
) -> Option<Display> {
    let visual = notification.visual.as_ref()?;
    let key = notification.key();
    let mut members: Vec<String> = match notification.group_name {
        Some(_) => group_members
            .iter()
            .filter(|member| **member != key)
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    let is_new_member = notification.group_name.is_some() && members.len() == group_members.len();
    members.push(key.clone());
    let title = titled_with_count(&visual.title, members.len());
    let silent = notification.priority == Priority::Low;
    Some(Display {
        tag: tag_for(notification),
        title,
        body: visual.body.clone(),
        require_interaction: notification.priority == Priority::High,
        silent,
        renotify: is_new_member && members.len() > 1 && !silent,
        timestamp: now,
        close_at: notification.display_close_at(now),
        expiration: Some(notification.expiration),
        key,
        group_name: notification.group_name.clone(),
        url: visual.url.clone(),
        members,
    })
}

/// Plans a raw-only notification that no page and no worker hook took: its text under a
/// default title, shown as its own notification.
pub fn plan_raw_fallback(
    notification: &Notification,
    default_title: &str,
    now: Millis,
) -> Option<Display> {
    let raw = notification.raw_content.as_ref()?;
    let key = notification.key();
    Some(Display {
        tag: prefixed(ITEM_TAG_PREFIX, &key),
        title: default_title.to_owned(),
        body: raw.clone(),
        require_interaction: notification.priority == Priority::High,
        silent: notification.priority == Priority::Low,
        renotify: false,
        timestamp: now,
        close_at: notification.display_close_at(now),
        expiration: Some(notification.expiration),
        key: key.clone(),
        group_name: None,
        url: None,
        members: vec![key],
    })
}

/// The quiet notification for a push that brought nothing showable (expired, invalid).
pub fn plan_status(now: Millis) -> Display {
    Display {
        tag: STATUS_TAG.to_owned(),
        title: STATUS_TITLE.to_owned(),
        body: STATUS_BODY.to_owned(),
        require_interaction: false,
        silent: true,
        renotify: false,
        timestamp: now,
        close_at: None,
        expiration: None,
        key: String::new(),
        group_name: None,
        url: None,
        members: Vec::new(),
    }
}

/// True when a shown notification must be closed now: its display time is over or the
/// notification itself expired. Swept on every worker event, since a stopped worker runs
/// no timers.
pub fn should_close(close_at: Option<Millis>, expiration: Option<Millis>, now: Millis) -> bool {
    close_at.is_some_and(|close_at| now >= close_at)
        || expiration.is_some_and(|expiration| is_expired(expiration, now))
}

/// `title`, or `title (n)` when a group counts more than one.
fn titled_with_count(title: &str, count: usize) -> String {
    let mut text = title.to_owned();
    if count > 1 {
        text.push_str(" (");
        push_int(&mut text, i64::try_from(count).unwrap_or(i64::MAX));
        text.push(')');
    }
    text
}

fn prefixed(prefix: &str, name: &str) -> String {
    let mut tag = String::with_capacity(prefix.len() + name.len());
    tag.push_str(prefix);
    tag.push_str(name);
    tag
}
