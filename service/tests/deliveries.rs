//! `GET /me/notifications/{id}/deliveries` over real HTTP, on SQLite and on PostgreSQL: what
//! became of a notification in each of the user's browsers (sent, retrying, failed, gone,
//! skipped and why), and the logs that say when a post reaches nobody or a push service
//! refuses the service's VAPID credentials.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// The Graph seed example (CONTRACT seeds), with its 2019 expiry moved an hour ahead.
fn graph_seed_example() -> Value {
    json!({
        "targetHostName": "graphnotifications.sample.windows.com",
        "appNotificationId": "testDirectToastNotification",
        "expirationDateTime": in_seconds(3600),
        "payload": {
            "visualContent": { "title": "Hello World!", "body": "Notifications are Great!" }
        },
        "targetPolicy": { "platformTypes": ["windows", "ios", "android"] },
        "priority": "High",
        "groupName": "TestGroup",
        "displayTimeToLive": "60"
    })
}

/// Polls the deliveries of `id` until none is `queued` (10 s at most).
async fn settled_deliveries(service: &TestService, id: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = service
            .get(&format!("/me/notifications/{id}/deliveries"), ALICE)
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let rows = answer.body["value"].as_array().unwrap().clone();
        if rows.iter().all(|row| row["state"] != "queued") {
            return rows;
        }
        assert!(Instant::now() < deadline, "still queued: {rows:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_graph_seed_example_to_a_web_only_user_is_accepted_and_its_deliveries_say_skipped_by_target_policy(
) {
    for service in TestService::on_both_backends().await {
        let receiver = PushReceiver::start().await;
        let laptop = FakeBrowser::new(&receiver, "laptop");
        let phone = FakeBrowser::new(&receiver, "phone");
        let uns = service
            .subscribe(ALICE, &laptop, "graphnotifications.sample.windows.com")
            .await;
        let phone_uns = service.subscribe(ALICE, &phone, HOST).await;
        let posted = service.notify(ALICE, &uns, &graph_seed_example()).await;
        assert_eq!(posted.status, 201, "{}", posted.body);
        let id = posted.body["id"].as_str().unwrap();
        let answer = service
            .get(&format!("/me/notifications/{id}/deliveries"), ALICE)
            .await;
        assert_eq!(answer.status, 200);
        let mut rows = answer.body["value"].as_array().unwrap().clone();
        rows.sort_by_key(|row| row["subscriptionId"] != uns);
        assert_eq!(rows.len(), 2, "{rows:?}");
        for (row, subscription) in rows.iter().zip([&uns, &phone_uns]) {
            assert_eq!(row["subscriptionId"], subscription.as_str());
            assert_eq!(row["state"], "skipped");
            assert_eq!(row["reason"], "target-policy");
            assert_eq!(row["attempts"], 0);
            assert_eq!(row["lastStatus"], Value::Null);
            assert!(row["updatedDateTime"].as_str().unwrap().ends_with('Z'));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(receiver.count(), 0, "nothing was pushed");
        service.shutdown().await;
    }
}

#[tokio::test]
async fn each_browser_shows_whether_its_push_was_sent_is_retrying_failed_went_gone_or_was_skipped_by_host(
) {
    for service in TestService::on_both_backends().await {
        let receiver = PushReceiver::start().await;
        let names = ["sent", "retrying", "refused", "gone"];
        let mut subscriptions = Vec::new();
        for name in names {
            let browser = FakeBrowser::new(&receiver, name);
            subscriptions.push(service.subscribe(ALICE, &browser, HOST).await);
        }
        let other_app = FakeBrowser::new(&receiver, "other-app");
        let other_uns = service.subscribe(ALICE, &other_app, "other.example").await;
        receiver.answer_next_for("retrying", &[(503, Some("600"))]);
        // Refused for good: the whole body, then the smallest one sent after a 413.
        receiver.answer_next_for("refused", &[(413, None), (413, None)]);
        receiver.answer_next_for("gone", &[(410, None)]);
        let posted = service
            .notify(ALICE, &subscriptions[0], &notification("states"))
            .await;
        assert_eq!(posted.status, 201);
        let id = posted.body["id"].as_str().unwrap();
        let rows = settled_deliveries(&service, id).await;
        let row = |subscription: &str| {
            rows.iter()
                .find(|row| row["subscriptionId"] == subscription)
                .unwrap()
                .clone()
        };
        let sent = row(&subscriptions[0]);
        assert_eq!(
            (&sent["state"], &sent["attempts"], &sent["lastStatus"]),
            (&json!("sent"), &json!(1), &json!(201))
        );
        assert_eq!(sent["nextAttemptDateTime"], Value::Null);
        let retrying = row(&subscriptions[1]);
        assert_eq!(
            (
                &retrying["state"],
                &retrying["attempts"],
                &retrying["lastStatus"]
            ),
            (&json!("retrying"), &json!(1), &json!(503))
        );
        let next = retrying["nextAttemptDateTime"].as_str().unwrap();
        let next_ms = usernotify::core::parse_iso8601(next).unwrap();
        let ahead = next_ms - now_millis();
        assert!(
            (590_000..=600_000).contains(&ahead),
            "next attempt after Retry-After: {next}"
        );
        let refused = row(&subscriptions[2]);
        assert_eq!(
            (
                &refused["state"],
                &refused["lastStatus"],
                &refused["reason"]
            ),
            (
                &json!("failed"),
                &json!(413),
                &json!("push-service-refused")
            )
        );
        let gone = row(&subscriptions[3]);
        assert_eq!(
            (&gone["state"], &gone["lastStatus"]),
            (&json!("gone"), &json!(410))
        );
        let skipped = row(&other_uns);
        assert_eq!(
            (&skipped["state"], &skipped["reason"], &skipped["attempts"]),
            (&json!("skipped"), &json!("target-host"), &json!(0))
        );
        // Another user's notification, and one that does not exist, are not found.
        service
            .get(&format!("/me/notifications/{id}/deliveries"), BOB)
            .await
            .assert_error(404, "not-found");
        service
            .get("/me/notifications/AAAAAAAAAAAAAAAAAAAAAA/deliveries", ALICE)
            .await
            .assert_error(404, "not-found");
        service.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_that_reaches_nobody_is_logged_at_warn_with_why_and_a_403_at_error_as_a_vapid_problem(
) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("service.log");
    let service = Binary::start_logging(dir.path().join("usernotify.db"), Some(&log)).await;
    let http = reqwest::Client::new();
    let receiver = PushReceiver::start().await;
    let browser = FakeBrowser::new(&receiver, "forbidden");
    let uns = subscribe_at(&http, &service.base, &browser).await;
    let post = |body: Value| {
        http.post(format!("{}/me/notifications", service.base))
            .bearer_auth(ALICE)
            .header("x-uns", &uns)
            .body(body.to_string())
            .send()
    };
    assert_eq!(post(graph_seed_example()).await.unwrap().status(), 201);
    receiver.answer_next(&[(403, None)]);
    let forbidden = post(notification("refused")).await.unwrap();
    assert_eq!(forbidden.status(), 201);
    let id = serde_json::from_slice::<Value>(&forbidden.bytes().await.unwrap()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_until(Duration::from_secs(10), "the refused push", || {
        receiver.count() >= 1
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap();
        if text.contains("ERROR") || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let warn = text
        .lines()
        .find(|line| line.contains("reaches no subscription"))
        .expect("a line for the post that reached nobody");
    assert!(warn.contains("WARN"), "{warn}");
    assert!(warn.contains("target-policy"), "{warn}");
    let error = text
        .lines()
        .find(|line| line.contains("refused the VAPID credentials"))
        .expect("a line for the 403");
    assert!(error.contains("ERROR"), "{error}");
    assert!(error.contains("USERNOTIFY_VAPID_SUBJECT"), "{error}");
    let rows = http
        .get(format!("{}/me/notifications/{id}/deliveries", service.base))
        .bearer_auth(ALICE)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let rows: Value = serde_json::from_slice(&rows).unwrap();
    assert_eq!(rows["value"][0]["state"], "failed");
    assert_eq!(rows["value"][0]["reason"], "vapid-refused");
    assert_eq!(rows["value"][0]["lastStatus"], 403);
}
