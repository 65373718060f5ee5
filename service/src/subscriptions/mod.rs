//! Push subscriptions: registering a browser's (its UNSID) and removing it ([`handlers`]).

pub mod handlers;
mod postgres;
mod records;
mod sqlite;
pub use records::{NewSubscription, Registration, SubscriptionInfo};
