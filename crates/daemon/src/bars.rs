//! The `bars` job: for each configured bar series of a venue, the closed bars since the last
//! stored one ([`TopUpPlanner`]), stored straight into the catalog as pages arrive.
//!
//! A symbol with nothing stored starts `daemon.backfill.bars_days` back; after a downtime the
//! series is refilled from its last stored bar, as far as the venue keeps bars (Hyperliquid:
//! its newest 5000 candles; what is older is logged as a note). Bars the venue sent that fail
//! the sanity rules are logged (by the orchestrator), counted in `ccxt_bars_rejected_total`
//! and never stored; bars stored are counted in `ccxt_bars_stored_total`.

use std::sync::Arc;
use std::time::Duration;

use ccxt_model::time::now_ns;
use ccxt_model::{Instrument, Venue};
use ccxt_orchestrator::{Job, NoProgress, Outcome, RunOptions, Sink, VenueTarget};
use ccxt_venue::Fetcher;

use crate::config::BarSeries;
use crate::metrics as m;
use crate::topup::{History, TopUpPlanner};

/// One run of the `bars` job on one venue.
pub(crate) struct BarsRun<'a> {
    /// The venue.
    pub venue: Venue,
    /// Its connector.
    pub fetcher: Arc<dyn Fetcher>,
    /// The instruments collected there now.
    pub instruments: Vec<Instrument>,
    /// The series to top up (all offered by the venue).
    pub series: &'a [BarSeries],
    /// How far back a series with nothing stored starts.
    pub depth: Duration,
    /// Where each series was stored up to.
    pub planner: Arc<TopUpPlanner>,
    /// The catalog.
    pub sink: &'a mut dyn Sink,
}

/// What the runs of every series added up to.
#[derive(Debug, Default)]
struct Tally {
    stored: usize,
    rejected: usize,
    units: usize,
    failed: Vec<String>,
    notes: Vec<String>,
}

/// Tops up every series of the venue; `Err` only when every (series, symbol) failed.
pub(crate) async fn top_up(run: BarsRun<'_>) -> Result<String, String> {
    let BarsRun {
        venue,
        fetcher,
        instruments,
        series,
        depth,
        planner,
        sink,
    } = run;
    let now = now_ns();
    let start = now.saturating_sub(u64::try_from(depth.as_nanos()).unwrap_or(u64::MAX));
    let mut tally = Tally::default();
    for s in series {
        let job = Job::Bars {
            interval: s.interval,
            price: s.price,
            start,
            end: now,
        };
        let target = VenueTarget {
            fetcher: fetcher.clone(),
            instruments: instruments.clone(),
        };
        let outcomes = ccxt_orchestrator::run(
            vec![target],
            job,
            planner.clone(),
            sink,
            &NoProgress,
            RunOptions {
                concurrency_per_venue: 4,
                channel_capacity: 16,
            },
        )
        .await;
        tally.add(*s, &outcomes, &planner);
    }
    m::bars_stored(venue, tally.stored as u64);
    m::bars_rejected(venue, tally.rejected as u64);
    tally.notes.sort();
    tally.notes.dedup();
    if let Some(first) = tally.notes.first() {
        tracing::info!(%venue, notes = tally.notes.len(), first = %first, "bars: notes");
    }
    let ok = tally.units - tally.failed.len();
    if ok == 0 && !tally.failed.is_empty() {
        return Err(format!(
            "bars: all {} failed; first: {}",
            tally.failed.len(),
            tally.failed[0]
        ));
    }
    if !tally.failed.is_empty() {
        tracing::warn!(%venue, failed = tally.failed.len(), first = %tally.failed[0], "bars: some series failed");
    }
    Ok(format!(
        "bars: {} new, {} rejected, {} series x {} symbols",
        tally.stored,
        tally.rejected,
        series.len(),
        instruments.len()
    ))
}

impl Tally {
    /// Adds one series' outcomes; advances the planner past what each symbol now holds.
    fn add(&mut self, series: BarSeries, outcomes: &[Outcome], planner: &TopUpPlanner) {
        for o in outcomes {
            self.units += 1;
            self.stored += o.stored;
            self.rejected += o.rejected;
            self.notes.extend(
                o.notes
                    .iter()
                    .map(|n| format!("{} {series}: {n}", o.instrument.native)),
            );
            match (&o.error, &o.unsupported) {
                (Some(e), _) => self
                    .failed
                    .push(format!("{} {series}: {e}", o.instrument.native)),
                (None, Some(why)) => self
                    .failed
                    .push(format!("{} {series}: {why}", o.instrument.native)),
                (None, None) => {
                    if let Some((_, hi)) = o.time_range {
                        planner.advance(
                            &o.instrument.id,
                            History::Bars(series.interval, series.price),
                            hi,
                        );
                    }
                }
            }
        }
    }
}
