//! Records as output rows: the columns users see for each record type.

use ccxt_catalog::price::MissingBars;
use ccxt_model::BarType;
use ccxt_model::time::format_iso;
use ccxt_model::{
    Bar, FundingRate, Gap, IndexPrice, Instrument, InstrumentId, Liquidation, MarkPrice,
    OpenInterest, format_interval,
};
use rust_decimal::Decimal;

use ccxt_venue::SnapshotPrices;

use crate::output::{Column, Rows, Value};

fn col(name: &'static str) -> Column {
    Column {
        name,
        in_table: true,
    }
}

fn machine(name: &'static str) -> Column {
    Column {
        name,
        in_table: false,
    }
}

/// The leading columns of every row: time, venue, native symbol.
fn head(id: &InstrumentId, ts_event: u64) -> Vec<Value> {
    let (venue, symbol) = match Instrument::from_id(id.as_str()) {
        Ok(i) => (i.venue.as_str().to_string(), i.native),
        Err(_) => (String::new(), id.to_string()),
    };
    vec![
        Value::Text(format_iso(ts_event)),
        Value::Text(venue),
        Value::Text(symbol),
    ]
}

fn tail(id: &InstrumentId, ts_event: u64, ts_init: u64) -> [Value; 3] {
    [
        Value::Text(id.to_string()),
        Value::Int(ts_event),
        Value::Int(ts_init),
    ]
}

const TAIL: [Column; 3] = [
    Column {
        name: "instrument_id",
        in_table: false,
    },
    Column {
        name: "ts_event",
        in_table: false,
    },
    Column {
        name: "ts_init",
        in_table: false,
    },
];

fn opt_f64(v: Option<f64>) -> Value {
    v.map(Value::Float).unwrap_or(Value::Null)
}

/// Open-interest rows.
pub fn oi_rows(rows: &[OpenInterest]) -> Rows {
    let mut columns = vec![
        col("timestamp"),
        col("venue"),
        col("symbol"),
        col("open_interest"),
        col("open_interest_value"),
    ];
    columns.extend(TAIL);
    Rows {
        columns,
        rows: rows
            .iter()
            .map(|r| {
                let mut v = head(&r.instrument_id, r.ts_event);
                v.push(Value::Float(r.open_interest));
                v.push(opt_f64(r.open_interest_value));
                v.extend(tail(&r.instrument_id, r.ts_event, r.ts_init));
                v
            })
            .collect(),
    }
}

/// Funding rows; with `prices` (live snapshots) `mark_price` and `index_price` columns follow
/// the rate, exact as the venue sent them.
pub fn funding_rows(rows: &[FundingRate], prices: Option<&[SnapshotPrices]>) -> Rows {
    let mut columns = vec![
        col("timestamp"),
        col("venue"),
        col("symbol"),
        col("rate"),
        col("interval"),
        col("kind"),
        col("next_funding_time"),
        machine("interval_minutes"),
    ];
    if prices.is_some() {
        columns.insert(4, col("mark_price"));
        columns.insert(5, col("index_price"));
    }
    columns.extend(TAIL);
    Rows {
        columns,
        rows: rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut v = head(&r.instrument_id, r.ts_event);
                v.push(Value::Decimal(r.rate.to_string()));
                if let Some(prices) = prices {
                    let p = prices.get(i);
                    let decimal = |d: Option<rust_decimal::Decimal>| {
                        d.map_or(Value::Null, |d| Value::Decimal(d.to_string()))
                    };
                    v.push(decimal(p.and_then(|p| p.mark.as_ref()).map(|m| m.value)));
                    v.push(decimal(p.and_then(|p| p.index.as_ref()).map(|x| x.value)));
                }
                v.push(
                    r.interval_minutes
                        .map(|m| Value::Text(format_interval(m)))
                        .unwrap_or(Value::Null),
                );
                v.push(Value::Text(r.kind().as_str().into()));
                v.push(
                    r.next_funding_ns
                        .map(|ns| Value::Text(format_iso(ns)))
                        .unwrap_or(Value::Null),
                );
                v.push(
                    r.interval_minutes
                        .map(|m| Value::Int(m.into()))
                        .unwrap_or(Value::Null),
                );
                v.extend(tail(&r.instrument_id, r.ts_event, r.ts_init));
                v
            })
            .collect(),
    }
}

/// Liquidation rows.
pub fn liquidation_rows(rows: &[Liquidation]) -> Rows {
    let mut columns = vec![
        col("timestamp"),
        col("venue"),
        col("symbol"),
        col("side"),
        col("quantity"),
        col("price"),
        col("value"),
        col("source"),
        col("method"),
        machine("order_side"),
        machine("trade_id"),
    ];
    columns.extend(TAIL);
    let text = |s: &Option<String>| s.clone().map(Value::Text).unwrap_or(Value::Null);
    Rows {
        columns,
        rows: rows
            .iter()
            .map(|r| {
                let mut v = head(&r.instrument_id, r.ts_event);
                v.push(Value::Text(r.side.as_str().into()));
                v.push(Value::Float(r.quantity));
                v.push(Value::Float(r.price));
                v.push(Value::Float(r.value));
                v.push(Value::Text(r.source.as_str().into()));
                v.push(text(&r.method));
                v.push(Value::Text(r.order_side.clone()));
                v.push(text(&r.trade_id));
                v.extend(tail(&r.instrument_id, r.ts_event, r.ts_init));
                v
            })
            .collect(),
    }
}

/// Gap rows: when, where, how long, why.
pub fn gap_rows(rows: &[Gap]) -> Rows {
    let columns = vec![
        col("timestamp"),
        col("venue"),
        col("stream"),
        col("until"),
        col("seconds"),
        col("reason"),
        machine("gap_start_ns"),
        machine("gap_end_ns"),
        machine("ts_init"),
    ];
    Rows {
        columns,
        rows: rows
            .iter()
            .map(|g| {
                vec![
                    Value::Text(format_iso(g.start_ns)),
                    Value::Text(g.venue.as_str().into()),
                    Value::Text(g.stream.clone()),
                    Value::Text(format_iso(g.end_ns)),
                    Value::Float((g.duration_ns() as f64 / 1e6).round() / 1e3),
                    Value::Text(g.reason.clone()),
                    Value::Int(g.start_ns),
                    Value::Int(g.end_ns),
                    Value::Int(g.ts_init),
                ]
            })
            .collect(),
    }
}

fn decimal(d: &Decimal) -> Value {
    Value::Decimal(d.to_string())
}

/// Bar rows: the close time first (the bar's `ts_event`), then its open time, interval, price
/// type and OHLCV, with the instrument's precision (as NautilusTrader shows them).
pub fn bar_rows(rows: &[Bar]) -> Rows {
    let mut columns = vec![
        col("timestamp"),
        col("venue"),
        col("symbol"),
        col("interval"),
        col("price"),
        col("open_time"),
        col("open"),
        col("high"),
        col("low"),
        col("close"),
        col("volume"),
        machine("bar_type"),
        machine("price_precision"),
        machine("size_precision"),
    ];
    columns.extend(TAIL);
    Rows {
        columns,
        rows: rows
            .iter()
            .map(|b| {
                let id = &b.bar_type.instrument_id;
                let mut v = head(id, b.ts_event);
                v.push(Value::Text(b.bar_type.interval.as_str().into()));
                v.push(Value::Text(b.bar_type.price.as_str().into()));
                v.push(Value::Text(format_iso(b.open_ns())));
                for price in [&b.open, &b.high, &b.low, &b.close, &b.volume] {
                    v.push(decimal(price));
                }
                v.push(Value::Text(b.bar_type.to_string()));
                v.push(Value::Int(b.precision.price.into()));
                v.push(Value::Int(b.precision.size.into()));
                v.extend(tail(id, b.ts_event, b.ts_init));
                v
            })
            .collect(),
    }
}

/// Mark or index price rows (`column` names the value: `mark_price`, `index_price`).
fn price_rows<'a>(
    column: &'static str,
    rows: impl Iterator<Item = (&'a InstrumentId, &'a Decimal, u64, u64)>,
) -> Rows {
    let mut columns = vec![col("timestamp"), col("venue"), col("symbol"), col(column)];
    columns.extend(TAIL);
    Rows {
        columns,
        rows: rows
            .map(|(id, value, ts_event, ts_init)| {
                let mut v = head(id, ts_event);
                v.push(decimal(value));
                v.extend(tail(id, ts_event, ts_init));
                v
            })
            .collect(),
    }
}

/// Mark price rows.
pub fn mark_rows(rows: &[MarkPrice]) -> Rows {
    price_rows(
        "mark_price",
        rows.iter()
            .map(|r| (&r.instrument_id, &r.value, r.ts_event, r.ts_init)),
    )
}

/// Index price rows.
pub fn index_rows(rows: &[IndexPrice]) -> Rows {
    price_rows(
        "index_price",
        rows.iter()
            .map(|r| (&r.instrument_id, &r.value, r.ts_event, r.ts_init)),
    )
}

/// Runs of missing bars (`query bars --gaps`): where the bar grid has no stored bar.
pub fn missing_bar_rows(holes: &[(BarType, MissingBars)]) -> Rows {
    let columns = vec![
        col("from"),
        col("to"),
        col("venue"),
        col("symbol"),
        col("interval"),
        col("price"),
        col("missing_bars"),
        machine("bar_type"),
        machine("from_ns"),
        machine("to_ns"),
    ];
    Rows {
        columns,
        rows: holes
            .iter()
            .map(|(bar_type, run)| {
                let (venue, symbol) = match Instrument::from_id(bar_type.instrument_id.as_str()) {
                    Ok(i) => (i.venue.as_str().to_string(), i.native),
                    Err(_) => (String::new(), bar_type.instrument_id.to_string()),
                };
                vec![
                    Value::Text(format_iso(run.open_ns)),
                    Value::Text(format_iso(run.close_ns)),
                    Value::Text(venue),
                    Value::Text(symbol),
                    Value::Text(bar_type.interval.as_str().into()),
                    Value::Text(bar_type.price.as_str().into()),
                    Value::Int(run.count),
                    Value::Text(bar_type.to_string()),
                    Value::Int(run.open_ns),
                    Value::Int(run.close_ns),
                ]
            })
            .collect(),
    }
}
