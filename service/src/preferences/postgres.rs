//! PostgreSQL: the users' preferences.

use sqlx::Row;
use usernotify::core::Millis;

use crate::store::postgres::PgStore;
use crate::store::StoreError;

impl PgStore {
    pub async fn preferences(&self, user: &str) -> Result<Option<(String, i64)>, StoreError> {
        let row = sqlx::query(include_str!("sql/postgres/preferences.sql"))
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
                sqlx::query(include_str!(
                    "sql/postgres/put_preferences_insert_preferences.sql"
                ))
                .bind(user)
                .bind(body)
                .bind(now)
                .execute(&self.pool)
                .await?
            }
            Some(version) => {
                sqlx::query(include_str!(
                    "sql/postgres/put_preferences_update_preferences.sql"
                ))
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
}
