//! Throughput of the real service on loopback: `POST /me/notifications` accepted per second
//! (with the fan-out queued), request latency, and pushes delivered per second to a loopback
//! push receiver that answers 201 without decrypting. Prints a Markdown table.
//!
//! ```sh
//! cargo run --release -p usernotify-service --example bench
//! ```
//!
//! The service runs in this process (`usernotify_service::start`), so the peak memory
//! (VmHWM) covers the service, the load generator and the receiver together.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use usernotify_service::{start, Config, RunningService};

const TOKEN: &str = "bench-token";
/// Concurrent HTTP clients posting notifications.
const CLIENTS: usize = 32;
/// The whole run must finish by itself; a scenario gives up waiting for pushes after this.
const DRAIN_LIMIT: Duration = Duration::from_secs(40);

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Counts pushes and remembers when the first and the last arrived.
#[derive(Default)]
struct Receiver {
    count: AtomicU64,
    span: Mutex<Option<(Instant, Instant)>>,
}

impl Receiver {
    fn note(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        if let Ok(mut span) = self.span.lock() {
            *span = Some(match *span {
                Some((first, _)) => (first, now),
                None => (now, now),
            });
        }
    }

    fn reset(&self) {
        self.count.store(0, Ordering::Relaxed);
        if let Ok(mut span) = self.span.lock() {
            *span = None;
        }
    }
}

async fn start_receiver() -> Result<(SocketAddr, Arc<Receiver>), Error> {
    let receiver = Arc::new(Receiver::default());
    let shared = Arc::clone(&receiver);
    let app = Router::new().route(
        "/push/{name}",
        post(move || {
            let shared = Arc::clone(&shared);
            async move {
                shared.note();
                StatusCode::CREATED
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, receiver))
}

/// Each scenario's own app host, so its posts fan out to its own subscriptions only.
fn host(run: usize) -> String {
    format!("app{run}.example")
}

fn subscription_body(endpoint: &str, host: &str) -> Value {
    let secret = p256::SecretKey::random(&mut aes_gcm::aead::OsRng);
    let p256dh = secret.public_key().to_encoded_point(false);
    json!({
        "pushSubscription": {
            "endpoint": endpoint,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(p256dh.as_bytes()),
                "auth": URL_SAFE_NO_PAD.encode([7u8; 16]),
            },
        },
        "targetHostName": host,
    })
}

struct Outcome {
    subscriptions: usize,
    posts: usize,
    errors: usize,
    post_secs: f64,
    p50: Duration,
    p99: Duration,
    delivered: u64,
    delivery_secs: f64,
    drained: bool,
}

async fn scenario(
    service: &RunningService,
    receiver: &Arc<Receiver>,
    receiver_addr: SocketAddr,
    run: usize,
    subscriptions: usize,
    posts: usize,
    wait_for_pushes: bool,
) -> Result<Outcome, Error> {
    let base = format!("http://{}", service.local_addr());
    let http = reqwest::Client::new();
    let mut uns = String::new();
    for index in 0..subscriptions {
        let endpoint = format!("http://{receiver_addr}/push/run{run}-{index}");
        let answer = http
            .post(format!("{base}/me/notificationSubscriptions"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(subscription_body(&endpoint, &host(run)).to_string())
            .send()
            .await?;
        if answer.status() != StatusCode::CREATED {
            return Err(format!("subscribe answered {}", answer.status()).into());
        }
        let body: Value = serde_json::from_slice(&answer.bytes().await?)?;
        uns = body["id"].as_str().unwrap_or_default().to_owned();
    }
    receiver.reset();
    let expires =
        usernotify::core::format_iso8601(usernotify_service::clock::now_millis() + 3_600_000);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let (http, base, uns, next, expires) = (
            http.clone(),
            base.clone(),
            uns.clone(),
            Arc::clone(&next),
            expires.clone(),
        );
        clients.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= posts as u64 {
                    break;
                }
                let body = json!({
                    "targetHostName": host(run),
                    "expirationDateTime": expires,
                    "payload": { "visualContent": {
                        "title": format!("Bench {run}/{index}"),
                        "body": "A notification of ordinary size, about a sentence long.",
                    } },
                });
                let sent = Instant::now();
                let answer = http
                    .post(format!("{base}/me/notifications"))
                    .bearer_auth(TOKEN)
                    .header("x-uns", &uns)
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await;
                let ok = match answer {
                    Ok(response) => {
                        let status = response.status();
                        let _ = response.bytes().await;
                        status == StatusCode::CREATED
                    }
                    Err(_) => false,
                };
                latencies.push(sent.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        });
    }
    let mut latencies = Vec::with_capacity(posts);
    let mut errors = 0;
    while let Some(joined) = clients.join_next().await {
        let (mine, failed) = joined?;
        latencies.extend(mine);
        errors += failed;
    }
    let post_secs = started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |fraction: f64| {
        let index = ((latencies.len() as f64 - 1.0) * fraction).round() as usize;
        latencies.get(index).copied().unwrap_or_default()
    };
    let expected = ((posts - errors) * subscriptions) as u64;
    let deadline = Instant::now() + DRAIN_LIMIT;
    while wait_for_pushes
        && receiver.count.load(Ordering::Relaxed) < expected
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let delivered = receiver.count.load(Ordering::Relaxed);
    // Deliveries per second from the first post to the last push that arrived.
    let delivery_secs = receiver
        .span
        .lock()
        .ok()
        .and_then(|span| *span)
        .map(|(_, last)| last.duration_since(started).as_secs_f64())
        .unwrap_or(f64::NAN);
    Ok(Outcome {
        subscriptions,
        posts,
        errors,
        post_secs,
        p50: at(0.50),
        p99: at(0.99),
        delivered,
        delivery_secs,
        drained: delivered >= expected,
    })
}

/// The process's peak resident memory in MiB, from `/proc/self/status`.
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Quiet unless asked: `RUST_LOG=info` shows every request and push on stderr.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let args: Vec<String> = std::env::args().collect();
    let scale: f64 = args
        .get(1)
        .and_then(|value| value.parse().ok())
        .unwrap_or(1.0);
    let dir = tempfile::tempdir()?;
    let mut config = Config::new(dir.path().join("bench.db")).with_token(TOKEN, "bench");
    config.allow_loopback_push = true;
    config.rate_per_minute = 0;
    let (receiver_addr, receiver) = start_receiver().await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let service = start(config, listener).await?;

    let mut outcomes = Vec::new();
    let runs = [
        (1usize, (10_000.0 * scale) as usize),
        (100, (300.0 * scale) as usize),
    ];
    for (run, (subscriptions, posts)) in runs.into_iter().enumerate() {
        eprintln!("scenario {run}: {posts} posts to 1 user x {subscriptions} subscriptions");
        outcomes.push(
            scenario(
                &service,
                &receiver,
                receiver_addr,
                run,
                subscriptions,
                posts.max(1),
                true,
            )
            .await?,
        );
    }
    service.shutdown().await;

    // Delivery alone: queue a backlog with the worker off, then start it and time the drain.
    let backlog_posts = ((200.0 * scale) as usize).max(1);
    let mut config = Config::new(dir.path().join("backlog.db")).with_token(TOKEN, "bench");
    config.allow_loopback_push = true;
    config.rate_per_minute = 0;
    config.delivery.run_worker = false;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let queued = start(config, listener).await?;
    eprintln!("backlog: {backlog_posts} posts x 100 subscriptions queued, then drained");
    let backlog = scenario(
        &queued,
        &receiver,
        receiver_addr,
        9,
        100,
        backlog_posts,
        false,
    )
    .await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    receiver.reset();
    let drain_started = Instant::now();
    let worker = usernotify_service::spawn_delivery_worker(queued.state(), stopped)?;
    let expected = (backlog.posts * 100) as u64;
    let deadline = Instant::now() + DRAIN_LIMIT;
    while receiver.count.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drained = receiver.count.load(Ordering::Relaxed);
    let drain_secs = drain_started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    let _ = worker.await;
    queued.shutdown().await;

    println!(
        "| scenario | posts | errors | accepted/s | p50 ms | p99 ms | pushes delivered | pushes/s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for outcome in &outcomes {
        println!(
            "| 1 user x {} subscription{} | {} | {} | {:.0} | {:.2} | {:.2} | {}{} | {:.0} |",
            outcome.subscriptions,
            if outcome.subscriptions == 1 { "" } else { "s" },
            outcome.posts,
            outcome.errors,
            outcome.posts as f64 / outcome.post_secs,
            millis(outcome.p50),
            millis(outcome.p99),
            outcome.delivered,
            if outcome.drained { "" } else { " (not all)" },
            outcome.delivered as f64 / outcome.delivery_secs,
        );
    }
    println!();
    println!(
        "Backlog: {drained} of {expected} queued pushes (1 user x 100 subscriptions) sent in \
         {drain_secs:.2} s by the worker alone: {:.0} pushes/s.",
        drained as f64 / drain_secs
    );
    println!();
    println!(
        "{CLIENTS} concurrent clients; pushes/s counts from the first post to the last push \
         received. Peak memory (VmHWM, service + load generator + receiver in one process): \
         {:.1} MiB",
        peak_memory_mib().unwrap_or(f64::NAN)
    );
    Ok(())
}
