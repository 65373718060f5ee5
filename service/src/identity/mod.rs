//! Who a request acts for: bearer tokens (`USERNOTIFY_TOKENS`) or the deployment's OpenID
//! Connect JWTs name the user ("me"); the gate refuses blocked callers, callers over their
//! rate and Graph's unsupported conditional headers. Handlers take a [`Caller`] (and a post
//! its [`SubscriptionHeader`]) instead of asking the gate themselves.

pub mod auth;
pub mod caller;
pub mod oidc;

pub use caller::{Caller, SubscriptionHeader};
