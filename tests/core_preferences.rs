//! The user's preferences (CONTRACT §5: muted groups and quiet hours), checked on the host.
#![cfg(not(target_arch = "wasm32"))]

use usernotify::core::preferences::{
    parse_time_of_day, time_of_day, InvalidPreferences, Preferences, QuietHours, Withheld,
};
use usernotify::core::{Json, Priority};

fn json(text: &str) -> Json {
    serde_json::from_str(text).expect("test JSON parses")
}

fn lisbon_nights() -> Preferences {
    Preferences::read(&&json(
        r#"{"mutedGroups": ["promos"], "quietHours": {"start": "22:00", "end": "07:00", "timeZone": "Europe/Lisbon"}}"#,
    ))
    .expect("valid")
}

const AT: fn(&str) -> Option<u16> = parse_time_of_day;

#[test]
fn a_muted_groups_notifications_are_withheld_at_any_hour_and_others_are_not() {
    let preferences = lisbon_nights();
    assert_eq!(
        preferences.withholds(Some("promos"), Priority::High, AT("12:00")),
        Some(Withheld::Muted)
    );
    assert_eq!(
        preferences.withholds(Some("orders"), Priority::None, AT("12:00")),
        None
    );
    assert_eq!(
        preferences.withholds(None, Priority::None, AT("12:00")),
        None
    );
}

#[test]
fn quiet_hours_over_midnight_withhold_from_their_start_until_just_before_their_end() {
    let preferences = lisbon_nights();
    for (time, withheld) in [
        ("21:59", false),
        ("22:00", true),
        ("23:59", true),
        ("00:00", true),
        ("06:59", true),
        ("07:00", false),
    ] {
        let expected = withheld.then_some(Withheld::QuietHours);
        assert_eq!(
            preferences.withholds(Some("orders"), Priority::None, AT(time)),
            expected,
            "{time}"
        );
    }
}

#[test]
fn a_window_within_one_day_and_an_empty_window_are_told_apart() {
    let lunch = QuietHours {
        start: 12 * 60,
        end: 13 * 60,
        time_zone: "UTC".into(),
        allow_high: false,
    };
    assert!(!lunch.contains(11 * 60 + 59));
    assert!(lunch.contains(12 * 60));
    assert!(!lunch.contains(13 * 60));
    let empty = QuietHours {
        start: 600,
        end: 600,
        ..lunch
    };
    assert!((0..1440).all(|minute| !empty.contains(minute)));
}

#[test]
fn high_priority_breaks_through_quiet_hours_only_when_the_user_allowed_it() {
    let mut preferences = lisbon_nights();
    assert_eq!(
        preferences.withholds(None, Priority::High, AT("23:00")),
        Some(Withheld::QuietHours)
    );
    preferences.quiet_hours.as_mut().expect("set").allow_high = true;
    assert_eq!(
        preferences.withholds(None, Priority::High, AT("23:00")),
        None
    );
    assert_eq!(
        preferences.withholds(None, Priority::Low, AT("23:00")),
        Some(Withheld::QuietHours)
    );
}

#[test]
fn quiet_hours_withhold_nothing_when_the_local_time_cannot_be_told() {
    assert_eq!(lisbon_nights().withholds(None, Priority::None, None), None);
}

#[test]
fn a_patch_replaces_what_it_names_clears_what_it_sets_to_null_and_keeps_the_rest() {
    let preferences = lisbon_nights();
    let muted = preferences
        .patched(&&json(r#"{"mutedGroups": ["news", "news", "ads"]}"#))
        .expect("valid");
    assert_eq!(
        muted.muted_groups,
        ["news", "ads"],
        "duplicates are listed once"
    );
    assert_eq!(muted.quiet_hours, preferences.quiet_hours);
    let cleared = preferences
        .patched(&&json(r#"{"quietHours": null}"#))
        .expect("valid");
    assert_eq!(cleared.quiet_hours, None);
    assert_eq!(cleared.muted_groups, ["promos"]);
    assert_eq!(
        preferences.patched(&&json("{}")).expect("valid"),
        preferences
    );
}

#[test]
fn preferences_written_out_read_back_the_same() {
    let preferences = lisbon_nights();
    let written = preferences.to_json();
    assert_eq!(
        written,
        r#"{"mutedGroups":["promos"],"quietHours":{"start":"22:00","end":"07:00","timeZone":"Europe/Lisbon","allowHigh":false}}"#
    );
    assert_eq!(
        Preferences::read(&&json(&written)).expect("valid"),
        preferences
    );
    assert_eq!(
        Preferences::default().to_json(),
        r#"{"mutedGroups":[],"quietHours":null}"#
    );
}

#[test]
fn wrong_shapes_times_and_time_zones_are_refused_with_their_codes() {
    let refused = |text: &str| Preferences::read(&&json(text)).expect_err(text);
    assert_eq!(
        refused("[]"),
        InvalidPreferences::ContractMismatch("(body)")
    );
    assert_eq!(
        refused(r#"{"mutedGroups": "promos"}"#),
        InvalidPreferences::ContractMismatch("mutedGroups")
    );
    assert_eq!(
        refused(r#"{"mutedGroups": [""]}"#),
        InvalidPreferences::ContractMismatch("mutedGroups")
    );
    assert_eq!(
        refused(r#"{"quietHours": "22-07"}"#),
        InvalidPreferences::ContractMismatch("quietHours")
    );
    let hours = |start: &str, end: &str, zone: &str| {
        format!(r#"{{"quietHours": {{"start": "{start}", "end": "{end}", "timeZone": "{zone}"}}}}"#)
    };
    assert_eq!(
        refused(&hours("24:00", "07:00", "UTC")),
        InvalidPreferences::InvalidTime("quietHours.start")
    );
    assert_eq!(
        refused(&hours("22:00", "7:00", "UTC")),
        InvalidPreferences::InvalidTime("quietHours.end")
    );
    assert_eq!(
        refused(&hours("22:00", "07:60", "UTC")),
        InvalidPreferences::InvalidTime("quietHours.end")
    );
    assert_eq!(
        refused(&hours("22:00", "07:00", "")),
        InvalidPreferences::InvalidTimeZone
    );
    assert_eq!(
        refused(&hours("22:00", "07:00", "Europe/Lisbon; drop")),
        InvalidPreferences::InvalidTimeZone
    );
    let many: Vec<String> = (0..201).map(|index| format!(r#""g{index}""#)).collect();
    assert_eq!(
        refused(&format!(r#"{{"mutedGroups": [{}]}}"#, many.join(","))),
        InvalidPreferences::TooManyMutedGroups
    );
    assert_eq!(
        refused(&hours("25:00", "07:00", "UTC")).code(),
        "invalid-time"
    );
}

#[test]
fn a_time_of_day_reads_and_writes_as_hh_mm() {
    assert_eq!(parse_time_of_day("00:00"), Some(0));
    assert_eq!(parse_time_of_day("23:59"), Some(1439));
    for bad in [
        "", "7:00", "07:0", "07-00", "ab:cd", "24:00", "-1:00", "07:00:00",
    ] {
        assert_eq!(parse_time_of_day(bad), None, "{bad}");
    }
    assert_eq!(time_of_day(7 * 60 + 5), "07:05");
}

#[test]
fn kept_preferences_read_by_the_worker_withhold_exactly_what_the_service_withholds() {
    use usernotify::core::preferences::withheld_by;
    let mut preferences = lisbon_nights();
    for allow_high in [false, true] {
        preferences.quiet_hours.as_mut().expect("set").allow_high = allow_high;
        let kept = json(&preferences.to_json());
        for group in [None, Some("promos"), Some("orders")] {
            for priority in [Priority::None, Priority::High, Priority::Low] {
                for time in ["21:59", "22:00", "03:00", "07:00", "12:00"] {
                    let asked = std::cell::Cell::new(None);
                    let by_worker = withheld_by(&&kept, group, priority, |zone| {
                        asked.set(Some(zone.to_owned()));
                        AT(time)
                    });
                    assert_eq!(
                        by_worker,
                        preferences.withholds(group, priority, AT(time)),
                        "{group:?} {priority:?} {time} allowHigh {allow_high}"
                    );
                    if group != Some("promos") {
                        assert_eq!(asked.take().as_deref(), Some("Europe/Lisbon"));
                    }
                }
            }
        }
    }
    let nothing_kept = json("null");
    assert_eq!(
        withheld_by(&&nothing_kept, Some("promos"), Priority::None, |_| AT(
            "23:00"
        )),
        None
    );
}
