//! SQLite: the VAPID key and the subscriptions.

use rusqlite::{params, OptionalExtension};
use usernotify::core::Millis;

use crate::subscriptions::{NewSubscription, Registration, SubscriptionInfo};

use crate::store::sqlite::{write_transaction, SqliteStore};
use crate::store::StoreError;

impl SqliteStore {
    pub fn subscription_count(&self) -> Result<u64, StoreError> {
        self.count(include_str!("sql/sqlite/subscription_count.sql"))
    }

    /// The stored VAPID key pair `(private, public)`; `candidate` is stored on first use.
    pub fn vapid_key_or_insert(
        &self,
        candidate: &(Vec<u8>, Vec<u8>),
        now: Millis,
    ) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
        let mut conn = self.lock();
        let tx = write_transaction(&mut conn)?;
        tx.execute(
            include_str!("sql/sqlite/vapid_key_insert.sql"),
            params![candidate.0, candidate.1, now],
        )?;
        let pair = tx.query_row(include_str!("sql/sqlite/vapid_key_select.sql"), [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
        tx.commit()?;
        Ok(pair)
    }

    /// Registers a subscription (or refreshes the user's one for the same endpoint), unless
    /// the user already has `max` that can be pushed to.
    pub fn add_subscription(
        &self,
        user: &str,
        subscription: &NewSubscription,
        candidate_id: &str,
        max: usize,
        now: Millis,
    ) -> Result<Registration, StoreError> {
        let mut conn = self.lock();
        let tx = write_transaction(&mut conn)?;
        let existing: Option<(String, Millis)> = tx
            .query_row(
                include_str!("sql/sqlite/add_subscription_find_endpoint.sql"),
                params![user, subscription.endpoint],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let (id, created_at) = match existing {
            Some((id, created_at)) => {
                tx.execute(
                    include_str!("sql/sqlite/add_subscription_refresh.sql"),
                    params![
                        id,
                        subscription.p256dh,
                        subscription.auth,
                        subscription.target_host_name,
                        subscription.display_name,
                        now
                    ],
                )?;
                (id, created_at)
            }
            None => {
                let held: i64 = tx.query_row(
                    include_str!("sql/sqlite/add_subscription_count_held.sql"),
                    params![user],
                    |row| row.get(0),
                )?;
                if usize::try_from(held).unwrap_or(usize::MAX) >= max {
                    return Ok(Registration::AtLimit { held: max });
                }
                // A new subscription's first push carries only changes made after it.
                tx.execute(
                    include_str!("sql/sqlite/add_subscription_insert.sql"),
                    params![
                        candidate_id,
                        user,
                        subscription.endpoint,
                        subscription.p256dh,
                        subscription.auth,
                        subscription.target_host_name,
                        subscription.display_name,
                        now,
                        subscription.push_host()
                    ],
                )?;
                (candidate_id.to_owned(), now)
            }
        };
        tx.commit()?;
        Ok(Registration::Registered(SubscriptionInfo {
            id,
            user: user.to_owned(),
            target_host_name: subscription.target_host_name.clone(),
            display_name: subscription.display_name.clone(),
            created_at,
            active: true,
        }))
    }

    pub fn subscription(&self, id: &str) -> Result<Option<SubscriptionInfo>, StoreError> {
        let conn = self.read();
        let mut statement = conn.prepare_cached(include_str!("sql/sqlite/subscription.sql"))?;
        let found = statement
            .query_row(params![id], |row| {
                Ok(SubscriptionInfo {
                    id: row.get(0)?,
                    user: row.get(1)?,
                    target_host_name: row.get(2)?,
                    display_name: row.get(3)?,
                    created_at: row.get(4)?,
                    active: row.get(5)?,
                })
            })
            .optional()?;
        Ok(found)
    }

    pub fn delete_subscription(&self, user: &str, id: &str) -> Result<bool, StoreError> {
        let changed = self.lock().execute(
            include_str!("sql/sqlite/delete_subscription.sql"),
            params![id, user],
        )?;
        Ok(changed > 0)
    }
}
