//! The one place the service reads the wall clock; everything below takes `now` as a value.

use std::time::{SystemTime, UNIX_EPOCH};
use usernotify::core::Millis;

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| Millis::try_from(elapsed.as_millis()).unwrap_or(Millis::MAX))
        .unwrap_or(0)
}
