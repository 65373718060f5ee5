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

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use usernotify::core::{Millis, Notification};

use crate::deliveries::{Attempted, DeliveryInfo};

use super::{Store, StoreError, StoreFuture};
use crate::changes::LoggedChange;
use crate::deliveries::{ClaimShares, DueDelivery, QueueStats};
use crate::notifications::{FeedItem, FeedPage, Saved, StateUpdated};
use crate::subscriptions::{NewSubscription, Registration, SubscriptionInfo};
use usernotify::core::sync::OnDevice;

/// Reader connections beside the writer: enough that readers do not wait for each other on
/// a small machine; each one is a file handle and a page cache.
const READERS: usize = 4;

/// Schema migrations, applied in order; `PRAGMA user_version` counts those already applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/sqlite/0001_schema.sql"),
    include_str!("../migrations/sqlite/0002_feed_seq_index.sql"),
    include_str!("../migrations/sqlite/0003_delivery_states.sql"),
    include_str!("../migrations/sqlite/0004_changes_and_preferences.sql"),
    include_str!("../migrations/sqlite/0005_shares_and_feed_counts.sql"),
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
        let _mode: String =
            writer.query_row(include_str!("../sql/sqlite/open_wal.sql"), [], |row| {
                row.get(0)
            })?;
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
    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A reader: the first free one, else the next in turn (waiting for it).
    pub(crate) fn read(&self) -> MutexGuard<'_, Connection> {
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

    pub(crate) fn claims(&self) -> MutexGuard<'_, HashSet<i64>> {
        // Only whole ids are ever inserted or removed, so a poisoned set is still whole.
        self.claimed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The schema version the file is at.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self.read().query_row(
            include_str!("../sql/sqlite/schema_version.sql"),
            [],
            |row| row.get(0),
        )?)
    }

    /// Through the writer: the service is ready when it can write (a post waits for the
    /// writer), not merely read.
    pub fn ping(&self) -> Result<(), StoreError> {
        let _one: i64 =
            self.lock()
                .query_row(include_str!("../sql/sqlite/ping.sql"), [], |row| row.get(0))?;
        Ok(())
    }

    /// The one count a statement without parameters selects, as the caller's integer type.
    pub(crate) fn count<N: TryFrom<i64> + Default>(
        &self,
        statement: &str,
    ) -> Result<N, StoreError> {
        let count: i64 = self.read().query_row(statement, [], |row| row.get(0))?;
        Ok(N::try_from(count).unwrap_or_default())
    }
}

/// A transaction that takes the write lock at `BEGIN`. A deferred one that reads first and
/// writes later cannot wait for another writer (SQLite answers `SQLITE_BUSY` at once rather
/// than invoke the busy handler, since waiting could deadlock), so every post would fail
/// while another process held the lock; taking it up front lets `busy_timeout` apply.
pub(crate) fn write_transaction(conn: &mut Connection) -> Result<Transaction<'_>, StoreError> {
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
    let version: i64 =
        conn.query_row(include_str!("../sql/sqlite/user_version.sql"), [], |row| {
            row.get(0)
        })?;
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

mod backend;

pub use backend::SqliteBackend;

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
            .claim_due(&crate::deliveries::ClaimShares::unshared(), NOW, 10, NOW)
            .unwrap();
        assert_eq!(due.len(), 2, "both queued deliveries are still sent");
        assert_eq!(store.pending_deliveries().unwrap(), 2);
    }
}
