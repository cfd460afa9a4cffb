//! Binance USDⓈ-M market-stream payloads (on [`crate::DEFAULT_WS_URL`]) as serde structs,
//! tolerant like the REST ones.

use ccxt_venue::tolerant::{opt_decimal, opt_decimal_text, opt_f64, opt_u64};
use rust_decimal::Decimal;
use serde::Deserialize;

/// The wrapper of a combined stream (`/market/stream?streams=a/b`).
///
/// ```json
/// {"stream": "btcusdt@forceOrder", "data": {"e": "forceOrder", ...}}
/// ```
///
/// <https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams>
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Combined<T> {
    /// The stream name.
    pub stream: String,
    /// The payload.
    pub data: T,
}

/// A `<symbol>@forceOrder` / `!forceOrder@arr` event: the latest liquidation of a symbol within
/// 1000 ms (a sample, not every liquidation).
///
/// ```json
/// {"e": "forceOrder", "E": 1568014460893,
///  "o": {"s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "0.014", "p": "9910",
///        "ap": "9910", "X": "FILLED", "l": "0.014", "z": "0.014", "T": 1568014460893}}
/// ```
///
/// <https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Liquidation-Order-Streams>
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ForceOrderEvent {
    /// Event type, `forceOrder`.
    #[serde(rename = "e", default)]
    pub event_type: Option<String>,
    /// Event time, ms.
    #[serde(rename = "E", default, deserialize_with = "opt_u64")]
    pub event_time: Option<u64>,
    /// The liquidation order.
    #[serde(rename = "o")]
    pub order: ForceOrder,
}

/// The order of a [`ForceOrderEvent`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ForceOrder {
    /// Native symbol.
    #[serde(rename = "s", default)]
    pub symbol: Option<String>,
    /// Order side: `SELL` liquidates a long, `BUY` a short.
    #[serde(rename = "S", default)]
    pub side: Option<String>,
    /// Original quantity.
    #[serde(rename = "q", default, deserialize_with = "opt_f64")]
    pub quantity: Option<f64>,
    /// Order price.
    #[serde(rename = "p", default, deserialize_with = "opt_f64")]
    pub price: Option<f64>,
    /// Average fill price.
    #[serde(rename = "ap", default, deserialize_with = "opt_f64")]
    pub average_price: Option<f64>,
    /// Order status (`FILLED`).
    #[serde(rename = "X", default)]
    pub status: Option<String>,
    /// Last filled quantity.
    #[serde(rename = "l", default, deserialize_with = "opt_f64")]
    pub last_filled: Option<f64>,
    /// Accumulated filled quantity.
    #[serde(rename = "z", default, deserialize_with = "opt_f64")]
    pub filled: Option<f64>,
    /// Trade time, ms.
    #[serde(rename = "T", default, deserialize_with = "opt_u64")]
    pub trade_time: Option<u64>,
}

/// A `<symbol>@markPrice` event (one object) or one element of `!markPrice@arr`.
///
/// ```json
/// {"e": "markPriceUpdate", "E": 1562305380000, "s": "BTCUSDT", "p": "11794.15000000",
///  "i": "11784.62659091", "P": "11784.25641265", "r": "0.00038167", "T": 1562306400000}
/// ```
///
/// <https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Mark-Price-Stream>
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MarkPriceUpdate {
    /// Event time, ms.
    #[serde(rename = "E", default, deserialize_with = "opt_u64")]
    pub event_time: Option<u64>,
    /// Native symbol.
    #[serde(rename = "s", default)]
    pub symbol: Option<String>,
    /// Mark price.
    #[serde(rename = "p", default, deserialize_with = "opt_decimal")]
    pub mark_price: Option<Decimal>,
    /// Index price.
    #[serde(rename = "i", default, deserialize_with = "opt_decimal")]
    pub index_price: Option<Decimal>,
    /// The funding rate to be charged at `T`, exact decimal text.
    #[serde(rename = "r", default, deserialize_with = "opt_decimal_text")]
    pub funding_rate: Option<String>,
    /// Next funding time, ms.
    #[serde(rename = "T", default, deserialize_with = "opt_u64")]
    pub next_funding_time: Option<u64>,
}
