//! Where collected rows go: the write-ahead spool first (durable within `sync_every`), the
//! catalog at each flush.
//!
//! A failing catalog (disk full, directory not writable) never loses rows: the drain fails, the
//! spool keeps its segments, the error is logged and counted
//! (`ccxt_catalog_write_errors_total`, `ccxt_catalog_writable` = 0) and the next flush tries
//! again. If even the spool cannot be written, rows wait in memory (up to
//! [`MAX_OVERFLOW_ROWS`], then the oldest are dropped with an ERROR and
//! `ccxt_rows_dropped_total`) and are appended again at the next sync.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ccxt_catalog::Catalog;
use ccxt_catalog::spool::{DrainReport, Spool};
use ccxt_model::{FundingRate, Gap, Instrument, Liquidation, OpenInterest, RecordKind, Venue};
use tokio::sync::Mutex;

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
}

impl Default for FlushPolicy {
    fn default() -> Self {
        FlushPolicy {
            sync_every: Duration::from_millis(200),
            flush_rows: 50_000,
            flush_every: Duration::from_secs(60),
        }
    }
}

/// Rows waiting for the spool.
enum Rows {
    OpenInterest(Vec<OpenInterest>),
    Funding(Vec<FundingRate>),
    Liquidations(Vec<Liquidation>),
    Gap(Gap),
}

impl Rows {
    fn len(&self) -> usize {
        match self {
            Rows::OpenInterest(r) => r.len(),
            Rows::Funding(r) => r.len(),
            Rows::Liquidations(r) => r.len(),
            Rows::Gap(_) => 1,
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
    spool_failing: bool,
}

/// The spool in front of the catalog, shared by every job and stream.
pub struct Store {
    catalog: Arc<Catalog>,
    inner: Mutex<Inner>,
    /// Drains run one at a time (each owns the segments it sealed).
    draining: Mutex<()>,
    policy: FlushPolicy,
}

fn venue_of(id: &ccxt_model::InstrumentId) -> Option<Venue> {
    Instrument::from_id(id.as_str()).ok().map(|i| i.venue)
}

impl Store {
    /// Opens the spool in `spool_dir` in front of `catalog`.
    pub fn open(
        catalog: Arc<Catalog>,
        spool_dir: &Path,
        policy: FlushPolicy,
    ) -> Result<Store, ccxt_catalog::CatalogError> {
        let spool = Spool::open(spool_dir)?;
        Ok(Store {
            catalog,
            inner: Mutex::new(Inner {
                spool,
                overflow: Vec::new(),
                overflow_rows: 0,
                unflushed: BTreeMap::new(),
                spool_failing: false,
            }),
            draining: Mutex::new(()),
            policy,
        })
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

    /// Appends liquidations.
    pub async fn liquidations(&self, rows: Vec<Liquidation>) {
        self.append(Rows::Liquidations(rows)).await;
    }

    /// Appends a gap record.
    pub async fn gap(&self, gap: Gap) {
        self.append(Rows::Gap(gap)).await;
    }

    async fn append(&self, rows: Rows) {
        if rows.len() == 0 {
            return;
        }
        let mut inner = self.inner.lock().await;
        if !inner.overflow.is_empty() {
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
        inner.retry_overflow();
        if let Err(e) = inner.spool.sync() {
            inner.spool_error(&e.to_string());
        }
    }

    /// Publishes the spool's size on disk and the rows held in memory (read at each scrape,
    /// not at every sync: it lists the spool directory).
    pub async fn publish_gauges(&self) {
        let inner = self.inner.lock().await;
        m::spool_gauges(inner.spool.size_bytes(), inner.overflow_rows);
    }

    /// Rows appended since the last drain.
    pub async fn pending_rows(&self) -> usize {
        self.inner.lock().await.spool.pending_rows()
    }

    /// Moves the spool into the catalog. On failure the rows stay in the spool.
    ///
    /// The spool is only locked to seal the current segment: appends (live streams) go on
    /// into a new segment while the sealed ones are written, however long the catalog takes.
    pub async fn drain(&self) -> Result<DrainReport, String> {
        let _one_at_a_time = self.draining.lock().await;
        let (sealed, tally) = {
            let mut inner = self.inner.lock().await;
            inner.retry_overflow();
            match inner.spool.seal() {
                Ok(sealed) => (sealed, std::mem::take(&mut inner.unflushed)),
                Err(e) => {
                    let message = e.to_string();
                    inner.spool_error(&message);
                    return Err(message);
                }
            }
        };
        let result = sealed.drain_into(&self.catalog).await;
        let mut inner = self.inner.lock().await;
        match result {
            Ok(report) => {
                for ((kind, venue), n) in tally {
                    m::rows_written(kind, venue, n);
                }
                m::catalog_writable(true);
                Ok(report)
            }
            Err(e) => {
                // Still to be written: count them at the drain that succeeds.
                for (key, n) in tally {
                    *inner.unflushed.entry(key).or_default() += n;
                }
                m::catalog_write_error();
                m::catalog_writable(false);
                let message = e.to_string();
                tracing::error!(error = %message, "cannot write the catalog; rows stay in the spool and the next flush retries");
                Err(message)
            }
        }
    }

    /// Counts rows a history top-up wrote straight into the catalog.
    pub fn record_direct_write(&self, kind: RecordKind, venue: Venue, rows: usize) {
        m::rows_written(kind, venue, rows as u64);
    }
}

impl Inner {
    fn tally(&mut self, kind: RecordKind, venue: Option<Venue>, n: u64) {
        if let Some(venue) = venue {
            *self.unflushed.entry((kind, venue)).or_default() += n;
        }
    }

    /// Appends `rows`; gives them back if the spool cannot take them.
    fn write(&mut self, rows: Rows) -> Result<(), Rows> {
        let result = match &rows {
            Rows::OpenInterest(r) => self.spool.append_open_interest(r),
            Rows::Funding(r) => self.spool.append_funding(r),
            Rows::Liquidations(r) => self.spool.append_liquidations(r),
            Rows::Gap(g) => self.spool.append_gap(g),
        };
        match result {
            Ok(()) => {
                match &rows {
                    Rows::OpenInterest(r) => {
                        for row in r {
                            self.tally(RecordKind::OpenInterest, venue_of(&row.instrument_id), 1);
                        }
                    }
                    Rows::Funding(r) => {
                        for row in r {
                            self.tally(RecordKind::FundingRate, venue_of(&row.instrument_id), 1);
                        }
                    }
                    Rows::Liquidations(r) => {
                        for row in r {
                            self.tally(RecordKind::Liquidation, venue_of(&row.instrument_id), 1);
                        }
                    }
                    Rows::Gap(g) => self.tally(RecordKind::Gap, Some(g.venue), 1),
                }
                if self.spool_failing {
                    self.spool_failing = false;
                    tracing::info!("the spool is writable again");
                }
                Ok(())
            }
            Err(e) => {
                self.spool_error(&e.to_string());
                Err(rows)
            }
        }
    }

    fn spool_error(&mut self, message: &str) {
        m::spool_write_error();
        if !self.spool_failing {
            self.spool_failing = true;
            tracing::error!(error = %message, "cannot write the spool; rows are kept in memory and retried");
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

    fn retry_overflow(&mut self) {
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
