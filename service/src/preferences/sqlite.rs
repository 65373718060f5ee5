//! SQLite: the users' preferences.

use rusqlite::{params, OptionalExtension};
use usernotify::core::Millis;

use crate::store::sqlite::SqliteStore;
use crate::store::StoreError;

impl SqliteStore {
    pub fn preferences(&self, user: &str) -> Result<Option<(String, i64)>, StoreError> {
        Ok(self
            .read()
            .prepare_cached(include_str!("sql/sqlite/preferences.sql"))?
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
                include_str!("sql/sqlite/put_preferences_insert_preferences.sql"),
                params![user, body, now],
            )?,
            Some(version) => conn.execute(
                include_str!("sql/sqlite/put_preferences_update_preferences.sql"),
                params![user, body, now, version],
            )?,
        };
        Ok(changed > 0)
    }
}
