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
//!   statement that stores the notification and records its fan-out; the announcer
//!   notifies the replicas off the request), after the
//!   route's read of the user's preferences; each claim (with each push's unread count)
//!   and each round of outcomes is one.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use tokio::sync::{watch, Notify};
use usernotify::core::{Millis, Notification};

use crate::deliveries::{Attempted, DeliveryInfo};

use super::{ChangeHub, DbSettings, FeedItem, Store, StoreError, StoreFuture};
use crate::changes::LoggedChange;
use crate::deliveries::{ClaimShares, DueDelivery, QueueStats};
use crate::notifications::{FeedPage, Saved, StateUpdated};
use crate::subscriptions::{NewSubscription, Registration, SubscriptionInfo};
use usernotify::core::sync::OnDevice;

/// Schema migrations, applied in order; `usernotify_schema.version` counts those applied.
/// Never edit one that was released: add another.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/postgres/0001_schema.sql"),
    include_str!("../migrations/postgres/0002_changes_and_preferences.sql"),
    include_str!("../migrations/postgres/0003_shares_and_feed_counts.sql"),
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
    pub(crate) pool: PgPool,
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
        let version: i32 = sqlx::query_scalar(include_str!("../sql/postgres/schema_version.sql"))
            .fetch_one(&self.pool)
            .await?;
        Ok(i64::from(version))
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query(include_str!("../sql/postgres/ping.sql"))
            .execute(&self.pool)
            .await?;
        Ok(())
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

/// Applies what is missing of [`MIGRATIONS`] in one transaction, under an advisory lock
/// that a second replica starting at the same moment waits on: it then finds the schema
/// made and applies nothing.
async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(include_str!("../sql/postgres/migrate_lock.sql"))
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::query(include_str!("../sql/postgres/migrate_schema_table.sql"))
        .execute(&mut *tx)
        .await?;
    let version: Option<i32> =
        sqlx::query_scalar(include_str!("../sql/postgres/migrate_version.sql"))
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
    sqlx::query(include_str!("../sql/postgres/migrate_clear_version.sql"))
        .execute(&mut *tx)
        .await?;
    sqlx::query(include_str!("../sql/postgres/migrate_set_version.sql"))
        .bind(i32::try_from(known).unwrap_or(i32::MAX))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

mod wakeups;

use wakeups::spawn_announcer;
