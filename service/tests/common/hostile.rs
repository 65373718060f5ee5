//! What the hostile-tenant suites share: a push service that accepts connections and never
//! answers (the attacker's endpoint), and users of the real binary, each with a token.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use super::{FakeBrowser, PushReceiver, HOST, VAPID_SUBJECT};

/// A "push service" on 127.0.0.1 that accepts every connection, reads what is sent and never
/// answers: each push to it holds its sender until the sender's own timeout.
pub struct Tarpit {
    pub port: u16,
    open: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Tarpit {
    pub async fn start() -> Tarpit {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (open_in, most_in) = (Arc::clone(&open), Arc::clone(&most));
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let now = open_in.fetch_add(1, Ordering::SeqCst) + 1;
                most_in.fetch_max(now, Ordering::SeqCst);
                let open = Arc::clone(&open_in);
                tokio::spawn(async move {
                    let mut sink = [0u8; 4096];
                    while matches!(socket.read(&mut sink).await, Ok(read) if read > 0) {}
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Tarpit {
            port,
            open,
            most,
            task,
        }
    }

    pub fn endpoint(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/push/{name}", self.port)
    }

    /// Connections held open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// The most connections held open at once so far.
    pub fn most_at_once(&self) -> usize {
        self.most.load(Ordering::SeqCst)
    }

    /// Waits until `count` connections are held open at once (20 s at most).
    pub async fn wait_for_open(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.open() < count {
            assert!(
                Instant::now() < deadline,
                "only {} of {count} pushes hang at the tarpit",
                self.open()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Tarpit {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The tokens of the users the hostile suites run as, for `USERNOTIFY_TOKENS`.
pub const TOKENS: &str = "alice-token:alice,bob-token:bob";

/// The binary's settings for the hostile suites: alice and bob, loopback push allowed, no
/// rate limit (the bounds under test are the others), and `more`.
pub fn settings<'a>(more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![
        ("USERNOTIFY_TOKENS", TOKENS),
        ("USERNOTIFY_ALLOW_LOOPBACK_PUSH", "1"),
        ("USERNOTIFY_RATE_PER_MINUTE", "0"),
        ("USERNOTIFY_VAPID_SUBJECT", VAPID_SUBJECT),
    ];
    all.extend_from_slice(more);
    all
}

/// A signed-in user of a service at `base` (the binary, or one replica of it).
#[derive(Clone)]
pub struct Tenant {
    pub base: String,
    pub token: &'static str,
    pub http: reqwest::Client,
}

/// An answer: status and body as JSON (`Null` when there is none).
pub struct Answered {
    pub status: u16,
    pub body: Value,
}

impl Answered {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }
}

impl Tenant {
    pub fn new(base: &str, token: &'static str) -> Tenant {
        Tenant {
            base: base.to_owned(),
            token,
            http: reqwest::Client::new(),
        }
    }

    /// The same user through another replica.
    pub fn at(&self, base: &str) -> Tenant {
        Tenant::new(base, self.token)
    }

    async fn answered(request: reqwest::RequestBuilder) -> Answered {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        Answered {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// Registers `browser` on the app's host; the answer.
    pub async fn register(&self, browser: &FakeBrowser) -> Answered {
        Tenant::answered(
            self.http
                .post(format!("{}/me/notificationSubscriptions", self.base))
                .bearer_auth(self.token)
                .header("content-type", "application/json")
                .body(browser.subscription_body(HOST).to_string()),
        )
        .await
    }

    /// Registers a browser whose endpoint is `endpoint`; its UNSID.
    pub async fn subscribe_at(&self, receiver: &PushReceiver, endpoint: &str) -> String {
        let mut browser = FakeBrowser::new(receiver, "unused");
        browser.endpoint = endpoint.to_owned();
        let answer = self.register(&browser).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        answer.body["id"].as_str().unwrap().to_owned()
    }

    /// Posts a notification for the user of `uns`; the answer.
    pub async fn post(&self, uns: &str, body: &Value) -> Answered {
        Tenant::answered(
            self.http
                .post(format!("{}/me/notifications", self.base))
                .bearer_auth(self.token)
                .header("x-uns", uns)
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// A `GET` of `path_or_link` (a path on the service, or a link it answered).
    pub async fn get(&self, path_or_link: &str) -> Answered {
        let url = if path_or_link.starts_with("http") {
            path_or_link.to_owned()
        } else {
            format!("{}{path_or_link}", self.base)
        };
        Tenant::answered(self.http.get(url).bearer_auth(self.token)).await
    }

    pub async fn delete(&self, path: &str) -> u16 {
        self.http
            .delete(format!("{}{path}", self.base))
            .bearer_auth(self.token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// A notification for the app's host, with a body of `filler` bytes.
pub fn titled(title: &str, filler: usize) -> Value {
    json!({
        "targetHostName": HOST,
        "payload": { "visualContent": { "title": title, "body": "x".repeat(filler) } },
    })
}
