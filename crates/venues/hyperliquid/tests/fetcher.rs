//! [`HyperliquidFetcher`] over a fake [`Transport`] that serves canned responses by request
//! body and records what was sent. No network.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use ccxt_hyperliquid::HyperliquidFetcher;
use ccxt_model::{Instrument, time::now_ns};
use ccxt_venue::testing::{FakeTransport, Route};
use ccxt_venue::{FetchError, Fetcher, InstrumentStatus, OiPeriod};
use futures::StreamExt;
use serde_json::{Value, json};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/", $name))
    };
}

const MAIN: &str = fixture!("meta_and_asset_ctxs_docs.json");
const XYZ: &str = fixture!("meta_and_asset_ctxs_hip3_docs.json");
const META_2023: &str = fixture!("meta_2023_sdk_cassette.json");
const FUNDING_HIP3: &str = fixture!("funding_history_hip3_docs.json");

/// Every request goes to `POST /info`.
const INFO: &str = "/info";

const HOUR_MS: u64 = 3_600_000;
const HOUR_NS: u64 = HOUR_MS * 1_000_000;
const START_MS: u64 = 1_735_689_600_000; // 2025-01-01T00:00:00Z

/// The fake venue: canned answers by request body; anything else gets the venue's 422.
fn venue() -> FakeTransport {
    FakeTransport::new().otherwise(
        422,
        "Failed to deserialize the JSON body into the target type",
    )
}

fn fetcher(transport: FakeTransport) -> (HyperliquidFetcher, Arc<FakeTransport>) {
    let transport = Arc::new(transport);
    (HyperliquidFetcher::new(transport.clone()), transport)
}

fn hl(coin: &str) -> Instrument {
    let id = format!("{}-USD-PERP.HYPERLIQUID", coin.replace(':', "_"));
    ccxt_registry::install().unwrap();
    let instrument = Instrument::from_id(&id).unwrap();
    assert_eq!(instrument.native, coin);
    instrument
}

fn funding_rows(coin: &str, times: impl IntoIterator<Item = u64>) -> String {
    let rows: Vec<_> = times
        .into_iter()
        .map(|t| json!({"coin": coin, "fundingRate": format!("0.0000{}", t / HOUR_MS % 100 + 10), "premium": null, "time": t}))
        .collect();
    serde_json::to_string(&rows).unwrap()
}

fn history_body(coin: &str, start_ms: u64, end_ms: u64) -> Value {
    json!({"type": "fundingHistory", "coin": coin, "startTime": start_ms, "endTime": end_ms})
}

#[tokio::test]
async fn instruments_are_the_main_dex_universe_with_status_and_hourly_funding() {
    let meta = r#"{"universe":[{"name":"BTC","szDecimals":5},{"name":"LOOM","isDelisted":true},{"name":"kPEPE"}]}"#;
    let (f, t) = fetcher(venue().post(INFO, json!({"type": "meta"}), 200, meta));
    assert_eq!(f.venue(), ccxt_hyperliquid::VENUE);
    let infos = f.instruments().await.unwrap();
    let got: Vec<_> = infos
        .iter()
        .map(|i| {
            (
                i.instrument.id.to_string(),
                i.status.clone(),
                i.funding_interval_minutes,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "BTC-USD-PERP.HYPERLIQUID".to_string(),
                InstrumentStatus::Trading,
                Some(60)
            ),
            (
                "LOOM-USD-PERP.HYPERLIQUID".to_string(),
                InstrumentStatus::Delisted,
                Some(60)
            ),
            (
                "kPEPE-USD-PERP.HYPERLIQUID".to_string(),
                InstrumentStatus::Trading,
                Some(60)
            ),
        ]
    );
    let sent = t.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].path.as_str(), sent[0].costs.clone()),
        ("/info", vec![("ip", 20)])
    );

    let (f, _) = fetcher(venue().post(INFO, json!({"type": "meta"}), 200, META_2023));
    assert_eq!(f.instruments().await.unwrap().len(), 28);
}

#[tokio::test]
async fn builder_dex_instruments_come_from_their_dex() {
    let (f, t) = fetcher(venue().post(
        INFO,
        json!({"type": "meta", "dex": "xyz"}),
        200,
        serde_json::to_string(&serde_json::from_str::<Value>(XYZ).unwrap()[0]).unwrap(),
    ));
    let ids: Vec<_> = f
        .dex_instruments("xyz")
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.instrument.id.to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "xyz_XYZ100-USD-PERP.HYPERLIQUID",
            "xyz_TSLA-USD-PERP.HYPERLIQUID",
            "xyz_NVDA-USD-PERP.HYPERLIQUID"
        ]
    );
    assert_eq!(t.bodies(), [json!({"type": "meta", "dex": "xyz"})]);
}

#[tokio::test]
async fn bulk_data_takes_one_call_per_dex_and_keeps_the_input_order() {
    let (f, t) = fetcher(
        venue()
            .post(INFO, json!({"type": "metaAndAssetCtxs"}), 200, MAIN)
            .post(
                INFO,
                json!({"type": "metaAndAssetCtxs", "dex": "xyz"}),
                200,
                XYZ,
            ),
    );
    let asked = [
        hl("BTC"),
        hl("xyz:TSLA"),
        hl("ETH"),
        hl("xyz:NVDA"),
        hl("HPOS"),
    ];
    let before = now_ns();
    let results = f.current_open_interest(&asked).await;
    let after = now_ns();

    // Sent concurrently, in the order the dexes first appear.
    assert_eq!(
        t.bodies(),
        [
            json!({"type": "metaAndAssetCtxs"}),
            json!({"type": "metaAndAssetCtxs", "dex": "xyz"})
        ]
    );
    let got: Vec<_> = results
        .iter()
        .map(|(i, r)| {
            (
                i.native.as_str(),
                r.as_ref().unwrap().open_interest.open_interest,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("BTC", 688.11),
            ("xyz:TSLA", 12.208),
            ("ETH", 1882.55),
            ("xyz:NVDA", 9.43),
            ("HPOS", 2912.05)
        ]
    );
    let btc_prices = &results[0].1.as_ref().unwrap().prices;
    let mark = btc_prices.mark.as_ref().map(|m| m.value.to_string());
    let oracle = btc_prices.index.as_ref().map(|m| m.value.to_string());
    assert_eq!(
        (mark.as_deref(), oracle.as_deref()),
        (Some("14.3161"), Some("14.32"))
    );
    let btc = &results[0].1.as_ref().unwrap().open_interest;
    assert_eq!(btc.instrument_id.as_str(), "BTC-USD-PERP.HYPERLIQUID");
    assert_eq!(btc.open_interest_value, Some(688.11 * 14.3161));
    assert_eq!(btc.ts_event, btc.ts_init);
    assert!((before..=after).contains(&btc.ts_event));
    let tsla = &results[1].1.as_ref().unwrap().open_interest;
    assert_eq!(tsla.instrument_id.as_str(), "xyz_TSLA-USD-PERP.HYPERLIQUID");
    assert_eq!(tsla.open_interest_value, Some(12.208 * 465.13));

    let funding = f.current_funding(&asked).await;
    assert_eq!(t.requests().len(), 4, "again one call per dex");
    assert!(funding.iter().all(|(_, r)| r.is_ok()));
}

#[tokio::test]
async fn current_funding_is_the_exact_hourly_rate_charged_at_the_next_hour() {
    let (f, _) = fetcher(
        venue()
            .post(INFO, json!({"type": "metaAndAssetCtxs"}), 200, MAIN)
            .post(
                INFO,
                json!({"type": "metaAndAssetCtxs", "dex": "xyz"}),
                200,
                XYZ,
            ),
    );
    let before = now_ns();
    let results = f.current_funding(&[hl("BTC"), hl("xyz:XYZ100")]).await;
    let after = now_ns();
    let btc = results[0].1.as_ref().unwrap();
    assert_eq!(btc.funding.rate.to_string(), "0.0000125");
    assert_eq!(btc.funding.interval_minutes, Some(60));
    let mark = btc.prices.mark.as_ref().map(|m| m.value.to_string());
    assert_eq!(mark.as_deref(), Some("14.3161"));
    let ts = btc.funding.ts_event;
    assert_eq!(btc.funding.ts_init, ts);
    assert!((before..=after).contains(&ts));
    let next = btc.funding.next_funding_ns.unwrap();
    assert_eq!(next % HOUR_NS, 0);
    assert!(next > ts && next - ts <= HOUR_NS);
    let xyz100 = results[1].1.as_ref().unwrap();
    assert_eq!(xyz100.funding.rate.to_string(), "0.0002110251");
    let mark = xyz100.prices.mark.as_ref().map(|m| m.value.to_string());
    assert_eq!(mark.as_deref(), Some("25451.0"));
}

#[tokio::test]
async fn an_unknown_coin_fails_alone() {
    let (f, t) = fetcher(
        venue()
            .post(INFO, json!({"type": "metaAndAssetCtxs"}), 200, MAIN)
            .post(
                INFO,
                json!({"type": "metaAndAssetCtxs", "dex": "xyz"}),
                200,
                XYZ,
            ),
    );
    let results = f
        .current_open_interest(&[hl("BTC"), hl("DOGE"), hl("xyz:AAPL"), hl("xyz:TSLA")])
        .await;
    assert_eq!(t.requests().len(), 2);
    let outcome: Vec<_> = results
        .iter()
        .map(|(i, r)| match r {
            Ok(_) => format!("{} ok", i.native),
            Err(e) => e.to_string(),
        })
        .collect();
    assert_eq!(
        outcome,
        [
            "BTC ok",
            "hyperliquid has no perpetual 'DOGE'",
            "hyperliquid has no perpetual 'xyz:AAPL'",
            "xyz:TSLA ok"
        ]
    );
}

#[tokio::test]
async fn a_failed_dex_call_fails_only_that_dexs_coins() {
    let unreachable = FetchError::Unreachable {
        venue: ccxt_hyperliquid::VENUE,
        detail: "connection reset".into(),
    };
    let (f, _) = fetcher(
        venue()
            .post(INFO, json!({"type": "metaAndAssetCtxs"}), 200, MAIN)
            .answer(
                Route::post(INFO, json!({"type": "metaAndAssetCtxs", "dex": "xyz"})),
                Err(unreachable.clone()),
            )
            .post(
                INFO,
                json!({"type": "metaAndAssetCtxs", "dex": "nope"}),
                200,
                "null",
            ),
    );
    // dex "abc" is not routed: the fake answers 422 like the venue does to a bad request.
    let results = f
        .current_funding(&[
            hl("xyz:TSLA"),
            hl("BTC"),
            hl("abc:X"),
            hl("xyz:NVDA"),
            hl("nope:Y"),
        ])
        .await;
    assert_eq!(results[0].1.as_ref().unwrap_err(), &unreachable);
    assert!(results[1].1.is_ok());
    assert!(matches!(
        results[2].1,
        Err(FetchError::Venue { ref code, .. }) if code == "422"
    ));
    assert_eq!(results[3].1.as_ref().unwrap_err(), &unreachable);
    assert!(
        matches!(results[4].1, Err(FetchError::UnknownSymbol { ref symbol, .. }) if symbol == "nope:Y")
    );
}

#[tokio::test]
async fn delisted_coins_keep_open_interest_but_have_no_funding() {
    let body = r#"[{"universe":[{"name":"BTC"},{"name":"LOOM","isDelisted":true}]},
        [{"funding":"0.0000125","openInterest":"10","markPx":"100000"},{"funding":"0.0","openInterest":"0.0","markPx":"0.05"}]]"#;
    let (f, _) = fetcher(venue().post(INFO, json!({"type": "metaAndAssetCtxs"}), 200, body));
    let oi = f.current_open_interest(&[hl("LOOM")]).await;
    assert_eq!(oi[0].1.as_ref().unwrap().open_interest.open_interest, 0.0);
    let funding = f.current_funding(&[hl("BTC"), hl("LOOM")]).await;
    assert!(funding[0].1.is_ok());
    assert!(matches!(funding[1].1, Err(FetchError::Unsupported { .. })));
}

#[tokio::test]
async fn instruments_of_other_venues_are_not_sent() {
    let (f, t) = fetcher(venue());
    ccxt_registry::install().unwrap();
    let binance = Instrument::from_id("BTCUSDT-PERP.BINANCE").unwrap();
    let results = f
        .current_open_interest(std::slice::from_ref(&binance))
        .await;
    assert!(
        matches!(results[0].1, Err(FetchError::UnknownSymbol { ref symbol, .. }) if symbol == "BTCUSDT")
    );
    let pages: Vec<_> = f.funding_history(&binance, 0, u64::MAX).collect().await;
    assert_eq!(pages.len(), 1);
    assert!(matches!(pages[0], Err(FetchError::UnknownSymbol { .. })));
    assert!(t.requests().is_empty());
}

#[tokio::test]
async fn open_interest_history_is_unsupported_and_sends_nothing() {
    let (f, t) = fetcher(venue());
    let btc = hl("BTC");
    let items: Vec<_> = f
        .open_interest_history(&btc, OiPeriod::H1, 0, START_MS * 1_000_000)
        .collect()
        .await;
    assert_eq!(items.len(), 1);
    let e = items[0].as_ref().unwrap_err();
    assert!(matches!(e, FetchError::Unsupported { .. }));
    assert_eq!(
        e.to_string(),
        "hyperliquid does not provide open interest history (Hyperliquid keeps none; collect it live with the daemon)"
    );
    assert!(t.requests().is_empty());
}

#[tokio::test]
async fn funding_history_pages_forward_in_order() {
    let end_ms = START_MS + 2000 * HOUR_MS;
    let page1_start = START_MS;
    let page2_start = START_MS + 499 * HOUR_MS + 1;
    let page3_start = START_MS + 999 * HOUR_MS + 1;
    let (f, t) = fetcher(
        venue()
            .post(
                INFO,
                history_body("BTC", page1_start, end_ms),
                200,
                funding_rows("BTC", (0..500).map(|i| START_MS + i * HOUR_MS)),
            )
            .post(
                INFO,
                history_body("BTC", page2_start, end_ms),
                200,
                funding_rows("BTC", (500..1000).map(|i| START_MS + i * HOUR_MS)),
            )
            .post(
                INFO,
                history_body("BTC", page3_start, end_ms),
                200,
                funding_rows("BTC", (1000..1200).map(|i| START_MS + i * HOUR_MS)),
            ),
    );
    let btc = hl("BTC");
    let pages: Vec<_> = f
        .funding_history(&btc, START_MS * 1_000_000, end_ms * 1_000_000)
        .collect()
        .await;
    let sizes: Vec<_> = pages.iter().map(|p| p.as_ref().unwrap().len()).collect();
    assert_eq!(sizes, [500, 500, 200]);
    let starts: Vec<_> = t
        .bodies()
        .iter()
        .map(|b| b["startTime"].as_u64().unwrap())
        .collect();
    assert_eq!(starts, [page1_start, page2_start, page3_start]);
    assert!(t.requests().iter().all(|r| r.costs == vec![("ip", 45)]));

    let rows: Vec<_> = pages.into_iter().flat_map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1200);
    assert!(
        rows.windows(2)
            .all(|w| w[0].ts_event + HOUR_NS == w[1].ts_event)
    );
    let first = &rows[0];
    assert_eq!(first.instrument_id.as_str(), "BTC-USD-PERP.HYPERLIQUID");
    assert_eq!(
        (first.ts_event, first.ts_init),
        (START_MS * 1_000_000, START_MS * 1_000_000)
    );
    assert_eq!(first.next_funding_ns, None);
    assert_eq!(first.interval_minutes, Some(60));
    assert_eq!(first.rate.to_string(), "0.000046");
}

#[tokio::test]
async fn funding_history_of_a_builder_dex_coin() {
    let start = 1_683_849_600_000;
    let end = start + HOUR_MS;
    let (f, t) = fetcher(venue().post(
        INFO,
        history_body("xyz:XYZ100", start, end),
        200,
        FUNDING_HIP3,
    ));
    let coin = hl("xyz:XYZ100");
    let pages: Vec<_> = f
        .funding_history(&coin, start * 1_000_000, end * 1_000_000)
        .collect()
        .await;
    assert_eq!(pages.len(), 1);
    let rows = pages[0].as_ref().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].instrument_id.as_str(),
        "xyz_XYZ100-USD-PERP.HYPERLIQUID"
    );
    assert_eq!(rows[0].rate.to_string(), "-0.00022196");
    assert_eq!(rows[0].ts_event, 1_683_849_600_076_000_000);
    assert_eq!(t.requests().len(), 1, "rows came back: no listing check");
}

#[tokio::test]
async fn funding_history_with_no_rows_tells_unknown_coins_from_empty_ranges() {
    let start = START_MS;
    let end = START_MS + 10 * HOUR_MS;
    let meta = r#"{"universe":[{"name":"BTC"}]}"#;
    let (f, t) = fetcher(
        venue()
            .post(INFO, history_body("BTC", start, end), 200, "[]")
            .post(INFO, history_body("DOGE", start, end), 200, "[]")
            .post(INFO, history_body("SHIB", start, end), 500, "null")
            .post(INFO, json!({"type": "meta"}), 200, meta),
    );
    let collect = |coin: &'static str| {
        let f = &f;
        async move {
            let instrument = hl(coin);
            f.funding_history(&instrument, start * 1_000_000, end * 1_000_000)
                .collect::<Vec<_>>()
                .await
        }
    };

    // A listed coin with nothing in the range: one empty page, no error.
    let btc = collect("BTC").await;
    assert_eq!(btc, [Ok(vec![])]);
    assert_eq!(
        t.bodies(),
        [history_body("BTC", start, end), json!({"type": "meta"})]
    );

    // An unlisted coin: the empty page, then UnknownSymbol.
    let doge = collect("DOGE").await;
    assert_eq!(doge.len(), 2);
    assert_eq!(doge[0], Ok(vec![]));
    assert_eq!(
        doge[1],
        Err(FetchError::UnknownSymbol {
            venue: ccxt_hyperliquid::VENUE,
            symbol: "DOGE".into()
        })
    );

    // An unlisted coin the venue answers with an error: UnknownSymbol instead of the error.
    let shib = collect("SHIB").await;
    assert_eq!(shib.len(), 1);
    assert!(matches!(shib[0], Err(FetchError::UnknownSymbol { .. })));

    // A listed coin whose query fails keeps the venue's error.
    let (f, _) = fetcher(
        venue()
            .post(
                INFO,
                history_body("BTC", start, end),
                422,
                "Failed to deserialize",
            )
            .post(INFO, json!({"type": "meta"}), 200, meta),
    );
    let btc = hl("BTC");
    let pages: Vec<_> = f
        .funding_history(&btc, start * 1_000_000, end * 1_000_000)
        .collect()
        .await;
    assert!(matches!(pages[..], [Err(FetchError::Venue { .. })]));
}

#[tokio::test]
async fn funding_history_stops_at_the_first_error_after_rows() {
    let end_ms = START_MS + 2000 * HOUR_MS;
    let unreachable = FetchError::Unreachable {
        venue: ccxt_hyperliquid::VENUE,
        detail: "timed out".into(),
    };
    let (f, t) = fetcher(
        venue()
            .post(
                INFO,
                history_body("BTC", START_MS, end_ms),
                200,
                funding_rows("BTC", (0..500).map(|i| START_MS + i * HOUR_MS)),
            )
            .answer(
                Route::post(
                    INFO,
                    history_body("BTC", START_MS + 499 * HOUR_MS + 1, end_ms),
                ),
                Err(unreachable.clone()),
            ),
    );
    let btc = hl("BTC");
    let pages: Vec<_> = f
        .funding_history(&btc, START_MS * 1_000_000, end_ms * 1_000_000)
        .collect()
        .await;
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].as_ref().unwrap().len(), 500);
    assert_eq!(pages[1], Err(unreachable));
    assert_eq!(
        t.requests().len(),
        2,
        "no listing check once rows came back"
    );
}

#[tokio::test]
async fn a_range_without_a_whole_millisecond_sends_nothing() {
    let (f, t) = fetcher(venue());
    let btc = hl("BTC");
    let ns = START_MS * 1_000_000;
    let pages: Vec<_> = f.funding_history(&btc, ns + 1, ns + 999).collect().await;
    assert!(pages.is_empty());
    assert!(t.requests().is_empty());
}
