//! SQLite: the delivery queue (claims kept in this process), outcomes, each delivery's state.

use std::collections::HashSet;

use rusqlite::{params, OptionalExtension, Transaction};
use usernotify::core::feed::{ReadState, UserActionState};
use usernotify::core::Millis;

use super::{
    delivery_info, queue_stats, reasons, Attempted, ClaimShares, DeliveryInfo, DeliveryState,
    DueDelivery, QueueStats, Verdict, CHANGES_KIND,
};
use crate::changes::{LoggedChange, CHANGE_PUSH_LIFETIME};
use crate::store::sqlite::{write_transaction, SqliteStore};
use crate::store::StoreError;

impl SqliteStore {
    pub fn queue_stats(&self, now: Millis) -> Result<QueueStats, StoreError> {
        let (depth, oldest): (i64, Option<Millis>) =
            self.read()
                .query_row(include_str!("sql/sqlite/queue_stats.sql"), [], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?;
        Ok(queue_stats(depth, oldest, now))
    }

    pub fn deliveries(
        &self,
        user: &str,
        id: &str,
        now: Millis,
    ) -> Result<Option<Vec<DeliveryInfo>>, StoreError> {
        let conn = self.read();
        let exists = conn
            .prepare_cached(include_str!(
                "sql/sqlite/deliveries_select_notifications.sql"
            ))?
            .query_row(params![id, user, now], |_| Ok(()))
            .optional()?
            .is_some();
        if !exists {
            return Ok(None);
        }
        let mut statement =
            conn.prepare_cached(include_str!("sql/sqlite/deliveries_select_deliveries.sql"))?;
        let rows = statement.query_map(params![id], |row| {
            let state: String = row.get(1)?;
            Ok(delivery_info(
                row.get(0)?,
                &state,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
            ))
        })?;
        Ok(Some(rows.collect::<Result<Vec<_>, _>>()?))
    }

    /// Due deliveries not already claimed by this process, shared out by `shares` (see
    /// [`ClaimShares`]); the lease is not needed, since no other process shares the file.
    ///
    /// The due index holds each delivery's user and push host, so the rows of users and
    /// hosts that have no room are passed over in the index. Of the first due rows left (a
    /// window of a few claims' worth), each user and host gets no more than its room, and
    /// users take turns: every user's oldest first, then every user's second, and so on.
    pub fn claim_due(
        &self,
        shares: &ClaimShares,
        now: Millis,
        limit: usize,
        _lease_until: Millis,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let conn = self.read();
        let mut claimed = self.claims();
        // The ids and names to leave out travel as JSON, so the statement stays cached.
        let skip = json_ids(&claimed);
        // A change-only push has no notification (its lifetime is the queue's, ?11), and
        // every push carries the subscription's changes since its last (at most ?12) and the
        // user's unread count at ?1 (now): the user's counter, less the unread notifications
        // that expired and are not purged yet (a range of the user's expiry index, a
        // minute's worth at most), so that its cost does not grow with the feed.
        let mut statement = conn.prepare_cached(include_str!("sql/sqlite/claim_due.sql"))?;
        let count = |number: usize| i64::try_from(number).unwrap_or(i64::MAX);
        let rows = statement.query_map(
            params![
                now,
                count(limit),
                skip,
                shares.full_users_json(),
                shares.full_hosts_json(),
                count(limit.saturating_mul(ClaimShares::WINDOW)),
                shares.user_rooms_json(),
                shares.host_rooms_json(),
                count(shares.per_user),
                count(shares.per_host),
                CHANGE_PUSH_LIFETIME,
                count(usernotify::core::sync::MAX_CHANGES_PER_PUSH),
                ReadState::Unread.as_str(),
                UserActionState::Dismissed.as_str(),
                CHANGES_KIND
            ],
            due_delivery,
        )?;
        let due = rows.collect::<Result<Vec<_>, _>>()?;
        claimed.extend(due.iter().map(|delivery| delivery.id));
        Ok(due)
    }

    pub fn release_claims(&self, ids: &[i64]) -> Result<(), StoreError> {
        let mut claimed = self.claims();
        for id in ids {
            claimed.remove(id);
        }
        Ok(())
    }

    /// When the next queued delivery a claim with `shares` could take is due, if any
    /// (walks the due index and stops at the first row not passed over).
    pub fn next_due(&self, shares: &ClaimShares) -> Result<Option<Millis>, StoreError> {
        let conn = self.read();
        let skip = json_ids(&self.claims());
        let mut statement = conn.prepare_cached(include_str!("sql/sqlite/next_due.sql"))?;
        Ok(statement
            .query_row(
                params![skip, shares.full_users_json(), shares.full_hosts_json()],
                |row| row.get(0),
            )
            .optional()?)
    }

    pub fn pending_deliveries(&self) -> Result<usize, StoreError> {
        self.count(include_str!("sql/sqlite/pending_deliveries.sql"))
    }

    pub fn record_outcomes(
        &self,
        outcomes: &[Attempted],
        now: Millis,
    ) -> Result<Vec<String>, StoreError> {
        let mut conn = self.lock();
        let tx = write_transaction(&mut conn)?;
        let mut forgotten = Vec::new();
        for outcome in outcomes {
            let (state, status, reason, next_at) = outcome.stored();
            tx.prepare_cached(include_str!("sql/sqlite/record_outcome.sql"))?
                .execute(params![
                    outcome.delivery_id,
                    state.as_str(),
                    outcome.attempts,
                    status,
                    reason,
                    next_at,
                    now
                ])?;
            match &outcome.verdict {
                Verdict::SubscriptionGone {
                    subscription_id, ..
                } if forget_subscription(&tx, subscription_id, now)? => {
                    forgotten.push(subscription_id.clone());
                }
                // An endpoint that did not answer: the subscription's other deliveries wait
                // as long, instead of each holding a sender until it times out too.
                Verdict::Retry {
                    next_at,
                    unanswered: Some(subscription_id),
                    ..
                } => {
                    tx.prepare_cached(include_str!(
                        "sql/sqlite/record_outcomes_rest_unanswered.sql"
                    ))?
                    .execute(params![
                        subscription_id,
                        outcome.delivery_id,
                        next_at
                    ])?;
                }
                _ => {}
            }
        }
        for (subscription, seq) in Attempted::cursors(outcomes) {
            tx.prepare_cached(include_str!("sql/sqlite/record_outcomes_cursor.sql"))?
                .execute(params![subscription, seq])?;
        }
        tx.commit()?;
        drop(conn);
        let mut claimed = self.claims();
        for outcome in outcomes {
            claimed.remove(&outcome.delivery_id);
        }
        Ok(forgotten)
    }
}

/// The claimed ids as a JSON array, for `json_each`.
pub(super) fn json_ids(ids: &HashSet<i64>) -> String {
    serde_json::to_string(&ids.iter().collect::<Vec<_>>()).unwrap_or_else(|_| "[]".to_owned())
}

/// Forgets a subscription's endpoint and keys; what was still queued for it is gone too.
/// False when it was already forgotten.
pub(super) fn forget_subscription(
    tx: &Transaction<'_>,
    id: &str,
    now: Millis,
) -> Result<bool, StoreError> {
    let changed = tx
        .prepare_cached(include_str!(
            "sql/sqlite/forget_subscription_update_subscriptions.sql"
        ))?
        .execute(params![id, now])?;
    tx.prepare_cached(include_str!(
        "sql/sqlite/forget_subscription_update_deliveries.sql"
    ))?
    .execute(params![
        id,
        now,
        DeliveryState::Gone.as_str(),
        reasons::SUBSCRIPTION_GONE
    ])?;
    Ok(changed > 0)
}

pub(super) fn due_delivery(row: &rusqlite::Row<'_>) -> rusqlite::Result<DueDelivery> {
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
        changes_only: row.get(11)?,
        user: row.get(12)?,
        changes: LoggedChange::list_of(row.get::<_, Option<String>>(13)?.as_deref()),
        unread: u64::try_from(row.get::<_, i64>(14)?).unwrap_or(0),
        owner: row.get(15)?,
        push_host: row.get(16)?,
    })
}
