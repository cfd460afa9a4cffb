//! Where collected rows go: the write-ahead spool first (durable within `sync_every`), the
//! catalog at each flush.
//!
//! A failing catalog (disk full, directory not writable) never loses rows: the drain fails, the
//! spool keeps its segments, the error is logged and counted
//! (`ccxt_catalog_write_errors_total`, `ccxt_catalog_writable` = 0), `/healthz` answers 503
//! naming it (the rows are still durable, in the spool) and the next flush tries again. If even
//! the spool cannot be written, rows wait in memory (up to [`MAX_OVERFLOW_ROWS`], then the
//! oldest are dropped with an ERROR and `ccxt_rows_dropped_total`): `ccxt_spool_writable` = 0,
//! `ccxt_spool_write_errors_total` rises and `/healthz` answers 503 saying the rows are not
//! durable. Each flush then writes the rows held in memory straight into the catalog (durable
//! again if only the spool is broken) and retries the spool at every sync.
//!
//! [`WriteFaults`] injects write failures (tests, failure drills) where a real full disk
//! cannot be had.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ccxt_catalog::spool::{DrainReport, Held, Hold, KeepHeld, Spool};
use ccxt_catalog::{Catalog, CatalogRecord};
use ccxt_model::time::{format_iso, now_ns};
use ccxt_model::{
    FundingRate, Gap, IndexPrice, InstrumentId, Liquidation, MarkPrice, OpenInterest, RecordKind,
    Venue,
};
use ccxt_transport::error_chain;
use ccxt_venue::SnapshotPrices;
use tokio::sync::Mutex;

use crate::health::WriteFault;
use crate::metrics as m;

/// Rows kept in memory while the spool cannot be written, at most.
pub const MAX_OVERFLOW_ROWS: usize = 1_000_000;

/// When the spool is synced and drained.
#[derive(Debug, Clone, Copy)]
pub struct FlushPolicy {
    /// fsync the spool this often (a kill -9 loses at most this window).
    pub sync_every: Duration,
    /// Drain into the catalog after this many rows...
    pub flush_rows: usize,
    /// ...or this much time, whichever comes first.
    pub flush_every: Duration,
    /// The most bytes the spool holds on disk: while the catalog cannot take the rows and
    /// the spool has reached this, new rows wait in memory (up to [`MAX_OVERFLOW_ROWS`]).
    pub max_bytes: u64,
    /// Which rows a regular drain leaves in the spool for a later one (none when `None`).
    pub hold: Option<HoldPolicy>,
}

/// A drain leaves a dataset's rows in the spool while it has fewer than `below_rows` waiting
/// and the oldest is younger than `max_age` (see [`ccxt_catalog::spool::Hold`]): a row or two
/// per instrument and minute then make one file per instrument every `max_age`, not one per
/// flush. Each dataset is due at its own age between `max_age / 2` and `max_age`, so the
/// datasets one job fills are written over several flushes. The drains at start and at stop
/// write everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldPolicy {
    /// Datasets with at least this many rows waiting are written at every flush.
    pub below_rows: usize,
    /// The longest a row waits in the spool.
    pub max_age: Duration,
}

impl Default for HoldPolicy {
    fn default() -> Self {
        HoldPolicy {
            below_rows: 100,
            max_age: Duration::from_secs(900),
        }
    }
}

/// How many rows the spool takes before a drain by default. Every drain writes a file per
/// dataset with rows waiting, and at tens of thousands of liquidations a second over a few
/// hundred instruments the files, not the rows, are most of the cost (creating, syncing and
/// renaming each): 200,000 rows (about 35 MB in memory) took a three-venue stream at
/// 60,000 liquidations a second from about 6.5 to about 4.7 CPU seconds per million, where
/// 50,000 made a drain every second. At the rates venues send outside a crash, the 60-second
/// `flush_every` comes first anyway.
pub const DEFAULT_FLUSH_ROWS: usize = 200_000;

/// The default bound of the spool on disk: 2 GiB.
pub const DEFAULT_SPOOL_MAX_BYTES: u64 = 2 << 30;

impl Default for FlushPolicy {
    fn default() -> Self {
        FlushPolicy {
            sync_every: Duration::from_millis(200),
            flush_rows: DEFAULT_FLUSH_ROWS,
            flush_every: Duration::from_secs(60),
            max_bytes: DEFAULT_SPOOL_MAX_BYTES,
            hold: Some(HoldPolicy::default()),
        }
    }
}

/// Write failures injected on purpose, for tests and failure drills: while set, every spool
/// append and sync (or every catalog write of the store) fails as a full disk would.
#[derive(Debug, Default)]
pub struct WriteFaults {
    spool: AtomicBool,
    catalog: AtomicBool,
    stall: AtomicBool,
}

impl WriteFaults {
    /// Spool appends and syncs fail while `on`.
    pub fn fail_spool(&self, on: bool) {
        self.spool.store(on, Ordering::SeqCst);
    }

    /// Catalog writes (spool drains, rows held in memory) fail while `on`.
    pub fn fail_catalog(&self, on: bool) {
        self.catalog.store(on, Ordering::SeqCst);
    }

    /// Catalog writes hang (as on a hung disk or a stuck network mount) while `on`: they
    /// neither fail nor finish until it is turned off.
    pub fn stall_catalog(&self, on: bool) {
        self.stall.store(on, Ordering::SeqCst);
    }

    async fn wait_while_stalled(&self) {
        while self.stall.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn spool_error(&self) -> Option<std::io::Error> {
        self.spool.load(Ordering::SeqCst).then(|| injected("spool"))
    }

    fn catalog_error(&self) -> Option<std::io::Error> {
        self.catalog
            .load(Ordering::SeqCst)
            .then(|| injected("catalog"))
    }
}

fn injected(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::StorageFull,
        format!("injected {what} write failure (no space left on device)"),
    )
}

/// Rows waiting for the spool.
enum Rows {
    OpenInterest(Vec<OpenInterest>),
    Funding(Vec<FundingRate>),
    Liquidations(Vec<Liquidation>),
    Gap(Gap),
    Marks(Vec<MarkPrice>),
    Indexes(Vec<IndexPrice>),
}

impl Rows {
    /// The rows of the datasets `owns` accepts; the others are logged and counted.
    fn owned(self, owns: &(dyn Fn(RecordKind, &InstrumentId) -> bool + Send + Sync)) -> Rows {
        fn keep<T: CatalogRecord>(
            rows: Vec<T>,
            owns: &(dyn Fn(RecordKind, &InstrumentId) -> bool + Send + Sync),
        ) -> Vec<T> {
            let before = rows.len();
            let kept: Vec<T> = rows
                .into_iter()
                .filter(|r| owns(T::KIND, &r.dataset()))
                .collect();
            let dropped = before - kept.len();
            if dropped > 0 {
                m::rows_not_owned(T::KIND, dropped as u64);
                tracing::warn!(
                    kind = ?T::KIND,
                    rows = dropped,
                    "rows of datasets another shard owns are not stored by this shard"
                );
            }
            kept
        }
        match self {
            Rows::OpenInterest(r) => Rows::OpenInterest(keep(r, owns)),
            Rows::Funding(r) => Rows::Funding(keep(r, owns)),
            Rows::Liquidations(r) => Rows::Liquidations(keep(r, owns)),
            Rows::Marks(r) => Rows::Marks(keep(r, owns)),
            Rows::Indexes(r) => Rows::Indexes(keep(r, owns)),
            Rows::Gap(g) => {
                if owns(RecordKind::Gap, &g.dataset()) {
                    Rows::Gap(g)
                } else {
                    m::rows_not_owned(RecordKind::Gap, 1);
                    tracing::warn!(
                        venue = %g.venue,
                        stream = %g.stream,
                        from = %format_iso(g.start_ns),
                        to = %format_iso(g.end_ns),
                        reason = %g.reason,
                        "gap not stored: another shard owns this venue's gap dataset"
                    );
                    Rows::Marks(Vec::new())
                }
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Rows::OpenInterest(r) => r.len(),
            Rows::Funding(r) => r.len(),
            Rows::Liquidations(r) => r.len(),
            Rows::Gap(_) => 1,
            Rows::Marks(r) => r.len(),
            Rows::Indexes(r) => r.len(),
        }
    }

    /// Rows per (kind, venue), for `ccxt_rows_written_total`.
    fn tally(&self, into: &mut BTreeMap<(RecordKind, Venue), u64>) {
        let mut add = |kind, venue: Option<Venue>| {
            if let Some(venue) = venue {
                *into.entry((kind, venue)).or_default() += 1;
            }
        };
        match self {
            Rows::OpenInterest(r) => r
                .iter()
                .for_each(|row| add(RecordKind::OpenInterest, venue_of(&row.instrument_id))),
            Rows::Funding(r) => r
                .iter()
                .for_each(|row| add(RecordKind::FundingRate, venue_of(&row.instrument_id))),
            Rows::Liquidations(r) => r
                .iter()
                .for_each(|row| add(RecordKind::Liquidation, venue_of(&row.instrument_id))),
            Rows::Gap(g) => add(RecordKind::Gap, Some(g.venue)),
            Rows::Marks(r) => r
                .iter()
                .for_each(|row| add(RecordKind::MarkPrice, venue_of(&row.instrument_id))),
            Rows::Indexes(r) => r
                .iter()
                .for_each(|row| add(RecordKind::IndexPrice, venue_of(&row.instrument_id))),
        }
    }
}

/// A standing write failure: the first error's time and the latest message.
#[derive(Debug, Clone)]
struct Failure {
    since_ns: u64,
    error: String,
}

impl Failure {
    fn record(slot: &mut Option<Failure>, error: &str) -> bool {
        match slot {
            Some(f) => {
                f.error = error.to_string();
                false
            }
            None => {
                *slot = Some(Failure {
                    since_ns: now_ns(),
                    error: error.to_string(),
                });
                true
            }
        }
    }
}

struct Inner {
    spool: Spool,
    overflow: Vec<Rows>,
    overflow_rows: usize,
    /// Rows appended since the last successful drain, per (kind, venue): counted as written
    /// when the drain succeeds.
    unflushed: BTreeMap<(RecordKind, Venue), u64>,
    /// The spool cannot be written: rows since the last good sync are not durable.
    spool_failure: Option<Failure>,
    /// The catalog cannot be written: rows wait in the spool (or in memory).
    catalog_failure: Option<Failure>,
    faults: Arc<WriteFaults>,
    /// Rows in the spool not yet stored in the catalog (appended by this run).
    rows_in_spool: usize,
    /// The spool's size on disk at the last sync.
    spool_bytes: u64,
    /// The spool has reached `max_bytes`: new rows wait in memory until a drain empties it.
    spool_full: bool,
    /// Rows the last drain held back into the current segment: not new, so they do not count
    /// toward `flush_rows`.
    held_rows: usize,
}

/// Puts the rows a drain held back into the spool again, tallying them per (kind, venue).
struct Requeue<'a> {
    store: &'a Store,
    tally: BTreeMap<(RecordKind, Venue), u64>,
}

impl KeepHeld for Requeue<'_> {
    async fn keep(&mut self, held: Held) -> std::io::Result<()> {
        self.store.requeue(held, &mut self.tally).await
    }
}

/// Which datasets a store writes (a shard's, see [`crate::Ownership::predicate`]).
pub type Owns = ccxt_catalog::DatasetFilter;

/// The spool in front of the catalog, shared by every job and stream.
pub struct Store {
    catalog: Arc<Catalog>,
    /// Only rows of these datasets are stored (all when `None`).
    owns: Option<Owns>,
    inner: Mutex<Inner>,
    /// Drains run one at a time (each owns the segments it sealed).
    draining: Mutex<()>,
    policy: FlushPolicy,
    faults: Arc<WriteFaults>,
}

fn venue_of(id: &ccxt_model::InstrumentId) -> Option<Venue> {
    id.venue()
}

impl Store {
    /// Opens the spool in `spool_dir` in front of `catalog`.
    pub fn open(
        catalog: Arc<Catalog>,
        spool_dir: &Path,
        policy: FlushPolicy,
    ) -> Result<Store, ccxt_catalog::CatalogError> {
        Store::open_with_faults(catalog, spool_dir, policy, Arc::default())
    }

    /// [`Store::open`], failing writes while `faults` says so.
    pub fn open_with_faults(
        catalog: Arc<Catalog>,
        spool_dir: &Path,
        policy: FlushPolicy,
        faults: Arc<WriteFaults>,
    ) -> Result<Store, ccxt_catalog::CatalogError> {
        let spool = Spool::open(spool_dir)?;
        m::spool_writable(true);
        // Flushes append a few rows per instrument: no zstd context per column chunk for them.
        catalog.write_small_files_uncompressed(true);
        Ok(Store {
            catalog,
            owns: None,
            inner: Mutex::new(Inner {
                spool,
                overflow: Vec::new(),
                overflow_rows: 0,
                unflushed: BTreeMap::new(),
                spool_failure: None,
                catalog_failure: None,
                faults: faults.clone(),
                rows_in_spool: 0,
                spool_bytes: 0,
                spool_full: false,
                held_rows: 0,
            }),
            draining: Mutex::new(()),
            policy,
            faults,
        })
    }

    /// Stores only rows of the datasets `owns` accepts (a shard's); the others are dropped
    /// with a warning and counted in `ccxt_rows_not_owned_total` (gap records of a venue whose
    /// gap dataset another shard owns: see the README's "Sharded collectors").
    pub fn keep_only(&mut self, owns: Owns) {
        self.owns = Some(owns);
    }

    /// The catalog behind the spool.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// The flush policy.
    pub fn policy(&self) -> FlushPolicy {
        self.policy
    }

    /// Appends open-interest rows.
    pub async fn open_interest(&self, rows: Vec<OpenInterest>) {
        self.append(Rows::OpenInterest(rows)).await;
    }

    /// Appends funding rows.
    pub async fn funding(&self, rows: Vec<FundingRate>) {
        self.append(Rows::Funding(rows)).await;
    }

    /// Appends the mark and index prices that snapshots carried.
    pub async fn prices(&self, prices: Vec<SnapshotPrices>) {
        let (marks, indexes): (Vec<_>, Vec<_>) =
            prices.into_iter().map(|p| (p.mark, p.index)).unzip();
        self.append(Rows::Marks(marks.into_iter().flatten().collect()))
            .await;
        self.append(Rows::Indexes(indexes.into_iter().flatten().collect()))
            .await;
    }

    /// Appends liquidations.
    pub async fn liquidations(&self, rows: Vec<Liquidation>) {
        self.append(Rows::Liquidations(rows)).await;
    }

    /// Appends a gap record.
    pub async fn gap(&self, gap: Gap) {
        self.append(Rows::Gap(gap)).await;
    }

    async fn append(&self, rows: Rows) {
        let rows = match &self.owns {
            Some(owns) => rows.owned(owns.as_ref()),
            None => rows,
        };
        if rows.len() == 0 {
            return;
        }
        let mut inner = self.inner.lock().await;
        if !inner.overflow.is_empty() || inner.spool_full {
            inner.keep(rows);
            return;
        }
        if let Err(rows) = inner.write(rows) {
            inner.keep(rows);
        }
    }

    /// Syncs the spool to disk (and retries rows held in memory).
    pub async fn sync(&self) {
        let mut inner = self.inner.lock().await;
        inner.measure(self.policy.max_bytes);
        inner.retry_overflow();
        match inner.sync() {
            Ok(()) => inner.spool_ok(),
            Err(e) => inner.spool_error(&e),
        }
    }

    /// Publishes the spool's size on disk and the rows held in memory (read at each scrape,
    /// not at every sync: it lists the spool directory).
    pub async fn publish_gauges(&self) {
        let inner = self.inner.lock().await;
        m::spool_gauges(inner.spool.size_bytes(), inner.overflow_rows);
        m::spool_rows(inner.rows_in_spool, inner.spool_full);
    }

    /// Rows appended since the last drain (not counting those it held back).
    pub async fn pending_rows(&self) -> usize {
        let inner = self.inner.lock().await;
        inner.spool.pending_rows().saturating_sub(inner.held_rows)
    }

    /// The standing write failures, for `/healthz` (empty when everything is written).
    pub async fn faults(&self) -> Vec<WriteFault> {
        let inner = self.inner.lock().await;
        let mut out = Vec::new();
        if let Some(f) = &inner.spool_failure {
            out.push(WriteFault {
                kind: "spool",
                error: f.error.clone(),
                since: format_iso(f.since_ns),
                durable: false,
                rows_in_memory: inner.overflow_rows,
                rows_in_spool: inner.rows_in_spool,
                note: "rows since the last good spool sync are held in memory only: a crash loses them".into(),
            });
        }
        if let Some(f) = &inner.catalog_failure {
            let durable = inner.spool_failure.is_none() && inner.overflow_rows == 0;
            let since = format_iso(f.since_ns);
            let waiting = format!(
                "catalog unreachable since {since}, {} rows waiting in the spool",
                inner.rows_in_spool
            );
            let note = if inner.spool_failure.is_some() {
                format!(
                    "{waiting}; {} rows wait in memory (the spool fails too) and are stored once either can be written",
                    inner.overflow_rows
                )
            } else if inner.spool_full {
                format!(
                    "{waiting}; the spool is full ({} of spool.max_bytes {} bytes): {} newer rows wait in memory (not durable; the oldest are dropped beyond {MAX_OVERFLOW_ROWS})",
                    inner.spool_bytes, self.policy.max_bytes, inner.overflow_rows
                )
            } else {
                format!("{waiting} (durable); they are stored once the catalog can be written")
            };
            out.push(WriteFault {
                kind: "catalog",
                error: f.error.clone(),
                since,
                durable,
                rows_in_memory: inner.overflow_rows,
                rows_in_spool: inner.rows_in_spool,
                note,
            });
        }
        out
    }

    /// A write into the catalog outside the spool (a history top-up, a compaction) failed:
    /// counted and reported like a failed drain, until the next drain stores the spool.
    pub async fn catalog_write_failed(&self, error: &str) {
        self.inner.lock().await.catalog_error(error);
    }

    /// Moves the spool into the catalog. On failure the rows stay in the spool.
    ///
    /// The spool is only locked to seal the current segment: appends (live streams) go on
    /// into a new segment while the sealed ones are written, however long the catalog takes.
    /// If the spool cannot be sealed (it cannot be written), the rows held in memory are
    /// written straight into the catalog instead.
    pub async fn drain(&self) -> Result<DrainReport, String> {
        self.drain_with(self.policy.hold).await
    }

    /// [`Store::drain`] writing every row (the drains at start and at stop).
    pub async fn drain_all(&self) -> Result<DrainReport, String> {
        self.drain_with(None).await
    }

    async fn drain_with(&self, hold: Option<HoldPolicy>) -> Result<DrainReport, String> {
        let _one_at_a_time = self.draining.lock().await;
        let sealed = {
            let mut inner = self.inner.lock().await;
            inner.retry_overflow();
            let sealed = match self.faults.spool_error() {
                Some(e) => Err(e.to_string()),
                None => inner.spool.seal().map_err(|e| error_chain(&e)),
            };
            match sealed {
                Ok(sealed) => {
                    inner.spool_ok();
                    inner.held_rows = 0;
                    let rows = inner.rows_in_spool;
                    Ok((sealed, std::mem::take(&mut inner.unflushed), rows))
                }
                Err(message) => {
                    inner.spool_error(&message);
                    Err((message, std::mem::take(&mut inner.overflow)))
                }
            }
        };
        let (sealed, tally, sealed_rows) = match sealed {
            Ok(s) => s,
            Err((message, held)) => {
                self.store_held(held).await;
                return Err(message);
            }
        };
        self.faults.wait_while_stalled().await;
        let hold = hold.map(|h| Hold {
            below_rows: h.below_rows,
            max_age_ns: u64::try_from(h.max_age.as_nanos()).unwrap_or(u64::MAX),
            now_ns: now_ns(),
        });
        // Rows held back go to the spool again (counted as written when a drain writes them).
        let mut requeue = Requeue {
            store: self,
            tally: BTreeMap::new(),
        };
        let result = match self.faults.catalog_error() {
            Some(e) => Err(e.to_string()),
            None => sealed
                .drain_holding(&self.catalog, hold, &mut requeue)
                .await
                .map_err(|e| error_chain(&e)),
        };
        let held_tally = requeue.tally;
        let mut inner = self.inner.lock().await;
        match result {
            Ok(report) => {
                for ((kind, venue), n) in tally {
                    let held = held_tally.get(&(kind, venue)).copied().unwrap_or(0);
                    m::rows_written(kind, venue, n.saturating_sub(held));
                }
                inner.held_rows = report.held;
                inner.rows_in_spool = inner.rows_in_spool.saturating_sub(sealed_rows);
                inner.measure(self.policy.max_bytes);
                // An empty drain proves nothing about a failure a top-up reported.
                if report.segments > 0 || inner.catalog_failure.is_none() {
                    inner.catalog_ok();
                }
                Ok(report)
            }
            Err(message) => {
                // Still to be written: count them at the drain that succeeds.
                for (key, n) in tally {
                    *inner.unflushed.entry(key).or_default() += n;
                }
                inner.catalog_error(&message);
                Err(message)
            }
        }
    }

    /// Appends rows a drain held back to the spool again and syncs it, so they are durable
    /// before their segment goes.
    async fn requeue(
        &self,
        held: Held,
        tally: &mut BTreeMap<(RecordKind, Venue), u64>,
    ) -> std::io::Result<()> {
        let Held {
            liquidations,
            open_interest,
            funding,
            mark_prices,
            index_prices,
        } = held;
        let mut inner = self.inner.lock().await;
        for rows in [
            Rows::Liquidations(liquidations),
            Rows::OpenInterest(open_interest),
            Rows::Funding(funding),
            Rows::Marks(mark_prices),
            Rows::Indexes(index_prices),
        ] {
            if rows.len() == 0 {
                continue;
            }
            rows.tally(tally);
            inner
                .write(rows)
                .map_err(|_| std::io::Error::other("the spool cannot take the held rows"))?;
        }
        inner.sync().map_err(std::io::Error::other)
    }

    /// Writes rows the spool could not take straight into the catalog; what fails goes back
    /// in front of the rows held in memory.
    async fn store_held(&self, held: Vec<Rows>) {
        if held.is_empty() {
            return;
        }
        let mut failed = Vec::new();
        let mut error = None;
        let mut written = BTreeMap::new();
        for rows in held {
            if error.is_some() {
                failed.push(rows);
                continue;
            }
            match self.write_direct(&rows).await {
                Ok(()) => rows.tally(&mut written),
                Err(e) => {
                    error = Some(e);
                    failed.push(rows);
                }
            }
        }
        for ((kind, venue), n) in written {
            m::rows_written(kind, venue, n);
        }
        let mut inner = self.inner.lock().await;
        let stored: usize = inner.overflow_rows
            - inner.overflow.iter().map(Rows::len).sum::<usize>()
            - failed.iter().map(Rows::len).sum::<usize>();
        inner.overflow_rows -= stored;
        failed.append(&mut inner.overflow);
        inner.overflow = failed;
        match error {
            Some(e) => inner.catalog_error(&e),
            None => {
                tracing::warn!(
                    rows = stored,
                    "the spool cannot be written: stored the rows held in memory straight into the catalog"
                );
                inner.catalog_ok();
            }
        }
    }

    async fn write_direct(&self, rows: &Rows) -> Result<(), String> {
        self.faults.wait_while_stalled().await;
        if let Some(e) = self.faults.catalog_error() {
            return Err(e.to_string());
        }
        let result = match rows {
            Rows::OpenInterest(r) => self.catalog.write(r.clone()).await,
            Rows::Funding(r) => self.catalog.write(r.clone()).await,
            Rows::Liquidations(r) => self.catalog.write(r.clone()).await,
            Rows::Gap(g) => self.catalog.write(vec![g.clone()]).await,
            Rows::Marks(r) => self.catalog.write(r.clone()).await,
            Rows::Indexes(r) => self.catalog.write(r.clone()).await,
        };
        result.map(|_| ()).map_err(|e| error_chain(&e))
    }

    /// Counts rows a history top-up wrote straight into the catalog.
    pub fn record_direct_write(&self, kind: RecordKind, venue: Venue, rows: usize) {
        m::rows_written(kind, venue, rows as u64);
    }
}

impl Inner {
    /// Appends `rows`; gives them back if the spool cannot take them.
    fn write(&mut self, rows: Rows) -> Result<(), Rows> {
        let result = match self.faults.spool_error() {
            Some(e) => Err(e.to_string()),
            None => match &rows {
                Rows::OpenInterest(r) => self.spool.append_open_interest(r),
                Rows::Funding(r) => self.spool.append_funding(r),
                Rows::Liquidations(r) => self.spool.append_liquidations(r),
                Rows::Gap(g) => self.spool.append_gap(g),
                Rows::Marks(r) => self.spool.append_mark_prices(r),
                Rows::Indexes(r) => self.spool.append_index_prices(r),
            }
            .map_err(|e| error_chain(&e)),
        };
        match result {
            Ok(()) => {
                rows.tally(&mut self.unflushed);
                self.rows_in_spool += rows.len();
                Ok(())
            }
            Err(message) => {
                self.spool_error(&message);
                Err(rows)
            }
        }
    }

    fn sync(&mut self) -> Result<(), String> {
        if let Some(e) = self.faults.spool_error() {
            return Err(e.to_string());
        }
        self.spool.sync().map_err(|e| error_chain(&e))
    }

    fn spool_error(&mut self, message: &str) {
        m::spool_write_error();
        m::spool_writable(false);
        if Failure::record(&mut self.spool_failure, message) {
            tracing::error!(error = %message, "cannot write the spool; rows are kept in memory (not durable) and retried");
        }
    }

    /// The spool took everything (a good sync or seal with nothing held in memory).
    fn spool_ok(&mut self) {
        if self.overflow.is_empty() && self.spool_failure.take().is_some() {
            m::spool_writable(true);
            tracing::info!("the spool is writable again; every row is durable");
        }
    }

    fn catalog_error(&mut self, message: &str) {
        m::catalog_write_error();
        m::catalog_writable(false);
        if Failure::record(&mut self.catalog_failure, message) {
            tracing::error!(error = %message, "cannot write the catalog; rows stay in the spool and the next flush retries");
        } else {
            tracing::warn!(error = %message, "the catalog still cannot be written");
        }
    }

    fn catalog_ok(&mut self) {
        m::catalog_writable(true);
        if self.catalog_failure.take().is_some() {
            tracing::info!("the catalog is writable again");
        }
    }

    fn keep(&mut self, rows: Rows) {
        self.overflow_rows += rows.len();
        self.overflow.push(rows);
        while self.overflow_rows > MAX_OVERFLOW_ROWS && !self.overflow.is_empty() {
            let dropped = self.overflow.remove(0);
            self.overflow_rows -= dropped.len();
            m::rows_dropped(dropped.len() as u64);
            tracing::error!(
                rows = dropped.len(),
                "dropped the oldest rows held in memory: the spool has been unwritable too long"
            );
        }
    }

    /// Measures the spool on disk against `max_bytes` (at each sync and after each drain).
    fn measure(&mut self, max_bytes: u64) {
        self.spool_bytes = self.spool.size_bytes();
        let full = self.spool_bytes >= max_bytes;
        if full && !self.spool_full {
            tracing::error!(
                bytes = self.spool_bytes,
                max_bytes,
                rows_waiting = self.rows_in_spool,
                "the spool is full (spool.max_bytes): new rows wait in memory until the catalog takes the spool"
            );
        } else if !full && self.spool_full {
            tracing::info!(
                bytes = self.spool_bytes,
                rows_in_memory = self.overflow_rows,
                "the spool is below spool.max_bytes again: rows held in memory go back to it"
            );
        }
        self.spool_full = full;
    }

    fn retry_overflow(&mut self) {
        if self.spool_full {
            return;
        }
        while !self.overflow.is_empty() {
            let rows = self.overflow.remove(0);
            let n = rows.len();
            match self.write(rows) {
                Ok(()) => self.overflow_rows -= n,
                Err(rows) => {
                    self.overflow.insert(0, rows);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccxt_model::Instrument;

    fn snapshot(ts: u64) -> OpenInterest {
        ccxt_registry::install().unwrap();
        OpenInterest {
            instrument_id: Instrument::from_id("BTCUSDT-PERP.BINANCE").unwrap().id,
            open_interest: 1.0,
            open_interest_value: None,
            ts_event: ts - 1,
            ts_init: ts,
        }
    }

    #[test]
    fn rows_are_counted_under_the_venue_their_id_names() {
        let id = |s: &str| InstrumentId::new_unchecked(s);
        assert_eq!(
            venue_of(&id("BTCUSDT-PERP.BINANCE")),
            Some(ccxt_registry::venue("binance"))
        );
        assert_eq!(
            venue_of(&id("BTC-USD-PERP.HYPERLIQUID")),
            Some(ccxt_registry::venue("hyperliquid"))
        );
        assert_eq!(venue_of(&id("BTCUSDT-PERP.NOWHERE")), None);
        assert_eq!(venue_of(&id("no venue")), None);
    }

    #[tokio::test]
    async fn a_flush_holds_few_young_rows_in_the_spool_and_the_final_drain_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("catalog");
        let (catalog, _) = Catalog::open_writable(root.to_str().unwrap())
            .await
            .unwrap();
        let catalog = Arc::new(catalog);
        let policy = FlushPolicy {
            hold: Some(HoldPolicy {
                below_rows: 3,
                max_age: Duration::from_secs(3600),
            }),
            ..FlushPolicy::default()
        };
        let store = Store::open(catalog.clone(), &root.join(".spool"), policy).unwrap();
        let now = now_ns();
        let eth = |ts: u64| {
            let mut row = snapshot(ts);
            row.instrument_id = Instrument::from_id("ETHUSDT-PERP.BINANCE").unwrap().id;
            row
        };
        // BTC: one fresh snapshot (held); ETH: three (written).
        store.open_interest(vec![snapshot(now)]).await;
        store
            .open_interest(vec![eth(now - 2), eth(now - 1), eth(now)])
            .await;
        let report = store.drain().await.unwrap();
        assert_eq!((report.held, report.written.rows_added), (1, 3));
        assert_eq!(store.pending_rows().await, 0, "held rows are not new rows");
        let btc = Instrument::from_id("BTCUSDT-PERP.BINANCE").unwrap().id;
        let stored = async |id: &InstrumentId| {
            let query = ccxt_catalog::Query {
                instruments: vec![id.clone()],
                start: 0,
                end: u64::MAX,
                limit: None,
            };
            catalog.query::<OpenInterest>(&query).await.unwrap().0.len()
        };
        assert_eq!(stored(&btc).await, 0);
        // The held row is durable: a new store on the same spool (a restart) writes it.
        drop(store);
        let store = Store::open(catalog.clone(), &root.join(".spool"), policy).unwrap();
        let report = store.drain_all().await.unwrap();
        assert_eq!((report.held, report.written.rows_added), (0, 1));
        assert_eq!(stored(&btc).await, 1);
    }

    #[tokio::test]
    async fn a_top_up_failure_stands_until_a_drain_stores_rows() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("catalog");
        let (catalog, _) = Catalog::open_writable(root.to_str().unwrap())
            .await
            .unwrap();
        let store = Store::open(
            Arc::new(catalog),
            &root.join(".spool"),
            FlushPolicy::default(),
        )
        .unwrap();
        store
            .catalog_write_failed("history top-up: No space left on device")
            .await;
        let faults = store.faults().await;
        assert_eq!(faults.len(), 1);
        assert_eq!((faults[0].kind, faults[0].durable), ("catalog", true));
        assert!(faults[0].error.contains("No space left"));
        // A drain with nothing to write proves nothing.
        assert_eq!(store.drain().await.unwrap().segments, 0);
        assert_eq!(store.faults().await.len(), 1);
        // A drain that stores rows does.
        store.open_interest(vec![snapshot(1_000)]).await;
        assert_eq!(store.drain().await.unwrap().segments, 1);
        assert!(store.faults().await.is_empty());
    }
}
