//! Why a notification was refused, with codes that never change once published.

use alloc::borrow::ToOwned;
use alloc::string::String;
/// Every way a posted or pushed notification can be invalid.
///
/// `code()` is the stable, kebab-case name used in the service's Graph error body, in logs
/// and in the worker's status decisions. The worker never shows it to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidNotification {
    /// The push carried no data, or only whitespace.
    EmptyBody,
    /// The text is not JSON.
    MalformedJson,
    /// An array: Graph never accepted several notifications in one post.
    BodyIsArray,
    /// Not an object, or a field with the wrong JSON type or an unknown enum value.
    ContractMismatch(Field),
    /// `expirationDateTime` is not an ISO 8601 instant with a zone.
    InvalidDate,
    /// `displayTimeToLive` below zero.
    NegativeTtl,
    /// Neither `payload.visualContent` nor `payload.rawContent`.
    InvalidPayload,
    /// `visualContent` without a (non-empty) `title`.
    MissingTitle,
    /// `expirationDateTime` is not after now.
    Expired,
    /// `expirationDateTime` is more than 30 days ahead.
    ExpiresTooLate,
    /// An `icon`, `image` or `badge` that is neither an https URL nor a path of the app's
    /// origin (`/...`).
    InvalidMediaUrl(Field),
    /// An `icon`, `image` or `badge` longer than 2,048 characters.
    MediaUrlTooLong(Field),
    /// More than two `actions`.
    TooManyActions,
    /// An action without a non-empty `action` or `title`.
    InvalidAction,
}

/// The field a contract mismatch was found in, so a caller can fix their request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Root,
    Id,
    TargetHostName,
    AppNotificationId,
    GroupName,
    TargetPolicy,
    PlatformTypes,
    Payload,
    VisualContent,
    Title,
    VisualBody,
    Url,
    Icon,
    Image,
    Badge,
    Actions,
    ActionName,
    ActionTitle,
    ActionUrl,
    RawContent,
    Priority,
    DisplayTimeToLive,
    ExpirationDateTime,
}

impl Field {
    /// The field's path in the resource, as Graph names it.
    pub fn path(self) -> &'static str {
        match self {
            Field::Root => "(body)",
            Field::Id => "id",
            Field::TargetHostName => "targetHostName",
            Field::AppNotificationId => "appNotificationId",
            Field::GroupName => "groupName",
            Field::TargetPolicy => "targetPolicy",
            Field::PlatformTypes => "targetPolicy.platformTypes",
            Field::Payload => "payload",
            Field::VisualContent => "payload.visualContent",
            Field::Title => "payload.visualContent.title",
            Field::VisualBody => "payload.visualContent.body",
            Field::Url => "payload.visualContent.url",
            Field::Icon => "payload.visualContent.icon",
            Field::Image => "payload.visualContent.image",
            Field::Badge => "payload.visualContent.badge",
            Field::Actions => "payload.visualContent.actions",
            Field::ActionName => "payload.visualContent.actions[].action",
            Field::ActionTitle => "payload.visualContent.actions[].title",
            Field::ActionUrl => "payload.visualContent.actions[].url",
            Field::RawContent => "payload.rawContent",
            Field::Priority => "priority",
            Field::DisplayTimeToLive => "displayTimeToLive",
            Field::ExpirationDateTime => "expirationDateTime",
        }
    }
}

impl Field {
    /// What the contract accepts in the field, for a message that lets the caller fix it.
    pub fn expected(self) -> &'static str {
        match self {
            Field::Root => "must be a JSON object: one notification resource",
            Field::Id
            | Field::AppNotificationId
            | Field::GroupName
            | Field::Title
            | Field::VisualBody => "must be a string",
            Field::TargetHostName => {
                "must be a string: the app's host name, as its browsers subscribed with it"
            }
            Field::TargetPolicy => "must be an object, e.g. {\"platformTypes\": [\"webPush\"]}",
            Field::PlatformTypes => {
                "must be an array of \"windows\", \"ios\", \"android\" or \"webPush\" (any case)"
            }
            Field::Payload => "must be an object with visualContent, rawContent or both",
            Field::VisualContent => {
                "must be an object: {\"title\": string, \"body\": string, \"url\": string, \"icon\", \"image\", \"badge\", \"actions\"}, title required"
            }
            Field::Url | Field::ActionUrl => {
                "must be a string: a URL or path of the app's own origin"
            }
            Field::Icon | Field::Image | Field::Badge => {
                "must be a string: an https URL or a path of the app's origin (/...), at most 2,048 characters"
            }
            Field::Actions => {
                "must be an array of at most 2 {\"action\": string, \"title\": string, \"url\"?: string}"
            }
            Field::ActionName | Field::ActionTitle => "must be a non-empty string",
            Field::RawContent => "must be a string: the app's data as text (JSON, say)",
            Field::Priority => "must be \"None\", \"High\" or \"Low\" (any case)",
            Field::DisplayTimeToLive => {
                "must be whole seconds, zero or more: a number or a numeric string, e.g. 60 or \"60\""
            }
            Field::ExpirationDateTime => {
                "must be a string: an ISO 8601 date and time with a zone, e.g. \"2026-12-01T18:00:00Z\""
            }
        }
    }
}

impl InvalidNotification {
    pub fn code(self) -> &'static str {
        match self {
            InvalidNotification::EmptyBody => "empty-body",
            InvalidNotification::MalformedJson => "malformed-json",
            InvalidNotification::BodyIsArray => "body-is-array",
            InvalidNotification::ContractMismatch(_) => "contract-mismatch",
            InvalidNotification::InvalidDate => "invalid-date",
            InvalidNotification::NegativeTtl => "negative-ttl",
            InvalidNotification::InvalidPayload => "invalid-payload",
            InvalidNotification::MissingTitle => "missing-title",
            InvalidNotification::Expired => "expired",
            InvalidNotification::ExpiresTooLate => "expires-too-late",
            InvalidNotification::InvalidMediaUrl(_) => "invalid-media-url",
            InvalidNotification::MediaUrlTooLong(_) => "media-url-too-long",
            InvalidNotification::TooManyActions => "too-many-actions",
            InvalidNotification::InvalidAction => "invalid-action",
        }
    }

    /// A sentence for API callers (the service's error `message`); never shown by the worker.
    pub fn message(self) -> String {
        match self {
            InvalidNotification::EmptyBody => "The request has no body.".to_owned(),
            InvalidNotification::MalformedJson => "The body is not valid JSON.".to_owned(),
            InvalidNotification::BodyIsArray => {
                "The body is an array; post one notification at a time.".to_owned()
            }
            InvalidNotification::ContractMismatch(Field::Root) => {
                let mut text = "The body ".to_owned();
                text.push_str(Field::Root.expected());
                text.push('.');
                text
            }
            InvalidNotification::ContractMismatch(field) => {
                let mut text = field.path().to_owned();
                text.push(' ');
                text.push_str(field.expected());
                text.push('.');
                text
            }
            InvalidNotification::InvalidDate => {
                "expirationDateTime must be an ISO 8601 date and time with a zone.".to_owned()
            }
            InvalidNotification::NegativeTtl => {
                "displayTimeToLive must be zero or more seconds.".to_owned()
            }
            InvalidNotification::InvalidPayload => {
                "payload needs visualContent or rawContent.".to_owned()
            }
            InvalidNotification::MissingTitle => "visualContent needs a title.".to_owned(),
            InvalidNotification::Expired => "expirationDateTime has already passed.".to_owned(),
            InvalidNotification::ExpiresTooLate => {
                "expirationDateTime is more than 30 days ahead.".to_owned()
            }
            InvalidNotification::InvalidMediaUrl(field) => {
                let mut text = field.path().to_owned();
                text.push_str(" must be an https URL or a path of the app's origin.");
                text
            }
            InvalidNotification::MediaUrlTooLong(field) => {
                let mut text = field.path().to_owned();
                text.push_str(" is longer than 2048 characters.");
                text
            }
            InvalidNotification::TooManyActions => {
                "visualContent has more than 2 actions.".to_owned()
            }
            InvalidNotification::InvalidAction => {
                "Every action needs a non-empty action and title.".to_owned()
            }
        }
    }
}
