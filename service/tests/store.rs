//! The store's rules, each run on both backends: a SQLite file and a database of a real
//! PostgreSQL (a throwaway cluster, `common::postgres`). What a post fans out to and why,
//! updates by `appNotificationId`, claims and leases, what each outcome makes of a delivery,
//! a subscription reported gone, the VAPID key, and the numbers `/metrics` reads.

mod common;

use std::sync::Arc;

use serde_json::Value;
use tempfile::TempDir;
use usernotify::core::{Json, Millis, Notification};
use usernotify_service::deliveries::ClaimShares;
use usernotify_service::deliveries::{Attempted, DeliveryState, Verdict};
use usernotify_service::store::{Db, DbLocation, DbSettings};
use usernotify_service::subscriptions::NewSubscription;

const NOW: Millis = 1_700_000_000_000;

/// A delivery row as these tests compare it: state, attempts, last status, reason, next
/// attempt.
type Shown<'a> = (
    DeliveryState,
    u32,
    Option<u16>,
    Option<&'a str>,
    Option<Millis>,
);

/// One database of each kind, named for assertion messages. The directory holds the
/// SQLite file until the test ends.
async fn both() -> (TempDir, Vec<(&'static str, Db)>) {
    let dir = tempfile::tempdir().unwrap();
    let settings = DbSettings {
        max_connections: 4,
        ..DbSettings::default()
    };
    let sqlite = Db::open(&DbLocation::from(dir.path().join("store.db")), &settings)
        .await
        .unwrap();
    let url = common::postgres::fresh_database().await;
    let postgres = Db::open(&DbLocation::from(url), &settings).await.unwrap();
    (dir, vec![("sqlite", sqlite), ("postgres", postgres)])
}

async fn postgres_pair() -> (Db, Db) {
    let url = common::postgres::fresh_database().await;
    let settings = DbSettings {
        max_connections: 4,
        ..DbSettings::default()
    };
    let first = Db::open(&DbLocation::from(url.clone()), &settings)
        .await
        .unwrap();
    let second = Db::open(&DbLocation::from(url), &settings).await.unwrap();
    (first, second)
}

fn notification(text: &str) -> Notification {
    let value: Value = serde_json::from_str(text).unwrap();
    let json: Json = serde_json::from_value(value).unwrap();
    Notification::from_json(&json, NOW).unwrap()
}

fn for_host(host: &str, content: &str) -> Notification {
    notification(&format!(
        r#"{{"targetHostName":"{host}","payload":{{"rawContent":"{content}"}}}}"#
    ))
}

fn subscription(endpoint: &str, host: &str) -> NewSubscription {
    NewSubscription {
        endpoint: endpoint.to_owned(),
        p256dh: vec![4; 65],
        auth: vec![1; 16],
        target_host_name: host.to_owned(),
        display_name: None,
    }
}

async fn subscribe(db: &Db, user: &str, id: &str, host: &str) {
    db.add_subscription(
        user.to_owned(),
        subscription(&format!("https://push.example/{id}"), host),
        id.to_owned(),
        usize::MAX,
        NOW,
    )
    .await
    .unwrap();
}

async fn post(
    db: &Db,
    user: &str,
    id: &str,
    body: Notification,
) -> usernotify_service::notifications::Saved {
    // Every test posts with the subscription "s1" as its X-UNS.
    db.save_notification(
        user.to_owned(),
        "s1".to_owned(),
        body,
        id.to_owned(),
        None,
        usize::MAX,
        NOW,
    )
    .await
    .unwrap()
    .unwrap()
}

/// `(subscription, state, reason)` of each delivery of a notification.
async fn states(db: &Db, user: &str, id: &str) -> Vec<(String, DeliveryState, Option<String>)> {
    db.deliveries(user.to_owned(), id.to_owned(), NOW)
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|row| (row.subscription_id, row.state, row.reason))
        .collect()
}

fn sent(delivery_id: i64) -> Attempted {
    Attempted {
        delivery_id,
        attempts: 1,
        verdict: Verdict::Sent { status: 201 },
        changes_through: None,
    }
}

#[tokio::test]
async fn a_post_queues_the_matching_subscriptions_and_records_why_the_others_were_left_out() {
    let (_dir, dbs) = both().await;
    for (name, db) in &dbs {
        subscribe(db, "alice", "s1", "app.example").await;
        subscribe(db, "alice", "s2", "APP.example").await;
        subscribe(db, "alice", "s3", "other.example").await;
        subscribe(db, "alice", "s4", "app.example").await;
        subscribe(db, "bob", "s5", "app.example").await;
        // s4 was reported gone before the post.
        let gone_first = post(db, "alice", "n0", for_host("app.example", "0")).await;
        let s4 = db
            .claim_due(NOW, 10, NOW + 60_000, ClaimShares::unshared())
            .await
            .unwrap()
            .into_iter()
            .find(|due| due.subscription_id == "s4")
            .unwrap();
        db.record_outcomes(
            Arc::new(vec![Attempted {
                delivery_id: s4.id,
                attempts: 1,
                verdict: Verdict::SubscriptionGone {
                    status: Some(410),
                    subscription_id: "s4".to_owned(),
                },
                changes_through: None,
            }]),
            NOW,
        )
        .await
        .unwrap();
        assert_eq!(gone_first.fan_out.queued, 3, "{name}");

        let saved = post(db, "alice", "n1", for_host("app.example", "x")).await;
        assert_eq!(saved.fan_out.queued, 2, "{name}");
        assert_eq!(saved.fan_out.skipped_by_host, 1, "{name}");
        assert_eq!(saved.fan_out.gone, 1, "{name}");
        let skipped_host = Some("target-host".to_owned());
        assert_eq!(
            states(db, "alice", "n1").await,
            vec![
                ("s1".to_owned(), DeliveryState::Queued, None),
                ("s2".to_owned(), DeliveryState::Queued, None),
                ("s3".to_owned(), DeliveryState::Skipped, skipped_host),
                (
                    "s4".to_owned(),
                    DeliveryState::Gone,
                    Some("subscription-gone".to_owned())
                ),
            ],
            "{name}"
        );

        let not_web = post(
            db,
            "alice",
            "n2",
            notification(
                r#"{"targetHostName":"app.example","targetPolicy":{"platformTypes":["ios"]},
                    "payload":{"rawContent":"x"}}"#,
            ),
        )
        .await;
        assert_eq!(not_web.fan_out.queued, 0, "{name}");
        assert_eq!(not_web.fan_out.skipped_by_policy, 3, "{name}");
        assert_eq!(
            not_web.fan_out.why_nothing_was_queued(),
            Some("none-matched"),
            "{name}: policy for three, and one gone"
        );
        let no_host = post(
            db,
            "alice",
            "n3",
            notification(r#"{"payload":{"rawContent":"x"}}"#),
        )
        .await;
        assert_eq!(no_host.fan_out.skipped_by_host, 3, "{name}");
        // A post naming another user's subscription stores nothing.
        let foreign = db
            .save_notification(
                "bob".into(),
                "s1".into(),
                for_host("app.example", "x"),
                "n4".into(),
                None,
                usize::MAX,
                NOW,
            )
            .await
            .unwrap();
        assert!(foreign.is_none(), "{name}");
        assert!(
            db.feed("bob".into(), None, usize::MAX, NOW)
                .await
                .unwrap()
                .items
                .is_empty(),
            "{name}"
        );
        assert_eq!(
            db.subscription_count().await.unwrap(),
            4,
            "{name}: s4 is gone"
        );
    }
}

#[tokio::test]
async fn the_same_app_notification_id_updates_the_same_notification_and_starts_its_deliveries_afresh(
) {
    let (_dir, dbs) = both().await;
    for (name, db) in &dbs {
        subscribe(db, "alice", "s1", "h").await;
        let body = |content: &str| {
            notification(&format!(
                r#"{{"targetHostName":"h","appNotificationId":"a","payload":{{"rawContent":"{content}"}}}}"#
            ))
        };
        let first = post(db, "alice", "id-one", body("1")).await;
        db.update_state("alice".into(), "id-one".into(), Some("read"), None, NOW)
            .await
            .unwrap()
            .unwrap();
        // The first version is being sent when the update comes.
        let in_flight = db
            .claim_due(NOW, 10, NOW + 60_000, ClaimShares::unshared())
            .await
            .unwrap();
        assert_eq!(in_flight.len(), 1, "{name}");
        let second = post(db, "alice", "id-two", body("2")).await;
        assert!(second.updated, "{name}");
        assert_eq!(second.item.id, first.item.id, "{name}");
        assert_eq!(second.fan_out.queued, 1, "{name}");
        // The earlier attempt's outcome records nothing over the new delivery.
        db.record_outcomes(Arc::new(vec![sent(in_flight[0].id)]), NOW)
            .await
            .unwrap();
        assert_eq!(
            states(db, "alice", "id-one").await,
            vec![("s1".to_owned(), DeliveryState::Queued, None)],
            "{name}"
        );
        let due = db
            .claim_due(NOW, 10, NOW + 60_000, ClaimShares::unshared())
            .await
            .unwrap();
        assert_eq!(due.len(), 1, "{name}: the new version is due");
        assert!(due[0].resource.contains("\"2\""), "{name}");
        let feed = db
            .feed("alice".into(), None, usize::MAX, NOW)
            .await
            .unwrap()
            .items;
        assert_eq!(feed.len(), 1, "{name}");
        assert!(feed[0].resource.contains("\"2\""), "{name}");
        assert_eq!(feed[0].read_state, "unread", "{name}");
    }
}

#[tokio::test]
async fn a_claimed_delivery_is_not_handed_out_again_and_each_outcome_sets_its_state() {
    let (_dir, dbs) = both().await;
    for (name, db) in &dbs {
        for id in ["s1", "s2", "s3", "s4"] {
            subscribe(db, "alice", id, "h").await;
        }
        post(db, "alice", "n1", for_host("h", "x")).await;
        let stats = db.queue_stats().await.unwrap();
        assert_eq!(stats.depth, 4, "{name}");
        let first = db
            .claim_due(NOW, 3, NOW + 60_000, ClaimShares::unshared())
            .await
            .unwrap();
        assert_eq!(first.len(), 3, "{name}");
        let rest = db
            .claim_due(NOW, 10, NOW + 60_000, ClaimShares::unshared())
            .await
            .unwrap();
        assert_eq!(rest.len(), 1, "{name}: only the one not claimed");
        assert!(db
            .claim_due(NOW, 10, NOW + 60_000, ClaimShares::unshared())
            .await
            .unwrap()
            .is_empty());
        let by_subscription = |id: &str| {
            first
                .iter()
                .chain(&rest)
                .find(|due| due.subscription_id == id)
                .unwrap()
                .id
        };
        let next_at = NOW + 5_000;
        db.record_outcomes(
            Arc::new(vec![
                sent(by_subscription("s1")),
                Attempted {
                    delivery_id: by_subscription("s2"),
                    attempts: 1,
                    verdict: Verdict::Retry {
                        status: Some(503),
                        reason: None,
                        next_at,
                        unanswered: None,
                    },
                    changes_through: None,
                },
                Attempted {
                    delivery_id: by_subscription("s3"),
                    attempts: 1,
                    verdict: Verdict::Failed {
                        status: Some(413),
                        reason: "push-service-refused",
                    },
                    changes_through: None,
                },
            ]),
            NOW,
        )
        .await
        .unwrap();
        let rows = db
            .deliveries("alice".into(), "n1".into(), NOW)
            .await
            .unwrap()
            .unwrap();
        let shown: Vec<Shown<'_>> = rows
            .iter()
            .map(|row| {
                (
                    row.state,
                    row.attempts,
                    row.last_status,
                    row.reason.as_deref(),
                    row.next_attempt_at,
                )
            })
            .collect();
        assert_eq!(
            shown,
            vec![
                (DeliveryState::Sent, 1, Some(201), None, None),
                (DeliveryState::Retrying, 1, Some(503), None, Some(next_at)),
                (
                    DeliveryState::Failed,
                    1,
                    Some(413),
                    Some("push-service-refused"),
                    None
                ),
                (DeliveryState::Queued, 0, None, None, Some(NOW)),
            ],
            "{name}"
        );
        // The retry is due at its time, not before; s4 is still claimed.
        assert!(db
            .claim_due(NOW + 4_000, 10, NOW + 60_000, ClaimShares::unshared())
            .await
            .unwrap()
            .is_empty());
        let retried = db
            .claim_due(next_at, 10, next_at + 60_000, ClaimShares::unshared())
            .await
            .unwrap();
        assert_eq!(retried.len(), 1, "{name}");
        assert_eq!(retried[0].attempts, 1, "{name}");
        assert_eq!(db.pending_deliveries().await.unwrap(), 2, "{name}");
        // A claim given back without an outcome is due again at once.
        db.release_claims(vec![by_subscription("s4")])
            .await
            .unwrap();
        let again = db
            .claim_due(NOW, 10, NOW + 60_000, ClaimShares::unshared())
            .await
            .unwrap();
        assert_eq!(again.len(), 1, "{name}");
        assert_eq!(again[0].subscription_id, "s4", "{name}");
        let stats = db.queue_stats().await.unwrap();
        assert_eq!(stats.depth, 2, "{name}");
        assert!(stats.oldest_age_ms > 0, "{name}");
    }
}

#[tokio::test]
async fn a_gone_subscription_is_forgotten_once_keeps_its_user_and_what_was_queued_for_it_is_gone() {
    let (_dir, dbs) = both().await;
    for (name, db) in &dbs {
        subscribe(db, "alice", "s1", "h").await;
        post(db, "alice", "n1", for_host("h", "1")).await;
        post(db, "alice", "n2", for_host("h", "2")).await;
        post(db, "alice", "n3", for_host("h", "3")).await;
        let due = db
            .claim_due(NOW, 2, NOW + 60_000, ClaimShares::unshared())
            .await
            .unwrap();
        assert_eq!(due.len(), 2, "{name}");
        let gone = |delivery_id: i64| Attempted {
            delivery_id,
            attempts: 1,
            verdict: Verdict::SubscriptionGone {
                status: Some(410),
                subscription_id: "s1".to_owned(),
            },
            changes_through: None,
        };
        // Two deliverers saw the 410 for two deliveries: the subscription is forgotten once.
        let first = db
            .record_outcomes(Arc::new(vec![gone(due[0].id)]), NOW)
            .await
            .unwrap();
        let second = db
            .record_outcomes(Arc::new(vec![gone(due[1].id)]), NOW)
            .await
            .unwrap();
        assert_eq!((first.len(), second.len()), (1, 0), "{name}");
        let info = db.subscription("s1".into()).await.unwrap().unwrap();
        assert_eq!(info.user, "alice", "{name}");
        assert!(!info.active, "{name}");
        assert_eq!(db.pending_deliveries().await.unwrap(), 0, "{name}");
        let unclaimed = ["n1", "n2", "n3"]
            .into_iter()
            .find(|id| due.iter().all(|claimed| claimed.notification_id != *id))
            .unwrap();
        let queued = states(db, "alice", unclaimed).await;
        assert_eq!(
            queued[0].1,
            DeliveryState::Gone,
            "{name}: the one still queued"
        );
        let later = post(db, "alice", "n4", for_host("h", "4")).await;
        assert_eq!(later.fan_out.queued, 0, "{name}");
        assert_eq!(later.fan_out.gone, 1, "{name}");
    }
}

#[tokio::test]
async fn deliveries_are_shown_only_to_the_notifications_user_and_the_first_vapid_key_stays() {
    let (_dir, dbs) = both().await;
    for (name, db) in &dbs {
        subscribe(db, "alice", "s1", "h").await;
        post(db, "alice", "n1", for_host("h", "1")).await;
        assert!(db
            .deliveries("bob".into(), "n1".into(), NOW)
            .await
            .unwrap()
            .is_none());
        assert!(db
            .deliveries("alice".into(), "nope".into(), NOW)
            .await
            .unwrap()
            .is_none());
        let first = db
            .vapid_key_or_insert((vec![1; 32], vec![4; 65]), NOW)
            .await
            .unwrap();
        let second = db
            .vapid_key_or_insert((vec![2; 32], vec![4; 65]), NOW)
            .await
            .unwrap();
        assert_eq!(first.0, vec![1; 32], "{name}");
        assert_eq!(second, first, "{name}");
        db.ping().await.unwrap();
        assert!(db.schema_version().await.unwrap() >= 1, "{name}");
        assert!(db
            .delete_notification("alice".into(), "n1".into())
            .await
            .unwrap()
            .is_some());
        assert_eq!(db.queue_stats().await.unwrap().depth, 0, "{name}");
    }
}

#[tokio::test]
async fn two_postgres_processes_never_claim_the_same_delivery_and_a_dead_ones_lease_runs_out() {
    let (first, second) = postgres_pair().await;
    for index in 0..40 {
        subscribe(&first, "alice", &format!("s{index}"), "h").await;
    }
    post(&first, "alice", "n1", for_host("h", "x")).await;
    let (a, b) = tokio::join!(
        first.claim_due(NOW, 25, NOW + 1_000, ClaimShares::unshared()),
        second.claim_due(NOW, 25, NOW + 1_000, ClaimShares::unshared())
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 40);
    let mut ids: Vec<i64> = a.iter().chain(&b).map(|due| due.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40, "no delivery claimed twice");
    // The first process "dies" with its claims; the second records its own.
    let outcomes: Vec<Attempted> = b.iter().map(|due| sent(due.id)).collect();
    second
        .record_outcomes(Arc::new(outcomes), NOW)
        .await
        .unwrap();
    assert!(second
        .claim_due(NOW + 999, 40, NOW + 2_000, ClaimShares::unshared())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        second.next_due(ClaimShares::unshared()).await.unwrap(),
        Some(NOW + 1_000)
    );
    let taken_over = second
        .claim_due(NOW + 1_000, 40, NOW + 61_000, ClaimShares::unshared())
        .await
        .unwrap();
    assert_eq!(
        taken_over.len(),
        a.len(),
        "every claim of the dead one, once its lease ran out"
    );
}

#[tokio::test]
async fn two_postgres_processes_opening_an_empty_database_at_once_make_one_schema_and_one_key() {
    let url = common::postgres::fresh_database().await;
    let settings = DbSettings::default();
    let location = DbLocation::from(url.clone());
    let (a, b) = tokio::join!(
        Db::open(&location, &settings),
        Db::open(&location, &settings)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let (key_a, key_b) = tokio::join!(
        a.vapid_key_or_insert((vec![1; 32], vec![4; 65]), NOW),
        b.vapid_key_or_insert((vec![2; 32], vec![4; 65]), NOW)
    );
    assert_eq!(key_a.unwrap(), key_b.unwrap());
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM usernotify_schema")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(versions, 1);
}

#[tokio::test]
async fn deleting_a_subscription_deletes_its_deliveries_and_only_its_users_can_delete_it() {
    let (_dir, dbs) = both().await;
    for (name, db) in &dbs {
        subscribe(db, "alice", "s1", "h").await;
        subscribe(db, "alice", "s2", "h").await;
        post(db, "alice", "n1", for_host("h", "x")).await;
        assert!(
            !db.delete_subscription("bob".into(), "s1".into())
                .await
                .unwrap(),
            "{name}"
        );
        assert!(
            db.delete_subscription("alice".into(), "s1".into())
                .await
                .unwrap(),
            "{name}"
        );
        assert_eq!(
            states(db, "alice", "n1").await,
            vec![("s2".to_owned(), DeliveryState::Queued, None)],
            "{name}"
        );
        assert_eq!(db.pending_deliveries().await.unwrap(), 1, "{name}");
        assert!(
            db.subscription("s1".into()).await.unwrap().is_none(),
            "{name}"
        );
    }
}

/// `(seq, id, readState, deleted)` of each logged change of `user` after `after`.
async fn logged(
    db: &Db,
    user: &str,
    after: i64,
) -> (Vec<(i64, String, Option<&'static str>, bool)>, i64) {
    let (changes, head) = db.changes_since(user.into(), after, 100).await.unwrap();
    let rows = changes
        .iter()
        .map(|logged| {
            (
                logged.seq,
                logged.change.id.clone(),
                logged.change.state.map(|(read, _)| read.as_str()),
                logged.change.state.is_none(),
            )
        })
        .collect();
    (rows, head)
}

#[tokio::test]
async fn each_change_is_logged_once_under_the_users_next_seq_and_only_its_latest_state_is_kept() {
    let (_dir, dbs) = both().await;
    for (name, db) in &dbs {
        subscribe(db, "alice", "s1", "h").await;
        subscribe(db, "bob", "s9", "h").await;
        for id in ["n1", "n2", "n3"] {
            post(db, "alice", id, for_host("h", id)).await;
        }
        assert_eq!(
            logged(db, "alice", 0).await,
            (vec![], 0),
            "{name}: nothing changed yet"
        );
        let read = db
            .update_state("alice".into(), "n1".into(), Some("read"), None, NOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.item.read_state, "read", "{name}");
        assert_eq!(read.change.map(|change| change.seq), Some(1), "{name}");
        let again = db
            .update_state("alice".into(), "n1".into(), Some("read"), None, NOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            again.change, None,
            "{name}: the same state again is no change"
        );
        db.update_state("alice".into(), "n2".into(), None, Some("dismissed"), NOW)
            .await
            .unwrap();
        db.update_state("alice".into(), "n1".into(), Some("unread"), None, NOW)
            .await
            .unwrap();
        let deleted = db
            .delete_notification("alice".into(), "n3".into())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((deleted.seq, deleted.change.state), (4, None), "{name}");
        assert_eq!(
            logged(db, "alice", 0).await,
            (
                vec![
                    (2, "n2".to_owned(), Some("unread"), false),
                    (3, "n1".to_owned(), Some("unread"), false),
                    (4, "n3".to_owned(), None, true),
                ],
                4
            ),
            "{name}: n1's first change gave way to its latest"
        );
        assert_eq!(
            logged(db, "alice", 3).await.0,
            vec![(4, "n3".to_owned(), None, true)],
            "{name}: resumed after 3"
        );
        assert_eq!(
            logged(db, "bob", 0).await,
            (vec![], 0),
            "{name}: another user's log"
        );
        assert!(
            db.update_state("bob".into(), "n1".into(), Some("read"), None, NOW)
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
        // An update of a notification by its appNotificationId is news again: its earlier
        // change is no longer one to tell.
        let tagged = |content: &str| {
            notification(&format!(
                r#"{{"targetHostName":"h","appNotificationId":"a","payload":{{"rawContent":"{content}"}}}}"#
            ))
        };
        post(db, "alice", "t1", tagged("1")).await;
        db.update_state("alice".into(), "t1".into(), Some("read"), None, NOW)
            .await
            .unwrap();
        assert_eq!(logged(db, "alice", 4).await.0.len(), 1, "{name}");
        post(db, "alice", "t2", tagged("2")).await;
        assert_eq!(logged(db, "alice", 4).await, (vec![], 5), "{name}");
        // What expired goes with its changes.
        assert_eq!(
            db.purge_expired(NOW + 31 * 86_400_000).await.unwrap(),
            3,
            "{name}"
        );
        assert_eq!(
            logged(db, "alice", 0).await,
            (vec![], 5),
            "{name}: the seq goes on"
        );
    }
}

#[tokio::test]
async fn every_push_carries_the_changes_since_its_subscriptions_last_one_newest_first() {
    let (_dir, dbs) = both().await;
    for (name, db) in &dbs {
        subscribe(db, "alice", "s1", "h").await;
        post(db, "alice", "n1", for_host("h", "1")).await;
        post(db, "alice", "n2", for_host("h", "2")).await;
        let first = db
            .claim_due(NOW, 10, NOW + 60_000, ClaimShares::unshared())
            .await
            .unwrap();
        assert!(first.iter().all(|due| due.changes.is_empty()), "{name}");
        db.record_outcomes(
            Arc::new(first.iter().map(|due| sent(due.id)).collect()),
            NOW,
        )
        .await
        .unwrap();
        db.update_state("alice".into(), "n1".into(), Some("read"), None, NOW)
            .await
            .unwrap();
        db.delete_notification("alice".into(), "n2".into())
            .await
            .unwrap();
        // A browser that subscribes now hears only of later changes.
        subscribe(db, "alice", "s2", "h").await;
        post(db, "alice", "n3", for_host("h", "3")).await;
        let due = db
            .claim_due(NOW, 10, NOW + 60_000, ClaimShares::unshared())
            .await
            .unwrap();
        let carried = |subscription: &str| -> Vec<(i64, String)> {
            due.iter()
                .find(|due| due.subscription_id == subscription)
                .unwrap()
                .changes
                .iter()
                .map(|logged| (logged.seq, logged.change.id.clone()))
                .collect()
        };
        assert_eq!(
            carried("s1"),
            vec![(2, "n2".to_owned()), (1, "n1".to_owned())],
            "{name}"
        );
        assert!(carried("s2").is_empty(), "{name}");
        let s1 = due.iter().find(|due| due.subscription_id == "s1").unwrap();
        assert_eq!(s1.user.as_deref(), Some("alice"), "{name}");
        assert!(!s1.changes_only, "{name}");
        // Once sent, the next push carries only what changed after.
        let mut outcome = sent(s1.id);
        outcome.changes_through = Some(("s1".to_owned(), 2));
        db.record_outcomes(Arc::new(vec![outcome]), NOW)
            .await
            .unwrap();
        db.update_state("alice".into(), "n3".into(), Some("read"), None, NOW)
            .await
            .unwrap();
        post(db, "alice", "n4", for_host("h", "4")).await;
        let next = db
            .claim_due(NOW, 10, NOW + 60_000, ClaimShares::unshared())
            .await
            .unwrap();
        let s1 = next
            .iter()
            .find(|due| due.subscription_id == "s1" && due.notification_id == "n4")
            .unwrap();
        let ids: Vec<&str> = s1.changes.iter().map(|l| l.change.id.as_str()).collect();
        assert_eq!(ids, ["n3"], "{name}");
    }
}

#[tokio::test]
async fn a_post_the_users_preferences_withhold_is_stored_and_its_deliveries_say_why() {
    let (_dir, dbs) = both().await;
    for (name, db) in &dbs {
        subscribe(db, "alice", "s1", "app.example").await;
        subscribe(db, "alice", "s2", "other.example").await;
        let saved = db
            .save_notification(
                "alice".into(),
                "s1".into(),
                for_host("app.example", "x"),
                "n1".into(),
                Some("muted"),
                usize::MAX,
                NOW,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(saved.fan_out.skipped_by_preferences, 1, "{name}");
        assert_eq!(
            saved.fan_out.why_nothing_was_queued(),
            Some("none-matched"),
            "{name}"
        );
        assert_eq!(
            states(db, "alice", "n1").await,
            vec![
                (
                    "s1".to_owned(),
                    DeliveryState::Skipped,
                    Some("muted".to_owned())
                ),
                (
                    "s2".to_owned(),
                    DeliveryState::Skipped,
                    Some("target-host".to_owned())
                ),
            ],
            "{name}"
        );
        assert_eq!(
            db.feed("alice".into(), None, usize::MAX, NOW)
                .await
                .unwrap()
                .items
                .len(),
            1,
            "{name}"
        );
        assert_eq!(db.pending_deliveries().await.unwrap(), 0, "{name}");
    }
}

#[tokio::test]
async fn a_push_that_only_carries_changes_waits_once_per_subscription_and_reads_what_is_on_the_device(
) {
    let (_dir, dbs) = both().await;
    for (name, db) in &dbs {
        subscribe(db, "alice", "s1", "h").await;
        let grouped = |content: &str| {
            notification(&format!(
                r#"{{"targetHostName":"h","groupName":"chat","displayTimeToLive":60,"payload":{{"rawContent":"{content}"}}}}"#
            ))
        };
        post(db, "alice", "c1", grouped("1")).await;
        post(db, "alice", "c2", grouped("2")).await;
        post(db, "alice", "u1", for_host("h", "u")).await;
        let due = db
            .claim_due(NOW, 10, NOW + 60_000, ClaimShares::unshared())
            .await
            .unwrap();
        // c2 was sent; c1's push is still out.
        let c2 = due.iter().find(|due| due.notification_id == "c2").unwrap();
        db.record_outcomes(Arc::new(vec![sent(c2.id)]), NOW)
            .await
            .unwrap();
        let on = db
            .on_devices("alice".into(), Some("s1".into()), vec!["chat".into()])
            .await
            .unwrap();
        assert_eq!(on.len(), 1, "{name}: only what was sent is on the device");
        let (subscription, shown) = &on[0];
        assert_eq!(
            (
                subscription.as_str(),
                shown.id.as_str(),
                shown.group.as_str(),
                shown.counts
            ),
            ("s1", "c2", "chat", true),
            "{name}"
        );
        assert_eq!(shown.display_until, Some(NOW + 60_000), "{name}");
        db.update_state("alice".into(), "c2".into(), Some("read"), None, NOW)
            .await
            .unwrap();
        let on = db
            .on_devices("alice".into(), None, vec!["chat".into()])
            .await
            .unwrap();
        assert!(!on[0].1.counts, "{name}: read");
        assert_eq!(
            db.queue_change_pushes(vec!["s1".into()], NOW)
                .await
                .unwrap(),
            1,
            "{name}"
        );
        assert_eq!(
            db.queue_change_pushes(vec!["s1".into(), "nobody".into()], NOW)
                .await
                .unwrap(),
            0,
            "{name}: one waits already"
        );
        let due = db
            .claim_due(NOW, 10, NOW + 60_000, ClaimShares::unshared())
            .await
            .unwrap();
        let changes_only: Vec<_> = due.iter().filter(|due| due.changes_only).collect();
        assert_eq!(changes_only.len(), 1, "{name}");
        let push = changes_only[0];
        assert_eq!(push.subscription_id, "s1", "{name}");
        assert_eq!(push.resource, "", "{name}");
        let carried: Vec<(&str, Option<&str>)> = push
            .changes
            .iter()
            .map(|logged| (logged.change.id.as_str(), logged.group.as_deref()))
            .collect();
        assert_eq!(carried, [("c2", Some("chat"))], "{name}");
        assert!(
            db.deliveries("alice".into(), "c2".into(), NOW)
                .await
                .unwrap()
                .unwrap()
                .len()
                == 1,
            "{name}: the notification's deliveries do not list it"
        );
    }
}

#[tokio::test]
async fn preferences_are_stored_per_user_and_a_stale_version_is_refused() {
    let (_dir, dbs) = both().await;
    for (name, db) in &dbs {
        assert_eq!(
            db.preferences("alice".into()).await.unwrap(),
            None,
            "{name}"
        );
        assert!(db
            .put_preferences("alice".into(), "{\"a\":1}".into(), None, NOW)
            .await
            .unwrap());
        assert!(
            !db.put_preferences("alice".into(), "{\"a\":2}".into(), None, NOW)
                .await
                .unwrap(),
            "{name}: another request stored them first"
        );
        assert_eq!(
            db.preferences("alice".into()).await.unwrap(),
            Some(("{\"a\":1}".to_owned(), 1)),
            "{name}"
        );
        assert!(db
            .put_preferences("alice".into(), "{\"a\":3}".into(), Some(1), NOW)
            .await
            .unwrap());
        assert!(!db
            .put_preferences("alice".into(), "{\"a\":4}".into(), Some(1), NOW)
            .await
            .unwrap());
        assert_eq!(
            db.preferences("alice".into()).await.unwrap(),
            Some(("{\"a\":3}".to_owned(), 2)),
            "{name}"
        );
        assert_eq!(db.preferences("bob".into()).await.unwrap(), None, "{name}");
    }
}

#[tokio::test]
async fn a_change_logged_through_one_postgres_process_wakes_the_users_streams_in_another() {
    let (first, second) = postgres_pair().await;
    let hub = Arc::new(usernotify_service::changes::ChangeHub::default());
    subscribe(&first, "alice", "s1", "h").await;
    post(&first, "alice", "n1", for_host("h", "1")).await;
    let mut alice = hub.watch("alice", 8).unwrap();
    let mut bob = hub.watch("bob", 8).unwrap();
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    second.spawn_wakeups(
        Arc::new(tokio::sync::Notify::new()),
        Arc::clone(&hub),
        stopped,
    );
    // The listener wakes every stream once it is listening (for what it may have missed).
    tokio::time::timeout(std::time::Duration::from_secs(5), alice.changed())
        .await
        .unwrap()
        .unwrap();
    bob.borrow_and_update();
    first
        .update_state("alice".into(), "n1".into(), Some("read"), None, NOW)
        .await
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), alice.changed())
        .await
        .expect("alice's stream is woken through NOTIFY")
        .unwrap();
    assert!(!bob.has_changed().unwrap(), "bob's is not");
}
