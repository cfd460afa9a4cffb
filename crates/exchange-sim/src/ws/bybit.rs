//! Bybit v5 public linear stream (`wss://stream.bybit.com/v5/public/linear`): the
//! `allLiquidation.{symbol}` topics.
//!
//! * `{"req_id":"1","op":"subscribe","args":["allLiquidation.BTCUSDT",…]}` →
//!   `{"success":true,"ret_msg":"","conn_id":"<uuid>","req_id":"1","op":"subscribe"}`
//!   (`req_id` echoed, `""` when not sent). Any listed linear symbol is accepted (only
//!   trading perpetuals have liquidations). Refused args get `success: false`, the others of
//!   the same request are still subscribed; `ret_msg` lists the problems, `;`-separated:
//!   `Invalid symbol :[allLiquidation.FOOUSDT]`, `error:handler not found,topic:<arg>` (any
//!   other topic, also the deprecated `liquidation.*`), `error:already subscribed,topic:<arg>`.
//!   Args of one connection longer than `bybit_max_args_chars` (21 000) in total: the whole
//!   request is refused (`error:args length over 21000 characters`). The `refuse_subscribe`
//!   fault: `error:subscription refused`. `op: unsubscribe` likewise.
//! * `{"op":"ping"}` → `{"success":true,"ret_msg":"pong","conn_id":"…","req_id":"","op":"ping"}`.
//! * Data: every `bybit_push_ms` (500 ms), one frame per symbol with that window's
//!   liquidations: `{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":<push ms>,
//!   "data":[{"T":<ms>,"s":"BTCUSDT","S":"Buy","v":"0.01","p":"94500.1"},…]}`. `S` is the
//!   position side (`Buy`: a long was liquidated), `p` the bankruptcy price.
//! * A connection with neither a client ping nor data sent for `bybit_idle_secs` (600 s) is
//!   closed (close 1000 "idle timeout").
//! * Text that is not JSON: `{"success":false,"ret_msg":"error:request is not valid json",…}`;
//!   an unknown op: `error:unknown op <op>` (both wordings guessed).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use futures::SinkExt;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::Venue;
use crate::data::mix;
use crate::server::{AppState, ConnHandle, wall_ms};
use crate::ws::conn::{Cx, End, client_end, earliest, garble, refuse_if_down, sleep_until};
use crate::ws::generator::{Batch, LiqEvent, SymTable, write_units};
use crate::ws::log::{CloseReason, SentRec, StreamKind, add};

const TOPIC: &str = "allLiquidation.";

/// `GET /v5/public/linear`.
pub(crate) async fn bybit_linear(
    ws: WebSocketUpgrade,
    State(st): State<Arc<AppState>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
) -> Response {
    if let Some(r) = refuse_if_down(&st, Venue::Bybit, &conn) {
        return r;
    }
    ws.on_upgrade(move |socket| serve(socket, st, conn))
}

/// A UUID-looking connection id, seeded.
fn conn_uuid(seed: u64, id: u64) -> String {
    let a = mix(seed ^ 0xB1B1, id);
    let b = mix(a, 2);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// One Bybit connection.
struct Bybit {
    table: Arc<SymTable>,
    conn_id: String,
    topics: Vec<String>,
    symbols: HashMap<u32, ()>,
    last_activity: Instant,
    frame: String,
}

impl Bybit {
    fn control(&self, success: bool, ret_msg: &str, req_id: &str, op: &str) -> String {
        let esc = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
        format!(
            r#"{{"success":{success},"ret_msg":{},"conn_id":"{}","req_id":{},"op":{}}}"#,
            esc(ret_msg),
            self.conn_id,
            esc(req_id),
            esc(op)
        )
    }

    fn rebuild(&mut self) {
        self.symbols = self
            .topics
            .iter()
            .filter_map(|t| t.strip_prefix(TOPIC))
            .filter_map(|s| self.table.index_of(s))
            .map(|i| (i, ()))
            .collect();
    }

    /// Answers a request frame; `None`: no answer.
    fn request(&mut self, cx: &mut Cx, text: &str) -> Option<String> {
        let st = cx.st.clone();
        let counters = st.ws.counters(Venue::Bybit);
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            return Some(self.control(false, "error:request is not valid json", "", ""));
        };
        let req_id = match value.get("req_id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(v) => v.to_string(),
        };
        let op = value
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let args: Option<Vec<String>> = value.get("args").and_then(Value::as_array).and_then(|a| {
            a.iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        });
        match op.as_str() {
            "ping" => {
                add(&counters.pings_received, 1);
                self.last_activity = Instant::now();
                if cx.no_pong() {
                    return None;
                }
                add(&counters.pongs_sent, 1);
                Some(self.control(true, "pong", &req_id, "ping"))
            }
            "subscribe" => {
                add(&counters.subscribe_requests, 1);
                let reply = self.subscribe(cx, args.unwrap_or_default());
                if reply.is_err() {
                    add(&counters.subscribe_rejected, 1);
                }
                let (ok, msg) = match reply {
                    Ok(()) => (true, String::new()),
                    Err(msg) => (false, msg),
                };
                Some(self.control(ok, &msg, &req_id, "subscribe"))
            }
            "unsubscribe" => {
                let args = args.unwrap_or_default();
                let missing: Vec<String> = args
                    .iter()
                    .filter(|a| !self.topics.contains(a))
                    .map(|a| format!("error:not subscribed,topic:{a}"))
                    .collect();
                self.topics.retain(|t| !args.contains(t));
                self.rebuild();
                cx.set_subscriptions(self.topics.len() as u64);
                Some(self.control(
                    missing.is_empty(),
                    &missing.join(";"),
                    &req_id,
                    "unsubscribe",
                ))
            }
            other => {
                Some(self.control(false, &format!("error:unknown op {other}"), &req_id, other))
            }
        }
    }

    fn subscribe(&mut self, cx: &mut Cx, args: Vec<String>) -> Result<(), String> {
        if cx.faults.refuse_subscribe {
            return Err("error:subscription refused".into());
        }
        let mut errors = Vec::new();
        let mut valid: Vec<String> = Vec::new();
        for arg in args {
            if self.topics.contains(&arg) || valid.contains(&arg) {
                errors.push(format!("error:already subscribed,topic:{arg}"));
                continue;
            }
            match arg.strip_prefix(TOPIC) {
                Some(sym) if cx.st.universe.bybit.get(sym).is_some() => valid.push(arg),
                Some(_) => errors.push(format!("Invalid symbol :[{arg}]")),
                None => errors.push(format!("error:handler not found,topic:{arg}")),
            }
        }
        let max = cx.st.ws.config.bybit_max_args_chars;
        let chars: usize = self
            .topics
            .iter()
            .chain(valid.iter())
            .map(String::len)
            .sum();
        if chars > max {
            return Err(format!("error:args length over {max} characters"));
        }
        self.topics.extend(valid);
        self.rebuild();
        cx.set_subscriptions(self.topics.len() as u64);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join(";"))
        }
    }

    fn write_frame(&mut self, sym: u32, events: &[&LiqEvent], push_ms: u64) {
        let f = &mut self.frame;
        f.clear();
        let symbol = self.table.symbol(sym);
        let _ = write!(
            f,
            r#"{{"topic":"{TOPIC}{symbol}","type":"snapshot","ts":{push_ms},"data":["#
        );
        for (i, ev) in events.iter().enumerate() {
            if i > 0 {
                f.push(',');
            }
            let side = if ev.long { "Buy" } else { "Sell" };
            let _ = write!(f, r#"{{"T":{},"s":"{symbol}","S":"{side}","v":""#, ev.t);
            write_units(f, ev.qty as i64, ev.qdp, false);
            f.push_str(r#"","p":""#);
            write_units(f, ev.price as i64, ev.pdp, false);
            f.push_str("\"}");
        }
        f.push_str("]}");
    }

    /// Sends one frame per subscribed symbol of the batch; `Err` if the client is gone.
    async fn send_batch(
        &mut self,
        cx: &mut Cx,
        socket: &mut WebSocket,
        batch: &Batch,
    ) -> Result<(), ()> {
        if cx.half_open() || self.symbols.is_empty() {
            return Ok(());
        }
        let mut groups: Vec<(u32, Vec<&LiqEvent>)> = Vec::new();
        let mut at: HashMap<u32, usize> = HashMap::new();
        for ev in batch
            .events
            .iter()
            .filter(|e| self.symbols.contains_key(&e.sym))
        {
            let i = *at.entry(ev.sym).or_insert_with(|| {
                groups.push((ev.sym, Vec::new()));
                groups.len() - 1
            });
            if let Some(g) = groups.get_mut(i) {
                g.1.push(ev);
            }
        }
        if groups.is_empty() {
            return Ok(());
        }
        let st = cx.st.clone();
        let counters = st.ws.counters(Venue::Bybit);
        let mut recs = Vec::new();
        for (sym, events) in &groups {
            self.write_frame(*sym, events, batch.push_ms);
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
        self.last_activity = Instant::now();
        let frames = groups.len() as u64;
        add(&counters.frames_sent, frames);
        add(&counters.data_frames_sent, frames);
        add(&counters.sent, recs.len() as u64);
        let sent_ms = wall_ms();
        cx.st
            .ws
            .log(Venue::Bybit)
            .extend(recs.into_iter().map(|r| r.at(sent_ms)));
        flushed.map_err(|_| ())
    }
}

async fn serve(mut socket: WebSocket, st: Arc<AppState>, conn: ConnHandle) {
    let mut cx = Cx::new(st.clone(), Venue::Bybit, conn);
    let Some(feed) = st.ws.feed(Venue::Bybit) else {
        return;
    };
    let mut rx = feed.subscribe();
    let idle = Duration::from_secs_f64(st.ws.config.bybit_idle_secs);
    let mut b = Bybit {
        table: st.ws.table(Venue::Bybit).clone(),
        conn_id: conn_uuid(st.seed, cx.id),
        topics: Vec::new(),
        symbols: HashMap::new(),
        last_activity: cx.opened,
        frame: String::new(),
    };
    let counters = st.ws.counters(Venue::Bybit);
    let end = loop {
        let idle_deadline = b.last_activity + idle;
        let deadline = earliest(&[Some(idle_deadline), cx.rotate_deadline()]);
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
                        if let Some(reply) = b.request(&mut cx, text.as_str())
                            && cx.reply(&mut socket, reply).await.is_err()
                        {
                            break End::Client(CloseReason::ClientGone);
                        }
                    }
                    Some(Ok(Message::Ping(_))) => {
                        b.last_activity = Instant::now();
                        cx.saw_ping();
                    }
                    Some(Ok(Message::Pong(_))) => add(&counters.pongs_received, 1),
                    _ => add(&counters.messages_received, 1),
                }
            }
            batch = rx.recv() => match batch {
                Ok(batch) => {
                    if b.send_batch(&mut cx, &mut socket, &batch).await.is_err() {
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
                if b.last_activity + idle <= now {
                    break End::Close(CloseReason::IdleTimeout, 1000, "idle timeout");
                }
            }
        }
    };
    cx.finish(socket, end).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conn_ids_look_like_uuids() {
        let id = conn_uuid(1, 7);
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{id}");
        assert_ne!(id, conn_uuid(1, 8));
    }
}
