//! PostgreSQL: a post stored with its fan-out in one statement, the feed, a notification
//! changed or deleted, the expired purged.

use sqlx::postgres::PgRow;
use sqlx::Row;
use usernotify::core::feed::{ReadState, UserActionState};
use usernotify::core::{Millis, Notification};

use crate::changes::{LoggedChange, CHANGE_PUSH_LIFETIME};
use crate::deliveries::{reasons, DeliveryState, CHANGES_KIND};
use crate::notifications::{stored_resource, FanOut, FeedItem, FeedPage, Saved, StateUpdated};
use crate::store::postgres::PgStore;
use crate::store::StoreError;

impl PgStore {
    /// The notification and its fan-out in one statement (atomic without a transaction's
    /// extra round trips); then the replicas are told, if deliveries were queued.
    ///
    /// An update resets the earlier deliveries of the notification in place, each under a
    /// new id, so an attempt of the earlier version still in flight on some replica records
    /// nothing over the new one. Two posts with the same new `appNotificationId` at once:
    /// the second fails on the unique index and [`Store::save_notification`] runs it
    /// again, when it finds the first and updates it.
    #[allow(clippy::too_many_arguments)]
    pub async fn save_notification(
        &self,
        user: &str,
        uns: &str,
        notification: &Notification,
        candidate_id: &str,
        withheld: Option<&str>,
        max_notifications: usize,
        now: Millis,
    ) -> Result<Option<Saved>, StoreError> {
        let existing: Option<String> = match &notification.app_notification_id {
            Some(app_id) => {
                sqlx::query_scalar(include_str!(
                    "sql/postgres/save_notification_find_app_id.sql"
                ))
                .bind(user)
                .bind(app_id)
                .fetch_optional(&self.pool)
                .await?
            }
            None => None,
        };
        let updated = existing.is_some();
        let id = existing.unwrap_or_else(|| candidate_id.to_owned());
        let resource = stored_resource(notification, &id);
        let row = sqlx::query(include_str!("sql/postgres/save_notification.sql"))
            .bind(&id)
            .bind(user)
            .bind(&notification.app_notification_id)
            .bind(&resource)
            .bind(notification.priority.as_str())
            .bind(notification.expiration)
            .bind(now)
            .bind(notification.targets_web_push())
            .bind(&notification.target_host_name)
            .bind(uns)
            .bind(withheld)
            .bind(&notification.group_name)
            .bind(notification.display_close_at(now))
            .bind(updated)
            .bind(DeliveryState::Gone.as_str())
            .bind(DeliveryState::Skipped.as_str())
            .bind(DeliveryState::Queued.as_str())
            .bind(reasons::SUBSCRIPTION_GONE)
            .bind(reasons::TARGET_POLICY)
            .bind(reasons::TARGET_HOST)
            .bind(reasons::MUTED)
            .bind(reasons::QUIET_HOURS)
            .bind(ReadState::Unread.as_str())
            .bind(UserActionState::None.as_str())
            .fetch_optional(&self.pool)
            .await?;
        // No row: the subscription is not the user's, and nothing was stored.
        let Some(row) = row else {
            return Ok(None);
        };
        let count = |index: usize| -> Result<usize, StoreError> {
            let value: i64 = row.try_get(index)?;
            Ok(usize::try_from(value).unwrap_or(0))
        };
        let fan_out = FanOut {
            queued: count(1)?,
            skipped_by_policy: count(2)?,
            skipped_by_host: count(3)?,
            gone: count(4)?,
            skipped_by_preferences: count(5)?,
        };
        if fan_out.queued > 0 {
            self.announce_queued();
        }
        // The count before this post (the statement's snapshot): one more than the limit,
        // and the oldest go.
        let held: Option<i64> = row.try_get(6)?;
        let evicted = if !updated
            && held.unwrap_or(0) >= i64::try_from(max_notifications).unwrap_or(i64::MAX)
        {
            self.evict_oldest(user, &id, max_notifications).await?
        } else {
            Vec::new()
        };
        Ok(Some(Saved {
            item: FeedItem {
                id,
                resource,
                read_state: "unread".to_owned(),
                user_action_state: "none".to_owned(),
                created_at: row.try_get(0)?,
            },
            updated,
            fan_out,
            evicted,
        }))
    }

    /// Keeps the user's feed within `max`: deletes the oldest notifications beyond it (never
    /// `kept`, the one just posted), each logged as a deletion under the user's next seqs,
    /// in one statement. Two posts evicting at once may pick the same row; the one that
    /// finds it taken leaves the feed one over, which the next post mends.
    pub(super) async fn evict_oldest(
        &self,
        user: &str,
        kept: &str,
        max: usize,
    ) -> Result<Vec<LoggedChange>, StoreError> {
        let rows = sqlx::query(include_str!("sql/postgres/evict_oldest.sql"))
            .bind(user)
            .bind(kept)
            .bind(i64::try_from(max).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(LoggedChange::from_row(
                    row.try_get(0)?,
                    row.try_get(1)?,
                    None,
                    None,
                    true,
                    row.try_get(2)?,
                ))
            })
            .collect()
    }

    /// A page of the user's unexpired notifications, newest first (see
    /// [`Store::feed`]).
    pub async fn feed(
        &self,
        user: &str,
        before: Option<i64>,
        top: usize,
        now: Millis,
    ) -> Result<FeedPage, StoreError> {
        let rows = sqlx::query(include_str!("sql/postgres/feed.sql"))
            .bind(user)
            .bind(now)
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::try_from(top.saturating_add(1)).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| Ok((feed_item(row)?, row.try_get::<i64, _>(5)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(FeedPage::of(rows, top))
    }

    pub async fn notification(
        &self,
        user: &str,
        id: &str,
        now: Millis,
    ) -> Result<Option<FeedItem>, StoreError> {
        sqlx::query(include_str!("sql/postgres/notification.sql"))
            .bind(id)
            .bind(user)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(feed_item)
            .transpose()
    }

    /// One statement, so one round trip: the row locked and read (`old`), the update, and
    /// when it changed anything, the user's next `seq` (the `change_heads` row stays locked
    /// until the statement commits, so the user's seqs commit in order) and the logged change.
    pub async fn update_state(
        &self,
        user: &str,
        id: &str,
        read_state: Option<&str>,
        user_action_state: Option<&str>,
        now: Millis,
    ) -> Result<Option<StateUpdated>, StoreError> {
        let row = sqlx::query(include_str!("sql/postgres/update_state.sql"))
            .bind(id)
            .bind(user)
            .bind(now)
            .bind(read_state)
            .bind(user_action_state)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let item = feed_item(&row)?;
        let group: Option<String> = row.try_get(5)?;
        let seq: Option<i64> = row.try_get(6)?;
        let change = seq.map(|seq| {
            LoggedChange::from_row(
                seq,
                item.id.clone(),
                Some(&item.read_state),
                Some(&item.user_action_state),
                false,
                group,
            )
        });
        Ok(Some(StateUpdated { item, change }))
    }

    /// One statement: the notification (its deliveries by cascade), the user's next `seq`
    /// and the logged deletion.
    pub async fn delete_notification(
        &self,
        user: &str,
        id: &str,
    ) -> Result<Option<LoggedChange>, StoreError> {
        let row = sqlx::query(include_str!("sql/postgres/delete_notification.sql"))
            .bind(id)
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(LoggedChange::from_row(
                row.try_get(0)?,
                id.to_owned(),
                None,
                None,
                true,
                row.try_get(1)?,
            ))
        })
        .transpose()
    }

    /// Expired notifications (their deliveries go with them), their logged changes, and
    /// change-only pushes older than their lifetime, in one statement.
    pub async fn purge_expired(&self, now: Millis) -> Result<usize, StoreError> {
        let purged: i64 = sqlx::query_scalar(include_str!("sql/postgres/purge_expired.sql"))
            .bind(now)
            .bind(now - CHANGE_PUSH_LIFETIME)
            .bind(CHANGES_KIND)
            .fetch_one(&self.pool)
            .await?;
        Ok(usize::try_from(purged).unwrap_or(usize::MAX))
    }
}

pub(super) fn feed_item(row: &PgRow) -> Result<FeedItem, StoreError> {
    Ok(FeedItem {
        id: row.try_get(0)?,
        resource: row.try_get(1)?,
        read_state: row.try_get(2)?,
        user_action_state: row.try_get(3)?,
        created_at: row.try_get(4)?,
    })
}
