//! OKX v5 (`https://www.okx.com`), `instType=SWAP`: the public market-data endpoints the
//! collector uses. Every answer is `{"code":"0","msg":"","data":[…]}` with every number a
//! string (trailing zeros trimmed, as OKX writes them); errors put the code and message there
//! with `data: []`: 50014 (a required parameter is missing, HTTP 400), 51000 (`Parameter
//! {name} error`, HTTP 400), 51001 (unknown instrument, HTTP **200**). An unknown `/api/v5`
//! path is HTTP 404 with the captured `{"code":404,"msg":"Not Found",…}` body.
//!
//! | endpoint | notes |
//! |---|---|
//! | `GET /api/v5/public/instruments?instType=SWAP[&instFamily][&instId]` | every listed swap: USDT-margined crypto swaps, the inverse `BTC-USD-SWAP`, the stock perpetual `TSLA-USDT-SWAP` (`instCategory` 3) and the pre-open `BIO-USDT-SWAP` (only `instType`, `instId`, `listTime`, `state` set, as the venue does); `PURR-USDT-SWAP`, live with its announced delisting in `expTime` (10 days after the start day; gone once the clock passes it); delisted swaps (`LOOM-USDT-SWAP`) are gone. Other instTypes: empty |
//! | `GET /api/v5/public/open-interest?instType=SWAP[&instId]` | bulk (every live swap) or one; `oi` contracts (on `lotSz`), `oiCcy` = `oi` × `ctVal` coins (inverse: `oi` × 100 / price), `oiUsd`, `ts` = now |
//! | `GET /api/v5/rubik/stat/contracts/open-interest-history?instId&period&begin&end&limit` | rows `[ts, oi, oiCcy, oiUsd]` newest first; only completed periods, only the latest 1,440 per period; `begin`/`end` exclusive; `limit` ≤ 100 (default 100); periods `5m 15m 30m 1H 2H 4H`, UTC+8-aligned `6H 12H 1D 2D 3D 5D`, UTC-aligned `6Hutc 12Hutc 1Dutc 2Dutc 3Dutc 5Dutc` (weeks and months: 51000 in the simulator) |
//! | `GET /api/v5/public/funding-rate?instId=ANY\|<instId>` | `ANY`: every live swap; `fundingRate` predicted for `fundingTime` (the next settlement), `nextFundingTime` = `fundingTime` + the interval (8 h, some 4 h / 1 h), `settFundingRate` the last settled rate |
//! | `GET /api/v5/public/funding-rate-history?instId&before&after&limit` | settled rows newest first; `after` = older than, `before` = newer than (exclusive, on `fundingTime`); `limit` ≤ 400 (default 400); only the last 3 months (92 days) |
//! | `GET /api/v5/market/candles?instId&bar&after&before&limit` | rows `[ts,o,h,l,c,vol,volCcy,volCcyQuote,confirm]` newest first, the forming candle first with `confirm` `"0"`; `limit` ≤ 300 (default 100); only the latest 1,440 candles |
//! | `GET /api/v5/market/history-candles` | the same from the listing on |
//! | `GET /api/v5/market/mark-price-candles` (+ `history-mark-price-candles`) | rows `[ts,o,h,l,c,confirm]`, `limit` ≤ 100 (default 100); latest 1,440 / from the listing |
//!
//! Candle bars: `1m 3m 5m 15m 30m 1H 2H 4H 6Hutc 12Hutc 1Dutc 2Dutc 3Dutc 1Wutc 1Mutc`
//! (default `1m`). The UTC+8-aligned bars (`6H 12H 1D 2D 3D 1W 1M 3M`) and `3Mutc` are
//! answered with 51000 (the simulator's candle grids are UTC-aligned). `after=T`: candles
//! opening before `T`; `before=T`: after `T`; the newest `limit` of the range.
//!
//! Contracts: `ctVal` is a power of ten worth about 1000 USD of the base coin (BTC 0.01, ETH
//! 0.1; inverse: 100 USD), `ctMult` 1, `lotSz` = `minSz` 0.01 for BTC and ETH, 0.1 for the other
//! majors, 1 otherwise; `tickSz` about 6 significant digits. Rate limits: see `limits`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Venue;
use crate::data::{
    DAY, Grid, HOUR, Instrument, MIN5, MINUTE, Status, Universe, next_multiple, okx_ct_exp,
    okx_is_stock, okx_lot_decimals,
};
use crate::format::{fixed, price_decimals, units_trimmed};
use crate::klines::{Series, Span};
use crate::server::{AppState, Params, lock};

/// An OKX error answer: (HTTP status, code, message).
#[derive(Debug, Clone, PartialEq)]
struct OkxError(StatusCode, &'static str, String);

fn empty(name: &str) -> OkxError {
    OkxError(
        StatusCode::BAD_REQUEST,
        "50014",
        format!("Parameter {name} can not be empty."),
    )
}

fn bad(name: &str) -> OkxError {
    OkxError(
        StatusCode::BAD_REQUEST,
        "51000",
        format!("Parameter {name} error"),
    )
}

fn unknown_instrument() -> OkxError {
    OkxError(
        StatusCode::OK,
        "51001",
        "Instrument ID, Instrument ID code or Spread ID doesn't exist.".into(),
    )
}

fn respond(result: Result<Vec<Value>, OkxError>) -> Response {
    match result {
        Ok(data) => Json(json!({"code": "0", "msg": "", "data": data})).into_response(),
        Err(OkxError(status, code, msg)) => {
            (status, Json(json!({"code": code, "msg": msg, "data": []}))).into_response()
        }
    }
}

fn params(uri: &Uri) -> Result<Params, OkxError> {
    Params::from_uri(uri).map_err(|_| bad("query"))
}

fn number(p: &Params, name: &str) -> Result<Option<u64>, OkxError> {
    p.get(name)
        .map(|v| v.parse::<u64>().map_err(|_| bad(name)))
        .transpose()
}

fn limit(p: &Params, default: u64, max: u64) -> Result<u64, OkxError> {
    match number(p, "limit")? {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(bad("limit")),
    }
}

/// The bucket key of an OKX request for the rate limiter: the parameter the endpoint is keyed
/// on (`instId`, `instType`), `""` if it is keyed on the IP only or the parameter is absent.
pub(crate) fn limit_key(endpoint: &str, uri: &Uri) -> String {
    let (_, param) = crate::limits::okx_limit(endpoint);
    match (param, Params::from_uri(uri)) {
        (Some(name), Ok(p)) => p.get(name).unwrap_or_default().to_string(),
        _ => String::new(),
    }
}

/// Trims trailing zeros of a decimal text (`"0.0100"` → `"0.01"`, `"5.0"` → `"5"`).
fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// What OKX-specific numbers of an instrument are.
#[derive(Debug, Clone, Copy)]
struct Contract {
    /// `ctVal` = 10^exp.
    ct_exp: i32,
    /// `lotSz` = 10^-lot_dp.
    lot_dp: u8,
    /// `tickSz` = 10^-pdp.
    pdp: usize,
    inverse: bool,
}

impl Contract {
    fn of(u: &Universe, inst: &Instrument) -> Contract {
        let a = u.asset(inst);
        Contract {
            ct_exp: okx_ct_exp(inst, a.price),
            lot_dp: okx_lot_decimals(inst),
            pdp: price_decimals(a.price * inst.price_bias),
            inverse: inst.quote == "USD",
        }
    }

    fn ct_val(&self) -> f64 {
        10f64.powi(self.ct_exp)
    }

    fn ct_val_text(&self) -> String {
        pow10_text(self.ct_exp)
    }

    fn price(&self, x: f64) -> String {
        trim(fixed(x, self.pdp))
    }

    /// Contracts on the lot size (rounded, at least 0).
    fn contracts(&self, x: f64) -> f64 {
        let scale = 10f64.powi(i32::from(self.lot_dp));
        (x * scale).round().max(0.0) / scale
    }

    fn contracts_text(&self, contracts: f64) -> String {
        trim(fixed(contracts, usize::from(self.lot_dp)))
    }

    /// Coins of `contracts` at `price` (inverse: USD face value / price).
    fn coins(&self, contracts: f64, price: f64) -> f64 {
        if self.inverse {
            contracts * self.ct_val() / price
        } else {
            contracts * self.ct_val()
        }
    }

    fn coins_text(&self, coins: f64) -> String {
        let dp = if self.inverse {
            12
        } else {
            usize::from(self.lot_dp) + usize::try_from((-self.ct_exp).max(0)).unwrap_or(0)
        };
        trim(fixed(coins, dp))
    }

    /// Contracts of `base` coins (inverse: of `base × price` USD).
    fn contracts_of_base(&self, base: f64, price: f64) -> f64 {
        if self.inverse {
            self.contracts(base * price / self.ct_val())
        } else {
            self.contracts(base / self.ct_val())
        }
    }
}

/// `10^exp` as OKX writes it: `"0.01"`, `"1"`, `"100"`.
fn pow10_text(exp: i32) -> String {
    if exp < 0 {
        trim(fixed(10f64.powi(exp), usize::try_from(-exp).unwrap_or(0)))
    } else {
        format!("1{}", "0".repeat(usize::try_from(exp).unwrap_or(0)))
    }
}

/// Listed on OKX at `now`: live swaps, pre-open ones, and swaps whose announced delisting is
/// still ahead (delisted swaps drop out of the list).
fn listed(inst: &Instrument, now: u64) -> bool {
    match inst.status {
        Status::Delisted { at_ms } => at_ms > now,
        _ => true,
    }
}

/// Live at `now` (has OI, funding, candles).
fn live(inst: &Instrument, now: u64) -> bool {
    match inst.status {
        Status::Trading => true,
        Status::Delisted { at_ms } => at_ms > now,
        Status::PreLaunch => false,
    }
}

fn family(inst: &Instrument) -> &str {
    inst.symbol.strip_suffix("-SWAP").unwrap_or(&inst.symbol)
}

/// The live swap named by `instId` (51001 otherwise).
fn live_inst<'a>(u: &'a Universe, p: &Params, now: u64) -> Result<&'a Instrument, OkxError> {
    let id = p.get("instId").ok_or_else(|| empty("instId"))?;
    u.okx
        .get(id)
        .filter(|i| live(i, now))
        .ok_or_else(unknown_instrument)
}

fn inst_type(p: &Params, allowed: &[&str]) -> Result<bool, OkxError> {
    let t = p.get("instType").ok_or_else(|| empty("instType"))?;
    if t == "SWAP" {
        Ok(true)
    } else if allowed.contains(&t) {
        Ok(false)
    } else {
        Err(bad("instType"))
    }
}

fn instrument(u: &Universe, inst: &Instrument) -> Value {
    let id = inst.symbol.as_str();
    let list_time = inst.launch_ms.to_string();
    if inst.status == Status::PreLaunch {
        return json!({
            "instType": "SWAP", "instId": id, "uly": "", "instFamily": "", "baseCcy": "",
            "quoteCcy": "", "settleCcy": "", "ctVal": "", "ctMult": "", "ctValCcy": "",
            "optType": "", "stk": "", "listTime": list_time, "expTime": "", "lever": "",
            "tickSz": "", "lotSz": "", "minSz": "", "ctType": "", "alias": "", "state": "preopen",
            "ruleType": "normal", "maxLmtSz": "", "maxMktSz": "", "maxLmtAmt": "", "maxMktAmt": "",
            "maxTwapSz": "", "maxIcebergSz": "", "maxTriggerSz": "", "maxStopSz": "",
            "instCategory": "1", "instIdCode": null, "futureSettlement": false, "upcChg": [],
            "groupId": "", "tradeQuoteCcyList": []
        });
    }
    let c = Contract::of(u, inst);
    let a = u.asset(inst);
    let lot = pow10_text(-i32::from(c.lot_dp));
    let (settle, ct_val_ccy, ct_type) = if c.inverse {
        (a.base.as_str(), "USD", "inverse")
    } else {
        ("USDT", a.base.as_str(), "linear")
    };
    let stock = okx_is_stock(inst);
    json!({
        "instType": "SWAP",
        "instId": id,
        "uly": family(inst),
        "instFamily": family(inst),
        "baseCcy": "",
        "quoteCcy": "",
        "settleCcy": settle,
        "ctVal": c.ct_val_text(),
        "ctMult": "1",
        "ctValCcy": ct_val_ccy,
        "optType": "",
        "stk": "",
        "listTime": list_time,
        "expTime": match inst.status {
            Status::Delisted { at_ms } => at_ms.to_string(),
            _ => String::new(),
        },
        "lever": if stock { "10" } else { "100" },
        "tickSz": pow10_text(-i32::try_from(c.pdp).unwrap_or(0)),
        "lotSz": lot,
        "minSz": lot,
        "ctType": ct_type,
        "alias": "",
        "state": "live",
        "ruleType": "normal",
        "maxLmtSz": "100000000",
        "maxMktSz": "30000",
        "maxLmtAmt": "20000000",
        "maxMktAmt": "",
        "maxTwapSz": "100000000.0000000000000000",
        "maxIcebergSz": "100000000.0000000000000000",
        "maxTriggerSz": "100000000.0000000000000000",
        "maxStopSz": "30000",
        "instCategory": if stock { "3" } else { "1" },
        "instIdCode": (inst.key % 1_000_000) + 10_000,
        "futureSettlement": false,
        "upcChg": [],
        "groupId": if stock { "6" } else { "1" },
        "tradeQuoteCcyList": []
    })
}

/// `GET /api/v5/public/instruments`.
pub(crate) async fn instruments(State(st): State<Arc<AppState>>, uri: Uri) -> Response {
    let now = st.clock.now_ms();
    respond((|| {
        let p = params(&uri)?;
        let swap = inst_type(&p, &["SPOT", "MARGIN", "FUTURES", "OPTION", "EVENTS"])?;
        let u = &st.universe;
        if !swap {
            return Ok(Vec::new());
        }
        if let Some(id) = p.get("instId") {
            let inst = u
                .okx
                .get(id)
                .filter(|i| listed(i, now))
                .ok_or_else(unknown_instrument)?;
            return Ok(vec![instrument(u, inst)]);
        }
        let fam = p.get("instFamily");
        Ok(u.okx
            .list
            .iter()
            .filter(|i| listed(i, now))
            .filter(|i| fam.is_none_or(|f| f == family(i)))
            .map(|i| instrument(u, i))
            .collect())
    })())
}

/// Open interest of `inst` at `t`: (contracts, coins, USD).
fn oi_at(u: &Universe, inst: &Instrument, t: u64) -> (f64, f64, f64) {
    let c = Contract::of(u, inst);
    let price = u.price(inst, t);
    let contracts = c.contracts_of_base(u.oi(inst, t), price);
    let coins = c.coins(contracts, price);
    (contracts, coins, coins * price)
}

fn oi_row(u: &Universe, inst: &Instrument, now: u64) -> Value {
    let c = Contract::of(u, inst);
    let (contracts, coins, usd) = oi_at(u, inst, now);
    json!({
        "instType": "SWAP",
        "instId": inst.symbol,
        "oi": c.contracts_text(contracts),
        "oiCcy": c.coins_text(coins),
        "oiUsd": trim(fixed(usd, 8)),
        "ts": now.to_string(),
    })
}

/// `GET /api/v5/public/open-interest`.
pub(crate) async fn open_interest(State(st): State<Arc<AppState>>, uri: Uri) -> Response {
    let now = st.clock.now_ms();
    respond((|| {
        let p = params(&uri)?;
        let swap = inst_type(&p, &["FUTURES", "OPTION", "EVENTS"])?;
        let u = &st.universe;
        if !swap {
            return Ok(Vec::new());
        }
        if p.get("instId").is_some() {
            let inst = live_inst(u, &p, now)?;
            return Ok(vec![oi_row(u, inst, now)]);
        }
        let fam = p.get("instFamily");
        Ok(u.okx
            .list
            .iter()
            .filter(|i| live(i, now))
            .filter(|i| fam.is_none_or(|f| f == family(i)))
            .map(|i| oi_row(u, i, now))
            .collect())
    })())
}

/// Length and alignment offset (ms to add before flooring) of a rubik period.
fn rubik_period(period: &str) -> Option<(u64, u64)> {
    let utc8 = 8 * HOUR;
    Some(match period {
        "5m" => (MIN5, 0),
        "15m" => (15 * MINUTE, 0),
        "30m" => (30 * MINUTE, 0),
        "1H" => (HOUR, 0),
        "2H" => (2 * HOUR, 0),
        "4H" => (4 * HOUR, 0),
        "6H" => (6 * HOUR, utc8),
        "12H" => (12 * HOUR, utc8),
        "1D" => (DAY, utc8),
        "2D" => (2 * DAY, utc8),
        "3D" => (3 * DAY, utc8),
        "5D" => (5 * DAY, utc8),
        "6Hutc" => (6 * HOUR, 0),
        "12Hutc" => (12 * HOUR, 0),
        "1Dutc" => (DAY, 0),
        "2Dutc" => (2 * DAY, 0),
        "3Dutc" => (3 * DAY, 0),
        "5Dutc" => (5 * DAY, 0),
        _ => return None,
    })
}

/// Rows the rubik endpoint keeps per period.
pub(crate) const RUBIK_ROWS: u64 = 1440;

/// `GET /api/v5/rubik/stat/contracts/open-interest-history`.
pub(crate) async fn open_interest_history(State(st): State<Arc<AppState>>, uri: Uri) -> Response {
    let now = st.clock.now_ms();
    respond((|| {
        let p = params(&uri)?;
        let u = &st.universe;
        let inst = live_inst(u, &p, now)?;
        let (step, offset) =
            rubik_period(p.get("period").unwrap_or("5m")).ok_or_else(|| bad("period"))?;
        let limit = limit(&p, 100, 100)?;
        let begin = number(&p, "begin")?;
        let end = number(&p, "end")?;
        let c = Contract::of(u, inst);
        // Completed periods only: the last one ends at or before now.
        let shifted_now = inst.data_end(now) + offset;
        let last_end = shifted_now / step * step;
        let grid = match last_end.checked_sub(step) {
            Some(last) => Grid::new(inst.launch_ms + offset, last, step),
            None => Grid::empty(),
        };
        let (lo, hi) = grid.range(
            begin.map(|b| b + offset + 1),
            end.map(|e| (e + offset).saturating_sub(1)),
        );
        let kept_lo = grid.range(None, None).1.saturating_sub(RUBIK_ROWS);
        let lo = lo.max(kept_lo);
        let hi = hi.max(lo);
        let first = hi.saturating_sub(limit).max(lo);
        Ok((first..hi)
            .rev()
            .map(|k| {
                let ts = grid.time(k) - offset;
                let (contracts, coins, usd) = oi_at(u, inst, ts + step - MIN5);
                json!([
                    ts.to_string(),
                    c.contracts_text(contracts),
                    c.coins_text(coins),
                    trim(fixed(usd, 4)),
                ])
            })
            .collect())
    })())
}

fn funding_cap(hours: u32) -> &'static str {
    match hours {
        1 => "0.015",
        4 => "0.015",
        _ => "0.00375",
    }
}

/// Days of funding history the REST endpoint serves.
pub(crate) const FUNDING_HISTORY_DAYS: u64 = 92;

fn funding_row(u: &Universe, inst: &Instrument, now: u64) -> Option<Value> {
    let step = inst.funding_step()?;
    let t = inst.data_end(now);
    let funding_time = next_multiple(t, step);
    let cap = funding_cap(inst.funding_hours);
    let premium = (u.predicted_units(inst, t) - 10_000) as f64 / 1e8;
    Some(json!({
        "instType": "SWAP",
        "instId": inst.symbol,
        "fundingRate": units_trimmed(u.predicted_units(inst, t), 8),
        "fundingTime": funding_time.to_string(),
        "nextFundingTime": (funding_time + step).to_string(),
        "method": "current_period",
        "nextFundingRate": "",
        "formulaType": "withRate",
        "minFundingRate": format!("-{cap}"),
        "maxFundingRate": cap,
        "interestRate": "0.0001",
        "impactValue": "20000",
        "premium": trim(fixed(premium, 10)),
        "settState": "settled",
        "settFundingRate": units_trimmed(u.funding_units(inst, funding_time - step), 8),
        "ts": now.to_string(),
    }))
}

/// `GET /api/v5/public/funding-rate`.
pub(crate) async fn funding_rate(State(st): State<Arc<AppState>>, uri: Uri) -> Response {
    let now = st.clock.now_ms();
    respond((|| {
        let p = params(&uri)?;
        let u = &st.universe;
        if p.get("instId") == Some("ANY") {
            return Ok(u
                .okx
                .list
                .iter()
                .filter(|i| live(i, now))
                .filter_map(|i| funding_row(u, i, now))
                .collect());
        }
        let inst = live_inst(u, &p, now)?;
        Ok(funding_row(u, inst, now).into_iter().collect())
    })())
}

/// `GET /api/v5/public/funding-rate-history`.
pub(crate) async fn funding_rate_history(State(st): State<Arc<AppState>>, uri: Uri) -> Response {
    let now = st.clock.now_ms();
    respond((|| {
        let p = params(&uri)?;
        let u = &st.universe;
        let inst = live_inst(u, &p, now)?;
        let limit = limit(&p, 400, 400)?;
        let before = number(&p, "before")?;
        let after = number(&p, "after")?;
        let grid = u.funding_grid(Venue::Okx, inst, now);
        let oldest = now.saturating_sub(FUNDING_HISTORY_DAYS * DAY);
        let start = before.map_or(oldest, |b| (b + 1).max(oldest));
        let (lo, hi) = grid.range(Some(start), after.map(|a| a.saturating_sub(1)));
        let first = hi.saturating_sub(limit).max(lo);
        Ok((first..hi)
            .rev()
            .map(|k| {
                let t = grid.time(k);
                let realized = u.funding_units(inst, grid.base(k));
                // The last prediction before settlement: a hair off the realized rate.
                let predicted = realized + (inst.key ^ t) as i64 % 7 - 3;
                json!({
                    "instType": "SWAP",
                    "instId": inst.symbol,
                    "formulaType": "withRate",
                    "fundingRate": units_trimmed(predicted, 8),
                    "realizedRate": units_trimmed(realized, 8),
                    "fundingTime": t.to_string(),
                    "method": "current_period",
                })
            })
            .collect())
    })())
}

/// An OKX candle bar (`1m` … `1Mutc`), the UTC-aligned ones only.
fn bar_span(bar: &str) -> Option<Span> {
    let minutes = match bar {
        "1m" => 1,
        "3m" => 3,
        "5m" => 5,
        "15m" => 15,
        "30m" => 30,
        "1H" => 60,
        "2H" => 120,
        "4H" => 240,
        "6Hutc" => 360,
        "12Hutc" => 720,
        "1Dutc" => 1440,
        "2Dutc" => 2880,
        "3Dutc" => 4320,
        "1Wutc" => 7 * 1440,
        "1Mutc" => return Some(Span::Month),
        _ => return None,
    };
    Some(Span::Minutes(minutes))
}

/// Candles kept by the recent (non-history) candle endpoints.
pub(crate) const RECENT_CANDLES: u64 = 1440;

fn candles_of(st: &AppState, uri: &Uri, mark: bool, history: bool) -> Result<Vec<Value>, OkxError> {
    let now = st.clock.now_ms();
    let p = params(uri)?;
    let u = &st.universe;
    let inst = live_inst(u, &p, now)?;
    let span = bar_span(p.get("bar").unwrap_or("1m")).ok_or_else(|| bad("bar"))?;
    let max = if mark { 100 } else { 300 };
    let limit = limit(&p, 100, max)? as usize;
    let after = number(&p, "after")?;
    let before = number(&p, "before")?;
    let rates = lock(&st.faults).kline_rates(Venue::Okx);
    let newest = (!history).then_some(RECENT_CANDLES);
    let series = Series::new(u, inst, span, now, newest, rates);
    let lo = before.map_or(0, |b| b.saturating_add(1));
    let hi = after.map_or(u64::MAX, |a| a.saturating_sub(1));
    if after == Some(0) {
        return Ok(Vec::new());
    }
    let opens = series.opens(lo, hi, limit, false);
    let c = Contract::of(u, inst);
    Ok(opens
        .into_iter()
        .rev()
        .map(|open| {
            let confirm = if span.next(open) > now { "0" } else { "1" };
            if mark {
                let k = series.mark(open);
                json!([
                    open.to_string(),
                    c.price(k.open),
                    c.price(k.high),
                    c.price(k.low),
                    c.price(k.close),
                    confirm
                ])
            } else {
                let k = series.trade(open);
                let avg = (k.open + k.close) / 2.0;
                let contracts = c.contracts_of_base(k.volume, avg);
                let coins = c.coins(contracts, avg);
                let quote = if c.inverse {
                    contracts * c.ct_val()
                } else {
                    coins * avg
                };
                json!([
                    open.to_string(),
                    c.price(k.open),
                    c.price(k.high),
                    c.price(k.low),
                    c.price(k.close),
                    c.contracts_text(contracts),
                    c.coins_text(coins),
                    trim(fixed(quote, 5)),
                    confirm
                ])
            }
        })
        .collect())
}

/// `GET /api/v5/market/candles`.
pub(crate) async fn candles(State(st): State<Arc<AppState>>, uri: Uri) -> Response {
    respond(candles_of(&st, &uri, false, false))
}

/// `GET /api/v5/market/history-candles`.
pub(crate) async fn history_candles(State(st): State<Arc<AppState>>, uri: Uri) -> Response {
    respond(candles_of(&st, &uri, false, true))
}

/// `GET /api/v5/market/mark-price-candles`.
pub(crate) async fn mark_price_candles(State(st): State<Arc<AppState>>, uri: Uri) -> Response {
    respond(candles_of(&st, &uri, true, false))
}

/// `GET /api/v5/market/history-mark-price-candles`.
pub(crate) async fn history_mark_price_candles(
    State(st): State<Arc<AppState>>,
    uri: Uri,
) -> Response {
    respond(candles_of(&st, &uri, true, true))
}

/// Any other `/api/v5` path: HTTP 404 with OKX's body (numeric `code`).
pub(crate) async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({
            "code": 404, "data": {}, "detailMsg": "", "error_code": "404",
            "error_message": "Not Found", "msg": "Not Found"
        })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_of_ten_are_written_like_okx() {
        assert_eq!(pow10_text(-2), "0.01");
        assert_eq!(pow10_text(0), "1");
        assert_eq!(pow10_text(2), "100");
        assert_eq!(trim("5.000".into()), "5");
        assert_eq!(trim("0.0100".into()), "0.01");
        assert_eq!(trim("100".into()), "100");
    }

    #[test]
    fn periods_align_on_utc_plus_8() {
        assert_eq!(rubik_period("1D"), Some((DAY, 8 * HOUR)));
        assert_eq!(rubik_period("1Dutc"), Some((DAY, 0)));
        assert_eq!(rubik_period("1W"), None);
        assert_eq!(bar_span("1H"), Some(Span::Minutes(60)));
        assert_eq!(bar_span("1D"), None);
    }
}
