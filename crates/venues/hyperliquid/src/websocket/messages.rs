//! Messages of the Hyperliquid WebSocket API: `{"channel": …, "data": …}` from the server,
//! `{"method": …}` frames to it.
//!
//! Docs: <https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/websocket>.

use ccxt_venue::tolerant::{opt_f64, opt_u64};
use serde::Deserialize;
use serde_json::{Value, json};

/// A message from the server, by its `channel`.
#[derive(Debug, Clone, PartialEq)]
pub enum WsMessage {
    /// `{"channel":"pong"}`, the answer to [`ping_frame`].
    Pong,
    /// `{"channel":"subscriptionResponse","data":{…}}`, the acknowledgement of a subscription.
    SubscriptionResponse(SubscriptionResponse),
    /// `{"channel":"user","data":{"fills":[…]}}`, the `userEvents` channel.
    User(UserEvent),
    /// `{"channel":"userFills","data":{"isSnapshot":true,"user":"0x…","fills":[…]}}`, the
    /// `userFills` channel (the first message after subscribing is a snapshot of recent fills).
    UserFills(UserFills),
    /// `{"channel":"error","data":"…"}`: the server refused a request, e.g. a subscription.
    Error(String),
    /// Any other channel, kept raw.
    Other {
        /// The channel name.
        channel: String,
        /// Its data, if any.
        data: Option<Value>,
    },
}

/// The acknowledgement of a subscription: the request echoed back.
///
/// ```json
/// {"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{"type":"trades","coin":"SOL"}}}
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SubscriptionResponse {
    /// `subscribe` or `unsubscribe`.
    pub method: String,
    /// The subscription as sent.
    pub subscription: Value,
}

/// Data of the `user` channel. Only fills are read; funding, liquidation and cancel events of
/// the same channel are ignored.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct UserEvent {
    /// The fills, if this event carries fills.
    #[serde(default)]
    pub fills: Vec<WsFill>,
}

/// Data of the `userFills` channel.
///
/// ```json
/// {"isSnapshot": true, "user": "0x2e3d…", "fills": [{"coin": "BTC", …}]}
/// ```
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserFills {
    /// `true` on the first message after subscribing: recent fills, not new ones.
    #[serde(default)]
    pub is_snapshot: Option<bool>,
    /// The user the fills belong to.
    #[serde(default)]
    pub user: Option<String>,
    /// The fills.
    #[serde(default)]
    pub fills: Vec<WsFill>,
}

/// A fill, as pushed on `user`/`userFills` and as REST `userFills`/`userFillsByTime` return
/// it.
///
/// ```json
/// {"coin":"BTC","px":"66653.0","sz":"0.001","side":"A","time":1781528065899,"startPosition":"-0.0213",
///  "dir":"Open Short","closedPnl":"0.0","hash":"0xe29f…","oid":55030848197,"crossed":false,"fee":"0.009997",
///  "tid":745210434703679,"liquidation":{"liquidatedUser":"0x3608…","markPx":"66607.0","method":"market"},
///  "feeToken":"USDC","twapId":null}
/// ```
///
/// Docs: <https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/websocket/subscriptions>
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WsFill {
    /// The coin.
    pub coin: String,
    /// Fill price.
    #[serde(default, deserialize_with = "opt_f64")]
    pub px: Option<f64>,
    /// Fill size in coins.
    #[serde(default, deserialize_with = "opt_f64")]
    pub sz: Option<f64>,
    /// `B` (bid, bought) or `A` (ask, sold).
    pub side: String,
    /// Fill time, UNIX ms.
    #[serde(default, deserialize_with = "opt_u64")]
    pub time: Option<u64>,
    /// The user's position before the fill.
    #[serde(default, deserialize_with = "opt_f64")]
    pub start_position: Option<f64>,
    /// `Open Long`, `Close Short`, …
    #[serde(default)]
    pub dir: Option<String>,
    /// The trade id.
    #[serde(default, deserialize_with = "opt_u64")]
    pub tid: Option<u64>,
    /// Set when the fill is part of a liquidation (on the liquidated user's fill and on the
    /// counterparties').
    #[serde(default)]
    pub liquidation: Option<FillLiquidation>,
}

/// The liquidation a fill belongs to.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FillLiquidation {
    /// The user whose position was liquidated.
    #[serde(default)]
    pub liquidated_user: Option<String>,
    /// Mark price at the liquidation.
    #[serde(default, deserialize_with = "opt_f64")]
    pub mark_px: Option<f64>,
    /// `market` (sent to the book) or `backstop` (taken over by the liquidator vault).
    #[serde(default)]
    pub method: Option<String>,
}

/// `{"method":"ping"}`: keeps the connection alive (the server closes it after 60 s without a
/// message) and is answered with [`WsMessage::Pong`].
pub fn ping_frame() -> Value {
    json!({"method": "ping"})
}

/// `{"method":"subscribe","subscription":…}`, e.g. `{"type":"userEvents","user":"0x…"}`.
pub fn subscribe_frame(subscription: Value) -> Value {
    json!({"method": "subscribe", "subscription": subscription})
}

/// The `userFills` subscription of one user, for [`subscribe_frame`]:
/// `{"type":"userFills","user":"0x…"}`.
pub fn user_fills_subscription(user: &str) -> Value {
    json!({"type": "userFills", "user": user})
}
