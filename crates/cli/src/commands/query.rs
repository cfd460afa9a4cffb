//! `ccxt-cli query {oi|funding|liquidations} SYMBOL`.

use std::process::ExitCode;

use ccxt_catalog::{Catalog, CatalogError, Limit, Query};
use ccxt_model::time::format_iso;
use ccxt_model::{FundingRate, Gap, InstrumentId, Liquidation, OpenInterest, RecordKind};

use crate::UsageError;

use crate::cli::{OutputFormat, QueryArgs};
use crate::inputs::{resolve, selected_venues, time_range};
use crate::rows::{funding_rows, gap_rows, liquidation_rows, oi_rows};

/// Runs `query`.
pub async fn run(location: &str, args: QueryArgs) -> anyhow::Result<ExitCode> {
    let kind = RecordKind::from(args.data);
    // Gaps are stored per venue; everything else per instrument.
    let (ids, what): (Vec<InstrumentId>, String) = match (kind, &args.symbol) {
        (RecordKind::Gap, _) => {
            let venues = selected_venues(&args.venues);
            let what = venues
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            (
                venues
                    .iter()
                    .map(|v| InstrumentId::new_unchecked(v.nautilus_venue()))
                    .collect(),
                what,
            )
        }
        (_, Some(symbol)) => {
            let instruments = resolve(symbol, &args.venues)?;
            let venues: Vec<&str> = instruments.iter().map(|i| i.venue.as_str()).collect();
            let what = format!("{} on {}", symbol.typed().trim(), venues.join(", "));
            (instruments.into_iter().map(|i| i.id).collect(), what)
        }
        (_, None) => {
            return Err(UsageError(format!(
                "query {kind} needs a SYMBOL, e.g. ccxt-cli query {kind} BTCUSDT-PERP"
            ))
            .into());
        }
    };
    let (start, end) = time_range(args.from.as_deref(), args.to.as_deref())?;
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
        instruments: ids,
        start,
        end,
        limit,
    };
    let hint = |e: CatalogError| bad_file_hint(e, location);
    let (rows, stats) = match kind {
        RecordKind::OpenInterest => {
            let (rows, stats) = catalog.query::<OpenInterest>(&query).await.map_err(hint)?;
            (oi_rows(&rows), stats)
        }
        RecordKind::FundingRate => {
            let (rows, stats) = catalog.query::<FundingRate>(&query).await.map_err(hint)?;
            (funding_rows(&rows, None), stats)
        }
        RecordKind::Liquidation => {
            let (rows, stats) = catalog.query::<Liquidation>(&query).await.map_err(hint)?;
            (liquidation_rows(&rows), stats)
        }
        RecordKind::Gap => {
            let (rows, stats) = catalog.query::<Gap>(&query).await.map_err(hint)?;
            (gap_rows(&rows), stats)
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
        eprintln!(
            "no {kind} rows for {what} between {} and {} in catalog '{location}'",
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

/// A query never skips a file it cannot use (the rows would be silently missing): it fails
/// naming the file, and says how to get past it.
fn bad_file_hint(e: CatalogError, location: &str) -> anyhow::Error {
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
