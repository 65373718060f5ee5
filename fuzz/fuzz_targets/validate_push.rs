//! Any bytes as a push body: validation and the display decisions never panic; the worker,
//! asked about the push as its shell asks (the JSON written as a tape), refuses it with the
//! same code as the service's validation or accepts it under the same key; and a valid
//! notification written back out validates to the same notification. Any bytes at all as a
//! question to the worker get a JSON answer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usernotify::core::display::DEFAULT_RAW_TITLE;
use usernotify::core::tape::write::tape_of;
use usernotify::core::{plan_raw_fallback, plan_visual, Json, Notification};
use usernotify::worker::decide;

/// 2026-11-23T12:00:00Z, so that generated expiries can be valid.
const NOW: i64 = 1_795_435_200_000;

fuzz_target!(|data: &[u8]| {
    let answer = decide(data);
    serde_json::from_str::<serde_json::Value>(&answer).expect("every answer is JSON");

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(body) = serde_json::from_str::<Json>(text) else {
        return;
    };
    let question = Json::Object(vec![
        ("op".into(), Json::String("accept".into())),
        ("now".into(), Json::Number(NOW as f64)),
        ("body".into(), body.clone()),
    ]);
    let accepted: serde_json::Value =
        serde_json::from_str(&decide(&tape_of(&question))).expect("accept answers JSON");
    let validated = Notification::from_json(&body, NOW);
    match &validated {
        Ok(notification) => assert_eq!(accepted["key"], notification.key().as_str()),
        Err(invalid) => assert_eq!(accepted["refused"], invalid.code()),
    }
    let Ok(notification) = validated else {
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
