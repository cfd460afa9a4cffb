//! Hyperliquid liquidations by polling `userFillsByTime`, against the fake transport:
//! liquidation fills become rows, each trade once (across overlapping windows and across
//! addresses), failed polls are re-read, and only what is too old to re-read is a gap.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ccxt_hyperliquid::liquidations::UserFillsFeed;
use ccxt_model::time::now_ns;
use ccxt_model::{Instrument, LiquidationSource, PositionSide};
use ccxt_stream::{SourceConfig, StreamEvent, StreamHandle};
use ccxt_venue::testing::{FakeTransport, response};
use ccxt_venue::{HttpRequest, HttpResponse};
use common::{SERIAL, collect_for, collect_until, gaps, rows};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const MS: Duration = Duration::from_millis(1);
const LIQUIDATOR: &str = "0x2e3d94f0562703b25c83308a05046ddaf9a8dd14";
const USER: &str = "0x360878d351f05975e25f1807a27895e1e5e004fb";

fn fill(coin: &str, side: &str, tid: u64, time_ms: u64, liquidated: Option<&str>) -> Value {
    let mut fill = json!({
        "coin": coin, "px": "66653.0", "sz": "0.5", "side": side, "time": time_ms,
        "startPosition": "0.0", "dir": "Close Long", "closedPnl": "0.0", "hash": "0x0",
        "oid": 1, "crossed": true, "fee": "0.0", "tid": tid, "feeToken": "USDC"
    });
    if let Some(user) = liquidated {
        fill["liquidation"] =
            json!({"liquidatedUser": user, "markPx": "66600.0", "method": "market"});
    }
    fill
}

fn body_of(request: &HttpRequest) -> Value {
    request.body.clone().unwrap_or_default()
}

fn start(
    transport: Arc<FakeTransport>,
    addresses: &[&str],
    interval: Duration,
    symbols: Option<Vec<Instrument>>,
) -> (StreamHandle, mpsc::Receiver<StreamEvent>, CancellationToken) {
    let (tx, rx) = mpsc::channel(1024);
    let cancel = CancellationToken::new();
    let handle = ccxt_stream::spawn(
        vec![SourceConfig::Feed {
            ws: None,
            feed: Arc::new(UserFillsFeed {
                transport,
                addresses: addresses.iter().map(|a| a.to_string()).collect(),
                interval,
            }),
            symbols,
        }],
        tx,
        cancel.clone(),
    );
    (handle, rx, cancel)
}

async fn stop(handle: StreamHandle, cancel: CancellationToken) {
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(1), handle.join())
        .await
        .expect("pollers stop promptly");
}

#[tokio::test]
async fn liquidation_fills_are_delivered_once_across_overlapping_polls_and_addresses() {
    let _serial = SERIAL.lock().await;
    let t = now_ns() / 1_000_000;
    let transport = Arc::new(FakeTransport::new().handle("/info", move |request| {
        let body = body_of(request);
        assert_eq!(body["type"], "userFillsByTime");
        let fills = if body["user"] == LIQUIDATOR {
            // The counterparty's view of USER's liquidation (it bought: USER's long was
            // sold), an ordinary fill, and a liquidation of a coin not asked for.
            json!([
                fill("BTC", "B", 1, t, Some(USER)),
                fill("BTC", "B", 2, t, None),
                fill("ETH", "B", 3, t, Some(USER))
            ])
        } else {
            // USER's own fill of the same trade.
            json!([fill("BTC", "A", 1, t, Some(USER))])
        };
        response(200, fills.to_string())
    }));
    let btc = Instrument::from_native(ccxt_registry::venue("hyperliquid"), "BTC");
    let (handle, mut rx, cancel) = start(
        transport.clone(),
        &[LIQUIDATOR, USER],
        20 * MS,
        Some(vec![btc]),
    );
    let events = collect_for(&mut rx, 300 * MS).await;
    let stats = handle.stats();
    stop(handle, cancel).await;

    let rows = rows(&events);
    assert_eq!(rows.len(), 1, "one trade, one row: {rows:?}");
    let row = &rows[0];
    assert_eq!(row.instrument_id.as_str(), "BTC-USD-PERP.HYPERLIQUID");
    assert_eq!(
        (row.side, row.order_side.as_str()),
        (PositionSide::Long, "A")
    );
    assert_eq!((row.quantity, row.price), (0.5, 66653.0));
    assert_eq!(row.source, LiquidationSource::Poll);
    assert_eq!(row.method.as_deref(), Some("market"));
    assert_eq!(row.trade_id.as_deref(), Some("1"));
    assert_eq!(row.ts_event, t * 1_000_000);
    assert!(gaps(&events).is_empty());

    let snap = stats.snapshot()[&ccxt_registry::venue("hyperliquid")];
    assert!(snap.polls >= 4, "{snap:?}");
    assert!(snap.duplicates >= snap.polls - 1, "{snap:?}");
    assert_eq!(snap.liquidations, 1);

    // Each address's windows follow each other and overlap the previous one by 10 s.
    for user in [LIQUIDATOR, USER] {
        let windows: Vec<(u64, u64)> = transport
            .bodies()
            .into_iter()
            .filter(|b| b["user"] == user)
            .map(|b| {
                (
                    b["startTime"].as_u64().unwrap(),
                    b["endTime"].as_u64().unwrap(),
                )
            })
            .collect();
        assert!(windows.len() >= 3);
        for w in windows.windows(2) {
            let (previous, next) = (w[0], w[1]);
            assert!(next.0 <= previous.1, "overlap: {previous:?} {next:?}");
            assert!(
                next.0 + 10_000 >= previous.1,
                "a little: {previous:?} {next:?}"
            );
            assert!(next.1 >= previous.1);
        }
    }
}

/// A venue whose fills lie at given times, answering only what a window asks for, and that
/// can be switched to failing (HTTP 500).
struct Venue1 {
    failing: AtomicBool,
    fills: Mutex<Vec<Value>>,
}

fn venue_transport(venue: Arc<Venue1>) -> Arc<FakeTransport> {
    Arc::new(
        FakeTransport::new().handle("/info", move |request| -> HttpResponse {
            if venue.failing.load(Ordering::SeqCst) {
                return response(500, "busy");
            }
            let body = body_of(request);
            let (start, end) = (
                body["startTime"].as_u64().unwrap(),
                body["endTime"].as_u64().unwrap(),
            );
            let fills: Vec<Value> = venue
                .fills
                .lock()
                .unwrap()
                .iter()
                .filter(|f| (start..=end).contains(&f["time"].as_u64().unwrap()))
                .cloned()
                .collect();
            response(200, Value::from(fills).to_string())
        }),
    )
}

#[tokio::test]
async fn a_short_outage_is_re_read_at_the_next_successful_poll_without_a_gap() {
    let _serial = SERIAL.lock().await;
    let venue = Arc::new(Venue1 {
        failing: AtomicBool::new(false),
        fills: Mutex::default(),
    });
    let (handle, mut rx, cancel) =
        start(venue_transport(venue.clone()), &[LIQUIDATOR], 20 * MS, None);
    tokio::time::sleep(100 * MS).await;
    venue.failing.store(true, Ordering::SeqCst);
    // A liquidation happens during the outage.
    let during = now_ns() / 1_000_000 + 10;
    venue
        .fills
        .lock()
        .unwrap()
        .push(fill("BTC", "B", 42, during, Some(USER)));
    tokio::time::sleep(150 * MS).await;
    venue.failing.store(false, Ordering::SeqCst);
    let events = collect_until(&mut rx, Duration::from_secs(1), |e| !rows(e).is_empty()).await;
    let stats = handle.stats();
    stop(handle, cancel).await;
    let rows = rows(&events);
    assert_eq!(rows.len(), 1, "{events:?}");
    assert_eq!(rows[0].trade_id.as_deref(), Some("42"));
    assert!(gaps(&events).is_empty(), "nothing was lost: {events:?}");
    assert!(stats.snapshot()[&ccxt_registry::venue("hyperliquid")].poll_errors >= 3);
}

#[tokio::test]
async fn an_outage_longer_than_the_catch_up_depth_leaves_a_gap_for_what_cannot_be_re_read() {
    let _serial = SERIAL.lock().await;
    // Interval 2 ms → catch-up depth 1 s (the floor). Fail for 1.4 s: 0.4 s cannot be re-read.
    let venue = Arc::new(Venue1 {
        failing: AtomicBool::new(false),
        fills: Mutex::default(),
    });
    let transport = venue_transport(venue.clone());
    let (handle, mut rx, cancel) = start(transport.clone(), &[LIQUIDATOR], 2 * MS, None);
    tokio::time::sleep(50 * MS).await;
    let failed_from = now_ns();
    venue.failing.store(true, Ordering::SeqCst);
    tokio::time::sleep(1400 * MS).await;
    let recovered = Arc::new(AtomicU64::new(now_ns()));
    venue.failing.store(false, Ordering::SeqCst);
    let events = collect_until(&mut rx, Duration::from_secs(1), |e| !gaps(e).is_empty()).await;
    stop(handle, cancel).await;
    let gaps = gaps(&events);
    assert_eq!(gaps.len(), 1, "{events:?}");
    let gap = &gaps[0];
    assert_eq!(gap.stream, format!("userFillsByTime {LIQUIDATOR}"));
    let recovered = recovered.load(Ordering::SeqCst);
    // Starts where the last good poll ended; ends where re-reading becomes possible again.
    assert!(
        gap.start_ns <= failed_from && gap.start_ns + 100_000_000 >= failed_from,
        "{gap:?}"
    );
    assert!(
        gap.end_ns + 1_000_000_000 >= recovered
            && gap.end_ns + 1_000_000_000 <= recovered + 100_000_000
    );
    assert!(
        (300_000_000..600_000_000).contains(&gap.duration_ns()),
        "{}",
        gap.duration_ns()
    );
    assert!(gap.reason.contains("HTTP 500"), "{}", gap.reason);
    // No window after the outage reaches back further than the depth (plus overlap).
    let last = transport.bodies().last().cloned().unwrap();
    let span_ms = last["endTime"].as_u64().unwrap() - last["startTime"].as_u64().unwrap();
    assert!(span_ms <= 1_000 + 10_000 + 50, "{span_ms}");
}

#[tokio::test]
async fn a_shutdown_while_polls_fail_records_the_uncovered_stretch() {
    let _serial = SERIAL.lock().await;
    let venue = Arc::new(Venue1 {
        failing: AtomicBool::new(true),
        fills: Mutex::default(),
    });
    let t0 = now_ns();
    let (handle, mut rx, cancel) = start(venue_transport(venue), &[LIQUIDATOR], 20 * MS, None);
    let during = collect_for(&mut rx, 200 * MS).await;
    assert!(gaps(&during).is_empty(), "a gap is recorded when it ends");
    stop(handle, cancel).await;
    let mut late = Vec::new();
    while let Ok(e) = rx.try_recv() {
        late.push(e);
    }
    let gaps = gaps(&late);
    assert_eq!(gaps.len(), 1, "{late:?}");
    assert!(gaps[0].start_ns >= t0 && gaps[0].start_ns < t0 + 200_000_000);
    assert!(gaps[0].duration_ns() >= 200_000_000);
    assert!(gaps[0].reason.contains("HTTP 500"), "{}", gaps[0].reason);
}

#[tokio::test]
async fn a_stop_polls_once_more_so_the_last_fills_are_delivered() {
    let _serial = SERIAL.lock().await;
    let t = now_ns() / 1_000_000;
    let polls = Arc::new(AtomicU64::new(0));
    let counter = polls.clone();
    // Each poll finds one new liquidation (trade id = the poll's number).
    let transport = Arc::new(FakeTransport::new().handle("/info", move |_| {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        response(200, json!([fill("BTC", "B", n, t, Some(USER))]).to_string())
    }));
    // The next tick would be an hour away: only the last poll at the stop can read tid 2.
    let (handle, mut rx, cancel) = start(transport, &[LIQUIDATOR], 3_600_000 * MS, None);
    let first = collect_until(&mut rx, Duration::from_secs(2), |e| !rows(e).is_empty()).await;
    assert_eq!(rows(&first).len(), 1);
    stop(handle, cancel).await;
    let mut late = Vec::new();
    while let Ok(e) = rx.try_recv() {
        late.push(e);
    }
    assert_eq!(polls.load(Ordering::SeqCst), 2, "one last poll at the stop");
    let tids: Vec<_> = rows(&late)
        .iter()
        .map(|r| r.trade_id.clone().unwrap())
        .collect();
    assert_eq!(tids, ["2"]);
    assert!(gaps(&late).is_empty(), "a clean stop is no gap");
}

#[tokio::test]
async fn a_resumed_poll_re_reads_what_it_can_skips_what_is_stored_and_records_the_rest() {
    let _serial = SERIAL.lock().await;
    let now = now_ns();
    let t = now / 1_000_000 - 60_000; // a minute ago: within the re-read
    let transport = Arc::new(FakeTransport::new().handle("/info", move |_| {
        response(
            200,
            json!([
                fill("BTC", "B", 5, t, Some(USER)),
                fill("BTC", "B", 6, t, Some(USER))
            ])
            .to_string(),
        )
    }));
    let since = now - 3_600_000_000_000; // an hour down
    let btc = Instrument::from_native(ccxt_registry::venue("hyperliquid"), "BTC");
    let resume = std::collections::BTreeMap::from([(
        ccxt_registry::venue("hyperliquid"),
        ccxt_stream::Resume {
            since_ns: since,
            reason: "stream-liquidations not running (killed or crashed)".into(),
            // Only the instrument and the trade id make the key of a fill with a trade id.
            known: vec![ccxt_stream::LiquidationKey::of(&ccxt_model::Liquidation {
                instrument_id: btc.id.clone(),
                side: PositionSide::Long,
                order_side: "A".into(),
                quantity: 0.0,
                price: 0.0,
                value: 0.0,
                source: LiquidationSource::Poll,
                method: None,
                trade_id: Some("5".into()),
                ts_event: 0,
                ts_init: 0,
            })],
        },
    )]);
    let (tx, mut rx) = mpsc::channel(1024);
    let cancel = CancellationToken::new();
    // 1 s polls re-read up to 360 s back.
    let handle = ccxt_stream::spawn_resuming(
        vec![SourceConfig::Feed {
            ws: None,
            feed: Arc::new(UserFillsFeed {
                transport: transport.clone(),
                addresses: vec![LIQUIDATOR.to_string()],
                interval: Duration::from_secs(1),
            }),
            symbols: None,
        }],
        tx,
        cancel.clone(),
        &resume,
    );
    let events = collect_until(&mut rx, Duration::from_secs(2), |e| !rows(e).is_empty()).await;
    stop(handle, cancel).await;
    let tids: Vec<_> = rows(&events)
        .iter()
        .map(|r| r.trade_id.clone().unwrap())
        .collect();
    assert_eq!(tids, ["6"], "tid 5 is stored already");
    let first = transport.bodies()[0].clone();
    let reach_ms = now / 1_000_000 - first["startTime"].as_u64().unwrap();
    assert!((360_000..=372_000).contains(&reach_ms), "{reach_ms}");
    let gaps = gaps(&events);
    assert_eq!(gaps.len(), 1, "{events:?}");
    assert_eq!(gaps[0].start_ns, since);
    assert!(gaps[0].end_ns >= now - 361_000_000_000 && gaps[0].end_ns <= now);
    assert_eq!(
        gaps[0].reason,
        "stream-liquidations not running (killed or crashed); too long ago to re-read"
    );
}
