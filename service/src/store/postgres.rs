//! The PostgreSQL backend: any number of service processes (replicas) on one database serve
//! the same API and share one delivery queue.
//!
//! - A deliverer claims due deliveries with `FOR UPDATE SKIP LOCKED` and a lease
//!   (`leased_until`): replicas never claim the same row, and when a replica dies mid-send,
//!   its claims are due again once their lease runs out. No transaction stays open while a
//!   push is sent: the claim and the outcome are each one statement.
//! - A post that queues deliveries has its process announce it with `pg_notify` (at most once
//!   per [`ANNOUNCE_EVERY`], off the request: a NOTIFY in the post's own transaction would
//!   hold PostgreSQL's global notify lock through the commit's WAL flush, serialising every
//!   post); every replica LISTENs and wakes its deliverer. Polling stays as the fallback (a
//!   listener that reconnects misses what was sent while it was down).
//! - Durability: a post (what the app was answered 201 for) commits at the database's own
//!   `synchronous_commit`. The queue's bookkeeping (claims, outcomes, announcements) commits
//!   asynchronously: a crash of PostgreSQL may forget the last fraction of a second of it,
//!   which at worst sends those pushes again (each with its `Topic`), as a replica killed
//!   mid-send does; it never loses one. Waiting for a WAL flush on every claim would bound a
//!   deliverer by the disk's flush latency.
//! - Migrations run in one transaction under an advisory lock, so replicas starting
//!   together on an empty database make one schema; the VAPID key is inserted once
//!   (`ON CONFLICT DO NOTHING`) and read back, so they share one key.
//! - Each post is at most two round trips here (the `appNotificationId` lookup, then one
//!   statement that stores the notification, records its fan-out and notifies), after the
//!   route's read of the user's preferences; each claim (with each push's unread count)
//!   and each round of outcomes is one.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::Row;
use tokio::sync::{watch, Notify};
use usernotify::core::{Millis, Notification};

use crate::deliveries::{reasons, Attempted, DeliveryInfo, DeliveryState, Verdict};

use super::{
    delivery_info, queue_stats, stored_resource, ChangeHub, ClaimShares, DbSettings, DueDelivery,
    FanOut, FeedItem, FeedPage, LoggedChange, NewSubscription, OnDevice, QueueStats, Registration,
    Saved, StateUpdated, Store, StoreError, StoreFuture, SubscriptionInfo, CHANGE_PUSH_LIFETIME,
};

/// A statement of this backend, from its file in `sql/postgres/` (beside the other
/// backend's statement of the same name).
macro_rules! sql {
    ($name:literal) => {
        include_str!(concat!("sql/postgres/", $name, ".sql"))
    };
}

/// Schema migrations, applied in order; `usernotify_schema.version` counts those applied.
/// Never edit one that was released: add another.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/postgres/0001_schema.sql"),
    include_str!("migrations/postgres/0002_changes_and_preferences.sql"),
    include_str!("migrations/postgres/0003_shares_and_feed_counts.sql"),
    include_str!("migrations/postgres/0004_deliveries_subscription_key.sql"),
];

/// The advisory lock migrations run under ("usernoti" in ASCII).
const MIGRATION_LOCK: i64 = 0x7573_6572_6e6f_7469;
/// The LISTEN/NOTIFY channel a post that queued deliveries notifies.
const WAKE_CHANNEL: &str = "usernotify_deliveries";
/// The channel a logged change is announced on; the payload is a JSON array of the users
/// whose change logs grew.
const CHANGES_CHANNEL: &str = "usernotify_changes";
/// NOTIFY payloads must stay under 8,000 bytes; users are announced in chunks below it.
const MAX_NOTIFY_PAYLOAD: usize = 7_000;
/// How long the listener waits before reconnecting after PostgreSQL went away.
const LISTEN_RETRY: Duration = Duration::from_secs(1);
/// The most often a process announces queued deliveries: posts within this window share one
/// `pg_notify`, and an idle replica wakes at most this late (plus the notification's trip).
const ANNOUNCE_EVERY: Duration = Duration::from_millis(10);

/// A pool of connections to one PostgreSQL database. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// What the announcer task is to NOTIFY the replicas of.
    announcements: Arc<Announcements>,
}

/// Signalled when a post queued deliveries or a change was logged; the announcer task
/// NOTIFYs the replicas.
#[derive(Default)]
struct Announcements {
    signal: Notify,
    /// Deliveries were queued since the last announcement.
    queued: std::sync::atomic::AtomicBool,
    /// Users whose change logs grew since the last announcement.
    changed: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Announcements {
    fn changed(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.changed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// PostgreSQL cannot be reached or is going away: answered 503, tried again later.
pub(super) fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // Class 08 connection exceptions, 57P admin/crash shutdown and "cannot connect
        // now", 53300 too many connections, 25006 a read-only standby after a failover.
        sqlx::Error::Database(error) => error.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57P") || code == "53300" || code == "25006"
        }),
        _ => false,
    }
}

impl PgStore {
    /// Connects and migrates. Fails if PostgreSQL does not answer within the acquire timeout.
    pub async fn open(url: &str, settings: &DbSettings) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)?.application_name("usernotify-service");
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections.max(2))
            .acquire_timeout(settings.acquire_timeout)
            // A round trip saved per query; a connection broken by a restart fails its one
            // query (503) and is then dropped by the pool's check on release.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        migrate(&pool).await?;
        let announcements = Arc::new(Announcements::default());
        spawn_announcer(pool.clone(), &announcements);
        Ok(PgStore {
            pool,
            announcements,
        })
    }

    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let version: i32 = sqlx::query_scalar(sql!("schema_version"))
            .fetch_one(&self.pool)
            .await?;
        Ok(i64::from(version))
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query(sql!("ping")).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn queue_stats(&self, now: Millis) -> Result<QueueStats, StoreError> {
        let row = sqlx::query(sql!("queue_stats"))
            .fetch_one(&self.pool)
            .await?;
        Ok(queue_stats(row.try_get(0)?, row.try_get(1)?, now))
    }

    pub async fn subscription_count(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(sql!("subscription_count"))
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
        sqlx::query(sql!("vapid_key_insert"))
            .bind(&candidate.0)
            .bind(&candidate.1)
            .bind(now)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query(sql!("vapid_key_select"))
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
        sqlx::query(sql!("add_subscription_lock_user"))
            .bind(user)
            .execute(&mut *tx)
            .await?;
        // A new subscription's first push carries only changes made after it; re-registering
        // an endpoint refreshes it whatever the count.
        let row = sqlx::query(sql!("add_subscription"))
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
        let row = sqlx::query(sql!("subscription"))
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
        let deleted: i64 = sqlx::query_scalar(sql!("delete_subscription"))
            .bind(id)
            .bind(user)
            .fetch_one(&self.pool)
            .await?;
        Ok(deleted > 0)
    }

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
                sqlx::query_scalar(sql!("save_notification_find_app_id"))
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
        let row = sqlx::query(sql!("save_notification"))
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
    async fn evict_oldest(
        &self,
        user: &str,
        kept: &str,
        max: usize,
    ) -> Result<Vec<LoggedChange>, StoreError> {
        let rows = sqlx::query(sql!("evict_oldest"))
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
        let rows = sqlx::query(sql!("feed"))
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
        sqlx::query(sql!("notification"))
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
        let row = sqlx::query(sql!("update_state"))
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
        let row = sqlx::query(sql!("delete_notification"))
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

    pub async fn changes_since(
        &self,
        user: &str,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<LoggedChange>, i64), StoreError> {
        let rows = sqlx::query(sql!("changes_since"))
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
        let rows = sqlx::query(sql!("on_devices"))
            .bind(user)
            .bind(groups)
            .bind(subscription)
            .bind(DeliveryState::Sent.as_str())
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
        let done = sqlx::query(sql!("queue_change_pushes"))
            .bind(subscriptions)
            .bind(now)
            .bind(DeliveryState::Queued.as_str())
            .execute(&self.pool)
            .await?;
        let queued = usize::try_from(done.rows_affected()).unwrap_or(0);
        if queued > 0 {
            self.announce_queued();
        }
        Ok(queued)
    }

    pub async fn preferences(&self, user: &str) -> Result<Option<(String, i64)>, StoreError> {
        let row = sqlx::query(sql!("preferences"))
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .transpose()
    }

    pub async fn put_preferences(
        &self,
        user: &str,
        body: &str,
        expected: Option<i64>,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let done = match expected {
            None => {
                sqlx::query(sql!("put_preferences_insert_preferences"))
                    .bind(user)
                    .bind(body)
                    .bind(now)
                    .execute(&self.pool)
                    .await?
            }
            Some(version) => {
                sqlx::query(sql!("put_preferences_update_preferences"))
                    .bind(user)
                    .bind(body)
                    .bind(now)
                    .bind(version)
                    .execute(&self.pool)
                    .await?
            }
        };
        Ok(done.rows_affected() > 0)
    }

    /// One statement: no row means no such notification of the user; one row of NULLs, a
    /// notification without deliveries.
    pub async fn deliveries(
        &self,
        user: &str,
        id: &str,
        now: Millis,
    ) -> Result<Option<Vec<DeliveryInfo>>, StoreError> {
        let rows = sqlx::query(sql!("deliveries"))
            .bind(id)
            .bind(user)
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut deliveries = Vec::with_capacity(rows.len());
        for row in &rows {
            let Some(subscription_id) = row.try_get::<Option<String>, _>(0)? else {
                continue;
            };
            let state: String = row.try_get(1)?;
            let attempts: i32 = row.try_get(2)?;
            let last_status: Option<i32> = row.try_get(3)?;
            deliveries.push(delivery_info(
                subscription_id,
                &state,
                i64::from(attempts),
                last_status.map(i64::from),
                row.try_get(4)?,
                row.try_get(5)?,
                row.try_get(6)?,
            ));
        }
        Ok(Some(deliveries))
    }

    /// Expired notifications (their deliveries go with them), their logged changes, and
    /// change-only pushes older than their lifetime, in one statement.
    pub async fn purge_expired(&self, now: Millis) -> Result<usize, StoreError> {
        let purged: i64 = sqlx::query_scalar(sql!("purge_expired"))
            .bind(now)
            .bind(now - CHANGE_PUSH_LIFETIME)
            .fetch_one(&self.pool)
            .await?;
        Ok(usize::try_from(purged).unwrap_or(usize::MAX))
    }

    /// One statement: lock due rows no other replica holds (`SKIP LOCKED`), share them out
    /// by `shares` (see [`ClaimShares`]; the users and hosts without room here are passed
    /// over, of the first `limit` rows left each user and host gets no more than its room,
    /// and users take turns), lease them, and read what each push needs. The row locks end
    /// with the statement; the lease stays.
    pub async fn claim_due(
        &self,
        shares: &ClaimShares,
        now: Millis,
        limit: usize,
        lease_until: Millis,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let count = |number: usize| i64::try_from(number).unwrap_or(i64::MAX);
        sqlx::query(sql!("claim_due"))
            .bind(now)
            .bind(count(limit))
            .bind(lease_until)
            .bind(CHANGE_PUSH_LIFETIME)
            .bind(i64::try_from(usernotify::core::sync::MAX_CHANGES_PER_PUSH).unwrap_or(20))
            .bind(shares.full_users())
            .bind(shares.full_hosts())
            // The window is the claim itself here: every row in it is locked until the statement
            // ends, so a wider one would keep other replicas from rows this one does not take.
            .bind(count(limit))
            .bind(shares.user_rooms_json())
            .bind(shares.host_rooms_json())
            .bind(count(shares.per_user))
            .bind(count(shares.per_host))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(due_delivery)
            .collect()
    }

    pub async fn release_claims(&self, ids: &[i64]) -> Result<(), StoreError> {
        sqlx::query(sql!("release_claims"))
            .bind(ids)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The earliest moment a queued delivery a claim with `shares` could take can be
    /// claimed: its due time, or its lease's end when another replica holds it (one that
    /// died releases it then).
    pub async fn next_due(&self, shares: &ClaimShares) -> Result<Option<Millis>, StoreError> {
        Ok(sqlx::query_scalar(sql!("next_due"))
            .bind(shares.full_users())
            .bind(shares.full_hosts())
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn pending_deliveries(&self) -> Result<usize, StoreError> {
        let count: i64 = sqlx::query_scalar(sql!("pending_deliveries"))
            .fetch_one(&self.pool)
            .await?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// One statement for a whole round, committed asynchronously: each delivery's new state
    /// (its lease released), the subscriptions reported gone forgotten (`endpoint IS NOT
    /// NULL` makes that happen once, whichever replicas saw the 404 or 410), and what was
    /// still queued for them gone too.
    pub async fn record_outcomes(
        &self,
        outcomes: &[Attempted],
        now: Millis,
    ) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::with_capacity(outcomes.len());
        let mut states = Vec::with_capacity(outcomes.len());
        let mut attempts = Vec::with_capacity(outcomes.len());
        let mut statuses: Vec<Option<i32>> = Vec::with_capacity(outcomes.len());
        let mut reasons: Vec<Option<String>> = Vec::with_capacity(outcomes.len());
        let mut next_ats: Vec<Option<i64>> = Vec::with_capacity(outcomes.len());
        let mut gone: Vec<String> = Vec::new();
        let mut resting: Vec<String> = Vec::new();
        let mut resting_until: Vec<i64> = Vec::new();
        for outcome in outcomes {
            let (state, status, reason, next_at) = outcome.stored();
            ids.push(outcome.delivery_id);
            states.push(state.as_str().to_owned());
            attempts.push(i32::try_from(outcome.attempts).unwrap_or(i32::MAX));
            statuses.push(status.map(i32::from));
            reasons.push(reason.map(str::to_owned));
            next_ats.push(next_at);
            match &outcome.verdict {
                Verdict::SubscriptionGone {
                    subscription_id, ..
                } => gone.push(subscription_id.clone()),
                // An endpoint that did not answer: the subscription's other deliveries wait
                // as long, instead of each holding a sender until it fails the same way.
                Verdict::Retry {
                    next_at,
                    unanswered: Some(subscription_id),
                    ..
                } => {
                    resting.push(subscription_id.clone());
                    resting_until.push(*next_at);
                }
                _ => {}
            }
        }
        let (cursor_ids, cursor_seqs): (Vec<String>, Vec<i64>) =
            Attempted::cursors(outcomes).into_iter().unzip();
        let forgotten: Option<Vec<String>> = sqlx::query_scalar(sql!("record_outcomes"))
            .bind(&ids)
            .bind(&states)
            .bind(&attempts)
            .bind(&statuses)
            .bind(&reasons)
            .bind(&next_ats)
            .bind(now)
            .bind(&gone)
            .bind(&cursor_ids)
            .bind(&cursor_seqs)
            .bind(&resting)
            .bind(&resting_until)
            .bind(DeliveryState::Gone.as_str())
            .bind(reasons::SUBSCRIPTION_GONE)
            .fetch_one(&self.pool)
            .await?;
        Ok(forgotten.unwrap_or_default())
    }

    /// Tells the replicas (the announcer, off the request) that deliveries were queued.
    fn announce_queued(&self) {
        self.announcements
            .queued
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.announcements.signal.notify_one();
    }

    /// Tells the replicas (the announcer, off the request) that `user`'s change log grew.
    pub fn announce_change(&self, user: &str) {
        self.announcements.changed().insert(user.to_owned());
        self.announcements.signal.notify_one();
    }

    /// LISTENs on its own connection (one per process) and wakes the deliverer on each
    /// notification of queued deliveries, and the user's change streams on each logged
    /// change; both once after every (re)connection, for what was announced while it was
    /// not listening.
    pub fn spawn_wakeups(
        &self,
        wake: Arc<Notify>,
        hub: Arc<ChangeHub>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let pool = self.pool.clone();
        tokio::spawn(async move {
            while !*shutdown.borrow() {
                match listen(&pool).await {
                    Ok(mut listener) => {
                        wake.notify_one();
                        hub.wake_all();
                        loop {
                            tokio::select! {
                                received = listener.try_recv() => match received {
                                    Ok(Some(notification)) if notification.channel() == CHANGES_CHANNEL => {
                                        let users: Vec<String> =
                                            serde_json::from_str(notification.payload()).unwrap_or_default();
                                        for user in users {
                                            hub.wake(&user);
                                        }
                                    }
                                    Ok(Some(_)) => wake.notify_one(),
                                    // The connection was lost and is made again: what came
                                    // meanwhile is read again.
                                    Ok(None) => {
                                        wake.notify_one();
                                        hub.wake_all();
                                    }
                                    Err(error) => {
                                        tracing::warn!(%error, "listening for queued deliveries and changes failed");
                                        break;
                                    }
                                },
                                _ = shutdown.changed() => return,
                            }
                        }
                    }
                    Err(error) => {
                        tracing::debug!(%error, "cannot listen for queued deliveries yet");
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(LISTEN_RETRY) => {}
                    _ = shutdown.changed() => return,
                }
            }
        });
    }
}

/// Each operation is one of [`PgStore`]'s own (its statements); this adds what only
/// PostgreSQL has to do: a post that lost a race on a new `appNotificationId` runs again, and
/// every logged change is announced to the other replicas.
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn schema_version(&self) -> StoreFuture<'_, i64> {
        Box::pin(PgStore::schema_version(self))
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(PgStore::ping(self))
    }

    fn queue_stats_at(&self, now: Millis) -> StoreFuture<'_, QueueStats> {
        Box::pin(PgStore::queue_stats(self, now))
    }

    fn subscription_count(&self) -> StoreFuture<'_, u64> {
        Box::pin(PgStore::subscription_count(self))
    }

    fn vapid_key_or_insert(
        &self,
        candidate: (Vec<u8>, Vec<u8>),
        now: Millis,
    ) -> StoreFuture<'_, (Vec<u8>, Vec<u8>)> {
        Box::pin(async move { PgStore::vapid_key_or_insert(self, &candidate, now).await })
    }

    fn add_subscription(
        &self,
        user: String,
        subscription: NewSubscription,
        candidate_id: String,
        max: usize,
        now: Millis,
    ) -> StoreFuture<'_, Registration> {
        Box::pin(async move {
            PgStore::add_subscription(self, &user, &subscription, &candidate_id, max, now).await
        })
    }

    fn subscription(&self, id: String) -> StoreFuture<'_, Option<SubscriptionInfo>> {
        Box::pin(async move { PgStore::subscription(self, &id).await })
    }

    fn delete_subscription(&self, user: String, id: String) -> StoreFuture<'_, bool> {
        Box::pin(async move { PgStore::delete_subscription(self, &user, &id).await })
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
        Box::pin(async move {
            for attempt in 0..3 {
                let result = PgStore::save_notification(
                    self,
                    &user,
                    &uns,
                    &notification,
                    &candidate_id,
                    withheld,
                    max_notifications,
                    now,
                )
                .await;
                match result {
                    // Two posts with the same new appNotificationId at once: the second one
                    // updates what the first stored.
                    Err(error) if error.is_unique_violation() && attempt < 2 => continue,
                    Ok(Some(saved)) if !saved.evicted.is_empty() => {
                        self.announce_change(&user);
                        return Ok(Some(saved));
                    }
                    other => return other,
                }
            }
            Err(StoreError::TaskFailed)
        })
    }

    fn feed(
        &self,
        user: String,
        before: Option<i64>,
        top: usize,
        now: Millis,
    ) -> StoreFuture<'_, FeedPage> {
        Box::pin(async move { PgStore::feed(self, &user, before, top, now).await })
    }

    fn notification(
        &self,
        user: String,
        id: String,
        now: Millis,
    ) -> StoreFuture<'_, Option<FeedItem>> {
        Box::pin(async move { PgStore::notification(self, &user, &id, now).await })
    }

    fn update_state(
        &self,
        user: String,
        id: String,
        read_state: Option<&'static str>,
        user_action_state: Option<&'static str>,
        now: Millis,
    ) -> StoreFuture<'_, Option<StateUpdated>> {
        Box::pin(async move {
            let updated =
                PgStore::update_state(self, &user, &id, read_state, user_action_state, now).await?;
            if updated
                .as_ref()
                .is_some_and(|updated| updated.change.is_some())
            {
                self.announce_change(&user);
            }
            Ok(updated)
        })
    }

    fn delete_notification(
        &self,
        user: String,
        id: String,
    ) -> StoreFuture<'_, Option<LoggedChange>> {
        Box::pin(async move {
            let deleted = PgStore::delete_notification(self, &user, &id).await?;
            if deleted.is_some() {
                self.announce_change(&user);
            }
            Ok(deleted)
        })
    }

    fn changes_since(
        &self,
        user: String,
        after: i64,
        limit: usize,
    ) -> StoreFuture<'_, (Vec<LoggedChange>, i64)> {
        Box::pin(async move { PgStore::changes_since(self, &user, after, limit).await })
    }

    fn on_devices(
        &self,
        user: String,
        subscription: Option<String>,
        groups: Vec<String>,
    ) -> StoreFuture<'_, Vec<(String, OnDevice)>> {
        Box::pin(async move { PgStore::on_devices(self, &user, &subscription, &groups).await })
    }

    fn queue_change_pushes(
        &self,
        subscriptions: Vec<String>,
        now: Millis,
    ) -> StoreFuture<'_, usize> {
        Box::pin(async move { PgStore::queue_change_pushes(self, &subscriptions, now).await })
    }

    fn preferences(&self, user: String) -> StoreFuture<'_, Option<(String, i64)>> {
        Box::pin(async move { PgStore::preferences(self, &user).await })
    }

    fn put_preferences(
        &self,
        user: String,
        body: String,
        expected: Option<i64>,
        now: Millis,
    ) -> StoreFuture<'_, bool> {
        Box::pin(async move { PgStore::put_preferences(self, &user, &body, expected, now).await })
    }

    fn deliveries(
        &self,
        user: String,
        id: String,
        now: Millis,
    ) -> StoreFuture<'_, Option<Vec<DeliveryInfo>>> {
        Box::pin(async move { PgStore::deliveries(self, &user, &id, now).await })
    }

    fn purge_expired(&self, now: Millis) -> StoreFuture<'_, usize> {
        Box::pin(PgStore::purge_expired(self, now))
    }

    fn claim_due(
        &self,
        now: Millis,
        limit: usize,
        lease_until: Millis,
        shares: ClaimShares,
    ) -> StoreFuture<'_, Vec<DueDelivery>> {
        Box::pin(async move { PgStore::claim_due(self, &shares, now, limit, lease_until).await })
    }

    fn release_claims(&self, ids: Vec<i64>) -> StoreFuture<'_, ()> {
        Box::pin(async move { PgStore::release_claims(self, &ids).await })
    }

    fn next_due(&self, shares: ClaimShares) -> StoreFuture<'_, Option<Millis>> {
        Box::pin(async move { PgStore::next_due(self, &shares).await })
    }

    fn pending_deliveries(&self) -> StoreFuture<'_, usize> {
        Box::pin(PgStore::pending_deliveries(self))
    }

    fn record_outcomes(
        &self,
        outcomes: Arc<Vec<Attempted>>,
        now: Millis,
    ) -> StoreFuture<'_, Vec<String>> {
        Box::pin(async move { PgStore::record_outcomes(self, &outcomes, now).await })
    }

    fn spawn_wakeups(
        &self,
        wake: Arc<Notify>,
        hub: Arc<ChangeHub>,
        shutdown: watch::Receiver<bool>,
    ) {
        PgStore::spawn_wakeups(self, wake, hub, shutdown);
    }
}

/// NOTIFYs the replicas of what this process did: deliveries queued, change logs grown. At
/// most once per [`ANNOUNCE_EVERY`], one statement for everything since the last time. Ends
/// soon after the last clone of its store is dropped.
fn spawn_announcer(pool: PgPool, announcements: &Arc<Announcements>) {
    let announcements = Arc::downgrade(announcements);
    tokio::spawn(async move {
        while let Some(signal) = announcements.upgrade() {
            let signalled = tokio::time::timeout(Duration::from_secs(1), signal.signal.notified())
                .await
                .is_ok();
            let queued = signal
                .queued
                .swap(false, std::sync::atomic::Ordering::Relaxed);
            let changed: Vec<String> = signal.changed().drain().collect();
            drop(signal);
            if !signalled && !queued && changed.is_empty() {
                continue;
            }
            let mut channels = Vec::new();
            let mut payloads = Vec::new();
            if queued {
                channels.push(WAKE_CHANNEL);
                payloads.push(String::new());
            }
            for chunk in user_chunks(&changed) {
                channels.push(CHANGES_CHANNEL);
                payloads.push(chunk);
            }
            if channels.is_empty() {
                continue;
            }
            let announced = sqlx::query(sql!("announce"))
                .bind(&channels)
                .bind(&payloads)
                .execute(&pool)
                .await;
            if let Err(error) = announced {
                // The replicas' polling finds the deliveries anyway; their streams catch up
                // on the next change, or when they reconnect.
                tracing::debug!(%error, "announcing queued deliveries and changes failed");
            }
            tokio::time::sleep(ANNOUNCE_EVERY).await;
        }
    });
}

/// Users as JSON arrays, each under [`MAX_NOTIFY_PAYLOAD`] bytes.
fn user_chunks(users: &[String]) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut chunk: Vec<&str> = Vec::new();
    let mut size = 2;
    for user in users {
        let cost = user.len() + 3;
        if !chunk.is_empty() && size + cost > MAX_NOTIFY_PAYLOAD {
            chunks.push(serde_json::to_string(&chunk).unwrap_or_default());
            chunk.clear();
            size = 2;
        }
        if cost + 2 > MAX_NOTIFY_PAYLOAD {
            continue;
        }
        chunk.push(user);
        size += cost;
    }
    if !chunk.is_empty() {
        chunks.push(serde_json::to_string(&chunk).unwrap_or_default());
    }
    chunks
}

async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen_all([WAKE_CHANNEL, CHANGES_CHANNEL]).await?;
    Ok(listener)
}

/// Applies what is missing of [`MIGRATIONS`] in one transaction, under an advisory lock
/// that a second replica starting at the same moment waits on: it then finds the schema
/// made and applies nothing.
async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(sql!("migrate_lock"))
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::query(sql!("migrate_schema_table"))
        .execute(&mut *tx)
        .await?;
    let version: Option<i32> = sqlx::query_scalar(sql!("migrate_version"))
        .fetch_one(&mut *tx)
        .await?;
    let version = i64::from(version.unwrap_or(0));
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if version > known {
        return Err(StoreError::SchemaTooNew {
            found: version,
            known,
        });
    }
    if version == known {
        return Ok(());
    }
    for sql in MIGRATIONS
        .iter()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        sqlx::raw_sql(*sql).execute(&mut *tx).await?;
    }
    sqlx::query(sql!("migrate_clear_version"))
        .execute(&mut *tx)
        .await?;
    sqlx::query(sql!("migrate_set_version"))
        .bind(i32::try_from(known).unwrap_or(i32::MAX))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

fn feed_item(row: &PgRow) -> Result<FeedItem, StoreError> {
    Ok(FeedItem {
        id: row.try_get(0)?,
        resource: row.try_get(1)?,
        read_state: row.try_get(2)?,
        user_action_state: row.try_get(3)?,
        created_at: row.try_get(4)?,
    })
}

fn due_delivery(row: &PgRow) -> Result<DueDelivery, StoreError> {
    let attempts: i32 = row.try_get(1)?;
    Ok(DueDelivery {
        id: row.try_get(0)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        subscription_id: row.try_get(2)?,
        endpoint: row.try_get(3)?,
        p256dh: row.try_get(4)?,
        auth: row.try_get(5)?,
        notification_id: row.try_get(6)?,
        resource: row.try_get(7)?,
        priority: row.try_get(8)?,
        app_notification_id: row.try_get(9)?,
        expires_at: row.try_get(10)?,
        changes_only: row.try_get(11)?,
        user: row.try_get(12)?,
        changes: LoggedChange::list_of(row.try_get::<Option<String>, _>(13)?.as_deref()),
        unread: u64::try_from(row.try_get::<i64, _>(14)?).unwrap_or(0),
        owner: row.try_get(15)?,
        push_host: row.try_get(16)?,
    })
}
