//! Settings and headers an attacker (or a slip of the operator's) reaches, against the real
//! binary: a `Host` that is not an authority is never reflected, `*` as the CORS origins
//! means any origin without credentials, and a bad setting or a taken port says what to do.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// Sends `request` as raw bytes and reads the whole answer (the request closes the
/// connection): the status line and headers, and the body.
fn raw(base: &str, request: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), body.to_owned())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then_some(value.trim())
    })
}

/// A post as alice with `host` as the `Host` header.
fn post_with_host(base: &str, uns: &str, host: &str) -> (String, Value) {
    let body = notification("hosted").to_string();
    let (head, body) = raw(
        base,
        &format!(
            "POST /me/notifications HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {ALICE}\r\nX-UNS: {uns}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(head.starts_with("HTTP/1.1 201"), "{head}");
    (head, serde_json::from_str(&body).unwrap())
}

#[tokio::test]
async fn a_host_header_that_is_not_an_authority_is_never_reflected() {
    let receiver = PushReceiver::start().await;
    let browser = FakeBrowser::new(&receiver, "hosted");
    let files = tempfile::tempdir().unwrap();
    let db = files.path().join("service.db");
    let service = Binary::start(&db).await;
    let uns = service.subscribe(&browser).await;
    for host in [
        "evil.example/x?y=",
        "evil.example?y=",
        "user@evil.example",
        "evil.example:bad",
        "evil.example#frag",
    ] {
        let (head, body) = post_with_host(&service.base, &uns, host);
        let location = header(&head, "location").unwrap();
        let id = body["id"].as_str().unwrap();
        assert_eq!(location, format!("/me/notifications/{id}"), "{host}");
        let context = body["@odata.context"].as_str().unwrap();
        assert!(
            context.starts_with("/$metadata#users("),
            "{host}: {context}"
        );
        assert!(
            !head.contains("evil") && !context.contains("evil"),
            "{host}"
        );
    }
    // A plain host and port is taken as it is (without USERNOTIFY_PUBLIC_URL)...
    let (head, _) = post_with_host(&service.base, &uns, "notify.example:8443");
    assert!(
        header(&head, "location")
            .unwrap()
            .starts_with("http://notify.example:8443/me/notifications/"),
        "{head}"
    );
    drop(service);
    // ...and with it, production's way, the Host is never used.
    let public = Binary::start_with(
        &db,
        None,
        &[("USERNOTIFY_PUBLIC_URL", "https://notify.example.com/")],
    )
    .await;
    let (head, body) = post_with_host(&public.base, &uns, "evil.example");
    assert!(
        header(&head, "location")
            .unwrap()
            .starts_with("https://notify.example.com/me/notifications/"),
        "{head}"
    );
    assert!(body["@odata.context"]
        .as_str()
        .unwrap()
        .starts_with("https://notify.example.com/$metadata"));
}

#[tokio::test]
async fn cors_origins_star_lets_any_origin_call_without_credentials() {
    let files = tempfile::tempdir().unwrap();
    let service = Binary::start_with(
        files.path().join("service.db"),
        None,
        &[("USERNOTIFY_CORS_ORIGINS", "*")],
    )
    .await;
    let (head, _) = raw(
        &service.base,
        "OPTIONS /me/notifications HTTP/1.1\r\nHost: x\r\nOrigin: https://any.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization, content-type, x-uns\r\nConnection: close\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(header(&head, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&head, "access-control-allow-credentials"), None);
    let answer = reqwest::Client::new()
        .get(format!("{}/me/notifications", service.base))
        .bearer_auth(ALICE)
        .header("origin", "https://other.example")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["access-control-allow-origin"], "*");
    assert!(!answer
        .headers()
        .contains_key("access-control-allow-credentials"));
}

/// Runs the binary with `settings` until it exits by itself; its exit code and log.
fn run_to_exit(settings: &[(&str, &str)]) -> (Option<i32>, String) {
    let files = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(Binary::path())
        .env("USERNOTIFY_DB", files.path().join("service.db"))
        .env("USERNOTIFY_VAPID_SUBJECT", VAPID_SUBJECT)
        .env("HOST", "127.0.0.1")
        .env("PORT", free_port().to_string())
        .env("NO_COLOR", "1")
        .envs(settings.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code(), log)
}

#[test]
fn a_bad_setting_is_refused_at_start_naming_it_and_a_taken_port_says_to_set_port() {
    for (name, value) in [
        ("USERNOTIFY_CORS_ORIGINS", "app.example.com"),
        ("USERNOTIFY_CORS_ORIGINS", "https://app.example.com/path"),
        ("USERNOTIFY_PUBLIC_URL", "notify.example.com"),
        ("USERNOTIFY_PUSH_HOSTS", "https://fcm.googleapis.com/"),
        ("USERNOTIFY_MAX_CONNECTIONS", "0"),
        ("USERNOTIFY_HEADER_TIMEOUT_SECONDS", "never"),
    ] {
        let (code, log) = run_to_exit(&[(name, value)]);
        assert_eq!(code, Some(2), "{name}={value}: {log}");
        assert!(log.contains(name), "{name}={value}: {log}");
    }
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, log) = run_to_exit(&[("PORT", &port)]);
    assert_ne!(code, Some(0), "{log}");
    assert!(log.contains("set PORT"), "{log}");
}
