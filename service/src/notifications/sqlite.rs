//! SQLite: a post stored with its fan-out, the feed, a notification changed or deleted, the
//! expired purged.

use rusqlite::{params, OptionalExtension, Transaction};
use usernotify::core::feed::{ReadState, UserActionState};
use usernotify::core::{Millis, Notification};

use crate::changes::sqlite::{log_change, log_deletion, next_change_seq};
use crate::changes::{LoggedChange, CHANGE_PUSH_LIFETIME};
use crate::deliveries::{reasons, DeliveryState, CHANGES_KIND};
use crate::notifications::{stored_resource, FanOut, FeedItem, FeedPage, Saved, StateUpdated};
use crate::store::sqlite::{write_transaction, SqliteStore};
use crate::store::StoreError;

impl SqliteStore {
    #[allow(clippy::too_many_arguments)]
    pub fn save_notification(
        &self,
        user: &str,
        uns: &str,
        notification: &Notification,
        candidate_id: &str,
        withheld: Option<&str>,
        max_notifications: usize,
        now: Millis,
    ) -> Result<Option<Saved>, StoreError> {
        let mut conn = self.lock();
        let tx = write_transaction(&mut conn)?;
        let owned = tx
            .prepare_cached(include_str!("sql/sqlite/save_notification_owned.sql"))?
            .query_row(params![uns, user], |_| Ok(()))
            .optional()?
            .is_some();
        if !owned {
            return Ok(None);
        }
        let existing: Option<(String, Millis)> = match &notification.app_notification_id {
            Some(app_id) => tx
                .prepare_cached(include_str!("sql/sqlite/save_notification_find_app_id.sql"))?
                .query_row(params![user, app_id], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?,
            None => None,
        };
        let updated = existing.is_some();
        let (id, created_at) = existing.unwrap_or_else(|| (candidate_id.to_owned(), now));
        let resource = stored_resource(notification, &id);
        let seq = next_seq(&tx)?;
        if updated {
            tx.prepare_cached(include_str!(
                "sql/sqlite/save_notification_update_notifications.sql"
            ))?
            .execute(params![
                id,
                resource,
                notification.priority.as_str(),
                notification.expiration,
                now,
                seq,
                notification.group_name,
                notification.display_close_at(now),
                ReadState::Unread.as_str(),
                UserActionState::None.as_str()
            ])?;
            // The update is news again: the push carries its state, so an earlier change of
            // it is no longer one to tell other devices.
            tx.prepare_cached(include_str!(
                "sql/sqlite/save_notification_delete_changes.sql"
            ))?
            .execute(params![user, id])?;
            // The update starts its deliveries afresh (new ids, so an attempt of the earlier
            // version still in flight records nothing over them).
            tx.prepare_cached(include_str!(
                "sql/sqlite/save_notification_delete_deliveries.sql"
            ))?
            .execute(params![id])?;
        } else {
            tx.prepare_cached(include_str!(
                "sql/sqlite/save_notification_insert_notifications.sql"
            ))?
            .execute(params![
                id,
                user,
                notification.app_notification_id,
                resource,
                notification.priority.as_str(),
                notification.expiration,
                now,
                seq,
                notification.group_name,
                notification.display_close_at(now)
            ])?;
        }
        let mut fan_out = FanOut::default();
        {
            let mut insert =
                tx.prepare_cached(include_str!("sql/sqlite/save_notification_fan_out.sql"))?;
            let rows = insert.query_map(
                params![
                    id,
                    notification.targets_web_push(),
                    notification.target_host_name,
                    now,
                    user,
                    withheld,
                    DeliveryState::Gone.as_str(),
                    DeliveryState::Skipped.as_str(),
                    DeliveryState::Queued.as_str(),
                    reasons::SUBSCRIPTION_GONE,
                    reasons::TARGET_POLICY,
                    reasons::TARGET_HOST
                ],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, Option<String>>(1)?)),
            )?;
            for row in rows {
                let (state, reason) = row?;
                fan_out.count(&state, reason.as_deref());
            }
        }
        let evicted = if updated {
            Vec::new()
        } else {
            evict_oldest(&tx, user, &id, max_notifications)?
        };
        tx.commit()?;
        Ok(Some(Saved {
            item: FeedItem {
                id,
                resource,
                read_state: "unread".to_owned(),
                user_action_state: "none".to_owned(),
                created_at,
            },
            updated,
            fan_out,
            evicted,
        }))
    }

    /// A page of the user's unexpired notifications, newest first: at most `top`, each older
    /// than `before` (a `seq`; the first page has none).
    pub fn feed(
        &self,
        user: &str,
        before: Option<i64>,
        top: usize,
        now: Millis,
    ) -> Result<FeedPage, StoreError> {
        let conn = self.read();
        let mut statement = conn.prepare_cached(include_str!("sql/sqlite/feed.sql"))?;
        let rows = statement.query_map(
            params![
                user,
                now,
                before.unwrap_or(i64::MAX),
                i64::try_from(top.saturating_add(1)).unwrap_or(i64::MAX)
            ],
            |row| Ok((feed_item(row)?, row.get::<_, i64>(5)?)),
        )?;
        let rows = rows.collect::<Result<Vec<_>, _>>()?;
        Ok(FeedPage::of(rows, top))
    }

    pub fn notification(
        &self,
        user: &str,
        id: &str,
        now: Millis,
    ) -> Result<Option<FeedItem>, StoreError> {
        Ok(self
            .read()
            .query_row(
                include_str!("sql/sqlite/notification.sql"),
                params![id, user, now],
                feed_item,
            )
            .optional()?)
    }

    pub fn update_state(
        &self,
        user: &str,
        id: &str,
        read_state: Option<&str>,
        user_action_state: Option<&str>,
        now: Millis,
    ) -> Result<Option<StateUpdated>, StoreError> {
        let mut conn = self.lock();
        let tx = write_transaction(&mut conn)?;
        let before: Option<(String, String)> = tx
            .prepare_cached(include_str!(
                "sql/sqlite/update_state_select_notifications.sql"
            ))?
            .query_row(params![id, user, now], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let Some((was_read, was_action)) = before else {
            return Ok(None);
        };
        let (item, group, expires_at): (FeedItem, Option<String>, Millis) = tx
            .prepare_cached(include_str!(
                "sql/sqlite/update_state_update_notifications.sql"
            ))?
            .query_row(params![id, user, read_state, user_action_state], |row| {
                Ok((feed_item(row)?, row.get(5)?, row.get(6)?))
            })?;
        let change = if item.read_state != was_read || item.user_action_state != was_action {
            let seq = next_change_seq(&tx, user)?;
            log_change(&tx, user, &item, seq, group.as_deref(), expires_at)?;
            Some(LoggedChange::from_row(
                seq,
                item.id.clone(),
                Some(&item.read_state),
                Some(&item.user_action_state),
                false,
                group,
            ))
        } else {
            None
        };
        tx.commit()?;
        Ok(Some(StateUpdated { item, change }))
    }

    pub fn delete_notification(
        &self,
        user: &str,
        id: &str,
    ) -> Result<Option<LoggedChange>, StoreError> {
        let mut conn = self.lock();
        let tx = write_transaction(&mut conn)?;
        let deleted: Option<(Option<String>, Millis)> = tx
            .prepare_cached(include_str!("sql/sqlite/delete_notification.sql"))?
            .query_row(params![id, user], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let Some((group, expires_at)) = deleted else {
            return Ok(None);
        };
        let change = log_deletion(&tx, user, id, group, expires_at)?;
        tx.commit()?;
        Ok(Some(change))
    }

    /// Expired notifications (their deliveries go with them), their logged changes, and
    /// change-only pushes older than their lifetime.
    pub fn purge_expired(&self, now: Millis) -> Result<usize, StoreError> {
        let mut conn = self.lock();
        let tx = write_transaction(&mut conn)?;
        let purged = tx.execute(
            include_str!("sql/sqlite/purge_expired_delete_notifications.sql"),
            params![now],
        )?;
        tx.execute(
            include_str!("sql/sqlite/purge_expired_delete_changes.sql"),
            params![now],
        )?;
        tx.execute(
            include_str!("sql/sqlite/purge_expired_delete_deliveries.sql"),
            params![now - CHANGE_PUSH_LIFETIME, CHANGES_KIND],
        )?;
        tx.commit()?;
        Ok(purged)
    }
}

/// Keeps the user's feed within `max`: deletes the oldest notifications beyond it (never
/// `kept`, the one just posted), each logged as a deletion. The feed's counter says whether
/// there is anything to do, so a post within the limit reads one row.
pub(super) fn evict_oldest(
    tx: &Transaction<'_>,
    user: &str,
    kept: &str,
    max: usize,
) -> Result<Vec<LoggedChange>, StoreError> {
    let held: i64 = tx
        .prepare_cached(include_str!(
            "sql/sqlite/evict_oldest_select_feed_counts.sql"
        ))?
        .query_row(params![user], |row| row.get(0))
        .optional()?
        .unwrap_or(0);
    let over = held.saturating_sub(i64::try_from(max).unwrap_or(i64::MAX));
    if over <= 0 {
        return Ok(Vec::new());
    }
    let evicted: Vec<(String, Option<String>, Millis)> = tx
        .prepare_cached(include_str!(
            "sql/sqlite/evict_oldest_delete_notifications.sql"
        ))?
        .query_map(params![user, kept, over], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    evicted
        .into_iter()
        .map(|(id, group, expires_at)| log_deletion(tx, user, &id, group, expires_at))
        .collect()
}

pub(super) fn feed_item(row: &rusqlite::Row<'_>) -> rusqlite::Result<FeedItem> {
    Ok(FeedItem {
        id: row.get(0)?,
        resource: row.get(1)?,
        read_state: row.get(2)?,
        user_action_state: row.get(3)?,
        created_at: row.get(4)?,
    })
}

/// A counter that orders the feed: a post or an update makes a notification the newest.
pub(super) fn next_seq(tx: &Transaction<'_>) -> Result<i64, StoreError> {
    Ok(tx
        .prepare_cached(include_str!("sql/sqlite/next_seq.sql"))?
        .query_row([], |row| row.get(0))?)
}
