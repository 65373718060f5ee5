//! Hostile tenants, delivery (issue 27, item 1): one user whose endpoints hang cannot take
//! the senders from the others. Each test runs the real binary (and on PostgreSQL two
//! replicas of it on one database) over real HTTP on loopback: bob registers browsers whose
//! push service accepts connections and never answers (a tarpit), posts, and his pushes
//! hang; alice's posts meanwhile must each be attempted within a second.

mod common;

use std::time::{Duration, Instant};

use common::hostile::{settings, titled, Tarpit, Tenant};
use common::{Binary, PushReceiver, ALICE, BOB};

/// Bob's hanging browsers; the bound the issue sets holds with this many in flight.
const BOB_BROWSERS: usize = 100;
/// Alice's posts while bob's pushes hang: enough for a p99 that is not one sample's luck.
const ALICE_POSTS: usize = 40;

/// Registers bob's browsers at the tarpit through `bob` and posts once: his pushes hang.
/// Returns once `hanging` of them hold a connection at the tarpit.
async fn bobs_pushes_hang(bob: &Tenant, tarpit: &Tarpit, hanging: usize) {
    let unused = PushReceiver::start().await;
    let mut first = None;
    for index in 0..BOB_BROWSERS {
        let uns = bob
            .subscribe_at(&unused, &tarpit.endpoint(&format!("bob-{index}")))
            .await;
        first.get_or_insert(uns);
    }
    let answer = bob
        .post(first.as_deref().unwrap(), &titled("bob's flood", 10))
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    tarpit.wait_for_open(hanging).await;
}

/// Alice posts `ALICE_POSTS` times, one after another (each through the next of
/// `through`), and each time waits for the push at her receiver: the time from the post to
/// the push's arrival, sorted.
async fn alices_push_latencies(through: &[Tenant], receiver: &PushReceiver) -> Vec<Duration> {
    let uns = through[0]
        .subscribe_at(receiver, &receiver.endpoint("alice"))
        .await;
    let mut latencies = Vec::with_capacity(ALICE_POSTS);
    for index in 0..ALICE_POSTS {
        let alice = &through[index % through.len()];
        let posted = Instant::now();
        let answer = alice
            .post(&uns, &titled(&format!("for alice {index}"), 10))
            .await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        let arrived = receiver.wait_for(index + 1).await;
        latencies.push(arrived[index].at.saturating_duration_since(posted));
    }
    latencies.sort();
    latencies
}

/// The 99th percentile of sorted samples.
fn p99(sorted: &[Duration]) -> Duration {
    let rank = (sorted.len() * 99).div_ceil(100).max(1);
    sorted[rank - 1]
}

fn assert_within_a_second(latencies: &[Duration], hanging: usize) {
    let p99 = p99(latencies);
    eprintln!(
        "alice's push with {hanging} of bob's hanging: median {:?}, p99 {p99:?}, most {:?}",
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
    assert!(
        p99 < Duration::from_secs(1),
        "alice's pushes waited {p99:?} (p99) behind bob's hanging ones: {latencies:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_users_hanging_endpoints_hold_no_more_than_his_share_and_never_delay_another_users_push()
{
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usernotify.db");
    let binary = Binary::start_with(
        &db,
        None,
        &settings(&[("USERNOTIFY_MAX_SUBSCRIPTIONS_PER_USER", "200")]),
    )
    .await;
    let tarpit = Tarpit::start().await;
    let bob = Tenant::new(&binary.base, BOB);
    // The default share: 64 of the 256 senders for one user.
    bobs_pushes_hang(&bob, &tarpit, 64).await;
    let receiver = PushReceiver::start().await;
    let latencies = alices_push_latencies(&[Tenant::new(&binary.base, ALICE)], &receiver).await;
    assert_within_a_second(&latencies, tarpit.open());
    assert!(
        tarpit.most_at_once() <= 64,
        "bob held {} senders at once, more than his share of 64",
        tarpit.most_at_once()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_100_of_one_users_pushes_hanging_another_users_push_is_attempted_within_a_second_on_sqlite(
) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usernotify.db");
    // The case: the operator lets one user hold 100 pushes in flight.
    let binary = Binary::start_with(
        &db,
        None,
        &settings(&[
            ("USERNOTIFY_MAX_SUBSCRIPTIONS_PER_USER", "200"),
            ("USERNOTIFY_PUSHES_IN_FLIGHT_PER_USER", "100"),
            ("USERNOTIFY_PUSHES_IN_FLIGHT_PER_HOST", "100"),
        ]),
    )
    .await;
    let tarpit = Tarpit::start().await;
    bobs_pushes_hang(&Tenant::new(&binary.base, BOB), &tarpit, BOB_BROWSERS).await;
    let receiver = PushReceiver::start().await;
    let latencies = alices_push_latencies(&[Tenant::new(&binary.base, ALICE)], &receiver).await;
    assert_within_a_second(&latencies, tarpit.open());
}

#[tokio::test(flavor = "multi_thread")]
async fn with_100_of_one_users_pushes_hanging_another_users_push_is_attempted_within_a_second_on_two_postgres_replicas(
) {
    let url = common::postgres::fresh_database().await;
    let more = settings(&[
        ("USERNOTIFY_MAX_SUBSCRIPTIONS_PER_USER", "200"),
        ("USERNOTIFY_PUSHES_IN_FLIGHT_PER_USER", "50"),
        ("USERNOTIFY_PUSHES_IN_FLIGHT_PER_HOST", "50"),
        ("USERNOTIFY_DB_POOL", "8"),
    ]);
    let first = Binary::start_with(&url, None, &more).await;
    let second = Binary::start_with(&url, None, &more).await;
    let tarpit = Tarpit::start().await;
    // Each replica sends 50 of bob's 100: all of them hang at once.
    bobs_pushes_hang(&Tenant::new(&first.base, BOB), &tarpit, BOB_BROWSERS).await;
    let receiver = PushReceiver::start().await;
    let alice = Tenant::new(&first.base, ALICE);
    let latencies =
        alices_push_latencies(&[alice.clone(), alice.at(&second.base)], &receiver).await;
    assert_within_a_second(&latencies, tarpit.open());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_host_that_keeps_timing_out_rests_and_its_pushes_wait_without_holding_senders() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usernotify.db");
    let binary = Binary::start_with(
        &db,
        None,
        &settings(&[
            ("USERNOTIFY_MAX_SUBSCRIPTIONS_PER_USER", "200"),
            ("USERNOTIFY_PUSH_TIMEOUT_SECS", "1"),
        ]),
    )
    .await;
    let tarpit = Tarpit::start().await;
    bobs_pushes_hang(&Tenant::new(&binary.base, BOB), &tarpit, 64).await;
    // Bob's first 64 time out after a second; the host then rests, so the other 36 are not
    // sent into the tarpit one share after another.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        tarpit.open(),
        0,
        "no push hangs at a host that is resting after its timeouts"
    );
    let deliveries = Tenant::new(&binary.base, BOB);
    let feed = deliveries.get("/me/notifications").await;
    let id = feed.body["value"][0]["id"].as_str().unwrap().to_owned();
    let states = deliveries
        .get(&format!("/me/notifications/{id}/deliveries"))
        .await;
    let rows = states.body["value"].as_array().unwrap();
    let timed_out = rows
        .iter()
        .filter(|row| row["reason"] == "timeout" && row["state"] == "retrying")
        .count();
    // The share, and at most the two that could start before the third timeout made the
    // host rest.
    assert!(
        (64..=66).contains(&timed_out),
        "the share that was sent timed out and waits for a retry: {rows:?}"
    );
    let untried = rows.iter().filter(|row| row["attempts"] == 0).count();
    assert_eq!(
        untried + timed_out,
        100,
        "the rest were never sent: {rows:?}"
    );
}
