//! Pure parsers: response bytes → model records, or a typed [`FetchError`].
//!
//! Bybit wraps every answer in `{retCode, retMsg, result, time}`. [`check_response`] reads the
//! envelope first:
//!
//! * `retCode` 0 → the body is data;
//! * `10001` (parameter error) whose message is about the symbol, on a request with a `symbol`
//!   → [`FetchError::UnknownSymbol`];
//! * `10006` (too many visits, per-UID limit) and `10018` (IP limit) → [`FetchError::RateLimited`];
//! * any other code → [`FetchError::Venue`] with Bybit's code and message;
//! * a non-2xx status without an envelope → [`FetchError::Http`];
//! * a body that is not an envelope, or whose `result` has the wrong shape →
//!   [`FetchError::Malformed`].
//!
//! Responses of another category than `linear` are refused as malformed: inverse contracts count
//! open interest in USD, not base units, and must never be stored as linear.

use std::collections::HashMap;

use ccxt_model::{FundingRate, Instrument, OpenInterest, Precision, Venue};
use ccxt_venue::convert::{self, decimal, ms_to_ns, snippet};
use ccxt_venue::funding::SettledRate;
use ccxt_venue::{
    FetchError, FundingSnapshot, HttpRequest, HttpResponse, InstrumentInfo, InstrumentStatus,
    OpenInterestSnapshot, SnapshotPrices,
};
use serde::de::DeserializeOwned;

use super::models::{self, Envelope, EnvelopeHead, ListResult};
use super::requests::CATEGORY;

const VENUE: Venue = crate::VENUE;

/// The instrument of a Bybit linear native symbol, if it can be named in the catalog (the
/// instrument id must read back to the same native symbol).
pub fn instrument(native: &str) -> Option<Instrument> {
    convert::instrument(VENUE, native)
}

/// The error a non-zero `retCode` stands for.
pub fn ret_code_error(request: &HttpRequest, code: u64, message: &str) -> FetchError {
    match (code, request.param_value("symbol")) {
        (10001, Some(symbol)) if message.to_ascii_lowercase().contains("symbol") => {
            FetchError::UnknownSymbol {
                venue: VENUE,
                symbol: symbol.to_string(),
            }
        }
        (10006 | 10018, _) => FetchError::RateLimited {
            venue: VENUE,
            detail: format!("retCode {code}: {message}"),
            retry_after: None,
        },
        _ => FetchError::Venue {
            venue: VENUE,
            code: code.to_string(),
            message: message.to_string(),
        },
    }
}

/// The error `response` stands for, given its envelope's `retCode` and `retMsg` (`head`;
/// `None` when the body is not an envelope at all), or `Ok` when it is data: a non-zero
/// `retCode` is Bybit's error, whatever the status; a non-2xx status otherwise is an HTTP
/// error; a 2xx body without `retCode` is malformed.
fn verdict(
    request: &HttpRequest,
    response: &HttpResponse,
    head: Option<(Option<u64>, Option<&str>)>,
) -> Result<(), FetchError> {
    if let Some((Some(code), message)) = head
        && code != 0
    {
        return Err(ret_code_error(request, code, message.unwrap_or("")));
    }
    if !(200..300).contains(&response.status) {
        return Err(convert::http_error(VENUE, response));
    }
    match head {
        Some((Some(_), _)) => Ok(()),
        _ => Err(FetchError::malformed(
            VENUE,
            request.endpoint,
            format!(
                "not a Bybit envelope (no retCode): {}",
                snippet(&response.body[..])
            ),
        )),
    }
}

/// The body of a successful response, or the error the response stands for (reads only the
/// envelope's head; [`decode`] reads head and data in one pass).
pub fn check_response<'a>(
    request: &HttpRequest,
    response: &'a HttpResponse,
) -> Result<&'a [u8], FetchError> {
    let body = &response.body[..];
    let head = serde_json::from_slice::<EnvelopeHead>(body).ok();
    verdict(
        request,
        response,
        head.as_ref().map(|h| (h.ret_code, h.ret_msg.as_deref())),
    )?;
    Ok(body)
}

/// Decodes the envelope with `result` as `T` in one pass and checks it; a body that does not
/// decode is read again only for its head, to report the venue's error (or the HTTP status)
/// rather than a parse error.
pub(crate) fn decode<T: DeserializeOwned>(
    request: &HttpRequest,
    response: &HttpResponse,
) -> Result<Envelope<T>, FetchError> {
    match convert::json_body::<Envelope<T>>(&response.body) {
        Ok(envelope) => {
            verdict(
                request,
                response,
                Some((envelope.ret_code, envelope.ret_msg.as_deref())),
            )?;
            Ok(envelope)
        }
        Err(e) => {
            check_response(request, response)?;
            Err(FetchError::malformed(VENUE, request.endpoint, e))
        }
    }
}

/// Refuses a list of another category than `linear` (a missing category is accepted).
fn linear_only<T>(request: &HttpRequest, list: &ListResult<T>) -> Result<(), FetchError> {
    match list.category.as_deref() {
        Some(category) if !category.is_empty() && category != CATEGORY => {
            Err(FetchError::malformed(
                VENUE,
                request.endpoint,
                format!("category is '{category}', expected '{CATEGORY}'"),
            ))
        }
        _ => Ok(()),
    }
}

fn missing(request: &HttpRequest, what: &str) -> FetchError {
    FetchError::malformed(VENUE, request.endpoint, format!("{what} is missing"))
}

/// The next-page cursor of a list: `None` when it is missing, null or empty.
pub fn next_cursor<T>(list: &ListResult<T>) -> Option<String> {
    list.next_page_cursor
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
}

/// Parses one `instruments-info` page: its instruments (all types) and the next cursor.
pub fn parse_instruments_page(
    request: &HttpRequest,
    response: &HttpResponse,
) -> Result<(Vec<models::InstrumentItem>, Option<String>), FetchError> {
    let envelope: Envelope<ListResult<models::InstrumentItem>> = decode(request, response)?;
    linear_only(request, &envelope.result)?;
    let cursor = next_cursor(&envelope.result);
    Ok((envelope.result.list, cursor))
}

/// Maps an instrument status: `Trading`, `PreLaunch`; `Delivering` and `Closed` (a perpetual
/// being or having been delisted) → delisted; anything else verbatim.
pub fn instrument_status(status: &str) -> InstrumentStatus {
    match status {
        "Trading" => InstrumentStatus::Trading,
        "PreLaunch" => InstrumentStatus::PreLaunch,
        "Delivering" | "Closed" => InstrumentStatus::Delisted,
        other => InstrumentStatus::Other(other.to_string()),
    }
}

/// The funding interval of an instrument, minutes (`None` when absent or 0).
pub fn funding_interval(item: &models::InstrumentItem) -> Option<u16> {
    item.funding_interval
        .filter(|m| *m > 0)
        .and_then(|m| u16::try_from(m).ok())
}

/// The price and size decimals of an instrument, from `priceFilter.tickSize` and
/// `lotSizeFilter.qtyStep`; `None` without both.
pub fn precision(item: &models::InstrumentItem) -> Option<Precision> {
    let decimals = |text: Option<&String>| {
        text.and_then(|t| convert::decimal(t))
            .filter(|d| d.is_sign_positive() && !d.is_zero())
            .map(Precision::decimals_of)
    };
    Some(Precision {
        price: decimals(item.price_filter.as_ref()?.tick_size.as_ref())?,
        size: decimals(item.lot_size_filter.as_ref()?.qty_step.as_ref())?,
    })
}

/// The `LinearPerpetual` instruments among `items` (each symbol once, first seen wins), and the
/// perpetuals skipped because their symbol cannot be named in the catalog.
pub fn instruments(items: &[models::InstrumentItem]) -> (Vec<InstrumentInfo>, Vec<String>) {
    let mut listed: Vec<InstrumentInfo> = Vec::new();
    let mut skipped = Vec::new();
    for item in items {
        let (Some(symbol), Some("LinearPerpetual")) = (&item.symbol, item.contract_type.as_deref())
        else {
            continue;
        };
        let Some(instrument) = instrument(symbol) else {
            skipped.push(symbol.clone());
            continue;
        };
        if listed.iter().any(|i| i.instrument == instrument) {
            continue;
        }
        listed.push(InstrumentInfo {
            instrument,
            status: instrument_status(item.status.as_deref().unwrap_or("")),
            funding_interval_minutes: funding_interval(item),
            precision: precision(item),
        });
    }
    (listed, skipped)
}

/// All tickers of one `tickers` answer, by native symbol, with the answer's time (ms), which is
/// the `ts_event` of every figure in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tickers {
    /// The envelope `time`, ms.
    pub time_ms: u64,
    /// Tickers by native symbol.
    pub by_symbol: HashMap<String, models::Ticker>,
}

/// Parses `tickers`.
pub fn parse_tickers(
    request: &HttpRequest,
    response: &HttpResponse,
) -> Result<Tickers, FetchError> {
    let envelope: Envelope<ListResult<models::Ticker>> = decode(request, response)?;
    linear_only(request, &envelope.result)?;
    let time_ms = envelope.time.ok_or_else(|| missing(request, "time"))?;
    let by_symbol = envelope
        .result
        .list
        .into_iter()
        .filter_map(|t| Some((t.symbol.clone()?, t)))
        .collect();
    Ok(Tickers { time_ms, by_symbol })
}

/// The mark and index price of `instrument`'s ticker.
pub fn ticker_prices(
    instrument: &Instrument,
    ticker: &models::Ticker,
    ts_event: u64,
    ts_init: u64,
) -> SnapshotPrices {
    SnapshotPrices::new(
        &instrument.id,
        ticker.mark_price,
        ticker.index_price,
        ts_event,
        ts_init,
    )
}

/// Current open interest of `instrument` from its ticker: value is `openInterestValue`, else
/// open interest × mark price; with the ticker's mark and index price.
pub fn ticker_open_interest(
    instrument: &Instrument,
    ticker: &models::Ticker,
    ts_event: u64,
    ts_init: u64,
) -> Result<OpenInterestSnapshot, FetchError> {
    let open_interest = ticker.open_interest.ok_or_else(|| {
        FetchError::malformed(
            VENUE,
            "tickers",
            format!("{}: openInterest is missing", instrument.native),
        )
    })?;
    let prices = ticker_prices(instrument, ticker, ts_event, ts_init);
    Ok(OpenInterestSnapshot {
        open_interest: OpenInterest {
            instrument_id: instrument.id.clone(),
            open_interest,
            open_interest_value: ticker
                .open_interest_value
                .or(prices.mark_f64().map(|m| open_interest * m)),
            ts_event,
            ts_init,
        },
        prices,
    })
}

/// The live funding estimate of `instrument` from its ticker: `fundingRate` (exact) charged at
/// `nextFundingTime`, interval `fundingIntervalHour` × 60.
pub fn ticker_funding(
    instrument: &Instrument,
    ticker: &models::Ticker,
    ts_event: u64,
    ts_init: u64,
) -> Result<FundingSnapshot, FetchError> {
    let bad = |detail: String| {
        FetchError::malformed(VENUE, "tickers", format!("{}: {detail}", instrument.native))
    };
    let text = ticker
        .funding_rate
        .as_deref()
        .ok_or_else(|| bad("fundingRate is missing (pre-launch?)".into()))?;
    let rate =
        decimal(text).ok_or_else(|| bad(format!("fundingRate '{text}' is not a decimal")))?;
    let next = ticker
        .next_funding_time
        .filter(|t| *t > 0)
        .ok_or_else(|| bad("nextFundingTime is missing (pre-launch or delivering?)".into()))?;
    let interval_minutes = ticker
        .funding_interval_hour
        .and_then(|h| h.checked_mul(60))
        .filter(|m| *m > 0)
        .and_then(|m| u16::try_from(m).ok());
    Ok(FundingSnapshot {
        funding: FundingRate {
            instrument_id: instrument.id.clone(),
            rate,
            interval_minutes,
            next_funding_ns: Some(ms_to_ns(next)),
            ts_event,
            ts_init,
        },
        prices: ticker_prices(instrument, ticker, ts_event, ts_init),
    })
}

/// Parses one `open-interest` page of `instrument` (history: `ts_init == ts_event`; no USD
/// value, which this endpoint does not give) and its next cursor.
pub fn parse_open_interest_page(
    request: &HttpRequest,
    response: &HttpResponse,
    instrument: &Instrument,
) -> Result<(Vec<OpenInterest>, Option<String>), FetchError> {
    let envelope: Envelope<ListResult<models::OpenInterestRow>> = decode(request, response)?;
    linear_only(request, &envelope.result)?;
    let cursor = next_cursor(&envelope.result);
    let rows = envelope
        .result
        .list
        .into_iter()
        .map(|row| {
            let time = row.timestamp.ok_or_else(|| missing(request, "timestamp"))?;
            let open_interest = row
                .open_interest
                .ok_or_else(|| missing(request, "openInterest"))?;
            Ok(OpenInterest {
                instrument_id: instrument.id.clone(),
                open_interest,
                open_interest_value: None,
                ts_event: ms_to_ns(time),
                ts_init: ms_to_ns(time),
            })
        })
        .collect::<Result<Vec<_>, FetchError>>()?;
    Ok((rows, cursor))
}

/// Parses `funding/history`.
pub fn parse_funding_history(
    request: &HttpRequest,
    response: &HttpResponse,
) -> Result<Vec<SettledRate>, FetchError> {
    let envelope: Envelope<ListResult<models::FundingHistoryRow>> = decode(request, response)?;
    linear_only(request, &envelope.result)?;
    envelope
        .result
        .list
        .into_iter()
        .map(|row| {
            SettledRate::from_fields(
                VENUE,
                request,
                (row.funding_rate_timestamp, "fundingRateTimestamp"),
                (row.funding_rate, "fundingRate"),
            )
        })
        .collect()
}

/// The funding interval of `symbol` from an `instruments-info?symbol=…` answer (`None` when the
/// symbol is not in it).
pub fn parse_instrument_interval(
    request: &HttpRequest,
    response: &HttpResponse,
    symbol: &str,
) -> Result<Option<u16>, FetchError> {
    let (items, _) = parse_instruments_page(request, response)?;
    Ok(items
        .iter()
        .find(|i| i.symbol.as_deref() == Some(symbol))
        .and_then(funding_interval))
}

#[cfg(test)]
mod tests {
    use ccxt_venue::OiPeriod;
    use ccxt_venue::funding::{interval_from_spacing, settled};
    use ccxt_venue::testing::response as status;

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
        instrument("BTCUSDT").expect("valid")
    }

    /// The fixture with `retCode` and `time` turned into strings, as recorded copies have them.
    fn stringified(body: &str) -> String {
        let mut v: serde_json::Value = serde_json::from_str(body).expect("fixture is JSON");
        for key in ["retCode", "time"] {
            let text = v[key].to_string();
            v[key] = serde_json::Value::String(text);
        }
        v.to_string()
    }

    #[test]
    fn every_capture_lives_in_the_crate_with_its_provenance() {
        ccxt_venue::testing::assert_captures_have_provenance(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
        );
    }

    #[test]
    fn instruments_fixtures_trading_and_prelaunch() {
        let request = requests::instruments_info(None, None);
        let (items, cursor) =
            parse_instruments_page(&request, &ok(fixture!("instruments_linear_docs.json")))
                .expect("parses");
        assert_eq!(cursor, None, "empty cursor: last page");
        let (listed, skipped) = instruments(&items);
        assert!(skipped.is_empty());
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].instrument.id.as_str(), "BTCUSDT-LINEAR.BYBIT");
        assert_eq!(
            (listed[0].status.clone(), listed[0].funding_interval_minutes),
            (InstrumentStatus::Trading, Some(480))
        );
        assert_eq!(items[0].launch_time, Some(1585526400000));
        // Precision from priceFilter.tickSize 0.10 and lotSizeFilter.qtyStep 0.001.
        assert_eq!(listed[0].precision, Some(Precision { price: 1, size: 3 }));

        let request = requests::instruments_info(Some("PreLaunch"), None);
        let (items, cursor) = parse_instruments_page(
            &request,
            &ok(fixture!("instruments_linear_prelaunch_docs.json")),
        )
        .expect("parses");
        assert_eq!(cursor.as_deref(), Some("first%3DBIOUSDT%26last%3DBIOUSDT"));
        let (listed, _) = instruments(&items);
        assert_eq!(listed[0].instrument.native, "BIOUSDT");
        assert_eq!(listed[0].status, InstrumentStatus::PreLaunch);
        assert_eq!(listed[0].precision, Some(Precision { price: 4, size: 0 }));
    }

    #[test]
    fn instruments_variants_contract_types_statuses_null_cursor_strings() {
        let body = r#"{"retCode":"0","retMsg":"OK","time":"1","result":{"category":"linear","nextPageCursor":null,"list":[
            {"symbol":"BTCPERP","contractType":"LinearPerpetual","status":"Delivering","fundingInterval":"240"},
            {"symbol":"BTC-26DEC25","contractType":"LinearFutures","status":"Trading"},
            {"symbol":"OLDUSDT","contractType":"LinearPerpetual","status":"Closed","fundingInterval":null},
            {"symbol":"NEWUSDT","contractType":"LinearPerpetual","status":"Suspended","fundingInterval":0},
            {"symbol":"BTCPERP","contractType":"LinearPerpetual","status":"Trading"},
            {"symbol":"bad-sym","contractType":"LinearPerpetual","status":"Trading"},
            {"contractType":"LinearPerpetual"}]}}"#;
        let (items, cursor) =
            parse_instruments_page(&requests::instruments_info(None, None), &ok(body))
                .expect("parses");
        assert_eq!(cursor, None, "null cursor: last page");
        let (listed, skipped) = instruments(&items);
        let got: Vec<_> = listed
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
                ("BTCPERP", InstrumentStatus::Delisted, Some(240)),
                ("OLDUSDT", InstrumentStatus::Delisted, None),
                ("NEWUSDT", InstrumentStatus::Other("Suspended".into()), None),
            ]
        );
        assert_eq!(skipped, vec!["bad-sym".to_string()]);
    }

    #[test]
    fn tickers_of_another_category_are_refused_but_the_model_reads_them() {
        let request = requests::tickers();
        let err = parse_tickers(&request, &ok(fixture!("tickers_inverse_docs.json"))).unwrap_err();
        assert!(err.to_string().contains("category is 'inverse'"), "{err}");
        // The payload itself parses: every field of the ticker model is there.
        let envelope: Envelope<ListResult<models::Ticker>> =
            serde_json::from_str(fixture!("tickers_inverse_docs.json")).expect("parses");
        let t = &envelope.result.list[0];
        assert_eq!(t.funding_rate.as_deref(), Some("0.0001"));
        assert_eq!(
            (t.next_funding_time, t.funding_interval_hour),
            (Some(1760371200000), Some(8))
        );
        assert_eq!(envelope.time, Some(1760352369814));
    }

    #[test]
    fn linear_tickers_give_open_interest_and_funding() {
        // The inverse docs example relabelled linear, plus a number-typed symbol and a pre-launch one.
        let body = fixture!("tickers_inverse_docs.json")
            .replace("\"inverse\"", "\"linear\"")
            .replace("\"BTCUSD\"", "\"BTCUSDT\"");
        let mut v: serde_json::Value = serde_json::from_str(&body).expect("json");
        let extra = serde_json::json!([
            {"symbol":"ETHUSDT","openInterest":12.5,"markPrice":2,"fundingRate":-0.00005,"nextFundingTime":1760371200000u64,"fundingIntervalHour":4},
            {"symbol":"PREUSDT","openInterest":"0","openInterestValue":"","fundingRate":"","nextFundingTime":"0","fundingIntervalHour":""}
        ]);
        if let (Some(list), Some(more)) = (v["result"]["list"].as_array_mut(), extra.as_array()) {
            list.extend(more.iter().cloned());
        }
        let tickers = parse_tickers(&requests::tickers(), &ok(&v.to_string())).expect("parses");
        assert_eq!(tickers.time_ms, 1760352369814);
        let ts = ms_to_ns(tickers.time_ms);
        let snapshot =
            ticker_open_interest(&btc(), &tickers.by_symbol["BTCUSDT"], ts, 9).expect("oi");
        let oi = &snapshot.open_interest;
        assert_eq!(
            (oi.open_interest, oi.open_interest_value),
            (240113967.0, Some(2089.79))
        );
        assert_eq!((oi.ts_event, oi.ts_init), (1_760_352_369_814_000_000, 9));
        let mark = snapshot.prices.mark.as_ref().expect("mark");
        let index = snapshot.prices.index.as_ref().expect("index");
        assert_eq!(
            (mark.value.to_string(), index.value.to_string()),
            ("114898.43".into(), "114890.92".into())
        );
        assert_eq!(
            (index.ts_event, index.ts_init),
            (1_760_352_369_814_000_000, 9)
        );
        let f = ticker_funding(&btc(), &tickers.by_symbol["BTCUSDT"], ts, 9).expect("funding");
        assert_eq!(f.funding.rate.to_string(), "0.0001");
        assert_eq!(f.funding.interval_minutes, Some(480));
        assert_eq!(f.funding.next_funding_ns, Some(1_760_371_200_000_000_000));
        assert_eq!(f.prices, snapshot.prices, "one ticker, one pair of prices");

        let eth = instrument("ETHUSDT").expect("valid");
        let oi = ticker_open_interest(&eth, &tickers.by_symbol["ETHUSDT"], ts, 0).expect("oi");
        assert_eq!(
            oi.open_interest.open_interest_value,
            Some(25.0),
            "no openInterestValue: OI × mark"
        );
        let f = ticker_funding(&eth, &tickers.by_symbol["ETHUSDT"], ts, 0).expect("funding");
        assert_eq!(
            (f.funding.rate.to_string(), f.funding.interval_minutes),
            ("-0.00005".into(), Some(240))
        );

        let pre = instrument("PREUSDT").expect("valid");
        let oi = ticker_open_interest(&pre, &tickers.by_symbol["PREUSDT"], ts, 0).expect("oi");
        assert_eq!(oi.open_interest.open_interest_value, None);
        assert!(oi.prices.is_empty(), "no prices before launch");
        let err = ticker_funding(&pre, &tickers.by_symbol["PREUSDT"], ts, 0).unwrap_err();
        assert!(err.to_string().contains("fundingRate is missing"), "{err}");
    }

    #[test]
    fn open_interest_linear_fixture_and_stringified_envelope() {
        let request = requests::open_interest("BTCUSDT", OiPeriod::H1, 0, 1, None);
        for body in [
            fixture!("open_interest_linear.json").to_string(),
            stringified(fixture!("open_interest_linear.json")),
        ] {
            let (rows, cursor) =
                parse_open_interest_page(&request, &ok(&body), &btc()).expect("parses");
            assert_eq!(
                cursor.as_deref(),
                Some("lastid%3D10860016%26lasttime%3D1739725200")
            );
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].instrument_id.as_str(), "BTCUSDT-LINEAR.BYBIT");
            assert_eq!(rows[0].open_interest, 62129.455);
            assert_eq!(rows[0].open_interest_value, None, "history has no value");
            assert_eq!(
                (rows[0].ts_event, rows[0].ts_init),
                (1_739_725_200_000_000_000, 1_739_725_200_000_000_000)
            );
        }
    }

    #[test]
    fn open_interest_inverse_fixtures_are_refused_but_the_model_reads_them() {
        let request = requests::open_interest("BTCUSD", OiPeriod::D1, 0, 1, None);
        for body in [
            fixture!("open_interest_inverse.json"),
            fixture!("open_interest_docs.json"),
        ] {
            let err = parse_open_interest_page(&request, &ok(body), &btc()).unwrap_err();
            assert!(err.to_string().contains("category is 'inverse'"), "{err}");
        }
        let docs: Envelope<ListResult<models::OpenInterestRow>> =
            serde_json::from_str(fixture!("open_interest_docs.json")).expect("parses");
        assert_eq!(docs.result.list.len(), 5);
        assert_eq!(docs.result.list[0].single_open_interest, Some(31955346.0));
        assert!(
            docs.result
                .list
                .windows(2)
                .all(|w| w[0].timestamp > w[1].timestamp),
            "newest first"
        );
        let inverse: Envelope<ListResult<models::OpenInterestRow>> =
            serde_json::from_str(fixture!("open_interest_inverse.json")).expect("parses");
        assert_eq!(inverse.result.list[0].open_interest, Some(1536179414.0));
    }

    #[test]
    fn open_interest_variants_missing_fields_and_empty_lists() {
        let request = requests::open_interest("BTCUSDT", OiPeriod::H1, 0, 1, None);
        let empty = r#"{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[],"nextPageCursor":""},"time":1}"#;
        assert_eq!(
            parse_open_interest_page(&request, &ok(empty), &btc()),
            Ok((vec![], None))
        );
        let no_result_list = r#"{"retCode":0,"retMsg":"OK","result":{},"time":1}"#;
        assert_eq!(
            parse_open_interest_page(&request, &ok(no_result_list), &btc()),
            Ok((vec![], None))
        );
        let no_time = r#"{"retCode":0,"result":{"list":[{"openInterest":"1"}]}}"#;
        let err = parse_open_interest_page(&request, &ok(no_time), &btc()).unwrap_err();
        assert!(err.to_string().contains("timestamp is missing"), "{err}");
    }

    #[test]
    fn funding_history_fixture_and_variants() {
        let request = requests::funding_history("ETHPERP", 1);
        for body in [
            fixture!("funding_history_docs.json").to_string(),
            stringified(fixture!("funding_history_docs.json")),
        ] {
            let rates = parse_funding_history(&request, &ok(&body)).expect("parses");
            assert_eq!(rates.len(), 1);
            assert_eq!(rates[0].time_ms, 1672041600000);
            assert_eq!(rates[0].rate.to_string(), "0.0001");
            let eth = instrument("ETHPERP").expect("valid");
            let record = settled(&eth, &rates[0], Some(480));
            assert_eq!(record.instrument_id.as_str(), "ETHPERP-LINEAR.BYBIT");
            assert_eq!(
                (record.next_funding_ns, record.ts_init),
                (None, record.ts_event)
            );
        }
        let numbers = r#"{"retCode":0,"result":{"category":"linear","list":[{"symbol":"X","fundingRate":-0.000125,"fundingRateTimestamp":1672041600000}]},"time":1}"#;
        let rates = parse_funding_history(&request, &ok(numbers)).expect("parses");
        assert_eq!(rates[0].rate.to_string(), "-0.000125");
        let bad = r#"{"retCode":0,"result":{"list":[{"fundingRateTimestamp":"1"}]}}"#;
        assert!(
            parse_funding_history(&request, &ok(bad))
                .unwrap_err()
                .to_string()
                .contains("fundingRate is missing")
        );
    }

    #[test]
    fn error_envelopes_become_typed_errors() {
        let request = requests::open_interest("FOOUSDT", OiPeriod::H1, 0, 1, None);
        let invalid = r#"{"retCode":10001,"retMsg":"params error: symbol invalid","result":{},"retExtInfo":{},"time":1}"#;
        assert_eq!(
            parse_open_interest_page(&request, &ok(invalid), &btc()).unwrap_err(),
            FetchError::UnknownSymbol {
                venue: crate::VENUE,
                symbol: "FOOUSDT".into()
            }
        );
        // Strings for numbers, and an HTTP 400 with an envelope, read the same.
        let invalid_str =
            r#"{"retCode":"10001","retMsg":"Symbol Is Invalid","result":{},"time":"1"}"#;
        assert!(matches!(
            parse_open_interest_page(&request, &status(400, invalid_str), &btc()),
            Err(FetchError::UnknownSymbol { .. })
        ));
        // A parameter error about something else is the venue's error, code and message kept.
        let interval =
            r#"{"retCode":10001,"retMsg":"params error: intervalTime invalid","result":{}}"#;
        assert_eq!(
            parse_open_interest_page(&request, &ok(interval), &btc()).unwrap_err(),
            FetchError::Venue {
                venue: crate::VENUE,
                code: "10001".into(),
                message: "params error: intervalTime invalid".into()
            }
        );
        // Without a symbol in the request, 10001 is never an unknown symbol.
        let err = parse_tickers(&requests::tickers(), &ok(invalid)).unwrap_err();
        assert!(matches!(err, FetchError::Venue { .. }), "{err:?}");
        for code in [10006, 10018] {
            let busy = format!(r#"{{"retCode":{code},"retMsg":"Too many visits!","result":{{}}}}"#);
            let err = parse_tickers(&requests::tickers(), &ok(&busy)).unwrap_err();
            assert!(
                matches!(&err, FetchError::RateLimited { detail, retry_after: None, .. } if detail.contains("Too many visits")),
                "{err:?}"
            );
        }
        let err =
            parse_tickers(&requests::tickers(), &status(403, "access too frequent")).unwrap_err();
        assert_eq!(
            err,
            FetchError::Http {
                venue: crate::VENUE,
                status: 403,
                body: "access too frequent".into()
            }
        );
        let err = parse_tickers(&requests::tickers(), &ok(r#"{"result":{}}"#)).unwrap_err();
        assert!(err.to_string().contains("no retCode"), "{err}");
    }

    #[test]
    fn one_pass_decoding_tells_errors_from_data_as_the_head_did() {
        let request = requests::open_interest("BTCUSDT", OiPeriod::H1, 0, 1, None);
        // Error code with a `result` that does not fit the data type: read from the head.
        let busy = r#"{"retCode":10006,"retMsg":"Too many visits!","result":[]}"#;
        assert!(matches!(
            parse_open_interest_page(&request, &ok(busy), &btc()),
            Err(FetchError::RateLimited { .. })
        ));
        // Error code with a `result` that does fit (Bybit's `{}`): told by the one pass.
        let busy = r#"{"retCode":"10018","retMsg":"ip limit","result":{},"retExtInfo":{}}"#;
        assert!(matches!(
            parse_funding_history(&requests::funding_history("BTCUSDT", 1), &ok(busy)),
            Err(FetchError::RateLimited { .. })
        ));
        // Data without retCode is not an envelope, even though it decodes.
        let bare = r#"{"result":{"category":"linear","list":[]}}"#;
        let err = parse_open_interest_page(&request, &ok(bare), &btc()).unwrap_err();
        assert!(err.to_string().contains("no retCode"), "{err}");
        // retCode 0 on a 5xx status is the status's error, with or without data.
        let fine = r#"{"retCode":0,"retMsg":"OK","result":{"list":[]}}"#;
        assert!(matches!(
            parse_open_interest_page(&request, &status(503, fine), &btc()),
            Err(FetchError::Http { status: 503, .. })
        ));
        // retCode 0 whose data has the wrong shape: malformed, naming the parse error.
        let odd = r#"{"retCode":0,"retMsg":"OK","result":{"list":{"openInterest":"1"}}}"#;
        assert!(matches!(
            parse_open_interest_page(&request, &ok(odd), &btc()),
            Err(FetchError::Malformed { .. })
        ));
        // Unknown fields anywhere are ignored.
        let extra = r#"{"retCode":0,"retMsg":"OK","new":1,"result":{"category":"linear","x":[1],"list":[{"openInterest":"2","timestamp":"1000","more":true}]},"time":5}"#;
        let (rows, _) = parse_open_interest_page(&request, &ok(extra), &btc()).expect("parses");
        assert_eq!(rows.len(), 1);
    }

    #[test]
    fn instrument_interval_for_the_funding_fallback() {
        let request = requests::instrument_info("BTCUSDT");
        let response = ok(fixture!("instruments_linear_docs.json"));
        assert_eq!(
            parse_instrument_interval(&request, &response, "BTCUSDT"),
            Ok(Some(480))
        );
        assert_eq!(
            parse_instrument_interval(&request, &response, "ETHUSDT"),
            Ok(None)
        );
    }

    #[test]
    fn spacing_gives_whole_minutes_only() {
        assert_eq!(interval_from_spacing(0, 8 * 3_600_000), Some(480));
        assert_eq!(interval_from_spacing(0, 3_600_000 + 1_000), Some(60));
        assert_eq!(interval_from_spacing(0, 3_600_000 + 1_001), None);
        assert_eq!(interval_from_spacing(0, 2 * 86_400_000), None);
        assert_eq!(interval_from_spacing(5, 5), None);
    }

    #[test]
    fn symbols_round_trip() {
        assert_eq!(
            instrument("BTCPERP").map(|i| i.id.to_string()),
            Some("BTCPERP-LINEAR.BYBIT".into())
        );
        assert_eq!(instrument("BTC-26DEC25"), None);
        assert_eq!(
            decimal("0.00010000").map(|d| d.to_string()),
            Some("0.00010000".into())
        );
        assert_eq!(
            decimal("-1.25e-5").map(|d| d.to_string()),
            Some("-0.0000125".into())
        );
    }
}
