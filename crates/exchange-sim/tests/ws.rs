//! WebSocket and liquidation tests of the simulator on 127.0.0.1, with a tokio-tungstenite
//! client: per venue subscribe / ack / data in the real shapes, pings and pongs, refused
//! subscriptions, every WebSocket fault as a client sees it, rotation, the sent log against
//! what a client received, and Hyperliquid's `userFillsByTime` paging. Timers are shrunk so
//! every test ends within a few seconds.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use exchange_sim::{
    DownMode, Faults, HLP_LIQUIDATOR, PositionSide, SimConfig, SimHandle, Venue, VenueRates,
    WsFaults, start,
};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A simulator on the real clock with 8 symbols, no liquidations unless `f` sets a rate.
async fn sim_with(f: impl FnOnce(&mut SimConfig)) -> SimHandle {
    let mut config = SimConfig {
        symbols: 8,
        ..SimConfig::default()
    };
    config.ws.liquidations_per_sec = VenueRates::all(0.0);
    f(&mut config);
    start(config).await.unwrap()
}

async fn connect(sim: &SimHandle, path: &str) -> Ws {
    connect_async(format!("{}{path}", sim.ws_url()))
        .await
        .unwrap()
        .0
}

/// The next message within `ms`, `None` on timeout or end of stream.
async fn next_msg(ws: &mut Ws, ms: u64) -> Option<Result<Message, String>> {
    match tokio::time::timeout(Duration::from_millis(ms), ws.next()).await {
        Ok(Some(m)) => Some(m.map_err(|e| e.to_string())),
        _ => None,
    }
}

/// The next text frame within `ms` (pings and pongs skipped).
async fn next_text(ws: &mut Ws, ms: u64) -> Option<String> {
    let deadline = Instant::now() + Duration::from_millis(ms);
    loop {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as u64;
        match next_msg(ws, left.max(1)).await? {
            Ok(Message::Text(t)) => return Some(t.to_string()),
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            _ => return None,
        }
    }
}

/// Reads JSON frames until one satisfies `pred`; panics after `ms`.
async fn until(ws: &mut Ws, ms: u64, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_millis(ms);
    loop {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as u64;
        let Some(text) = next_text(ws, left.max(1)).await else {
            panic!("no {what} within {ms} ms");
        };
        if let Ok(v) = serde_json::from_str::<Value>(&text)
            && pred(&v)
        {
            return v;
        }
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// Every text frame until nothing arrives for `quiet_ms`.
async fn drain(ws: &mut Ws, quiet_ms: u64) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(t) = next_text(ws, quiet_ms).await {
        out.push(t);
    }
    out
}

/// Every text frame arriving within `ms`.
async fn read_for(ws: &mut Ws, ms: u64) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_millis(ms);
    let mut out = Vec::new();
    loop {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as u64;
        if left == 0 {
            return out;
        }
        if let Some(t) = next_text(ws, left).await {
            out.push(t);
        }
    }
}

/// The close frame the server sends within `ms` (data frames skipped): (code, reason).
async fn close_frame(ws: &mut Ws, ms: u64) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_millis(ms);
    loop {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as u64;
        match next_msg(ws, left.max(1)).await {
            Some(Ok(Message::Close(Some(f)))) => return (u16::from(f.code), f.reason.to_string()),
            Some(Ok(Message::Close(None))) => return (1005, String::new()),
            Some(Ok(_)) => continue,
            other => panic!("no close frame within {ms} ms: {other:?}"),
        }
    }
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn sorted(k: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = k.iter().map(|s| s.to_string()).collect();
    k.sort();
    k
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn post_json(c: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    let r = c
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn get_json(c: &reqwest::Client, url: &str) -> Value {
    let text = c.get(url).send().await.unwrap().text().await.unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn binance_raw_combined_and_live_subscriptions() {
    let sim = sim_with(|c| {
        c.ws.liquidations_per_sec.binance = 400.0;
        c.ws.binance_max_streams = 3;
    })
    .await;

    // Raw all-market stream: the documented payload, nothing more.
    let mut all = connect(&sim, "/market/ws/!forceOrder@arr").await;
    let v = until(&mut all, 2000, "forceOrder", |v| v.get("e").is_some()).await;
    assert_eq!(keys(&v), sorted(&["e", "E", "o"]));
    assert_eq!(v["e"], "forceOrder");
    assert!(v["E"].is_u64());
    let o = &v["o"];
    assert_eq!(
        keys(o),
        sorted(&["s", "S", "o", "f", "q", "p", "ap", "X", "l", "z", "T"])
    );
    assert!(o["S"] == "SELL" || o["S"] == "BUY");
    assert_eq!(
        (&o["o"], &o["f"], &o["X"]),
        (&json!("LIMIT"), &json!("IOC"), &json!("FILLED"))
    );
    assert!(o["T"].as_u64().unwrap() <= v["E"].as_u64().unwrap());
    assert_eq!(o["q"], o["z"]);
    assert!(o["q"].as_str().unwrap().parse::<f64>().unwrap() > 0.0);
    let symbols: HashSet<String> = read_for(&mut all, 300)
        .await
        .iter()
        .filter_map(|t| serde_json::from_str::<Value>(t).ok())
        .map(|v| v["o"]["s"].as_str().unwrap().to_string())
        .collect();
    assert!(
        symbols.len() > 2,
        "all-market carries many symbols: {symbols:?}"
    );

    // Combined streams: wrapped, only the symbols asked for.
    let mut comb = connect(
        &sim,
        "/market/stream?streams=btcusdt@forceOrder/ethusdt@forceOrder",
    )
    .await;
    for _ in 0..5 {
        let v = until(&mut comb, 2000, "combined frame", |v| {
            v.get("stream").is_some()
        })
        .await;
        assert_eq!(keys(&v), sorted(&["stream", "data"]));
        let stream = v["stream"].as_str().unwrap();
        let symbol = v["data"]["o"]["s"].as_str().unwrap();
        assert_eq!(stream, format!("{}@forceOrder", symbol.to_lowercase()));
        assert!(symbol == "BTCUSDT" || symbol == "ETHUSDT");
    }

    // Live subscriptions on a bare connection.
    let mut live = connect(&sim, "/market/ws").await;
    send(
        &mut live,
        json!({"method": "SUBSCRIBE", "params": ["solusdt@forceOrder"], "id": 1}),
    )
    .await;
    let ack = until(&mut live, 1000, "ack", |v| v.get("id").is_some()).await;
    assert_eq!(ack, json!({"result": null, "id": 1}));
    let v = until(&mut live, 3000, "SOL event", |v| v.get("e").is_some()).await;
    assert_eq!(v["o"]["s"], "SOLUSDT");
    send(
        &mut live,
        json!({"method": "SUBSCRIBE", "params": ["nopeusdt@forceOrder"], "id": 2}),
    )
    .await;
    let err = until(&mut live, 1000, "error", |v| v.get("id") == Some(&json!(2))).await;
    assert_eq!(err["error"]["code"], 2);
    assert!(
        err["error"]["msg"]
            .as_str()
            .unwrap()
            .contains("unknown stream")
    );
    send(
        &mut live,
        json!({"method": "SUBSCRIBE", "params": ["btcusdt@forceOrder", "ethusdt@forceOrder", "!forceOrder@arr"], "id": 3}),
    )
    .await;
    let err = until(&mut live, 1000, "too many", |v| {
        v.get("id") == Some(&json!(3))
    })
    .await;
    assert!(
        err["error"]["msg"]
            .as_str()
            .unwrap()
            .contains("too many streams"),
        "{err}"
    );
    send(&mut live, json!({"method": "LIST_SUBSCRIPTIONS", "id": 4})).await;
    let list = until(&mut live, 1000, "list", |v| v.get("id") == Some(&json!(4))).await;
    assert_eq!(list, json!({"result": ["solusdt@forceOrder"], "id": 4}));
    send(&mut live, json!({"method": "SUBSCRIBES", "id": 5})).await;
    let err = until(&mut live, 1000, "bad method", |v| {
        v.get("id") == Some(&json!(5))
    })
    .await;
    assert_eq!(err["error"]["code"], 2);
    live.send(Message::text("not json")).await.unwrap();
    let err = until(&mut live, 1000, "bad json", |v| v["error"]["code"] == 3).await;
    assert_eq!(err["id"], Value::Null);

    // An unknown stream in the URL is refused before the upgrade.
    let refused = connect_async(format!("{}/market/ws/nope@forceOrder", sim.ws_url())).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status().as_u16(), 400)
        }
        other => panic!("expected HTTP 400, got {other:?}"),
    }

    let stats = sim.stats().ws("binance");
    assert_eq!(stats.connections_current, 3);
    assert_eq!(stats.subscriptions, 1 + 2 + 1);
    assert!(stats.subscribe_rejected >= 2);
    assert!(stats.data_frames_sent > 10);
}

#[tokio::test]
async fn binance_pings_and_closes_without_pong() {
    let sim = sim_with(|c| {
        c.ws.binance_ping_secs = 0.2;
        c.ws.binance_pong_timeout_secs = 0.6;
    })
    .await;
    let mut reader = connect(&sim, "/market/ws/!forceOrder@arr").await;
    let mut silent = connect(&sim, "/market/ws/!forceOrder@arr").await;
    // The reader answers pings (tungstenite does when reading) and stays connected.
    let mut pings = 0;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(1300) {
        if let Some(Ok(Message::Ping(_))) = next_msg(&mut reader, 100).await {
            pings += 1;
        }
    }
    assert!(pings >= 4, "{pings} pings in 1.3 s");
    // The silent client read nothing, answered nothing: closed with 1008.
    let (code, reason) = close_frame(&mut silent, 1000).await;
    assert_eq!((code, reason.as_str()), (1008, "pong timeout"));
    send(
        &mut reader,
        json!({"method": "LIST_SUBSCRIPTIONS", "id": 9}),
    )
    .await;
    let list = until(&mut reader, 1000, "list", |v| v.get("id").is_some()).await;
    assert_eq!(list["result"], json!(["!forceOrder@arr"]));
    let stats = sim.stats().ws("binance");
    assert!(stats.pings_sent >= 8, "{stats:?}");
    assert!(stats.pongs_received >= 4, "{stats:?}");
    assert_eq!(stats.closes.get("pong_timeout"), Some(&1));
}

#[tokio::test]
async fn binance_sampling_keeps_one_event_per_symbol_and_second() {
    let sim = sim_with(|c| {
        c.ws.liquidations_per_sec.binance = 300.0;
        c.ws.binance_sample_1s = true;
    })
    .await;
    let mut ws = connect(&sim, "/market/ws/!forceOrder@arr").await;
    let mut per_push: BTreeMap<(u64, String), u32> = BTreeMap::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(2300) {
        if let Some(t) = next_text(&mut ws, 200).await {
            let v: Value = serde_json::from_str(&t).unwrap();
            let key = (
                v["E"].as_u64().unwrap(),
                v["o"]["s"].as_str().unwrap().to_string(),
            );
            *per_push.entry(key).or_default() += 1;
        }
    }
    assert!(!per_push.is_empty());
    assert!(per_push.values().all(|&n| n == 1), "{per_push:?}");
    let pushes: HashSet<u64> = per_push.keys().map(|k| k.0).collect();
    assert!((1..=3).contains(&pushes.len()), "{pushes:?}");
    assert!(sim.stats().ws("binance").liquidations_sampled_out > 100);
}

#[tokio::test]
async fn bybit_subscribe_ack_batched_data_and_ping() {
    let sim = sim_with(|c| {
        c.ws.liquidations_per_sec.bybit = 400.0;
        c.ws.bybit_push_ms = 100;
        c.ws.bybit_max_args_chars = 60;
    })
    .await;
    let mut ws = connect(&sim, "/v5/public/linear").await;
    send(
        &mut ws,
        json!({"req_id": "r1", "op": "subscribe", "args": ["allLiquidation.BTCUSDT", "allLiquidation.ETHUSDT"]}),
    )
    .await;
    let ack = until(&mut ws, 1000, "ack", |v| v.get("op").is_some()).await;
    assert_eq!(
        keys(&ack),
        sorted(&["success", "ret_msg", "conn_id", "req_id", "op"])
    );
    assert_eq!(
        (&ack["success"], &ack["ret_msg"], &ack["req_id"], &ack["op"]),
        (&json!(true), &json!(""), &json!("r1"), &json!("subscribe"))
    );
    let conn_id = ack["conn_id"].as_str().unwrap().to_string();
    assert_eq!(conn_id.len(), 36);

    let mut biggest = 0;
    for _ in 0..12 {
        let v = until(&mut ws, 2000, "data", |v| v.get("topic").is_some()).await;
        assert_eq!(keys(&v), sorted(&["topic", "type", "ts", "data"]));
        assert_eq!(v["type"], "snapshot");
        let topic = v["topic"].as_str().unwrap();
        let symbol = topic.strip_prefix("allLiquidation.").unwrap();
        assert!(symbol == "BTCUSDT" || symbol == "ETHUSDT");
        let data = v["data"].as_array().unwrap();
        biggest = biggest.max(data.len());
        for d in data {
            assert_eq!(keys(d), sorted(&["T", "s", "S", "v", "p"]));
            assert_eq!(d["s"], symbol);
            assert!(d["S"] == "Buy" || d["S"] == "Sell");
            assert!(d["T"].as_u64().unwrap() <= v["ts"].as_u64().unwrap());
            assert!(d["v"].as_str().unwrap().parse::<f64>().unwrap() > 0.0);
        }
    }
    assert!(
        biggest > 1,
        "several liquidations of a window share a frame"
    );

    send(&mut ws, json!({"op": "ping", "req_id": "p1"})).await;
    let pong = until(&mut ws, 1000, "pong", |v| v["op"] == "ping").await;
    assert_eq!(
        pong,
        json!({"success": true, "ret_msg": "pong", "conn_id": conn_id, "req_id": "p1", "op": "ping"})
    );
    send(&mut ws, json!({"op": "ping"})).await;
    let pong = until(&mut ws, 1000, "pong", |v| v["op"] == "ping").await;
    assert_eq!(pong["req_id"], "");

    send(
        &mut ws,
        json!({"op": "subscribe", "args": ["allLiquidation.NOPEUSDT", "tickers.BTCUSDT"]}),
    )
    .await;
    let nack = until(&mut ws, 1000, "nack", |v| v["op"] == "subscribe").await;
    assert_eq!(nack["success"], false);
    let msg = nack["ret_msg"].as_str().unwrap();
    assert!(
        msg.contains("Invalid symbol :[allLiquidation.NOPEUSDT]"),
        "{msg}"
    );
    assert!(msg.contains("handler not found"), "{msg}");
    // 2 × 22 characters held; one more goes over the 60 allowed.
    send(
        &mut ws,
        json!({"op": "subscribe", "args": ["allLiquidation.SOLUSDT"]}),
    )
    .await;
    let nack = until(&mut ws, 1000, "nack", |v| v["op"] == "subscribe").await;
    assert_eq!(nack["success"], false);
    assert!(nack["ret_msg"].as_str().unwrap().contains("args length"));

    let stats = sim.stats().ws("bybit");
    assert_eq!(stats.subscriptions, 2);
    assert_eq!((stats.subscribe_requests, stats.subscribe_rejected), (3, 2));
    assert_eq!((stats.pings_received, stats.pongs_sent), (2, 2));
}

#[tokio::test]
async fn bybit_closes_idle_connections() {
    let sim = sim_with(|c| c.ws.bybit_idle_secs = 0.4).await;
    let mut idle = connect(&sim, "/v5/public/linear").await;
    let mut pinger = connect(&sim, "/v5/public/linear").await;
    let t0 = Instant::now();
    let mut closed_after = None;
    while t0.elapsed() < Duration::from_millis(1100) {
        send(&mut pinger, json!({"op": "ping"})).await;
        assert!(next_text(&mut pinger, 500).await.unwrap().contains("pong"));
        if closed_after.is_none()
            && let Some(Ok(Message::Close(Some(f)))) = next_msg(&mut idle, 150).await
        {
            assert_eq!(
                (u16::from(f.code), f.reason.as_str()),
                (1000, "idle timeout")
            );
            closed_after = Some(t0.elapsed());
        }
    }
    let after = closed_after.expect("idle connection closed");
    assert!(
        after >= Duration::from_millis(300) && after < Duration::from_millis(1000),
        "{after:?}"
    );
    assert_eq!(sim.stats().ws("bybit").closes.get("idle_timeout"), Some(&1));
}

#[tokio::test]
async fn hyperliquid_subscriptions_pongs_and_idle_close() {
    let sim = sim_with(|c| c.ws.hyperliquid_idle_secs = 0.5).await;
    let mut ws = connect(&sim, "/ws").await;
    let sub = json!({"method": "subscribe", "subscription": {"type": "trades", "coin": "SOL"}});
    send(&mut ws, sub.clone()).await;
    let ack: Value = serde_json::from_str(&next_text(&mut ws, 1000).await.unwrap()).unwrap();
    let fixture: Value = serde_json::from_str(
        r#"{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{"type":"trades","coin":"SOL"}}}"#,
    )
    .unwrap();
    assert_eq!(ack, fixture);
    send(&mut ws, sub).await;
    let dup: Value = serde_json::from_str(&next_text(&mut ws, 1000).await.unwrap()).unwrap();
    assert_eq!(dup["channel"], "error");
    assert!(
        dup["data"]
            .as_str()
            .unwrap()
            .starts_with("Already subscribed")
    );
    send(
        &mut ws,
        json!({"method": "subscribe", "subscription": {"type": "liquidations"}}),
    )
    .await;
    let bad: Value = serde_json::from_str(&next_text(&mut ws, 1000).await.unwrap()).unwrap();
    assert_eq!(bad["channel"], "error");
    send(
        &mut ws,
        json!({"method": "subscribe", "subscription": {"type": "userFills", "user": HLP_LIQUIDATOR}}),
    )
    .await;
    let ack: Value = serde_json::from_str(&next_text(&mut ws, 1000).await.unwrap()).unwrap();
    assert_eq!(ack["channel"], "subscriptionResponse");
    send(&mut ws, json!({"method": "ping"})).await;
    assert_eq!(
        serde_json::from_str::<Value>(&next_text(&mut ws, 1000).await.unwrap()).unwrap(),
        json!({"channel": "pong"})
    );
    // No public liquidation data: nothing else arrives; then the idle close.
    let t0 = Instant::now();
    let (code, reason) = close_frame(&mut ws, 1500).await;
    assert_eq!((code, reason.as_str()), (1000, "idle timeout"));
    assert!(
        t0.elapsed() >= Duration::from_millis(350),
        "{:?}",
        t0.elapsed()
    );
    let stats = sim.stats().ws("hyperliquid");
    assert_eq!(stats.subscriptions, 0);
    assert_eq!(stats.data_frames_sent, 0);
    assert_eq!((stats.subscribe_requests, stats.subscribe_rejected), (4, 2));
}

#[tokio::test]
async fn refused_subscriptions_on_every_venue() {
    let sim = sim_with(|_| {}).await;
    for v in Venue::ALL {
        sim.set_ws_faults(
            v,
            WsFaults {
                refuse_subscribe: true,
                ..WsFaults::default()
            },
        )
        .unwrap();
    }
    let mut bn = connect(&sim, "/market/ws").await;
    send(
        &mut bn,
        json!({"method": "SUBSCRIBE", "params": ["!forceOrder@arr"], "id": 7}),
    )
    .await;
    let r = until(&mut bn, 1000, "binance", |v| v.get("id").is_some()).await;
    assert_eq!(r["id"], 7);
    assert_eq!(r["error"]["code"], 2);
    let mut by = connect(&sim, "/v5/public/linear").await;
    send(
        &mut by,
        json!({"op": "subscribe", "args": ["allLiquidation.BTCUSDT"]}),
    )
    .await;
    let r = until(&mut by, 1000, "bybit", |v| v.get("op").is_some()).await;
    assert_eq!(r["success"], false);
    assert!(!r["ret_msg"].as_str().unwrap().is_empty());
    let mut hl = connect(&sim, "/ws").await;
    send(
        &mut hl,
        json!({"method": "subscribe", "subscription": {"type": "allMids"}}),
    )
    .await;
    let r = until(&mut hl, 1000, "hyperliquid", |v| v.get("channel").is_some()).await;
    assert_eq!(r["channel"], "error");
    let stats = sim.stats();
    for v in ["binance", "bybit", "hyperliquid"] {
        assert_eq!(stats.ws(v).subscribe_rejected, 1, "{v}");
        assert_eq!(stats.ws(v).subscriptions, 0, "{v}");
    }

    // A venue that is down (HTTP fault) refuses the handshake too.
    sim.set_faults(Faults {
        venue_down: vec![Venue::Bybit],
        venue_down_mode: DownMode::Unavailable,
        ..Faults::default()
    });
    match connect_async(format!("{}/v5/public/linear", sim.ws_url())).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status().as_u16(), 503)
        }
        other => panic!("expected HTTP 503, got {other:?}"),
    }
    sim.set_faults(Faults {
        venue_down: vec![Venue::Bybit],
        ..Faults::default()
    });
    assert!(
        connect_async(format!("{}/v5/public/linear", sim.ws_url()))
            .await
            .is_err()
    );
    connect(&sim, "/ws").await;
}

#[tokio::test]
async fn server_close_and_tcp_drop_hit_only_their_venue() {
    let sim = sim_with(|_| {}).await;
    let c = http();
    let mut bn = connect(&sim, "/market/ws/!forceOrder@arr").await;
    let mut by = connect(&sim, "/v5/public/linear").await;
    let mut hl = connect(&sim, "/ws").await;
    // Let the three connections register.
    send(&mut by, json!({"op": "ping"})).await;
    next_text(&mut by, 1000).await.unwrap();
    send(&mut hl, json!({"method": "ping"})).await;
    next_text(&mut hl, 1000).await.unwrap();

    let (status, body) = post_json(
        &c,
        &format!("{}/__sim/ws/faults", sim.url()),
        &json!({"binance": {"server_close": true}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["binance"]["server_close"], false,
        "one-shot, not stored"
    );
    let (code, reason) = close_frame(&mut bn, 1000).await;
    assert_eq!((code, reason.as_str()), (1001, "going away"));

    sim.set_ws_faults(
        Venue::Bybit,
        WsFaults {
            tcp_drop: true,
            ..WsFaults::default()
        },
    )
    .unwrap();
    // No close frame: the read fails (reset) or the stream just ends.
    match tokio::time::timeout(Duration::from_secs(1), by.next()).await {
        Ok(Some(Err(e))) => {
            let e = e.to_string();
            assert!(
                e.contains("reset") || e.contains("closing handshake"),
                "{e}"
            );
        }
        Ok(None) => {}
        other => panic!("expected a dropped connection, got {other:?}"),
    }

    // Hyperliquid is untouched, and new connections are not hit by past actions.
    send(&mut hl, json!({"method": "ping"})).await;
    assert!(next_text(&mut hl, 1000).await.unwrap().contains("pong"));
    let mut by2 = connect(&sim, "/v5/public/linear").await;
    send(&mut by2, json!({"op": "ping"})).await;
    assert!(next_text(&mut by2, 1000).await.unwrap().contains("pong"));

    let stats = sim.stats();
    assert_eq!(stats.ws("binance").closes.get("server_close"), Some(&1));
    assert_eq!(stats.ws("bybit").closes.get("tcp_drop"), Some(&1));
    assert_eq!(stats.ws("bybit").connections_opened, 2);
    assert_eq!(stats.ws("bybit").connections_current, 1);
    assert_eq!(stats.ws("hyperliquid").connections_current, 1);
}

#[tokio::test]
async fn half_open_goes_silent_then_recovers() {
    let sim = sim_with(|c| {
        c.ws.liquidations_per_sec.bybit = 300.0;
        c.ws.bybit_push_ms = 100;
    })
    .await;
    let mut ws = connect(&sim, "/v5/public/linear").await;
    send(
        &mut ws,
        json!({"op": "subscribe", "args": ["allLiquidation.BTCUSDT", "allLiquidation.ETHUSDT", "allLiquidation.SOLUSDT"]}),
    )
    .await;
    until(&mut ws, 2000, "data", |v| v.get("topic").is_some()).await;
    sim.set_ws_faults(
        Venue::Bybit,
        WsFaults {
            half_open: true,
            ..WsFaults::default()
        },
    )
    .unwrap();
    drain(&mut ws, 250).await;
    let logged = sim.sent_liquidations(Venue::Bybit).len();
    send(&mut ws, json!({"op": "ping"})).await;
    ws.send(Message::Ping(b"hi".to_vec().into())).await.unwrap();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(700) {
        if let Some(m) = next_msg(&mut ws, 100).await {
            panic!("half-open connection sent {m:?}");
        }
    }
    assert_eq!(sim.sent_liquidations(Venue::Bybit).len(), logged);
    sim.set_ws_faults(Venue::Bybit, WsFaults::default())
        .unwrap();
    until(&mut ws, 2000, "data again", |v| v.get("topic").is_some()).await;
    send(&mut ws, json!({"op": "ping", "req_id": "back"})).await;
    until(&mut ws, 1000, "pong", |v| v["req_id"] == "back").await;
    assert!(sim.sent_liquidations(Venue::Bybit).len() > logged);
}

#[tokio::test]
async fn no_pong_stops_pongs_but_not_data() {
    let sim = sim_with(|c| {
        c.ws.liquidations_per_sec = VenueRates::all(300.0);
        c.ws.bybit_push_ms = 100;
    })
    .await;
    for v in Venue::ALL {
        sim.set_ws_faults(
            v,
            WsFaults {
                no_pong: true,
                ..WsFaults::default()
            },
        )
        .unwrap();
    }
    let mut by = connect(&sim, "/v5/public/linear").await;
    send(
        &mut by,
        json!({"op": "subscribe", "args": ["allLiquidation.BTCUSDT"]}),
    )
    .await;
    until(&mut by, 1000, "ack", |v| v["op"] == "subscribe").await;
    send(&mut by, json!({"op": "ping", "req_id": "x"})).await;
    by.send(Message::Ping(b"p".to_vec().into())).await.unwrap();
    let t0 = Instant::now();
    let mut data = 0;
    while t0.elapsed() < Duration::from_millis(700) {
        match next_msg(&mut by, 100).await {
            Some(Ok(Message::Text(t))) => {
                assert!(!t.contains("pong"), "{t}");
                data += 1;
            }
            Some(Ok(Message::Pong(_))) => panic!("WebSocket pong sent under no_pong"),
            _ => {}
        }
    }
    assert!(data >= 3, "data keeps flowing: {data}");

    let mut bn = connect(&sim, "/market/ws/btcusdt@forceOrder").await;
    bn.send(Message::Ping(b"p".to_vec().into())).await.unwrap();
    let t0 = Instant::now();
    let mut data = 0;
    while t0.elapsed() < Duration::from_millis(500) {
        match next_msg(&mut bn, 100).await {
            Some(Ok(Message::Pong(_))) => panic!("binance pong under no_pong"),
            Some(Ok(Message::Text(_))) => data += 1,
            _ => {}
        }
    }
    assert!(data > 0);

    let mut hl = connect(&sim, "/ws").await;
    send(&mut hl, json!({"method": "ping"})).await;
    assert_eq!(next_text(&mut hl, 500).await, None);

    // Cleared: pongs again, WebSocket and application ones.
    sim.set_ws_faults(Venue::Bybit, WsFaults::default())
        .unwrap();
    by.send(Message::Ping(b"q".to_vec().into())).await.unwrap();
    let t0 = Instant::now();
    let mut got = false;
    while t0.elapsed() < Duration::from_millis(1000) && !got {
        got = matches!(next_msg(&mut by, 100).await, Some(Ok(Message::Pong(p))) if &p[..] == b"q");
    }
    assert!(got, "WebSocket pong after clearing");
    let stats = sim.stats().ws("bybit");
    assert_eq!(stats.pings_received, 3);
    assert_eq!(stats.pongs_sent, 1);
}

#[tokio::test]
async fn malformed_frames_are_garbage_and_logged_as_such() {
    let sim = sim_with(|c| {
        c.ws.liquidations_per_sec.binance = 300.0;
        c.ws.faults.binance.malformed_rate = 1.0;
    })
    .await;
    let mut ws = connect(&sim, "/market/ws/!forceOrder@arr").await;
    for _ in 0..20 {
        let t = next_text(&mut ws, 2000).await.unwrap();
        assert!(serde_json::from_str::<Value>(&t).is_err(), "{t}");
        assert!(t.starts_with("{\"e\":\"forceOrder\""), "{t}");
    }
    sim.set_ws_faults(
        Venue::Binance,
        WsFaults {
            malformed_rate: 0.5,
            ..WsFaults::default()
        },
    )
    .unwrap();
    read_for(&mut ws, 200).await;
    let (mut good, mut bad) = (0, 0);
    for _ in 0..200 {
        let t = next_text(&mut ws, 2000).await.unwrap();
        if serde_json::from_str::<Value>(&t).is_ok() {
            good += 1;
        } else {
            bad += 1;
        }
    }
    assert!(good > 50 && bad > 50, "{good} good, {bad} bad");
    let log = sim.sent_liquidations(Venue::Binance);
    assert!(log.iter().take(20).all(|e| e.malformed));
    assert!(log.iter().any(|e| !e.malformed));
    assert!(sim.stats().ws("binance").malformed_frames >= 20 + 50);
}

#[tokio::test]
async fn rotate_after_closes_each_connection_on_time() {
    let sim = sim_with(|c| {
        c.ws.faults.hyperliquid.rotate_after_secs = Some(0.5);
        c.ws.faults.binance.rotate_after_secs = Some(0.8);
    })
    .await;
    let t0 = Instant::now();
    let mut hl = connect(&sim, "/ws").await;
    let mut bn = connect(&sim, "/market/ws").await;
    let (code, reason) = close_frame(&mut hl, 2000).await;
    let hl_after = t0.elapsed();
    assert_eq!(
        (code, reason.as_str()),
        (1000, "connection lifetime reached")
    );
    let (code, _) = close_frame(&mut bn, 2000).await;
    let bn_after = t0.elapsed();
    assert_eq!(code, 1000);
    assert!(
        hl_after >= Duration::from_millis(450) && hl_after < Duration::from_millis(900),
        "{hl_after:?}"
    );
    assert!(
        bn_after >= Duration::from_millis(750) && bn_after < Duration::from_millis(1300),
        "{bn_after:?}"
    );
    assert_eq!(sim.stats().ws("hyperliquid").closes.get("rotate"), Some(&1));
}

/// (stream, symbol, time, venue side, qty, price) of every liquidation in the frames.
type Seen = Vec<(String, String, u64, String, String, String)>;

fn binance_seen(frames: &[String]) -> Seen {
    frames
        .iter()
        .filter_map(|t| serde_json::from_str::<Value>(t).ok())
        .filter(|v| v.get("stream").is_some())
        .map(|v| {
            let o = &v["data"]["o"];
            (
                v["stream"].as_str().unwrap().to_string(),
                o["s"].as_str().unwrap().to_string(),
                o["T"].as_u64().unwrap(),
                o["S"].as_str().unwrap().to_string(),
                o["q"].as_str().unwrap().to_string(),
                o["p"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn bybit_seen(frames: &[String]) -> Seen {
    let mut out = Vec::new();
    for v in frames
        .iter()
        .filter_map(|t| serde_json::from_str::<Value>(t).ok())
        .filter(|v| v.get("topic").is_some())
    {
        for d in v["data"].as_array().unwrap() {
            out.push((
                v["topic"].as_str().unwrap().to_string(),
                d["s"].as_str().unwrap().to_string(),
                d["T"].as_u64().unwrap(),
                d["S"].as_str().unwrap().to_string(),
                d["v"].as_str().unwrap().to_string(),
                d["p"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

#[tokio::test]
async fn sent_log_matches_what_the_client_received() {
    let sim = sim_with(|c| {
        c.ws.liquidations_per_sec.binance = 500.0;
        c.ws.liquidations_per_sec.bybit = 500.0;
        c.ws.bybit_push_ms = 100;
    })
    .await;
    let mut bn = connect(
        &sim,
        "/market/stream?streams=!forceOrder@arr/btcusdt@forceOrder",
    )
    .await;
    let mut by = connect(&sim, "/v5/public/linear").await;
    let topics: Vec<String> = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT"]
        .iter()
        .map(|s| format!("allLiquidation.{s}"))
        .collect();
    send(&mut by, json!({"op": "subscribe", "args": topics})).await;
    let mut bn_frames = Vec::new();
    let mut by_frames = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(800) {
        tokio::select! {
            t = next_text(&mut bn, 50) => bn_frames.extend(t),
            t = next_text(&mut by, 50) => by_frames.extend(t),
        }
    }
    for v in [Venue::Binance, Venue::Bybit] {
        sim.set_ws_faults(
            v,
            WsFaults {
                pause_data: true,
                ..WsFaults::default()
            },
        )
        .unwrap();
    }
    bn_frames.extend(drain(&mut bn, 400).await);
    by_frames.extend(drain(&mut by, 400).await);

    let bn_seen = binance_seen(&bn_frames);
    let by_seen = bybit_seen(&by_frames);
    assert!(bn_seen.len() > 100 && by_seen.len() > 50);
    let logged = |venue: Venue| -> Seen {
        sim.sent_liquidations(venue)
            .into_iter()
            .map(|e| (e.stream, e.symbol, e.time_ms, e.venue_side, e.qty, e.price))
            .collect()
    };
    assert_eq!(logged(Venue::Binance), bn_seen, "binance, in order");
    assert_eq!(logged(Venue::Bybit), by_seen, "bybit, in order");
    // The all-market stream and the BTC stream both carried every BTC event.
    let btc_all = bn_seen
        .iter()
        .filter(|s| s.0 == "!forceOrder@arr" && s.1 == "BTCUSDT")
        .count();
    let btc_own = bn_seen
        .iter()
        .filter(|s| s.0 == "btcusdt@forceOrder")
        .count();
    assert_eq!(btc_all, btc_own);
    // Ids are unique per event; one event went out on two streams.
    let log = sim.sent_liquidations(Venue::Binance);
    let ids: HashSet<u64> = log.iter().map(|e| e.id).collect();
    assert_eq!(ids.len() + btc_own, log.len());
    let conns: HashSet<Option<u64>> = log.iter().map(|e| e.conn_id).collect();
    assert_eq!(conns.len(), 1);
    assert!(log.iter().all(|e| match e.side {
        PositionSide::Long => e.venue_side == "SELL",
        PositionSide::Short => e.venue_side == "BUY",
    }));
    let longs = log.iter().filter(|e| e.side == PositionSide::Long).count();
    assert!(
        longs > log.len() / 4 && longs < log.len() * 4 / 5,
        "{longs}"
    );

    // The same log over HTTP.
    let body = get_json(&http(), &format!("{}/__sim/ws/sent?venue=bybit", sim.url())).await;
    assert_eq!(body["events"].as_array().unwrap().len(), by_seen.len());
    assert_eq!(body["dropped"], 0);
    let stats = sim.stats().ws("bybit");
    assert_eq!(stats.liquidations_sent, by_seen.len() as u64);
    assert!(stats.liquidations_generated >= stats.liquidations_sent);
}

#[tokio::test]
async fn a_high_rate_reaches_the_client_in_full() {
    let sim = sim_with(|c| c.ws.liquidations_per_sec.binance = 50_000.0).await;
    let mut ws = connect(&sim, "/market/ws/!forceOrder@arr").await;
    let t0 = Instant::now();
    let mut frames = 0u64;
    while t0.elapsed() < Duration::from_millis(600) {
        if next_text(&mut ws, 100).await.is_some() {
            frames += 1;
        }
    }
    sim.set_ws_faults(
        Venue::Binance,
        WsFaults {
            pause_data: true,
            ..WsFaults::default()
        },
    )
    .unwrap();
    frames += drain(&mut ws, 400).await.len() as u64;
    let stats = sim.stats().ws("binance");
    assert!(frames > 10_000, "{frames} frames");
    assert_eq!(stats.liquidations_sent, frames);
    assert_eq!(sim.sent_liquidations(Venue::Binance).len() as u64, frames);
}

async fn fills_by_time(c: &reqwest::Client, sim: &SimHandle, body: Value) -> Vec<Value> {
    let (status, v) = post_json(c, &format!("{}/info", sim.url()), &body).await;
    assert_eq!(status, 200, "{v}");
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn hyperliquid_user_fills_by_time_pages_forward() {
    let sim = sim_with(|c| {
        c.ws.liquidations_per_sec.hyperliquid = 3000.0;
        c.limits.enabled = false;
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    sim.set_ws_faults(
        Venue::Hyperliquid,
        WsFaults {
            pause_data: true,
            ..WsFaults::default()
        },
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let c = http();
    let mut start = 0u64;
    let mut by_tid: BTreeMap<u64, Value> = BTreeMap::new();
    let mut pages = 0;
    loop {
        let page = fills_by_time(
            &c,
            &sim,
            json!({"type": "userFillsByTime", "user": HLP_LIQUIDATOR, "startTime": start, "aggregateByTime": false}),
        )
        .await;
        pages += 1;
        assert!(page.len() <= 2000);
        let times: Vec<u64> = page.iter().map(|f| f["time"].as_u64().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "ascending");
        assert!(times.iter().all(|&t| t >= start), "inclusive start");
        let before = by_tid.len();
        for f in page {
            by_tid.insert(f["tid"].as_u64().unwrap(), f);
        }
        if by_tid.len() == before {
            break;
        }
        start = *times.last().unwrap();
    }
    assert!(pages >= 3, "{pages} pages");
    let liquidations: Vec<&Value> = by_tid
        .values()
        .filter(|f| f.get("liquidation").is_some())
        .collect();
    let logged = sim.sent_liquidations(Venue::Hyperliquid);
    assert!(logged.len() > 2000, "{}", logged.len());
    let logged_tids: HashSet<u64> = logged.iter().map(|e| e.id).collect();
    let got_tids: HashSet<u64> = liquidations
        .iter()
        .map(|f| f["tid"].as_u64().unwrap())
        .collect();
    assert_eq!(got_tids, logged_tids);
    assert!(
        by_tid.len() > liquidations.len(),
        "unwind fills without a liquidation"
    );

    // The shape of a takeover fill, and the log entry of the same event.
    let f = liquidations[0];
    assert_eq!(
        keys(f),
        sorted(&[
            "coin",
            "px",
            "sz",
            "side",
            "time",
            "startPosition",
            "dir",
            "closedPnl",
            "hash",
            "oid",
            "crossed",
            "fee",
            "tid",
            "liquidation",
            "feeToken",
            "twapId"
        ])
    );
    assert_eq!(
        keys(&f["liquidation"]),
        sorted(&["liquidatedUser", "markPx", "method"])
    );
    assert_eq!(f["liquidation"]["method"], "backstop");
    assert_eq!(f["feeToken"], "USDC");
    let e = logged
        .iter()
        .find(|e| Some(e.id) == f["tid"].as_u64())
        .unwrap();
    assert_eq!(
        (
            e.symbol.as_str(),
            e.qty.as_str(),
            e.price.as_str(),
            e.time_ms
        ),
        (
            f["coin"].as_str().unwrap(),
            f["sz"].as_str().unwrap(),
            f["px"].as_str().unwrap(),
            f["time"].as_u64().unwrap()
        )
    );
    assert_eq!(e.venue_side, f["side"].as_str().unwrap());
    assert_eq!(e.stream, "userFillsByTime");

    // endTime is inclusive too.
    let t = f["time"].as_u64().unwrap();
    let same = fills_by_time(
        &c,
        &sim,
        json!({"type": "userFillsByTime", "user": HLP_LIQUIDATOR.to_uppercase().replace("0X", "0x"), "startTime": t, "endTime": t}),
    )
    .await;
    let expect = by_tid
        .values()
        .filter(|f| f["time"].as_u64() == Some(t))
        .count();
    assert_eq!(same.len(), expect);
    assert!(same.iter().all(|f| f["time"].as_u64() == Some(t)));
    // Another user has no fills.
    let none = fills_by_time(
        &c,
        &sim,
        json!({"type": "userFillsByTime", "user": "0x0000000000000000000000000000000000000001", "startTime": 0}),
    )
    .await;
    assert!(none.is_empty());
}

#[tokio::test]
async fn liquidations_are_seeded() {
    let fixed = |seed: u64| {
        sim_with(move |c| {
            c.seed = seed;
            c.now_ms = Some(1_767_225_600_000);
            c.ws.liquidations_per_sec.hyperliquid = 500.0;
        })
    };
    let (a, b, other) = (fixed(5).await, fixed(5).await, fixed(6).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let first = |sim: &SimHandle| -> Vec<(String, String, String, String)> {
        sim.sent_liquidations(Venue::Hyperliquid)
            .into_iter()
            .take(50)
            .map(|e| (e.symbol, e.venue_side, e.qty, e.price))
            .collect()
    };
    let (fa, fb, fo) = (first(&a), first(&b), first(&other));
    assert_eq!(fa.len(), 50);
    assert_eq!(fa, fb);
    assert_ne!(fa, fo);
}

#[tokio::test]
async fn ws_faults_endpoint_round_trips() {
    let sim = sim_with(|c| c.ws.faults.bybit.pause_data = true).await;
    let c = http();
    let url = format!("{}/__sim/ws/faults", sim.url());
    let got = get_json(&c, &url).await;
    assert_eq!(got["bybit"]["pause_data"], true);
    assert_eq!(
        got["binance"],
        json!({"server_close": false, "tcp_drop": false, "half_open": false, "no_pong": false,
               "refuse_subscribe": false, "malformed_rate": 0.0, "rotate_after_secs": null,
               "pause_data": false})
    );
    for bad in [
        json!({"binance": {"malformed_rate": 2.0}}),
        json!({"binance": {"rotate_after_secs": -1.0}}),
        json!({"binance": {"nope": true}}),
        json!({"kraken": {}}),
    ] {
        let (status, _) = post_json(&c, &url, &bad).await;
        assert_eq!(status, 400, "{bad}");
    }
    let (_, r) = post_json(
        &c,
        &url,
        &json!({"hyperliquid": {"no_pong": true, "rotate_after_secs": 30}}),
    )
    .await;
    assert_eq!(r["hyperliquid"]["no_pong"], true);
    assert_eq!(r["hyperliquid"]["rotate_after_secs"], 30.0);
    assert_eq!(
        r["bybit"]["pause_data"], true,
        "venues not named keep theirs"
    );
    let (_, r) = post_json(&c, &url, &json!({"bybit": {}})).await;
    assert_eq!(r["bybit"]["pause_data"], false);
    assert!(sim.ws_faults().hyperliquid.no_pong);
    let stats = get_json(&c, &format!("{}/__sim/stats?log=false", sim.url())).await;
    assert_eq!(stats["ws"]["binance"]["connections_opened"], 0);
}
