//! The pure core: model, validation, expiry, display decisions.
//!
//! No web-sys, no js-sys, no clock: `now` is always a parameter, so everything here runs
//! and is tested on the host, and the service reuses the same validation.

// Written by senders, which run on hosts; the worker only reads it (notification.rs), so the
// wasm build neither compiles nor ships the URL parser it needs.
#[cfg(not(target_arch = "wasm32"))]
pub mod declarative;
pub mod display;
pub mod error;
pub mod feed;
pub mod json;
pub mod messages;
pub mod notification;
pub mod preferences;
pub mod record;
pub mod sync;
pub mod time;

pub use display::{
    plan_entry, plan_raw_fallback, plan_status, plan_visual, refresh_after_change, should_close,
    tag_for, Display, Refresh,
};
pub use error::{Field, InvalidNotification};
pub use json::Json;
pub use notification::{
    Action, Notification, Platform, Priority, RichContent, VisualContent, MAX_LIFETIME,
};
pub use time::{format_iso8601, parse_iso8601, Millis};
