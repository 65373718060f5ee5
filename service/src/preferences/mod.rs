//! The user's own preferences at the service (CONTRACT §5, `/me/notificationPreferences`):
//! the core's [`Preferences`] (muted groups, quiet hours), stored per user, with the local
//! time of day read from a real time zone database.
//!
//! The time zones are jiff's, with the IANA database bundled into the binary
//! (`tzdb-bundle-always`), so that the service answers the same on a host or in a container
//! without `/usr/share/zoneinfo`. What it costs is in `docs/cross-device.md`.

pub mod handlers;
mod postgres;
mod sqlite;

use jiff::tz::TimeZone;
use jiff::Timestamp;
use usernotify::core::preferences::{Preferences, Withheld};
use usernotify::core::{Json, Millis, Priority};

use crate::store::{Db, StoreError};

/// True for a time zone the bundled database knows (`Europe/Lisbon`, `UTC`, ...).
pub fn is_known_time_zone(name: &str) -> bool {
    TimeZone::get(name).is_ok()
}

/// Minutes after local midnight in `zone` at `now`; `None` for a zone the database does not
/// know (quiet hours then withhold nothing, as the core says).
pub fn minutes_after_midnight_in(zone: &str, now: Millis) -> Option<u16> {
    let zone = TimeZone::get(zone).ok()?;
    let local = Timestamp::from_millisecond(now)
        .ok()?
        .to_zoned_datetime(zone);
    let hour = u16::try_from(local.hour()).ok()?;
    let minute = u16::try_from(local.minute()).ok()?;
    Some(hour * 60 + minute)
}

/// The user's preferences as stored, and their version (`None` before the first `PATCH`,
/// when they are the defaults: nothing muted, no quiet hours). A stored body that no longer
/// reads is the defaults.
pub async fn load(db: &Db, user: &str) -> Result<(Preferences, Option<i64>), StoreError> {
    Ok(match db.preferences(user.to_owned()).await? {
        None => (Preferences::default(), None),
        Some((body, version)) => {
            let preferences = serde_json::from_str::<Json>(&body)
                .ok()
                .and_then(|json| Preferences::read(&&json).ok())
                .unwrap_or_default();
            (preferences, Some(version))
        }
    })
}

/// Whether the user's preferences withhold a notification of `group` and `priority` at
/// `now`: the core decides, with the local minute in the quiet hours' time zone.
pub async fn withheld(
    db: &Db,
    user: &str,
    group: Option<&str>,
    priority: Priority,
    now: Millis,
) -> Result<Option<Withheld>, StoreError> {
    let (preferences, _) = load(db, user).await?;
    let minute = preferences
        .quiet_hours
        .as_ref()
        .and_then(|hours| minutes_after_midnight_in(&hours.time_zone, now));
    Ok(preferences.withholds(group, priority, minute))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-07-01T21:30:00Z.
    const SUMMER_EVENING: Millis = 1_782_941_400_000;
    /// 2026-01-15T21:30:00Z.
    const WINTER_EVENING: Millis = 1_768_512_600_000;

    #[test]
    fn the_local_minute_follows_the_zone_and_its_daylight_saving_time() {
        assert_eq!(
            minutes_after_midnight_in("UTC", SUMMER_EVENING),
            Some(21 * 60 + 30)
        );
        assert_eq!(
            minutes_after_midnight_in("Europe/Lisbon", SUMMER_EVENING),
            Some(22 * 60 + 30),
            "WEST, UTC+1"
        );
        assert_eq!(
            minutes_after_midnight_in("Europe/Lisbon", WINTER_EVENING),
            Some(21 * 60 + 30),
            "WET, UTC+0"
        );
        assert_eq!(
            minutes_after_midnight_in("Asia/Kolkata", WINTER_EVENING),
            Some(3 * 60),
            "UTC+5:30, past midnight"
        );
        assert_eq!(
            minutes_after_midnight_in("Mars/Olympus_Mons", SUMMER_EVENING),
            None
        );
    }

    #[test]
    fn only_zones_of_the_database_are_known() {
        for zone in ["Europe/Lisbon", "America/New_York", "UTC", "Etc/GMT+3"] {
            assert!(is_known_time_zone(zone), "{zone}");
        }
        for zone in ["Europe/Atlantis", "Mars/Olympus_Mons", "GMT+25"] {
            assert!(!is_known_time_zone(zone), "{zone}");
        }
    }
}
