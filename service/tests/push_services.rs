//! What the real push services refuse, each enforced by a loopback push service as the real
//! one does (the vendors' services cannot be reached from here): Firebase's TTL maximum,
//! Microsoft's throttling, RFC 8291's record size, and the 4,096-byte messages of the mobile
//! bridges behind Mozilla's endpoints. Sources for each rule: docs/service.md.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// Firebase Cloud Messaging: `TTL` from 0 to 2,419,200 seconds (28 days); more is 400.
fn fcm_ttl() -> Rule {
    Box::new(|headers, _| {
        let ttl: u64 = headers.get("ttl")?.to_str().ok()?.parse().ok()?;
        (ttl > 2_419_200).then_some((400, None))
    })
}

/// RFC 8291 §4: the record size must be greater than the record (plaintext, delimiter,
/// tag): a receiver that checks it refuses the message.
fn rfc8291_record_size() -> Rule {
    Box::new(|_, body| {
        let record_size = u32::from_be_bytes(body.get(16..20)?.try_into().ok()?) as usize;
        let key_id = *body.get(20)? as usize;
        let record = body.len().checked_sub(21 + key_id)?;
        (record_size <= record).then_some((400, None))
    })
}

async fn deliveries(service: &TestService, id: &str) -> Vec<Value> {
    let answer = service
        .get(&format!("/me/notifications/{id}/deliveries"), ALICE)
        .await;
    answer.body["value"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_notification_that_lives_30_days_is_pushed_with_a_ttl_firebase_accepts() {
    let (service, receiver, _browser, uns) = subscribed_with(|_| {}).await;
    receiver.enforce(fcm_ttl());
    // No expirationDateTime: it lives 30 days, two more than Firebase keeps a message.
    let mut body = notification("a month");
    body.as_object_mut().unwrap().remove("expirationDateTime");
    let posted = service.notify(ALICE, &uns, &body).await;
    assert_eq!(posted.status, 201);
    let pushes = receiver.wait_for(1).await;
    service.wait_for_empty_queue().await;
    assert_eq!(pushes[0].answered, 201, "Firebase accepted it");
    let ttl: u64 = pushes[0].header("ttl").unwrap().parse().unwrap();
    assert_eq!(ttl, 2_419_200, "the longest TTL Firebase takes");
    let id = posted.body["id"].as_str().unwrap();
    assert_eq!(deliveries(&service, id).await[0]["state"], "sent");
    service.shutdown().await;
}

#[tokio::test]
async fn microsofts_throttling_406_is_retried_after_its_retry_after() {
    let (service, receiver, _browser, uns) = subscribed_with(|_| {}).await;
    // WNS answers 406 Not Acceptable, with Retry-After, to a sender over its throttle.
    receiver.answer_next(&[(406, Some("1"))]);
    let posted = service
        .notify(ALICE, &uns, &notification("throttled"))
        .await;
    let started = Instant::now();
    let pushes = receiver.wait_for(2).await;
    service.wait_for_empty_queue().await;
    assert_eq!(
        (pushes[0].answered, pushes[1].answered),
        (406, 201),
        "retried, then delivered"
    );
    assert!(
        pushes[1].at.duration_since(pushes[0].at) >= Duration::from_millis(990),
        "no sooner than Retry-After: {:?}",
        started.elapsed()
    );
    let id = posted.body["id"].as_str().unwrap();
    let rows = deliveries(&service, id).await;
    assert_eq!(
        (&rows[0]["state"], &rows[0]["attempts"]),
        (&json!("sent"), &json!(2))
    );
    service.shutdown().await;
}

#[tokio::test]
async fn every_body_states_a_record_size_larger_than_its_record_as_rfc_8291_asks() {
    let (service, receiver, browser, uns) = subscribed_with(|_| {}).await;
    receiver.enforce(rfc8291_record_size());
    for size in [10, 1_000, 3_500] {
        let mut body = notification("sized");
        body["payload"]["visualContent"]["body"] = json!("x".repeat(size));
        assert_eq!(service.notify(ALICE, &uns, &body).await.status, 201);
    }
    let pushes = receiver.wait_for(3).await;
    service.wait_for_empty_queue().await;
    for push in &pushes {
        assert_eq!(push.answered, 201, "the record size is accepted");
        // And the browser reads it.
        let plain: Value = serde_json::from_slice(&browser.decrypt(&push.body)).unwrap();
        assert_eq!(plain["payload"]["visualContent"]["title"], "sized");
    }
    service.shutdown().await;
}

/// Mozilla's mobile bridge to FCM (autopush-rs `routers/fcm`): the bridged message, the
/// encrypted body in base64url beside the channel id and the content coding, must fit 4,096
/// bytes, or the endpoint answers 413.
fn mobile_bridge() -> Rule {
    Box::new(|_, body| {
        let bridged =
            r#"{"body":"","chid":"deadbeef-13f9-4639-87f9-2ff731824f34","con":"aes128gcm"}"#.len()
                + body.len().div_ceil(3) * 4;
        (bridged > 4_096).then_some((413, None))
    })
}

#[tokio::test]
async fn a_body_a_mobile_bridge_refuses_as_too_large_is_sent_once_more_as_the_smallest_that_shows_it(
) {
    let (service, receiver, browser, uns) = subscribed_with(|_| {}).await;
    receiver.enforce(mobile_bridge());
    // 3,500 bytes of text: the whole body, with the Declarative Web Push part beside the
    // notification, is near a whole Web Push message.
    let mut body = notification("Your order shipped");
    body["payload"]["visualContent"]["body"] =
        json!(format!("It arrives Thursday. {}", "x".repeat(3_500)));
    let posted = service.notify(ALICE, &uns, &body).await;
    assert_eq!(posted.status, 201);
    let pushes = receiver.wait_for(2).await;
    service.wait_for_empty_queue().await;
    assert_eq!((pushes[0].answered, pushes[1].answered), (413, 201));
    let shown: Value = serde_json::from_slice(&browser.decrypt(&pushes[1].body)).unwrap();
    assert_eq!(
        shown["payload"]["visualContent"]["title"],
        "Your order shipped"
    );
    let text = shown["payload"]["visualContent"]["body"].as_str().unwrap();
    assert!(
        text.starts_with("It arrives Thursday.") && text.ends_with('…'),
        "the text is cut short, and says so: {text}"
    );
    assert!(
        shown.get("web_push").is_none(),
        "without the declarative part"
    );
    let id = posted.body["id"].as_str().unwrap();
    let rows = deliveries(&service, id).await;
    assert_eq!(
        (
            &rows[0]["state"],
            &rows[0]["reason"],
            &rows[0]["lastStatus"]
        ),
        (&json!("sent"), &json!("trimmed-to-fit"), &json!(201)),
        "the state says it was sent smaller"
    );
    // A body the bridge refuses even when smallest is given up, once.
    receiver.enforce(Box::new(|_, _| Some((413, None))));
    let posted = service.notify(ALICE, &uns, &body).await;
    let id = posted.body["id"].as_str().unwrap();
    service.wait_for_empty_queue().await;
    assert_eq!(
        receiver.count(),
        4,
        "the whole body, then the smallest, then no more"
    );
    let rows = deliveries(&service, id).await;
    assert_eq!(
        (
            &rows[0]["state"],
            &rows[0]["reason"],
            &rows[0]["lastStatus"]
        ),
        (
            &json!("failed"),
            &json!("push-service-refused"),
            &json!(413)
        )
    );
    service.shutdown().await;
}
