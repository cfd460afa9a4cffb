//! `ccxt-cli query {oi|funding|liquidations} SYMBOL`.

use std::process::ExitCode;

use ccxt_catalog::{Catalog, Limit, Query};
use ccxt_model::time::format_iso;
use ccxt_model::{FundingRate, Liquidation, OpenInterest, RecordKind};

use crate::cli::{OutputFormat, QueryArgs};
use crate::inputs::{resolve, time_range};
use crate::rows::{funding_rows, liquidation_rows, oi_rows};

/// Runs `query`.
pub async fn run(location: &str, args: QueryArgs) -> anyhow::Result<ExitCode> {
    let kind = RecordKind::from(args.data);
    let instruments = resolve(&args.symbol, &args.venues)?;
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
        instruments: instruments.iter().map(|i| i.id.clone()).collect(),
        start,
        end,
        limit,
    };
    let (rows, stats) = match kind {
        RecordKind::OpenInterest => {
            let (rows, stats) = catalog.query::<OpenInterest>(&query).await?;
            (oi_rows(&rows), stats)
        }
        RecordKind::FundingRate => {
            let (rows, stats) = catalog.query::<FundingRate>(&query).await?;
            (funding_rows(&rows, None), stats)
        }
        RecordKind::Liquidation => {
            let (rows, stats) = catalog.query::<Liquidation>(&query).await?;
            (liquidation_rows(&rows), stats)
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
