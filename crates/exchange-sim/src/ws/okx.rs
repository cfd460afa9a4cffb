//! OKX v5 public WebSocket (`wss://ws.okx.com:8443/ws/v5/public`): the `liquidation-orders`
//! channel.
//!
//! * `{"id":"1","op":"subscribe","args":[{"channel":"liquidation-orders","instType":"SWAP"}]}`
//!   → one ack per arg `{"id":"1","event":"subscribe","arg":{"channel":"liquidation-orders",
//!   "instType":"SWAP"},"connId":"a4d3ae55"}` (`id` echoed only when sent). `instType` `SWAP`
//!   carries every swap (USDT-margined, inverse, stock perpetuals); `FUTURES`, `MARGIN`,
//!   `OPTION` are acknowledged and stay quiet (the simulator lists no such instruments).
//!   Each bad arg gets an error event and the good args of the same request are still
//!   subscribed (how OKX treats a mixed request is not documented):
//!   `{"event":"error","code":"60018","msg":"Wrong URL or channel:<channel>,instType:<t>
//!   doesn't exist. …","connId":…}` for another channel or instType, `60013` "Invalid args"
//!   for an arg without `instType`; text that is not a JSON request: `60012` `Invalid
//!   request: <text>`; an unknown op: `60019` `Invalid OP: <op>`. The `refuse_subscribe` fault
//!   answers every subscription with the 60018 error. `op: unsubscribe` → `event: unsubscribe`.
//! * The text `ping` → the text `pong`.
//! * Data: every 100 ms tick, one frame per instrument with that tick's liquidations:
//!   `{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0",
//!   "bkPx":"94500.1","ccy":"","posSide":"long","side":"sell","sz":"12","ts":"1767225600000"}],
//!   "instFamily":"BTC-USDT","instId":"BTC-USDT-SWAP","instType":"SWAP","uly":"BTC-USDT"}]}`.
//!   `side` is the liquidation order's side (`sell` closes a long), `posSide` the position
//!   (`long`/`short`; never `net` here), `sz` contracts on the instrument's `lotSz`, `bkPx` on
//!   its `tickSz`.
//! * A connection that has had nothing sent to it (no data, no ack, no `pong`) for
//!   `okx_idle_secs` (30 s) is closed with code 4004 "No data received in 30s" (not while the
//!   `half_open` fault keeps it silent on purpose).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use futures::SinkExt;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::Venue;
use crate::data::mix;
use crate::server::{AppState, ConnHandle, wall_ms};
use crate::ws::conn::{Cx, End, client_end, earliest, garble, refuse_if_down, sleep_until};
use crate::ws::generator::{Batch, LiqEvent, SymTable, write_units};
use crate::ws::log::{CloseReason, SentRec, StreamKind, add};

const CHANNEL: &str = "liquidation-orders";
const INST_TYPES: [&str; 4] = ["SWAP", "FUTURES", "MARGIN", "OPTION"];

/// `GET /ws/v5/public`.
pub(crate) async fn okx_public(
    ws: WebSocketUpgrade,
    State(st): State<Arc<AppState>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
) -> Response {
    if let Some(r) = refuse_if_down(&st, Venue::Okx, &conn) {
        return r;
    }
    ws.on_upgrade(move |socket| serve(socket, st, conn))
}

/// One OKX connection.
struct Okx {
    table: Arc<SymTable>,
    conn_id: String,
    /// Subscribed instTypes of `liquidation-orders`.
    subs: Vec<String>,
    last_sent: Instant,
    frame: String,
}

fn not_exist(channel: &str, inst_type: &str) -> String {
    format!(
        "Wrong URL or channel:{channel},instType:{inst_type} doesn't exist. Please use the correct URL, channel and parameters referring to API document."
    )
}

impl Okx {
    fn event(&self, id: Option<&str>, event: &str, arg: Option<&Value>) -> String {
        let mut v = json!({"event": event, "connId": self.conn_id});
        if let Some(id) = id {
            v["id"] = json!(id);
        }
        if let Some(arg) = arg {
            v["arg"] = arg.clone();
        }
        v.to_string()
    }

    fn error(&self, id: Option<&str>, code: &str, msg: &str) -> String {
        let mut v = json!({"event": "error", "code": code, "msg": msg, "connId": self.conn_id});
        if let Some(id) = id {
            v["id"] = json!(id);
        }
        v.to_string()
    }

    /// Answers a text frame (several replies for several args).
    fn request(&mut self, cx: &mut Cx, text: &str) -> Vec<String> {
        let st = cx.st.clone();
        let counters = st.ws.counters(Venue::Okx);
        if text == "ping" {
            add(&counters.pings_received, 1);
            if cx.no_pong() {
                return Vec::new();
            }
            add(&counters.pongs_sent, 1);
            return vec!["pong".to_string()];
        }
        let invalid = || format!("Invalid request: {text}");
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            return vec![self.error(None, "60012", &invalid())];
        };
        let id = value.get("id").and_then(Value::as_str).map(str::to_string);
        let id = id.as_deref();
        let op = value.get("op").and_then(Value::as_str).unwrap_or_default();
        let Some(args) = value.get("args").and_then(Value::as_array) else {
            if op == "subscribe" || op == "unsubscribe" {
                return vec![self.error(id, "60012", &invalid())];
            }
            return vec![self.error(id, "60019", &format!("Invalid OP: {op}"))];
        };
        match op {
            "subscribe" => {
                add(&counters.subscribe_requests, 1);
                let replies = self.subscribe(cx, id, args);
                if replies.iter().any(|r| r.contains(r#""event":"error""#)) {
                    add(&counters.subscribe_rejected, 1);
                }
                replies
            }
            "unsubscribe" => {
                let mut replies = Vec::new();
                for arg in args {
                    let t = arg.get("instType").and_then(Value::as_str).unwrap_or("");
                    self.subs.retain(|s| s != t);
                    replies.push(self.event(id, "unsubscribe", Some(arg)));
                }
                cx.set_subscriptions(self.subs.len() as u64);
                replies
            }
            other => vec![self.error(id, "60019", &format!("Invalid OP: {other}"))],
        }
    }

    fn subscribe(&mut self, cx: &mut Cx, id: Option<&str>, args: &[Value]) -> Vec<String> {
        let mut replies = Vec::new();
        for arg in args {
            let channel = arg.get("channel").and_then(Value::as_str).unwrap_or("");
            let inst_type = arg.get("instType").and_then(Value::as_str);
            if cx.faults.refuse_subscribe {
                replies.push(self.error(id, "60018", &not_exist(channel, inst_type.unwrap_or(""))));
                continue;
            }
            match (channel, inst_type) {
                (CHANNEL, Some(t)) if INST_TYPES.contains(&t) => {
                    if !self.subs.iter().any(|s| s == t) {
                        self.subs.push(t.to_string());
                    }
                    let arg = json!({"channel": CHANNEL, "instType": t});
                    replies.push(self.event(id, "subscribe", Some(&arg)));
                }
                (CHANNEL, None) => replies.push(self.error(id, "60013", "Invalid args")),
                (channel, t) => {
                    replies.push(self.error(id, "60018", &not_exist(channel, t.unwrap_or(""))));
                }
            }
        }
        cx.set_subscriptions(self.subs.len() as u64);
        replies
    }

    fn write_frame(&mut self, sym: u32, events: &[&LiqEvent]) {
        let f = &mut self.frame;
        f.clear();
        let inst = self.table.symbol(sym);
        let family = inst.strip_suffix("-SWAP").unwrap_or(inst);
        let _ = write!(
            f,
            r#"{{"arg":{{"channel":"{CHANNEL}","instType":"SWAP"}},"data":[{{"details":["#
        );
        for (i, ev) in events.iter().enumerate() {
            if i > 0 {
                f.push(',');
            }
            let (side, pos) = if ev.long {
                ("sell", "long")
            } else {
                ("buy", "short")
            };
            f.push_str(r#"{"bkLoss":"0","bkPx":""#);
            write_units(f, ev.price as i64, ev.pdp, false);
            let _ = write!(f, r#"","ccy":"","posSide":"{pos}","side":"{side}","sz":""#);
            write_units(f, ev.qty as i64, ev.qdp, false);
            let _ = write!(f, r#"","ts":"{}"}}"#, ev.t);
        }
        let _ = write!(
            f,
            r#"],"instFamily":"{family}","instId":"{inst}","instType":"SWAP","uly":"{family}"}}]}}"#
        );
    }

    /// Sends one frame per instrument of the batch; `Err` if the client is gone.
    async fn send_batch(
        &mut self,
        cx: &mut Cx,
        socket: &mut WebSocket,
        batch: &Batch,
    ) -> Result<(), ()> {
        if cx.half_open() || !self.subs.iter().any(|s| s == "SWAP") || batch.events.is_empty() {
            return Ok(());
        }
        let mut groups: Vec<(u32, Vec<&LiqEvent>)> = Vec::new();
        let mut at: HashMap<u32, usize> = HashMap::new();
        for ev in &batch.events {
            let i = *at.entry(ev.sym).or_insert_with(|| {
                groups.push((ev.sym, Vec::new()));
                groups.len() - 1
            });
            if let Some(g) = groups.get_mut(i) {
                g.1.push(ev);
            }
        }
        let st = cx.st.clone();
        let counters = st.ws.counters(Venue::Okx);
        let mut recs = Vec::new();
        for (sym, events) in &groups {
            self.write_frame(*sym, events);
            let malformed = cx.draw_malformed();
            let text = if malformed {
                add(&counters.malformed_frames, 1);
                garble(&self.frame)
            } else {
                self.frame.clone()
            };
            socket
                .feed(Message::Text(text.into()))
                .await
                .map_err(|_| ())?;
            recs.extend(
                events
                    .iter()
                    .map(|ev| SentRec::new(ev, cx.id, StreamKind::Symbol, malformed, 0)),
            );
        }
        let flushed = socket.flush().await;
        self.last_sent = Instant::now();
        let frames = groups.len() as u64;
        add(&counters.frames_sent, frames);
        add(&counters.data_frames_sent, frames);
        add(&counters.sent, recs.len() as u64);
        let sent_ms = wall_ms();
        cx.st
            .ws
            .log(Venue::Okx)
            .extend(recs.into_iter().map(|r| r.at(sent_ms)));
        flushed.map_err(|_| ())
    }
}

async fn serve(mut socket: WebSocket, st: Arc<AppState>, conn: ConnHandle) {
    let mut cx = Cx::new(st.clone(), Venue::Okx, conn);
    let Some(feed) = st.ws.feed(Venue::Okx) else {
        return;
    };
    let mut rx = feed.subscribe();
    let idle = Duration::from_secs_f64(st.ws.config.okx_idle_secs);
    let mut o = Okx {
        table: st.ws.table(Venue::Okx).clone(),
        conn_id: format!("{:08x}", mix(st.seed ^ 0x0C5, cx.id) >> 32),
        subs: Vec::new(),
        last_sent: cx.opened,
        frame: String::new(),
    };
    let counters = st.ws.counters(Venue::Okx);
    let end = loop {
        let deadline = earliest(&[Some(o.last_sent + idle), cx.rotate_deadline()]);
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
                match msg {
                    Some(Ok(Message::Text(text))) => {
                        add(&counters.messages_received, 1);
                        let mut gone = false;
                        for reply in o.request(&mut cx, text.as_str()) {
                            if cx.reply(&mut socket, reply).await.is_err() {
                                gone = true;
                                break;
                            }
                            if !cx.half_open() {
                                o.last_sent = Instant::now();
                            }
                        }
                        if gone {
                            break End::Client(CloseReason::ClientGone);
                        }
                    }
                    Some(Ok(Message::Ping(_))) => cx.saw_ping(),
                    Some(Ok(Message::Pong(_))) => add(&counters.pongs_received, 1),
                    _ => add(&counters.messages_received, 1),
                }
            }
            batch = rx.recv() => match batch {
                Ok(batch) => {
                    if o.send_batch(&mut cx, &mut socket, &batch).await.is_err() {
                        break End::Client(CloseReason::ClientGone);
                    }
                }
                Err(RecvError::Lagged(n)) => add(&counters.lagged_batches, n),
                Err(RecvError::Closed) => {
                    break End::Close(CloseReason::Shutdown, 1001, "server shutdown");
                }
            },
            () = sleep_until(deadline) => {
                let now = Instant::now();
                if cx.rotate_deadline().is_some_and(|d| d <= now) {
                    break End::Close(CloseReason::Rotate, 1000, "connection lifetime reached");
                }
                if cx.half_open() {
                    // Half open keeps the connection: the idle timer waits for the fault to end.
                    o.last_sent = now;
                } else if o.last_sent + idle <= now {
                    break End::Close(CloseReason::IdleTimeout, 4004, "No data received in 30s");
                }
            }
        }
    };
    cx.finish(socket, end).await;
}
