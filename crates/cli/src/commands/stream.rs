//! `ccxt-cli stream-liquidations`: live liquidations, printed and/or stored through the spool.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ccxt_catalog::spool::{DrainReport, Spool};
use ccxt_catalog::{Catalog, MAX_CLOCK_SKEW_NS, Query};
use ccxt_model::time::{format_iso, now_ns};
use ccxt_model::{Instrument, Liquidation, RecordKind, Venue};
use ccxt_stream::heartbeat::{Heartbeat, HeartbeatFile};
use ccxt_stream::{FeedKind, LiquidationKey, Resume, SourceConfig, StreamEvent, StreamStats};
use ccxt_venue::InstrumentStatus;
use tokio_util::sync::CancellationToken;

use crate::UsageError;
use crate::cli::{OutputFormat, StreamArgs};
use crate::inputs::{selected_venues, symbols_on};
use crate::output::Streamer;
use crate::registry;
use crate::rows::liquidation_rows;
use crate::settings::{FileSettings, LocalDirs};

#[derive(Debug, Default)]
struct VenueCounts {
    liquidations: u64,
    usd: f64,
    reconnects: u64,
    gaps: u64,
    gap_secs: f64,
    malformed: u64,
}

/// Runs `stream-liquidations` until Ctrl+C, SIGTERM or `--duration`.
pub async fn run(
    location: &str,
    dirs: &LocalDirs,
    settings: &FileSettings,
    args: StreamArgs,
) -> anyhow::Result<ExitCode> {
    if args.symbols.is_empty() && !args.all {
        return Err(
            UsageError("give at least one SYMBOL, or --all for every perpetual".into()).into(),
        );
    }
    if args.format == OutputFormat::Csv {
        return Err(UsageError("stream-liquidations prints table, json or ndjson".into()).into());
    }
    tracing::debug!("glibc malloc settings: {}", crate::malloc::in_effect());
    let venues = selected_venues(&args.venues);
    let sources = sources(settings, &args, &venues).await?;
    if sources.is_empty() {
        return Err(UsageError(
            "no stream to open: the symbols exist on none of the selected venues".into(),
        )
        .into());
    }
    // Storage: the catalog behind a write-ahead spool; leftovers of a crashed run go in first.
    let streamed: Vec<Venue> = venues
        .iter()
        .copied()
        .filter(|v| sources.iter().any(|s| s.venues().contains(v)))
        .collect();
    let storage = if args.store {
        Some(Storage::open(location, &settings.storage_options(), dirs, &streamed).await?)
    } else {
        None
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<StreamEvent>(4096);
    let cancel = CancellationToken::new();
    // A stored stream resumes after its downtime: recorded as gaps, re-read where it can be.
    let resume = storage
        .as_ref()
        .map(|s| s.resume.clone())
        .unwrap_or_default();
    let handle = ccxt_stream::spawn_resuming(sources, tx, cancel.clone(), &resume);
    let mut session = Session {
        stats: handle.stats(),
        rx,
        printer: Printer::new(args.format, args.quiet),
        counts: venues
            .iter()
            .map(|v| (*v, VenueCounts::default()))
            .collect(),
        storage,
    };
    let stop_reason = session
        .run(
            // The `[spool]` settings the daemon uses too (checked with every other setting
            // before any command runs; its hold policy is the daemon's alone).
            settings.spool.policy().map_err(crate::ConfigProblems)?,
            args.duration,
        )
        .await?;
    // Stop the streams (a poller makes a last poll), take what is still in flight, store
    // everything.
    let stopped_ns = now_ns();
    cancel.cancel();
    handle.join().await;
    let stored = session.finish(stopped_ns).await?;
    print_summary(stop_reason, &session.counts, stored, location);
    Ok(ExitCode::SUCCESS)
}

/// A running `stream-liquidations`: the events coming in and where they go.
struct Session {
    stats: Arc<StreamStats>,
    rx: tokio::sync::mpsc::Receiver<StreamEvent>,
    printer: Printer,
    counts: BTreeMap<Venue, VenueCounts>,
    storage: Option<Storage>,
}

impl Session {
    /// Handles events (syncing, flushing and beating on their ticks) until the streams end,
    /// the duration is reached or a signal comes; why it stopped.
    async fn run(
        &mut self,
        timing: ccxt_daemon::FlushPolicy,
        duration: Option<Duration>,
    ) -> anyhow::Result<&'static str> {
        let mut sync_tick = tokio::time::interval(timing.sync_every);
        let mut flush_tick = tokio::time::interval(timing.flush_every);
        let mut heartbeat_tick = tokio::time::interval(HEARTBEAT);
        let deadline = duration.map(|d| tokio::time::Instant::now() + d);
        // Made once, not per event: a timer and signal listeners set up again for every
        // event cost more than the event, and a signal arriving between two listeners would
        // be missed.
        let until_deadline = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let shutdown = shutdown_signal();
        tokio::pin!(until_deadline, shutdown);
        loop {
            tokio::select! {
                event = self.rx.recv() => {
                    let Some(event) = event else { return Ok("all streams ended") };
                    handle_event(event, &mut self.counts, &mut self.printer, self.storage.as_mut())?;
                    if let Some(s) = self.storage.as_mut()
                        && s.spool.pending_rows() >= timing.flush_rows
                    {
                        s.drain().await?;
                    }
                }
                _ = sync_tick.tick() => {
                    if let Some(s) = self.storage.as_mut() {
                        s.sync(&self.stats)?;
                    }
                }
                _ = flush_tick.tick() => {
                    if let Some(s) = self.storage.as_mut() {
                        s.drain().await?;
                    }
                }
                _ = heartbeat_tick.tick() => {
                    if let Some(s) = self.storage.as_mut() {
                        s.beat(None);
                    }
                }
                _ = &mut until_deadline => return Ok("duration reached"),
                _ = &mut shutdown => return Ok("signal received"),
            }
        }
    }

    /// After the streams stopped: handles what was still in flight, stores everything and
    /// records the clean stop; what was stored, if storing.
    async fn finish(&mut self, stopped_ns: u64) -> anyhow::Result<Option<DrainReport>> {
        while let Ok(event) = self.rx.try_recv() {
            handle_event(
                event,
                &mut self.counts,
                &mut self.printer,
                self.storage.as_mut(),
            )?;
        }
        self.printer.finish()?;
        let mut stored = None;
        if let Some(mut s) = self.storage.take() {
            s.drain().await?;
            // Stopped cleanly, everything stored (a stream never subscribed recorded its open
            // gap up to the stop): the next start records the downtime from here.
            s.beat(Some(stopped_ns));
            stored = Some(s.stored);
            // Release the write lock now (an object store's lease is deleted, so the next
            // writer need not wait for it to expire).
            s.catalog.close().await;
        }
        let snapshot = self.stats.snapshot();
        for (venue, c) in self.counts.iter_mut() {
            if let Some(s) = snapshot.get(venue) {
                c.reconnects = s.reconnects;
            }
        }
        Ok(stored)
    }
}

/// The per-venue summary on stderr.
fn print_summary(
    stop_reason: &str,
    counts: &BTreeMap<Venue, VenueCounts>,
    stored: Option<DrainReport>,
    location: &str,
) {
    eprintln!("stopped ({stop_reason}):");
    for (venue, c) in counts {
        eprintln!(
            "  {:<12} {:>8} liquidations  {:>16.2} USD  {:>4} reconnects  {:>4} gaps ({:.1} s)  {} malformed",
            venue.as_str(),
            c.liquidations,
            c.usd,
            c.reconnects,
            c.gaps,
            c.gap_secs,
            c.malformed
        );
    }
    if let Some(stored) = stored {
        eprintln!(
            "  stored {} new liquidations and {} gaps in '{location}'",
            stored.liquidations_added, stored.gaps_added
        );
    }
}

/// How often a storing run rewrites its heartbeat file.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// Where `--store` puts rows: the catalog (held for the whole run) behind a write-ahead spool,
/// and the heartbeat file from which the next start knows this run's downtime.
///
/// A venue's heartbeat moves only once its stream covers it again (a WebSocket subscribed,
/// which comes after the downtime gap it records; a poll made) and only to the last spool
/// sync, so a `kill -9` at any moment leaves a heartbeat from which the next start records
/// every stretch not stored: the downtime gap itself and the rows not yet synced.
struct Storage {
    catalog: Catalog,
    spool: Spool,
    heartbeat_file: HeartbeatFile,
    heartbeat: Heartbeat,
    /// The venues streamed.
    venues: Vec<Venue>,
    /// Where each venue resumes after the previous run's downtime.
    resume: BTreeMap<Venue, Resume>,
    /// Venues whose stream covers them again, as of the last sync.
    covered: BTreeSet<Venue>,
    /// Venues whose WebSocket subscribed since the last sync.
    subscribed: BTreeSet<Venue>,
    /// When the last spool sync began: everything received before is durable.
    synced_ns: u64,
    /// What this run's drains stored (not counting an earlier run's leftovers).
    stored: DrainReport,
}

/// The keys of `venue`'s liquidations stored from (about) `since_ns` on: those a re-read of
/// the venue's fills from `since_ns` (less the poll overlap) can deliver again.
async fn stored_keys(
    catalog: &Catalog,
    venue: Venue,
    since_ns: u64,
    now_ns: u64,
) -> anyhow::Result<Vec<LiquidationKey>> {
    let suffix = format!(".{}", venue.nautilus_venue());
    let instruments: Vec<_> = catalog
        .instruments(RecordKind::Liquidation)
        .await?
        .into_iter()
        .filter(|id| id.as_str().ends_with(&suffix))
        .collect();
    if instruments.is_empty() {
        return Ok(Vec::new());
    }
    let reach = ccxt_stream::poll::POLL_OVERLAP.as_nanos() as u64 + MAX_CLOCK_SKEW_NS;
    let query = Query {
        instruments,
        start: since_ns.saturating_sub(reach),
        end: now_ns,
        limit: None,
    };
    let (rows, _) = catalog.query::<Liquidation>(&query).await?;
    Ok(rows.iter().map(LiquidationKey::of).collect())
}

impl Storage {
    /// Takes the catalog (refused if another process writes to it), stores what an earlier
    /// run left in the spool, and reads that run's heartbeat.
    async fn open(
        location: &str,
        options: &ccxt_catalog::StorageOptions,
        dirs: &LocalDirs,
        venues: &[Venue],
    ) -> anyhow::Result<Storage> {
        let (catalog, _) = Catalog::open_writable_as(
            location,
            options,
            "stream-liquidations",
            ccxt_catalog::LockScope::Catalog,
            None,
        )
        .await?;
        let mut spool = Spool::open(&dirs.spool.join("liquidations"))?;
        let leftovers = spool.drain_into(&catalog).await?;
        if leftovers.segments > 0 {
            eprintln!(
                "recovered {} liquidation(s) and {} gap(s) from the spool of an earlier run ({} new)",
                leftovers.liquidations,
                leftovers.gaps,
                leftovers.liquidations_added + leftovers.gaps_added
            );
        }
        let heartbeat_file = HeartbeatFile::new(dirs.state.join(".stream").join("state.json"));
        let mut heartbeat = heartbeat_file.read().unwrap_or_default();
        let now = now_ns();
        let mut resume = heartbeat.resume(venues, "stream-liquidations", now);
        for (venue, r) in resume.iter_mut() {
            if registry::liquidation_kind(*venue) == FeedKind::Poll {
                // Its poll re-reads the downtime: what is stored already is not delivered again.
                r.known = stored_keys(&catalog, *venue, r.since_ns, now).await?;
            }
        }
        // A venue never streamed before has no downtime: it starts now.
        let new: Vec<Venue> = venues
            .iter()
            .copied()
            .filter(|v| !heartbeat.venues.contains_key(v.as_str()))
            .collect();
        heartbeat.beat(&new, now, false);
        let storage = Storage {
            catalog,
            spool,
            heartbeat_file,
            heartbeat,
            venues: venues.to_vec(),
            resume,
            covered: BTreeSet::new(),
            subscribed: BTreeSet::new(),
            synced_ns: now,
            stored: DrainReport::default(),
        };
        storage.write_heartbeat();
        Ok(storage)
    }

    /// Makes everything appended durable; venues that subscribed before count as covered.
    fn sync(&mut self, stats: &StreamStats) -> anyhow::Result<()> {
        let started = now_ns();
        self.spool.sync()?;
        self.synced_ns = started;
        self.covered.append(&mut self.subscribed);
        // A poll that succeeded has sent its gap (if any) before counting itself.
        for (venue, counters) in stats.snapshot() {
            if counters.polls > 0 {
                self.covered.insert(venue);
            }
        }
        Ok(())
    }

    /// Moves the spool into the catalog, counting what is new.
    async fn drain(&mut self) -> anyhow::Result<()> {
        let report = self.spool.drain_into(&self.catalog).await?;
        self.stored.add(&report);
        Ok(())
    }

    /// Rewrites the heartbeat file: the covered venues alive at the last sync, or, after a
    /// clean stop (`Some(stop)`, everything stored), every streamed venue at `stop`.
    fn beat(&mut self, clean_stop: Option<u64>) {
        match clean_stop {
            Some(stop) => self.heartbeat.beat(&self.venues, stop, true),
            None => {
                let covered: Vec<Venue> = self.covered.iter().copied().collect();
                self.heartbeat.beat(&covered, self.synced_ns, false);
            }
        }
        self.write_heartbeat();
    }

    fn write_heartbeat(&self) {
        if let Err(e) = self.heartbeat_file.write(&self.heartbeat) {
            tracing::warn!(file = %self.heartbeat_file.path().display(), error = %e, "cannot write the heartbeat file; downtime after a crash will not be recorded");
        }
    }
}

fn handle_event(
    event: StreamEvent,
    counts: &mut BTreeMap<Venue, VenueCounts>,
    printer: &mut Printer,
    storage: Option<&mut Storage>,
) -> anyhow::Result<()> {
    match event {
        StreamEvent::Liquidations { venue, rows } => {
            let c = counts.entry(venue).or_default();
            c.liquidations += rows.len() as u64;
            c.usd += rows.iter().map(|r| r.value).sum::<f64>();
            if let Some(s) = storage {
                s.spool.append_liquidations(&rows)?;
            }
            printer.print(&rows)?;
        }
        StreamEvent::Gap(gap) => {
            let c = counts.entry(gap.venue).or_default();
            c.gaps += 1;
            c.gap_secs += gap.duration_ns() as f64 / 1e9;
            if let Some(s) = storage {
                s.spool.append_gap(&gap)?;
            }
        }
        StreamEvent::Malformed { venue, .. } => counts.entry(venue).or_default().malformed += 1,
        // After the downtime gap of a resumed stream (sent before it).
        StreamEvent::Connected { venue, .. } => {
            if let Some(s) = storage {
                s.subscribed.insert(venue);
            }
        }
        // Logged where they happen, by the stream.
        StreamEvent::Disconnected { .. } | StreamEvent::SubscriptionRejected { .. } => {}
    }
    Ok(())
}

/// The sources for the selected venues and symbols.
async fn sources(
    settings: &FileSettings,
    args: &StreamArgs,
    venues: &[Venue],
) -> anyhow::Result<Vec<SourceConfig>> {
    let mut problems = Vec::new();
    let mut sources = Vec::new();
    for venue in venues {
        let vs = settings.venues.get(*venue);
        let mut instruments = symbols_on(*venue, &args.symbols, !args.venues.is_empty())?;
        if !args.all && instruments.is_empty() {
            continue;
        }
        let per_symbol = registry::liquidation_kind(*venue) == FeedKind::PerSymbolSocket;
        if args.all && per_symbol {
            // A per-symbol feed needs the list: ask the venue.
            match registry::connect(*venue, vs) {
                Ok(c) => match c.fetcher.instruments().await {
                    Ok(list) => instruments.extend(
                        list.into_iter()
                            .filter(|i| i.status == InstrumentStatus::Trading)
                            .map(|i| i.instrument),
                    ),
                    Err(e) => {
                        problems.push(format!("{venue}: cannot list instruments for --all: {e}"))
                    }
                },
                Err(errors) => problems.extend(errors),
            }
        }
        instruments.sort();
        instruments.dedup();
        let symbols = if args.all && !per_symbol {
            None
        } else {
            Some(instruments)
        };
        match registry::liquidation_source(*venue, vs, symbols) {
            Ok(source) => sources.push(source),
            Err(errors) => problems.extend(errors),
        }
    }
    if let Err(e) = ccxt_stream::validate(&sources) {
        problems.extend(e.0);
    }
    if !problems.is_empty() {
        return Err(UsageError(format!("invalid configuration: {}", problems.join("; "))).into());
    }
    Ok(sources)
}

/// Prints liquidations as they arrive.
struct Printer {
    format: OutputFormat,
    quiet: bool,
    streamer: Streamer,
    out: BufWriter<std::io::Stdout>,
    header: bool,
    closed: bool,
}

impl Printer {
    fn new(format: OutputFormat, quiet: bool) -> Printer {
        Printer {
            format,
            quiet,
            streamer: Streamer::new(format),
            out: BufWriter::new(std::io::stdout()),
            header: false,
            closed: false,
        }
    }

    fn print(&mut self, rows: &[Liquidation]) -> anyhow::Result<()> {
        if self.quiet || self.closed || rows.is_empty() {
            return Ok(());
        }
        let result = if self.format == OutputFormat::Table {
            self.table_lines(rows)
        } else {
            self.streamer.rows(&mut self.out, &liquidation_rows(rows))
        };
        match result {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true; // keep collecting (and storing); stop printing
                Ok(())
            }
            other => Ok(other?),
        }
    }

    /// Fixed-width lines: a table that can grow forever.
    fn table_lines(&mut self, rows: &[Liquidation]) -> std::io::Result<()> {
        if !self.header {
            writeln!(
                self.out,
                "{:<24}  {:<11}  {:<14}  {:<5}  {:>14}  {:>14}  {:>14}",
                "time", "venue", "symbol", "side", "quantity", "price", "value_usd"
            )?;
            self.header = true;
        }
        for r in rows {
            let (venue, symbol) = match Instrument::from_id(r.instrument_id.as_str()) {
                Ok(i) => (i.venue.as_str().to_string(), i.native),
                Err(_) => (String::new(), r.instrument_id.to_string()),
            };
            writeln!(
                self.out,
                "{:<24}  {:<11}  {:<14}  {:<5}  {:>14}  {:>14}  {:>14.2}",
                format_iso(r.ts_event),
                venue,
                symbol,
                r.side.as_str(),
                r.quantity,
                r.price,
                r.value
            )?;
        }
        self.out.flush()
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        if self.quiet || self.closed || self.format == OutputFormat::Table {
            return Ok(());
        }
        match self.streamer.finish(&mut self.out) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => Ok(other?),
        }
    }
}

/// Resolves on Ctrl+C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
