//! The feed's records as IndexedDB stores them, one definition for the worker and the page.
//!
//! A record has the page API's field names, with the instants as milliseconds (`created`,
//! `expires`) and a `counted` flag (1/0), so that the indexes can order and range over them:
//! `expires` (purge), `groupName` (a group's entries) and `counted`
//! (`[groupName, counted, created]`, the keys a group's notification counts, oldest first).

use alloc::string::String;

use super::feed::{FeedEntry, ReadState, Tombstone, UserActionState};
use super::json::{JsonRead, ObjectWriter};
use super::notification::Priority;
use super::time::Millis;

pub const DATABASE: &str = "usernotify";
/// 2 added `settings`; an upgrade creates whatever store is missing.
pub const VERSION: u32 = 2;
/// Entries by `id` (the feed key).
pub const FEED: &str = "feed";
/// Deleted keys by `id` until their expiry.
pub const TOMBSTONES: &str = "tombstones";
/// Small records under fixed keys: the app service subscription, the outbox.
pub const SETTINGS: &str = "settings";
pub const BY_EXPIRY: &str = "expires";
pub const BY_GROUP: &str = "groupName";
pub const BY_COUNT: &str = "counted";

/// The stored record's fields that only serve the indexes; the page API leaves them out.
pub const INTERNAL_FIELDS: [&str; 4] = ["created", BY_EXPIRY, BY_COUNT, "resourceId"];

/// The record of `entry`, as JSON text.
pub fn record_of(entry: &FeedEntry) -> String {
    ObjectWriter::default()
        .str("id", &entry.key)
        // The app service's resource id, when it sent one: `sync()` matches entries by it.
        .opt_str("resourceId", entry.id.as_deref())
        .opt_str("appNotificationId", entry.app_notification_id.as_deref())
        .opt_str(BY_GROUP, entry.group_name.as_deref())
        .opt_str("title", entry.title.as_deref())
        .opt_str("body", entry.body.as_deref())
        .opt_str("rawContent", entry.raw_content.as_deref())
        .opt_str("url", entry.url.as_deref())
        .str("priority", entry.priority.as_str())
        .int("created", entry.creation)
        .int(BY_COUNT, i64::from(entry.counts_in_group()))
        .int(BY_EXPIRY, entry.expiration)
        .opt_int(
            "displayTimeToLive",
            entry.display_time_to_live.map(i64::from),
        )
        .str("readState", entry.read_state.as_str())
        .str("userActionState", entry.user_action_state.as_str())
        .end()
}

/// A stored record back; `None` for anything that is not one (absent, or written by
/// something else).
pub fn entry_of<'a, V: JsonRead<'a>>(record: V) -> Option<FeedEntry> {
    let text = |name: &str| record.member(name)?.text();
    // What every record has, checked before anything is copied.
    let key = text("id")?;
    let creation = millis(record, "created")?;
    let expiration = millis(record, BY_EXPIRY)?;
    let read_state = ReadState::parse(text("readState")?).ok()?;
    let user_action_state = UserActionState::parse(text("userActionState")?).ok()?;
    let owned = |name: &str| text(name).map(String::from);
    Some(FeedEntry {
        key: String::from(key),
        id: owned("resourceId"),
        app_notification_id: owned("appNotificationId"),
        group_name: owned(BY_GROUP),
        title: owned("title"),
        body: owned("body"),
        raw_content: owned("rawContent"),
        url: owned("url"),
        priority: Priority::from_name(text("priority").unwrap_or_default()),
        creation,
        expiration,
        display_time_to_live: millis(record, "displayTimeToLive")
            .and_then(|seconds| u32::try_from(seconds).ok()),
        read_state,
        user_action_state,
    })
}

/// The tombstone record of a deleted entry.
pub fn tombstone_record(tombstone: &Tombstone) -> String {
    ObjectWriter::default()
        .str("id", &tombstone.key)
        .int(BY_EXPIRY, tombstone.expiration)
        .end()
}

pub fn tombstone_of<'a, V: JsonRead<'a>>(record: V) -> Option<Tombstone> {
    Some(Tombstone {
        key: String::from(record.member("id")?.text()?),
        expiration: millis(record, BY_EXPIRY)?,
    })
}

fn millis<'a, V: JsonRead<'a>>(record: V, name: &str) -> Option<Millis> {
    record.member(name)?.number().map(|number| number as Millis)
}
