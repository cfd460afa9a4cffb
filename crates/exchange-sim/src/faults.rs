//! Fault switches: set at start ([`crate::SimConfig::faults`], the binary's flags) and at run
//! time (`POST /__sim/faults`, [`crate::SimHandle::set_faults`]); what is posted replaces the
//! whole set (absent fields take their defaults, unknown fields are refused).
//!
//! Order in which a venue request meets them: `venue_down` → `latency_ms` → `drop_connection`
//! → `fail_next_n` → `error_rate` → rate limits → the handler → body faults (`number_format`,
//! `omit_optional`, then `malformed`) on 2xx answers. Injected failures are not charged to any
//! rate limit.
//!
//! Two switches change the data of the kline endpoints instead (Binance `klines`,
//! `markPriceKlines`, Bybit `kline`, `mark-price-kline`, Hyperliquid `candleSnapshot`):
//! `kline_hole_rate` leaves a seeded share of candles out of every answer (a hole: no trading,
//! maintenance) and `kline_invalid_rate` sends a seeded share with high and low swapped
//! (`high < low`). The same candles are affected on every request, so a page asked for twice is
//! the same.

use axum::body::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Venue;
use crate::data::{mix, unit};

/// The fault switches. `Faults::default()` is no fault.
///
/// JSON form (every field optional):
/// `{"latency_ms":0,"fail_next_n":0,"error_rate":0.0,"malformed":false,"drop_connection":false,
///   "number_format":"native","omit_optional":false,"venue_down":[],"venue_down_mode":"reset",
///   "venues":[],"kline_hole_rate":0.0,"kline_invalid_rate":0.0}`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Delay every answer by this many milliseconds.
    pub latency_ms: u64,
    /// The next N requests get HTTP 503 (with the venue's error body); counts down.
    pub fail_next_n: u32,
    /// Fraction in `[0, 1]` of requests answered with a seeded choice of 500, 502, 503, 504.
    pub error_rate: f64,
    /// Cut every successful body in half (invalid JSON, `Content-Type` unchanged).
    pub malformed: bool,
    /// Close every connection carrying a request, without any response (TCP reset).
    pub drop_connection: bool,
    /// How numbers are encoded in successful bodies.
    pub number_format: NumberFormat,
    /// Leave out optional fields (per endpoint: e.g. Binance `markPrice` in funding history,
    /// `sumOpenInterestValue`; Bybit `openInterestValue`, `fundingIntervalHour`,
    /// `fundingInterval`; Hyperliquid `premium`, `midPx`, `impactPxs`, `fundingIntervalHours`).
    pub omit_optional: bool,
    /// Venues that are down: every request to them fails as `venue_down_mode` says.
    pub venue_down: Vec<Venue>,
    /// How a down venue fails.
    pub venue_down_mode: DownMode,
    /// The venues the other faults (all but `venue_down`) apply to; empty means all.
    pub venues: Vec<Venue>,
    /// Fraction in `[0, 1]` of candles missing from the kline endpoints (seeded per candle:
    /// the same holes on every request).
    pub kline_hole_rate: f64,
    /// Fraction in `[0, 1]` of candles the kline endpoints send with `high < low` (seeded per
    /// candle).
    pub kline_invalid_rate: f64,
}

/// How numbers appear in bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberFormat {
    /// As the venue sends them (mostly decimal strings, timestamps as numbers).
    #[default]
    Native,
    /// Every numeric string becomes a JSON number (`"0.00010000"` → `0.0001`).
    Numbers,
    /// Every JSON number becomes a string (`1589437530011` → `"1589437530011"`, Bybit
    /// `retCode` → `"0"`).
    Strings,
}

/// How a down venue fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DownMode {
    /// The connection is reset without a response.
    #[default]
    Reset,
    /// HTTP 503 with the venue's error body.
    Unavailable,
}

impl Faults {
    /// Checks ranges; the message names the bad field.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.error_rate) || self.error_rate.is_nan() {
            return Err(format!(
                "error_rate must be between 0 and 1, got {}",
                self.error_rate
            ));
        }
        for (name, rate) in [
            ("kline_hole_rate", self.kline_hole_rate),
            ("kline_invalid_rate", self.kline_invalid_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) || rate.is_nan() {
                return Err(format!("{name} must be between 0 and 1, got {rate}"));
            }
        }
        if self.latency_ms > 600_000 {
            return Err("latency_ms must be at most 600000".into());
        }
        Ok(())
    }

    /// Whether the faults other than `venue_down` apply to `venue`.
    pub(crate) fn applies_to(&self, venue: Venue) -> bool {
        self.venues.is_empty() || self.venues.contains(&venue)
    }
}

/// A failure injected instead of the venue's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Injection {
    /// Reset the connection, no response.
    Reset,
    /// Answer with this 5xx status.
    Status(u16),
}

/// Body faults to apply to a successful answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct BodyFaults {
    pub number_format: NumberFormat,
    pub omit_optional: bool,
    pub malformed: bool,
}

impl BodyFaults {
    /// Whether any applies.
    pub fn any(&self) -> bool {
        self.number_format != NumberFormat::Native || self.omit_optional || self.malformed
    }
}

/// What the faults do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Plan {
    pub latency_ms: u64,
    pub inject: Option<Injection>,
    pub body: BodyFaults,
}

/// The faults in force plus the seeded sequence behind `error_rate`.
#[derive(Debug, Clone)]
pub(crate) struct FaultState {
    /// In force.
    pub faults: Faults,
    seed: u64,
    draws: u64,
}

impl FaultState {
    /// Faults in force from the start.
    pub fn new(faults: Faults, seed: u64) -> FaultState {
        FaultState {
            faults,
            seed,
            draws: 0,
        }
    }

    /// Decides what happens to the next request to `venue` (consumes `fail_next_n`).
    pub fn plan(&mut self, venue: Venue) -> Plan {
        let f = &mut self.faults;
        if f.venue_down.contains(&venue) {
            return Plan {
                latency_ms: 0,
                inject: Some(match f.venue_down_mode {
                    DownMode::Reset => Injection::Reset,
                    DownMode::Unavailable => Injection::Status(503),
                }),
                body: BodyFaults::default(),
            };
        }
        if !f.applies_to(venue) {
            return Plan::default();
        }
        let mut plan = Plan {
            latency_ms: f.latency_ms,
            inject: None,
            body: BodyFaults {
                number_format: f.number_format,
                omit_optional: f.omit_optional,
                malformed: f.malformed,
            },
        };
        if f.drop_connection {
            plan.inject = Some(Injection::Reset);
        } else if f.fail_next_n > 0 {
            f.fail_next_n -= 1;
            plan.inject = Some(Injection::Status(503));
        } else if f.error_rate > 0.0 {
            self.draws += 1;
            let h = mix(mix(self.seed, 0xFA17), self.draws);
            if unit(h) < self.faults.error_rate {
                plan.inject = Some(Injection::Status([500, 502, 503, 504][(h % 4) as usize]));
            }
        }
        plan
    }

    /// `(kline_hole_rate, kline_invalid_rate)` for a request to `venue`.
    pub fn kline_rates(&self, venue: Venue) -> (f64, f64) {
        let f = &self.faults;
        if f.applies_to(venue) {
            (f.kline_hole_rate, f.kline_invalid_rate)
        } else {
            (0.0, 0.0)
        }
    }
}

/// Fields `omit_optional` removes, per venue endpoint.
fn optional_fields(venue: Venue, endpoint: &str) -> &'static [&'static str] {
    match (venue, endpoint) {
        (Venue::Binance, "fundingRate") => &["markPrice"],
        (Venue::Binance, "openInterestHist") => &["sumOpenInterestValue", "CMCCirculatingSupply"],
        (Venue::Binance, "premiumIndex") => &["estimatedSettlePrice", "interestRate", "indexPrice"],
        (Venue::Binance, "fundingInfo") => &[
            "adjustedFundingRateCap",
            "adjustedFundingRateFloor",
            "disclaimer",
        ],
        (Venue::Binance, "exchangeInfo") => &[
            "filters",
            "orderTypes",
            "timeInForce",
            "underlyingSubType",
            "liquidationFee",
            "marketTakeBound",
            "triggerProtect",
            "assets",
            "exchangeFilters",
        ],
        (Venue::Bybit, "tickers") => &[
            "openInterestValue",
            "fundingIntervalHour",
            "fundingCap",
            "indexPrice",
            "singleOpenInterest",
            "singleOpenInterestValue",
            "basisRateYear",
            "preOpenPrice",
            "preQty",
            "curPreListingPhase",
            "retExtInfo",
        ],
        (Venue::Bybit, "open-interest") => &["singleOpenInterest", "retExtInfo"],
        (Venue::Bybit, "instruments-info") => &[
            "fundingInterval",
            "upperFundingRate",
            "lowerFundingRate",
            "isPreListing",
            "preListingInfo",
            "riskParameters",
            "symbolType",
            "copyTrading",
            "retExtInfo",
        ],
        (Venue::Bybit, _) => &["retExtInfo"],
        (Venue::Hyperliquid, "fundingHistory") => &["premium"],
        (Venue::Hyperliquid, "metaAndAssetCtxs") => &[
            "premium",
            "midPx",
            "impactPxs",
            "dayBaseVlm",
            "marginTableId",
        ],
        (Venue::Hyperliquid, "meta") => &["marginTableId", "marginTables"],
        (Venue::Hyperliquid, "predictedFundings") => &["fundingIntervalHours"],
        (Venue::Hyperliquid, "perpDexs") => &["assetToStreamingOiCap", "assetToFundingMultiplier"],
        (Venue::Okx, "open-interest") => &["oiUsd"],
        (Venue::Okx, "funding-rate") => &[
            "formulaType",
            "interestRate",
            "impactValue",
            "premium",
            "nextFundingRate",
            "settState",
            "settFundingRate",
            "minFundingRate",
            "maxFundingRate",
        ],
        (Venue::Okx, "funding-rate-history") => &["formulaType", "method"],
        (Venue::Okx, "instruments") => &[
            "instFamily",
            "instIdCode",
            "instCategory",
            "upcChg",
            "groupId",
            "tradeQuoteCcyList",
            "futureSettlement",
            "maxTwapSz",
            "maxIcebergSz",
        ],
        _ => &[],
    }
}

/// Applies body faults to a successful JSON body.
pub(crate) fn apply_body_faults(
    body: Bytes,
    venue: Venue,
    endpoint: &str,
    faults: BodyFaults,
) -> Bytes {
    let mut body = body;
    if (faults.number_format != NumberFormat::Native || faults.omit_optional)
        && let Ok(mut value) = serde_json::from_slice::<Value>(&body)
    {
        if faults.omit_optional {
            omit(&mut value, optional_fields(venue, endpoint));
        }
        match faults.number_format {
            NumberFormat::Native => {}
            NumberFormat::Numbers => to_numbers(&mut value),
            NumberFormat::Strings => to_strings(&mut value),
        }
        if let Ok(text) = serde_json::to_string(&value) {
            body = Bytes::from(unquote_numbers(&text));
        }
    }
    if faults.malformed {
        let cut = body.len() / 2;
        body = body.slice(..cut);
    }
    body
}

fn omit(value: &mut Value, fields: &[&str]) {
    match value {
        Value::Object(map) => {
            for f in fields {
                map.remove(*f);
            }
            map.values_mut().for_each(|v| omit(v, fields));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| omit(v, fields)),
        _ => {}
    }
}

/// `-?digits(.digits)?`
fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// Marks a numeric string for [`unquote_numbers`]; serialized as `"\u0000#0.0001"`.
const NUMBER_MARK: char = '\u{0}';

/// Turns the marked strings into bare JSON numbers with their exact text (`0.00000931`, never
/// the exponent form a float would print).
fn unquote_numbers(json: &str) -> String {
    const OPEN: &str = "\"\\u0000#";
    let mut out = String::with_capacity(json.len());
    let mut rest = json;
    while let Some(i) = rest.find(OPEN) {
        out.push_str(&rest[..i]);
        let after = &rest[i + OPEN.len()..];
        match after.find('"') {
            Some(j) => {
                out.push_str(&after[..j]);
                rest = &after[j + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn to_numbers(value: &mut Value) {
    match value {
        Value::String(s) if is_decimal(s) => {
            *s = format!("{NUMBER_MARK}#{s}");
        }
        Value::Object(map) => map.values_mut().for_each(to_numbers),
        Value::Array(items) => items.iter_mut().for_each(to_numbers),
        _ => {}
    }
}

fn to_strings(value: &mut Value) {
    match value {
        Value::Number(n) => *value = Value::String(n.to_string()),
        Value::Object(map) => map.values_mut().for_each(to_strings),
        Value::Array(items) => items.iter_mut().for_each(to_strings),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats_and_omission() {
        let body = Bytes::from(
            r#"[{"symbol":"1000PEPEUSDT","fundingRate":"0.00010000","fundingTime":1570608000000,"markPrice":"1.5"}]"#,
        );
        let numbers = BodyFaults {
            number_format: NumberFormat::Numbers,
            ..BodyFaults::default()
        };
        let out = apply_body_faults(body.clone(), Venue::Binance, "fundingRate", numbers);
        let json = |b: &Bytes| serde_json::from_slice::<Value>(b).unwrap();
        assert_eq!(
            json(&out),
            serde_json::json!([{"fundingRate":0.0001,"fundingTime":1570608000000u64,"markPrice":1.5,"symbol":"1000PEPEUSDT"}])
        );
        assert!(
            std::str::from_utf8(&out)
                .unwrap()
                .contains(r#""fundingRate":0.00010000,"#)
        );
        let tiny = apply_body_faults(
            Bytes::from(r#"{"r":"-0.00000931","s":"x"}"#),
            Venue::Bybit,
            "tickers",
            numbers,
        );
        assert_eq!(
            std::str::from_utf8(&tiny).unwrap(),
            r#"{"r":-0.00000931,"s":"x"}"#
        );
        let strings = BodyFaults {
            number_format: NumberFormat::Strings,
            omit_optional: true,
            ..BodyFaults::default()
        };
        let out = apply_body_faults(body.clone(), Venue::Binance, "fundingRate", strings);
        assert_eq!(
            json(&out),
            serde_json::json!([{"fundingRate":"0.00010000","fundingTime":"1570608000000","symbol":"1000PEPEUSDT"}])
        );
        let cut = apply_body_faults(
            body.clone(),
            Venue::Binance,
            "fundingRate",
            BodyFaults {
                malformed: true,
                ..BodyFaults::default()
            },
        );
        assert!(serde_json::from_slice::<Value>(&cut).is_err());
        assert!(!is_decimal("1e5") && !is_decimal("-") && !is_decimal("1.") && is_decimal("-0.5"));
    }

    #[test]
    fn plan_counts_down_and_scopes() {
        let mut s = FaultState::new(
            Faults {
                fail_next_n: 2,
                venues: vec![Venue::Bybit],
                ..Faults::default()
            },
            1,
        );
        assert_eq!(s.plan(Venue::Binance).inject, None);
        assert_eq!(s.plan(Venue::Bybit).inject, Some(Injection::Status(503)));
        assert_eq!(s.plan(Venue::Bybit).inject, Some(Injection::Status(503)));
        assert_eq!(s.plan(Venue::Bybit).inject, None);
        assert!(
            Faults {
                error_rate: 1.5,
                ..Faults::default()
            }
            .validate()
            .is_err()
        );
    }
}
