//! What the user did to a notification, as it travels between devices: a change of its
//! `readState` and `userActionState`, or its deletion, named by the app service's resource
//! id. The same record is the page's outbox entry, the `PATCH` a page sends, an event of the
//! service's change stream and an item of a push's `changes`.

use alloc::string::String;
use alloc::vec::Vec;

use super::feed::{FeedEntry, ReadState, UserActionState};
use super::json::{open_object, JsonRead, ObjectWriter};
use super::time::Millis;

/// The most changes one push carries: the newest, so that the push stays small.
pub const MAX_CHANGES_PER_PUSH: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// The service's resource id.
    pub id: String,
    /// `None`: deleted.
    pub state: Option<(ReadState, UserActionState)>,
}

impl StateChange {
    /// The change a local update (or deletion) of `entry` makes; `None` for an entry the
    /// service never sent (it has no resource id).
    pub fn of(entry: &FeedEntry, deleted: bool) -> Option<StateChange> {
        Some(StateChange {
            id: entry.id.clone()?,
            state: (!deleted).then_some((entry.read_state, entry.user_action_state)),
        })
    }

    /// `{id, readState, userActionState, deleted}`: the states of a deleted notification
    /// are left out.
    pub fn to_json(&self) -> String {
        let record = ObjectWriter::default().str("id", &self.id);
        match self.state {
            Some((read_state, user_action_state)) => record
                .str("readState", read_state.as_str())
                .str("userActionState", user_action_state.as_str())
                .bool("deleted", false)
                .end(),
            None => record.bool("deleted", true).end(),
        }
    }

    /// The `PATCH` body, for a change of state.
    pub fn patch_body(&self) -> Option<String> {
        let (read_state, user_action_state) = self.state?;
        Some(
            ObjectWriter::default()
                .str("readState", read_state.as_str())
                .str("userActionState", user_action_state.as_str())
                .end(),
        )
    }

    /// Reads one back; `None` for anything that is not one.
    pub fn read<'a, V: JsonRead<'a>>(record: &V) -> Option<StateChange> {
        let text = |name: &str| record.member(name)?.text();
        let id = text("id")?.into_owned();
        if record.member("deleted").and_then(|deleted| deleted.flag()) == Some(true) {
            return Some(StateChange { id, state: None });
        }
        Some(StateChange {
            id,
            state: Some((
                ReadState::parse(&text("readState")?).ok()?,
                UserActionState::parse(&text("userActionState")?).ok()?,
            )),
        })
    }

    /// Whether the notification still counts after this change (unread and not dismissed,
    /// as its group counts it): false for one read, dismissed or deleted.
    pub fn counts(&self) -> bool {
        self.state
            .is_some_and(|(read, action)| crate::core::feed::counts(read, action))
    }

    /// Applies a change of state to the local entry of the same resource; true when it
    /// changed anything. (A deletion is the feed's to make: it leaves a tombstone.)
    pub fn apply(&self, entry: &mut FeedEntry) -> bool {
        let Some((read_state, user_action_state)) = self.state else {
            return false;
        };
        let changed =
            entry.read_state != read_state || entry.user_action_state != user_action_state;
        entry.read_state = read_state;
        entry.user_action_state = user_action_state;
        changed
    }
}

/// The changes a push carries (`changes`, a usernotify extension), newest first; at most
/// [`MAX_CHANGES_PER_PUSH`], and anything that is not a change left out.
pub fn changes_of<'a, V: JsonRead<'a>>(body: &V) -> Vec<StateChange> {
    let list = body
        .member("changes")
        .map(|list| list.items())
        .unwrap_or_default();
    list.iter()
        .take(MAX_CHANGES_PER_PUSH)
        .filter_map(StateChange::read)
        .collect()
}

/// The body the app service pushes, read by [`changes_of`] and the notification's reader:
/// `resource` (the stored notification's JSON, an object) with the `changes` member holding
/// as many of `changes` (newest first) as fit `max_json` bytes (one Web Push message, or what
/// the push host takes); the oldest are dropped first, and all of them before anything of the
/// notification. A change-only push (no `resource`) is `{"changes": [...]}` alone. The
/// resource's text is kept as stored, the member written in before its closing brace.
pub fn push_body_with_changes<'c>(
    resource: Option<&str>,
    changes: impl IntoIterator<Item = &'c StateChange>,
    max_json: usize,
) -> Vec<u8> {
    let mut changes = changes.into_iter().peekable();
    if let (Some(resource), None) = (resource, changes.peek()) {
        // Nothing to carry (most pushes): the notification goes as it was stored.
        return resource.as_bytes().to_vec();
    }
    let head = match resource {
        Some(resource) => match open_object(resource) {
            Some(open) => open,
            None => return resource.as_bytes().to_vec(),
        },
        None => String::from("{"),
    };
    let mut body = String::with_capacity(max_json);
    body.push_str(&head);
    body.push_str("\"changes\":[");
    let mut carried = 0;
    for change in changes {
        let record = change.to_json();
        // What the rest needs: a comma, `]}`.
        if body.len() + record.len() + 3 > max_json {
            break;
        }
        if carried > 0 {
            body.push(',');
        }
        body.push_str(&record);
        carried += 1;
    }
    body.push_str("]}");
    if carried == 0 && resource.is_some() {
        // Nothing fits beside the notification: it goes alone, as it was stored.
        return resource.unwrap_or_default().as_bytes().to_vec();
    }
    body.into_bytes()
}

/// Whether a push body only carries changes: `changes` and no notification of its own (no
/// `payload`). The service sends one to a device only when it leaves something visible
/// there ([`change_push_visible_until`]); the worker applies it and redraws what it
/// concerns, and shows the quiet status if nothing else is visible.
pub fn is_changes_only<'a, V: JsonRead<'a>>(body: &V) -> bool {
    body.member("payload").is_none() && body.member("changes").is_some()
}

/// A notification as the app service knows it is on one device: pushed there (its delivery
/// was accepted), in `group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnDevice {
    pub id: String,
    pub group: String,
    /// Unread and not dismissed: its group's notification counts it (as the feed does).
    pub counts: bool,
    /// When it was posted (or last updated): the newest one is what its group shows.
    pub posted: Millis,
    pub expiration: Millis,
    /// When its display time (`displayTimeToLive`) runs out, counted from its post: the
    /// device received it a little later, so the service never thinks it shown for longer
    /// than it is.
    pub display_until: Option<Millis>,
}

/// The rule for a push that only carries changes (the "never silent"): it is sent
/// to a device only when it leaves a notification visible there, which the service can
/// know in one case: a change concerns a notification of a group, and that group still
/// counts another notification pushed to that device, whose newest such one is within its
/// display time and unexpired. The device then redraws the group's notification with its
/// new count. Anything else (an ungrouped notification read elsewhere, the last unread one
/// of its group, a group whose notification was closed by its display time) would leave
/// the device with nothing to show for the push, so the change waits for the next push or
/// the next visit of a page (`open()` follows the change stream).
///
/// `changed` holds the changed notifications' ids and groups; `on_device` the notifications
/// of those groups pushed to the device. Returns until when the push is worth delivering
/// (the latest such group's display deadline or expiry), `None` when it is not to be sent.
pub fn change_push_visible_until(
    changed: &[(&str, Option<&str>)],
    on_device: &[OnDevice],
    now: Millis,
) -> Option<Millis> {
    let mut until: Option<Millis> = None;
    for (_, group) in changed {
        let Some(group) = group else { continue };
        let newest = on_device
            .iter()
            .filter(|shown| shown.group == *group && shown.counts)
            .filter(|shown| !changed.iter().any(|(id, _)| *id == shown.id))
            .filter(|shown| !super::notification::is_expired(shown.expiration, now))
            .max_by_key(|shown| (shown.posted, shown.id.as_str()));
        let Some(newest) = newest else { continue };
        let deadline = match newest.display_until {
            Some(display_until) if display_until <= now => continue,
            Some(display_until) => display_until.min(newest.expiration),
            None => newest.expiration,
        };
        until = Some(until.map_or(deadline, |until| until.max(deadline)));
    }
    until
}

/// One event of the change stream (Server-Sent Events): its `id` (the user's change
/// sequence number, resumed after with `Last-Event-ID`) and its `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEvent {
    pub id: Option<String>,
    pub data: String,
}

/// Reads a Server-Sent Events stream as its bytes arrive, in chunks cut anywhere (a line,
/// or a character, may span two chunks): lines end with LF, CR LF or CR; `data:` lines join
/// with LF; an empty line ends an event; comments (`:`) and other fields are ignored.
/// Bytes are only turned into text once a whole line is there, so a UTF-8 character split
/// across chunks reads whole.
#[derive(Debug, Default)]
pub struct EventReader {
    line: Vec<u8>,
    /// The last byte was a CR: an LF right after it ends nothing more.
    after_cr: bool,
    id: Option<String>,
    data: Option<String>,
}

impl EventReader {
    /// The events completed by `bytes`.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        for &byte in bytes {
            let after_cr = core::mem::replace(&mut self.after_cr, byte == b'\r');
            match byte {
                b'\n' if after_cr => {}
                b'\n' | b'\r' => {
                    let line = core::mem::take(&mut self.line);
                    if let Some(event) = self.line_ended(&line) {
                        events.push(event);
                    }
                }
                _ => self.line.push(byte),
            }
        }
        events
    }

    fn line_ended(&mut self, line: &[u8]) -> Option<StreamEvent> {
        if line.is_empty() {
            let data = self.data.take()?;
            return Some(StreamEvent {
                id: self.id.clone(),
                data,
            });
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (text.as_ref(), ""),
        };
        match field {
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(String::from(value)),
            },
            // The last event id stays until another replaces it (the spec's rule).
            "id" if !value.contains('\0') => self.id = Some(String::from(value)),
            _ => {}
        }
        None
    }
}
