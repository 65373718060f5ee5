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
            Field::RawContent => "payload.rawContent",
            Field::Priority => "priority",
            Field::DisplayTimeToLive => "displayTimeToLive",
            Field::ExpirationDateTime => "expirationDateTime",
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
                "The body must be a JSON object.".to_owned()
            }
            InvalidNotification::ContractMismatch(field) => {
                let mut text = "The field ".to_owned();
                text.push_str(field.path());
                text.push_str(" does not match the notification contract.");
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
        }
    }
}
