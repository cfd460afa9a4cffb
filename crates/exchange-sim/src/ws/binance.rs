//! Binance USDⓈ-M market streams on the `/market` root (`wss://fstream.binance.com/market`):
//! liquidation orders only.
//!
//! * `GET /market/ws/<stream>[/<stream>…]` (raw payloads) and `GET /market/ws` (subscribe
//!   later); `GET /market/stream?streams=a/b/c` (payloads wrapped
//!   `{"stream":"<name>","data":<payload>}`). Streams: `!forceOrder@arr` (every symbol) and
//!   `<symbol>@forceOrder`, symbol in lowercase, for any listed symbol (only trading
//!   perpetuals have liquidations). An unknown stream in the URL is refused with HTTP 400 and
//!   `{"error":{"code":2,"msg":"Invalid request: unknown stream '<name>'"}}`.
//! * Requests (`id`: a number, a string or null, echoed):
//!   `{"method":"SUBSCRIBE","params":[…],"id":1}` → `{"result":null,"id":1}`;
//!   `UNSUBSCRIBE` → `{"result":null,"id":N}`; `LIST_SUBSCRIPTIONS` → `{"result":[…],"id":N}`;
//!   `SET_PROPERTY ["combined", bool]` / `GET_PROPERTY ["combined"]` switch or read the
//!   wrapper. Errors: `{"error":{"code":2,"msg":"Invalid request: …"},"id":N}` for an unknown
//!   stream, more than `binance_max_streams` (200) streams, an unknown method, a bad id or
//!   params, or the `refuse_subscribe` fault; `{"error":{"code":3,"msg":"Invalid JSON: …"},
//!   "id":null}` for text that is not JSON. A request naming one bad stream changes nothing.
//! * Payload, one event per frame (also on `!forceOrder@arr`), exactly the documented shape:
//!   `{"e":"forceOrder","E":<push ms>,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC",
//!   "q":"0.014","p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014","T":<ms>}}`.
//!   `S` is the order side: `SELL` liquidates a long. `p` is the order price (beyond the mark,
//!   on the losing side), `ap` the average fill price (between `p` and the mark); fully
//!   filled. An event matching two streams of one connection is sent on both.
//! * Keep-alive: a WebSocket ping every `binance_ping_secs` (180 s); a connection whose
//!   oldest unanswered ping is older than `binance_pong_timeout_secs` (600 s) is closed
//!   (close 1008 "pong timeout"); any pong counts. More than `binance_max_incoming_per_sec`
//!   (10) incoming messages (text, ping, pong) within a second: close 1008 "too many
//!   messages".

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::SinkExt;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::Venue;
use crate::server::{AppState, ConnHandle, Params, wall_ms};
use crate::ws::conn::{Cx, End, client_end, earliest, garble, refuse_if_down, sleep_until};
use crate::ws::generator::{Batch, LiqEvent, SymTable, write_units};
use crate::ws::log::{CloseReason, SentRec, StreamKind, add};

/// The all-market stream.
const ALL_MARKET: &str = "!forceOrder@arr";

/// What a stream name means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    /// `!forceOrder@arr`.
    All,
    /// `<symbol>@forceOrder`; `None` for a listed symbol without liquidations.
    Symbol(Option<u32>),
}

/// Decodes `%XX` escapes (`%21` = `!`, `%40` = `@`).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_stream(st: &AppState, table: &SymTable, name: &str) -> Option<Stream> {
    if name == ALL_MARKET {
        return Some(Stream::All);
    }
    let lower = name.strip_suffix("@forceOrder")?;
    if lower.is_empty() || lower.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    st.universe.binance.get(&lower.to_ascii_uppercase())?;
    Some(Stream::Symbol(table.index_of_lower(lower)))
}

fn error_json(code: i32, msg: &str, id: &Value) -> String {
    let msg = serde_json::to_string(msg).unwrap_or_else(|_| "\"\"".into());
    format!(r#"{{"error":{{"code":{code},"msg":{msg}}},"id":{id}}}"#)
}

fn url_error(msg: &str) -> Response {
    let msg = serde_json::to_string(msg).unwrap_or_else(|_| "\"\"".into());
    (
        StatusCode::BAD_REQUEST,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        format!(r#"{{"error":{{"code":2,"msg":{msg}}}}}"#),
    )
        .into_response()
}

/// Checks the streams of a URL; the error is the message of the HTTP 400 answer.
fn url_streams(st: &AppState, names: Vec<String>) -> Result<Vec<String>, String> {
    let table = st.ws.table(Venue::Binance).clone();
    let mut out: Vec<String> = Vec::new();
    for name in names.into_iter().filter(|n| !n.is_empty()) {
        if parse_stream(st, &table, &name).is_none() {
            return Err(format!("Invalid request: unknown stream '{name}'"));
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    if out.len() > st.ws.config.binance_max_streams {
        return Err(format!(
            "Invalid request: too many streams ({} > {})",
            out.len(),
            st.ws.config.binance_max_streams
        ));
    }
    Ok(out)
}

fn upgrade(
    ws: WebSocketUpgrade,
    st: Arc<AppState>,
    conn: ConnHandle,
    streams: Vec<String>,
    combined: bool,
) -> Response {
    ws.on_upgrade(move |socket| serve(socket, st, conn, streams, combined))
}

/// `GET /market/ws`: a raw-stream connection without streams yet.
pub(crate) async fn binance_raw_root(
    ws: WebSocketUpgrade,
    State(st): State<Arc<AppState>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
) -> Response {
    if let Some(r) = refuse_if_down(&st, Venue::Binance, &conn) {
        return r;
    }
    upgrade(ws, st, conn, Vec::new(), false)
}

/// `GET /market/ws/<stream>[/<stream>…]`.
pub(crate) async fn binance_raw(
    ws: WebSocketUpgrade,
    State(st): State<Arc<AppState>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    uri: Uri,
) -> Response {
    if let Some(r) = refuse_if_down(&st, Venue::Binance, &conn) {
        return r;
    }
    let rest = uri.path().strip_prefix("/market/ws").unwrap_or_default();
    let names = rest.split('/').map(percent_decode).collect();
    match url_streams(&st, names) {
        Ok(streams) => upgrade(ws, st, conn, streams, false),
        Err(msg) => url_error(&msg),
    }
}

/// `GET /market/stream?streams=a/b/c`.
pub(crate) async fn binance_combined(
    ws: WebSocketUpgrade,
    State(st): State<Arc<AppState>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    uri: Uri,
) -> Response {
    if let Some(r) = refuse_if_down(&st, Venue::Binance, &conn) {
        return r;
    }
    let names = match Params::from_uri(&uri) {
        Ok(p) => p
            .get("streams")
            .unwrap_or_default()
            .split('/')
            .map(str::to_string)
            .collect(),
        Err(e) => return url_error(&format!("Invalid request: {e}")),
    };
    match url_streams(&st, names) {
        Ok(streams) => upgrade(ws, st, conn, streams, true),
        Err(msg) => url_error(&msg),
    }
}

/// The streams of one connection.
#[derive(Debug, Default)]
struct Subs {
    names: Vec<String>,
    all: bool,
    symbols: HashSet<u32>,
}

impl Subs {
    fn rebuild(&mut self, st: &AppState, table: &SymTable) {
        self.all = false;
        self.symbols.clear();
        for n in &self.names {
            match parse_stream(st, table, n) {
                Some(Stream::All) => self.all = true,
                Some(Stream::Symbol(Some(i))) => {
                    self.symbols.insert(i);
                }
                _ => {}
            }
        }
    }
}

/// One Binance connection.
struct Binance {
    table: Arc<SymTable>,
    subs: Subs,
    combined: bool,
    next_ping: Instant,
    unanswered_since: Option<Instant>,
    window: (Instant, u32),
    frame: String,
    payload: String,
}

impl Binance {
    /// Answers a request frame.
    fn request(&mut self, cx: &mut Cx, text: &str) -> String {
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => return error_json(3, &format!("Invalid JSON: {e}"), &Value::Null),
        };
        let id = value.get("id").cloned().unwrap_or(Value::Null);
        if !(id.is_null() || id.is_u64() || id.is_i64() || id.is_string()) {
            return error_json(
                2,
                "Invalid request: request ID must be an unsigned integer",
                &Value::Null,
            );
        }
        let Some(method) = value.get("method").and_then(Value::as_str) else {
            return error_json(2, "Invalid request: missing field `method`", &id);
        };
        let params = value.get("params");
        let names: Option<Vec<String>> = params.and_then(Value::as_array).and_then(|a| {
            a.iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        });
        match method {
            "SUBSCRIBE" | "UNSUBSCRIBE" => {
                let Some(names) = names else {
                    return error_json(
                        2,
                        "Invalid request: params must be an array of stream names",
                        &id,
                    );
                };
                if method == "SUBSCRIBE" {
                    self.subscribe(cx, names, &id)
                } else {
                    self.subs.names.retain(|n| !names.contains(n));
                    self.subs.rebuild(&cx.st, &self.table);
                    cx.set_subscriptions(self.subs.names.len() as u64);
                    format!(r#"{{"result":null,"id":{id}}}"#)
                }
            }
            "LIST_SUBSCRIPTIONS" => {
                let list = serde_json::to_string(&self.subs.names).unwrap_or_else(|_| "[]".into());
                format!(r#"{{"result":{list},"id":{id}}}"#)
            }
            "SET_PROPERTY" => match params.and_then(Value::as_array).map(Vec::as_slice) {
                Some([name, Value::Bool(b)]) if name == "combined" => {
                    self.combined = *b;
                    format!(r#"{{"result":null,"id":{id}}}"#)
                }
                _ => error_json(0, "Unknown property", &id),
            },
            "GET_PROPERTY" => match params.and_then(Value::as_array).map(Vec::as_slice) {
                Some([name]) if name == "combined" => {
                    format!(r#"{{"result":{},"id":{id}}}"#, self.combined)
                }
                _ => error_json(0, "Unknown property", &id),
            },
            other => error_json(
                2,
                &format!(
                    "Invalid request: unknown variant `{other}`, expected one of `SUBSCRIBE`, \
                     `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"
                ),
                &id,
            ),
        }
    }

    fn subscribe(&mut self, cx: &mut Cx, names: Vec<String>, id: &Value) -> String {
        let st = cx.st.clone();
        let counters = st.ws.counters(Venue::Binance);
        add(&counters.subscribe_requests, 1);
        let refuse = |msg: String| {
            add(&counters.subscribe_rejected, 1);
            error_json(2, &msg, id)
        };
        if cx.faults.refuse_subscribe {
            return refuse("Invalid request: subscription refused".into());
        }
        let mut added = Vec::new();
        for name in names {
            if parse_stream(&cx.st, &self.table, &name).is_none() {
                return refuse(format!("Invalid request: unknown stream '{name}'"));
            }
            if !self.subs.names.contains(&name) && !added.contains(&name) {
                added.push(name);
            }
        }
        let max = cx.st.ws.config.binance_max_streams;
        if self.subs.names.len() + added.len() > max {
            return refuse(format!(
                "Invalid request: too many streams ({} > {max})",
                self.subs.names.len() + added.len()
            ));
        }
        self.subs.names.extend(added);
        self.subs.rebuild(&cx.st, &self.table);
        cx.set_subscriptions(self.subs.names.len() as u64);
        format!(r#"{{"result":null,"id":{id}}}"#)
    }

    /// Counts an incoming message; `true` when over the limit.
    fn over_limit(&mut self, cx: &Cx) -> bool {
        let max = cx.st.ws.config.binance_max_incoming_per_sec;
        let now = Instant::now();
        if now.duration_since(self.window.0) >= Duration::from_secs(1) {
            self.window = (now, 0);
        }
        self.window.1 += 1;
        max > 0 && self.window.1 > max
    }

    fn write_payload(&mut self, ev: &LiqEvent, push_ms: u64) {
        let p = &mut self.payload;
        p.clear();
        let side = if ev.long { "SELL" } else { "BUY" };
        let _ = write!(
            p,
            r#"{{"e":"forceOrder","E":{push_ms},"o":{{"s":"{}","S":"{side}","o":"LIMIT","f":"IOC","q":""#,
            self.table.symbol(ev.sym)
        );
        let mut qty = String::new();
        write_units(&mut qty, ev.qty as i64, ev.qdp, false);
        p.push_str(&qty);
        p.push_str(r#"","p":""#);
        write_units(p, ev.price as i64, ev.pdp, false);
        p.push_str(r#"","ap":""#);
        write_units(p, ev.avg as i64, ev.pdp, false);
        let _ = write!(
            p,
            r#"","X":"FILLED","l":"{qty}","z":"{qty}","T":{}}}}}"#,
            ev.t
        );
    }

    /// Sends the events of a batch this connection subscribed to; `Err` if the client is gone.
    async fn send_batch(
        &mut self,
        cx: &mut Cx,
        socket: &mut WebSocket,
        batch: &Batch,
    ) -> Result<(), ()> {
        if cx.half_open() || (!self.subs.all && self.subs.symbols.is_empty()) {
            return Ok(());
        }
        let mut recs = Vec::new();
        let st = cx.st.clone();
        let counters = st.ws.counters(Venue::Binance);
        for ev in &batch.events {
            let kinds: &[StreamKind] = match (self.subs.all, self.subs.symbols.contains(&ev.sym)) {
                (true, true) => &[StreamKind::AllMarket, StreamKind::Symbol],
                (true, false) => &[StreamKind::AllMarket],
                (false, true) => &[StreamKind::Symbol],
                (false, false) => continue,
            };
            self.write_payload(ev, batch.push_ms);
            for &kind in kinds {
                self.frame.clear();
                if self.combined {
                    match kind {
                        StreamKind::AllMarket => {
                            let _ = write!(self.frame, r#"{{"stream":"{ALL_MARKET}","data":"#);
                        }
                        _ => {
                            let _ = write!(
                                self.frame,
                                r#"{{"stream":"{}@forceOrder","data":"#,
                                self.table.lower(ev.sym)
                            );
                        }
                    }
                    self.frame.push_str(&self.payload);
                    self.frame.push('}');
                } else {
                    self.frame.push_str(&self.payload);
                }
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
                recs.push(SentRec::new(ev, cx.id, kind, malformed, 0));
            }
        }
        if recs.is_empty() {
            return Ok(());
        }
        let flushed = socket.flush().await;
        let n = recs.len() as u64;
        add(&counters.frames_sent, n);
        add(&counters.data_frames_sent, n);
        add(&counters.sent, n);
        let sent_ms = wall_ms();
        cx.st
            .ws
            .log(Venue::Binance)
            .extend(recs.into_iter().map(|r| r.at(sent_ms)));
        flushed.map_err(|_| ())
    }
}

async fn serve(
    mut socket: WebSocket,
    st: Arc<AppState>,
    conn: ConnHandle,
    streams: Vec<String>,
    combined: bool,
) {
    let mut cx = Cx::new(st.clone(), Venue::Binance, conn);
    let Some(feed) = st.ws.feed(Venue::Binance) else {
        return;
    };
    let mut rx = feed.subscribe();
    let config = &st.ws.config;
    let ping_every = Duration::from_secs_f64(config.binance_ping_secs);
    let pong_timeout = Duration::from_secs_f64(config.binance_pong_timeout_secs);
    let table = st.ws.table(Venue::Binance).clone();
    let mut b = Binance {
        table,
        subs: Subs {
            names: streams,
            ..Subs::default()
        },
        combined,
        next_ping: cx.opened + ping_every,
        unanswered_since: None,
        window: (cx.opened, 0),
        frame: String::new(),
        payload: String::new(),
    };
    b.subs.rebuild(&st, &b.table);
    cx.set_subscriptions(b.subs.names.len() as u64);
    let counters = st.ws.counters(Venue::Binance);
    let end = loop {
        let pong_deadline = b.unanswered_since.map(|t| t + pong_timeout);
        let deadline = earliest(&[Some(b.next_ping), pong_deadline, cx.rotate_deadline()]);
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
                let Some(Ok(msg)) = msg else { continue };
                if b.over_limit(&cx) {
                    break End::Close(CloseReason::TooManyMessages, 1008, "too many messages");
                }
                match msg {
                    Message::Text(text) => {
                        add(&counters.messages_received, 1);
                        let reply = b.request(&mut cx, text.as_str());
                        if cx.reply(&mut socket, reply).await.is_err() {
                            break End::Client(CloseReason::ClientGone);
                        }
                    }
                    Message::Binary(_) => add(&counters.messages_received, 1),
                    Message::Ping(_) => cx.saw_ping(),
                    Message::Pong(_) => {
                        add(&counters.pongs_received, 1);
                        b.unanswered_since = None;
                    }
                    Message::Close(_) => {}
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
                if pong_deadline.is_some_and(|d| d <= now) {
                    break End::Close(CloseReason::PongTimeout, 1008, "pong timeout");
                }
                if b.next_ping <= now {
                    b.next_ping = now + ping_every;
                    if !cx.half_open() {
                        add(&counters.pings_sent, 1);
                        b.unanswered_since.get_or_insert(now);
                        if socket.send(Message::Ping(Default::default())).await.is_err() {
                            break End::Client(CloseReason::ClientGone);
                        }
                    }
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
    fn stream_names_decode() {
        assert_eq!(percent_decode("%21forceOrder%40arr"), "!forceOrder@arr");
        assert_eq!(percent_decode("btcusdt@forceOrder"), "btcusdt@forceOrder");
        assert_eq!(percent_decode("a%2"), "a%2");
    }
}
