//! PostgreSQL: the VAPID key and the subscriptions.

use sqlx::Row;
use usernotify::core::Millis;

use crate::subscriptions::{NewSubscription, Registration, SubscriptionInfo};

use crate::store::postgres::PgStore;
use crate::store::StoreError;

impl PgStore {
    pub async fn subscription_count(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(include_str!("sql/postgres/subscription_count.sql"))
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Two statements, not one: a statement that inserts and reads back in one snapshot
    /// would read nothing when another replica's insert won the race.
    pub async fn vapid_key_or_insert(
        &self,
        candidate: &(Vec<u8>, Vec<u8>),
        now: Millis,
    ) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
        sqlx::query(include_str!("sql/postgres/vapid_key_insert.sql"))
            .bind(&candidate.0)
            .bind(&candidate.1)
            .bind(now)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query(include_str!("sql/postgres/vapid_key_select.sql"))
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// In a transaction under an advisory lock of the user, so that registrations of one
    /// user at once, on any replica, count each other: the limit is exact.
    pub async fn add_subscription(
        &self,
        user: &str,
        subscription: &NewSubscription,
        candidate_id: &str,
        max: usize,
        now: Millis,
    ) -> Result<Registration, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Its own statement: a statement's snapshot is taken before it runs, so a count in
        // the statement that takes the lock could miss a registration committed meanwhile.
        sqlx::query(include_str!("sql/postgres/add_subscription_lock_user.sql"))
            .bind(user)
            .execute(&mut *tx)
            .await?;
        // A new subscription's first push carries only changes made after it; re-registering
        // an endpoint refreshes it whatever the count.
        let row = sqlx::query(include_str!("sql/postgres/add_subscription.sql"))
            .bind(candidate_id)
            .bind(user)
            .bind(&subscription.endpoint)
            .bind(&subscription.p256dh)
            .bind(&subscription.auth)
            .bind(&subscription.target_host_name)
            .bind(&subscription.display_name)
            .bind(now)
            .bind(i64::try_from(max).unwrap_or(i64::MAX))
            .bind(subscription.push_host())
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        let Some(row) = row else {
            return Ok(Registration::AtLimit { held: max });
        };
        Ok(Registration::Registered(SubscriptionInfo {
            id: row.try_get(0)?,
            user: user.to_owned(),
            target_host_name: subscription.target_host_name.clone(),
            display_name: subscription.display_name.clone(),
            created_at: row.try_get(1)?,
            active: true,
        }))
    }

    pub async fn subscription(&self, id: &str) -> Result<Option<SubscriptionInfo>, StoreError> {
        let row = sqlx::query(include_str!("sql/postgres/subscription.sql"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(SubscriptionInfo {
                id: row.try_get(0)?,
                user: row.try_get(1)?,
                target_host_name: row.try_get(2)?,
                display_name: row.try_get(3)?,
                created_at: row.try_get(4)?,
                active: row.try_get(5)?,
            })
        })
        .transpose()
    }

    /// The subscription and its deliveries, in one statement.
    pub async fn delete_subscription(&self, user: &str, id: &str) -> Result<bool, StoreError> {
        let deleted: i64 = sqlx::query_scalar(include_str!("sql/postgres/delete_subscription.sql"))
            .bind(id)
            .bind(user)
            .fetch_one(&self.pool)
            .await?;
        Ok(deleted > 0)
    }
}
