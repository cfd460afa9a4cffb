//! The state the jobs, the streams and the HTTP handlers share, and which jobs apply where.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use ccxt_catalog::Catalog;
use ccxt_model::time::now_ns;
use ccxt_model::{Instrument, RecordKind, Venue};
use ccxt_stream::{StreamEvent, StreamHandle, VenueCounters};
use tokio::sync::{Mutex, RwLock, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::VenueRuntime;
use super::compaction::CompactionCycle;
use crate::config::{DaemonConfig, JobKind};
use crate::health::{Health, HealthReport};
use crate::metrics::{self as m, KnownSeries, VenueObservation};
use crate::shard::Ownership;
use crate::store::Store;
use crate::topup::TopUpPlanner;

/// One venue of the run: what the caller built, its current universe, its running jobs.
pub(super) struct VenueState {
    pub(super) rt: VenueRuntime,
    /// `None` until the venue's list is known (`--all` and the venue not reached yet).
    pub(super) universe: RwLock<Option<Vec<Instrument>>>,
    pub(super) running: BTreeMap<JobKind, AtomicBool>,
}

/// A venue's running liquidation stream.
pub(super) struct StreamSlot {
    pub(super) handle: StreamHandle,
    pub(super) cancel: CancellationToken,
    /// Counters of the streams this one replaced.
    pub(super) base: VenueCounters,
}

/// State shared by the jobs, the streams and the HTTP handlers.
pub(crate) struct Shared {
    pub(super) config: DaemonConfig,
    pub(super) store: Arc<Store>,
    pub(super) health: Arc<Health>,
    pub(super) venues: BTreeMap<Venue, Arc<VenueState>>,
    pub(super) planner: Arc<TopUpPlanner>,
    pub(super) cancel: CancellationToken,
    pub(super) tracker: TaskTracker,
    pub(super) streams: Mutex<BTreeMap<Venue, StreamSlot>>,
    pub(super) events: mpsc::Sender<StreamEvent>,
    pub(super) compaction_running: AtomicBool,
    /// Which slice of the datasets the next compaction run takes.
    pub(super) compaction: CompactionCycle,
    /// What this daemon's shard collects and stores.
    pub(super) ownership: Ownership,
}

impl Shared {
    /// The shared state of a run starting at `started_ns`.
    pub(super) fn new(
        config: DaemonConfig,
        store: Arc<Store>,
        catalog: Arc<Catalog>,
        venues: BTreeMap<Venue, Arc<VenueState>>,
        events: mpsc::Sender<StreamEvent>,
        started_ns: u64,
        ownership: Ownership,
    ) -> Shared {
        Shared {
            health: Arc::new(Health::new(started_ns, config.stream_stale)),
            compaction: CompactionCycle::new(config.compaction_slices, started_ns),
            store,
            venues,
            planner: Arc::new(TopUpPlanner::new(catalog)),
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            streams: Mutex::new(BTreeMap::new()),
            events,
            compaction_running: AtomicBool::new(false),
            config,
            ownership,
        }
    }

    /// The health report now.
    pub(crate) async fn health_report(&self) -> HealthReport {
        let streams = self.stream_counters().await;
        let faults = self.store.faults().await;
        let mut report = self.health.report(now_ns(), &last_frames(&streams), faults);
        let shard = self.ownership.shard();
        report.shard = shard.is_sharded().then(|| shard.to_string());
        report
    }

    /// Stream counters per streaming venue (including replaced streams). Venues whose
    /// stream could not start yet report zeros, so they show as stale.
    async fn stream_counters(&self) -> BTreeMap<Venue, VenueCounters> {
        let streams = self.streams.lock().await;
        let mut out = BTreeMap::new();
        for (venue, state) in &self.venues {
            if state.rt.source.is_none() {
                continue;
            }
            let mut counters = VenueCounters::default();
            if let Some(slot) = streams.get(venue) {
                counters = slot.base;
                if let Some(live) = slot.handle.stats().snapshot().get(venue) {
                    counters.add(live);
                }
            }
            out.insert(*venue, counters);
        }
        out
    }

    /// Copies live counters into the metrics registry.
    pub(crate) async fn refresh_metrics(&self) {
        let streams = self.stream_counters().await;
        let observations: Vec<VenueObservation> = self
            .venues
            .iter()
            .map(|(venue, state)| VenueObservation {
                venue: *venue,
                transport: state.rt.transport.as_ref().map(|t| t.stats().snapshot()),
                headroom: state
                    .rt
                    .transport
                    .as_ref()
                    .map(|t| t.budget_headroom())
                    .unwrap_or_default(),
                stream: streams.get(venue).copied(),
            })
            .collect();
        let now = now_ns();
        let faults = self.store.faults().await;
        let healthy = self.health.report(now, &last_frames(&streams), faults).ok();
        m::refresh(&observations, now, self.health.started_ns(), healthy);
        self.store.publish_gauges().await;
    }
}

/// Each streaming venue's last frame time, as [`Health::report`] takes it.
fn last_frames(streams: &BTreeMap<Venue, VenueCounters>) -> BTreeMap<Venue, u64> {
    streams.iter().map(|(v, c)| (*v, c.last_frame_ns)).collect()
}

pub(super) fn applies(job: JobKind, state: &VenueState) -> bool {
    match job {
        JobKind::OpenInterestHistory => state.rt.oi_history,
        JobKind::Bars => !state.rt.bars.is_empty(),
        JobKind::Compaction => false,
        _ => true,
    }
}

/// The label values every counter is exported with at start (see [`m::export_initial`]).
pub(super) fn known_series(
    config: &DaemonConfig,
    venues: &BTreeMap<Venue, Arc<VenueState>>,
) -> KnownSeries {
    let on = |job| config.schedule(job).is_some();
    let mut known = KnownSeries {
        rows: Vec::new(),
        jobs: Vec::new(),
        http_venues: Vec::new(),
        stream_venues: Vec::new(),
        bar_venues: Vec::new(),
    };
    if on(JobKind::Compaction) {
        known.jobs.push((JobKind::Compaction, None));
    }
    for (venue, state) in venues {
        for (job, _) in &config.jobs {
            if applies(*job, state) {
                known.jobs.push((*job, Some(*venue)));
            }
        }
        if on(JobKind::OpenInterest) || (state.rt.oi_history && on(JobKind::OpenInterestHistory)) {
            known.rows.push((RecordKind::OpenInterest, *venue));
        }
        if on(JobKind::Funding) || on(JobKind::FundingHistory) {
            known.rows.push((RecordKind::FundingRate, *venue));
        }
        if state.rt.source.is_some() {
            known.rows.push((RecordKind::Liquidation, *venue));
            known.stream_venues.push(*venue);
        }
        known.rows.push((RecordKind::Gap, *venue));
        if on(JobKind::Bars) && !state.rt.bars.is_empty() {
            known.bar_venues.push(*venue);
        }
        if state.rt.transport.is_some() {
            known.http_venues.push(*venue);
        }
    }
    known
}
