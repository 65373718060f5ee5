//! Identities from different sources never meet, tried as an attacker would: tokens signed
//! by a real OpenID Connect provider on loopback (keys the tests generate), sent over HTTP
//! to the real binary that also has static tokens. And the provider's keys are fetched
//! only from where the settings say: never through a redirect.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use common::oidc::*;
use common::*;
use jwt_simple::prelude::*;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// GET `path` with `token`: status and JSON body.
async fn get_as(base: &str, path: &str, token: &str) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let bytes = answer.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// POST a notification for `uns` with `token`: the status.
async fn post_as(base: &str, uns: &str, token: &str, title: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{base}/me/notifications"))
        .bearer_auth(token)
        .header("x-uns", uns)
        .header("content-type", "application/json")
        .body(notification(title).to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A token `provider` signs with `key`, naming the user by `email`.
fn email_token(
    provider: &Provider,
    key: &ES256KeyPair,
    email: &str,
    verified: Option<bool>,
) -> String {
    let mut extra = serde_json::Map::new();
    extra.insert("email".to_owned(), json!(email));
    if let Some(verified) = verified {
        extra.insert("email_verified".to_owned(), json!(verified));
    }
    let claims = Claims::with_custom_claims(extra, Duration::from_mins(5))
        .with_issuer(&provider.issuer)
        .with_audience(AUDIENCE)
        .with_subject("opaque-subject");
    key.sign(claims).unwrap()
}

fn titles(feed: &Value) -> Vec<String> {
    feed["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            item["payload"]["visualContent"]["title"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_jwt_never_acts_as_a_static_token_user_nor_as_another_issuers_user() {
    let key = es256_key("k1");
    let provider = Provider::start(vec![es256_jwk(&key)]).await;
    let receiver = PushReceiver::start().await;
    let browser = FakeBrowser::new(&receiver, "alice");
    let files = tempfile::tempdir().unwrap();
    let db = files.path().join("service.db");
    let by_email = [
        ("USERNOTIFY_JWT_ISSUER", provider.issuer.as_str()),
        ("USERNOTIFY_JWT_AUDIENCE", AUDIENCE),
        ("USERNOTIFY_JWT_USER_CLAIM", "email"),
        ("USERNOTIFY_BLOCKED_CALLERS", "mallory"),
    ];
    let service = Binary::start_with(&db, None, &by_email).await;
    // Alice, a static-token user, has a subscription and a notification.
    let uns = service.subscribe(&browser).await;
    assert_eq!(
        service.notify(&uns, &notification("alice's secret")).await,
        201
    );

    // The attacker's provider profile says email "alice", unverified: refused.
    let unverified = email_token(&provider, &key, "alice", Some(false));
    let (status, body) = get_as(&service.base, "/me/notifications", &unverified).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not verified"));
    let missing = email_token(&provider, &key, "alice", None);
    assert_eq!(
        get_as(&service.base, "/me/notifications", &missing).await.0,
        401
    );

    // Verified or not, a JWT naming "alice" is the provider's alice, not the static user.
    let verified = email_token(&provider, &key, "alice", Some(true));
    let (status, feed) = get_as(&service.base, "/me/notifications", &verified).await;
    assert_eq!(status, 200);
    assert!(
        titles(&feed).is_empty(),
        "the JWT sees nothing of alice's: {feed}"
    );
    assert_eq!(
        post_as(&service.base, &uns, &verified, "as alice").await,
        403,
        "nor posts to her subscription"
    );
    // And the static token does not reach the JWT user's notifications.
    let jwt_browser = FakeBrowser::new(&receiver, "jwt-alice");
    let answer = reqwest::Client::new()
        .post(format!("{}/me/notificationSubscriptions", service.base))
        .bearer_auth(&verified)
        .body(jwt_browser.subscription_body(HOST).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    let jwt_uns = serde_json::from_slice::<Value>(&answer.bytes().await.unwrap()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        post_as(&service.base, &jwt_uns, &verified, "provider's alice").await,
        201
    );
    assert_eq!(
        post_as(&service.base, &jwt_uns, ALICE, "static alice").await,
        403
    );
    let (_, feed) = get_as(&service.base, "/me/notifications", ALICE).await;
    assert_eq!(titles(&feed), ["alice's secret"]);
    let (_, feed) = get_as(&service.base, "/me/notifications", &verified).await;
    assert_eq!(titles(&feed), ["provider's alice"]);

    // The block list still blocks a JWT user by the name it gives.
    let mallory = email_token(&provider, &key, "mallory", Some(true));
    let (status, body) = get_as(&service.base, "/me/notifications", &mallory).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "caller-blocked");
    drop(service);

    // The deployment moves to another provider that also has an "alice": she starts empty.
    let other_key = es256_key("k2");
    let other = Provider::start(vec![es256_jwk(&other_key)]).await;
    let moved = [
        ("USERNOTIFY_JWT_ISSUER", other.issuer.as_str()),
        ("USERNOTIFY_JWT_AUDIENCE", AUDIENCE),
        ("USERNOTIFY_JWT_USER_CLAIM", "email"),
    ];
    let service = Binary::start_with(&db, None, &moved).await;
    let others_alice = email_token(&other, &other_key, "alice", Some(true));
    let (status, feed) = get_as(&service.base, "/me/notifications", &others_alice).await;
    assert_eq!(status, 200);
    assert!(
        titles(&feed).is_empty(),
        "another issuer's alice sees nothing: {feed}"
    );
    assert_eq!(
        post_as(&service.base, &jwt_uns, &others_alice, "hijack").await,
        403
    );
    // The first provider's tokens are no longer accepted at all.
    assert_eq!(
        get_as(&service.base, "/me/notifications", &verified)
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn a_static_user_name_that_could_be_a_jwt_users_is_refused_at_start() {
    let files = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(Binary::path())
        .env("USERNOTIFY_DB", files.path().join("service.db"))
        .env("USERNOTIFY_VAPID_SUBJECT", VAPID_SUBJECT)
        .env(
            "USERNOTIFY_TOKENS",
            "s3cret:https://id.example/realms/app#alice",
        )
        .env("PORT", free_port().to_string())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let log = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("USERNOTIFY_TOKENS"), "{log}");
    assert!(!log.contains("s3cret"), "the token is never shown: {log}");
}

/// Counts the requests a server got.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

impl Counter {
    fn hit(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

async fn serve(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    origin
}

/// The provider's keys on another server, and a provider whose discovery document points
/// at its own JWKS URL, which redirects there (as a compromised or misconfigured provider
/// might, to plain http on another host).
#[tokio::test]
async fn the_jwks_fetch_never_follows_a_redirect() {
    let key = es256_key("k1");
    let jwks = json!({ "keys": [es256_jwk(&key)] });
    let elsewhere_hits = Counter::default();
    let elsewhere = serve(Router::new().route(
        "/keys",
        get({
            let (hits, jwks) = (elsewhere_hits.clone(), jwks.clone());
            move || async move {
                hits.hit();
                axum::Json(jwks)
            }
        }),
    ))
    .await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!(
        "http://{}/realms/redirecting",
        listener.local_addr().unwrap()
    );
    let redirects = Counter::default();
    let app = Router::new()
        .route(
            "/realms/redirecting/.well-known/openid-configuration",
            get({
                let issuer = issuer.clone();
                move || async move {
                    axum::Json(json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/certs") }))
                }
            }),
        )
        .route(
            "/realms/redirecting/certs",
            get({
                let (hits, target) = (redirects.clone(), format!("{elsewhere}/keys"));
                move || async move {
                    hits.hit();
                    (StatusCode::FOUND, [(header::LOCATION, target)]).into_response()
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let claims = Claims::create(Duration::from_mins(5))
        .with_issuer(&issuer)
        .with_audience(AUDIENCE)
        .with_subject("user-1");
    let token = key.sign(claims).unwrap();
    let files = tempfile::tempdir().unwrap();
    let service = Binary::start_with(
        files.path().join("service.db"),
        None,
        &[
            ("USERNOTIFY_JWT_ISSUER", &issuer),
            ("USERNOTIFY_JWT_AUDIENCE", AUDIENCE),
        ],
    )
    .await;
    let (status, body) = get_as(&service.base, "/me/notifications", &token).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "identity-provider-unavailable");
    assert_eq!(redirects.count(), 1, "the JWKS URL was asked");
    assert_eq!(elsewhere_hits.count(), 0, "the redirect was not followed");
    drop(service);

    // Control: those keys do verify the token when the settings name their URL.
    let direct = Binary::start_with(
        files.path().join("direct.db"),
        None,
        &[
            ("USERNOTIFY_JWT_ISSUER", &issuer),
            ("USERNOTIFY_JWT_AUDIENCE", AUDIENCE),
            ("USERNOTIFY_JWKS_URL", &format!("{elsewhere}/keys")),
        ],
    )
    .await;
    assert_eq!(
        get_as(&direct.base, "/me/notifications", &token).await.0,
        200
    );
    assert_eq!(elsewhere_hits.count(), 1);
}

/// A provider whose JWKS never ends: the service stops reading at its cap and answers.
#[tokio::test]
async fn an_endless_jwks_is_cut_off_at_its_cap() {
    let sent = Arc::new(AtomicUsize::new(0));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().route(
        "/keys",
        get({
            let sent = Arc::clone(&sent);
            move || async move {
                let chunk = axum::body::Bytes::from(vec![b' '; 64 * 1024]);
                let stream = futures_util::stream::repeat_with(move || {
                    sent.fetch_add(chunk.len(), Ordering::SeqCst);
                    Ok::<_, std::convert::Infallible>(chunk.clone())
                });
                axum::body::Body::from_stream(stream)
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let key = es256_key("k1");
    let claims = Claims::create(Duration::from_mins(5))
        .with_issuer(&origin)
        .with_audience(AUDIENCE)
        .with_subject("user-1");
    let files = tempfile::tempdir().unwrap();
    let service = Binary::start_with(
        files.path().join("service.db"),
        None,
        &[
            ("USERNOTIFY_JWT_ISSUER", &origin),
            ("USERNOTIFY_JWT_AUDIENCE", AUDIENCE),
            ("USERNOTIFY_JWKS_URL", &format!("{origin}/keys")),
        ],
    )
    .await;
    let started = std::time::Instant::now();
    let (status, body) = get_as(
        &service.base,
        "/me/notifications",
        &key.sign(claims).unwrap(),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // The service dropped the connection: the provider's endless body stops being taken
    // (what it produced beyond the cap sat in the sockets' buffers).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let produced = sent.load(Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        sent.load(Ordering::SeqCst),
        produced,
        "nothing more is read"
    );
    assert!(produced < 32 * 1024 * 1024, "{produced} bytes");
}
