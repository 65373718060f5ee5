//! PostgreSQL: the users' change logs and pushes that only carry changes.

use sqlx::Row;
use usernotify::core::feed::{ReadState, UserActionState};
use usernotify::core::Millis;

use crate::changes::LoggedChange;
use crate::deliveries::{DeliveryState, CHANGES_KIND};
use crate::store::postgres::PgStore;
use crate::store::StoreError;
use usernotify::core::sync::OnDevice;

impl PgStore {
    pub async fn changes_since(
        &self,
        user: &str,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<LoggedChange>, i64), StoreError> {
        let rows = sqlx::query(include_str!("sql/postgres/changes_since.sql"))
            .bind(user)
            .bind(after)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        let mut head = 0;
        let mut changes = Vec::with_capacity(rows.len());
        for row in &rows {
            head = row.try_get(6)?;
            let Some(seq) = row.try_get::<Option<i64>, _>(0)? else {
                continue;
            };
            let read: Option<String> = row.try_get(2)?;
            let action: Option<String> = row.try_get(3)?;
            changes.push(LoggedChange::from_row(
                seq,
                row.try_get(1)?,
                read.as_deref(),
                action.as_deref(),
                row.try_get(4)?,
                row.try_get(5)?,
            ));
        }
        Ok((changes, head))
    }

    pub async fn on_devices(
        &self,
        user: &str,
        subscription: &Option<String>,
        groups: &[String],
    ) -> Result<Vec<(String, OnDevice)>, StoreError> {
        let rows = sqlx::query(include_str!("sql/postgres/on_devices.sql"))
            .bind(user)
            .bind(groups)
            .bind(subscription)
            .bind(DeliveryState::Sent.as_str())
            .bind(ReadState::Unread.as_str())
            .bind(UserActionState::Dismissed.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get(0)?,
                    OnDevice {
                        id: row.try_get(1)?,
                        group: row.try_get(2)?,
                        counts: row.try_get(3)?,
                        posted: row.try_get(4)?,
                        expiration: row.try_get(5)?,
                        display_until: row.try_get(6)?,
                    },
                ))
            })
            .collect()
    }

    pub async fn queue_change_pushes(
        &self,
        subscriptions: &[String],
        now: Millis,
    ) -> Result<usize, StoreError> {
        let done = sqlx::query(include_str!("sql/postgres/queue_change_pushes.sql"))
            .bind(subscriptions)
            .bind(now)
            .bind(DeliveryState::Queued.as_str())
            .bind(CHANGES_KIND)
            .execute(&self.pool)
            .await?;
        let queued = usize::try_from(done.rows_affected()).unwrap_or(0);
        if queued > 0 {
            self.announce_queued();
        }
        Ok(queued)
    }
}
