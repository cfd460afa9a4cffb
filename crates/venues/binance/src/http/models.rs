//! Binance USDⓈ-M REST payloads as serde structs.
//!
//! Every struct is tolerant: numbers may arrive as JSON numbers or strings, optional fields may
//! be missing or null, and unknown fields are ignored (Binance adds fields without notice). Which
//! fields are required is decided by the parsers in [`super::parse`], which name the missing
//! field in their error.

use ccxt_venue::tolerant::{opt_decimal, opt_decimal_text, opt_f64, opt_u64};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};

/// An error body, sent with HTTP 4xx (and on rare occasions with 200).
///
/// ```json
/// {"code": -1121, "msg": "Invalid symbol."}
/// ```
///
/// <https://developers.binance.com/docs/derivatives/usds-margined-futures/error-code>
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ErrorBody {
    /// The error code (`-1121`), kept as text; a number or a string on the wire.
    #[serde(deserialize_with = "code_text")]
    pub code: String,
    /// The message.
    #[serde(default)]
    pub msg: Option<String>,
}

/// Reads an error code given as a JSON number or string.
fn code_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => Ok(n.to_string()),
        serde_json::Value::String(s) => Ok(s),
        other => Err(serde::de::Error::custom(format!("{other} is not a code"))),
    }
}

/// `GET /fapi/v1/exchangeInfo`: the listed contracts.
///
/// ```json
/// {"timezone": "UTC", "serverTime": 1645233611962, "rateLimits": [...],
///  "symbols": [{"symbol": "BTCUSDT", "pair": "BTCUSDT", "contractType": "PERPETUAL",
///               "deliveryDate": 4133404802000, "onboardDate": 1569398400000,
///               "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT",
///               "marginAsset": "USDT", ...}]}
/// ```
///
/// <https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Exchange-Information>
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeInfo {
    /// Server time, ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub server_time: Option<u64>,
    /// Every contract, of every type and status.
    #[serde(default)]
    pub symbols: Vec<ExchangeSymbol>,
}

/// One contract of [`ExchangeInfo`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeSymbol {
    /// Native symbol (`BTCUSDT`, delivery `BTCUSDT_220325`).
    #[serde(default)]
    pub symbol: Option<String>,
    /// Underlying pair.
    #[serde(default)]
    pub pair: Option<String>,
    /// `PERPETUAL`, `TRADIFI_PERPETUAL`, `CURRENT_QUARTER`, `NEXT_QUARTER`, …
    #[serde(default)]
    pub contract_type: Option<String>,
    /// `TRADING`, `PENDING_TRADING`, `SETTLING`, `CLOSE`, …
    #[serde(default)]
    pub status: Option<String>,
    /// Base asset (`BTC`).
    #[serde(default)]
    pub base_asset: Option<String>,
    /// Quote asset (`USDT`).
    #[serde(default)]
    pub quote_asset: Option<String>,
    /// Margin asset (`USDT`).
    #[serde(default)]
    pub margin_asset: Option<String>,
    /// Listing time, ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub onboard_date: Option<u64>,
    /// Delivery time, ms (`4133404800000` for perpetuals).
    #[serde(default, deserialize_with = "opt_u64")]
    pub delivery_date: Option<u64>,
    /// Trading rules; `PRICE_FILTER.tickSize` and `LOT_SIZE.stepSize` give the precision.
    #[serde(default)]
    pub filters: Vec<SymbolFilter>,
}

/// One entry of [`ExchangeSymbol::filters`] (only the fields the precision needs).
///
/// ```json
/// {"filterType": "PRICE_FILTER", "minPrice": "556.80", "maxPrice": "4529764", "tickSize": "0.10"}
/// {"filterType": "LOT_SIZE", "stepSize": "0.001", "maxQty": "1000", "minQty": "0.001"}
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymbolFilter {
    /// `PRICE_FILTER`, `LOT_SIZE`, `MARKET_LOT_SIZE`, …
    #[serde(default)]
    pub filter_type: Option<String>,
    /// Price tick (`PRICE_FILTER`), exact decimal text.
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub tick_size: Option<String>,
    /// Quantity step (`LOT_SIZE`), exact decimal text.
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub step_size: Option<String>,
}

/// One entry of `GET /fapi/v1/fundingInfo`, which lists only the symbols whose funding cap,
/// floor or interval was adjusted; every other symbol funds every 8 hours.
///
/// ```json
/// [{"symbol": "BLZUSDT", "adjustedFundingRateCap": "0.02500000",
///   "adjustedFundingRateFloor": "-0.02500000", "fundingIntervalHours": 8, "disclaimer": false}]
/// ```
///
/// <https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Get-Funding-Rate-Info>
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FundingInfo {
    /// Native symbol.
    #[serde(default)]
    pub symbol: Option<String>,
    /// Funding rate cap, exact decimal text.
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub adjusted_funding_rate_cap: Option<String>,
    /// Funding rate floor, exact decimal text.
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub adjusted_funding_rate_floor: Option<String>,
    /// Funding interval in hours.
    #[serde(default, deserialize_with = "opt_u64")]
    pub funding_interval_hours: Option<u64>,
}

/// `GET /fapi/v1/openInterest?symbol=…`: current open interest of one symbol.
///
/// ```json
/// {"openInterest": "10659.509", "symbol": "BTCUSDT", "time": 1589437530011}
/// ```
///
/// <https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Open-Interest>
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenInterest {
    /// Native symbol.
    #[serde(default)]
    pub symbol: Option<String>,
    /// Open interest in base units.
    #[serde(default, deserialize_with = "opt_f64")]
    pub open_interest: Option<f64>,
    /// Transaction time, ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub time: Option<u64>,
}

/// One symbol of `GET /fapi/v1/premiumIndex`: mark price and the live funding estimate.
/// Without `symbol` the endpoint answers an array of these.
///
/// ```json
/// {"symbol": "BTCUSDT", "markPrice": "11793.63104562", "indexPrice": "11781.80495970",
///  "estimatedSettlePrice": "11781.16138815", "lastFundingRate": "0.00038246",
///  "nextFundingTime": 1597392000000, "interestRate": "0.00010000", "time": 1597370495002}
/// ```
///
/// <https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Mark-Price>
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PremiumIndex {
    /// Native symbol.
    #[serde(default)]
    pub symbol: Option<String>,
    /// Mark price.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub mark_price: Option<Decimal>,
    /// Index price.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub index_price: Option<Decimal>,
    /// The funding rate that will be charged at `nextFundingTime`, exact decimal text.
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub last_funding_rate: Option<String>,
    /// Interest rate, exact decimal text.
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub interest_rate: Option<String>,
    /// Next funding time, ms (`0` for contracts that no longer fund).
    #[serde(default, deserialize_with = "opt_u64")]
    pub next_funding_time: Option<u64>,
    /// Time of the figures, ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub time: Option<u64>,
}

/// One row of `GET /futures/data/openInterestHist` (ascending; the last 30 days only).
///
/// ```json
/// [{"symbol": "BTCUSDT", "sumOpenInterest": "20403.63700000",
///   "sumOpenInterestValue": "150570784.07809979", "timestamp": "1583127900000"}]
/// ```
///
/// `timestamp` is a string in the docs example and a number in live answers.
///
/// <https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Open-Interest-Statistics>
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenInterestHist {
    /// Native symbol.
    #[serde(default)]
    pub symbol: Option<String>,
    /// Open interest in base units.
    #[serde(default, deserialize_with = "opt_f64")]
    pub sum_open_interest: Option<f64>,
    /// Open interest in quote (USD) notional.
    #[serde(default, deserialize_with = "opt_f64")]
    pub sum_open_interest_value: Option<f64>,
    /// Bucket time, ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub timestamp: Option<u64>,
}

/// One row of `GET /fapi/v1/fundingRate`: a settled funding rate (ascending).
///
/// ```json
/// [{"symbol": "BTCUSDT", "fundingRate": "-0.03750000", "fundingTime": 1570608000000,
///   "markPrice": "34287.54619963"}]
/// ```
///
/// `markPrice` is absent in older answers.
///
/// <https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Get-Funding-Rate-History>
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FundingRate {
    /// Native symbol.
    #[serde(default)]
    pub symbol: Option<String>,
    /// The rate charged, exact decimal text.
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub funding_rate: Option<String>,
    /// When it was charged, ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub funding_time: Option<u64>,
    /// Mark price at the charge.
    #[serde(default, deserialize_with = "opt_f64")]
    pub mark_price: Option<f64>,
}

/// A JSON value that is either one object or an array of them (`premiumIndex` answers an
/// object when asked for one symbol and an array otherwise).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// An array.
    Many(Vec<T>),
    /// A single object.
    One(T),
}

impl<T> OneOrMany<T> {
    /// The items as a vector.
    pub fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::Many(v) => v,
            OneOrMany::One(t) => vec![t],
        }
    }
}
