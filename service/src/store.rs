//! SQLite: subscriptions, the per-user feed, pending deliveries and the VAPID key pair.
//!
//! One connection behind a mutex; handlers reach it through [`Db`], which runs each call on
//! tokio's blocking pool. Every method takes `now` as a value instead of reading the clock.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{
    params, Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior,
};
use usernotify::core::{Millis, Notification};

/// Schema migrations, applied in order; `PRAGMA user_version` counts those already applied.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE vapid_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    private_key BLOB NOT NULL,
    public_key BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    -- NULL once the push service said the subscription is gone (404/410): the UNSID still
    -- names its user, but nothing is pushed to it any more.
    endpoint TEXT,
    p256dh BLOB,
    auth BLOB,
    target_host_name TEXT NOT NULL,
    display_name TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    gone_at INTEGER
);
CREATE INDEX subscriptions_by_user ON subscriptions (user_id);
CREATE UNIQUE INDEX subscriptions_by_endpoint ON subscriptions (user_id, endpoint)
    WHERE endpoint IS NOT NULL;
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    app_notification_id TEXT,
    resource TEXT NOT NULL,
    priority TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    read_state TEXT NOT NULL DEFAULT 'unread',
    user_action_state TEXT NOT NULL DEFAULT 'none'
);
CREATE UNIQUE INDEX notifications_by_app_id ON notifications (user_id, app_notification_id)
    WHERE app_notification_id IS NOT NULL;
CREATE INDEX notifications_feed ON notifications (user_id, seq);
CREATE INDEX notifications_expiry ON notifications (expires_at);
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    notification_id TEXT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (subscription_id, notification_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at);
"#,
    // MAX(seq) on every post scanned the whole table without an index that starts with seq.
    r#"
CREATE INDEX notifications_seq ON notifications (seq);
"#,
];

/// Why the store failed. `code()` is stable; `is_busy()` maps to Graph's 406 "server busy".
#[derive(Debug)]
pub enum StoreError {
    Sqlite(rusqlite::Error),
    Io(std::io::Error),
    /// The file was written by a newer version of the service.
    SchemaTooNew {
        found: i64,
        known: i64,
    },
    /// The blocking task running the call panicked or was cancelled.
    TaskFailed,
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Sqlite(_) => "store-sqlite",
            StoreError::Io(_) => "store-io",
            StoreError::SchemaTooNew { .. } => "store-schema-too-new",
            StoreError::TaskFailed => "store-task-failed",
        }
    }

    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(failure, _))
                if matches!(failure.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
        )
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Sqlite(error) => write!(f, "{}: {error}", self.code()),
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

/// A push subscription as registered by a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    pub endpoint: String,
    pub p256dh: Vec<u8>,
    pub auth: Vec<u8>,
    pub target_host_name: String,
    pub display_name: Option<String>,
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

/// What saving a posted notification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub item: FeedItem,
    /// True when an earlier notification with the same `appNotificationId` was updated.
    pub updated: bool,
    /// Deliveries queued for the user's matching subscriptions.
    pub queued: usize,
}

/// One push to send: the subscription's keys and the resource to encrypt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub id: i64,
    pub attempts: u32,
    pub subscription_id: String,
    pub endpoint: String,
    pub p256dh: Vec<u8>,
    pub auth: Vec<u8>,
    pub notification_id: String,
    pub resource: String,
    pub priority: String,
    pub app_notification_id: Option<String>,
    pub expires_at: Millis,
}

/// The SQLite file.
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating with owner-only permissions if absent) and migrates the database.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        create_private_file(path)?;
        let conn = Connection::open(path)?;
        Store::setup(conn)
    }

    /// An in-memory database, for unit tests of the store itself.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Store::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Store, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // WAL lets the feed be read while the worker writes; returns the mode as a row.
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        migrate(&mut conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The schema version the file is at.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .lock()
            .query_row("PRAGMA user_version", [], |row| row.get(0))?)
    }

    /// The stored VAPID key pair `(private, public)`, generated by `generate` on first use.
    pub fn vapid_key_or_insert(
        &self,
        generate: impl FnOnce() -> (Vec<u8>, Vec<u8>),
        now: Millis,
    ) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
        let mut conn = self.lock();
        let tx = write_transaction(&mut conn)?;
        let existing = tx
            .query_row(
                "SELECT private_key, public_key FROM vapid_key WHERE id = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let pair = match existing {
            Some(pair) => pair,
            None => {
                let (private, public) = generate();
                tx.execute(
                    "INSERT INTO vapid_key (id, private_key, public_key, created_at)
                     VALUES (1, ?1, ?2, ?3)",
                    params![private, public, now],
                )?;
                (private, public)
            }
        };
        tx.commit()?;
        Ok(pair)
    }

    /// Registers a subscription, or refreshes the user's existing one for the same endpoint
    /// (a browser re-subscribing keeps its UNSID). Returns the UNSID.
    pub fn add_subscription(
        &self,
        user: &str,
        subscription: &NewSubscription,
        candidate_id: &str,
        now: Millis,
    ) -> Result<SubscriptionInfo, StoreError> {
        let mut conn = self.lock();
        let tx = write_transaction(&mut conn)?;
        let existing: Option<(String, Millis)> = tx
            .query_row(
                "SELECT id, created_at FROM subscriptions WHERE user_id = ?1 AND endpoint = ?2",
                params![user, subscription.endpoint],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let (id, created_at) = match existing {
            Some((id, created_at)) => {
                tx.execute(
                    "UPDATE subscriptions SET p256dh = ?2, auth = ?3, target_host_name = ?4,
                         display_name = ?5, updated_at = ?6, gone_at = NULL WHERE id = ?1",
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
                tx.execute(
                    "INSERT INTO subscriptions (id, user_id, endpoint, p256dh, auth,
                         target_host_name, display_name, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                    params![
                        candidate_id,
                        user,
                        subscription.endpoint,
                        subscription.p256dh,
                        subscription.auth,
                        subscription.target_host_name,
                        subscription.display_name,
                        now
                    ],
                )?;
                (candidate_id.to_owned(), now)
            }
        };
        tx.commit()?;
        Ok(SubscriptionInfo {
            id,
            user: user.to_owned(),
            target_host_name: subscription.target_host_name.clone(),
            display_name: subscription.display_name.clone(),
            created_at,
            active: true,
        })
    }

    /// A subscription by UNSID, whoever owns it (the caller check is the handler's).
    pub fn subscription(&self, id: &str) -> Result<Option<SubscriptionInfo>, StoreError> {
        let conn = self.lock();
        let mut statement = conn.prepare_cached(
            "SELECT id, user_id, target_host_name, display_name, created_at,
                    endpoint IS NOT NULL
             FROM subscriptions WHERE id = ?1",
        )?;
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

    /// Removes one of `user`'s subscriptions and its pending deliveries; false if none.
    pub fn delete_subscription(&self, user: &str, id: &str) -> Result<bool, StoreError> {
        let changed = self.lock().execute(
            "DELETE FROM subscriptions WHERE id = ?1 AND user_id = ?2",
            params![id, user],
        )?;
        Ok(changed > 0)
    }

    /// The push service said the subscription no longer exists: forget its endpoint and
    /// keys and drop what was queued for it. The UNSID keeps naming its user.
    pub fn mark_subscription_gone(&self, id: &str, now: Millis) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = write_transaction(&mut conn)?;
        forget_subscription(&tx, id, now)?;
        tx.commit()?;
        Ok(())
    }

    /// Stores a valid notification for `user` and queues its fan-out, in one transaction.
    ///
    /// A notification whose `appNotificationId` the user already has updates that one (same
    /// id, state back to unread/none); otherwise it is stored under `candidate_id`. Deliveries
    /// go to every active subscription of the user whose `targetHostName` equals the
    /// notification's (ASCII case-insensitively, as host names are), when it targets webPush.
    pub fn save_notification(
        &self,
        user: &str,
        notification: &Notification,
        candidate_id: &str,
        now: Millis,
    ) -> Result<Saved, StoreError> {
        let mut conn = self.lock();
        let tx = write_transaction(&mut conn)?;
        let existing: Option<(String, Millis)> = match &notification.app_notification_id {
            Some(app_id) => tx
                .prepare_cached(
                    "SELECT id, created_at FROM notifications
                     WHERE user_id = ?1 AND app_notification_id = ?2",
                )?
                .query_row(params![user, app_id], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?,
            None => None,
        };
        let updated = existing.is_some();
        let (id, created_at) = existing.unwrap_or_else(|| (candidate_id.to_owned(), now));
        let mut stored = notification.clone();
        stored.id = Some(id.clone());
        let resource = stored.to_json().to_json_string();
        let seq = next_seq(&tx)?;
        if updated {
            tx.prepare_cached(
                "UPDATE notifications SET resource = ?2, priority = ?3, expires_at = ?4,
                     updated_at = ?5, seq = ?6, read_state = 'unread', user_action_state = 'none'
                 WHERE id = ?1",
            )?
            .execute(params![
                id,
                resource,
                notification.priority.as_str(),
                notification.expiration,
                now,
                seq
            ])?;
            tx.prepare_cached("DELETE FROM deliveries WHERE notification_id = ?1")?
                .execute(params![id])?;
        } else {
            tx.prepare_cached(
                "INSERT INTO notifications (id, user_id, app_notification_id, resource, priority,
                     expires_at, created_at, updated_at, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)",
            )?
            .execute(params![
                id,
                user,
                notification.app_notification_id,
                resource,
                notification.priority.as_str(),
                notification.expiration,
                now,
                seq
            ])?;
        }
        let queued = match (
            &notification.target_host_name,
            notification.targets_web_push(),
        ) {
            (Some(host), true) => tx
                .prepare_cached(
                    "INSERT INTO deliveries (subscription_id, notification_id, next_attempt_at,
                         created_at)
                     SELECT id, ?1, ?2, ?2 FROM subscriptions
                     WHERE user_id = ?3 AND endpoint IS NOT NULL
                       AND target_host_name = ?4 COLLATE NOCASE",
                )?
                .execute(params![id, now, user, host])?,
            _ => 0,
        };
        tx.commit()?;
        Ok(Saved {
            item: FeedItem {
                id,
                resource,
                read_state: "unread".to_owned(),
                user_action_state: "none".to_owned(),
                created_at,
            },
            updated,
            queued,
        })
    }

    /// The user's unexpired notifications, newest (last posted or updated) first.
    pub fn feed(&self, user: &str, now: Millis) -> Result<Vec<FeedItem>, StoreError> {
        let conn = self.lock();
        let mut statement = conn.prepare_cached(
            "SELECT id, resource, read_state, user_action_state, created_at FROM notifications
             WHERE user_id = ?1 AND expires_at > ?2 ORDER BY seq DESC",
        )?;
        let rows = statement.query_map(params![user, now], feed_item)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// One unexpired notification of the user.
    pub fn notification(
        &self,
        user: &str,
        id: &str,
        now: Millis,
    ) -> Result<Option<FeedItem>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT id, resource, read_state, user_action_state, created_at FROM notifications
                 WHERE id = ?1 AND user_id = ?2 AND expires_at > ?3",
                params![id, user, now],
                feed_item,
            )
            .optional()?)
    }

    /// Sets the Graph client state of one of the user's unexpired notifications. The values
    /// are checked by the caller. `None` when there is no such notification.
    pub fn update_state(
        &self,
        user: &str,
        id: &str,
        read_state: Option<&str>,
        user_action_state: Option<&str>,
        now: Millis,
    ) -> Result<Option<FeedItem>, StoreError> {
        let mut conn = self.lock();
        let tx = write_transaction(&mut conn)?;
        let changed = tx.execute(
            "UPDATE notifications SET read_state = COALESCE(?3, read_state),
                 user_action_state = COALESCE(?4, user_action_state)
             WHERE id = ?1 AND user_id = ?2 AND expires_at > ?5",
            params![id, user, read_state, user_action_state, now],
        )?;
        let item = if changed > 0 {
            tx.query_row(
                "SELECT id, resource, read_state, user_action_state, created_at FROM notifications
                 WHERE id = ?1",
                params![id],
                feed_item,
            )
            .optional()?
        } else {
            None
        };
        tx.commit()?;
        Ok(item)
    }

    /// Deletes one of the user's notifications (and what was still queued for it).
    pub fn delete_notification(&self, user: &str, id: &str) -> Result<bool, StoreError> {
        let changed = self.lock().execute(
            "DELETE FROM notifications WHERE id = ?1 AND user_id = ?2",
            params![id, user],
        )?;
        Ok(changed > 0)
    }

    /// Removes expired notifications (their deliveries go with them). Returns how many.
    pub fn purge_expired(&self, now: Millis) -> Result<usize, StoreError> {
        Ok(self.lock().execute(
            "DELETE FROM notifications WHERE expires_at <= ?1",
            params![now],
        )?)
    }

    /// Deliveries due at `now`, oldest first, at most `limit`, leaving out those in `skip`
    /// (the ones the worker is sending right now).
    pub fn due_deliveries(
        &self,
        now: Millis,
        limit: usize,
        skip: &[i64],
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let conn = self.lock();
        // The ids to leave out travel as one JSON array, so the statement stays cached.
        let skip = serde_json::to_string(skip).unwrap_or_else(|_| "[]".to_owned());
        let mut statement = conn.prepare_cached(
            "SELECT d.id, d.attempts, s.id, s.endpoint, s.p256dh, s.auth, n.id, n.resource,
                    n.priority, n.app_notification_id, n.expires_at
             FROM deliveries d
             JOIN subscriptions s ON s.id = d.subscription_id
             JOIN notifications n ON n.id = d.notification_id
             WHERE d.next_attempt_at <= ?1 AND s.endpoint IS NOT NULL
               AND d.id NOT IN (SELECT value FROM json_each(?3))
             ORDER BY d.next_attempt_at, d.id LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = statement.query_map(params![now, limit, skip], |row| {
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
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// When the next queued delivery not in `skip` is due, if any (walks the due index and
    /// stops at the first row).
    pub fn next_due(&self, skip: &[i64]) -> Result<Option<Millis>, StoreError> {
        let conn = self.lock();
        let skip = serde_json::to_string(skip).unwrap_or_else(|_| "[]".to_owned());
        let mut statement = conn.prepare_cached(
            "SELECT d.next_attempt_at FROM deliveries d
                 JOIN subscriptions s ON s.id = d.subscription_id
                 WHERE s.endpoint IS NOT NULL
                   AND d.id NOT IN (SELECT value FROM json_each(?1))
                 ORDER BY d.next_attempt_at LIMIT 1",
        )?;
        Ok(statement
            .query_row(params![skip], |row| row.get(0))
            .optional()?)
    }

    /// How many deliveries are queued (for operators and tests).
    pub fn pending_deliveries(&self) -> Result<usize, StoreError> {
        let count: i64 = self
            .lock()
            .query_row("SELECT COUNT(*) FROM deliveries", [], |row| row.get(0))?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// Applies the outcomes of several attempts in one transaction: one commit for a whole
    /// round of pushes instead of one per push.
    pub fn record_outcomes(
        &self,
        outcomes: &[(i64, Verdict)],
        now: Millis,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = write_transaction(&mut conn)?;
        for (id, verdict) in outcomes {
            match verdict {
                Verdict::Finished => {
                    tx.prepare_cached("DELETE FROM deliveries WHERE id = ?1")?
                        .execute(params![id])?;
                }
                Verdict::Retry { attempts, next_at } => {
                    tx.prepare_cached(
                        "UPDATE deliveries SET attempts = ?2, next_attempt_at = ?3 WHERE id = ?1",
                    )?
                    .execute(params![id, attempts, next_at])?;
                }
                Verdict::SubscriptionGone { subscription_id } => {
                    forget_subscription(&tx, subscription_id, now)?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// What an attempt means for the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Sent, refused for good, expired or given up: the delivery leaves the queue.
    Finished,
    /// Try again at `next_at`, the `attempts`-th failure so far.
    Retry { attempts: u32, next_at: Millis },
    /// The push service said the subscription no longer exists.
    SubscriptionGone { subscription_id: String },
}

/// Forgets a subscription's endpoint and keys and drops what was queued for it.
fn forget_subscription(tx: &Transaction<'_>, id: &str, now: Millis) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE subscriptions SET endpoint = NULL, p256dh = NULL, auth = NULL, gone_at = ?2
         WHERE id = ?1",
    )?
    .execute(params![id, now])?;
    tx.prepare_cached("DELETE FROM deliveries WHERE subscription_id = ?1")?
        .execute(params![id])?;
    Ok(())
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

/// A counter that orders the feed: a post or an update makes a notification the newest.
fn next_seq(tx: &Transaction<'_>) -> Result<i64, StoreError> {
    Ok(tx
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM notifications")?
        .query_row([], |row| row.get(0))?)
}

/// A transaction that takes the write lock at `BEGIN`. A deferred one that reads first and
/// writes later cannot wait for another writer (SQLite answers `SQLITE_BUSY` at once rather
/// than invoke the busy handler, since waiting could deadlock), so every post would fail
/// while another process held the lock; taking it up front lets `busy_timeout` apply.
fn write_transaction(conn: &mut Connection) -> Result<Transaction<'_>, StoreError> {
    Ok(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
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

/// The store shared by handlers and the delivery worker, used from async code.
#[derive(Clone)]
pub struct Db(Arc<Store>);

impl Db {
    pub fn new(store: Store) -> Db {
        Db(Arc::new(store))
    }

    /// Direct access, for synchronous callers (start-up, tests).
    pub fn store(&self) -> &Store {
        &self.0
    }

    /// Runs `call` on the blocking pool, so SQLite never stalls the async workers.
    pub async fn run<T, F>(&self, call: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || call(&store))
            .await
            .map_err(|_| StoreError::TaskFailed)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use usernotify::core::Json;

    const NOW: Millis = 1_700_000_000_000;

    fn notification(text: &str) -> Notification {
        let json: Json = serde_json::from_str(text).unwrap();
        Notification::from_json(&json, NOW).unwrap()
    }

    fn subscription(endpoint: &str, host: &str) -> NewSubscription {
        NewSubscription {
            endpoint: endpoint.to_owned(),
            p256dh: vec![4; 65],
            auth: vec![1; 16],
            target_host_name: host.to_owned(),
            display_name: None,
        }
    }

    #[test]
    fn a_new_file_is_migrated_to_the_latest_schema() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    }

    #[test]
    fn the_same_app_notification_id_updates_the_same_row() {
        let store = Store::open_in_memory().unwrap();
        let first = store
            .save_notification(
                "alice",
                &notification(r#"{"appNotificationId":"a","payload":{"rawContent":"1"}}"#),
                "id-one",
                NOW,
            )
            .unwrap();
        store
            .update_state("alice", "id-one", Some("read"), None, NOW)
            .unwrap();
        let second = store
            .save_notification(
                "alice",
                &notification(r#"{"appNotificationId":"a","payload":{"rawContent":"2"}}"#),
                "id-two",
                NOW + 1,
            )
            .unwrap();
        assert!(second.updated);
        assert_eq!(second.item.id, first.item.id);
        let feed = store.feed("alice", NOW).unwrap();
        assert_eq!(feed.len(), 1);
        assert!(feed[0].resource.contains("\"2\""));
        assert_eq!(feed[0].read_state, "unread");
    }

    #[test]
    fn fan_out_picks_the_users_subscriptions_for_the_host_only() {
        let store = Store::open_in_memory().unwrap();
        for (user, endpoint, host, id) in [
            ("alice", "https://push.example/1", "app.example", "s1"),
            ("alice", "https://push.example/2", "APP.example", "s2"),
            ("alice", "https://push.example/3", "other.example", "s3"),
            ("bob", "https://push.example/4", "app.example", "s4"),
        ] {
            store
                .add_subscription(user, &subscription(endpoint, host), id, NOW)
                .unwrap();
        }
        let saved = store
            .save_notification(
                "alice",
                &notification(r#"{"targetHostName":"app.example","payload":{"rawContent":"x"}}"#),
                "n1",
                NOW,
            )
            .unwrap();
        assert_eq!(saved.queued, 2);
        let not_web = store
            .save_notification(
                "alice",
                &notification(
                    r#"{"targetHostName":"app.example","targetPolicy":{"platformTypes":["ios"]},
                        "payload":{"rawContent":"x"}}"#,
                ),
                "n2",
                NOW,
            )
            .unwrap();
        assert_eq!(not_web.queued, 0);
    }

    #[test]
    fn a_gone_subscription_keeps_its_user_but_gets_nothing() {
        let store = Store::open_in_memory().unwrap();
        store
            .add_subscription(
                "alice",
                &subscription("https://push.example/1", "h"),
                "s1",
                NOW,
            )
            .unwrap();
        store.mark_subscription_gone("s1", NOW).unwrap();
        let info = store.subscription("s1").unwrap().unwrap();
        assert_eq!(info.user, "alice");
        assert!(!info.active);
        let saved = store
            .save_notification(
                "alice",
                &notification(r#"{"targetHostName":"h","payload":{"rawContent":"x"}}"#),
                "n1",
                NOW,
            )
            .unwrap();
        assert_eq!(saved.queued, 0);
    }
}

#[cfg(all(test, unix))]
mod file_tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_database_file_is_readable_by_its_owner_only_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usernotify.db");
        let store = Store::open(&path).unwrap();
        let (private, _) = store
            .vapid_key_or_insert(|| (vec![1; 32], vec![4; 65]), 0)
            .unwrap();
        drop(store);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = Store::open(&path).unwrap();
        assert_eq!(again.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let (stored, _) = again
            .vapid_key_or_insert(|| panic!("must not generate again"), 0)
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
            Store::open(&path),
            Err(StoreError::SchemaTooNew { found: 99, .. })
        ));
    }
}
