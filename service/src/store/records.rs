//! What the store takes and answers: subscriptions, the feed, fan-outs, due deliveries,
//! logged changes, the queue's numbers and the claim's shares.

use std::collections::BTreeMap;

use usernotify::core::feed::{ReadState, UserActionState};
use usernotify::core::sync::StateChange;
use usernotify::core::{Millis, Notification};

use crate::deliveries::{reasons, DeliveryInfo, DeliveryState};

/// A push subscription as registered by a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    pub endpoint: String,
    pub p256dh: Vec<u8>,
    pub auth: Vec<u8>,
    pub target_host_name: String,
    pub display_name: Option<String>,
}

impl NewSubscription {
    /// The push service the endpoint names, as `host[:port]`: what the senders are shared
    /// out by, so that one slow push service cannot hold them all.
    pub fn push_host(&self) -> String {
        crate::push::push_host(&self.endpoint)
    }
}

/// What registering a subscription did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// Registered, or refreshed (the same endpoint again keeps its UNSID).
    Registered(SubscriptionInfo),
    /// Refused: the user already has `held` subscriptions that can be pushed to, the limit.
    AtLimit { held: usize },
}

/// A subscription row as the API answers it (no keys, no endpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionInfo {
    pub id: String,
    pub user: String,
    pub target_host_name: String,
    pub display_name: Option<String>,
    pub created_at: Millis,
    /// False once the push service answered 404 or 410 for it.
    pub active: bool,
}

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

/// One push to send: the subscription's keys and the resource to encrypt. The endpoint and
/// keys are `None` when the subscription went away after the delivery was queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub id: i64,
    pub attempts: u32,
    pub subscription_id: String,
    pub endpoint: Option<String>,
    pub p256dh: Option<Vec<u8>>,
    pub auth: Option<Vec<u8>>,
    pub notification_id: String,
    pub resource: String,
    pub priority: String,
    pub app_notification_id: Option<String>,
    pub expires_at: Millis,
    /// A push that only carries changes (no notification of its own; the fields above are
    /// empty).
    pub changes_only: bool,
    /// The subscription's user (`None` once the subscription is gone).
    pub user: Option<String>,
    /// The changes to the user's notifications since this subscription's last push, newest
    /// first, at most [`usernotify::core::sync::MAX_CHANGES_PER_PUSH`].
    pub changes: Vec<LoggedChange>,
    /// How many of the user's notifications are unread, not dismissed and unexpired at the
    /// claim: the app badge the push carries (Declarative Web Push's `app_badge`).
    pub unread: u64,
    /// The user the delivery is for (kept when the subscription is gone): what the senders
    /// are shared out by.
    pub owner: String,
    /// The push host of the endpoint (`host[:port]`), the other thing they are shared by.
    pub push_host: String,
}

/// One entry of a user's change log: the latest change of one notification (a later change
/// of the same notification replaces it, under a new `seq`), kept until the notification
/// would have expired. `seq` counts the user's changes: the change stream's event ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedChange {
    pub seq: i64,
    pub change: StateChange,
    /// The notification's group, if any (what a device redraws).
    pub group: Option<String>,
}

impl LoggedChange {
    /// A change row as the store reads it; an unknown state reads as none of Graph's.
    pub(crate) fn from_row(
        seq: i64,
        id: String,
        read_state: Option<&str>,
        user_action_state: Option<&str>,
        deleted: bool,
        group: Option<String>,
    ) -> LoggedChange {
        let state = match (deleted, read_state, user_action_state) {
            (false, Some(read), Some(action)) => Some((
                ReadState::parse(read).unwrap_or_default(),
                UserActionState::parse(action).unwrap_or_default(),
            )),
            _ => None,
        };
        LoggedChange {
            seq,
            change: StateChange { id, state },
            group,
        }
    }

    /// The changes a claim read, as the backend aggregated them: a JSON array of
    /// `[seq, id, readState, userActionState, deleted, groupName]`, newest first.
    pub(crate) fn list_of(text: Option<&str>) -> Vec<LoggedChange> {
        let Some(rows) =
            text.and_then(|text| serde_json::from_str::<Vec<serde_json::Value>>(text).ok())
        else {
            return Vec::new();
        };
        rows.iter()
            .filter_map(|row| {
                let item = |index: usize| row.get(index);
                let text = |index: usize| item(index).and_then(serde_json::Value::as_str);
                let deleted = match item(4) {
                    Some(serde_json::Value::Bool(flag)) => *flag,
                    Some(number) => number.as_i64().unwrap_or(0) != 0,
                    None => false,
                };
                Some(LoggedChange::from_row(
                    item(0)?.as_i64()?,
                    text(1)?.to_owned(),
                    text(2),
                    text(3),
                    deleted,
                    text(5).map(str::to_owned),
                ))
            })
            .collect()
    }
}

/// What a change of a notification's state did: the notification as it now is, and the
/// change logged (`None` when the state was already so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateUpdated {
    pub item: FeedItem,
    pub change: Option<LoggedChange>,
}

/// Deliveries waiting for an attempt (`/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Deliveries queued or retrying.
    pub depth: u64,
    /// How long the oldest of them has waited since it was queued; 0 when none waits.
    pub oldest_age_ms: u64,
}

/// How the senders of this process are shared out when it claims deliveries: no user and no
/// push host may have more than its share in flight here, so what one user's endpoints do
/// (hang, time out, flood) never takes the senders from the others.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimShares {
    /// Pushes in flight at most per user (`DeliverySettings::per_user`).
    pub per_user: usize,
    /// Pushes in flight at most per push host (`DeliverySettings::per_host`).
    pub per_host: usize,
    /// Room left for each user with pushes in flight here (0: none until one finishes).
    pub user_room: BTreeMap<String, usize>,
    /// Room left for each host with pushes in flight here, or resting after timeouts (0).
    pub host_room: BTreeMap<String, usize>,
}

impl ClaimShares {
    /// How many due rows a claim looks at on SQLite, per row it may take: enough for several
    /// users to take turns in one claim; the users and hosts without room are passed over in
    /// the index before the window is counted. (PostgreSQL looks at as many as it may take:
    /// the rows it looks at are locked.)
    pub const WINDOW: usize = 4;

    /// Nothing in flight and no share smaller than a whole claim: a claim in the old order,
    /// for tools and tests of the queue itself.
    pub fn unshared() -> ClaimShares {
        ClaimShares {
            per_user: usize::MAX,
            per_host: usize::MAX,
            ..ClaimShares::default()
        }
    }

    pub(crate) fn full(rooms: &BTreeMap<String, usize>) -> Vec<&str> {
        rooms
            .iter()
            .filter(|(_, room)| **room == 0)
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// The users with no room now.
    pub fn full_users(&self) -> Vec<&str> {
        ClaimShares::full(&self.user_room)
    }

    /// The hosts with no room now.
    pub fn full_hosts(&self) -> Vec<&str> {
        ClaimShares::full(&self.host_room)
    }

    pub(crate) fn full_users_json(&self) -> String {
        serde_json::Value::from(self.full_users()).to_string()
    }

    pub(crate) fn full_hosts_json(&self) -> String {
        serde_json::Value::from(self.full_hosts()).to_string()
    }

    pub(crate) fn user_rooms_json(&self) -> String {
        serde_json::to_string(&self.user_room).unwrap_or_else(|_| "{}".to_owned())
    }

    pub(crate) fn host_rooms_json(&self) -> String {
        serde_json::to_string(&self.host_room).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// How long a push that only carries changes stays in the queue at most (and its rows after).
pub const CHANGE_PUSH_LIFETIME: Millis = 24 * 3_600_000;

/// The resource as stored and pushed: the notification's JSON with its `id`.
pub(crate) fn stored_resource(notification: &Notification, id: &str) -> String {
    let mut stored = notification.clone();
    stored.id = Some(id.to_owned());
    stored.to_json().to_json_string()
}

impl FanOut {
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

pub(crate) fn queue_stats(
    depth: i64,
    oldest_created_at: Option<Millis>,
    now: Millis,
) -> QueueStats {
    QueueStats {
        depth: u64::try_from(depth).unwrap_or(0),
        oldest_age_ms: oldest_created_at
            .and_then(|at| u64::try_from(now.saturating_sub(at)).ok())
            .unwrap_or(0),
    }
}

/// A delivery row as the API shows it; an unknown state text reads as `failed`.
pub(crate) fn delivery_info(
    subscription_id: String,
    state: &str,
    attempts: i64,
    last_status: Option<i64>,
    reason: Option<String>,
    next_attempt_at: Millis,
    updated_at: Millis,
) -> DeliveryInfo {
    let state = DeliveryState::parse(state).unwrap_or(DeliveryState::Failed);
    DeliveryInfo {
        subscription_id,
        state,
        attempts: u32::try_from(attempts).unwrap_or(0),
        last_status: last_status.and_then(|status| u16::try_from(status).ok()),
        reason,
        next_attempt_at: state.is_pending().then_some(next_attempt_at),
        updated_at,
    }
}
