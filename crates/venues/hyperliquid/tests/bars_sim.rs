//! HyperliquidFetcher::bars against the exchange simulator (loopback, pinned clock): only the
//! newest 5000 candles exist, the forming candle is never returned, one request per range,
//! invalid bars rejected, holes left as holes, builder-dex coins, numbers in either form, no
//! mark-price or 6-hour bars.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use ccxt_hyperliquid::HyperliquidFetcher;
use ccxt_hyperliquid::http::parse::instrument_for_coin;
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

async fn setup() -> (SimHandle, HyperliquidFetcher) {
    let sim = exchange_sim::start(SimConfig {
        now_ms: Some(NOW_MS),
        symbols: 8,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut config = TransportConfig::new(ccxt_hyperliquid::VENUE, sim.url());
    config.max_retries = 1;
    let transport = HttpTransport::new(config, ccxt_hyperliquid::rate_limits()).unwrap();
    let fetcher =
        HyperliquidFetcher::new(Arc::new(transport)).with_clock(Clock::fixed(NOW_MS * MS));
    (sim, fetcher)
}

async fn fetch(
    f: &HyperliquidFetcher,
    coin: &str,
    interval: BarInterval,
    price: BarPrice,
    start_ns: u64,
    end_ns: u64,
) -> Result<(Vec<Bar>, Vec<RejectedBar>, usize), FetchError> {
    let inst = instrument_for_coin(coin).unwrap();
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
    Ok((bars, rejected, n))
}

fn requests(sim: &SimHandle, endpoint: &str) -> Vec<u32> {
    sim.stats()
        .log
        .iter()
        .filter(|e| e.endpoint == endpoint)
        .map(|e| e.weight)
        .collect()
}

#[tokio::test]
async fn only_the_newest_5000_candles_come_back_once_each_never_the_forming_one() {
    let (sim, f) = setup().await;
    assert_eq!(f.bar_history_limit(BarInterval::M1), Some(5000));
    let forming_open = NOW_MS * MS - NOW_MS * MS % MIN;
    // A week of minutes asked for, an hour past now: the newest 5000 exist, the last forming.
    let (bars, rejected, _) = fetch(
        &f,
        "BTC",
        BarInterval::M1,
        BarPrice::Last,
        forming_open - 7 * 1440 * MIN,
        forming_open + 60 * MIN,
    )
    .await
    .unwrap();
    assert!(rejected.is_empty());
    assert_eq!(bars.len(), 4999);
    let closes: Vec<u64> = bars.iter().map(|b| b.ts_event).collect();
    let expected: Vec<u64> = (0..4999u64)
        .map(|i| forming_open - 4998 * MIN + i * MIN)
        .collect();
    assert!(closes == expected, "every existing minute once, in order");
    for b in &bars {
        assert_eq!(b.precision, Precision { price: 1, size: 5 });
        assert_eq!(b.check(), Ok(()));
        assert_eq!(
            b.bar_type.to_string(),
            "BTC-USD-PERP.HYPERLIQUID-1-MINUTE-LAST-EXTERNAL"
        );
    }
    // One meta for the precision, one candleSnapshot (its last candle is the forming one, so
    // nothing after it is asked for), charged 20 + 5000 / 60.
    assert_eq!(requests(&sim, "meta").len(), 1);
    let snapshots = requests(&sim, "candleSnapshot");
    assert_eq!(snapshots.len(), 1);
    // Charged by the simulator: 20 + 1 per 60 candles returned.
    assert_eq!(snapshots[0], 20 + 5000 / 60);

    // Hours of a builder-dex coin (listed 60 days before the clock's day): precision from its
    // dex's meta.
    sim.reset();
    let (bars, _, _) = fetch(
        &f,
        "xyz:TSLA",
        BarInterval::H1,
        BarPrice::Last,
        0,
        NOW_MS * MS,
    )
    .await
    .unwrap();
    assert_eq!(bars.len(), 60 * 24);
    assert_eq!(
        bars[0].bar_type.instrument_id.as_str(),
        "xyz_TSLA-USD-PERP.HYPERLIQUID"
    );
    assert_eq!(requests(&sim, "candleSnapshot").len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn no_mark_or_six_hour_bars_and_unknown_coins() {
    let (sim, f) = setup().await;
    assert!(f.bar_intervals(BarPrice::Mark).is_empty());
    assert!(!f.bar_intervals(BarPrice::Last).contains(&BarInterval::H6));
    let end = NOW_MS * MS;
    for (interval, price) in [
        (BarInterval::M1, BarPrice::Mark),
        (BarInterval::H6, BarPrice::Last),
    ] {
        let err = fetch(&f, "BTC", interval, price, 0, end).await.unwrap_err();
        assert!(matches!(err, FetchError::Unsupported { .. }), "{err}");
    }
    assert!(sim.stats().log.is_empty(), "nothing asked");
    let err = fetch(&f, "NOPE", BarInterval::M1, BarPrice::Last, 0, end)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::UnknownSymbol { .. }), "{err}");
    sim.shutdown().await;
}

#[tokio::test]
async fn invalid_bars_are_rejected_holes_stay_holes_numbers_in_either_form() {
    let (sim, f) = setup().await;
    let end = NOW_MS * MS;
    let start = end - 1000 * MIN;
    let (clean, _, _) = fetch(&f, "ETH", BarInterval::M1, BarPrice::Last, start, end)
        .await
        .unwrap();
    assert_eq!(clean.len(), 1000);
    for format in [NumberFormat::Strings, NumberFormat::Numbers] {
        sim.set_faults(Faults {
            number_format: format,
            ..Faults::default()
        });
        let (bars, _, _) = fetch(&f, "ETH", BarInterval::M1, BarPrice::Last, start, end)
            .await
            .unwrap();
        assert!(bars == clean, "{format:?}");
    }
    sim.set_faults(Faults {
        kline_hole_rate: 0.05,
        kline_invalid_rate: 0.05,
        ..Faults::default()
    });
    let (bars, rejected, _) = fetch(&f, "ETH", BarInterval::M1, BarPrice::Last, start, end)
        .await
        .unwrap();
    let all: BTreeSet<u64> = clean.iter().map(|b| b.open_ns()).collect();
    let kept: BTreeSet<u64> = bars.iter().map(|b| b.open_ns()).collect();
    let bad: BTreeSet<u64> = rejected.iter().map(|r| r.open_ns).collect();
    assert!(!bad.is_empty() && kept.is_disjoint(&bad));
    assert!(kept.is_subset(&all) && bad.is_subset(&all));
    assert!(all.len() - kept.len() - bad.len() > 10, "holes");
    assert!(bars.iter().all(|b| clean.contains(b)));
    sim.shutdown().await;
}
