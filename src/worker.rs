//! The service worker's decisions, one question and answer at a time.
//!
//! The worker's shell (`www/sw.js`) makes the browser calls (IndexedDB, the screen, the
//! app's pages) and asks here, at each point of a push, a click or a page's change, what
//! to do next: whether a push is valid and under which key, what it does to the feed, what
//! is due to close, what to show and with which options, what a page's change leaves on
//! screen. Every answer comes from [`crate::core`]; nothing here touches the browser, so
//! the worker's wasm module imports nothing, and every question is tested on the host.
//!
//! A question is an object with its `op` and inputs, as a [`Tape`] (the shell's
//! `JSON.parse` does the parsing); [`decide`] answers with JSON text. Notifications on
//! screen are described as `[tag, data]`, `data` being what usernotify stored on the
//! notification (`data.usernotify`), and answers name them by their index in that list.

use alloc::string::String;
use alloc::vec::Vec;

use crate::core::display::{tag_of, DEFAULT_RAW_TITLE, STATUS_TAG};
use crate::core::feed::{activate, arrive, dismiss, Arrival, FeedEntry};
use crate::core::json::{push_int, JsonRead, Kind, ObjectWriter};
use crate::core::record::{entry_of, record_of, tombstone_of};
use crate::core::tape::Tape;
use crate::core::{
    plan_raw_fallback, plan_status, plan_visual, refresh_after_change, should_close, tag_for,
    Display, InvalidNotification, Millis, Notification, Refresh,
};

/// The member of a shown notification's `data` that usernotify owns.
const DATA_KEY: &str = "usernotify";

/// Answers one question (a tape); see each op below.
pub fn decide(question: &[u8]) -> String {
    let question = Tape::new(question);
    let now = question
        .member("now")
        .and_then(JsonRead::number)
        .unwrap_or_default() as Millis;
    let input = Input(question);
    match input.text("op") {
        Some("accept") => accept(input, now),
        Some("arrive") => arrival(input, now),
        Some("sweep") => sweep(input, now),
        Some("show") => show(input, now),
        Some("status") => status(input, now),
        Some("refresh") => refresh(input, now),
        Some("change") => change(input, now),
        _ => String::from("null"),
    }
}

/// A question's inputs.
#[derive(Clone, Copy)]
struct Input<'a>(Tape<'a>);

impl<'a> Input<'a> {
    fn text(self, name: &str) -> Option<&'a str> {
        self.0.member(name)?.text()
    }

    fn list(self, name: &str) -> Vec<Tape<'a>> {
        self.0.member(name).map(JsonRead::items).unwrap_or_default()
    }

    fn strings(self, name: &str) -> Vec<&'a str> {
        self.0.member(name).map(Tape::strings).unwrap_or_default()
    }

    /// The push (`body`), as the shell's `JSON.parse` read it: absent when the push had no
    /// text (or only whitespace), and `malformed` instead when it was not JSON. Validated
    /// again by each question about it: a push is a few kilobytes at most, and the module
    /// keeps nothing between questions.
    fn notification(self, now: Millis) -> Result<Notification, InvalidNotification> {
        if self.0.member("malformed").is_some() {
            return Err(InvalidNotification::MalformedJson);
        }
        let body = self.0.field("body").ok_or(InvalidNotification::EmptyBody)?;
        Notification::read(body, now)
    }

    /// The notifications on screen (`screen`), as `[tag, data]`.
    fn screen(self) -> Vec<OnScreen<'a>> {
        self.list("screen")
            .iter()
            .map(|item| OnScreen::of(*item))
            .collect()
    }
}

/// A notification of the app on screen; `data` is `None` for one usernotify did not show.
struct OnScreen<'a> {
    tag: &'a str,
    data: Option<Tape<'a>>,
}

impl<'a> OnScreen<'a> {
    fn of(item: Tape<'a>) -> OnScreen<'a> {
        let parts = item.items();
        OnScreen {
            tag: parts.first().and_then(|tag| tag.text()).unwrap_or_default(),
            data: parts
                .get(1)
                .copied()
                .filter(|data| data.kind() == Kind::Object),
        }
    }

    fn millis(&self, name: &str) -> Option<Millis> {
        Some(self.data?.member(name)?.number()? as Millis)
    }
}

/// `accept {body, now}`: `{refused: code}`, or what the shell reads the feed for:
/// `{key, group, raw}` (`raw`: the raw content, which goes to the app first).
fn accept(input: Input, now: Millis) -> String {
    match input.notification(now) {
        Err(invalid) => ObjectWriter::default().str("refused", invalid.code()).end(),
        Ok(notification) => ObjectWriter::default()
            .str("key", &notification.key())
            .opt_str("group", notification.group_name.as_deref())
            .opt_str("raw", notification.raw_content.as_deref())
            .end(),
    }
}

/// `arrive {body, now, entry, tombstone, counted, expired}`, with what the feed holds under
/// the push's key (records, or `null`) and, for a grouped push, the keys its group counts
/// (`counted`, oldest first) and those that expired: `{put, change, members, outcome}`.
/// `put` is the record to write (or `null`) and `change` what it is to the feed's pages
/// (`added`, `updated`); `members` are the keys the group's notification counts besides
/// this one; `outcome` is `deleted` or `already-seen` when nothing is to be shown.
fn arrival(input: Input, now: Millis) -> String {
    let Ok(notification) = input.notification(now) else {
        return String::from("null");
    };
    let stored = input.0.member("entry").and_then(entry_of);
    let tombstone = input.0.member("tombstone").and_then(tombstone_of);
    let arrival = arrive(&notification, stored.as_ref(), tombstone.as_ref(), now);
    let (outcome, written) = match &arrival {
        Arrival::Deleted => (Some("deleted"), None),
        Arrival::Redelivered(entry) if !entry.counts_in_group() => (Some("already-seen"), None),
        Arrival::Redelivered(_) => (None, None),
        Arrival::New(entry) => (None, Some((entry, "added"))),
        Arrival::Updated(entry) => (None, Some((entry, "updated"))),
    };
    // News is counted as a new member, so the group alerts again.
    let key = notification.key();
    let expired = input.strings("expired");
    let mut members = input.strings("counted");
    members.retain(|member| !expired.contains(member) && (written.is_none() || *member != key));
    let mut answer = ObjectWriter::default();
    if let Some((entry, change)) = written {
        answer = answer.raw("put", &record_of(entry)).str("change", change);
    }
    answer
        .strs("members", &members)
        .opt_str("outcome", outcome)
        .end()
}

/// `sweep {now, screen}`: the indices of what is due to close (display time over, or
/// expired). Every event sweeps, since a stopped worker runs no timers.
fn sweep(input: Input, now: Millis) -> String {
    indices(&input.screen(), |shown| {
        shown.data.is_some()
            && should_close(shown.millis("closeAt"), shown.millis("expiration"), now)
    })
}

/// `show {body, now, members, screen, taken}`: what a valid push shows, `{title, options,
/// close}` (`close`: the quiet status notifications to close once it is shown), or `null`
/// when the app took its raw content (`taken`). `members` are the keys its group counts
/// besides it (from `arrive`); `null` when the feed could not be read, and then they are
/// the screen's.
fn show(input: Input, now: Millis) -> String {
    let Ok(notification) = input.notification(now) else {
        return String::from("null");
    };
    let screen = input.screen();
    let display = if notification.visual.is_some() {
        let members = match input.0.member("members") {
            Some(members) if members.kind() == Kind::Array => members.strings(),
            _ => members_on_screen(&screen, &tag_for(&notification)),
        };
        plan_visual(&notification, &members, now)
    } else if input.0.member("taken").and_then(Tape::as_bool) == Some(true) {
        None
    } else {
        plan_raw_fallback(&notification, DEFAULT_RAW_TITLE, now)
    };
    let Some(display) = display else {
        return String::from("null");
    };
    let statuses = indices(&screen, |shown| shown.tag == STATUS_TAG);
    shown(&display).raw("close", &statuses).end()
}

/// `status {now, screen}`: the quiet status notification, `{title, options}`, for a push
/// that shows nothing of its own; `null` when a notification of the app is already on
/// screen (`screen`, after the sweep).
fn status(input: Input, now: Millis) -> String {
    if !input.list("screen").is_empty() {
        return String::from("null");
    }
    shown(&plan_status(now)).end()
}

/// `refresh {key, group, records, screen, now}`: after a page read, dismissed or deleted
/// `key`, what its notification becomes, given the feed's records of its group (or of the
/// entry itself; none once deleted): `{close: [index, ...]}`, `{title, options}` to show the
/// group again with its new newest entry and count, or `{}`.
fn refresh(input: Input, now: Millis) -> String {
    let key = input.text("key").unwrap_or_default();
    let group = input.text("group");
    let entries: Vec<FeedEntry> = input
        .list("records")
        .iter()
        .filter_map(|record| entry_of(*record))
        .collect();
    let screen = input.screen();
    let tag = tag_of(group, key);
    let group_shown = screen
        .iter()
        .any(|shown| shown.data.is_some() && shown.tag == tag);
    match refresh_after_change(key, group, &entries, group_shown, now) {
        Refresh::Keep => String::from("{}"),
        Refresh::Close(tag) => {
            let closing = indices(&screen, |shown| shown.data.is_some() && shown.tag == tag);
            ObjectWriter::default().raw("close", &closing).end()
        }
        Refresh::Show(display) => shown(&display).end(),
    }
}

/// `change {records, action, now}`: the user `activated` (clicked) or `dismissed` (closed)
/// the entries whose records are given: the records to write, unexpired ones only.
fn change(input: Input, now: Millis) -> String {
    let update = match input.text("action") {
        Some("activated") => activate,
        _ => dismiss,
    };
    let mut out = String::from("[");
    for record in input.list("records") {
        let Some(mut entry) = entry_of(record).filter(|entry| !entry.is_expired(now)) else {
            continue;
        };
        update(&mut entry);
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&record_of(&entry));
    }
    out.push(']');
    out
}

/// The keys a notification on screen under `tag` counts: when the feed cannot be read,
/// groups are counted from the screen.
fn members_on_screen<'a>(screen: &[OnScreen<'a>], tag: &str) -> Vec<&'a str> {
    screen
        .iter()
        .find(|shown| shown.tag == tag)
        .and_then(|shown| shown.data?.member("members"))
        .map(Tape::strings)
        .unwrap_or_default()
}

/// `{title, options}` for `showNotification`, more members added by the caller. `data`
/// keeps what later events need: the key a click activates, the keys a close dismisses,
/// the click's URL, when the notification is due to close.
fn shown(display: &Display) -> ObjectWriter {
    let mut options = ObjectWriter::default()
        .str("body", &display.body)
        .str("tag", &display.tag)
        .int("timestamp", display.timestamp)
        .bool("requireInteraction", display.require_interaction)
        .bool("silent", display.silent);
    if display.renotify {
        options = options.bool("renotify", true);
    }
    let data = ObjectWriter::default()
        .str("key", &display.key)
        .strs("members", &display.members)
        .int("count", display.count() as i64)
        .opt_str("groupName", display.group_name.as_deref())
        .opt_str("url", display.url.as_deref())
        .opt_int("closeAt", display.close_at)
        .opt_int("expiration", display.expiration)
        .end();
    let options = options
        .raw("data", &ObjectWriter::default().raw(DATA_KEY, &data).end())
        .end();
    ObjectWriter::default()
        .str("title", &display.title)
        .raw("options", &options)
}

/// The indices of the notifications on `screen` that `wanted`, as a JSON list.
fn indices(screen: &[OnScreen], wanted: impl Fn(&OnScreen) -> bool) -> String {
    let mut out = String::from("[");
    for (index, shown) in screen.iter().enumerate() {
        if wanted(shown) {
            if out.len() > 1 {
                out.push(',');
            }
            push_int(&mut out, index as i64);
        }
    }
    out.push(']');
    out
}
