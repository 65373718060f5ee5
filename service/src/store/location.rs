//! Where the data lives (`USERNOTIFY_DB`) and how the service uses it.

use std::fmt;
use std::path::{Path, PathBuf};

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
