//! A push's cost does not depend on the user's feed (issue 28): claiming and recording the
//! pushes of a user who holds 20,000 notifications takes no longer, beyond noise, than those
//! of a user who holds none. Each claim reads the user's unread count (the badge) and the
//! changes since the device's last push; both are kept O(1) per push. On a SQLite file and
//! on a database of a real PostgreSQL.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use usernotify::core::{Json, Millis, Notification};
use usernotify_service::deliveries::ClaimShares;
use usernotify_service::deliveries::{Attempted, Verdict};
use usernotify_service::store::{Db, DbLocation, DbSettings};
use usernotify_service::subscriptions::NewSubscription;

const HOST: &str = "app.example";
const BROWSERS: usize = 100;
const POSTS: usize = 10;
/// What the hoarder holds besides: unread, unexpired.
const HOARD: i64 = 20_000;

fn now() -> Millis {
    usernotify_service::clock::now_millis()
}

fn notification(title: &str) -> Notification {
    let value = serde_json::json!({
        "targetHostName": HOST,
        "payload": { "visualContent": { "title": title, "body": "a sentence" } },
    });
    let json: Json = serde_json::from_value(value).unwrap();
    Notification::from_json(&json, now()).unwrap()
}

/// A database with one user and `BROWSERS` subscriptions; the first subscription's id.
async fn with_browsers(db: &Db, user: &str) -> String {
    for index in 0..BROWSERS {
        let subscription = NewSubscription {
            endpoint: format!("https://push.example/{user}/{index}"),
            p256dh: vec![4; 65],
            auth: vec![1; 16],
            target_host_name: HOST.to_owned(),
            display_name: None,
        };
        db.add_subscription(
            user.to_owned(),
            subscription,
            format!("{user}-{index}"),
            usize::MAX,
            now(),
        )
        .await
        .unwrap();
    }
    format!("{user}-0")
}

/// Posts `POSTS` notifications (`POSTS × BROWSERS` pushes queued), then claims and records
/// every push, 100 at a time as the deliverer would: how long the claims and records took.
async fn claim_and_record_a_round(db: &Db, user: &str, uns: &str, round: usize) -> Duration {
    for index in 0..POSTS {
        db.save_notification(
            user.to_owned(),
            uns.to_owned(),
            notification(&format!("round {round}, post {index}")),
            format!("{user}-r{round}-p{index}"),
            None,
            usize::MAX,
            now(),
        )
        .await
        .unwrap()
        .unwrap();
    }
    let started = Instant::now();
    let mut claimed = 0;
    loop {
        let at = now();
        let due = db
            .claim_due(at, 100, at + 60_000, ClaimShares::unshared())
            .await
            .unwrap();
        if due.is_empty() {
            break;
        }
        assert!(
            due.iter().all(|push| push.unread > 0),
            "each push carries the badge"
        );
        claimed += due.len();
        let outcomes: Vec<Attempted> = due
            .iter()
            .map(|push| Attempted {
                delivery_id: push.id,
                attempts: 1,
                verdict: Verdict::Sent { status: 201 },
                changes_through: None,
            })
            .collect();
        db.record_outcomes(Arc::new(outcomes), now()).await.unwrap();
    }
    assert_eq!(claimed, POSTS * BROWSERS);
    started.elapsed()
}

/// The fastest of three rounds.
async fn cost(db: &Db, user: &str, uns: &str) -> Duration {
    let mut best = Duration::MAX;
    for round in 0..3 {
        best = best.min(claim_and_record_a_round(db, user, uns, round).await);
    }
    best
}

fn assert_no_slower(backend: &str, fresh: Duration, hoarder: Duration) {
    eprintln!("{backend}: 1,000 pushes claimed and recorded: fresh user {fresh:?}, with {HOARD} notifications {hoarder:?}");
    // Counting the feed for every push made the hoarder's pushes about ten times slower.
    assert!(
        hoarder < fresh.mul_f64(1.5) + Duration::from_millis(50),
        "{backend}: pushes to a user with {HOARD} notifications took {hoarder:?}, a fresh user's {fresh:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_users_pushes_cost_the_same_with_20000_notifications_as_with_none_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let settings = DbSettings::default();
    let fresh_db = Db::open(&DbLocation::from(dir.path().join("fresh.db")), &settings)
        .await
        .unwrap();
    let hoard_path = dir.path().join("hoard.db");
    let hoard_db = Db::open(&DbLocation::from(hoard_path.clone()), &settings)
        .await
        .unwrap();
    let fresh_uns = with_browsers(&fresh_db, "fresh").await;
    let hoard_uns = with_browsers(&hoard_db, "hoarder").await;
    // The hoard, written straight into the file (the feed counts' triggers see it).
    let connection = rusqlite::Connection::open(&hoard_path).unwrap();
    connection
        .execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
             INSERT INTO notifications (id, user_id, resource, priority, expires_at,
                 created_at, updated_at, seq)
             SELECT 'hoard-' || i, 'hoarder', '{}', 'None', ?2, ?3, ?3, -i FROM n",
            rusqlite::params![HOARD, now() + 3_600_000, now()],
        )
        .unwrap();
    drop(connection);
    let fresh = cost(&fresh_db, "fresh", &fresh_uns).await;
    let hoarder = cost(&hoard_db, "hoarder", &hoard_uns).await;
    assert_no_slower("sqlite", fresh, hoarder);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_users_pushes_cost_the_same_with_20000_notifications_as_with_none_on_postgres() {
    let settings = DbSettings::default();
    let fresh_db = Db::open(
        &DbLocation::from(common::postgres::fresh_database().await),
        &settings,
    )
    .await
    .unwrap();
    let hoard_url = common::postgres::fresh_database().await;
    let hoard_db = Db::open(&DbLocation::from(hoard_url.clone()), &settings)
        .await
        .unwrap();
    let fresh_uns = with_browsers(&fresh_db, "fresh").await;
    let hoard_uns = with_browsers(&hoard_db, "hoarder").await;
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(&hoard_url).await.unwrap();
    sqlx::query(
        "INSERT INTO notifications (id, user_id, resource, priority, expires_at, created_at,
             updated_at, seq)
         SELECT 'hoard-' || i, 'hoarder', '{}', 'None', $2, $3, $3, -i
         FROM generate_series(1, $1) AS i",
    )
    .bind(HOARD)
    .bind(now() + 3_600_000)
    .bind(now())
    .execute(&mut connection)
    .await
    .unwrap();
    sqlx::query("ANALYZE")
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    let fresh = cost(&fresh_db, "fresh", &fresh_uns).await;
    let hoarder = cost(&hoard_db, "hoarder", &hoard_uns).await;
    assert_no_slower("postgres", fresh, hoarder);
}
