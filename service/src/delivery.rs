//! The fan-out worker: sends queued deliveries, retries transient failures with backoff
//! (honouring `Retry-After`), forgets subscriptions the push service says are gone.
//!
//! The queue lives in SQLite, so a restart loses nothing: the worker simply finds the
//! deliveries still due when it starts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use usernotify::core::Millis;

use crate::clock::now_millis;
use crate::config::DeliverySettings;
use crate::push::{self, endpoint_tag, PushMessage};
use crate::store::{Db, DueDelivery, Verdict};
use crate::vapid::Vapid;

/// The longest `Retry-After` honoured; beyond it a push service's hint is capped.
const MAX_RETRY_AFTER_SECS: u64 = 24 * 3600;
/// How often expired notifications are purged from the store.
const PURGE_EVERY_MS: Millis = 60_000;

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered(u16),
    /// 404 or 410: the subscription no longer exists.
    Gone(u16),
    /// 429, 5xx, or no answer: try again later (after `Retry-After` seconds when given).
    Retry {
        status: Option<u16>,
        retry_after_secs: Option<u64>,
    },
    /// No answer (timeout, connection refused, TLS): retried like a 5xx.
    Unreachable(&'static str),
    /// Any other answer: the push service refused this message for good.
    Rejected(u16),
    /// The notification expired before it could be sent.
    Expired,
    /// The request could not be built (bad stored keys or endpoint).
    Unbuildable(&'static str),
}

impl Outcome {
    fn name(&self) -> &'static str {
        match self {
            Outcome::Delivered(_) => "delivered",
            Outcome::Gone(_) => "subscription-gone",
            Outcome::Retry { .. } | Outcome::Unreachable(_) => "retry",
            Outcome::Rejected(_) => "rejected",
            Outcome::Expired => "expired",
            Outcome::Unbuildable(_) => "unbuildable",
        }
    }
}

/// Classifies a push service's answer (RFC 8030 §5 and §8.3).
pub fn classify(status: StatusCode, retry_after_secs: Option<u64>) -> Outcome {
    let code = status.as_u16();
    if status.is_success() {
        Outcome::Delivered(code)
    } else if code == 404 || code == 410 {
        Outcome::Gone(code)
    } else if code == 429 || status.is_server_error() {
        Outcome::Retry {
            status: Some(code),
            retry_after_secs,
        }
    } else {
        Outcome::Rejected(code)
    }
}

/// `Retry-After` as seconds from now: delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds.min(MAX_RETRY_AFTER_SECS));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(now)
            .map(|wait| wait.as_secs().min(MAX_RETRY_AFTER_SECS))
            .unwrap_or(0),
    )
}

/// The delay before attempt `attempts + 1` when the push service gave no hint.
pub fn backoff(settings: &DeliverySettings, attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.min(20));
    settings
        .backoff_base
        .saturating_mul(factor)
        .min(settings.backoff_max)
}

/// Everything the worker needs; cheap to clone into each send task.
#[derive(Clone)]
pub struct Deliverer {
    pub db: Db,
    pub vapid: Arc<Vapid>,
    pub client: reqwest::Client,
    pub settings: DeliverySettings,
    pub allow_loopback: bool,
    /// Woken when a POST queued deliveries, so they go out without waiting for the poll.
    pub wake: Arc<Notify>,
}

/// The HTTP client for push services: bounded time, no redirects (a push endpoint that
/// redirects is not followed), rustls with the bundled web roots.
pub fn push_client(settings: &DeliverySettings) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(settings.request_timeout)
        .connect_timeout(settings.request_timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("usernotify-service/", env!("CARGO_PKG_VERSION")))
        .build()
}

impl Deliverer {
    /// Runs until `shutdown` turns true, then lets the pushes in flight finish and records
    /// them (each is bounded by the request timeout), so a clean stop re-sends nothing.
    ///
    /// A pool, not rounds: up to `settings.batch` pushes are in flight at once and a free
    /// slot is refilled as soon as one finishes, so one slow or hanging push service holds
    /// up a single slot instead of everything behind it. Outcomes that finish together are
    /// recorded in one transaction. A delivery stays in the queue until its outcome is
    /// recorded, so a crash re-sends at most the pushes that were in flight.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let limit = self.settings.batch.max(1);
        let mut sending: JoinSet<(DueDelivery, Outcome)> = JoinSet::new();
        // Delivery ids being sent, by task, so the queue is never read back into a slot.
        let mut in_flight: HashMap<tokio::task::Id, i64> = HashMap::new();
        // Outcomes whose recording failed (the database was busy or failing): kept, and out
        // of the queue's reach, until they are recorded, so they are not sent again.
        let mut unrecorded: Vec<(i64, Verdict)> = Vec::new();
        let mut stopping = *shutdown.borrow();
        let mut last_purge: Millis = 0;
        loop {
            let mut wait = None;
            if !unrecorded.is_empty() {
                unrecorded = self.record(std::mem::take(&mut unrecorded)).await;
                if !unrecorded.is_empty() {
                    wait = Some(self.settings.backoff_base.min(self.settings.poll_interval));
                }
            }
            if stopping && sending.is_empty() {
                if !unrecorded.is_empty() {
                    // Still queued as before the attempt: sent again after the restart.
                    tracing::warn!(
                        count = unrecorded.len(),
                        "stopping with unrecorded outcomes"
                    );
                }
                return;
            }
            let now = now_millis();
            if !stopping && unrecorded.is_empty() {
                if now - last_purge >= PURGE_EVERY_MS {
                    last_purge = now;
                    self.purge(now).await;
                }
                let free = limit.saturating_sub(sending.len());
                if free > 0 {
                    let skip: Vec<i64> = in_flight.values().copied().collect();
                    let due = self.due(now, free, skip.clone()).await;
                    let fetched = due.len();
                    for delivery in due {
                        let id = delivery.id;
                        let this = self.clone();
                        let task = sending.spawn(async move {
                            let outcome = this.attempt(&delivery).await;
                            (delivery, outcome)
                        });
                        in_flight.insert(task.id(), id);
                    }
                    if fetched < free {
                        wait = Some(self.until_next_due(now, skip).await);
                    }
                }
            }
            tokio::select! {
                Some(first) = sending.join_next_with_id(), if !sending.is_empty() => {
                    let mut done = vec![first];
                    while let Some(more) = sending.try_join_next_with_id() {
                        done.push(more);
                    }
                    let mut verdicts = Vec::with_capacity(done.len());
                    for joined in done {
                        match joined {
                            Ok((task, (delivery, outcome))) => {
                                in_flight.remove(&task);
                                verdicts.push((delivery.id, self.verdict(&delivery, &outcome)));
                            }
                            // The delivery stays queued; freeing its id lets it be retried.
                            Err(error) => {
                                in_flight.remove(&error.id());
                                tracing::warn!(%error, "a push task failed");
                            }
                        }
                    }
                    unrecorded = self.record(verdicts).await;
                }
                _ = self.wake.notified(), if wait.is_some() => {}
                _ = tokio::time::sleep(wait.unwrap_or_default()), if wait.is_some() => {}
                changed = shutdown.changed(), if !stopping => {
                    stopping = changed.is_err() || *shutdown.borrow();
                }
                // Not reached (some branch is always enabled); never spin or panic if it were.
                else => tokio::time::sleep(self.settings.poll_interval).await,
            }
        }
    }

    async fn purge(&self, now: Millis) {
        match self.db.run(move |store| store.purge_expired(now)).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "purged expired notifications"),
            Err(error) => tracing::warn!(%error, "purging expired notifications failed"),
        }
    }

    /// Up to `limit` due deliveries that are not already being sent.
    async fn due(&self, now: Millis, limit: usize, skip: Vec<i64>) -> Vec<DueDelivery> {
        match self
            .db
            .run(move |store| store.due_deliveries(now, limit, &skip))
            .await
        {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "reading the delivery queue failed");
                Vec::new()
            }
        }
    }

    /// How long to sleep before the next queued delivery (not one in flight) is due,
    /// at most the poll interval.
    async fn until_next_due(&self, now: Millis, skip: Vec<i64>) -> Duration {
        match self.db.run(move |store| store.next_due(&skip)).await {
            Ok(Some(at)) => Duration::from_millis(u64::try_from(at - now).unwrap_or(0)),
            _ => self.settings.poll_interval,
        }
        .min(self.settings.poll_interval)
    }

    /// Records a group of outcomes in one transaction; gives them back if that failed.
    async fn record(&self, verdicts: Vec<(i64, Verdict)>) -> Vec<(i64, Verdict)> {
        if verdicts.is_empty() {
            return verdicts;
        }
        let now = now_millis();
        let shared = Arc::new(verdicts);
        let batch = Arc::clone(&shared);
        let result = self
            .db
            .run(move |store| store.record_outcomes(&batch, now))
            .await;
        match result {
            Ok(()) => Vec::new(),
            Err(error) => {
                tracing::warn!(%error, count = shared.len(), "recording delivery outcomes failed");
                Arc::try_unwrap(shared).unwrap_or_else(|shared| shared.as_ref().clone())
            }
        }
    }

    /// One attempt: build the request purely, send it, classify the answer.
    pub async fn attempt(&self, delivery: &DueDelivery) -> Outcome {
        let now = now_millis();
        let ttl_secs = u64::try_from((delivery.expires_at - now) / 1000).unwrap_or(0);
        if ttl_secs == 0 {
            return Outcome::Expired;
        }
        let message = PushMessage {
            payload: delivery.resource.as_bytes(),
            ttl_secs,
            urgency: push::urgency_for(&delivery.priority),
            topic: delivery.app_notification_id.as_deref().map(push::topic_for),
        };
        let request = match push::build_request(
            &delivery.endpoint,
            &delivery.p256dh,
            &delivery.auth,
            &message,
            &self.vapid,
            self.allow_loopback,
        )
        .map_err(|error| error.code())
        .and_then(|request| reqwest::Request::try_from(request).map_err(|_| "bad-request-parts"))
        {
            Ok(request) => request,
            Err(code) => return Outcome::Unbuildable(code),
        };
        match self.client.execute(request).await {
            Ok(response) => {
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| parse_retry_after(value, std::time::SystemTime::now()));
                classify(response.status(), retry_after)
            }
            // reqwest's error text names the URL, which is a secret: keep only its kind.
            Err(error) => Outcome::Unreachable(if error.is_timeout() {
                "timeout"
            } else if error.is_connect() {
                "connect"
            } else {
                "transport"
            }),
        }
    }

    /// What an outcome does to the queue; logs it (the endpoint as a hash tag only).
    fn verdict(&self, delivery: &DueDelivery, outcome: &Outcome) -> Verdict {
        let attempts = delivery.attempts.saturating_add(1);
        let status = match outcome {
            Outcome::Delivered(code) | Outcome::Gone(code) | Outcome::Rejected(code) => Some(*code),
            Outcome::Retry { status, .. } => *status,
            _ => None,
        };
        let mut name = outcome.name();
        let verdict = match outcome {
            Outcome::Delivered(_)
            | Outcome::Rejected(_)
            | Outcome::Expired
            | Outcome::Unbuildable(_) => Verdict::Finished,
            Outcome::Gone(_) => Verdict::SubscriptionGone {
                subscription_id: delivery.subscription_id.clone(),
            },
            Outcome::Retry { .. } | Outcome::Unreachable(_) => {
                let hint = match outcome {
                    Outcome::Retry {
                        retry_after_secs, ..
                    } => *retry_after_secs,
                    _ => None,
                };
                let delay = hint
                    .map(Duration::from_secs)
                    .unwrap_or_else(|| backoff(&self.settings, delivery.attempts));
                let next_at = now_millis()
                    .saturating_add(Millis::try_from(delay.as_millis()).unwrap_or(Millis::MAX));
                if attempts >= self.settings.max_attempts || next_at >= delivery.expires_at {
                    name = "gave-up";
                    Verdict::Finished
                } else {
                    Verdict::Retry { attempts, next_at }
                }
            }
        };
        let reason = match outcome {
            Outcome::Unbuildable(code) | Outcome::Unreachable(code) => *code,
            _ => "",
        };
        tracing::info!(
            delivery = delivery.id,
            notification = %delivery.notification_id,
            subscription = %delivery.subscription_id,
            endpoint = %endpoint_tag(&delivery.endpoint),
            status,
            attempts,
            outcome = name,
            reason,
            "push delivery"
        );
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_as_rfc_8030_says() {
        assert_eq!(classify(StatusCode::CREATED, None), Outcome::Delivered(201));
        assert_eq!(classify(StatusCode::GONE, None), Outcome::Gone(410));
        assert_eq!(classify(StatusCode::NOT_FOUND, None), Outcome::Gone(404));
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, Some(3)),
            Outcome::Retry {
                status: Some(429),
                retry_after_secs: Some(3)
            }
        );
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE, None),
            Outcome::Retry { .. }
        ));
        assert_eq!(
            classify(StatusCode::PAYLOAD_TOO_LARGE, None),
            Outcome::Rejected(413)
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after("0", now), Some(0));
        assert_eq!(parse_retry_after(" 120 ", now), Some(120));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(parse_retry_after(&later, now), Some(30));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let settings = DeliverySettings {
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(10),
            ..DeliverySettings::default()
        };
        assert_eq!(backoff(&settings, 0), Duration::from_secs(2));
        assert_eq!(backoff(&settings, 1), Duration::from_secs(4));
        assert_eq!(backoff(&settings, 5), Duration::from_secs(10));
        assert_eq!(backoff(&settings, 40), Duration::from_secs(10));
    }
}
