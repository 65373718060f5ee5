//! The settings read from the environment, and refused.

use super::*;
use std::collections::HashMap;

const SUBJECT: (&str, &str) = ("USERNOTIFY_VAPID_SUBJECT", "mailto:ops@app.example");

/// Reads `vars` as the environment, with a VAPID subject unless `vars` names one.
fn read(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut map: HashMap<String, String> = vars
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    map.entry(SUBJECT.0.to_owned())
        .or_insert_with(|| SUBJECT.1.to_owned());
    Config::from_vars(|name| map.get(name).cloned())
}

#[test]
fn without_a_vapid_subject_the_settings_are_refused_naming_it() {
    for value in ["", "  "] {
        let error = read(&[("USERNOTIFY_VAPID_SUBJECT", value)]).unwrap_err();
        assert_eq!(error.code(), "missing-setting");
        assert!(error.to_string().contains("USERNOTIFY_VAPID_SUBJECT"));
    }
    let error = read(&[("USERNOTIFY_VAPID_SUBJECT", "ops@app.example")]).unwrap_err();
    assert_eq!(error.code(), "invalid-vapid-subject");
    assert!(error.to_string().contains("USERNOTIFY_VAPID_SUBJECT"));
    let config = read(&[("USERNOTIFY_VAPID_SUBJECT", "https://app.example")]).unwrap();
    assert_eq!(
        config.vapid_subject.unwrap().as_str(),
        "https://app.example"
    );
}

#[test]
fn jwt_settings_need_an_issuer_and_an_audience_and_default_the_rest() {
    assert_eq!(read(&[]).unwrap().oidc, None);
    let oidc = read(&[
        ("USERNOTIFY_JWT_ISSUER", "https://id.example/realms/app"),
        ("USERNOTIFY_JWT_AUDIENCE", "usernotify"),
    ])
    .unwrap()
    .oidc
    .unwrap();
    assert_eq!(oidc.issuer, "https://id.example/realms/app");
    assert_eq!(oidc.audience, "usernotify");
    assert_eq!(oidc.jwks_url, None);
    assert_eq!(oidc.user_claim, "sub");
    let error = read(&[("USERNOTIFY_JWT_ISSUER", "https://id.example/")]).unwrap_err();
    assert!(error.to_string().contains("USERNOTIFY_JWT_AUDIENCE"));
    let error = read(&[("USERNOTIFY_JWT_AUDIENCE", "usernotify")]).unwrap_err();
    assert!(error.to_string().contains("USERNOTIFY_JWT_ISSUER"));
    let oidc = read(&[
        ("USERNOTIFY_JWT_ISSUER", "http://127.0.0.1:9000/"),
        ("USERNOTIFY_JWT_AUDIENCE", "usernotify"),
        ("USERNOTIFY_JWKS_URL", "https://id.example/keys"),
        ("USERNOTIFY_JWT_USER_CLAIM", "email"),
    ])
    .unwrap()
    .oidc
    .unwrap();
    assert_eq!(oidc.jwks_url.as_deref(), Some("https://id.example/keys"));
    assert_eq!(oidc.user_claim, "email");
}

#[test]
fn an_issuer_must_be_https_unless_it_is_on_this_machine() {
    for issuer in ["http://id.example/", "id.example", "ftp://127.0.0.1/"] {
        let error = read(&[
            ("USERNOTIFY_JWT_ISSUER", issuer),
            ("USERNOTIFY_JWT_AUDIENCE", "usernotify"),
        ])
        .unwrap_err();
        assert_eq!(error.code(), "invalid-url", "{issuer}");
    }
}

#[test]
fn the_log_format_and_the_shutdown_grace_are_read() {
    let config = read(&[
        ("USERNOTIFY_LOG_FORMAT", "JSON"),
        ("USERNOTIFY_SHUTDOWN_GRACE_SECONDS", "3"),
    ])
    .unwrap();
    assert_eq!(config.log_format, LogFormat::Json);
    assert_eq!(config.delivery.shutdown_grace, Duration::from_secs(3));
    assert_eq!(read(&[]).unwrap().log_format, LogFormat::Text);
    assert_eq!(
        read(&[]).unwrap().delivery.shutdown_grace,
        Duration::from_secs(10)
    );
    assert_eq!(
        read(&[("USERNOTIFY_LOG_FORMAT", "xml")])
            .unwrap_err()
            .code(),
        "invalid-choice"
    );
    assert_eq!(
        read(&[("USERNOTIFY_SHUTDOWN_GRACE_SECONDS", "soon")])
            .unwrap_err()
            .code(),
        "invalid-number"
    );
}

#[test]
fn an_empty_environment_but_the_vapid_subject_gives_the_contract_defaults() {
    let config = read(&[]).unwrap();
    assert_eq!(config.host, "127.0.0.1");
    assert_eq!(config.port, 8080);
    assert_eq!(
        config.db,
        DbLocation::Sqlite(PathBuf::from("./usernotify.db"))
    );
    assert_eq!(config.delivery.lease, Duration::from_secs(60));
    assert_eq!(config.rate_per_minute, 600);
    assert!(!config.allow_loopback_push);
    assert!(config.tokens.is_empty());
    assert!(
        config.delivery.declarative_push,
        "Declarative Web Push is on by default"
    );
}

#[test]
fn declarative_web_push_is_turned_off_with_0_and_a_bad_value_is_refused() {
    let off = read(&[("USERNOTIFY_DECLARATIVE_PUSH", "0")]).unwrap();
    assert!(!off.delivery.declarative_push);
    let on = read(&[("USERNOTIFY_DECLARATIVE_PUSH", "1")]).unwrap();
    assert!(on.delivery.declarative_push);
    let error = read(&[("USERNOTIFY_DECLARATIVE_PUSH", "maybe")]).unwrap_err();
    assert_eq!(error.code(), "invalid-flag");
    assert!(error.to_string().contains("USERNOTIFY_DECLARATIVE_PUSH"));
}

#[test]
fn tokens_blocked_callers_and_flags_are_read() {
    let config = read(&[
        ("USERNOTIFY_TOKENS", "abc:alice, x:y:bob"),
        ("USERNOTIFY_BLOCKED_CALLERS", "mallory,,eve"),
        ("USERNOTIFY_ALLOW_LOOPBACK_PUSH", "1"),
        ("USERNOTIFY_RATE_PER_MINUTE", "5"),
        ("PORT", "9000"),
    ])
    .unwrap();
    assert_eq!(config.tokens.len(), 2);
    assert_eq!(config.tokens[1].token, "x:y");
    assert_eq!(config.tokens[1].user, "bob");
    assert!(config.blocked_callers.contains("eve"));
    assert_eq!(config.blocked_callers.len(), 2);
    assert!(config.allow_loopback_push);
    assert_eq!(config.rate_per_minute, 5);
    assert_eq!(config.port, 9000);
}

#[test]
fn a_bad_token_list_is_refused_without_echoing_it() {
    let error = read(&[("USERNOTIFY_TOKENS", "secret-without-user")]).unwrap_err();
    assert_eq!(error.code(), "invalid-tokens");
    assert!(!error.to_string().contains("secret"));
}

#[test]
fn debug_output_hides_tokens() {
    let config = Config::new("x.db").with_token("s3cret", "alice");
    let text = format!("{config:?}");
    assert!(!text.contains("s3cret"));
    assert!(text.contains("alice"));
}

#[test]
fn a_postgres_url_its_pool_and_the_lease_are_read_and_the_password_never_shown() {
    let config = read(&[
        (
            "USERNOTIFY_DB",
            "postgres://app:pw-secret@db.example:5432/notify",
        ),
        ("USERNOTIFY_DB_POOL", "8"),
        ("USERNOTIFY_DELIVERY_LEASE_SECS", "5"),
    ])
    .unwrap();
    assert!(matches!(config.db, DbLocation::Postgres(_)));
    assert_eq!(config.db_settings.max_connections, 8);
    assert_eq!(config.delivery.lease, Duration::from_secs(5));
    assert!(!format!("{config:?}").contains("pw-secret"));
    let error = read(&[("USERNOTIFY_DB_POOL", "0")]).unwrap_err();
    assert_eq!(error.code(), "invalid-number");
}

#[test]
fn limits_per_user_and_the_pool_shares_are_read_and_default_sanely() {
    let defaults = read(&[]).unwrap();
    assert_eq!(defaults.limits, UserLimits::default());
    assert!(defaults.delivery.per_user < defaults.delivery.batch);
    assert!(defaults.delivery.per_host < defaults.delivery.batch);
    assert!(defaults.delivery.connect_timeout < defaults.delivery.request_timeout);
    let config = read(&[
        ("USERNOTIFY_MAX_SUBSCRIPTIONS_PER_USER", "3"),
        ("USERNOTIFY_MAX_NOTIFICATIONS_PER_USER", "100000"),
        ("USERNOTIFY_MAX_CHANGE_STREAMS_PER_USER", "2"),
        ("USERNOTIFY_PUSHES_IN_FLIGHT", "32"),
        ("USERNOTIFY_PUSHES_IN_FLIGHT_PER_USER", "4"),
        ("USERNOTIFY_PUSHES_IN_FLIGHT_PER_HOST", "8"),
        ("USERNOTIFY_PUSH_TIMEOUT_SECS", "20"),
        ("USERNOTIFY_PUSH_CONNECT_TIMEOUT_SECS", "2"),
    ])
    .unwrap();
    assert_eq!(config.delivery.request_timeout, Duration::from_secs(20));
    assert_eq!(config.delivery.connect_timeout, Duration::from_secs(2));
    assert_eq!(
        config.limits,
        UserLimits {
            subscriptions: 3,
            notifications: 100_000,
            change_streams: 2,
        }
    );
    assert_eq!(
        (
            config.delivery.batch,
            config.delivery.per_user,
            config.delivery.per_host
        ),
        (32, 4, 8)
    );
    let error = read(&[("USERNOTIFY_MAX_NOTIFICATIONS_PER_USER", "0")]).unwrap_err();
    assert_eq!(error.code(), "invalid-number");
    assert!(error
        .to_string()
        .contains("USERNOTIFY_MAX_NOTIFICATIONS_PER_USER"));
}

#[test]
fn push_hosts_default_to_the_browsers_push_services_and_are_extended_or_replaced() {
    assert_eq!(read(&[]).unwrap().push_hosts, PushHosts::default());
    let extended = read(&[("USERNOTIFY_PUSH_HOSTS", "default,push.example.net")])
        .unwrap()
        .push_hosts;
    assert!(extended.names.contains(&"fcm.googleapis.com".to_owned()));
    assert!(extended.names.contains(&"push.example.net".to_owned()));
    assert!(
        read(&[("USERNOTIFY_PUSH_HOSTS", "*")])
            .unwrap()
            .push_hosts
            .any_public
    );
    let error = read(&[("USERNOTIFY_PUSH_HOSTS", "default,http://x")]).unwrap_err();
    assert_eq!(error.code(), "invalid-item");
    assert!(error.to_string().contains("USERNOTIFY_PUSH_HOSTS"));
}

#[test]
fn connection_limits_have_defaults_and_must_be_positive() {
    let config = read(&[]).unwrap();
    assert_eq!(config.connections, ConnectionSettings::default());
    assert_eq!(config.connections.max, 10_000);
    assert_eq!(config.connections.header_timeout, Duration::from_secs(20));
    let config = read(&[
        ("USERNOTIFY_MAX_CONNECTIONS", "50"),
        ("USERNOTIFY_HEADER_TIMEOUT_SECONDS", "2"),
    ])
    .unwrap();
    assert_eq!(config.connections.max, 50);
    assert_eq!(config.connections.header_timeout, Duration::from_secs(2));
    for (name, value) in [
        ("USERNOTIFY_MAX_CONNECTIONS", "0"),
        ("USERNOTIFY_HEADER_TIMEOUT_SECONDS", "soon"),
    ] {
        let error = read(&[(name, value)]).unwrap_err();
        assert_eq!(error.code(), "invalid-number");
        assert!(error.to_string().contains(name));
    }
}

#[test]
fn cors_origins_are_origins_or_a_star_and_anything_else_is_refused_naming_the_setting() {
    let config = read(&[(
        "USERNOTIFY_CORS_ORIGINS",
        "https://App.example.com/, http://127.0.0.1:5173, https://b.example:443",
    )])
    .unwrap();
    assert_eq!(
        config.cors_origins,
        [
            "https://app.example.com",
            "http://127.0.0.1:5173",
            "https://b.example"
        ]
    );
    assert_eq!(
        read(&[("USERNOTIFY_CORS_ORIGINS", "*")])
            .unwrap()
            .cors_origins,
        ["*"]
    );
    for bad in [
        "app.example.com",
        "https://app.example.com/path",
        "null",
        "*.example.com",
    ] {
        let error = read(&[("USERNOTIFY_CORS_ORIGINS", bad)]).unwrap_err();
        assert_eq!(error.code(), "invalid-item", "{bad}");
        assert!(error.to_string().contains("USERNOTIFY_CORS_ORIGINS"));
    }
}

#[test]
fn a_public_url_must_be_an_absolute_http_url() {
    let config = read(&[("USERNOTIFY_PUBLIC_URL", "https://notify.example.com/")]).unwrap();
    assert_eq!(
        config.public_url.as_deref(),
        Some("https://notify.example.com")
    );
    for bad in [
        "notify.example.com",
        "https://notify.example.com/?x=1",
        "ftp://x/",
    ] {
        let error = read(&[("USERNOTIFY_PUBLIC_URL", bad)]).unwrap_err();
        assert!(error.to_string().contains("USERNOTIFY_PUBLIC_URL"), "{bad}");
    }
}

#[test]
fn a_static_user_name_with_a_hash_is_refused_as_it_could_be_a_jwt_users() {
    let error = read(&[("USERNOTIFY_TOKENS", "t1:https://id.example#alice")]).unwrap_err();
    assert_eq!(error.code(), "reserved-user-name");
    assert!(error.to_string().contains("USERNOTIFY_TOKENS"));
    assert!(
        !error.to_string().contains("t1"),
        "the token is never shown"
    );
}

#[test]
fn an_issuer_with_a_fragment_or_a_query_is_refused() {
    for issuer in ["https://id.example/#x", "https://id.example/?tenant=1"] {
        let error = read(&[
            ("USERNOTIFY_JWT_ISSUER", issuer),
            ("USERNOTIFY_JWT_AUDIENCE", "usernotify"),
        ])
        .unwrap_err();
        assert_eq!(error.code(), "invalid-url", "{issuer}");
    }
}

#[test]
fn static_dirs_are_mount_equals_directory_pairs() {
    let config = read(&[("USERNOTIFY_STATIC", "/=www,/pkg=pkg")]).unwrap();
    assert_eq!(config.static_dirs.len(), 2);
    assert_eq!(config.static_dirs[1].mount, "/pkg");
    assert!(read(&[("USERNOTIFY_STATIC", "www")]).is_err());
}
