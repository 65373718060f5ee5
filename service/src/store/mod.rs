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
//! Each backend's statements are files, `sql/sqlite/NAME.sql` beside `sql/postgres/NAME.sql`,
//! and its migrations numbered files in `migrations/{sqlite,postgres}/` (never edit one that
//! was released: add another; `tests/schema.rs` holds the two schemas to each other). The
//! delivery states and reasons a statement writes or counts are bound from
//! [`DeliveryState`] and [`reasons`]; the one state test written out is the queue's
//! `state IN ('queued', 'retrying')`, the predicate of the partial indexes it must match
//! (a planner uses a partial index only for a query that names the same constants).

pub mod postgres;
pub mod sqlite;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{watch, Notify};
use usernotify::core::feed::{ReadState, UserActionState};
use usernotify::core::sync::{OnDevice, StateChange};
use usernotify::core::{Millis, Notification};

use crate::changes::ChangeHub;
use crate::clock::now_millis;
use crate::deliveries::{reasons, Attempted, DeliveryInfo, DeliveryState};

pub use postgres::PgStore;
pub use sqlite::{SqliteBackend, SqliteStore};

/// Where the data lives: `USERNOTIFY_DB` is a SQLite file path or a `postgres://` URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DbLocation {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DbLocation {
    /// A `postgres://` or `postgresql://` URL is PostgreSQL; anything else is a file path.
    pub fn parse(text: &str) -> DbLocation {
        let text = text.trim();
        let lower = text.get(..13).unwrap_or(text).to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            DbLocation::Postgres(text.to_owned())
        } else {
            DbLocation::Sqlite(PathBuf::from(text))
        }
    }
}

impl From<PathBuf> for DbLocation {
    fn from(path: PathBuf) -> DbLocation {
        DbLocation::Sqlite(path)
    }
}

impl From<&Path> for DbLocation {
    fn from(path: &Path) -> DbLocation {
        DbLocation::Sqlite(path.to_owned())
    }
}

impl From<&str> for DbLocation {
    fn from(text: &str) -> DbLocation {
        DbLocation::parse(text)
    }
}

impl From<String> for DbLocation {
    fn from(text: String) -> DbLocation {
        DbLocation::parse(&text)
    }
}

/// Logs and `Debug` show the URL without its password.
impl fmt::Display for DbLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbLocation::Sqlite(path) => write!(f, "{}", path.display()),
            DbLocation::Postgres(text) => match url::Url::parse(text) {
                Ok(mut url) => {
                    if url.password().is_some() {
                        let _ = url.set_password(Some("***"));
                    }
                    write!(f, "{url}")
                }
                Err(_) => f.write_str("postgres://(unparseable URL)"),
            },
        }
    }
}

impl fmt::Debug for DbLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// Why the store failed. `code()` is stable; `is_busy()` maps to Graph's 406 "server busy",
/// `is_unavailable()` to 503 (the database cannot be reached).
#[derive(Debug)]
pub enum StoreError {
    Sqlite(rusqlite::Error),
    Postgres(sqlx::Error),
    Io(std::io::Error),
    /// The database was written by a newer version of the service.
    SchemaTooNew {
        found: i64,
        known: i64,
    },
    /// The blocking task running a SQLite call panicked or was cancelled.
    TaskFailed,
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Sqlite(_) => "store-sqlite",
            StoreError::Postgres(_) if self.is_unavailable() => "store-unavailable",
            StoreError::Postgres(_) => "store-postgres",
            StoreError::Io(_) => "store-io",
            StoreError::SchemaTooNew { .. } => "store-schema-too-new",
            StoreError::TaskFailed => "store-task-failed",
        }
    }

    /// Another writer holds SQLite's lock past the busy timeout.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(failure, _))
                if matches!(
                    failure.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                )
        )
    }

    /// PostgreSQL cannot be reached (refused, reset, shutting down, out of connections):
    /// the request may succeed later, and nothing was changed by this one.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Postgres(error) => postgres::is_unavailable(error),
            _ => false,
        }
    }

    /// A unique index refused the write (a concurrent post took the same key first).
    pub(crate) fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Postgres(sqlx::Error::Database(error)) => {
                matches!(error.kind(), sqlx::error::ErrorKind::UniqueViolation)
            }
            _ => false,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Sqlite(error) => write!(f, "{}: {error}", self.code()),
            // sqlx's connection errors never carry the URL or its password.
            StoreError::Postgres(error) => write!(f, "{}: {error}", self.code()),
            StoreError::Io(error) => write!(f, "{}: {error}", self.code()),
            StoreError::SchemaTooNew { found, known } => write!(
                f,
                "{}: the database has schema version {found}, this build knows {known}",
                self.code()
            ),
            StoreError::TaskFailed => f.write_str(self.code()),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> StoreError {
        StoreError::Sqlite(error)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        StoreError::Postgres(error)
    }
}

/// A push subscription as registered by a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    pub endpoint: String,
    pub p256dh: Vec<u8>,
    pub auth: Vec<u8>,
    pub target_host_name: String,
    pub display_name: Option<String>,
}

impl NewSubscription {
    /// The push service the endpoint names, as `host[:port]`: what the senders are shared
    /// out by, so that one slow push service cannot hold them all.
    pub fn push_host(&self) -> String {
        crate::push::push_host(&self.endpoint)
    }
}

/// What registering a subscription did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// Registered, or refreshed (the same endpoint again keeps its UNSID).
    Registered(SubscriptionInfo),
    /// Refused: the user already has `held` subscriptions that can be pushed to, the limit.
    AtLimit { held: usize },
}

/// A subscription row as the API answers it (no keys, no endpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionInfo {
    pub id: String,
    pub user: String,
    pub target_host_name: String,
    pub display_name: Option<String>,
    pub created_at: Millis,
    /// False once the push service answered 404 or 410 for it.
    pub active: bool,
}

/// A stored notification with the user's client state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedItem {
    pub id: String,
    /// The resource as pushed: `Notification::to_json()` with `id`, as JSON text.
    pub resource: String,
    pub read_state: String,
    pub user_action_state: String,
    pub created_at: Millis,
}

/// One page of a user's feed, newest first, and where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    pub items: Vec<FeedItem>,
    /// The `seq` of the last item, when more (older) notifications remain: the next page
    /// lists those older than it. Keyset, not offset: a page stays the same while newer
    /// notifications arrive, so following the pages lists each notification once.
    pub next: Option<i64>,
}

impl FeedPage {
    /// A page from up to `top + 1` rows `(item, seq)` read newest first: the extra row only
    /// says that more remain.
    fn of(mut rows: Vec<(FeedItem, i64)>, top: usize) -> FeedPage {
        let more = rows.len() > top;
        rows.truncate(top);
        let next = if more {
            rows.last().map(|(_, seq)| *seq)
        } else {
            None
        };
        FeedPage {
            items: rows.into_iter().map(|(item, _)| item).collect(),
            next,
        }
    }
}

/// What a post did for each of the user's subscriptions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FanOut {
    /// Deliveries queued.
    pub queued: usize,
    /// Subscriptions left out because `targetPolicy` names no web platform.
    pub skipped_by_policy: usize,
    /// Subscriptions left out because their `targetHostName` differs (or the post has none).
    pub skipped_by_host: usize,
    /// Subscriptions the push service already reported gone.
    pub gone: usize,
    /// Subscriptions left out because the user's preferences withhold the notification
    /// now (`muted`, `quiet-hours`).
    pub skipped_by_preferences: usize,
}

impl FanOut {
    /// Why a post reached no subscription, as a kebab-case code; `None` when it reached one.
    pub fn why_nothing_was_queued(&self) -> Option<&'static str> {
        if self.queued > 0 {
            return None;
        }
        let total =
            self.skipped_by_policy + self.skipped_by_host + self.gone + self.skipped_by_preferences;
        Some(if total == 0 {
            "no-subscriptions"
        } else if self.skipped_by_preferences == total {
            "withheld-by-preferences"
        } else if self.skipped_by_policy == total {
            "target-policy"
        } else if self.skipped_by_host == total {
            "target-host"
        } else if self.gone == total {
            "all-subscriptions-gone"
        } else {
            "none-matched"
        })
    }
}

/// What saving a posted notification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub item: FeedItem,
    /// True when an earlier notification with the same `appNotificationId` was updated.
    pub updated: bool,
    pub fan_out: FanOut,
    /// The user's oldest notifications deleted to keep the feed within its limit, each
    /// logged as a deletion (every device drops it).
    pub evicted: Vec<LoggedChange>,
}

/// One push to send: the subscription's keys and the resource to encrypt. The endpoint and
/// keys are `None` when the subscription went away after the delivery was queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub id: i64,
    pub attempts: u32,
    pub subscription_id: String,
    pub endpoint: Option<String>,
    pub p256dh: Option<Vec<u8>>,
    pub auth: Option<Vec<u8>>,
    pub notification_id: String,
    pub resource: String,
    pub priority: String,
    pub app_notification_id: Option<String>,
    pub expires_at: Millis,
    /// A push that only carries changes (no notification of its own; the fields above are
    /// empty).
    pub changes_only: bool,
    /// The subscription's user (`None` once the subscription is gone).
    pub user: Option<String>,
    /// The changes to the user's notifications since this subscription's last push, newest
    /// first, at most [`usernotify::core::sync::MAX_CHANGES_PER_PUSH`].
    pub changes: Vec<LoggedChange>,
    /// How many of the user's notifications are unread, not dismissed and unexpired at the
    /// claim: the app badge the push carries (Declarative Web Push's `app_badge`).
    pub unread: u64,
    /// The user the delivery is for (kept when the subscription is gone): what the senders
    /// are shared out by.
    pub owner: String,
    /// The push host of the endpoint (`host[:port]`), the other thing they are shared by.
    pub push_host: String,
}

/// One entry of a user's change log: the latest change of one notification (a later change
/// of the same notification replaces it, under a new `seq`), kept until the notification
/// would have expired. `seq` counts the user's changes: the change stream's event ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedChange {
    pub seq: i64,
    pub change: StateChange,
    /// The notification's group, if any (what a device redraws).
    pub group: Option<String>,
}

impl LoggedChange {
    /// A change row as the store reads it; an unknown state reads as none of Graph's.
    fn from_row(
        seq: i64,
        id: String,
        read_state: Option<&str>,
        user_action_state: Option<&str>,
        deleted: bool,
        group: Option<String>,
    ) -> LoggedChange {
        let state = match (deleted, read_state, user_action_state) {
            (false, Some(read), Some(action)) => Some((
                ReadState::parse(read).unwrap_or_default(),
                UserActionState::parse(action).unwrap_or_default(),
            )),
            _ => None,
        };
        LoggedChange {
            seq,
            change: StateChange { id, state },
            group,
        }
    }

    /// The changes a claim read, as the backend aggregated them: a JSON array of
    /// `[seq, id, readState, userActionState, deleted, groupName]`, newest first.
    fn list_of(text: Option<&str>) -> Vec<LoggedChange> {
        let Some(rows) =
            text.and_then(|text| serde_json::from_str::<Vec<serde_json::Value>>(text).ok())
        else {
            return Vec::new();
        };
        rows.iter()
            .filter_map(|row| {
                let item = |index: usize| row.get(index);
                let text = |index: usize| item(index).and_then(serde_json::Value::as_str);
                let deleted = match item(4) {
                    Some(serde_json::Value::Bool(flag)) => *flag,
                    Some(number) => number.as_i64().unwrap_or(0) != 0,
                    None => false,
                };
                Some(LoggedChange::from_row(
                    item(0)?.as_i64()?,
                    text(1)?.to_owned(),
                    text(2),
                    text(3),
                    deleted,
                    text(5).map(str::to_owned),
                ))
            })
            .collect()
    }
}

/// What a change of a notification's state did: the notification as it now is, and the
/// change logged (`None` when the state was already so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateUpdated {
    pub item: FeedItem,
    pub change: Option<LoggedChange>,
}

/// Deliveries waiting for an attempt (`/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Deliveries queued or retrying.
    pub depth: u64,
    /// How long the oldest of them has waited since it was queued; 0 when none waits.
    pub oldest_age_ms: u64,
}

/// How the senders of this process are shared out when it claims deliveries: no user and no
/// push host may have more than its share in flight here, so what one user's endpoints do
/// (hang, time out, flood) never takes the senders from the others.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimShares {
    /// Pushes in flight at most per user (`DeliverySettings::per_user`).
    pub per_user: usize,
    /// Pushes in flight at most per push host (`DeliverySettings::per_host`).
    pub per_host: usize,
    /// Room left for each user with pushes in flight here (0: none until one finishes).
    pub user_room: BTreeMap<String, usize>,
    /// Room left for each host with pushes in flight here, or resting after timeouts (0).
    pub host_room: BTreeMap<String, usize>,
}

impl ClaimShares {
    /// How many due rows a claim looks at on SQLite, per row it may take: enough for several
    /// users to take turns in one claim; the users and hosts without room are passed over in
    /// the index before the window is counted. (PostgreSQL looks at as many as it may take:
    /// the rows it looks at are locked.)
    pub const WINDOW: usize = 4;

    /// Nothing in flight and no share smaller than a whole claim: a claim in the old order,
    /// for tools and tests of the queue itself.
    pub fn unshared() -> ClaimShares {
        ClaimShares {
            per_user: usize::MAX,
            per_host: usize::MAX,
            ..ClaimShares::default()
        }
    }

    fn full(rooms: &BTreeMap<String, usize>) -> Vec<&str> {
        rooms
            .iter()
            .filter(|(_, room)| **room == 0)
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// The users with no room now.
    pub fn full_users(&self) -> Vec<&str> {
        ClaimShares::full(&self.user_room)
    }

    /// The hosts with no room now.
    pub fn full_hosts(&self) -> Vec<&str> {
        ClaimShares::full(&self.host_room)
    }

    fn full_users_json(&self) -> String {
        serde_json::Value::from(self.full_users()).to_string()
    }

    fn full_hosts_json(&self) -> String {
        serde_json::Value::from(self.full_hosts()).to_string()
    }

    fn user_rooms_json(&self) -> String {
        serde_json::to_string(&self.user_room).unwrap_or_else(|_| "{}".to_owned())
    }

    fn host_rooms_json(&self) -> String {
        serde_json::to_string(&self.host_room).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// How long a push that only carries changes stays in the queue at most (and its rows after).
pub const CHANGE_PUSH_LIFETIME: Millis = 24 * 3_600_000;

/// The resource as stored and pushed: the notification's JSON with its `id`.
fn stored_resource(notification: &Notification, id: &str) -> String {
    let mut stored = notification.clone();
    stored.id = Some(id.to_owned());
    stored.to_json().to_json_string()
}

impl FanOut {
    /// Counts one delivery row a post made.
    fn count(&mut self, state: &str, reason: Option<&str>) {
        match (DeliveryState::parse(state), reason) {
            (Some(DeliveryState::Queued), _) => self.queued += 1,
            (Some(DeliveryState::Gone), _) => self.gone += 1,
            (_, Some(reasons::TARGET_POLICY)) => self.skipped_by_policy += 1,
            (_, Some(reasons::MUTED | reasons::QUIET_HOURS)) => self.skipped_by_preferences += 1,
            _ => self.skipped_by_host += 1,
        }
    }
}

fn queue_stats(depth: i64, oldest_created_at: Option<Millis>, now: Millis) -> QueueStats {
    QueueStats {
        depth: u64::try_from(depth).unwrap_or(0),
        oldest_age_ms: oldest_created_at
            .and_then(|at| u64::try_from(now.saturating_sub(at)).ok())
            .unwrap_or(0),
    }
}

/// A delivery row as the API shows it; an unknown state text reads as `failed`.
fn delivery_info(
    subscription_id: String,
    state: &str,
    attempts: i64,
    last_status: Option<i64>,
    reason: Option<String>,
    next_attempt_at: Millis,
    updated_at: Millis,
) -> DeliveryInfo {
    let state = DeliveryState::parse(state).unwrap_or(DeliveryState::Failed);
    DeliveryInfo {
        subscription_id,
        state,
        attempts: u32::try_from(attempts).unwrap_or(0),
        last_status: last_status.and_then(|status| u16::try_from(status).ok()),
        reason,
        next_attempt_at: state.is_pending().then_some(next_attempt_at),
        updated_at,
    }
}

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

/// How the service uses its database; only PostgreSQL's pool has settings today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbSettings {
    /// Connections each process keeps to PostgreSQL at most (`USERNOTIFY_DB_POOL`).
    pub max_connections: u32,
    /// How long a request waits for a connection before it is answered 503.
    pub acquire_timeout: std::time::Duration,
}

impl Default for DbSettings {
    fn default() -> DbSettings {
        DbSettings {
            max_connections: 16,
            acquire_timeout: std::time::Duration::from_secs(3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_post_that_reaches_nobody_says_why() {
        let none = FanOut::default();
        assert_eq!(none.why_nothing_was_queued(), Some("no-subscriptions"));
        let policy = FanOut {
            skipped_by_policy: 2,
            ..FanOut::default()
        };
        assert_eq!(policy.why_nothing_was_queued(), Some("target-policy"));
        let host = FanOut {
            skipped_by_host: 1,
            ..FanOut::default()
        };
        assert_eq!(host.why_nothing_was_queued(), Some("target-host"));
        let mixed = FanOut {
            skipped_by_host: 1,
            gone: 1,
            ..FanOut::default()
        };
        assert_eq!(mixed.why_nothing_was_queued(), Some("none-matched"));
        let reached = FanOut {
            queued: 1,
            skipped_by_host: 3,
            ..FanOut::default()
        };
        assert_eq!(reached.why_nothing_was_queued(), None);
    }
}
