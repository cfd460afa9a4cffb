//! Bybit v5 REST payloads as serde structs.
//!
//! Every answer is an envelope `{retCode, retMsg, result, retExtInfo, time}`. The structs are
//! tolerant: numbers may arrive as JSON numbers or strings (recorded copies stringify `retCode`
//! and `time`), optional fields may be missing, null or `""`, and unknown fields are ignored.
//! Which fields are required is decided by [`super::parse`], which names the missing field.

use ccxt_venue::tolerant::{opt_decimal, opt_decimal_text, opt_f64, opt_u64};
use rust_decimal::Decimal;
use serde::Deserialize;

/// The envelope without its `result`: what an answer that does not decode as data (an error
/// whose `result` has another shape, a proxy's page) is read as, to tell why.
///
/// ```json
/// {"retCode": 10001, "retMsg": "params error: symbol invalid", "result": {}, "retExtInfo": {}, "time": 1672051897447}
/// ```
///
/// <https://bybit-exchange.github.io/docs/v5/error>
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeHead {
    /// `0` on success.
    #[serde(default, deserialize_with = "opt_u64")]
    pub ret_code: Option<u64>,
    /// `OK`, or what went wrong.
    #[serde(default)]
    pub ret_msg: Option<String>,
    /// Server time of the answer, ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub time: Option<u64>,
}

/// A whole envelope with its `result` read as `T`, in one pass over the body: `retCode` and
/// `retMsg` come along, so an error answer whose `result` still fits `T` (Bybit sends `{}`) is
/// told from data without reading the body twice.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<T> {
    /// `0` on success; `None` when the body has no `retCode` (not a Bybit envelope).
    #[serde(default, deserialize_with = "opt_u64")]
    pub ret_code: Option<u64>,
    /// `OK`, or what went wrong.
    #[serde(default)]
    pub ret_msg: Option<String>,
    /// The payload.
    pub result: T,
    /// Server time of the answer, ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub time: Option<u64>,
}

/// The `result` of the list endpoints: `category`, `list`, and `nextPageCursor` where the
/// endpoint pages by cursor (`""` or null when there is no next page).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResult<T> {
    /// `linear`, `inverse`, …
    #[serde(default)]
    pub category: Option<String>,
    /// The symbol, on per-symbol endpoints (open interest).
    #[serde(default)]
    pub symbol: Option<String>,
    /// The rows.
    #[serde(default = "Vec::new")]
    pub list: Vec<T>,
    /// Cursor of the next page.
    #[serde(default)]
    pub next_page_cursor: Option<String>,
}

/// One instrument of `GET /v5/market/instruments-info?category=linear`.
///
/// ```json
/// {"symbol": "BTCUSDT", "contractType": "LinearPerpetual", "status": "Trading",
///  "baseCoin": "BTC", "quoteCoin": "USDT", "settleCoin": "USDT",
///  "launchTime": "1585526400000", "deliveryTime": "0", "fundingInterval": 480,
///  "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375", "isPreListing": false, ...}
/// ```
///
/// <https://bybit-exchange.github.io/docs/v5/market/instrument>
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstrumentItem {
    /// Native symbol (`BTCUSDT`, USDC perpetual `BTCPERP`, future `BTC-26DEC25`).
    #[serde(default)]
    pub symbol: Option<String>,
    /// `LinearPerpetual`, `LinearFutures`, …
    #[serde(default)]
    pub contract_type: Option<String>,
    /// `PreLaunch`, `Trading`, `Delivering`, `Closed`.
    #[serde(default)]
    pub status: Option<String>,
    /// Base coin.
    #[serde(default)]
    pub base_coin: Option<String>,
    /// Quote coin.
    #[serde(default)]
    pub quote_coin: Option<String>,
    /// Settlement coin.
    #[serde(default)]
    pub settle_coin: Option<String>,
    /// Launch time, ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub launch_time: Option<u64>,
    /// Delisting time of a perpetual, ms (`0` when none is set).
    #[serde(default, deserialize_with = "opt_u64")]
    pub delivery_time: Option<u64>,
    /// Funding interval, minutes.
    #[serde(default, deserialize_with = "opt_u64")]
    pub funding_interval: Option<u64>,
    /// Funding rate cap, exact decimal text.
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub upper_funding_rate: Option<String>,
    /// Funding rate floor, exact decimal text.
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub lower_funding_rate: Option<String>,
    /// Price rules; `tickSize` gives the price precision.
    #[serde(default)]
    pub price_filter: Option<PriceFilter>,
    /// Quantity rules; `qtyStep` gives the size precision.
    #[serde(default)]
    pub lot_size_filter: Option<LotSizeFilter>,
}

/// `priceFilter` of an instrument: `{"minPrice": "0.10", "maxPrice": "199999.80", "tickSize": "0.10"}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceFilter {
    /// Price tick, exact decimal text.
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub tick_size: Option<String>,
}

/// `lotSizeFilter` of an instrument: `{"maxOrderQty": "100.000", "minOrderQty": "0.001", "qtyStep": "0.001", …}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LotSizeFilter {
    /// Quantity step, exact decimal text.
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub qty_step: Option<String>,
}

/// One symbol of `GET /v5/market/tickers?category=linear` (all symbols in one call), also the
/// `data` of the `tickers.{symbol}` WebSocket topic (where a `delta` omits unchanged fields).
///
/// ```json
/// {"symbol": "BTCUSDT", "markPrice": "66666.60", "indexPrice": "115418.19",
///  "openInterest": "492373.72", "openInterestValue": "32824881841.75",
///  "fundingRate": "-0.005", "nextFundingTime": "1760342400000", "fundingIntervalHour": "8",
///  "fundingCap": "0.005", ...}
/// ```
///
/// <https://bybit-exchange.github.io/docs/v5/market/tickers>
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ticker {
    /// Native symbol.
    #[serde(default)]
    pub symbol: Option<String>,
    /// Mark price.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub mark_price: Option<Decimal>,
    /// Index price.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub index_price: Option<Decimal>,
    /// Open interest in base units (linear) as Bybit reports it.
    #[serde(default, deserialize_with = "opt_f64")]
    pub open_interest: Option<f64>,
    /// Open interest in USD notional.
    #[serde(default, deserialize_with = "opt_f64")]
    pub open_interest_value: Option<f64>,
    /// The current period's funding rate, exact decimal text.
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub funding_rate: Option<String>,
    /// When it will be charged, ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub next_funding_time: Option<u64>,
    /// Funding interval, whole hours.
    #[serde(default, deserialize_with = "opt_u64")]
    pub funding_interval_hour: Option<u64>,
    /// Funding rate cap, exact decimal text.
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub funding_cap: Option<String>,
}

/// One row of `GET /v5/market/open-interest` (newest first).
///
/// ```json
/// {"retCode": 0, "retMsg": "OK", "result": {"symbol": "BTCUSDT", "category": "linear",
///   "list": [{"openInterest": "62129.45500000", "timestamp": "1739725200000"}],
///   "nextPageCursor": "lastid%3D10860016%26lasttime%3D1739725200"}, "time": 1739725954780}
/// ```
///
/// <https://bybit-exchange.github.io/docs/v5/market/open-interest>
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenInterestRow {
    /// Open interest, base units for linear contracts.
    #[serde(default, deserialize_with = "opt_f64")]
    pub open_interest: Option<f64>,
    /// Single-side open interest (added 2026).
    #[serde(default, deserialize_with = "opt_f64")]
    pub single_open_interest: Option<f64>,
    /// Bucket time, ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub timestamp: Option<u64>,
}

/// One row of `GET /v5/market/funding/history` (newest first).
///
/// ```json
/// {"retCode": 0, "retMsg": "OK", "result": {"category": "linear",
///   "list": [{"symbol": "ETHPERP", "fundingRate": "0.0001", "fundingRateTimestamp": "1672041600000"}]},
///  "time": 1672051897447}
/// ```
///
/// <https://bybit-exchange.github.io/docs/v5/market/history-fund-rate>
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FundingHistoryRow {
    /// Native symbol.
    #[serde(default)]
    pub symbol: Option<String>,
    /// The rate charged, exact decimal text.
    #[serde(default, deserialize_with = "opt_decimal_text")]
    pub funding_rate: Option<String>,
    /// When it was charged, ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub funding_rate_timestamp: Option<u64>,
}
