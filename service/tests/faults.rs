//! Faults with real parts: the service binary killed with SIGKILL in the middle of a fan-out,
//! push services that throttle, fail, hang or forget a subscription, another process holding
//! the SQLite write lock, and a thousand posts in a row. Every push is checked at a loopback
//! receiver; duplicates are counted and reported.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The most deliveries the worker has sent but not yet recorded at any moment, so the most a
/// crash can make it send twice: its concurrency (`DeliverySettings::default().batch`).
fn in_flight_bound() -> usize {
    usernotify_service::DeliverySettings::default().batch
}

// ---------------------------------------------------------------------------------------
// kill -9 in the middle of a fan-out
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_in_the_middle_of_a_fan_out_loses_no_push_and_resends_only_what_was_in_flight() {
    const BROWSERS: usize = 10;
    const POSTS: usize = 100;
    let receiver = PushReceiver::start().await;
    // Slow enough that the fan-out of 1,000 pushes takes seconds (at most 64 in flight).
    receiver.set_delay(Duration::from_millis(100));
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("usernotify.db");
    let service = Binary::start(&db).await;
    let http = reqwest::Client::new();
    let vapid_key = http
        .get(format!("{}/vapidPublicKey", service.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let vapid_key = serde_json::from_str::<Value>(&vapid_key).unwrap()["publicKey"]
        .as_str()
        .unwrap()
        .to_owned();

    let browsers: Vec<FakeBrowser> = (0..BROWSERS)
        .map(|index| FakeBrowser::new(&receiver, &format!("b{index}")))
        .collect();
    let mut uns = String::new();
    for browser in &browsers {
        uns = subscribe_at(&http, &service.base, browser).await;
    }
    // Posted by 8 clients at once, so all are stored before most pushes went out.
    let mut posting = tokio::task::JoinSet::new();
    for client in 0..8 {
        let (http, base, uns) = (http.clone(), service.base.clone(), uns.clone());
        posting.spawn(async move {
            let mut ids = Vec::new();
            for index in (client..POSTS).step_by(8) {
                let tag = format!("kill-{index}");
                let answer = http
                    .post(format!("{base}/me/notifications"))
                    .bearer_auth(ALICE)
                    .header("x-uns", &uns)
                    .body(tagged(&tag).to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(answer.status(), 201);
                let body: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
                ids.push((tag, body["id"].as_str().unwrap().to_owned()));
            }
            ids
        });
    }
    let mut ids = HashMap::new();
    while let Some(joined) = posting.join_next().await {
        ids.extend(joined.unwrap());
    }
    assert_eq!(ids.len(), POSTS);
    let expected = BROWSERS * POSTS;

    wait_until(Duration::from_secs(30), "a fifth of the pushes", || {
        receiver.count() >= expected / 5
    })
    .await;
    let peak_kib = service.peak_kib();
    service.kill_9();
    let at_kill = receiver.count();
    assert!(
        at_kill < expected,
        "the kill must land in the middle of the fan-out ({at_kill} of {expected} had arrived)"
    );

    let restarted_at = Instant::now();
    let service = Binary::start(&db).await;
    let seen = |received: &[Received]| {
        let mut counts: HashMap<(String, String), usize> = HashMap::new();
        for push in received {
            let topic = push.header("topic").unwrap_or_default().to_owned();
            *counts.entry((push.path.clone(), topic)).or_default() += 1;
        }
        counts
    };
    wait_until(
        Duration::from_secs(40),
        "every push after the restart",
        || seen(&receiver.received()).len() >= expected,
    )
    .await;
    let finished_in = restarted_at.elapsed();
    wait_until(Duration::from_secs(10), "the queue to drain", || {
        queued_in_file(&db) == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let received = receiver.received();
    let counts = seen(&received);

    // Every notification reached every browser: 1,000 distinct (browser, Topic) pairs.
    assert_eq!(counts.len(), expected);
    for index in 0..POSTS {
        for browser in 0..BROWSERS {
            let key = (format!("/push/b{browser}"), format!("kill-{index}"));
            assert!(counts.contains_key(&key), "{key:?} never arrived");
        }
    }
    // A push is sent twice only when the crash came between the push service's answer and
    // the worker recording it; each such copy carries the same Topic and content.
    let duplicates = received.len() - expected;
    eprintln!(
        "kill -9 after {at_kill} of {expected} pushes; {duplicates} duplicates; the rest \
         delivered {finished_in:?} after the restart; peak memory before the kill {} KiB",
        peak_kib.unwrap_or(0)
    );
    assert!(
        duplicates <= in_flight_bound(),
        "{duplicates} duplicates: more than the {} a crash can leave in flight",
        in_flight_bound()
    );
    for (key, _) in counts.iter().filter(|(_, count)| **count > 1) {
        let copies: Vec<&Received> = received
            .iter()
            .filter(|push| push.path == key.0 && push.header("topic") == Some(key.1.as_str()))
            .collect();
        let index: usize = key.0.trim_start_matches("/push/b").parse().unwrap();
        for copy in copies {
            let plain: Value =
                serde_json::from_slice(&browsers[index].decrypt(&copy.body)).unwrap();
            assert_eq!(plain["id"].as_str(), Some(ids[&key.1].as_str()));
        }
    }
    // Pushes sent after the restart are signed with the same stored VAPID key.
    verify_vapid(received.last().unwrap(), &vapid_key, &receiver.origin());
    let last = received.last().unwrap();
    let index: usize = last.path.trim_start_matches("/push/b").parse().unwrap();
    let plain: Value = serde_json::from_slice(&browsers[index].decrypt(&last.body)).unwrap();
    let tag = last.header("topic").unwrap();
    assert_eq!(plain["id"].as_str(), Some(ids[tag].as_str()));
    drop(service);
}

// ---------------------------------------------------------------------------------------
// Push service faults
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_429_with_retry_after_is_honoured_and_then_delivered_once() {
    let (service, receiver, browser, uns) = subscribed_with(|_| {}).await;
    receiver.answer_next(&[(429, Some("1"))]);
    let posted = service
        .notify(ALICE, &uns, &notification("throttled"))
        .await;
    assert_eq!(posted.status, 201);
    let pushes = receiver.wait_for(2).await;
    service.wait_for_empty_queue().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.count(), 2, "one 429, one delivery, nothing more");
    assert_eq!((pushes[0].answered, pushes[1].answered), (429, 201));
    let gap = pushes[1].at - pushes[0].at;
    assert!(gap >= Duration::from_millis(950), "waited only {gap:?}");
    let plain: Value = serde_json::from_slice(&browser.decrypt(&pushes[1].body)).unwrap();
    assert_eq!(plain["id"], posted.body["id"]);
}

#[tokio::test]
async fn a_500_without_retry_after_is_retried_with_backoff_and_then_delivered_once() {
    let (service, receiver, browser, uns) = subscribed_with(|_| {}).await;
    receiver.answer_next(&[(500, None), (500, None)]);
    let posted = service.notify(ALICE, &uns, &notification("flaky")).await;
    assert_eq!(posted.status, 201);
    let pushes = receiver.wait_for(3).await;
    service.wait_for_empty_queue().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.count(), 3, "two 500s, one delivery, nothing more");
    let answers: Vec<u16> = pushes.iter().map(|push| push.answered).collect();
    assert_eq!(answers, vec![500, 500, 201]);
    // The test configuration's backoff starts at 50 ms and doubles.
    assert!(pushes[1].at - pushes[0].at >= Duration::from_millis(45));
    assert!(pushes[2].at - pushes[1].at >= Duration::from_millis(95));
    for push in &pushes {
        let plain: Value = serde_json::from_slice(&browser.decrypt(&push.body)).unwrap();
        assert_eq!(
            plain["id"], posted.body["id"],
            "the same notification each time"
        );
    }
}

#[tokio::test]
async fn a_push_service_that_hangs_past_the_timeout_is_retried_without_holding_up_other_pushes() {
    let service = TestService::start_with(|config| {
        config.delivery.request_timeout = Duration::from_millis(1000);
    })
    .await;
    let receiver = PushReceiver::start().await;
    let hung = FakeBrowser::new(&receiver, "hung");
    let uns = service.subscribe(ALICE, &hung, HOST).await;
    // The first request hangs far past the client's 1 s timeout.
    receiver.stall_next(&[Duration::from_secs(20)]);
    let started = Instant::now();
    let first = service.notify(ALICE, &uns, &notification("first")).await;
    assert_eq!(first.status, 201);
    receiver.wait_for(1).await;

    // While that request hangs, another browser subscribes and gets a push of its own.
    let other = FakeBrowser::new(&receiver, "other");
    let bob_uns = service.subscribe(BOB, &other, HOST).await;
    let second = service.notify(BOB, &bob_uns, &notification("second")).await;
    assert_eq!(second.status, 201);

    let pushes = receiver.wait_for(3).await;
    service.wait_for_empty_queue().await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(5),
        "retried after the timeout, not after the hang: {elapsed:?}"
    );
    let to_hung: Vec<&Received> = pushes.iter().filter(|p| p.path == "/push/hung").collect();
    assert_eq!(to_hung.len(), 2, "the hung push and its retry");
    let plain: Value = serde_json::from_slice(&hung.decrypt(&to_hung[1].body)).unwrap();
    assert_eq!(plain["id"], first.body["id"]);
    let to_other = pushes.iter().find(|p| p.path == "/push/other").unwrap();
    let retried_after = to_hung[1].at - to_hung[0].at;
    assert!(
        retried_after >= Duration::from_millis(1000),
        "the retry came only after the timeout, {retried_after:?}"
    );
    assert!(
        to_other.at < to_hung[0].at + Duration::from_millis(1000),
        "the other push went out while the first one still hung"
    );
    let plain: Value = serde_json::from_slice(&other.decrypt(&to_other.body)).unwrap();
    assert_eq!(plain["id"], second.body["id"]);
    // The worker is not stuck: a later post goes out at once.
    let third = service.notify(ALICE, &uns, &notification("third")).await;
    assert_eq!(third.status, 201);
    let last = receiver.wait_for(4).await.remove(3);
    let plain: Value = serde_json::from_slice(&hung.decrypt(&last.body)).unwrap();
    assert_eq!(plain["id"], third.body["id"]);
}

#[tokio::test]
async fn a_404_removes_only_that_subscription_and_the_users_other_browsers_still_get_pushes() {
    let service = TestService::start().await;
    let receiver = PushReceiver::start().await;
    let gone = FakeBrowser::new(&receiver, "gone");
    let gone_uns = service.subscribe(ALICE, &gone, HOST).await;
    receiver.answer_next(&[(404, None)]);
    assert_eq!(
        service
            .notify(ALICE, &gone_uns, &notification("first"))
            .await
            .status,
        201
    );
    assert_eq!(receiver.wait_for(1).await[0].answered, 404);
    service.wait_for_empty_queue().await;

    // A second browser of alice's, registered afterwards, is not affected.
    let alive = FakeBrowser::new(&receiver, "alive");
    service.subscribe(ALICE, &alive, HOST).await;
    // The UNSID of the removed subscription still names alice: posts with it are accepted,
    // stored, and pushed to her other browser only, never again to the gone endpoint.
    let second = service
        .notify(ALICE, &gone_uns, &notification("second"))
        .await;
    assert_eq!(second.status, 201);
    let last = receiver.wait_for(2).await.remove(1);
    service.wait_for_empty_queue().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        receiver.count(),
        2,
        "nothing more went to the gone endpoint"
    );
    assert_eq!(last.path, "/push/alive");
    let plain: Value = serde_json::from_slice(&alive.decrypt(&last.body)).unwrap();
    assert_eq!(plain["id"], second.body["id"]);
    let feed = service.get("/me/notifications", ALICE).await;
    assert_eq!(feed.body["value"].as_array().unwrap().len(), 2);
    // Subscribing the same endpoint again registers it afresh (the old one was forgotten).
    let again = service.subscribe(ALICE, &gone, HOST).await;
    assert_ne!(again, gone_uns);
    let third = service.notify(ALICE, &again, &notification("third")).await;
    assert_eq!(third.status, 201);
    let pushes = receiver.wait_for(4).await;
    let mut paths: Vec<&str> = pushes[2..].iter().map(|push| push.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, vec!["/push/alive", "/push/gone"]);
}

// ---------------------------------------------------------------------------------------
// The database is busy
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_while_another_process_holds_the_write_lock_wait_for_it_and_none_is_lost() {
    const POSTS: usize = 20;
    let (service, receiver, _browser, uns) = subscribed_with(|_| {}).await;
    // Something to update, so that reading before writing is exercised too.
    assert_eq!(
        service.notify(ALICE, &uns, &tagged("same")).await.status,
        201
    );
    receiver.wait_for(1).await;

    // Another process takes the write lock, writes, and holds it for a second.
    let (locked_at, holder) = hold_write_lock(&service.db_path(), Duration::from_secs(1));

    let service = Arc::new(service);
    let mut posts = tokio::task::JoinSet::new();
    for index in 0..POSTS {
        let (service, uns) = (Arc::clone(&service), uns.clone());
        posts.spawn(async move {
            // Every fourth post updates the existing notification instead of adding one.
            let body = if index % 4 == 0 {
                tagged("same")
            } else {
                tagged(&format!("busy-{index}"))
            };
            let answer = service.notify(ALICE, &uns, &body).await;
            (index, answer, Instant::now())
        });
    }
    let mut answers = Vec::new();
    while let Some(joined) = posts.join_next().await {
        answers.push(joined.unwrap());
    }
    let released_at = holder.join().unwrap();
    for (index, answer, at) in &answers {
        assert_eq!(answer.status, 201, "post {index}: {}", answer.body);
        assert!(
            *at >= released_at,
            "post {index} answered {:?} before the lock was released",
            released_at - *at
        );
    }
    eprintln!(
        "write lock held {:?}; {POSTS} posts all answered 201 after it was released",
        released_at - locked_at
    );

    // Nothing was lost: every post is in the feed and pushed, and the service still works.
    let feed = service.get("/me/notifications", ALICE).await;
    let titles: Vec<&str> = feed.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["appNotificationId"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 1 + POSTS - POSTS.div_ceil(4));
    // An update replaces a push of the same notification still queued, so wait for every
    // notification (by Topic), not for one push per post.
    let topics = |received: Vec<Received>| {
        let mut topics: Vec<String> = received
            .iter()
            .filter_map(|push| push.header("topic").map(str::to_owned))
            .collect();
        topics.sort();
        topics.dedup();
        topics
    };
    wait_until(
        Duration::from_secs(10),
        "a push of every notification",
        || topics(receiver.received()).len() == titles.len(),
    )
    .await;
    service.wait_for_empty_queue().await;
    let before = receiver.count();
    let after = service.notify(ALICE, &uns, &tagged("after")).await;
    assert_eq!(after.status, 201);
    let last = receiver.wait_for(before + 1).await.remove(before);
    assert_eq!(last.header("topic"), Some("after"));
}

// ---------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------

/// Posts `posts` notifications with `clients` concurrent clients to one user with
/// `browsers` subscriptions and checks that every push arrives; returns the time it took.
async fn post_and_deliver(posts: usize, browsers: usize, clients: usize) -> Duration {
    let service = Arc::new(TestService::start_with(|config| config.rate_per_minute = 0).await);
    let receiver = PushReceiver::start().await;
    let mut uns = String::new();
    for index in 0..browsers {
        let browser = FakeBrowser::new(&receiver, &format!("b{index}"));
        uns = service.subscribe(ALICE, &browser, HOST).await;
    }
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (service, uns, next) = (Arc::clone(&service), uns.clone(), Arc::clone(&next));
        tasks.spawn(async move {
            let mut errors = Vec::new();
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if index >= posts {
                    return errors;
                }
                let answer = service
                    .notify(ALICE, &uns, &tagged(&format!("load-{index}")))
                    .await;
                if answer.status != 201 {
                    errors.push((index, answer.status, answer.body));
                }
            }
        });
    }
    let mut errors = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        errors.extend(joined.unwrap());
    }
    let posted_in = started.elapsed();
    assert!(
        errors.is_empty(),
        "{} errors, first {:?}",
        errors.len(),
        errors.first()
    );
    let expected = posts * browsers;
    wait_until(Duration::from_secs(120), "every push", || {
        receiver.count() >= expected
    })
    .await;
    let delivered_in = started.elapsed();
    service.wait_for_empty_queue().await;
    let received = receiver.received();
    let mut pairs: Vec<(String, String)> = received
        .iter()
        .map(|push| {
            (
                push.path.clone(),
                push.header("topic").unwrap_or_default().to_owned(),
            )
        })
        .collect();
    pairs.sort();
    pairs.dedup();
    assert_eq!(pairs.len(), expected, "every notification to every browser");
    assert_eq!(received.len(), expected, "and each exactly once");
    let peak = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .map(|line| line.split_whitespace().nth(1).unwrap().to_owned())
        .unwrap();
    eprintln!(
        "{posts} posts x {browsers} browsers, {clients} clients: posted in {posted_in:?} \
         ({:.0}/s), all {expected} pushes in {delivered_in:?}; peak memory of the test \
         process {peak} KiB",
        posts as f64 / posted_in.as_secs_f64()
    );
    delivered_in
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_posts_from_concurrent_clients_are_all_accepted_and_all_pushed() {
    post_and_deliver(1_000, 2, 8).await;
}

/// Ten thousand: too slow for every `cargo test` with debug-built crypto; run it with
/// `cargo test --release -p usernotify-service --test faults -- --ignored`, and see the
/// benchmark (`--example bench`), which posts 10,000 too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn ten_thousand_posts_from_concurrent_clients_are_all_accepted_and_all_pushed() {
    post_and_deliver(10_000, 3, 16).await;
}
