//! Who is calling: static bearer tokens (compared in constant time) or the identity
//! provider's JWTs, the block list, the rate limit.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::TokenEntry;
use crate::error::ApiError;
use crate::oidc::{claim_of, Oidc, OidcError, TokenRejected};

/// The configured tokens, kept only as SHA-256 digests so that comparing them takes the same
/// time whatever the presented token's length or content.
pub struct Tokens {
    entries: Vec<([u8; 32], String)>,
}

impl Tokens {
    pub fn new(entries: &[TokenEntry]) -> Tokens {
        Tokens {
            entries: entries
                .iter()
                .map(|entry| (digest(&entry.token), entry.user.clone()))
                .collect(),
        }
    }

    /// The user a presented token names. Every entry is compared, match or not.
    pub fn user_for(&self, presented: &str) -> Option<&str> {
        let presented = digest(presented);
        let mut found = None;
        for (candidate, user) in &self.entries {
            let equal: bool = candidate.ct_eq(&presented).into();
            if equal && found.is_none() {
                found = Some(user.as_str());
            }
        }
        found
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The token of an `Authorization: Bearer …` header (scheme case-insensitive).
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A token bucket per caller: `per_minute` requests of burst, refilled continuously.
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `caller`'s bucket, or says how many seconds until one is back.
    pub fn check(&self, caller: &str, now: Instant) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = buckets.entry(caller.to_owned()).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / per_second).ceil();
            Err(if wait.is_finite() && wait >= 1.0 {
                wait as u64
            } else {
                1
            })
        }
    }
}

/// Everything that decides whether a `/me` request may go on, in the contract's order:
/// 401 before 403 (blocked) before 406 (rate) before 400 (conditional headers).
pub struct Gate {
    pub tokens: Tokens,
    /// The identity provider whose JWTs name users, if one is configured.
    pub oidc: Option<Arc<Oidc>>,
    pub blocked: HashSet<String>,
    pub limiter: RateLimiter,
}

impl Gate {
    /// The user a bearer token names: a static token first, else a verified JWT (whose
    /// user is `<issuer>#<claim>`, never a static-token user).
    pub async fn user(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let token = bearer_token(headers).ok_or(ApiError::Unauthorized)?;
        if let Some(user) = self.tokens.user_for(token) {
            return Ok(user.to_owned());
        }
        let Some(oidc) = &self.oidc else {
            return Err(ApiError::InvalidToken(TokenRejected::Unknown));
        };
        oidc.user_for(token).await.map_err(|error| match error {
            OidcError::Rejected(rejected) => {
                tracing::info!(reason = rejected.code(), "bearer token refused");
                ApiError::InvalidToken(rejected)
            }
            OidcError::Unavailable(_) => ApiError::IdentityUnavailable {
                retry_after_secs: oidc.settings().refetch_interval.as_secs().max(1),
            },
        })
    }

    /// `USERNOTIFY_BLOCKED_CALLERS` names the user, or, for a JWT user, its user claim alone
    /// (so a block list written before users were keyed by issuer still blocks them).
    pub fn is_blocked(&self, user: &str) -> bool {
        self.blocked.contains(user)
            || claim_of(user).is_some_and(|claim| self.blocked.contains(claim))
    }

    /// The caller ("me") of an authorised request; `now` is when the request arrived.
    pub async fn admit(&self, headers: &HeaderMap, now: Instant) -> Result<String, ApiError> {
        let user = self.user(headers).await?;
        if self.is_blocked(&user) {
            return Err(ApiError::CallerBlocked);
        }
        self.limiter
            .check(&user, now)
            .map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })?;
        for name in [header::IF_MODIFIED_SINCE, header::IF_RANGE] {
            if headers.contains_key(&name) {
                return Err(ApiError::UnsupportedHeader(if name == header::IF_RANGE {
                    "If-Range"
                } else {
                    "If-Modified-Since"
                }));
            }
        }
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_token_names_its_user_and_a_wrong_one_nobody() {
        let tokens = Tokens::new(&[TokenEntry {
            token: "t1".into(),
            user: "alice".into(),
        }]);
        assert_eq!(tokens.user_for("t1"), Some("alice"));
        assert_eq!(tokens.user_for("t2"), None);
        assert_eq!(tokens.user_for(""), None);
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&headers), None);
    }

    #[test]
    fn the_bucket_empties_then_refills_with_time() {
        let limiter = RateLimiter::new(2);
        let start = Instant::now();
        assert!(limiter.check("a", start).is_ok());
        assert!(limiter.check("a", start).is_ok());
        assert_eq!(limiter.check("a", start), Err(30));
        assert!(limiter.check("b", start).is_ok());
        assert!(limiter.check("a", start + Duration::from_secs(30)).is_ok());
    }
}
