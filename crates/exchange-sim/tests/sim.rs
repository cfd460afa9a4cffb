//! End-to-end tests of the simulator over HTTP on 127.0.0.1: paging semantics per venue, rate
//! limit answers, fault switches, determinism, and the binary's first output line.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use exchange_sim::{
    DownMode, Faults, LimitsConfig, NumberFormat, SimConfig, SimHandle, Venue, WindowMode, start,
};
use serde_json::{Value, json};

/// 2026-01-01T00:00:00Z + 7 minutes, a fixed data clock.
const NOW: u64 = 1_767_225_600_000 + 7 * 60_000;
const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn sim_with(f: impl FnOnce(&mut SimConfig)) -> SimHandle {
    let mut config = SimConfig {
        now_ms: Some(NOW),
        symbols: 12,
        ..SimConfig::default()
    };
    f(&mut config);
    start(config).await.unwrap()
}

async fn sim() -> SimHandle {
    sim_with(|_| {}).await
}

async fn get(c: &reqwest::Client, url: String) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = c.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn info(c: &reqwest::Client, base: &str, body: Value) -> (u16, Value) {
    let r = c
        .post(format!("{base}/info"))
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

fn num(v: &Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap()
}

#[tokio::test]
async fn binance_pages_forward_and_keeps_only_30_days() {
    let sim = sim().await;
    let (c, base) = (client(), sim.url());
    let hist =
        |q: String| format!("{base}/futures/data/openInterestHist?symbol=BTCUSDT&period=1h{q}");

    // Neither bound: the latest `limit` complete buckets, ascending.
    let (status, headers, latest) = get(&c, hist("&limit=3".into())).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-mbx-used-weight-1m"], "1");
    let times: Vec<u64> = latest
        .as_array()
        .unwrap()
        .iter()
        .map(|r| num(&r["timestamp"]))
        .collect();
    assert_eq!(
        times,
        [
            NOW / HOUR * HOUR - 3 * HOUR,
            NOW / HOUR * HOUR - 2 * HOUR,
            NOW / HOUR * HOUR - HOUR
        ]
    );
    assert!(
        latest[0]["sumOpenInterest"].is_string() && latest[0]["sumOpenInterestValue"].is_string()
    );

    // startTime 40 days back: paging forward starts at the 30-day cutoff and walks to the end.
    let mut start = NOW - 40 * DAY;
    let mut all = Vec::new();
    loop {
        let (_, _, page) = get(&c, hist(format!("&limit=500&startTime={start}"))).await;
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        start = num(&page[page.len() - 1]["timestamp"]) + 1;
        all.extend(page.iter().map(|r| num(&r["timestamp"])));
    }
    assert!(
        all[0] >= NOW - 30 * DAY && all[0] < NOW - 30 * DAY + HOUR,
        "{}",
        all[0]
    );
    assert!(all.windows(2).all(|w| w[1] == w[0] + HOUR));
    assert_eq!(*all.last().unwrap(), NOW / HOUR * HOUR - HOUR);
    // Both bounds older than 30 days: nothing.
    let (_, _, old) = get(
        &c,
        hist(format!(
            "&startTime={}&endTime={}",
            NOW - 50 * DAY,
            NOW - 40 * DAY
        )),
    )
    .await;
    assert_eq!(old, json!([]));

    // fundingRate: inclusive startTime, ascending, first `limit` rows.
    let t0 = NOW / (8 * HOUR) * (8 * HOUR) - 80 * DAY;
    let (_, _, f) = get(
        &c,
        format!("{base}/fapi/v1/fundingRate?symbol=ETHUSDT&startTime={t0}&limit=1000"),
    )
    .await;
    let f = f.as_array().unwrap();
    assert_eq!(
        f.len(),
        80 * 3 + 1,
        "80 days of 8h funding, both ends inclusive"
    );
    assert!(
        num(&f[0]["fundingTime"]) - t0 < 10,
        "jitter is a few ms at most"
    );
    assert!(
        f.windows(2)
            .all(|w| num(&w[1]["fundingTime"]) > num(&w[0]["fundingTime"]))
    );
    assert!(
        f[0]["fundingRate"]
            .as_str()
            .unwrap()
            .split('.')
            .nth(1)
            .unwrap()
            .len()
            == 8
    );
    let (_, _, recent) = get(&c, format!("{base}/fapi/v1/fundingRate?symbol=ETHUSDT")).await;
    assert_eq!(recent.as_array().unwrap().len(), 100);

    // Errors.
    let (status, _, e) = get(&c, format!("{base}/fapi/v1/openInterest?symbol=NOPEUSDT")).await;
    assert_eq!(
        (status, e),
        (400, json!({"code": -1121, "msg": "Invalid symbol."}))
    );
    let (status, _, e) = get(&c, hist("&limit=501".into())).await;
    assert_eq!((status, e["code"].clone()), (400, json!(-1130)));
    let (status, _, e) = get(&c, format!("{base}/fapi/v1/openInterest")).await;
    assert_eq!((status, e["code"].clone()), (400, json!(-1102)));

    // Instruments: perpetuals, a delisted one, a dated one; fundingInfo lists non-8h symbols.
    let (_, _, ex) = get(&c, format!("{base}/fapi/v1/exchangeInfo")).await;
    let syms = ex["symbols"].as_array().unwrap();
    assert!(
        syms.iter()
            .any(|s| s["status"] == "SETTLING" && s["contractType"] == "PERPETUAL")
    );
    assert!(syms.iter().any(|s| s["contractType"] == "CURRENT_QUARTER"));
    assert!(syms.iter().any(|s| s["symbol"] == "1000PEPEUSDT"));
    let (_, _, fi) = get(&c, format!("{base}/fapi/v1/fundingInfo")).await;
    assert!(
        fi.as_array()
            .unwrap()
            .iter()
            .any(|r| r["fundingIntervalHours"] == 4)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn bybit_pages_newest_first_by_cursor() {
    let sim = sim().await;
    let (c, base) = (client(), sim.url());
    let start = NOW / HOUR * HOUR - 20 * DAY;
    let mut cursor = String::new();
    let mut all = Vec::new();
    for _ in 0..10 {
        let (status, _, page) = get(&c, format!(
            "{base}/v5/market/open-interest?category=linear&symbol=SOLUSDT&intervalTime=1h&limit=200&startTime={start}&endTime={NOW}&cursor={cursor}"
        ))
        .await;
        assert_eq!((status, page["retCode"].clone()), (200, json!(0)));
        assert!(page["time"].is_u64());
        let list = page["result"]["list"].as_array().unwrap();
        all.extend(list.iter().map(|r| num(&r["timestamp"])));
        cursor = page["result"]["nextPageCursor"]
            .as_str()
            .unwrap()
            .to_string();
        if cursor.is_empty() {
            break;
        }
    }
    assert!(cursor.is_empty(), "cursor must end empty");
    assert_eq!(all.len(), 480, "20 days of complete hours, inclusive start");
    assert!(
        all.windows(2).all(|w| w[1] + HOUR == w[0]),
        "newest first, no gaps or repeats"
    );
    assert_eq!(all[0], NOW / HOUR * HOUR - HOUR);

    // Funding history: newest first; a lone startTime is an error; unknown symbol is retCode 10001.
    let (_, _, f) = get(
        &c,
        format!(
            "{base}/v5/market/funding/history?category=linear&symbol=BTCUSDT&endTime={NOW}&limit=5"
        ),
    )
    .await;
    let list = f["result"]["list"].as_array().unwrap();
    assert_eq!(list.len(), 5);
    assert!(num(&list[0]["fundingRateTimestamp"]) > num(&list[4]["fundingRateTimestamp"]));
    let (_, _, e) = get(
        &c,
        format!("{base}/v5/market/funding/history?category=linear&symbol=BTCUSDT&startTime=1"),
    )
    .await;
    assert_eq!(e["retCode"], 10001);
    let (status, _, e) = get(
        &c,
        format!("{base}/v5/market/tickers?category=linear&symbol=NOPEUSDT"),
    )
    .await;
    assert_eq!(
        (status, e["retCode"].clone(), e["retMsg"].clone()),
        (200, json!(10001), json!("params error: symbol invalid"))
    );

    // Instruments: cursor pages until an empty one; PreLaunch and Closed only on request.
    let mut cursor = String::new();
    let mut names = Vec::new();
    loop {
        let (_, _, page) = get(
            &c,
            format!("{base}/v5/market/instruments-info?category=linear&limit=5&cursor={cursor}"),
        )
        .await;
        let list = page["result"]["list"].as_array().unwrap();
        names.extend(
            list.iter()
                .map(|i| i["symbol"].as_str().unwrap().to_string()),
        );
        cursor = page["result"]["nextPageCursor"]
            .as_str()
            .unwrap()
            .to_string();
        if list.is_empty() || cursor.is_empty() {
            break;
        }
    }
    assert_eq!(
        names.len(),
        12 + 2,
        "12 USDT perps, BTCPERP and one dated future"
    );
    assert!(names.windows(2).all(|w| w[0] < w[1]));
    let (_, _, pre) = get(
        &c,
        format!("{base}/v5/market/instruments-info?category=linear&status=PreLaunch"),
    )
    .await;
    assert_eq!(pre["result"]["list"][0]["symbol"], "BIOUSDT");
    let (_, _, t) = get(&c, format!("{base}/v5/market/tickers?category=linear")).await;
    let btc = &t["result"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["symbol"] == "BTCUSDT")
        .unwrap()
        .clone();
    for k in [
        "openInterest",
        "openInterestValue",
        "fundingRate",
        "nextFundingTime",
        "markPrice",
        "fundingIntervalHour",
    ] {
        assert!(btc[k].is_string(), "{k}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn hyperliquid_pages_forward_500_at_most() {
    let sim = sim().await;
    let (c, base) = (client(), sim.url());
    let start = NOW - 30 * DAY;
    let (status, page) = info(
        &c,
        &base,
        json!({"type": "fundingHistory", "coin": "kPEPE", "startTime": start}),
    )
    .await;
    assert_eq!(status, 200);
    let page = page.as_array().unwrap();
    assert_eq!(page.len(), 500);
    let last = num(&page[499]["time"]);
    assert!(
        page.windows(2)
            .all(|w| num(&w[1]["time"]) / HOUR == num(&w[0]["time"]) / HOUR + 1)
    );
    let (_, rest) = info(
        &c,
        &base,
        json!({"type": "fundingHistory", "coin": "kPEPE", "startTime": last + 1}),
    )
    .await;
    assert_eq!(
        page.len() + rest.as_array().unwrap().len(),
        30 * 24,
        "hourly, start inclusive"
    );

    let (status, _) = info(
        &c,
        &base,
        json!({"type": "fundingHistory", "coin": "NOPE", "startTime": start}),
    )
    .await;
    assert_eq!(status, 500);
    let (status, text) = info(&c, &base, json!({"type": "fundingHistory", "coin": "BTC"})).await;
    assert_eq!(status, 422);
    assert!(
        text.as_str()
            .unwrap()
            .starts_with("Failed to deserialize the JSON body into the target type")
    );

    let (_, mc) = info(&c, &base, json!({"type": "metaAndAssetCtxs"})).await;
    let universe = mc[0]["universe"].as_array().unwrap();
    assert_eq!(universe.len(), mc[1].as_array().unwrap().len());
    assert!(universe.iter().any(|u| u["isDelisted"] == true));
    assert!(universe.iter().any(|u| u["name"] == "kPEPE"));
    sim.shutdown().await;
}

#[tokio::test]
async fn rate_limits_answer_like_the_venues() {
    let sim = sim_with(|c| {
        c.limits = LimitsConfig {
            window: WindowMode::Sliding,
            binance_weight_per_minute: 5,
            binance_ban_grace: 1,
            binance_ban_secs: 60,
            bybit_requests_per_5s: 3,
            bybit_ban_secs: 2,
            hyperliquid_weight_per_minute: 40,
            ..LimitsConfig::default()
        }
    })
    .await;
    let (c, base) = (client(), sim.url());
    let oi = format!("{base}/fapi/v1/openInterest?symbol=BTCUSDT");
    for i in 1..=5 {
        let (status, h, _) = get(&c, oi.clone()).await;
        assert_eq!(
            (status, h["x-mbx-used-weight-1m"].to_str().unwrap()),
            (200, i.to_string().as_str())
        );
    }
    let (status, h, body) = get(&c, oi.clone()).await;
    assert_eq!((status, body["code"].clone()), (429, json!(-1003)));
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(
        get(&c, oi.clone()).await.0,
        429,
        "one more inside the window: still 429 (grace)"
    );
    let (status, h, _) = get(&c, oi.clone()).await;
    assert_eq!((status, h["retry-after"].to_str().unwrap()), (418, "60"));

    let tick = format!("{base}/v5/market/tickers?category=linear&symbol=BTCUSDT");
    for _ in 0..3 {
        assert_eq!(get(&c, tick.clone()).await.0, 200);
    }
    let (status, _, body) = get(&c, tick.clone()).await;
    assert_eq!((status, body), (403, json!("access too frequent")));
    assert_eq!(get(&c, tick.clone()).await.0, 403, "banned");

    let meta = json!({"type": "meta"});
    assert_eq!(info(&c, &base, meta.clone()).await.0, 200);
    assert_eq!(info(&c, &base, meta.clone()).await.0, 200);
    assert_eq!(info(&c, &base, meta.clone()).await.0, 429);

    let stats = sim.stats();
    let (bn, by, hl) = (
        stats.venue("binance"),
        stats.venue("bybit"),
        stats.venue("hyperliquid"),
    );
    assert_eq!((bn.rate_limited_429, bn.banned_418, bn.requests), (2, 1, 8));
    assert_eq!(
        bn.pools["weight"].max_sliding_window, 8,
        "offered weight, refused included"
    );
    assert_eq!((by.forbidden_403, hl.rate_limited_429), (2, 1));
    assert_eq!(stats.log.len(), 8 + 5 + 3);

    // Reset lifts bans and clears counts.
    let r = c.post(format!("{base}/__sim/reset")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(get(&c, oi).await.0, 200);
    assert_eq!(get(&c, tick).await.0, 200);
    assert_eq!(sim.stats().venue("binance").requests, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn fault_switches_flip_at_run_time() {
    let sim = sim().await;
    let (c, base) = (client(), sim.url());
    let oi = format!("{base}/fapi/v1/openInterest?symbol=BTCUSDT");

    sim.set_faults(Faults {
        fail_next_n: 2,
        ..Faults::default()
    });
    assert_eq!(get(&c, oi.clone()).await.0, 503);
    assert_eq!(get(&c, oi.clone()).await.0, 503);
    assert_eq!(get(&c, oi.clone()).await.0, 200);

    // Over HTTP: drop the connection (no response at all).
    let set = |f: Value| {
        c.post(format!("{base}/__sim/faults"))
            .header("content-type", "application/json")
            .body(f.to_string())
            .send()
    };
    assert_eq!(
        set(json!({"drop_connection": true}))
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(c.get(oi.clone()).send().await.is_err());
    assert_eq!(set(json!({"nope": 1})).await.unwrap().status(), 400);

    set(json!({"malformed": true})).await.unwrap();
    let text = c
        .get(oi.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    sim.set_faults(Faults {
        number_format: NumberFormat::Strings,
        ..Faults::default()
    });
    assert!(get(&c, oi.clone()).await.2["time"].is_string());
    sim.set_faults(Faults {
        number_format: NumberFormat::Numbers,
        omit_optional: true,
        ..Faults::default()
    });
    let (_, _, f) = get(
        &c,
        format!("{base}/fapi/v1/fundingRate?symbol=BTCUSDT&limit=1"),
    )
    .await;
    assert!(f[0]["fundingRate"].is_number() && f[0].get("markPrice").is_none());

    sim.set_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    });
    let t = Instant::now();
    assert_eq!(get(&c, oi.clone()).await.0, 200);
    assert!(t.elapsed() >= Duration::from_millis(150));

    sim.set_faults(Faults {
        venue_down: vec![Venue::Bybit],
        venue_down_mode: DownMode::Unavailable,
        error_rate: 1.0,
        venues: vec![Venue::Hyperliquid],
        ..Faults::default()
    });
    assert_eq!(
        get(&c, format!("{base}/v5/market/tickers?category=linear"))
            .await
            .0,
        503
    );
    assert_eq!(get(&c, oi.clone()).await.0, 200, "binance unaffected");
    assert!(info(&c, &base, json!({"type": "meta"})).await.0 >= 500);

    sim.set_faults(Faults {
        venue_down: vec![Venue::Binance],
        ..Faults::default()
    });
    assert!(c.get(oi.clone()).send().await.is_err(), "reset by default");
    sim.set_faults(Faults::default());
    assert_eq!(get(&c, oi).await.0, 200);
    assert!(sim.stats().venue("binance").faults_injected >= 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn same_request_same_body() {
    let (a, b) = (sim().await, sim().await);
    let c = client();
    for path in [
        "/fapi/v1/fundingRate?symbol=S0009USDT&limit=50",
        "/futures/data/openInterestHist?symbol=ETHUSDT&period=5m&limit=100",
        "/v5/market/open-interest?category=linear&symbol=XRPUSDT&intervalTime=5min&limit=200",
        "/v5/market/tickers?category=linear",
        "/fapi/v1/premiumIndex",
    ] {
        let x = c
            .get(format!("{}{path}", a.url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let y = c
            .get(format!("{}{path}", a.url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let z = c
            .get(format!("{}{path}", b.url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(x.len() > 50, "{path}: {x}");
        assert_eq!(x, y, "{path}");
        assert_eq!(x, z, "{path}: another simulator with the same seed");
    }
    let body = json!({"type": "fundingHistory", "coin": "BTC", "startTime": NOW - 10 * DAY});
    assert_eq!(
        info(&c, &a.url(), body.clone()).await,
        info(&c, &b.url(), body).await
    );
}

#[test]
fn binary_prints_its_address_first() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_exchange-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--symbols",
            "3",
            "--log-level",
            "warn",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on http://127.0.0.1:")
        .unwrap();
    assert!(url.parse::<u16>().unwrap() > 0);
}

/// Kline endpoints: row shapes, order, the forming candle's position, windows, limits and
/// weights, the hole and invalid-bar switches, body faults.
#[tokio::test]
async fn klines_of_the_three_venues() {
    const MIN: u64 = 60_000;
    let sim = sim().await;
    let (c, base) = (client(), sim.url());
    let forming = NOW - NOW % MIN; // NOW is 00:07:00: the 00:07 candle is forming

    // Binance: ascending, forming candle last (close time in the future), limit by weight.
    let url = format!("{base}/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=10");
    let (s, _, rows) = get(&c, url).await;
    assert_eq!(s, 200);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[9][0], json!(forming));
    assert_eq!(rows[9][6], json!(forming + MIN - 1));
    assert_eq!(rows[0][0], json!(forming - 9 * MIN));
    for r in rows {
        let f = |i: usize| r[i].as_str().unwrap().parse::<f64>().unwrap();
        assert_eq!(r.as_array().unwrap().len(), 12);
        assert!(f(3) <= f(1).min(f(4)) && f(2) >= f(1).max(f(4)), "{r}");
        assert!(
            r[1].as_str().unwrap().split('.').nth(1).unwrap().len() == 1,
            "BTC tick 0.1: {r}"
        );
    }
    let url = format!(
        "{base}/fapi/v1/markPriceKlines?symbol=BTCUSDT&interval=1h&startTime={}&endTime={}",
        NOW - 3 * DAY,
        NOW
    );
    let (s, _, marks) = get(&c, url).await;
    assert_eq!(s, 200);
    let marks = marks.as_array().unwrap();
    assert_eq!(
        marks.len(),
        3 * 24,
        "startTime <= open <= endTime (00:07 → from 01:00)"
    );
    assert_eq!(marks[0][5], json!("0"));
    for (bad, code) in [("interval=3M", -1120), ("interval=1m&limit=1501", -1130)] {
        let (s, _, e) = get(&c, format!("{base}/fapi/v1/klines?symbol=BTCUSDT&{bad}")).await;
        assert_eq!((s, e["code"].as_i64()), (400, Some(code)), "{bad}");
    }
    sim.reset();
    for limit in [10, 100, 500, 1500] {
        let url = format!("{base}/fapi/v1/klines?symbol=ETHUSDT&interval=1m&limit={limit}");
        assert_eq!(get(&c, url).await.0, 200);
    }
    let weights: Vec<u32> = sim.stats().log.iter().map(|e| e.weight).collect();
    assert_eq!(weights, [1, 2, 5, 10]);

    // Bybit: newest first, forming candle first; start inside a candle includes it.
    let url = format!(
        "{base}/v5/market/kline?category=linear&symbol=BTCUSDT&interval=60&start={}&end={}&limit=1000",
        NOW - 2 * DAY + 30 * MIN,
        NOW
    );
    let (_, _, body) = get(&c, url).await;
    let list = body["result"]["list"].as_array().unwrap();
    assert_eq!(list.len(), 2 * 24 + 1);
    assert_eq!(list[0][0], json!((NOW - NOW % HOUR).to_string()));
    assert_eq!(list[48][0], json!((NOW - NOW % HOUR - 2 * DAY).to_string()));
    assert_eq!(list[0].as_array().unwrap().len(), 7);
    let url =
        format!("{base}/v5/market/mark-price-kline?category=linear&symbol=BTCUSDT&interval=D");
    let (_, _, body) = get(&c, url).await;
    let list = body["result"]["list"].as_array().unwrap();
    assert_eq!(
        (list.len(), list[0].as_array().unwrap().len()),
        (200, 5),
        "default limit 200"
    );
    let url = format!("{base}/v5/market/kline?category=linear&symbol=BTCUSDT&interval=480");
    assert_eq!(
        get(&c, url).await.2["retCode"],
        json!(10001),
        "no 8h on Bybit"
    );

    // Hyperliquid: overlap window, ascending, forming last, only the newest 5000.
    let body = json!({"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "1m", "startTime": 0, "endTime": NOW}});
    let (s, candles) = info(&c, &base, body).await;
    assert_eq!(s, 200);
    let candles = candles.as_array().unwrap();
    assert_eq!(candles.len(), 5000);
    assert_eq!(candles[4999]["t"], json!(forming));
    assert_eq!(candles[0]["t"], json!(forming - 4999 * MIN));
    assert_eq!(candles[0]["T"], json!(forming - 4999 * MIN + MIN - 1));
    let body =
        json!({"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "6h", "startTime": 0}});
    assert_eq!(info(&c, &base, body).await.0, 500, "no 6h on Hyperliquid");

    // Holes and invalid candles: the same ones every time; body faults apply.
    sim.set_faults(Faults {
        kline_hole_rate: 0.2,
        kline_invalid_rate: 0.2,
        number_format: NumberFormat::Strings,
        ..Faults::default()
    });
    let url = format!("{base}/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=500");
    let (_, _, a) = get(&c, url.clone()).await;
    let (_, _, b) = get(&c, url).await;
    assert_eq!(a, b);
    let a = a.as_array().unwrap();
    assert_eq!(a.len(), 500);
    assert!(a[0][0].is_string(), "number_format applies");
    let span = (num(&a[499][0]) - num(&a[0][0])) / MIN + 1;
    assert!(span > 550, "holes: {span} minutes for 500 candles");
    let f = |r: &Value, i: usize| r[i].as_str().unwrap().parse::<f64>().unwrap();
    let inverted = a.iter().filter(|r| f(r, 2) < f(r, 3)).count();
    assert!((50..150).contains(&inverted), "{inverted}");
    sim.shutdown().await;
}
