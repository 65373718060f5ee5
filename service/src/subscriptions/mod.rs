//! Push subscriptions: registering a browser's (its UNSID) and removing it ([`handlers`]).

pub mod handlers;
