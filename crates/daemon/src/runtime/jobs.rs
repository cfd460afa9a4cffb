//! What each job does on one venue: snapshots, history top-ups, bars, compaction (the
//! instruments job is in `instruments`).

use std::sync::Arc;

use ccxt_model::time::now_ns;
use ccxt_model::{Instrument, RecordKind};
use ccxt_orchestrator::{CatalogSink, Job, NoProgress, RunOptions, VenueTarget};

use super::compaction::compact;
use super::instruments::{refresh_instruments, universe};
use super::shared::{Shared, VenueState};
use crate::config::JobKind;
use crate::store::Store;
use crate::topup::History;

/// Runs `job` on one venue (`state`), or the catalog-wide compaction (`None`); a summary line
/// or why it failed.
pub(super) async fn run_job(
    shared: &Arc<Shared>,
    job: JobKind,
    state: Option<&Arc<VenueState>>,
) -> Result<String, String> {
    let Some(state) = state else {
        return compact(shared).await;
    };
    match job {
        JobKind::Instruments => refresh_instruments(shared, state).await,
        JobKind::OpenInterest => open_interest_snapshot(shared, state).await,
        JobKind::Funding => funding_snapshot(shared, state).await,
        JobKind::FundingHistory | JobKind::OpenInterestHistory => top_up(shared, state, job).await,
        JobKind::Bars => bars_top_up(shared, state).await,
        JobKind::Compaction => Ok(String::new()),
    }
}

/// The `open_interest` job: current open interest (and the prices that come with it).
async fn open_interest_snapshot(
    shared: &Arc<Shared>,
    state: &Arc<VenueState>,
) -> Result<String, String> {
    let instruments = universe(shared, state).await?;
    let results = state.rt.fetcher.current_open_interest(&instruments).await;
    let (snapshots, failed) = split(results);
    let n = snapshots.len();
    let (rows, prices) = snapshots
        .into_iter()
        .map(|s| (s.open_interest, s.prices))
        .unzip();
    shared.store.open_interest(rows).await;
    shared.store.prices(prices).await;
    outcome("open-interest snapshot", n, instruments.len(), failed)
}

/// The `funding` job: current funding rates (and the prices that come with them).
async fn funding_snapshot(shared: &Arc<Shared>, state: &Arc<VenueState>) -> Result<String, String> {
    let instruments = universe(shared, state).await?;
    let results = state.rt.fetcher.current_funding(&instruments).await;
    let (snapshots, failed) = split(results);
    let n = snapshots.len();
    let (rows, prices) = snapshots.into_iter().map(|s| (s.funding, s.prices)).unzip();
    shared.store.funding(rows).await;
    shared.store.prices(prices).await;
    outcome("funding snapshot", n, instruments.len(), failed)
}

fn split<T>(
    results: Vec<(Instrument, Result<T, ccxt_venue::FetchError>)>,
) -> (Vec<T>, Vec<String>) {
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for (instrument, result) in results {
        match result {
            Ok(row) => rows.push(row),
            Err(e) => failed.push(format!("{}: {e}", instrument.native)),
        }
    }
    (rows, failed)
}

fn outcome(what: &str, rows: usize, asked: usize, failed: Vec<String>) -> Result<String, String> {
    if rows == 0 && !failed.is_empty() {
        return Err(format!(
            "{what}: all {} failed; first: {}",
            failed.len(),
            failed[0]
        ));
    }
    if !failed.is_empty() {
        tracing::warn!(failed = failed.len(), first = %failed[0], "{what}: some symbols failed");
    }
    Ok(format!("{what}: {rows} of {asked} symbols"))
}

/// The `funding_history` and `open_interest_history` jobs: everything since the last stored
/// row, up to the configured depth.
async fn top_up(
    shared: &Arc<Shared>,
    state: &Arc<VenueState>,
    job: JobKind,
) -> Result<String, String> {
    let venue = state.rt.venue;
    let instruments = universe(shared, state).await?;
    let (orchestrator_job, history, kind) = history_job(shared, job, now_ns());
    let target = VenueTarget {
        fetcher: state.rt.fetcher.clone(),
        instruments,
    };
    let planner: Arc<dyn ccxt_orchestrator::RangePlanner> = shared.planner.clone();
    let mut sink = ObservedSink::new(shared.store.clone());
    let outcomes = ccxt_orchestrator::run(
        vec![target],
        orchestrator_job,
        planner,
        &mut sink,
        &NoProgress,
        RunOptions {
            concurrency_per_venue: 4,
            channel_capacity: 16,
        },
    )
    .await;
    let (stored, failed) = tally(shared, &outcomes, history);
    log_notes(venue, &outcomes);
    shared.store.record_direct_write(kind, venue, stored);
    let ok = outcomes.len() - failed.len();
    if ok == 0 && !failed.is_empty() {
        return Err(format!(
            "history top-up: all {} failed; first: {}",
            failed.len(),
            failed[0]
        ));
    }
    if !failed.is_empty() {
        tracing::warn!(%venue, failed = failed.len(), first = %failed[0], "history top-up: some symbols failed");
    }
    Ok(format!(
        "history top-up: {stored} new rows for {ok} symbols"
    ))
}

/// The orchestrator job for a history `job` ending `now`, the history it tops up and the
/// records it writes.
fn history_job(shared: &Shared, job: JobKind, now: u64) -> (Job, History, RecordKind) {
    match job {
        JobKind::OpenInterestHistory => (
            Job::OpenInterestHistory {
                period: shared.config.oi_period,
                start: now.saturating_sub(shared.config.oi_history_depth.as_nanos() as u64),
                end: now,
            },
            History::OpenInterest,
            RecordKind::OpenInterest,
        ),
        _ => (
            Job::FundingHistory {
                start: now.saturating_sub(shared.config.funding_history_depth.as_nanos() as u64),
                end: now,
            },
            History::Funding,
            RecordKind::FundingRate,
        ),
    }
}

/// Rows stored and symbols failed; advances the planner past what each complete symbol stored.
fn tally(
    shared: &Shared,
    outcomes: &[ccxt_orchestrator::Outcome],
    history: History,
) -> (usize, Vec<String>) {
    let mut stored = 0;
    let mut failed = Vec::new();
    for o in outcomes {
        stored += o.stored;
        match (&o.error, &o.unsupported) {
            (Some(e), _) => failed.push(format!("{}: {e}", o.instrument.native)),
            (None, Some(_)) => {}
            (None, None) => {
                if let Some((_, hi)) = o.time_range {
                    shared.planner.advance(&o.instrument.id, history, hi);
                }
            }
        }
    }
    (stored, failed)
}

/// Logs the venue limits the top-up ran into (once per distinct note).
fn log_notes(venue: ccxt_model::Venue, outcomes: &[ccxt_orchestrator::Outcome]) {
    let mut notes: Vec<&String> = outcomes.iter().flat_map(|o| &o.notes).collect();
    notes.sort();
    notes.dedup();
    if let Some(first) = notes.first() {
        tracing::info!(%venue, notes = notes.len(), first = %first, "history top-up: venue limits applied");
    }
}

/// The `bars` job of one venue ([`crate::bars`]).
async fn bars_top_up(shared: &Arc<Shared>, state: &Arc<VenueState>) -> Result<String, String> {
    let instruments = universe(shared, state).await?;
    let mut sink = ObservedSink::new(shared.store.clone());
    crate::bars::top_up(crate::bars::BarsRun {
        venue: state.rt.venue,
        fetcher: state.rt.fetcher.clone(),
        instruments,
        series: &state.rt.bars,
        depth: shared.config.bars_depth,
        planner: shared.planner.clone(),
        sink: &mut sink,
    })
    .await
}

/// The top-ups' catalog sink, reporting its write failures to the store (metrics, `/healthz`).
struct ObservedSink {
    inner: CatalogSink,
    store: Arc<Store>,
}

impl ObservedSink {
    /// A sink writing to the store's catalog.
    fn new(store: Arc<Store>) -> ObservedSink {
        ObservedSink {
            inner: CatalogSink::new(store.catalog().clone(), 50_000),
            store,
        }
    }
}

impl ObservedSink {
    async fn observe(
        &self,
        result: Result<usize, ccxt_orchestrator::SinkError>,
    ) -> Result<usize, ccxt_orchestrator::SinkError> {
        if let Err(e) = &result {
            self.store
                .catalog_write_failed(&format!("history top-up: {e}"))
                .await;
        }
        result
    }
}

#[async_trait::async_trait]
impl ccxt_orchestrator::Sink for ObservedSink {
    async fn accept(
        &mut self,
        instrument: &Instrument,
        batch: ccxt_orchestrator::Batch,
    ) -> Result<usize, ccxt_orchestrator::SinkError> {
        let result = self.inner.accept(instrument, batch).await;
        self.observe(result).await
    }

    async fn finish_instrument(
        &mut self,
        instrument: &Instrument,
    ) -> Result<usize, ccxt_orchestrator::SinkError> {
        let result = self.inner.finish_instrument(instrument).await;
        self.observe(result).await
    }
}
