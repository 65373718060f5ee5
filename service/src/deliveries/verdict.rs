//! What an attempt does to its delivery: a [`PushResult`] judged into a [`Verdict`] (retried,
//! given up, gone...) with the worker's settings, counted and logged.

use std::time::Duration;

use usernotify::core::Millis;

use super::attempt::{backoff, reasons, Attempted, PushResult, Verdict};
use super::worker::Deliverer;
use crate::clock::now_millis;
use crate::deliveries::DueDelivery;
use crate::push::endpoint_tag;

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
