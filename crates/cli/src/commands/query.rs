//! `ccxt-cli query {oi|funding|liquidations} SYMBOL`.

use std::collections::HashMap;
use std::process::ExitCode;

use ccxt_catalog::{Catalog, Limit, Query};
use ccxt_model::time::{Bound, format_iso, now_ns, parse_time};
use ccxt_model::{
    FundingRate, Instrument, InstrumentId, Liquidation, OpenInterest, RecordKind, SymbolError,
    SymbolInput, Venue, format_interval,
};

use crate::UsageError;
use crate::cli::{OutputFormat, QueryArgs, VenueArg};
use crate::output::{Column, Rows, Value};

/// Runs `query`.
pub async fn run(location: &str, args: QueryArgs) -> anyhow::Result<ExitCode> {
    let kind = RecordKind::from(args.data);
    let instruments = resolve(&args.symbol, &args.venues)?;
    let start = match &args.from {
        Some(t) => parse_time(t, Bound::Start).map_err(|e| UsageError(format!("--from: {e}")))?,
        None => 0,
    };
    let end = match &args.to {
        Some(t) => parse_time(t, Bound::End).map_err(|e| UsageError(format!("--to: {e}")))?,
        None => now_ns(),
    };
    if end < start {
        return Err(UsageError(format!(
            "--to ({}) is before --from ({})",
            format_iso(end),
            format_iso(start)
        ))
        .into());
    }
    let limit = args.limit.map(|n| {
        let n = n as usize;
        if args.from.is_some() {
            Limit::First(n)
        } else {
            Limit::Last(n)
        }
    });
    let catalog = Catalog::open(location)?;
    let query = Query {
        instruments: instruments.iter().map(|i| i.id.clone()).collect(),
        start,
        end,
        limit,
    };
    let by_id: HashMap<&InstrumentId, &Instrument> =
        instruments.iter().map(|i| (&i.id, i)).collect();
    let (rows, stats) = match kind {
        RecordKind::OpenInterest => {
            let (rows, stats) = catalog.query::<OpenInterest>(&query).await?;
            (oi_rows(&rows, &by_id), stats)
        }
        RecordKind::FundingRate => {
            let (rows, stats) = catalog.query::<FundingRate>(&query).await?;
            (funding_rows(&rows, &by_id), stats)
        }
        RecordKind::Liquidation => {
            let (rows, stats) = catalog.query::<Liquidation>(&query).await?;
            (liquidation_rows(&rows, &by_id), stats)
        }
    };
    tracing::debug!(
        rows = rows.rows.len(),
        files_listed = stats.files_listed,
        files_opened = stats.files_opened,
        row_groups_read = stats.row_groups_read,
        row_groups_skipped = stats.row_groups_skipped,
        "query done"
    );
    if rows.rows.is_empty() {
        let venues: Vec<&str> = instruments.iter().map(|i| i.venue.as_str()).collect();
        eprintln!(
            "no {kind} rows for {} on {} between {} and {} in catalog '{location}'",
            args.symbol.typed().trim(),
            venues.join(", "),
            format_iso(start),
            format_iso(end),
        );
        if matches!(args.format, OutputFormat::Table | OutputFormat::Ndjson) {
            return Ok(ExitCode::SUCCESS);
        }
    }
    super::print(args.format, &rows)?;
    Ok(ExitCode::SUCCESS)
}

/// The instruments to read: the symbol on each selected venue (all venues by default; venues
/// where the symbol cannot exist are skipped unless asked for by name).
fn resolve(symbol: &SymbolInput, venues: &[VenueArg]) -> Result<Vec<Instrument>, UsageError> {
    let explicit: Vec<Venue> = venues.iter().map(|v| Venue::from(*v)).collect();
    let mut out = Vec::new();
    for venue in Venue::ALL {
        if !explicit.is_empty() && !explicit.contains(&venue) {
            continue;
        }
        match symbol.resolve(venue) {
            Ok(instrument) => out.push(instrument),
            Err(e @ SymbolError::Malformed { .. }) => return Err(UsageError(e.to_string())),
            Err(e) if !explicit.is_empty() => return Err(UsageError(e.to_string())),
            Err(_) => {}
        }
    }
    if out.is_empty() {
        let venue = symbol
            .pinned_venue()
            .map(|v| v.as_str())
            .unwrap_or("another venue");
        return Err(UsageError(format!(
            "symbol '{}' names a {venue} instrument, but -e selects only other venues",
            symbol.typed().trim()
        )));
    }
    Ok(out)
}

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
fn head(
    id: &InstrumentId,
    ts_event: u64,
    by_id: &HashMap<&InstrumentId, &Instrument>,
) -> Vec<Value> {
    let (venue, symbol) = match by_id.get(id) {
        Some(i) => (i.venue.as_str().to_string(), i.native.clone()),
        None => (String::new(), id.to_string()),
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

fn oi_rows(rows: &[OpenInterest], by_id: &HashMap<&InstrumentId, &Instrument>) -> Rows {
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
                let mut v = head(&r.instrument_id, r.ts_event, by_id);
                v.push(Value::Float(r.open_interest));
                v.push(opt_f64(r.open_interest_value));
                v.extend(tail(&r.instrument_id, r.ts_event, r.ts_init));
                v
            })
            .collect(),
    }
}

fn funding_rows(rows: &[FundingRate], by_id: &HashMap<&InstrumentId, &Instrument>) -> Rows {
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
    columns.extend(TAIL);
    Rows {
        columns,
        rows: rows
            .iter()
            .map(|r| {
                let mut v = head(&r.instrument_id, r.ts_event, by_id);
                v.push(Value::Decimal(r.rate.to_string()));
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

fn liquidation_rows(rows: &[Liquidation], by_id: &HashMap<&InstrumentId, &Instrument>) -> Rows {
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
                let mut v = head(&r.instrument_id, r.ts_event, by_id);
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
