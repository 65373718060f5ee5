//! The SQLite backend: one process, one file. The embedded default (`make demo`, a single
//! small install).
//!
//! One writer connection behind a mutex and a few reader connections (WAL lets them read
//! while the writer writes), so that one user's long read or write never queues another
//! user's read; [`SqliteBackend`] runs each call on tokio's blocking pool. A claim is kept in
//! this process (the set of deliveries being sent): a file has one process, and a restart
//! finds every unfinished delivery due again at once.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{
    params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
};
use usernotify::core::{Millis, Notification};

use crate::deliveries::{reasons, Attempted, DeliveryInfo, DeliveryState, Verdict};

use super::{
    delivery_info, queue_stats, stored_resource, ClaimShares, DueDelivery, FanOut, FeedItem,
    FeedPage, LoggedChange, NewSubscription, OnDevice, QueueStats, Registration, Saved,
    StateUpdated, Store, StoreError, StoreFuture, SubscriptionInfo, CHANGE_PUSH_LIFETIME,
};

/// Reader connections beside the writer: enough that readers do not wait for each other on
/// a small machine; each one is a file handle and a page cache.
const READERS: usize = 4;

/// A statement of this backend, from its file in `sql/sqlite/` (beside the other
/// backend's statement of the same name).
macro_rules! sql {
    ($name:literal) => {
        include_str!(concat!("sql/sqlite/", $name, ".sql"))
    };
}

/// Schema migrations, applied in order; `PRAGMA user_version` counts those already applied.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/sqlite/0001_schema.sql"),
    include_str!("migrations/sqlite/0002_feed_seq_index.sql"),
    include_str!("migrations/sqlite/0003_delivery_states.sql"),
    include_str!("migrations/sqlite/0004_changes_and_preferences.sql"),
    include_str!("migrations/sqlite/0005_shares_and_feed_counts.sql"),
];

/// The SQLite file, and the deliveries this process is sending.
pub struct SqliteStore {
    /// The one connection that writes (SQLite has one writer at a time anyway).
    writer: Mutex<Connection>,
    /// Connections that only read, taken in turn.
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// Deliveries claimed by [`SqliteStore::claim_due`] and not yet recorded or released.
    claimed: Mutex<HashSet<i64>>,
}

impl SqliteStore {
    /// Opens (creating with owner-only permissions if absent) and migrates the database, and
    /// opens its readers.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        create_private_file(path)?;
        let mut writer = Connection::open(path)?;
        setup(&writer)?;
        // WAL lets the readers read while the writer writes; returns the mode as a row.
        let _mode: String = writer.query_row(sql!("open_wal"), [], |row| row.get(0))?;
        writer.pragma_update(None, "synchronous", "NORMAL")?;
        migrate(&mut writer)?;
        let readers = (0..READERS)
            .map(|_| {
                let reader = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                setup(&reader)?;
                Ok(Mutex::new(reader))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(SqliteStore {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            claimed: Mutex::new(HashSet::new()),
        })
    }

    /// The writer. A panic while holding the lock leaves SQLite consistent (transactions
    /// roll back).
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A reader: the first free one, else the next in turn (waiting for it).
    fn read(&self) -> MutexGuard<'_, Connection> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let count = self.readers.len();
        for offset in 0..count {
            if let Some(Ok(reader)) = self
                .readers
                .get((start + offset) % count)
                .map(Mutex::try_lock)
            {
                return reader;
            }
        }
        match self.readers.get(start % count.max(1)) {
            Some(reader) => reader
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
            None => self.lock(),
        }
    }

    fn claims(&self) -> MutexGuard<'_, HashSet<i64>> {
        // Only whole ids are ever inserted or removed, so a poisoned set is still whole.
        self.claimed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The schema version the file is at.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .read()
            .query_row(sql!("schema_version"), [], |row| row.get(0))?)
    }

    /// Through the writer: the service is ready when it can write (a post waits for the
    /// writer), not merely read.
    pub fn ping(&self) -> Result<(), StoreError> {
        let _one: i64 = self.lock().query_row(sql!("ping"), [], |row| row.get(0))?;
        Ok(())
    }

    pub fn queue_stats(&self, now: Millis) -> Result<QueueStats, StoreError> {
        let (depth, oldest): (i64, Option<Millis>) =
            self.read().query_row(sql!("queue_stats"), [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?;
        Ok(queue_stats(depth, oldest, now))
    }

    pub fn subscription_count(&self) -> Result<u64, StoreError> {
        self.count(sql!("subscription_count"))
    }

    /// The one count a statement without parameters selects, as the caller's integer type.
    fn count<N: TryFrom<i64> + Default>(&self, statement: &str) -> Result<N, StoreError> {
        let count: i64 = self.read().query_row(statement, [], |row| row.get(0))?;
        Ok(N::try_from(count).unwrap_or_default())
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
            sql!("vapid_key_insert"),
            params![candidate.0, candidate.1, now],
        )?;
        let pair = tx.query_row(sql!("vapid_key_select"), [], |row| {
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
                sql!("add_subscription_find_endpoint"),
                params![user, subscription.endpoint],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let (id, created_at) = match existing {
            Some((id, created_at)) => {
                tx.execute(
                    sql!("add_subscription_refresh"),
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
                let held: i64 =
                    tx.query_row(sql!("add_subscription_count_held"), params![user], |row| {
                        row.get(0)
                    })?;
                if usize::try_from(held).unwrap_or(usize::MAX) >= max {
                    return Ok(Registration::AtLimit { held: max });
                }
                // A new subscription's first push carries only changes made after it.
                tx.execute(
                    sql!("add_subscription_insert"),
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
        let mut statement = conn.prepare_cached(sql!("subscription"))?;
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
        let changed = self
            .lock()
            .execute(sql!("delete_subscription"), params![id, user])?;
        Ok(changed > 0)
    }

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
            .prepare_cached(sql!("save_notification_owned"))?
            .query_row(params![uns, user], |_| Ok(()))
            .optional()?
            .is_some();
        if !owned {
            return Ok(None);
        }
        let existing: Option<(String, Millis)> = match &notification.app_notification_id {
            Some(app_id) => tx
                .prepare_cached(sql!("save_notification_find_app_id"))?
                .query_row(params![user, app_id], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?,
            None => None,
        };
        let updated = existing.is_some();
        let (id, created_at) = existing.unwrap_or_else(|| (candidate_id.to_owned(), now));
        let resource = stored_resource(notification, &id);
        let seq = next_seq(&tx)?;
        if updated {
            tx.prepare_cached(sql!("save_notification_update_notifications"))?
                .execute(params![
                    id,
                    resource,
                    notification.priority.as_str(),
                    notification.expiration,
                    now,
                    seq,
                    notification.group_name,
                    notification.display_close_at(now)
                ])?;
            // The update is news again: the push carries its state, so an earlier change of
            // it is no longer one to tell other devices.
            tx.prepare_cached(sql!("save_notification_delete_changes"))?
                .execute(params![user, id])?;
            // The update starts its deliveries afresh (new ids, so an attempt of the earlier
            // version still in flight records nothing over them).
            tx.prepare_cached(sql!("save_notification_delete_deliveries"))?
                .execute(params![id])?;
        } else {
            tx.prepare_cached(sql!("save_notification_insert_notifications"))?
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
            let mut insert = tx.prepare_cached(sql!("save_notification_fan_out"))?;
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
        let mut statement = conn.prepare_cached(sql!("feed"))?;
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
            .query_row(sql!("notification"), params![id, user, now], feed_item)
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
            .prepare_cached(sql!("update_state_select_notifications"))?
            .query_row(params![id, user, now], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let Some((was_read, was_action)) = before else {
            return Ok(None);
        };
        let (item, group, expires_at): (FeedItem, Option<String>, Millis) = tx
            .prepare_cached(sql!("update_state_update_notifications"))?
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
            .prepare_cached(sql!("delete_notification"))?
            .query_row(params![id, user], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let Some((group, expires_at)) = deleted else {
            return Ok(None);
        };
        let change = log_deletion(&tx, user, id, group, expires_at)?;
        tx.commit()?;
        Ok(Some(change))
    }

    pub fn changes_since(
        &self,
        user: &str,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<LoggedChange>, i64), StoreError> {
        let conn = self.read();
        let head: i64 = conn
            .prepare_cached(sql!("changes_since_select_change_heads"))?
            .query_row(params![user], |row| row.get(0))
            .optional()?
            .unwrap_or(0);
        let mut statement = conn.prepare_cached(sql!("changes_since_select_changes"))?;
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
        let mut statement = conn.prepare_cached(sql!("on_devices"))?;
        let rows = statement.query_map(
            params![user, groups, subscription, DeliveryState::Sent.as_str()],
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
                .prepare_cached(sql!("queue_change_pushes"))?
                .execute(params![subscription, now, DeliveryState::Queued.as_str()])?;
        }
        tx.commit()?;
        Ok(queued)
    }

    pub fn preferences(&self, user: &str) -> Result<Option<(String, i64)>, StoreError> {
        Ok(self
            .read()
            .prepare_cached(sql!("preferences"))?
            .query_row(params![user], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?)
    }

    pub fn put_preferences(
        &self,
        user: &str,
        body: &str,
        expected: Option<i64>,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let conn = self.lock();
        let changed = match expected {
            None => conn.execute(
                sql!("put_preferences_insert_preferences"),
                params![user, body, now],
            )?,
            Some(version) => conn.execute(
                sql!("put_preferences_update_preferences"),
                params![user, body, now, version],
            )?,
        };
        Ok(changed > 0)
    }

    pub fn deliveries(
        &self,
        user: &str,
        id: &str,
        now: Millis,
    ) -> Result<Option<Vec<DeliveryInfo>>, StoreError> {
        let conn = self.read();
        let exists = conn
            .prepare_cached(sql!("deliveries_select_notifications"))?
            .query_row(params![id, user, now], |_| Ok(()))
            .optional()?
            .is_some();
        if !exists {
            return Ok(None);
        }
        let mut statement = conn.prepare_cached(sql!("deliveries_select_deliveries"))?;
        let rows = statement.query_map(params![id], |row| {
            let state: String = row.get(1)?;
            Ok(delivery_info(
                row.get(0)?,
                &state,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
            ))
        })?;
        Ok(Some(rows.collect::<Result<Vec<_>, _>>()?))
    }

    /// Expired notifications (their deliveries go with them), their logged changes, and
    /// change-only pushes older than their lifetime.
    pub fn purge_expired(&self, now: Millis) -> Result<usize, StoreError> {
        let mut conn = self.lock();
        let tx = write_transaction(&mut conn)?;
        let purged = tx.execute(sql!("purge_expired_delete_notifications"), params![now])?;
        tx.execute(sql!("purge_expired_delete_changes"), params![now])?;
        tx.execute(
            sql!("purge_expired_delete_deliveries"),
            params![now - CHANGE_PUSH_LIFETIME],
        )?;
        tx.commit()?;
        Ok(purged)
    }

    /// Due deliveries not already claimed by this process, shared out by `shares` (see
    /// [`ClaimShares`]); the lease is not needed, since no other process shares the file.
    ///
    /// The due index holds each delivery's user and push host, so the rows of users and
    /// hosts that have no room are passed over in the index. Of the first due rows left (a
    /// window of a few claims' worth), each user and host gets no more than its room, and
    /// users take turns: every user's oldest first, then every user's second, and so on.
    pub fn claim_due(
        &self,
        shares: &ClaimShares,
        now: Millis,
        limit: usize,
        _lease_until: Millis,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let conn = self.read();
        let mut claimed = self.claims();
        // The ids and names to leave out travel as JSON, so the statement stays cached.
        let skip = json_ids(&claimed);
        // A change-only push has no notification (its lifetime is the queue's, ?11), and
        // every push carries the subscription's changes since its last (at most ?12) and the
        // user's unread count at ?1 (now): the user's counter, less the unread notifications
        // that expired and are not purged yet (a range of the user's expiry index, a
        // minute's worth at most), so that its cost does not grow with the feed.
        let mut statement = conn.prepare_cached(sql!("claim_due"))?;
        let count = |number: usize| i64::try_from(number).unwrap_or(i64::MAX);
        let rows = statement.query_map(
            params![
                now,
                count(limit),
                skip,
                shares.full_users_json(),
                shares.full_hosts_json(),
                count(limit.saturating_mul(ClaimShares::WINDOW)),
                shares.user_rooms_json(),
                shares.host_rooms_json(),
                count(shares.per_user),
                count(shares.per_host),
                CHANGE_PUSH_LIFETIME,
                count(usernotify::core::sync::MAX_CHANGES_PER_PUSH)
            ],
            due_delivery,
        )?;
        let due = rows.collect::<Result<Vec<_>, _>>()?;
        claimed.extend(due.iter().map(|delivery| delivery.id));
        Ok(due)
    }

    pub fn release_claims(&self, ids: &[i64]) -> Result<(), StoreError> {
        let mut claimed = self.claims();
        for id in ids {
            claimed.remove(id);
        }
        Ok(())
    }

    /// When the next queued delivery a claim with `shares` could take is due, if any
    /// (walks the due index and stops at the first row not passed over).
    pub fn next_due(&self, shares: &ClaimShares) -> Result<Option<Millis>, StoreError> {
        let conn = self.read();
        let skip = json_ids(&self.claims());
        let mut statement = conn.prepare_cached(sql!("next_due"))?;
        Ok(statement
            .query_row(
                params![skip, shares.full_users_json(), shares.full_hosts_json()],
                |row| row.get(0),
            )
            .optional()?)
    }

    pub fn pending_deliveries(&self) -> Result<usize, StoreError> {
        self.count(sql!("pending_deliveries"))
    }

    pub fn record_outcomes(
        &self,
        outcomes: &[Attempted],
        now: Millis,
    ) -> Result<Vec<String>, StoreError> {
        let mut conn = self.lock();
        let tx = write_transaction(&mut conn)?;
        let mut forgotten = Vec::new();
        for outcome in outcomes {
            let (state, status, reason, next_at) = outcome.stored();
            tx.prepare_cached(sql!("record_outcome"))?.execute(params![
                outcome.delivery_id,
                state.as_str(),
                outcome.attempts,
                status,
                reason,
                next_at,
                now
            ])?;
            match &outcome.verdict {
                Verdict::SubscriptionGone {
                    subscription_id, ..
                } if forget_subscription(&tx, subscription_id, now)? => {
                    forgotten.push(subscription_id.clone());
                }
                // An endpoint that did not answer: the subscription's other deliveries wait
                // as long, instead of each holding a sender until it times out too.
                Verdict::Retry {
                    next_at,
                    unanswered: Some(subscription_id),
                    ..
                } => {
                    tx.prepare_cached(sql!("record_outcomes_rest_unanswered"))?
                        .execute(params![subscription_id, outcome.delivery_id, next_at])?;
                }
                _ => {}
            }
        }
        for (subscription, seq) in Attempted::cursors(outcomes) {
            tx.prepare_cached(sql!("record_outcomes_cursor"))?
                .execute(params![subscription, seq])?;
        }
        tx.commit()?;
        drop(conn);
        let mut claimed = self.claims();
        for outcome in outcomes {
            claimed.remove(&outcome.delivery_id);
        }
        Ok(forgotten)
    }
}

/// [`SqliteStore`] behind [`Store`]: each call runs on tokio's blocking pool, so SQLite never
/// stalls the async workers. Cheap to clone.
#[derive(Clone)]
pub struct SqliteBackend(Arc<SqliteStore>);

impl SqliteBackend {
    /// Opens (creating if needed) and migrates the file, off the async workers.
    pub async fn open(path: PathBuf) -> Result<SqliteBackend, StoreError> {
        let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
            .await
            .map_err(|_| StoreError::TaskFailed)??;
        Ok(SqliteBackend(Arc::new(store)))
    }

    /// Runs `call` on the blocking pool.
    fn run<T, F>(&self, call: F) -> StoreFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(&SqliteStore) -> Result<T, StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.0);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || call(&store))
                .await
                .map_err(|_| StoreError::TaskFailed)?
        })
    }
}

impl Store for SqliteBackend {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn schema_version(&self) -> StoreFuture<'_, i64> {
        self.run(|store| store.schema_version())
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        self.run(|store| store.ping())
    }

    fn queue_stats_at(&self, now: Millis) -> StoreFuture<'_, QueueStats> {
        self.run(move |store| store.queue_stats(now))
    }

    fn subscription_count(&self) -> StoreFuture<'_, u64> {
        self.run(|store| store.subscription_count())
    }

    fn vapid_key_or_insert(
        &self,
        candidate: (Vec<u8>, Vec<u8>),
        now: Millis,
    ) -> StoreFuture<'_, (Vec<u8>, Vec<u8>)> {
        self.run(move |store| store.vapid_key_or_insert(&candidate, now))
    }

    fn add_subscription(
        &self,
        user: String,
        subscription: NewSubscription,
        candidate_id: String,
        max: usize,
        now: Millis,
    ) -> StoreFuture<'_, Registration> {
        self.run(move |store| store.add_subscription(&user, &subscription, &candidate_id, max, now))
    }

    fn subscription(&self, id: String) -> StoreFuture<'_, Option<SubscriptionInfo>> {
        self.run(move |store| store.subscription(&id))
    }

    fn delete_subscription(&self, user: String, id: String) -> StoreFuture<'_, bool> {
        self.run(move |store| store.delete_subscription(&user, &id))
    }

    fn save_notification(
        &self,
        user: String,
        uns: String,
        notification: Notification,
        candidate_id: String,
        withheld: Option<&'static str>,
        max_notifications: usize,
        now: Millis,
    ) -> StoreFuture<'_, Option<Saved>> {
        self.run(move |store| {
            store.save_notification(
                &user,
                &uns,
                &notification,
                &candidate_id,
                withheld,
                max_notifications,
                now,
            )
        })
    }

    fn feed(
        &self,
        user: String,
        before: Option<i64>,
        top: usize,
        now: Millis,
    ) -> StoreFuture<'_, FeedPage> {
        self.run(move |store| store.feed(&user, before, top, now))
    }

    fn notification(
        &self,
        user: String,
        id: String,
        now: Millis,
    ) -> StoreFuture<'_, Option<FeedItem>> {
        self.run(move |store| store.notification(&user, &id, now))
    }

    fn update_state(
        &self,
        user: String,
        id: String,
        read_state: Option<&'static str>,
        user_action_state: Option<&'static str>,
        now: Millis,
    ) -> StoreFuture<'_, Option<StateUpdated>> {
        self.run(move |store| store.update_state(&user, &id, read_state, user_action_state, now))
    }

    fn delete_notification(
        &self,
        user: String,
        id: String,
    ) -> StoreFuture<'_, Option<LoggedChange>> {
        self.run(move |store| store.delete_notification(&user, &id))
    }

    fn changes_since(
        &self,
        user: String,
        after: i64,
        limit: usize,
    ) -> StoreFuture<'_, (Vec<LoggedChange>, i64)> {
        self.run(move |store| store.changes_since(&user, after, limit))
    }

    fn on_devices(
        &self,
        user: String,
        subscription: Option<String>,
        groups: Vec<String>,
    ) -> StoreFuture<'_, Vec<(String, OnDevice)>> {
        self.run(move |store| store.on_devices(&user, &subscription, &groups))
    }

    fn queue_change_pushes(
        &self,
        subscriptions: Vec<String>,
        now: Millis,
    ) -> StoreFuture<'_, usize> {
        self.run(move |store| store.queue_change_pushes(&subscriptions, now))
    }

    fn preferences(&self, user: String) -> StoreFuture<'_, Option<(String, i64)>> {
        self.run(move |store| store.preferences(&user))
    }

    fn put_preferences(
        &self,
        user: String,
        body: String,
        expected: Option<i64>,
        now: Millis,
    ) -> StoreFuture<'_, bool> {
        self.run(move |store| store.put_preferences(&user, &body, expected, now))
    }

    fn deliveries(
        &self,
        user: String,
        id: String,
        now: Millis,
    ) -> StoreFuture<'_, Option<Vec<DeliveryInfo>>> {
        self.run(move |store| store.deliveries(&user, &id, now))
    }

    fn purge_expired(&self, now: Millis) -> StoreFuture<'_, usize> {
        self.run(move |store| store.purge_expired(now))
    }

    fn claim_due(
        &self,
        now: Millis,
        limit: usize,
        lease_until: Millis,
        shares: ClaimShares,
    ) -> StoreFuture<'_, Vec<DueDelivery>> {
        self.run(move |store| store.claim_due(&shares, now, limit, lease_until))
    }

    fn release_claims(&self, ids: Vec<i64>) -> StoreFuture<'_, ()> {
        self.run(move |store| store.release_claims(&ids))
    }

    fn next_due(&self, shares: ClaimShares) -> StoreFuture<'_, Option<Millis>> {
        self.run(move |store| store.next_due(&shares))
    }

    fn pending_deliveries(&self) -> StoreFuture<'_, usize> {
        self.run(|store| store.pending_deliveries())
    }

    fn record_outcomes(
        &self,
        outcomes: Arc<Vec<Attempted>>,
        now: Millis,
    ) -> StoreFuture<'_, Vec<String>> {
        self.run(move |store| store.record_outcomes(&outcomes, now))
    }
}

/// The claimed ids as a JSON array, for `json_each`.
fn json_ids(ids: &HashSet<i64>) -> String {
    serde_json::to_string(&ids.iter().collect::<Vec<_>>()).unwrap_or_else(|_| "[]".to_owned())
}

/// Forgets a subscription's endpoint and keys; what was still queued for it is gone too.
/// False when it was already forgotten.
fn forget_subscription(tx: &Transaction<'_>, id: &str, now: Millis) -> Result<bool, StoreError> {
    let changed = tx
        .prepare_cached(sql!("forget_subscription_update_subscriptions"))?
        .execute(params![id, now])?;
    tx.prepare_cached(sql!("forget_subscription_update_deliveries"))?
        .execute(params![
            id,
            now,
            DeliveryState::Gone.as_str(),
            reasons::SUBSCRIPTION_GONE
        ])?;
    Ok(changed > 0)
}

/// Logs the deletion of a notification under the user's next `seq`, so every device drops it.
fn log_deletion(
    tx: &Transaction<'_>,
    user: &str,
    id: &str,
    group: Option<String>,
    expires_at: Millis,
) -> Result<LoggedChange, StoreError> {
    let seq = next_change_seq(tx, user)?;
    tx.prepare_cached(sql!("log_deletion"))?
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

/// Keeps the user's feed within `max`: deletes the oldest notifications beyond it (never
/// `kept`, the one just posted), each logged as a deletion. The feed's counter says whether
/// there is anything to do, so a post within the limit reads one row.
fn evict_oldest(
    tx: &Transaction<'_>,
    user: &str,
    kept: &str,
    max: usize,
) -> Result<Vec<LoggedChange>, StoreError> {
    let held: i64 = tx
        .prepare_cached(sql!("evict_oldest_select_feed_counts"))?
        .query_row(params![user], |row| row.get(0))
        .optional()?
        .unwrap_or(0);
    let over = held.saturating_sub(i64::try_from(max).unwrap_or(i64::MAX));
    if over <= 0 {
        return Ok(Vec::new());
    }
    let evicted: Vec<(String, Option<String>, Millis)> = tx
        .prepare_cached(sql!("evict_oldest_delete_notifications"))?
        .query_map(params![user, kept, over], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    evicted
        .into_iter()
        .map(|(id, group, expires_at)| log_deletion(tx, user, &id, group, expires_at))
        .collect()
}

fn feed_item(row: &rusqlite::Row<'_>) -> rusqlite::Result<FeedItem> {
    Ok(FeedItem {
        id: row.get(0)?,
        resource: row.get(1)?,
        read_state: row.get(2)?,
        user_action_state: row.get(3)?,
        created_at: row.get(4)?,
    })
}

fn due_delivery(row: &rusqlite::Row<'_>) -> rusqlite::Result<DueDelivery> {
    Ok(DueDelivery {
        id: row.get(0)?,
        attempts: row.get(1)?,
        subscription_id: row.get(2)?,
        endpoint: row.get(3)?,
        p256dh: row.get(4)?,
        auth: row.get(5)?,
        notification_id: row.get(6)?,
        resource: row.get(7)?,
        priority: row.get(8)?,
        app_notification_id: row.get(9)?,
        expires_at: row.get(10)?,
        changes_only: row.get(11)?,
        user: row.get(12)?,
        changes: LoggedChange::list_of(row.get::<_, Option<String>>(13)?.as_deref()),
        unread: u64::try_from(row.get::<_, i64>(14)?).unwrap_or(0),
        owner: row.get(15)?,
        push_host: row.get(16)?,
    })
}

/// The user's next change `seq`. The write transaction holds SQLite's one write lock, so
/// numbers are committed in order.
fn next_change_seq(tx: &Transaction<'_>, user: &str) -> Result<i64, StoreError> {
    Ok(tx
        .prepare_cached(sql!("next_change_seq"))?
        .query_row(params![user], |row| row.get(0))?)
}

/// Logs the latest state of a notification under `seq`, replacing its earlier change.
fn log_change(
    tx: &Transaction<'_>,
    user: &str,
    item: &FeedItem,
    seq: i64,
    group: Option<&str>,
    expires_at: Millis,
) -> Result<(), StoreError> {
    tx.prepare_cached(sql!("log_change"))?.execute(params![
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

/// A counter that orders the feed: a post or an update makes a notification the newest.
fn next_seq(tx: &Transaction<'_>) -> Result<i64, StoreError> {
    Ok(tx
        .prepare_cached(sql!("next_seq"))?
        .query_row([], |row| row.get(0))?)
}

/// A transaction that takes the write lock at `BEGIN`. A deferred one that reads first and
/// writes later cannot wait for another writer (SQLite answers `SQLITE_BUSY` at once rather
/// than invoke the busy handler, since waiting could deadlock), so every post would fail
/// while another process held the lock; taking it up front lets `busy_timeout` apply.
fn write_transaction(conn: &mut Connection) -> Result<Transaction<'_>, StoreError> {
    Ok(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
}

/// What every connection needs: a wait for the writer's lock instead of an error, and
/// foreign keys (SQLite's are off unless asked for).
fn setup(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    let version: i64 = conn.query_row(sql!("user_version"), [], |row| row.get(0))?;
    if version > known {
        return Err(StoreError::SchemaTooNew {
            found: version,
            known,
        });
    }
    for (index, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Creates the database file readable by its owner only: it holds the VAPID private key and
/// the browsers' push secrets. An existing file is left as it is.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(StoreError::Io(error)),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::deliveries::DeliveryState;
    use std::os::unix::fs::PermissionsExt;

    const NOW: Millis = 1_700_000_000_000;

    #[test]
    fn a_new_database_file_is_readable_by_its_owner_only_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usernotify.db");
        let store = SqliteStore::open(&path).unwrap();
        let (private, _) = store
            .vapid_key_or_insert(&(vec![1; 32], vec![4; 65]), 0)
            .unwrap();
        drop(store);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = SqliteStore::open(&path).unwrap();
        assert_eq!(again.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let (stored, _) = again
            .vapid_key_or_insert(&(vec![2; 32], vec![4; 65]), 0)
            .unwrap();
        assert_eq!(stored, private);
    }

    #[test]
    fn a_database_from_a_newer_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(
            SqliteStore::open(&path),
            Err(StoreError::SchemaTooNew { found: 99, .. })
        ));
    }

    /// A file as the previous release wrote it: schema version 2 (the first two migrations,
    /// which are never edited), with a key, a subscription, a notification, one delivery
    /// still queued and one already retried once.
    fn write_version_2_file(path: &Path) {
        let conn = Connection::open(path).unwrap();
        for (index, sql) in MIGRATIONS[..2].iter().enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", index + 1).unwrap();
        }
        conn.execute_batch(&format!(
            "INSERT INTO vapid_key VALUES (1, x'{}', x'{}', 1);
             INSERT INTO subscriptions (id, user_id, endpoint, p256dh, auth, target_host_name,
                 display_name, created_at, updated_at)
             VALUES ('sub-one', 'alice', 'https://push.example/1', x'04', x'01', 'app.example',
                 'Laptop', 1, 1),
                    ('sub-two', 'alice', 'https://push.example/2', x'04', x'01', 'app.example',
                 NULL, 1, 1);
             INSERT INTO notifications (id, user_id, app_notification_id, resource, priority,
                 expires_at, created_at, updated_at, seq, read_state)
             VALUES ('note-one', 'alice', 'app-1', '{{\"id\":\"note-one\"}}', 'None', {expiry},
                 5, 5, 1, 'read');
             INSERT INTO deliveries (subscription_id, notification_id, attempts, next_attempt_at,
                 created_at)
             VALUES ('sub-one', 'note-one', 0, 5, 5), ('sub-two', 'note-one', 1, 6, 5);",
            "07".repeat(32),
            "04".repeat(65),
            expiry = NOW + 3_600_000,
        ))
        .unwrap();
    }

    #[test]
    fn a_file_of_the_previous_schema_is_upgraded_in_place_and_keeps_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        write_version_2_file(&path);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let (private, _) = store
            .vapid_key_or_insert(&(vec![1; 32], vec![4; 65]), NOW)
            .unwrap();
        assert_eq!(private, vec![7; 32], "the deployment keeps its VAPID key");
        let subscription = store.subscription("sub-one").unwrap().unwrap();
        assert_eq!(
            (subscription.user.as_str(), subscription.active),
            ("alice", true)
        );
        let feed = store.feed("alice", None, 10, NOW).unwrap().items;
        assert_eq!(feed.len(), 1);
        assert_eq!(feed[0].read_state, "read");
        let deliveries = store.deliveries("alice", "note-one", NOW).unwrap().unwrap();
        let states: Vec<(&str, DeliveryState, u32)> = deliveries
            .iter()
            .map(|row| (row.subscription_id.as_str(), row.state, row.attempts))
            .collect();
        assert_eq!(
            states,
            vec![
                ("sub-one", DeliveryState::Queued, 0),
                ("sub-two", DeliveryState::Retrying, 1)
            ]
        );
        let due = store
            .claim_due(&crate::store::ClaimShares::unshared(), NOW, 10, NOW)
            .unwrap();
        assert_eq!(due.len(), 2, "both queued deliveries are still sent");
        assert_eq!(store.pending_deliveries().unwrap(), 2);
    }
}
