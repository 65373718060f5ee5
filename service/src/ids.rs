//! Unguessable identifiers: UNSIDs and notification ids.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// 128 random bits, which base64url writes as 22 characters.
pub const ID_BYTES: usize = 16;
pub const ID_CHARS: usize = 22;

/// The operating system's random source failed; nothing can be identified safely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomUnavailable;

impl std::fmt::Display for RandomUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the system random source is unavailable")
    }
}

impl std::error::Error for RandomUnavailable {}

/// A fresh id: an UNSID knows a user's push subscription, so it must not be guessable.
pub fn new_id() -> Result<String, RandomUnavailable> {
    let mut bytes = [0u8; ID_BYTES];
    getrandom::fill(&mut bytes).map_err(|_| RandomUnavailable)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// True for text shaped like an id this service hands out; lets handlers answer 404 early.
pub fn looks_like_id(text: &str) -> bool {
    text.len() == ID_CHARS
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_22_base64url_characters_and_differ() {
        let first = new_id().unwrap();
        let second = new_id().unwrap();
        assert!(looks_like_id(&first), "{first}");
        assert_ne!(first, second);
    }

    #[test]
    fn other_text_does_not_look_like_an_id() {
        assert!(!looks_like_id("short"));
        assert!(!looks_like_id("aaaaaaaaaaaaaaaaaaaaa/"));
    }
}
