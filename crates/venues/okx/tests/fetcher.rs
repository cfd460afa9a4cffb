//! OkxFetcher and the OKX liquidation feed against the exchange simulator (loopback, pinned
//! clock): every Fetcher method, one bulk request for current open interest and funding,
//! history paging to the venue's depth (rubik 1,440 rows, funding ~3 months), the
//! recent/history candle switch with the forming candle never returned, 50011/429, malformed
//! rows skipped, and the liquidation channel read off the simulator's socket.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ccxt_model::{Bar, BarInterval, BarPrice, Instrument, PositionSide};
use ccxt_okx::OkxFetcher;
use ccxt_okx::fetcher::ContractTable;
use ccxt_okx::liquidations::OkxLiquidations;
use ccxt_okx::websocket::subscribe_frame;
use ccxt_transport::{HttpTransport, TransportConfig};
use ccxt_venue::bars::Clock;
use ccxt_venue::liquidations::{Inbound, WsProtocol};
use ccxt_venue::testing::{FakeTransport, response};
use ccxt_venue::{FetchError, Fetcher, InstrumentStatus, OiPeriod};
use exchange_sim::{SimConfig, SimHandle, VenueRates};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

/// 2026-01-01T00:07:00Z (+30 s): the 00:07 minute is forming.
const NOW_MS: u64 = 1_767_225_600_000 + 7 * 60_000 + 30_000;
const MS: u64 = 1_000_000;
const MIN_MS: u64 = 60_000;
const HOUR_MS: u64 = 60 * MIN_MS;
const DAY_MS: u64 = 24 * HOUR_MS;

async fn sim(f: impl FnOnce(&mut SimConfig)) -> SimHandle {
    let mut c = SimConfig {
        now_ms: Some(NOW_MS),
        symbols: 10,
        ..SimConfig::default()
    };
    c.limits.enabled = false;
    c.ws.liquidations_per_sec = VenueRates::all(0.0);
    f(&mut c);
    exchange_sim::start(c).await.unwrap()
}

fn fetcher(sim: &SimHandle, rate_limited: bool, retries: usize) -> OkxFetcher {
    let mut config = TransportConfig::new(ccxt_okx::VENUE, sim.url());
    config.max_retries = retries;
    config.rate_limited = rate_limited;
    let transport = HttpTransport::new(config, ccxt_okx::rate_limits()).unwrap();
    OkxFetcher::new(Arc::new(transport)).with_clock(Clock::fixed(NOW_MS * MS))
}

fn okx(native: &str) -> Instrument {
    Instrument::from_native(ccxt_okx::VENUE, native)
}

fn requests(sim: &SimHandle, endpoint: &str) -> usize {
    sim.stats()
        .log
        .iter()
        .filter(|e| e.endpoint == endpoint)
        .count()
}

#[tokio::test]
async fn instruments_are_the_usdt_and_usdc_crypto_swaps_with_their_status() {
    let sim = sim(|_| {}).await;
    let f = fetcher(&sim, false, 0);
    let list = f.instruments().await.unwrap();
    let by = |id: &str| list.iter().find(|i| i.instrument.native == id);
    let btc = by("BTC-USDT-SWAP").unwrap();
    assert_eq!(btc.instrument.id.as_str(), "BTC-USDT-SWAP.OKX");
    assert_eq!(btc.status, InstrumentStatus::Trading);
    // Prices on the tick (0.1), sizes in coins on lot 0.01 × ctVal 0.01 BTC.
    assert_eq!(btc.precision.map(|p| (p.price, p.size)), Some((1, 4)));
    assert_eq!(
        by("BIO-USDT-SWAP").unwrap().status,
        InstrumentStatus::PreLaunch
    );
    assert_eq!(
        by("PURR-USDT-SWAP").unwrap().status,
        InstrumentStatus::Trading
    );
    assert!(
        by("TSLA-USDT-SWAP").is_none(),
        "stock perpetuals are kept apart"
    );
    assert!(
        by("BTC-USD-SWAP").is_none(),
        "inverse swaps are not collected"
    );
    assert!(by("LOOM-USDT-SWAP").is_none(), "delisted swaps are gone");
    assert!(list.iter().all(|i| i.instrument.venue == ccxt_okx::VENUE));
}

#[tokio::test]
async fn current_open_interest_and_funding_are_one_bulk_request_each() {
    let sim = sim(|_| {}).await;
    let f = fetcher(&sim, false, 0);
    let asked = [
        okx("BTC-USDT-SWAP"),
        okx("ETH-USDT-SWAP"),
        okx("NOPE-USDT-SWAP"),
        Instrument::from_native(ccxt_registry::venue("bybit"), "BTCUSDT"),
    ];
    let oi = f.current_open_interest(&asked).await;
    assert_eq!(requests(&sim, "open-interest"), 1);
    let btc = oi[0].1.as_ref().unwrap();
    assert_eq!(
        btc.open_interest.instrument_id.as_str(),
        "BTC-USDT-SWAP.OKX"
    );
    assert!(btc.open_interest.open_interest > 0.0);
    let value = btc.open_interest.open_interest_value.unwrap();
    let implied = value / btc.open_interest.open_interest;
    assert!(implied > 1_000.0, "USD per BTC {implied}");
    assert_eq!(btc.open_interest.ts_event, NOW_MS * MS);
    assert!(btc.prices.is_empty(), "OKX's answer carries no prices");
    assert!(oi[1].1.is_ok());
    assert_eq!(
        oi[2].1,
        Err(FetchError::unknown_symbol(
            ccxt_okx::VENUE,
            "NOPE-USDT-SWAP"
        ))
    );
    assert!(matches!(oi[3].1, Err(FetchError::Unsupported { .. })));

    let funding = f.current_funding(&asked).await;
    assert_eq!(requests(&sim, "funding-rate"), 1);
    let btc = &funding[0].1.as_ref().unwrap().funding;
    assert_eq!(btc.interval_minutes, Some(480));
    let next = btc.next_funding_ns.unwrap();
    assert!(next > NOW_MS * MS && next <= (NOW_MS + 8 * HOUR_MS) * MS);
    assert_eq!(next % (8 * HOUR_MS * MS), 0);
    assert!(btc.rate.scale() > 0, "exact decimal {}", btc.rate);
    assert!(funding[2].1.is_err() && funding[3].1.is_err());
}

#[tokio::test]
async fn open_interest_history_pages_back_to_the_1440_rows_okx_keeps() {
    let sim = sim(|_| {}).await;
    let f = fetcher(&sim, false, 0);
    let eth = okx("ETH-USDT-SWAP");
    // A range inside the window: every hour, once.
    let end = NOW_MS - NOW_MS % HOUR_MS - HOUR_MS;
    let start = end - 250 * HOUR_MS;
    let pages: Vec<_> = f
        .open_interest_history(&eth, OiPeriod::H1, start * MS, end * MS)
        .collect()
        .await;
    assert_eq!(pages.len(), 3, "251 rows at 100 a page");
    let mut rows: Vec<_> = pages.into_iter().flat_map(|p| p.unwrap()).collect();
    rows.sort_by_key(|r| r.ts_event);
    assert_eq!(rows.len(), 251);
    assert_eq!(rows[0].ts_event, start * MS);
    assert!(
        rows.windows(2)
            .all(|w| w[1].ts_event - w[0].ts_event == HOUR_MS * MS)
    );
    assert!(rows.iter().all(|r| r.open_interest_value.is_some()));

    // A range older than the window: the 1,440 rows OKX keeps, nothing doubled.
    let rows: Vec<_> = f
        .open_interest_history(&eth, OiPeriod::H1, 0, NOW_MS * MS)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flat_map(|p| p.unwrap())
        .collect();
    assert_eq!(rows.len(), 1440);
    let mut times: Vec<u64> = rows.iter().map(|r| r.ts_event).collect();
    times.sort_unstable();
    times.dedup();
    assert_eq!(times.len(), 1440);
}

#[tokio::test]
async fn funding_history_pages_by_400_to_the_three_months_okx_keeps() {
    let sim = sim(|_| {}).await;
    let f = fetcher(&sim, false, 0);
    let btc = okx("BTC-USDT-SWAP");
    let pages: Vec<_> = f
        .funding_history(&btc, 0, NOW_MS * MS)
        .collect::<Vec<_>>()
        .await;
    let rows: Vec<_> = pages.into_iter().flat_map(|p| p.unwrap()).collect();
    let n = rows.len();
    assert!((270..=277).contains(&n), "about 92 days of 8 h: {n}");
    assert_eq!(
        requests(&sim, "funding-rate-history"),
        n.div_ceil(400).max(1)
    );
    let mut times: Vec<u64> = rows.iter().map(|r| r.ts_event).collect();
    times.sort_unstable();
    times.dedup();
    assert_eq!(times.len(), n);
    assert!(rows.iter().all(|r| r.interval_minutes == Some(480)));
    assert!(rows.iter().all(|r| r.next_funding_ns.is_none()));
    assert!(rows.iter().all(|r| r.ts_event % (8 * HOUR_MS * MS) == 0));

    // A range inside the window: exactly its settlements.
    let end = (NOW_MS / (8 * HOUR_MS)) * 8 * HOUR_MS;
    let start = end - 10 * DAY_MS;
    let rows: Vec<_> = f
        .funding_history(&btc, start * MS, end * MS)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flat_map(|p| p.unwrap())
        .collect();
    assert_eq!(rows.len(), 31);
}

async fn bars(
    f: &OkxFetcher,
    native: &str,
    interval: BarInterval,
    price: BarPrice,
    (start_ms, end_ms): (u64, u64),
) -> Result<Vec<Bar>, FetchError> {
    let inst = okx(native);
    let pages: Vec<_> = f
        .bars(&inst, interval, price, start_ms * MS, end_ms * MS)
        .collect()
        .await;
    let mut out = Vec::new();
    for p in pages {
        let p = p?;
        assert!(p.rejected.is_empty(), "{:?}", p.rejected);
        out.extend(p.bars);
    }
    out.sort_by_key(|b| b.ts_event);
    Ok(out)
}

#[tokio::test]
async fn trade_bars_switch_from_recent_to_history_candles_without_gaps_or_the_forming_one() {
    let sim = sim(|_| {}).await;
    let f = fetcher(&sim, false, 0);
    let forming_open = NOW_MS - NOW_MS % MIN_MS;
    // 2,000 minutes: more than the 1,440 the recent endpoint keeps.
    let start = forming_open - 2000 * MIN_MS;
    let got = bars(
        &f,
        "BTC-USDT-SWAP",
        BarInterval::M1,
        BarPrice::Last,
        (start, NOW_MS + HOUR_MS),
    )
    .await
    .unwrap();
    // Closes from start through the last closed minute (the forming one's open).
    assert_eq!(got.len(), 2001);
    assert_eq!(got[0].ts_event, start * MS);
    assert_eq!(got.last().unwrap().ts_event, forming_open * MS);
    assert!(
        got.windows(2)
            .all(|w| w[1].ts_event - w[0].ts_event == MIN_MS * MS)
    );
    assert!(requests(&sim, "candles") >= 1 && requests(&sim, "history-candles") >= 1);
    assert!(
        got.iter()
            .all(|b| b.precision.price == 1 && b.precision.size == 4)
    );
    assert!(got.iter().any(|b| !b.volume.is_zero()));
    assert_eq!(
        got[0].bar_type.to_string(),
        "BTC-USDT-SWAP.OKX-1-MINUTE-LAST-EXTERNAL"
    );
}

#[tokio::test]
async fn mark_bars_and_unsupported_intervals() {
    let sim = sim(|_| {}).await;
    let f = fetcher(&sim, false, 0);
    let end = NOW_MS - NOW_MS % HOUR_MS;
    let start = end - 150 * HOUR_MS;
    let got = bars(
        &f,
        "ETH-USDT-SWAP",
        BarInterval::H1,
        BarPrice::Mark,
        (start, end),
    )
    .await
    .unwrap();
    assert_eq!(got.len(), 151);
    assert!(got.iter().all(|b| b.volume.is_zero()));
    assert!(requests(&sim, "mark-price-candles") >= 1);
    let err = bars(
        &f,
        "ETH-USDT-SWAP",
        BarInterval::H8,
        BarPrice::Last,
        (start, end),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, FetchError::Unsupported { .. }), "{err}");
    let err = bars(
        &f,
        "NOPE-USDT-SWAP",
        BarInterval::H1,
        BarPrice::Last,
        (start, end),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        FetchError::unknown_symbol(ccxt_okx::VENUE, "NOPE-USDT-SWAP")
    );
}

#[tokio::test]
async fn rate_limit_50011_is_a_rate_limited_error() {
    let sim = sim(|c| {
        c.limits.enabled = true;
        c.limits.okx_requests_per_2s = Some(1);
    })
    .await;
    let f = fetcher(&sim, false, 0);
    let btc = okx("BTC-USDT-SWAP");
    let first: Vec<_> = f.funding_history(&btc, 0, NOW_MS * MS).collect().await;
    assert!(first[0].is_ok());
    let second: Vec<_> = f.funding_history(&btc, 0, NOW_MS * MS).collect().await;
    assert!(
        matches!(second[0], Err(FetchError::RateLimited { .. })),
        "{second:?}"
    );
}

#[tokio::test]
async fn malformed_rows_are_skipped_and_the_rest_kept() {
    let body = serde_json::json!({"code": "0", "msg": "", "data": [
        {"instType": "SWAP", "instId": "BTC-USDT-SWAP", "oi": "nope", "ts": "1"},
        {"instType": "SWAP", "instId": "ETH-USDT-SWAP", "oi": "100", "oiCcy": "10", "oiUsd": "30000", "ts": "1767225600000"}
    ]})
    .to_string();
    let t = FakeTransport::default().get(
        "/api/v5/public/open-interest",
        &[("instType", "SWAP")],
        200,
        &body,
    );
    let f = OkxFetcher::new(Arc::new(t));
    let got = f
        .current_open_interest(&[okx("BTC-USDT-SWAP"), okx("ETH-USDT-SWAP")])
        .await;
    assert!(got[0].1.is_err(), "the unreadable row is skipped");
    let eth = &got[1].1.as_ref().unwrap().open_interest;
    assert_eq!(
        (eth.open_interest, eth.open_interest_value),
        (10.0, Some(30000.0))
    );

    let t = FakeTransport::default().get(
        "/api/v5/public/open-interest",
        &[("instType", "SWAP")],
        200,
        "<html>",
    );
    let f = OkxFetcher::new(Arc::new(t));
    let got = f.current_open_interest(&[okx("BTC-USDT-SWAP")]).await;
    assert!(matches!(got[0].1, Err(FetchError::Malformed { .. })));
    let _ = response(200, "");
}

#[tokio::test]
async fn the_liquidation_feed_reads_the_simulators_socket_in_coins() {
    let sim = sim(|c| c.ws.liquidations_per_sec.okx = 300.0).await;
    let f = fetcher(&sim, false, 0);
    let contracts = ContractTable::default();
    let swaps = f
        .clone()
        .with_contracts(contracts.clone())
        .swaps()
        .await
        .unwrap();
    let protocol = OkxLiquidations::new(None, contracts);
    let (mut ws, _) = connect_async(protocol.url(&format!("{}/ws/v5/public", sim.ws_url())))
        .await
        .unwrap();
    assert_eq!(
        protocol.subscribe_frames(),
        [subscribe_frame(Some("1")).to_string()]
    );
    for frame in protocol.subscribe_frames() {
        ws.send(Message::text(frame)).await.unwrap();
    }
    let mut rows = Vec::new();
    let (mut acked, mut ponged) = (false, false);
    let t0 = Instant::now();
    while (rows.len() < 50 || !ponged) && t0.elapsed() < Duration::from_secs(5) {
        if rows.len() >= 50 && !ponged {
            ws.send(Message::text(protocol.ping_frame(1).unwrap()))
                .await
                .unwrap();
        }
        let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::from_secs(2), ws.next()).await
        else {
            continue;
        };
        match protocol.classify(&text, 5) {
            Inbound::Ack => acked = true,
            Inbound::Pong => ponged = true,
            Inbound::Liquidations(got) => rows.extend(got),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(acked && ponged && rows.len() >= 50);
    let sent = sim.sent_liquidations(exchange_sim::Venue::Okx);
    let mut matched = 0;
    for row in &rows {
        let native = row.instrument_id.as_str().trim_end_matches(".OKX");
        let swap = swaps.iter().find(|s| s.inst_id == native).unwrap();
        assert!(!swap.inverse && native.ends_with("-SWAP"));
        let s = sent
            .iter()
            .find(|s| {
                s.symbol == native
                    && s.time_ms * MS == row.ts_event
                    && s.price.parse::<f64>().ok() == Some(row.price)
                    && s.venue_side == row.order_side
            })
            .unwrap();
        let contracts: f64 = s.qty.parse().unwrap();
        let value: f64 = swap.contract_value.unwrap().to_string().parse().unwrap();
        assert!((row.quantity - contracts * value).abs() < 1e-9 * row.quantity.max(1.0));
        assert_eq!(row.order_side, s.venue_side);
        let want = match s.side {
            exchange_sim::PositionSide::Long => PositionSide::Long,
            exchange_sim::PositionSide::Short => PositionSide::Short,
        };
        assert_eq!(row.side, want);
        assert_eq!(row.side == PositionSide::Long, row.order_side == "sell");
        assert!(
            row.method
                .as_deref()
                .is_some_and(|m| m.starts_with("posSide:"))
        );
        matched += 1;
    }
    assert_eq!(matched, rows.len());
}
