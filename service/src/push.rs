//! One Web Push request, built purely (no I/O): RFC 8291 `aes128gcm` body from
//! web-push-native, RFC 8292 VAPID header, and RFC 8030 `TTL`, `Urgency`, `Topic`.

use axum::http::{self, header, Method, Request};
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use web_push_native::p256::PublicKey;
use web_push_native::Auth;

use crate::egress::{HostRefused, PushPolicy};
use crate::vapid::{Vapid, VapidError};

/// Longest endpoint accepted; real push services use a few hundred characters.
pub const MAX_ENDPOINT_CHARS: usize = 2048;
/// RFC 8030 §5.4: a `Topic` is at most 32 base64url characters.
pub const MAX_TOPIC_CHARS: usize = 32;
/// The longest `TTL` sent: Firebase Cloud Messaging's documented maximum, 28 days (it
/// answers 400 above it); a notification may live 30 days, so its first pushes would ask
/// for more.
pub const MAX_TTL_SECS: u64 = 28 * 24 * 3600;
/// The record size written in every body's header. RFC 8291 §4: it must be greater than
/// the plaintext, its padding delimiter and the 16-byte tag together; 4,096 is the size of a
/// whole push message, which no body here reaches.
const RECORD_SIZE: u32 = 4096;

/// Why a registered endpoint is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointError {
    NotAUrl,
    TooLong,
    /// Not https (nor loopback http when that is allowed).
    NotHttps,
    HasCredentials,
    /// A loopback, private or otherwise internal address, or `localhost`.
    NotPublic,
    /// A host that is not one of the push services the deployment allows.
    NotAPushService,
}

impl EndpointError {
    pub fn message(self) -> &'static str {
        match self {
            EndpointError::NotAUrl => "pushSubscription.endpoint is not an absolute URL.",
            EndpointError::TooLong => "pushSubscription.endpoint is too long.",
            EndpointError::NotHttps => "pushSubscription.endpoint must be an https URL.",
            EndpointError::HasCredentials => {
                "pushSubscription.endpoint must not carry a user name or password."
            }
            EndpointError::NotPublic => {
                "pushSubscription.endpoint must be on the public internet: loopback, private, link-local and other internal addresses are refused."
            }
            EndpointError::NotAPushService => {
                "pushSubscription.endpoint must be on a browser's push service (the service's USERNOTIFY_PUSH_HOSTS lists the hosts it accepts)."
            }
        }
    }
}

/// Accepts https endpoints on a host `policy` allows; with `policy.allow_loopback`, also
/// `http://127.0.0.1…` and `http://[::1]…` (test push receivers). Names are not resolved
/// here: the push client checks every address it dials (`egress::PublicOnlyResolver`).
pub fn check_endpoint(text: &str, policy: &PushPolicy) -> Result<reqwest::Url, EndpointError> {
    if text.len() > MAX_ENDPOINT_CHARS {
        return Err(EndpointError::TooLong);
    }
    let url = reqwest::Url::parse(text).map_err(|_| EndpointError::NotAUrl)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointError::HasCredentials);
    }
    let host = url.host().ok_or(EndpointError::NotHttps)?;
    let loopback = match host {
        url::Host::Ipv4(address) => address == std::net::Ipv4Addr::LOCALHOST,
        url::Host::Ipv6(address) => address == std::net::Ipv6Addr::LOCALHOST,
        url::Host::Domain(_) => false,
    };
    policy.check(&host).map_err(|refused| match refused {
        HostRefused::NotPublic => EndpointError::NotPublic,
        HostRefused::NotAPushService => EndpointError::NotAPushService,
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if policy.allow_loopback && loopback => Ok(url),
        _ => Err(EndpointError::NotHttps),
    }
}

/// The push host of an endpoint, `host[:port]` (the port only when it is not the scheme's
/// default), lower case: one push service, as far as sharing the senders goes. Empty for
/// text that is not a URL (such an endpoint was never registered).
pub fn push_host(endpoint: &str) -> String {
    let Ok(url) = reqwest::Url::parse(endpoint) else {
        return String::new();
    };
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

/// Decodes browser key material: base64url as `PushSubscription.toJSON()` gives it, but
/// padded or standard base64 is accepted too.
pub fn decode_key(text: &str) -> Option<Vec<u8>> {
    let trimmed = text.trim().trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| STANDARD_NO_PAD.decode(trimmed))
        .ok()
}

/// True for an uncompressed P-256 point, as `keys.p256dh` must be.
pub fn is_valid_p256dh(bytes: &[u8]) -> bool {
    bytes.len() == 65 && PublicKey::from_sec1_bytes(bytes).is_ok()
}

/// RFC 8030 `Urgency` from the Graph priority.
pub fn urgency_for(priority: &str) -> &'static str {
    if priority.eq_ignore_ascii_case("high") {
        "high"
    } else if priority.eq_ignore_ascii_case("low") {
        "low"
    } else {
        "normal"
    }
}

/// RFC 8030 `Topic` from `appNotificationId`: the id itself when it is already at most 32
/// base64url characters, else the first 32 characters of its SHA-256 in base64url, so that a
/// newer push with the same id replaces an undelivered older one at the push service.
pub fn topic_for(app_notification_id: &str) -> String {
    let usable = app_notification_id.len() <= MAX_TOPIC_CHARS
        && app_notification_id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if usable {
        return app_notification_id.to_owned();
    }
    URL_SAFE_NO_PAD
        .encode(Sha256::digest(app_notification_id.as_bytes()))
        .chars()
        .take(MAX_TOPIC_CHARS)
        .collect()
}

/// A short, stable tag for an endpoint in logs: endpoints are capabilities, never logged.
pub fn endpoint_tag(endpoint: &str) -> String {
    Sha256::digest(endpoint.as_bytes())
        .iter()
        .take(6)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// What one push carries besides the subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushMessage<'a> {
    pub payload: &'a [u8],
    pub ttl_secs: u64,
    pub urgency: &'static str,
    pub topic: Option<String>,
}

/// Why a push request could not be built.
#[derive(Debug)]
pub enum BuildError {
    Endpoint(EndpointError),
    /// The stored `p256dh` or `auth` is not usable key material.
    BadKeys,
    Encrypt(String),
    Vapid(VapidError),
    Http(http::Error),
}

impl BuildError {
    pub fn code(&self) -> &'static str {
        match self {
            BuildError::Endpoint(EndpointError::NotPublic) => "forbidden-address",
            BuildError::Endpoint(EndpointError::NotAPushService) => "not-a-push-service",
            BuildError::Endpoint(_) => "bad-endpoint",
            BuildError::BadKeys => "bad-subscription-keys",
            BuildError::Encrypt(_) => "encrypt-failed",
            BuildError::Vapid(error) => error.code(),
            BuildError::Http(_) => "bad-request-parts",
        }
    }
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for BuildError {}

/// Builds the encrypted, signed push request for one subscription.
pub fn build_request(
    endpoint: &str,
    p256dh: &[u8],
    auth: &[u8],
    message: &PushMessage<'_>,
    vapid: &Vapid,
    policy: &PushPolicy,
) -> Result<Request<Vec<u8>>, BuildError> {
    // Checked again: the subscription may predate the policy, and reqwest's resolver is
    // never asked about a literal address.
    let url = check_endpoint(endpoint, policy).map_err(BuildError::Endpoint)?;
    let ua_public = PublicKey::from_sec1_bytes(p256dh).map_err(|_| BuildError::BadKeys)?;
    let ua_auth = Auth::from_exact_iter(auth.iter().copied()).ok_or(BuildError::BadKeys)?;
    let mut body = web_push_native::encrypt(message.payload.to_vec(), &ua_public, &ua_auth)
        .map_err(|error| BuildError::Encrypt(error.to_string()))?;
    // web-push-native writes a record size of exactly the record's length, which RFC 8291
    // does not allow. The size is read from the header (salt, 16 bytes; then the size) and
    // is not part of the key derivation nor of the authenticated data, so it is set here.
    body.get_mut(16..20)
        .ok_or_else(|| BuildError::Encrypt("no aes128gcm header".to_owned()))?
        .copy_from_slice(&RECORD_SIZE.to_be_bytes());
    let authorization = vapid.authorization(&url).map_err(BuildError::Vapid)?;
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(url.as_str())
        .header("TTL", message.ttl_secs.min(MAX_TTL_SECS))
        .header("Urgency", message.urgency)
        .header(header::CONTENT_ENCODING, "aes128gcm")
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::AUTHORIZATION, authorization);
    if let Some(topic) = &message.topic {
        builder = builder.header("Topic", topic.as_str());
    }
    builder.body(body).map_err(BuildError::Http)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow_loopback: bool) -> PushPolicy {
        PushPolicy {
            allow_loopback,
            ..PushPolicy::default()
        }
    }

    #[test]
    fn only_https_or_allowed_loopback_http_endpoints_pass() {
        assert!(check_endpoint("https://fcm.googleapis.com/fcm/send/x", &policy(false)).is_ok());
        assert!(check_endpoint("http://127.0.0.1:9/x", &policy(true)).is_ok());
        assert!(check_endpoint("http://[::1]:9/x", &policy(true)).is_ok());
        for refused in [
            "http://127.0.0.2/x",
            "ftp://127.0.0.1/x",
            "http://fcm.googleapis.com/fcm/send/x",
        ] {
            assert_eq!(
                check_endpoint(refused, &policy(true)),
                Err(EndpointError::NotHttps),
                "{refused}"
            );
        }
        for refused in [
            "http://localhost:9/x",
            "http://10.0.0.1/x",
            "https://[fe80::1]/",
        ] {
            assert_eq!(
                check_endpoint(refused, &policy(true)),
                Err(EndpointError::NotPublic),
                "{refused}"
            );
        }
        assert_eq!(
            check_endpoint("https://127.0.0.1:18443/", &policy(false)),
            Err(EndpointError::NotPublic)
        );
        assert_eq!(
            check_endpoint("http://127.0.0.1:9/x", &policy(false)),
            Err(EndpointError::NotPublic)
        );
        assert_eq!(
            check_endpoint("https://push.attacker.example/x", &policy(false)),
            Err(EndpointError::NotAPushService)
        );
        assert_eq!(
            check_endpoint("https://u:p@fcm.googleapis.com/x", &policy(false)),
            Err(EndpointError::HasCredentials)
        );
        assert_eq!(
            check_endpoint("/relative", &policy(true)),
            Err(EndpointError::NotAUrl)
        );
    }

    #[test]
    fn a_push_host_is_the_endpoints_host_and_port_unless_the_default() {
        assert_eq!(
            push_host("https://FCM.googleapis.com/fcm/send/x"),
            "fcm.googleapis.com"
        );
        assert_eq!(
            push_host("https://fcm.googleapis.com:443/x"),
            "fcm.googleapis.com"
        );
        assert_eq!(push_host("http://127.0.0.1:9000/a/b"), "127.0.0.1:9000");
        assert_eq!(push_host("http://[::1]:9000/a"), "[::1]:9000");
        assert_eq!(push_host("not a url"), "");
    }

    #[test]
    fn urgency_follows_priority() {
        assert_eq!(urgency_for("High"), "high");
        assert_eq!(urgency_for("Low"), "low");
        assert_eq!(urgency_for("None"), "normal");
    }

    #[test]
    fn short_base64url_ids_are_their_own_topic_and_others_are_hashed() {
        assert_eq!(
            topic_for("testDirectToastNotification"),
            "testDirectToastNotification"
        );
        let hashed = topic_for("order 42 shipped: a longer id than a topic may be");
        assert_eq!(hashed.len(), MAX_TOPIC_CHARS);
        assert!(hashed
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'));
        assert_eq!(topic_for("a b"), topic_for("a b"));
        assert_ne!(topic_for("a b"), topic_for("a c"));
    }

    #[test]
    fn keys_decode_from_base64url_or_standard_base64() {
        assert_eq!(decode_key("_-8"), Some(vec![0xff, 0xef]));
        assert_eq!(decode_key("/+8="), Some(vec![0xff, 0xef]));
        assert_eq!(decode_key("!!"), None);
    }
}
