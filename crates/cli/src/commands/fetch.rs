//! `ccxt-cli fetch-oi`, `ccxt-cli fetch-funding` and `ccxt-cli fetch-bars`: one path for all
//! three, through the orchestrator.

use std::io::{BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ccxt_catalog::Catalog;
use ccxt_model::time::{format_iso, now_ns};
use ccxt_model::{Bar, BarInterval, BarPrice, FundingRate, Instrument, OpenInterest, Venue};
use ccxt_orchestrator::{
    Batch, CatalogPlanner, CatalogSink, FullRange, Job, Outcome, Progress, RangePlanner,
    RunOptions, Sink, SinkError, VenueTarget,
};
use ccxt_venue::{InstrumentStatus, OiPeriod, SnapshotPrices};

use crate::UsageError;
use crate::cli::{FetchArgs, OutputFormat};
use crate::inputs::{symbols_on, time_range};
use crate::output::{self, Column, Rows, Streamer, Value};
use crate::registry;
use crate::rows::{bar_rows, funding_rows, oi_rows};
use crate::settings::FileSettings;

/// What is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    /// Open interest, with the history bucket.
    OpenInterest(OiPeriod),
    /// Funding rates.
    Funding,
    /// Bars of one interval and price.
    Bars(BarInterval, BarPrice),
}

/// How many closed bars `fetch-bars` fetches without `--from`.
pub const LATEST_BARS: u32 = 100;

/// `--interval` and `--price` of `fetch-bars`, or a one-line usage error.
pub fn bars_of(interval: &str, price: &str) -> Result<What, UsageError> {
    let interval = interval
        .parse::<BarInterval>()
        .map_err(|e| UsageError(format!("--interval: {e}")))?;
    let price = price
        .parse::<BarPrice>()
        .map_err(|e| UsageError(format!("--price: {e}")))?;
    Ok(What::Bars(interval, price))
}

/// Runs `fetch-oi` / `fetch-funding` / `fetch-bars`.
pub async fn run(
    location: &str,
    settings: &FileSettings,
    what: What,
    args: FetchArgs,
) -> anyhow::Result<ExitCode> {
    if args.symbols.is_empty() && !args.all {
        return Err(UsageError(
            "give at least one SYMBOL, or --all for every trading perpetual".into(),
        )
        .into());
    }
    let venues = selected_venues(&args);
    let range = match &args.from {
        None => None,
        Some(_) => {
            let (start, end) = time_range(args.from.as_deref(), args.to.as_deref())?;
            Some((start, end.min(now_ns())))
        }
    };
    let job = job_for(what, range);
    let connected = connect_all(&venues, settings)?;
    let mut failures: Vec<String> = Vec::new();
    let targets = targets(&connected, &args, &mut failures).await?;
    if targets.is_empty() && failures.is_empty() {
        return Err(UsageError(
            "no instrument to fetch: the symbols exist on none of the selected venues".into(),
        )
        .into());
    }
    // History only (--from): the latest bars are one request per symbol.
    let progress = ProgressBar::new(range.is_some());
    let done = if args.store {
        let options = settings.storage_options();
        store(location, &options, holder(what), targets, job, &progress).await?
    } else {
        print(args.format, targets, job, &progress).await?
    };
    for (venue, c) in &connected {
        let s = c.stats.snapshot();
        tracing::info!(%venue, requests = s.requests, retries = s.retries, rate_limited = s.status_429 + s.status_418 + s.status_403, "requests sent");
    }
    if args.store {
        crate::commands::print(
            args.format,
            &summary(&done.outcomes, matches!(what, What::Bars(..))),
        )?;
    }
    collect_failures(&done.outcomes, !args.venues.is_empty(), &mut failures);
    // Every file moved aside, whichever step met it (planner, or a write merging with it).
    for bad in &done.quarantined {
        eprintln!("quarantined: {bad}");
    }
    Ok(report(location, args.store, &done, &failures))
}

/// The venues named with `-e`, or every venue.
fn selected_venues(args: &FetchArgs) -> Vec<Venue> {
    if args.venues.is_empty() {
        registry::venues()
    } else {
        registry::venues()
            .into_iter()
            .filter(|v| args.venues.iter().any(|a| Venue::from(*a) == *v))
            .collect()
    }
}

/// The catalog's write-lock holder name of the command.
fn holder(what: What) -> &'static str {
    match what {
        What::OpenInterest(_) => "fetch-oi",
        What::Funding => "fetch-funding",
        What::Bars(..) => "fetch-bars",
    }
}

/// The orchestrator job: current values without `--from`, history with it (bars: the latest
/// [`LATEST_BARS`] without it).
fn job_for(what: What, range: Option<(u64, u64)>) -> Job {
    match (what, range) {
        (What::OpenInterest(_), None) => Job::CurrentOpenInterest,
        (What::Funding, None) => Job::CurrentFunding,
        (What::OpenInterest(period), Some((start, end))) => {
            Job::OpenInterestHistory { period, start, end }
        }
        (What::Funding, Some((start, end))) => Job::FundingHistory { start, end },
        (What::Bars(interval, price), None) => {
            let end = now_ns();
            Job::Bars {
                interval,
                price,
                start: ccxt_orchestrator::bars::nth_newest_close(interval, LATEST_BARS, end),
                end,
            }
        }
        (What::Bars(interval, price), Some((start, end))) => Job::Bars {
            interval,
            price,
            start,
            end,
        },
    }
}

/// Connects every venue, or reports every configuration problem at once, before any request.
pub(crate) fn connect_all(
    venues: &[Venue],
    settings: &FileSettings,
) -> Result<Vec<(Venue, registry::Connected)>, UsageError> {
    let mut connected = Vec::new();
    let mut problems = Vec::new();
    for venue in venues {
        match registry::connect(*venue, settings.venues.get(*venue)) {
            Ok(c) => connected.push((*venue, c)),
            Err(errors) => problems.extend(errors),
        }
    }
    if !problems.is_empty() {
        return Err(UsageError(format!(
            "invalid configuration: {}",
            problems.join("; ")
        )));
    }
    Ok(connected)
}

/// The instruments per venue: the symbols given, plus every trading perpetual with `--all`
/// (a venue whose list cannot be read is a failure).
async fn targets(
    connected: &[(Venue, registry::Connected)],
    args: &FetchArgs,
    failures: &mut Vec<String>,
) -> Result<Vec<VenueTarget>, UsageError> {
    let mut targets = Vec::new();
    for (venue, c) in connected {
        let mut instruments = symbols_on(*venue, &args.symbols, !args.venues.is_empty())?;
        if args.all {
            match c.fetcher.instruments().await {
                Ok(list) => instruments.extend(
                    list.into_iter()
                        .filter(|i| i.status == InstrumentStatus::Trading)
                        .map(|i| i.instrument),
                ),
                Err(e) => failures.push(format!("{venue}: cannot list instruments: {e}")),
            }
        }
        instruments.sort();
        instruments.dedup();
        if !instruments.is_empty() {
            targets.push(VenueTarget {
                fetcher: c.fetcher.clone(),
                instruments,
            });
        }
    }
    Ok(targets)
}

/// What a fetch did.
struct Done {
    outcomes: Vec<Outcome>,
    /// Catalog files moved aside (`--store`).
    quarantined: Vec<ccxt_catalog::BadFile>,
    /// Mark and index prices stored along (`--store`).
    prices_added: usize,
}

/// How `--store` runs: three history fetches at once per venue and four pages waiting for the
/// sink. Each fetch in flight holds a connection's read buffer, its page and up to a week of
/// rows waiting for their days to complete, so eight per venue (the orchestrator's default)
/// held more than twice the memory for no gain: with the venues' limits on, their budgets set
/// the pace; with them off, the one thread that parses and writes does (10 symbols × 29 days ×
/// Binance and Bybit: peak RSS 25–27 → 20–21 MiB with the blocking-thread cap in `main` and the
/// sink growing by the page, the same CPU, and the same wall time with limits on).
const STORE_RUN: RunOptions = RunOptions {
    concurrency_per_venue: 3,
    channel_capacity: 4,
};

/// `--store`: fetches what the catalog lacks and writes it.
async fn store(
    location: &str,
    options: &ccxt_catalog::StorageOptions,
    holder: &str,
    targets: Vec<VenueTarget>,
    job: Job,
    progress: &ProgressBar,
) -> anyhow::Result<Done> {
    let (catalog, recovered) = Catalog::open_writable_as(
        location,
        options,
        holder,
        ccxt_catalog::LockScope::Catalog,
        None,
    )
    .await?;
    if recovered.repaired_anything() {
        eprintln!("repaired an interrupted write in the catalog first");
    }
    let catalog = Arc::new(catalog);
    let planner: Arc<dyn RangePlanner> = Arc::new(CatalogPlanner::new(catalog.clone()));
    // Whole days are written as soon as an instrument buffers this many rows (a week of
    // 5-minute rows): few writes, and little held in memory whatever the range.
    let mut sink = CatalogSink::new(catalog.clone(), 2_000);
    let outcomes =
        ccxt_orchestrator::run(targets, job, planner, &mut sink, progress, STORE_RUN).await;
    progress.finish();
    let done = Done {
        outcomes,
        quarantined: catalog.quarantined(),
        prices_added: sink.prices_added(),
    };
    // Release the write lock before returning: on an object store that deletes the lease, which
    // dropping the catalog would only start in the background (lost when the process exits, so
    // the next writer waited for the lease to expire).
    drop(sink);
    if let Ok(catalog) = Arc::try_unwrap(catalog) {
        catalog.close().await;
    }
    Ok(done)
}

/// Without `--store`: fetches the whole range and prints it.
async fn print(
    format: OutputFormat,
    targets: Vec<VenueTarget>,
    job: Job,
    progress: &ProgressBar,
) -> anyhow::Result<Done> {
    let mut sink = PrintSink::new(format);
    let outcomes = ccxt_orchestrator::run(
        targets,
        job,
        Arc::new(FullRange),
        &mut sink,
        progress,
        RunOptions::default(),
    )
    .await;
    // Clear the bar before the table is printed under it.
    progress.finish();
    sink.finish()?;
    Ok(Done {
        outcomes,
        quarantined: Vec::new(),
        prices_added: 0,
    })
}

/// Prints the venues' notes; adds errors, and what a venue named with `-e` does not support,
/// to `failures` (unsupported on a default venue is only a note).
fn collect_failures(outcomes: &[Outcome], venues_named: bool, failures: &mut Vec<String>) {
    for outcome in outcomes {
        let what = format!("{} {}", outcome.venue(), outcome.instrument.native);
        for note in &outcome.notes {
            eprintln!("note: {what}: {note}");
        }
        if let Some(error) = &outcome.error {
            failures.push(format!("{what}: {error}"));
        }
        if let Some(why) = &outcome.unsupported {
            if venues_named {
                failures.push(format!("{what}: {why}"));
            } else {
                eprintln!("skipped: {what}: {why}");
            }
        }
    }
}

/// The closing line on stderr and the exit code: 1 if anything failed.
fn report(location: &str, stored: bool, done: &Done, failures: &[String]) -> ExitCode {
    let outcomes = &done.outcomes;
    let ok = outcomes
        .iter()
        .filter(|o| o.error.is_none() && o.unsupported.is_none())
        .count();
    if failures.is_empty() {
        if stored {
            let added: usize = outcomes.iter().map(|o| o.stored).sum();
            let moved = match done.quarantined.len() {
                0 => String::new(),
                n => format!(
                    "; {n} unusable catalog file(s) moved to '{}' and their time fetched again",
                    std::path::Path::new(location)
                        .join(ccxt_catalog::naming::QUARANTINE_DIR)
                        .display()
                ),
            };
            let prices = match done.prices_added {
                0 => String::new(),
                n => format!(" (and {n} mark/index prices)"),
            };
            eprintln!(
                "done: {ok} of {} succeeded, {added} new rows{prices} stored in '{location}'{moved}",
                outcomes.len()
            );
        }
        ExitCode::SUCCESS
    } else {
        for failure in failures {
            eprintln!("failed: {failure}");
        }
        eprintln!(
            "{} failure(s); {ok} of {} succeeded{}",
            failures.len(),
            outcomes.len(),
            if stored { " and were stored" } else { "" }
        );
        ExitCode::from(1)
    }
}

/// The `--store` summary: one row per (venue, symbol); for bars with the rejected ones.
fn summary(outcomes: &[Outcome], bars: bool) -> Rows {
    let mut names = vec!["venue", "symbol", "rows", "added"];
    if bars {
        names.push("rejected");
    }
    names.extend(["first", "last", "status"]);
    let columns = names
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
    let time = |t: Option<u64>| t.map(|t| Value::Text(format_iso(t))).unwrap_or(Value::Null);
    let rows = outcomes
        .iter()
        .map(|o| {
            let status = match (&o.error, o.skipped.is_empty()) {
                (Some(e), _) => format!("failed: {e}"),
                (None, _) if o.unsupported.is_some() => "not offered by the venue".to_string(),
                (None, _) if !o.quarantined.is_empty() => format!(
                    "repaired: {} unusable file(s) quarantined, their time fetched again",
                    o.quarantined.len()
                ),
                (None, false) if o.rows == 0 => "up to date".to_string(),
                (None, false) => "ok (stored range skipped)".to_string(),
                (None, true) => "ok".to_string(),
            };
            let mut row = vec![
                Value::Text(o.venue().as_str().into()),
                Value::Text(o.instrument.native.clone()),
                Value::Int(o.rows as u64),
                Value::Int(o.stored as u64),
            ];
            if bars {
                row.push(Value::Int(o.rejected as u64));
            }
            row.extend([
                time(o.time_range.map(|r| r.0)),
                time(o.time_range.map(|r| r.1)),
                Value::Text(status),
                Value::Text(o.instrument.id.to_string()),
            ]);
            row
        })
        .collect();
    Rows { columns, rows }
}

/// Prints rows as they arrive (json, ndjson, csv) or at the end, sorted (table).
struct PrintSink {
    format: OutputFormat,
    streamer: Streamer,
    out: BufWriter<std::io::Stdout>,
    open_interest: Vec<OpenInterest>,
    funding: Vec<(FundingRate, Option<SnapshotPrices>)>,
    bars: Vec<Bar>,
    closed: bool,
}

impl PrintSink {
    fn new(format: OutputFormat) -> PrintSink {
        PrintSink {
            format,
            streamer: Streamer::new(format),
            out: BufWriter::new(std::io::stdout()),
            open_interest: Vec::new(),
            funding: Vec::new(),
            bars: Vec::new(),
            closed: false,
        }
    }

    fn rows_of(batch: Batch) -> Rows {
        match batch {
            Batch::OpenInterest(rows) => oi_rows(&rows),
            Batch::OpenInterestSnapshots(snaps) => {
                let rows: Vec<OpenInterest> = snaps.into_iter().map(|s| s.open_interest).collect();
                oi_rows(&rows)
            }
            Batch::FundingRates(rows) => funding_rows(&rows, None),
            Batch::Bars(rows) => bar_rows(&rows),
            Batch::FundingSnapshots(snaps) => {
                let (rates, prices): (Vec<_>, Vec<_>) =
                    snaps.into_iter().map(|s| (s.funding, s.prices)).unzip();
                funding_rows(&rates, Some(&prices))
            }
        }
    }

    fn finish(mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = if self.format == OutputFormat::Table {
            let sort_key = |id: &ccxt_model::InstrumentId, ts: u64| {
                (ts, Instrument::from_id(id.as_str()).map(|i| i.venue).ok())
            };
            let rows = if !self.bars.is_empty() {
                self.bars
                    .sort_by_key(|b| sort_key(&b.bar_type.instrument_id, b.ts_event));
                bar_rows(&self.bars)
            } else if !self.funding.is_empty() {
                self.funding
                    .sort_by_key(|(f, _)| sort_key(&f.instrument_id, f.ts_event));
                let has_marks = self
                    .funding
                    .iter()
                    .any(|(f, _)| f.next_funding_ns.is_some());
                let (rates, prices): (Vec<_>, Vec<_>) = self
                    .funding
                    .into_iter()
                    .map(|(f, p)| (f, p.unwrap_or_default()))
                    .unzip();
                funding_rows(&rates, has_marks.then_some(prices.as_slice()))
            } else {
                self.open_interest
                    .sort_by_key(|r| sort_key(&r.instrument_id, r.ts_event));
                oi_rows(&self.open_interest)
            };
            if rows.rows.is_empty() {
                return Ok(());
            }
            output::write(&mut self.out, OutputFormat::Table, &rows).and_then(|_| self.out.flush())
        } else {
            self.streamer.finish(&mut self.out)
        };
        match result {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }
}

#[async_trait::async_trait]
impl Sink for PrintSink {
    async fn accept(&mut self, _: &Instrument, batch: Batch) -> Result<usize, SinkError> {
        let n = batch.len();
        if self.closed {
            return Ok(n);
        }
        if self.format == OutputFormat::Table {
            match batch {
                Batch::OpenInterest(rows) => self.open_interest.extend(rows),
                Batch::OpenInterestSnapshots(snaps) => self
                    .open_interest
                    .extend(snaps.into_iter().map(|s| s.open_interest)),
                Batch::FundingRates(rows) => {
                    self.funding.extend(rows.into_iter().map(|r| (r, None)))
                }
                Batch::FundingSnapshots(snaps) => self
                    .funding
                    .extend(snaps.into_iter().map(|s| (s.funding, Some(s.prices)))),
                Batch::Bars(rows) => self.bars.extend(rows),
            }
            return Ok(n);
        }
        let rows = PrintSink::rows_of(batch);
        match self.streamer.rows(&mut self.out, &rows) {
            Ok(()) => Ok(n),
            // The reader went away (`| head`): keep fetching quietly is pointless, but finishing
            // the run cleanly is simplest; stop writing.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(n)
            }
            Err(e) => Err(SinkError::Output(format!("cannot write output: {e}"))),
        }
    }

    async fn finish_instrument(&mut self, _: &Instrument) -> Result<usize, SinkError> {
        Ok(0)
    }
}

/// A progress bar on stderr for history fetches, only when stderr is a terminal.
struct ProgressBar {
    bar: Option<indicatif::ProgressBar>,
    rows: std::sync::atomic::AtomicU64,
}

impl ProgressBar {
    fn new(history: bool) -> ProgressBar {
        let bar = (history && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} symbols · {msg} · ETA {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        ProgressBar {
            bar,
            rows: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for ProgressBar {
    fn add_units(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc_length(n);
        }
    }

    fn unit_done(&self, _: &Outcome) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    fn rows(&self, n: u64) {
        if let Some(bar) = &self.bar {
            let total = self.rows.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
            bar.set_message(format!("{total} rows"));
        }
    }
}
