//! What the worker puts on screen for a notification: tag, text, count and options.
//!
//! These are decisions, not effects: the worker reads what is visible, asks here, and calls
//! `showNotification` with the answer.

use super::feed::{group_members, FeedEntry};
use super::json::push_int;
use super::notification::{is_expired, Notification, Priority};
use super::time::{Millis, SECOND};
use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::string::String;
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
    /// The newest notification's pictures and buttons, as the feed keeps them.
    pub rich: Option<String>,
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
    tag_of(notification.group_name.as_deref(), &notification.key())
}

/// The tag of the notification that shows the entry under `key`.
pub fn tag_of(group: Option<&str>, key: &str) -> String {
    match group {
        Some(group) => prefixed(GROUP_TAG_PREFIX, group),
        None => prefixed(ITEM_TAG_PREFIX, key),
    }
}

/// Plans the visible notification for a valid, visual `notification` shown at `now`.
///
/// `group_members` are the keys the group's notification already counts (unread ones,
/// oldest first); they are ignored for an ungrouped notification. The same key again
/// replaces and never adds to the count.
pub fn plan_visual(
    notification: &Notification,
    group_members: &[&str],
    now: Millis,
) -> Option<Display> {
    plan_entry(&FeedEntry::arrived(notification, now), group_members, now)
}

/// Plans the visible notification for a feed entry with a title, as [`plan_visual`] does
/// for a push; its display time runs from the entry's arrival.
pub fn plan_entry(entry: &FeedEntry, group_members: &[&str], now: Millis) -> Option<Display> {
    let title = entry.title.as_ref()?;
    let key = entry.key.clone();
    let mut members: Vec<String> = Vec::new();
    if entry.group_name.is_some() {
        for member in group_members.iter().filter(|member| **member != key) {
            members.push(String::from(*member));
        }
    }
    let is_new_member = entry.group_name.is_some() && members.len() == group_members.len();
    members.push(key.clone());
    let silent = entry.priority == Priority::Low;
    Some(Display {
        tag: tag_of(entry.group_name.as_deref(), &key),
        title: titled_with_count(title, members.len()),
        body: entry.body.clone().unwrap_or_default(),
        require_interaction: entry.priority == Priority::High,
        silent,
        renotify: is_new_member && members.len() > 1 && !silent,
        timestamp: now,
        close_at: entry.display_time_to_live.map(|seconds| {
            entry
                .creation
                .saturating_add(Millis::from(seconds) * SECOND)
        }),
        expiration: Some(entry.expiration),
        key,
        group_name: entry.group_name.clone(),
        url: entry.url.clone(),
        rich: entry.rich.clone(),
        members,
    })
}

/// What a change made from a page (read, dismissed, deleted) does to the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// Nothing on screen needs to change.
    Keep,
    /// Close the notification under this tag: nothing it stood for is left to show.
    Close(String),
    /// Show the group's notification again, quietly, with its new newest entry and count.
    Show(Box<Display>),
}

/// Decides what the screen shows after the entry under `key` (in `group`, if any) changed,
/// given the feed's entries of that group (or the entry itself; absent once deleted).
/// A group notification is only redrawn while it is on screen (`group_shown`), so a change
/// never brings back one the user already closed.
pub fn refresh_after_change(
    key: &str,
    group: Option<&str>,
    entries: &[FeedEntry],
    group_shown: bool,
    now: Millis,
) -> Refresh {
    let Some(group) = group else {
        let stays = entries
            .iter()
            .any(|entry| entry.key == key && !entry.is_expired(now) && entry.counts_in_group());
        return match stays {
            true => Refresh::Keep,
            false => Refresh::Close(prefixed(ITEM_TAG_PREFIX, key)),
        };
    };
    let members = group_members(entries, group, now);
    let newest = members
        .last()
        .and_then(|newest| entries.iter().find(|entry| entry.key == *newest));
    match newest.and_then(|newest| plan_entry(newest, &members, now)) {
        None => Refresh::Close(prefixed(GROUP_TAG_PREFIX, group)),
        Some(_) if !group_shown => Refresh::Keep,
        Some(display) => Refresh::Show(Box::new(display)),
    }
}

/// Plans a raw-only notification that no page and no worker hook took: its text under a
/// default title, shown as its own notification (never grouped, no click URL).
pub fn plan_raw_fallback(
    notification: &Notification,
    default_title: &str,
    now: Millis,
) -> Option<Display> {
    let mut entry = FeedEntry::arrived(notification, now);
    entry.body = Some(entry.raw_content.take()?);
    entry.title = Some(default_title.to_owned());
    entry.group_name = None;
    entry.url = None;
    plan_entry(&entry, &[], now)
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
        rich: None,
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
