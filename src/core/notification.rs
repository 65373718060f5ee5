//! The Graph `notification` resource and its validation.

use super::error::{Field, InvalidNotification};
use super::json::{is_whole, Json, JsonRead, Kind, ObjectWriter};
use super::time::{format_iso8601, parse_iso8601, Millis, DAY, SECOND};
use alloc::borrow::{Cow, ToOwned};
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// How far ahead `expirationDateTime` may be, and the expiry given when it is absent.
pub const MAX_LIFETIME: Millis = 30 * DAY;

/// The largest JSON body that still fits a Web Push message once encrypted
/// (4096 bytes minus the aes128gcm header, tag and padding delimiter).
pub const MAX_PUSH_JSON_BYTES: usize = 3993;

/// The longest `icon`, `image` or `badge`, in characters.
pub const MAX_MEDIA_URL_CHARS: usize = 2048;
/// The most `actions` a notification may carry (the most browsers show).
pub const MAX_ACTIONS: usize = 2;
/// `web_push` of a Declarative Web Push message (W3C Push API).
pub const DECLARATIVE_PUSH: f64 = 8030.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Priority {
    #[default]
    None,
    High,
    Low,
}

impl Priority {
    /// Reads a stored name back; anything unknown is the default priority.
    pub fn from_name(name: &str) -> Priority {
        match name {
            "High" => Priority::High,
            "Low" => Priority::Low,
            _ => Priority::None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::None => "None",
            Priority::High => "High",
            Priority::Low => "Low",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Windows,
    Ios,
    Android,
    WebPush,
}

impl Platform {
    fn parse(text: &str) -> Option<Platform> {
        const NAMES: [(&str, Platform); 4] = [
            ("windows", Platform::Windows),
            ("ios", Platform::Ios),
            ("android", Platform::Android),
            ("webpush", Platform::WebPush),
        ];
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .map(|(_, platform)| *platform)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Windows => "windows",
            Platform::Ios => "ios",
            Platform::Android => "android",
            Platform::WebPush => "webPush",
        }
    }
}

/// What the user sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisualContent {
    pub title: String,
    pub body: String,
    /// usernotify extension: the page a click opens (same origin only; checked by the worker).
    pub url: Option<String>,
    pub rich: RichContent,
}

/// usernotify extensions beside the text: pictures and buttons (the Notifications API's
/// `icon`, `image`, `badge` and `actions`). Each picture is an https URL or a path of the
/// app's origin.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RichContent {
    pub icon: Option<String>,
    pub image: Option<String>,
    pub badge: Option<String>,
    /// At most [`MAX_ACTIONS`].
    pub actions: Vec<Action>,
}

impl RichContent {
    /// As the browser keeps it (a feed entry, a record, a shown notification's `data`): a
    /// JSON object with the members present, its `actions` as [`actions_json`] writes them
    /// and `urls`, each button's URL under its action name; `None` when there is nothing.
    pub fn json(&self) -> Option<String> {
        let mut object = ObjectWriter::default();
        for (name, url) in [
            ("icon", &self.icon),
            ("image", &self.image),
            ("badge", &self.badge),
        ] {
            if let Some(url) = url {
                object = object.str(name, url);
            }
        }
        if !self.actions.is_empty() {
            let mut urls = ObjectWriter::default();
            for action in &self.actions {
                if let Some(url) = &action.url {
                    urls = urls.str(&action.action, url);
                }
            }
            object = object
                .raw("actions", &actions_json(&self.actions))
                .raw("urls", &urls.end());
        }
        let json = object.end();
        (json.len() > 2).then_some(json)
    }
}

/// Actions as JSON text, `[{"action", "title", "url"}]` (`url` null when absent): what
/// the browser reads as the options' `actions` (`action` and `title`), and where the worker
/// finds a clicked button's URL.
pub fn actions_json(actions: &[Action]) -> String {
    let mut json = String::from("[");
    for action in actions {
        if json.len() > 1 {
            json.push(',');
        }
        json.push_str(
            &ObjectWriter::default()
                .str("action", &action.action)
                .str("title", &action.title)
                .opt_str("url", action.url.as_deref())
                .end(),
        );
    }
    json.push(']');
    json
}

/// A button of the notification: a click on it opens `url` (same origin only, like the
/// notification's own) and is reported with its `action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub action: String,
    pub title: String,
    pub url: Option<String>,
}

/// A valid notification, normalised: optional strings are `None` rather than empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub id: Option<String>,
    pub target_host_name: Option<String>,
    pub app_notification_id: Option<String>,
    pub group_name: Option<String>,
    /// `None`: every platform.
    pub platform_types: Option<Vec<Platform>>,
    pub visual: Option<VisualContent>,
    pub raw_content: Option<String>,
    pub priority: Priority,
    pub display_time_to_live: Option<u32>,
    pub expiration: Millis,
}

impl Notification {
    /// Validates a parsed body against the contract at the instant `now`.
    pub fn from_json(body: &Json, now: Millis) -> Result<Notification, InvalidNotification> {
        Notification::read(body, now)
    }

    /// Validates a push as the worker gets it: the Graph resource (also when it carries a
    /// Declarative Web Push part beside it), or a declarative message alone (`web_push`
    /// 8030 and its `notification`, no `payload`) from another sender, read by
    /// [`Notification::read_declarative`].
    pub fn read_push<'a, V: JsonRead<'a>>(
        body: V,
        now: Millis,
    ) -> Result<Notification, InvalidNotification> {
        match body.member("notification") {
            Some(notification)
                if body.member("payload").is_none()
                    && body.member("web_push").and_then(|tag| tag.number())
                        == Some(DECLARATIVE_PUSH) =>
            {
                Notification::read_declarative(notification, now)
            }
            _ => Notification::read(body, now),
        }
    }

    /// A declarative message's `notification` member (or a browser's `Notification`, read
    /// the same way): `title`, `body`, `navigate` (the click URL), `tag` (the key, so the
    /// same tag replaces), `silent` (Low priority), `requireInteraction` (High), and the
    /// pictures and `actions` (with `navigate`) under the contract's rules; when the contract
    /// refuses any one of them, the pictures and actions are all left out, not the
    /// notification. It expires [`MAX_LIFETIME`] after `now`.
    pub fn read_declarative<'a, V: JsonRead<'a>>(
        value: V,
        now: Millis,
    ) -> Result<Notification, InvalidNotification> {
        let (title, body, url, rich) = visual_content(value.clone(), "navigate")?;
        let flag = |name: &str| value.member(name).and_then(|flag| flag.flag()) == Some(true);
        let priority = match (flag("silent"), flag("requireInteraction")) {
            (true, _) => Priority::Low,
            (_, true) => Priority::High,
            _ => Priority::None,
        };
        let owned = |text: Option<Cow<str>>| text.map(Cow::into_owned);
        Ok(Notification {
            id: None,
            target_host_name: None,
            app_notification_id: value
                .member("tag")
                .and_then(|tag| tag.text())
                .filter(|tag| !tag.is_empty())
                .map(Cow::into_owned),
            group_name: None,
            platform_types: None,
            visual: Some(VisualContent {
                title: title.into_owned(),
                body: body.into_owned(),
                url: owned(url),
                rich: rich.unwrap_or_default(),
            }),
            raw_content: None,
            priority,
            display_time_to_live: None,
            expiration: now.saturating_add(MAX_LIFETIME),
        })
    }

    /// Validates any parsed JSON value: the core's tree (the service), or the JS value
    /// `JSON.parse` made (the worker). Every field is checked before the notification is
    /// built, so a refusal leaves nothing half-made.
    pub fn read<'a, V: JsonRead<'a>>(
        body: V,
        now: Millis,
    ) -> Result<Notification, InvalidNotification> {
        match body.kind() {
            Kind::Object => {}
            Kind::Array => return Err(InvalidNotification::BodyIsArray),
            _ => return Err(InvalidNotification::ContractMismatch(Field::Root)),
        }
        let payload = optional_object(body.member("payload"), Field::Payload)?;
        let visual = match payload
            .as_ref()
            .and_then(|payload| payload.member("visualContent"))
        {
            None => None,
            Some(visual) => {
                let (title, body, url, rich) = visual_content(visual, "url")?;
                Some((title, body, url, rich?))
            }
        };
        let raw_content = optional_string(
            payload.and_then(|payload| payload.member("rawContent")),
            Field::RawContent,
        )?;
        let target_policy = optional_object(body.member("targetPolicy"), Field::TargetPolicy)?;
        let platform_types = match target_policy.and_then(|policy| policy.member("platformTypes")) {
            None => None,
            Some(list) => Some(platform_types(list)?),
        };
        let id = optional_string(body.member("id"), Field::Id)?;
        let target_host_name =
            optional_string(body.member("targetHostName"), Field::TargetHostName)?;
        let app_notification_id =
            optional_string(body.member("appNotificationId"), Field::AppNotificationId)?;
        let group_name = optional_string(body.member("groupName"), Field::GroupName)?;
        let priority = priority(body.member("priority"))?;
        let display_time_to_live = display_time_to_live(body.member("displayTimeToLive"))?;
        let expiration = expiration(body.member("expirationDateTime"), now)?;
        if visual.is_none() && raw_content.is_none() {
            return Err(InvalidNotification::InvalidPayload);
        }
        let owned = |text: Option<Cow<str>>| text.map(Cow::into_owned);
        Ok(Notification {
            id: owned(id),
            target_host_name: owned(target_host_name),
            app_notification_id: owned(app_notification_id),
            group_name: owned(group_name),
            platform_types,
            visual: visual.map(|(title, body, url, rich)| VisualContent {
                title: title.into_owned(),
                body: body.into_owned(),
                url: owned(url),
                rich,
            }),
            raw_content: owned(raw_content),
            priority,
            display_time_to_live,
            expiration,
        })
    }

    /// The feed and tag key: the service's `id`, else the app's `appNotificationId`, else a
    /// hash of the content, so that an identical redelivery of an anonymous push dedupes.
    pub fn key(&self) -> String {
        if let Some(key) = self.id.as_ref().or(self.app_notification_id.as_ref()) {
            return key.clone();
        }
        let mut hash = Fnv::default();
        if let Some(visual) = &self.visual {
            hash.write(visual.title.as_bytes());
            hash.write(visual.body.as_bytes());
        }
        if let Some(raw) = &self.raw_content {
            hash.write(raw.as_bytes());
        }
        hash.write(&self.expiration.to_le_bytes());
        let mut key = String::from("h:");
        for nibble in (0..16).rev() {
            let digit = (hash.0 >> (nibble * 4)) & 0xf;
            key.push(char::from_digit(digit as u32, 16).unwrap_or('0'));
        }
        key
    }

    /// True when the notification is for web browsers: no target policy, or one naming webPush.
    pub fn targets_web_push(&self) -> bool {
        self.platform_types
            .as_ref()
            .is_none_or(|platforms| platforms.contains(&Platform::WebPush))
    }

    pub fn is_expired(&self, now: Millis) -> bool {
        is_expired(self.expiration, now)
    }

    /// When an on-screen notification shown at `shown_at` must be closed, if ever.
    pub fn display_close_at(&self, shown_at: Millis) -> Option<Millis> {
        self.display_time_to_live
            .map(|seconds| shown_at.saturating_add(Millis::from(seconds) * SECOND))
    }

    /// The resource as Graph answers it (camelCase, absent fields left out).
    pub fn to_json(&self) -> Json {
        let string = |value: &Option<String>| value.clone().map(Json::String);
        let payload = Json::object([
            (
                "visualContent",
                self.visual.as_ref().map(|visual| {
                    let rich = &visual.rich;
                    Json::object([
                        ("title", Some(Json::String(visual.title.clone()))),
                        ("body", Some(Json::String(visual.body.clone()))),
                        ("url", string(&visual.url)),
                        ("icon", string(&rich.icon)),
                        ("image", string(&rich.image)),
                        ("badge", string(&rich.badge)),
                        (
                            "actions",
                            (!rich.actions.is_empty()).then(|| {
                                Json::Array(
                                    rich.actions
                                        .iter()
                                        .map(|action| {
                                            Json::object([
                                                (
                                                    "action",
                                                    Some(Json::String(action.action.clone())),
                                                ),
                                                ("title", Some(Json::String(action.title.clone()))),
                                                ("url", string(&action.url)),
                                            ])
                                        })
                                        .collect(),
                                )
                            }),
                        ),
                    ])
                }),
            ),
            ("rawContent", string(&self.raw_content)),
        ]);
        Json::object([
            ("id", string(&self.id)),
            ("targetHostName", string(&self.target_host_name)),
            ("appNotificationId", string(&self.app_notification_id)),
            ("groupName", string(&self.group_name)),
            (
                "targetPolicy",
                self.platform_types.as_ref().map(|platforms| {
                    Json::object([(
                        "platformTypes",
                        Some(Json::Array(
                            platforms
                                .iter()
                                .map(|platform| Json::String(platform.as_str().to_owned()))
                                .collect(),
                        )),
                    )])
                }),
            ),
            ("payload", Some(payload)),
            (
                "priority",
                Some(Json::String(self.priority.as_str().to_owned())),
            ),
            (
                "displayTimeToLive",
                self.display_time_to_live
                    .map(|seconds| Json::Number(f64::from(seconds))),
            ),
            (
                "expirationDateTime",
                Some(Json::String(format_iso8601(self.expiration))),
            ),
        ])
    }
}

/// The members validation reads, at each level of the resource: everything a post or a push
/// may carry. Any other member is ignored, as Graph ignores it; [`unknown_fields`] names them
/// so that a sender learns of a misspelt name (the service's `@usernotify.warnings`).
pub const RESOURCE_FIELDS: &[&str] = &[
    "id",
    "targetHostName",
    "appNotificationId",
    "groupName",
    "targetPolicy",
    "payload",
    "priority",
    "displayTimeToLive",
    "expirationDateTime",
    "fallbackPolicy",
];
pub const TARGET_POLICY_FIELDS: &[&str] = &["platformTypes"];
pub const PAYLOAD_FIELDS: &[&str] = &["visualContent", "rawContent"];
pub const VISUAL_CONTENT_FIELDS: &[&str] =
    &["title", "body", "url", "icon", "image", "badge", "actions"];
pub const ACTION_FIELDS: &[&str] = &["action", "title", "url"];

/// The most unknown members [`unknown_fields`] lists, and the longest name it repeats, in
/// characters: what one post can make the service answer and log stays small.
pub const MAX_UNKNOWN_FIELDS: usize = 16;
pub const MAX_FIELD_NAME_CHARS: usize = 100;

/// A member of a valid resource that validation did not read, so it was ignored: its path
/// (`payload.visualContent.titel`, `payload.visualContent.actions[0].urll`), and the path of
/// the known member it most likely meant, if one is close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownField {
    pub field: String,
    pub did_you_mean: Option<String>,
}

/// Every member of `body` that is not in the contract, at each level validation reads
/// (the resource, `targetPolicy`, `payload`, `visualContent`, each action), in order, each
/// path once, at most [`MAX_UNKNOWN_FIELDS`]. OData annotations (`@odata.type`) are not
/// members and are left out.
pub fn unknown_fields(body: &Json) -> Vec<UnknownField> {
    let mut found = Vec::new();
    collect_unknown(body, "", RESOURCE_FIELDS, &mut found);
    if let Some(policy) = body.get("targetPolicy") {
        collect_unknown(policy, "targetPolicy.", TARGET_POLICY_FIELDS, &mut found);
    }
    if let Some(payload) = body.get("payload") {
        collect_unknown(payload, "payload.", PAYLOAD_FIELDS, &mut found);
        if let Some(visual) = payload.get("visualContent") {
            let at = "payload.visualContent.";
            collect_unknown(visual, at, VISUAL_CONTENT_FIELDS, &mut found);
            if let Some(Json::Array(actions)) = visual.get("actions") {
                for (index, action) in actions.iter().enumerate() {
                    let mut at = String::from("payload.visualContent.actions[");
                    at.push_str(&index.to_string());
                    at.push_str("].");
                    collect_unknown(action, &at, ACTION_FIELDS, &mut found);
                }
            }
        }
    }
    found
}

fn collect_unknown(value: &Json, at: &str, known: &[&str], found: &mut Vec<UnknownField>) {
    let Json::Object(members) = value else {
        return;
    };
    for (name, _) in members {
        if found.len() >= MAX_UNKNOWN_FIELDS {
            return;
        }
        if name.starts_with('@') || known.contains(&name.as_str()) {
            continue;
        }
        let mut field = String::from(at);
        field.extend(name.chars().take(MAX_FIELD_NAME_CHARS));
        if found.iter().any(|unknown| unknown.field == field) {
            continue;
        }
        let did_you_mean = nearest_name(name, known).map(|near| {
            let mut path = String::from(at);
            path.push_str(near);
            path
        });
        found.push(UnknownField {
            field,
            did_you_mean,
        });
    }
}

/// The known name `name` most likely misspells: the same but for case, else the one fewest
/// edits away (insertions, deletions, substitutions, swaps of neighbours; ASCII case
/// ignored), when that is at most 1 for a name under 5 characters, 2 otherwise.
pub fn nearest_name<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    if name.chars().count() > 2 * MAX_FIELD_NAME_CHARS {
        return None;
    }
    let lower: Vec<char> = name.chars().map(|c| c.to_ascii_lowercase()).collect();
    known
        .iter()
        .map(|candidate| {
            let other: Vec<char> = candidate.chars().map(|c| c.to_ascii_lowercase()).collect();
            (edits(&lower, &other), *candidate, other.len())
        })
        .filter(|(distance, _, length)| {
            let limit = if lower.len().max(*length) < 5 { 1 } else { 2 };
            *distance <= limit
        })
        .min_by_key(|(distance, _, _)| *distance)
        .map(|(_, candidate, _)| candidate)
}

/// The optimal string alignment distance between `a` and `b`.
fn edits(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut rows = alloc::vec![0usize; (a.len() + 1) * width];
    let at = |i: usize, j: usize| i * width + j;
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            let value = if i == 0 || j == 0 {
                i.max(j)
            } else {
                let cost = usize::from(a.get(i - 1) != b.get(j - 1));
                let mut best = (rows.get(at(i - 1, j)).copied().unwrap_or(0) + 1)
                    .min(rows.get(at(i, j - 1)).copied().unwrap_or(0) + 1)
                    .min(rows.get(at(i - 1, j - 1)).copied().unwrap_or(0) + cost);
                if i > 1 && j > 1 && a.get(i - 1) == b.get(j - 2) && a.get(i - 2) == b.get(j - 1) {
                    best = best.min(rows.get(at(i - 2, j - 2)).copied().unwrap_or(0) + 1);
                }
                best
            };
            if let Some(cell) = rows.get_mut(at(i, j)) {
                *cell = value;
            }
        }
    }
    rows.last().copied().unwrap_or(0)
}

/// Expired at and after the expiration instant: "after it, never shown".
pub fn is_expired(expiration: Millis, now: Millis) -> bool {
    now >= expiration
}

fn optional_object<'a, V: JsonRead<'a>>(
    value: Option<V>,
    field: Field,
) -> Result<Option<V>, InvalidNotification> {
    match value {
        None => Ok(None),
        Some(object) if object.kind() == Kind::Object => Ok(Some(object)),
        Some(_) => Err(InvalidNotification::ContractMismatch(field)),
    }
}

/// A string field; an empty string counts as absent.
fn optional_string<'a, V: JsonRead<'a>>(
    value: Option<V>,
    field: Field,
) -> Result<Option<Cow<'a, str>>, InvalidNotification> {
    match value.as_ref().map(JsonRead::text) {
        None => Ok(None),
        Some(Some(text)) if text.is_empty() => Ok(None),
        Some(Some(text)) => Ok(Some(text)),
        Some(None) => Err(InvalidNotification::ContractMismatch(field)),
    }
}

type Visual<'a> = (
    Cow<'a, str>,
    Cow<'a, str>,
    Option<Cow<'a, str>>,
    Result<RichContent, InvalidNotification>,
);

/// `visualContent`'s title, body, URL (the member `url_name`: `url`, or a declarative
/// notification's `navigate`), and its rich content, whose refusal the caller decides on.
fn visual_content<'a, V: JsonRead<'a>>(
    value: V,
    url_name: &str,
) -> Result<Visual<'a>, InvalidNotification> {
    if value.kind() != Kind::Object {
        return Err(InvalidNotification::ContractMismatch(Field::VisualContent));
    }
    let title = optional_string(value.member("title"), Field::Title)?
        .ok_or(InvalidNotification::MissingTitle)?;
    let body = optional_string(value.member("body"), Field::VisualBody)?.unwrap_or_default();
    let url = optional_string(value.member(url_name), Field::Url)?;
    Ok((title, body, url, rich_content(&value, url_name)))
}

fn rich_content<'a, V: JsonRead<'a>>(
    value: &V,
    url_name: &str,
) -> Result<RichContent, InvalidNotification> {
    let media = |name: &str, field: Field| -> Result<Option<String>, InvalidNotification> {
        let Some(url) = optional_string(value.member(name), field)? else {
            return Ok(None);
        };
        if url.chars().count() > MAX_MEDIA_URL_CHARS {
            return Err(InvalidNotification::MediaUrlTooLong(field));
        }
        match is_media_url(&url) {
            true => Ok(Some(url.into_owned())),
            false => Err(InvalidNotification::InvalidMediaUrl(field)),
        }
    };
    Ok(RichContent {
        icon: media("icon", Field::Icon)?,
        image: media("image", Field::Image)?,
        badge: media("badge", Field::Badge)?,
        actions: match value.member("actions") {
            None => Vec::new(),
            Some(list) => actions(list, url_name)?,
        },
    })
}

/// An https URL, or a path of the app's origin: `/` not followed by another `/` or `\`
/// (which a browser reads as another host), and no control characters (a browser drops
/// tabs and newlines, which could make `/\t/host` such a path).
pub fn is_media_url(url: &str) -> bool {
    let https = url
        .get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"));
    let path = url
        .strip_prefix('/')
        .is_some_and(|rest| !rest.starts_with(['/', '\\']));
    (https || path) && !url.bytes().any(|byte| byte < 0x20 || byte == 0x7f)
}

/// At most [`MAX_ACTIONS`] objects, each with a non-empty `action` and `title` and an
/// optional URL under `url_name`.
fn actions<'a, V: JsonRead<'a>>(
    value: V,
    url_name: &str,
) -> Result<Vec<Action>, InvalidNotification> {
    let mismatch = InvalidNotification::ContractMismatch(Field::Actions);
    if value.kind() != Kind::Array {
        return Err(mismatch);
    }
    let items = value.items();
    if items.len() > MAX_ACTIONS {
        return Err(InvalidNotification::TooManyActions);
    }
    let mut actions = Vec::new();
    for item in items {
        if item.kind() != Kind::Object {
            return Err(mismatch);
        }
        let text = |name: &str, field: Field| {
            optional_string(item.member(name), field)?
                .map(Cow::into_owned)
                .ok_or(InvalidNotification::InvalidAction)
        };
        actions.push(Action {
            action: text("action", Field::ActionName)?,
            title: text("title", Field::ActionTitle)?,
            url: optional_string(item.member(url_name), Field::ActionUrl)?.map(Cow::into_owned),
        });
    }
    Ok(actions)
}

fn platform_types<'a, V: JsonRead<'a>>(value: V) -> Result<Vec<Platform>, InvalidNotification> {
    let mismatch = InvalidNotification::ContractMismatch(Field::PlatformTypes);
    if value.kind() != Kind::Array {
        return Err(mismatch);
    }
    let mut platforms = Vec::new();
    for item in value.items() {
        let platform = item
            .text()
            .and_then(|text| Platform::parse(&text))
            .ok_or(mismatch)?;
        if !platforms.contains(&platform) {
            platforms.push(platform);
        }
    }
    Ok(platforms)
}

fn priority<'a, V: JsonRead<'a>>(value: Option<V>) -> Result<Priority, InvalidNotification> {
    const NAMES: [(&str, Priority); 3] = [
        ("none", Priority::None),
        ("high", Priority::High),
        ("low", Priority::Low),
    ];
    match value {
        None => Ok(Priority::None),
        Some(value) => value
            .text()
            .and_then(|text| {
                NAMES
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(&text))
                    .map(|(_, priority)| *priority)
            })
            .ok_or(InvalidNotification::ContractMismatch(Field::Priority)),
    }
}

/// Whole seconds, as a JSON number or a numeric string (the seed sends `"60"`).
fn display_time_to_live<'a, V: JsonRead<'a>>(
    value: Option<V>,
) -> Result<Option<u32>, InvalidNotification> {
    let mismatch = InvalidNotification::ContractMismatch(Field::DisplayTimeToLive);
    let Some(value) = value else {
        return Ok(None);
    };
    let seconds = match value.kind() {
        Kind::Number => value.number().ok_or(mismatch)?,
        Kind::String => value
            .text()
            .and_then(|text| parse_integer_text(&text))
            .ok_or(mismatch)?,
        _ => return Err(mismatch),
    };
    if seconds < 0.0 {
        return Err(InvalidNotification::NegativeTtl);
    }
    if !is_whole(seconds) || seconds > f64::from(u32::MAX) {
        return Err(mismatch);
    }
    Ok(Some(seconds as u32))
}

/// An optionally signed run of ASCII digits, nothing else (no spaces, no exponent).
fn parse_integer_text(text: &str) -> Option<f64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits
        .bytes()
        .fold(0.0, |value, digit| value * 10.0 + f64::from(digit - b'0'));
    Some(if negative { -magnitude } else { magnitude })
}

fn expiration<'a, V: JsonRead<'a>>(
    value: Option<V>,
    now: Millis,
) -> Result<Millis, InvalidNotification> {
    let expiration = match value.as_ref().map(JsonRead::text) {
        None => return Ok(now.saturating_add(MAX_LIFETIME)),
        Some(Some(text)) => parse_iso8601(&text).ok_or(InvalidNotification::InvalidDate)?,
        Some(None) => {
            return Err(InvalidNotification::ContractMismatch(
                Field::ExpirationDateTime,
            ))
        }
    };
    if is_expired(expiration, now) {
        return Err(InvalidNotification::Expired);
    }
    if expiration > now.saturating_add(MAX_LIFETIME) {
        return Err(InvalidNotification::ExpiresTooLate);
    }
    Ok(expiration)
}

/// FNV-1a, 64 bits: a stable, dependency-free content key.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator so that ("ab", "c") and ("a", "bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }
}
