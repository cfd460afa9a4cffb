//! In-process WebSocket servers for the stream tests: each accepted connection runs a script
//! chosen by its index, on 127.0.0.1 with an OS-assigned port.

#![allow(dead_code, clippy::unwrap_used)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ccxt_stream::StreamEvent;
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// Tests that measure time take this lock and run one at a time: on a small, busy machine,
/// parallel tests starve each other's timers.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The server side of one connection.
pub type Ws = WebSocketStream<TcpStream>;

/// A running test server.
pub struct Server {
    /// `ws://127.0.0.1:PORT`.
    pub url: String,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicUsize>,
}

impl Server {
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Starts a server whose `n`-th connection (from 0) runs `script(n, socket)`.
pub async fn serve<F, Fut>(script: F) -> Server
where
    F: Fn(usize, Ws) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let script = Arc::new(script);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let script = script.clone();
            let count = count.clone();
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                    let n = count.fetch_add(1, Ordering::SeqCst);
                    script(n, ws).await;
                }
            });
        }
    });
    Server { url, accepted }
}

/// The next text frame from the client (pings and pongs skipped); `None` when it is gone or
/// sent a close frame.
pub async fn recv_text(ws: &mut Ws) -> Option<String> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(t)) => return Some(t.to_string()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// Sends a text frame (ignoring a client that is gone).
pub async fn send(ws: &mut Ws, text: impl Into<String>) {
    let _ = ws.send(Message::text(text.into())).await;
}

/// Reads until the client closes; true if it sent a close frame (a polite close).
pub async fn until_closed(ws: &mut Ws) -> bool {
    loop {
        match ws.next().await {
            Some(Ok(Message::Close(_))) => return true,
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return false,
        }
    }
}

/// Collects events until `until` returns true for the list, or `timeout` passes.
pub async fn collect_until(
    rx: &mut mpsc::Receiver<StreamEvent>,
    timeout: Duration,
    until: impl Fn(&[StreamEvent]) -> bool,
) -> Vec<StreamEvent> {
    let deadline = Instant::now() + timeout;
    let mut events = Vec::new();
    while !until(&events) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(event)) => events.push(event),
            Ok(None) | Err(_) => break,
        }
    }
    events
}

/// Collects events for `duration`.
pub async fn collect_for(
    rx: &mut mpsc::Receiver<StreamEvent>,
    duration: Duration,
) -> Vec<StreamEvent> {
    collect_until(rx, duration, |_| false).await
}

pub fn count(events: &[StreamEvent], pred: impl Fn(&StreamEvent) -> bool) -> usize {
    events.iter().filter(|e| pred(e)).count()
}

pub fn connected(e: &StreamEvent) -> bool {
    matches!(e, StreamEvent::Connected { .. })
}

pub fn disconnected(e: &StreamEvent) -> bool {
    matches!(e, StreamEvent::Disconnected { .. })
}

pub fn gap(e: &StreamEvent) -> bool {
    matches!(e, StreamEvent::Gap(_))
}

pub fn gaps(events: &[StreamEvent]) -> Vec<ccxt_model::Gap> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Gap(g) => Some(g.clone()),
            _ => None,
        })
        .collect()
}

pub fn rows(events: &[StreamEvent]) -> Vec<ccxt_model::Liquidation> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Liquidations { rows, .. } => Some(rows.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// A Bybit `allLiquidation` message with one row at venue time `t_ms` and size `v`.
pub fn bybit_liquidation(symbol: &str, t_ms: u64, v: f64) -> String {
    format!(
        r#"{{"topic":"allLiquidation.{symbol}","type":"snapshot","ts":{t_ms},"data":[{{"T":{t_ms},"s":"{symbol}","S":"Buy","v":"{v}","p":"100"}}]}}"#
    )
}

pub const BYBIT_ACK: &str =
    r#"{"success":true,"ret_msg":"","conn_id":"c","req_id":"1","op":"subscribe"}"#;
pub const BYBIT_PONG: &str =
    r#"{"success":true,"ret_msg":"pong","conn_id":"c","req_id":"","op":"ping"}"#;

/// A Binance `forceOrder` event at trade time `t_ms`.
pub fn binance_force_order(symbol: &str, t_ms: u64, q: f64) -> String {
    format!(
        r#"{{"e":"forceOrder","E":{t_ms},"o":{{"s":"{symbol}","S":"SELL","o":"LIMIT","f":"IOC","q":"{q}","p":"100","ap":"100","X":"FILLED","l":"{q}","z":"{q}","T":{t_ms}}}}}"#
    )
}

/// Answers a Binance SUBSCRIBE frame with its ack; returns the frame's params.
pub async fn binance_ack(ws: &mut Ws) -> Vec<String> {
    let frame = recv_text(ws).await.unwrap_or_default();
    let value: serde_json::Value = serde_json::from_str(&frame).unwrap_or_default();
    let id = value["id"].as_u64().unwrap_or(0);
    send(ws, format!(r#"{{"result":null,"id":{id}}}"#)).await;
    value["params"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
