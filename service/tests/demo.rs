//! `make demo`'s mode (`USERNOTIFY_DEMO_CURL=1`): when a browser subscribes, the real binary
//! prints a ready-to-paste `curl` that posts the Graph seed's example to that browser.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_demo_mode_a_subscription_prints_a_curl_that_delivers_the_seed_example_to_it() {
    let files = tempfile::tempdir().unwrap();
    let db = files.path().join("demo.db");
    let output = files.path().join("output.log");
    let service = Binary::start_with(&db, Some(&output), &[("USERNOTIFY_DEMO_CURL", "1")]).await;
    let receiver = PushReceiver::start().await;
    let browser = FakeBrowser::new(&receiver, "demo");
    let subscribed = reqwest::Client::new()
        .post(format!("{}/me/notificationSubscriptions", service.base))
        .bearer_auth(ALICE)
        .header("Content-Type", "application/json")
        .body(browser.subscription_body(HOST).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(subscribed.status(), 201);

    let deadline = Instant::now() + Duration::from_secs(10);
    let curl = loop {
        let printed = std::fs::read_to_string(&output).unwrap_or_default();
        if let Some(line) = printed
            .lines()
            .find(|line| line.trim_start().starts_with("curl "))
        {
            break line.trim().to_owned();
        }
        assert!(Instant::now() < deadline, "no curl printed: {printed}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Pasted into a shell, as the README says.
    let ran = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(&curl)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let answer = String::from_utf8_lossy(&ran.stdout);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let push = receiver.wait_for(1).await.remove(0);
    let plain: Value = serde_json::from_slice(&browser.decrypt(&push.body)).unwrap();
    assert_eq!(plain["payload"]["visualContent"]["title"], "Hello World!");
    assert_eq!(plain["appNotificationId"], "testDirectToastNotification");
}
