//! Times as users type them (`2025-01-01`, `2025-01-01T12:00:00Z`, unix milliseconds) and as
//! we print them (ISO 8601 UTC). All values are UNIX nanoseconds in a `u64`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};

/// One second in nanoseconds.
pub const NANOS_PER_SECOND: u64 = 1_000_000_000;
/// One UTC day in nanoseconds.
pub const NANOS_PER_DAY: u64 = 86_400 * NANOS_PER_SECOND;

/// Which end of a range a typed time bounds; a bare date means the start of that day for
/// [`Bound::Start`] and its last nanosecond for [`Bound::End`], so `--from D --to D` is day D.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// `--from`: a date is 00:00:00 of that day.
    Start,
    /// `--to`: a date is 23:59:59.999999999 of that day (inclusive).
    End,
}

/// Why a typed time could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid time '{input}': {reason}; use a date (2025-01-01), an ISO time (2025-01-01T12:00:00Z) or unix milliseconds (1735689600000)"
)]
pub struct TimeError {
    input: String,
    reason: &'static str,
}

/// Reads a time typed by a user into UNIX nanoseconds.
pub fn parse_time(input: &str, bound: Bound) -> Result<u64, TimeError> {
    let s = input.trim();
    let err = |reason| TimeError {
        input: input.to_string(),
        reason,
    };
    if s.is_empty() {
        return Err(err("it is empty"));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        if s.len() <= 10 {
            return Err(err(
                "a number this small looks like unix seconds, but milliseconds are expected",
            ));
        }
        let ms: u64 = s.parse().map_err(|_| err("the number is too large"))?;
        return ms
            .checked_mul(1_000_000)
            .ok_or_else(|| err("the number is too large"));
    }
    let datetime: DateTime<Utc> = if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let start = date
            .and_hms_opt(0, 0, 0)
            .ok_or_else(|| err("not a valid date"))?
            .and_utc();
        match bound {
            Bound::Start => start,
            Bound::End => {
                let ns = to_ns(start).ok_or_else(|| err("it is before 1970 or after 2554"))?;
                return Ok(ns.saturating_add(NANOS_PER_DAY - 1));
            }
        }
    } else if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        dt.with_timezone(&Utc)
    } else if let Some(naive) = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    {
        // No offset given: the time is UTC, like everything else we print.
        Utc.from_utc_datetime(&naive)
    } else {
        return Err(err("not a recognised time format"));
    };
    to_ns(datetime).ok_or_else(|| err("it is before 1970 or after 2554"))
}

fn to_ns(dt: DateTime<Utc>) -> Option<u64> {
    dt.timestamp_nanos_opt()
        .and_then(|ns| u64::try_from(ns).ok())
}

/// Formats UNIX nanoseconds as ISO 8601 UTC, with as many fraction digits as needed
/// (`2025-01-01T00:00:00Z`, `2025-01-01T00:00:00.250Z`).
pub fn format_iso(ns: u64) -> String {
    let secs = (ns / NANOS_PER_SECOND) as i64;
    let nanos = (ns % NANOS_PER_SECOND) as u32;
    match DateTime::<Utc>::from_timestamp(secs, nanos) {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => ns.to_string(),
    }
}

/// The start of the UTC day that contains `ns`.
pub fn utc_day_start(ns: u64) -> u64 {
    ns - ns % NANOS_PER_DAY
}

/// Now, in UNIX nanoseconds.
pub fn now_ns() -> u64 {
    to_ns(Utc::now()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAN1: u64 = 1_735_689_600 * NANOS_PER_SECOND;

    #[test]
    fn reads_every_documented_form() {
        assert_eq!(parse_time("2025-01-01", Bound::Start), Ok(JAN1));
        assert_eq!(
            parse_time("2025-01-01", Bound::End),
            Ok(JAN1 + NANOS_PER_DAY - 1)
        );
        assert_eq!(
            parse_time("2025-01-01T12:00:00Z", Bound::End),
            Ok(JAN1 + 12 * 3600 * NANOS_PER_SECOND)
        );
        assert_eq!(
            parse_time("2025-01-01T14:00:00+02:00", Bound::Start),
            Ok(JAN1 + 12 * 3600 * NANOS_PER_SECOND)
        );
        assert_eq!(
            parse_time("2025-01-01T12:00:00", Bound::Start),
            Ok(JAN1 + 12 * 3600 * NANOS_PER_SECOND)
        );
        assert_eq!(parse_time("1735689600000", Bound::Start), Ok(JAN1));
        assert_eq!(
            parse_time("2025-01-01T00:00:00.5Z", Bound::Start),
            Ok(JAN1 + NANOS_PER_SECOND / 2)
        );
    }

    #[test]
    fn rejects_bad_times_with_one_line_that_says_what_is_valid() {
        for (bad, why) in [
            ("2025-13-01", "not a recognised"),
            ("yesterday", "not a recognised"),
            ("1735689600", "unix seconds"),
            ("", "empty"),
            ("1969-12-31T00:00:00Z", "before 1970"),
            ("99999999999999999999999", "too large"),
        ] {
            let e = parse_time(bad, Bound::Start).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
            assert!(e.contains("2025-01-01T12:00:00Z"), "{e}");
        }
    }

    #[test]
    fn formats_iso_utc() {
        assert_eq!(format_iso(JAN1), "2025-01-01T00:00:00Z");
        assert_eq!(format_iso(JAN1 + 250_000_000), "2025-01-01T00:00:00.250Z");
        assert_eq!(format_iso(JAN1 + 1), "2025-01-01T00:00:00.000000001Z");
        assert_eq!(utc_day_start(JAN1 + 5), JAN1);
    }
}
