//! Running the service: health and readiness, Prometheus metrics, the OpenAPI document held
//! to the router, the real binary stopped by SIGTERM and Ctrl-C (SIGINT), and refused
//! without a VAPID subject.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::*;
use reqwest::Method;
use serde_json::Value;

/// The value of the sample `series` (name and labels, as written) in a text exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.trim().parse().unwrap())
}

async fn metrics_text(service: &TestService) -> String {
    let response = service
        .request(Method::GET, "/metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    response.text().await.unwrap()
}

#[tokio::test]
async fn healthz_and_readyz_answer_200_without_a_token() {
    let service = TestService::start().await;
    let health = service.send(service.request(Method::GET, "/healthz")).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body["status"], "ok");
    let ready = service.send(service.request(Method::GET, "/readyz")).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["database"], "ok");
    assert_eq!(ready.body["vapidKey"], "loaded");
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_while_the_database_does_not_answer_and_200_again_after() {
    let (service, _receiver, uns) = with_subscription().await;
    // Another process takes SQLite's write lock and keeps it for four seconds; a post then
    // waits for it inside the store (busy_timeout), and the database answers nothing else.
    let (_, holder) = hold_write_lock(&service.db_path(), Duration::from_secs(4));
    let post = service
        .request(Method::POST, "/me/notifications")
        .bearer_auth(ALICE)
        .header("x-uns", &uns)
        .body(notification("waits").to_string());
    let waiting = tokio::spawn(async move { post.send().await.unwrap().status() });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let asked = Instant::now();
    let ready = service.send(service.request(Method::GET, "/readyz")).await;
    ready.assert_error(503, "not-ready");
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "answered in {:?}",
        asked.elapsed()
    );
    holder.join().unwrap();
    assert_eq!(waiting.await.unwrap(), 201, "the post went through after");
    let ready = service.send(service.request(Method::GET, "/readyz")).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    service.shutdown().await;
}

#[tokio::test]
async fn metrics_count_posts_by_status_deliveries_by_outcome_push_latency_and_subscriptions() {
    let (service, receiver, _browser, uns) = subscribed_with(|_| {}).await;
    let second = FakeBrowser::new(&receiver, "second");
    service.subscribe(ALICE, &second, HOST).await;
    // One of the two pushes is answered 410: that subscription is gone.
    receiver.answer_next(&[(410, None)]);
    assert_eq!(
        service
            .notify(ALICE, &uns, &notification("one"))
            .await
            .status,
        201
    );
    service
        .notify(ALICE, &uns, &serde_json::json!({ "payload": {} }))
        .await
        .assert_error(400, "invalid-payload");
    assert_eq!(
        service
            .notify("nobody", &uns, &notification("x"))
            .await
            .status,
        401
    );
    receiver.wait_for(2).await;
    service.wait_for_empty_queue().await;

    let text = metrics_text(&service).await;
    for (series, value) in [
        ("usernotify_notification_posts_total{status=\"201\"}", 1.0),
        ("usernotify_notification_posts_total{status=\"400\"}", 1.0),
        ("usernotify_notification_posts_total{status=\"401\"}", 1.0),
        ("usernotify_deliveries_total{outcome=\"delivered\"}", 1.0),
        (
            "usernotify_deliveries_total{outcome=\"subscription-gone\"}",
            1.0,
        ),
        ("usernotify_push_duration_seconds_count", 2.0),
        ("usernotify_subscriptions", 1.0),
        ("usernotify_delivery_queue_depth", 0.0),
        ("usernotify_delivery_queue_oldest_age_seconds", 0.0),
    ] {
        assert_eq!(sample(&text, series), Some(value), "{series} in:\n{text}");
    }
    assert!(text.contains("# TYPE usernotify_push_duration_seconds histogram"));
    let slowest = sample(&text, "usernotify_push_duration_seconds_sum").unwrap();
    assert!(slowest > 0.0 && slowest < 10.0, "{slowest}");
    service.shutdown().await;
}

#[tokio::test]
async fn metrics_show_the_queue_depth_and_the_age_of_its_oldest_delivery() {
    let (service, _receiver, uns) = with_subscription().await;
    for title in ["first", "second"] {
        assert_eq!(
            service
                .notify(ALICE, &uns, &notification(title))
                .await
                .status,
            201
        );
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let text = metrics_text(&service).await;
    assert_eq!(sample(&text, "usernotify_delivery_queue_depth"), Some(2.0));
    let age = sample(&text, "usernotify_delivery_queue_oldest_age_seconds").unwrap();
    assert!((1.0..30.0).contains(&age), "oldest queued {age} s ago");
    service.shutdown().await;
}

/// The methods of an OpenAPI path item, upper case.
fn documented_methods(item: &Value) -> BTreeSet<String> {
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    item.as_object()
        .unwrap()
        .keys()
        .filter(|key| METHODS.contains(&key.as_str()))
        .map(|key| key.to_uppercase())
        .collect()
}

#[tokio::test]
async fn openapi_json_describes_every_route_of_the_router_with_its_methods_and_nothing_else() {
    let service = TestService::start().await;
    let document = service
        .send(service.request(Method::GET, "/openapi.json"))
        .await;
    assert_eq!(document.status, 200);
    assert!(document.body["openapi"]
        .as_str()
        .unwrap()
        .starts_with("3.1"));
    let paths = document.body["paths"].as_object().unwrap();

    let routed: BTreeSet<&str> = usernotify_service::routes::route_table()
        .iter()
        .map(|(path, _)| *path)
        .collect();
    let documented: BTreeSet<&str> = paths.keys().map(String::as_str).collect();
    assert_eq!(documented, routed, "the document's paths are the router's");

    for (path, item) in paths {
        let methods = documented_methods(item);
        assert!(!methods.is_empty(), "{path} documents no operation");
        // Ask the router with a method the document does not list: it answers 405 and
        // lists, in Allow, the methods it does route (HEAD comes with GET).
        let probe = ["PUT", "TRACE", "OPTIONS"]
            .into_iter()
            .find(|method| !methods.contains(*method))
            .unwrap();
        let concrete = path.replace("{id}", "AAAAAAAAAAAAAAAAAAAAAA");
        let answer = service
            .request(Method::from_bytes(probe.as_bytes()).unwrap(), &concrete)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 405, "{probe} {path}");
        let allowed: BTreeSet<String> = answer.headers()["allow"]
            .to_str()
            .unwrap()
            .split(',')
            .map(|method| method.trim().to_uppercase())
            .filter(|method| method != "HEAD")
            .collect();
        assert_eq!(allowed, methods, "{path}: routed methods vs documented");
        for method in &methods {
            let operation = &item[method.to_lowercase()];
            assert!(
                operation["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty()),
                "{method} {path} documents its answers"
            );
        }
    }
    service.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// The real binary, stopped by a signal
// ---------------------------------------------------------------------------------------

fn signal(binary: &Binary, name: &str) {
    let status = Command::new("kill")
        .args(["-s", name, &binary.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for the process to exit by itself (20 s at most).
async fn exit_of(binary: &mut Binary) -> ExitStatus {
    let child = &mut binary.child;
    wait_until(Duration::from_secs(20), "the service exits", || {
        child.try_wait().unwrap().is_some()
    })
    .await;
    child.wait().unwrap()
}

/// Subscribes one browser through the binary and posts `count` notifications.
async fn post_through(binary: &Binary, browser: &FakeBrowser, count: usize) {
    let uns = binary.subscribe(browser).await;
    for index in 0..count {
        let body = notification(&format!("n{index}"));
        assert_eq!(binary.notify(&uns, &body).await, 201);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_accepting_lets_the_pushes_in_flight_finish_and_exits_cleanly() {
    let receiver = PushReceiver::start().await;
    receiver.set_delay(Duration::from_millis(1500));
    let browser = FakeBrowser::new(&receiver, "term");
    let files = tempfile::tempdir().unwrap();
    let (db, log) = (files.path().join("s.db"), files.path().join("s.log"));
    let mut binary = Binary::start_logging(&db, Some(&log)).await;
    post_through(&binary, &browser, 3).await;
    receiver.wait_for(3).await;

    let signalled = Instant::now();
    signal(&binary, "TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let address = binary.base.trim_start_matches("http://").to_owned();
    assert!(
        std::net::TcpStream::connect(&address).is_err(),
        "a new connection is refused while the pushes finish"
    );
    let status = exit_of(&mut binary).await;
    let took = signalled.elapsed();
    assert!(status.success(), "{status}");
    assert!(
        took >= Duration::from_millis(1000),
        "it waited for the pushes in flight ({took:?})"
    );
    assert_eq!(queued_in_file(&db), 0, "every push in flight was recorded");
    assert_eq!(receiver.count(), 3, "and none is sent twice");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("stopping"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_leaves_the_pushes_unanswered_after_the_grace_queued_for_the_next_start() {
    let receiver = PushReceiver::start().await;
    receiver.stall_next(&[Duration::from_secs(60); 3]);
    let browser = FakeBrowser::new(&receiver, "int");
    let files = tempfile::tempdir().unwrap();
    let db = files.path().join("s.db");
    let grace = [("USERNOTIFY_SHUTDOWN_GRACE_SECONDS", "1")];
    let mut binary = Binary::start_with(&db, None, &grace).await;
    post_through(&binary, &browser, 3).await;
    receiver.wait_for(3).await;

    let signalled = Instant::now();
    signal(&binary, "INT");
    let status = exit_of(&mut binary).await;
    assert!(status.success(), "{status}");
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "the grace bounds the stop ({:?})",
        signalled.elapsed()
    );
    assert_eq!(queued_in_file(&db), 3, "the hung pushes stay queued");

    // The next start sends them (the push service answers at once now).
    let _again = Binary::start_with(&db, None, &grace).await;
    receiver.wait_for(6).await;
    wait_until(
        Duration::from_secs(10),
        "the queue drains after the restart",
        || queued_in_file(&db) == 0,
    )
    .await;
}

/// Runs the binary with `settings` (and no VAPID subject unless they give one) until it
/// exits; returns its status and output.
fn run_until_exit(db: &Path, settings: &[(&str, &str)]) -> (ExitStatus, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_usernotify-service"))
        .env_remove("USERNOTIFY_VAPID_SUBJECT")
        .env("USERNOTIFY_DB", db)
        .env("USERNOTIFY_TOKENS", format!("{ALICE}:alice"))
        .env("PORT", "0")
        .envs(settings.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status, text)
}

#[test]
fn the_binary_refuses_to_start_without_a_valid_vapid_subject_and_names_the_setting() {
    let files = tempfile::tempdir().unwrap();
    let db = files.path().join("s.db");
    for settings in [
        &[][..],
        &[("USERNOTIFY_VAPID_SUBJECT", "ops@app.example")][..],
        &[("USERNOTIFY_VAPID_SUBJECT", "http://app.example")][..],
    ] {
        let (status, text) = run_until_exit(&db, settings);
        assert_eq!(status.code(), Some(2), "{settings:?}: {text}");
        assert!(
            text.contains("USERNOTIFY_VAPID_SUBJECT"),
            "{settings:?}: {text}"
        );
    }
    assert!(!db.exists(), "nothing was created");
}

#[tokio::test]
async fn an_embedded_service_without_a_vapid_subject_does_not_start() {
    let files = tempfile::tempdir().unwrap();
    let config = usernotify_service::Config::new(files.path().join("s.db"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = match usernotify_service::start(config, listener).await {
        Ok(_) => panic!("started without a VAPID subject"),
        Err(error) => error,
    };
    assert_eq!(error.code(), "missing-setting");
    assert!(error.to_string().contains("USERNOTIFY_VAPID_SUBJECT"));
}
