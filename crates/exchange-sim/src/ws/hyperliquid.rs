//! Hyperliquid WebSocket (`wss://api.hyperliquid.xyz/ws`): the protocol only. Hyperliquid has
//! no public liquidation channel, so no subscription sends data here; liquidations are read
//! with `POST /info {"type":"userFillsByTime"}` (see [`crate::ws`]).
//!
//! * `{"method":"subscribe","subscription":{"type":"trades","coin":"SOL"}}` →
//!   `{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{…}}}`
//!   for the documented subscription types (with their required `coin`/`user`/`interval`);
//!   `unsubscribe` likewise.
//! * Errors are `{"channel":"error","data":"<text>"}`: `Error parsing JSON into valid
//!   websocket request: <request>` (not JSON, unknown method or type, missing field),
//!   `Already subscribed: <subscription>`, `Already unsubscribed: <subscription>`,
//!   `Cannot track more than 1000 total subscriptions`, and for the `refuse_subscribe` fault
//!   `Subscription refused: <subscription>` (wordings partly guessed).
//! * `{"method":"ping"}` → `{"channel":"pong"}`.
//! * The server closes a connection it has not heard from (any frame) for
//!   `hyperliquid_idle_secs` (60 s): close 1000 "idle timeout".

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::Venue;
use crate::server::{AppState, ConnHandle};
use crate::ws::conn::{Cx, End, client_end, earliest, refuse_if_down, sleep_until};
use crate::ws::log::{CloseReason, add};

/// Subscription types and the fields each needs.
const TYPES: [(&str, &[&str]); 26] = [
    ("allMids", &[]),
    ("notification", &["user"]),
    ("webData2", &["user"]),
    ("webData3", &["user"]),
    ("twapStates", &["user"]),
    ("clearinghouseState", &["user"]),
    ("openOrders", &["user"]),
    ("candle", &["coin", "interval"]),
    ("l2Book", &["coin"]),
    ("trades", &["coin"]),
    ("orderUpdates", &["user"]),
    ("userEvents", &["user"]),
    ("userFills", &["user"]),
    ("userFundings", &["user"]),
    ("userNonFundingLedgerUpdates", &["user"]),
    ("activeAssetCtx", &["coin"]),
    ("activeAssetData", &["user", "coin"]),
    ("userTwapSliceFills", &["user"]),
    ("userTwapHistory", &["user"]),
    ("bbo", &["coin"]),
    ("spotState", &["user"]),
    ("allDexsClearinghouseState", &["user"]),
    ("allDexsAssetCtxs", &[]),
    ("outcomeMetaUpdates", &[]),
    ("fastAssetCtxs", &[]),
    ("spotAssetCtxs", &[]),
];

/// `GET /ws`.
pub(crate) async fn hyperliquid_ws(
    ws: WebSocketUpgrade,
    State(st): State<Arc<AppState>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
) -> Response {
    if let Some(r) = refuse_if_down(&st, Venue::Hyperliquid, &conn) {
        return r;
    }
    ws.on_upgrade(move |socket| serve(socket, st, conn))
}

fn error(text: String) -> String {
    json!({"channel": "error", "data": text}).to_string()
}

fn valid_subscription(sub: &Value) -> bool {
    let Some(kind) = sub.get("type").and_then(Value::as_str) else {
        return false;
    };
    TYPES
        .iter()
        .find(|(t, _)| *t == kind)
        .is_some_and(|(_, fields)| {
            fields
                .iter()
                .all(|f| sub.get(*f).is_some_and(Value::is_string))
        })
}

/// One Hyperliquid connection.
struct Hyperliquid {
    subs: Vec<String>,
}

impl Hyperliquid {
    /// Answers a request frame; `None`: no answer.
    fn request(&mut self, cx: &mut Cx, text: &str) -> Option<String> {
        let st = cx.st.clone();
        let counters = st.ws.counters(Venue::Hyperliquid);
        let parse_error = || {
            error(format!(
                "Error parsing JSON into valid websocket request: {text}"
            ))
        };
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            return Some(parse_error());
        };
        let method = value.get("method").and_then(Value::as_str);
        match method {
            Some("ping") => {
                add(&counters.pings_received, 1);
                if cx.no_pong() {
                    return None;
                }
                add(&counters.pongs_sent, 1);
                Some(json!({"channel": "pong"}).to_string())
            }
            Some(m @ ("subscribe" | "unsubscribe")) => {
                let Some(sub) = value.get("subscription").filter(|s| valid_subscription(s)) else {
                    if m == "subscribe" {
                        add(&counters.subscribe_requests, 1);
                        add(&counters.subscribe_rejected, 1);
                    }
                    return Some(parse_error());
                };
                let key = sub.to_string();
                let ack = json!({"channel": "subscriptionResponse",
                                 "data": {"method": m, "subscription": sub}})
                .to_string();
                if m == "unsubscribe" {
                    let before = self.subs.len();
                    self.subs.retain(|s| *s != key);
                    cx.set_subscriptions(self.subs.len() as u64);
                    return Some(if self.subs.len() < before {
                        ack
                    } else {
                        error(format!("Already unsubscribed: {key}"))
                    });
                }
                add(&counters.subscribe_requests, 1);
                let refused = if cx.faults.refuse_subscribe {
                    Some(format!("Subscription refused: {key}"))
                } else if self.subs.contains(&key) {
                    Some(format!("Already subscribed: {key}"))
                } else if self.subs.len() >= cx.st.ws.config.hyperliquid_max_subscriptions {
                    Some(format!(
                        "Cannot track more than {} total subscriptions",
                        cx.st.ws.config.hyperliquid_max_subscriptions
                    ))
                } else {
                    None
                };
                if let Some(msg) = refused {
                    add(&counters.subscribe_rejected, 1);
                    return Some(error(msg));
                }
                self.subs.push(key);
                cx.set_subscriptions(self.subs.len() as u64);
                Some(ack)
            }
            _ => Some(parse_error()),
        }
    }
}

async fn serve(mut socket: WebSocket, st: Arc<AppState>, conn: ConnHandle) {
    let mut cx = Cx::new(st.clone(), Venue::Hyperliquid, conn);
    let idle = Duration::from_secs_f64(st.ws.config.hyperliquid_idle_secs);
    let mut h = Hyperliquid { subs: Vec::new() };
    let mut last_heard = cx.opened;
    let counters = st.ws.counters(Venue::Hyperliquid);
    let end = loop {
        let deadline = earliest(&[Some(last_heard + idle), cx.rotate_deadline()]);
        tokio::select! {
            biased;
            end = cx.control_changed() => {
                if let Some(end) = end {
                    break end;
                }
            }
            msg = socket.recv() => {
                if let Some(end) = client_end(&msg) {
                    break end;
                }
                last_heard = Instant::now();
                match msg {
                    Some(Ok(Message::Text(text))) => {
                        add(&counters.messages_received, 1);
                        if let Some(reply) = h.request(&mut cx, text.as_str())
                            && cx.reply(&mut socket, reply).await.is_err()
                        {
                            break End::Client(CloseReason::ClientGone);
                        }
                    }
                    Some(Ok(Message::Ping(_))) => cx.saw_ping(),
                    Some(Ok(Message::Pong(_))) => add(&counters.pongs_received, 1),
                    _ => add(&counters.messages_received, 1),
                }
            }
            () = sleep_until(deadline) => {
                let now = Instant::now();
                if cx.rotate_deadline().is_some_and(|d| d <= now) {
                    break End::Close(CloseReason::Rotate, 1000, "connection lifetime reached");
                }
                if last_heard + idle <= now {
                    break End::Close(CloseReason::IdleTimeout, 1000, "idle timeout");
                }
            }
        }
    };
    cx.finish(socket, end).await;
}
