//! Properties of the core's decisions over generated inputs (proptest).
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use usernotify::core::feed::{
    activate, arrive, dismiss, group_members, set_state, tombstone_for, Arrival, FeedEntry,
    ReadState, UserActionState,
};
use usernotify::core::{
    format_iso8601, parse_iso8601, plan_visual, should_close, Json, Millis, Notification,
    MAX_LIFETIME,
};

const NOW: Millis = 1_795_435_200_000;

fn valid(id: &str, group: Option<&str>, expiration: Millis, ttl: Option<u32>) -> Notification {
    let mut members = vec![
        ("appNotificationId", Some(Json::String(id.to_owned()))),
        (
            "expirationDateTime",
            Some(Json::String(format_iso8601(expiration))),
        ),
        (
            "displayTimeToLive",
            ttl.map(|seconds| Json::Number(f64::from(seconds))),
        ),
        (
            "groupName",
            group.map(|group| Json::String(group.to_owned())),
        ),
    ];
    members.push((
        "payload",
        Some(Json::object([(
            "visualContent",
            Some(Json::object([(
                "title",
                Some(Json::String(format!("t-{id}"))),
            )])),
        )])),
    ));
    let body = Json::Object(
        members
            .into_iter()
            .filter_map(|(name, value)| value.map(|value| (name.to_owned(), value)))
            .collect(),
    );
    Notification::from_json(&body, NOW).expect("generated notification is valid")
}

fn json_tree() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        (-1.0e15f64..1.0e15).prop_map(Json::Number),
        any::<i32>().prop_map(|n| Json::Number(f64::from(n))),
        ".*".prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            prop::collection::vec(("[a-z]{1,6}", inner), 0..6).prop_map(|members| {
                // Distinct names: a repeated name reads back as its last value only.
                let mut seen = std::collections::HashSet::new();
                Json::Object(
                    members
                        .into_iter()
                        .filter(|(name, _)| seen.insert(name.clone()))
                        .collect(),
                )
            }),
        ]
    })
}

proptest! {
    #[test]
    fn an_expiry_is_accepted_exactly_when_it_is_after_now_and_at_most_thirty_days_ahead(
        offset in -2 * MAX_LIFETIME..2 * MAX_LIFETIME
    ) {
        let expiration = NOW + offset;
        let body = Json::object([
            ("expirationDateTime", Some(Json::String(format_iso8601(expiration)))),
            ("payload", Some(Json::object([("rawContent", Some(Json::String("r".into())))]))),
        ]);
        let accepted = Notification::from_json(&body, NOW).is_ok();
        prop_assert_eq!(accepted, offset > 0 && offset <= MAX_LIFETIME);
    }

    #[test]
    fn any_instant_formats_and_parses_back_to_itself(instant in -62_135_596_800_000i64..253_402_300_799_999) {
        prop_assert_eq!(parse_iso8601(&format_iso8601(instant)), Some(instant));
    }

    #[test]
    fn a_shown_notification_is_due_for_closing_exactly_from_its_display_time_on(
        ttl in 0u32..100_000, elapsed in 0i64..200_000_000
    ) {
        let notification = valid("n", None, NOW + MAX_LIFETIME, Some(ttl));
        let close_at = notification.display_close_at(NOW);
        prop_assert_eq!(
            should_close(close_at, Some(notification.expiration), NOW + elapsed),
            elapsed >= Millis::from(ttl) * 1000
        );
    }

    #[test]
    fn a_group_counts_each_key_once_with_the_newest_last(
        existing in prop::collection::vec("[a-e]", 0..12), incoming in "[a-e]"
    ) {
        let mut members: Vec<String> = Vec::new();
        for key in existing {
            if !members.contains(&key) {
                members.push(key);
            }
        }
        let keys: Vec<&str> = members.iter().map(String::as_str).collect();
        let shown = plan_visual(&valid(&incoming, Some("g"), NOW + 60_000, None), &keys, NOW).expect("visual");
        let mut expected: Vec<String> = members.iter().filter(|key| **key != incoming).cloned().collect();
        expected.push(incoming.clone());
        prop_assert_eq!(&shown.members, &expected);
        prop_assert_eq!(shown.count(), expected.len());
        prop_assert_eq!(shown.title.ends_with(&format!("({})", expected.len())), expected.len() > 1);
    }

    #[test]
    fn redelivering_a_notification_never_changes_the_users_state(
        clicked in any::<bool>(), later in 0i64..60_000
    ) {
        let notification = valid("n", None, NOW + 120_000, None);
        let Arrival::New(mut entry) = arrive(&notification, None, None, NOW) else {
            return Err(TestCaseError::fail("first arrival is new"));
        };
        if clicked {
            activate(&mut entry);
        }
        let again = arrive(&notification, Some(&entry), None, NOW + later);
        prop_assert_eq!(again, Arrival::Redelivered(entry.clone()));
        prop_assert_eq!(entry.read_state == ReadState::Read, clicked);
    }

    #[test]
    fn a_deleted_notification_never_comes_back_before_its_expiry(later in 0i64..240_000) {
        let notification = valid("n", None, NOW + 120_000, None);
        let entry = FeedEntry::arrived(&notification, NOW);
        let tombstone = tombstone_for(&entry);
        let arrival = arrive(&notification, None, Some(&tombstone), NOW + later);
        prop_assert_eq!(arrival == Arrival::Deleted, NOW + later < entry.expiration);
    }

    #[test]
    fn any_json_tree_written_out_parses_back_to_the_same_tree(tree in json_tree()) {
        let text = tree.to_json_string();
        let parsed: Json = serde_json::from_str(&text).map_err(|error| TestCaseError::fail(error.to_string()))?;
        prop_assert_eq!(parsed, tree);
    }

    #[test]
    fn validation_never_panics_on_any_json_tree(tree in json_tree(), now in any::<i64>()) {
        let _ = Notification::from_json(&tree, now);
    }

    #[test]
    fn any_sequence_of_user_changes_keeps_the_state_rules(
        changes in prop::collection::vec((0u8..7, any::<bool>()), 0..24)
    ) {
        let mut entry = FeedEntry::arrived(&valid("n", Some("g"), NOW + 60_000, None), NOW);
        for (change, read) in changes {
            let before = entry.clone();
            match change {
                0 => activate(&mut entry),
                1 => dismiss(&mut entry),
                2 => set_state(&mut entry, Some(if read { ReadState::Read } else { ReadState::Unread }), None),
                3 => set_state(&mut entry, None, Some(UserActionState::Snoozed)),
                4 => set_state(&mut entry, None, Some(UserActionState::None)),
                5 => set_state(&mut entry, None, Some(UserActionState::Activated)),
                _ => set_state(&mut entry, None, None),
            }
            if matches!(change, 0 | 5) {
                prop_assert_eq!((entry.read_state, entry.user_action_state), (ReadState::Read, UserActionState::Activated));
            }
            if change == 6 {
                prop_assert_eq!(&entry, &before, "an empty change changes nothing");
            }
            // Only the two states ever change: the content and the times stay as they arrived.
            prop_assert_eq!((&entry.key, &entry.title, entry.creation, entry.expiration), (&before.key, &before.title, before.creation, before.expiration));
            prop_assert_eq!(
                group_members(std::slice::from_ref(&entry), "g", NOW).len(),
                usize::from(entry.read_state == ReadState::Unread && entry.user_action_state != UserActionState::Dismissed)
            );
        }
    }

    #[test]
    fn a_group_from_the_feed_counts_exactly_its_unread_undismissed_unexpired_entries_in_arrival_order(
        entries in prop::collection::vec((0i64..5, any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()), 0..16),
        at in 0i64..120_000
    ) {
        let feed: Vec<FeedEntry> = entries
            .iter()
            .enumerate()
            .map(|(n, (arrived, grouped, read, dismissed, short_lived))| {
                let expiration = if *short_lived { NOW + 60_000 } else { NOW + 600_000 };
                let group = grouped.then_some("g");
                let mut entry = FeedEntry::arrived(&valid(&format!("k{n}"), group, expiration, None), NOW + arrived);
                if *read { set_state(&mut entry, Some(ReadState::Read), None); }
                if *dismissed { dismiss(&mut entry); }
                entry
            })
            .collect();
        let now = NOW + at;
        let mut expected: Vec<&FeedEntry> = feed
            .iter()
            .filter(|entry| entry.group_name.as_deref() == Some("g") && now < entry.expiration && entry.counts_in_group())
            .collect();
        expected.sort_by(|a, b| (a.creation, &a.key).cmp(&(b.creation, &b.key)));
        let expected: Vec<String> = expected.into_iter().map(|entry| entry.key.clone()).collect();
        prop_assert_eq!(group_members(&feed, "g", now), expected);
    }
}
