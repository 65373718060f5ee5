//! Bearer JWTs from the deployment's OpenID Connect provider: the token names the user.
//!
//! The provider's keys come from its JWKS (found through the issuer's
//! `/.well-known/openid-configuration` unless `USERNOTIFY_JWKS_URL` is given) and are kept.
//! They are fetched again, at most once per `refetch_interval`, when a token is signed with a
//! key id the service does not know (so a provider's key rotation is followed) and when they
//! are older than `keys_max_age` (so a key the provider withdrew stops being accepted). While
//! the provider cannot be reached, the keys it last published are used.
//! jwt-simple parses and verifies the tokens (signature, `iss`, `aud`, `exp`, `nbf`); this
//! module only turns the JWKS into its keys and decides which key to try.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jwt_simple::algorithms::ECDSAP256PublicKeyLike;
use jwt_simple::algorithms::{ES256PublicKey, RS256PublicKey, RSAPublicKeyLike};
use jwt_simple::claims::JWTClaims;
use jwt_simple::common::VerificationOptions;
use jwt_simple::token::Token;
use jwt_simple::JWTError;
use serde_json::{Map, Value};

use crate::config::{checked_url, OidcSettings};

/// Clock difference tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY: Duration = Duration::from_secs(60);
/// Longest token accepted (real ones are 1-2 KB).
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Largest discovery document or JWKS read.
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;
/// Time limit for one fetch from the provider.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a bearer JWT was refused; `code()` is stable and goes to the log, never the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejected {
    /// Neither a configured static token nor, when a provider is configured, a JWT.
    Unknown,
    /// Not a JWT at all (segments, base64, JSON).
    Malformed,
    /// `alg` is neither RS256 nor ES256 (`none`, HS256 with the public key as secret, ...).
    UnsupportedAlgorithm,
    /// No key of the provider has the token's `kid`, even after fetching the keys again.
    UnknownKey,
    BadSignature,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
    /// No `exp`: a token that never expires is not accepted.
    NoExpiry,
    /// The user claim (`USERNOTIFY_JWT_USER_CLAIM`) is absent or not a non-empty string.
    NoUser,
    /// The user claim is `email` and the token does not say `email_verified: true`: an
    /// address anyone can type into their profile names nobody.
    UnverifiedEmail,
    /// Any other claim check (e.g. issued in the future).
    InvalidClaims,
}

impl TokenRejected {
    pub fn code(self) -> &'static str {
        match self {
            TokenRejected::Unknown => "unknown-token",
            TokenRejected::Malformed => "malformed",
            TokenRejected::UnsupportedAlgorithm => "unsupported-algorithm",
            TokenRejected::UnknownKey => "unknown-key",
            TokenRejected::BadSignature => "bad-signature",
            TokenRejected::Expired => "expired",
            TokenRejected::NotYetValid => "not-yet-valid",
            TokenRejected::WrongIssuer => "wrong-issuer",
            TokenRejected::WrongAudience => "wrong-audience",
            TokenRejected::NoExpiry => "no-expiry",
            TokenRejected::NoUser => "no-user-claim",
            TokenRejected::UnverifiedEmail => "unverified-email",
            TokenRejected::InvalidClaims => "invalid-claims",
        }
    }

    /// For the 401 body: what is wrong with the token, in a sentence.
    pub fn message(self) -> &'static str {
        match self {
            TokenRejected::Unknown => "The bearer token is not known.",
            TokenRejected::Malformed => "The bearer token is not a valid token.",
            TokenRejected::UnsupportedAlgorithm => "The token must be signed with RS256 or ES256.",
            TokenRejected::UnknownKey => "The token is signed with a key the issuer does not list.",
            TokenRejected::BadSignature => "The token's signature does not verify.",
            TokenRejected::Expired => "The token has expired.",
            TokenRejected::NotYetValid => "The token is not valid yet.",
            TokenRejected::WrongIssuer => "The token is from another issuer.",
            TokenRejected::WrongAudience => "The token is for another audience.",
            TokenRejected::NoExpiry => "The token has no expiry.",
            TokenRejected::NoUser => "The token does not name a user.",
            TokenRejected::UnverifiedEmail => {
                "The token's email is not verified (email_verified must be true)."
            }
            TokenRejected::InvalidClaims => "The token's claims are not valid.",
        }
    }
}

/// The token could not be checked: the provider's keys could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysUnavailable(pub String);

/// Why a JWT gave no user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OidcError {
    Rejected(TokenRejected),
    Unavailable(KeysUnavailable),
}

/// One verification key from the JWKS.
enum Key {
    Rs256(Box<RS256PublicKey>),
    Es256(ES256PublicKey),
}

struct Jwk {
    kid: Option<String>,
    key: Key,
}

/// The keys last fetched, and when (`None`: never).
#[derive(Default)]
struct KeySet {
    keys: Vec<Arc<Jwk>>,
    fetched_at: Option<Instant>,
}

/// The fetching side: the discovered JWKS URL and when a fetch was last tried.
#[derive(Default)]
struct Fetched {
    jwks_url: Option<String>,
    tried_at: Option<Instant>,
}

/// The JWT verifier of one deployment's provider. Cheap to share (`Arc`).
pub struct Oidc {
    settings: OidcSettings,
    http: reqwest::Client,
    keys: RwLock<Arc<KeySet>>,
    /// Held while fetching, so concurrent requests with a new `kid` cause one fetch.
    fetch: tokio::sync::Mutex<Fetched>,
}

impl Oidc {
    pub fn new(settings: OidcSettings) -> Result<Oidc, reqwest::Error> {
        // Never redirected: the keys decide who is who, and a redirect could lead to plain
        // http on another machine, which the settings refuse.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .user_agent(concat!("usernotify-service/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Oidc {
            settings,
            http,
            keys: RwLock::new(Arc::new(KeySet::default())),
            fetch: tokio::sync::Mutex::new(Fetched::default()),
        })
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// The user a bearer JWT names, once its signature and claims are verified: the
    /// issuer and the user claim, as `<issuer>#<claim>` (OpenID Connect Core §5.7: only
    /// `iss` and `sub` together identify a user), so a JWT user is never a static-token
    /// user (their names hold no `#`) nor another issuer's.
    pub async fn user_for(&self, token: &str) -> Result<String, OidcError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(OidcError::Rejected(TokenRejected::Malformed));
        }
        let metadata = Token::decode_metadata(token)
            .map_err(|_| OidcError::Rejected(TokenRejected::Malformed))?;
        let algorithm = match metadata.algorithm() {
            "RS256" => Algorithm::Rs256,
            "ES256" => Algorithm::Es256,
            _ => return Err(OidcError::Rejected(TokenRejected::UnsupportedAlgorithm)),
        };
        let kid = metadata.key_id().map(str::to_owned);
        let candidates = self.keys_for(algorithm, kid.as_deref()).await?;
        let mut last = TokenRejected::UnknownKey;
        for jwk in &candidates {
            match self.verify(&jwk.key, token) {
                Ok(claim) => return Ok(user_key(&self.settings.issuer, &claim)),
                Err(rejected) => last = rejected,
            }
        }
        Err(OidcError::Rejected(last))
    }

    fn key_set(&self) -> Arc<KeySet> {
        Arc::clone(
            &self
                .keys
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// The known keys a token with `algorithm` and `kid` may be signed with, and whether
    /// they are fresh (fetched within `keys_max_age`).
    fn candidates(&self, algorithm: Algorithm, kid: Option<&str>) -> (Vec<Arc<Jwk>>, bool) {
        let set = self.key_set();
        let fresh = set
            .fetched_at
            .is_some_and(|at| at.elapsed() < self.settings.keys_max_age);
        let keys = set
            .keys
            .iter()
            .filter(|jwk| algorithm.fits(&jwk.key))
            .filter(|jwk| kid.is_none() || jwk.kid.as_deref() == kid)
            .cloned()
            .collect();
        (keys, fresh)
    }

    /// The keys to try: the known ones while they are fresh; else (a new `kid`, or old
    /// keys) after fetching the keys again, unless that was tried within
    /// `refetch_interval`. Keys that could not be refreshed are used as they are.
    async fn keys_for(
        &self,
        algorithm: Algorithm,
        kid: Option<&str>,
    ) -> Result<Vec<Arc<Jwk>>, OidcError> {
        let (candidates, fresh) = self.candidates(algorithm, kid);
        if fresh && !candidates.is_empty() {
            return Ok(candidates);
        }
        let mut fetched = self.fetch.lock().await;
        // Another request may have fetched them while this one waited.
        let (candidates, fresh) = self.candidates(algorithm, kid);
        if fresh && !candidates.is_empty() {
            return Ok(candidates);
        }
        let now = Instant::now();
        let may_fetch = fetched
            .tried_at
            .is_none_or(|at| now.duration_since(at) >= self.settings.refetch_interval);
        let mut failure = None;
        if may_fetch {
            fetched.tried_at = Some(now);
            match self.fetch_keys(&mut fetched).await {
                Ok(keys) => {
                    tracing::info!(keys = keys.len(), "fetched the identity provider's keys");
                    *self
                        .keys
                        .write()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(KeySet {
                        keys,
                        fetched_at: Some(now),
                    });
                }
                Err(why) => {
                    tracing::error!(error = %why.0, "cannot fetch the identity provider's keys");
                    failure = Some(why);
                }
            }
        }
        let (candidates, _) = self.candidates(algorithm, kid);
        if !candidates.is_empty() {
            return Ok(candidates);
        }
        let never_loaded = self.key_set().fetched_at.is_none();
        match failure {
            Some(why) => Err(OidcError::Unavailable(why)),
            None if never_loaded => Err(OidcError::Unavailable(KeysUnavailable(
                "the provider's keys could not be fetched; retried later".to_owned(),
            ))),
            None => Err(OidcError::Rejected(TokenRejected::UnknownKey)),
        }
    }

    /// The JWKS, from the configured URL or the discovery document's `jwks_uri`.
    async fn fetch_keys(&self, fetched: &mut Fetched) -> Result<Vec<Arc<Jwk>>, KeysUnavailable> {
        let url = match (&self.settings.jwks_url, &fetched.jwks_url) {
            (Some(url), _) | (None, Some(url)) => url.clone(),
            (None, None) => {
                let url = self.discover().await?;
                fetched.jwks_url = Some(url.clone());
                url
            }
        };
        let jwks = self.fetch_json(&url).await?;
        Ok(read_jwks(&jwks))
    }

    /// OpenID Connect Discovery 1.0: the issuer's configuration names its `jwks_uri`, and
    /// must name the same issuer (§4.3).
    async fn discover(&self) -> Result<String, KeysUnavailable> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        );
        let document = self.fetch_json(&url).await?;
        if document.get("issuer").and_then(Value::as_str) != Some(self.settings.issuer.as_str()) {
            return Err(KeysUnavailable(format!(
                "{url} names another issuer than USERNOTIFY_JWT_ISSUER"
            )));
        }
        let jwks_uri = document
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| KeysUnavailable(format!("{url} has no jwks_uri")))?;
        // The keys decide who is who: never over plain http to another machine.
        checked_url("jwks_uri", jwks_uri).map_err(|error| KeysUnavailable(error.to_string()))
    }

    async fn fetch_json(&self, url: &str) -> Result<Value, KeysUnavailable> {
        let failed = |why: String| KeysUnavailable(format!("{url}: {why}"));
        let mut response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| failed(error.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("answered {}", response.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| failed(error.to_string()))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_DOCUMENT_BYTES {
                return Err(failed("the document is too large".to_owned()));
            }
        }
        serde_json::from_slice(&body).map_err(|_| failed("not JSON".to_owned()))
    }

    /// Verifies signature and claims with one key, then reads the user claim.
    fn verify(&self, key: &Key, token: &str) -> Result<String, TokenRejected> {
        let options = VerificationOptions {
            allowed_issuers: Some(HashSet::from([self.settings.issuer.clone()])),
            allowed_audiences: Some(HashSet::from([self.settings.audience.clone()])),
            time_tolerance: Some(jwt_simple::prelude::Duration::from_secs(LEEWAY.as_secs())),
            max_token_length: Some(MAX_TOKEN_BYTES),
            ..VerificationOptions::default()
        };
        let claims: JWTClaims<Map<String, Value>> = match key {
            Key::Rs256(key) => key.verify_token(token, Some(options)),
            Key::Es256(key) => key.verify_token(token, Some(options)),
        }
        .map_err(|error| rejection(&error))?;
        if claims.expires_at.is_none() {
            return Err(TokenRejected::NoExpiry);
        }
        if self.settings.user_claim == "email"
            && claims.custom.get("email_verified") != Some(&Value::Bool(true))
        {
            return Err(TokenRejected::UnverifiedEmail);
        }
        let user = if self.settings.user_claim == "sub" {
            claims.subject
        } else {
            claims
                .custom
                .get(&self.settings.user_claim)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        user.filter(|user| !user.is_empty())
            .ok_or(TokenRejected::NoUser)
    }
}

/// The user key of a JWT user: `<issuer>#<claim>`. An issuer has no fragment, so the first
/// `#` ends it.
pub fn user_key(issuer: &str, claim: &str) -> String {
    format!("{issuer}#{claim}")
}

/// The user claim of a JWT user's key; `None` for a static-token user.
pub fn claim_of(user: &str) -> Option<&str> {
    user.split_once('#').map(|(_, claim)| claim)
}

/// The signature algorithms accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Rs256,
    Es256,
}

impl Algorithm {
    fn fits(self, key: &Key) -> bool {
        matches!(
            (self, key),
            (Algorithm::Rs256, Key::Rs256(_)) | (Algorithm::Es256, Key::Es256(_))
        )
    }
}

/// jwt-simple's reason, as ours.
fn rejection(error: &jwt_simple::Error) -> TokenRejected {
    match error.downcast_ref::<JWTError>() {
        Some(JWTError::TokenHasExpired) => TokenRejected::Expired,
        Some(JWTError::TokenNotValidYet) => TokenRejected::NotYetValid,
        Some(JWTError::RequiredIssuerMismatch | JWTError::RequiredIssuerMissing) => {
            TokenRejected::WrongIssuer
        }
        Some(JWTError::RequiredAudienceMismatch | JWTError::RequiredAudienceMissing) => {
            TokenRejected::WrongAudience
        }
        Some(JWTError::InvalidSignature) => TokenRejected::BadSignature,
        Some(JWTError::AlgorithmMismatch) => TokenRejected::UnsupportedAlgorithm,
        Some(JWTError::ClockDrift) => TokenRejected::InvalidClaims,
        _ => TokenRejected::Malformed,
    }
}

/// The usable signing keys of a JWKS (RFC 7517): RSA keys and P-256 EC keys meant for
/// signatures; others (encryption keys, other curves, HMAC secrets) are left out.
fn read_jwks(jwks: &Value) -> Vec<Arc<Jwk>> {
    let Some(keys) = jwks.get("keys").and_then(Value::as_array) else {
        return Vec::new();
    };
    keys.iter().filter_map(read_jwk).map(Arc::new).collect()
}

fn read_jwk(jwk: &Value) -> Option<Jwk> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    let bytes = |name: &str| text(name).and_then(|value| URL_SAFE_NO_PAD.decode(value).ok());
    if text("use").is_some_and(|usage| usage != "sig") {
        return None;
    }
    let key = match (text("kty"), text("alg")) {
        (Some("RSA"), None | Some("RS256")) => Key::Rs256(Box::new(
            RS256PublicKey::from_components(&bytes("n")?, &bytes("e")?).ok()?,
        )),
        (Some("EC"), None | Some("ES256")) if text("crv") == Some("P-256") => {
            let (x, y) = (bytes("x")?, bytes("y")?);
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let mut point = Vec::with_capacity(65);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Key::Es256(ES256PublicKey::from_bytes(&point).ok()?)
        }
        _ => return None,
    };
    Some(Jwk {
        kid: text("kid").map(str::to_owned),
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jwt_simple::algorithms::{ECDSAP256KeyPairLike, ES256KeyPair};
    use jwt_simple::claims::Claims;
    use serde_json::json;

    fn es256_jwk(key: &ES256KeyPair, kid: &str) -> Value {
        let point = key.public_key().public_key().to_bytes_uncompressed();
        json!({
            "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        })
    }

    #[test]
    fn a_jwks_gives_its_signing_keys_and_leaves_out_the_rest() {
        let key = ES256KeyPair::generate();
        let jwks = json!({ "keys": [
            es256_jwk(&key, "a"),
            { "kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA" },
            { "kty": "oct", "kid": "secret", "k": "c2VjcmV0" },
            { "kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB" },
            { "kty": "RSA", "kid": "junk", "n": "!!", "e": "AQAB" },
            "not an object",
        ]});
        let keys = read_jwks(&jwks);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("a"));
        assert!(read_jwks(&json!({ "keys": "none" })).is_empty());
    }

    #[test]
    fn an_es256_key_read_from_a_jwk_verifies_what_its_pair_signed() {
        let pair = ES256KeyPair::generate().with_key_id("a");
        let jwk = read_jwk(&es256_jwk(&pair, "a")).unwrap();
        let settings = OidcSettings::new("https://id.example/", "usernotify");
        let oidc = Oidc::new(settings).unwrap();
        let claims = Claims::create(jwt_simple::prelude::Duration::from_mins(5))
            .with_issuer("https://id.example/")
            .with_audience("usernotify")
            .with_subject("alice");
        let token = pair.sign(claims).unwrap();
        assert_eq!(oidc.verify(&jwk.key, &token), Ok("alice".to_owned()));
        let other = ES256KeyPair::generate();
        let claims = Claims::create(jwt_simple::prelude::Duration::from_mins(5))
            .with_issuer("https://id.example/")
            .with_audience("usernotify")
            .with_subject("alice");
        let forged = other.sign(claims).unwrap();
        assert_eq!(
            oidc.verify(&jwk.key, &forged),
            Err(TokenRejected::BadSignature)
        );
    }
}
