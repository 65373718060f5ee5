//! What the store takes and answers for notifications: the feed, a post's fan-out, a
//! change of state.

use usernotify::core::{Millis, Notification};

use crate::changes::LoggedChange;
use crate::deliveries::{reasons, DeliveryState};

/// A stored notification with the user's client state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedItem {
    pub id: String,
    /// The resource as pushed: `Notification::to_json()` with `id`, as JSON text.
    pub resource: String,
    pub read_state: String,
    pub user_action_state: String,
    pub created_at: Millis,
}

/// One page of a user's feed, newest first, and where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    pub items: Vec<FeedItem>,
    /// The `seq` of the last item, when more (older) notifications remain: the next page
    /// lists those older than it. Keyset, not offset: a page stays the same while newer
    /// notifications arrive, so following the pages lists each notification once.
    pub next: Option<i64>,
}

impl FeedPage {
    /// A page from up to `top + 1` rows `(item, seq)` read newest first: the extra row only
    /// says that more remain.
    pub(crate) fn of(mut rows: Vec<(FeedItem, i64)>, top: usize) -> FeedPage {
        let more = rows.len() > top;
        rows.truncate(top);
        let next = if more {
            rows.last().map(|(_, seq)| *seq)
        } else {
            None
        };
        FeedPage {
            items: rows.into_iter().map(|(item, _)| item).collect(),
            next,
        }
    }
}

/// What a post did for each of the user's subscriptions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FanOut {
    /// Deliveries queued.
    pub queued: usize,
    /// Subscriptions left out because `targetPolicy` names no web platform.
    pub skipped_by_policy: usize,
    /// Subscriptions left out because their `targetHostName` differs (or the post has none).
    pub skipped_by_host: usize,
    /// Subscriptions the push service already reported gone.
    pub gone: usize,
    /// Subscriptions left out because the user's preferences withhold the notification
    /// now (`muted`, `quiet-hours`).
    pub skipped_by_preferences: usize,
}

impl FanOut {
    /// Why a post reached no subscription, as a kebab-case code; `None` when it reached one.
    pub fn why_nothing_was_queued(&self) -> Option<&'static str> {
        if self.queued > 0 {
            return None;
        }
        let total =
            self.skipped_by_policy + self.skipped_by_host + self.gone + self.skipped_by_preferences;
        Some(if total == 0 {
            "no-subscriptions"
        } else if self.skipped_by_preferences == total {
            "withheld-by-preferences"
        } else if self.skipped_by_policy == total {
            "target-policy"
        } else if self.skipped_by_host == total {
            "target-host"
        } else if self.gone == total {
            "all-subscriptions-gone"
        } else {
            "none-matched"
        })
    }

    /// Counts one delivery row a post made.
    pub(crate) fn count(&mut self, state: &str, reason: Option<&str>) {
        match (DeliveryState::parse(state), reason) {
            (Some(DeliveryState::Queued), _) => self.queued += 1,
            (Some(DeliveryState::Gone), _) => self.gone += 1,
            (_, Some(reasons::TARGET_POLICY)) => self.skipped_by_policy += 1,
            (_, Some(reasons::MUTED | reasons::QUIET_HOURS)) => self.skipped_by_preferences += 1,
            _ => self.skipped_by_host += 1,
        }
    }
}

/// What saving a posted notification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub item: FeedItem,
    /// True when an earlier notification with the same `appNotificationId` was updated.
    pub updated: bool,
    pub fan_out: FanOut,
    /// The user's oldest notifications deleted to keep the feed within its limit, each
    /// logged as a deletion (every device drops it).
    pub evicted: Vec<LoggedChange>,
}

/// What a change of a notification's state did: the notification as it now is, and the
/// change logged (`None` when the state was already so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateUpdated {
    pub item: FeedItem,
    pub change: Option<LoggedChange>,
}

/// The resource as stored and pushed: the notification's JSON with its `id`.
pub(crate) fn stored_resource(notification: &Notification, id: &str) -> String {
    let mut stored = notification.clone();
    stored.id = Some(id.to_owned());
    stored.to_json().to_json_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_that_reaches_nobody_says_why() {
        let none = FanOut::default();
        assert_eq!(none.why_nothing_was_queued(), Some("no-subscriptions"));
        let policy = FanOut {
            skipped_by_policy: 2,
            ..FanOut::default()
        };
        assert_eq!(policy.why_nothing_was_queued(), Some("target-policy"));
        let host = FanOut {
            skipped_by_host: 1,
            ..FanOut::default()
        };
        assert_eq!(host.why_nothing_was_queued(), Some("target-host"));
        let mixed = FanOut {
            skipped_by_host: 1,
            gone: 1,
            ..FanOut::default()
        };
        assert_eq!(mixed.why_nothing_was_queued(), Some("none-matched"));
        let reached = FanOut {
            queued: 1,
            skipped_by_host: 3,
            ..FanOut::default()
        };
        assert_eq!(reached.why_nothing_was_queued(), None);
    }
}
