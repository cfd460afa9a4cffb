//! OKX in the simulator, over HTTP and WebSocket on 127.0.0.1: the envelope, every REST
//! endpoint's rows, paging and depth, error codes, rate limits, fault switches, and the
//! `liquidation-orders` channel with its acks, errors, `ping`/`pong`, idle close and faults.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use exchange_sim::{
    Faults, LimitsConfig, NumberFormat, PositionSide, SimConfig, SimHandle, Venue, VenueRates,
    WsFaults, start,
};
use futures::{SinkExt, StreamExt};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// 2026-01-01T00:00:00Z + 7 minutes, a fixed data clock.
const NOW: u64 = 1_767_225_600_000 + 7 * 60_000;
const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn sim_with(f: impl FnOnce(&mut SimConfig)) -> SimHandle {
    let mut config = SimConfig {
        now_ms: Some(NOW),
        symbols: 10,
        ..SimConfig::default()
    };
    config.ws.liquidations_per_sec = VenueRates::all(0.0);
    f(&mut config);
    start(config).await.unwrap()
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn get(c: &reqwest::Client, url: String) -> (u16, Value) {
    let r = c.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// `data` of a successful answer.
async fn data(c: &reqwest::Client, url: String) -> Vec<Value> {
    let (status, v) = get(c, url.clone()).await;
    assert_eq!(status, 200, "{url}: {v}");
    assert_eq!(v["code"], "0", "{url}: {v}");
    assert_eq!(v["msg"], "");
    v["data"].as_array().unwrap().clone()
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}

fn num(v: &Value) -> u64 {
    v.as_str().unwrap().parse().unwrap()
}

/// Whether `x` is a multiple of `step`.
fn on_step(x: Decimal, step: Decimal) -> bool {
    (x % step).is_zero()
}

#[tokio::test]
async fn instruments_list_swaps_with_contract_fields() {
    let sim = sim_with(|_| {}).await;
    let (c, base) = (client(), sim.url());
    let rows = data(
        &c,
        format!("{base}/api/v5/public/instruments?instType=SWAP"),
    )
    .await;
    let ids: Vec<&str> = rows.iter().map(|r| r["instId"].as_str().unwrap()).collect();
    assert_eq!(&ids[..2], &["BTC-USDT-SWAP", "ETH-USDT-SWAP"]);
    assert!(ids.contains(&"BTC-USD-SWAP") && ids.contains(&"TSLA-USDT-SWAP"));
    assert!(!ids.contains(&"LOOM-USDT-SWAP"), "delisted swaps drop out");
    let purr = rows
        .iter()
        .find(|r| r["instId"] == "PURR-USDT-SWAP")
        .unwrap();
    let delist = num(&purr["expTime"]);
    assert_eq!(delist, NOW / DAY * DAY + 10 * DAY);
    assert_eq!(purr["state"], "live");
    assert_eq!(
        rows.iter()
            .find(|r| r["instId"] == "BTC-USDT-SWAP")
            .unwrap()["expTime"],
        ""
    );
    // Past the announced time the swap is gone.
    sim.set_now_ms(Some(delist + 1));
    let later = data(
        &c,
        format!("{base}/api/v5/public/instruments?instType=SWAP"),
    )
    .await;
    assert!(later.iter().all(|r| r["instId"] != "PURR-USDT-SWAP"));
    let (_, v) = get(
        &c,
        format!("{base}/api/v5/public/funding-rate?instId=PURR-USDT-SWAP"),
    )
    .await;
    assert_eq!(v["code"], "51001");
    sim.set_now_ms(Some(NOW));
    let by = |id: &str| rows.iter().find(|r| r["instId"] == id).unwrap().clone();
    let btc = by("BTC-USDT-SWAP");
    assert_eq!(
        (
            &btc["ctVal"],
            &btc["ctMult"],
            &btc["ctValCcy"],
            &btc["settleCcy"],
            &btc["ctType"],
            &btc["lotSz"],
            &btc["state"],
            &btc["instCategory"],
            &btc["instFamily"]
        ),
        (
            &json!("0.01"),
            &json!("1"),
            &json!("BTC"),
            &json!("USDT"),
            &json!("linear"),
            &json!("0.01"),
            &json!("live"),
            &json!("1"),
            &json!("BTC-USDT")
        )
    );
    assert_eq!(btc["tickSz"], "0.1");
    let inv = by("BTC-USD-SWAP");
    assert_eq!(
        (&inv["ctType"], &inv["ctVal"], &inv["settleCcy"]),
        (&json!("inverse"), &json!("100"), &json!("BTC"))
    );
    assert_eq!(by("TSLA-USDT-SWAP")["instCategory"], "3");
    let pre = by("BIO-USDT-SWAP");
    assert_eq!(pre["state"], "preopen");
    assert_eq!(pre["tickSz"], "");
    assert!(num(&pre["listTime"]) > NOW);

    // One instrument, other types, errors.
    let one = data(
        &c,
        format!("{base}/api/v5/public/instruments?instType=SWAP&instId=ETH-USDT-SWAP"),
    )
    .await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["ctVal"], "0.1");
    assert!(
        data(
            &c,
            format!("{base}/api/v5/public/instruments?instType=FUTURES")
        )
        .await
        .is_empty()
    );
    let (s, v) = get(&c, format!("{base}/api/v5/public/instruments")).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("50014")));
    let (s, v) = get(
        &c,
        format!("{base}/api/v5/public/instruments?instType=PERP"),
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (400, Some("51000")));
    assert_eq!(v["data"], json!([]));
    let (s, v) = get(
        &c,
        format!("{base}/api/v5/public/instruments?instType=SWAP&instId=LOOM-USDT-SWAP"),
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (200, Some("51001")));
    let (s, v) = get(&c, format!("{base}/api/v5/public/nope")).await;
    assert_eq!((s, &v["code"]), (404, &json!(404)));
}

#[tokio::test]
async fn open_interest_is_bulk_and_consistent_with_ct_val() {
    let sim = sim_with(|_| {}).await;
    let (c, base) = (client(), sim.url());
    let rows = data(
        &c,
        format!("{base}/api/v5/public/open-interest?instType=SWAP"),
    )
    .await;
    let ids: HashSet<&str> = rows.iter().map(|r| r["instId"].as_str().unwrap()).collect();
    assert!(ids.contains("BTC-USDT-SWAP") && ids.contains("BTC-USD-SWAP"));
    assert!(!ids.contains("BIO-USDT-SWAP") && !ids.contains("LOOM-USDT-SWAP"));
    let btc = rows
        .iter()
        .find(|r| r["instId"] == "BTC-USDT-SWAP")
        .unwrap();
    assert_eq!(num(&btc["ts"]), NOW);
    let oi = dec(&btc["oi"]);
    assert!(on_step(oi, Decimal::new(1, 2)), "{oi}");
    assert_eq!(dec(&btc["oiCcy"]), oi * Decimal::new(1, 2));
    let usd = dec(&btc["oiUsd"]) / dec(&btc["oiCcy"]);
    assert!(
        usd > Decimal::from(30_000) && usd < Decimal::from(300_000),
        "{usd}"
    );
    let one = data(
        &c,
        format!("{base}/api/v5/public/open-interest?instType=SWAP&instId=BTC-USDT-SWAP"),
    )
    .await;
    assert_eq!(&one[0], btc);
    let (s, v) = get(
        &c,
        format!("{base}/api/v5/public/open-interest?instType=SWAP&instId=FOO-USDT-SWAP"),
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (200, Some("51001")));
}

#[tokio::test]
async fn open_interest_history_keeps_1440_rows_and_pages_back() {
    // 17 requests in a row: more than the endpoint's 10 per 2 s.
    let sim = sim_with(|c| c.limits.enabled = false).await;
    let (c, base) = (client(), sim.url());
    let url = |q: &str| {
        format!("{base}/api/v5/rubik/stat/contracts/open-interest-history?instId=BTC-USDT-SWAP{q}")
    };
    let first = data(&c, url("&period=1H")).await;
    assert_eq!(first.len(), 100);
    let ts: Vec<u64> = first.iter().map(|r| num(&r[0])).collect();
    assert_eq!(
        ts[0],
        NOW / HOUR * HOUR - HOUR,
        "newest completed hour first"
    );
    assert!(ts.windows(2).all(|w| w[0] - w[1] == HOUR));
    assert_eq!(first[0].as_array().unwrap().len(), 4);
    // Page backwards with end = oldest ts (exclusive) until the 1,440-row window ends.
    let mut all = first.clone();
    let mut end = *ts.last().unwrap();
    loop {
        let page = data(&c, url(&format!("&period=1H&end={end}"))).await;
        if page.is_empty() {
            break;
        }
        assert!(num(&page[0][0]) < end);
        end = num(&page.last().unwrap()[0]);
        all.extend(page);
    }
    assert_eq!(all.len(), 1440);
    // begin is exclusive too.
    let b = ts[3];
    let newer = data(&c, url(&format!("&period=1H&begin={b}"))).await;
    assert_eq!(newer.len(), 3);
    // UTC+8-aligned days open at 16:00 UTC.
    let days = data(&c, url("&period=1D&limit=2")).await;
    assert_eq!(num(&days[0][0]) % DAY, 16 * HOUR);
    let days = data(&c, url("&period=1Dutc&limit=2")).await;
    assert_eq!(num(&days[0][0]) % DAY, 0);
    let (s, v) = get(&c, url("&period=7m")).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("51000")));
    let (s, v) = get(&c, url("&limit=101")).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("51000")));
}

#[tokio::test]
async fn funding_current_bulk_and_history_paging() {
    let sim = sim_with(|_| {}).await;
    let (c, base) = (client(), sim.url());
    let all = data(&c, format!("{base}/api/v5/public/funding-rate?instId=ANY")).await;
    assert!(all.iter().any(|r| r["instId"] == "TSLA-USDT-SWAP"));
    let btc = all.iter().find(|r| r["instId"] == "BTC-USDT-SWAP").unwrap();
    assert_eq!(num(&btc["fundingTime"]), 1_767_225_600_000 + 8 * HOUR);
    assert_eq!(
        num(&btc["nextFundingTime"]) - num(&btc["fundingTime"]),
        8 * HOUR
    );
    assert_eq!(btc["method"], "current_period");
    dec(&btc["fundingRate"]);
    // S0007 funds every 4 h or 1 h or 8 h, seeded; the interval always matches the history.
    let one = data(
        &c,
        format!("{base}/api/v5/public/funding-rate?instId=S0007-USDT-SWAP"),
    )
    .await;
    let interval = num(&one[0]["nextFundingTime"]) - num(&one[0]["fundingTime"]);
    let (s, v) = get(&c, format!("{base}/api/v5/public/funding-rate")).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("50014")));

    let hist = |q: String| format!("{base}/api/v5/public/funding-rate-history?instId={q}");
    let first = data(&c, hist("S0007-USDT-SWAP&limit=3".into())).await;
    let t: Vec<u64> = first.iter().map(|r| num(&r["fundingTime"])).collect();
    assert!(t.windows(2).all(|w| w[0] - w[1] == interval));
    dec(&first[0]["realizedRate"]);

    // BTC: 8 h, 92 days deep, pages of 400 newest first.
    let mut rows = data(&c, hist("BTC-USDT-SWAP".into())).await;
    assert_eq!(rows.len(), 276);
    assert_eq!(num(&rows[0]["fundingTime"]), 1_767_225_600_000);
    let oldest = num(&rows.last().unwrap()["fundingTime"]);
    assert!(oldest >= NOW - 92 * DAY);
    let older = data(&c, hist(format!("BTC-USDT-SWAP&after={oldest}"))).await;
    assert!(older.is_empty());
    rows.truncate(0);
    let mut after = None::<u64>;
    loop {
        let q = match after {
            Some(a) => format!("BTC-USDT-SWAP&limit=100&after={a}"),
            None => "BTC-USDT-SWAP&limit=100".into(),
        };
        let page = data(&c, hist(q)).await;
        if page.is_empty() {
            break;
        }
        after = Some(num(&page.last().unwrap()["fundingTime"]));
        rows.extend(page);
    }
    assert_eq!(rows.len(), 276);
    let newer = data(
        &c,
        hist(format!(
            "BTC-USDT-SWAP&before={}",
            1_767_225_600_000 - 3 * 8 * HOUR
        )),
    )
    .await;
    assert_eq!(newer.len(), 3);
    let (s, v) = get(&c, hist("BTC-USDT-SWAP&limit=401".into())).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("51000")));
}

async fn btc_settled(c: &reqwest::Client, base: &str) -> (u16, Vec<Value>) {
    let rows = data(
        c,
        format!("{base}/api/v5/public/funding-rate-history?instId=BTC-USDT-SWAP&limit=1"),
    )
    .await;
    (200, rows)
}

#[tokio::test]
async fn current_settled_rate_is_the_last_history_row() {
    let sim = sim_with(|_| {}).await;
    let (c, base) = (client(), sim.url());
    let cur = data(
        &c,
        format!("{base}/api/v5/public/funding-rate?instId=BTC-USDT-SWAP"),
    )
    .await;
    let (_, hist) = btc_settled(&c, &base).await;
    assert_eq!(cur[0]["settFundingRate"], hist[0]["realizedRate"]);
    assert_eq!(
        num(&cur[0]["fundingTime"]) - 8 * HOUR,
        num(&hist[0]["fundingTime"])
    );
}

#[tokio::test]
async fn candles_newest_first_with_confirm_and_depth() {
    let sim = sim_with(|_| {}).await;
    let (c, base) = (client(), sim.url());
    let url = |path: &str, q: &str| format!("{base}/api/v5/market/{path}?instId=BTC-USDT-SWAP{q}");
    let rows = data(&c, url("candles", "")).await;
    assert_eq!(rows.len(), 100);
    assert_eq!(rows[0].as_array().unwrap().len(), 9);
    assert_eq!(num(&rows[0][0]), NOW, "the forming 1m candle first");
    assert_eq!(rows[0][8], "0");
    assert_eq!(rows[1][8], "1");
    assert_eq!(num(&rows[1][0]), NOW - MINUTE);
    for r in &rows {
        let (o, h, l, cl) = (dec(&r[1]), dec(&r[2]), dec(&r[3]), dec(&r[4]));
        assert!(l <= o.min(cl) && h >= o.max(cl), "{r}");
        assert!(on_step(o, Decimal::new(1, 1)), "{r}");
        let vol = dec(&r[5]);
        assert!(on_step(vol, Decimal::new(1, 2)));
        assert_eq!(dec(&r[6]), vol * Decimal::new(1, 2));
    }
    // after = older than, before = newer than; the recent endpoint keeps 1,440 candles.
    let older = data(
        &c,
        url(
            "candles",
            &format!("&after={}&limit=300", NOW - 10 * MINUTE),
        ),
    )
    .await;
    assert_eq!(older.len(), 300);
    assert_eq!(num(&older[0][0]), NOW - 11 * MINUTE);
    let newer = data(&c, url("candles", &format!("&before={}", NOW - 3 * MINUTE))).await;
    assert_eq!(newer.len(), 3);
    let deep = data(
        &c,
        url("candles", &format!("&after={}", NOW - 1439 * MINUTE)),
    )
    .await;
    assert!(deep.is_empty());
    let hist = data(
        &c,
        url(
            "history-candles",
            &format!("&after={}", NOW - 1439 * MINUTE),
        ),
    )
    .await;
    assert_eq!(hist.len(), 100);
    let h1 = data(&c, url("history-candles", "&bar=1H&limit=2")).await;
    assert_eq!(num(&h1[0][0]), NOW / HOUR * HOUR);
    // Mark candles: 6 fields, at most 100.
    let mark = data(&c, url("mark-price-candles", "&limit=5")).await;
    assert_eq!(mark[0].as_array().unwrap().len(), 6);
    assert_eq!(mark[0][5], "0");
    let (s, v) = get(&c, url("mark-price-candles", "&limit=101")).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("51000")));
    let hm = data(
        &c,
        url("history-mark-price-candles", "&bar=1Dutc&limit=100"),
    )
    .await;
    assert_eq!(hm.len(), 100);
    let (s, v) = get(&c, url("candles", "&bar=1D")).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("51000")));
    let (s, v) = get(
        &c,
        format!("{base}/api/v5/market/candles?instId=NOPE-USDT-SWAP"),
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (200, Some("51001")));
}

#[tokio::test]
async fn rate_limits_answer_50011_per_endpoint_and_instrument() {
    let sim = sim_with(|c| {
        c.limits = LimitsConfig {
            okx_requests_per_2s: Some(3),
            ..LimitsConfig::default()
        }
    })
    .await;
    let (c, base) = (client(), sim.url());
    let url = |id: &str| format!("{base}/api/v5/public/funding-rate-history?instId={id}&limit=1");
    for _ in 0..3 {
        data(&c, url("BTC-USDT-SWAP")).await;
    }
    let (s, v) = get(&c, url("BTC-USDT-SWAP")).await;
    assert_eq!(
        (s, v),
        (429, json!({"msg": "Too Many Requests", "code": "50011"}))
    );
    // Keyed per instId: another instrument still passes.
    data(&c, url("ETH-USDT-SWAP")).await;
    assert!(sim.stats().venue("okx").rate_limited_429 >= 1);
}

#[tokio::test]
async fn http_faults_apply_to_okx() {
    let sim = sim_with(|c| {
        c.faults = Faults {
            fail_next_n: 1,
            venues: vec![Venue::Okx],
            ..Faults::default()
        }
    })
    .await;
    let (c, base) = (client(), sim.url());
    let url = format!("{base}/api/v5/public/open-interest?instType=SWAP");
    let (s, v) = get(&c, url.clone()).await;
    assert_eq!((s, v["code"].as_str()), (503, Some("50001")));
    let (s, v) = get(&c, url.clone()).await;
    assert_eq!((s, v["code"].as_str()), (200, Some("0")));
    sim.set_faults(Faults {
        omit_optional: true,
        number_format: NumberFormat::Numbers,
        ..Faults::default()
    });
    let (_, v) = get(&c, url.clone()).await;
    assert!(v["data"][0].get("oiUsd").is_none());
    assert!(v["data"][0]["oi"].is_number(), "{}", v["data"][0]);
    sim.set_faults(Faults {
        venue_down: vec![Venue::Okx],
        venue_down_mode: exchange_sim::DownMode::Unavailable,
        ..Faults::default()
    });
    let (s, _) = get(&c, url.clone()).await;
    assert_eq!(s, 503);
    assert!(
        connect_async(format!("{}/ws/v5/public", sim.ws_url()))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn same_seed_same_answers() {
    let a = sim_with(|_| {}).await;
    let b = sim_with(|_| {}).await;
    let c = client();
    for path in [
        "/api/v5/public/instruments?instType=SWAP",
        "/api/v5/public/open-interest?instType=SWAP",
        "/api/v5/public/funding-rate?instId=ANY",
        "/api/v5/market/history-candles?instId=SOL-USDT-SWAP&bar=4H",
    ] {
        assert_eq!(
            data(&c, format!("{}{path}", a.url())).await,
            data(&c, format!("{}{path}", b.url())).await,
            "{path}"
        );
    }
}

// ---- WebSocket ----

async fn connect(sim: &SimHandle) -> Ws {
    connect_async(format!("{}/ws/v5/public", sim.ws_url()))
        .await
        .unwrap()
        .0
}

async fn next_text(ws: &mut Ws, ms: u64) -> Option<String> {
    let deadline = Instant::now() + Duration::from_millis(ms);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Some(t.to_string()),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            _ => return None,
        }
    }
}

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

fn sub() -> Value {
    json!({"id": "1512", "op": "subscribe", "args": [{"channel": "liquidation-orders", "instType": "SWAP"}]})
}

#[tokio::test]
async fn liquidation_orders_ack_data_ping_and_errors() {
    let sim = sim_with(|c| c.ws.liquidations_per_sec.okx = 300.0).await;
    let (c, base) = (client(), sim.url());
    let insts = data(
        &c,
        format!("{base}/api/v5/public/instruments?instType=SWAP"),
    )
    .await;
    let mut ws = connect(&sim).await;
    send(&mut ws, sub()).await;
    let ack = until(&mut ws, 2000, "ack", |v| v.get("event").is_some()).await;
    assert_eq!(ack["event"], "subscribe");
    assert_eq!(ack["id"], "1512");
    assert_eq!(
        ack["arg"],
        json!({"channel": "liquidation-orders", "instType": "SWAP"})
    );
    assert_eq!(ack["connId"].as_str().unwrap().len(), 8);

    let mut seen = Vec::new();
    let t0 = Instant::now();
    while seen.len() < 200 && t0.elapsed() < Duration::from_secs(5) {
        let v = until(&mut ws, 2000, "data", |v| v.get("data").is_some()).await;
        assert_eq!(
            v["arg"],
            json!({"channel": "liquidation-orders", "instType": "SWAP"})
        );
        let item = &v["data"][0];
        let inst = insts
            .iter()
            .find(|i| i["instId"] == item["instId"])
            .unwrap();
        assert_eq!(item["instFamily"], inst["instFamily"]);
        assert_eq!(item["uly"], inst["instFamily"]);
        assert_eq!(item["instType"], "SWAP");
        for d in item["details"].as_array().unwrap() {
            let (side, pos) = (d["side"].as_str().unwrap(), d["posSide"].as_str().unwrap());
            assert!(
                matches!((side, pos), ("sell", "long") | ("buy", "short")),
                "{d}"
            );
            assert!(on_step(dec(&d["sz"]), dec(&inst["lotSz"])), "{d} {inst}");
            assert!(dec(&d["sz"]) > Decimal::ZERO);
            assert!(on_step(dec(&d["bkPx"]), dec(&inst["tickSz"])), "{d} {inst}");
            assert_eq!(d["bkLoss"], "0");
            assert_eq!(d["ccy"], "");
            seen.push((
                item["instId"].as_str().unwrap().to_string(),
                num(&d["ts"]),
                d["sz"].as_str().unwrap().to_string(),
                d["bkPx"].as_str().unwrap().to_string(),
                side.to_string(),
            ));
        }
    }
    assert!(seen.len() >= 200);
    // The sent log holds what was received, in order.
    let sent = sim.sent_liquidations(Venue::Okx);
    for (i, (inst, ts, sz, px, side)) in seen.iter().enumerate() {
        let s = &sent[i];
        assert_eq!(
            (&s.symbol, s.time_ms, &s.qty, &s.price, &s.venue_side),
            (inst, *ts, sz, px, side)
        );
        let long = side == "sell";
        assert_eq!(
            s.side,
            if long {
                PositionSide::Long
            } else {
                PositionSide::Short
            }
        );
    }

    // Text ping → text pong.
    ws.send(Message::text("ping")).await.unwrap();
    let t0 = Instant::now();
    loop {
        let t = next_text(&mut ws, 2000).await.unwrap();
        if t == "pong" {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(2));
    }
    // Bad requests.
    let mut ws2 = connect(&sim).await;
    send(
        &mut ws2,
        json!({"id": "7", "op": "subscribe", "args": [{"channel": "liquidations", "instType": "SWAP"}, {"channel": "liquidation-orders"}]}),
    )
    .await;
    let e = until(&mut ws2, 1000, "error", |v| v["event"] == "error").await;
    assert_eq!(
        (e["code"].as_str(), e["id"].as_str()),
        (Some("60018"), Some("7"))
    );
    let e = until(&mut ws2, 1000, "error", |v| v["event"] == "error").await;
    assert_eq!(e["code"], "60013");
    ws2.send(Message::text("{\"op\": \"subscribe\", \"argss\": []}"))
        .await
        .unwrap();
    let e = until(&mut ws2, 1000, "error", |v| v["event"] == "error").await;
    assert_eq!(e["code"], "60012");
    assert!(e["msg"].as_str().unwrap().starts_with("Invalid request: "));
    send(&mut ws2, json!({"op": "login", "args": []})).await;
    let e = until(&mut ws2, 1000, "error", |v| v["event"] == "error").await;
    assert_eq!(e["code"], "60019");
    let stats = sim.stats();
    assert_eq!(stats.ws("okx").subscribe_rejected, 1);
    assert!(stats.ws("okx").pongs_sent >= 1);
}

#[tokio::test]
async fn idle_connections_close_with_4004_and_faults_apply() {
    let sim = sim_with(|c| {
        c.ws.okx_idle_secs = 0.5;
        c.ws.liquidations_per_sec.okx = 200.0;
    })
    .await;
    // Idle: nothing subscribed, nothing sent.
    let mut ws = connect(&sim).await;
    let t0 = Instant::now();
    let frame = loop {
        match tokio::time::timeout(Duration::from_secs(3), ws.next()).await {
            Ok(Some(Ok(Message::Close(f)))) => break f.unwrap(),
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(u16::from(frame.code), 4004);
    assert!(t0.elapsed() >= Duration::from_millis(400));
    assert_eq!(sim.stats().ws("okx").closes.get("idle_timeout"), Some(&1));

    // refuse_subscribe → 60018 error event.
    sim.set_ws_faults(
        Venue::Okx,
        WsFaults {
            refuse_subscribe: true,
            ..WsFaults::default()
        },
    )
    .unwrap();
    let mut ws = connect(&sim).await;
    send(&mut ws, sub()).await;
    let e = until(&mut ws, 1000, "error", |v| v["event"] == "error").await;
    assert_eq!(e["code"], "60018");

    // no_pong: no text pong; malformed_rate 1: every data frame is garbage.
    sim.set_ws_faults(
        Venue::Okx,
        WsFaults {
            no_pong: true,
            malformed_rate: 1.0,
            ..WsFaults::default()
        },
    )
    .unwrap();
    let mut ws = connect(&sim).await;
    send(&mut ws, sub()).await;
    until(&mut ws, 1000, "ack", |v| v["event"] == "subscribe").await;
    ws.send(Message::text("ping")).await.unwrap();
    let mut garbage = 0;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(400) {
        if let Some(t) = next_text(&mut ws, 200).await {
            assert_ne!(t, "pong");
            assert!(serde_json::from_str::<Value>(&t).is_err(), "{t}");
            garbage += 1;
        }
    }
    assert!(garbage > 0);
    assert!(
        sim.sent_liquidations(Venue::Okx)
            .iter()
            .any(|s| s.malformed)
    );

    // server_close: close frame 1001.
    sim.set_ws_faults(
        Venue::Okx,
        WsFaults {
            server_close: true,
            ..WsFaults::default()
        },
    )
    .unwrap();
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(2), ws.next()).await {
            Ok(Some(Ok(Message::Close(f)))) => break f.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(code, Some(1001));

    // pause_data: acks but no data.
    sim.set_ws_faults(
        Venue::Okx,
        WsFaults {
            pause_data: true,
            ..WsFaults::default()
        },
    )
    .unwrap();
    let mut ws = connect(&sim).await;
    send(&mut ws, sub()).await;
    until(&mut ws, 1000, "ack", |v| v["event"] == "subscribe").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = sim.sent_liquidations(Venue::Okx).len();
    assert!(next_text(&mut ws, 300).await.is_none());
    assert_eq!(sim.sent_liquidations(Venue::Okx).len(), before);
}

#[tokio::test]
async fn tcp_drop_rotation_and_half_open_on_okx() {
    let sim = sim_with(|c| {
        c.ws.okx_idle_secs = 0.5;
        c.ws.liquidations_per_sec.okx = 200.0;
    })
    .await;
    // half_open: silent, and not closed by the idle timer meanwhile.
    let mut ws = connect(&sim).await;
    send(&mut ws, sub()).await;
    until(&mut ws, 1000, "ack", |v| v["event"] == "subscribe").await;
    sim.set_ws_faults(
        Venue::Okx,
        WsFaults {
            half_open: true,
            ..WsFaults::default()
        },
    )
    .unwrap();
    while next_text(&mut ws, 200).await.is_some() {}
    ws.send(Message::text("ping")).await.unwrap();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(900) {
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(100), ws.next()).await {
            panic!("half-open connection sent {m:?}");
        }
    }
    sim.set_ws_faults(Venue::Okx, WsFaults::default()).unwrap();
    until(&mut ws, 2000, "data again", |v| v.get("data").is_some()).await;

    // tcp_drop: no close frame.
    sim.set_ws_faults(
        Venue::Okx,
        WsFaults {
            tcp_drop: true,
            ..WsFaults::default()
        },
    )
    .unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(2), ws.next()).await {
            Ok(Some(Ok(Message::Text(_)))) => continue,
            Ok(Some(Ok(Message::Close(f)))) => panic!("close frame {f:?} on a TCP drop"),
            Ok(Some(Err(_)) | None) => break,
            other => panic!("expected a dropped connection, got {other:?}"),
        }
    }
    assert_eq!(sim.stats().ws("okx").closes.get("tcp_drop"), Some(&1));

    // rotate_after_secs: close 1000 after the lifetime.
    sim.set_ws_faults(
        Venue::Okx,
        WsFaults {
            rotate_after_secs: Some(0.3),
            ..WsFaults::default()
        },
    )
    .unwrap();
    let mut ws = connect(&sim).await;
    send(&mut ws, sub()).await;
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(2), ws.next()).await {
            Ok(Some(Ok(Message::Close(f)))) => break f.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(code, Some(1000));
    assert_eq!(sim.stats().ws("okx").closes.get("rotate"), Some(&1));
}
