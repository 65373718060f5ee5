//! What the store takes and answers for deliveries: each one's state and row as the API shows
//! them, due pushes, the queue's numbers, the claim's shares.

use std::collections::BTreeMap;

use usernotify::core::Millis;

use crate::changes::LoggedChange;

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

/// The `kind` of a delivery that carries only the user's changes (no notification of its
/// own); a notification's delivery is `notification`, the column's default.
pub const CHANGES_KIND: &str = "changes";

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
