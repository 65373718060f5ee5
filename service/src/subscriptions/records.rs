//! What the store takes and answers for subscriptions.

use usernotify::core::Millis;

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
