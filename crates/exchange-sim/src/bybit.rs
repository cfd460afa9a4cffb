//! Bybit v5 (`https://api.bybit.com`), `category=linear`: the public market-data endpoints the
//! collector uses. Every answer is HTTP 200 with the envelope
//! `{"retCode":0,"retMsg":"OK","result":{…},"retExtInfo":{},"time":1735809771618}`; errors put
//! `retCode` 10001 and a message there, with `result` `{}`.
//!
//! | endpoint | notes |
//! |---|---|
//! | `GET /v5/market/tickers?category=linear[&symbol]` | every trading/pre-launch linear instrument, all fields strings |
//! | `GET /v5/market/open-interest?category&symbol&intervalTime&startTime&endTime&limit&cursor` | newest first; `limit` 1..=200, default 50; `nextPageCursor` (`lastid%3D…%26lasttime%3D…`, seconds) until the rows run out, then `""`; a lone `startTime` is ignored (as CCXT notes) |
//! | `GET /v5/market/funding/history?category&symbol&startTime&endTime&limit` | newest first; `limit` 1..=200, default 200; only `startTime` → error; only `endTime` → up to it; neither → the latest |
//! | `GET /v5/market/instruments-info?category=linear&status&limit&cursor[&symbol]` | alphabetical; `status` `Trading` by default (also `PreLaunch`, `Closed`, `Delivering`); `limit` 1..=1000, default 500; every non-empty page carries a `nextPageCursor` and the page after the last is empty with `""` |
//! | `GET /v5/market/kline?category&symbol&interval&start&end&limit` | rows of 7 strings `[start, open, high, low, close, volume, turnover]`, **newest first**, the forming candle first; `limit` 1..=1000, default 200; both bounds inclusive on the candle start, a `start` inside a candle includes that candle; with `end` (or neither bound) the newest `limit` up to it, with only `start` the oldest `limit` from it; intervals `1 3 5 15 30 60 120 240 360 720 D W M` |
//! | `GET /v5/market/mark-price-kline` | the same for the mark price, rows of 5 strings `[start, open, high, low, close]` |
//!
//! Categories other than `linear` are accepted with empty lists (the simulator lists no
//! inverse, spot or option instruments).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::Venue;
use crate::data::{
    Contract, DAY, Grid, HOUR, Instrument, MIN5, Status, Universe, next_multiple, take,
};
use crate::format::{fixed, price_decimals, qty_decimals, units_trimmed};
use crate::klines::{Series, Span};
use crate::server::{AppState, Params, lock};

#[derive(Debug, Serialize)]
struct Empty {}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<T> {
    ret_code: i32,
    ret_msg: String,
    result: T,
    ret_ext_info: Empty,
    time: u64,
}

/// A `retCode != 0` answer.
#[derive(Debug, Clone, PartialEq)]
struct ByError(i32, String);

fn params_error(what: &str) -> ByError {
    ByError(10001, format!("params error: {what}"))
}

fn symbol_invalid() -> ByError {
    params_error("symbol invalid")
}

fn respond(now: u64, result: Result<Response, ByError>) -> Response {
    result.unwrap_or_else(|ByError(code, msg)| {
        Json(Envelope {
            ret_code: code,
            ret_msg: msg,
            result: Empty {},
            ret_ext_info: Empty {},
            time: now,
        })
        .into_response()
    })
}

fn ok<T: Serialize>(now: u64, result: T) -> Result<Response, ByError> {
    Ok(Json(Envelope {
        ret_code: 0,
        ret_msg: "OK".into(),
        result,
        ret_ext_info: Empty {},
        time: now,
    })
    .into_response())
}

fn params(uri: &Uri) -> Result<Params, ByError> {
    Params::from_uri(uri).map_err(|_| params_error("invalid query string"))
}

/// `Ok(true)` for linear, `Ok(false)` for the other (empty here) categories.
fn linear(p: &Params) -> Result<bool, ByError> {
    match p.get("category") {
        Some("linear") => Ok(true),
        Some("inverse" | "spot" | "option") => Ok(false),
        _ => Err(ByError(10001, "Illegal category".into())),
    }
}

fn number(p: &Params, name: &str) -> Result<Option<u64>, ByError> {
    match p.get(name) {
        None => Ok(None),
        Some(v) => v
            .parse::<u64>()
            .map(Some)
            .map_err(|_| params_error(&format!("{name} invalid"))),
    }
}

fn limit(p: &Params, default: u64, max: u64) -> Result<u64, ByError> {
    match number(p, "limit")? {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(params_error("limit invalid")),
    }
}

fn symbol<'a>(u: &'a Universe, p: &Params, is_linear: bool) -> Result<&'a Instrument, ByError> {
    let s = p
        .get("symbol")
        .ok_or_else(|| params_error("symbol is required"))?;
    if !is_linear {
        return Err(symbol_invalid());
    }
    u.bybit.get(s).ok_or_else(symbol_invalid)
}

/// Decodes `%XX` escapes, repeatedly (a cursor may arrive encoded once or twice).
fn decode_cursor(s: &str) -> String {
    let mut text = s.to_string();
    for _ in 0..3 {
        if !text.contains('%') {
            break;
        }
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match (bytes[i], hex) {
                (b'%', Some(b)) => {
                    out.push(b);
                    i += 3;
                }
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        text = String::from_utf8_lossy(&out).into_owned();
    }
    text
}

/// `key=value&…` pairs of a decoded cursor.
fn cursor_field<'a>(cursor: &'a str, key: &str) -> Option<&'a str> {
    cursor
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

fn funding_cap(hours: u32) -> &'static str {
    match hours {
        1 => "0.01",
        4 => "0.02",
        _ => "0.005",
    }
}

fn ticker(u: &Universe, inst: &Instrument, now: u64) -> Value {
    let a = u.asset(inst);
    let pdp = price_decimals(a.price * inst.price_bias);
    let qdp = qty_decimals(a.price);
    let t = inst.data_end(now);
    let mark = u.price(inst, t);
    let index = u.index_price(inst, t);
    let last = mark * (1.0 + 0.0001 * (crate::data::unit(inst.key ^ t) - 0.5));
    let prev24 = u.price(inst, t.saturating_sub(DAY));
    let (high, low) = (0..24).fold((mark, mark), |(h, l), i| {
        let p = u.price(inst, t.saturating_sub(i * HOUR));
        (h.max(p), l.min(p))
    });
    let oi = u.oi(inst, t);
    let volume = oi * 1.7;
    let tick = 10f64.powi(-(pdp as i32));
    let (funding_rate, next_funding, interval, cap) = match inst.funding_step() {
        Some(step) => (
            units_trimmed(u.predicted_units(inst, t), 8),
            next_multiple(t, step).to_string(),
            inst.funding_hours.to_string(),
            funding_cap(inst.funding_hours).to_string(),
        ),
        None => (String::new(), "0".into(), String::new(), String::new()),
    };
    let (delivery_time, basis, basis_rate, delivery_fee) = match inst.contract {
        Contract::Delivery { delivery_ms } => (
            delivery_ms.to_string(),
            fixed(last - index, pdp),
            fixed((last - index) / index, 8),
            "0.0005".to_string(),
        ),
        Contract::Perpetual => ("0".into(), String::new(), String::new(), String::new()),
    };
    let prelaunch = inst.status == Status::PreLaunch;
    json!({
        "symbol": inst.symbol,
        "lastPrice": fixed(last, pdp),
        "indexPrice": if prelaunch { String::new() } else { fixed(index, pdp) },
        "markPrice": fixed(mark, pdp),
        "prevPrice24h": fixed(prev24, pdp),
        "price24hPcnt": fixed(last / prev24 - 1.0, 6),
        "highPrice24h": fixed(high, pdp),
        "lowPrice24h": fixed(low, pdp),
        "prevPrice1h": fixed(u.price(inst, t.saturating_sub(HOUR)), pdp),
        "openInterest": fixed(oi, qdp),
        "openInterestValue": fixed(oi * mark, 2),
        "singleOpenInterest": fixed(oi / 2.0, qdp),
        "singleOpenInterestValue": fixed(oi * mark / 2.0, 2),
        "turnover24h": fixed(volume * mark, 4),
        "volume24h": fixed(volume, 4),
        "fundingRate": funding_rate,
        "nextFundingTime": next_funding,
        "predictedDeliveryPrice": "",
        "basisRate": basis_rate,
        "deliveryFeeRate": delivery_fee,
        "deliveryTime": delivery_time,
        "ask1Size": fixed(oi * 0.0004, qdp),
        "bid1Price": fixed(mark - tick, pdp),
        "ask1Price": fixed(mark + tick, pdp),
        "bid1Size": fixed(oi * 0.0003, qdp),
        "basis": basis,
        "preOpenPrice": if prelaunch { fixed(mark, pdp) } else { String::new() },
        "preQty": if prelaunch { fixed(oi * 0.01, qdp) } else { String::new() },
        "curPreListingPhase": if prelaunch { "ContinuousTrading" } else { "" },
        "fundingIntervalHour": interval,
        "basisRateYear": "",
        "fundingCap": cap,
    })
}

/// `GET /v5/market/tickers`.
pub(crate) async fn tickers(State(st): State<Arc<AppState>>, uri: Uri) -> Response {
    let now = st.clock.now_ms();
    respond(
        now,
        (|| {
            let p = params(&uri)?;
            let is_linear = linear(&p)?;
            let u = &st.universe;
            let listed = |i: &&Instrument| matches!(i.status, Status::Trading | Status::PreLaunch);
            let list: Vec<Value> = if p.get("symbol").is_some() {
                let inst = symbol(u, &p, is_linear)?;
                if !listed(&inst) {
                    return Err(symbol_invalid());
                }
                vec![ticker(u, inst, now)]
            } else if is_linear {
                u.bybit
                    .list
                    .iter()
                    .filter(listed)
                    .map(|i| ticker(u, i, now))
                    .collect()
            } else {
                Vec::new()
            };
            ok(
                now,
                json!({"category": p.get("category").unwrap_or("linear"), "list": list}),
            )
        })(),
    )
}

fn interval_ms(interval: &str) -> Option<u64> {
    let minutes = match interval {
        "5min" => 5,
        "15min" => 15,
        "30min" => 30,
        "1h" => 60,
        "4h" => 240,
        "1d" => 1440,
        _ => return None,
    };
    Some(minutes * 60_000)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OiRow {
    open_interest: String,
    single_open_interest: String,
    timestamp: String,
}

/// `GET /v5/market/open-interest`.
pub(crate) async fn open_interest(State(st): State<Arc<AppState>>, uri: Uri) -> Response {
    let now = st.clock.now_ms();
    respond(
        now,
        (|| {
            let p = params(&uri)?;
            let is_linear = linear(&p)?;
            let u = &st.universe;
            let inst = symbol(u, &p, is_linear)?;
            let step = interval_ms(
                p.get("intervalTime")
                    .ok_or_else(|| params_error("intervalTime is required"))?,
            )
            .ok_or_else(|| params_error("intervalTime invalid"))?;
            let limit = limit(&p, 50, 200)?;
            let end = number(&p, "endTime")?;
            // A lone startTime is ignored: the endpoint walks back from endTime (or now).
            let start = number(&p, "startTime")?.filter(|_| end.is_some());
            let mut upper = end;
            if let Some(c) = p.get("cursor") {
                let c = decode_cursor(c);
                let secs = cursor_field(&c, "lasttime")
                    .and_then(|v| v.parse::<u64>().ok())
                    .filter(|_| cursor_field(&c, "lastid").is_some())
                    .ok_or_else(|| params_error("cursor invalid"))?;
                let bound = secs.saturating_mul(1000).saturating_sub(1);
                upper = Some(upper.map_or(bound, |e| e.min(bound)));
            }
            let grid = match inst.data_end(now).checked_sub(step) {
                Some(last) => Grid::new(inst.launch_ms, last, step),
                None => Grid::empty(),
            };
            let (lo, hi) = grid.range(start, upper);
            let (first, hi) = take(lo, hi, limit, false);
            let list: Vec<OiRow> = (first..hi)
                .rev()
                .map(|k| {
                    let t = grid.time(k);
                    let oi = u.oi(inst, t + step - MIN5);
                    OiRow {
                        open_interest: fixed(oi, 8),
                        single_open_interest: fixed(oi / 2.0, 8),
                        timestamp: t.to_string(),
                    }
                })
                .collect();
            let cursor = if first > lo {
                format!(
                    "lastid%3D{}%26lasttime%3D{}",
                    (inst.key % 90_000_000) + first,
                    grid.time(first) / 1000
                )
            } else {
                String::new()
            };
            ok(
                now,
                json!({"symbol": inst.symbol, "category": "linear", "list": list, "nextPageCursor": cursor}),
            )
        })(),
    )
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FundingRow<'a> {
    symbol: &'a str,
    funding_rate: String,
    funding_rate_timestamp: String,
}

/// `GET /v5/market/funding/history`.
pub(crate) async fn funding_history(State(st): State<Arc<AppState>>, uri: Uri) -> Response {
    let now = st.clock.now_ms();
    respond(
        now,
        (|| {
            let p = params(&uri)?;
            let is_linear = linear(&p)?;
            let u = &st.universe;
            let inst = symbol(u, &p, is_linear)?;
            let limit = limit(&p, 200, 200)?;
            let start = number(&p, "startTime")?;
            let end = number(&p, "endTime")?;
            if start.is_some() && end.is_none() {
                return Err(params_error("endTime is required when startTime is given"));
            }
            let grid = u.funding_grid(Venue::Bybit, inst, now);
            let (lo, hi) = grid.range(start, end);
            let (lo, hi) = take(lo, hi, limit, false);
            let list: Vec<FundingRow> = (lo..hi)
                .rev()
                .map(|k| FundingRow {
                    symbol: &inst.symbol,
                    funding_rate: units_trimmed(u.funding_units(inst, grid.base(k)), 8),
                    funding_rate_timestamp: grid.time(k).to_string(),
                })
                .collect();
            ok(now, json!({"category": "linear", "list": list}))
        })(),
    )
}

fn status_name(inst: &Instrument) -> &'static str {
    match inst.status {
        Status::Trading => "Trading",
        Status::PreLaunch => "PreLaunch",
        Status::Delisted { .. } => "Closed",
    }
}

fn instrument(u: &Universe, inst: &Instrument) -> Value {
    let a = u.asset(inst);
    let pdp = price_decimals(a.price * inst.price_bias);
    let qdp = qty_decimals(a.price);
    let tick = fixed(10f64.powi(-(pdp as i32)), pdp);
    let step = fixed(10f64.powi(-(qdp as i32)), qdp);
    let prelaunch = inst.status == Status::PreLaunch;
    let (contract_type, delivery, fee) = match (inst.contract, inst.status) {
        (Contract::Delivery { delivery_ms }, _) => {
            ("LinearFutures", delivery_ms.to_string(), "0.0005")
        }
        (Contract::Perpetual, Status::Delisted { at_ms }) => {
            ("LinearPerpetual", at_ms.to_string(), "")
        }
        (Contract::Perpetual, _) => ("LinearPerpetual", "0".to_string(), ""),
    };
    let cap = funding_cap(inst.funding_hours);
    let pre_listing = if prelaunch {
        let l = inst.launch_ms;
        json!({
            "curAuctionPhase": "ContinuousTrading",
            "phases": [
                {"phase": "CallAuction", "startTime": (l + HOUR).to_string(), "endTime": (l + 2 * HOUR).to_string()},
                {"phase": "CallAuctionNoCancel", "startTime": (l + 2 * HOUR).to_string(), "endTime": (l + 2 * HOUR + 300_000).to_string()},
                {"phase": "CrossMatching", "startTime": (l + 2 * HOUR + 300_000).to_string(), "endTime": (l + 2 * HOUR + 600_000).to_string()},
                {"phase": "ContinuousTrading", "startTime": (l + 2 * HOUR + 600_000).to_string(), "endTime": ""}
            ],
            "auctionFeeInfo": {"auctionFeeRate": "0", "takerFeeRate": "0.001", "makerFeeRate": "0.0004"}
        })
    } else {
        Value::Null
    };
    json!({
        "symbol": inst.symbol,
        "contractType": contract_type,
        "status": status_name(inst),
        "baseCoin": a.base,
        "quoteCoin": inst.quote,
        "launchTime": inst.launch_ms.to_string(),
        "deliveryTime": delivery,
        "deliveryFeeRate": fee,
        "priceScale": pdp.to_string(),
        "leverageFilter": {"minLeverage": "1", "maxLeverage": if prelaunch { "5.00" } else { "50.00" }, "leverageStep": "0.01"},
        "priceFilter": {"minPrice": tick, "maxPrice": fixed(a.price * inst.price_bias * 20.0, pdp), "tickSize": tick},
        "lotSizeFilter": {
            "maxOrderQty": "1000000", "minOrderQty": step, "qtyStep": step,
            "postOnlyMaxOrderQty": "1000000", "maxMktOrderQty": "100000", "minNotionalValue": "5"
        },
        "unifiedMarginTrade": true,
        "fundingInterval": inst.funding_hours * 60,
        "settleCoin": inst.quote,
        "copyTrading": if inst.is_trading() && inst.is_perpetual() { "both" } else { "none" },
        "upperFundingRate": cap,
        "lowerFundingRate": format!("-{cap}"),
        "isPreListing": prelaunch,
        "preListingInfo": pre_listing,
        "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
        "symbolType": "",
    })
}

/// `GET /v5/market/instruments-info`.
pub(crate) async fn instruments_info(State(st): State<Arc<AppState>>, uri: Uri) -> Response {
    let now = st.clock.now_ms();
    respond(
        now,
        (|| {
            let p = params(&uri)?;
            let is_linear = linear(&p)?;
            let u = &st.universe;
            let limit = limit(&p, 500, 1000)? as usize;
            let category = p.get("category").unwrap_or("linear");
            if let Some(s) = p.get("symbol") {
                let list: Vec<Value> = u
                    .bybit
                    .get(s)
                    .filter(|i| is_linear && p.get("status").is_none_or(|st| st == status_name(i)))
                    .map(|i| instrument(u, i))
                    .into_iter()
                    .collect();
                return ok(
                    now,
                    json!({"category": category, "list": list, "nextPageCursor": ""}),
                );
            }
            let status = p.get("status").unwrap_or("Trading");
            let after = match p.get("cursor") {
                Some(c) => {
                    let c = decode_cursor(c);
                    Some(
                        cursor_field(&c, "last")
                            .ok_or_else(|| params_error("cursor invalid"))?
                            .to_string(),
                    )
                }
                None => None,
            };
            let mut matching: Vec<&Instrument> = if is_linear {
                u.bybit
                    .list
                    .iter()
                    .filter(|i| status_name(i) == status)
                    .filter(|i| after.as_deref().is_none_or(|a| i.symbol.as_str() > a))
                    .collect()
            } else {
                Vec::new()
            };
            matching.sort_by(|a, b| a.symbol.cmp(&b.symbol));
            matching.truncate(limit);
            let cursor = match (matching.first(), matching.last()) {
                (Some(f), Some(l)) => format!("first%3D{}%26last%3D{}", f.symbol, l.symbol),
                _ => String::new(),
            };
            let list: Vec<Value> = matching.iter().map(|i| instrument(u, i)).collect();
            ok(
                now,
                json!({"category": category, "list": list, "nextPageCursor": cursor}),
            )
        })(),
    )
}

/// `kline` and `mark-price-kline`.
fn klines_of(st: &AppState, uri: &Uri, mark: bool) -> Result<Response, ByError> {
    let now = st.clock.now_ms();
    let p = params(uri)?;
    let is_linear = linear(&p)?;
    let u = &st.universe;
    let interval = p
        .get("interval")
        .ok_or_else(|| params_error("interval is required"))?;
    let span = Span::from_bybit(interval).ok_or_else(|| params_error("interval invalid"))?;
    let limit = limit(&p, 200, 1000)? as usize;
    let start = number(&p, "start")?;
    let end = number(&p, "end")?;
    let category = p.get("category").unwrap_or("linear");
    if !is_linear {
        return ok(
            now,
            json!({"symbol": p.get("symbol").unwrap_or(""), "category": category, "list": []}),
        );
    }
    let inst = symbol(u, &p, is_linear)?;
    let rates = lock(&st.faults).kline_rates(Venue::Bybit);
    let series = Series::new(u, inst, span, now, None, rates);
    let lo = start.map_or(0, |s| span.floor(s));
    let from_start = start.is_some() && end.is_none();
    let opens = series.opens(lo, end.unwrap_or(u64::MAX), limit, from_start);
    let a = u.asset(inst);
    let pdp = price_decimals(a.price * inst.price_bias);
    let qdp = qty_decimals(a.price);
    let list: Vec<Value> = opens
        .into_iter()
        .rev()
        .map(|open| {
            if mark {
                let c = series.mark(open);
                json!([
                    open.to_string(),
                    fixed(c.open, pdp),
                    fixed(c.high, pdp),
                    fixed(c.low, pdp),
                    fixed(c.close, pdp)
                ])
            } else {
                let c = series.trade(open);
                json!([
                    open.to_string(),
                    fixed(c.open, pdp),
                    fixed(c.high, pdp),
                    fixed(c.low, pdp),
                    fixed(c.close, pdp),
                    fixed(c.volume, qdp),
                    fixed(c.volume * (c.open + c.close) / 2.0, 4)
                ])
            }
        })
        .collect();
    ok(
        now,
        json!({"symbol": inst.symbol, "category": category, "list": list}),
    )
}

/// `GET /v5/market/kline`.
pub(crate) async fn kline(State(st): State<Arc<AppState>>, uri: Uri) -> Response {
    let now = st.clock.now_ms();
    respond(now, klines_of(&st, &uri, false))
}

/// `GET /v5/market/mark-price-kline`.
pub(crate) async fn mark_price_kline(State(st): State<Arc<AppState>>, uri: Uri) -> Response {
    let now = st.clock.now_ms();
    respond(now, klines_of(&st, &uri, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_decode_once_or_twice() {
        let raw = "lastid%3D10860016%26lasttime%3D1739725200";
        for c in [raw.to_string(), raw.replace('%', "%25"), decode_cursor(raw)] {
            let d = decode_cursor(&c);
            assert_eq!(cursor_field(&d, "lasttime"), Some("1739725200"), "{c}");
            assert_eq!(cursor_field(&d, "lastid"), Some("10860016"));
        }
        assert_eq!(
            decode_cursor("first%3DBIOUSDT%26last%3DBIOUSDT"),
            "first=BIOUSDT&last=BIOUSDT"
        );
        assert_eq!(decode_cursor("bad%zz"), "bad%zz");
    }
}
