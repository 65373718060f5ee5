//! Where the service may connect when a user names the place: push endpoints.
//!
//! An endpoint is the caller's text, so without a check a user could make the service open
//! connections inside its own network (server-side request forgery). Three checks, each
//! where it can be made:
//! - at registration and again when each push is built ([`PushPolicy::check`]): https, a
//!   host on the allowed push services, and no literal address or `localhost` that is not
//!   public;
//! - at every connection, after DNS resolution ([`PublicOnlyResolver`]): only public
//!   addresses are dialled, so a name that resolves (or is rebound) to a private address
//!   goes nowhere.
//!
//! Redirects are never followed (see `deliveries::push_client`), so a push service cannot
//! send a push elsewhere either.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The push services of the browsers, by host: Chrome's (FCM), Firefox's (autopush),
/// Apple's (any subdomain of push.apple.com) and Microsoft's (WNS). docs/service.md says
/// where each comes from.
pub const BROWSER_PUSH_HOSTS: &[&str] = &[
    "fcm.googleapis.com",
    "updates.push.services.mozilla.com",
    "*.push.apple.com",
    "*.notify.windows.com",
];

/// True for an address on the public internet: not loopback, private (RFC 1918), shared
/// (CGNAT, 100.64/10), link-local, unique-local, unspecified, multicast, broadcast,
/// documentation, benchmarking or reserved; IPv4 addresses inside IPv6 (mapped, NAT64,
/// 6to4) are judged by the IPv4 address they carry. IPv6 must be global unicast
/// (2000::/3) outside its special ranges.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, c, _] = address.octets();
    !(a == 0 // "this network", 0.0.0.0 included
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254) // link-local, cloud metadata services
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(address: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(address) {
        return is_public_v4(v4);
    }
    let segments = address.segments();
    let [first, second, ..] = segments;
    let global_unicast = first & 0xe000 == 0x2000;
    global_unicast
        && !(first == 0x2001 && second < 0x0200) // IETF protocol assignments, Teredo
        && !(first == 0x2001 && second == 0x0db8) // documentation
        && !(first == 0x3fff && second < 0x1000) // documentation (RFC 9637)
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:a.b.c.d`), the
/// NAT64 well-known prefix (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::`).
fn embedded_v4(address: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = address.to_ipv4_mapped() {
        return Some(v4);
    }
    let v4 = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    match address.segments() {
        [0x0064, 0xff9b, 0, 0, 0, 0, high, low] => Some(v4(high, low)),
        [0x2002, high, low, ..] => Some(v4(high, low)),
        _ => None,
    }
}

/// Why an endpoint's host is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostRefused {
    /// A literal address (or `localhost`) that is not on the public internet.
    NotPublic,
    /// Not one of the push services the deployment allows (`USERNOTIFY_PUSH_HOSTS`).
    NotAPushService,
}

/// The hosts push endpoints may name (`USERNOTIFY_PUSH_HOSTS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushHosts {
    /// Host names (`push.example.com`) and suffixes (`*.example.com`: any subdomain).
    pub names: Vec<String>,
    /// `*` was listed: any host, as long as its addresses are public.
    pub any_public: bool,
}

impl Default for PushHosts {
    /// The browsers' push services.
    fn default() -> PushHosts {
        PushHosts {
            names: BROWSER_PUSH_HOSTS
                .iter()
                .map(|&host| host.to_owned())
                .collect(),
            any_public: false,
        }
    }
}

impl PushHosts {
    /// A comma-separated list of host names and `*.suffix` patterns, where `default`
    /// stands for the browsers' push services and `*` for any public host. The item that
    /// is neither is the error (the whole text when nothing is listed).
    pub fn parse(text: &str) -> Result<PushHosts, String> {
        let mut hosts = PushHosts {
            names: Vec::new(),
            any_public: false,
        };
        for item in text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let item = item.to_ascii_lowercase();
            match item.as_str() {
                "default" => hosts.names.extend(PushHosts::default().names),
                "*" => hosts.any_public = true,
                pattern => {
                    let name = pattern.strip_prefix("*.").unwrap_or(pattern);
                    let valid = !name.is_empty()
                        && name.split('.').all(|label| {
                            !label.is_empty()
                                && label.len() <= 63
                                && label
                                    .bytes()
                                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
                        });
                    if !valid || name.parse::<IpAddr>().is_ok() {
                        return Err(item);
                    }
                    hosts.names.push(pattern.to_owned());
                }
            }
        }
        if hosts.names.is_empty() && !hosts.any_public {
            return Err(text.trim().to_owned());
        }
        Ok(hosts)
    }
}

/// Where pushes may go: the allowed hosts, and whether the tests' loopback receivers are
/// allowed (`USERNOTIFY_ALLOW_LOOPBACK_PUSH`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushPolicy {
    pub hosts: PushHosts,
    /// Endpoints on 127.0.0.1 and [::1] (http too), and names resolving to loopback.
    pub allow_loopback: bool,
}

impl PushPolicy {
    /// Whether a push may go to `host` (an endpoint URL's host), before any DNS lookup.
    pub fn check(&self, host: &url::Host<&str>) -> Result<(), HostRefused> {
        match host {
            url::Host::Ipv4(address) => self.check_address(IpAddr::V4(*address)),
            url::Host::Ipv6(address) => self.check_address(IpAddr::V6(*address)),
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                // RFC 6761: localhost and its subdomains are loopback, whatever DNS says.
                if name == "localhost" || name.ends_with(".localhost") {
                    return Err(HostRefused::NotPublic);
                }
                if self.hosts.any_public || self.hosts.names.iter().any(|host| matches(host, &name))
                {
                    Ok(())
                } else {
                    Err(HostRefused::NotAPushService)
                }
            }
        }
    }

    /// A literal address: public (and then, unless `*` is allowed, refused as no push
    /// service has an address for a name), or loopback when the tests allow it.
    fn check_address(&self, address: IpAddr) -> Result<(), HostRefused> {
        if self.allow_loopback && is_loopback(address) {
            return Ok(());
        }
        if !is_public(address) {
            return Err(HostRefused::NotPublic);
        }
        if self.hosts.any_public {
            Ok(())
        } else {
            Err(HostRefused::NotAPushService)
        }
    }

    /// Whether a resolved address may be dialled.
    pub fn may_connect(&self, address: IpAddr) -> bool {
        is_public(address) || (self.allow_loopback && is_loopback(address))
    }
}

/// 127.0.0.0/8, ::1 and their IPv4-mapped forms.
fn is_loopback(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// `pattern` is a host name, or `*.suffix` for any name below the suffix.
fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => name
            .strip_suffix(suffix)
            .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        None => pattern == name,
    }
}

/// A name resolved only to addresses the service may not connect to.
#[derive(Debug)]
pub struct ForbiddenAddress;

impl std::fmt::Display for ForbiddenAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the name resolves to no public address")
    }
}

impl std::error::Error for ForbiddenAddress {}

/// The push client's DNS resolver: the system's (getaddrinfo, on the blocking pool), with
/// every address that is not public dropped, at each connection. A name left with none
/// fails with [`ForbiddenAddress`].
pub struct PublicOnlyResolver {
    policy: Arc<PushPolicy>,
}

impl PublicOnlyResolver {
    pub fn new(policy: Arc<PushPolicy>) -> PublicOnlyResolver {
        PublicOnlyResolver { policy }
    }
}

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found
                .filter(|address| policy.may_connect(address.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(ForbiddenAddress) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// True when `error`, or any error it wraps, is the resolver's [`ForbiddenAddress`].
pub fn is_forbidden_address(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<ForbiddenAddress>() {
            return true;
        }
        current = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().unwrap())
    }

    #[test]
    fn private_and_special_addresses_are_not_public_in_either_family() {
        for address in [
            "127.0.0.1",
            "127.255.255.254",
            "10.255.255.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.18.0.1",
            "198.51.100.1",
            "203.0.113.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:0.0.0.0",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "3fff::1",
            "fec0::1",
            "100::1",
        ] {
            assert!(!public(address), "{address} must not be public");
        }
    }

    #[test]
    fn ordinary_internet_addresses_are_public() {
        for address in [
            "8.8.8.8",
            "142.250.74.106",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "169.253.0.1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::",
            "2a00:1450:4007:80e::200a",
            "2606:4700::1111",
        ] {
            assert!(public(address), "{address} is public");
        }
    }

    fn host(text: &str) -> url::Host<String> {
        url::Url::parse(&format!("https://{text}/"))
            .unwrap()
            .host()
            .unwrap()
            .to_owned()
    }

    fn check(policy: &PushPolicy, text: &str) -> Result<(), HostRefused> {
        let host = host(text);
        let borrowed = match &host {
            url::Host::Domain(name) => url::Host::Domain(name.as_str()),
            url::Host::Ipv4(address) => url::Host::Ipv4(*address),
            url::Host::Ipv6(address) => url::Host::Ipv6(*address),
        };
        policy.check(&borrowed)
    }

    #[test]
    fn by_default_only_the_browsers_push_services_are_allowed() {
        let policy = PushPolicy::default();
        for allowed in [
            "fcm.googleapis.com",
            "updates.push.services.mozilla.com",
            "web.push.apple.com",
            "api.push.apple.com",
            "wns2-par02p.notify.windows.com",
            "FCM.googleapis.com.",
        ] {
            assert_eq!(check(&policy, allowed), Ok(()), "{allowed}");
        }
        for refused in [
            "push.apple.com.evil.example",
            "evilpush.apple.com",
            "notify.windows.com",
            "example.com",
            "8.8.8.8",
        ] {
            assert_eq!(
                check(&policy, refused),
                Err(HostRefused::NotAPushService),
                "{refused}"
            );
        }
        for refused in [
            "127.0.0.1",
            "[::ffff:127.0.0.1]",
            "0.0.0.0",
            "169.254.169.254",
            "10.255.255.1",
            "0x7f.1",
            "2130706433",
            "localhost",
            "LOCALHOST.",
            "api.localhost",
            "[fe80::1]",
        ] {
            assert_eq!(
                check(&policy, refused),
                Err(HostRefused::NotPublic),
                "{refused}"
            );
        }
    }

    #[test]
    fn the_list_is_extended_or_replaced_and_star_allows_any_public_host() {
        let policy = |text: &str| PushPolicy {
            hosts: PushHosts::parse(text).unwrap(),
            allow_loopback: false,
        };
        let extended = policy("default, push.example.net, *.corp.example");
        assert_eq!(check(&extended, "push.example.net"), Ok(()));
        assert_eq!(check(&extended, "a.corp.example"), Ok(()));
        assert_eq!(check(&extended, "fcm.googleapis.com"), Ok(()));
        let replaced = policy("push.example.net");
        assert_eq!(
            check(&replaced, "fcm.googleapis.com"),
            Err(HostRefused::NotAPushService)
        );
        let any = policy("*");
        assert_eq!(check(&any, "anything.example"), Ok(()));
        assert_eq!(check(&any, "8.8.8.8"), Ok(()));
        assert_eq!(check(&any, "10.0.0.1"), Err(HostRefused::NotPublic));
        assert_eq!(check(&any, "localhost"), Err(HostRefused::NotPublic));
        for bad in ["", " , ", "https://x.example", "10.0.0.1", "a..b", "*."] {
            assert!(PushHosts::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_loopback_test_setting_allows_loopback_and_nothing_else_private() {
        let policy = PushPolicy {
            allow_loopback: true,
            ..PushPolicy::default()
        };
        assert_eq!(check(&policy, "127.0.0.1"), Ok(()));
        assert_eq!(check(&policy, "[::1]"), Ok(()));
        assert_eq!(check(&policy, "10.0.0.1"), Err(HostRefused::NotPublic));
        assert_eq!(check(&policy, "localhost"), Err(HostRefused::NotPublic));
        assert!(policy.may_connect("127.0.0.1".parse().unwrap()));
        assert!(!policy.may_connect("192.168.0.1".parse().unwrap()));
        assert!(!PushPolicy::default().may_connect("127.0.0.1".parse().unwrap()));
    }
}
