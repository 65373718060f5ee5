//! Fan-out with real Web Push to a loopback push receiver: the receiver holds the fake
//! browser's private keys, checks the VAPID signature, decrypts the body independently and
//! checks TTL, Urgency and Topic. 410 removes a subscription, 503 is retried, and a restart
//! keeps subscriptions and queued deliveries.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn a_notification_is_pushed_encrypted_and_signed_to_every_matching_subscription() {
    let service = TestService::start().await;
    let receiver = PushReceiver::start().await;
    let phone = FakeBrowser::new(&receiver, "alice-phone");
    let laptop = FakeBrowser::new(&receiver, "alice-laptop");
    let other_app = FakeBrowser::new(&receiver, "alice-other-app");
    let bob = FakeBrowser::new(&receiver, "bob");
    let uns = service.subscribe(ALICE, &phone, HOST).await;
    service.subscribe(ALICE, &laptop, "APP.example").await;
    service.subscribe(ALICE, &other_app, "other.example").await;
    service.subscribe(BOB, &bob, HOST).await;

    let mut body = notification("Hello World!");
    body["appNotificationId"] = json!("testDirectToastNotification");
    body["priority"] = json!("High");
    body["targetPolicy"] = json!({ "platformTypes": ["windows", "WEBPUSH"] });
    let posted = service.notify(ALICE, &uns, &body).await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    let expected = posted.body.as_object().unwrap().clone();

    let pushes = receiver.wait_for(2).await;
    service.wait_for_empty_queue().await;
    let mut paths: Vec<&str> = pushes.iter().map(|push| push.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, vec!["/push/alice-laptop", "/push/alice-phone"]);
    assert_eq!(receiver.received().len(), 2, "nobody else got it");

    let service_key = service.vapid_public_key().await;
    for push in &pushes {
        verify_vapid(push, &service_key, &receiver.origin());
        assert_eq!(push.header("content-encoding"), Some("aes128gcm"));
        assert_eq!(push.header("urgency"), Some("high"));
        assert_eq!(push.header("topic"), Some("testDirectToastNotification"));
        let ttl: i64 = push.header("ttl").unwrap().parse().unwrap();
        assert!(
            (3590..=3600).contains(&ttl),
            "TTL {ttl} = seconds until expiry"
        );
        let browser = if push.path.ends_with("phone") {
            &phone
        } else {
            &laptop
        };
        let plain = browser.decrypt(&push.body);
        let pushed: Value = serde_json::from_slice(&plain).unwrap();
        let mut resource = expected.clone();
        resource.remove("@odata.context");
        assert_eq!(
            graph_part(&pushed),
            Value::Object(resource),
            "the stored resource, with id"
        );
        assert_eq!(pushed["id"], posted.body["id"]);
    }
}

/// A pushed body without its Declarative Web Push members: the Graph resource.
fn graph_part(pushed: &Value) -> Value {
    let mut graph = pushed.as_object().unwrap().clone();
    for name in ["web_push", "notification", "app_badge", "mutable"] {
        graph.remove(name);
    }
    Value::Object(graph)
}

#[tokio::test]
async fn a_push_carries_the_resource_and_a_declarative_web_push_message_with_the_users_unread_count(
) {
    let (service, receiver, browser, uns) = subscribed_with(|_| {}).await;
    let mut first = notification("Your order shipped");
    first["groupName"] = json!("orders");
    first["payload"]["visualContent"] = json!({
        "title": "Your order shipped",
        "body": "It arrives on Thursday.",
        "url": "/orders/7",
        "icon": "/icons/box.png",
        "image": "https://cdn.example/parcel.jpg",
        "badge": "/badge.png",
        "actions": [
            { "action": "track", "title": "Track", "url": "/orders/7/track" },
            { "action": "later", "title": "Later" },
        ],
    });
    let posted = service.notify(ALICE, &uns, &first).await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    let pushed: Value =
        serde_json::from_slice(&browser.decrypt(&receiver.wait_for(1).await[0].body)).unwrap();
    let mut resource = posted.body.as_object().unwrap().clone();
    resource.remove("@odata.context");
    let resource = Value::Object(resource);
    assert_eq!(
        graph_part(&pushed),
        resource,
        "the resource as stored, for the worker"
    );
    assert_eq!(
        resource["payload"]["visualContent"]["actions"][1],
        json!({ "action": "later", "title": "Later" }),
        "the buttons are stored as posted"
    );

    // What a browser with Declarative Web Push reads (W3C Push API's members).
    assert_eq!(pushed["web_push"], json!(8030));
    assert_eq!(pushed["mutable"], json!(true));
    assert_eq!(pushed["app_badge"], json!(1), "the user's unread count");
    let declared = &pushed["notification"];
    assert_eq!(declared["title"], "Your order shipped");
    assert_eq!(declared["body"], "It arrives on Thursday.");
    assert_eq!(declared["navigate"], "https://app.example/orders/7");
    assert_eq!(declared["tag"], "usernotify-group:orders");
    assert_eq!(declared["icon"], "https://app.example/icons/box.png");
    assert_eq!(declared["image"], "https://cdn.example/parcel.jpg");
    assert_eq!(declared["badge"], "https://app.example/badge.png");
    assert_eq!(
        declared["actions"],
        json!([
            { "action": "track", "title": "Track", "navigate": "https://app.example/orders/7/track" },
            { "action": "later", "title": "Later", "navigate": "https://app.example/orders/7" },
        ])
    );
    assert_eq!(declared["mutable"], json!(true));
    assert_eq!(
        declared["data"], resource,
        "the resource again, for a mutable push's worker"
    );

    // The count follows the user's feed at the service: two more, one of them read.
    let second = service.notify(ALICE, &uns, &notification("second")).await;
    let id = second.body["id"].as_str().unwrap().to_owned();
    receiver.wait_for(2).await;
    let read = service
        .patch(&id, ALICE, &json!({ "readState": "read" }))
        .await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(
        service
            .notify(ALICE, &uns, &notification("third"))
            .await
            .status,
        201
    );
    let third: Value =
        serde_json::from_slice(&browser.decrypt(&receiver.wait_for(3).await[2].body)).unwrap();
    assert_eq!(
        third["app_badge"],
        json!(2),
        "first and third are unread, second was read"
    );
}

#[tokio::test]
async fn with_declarative_web_push_turned_off_the_push_is_the_resource_alone() {
    let (service, receiver, browser, uns) =
        subscribed_with(|config| config.delivery.declarative_push = false).await;
    let posted = service.notify(ALICE, &uns, &notification("plain")).await;
    assert_eq!(posted.status, 201);
    let pushed: Value =
        serde_json::from_slice(&browser.decrypt(&receiver.wait_for(1).await[0].body)).unwrap();
    let mut resource = posted.body.as_object().unwrap().clone();
    resource.remove("@odata.context");
    assert_eq!(pushed, Value::Object(resource));
}

#[tokio::test]
async fn a_resource_too_large_for_both_parts_is_pushed_alone_and_shown_from_it() {
    let (service, receiver, browser, uns) = subscribed_with(|_| {}).await;
    // 2,500 bytes of body: the resource fits a push, twice it (the declarative part carries
    // it in `data`) does not.
    let mut big = notification("Large");
    big["payload"]["visualContent"]["body"] = json!("b".repeat(2500));
    let posted = service.notify(ALICE, &uns, &big).await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    let push = receiver.wait_for(1).await.remove(0);
    assert!(push.body.len() <= 4096, "one Web Push message");
    let pushed: Value = serde_json::from_slice(&browser.decrypt(&push.body)).unwrap();
    assert!(
        pushed.get("web_push").is_none(),
        "the declarative part went"
    );
    assert_eq!(
        pushed["payload"]["visualContent"]["title"], "Large",
        "the title stays"
    );
}

#[tokio::test]
async fn low_priority_is_low_urgency_and_a_long_app_id_gets_a_hashed_topic() {
    let (service, receiver, _browser, uns) = subscribed_with(|_| {}).await;
    let mut body = notification("quiet");
    body["priority"] = json!("low");
    body["appNotificationId"] = json!("order #42 shipped; an id far longer than a topic");
    assert_eq!(service.notify(ALICE, &uns, &body).await.status, 201);
    let push = receiver.wait_for(1).await.remove(0);
    assert_eq!(push.header("urgency"), Some("low"));
    let topic = push.header("topic").unwrap();
    assert_eq!(topic.len(), 32);
    assert!(topic
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'));

    let plain = notification("plain");
    assert_eq!(service.notify(ALICE, &uns, &plain).await.status, 201);
    let push = receiver.wait_for(2).await.remove(1);
    assert_eq!(push.header("urgency"), Some("normal"));
    assert_eq!(push.header("topic"), None, "no appNotificationId, no Topic");
}

#[tokio::test]
async fn a_notification_not_for_web_push_is_stored_but_not_pushed() {
    let service = TestService::start().await;
    let receiver = PushReceiver::start().await;
    let uns = service
        .subscribe(ALICE, &FakeBrowser::new(&receiver, "a"), HOST)
        .await;
    let mut body = notification("windows only");
    body["targetPolicy"] = json!({ "platformTypes": ["windows"] });
    assert_eq!(service.notify(ALICE, &uns, &body).await.status, 201);
    assert_eq!(service.pending_deliveries().await, 0);
    let feed = service.get("/me/notifications", ALICE).await;
    assert_eq!(feed.body["value"].as_array().unwrap().len(), 1);
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn a_410_from_the_push_service_removes_the_subscription() {
    let (service, receiver, _browser, uns) = subscribed_with(|_| {}).await;
    receiver.answer_next(&[(410, None)]);
    assert_eq!(
        service.notify(ALICE, &uns, &notification("a")).await.status,
        201
    );
    receiver.wait_for(1).await;
    let db = service.running().state().db().clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let info = db.subscription(uns.clone()).await.unwrap();
        if !info.unwrap().active {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still active");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The UNSID still names alice, but nothing is queued for the removed subscription.
    assert_eq!(
        service.notify(ALICE, &uns, &notification("b")).await.status,
        201
    );
    assert_eq!(service.pending_deliveries().await, 0);
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn a_503_is_retried_after_retry_after_and_then_delivered_once() {
    let (service, receiver, browser, uns) = subscribed_with(|_| {}).await;
    receiver.answer_next(&[(503, Some("1"))]);
    let posted = service.notify(ALICE, &uns, &notification("retry me")).await;
    assert_eq!(posted.status, 201);
    let pushes = receiver.wait_for(2).await;
    service.wait_for_empty_queue().await;
    let pushes_after = receiver.received();
    assert_eq!(
        pushes_after.len(),
        2,
        "one failure, one delivery, nothing more"
    );
    assert_eq!(pushes[0].answered, 503);
    assert_eq!(pushes[1].answered, 201);
    let gap = pushes[1].at - pushes[0].at;
    assert!(
        gap >= Duration::from_millis(900),
        "Retry-After: 1 honoured, waited {gap:?}"
    );
    let plain: Value = serde_json::from_slice(&browser.decrypt(&pushes[1].body)).unwrap();
    assert_eq!(plain["id"], posted.body["id"]);
}

#[tokio::test]
async fn a_restart_keeps_subscriptions_pending_deliveries_and_the_vapid_key() {
    let receiver = PushReceiver::start().await;
    let browser = FakeBrowser::new(&receiver, "a");
    // First run: no worker, so the delivery stays queued in SQLite.
    let mut service = TestService::start_with(|config| config.delivery.run_worker = false).await;
    let key_before = service.vapid_public_key().await;
    let uns = service.subscribe(ALICE, &browser, HOST).await;
    let posted = service.notify(ALICE, &uns, &notification("survives")).await;
    assert_eq!(posted.status, 201);
    assert_eq!(service.pending_deliveries().await, 1);

    service.restart(|_| {}).await;
    let push = receiver.wait_for(1).await.remove(0);
    let key_after = service.vapid_public_key().await;
    assert_eq!(
        key_after, key_before,
        "the VAPID key is stored, not regenerated"
    );
    verify_vapid(&push, &key_after, &receiver.origin());
    let plain: Value = serde_json::from_slice(&browser.decrypt(&push.body)).unwrap();
    assert_eq!(plain["id"], posted.body["id"]);
    service.wait_for_empty_queue().await;

    // The subscription survived too: its UNSID is accepted and pushed to.
    assert_eq!(
        service
            .notify(ALICE, &uns, &notification("after"))
            .await
            .status,
        201
    );
    receiver.wait_for(2).await;
    let feed = service.get("/me/notifications", ALICE).await;
    assert_eq!(feed.body["value"].as_array().unwrap().len(), 2);
    service.shutdown().await;
}

#[tokio::test]
async fn reposting_an_app_notification_id_whose_push_is_still_queued_pushes_the_newest_once() {
    let receiver = PushReceiver::start().await;
    let browser = FakeBrowser::new(&receiver, "a");
    // No worker at first, so the first push is still queued when the update arrives.
    let mut service = TestService::start_with(|config| config.delivery.run_worker = false).await;
    let uns = service.subscribe(ALICE, &browser, HOST).await;
    let mut first = notification("first version");
    first["appNotificationId"] = json!("order-42");
    assert_eq!(service.notify(ALICE, &uns, &first).await.status, 201);
    let mut second = notification("second version");
    second["appNotificationId"] = json!("order-42");
    let updated = service.notify(ALICE, &uns, &second).await;
    assert_eq!(updated.status, 201, "{}", updated.body);
    assert_eq!(service.pending_deliveries().await, 1);

    service.restart(|_| {}).await;
    let push = receiver.wait_for(1).await.remove(0);
    service.wait_for_empty_queue().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        receiver.received().len(),
        1,
        "one push for the one notification"
    );
    let plain: Value = serde_json::from_slice(&browser.decrypt(&push.body)).unwrap();
    assert_eq!(plain["id"], updated.body["id"]);
    assert_eq!(plain["payload"]["visualContent"]["title"], "second version");
    assert_eq!(push.header("topic"), Some("order-42"));
}
