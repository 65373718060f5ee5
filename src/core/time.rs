//! ISO 8601 instants as milliseconds since the Unix epoch.
//!
//! Hand-written so the worker carries no date library: Graph sends
//! `2019-10-30T23:59:00.000Z`-style UTC stamps, sometimes with fewer fraction digits.

use alloc::string::String;

use super::json::push_int;

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = i64;

pub const SECOND: Millis = 1_000;
pub const DAY: Millis = 86_400 * SECOND;

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`. A missing zone is refused: a local
/// time would mean a different instant on every device.
pub fn parse_iso8601(text: &str) -> Option<Millis> {
    let bytes = text.as_bytes();
    let mut cursor = Cursor { bytes, at: 0 };
    let year = cursor.digits(4)?;
    cursor.consume(b'-')?;
    let month = cursor.digits(2)?;
    cursor.consume(b'-')?;
    let day = cursor.digits(2)?;
    cursor.consume_any(b"Tt ")?;
    let hour = cursor.digits(2)?;
    cursor.consume(b':')?;
    let minute = cursor.digits(2)?;
    cursor.consume(b':')?;
    let second = cursor.digits(2)?;
    let mut millis = 0;
    if cursor.peek() == Some(b'.') {
        cursor.at += 1;
        let mut scale = 100;
        let mut count = 0;
        while let Some(digit) = cursor.peek().filter(u8::is_ascii_digit) {
            millis += i64::from(digit - b'0') * scale;
            scale /= 10;
            count += 1;
            cursor.at += 1;
        }
        if count == 0 {
            return None;
        }
    }
    let offset_minutes = match cursor.next()? {
        b'Z' | b'z' => 0,
        sign @ (b'+' | b'-') => {
            let hours = cursor.digits(2)?;
            cursor.consume(b':')?;
            let minutes = cursor.digits(2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = hours * 60 + minutes;
            if sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return None,
    };
    if cursor.at != bytes.len() {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * SECOND + millis)
}

/// Formats as `YYYY-MM-DDTHH:MM:SS.mmmZ`, the form Graph answers with.
pub fn format_iso8601(instant: Millis) -> String {
    let days = instant.div_euclid(DAY);
    let in_day = instant.rem_euclid(DAY);
    let (year, month, day) = civil_from_days(days);
    let mut out = String::with_capacity(24);
    pad(&mut out, year, 4);
    out.push('-');
    pad(&mut out, month, 2);
    out.push('-');
    pad(&mut out, day, 2);
    out.push('T');
    pad(&mut out, in_day / 3_600_000, 2);
    out.push(':');
    pad(&mut out, in_day / 60_000 % 60, 2);
    out.push(':');
    pad(&mut out, in_day / 1_000 % 60, 2);
    out.push('.');
    pad(&mut out, in_day % 1_000, 3);
    out.push('Z');
    out
}

/// `HH:MM`, 00:00 to 23:59, as minutes after midnight (quiet hours).
pub fn parse_time_of_day(text: &str) -> Option<u16> {
    let mut cursor = Cursor {
        bytes: text.as_bytes(),
        at: 0,
    };
    let hours = cursor.digits(2)?;
    cursor.consume(b':')?;
    let minutes = cursor.digits(2)?;
    let whole = cursor.peek().is_none() && hours < 24 && minutes < 60;
    whole.then(|| u16::try_from(hours * 60 + minutes).ok())?
}

/// Minutes after midnight as `HH:MM`.
pub fn time_of_day(minute: u16) -> String {
    let mut out = String::new();
    pad(&mut out, i64::from(minute / 60 % 24), 2);
    out.push(':');
    pad(&mut out, i64::from(minute % 60), 2);
    out
}

fn pad(out: &mut String, value: i64, width: usize) {
    let mut digits = String::new();
    push_int(&mut digits, value);
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(&digits);
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn consume(&mut self, wanted: u8) -> Option<()> {
        (self.next()? == wanted).then_some(())
    }

    fn consume_any(&mut self, wanted: &[u8]) -> Option<()> {
        wanted.contains(&self.next()?).then_some(())
    }

    fn digits(&mut self, count: usize) -> Option<i64> {
        let mut value = 0;
        for _ in 0..count {
            let digit = self.next().filter(u8::is_ascii_digit)?;
            value = value * 10 + i64::from(digit - b'0');
        }
        Some(value)
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_expiry_parses_to_its_instant() {
        assert_eq!(
            parse_iso8601("2019-10-30T23:59:00.000Z"),
            Some(1_572_479_940_000)
        );
    }

    #[test]
    fn fraction_digits_beyond_milliseconds_are_truncated_and_short_ones_scaled() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:00.25Z"), Some(250));
        assert_eq!(parse_iso8601("1970-01-01T00:00:00.1239Z"), Some(123));
    }

    #[test]
    fn an_offset_is_converted_to_utc() {
        assert_eq!(parse_iso8601("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_iso8601("1969-12-31T23:00:00-01:00"), Some(0));
    }

    #[test]
    fn malformed_or_impossible_stamps_are_refused() {
        for text in [
            "",
            "2019-10-30",
            "2019-10-30T23:59:00",
            "2019-10-30T23:59:00.Z",
            "2019-13-01T00:00:00Z",
            "2019-02-29T00:00:00Z",
            "2019-10-30T24:00:00Z",
            "2019-10-30T23:60:00Z",
            "2019-10-30T23:59:60Z",
            "2019-10-30T23:59:00Zjunk",
            "2019-10-30T23:59:00+25:00",
            "١٩٧٠-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_iso8601(text), None, "{text}");
        }
    }

    #[test]
    fn a_leap_day_is_accepted() {
        assert!(parse_iso8601("2024-02-29T12:00:00Z").is_some());
    }

    #[test]
    fn formatting_and_parsing_round_trip() {
        for instant in [
            0,
            1_572_479_940_000,
            1_572_300_336_250,
            -1,
            4_102_444_800_000,
        ] {
            assert_eq!(parse_iso8601(&format_iso8601(instant)), Some(instant));
        }
        assert_eq!(
            format_iso8601(1_572_300_336_250),
            "2019-10-28T22:05:36.250Z"
        );
    }
}
