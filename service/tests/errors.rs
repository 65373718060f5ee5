//! Every row of the contract's error table, over real HTTP, with Graph's error body.

mod common;

use std::io::Write;

use common::*;
use flate2::write::{GzEncoder, ZlibEncoder};
use flate2::Compression;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn an_array_body_is_400_body_is_array() {
    let (service, _receiver, uns) = with_subscription().await;
    let answer = service
        .notify(ALICE, &uns, &json!([notification("a"), notification("b")]))
        .await;
    answer.assert_error(400, "body-is-array");
}

#[tokio::test]
async fn a_body_that_does_not_match_the_contract_or_is_not_json_is_400() {
    let (service, _receiver, uns) = with_subscription().await;
    let mut wrong_type = notification("a");
    wrong_type["priority"] = json!(3);
    let answer = service.notify(ALICE, &uns, &wrong_type).await;
    answer.assert_error(400, "contract-mismatch");
    assert_eq!(
        answer.body["error"]["message"], r#"priority must be "None", "High" or "Low" (any case)."#,
        "the message names the field and the values it accepts"
    );
    service
        .notify(ALICE, &uns, &json!("just a string"))
        .await
        .assert_error(400, "contract-mismatch");
    let malformed = service
        .send(
            service
                .request(Method::POST, "/me/notifications")
                .bearer_auth(ALICE)
                .header("x-uns", &uns)
                .body("{\"payload\": "),
        )
        .await;
    malformed.assert_error(400, "malformed-json");
}

#[tokio::test]
async fn an_invalid_payload_is_400_with_the_cores_code() {
    let (service, _receiver, uns) = with_subscription().await;
    let cases = [
        (
            json!({ "targetHostName": HOST, "payload": {} }),
            "invalid-payload",
        ),
        (
            json!({ "payload": { "visualContent": { "body": "no title" } } }),
            "missing-title",
        ),
        (
            json!({ "expirationDateTime": in_seconds(-60), "payload": { "rawContent": "x" } }),
            "expired",
        ),
        (
            json!({ "expirationDateTime": in_seconds(31 * 86_400), "payload": { "rawContent": "x" } }),
            "expires-too-late",
        ),
        (
            json!({ "payload": { "visualContent": { "title": "t", "icon": "http://cdn.example/i.png" } } }),
            "invalid-media-url",
        ),
        (
            json!({ "payload": { "visualContent": { "title": "t", "image": format!("/{}", "i".repeat(2048)) } } }),
            "media-url-too-long",
        ),
        (
            json!({ "payload": { "visualContent": { "title": "t", "actions": [
                { "action": "a", "title": "A" }, { "action": "b", "title": "B" }, { "action": "c", "title": "C" },
            ] } } }),
            "too-many-actions",
        ),
        (
            json!({ "payload": { "visualContent": { "title": "t", "actions": [{ "action": "a" }] } } }),
            "invalid-action",
        ),
        (
            json!({ "payload": { "visualContent": { "title": "t", "badge": 7 } } }),
            "contract-mismatch",
        ),
    ];
    for (body, code) in cases {
        service
            .notify(ALICE, &uns, &body)
            .await
            .assert_error(400, code);
    }
}

#[tokio::test]
async fn if_modified_since_or_if_range_is_400() {
    let (service, _receiver, uns) = with_subscription().await;
    for (name, value) in [
        ("if-modified-since", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ("if-range", "\"etag\""),
    ] {
        let answer = service
            .send(
                service
                    .request(Method::POST, "/me/notifications")
                    .bearer_auth(ALICE)
                    .header("x-uns", &uns)
                    .header(name, value)
                    .body(notification("a").to_string()),
            )
            .await;
        answer.assert_error(400, "unsupported-header");
    }
}

#[tokio::test]
async fn a_post_without_x_uns_is_400() {
    let (service, _receiver, _uns) = with_subscription().await;
    let answer = service
        .post_json("/me/notifications", ALICE, &notification("a"))
        .await;
    answer.assert_error(400, "missing-x-uns");
}

#[tokio::test]
async fn no_bearer_token_or_an_unknown_one_is_401() {
    let (service, _receiver, uns) = with_subscription().await;
    let anonymous = service
        .send(
            service
                .request(Method::POST, "/me/notifications")
                .header("x-uns", &uns)
                .body(notification("a").to_string()),
        )
        .await;
    anonymous.assert_error(401, "unauthorized");
    assert_eq!(anonymous.headers["www-authenticate"], "Bearer");
    service
        .notify("not-a-token", &uns, &notification("a"))
        .await
        .assert_error(401, "unauthorized");
    service
        .get("/me/notifications", "alice-token-but-longer")
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test]
async fn a_caller_on_the_block_list_is_403() {
    let (service, _receiver, uns) = with_subscription().await;
    service
        .notify(MALLORY, &uns, &notification("a"))
        .await
        .assert_error(403, "caller-blocked");
    service
        .get("/me/notifications", MALLORY)
        .await
        .assert_error(403, "caller-blocked");
}

#[tokio::test]
async fn a_caller_not_allowed_for_the_unsids_user_is_403() {
    let (service, _receiver, alices_uns) = with_subscription().await;
    service
        .notify(BOB, &alices_uns, &notification("a"))
        .await
        .assert_error(403, "caller-not-allowed");
    // An UNSID nobody has gets the same answer, so UNSIDs cannot be probed.
    service
        .notify(BOB, "AAAAAAAAAAAAAAAAAAAAAA", &notification("a"))
        .await
        .assert_error(403, "caller-not-allowed");
}

#[tokio::test]
async fn a_method_not_supported_on_the_path_is_405_with_a_graph_body() {
    let service = TestService::start().await;
    for (method, path) in [
        (Method::PUT, "/me/notifications"),
        (Method::GET, "/me/notificationSubscriptions"),
        (Method::POST, "/vapidPublicKey"),
        (Method::GET, "/me/notifications/AAAAAAAAAAAAAAAAAAAAAA"),
    ] {
        let answer = service
            .send(service.request(method.clone(), path).bearer_auth(ALICE))
            .await;
        answer.assert_error(405, "method-not-allowed");
        assert!(answer.headers.contains_key("allow"), "{method} {path}");
    }
}

#[tokio::test]
async fn a_content_encoding_other_than_gzip_or_deflate_is_415() {
    let (service, _receiver, uns) = with_subscription().await;
    for encoding in ["br", "compress", "gzip, zstd"] {
        let answer = service
            .send(
                service
                    .request(Method::POST, "/me/notifications")
                    .bearer_auth(ALICE)
                    .header("x-uns", &uns)
                    .header("content-encoding", encoding)
                    .body(notification("a").to_string()),
            )
            .await;
        answer.assert_error(415, "unsupported-content-encoding");
    }
}

#[tokio::test]
async fn gzip_and_deflate_bodies_are_decoded_and_accepted() {
    let (service, _receiver, uns) = with_subscription().await;
    let text = notification("compressed").to_string();
    let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
    gzip.write_all(text.as_bytes()).unwrap();
    let mut zlib = ZlibEncoder::new(Vec::new(), Compression::default());
    zlib.write_all(text.as_bytes()).unwrap();
    for (encoding, body) in [
        ("gzip", gzip.finish().unwrap()),
        ("deflate", zlib.finish().unwrap()),
    ] {
        let answer = service
            .send(
                service
                    .request(Method::POST, "/me/notifications")
                    .bearer_auth(ALICE)
                    .header("x-uns", &uns)
                    .header("content-encoding", encoding)
                    .body(body),
            )
            .await;
        assert_eq!(answer.status, 201, "{encoding}: {}", answer.body);
        assert_eq!(
            answer.body["payload"]["visualContent"]["title"],
            "compressed"
        );
    }
}

#[tokio::test]
async fn a_caller_over_its_rate_is_406_and_others_are_not_slowed() {
    let service = TestService::start_with(|config| config.rate_per_minute = 3).await;
    for _ in 0..3 {
        assert_eq!(service.get("/me/notifications", ALICE).await.status, 200);
    }
    let refused = service.get("/me/notifications", ALICE).await;
    refused.assert_error(406, "throttled");
    let wait: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&wait), "retry after {wait} s");
    assert_eq!(service.get("/me/notifications", BOB).await.status, 200);
}

#[tokio::test]
async fn a_notification_too_large_to_push_is_413() {
    let (service, _receiver, uns) = with_subscription().await;
    let mut big = notification("big");
    big["payload"]["rawContent"] = json!("x".repeat(4000));
    let answer = service.notify(ALICE, &uns, &big).await;
    answer.assert_error(413, "too-large-to-push");
    // Just under the limit is fine: the limit is on the stored resource's JSON.
    let fits = service.notify(ALICE, &uns, &notification("small")).await;
    assert_eq!(fits.status, 201);
}

#[tokio::test]
async fn a_body_over_64_kib_is_refused_before_and_after_decompression() {
    let (service, _receiver, uns) = with_subscription().await;
    let mut huge = notification("huge");
    huge["padding"] = json!("x".repeat(70 * 1024));
    service
        .notify(ALICE, &uns, &huge)
        .await
        .assert_error(413, "request-too-large");
    // 1 MiB of spaces gzips to about a kilobyte: refused once decoding passes 64 KiB.
    let mut bomb = GzEncoder::new(Vec::new(), Compression::best());
    bomb.write_all(&vec![b' '; 1024 * 1024]).unwrap();
    let bomb = bomb.finish().unwrap();
    assert!(bomb.len() < 4096);
    let answer = service
        .send(
            service
                .request(Method::POST, "/me/notifications")
                .bearer_auth(ALICE)
                .header("x-uns", &uns)
                .header("content-encoding", "gzip")
                .body(bomb),
        )
        .await;
    answer.assert_error(413, "request-too-large");
}

#[tokio::test]
async fn an_unknown_path_is_404_with_a_graph_body() {
    let service = TestService::start().await;
    service
        .get("/me/activities", ALICE)
        .await
        .assert_error(404, "not-found");
}

#[tokio::test]
async fn a_subscription_that_cannot_be_pushed_to_is_400() {
    let service = TestService::start_with(|config| config.allow_loopback_push = false).await;
    let receiver = PushReceiver::start().await;
    let browser = FakeBrowser::new(&receiver, "a");
    // Loopback http is refused unless the setting allows it.
    service
        .post_json(
            "/me/notificationSubscriptions",
            ALICE,
            &browser.subscription_body(HOST),
        )
        .await
        .assert_error(400, "invalid-subscription");
    let mut https = browser.subscription_body(HOST);
    https["pushSubscription"]["endpoint"] = json!("https://fcm.googleapis.com/fcm/send/abc");
    let ok = service
        .post_json("/me/notificationSubscriptions", ALICE, &https)
        .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    for (pointer, value) in [
        ("/pushSubscription/keys/p256dh", json!("AAAA")),
        ("/pushSubscription/keys/auth", json!("short")),
        ("/targetHostName", json!("")),
        ("/pushSubscription", json!("nope")),
    ] {
        let mut body = https.clone();
        *body.pointer_mut(pointer).unwrap() = value;
        service
            .post_json("/me/notificationSubscriptions", ALICE, &body)
            .await
            .assert_error(400, "invalid-subscription");
    }
    service
        .post_json("/me/notificationSubscriptions", ALICE, &json!([https]))
        .await
        .assert_error(400, "body-is-array");
}

#[tokio::test]
async fn an_id_that_does_not_percent_decode_is_graphs_404_not_a_plain_text_400() {
    let service = TestService::start().await;
    for method in [Method::DELETE, Method::PATCH, Method::GET] {
        for path in [
            "/me/notifications/%e",
            "/me/notificationSubscriptions/%ff%fe",
        ] {
            let request = service.request(method.clone(), path).bearer_auth(ALICE);
            let request = if method == Method::PATCH {
                request
                    .header("content-type", "application/json")
                    .body(r#"{"readState":"read"}"#)
            } else {
                request
            };
            let answer = service.send(request).await;
            if answer.status == 405 {
                answer.assert_error(405, "method-not-allowed");
            } else {
                answer.assert_error(404, "not-found");
            }
        }
    }
}
