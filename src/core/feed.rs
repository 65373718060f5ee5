//! The feed: every valid notification kept until it expires, with Graph's client state.
//!
//! Pure decisions only: what a push does to a stored entry, what a click or a close
//! changes, which entries a group counts. The worker and the page apply them to IndexedDB;
//! the service to SQLite.

use alloc::string::String;
use alloc::vec::Vec;

use super::notification::{is_expired, Notification, Priority};
use super::time::Millis;

/// Whether the user has seen a notification (Graph client SDK: `readState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadState {
    #[default]
    Unread,
    Read,
}

/// What the user did with it (Graph client SDK: `userActionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserActionState {
    #[default]
    None,
    Activated,
    Dismissed,
    Snoozed,
}

/// A state name that is not one of Graph's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidState;

impl InvalidState {
    pub fn code(self) -> &'static str {
        "invalid-state"
    }
}

/// Whether an entry in these states is counted by its group's notification and the app
/// badge: unread and not dismissed.
pub fn counts(read: ReadState, action: UserActionState) -> bool {
    read == ReadState::Unread && action != UserActionState::Dismissed
}

impl ReadState {
    pub fn parse(text: &str) -> Result<ReadState, InvalidState> {
        match text {
            "unread" => Ok(ReadState::Unread),
            "read" => Ok(ReadState::Read),
            _ => Err(InvalidState),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReadState::Unread => "unread",
            ReadState::Read => "read",
        }
    }
}

impl UserActionState {
    pub fn parse(text: &str) -> Result<UserActionState, InvalidState> {
        match text {
            "none" => Ok(UserActionState::None),
            "activated" => Ok(UserActionState::Activated),
            "dismissed" => Ok(UserActionState::Dismissed),
            "snoozed" => Ok(UserActionState::Snoozed),
            _ => Err(InvalidState),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            UserActionState::None => "none",
            UserActionState::Activated => "activated",
            UserActionState::Dismissed => "dismissed",
            UserActionState::Snoozed => "snoozed",
        }
    }
}

/// One notification in the feed, with the fields the page API hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    /// The feed key: the resource `id`, else `appNotificationId`, else a content hash.
    pub key: String,
    pub id: Option<String>,
    pub app_notification_id: Option<String>,
    pub group_name: Option<String>,
    pub title: Option<String>,
    pub body: Option<String>,
    pub raw_content: Option<String>,
    /// usernotify extension: the page a click opens (`payload.visualContent.url`).
    pub url: Option<String>,
    /// usernotify extensions: pictures and buttons (`payload.visualContent`'s `icon`,
    /// `image`, `badge`, `actions`), as [`crate::core::RichContent::json`] writes them.
    pub rich: Option<String>,
    pub priority: Priority,
    pub creation: Millis,
    pub expiration: Millis,
    pub display_time_to_live: Option<u32>,
    pub read_state: ReadState,
    pub user_action_state: UserActionState,
}

impl FeedEntry {
    /// A new entry for a notification that arrived at `now`: unread, no action yet.
    pub fn arrived(notification: &Notification, now: Millis) -> FeedEntry {
        FeedEntry {
            key: notification.key(),
            id: notification.id.clone(),
            app_notification_id: notification.app_notification_id.clone(),
            group_name: notification.group_name.clone(),
            title: notification
                .visual
                .as_ref()
                .map(|visual| visual.title.clone()),
            body: notification
                .visual
                .as_ref()
                .map(|visual| visual.body.clone()),
            raw_content: notification.raw_content.clone(),
            url: notification
                .visual
                .as_ref()
                .and_then(|visual| visual.url.clone()),
            rich: notification
                .visual
                .as_ref()
                .and_then(|visual| visual.rich.json()),
            priority: notification.priority,
            creation: now,
            expiration: notification.expiration,
            display_time_to_live: notification.display_time_to_live,
            read_state: ReadState::Unread,
            user_action_state: UserActionState::None,
        }
    }

    pub fn is_expired(&self, now: Millis) -> bool {
        is_expired(self.expiration, now)
    }

    /// Counted by its group's notification, and kept on screen: unread and not dismissed.
    /// Once the user has read it in the app, its notification has nothing more to say.
    pub fn counts_in_group(&self) -> bool {
        counts(self.read_state, self.user_action_state)
    }

    /// True when `other` says the same thing: a redelivery rather than an update.
    fn same_content(&self, other: &FeedEntry) -> bool {
        self.group_name == other.group_name
            && self.title == other.title
            && self.body == other.body
            && self.raw_content == other.raw_content
            && self.url == other.url
            && self.rich == other.rich
            && self.priority == other.priority
            && self.expiration == other.expiration
            && self.display_time_to_live == other.display_time_to_live
    }
}

/// A deleted key, remembered until the notification would have expired so that a
/// redelivered push does not bring it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    pub key: String,
    pub expiration: Millis,
}

/// What a valid push does to the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// A key the feed has not seen: store it.
    New(FeedEntry),
    /// The same key with other content: the app updated it; it is news again.
    Updated(FeedEntry),
    /// The same key and content (a redelivery): nothing changes, the user's state stays.
    Redelivered(FeedEntry),
    /// The user deleted it: it stays deleted, and nothing is shown.
    Deleted,
}

/// Decides what a push of `notification` at `now` does, given the stored entry and the
/// tombstone under its key, if any.
pub fn arrive(
    notification: &Notification,
    stored: Option<&FeedEntry>,
    tombstone: Option<&Tombstone>,
    now: Millis,
) -> Arrival {
    if tombstone.is_some_and(|tombstone| !is_expired(tombstone.expiration, now)) {
        return Arrival::Deleted;
    }
    let incoming = FeedEntry::arrived(notification, now);
    match stored.filter(|stored| !stored.is_expired(now)) {
        None => Arrival::New(incoming),
        Some(stored) if stored.same_content(&incoming) => Arrival::Redelivered(stored.clone()),
        Some(_) => Arrival::Updated(incoming),
    }
}

impl Arrival {
    /// Why the push shows nothing of its own: the user deleted it, or a redelivery of what
    /// the user already read or dismissed. It stays as the user left it.
    pub fn quiet_outcome(&self) -> Option<&'static str> {
        match self {
            Arrival::Deleted => Some("deleted"),
            Arrival::Redelivered(entry) if !entry.counts_in_group() => Some("already-seen"),
            _ => None,
        }
    }

    /// The entry to write, and what it is to the feed's pages: `added` or `updated`.
    pub fn written(&self) -> Option<(&FeedEntry, &'static str)> {
        match self {
            Arrival::New(entry) => Some((entry, "added")),
            Arrival::Updated(entry) => Some((entry, "updated")),
            Arrival::Redelivered(_) | Arrival::Deleted => None,
        }
    }
}

/// The keys a grouped push's notification counts besides the push itself, from what its
/// group counted in the feed before it (oldest first) less what expired since. News (a new
/// or updated entry) leaves its own key out, so that it is counted as a new member and the
/// group alerts again; a redelivery keeps its place.
pub fn counted_besides(
    mut counted: Vec<String>,
    expired: &[String],
    key: &str,
    arrival: &Arrival,
) -> Vec<String> {
    let news = arrival.written().is_some();
    counted.retain(|member| !(expired.contains(member) || news && member == key));
    counted
}

/// A click on the notification: the user opened it, so it is read too.
pub fn activate(entry: &mut FeedEntry) {
    entry.user_action_state = UserActionState::Activated;
    entry.read_state = ReadState::Read;
}

/// The user closed it. A close by its display time (the worker's own) changes nothing.
pub fn dismiss(entry: &mut FeedEntry) {
    entry.user_action_state = UserActionState::Dismissed;
}

/// A page set the state (`updateReadState` / `updateUserActionState`). Activating also
/// reads, as a click does; other changes set exactly what was asked.
pub fn set_state(
    entry: &mut FeedEntry,
    read_state: Option<ReadState>,
    user_action_state: Option<UserActionState>,
) {
    if let Some(read_state) = read_state {
        entry.read_state = read_state;
    }
    match user_action_state {
        Some(UserActionState::Activated) => activate(entry),
        Some(state) => entry.user_action_state = state,
        None => {}
    }
}

/// The tombstone a deletion leaves behind.
pub fn tombstone_for(entry: &FeedEntry) -> Tombstone {
    Tombstone {
        key: entry.key.clone(),
        expiration: entry.expiration,
    }
}

/// The keys a group's notification counts, oldest first: its unexpired entries that are
/// unread and not dismissed. `entries` may hold any entries; others are skipped.
pub fn group_members<'e>(entries: &'e [FeedEntry], group: &str, now: Millis) -> Vec<&'e str> {
    let mut members: Vec<&FeedEntry> = Vec::new();
    let counted = entries
        .iter()
        .filter(|entry| entry.group_name.as_deref() == Some(group))
        .filter(|entry| !entry.is_expired(now) && entry.counts_in_group());
    // An insertion in arrival order: a group is small, and the worker's module is spared
    // the standard library's sort (5 KB of wasm).
    for entry in counted {
        let at = members
            .iter()
            .rposition(|member| arrived_before(member, entry))
            .map_or(0, |before| before + 1);
        members.insert(at, entry);
    }
    members
        .into_iter()
        .map(|entry| entry.key.as_str())
        .collect()
}

fn arrived_before(a: &FeedEntry, b: &FeedEntry) -> bool {
    (a.creation, &a.key) < (b.creation, &b.key)
}

/// The feed as the page API lists it: unexpired, newest first.
pub fn sorted_feed(mut entries: Vec<FeedEntry>, now: Millis) -> Vec<FeedEntry> {
    entries.retain(|entry| !entry.is_expired(now));
    entries.sort_by(|a, b| b.creation.cmp(&a.creation).then_with(|| b.key.cmp(&a.key)));
    entries
}
