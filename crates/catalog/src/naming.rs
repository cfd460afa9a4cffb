//! NautilusTrader's v1 catalog layout: `data/<class_dir>/<instrument_id>/<start>_<end>.parquet`.
//!
//! `start` and `end` are the first and last `ts_init` of the file, written as
//! `YYYY-MM-DDTHH-MM-SS-nnnnnnnnnZ` (ISO 8601 with `-` for `:` and `.`, always nine nanosecond
//! digits). The interval is closed; files of one directory never overlap, not even on an
//! endpoint.

use ccxt_model::RecordKind;
use chrono::{DateTime, NaiveDateTime, Utc};

/// The top directory under the catalog root that holds all data.
pub const DATA_DIR: &str = "data";

/// The directory under the catalog root where writing commands move files they cannot use as
/// data (unreadable, or another schema), keeping their path under `data/` plus a `.<UTC time>`
/// suffix. It lies outside `data/`, so NautilusTrader (which reads `data/<class>/**/*.parquet`)
/// and this crate never read it; nothing in it is ever deleted.
pub const QUARANTINE_DIR: &str = ".quarantine";

/// The NautilusTrader class directory of each record kind.
pub fn class_dir(kind: RecordKind) -> &'static str {
    match kind {
        // NautilusTrader's built-in FundingRateUpdate (>= 1.223 reads it natively).
        RecordKind::FundingRate => "funding_rate_update",
        // Our @customdataclass classes OpenInterest and Liquidation (python/ccxt_pipeline_nautilus.py).
        RecordKind::OpenInterest => "custom_open_interest",
        RecordKind::Liquidation => "custom_liquidation",
        // NautilusTrader's built-in Bar; identifier directory = the bar type string.
        RecordKind::Bar => "bar",
        // NautilusTrader's built-in MarkPriceUpdate and IndexPriceUpdate.
        RecordKind::MarkPrice => "mark_price_update",
        RecordKind::IndexPrice => "index_price_update",
        // Our @customdataclass StreamGap; identifier directory = the venue (BINANCE, ...).
        RecordKind::Gap => "custom_stream_gap",
    }
}

/// The file name of a file whose first and last `ts_init` are `start` and `end`.
pub fn file_name(start: u64, end: u64) -> String {
    format!("{}_{}.parquet", iso_for_file(start), iso_for_file(end))
}

fn iso_for_file(ns: u64) -> String {
    let secs = (ns / 1_000_000_000) as i64;
    let nanos = (ns % 1_000_000_000) as u32;
    match DateTime::<Utc>::from_timestamp(secs, 0) {
        Some(dt) => format!("{}-{nanos:09}Z", dt.format("%Y-%m-%dT%H-%M-%S")),
        // Unreachable for u64 nanoseconds (year 2554 at most); kept total for safety.
        None => format!("{ns}"),
    }
}

/// Reads the closed `ts_init` interval from a file name; `None` if it is not in our form.
pub fn parse_file_name(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(".parquet")?;
    let (a, b) = stem.split_once('_')?;
    let (start, end) = (parse_iso_for_file(a)?, parse_iso_for_file(b)?);
    (start <= end).then_some((start, end))
}

fn parse_iso_for_file(s: &str) -> Option<u64> {
    // 2023-11-14T22-13-20-000000000Z
    if s.len() != 30 || !s.ends_with('Z') || s.as_bytes()[19] != b'-' {
        return None;
    }
    let dt = NaiveDateTime::parse_from_str(&s[..19], "%Y-%m-%dT%H-%M-%S").ok()?;
    let nanos: u64 = s[20..29].parse().ok()?;
    let secs = u64::try_from(dt.and_utc().timestamp()).ok()?;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_nautilus_examples() {
        // The example in NautilusTrader's parquet.py / the catalog reference.
        assert_eq!(
            file_name(1_700_000_000_000_000_000, 1_700_000_120_000_000_000),
            "2023-11-14T22-13-20-000000000Z_2023-11-14T22-15-20-000000000Z.parquet"
        );
        assert_eq!(
            parse_file_name(
                "2023-11-14T22-13-20-000000000Z_2023-11-14T22-15-20-000000000Z.parquet"
            ),
            Some((1_700_000_000_000_000_000, 1_700_000_120_000_000_000))
        );
    }

    #[test]
    fn names_round_trip_at_the_extremes() {
        for (a, b) in [
            (0, 0),
            (1, u64::MAX),
            (999_999_999, 1_000_000_000),
            (u64::MAX, u64::MAX),
        ] {
            assert_eq!(parse_file_name(&file_name(a, b)), Some((a, b)), "{a} {b}");
        }
    }

    #[test]
    fn foreign_names_are_not_ours() {
        for n in [
            "part-0.parquet",
            "part_0.parquet",
            "1700000000000000000_1700000000000000004.parquet",
            "2023-11-14T22-15-20-000000000Z_2023-11-14T22-13-20-000000000Z.parquet",
            "2023-11-14T22-13-20-000000000Z_2023-11-14T22-15-20-000000000Z.parquet.tmp",
        ] {
            assert_eq!(parse_file_name(n), None, "{n}");
        }
    }
}
