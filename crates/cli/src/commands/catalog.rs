//! `ccxt-cli catalog {info|compact|verify|demo}`.

use std::process::ExitCode;

use ccxt_catalog::demo::demo_data;
use ccxt_catalog::{Catalog, DatasetInfo, LockScope, StorageOptions};
use ccxt_model::time::format_iso;
use ccxt_model::{Instrument, Venue};

use crate::UsageError;
use crate::cli::{CatalogCommand, OutputFormat, VerifyArgs};
use crate::output::{Column, Rows, Value};

/// Runs a `catalog` subcommand.
pub async fn run(
    location: &str,
    settings: &crate::settings::FileSettings,
    command: CatalogCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        CatalogCommand::Info { format, .. } => {
            info(location, &settings.storage_options(), format).await
        }
        CatalogCommand::Compact { .. } => compact(location, &settings.storage_options()).await,
        CatalogCommand::Demo { path, days } => demo(&path, days).await,
        CatalogCommand::Verify(args) => verify(location, settings, args).await,
    }
}

/// `catalog info`: one row per dataset, then the problems and the quarantine on stderr.
async fn info(
    location: &str,
    options: &StorageOptions,
    format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::open_with(location, options)?;
    let mut datasets = catalog.info().await?;
    sort_for_display(&mut datasets);
    if datasets.is_empty() {
        eprintln!("catalog '{location}' holds no data yet");
    }
    super::print(format, &info_rows(&datasets))?;
    let problems: usize = datasets.iter().map(|d| d.problems.len()).sum();
    if problems > 0 {
        eprintln!(
            "{problems} problem(s) listed; unusable files count for no rows, and the next storing command that meets one moves it to the quarantine"
        );
    }
    let quarantine = catalog.quarantine_contents().await?;
    if !quarantine.is_empty() {
        eprintln!(
            "{} file(s) in the quarantine '{}' (moved aside by writing commands; never read, never deleted)",
            quarantine.len(),
            std::path::Path::new(location)
                .join(ccxt_catalog::naming::QUARANTINE_DIR)
                .display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Datasets by kind, venue, symbol, then bar series.
fn sort_for_display(datasets: &mut [DatasetInfo]) {
    let key = |id: &str| match Instrument::from_id(id) {
        Ok(i) => (Some(i.venue), i.native),
        Err(_) => (Venue::from_nautilus_venue(id), id.to_string()),
    };
    datasets.sort_by_cached_key(|d| match &d.bar_type {
        Some(b) => (
            d.kind,
            key(b.instrument_id.as_str()),
            Some((b.price, b.interval)),
        ),
        None => (d.kind, key(d.instrument_id.as_str()), None),
    });
}

/// The `catalog info` table.
fn info_rows(datasets: &[DatasetInfo]) -> Rows {
    let columns = [
        "type", "venue", "symbol", "series", "rows", "missing", "first", "last", "files", "bytes",
        "problems",
    ]
    .into_iter()
    .map(|name| Column {
        name,
        in_table: true,
    })
    .chain(std::iter::once(Column {
        name: "instrument_id",
        in_table: false,
    }))
    .collect();
    let rows = datasets
        .iter()
        .map(|d| {
            // Bar datasets are per bar type: the instrument is inside it.
            let instrument = d
                .bar_type
                .as_ref()
                .map_or(&d.instrument_id, |b| &b.instrument_id);
            let (venue, symbol) = match Instrument::from_id(instrument.as_str()) {
                Ok(i) => (i.venue.as_str().to_string(), i.native),
                // Gap datasets are per venue (`BINANCE`), not per instrument.
                Err(_) => match Venue::from_nautilus_venue(d.instrument_id.as_str()) {
                    Some(v) => (v.as_str().to_string(), "(all streams)".to_string()),
                    None => (String::new(), d.instrument_id.to_string()),
                },
            };
            let time =
                |t: Option<u64>| t.map(|t| Value::Text(format_iso(t))).unwrap_or(Value::Null);
            vec![
                Value::Text(d.kind.as_str().into()),
                Value::Text(venue),
                Value::Text(symbol),
                d.bar_type
                    .as_ref()
                    .map(|b| Value::Text(format!("{} {}", b.interval, b.price)))
                    .unwrap_or(Value::Null),
                Value::Int(d.rows),
                d.missing_bars.map(Value::Int).unwrap_or(Value::Null),
                time(d.first_ts),
                time(d.last_ts),
                Value::Int(d.files as u64),
                Value::Int(d.bytes),
                Value::Text(d.problems.join("; ")),
                Value::Text(d.instrument_id.to_string()),
            ]
        })
        .collect();
    Rows { columns, rows }
}

/// `catalog compact`: repairs an interrupted write first, then merges small files.
async fn compact(location: &str, options: &StorageOptions) -> anyhow::Result<ExitCode> {
    // Compaction rewrites files, but never creates a catalog that is not there.
    let mut catalog = Catalog::open_with(location, options)?;
    catalog
        .lock_for_run_as("catalog compact", LockScope::Catalog)
        .await?;
    let recovered = catalog.recover().await?;
    let report = catalog.compact().await?;
    if recovered.repaired_anything() {
        eprintln!(
            "repaired an interrupted write first: {} temporary file(s) removed, {} overlap(s) merged, {} duplicate row(s) dropped",
            recovered.temp_files_removed, recovered.overlaps_merged, recovered.duplicates_removed
        );
    }
    for bad in catalog.quarantined() {
        eprintln!("quarantined: {bad}");
    }
    eprintln!(
        "compacted {} of {} datasets: {} files -> {} files ({} rows rewritten)",
        report.datasets_compacted,
        report.datasets,
        report.files_before,
        report.files_after,
        report.rows_rewritten
    );
    let moved = recovered.files_quarantined + report.files_quarantined;
    if moved > 0 {
        eprintln!(
            "{moved} unusable file(s) moved to '{}'",
            std::path::Path::new(location)
                .join(ccxt_catalog::naming::QUARANTINE_DIR)
                .display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `catalog demo PATH`: a synthetic catalog in a new or empty directory.
async fn demo(path: &std::path::Path, days: u32) -> anyhow::Result<ExitCode> {
    let non_empty = std::fs::read_dir(path)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    if non_empty {
        return Err(UsageError(format!(
            "'{}' is not empty: the demo catalog is written only into a new or empty directory",
            path.display()
        ))
        .into());
    }
    let location = path.to_string_lossy();
    let (catalog, _) = Catalog::open_writable_by(&location, "catalog demo").await?;
    let data = demo_data(days);
    let oi = catalog.write(data.open_interest).await?;
    let funding = catalog.write(data.funding).await?;
    let liquidations = catalog.write(data.liquidations).await?;
    let gaps = catalog.write(data.gaps).await?;
    let bars = catalog.write(data.bars).await?;
    let marks = catalog.write(data.mark_prices).await?;
    let indexes = catalog.write(data.index_prices).await?;
    eprintln!(
        "wrote a {days}-day demo catalog to '{}': {} open interest, {} funding, {} liquidation, {} bar, {} mark price, {} index price rows in {} files",
        path.display(),
        oi.rows_added,
        funding.rows_added,
        liquidations.rows_added,
        bars.rows_added,
        marks.rows_added,
        indexes.rows_added,
        [oi, funding, liquidations, gaps, bars, marks, indexes]
            .iter()
            .map(|r| r.files_written)
            .sum::<usize>()
    );
    Ok(ExitCode::SUCCESS)
}

/// `catalog verify`: findings on stdout, a summary on stderr; exit 1 when any remain.
async fn verify(
    location: &str,
    settings: &crate::settings::FileSettings,
    args: VerifyArgs,
) -> anyhow::Result<ExitCode> {
    use ccxt_catalog::verify::{OutlierRule, VerifyOptions};
    use ccxt_model::time::{Bound, parse_time};
    let time = |t: Option<&String>, bound, flag: &str| -> Result<Option<u64>, UsageError> {
        t.map(|t| parse_time(t, bound).map_err(|e| UsageError(format!("{flag}: {e}"))))
            .transpose()
    };
    let start = time(args.from.as_ref(), Bound::Start, "--from")?;
    let end = time(args.to.as_ref(), Bound::End, "--to")?;
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        return Err(UsageError(format!(
            "--to ({}) is before --from ({})",
            format_iso(e),
            format_iso(s)
        ))
        .into());
    }
    let venues = crate::inputs::selected_venues(&args.venues);
    let mut instruments = std::collections::HashSet::new();
    for venue in &venues {
        for i in crate::inputs::symbols_on(*venue, &args.symbols, !args.venues.is_empty())? {
            instruments.insert(i.id);
        }
    }
    let include = |kind: ccxt_model::RecordKind, dir: &ccxt_model::InstrumentId| {
        let venue_ok = ccxt_catalog::verify::dataset_venue(kind, dir)
            .map_or(args.venues.is_empty(), |v| venues.contains(&v));
        let symbol_ok = args.symbols.is_empty()
            || ccxt_catalog::verify::dataset_instrument(kind, dir)
                .is_none_or(|id| instruments.contains(&id));
        venue_ok && symbol_ok
    };
    let options = VerifyOptions {
        start,
        end,
        outliers: OutlierRule {
            window: usize::from(args.outlier_window),
            k: args.outlier_k,
            min_jump: args.outlier_min_jump,
        },
    };
    let storage = settings.storage_options();
    let catalog = Catalog::open_with(location, &storage)?;
    let mut findings = catalog.verify(&options, &include).await?;
    if args.repair {
        drop(catalog);
        let mut targets: Vec<(ccxt_model::RecordKind, ccxt_model::InstrumentId)> = findings
            .iter()
            .filter(|f| f.kind.merge_repairs())
            .map(|f| (f.dataset, f.instrument.clone()))
            .collect();
        targets.sort_by(|a, b| (a.0, a.1.as_str()).cmp(&(b.0, b.1.as_str())));
        targets.dedup();
        let (catalog, recovered) = Catalog::open_writable_as(
            location,
            &storage,
            "catalog verify --repair",
            LockScope::Catalog,
            None,
        )
        .await?;
        let merged = catalog.repair_merge(&targets).await?;
        eprintln!(
            "repair: {} dataset(s) rewritten ({} files -> {} files, {} duplicate row(s) dropped; {} overlap(s) merged on opening)",
            merged.datasets,
            merged.files_before,
            merged.files_after,
            merged.duplicates_removed + recovered.duplicates_removed,
            recovered.overlaps_merged
        );
        let catalog = std::sync::Arc::new(catalog);
        refill_holes(&catalog, settings, &findings).await?;
        for bad in catalog.quarantined() {
            eprintln!("quarantined: {bad}");
        }
        findings = catalog.verify(&options, &include).await?;
    }
    super::print(args.format, &finding_rows(&findings))?;
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for f in &findings {
        *counts.entry(f.kind.as_str()).or_default() += 1;
    }
    if findings.is_empty() {
        eprintln!("verified: no problem found");
        Ok(ExitCode::SUCCESS)
    } else {
        let by_kind: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        eprintln!("{} finding(s): {}", findings.len(), by_kind.join(", "));
        Ok(ExitCode::from(1))
    }
}

/// One row per finding.
fn finding_rows(findings: &[ccxt_catalog::verify::Finding]) -> Rows {
    let columns = [
        "kind",
        "dataset",
        "instrument",
        "file",
        "from",
        "to",
        "detail",
    ]
    .into_iter()
    .map(|name| Column {
        name,
        in_table: true,
    })
    .collect();
    let time = |t: Option<u64>| t.map(|t| Value::Text(format_iso(t))).unwrap_or(Value::Null);
    let rows = findings
        .iter()
        .map(|f| {
            vec![
                Value::Text(f.kind.as_str().into()),
                Value::Text(f.dataset.as_str().into()),
                Value::Text(f.instrument.to_string()),
                f.file.clone().map(Value::Text).unwrap_or(Value::Null),
                time(f.from),
                time(f.to),
                Value::Text(f.detail.clone()),
            ]
        })
        .collect();
    Rows { columns, rows }
}

/// `--repair`: asks the venues again for each hole a venue history can refill (bars, settled
/// funding, open-interest history), through the orchestrator as `fetch-* --store` does, and
/// stores what they send. Holes of live snapshots, and what a venue no longer serves, stay.
async fn refill_holes(
    catalog: &std::sync::Arc<Catalog>,
    settings: &crate::settings::FileSettings,
    findings: &[ccxt_catalog::verify::Finding],
) -> anyhow::Result<()> {
    use ccxt_catalog::verify::{FindingKind, Refill, dataset_instrument};
    use ccxt_orchestrator::{CatalogSink, FullRange, Job, NoProgress, RunOptions, VenueTarget};
    let mut connected: std::collections::HashMap<Venue, crate::registry::Connected> =
        std::collections::HashMap::new();
    let mut sink = CatalogSink::new(catalog.clone(), 50_000);
    let (mut asked, mut stored, mut failed) = (0usize, 0usize, 0usize);
    for f in findings {
        let (Some(refill), Some(from), Some(to)) = (f.refill, f.from, f.to) else {
            continue;
        };
        if !matches!(f.kind, FindingKind::Hole | FindingKind::ExplainedHole) {
            continue;
        }
        let Some(instrument) = dataset_instrument(f.dataset, &f.instrument)
            .and_then(|id| Instrument::from_id(id.as_str()).ok())
        else {
            continue;
        };
        let job = match refill {
            Refill::Bars => match f.instrument.as_str().parse::<ccxt_model::BarType>() {
                // Closes after the open of the first missing bar, up to the last one's close.
                Ok(b) => Job::Bars {
                    interval: b.interval,
                    price: b.price,
                    start: from + 1,
                    end: to,
                },
                Err(_) => continue,
            },
            Refill::Funding => Job::FundingHistory {
                start: from,
                end: to,
            },
            Refill::OpenInterestHistory { period_ns } => {
                match ccxt_venue::OiPeriod::ALL
                    .into_iter()
                    .find(|p| p.nanos() == period_ns)
                {
                    Some(period) => Job::OpenInterestHistory {
                        period,
                        start: from,
                        end: to,
                    },
                    None => continue,
                }
            }
        };
        let venue = instrument.venue;
        let c = match connected.entry(venue) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                match super::fetch::connect_all(&[venue], settings)?.pop() {
                    Some((_, c)) => e.insert(c),
                    None => continue,
                }
            }
        };
        let target = VenueTarget {
            fetcher: c.fetcher.clone(),
            instruments: vec![instrument],
        };
        asked += 1;
        let outcomes = ccxt_orchestrator::run(
            vec![target],
            job,
            std::sync::Arc::new(FullRange),
            &mut sink,
            &NoProgress,
            RunOptions::default(),
        )
        .await;
        for o in outcomes {
            stored += o.stored;
            if let Some(e) = o.error {
                failed += 1;
                eprintln!(
                    "repair: {} {} {}: {e}",
                    o.instrument.venue, o.instrument.native, f.instrument
                );
            }
            if let Some(why) = o.unsupported {
                eprintln!(
                    "repair: {} {}: {why}",
                    o.instrument.venue, o.instrument.native
                );
            }
        }
    }
    if asked > 0 {
        eprintln!(
            "repair: asked the venues for {asked} hole(s): {stored} row(s) stored, {failed} request(s) failed"
        );
    }
    Ok(())
}
