//! The store: subscriptions, the per-user feed, the delivery queue with each delivery's
//! state, and the VAPID key pair, on SQLite (one process, a file) or PostgreSQL (any number
//! of replicas on one database).
//!
//! [`Store`] lists the store's operations and what a backend can do; [`Db`] is the one
//! the rest of the service uses, [`SqliteBackend`] or [`PgStore`] behind it, and nothing
//! outside this module knows which. The two backends keep the same rules (what a post fans
//! out to, what an outcome does to the queue), each in its own SQL, and the store's tests run
//! every rule on both. Every backend method takes `now` as a value instead of reading the
//! clock.
//!
//! Each feature keeps its part of both backends beside its handlers: `sqlite.rs` and
//! `postgres.rs` (methods of [`SqliteStore`] and [`PgStore`]), its records, and its
//! statements as files, `sql/sqlite/NAME.sql` beside `sql/postgres/NAME.sql` (for example
//! `deliveries/sql/sqlite/claim_due.sql`). This module keeps what no one feature owns: the
//! interface, the connections and pools, the migrations (numbered files in
//! `migrations/{sqlite,postgres}/`; never edit one that was released: add another;
//! `tests/schema.rs` holds the two schemas to each other) and the backend-wide statements.
//!
//! The delivery states, reasons and read states a statement writes or compares are bound
//! from [`crate::deliveries::DeliveryState`], [`crate::deliveries::reasons`] and the core's
//! `ReadState` and `UserActionState`. Two predicates stay written out, because they are
//! those of partial indexes, and a planner uses a partial index (or, on PostgreSQL, infers
//! an `ON CONFLICT` target) only for a query that names the same constants: the queue's
//! `state IN ('queued', 'retrying')` and a change push's `kind = 'changes'`. The feed
//! counters' triggers (migrations) also name the read states: a trigger takes no parameters.

mod error;
mod location;
pub mod postgres;
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{watch, Notify};
use usernotify::core::sync::OnDevice;
use usernotify::core::{Millis, Notification};

use crate::changes::ChangeHub;
use crate::changes::LoggedChange;
use crate::clock::now_millis;
use crate::deliveries::{Attempted, ClaimShares, DeliveryInfo, DueDelivery, QueueStats};
use crate::notifications::{FeedItem, FeedPage, Saved, StateUpdated};
use crate::subscriptions::{NewSubscription, Registration, SubscriptionInfo};

pub use postgres::PgStore;
pub use sqlite::{SqliteBackend, SqliteStore};

pub use error::StoreError;
pub use location::{DbLocation, DbSettings};

/// What a backend answers with: a boxed future, so that the store is used as `dyn Store`.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The store's operations, one implementation per backend ([`SqliteStore`] on tokio's
/// blocking pool, [`PgStore`] on its pool). Every rule (what a post fans out to, what an
/// outcome does to the queue) is kept by both, each in its own SQL; the store's tests run
/// every rule on both. Time is passed in as `now`, never read from the clock.
///
/// What a backend can do beyond the operations: [`Store::spawn_wakeups`] (PostgreSQL's
/// LISTEN/NOTIFY, so that replicas wake each other), and leases on claims (PostgreSQL; a
/// SQLite file has one process). The defaults are those of a backend with neither.
pub trait Store: Send + Sync {
    /// Which backend, for logs: `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// The schema version the database is at.
    fn schema_version(&self) -> StoreFuture<'_, i64>;

    /// The database answers (`/readyz`): one round trip, no rows read.
    fn ping(&self) -> StoreFuture<'_, ()>;

    /// Deliveries waiting for an attempt and the age of the oldest at `now` (`/metrics`).
    fn queue_stats_at(&self, now: Millis) -> StoreFuture<'_, QueueStats>;

    /// Deliveries waiting for an attempt and the age of the oldest (`/metrics`).
    fn queue_stats(&self) -> StoreFuture<'_, QueueStats> {
        self.queue_stats_at(now_millis())
    }

    /// Subscriptions that can still be pushed to (`/metrics`).
    fn subscription_count(&self) -> StoreFuture<'_, u64>;

    /// The deployment's VAPID key pair `(private, public)`. The first caller's `candidate`
    /// is stored; every later caller, on any replica, gets that one back.
    fn vapid_key_or_insert(
        &self,
        candidate: (Vec<u8>, Vec<u8>),
        now: Millis,
    ) -> StoreFuture<'_, (Vec<u8>, Vec<u8>)>;

    /// Registers a subscription, or refreshes the user's existing one for the same endpoint
    /// (a browser re-subscribing keeps its UNSID); a new one only while the user has fewer
    /// than `max` subscriptions that can be pushed to.
    fn add_subscription(
        &self,
        user: String,
        subscription: NewSubscription,
        candidate_id: String,
        max: usize,
        now: Millis,
    ) -> StoreFuture<'_, Registration>;

    /// A subscription by UNSID, whoever owns it (the caller check is the handler's).
    fn subscription(&self, id: String) -> StoreFuture<'_, Option<SubscriptionInfo>>;

    /// Removes one of `user`'s subscriptions and its deliveries; false if none.
    fn delete_subscription(&self, user: String, id: String) -> StoreFuture<'_, bool>;

    /// Stores a valid notification for `user` and records its fan-out, atomically, if the
    /// subscription `uns` (the post's `X-UNS`) is the user's; `None` when it is not (or does
    /// not exist), and then nothing is stored. One round trip on PostgreSQL when the post has
    /// no `appNotificationId`, where the check costs nothing extra.
    ///
    /// A notification whose `appNotificationId` the user already has updates that one (same
    /// id, state back to unread/none, deliveries started afresh); otherwise it is stored
    /// under `candidate_id`. Each subscription of the user gets a delivery: `queued` when
    /// the notification targets webPush and the subscription's `targetHostName` equals the
    /// notification's (ASCII case-insensitively, as host names are); else `skipped`
    /// (`target-policy` before `target-host`); `gone` if the push service already said so.
    ///
    /// `withheld` (`muted`, `quiet-hours`): the user's preferences withhold it now, so every
    /// subscription that would have been queued is `skipped` with that reason instead; the
    /// notification is stored all the same.
    ///
    /// A new notification that takes the user's feed beyond `max_notifications` deletes the
    /// user's oldest in the same transaction, each logged as a deletion ([`Saved::evicted`]).
    #[allow(clippy::too_many_arguments)]
    fn save_notification(
        &self,
        user: String,
        uns: String,
        notification: Notification,
        candidate_id: String,
        withheld: Option<&'static str>,
        max_notifications: usize,
        now: Millis,
    ) -> StoreFuture<'_, Option<Saved>>;

    /// A page of the user's unexpired notifications, newest (last posted or updated) first:
    /// at most `top`, each older than `before` (the previous page's [`FeedPage::next`]).
    fn feed(
        &self,
        user: String,
        before: Option<i64>,
        top: usize,
        now: Millis,
    ) -> StoreFuture<'_, FeedPage>;

    /// One unexpired notification of the user.
    fn notification(
        &self,
        user: String,
        id: String,
        now: Millis,
    ) -> StoreFuture<'_, Option<FeedItem>>;

    /// Sets the Graph client state of one of the user's unexpired notifications, and logs
    /// the change (when it changed anything) in the user's change log, under the user's next
    /// `seq`. The values are checked by the caller. `None` when there is no such
    /// notification.
    fn update_state(
        &self,
        user: String,
        id: String,
        read_state: Option<&'static str>,
        user_action_state: Option<&'static str>,
        now: Millis,
    ) -> StoreFuture<'_, Option<StateUpdated>>;

    /// Deletes one of the user's notifications (and its deliveries), and logs the deletion;
    /// `None` when there is no such notification.
    fn delete_notification(
        &self,
        user: String,
        id: String,
    ) -> StoreFuture<'_, Option<LoggedChange>>;

    /// The user's logged changes after `after`, oldest first, at most `limit`; and the
    /// user's newest `seq` (0 before the first change).
    fn changes_since(
        &self,
        user: String,
        after: i64,
        limit: usize,
    ) -> StoreFuture<'_, (Vec<LoggedChange>, i64)>;

    /// The user's notifications in `groups` that were pushed to (sent to) each of the
    /// user's subscriptions that can still be pushed to, or to `subscription` alone: what
    /// the rule for pushes that only carry changes looks at
    /// ([`usernotify::core::sync::change_push_visible_until`]).
    fn on_devices(
        &self,
        user: String,
        subscription: Option<String>,
        groups: Vec<String>,
    ) -> StoreFuture<'_, Vec<(String, OnDevice)>>;

    /// Queues a push that only carries changes for each of `subscriptions`, unless one is
    /// already waiting for that subscription (it will carry every change made until it is
    /// sent). Returns how many were queued.
    fn queue_change_pushes(
        &self,
        subscriptions: Vec<String>,
        now: Millis,
    ) -> StoreFuture<'_, usize>;

    /// The user's preferences as stored (JSON text) and their version, if any were set.
    fn preferences(&self, user: String) -> StoreFuture<'_, Option<(String, i64)>>;

    /// Stores the user's preferences if their version is still `expected` (`None`: none were
    /// stored); false when another request changed them first.
    fn put_preferences(
        &self,
        user: String,
        body: String,
        expected: Option<i64>,
        now: Millis,
    ) -> StoreFuture<'_, bool>;

    /// Each delivery of one of the user's unexpired notifications, by subscription; `None`
    /// when the user has no such notification.
    fn deliveries(
        &self,
        user: String,
        id: String,
        now: Millis,
    ) -> StoreFuture<'_, Option<Vec<DeliveryInfo>>>;

    /// Removes expired notifications (their deliveries go with them). Returns how many.
    fn purge_expired(&self, now: Millis) -> StoreFuture<'_, usize>;

    /// Claims up to `limit` deliveries due at `now`, oldest first, for this process until
    /// `lease_until`: no other deliverer gets them meanwhile, and if this process dies, they
    /// are due again once the lease runs out (PostgreSQL; SQLite has one process per file).
    ///
    /// `shares` shares the claim out: users and push hosts without room are passed over, and
    /// users take turns (see [`ClaimShares`]).
    fn claim_due(
        &self,
        now: Millis,
        limit: usize,
        lease_until: Millis,
        shares: ClaimShares,
    ) -> StoreFuture<'_, Vec<DueDelivery>>;

    /// Gives claims back without an outcome (the send task failed): due again at once.
    fn release_claims(&self, ids: Vec<i64>) -> StoreFuture<'_, ()>;

    /// When the next unclaimed queued delivery a claim with `shares` could take is due, if
    /// any.
    fn next_due(&self, shares: ClaimShares) -> StoreFuture<'_, Option<Millis>>;

    /// How many deliveries are queued or retrying (for operators and tests).
    fn pending_deliveries(&self) -> StoreFuture<'_, usize>;

    /// Records the outcomes of several attempts at once (one commit for a round of pushes),
    /// releasing their claims. A subscription reported gone is forgotten once, however
    /// many deliverers saw its 404 or 410: the returned ids are those this call forgot.
    fn record_outcomes(
        &self,
        outcomes: Arc<Vec<Attempted>>,
        now: Millis,
    ) -> StoreFuture<'_, Vec<String>>;

    /// Wakes `wake` whenever another process queues deliveries, and the change streams of a
    /// user in `hub` whenever another process logs a change of that user (PostgreSQL's
    /// LISTEN, one connection per process), until `shutdown`. A backend without other
    /// processes (SQLite: every request comes through this process) has nothing to do.
    fn spawn_wakeups(
        &self,
        _wake: Arc<Notify>,
        _hub: Arc<ChangeHub>,
        _shutdown: watch::Receiver<bool>,
    ) {
    }
}

/// The store shared by handlers and the delivery worker: whichever backend
/// `USERNOTIFY_DB` names, behind [`Store`]. Cheap to clone.
#[derive(Clone)]
pub struct Db(Arc<dyn Store>);

impl Db {
    /// Opens (creating if needed) and migrates the database at `location`.
    pub async fn open(location: &DbLocation, settings: &DbSettings) -> Result<Db, StoreError> {
        Ok(match location {
            DbLocation::Sqlite(path) => Db(Arc::new(SqliteBackend::open(path.clone()).await?)),
            DbLocation::Postgres(url) => Db(Arc::new(PgStore::open(url, settings).await?)),
        })
    }
}

impl std::ops::Deref for Db {
    type Target = dyn Store;

    fn deref(&self) -> &(dyn Store + 'static) {
        &*self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn a_postgres_url_is_postgres_and_anything_else_a_file() {
        assert!(matches!(
            DbLocation::parse("postgres://u@h:5432/db"),
            DbLocation::Postgres(_)
        ));
        assert!(matches!(
            DbLocation::parse("PostgreSQL://h/db"),
            DbLocation::Postgres(_)
        ));
        assert_eq!(
            DbLocation::parse("./usernotify.db"),
            DbLocation::Sqlite(PathBuf::from("./usernotify.db"))
        );
    }

    #[test]
    fn a_url_is_shown_without_its_password() {
        let shown = DbLocation::parse("postgres://app:s3cret@db.example:5432/notify").to_string();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("db.example"), "{shown}");
    }
}
