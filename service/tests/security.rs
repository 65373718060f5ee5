//! Secrets stay secret: static tokens, JWTs and push endpoints never reach the log, in text
//! or JSON; the database that holds the VAPID private key is readable by its owner only; the
//! API answers other origins' pages only when they are configured; and a push endpoint
//! cannot redirect a push elsewhere.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use jwt_simple::prelude::*;
use reqwest::Method;

/// A push endpoint path that must never appear in a log line.
const SECRET_ENDPOINT: &str = "endpoint-secret-7f3a";

/// Runs the real binary at `RUST_LOG=debug` with `USERNOTIFY_LOG_FORMAT=format`, static
/// tokens and an identity provider, through a subscription, a post and its push, an unknown
/// token, a valid JWT and an expired one. Returns the log and the secrets that must not be
/// in it.
async fn logged_flow(format: &str) -> (String, Vec<String>) {
    let files = tempfile::tempdir().unwrap();
    let (db, log) = (
        files.path().join("service.db"),
        files.path().join("service.log"),
    );
    let key = oidc::es256_key("k1");
    let provider = oidc::Provider::start(vec![oidc::es256_jwk(&key)]).await;
    let receiver = PushReceiver::start().await;
    let browser = FakeBrowser::new(&receiver, SECRET_ENDPOINT);
    let service = Binary::start_with(
        &db,
        Some(&log),
        &[
            ("USERNOTIFY_LOG_FORMAT", format),
            ("USERNOTIFY_JWT_ISSUER", &provider.issuer),
            ("USERNOTIFY_JWT_AUDIENCE", oidc::AUDIENCE),
        ],
    )
    .await;
    let unsid = service.subscribe(&browser).await;
    assert_eq!(service.notify(&unsid, &notification("logged")).await, 201);
    let http = reqwest::Client::new();
    let jwt = key.sign(provider.claims("alice")).unwrap();
    let mut stale = provider.claims("alice");
    stale.expires_at = Some(Clock::now_since_epoch() - Duration::from_mins(10));
    let expired_jwt = key.sign(stale).unwrap();
    for (token, status) in [
        ("wrong-secret-token", 401),
        (jwt.as_str(), 200),
        (expired_jwt.as_str(), 401),
    ] {
        let answer = http
            .get(format!("{}/me/notifications", service.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status);
    }
    receiver.wait_for(1).await;
    // Let the worker write its delivery line before the process goes.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    service.kill_9();

    let text = std::fs::read_to_string(&log).unwrap();
    let subscription = browser.subscription_body(HOST);
    let keys = &subscription["pushSubscription"]["keys"];
    let mut secrets = vec![
        ALICE.to_owned(),
        "wrong-secret-token".to_owned(),
        SECRET_ENDPOINT.to_owned(),
        keys["p256dh"].as_str().unwrap().to_owned(),
        keys["auth"].as_str().unwrap().to_owned(),
    ];
    for token in [&jwt, &expired_jwt] {
        // The whole token, and its signature alone.
        secrets.push(token.clone());
        secrets.push(token.rsplit('.').next().unwrap().to_owned());
    }
    (text, secrets)
}

fn assert_no_secret(text: &str, secrets: &[String]) {
    assert!(
        text.contains("/me/notifications"),
        "requests are logged:\n{text}"
    );
    assert!(
        text.contains("push delivery"),
        "delivery outcomes are logged:\n{text}"
    );
    assert!(
        text.contains("bearer token refused"),
        "refused JWTs are logged:\n{text}"
    );
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "the log shows a secret ({secret}):\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_names_requests_and_deliveries_but_never_a_token_a_jwt_or_a_push_endpoint() {
    let (text, secrets) = logged_flow("text").await;
    assert_no_secret(&text, &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_log_is_one_object_a_line_and_never_shows_a_token_a_jwt_or_a_push_endpoint() {
    let (text, secrets) = logged_flow("json").await;
    assert_no_secret(&text, &secrets);
    let mut lines = 0;
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
        assert!(object["level"].is_string(), "{line}");
        assert!(object["timestamp"].is_string(), "{line}");
        lines += 1;
    }
    assert!(lines > 5, "{text}");
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
