//! Slow and idle clients, tried as an attacker would: thousands of real TCP connections to
//! the real binary that never finish their headers, or never send a byte.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Descriptors the process has open.
fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// The process's open-file limits: (soft, hard).
fn file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap()
        .to_owned();
    let mut numbers = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .map(str::to_owned);
    (numbers.next().unwrap(), numbers.next().unwrap())
}

/// A client that opens a fresh connection for each request.
fn fresh_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Opens `count` connections to `base`, 100 at a time; every other one sends the start of
/// a request whose headers never end, the others send nothing.
async fn hold_connections(base: &str, count: usize) -> Vec<TcpStream> {
    let address = base.trim_start_matches("http://").to_owned();
    let mut held = Vec::with_capacity(count);
    for batch in (0..count).collect::<Vec<_>>().chunks(100) {
        let mut opening = tokio::task::JoinSet::new();
        for &index in batch {
            let address = address.clone();
            opening.spawn(async move {
                let mut stream = TcpStream::connect(&address).await.unwrap();
                if index % 2 == 0 {
                    stream
                        .write_all(
                            b"GET /me/notifications HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ",
                        )
                        .await
                        .unwrap();
                }
                stream
            });
        }
        while let Some(stream) = opening.join_next().await {
            held.push(stream.unwrap());
        }
    }
    held
}

/// Waits until every held connection is closed by the service; returns how long it took.
async fn wait_closed(held: Vec<TcpStream>, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut waiting = tokio::task::JoinSet::new();
    for mut stream in held {
        waiting.spawn(async move {
            let mut buffer = [0u8; 1024];
            loop {
                match tokio::time::timeout(limit, stream.read(&mut buffer)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return true,
                    // hyper may answer a timed-out request (408) before it closes.
                    Ok(Ok(_)) => continue,
                    Err(_) => return false,
                }
            }
        });
    }
    let mut still_open = 0;
    while let Some(closed) = waiting.join_next().await {
        if !closed.unwrap() {
            still_open += 1;
        }
    }
    assert_eq!(still_open, 0, "connections the service never closed");
    started.elapsed()
}

/// The header timeout of the first test: longer than opening 2,000 connections takes here.
const TIMEOUT: Duration = Duration::from_secs(15);

#[tokio::test]
async fn the_service_keeps_answering_while_an_attacker_holds_2000_idle_partial_connections() {
    // The attacker (this test) needs the descriptors too.
    let ours = rlimit::increase_nofile_limit(u64::MAX).unwrap();
    assert!(
        ours >= 4096,
        "this machine's hard open-file limit is {ours}"
    );
    let files = tempfile::tempdir().unwrap();
    // Started with the soft limit of a login shell (1,024): the service raises its own.
    let service = Binary::start_with_file_limit(
        files.path().join("service.db"),
        &[(
            "USERNOTIFY_HEADER_TIMEOUT_SECONDS",
            &TIMEOUT.as_secs().to_string(),
        )],
        1024,
    )
    .await;
    let pid = service.child.id();
    let (soft, hard) = file_limits(pid);
    assert_eq!(soft, hard, "the soft limit was raised to the hard limit");
    let idle_files = open_files(pid);

    let opened = Instant::now();
    let held = hold_connections(&service.base, 2000).await;
    // Accepted by the service (each one a descriptor of its own), not left in the backlog.
    let deadline = Instant::now() + Duration::from_secs(5);
    while open_files(pid) < idle_files + 1995 {
        assert!(
            Instant::now() < deadline,
            "only {} files open",
            open_files(pid)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all_open = opened.elapsed();
    let http = fresh_client();
    let mut latencies = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let answer = http
            .get(format!("{}/healthz", service.base))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        latencies.push(started.elapsed());
    }
    assert!(
        opened.elapsed() < TIMEOUT,
        "the attack was held throughout ({:?})",
        opened.elapsed()
    );
    latencies.sort();
    let slowest = latencies[latencies.len() - 1];
    eprintln!(
        "2,000 connections held (open after {all_open:?}, {} files open): /healthz on a fresh connection median {:?}, slowest {slowest:?}",
        open_files(pid),
        latencies[latencies.len() / 2],
    );
    assert!(slowest < Duration::from_secs(1), "{latencies:?}");

    // The header timeout closes every one of them.
    wait_closed(held, TIMEOUT + Duration::from_secs(10)).await;
    eprintln!(
        "all 2,000 closed by the service {:?} after the first was opened",
        opened.elapsed()
    );
    assert!(opened.elapsed() < all_open + TIMEOUT + Duration::from_secs(5));
    let deadline = Instant::now() + Duration::from_secs(5);
    while open_files(pid) > idle_files + 10 {
        assert!(
            Instant::now() < deadline,
            "{} files still open",
            open_files(pid)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn past_the_connection_limit_new_clients_wait_in_the_backlog_until_a_slot_frees() {
    let files = tempfile::tempdir().unwrap();
    let service = Binary::start_with(
        files.path().join("service.db"),
        None,
        &[
            ("USERNOTIFY_MAX_CONNECTIONS", "20"),
            ("USERNOTIFY_HEADER_TIMEOUT_SECONDS", "3"),
        ],
    )
    .await;
    let pid = service.child.id();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle_files = open_files(pid);
    let opened = Instant::now();
    let held = hold_connections(&service.base, 20).await;
    // More attackers than the limit, all at once: they wait in the kernel's backlog, not
    // in the process.
    let address = service.base.trim_start_matches("http://").to_owned();
    let mut queued = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let address = address.clone();
        queued.spawn(async move { TcpStream::connect(&address).await });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = open_files(pid);
    assert!(
        during <= idle_files + 20 + 2,
        "{during} files open, {idle_files} before the attack"
    );
    // A client is not served while every slot is held...
    let http = fresh_client();
    let early = tokio::time::timeout(
        Duration::from_secs(1),
        http.get(format!("{}/healthz", service.base)).send(),
    )
    .await;
    assert!(early.is_err(), "answered while every slot was held");
    // ...and is, once the header timeout frees them (the backlog's attackers gone).
    queued.abort_all();
    while let Some(connected) = queued.join_next().await {
        drop(connected);
    }
    let answer = http
        .get(format!("{}/healthz", service.base))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let waited = opened.elapsed();
    eprintln!("20 of 20 connections held from 0 s: /healthz answered at {waited:?}");
    assert!(waited >= Duration::from_secs(3), "{waited:?}");
    assert!(waited < Duration::from_secs(15), "{waited:?}");
    wait_closed(held, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_body_trickled_in_slower_than_the_timeout_is_answered_408_before_it_ends() {
    let files = tempfile::tempdir().unwrap();
    let service = Binary::start_with(
        files.path().join("service.db"),
        None,
        &[("USERNOTIFY_HEADER_TIMEOUT_SECONDS", "2")],
    )
    .await;
    let address = service.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /me/notificationSubscriptions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ALICE}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // One byte every 200 ms, steadily: the whole body would take 200 s.
    let started = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..1000 {
            if writer.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\"request-timeout\"") {
        let read = tokio::time::timeout(Duration::from_secs(10), reader.read(&mut buffer))
            .await
            .expect("an answer before the body ends")
            .unwrap();
        assert!(
            read > 0,
            "closed without an answer: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buffer[..read]);
    }
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    eprintln!("a trickled body was answered 408 after {took:?}");
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(6),
        "{took:?}"
    );
    trickle.abort();
}
