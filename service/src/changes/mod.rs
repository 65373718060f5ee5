//! The user's notification changes as they travel to devices (CONTRACT §5):
//! `GET /me/notifications/changes`, a Server-Sent Events stream of each change, resumable
//! with `Last-Event-ID`. The `changes` every push carries are written beside their reader, in
//! the core (`usernotify::core::sync::push_body_with_changes`).
//!
//! A change (a `PATCH` or `DELETE` of `/me/notifications/{id}`) is logged in the user's
//! change log (`sqlite.rs`, and on PostgreSQL in the notification's own statements,
//! `notifications/sql/postgres/`), one row per notification holding its latest state under a new
//! `seq`; the row goes when the notification would have expired. So the log of a user is
//! bounded by the notifications of the last 30 days, and a stream resumed from any event id
//! still gets the latest state of everything that changed since. Each user's `seq` is
//! assigned under a lock on the user's row, so a stream that has read up to `seq` has seen
//! every change numbered before it (no later commit of an earlier number).
//!
//! [`ChangeHub`] wakes a process's open streams of a user when a change is logged: directly
//! for a change made through this process, through PostgreSQL's LISTEN/NOTIFY (the store's
//! one listener per process) for one made through another replica.

mod postgres;
mod records;
pub(crate) mod sqlite;
pub mod stream;

use std::collections::HashMap;
use std::sync::Mutex;

pub use records::{LoggedChange, CHANGE_PUSH_LIFETIME};
use tokio::sync::watch;

/// Where each process's open change streams wait.
pub struct ChangeHub {
    /// A channel per user with open streams, sent on at each change of that user (the
    /// receivers only wait for a send; tokio's watch versions them).
    users: Mutex<HashMap<String, watch::Sender<()>>>,
    /// Turns true when the service stops: every stream ends.
    closing: watch::Sender<bool>,
}

impl Default for ChangeHub {
    fn default() -> ChangeHub {
        ChangeHub {
            users: Mutex::new(HashMap::new()),
            closing: watch::channel(false).0,
        }
    }
}

impl ChangeHub {
    fn users(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<()>>> {
        // Only whole entries are ever inserted or removed, so a poisoned map is still whole.
        self.users
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A receiver that changes whenever a change of `user` is logged from now on. Taken
    /// before a stream reads the log, so that no change between the read and the wait is
    /// missed. `None` when `user` already has `max` streams open here (each holds its
    /// receiver until it ends).
    pub fn watch(&self, user: &str, max: usize) -> Option<watch::Receiver<()>> {
        let mut users = self.users();
        // Users whose streams all ended are dropped here, as streams come and go.
        users.retain(|_, sender| sender.receiver_count() > 0);
        let sender = users
            .entry(user.to_owned())
            .or_insert_with(|| watch::channel(()).0);
        (sender.receiver_count() < max).then(|| sender.subscribe())
    }

    /// Wakes the open streams of `user`, if any.
    pub fn wake(&self, user: &str) {
        if let Some(sender) = self.users().get(user) {
            sender.send_replace(());
        }
    }

    /// Wakes every open stream (the PostgreSQL listener reconnected: what it missed meanwhile
    /// is read again).
    pub fn wake_all(&self) {
        for sender in self.users().values() {
            sender.send_replace(());
        }
    }

    /// Whether the service is stopping; each stream waits on it too.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Ends every open stream (the service is stopping).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }
}
