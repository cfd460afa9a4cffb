//! Pure parsers: response bytes → model records, or a typed [`FetchError`].
//!
//! Binance answers errors as `{"code": -1121, "msg": "Invalid symbol."}` (usually with HTTP
//! 400). [`check_response`] turns those into [`FetchError`]s:
//!
//! * `-1121` (invalid symbol) on a request with a `symbol` parameter → [`FetchError::UnknownSymbol`];
//! * `-1003` (too many requests) → [`FetchError::RateLimited`] (the transport normally sees the
//!   429 first; this covers a body that slips through);
//! * any other code → [`FetchError::Venue`] with Binance's code and message;
//! * a non-2xx status without such a body → [`FetchError::Http`];
//! * a 2xx body that does not have the documented shape → [`FetchError::Malformed`].

use std::collections::HashMap;

use ccxt_model::{FundingRate, Instrument, OpenInterest, Precision, Venue};
use ccxt_venue::convert::{self, decimal, ms_to_ns};
use ccxt_venue::funding::{SettledRate, interval_from_spacing, settled};
use ccxt_venue::{
    FetchError, FundingSnapshot, HttpRequest, HttpResponse, InstrumentInfo, InstrumentStatus,
    SnapshotPrices,
};
use serde::de::DeserializeOwned;

use super::models;

const VENUE: Venue = crate::VENUE;

/// The funding interval of every symbol `/fapi/v1/fundingInfo` does not list: 8 hours.
pub const DEFAULT_FUNDING_INTERVAL_MINUTES: u16 = 480;

/// Funding intervals in minutes of the symbols `/fapi/v1/fundingInfo` lists, by native symbol.
pub type FundingIntervals = HashMap<String, u16>;

/// The instrument of a Binance native symbol, if it can be named in the catalog (the instrument
/// id must read back to the same native symbol; symbols with characters other than ASCII
/// letters and digits cannot).
pub fn instrument(native: &str) -> Option<Instrument> {
    convert::instrument(VENUE, native)
}

/// The error a Binance error body stands for, if `body` is one.
pub fn error_from_body(request: &HttpRequest, body: &[u8]) -> Option<FetchError> {
    // An error is a JSON object; a page of rows (an array) is not read twice.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let parsed: models::ErrorBody = serde_json::from_slice(body).ok()?;
    if parsed.code == "0" || parsed.code == "200" {
        return None;
    }
    let message = parsed.msg.unwrap_or_default();
    Some(
        match (parsed.code.as_str(), request.param_value("symbol")) {
            ("-1121", Some(symbol)) => FetchError::UnknownSymbol {
                venue: VENUE,
                symbol: symbol.to_string(),
            },
            ("-1003", _) => FetchError::RateLimited {
                venue: VENUE,
                detail: format!("code -1003: {message}"),
                retry_after: None,
            },
            _ => FetchError::Venue {
                venue: VENUE,
                code: parsed.code,
                message,
            },
        },
    )
}

/// The body of a successful response, or the error the response stands for.
pub fn check_response<'a>(
    request: &HttpRequest,
    response: &'a HttpResponse,
) -> Result<&'a [u8], FetchError> {
    let body = &response.body[..];
    if let Some(error) = error_from_body(request, body) {
        return Err(error);
    }
    if !(200..300).contains(&response.status) {
        return Err(convert::http_error(VENUE, response));
    }
    Ok(body)
}

/// Checks the response and decodes its body as `T`.
fn decode<T: DeserializeOwned>(
    request: &HttpRequest,
    response: &HttpResponse,
) -> Result<T, FetchError> {
    let body = check_response(request, response)?;
    convert::json_body(body).map_err(|e| FetchError::malformed(VENUE, request.endpoint, e))
}

fn missing(request: &HttpRequest, what: &str) -> FetchError {
    FetchError::malformed(VENUE, request.endpoint, format!("{what} is missing"))
}

/// Parses `/fapi/v1/exchangeInfo`.
pub fn parse_exchange_info(
    request: &HttpRequest,
    response: &HttpResponse,
) -> Result<models::ExchangeInfo, FetchError> {
    decode(request, response)
}

/// Parses `/fapi/v1/fundingInfo` into intervals in minutes by symbol. Entries without a symbol
/// or with an interval of 0 hours are skipped.
pub fn parse_funding_info(
    request: &HttpRequest,
    response: &HttpResponse,
) -> Result<FundingIntervals, FetchError> {
    let entries: Vec<models::FundingInfo> = decode(request, response)?;
    Ok(entries
        .into_iter()
        .filter_map(|e| {
            let hours = e.funding_interval_hours.filter(|h| *h > 0)?;
            let minutes = u16::try_from(hours.checked_mul(60)?).ok()?;
            Some((e.symbol?, minutes))
        })
        .collect())
}

/// The funding interval of `symbol`: its `fundingInfo` entry, else 8 hours.
pub fn funding_interval(intervals: &FundingIntervals, symbol: &str) -> u16 {
    intervals
        .get(symbol)
        .copied()
        .unwrap_or(DEFAULT_FUNDING_INTERVAL_MINUTES)
}

/// Whether an `exchangeInfo` contract type is a perpetual we collect.
pub fn is_perpetual(contract_type: &str) -> bool {
    matches!(contract_type, "PERPETUAL" | "TRADIFI_PERPETUAL")
}

/// Maps a contract status: `TRADING` → trading; `PENDING_TRADING` → pre-launch; the statuses
/// after which no new data comes (settling, delivered, closed, halted, delisted) → delisted.
/// The announcement states `PRE_SETTLE`, `PRE_DELIVERING` and `PRE_DELISTING` (still trading,
/// but not for long) and anything unknown are kept verbatim as [`InstrumentStatus::Other`].
pub fn instrument_status(status: &str) -> InstrumentStatus {
    match status {
        "TRADING" => InstrumentStatus::Trading,
        "PENDING_TRADING" => InstrumentStatus::PreLaunch,
        "SETTLING" | "CLOSE" | "DELIVERING" | "DELIVERED" | "TRADING_HALT" | "DELISTING"
        | "DELISTED" | "DOWN" => InstrumentStatus::Delisted,
        other => InstrumentStatus::Other(other.to_string()),
    }
}

/// The perpetuals of an `exchangeInfo` answer with their status and funding interval, and the
/// native symbols of perpetuals that were skipped because they cannot be named in the catalog
/// (see [`instrument`]).
pub fn instruments(
    info: &models::ExchangeInfo,
    intervals: &FundingIntervals,
) -> (Vec<InstrumentInfo>, Vec<String>) {
    let mut listed = Vec::new();
    let mut skipped = Vec::new();
    for s in &info.symbols {
        let (Some(symbol), Some(contract_type)) = (&s.symbol, &s.contract_type) else {
            continue;
        };
        if !is_perpetual(contract_type) {
            continue;
        }
        let Some(instrument) = instrument(symbol) else {
            skipped.push(symbol.clone());
            continue;
        };
        listed.push(InstrumentInfo {
            instrument,
            status: instrument_status(s.status.as_deref().unwrap_or("")),
            funding_interval_minutes: Some(funding_interval(intervals, symbol)),
            precision: precision(s),
        });
    }
    (listed, skipped)
}

/// The price and size decimals of a contract: from `PRICE_FILTER.tickSize` and
/// `LOT_SIZE.stepSize` (as NautilusTrader counts them: `0.10` → 1, not `pricePrecision`);
/// `None` without both.
pub fn precision(s: &models::ExchangeSymbol) -> Option<Precision> {
    let step = |kind: &str, pick: fn(&models::SymbolFilter) -> Option<&String>| {
        s.filters
            .iter()
            .filter(|f| f.filter_type.as_deref() == Some(kind))
            .find_map(|f| pick(f).and_then(|t| decimal(t)))
            .filter(|d| d.is_sign_positive() && !d.is_zero())
            .map(Precision::decimals_of)
    };
    Some(Precision {
        price: step("PRICE_FILTER", |f| f.tick_size.as_ref())?,
        size: step("LOT_SIZE", |f| f.step_size.as_ref())?,
    })
}

/// Parses `/fapi/v1/openInterest` for `instrument`. `ts_event` is the venue's `time`, `ts_init`
/// the receive time; the value is `openInterest × mark_price` when a mark price is known.
pub fn parse_open_interest(
    request: &HttpRequest,
    response: &HttpResponse,
    instrument: &Instrument,
    mark_price: Option<f64>,
    ts_init: u64,
) -> Result<OpenInterest, FetchError> {
    let oi: models::OpenInterest = decode(request, response)?;
    if let Some(symbol) = oi.symbol.as_deref().filter(|s| *s != instrument.native) {
        return Err(FetchError::malformed(
            VENUE,
            request.endpoint,
            format!("asked for {} but got {symbol}", instrument.native),
        ));
    }
    let open_interest = oi
        .open_interest
        .ok_or_else(|| missing(request, "openInterest"))?;
    let time = oi.time.ok_or_else(|| missing(request, "time"))?;
    Ok(OpenInterest {
        instrument_id: instrument.id.clone(),
        open_interest,
        open_interest_value: mark_price.map(|m| open_interest * m),
        ts_event: ms_to_ns(time),
        ts_init,
    })
}

/// Parses `/fapi/v1/premiumIndex` (an array, or one object when asked for one symbol) by
/// native symbol.
pub fn parse_premium_index(
    request: &HttpRequest,
    response: &HttpResponse,
) -> Result<HashMap<String, models::PremiumIndex>, FetchError> {
    let all: models::OneOrMany<models::PremiumIndex> = decode(request, response)?;
    Ok(all
        .into_vec()
        .into_iter()
        .filter_map(|p| Some((p.symbol.clone()?, p)))
        .collect())
}

/// The live funding estimate of `instrument` from its `premiumIndex` entry: the rate
/// `lastFundingRate` (exact), charged at `nextFundingTime`, quoted at `time`.
pub fn funding_snapshot(
    instrument: &Instrument,
    premium: &models::PremiumIndex,
    interval_minutes: Option<u16>,
    ts_init: u64,
) -> Result<FundingSnapshot, FetchError> {
    let what = "premiumIndex";
    let bad = |detail: String| {
        FetchError::malformed(VENUE, what, format!("{}: {detail}", instrument.native))
    };
    let text = premium
        .last_funding_rate
        .as_deref()
        .ok_or_else(|| bad("lastFundingRate is missing".into()))?;
    let rate =
        decimal(text).ok_or_else(|| bad(format!("lastFundingRate '{text}' is not a decimal")))?;
    let next = premium
        .next_funding_time
        .filter(|t| *t > 0)
        .ok_or_else(|| bad("nextFundingTime is missing (the contract no longer funds?)".into()))?;
    let time = premium.time.ok_or_else(|| bad("time is missing".into()))?;
    Ok(FundingSnapshot {
        funding: FundingRate {
            instrument_id: instrument.id.clone(),
            rate,
            interval_minutes,
            next_funding_ns: Some(ms_to_ns(next)),
            ts_event: ms_to_ns(time),
            ts_init,
        },
        prices: premium_prices(instrument, premium, ts_init),
    })
}

/// The mark and index price of `instrument`'s `premiumIndex` entry, quoted at its `time` (the
/// receive time when it has none).
pub fn premium_prices(
    instrument: &Instrument,
    premium: &models::PremiumIndex,
    ts_init: u64,
) -> SnapshotPrices {
    let ts_event = premium.time.map_or(ts_init, ms_to_ns);
    SnapshotPrices::new(
        &instrument.id,
        premium.mark_price,
        premium.index_price,
        ts_event,
        ts_init,
    )
}

/// Parses `/futures/data/openInterestHist` rows of `instrument` (history: `ts_init == ts_event`).
pub fn parse_open_interest_hist(
    request: &HttpRequest,
    response: &HttpResponse,
    instrument: &Instrument,
) -> Result<Vec<OpenInterest>, FetchError> {
    let rows: Vec<models::OpenInterestHist> = decode(request, response)?;
    rows.into_iter()
        .map(|row| {
            let time = row.timestamp.ok_or_else(|| missing(request, "timestamp"))?;
            let open_interest = row
                .sum_open_interest
                .ok_or_else(|| missing(request, "sumOpenInterest"))?;
            Ok(OpenInterest {
                instrument_id: instrument.id.clone(),
                open_interest,
                open_interest_value: row.sum_open_interest_value,
                ts_event: ms_to_ns(time),
                ts_init: ms_to_ns(time),
            })
        })
        .collect()
}

/// Parses `/fapi/v1/fundingRate`.
pub fn parse_funding_rate_history(
    request: &HttpRequest,
    response: &HttpResponse,
) -> Result<Vec<SettledRate>, FetchError> {
    let rows: Vec<models::FundingRate> = decode(request, response)?;
    rows.into_iter()
        .map(|row| {
            SettledRate::from_fields(
                VENUE,
                request,
                (row.funding_time, "fundingTime"),
                (row.funding_rate, "fundingRate"),
            )
        })
        .collect()
}

/// Settled funding records from rates sorted ascending, `ts_init == ts_event == fundingTime`.
///
/// The interval of each rate is the spacing to the funding before it (the period over which it
/// accrued): the previous row, or `previous_ms`, the funding time just before the first row
/// when the caller knows it (the last row of the previous page). A first row with no known
/// predecessor takes the spacing to the next row. Where the spacing is not a whole number of
/// minutes (see [`interval_from_spacing`]) or there is a single row, the interval is `None` and
/// the caller may fill in the `fundingInfo` value.
pub fn settled_funding(
    instrument: &Instrument,
    rates: &[SettledRate],
    previous_ms: Option<u64>,
) -> Vec<FundingRate> {
    rates
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let before = if i == 0 {
                previous_ms
            } else {
                Some(rates[i - 1].time_ms)
            };
            let interval_minutes = match before {
                Some(before) => interval_from_spacing(before, r.time_ms),
                None => rates
                    .get(i + 1)
                    .and_then(|next| interval_from_spacing(r.time_ms, next.time_ms)),
            };
            settled(instrument, r, interval_minutes)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use ccxt_venue::testing::response as status;
    use rust_decimal::Decimal;

    use super::*;
    use crate::http::requests;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/", $name))
        };
    }

    fn ok(body: &str) -> HttpResponse {
        status(200, body)
    }

    fn btc() -> Instrument {
        instrument("BTCUSDT").expect("BTCUSDT is a valid instrument")
    }

    fn dec(s: &str) -> Decimal {
        s.parse().expect("test decimal")
    }

    #[test]
    fn every_capture_lives_in_the_crate_with_its_provenance() {
        ccxt_venue::testing::assert_captures_have_provenance(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
        );
    }

    #[test]
    fn exchange_info_fixture_lists_perpetuals_with_status_and_interval() {
        let request = requests::exchange_info();
        let info =
            parse_exchange_info(&request, &ok(fixture!("exchange_info.json"))).expect("parses");
        assert_eq!(info.server_time, Some(1645233611962));
        assert_eq!(info.symbols.len(), 3);
        let intervals = FundingIntervals::from([("ETHUSDT".to_string(), 240)]);
        let (listed, skipped) = instruments(&info, &intervals);
        assert!(skipped.is_empty());
        let summary: Vec<_> = listed
            .iter()
            .map(|i| {
                (
                    i.instrument.id.as_str(),
                    i.status.clone(),
                    i.funding_interval_minutes,
                )
            })
            .collect();
        // BTCUSDT_220325 is a CURRENT_QUARTER delivery contract: not listed.
        assert_eq!(
            summary,
            vec![
                ("BTCUSDT-PERP.BINANCE", InstrumentStatus::Trading, Some(480)),
                ("ETHUSDT-PERP.BINANCE", InstrumentStatus::Trading, Some(240)),
            ]
        );
        // Precision from PRICE_FILTER.tickSize and LOT_SIZE.stepSize: BTCUSDT's tick 0.10
        // gives 1 decimal although its pricePrecision is 2.
        let precisions: Vec<_> = listed.iter().map(|i| i.precision).collect();
        assert_eq!(
            precisions,
            vec![
                Some(Precision { price: 1, size: 3 }),
                Some(Precision { price: 2, size: 3 }),
            ]
        );
    }

    #[test]
    fn precision_needs_both_filters_and_reads_numbers_too() {
        let info: models::ExchangeInfo = serde_json::from_str(
            r#"{"symbols":[
            {"symbol":"AUSDT","contractType":"PERPETUAL","status":"TRADING","filters":[
                {"filterType":"PRICE_FILTER","tickSize":0.0001},{"filterType":"LOT_SIZE","stepSize":"1"},
                {"filterType":"MARKET_LOT_SIZE","stepSize":"0.1"}]},
            {"symbol":"BUSDT","contractType":"PERPETUAL","status":"TRADING","filters":[
                {"filterType":"PRICE_FILTER","tickSize":"0.01"}]},
            {"symbol":"CUSDT","contractType":"PERPETUAL","status":"TRADING"}]}"#,
        )
        .expect("parses");
        let got: Vec<_> = info.symbols.iter().map(precision).collect();
        assert_eq!(got, vec![Some(Precision { price: 4, size: 0 }), None, None]);
    }

    #[test]
    fn exchange_info_variants_tradifi_statuses_missing_fields_and_odd_symbols() {
        let body = r#"{"symbols":[
            {"symbol":"AAPLUSDT","contractType":"TRADIFI_PERPETUAL","status":"PENDING_TRADING"},
            {"symbol":"OLDUSDT","contractType":"PERPETUAL","status":"SETTLING","deliveryDate":"4133404800000"},
            {"symbol":"HALTUSDT","contractType":"PERPETUAL","status":"PRE_SETTLE","futureField":{"x":1}},
            {"symbol":"NOSTATUSUSDT","contractType":"PERPETUAL","status":null},
            {"symbol":"币安人生USDT","contractType":"PERPETUAL","status":"TRADING"},
            {"contractType":"PERPETUAL"},
            {"symbol":"NOTYPE"}
        ],"newTopLevelField":true}"#;
        let info = parse_exchange_info(&requests::exchange_info(), &ok(body)).expect("parses");
        let (listed, skipped) = instruments(&info, &FundingIntervals::new());
        let summary: Vec<_> = listed
            .iter()
            .map(|i| (i.instrument.native.as_str(), i.status.clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("AAPLUSDT", InstrumentStatus::PreLaunch),
                ("OLDUSDT", InstrumentStatus::Delisted),
                ("HALTUSDT", InstrumentStatus::Other("PRE_SETTLE".into())),
                ("NOSTATUSUSDT", InstrumentStatus::Other(String::new())),
            ]
        );
        assert_eq!(skipped, vec!["币安人生USDT".to_string()]);
        assert_eq!(info.symbols[1].delivery_date, Some(4133404800000));
    }

    #[test]
    fn statuses_map_to_the_shared_vocabulary() {
        assert_eq!(instrument_status("TRADING"), InstrumentStatus::Trading);
        assert_eq!(
            instrument_status("PENDING_TRADING"),
            InstrumentStatus::PreLaunch
        );
        for s in [
            "SETTLING",
            "CLOSE",
            "DELIVERED",
            "DELIVERING",
            "TRADING_HALT",
        ] {
            assert_eq!(instrument_status(s), InstrumentStatus::Delisted, "{s}");
        }
        assert_eq!(
            instrument_status("SOMETHING_NEW"),
            InstrumentStatus::Other("SOMETHING_NEW".into())
        );
    }

    #[test]
    fn funding_info_fixtures_give_minutes_by_symbol() {
        let request = requests::funding_info();
        let docs =
            parse_funding_info(&request, &ok(fixture!("funding_info.json"))).expect("parses");
        assert_eq!(docs, FundingIntervals::from([("BLZUSDT".to_string(), 480)]));
        let live = parse_funding_info(&request, &ok(fixture!("funding_info_live_excerpt.json")))
            .expect("parses");
        assert_eq!(live.len(), 4);
        assert_eq!(live["BLZUSDT"], 240);
        assert_eq!(live["GTCUSDT"], 480);
        assert_eq!(funding_interval(&live, "LPTUSDT"), 240);
        assert_eq!(
            funding_interval(&live, "BTCUSDT"),
            480,
            "absent symbol = 8 h"
        );
    }

    #[test]
    fn funding_info_variants_strings_nulls_and_missing() {
        let body = r#"[{"symbol":"AUSDT","fundingIntervalHours":"1"},
                      {"symbol":"BUSDT","fundingIntervalHours":null},
                      {"symbol":"CUSDT"},
                      {"fundingIntervalHours":4},
                      {"symbol":"DUSDT","fundingIntervalHours":0,"updateTime":1}]"#;
        let map = parse_funding_info(&requests::funding_info(), &ok(body)).expect("parses");
        assert_eq!(map, FundingIntervals::from([("AUSDT".to_string(), 60)]));
    }

    #[test]
    fn open_interest_fixture_with_and_without_mark_price() {
        let request = requests::open_interest("BTCUSDT");
        let oi = parse_open_interest(
            &request,
            &ok(fixture!("open_interest.json")),
            &btc(),
            Some(2.0),
            42,
        )
        .expect("parses");
        assert_eq!(oi.instrument_id.as_str(), "BTCUSDT-PERP.BINANCE");
        assert_eq!(oi.open_interest, 10659.509);
        assert_eq!(oi.open_interest_value, Some(21319.018));
        assert_eq!(oi.ts_event, 1_589_437_530_011_000_000);
        assert_eq!(oi.ts_init, 42);
        let oi = parse_open_interest(
            &request,
            &ok(fixture!("open_interest.json")),
            &btc(),
            None,
            42,
        )
        .expect("parses");
        assert_eq!(oi.open_interest_value, None);
    }

    #[test]
    fn open_interest_variants_numbers_strings_and_missing_fields() {
        let request = requests::open_interest("BTCUSDT");
        let numbers = r#"{"openInterest":10659.509,"symbol":"BTCUSDT","time":"1589437530011"}"#;
        let oi = parse_open_interest(&request, &ok(numbers), &btc(), None, 0).expect("parses");
        assert_eq!(
            (oi.open_interest, oi.ts_event),
            (10659.509, 1_589_437_530_011_000_000)
        );

        let no_time = r#"{"openInterest":"1","symbol":"BTCUSDT"}"#;
        let err = parse_open_interest(&request, &ok(no_time), &btc(), None, 0).unwrap_err();
        assert!(err.to_string().contains("time is missing"), "{err}");

        let other = r#"{"openInterest":"1","symbol":"ETHUSDT","time":1}"#;
        let err = parse_open_interest(&request, &ok(other), &btc(), None, 0).unwrap_err();
        assert!(err.to_string().contains("got ETHUSDT"), "{err}");

        let garbage = "<html>oops</html>";
        let err = parse_open_interest(&request, &ok(garbage), &btc(), None, 0).unwrap_err();
        assert!(matches!(err, FetchError::Malformed { .. }), "{err:?}");
    }

    #[test]
    fn error_bodies_become_typed_errors() {
        let request = requests::open_interest("FOOUSDT");
        let invalid = r#"{"code":-1121,"msg":"Invalid symbol."}"#;
        assert_eq!(
            parse_open_interest(&request, &status(400, invalid), &btc(), None, 0).unwrap_err(),
            FetchError::UnknownSymbol {
                venue: crate::VENUE,
                symbol: "FOOUSDT".into()
            }
        );
        // The same code on a request without a symbol stays a venue error.
        assert_eq!(
            parse_premium_index(&requests::premium_index_all(), &status(400, invalid)).unwrap_err(),
            FetchError::Venue {
                venue: crate::VENUE,
                code: "-1121".into(),
                message: "Invalid symbol.".into()
            }
        );
        let settling = r#"{"code":"-4108","msg":"Symbol is on delivering or delivered or settling or closed or pre-trading."}"#;
        let err =
            parse_open_interest(&request, &status(400, settling), &btc(), None, 0).unwrap_err();
        assert!(
            matches!(&err, FetchError::Venue { code, .. } if code == "-4108"),
            "{err:?}"
        );
        let busy = r#"{"code":-1003,"msg":"Too many requests; current limit is 2400 requests per minute."}"#;
        let err = parse_open_interest(&request, &ok(busy), &btc(), None, 0).unwrap_err();
        assert!(matches!(err, FetchError::RateLimited { .. }), "{err:?}");
        // After leading white space it is still an error; an array (a page of rows) never is.
        let spaced = format!("\n  {busy}");
        let err = parse_open_interest(&request, &ok(&spaced), &btc(), None, 0).unwrap_err();
        assert!(matches!(err, FetchError::RateLimited { .. }), "{err:?}");
        assert!(error_from_body(&request, br#"[{"code":-1003,"msg":"busy"}]"#).is_none());
        let err = parse_open_interest(
            &request,
            &status(451, "Service unavailable from a restricted location"),
            &btc(),
            None,
            0,
        )
        .unwrap_err();
        assert_eq!(
            err,
            FetchError::Http {
                venue: crate::VENUE,
                status: 451,
                body: "Service unavailable from a restricted location".into()
            }
        );
    }

    #[test]
    fn premium_index_fixtures_all_and_single() {
        let request = requests::premium_index_all();
        for body in [
            fixture!("premium_index_all.json"),
            fixture!("premium_index_symbol.json"),
        ] {
            let all = parse_premium_index(&request, &ok(body)).expect("parses");
            let p = &all["BTCUSDT"];
            assert_eq!(p.mark_price, Some(dec("11793.63104562")));
            let snap = funding_snapshot(&btc(), p, Some(480), 7).expect("snapshot");
            assert_eq!(snap.funding.rate, dec("0.00038246"));
            assert_eq!(snap.funding.rate.to_string(), "0.00038246");
            assert_eq!(
                snap.funding.next_funding_ns,
                Some(1_597_392_000_000_000_000)
            );
            assert_eq!(snap.funding.ts_event, 1_597_370_495_002_000_000);
            assert_eq!(
                (snap.funding.ts_init, snap.funding.interval_minutes),
                (7, Some(480))
            );
            let mark = snap.prices.mark.as_ref().expect("mark price");
            let index = snap.prices.index.as_ref().expect("index price");
            assert_eq!(mark.value.to_string(), "11793.63104562");
            assert_eq!(index.value.to_string(), "11781.80495970");
            assert_eq!(mark.instrument_id.as_str(), "BTCUSDT-PERP.BINANCE");
            assert_eq!(
                (mark.ts_event, mark.ts_init),
                (1_597_370_495_002_000_000, 7)
            );
            assert_eq!(
                (index.ts_event, index.ts_init),
                (1_597_370_495_002_000_000, 7)
            );
        }
    }

    #[test]
    fn premium_index_variants_keep_exact_decimals_and_report_missing_fields() {
        let request = requests::premium_index_all();
        let body = r#"[{"symbol":"BTCUSDT","markPrice":11793.6,"lastFundingRate":0.0001,"nextFundingTime":"1597392000000","time":1597370495002},
                      {"symbol":"BTCUSDT_250328","markPrice":"1","lastFundingRate":"","nextFundingTime":0,"time":1},
                      {"symbol":"TINYUSDT","lastFundingRate":"-0.00000043","nextFundingTime":1,"time":1,"markPrice":null}]"#;
        let all = parse_premium_index(&request, &ok(body)).expect("parses");
        let snap = funding_snapshot(&btc(), &all["BTCUSDT"], None, 0).expect("snapshot");
        assert_eq!(snap.funding.rate.to_string(), "0.0001");
        assert_eq!(
            snap.funding.next_funding_ns,
            Some(1_597_392_000_000_000_000)
        );
        let tiny = instrument("TINYUSDT").expect("valid");
        let snap = funding_snapshot(&tiny, &all["TINYUSDT"], None, 0).expect("snapshot");
        assert_eq!(snap.funding.rate.to_string(), "-0.00000043");
        assert_eq!(snap.prices, SnapshotPrices::default());
        let snap = funding_snapshot(&btc(), &all["BTCUSDT"], None, 0).expect("snapshot");
        let mark = snap.prices.mark.as_ref().map(|m| m.value.to_string());
        assert_eq!(
            (mark.as_deref(), snap.prices.index.as_ref()),
            (Some("11793.6"), None)
        );
        let delivery = instrument("BTCUSDT").expect("valid");
        let err = funding_snapshot(&delivery, &all["BTCUSDT_250328"], None, 0).unwrap_err();
        assert!(
            err.to_string().contains("lastFundingRate is missing"),
            "{err}"
        );
    }

    #[test]
    fn open_interest_hist_fixture_and_number_timestamps() {
        let request = requests::open_interest_hist("BTCUSDT", ccxt_venue::OiPeriod::M5, 0, 1);
        let rows =
            parse_open_interest_hist(&request, &ok(fixture!("open_interest_hist.json")), &btc())
                .expect("parses");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].open_interest, 20403.637);
        assert_eq!(rows[0].open_interest_value, Some(150_570_784.078_099_8));
        assert_eq!(rows[0].ts_event, 1_583_127_900_000_000_000);
        assert_eq!(rows[0].ts_init, rows[0].ts_event);
        assert_eq!(rows[1].ts_event, 1_583_128_200_000_000_000);

        let numbers = r#"[{"symbol":"BTCUSDT","sumOpenInterest":20403.637,"timestamp":1583127900000,"CMCCirculatingSupply":"1"}]"#;
        let rows = parse_open_interest_hist(&request, &ok(numbers), &btc()).expect("parses");
        assert_eq!(rows[0].ts_event, 1_583_127_900_000_000_000);
        assert_eq!(rows[0].open_interest_value, None, "missing value is None");
        assert_eq!(
            parse_open_interest_hist(&request, &ok("[]"), &btc()),
            Ok(vec![])
        );
        let err = parse_open_interest_hist(&request, &ok(r#"[{"sumOpenInterest":"1"}]"#), &btc())
            .unwrap_err();
        assert!(err.to_string().contains("timestamp is missing"), "{err}");
    }

    #[test]
    fn funding_rate_history_fixtures_current_and_legacy() {
        let request = requests::funding_rate_history("BTCUSDT", 0, 1);
        for body in [
            fixture!("funding_rate_history.json"),
            fixture!("funding_rate_history_legacy.json"),
        ] {
            let rates = parse_funding_rate_history(&request, &ok(body)).expect("parses");
            assert_eq!(
                rates,
                vec![
                    SettledRate {
                        time_ms: 1570608000000,
                        rate: dec("-0.03750000")
                    },
                    SettledRate {
                        time_ms: 1570636800000,
                        rate: dec("0.00010000")
                    },
                ]
            );
            let records = settled_funding(&btc(), &rates, None);
            assert_eq!(records[0].rate.to_string(), "-0.03750000");
            assert_eq!(records[0].next_funding_ns, None, "history rows are settled");
            assert_eq!(records[0].ts_event, 1_570_608_000_000_000_000);
            assert_eq!(records[0].ts_init, records[0].ts_event);
            // 8 h apart: the first row takes the spacing to the next one.
            assert_eq!(records[0].interval_minutes, Some(480));
            assert_eq!(records[1].interval_minutes, Some(480));
        }
    }

    #[test]
    fn funding_rate_variants_numbers_and_bad_rates() {
        let request = requests::funding_rate_history("BTCUSDT", 0, 1);
        let numbers = r#"[{"symbol":"BTCUSDT","fundingRate":0.0001,"fundingTime":"1570608000000","markPrice":null}]"#;
        let rates = parse_funding_rate_history(&request, &ok(numbers)).expect("parses");
        assert_eq!(rates[0].rate.to_string(), "0.0001");
        let bad = r#"[{"fundingRate":"abc","fundingTime":1}]"#;
        let err = parse_funding_rate_history(&request, &ok(bad)).unwrap_err();
        assert!(err.to_string().contains("'abc' is not a decimal"), "{err}");
    }

    #[test]
    fn intervals_come_from_the_spacing_before_each_rate() {
        const H: u64 = 3_600_000;
        let rate = |t| SettledRate {
            time_ms: t,
            rate: Decimal::ONE,
        };
        // 8 h, then 4 h (interval changed), with 2 ms of jitter, then a 3-hour-and-a-bit gap.
        let rates = [
            rate(0),
            rate(8 * H),
            rate(12 * H + 2),
            rate(15 * H + 30_000),
        ];
        let got: Vec<_> = settled_funding(&btc(), &rates, None)
            .iter()
            .map(|r| r.interval_minutes)
            .collect();
        assert_eq!(got, vec![Some(480), Some(480), Some(240), None]);
        // A known predecessor (previous page) decides the first row.
        let got: Vec<_> = settled_funding(&btc(), &rates[1..2], Some(7 * H))
            .iter()
            .map(|r| r.interval_minutes)
            .collect();
        assert_eq!(got, vec![Some(60)]);
        // A single row with nothing around it: unknown.
        assert_eq!(
            settled_funding(&btc(), &rates[..1], None)[0].interval_minutes,
            None
        );
        assert_eq!(
            interval_from_spacing(0, 2 * 1_440 * 60_000),
            None,
            "a gap, not an interval"
        );
        assert_eq!(interval_from_spacing(10, 5), None);
        assert_eq!(interval_from_spacing(0, 60_000 - 999), Some(1));
    }

    #[test]
    fn decimals_are_exact_and_accept_exponents() {
        assert_eq!(
            decimal("0.00010000").map(|d| d.to_string()),
            Some("0.00010000".into())
        );
        assert_eq!(
            decimal("1e-5").map(|d| d.to_string()),
            Some("0.00001".into())
        );
        assert_eq!(decimal("-0.0375"), Some(dec("-0.0375")));
        assert_eq!(decimal("x"), None);
    }

    #[test]
    fn instruments_round_trip_their_native_symbol() {
        assert_eq!(
            instrument("1000PEPEUSDT").map(|i| i.id.to_string()),
            Some("1000PEPEUSDT-PERP.BINANCE".into())
        );
        assert_eq!(
            instrument("ETHBTC").map(|i| i.native),
            Some("ETHBTC".into())
        );
        assert_eq!(
            instrument("btcusdt"),
            None,
            "ids upper-case the symbol, so lower-case cannot round-trip"
        );
        assert_eq!(instrument("币安人生USDT"), None);
        assert_eq!(instrument(""), None);
    }
}
