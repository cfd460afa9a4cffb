//! Hyperliquid (`https://api.hyperliquid.xyz`): `POST /info` with a JSON body
//! `{"type": …}`. The body goes through axum's `Json` extractor as on the real server (which is
//! axum too), so a malformed body gets the same answers: HTTP 400 "Failed to parse the request
//! body as JSON", 422 "Failed to deserialize the JSON body into the target type: …" (also for
//! an unknown `type` or a missing `startTime`), 415 without `Content-Type: application/json`.
//!
//! | type | answer |
//! |---|---|
//! | `meta` `{dex?}` | `{"universe":[{name,szDecimals,maxLeverage,marginTableId,isDelisted?,onlyIsolated?}],"marginTables":[…],"collateralToken":0}` |
//! | `metaAndAssetCtxs` `{dex?}` | `[meta, ctxs]`, `ctxs[i]` belongs to `universe[i]`; the delisted coin has `null` premium/midPx/impactPxs |
//! | `fundingHistory` `{coin, startTime, endTime?}` | `[{coin,fundingRate,premium,time}]` hourly, ascending, inclusive bounds, at most 500; an unknown coin → HTTP 500 with body `null` (the real API answers 500 for a coin without funding) |
//! | `predictedFundings` | `[[coin, [["BinPerp",{…}|null],["HlPerp",{…}],["BybitPerp",{…}|null]]], …]` for the main dex |
//! | `perpDexs` | `[null, {name:"xyz",…}]` |
//! | `userFillsByTime` `{user, startTime, endTime?, aggregateByTime?}` | the user's fills with `startTime <= time <= endTime`, ascending, the first 2000 |
//! | `userFills` `{user, aggregateByTime?}` | the user's latest 2000 fills, newest first |
//! | `candleSnapshot` `{req:{coin, interval, startTime, endTime?}}` | `[{t,T,s,i,o,c,h,l,v,n}]`, every candle overlapping `[startTime, endTime]`, ascending, the forming candle last; only the newest 5000 per coin and interval exist; intervals `1m 3m 5m 15m 30m 1h 2h 4h 8h 12h 1d 3d 1w 1M` (no `6h`); an unknown coin or interval → HTTP 500 `null`; weight 20 + 1 per 60 candles |
//!
//! Weight 20 per request; `fundingHistory`, `userFills` and `userFillsByTime` add 1 per 20 rows
//! returned.
//!
//! Fills exist only for the liquidator vaults ([`crate::WsConfig::hyperliquid_liquidators`],
//! by default the HLP liquidator); any other address has none (`[]`). Each vault keeps its
//! latest [`crate::WsConfig::hyperliquid_fills_available`] (10 000) fills, as the venue keeps
//! "only the 10000 most recent fills". A fill:
//! `{"coin":"BTC","px":"95012.0","sz":"0.013","side":"B","time":…,"startPosition":"-0.0213",
//! "dir":"Open Long","closedPnl":"0.0","hash":"0x…","oid":…,"crossed":false,"fee":"0.0",
//! "tid":…,"liquidation":{"liquidatedUser":"0x…","markPx":"95020.0","method":"backstop"},
//! "feeToken":"USDC","twapId":null}` — a takeover: the vault buys (`B`) the position of a
//! liquidated long, sells (`A`) that of a short. Fills without `liquidation` (`crossed: true`,
//! with a fee) are the vault unwinding on the book. At most 2000 per answer, the venue's own
//! limit, so a client pages forward with the last `time` as the next `startTime` (bounds are
//! inclusive: fills at that time come again; dedupe by `tid`). More than 2000 fills in one
//! millisecond cannot be paged past, on the venue as here. `aggregateByTime` is accepted and
//! changes nothing: every simulated fill is its own order.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Venue;
use crate::data::{Book, DAY, HOUR, Instrument, Status, Universe, next_multiple};
use crate::format::{hl_num, hl_units, units_trimmed};
use crate::klines::{Series, Span};
use crate::server::{AppState, ExtraWeight, lock};
use crate::ws::generator::{FillOut, HlBook, HlFill};

/// The `type`s answered (others get 422 like unknown variants on the real API).
pub(crate) const KNOWN_TYPES: [&str; 8] = [
    "meta",
    "metaAndAssetCtxs",
    "fundingHistory",
    "predictedFundings",
    "perpDexs",
    "userFills",
    "userFillsByTime",
    "candleSnapshot",
];

/// How many of the newest candles per coin and interval exist ("Only the most recent 5000
/// candles are available").
pub(crate) const CANDLES_KEPT: u64 = 5000;

/// Most rows one time-range answer holds.
const MAX_ROWS: u64 = 500;

/// Most fills one `userFills`/`userFillsByTime` answer holds (the venue's limit).
pub(crate) const MAX_FILLS: usize = 2000;

/// An `/info` request body.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub(crate) enum InfoRequest {
    /// Perpetuals metadata of a dex (`""` or absent: the main dex).
    Meta {
        #[serde(default)]
        dex: Option<String>,
    },
    /// Metadata and live contexts of a dex.
    MetaAndAssetCtxs {
        #[serde(default)]
        dex: Option<String>,
    },
    /// Funding history of one coin.
    #[serde(rename_all = "camelCase")]
    FundingHistory {
        coin: String,
        start_time: u64,
        #[serde(default)]
        end_time: Option<u64>,
    },
    /// Predicted funding on Hyperliquid, Binance and Bybit.
    PredictedFundings {},
    /// The perp dexes.
    PerpDexs {},
    /// A user's latest fills.
    #[serde(rename_all = "camelCase")]
    UserFills {
        user: String,
        #[serde(default)]
        #[allow(dead_code)]
        aggregate_by_time: Option<bool>,
    },
    /// Candles of one coin and interval.
    CandleSnapshot { req: CandleRequest },
    /// A user's fills in a time range.
    #[serde(rename_all = "camelCase")]
    UserFillsByTime {
        user: String,
        start_time: u64,
        #[serde(default)]
        end_time: Option<u64>,
        #[serde(default)]
        #[allow(dead_code)]
        aggregate_by_time: Option<bool>,
    },
}

/// The `req` of a `candleSnapshot`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CandleRequest {
    coin: String,
    interval: String,
    start_time: u64,
    #[serde(default)]
    end_time: Option<u64>,
}

/// `candleSnapshot`: every existing candle that overlaps `[startTime, endTime]` (endTime
/// defaults to now), ascending, the forming candle last; only the newest 5000 exist. Weight
/// 20 plus 1 per 60 candles.
fn candle_snapshot(st: &AppState, req: &CandleRequest, now: u64) -> Response {
    let u = &st.universe;
    let inst = if req.coin.contains(':') {
        u.hl_xyz.get(&req.coin)
    } else {
        u.hl_main.get(&req.coin)
    };
    let (Some(inst), Some(span)) = (inst, Span::from_binance(&req.interval, true)) else {
        return null_500();
    };
    let rates = lock(&st.faults).kline_rates(Venue::Hyperliquid);
    let series = Series::new(u, inst, span, now, Some(CANDLES_KEPT), rates);
    let end = req.end_time.unwrap_or(now);
    let opens = if end < req.start_time {
        Vec::new()
    } else {
        series.opens(span.floor(req.start_time), end, CANDLES_KEPT as usize, true)
    };
    let szd = sz_decimals(u, inst);
    let rows: Vec<Value> = opens
        .into_iter()
        .map(|open| {
            let c = series.trade(open);
            json!({
                "t": open,
                "T": c.close_ms - 1,
                "s": inst.symbol,
                "i": req.interval,
                "o": px(c.open),
                "c": px(c.close),
                "h": px(c.high),
                "l": px(c.low),
                "v": hl_num(c.volume, szd),
                "n": c.trades,
            })
        })
        .collect();
    let extra = (rows.len() / 60) as u32;
    let mut response = Json(rows).into_response();
    response.extensions_mut().insert(ExtraWeight(extra));
    response
}

/// The real server's answer for something it has no data for.
fn null_500() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "application/json")],
        "null",
    )
        .into_response()
}

fn book<'a>(u: &'a Universe, dex: Option<&str>) -> Option<&'a Book> {
    match dex.unwrap_or("") {
        "" => Some(&u.hl_main),
        "xyz" => Some(&u.hl_xyz),
        _ => None,
    }
}

fn max_leverage(inst: &Instrument) -> u32 {
    match inst.position {
        1 => 40,
        2 => 25,
        3..=6 => 20,
        _ if inst.symbol.contains(':') => 10,
        _ => 5,
    }
}

/// Size decimals as Hyperliquid sets them (BTC 5, ETH 4, SOL 2, DOGE 0).
pub(crate) fn sz_decimals(u: &Universe, inst: &Instrument) -> usize {
    let price = u.asset(inst).price;
    if price >= 10_000.0 {
        5
    } else if price >= 1_000.0 {
        4
    } else if price >= 100.0 {
        2
    } else if price >= 10.0 {
        1
    } else {
        0
    }
}

/// Prices with 5 significant figures, as Hyperliquid quotes them.
fn px(x: f64) -> String {
    let mag = if x > 0.0 { x.log10().floor() as i64 } else { 0 };
    hl_num(x, (4 - mag).clamp(0, 6) as usize)
}

fn meta(u: &Universe, b: &Book) -> Value {
    let universe: Vec<Value> = b
        .list
        .iter()
        .map(|i| {
            let lev = max_leverage(i);
            let mut m = json!({
                "szDecimals": sz_decimals(u, i),
                "name": i.symbol,
                "maxLeverage": lev,
                "marginTableId": lev,
            });
            if let Some(obj) = m.as_object_mut() {
                if matches!(i.status, Status::Delisted { .. }) {
                    obj.insert("onlyIsolated".into(), json!(true));
                    obj.insert("isDelisted".into(), json!(true));
                }
                if i.symbol.contains(':') {
                    obj.insert("onlyIsolated".into(), json!(true));
                    obj.insert("marginMode".into(), json!("strictIsolated"));
                    obj.insert("growthMode".into(), json!("enabled"));
                }
            }
            m
        })
        .collect();
    let tables: Vec<Value> = [40, 25, 20, 10, 5]
        .into_iter()
        .map(|lev| {
            json!([lev, {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": lev}]}])
        })
        .collect();
    json!({"universe": universe, "marginTables": tables, "collateralToken": 0})
}

fn ctx(u: &Universe, inst: &Instrument, now: u64) -> Value {
    let t = inst.data_end(now);
    let mark = u.price(inst, t);
    let oracle = u.index_price(inst, t);
    let szd = sz_decimals(u, inst);
    let prev = u.price(inst, t.saturating_sub(DAY));
    if !inst.is_trading() {
        return json!({
            "funding": "0.0", "openInterest": "0.0", "prevDayPx": px(prev), "dayNtlVlm": "0.0",
            "premium": null, "oraclePx": px(oracle), "markPx": px(mark), "midPx": null,
            "impactPxs": null, "dayBaseVlm": "0.0",
        });
    }
    let (rate, premium) = u.hl_funding(inst, next_multiple(t, HOUR));
    let oi = u.oi(inst, t);
    let vol = oi * 2.3;
    json!({
        "funding": hl_units(rate, 10),
        "openInterest": hl_num(oi, szd),
        "prevDayPx": px(prev),
        "dayNtlVlm": hl_num(vol * mark, 2),
        "premium": hl_units(premium, 8),
        "oraclePx": px(oracle),
        "markPx": px(mark),
        "midPx": px(mark * 1.00001),
        "impactPxs": [px(mark * 0.9998), px(mark * 1.0002)],
        "dayBaseVlm": hl_num(vol, szd),
    })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FundingRow<'a> {
    coin: &'a str,
    funding_rate: String,
    premium: String,
    time: u64,
}

fn funding_history(u: &Universe, coin: &str, start: u64, end: Option<u64>, now: u64) -> Response {
    let inst = if coin.starts_with("xyz:") {
        u.hl_xyz.get(coin)
    } else {
        u.hl_main.get(coin)
    };
    let Some(inst) = inst else {
        return null_500();
    };
    let grid = u.funding_grid(Venue::Hyperliquid, inst, now);
    let (lo, hi) = grid.range(Some(start), end);
    let hi = hi.min(lo.saturating_add(MAX_ROWS));
    let rows: Vec<FundingRow> = (lo..hi)
        .map(|k| {
            let (rate, premium) = u.hl_funding(inst, grid.base(k));
            FundingRow {
                coin: &inst.symbol,
                funding_rate: hl_units(rate, 10),
                premium: hl_units(premium, 8),
                time: grid.time(k),
            }
        })
        .collect();
    let extra = (rows.len() / 20) as u32;
    let mut response = Json(rows).into_response();
    response.extensions_mut().insert(ExtraWeight(extra));
    response
}

fn predicted_fundings(u: &Universe, now: u64) -> Value {
    let other = |inst: Option<&Instrument>| -> Value {
        match inst
            .filter(|i| i.is_trading())
            .zip(inst.and_then(|i| i.funding_step()))
        {
            Some((i, step)) => {
                let units = u.predicted_units(i, now);
                json!({
                    "fundingRate": units_trimmed(units, 8),
                    "nextFundingTime": next_multiple(now, step),
                    "fundingIntervalHours": i.funding_hours,
                })
            }
            None => Value::Null,
        }
    };
    let rows: Vec<Value> = u
        .hl_main
        .list
        .iter()
        .filter(|i| i.is_trading())
        .map(|i| {
            let usdt = format!("{}USDT", u.asset(i).base);
            let (rate, _) = u.hl_funding(i, next_multiple(now, HOUR));
            json!([i.symbol, [
                ["BinPerp", other(u.binance.get(&usdt))],
                ["HlPerp", {
                    "fundingRate": hl_units(rate, 10),
                    "nextFundingTime": next_multiple(now, HOUR),
                    "fundingIntervalHours": 1,
                }],
                ["BybitPerp", other(u.bybit.get(&usdt))],
            ]])
        })
        .collect();
    Value::Array(rows)
}

fn perp_dexs(u: &Universe) -> Value {
    let caps: Vec<Value> = u
        .hl_xyz
        .list
        .iter()
        .map(|i| json!([i.symbol, "50000000.0"]))
        .collect();
    let mult: Vec<Value> = u
        .hl_xyz
        .list
        .iter()
        .map(|i| json!([i.symbol, "1.0"]))
        .collect();
    json!([null, {
        "name": "xyz",
        "fullName": "XYZ",
        "deployer": "0x88806a71d74ad0a510b350545c9ae490912f0888",
        "oracleUpdater": null,
        "feeRecipient": null,
        "assetToStreamingOiCap": caps,
        "assetToFundingMultiplier": mult,
    }])
}

fn fills(st: &AppState, book: &HlBook, fills: Vec<HlFill>) -> Response {
    let table = st.ws.table(Venue::Hyperliquid);
    let rows: Vec<FillOut> = fills.iter().map(|f| book.render(table, f)).collect();
    let extra = (rows.len() / 20) as u32;
    let mut response = Json(rows).into_response();
    response.extensions_mut().insert(ExtraWeight(extra));
    response
}

/// `POST /info`.
pub(crate) async fn info(
    State(st): State<Arc<AppState>>,
    body: Result<Json<InfoRequest>, JsonRejection>,
) -> Response {
    let request = match body {
        Ok(Json(r)) => r,
        Err(rejection) => return rejection.into_response(),
    };
    let u = &st.universe;
    let now = st.clock.now_ms();
    match request {
        InfoRequest::Meta { dex } => match book(u, dex.as_deref()) {
            Some(b) => Json(meta(u, b)).into_response(),
            None => null_500(),
        },
        InfoRequest::MetaAndAssetCtxs { dex } => match book(u, dex.as_deref()) {
            Some(b) => {
                let ctxs: Vec<Value> = b.list.iter().map(|i| ctx(u, i, now)).collect();
                Json(json!([meta(u, b), ctxs])).into_response()
            }
            None => null_500(),
        },
        InfoRequest::FundingHistory {
            coin,
            start_time,
            end_time,
        } => funding_history(u, &coin, start_time, end_time, now),
        InfoRequest::PredictedFundings {} => Json(predicted_fundings(u, now)).into_response(),
        InfoRequest::PerpDexs {} => Json(perp_dexs(u)).into_response(),
        InfoRequest::CandleSnapshot { req } => candle_snapshot(&st, &req, now),
        InfoRequest::UserFills { user, .. } => {
            let book = lock(&st.ws.hl_book);
            fills(&st, &book, book.recent(&user, MAX_FILLS))
        }
        InfoRequest::UserFillsByTime {
            user,
            start_time,
            end_time,
            ..
        } => {
            let book = lock(&st.ws.hl_book);
            fills(
                &st,
                &book,
                book.by_time(&user, start_time, end_time, MAX_FILLS),
            )
        }
    }
}
