//! Binance USD-M futures (`https://fapi.binance.com`): the public market-data endpoints the
//! collector uses, with the real parameters, limits, ordering and error bodies.
//!
//! | endpoint | notes |
//! |---|---|
//! | `GET /fapi/v1/openInterest?symbol` | `{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}` |
//! | `GET /futures/data/openInterestHist?symbol&period&limit&startTime&endTime` | ascending; `limit` 30 by default, at most 500; only the last 30 days exist; no bounds → the latest `limit`; `startTime` → the first `limit` from it; only `endTime` → the latest `limit` up to it |
//! | `GET /fapi/v1/premiumIndex[?symbol]` | one object, or an array of every trading symbol (dated contracts with empty funding fields) |
//! | `GET /fapi/v1/fundingRate?symbol&startTime&endTime&limit` | ascending; `limit` 100 by default, at most 1000; inclusive bounds; no bounds → the latest; `startTime` → the first `limit` from it |
//! | `GET /fapi/v1/fundingInfo` | only symbols whose interval or cap was adjusted |
//! | `GET /fapi/v1/exchangeInfo` | perpetuals (`TRADING`, one `SETTLING`), one `CURRENT_QUARTER` |
//! | `GET /fapi/v1/klines?symbol&interval&startTime&endTime&limit` | 12-element rows, ascending, the forming candle last; `limit` 500 by default, at most 1500 (weight 1/2/5/10 by `limit`); `startTime ≤ open ≤ endTime`; `startTime` → the first `limit` from it, else the last `limit` up to `endTime` or now; intervals `1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M`, else -1120 |
//! | `GET /fapi/v1/markPriceKlines` | the same for the mark price: 8-decimal prices, zeros for the volumes |
//!
//! Errors are HTTP 400 with `{"code":…,"msg":…}`: -1121 unknown symbol, -1102 missing
//! parameter, -1100 non-numeric value, -1130 value out of range (e.g. `limit=501`, a bad
//! `period`).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::data::{Contract, DAY, Grid, Instrument, MIN5, Status, Universe, next_multiple, take};
use crate::format::{fixed, price_decimals, qty_decimals, units_fixed};
use crate::klines::{Series, Span};
use crate::server::{AppState, Params, lock};

/// Far-future `deliveryDate` Binance gives perpetuals.
const PERPETUAL_DELIVERY: u64 = 4_133_404_800_000;

/// A Binance error: HTTP 400 with `{"code":…,"msg":…}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BnError {
    code: i32,
    msg: String,
}

impl IntoResponse for BnError {
    fn into_response(self) -> Response {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"code": self.code, "msg": self.msg})),
        )
            .into_response()
    }
}

fn mandatory(name: &str) -> BnError {
    BnError {
        code: -1102,
        msg: format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
    }
}

fn invalid(name: &str) -> BnError {
    BnError {
        code: -1130,
        msg: format!("Data sent for parameter '{name}' is not valid."),
    }
}

fn illegal(name: &str) -> BnError {
    BnError {
        code: -1100,
        msg: format!(
            "Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."
        ),
    }
}

fn invalid_symbol() -> BnError {
    BnError {
        code: -1121,
        msg: "Invalid symbol.".into(),
    }
}

fn respond(result: Result<Response, BnError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

fn params(uri: &Uri) -> Result<Params, BnError> {
    Params::from_uri(uri).map_err(|_| BnError {
        code: -1100,
        msg: "Illegal characters found in a parameter.".into(),
    })
}

/// An optional unsigned integer parameter.
fn number(p: &Params, name: &str) -> Result<Option<u64>, BnError> {
    match p.get(name) {
        None => Ok(None),
        Some(v) if v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()) => {
            v.parse().map(Some).map_err(|_| illegal(name))
        }
        Some(_) => Err(illegal(name)),
    }
}

fn limit(p: &Params, default: u64, max: u64) -> Result<u64, BnError> {
    match number(p, "limit")? {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(invalid("limit")),
    }
}

fn symbol<'a>(u: &'a Universe, p: &Params) -> Result<&'a Instrument, BnError> {
    let s = p.get("symbol").ok_or_else(|| mandatory("symbol"))?;
    u.binance.get(s).ok_or_else(invalid_symbol)
}

/// `GET /fapi/v1/openInterest`.
pub(crate) async fn open_interest(State(st): State<Arc<AppState>>, uri: Uri) -> Response {
    respond((|| {
        let p = params(&uri)?;
        let u = &st.universe;
        let inst = symbol(u, &p)?;
        let now = st.clock.now_ms();
        let t = inst.data_end(now);
        let price = u.asset(inst).price;
        Ok(Json(json!({
            "openInterest": fixed(u.oi(inst, t), qty_decimals(price)),
            "symbol": inst.symbol,
            "time": t,
        }))
        .into_response())
    })())
}

/// One row of `openInterestHist`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OiHistRow<'a> {
    symbol: &'a str,
    sum_open_interest: String,
    sum_open_interest_value: String,
    #[serde(rename = "CMCCirculatingSupply")]
    cmc_circulating_supply: String,
    timestamp: u64,
}

fn period_ms(period: &str) -> Option<u64> {
    let minutes = match period {
        "5m" => 5,
        "15m" => 15,
        "30m" => 30,
        "1h" => 60,
        "2h" => 120,
        "4h" => 240,
        "6h" => 360,
        "12h" => 720,
        "1d" => 1440,
        _ => return None,
    };
    Some(minutes * 60_000)
}

/// `GET /futures/data/openInterestHist`.
pub(crate) async fn open_interest_hist(State(st): State<Arc<AppState>>, uri: Uri) -> Response {
    respond((|| {
        let p = params(&uri)?;
        let u = &st.universe;
        let inst = symbol(u, &p)?;
        let step = period_ms(p.get("period").ok_or_else(|| mandatory("period"))?)
            .ok_or_else(|| invalid("period"))?;
        let limit = limit(&p, 30, 500)?;
        let start = number(&p, "startTime")?;
        let end = number(&p, "endTime")?;
        let now = st.clock.now_ms();
        // Only the last 30 days; a bucket is reported once complete.
        let from = now.saturating_sub(30 * DAY).max(inst.launch_ms);
        let grid = match inst.data_end(now).checked_sub(step) {
            Some(last) => Grid::new(from, last, step),
            None => Grid::empty(),
        };
        let (lo, hi) = grid.range(start, end);
        let (lo, hi) = take(lo, hi, limit, start.is_some());
        let a = u.asset(inst);
        let supply = fixed(a.oi_usd * 40.0 / a.price, 2);
        let rows: Vec<OiHistRow> = (lo..hi)
            .map(|k| {
                let t = grid.time(k);
                let sample = t + step - MIN5;
                let oi = u.oi(inst, sample);
                OiHistRow {
                    symbol: &inst.symbol,
                    sum_open_interest: fixed(oi, 8),
                    sum_open_interest_value: fixed(oi * u.price(inst, sample), 8),
                    cmc_circulating_supply: supply.clone(),
                    timestamp: t,
                }
            })
            .collect();
        Ok(Json(rows).into_response())
    })())
}

/// One object of `premiumIndex`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PremiumIndex<'a> {
    symbol: &'a str,
    mark_price: String,
    index_price: String,
    estimated_settle_price: String,
    last_funding_rate: String,
    interest_rate: String,
    next_funding_time: u64,
    time: u64,
}

fn premium_index_of<'a>(u: &Universe, inst: &'a Instrument, now: u64) -> PremiumIndex<'a> {
    let t = inst.data_end(now);
    let mark = u.price(inst, t);
    let index = u.index_price(inst, t);
    let (rate, interest, next) = match inst.funding_step() {
        Some(step) if inst.is_trading() => (
            units_fixed(u.predicted_units(inst, t), 8),
            "0.00010000".to_string(),
            next_multiple(t, step),
        ),
        Some(step) => (
            units_fixed(u.funding_units(inst, t / step * step), 8),
            "0.00010000".to_string(),
            0,
        ),
        None => (String::new(), String::new(), 0),
    };
    PremiumIndex {
        symbol: &inst.symbol,
        mark_price: fixed(mark, 8),
        index_price: fixed(index, 8),
        estimated_settle_price: fixed((mark + index) / 2.0, 8),
        last_funding_rate: rate,
        interest_rate: interest,
        next_funding_time: next,
        time: t,
    }
}

/// `GET /fapi/v1/premiumIndex`.
pub(crate) async fn premium_index(State(st): State<Arc<AppState>>, uri: Uri) -> Response {
    respond((|| {
        let p = params(&uri)?;
        let u = &st.universe;
        let now = st.clock.now_ms();
        if p.get("symbol").is_some() {
            let inst = symbol(u, &p)?;
            return Ok(Json(premium_index_of(u, inst, now)).into_response());
        }
        let all: Vec<PremiumIndex> = u
            .binance
            .list
            .iter()
            .filter(|i| i.is_trading())
            .map(|i| premium_index_of(u, i, now))
            .collect();
        Ok(Json(all).into_response())
    })())
}

/// One row of `fundingRate`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FundingRow<'a> {
    symbol: &'a str,
    funding_rate: String,
    funding_time: u64,
    mark_price: String,
}

/// `GET /fapi/v1/fundingRate`.
pub(crate) async fn funding_rate(State(st): State<Arc<AppState>>, uri: Uri) -> Response {
    respond((|| {
        let p = params(&uri)?;
        let u = &st.universe;
        let limit = limit(&p, 100, 1000)?;
        let start = number(&p, "startTime")?;
        let end = number(&p, "endTime")?;
        let now = st.clock.now_ms();
        let forward = start.is_some();
        let instruments: Vec<&Instrument> = if p.get("symbol").is_some() {
            vec![symbol(u, &p)?]
        } else {
            u.binance.list.iter().collect()
        };
        // (time, instrument, grid, index) of every candidate row, then the page of them.
        let mut picks = Vec::new();
        for (i, inst) in instruments.iter().enumerate() {
            let grid = u.funding_grid(crate::Venue::Binance, inst, now);
            let (lo, hi) = grid.range(start, end);
            let (lo, hi) = take(lo, hi, limit, forward);
            picks.extend((lo..hi).map(|k| (grid.time(k), i, grid, k)));
        }
        if instruments.len() > 1 {
            picks.sort_by_key(|a| (a.0, a.1));
            let n = picks.len() as u64;
            let (lo, hi) = take(0, n, limit, forward);
            picks = picks
                .into_iter()
                .skip(lo as usize)
                .take((hi - lo) as usize)
                .collect();
        }
        let rows: Vec<FundingRow> = picks
            .into_iter()
            .map(|(time, i, grid, k)| {
                let inst = instruments[i];
                let at = grid.base(k);
                FundingRow {
                    symbol: &inst.symbol,
                    funding_rate: units_fixed(u.funding_units(inst, at), 8),
                    funding_time: time,
                    mark_price: fixed(u.price(inst, at), 8),
                }
            })
            .collect();
        Ok(Json(rows).into_response())
    })())
}

/// `GET /fapi/v1/fundingInfo`.
pub(crate) async fn funding_info(State(st): State<Arc<AppState>>) -> Response {
    let rows: Vec<Value> = st
        .universe
        .binance
        .list
        .iter()
        .filter(|i| i.is_trading() && i.is_perpetual())
        .filter(|i| i.funding_hours != 8 || i.adjusted_cap)
        .map(|i| {
            let cap = match i.funding_hours {
                1 => "0.02000000",
                4 => "0.03000000",
                _ => "0.02500000",
            };
            json!({
                "symbol": i.symbol,
                "adjustedFundingRateCap": cap,
                "adjustedFundingRateFloor": format!("-{cap}"),
                "fundingIntervalHours": i.funding_hours,
                "disclaimer": false,
            })
        })
        .collect();
    Json(rows).into_response()
}

fn exchange_symbol(u: &Universe, inst: &Instrument) -> Value {
    let a = u.asset(inst);
    let price = a.price * inst.price_bias;
    let pdp = price_decimals(price);
    let qdp = qty_decimals(a.price);
    let tick = fixed(10f64.powi(-(pdp as i32)), pdp);
    let step = fixed(10f64.powi(-(qdp as i32)), qdp);
    let (contract_type, delivery, pair) = match inst.contract {
        Contract::Perpetual => (
            "PERPETUAL",
            match inst.status {
                Status::Delisted { at_ms } => at_ms,
                _ => PERPETUAL_DELIVERY,
            },
            inst.symbol.clone(),
        ),
        Contract::Delivery { delivery_ms } => (
            "CURRENT_QUARTER",
            delivery_ms,
            format!("{}{}", a.base, inst.quote),
        ),
    };
    json!({
        "symbol": inst.symbol,
        "pair": pair,
        "contractType": contract_type,
        "deliveryDate": delivery,
        "onboardDate": inst.launch_ms,
        "status": match inst.status {
            Status::Trading => "TRADING",
            Status::PreLaunch => "PENDING_TRADING",
            Status::Delisted { .. } => "SETTLING",
        },
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": a.base,
        "quoteAsset": inst.quote,
        "marginAsset": inst.quote,
        "pricePrecision": pdp,
        "quantityPrecision": qdp,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {"minPrice": tick, "maxPrice": fixed(price * 20.0, pdp), "filterType": "PRICE_FILTER", "tickSize": tick},
            {"stepSize": step, "filterType": "LOT_SIZE", "maxQty": "1000000", "minQty": step},
            {"stepSize": step, "filterType": "MARKET_LOT_SIZE", "maxQty": "100000", "minQty": step},
            {"limit": 200, "filterType": "MAX_NUM_ORDERS"},
            {"limit": 10, "filterType": "MAX_NUM_ALGO_ORDERS"},
            {"notional": "5", "filterType": "MIN_NOTIONAL"},
            {"multiplierDown": "0.9500", "multiplierUp": "1.0500", "multiplierDecimal": "4", "filterType": "PERCENT_PRICE"}
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    })
}

/// `GET /fapi/v1/exchangeInfo`.
pub(crate) async fn exchange_info(State(st): State<Arc<AppState>>) -> Response {
    let u = &st.universe;
    let symbols: Vec<Value> = u
        .binance
        .list
        .iter()
        .map(|i| exchange_symbol(u, i))
        .collect();
    Json(json!({
        "timezone": "UTC",
        "serverTime": st.clock.now_ms(),
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": st.binance_weight_limit},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300}
        ],
        "exchangeFilters": [],
        "assets": [
            {"asset": "USDT", "marginAvailable": true, "autoAssetExchange": "-10000"},
            {"asset": "USDC", "marginAvailable": true, "autoAssetExchange": "-10000"},
            {"asset": "BTC", "marginAvailable": true, "autoAssetExchange": "-0.10000000"}
        ],
        "symbols": symbols,
    }))
    .into_response()
}

/// `GET /fapi/v1/klines` and `GET /fapi/v1/markPriceKlines`: 12-element rows, ascending by
/// open time, the still-forming candle last. Rows with `startTime ≤ open ≤ endTime`; `limit`
/// 500 by default, at most 1500; `startTime` → the first `limit` from it, otherwise the last
/// `limit` up to `endTime` (or now).
fn klines_of(st: &AppState, uri: &Uri, mark: bool) -> Result<Response, BnError> {
    let p = params(uri)?;
    let u = &st.universe;
    let inst = symbol(u, &p)?;
    let interval = p.get("interval").ok_or_else(|| mandatory("interval"))?;
    let span = Span::from_binance(interval, false).ok_or_else(|| BnError {
        code: -1120,
        msg: "Invalid interval.".into(),
    })?;
    let limit = limit(&p, 500, 1500)? as usize;
    let start = number(&p, "startTime")?;
    let end = number(&p, "endTime")?;
    let now = st.clock.now_ms();
    let rates = lock(&st.faults).kline_rates(crate::Venue::Binance);
    let series = Series::new(u, inst, span, now, None, rates);
    let opens = series.opens(
        start.unwrap_or(0),
        end.unwrap_or(u64::MAX),
        limit,
        start.is_some(),
    );
    let a = u.asset(inst);
    let pdp = price_decimals(a.price * inst.price_bias);
    let qdp = qty_decimals(a.price);
    let rows: Vec<Value> = opens
        .into_iter()
        .map(|open| {
            if mark {
                let c = series.mark(open);
                // Mark rows carry 8 decimals (on the tick here) and zeros where trade rows
                // have volumes; the count is the number of 1-second samples.
                let samples = (c.close_ms.min(now.max(open)) - open) / 1000;
                json!([
                    open,
                    fixed(round_to(c.open, pdp), 8),
                    fixed(round_to(c.high, pdp), 8),
                    fixed(round_to(c.low, pdp), 8),
                    fixed(round_to(c.close, pdp), 8),
                    "0",
                    c.close_ms - 1,
                    "0",
                    samples,
                    "0",
                    "0",
                    "0"
                ])
            } else {
                let c = series.trade(open);
                let quote = c.volume * (c.open + c.close) / 2.0;
                json!([
                    open,
                    fixed(c.open, pdp),
                    fixed(c.high, pdp),
                    fixed(c.low, pdp),
                    fixed(c.close, pdp),
                    fixed(c.volume, qdp),
                    c.close_ms - 1,
                    fixed(quote, 5),
                    c.trades,
                    fixed(c.volume * 0.48, qdp),
                    fixed(quote * 0.48, 5),
                    "0"
                ])
            }
        })
        .collect();
    Ok(Json(rows).into_response())
}

fn round_to(x: f64, dp: usize) -> f64 {
    fixed(x, dp).parse().unwrap_or(x)
}

/// `GET /fapi/v1/klines`.
pub(crate) async fn klines(State(st): State<Arc<AppState>>, uri: Uri) -> Response {
    respond(klines_of(&st, &uri, false))
}

/// `GET /fapi/v1/markPriceKlines`.
pub(crate) async fn mark_price_klines(State(st): State<Arc<AppState>>, uri: Uri) -> Response {
    respond(klines_of(&st, &uri, true))
}

/// Request weight of a kline request with `limit` (default 500): `[1,100)` → 1, `[100,500)` →
/// 2, `[500,1000]` → 5, more → 10.
pub(crate) fn kline_weight(limit: Option<u64>) -> u32 {
    match limit.unwrap_or(500) {
        0..100 => 1,
        100..500 => 2,
        500..=1000 => 5,
        _ => 10,
    }
}
