//! One attempt at a delivery, from what became of it to what is stored: the push service's
//! answer classified ([`classify`], a [`PushResult`], as `web-push`'s `parse_response`
//! does); what that does to the delivery, judged with the worker's settings, counted and
//! logged ([`Deliverer::verdict`]: a [`Verdict`], recorded as an [`Attempted`]); and the
//! state, status and reason it is stored and shown with ([`Verdict::stored`], the one place
//! that mapping is made).

use std::time::Duration;

use reqwest::StatusCode;
use usernotify::core::Millis;

use super::worker::Deliverer;
use super::{DeliveryState, DueDelivery};
use crate::clock::now_millis;
use crate::config::DeliverySettings;
use crate::push::endpoint_tag;

/// The longest `Retry-After` honoured; beyond it a push service's hint is capped.
const MAX_RETRY_AFTER_SECS: u64 = 24 * 3600;

/// What became of one attempt at sending a push (before what it does to the delivery,
/// its [`Verdict`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushResult {
    Delivered(u16),
    /// Delivered as the smallest body that still shows the notification, after the push
    /// service refused the whole one as too large (413).
    DeliveredSmaller(u16),
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

impl PushResult {
    /// Whether the push host answered (`Some(true)`, any status), did not (`Some(false)`: a
    /// timeout, no connection), or was never asked (`None`).
    pub(crate) fn host_answered(&self) -> Option<bool> {
        match self {
            PushResult::Delivered(_)
            | PushResult::DeliveredSmaller(_)
            | PushResult::Gone(_)
            | PushResult::Rejected(_)
            | PushResult::Retry { .. } => Some(true),
            PushResult::Unreachable("store") => None,
            PushResult::Unreachable(_) => Some(false),
            PushResult::Expired
            | PushResult::Unbuildable(_)
            | PushResult::Forbidden
            | PushResult::AlreadyGone
            | PushResult::NotSent(_) => None,
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            PushResult::Delivered(_) | PushResult::DeliveredSmaller(_) => "delivered",
            PushResult::Gone(_) | PushResult::AlreadyGone => "subscription-gone",
            PushResult::Retry { .. } | PushResult::Unreachable(_) => "retry",
            PushResult::Rejected(_) => "rejected",
            PushResult::Expired => "expired",
            PushResult::Unbuildable(_) => "unbuildable",
            PushResult::Forbidden => "forbidden",
            PushResult::NotSent(_) => "skipped",
        }
    }
}

/// Classifies a push service's answer (RFC 8030 §5 and §8.3). A 406 is Microsoft's push
/// service throttling the sender (its documentation says to retry after `Retry-After`), so
/// it is retried like a 429.
pub fn classify(status: StatusCode, retry_after_secs: Option<u64>) -> PushResult {
    let code = status.as_u16();
    if status.is_success() {
        PushResult::Delivered(code)
    } else if code == 404 || code == 410 {
        PushResult::Gone(code)
    } else if code == 429 || code == 406 || status.is_server_error() {
        PushResult::Retry {
            status: Some(code),
            retry_after_secs,
        }
    } else {
        PushResult::Rejected(code)
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

/// What an attempt does to its delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The push service accepted it.
    Sent { status: u16 },
    /// The push service accepted it once it was sent as the smallest body that still shows
    /// the notification (the whole one was refused as too large); recorded as `sent` with
    /// the reason `trimmed-to-fit`.
    SentSmaller { status: u16 },
    /// Try again at `next_at`.
    Retry {
        status: Option<u16>,
        reason: Option<&'static str>,
        next_at: Millis,
        /// The subscription whose endpoint did not answer (a timeout, no connection): its
        /// other deliveries wait until `next_at` too, instead of each holding a sender until
        /// it fails the same way.
        unanswered: Option<String>,
    },
    /// Given up for good: refused, expired, unbuildable, or out of attempts.
    Failed {
        status: Option<u16>,
        reason: &'static str,
    },
    /// The push service said the subscription no longer exists: forget it, and every
    /// delivery still queued for it is gone too.
    SubscriptionGone {
        status: Option<u16>,
        subscription_id: String,
    },
    /// Not sent after all (a push that only carries changes, with nothing left to carry or
    /// nothing it would leave visible).
    Skipped { reason: &'static str },
}

/// The outcome of one attempt, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempted {
    pub delivery_id: i64,
    /// Attempts made so far, this one included.
    pub attempts: u32,
    pub verdict: Verdict,
    /// The push carried the subscription's changes up to this `seq`: once it is sent, the
    /// next push carries only later ones.
    pub changes_through: Option<(String, i64)>,
}

impl Verdict {
    /// The delivery's state, last status and reason after this attempt, and when it is due
    /// again: the one place a verdict becomes what is stored and shown.
    pub fn stored(
        &self,
    ) -> (
        DeliveryState,
        Option<u16>,
        Option<&'static str>,
        Option<Millis>,
    ) {
        match self {
            Verdict::Sent { status } => (DeliveryState::Sent, Some(*status), None, None),
            Verdict::SentSmaller { status } => (
                DeliveryState::Sent,
                Some(*status),
                Some(crate::shrink::TRIMMED_TO_FIT),
                None,
            ),
            Verdict::Retry {
                status,
                reason,
                next_at,
                ..
            } => (DeliveryState::Retrying, *status, *reason, Some(*next_at)),
            Verdict::Failed { status, reason } => {
                (DeliveryState::Failed, *status, Some(reason), None)
            }
            Verdict::SubscriptionGone { status, .. } => (DeliveryState::Gone, *status, None, None),
            Verdict::Skipped { reason } => (DeliveryState::Skipped, None, Some(reason), None),
        }
    }
}

impl Attempted {
    /// The delivery's state, last status and reason after this attempt, and when it is due
    /// again.
    pub fn stored(
        &self,
    ) -> (
        DeliveryState,
        Option<u16>,
        Option<&'static str>,
        Option<Millis>,
    ) {
        self.verdict.stored()
    }

    /// The subscriptions whose change cursor a round of sent pushes moves, each to the
    /// newest change it carried.
    pub fn cursors(outcomes: &[Attempted]) -> Vec<(String, i64)> {
        let mut cursors: Vec<(String, i64)> = Vec::new();
        for outcome in outcomes {
            let (Verdict::Sent { .. }, Some((subscription, seq))) =
                (&outcome.verdict, &outcome.changes_through)
            else {
                continue;
            };
            match cursors.iter_mut().find(|(id, _)| id == subscription) {
                Some((_, newest)) => *newest = (*newest).max(*seq),
                None => cursors.push((subscription.clone(), *seq)),
            }
        }
        cursors
    }
}

impl Deliverer {
    /// What an outcome does to the queue; logs it (the endpoint as a hash tag only).
    pub(super) fn verdict(&self, delivery: &DueDelivery, outcome: &PushResult) -> Attempted {
        let attempts = delivery.attempts.saturating_add(1);
        let mut name = outcome.name();
        let verdict = match outcome {
            PushResult::Delivered(code) => Verdict::Sent { status: *code },
            PushResult::DeliveredSmaller(code) => Verdict::SentSmaller { status: *code },
            PushResult::Rejected(code) => Verdict::Failed {
                status: Some(*code),
                reason: if *code == 401 || *code == 403 {
                    reasons::VAPID_REFUSED
                } else {
                    reasons::REFUSED
                },
            },
            PushResult::Expired => Verdict::Failed {
                status: None,
                reason: reasons::EXPIRED,
            },
            PushResult::Unbuildable(code) => Verdict::Failed {
                status: None,
                reason: code,
            },
            PushResult::Forbidden => Verdict::Failed {
                status: None,
                reason: "forbidden-address",
            },
            PushResult::Gone(code) => Verdict::SubscriptionGone {
                status: Some(*code),
                subscription_id: delivery.subscription_id.clone(),
            },
            PushResult::AlreadyGone => Verdict::SubscriptionGone {
                status: None,
                subscription_id: delivery.subscription_id.clone(),
            },
            PushResult::NotSent(reason) => Verdict::Skipped { reason },
            PushResult::Retry {
                status,
                retry_after_secs,
            } => self.retry_or_give_up(delivery, attempts, *status, None, *retry_after_secs),
            PushResult::Unreachable(why) => {
                self.retry_or_give_up(delivery, attempts, None, Some(why), None)
            }
        };
        if matches!(verdict, Verdict::Failed { .. }) && name == "retry" {
            name = "gave-up";
        }
        let (_, status, reason, _) = verdict.stored();
        self.metrics.delivery(name);
        let reason = reason.unwrap_or_default();
        if matches!(outcome, PushResult::Rejected(401 | 403)) {
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
                unanswered: matches!(reason, Some("timeout" | "connect"))
                    .then(|| delivery.subscription_id.clone()),
            }
        }
    }
}

/// Why a delivery in the queue is still there when its notification expired, or could not
/// be tried: the reasons a `failed` delivery carries (documented in docs/service.md).
pub mod reasons {
    /// The push service refused the message for good (a 4xx other than 404, 410, 429).
    pub const REFUSED: &str = "push-service-refused";
    /// The push service refused the VAPID credentials (401/403): a configuration problem.
    pub const VAPID_REFUSED: &str = "vapid-refused";
    /// The notification expired before it could be delivered.
    pub const EXPIRED: &str = "expired";
    /// The next retry would come after the notification expires.
    pub const EXPIRES_BEFORE_RETRY: &str = "expires-before-retry";
    /// `DeliverySettings::max_attempts` transient failures in a row.
    pub const TOO_MANY_ATTEMPTS: &str = "too-many-attempts";
    /// Skipped: the notification's `targetPolicy` names no web platform.
    pub const TARGET_POLICY: &str = "target-policy";
    /// Skipped: the subscription's `targetHostName` differs from the notification's.
    pub const TARGET_HOST: &str = "target-host";
    /// Gone: the subscription was already reported gone when the post came.
    pub const SUBSCRIPTION_GONE: &str = "subscription-gone";
    /// Skipped: the user muted the notification's group.
    pub const MUTED: &str = "muted";
    /// Skipped: it was quiet hours in the user's time zone.
    pub const QUIET_HOURS: &str = "quiet-hours";
    /// Skipped, a push that only carries changes: an earlier push carried them already.
    pub const NO_CHANGES: &str = "no-changes";
    /// Skipped, a push that only carries changes: it would have left nothing visible.
    pub const NOTHING_VISIBLE: &str = "nothing-visible";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_as_rfc_8030_says() {
        assert_eq!(
            classify(StatusCode::CREATED, None),
            PushResult::Delivered(201)
        );
        assert_eq!(classify(StatusCode::GONE, None), PushResult::Gone(410));
        assert_eq!(classify(StatusCode::NOT_FOUND, None), PushResult::Gone(404));
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, Some(3)),
            PushResult::Retry {
                status: Some(429),
                retry_after_secs: Some(3)
            }
        );
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE, None),
            PushResult::Retry { .. }
        ));
        assert_eq!(
            classify(StatusCode::NOT_ACCEPTABLE, Some(60)),
            PushResult::Retry {
                status: Some(406),
                retry_after_secs: Some(60)
            },
            "Microsoft's throttling"
        );
        assert_eq!(
            classify(StatusCode::PAYLOAD_TOO_LARGE, None),
            PushResult::Rejected(413)
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
