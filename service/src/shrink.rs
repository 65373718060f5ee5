//! Bodies every push service takes. A push service states a message limit of 4,096 bytes
//! encrypted ([`MAX_PUSH_JSON_BYTES`] of JSON), but some take less: Mozilla's endpoints
//! (`updates.push.services.mozilla.com`) reach Firefox on Android and iOS through mobile
//! bridges to FCM and APNs, which cap the whole bridged message (the body in base64url, and
//! the bridge's own members) at 4,096 bytes: about 2,900 bytes of JSON through FCM, less
//! through APNs. Their endpoints look exactly like desktop Firefox's.
//!
//! So: what a host's first attempt may hold ([`rules_for`]), and the smallest body a
//! notification can be sent as when a push service refused it as too large (413):
//! no Declarative Web Push part, no piggybacked changes, its text trimmed to fit
//! [`SMALLEST_KNOWN_JSON`] ([`minimal_body`]).

use serde_json::{Map, Value};
use usernotify::core::notification::MAX_PUSH_JSON_BYTES;

/// The most JSON a push body may hold for every push service known: Mozilla's APNs bridge
/// (autopush-rs `routers/apns`: the APNs payload of 4,096 bytes holds the `aps` member, the
/// channel id, the message id and the encrypted body in base64url, about 2,770 bytes of
/// ciphertext), less the 103 bytes of encryption overhead, with room to spare.
pub const SMALLEST_KNOWN_JSON: usize = 2_600;

/// The reason a delivery sent as [`minimal_body`] after a 413 records.
pub const TRIMMED_TO_FIT: &str = "trimmed-to-fit";

/// What a first attempt to one push host may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyRules {
    /// The most JSON.
    pub max_json: usize,
    /// Whether the browsers behind it may show a Declarative Web Push message (Firefox
    /// shows none: the part would only take room there).
    pub declarative: bool,
}

/// The rules for a push host (`host[:port]`, lower case): Mozilla's endpoints take the
/// smallest known body (they cannot be told apart from those of the mobile bridges) and no
/// declarative part; every other host a whole Web Push message.
pub fn rules_for(push_host: &str) -> BodyRules {
    let host = push_host.split(':').next().unwrap_or_default();
    if host == "push.services.mozilla.com" || host.ends_with(".push.services.mozilla.com") {
        BodyRules {
            max_json: SMALLEST_KNOWN_JSON,
            declarative: false,
        }
    } else {
        BodyRules {
            max_json: MAX_PUSH_JSON_BYTES,
            declarative: true,
        }
    }
}

/// The notification as the smallest body that still shows it: the stored resource alone,
/// with its texts (the body, then raw content, then the title, never below one character)
/// cut short, with an ellipsis, until it fits [`SMALLEST_KNOWN_JSON`]. `None` if it cannot
/// (a resource that is not an object, or one whose other members alone are too large).
pub fn minimal_body(resource: &str) -> Option<String> {
    if resource.len() <= SMALLEST_KNOWN_JSON {
        return Some(resource.to_owned());
    }
    let mut graph: Map<String, Value> = serde_json::from_str(resource).ok()?;
    for path in [
        &["payload", "visualContent", "body"][..],
        &["payload", "rawContent"][..],
        &["payload", "visualContent", "title"][..],
    ] {
        let written = serde_json::to_string(&graph).ok()?;
        let over = written.len().saturating_sub(SMALLEST_KNOWN_JSON);
        if over == 0 {
            return Some(written);
        }
        if let Some(Value::String(text)) = member_mut(&mut graph, path) {
            *text = shortened(text, over);
        }
    }
    let written = serde_json::to_string(&graph).ok()?;
    (written.len() <= SMALLEST_KNOWN_JSON).then_some(written)
}

fn member_mut<'a>(graph: &'a mut Map<String, Value>, path: &[&str]) -> Option<&'a mut Value> {
    let (last, parents) = path.split_last()?;
    let mut object = graph;
    for name in parents {
        object = object.get_mut(*name)?.as_object_mut()?;
    }
    object.get_mut(*last)
}

/// `text` made at least `over` bytes shorter as JSON (escapes count), ending with an
/// ellipsis, cut on a character boundary; never shorter than one character and the
/// ellipsis.
fn shortened(text: &str, over: usize) -> String {
    // The ellipsis is 3 bytes; each character removed saves its JSON-escaped length.
    let mut saved = 0;
    let mut keep = text.len();
    for (at, character) in text.char_indices().rev() {
        if saved >= over + 3 || at == 0 {
            break;
        }
        let mut buffer = [0u8; 4];
        let escaped = serde_json::to_string(character.encode_utf8(&mut buffer))
            .map(|quoted| quoted.len() - 2)
            .unwrap_or(6);
        saved += escaped;
        keep = at;
    }
    let mut short = text.get(..keep).unwrap_or_default().to_owned();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mozillas_endpoints_take_the_smallest_body_and_no_declarative_part() {
        for host in [
            "updates.push.services.mozilla.com",
            "updates.push.services.mozilla.com:443",
            "push.services.mozilla.com",
        ] {
            assert_eq!(
                rules_for(host),
                BodyRules {
                    max_json: SMALLEST_KNOWN_JSON,
                    declarative: false
                },
                "{host}"
            );
        }
        for host in [
            "fcm.googleapis.com",
            "web.push.apple.com",
            "wns2-par02p.notify.windows.com",
            "evil-push.services.mozilla.com.example",
        ] {
            assert_eq!(rules_for(host).max_json, MAX_PUSH_JSON_BYTES, "{host}");
            assert!(rules_for(host).declarative, "{host}");
        }
    }

    fn resource(title: &str, body: &str) -> String {
        json!({
            "id": "n1",
            "targetHostName": "app.example",
            "payload": { "visualContent": { "title": title, "body": body } },
        })
        .to_string()
    }

    #[test]
    fn a_small_notification_is_its_own_minimal_body() {
        let small = resource("Hi", "there");
        assert_eq!(minimal_body(&small).as_deref(), Some(small.as_str()));
    }

    #[test]
    fn the_body_text_is_cut_first_with_an_ellipsis_and_the_rest_kept() {
        let big = resource("Your order shipped", &"é\"x".repeat(1_200));
        let minimal = minimal_body(&big).unwrap();
        assert!(minimal.len() <= SMALLEST_KNOWN_JSON, "{}", minimal.len());
        assert!(
            minimal.len() > SMALLEST_KNOWN_JSON - 10,
            "cut no more than needed"
        );
        let value: Value = serde_json::from_str(&minimal).unwrap();
        assert_eq!(value["id"], "n1");
        assert_eq!(
            value["payload"]["visualContent"]["title"],
            "Your order shipped"
        );
        let body = value["payload"]["visualContent"]["body"].as_str().unwrap();
        assert!(body.ends_with('…') && body.starts_with("é\"x"), "{body}");
    }

    #[test]
    fn the_title_is_cut_last_and_never_to_nothing() {
        let huge_title = resource(&"t".repeat(3_900), "b");
        let value: Value = serde_json::from_str(&minimal_body(&huge_title).unwrap()).unwrap();
        let title = value["payload"]["visualContent"]["title"].as_str().unwrap();
        assert!(title.starts_with('t') && title.ends_with('…'), "{title}");
        let not_an_object = format!("[{}1]", "1,".repeat(2_000));
        assert!(minimal_body(&not_an_object).is_none());
    }
}
