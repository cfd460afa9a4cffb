//! BinanceFetcher over a fake transport: which requests it sends (bulk calls once, pools and
//! weights), how per-symbol failures stay per symbol, and how history pages arrive.

use std::sync::Arc;

use ccxt_binance::http::parse::instrument;
use ccxt_binance::{BinanceFetcher, POOL_FUNDING, POOL_IP};
use ccxt_model::Instrument;
use ccxt_model::time::{NANOS_PER_DAY, now_ns};
use ccxt_venue::testing::{FakeTransport, response};
use ccxt_venue::{FetchError, Fetcher, InstrumentStatus, OiPeriod};
use futures::StreamExt;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/", $name))
    };
}

fn setup(transport: FakeTransport) -> (Arc<FakeTransport>, BinanceFetcher) {
    let transport = Arc::new(transport);
    (transport.clone(), BinanceFetcher::new(transport))
}

fn inst(native: &str) -> Instrument {
    instrument(native).expect("valid symbol")
}

const INVALID_SYMBOL: &str = r#"{"code":-1121,"msg":"Invalid symbol."}"#;

#[tokio::test]
async fn instruments_come_from_exchange_info_and_funding_info() {
    let funding_info = r#"[{"symbol":"ETHUSDT","fundingIntervalHours":4}]"#;
    let (t, f) = setup(
        FakeTransport::default()
            .get(
                "/fapi/v1/exchangeInfo",
                &[],
                200,
                fixture!("exchange_info.json"),
            )
            .get("/fapi/v1/fundingInfo", &[], 200, funding_info),
    );
    let list = f.instruments().await.expect("lists");
    let got: Vec<_> = list
        .iter()
        .map(|i| {
            (
                i.instrument.native.as_str(),
                i.status.clone(),
                i.funding_interval_minutes,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("BTCUSDT", InstrumentStatus::Trading, Some(480)),
            ("ETHUSDT", InstrumentStatus::Trading, Some(240)),
        ]
    );
    let costs: Vec<_> = t
        .requests()
        .into_iter()
        .map(|r| (r.path, r.costs))
        .collect();
    assert_eq!(
        costs,
        vec![
            ("/fapi/v1/exchangeInfo".to_string(), vec![(POOL_IP, 1)]),
            ("/fapi/v1/fundingInfo".to_string(), vec![(POOL_FUNDING, 1)]),
        ]
    );
}

#[tokio::test]
async fn current_open_interest_one_premium_index_one_call_per_symbol_unknown_stays_per_symbol() {
    let premium = r#"[{"symbol":"BTCUSDT","markPrice":"100","lastFundingRate":"0.0001","nextFundingTime":2,"time":1}]"#;
    let (t, f) = setup(
        FakeTransport::default()
            .get("/fapi/v1/premiumIndex", &[], 200, premium)
            .get(
                "/fapi/v1/openInterest",
                &[("symbol", "BTCUSDT")],
                200,
                fixture!("open_interest.json"),
            )
            .get(
                "/fapi/v1/openInterest",
                &[("symbol", "FOOUSDT")],
                400,
                INVALID_SYMBOL,
            )
            .get(
                "/fapi/v1/openInterest",
                &[("symbol", "ETHUSDT")],
                200,
                r#"{"openInterest":"5","symbol":"ETHUSDT","time":1589437530011}"#,
            ),
    );
    let before = now_ns();
    let asked = [inst("BTCUSDT"), inst("FOOUSDT"), inst("ETHUSDT")];
    let results = f.current_open_interest(&asked).await;

    let order: Vec<_> = results.iter().map(|(i, _)| i.native.as_str()).collect();
    assert_eq!(
        order,
        ["BTCUSDT", "FOOUSDT", "ETHUSDT"],
        "results follow the input"
    );
    let snapshot = results[0].1.as_ref().expect("BTCUSDT ok");
    let btc = &snapshot.open_interest;
    assert_eq!(btc.open_interest, 10659.509);
    assert_eq!(btc.open_interest_value, Some(1065950.9), "OI × mark price");
    assert_eq!(btc.ts_event, 1_589_437_530_011_000_000, "venue time");
    assert!(btc.ts_init >= before, "receive time");
    let mark = snapshot
        .prices
        .mark
        .as_ref()
        .expect("the premiumIndex mark price");
    assert_eq!(mark.value.to_string(), "100");
    assert_eq!(mark.ts_event, 1_000_000, "the premiumIndex time");
    assert!(mark.ts_init >= before);
    assert_eq!(snapshot.prices.index, None, "no indexPrice in the answer");
    assert_eq!(
        results[1].1,
        Err(FetchError::UnknownSymbol {
            venue: ccxt_binance::VENUE,
            symbol: "FOOUSDT".into()
        })
    );
    let eth = results[2].1.as_ref().expect("ETHUSDT ok");
    assert_eq!(
        eth.open_interest.open_interest_value, None,
        "no mark price, no value"
    );
    assert!(eth.prices.is_empty());

    let requests = t.requests();
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path == "/fapi/v1/premiumIndex")
            .count(),
        1
    );
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path == "/fapi/v1/openInterest")
            .count(),
        3
    );
    assert!(requests.iter().all(|r| r.costs == vec![(POOL_IP, 1)]));
    assert!(
        requests
            .iter()
            .find(|r| r.path == "/fapi/v1/premiumIndex")
            .is_some_and(|r| r.query.is_empty())
    );
}

#[tokio::test]
async fn current_open_interest_without_mark_prices_still_reports_open_interest() {
    let (_, f) = setup(
        FakeTransport::default()
            .get("/fapi/v1/premiumIndex", &[], 503, "busy")
            .get(
                "/fapi/v1/openInterest",
                &[("symbol", "BTCUSDT")],
                200,
                fixture!("open_interest.json"),
            ),
    );
    let results = f.current_open_interest(&[inst("BTCUSDT")]).await;
    let snapshot = results[0].1.as_ref().expect("ok");
    let oi = &snapshot.open_interest;
    assert_eq!(
        (oi.open_interest, oi.open_interest_value),
        (10659.509, None)
    );
    assert!(snapshot.prices.is_empty());
}

#[tokio::test]
async fn current_funding_two_bulk_calls_unknown_symbol_and_intervals() {
    let premium = r#"[
        {"symbol":"BTCUSDT","markPrice":"11793.63104562","lastFundingRate":"0.00038246","nextFundingTime":1597392000000,"time":1597370495002},
        {"symbol":"BLZUSDT","markPrice":"0.1","lastFundingRate":"-0.00120000","nextFundingTime":1597384800000,"time":1597370495002}]"#;
    let (t, f) = setup(
        FakeTransport::default()
            .get("/fapi/v1/premiumIndex", &[], 200, premium)
            .get(
                "/fapi/v1/fundingInfo",
                &[],
                200,
                fixture!("funding_info_live_excerpt.json"),
            ),
    );
    let before = now_ns();
    let asked = [inst("BTCUSDT"), inst("FOOUSDT"), inst("BLZUSDT")];
    let results = f.current_funding(&asked).await;
    let btc = results[0].1.as_ref().expect("BTCUSDT ok");
    assert_eq!(btc.funding.rate.to_string(), "0.00038246");
    assert_eq!(
        btc.funding.interval_minutes,
        Some(480),
        "not in fundingInfo: 8 h"
    );
    assert_eq!(btc.funding.next_funding_ns, Some(1_597_392_000_000_000_000));
    assert_eq!(btc.funding.ts_event, 1_597_370_495_002_000_000);
    assert!(btc.funding.ts_init >= before);
    let mark = btc.prices.mark.as_ref().map(|m| m.value.to_string());
    assert_eq!(mark.as_deref(), Some("11793.63104562"));
    assert_eq!(
        results[1].1,
        Err(FetchError::UnknownSymbol {
            venue: ccxt_binance::VENUE,
            symbol: "FOOUSDT".into()
        })
    );
    let blz = results[2].1.as_ref().expect("BLZUSDT ok");
    assert_eq!(
        (blz.funding.rate.to_string(), blz.funding.interval_minutes),
        ("-0.00120000".into(), Some(240))
    );
    assert_eq!(t.paths(), ["/fapi/v1/premiumIndex", "/fapi/v1/fundingInfo"]);
    let pools: Vec<_> = t.requests().into_iter().map(|r| r.costs).collect();
    assert_eq!(pools, vec![vec![(POOL_IP, 1)], vec![(POOL_FUNDING, 1)]]);
}

#[tokio::test]
async fn current_funding_errors_are_per_symbol_and_funding_info_failure_only_loses_intervals() {
    let (_, f) = setup(
        FakeTransport::default()
            .get(
                "/fapi/v1/premiumIndex",
                &[],
                200,
                fixture!("premium_index_all.json"),
            )
            .get("/fapi/v1/fundingInfo", &[], 500, "oops"),
    );
    let results = f.current_funding(&[inst("BTCUSDT")]).await;
    let btc = results[0].1.as_ref().expect("ok");
    assert_eq!(btc.funding.interval_minutes, None);

    let (t, f) = setup(FakeTransport::default().get(
        "/fapi/v1/premiumIndex",
        &[],
        400,
        r#"{"code":-1000,"msg":"An unknown error occured while processing the request."}"#,
    ));
    let results = f.current_funding(&[inst("BTCUSDT"), inst("ETHUSDT")]).await;
    for (_, r) in &results {
        assert!(
            matches!(r, Err(FetchError::Venue { code, .. }) if code == "-1000"),
            "{r:?}"
        );
    }
    assert_eq!(
        t.paths(),
        ["/fapi/v1/premiumIndex"],
        "no fundingInfo call after a failure"
    );
}

#[tokio::test]
async fn foreign_and_empty_inputs_send_nothing() {
    let (t, f) = setup(FakeTransport::default());
    assert!(f.current_open_interest(&[]).await.is_empty());
    assert!(f.current_funding(&[]).await.is_empty());
    ccxt_registry::install().unwrap();
    let bybit = Instrument::from_id("BTCUSDT-LINEAR.BYBIT").expect("valid");
    let results = f.current_funding(std::slice::from_ref(&bybit)).await;
    assert!(matches!(results[0].1, Err(FetchError::Unsupported { .. })));
    let pages: Vec<_> = f.funding_history(&bybit, 0, 1).collect().await;
    assert!(matches!(
        pages.as_slice(),
        [Err(FetchError::Unsupported { .. })]
    ));
    assert!(t.requests().is_empty());
}

const H: u64 = 3_600_000;
const T0: u64 = 1_735_689_600_000;

fn funding_page(times: impl IntoIterator<Item = u64>) -> String {
    let rows: Vec<String> = times
        .into_iter()
        .map(|t| format!(r#"{{"symbol":"BTCUSDT","fundingRate":"0.00010000","fundingTime":{t},"markPrice":"1"}}"#))
        .collect();
    format!("[{}]", rows.join(","))
}

#[tokio::test]
async fn funding_history_pages_forward_in_order_and_stops_on_a_short_page() {
    let end = T0 + 2000 * 8 * H;
    let first: Vec<u64> = (0..1000).map(|i| T0 + i * 8 * H).collect();
    let last = first[999];
    let (t, f) = setup(
        FakeTransport::default()
            .get(
                "/fapi/v1/fundingRate",
                &[
                    ("symbol", "BTCUSDT"),
                    ("startTime", &T0.to_string()),
                    ("endTime", &end.to_string()),
                    ("limit", "1000"),
                ],
                200,
                funding_page(first.clone()),
            )
            .get(
                "/fapi/v1/fundingRate",
                &[
                    ("symbol", "BTCUSDT"),
                    ("startTime", &(last + 1).to_string()),
                    ("endTime", &end.to_string()),
                    ("limit", "1000"),
                ],
                200,
                funding_page([last + 8 * H, last + 12 * H, last + 16 * H]),
            ),
    );
    let btc = inst("BTCUSDT");
    let pages: Vec<_> = f
        .funding_history(&btc, T0 * 1_000_000, end * 1_000_000)
        .collect()
        .await;
    let pages: Vec<_> = pages.into_iter().map(|p| p.expect("page")).collect();
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [1000, 3]);
    let times: Vec<u64> = pages.iter().flatten().map(|r| r.ts_event).collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "ascending, no repeats"
    );
    let tail: Vec<_> = pages[1].iter().map(|r| r.interval_minutes).collect();
    assert_eq!(
        tail,
        [Some(480), Some(240), Some(240)],
        "first row of page 2 measured against page 1"
    );
    assert!(
        pages
            .iter()
            .flatten()
            .all(|r| r.next_funding_ns.is_none() && r.ts_init == r.ts_event)
    );
    let requests = t.requests();
    assert_eq!(
        requests.len(),
        2,
        "stops after the short page; no fundingInfo needed"
    );
    assert!(requests.iter().all(|r| r.costs == vec![(POOL_FUNDING, 1)]));
}

#[tokio::test]
async fn funding_history_single_row_takes_the_funding_info_interval_once() {
    let (t, f) = setup(
        FakeTransport::default()
            .handle("/fapi/v1/fundingRate", |_| {
                response(200, funding_page([T0]))
            })
            .get(
                "/fapi/v1/fundingInfo",
                &[],
                200,
                r#"[{"symbol":"BTCUSDT","fundingIntervalHours":4}]"#,
            ),
    );
    let btc = inst("BTCUSDT");
    let pages: Vec<_> = f
        .funding_history(&btc, T0 * 1_000_000, (T0 + H) * 1_000_000)
        .collect()
        .await;
    let rows = pages[0].as_ref().expect("page");
    assert_eq!(rows[0].interval_minutes, Some(240));
    assert_eq!(t.paths(), ["/fapi/v1/fundingRate", "/fapi/v1/fundingInfo"]);
}

#[tokio::test]
async fn open_interest_history_clamps_to_30_days_and_walks_windows_in_order() {
    let now_ms = now_ns() / 1_000_000;
    let end_ms = now_ms - now_ms % H; // the last whole hour
    let start_ns = now_ns() - 40 * NANOS_PER_DAY;
    // The venue: one bucket per hour up to now, within whatever window is asked.
    let (t, f) = setup(FakeTransport::default().handle("/futures/data/openInterestHist", move |r| {
        let p = |k| r.param_value(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let (from, to) = (p("startTime"), p("endTime").min(end_ms));
        let rows: Vec<String> = (from.div_ceil(H)..=to / H)
            .take(500)
            .map(|h| format!(r#"{{"symbol":"BTCUSDT","sumOpenInterest":"1.5","sumOpenInterestValue":"3","timestamp":{}}}"#, h * H))
            .collect();
        response(200, format!("[{}]", rows.join(",")))
    }));
    let btc = inst("BTCUSDT");
    let pages: Vec<_> = f
        .open_interest_history(&btc, OiPeriod::H1, start_ns, end_ms * 1_000_000)
        .collect()
        .await;
    let pages: Vec<_> = pages.into_iter().map(|p| p.expect("page")).collect();
    let requests = t.requests();
    let first_start: u64 = requests[0]
        .param_value("startTime")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(
        first_start * 1_000_000 > now_ns() - 30 * NANOS_PER_DAY,
        "start clamped into the last 30 days"
    );
    assert_eq!(pages.len(), 2, "720 hourly buckets in windows of 500");
    assert!(
        requests
            .iter()
            .all(|r| r.costs == vec![(POOL_IP, 1)] && r.param_value("period") == Some("1h"))
    );
    let times: Vec<u64> = pages
        .iter()
        .flatten()
        .map(|r| r.ts_event / 1_000_000)
        .collect();
    assert!(
        times.windows(2).all(|w| w[1] == w[0] + H),
        "every hour once, in order"
    );
    assert_eq!(times.last().copied(), Some(end_ms));
    assert!(
        pages
            .iter()
            .flatten()
            .all(|r| r.open_interest_value == Some(3.0) && r.ts_init == r.ts_event)
    );
}

#[tokio::test]
async fn history_of_an_unknown_symbol_is_one_error() {
    let (t, f) = setup(
        FakeTransport::default().handle("/futures/data/openInterestHist", |_| {
            response(400, INVALID_SYMBOL)
        }),
    );
    let foo = inst("FOOUSDT");
    let now = now_ns();
    let pages: Vec<_> = f
        .open_interest_history(&foo, OiPeriod::M5, now - NANOS_PER_DAY, now)
        .collect()
        .await;
    assert_eq!(
        pages,
        vec![Err(FetchError::UnknownSymbol {
            venue: ccxt_binance::VENUE,
            symbol: "FOOUSDT".into()
        })]
    );
    assert_eq!(t.requests().len(), 1);
}

#[tokio::test]
async fn open_interest_history_never_asks_past_now() {
    const M5: u64 = 300_000;
    let now = now_ns();
    let (t, f) = setup(FakeTransport::default().handle(
        "/futures/data/openInterestHist",
        move |r| {
            let p = |k| {
                r.param_value(k)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            let to = p("endTime").min(now / 1_000_000);
            let rows: Vec<String> = (p("startTime").div_ceil(M5)..=to / M5)
                .take(500)
                .map(|i| {
                    format!(
                        r#"{{"symbol":"BTCUSDT","sumOpenInterest":"1","timestamp":{}}}"#,
                        i * M5
                    )
                })
                .collect();
            response(200, format!("[{}]", rows.join(",")))
        },
    ));
    let btc = inst("BTCUSDT");
    let pages: Vec<_> = f
        .open_interest_history(
            &btc,
            OiPeriod::M5,
            now - NANOS_PER_DAY,
            now + 365 * NANOS_PER_DAY,
        )
        .collect()
        .await;
    assert_eq!(
        pages.len(),
        1,
        "one window holds the day; none is asked for the future"
    );
    assert!(matches!(pages[0].as_ref().map(Vec::len), Ok(287 | 288)));
    assert_eq!(t.requests().len(), 1);
}
