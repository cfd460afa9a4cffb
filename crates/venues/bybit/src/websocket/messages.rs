//! Bybit v5 public-stream payloads (on [`crate::DEFAULT_WS_URL`]) as serde structs, tolerant like
//! the REST ones. Tickers reuse [`crate::http::models::Ticker`].

use ccxt_venue::tolerant::{opt_f64, opt_u64};
use serde::Deserialize;

/// A topic message: `{"topic": "...", "type": "snapshot"|"delta", "ts": ms, "data": ...}`.
///
/// <https://bybit-exchange.github.io/docs/v5/ws/connect>
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TopicMessage<T> {
    /// The topic (`allLiquidation.BTCUSDT`, `tickers.BTCUSDT`).
    #[serde(default)]
    pub topic: Option<String>,
    /// `snapshot` or `delta` (a delta omits unchanged fields).
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// When the system generated the data, ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub ts: Option<u64>,
    /// Cross sequence (tickers).
    #[serde(default, deserialize_with = "opt_u64")]
    pub cs: Option<u64>,
    /// The payload.
    pub data: T,
}

/// One liquidation of `allLiquidation.{symbol}` (pushed every 500 ms, all liquidations).
///
/// ```json
/// {"topic": "allLiquidation.ROSEUSDT", "type": "snapshot", "ts": 1739502303204,
///  "data": [{"T": 1739502302929, "s": "ROSEUSDT", "S": "Sell", "v": "20000", "p": "0.04499"}]}
/// ```
///
/// `S` is the side of the *position*: `Buy` means a long position was liquidated. `p` is the
/// bankruptcy price.
///
/// <https://bybit-exchange.github.io/docs/v5/websocket/public/all-liquidation>
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AllLiquidation {
    /// Time, ms.
    #[serde(rename = "T", default, deserialize_with = "opt_u64")]
    pub time: Option<u64>,
    /// Native symbol.
    #[serde(rename = "s", default)]
    pub symbol: Option<String>,
    /// Position side, `Buy` (long liquidated) or `Sell` (short liquidated).
    #[serde(rename = "S", default)]
    pub side: Option<String>,
    /// Executed size, base units.
    #[serde(rename = "v", default, deserialize_with = "opt_f64")]
    pub size: Option<f64>,
    /// Bankruptcy price.
    #[serde(rename = "p", default, deserialize_with = "opt_f64")]
    pub price: Option<f64>,
}

/// The `data` of the deprecated `liquidation.{symbol}` topic (at most one liquidation per
/// second; docs page removed 2025-11-19).
///
/// ```json
/// {"topic": "liquidation.BTCUSDT", "type": "snapshot", "ts": 1703485237953,
///  "data": {"updatedTime": 1703485237953, "symbol": "BTCUSDT", "side": "Sell",
///           "size": "0.003", "price": "43511.70"}}
/// ```
///
/// Read for completeness only: the docs' versions disagree on whether `side` is the order's or
/// the position's side, so it is not turned into [`ccxt_model::Liquidation`]s. Use
/// `allLiquidation`.
///
/// <https://bybit-exchange.github.io/docs/v5/websocket/public/liquidation>
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegacyLiquidation {
    /// Time, ms (the docs table says `updateTime`, the example `updatedTime`).
    #[serde(default, alias = "updateTime", deserialize_with = "opt_u64")]
    pub updated_time: Option<u64>,
    /// Native symbol.
    #[serde(default)]
    pub symbol: Option<String>,
    /// `Buy` or `Sell`.
    #[serde(default)]
    pub side: Option<String>,
    /// Size.
    #[serde(default, deserialize_with = "opt_f64")]
    pub size: Option<f64>,
    /// Price.
    #[serde(default, deserialize_with = "opt_f64")]
    pub price: Option<f64>,
}

/// The answer to a `subscribe` or `ping` frame.
///
/// ```json
/// {"success": true, "ret_msg": "pong", "conn_id": "465772b1-...", "req_id": "", "op": "ping"}
/// ```
///
/// <https://bybit-exchange.github.io/docs/v5/ws/connect>
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ControlMessage {
    /// Whether the operation succeeded.
    #[serde(default)]
    pub success: Option<bool>,
    /// `pong`, `""` or an error message.
    #[serde(default)]
    pub ret_msg: Option<String>,
    /// Connection id.
    #[serde(default)]
    pub conn_id: Option<String>,
    /// The `req_id` of the frame answered.
    #[serde(default)]
    pub req_id: Option<String>,
    /// `subscribe`, `unsubscribe`, `ping`.
    #[serde(default)]
    pub op: Option<String>,
}
