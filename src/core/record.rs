//! The feed's records as IndexedDB stores them, one definition for the worker and the page.
//!
//! A record has the page API's field names, with the instants as milliseconds (`created`,
//! `expires`) and a `counted` flag (1/0), so that the indexes can order and range over them:
//! `expires` (purge), `groupName` (a group's entries) and `counted`
//! (`[groupName, counted, created]`, the keys a group's notification counts, oldest first).

use alloc::borrow::Cow;
use alloc::string::String;

use super::feed::{FeedEntry, ReadState, Tombstone, UserActionState};
use super::json::{JsonRead, ObjectWriter};
use super::notification::Priority;
use super::time::Millis;

pub const DATABASE: &str = "usernotify";
/// 2 added `settings`, 3 the `unread` index; an upgrade creates whatever is missing.
pub const VERSION: u32 = 3;
/// Entries by `id` (the feed key).
pub const FEED: &str = "feed";
/// Deleted keys by `id` until their expiry.
pub const TOMBSTONES: &str = "tombstones";
/// Small records under fixed keys: the app service subscription, the outbox.
pub const SETTINGS: &str = "settings";
pub const BY_EXPIRY: &str = "expires";
pub const BY_GROUP: &str = "groupName";
pub const BY_COUNT: &str = "counted";
/// `[counted, expires]`: the unread, undismissed entries by expiry, whose unexpired ones the
/// app badge counts (records of earlier versions have both fields, so an upgrade indexes
/// them as they are).
pub const BY_UNREAD: &str = "unread";

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
        .opt_str("rich", entry.rich.as_deref())
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
pub fn entry_of<'a, V: JsonRead<'a>>(record: &V) -> Option<FeedEntry> {
    let text = |name: &str| record.member(name)?.text();
    // What every record has, checked before anything else is copied.
    let key = text("id")?;
    let creation = millis(record, "created")?;
    let expiration = millis(record, BY_EXPIRY)?;
    let read_state = ReadState::parse(&text("readState")?).ok()?;
    let user_action_state = UserActionState::parse(&text("userActionState")?).ok()?;
    let owned = |name: &str| text(name).map(Cow::into_owned);
    Some(FeedEntry {
        key: key.into_owned(),
        id: owned("resourceId"),
        app_notification_id: owned("appNotificationId"),
        group_name: owned(BY_GROUP),
        title: owned("title"),
        body: owned("body"),
        raw_content: owned("rawContent"),
        url: owned("url"),
        rich: owned("rich"),
        priority: Priority::from_name(&text("priority").unwrap_or_default()),
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

pub fn tombstone_of<'a, V: JsonRead<'a>>(record: &V) -> Option<Tombstone> {
    Some(Tombstone {
        key: record.member("id")?.text()?.into_owned(),
        expiration: millis(record, BY_EXPIRY)?,
    })
}

fn millis<'a, V: JsonRead<'a>>(record: &V, name: &str) -> Option<Millis> {
    record.member(name)?.number().map(|number| number as Millis)
}

/// The setting this browser's registration with the app service is kept under.
pub const REGISTRATION: &str = "subscription";
/// The setting local changes wait under while the app service cannot be reached.
pub const OUTBOX: &str = "outbox";
/// The setting the user's preferences are cached under (`getPreferences()`,
/// `setPreferences()`, and each connection of the change stream), for the worker.
pub const PREFERENCES: &str = "preferences";
/// The setting the id of the last change stream event applied is kept under: the stream
/// resumes after it (`Last-Event-ID`).
pub const CHANGES_CURSOR: &str = "changesCursor";

/// This browser's registration with the app service (`subscribe()`), kept in `settings` so
/// that later calls, and the worker on `pushsubscriptionchange`, know where and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The app service's base URL, without a trailing slash.
    pub service_url: String,
    pub access_token: String,
    pub target_host_name: String,
    pub display_name: String,
    /// The service's VAPID key, to subscribe again with.
    pub public_key: String,
    /// The UNSID, once the service registered this browser.
    pub id: Option<String>,
    /// The push endpoint the service has for it.
    pub endpoint: Option<String>,
}

pub fn registration_record(registration: &Registration) -> String {
    ObjectWriter::default()
        .str("serviceUrl", &registration.service_url)
        .str("accessToken", &registration.access_token)
        .str("targetHostName", &registration.target_host_name)
        .str("displayName", &registration.display_name)
        .str("publicKey", &registration.public_key)
        .opt_str("id", registration.id.as_deref())
        .opt_str("endpoint", registration.endpoint.as_deref())
        .end()
}

pub fn registration_of<'a, V: JsonRead<'a>>(record: &V) -> Option<Registration> {
    let text = |name: &str| record.member(name)?.text().map(Cow::into_owned);
    Some(Registration {
        service_url: text("serviceUrl")?,
        access_token: text("accessToken")?,
        target_host_name: text("targetHostName")?,
        display_name: text("displayName").unwrap_or_default(),
        public_key: text("publicKey")?,
        id: text("id"),
        endpoint: text("endpoint"),
    })
}
