//! SQLite: the users' change logs and pushes that only carry changes.

use rusqlite::{params, OptionalExtension, Transaction};
use usernotify::core::feed::{ReadState, UserActionState};
use usernotify::core::Millis;

use crate::changes::LoggedChange;
use crate::deliveries::{DeliveryState, CHANGES_KIND};
use crate::notifications::FeedItem;
use crate::store::sqlite::{write_transaction, SqliteStore};
use crate::store::StoreError;
use usernotify::core::sync::OnDevice;

impl SqliteStore {
    pub fn changes_since(
        &self,
        user: &str,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<LoggedChange>, i64), StoreError> {
        let conn = self.read();
        let head: i64 = conn
            .prepare_cached(include_str!(
                "sql/sqlite/changes_since_select_change_heads.sql"
            ))?
            .query_row(params![user], |row| row.get(0))
            .optional()?
            .unwrap_or(0);
        let mut statement =
            conn.prepare_cached(include_str!("sql/sqlite/changes_since_select_changes.sql"))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = statement.query_map(params![user, after, limit], |row| {
            let read: Option<String> = row.get(2)?;
            let action: Option<String> = row.get(3)?;
            Ok(LoggedChange::from_row(
                row.get(0)?,
                row.get(1)?,
                read.as_deref(),
                action.as_deref(),
                row.get(4)?,
                row.get(5)?,
            ))
        })?;
        Ok((rows.collect::<Result<Vec<_>, _>>()?, head))
    }

    pub fn on_devices(
        &self,
        user: &str,
        subscription: &Option<String>,
        groups: &[String],
    ) -> Result<Vec<(String, OnDevice)>, StoreError> {
        let conn = self.read();
        let groups = serde_json::to_string(groups).unwrap_or_else(|_| "[]".to_owned());
        let mut statement = conn.prepare_cached(include_str!("sql/sqlite/on_devices.sql"))?;
        let rows = statement.query_map(
            params![
                user,
                groups,
                subscription,
                DeliveryState::Sent.as_str(),
                ReadState::Unread.as_str(),
                UserActionState::Dismissed.as_str()
            ],
            |row| {
                Ok((
                    row.get(0)?,
                    OnDevice {
                        id: row.get(1)?,
                        group: row.get(2)?,
                        counts: row.get(3)?,
                        posted: row.get(4)?,
                        expiration: row.get(5)?,
                        display_until: row.get(6)?,
                    },
                ))
            },
        )?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    pub fn queue_change_pushes(
        &self,
        subscriptions: &[String],
        now: Millis,
    ) -> Result<usize, StoreError> {
        let mut conn = self.lock();
        let tx = write_transaction(&mut conn)?;
        let mut queued = 0;
        for subscription in subscriptions {
            queued += tx
                .prepare_cached(include_str!("sql/sqlite/queue_change_pushes.sql"))?
                .execute(params![
                    subscription,
                    now,
                    DeliveryState::Queued.as_str(),
                    CHANGES_KIND
                ])?;
        }
        tx.commit()?;
        Ok(queued)
    }
}

/// Logs the deletion of a notification under the user's next `seq`, so every device drops it.
pub(crate) fn log_deletion(
    tx: &Transaction<'_>,
    user: &str,
    id: &str,
    group: Option<String>,
    expires_at: Millis,
) -> Result<LoggedChange, StoreError> {
    let seq = next_change_seq(tx, user)?;
    tx.prepare_cached(include_str!("sql/sqlite/log_deletion.sql"))?
        .execute(params![user, id, seq, group, expires_at])?;
    Ok(LoggedChange::from_row(
        seq,
        id.to_owned(),
        None,
        None,
        true,
        group,
    ))
}

/// The user's next change `seq`. The write transaction holds SQLite's one write lock, so
/// numbers are committed in order.
pub(crate) fn next_change_seq(tx: &Transaction<'_>, user: &str) -> Result<i64, StoreError> {
    Ok(tx
        .prepare_cached(include_str!("sql/sqlite/next_change_seq.sql"))?
        .query_row(params![user], |row| row.get(0))?)
}

/// Logs the latest state of a notification under `seq`, replacing its earlier change.
pub(crate) fn log_change(
    tx: &Transaction<'_>,
    user: &str,
    item: &FeedItem,
    seq: i64,
    group: Option<&str>,
    expires_at: Millis,
) -> Result<(), StoreError> {
    tx.prepare_cached(include_str!("sql/sqlite/log_change.sql"))?
        .execute(params![
            user,
            item.id,
            seq,
            item.read_state,
            item.user_action_state,
            group,
            expires_at
        ])?;
    Ok(())
}
