//! What the store takes and answers for the change log.

use usernotify::core::feed::{ReadState, UserActionState};
use usernotify::core::sync::StateChange;
use usernotify::core::Millis;

/// One entry of a user's change log: the latest change of one notification (a later change
/// of the same notification replaces it, under a new `seq`), kept until the notification
/// would have expired. `seq` counts the user's changes: the change stream's event ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedChange {
    pub seq: i64,
    pub change: StateChange,
    /// The notification's group, if any (what a device redraws).
    pub group: Option<String>,
}

impl LoggedChange {
    /// A change row as the store reads it; an unknown state reads as none of Graph's.
    pub(crate) fn from_row(
        seq: i64,
        id: String,
        read_state: Option<&str>,
        user_action_state: Option<&str>,
        deleted: bool,
        group: Option<String>,
    ) -> LoggedChange {
        let state = match (deleted, read_state, user_action_state) {
            (false, Some(read), Some(action)) => Some((
                ReadState::parse(read).unwrap_or_default(),
                UserActionState::parse(action).unwrap_or_default(),
            )),
            _ => None,
        };
        LoggedChange {
            seq,
            change: StateChange { id, state },
            group,
        }
    }

    /// The changes a claim read, as the backend aggregated them: a JSON array of
    /// `[seq, id, readState, userActionState, deleted, groupName]`, newest first.
    pub(crate) fn list_of(text: Option<&str>) -> Vec<LoggedChange> {
        let Some(rows) =
            text.and_then(|text| serde_json::from_str::<Vec<serde_json::Value>>(text).ok())
        else {
            return Vec::new();
        };
        rows.iter()
            .filter_map(|row| {
                let item = |index: usize| row.get(index);
                let text = |index: usize| item(index).and_then(serde_json::Value::as_str);
                let deleted = match item(4) {
                    Some(serde_json::Value::Bool(flag)) => *flag,
                    Some(number) => number.as_i64().unwrap_or(0) != 0,
                    None => false,
                };
                Some(LoggedChange::from_row(
                    item(0)?.as_i64()?,
                    text(1)?.to_owned(),
                    text(2),
                    text(3),
                    deleted,
                    text(5).map(str::to_owned),
                ))
            })
            .collect()
    }
}

/// How long a push that only carries changes stays in the queue at most (and its rows after).
pub const CHANGE_PUSH_LIFETIME: Millis = 24 * 3_600_000;
