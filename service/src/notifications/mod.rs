//! Notifications: a post stored and fanned out ([`post`]), the user's feed read, changed and
//! deleted ([`feed`]). The store's operations they use are [`crate::store::Store`]'s.

pub mod feed;
pub mod post;
mod postgres;
mod records;
mod sqlite;
pub(crate) use records::stored_resource;
pub use records::{FanOut, FeedItem, FeedPage, Saved, StateUpdated};
