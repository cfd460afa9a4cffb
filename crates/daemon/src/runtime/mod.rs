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
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use ccxt_catalog::Catalog;
use ccxt_model::time::now_ns;
use ccxt_model::{Instrument, Venue};
use ccxt_stream::{FeedKind, SourceConfig, StreamEvent};
use ccxt_transport::HttpTransport;
use ccxt_venue::Fetcher;
use tokio::sync::{RwLock, mpsc};
use tokio_util::sync::CancellationToken;

use crate::config::{DaemonConfig, JobKind};
use crate::metrics as m;
use crate::notify::{Notifier, Progress};
use crate::shard::Ownership;
use crate::state::{DaemonState, StateFile};
use crate::store::{FlushPolicy, Store, WriteFaults};
use shared::{VenueState, applies, known_series};

mod background;
mod compaction;
mod downtime;
mod instruments;
mod jobs;
mod scheduler;
mod shared;
mod shutdown;
mod streams;

pub(crate) use shared::Shared;

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
    /// The daemon's spool directory, on local disk (`<catalog>/.spool/daemon` for a local
    /// catalog by default). One daemon (one shard) per directory: the catalog's write lock
    /// (per shard when sharded) keeps a second one out.
    pub spool_dir: PathBuf,
    /// The local directory of the state file (`<state_dir>/.daemon/state.json`): the catalog
    /// root by default for a local catalog.
    pub state_dir: PathBuf,
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
    /// Why the run stopped by itself: its write lease on the object store was lost (the
    /// caller exits with an error, so a supervisor restarts it). `None` after a signal.
    pub lease_lost: Option<String>,
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
    let started = Instant::now();
    let started_ns = now_ns();
    let notifier = Arc::new(hooks.notifier);
    let progress = Arc::new(Progress::new());
    let DaemonPlan {
        venues,
        catalog,
        spool_dir,
        state_dir,
        config,
        flush,
    } = plan;
    let ownership = ownership(config.shard, &venues);
    let venues = owned_venues(&ownership, venues);
    let store = open_store(&catalog, &spool_dir, flush, hooks.faults, &ownership).await?;
    let (events_tx, events_rx) = mpsc::channel::<StreamEvent>(8192);
    let shared = Arc::new(Shared::new(
        config.clone(),
        store.clone(),
        catalog,
        venue_states(venues, &ownership),
        events_tx,
        started_ns,
        ownership,
    ));
    announce_shard(&shared).await;
    m::export_initial(&known_series(&config, &shared.venues));
    watch_jobs(&shared);
    // HTTP first, so a bad address fails before anything else starts.
    let http = serve_http(&shared).await?;
    let state_file = StateFile::in_dir(&state_dir);
    let poll_from = downtime::record(&shared, state_file.read(), started_ns).await;
    write_state(&state_file, started_ns, false);
    let tasks = start_tasks(&shared, events_rx, &progress, &state_file);
    // Streams for the venues whose symbol list is known (the others start once it is).
    for venue in shared.venues.keys().copied().collect::<Vec<_>>() {
        streams::start_stream(&shared, venue, poll_from).await;
    }
    let scheduler = scheduler::start(&shared, &progress).await?;
    scheduler::fire_first_runs(&shared);
    let watchdog = announce_ready(&shared, &notifier, &progress);

    // A writer that lost its lease on an object store (taken over, or not renewed in time)
    // must not write any more: it stops as on a signal (the rows stay in the spool) and
    // reports why, so its supervisor restarts it and it takes the lock again.
    let lease_lost = tokio::select! {
        () = shutdown => None,
        reason = lease_lost(shared.store.catalog().clone()) => Some(reason),
    };
    if let Some(reason) = &lease_lost {
        tracing::error!(error = %reason, "lost the catalog's write lease: stopping");
    }
    notifier.stopping();
    let stopping = Instant::now();
    let end = shutdown::stop(
        &shared,
        scheduler,
        tasks,
        watchdog,
        stopping + SHUTDOWN_BUDGET,
    )
    .await;
    write_state(&state_file, now_ns(), lease_lost.is_none());
    if let Some(http) = http {
        let _ = tokio::time::timeout(Duration::from_millis(500), http).await;
    }
    Ok(RunSummary {
        uptime: started.elapsed(),
        final_drain_rows: end.pending,
        drained: end.drained,
        shutdown: stopping.elapsed(),
        lease_lost,
    })
}

/// Resolves (with the reason) once the catalog may no longer be written: its write lease on
/// an object store is lost. Never on a local disk.
async fn lease_lost(catalog: Arc<Catalog>) -> String {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        if let Err(e) = catalog.check_writable() {
            return e.to_string();
        }
    }
}

/// Opens the spool in front of the catalog and stores first what an earlier run left in it.
async fn open_store(
    catalog: &Arc<Catalog>,
    spool_dir: &Path,
    flush: FlushPolicy,
    faults: Arc<WriteFaults>,
    ownership: &Ownership,
) -> Result<Arc<Store>, DaemonError> {
    let mut store = Store::open_with_faults(catalog.clone(), spool_dir, flush, faults)?;
    if ownership.shard().is_sharded() {
        store.keep_only(ownership.predicate());
    }
    let store = Arc::new(store);
    match store.drain_all().await {
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
    Ok(store)
}

/// What `shard` owns of `venues`, given each venue's liquidation feed kind: what the daemon
/// collects, and the datasets its catalog writer must own (pass
/// [`Ownership::predicate`] to `Catalog::open_writable_as`).
pub fn ownership(shard: crate::Shard, venues: &[VenueRuntime]) -> Ownership {
    Ownership::new(
        shard,
        venues.iter().filter_map(|rt| {
            rt.source
                .as_ref()
                .and_then(SourceConfig::feed_kind)
                .map(|kind| (rt.venue, kind))
        }),
    )
}

/// The venues as this shard runs them: without the liquidation feed another shard runs (a
/// whole-market feed or a poll owned by another shard, or a per-symbol feed with none of the
/// named symbols here), and without the venues where it has nothing to do at all.
fn owned_venues(ownership: &Ownership, venues: Vec<VenueRuntime>) -> Vec<VenueRuntime> {
    let shard = ownership.shard();
    if !shard.is_sharded() {
        return venues;
    }
    venues
        .into_iter()
        .filter_map(|mut rt| {
            let owned = rt
                .symbols
                .iter()
                .filter(|i| ownership.owns_instrument(i))
                .count();
            let runs_feed = match rt.source.as_ref().and_then(SourceConfig::feed_kind) {
                Some(FeedKind::PerSymbolSocket) => rt.all || owned > 0,
                Some(kind) => shard.runs_feed(rt.venue, kind),
                None => rt.source.is_some() && shard.owns_venue(rt.venue),
            };
            if !runs_feed {
                rt.source = None;
            }
            let keep = rt.all || owned > 0 || rt.source.is_some();
            if !keep {
                tracing::info!(venue = %rt.venue, %shard, "no instrument and no liquidation feed of this venue in this shard: not collected here");
            }
            keep.then_some(rt)
        })
        .collect()
}

/// Logs which shard this is and what it owns (with `--all`, the instrument counts follow at
/// each venue's first list), and exports the shard as metrics.
async fn announce_shard(shared: &Shared) {
    let shard = shared.ownership.shard();
    m::shard(shard.index, shard.count);
    if !shard.is_sharded() {
        return;
    }
    m::rows_not_owned(ccxt_model::RecordKind::Gap, 0);
    let mut instruments = 0;
    let mut owned = Vec::new();
    for (venue, state) in &shared.venues {
        let universe = state.universe.read().await;
        let n = universe.as_ref().map_or(0, Vec::len);
        instruments += n;
        let listed = if universe.is_some() {
            format!("{n} instrument(s)")
        } else {
            "instruments at the first list".to_string()
        };
        let feed = match state.rt.source.as_ref().and_then(SourceConfig::feed_kind) {
            Some(FeedKind::PerSymbolSocket) => "liquidations of its symbols",
            Some(_) => "the whole venue's liquidations",
            None => "no liquidations",
        };
        owned.push(format!("{venue}: {listed}, {feed}"));
    }
    let streams = shared
        .venues
        .values()
        .filter(|s| s.rt.source.is_some())
        .count();
    tracing::info!(%shard, instruments, streams, "shard {shard}: owns {}", owned.join("; "));
}

/// Each venue's state: its universe (this shard's part of it) is known at once unless
/// `--all` asks for the venue's list.
fn venue_states(
    venues: Vec<VenueRuntime>,
    ownership: &Ownership,
) -> BTreeMap<Venue, Arc<VenueState>> {
    venues
        .into_iter()
        .map(|rt| {
            let universe = if rt.all {
                None
            } else {
                Some(
                    rt.symbols
                        .iter()
                        .filter(|i| ownership.owns_instrument(i))
                        .cloned()
                        .collect(),
                )
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
        .collect()
}

/// Health watches every enabled job on every venue it applies to.
fn watch_jobs(shared: &Shared) {
    let config = &shared.config;
    for (job, schedule) in &config.jobs {
        let limit = schedule.period() * 2 + config.job_grace;
        if *job == JobKind::Compaction {
            shared.health.watch(*job, None, limit);
        }
        for state in shared.venues.values() {
            if applies(*job, state) {
                shared.health.watch(*job, Some(state.rt.venue), limit);
            }
        }
    }
}

/// Binds the health/metrics address (if any) and serves `/healthz` and `/metrics`.
async fn serve_http(
    shared: &Arc<Shared>,
) -> Result<Option<tokio::task::JoinHandle<()>>, DaemonError> {
    let Some(address) = shared.config.metrics_address else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| DaemonError::Listen { address, source })?;
    tracing::info!(%address, "serving /healthz and /metrics");
    Ok(Some(tokio::spawn(crate::http::serve(
        listener,
        shared.clone(),
        shared.cancel.clone(),
    ))))
}

/// Records that the daemon is alive now (`clean_stop` at the end of a run).
fn write_state(file: &StateFile, last_alive_ns: u64, clean_stop: bool) {
    if let Err(e) = file.write(DaemonState {
        last_alive_ns,
        clean_stop,
    }) {
        if clean_stop {
            tracing::warn!(error = %e, "cannot write the daemon state file");
        } else {
            tracing::warn!(file = %file.path().display(), error = %e, "cannot write the daemon state file; downtime after a crash will not be recorded");
        }
    }
}

/// Starts the event consumer, the flusher and the heartbeat.
fn start_tasks(
    shared: &Shared,
    events: mpsc::Receiver<StreamEvent>,
    progress: &Arc<Progress>,
    state_file: &StateFile,
) -> shutdown::Tasks {
    // Stopped only once the streams are closed, so what they send while closing is stored.
    let consumer_stop = CancellationToken::new();
    let consumer = tokio::spawn(streams::consume_events(
        events,
        shared.store.clone(),
        consumer_stop.clone(),
    ));
    let flusher = tokio::spawn(background::flush_loop(
        shared.store.clone(),
        progress.clone(),
        shared.cancel.clone(),
    ));
    let heartbeat = tokio::spawn(background::heartbeat_loop(
        state_file.clone(),
        shared.cancel.clone(),
    ));
    shutdown::Tasks {
        consumer,
        consumer_stop,
        flusher,
        heartbeat,
    }
}

/// Logs and tells systemd that collection runs; starts the watchdog.
fn announce_ready(
    shared: &Shared,
    notifier: &Arc<Notifier>,
    progress: &Arc<Progress>,
) -> tokio::task::JoinHandle<()> {
    let jobs = shared.config.jobs.len();
    tracing::info!(venues = shared.venues.len(), jobs, "collecting");
    progress.scheduler_ticked();
    notifier.ready(&format!(
        "collecting from {} venue(s), {jobs} job(s)",
        shared.venues.len(),
    ));
    tokio::spawn(crate::notify::watchdog_loop(
        notifier.clone(),
        progress.clone(),
        shared.cancel.clone(),
    ))
}
