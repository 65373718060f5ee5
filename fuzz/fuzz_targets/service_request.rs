//! Any request to the app service: the first bytes choose the method, path, token, X-UNS,
//! encoding and conditional headers, the rest is the body (sent raw, or gzip/deflate
//! compressed so that the decoders see both valid and invalid streams). The service always
//! answers with a status of the contract, never 5xx, and every error is Graph's body.
#![no_main]

use std::io::Write;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;
use usernotify_service::store::{Db, SqliteStore};
use usernotify_service::{router, AppState, Config};

const TOKEN: &str = "fuzz-token";

struct Harness {
    runtime: tokio::runtime::Runtime,
    app: Router,
    unsid: String,
}

/// One in-memory service for the whole run, with one registered subscription. No delivery
/// worker runs, so nothing leaves the process.
fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut config = Config::new("unused.db")
            .with_token(TOKEN, "alice")
            .with_vapid_subject("mailto:fuzz@usernotify.test")
            .expect("VAPID subject");
        config.rate_per_minute = 0;
        config.allow_loopback_push = true;
        let db = Db::Sqlite(Arc::new(SqliteStore::open_in_memory().expect("store")));
        let state = runtime.block_on(AppState::with_db(&config, db)).expect("state");
        let app = router(state, &[], &[]);
        let subscription = r#"{"pushSubscription":{"endpoint":"http://127.0.0.1:9/push/fuzz",
            "keys":{"p256dh":"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
            "auth":"BTBZMqHH6r4Tts7J_aSIgg"}},"targetHostName":"example.org","displayName":"fuzz"}"#;
        let request = Request::post("/me/notificationSubscriptions")
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/json")
            .body(Body::from(subscription))
            .expect("request");
        let unsid = runtime.block_on(async {
            let response = app.clone().oneshot(request).await.expect("response");
            assert_eq!(response.status(), StatusCode::CREATED, "the fuzz subscription registers");
            let bytes = response.into_body().collect().await.expect("body").to_bytes();
            let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
            body["id"].as_str().expect("unsid").to_owned()
        });
        Harness { runtime, app, unsid }
    })
}

const METHODS: [&str; 5] = ["GET", "POST", "PATCH", "DELETE", "PUT"];
const PATHS: [&str; 6] = [
    "/me/notifications",
    "/me/notifications/",
    "/me/notificationSubscriptions",
    "/me/notificationSubscriptions/",
    "/vapidPublicKey",
    "/me/",
];
const ENCODINGS: [Option<&str>; 5] = [None, Some("gzip"), Some("deflate"), Some("br"), Some("gzip, deflate")];
/// What a request may be answered with (CONTRACT §3); anything else is a bug.
const STATUSES: [u16; 11] = [200, 201, 204, 400, 401, 403, 404, 405, 406, 413, 415];

fuzz_target!(|data: &[u8]| {
    let [method, path, flags, encoding, suffix_len, rest @ ..] = data else {
        return;
    };
    let suffix_len = usize::from(*suffix_len % 48).min(rest.len());
    let (suffix, body) = rest.split_at(suffix_len);
    let harness = harness();
    let mut uri = PATHS[usize::from(*path) % PATHS.len()].to_owned();
    uri.extend(
        String::from_utf8_lossy(suffix)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "-_.~%/".contains(*c)),
    );
    let mut request = Request::builder()
        .method(METHODS[usize::from(*method) % METHODS.len()])
        .uri(uri);
    match flags & 0b11 {
        0 => {}
        1 => request = request.header("authorization", format!("Bearer {TOKEN}")),
        2 => request = request.header("authorization", "Bearer not-a-token"),
        _ => request = request.header("authorization", format!("bearer {TOKEN}")),
    }
    match (flags >> 2) & 0b11 {
        0 => {}
        1 => request = request.header("x-uns", harness.unsid.as_str()),
        2 => request = request.header("x-uns", "AAAAAAAAAAAAAAAAAAAAAA"),
        _ => request = request.header("x-uns", ""),
    }
    if flags & 0b1_0000 != 0 {
        request = request.header("if-modified-since", "Sat, 01 Jan 2000 00:00:00 GMT");
    }
    if flags & 0b10_0000 != 0 {
        request = request.header("content-type", "application/json");
    }
    let coding = ENCODINGS[usize::from(*encoding) % ENCODINGS.len()];
    let body = match coding {
        Some(name) => {
            request = request.header("content-encoding", name);
            if flags & 0b100_0000 != 0 {
                compress(name, body)
            } else {
                body.to_vec()
            }
        }
        None => body.to_vec(),
    };
    let Ok(request) = request.body(Body::from(body)) else {
        return;
    };
    harness.runtime.block_on(async {
        let response = harness.app.clone().oneshot(request).await.expect("infallible");
        let status = response.status().as_u16();
        assert!(STATUSES.contains(&status), "unexpected status {status}");
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        if status >= 400 {
            let error: serde_json::Value = serde_json::from_slice(&bytes).expect("Graph error body");
            assert!(error["error"]["code"].is_string(), "error code in {error}");
            assert!(error["error"]["message"].is_string(), "error message in {error}");
        }
    });
});

fn compress(name: &str, body: &[u8]) -> Vec<u8> {
    let level = flate2::Compression::fast();
    let mut out = Vec::new();
    if name == "deflate" {
        let mut encoder = flate2::write::ZlibEncoder::new(&mut out, level);
        let _ = encoder.write_all(body);
        let _ = encoder.finish();
    } else {
        let mut encoder = flate2::write::GzEncoder::new(&mut out, level);
        let _ = encoder.write_all(body);
        let _ = encoder.finish();
    }
    out
}
