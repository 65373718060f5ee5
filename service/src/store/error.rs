//! Why the store failed.

use std::fmt;

use super::postgres;

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
