//! Reading each setting's text: the numbers, lists, URLs and flags of the environment.

use super::*;

/// The limits per user, the delivery pool's shares and the push timeouts: each a whole
/// number above 0.
pub(super) fn read_limits(
    present: &impl Fn(&str) -> Option<String>,
    config: &mut Config,
) -> Result<(), ConfigError> {
    let read = |name: &'static str, into: &mut usize| -> Result<(), ConfigError> {
        if let Some(value) = present(name) {
            *into = usize::try_from(positive(name, &value)?).unwrap_or(usize::MAX);
        }
        Ok(())
    };
    read(
        "USERNOTIFY_MAX_SUBSCRIPTIONS_PER_USER",
        &mut config.limits.subscriptions,
    )?;
    read(
        "USERNOTIFY_MAX_NOTIFICATIONS_PER_USER",
        &mut config.limits.notifications,
    )?;
    read(
        "USERNOTIFY_MAX_CHANGE_STREAMS_PER_USER",
        &mut config.limits.change_streams,
    )?;
    let seconds = |name: &'static str, into: &mut Duration| -> Result<(), ConfigError> {
        if let Some(value) = present(name) {
            *into = Duration::from_secs(u64::from(positive(name, &value)?));
        }
        Ok(())
    };
    seconds(
        "USERNOTIFY_PUSH_TIMEOUT_SECS",
        &mut config.delivery.request_timeout,
    )?;
    seconds(
        "USERNOTIFY_PUSH_CONNECT_TIMEOUT_SECS",
        &mut config.delivery.connect_timeout,
    )?;
    read("USERNOTIFY_PUSHES_IN_FLIGHT", &mut config.delivery.batch)?;
    read(
        "USERNOTIFY_PUSHES_IN_FLIGHT_PER_USER",
        &mut config.delivery.per_user,
    )?;
    read(
        "USERNOTIFY_PUSHES_IN_FLIGHT_PER_HOST",
        &mut config.delivery.per_host,
    )?;
    Ok(())
}

/// The JWT settings: none at all, or an issuer and an audience (and optionally the rest).
pub(super) fn read_oidc(
    present: &impl Fn(&str) -> Option<String>,
) -> Result<Option<OidcSettings>, ConfigError> {
    let Some(issuer) = present(JWT_ISSUER) else {
        for name in [JWT_AUDIENCE, JWKS_URL, JWT_USER_CLAIM] {
            if present(name).is_some() {
                return Err(ConfigError::Missing {
                    name: JWT_ISSUER,
                    why: "the other USERNOTIFY_JWT settings need the issuer whose tokens to accept",
                });
            }
        }
        return Ok(None);
    };
    let audience = present(JWT_AUDIENCE).ok_or(ConfigError::Missing {
        name: JWT_AUDIENCE,
        why: "a JWT is accepted only if its aud names this service",
    })?;
    let issuer = checked_url(JWT_ISSUER, &issuer)?;
    // OpenID Connect Discovery §3: an issuer has no query or fragment (and a JWT user's
    // key, `<issuer>#<claim>`, relies on it).
    if issuer.contains(['#', '?']) {
        return Err(ConfigError::InvalidUrl {
            name: JWT_ISSUER,
            value: issuer,
        });
    }
    let mut settings = OidcSettings::new(&issuer, audience.trim());
    if let Some(url) = present(JWKS_URL) {
        settings.jwks_url = Some(checked_url(JWKS_URL, &url)?);
    }
    if let Some(claim) = present(JWT_USER_CLAIM) {
        settings.user_claim = claim.trim().to_owned();
    }
    Ok(Some(settings))
}

/// An https URL, or an http one on a loopback host (a provider on the same machine, tests).
pub(crate) fn checked_url(name: &'static str, text: &str) -> Result<String, ConfigError> {
    let text = text.trim();
    let invalid = || ConfigError::InvalidUrl {
        name,
        value: text.to_owned(),
    };
    let url = url::Url::parse(text).map_err(|_| invalid())?;
    let loopback = match url.host() {
        Some(url::Host::Domain(host)) => host.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => return Err(invalid()),
    };
    match url.scheme() {
        "https" => Ok(text.to_owned()),
        "http" if loopback => Ok(text.to_owned()),
        _ => Err(invalid()),
    }
}

/// `USERNOTIFY_PUBLIC_URL`: an absolute http(s) URL with a host and no query or fragment,
/// kept without its trailing `/`.
pub(super) fn parse_public_url(text: &str) -> Result<String, ConfigError> {
    let text = text.trim();
    let usable = url::Url::parse(text).ok().filter(|url| {
        matches!(url.scheme(), "https" | "http")
            && url.host().is_some()
            && url.username().is_empty()
            && url.password().is_none()
            && url.query().is_none()
            && url.fragment().is_none()
    });
    match usable {
        Some(_) => Ok(text.trim_end_matches('/').to_owned()),
        None => Err(ConfigError::InvalidItem {
            name: PUBLIC_URL,
            item: text.to_owned(),
            expected: "an absolute http or https URL, e.g. https://notify.example.com",
        }),
    }
}

/// One item of `USERNOTIFY_CORS_ORIGINS`: `*`, or an origin (`https://app.example.com`,
/// with a port when not the scheme's), as a browser sends it in `Origin`.
pub(super) fn parse_origin(item: &str) -> Result<String, ConfigError> {
    if item == "*" {
        return Ok(item.to_owned());
    }
    let invalid = || ConfigError::InvalidItem {
        name: CORS_ORIGINS,
        item: item.to_owned(),
        expected: "an origin (scheme://host[:port], e.g. https://app.example.com) or *",
    };
    let url = url::Url::parse(item).map_err(|_| invalid())?;
    let origin = url.origin();
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
    if !origin.is_tuple() || !bare || !url.username().is_empty() || url.password().is_some() {
        return Err(invalid());
    }
    Ok(origin.ascii_serialization())
}

pub(super) fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// `token:user,...`; the user is after the last colon, so a token may contain colons.
pub(super) fn parse_tokens(text: &str) -> Result<Vec<TokenEntry>, ConfigError> {
    split_list(text)
        .map(|pair| {
            let (token, user) = pair.rsplit_once(':').ok_or(ConfigError::InvalidTokens)?;
            let (token, user) = (token.trim(), user.trim());
            if token.is_empty() || user.is_empty() {
                return Err(ConfigError::InvalidTokens);
            }
            if user.contains('#') {
                return Err(ConfigError::ReservedUserName(user.to_owned()));
            }
            Ok(TokenEntry {
                token: token.to_owned(),
                user: user.to_owned(),
            })
        })
        .collect()
}

pub(super) fn positive(name: &'static str, value: &str) -> Result<u32, ConfigError> {
    value
        .trim()
        .parse()
        .ok()
        .filter(|number| *number > 0)
        .ok_or_else(|| ConfigError::InvalidNumber {
            name,
            value: value.to_owned(),
        })
}

pub(super) fn parse_flag(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "" | "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::InvalidFlag {
            name,
            value: value.to_owned(),
        }),
    }
}

/// `/mount=dir,...`, e.g. `/=www,/pkg=pkg`.
pub(super) fn parse_static_dirs(text: &str) -> Result<Vec<StaticDir>, ConfigError> {
    split_list(text)
        .map(|pair| {
            let (mount, dir) = pair.split_once('=').ok_or(ConfigError::InvalidStaticDirs)?;
            let mount = mount.trim();
            if !mount.starts_with('/') || dir.trim().is_empty() {
                return Err(ConfigError::InvalidStaticDirs);
            }
            Ok(StaticDir {
                mount: mount.to_owned(),
                dir: PathBuf::from(dir.trim()),
            })
        })
        .collect()
}
