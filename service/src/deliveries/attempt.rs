//! One attempt at a delivery: what became of it ([`PushResult`]), what that does to the
//! delivery ([`Verdict`], recorded as an [`Attempted`]), and the state and reason it is
//! stored and shown with ([`Verdict::stored`], the one place that mapping is made).

use std::time::Duration;

use reqwest::StatusCode;
use usernotify::core::Millis;

use crate::config::DeliverySettings;

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

/// Where one delivery stands (`GET /me/notifications/{id}/deliveries`, CONTRACT §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its first attempt.
    Queued,
    /// Failed transiently; tried again at `next_attempt_at`.
    Retrying,
    /// The push service accepted it (2xx).
    Sent,
    /// Given up; `reason` says why.
    Failed,
    /// The push service said the subscription no longer exists (404/410).
    Gone,
    /// Never sent: the notification's policy or host leaves this subscription out, the
    /// user's preferences withhold it, or a push that only carries changes would leave
    /// nothing visible when its turn came.
    Skipped,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Retrying => "retrying",
            DeliveryState::Sent => "sent",
            DeliveryState::Failed => "failed",
            DeliveryState::Gone => "gone",
            DeliveryState::Skipped => "skipped",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryState> {
        Some(match text {
            "queued" => DeliveryState::Queued,
            "retrying" => DeliveryState::Retrying,
            "sent" => DeliveryState::Sent,
            "failed" => DeliveryState::Failed,
            "gone" => DeliveryState::Gone,
            "skipped" => DeliveryState::Skipped,
            _ => return None,
        })
    }

    /// Still in the queue: an attempt is to come.
    pub fn is_pending(self) -> bool {
        matches!(self, DeliveryState::Queued | DeliveryState::Retrying)
    }
}

/// One row of `GET /me/notifications/{id}/deliveries`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryInfo {
    pub subscription_id: String,
    pub state: DeliveryState,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub reason: Option<String>,
    /// When the next attempt is due, while the delivery is queued or retrying.
    pub next_attempt_at: Option<Millis>,
    pub updated_at: Millis,
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
