//! The fan-out worker: sends queued deliveries, retries transient failures with backoff
//! (honouring `Retry-After`), forgets subscriptions the push service says are gone.
//!
//! The queue lives in SQLite, so a restart loses nothing: the worker simply finds the
//! deliveries still due when it starts.

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
use crate::store::{Db, DueDelivery, StoreError};
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
    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut last_purge: Millis = 0;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let now = now_millis();
            if now - last_purge >= PURGE_EVERY_MS {
                last_purge = now;
                match self.db.run(move |store| store.purge_expired(now)).await {
                    Ok(0) => {}
                    Ok(count) => tracing::info!(count, "purged expired notifications"),
                    Err(error) => tracing::warn!(%error, "purging expired notifications failed"),
                }
            }
            let batch = self.settings.batch.max(1);
            let due = match self
                .db
                .run(move |store| store.due_deliveries(now, batch))
                .await
            {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(%error, "reading the delivery queue failed");
                    Vec::new()
                }
            };
            if !due.is_empty() {
                self.send_all(due).await;
                continue;
            }
            let wait = match self.db.run(|store| store.next_due()).await {
                Ok(Some(at)) => Duration::from_millis(u64::try_from(at - now).unwrap_or(0)),
                _ => self.settings.poll_interval,
            }
            .min(self.settings.poll_interval);
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Sends a batch concurrently and records each outcome.
    async fn send_all(&self, due: Vec<DueDelivery>) {
        let mut tasks = JoinSet::new();
        for delivery in due {
            let this = self.clone();
            tasks.spawn(async move {
                let outcome = this.attempt(&delivery).await;
                if let Err(error) = this.record(&delivery, &outcome).await {
                    tracing::warn!(%error, delivery = delivery.id, "recording a delivery outcome failed");
                }
            });
        }
        while tasks.join_next().await.is_some() {}
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

    /// Applies an outcome to the queue and logs it (endpoint as a hash tag only).
    async fn record(&self, delivery: &DueDelivery, outcome: &Outcome) -> Result<(), StoreError> {
        let id = delivery.id;
        let endpoint = endpoint_tag(&delivery.endpoint);
        let attempts = delivery.attempts.saturating_add(1);
        let status = match outcome {
            Outcome::Delivered(code) | Outcome::Gone(code) | Outcome::Rejected(code) => Some(*code),
            Outcome::Retry { status, .. } => *status,
            _ => None,
        };
        let mut verdict = outcome.name();
        match outcome {
            Outcome::Delivered(_)
            | Outcome::Rejected(_)
            | Outcome::Expired
            | Outcome::Unbuildable(_) => {
                self.db.run(move |store| store.finish_delivery(id)).await?;
            }
            Outcome::Gone(_) => {
                let subscription = delivery.subscription_id.clone();
                let now = now_millis();
                self.db
                    .run(move |store| store.mark_subscription_gone(&subscription, now))
                    .await?;
            }
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
                    verdict = "gave-up";
                    self.db.run(move |store| store.finish_delivery(id)).await?;
                } else {
                    self.db
                        .run(move |store| store.retry_delivery(id, attempts, next_at))
                        .await?;
                }
            }
        }
        let reason = match outcome {
            Outcome::Unbuildable(code) | Outcome::Unreachable(code) => *code,
            _ => "",
        };
        tracing::info!(
            delivery = id,
            notification = %delivery.notification_id,
            subscription = %delivery.subscription_id,
            endpoint = %endpoint,
            status,
            attempts,
            outcome = verdict,
            reason,
            "push delivery"
        );
        Ok(())
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
