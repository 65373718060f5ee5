//! Shared by the integration tests: the service on a loopback port with a temporary SQLite
//! file, an HTTP client, and a fake browser with its own push receiver.
#![allow(dead_code)]

pub mod hostile;
pub mod oidc;

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hkdf::Hkdf;
use p256::ecdsa::signature::Verifier;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use serde_json::{json, Value};
use sha2::Sha256;
use tempfile::TempDir;
use tokio::net::TcpListener;
use usernotify::core::{format_iso8601, Millis};
use usernotify_service::{start, Config, DbLocation, DeliverySettings, RunningService};

pub const ALICE: &str = "alice-token";
pub const BOB: &str = "bob-token";
pub const MALLORY: &str = "mallory-token";
pub const HOST: &str = "app.example";
/// The VAPID subject every test service runs with (the service refuses to start without).
pub const VAPID_SUBJECT: &str = "mailto:tests@usernotify.test";

pub fn now_millis() -> Millis {
    usernotify_service::clock::now_millis()
}

/// An ISO 8601 instant `seconds` from now.
pub fn in_seconds(seconds: i64) -> String {
    format_iso8601(now_millis() + seconds * 1000)
}

/// A test configuration: three users (mallory blocked), loopback push allowed, fast retries.
pub fn config(db: impl Into<DbLocation>) -> Config {
    let mut config = Config::new(db)
        .with_vapid_subject(VAPID_SUBJECT)
        .unwrap()
        .with_token(ALICE, "alice")
        .with_token(BOB, "bob")
        .with_token(MALLORY, "mallory");
    config.blocked_callers.insert("mallory".to_owned());
    config.allow_loopback_push = true;
    config.rate_per_minute = 10_000;
    config.delivery = DeliverySettings {
        poll_interval: Duration::from_millis(50),
        request_timeout: Duration::from_secs(5),
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        ..DeliverySettings::default()
    };
    config
}

/// The service on 127.0.0.1 with its database in a temporary directory (or a fresh database
/// of the test PostgreSQL).
pub struct TestService {
    pub dir: TempDir,
    pub db: DbLocation,
    pub service: Option<RunningService>,
    pub base: String,
    pub http: reqwest::Client,
}

impl TestService {
    pub async fn start() -> TestService {
        TestService::start_with(|_| {}).await
    }

    /// Starts with `adjust` applied to the test configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestService {
        let dir = tempfile::tempdir().unwrap();
        let db = DbLocation::from(dir.path().join("usernotify.db"));
        TestService::start_on(dir, db, adjust).await
    }

    /// Starts on a fresh database of the test PostgreSQL.
    pub async fn start_on_postgres(adjust: impl FnOnce(&mut Config)) -> TestService {
        let db = DbLocation::from(postgres::fresh_database().await);
        TestService::start_on(tempfile::tempdir().unwrap(), db, adjust).await
    }

    /// One service per backend, SQLite first, for tests that run on both.
    pub async fn on_both_backends() -> Vec<TestService> {
        vec![
            TestService::start().await,
            TestService::start_on_postgres(|_| {}).await,
        ]
    }

    pub async fn start_on(
        dir: TempDir,
        db: DbLocation,
        adjust: impl FnOnce(&mut Config),
    ) -> TestService {
        let mut config = config(db.clone());
        config.db_settings.max_connections = 4;
        adjust(&mut config);
        let service = serve(config).await;
        let base = format!("http://{}", service.local_addr());
        TestService {
            dir,
            db,
            service: Some(service),
            base,
            http: reqwest::Client::new(),
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("usernotify.db")
    }

    pub fn running(&self) -> &RunningService {
        self.service.as_ref().unwrap()
    }

    /// Stops the service and starts it again on the same file (a new port).
    pub async fn restart(&mut self, adjust: impl FnOnce(&mut Config)) {
        self.service.take().unwrap().shutdown().await;
        let mut config = config(self.db.clone());
        adjust(&mut config);
        let service = serve(config).await;
        self.base = format!("http://{}", service.local_addr());
        self.service = Some(service);
        self.http = reqwest::Client::new();
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// Sends and reads the answer as JSON (`Value::Null` for an empty body).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.send(self.request(reqwest::Method::GET, path).bearer_auth(token))
            .await
    }

    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> Answer {
        self.send(
            self.request(reqwest::Method::POST, path)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// Posts a notification for the subscription `uns`.
    pub async fn notify(&self, token: &str, uns: &str, body: &Value) -> Answer {
        self.send(
            self.request(reqwest::Method::POST, "/me/notifications")
                .bearer_auth(token)
                .header("x-uns", uns)
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    pub async fn patch(&self, id: &str, token: &str, body: &Value) -> Answer {
        self.send(
            self.request(reqwest::Method::PATCH, &format!("/me/notifications/{id}"))
                .bearer_auth(token)
                .body(body.to_string()),
        )
        .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.send(
            self.request(reqwest::Method::DELETE, path)
                .bearer_auth(token),
        )
        .await
    }

    /// Registers `browser` for `token`'s user on `host`; returns the UNSID.
    pub async fn subscribe(&self, token: &str, browser: &FakeBrowser, host: &str) -> String {
        let answer = self
            .post_json(
                "/me/notificationSubscriptions",
                token,
                &browser.subscription_body(host),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn vapid_public_key(&self) -> String {
        let answer = self
            .send(self.request(reqwest::Method::GET, "/vapidPublicKey"))
            .await;
        answer.body["publicKey"].as_str().unwrap().to_owned()
    }

    pub async fn pending_deliveries(&self) -> usize {
        self.running()
            .state()
            .db()
            .pending_deliveries()
            .await
            .unwrap()
    }

    /// Polls until the delivery queue is empty (the worker finished with everything).
    pub async fn wait_for_empty_queue(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.pending_deliveries().await > 0 {
            assert!(Instant::now() < deadline, "deliveries still queued");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn shutdown(mut self) {
        if let Some(service) = self.service.take() {
            service.shutdown().await;
        }
    }
}

/// A service configured by `adjust`, with one of ALICE's browsers subscribed to it: the
/// setup most tests start from. Returns the service, the browser's push receiver, the
/// browser (to decrypt what it receives) and its UNSID.
pub async fn subscribed_with(
    adjust: impl FnOnce(&mut Config),
) -> (TestService, PushReceiver, FakeBrowser, String) {
    let service = TestService::start_with(adjust).await;
    let receiver = PushReceiver::start().await;
    let browser = FakeBrowser::new(&receiver, "a");
    let uns = service.subscribe(ALICE, &browser, HOST).await;
    (service, receiver, browser, uns)
}

/// One browser subscribed and the delivery worker off: for what the API answers.
pub async fn with_subscription() -> (TestService, PushReceiver, String) {
    let (service, receiver, _browser, uns) =
        subscribed_with(|config| config.delivery.run_worker = false).await;
    (service, receiver, uns)
}

pub async fn serve(config: Config) -> RunningService {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    start(config, listener).await.unwrap()
}

/// A response, read.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// Asserts a Graph error body with `status` and `code`.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.body["error"]["code"], code, "{}", self.body);
        assert!(self.body["error"]["message"].is_string(), "{}", self.body);
    }
}

/// A valid notification for `HOST`, an hour from expiry.
pub fn notification(title: &str) -> Value {
    json!({
        "targetHostName": HOST,
        "expirationDateTime": in_seconds(3600),
        "payload": { "visualContent": { "title": title, "body": "body of it" } },
    })
}

/// A notification with its own `appNotificationId`, so every push of it carries that `Topic`
/// (and a push service would collapse a re-sent copy).
pub fn tagged(tag: &str) -> Value {
    let mut body = notification(tag);
    body["appNotificationId"] = json!(tag);
    body
}

/// Polls `done` every 10 ms until it is true; fails with `what` after `limit`.
pub async fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A browser's push subscription: its own P-256 key pair and auth secret, and the path on
/// the receiver its endpoint points to.
pub struct FakeBrowser {
    pub secret: p256::SecretKey,
    pub auth: [u8; 16],
    pub endpoint: String,
}

impl FakeBrowser {
    pub fn new(receiver: &PushReceiver, name: &str) -> FakeBrowser {
        let secret = p256::SecretKey::random(&mut aes_gcm::aead::OsRng);
        let mut auth = [0u8; 16];
        getrandom::fill(&mut auth).unwrap();
        FakeBrowser {
            secret,
            auth,
            endpoint: receiver.endpoint(name),
        }
    }

    /// What `PushSubscription.toJSON()` gives, wrapped as the service wants it.
    pub fn subscription_body(&self, host: &str) -> Value {
        let p256dh = self.secret.public_key().to_encoded_point(false);
        json!({
            "pushSubscription": {
                "endpoint": self.endpoint,
                "expirationTime": null,
                "keys": {
                    "p256dh": URL_SAFE_NO_PAD.encode(p256dh.as_bytes()),
                    "auth": URL_SAFE_NO_PAD.encode(self.auth),
                },
            },
            "targetHostName": host,
            "displayName": "Test browser",
        })
    }

    /// Decrypts an RFC 8291 `aes128gcm` body the way a browser does, written here from the
    /// RFCs with p256, hkdf and aes-gcm, independently of the service's sending code.
    pub fn decrypt(&self, body: &[u8]) -> Vec<u8> {
        let salt = &body[..16];
        let record_size = u32::from_be_bytes(body[16..20].try_into().unwrap()) as usize;
        let id_len = body[20] as usize;
        assert_eq!(id_len, 65, "keyid is the sender's uncompressed public key");
        let sender_public = &body[21..21 + id_len];
        let ciphertext = &body[21 + id_len..];
        assert!(ciphertext.len() <= record_size, "one record");
        let sender = p256::PublicKey::from_sec1_bytes(sender_public).unwrap();
        let shared =
            p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), sender.as_affine());
        // RFC 8291 §3.3: IKM from the ECDH secret, the auth secret and both public keys.
        let mut key_info = b"WebPush: info\0".to_vec();
        key_info.extend_from_slice(self.secret.public_key().to_encoded_point(false).as_bytes());
        key_info.extend_from_slice(sender_public);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&self.auth), shared.raw_secret_bytes())
            .expand(&key_info, &mut ikm)
            .unwrap();
        // RFC 8188 §2.2-2.3: content key and nonce (first record, sequence 0).
        let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let mut key = [0u8; 16];
        prk.expand(b"Content-Encoding: aes128gcm\0", &mut key)
            .unwrap();
        let mut nonce = [0u8; 12];
        prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
            .unwrap();
        let plain = Aes128Gcm::new_from_slice(&key)
            .unwrap()
            .decrypt(Nonce::from_slice(&nonce), ciphertext)
            .unwrap();
        // The last record ends with the delimiter 0x02, then zero padding.
        let end = plain.iter().rposition(|byte| *byte != 0).unwrap();
        assert_eq!(plain[end], 2, "last-record delimiter");
        plain[..end].to_vec()
    }
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub answered: u16,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// Answers a receiver gives, in order: (status, `Retry-After` or, for a 3xx, `Location`).
type Script = VecDeque<(u16, Option<&'static str>)>;

#[derive(Default)]
struct ReceiverState {
    /// Answers to give, in order; 201 once empty.
    script: Mutex<Script>,
    /// Answers for one path (`/push/NAME`), before the shared script.
    scripts_by_path: Mutex<std::collections::HashMap<String, Script>>,
    /// How long each of the next requests waits before answering (a slow or hung push
    /// service); once empty, `delay` applies.
    stalls: Mutex<VecDeque<Duration>>,
    /// How long every request waits before answering, after the `stalls`.
    delay: Mutex<Duration>,
    received: Mutex<Vec<Received>>,
    /// What the push service enforces, as a real one does: a rule that refuses a request
    /// answers its status instead of the script's.
    rules: Mutex<Vec<Rule>>,
}

/// A push service's rule: `Some((status, Retry-After))` refuses the request.
pub type Rule = Box<dyn Fn(&HeaderMap, &[u8]) -> Option<(u16, Option<&'static str>)> + Send>;

/// A push service on 127.0.0.1 that records what it gets and answers from a script.
pub struct PushReceiver {
    pub addr: SocketAddr,
    state: Arc<ReceiverState>,
    task: tokio::task::JoinHandle<()>,
}

impl PushReceiver {
    pub async fn start() -> PushReceiver {
        let state = Arc::new(ReceiverState::default());
        let shared = Arc::clone(&state);
        let app = Router::new().route(
            "/push/{name}",
            post(move |uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = Arc::clone(&shared);
                async move {
                    let stall = state.stalls.lock().unwrap().pop_front();
                    let wait = stall.unwrap_or_else(|| *state.delay.lock().unwrap());
                    let for_path = state
                        .scripts_by_path
                        .lock()
                        .unwrap()
                        .get_mut(uri.path())
                        .and_then(VecDeque::pop_front);
                    let refused = state
                        .rules
                        .lock()
                        .unwrap()
                        .iter()
                        .find_map(|rule| rule(&headers, &body));
                    let (status, retry_after) = match refused {
                        Some(refused) => refused,
                        None => for_path
                            .or_else(|| state.script.lock().unwrap().pop_front())
                            .unwrap_or((201, None)),
                    };
                    state.received.lock().unwrap().push(Received {
                        path: uri.path().to_owned(),
                        headers,
                        body: body.to_vec(),
                        answered: status,
                        at: Instant::now(),
                    });
                    // Recorded on arrival, so a push the sender gave up on still counts.
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
                    let mut response = axum::http::Response::new(axum::body::Body::empty());
                    *response.status_mut() = StatusCode::from_u16(status).unwrap();
                    // The scripted header: `Location` for a redirect, else `Retry-After`.
                    let name = if (300..400).contains(&status) {
                        "location"
                    } else {
                        "retry-after"
                    };
                    if let Some(value) = retry_after {
                        response.headers_mut().insert(name, value.parse().unwrap());
                    }
                    response
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        PushReceiver { addr, state, task }
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn endpoint(&self, name: &str) -> String {
        format!("{}/push/{name}", self.origin())
    }

    /// The next answers, before the default 201: a status and its `Retry-After` (or, for a
    /// 3xx, its `Location`).
    pub fn answer_next(&self, answers: &[(u16, Option<&'static str>)]) {
        self.state
            .script
            .lock()
            .unwrap()
            .extend(answers.iter().copied());
    }

    /// The next answers to `endpoint(name)` alone, before the shared script.
    pub fn answer_next_for(&self, name: &str, answers: &[(u16, Option<&'static str>)]) {
        self.state
            .scripts_by_path
            .lock()
            .unwrap()
            .entry(format!("/push/{name}"))
            .or_default()
            .extend(answers.iter().copied());
    }

    /// The next requests each wait this long before answering (hang past a client timeout).
    pub fn stall_next(&self, stalls: &[Duration]) {
        self.state
            .stalls
            .lock()
            .unwrap()
            .extend(stalls.iter().copied());
    }

    /// From now on, requests that break `rule` are refused as it says.
    pub fn enforce(&self, rule: Rule) {
        self.state.rules.lock().unwrap().push(rule);
    }

    /// Every request waits `delay` before it is answered (a slow push service).
    pub fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    /// How many requests arrived so far.
    pub fn count(&self) -> usize {
        self.state.received.lock().unwrap().len()
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Polls until at least `count` requests arrived (10 s at most).
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {count} pushes arrived",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for PushReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Checks the VAPID `Authorization` header (RFC 8292) with p256 directly: `k` is the
/// service's public key, the ES256 signature verifies with it, `aud` is the endpoint's
/// origin, `sub` the configured subject, and `exp` is in the future and at most 24 hours away.
pub fn verify_vapid(push: &Received, service_key: &str, origin: &str) {
    let header = push.header("authorization").expect("Authorization header");
    let rest = header.strip_prefix("vapid ").expect("vapid scheme");
    let mut token = None;
    let mut key = None;
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=').unwrap();
        match name {
            "t" => token = Some(value),
            "k" => key = Some(value),
            _ => {}
        }
    }
    let (token, key) = (token.unwrap(), key.unwrap());
    assert_eq!(key, service_key, "k is the service's VAPID public key");
    let mut parts = token.split('.');
    let (head, claims, signature) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    assert!(parts.next().is_none());
    let head: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head).unwrap()).unwrap();
    assert_eq!(head["alg"], "ES256");
    let verifying =
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(key).unwrap()).unwrap();
    let signature =
        p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
    let signed = &token[..token.rfind('.').unwrap()];
    verifying
        .verify(signed.as_bytes(), &signature)
        .expect("the ES256 signature verifies with the service's key");
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    assert_eq!(claims["aud"], origin);
    assert_eq!(
        claims["sub"], VAPID_SUBJECT,
        "sub names the sender (Apple requires it)"
    );
    let exp = claims["exp"].as_i64().unwrap();
    let now = now_millis() / 1000;
    assert!(exp > now, "exp in the future");
    assert!(exp <= now + 24 * 3600, "exp at most 24 h ahead");
}

/// Deliveries still queued (or waiting for a retry), read straight from the file.
pub fn queued_in_file(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(
        "SELECT COUNT(*) FROM deliveries WHERE state IN ('queued', 'retrying')",
        [],
        |row| row.get(0),
    )
    .unwrap()
}

/// Another process's connection takes SQLite's write lock on `db`, writes, and keeps the
/// lock for `hold`. Returns when it holds it, with the time it took it and the thread, which
/// ends with the time it let go.
pub fn hold_write_lock(db: &Path, hold: Duration) -> (Instant, std::thread::JoinHandle<Instant>) {
    let db = db.to_owned();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let mut conn = rusqlite::Connection::open(db).unwrap();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        tx.execute_batch("CREATE TABLE other_writer (x); INSERT INTO other_writer VALUES (1);")
            .unwrap();
        locked_tx.send(Instant::now()).unwrap();
        std::thread::sleep(hold);
        tx.commit().unwrap();
        Instant::now()
    });
    (locked_rx.recv().unwrap(), holder)
}

/// Registers `browser` for ALICE's user on `HOST` with the service at `base` (a binary or a
/// replica); returns the UNSID.
pub async fn subscribe_at(http: &reqwest::Client, base: &str, browser: &FakeBrowser) -> String {
    let answer = http
        .post(format!("{base}/me/notificationSubscriptions"))
        .bearer_auth(ALICE)
        .body(browser.subscription_body(HOST).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    let body: Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    body["id"].as_str().unwrap().to_owned()
}

/// The real `usernotify-service` binary, configured through its environment.
pub struct Binary {
    pub child: Child,
    pub base: String,
}

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Binary {
    /// Starts it on `db`: a SQLite file or a `postgres://` URL (`USERNOTIFY_DB`).
    pub async fn start(db: impl AsRef<std::ffi::OsStr>) -> Binary {
        Binary::start_logging(db, None).await
    }

    /// Starts it with its log (`RUST_LOG=debug`, stdout and stderr) written to `log`.
    pub async fn start_logging(db: impl AsRef<std::ffi::OsStr>, log: Option<&Path>) -> Binary {
        Binary::start_with(db, log, &[]).await
    }

    /// Starts it with more settings in its environment.
    pub async fn start_with(
        db: impl AsRef<std::ffi::OsStr>,
        log: Option<&Path>,
        settings: &[(&str, &str)],
    ) -> Binary {
        Binary::launch(Command::new(Binary::path()), db, log, settings).await
    }

    /// Starts it from a shell that first sets the open-file soft limit to `soft` (the
    /// usual 1,024 of a login shell), as a service manager might.
    pub async fn start_with_file_limit(
        db: impl AsRef<std::ffi::OsStr>,
        settings: &[(&str, &str)],
        soft: u64,
    ) -> Binary {
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(format!("ulimit -Sn {soft} && exec \"$0\""))
            .arg(Binary::path());
        Binary::launch(shell, db, None, settings).await
    }

    /// The binary's path.
    pub fn path() -> &'static str {
        env!("CARGO_BIN_EXE_usernotify-service")
    }

    async fn launch(
        mut command: Command,
        db: impl AsRef<std::ffi::OsStr>,
        log: Option<&Path>,
        settings: &[(&str, &str)],
    ) -> Binary {
        let port = free_port();
        let output = |log: Option<&Path>| match log {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .unwrap(),
            ),
            None => Stdio::null(),
        };
        let child = command
            .env("USERNOTIFY_DB", db)
            .env("USERNOTIFY_TOKENS", format!("{ALICE}:alice"))
            .env("USERNOTIFY_ALLOW_LOOPBACK_PUSH", "1")
            .env("USERNOTIFY_RATE_PER_MINUTE", "0")
            .env("USERNOTIFY_VAPID_SUBJECT", VAPID_SUBJECT)
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("RUST_LOG", if log.is_some() { "debug" } else { "warn" })
            .envs(settings.iter().copied())
            .stdout(output(log))
            .stderr(output(log))
            .spawn()
            .unwrap();
        let binary = Binary {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = http
                .get(format!("{}/vapidPublicKey", binary.base))
                .send()
                .await
                .is_ok_and(|answer| answer.status() == 200);
            if ready {
                return binary;
            }
            assert!(Instant::now() < deadline, "the binary did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Registers `browser` for alice on `HOST`; returns the UNSID.
    pub async fn subscribe(&self, browser: &FakeBrowser) -> String {
        let answer = reqwest::Client::new()
            .post(format!("{}/me/notificationSubscriptions", self.base))
            .bearer_auth(ALICE)
            .header("content-type", "application/json")
            .body(browser.subscription_body(HOST).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 201);
        let body: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
        body["id"].as_str().unwrap().to_owned()
    }

    /// Posts `body` as alice for the subscription `uns`; returns the status.
    pub async fn notify(&self, uns: &str, body: &Value) -> u16 {
        reqwest::Client::new()
            .post(format!("{}/me/notifications", self.base))
            .bearer_auth(ALICE)
            .header("x-uns", uns)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Peak resident memory of the process so far, in KiB.
    pub fn peak_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub mod postgres;
