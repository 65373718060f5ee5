//! The user's own preferences: groups they muted, and quiet hours in their time zone.
//!
//! Stored at the app service (`/me/notificationPreferences`) and cached in each browser, so
//! that the service withholds what the user does not want pushed, and a worker that gets
//! such a push anyway (another sender, a stale preference) shows the quiet status instead.
//! Pure: the local time of day is a parameter (the service and the browser each know how to
//! read a time zone; the core does not carry a time zone database).

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use super::json::{JsonRead, Kind, ObjectWriter};
use super::notification::Priority;
pub use super::time::{parse_time_of_day, time_of_day};

/// At most this many muted groups: a preference, not a database.
pub const MAX_MUTED_GROUPS: usize = 200;
/// Group names and time zone names longer than this are refused.
const MAX_NAME: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Preferences {
    /// Group names whose notifications are not pushed (they still reach the feed).
    pub muted_groups: Vec<String>,
    pub quiet_hours: Option<QuietHours>,
}

/// A daily window, in the user's time zone, when nothing is pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuietHours {
    /// Minutes after local midnight, 0 to 1439.
    pub start: u16,
    pub end: u16,
    /// An IANA time zone name (`Europe/Lisbon`), as the user's device reports it.
    pub time_zone: String,
    /// High priority breaks through quiet hours when the user allowed it.
    pub allow_high: bool,
}

/// Why a notification is not pushed to the user now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withheld {
    /// Its group is muted.
    Muted,
    /// It is quiet hours in the user's time zone.
    QuietHours,
}

impl Withheld {
    /// The reason a delivery is `skipped`, and the worker's outcome.
    pub fn reason(self) -> &'static str {
        match self {
            Withheld::Muted => "muted",
            Withheld::QuietHours => "quiet-hours",
        }
    }
}

/// Why a preferences body was refused; `code()` is stable, `message()` is for callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidPreferences {
    /// Not an object, or a member of the wrong type; the member's path.
    ContractMismatch(&'static str),
    /// A time that is not `HH:MM` from `00:00` to `23:59`; the member's path.
    InvalidTime(&'static str),
    /// A time zone name that cannot be one (empty, too long, or with characters IANA names
    /// never have). The service also checks it against its time zone database.
    InvalidTimeZone,
    /// More than [`MAX_MUTED_GROUPS`] muted groups.
    TooManyMutedGroups,
}

impl InvalidPreferences {
    pub fn code(self) -> &'static str {
        match self {
            InvalidPreferences::ContractMismatch(_) => "contract-mismatch",
            InvalidPreferences::InvalidTime(_) => "invalid-time",
            InvalidPreferences::InvalidTimeZone => "invalid-time-zone",
            InvalidPreferences::TooManyMutedGroups => "too-many-muted-groups",
        }
    }

    pub fn message(self) -> String {
        let mut text = String::new();
        match self {
            InvalidPreferences::ContractMismatch(path) => {
                text.push_str(path);
                text.push_str(match path {
                    "mutedGroups" => " must be an array of group names (non-empty strings).",
                    "quietHours" => {
                        " must be an object {start, end, timeZone, allowHigh?} or null."
                    }
                    "quietHours.allowHigh" => " must be true or false.",
                    _ => " does not match the preferences contract.",
                });
            }
            InvalidPreferences::InvalidTime(path) => {
                text.push_str(path);
                text.push_str(" must be a time of day as HH:MM, from 00:00 to 23:59.");
            }
            InvalidPreferences::InvalidTimeZone => text.push_str(
                "quietHours.timeZone must be an IANA time zone name, e.g. Europe/Lisbon.",
            ),
            InvalidPreferences::TooManyMutedGroups => {
                text.push_str("mutedGroups holds at most 200 names.")
            }
        }
        text
    }
}

impl Preferences {
    /// Reads a whole preferences object (the service's answer, the browser's cache); a
    /// missing member is its default.
    pub fn read<'a, V: JsonRead<'a>>(value: &V) -> Result<Preferences, InvalidPreferences> {
        Preferences::default().patched(value)
    }

    /// These preferences with `patch` applied, as `PATCH /me/notificationPreferences` takes
    /// it: a member present replaces it (`quietHours: null` clears it), one absent stays.
    pub fn patched<'a, V: JsonRead<'a>>(
        &self,
        patch: &V,
    ) -> Result<Preferences, InvalidPreferences> {
        if patch.kind() != Kind::Object {
            return Err(InvalidPreferences::ContractMismatch("(body)"));
        }
        let muted_groups = match patch.field("mutedGroups") {
            None => self.muted_groups.clone(),
            Some(None) => Vec::new(),
            Some(Some(list)) => muted_groups(&list)?,
        };
        let quiet_hours = match patch.field("quietHours") {
            None => self.quiet_hours.clone(),
            Some(None) => None,
            Some(Some(hours)) => Some(quiet_hours(&hours)?),
        };
        Ok(Preferences {
            muted_groups,
            quiet_hours,
        })
    }

    /// As the service answers and the browser caches it.
    pub fn to_json(&self) -> String {
        let quiet_hours = match &self.quiet_hours {
            None => String::from("null"),
            Some(hours) => ObjectWriter::default()
                .str("start", &time_of_day(hours.start))
                .str("end", &time_of_day(hours.end))
                .str("timeZone", &hours.time_zone)
                .bool("allowHigh", hours.allow_high)
                .end(),
        };
        ObjectWriter::default()
            .strs("mutedGroups", &self.muted_groups)
            .raw("quietHours", &quiet_hours)
            .end()
    }

    /// Whether a notification of `group` and `priority` is withheld now, `local_minute`
    /// being the minutes after midnight in the quiet hours' time zone (`None` when it could
    /// not be told: quiet hours then withhold nothing). A muted group is withheld at any
    /// hour.
    pub fn withholds(
        &self,
        group: Option<&str>,
        priority: Priority,
        local_minute: Option<u16>,
    ) -> Option<Withheld> {
        let muted = group.is_some_and(|group| self.muted_groups.iter().any(|muted| muted == group));
        withhold(muted, self.quiet_hours.as_ref(), priority, local_minute)
    }
}

/// [`Preferences::withholds`] for preferences as this browser keeps them (the JSON
/// [`Preferences::to_json`] wrote), reading only what the decision needs: the worker's
/// question, without the validation a `PATCH` gets. `local_minute` tells the minute after
/// midnight in the quiet hours' time zone; anything unreadable withholds nothing.
pub fn withheld_by<'a, V: JsonRead<'a>>(
    kept: &V,
    group: Option<&str>,
    priority: Priority,
    local_minute: impl FnOnce(&str) -> Option<u16>,
) -> Option<Withheld> {
    let muted = group.is_some_and(|group| {
        let muted = kept.member("mutedGroups").map(|list| list.items());
        muted
            .unwrap_or_default()
            .iter()
            .any(|name| name.text().as_deref() == Some(group))
    });
    let hours = kept.member("quietHours");
    let time = |name: &str| {
        let text = hours.as_ref()?.member(name)?.text()?;
        parse_time_of_day(&text)
    };
    let window = match (time("start"), time("end")) {
        (Some(start), Some(end)) => Some(QuietHours {
            start,
            end,
            time_zone: String::new(),
            allow_high: hours
                .as_ref()
                .and_then(|hours| hours.member("allowHigh")?.flag())
                == Some(true),
        }),
        _ => None,
    };
    let zone = hours
        .as_ref()
        .and_then(|hours| hours.member("timeZone")?.text());
    let minute = match (&window, zone) {
        (Some(_), Some(zone)) => local_minute(&zone),
        _ => None,
    };
    withhold(muted, window.as_ref(), priority, minute)
}

/// The decision: a muted group at any hour; else quiet hours, which High breaks through only
/// when the user allowed it, and which withhold nothing when the local time is unknown.
fn withhold(
    muted: bool,
    hours: Option<&QuietHours>,
    priority: Priority,
    local_minute: Option<u16>,
) -> Option<Withheld> {
    if muted {
        return Some(Withheld::Muted);
    }
    let hours = hours?;
    let breaks_through = priority == Priority::High && hours.allow_high;
    (hours.contains(local_minute?) && !breaks_through).then_some(Withheld::QuietHours)
}

impl QuietHours {
    /// Whether `minute` (after local midnight) falls in the window, `start` included and
    /// `end` not. A window whose start is after its end runs over midnight (22:00 to
    /// 07:00); one whose start equals its end is empty.
    pub fn contains(&self, minute: u16) -> bool {
        if self.start <= self.end {
            self.start <= minute && minute < self.end
        } else {
            minute >= self.start || minute < self.end
        }
    }
}

fn muted_groups<'a, V: JsonRead<'a>>(list: &V) -> Result<Vec<String>, InvalidPreferences> {
    let mismatch = InvalidPreferences::ContractMismatch("mutedGroups");
    if list.kind() != Kind::Array {
        return Err(mismatch);
    }
    let items = list.items();
    if items.len() > MAX_MUTED_GROUPS {
        return Err(InvalidPreferences::TooManyMutedGroups);
    }
    let mut groups: Vec<String> = Vec::new();
    for item in items {
        let name = item
            .text()
            .filter(|name| !name.is_empty() && name.len() <= MAX_NAME);
        let name = name.ok_or(mismatch)?.into_owned();
        if !groups.contains(&name) {
            groups.push(name);
        }
    }
    Ok(groups)
}

fn quiet_hours<'a, V: JsonRead<'a>>(hours: &V) -> Result<QuietHours, InvalidPreferences> {
    if hours.kind() != Kind::Object {
        return Err(InvalidPreferences::ContractMismatch("quietHours"));
    }
    let time = |name: &str, path: &'static str| {
        let text = hours.member(name).and_then(|value| value.text());
        text.as_deref()
            .and_then(parse_time_of_day)
            .ok_or(InvalidPreferences::InvalidTime(path))
    };
    let start = time("start", "quietHours.start")?;
    let end = time("end", "quietHours.end")?;
    let time_zone = hours
        .member("timeZone")
        .and_then(|zone| zone.text())
        .filter(|zone| is_time_zone_name(zone))
        .ok_or(InvalidPreferences::InvalidTimeZone)?;
    let allow_high = match hours.member("allowHigh") {
        None => false,
        Some(flag) => flag
            .flag()
            .ok_or(InvalidPreferences::ContractMismatch("quietHours.allowHigh"))?,
    };
    Ok(QuietHours {
        start,
        end,
        time_zone: Cow::into_owned(time_zone),
        allow_high,
    })
}

/// What an IANA time zone name can look like: `Area/Location`, `UTC`, `Etc/GMT+3`.
fn is_time_zone_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"/_+-".contains(&byte))
}
