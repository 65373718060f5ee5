//! PostgreSQL: the users' preferences.

use super::*;

impl PgStore {
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
}
