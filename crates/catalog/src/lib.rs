//! The Parquet catalog of ccxt-pipeline, laid out exactly as NautilusTrader's v1
//! `ParquetDataCatalog` reads it.
//!
//! ```text
//! <root>/data/funding_rate_update/<instrument_id>/<start>_<end>.parquet
//! <root>/data/custom_open_interest/<instrument_id>/<start>_<end>.parquet
//! <root>/data/custom_liquidation/<instrument_id>/<start>_<end>.parquet
//! <root>/data/custom_stream_gap/<VENUE>/<start>_<end>.parquet
//! <root>/data/bar/<bar_type>/<start>_<end>.parquet
//! <root>/data/mark_price_update/<instrument_id>/<start>_<end>.parquet
//! <root>/data/index_price_update/<instrument_id>/<start>_<end>.parquet
//! ```
//!
//! The contract this crate keeps:
//! * rows in a file are sorted by `ts_init`; file names carry the exact first and last
//!   `ts_init`; files of one directory never overlap (closed intervals), and each holds one UTC
//!   day at most (one UTC month for funding, which is sparse; bars by interval: a day up to
//!   15-minute bars, a month up to 12-hour bars, a year for daily and longer bars);
//! * a write merges with the files it overlaps, drops identical records (and records with the
//!   same venue identity, e.g. a liquidation's trade id, wherever in the dataset the first one
//!   is stored: see [`CatalogRecord::identity`]), writes each new file
//!   under a temporary name, fsyncs it, re-reads its footer to verify the row count, renames it
//!   into place and only then deletes the files it replaces;
//! * a crash at any point leaves files NautilusTrader can read; [`Catalog::recover`] (run by
//!   [`Catalog::open_writable`]) removes temporary files and merges any overlap a crash left,
//!   so no row is lost or duplicated;
//! * one writer at a time: an in-process mutex plus a cross-process lock. A writing command
//!   holds the lock for its whole run ([`Catalog::open_writable_by`],
//!   [`Catalog::open_writable_as`], [`Catalog::lock_for_run`]); a second writer is refused
//!   with the holder's pid. The lock has a scope ([`LockScope`]): the whole catalog, or one
//!   shard of it (shards of one count coexist).
//!
//! Locations: a local directory (or `file://`), or an object store: `s3://bucket/prefix`,
//! `gs://bucket/prefix`, `az://container/prefix` ([`StorageOptions`] for the endpoint of an
//! S3-compatible store). On an object store, which has no rename, each new file is PUT whole
//! under its final name after its row count was verified in memory (a conditional create when
//! the name is new), replaced files are deleted only after every new one exists, and the write
//! lock is a lease object on the store, renewed in the background (see the `lease` module).

mod cloud;
pub mod demo;
mod error;
pub mod export;
mod identities;
mod lease;
mod maintenance;
pub mod naming;
mod options;
mod parquet_io;
pub mod price;
mod quarantine;
mod query;
mod record;
pub mod spool;
mod storage;
pub mod verify;
mod writer;

use ccxt_model::{InstrumentId, RecordKind};
use object_store::ObjectMeta;
use object_store::path::Path;

pub use error::{CatalogError, Result};
pub use maintenance::{CompactReport, DatasetInfo, DatasetSlice, RecoveryReport};
pub use options::{AccessKey, DEFAULT_LEASE, DatasetFilter, LeaseClock, LockScope, StorageOptions};
pub use parquet_io::{KEY_RECORD, KEY_SCHEMA_VERSION, RowGroupCounts, SCHEMA_VERSION};
pub use quarantine::{BadFile, BadFiles, FileProblem, StoredHistory};
pub use query::{Limit, Query, QueryStats};
pub use record::{
    CatalogRecord, MAX_CLOCK_SKEW_NS, Partition, RecordIdentity, decode_rate, encode_rate,
};
pub use storage::{DurableStep, Storage, WriteLock};
pub use writer::{CrashPoint, WriteReport};

/// A catalog: a root directory (or object-store prefix) holding `data/`.
pub struct Catalog {
    storage: Storage,
    write_mutex: tokio::sync::Mutex<()>,
    /// Files this process moved to the quarantine (see [`Catalog::quarantined`]).
    quarantined: std::sync::Mutex<Vec<BadFile>>,
    /// The cross-process write lock, when this catalog holds it for its whole life.
    run_lock: Option<WriteLock>,
    /// On object stores, the lease a catalog opened without a run lock takes at its first
    /// write and keeps for its life (a lease per write would cost requests and could race
    /// its own background release).
    lazy_lease: tokio::sync::OnceCell<WriteLock>,
    /// The datasets this writer owns (all when None): recovery, compaction and quarantine
    /// touch only these.
    owns: Option<DatasetFilter>,
    /// Whether files of fewer than 256 rows are written uncompressed
    /// ([`Catalog::write_small_files_uncompressed`]).
    small_uncompressed: std::sync::atomic::AtomicBool,
    /// The identities of the files recent writes searched for earlier deliveries, so each is
    /// read back once while it is unchanged ([`identities`]).
    recent_identities: identities::IdentityCache,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("storage", &self.storage)
            .field("run_lock", &self.run_lock)
            .field("owns", &self.owns.as_ref().map(|_| "filter"))
            .finish_non_exhaustive()
    }
}

/// Proof that this process holds the catalog's write lock.
struct WriteGuard<'a> {
    _local: tokio::sync::MutexGuard<'a, ()>,
    _file: WriteLock,
}

impl Catalog {
    /// Wraps a storage backend without touching it.
    pub fn from_storage(storage: Storage) -> Catalog {
        Catalog {
            storage,
            write_mutex: tokio::sync::Mutex::new(()),
            quarantined: std::sync::Mutex::new(Vec::new()),
            run_lock: None,
            lazy_lease: tokio::sync::OnceCell::new(),
            owns: None,
            small_uncompressed: std::sync::atomic::AtomicBool::new(false),
            recent_identities: identities::IdentityCache::default(),
        }
    }

    /// From now on, writes files of fewer than 256 rows uncompressed (larger ones keep zstd).
    /// For a process that appends a few rows per instrument at a time (the daemon's spool
    /// flushes): on a few rows zstd saves nothing (the footer is most of the file) but costs a
    /// compression context per column chunk, a sixth of the daemon's steady-state CPU.
    /// Compaction later rewrites such files, compressed once they are large enough.
    pub fn write_small_files_uncompressed(&self, on: bool) {
        self.small_uncompressed
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether a file of `rows` rows is written compressed.
    pub(crate) fn compress(&self, rows: usize) -> bool {
        rows >= parquet_io::COMPRESS_FROM_ROWS
            || !self
                .small_uncompressed
                .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Opens an existing catalog for reading. Fails if the location does not exist.
    pub fn open(location: &str) -> Result<Catalog> {
        Catalog::open_with(location, &StorageOptions::default())
    }

    /// [`Catalog::open`] with storage options (endpoint override, region, …).
    pub fn open_with(location: &str, options: &StorageOptions) -> Result<Catalog> {
        Ok(Catalog::from_storage(Storage::from_location_with(
            location, false, options,
        )?))
    }

    /// Opens a catalog for writing, creating the directory if needed, takes its write lock
    /// for the life of the returned catalog ([`Catalog::lock_for_run`]) and first repairs
    /// whatever an interrupted write left behind (see [`Catalog::recover`]).
    pub async fn open_writable(location: &str) -> Result<(Catalog, RecoveryReport)> {
        Catalog::open_writable_by(location, "writer").await
    }

    /// [`Catalog::open_writable`], naming this process `holder` (`daemon`,
    /// `stream-liquidations`) in the message a refused second writer shows.
    pub async fn open_writable_by(
        location: &str,
        holder: &str,
    ) -> Result<(Catalog, RecoveryReport)> {
        Catalog::open_writable_as(
            location,
            &StorageOptions::default(),
            holder,
            LockScope::Catalog,
            None,
        )
        .await
    }

    /// Opens a catalog for writing with storage options, as `holder`, locking `scope` for the
    /// life of the returned catalog (a refused writer gets [`CatalogError::Locked`] naming the
    /// live holder), then repairs what an interrupted write left in the datasets it owns.
    ///
    /// `owns`: with a filter, recovery, compaction and quarantine touch only the datasets it
    /// accepts (a shard never deletes another shard's temporary files or compacts its files).
    pub async fn open_writable_as(
        location: &str,
        options: &StorageOptions,
        holder: &str,
        scope: LockScope,
        owns: Option<DatasetFilter>,
    ) -> Result<(Catalog, RecoveryReport)> {
        let scope = scope.validate()?;
        let mut catalog =
            Catalog::from_storage(Storage::from_location_with(location, true, options)?);
        catalog.owns = owns;
        catalog.run_lock = Some(catalog.storage.lock_scope(holder, scope).await?);
        let report = catalog.recover().await?;
        Ok((catalog, report))
    }

    /// [`Catalog::lock_for_run`] for any storage and scope (object stores take a lease, which
    /// needs the network): takes the write lock of `scope` for the life of this catalog.
    pub async fn lock_for_run_as(&mut self, holder: &str, scope: LockScope) -> Result<()> {
        if self.run_lock.is_none() {
            self.run_lock = Some(self.storage.lock_scope(holder, scope).await?);
        }
        Ok(())
    }

    /// Releases the write lock now: on an object store this waits for the lease object's
    /// deletion, so the next writer need not wait for it to expire. (Dropping the catalog
    /// releases it too, in the background.)
    pub async fn close(mut self) {
        if let Some(lock) = self.run_lock.take() {
            lock.release().await;
        }
        if let Some(lock) = self.lazy_lease.take() {
            lock.release().await;
        }
    }

    /// Releases the write lease of an object-store catalog now, even while other tasks still
    /// share this catalog (a daemon's last flush is done but some task has not dropped its
    /// handle yet): the next writer need not wait for the lease to expire, and any later write
    /// through this catalog fails with [`CatalogError::LeaseLost`]. Local locks stay until the
    /// catalog is dropped. [`Catalog::close`] is the same for a catalog no one else holds.
    pub async fn release_lease(&self) {
        if let Some(lock) = &self.run_lock {
            lock.release_lease().await;
        }
        if let Some(lock) = self.lazy_lease.get() {
            lock.release_lease().await;
        }
    }

    /// Renews this writer's lease now and says whether it is still held (tests; a background
    /// task renews it every lease/3). `true` without a lease.
    #[doc(hidden)]
    pub async fn renew_lease_now(&self) -> bool {
        match &self.run_lock {
            Some(lock) => lock.renew_now().await,
            None => true,
        }
    }

    /// `Ok` while this catalog may write: always on local disks; on object stores while its
    /// lease is held ([`CatalogError::LeaseLost`] once it is lost).
    pub fn check_writable(&self) -> Result<()> {
        match (&self.run_lock, self.lazy_lease.get()) {
            (Some(lock), _) | (None, Some(lock)) => lock.check(),
            (None, None) => Ok(()),
        }
    }

    /// Whether this writer owns the dataset `kind` × `id` (see [`Catalog::open_writable_as`]).
    pub fn owns(&self, kind: RecordKind, id: &InstrumentId) -> bool {
        self.owns.as_ref().is_none_or(|owns| owns(kind, id))
    }

    /// Takes the catalog's cross-process write lock until this catalog is dropped, so no
    /// other process writes to it meanwhile (every writing command of the CLI and the daemon
    /// do this for their whole run). Fails at once with [`CatalogError::Locked`], naming the
    /// holder's pid, if another process holds it. The OS releases the lock when a process
    /// ends, even on `kill -9`, so no stale lock is ever left. Taking it again is a no-op.
    pub fn lock_for_run(&mut self, holder: &str) -> Result<()> {
        if self.run_lock.is_none() {
            self.run_lock = Some(self.storage.try_lock_for_run(holder)?);
        }
        Ok(())
    }

    /// The storage backend.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    async fn lock(&self) -> Result<WriteGuard<'_>> {
        let local = self.write_mutex.lock().await;
        let file = match &self.run_lock {
            // Held for the whole run already: the in-process mutex orders our own writes.
            Some(lock) => {
                lock.check()?;
                WriteLock::none()
            }
            None if self.storage.is_object_store() => {
                self.lazy_lease
                    .get_or_try_init(|| self.storage.lock())
                    .await?
                    .check()?;
                WriteLock::none()
            }
            None => self.storage.lock().await?,
        };
        Ok(WriteGuard {
            _local: local,
            _file: file,
        })
    }
}

/// The directory of one dataset: `data/<class_dir>/<instrument_id>`.
pub fn dataset_dir(kind: RecordKind, id: &InstrumentId) -> Path {
    Path::from(naming::DATA_DIR)
        .join(naming::class_dir(kind))
        .join(id.as_str())
}

/// A Parquet file of a dataset.
#[derive(Debug, Clone)]
pub(crate) struct DataFile {
    pub meta: ObjectMeta,
    /// The closed `ts_init` interval from the name; `None` for names not in our form.
    pub range: Option<(u64, u64)>,
}

/// What a dataset directory holds.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Parquet files with our names, sorted by start.
    pub files: Vec<DataFile>,
    /// Parquet files whose names are not `<iso>_<iso>.parquet`.
    pub foreign: Vec<DataFile>,
    /// Temporary files of interrupted writes.
    pub temps: Vec<ObjectMeta>,
}

impl Catalog {
    pub(crate) async fn list_dataset(
        &self,
        kind: RecordKind,
        id: &InstrumentId,
    ) -> Result<Listing> {
        let mut listing = Listing::default();
        for meta in self.storage.list_files(&dataset_dir(kind, id)).await? {
            let Some(name) = meta.location.filename().map(str::to_string) else {
                continue;
            };
            if name.ends_with(writer::TEMP_SUFFIX) || name.contains('#') {
                listing.temps.push(meta);
            } else if name.ends_with(".parquet") {
                let range = naming::parse_file_name(&name);
                let file = DataFile { meta, range };
                if range.is_some() {
                    listing.files.push(file);
                } else {
                    listing.foreign.push(file);
                }
            }
        }
        listing.files.sort_by_key(|f| f.range);
        Ok(listing)
    }

    /// The instrument ids that have a directory for `kind`.
    pub async fn instruments(&self, kind: RecordKind) -> Result<Vec<InstrumentId>> {
        let dir = Path::from(naming::DATA_DIR).join(naming::class_dir(kind));
        Ok(self
            .storage
            .list_dirs(&dir)
            .await?
            .into_iter()
            .map(InstrumentId::new_unchecked)
            .collect())
    }
}

/// Sorts by `ts_init` (stable: earlier inputs first among equal times) and drops records
/// identical to one already kept, or with the same [identity](CatalogRecord::identity) as
/// one already kept (the earliest received stays). Returns how many were dropped.
pub(crate) fn sort_and_dedup<T: CatalogRecord>(rows: &mut Vec<T>) -> usize {
    rows.sort_by_key(|r| r.ts_init());
    let before = rows.len();
    // Fingerprints (no copy of the row's strings) in a foldhash set, not SipHash: every
    // liquidation of every write is inserted here.
    let mut identities: std::collections::HashSet<_, foldhash::fast::RandomState> =
        std::collections::HashSet::default();
    // In place: rows[..kept] are the rows kept so far, in order; a row moves only when an
    // earlier one was dropped.
    let mut kept = 0;
    let mut run_start = 0;
    for next in 0..rows.len() {
        let row = &rows[next];
        let keep = match row.identity() {
            Some(identity) => identities.insert(identity.fingerprint()),
            None => {
                if kept == 0 || rows[kept - 1].ts_init() != row.ts_init() {
                    run_start = kept;
                }
                !rows[run_start..kept].contains(row)
            }
        };
        if keep {
            rows.swap(kept, next);
            kept += 1;
        }
    }
    rows.truncate(kept);
    before - kept
}

/// Whether two closed intervals share at least one point.
pub(crate) fn intersects(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}
