//! The OKX parsers, request builders and paging arithmetic against the simulator's OKX
//! endpoints on 127.0.0.1 (pinned clock): the simulator and the parsers agree on shapes,
//! units, paging and errors.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ccxt_model::PositionSide;
use ccxt_okx::http::paginate::{
    ascending, first_cursor, needs_history_candles, next_cursor, rubik_oldest_ms,
};
use ccxt_okx::http::parse::{
    ErrorKind, SwapCategory, SwapInstrument, parse_candles, parse_funding_history,
    parse_funding_rates, parse_instruments, parse_open_interest, parse_open_interest_history,
};
use ccxt_okx::http::requests::{self, CandleKind};
use ccxt_okx::websocket::{PING, PublicMessage, parse_public_message, subscribe_frame};
use ccxt_venue::{FetchError, HttpRequest, InstrumentStatus};
use exchange_sim::{SimConfig, SimHandle, VenueRates, start};
use futures::{SinkExt, StreamExt};
use rust_decimal::Decimal;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

const NOW: u64 = 1_767_225_600_000 + 7 * 60_000;
const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;

async fn sim(f: impl FnOnce(&mut SimConfig)) -> SimHandle {
    let mut c = SimConfig {
        now_ms: Some(NOW),
        symbols: 10,
        ..SimConfig::default()
    };
    c.limits.enabled = false;
    c.ws.liquidations_per_sec = VenueRates::all(0.0);
    f(&mut c);
    start(c).await.unwrap()
}

/// Sends a built request to the simulator: (status, body).
async fn send(sim: &SimHandle, r: &HttpRequest) -> (u16, Vec<u8>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let resp = client
        .get(format!("{}{}", sim.url(), r.path))
        .query(&r.query)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.bytes().await.unwrap().to_vec())
}

async fn instruments(sim: &SimHandle) -> HashMap<String, SwapInstrument> {
    let (s, body) = send(sim, &requests::instruments()).await;
    let (list, skipped) = parse_instruments(s, &body).unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    list.into_iter().map(|i| (i.inst_id.clone(), i)).collect()
}

#[tokio::test]
async fn instruments_and_open_interest_agree() {
    let sim = sim(|_| {}).await;
    let insts = instruments(&sim).await;
    let cat = |id: &str| insts[id].category;
    assert_eq!(cat("BTC-USDT-SWAP"), SwapCategory::UsdtCrypto);
    assert_eq!(cat("TSLA-USDT-SWAP"), SwapCategory::StockPerpetual);
    assert_eq!(cat("BTC-USD-SWAP"), SwapCategory::Other);
    assert_eq!(insts["BIO-USDT-SWAP"].status, InstrumentStatus::PreLaunch);
    assert_eq!(insts["BTC-USDT-SWAP"].status, InstrumentStatus::Trading);
    assert_eq!(insts["BTC-USDT-SWAP"].delisting_ms, None);
    let purr = &insts["PURR-USDT-SWAP"];
    assert_eq!(purr.status, InstrumentStatus::Trading);
    assert!(purr.delisting_ms.unwrap() > NOW);
    let btc = &insts["BTC-USDT-SWAP"];
    assert_eq!(btc.contract_value, Some(Decimal::new(1, 2)));
    assert_eq!(btc.precision.map(|p| (p.price, p.size)), Some((1, 2)));

    let (s, body) = send(&sim, &requests::open_interest(None)).await;
    let (rows, skipped) = parse_open_interest(s, &body).unwrap();
    assert!(skipped.is_empty());
    assert!(rows.len() > 10);
    for oi in &rows {
        let inst = &insts[&oi.inst_id];
        assert_eq!(oi.ts_ms, NOW);
        let lot = inst.lot_size.unwrap();
        assert!((oi.contracts % lot).is_zero(), "{oi:?}");
        if !inst.inverse {
            assert_eq!(inst.coins(oi.contracts, None), oi.coins, "{oi:?}");
        }
        assert!(oi.usd.unwrap() > Decimal::ZERO);
    }
}

#[tokio::test]
async fn funding_current_and_history_page_to_the_venue_depth() {
    let sim = sim(|_| {}).await;
    let (s, body) = send(&sim, &requests::funding_rate(None)).await;
    let (rates, _) = parse_funding_rates(s, &body).unwrap();
    let s7 = rates
        .iter()
        .find(|r| r.inst_id == "S0007-USDT-SWAP")
        .unwrap();
    let interval = s7.interval_ms.unwrap();
    assert!([HOUR, 4 * HOUR, 8 * HOUR].contains(&interval));

    // Page back from now with the pure cursor arithmetic, 400 per page.
    for (id, step) in [("BTC-USDT-SWAP", 8 * HOUR), ("S0007-USDT-SWAP", interval)] {
        let start = 0;
        let mut cursor = first_cursor(NOW);
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let (s, body) = send(&sim, &requests::funding_rate_history(id, after)).await;
            let (page, skipped) = parse_funding_history(s, &body).unwrap();
            assert!(skipped.is_empty());
            let times: Vec<u64> = page.iter().map(|r| r.funding_time_ms).collect();
            all.extend(page);
            match next_cursor(&times, cursor, start) {
                Some(c) => {
                    cursor = c;
                    after = Some(c);
                }
                None => break,
            }
        }
        let all = ascending(all, |r| r.funding_time_ms);
        assert!(
            all.windows(2)
                .all(|w| w[1].funding_time_ms - w[0].funding_time_ms == step)
        );
        let days = (all.last().unwrap().funding_time_ms - all[0].funding_time_ms) / (24 * HOUR);
        assert!((90..=92).contains(&days), "{id}: {days} days");
        // The last settled rate is the current answer's settFundingRate.
        let cur = rates.iter().find(|r| r.inst_id == id).unwrap();
        assert_eq!(cur.settled_rate, Some(all.last().unwrap().rate));
        assert_eq!(
            cur.funding_time_ms,
            Some(all.last().unwrap().funding_time_ms + step)
        );
    }
}

#[tokio::test]
async fn rubik_history_pages_back_to_its_1440_row_window() {
    let sim = sim(|_| {}).await;
    let mut end = None;
    let mut cursor = first_cursor(NOW);
    let mut all = Vec::new();
    loop {
        let r = requests::open_interest_history("ETH-USDT-SWAP", "1H", end);
        let (s, body) = send(&sim, &r).await;
        let (page, _) = parse_open_interest_history(s, &body).unwrap();
        let times: Vec<u64> = page.iter().map(|r| r.ts_ms).collect();
        all.extend(page);
        match next_cursor(&times, cursor, 0) {
            Some(c) => {
                cursor = c;
                end = Some(c);
            }
            None => break,
        }
    }
    assert_eq!(all.len(), 1440);
    let all = ascending(all, |r| r.ts_ms);
    assert_eq!(all[0].ts_ms, rubik_oldest_ms(NOW, HOUR));
    for r in &all {
        assert_eq!(r.coins, Some(r.contracts * Decimal::new(1, 1)), "{r:?}");
    }
}

#[tokio::test]
async fn candles_switch_to_history_and_carry_confirm() {
    let sim = sim(|_| {}).await;
    let insts = instruments(&sim).await;
    let btc = &insts["BTC-USDT-SWAP"];
    let req = requests::candles(CandleKind::Trade, false, "BTC-USDT-SWAP", "1m", None);
    let (s, body) = send(&sim, &req).await;
    let (rows, _) = parse_candles(s, &body, CandleKind::Trade).unwrap();
    assert_eq!(rows.len(), 300);
    assert_eq!((rows[0].open_ms, rows[0].confirmed), (NOW, Some(false)));
    assert!(rows[1..].iter().all(|c| c.confirmed == Some(true)));
    for c in &rows {
        assert!((c.open % btc.tick_size.unwrap()).is_zero());
        assert_eq!(btc.coins(c.volume_contracts.unwrap(), None), c.volume_coins);
    }
    // Older than 1,439 bars: only the history endpoint has it.
    let old = NOW - 2000 * MINUTE;
    assert!(needs_history_candles(old, NOW, MINUTE));
    let recent = requests::candles(CandleKind::Trade, false, "BTC-USDT-SWAP", "1m", Some(old));
    let (s, body) = send(&sim, &recent).await;
    assert!(
        parse_candles(s, &body, CandleKind::Trade)
            .unwrap()
            .0
            .is_empty()
    );
    let hist = requests::candles(CandleKind::Trade, true, "BTC-USDT-SWAP", "1m", Some(old));
    let (s, body) = send(&sim, &hist).await;
    let (rows, _) = parse_candles(s, &body, CandleKind::Trade).unwrap();
    assert_eq!(rows[0].open_ms, old - MINUTE);
    let mark = requests::candles(CandleKind::Mark, true, "BTC-USDT-SWAP", "1H", None);
    let (s, body) = send(&sim, &mark).await;
    let (rows, _) = parse_candles(s, &body, CandleKind::Mark).unwrap();
    assert_eq!(rows.len(), 100);
    assert_eq!(rows[0].confirmed, Some(false));
}

#[tokio::test]
async fn simulator_errors_map_to_fetch_errors() {
    let sim = sim(|c| {
        c.limits.enabled = true;
        c.limits.okx_requests_per_2s = Some(1);
    })
    .await;
    let r = requests::funding_rate(Some("NOPE-USDT-SWAP"));
    let (s, body) = send(&sim, &r).await;
    let e = parse_funding_rates(s, &body).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnknownInstrument);
    assert_eq!(
        e.into_fetch_error(ccxt_registry::venue("binance"), Some("NOPE-USDT-SWAP")),
        FetchError::unknown_symbol(ccxt_registry::venue("binance"), "NOPE-USDT-SWAP")
    );
    let r = requests::funding_rate(Some("BTC-USDT-SWAP"));
    send(&sim, &r).await;
    let (s, body) = send(&sim, &r).await;
    assert_eq!(s, 429);
    let e = parse_funding_rates(s, &body).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    let bad = requests::candles(CandleKind::Trade, false, "BTC-USDT-SWAP", "7m", None);
    let (s, body) = send(&sim, &bad).await;
    let e = parse_candles(s, &body, CandleKind::Trade).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadParameter);
}

#[tokio::test]
async fn liquidation_frames_parse_and_match_what_was_sent() {
    let sim = sim(|c| c.ws.liquidations_per_sec.okx = 300.0).await;
    let insts = instruments(&sim).await;
    let (mut ws, _) = connect_async(format!("{}/ws/v5/public", sim.ws_url()))
        .await
        .unwrap();
    ws.send(Message::text(subscribe_frame(Some("1")).to_string()))
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut acked = false;
    let mut ponged = false;
    let t0 = Instant::now();
    while (got.len() < 100 || !ponged) && t0.elapsed() < Duration::from_secs(5) {
        if got.len() >= 100 && !ponged && t0.elapsed() > Duration::from_millis(1) {
            ws.send(Message::text(PING)).await.unwrap();
        }
        let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(2), ws.next()).await
        else {
            break;
        };
        let Message::Text(text) = msg else { continue };
        match parse_public_message(text.as_bytes()).unwrap() {
            PublicMessage::SubscribeAck { channel, id } => {
                assert_eq!(
                    (channel.as_str(), id.as_deref()),
                    ("liquidation-orders", Some("1"))
                );
                acked = true;
            }
            PublicMessage::Liquidations {
                liquidations,
                skipped,
            } => {
                assert!(skipped.is_empty());
                got.extend(liquidations);
            }
            PublicMessage::Pong => ponged = true,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(acked && ponged && got.len() >= 100);
    let sent = sim.sent_liquidations(exchange_sim::Venue::Okx);
    for (l, s) in got.iter().zip(&sent) {
        let inst = &insts[&l.inst_id];
        assert_eq!(l.inst_id, s.symbol);
        assert_eq!(l.ts_ms, s.time_ms);
        assert_eq!(l.contracts.to_string(), s.qty);
        assert_eq!(l.price.to_string(), s.price);
        assert_eq!(l.order_side, s.venue_side);
        let want = match s.side {
            exchange_sim::PositionSide::Long => PositionSide::Long,
            exchange_sim::PositionSide::Short => PositionSide::Short,
        };
        assert_eq!(l.side, want);
        assert!(!l.pos_side_disagrees);
        assert!((l.contracts % inst.lot_size.unwrap()).is_zero());
        assert!((l.price % inst.tick_size.unwrap()).is_zero());
        assert!(l.coins(inst.contract_value.unwrap(), inst.inverse).unwrap() > Decimal::ZERO);
    }
}
