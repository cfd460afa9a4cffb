//! BybitFetcher over a fake transport: which requests it sends (one tickers call for all
//! symbols, pools and weights), how per-symbol failures stay per symbol, and how history pages
//! arrive.

use std::sync::Arc;

use ccxt_bybit::http::parse::instrument;
use ccxt_bybit::{BybitFetcher, POOL_IP};
use ccxt_model::Instrument;
use ccxt_model::time::now_ns;
use ccxt_venue::testing::{FakeTransport, response};
use ccxt_venue::{FetchError, Fetcher, InstrumentStatus, OiPeriod};
use futures::StreamExt;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/", $name))
    };
}

fn setup(transport: FakeTransport) -> (Arc<FakeTransport>, BybitFetcher) {
    let transport = Arc::new(transport);
    (transport.clone(), BybitFetcher::new(transport))
}

fn inst(native: &str) -> Instrument {
    instrument(native).expect("valid symbol")
}

fn envelope(result: serde_json::Value, time: u64) -> String {
    serde_json::json!({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": time}).to_string()
}

const INSTRUMENTS: &str = "/v5/market/instruments-info";
const TICKERS: &str = "/v5/market/tickers";
const OPEN_INTEREST: &str = "/v5/market/open-interest";
const FUNDING: &str = "/v5/market/funding/history";

#[tokio::test]
async fn instruments_page_by_cursor_in_two_passes() {
    let page1 = envelope(
        serde_json::json!({"category": "linear", "nextPageCursor": "p2", "list": [
            {"symbol": "ETHUSDT", "contractType": "LinearPerpetual", "status": "Trading", "fundingInterval": 240},
            {"symbol": "BTC-26DEC25", "contractType": "LinearFutures", "status": "Trading"}]}),
        1,
    );
    let empty_last = envelope(
        serde_json::json!({"category": "linear", "nextPageCursor": "", "list": []}),
        1,
    );
    let (t, f) = setup(
        FakeTransport::default()
            .get(
                INSTRUMENTS,
                &[("category", "linear"), ("limit", "1000")],
                200,
                &page1,
            )
            .get(
                INSTRUMENTS,
                &[("category", "linear"), ("limit", "1000"), ("cursor", "p2")],
                200,
                fixture!("instruments_linear_docs.json"),
            )
            .get(
                INSTRUMENTS,
                &[
                    ("category", "linear"),
                    ("limit", "1000"),
                    ("status", "PreLaunch"),
                ],
                200,
                fixture!("instruments_linear_prelaunch_docs.json"),
            )
            .get(
                INSTRUMENTS,
                &[
                    ("category", "linear"),
                    ("limit", "1000"),
                    ("status", "PreLaunch"),
                    ("cursor", "first%3DBIOUSDT%26last%3DBIOUSDT"),
                ],
                200,
                &empty_last,
            ),
    );
    let list = f.instruments().await.expect("lists");
    let got: Vec<_> = list
        .iter()
        .map(|i| {
            (
                i.instrument.id.as_str(),
                i.status.clone(),
                i.funding_interval_minutes,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("ETHUSDT-LINEAR.BYBIT", InstrumentStatus::Trading, Some(240)),
            ("BTCUSDT-LINEAR.BYBIT", InstrumentStatus::Trading, Some(480)),
            (
                "BIOUSDT-LINEAR.BYBIT",
                InstrumentStatus::PreLaunch,
                Some(480)
            ),
        ]
    );
    let requests = t.requests();
    assert_eq!(requests.len(), 4);
    assert!(
        requests
            .iter()
            .all(|r| r.path == INSTRUMENTS && r.costs == vec![(POOL_IP, 1)])
    );
}

fn tickers_body(time: &str) -> String {
    format!(
        r#"{{"retCode":"0","retMsg":"OK","result":{{"category":"linear","list":[
            {{"symbol":"BTCUSDT","markPrice":"100","openInterest":"10","openInterestValue":"1000","fundingRate":"0.0001","nextFundingTime":"1760371200000","fundingIntervalHour":"8"}},
            {{"symbol":"ETHUSDT","markPrice":"2","openInterest":"5","fundingRate":"-0.00002500","nextFundingTime":"1760356800000","fundingIntervalHour":"4"}}
        ]}},"retExtInfo":{{}},"time":{time}}}"#
    )
}

#[tokio::test]
async fn current_open_interest_is_one_tickers_call_and_unknown_stays_per_symbol() {
    let (t, f) = setup(FakeTransport::default().get(
        TICKERS,
        &[("category", "linear")],
        200,
        tickers_body("1760352369814"),
    ));
    let before = now_ns();
    let asked = [inst("BTCUSDT"), inst("FOOUSDT"), inst("ETHUSDT")];
    let results = f.current_open_interest(&asked).await;
    let order: Vec<_> = results.iter().map(|(i, _)| i.native.as_str()).collect();
    assert_eq!(order, ["BTCUSDT", "FOOUSDT", "ETHUSDT"]);
    let btc = &results[0].1.as_ref().expect("ok").open_interest;
    assert_eq!(
        (btc.open_interest, btc.open_interest_value),
        (10.0, Some(1000.0))
    );
    assert_eq!(btc.ts_event, 1_760_352_369_814_000_000, "the envelope time");
    assert!(btc.ts_init >= before);
    assert_eq!(
        results[1].1,
        Err(FetchError::UnknownSymbol {
            venue: ccxt_bybit::VENUE,
            symbol: "FOOUSDT".into()
        })
    );
    assert_eq!(
        results[2]
            .1
            .as_ref()
            .map(|o| o.open_interest.open_interest_value),
        Ok(Some(10.0)),
        "OI × mark"
    );
    let requests = t.requests();
    assert_eq!(requests.len(), 1, "one bulk call");
    assert_eq!(requests[0].costs, vec![(POOL_IP, 1)]);
}

#[tokio::test]
async fn current_funding_is_one_tickers_call_with_exact_rates() {
    let (t, f) = setup(FakeTransport::default().get(
        TICKERS,
        &[("category", "linear")],
        200,
        tickers_body("\"1760352369814\""),
    ));
    let results = f
        .current_funding(&[inst("ETHUSDT"), inst("FOOUSDT"), inst("BTCUSDT")])
        .await;
    let eth = results[0].1.as_ref().expect("ok");
    assert_eq!(eth.funding.rate.to_string(), "-0.00002500");
    assert_eq!(eth.funding.interval_minutes, Some(240));
    assert_eq!(eth.funding.next_funding_ns, Some(1_760_356_800_000_000_000));
    assert_eq!(eth.funding.ts_event, 1_760_352_369_814_000_000);
    let mark = eth.prices.mark.as_ref().map(|m| m.value.to_string());
    assert_eq!(mark.as_deref(), Some("2"));
    assert!(matches!(
        results[1].1,
        Err(FetchError::UnknownSymbol { .. })
    ));
    assert!(results[2].1.is_ok());
    assert_eq!(t.requests().len(), 1);
}

#[tokio::test]
async fn a_failed_tickers_call_fails_every_symbol_with_the_same_error() {
    let busy = r#"{"retCode":10006,"retMsg":"Too many visits!","result":{},"time":1}"#;
    let (_, f) = setup(FakeTransport::default().get(TICKERS, &[("category", "linear")], 200, busy));
    let results = f.current_funding(&[inst("BTCUSDT"), inst("ETHUSDT")]).await;
    for (_, r) in results {
        assert!(matches!(r, Err(FetchError::RateLimited { .. })), "{r:?}");
    }
}

#[tokio::test]
async fn foreign_and_empty_inputs_send_nothing() {
    let (t, f) = setup(FakeTransport::default());
    assert!(f.current_open_interest(&[]).await.is_empty());
    ccxt_registry::install().unwrap();
    let binance = Instrument::from_id("BTCUSDT-PERP.BINANCE").expect("valid");
    let results = f
        .current_open_interest(std::slice::from_ref(&binance))
        .await;
    assert!(matches!(results[0].1, Err(FetchError::Unsupported { .. })));
    let pages: Vec<_> = f
        .open_interest_history(&binance, OiPeriod::H1, 0, 1)
        .collect()
        .await;
    assert!(matches!(
        pages.as_slice(),
        [Err(FetchError::Unsupported { .. })]
    ));
    assert!(t.requests().is_empty());
}

const H: u64 = 3_600_000;
const T0: u64 = 1_735_689_600_000;
const NS: u64 = 1_000_000;

fn oi_page(times: &[u64], cursor: &str) -> String {
    let list: Vec<_> = times
        .iter()
        .map(|t| serde_json::json!({"openInterest": "1.5", "timestamp": t.to_string()}))
        .collect();
    envelope(
        serde_json::json!({"symbol": "BTCUSDT", "category": "linear", "list": list, "nextPageCursor": cursor}),
        1,
    )
}

#[tokio::test]
async fn open_interest_history_follows_cursors_newest_first_and_stops_before_start() {
    let (start, end) = (T0, T0 + 9 * H);
    let base = [
        ("category", "linear"),
        ("symbol", "BTCUSDT"),
        ("intervalTime", "1h"),
        ("startTime", "1735689600000"),
        ("endTime", "1735722000000"),
        ("limit", "200"),
    ];
    let with_cursor = |c: &'static str| {
        let mut q = base.to_vec();
        q.push(("cursor", c));
        q
    };
    let (t, f) = setup(
        FakeTransport::default()
            .get(
                OPEN_INTEREST,
                &base,
                200,
                oi_page(&[end, end - H, end - 2 * H, end - 3 * H], "lastid%3D2"),
            )
            // The venue repeats the previous page's oldest bucket.
            .get(
                OPEN_INTEREST,
                &with_cursor("lastid%3D2"),
                200,
                oi_page(
                    &[end - 3 * H, end - 4 * H, end - 5 * H, end - 6 * H],
                    "lastid%3D3",
                ),
            )
            .get(
                OPEN_INTEREST,
                &with_cursor("lastid%3D3"),
                200,
                oi_page(&[end - 7 * H, end - 8 * H, end - 9 * H], "lastid%3D4"),
            ),
    );
    let btc = inst("BTCUSDT");
    let pages: Vec<_> = f
        .open_interest_history(&btc, OiPeriod::H1, start * NS, end * NS)
        .collect()
        .await;
    let pages: Vec<Vec<u64>> = pages
        .into_iter()
        .map(|p| p.expect("page").iter().map(|r| r.ts_event / NS).collect())
        .collect();
    assert_eq!(
        pages,
        vec![
            vec![end - 3 * H, end - 2 * H, end - H, end],
            vec![end - 6 * H, end - 5 * H, end - 4 * H],
            vec![start, end - 8 * H, end - 7 * H],
        ],
        "newest page first, each bucket once"
    );
    assert_eq!(
        t.requests().len(),
        3,
        "the page that reached the start is the last"
    );
    assert!(t.requests().iter().all(|r| r.costs == vec![(POOL_IP, 1)]));
}

fn funding_page(times: impl IntoIterator<Item = u64>) -> String {
    let list: Vec<_> = times
        .into_iter()
        .map(|t| serde_json::json!({"symbol": "BTCUSDT", "fundingRate": "0.00010000", "fundingRateTimestamp": t.to_string()}))
        .collect();
    envelope(serde_json::json!({"category": "linear", "list": list}), 1)
}

#[tokio::test]
async fn funding_history_pages_backwards_each_rate_once_then_stops() {
    let (start, end) = (T0, T0 + 1000 * 8 * H);
    // The venue: rates every 8 h from T0 - 50 × 8 h up to `end`, 200 per answer up to endTime.
    let (t, f) = setup(FakeTransport::default().handle(FUNDING, move |r| {
        let until: u64 = r
            .param_value("endTime")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let first = T0 - 50 * 8 * H;
        let newest = until.min(end);
        let times = (0..200)
            .map(|i| newest - newest.saturating_sub(first) % (8 * H) - i * 8 * H)
            .take_while(|t| *t >= first);
        response(200, funding_page(times))
    }));
    let btc = inst("BTCUSDT");
    let pages: Vec<_> = f
        .funding_history(&btc, start * NS, end * NS)
        .collect()
        .await;
    let pages: Vec<_> = pages.into_iter().map(|p| p.expect("page")).collect();
    let all: Vec<u64> = pages.iter().flatten().map(|r| r.ts_event / NS).collect();
    let mut sorted = all.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), all.len(), "no rate twice");
    assert_eq!(sorted.len(), 1001, "every rate in [start, end]");
    assert_eq!((sorted[0], sorted[1000]), (start, end));
    assert!(
        pages
            .windows(2)
            .all(|w| w[0][0].ts_event > w[1][w[1].len() - 1].ts_event),
        "newest page first"
    );
    assert!(
        pages
            .iter()
            .flatten()
            .all(|r| r.interval_minutes == Some(480) && r.next_funding_ns.is_none())
    );
    let requests = t.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.path == FUNDING && r.costs == vec![(POOL_IP, 1)]),
        "no fallback call needed"
    );
    assert_eq!(
        requests.len(),
        6,
        "200 per page with one overlap: 1001 rates + the one before the start"
    );
}

#[tokio::test]
async fn funding_history_single_rate_takes_the_instruments_interval_once() {
    let (t, f) = setup(
        FakeTransport::default()
            .handle(FUNDING, |_| response(200, funding_page([T0])))
            .get(
                INSTRUMENTS,
                &[("category", "linear"), ("symbol", "BTCUSDT")],
                200,
                fixture!("instruments_linear_docs.json"),
            ),
    );
    let btc = inst("BTCUSDT");
    let pages: Vec<_> = f
        .funding_history(&btc, T0 * NS, (T0 + H) * NS)
        .collect()
        .await;
    assert_eq!(
        pages[0].as_ref().map(|rows| rows[0].interval_minutes),
        Ok(Some(480))
    );
    let paths: Vec<_> = t.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, [FUNDING, INSTRUMENTS]);
}

#[tokio::test]
async fn history_of_an_unknown_symbol_is_one_error() {
    let invalid = r#"{"retCode":10001,"retMsg":"params error: symbol invalid","result":{},"retExtInfo":{},"time":1}"#;
    let (t, f) =
        setup(FakeTransport::default().handle(OPEN_INTEREST, move |_| response(200, invalid)));
    let foo = inst("FOOUSDT");
    let pages: Vec<_> = f
        .open_interest_history(&foo, OiPeriod::D1, T0 * NS, (T0 + 10 * H) * NS)
        .collect()
        .await;
    assert_eq!(
        pages,
        vec![Err(FetchError::UnknownSymbol {
            venue: ccxt_bybit::VENUE,
            symbol: "FOOUSDT".into()
        })]
    );
    assert_eq!(t.requests().len(), 1);
}
