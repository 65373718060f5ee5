//! The user's notification changes as they travel to devices (CONTRACT §5):
//! `GET /me/notifications/changes`, a Server-Sent Events stream of each change, resumable
//! with `Last-Event-ID`; and the `changes` every push carries.
//!
//! A change (a `PATCH` or `DELETE` of `/me/notifications/{id}`) is logged in the user's
//! change log (`store`), one row per notification holding its latest state under a new
//! `seq`; the row goes when the notification would have expired. So the log of a user is
//! bounded by the notifications of the last 30 days, and a stream resumed from any event id
//! still gets the latest state of everything that changed since. Each user's `seq` is
//! assigned under a lock on the user's row, so a stream that has read up to `seq` has seen
//! every change numbered before it (no later commit of an earlier number).
//!
//! [`ChangeHub`] wakes a process's open streams of a user when a change is logged: directly
//! for a change made through this process, through PostgreSQL's LISTEN/NOTIFY (the store's
//! one listener per process) for one made through another replica.

pub mod stream;

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;

use crate::store::LoggedChange;

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

/// The body of a push: `resource` (the stored notification's JSON, an object) with the
/// `changes` member (newest first) holding as many of `changes` as fit `max_json` bytes
/// (one Web Push message, or what the push host takes); the oldest are dropped first, and
/// all of them before anything of the notification. `None` for a change-only push:
/// `{"changes": [...]}` alone.
pub fn push_bytes_with_changes(
    resource: Option<&str>,
    changes: &[LoggedChange],
    max_json: usize,
) -> Vec<u8> {
    if let (Some(resource), []) = (resource, changes) {
        // Nothing to carry (most pushes): the notification goes as it was stored.
        return resource.as_bytes().to_vec();
    }
    let head = match resource.map(str::trim_end) {
        Some(resource) => match resource.strip_suffix('}') {
            // An object with members gets a comma before the new one.
            Some(open) if open.trim_end().ends_with('{') => open.to_owned(),
            Some(open) => format!("{open},"),
            None => return resource.as_bytes().to_vec(),
        },
        None => "{".to_owned(),
    };
    let mut body = String::with_capacity(max_json);
    body.push_str(&head);
    body.push_str("\"changes\":[");
    let mut carried = 0;
    for logged in changes {
        let record = logged.change.to_json();
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

#[cfg(test)]
mod tests {
    use super::*;
    use usernotify::core::feed::{ReadState, UserActionState};
    use usernotify::core::notification::MAX_PUSH_JSON_BYTES;
    use usernotify::core::sync::StateChange;

    fn read(id: &str, seq: i64) -> LoggedChange {
        LoggedChange {
            seq,
            change: StateChange {
                id: id.to_owned(),
                state: Some((ReadState::Read, UserActionState::None)),
            },
            group: None,
        }
    }

    #[test]
    fn a_push_carries_the_resource_with_its_changes_newest_first() {
        let body = push_bytes_with_changes(
            Some(r#"{"id":"n3","payload":{}}"#),
            &[read("n2", 9), read("n1", 4)],
            MAX_PUSH_JSON_BYTES,
        );
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["id"], "n3");
        assert_eq!(value["changes"][0]["id"], "n2");
        assert_eq!(value["changes"][1]["id"], "n1");
        assert_eq!(value["changes"][1]["readState"], "read");
        let only = push_bytes_with_changes(None, &[read("n2", 9)], MAX_PUSH_JSON_BYTES);
        assert_eq!(
            String::from_utf8(only).unwrap(),
            r#"{"changes":[{"id":"n2","readState":"read","userActionState":"none","deleted":false}]}"#
        );
    }

    #[test]
    fn changes_that_do_not_fit_are_dropped_oldest_first_and_never_the_notification() {
        let big = "x".repeat(MAX_PUSH_JSON_BYTES - 300);
        let resource = format!(r#"{{"id":"n","payload":{{"rawContent":"{big}"}}}}"#);
        let changes: Vec<LoggedChange> = (0..20).rev().map(|n| read(&format!("c{n}"), n)).collect();
        let body = push_bytes_with_changes(Some(&resource), &changes, MAX_PUSH_JSON_BYTES);
        assert!(body.len() <= MAX_PUSH_JSON_BYTES, "{}", body.len());
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let carried = value["changes"].as_array().unwrap();
        assert!(
            !carried.is_empty() && carried.len() < 20,
            "{}",
            carried.len()
        );
        assert_eq!(carried[0]["id"], "c19", "the newest stays");
        assert_eq!(value["payload"]["rawContent"], big.as_str());
        let full = format!(
            r#"{{"id":"n","payload":{{"rawContent":"{}"}}}}"#,
            "y".repeat(MAX_PUSH_JSON_BYTES - 40)
        );
        assert_eq!(
            push_bytes_with_changes(Some(&full), &changes, MAX_PUSH_JSON_BYTES),
            full.as_bytes(),
            "alone when none fits"
        );
    }
}
