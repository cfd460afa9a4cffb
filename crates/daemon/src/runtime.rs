//! The running daemon: the venues' universes, the scheduled jobs, the liquidation streams, the
//! flusher, the heartbeat and the shutdown.
//!
//! # Shutdown contract
//!
//! When the shutdown future resolves: no job is started any more; jobs in flight get up to
//! [`JOB_FINISH_GRACE`] to finish and are then dropped (a dropped catalog write leaves only
//! temporary files, removed at the next start); streams are closed; everything still in the
//! spool is written to the catalog (or, if that cannot finish in time, stays durable in the
//! spool for the next start); the state file records a clean stop. All within
//! [`SHUTDOWN_BUDGET`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ccxt_catalog::Catalog;
use ccxt_model::time::{format_iso, now_ns};
use ccxt_model::{Gap, Instrument, RecordKind, Venue};
use ccxt_orchestrator::{CatalogSink, Job, NoProgress, RunOptions, VenueTarget};
use ccxt_stream::{SourceConfig, StreamEvent, StreamHandle, VenueCounters};
use ccxt_transport::HttpTransport;
use ccxt_venue::{Fetcher, InstrumentStatus};
use tokio::sync::{Mutex, RwLock, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{DaemonConfig, JobKind};
use crate::health::{Health, HealthReport};
use crate::metrics::{self as m, KnownSeries, RunResult, VenueObservation};
use crate::notify::{Notifier, Progress};
use crate::state::{DaemonState, StateFile};
use crate::store::{FlushPolicy, Store, WriteFaults};
use crate::topup::{History, TopUpPlanner};

/// Everything stops within this after the signal.
pub const SHUTDOWN_BUDGET: Duration = Duration::from_secs(9);
/// How long a job in flight may still run after the signal.
pub const JOB_FINISH_GRACE: Duration = Duration::from_secs(3);
/// How often the state file is rewritten.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// One venue, as the caller built it from the configuration.
pub struct VenueRuntime {
    /// The venue.
    pub venue: Venue,
    /// Its REST connector.
    pub fetcher: Arc<dyn Fetcher>,
    /// Its transport, for request counters and budget headroom.
    pub transport: Option<Arc<HttpTransport>>,
    /// Its liquidation source; the symbol list is replaced by the venue's current universe.
    pub source: Option<SourceConfig>,
    /// Symbols named in the configuration.
    pub symbols: Vec<Instrument>,
    /// Every trading perpetual as well (`--all`).
    pub all: bool,
    /// Whether the venue serves open-interest history (Hyperliquid does not).
    pub oi_history: bool,
    /// The bar series the `bars` job collects on this venue (only series it offers; see
    /// [`crate::BarsConfig::for_venue`]).
    pub bars: Vec<crate::BarSeries>,
}

/// What [`run`] needs.
pub struct DaemonPlan {
    /// The venues.
    pub venues: Vec<VenueRuntime>,
    /// The catalog, opened for writing with its write lock held for the run
    /// ([`Catalog::open_writable_by`]): that lock is what keeps a second daemon, or any other
    /// writer, off this catalog and its spool.
    pub catalog: Arc<Catalog>,
    /// The catalog's local root: the spool and the state file live under it.
    pub catalog_root: PathBuf,
    /// Validated settings.
    pub config: DaemonConfig,
    /// Spool sync and flush policy.
    pub flush: FlushPolicy,
}

/// What [`run_with`] takes besides the plan.
#[derive(Debug, Default)]
pub struct RunHooks {
    /// systemd notifications ([`Notifier::from_env`] in [`run`]).
    pub notifier: Notifier,
    /// Injected write failures (tests and drills; none by default).
    pub faults: Arc<WriteFaults>,
}

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The spool or catalog could not be opened.
    #[error("cannot open the spool: {0}")]
    Spool(#[from] ccxt_catalog::CatalogError),
    /// The scheduler refused to start.
    #[error("cannot start the scheduler: {0}")]
    Scheduler(String),
    /// The health/metrics address could not be bound.
    #[error(
        "cannot listen on {address} for /healthz and /metrics: {source} (set metrics.address, or \"off\")"
    )]
    Listen {
        /// The address.
        address: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What a run did, for the exit summary.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// How long it ran.
    pub uptime: Duration,
    /// Rows moved from the spool into the catalog at the end.
    pub final_drain_rows: usize,
    /// Whether the final drain finished (else the rows wait in the spool for the next start).
    pub drained: bool,
    /// How long the shutdown took.
    pub shutdown: Duration,
}

struct VenueState {
    rt: VenueRuntime,
    /// `None` until the venue's list is known (`--all` and the venue not reached yet).
    universe: RwLock<Option<Vec<Instrument>>>,
    running: BTreeMap<JobKind, AtomicBool>,
}

struct StreamSlot {
    handle: StreamHandle,
    cancel: CancellationToken,
    /// Counters of the streams this one replaced.
    base: VenueCounters,
}

/// State shared by the jobs, the streams and the HTTP handlers.
pub(crate) struct Shared {
    config: DaemonConfig,
    store: Arc<Store>,
    health: Arc<Health>,
    venues: BTreeMap<Venue, Arc<VenueState>>,
    planner: Arc<TopUpPlanner>,
    cancel: CancellationToken,
    tracker: TaskTracker,
    streams: Mutex<BTreeMap<Venue, StreamSlot>>,
    events: mpsc::Sender<StreamEvent>,
    compaction_running: AtomicBool,
}

impl Shared {
    /// The health report now.
    pub(crate) async fn health_report(&self) -> HealthReport {
        let streams = self.stream_counters().await;
        let faults = self.store.faults().await;
        self.health.report(now_ns(), &last_frames(&streams), faults)
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

fn applies(job: JobKind, state: &VenueState) -> bool {
    match job {
        JobKind::OpenInterestHistory => state.rt.oi_history,
        JobKind::Bars => !state.rt.bars.is_empty(),
        JobKind::Compaction => false,
        _ => true,
    }
}

/// The label values every counter is exported with at start (see [`m::export_initial`]).
fn known_series(config: &DaemonConfig, venues: &BTreeMap<Venue, Arc<VenueState>>) -> KnownSeries {
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

/// Runs the daemon until `shutdown` resolves, notifying systemd if `$NOTIFY_SOCKET` is set.
pub async fn run(
    plan: DaemonPlan,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<RunSummary, DaemonError> {
    let hooks = RunHooks {
        notifier: Notifier::from_env(),
        ..RunHooks::default()
    };
    run_with(plan, hooks, shutdown).await
}

/// [`run`] with explicit systemd notification and injected write faults.
pub async fn run_with(
    plan: DaemonPlan,
    hooks: RunHooks,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<RunSummary, DaemonError> {
    let RunHooks { notifier, faults } = hooks;
    let notifier = Arc::new(notifier);
    let progress = Arc::new(Progress::new());
    let started = Instant::now();
    let started_ns = now_ns();
    let DaemonPlan {
        venues,
        catalog,
        catalog_root,
        config,
        flush,
    } = plan;
    let store = Arc::new(Store::open_with_faults(
        catalog.clone(),
        &catalog_root.join(".spool").join("daemon"),
        flush,
        faults,
    )?);
    // Rows an earlier run left in the spool go in first.
    match store.drain().await {
        Ok(report) if report.segments > 0 => tracing::info!(
            segments = report.segments,
            rows_added = report.written.rows_added,
            "stored the rows an earlier run left in the spool"
        ),
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, "cannot store the rows an earlier run left in the spool yet; retrying at the next flush")
        }
    }
    let health = Arc::new(Health::new(started_ns, config.stream_stale));
    let (events_tx, events_rx) = mpsc::channel::<StreamEvent>(8192);
    let cancel = CancellationToken::new();
    let venues: BTreeMap<Venue, Arc<VenueState>> = venues
        .into_iter()
        .map(|rt| {
            let universe = if rt.all {
                None
            } else {
                Some(rt.symbols.clone())
            };
            let running = JobKind::ALL
                .into_iter()
                .map(|j| (j, AtomicBool::new(false)))
                .collect();
            (
                rt.venue,
                Arc::new(VenueState {
                    rt,
                    universe: RwLock::new(universe),
                    running,
                }),
            )
        })
        .collect();
    let shared = Arc::new(Shared {
        config: config.clone(),
        store: store.clone(),
        health: health.clone(),
        venues,
        planner: Arc::new(TopUpPlanner::new(catalog.clone())),
        cancel: cancel.clone(),
        tracker: TaskTracker::new(),
        streams: Mutex::new(BTreeMap::new()),
        events: events_tx,
        compaction_running: AtomicBool::new(false),
    });
    m::export_initial(&known_series(&config, &shared.venues));

    // Health watches every enabled job on every venue it applies to.
    for (job, schedule) in &config.jobs {
        let limit = schedule.period() * 2 + config.job_grace;
        if *job == JobKind::Compaction {
            health.watch(*job, None, limit);
        }
        for state in shared.venues.values() {
            if applies(*job, state) {
                health.watch(*job, Some(state.rt.venue), limit);
            }
        }
    }

    // HTTP first, so a bad address fails before anything else starts.
    let http = match config.metrics_address {
        Some(address) => {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|source| DaemonError::Listen { address, source })?;
            tracing::info!(%address, "serving /healthz and /metrics");
            Some(tokio::spawn(crate::http::serve(
                listener,
                shared.clone(),
                cancel.clone(),
            )))
        }
        None => None,
    };

    // Downtime since the last run: gaps for what nobody can serve afterwards.
    let state_file = StateFile::in_catalog(&catalog_root);
    let previous = state_file.read();
    let poll_from = record_downtime(&shared, previous, started_ns).await;
    if let Err(e) = state_file.write(DaemonState {
        last_alive_ns: started_ns,
        clean_stop: false,
    }) {
        tracing::warn!(file = %state_file.path().display(), error = %e, "cannot write the daemon state file; downtime after a crash will not be recorded");
    }

    // Stopped only once the streams are closed, so what they send while closing is stored.
    let consumer_stop = CancellationToken::new();
    let consumer = tokio::spawn(consume_events(
        events_rx,
        store.clone(),
        consumer_stop.clone(),
    ));
    let flusher = tokio::spawn(flush_loop(store.clone(), progress.clone(), cancel.clone()));
    let heartbeat = tokio::spawn(heartbeat_loop(state_file.clone(), cancel.clone()));

    // Streams for the venues whose symbol list is known (the others start once it is).
    for venue in shared.venues.keys().copied().collect::<Vec<_>>() {
        start_stream(&shared, venue, poll_from).await;
    }

    // The schedule, and a first run of every venue job now: snapshots at once, and the
    // history top-ups refill whatever happened since the last stored row.
    let mut scheduler = tokio_cron_scheduler::JobScheduler::new()
        .await
        .map_err(|e| DaemonError::Scheduler(e.to_string()))?;
    for (job, schedule) in &config.jobs {
        let job = *job;
        let shared_for_job = shared.clone();
        let cron = tokio_cron_scheduler::Job::new_async(schedule.expression(), move |_, _| {
            let shared = shared_for_job.clone();
            Box::pin(async move { fire(&shared, job) })
        })
        .map_err(|e| DaemonError::Scheduler(format!("{job}: {e}")))?;
        scheduler
            .add(cron)
            .await
            .map_err(|e| DaemonError::Scheduler(format!("{job}: {e}")))?;
        tracing::info!(job = %job, schedule = %schedule.expression(), "scheduled");
    }
    // Proof of life for the watchdog: the scheduler fires this every second.
    let ticks = progress.clone();
    let liveness = tokio_cron_scheduler::Job::new("* * * * * *", move |_, _| {
        ticks.scheduler_ticked();
    })
    .map_err(|e| DaemonError::Scheduler(format!("liveness tick: {e}")))?;
    scheduler
        .add(liveness)
        .await
        .map_err(|e| DaemonError::Scheduler(format!("liveness tick: {e}")))?;
    scheduler
        .start()
        .await
        .map_err(|e| DaemonError::Scheduler(e.to_string()))?;
    for job in [
        JobKind::OpenInterest,
        JobKind::Funding,
        JobKind::FundingHistory,
        JobKind::OpenInterestHistory,
        JobKind::Bars,
    ] {
        if config.schedule(job).is_some() {
            fire(&shared, job);
        }
    }
    tracing::info!(
        venues = shared.venues.len(),
        jobs = config.jobs.len(),
        "collecting"
    );
    progress.scheduler_ticked();
    notifier.ready(&format!(
        "collecting from {} venue(s), {} job(s)",
        shared.venues.len(),
        config.jobs.len()
    ));
    let watchdog = tokio::spawn(crate::notify::watchdog_loop(
        notifier.clone(),
        progress.clone(),
        cancel.clone(),
    ));

    shutdown.await;
    notifier.stopping();
    let stopping = Instant::now();
    let deadline = stopping + SHUTDOWN_BUDGET;
    tracing::info!("stopping: no new jobs; finishing what is in flight");
    let _ = tokio::time::timeout(Duration::from_secs(1), scheduler.shutdown()).await;
    cancel.cancel();
    shared.tracker.close();
    // Jobs get their grace while the streams close (cancelled with the same token).
    let slots: Vec<StreamSlot> = std::mem::take(&mut *shared.streams.lock().await)
        .into_values()
        .collect();
    let streams_closed = futures::future::join_all(slots.into_iter().map(|slot| {
        slot.cancel.cancel();
        slot.handle.join()
    }));
    let _ = tokio::join!(
        tokio::time::timeout(
            JOB_FINISH_GRACE + Duration::from_millis(500),
            shared.tracker.wait()
        ),
        tokio::time::timeout(Duration::from_secs(3), streams_closed),
    );
    consumer_stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(1), consumer).await;
    flusher.abort();
    heartbeat.abort();
    watchdog.abort();
    let left = deadline.saturating_duration_since(Instant::now());
    store.sync().await;
    let pending = store.pending_rows().await;
    let drained = match tokio::time::timeout(left, store.drain()).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "the last rows stay in the spool; the next start stores them");
            false
        }
        Err(_) => {
            tracing::warn!(
                "out of time: the last rows stay in the spool; the next start stores them"
            );
            false
        }
    };
    if let Err(e) = state_file.write(DaemonState {
        last_alive_ns: now_ns(),
        clean_stop: true,
    }) {
        tracing::warn!(error = %e, "cannot write the daemon state file");
    }
    if let Some(http) = http {
        let _ = tokio::time::timeout(Duration::from_millis(500), http).await;
    }
    Ok(RunSummary {
        uptime: started.elapsed(),
        final_drain_rows: pending,
        drained,
        shutdown: stopping.elapsed(),
    })
}

/// Records the downtime since the last heartbeat; returns where Hyperliquid's fill polling
/// should start (it can re-read up to its catch-up depth).
async fn record_downtime(shared: &Shared, previous: Option<DaemonState>, now: u64) -> Option<u64> {
    let previous = previous?;
    let from = previous.last_alive_ns;
    if now <= from + 1_000_000_000 {
        return None;
    }
    let why = if previous.clean_stop {
        "collector not running (stopped)"
    } else {
        "collector not running (crashed or killed)"
    };
    tracing::warn!(from = %format_iso(from), to = %format_iso(now), "{why}: refilling what the venues keep, recording the rest as gaps");
    let mut poll_from = None;
    for (venue, state) in &shared.venues {
        let gap = |stream: &str, start_ns: u64, end_ns: u64, reason: String| Gap {
            venue: *venue,
            stream: stream.to_string(),
            start_ns,
            end_ns,
            reason,
            ts_init: now,
        };
        if let Some(source) = &state.rt.source {
            match source {
                SourceConfig::HyperliquidPoll { interval, .. } => {
                    // Fills can be re-read up to the catch-up depth (with a margin).
                    let depth = ccxt_stream::hyperliquid_catch_up(*interval)
                        .saturating_sub(Duration::from_secs(30));
                    let earliest = now.saturating_sub(depth.as_nanos() as u64);
                    let start = from.max(earliest);
                    poll_from = Some(start);
                    if from < start {
                        shared
                            .store
                            .gap(gap(
                                "liquidations",
                                from,
                                start,
                                format!("{why}; older than the fills Hyperliquid lets us re-read"),
                            ))
                            .await;
                    }
                }
                _ => {
                    shared
                        .store
                        .gap(gap(
                            "liquidations",
                            from,
                            now,
                            format!("{why}; {venue} serves no liquidation history"),
                        ))
                        .await;
                }
            }
        }
        if !state.rt.oi_history && shared.config.schedule(JobKind::OpenInterest).is_some() {
            shared
                .store
                .gap(gap(
                    "open_interest",
                    from,
                    now,
                    format!("{why}; {venue} keeps no open-interest history"),
                ))
                .await;
        }
    }
    poll_from
}

/// Starts (or restarts) `venue`'s liquidation stream with its current universe.
async fn start_stream(shared: &Arc<Shared>, venue: Venue, poll_from: Option<u64>) {
    let Some(state) = shared.venues.get(&venue) else {
        return;
    };
    let Some(template) = &state.rt.source else {
        return;
    };
    let universe = state.universe.read().await.clone();
    let source = match (template, universe) {
        (SourceConfig::Binance { ws, .. }, u) => SourceConfig::Binance {
            ws: ws.clone(),
            symbols: if state.rt.all { None } else { u },
        },
        (SourceConfig::Bybit { .. }, None) => {
            tracing::info!(%venue, "liquidation stream waits for the instrument list");
            return;
        }
        (SourceConfig::Bybit { ws, .. }, Some(u)) => SourceConfig::Bybit {
            ws: ws.clone(),
            symbols: u,
        },
        (
            SourceConfig::HyperliquidPoll {
                transport,
                addresses,
                interval,
                ..
            },
            u,
        ) => SourceConfig::HyperliquidPoll {
            transport: transport.clone(),
            addresses: addresses.clone(),
            interval: *interval,
            symbols: if state.rt.all { None } else { u },
        },
        (other, _) => other.clone(),
    };
    if shared.cancel.is_cancelled() {
        return;
    }
    let mut streams = shared.streams.lock().await;
    if shared.cancel.is_cancelled() {
        return; // the shutdown took the streams while this waited
    }
    let mut base = VenueCounters::default();
    let restart_at = now_ns();
    if let Some(old) = streams.remove(&venue) {
        old.cancel.cancel();
        let stats = old.handle.stats();
        let _ = tokio::time::timeout(Duration::from_secs(3), old.handle.join()).await;
        // Its final counts carry over to the new stream.
        base = old.base;
        if let Some(live) = stats.snapshot().get(&venue) {
            base.add(live);
        }
    }
    let cancel = shared.cancel.child_token();
    let handle = ccxt_stream::spawn_from(
        vec![source],
        shared.events.clone(),
        cancel.clone(),
        poll_from,
    );
    if base.connects > 0 {
        // The stream was replaced: what passed between closing the old and subscribing the
        // new connection is recorded.
        let stats = handle.stats();
        let store = shared.store.clone();
        let stop = cancel.clone();
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while tokio::time::Instant::now() < deadline && !stop.is_cancelled() {
                if stats.snapshot().get(&venue).is_some_and(|c| c.connects > 0) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            store
                .gap(Gap {
                    venue,
                    stream: "liquidations".into(),
                    start_ns: restart_at,
                    end_ns: now_ns(),
                    reason: "resubscribed for a changed instrument list".into(),
                    ts_init: now_ns(),
                })
                .await;
        });
    }
    streams.insert(
        venue,
        StreamSlot {
            handle,
            cancel,
            base,
        },
    );
}

/// Starts `job` on every venue it applies to, skipping (with a warning) those whose previous
/// run is still going.
pub(crate) fn fire(shared: &Arc<Shared>, job: JobKind) {
    if shared.cancel.is_cancelled() {
        return;
    }
    if job == JobKind::Compaction {
        if shared.compaction_running.swap(true, Ordering::AcqRel) {
            tracing::warn!(job = %job, "previous run still going; this run is skipped");
            m::job_run(job, None, RunResult::Skipped, 0.0);
            return;
        }
        let shared = shared.clone();
        shared.tracker.clone().spawn(async move {
            run_guarded(&shared, job, None).await;
            shared.compaction_running.store(false, Ordering::Release);
        });
        return;
    }
    for (venue, state) in &shared.venues {
        if !applies(job, state) {
            continue;
        }
        let Some(flag) = state.running.get(&job) else {
            continue;
        };
        if flag.swap(true, Ordering::AcqRel) {
            tracing::warn!(job = %job, %venue, "previous run still going; this run is skipped");
            m::job_run(job, Some(*venue), RunResult::Skipped, 0.0);
            continue;
        }
        let shared = shared.clone();
        let state = state.clone();
        shared.tracker.clone().spawn(async move {
            run_guarded(&shared, job, Some(&state)).await;
            if let Some(flag) = state.running.get(&job) {
                flag.store(false, Ordering::Release);
            }
        });
    }
}

/// One run: time it, give it a grace period at shutdown, record the outcome.
async fn run_guarded(shared: &Arc<Shared>, job: JobKind, state: Option<&Arc<VenueState>>) {
    let venue = state.map(|s| s.rt.venue);
    let started = Instant::now();
    let work = run_job(shared, job, state);
    tokio::pin!(work);
    let result = tokio::select! {
        r = &mut work => Some(r),
        () = shared.cancel.cancelled() => {
            tokio::time::timeout(JOB_FINISH_GRACE, &mut work).await.ok()
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let venue_label = venue.map_or("all", Venue::as_str);
    match result {
        Some(Ok(summary)) => {
            let now = now_ns();
            shared.health.success(job, venue, now);
            m::job_success(job, venue, now as f64 / 1e9);
            m::job_run(job, venue, RunResult::Ok, seconds);
            tracing::info!(job = %job, venue = venue_label, seconds = format!("{seconds:.2}"), "{summary}");
        }
        Some(Err(error)) => {
            m::job_run(job, venue, RunResult::Error, seconds);
            tracing::warn!(job = %job, venue = venue_label, %error, "job failed; the next run retries");
        }
        None => {
            tracing::warn!(job = %job, venue = venue_label, "job cancelled by the shutdown");
        }
    }
}

async fn run_job(
    shared: &Arc<Shared>,
    job: JobKind,
    state: Option<&Arc<VenueState>>,
) -> Result<String, String> {
    let Some(state) = state else {
        let report = match shared.store.catalog().compact().await {
            Ok(report) => report,
            Err(e) => {
                let message = format!("compaction failed: {e}");
                shared.store.catalog_write_failed(&message).await;
                return Err(message);
            }
        };
        return Ok(format!("compacted: {report:?}"));
    };
    match job {
        JobKind::Instruments => refresh_instruments(shared, state).await,
        JobKind::OpenInterest => {
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
        JobKind::Funding => {
            let instruments = universe(shared, state).await?;
            let results = state.rt.fetcher.current_funding(&instruments).await;
            let (snapshots, failed) = split(results);
            let n = snapshots.len();
            let (rows, prices) = snapshots.into_iter().map(|s| (s.funding, s.prices)).unzip();
            shared.store.funding(rows).await;
            shared.store.prices(prices).await;
            outcome("funding snapshot", n, instruments.len(), failed)
        }
        JobKind::FundingHistory | JobKind::OpenInterestHistory => top_up(shared, state, job).await,
        JobKind::Bars => bars_top_up(shared, state).await,
        JobKind::Compaction => Ok(String::new()),
    }
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

/// The instruments collected on a venue now, listing them first if `--all` and not known yet.
async fn universe(
    shared: &Arc<Shared>,
    state: &Arc<VenueState>,
) -> Result<Vec<Instrument>, String> {
    if let Some(list) = state.universe.read().await.clone() {
        return Ok(list);
    }
    refresh_instruments(shared, state).await?;
    state
        .universe
        .read()
        .await
        .clone()
        .ok_or_else(|| "the instrument list is not known yet".to_string())
}

async fn refresh_instruments(
    shared: &Arc<Shared>,
    state: &Arc<VenueState>,
) -> Result<String, String> {
    let venue = state.rt.venue;
    let list = state
        .rt
        .fetcher
        .instruments()
        .await
        .map_err(|e| format!("cannot list instruments: {e}"))?;
    let trading: Vec<Instrument> = list
        .iter()
        .filter(|i| i.status == InstrumentStatus::Trading)
        .map(|i| i.instrument.clone())
        .collect();
    for configured in &state.rt.symbols {
        match list.iter().find(|i| i.instrument == *configured) {
            None => {
                tracing::warn!(%venue, symbol = %configured.native, "configured symbol is not listed by the venue")
            }
            Some(i) if i.status != InstrumentStatus::Trading => {
                tracing::warn!(%venue, symbol = %configured.native, status = ?i.status, "configured symbol is not trading")
            }
            Some(_) => {}
        }
    }
    if !state.rt.all {
        m::instruments(venue, state.rt.symbols.len());
        return Ok(format!("{} listed; configured symbols checked", list.len()));
    }
    let mut next: Vec<Instrument> = state.rt.symbols.clone();
    next.extend(trading);
    next.sort();
    next.dedup();
    let previous = state.universe.read().await.clone();
    let (added, removed) = match &previous {
        None => (next.len(), 0),
        Some(old) => (
            next.iter().filter(|i| !old.contains(i)).count(),
            old.iter().filter(|i| !next.contains(i)).count(),
        ),
    };
    if previous.is_some() && added + removed > 0 {
        tracing::info!(%venue, added, removed, "instrument list changed");
    }
    m::instruments(venue, next.len());
    let total = next.len();
    *state.universe.write().await = Some(next);
    let restart = match &state.rt.source {
        // Binance streams every symbol on one all-market stream, Hyperliquid polls all fills:
        // only Bybit subscribes per symbol.
        Some(SourceConfig::Bybit { .. }) => previous.is_none() || added + removed > 0,
        _ => false,
    };
    if restart {
        let shared = shared.clone();
        tokio::spawn(async move { start_stream(&shared, venue, None).await });
    }
    Ok(format!("{total} instruments ({added} new, {removed} gone)"))
}

async fn top_up(
    shared: &Arc<Shared>,
    state: &Arc<VenueState>,
    job: JobKind,
) -> Result<String, String> {
    let venue = state.rt.venue;
    let instruments = universe(shared, state).await?;
    let now = now_ns();
    let (orchestrator_job, history, kind) = match job {
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
    };
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
    let mut stored = 0;
    let mut failed = Vec::new();
    for o in &outcomes {
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
    let mut notes: Vec<&String> = outcomes.iter().flat_map(|o| &o.notes).collect();
    notes.sort();
    notes.dedup();
    if let Some(first) = notes.first() {
        tracing::info!(%venue, notes = notes.len(), first = %first, "history top-up: venue limits applied");
    }
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

async fn consume_events(
    mut rx: mpsc::Receiver<StreamEvent>,
    store: Arc<Store>,
    stop: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            e = rx.recv() => e,
            () = stop.cancelled() => {
                // The streams are closed: take what they sent last.
                while let Ok(event) = rx.try_recv() {
                    handle_event(event, &store).await;
                }
                return;
            }
        };
        match event {
            Some(event) => handle_event(event, &store).await,
            None => return,
        }
    }
}

/// Stores what the streams deliver. (The streams log and count every event where it happens.)
async fn handle_event(event: StreamEvent, store: &Store) {
    match event {
        StreamEvent::Liquidations { rows, .. } => store.liquidations(rows).await,
        StreamEvent::Gap(gap) => store.gap(gap).await,
        StreamEvent::Connected { .. }
        | StreamEvent::Disconnected { .. }
        | StreamEvent::SubscriptionRejected { .. }
        | StreamEvent::Malformed { .. } => {}
    }
}

/// Syncs the spool every `sync_every` and starts a drain when one is due. Drains run in their
/// own task, so a slow catalog write never holds up the syncs (the durability window).
async fn flush_loop(store: Arc<Store>, progress: Arc<Progress>, cancel: CancellationToken) {
    let policy = store.policy();
    let mut sync_tick = tokio::time::interval(policy.sync_every);
    sync_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_flush = tokio::time::Instant::now();
    let mut drain: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        tokio::select! {
            _ = sync_tick.tick() => {}
            () = cancel.cancelled() => return,
        }
        store.sync().await;
        progress.writer_ticked();
        let due = last_flush.elapsed() >= policy.flush_every
            || store.pending_rows().await >= policy.flush_rows;
        if due && drain.as_ref().is_none_or(|d| d.is_finished()) {
            last_flush = tokio::time::Instant::now();
            let store = store.clone();
            let progress = progress.clone();
            drain = Some(tokio::spawn(async move {
                progress.drain_started();
                if let Ok(report) = store.drain().await
                    && report.segments > 0
                {
                    tracing::debug!(rows_added = report.written.rows_added, "spool flushed");
                }
                progress.drain_finished();
            }));
        }
    }
}

async fn heartbeat_loop(file: StateFile, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = cancel.cancelled() => return,
        }
        let state = DaemonState {
            last_alive_ns: now_ns(),
            clean_stop: false,
        };
        let file = file.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Err(e) = file.write(state) {
                tracing::warn!(error = %e, "cannot write the daemon state file");
            }
        })
        .await;
    }
}

/// The top-ups' catalog sink, reporting its write failures to the store (metrics, `/healthz`).
pub(crate) struct ObservedSink {
    inner: CatalogSink,
    store: Arc<Store>,
}

impl ObservedSink {
    /// A sink writing to the store's catalog.
    pub(crate) fn new(store: Arc<Store>) -> ObservedSink {
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
