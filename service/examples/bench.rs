//! The app service's benchmark (`make bench`): the real service on loopback, posted to over
//! real HTTP, pushing to a loopback push receiver that answers 201 without decrypting. Side
//! by side in one run: SQLite (one process) and PostgreSQL with 1 and 3 replicas on one
//! database, at default durability (a throwaway cluster from `scripts/pg-cluster.sh`, with
//! `pg_stat_statements`). Prints Markdown tables:
//!
//! 1. **Posts and pushes at once**: many users each with a few browsers, posts spread over
//!    them; one user with one browser (10,000 posts); one user with 100 browsers. Posts
//!    accepted per second and the post request's p50/p99; pushes per second while the posts
//!    arrive and up to the last push; p50/p99 from a post sent to its push received.
//! 2. **A backlog drained**: each of the same shapes queued with the delivery workers off,
//!    then drained: pushes per second, and on PostgreSQL the statements per post and per
//!    push.
//! 3. **A user who holds 100,000 notifications** (put in in bulk through the database, as
//!    a test would), against a fresh user with the same browsers and posts, in one
//!    database, in turns (fresh, hoarder, hoarder, fresh, hoarder, fresh, fresh, hoarder,
//!    so that a drift in the machine's load falls on both alike): both, and their ratio.
//! 4. **The noisy neighbour** (SQLite and PostgreSQL with 3 replicas): bob's 100 browsers
//!    are at push services that accept connections and never answer, and he posts once, so
//!    his pushes hang; meanwhile alice posts 200 times, 40 a second, and the bench gives the
//!    time from each of her posts to its push's arrival, with the default share of the
//!    senders per user and with 100.
//!
//! Every scenario runs on a database of its own, with users of its own, and checks that
//! every push expected arrived exactly once ("lost / twice"; "stray" counts pushes nobody
//! expected). The receiver knows each push's post without decrypting: every post carries
//! an `appNotificationId` (`b123`), which the service sends verbatim as the push's RFC 8030
//! `Topic` (an app that replaces its notifications does the same; on PostgreSQL it costs
//! the post one indexed lookup). Delivery runs with the service's default settings (the
//! pool, the shares per user and per push host, the timeouts) except where a scenario says.
//!
//! ```sh
//! cargo run --release -p usernotify-service --example bench [scale] [sqlite|postgres]
//! ```
//!
//! `scale` (default 1) multiplies every count of posts. The replicas run in this process
//! (each its own `usernotify_service::start`: its own listener, connection pool and
//! delivery worker), posted to round-robin, so they share the machine's cores as separate
//! processes would, with the load generator and the receiver. The peak memory (VmHWM)
//! covers everything in the process.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use usernotify_service::{start, Config, DbLocation, RunningService};

/// The VAPID `sub` the service requires.
const VAPID_SUBJECT: &str = "mailto:bench@usernotify.test";
/// The app's host: every browser is registered for it and every post targets it.
const APP_HOST: &str = "app.example";
/// Concurrent HTTP clients posting notifications.
const CLIENTS: usize = 32;
/// Users of the scenario with many users.
const MANY_USERS: usize = 100;
/// Browsers of each of them.
const MANY_BROWSERS: usize = 5;
/// What the hoarder holds before the measurement.
const HOARD: i64 = 100_000;
/// Browsers of the hoarder and of the fresh user measured against him.
const HOARD_BROWSERS: usize = 10;
/// Whose round comes when: 0 the fresh user, 1 the hoarder.
const HOARD_TURNS: [usize; 8] = [0, 1, 1, 0, 1, 0, 0, 1];
/// Bob's hanging browsers, spread over this many tarpits (push hosts), so that the share
/// per push host does not bound what his share per user lets hang.
const BOB_BROWSERS: usize = 100;
const TARPITS: usize = 4;
/// Alice's posts while bob's pushes hang, one every `ALICE_PACE` (all of them within the
/// 10 s the service waits for an answer from a push service by default).
const ALICE_POSTS: f64 = 200.0;
const ALICE_PACE: Duration = Duration::from_millis(25);
/// Waiting for pushes ends when all arrived, when none arrived for `STALL`, or `MAX_WAIT`
/// after the last post (what did not arrive then is reported lost).
const STALL: Duration = Duration::from_secs(10);
const MAX_WAIT: Duration = Duration::from_secs(120);
/// Far above any feed the bench makes, so no post evicts (an eviction is a push of its own).
const FEED_LIMIT: usize = 1_000_000;
const SUBSCRIPTION_LIMIT: usize = 1_000;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Every user any scenario signs in as; each scenario has a database of its own, so a name
/// is a fresh user in each.
fn user_names() -> Vec<String> {
    let mut names: Vec<String> = (0..MANY_USERS).map(|index| format!("u{index}")).collect();
    names.extend(["fresh", "hoarder", "alice", "bob"].map(str::to_owned));
    names
}

fn token(user: &str) -> String {
    format!("bench-token-{user}")
}

/// A push as the receiver saw it: which browser (the endpoint's last segment), its
/// `Topic`, when.
struct Arrival {
    browser: String,
    topic: Option<String>,
    at: Instant,
}

/// The loopback push service: answers 201 at once and remembers each push under the tag
/// of its endpoint (`/push/{tag}/{browser}`), one tag per scenario.
#[derive(Default)]
struct Receiver {
    arrivals: Mutex<HashMap<String, Vec<Arrival>>>,
}

impl Receiver {
    async fn start() -> Result<(SocketAddr, Arc<Receiver>), Error> {
        let receiver = Arc::new(Receiver::default());
        let shared = Arc::clone(&receiver);
        let app = Router::new().route(
            "/push/{tag}/{browser}",
            post(
                move |Path((tag, browser)): Path<(String, String)>, headers: HeaderMap| {
                    let shared = Arc::clone(&shared);
                    async move {
                        let at = Instant::now();
                        let topic = headers
                            .get("topic")
                            .and_then(|value| value.to_str().ok())
                            .map(str::to_owned);
                        if let Ok(mut arrivals) = shared.arrivals.lock() {
                            arrivals
                                .entry(tag)
                                .or_default()
                                .push(Arrival { browser, topic, at });
                        }
                        StatusCode::CREATED
                    }
                },
            ),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok((addr, receiver))
    }

    /// Pushes received for `tag` so far, and when the last one came.
    fn progress(&self, tag: &str) -> (usize, Option<Instant>) {
        self.arrivals
            .lock()
            .ok()
            .and_then(|arrivals| {
                arrivals
                    .get(tag)
                    .map(|seen| (seen.len(), seen.last().map(|last| last.at)))
            })
            .unwrap_or((0, None))
    }

    /// Takes what arrived for `tag` (and forgets it).
    fn take(&self, tag: &str) -> Vec<Arrival> {
        self.arrivals
            .lock()
            .ok()
            .and_then(|mut arrivals| arrivals.remove(tag))
            .unwrap_or_default()
    }
}

/// Push services on 127.0.0.1 that accept every connection, read what is sent and never
/// answer: each push to one holds its sender until the sender's own timeout.
struct Tarpits {
    ports: Vec<u16>,
    open: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Tarpits {
    async fn start(count: usize) -> Result<Tarpits, Error> {
        let open = Arc::new(AtomicUsize::new(0));
        let mut ports = Vec::new();
        let mut tasks = Vec::new();
        for _ in 0..count {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            ports.push(listener.local_addr()?.port());
            let open = Arc::clone(&open);
            tasks.push(tokio::spawn(async move {
                while let Ok((mut socket, _)) = listener.accept().await {
                    open.fetch_add(1, Ordering::SeqCst);
                    let open = Arc::clone(&open);
                    tokio::spawn(async move {
                        let mut sink = [0u8; 4096];
                        while matches!(socket.read(&mut sink).await, Ok(read) if read > 0) {}
                        open.fetch_sub(1, Ordering::SeqCst);
                    });
                }
            }));
        }
        Ok(Tarpits { ports, open, tasks })
    }

    /// Connections held open now: pushes hanging.
    fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

impl Drop for Tarpits {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A browser's registration body, with a P-256 key of its own.
fn subscription_body(endpoint: &str) -> Value {
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
        "targetHostName": APP_HOST,
    })
}

/// Registers a browser at `endpoint` for `user`; its UNSID.
async fn subscribe(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    endpoint: &str,
) -> Result<String, Error> {
    let answer = http
        .post(format!("{base}/me/notificationSubscriptions"))
        .bearer_auth(token(user))
        .header("content-type", "application/json")
        .body(subscription_body(endpoint).to_string())
        .send()
        .await?;
    let status = answer.status();
    let body: Value = serde_json::from_slice(&answer.bytes().await?).unwrap_or(Value::Null);
    if status != StatusCode::CREATED {
        return Err(format!("subscribe answered {status}: {body}").into());
    }
    Ok(body["id"].as_str().unwrap_or_default().to_owned())
}

/// A user who posts, with the UNSID it posts with and its browsers at the receiver.
struct Poster {
    user: String,
    uns: String,
    browsers: Vec<String>,
}

/// Registers `browsers` browsers for each of `users` at the receiver under `tag`.
async fn posters(
    http: &reqwest::Client,
    base: &str,
    receiver: SocketAddr,
    tag: &str,
    users: &[String],
    browsers: usize,
) -> Result<Vec<Poster>, Error> {
    let mut joined = JoinSet::new();
    for (order, user) in users.iter().enumerate() {
        let (http, base, tag, user) = (http.clone(), base.to_owned(), tag.to_owned(), user.clone());
        joined.spawn(async move {
            let mut poster = Poster {
                user: user.clone(),
                uns: String::new(),
                browsers: Vec::new(),
            };
            for index in 0..browsers {
                let browser = format!("{user}-{index}");
                let endpoint = format!("http://{receiver}/push/{tag}/{browser}");
                poster.uns = subscribe(&http, &base, &user, &endpoint).await?;
                poster.browsers.push(browser);
            }
            Ok::<_, Error>((order, poster))
        });
    }
    let mut all = Vec::new();
    while let Some(done) = joined.join_next().await {
        all.push(done??);
    }
    all.sort_by_key(|(order, _)| *order);
    Ok(all.into_iter().map(|(_, poster)| poster).collect())
}

/// One round of posts: post `index` is by poster `index % posters`, its
/// `appNotificationId` (so its pushes' `Topic`) is `prefix` + `index`.
struct Ledger {
    prefix: String,
    sent: Vec<OnceLock<Instant>>,
    accepted: Vec<AtomicBool>,
}

impl Ledger {
    fn new(prefix: &str, posts: usize) -> Ledger {
        Ledger {
            prefix: prefix.to_owned(),
            sent: (0..posts).map(|_| OnceLock::new()).collect(),
            accepted: (0..posts).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    fn posts(&self) -> usize {
        self.sent.len()
    }

    fn topic(&self, index: usize) -> String {
        format!("{}{index}", self.prefix)
    }

    /// The post a push's topic names.
    fn post_of(&self, topic: &str) -> Option<usize> {
        let index: usize = topic.strip_prefix(&self.prefix)?.parse().ok()?;
        (index < self.posts()).then_some(index)
    }
}

/// The post requests of a round.
struct Posted {
    accepted: usize,
    started: Instant,
    finished: Instant,
    /// Each request's time to its answer, sorted.
    latencies: Vec<Duration>,
}

impl Posted {
    fn per_second(&self) -> f64 {
        self.accepted as f64 / self.finished.duration_since(self.started).as_secs_f64()
    }
}

/// Sends one post; whether it was accepted (201).
async fn post_one(
    http: &reqwest::Client,
    base: &str,
    poster: &Poster,
    ledger: &Ledger,
    index: usize,
    expires: &str,
) -> bool {
    let body = json!({
        "targetHostName": APP_HOST,
        "appNotificationId": ledger.topic(index),
        "expirationDateTime": expires,
        "payload": { "visualContent": {
            "title": format!("Bench {index}"),
            "body": "A notification of ordinary size, about a sentence long.",
        } },
    });
    let request = http
        .post(format!("{base}/me/notifications"))
        .bearer_auth(token(&poster.user))
        .header("x-uns", &poster.uns)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(slot) = ledger.sent.get(index) {
        let _ = slot.set(Instant::now());
    }
    let accepted = match request.send().await {
        Ok(response) => {
            let status = response.status();
            let _ = response.bytes().await;
            status == StatusCode::CREATED
        }
        Err(_) => false,
    };
    if let Some(flag) = ledger.accepted.get(index) {
        flag.store(accepted, Ordering::Relaxed);
    }
    accepted
}

/// Posts the round: from `CLIENTS` clients as fast as they are answered, or (`pace`) one
/// post every `pace` whatever the answers; round-robin over the replicas at `bases`.
async fn post_round(
    http: &reqwest::Client,
    bases: &[String],
    posters: &Arc<Vec<Poster>>,
    ledger: &Arc<Ledger>,
    pace: Option<Duration>,
) -> Result<Posted, Error> {
    let expires =
        usernotify::core::format_iso8601(usernotify_service::clock::now_millis() + 3_600_000);
    let bases: Arc<Vec<String>> = Arc::new(bases.to_vec());
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    let spawn_post = |tasks: &mut JoinSet<Vec<(Duration, bool)>>, indexes: Vec<usize>| {
        let (http, bases, posters, ledger, expires) = (
            http.clone(),
            Arc::clone(&bases),
            Arc::clone(posters),
            Arc::clone(ledger),
            expires.clone(),
        );
        tasks.spawn(async move {
            let mut answers = Vec::new();
            for index in indexes {
                let (Some(base), Some(poster)) = (
                    bases.get(index % bases.len().max(1)),
                    posters.get(index % posters.len().max(1)),
                ) else {
                    continue;
                };
                let sent = Instant::now();
                let accepted = post_one(&http, base, poster, &ledger, index, &expires).await;
                answers.push((sent.elapsed(), accepted));
            }
            answers
        });
    };
    match pace {
        Some(pace) => {
            for index in 0..ledger.posts() {
                tokio::time::sleep_until((started + pace * index as u32).into()).await;
                spawn_post(&mut tasks, vec![index]);
            }
        }
        None => {
            for client in 0..CLIENTS {
                spawn_post(
                    &mut tasks,
                    (client..ledger.posts()).step_by(CLIENTS).collect(),
                );
            }
        }
    }
    let mut latencies = Vec::with_capacity(ledger.posts());
    let mut accepted = 0;
    while let Some(answers) = tasks.join_next().await {
        for (latency, ok) in answers? {
            latencies.push(latency);
            accepted += usize::from(ok);
        }
    }
    latencies.sort();
    Ok(Posted {
        accepted,
        started,
        finished: Instant::now(),
        latencies,
    })
}

/// Waits for `expected` pushes under `tag` (see `STALL` and `MAX_WAIT`).
async fn wait_for_pushes(receiver: &Receiver, tag: &str, expected: usize) {
    let waiting = Instant::now();
    let deadline = waiting + MAX_WAIT;
    loop {
        let (count, last) = receiver.progress(tag);
        if count >= expected {
            // A moment for a second copy of any push to show up too.
            tokio::time::sleep(Duration::from_millis(100)).await;
            return;
        }
        let quiet_since = last.map_or(waiting, |last| last.max(waiting));
        if Instant::now() > deadline || quiet_since.elapsed() > STALL {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// What arrived of a round's pushes, against what was expected.
#[derive(Default)]
struct Tally {
    expected: usize,
    /// Expected pushes that arrived (once or more).
    delivered: usize,
    /// Second and later copies of a push.
    twice: usize,
    /// Pushes nobody expected (another topic, a post that was refused).
    stray: usize,
    /// The last push's arrival.
    last: Option<Instant>,
    /// Arrivals by `until`.
    by: usize,
    /// From each post sent to its push's arrival, sorted.
    latencies: Vec<Duration>,
}

impl Tally {
    fn lost(&self) -> usize {
        self.expected - self.delivered
    }

    fn per_second_since(&self, since: Instant) -> f64 {
        match self.last {
            Some(last) => self.delivered as f64 / last.duration_since(since).as_secs_f64(),
            None => 0.0,
        }
    }

    /// "lost / twice", and the strays if any.
    fn losses(&self) -> String {
        let mut text = format!("{} / {}", self.lost(), self.twice);
        if self.stray > 0 {
            text.push_str(&format!(" (+{} stray)", self.stray));
        }
        text
    }
}

/// Matches arrivals to posts: each accepted post's push to each browser of its poster is
/// expected exactly once. `until`: arrivals by then are counted apart (`Tally::by`).
fn tally(arrivals: &[Arrival], posters: &[Poster], ledger: &Ledger, until: Instant) -> Tally {
    let mut browser_of: HashMap<&str, (usize, usize)> = HashMap::new();
    for (poster_index, poster) in posters.iter().enumerate() {
        for (browser_index, browser) in poster.browsers.iter().enumerate() {
            browser_of.insert(browser.as_str(), (poster_index, browser_index));
        }
    }
    let mut tally = Tally::default();
    for index in 0..ledger.posts() {
        if ledger.accepted[index].load(Ordering::Relaxed) {
            tally.expected += posters[index % posters.len()].browsers.len();
        }
    }
    let mut seen: HashMap<(usize, usize), usize> = HashMap::new();
    for arrival in arrivals {
        let post = arrival
            .topic
            .as_deref()
            .and_then(|topic| ledger.post_of(topic));
        let browser = browser_of.get(arrival.browser.as_str());
        let (Some(post), Some(&(poster, browser))) = (post, browser) else {
            tally.stray += 1;
            continue;
        };
        if post % posters.len() != poster || !ledger.accepted[post].load(Ordering::Relaxed) {
            tally.stray += 1;
            continue;
        }
        let copies = seen.entry((post, browser)).or_default();
        *copies += 1;
        if *copies > 1 {
            tally.twice += 1;
            continue;
        }
        tally.delivered += 1;
        tally.by += usize::from(arrival.at <= until);
        tally.last = Some(tally.last.map_or(arrival.at, |last| last.max(arrival.at)));
        if let Some(sent) = ledger.sent[post].get() {
            tally
                .latencies
                .push(arrival.at.saturating_duration_since(*sent));
        }
    }
    tally.latencies.sort();
    tally
}

/// The sample at `fraction` of sorted samples (nearest rank).
fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let rank = ((sorted.len() as f64 * fraction).ceil() as usize).max(1);
    sorted.get(rank - 1).copied().unwrap_or_default()
}

fn millis(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1000.0)
}

/// A database and the service replicas on it.
struct Deployment {
    /// "SQLite, 1 process", "PostgreSQL, 3 replicas".
    name: String,
    /// Short, for tags and database names.
    short: String,
    replicas: usize,
    backend: Backend,
}

enum Backend {
    Sqlite(PathBuf),
    /// The URL of the server's own database (where statements are counted).
    Postgres(String),
}

/// A scenario's own database.
struct Store {
    location: DbLocation,
    /// PostgreSQL: the server's database and this one's name.
    counted: Option<(String, String)>,
}

impl Store {
    /// Statements run in this database so far, as `pg_stat_statements` counts them (each
    /// is one round trip); `None` on SQLite.
    async fn statements(&self) -> Result<Option<i64>, Error> {
        use sqlx::Connection;
        let Some((admin_url, name)) = &self.counted else {
            return Ok(None);
        };
        let mut connection = sqlx::PgConnection::connect(admin_url).await?;
        let count: Option<i64> = sqlx::query_scalar(
            "SELECT sum(calls)::bigint FROM pg_stat_statements
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1)",
        )
        .bind(name)
        .fetch_one(&mut connection)
        .await?;
        connection.close().await?;
        Ok(Some(count.unwrap_or(0)))
    }
}

impl Deployment {
    async fn fresh_store(&self, label: &str) -> Result<Store, Error> {
        match &self.backend {
            Backend::Sqlite(dir) => Ok(Store {
                location: DbLocation::from(dir.join(format!("{}_{label}.db", self.short))),
                counted: None,
            }),
            Backend::Postgres(admin_url) => {
                let name = format!("{}_{label}", self.short);
                let url = create_database(admin_url, &name).await?;
                Ok(Store {
                    location: DbLocation::from(url),
                    counted: Some((admin_url.clone(), name)),
                })
            }
        }
    }
}

/// What differs between the scenarios' services.
#[derive(Clone, Copy, Default)]
struct Tuning {
    /// Queue only: the deliveries wait for workers started later.
    workers_off: bool,
    /// `config.delivery.per_user` instead of the default.
    per_user: Option<usize>,
}

fn config(db: &DbLocation, tuning: Tuning) -> Result<Config, Error> {
    let mut config = Config::new(db.clone())
        .with_vapid_subject(VAPID_SUBJECT)
        .ok_or("bad VAPID subject")?;
    for user in user_names() {
        config = config.with_token(&token(&user), &user);
    }
    // The service's own setting, for trying other pool sizes.
    if let Some(pool) = std::env::var("USERNOTIFY_DB_POOL")
        .ok()
        .and_then(|pool| pool.parse().ok())
    {
        config.db_settings.max_connections = pool;
    }
    config.allow_loopback_push = true;
    config.rate_per_minute = 0;
    config.limits.subscriptions = SUBSCRIPTION_LIMIT;
    config.limits.notifications = FEED_LIMIT;
    config.delivery.run_worker = !tuning.workers_off;
    // Only the bench's own stops wait for it (bob's pushes hang until their timeout).
    config.delivery.shutdown_grace = Duration::from_secs(1);
    if let Some(per_user) = tuning.per_user {
        config.delivery.per_user = per_user;
    }
    Ok(config)
}

/// The replicas of a deployment on `store`, and their base URLs.
struct Replicas {
    services: Vec<RunningService>,
    bases: Vec<String>,
}

impl Replicas {
    async fn start(deployment: &Deployment, store: &Store, tuning: Tuning) -> Result<Self, Error> {
        let mut services = Vec::new();
        for _ in 0..deployment.replicas {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            services.push(start(config(&store.location, tuning)?, listener).await?);
        }
        let bases = services
            .iter()
            .map(|service| format!("http://{}", service.local_addr()))
            .collect();
        Ok(Replicas { services, bases })
    }

    fn first(&self) -> &str {
        self.bases.first().map(String::as_str).unwrap_or_default()
    }

    async fn shutdown(self) {
        for service in self.services {
            service.shutdown().await;
        }
    }
}

/// What the bench shares across scenarios.
struct Rig {
    http: reqwest::Client,
    receiver: Arc<Receiver>,
    receiver_addr: SocketAddr,
    scale: f64,
}

impl Rig {
    fn count(&self, full: f64) -> usize {
        ((full * self.scale).round() as usize).max(1)
    }
}

/// Users × browsers, and posts spread over the users.
struct Shape {
    label: &'static str,
    users: usize,
    browsers: usize,
    posts: usize,
}

impl Shape {
    fn describe(&self) -> String {
        let plural = |count: usize, one: &str, many: &str| {
            format!("{count} {}", if count == 1 { one } else { many })
        };
        format!(
            "{} x {}",
            plural(self.users, "user", "users"),
            plural(self.browsers, "browser", "browsers")
        )
    }
}

/// A shape posted with the workers on (posts and pushes at once) or queued and drained.
struct ShapeRun {
    deployment: String,
    scenario: String,
    posts: usize,
    posted: Posted,
    tally: Tally,
    /// When the pushes could start: the first post, or the workers' start for a drain.
    pushes_from: Instant,
    /// Statements per post (the drain's posting) and per push; for posts and pushes at
    /// once, all statements per push.
    statements_per_post: Option<f64>,
    statements_per_push: Option<f64>,
}

fn per(from: Option<i64>, to: Option<i64>, count: usize) -> Option<f64> {
    match (from, to) {
        (Some(from), Some(to)) if count > 0 => Some((to - from) as f64 / count as f64),
        _ => None,
    }
}

async fn run_shape(
    rig: &Rig,
    deployment: &Deployment,
    shape: &Shape,
    drain: bool,
) -> Result<ShapeRun, Error> {
    let mode = if drain { "drain" } else { "live" };
    let tag = format!("{}-{}-{mode}", deployment.short, shape.label);
    eprintln!(
        "{}: {} posts to {}{}",
        deployment.name,
        shape.posts,
        shape.describe(),
        if drain { ", queued, then drained" } else { "" }
    );
    let store = deployment
        .fresh_store(&format!("{}_{mode}", shape.label))
        .await?;
    let replicas = Replicas::start(
        deployment,
        &store,
        Tuning {
            workers_off: drain,
            ..Tuning::default()
        },
    )
    .await?;
    let users: Vec<String> = user_names().into_iter().take(shape.users).collect();
    let posters = Arc::new(
        posters(
            &rig.http,
            replicas.first(),
            rig.receiver_addr,
            &tag,
            &users,
            shape.browsers,
        )
        .await?,
    );
    let ledger = Arc::new(Ledger::new("b", shape.posts));
    let before = store.statements().await?;
    let posted = post_round(&rig.http, &replicas.bases, &posters, &ledger, None).await?;
    let after_posts = store.statements().await?;
    let mut pushes_from = posted.started;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    if drain {
        pushes_from = Instant::now();
        for service in &replicas.services {
            workers.push(usernotify_service::spawn_delivery_worker(
                service.state(),
                stopped.clone(),
            )?);
        }
    }
    let expected: usize = (0..shape.posts)
        .filter(|&index| ledger.accepted[index].load(Ordering::Relaxed))
        .map(|index| posters[index % posters.len()].browsers.len())
        .sum();
    wait_for_pushes(&rig.receiver, &tag, expected).await;
    let tally = tally(&rig.receiver.take(&tag), &posters, &ledger, posted.finished);
    // Let the last outcomes be recorded before counting.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = store.statements().await?;
    let _ = stop.send(true);
    for worker in workers {
        let _ = worker.await;
    }
    replicas.shutdown().await;
    let (statements_per_post, statements_per_push) = if drain {
        (
            per(before, after_posts, posted.accepted),
            per(after_posts, after, tally.delivered),
        )
    } else {
        (None, per(before, after, tally.delivered))
    };
    Ok(ShapeRun {
        deployment: deployment.name.clone(),
        scenario: format!("{}, {} posts", shape.describe(), shape.posts),
        posts: shape.posts,
        posted,
        tally,
        pushes_from,
        statements_per_post,
        statements_per_push,
    })
}

/// One user's side of the hoard comparison, over its rounds.
#[derive(Default)]
struct HoardSide {
    holds: i64,
    pushes: usize,
    expected: usize,
    twice: usize,
    stray: usize,
    secs: f64,
    latencies: Vec<Duration>,
}

impl HoardSide {
    fn per_second(&self) -> f64 {
        self.pushes as f64 / self.secs
    }
}

struct HoardRun {
    deployment: String,
    posts: usize,
    fresh: HoardSide,
    hoarder: HoardSide,
}

/// Puts `HOARD` unread notifications in `user`'s feed straight into the database, as a
/// test would (the feed's counting triggers see them): notifications as a post stores
/// them, older than any posted.
async fn hoard(location: &DbLocation, uns: &str) -> Result<(), Error> {
    let now = usernotify_service::clock::now_millis();
    let body: usernotify::core::Json = serde_json::from_value(json!({
        "targetHostName": APP_HOST,
        "payload": { "visualContent": {
            "title": "Held",
            "body": "A notification of ordinary size, about a sentence long.",
        } },
    }))?;
    let mut notification = usernotify::core::Notification::from_json(&body, now)
        .map_err(|error| format!("{error:?}"))?;
    notification.id = Some("__HOARD_ID__".to_owned());
    let resource = notification.to_json().to_json_string();
    let priority = notification.priority.as_str();
    let expires = now + 3_600_000;
    let inserted = match location {
        DbLocation::Sqlite(path) => {
            let (path, uns) = (path.clone(), uns.to_owned());
            tokio::task::spawn_blocking(move || -> Result<usize, rusqlite::Error> {
                let connection = rusqlite::Connection::open(path)?;
                connection.busy_timeout(Duration::from_secs(30))?;
                let user: String = connection.query_row(
                    "SELECT user_id FROM subscriptions WHERE id = ?1",
                    [&uns],
                    |row| row.get(0),
                )?;
                connection.execute(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
                     INSERT INTO notifications (id, user_id, resource, priority, expires_at,
                         created_at, updated_at, seq)
                     SELECT 'hoard-' || i, ?2, replace(?3, '__HOARD_ID__', 'hoard-' || i),
                         ?4, ?5, ?6, ?6, -i FROM n",
                    rusqlite::params![HOARD, user, resource, priority, expires, now],
                )
            })
            .await??
        }
        DbLocation::Postgres(url) => {
            use sqlx::Connection;
            let mut connection = sqlx::PgConnection::connect(url).await?;
            let user: String =
                sqlx::query_scalar("SELECT user_id FROM subscriptions WHERE id = $1")
                    .bind(uns)
                    .fetch_one(&mut connection)
                    .await?;
            let done = sqlx::query(
                "INSERT INTO notifications (id, user_id, resource, priority, expires_at,
                     created_at, updated_at, seq)
                 SELECT 'hoard-' || i, $2, replace($3, '__HOARD_ID__', 'hoard-' || i),
                     $4, $5, $6, $6, -i
                 FROM generate_series(1, $1) AS i",
            )
            .bind(HOARD)
            .bind(user)
            .bind(resource)
            .bind(priority)
            .bind(expires)
            .bind(now)
            .execute(&mut connection)
            .await?;
            // What autovacuum would have done by the time a feed grew this big.
            sqlx::query("ANALYZE").execute(&mut connection).await?;
            connection.close().await?;
            done.rows_affected() as usize
        }
    };
    if inserted as i64 != HOARD {
        return Err(format!("the hoard put in {inserted} notifications").into());
    }
    Ok(())
}

/// The hoarder and a fresh user, in one database, with `HOARD_BROWSERS` browsers each,
/// post the same in `HOARD_TURNS`.
async fn run_hoard(rig: &Rig, deployment: &Deployment) -> Result<HoardRun, Error> {
    let posts = rig.count(200.0);
    eprintln!(
        "{}: a user with {HOARD} notifications against a fresh one, {posts} posts x {HOARD_BROWSERS} browsers a round, {} rounds",
        deployment.name,
        HOARD_TURNS.len()
    );
    let store = deployment.fresh_store("hoard").await?;
    let replicas = Replicas::start(deployment, &store, Tuning::default()).await?;
    let mut sides = Vec::new();
    for user in ["fresh", "hoarder"] {
        let tag = format!("{}-hoard-{user}", deployment.short);
        let posters = posters(
            &rig.http,
            replicas.first(),
            rig.receiver_addr,
            &tag,
            &[user.to_owned()],
            HOARD_BROWSERS,
        )
        .await?;
        sides.push((tag, Arc::new(posters)));
    }
    if let Some((_, hoarder)) = sides.get(1) {
        hoard(&store.location, &hoarder[0].uns).await?;
    }
    let mut results = [HoardSide::default(), HoardSide::default()];
    results[1].holds = HOARD;
    for (round, side) in HOARD_TURNS.into_iter().enumerate() {
        let (tag, posters) = &sides[side];
        let ledger = Arc::new(Ledger::new(&format!("r{round}b"), posts));
        let posted = post_round(&rig.http, &replicas.bases, posters, &ledger, None).await?;
        let expected = posted.accepted * HOARD_BROWSERS;
        wait_for_pushes(&rig.receiver, tag, expected).await;
        let tally = tally(&rig.receiver.take(tag), posters, &ledger, posted.finished);
        let result = &mut results[side];
        result.pushes += tally.delivered;
        result.expected += tally.expected;
        result.twice += tally.twice;
        result.stray += tally.stray;
        result.secs += tally.last.map_or(0.0, |last| {
            last.duration_since(posted.started).as_secs_f64()
        });
        result.latencies.extend(tally.latencies);
    }
    replicas.shutdown().await;
    let [mut fresh, mut hoarder] = results;
    fresh.latencies.sort();
    hoarder.latencies.sort();
    Ok(HoardRun {
        deployment: deployment.name.clone(),
        posts,
        fresh,
        hoarder,
    })
}

struct NoisyRun {
    deployment: String,
    per_user: usize,
    /// Bob's pushes hanging while alice's were sent and received: fewest, most.
    hanging: (usize, usize),
    posts: usize,
    tally: Tally,
}

/// Bob's 100 browsers hang at tarpits after his one post; alice posts meanwhile.
async fn run_noisy(
    rig: &Rig,
    deployment: &Deployment,
    per_user: Option<usize>,
) -> Result<NoisyRun, Error> {
    let share = per_user.unwrap_or(usernotify_service::DeliverySettings::default().per_user);
    let posts = rig.count(ALICE_POSTS);
    eprintln!(
        "{}: the noisy neighbour, {share} pushes in flight per user: bob's {BOB_BROWSERS} hang, alice posts {posts} times",
        deployment.name
    );
    let store = deployment.fresh_store(&format!("noisy_{share}")).await?;
    let replicas = Replicas::start(
        deployment,
        &store,
        Tuning {
            per_user,
            ..Tuning::default()
        },
    )
    .await?;
    let tarpits = Tarpits::start(TARPITS).await?;
    let mut bob_uns = String::new();
    for index in 0..BOB_BROWSERS {
        let port = tarpits.ports[index % tarpits.ports.len()];
        let endpoint = format!("http://127.0.0.1:{port}/push/bob/{index}");
        bob_uns = subscribe(&rig.http, replicas.first(), "bob", &endpoint).await?;
    }
    let tag = format!("{}-noisy-{share}", deployment.short);
    let alice = Arc::new(
        posters(
            &rig.http,
            replicas.first(),
            rig.receiver_addr,
            &tag,
            &["alice".to_owned()],
            1,
        )
        .await?,
    );
    let bob = Arc::new(vec![Poster {
        user: "bob".to_owned(),
        uns: bob_uns,
        browsers: Vec::new(),
    }]);
    let posted = post_round(
        &rig.http,
        &replicas.bases[..1],
        &bob,
        &Arc::new(Ledger::new("bob", 1)),
        None,
    )
    .await?;
    if posted.accepted != 1 {
        return Err("bob's post was refused".into());
    }
    // Until his share hangs (every replica takes its own), or it stops growing.
    let hanging = (share * deployment.replicas).min(BOB_BROWSERS);
    let deadline = Instant::now() + Duration::from_secs(5);
    while tarpits.open() < hanging && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (watching, open) = (Arc::clone(&watching), Arc::clone(&tarpits.open));
        tokio::spawn(async move {
            let (mut fewest, mut most) = (usize::MAX, 0);
            while watching.load(Ordering::Relaxed) {
                let now = open.load(Ordering::SeqCst);
                (fewest, most) = (fewest.min(now), most.max(now));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (fewest, most)
        })
    };
    let ledger = Arc::new(Ledger::new("a", posts));
    let posted = post_round(
        &rig.http,
        &replicas.bases,
        &alice,
        &ledger,
        Some(ALICE_PACE),
    )
    .await?;
    wait_for_pushes(&rig.receiver, &tag, posted.accepted).await;
    watching.store(false, Ordering::Relaxed);
    let hanging = watcher.await?;
    let tally = tally(&rig.receiver.take(&tag), &alice, &ledger, posted.finished);
    replicas.shutdown().await;
    Ok(NoisyRun {
        deployment: deployment.name.clone(),
        per_user: share,
        hanging,
        posts,
        tally,
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
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
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

/// The process's peak resident memory in MiB, from `/proc/self/status`.
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The machine's load averages (1, 5, 15 minutes), from `/proc/loadavg`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn show(value: Option<f64>) -> String {
    value.map(|value| format!("{value:.2}")).unwrap_or_default()
}

#[derive(Default)]
struct Results {
    live: Vec<ShapeRun>,
    drained: Vec<ShapeRun>,
    hoards: Vec<HoardRun>,
    noisy: Vec<NoisyRun>,
}

async fn run_deployment(
    rig: &Rig,
    deployment: &Deployment,
    results: &mut Results,
) -> Result<(), Error> {
    let shapes = [
        Shape {
            label: "many",
            users: MANY_USERS,
            browsers: MANY_BROWSERS,
            posts: rig.count(3_000.0),
        },
        Shape {
            label: "one",
            users: 1,
            browsers: 1,
            posts: rig.count(10_000.0),
        },
        Shape {
            label: "hundred",
            users: 1,
            browsers: 100,
            posts: rig.count(200.0),
        },
    ];
    for shape in &shapes {
        results
            .live
            .push(run_shape(rig, deployment, shape, false).await?);
    }
    for shape in &shapes {
        results
            .drained
            .push(run_shape(rig, deployment, shape, true).await?);
    }
    results.hoards.push(run_hoard(rig, deployment).await?);
    // The noisy neighbour on one process and on the most replicas.
    if deployment.replicas != 1 || matches!(deployment.backend, Backend::Sqlite(_)) {
        for per_user in [None, Some(100)] {
            results
                .noisy
                .push(run_noisy(rig, deployment, per_user).await?);
        }
    }
    Ok(())
}

fn print_results(results: &Results) {
    println!("Posts and pushes at once: posts from {CLIENTS} clients as fast as they are answered; pushes/s while posting counts the pushes received by the last post's answer; statements per push (PostgreSQL, pg_stat_statements) counts every statement in the scenario's database, the posts' too.");
    println!();
    println!(
        "| deployment | scenario | posts/s | post p50 ms | post p99 ms | pushes received | pushes/s while posting | pushes/s to the last | post→push p50 ms | post→push p99 ms | lost / twice | statements per push |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for run in &results.live {
        let window = run
            .posted
            .finished
            .duration_since(run.posted.started)
            .as_secs_f64();
        println!(
            "| {} | {} | {:.0}{} | {} | {} | {} of {} | {:.0} | {:.0} | {} | {} | {} | {} |",
            run.deployment,
            run.scenario,
            run.posted.per_second(),
            if run.posted.accepted < run.posts {
                format!(" ({} refused)", run.posts - run.posted.accepted)
            } else {
                String::new()
            },
            millis(percentile(&run.posted.latencies, 0.50)),
            millis(percentile(&run.posted.latencies, 0.99)),
            run.tally.delivered,
            run.tally.expected,
            run.tally.by as f64 / window,
            run.tally.per_second_since(run.pushes_from),
            millis(percentile(&run.tally.latencies, 0.50)),
            millis(percentile(&run.tally.latencies, 0.99)),
            run.tally.losses(),
            show(run.statements_per_push),
        );
    }
    println!();
    println!("A backlog drained: the posts queued with the delivery workers off, then the workers started; pushes/s from their start to the last push.");
    println!();
    println!(
        "| deployment | scenario | backlog | drained in s | pushes/s | lost / twice | statements per post | statements per push |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for run in &results.drained {
        println!(
            "| {} | {} | {} | {:.2} | {:.0} | {} | {} | {} |",
            run.deployment,
            run.scenario,
            run.tally.expected,
            run.tally.last.map_or(f64::NAN, |last| last
                .duration_since(run.pushes_from)
                .as_secs_f64()),
            run.tally.per_second_since(run.pushes_from),
            run.tally.losses(),
            show(run.statements_per_post),
            show(run.statements_per_push),
        );
    }
    println!();
    println!("A user who holds {HOARD} notifications against a fresh user, in one database, {HOARD_BROWSERS} browsers each, posts from {CLIENTS} clients, rounds in the order fresh, hoarder, hoarder, fresh, hoarder, fresh, fresh, hoarder; pushes/s from each round's first post to its last push, over the user's rounds.");
    println!();
    println!(
        "| deployment | user | notifications held | posts | pushes received | pushes/s | post→push p50 ms | post→push p99 ms | lost / twice | pushes/s against the fresh user |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for run in &results.hoards {
        for (who, side) in [("fresh", &run.fresh), ("hoarder", &run.hoarder)] {
            println!(
                "| {} | {} | {} | {} | {} of {} | {:.0} | {} | {} | {} / {}{} | {:.2} |",
                run.deployment,
                who,
                side.holds,
                run.posts * HOARD_TURNS.len() / 2,
                side.pushes,
                side.expected,
                side.per_second(),
                millis(percentile(&side.latencies, 0.50)),
                millis(percentile(&side.latencies, 0.99)),
                side.expected - side.pushes,
                side.twice,
                if side.stray > 0 {
                    format!(" (+{} stray)", side.stray)
                } else {
                    String::new()
                },
                side.per_second() / run.fresh.per_second(),
            );
        }
    }
    println!();
    println!("The noisy neighbour: bob's {BOB_BROWSERS} browsers at {TARPITS} push services that accept connections and never answer; he posts once; then alice (one browser) posts one every {} ms, round-robin over the replicas. Post→push: from her post sent to its push received.", ALICE_PACE.as_millis());
    println!();
    println!(
        "| deployment | pushes in flight per user | bob's pushes hanging meanwhile | alice's posts | post→push p50 ms | post→push p99 ms | post→push max ms | lost / twice |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for run in &results.noisy {
        println!(
            "| {} | {} | {}–{} | {} | {} | {} | {} | {} |",
            run.deployment,
            run.per_user,
            run.hanging.0,
            run.hanging.1,
            run.posts,
            millis(percentile(&run.tally.latencies, 0.50)),
            millis(percentile(&run.tally.latencies, 0.99)),
            millis(run.tally.latencies.last().copied().unwrap_or_default()),
            run.tally.losses(),
        );
    }
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
    let began = Instant::now();
    let load_before = load_average();
    let args: Vec<String> = std::env::args().collect();
    let scale: f64 = args
        .get(1)
        .and_then(|value| value.parse().ok())
        .unwrap_or(1.0);
    let only = args.get(2).map(String::as_str);
    let dir = tempfile::tempdir()?;
    let (receiver_addr, receiver) = Receiver::start().await?;
    let rig = Rig {
        http: reqwest::Client::new(),
        receiver,
        receiver_addr,
        scale,
    };
    let mut results = Results::default();
    if only != Some("postgres") {
        let deployment = Deployment {
            name: "SQLite, 1 process".to_owned(),
            short: "sqlite".to_owned(),
            replicas: 1,
            backend: Backend::Sqlite(dir.path().to_owned()),
        };
        run_deployment(&rig, &deployment, &mut results).await?;
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
        cluster = child;
        for replicas in [1usize, 3] {
            let deployment = Deployment {
                name: format!(
                    "PostgreSQL, {replicas} replica{}",
                    if replicas == 1 { "" } else { "s" }
                ),
                short: format!("pg{replicas}"),
                replicas,
                backend: Backend::Postgres(admin_url.clone()),
            };
            run_deployment(&rig, &deployment, &mut results).await?;
        }
    }
    print_results(&results);
    println!();
    println!(
        "Scale {scale}. Encrypting one push (a fresh P-256 key pair, ECDH, HKDF, AES-GCM; VAPID \
         header reused): {:.0} µs on one core. Peak memory (VmHWM, everything in this \
         process): {:.1} MiB. Load average (1, 5, 15 min) {load_before} at the start, {} at \
         the end; {:.0} s in all.",
        encryption_micros()?,
        peak_memory_mib().unwrap_or(f64::NAN),
        load_average(),
        began.elapsed().as_secs_f64(),
    );
    drop(cluster);
    Ok(())
}
