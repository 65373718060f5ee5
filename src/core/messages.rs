//! The messages between the app's pages and its worker (`postMessage`): each `type` named
//! once, and what the page API sends written and read here, so that one host test runs both
//! ends. The worker's shell (`www/sw.js`) gets the names it answers itself ([`STATUS`],
//! [`PUSH`]) from this file through the Makefile.

use alloc::string::String;

use super::json::{JsonRead, ObjectWriter};

/// Page → worker: run the push path on `data` (JSON text), with no push service; the push's
/// report comes back on the port the message carries (the page API's `show()`).
pub const PUSH: &str = "usernotify-push";
/// Page → worker: a feed entry changed (`id`, `groupName`); its notification closes or its
/// group's is redrawn, then the worker answers on the port the message carries.
pub const FEED_CHANGED: &str = "usernotify-feed-changed";
/// Page → worker: close what is due.
pub const SWEEP: &str = "usernotify-sweep";
/// Page → worker: does the worker run? Answered by the shell, `{ok, reason}`, on the port.
pub const STATUS: &str = "usernotify-status";

/// Worker → pages: how a push ended (`key`, `outcome`, `stored`).
pub const PUSH_HANDLED: &str = "usernotify-push-handled";
/// Worker → pages: a push's raw content (`key`, `rawContent`, `notification`).
pub const RAW: &str = "usernotify-raw";
/// Worker → pages: the user activated a notification (`key`, `action`).
pub const ACTIVATED: &str = "usernotify-activated";
/// Worker → pages: the user closed a notification (`key`).
pub const DISMISSED: &str = "usernotify-dismissed";

/// A page's [`PUSH`] request for `text`, a push's JSON.
pub fn push_request(text: &str) -> String {
    ObjectWriter::default()
        .str("type", PUSH)
        .str("data", text)
        .end()
}

/// A page's [`FEED_CHANGED`] notice for the entry `id` of `group`.
pub fn feed_changed(id: &str, group: Option<&str>) -> String {
    ObjectWriter::default()
        .str("type", FEED_CHANGED)
        .str("id", id)
        .opt_str("groupName", group)
        .end()
}

/// A page's [`STATUS`] question.
pub fn status_question() -> String {
    ObjectWriter::default().str("type", STATUS).end()
}

/// A message to the app's pages: `{type, key}`, and the members the caller adds.
pub fn to_pages(kind: &str, key: &str) -> ObjectWriter {
    ObjectWriter::default().str("type", kind).str("key", key)
}

/// What a page asked the worker, as the worker reads it.
#[derive(Debug, PartialEq)]
pub enum PageRequest<J> {
    /// [`PUSH`]: the push's JSON, as text or (from an app of its own) as a value.
    Push(Option<J>),
    /// [`FEED_CHANGED`]: the entry's id (none when missing) and group.
    FeedChanged {
        id: Option<String>,
        group: Option<String>,
    },
    /// [`SWEEP`], [`STATUS`] (the shell's), and anything else: the worker only sweeps.
    Other,
}

/// Reads a page's message.
pub fn read_page_request<'a, J: JsonRead<'a>>(message: &J) -> PageRequest<J> {
    let text = |name: &str| Some(message.member(name)?.text()?.into_owned());
    match text("type").as_deref() {
        Some(PUSH) => PageRequest::Push(message.member("data")),
        Some(FEED_CHANGED) => PageRequest::FeedChanged {
            id: text("id"),
            group: text("groupName"),
        },
        _ => PageRequest::Other,
    }
}
