//! Price data: OHLCV bars, mark prices and index prices, in NautilusTrader's own terms.
//!
//! * A [`Bar`] is one closed venue candle of one [`BarType`]: instrument, [`BarInterval`] and
//!   [`BarPrice`] (trade `LAST` or `MARK`). NautilusTrader names the catalog directory after the
//!   bar type string, `BTCUSDT-PERP.BINANCE-1-MINUTE-LAST-EXTERNAL`.
//! * Bars are stamped at their close: `ts_event = ts_init = open + interval` (a calendar month
//!   for `1M`). NautilusTrader's backtests expect bars stamped at close; its own venue adapters
//!   disagree (Binance close − 1 ms, Bybit close, Hyperliquid open), so every venue is brought
//!   to the one rule here.
//! * Prices and sizes carry the instrument's [`Precision`] (from the venue's tick and lot
//!   sizes): a NautilusTrader backtest refuses bars whose precision differs from the
//!   instrument's.
//! * [`MarkPrice`] and [`IndexPrice`] are NautilusTrader's `MarkPriceUpdate` and
//!   `IndexPriceUpdate`: the venue's mark and index (oracle) price at one time, kept exactly
//!   as the venue's decimal string. The catalog stores them with [`MARK_INDEX_PRECISION`]
//!   decimals (more only if a value needs them), one precision for every file of an
//!   instrument: Binance sends 8 decimals, Bybit and Hyperliquid fewer.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, TimeZone, Utc};
use rust_decimal::Decimal;

use crate::InstrumentId;
use crate::time::NANOS_PER_DAY;

const NANOS_PER_MINUTE: u64 = 60_000_000_000;

/// The decimals mark and index prices are stored with (NautilusTrader `price_precision`).
pub const MARK_INDEX_PRECISION: u8 = 8;

/// The candle intervals the project collects: every interval a venue offers that
/// NautilusTrader accepts as a bar specification (`3d` is left out: NautilusTrader 1.221
/// refuses `3-DAY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BarInterval {
    /// 1 minute.
    M1,
    /// 3 minutes.
    M3,
    /// 5 minutes.
    M5,
    /// 15 minutes.
    M15,
    /// 30 minutes.
    M30,
    /// 1 hour.
    H1,
    /// 2 hours.
    H2,
    /// 4 hours.
    H4,
    /// 6 hours (not on Hyperliquid).
    H6,
    /// 8 hours (not on Bybit).
    H8,
    /// 12 hours.
    H12,
    /// 1 day (UTC).
    D1,
    /// 1 week, Monday 00:00 UTC to the next Monday.
    W1,
    /// 1 calendar month (UTC).
    Month1,
}

/// A bar interval, price type or bar type that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BarError {
    /// Not one of [`BarInterval::ALL`].
    #[error(
        "unknown bar interval '{0}': valid intervals are 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 1w 1M"
    )]
    UnknownInterval(String),
    /// Not `last` or `mark`.
    #[error("unknown bar price '{0}': valid prices are last, mark")]
    UnknownPrice(String),
    /// Not a bar type string of ours.
    #[error(
        "'{0}' is not a bar type: expected INSTRUMENT_ID-STEP-AGGREGATION-PRICE-EXTERNAL, e.g. BTCUSDT-PERP.BINANCE-1-MINUTE-LAST-EXTERNAL"
    )]
    MalformedBarType(String),
}

impl BarInterval {
    /// Every interval, shortest first.
    pub const ALL: [BarInterval; 14] = [
        BarInterval::M1,
        BarInterval::M3,
        BarInterval::M5,
        BarInterval::M15,
        BarInterval::M30,
        BarInterval::H1,
        BarInterval::H2,
        BarInterval::H4,
        BarInterval::H6,
        BarInterval::H8,
        BarInterval::H12,
        BarInterval::D1,
        BarInterval::W1,
        BarInterval::Month1,
    ];

    /// The name users type and the output shows: `1m` … `12h`, `1d`, `1w`, `1M` (month; `1m` is
    /// a minute).
    pub fn as_str(self) -> &'static str {
        match self {
            BarInterval::M1 => "1m",
            BarInterval::M3 => "3m",
            BarInterval::M5 => "5m",
            BarInterval::M15 => "15m",
            BarInterval::M30 => "30m",
            BarInterval::H1 => "1h",
            BarInterval::H2 => "2h",
            BarInterval::H4 => "4h",
            BarInterval::H6 => "6h",
            BarInterval::H8 => "8h",
            BarInterval::H12 => "12h",
            BarInterval::D1 => "1d",
            BarInterval::W1 => "1w",
            BarInterval::Month1 => "1M",
        }
    }

    /// NautilusTrader's bar specification without the price type: `1-MINUTE`, `4-HOUR`,
    /// `1-DAY`, `1-WEEK`, `1-MONTH`.
    pub fn nautilus_spec(self) -> &'static str {
        match self {
            BarInterval::M1 => "1-MINUTE",
            BarInterval::M3 => "3-MINUTE",
            BarInterval::M5 => "5-MINUTE",
            BarInterval::M15 => "15-MINUTE",
            BarInterval::M30 => "30-MINUTE",
            BarInterval::H1 => "1-HOUR",
            BarInterval::H2 => "2-HOUR",
            BarInterval::H4 => "4-HOUR",
            BarInterval::H6 => "6-HOUR",
            BarInterval::H8 => "8-HOUR",
            BarInterval::H12 => "12-HOUR",
            BarInterval::D1 => "1-DAY",
            BarInterval::W1 => "1-WEEK",
            BarInterval::Month1 => "1-MONTH",
        }
    }

    /// The interval whose NautilusTrader specification is `spec` (`1-MINUTE`, any case).
    pub fn from_nautilus_spec(spec: &str) -> Option<BarInterval> {
        BarInterval::ALL
            .into_iter()
            .find(|i| i.nautilus_spec().eq_ignore_ascii_case(spec))
    }

    /// The fixed length in ns; `None` for a calendar month.
    pub fn fixed_ns(self) -> Option<u64> {
        let minutes = match self {
            BarInterval::M1 => 1,
            BarInterval::M3 => 3,
            BarInterval::M5 => 5,
            BarInterval::M15 => 15,
            BarInterval::M30 => 30,
            BarInterval::H1 => 60,
            BarInterval::H2 => 120,
            BarInterval::H4 => 240,
            BarInterval::H6 => 360,
            BarInterval::H8 => 480,
            BarInterval::H12 => 720,
            BarInterval::D1 => 1440,
            BarInterval::W1 => 7 * 1440,
            BarInterval::Month1 => return None,
        };
        Some(minutes * NANOS_PER_MINUTE)
    }

    /// The open of the bar that contains `ns` (UNIX ns, UTC grid: minutes and hours from
    /// midnight, weeks from Monday, months from the 1st).
    pub fn floor(self, ns: u64) -> u64 {
        match self {
            BarInterval::Month1 => month_start(ns),
            BarInterval::W1 => {
                // 1970-01-01 was a Thursday: Mondays are 4 days after the epoch's week grid.
                let offset = 4 * NANOS_PER_DAY;
                let week = 7 * NANOS_PER_DAY;
                if ns < offset {
                    return 0;
                }
                ns - (ns - offset) % week
            }
            fixed => {
                let len = fixed.fixed_ns().unwrap_or(NANOS_PER_MINUTE);
                ns - ns % len
            }
        }
    }

    /// Whether `open_ns` is the open of a bar of this interval.
    pub fn is_open(self, open_ns: u64) -> bool {
        self.floor(open_ns) == open_ns
    }

    /// The close of the bar that opens at `open_ns`: the next bar's open (calendar month for
    /// `1M`). This is the bar's `ts_event`.
    pub fn close_of(self, open_ns: u64) -> u64 {
        match self.fixed_ns() {
            Some(len) => open_ns.saturating_add(len),
            None => next_month_start(open_ns),
        }
    }

    /// The open of the bar that closes at `close_ns` (the inverse of [`close_of`](Self::close_of)).
    pub fn open_of(self, close_ns: u64) -> u64 {
        match self.fixed_ns() {
            Some(len) => close_ns.saturating_sub(len),
            None => month_start(close_ns.saturating_sub(1)),
        }
    }
}

fn month_start(ns: u64) -> u64 {
    let secs = (ns / 1_000_000_000) as i64;
    let Some(dt) = chrono::DateTime::from_timestamp(secs, 0) else {
        return ns;
    };
    Utc.with_ymd_and_hms(dt.year(), dt.month(), 1, 0, 0, 0)
        .single()
        .and_then(|d| u64::try_from(d.timestamp()).ok())
        .map_or(ns, |s| s * 1_000_000_000)
}

fn next_month_start(ns: u64) -> u64 {
    let start = month_start(ns);
    // 32 days after the 1st is always inside the next month.
    month_start(start + 32 * NANOS_PER_DAY)
}

impl fmt::Display for BarInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BarInterval {
    type Err = BarError;

    /// Reads `1m` … `1M` exactly as [`as_str`](Self::as_str) writes them (`1m` is a minute,
    /// `1M` a month), and NautilusTrader's `1-MINUTE` … `1-MONTH`.
    fn from_str(s: &str) -> Result<BarInterval, BarError> {
        let s = s.trim();
        BarInterval::ALL
            .into_iter()
            .find(|i| i.as_str() == s)
            .or_else(|| BarInterval::from_nautilus_spec(s))
            .ok_or_else(|| BarError::UnknownInterval(s.to_string()))
    }
}

/// Which price a bar aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BarPrice {
    /// Trade prices (NautilusTrader `LAST`), with volume.
    Last,
    /// The venue's mark price (NautilusTrader `MARK`); volume is zero. For analysis: a
    /// NautilusTrader backtest does not execute on `MARK` bars.
    Mark,
}

impl BarPrice {
    /// Both, in display order.
    pub const ALL: [BarPrice; 2] = [BarPrice::Last, BarPrice::Mark];

    /// `last` or `mark`, as users type it.
    pub fn as_str(self) -> &'static str {
        match self {
            BarPrice::Last => "last",
            BarPrice::Mark => "mark",
        }
    }

    /// NautilusTrader's `PriceType`: `LAST` or `MARK`.
    pub fn nautilus(self) -> &'static str {
        match self {
            BarPrice::Last => "LAST",
            BarPrice::Mark => "MARK",
        }
    }
}

impl fmt::Display for BarPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BarPrice {
    type Err = BarError;

    /// Reads `last`/`mark` in any case.
    fn from_str(s: &str) -> Result<BarPrice, BarError> {
        BarPrice::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| BarError::UnknownPrice(s.to_string()))
    }
}

/// What a series of bars is: instrument, interval and price. Its string is NautilusTrader's
/// `BarType`, `BTCUSDT-PERP.BINANCE-1-MINUTE-LAST-EXTERNAL`, which names the catalog directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BarType {
    /// The instrument.
    pub instrument_id: InstrumentId,
    /// The interval.
    pub interval: BarInterval,
    /// Trade or mark price.
    pub price: BarPrice,
}

impl BarType {
    /// The bar type of `instrument_id`'s `interval` bars of `price`.
    pub fn new(instrument_id: InstrumentId, interval: BarInterval, price: BarPrice) -> BarType {
        BarType {
            instrument_id,
            interval,
            price,
        }
    }
}

impl fmt::Display for BarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}-{}-EXTERNAL",
            self.instrument_id,
            self.interval.nautilus_spec(),
            self.price.nautilus()
        )
    }
}

impl FromStr for BarType {
    type Err = BarError;

    /// Reads a bar type string as NautilusTrader writes it (from the right, so the `-` inside
    /// instrument ids is fine). Only `EXTERNAL` bars of our intervals and prices are accepted.
    fn from_str(s: &str) -> Result<BarType, BarError> {
        let malformed = || BarError::MalformedBarType(s.to_string());
        let mut parts = s.rsplitn(5, '-');
        let source = parts.next().ok_or_else(malformed)?;
        let price = parts.next().ok_or_else(malformed)?;
        let aggregation = parts.next().ok_or_else(malformed)?;
        let step = parts.next().ok_or_else(malformed)?;
        let instrument = parts.next().ok_or_else(malformed)?;
        if !source.eq_ignore_ascii_case("EXTERNAL") || instrument.is_empty() {
            return Err(malformed());
        }
        let interval = BarInterval::from_nautilus_spec(&format!("{step}-{aggregation}"))
            .ok_or_else(malformed)?;
        let price = BarPrice::ALL
            .into_iter()
            .find(|p| p.nautilus().eq_ignore_ascii_case(price))
            .ok_or_else(malformed)?;
        Ok(BarType::new(
            InstrumentId::new_unchecked(instrument),
            interval,
            price,
        ))
    }
}

/// The decimals of an instrument's prices and sizes (NautilusTrader's `price_precision` and
/// `size_precision`), from the venue's tick and lot sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Precision {
    /// Decimals of prices (tick size `0.10` → 1).
    pub price: u8,
    /// Decimals of sizes (lot size `0.001` → 3).
    pub size: u8,
}

impl Precision {
    /// The decimals of a tick or lot size as NautilusTrader counts them: trailing zeros do not
    /// count (`0.10` → 1, `0.001` → 3, `1` → 0, `10` → 0).
    pub fn decimals_of(step: Decimal) -> u8 {
        u8::try_from(step.normalize().scale()).unwrap_or(u8::MAX)
    }
}

/// One closed candle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    /// What series it belongs to.
    pub bar_type: BarType,
    /// First price, rounded to `precision.price` decimals.
    pub open: Decimal,
    /// Highest price.
    pub high: Decimal,
    /// Lowest price.
    pub low: Decimal,
    /// Last price.
    pub close: Decimal,
    /// Volume in base units, rounded to `precision.size` decimals (zero for mark bars).
    pub volume: Decimal,
    /// The instrument's precision; every bar of one bar type has the same.
    pub precision: Precision,
    /// The bar's close, UNIX ns (open + interval).
    pub ts_event: u64,
    /// Equal to `ts_event`: bars are history.
    pub ts_init: u64,
}

/// Why a bar is not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BarProblem {
    /// High below low, or open/close outside [low, high].
    #[error("prices out of order: open {open} high {high} low {low} close {close}")]
    PricesOutOfOrder {
        /// Open.
        open: Decimal,
        /// High.
        high: Decimal,
        /// Low.
        low: Decimal,
        /// Close.
        close: Decimal,
    },
    /// A price at or below zero.
    #[error("non-positive price {0}")]
    NonPositivePrice(Decimal),
    /// Volume below zero.
    #[error("negative volume {0}")]
    NegativeVolume(Decimal),
    /// The close is not on the interval's grid.
    #[error("close {close_ns} ns is not on the {interval} grid")]
    OffGrid {
        /// The interval.
        interval: BarInterval,
        /// The bar's `ts_event`.
        close_ns: u64,
    },
    /// A value with more decimals than the instrument's precision.
    #[error("{what} {value} has more than {precision} decimals")]
    TooPrecise {
        /// Which field.
        what: &'static str,
        /// The value.
        value: Decimal,
        /// The allowed decimals.
        precision: u8,
    },
}

impl Bar {
    /// The bar's open, UNIX ns.
    pub fn open_ns(&self) -> u64 {
        self.bar_type.interval.open_of(self.ts_event)
    }

    /// The sanity rules every stored bar passes: positive prices, `low ≤ open, close ≤ high`,
    /// volume ≥ 0, the close on the interval's grid, no more decimals than the precision.
    pub fn check(&self) -> Result<(), BarProblem> {
        for price in [self.open, self.high, self.low, self.close] {
            if price <= Decimal::ZERO {
                return Err(BarProblem::NonPositivePrice(price));
            }
        }
        let ordered = self.low <= self.high
            && (self.low..=self.high).contains(&self.open)
            && (self.low..=self.high).contains(&self.close);
        if !ordered {
            return Err(BarProblem::PricesOutOfOrder {
                open: self.open,
                high: self.high,
                low: self.low,
                close: self.close,
            });
        }
        if self.volume < Decimal::ZERO {
            return Err(BarProblem::NegativeVolume(self.volume));
        }
        let interval = self.bar_type.interval;
        if !interval.is_open(self.open_ns()) || interval.close_of(self.open_ns()) != self.ts_event {
            return Err(BarProblem::OffGrid {
                interval,
                close_ns: self.ts_event,
            });
        }
        let prices = [
            ("open", self.open),
            ("high", self.high),
            ("low", self.low),
            ("close", self.close),
        ];
        for (what, value) in prices {
            too_precise(what, value, self.precision.price)?;
        }
        too_precise("volume", self.volume, self.precision.size)
    }
}

fn too_precise(what: &'static str, value: Decimal, precision: u8) -> Result<(), BarProblem> {
    if value.normalize().scale() > u32::from(precision) {
        return Err(BarProblem::TooPrecise {
            what,
            value,
            precision,
        });
    }
    Ok(())
}

/// A venue's mark price at one time (NautilusTrader `MarkPriceUpdate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkPrice {
    /// The instrument.
    pub instrument_id: InstrumentId,
    /// The price, exactly as the venue's decimal string.
    pub value: Decimal,
    /// Venue time of the price (or receive time when the venue gives none), UNIX ns.
    pub ts_event: u64,
    /// Receive time, UNIX ns.
    pub ts_init: u64,
}

/// A venue's index (oracle) price at one time (NautilusTrader `IndexPriceUpdate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexPrice {
    /// The instrument.
    pub instrument_id: InstrumentId,
    /// The price, exactly as the venue's decimal string.
    pub value: Decimal,
    /// Venue time of the price (or receive time when the venue gives none), UNIX ns.
    pub ts_event: u64,
    /// Receive time, UNIX ns.
    pub ts_init: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = NANOS_PER_MINUTE;
    // 2024-03-15 12:34:56 UTC, a Friday.
    const T: u64 = 1_710_506_096_000_000_000;

    fn ns(y: i32, m: u32, d: u32, h: u32, min: u32) -> u64 {
        let t = Utc.with_ymd_and_hms(y, m, d, h, min, 0).single().unwrap();
        t.timestamp() as u64 * 1_000_000_000
    }

    fn bar(interval: BarInterval, open_ns: u64) -> Bar {
        Bar {
            bar_type: BarType::new(
                InstrumentId::new_unchecked("BTCUSDT-PERP.BINANCE"),
                interval,
                BarPrice::Last,
            ),
            open: "100.5".parse().unwrap(),
            high: "101.0".parse().unwrap(),
            low: "99.9".parse().unwrap(),
            close: "100.0".parse().unwrap(),
            volume: "12.345".parse().unwrap(),
            precision: Precision { price: 1, size: 3 },
            ts_event: interval.close_of(open_ns),
            ts_init: interval.close_of(open_ns),
        }
    }

    #[test]
    fn intervals_read_and_write_both_spellings() {
        for interval in BarInterval::ALL {
            assert_eq!(interval.as_str().parse::<BarInterval>(), Ok(interval));
            assert_eq!(
                interval.nautilus_spec().parse::<BarInterval>(),
                Ok(interval)
            );
        }
        assert_eq!("1M".parse(), Ok(BarInterval::Month1));
        assert_eq!("1m".parse(), Ok(BarInterval::M1));
        let err = "3d".parse::<BarInterval>().unwrap_err().to_string();
        assert!(err.contains("'3d'") && err.contains("1m 3m"), "{err}");
        assert!("60m".parse::<BarInterval>().is_err());
    }

    #[test]
    fn the_grid_is_utc_minutes_hours_mondays_and_months() {
        assert_eq!(BarInterval::M1.floor(T), ns(2024, 3, 15, 12, 34));
        assert_eq!(BarInterval::M15.floor(T), ns(2024, 3, 15, 12, 30));
        assert_eq!(BarInterval::H4.floor(T), ns(2024, 3, 15, 12, 0));
        assert_eq!(BarInterval::H8.floor(T), ns(2024, 3, 15, 8, 0));
        assert_eq!(BarInterval::D1.floor(T), ns(2024, 3, 15, 0, 0));
        assert_eq!(BarInterval::W1.floor(T), ns(2024, 3, 11, 0, 0)); // Monday
        assert_eq!(BarInterval::Month1.floor(T), ns(2024, 3, 1, 0, 0));
        assert!(BarInterval::W1.is_open(ns(2024, 3, 11, 0, 0)));
        assert!(!BarInterval::W1.is_open(ns(2024, 3, 14, 0, 0)));
    }

    #[test]
    fn bars_close_one_interval_after_they_open_months_by_the_calendar() {
        let open = ns(2024, 3, 15, 12, 34);
        assert_eq!(BarInterval::M1.close_of(open), open + MIN);
        assert_eq!(
            BarInterval::Month1.close_of(ns(2024, 2, 1, 0, 0)),
            ns(2024, 3, 1, 0, 0)
        );
        assert_eq!(
            BarInterval::Month1.close_of(ns(2024, 12, 1, 0, 0)),
            ns(2025, 1, 1, 0, 0)
        );
        for interval in BarInterval::ALL {
            let open = interval.floor(T);
            assert_eq!(
                interval.open_of(interval.close_of(open)),
                open,
                "{interval}"
            );
        }
    }

    #[test]
    fn bar_types_are_nautilus_strings_both_ways() {
        let bar_type = BarType::new(
            InstrumentId::new_unchecked("BTC-USD-PERP.HYPERLIQUID"),
            BarInterval::D1,
            BarPrice::Mark,
        );
        let text = bar_type.to_string();
        assert_eq!(text, "BTC-USD-PERP.HYPERLIQUID-1-DAY-MARK-EXTERNAL");
        assert_eq!(text.parse(), Ok(bar_type));
        assert_eq!(
            "BTCUSDT-PERP.BINANCE-1-MINUTE-LAST-EXTERNAL"
                .parse::<BarType>()
                .map(|b| b.interval),
            Ok(BarInterval::M1)
        );
        for bad in [
            "BTCUSDT-PERP.BINANCE-3-DAY-LAST-EXTERNAL",
            "BTCUSDT-PERP.BINANCE-1-MINUTE-BID-EXTERNAL",
            "BTCUSDT-PERP.BINANCE-1-MINUTE-LAST-INTERNAL",
            "1-MINUTE-LAST-EXTERNAL",
        ] {
            assert!(bad.parse::<BarType>().is_err(), "{bad}");
        }
    }

    #[test]
    fn precision_counts_significant_decimals() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(Precision::decimals_of(d("0.10")), 1);
        assert_eq!(Precision::decimals_of(d("0.001")), 3);
        assert_eq!(Precision::decimals_of(d("1")), 0);
        assert_eq!(Precision::decimals_of(d("10")), 0);
    }

    #[test]
    fn the_sanity_rules_pass_good_bars_and_name_what_is_wrong() {
        let open = BarInterval::M1.floor(T);
        assert_eq!(bar(BarInterval::M1, open).check(), Ok(()));
        assert_eq!(
            bar(BarInterval::Month1, ns(2024, 2, 1, 0, 0)).check(),
            Ok(())
        );

        let mut b = bar(BarInterval::M1, open);
        b.high = "100.2".parse().unwrap();
        assert!(matches!(
            b.check(),
            Err(BarProblem::PricesOutOfOrder { .. })
        ));

        let mut b = bar(BarInterval::M1, open);
        b.volume = "-1".parse().unwrap();
        assert!(matches!(b.check(), Err(BarProblem::NegativeVolume(_))));

        let mut b = bar(BarInterval::M1, open);
        b.ts_event += 1_000_000;
        assert!(matches!(b.check(), Err(BarProblem::OffGrid { .. })));

        let mut b = bar(BarInterval::H1, open);
        b.ts_event = open + 60 * MIN; // an hour bar opening at 12:34
        assert!(matches!(b.check(), Err(BarProblem::OffGrid { .. })));

        let mut b = bar(BarInterval::M1, open);
        b.close = "100.05".parse().unwrap();
        assert!(matches!(
            b.check(),
            Err(BarProblem::TooPrecise { what: "close", .. })
        ));

        let mut b = bar(BarInterval::M1, open);
        b.low = "0".parse().unwrap();
        assert!(matches!(b.check(), Err(BarProblem::NonPositivePrice(_))));
    }
}
