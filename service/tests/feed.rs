//! The notification resource and the feed: 201 body and Location, GET, PATCH, DELETE, users
//! kept apart, updates by appNotificationId.

mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn a_created_notification_answers_201_with_the_stored_resource_id_context_and_location() {
    let (service, _receiver, uns) = with_subscription().await;
    // The Graph seed example, with its 2019 expiry moved an hour ahead.
    let seed = json!({
        "targetHostName": HOST,
        "appNotificationId": "testDirectToastNotification",
        "expirationDateTime": in_seconds(3600),
        "payload": { "visualContent": { "title": "Hello World!", "body": "Notifications are Great!" } },
        "targetPolicy": { "platformTypes": ["windows", "ios", "android"] },
        "priority": "High",
        "groupName": "TestGroup",
        "displayTimeToLive": "60",
        "unknownField": true,
    });
    let answer = service.notify(ALICE, &uns, &seed).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let body = &answer.body;
    let id = body["id"].as_str().unwrap();
    assert_eq!(id.len(), 22, "128 random bits in base64url");
    assert_eq!(
        answer.headers["location"].to_str().unwrap(),
        format!("{}/me/notifications/{id}", service.base)
    );
    assert_eq!(
        body["@odata.context"],
        format!(
            "{}/$metadata#users('alice')/notifications/$entity",
            service.base
        )
    );
    assert_eq!(body["displayTimeToLive"], 60);
    assert_eq!(body["priority"], "High");
    assert_eq!(body["groupName"], "TestGroup");
    assert_eq!(body["appNotificationId"], "testDirectToastNotification");
    assert_eq!(body["payload"]["visualContent"]["title"], "Hello World!");
    assert_eq!(
        body["targetPolicy"]["platformTypes"],
        json!(["windows", "ios", "android"])
    );
    assert!(body.get("unknownField").is_none());
    // The seed targets no web platform: stored in the feed, not pushed.
    assert_eq!(service.pending_deliveries().await, 0);
}

fn ids(feed: &Value) -> Vec<String> {
    feed["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_feed_lists_unexpired_notifications_newest_first_with_their_state() {
    let (service, _receiver, uns) = with_subscription().await;
    let first = service.notify(ALICE, &uns, &notification("first")).await;
    let mut short = notification("short-lived");
    short["expirationDateTime"] = json!(in_seconds(2));
    let short = service.notify(ALICE, &uns, &short).await;
    let second = service.notify(ALICE, &uns, &notification("second")).await;
    let feed = service.get("/me/notifications", ALICE).await;
    assert_eq!(feed.status, 200);
    let [first, short, second] =
        [first, short, second].map(|a| a.body["id"].as_str().unwrap().to_owned());
    assert_eq!(
        ids(&feed.body),
        vec![second.clone(), short.clone(), first.clone()]
    );
    let newest = &feed.body["value"][0];
    assert_eq!(newest["readState"], "unread");
    assert_eq!(newest["userActionState"], "none");
    assert!(newest["creationDateTime"].is_string());
    // Once the short-lived one expires it leaves the feed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(8);
    loop {
        let feed = service.get("/me/notifications", ALICE).await;
        if ids(&feed.body) == vec![second.clone(), first.clone()] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", feed.body);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn patch_sets_read_and_user_action_state_and_refuses_anything_else() {
    let (service, _receiver, uns) = with_subscription().await;
    let created = service.notify(ALICE, &uns, &notification("a")).await;
    let id = created.body["id"].as_str().unwrap();
    let read = service
        .patch(id, ALICE, &json!({ "readState": "read" }))
        .await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["id"], id);
    assert_eq!(read.body["readState"], "read");
    assert_eq!(read.body["userActionState"], "none");
    assert_eq!(read.body["payload"]["visualContent"]["title"], "a");
    let dismissed = service
        .patch(id, ALICE, &json!({ "userActionState": "dismissed" }))
        .await;
    assert_eq!(dismissed.body["readState"], "read");
    assert_eq!(dismissed.body["userActionState"], "dismissed");
    for bad in [
        json!({ "readState": "seen" }),
        json!({ "readState": true }),
        json!({ "userActionState": "Dismissed" }),
        json!({ "userActionState": "clicked" }),
    ] {
        service
            .patch(id, ALICE, &bad)
            .await
            .assert_error(400, "invalid-state");
    }
    service
        .patch(id, ALICE, &json!([]))
        .await
        .assert_error(400, "body-is-array");
    service
        .patch(
            "AAAAAAAAAAAAAAAAAAAAAA",
            ALICE,
            &json!({ "readState": "read" }),
        )
        .await
        .assert_error(404, "not-found");
    let feed = service.get("/me/notifications", ALICE).await;
    assert_eq!(feed.body["value"][0]["userActionState"], "dismissed");
}

#[tokio::test]
async fn delete_removes_a_notification_and_a_second_delete_is_404() {
    let (service, _receiver, uns) = with_subscription().await;
    let created = service.notify(ALICE, &uns, &notification("a")).await;
    let path = format!("/me/notifications/{}", created.body["id"].as_str().unwrap());
    let deleted = service.delete(&path, ALICE).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(deleted.body, Value::Null);
    service
        .delete(&path, ALICE)
        .await
        .assert_error(404, "not-found");
    assert!(ids(&service.get("/me/notifications", ALICE).await.body).is_empty());
}

#[tokio::test]
async fn users_cannot_see_change_or_delete_each_others_notifications() {
    let (service, receiver, alices_uns) = with_subscription().await;
    let bobs_uns = service
        .subscribe(BOB, &FakeBrowser::new(&receiver, "b"), HOST)
        .await;
    let alices = service
        .notify(ALICE, &alices_uns, &notification("for alice"))
        .await;
    let bobs = service
        .notify(BOB, &bobs_uns, &notification("for bob"))
        .await;
    let alices_id = alices.body["id"].as_str().unwrap();
    let bobs_id = bobs.body["id"].as_str().unwrap();
    assert_eq!(
        ids(&service.get("/me/notifications", ALICE).await.body),
        vec![alices_id]
    );
    assert_eq!(
        ids(&service.get("/me/notifications", BOB).await.body),
        vec![bobs_id]
    );
    service
        .patch(alices_id, BOB, &json!({ "readState": "read" }))
        .await
        .assert_error(404, "not-found");
    service
        .delete(&format!("/me/notifications/{alices_id}"), BOB)
        .await
        .assert_error(404, "not-found");
    service
        .delete(&format!("/me/notificationSubscriptions/{alices_uns}"), BOB)
        .await
        .assert_error(404, "not-found");
    let still = service.get("/me/notifications", ALICE).await;
    assert_eq!(still.body["value"][0]["readState"], "unread");
}

#[tokio::test]
async fn a_second_post_with_the_same_app_notification_id_updates_the_same_notification() {
    let (service, _receiver, uns) = with_subscription().await;
    let mut first = notification("v1");
    first["appNotificationId"] = json!("order-42");
    let created = service.notify(ALICE, &uns, &first).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    service
        .patch(&id, ALICE, &json!({ "readState": "read" }))
        .await;
    let other = service.notify(ALICE, &uns, &notification("other")).await;
    let mut second = notification("v2");
    second["appNotificationId"] = json!("order-42");
    let updated = service.notify(ALICE, &uns, &second).await;
    assert_eq!(updated.status, 201);
    assert_eq!(updated.body["id"], id.as_str());
    let feed = service.get("/me/notifications", ALICE).await;
    assert_eq!(
        ids(&feed.body),
        vec![id.clone(), other.body["id"].as_str().unwrap().to_owned()]
    );
    let entry = &feed.body["value"][0];
    assert_eq!(entry["payload"]["visualContent"]["title"], "v2");
    assert_eq!(entry["readState"], "unread", "new content is unread again");
}

#[tokio::test]
async fn a_deleted_subscription_is_gone_and_its_unsid_no_longer_accepted() {
    let (service, _receiver, uns) = with_subscription().await;
    let path = format!("/me/notificationSubscriptions/{uns}");
    assert_eq!(service.delete(&path, ALICE).await.status, 204);
    service
        .delete(&path, ALICE)
        .await
        .assert_error(404, "not-found");
    service
        .notify(ALICE, &uns, &notification("a"))
        .await
        .assert_error(403, "caller-not-allowed");
}

#[tokio::test]
async fn a_subscription_answers_201_with_its_unsid_and_re_subscribing_keeps_it() {
    let service = TestService::start_with(|config| config.delivery.run_worker = false).await;
    let receiver = PushReceiver::start().await;
    let browser = FakeBrowser::new(&receiver, "a");
    let answer = service
        .post_json(
            "/me/notificationSubscriptions",
            ALICE,
            &browser.subscription_body(HOST),
        )
        .await;
    assert_eq!(answer.status, 201);
    let id = answer.body["id"].as_str().unwrap();
    assert_eq!(id.len(), 22);
    assert_eq!(answer.body["targetHostName"], HOST);
    assert_eq!(answer.body["displayName"], "Test browser");
    assert!(answer.body.get("keys").is_none());
    assert_eq!(
        answer.headers["location"].to_str().unwrap(),
        format!("{}/me/notificationSubscriptions/{id}", service.base)
    );
    assert_eq!(service.subscribe(ALICE, &browser, HOST).await, id);
    assert_ne!(service.subscribe(BOB, &browser, HOST).await, id);
}

#[tokio::test]
async fn the_vapid_public_key_is_an_uncompressed_p256_point_in_base64url() {
    use base64::Engine as _;
    let service = TestService::start().await;
    let key = service.vapid_public_key().await;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&key)
        .unwrap();
    assert_eq!(bytes.len(), 65);
    assert_eq!(bytes[0], 4);
    assert!(p256::PublicKey::from_sec1_bytes(&bytes).is_ok());
}
