//! An OpenID Connect provider on 127.0.0.1 for the identity tests: a discovery document and a
//! JWKS the test changes (key rotation), each fetch counted, and keys the tests generate.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jwt_simple::prelude::*;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// The audience the test services accept.
pub const AUDIENCE: &str = "usernotify-tests";
/// Where a Keycloak realm keeps its endpoints, mimicked.
const REALM: &str = "/realms/tests";

#[derive(Default)]
struct ProviderState {
    jwks: Mutex<Vec<Value>>,
    /// The JWKS endpoint answers 503 (the provider is down).
    failing: AtomicBool,
    discovery_fetches: AtomicUsize,
    jwks_fetches: AtomicUsize,
}

/// The provider: its issuer is `http://127.0.0.1:PORT/realms/tests`.
pub struct Provider {
    pub issuer: String,
    state: Arc<ProviderState>,
    task: tokio::task::JoinHandle<()>,
}

impl Provider {
    /// Starts serving `keys` (JWKs, see [`es256_jwk`] and [`rs256_jwk`]).
    pub async fn start(keys: Vec<Value>) -> Provider {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}{REALM}", listener.local_addr().unwrap());
        let state = Arc::new(ProviderState::default());
        *state.jwks.lock().unwrap() = keys;
        let discovery = {
            let (state, issuer) = (Arc::clone(&state), issuer.clone());
            move || async move {
                state.discovery_fetches.fetch_add(1, Ordering::SeqCst);
                axum::Json(json!({
                    "issuer": issuer,
                    "jwks_uri": format!("{issuer}/protocol/openid-connect/certs"),
                    "authorization_endpoint": format!("{issuer}/protocol/openid-connect/auth"),
                    "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                }))
            }
        };
        let jwks = {
            let state = Arc::clone(&state);
            move || async move {
                state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
                if state.failing.load(Ordering::SeqCst) {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
                }
                axum::Json(json!({ "keys": state.jwks.lock().unwrap().clone() })).into_response()
            }
        };
        let app = Router::new()
            .route(
                &format!("{REALM}/.well-known/openid-configuration"),
                get(discovery),
            )
            .route(&format!("{REALM}/protocol/openid-connect/certs"), get(jwks));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Provider {
            issuer,
            state,
            task,
        }
    }

    /// The JWKS the provider serves from now on (a key rotation).
    pub fn serve_keys(&self, keys: Vec<Value>) {
        *self.state.jwks.lock().unwrap() = keys;
    }

    /// From now on the JWKS endpoint answers 503.
    pub fn fail(&self) {
        self.state.failing.store(true, Ordering::SeqCst);
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/protocol/openid-connect/certs", self.issuer)
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    pub fn discovery_fetches(&self) -> usize {
        self.state.discovery_fetches.load(Ordering::SeqCst)
    }

    /// The service's settings for this provider (discovery, `sub`, one fetch a minute).
    pub fn settings(&self) -> usernotify_service::OidcSettings {
        usernotify_service::OidcSettings::new(&self.issuer, AUDIENCE)
    }

    /// Claims this provider would sign for `user`: valid for five minutes.
    pub fn claims(&self, user: &str) -> JWTClaims<NoCustomClaims> {
        Claims::create(Duration::from_mins(5))
            .with_issuer(&self.issuer)
            .with_audience(AUDIENCE)
            .with_subject(user)
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A fresh ES256 key pair with key id `kid`.
pub fn es256_key(kid: &str) -> ES256KeyPair {
    ES256KeyPair::generate().with_key_id(kid)
}

/// An RS256 key pair (kid `rsa-1`), generated once per test binary: a 2048-bit key takes
/// seconds in an unoptimised build.
pub fn rs256_key() -> &'static RS256KeyPair {
    static KEY: OnceLock<RS256KeyPair> = OnceLock::new();
    KEY.get_or_init(|| RS256KeyPair::generate(2048).unwrap().with_key_id("rsa-1"))
}

/// The public JWK of an ES256 key, as a provider lists it.
pub fn es256_jwk(key: &ES256KeyPair) -> Value {
    let point = key.public_key().public_key().to_bytes_uncompressed();
    json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256",
        "kid": key.key_id().as_deref().unwrap(),
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    })
}

/// The public JWK of an RS256 key.
pub fn rs256_jwk(key: &RS256KeyPair) -> Value {
    let components = key.public_key().to_components();
    json!({
        "kty": "RSA", "use": "sig", "alg": "RS256",
        "kid": key.key_id().as_deref().unwrap(),
        "n": URL_SAFE_NO_PAD.encode(&components.n),
        "e": URL_SAFE_NO_PAD.encode(&components.e),
    })
}

/// A token with the given header and claims and no signature, as an attacker writes one.
pub fn unsigned_token(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}
