//! A user who points push endpoints inside the service's network (server-side request
//! forgery), tried as an attacker would: over HTTP against the real binary, with an
//! ordinary user's token. The attacker's targets are real TCP listeners on this machine
//! that count the connections they accept, so "never connected" is measured, not assumed.

mod common;

use std::net::{SocketAddr, TcpListener as StdListener, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// A TCP listener that accepts and counts connections (a TLS client gets no answer and
/// gives up): what the service would reach if it connected.
struct Target {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl Target {
    /// Listens on every address in `addresses`, on one port.
    fn on(addresses: &[std::net::IpAddr]) -> Target {
        'retry: loop {
            let first = StdListener::bind(SocketAddr::new(addresses[0], 0)).unwrap();
            let port = first.local_addr().unwrap().port();
            let mut listeners = vec![first];
            for address in &addresses[1..] {
                match StdListener::bind(SocketAddr::new(*address, port)) {
                    Ok(listener) => listeners.push(listener),
                    Err(_) => continue 'retry,
                }
            }
            let accepted = Arc::new(AtomicUsize::new(0));
            for listener in listeners {
                let accepted = Arc::clone(&accepted);
                std::thread::spawn(move || {
                    for stream in listener.incoming().flatten() {
                        accepted.fetch_add(1, Ordering::SeqCst);
                        drop(stream);
                    }
                });
            }
            return Target { port, accepted };
        }
    }

    fn loopback() -> Target {
        Target::on(&["127.0.0.1".parse().unwrap()])
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// A subscription body for `endpoint` with valid keys.
fn subscription(endpoint: &str) -> Value {
    let receiver_less = FakeBrowser {
        secret: p256::SecretKey::random(&mut aes_gcm::aead::OsRng),
        auth: [7; 16],
        endpoint: endpoint.to_owned(),
    };
    receiver_less.subscription_body(HOST)
}

async fn json_of(answer: reqwest::Response) -> Value {
    serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap()
}

async fn register(http: &reqwest::Client, base: &str, endpoint: &str) -> (u16, Value) {
    let answer = http
        .post(format!("{base}/me/notificationSubscriptions"))
        .bearer_auth(ALICE)
        .header("content-type", "application/json")
        .body(subscription(endpoint).to_string())
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, json_of(answer).await)
}

/// Posts as alice to `uns`; returns the notification's id.
async fn post(http: &reqwest::Client, base: &str, uns: &str) -> String {
    let answer = http
        .post(format!("{base}/me/notifications"))
        .bearer_auth(ALICE)
        .header("x-uns", uns)
        .header("content-type", "application/json")
        .body(notification("to an internal address").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    let body = json_of(answer).await;
    body["id"].as_str().unwrap().to_owned()
}

/// Polls the notification's delivery until it is given up; returns it.
async fn failed_delivery(http: &reqwest::Client, base: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = http
            .get(format!("{base}/me/notifications/{id}/deliveries"))
            .bearer_auth(ALICE)
            .send()
            .await
            .unwrap();
        let body = json_of(answer).await;
        let delivery = body["value"][0].clone();
        if delivery["state"] == "failed" {
            return delivery;
        }
        assert!(
            Instant::now() < deadline,
            "the delivery was not given up: {delivery}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn endpoints_at_internal_addresses_or_off_the_push_services_are_refused_and_never_connected()
{
    let target = Target::loopback();
    let port = target.port;
    let files = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    // Production settings: no loopback receivers, the browsers' push services only.
    let service = Binary::start_with(
        files.path().join("service.db"),
        None,
        &[("USERNOTIFY_ALLOW_LOOPBACK_PUSH", "0")],
    )
    .await;
    let internal = [
        format!("https://127.0.0.1:{port}/"),
        format!("https://[::ffff:127.0.0.1]:{port}/"),
        format!("https://0.0.0.0:{port}/"),
        format!("https://localhost:{port}/"),
        format!("https://LOCALHOST.:{port}/"),
        format!("https://push.localhost:{port}/"),
        format!("https://0x7f.1:{port}/"),
        format!("https://2130706433:{port}/"),
        format!("https://[::1]:{port}/"),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://[::ffff:169.254.169.254]/latest/meta-data/".to_owned(),
        "https://10.255.255.1/".to_owned(),
        "https://172.16.0.1/".to_owned(),
        "https://192.168.1.1/".to_owned(),
        "https://100.64.0.1/".to_owned(),
        "https://[fe80::1]/".to_owned(),
        "https://[fd00::1]/".to_owned(),
        "https://224.0.0.1/".to_owned(),
        "https://[64:ff9b::a9fe:a9fe]/".to_owned(),
        format!("http://127.0.0.1:{port}/"),
    ];
    for endpoint in &internal {
        let (status, body) = register(&http, &service.base, endpoint).await;
        assert_eq!(status, 400, "{endpoint}: {body}");
        assert_eq!(body["error"]["code"], "invalid-subscription", "{endpoint}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("public internet") || message.contains("https URL"),
            "{endpoint}: {message}"
        );
    }
    // Public, but not a browser's push service.
    for endpoint in [
        "https://push.attacker.example/x",
        "https://8.8.8.8/x",
        "https://push.apple.com.attacker.example/x",
    ] {
        let (status, body) = register(&http, &service.base, endpoint).await;
        assert_eq!(status, 400, "{endpoint}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("push service"), "{endpoint}: {message}");
    }
    // A real push service's endpoint registers (nothing is sent to it here).
    let (status, body) = register(
        &http,
        &service.base,
        "https://fcm.googleapis.com/fcm/send/abc:def",
    )
    .await;
    assert_eq!(status, 201, "{body}");
    drop(service);

    // The tests' loopback setting lets loopback in, and nothing else private.
    let loopback_allowed = Binary::start(files.path().join("loopback.db")).await;
    for endpoint in [
        "https://10.255.255.1/",
        "http://192.168.1.1/",
        "https://[fe80::1]/",
    ] {
        let (status, _) = register(&http, &loopback_allowed.base, endpoint).await;
        assert_eq!(status, 400, "{endpoint}");
    }
    let (status, _) = register(
        &http,
        &loopback_allowed.base,
        &format!("http://127.0.0.1:{port}/push/x"),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(target.accepted(), 0, "no connection reached the target");
}

/// DNS rebinding, for real: the machine's own host name is a name like any other to the
/// registration (which resolves nothing), while the system resolver (/etc/hosts or DNS,
/// whatever this machine uses) answers it with an address of this machine, never a public
/// one. The service must resolve it again at connection time and refuse to dial.
#[tokio::test]
async fn a_name_that_resolves_to_an_internal_address_is_never_dialled() {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned();
    let addresses: Vec<std::net::IpAddr> = (name.as_str(), 0)
        .to_socket_addrs()
        .unwrap_or_else(|error| panic!("this machine's name {name:?} does not resolve: {error}"))
        .map(|address| address.ip())
        .collect();
    assert!(!addresses.is_empty());
    for address in &addresses {
        assert!(
            !usernotify_service::egress::is_public(*address),
            "{name} resolves to the public {address}: this test needs a name of this machine"
        );
    }
    let target = Target::on(&addresses);
    // Control: the name leads to the target, so a service that dialled it would be seen.
    std::net::TcpStream::connect((name.as_str(), target.port)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while target.accepted() == 0 {
        assert!(
            Instant::now() < deadline,
            "the control connection was not seen"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let before = target.accepted();

    let files = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    // The operator even lists the name as a push service: the address check still holds.
    let hosts = format!("default,{name}");
    let service = Binary::start_with(
        files.path().join("service.db"),
        None,
        &[
            ("USERNOTIFY_ALLOW_LOOPBACK_PUSH", "0"),
            ("USERNOTIFY_PUSH_HOSTS", &hosts),
        ],
    )
    .await;
    let endpoint = format!("https://{name}:{}/push/rebound", target.port);
    let (status, body) = register(&http, &service.base, &endpoint).await;
    assert_eq!(
        status, 201,
        "a name is not resolved at registration: {body}"
    );
    let uns = body["id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let id = post(&http, &service.base, &uns).await;
        let delivery = failed_delivery(&http, &service.base, &id).await;
        assert_eq!(delivery["reason"], "forbidden-address", "{delivery}");
        assert_eq!(delivery["attempts"], 1, "not retried: {delivery}");
    }
    assert_eq!(
        target.accepted(),
        before,
        "the service never connected to {name}"
    );
}

/// A subscription stored while loopback was allowed (or by an earlier release, before
/// these checks) is checked again when each push is built: after a restart without the
/// setting, it is not dialled.
#[tokio::test]
async fn an_endpoint_registered_under_a_looser_setting_is_not_dialled_after_it_is_tightened() {
    let receiver = PushReceiver::start().await;
    let browser = FakeBrowser::new(&receiver, "stored-earlier");
    let files = tempfile::tempdir().unwrap();
    let db = files.path().join("service.db");
    let http = reqwest::Client::new();
    let loose = Binary::start(&db).await;
    let uns = loose.subscribe(&browser).await;
    assert_eq!(loose.notify(&uns, &notification("allowed then")).await, 201);
    receiver.wait_for(1).await;
    drop(loose);

    let tight = Binary::start_with(&db, None, &[("USERNOTIFY_ALLOW_LOOPBACK_PUSH", "0")]).await;
    let id = post(&http, &tight.base, &uns).await;
    let delivery = failed_delivery(&http, &tight.base, &id).await;
    assert_eq!(delivery["reason"], "forbidden-address", "{delivery}");
    assert_eq!(
        receiver.count(),
        1,
        "nothing more reached the loopback receiver"
    );
}
