//! A setting that could not be read.

use std::fmt;

use super::*;

/// A setting that could not be read; `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    InvalidPort(String),
    InvalidTokens,
    /// A static token's user name could be taken for a JWT user's (it holds `#`).
    ReservedUserName(String),
    InvalidRate(String),
    InvalidFlag {
        name: &'static str,
        value: String,
    },
    InvalidStaticDirs,
    /// A required setting is absent (or another setting needs it).
    Missing {
        name: &'static str,
        why: &'static str,
    },
    InvalidVapidSubject(String),
    /// Not an https URL (http is accepted for loopback hosts only).
    InvalidUrl {
        name: &'static str,
        value: String,
    },
    InvalidNumber {
        name: &'static str,
        value: String,
    },
    InvalidChoice {
        name: &'static str,
        value: String,
        choices: &'static str,
    },
    /// An item of a list setting is not what the setting takes.
    InvalidItem {
        name: &'static str,
        item: String,
        expected: &'static str,
    },
}

impl ConfigError {
    /// No VAPID subject: the service does not start without one.
    pub fn missing_vapid_subject() -> ConfigError {
        ConfigError::Missing {
            name: VAPID_SUBJECT,
            why: "a mailto: address or an https: URL where push services can reach you (Apple's refuses every push without one), e.g. mailto:ops@example.com",
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::InvalidPort(_) => "invalid-port",
            ConfigError::InvalidTokens => "invalid-tokens",
            ConfigError::ReservedUserName(_) => "reserved-user-name",
            ConfigError::InvalidRate(_) => "invalid-rate",
            ConfigError::InvalidNumber { .. } => "invalid-number",
            ConfigError::InvalidFlag { .. } => "invalid-flag",
            ConfigError::InvalidStaticDirs => "invalid-static-dirs",
            ConfigError::Missing { .. } => "missing-setting",
            ConfigError::InvalidVapidSubject(_) => "invalid-vapid-subject",
            ConfigError::InvalidUrl { .. } => "invalid-url",
            ConfigError::InvalidChoice { .. } => "invalid-choice",
            ConfigError::InvalidItem { .. } => "invalid-item",
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::InvalidPort(value) => write!(f, "PORT is not a port number: {value:?}"),
            // Never echo the value: it holds secrets.
            ConfigError::InvalidTokens => {
                f.write_str("USERNOTIFY_TOKENS must be token:user pairs separated by commas")
            }
            ConfigError::ReservedUserName(user) => write!(
                f,
                "{TOKENS}: the user name {user:?} holds '#', which only the users of JWTs have (<issuer>#<user claim>); choose a name without it"
            ),
            ConfigError::InvalidRate(value) => write!(
                f,
                "USERNOTIFY_RATE_PER_MINUTE is not a whole number: {value:?}"
            ),
            ConfigError::InvalidNumber { name, value } => {
                write!(
                    f,
                    "{name} must be a whole number (of seconds or connections), not {value:?}"
                )
            }
            ConfigError::InvalidFlag { name, value } => {
                write!(f, "{name} must be 1 or 0, not {value:?}")
            }
            ConfigError::InvalidStaticDirs => {
                f.write_str("USERNOTIFY_STATIC must be /mount=directory pairs separated by commas")
            }
            ConfigError::Missing { name, why } => write!(f, "{name} is required: {why}"),
            ConfigError::InvalidVapidSubject(value) => write!(
                f,
                "{VAPID_SUBJECT} must be a mailto: address or an https: URL, not {value:?}"
            ),
            ConfigError::InvalidUrl { name, value } => write!(
                f,
                "{name} must be an https URL (http only for a loopback host), not {value:?}"
            ),
            ConfigError::InvalidChoice {
                name,
                value,
                choices,
            } => write!(f, "{name} must be {choices}, not {value:?}"),
            ConfigError::InvalidItem {
                name,
                item,
                expected,
            } => write!(f, "{name}: {item:?} is not {expected}"),
        }
    }
}

impl std::error::Error for ConfigError {}
