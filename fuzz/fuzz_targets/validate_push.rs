//! Any bytes as a push body: validation and the display decisions never panic, and a valid
//! notification written back out validates to the same notification. (The worker reads the
//! JS value `JSON.parse` made through the same `Notification::read`, in the browser; the
//! in-worker tests and the end-to-end suites cover that reader.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use usernotify::core::display::DEFAULT_RAW_TITLE;
use usernotify::core::{plan_raw_fallback, plan_visual, Json, Notification};

/// 2026-11-23T12:00:00Z, so that generated expiries can be valid.
const NOW: i64 = 1_795_435_200_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(body) = serde_json::from_str::<Json>(text) else {
        return;
    };
    let Ok(notification) = Notification::from_json(&body, NOW) else {
        return;
    };
    let key = notification.key();
    let members = [key.as_str(), "other"];
    let _ = plan_visual(&notification, &members, NOW);
    let _ = plan_raw_fallback(&notification, DEFAULT_RAW_TITLE, NOW);
    let written = notification.to_json().to_json_string();
    let reparsed: Json = serde_json::from_str(&written).expect("written JSON parses");
    let again = Notification::from_json(&reparsed, NOW).expect("written notification validates");
    assert_eq!(again, notification);
});
