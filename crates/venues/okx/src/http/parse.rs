//! Parsers of OKX v5 REST answers into plain structs keyed by `instId`, and OKX error envelopes
//! into [`OkxError`].
//!
//! Each list parser returns the rows it could read and, per row it skipped, a one-line reason
//! (`BTC-USDT-SWAP: no oi`), so the caller can log and count them: one bad row never hides the
//! others. Only an answer that is not an OKX envelope at all, or an error envelope, is an error.

use ccxt_model::{Precision, Venue};
use ccxt_venue::borrowed::{decimal_of, scalar_text, u64_of};
use ccxt_venue::convert::{snippet, truncate};
use ccxt_venue::tolerant::{value_decimal, value_u64};
use ccxt_venue::{FetchError, InstrumentStatus};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use super::models::{
    FundingHistoryRow, FundingRateRow, InstrumentRow, OpenInterestRow, RawEnvelope,
};
use super::requests::CandleKind;

/// What an OKX error means to a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 50011 (rate limit; HTTP 429 or 200), 50013 (system busy): slow down and retry.
    RateLimited,
    /// 51001: the instrument does not exist (or is delisted).
    UnknownInstrument,
    /// 50014 (parameter empty), 51000 (parameter error), 51014/51015: the request is wrong.
    BadParameter,
    /// 50001 (service unavailable), 50004 (endpoint timeout), 50026 (system error): retry.
    Unavailable,
    /// Anything else.
    Other,
}

/// The kind of an OKX error code.
pub fn error_kind(code: &str) -> ErrorKind {
    match code {
        "50011" | "50013" => ErrorKind::RateLimited,
        "51001" => ErrorKind::UnknownInstrument,
        "50014" | "51000" | "51014" | "51015" => ErrorKind::BadParameter,
        "50001" | "50004" | "50026" => ErrorKind::Unavailable,
        _ => ErrorKind::Other,
    }
}

/// Why an OKX answer gave no data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OkxError {
    /// An error envelope: `code != "0"`.
    #[error("OKX answered code {code}: {msg} (HTTP {status})")]
    Api {
        /// HTTP status (OKX sends many errors with 200).
        status: u16,
        /// OKX's code (`50011`, `51001`, `404`).
        code: String,
        /// OKX's message.
        msg: String,
    },
    /// Not an HTTP success and not an OKX envelope (an HTML 502 page).
    #[error("OKX answered HTTP {status}: {body}")]
    Http {
        /// HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// A success whose body cannot be read.
    #[error("malformed OKX {what} response: {detail}")]
    Malformed {
        /// Which endpoint's answer.
        what: String,
        /// What is wrong.
        detail: String,
    },
}

impl OkxError {
    /// The kind of the error (`Other` for bodies without an OKX code).
    pub fn kind(&self) -> ErrorKind {
        match self {
            OkxError::Api { code, .. } => error_kind(code),
            OkxError::Http { status: 429, .. } => ErrorKind::RateLimited,
            OkxError::Http { status, .. } if *status >= 500 => ErrorKind::Unavailable,
            _ => ErrorKind::Other,
        }
    }

    /// The [`FetchError`] a fetcher of `venue` reports for this error about `inst_id` (if the
    /// request named one): rate limits are retryable [`FetchError::RateLimited`], an unknown
    /// instrument is [`FetchError::UnknownSymbol`], outages are retryable
    /// [`FetchError::Http`] 5xx, other codes [`FetchError::Venue`] with OKX's code and words.
    pub fn into_fetch_error(self, venue: Venue, inst_id: Option<&str>) -> FetchError {
        let kind = self.kind();
        match self {
            OkxError::Malformed { what, detail } => FetchError::Malformed {
                venue,
                what,
                detail,
            },
            OkxError::Http { status, body } if kind == ErrorKind::RateLimited => {
                FetchError::RateLimited {
                    venue,
                    detail: format!("HTTP {status}: {body}"),
                    retry_after: None,
                }
            }
            OkxError::Http { status, body } => FetchError::Http {
                venue,
                status,
                body,
            },
            OkxError::Api { status, code, msg } => match (kind, inst_id) {
                (ErrorKind::RateLimited, _) => FetchError::RateLimited {
                    venue,
                    detail: format!("code {code}: {msg}"),
                    retry_after: None,
                },
                (ErrorKind::UnknownInstrument, Some(id)) => FetchError::unknown_symbol(venue, id),
                (ErrorKind::Unavailable, _) => FetchError::Http {
                    venue,
                    status: if status >= 500 { status } else { 503 },
                    body: format!("code {code}: {msg}"),
                },
                (_, _) if code.parse::<u16>().is_ok_and(|c| (400..600).contains(&c)) => {
                    FetchError::Http {
                        venue,
                        status,
                        body: msg,
                    }
                }
                _ => FetchError::Venue {
                    venue,
                    code,
                    message: msg,
                },
            },
        }
    }
}

/// The `data` of an answer, unparsed, or the error the answer carries.
fn envelope_data<'a>(
    status: u16,
    body: &'a [u8],
    what: &str,
) -> Result<Option<&'a RawValue>, OkxError> {
    let envelope: RawEnvelope<'a> = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) if (200..300).contains(&status) => {
            return Err(OkxError::Malformed {
                what: what.to_string(),
                detail: truncate(&e.to_string(), 200),
            });
        }
        Err(_) => {
            return Err(OkxError::Http {
                status,
                body: snippet(body),
            });
        }
    };
    match envelope.code.as_deref() {
        Some("0") if (200..300).contains(&status) => Ok(envelope.data),
        Some(code) => Err(OkxError::Api {
            status,
            code: code.to_string(),
            msg: envelope.msg.unwrap_or_default(),
        }),
        None if (200..300).contains(&status) => Err(OkxError::Malformed {
            what: what.to_string(),
            detail: "no code".into(),
        }),
        None => Err(OkxError::Http {
            status,
            body: snippet(body),
        }),
    }
}

/// The error of a `data` that is not an array.
fn not_an_array(data: &RawValue, what: &str) -> OkxError {
    OkxError::Malformed {
        what: what.to_string(),
        detail: format!("data is not an array: {}", truncate(data.get(), 80)),
    }
}

/// The rows of a `data` array, each unparsed; no `data` (or `null`) is no rows.
fn data_rows<'a>(data: Option<&'a RawValue>, what: &str) -> Result<Vec<&'a RawValue>, OkxError> {
    match data {
        None => Ok(Vec::new()),
        Some(data) => serde_json::from_str(data.get()).map_err(|_| not_an_array(data, what)),
    }
}

/// The `data` array of an answer, or the error it carries.
pub fn check_envelope(status: u16, body: &[u8], what: &str) -> Result<Vec<Value>, OkxError> {
    match envelope_data(status, body, what)? {
        None => Ok(Vec::new()),
        Some(data) => serde_json::from_str(data.get()).map_err(|_| not_an_array(data, what)),
    }
}

/// Rows read into `T`, and one reason per row that could not be.
pub fn rows<T: DeserializeOwned>(data: Vec<Value>) -> (Vec<T>, Vec<String>) {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for row in data {
        let id = row
            .get("instId")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        match serde_json::from_value::<T>(row) {
            Ok(r) => out.push(r),
            Err(e) => skipped.push(format!("{id}: {e}")),
        }
    }
    (out, skipped)
}

/// What a swap is, for the collector's universe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwapCategory {
    /// USDT-margined linear swap on a crypto asset: the collector's universe.
    UsdtCrypto,
    /// A stock perpetual (`instCategory` 3; also USDT-margined `SWAP`s): opt-in.
    StockPerpetual,
    /// A pre-market swap (`ruleType` `pre_market`).
    PreMarket,
    /// Inverse (coin-margined), USDC- or USD-margined, other asset categories.
    Other,
}

/// A listed swap.
#[derive(Debug, Clone, PartialEq)]
pub struct SwapInstrument {
    /// `BTC-USDT-SWAP`.
    pub inst_id: String,
    /// `BTC-USDT` (`instFamily`, else `uly`).
    pub family: Option<String>,
    /// Settlement currency.
    pub settle_ccy: Option<String>,
    /// Universe category.
    pub category: SwapCategory,
    /// Listing state (`live`/`post_only` trading, `preopen` pre-launch, others verbatim).
    pub status: InstrumentStatus,
    /// Coins (USD for inverse) per contract: `ctVal × ctMult` (`ctMult` 1 when absent).
    pub contract_value: Option<Decimal>,
    /// Currency of the contract value.
    pub contract_value_ccy: Option<String>,
    /// `ctType` inverse.
    pub inverse: bool,
    /// Price step.
    pub tick_size: Option<Decimal>,
    /// Size step, contracts.
    pub lot_size: Option<Decimal>,
    /// Price and size decimals (both steps known).
    pub precision: Option<Precision>,
    /// Listing time, ms.
    pub listed_ms: Option<u64>,
    /// Announced delisting time, ms.
    pub delisting_ms: Option<u64>,
}

impl SwapInstrument {
    /// Coins of `contracts` (linear: × contract value; inverse: × USD value / `price`).
    pub fn coins(&self, contracts: Decimal, price: Option<Decimal>) -> Option<Decimal> {
        let value = contracts.checked_mul(self.contract_value?)?;
        if self.inverse {
            value.checked_div(price.filter(|p| !p.is_zero())?)
        } else {
            Some(value)
        }
    }
}

/// `ctVal × ctMult` of a row.
pub fn contract_value(row: &InstrumentRow) -> Option<Decimal> {
    row.ct_val?.checked_mul(row.ct_mult.unwrap_or(Decimal::ONE))
}

/// The universe category of a row.
pub fn category(row: &InstrumentRow) -> SwapCategory {
    let linear_usdt =
        row.ct_type.as_deref() == Some("linear") && row.settle_ccy.as_deref() == Some("USDT");
    if row.rule_type.as_deref() == Some("pre_market") {
        return SwapCategory::PreMarket;
    }
    match (linear_usdt, row.inst_category.as_deref()) {
        (true, None | Some("1")) => SwapCategory::UsdtCrypto,
        (true, Some("3")) => SwapCategory::StockPerpetual,
        // A pre-open row has every field empty: judge by its name.
        (false, _) if row.state.as_deref() == Some("preopen") && row.ct_type.is_none() => {
            match row.inst_id.as_deref() {
                Some(id) if id.ends_with("-USDT-SWAP") => SwapCategory::UsdtCrypto,
                _ => SwapCategory::Other,
            }
        }
        _ => SwapCategory::Other,
    }
}

/// The listing state.
pub fn status(state: Option<&str>) -> InstrumentStatus {
    match state {
        Some("live" | "post_only") => InstrumentStatus::Trading,
        Some("preopen") => InstrumentStatus::PreLaunch,
        Some(other) => InstrumentStatus::Other(other.to_string()),
        None => InstrumentStatus::Other(String::new()),
    }
}

fn instrument(row: InstrumentRow) -> Result<SwapInstrument, String> {
    let inst_id = row.inst_id.clone().ok_or("no instId")?;
    if row.inst_type.as_deref().is_some_and(|t| t != "SWAP") {
        return Err(format!("{inst_id}: not a SWAP"));
    }
    let precision = match (row.tick_sz, row.lot_sz) {
        (Some(t), Some(l)) => Some(Precision {
            price: Precision::decimals_of(t),
            size: Precision::decimals_of(l),
        }),
        _ => None,
    };
    Ok(SwapInstrument {
        category: category(&row),
        status: status(row.state.as_deref()),
        contract_value: contract_value(&row),
        inverse: row.ct_type.as_deref() == Some("inverse"),
        family: row.inst_family.clone().or(row.uly.clone()),
        settle_ccy: row.settle_ccy,
        contract_value_ccy: row.ct_val_ccy,
        tick_size: row.tick_sz,
        lot_size: row.lot_sz,
        precision,
        listed_ms: row.list_time,
        delisting_ms: row.exp_time,
        inst_id,
    })
}

/// `GET /api/v5/public/instruments?instType=SWAP` → swaps, and the rows skipped.
pub fn parse_instruments(
    status: u16,
    body: &[u8],
) -> Result<(Vec<SwapInstrument>, Vec<String>), OkxError> {
    let (rows, mut skipped) = rows::<InstrumentRow>(check_envelope(status, body, "instruments")?);
    let mut out = Vec::new();
    for row in rows {
        match instrument(row) {
            Ok(i) => out.push(i),
            Err(e) => skipped.push(e),
        }
    }
    Ok((out, skipped))
}

/// Current open interest of one swap.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenInterest {
    /// `BTC-USDT-SWAP`.
    pub inst_id: String,
    /// Contracts (`oi`).
    pub contracts: Decimal,
    /// Coins as OKX states them (`oiCcy`), exact.
    pub coins: Option<Decimal>,
    /// USD (`oiUsd`, absent before 2024-08).
    pub usd: Option<Decimal>,
    /// Data time, ms.
    pub ts_ms: u64,
}

fn open_interest(row: OpenInterestRow) -> Result<OpenInterest, String> {
    let id = row.inst_id.ok_or("no instId")?;
    Ok(OpenInterest {
        contracts: row.oi.ok_or_else(|| format!("{id}: no oi"))?,
        ts_ms: row.ts.ok_or_else(|| format!("{id}: no ts"))?,
        coins: row.oi_ccy,
        usd: row.oi_usd,
        inst_id: id,
    })
}

/// Reads open-interest rows (REST answer `data`, or a WS push's `data`).
pub fn open_interest_rows(data: Vec<Value>) -> (Vec<OpenInterest>, Vec<String>) {
    let (rows, mut skipped) = rows::<OpenInterestRow>(data);
    let mut out = Vec::new();
    for row in rows {
        match open_interest(row) {
            Ok(o) => out.push(o),
            Err(e) => skipped.push(e),
        }
    }
    (out, skipped)
}

/// `GET /api/v5/public/open-interest` → one row per swap, and the rows skipped.
pub fn parse_open_interest(
    status: u16,
    body: &[u8],
) -> Result<(Vec<OpenInterest>, Vec<String>), OkxError> {
    Ok(open_interest_rows(check_envelope(
        status,
        body,
        "open-interest",
    )?))
}

/// One rubik open-interest-history row `[ts, oi, oiCcy, oiUsd]`.
#[derive(Debug, Clone, PartialEq)]
pub struct OiHistoryRow {
    /// Period start, ms.
    pub ts_ms: u64,
    /// Contracts.
    pub contracts: Decimal,
    /// Coins.
    pub coins: Option<Decimal>,
    /// USD.
    pub usd: Option<Decimal>,
}

/// `GET /api/v5/rubik/stat/contracts/open-interest-history` → rows as sent (newest first), and
/// the rows skipped.
pub fn parse_open_interest_history(
    status: u16,
    body: &[u8],
) -> Result<(Vec<OiHistoryRow>, Vec<String>), OkxError> {
    let data = check_envelope(status, body, "open-interest-history")?;
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for row in data {
        let at = |i: usize| row.get(i);
        match (at(0).and_then(value_u64), at(1).and_then(value_decimal)) {
            (Some(ts_ms), Some(contracts)) => out.push(OiHistoryRow {
                ts_ms,
                contracts,
                coins: at(2).and_then(value_decimal),
                usd: at(3).and_then(value_decimal),
            }),
            _ => skipped.push(format!("unreadable row {}", truncate(&row.to_string(), 80))),
        }
    }
    Ok((out, skipped))
}

/// The current funding of one swap.
#[derive(Debug, Clone, PartialEq)]
pub struct FundingRate {
    /// `BTC-USDT-SWAP`.
    pub inst_id: String,
    /// `SWAP` (`FUTURES` for X-Perps).
    pub inst_type: Option<String>,
    /// The predicted rate for `funding_time_ms`, exact (absent in some old pushes).
    pub predicted_rate: Option<Decimal>,
    /// The next settlement, ms.
    pub funding_time_ms: Option<u64>,
    /// The settlement after it, ms.
    pub next_funding_time_ms: Option<u64>,
    /// `nextFundingTime − fundingTime`, ms: the interval (never assumed 8 h).
    pub interval_ms: Option<u64>,
    /// `settFundingRate`: the rate being settled (`settling`) or last settled.
    pub settled_rate: Option<Decimal>,
    /// `settState` is `processing`.
    pub settling: bool,
    /// Data time, ms.
    pub ts_ms: Option<u64>,
}

fn funding_rate(row: FundingRateRow) -> Result<FundingRate, String> {
    let inst_id = row.inst_id.ok_or("no instId")?;
    let interval_ms = match (row.funding_time, row.next_funding_time) {
        (Some(f), Some(n)) if n > f => Some(n - f),
        _ => None,
    };
    Ok(FundingRate {
        inst_id,
        inst_type: row.inst_type,
        predicted_rate: row.funding_rate,
        funding_time_ms: row.funding_time,
        next_funding_time_ms: row.next_funding_time,
        interval_ms,
        settled_rate: row.sett_funding_rate,
        settling: row.sett_state.as_deref() == Some("processing"),
        ts_ms: row.ts,
    })
}

/// Reads current-funding rows (REST answer `data`, or a WS push's `data`).
pub fn funding_rate_rows(data: Vec<Value>) -> (Vec<FundingRate>, Vec<String>) {
    let (rows, mut skipped) = rows::<FundingRateRow>(data);
    let mut out = Vec::new();
    for row in rows {
        match funding_rate(row) {
            Ok(f) => out.push(f),
            Err(e) => skipped.push(e),
        }
    }
    (out, skipped)
}

/// `GET /api/v5/public/funding-rate` → one row per swap, and the rows skipped.
pub fn parse_funding_rates(
    status: u16,
    body: &[u8],
) -> Result<(Vec<FundingRate>, Vec<String>), OkxError> {
    Ok(funding_rate_rows(check_envelope(
        status,
        body,
        "funding-rate",
    )?))
}

/// One settled funding.
#[derive(Debug, Clone, PartialEq)]
pub struct SettledFunding {
    /// `BTC-USDT-SWAP`.
    pub inst_id: String,
    /// `realizedRate`, exact.
    pub rate: Decimal,
    /// `fundingRate`: the last prediction.
    pub predicted_rate: Option<Decimal>,
    /// Settlement time, ms.
    pub funding_time_ms: u64,
}

/// `GET /api/v5/public/funding-rate-history` → rows as sent (newest first), and the rows
/// skipped (a row without `realizedRate` is skipped: the prediction is not the settled rate).
pub fn parse_funding_history(
    status: u16,
    body: &[u8],
) -> Result<(Vec<SettledFunding>, Vec<String>), OkxError> {
    let (rows, mut skipped) =
        rows::<FundingHistoryRow>(check_envelope(status, body, "funding-rate-history")?);
    let mut out = Vec::new();
    for row in rows {
        let id = row.inst_id.clone().unwrap_or_else(|| "?".into());
        match (row.inst_id, row.realized_rate, row.funding_time) {
            (Some(inst_id), Some(rate), Some(t)) => out.push(SettledFunding {
                inst_id,
                rate,
                predicted_rate: row.funding_rate,
                funding_time_ms: t,
            }),
            (None, _, _) => skipped.push("no instId".into()),
            (_, None, _) => skipped.push(format!("{id}: no realizedRate")),
            (_, _, None) => skipped.push(format!("{id}: no fundingTime")),
        }
    }
    Ok((out, skipped))
}

/// One candle.
#[derive(Debug, Clone, PartialEq)]
pub struct Candle {
    /// Open time, ms.
    pub open_ms: u64,
    /// Open.
    pub open: Decimal,
    /// High.
    pub high: Decimal,
    /// Low.
    pub low: Decimal,
    /// Close.
    pub close: Decimal,
    /// Volume in contracts (trade candles).
    pub volume_contracts: Option<Decimal>,
    /// Volume in coins (trade candles).
    pub volume_coins: Option<Decimal>,
    /// Volume in quote (trade candles with 8+ fields).
    pub volume_quote: Option<Decimal>,
    /// `confirm`: `Some(false)` for the unfinished candle; `None` when the row has no flag
    /// (7-field 2022 rows).
    pub confirmed: Option<bool>,
}

/// Reads one candle row by position: trade `[ts,o,h,l,c,vol,volCcy,volCcyQuote,confirm]`
/// (7 fields accepted: no quote volume, no flag), mark `[ts,o,h,l,c,confirm]` (5 accepted).
pub fn candle_row(row: &RawValue, kind: CandleKind) -> Result<Candle, String> {
    let fields: Vec<&RawValue> =
        serde_json::from_str(row.get()).map_err(|_| "not an array".to_string())?;
    let field = |i: usize| fields.get(i).copied();
    let dec = |i: usize| decimal_of(field(i)).ok().flatten();
    let need = |i: usize, name: &str| dec(i).ok_or_else(|| format!("no {name}"));
    let open_ms = u64_of(field(0)).ok().flatten().ok_or("no open time")?;
    let flag = |i: usize| match scalar_text(field(i)).ok().flatten()?.as_ref() {
        "1" => Some(true),
        "0" => Some(false),
        other => other.parse::<u64>().ok().map(|n| n == 1),
    };
    let (volume_contracts, volume_coins, volume_quote, confirmed) = match kind {
        CandleKind::Trade => (
            Some(need(5, "vol")?),
            dec(6),
            if fields.len() >= 9 { dec(7) } else { None },
            if fields.len() >= 9 { flag(8) } else { None },
        ),
        CandleKind::Mark => (None, None, None, flag(5)),
    };
    Ok(Candle {
        open_ms,
        open: need(1, "open")?,
        high: need(2, "high")?,
        low: need(3, "low")?,
        close: need(4, "close")?,
        volume_contracts,
        volume_coins,
        volume_quote,
        confirmed,
    })
}

/// Reads candle rows, as sent (newest first), and the rows skipped.
pub fn candle_rows(data: &[&RawValue], kind: CandleKind) -> (Vec<Candle>, Vec<String>) {
    let mut out = Vec::with_capacity(data.len());
    let mut skipped = Vec::new();
    for row in data {
        match candle_row(row, kind) {
            Ok(c) => out.push(c),
            Err(e) => skipped.push(format!("{e}: {}", truncate(row.get(), 80))),
        }
    }
    (out, skipped)
}

/// A candle endpoint's answer → candles as sent (newest first), and the rows skipped. The
/// answer is read once: each field is taken from its raw text (exact decimals), with no
/// `serde_json::Value` built (the daemon's bars job reads thousands of these pages an hour).
pub fn parse_candles(
    status: u16,
    body: &[u8],
    kind: CandleKind,
) -> Result<(Vec<Candle>, Vec<String>), OkxError> {
    let rows = data_rows(envelope_data(status, body, "candles")?, "candles")?;
    Ok(candle_rows(&rows, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn fixtures_have_provenance() {
        ccxt_venue::testing::assert_captures_have_provenance(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
        );
    }

    #[test]
    fn instruments_2025_capture() {
        let body = include_str!("../../fixtures/instruments_swap_nautilus.json");
        let (list, skipped) = parse_instruments(200, body.as_bytes()).unwrap_or_default();
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(list.len(), 3);
        let by = |id: &str| list.iter().find(|i| i.inst_id == id).cloned();
        let inv = by("BTC-USD-SWAP").unwrap_or_else(|| panic!("inverse"));
        assert!(inv.inverse);
        assert_eq!(inv.category, SwapCategory::Other);
        assert_eq!(inv.contract_value, Some(d("100")));
        assert_eq!(inv.coins(d("10"), Some(d("50000"))), Some(d("0.02")));
        let btc = by("BTC-USDT-SWAP").unwrap_or_else(|| panic!("btc"));
        assert_eq!(btc.category, SwapCategory::UsdtCrypto);
        assert_eq!(btc.status, InstrumentStatus::Trading);
        assert_eq!(btc.contract_value, Some(d("0.01")));
        assert_eq!(btc.lot_size, Some(d("0.01")));
        assert_eq!(btc.precision.map(|p| p.size), Some(2));
        assert_eq!(btc.family.as_deref(), Some("BTC-USDT"));
        assert_eq!(btc.coins(d("150"), None), Some(d("1.5")));
    }

    #[test]
    fn instruments_2022_full_capture() {
        let body = include_str!("../../fixtures/instruments_swap_2022_full_cryptofeed.json");
        let (list, skipped) = parse_instruments(200, body.as_bytes()).unwrap_or_default();
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(list.len(), 166);
        let usdt: Vec<&SwapInstrument> = list
            .iter()
            .filter(|i| i.category == SwapCategory::UsdtCrypto)
            .collect();
        assert!(usdt.iter().all(|i| i.inst_id.ends_with("-USDT-SWAP")));
        assert!(usdt.len() > 100);
        let shib = list.iter().find(|i| i.inst_id == "SHIB-USDT-SWAP");
        assert_eq!(shib.and_then(|i| i.contract_value), Some(d("1000000")));
        let btc = list.iter().find(|i| i.inst_id == "BTC-USDT-SWAP");
        assert_eq!(btc.and_then(|i| i.lot_size), Some(d("1")));
        assert!(list.iter().any(|i| i.inst_id == "1INCH-USDT-SWAP"));
        assert!(
            list.iter().all(|i| i.family.is_some()),
            "uly fills the family"
        );
    }

    #[test]
    fn stock_preopen_and_pre_market_rows() {
        let body = r#"{"code":"0","msg":"","data":[
            {"instType":"SWAP","instId":"TSLA-USDT-SWAP","ctType":"linear","settleCcy":"USDT","ctVal":"1","ctMult":"1","instCategory":"3","state":"live","tickSz":"0.01","lotSz":"1"},
            {"instType":"SWAP","instId":"BIO-USDT-SWAP","listTime":"1767312000000","state":"preopen","ctVal":"","tickSz":""},
            {"instType":"SWAP","instId":"NEW-USDT-SWAP","ctType":"linear","settleCcy":"USDT","ruleType":"pre_market","state":"live"},
            {"instType":"SWAP","state":"live"},
            {"instType":"SWAP","instId":"BAD-USDT-SWAP","ctVal":"abc"}]}"#;
        let (list, skipped) = parse_instruments(200, body.as_bytes()).unwrap_or_default();
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].category, SwapCategory::StockPerpetual);
        assert_eq!(list[1].category, SwapCategory::UsdtCrypto);
        assert_eq!(list[1].status, InstrumentStatus::PreLaunch);
        assert_eq!(list[1].contract_value, None);
        assert_eq!(list[1].listed_ms, Some(1_767_312_000_000));
        assert_eq!(list[2].category, SwapCategory::PreMarket);
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(skipped.iter().any(|s| s.starts_with("BAD-USDT-SWAP")));
    }

    #[test]
    fn open_interest_captures() {
        let body = include_str!("../../fixtures/open_interest_docs.json");
        let (rows, _) = parse_open_interest(200, body.as_bytes()).unwrap_or_default();
        assert_eq!(
            rows,
            [OpenInterest {
                inst_id: "BTC-USDT-SWAP".into(),
                contracts: d("5000"),
                coins: Some(d("555.55")),
                usd: Some(d("50000")),
                ts_ms: 1_597_026_383_085
            }]
        );
        let body = include_str!("../../fixtures/open_interest_swap_2022_cmp.json");
        let (rows, _) = parse_open_interest(200, body.as_bytes()).unwrap_or_default();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].coins, Some(d("13840.048827662696883")), "exact");
        assert_eq!(rows[0].usd, None);
    }

    #[test]
    fn open_interest_history_captures() {
        let body = include_str!("../../fixtures/open_interest_history_ccxt.json");
        let (rows, skipped) = parse_open_interest_history(200, body.as_bytes()).unwrap_or_default();
        assert!(skipped.is_empty());
        assert_eq!(
            rows,
            [OiHistoryRow {
                ts_ms: 1_790_550_000_000,
                contracts: d("2800476.45"),
                coins: Some(d("28006.5419")),
                usd: Some(d("2360916466.88"))
            }]
        );
        let body = include_str!("../../fixtures/open_interest_history_docs.json");
        let (rows, _) = parse_open_interest_history(200, body.as_bytes()).unwrap_or_default();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].ts_ms > rows[1].ts_ms, "newest first");
    }

    #[test]
    fn funding_rate_captures() {
        let body = include_str!("../../fixtures/funding_rate_docs.json");
        let (rows, _) = parse_funding_rates(200, body.as_bytes()).unwrap_or_default();
        let r = &rows[0];
        assert_eq!(r.predicted_rate, Some(d("0.0000182221218054")));
        assert_eq!(r.interval_ms, Some(8 * 3_600_000));
        assert_eq!(r.settled_rate, Some(d("0.0000145824401745")));
        assert!(!r.settling);
        assert_eq!(r.ts_ms, Some(1_743_588_686_291));
        let body = include_str!("../../fixtures/funding_rate_2021_ccxt.json");
        let (rows, _) = parse_funding_rates(200, body.as_bytes()).unwrap_or_default();
        assert_eq!(rows[0].inst_id, "BTC-USD-SWAP");
        assert_eq!(rows[0].interval_ms, Some(8 * 3_600_000));
        assert_eq!(rows[0].settled_rate, None);
    }

    #[test]
    fn funding_history_captures() {
        let body = include_str!("../../fixtures/funding_rate_history_nautilus.json");
        let (rows, _) = parse_funding_history(200, body.as_bytes()).unwrap_or_default();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].rate, d("0.00015"));
        assert_eq!(rows[0].predicted_rate, Some(d("0.0001515032")));
        assert_eq!(rows[1].rate, d("-0.00002"));
        assert_eq!(
            rows[0].funding_time_ms - rows[1].funding_time_ms,
            8 * 3_600_000
        );
        let body = include_str!("../../fixtures/funding_rate_history_docs.json");
        let (rows, _) = parse_funding_history(200, body.as_bytes()).unwrap_or_default();
        assert_eq!(rows[0].rate, d("0.0000746572360545"));
        let (rows, skipped) = parse_funding_history(
            200,
            br#"{"code":"0","data":[{"instId":"X-USDT-SWAP","fundingRate":"0.1","fundingTime":"1"}]}"#,
        )
        .unwrap_or_default();
        assert!(rows.is_empty());
        assert_eq!(skipped, ["X-USDT-SWAP: no realizedRate"]);
    }

    #[test]
    fn candle_captures() {
        let body = include_str!("../../fixtures/candles_swap_1m_nautilus.json");
        let (rows, _) = parse_candles(200, body.as_bytes(), CandleKind::Trade).unwrap_or_default();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].open_ms, 1_747_094_040_000);
        assert_eq!(rows[0].volume_contracts, Some(d("1040.37")));
        assert_eq!(rows[0].volume_coins, Some(d("10.4037")));
        assert_eq!(rows[0].volume_quote, Some(d("1069603.34883")));
        assert_eq!(rows[0].confirmed, Some(true));
        assert_eq!(rows[1].open, d("102806"));
        let body = include_str!("../../fixtures/mark_price_candles_docs.json");
        let (rows, _) = parse_candles(200, body.as_bytes(), CandleKind::Mark).unwrap_or_default();
        assert_eq!(rows[0].confirmed, Some(false));
        assert_eq!(rows[1].confirmed, Some(true));
        assert_eq!(rows[0].volume_contracts, None);
        // 7-field rows (2022 WS push): no quote volume, no flag.
        #[derive(serde::Deserialize)]
        struct Push<'a> {
            #[serde(borrow)]
            data: Vec<&'a RawValue>,
        }
        let push: Push = serde_json::from_str(include_str!(
            "../../fixtures/ws_candle_swap_1m_2022_cmp.json"
        ))
        .unwrap();
        let (rows, _) = candle_rows(&push.data, CandleKind::Trade);
        assert_eq!(rows[0].volume_coins, Some(d("40.7")));
        assert_eq!((rows[0].volume_quote, rows[0].confirmed), (None, None));
        // A bad row is skipped alone, with its reason; numbers may come as JSON numbers.
        let body = br#"{"code":"0","msg":"","data":[["1","x"],{"ts":"1"},[1700000000000,1.5,"2","1","1.25","10",null,"","1"]]}"#;
        let (rows, skipped) = parse_candles(200, body, CandleKind::Trade).unwrap();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(
            skipped[0].starts_with("no vol: [\"1\",\"x\"]")
                && skipped[1].starts_with("not an array")
        );
        assert_eq!(
            (rows[0].open_ms, rows[0].open, rows[0].close),
            (1_700_000_000_000, d("1.5"), d("1.25"))
        );
        assert_eq!(
            (
                rows[0].volume_coins,
                rows[0].volume_quote,
                rows[0].confirmed
            ),
            (None, None, Some(true))
        );
    }

    #[test]
    fn error_captures_and_codes() {
        let rate = include_str!("../../fixtures/http_error_rate_limit_nautilus.json");
        let e = parse_open_interest(429, rate.as_bytes()).err();
        assert_eq!(e.as_ref().map(OkxError::kind), Some(ErrorKind::RateLimited));
        let f = e.map(|e| e.into_fetch_error(ccxt_registry::venue("binance"), None));
        assert!(matches!(f, Some(FetchError::RateLimited { .. })), "{f:?}");
        // 50011 also comes with HTTP 200.
        let e = check_envelope(200, rate.as_bytes(), "x").err();
        assert_eq!(e.map(|e| e.kind()), Some(ErrorKind::RateLimited));

        let nf = include_str!("../../fixtures/http_error_not_found_nautilus.json");
        let e = check_envelope(404, nf.as_bytes(), "x").err();
        assert_eq!(
            e.clone(),
            Some(OkxError::Api {
                status: 404,
                code: "404".into(),
                msg: "Not Found".into()
            })
        );
        let f = e.map(|e| e.into_fetch_error(ccxt_registry::venue("binance"), None));
        assert!(
            matches!(f, Some(FetchError::Http { status: 404, .. })),
            "{f:?}"
        );

        let unknown = br#"{"code":"51001","msg":"Instrument ID, Instrument ID code or Spread ID doesn't exist.","data":[]}"#;
        let f = check_envelope(200, unknown, "x")
            .err()
            .map(|e| e.into_fetch_error(ccxt_registry::venue("binance"), Some("FOO-USDT-SWAP")));
        assert_eq!(
            f,
            Some(FetchError::unknown_symbol(
                ccxt_registry::venue("binance"),
                "FOO-USDT-SWAP"
            ))
        );
        let bad = br#"{"code":"51000","msg":"Parameter bar error","data":[]}"#;
        let f = check_envelope(400, bad, "x")
            .err()
            .map(|e| e.into_fetch_error(ccxt_registry::venue("binance"), None));
        assert!(
            matches!(&f, Some(FetchError::Venue { code, .. }) if code == "51000"),
            "{f:?}"
        );
        assert_eq!(f.map(|f| f.class()), Some(ccxt_venue::ErrorClass::Terminal));
        let busy = br#"{"code":"50001","msg":"Service temporarily unavailable","data":[]}"#;
        let f = check_envelope(503, busy, "x")
            .err()
            .map(|e| e.into_fetch_error(ccxt_registry::venue("binance"), None));
        assert_eq!(
            f.map(|f| f.class()),
            Some(ccxt_venue::ErrorClass::Retryable)
        );
        let html = check_envelope(502, b"<html>bad gateway</html>", "x").err();
        assert_eq!(html.map(|e| e.kind()), Some(ErrorKind::Unavailable));
        let broken = check_envelope(200, b"{\"code\":\"0\",\"data\":[", "x").err();
        assert!(matches!(broken, Some(OkxError::Malformed { .. })));
        let not_array = check_envelope(200, br#"{"code":"0","data":{}}"#, "x").err();
        assert!(matches!(not_array, Some(OkxError::Malformed { .. })));
    }
}
