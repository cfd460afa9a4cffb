//! BybitFetcher::bars against the exchange simulator (loopback, pinned clock): backward,
//! newest-first pages with nothing missing or doubled, the forming candle (first row) never
//! returned, request counts derived from the range, mark bars, invalid bars rejected, holes
//! left as holes, numbers in either form, precision from instruments-info, unknown symbols,
//! no 8-hour bars.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use ccxt_bybit::BybitFetcher;
use ccxt_bybit::http::parse::instrument;
use ccxt_model::{Bar, BarInterval, BarPrice, Precision};
use ccxt_transport::{HttpTransport, TransportConfig};
use ccxt_venue::bars::Clock;
use ccxt_venue::{BarPage, FetchError, Fetcher, RejectedBar};
use exchange_sim::{Faults, NumberFormat, SimConfig, SimHandle};
use futures::StreamExt;

/// 2026-01-01T00:07:30Z: the 00:07 minute is forming.
const NOW_MS: u64 = 1_767_225_600_000 + 7 * 60_000 + 30_000;
const MS: u64 = 1_000_000;
const MIN: u64 = 60_000 * MS;

async fn setup() -> (SimHandle, BybitFetcher) {
    let sim = exchange_sim::start(SimConfig {
        now_ms: Some(NOW_MS),
        symbols: 8,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut config = TransportConfig::new(ccxt_bybit::VENUE, sim.url());
    config.max_retries = 1;
    let transport = HttpTransport::new(config, ccxt_bybit::rate_limits()).unwrap();
    let fetcher = BybitFetcher::new(Arc::new(transport)).with_clock(Clock::fixed(NOW_MS * MS));
    (sim, fetcher)
}

async fn fetch(
    f: &BybitFetcher,
    symbol: &str,
    interval: BarInterval,
    price: BarPrice,
    start_ns: u64,
    end_ns: u64,
) -> Result<(Vec<Bar>, Vec<RejectedBar>, usize), FetchError> {
    let inst = instrument(symbol).unwrap();
    let pages: Vec<Result<BarPage, FetchError>> = f
        .bars(&inst, interval, price, start_ns, end_ns)
        .collect()
        .await;
    let mut bars = Vec::new();
    let mut rejected = Vec::new();
    let n = pages.len();
    for page in pages {
        let page = page?;
        bars.extend(page.bars);
        rejected.extend(page.rejected);
    }
    // Pages come newest page first (each oldest first): put them in time order; a bar
    // doubled across pages would stay doubled.
    bars.sort_by_key(|b: &Bar| b.ts_event);
    Ok((bars, rejected, n))
}

fn kline_requests(sim: &SimHandle, endpoint: &str) -> Vec<u32> {
    sim.stats()
        .log
        .iter()
        .filter(|e| e.endpoint == endpoint)
        .map(|e| e.weight)
        .collect()
}

#[tokio::test]
async fn one_minute_bars_page_backward_without_gaps_or_doubles_and_never_the_forming_one() {
    let (sim, f) = setup().await;
    let forming_open = NOW_MS * MS - NOW_MS * MS % MIN;
    let closed = 2500u64;
    let start = forming_open - closed * MIN + MIN; // the first bar closes here
    // The end lies an hour ahead: the simulator serves the forming candle last; it is dropped.
    let (bars, rejected, pages) = fetch(
        &f,
        "BTCUSDT",
        BarInterval::M1,
        BarPrice::Last,
        start,
        forming_open + 60 * MIN,
    )
    .await
    .unwrap();
    assert!(rejected.is_empty());
    assert_eq!(bars.len() as u64, closed);
    let closes: Vec<u64> = bars.iter().map(|b| b.ts_event).collect();
    let expected: Vec<u64> = (0..closed).map(|i| start + i * MIN).collect();
    assert!(closes == expected, "every minute once, in order");
    assert_eq!(*closes.last().unwrap(), forming_open, "the last closed bar");
    for b in &bars {
        assert_eq!(b.ts_init, b.ts_event);
        assert_eq!(b.precision, Precision { price: 1, size: 3 });
        assert_eq!(b.check(), Ok(()));
        assert_eq!(
            b.bar_type.to_string(),
            "BTCUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL"
        );
    }
    // Requests: the instrument listings for the precision (trading and pre-launch), then
    // ceil((closed + the forming one) / 1000) kline pages, newest first.
    let requests = kline_requests(&sim, "kline");
    assert_eq!(requests.len() as u64, (closed + 1).div_ceil(1000));
    assert_eq!(requests, [1, 1, 1]);
    assert_eq!(pages, requests.len());
    // (each listing is a page and the empty page after it).
    assert_eq!(kline_requests(&sim, "instruments-info").len(), 4);

    // Pages come newest first: the first page holds the newest bars.
    let inst = instrument("BTCUSDT").unwrap();
    let first: Vec<BarPage> = f
        .bars(&inst, BarInterval::M1, BarPrice::Last, start, forming_open)
        .take(1)
        .map(|p| p.unwrap())
        .collect()
        .await;
    assert_eq!(first[0].bars.len(), 1000);
    assert_eq!(first[0].bars.last().unwrap().ts_event, forming_open);

    // Again: the precision is cached.
    sim.reset();
    let (bars, _, _) = fetch(
        &f,
        "BTCUSDT",
        BarInterval::M1,
        BarPrice::Last,
        forming_open - 9 * MIN,
        NOW_MS * MS,
    )
    .await
    .unwrap();
    assert_eq!(bars.len(), 10);
    assert_eq!(kline_requests(&sim, "kline"), [1]);
    assert!(kline_requests(&sim, "instruments-info").is_empty());
    let err = fetch(
        &f,
        "BTCUSDT",
        BarInterval::H8,
        BarPrice::Last,
        0,
        NOW_MS * MS,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, FetchError::Unsupported { .. }), "{err}");
    sim.shutdown().await;
}

#[tokio::test]
async fn mark_bars_sit_near_trade_bars_without_volume_and_months_follow_the_calendar() {
    let (sim, f) = setup().await;
    let end = NOW_MS * MS;
    let start = end - 3 * 24 * 60 * MIN;
    let (trade, _, _) = fetch(&f, "ETHUSDT", BarInterval::H1, BarPrice::Last, start, end)
        .await
        .unwrap();
    let (mark, rejected, _) = fetch(&f, "ETHUSDT", BarInterval::H1, BarPrice::Mark, start, end)
        .await
        .unwrap();
    assert!(rejected.is_empty());
    assert_eq!(mark.len(), 72);
    assert_eq!(trade.len(), 72);
    for (t, m) in trade.iter().zip(&mark) {
        assert_eq!(t.ts_event, m.ts_event);
        assert!(m.volume.is_zero());
        let ratio = (m.close / t.close).to_string().parse::<f64>().unwrap();
        assert!((ratio - 1.0).abs() < 0.001, "{ratio}");
        assert_eq!(
            m.bar_type.to_string(),
            "ETHUSDT-LINEAR.BYBIT-1-HOUR-MARK-EXTERNAL"
        );
    }
    // Monthly bars over a year: 12 closed months, each closing on the 1st.
    let year_ago = end - 365 * 24 * 60 * MIN; // 2025-01-01T00:07:30Z
    let (months, _, _) = fetch(
        &f,
        "BTCUSDT",
        BarInterval::Month1,
        BarPrice::Last,
        year_ago,
        end,
    )
    .await
    .unwrap();
    assert_eq!(months.len(), 12);
    assert_eq!(months.last().unwrap().ts_event, 1_767_225_600_000 * MS);
    sim.shutdown().await;
}

#[tokio::test]
async fn invalid_bars_are_rejected_and_holes_stay_holes() {
    let (sim, f) = setup().await;
    let end = NOW_MS * MS;
    let start = end - 1500 * MIN;
    let (clean, _, _) = fetch(&f, "SOLUSDT", BarInterval::M1, BarPrice::Last, start, end)
        .await
        .unwrap();
    sim.set_faults(Faults {
        kline_hole_rate: 0.05,
        kline_invalid_rate: 0.05,
        ..Faults::default()
    });
    let (bars, rejected, _) = fetch(&f, "SOLUSDT", BarInterval::M1, BarPrice::Last, start, end)
        .await
        .unwrap();
    let all: BTreeSet<u64> = clean.iter().map(|b| b.open_ns()).collect();
    let kept: BTreeSet<u64> = bars.iter().map(|b| b.open_ns()).collect();
    let bad: BTreeSet<u64> = rejected.iter().map(|r| r.open_ns).collect();
    assert!(!bad.is_empty() && kept.is_disjoint(&bad));
    assert!(kept.is_subset(&all) && bad.is_subset(&all));
    let holes = all.len() - kept.len() - bad.len();
    assert!(holes > 20, "holes: {holes}");
    assert!(bars.iter().all(|b| b.check().is_ok()));
    assert!(
        rejected
            .iter()
            .all(|r| matches!(r.problem, ccxt_model::BarProblem::PricesOutOfOrder { .. }))
    );
    // Kept bars are the clean ones, value for value.
    for b in &bars {
        assert!(clean.contains(b));
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn numbers_in_either_form_unknown_symbols_and_empty_ranges() {
    let (sim, f) = setup().await;
    let end = NOW_MS * MS;
    let start = end - 100 * MIN;
    let (native, _, _) = fetch(&f, "XRPUSDT", BarInterval::M5, BarPrice::Last, start, end)
        .await
        .unwrap();
    for format in [NumberFormat::Strings, NumberFormat::Numbers] {
        sim.set_faults(Faults {
            number_format: format,
            ..Faults::default()
        });
        let (bars, _, _) = fetch(&f, "XRPUSDT", BarInterval::M5, BarPrice::Last, start, end)
            .await
            .unwrap();
        assert_eq!(bars, native, "{format:?}");
    }
    sim.set_faults(Faults::default());
    let err = fetch(&f, "NOPEUSDT", BarInterval::M1, BarPrice::Last, start, end)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::UnknownSymbol { .. }), "{err}");
    sim.reset();
    let (bars, _, pages) = fetch(&f, "BTCUSDT", BarInterval::H1, BarPrice::Last, end, end - 1)
        .await
        .unwrap();
    assert_eq!((bars.len(), pages), (0, 0));
    assert!(sim.stats().log.is_empty(), "an empty range asks nothing");
    sim.set_faults(Faults {
        malformed: true,
        ..Faults::default()
    });
    let err = fetch(&f, "BTCUSDT", BarInterval::H1, BarPrice::Last, start, end)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Malformed { .. }), "{err}");
    sim.shutdown().await;
}
