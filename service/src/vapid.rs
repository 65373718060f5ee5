//! The service's VAPID identity (RFC 8292): an ES256 key pair kept in the database.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jwt_simple::algorithms::{ECDSAP256KeyPairLike, ECDSAP256PublicKeyLike, ES256KeyPair};
use jwt_simple::claims::Claims;
use jwt_simple::prelude::Duration;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// How long a VAPID token is valid; RFC 8292 allows at most 24 hours.
const TOKEN_HOURS: u64 = 12;
/// How long a signed token is reused for the same push service. Signing costs as much as
/// a third of a push's CPU; a reused token still has at least 11 hours to run.
const REUSE_TOKEN_FOR: std::time::Duration = std::time::Duration::from_secs(3600);
/// Push service origins whose tokens are kept; past it the cache starts again (endpoints
/// are registered by users, so their number of origins is not bounded by us).
const MAX_CACHED_ORIGINS: usize = 256;

/// The VAPID `sub` claim (RFC 8292 §2.1): a `mailto:` or `https:` URI by which a push
/// service can reach the sender. Apple's push service refuses a token without a valid one
/// (403 `BadJwtToken`), so the service does not start without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VapidSubject(String);

impl VapidSubject {
    /// A `mailto:` address (`name@host`) or an `https:` URL with a host; nothing else, and no
    /// spaces (Apple refuses `mailto: <a@b>`).
    pub fn parse(text: &str) -> Option<VapidSubject> {
        let text = text.trim();
        if text.is_empty() || text.chars().any(char::is_whitespace) {
            return None;
        }
        let url = url::Url::parse(text).ok()?;
        let valid = match url.scheme() {
            "mailto" => text
                .get("mailto:".len()..)
                .and_then(|address| address.split_once('@'))
                .is_some_and(|(name, host)| !name.is_empty() && !host.is_empty()),
            "https" => url.host_str().is_some_and(|host| !host.is_empty()),
            _ => false,
        };
        valid.then(|| VapidSubject(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A VAPID key that could not be used.
#[derive(Debug)]
pub enum VapidError {
    /// The stored private key is not a P-256 scalar.
    BadStoredKey,
    /// The endpoint has no origin to put in `aud`.
    NoOrigin,
    Sign(String),
}

impl VapidError {
    pub fn code(&self) -> &'static str {
        match self {
            VapidError::BadStoredKey => "vapid-bad-stored-key",
            VapidError::NoOrigin => "vapid-no-origin",
            VapidError::Sign(_) => "vapid-sign-failed",
        }
    }
}

impl std::fmt::Display for VapidError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VapidError::Sign(why) => write!(f, "{}: {why}", self.code()),
            _ => f.write_str(self.code()),
        }
    }
}

impl std::error::Error for VapidError {}

/// Signs the `Authorization: vapid t=…, k=…` header of each push.
pub struct Vapid {
    key: ES256KeyPair,
    public_key: String,
    subject: VapidSubject,
    /// The last header signed per audience (origin), and when.
    signed: Mutex<HashMap<String, (String, Instant)>>,
}

impl Vapid {
    /// A fresh key pair as `(private scalar, uncompressed public point)` bytes, for storing.
    pub fn generate() -> (Vec<u8>, Vec<u8>) {
        let key = ES256KeyPair::generate();
        let public = key.public_key().public_key().to_bytes_uncompressed();
        (key.to_bytes(), public)
    }

    /// Loads the stored private key.
    pub fn from_private_key(private: &[u8], subject: VapidSubject) -> Result<Vapid, VapidError> {
        // jwt-simple asserts (panics) on a wrong length, so check it first.
        if private.len() != 32 {
            return Err(VapidError::BadStoredKey);
        }
        let key = ES256KeyPair::from_bytes(private).map_err(|_| VapidError::BadStoredKey)?;
        let public_key =
            URL_SAFE_NO_PAD.encode(key.public_key().public_key().to_bytes_uncompressed());
        Ok(Vapid {
            key,
            public_key,
            subject,
            signed: Mutex::new(HashMap::new()),
        })
    }

    /// The public key as browsers want it for `applicationServerKey`: base64url of 65 bytes.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The header value for a push to `endpoint`: `aud` is the endpoint's origin. A token
    /// signed for the same origin within the last hour is reused.
    pub fn authorization(&self, endpoint: &reqwest::Url) -> Result<String, VapidError> {
        let origin = endpoint.origin();
        if !origin.is_tuple() {
            return Err(VapidError::NoOrigin);
        }
        let audience = origin.ascii_serialization();
        let now = Instant::now();
        if let Some((header, at)) = self.cache().get(&audience) {
            if now.duration_since(*at) < REUSE_TOKEN_FOR {
                return Ok(header.clone());
            }
        }
        let header = self.sign(&audience)?;
        let mut cache = self.cache();
        if cache.len() >= MAX_CACHED_ORIGINS {
            cache.clear();
        }
        cache.insert(audience, (header.clone(), now));
        Ok(header)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Instant)>> {
        // Only whole entries are ever written, so a poisoned lock still holds good ones.
        self.signed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn sign(&self, audience: &str) -> Result<String, VapidError> {
        let claims = Claims::create(Duration::from_hours(TOKEN_HOURS))
            .with_audience(audience)
            .with_subject(self.subject.as_str());
        let token = self
            .key
            .sign(claims)
            .map_err(|error| VapidError::Sign(error.to_string()))?;
        Ok(format!("vapid t={token}, k={}", self.public_key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> VapidSubject {
        VapidSubject::parse("mailto:ops@app.example").unwrap()
    }

    #[test]
    fn a_subject_is_a_mailto_address_or_an_https_url() {
        for valid in [
            "mailto:ops@app.example",
            " mailto:ops@app.example ",
            "https://app.example",
            "https://app.example/contact",
        ] {
            assert!(VapidSubject::parse(valid).is_some(), "{valid}");
        }
        for invalid in [
            "",
            "ops@app.example",
            "mailto:",
            "mailto:ops",
            "mailto: <ops@app.example>",
            "http://app.example",
            "https://",
            "urn:app",
        ] {
            assert!(VapidSubject::parse(invalid).is_none(), "{invalid}");
        }
    }

    #[test]
    fn a_stored_key_loads_back_to_the_same_public_key() {
        let (private, public) = Vapid::generate();
        let vapid = Vapid::from_private_key(&private, subject()).unwrap();
        assert_eq!(public.len(), 65);
        assert_eq!(vapid.public_key(), URL_SAFE_NO_PAD.encode(&public));
    }

    #[test]
    fn the_header_carries_token_and_key() {
        let (private, _) = Vapid::generate();
        let vapid = Vapid::from_private_key(&private, subject()).unwrap();
        let url = reqwest::Url::parse("https://push.example:8443/x").unwrap();
        let header = vapid.authorization(&url).unwrap();
        assert!(header.starts_with("vapid t="));
        assert!(header.ends_with(&format!(", k={}", vapid.public_key())));
    }

    #[test]
    fn a_token_is_reused_per_origin_only() {
        let (private, _) = Vapid::generate();
        let vapid = Vapid::from_private_key(&private, subject()).unwrap();
        let a = reqwest::Url::parse("https://push.example/one").unwrap();
        let a_again = reqwest::Url::parse("https://push.example/two").unwrap();
        let b = reqwest::Url::parse("https://other.example/one").unwrap();
        let first = vapid.authorization(&a).unwrap();
        assert_eq!(vapid.authorization(&a_again).unwrap(), first);
        assert_ne!(vapid.authorization(&b).unwrap(), first);
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(Vapid::from_private_key(b"short", subject()).is_err());
    }
}
