//! PostgreSQL: the shared delivery queue (claims with leases), outcomes, each delivery's state.

use sqlx::postgres::PgRow;
use sqlx::Row;
use usernotify::core::feed::{ReadState, UserActionState};
use usernotify::core::Millis;

use super::{
    delivery_info, queue_stats, reasons, Attempted, ClaimShares, DeliveryInfo, DeliveryState,
    DueDelivery, QueueStats, Verdict, CHANGES_KIND,
};
use crate::changes::{LoggedChange, CHANGE_PUSH_LIFETIME};
use crate::store::postgres::PgStore;
use crate::store::StoreError;

impl PgStore {
    pub async fn queue_stats(&self, now: Millis) -> Result<QueueStats, StoreError> {
        let row = sqlx::query(include_str!("sql/postgres/queue_stats.sql"))
            .fetch_one(&self.pool)
            .await?;
        Ok(queue_stats(row.try_get(0)?, row.try_get(1)?, now))
    }

    /// One statement: no row means no such notification of the user; one row of NULLs, a
    /// notification without deliveries.
    pub async fn deliveries(
        &self,
        user: &str,
        id: &str,
        now: Millis,
    ) -> Result<Option<Vec<DeliveryInfo>>, StoreError> {
        let rows = sqlx::query(include_str!("sql/postgres/deliveries.sql"))
            .bind(id)
            .bind(user)
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut deliveries = Vec::with_capacity(rows.len());
        for row in &rows {
            let Some(subscription_id) = row.try_get::<Option<String>, _>(0)? else {
                continue;
            };
            let state: String = row.try_get(1)?;
            let attempts: i32 = row.try_get(2)?;
            let last_status: Option<i32> = row.try_get(3)?;
            deliveries.push(delivery_info(
                subscription_id,
                &state,
                i64::from(attempts),
                last_status.map(i64::from),
                row.try_get(4)?,
                row.try_get(5)?,
                row.try_get(6)?,
            ));
        }
        Ok(Some(deliveries))
    }

    /// One statement: lock due rows no other replica holds (`SKIP LOCKED`), share them out
    /// by `shares` (see [`ClaimShares`]; the users and hosts without room here are passed
    /// over, of the first `limit` rows left each user and host gets no more than its room,
    /// and users take turns), lease them, and read what each push needs. The row locks end
    /// with the statement; the lease stays.
    pub async fn claim_due(
        &self,
        shares: &ClaimShares,
        now: Millis,
        limit: usize,
        lease_until: Millis,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let count = |number: usize| i64::try_from(number).unwrap_or(i64::MAX);
        sqlx::query(include_str!("sql/postgres/claim_due.sql"))
            .bind(now)
            .bind(count(limit))
            .bind(lease_until)
            .bind(CHANGE_PUSH_LIFETIME)
            .bind(i64::try_from(usernotify::core::sync::MAX_CHANGES_PER_PUSH).unwrap_or(20))
            .bind(shares.full_users())
            .bind(shares.full_hosts())
            // The window is the claim itself here: every row in it is locked until the statement
            // ends, so a wider one would keep other replicas from rows this one does not take.
            .bind(count(limit))
            .bind(shares.user_rooms_json())
            .bind(shares.host_rooms_json())
            .bind(count(shares.per_user))
            .bind(count(shares.per_host))
            .bind(ReadState::Unread.as_str())
            .bind(UserActionState::Dismissed.as_str())
            .bind(CHANGES_KIND)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(due_delivery)
            .collect()
    }

    pub async fn release_claims(&self, ids: &[i64]) -> Result<(), StoreError> {
        sqlx::query(include_str!("sql/postgres/release_claims.sql"))
            .bind(ids)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The earliest moment a queued delivery a claim with `shares` could take can be
    /// claimed: its due time, or its lease's end when another replica holds it (one that
    /// died releases it then).
    pub async fn next_due(&self, shares: &ClaimShares) -> Result<Option<Millis>, StoreError> {
        Ok(
            sqlx::query_scalar(include_str!("sql/postgres/next_due.sql"))
                .bind(shares.full_users())
                .bind(shares.full_hosts())
                .fetch_one(&self.pool)
                .await?,
        )
    }

    pub async fn pending_deliveries(&self) -> Result<usize, StoreError> {
        let count: i64 = sqlx::query_scalar(include_str!("sql/postgres/pending_deliveries.sql"))
            .fetch_one(&self.pool)
            .await?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// One statement for a whole round, committed asynchronously: each delivery's new state
    /// (its lease released), the subscriptions reported gone forgotten (`endpoint IS NOT
    /// NULL` makes that happen once, whichever replicas saw the 404 or 410), and what was
    /// still queued for them gone too.
    pub async fn record_outcomes(
        &self,
        outcomes: &[Attempted],
        now: Millis,
    ) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::with_capacity(outcomes.len());
        let mut states = Vec::with_capacity(outcomes.len());
        let mut attempts = Vec::with_capacity(outcomes.len());
        let mut statuses: Vec<Option<i32>> = Vec::with_capacity(outcomes.len());
        let mut reasons: Vec<Option<String>> = Vec::with_capacity(outcomes.len());
        let mut next_ats: Vec<Option<i64>> = Vec::with_capacity(outcomes.len());
        let mut gone: Vec<String> = Vec::new();
        let mut resting: Vec<String> = Vec::new();
        let mut resting_until: Vec<i64> = Vec::new();
        for outcome in outcomes {
            let (state, status, reason, next_at) = outcome.stored();
            ids.push(outcome.delivery_id);
            states.push(state.as_str().to_owned());
            attempts.push(i32::try_from(outcome.attempts).unwrap_or(i32::MAX));
            statuses.push(status.map(i32::from));
            reasons.push(reason.map(str::to_owned));
            next_ats.push(next_at);
            match &outcome.verdict {
                Verdict::SubscriptionGone {
                    subscription_id, ..
                } => gone.push(subscription_id.clone()),
                // An endpoint that did not answer: the subscription's other deliveries wait
                // as long, instead of each holding a sender until it fails the same way.
                Verdict::Retry {
                    next_at,
                    unanswered: Some(subscription_id),
                    ..
                } => {
                    resting.push(subscription_id.clone());
                    resting_until.push(*next_at);
                }
                _ => {}
            }
        }
        let (cursor_ids, cursor_seqs): (Vec<String>, Vec<i64>) =
            Attempted::cursors(outcomes).into_iter().unzip();
        let forgotten: Option<Vec<String>> =
            sqlx::query_scalar(include_str!("sql/postgres/record_outcomes.sql"))
                .bind(&ids)
                .bind(&states)
                .bind(&attempts)
                .bind(&statuses)
                .bind(&reasons)
                .bind(&next_ats)
                .bind(now)
                .bind(&gone)
                .bind(&cursor_ids)
                .bind(&cursor_seqs)
                .bind(&resting)
                .bind(&resting_until)
                .bind(DeliveryState::Gone.as_str())
                .bind(reasons::SUBSCRIPTION_GONE)
                .fetch_one(&self.pool)
                .await?;
        Ok(forgotten.unwrap_or_default())
    }
}

pub(super) fn due_delivery(row: &PgRow) -> Result<DueDelivery, StoreError> {
    let attempts: i32 = row.try_get(1)?;
    Ok(DueDelivery {
        id: row.try_get(0)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        subscription_id: row.try_get(2)?,
        endpoint: row.try_get(3)?,
        p256dh: row.try_get(4)?,
        auth: row.try_get(5)?,
        notification_id: row.try_get(6)?,
        resource: row.try_get(7)?,
        priority: row.try_get(8)?,
        app_notification_id: row.try_get(9)?,
        expires_at: row.try_get(10)?,
        changes_only: row.try_get(11)?,
        user: row.try_get(12)?,
        changes: LoggedChange::list_of(row.try_get::<Option<String>, _>(13)?.as_deref()),
        unread: u64::try_from(row.try_get::<i64, _>(14)?).unwrap_or(0),
        owner: row.try_get(15)?,
        push_host: row.try_get(16)?,
    })
}
