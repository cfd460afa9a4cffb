//! Runs a fetch job over venues × instruments concurrently and streams what arrives to a sink.
//!
//! * Each venue runs in its own task, so one slow or failing venue never holds up another;
//!   within a venue, history fetches run several instruments at once and the venue's
//!   transport keeps the whole venue inside its rate budget.
//! * Pages flow through a bounded channel to one sink, so memory holds at most a few pages per
//!   running fetch, whatever the range (a year of 5-minute OI for 500 symbols never sits in RAM).
//! * Every (venue, instrument) ends with an [`Outcome`]: rows received and stored, time range,
//!   or the error. A failure of one does not stop the others.
//! * Bars ([`Job::Bars`]) go through the same machinery: only closed bars on the interval's
//!   grid are asked for ([`bars`]), bars the venue sent that fail the sanity rules are counted
//!   in [`Outcome::rejected`] and named in a note, and what a venue no longer keeps
//!   (Hyperliquid's newest 5000 candles) is named in a note instead of being asked for.

pub mod bars;
mod plan;
mod sink;

use std::sync::Arc;

use ccxt_catalog::{BadFile, CatalogError};
use ccxt_model::time::{format_iso, now_ns};
use ccxt_model::{Bar, BarInterval, BarPrice, FundingRate, Instrument, OpenInterest, Venue};
use ccxt_venue::{
    FetchError, Fetcher, FundingSnapshot, OiPeriod, OpenInterestSnapshot, RejectedBar,
};
use futures::StreamExt;
use tokio::sync::mpsc;

pub use plan::{CatalogPlanner, FullRange, Plan, RangePlanner, split, stored_history};
pub use sink::{CatalogSink, Sink, SinkError};

/// What to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Current open interest.
    CurrentOpenInterest,
    /// Current funding (estimate, interval, next time, mark and index price).
    CurrentFunding,
    /// Open-interest history in `[start, end]` (ns).
    OpenInterestHistory {
        /// Bucket size.
        period: OiPeriod,
        /// First time wanted, ns.
        start: u64,
        /// Last time wanted, ns.
        end: u64,
    },
    /// Settled funding history in `[start, end]` (ns).
    FundingHistory {
        /// First time wanted, ns.
        start: u64,
        /// Last time wanted, ns.
        end: u64,
    },
    /// Closed bars whose close (`ts_event`) lies in `[start, end]` (ns).
    Bars {
        /// Bar interval.
        interval: BarInterval,
        /// Trade or mark price.
        price: BarPrice,
        /// First close wanted, ns.
        start: u64,
        /// Last close wanted, ns (bars closing after now are never asked for).
        end: u64,
    },
}

/// Rows that arrived for one instrument.
#[derive(Debug, Clone, PartialEq)]
pub enum Batch {
    /// Open-interest history rows.
    OpenInterest(Vec<OpenInterest>),
    /// Live open-interest snapshots, with the mark and index prices they carried.
    OpenInterestSnapshots(Vec<OpenInterestSnapshot>),
    /// Live funding snapshots, with the mark and index prices they carried.
    FundingSnapshots(Vec<FundingSnapshot>),
    /// Settled funding rates.
    FundingRates(Vec<FundingRate>),
    /// Closed, checked bars of one bar type, oldest first.
    Bars(Vec<Bar>),
}

impl Batch {
    /// Rows in the batch: open-interest or funding rows (the prices a snapshot carries ride
    /// along with their row and are not counted).
    pub fn len(&self) -> usize {
        match self {
            Batch::OpenInterest(r) => r.len(),
            Batch::OpenInterestSnapshots(r) => r.len(),
            Batch::FundingSnapshots(r) => r.len(),
            Batch::FundingRates(r) => r.len(),
            Batch::Bars(r) => r.len(),
        }
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The smallest and largest `ts_event` in the batch.
    pub fn time_range(&self) -> Option<(u64, u64)> {
        let times: Vec<u64> = match self {
            Batch::OpenInterest(r) => r.iter().map(|x| x.ts_event).collect(),
            Batch::OpenInterestSnapshots(r) => r.iter().map(|x| x.open_interest.ts_event).collect(),
            Batch::FundingSnapshots(r) => r.iter().map(|x| x.funding.ts_event).collect(),
            Batch::FundingRates(r) => r.iter().map(|x| x.ts_event).collect(),
            Batch::Bars(r) => r.iter().map(|x| x.ts_event).collect(),
        };
        Some((*times.iter().min()?, *times.iter().max()?))
    }
}

/// The instruments to fetch from one venue.
#[derive(Clone)]
pub struct VenueTarget {
    /// The venue's connector.
    pub fetcher: Arc<dyn Fetcher>,
    /// Its instruments.
    pub instruments: Vec<Instrument>,
}

/// Why a (venue, instrument) failed: the venue, the local catalog, or the output. The kinds
/// stay apart so a broken catalog file is never reported as the venue's doing.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UnitError {
    /// The venue failed, refused or could not be reached.
    #[error(transparent)]
    Venue(#[from] FetchError),
    /// The catalog could not be read or written (a corrupt file, a full disk, permissions).
    #[error(transparent)]
    Catalog(Arc<CatalogError>),
    /// The rows could not be written out (e.g. stdout failed).
    #[error("{0}")]
    Output(String),
}

impl From<CatalogError> for UnitError {
    fn from(e: CatalogError) -> UnitError {
        UnitError::Catalog(Arc::new(e))
    }
}

impl From<SinkError> for UnitError {
    fn from(e: SinkError) -> UnitError {
        match e {
            SinkError::Catalog(e) => UnitError::Catalog(e),
            SinkError::Output(message) => UnitError::Output(message),
        }
    }
}

impl PartialEq for UnitError {
    fn eq(&self, other: &UnitError) -> bool {
        match (self, other) {
            (UnitError::Venue(a), UnitError::Venue(b)) => a == b,
            (UnitError::Catalog(a), UnitError::Catalog(b)) => a.to_string() == b.to_string(),
            (UnitError::Output(a), UnitError::Output(b)) => a == b,
            _ => false,
        }
    }
}

/// How one (venue, instrument) went.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The instrument (and so the venue).
    pub instrument: Instrument,
    /// Rows received.
    pub rows: usize,
    /// Rows the sink added (new to the catalog when storing; equal to `rows` when printing).
    pub stored: usize,
    /// Smallest and largest `ts_event` received.
    pub time_range: Option<(u64, u64)>,
    /// Ranges skipped because the catalog holds them already.
    pub skipped: Vec<(u64, u64)>,
    /// Why it failed, if it did (rows received before the failure are still stored).
    pub error: Option<UnitError>,
    /// Set when the venue does not offer this data at all (Hyperliquid OI history): not a
    /// failure of the fetch, the caller decides how to report it.
    pub unsupported: Option<String>,
    /// Bars the venue sent that failed the sanity rules ([`Bar::check`]): not stored, each
    /// logged, and summed up in a note.
    pub rejected: usize,
    /// Non-fatal notes (e.g. a venue's history limit, rejected bars).
    pub notes: Vec<String>,
    /// Catalog files of this instrument that were not usable data and were moved to the
    /// quarantine; their time was fetched again.
    pub quarantined: Vec<BadFile>,
}

impl Outcome {
    fn new(instrument: Instrument) -> Outcome {
        Outcome {
            instrument,
            rows: 0,
            stored: 0,
            time_range: None,
            skipped: Vec::new(),
            error: None,
            unsupported: None,
            rejected: 0,
            notes: Vec::new(),
            quarantined: Vec::new(),
        }
    }

    /// The venue.
    pub fn venue(&self) -> Venue {
        self.instrument.venue
    }
}

/// Observes progress (a progress bar, logs).
pub trait Progress: Send + Sync {
    /// `n` more (venue, instrument) units are planned.
    fn add_units(&self, n: u64);
    /// One unit finished.
    fn unit_done(&self, outcome: &Outcome);
    /// Rows arrived.
    fn rows(&self, n: u64);
}

/// A [`Progress`] that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn add_units(&self, _: u64) {}
    fn unit_done(&self, _: &Outcome) {}
    fn rows(&self, _: u64) {}
}

/// Settings of a run.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// History fetches running at once per venue.
    pub concurrency_per_venue: usize,
    /// Pages in flight between fetchers and the sink.
    pub channel_capacity: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            concurrency_per_venue: 8,
            channel_capacity: 32,
        }
    }
}

enum Message {
    Rows(Instrument, Batch),
    Rejected(Instrument, Vec<RejectedBar>),
    Done(Instrument, Option<UnitError>, Plan),
}

/// Runs `job` over `targets`, handing every batch to `sink` as it arrives. Returns one
/// [`Outcome`] per (venue, instrument), in target order.
pub async fn run(
    targets: Vec<VenueTarget>,
    job: Job,
    planner: Arc<dyn RangePlanner>,
    sink: &mut dyn Sink,
    progress: &dyn Progress,
    options: RunOptions,
) -> Vec<Outcome> {
    let (tx, mut rx) = mpsc::channel::<Message>(options.channel_capacity.max(1));
    let mut outcomes: Vec<Outcome> = targets
        .iter()
        .flat_map(|t| t.instruments.iter().cloned().map(Outcome::new))
        .collect();
    progress.add_units(outcomes.len() as u64);
    let mut tasks = tokio::task::JoinSet::new();
    for target in targets {
        let tx = tx.clone();
        let planner = planner.clone();
        tasks.spawn(run_venue(target, job, planner, tx, options));
    }
    drop(tx);
    let index =
        |outcomes: &[Outcome], i: &Instrument| outcomes.iter().position(|o| &o.instrument == i);
    while let Some(message) = rx.recv().await {
        match message {
            Message::Rows(instrument, batch) => {
                let Some(i) = index(&outcomes, &instrument) else {
                    continue;
                };
                let n = batch.len();
                if n == 0 {
                    continue;
                }
                progress.rows(n as u64);
                let outcome = &mut outcomes[i];
                outcome.rows += n;
                if let Some((lo, hi)) = batch.time_range() {
                    outcome.time_range = Some(match outcome.time_range {
                        Some((a, b)) => (a.min(lo), b.max(hi)),
                        None => (lo, hi),
                    });
                }
                match sink.accept(&instrument, batch).await {
                    Ok(added) => outcome.stored += added,
                    Err(e) => {
                        tracing::error!(instrument = %instrument.id, error = %e, "could not store rows");
                        outcome.error.get_or_insert_with(|| e.into());
                    }
                }
            }
            Message::Rejected(instrument, rejected) => {
                let Some(i) = index(&outcomes, &instrument) else {
                    continue;
                };
                let outcome = &mut outcomes[i];
                for bar in &rejected {
                    tracing::warn!(instrument = %instrument.id, open = %format_iso(bar.open_ns), problem = %bar.problem, "bar rejected: not stored");
                }
                if outcome.rejected == 0
                    && let Some(first) = rejected.first()
                {
                    outcome.notes.push(format!(
                        "bar opening {} rejected: {}",
                        format_iso(first.open_ns),
                        first.problem
                    ));
                }
                outcome.rejected += rejected.len();
            }
            Message::Done(instrument, error, plan) => {
                let Some(i) = index(&outcomes, &instrument) else {
                    continue;
                };
                let outcome = &mut outcomes[i];
                match error {
                    Some(UnitError::Venue(e @ FetchError::Unsupported { .. })) => {
                        outcome.unsupported = Some(e.to_string())
                    }
                    Some(e) => {
                        outcome.error.get_or_insert(e);
                    }
                    None => {}
                }
                outcome.skipped = plan.skipped;
                outcome.notes.extend(plan.notes);
                if outcome.rejected > 1 {
                    outcome.notes.push(format!(
                        "{} bars rejected in all (not stored; each is logged)",
                        outcome.rejected
                    ));
                }
                outcome.quarantined.extend(plan.bad_files);
                // Flush what the sink buffers for this instrument before calling it done.
                match sink.finish_instrument(&instrument).await {
                    Ok(added) => outcome.stored += added,
                    Err(e) => {
                        outcome.error.get_or_insert_with(|| e.into());
                    }
                }
                progress.unit_done(outcome);
            }
        }
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            tracing::error!(error = %e, "a venue task failed");
        }
    }
    outcomes
}

async fn run_venue(
    target: VenueTarget,
    job: Job,
    planner: Arc<dyn RangePlanner>,
    tx: mpsc::Sender<Message>,
    options: RunOptions,
) {
    let fetcher = target.fetcher.clone();
    match job {
        Job::CurrentOpenInterest => {
            for (instrument, result) in fetcher.current_open_interest(&target.instruments).await {
                send_single(
                    &tx,
                    instrument,
                    result.map(|r| Batch::OpenInterestSnapshots(vec![r])),
                )
                .await;
            }
        }
        Job::CurrentFunding => {
            for (instrument, result) in fetcher.current_funding(&target.instruments).await {
                send_single(
                    &tx,
                    instrument,
                    result.map(|r| Batch::FundingSnapshots(vec![r])),
                )
                .await;
            }
        }
        Job::OpenInterestHistory { start, end, .. }
        | Job::FundingHistory { start, end }
        | Job::Bars { start, end, .. } => {
            futures::stream::iter(target.instruments.clone())
                .for_each_concurrent(options.concurrency_per_venue.max(1), |instrument| {
                    let tx = tx.clone();
                    let fetcher = fetcher.clone();
                    let planner = planner.clone();
                    async move {
                        history(
                            fetcher.as_ref(),
                            &instrument,
                            job,
                            start,
                            end,
                            planner.as_ref(),
                            &tx,
                        )
                        .await;
                    }
                })
                .await;
        }
    }
}

async fn send_single(
    tx: &mpsc::Sender<Message>,
    instrument: Instrument,
    result: Result<Batch, FetchError>,
) {
    match result {
        Ok(batch) => {
            let _ = tx.send(Message::Rows(instrument.clone(), batch)).await;
            let _ = tx
                .send(Message::Done(instrument, None, Plan::default()))
                .await;
        }
        Err(e) => {
            let _ = tx
                .send(Message::Done(instrument, Some(e.into()), Plan::default()))
                .await;
        }
    }
}

async fn history(
    fetcher: &dyn Fetcher,
    instrument: &Instrument,
    job: Job,
    start: u64,
    end: u64,
    planner: &dyn RangePlanner,
    tx: &mpsc::Sender<Message>,
) {
    let done = |error: Option<UnitError>, plan: Plan| {
        tx.send(Message::Done(instrument.clone(), error, plan))
    };
    if let Some(error) = unsupported_series(fetcher, job) {
        let _ = done(Some(error.into()), Plan::default()).await;
        return;
    }
    let mut plan = match planner.plan(instrument, job, start, end).await {
        Ok(plan) => plan,
        Err(e) => {
            tracing::error!(instrument = %instrument.id, error = %e, "cannot plan the fetch: the catalog failed");
            let _ = done(Some(e.into()), Plan::default()).await;
            return;
        }
    };
    if let Job::Bars { interval, .. } = job {
        fit_bars_to_venue(&mut plan, fetcher, interval, now_ns());
    }
    let mut error = None;
    for (from, to) in std::mem::take(&mut plan.fetch) {
        let mut pages = pages(fetcher, instrument, job, from, to);
        while let Some(page) = pages.next().await {
            let (batch, rejected) = match page {
                Ok(page) => page,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            };
            if !rejected.is_empty()
                && tx
                    .send(Message::Rejected(instrument.clone(), rejected))
                    .await
                    .is_err()
            {
                return;
            }
            if tx
                .send(Message::Rows(instrument.clone(), batch))
                .await
                .is_err()
            {
                return;
            }
        }
        if error.is_some() {
            break;
        }
    }
    let _ = done(error.map(UnitError::Venue), plan).await;
}

/// For a bars job of a series the venue does not serve, the error saying so.
fn unsupported_series(fetcher: &dyn Fetcher, job: Job) -> Option<FetchError> {
    let Job::Bars {
        interval, price, ..
    } = job
    else {
        return None;
    };
    (!fetcher.bar_intervals(price).contains(&interval)).then(|| FetchError::Unsupported {
        venue: fetcher.venue(),
        what: format!("{interval} {price} bars"),
    })
}

/// Only closed bars on the grid, and only what the venue still keeps (the rest in a note).
fn fit_bars_to_venue(plan: &mut Plan, fetcher: &dyn Fetcher, interval: BarInterval, now: u64) {
    bars::to_grid(plan, interval, now);
    if let Some(limit) = fetcher.bar_history_limit(interval) {
        let oldest = bars::oldest_kept_close(interval, limit, now);
        bars::drop_unkept(plan, interval, limit, oldest, fetcher.venue().as_str());
    }
}

/// The venue's pages for `[from, to]` of `job`, each with the bars it rejected.
fn pages<'a>(
    fetcher: &'a dyn Fetcher,
    instrument: &'a Instrument,
    job: Job,
    from: u64,
    to: u64,
) -> futures::stream::BoxStream<'a, Result<(Batch, Vec<RejectedBar>), FetchError>> {
    match job {
        Job::OpenInterestHistory { period, .. } => fetcher
            .open_interest_history(instrument, period, from, to)
            .map(|page| page.map(|rows| (Batch::OpenInterest(rows), Vec::new())))
            .boxed(),
        Job::Bars {
            interval, price, ..
        } => fetcher
            .bars(instrument, interval, price, from, to)
            .map(|page| page.map(|p| (Batch::Bars(p.bars), p.rejected)))
            .boxed(),
        _ => fetcher
            .funding_history(instrument, from, to)
            .map(|page| page.map(|rows| (Batch::FundingRates(rows), Vec::new())))
            .boxed(),
    }
}
