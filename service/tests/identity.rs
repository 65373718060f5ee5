//! Identity from the deployment's OpenID Connect provider: bearer JWTs verified against the
//! JWKS of a real provider on loopback (discovery, rotation, refetch limit), with keys the
//! tests generate; every forged or stale token answered 401 `invalid_token`.

mod common;

use std::time::Duration as StdDuration;

use common::oidc::*;
use common::*;
use jwt_simple::prelude::*;
use reqwest::Method;
use serde_json::{json, Value};

/// What a client sees for a token the service refuses.
fn assert_invalid_token(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 401, "{what}: {}", answer.body);
    assert_eq!(answer.body["error"]["code"], "unauthorized", "{what}");
    assert!(answer.body["error"]["message"].is_string(), "{what}");
    assert_eq!(
        answer.headers["www-authenticate"], "Bearer error=\"invalid_token\"",
        "{what}"
    );
}

#[tokio::test]
async fn a_jwt_from_the_provider_registers_a_subscription_posts_and_reads_the_feed() {
    let rsa = rs256_key();
    let ec = es256_key("ec-1");
    let provider = Provider::start(vec![rs256_jwk(rsa), es256_jwk(&ec)]).await;
    let service = TestService::start_with(|config| config.oidc = Some(provider.settings())).await;
    let receiver = PushReceiver::start().await;
    let browser = FakeBrowser::new(&receiver, "jwt");
    // What the page API's subscribe({accessToken}) sends, with an RS256 token.
    let rs256 = rsa.sign(provider.claims("user-42")).unwrap();
    let subscribed = service
        .post_json(
            "/me/notificationSubscriptions",
            &rs256,
            &browser.subscription_body(HOST),
        )
        .await;
    assert_eq!(subscribed.status, 201, "{}", subscribed.body);
    let uns = subscribed.body["id"].as_str().unwrap().to_owned();
    // The app service posts with an ES256 token for the same user.
    let es256 = ec.sign(provider.claims("user-42")).unwrap();
    let posted = service
        .notify(&es256, &uns, &notification("from a JWT"))
        .await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    let push = &receiver.wait_for(1).await[0];
    let body: Value = serde_json::from_slice(&browser.decrypt(&push.body)).unwrap();
    assert_eq!(body["payload"]["visualContent"]["title"], "from a JWT");
    let feed = service.get("/me/notifications", &rs256).await;
    assert_eq!(feed.status, 200);
    assert_eq!(feed.body["value"][0]["id"], posted.body["id"]);
    // The token named the user: another user's static token may not post to that UNSID.
    service
        .notify(ALICE, &uns, &notification("not alice's"))
        .await
        .assert_error(403, "caller-not-allowed");
    assert_eq!(provider.discovery_fetches(), 1);
    assert_eq!(provider.jwks_fetches(), 1, "the keys were fetched once");
    service.shutdown().await;
}

#[tokio::test]
async fn tokens_the_provider_did_not_issue_or_that_are_stale_are_refused_with_invalid_token() {
    let rsa = rs256_key();
    let ec = es256_key("ec-1");
    let provider = Provider::start(vec![rs256_jwk(rsa), es256_jwk(&ec)]).await;
    let service = TestService::start_with(|config| config.oidc = Some(provider.settings())).await;
    // The keys are known before the forgeries arrive (so none of them is refused for want
    // of keys), and a valid token passes.
    let valid = ec.sign(provider.claims("user-1")).unwrap();
    assert_eq!(service.get("/me/notifications", &valid).await.status, 200);

    let now = Clock::now_since_epoch();
    let claims_json = json!({
        "iss": provider.issuer, "aud": AUDIENCE, "sub": "user-1",
        "iat": now.as_secs(), "exp": now.as_secs() + 300,
    });
    let public_pem = rsa.public_key().to_pem().unwrap();
    let mut expired = provider.claims("user-1");
    expired.issued_at = Some(now - Duration::from_mins(30));
    expired.invalid_before = expired.issued_at;
    expired.expires_at = Some(now - Duration::from_mins(5));
    let mut not_yet = provider.claims("user-1");
    not_yet.issued_at = None;
    not_yet.invalid_before = Some(now + Duration::from_mins(10));
    let mut no_expiry = provider.claims("user-1");
    no_expiry.expires_at = None;
    let mut no_subject = provider.claims("user-1");
    no_subject.subject = None;
    let stranger = es256_key("ec-1"); // the provider's kid, another key
    let rogue = es256_key("rogue"); // a kid the provider never lists
    let forged: Vec<(&str, &str, String)> = vec![
        (
            "alg none",
            "RS256 or ES256",
            unsigned_token(
                &json!({"alg": "none", "typ": "JWT", "kid": "rsa-1"}),
                &claims_json,
            ),
        ),
        (
            "HS256 signed with the RSA public key",
            "RS256 or ES256",
            HS256Key::from_bytes(public_pem.as_bytes())
                .with_key_id("rsa-1")
                .authenticate(provider.claims("user-1"))
                .unwrap(),
        ),
        ("expired", "has expired", rsa.sign(expired).unwrap()),
        ("not valid yet", "not valid yet", ec.sign(not_yet).unwrap()),
        ("no expiry", "no expiry", ec.sign(no_expiry).unwrap()),
        (
            "no subject",
            "does not name a user",
            ec.sign(no_subject).unwrap(),
        ),
        (
            "wrong issuer",
            "another issuer",
            ec.sign(
                provider
                    .claims("user-1")
                    .with_issuer("https://evil.example/"),
            )
            .unwrap(),
        ),
        (
            "wrong audience",
            "another audience",
            ec.sign(provider.claims("user-1").with_audience("another-api"))
                .unwrap(),
        ),
        (
            "signed by another key under the provider's kid",
            "signature does not verify",
            stranger.sign(provider.claims("user-1")).unwrap(),
        ),
        (
            "unknown kid",
            "a key the issuer does not list",
            rogue.sign(provider.claims("user-1")).unwrap(),
        ),
        (
            "not a JWT",
            "not a valid token",
            "definitely-not-a-jwt".to_owned(),
        ),
        (
            "three junk segments",
            "not a valid token",
            "a.b.c".to_owned(),
        ),
        (
            "a payload that is not JSON",
            "signature does not verify",
            format!(
                "{}.{}.{}",
                valid.split('.').next().unwrap(),
                "bm90IGpzb24",
                valid.rsplit('.').next().unwrap()
            ),
        ),
    ];
    for (what, says, token) in &forged {
        let answer = service.get("/me/notifications", token).await;
        assert_invalid_token(&answer, what);
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{what}: {message}");
        let answer = service
            .post_json(
                "/me/notificationSubscriptions",
                token,
                &json!({"pushSubscription": {}}),
            )
            .await;
        assert_invalid_token(&answer, what);
    }
    // No token at all is asked for one, without an error code (RFC 6750 §3.1).
    let answer = service
        .send(service.request(Method::GET, "/me/notifications"))
        .await;
    answer.assert_error(401, "unauthorized");
    assert_eq!(answer.headers["www-authenticate"], "Bearer");
    service.shutdown().await;
}

#[tokio::test]
async fn a_token_expired_within_the_leeway_is_still_accepted() {
    let ec = es256_key("ec-1");
    let provider = Provider::start(vec![es256_jwk(&ec)]).await;
    let service = TestService::start_with(|config| config.oidc = Some(provider.settings())).await;
    let now = Clock::now_since_epoch();
    let mut claims = provider.claims("user-1");
    claims.issued_at = Some(now - Duration::from_mins(10));
    claims.invalid_before = claims.issued_at;
    claims.expires_at = Some(now - Duration::from_secs(20));
    let token = ec.sign(claims).unwrap();
    assert_eq!(service.get("/me/notifications", &token).await.status, 200);
    service.shutdown().await;
}

#[tokio::test]
async fn a_rotated_key_is_accepted_after_one_refetch_and_refetches_are_rate_limited() {
    let first = es256_key("2026-11");
    let second = es256_key("2026-12");
    let third = es256_key("2027-01");
    let provider = Provider::start(vec![es256_jwk(&first)]).await;
    let interval = StdDuration::from_secs(2);
    let service = TestService::start_with(|config| {
        let mut settings = provider.settings();
        settings.refetch_interval = interval;
        config.oidc = Some(settings);
    })
    .await;
    let get = |token: String| {
        let service = &service;
        async move { service.get("/me/notifications", &token).await }
    };
    let signed = |key: &ES256KeyPair| key.sign(provider.claims("user-1")).unwrap();

    assert_eq!(get(signed(&first)).await.status, 200);
    assert_eq!(provider.jwks_fetches(), 1);
    // Later, the provider rotates: a token with the new kid makes the service fetch the keys
    // again.
    tokio::time::sleep(interval).await;
    provider.serve_keys(vec![es256_jwk(&first), es256_jwk(&second)]);
    assert_eq!(get(signed(&second)).await.status, 200);
    assert_eq!(provider.jwks_fetches(), 2, "one refetch for the new kid");
    assert_eq!(
        get(signed(&first)).await.status,
        200,
        "the old key still works"
    );
    // Right after that fetch, another unknown kid is refused without asking the provider,
    // even once the provider lists it.
    assert_invalid_token(
        &get(signed(&third)).await,
        "kid unknown within the interval",
    );
    provider.serve_keys(vec![
        es256_jwk(&first),
        es256_jwk(&second),
        es256_jwk(&third),
    ]);
    for _ in 0..5 {
        assert_invalid_token(
            &get(signed(&third)).await,
            "kid unknown within the interval",
        );
    }
    assert_eq!(provider.jwks_fetches(), 2, "no fetch within the interval");
    // Once the interval has passed, the next unknown kid is fetched, once for all the
    // requests that carry it at the same moment.
    tokio::time::sleep(interval + StdDuration::from_millis(100)).await;
    let token = signed(&third);
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let request = service
            .request(Method::GET, "/me/notifications")
            .bearer_auth(&token);
        requests.spawn(async move { request.send().await.unwrap().status() });
    }
    while let Some(status) = requests.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    assert_eq!(provider.jwks_fetches(), 3, "one refetch for eight requests");
    assert_eq!(provider.discovery_fetches(), 1, "discovery is done once");
    service.shutdown().await;
}

#[tokio::test]
async fn a_configured_jwks_url_is_used_without_discovery_and_another_claim_can_name_the_user() {
    let ec = es256_key("ec-1");
    let provider = Provider::start(vec![es256_jwk(&ec)]).await;
    let service = TestService::start_with(|config| {
        let mut settings = provider.settings();
        settings.jwks_url = Some(provider.jwks_url());
        settings.user_claim = "email".to_owned();
        config.oidc = Some(settings);
    })
    .await;
    let receiver = PushReceiver::start().await;
    let browser = FakeBrowser::new(&receiver, "by-email");
    let mut extra = serde_json::Map::new();
    extra.insert("email".to_owned(), json!("ada@app.example"));
    // An email names a user only when the provider verified it.
    extra.insert("email_verified".to_owned(), json!(true));
    let claims = Claims::with_custom_claims(extra, Duration::from_mins(5))
        .with_issuer(&provider.issuer)
        .with_audience(AUDIENCE)
        .with_subject("opaque-id-1");
    let token = ec.sign(claims).unwrap();
    let uns = service.subscribe(&token, &browser, HOST).await;
    assert_eq!(
        service
            .notify(&token, &uns, &notification("hi"))
            .await
            .status,
        201
    );
    assert_eq!(provider.discovery_fetches(), 0);
    assert_eq!(provider.jwks_fetches(), 1);
    // A token without that claim names nobody.
    let without = ec.sign(provider.claims("opaque-id-1")).unwrap();
    assert_invalid_token(
        &service.get("/me/notifications", &without).await,
        "no email claim",
    );
    service.shutdown().await;
}

#[tokio::test]
async fn static_tokens_keep_working_beside_the_provider_and_never_name_a_jwt_user() {
    let ec = es256_key("ec-1");
    let provider = Provider::start(vec![es256_jwk(&ec)]).await;
    let service = TestService::start_with(|config| config.oidc = Some(provider.settings())).await;
    let receiver = PushReceiver::start().await;
    let browser = FakeBrowser::new(&receiver, "static");
    let uns = service.subscribe(ALICE, &browser, HOST).await;
    assert_eq!(
        service
            .notify(ALICE, &uns, &notification("static"))
            .await
            .status,
        201
    );
    // A JWT whose subject is "alice" names the provider's alice (`<issuer>#alice`), never
    // the static token's: it may not post to her subscription, and sees none of her feed.
    let jwt = ec.sign(provider.claims("alice")).unwrap();
    service
        .notify(&jwt, &uns, &notification("jwt"))
        .await
        .assert_error(403, "caller-not-allowed");
    let feed = service.get("/me/notifications", &jwt).await;
    assert_eq!(feed.status, 200);
    assert_eq!(feed.body["value"], json!([]));
    let context = feed.body["@odata.context"].as_str().unwrap();
    assert!(
        context.contains("%23alice"),
        "the user is keyed by issuer: {context}"
    );
    assert_eq!(provider.jwks_fetches(), 1, "static tokens never fetch keys");
    assert_invalid_token(
        &service
            .get("/me/notifications", "not-a-configured-token")
            .await,
        "unknown static token",
    );
    service.shutdown().await;
}

#[tokio::test]
async fn when_the_provider_cannot_be_reached_a_jwt_is_answered_503_with_retry_after() {
    // A port with nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}/realms/gone", closed.local_addr().unwrap());
    drop(closed);
    let service = TestService::start_with(|config| {
        config.oidc = Some(usernotify_service::OidcSettings::new(&issuer, AUDIENCE))
    })
    .await;
    let ec = es256_key("ec-1");
    let claims = Claims::create(Duration::from_mins(5))
        .with_issuer(&issuer)
        .with_audience(AUDIENCE)
        .with_subject("user-1");
    let answer = service
        .get("/me/notifications", &ec.sign(claims).unwrap())
        .await;
    answer.assert_error(503, "identity-provider-unavailable");
    assert_eq!(answer.headers["retry-after"], "60");
    // Static tokens do not depend on the provider.
    assert_eq!(service.get("/me/notifications", ALICE).await.status, 200);
    service.shutdown().await;
}

#[tokio::test]
async fn a_key_the_provider_withdraws_is_refused_once_the_keys_are_old_and_kept_while_it_fails() {
    let withdrawn = es256_key("old");
    let kept = es256_key("new");
    let provider = Provider::start(vec![es256_jwk(&withdrawn), es256_jwk(&kept)]).await;
    let max_age = StdDuration::from_secs(1);
    let service = TestService::start_with(|config| {
        let mut settings = provider.settings();
        settings.keys_max_age = max_age;
        settings.refetch_interval = max_age;
        config.oidc = Some(settings);
    })
    .await;
    let claims = provider.claims("user-1");
    let status = |key: &ES256KeyPair| {
        let token = key.sign(claims.clone()).unwrap();
        let service = &service;
        async move { service.get("/me/notifications", &token).await.status }
    };
    assert_eq!(status(&withdrawn).await, 200);
    provider.serve_keys(vec![es256_jwk(&kept)]);
    assert_eq!(
        status(&withdrawn).await,
        200,
        "the keys are kept while fresh"
    );
    assert_eq!(provider.jwks_fetches(), 1);

    tokio::time::sleep(max_age + StdDuration::from_millis(100)).await;
    assert_eq!(status(&withdrawn).await, 401, "old keys are fetched again");
    assert_eq!(provider.jwks_fetches(), 2);
    assert_eq!(status(&kept).await, 200);
    assert_eq!(provider.jwks_fetches(), 2);

    // The provider fails: the keys it last published keep working.
    tokio::time::sleep(max_age + StdDuration::from_millis(100)).await;
    provider.fail();
    assert_eq!(status(&kept).await, 200);
    assert_eq!(provider.jwks_fetches(), 3, "a fetch was tried, and failed");
    service.shutdown().await;
}
