//! `ccxt-cli query {oi|funding|liquidations|gaps|bars|mark|index} SYMBOL`.

use std::process::ExitCode;

use ccxt_catalog::export::DayScan;
use ccxt_catalog::price::{MissingBars, bar_dataset, missing_bars};
use ccxt_catalog::{Catalog, CatalogError, CatalogRecord, Limit, Query};
use ccxt_model::time::format_iso;
use ccxt_model::{
    Bar, BarInterval, BarPrice, BarType, FundingRate, Gap, IndexPrice, Instrument, InstrumentId,
    Liquidation, MarkPrice, OpenInterest, RecordKind,
};

use crate::UsageError;
use crate::aggregate::{self, Aggregate, Buckets, View};

use crate::cli::{OutputFormat, QueryArgs};
use crate::inputs::{resolve, selected_venues, time_range};
use crate::output::Rows;
use crate::rows::{
    bar_rows, funding_rows, gap_rows, index_rows, liquidation_rows, mark_rows, missing_bar_rows,
    oi_rows,
};

/// The flags only `query bars` takes, refused elsewhere so a typo is not silently ignored.
fn check_bar_flags(kind: RecordKind, args: &QueryArgs) -> Result<(), UsageError> {
    if kind == RecordKind::Bar {
        if args.interval.is_none() {
            return Err(UsageError(
                "query bars needs --interval: one of 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 1w 1M, e.g. ccxt-cli query bars BTCUSDT-PERP --interval 1h".into(),
            ));
        }
        return Ok(());
    }
    for (given, flag) in [
        (args.interval.is_some(), "--interval"),
        (args.price.is_some(), "--price"),
        (args.gaps, "--gaps"),
    ] {
        if given {
            return Err(UsageError(format!(
                "{flag} is for `query bars` only, not `query {kind}`"
            )));
        }
    }
    Ok(())
}

/// Runs `query`.
pub async fn run(
    location: &str,
    options: &ccxt_catalog::StorageOptions,
    args: QueryArgs,
) -> anyhow::Result<ExitCode> {
    let kind = RecordKind::from(args.data);
    check_bar_flags(kind, &args)?;
    check_selection(kind, &args)?;
    check_every(kind, &args)?;
    let (start, end) = time_range(args.from.as_deref(), args.to.as_deref())?;
    let limit = args.limit.map(|n| {
        let n = n as usize;
        if args.from.is_some() {
            Limit::First(n)
        } else {
            Limit::Last(n)
        }
    });
    let catalog = Catalog::open_with(location, options)?;
    let (ids, what) = datasets(&catalog, kind, &args).await?;
    let query = Query {
        instruments: ids,
        start,
        end,
        limit,
    };
    let rows = match args.every {
        Some(every) => read_buckets(&catalog, kind, &query, every, &args, location).await?,
        None => read_rows(&catalog, kind, &query, &args, location).await?,
    };
    if rows.rows.is_empty() {
        report_empty(kind, args.gaps, &what, start, end, location);
        if matches!(args.format, OutputFormat::Table | OutputFormat::Ndjson) {
            return Ok(ExitCode::SUCCESS);
        }
    }
    super::print(args.format, &rows)?;
    Ok(ExitCode::SUCCESS)
}

/// The datasets to read and how to name them: gaps are stored per venue, bars per bar type,
/// everything else per instrument. Without symbols (`--all`, or a time window), every dataset
/// of the kind stored for the `-e` venues.
async fn datasets(
    catalog: &Catalog,
    kind: RecordKind,
    args: &QueryArgs,
) -> anyhow::Result<(Vec<InstrumentId>, String)> {
    let bar_spec = args
        .interval
        .map(|i| (i, args.price.unwrap_or(BarPrice::Last)));
    if kind == RecordKind::Gap {
        let venues = selected_venues(&args.venues);
        let what = venues
            .iter()
            .map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let ids = venues
            .iter()
            .map(|v| InstrumentId::new_unchecked(v.nautilus_venue()))
            .collect();
        return Ok((ids, what));
    }
    if args.symbols.is_empty() {
        return stored_datasets(catalog, kind, args, bar_spec).await;
    }
    let mut ids: Vec<InstrumentId> = Vec::new();
    let mut names = Vec::new();
    for symbol in &args.symbols {
        let instruments = resolve(symbol, &args.venues)?;
        let venues: Vec<&str> = instruments.iter().map(|i| i.venue.as_str()).collect();
        names.push(format!(
            "{} on {}",
            symbol.typed().trim(),
            venues.join(", ")
        ));
        for instrument in instruments {
            let id = match bar_spec {
                Some((interval, price)) => {
                    bar_dataset(&BarType::new(instrument.id, interval, price))
                }
                None => instrument.id,
            };
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    let mut what = names.join("; ");
    if let Some((interval, price)) = bar_spec {
        what = format!("{interval} {price} {what}");
    }
    Ok((ids, what))
}

/// Every stored dataset of `kind` on the `-e` venues (bars: of the `--interval` and `--price`).
async fn stored_datasets(
    catalog: &Catalog,
    kind: RecordKind,
    args: &QueryArgs,
    bar_spec: Option<(BarInterval, BarPrice)>,
) -> anyhow::Result<(Vec<InstrumentId>, String)> {
    let venues = selected_venues(&args.venues);
    let mut ids = Vec::new();
    for id in catalog.instruments(kind).await? {
        let instrument = match bar_spec {
            Some((interval, price)) => match id.as_str().parse::<BarType>() {
                Ok(t) if t.interval == interval && t.price == price => t.instrument_id,
                _ => continue,
            },
            None => id.clone(),
        };
        let Ok(instrument) = Instrument::from_id(instrument.as_str()) else {
            continue; // not a dataset of ours (no known venue)
        };
        if venues.contains(&instrument.venue) {
            ids.push(id);
        }
    }
    let names: Vec<&str> = venues.iter().map(|v| v.as_str()).collect();
    let mut what = format!("every instrument on {}", names.join(", "));
    if let Some((interval, price)) = bar_spec {
        what = format!("{interval} {price} bars of {what}");
    }
    Ok((ids, what))
}

/// Refuses a query that names nothing: no symbol, no `--all` and no time window.
fn check_selection(kind: RecordKind, args: &QueryArgs) -> Result<(), UsageError> {
    let window = args.from.is_some() || args.to.is_some();
    if kind != RecordKind::Gap && args.symbols.is_empty() && !args.all && !window {
        return Err(UsageError(format!(
            "query {kind} needs a SYMBOL, --all, or a time window (--from/--to) for every instrument in it, e.g. ccxt-cli query {kind} BTCUSDT-PERP"
        )));
    }
    Ok(())
}

/// The `--every`/`--by-asset` combinations that have a meaning, refused otherwise.
fn check_every(kind: RecordKind, args: &QueryArgs) -> Result<(), UsageError> {
    let Some(every) = args.every else {
        if args.by_asset {
            return Err(UsageError(format!(
                "--by-asset needs --every (the bucket length), e.g. ccxt-cli query {kind} --all --by-asset --every 1h"
            )));
        }
        return Ok(());
    };
    if kind == RecordKind::Gap || args.gaps {
        return Err(UsageError(
            "--every is for oi, funding, liquidations, bars, mark and index, not for gaps".into(),
        ));
    }
    if args.by_asset
        && !matches!(
            kind,
            RecordKind::OpenInterest | RecordKind::FundingRate | RecordKind::Liquidation
        )
    {
        return Err(UsageError(format!(
            "--by-asset is for oi, funding and liquidations, not `query {kind}`"
        )));
    }
    if let Some(stored) = args.interval {
        aggregate::check_multiple(every, stored)?;
    }
    Ok(())
}

/// Sums the rows of `query` up per `every` bucket, per instrument or with `--by-asset` per
/// asset (the limit applies to the buckets).
async fn read_buckets(
    catalog: &Catalog,
    kind: RecordKind,
    query: &Query,
    every: BarInterval,
    args: &QueryArgs,
    location: &str,
) -> anyhow::Result<Rows> {
    let hint = |e: CatalogError| bad_file_hint(e, location);
    let view = if args.by_asset {
        View::Assets(selected_venues(&args.venues))
    } else {
        View::Instruments
    };
    let rows = match kind {
        RecordKind::OpenInterest => {
            scan::<OpenInterest, _>(catalog, query, Buckets::new(every, view)).await
        }
        RecordKind::FundingRate => {
            scan::<FundingRate, _>(catalog, query, Buckets::new(every, view)).await
        }
        RecordKind::Liquidation => {
            scan::<Liquidation, _>(catalog, query, Buckets::new(every, view)).await
        }
        RecordKind::Bar => scan::<Bar, _>(catalog, query, Buckets::new(every, view)).await,
        RecordKind::MarkPrice => {
            scan::<MarkPrice, _>(catalog, query, Buckets::new(every, view)).await
        }
        RecordKind::IndexPrice => {
            scan::<IndexPrice, _>(catalog, query, Buckets::new(every, view)).await
        }
        RecordKind::Gap => {
            return Err(UsageError("--every is not for gaps".into()).into());
        }
    }
    .map_err(hint)?;
    Ok(Rows {
        rows: limited(rows.rows, query.limit),
        ..rows
    })
}

/// Feeds the rows of `query` to `buckets` one dataset-day at a time (memory holds one
/// instrument-day of rows, however long the range) and returns the buckets.
async fn scan<T, A>(catalog: &Catalog, query: &Query, mut buckets: A) -> Result<Rows, CatalogError>
where
    T: CatalogRecord,
    A: Aggregate<T>,
{
    let mut days = DayScan::<T>::open(catalog, &query.instruments, query.start, query.end).await?;
    while let Some(chunk) = days.next_chunk().await? {
        buckets.add(&chunk.rows);
    }
    let stats = days.stats();
    tracing::debug!(
        rows = stats.rows,
        files_read = stats.files_read,
        row_groups_read = stats.row_groups_read,
        "query buckets done"
    );
    Ok(buckets.finish())
}

/// Reads the rows of `kind` (for `--gaps`, the missing bars) as a table.
async fn read_rows(
    catalog: &Catalog,
    kind: RecordKind,
    query: &Query,
    args: &QueryArgs,
    location: &str,
) -> anyhow::Result<Rows> {
    let hint = |e: CatalogError| bad_file_hint(e, location);
    let (rows, stats) = match kind {
        RecordKind::OpenInterest => {
            let (rows, stats) = catalog.query::<OpenInterest>(query).await.map_err(hint)?;
            (oi_rows(&rows), stats)
        }
        RecordKind::FundingRate => {
            let (rows, stats) = catalog.query::<FundingRate>(query).await.map_err(hint)?;
            (funding_rows(&rows, None), stats)
        }
        RecordKind::Liquidation => {
            let (rows, stats) = catalog.query::<Liquidation>(query).await.map_err(hint)?;
            (liquidation_rows(&rows), stats)
        }
        RecordKind::Gap => {
            let (rows, stats) = catalog.query::<Gap>(query).await.map_err(hint)?;
            (gap_rows(&rows), stats)
        }
        RecordKind::Bar if args.gaps => {
            let unlimited = Query {
                limit: None,
                ..query.clone()
            };
            let (bars, stats) = catalog.query::<Bar>(&unlimited).await.map_err(hint)?;
            let explicit = (args.from.is_some(), args.to.is_some());
            let runs = bar_holes(&unlimited, &bars, explicit);
            (missing_bar_rows(&limited(runs, query.limit)), stats)
        }
        RecordKind::Bar => {
            let (rows, stats) = catalog.query::<Bar>(query).await.map_err(hint)?;
            (bar_rows(&rows), stats)
        }
        RecordKind::MarkPrice => {
            let (rows, stats) = catalog.query::<MarkPrice>(query).await.map_err(hint)?;
            (mark_rows(&rows), stats)
        }
        RecordKind::IndexPrice => {
            let (rows, stats) = catalog.query::<IndexPrice>(query).await.map_err(hint)?;
            (index_rows(&rows), stats)
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
    Ok(rows)
}

fn report_empty(kind: RecordKind, gaps: bool, what: &str, start: u64, end: u64, location: &str) {
    if gaps {
        eprintln!(
            "no missing bars: the {what} bars between {} and {} in catalog '{location}' are complete",
            format_iso(start),
            format_iso(end),
        );
    } else {
        eprintln!(
            "no {kind} rows for {what} between {} and {} in catalog '{location}'",
            format_iso(start),
            format_iso(end),
        );
    }
}

/// A run of missing bars of one bar type.
type Hole = (BarType, MissingBars);

/// The missing bars of each bar type of `query`: over `[--from, --to]` where given, otherwise
/// from the first to the last stored bar (so a bar type with no bar at all shows a hole only
/// when both ends are given). Sorted by time, then bar type order.
fn bar_holes(query: &Query, bars: &[Bar], explicit: (bool, bool)) -> Vec<Hole> {
    let mut holes: Vec<(usize, Hole)> = Vec::new();
    for (index, id) in query.instruments.iter().enumerate() {
        let Ok(bar_type) = id.as_str().parse::<BarType>() else {
            continue;
        };
        let closes: Vec<u64> = bars
            .iter()
            .filter(|b| b.bar_type == bar_type)
            .map(|b| b.ts_event)
            .collect();
        let interval = bar_type.interval;
        let start = match (explicit.0, closes.first()) {
            (true, _) => query.start,
            (false, Some(first)) => interval.open_of(*first),
            (false, None) => continue,
        };
        let end = match (explicit.1, closes.last()) {
            (true, _) => query.end,
            (false, Some(last)) => *last,
            (false, None) => continue,
        };
        holes.extend(
            missing_bars(interval, &closes, start, end)
                .into_iter()
                .map(|run| (index, (bar_type.clone(), run))),
        );
    }
    holes.sort_by_key(|(index, (_, run))| (run.open_ns, *index));
    holes.into_iter().map(|(_, h)| h).collect()
}

fn limited<T>(mut holes: Vec<T>, limit: Option<Limit>) -> Vec<T> {
    match limit {
        Some(Limit::First(n)) => holes.truncate(n),
        Some(Limit::Last(n)) if holes.len() > n => {
            holes.drain(..holes.len() - n);
        }
        _ => {}
    }
    holes
}

/// A query never skips a file it cannot use (the rows would be silently missing): it fails
/// naming the file, and says how to get past it.
pub(crate) fn bad_file_hint(e: CatalogError, location: &str) -> anyhow::Error {
    if !e.is_bad_file() {
        return e.into();
    }
    anyhow::anyhow!(
        "{e} (`ccxt-cli catalog info` lists every such file; the next storing command that meets it, e.g. `fetch-oi --store` over its time, moves it to '{}' and fetches its data again)",
        std::path::Path::new(location)
            .join(ccxt_catalog::naming::QUARANTINE_DIR)
            .display()
    )
}
