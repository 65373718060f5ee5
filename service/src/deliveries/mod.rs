//! The fan-out worker: sends queued deliveries, retries transient failures with backoff
//! (honouring `Retry-After`), forgets subscriptions the push service says are gone.
//!
//! The queue lives in the database, so a restart loses nothing: the worker simply finds the
//! deliveries still due when it starts. On PostgreSQL every replica runs a worker on the
//! one shared queue; each claims what it sends with a lease (`postgres.rs`,
//! `sql/postgres/claim_due.sql`).
//!
//! When the service gives up on a delivery (state `failed`, with its `reason`): the push
//! service refused it for good (a 4xx other than 404, 410 and 429: `push-service-refused`,
//! or `vapid-refused` for 401/403); the notification expired before it could be sent
//! (`expired`) or before the next retry would come (`expires-before-retry`); or
//! `DeliverySettings::max_attempts` transient failures (429, 5xx, no answer) came in a row
//! (`too-many-attempts`).

pub mod attempt;
pub mod handler;
pub mod holdings;
mod postgres;
mod records;
mod sqlite;
pub mod worker;

pub use attempt::{backoff, classify, parse_retry_after, reasons, Attempted, PushResult, Verdict};
pub use holdings::Holdings;
pub(crate) use records::{delivery_info, queue_stats};
pub use records::{
    ClaimShares, DeliveryInfo, DeliveryState, DueDelivery, QueueStats, CHANGES_KIND,
};
pub use worker::{push_client, Deliverer};
