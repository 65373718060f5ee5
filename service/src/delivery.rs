//! The fan-out worker: sends queued deliveries, retries transient failures with backoff
//! (honouring `Retry-After`), forgets subscriptions the push service says are gone.
//!
//! The queue lives in the database, so a restart loses nothing: the worker simply finds the
//! deliveries still due when it starts. On PostgreSQL every replica runs a worker on the
//! one shared queue; each claims what it sends (see `store::postgres`).
//!
//! When the service gives up on a delivery (state `failed`, with its `reason`): the push
//! service refused it for good (a 4xx other than 404, 410 and 429: `push-service-refused`,
//! or `vapid-refused` for 401/403); the notification expired before it could be sent
//! (`expired`) or before the next retry would come (`expires-before-retry`); or
//! `DeliverySettings::max_attempts` transient failures (429, 5xx, no answer) came in a row
//! (`too-many-attempts`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use usernotify::core::sync::change_push_visible_until;
use usernotify::core::Millis;

use crate::changes::push_body;
use crate::clock::now_millis;
use crate::config::DeliverySettings;
use crate::egress::{is_forbidden_address, PublicOnlyResolver, PushPolicy};
use crate::metrics::Metrics;
use crate::push::{self, endpoint_tag, PushMessage};
use crate::store::{reasons, Attempted, Db, DueDelivery, Verdict};
use crate::vapid::Vapid;

/// The longest `Retry-After` honoured; beyond it a push service's hint is capped.
const MAX_RETRY_AFTER_SECS: u64 = 24 * 3600;
/// How often expired notifications are purged from the store.
const PURGE_EVERY_MS: Millis = 60_000;
/// The `Topic` of every push that only carries changes: a push service keeps only the
/// newest one a device has not received yet.
const CHANGES_TOPIC: &str = "usernotify-changes";

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
    /// The endpoint's name resolved to no address the service may connect to (a private
    /// one, e.g. rebound by its DNS): not retried.
    Forbidden,
    /// The subscription was reported gone after this delivery was queued: nothing to send.
    AlreadyGone,
    /// A push that only carries changes, not sent after all (its reason): an earlier push
    /// carried them, or it would leave nothing visible on the device by now.
    NotSent(&'static str),
}

impl Outcome {
    fn name(&self) -> &'static str {
        match self {
            Outcome::Delivered(_) => "delivered",
            Outcome::Gone(_) | Outcome::AlreadyGone => "subscription-gone",
            Outcome::Retry { .. } | Outcome::Unreachable(_) => "retry",
            Outcome::Rejected(_) => "rejected",
            Outcome::Expired => "expired",
            Outcome::Unbuildable(_) => "unbuildable",
            Outcome::Forbidden => "forbidden",
            Outcome::NotSent(_) => "skipped",
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
    pub metrics: Arc<Metrics>,
    pub client: reqwest::Client,
    pub settings: DeliverySettings,
    /// Where pushes may go: checked when each request is built, and by the client's
    /// resolver at each connection.
    pub push_policy: Arc<PushPolicy>,
    /// Woken when a POST queued deliveries, so they go out without waiting for the poll.
    pub wake: Arc<Notify>,
}

/// The HTTP client for push services: bounded time, no redirects (a push endpoint that
/// redirects is not followed), rustls with the bundled web roots, and a resolver that
/// dials public addresses only (`policy`). No proxy from the environment: through one,
/// the addresses dialled could not be checked.
pub fn push_client(
    settings: &DeliverySettings,
    policy: Arc<PushPolicy>,
) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(PublicOnlyResolver::new(policy)))
        .timeout(settings.request_timeout)
        .connect_timeout(settings.request_timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("usernotify-service/", env!("CARGO_PKG_VERSION")))
        .build()
}

impl Deliverer {
    /// Runs until `shutdown` turns true, then lets the pushes in flight finish and records
    /// them, so a clean stop re-sends nothing; those still unanswered after
    /// `settings.shutdown_grace` are abandoned and stay queued for the next start.
    ///
    /// A pool, not rounds: up to `settings.batch` pushes are in flight at once and a free
    /// slot is refilled as soon as one finishes, so one slow or hanging push service holds
    /// up a single slot instead of everything behind it. Outcomes that finish together are
    /// recorded in one transaction. A delivery stays in the queue until its outcome is
    /// recorded, so a crash re-sends at most the pushes that were in flight.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let limit = self.settings.batch.max(1);
        let mut sending: JoinSet<(DueDelivery, Outcome)> = JoinSet::new();
        // Delivery ids being sent, by task, so a task that fails can give its claim back.
        let mut in_flight: HashMap<tokio::task::Id, i64> = HashMap::new();
        // Outcomes whose recording failed (the database was busy or failing): kept, and
        // still claimed, until they are recorded, so they are not sent again meanwhile.
        let mut unrecorded: Vec<Attempted> = Vec::new();
        let mut stopping = *shutdown.borrow();
        let mut give_up_at = tokio::time::Instant::now() + self.settings.shutdown_grace;
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
                    let due = self.claim(now, free).await;
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
                        wait = Some(self.until_next_due(now).await);
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
                    let mut failed = Vec::new();
                    for joined in done {
                        match joined {
                            Ok((task, (delivery, outcome))) => {
                                in_flight.remove(&task);
                                verdicts.push(self.verdict(&delivery, &outcome));
                            }
                            // The delivery stays queued; releasing its claim lets it be retried.
                            Err(error) => {
                                failed.extend(in_flight.remove(&error.id()));
                                tracing::warn!(%error, "a push task failed");
                            }
                        }
                    }
                    if !failed.is_empty() {
                        if let Err(error) = self.db.release_claims(failed).await {
                            tracing::warn!(%error, "releasing claims failed; they run out by themselves");
                        }
                    }
                    unrecorded.extend(self.record(verdicts).await);
                }
                _ = self.wake.notified(), if wait.is_some() => {}
                _ = tokio::time::sleep(wait.unwrap_or_default()), if wait.is_some() => {}
                changed = shutdown.changed(), if !stopping => {
                    stopping = changed.is_err() || *shutdown.borrow();
                    give_up_at = tokio::time::Instant::now() + self.settings.shutdown_grace;
                }
                _ = tokio::time::sleep_until(give_up_at), if stopping => {
                    tracing::warn!(
                        count = sending.len(),
                        "pushes unanswered after the shutdown grace stay queued"
                    );
                    sending.abort_all();
                    return;
                }
                // Not reached (some branch is always enabled); never spin or panic if it were.
                else => tokio::time::sleep(self.settings.poll_interval).await,
            }
        }
    }

    async fn purge(&self, now: Millis) {
        match self.db.purge_expired(now).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "purged expired notifications"),
            Err(error) => tracing::warn!(%error, "purging expired notifications failed"),
        }
    }

    /// Claims up to `limit` due deliveries for this process, for the lease.
    async fn claim(&self, now: Millis, limit: usize) -> Vec<DueDelivery> {
        let lease = Millis::try_from(self.settings.lease.as_millis()).unwrap_or(Millis::MAX);
        match self
            .db
            .claim_due(now, limit, now.saturating_add(lease))
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
    async fn until_next_due(&self, now: Millis) -> Duration {
        match self.db.next_due().await {
            Ok(Some(at)) => Duration::from_millis(u64::try_from(at - now).unwrap_or(0)),
            _ => self.settings.poll_interval,
        }
        .min(self.settings.poll_interval)
    }

    /// Records a group of outcomes in one transaction; gives them back if that failed.
    async fn record(&self, verdicts: Vec<Attempted>) -> Vec<Attempted> {
        if verdicts.is_empty() {
            return verdicts;
        }
        let now = now_millis();
        let shared = Arc::new(verdicts);
        match self.db.record_outcomes(Arc::clone(&shared), now).await {
            Ok(forgotten) => {
                for subscription in forgotten {
                    tracing::info!(%subscription, "the push service says the subscription is gone; forgotten");
                }
                Vec::new()
            }
            Err(error) => {
                tracing::warn!(%error, count = shared.len(), "recording delivery outcomes failed");
                Arc::try_unwrap(shared).unwrap_or_else(|shared| shared.as_ref().clone())
            }
        }
    }

    /// One attempt: build the request purely, send it, classify the answer.
    pub async fn attempt(&self, delivery: &DueDelivery) -> Outcome {
        let (Some(endpoint), Some(p256dh), Some(auth)) =
            (&delivery.endpoint, &delivery.p256dh, &delivery.auth)
        else {
            return Outcome::AlreadyGone;
        };
        let now = now_millis();
        let (body, until, urgency, topic) = if delivery.changes_only {
            match self.change_push(delivery, now).await {
                Ok((body, until)) => (body, until, "low", Some(CHANGES_TOPIC.to_owned())),
                Err(outcome) => return outcome,
            }
        } else {
            (
                self.body(delivery),
                delivery.expires_at,
                push::urgency_for(&delivery.priority),
                delivery.app_notification_id.as_deref().map(push::topic_for),
            )
        };
        let ttl_secs = u64::try_from((until.min(delivery.expires_at) - now) / 1000).unwrap_or(0);
        if ttl_secs == 0 {
            return Outcome::Expired;
        }
        let message = PushMessage {
            payload: &body,
            ttl_secs,
            urgency,
            topic,
        };
        let request = match push::build_request(
            endpoint,
            p256dh,
            auth,
            &message,
            &self.vapid,
            &self.push_policy,
        )
        .map_err(|error| error.code())
        .and_then(|request| reqwest::Request::try_from(request).map_err(|_| "bad-request-parts"))
        {
            Ok(request) => request,
            Err(code) => return Outcome::Unbuildable(code),
        };
        let started = std::time::Instant::now();
        let answer = self.client.execute(request).await;
        self.metrics.push_latency(started.elapsed());
        match answer {
            Ok(response) => {
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| parse_retry_after(value, std::time::SystemTime::now()));
                classify(response.status(), retry_after)
            }
            Err(error) if is_forbidden_address(&error) => Outcome::Forbidden,
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

    /// A push that only carries changes, decided again when its turn comes (more changes
    /// may have come, or a push carried them meanwhile): its body and until when it is
    /// worth delivering, or why it is not sent. The rule is the core's
    /// ([`change_push_visible_until`]): it must leave a group's notification visible.
    async fn change_push(
        &self,
        delivery: &DueDelivery,
        now: Millis,
    ) -> Result<(Vec<u8>, Millis), Outcome> {
        if delivery.changes.is_empty() {
            return Err(Outcome::NotSent(reasons::NO_CHANGES));
        }
        let user = delivery.user.clone().ok_or(Outcome::AlreadyGone)?;
        let mut groups: Vec<String> = Vec::new();
        for group in delivery
            .changes
            .iter()
            .filter_map(|logged| logged.group.as_ref())
        {
            if !groups.contains(group) {
                groups.push(group.clone());
            }
        }
        if groups.is_empty() {
            return Err(Outcome::NotSent(reasons::NOTHING_VISIBLE));
        }
        let on_device = self
            .db
            .on_devices(user, Some(delivery.subscription_id.clone()), groups)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "reading what a change push would leave visible failed");
                Outcome::Unreachable("store")
            })?;
        let on_device: Vec<_> = on_device.into_iter().map(|(_, shown)| shown).collect();
        let changed: Vec<(&str, Option<&str>)> = delivery
            .changes
            .iter()
            .map(|logged| (logged.change.id.as_str(), logged.group.as_deref()))
            .collect();
        let until = change_push_visible_until(&changed, &on_device, now)
            .ok_or(Outcome::NotSent(reasons::NOTHING_VISIBLE))?;
        Ok((push_body(None, &delivery.changes), until))
    }

    /// The push body: the stored resource, with a Declarative Web Push message beside it
    /// carrying the user's unread count, unless the deployment turned that off; then the
    /// changes since the subscription's last push in the room left, so that changes are
    /// dropped before anything of the notification.
    fn body(&self, delivery: &DueDelivery) -> Vec<u8> {
        match self.settings.declarative_push {
            true => {
                let content =
                    crate::declarative::push_body(&delivery.resource, Some(delivery.unread));
                push_body(Some(&content), &delivery.changes)
            }
            false => push_body(Some(&delivery.resource), &delivery.changes),
        }
    }

    /// What an outcome does to the queue; logs it (the endpoint as a hash tag only).
    fn verdict(&self, delivery: &DueDelivery, outcome: &Outcome) -> Attempted {
        let attempts = delivery.attempts.saturating_add(1);
        let mut name = outcome.name();
        let verdict = match outcome {
            Outcome::Delivered(code) => Verdict::Sent { status: *code },
            Outcome::Rejected(code) => Verdict::Failed {
                status: Some(*code),
                reason: if *code == 401 || *code == 403 {
                    reasons::VAPID_REFUSED
                } else {
                    reasons::REFUSED
                },
            },
            Outcome::Expired => Verdict::Failed {
                status: None,
                reason: reasons::EXPIRED,
            },
            Outcome::Unbuildable(code) => Verdict::Failed {
                status: None,
                reason: code,
            },
            Outcome::Forbidden => Verdict::Failed {
                status: None,
                reason: "forbidden-address",
            },
            Outcome::Gone(code) => Verdict::SubscriptionGone {
                status: Some(*code),
                subscription_id: delivery.subscription_id.clone(),
            },
            Outcome::AlreadyGone => Verdict::SubscriptionGone {
                status: None,
                subscription_id: delivery.subscription_id.clone(),
            },
            Outcome::NotSent(reason) => Verdict::Skipped { reason },
            Outcome::Retry {
                status,
                retry_after_secs,
            } => self.retry_or_give_up(delivery, attempts, *status, None, *retry_after_secs),
            Outcome::Unreachable(why) => {
                self.retry_or_give_up(delivery, attempts, None, Some(why), None)
            }
        };
        if matches!(verdict, Verdict::Failed { .. }) && name == "retry" {
            name = "gave-up";
        }
        let (status, reason) = match &verdict {
            Verdict::Sent { status } => (Some(*status), None),
            Verdict::Retry { status, reason, .. } => (*status, *reason),
            Verdict::Failed { status, reason } => (*status, Some(*reason)),
            Verdict::SubscriptionGone { status, .. } => (*status, None),
            Verdict::Skipped { reason } => (None, Some(*reason)),
        };
        self.metrics.delivery(name);
        let reason = reason.unwrap_or_default();
        if matches!(outcome, Outcome::Rejected(401 | 403)) {
            tracing::error!(
                delivery = delivery.id,
                subscription = %delivery.subscription_id,
                endpoint = %endpoint_tag(delivery.endpoint.as_deref().unwrap_or_default()),
                status,
                "the push service refused the VAPID credentials: a configuration problem \
                 (USERNOTIFY_VAPID_SUBJECT must be a mailto: or https: URL the push service \
                 accepts, and the key must be the one the browser subscribed with)"
            );
        }
        tracing::info!(
            delivery = delivery.id,
            notification = %delivery.notification_id,
            subscription = %delivery.subscription_id,
            endpoint = %endpoint_tag(delivery.endpoint.as_deref().unwrap_or_default()),
            status,
            attempts,
            outcome = name,
            reason,
            "push delivery"
        );
        // The newest change read for this push: once it is sent, the next one carries only
        // later changes (one that did not fit is left to the next visit of a page).
        let changes_through = delivery
            .changes
            .iter()
            .map(|logged| logged.seq)
            .max()
            .map(|seq| (delivery.subscription_id.clone(), seq));
        Attempted {
            delivery_id: delivery.id,
            attempts,
            verdict,
            changes_through,
        }
    }

    /// A transient failure: retried after `Retry-After` or the backoff, unless that comes
    /// after the notification expires or the attempts are used up.
    fn retry_or_give_up(
        &self,
        delivery: &DueDelivery,
        attempts: u32,
        status: Option<u16>,
        reason: Option<&'static str>,
        retry_after_secs: Option<u64>,
    ) -> Verdict {
        let delay = retry_after_secs
            .map(Duration::from_secs)
            .unwrap_or_else(|| backoff(&self.settings, delivery.attempts));
        let next_at =
            now_millis().saturating_add(Millis::try_from(delay.as_millis()).unwrap_or(Millis::MAX));
        if attempts >= self.settings.max_attempts {
            Verdict::Failed {
                status,
                reason: reasons::TOO_MANY_ATTEMPTS,
            }
        } else if next_at >= delivery.expires_at {
            Verdict::Failed {
                status,
                reason: reasons::EXPIRES_BEFORE_RETRY,
            }
        } else {
            Verdict::Retry {
                status,
                reason,
                next_at,
            }
        }
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
