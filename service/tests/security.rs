//! Secrets stay secret: tokens and push endpoints never reach the log, the database that
//! holds the VAPID private key is readable by its owner only, the API answers other
//! origins' pages only when they are configured, and a push endpoint cannot redirect a push
//! elsewhere.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use reqwest::Method;

/// A push endpoint path that must never appear in a log line.
const SECRET_ENDPOINT: &str = "endpoint-secret-7f3a";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_names_requests_and_deliveries_but_never_a_token_or_a_push_endpoint() {
    let files = tempfile::tempdir().unwrap();
    let (db, log) = (
        files.path().join("service.db"),
        files.path().join("service.log"),
    );
    let receiver = PushReceiver::start().await;
    let browser = FakeBrowser::new(&receiver, SECRET_ENDPOINT);
    let service = Binary::start_logging(&db, Some(&log)).await;
    let http = reqwest::Client::new();
    let subscribed = http
        .post(format!("{}/me/notificationSubscriptions", service.base))
        .bearer_auth(ALICE)
        .header("content-type", "application/json")
        .body(browser.subscription_body(HOST).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(subscribed.status(), 201);
    let created: serde_json::Value =
        serde_json::from_slice(&subscribed.bytes().await.unwrap()).unwrap();
    let unsid = created["id"].as_str().unwrap().to_owned();
    let posted = http
        .post(format!("{}/me/notifications", service.base))
        .bearer_auth(ALICE)
        .header("x-uns", &unsid)
        .header("content-type", "application/json")
        .body(notification("logged").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 201);
    let refused = http
        .get(format!("{}/me/notifications", service.base))
        .bearer_auth("wrong-secret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    receiver.wait_for(1).await;
    // Let the worker write its delivery line before the process goes.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    service.kill_9();

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("/me/notifications"),
        "requests are logged:\n{text}"
    );
    assert!(
        text.to_lowercase().contains("deliver"),
        "delivery outcomes are logged:\n{text}"
    );
    let subscription = browser.subscription_body(HOST);
    let keys = &subscription["pushSubscription"]["keys"];
    for secret in [
        ALICE,
        "wrong-secret-token",
        SECRET_ENDPOINT,
        keys["p256dh"].as_str().unwrap(),
        keys["auth"].as_str().unwrap(),
    ] {
        assert!(
            !text.contains(secret),
            "the log shows a secret ({secret}):\n{text}"
        );
    }
}

#[tokio::test]
async fn the_database_holding_the_vapid_private_key_is_readable_by_its_owner_only() {
    let service = TestService::start().await;
    // Something written, so SQLite's WAL and shared-memory files exist too.
    assert_eq!(service.get("/me/notifications", ALICE).await.status, 200);
    let db = service.db_path();
    let mut checked = 0;
    for path in [
        db.clone(),
        db.with_extension("db-wal"),
        db.with_extension("db-shm"),
    ] {
        if let Ok(metadata) = std::fs::metadata(&path) {
            let mode = metadata.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} is {mode:o}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 1, "the database file exists");
}

#[tokio::test]
async fn only_configured_origins_may_call_the_api_from_their_pages() {
    let allowed = "https://app.example";
    let service =
        TestService::start_with(|config| config.cors_origins = vec![allowed.to_owned()]).await;
    let preflight = |origin: &str| {
        service
            .request(Method::OPTIONS, "/me/notifications")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, x-uns",
            )
    };
    let answer = preflight(allowed).send().await.unwrap();
    assert_eq!(answer.headers()["access-control-allow-origin"], allowed);
    let answer = preflight("https://evil.example").send().await.unwrap();
    assert!(answer
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    let closed = TestService::start().await;
    let answer = closed
        .request(Method::GET, "/me/notifications")
        .header("origin", allowed)
        .bearer_auth(ALICE)
        .send()
        .await
        .unwrap();
    assert!(answer
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn a_push_endpoint_that_redirects_is_not_followed() {
    let (service, receiver, _browser, uns) = subscribed_with(|_| {}).await;
    // A redirect to another path of the same receiver: followed, it would be recorded there.
    let elsewhere: &'static str = Box::leak(receiver.endpoint("elsewhere").into_boxed_str());
    receiver.answer_next(&[(307, Some(elsewhere))]);
    let posted = service
        .notify(ALICE, &uns, &notification("not followed"))
        .await;
    assert_eq!(posted.status, 201);
    let received = receiver.wait_for(1).await;
    service.wait_for_empty_queue().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let paths: Vec<String> = receiver
        .received()
        .iter()
        .map(|push| push.path.clone())
        .collect();
    assert_eq!(paths, ["/push/a"], "the redirect was not followed");
    assert_eq!(received[0].answered, 307);
}
