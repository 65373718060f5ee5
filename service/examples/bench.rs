//! Throughput of the real service on loopback: `POST /me/notifications` accepted per second
//! (with the fan-out queued), request latency, and pushes delivered per second to a loopback
//! push receiver that answers 201 without decrypting. Side by side in one run: SQLite (one
//! process) and PostgreSQL with 1, 2 and 3 replicas on one database, at default durability
//! (a throwaway cluster from `scripts/pg-cluster.sh`). Prints Markdown tables, and where the
//! time goes: the encryption of one push, and PostgreSQL transactions per post and per
//! delivery (from `pg_stat_database`).
//!
//! ```sh
//! cargo run --release -p usernotify-service --example bench [scale] [sqlite|postgres]
//! ```
//!
//! The replicas run in this process (each its own `usernotify_service::start`: its own
//! listener, connection pool and delivery worker), posted to round-robin, so they share the
//! machine's cores as separate processes would. The peak memory (VmHWM) covers everything
//! in the process: replicas, load generator and receiver.

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
use usernotify_service::{start, Config, DbLocation, RunningService};

const TOKEN: &str = "bench-token";
/// The VAPID `sub` the service requires.
const VAPID_SUBJECT: &str = "mailto:bench@usernotify.test";
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
    services: &[RunningService],
    receiver: &Arc<Receiver>,
    receiver_addr: SocketAddr,
    run: usize,
    subscriptions: usize,
    posts: usize,
    wait_for_pushes: bool,
) -> Result<Outcome, Error> {
    let bases: Vec<String> = services
        .iter()
        .map(|service| format!("http://{}", service.local_addr()))
        .collect();
    let base = bases.first().cloned().unwrap_or_default();
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
        let (http, bases, uns, next, expires) = (
            http.clone(),
            bases.clone(),
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
                let base = bases
                    .get(index as usize % bases.len().max(1))
                    .cloned()
                    .unwrap_or_default();
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

/// One deployment under test: SQLite, or PostgreSQL with some replicas.
struct Deployment {
    name: String,
    outcomes: Vec<Outcome>,
    backlog_expected: u64,
    backlog_drained: u64,
    backlog_secs: f64,
    /// PostgreSQL statements per post (worker off) and per delivery (the drain alone).
    statements_per_post: Option<f64>,
    statements_per_delivery: Option<f64>,
}

fn config(db: &DbLocation, run_worker: bool) -> Result<Config, Error> {
    let mut config = Config::new(db.clone())
        .with_token(TOKEN, "bench")
        .with_vapid_subject(VAPID_SUBJECT)
        .ok_or("bad VAPID subject")?;
    // The service's own setting, for trying other pool sizes.
    if let Some(pool) = std::env::var("USERNOTIFY_DB_POOL")
        .ok()
        .and_then(|pool| pool.parse().ok())
    {
        config.db_settings.max_connections = pool;
    }
    config.allow_loopback_push = true;
    config.rate_per_minute = 0;
    config.delivery.run_worker = run_worker;
    Ok(config)
}

async fn start_replicas(
    db: &DbLocation,
    count: usize,
    run_worker: bool,
) -> Result<Vec<RunningService>, Error> {
    let mut services = Vec::new();
    for _ in 0..count {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        services.push(start(config(db, run_worker)?, listener).await?);
    }
    Ok(services)
}

/// Statements the service ran in database `name` so far, as `pg_stat_statements` counts
/// them (each is one round trip), read from the server's own database.
async fn statements(admin_url: &str, name: &str) -> Result<i64, Error> {
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(admin_url).await?;
    let count: Option<i64> = sqlx::query_scalar(
        "SELECT sum(calls)::bigint FROM pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1)",
    )
    .bind(name)
    .fetch_one(&mut connection)
    .await?;
    connection.close().await?;
    Ok(count.unwrap_or(0))
}

/// What one deployment runs on: `db` (a SQLite file or a PostgreSQL database) and a
/// second, empty one for the backlog, with `replicas` service processes on each.
struct Plan {
    name: String,
    db: DbLocation,
    backlog_db: DbLocation,
    /// For PostgreSQL: the server's own database and the backlog database's name, where
    /// statements are counted.
    counted: Option<(String, String)>,
    replicas: usize,
    /// Scenario numbers start here (each scenario posts for its own host).
    run_base: usize,
}

async fn run_deployment(
    plan: Plan,
    scale: f64,
    receiver: &Arc<Receiver>,
    receiver_addr: SocketAddr,
) -> Result<Deployment, Error> {
    let Plan {
        name,
        db,
        backlog_db,
        counted,
        replicas,
        run_base,
    } = plan;
    let count = || async {
        match &counted {
            Some((admin, name)) => statements(admin, name).await.map(Some),
            None => Ok(None),
        }
    };
    let services = start_replicas(&db, replicas, true).await?;
    let mut outcomes = Vec::new();
    let runs = [
        (1usize, (10_000.0 * scale) as usize),
        (100, (300.0 * scale) as usize),
    ];
    for (offset, (subscriptions, posts)) in runs.into_iter().enumerate() {
        eprintln!("{name}: {posts} posts to 1 user x {subscriptions} subscriptions");
        outcomes.push(
            scenario(
                &services,
                receiver,
                receiver_addr,
                run_base + offset,
                subscriptions,
                posts.max(1),
                true,
            )
            .await?,
        );
    }
    for service in services {
        service.shutdown().await;
    }

    // Delivery alone: queue a backlog with the workers off, then start them and time the
    // drain.
    let backlog_posts = ((200.0 * scale) as usize).max(1);
    let queued = start_replicas(&backlog_db, replicas, false).await?;
    eprintln!("{name}: backlog of {backlog_posts} posts x 100 subscriptions, then drained");
    let before_posts = count().await?;
    let backlog = scenario(
        &queued,
        receiver,
        receiver_addr,
        run_base + 9,
        100,
        backlog_posts,
        false,
    )
    .await?;
    let after_posts = count().await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    receiver.reset();
    let drain_started = Instant::now();
    let mut workers = Vec::new();
    for service in &queued {
        workers.push(usernotify_service::spawn_delivery_worker(
            service.state(),
            stopped.clone(),
        )?);
    }
    let expected = (backlog.posts * 100) as u64;
    let deadline = Instant::now() + DRAIN_LIMIT;
    while receiver.count.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drained = receiver.count.load(Ordering::Relaxed);
    let drain_secs = drain_started.elapsed().as_secs_f64();
    // Let the last outcomes be recorded before counting.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after_drain = count().await?;
    let _ = stop.send(true);
    for worker in workers {
        let _ = worker.await;
    }
    for service in queued {
        service.shutdown().await;
    }
    let per = |from: Option<i64>, to: Option<i64>, count: u64| match (from, to) {
        (Some(from), Some(to)) if count > 0 => Some((to - from) as f64 / count as f64),
        _ => None,
    };
    Ok(Deployment {
        name,
        outcomes,
        backlog_expected: expected,
        backlog_drained: drained,
        backlog_secs: drain_secs,
        // The scenario registers its 100 subscriptions first, one statement each.
        statements_per_post: per(
            before_posts.map(|count| count + 100),
            after_posts,
            backlog.posts as u64,
        ),
        statements_per_delivery: per(after_posts, after_drain, drained),
    })
}

/// A PostgreSQL cluster of the bench's own, at default durability: the URL of its server
/// database; the cluster stops when `control` (its stdin) is dropped.
async fn start_postgres() -> Result<(String, std::process::Child), Error> {
    use std::io::BufRead;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pg-cluster.sh");
    let mut child = std::process::Command::new(script)
        .arg(port.to_string())
        .args([
            "-c",
            "max_connections=200",
            "-c",
            "shared_preload_libraries=pg_stat_statements",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    if !line.starts_with("postgres://") {
        return Err("the PostgreSQL cluster did not start (scripts/install-tools.sh)".into());
    }
    let url = line.trim().to_owned();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await?;
    sqlx::query("CREATE EXTENSION pg_stat_statements")
        .execute(&mut admin)
        .await?;
    Ok((url, child))
}

async fn create_database(admin_url: &str, name: &str) -> Result<String, Error> {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    // Two statements: CREATE DATABASE cannot share a transaction with another.
    for statement in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut admin)
            .await?;
    }
    admin.close().await?;
    let base = admin_url
        .rsplit_once('/')
        .map(|(base, _)| base)
        .unwrap_or(admin_url);
    Ok(format!("{base}/{name}"))
}

/// Microseconds to build one push request (RFC 8291 encryption with a fresh key pair and
/// ECDH, the VAPID header reused), on one core.
fn encryption_micros() -> Result<f64, Error> {
    use usernotify_service::push::{build_request, PushMessage};
    let (private, _) = usernotify_service::vapid::Vapid::generate();
    let subject =
        usernotify_service::vapid::VapidSubject::parse(VAPID_SUBJECT).ok_or("bad VAPID subject")?;
    let vapid = usernotify_service::vapid::Vapid::from_private_key(&private, subject)?;
    let secret = p256::SecretKey::random(&mut aes_gcm::aead::OsRng);
    let p256dh = secret.public_key().to_encoded_point(false);
    let payload = vec![b'x'; 300];
    let message = PushMessage {
        payload: &payload,
        ttl_secs: 3600,
        urgency: "normal",
        topic: None,
    };
    let rounds = 2_000;
    let started = Instant::now();
    for _ in 0..rounds {
        build_request(
            "https://fcm.googleapis.com/fcm/send/x",
            p256dh.as_bytes(),
            &[7u8; 16],
            &message,
            &vapid,
            &usernotify_service::egress::PushPolicy::default(),
        )
        .map_err(|error| format!("{error:?}"))?;
    }
    Ok(started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds))
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
    let only = args.get(2).map(String::as_str);
    let dir = tempfile::tempdir()?;
    let (receiver_addr, receiver) = start_receiver().await?;
    let mut deployments = Vec::new();
    if only != Some("postgres") {
        deployments.push(
            run_deployment(
                Plan {
                    name: "SQLite, 1 process".to_owned(),
                    db: DbLocation::from(dir.path().join("bench.db")),
                    backlog_db: DbLocation::from(dir.path().join("backlog.db")),
                    counted: None,
                    replicas: 1,
                    run_base: 0,
                },
                scale,
                &receiver,
                receiver_addr,
            )
            .await?,
        );
    }
    let mut cluster = None;
    if only != Some("sqlite") {
        // USERNOTIFY_BENCH_POSTGRES=postgres://.../postgres: a running server instead (it
        // needs pg_stat_statements loaded; the bench's databases are made anew in it).
        let (admin_url, child) = match std::env::var("USERNOTIFY_BENCH_POSTGRES") {
            Ok(url) if !url.trim().is_empty() => (url.trim().to_owned(), None),
            _ => {
                let (url, child) = start_postgres().await?;
                (url, Some(child))
            }
        };
        for replicas in 1..=3usize {
            let db = create_database(&admin_url, &format!("bench_{replicas}")).await?;
            let backlog = create_database(&admin_url, &format!("backlog_{replicas}")).await?;
            deployments.push(
                run_deployment(
                    Plan {
                        name: format!(
                            "PostgreSQL, {replicas} replica{}",
                            if replicas == 1 { "" } else { "s" }
                        ),
                        db: DbLocation::from(db),
                        backlog_db: DbLocation::from(backlog),
                        counted: Some((admin_url.clone(), format!("backlog_{replicas}"))),
                        replicas,
                        run_base: replicas * 10,
                    },
                    scale,
                    &receiver,
                    receiver_addr,
                )
                .await?,
            );
        }
        cluster = child;
    }

    println!(
        "| deployment | scenario | posts | errors | accepted/s | p50 ms | p99 ms | pushes delivered | pushes/s |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for deployment in &deployments {
        for outcome in &deployment.outcomes {
            println!(
                "| {} | 1 user x {} subscription{} | {} | {} | {:.0} | {:.2} | {:.2} | {}{} | {:.0} |",
                deployment.name,
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
    }
    println!();
    println!(
        "| deployment | backlog drained (1 user x 100 subscriptions) | pushes/s | statements per post | per delivery |"
    );
    println!("|---|---:|---:|---:|---:|");
    let show = |value: Option<f64>| {
        value
            .map(|value| format!("{value:.2}"))
            .unwrap_or_else(|| "".to_owned())
    };
    for deployment in &deployments {
        println!(
            "| {} | {} of {} in {:.2} s | {:.0} | {} | {} |",
            deployment.name,
            deployment.backlog_drained,
            deployment.backlog_expected,
            deployment.backlog_secs,
            deployment.backlog_drained as f64 / deployment.backlog_secs,
            show(deployment.statements_per_post),
            show(deployment.statements_per_delivery),
        );
    }
    println!();
    println!(
        "{CLIENTS} concurrent clients, posting round-robin over the replicas; pushes/s counts \
         from the first post to the last push received. Encrypting one push (a fresh P-256 key \
         pair, ECDH, HKDF, AES-GCM; VAPID header reused): {:.0} µs on one core. Peak memory \
         (VmHWM, everything in this process): {:.1} MiB",
        encryption_micros()?,
        peak_memory_mib().unwrap_or(f64::NAN)
    );
    drop(cluster);
    Ok(())
}
