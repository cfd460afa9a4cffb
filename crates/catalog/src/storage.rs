//! Where catalog files live: an `object_store` backend, plus the durability steps a local
//! directory needs (fsync of files and directories) and a cross-process write lock.
//!
//! Everything the catalog does to files goes through [`Storage`], so the same code writes a
//! local directory and an object store (`s3://`, `gs://`, `az://`; see the `cloud` module).
//! What differs is kept here: local disks fsync and rename and lock with `flock`; object
//! stores have no rename (conditional creates, copy-then-delete for the quarantine) and lock
//! with a lease object (the `lease` module).

use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, PutResult,
    UpdateVersion,
};

use crate::cloud::CloudLocation;
use crate::error::{CatalogError, Result};
use crate::lease::Lease;
use crate::options::{LockScope, StorageOptions};

/// The name of the lock file at the root of a local catalog.
const LOCK_FILE: &str = ".ccxt-pipeline.lock";

/// A catalog's storage backend.
#[derive(Debug, Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// The root directory when the backend is the local file system.
    local_root: Option<PathBuf>,
    /// How the root is shown in messages.
    display: String,
    /// Whether this is a remote object store (no rename; a lease object as the write lock).
    object_store: bool,
    /// Lease length and clock (object stores).
    options: StorageOptions,
    /// The durability steps taken on a local disk, when recorded (tests).
    steps: Arc<StepLog>,
}

/// One durability step on a local disk, as [`Storage::record_durable_steps`] records them:
/// what tests of the write protocol check the order of. Paths are relative to the root.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurableStep {
    /// A file's data written and fsynced.
    FileSynced(String),
    /// A file renamed: from, to.
    Renamed(String, String),
    /// A directory's entries fsynced (`""` is the root).
    DirSynced(String),
    /// A file deleted.
    Deleted(String),
}

/// The recorded [`DurableStep`]s; nothing is recorded until a test asks for it.
#[derive(Debug, Default)]
struct StepLog {
    on: AtomicBool,
    steps: Mutex<Vec<DurableStep>>,
}

impl StepLog {
    fn push(&self, step: impl FnOnce() -> DurableStep) {
        if self.on.load(Ordering::Relaxed) {
            self.steps
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(step());
        }
    }
}

/// The directory part of an object path (`""` for a file at the root).
fn parent_of(path: &Path) -> String {
    path.as_ref()
        .rsplit_once('/')
        .map_or(String::new(), |(dir, _)| dir.to_string())
}

/// Held while a process writes to the catalog; dropping it releases the lock.
#[derive(Debug)]
pub struct WriteLock {
    _files: Vec<std::fs::File>,
    /// The lease on an object store.
    lease: Option<Arc<Lease>>,
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            lease.release_in_background();
        }
    }
}

impl WriteLock {
    /// A guard that holds no file lock (the caller holds one already, or needs none).
    pub(crate) fn none() -> WriteLock {
        WriteLock {
            _files: Vec::new(),
            lease: None,
        }
    }

    /// `Ok` unless this is a lease on an object store that was lost (taken over, or not
    /// renewed in time): then [`CatalogError::LeaseLost`], and nothing may be written.
    pub fn check(&self) -> Result<()> {
        self.lease.as_ref().map_or(Ok(()), |lease| lease.check())
    }

    /// Renews the lease now (tests; the background task renews every lease/3). Returns
    /// whether it is still held; `true` for local locks.
    #[doc(hidden)]
    pub async fn renew_now(&self) -> bool {
        match &self.lease {
            Some(lease) => lease.renew().await,
            None => true,
        }
    }

    /// Releases the lock now, waiting for the lease object's deletion on object stores.
    pub async fn release(mut self) {
        if let Some(lease) = self.lease.take() {
            lease.release().await;
        }
    }

    /// Releases an object store's lease now although this guard lives on (other tasks still
    /// hold the catalog): the lease object is deleted and every later write is refused with
    /// [`CatalogError::LeaseLost`]. Local file locks are kept until the guard is dropped (the
    /// OS releases them when the process ends).
    pub(crate) async fn release_lease(&self) {
        if let Some(lease) = &self.lease {
            lease.release().await;
        }
    }
}

impl Storage {
    /// A local directory. With `create`, the directory is created if missing; otherwise it must exist.
    pub fn local(root: &FsPath, create: bool) -> Result<Storage> {
        let display = root.display().to_string();
        // One message and one error whether the catalog is read or written.
        if root.exists() && !root.is_dir() {
            return Err(CatalogError::InvalidLocation {
                location: display,
                reason: "it is a file, not a directory".into(),
            });
        }
        if create {
            std::fs::create_dir_all(root).map_err(|source| CatalogError::Io {
                path: display.clone(),
                source,
            })?;
        } else if !root.is_dir() {
            return Err(if root.exists() {
                CatalogError::InvalidLocation {
                    location: display,
                    reason: "it is a file, not a directory".into(),
                }
            } else {
                CatalogError::NotFound(display)
            });
        }
        let root = root.canonicalize().map_err(|source| CatalogError::Io {
            path: display.clone(),
            source,
        })?;
        let store = LocalFileSystem::new_with_prefix(&root)
            .map_err(|source| CatalogError::storage(display.clone(), source))?;
        Ok(Storage {
            store: Arc::new(store),
            local_root: Some(root),
            display,
            object_store: false,
            options: StorageOptions::default(),
            steps: Arc::default(),
        })
    }

    /// An in-memory store, for tests of the storage-independent logic.
    pub fn in_memory() -> Storage {
        Storage {
            store: Arc::new(InMemory::new()),
            local_root: None,
            display: "memory://".into(),
            object_store: false,
            options: StorageOptions::default(),
            steps: Arc::default(),
        }
    }

    /// Opens a location given by a user with default [`StorageOptions`].
    pub fn from_location(location: &str, create: bool) -> Result<Storage> {
        Storage::from_location_with(location, create, &StorageOptions::default())
    }

    /// Opens a location given by a user: a local path, a `file://` URL, or an object store
    /// (`s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`, `abfs://…`) with
    /// credentials from the provider's standard chain. Object stores are not contacted here:
    /// an unreachable store shows in the first operation, as a storage error naming the path.
    pub fn from_location_with(
        location: &str,
        create: bool,
        options: &StorageOptions,
    ) -> Result<Storage> {
        if let Some(path) = location.strip_prefix("file://") {
            return Storage::local(FsPath::new(path), create);
        }
        if let Some(cloud) = CloudLocation::parse(location)? {
            let store = cloud.build(location, options)?;
            return Ok(Storage {
                store,
                local_root: None,
                display: location.trim_end_matches('/').to_string(),
                object_store: true,
                options: options.clone(),
                steps: Arc::default(),
            });
        }
        if let Some((scheme, _)) = location.split_once("://") {
            return Err(CatalogError::InvalidLocation {
                location: location.into(),
                reason: format!(
                    "'{scheme}://' is not a supported scheme; use a local directory, file://PATH, s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://CONTAINER/PREFIX"
                ),
            });
        }
        Storage::local(FsPath::new(location), create)
    }

    /// Wraps any `object_store` backend as an object store (no rename; lease lock), shown as
    /// `display`. For tests of the object-store code paths on an in-memory store.
    pub fn object_store(
        store: Arc<dyn ObjectStore>,
        display: &str,
        options: &StorageOptions,
    ) -> Storage {
        Storage {
            store,
            local_root: None,
            display: display.trim_end_matches('/').to_string(),
            object_store: true,
            options: options.clone(),
            steps: Arc::default(),
        }
    }

    /// The root directory, when the catalog is on the local file system.
    pub fn local_root(&self) -> Option<&FsPath> {
        self.local_root.as_deref()
    }

    /// Whether the catalog is on an object store (S3, GCS, Azure): no rename, no local lock.
    pub fn is_object_store(&self) -> bool {
        self.object_store
    }

    /// The backend, for Parquet readers that fetch byte ranges themselves.
    pub(crate) fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// A path for messages: the absolute file path for local catalogs.
    pub fn display_path(&self, path: &Path) -> String {
        match &self.local_root {
            Some(root) => root.join(path.as_ref()).display().to_string(),
            None if self.display.ends_with('/') => format!("{}{}", self.display, path),
            None => format!("{}/{}", self.display, path),
        }
    }

    /// `path` on this store, told apart from the same path on another endpoint (for
    /// process-wide bookkeeping; never shown).
    pub(crate) fn identity_of(&self, path: &Path) -> String {
        format!(
            "{}|{}",
            self.options.endpoint.as_deref().unwrap_or_default(),
            self.display_path(path)
        )
    }

    /// The root as given.
    pub fn display_root(&self) -> &str {
        &self.display
    }

    /// Sub-directories directly under `dir`, by name.
    pub async fn list_dirs(&self, dir: &Path) -> Result<Vec<String>> {
        let listing = self
            .store
            .list_with_delimiter(Some(dir))
            .await
            .map_err(|e| CatalogError::storage(self.display_path(dir), e))?;
        let mut names: Vec<String> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Files directly under `dir`.
    pub async fn list_files(&self, dir: &Path) -> Result<Vec<ObjectMeta>> {
        let listing = self
            .store
            .list_with_delimiter(Some(dir))
            .await
            .map_err(|e| CatalogError::storage(self.display_path(dir), e))?;
        Ok(listing.objects)
    }

    /// Every file below `dir`, recursively.
    pub async fn list_recursive(&self, dir: &Path) -> Result<Vec<ObjectMeta>> {
        self.store
            .list(Some(dir))
            .try_collect()
            .await
            .map_err(|e| CatalogError::storage(self.display_path(dir), e))
    }

    /// The size and location of one file.
    pub async fn head(&self, path: &Path) -> Result<ObjectMeta> {
        self.store
            .head(path)
            .await
            .map_err(|e| CatalogError::storage(self.display_path(path), e))
    }

    /// Writes `bytes` to `path` and makes them durable (fsync on local disks).
    pub async fn put_durable(&self, path: &Path, bytes: Bytes) -> Result<()> {
        self.store
            .put(path, PutPayload::from_bytes(bytes))
            .await
            .map_err(|e| CatalogError::storage(self.display_path(path), e))?;
        if let Some(file) = self.local_file(path) {
            sync_path(file, false).await?;
            self.steps
                .push(|| DurableStep::FileSynced(path.as_ref().to_string()));
        }
        Ok(())
    }

    /// Moves `from` to `to` unless something is at `to` already (then `Ok(false)` and nothing
    /// moved), creating `to`'s directories, and makes both directory entries durable.
    pub async fn rename_no_replace(&self, from: &Path, to: &Path) -> Result<bool> {
        if self.object_store {
            return self.copy_no_replace_then_delete(from, to).await;
        }
        match self.store.rename_if_not_exists(from, to).await {
            Ok(()) => {}
            Err(object_store::Error::AlreadyExists { .. }) => return Ok(false),
            Err(e) => return Err(CatalogError::storage(self.display_path(from), e)),
        }
        self.sync_dir_of(to).await?;
        self.sync_dir_of(from).await?;
        Ok(true)
    }

    /// [`Storage::rename_no_replace`] on a store with no rename and no generally available
    /// copy-if-not-exists: reads `from`, creates `to` with create-if-absent semantics, then
    /// deletes `from`. A crash in between leaves both (the copy complete); never neither.
    async fn copy_no_replace_then_delete(&self, from: &Path, to: &Path) -> Result<bool> {
        let bytes = self
            .store
            .get(from)
            .await
            .map_err(|e| CatalogError::storage(self.display_path(from), e))?
            .bytes()
            .await
            .map_err(|e| CatalogError::storage(self.display_path(from), e))?;
        match self.put_create(to, bytes).await {
            Ok(_) => {}
            Err(CatalogError::Storage {
                source: object_store::Error::AlreadyExists { .. },
                ..
            }) => return Ok(false),
            Err(e) => return Err(e),
        }
        self.delete(from).await?;
        Ok(true)
    }

    /// Writes `bytes` to `path` only if nothing is there (`PutMode::Create`, a conditional
    /// create on stores that support it): [`object_store::Error::AlreadyExists`] otherwise.
    ///
    /// A create whose first attempt succeeded but whose answer was lost is retried by the
    /// client and then finds the object there: when the object holds exactly `bytes`, that is
    /// our own create, and it counts as done.
    pub async fn put_create(&self, path: &Path, bytes: Bytes) -> Result<UpdateVersion> {
        match self.put_opts(path, bytes.clone(), PutMode::Create).await {
            Ok(result) => Ok(UpdateVersion::from(result)),
            Err(
                e @ CatalogError::Storage {
                    source: object_store::Error::AlreadyExists { .. },
                    ..
                },
            ) => match self.get_versioned(path).await {
                Ok((found, version)) if found == bytes => Ok(version),
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Writes `bytes` to `path` with `mode` (create, overwrite, or update of one version).
    pub async fn put_opts(&self, path: &Path, bytes: Bytes, mode: PutMode) -> Result<PutResult> {
        self.store
            .put_opts(path, PutPayload::from_bytes(bytes), PutOptions::from(mode))
            .await
            .map_err(|e| CatalogError::storage(self.display_path(path), e))
    }

    /// The bytes of `path`, with its version (for conditional updates).
    pub async fn get_versioned(&self, path: &Path) -> Result<(Bytes, UpdateVersion)> {
        let got = self
            .store
            .get(path)
            .await
            .map_err(|e| CatalogError::storage(self.display_path(path), e))?;
        let version = UpdateVersion {
            e_tag: got.meta.e_tag.clone(),
            version: got.meta.version.clone(),
        };
        let bytes = got
            .bytes()
            .await
            .map_err(|e| CatalogError::storage(self.display_path(path), e))?;
        Ok((bytes, version))
    }

    /// Deletes `path`; a file that is already gone is not an error.
    pub async fn delete(&self, path: &Path) -> Result<()> {
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                self.steps
                    .push(|| DurableStep::Deleted(path.as_ref().to_string()));
                Ok(())
            }
            Err(e) => Err(CatalogError::storage(self.display_path(path), e)),
        }
    }

    /// Makes directory entries (renames, deletions) in the directory of `path` durable.
    pub async fn sync_dir_of(&self, path: &Path) -> Result<()> {
        match self
            .local_file(path)
            .and_then(|f| f.parent().map(FsPath::to_path_buf))
        {
            Some(dir) => {
                sync_path(dir, true).await?;
                self.steps.push(|| DurableStep::DirSynced(parent_of(path)));
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// [`Storage::write_new_files`] on a store without a local root: PUT, then HEAD to check
    /// the size; on an error the files already written are deleted.
    async fn put_and_check(&self, files: Vec<(Path, Bytes)>) -> Result<Vec<ObjectMeta>> {
        let mut metas: Vec<ObjectMeta> = Vec::with_capacity(files.len());
        for (path, bytes) in files {
            let size = bytes.len() as u64;
            let written = match self.put_durable(&path, bytes).await {
                Ok(()) => self.head(&path).await,
                Err(e) => Err(e),
            };
            let checked = written.and_then(|meta| {
                if meta.size == size {
                    Ok(meta)
                } else {
                    Err(CatalogError::corrupt(
                        self.display_path(&path),
                        format!("wrote {size} bytes but the file holds {}", meta.size),
                    ))
                }
            });
            match checked {
                Ok(meta) => metas.push(meta),
                Err(e) => {
                    for done in metas.iter().map(|m| &m.location).chain([&path]) {
                        let _ = self.delete(done).await;
                    }
                    return Err(e);
                }
            }
        }
        Ok(metas)
    }

    /// Starts recording the [`DurableStep`]s taken on a local disk from now on (tests of the
    /// write protocol's order); [`Storage::durable_steps`] returns them.
    #[doc(hidden)]
    pub fn record_durable_steps(&self) {
        self.steps.on.store(true, Ordering::Relaxed);
    }

    /// The [`DurableStep`]s recorded since [`Storage::record_durable_steps`], oldest first.
    #[doc(hidden)]
    pub fn durable_steps(&self) -> Vec<DurableStep> {
        self.steps
            .steps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Writes each `(path, bytes)` to a new file and makes its data durable; returns the
    /// files' listing entries. On a local disk all in one pass off the async threads: create
    /// (the name must be new; missing directories are created and their entries synced),
    /// write, fsync, and the file's size checked and its listing entry read from the open
    /// file. The files' own directory entries are not synced: they are temporary names, which
    /// [`Storage::rename_files`] replaces and syncs. On an error the files this call created
    /// are removed. Other stores (in memory) PUT each file and HEAD it.
    pub(crate) async fn write_new_files(
        &self,
        files: Vec<(Path, Bytes)>,
    ) -> Result<Vec<ObjectMeta>> {
        let Some(root) = self.local_root.clone() else {
            return self.put_and_check(files).await;
        };
        let steps = self.steps.clone();
        let display = self.display.clone();
        tokio::task::spawn_blocking(move || {
            let mut created: Vec<PathBuf> = Vec::new();
            let mut metas = Vec::with_capacity(files.len());
            for (path, bytes) in files {
                let local = root.join(path.as_ref());
                let written = write_new_file(&root, &local, &bytes, &mut created, &steps);
                match written {
                    Ok(metadata) => {
                        steps.push(|| DurableStep::FileSynced(path.as_ref().to_string()));
                        metas.push(local_meta(&metadata, path));
                    }
                    Err(e) => {
                        for file in &created {
                            let _ = std::fs::remove_file(file);
                        }
                        return Err(e);
                    }
                }
            }
            Ok(metas)
        })
        .await
        .map_err(|e| CatalogError::Io {
            path: display,
            source: std::io::Error::other(e),
        })?
    }

    /// Renames each `(from, to)` in order (replacing `to`), then, with `sync`, fsyncs each
    /// directory whose entries changed, once; on a local disk all in one pass off the async
    /// threads. On a failure, returns how many were renamed with the error (the directories
    /// are not synced then). Not for object stores, which have no rename.
    pub(crate) async fn rename_files(
        &self,
        moves: Vec<(Path, Path)>,
        sync: bool,
    ) -> std::result::Result<(), (usize, Box<CatalogError>)> {
        let Some(root) = self.local_root.clone() else {
            for (i, (from, to)) in moves.iter().enumerate() {
                self.store
                    .rename(from, to)
                    .await
                    .map_err(|e| (i, Box::new(CatalogError::storage(self.display_path(to), e))))?;
            }
            return Ok(());
        };
        let steps = self.steps.clone();
        let display = self.display.clone();
        tokio::task::spawn_blocking(move || {
            let mut dirs: Vec<String> = Vec::new();
            for (i, (from, to)) in moves.iter().enumerate() {
                let target = root.join(to.as_ref());
                std::fs::rename(root.join(from.as_ref()), &target)
                    .map_err(|e| (i, Box::new(io_error(&target, e))))?;
                steps.push(|| {
                    DurableStep::Renamed(from.as_ref().to_string(), to.as_ref().to_string())
                });
                for dir in [parent_of(from), parent_of(to)] {
                    if !dirs.contains(&dir) {
                        dirs.push(dir);
                    }
                }
            }
            if sync {
                for dir in dirs {
                    let local = root.join(&dir);
                    sync_dir(&local).map_err(|e| (moves.len(), Box::new(io_error(&local, e))))?;
                    steps.push(|| DurableStep::DirSynced(dir));
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| {
            let e = CatalogError::Io {
                path: display,
                source: std::io::Error::other(e),
            };
            (0, Box::new(e))
        })?
    }

    /// Takes the catalog's write lock, waiting for another process that holds it on a local
    /// disk; on an object store a live lease refuses at once ([`CatalogError::Locked`]).
    /// In-memory stores need no cross-process lock.
    pub async fn lock(&self) -> Result<WriteLock> {
        if self.object_store {
            // No waiting on a store: a live writer refuses this one.
            return self.lock_scope("writer", LockScope::Catalog).await;
        }
        let Some(root) = self.local_root.clone() else {
            return Ok(WriteLock::none());
        };
        let file = blocking_io(root.join(LOCK_FILE), |path| {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path)?;
            file.lock()?;
            Ok(file)
        })
        .await?;
        Ok(WriteLock {
            _files: vec![file],
            lease: None,
        })
    }

    /// Takes the write lock of `scope` for the life of the returned guard, without waiting:
    /// a lease object on object stores (see the `lease` module), [`Storage::try_lock_scope`]
    /// (`flock`) on local disks.
    pub async fn lock_scope(&self, holder: &str, scope: LockScope) -> Result<WriteLock> {
        let scope = scope.validate()?;
        if !self.object_store {
            return self.try_lock_scope(holder, scope);
        }
        let lease = Lease::acquire(self, holder, scope, &self.options).await?;
        Ok(WriteLock {
            _files: Vec::new(),
            lease: Some(lease),
        })
    }

    /// Takes the catalog's write lock for the life of the returned guard, without waiting:
    /// [`Storage::try_lock_scope`] with [`LockScope::Catalog`].
    pub fn try_lock_for_run(&self, holder: &str) -> Result<WriteLock> {
        self.try_lock_scope(holder, LockScope::Catalog)
    }

    /// Takes the write lock of `scope` for the life of the returned guard, without waiting: if
    /// a live lock conflicts with it (see [`LockScope`]), fails with [`CatalogError::Locked`]
    /// naming that process (its pid and `holder`, which it wrote into its lock file). `holder`
    /// names this process the same way for others.
    ///
    /// Local directories use OS advisory locks (`flock`): the kernel releases them when the
    /// process ends, however it ends, so a lock never outlives its holder. A `Catalog` writer
    /// holds `.ccxt-pipeline.lock` exclusively; a shard writer holds it shared (so shards
    /// coexist but exclude a `Catalog` writer) plus `.ccxt-pipeline.lock-shard-<i>-of-<n>`
    /// exclusively, and checks no live shard lock has another `n`. In-memory stores need no
    /// lock.
    pub fn try_lock_scope(&self, holder: &str, scope: LockScope) -> Result<WriteLock> {
        let scope = scope.validate()?;
        if self.object_store {
            return Err(CatalogError::InvalidLocation {
                location: self.display.clone(),
                reason: "an object store's write lock is a lease taken asynchronously (Catalog::open_writable_as or Catalog::lock_for_run_as)".into(),
            });
        }
        let Some(root) = self.local_root.clone() else {
            return Ok(WriteLock::none());
        };
        let main_path = root.join(LOCK_FILE);
        let mut main = open_lock_file(&main_path)?;
        let LockScope::Shard { .. } = scope else {
            match main.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    // Live shards hold it shared; name one of them, else the catalog writer.
                    for (path, other) in self.local_shard_locks(&root)? {
                        if let Some(locked) = self.live_local_lock(&path, other)? {
                            return Err(locked);
                        }
                    }
                    return Err(self.locked_by_file(&mut main, LockScope::Catalog));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io_error(&main_path, e)),
            }
            write_holder(&mut main, &main_path, holder)?;
            return Ok(WriteLock {
                _files: vec![main],
                lease: None,
            });
        };
        match main.try_lock_shared() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(self.locked_by_file(&mut main, LockScope::Catalog));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error(&main_path, e)),
        }
        let own_path = root.join(format!("{LOCK_FILE}-{}", scope.lock_name()));
        let mut own = open_lock_file(&own_path)?;
        match own.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(self.locked_by_file(&mut own, scope));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error(&own_path, e)),
        }
        write_holder(&mut own, &own_path, holder)?;
        // Taken first, checked second: of two shards with different counts starting at once,
        // at least one sees the other.
        for (path, other) in self.local_shard_locks(&root)? {
            if other != scope
                && scope.conflicts_with(other)
                && let Some(locked) = self.live_local_lock(&path, other)?
            {
                return Err(locked);
            }
        }
        Ok(WriteLock {
            _files: vec![main, own],
            lease: None,
        })
    }

    /// The shard lock files at the root of a local catalog, with their scopes.
    fn local_shard_locks(&self, root: &FsPath) -> Result<Vec<(PathBuf, LockScope)>> {
        let prefix = format!("{LOCK_FILE}-");
        let entries = std::fs::read_dir(root).map_err(|e| io_error(root, e))?;
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(scope) = name
                .strip_prefix(&prefix)
                .and_then(LockScope::from_lock_name)
            {
                out.push((entry.path(), scope));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// `Some(Locked)` if another process holds the lock file at `path` (of `scope`).
    fn live_local_lock(&self, path: &FsPath, scope: LockScope) -> Result<Option<CatalogError>> {
        let mut file = open_lock_file(path)?;
        match file.try_lock() {
            Ok(()) => Ok(None),
            Err(std::fs::TryLockError::WouldBlock) => {
                Ok(Some(self.locked_by_file(&mut file, scope)))
            }
            Err(std::fs::TryLockError::Error(e)) => Err(io_error(path, e)),
        }
    }

    /// The refusal naming the process that wrote `file` (`<pid> <holder>`).
    fn locked_by_file(&self, file: &mut std::fs::File, scope: LockScope) -> CatalogError {
        use std::io::{Read, Seek};
        let mut text = String::new();
        let _ = file.rewind();
        let _ = file.read_to_string(&mut text);
        let mut words = text.split_whitespace();
        let pid = words.next().unwrap_or("unknown").to_string();
        let named: Vec<&str> = words.collect();
        CatalogError::Locked {
            root: self.display.clone(),
            holder: if named.is_empty() {
                "process".to_string()
            } else {
                named.join(" ")
            },
            pid,
            host: None,
            scope: scope.to_string(),
        }
    }

    fn local_file(&self, path: &Path) -> Option<PathBuf> {
        self.local_root
            .as_ref()
            .map(|root| root.join(path.as_ref()))
    }
}

fn io_error(path: &FsPath, source: std::io::Error) -> CatalogError {
    CatalogError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn open_lock_file(path: &FsPath) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| io_error(path, e))
}

/// Writes `<pid> <holder>` into a lock file this process holds (informational only).
fn write_holder(file: &mut std::fs::File, path: &FsPath, holder: &str) -> Result<()> {
    use std::io::{Seek, Write};
    file.set_len(0).map_err(|e| io_error(path, e))?;
    file.rewind().map_err(|e| io_error(path, e))?;
    writeln!(file, "{} {holder}", std::process::id()).map_err(|e| io_error(path, e))
}

/// fsyncs the entries of directory `dir`.
fn sync_dir(dir: &FsPath) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Creates the directories of `dir` that are missing, syncing the entry of each in its parent,
/// so a new dataset directory survives a crash along with the files renamed into it.
fn create_dirs_durably(root: &FsPath, dir: &FsPath, steps: &StepLog) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut at = dir;
    while !at.exists() && at != root {
        missing.push(at);
        match at.parent() {
            Some(parent) => at = parent,
            None => break,
        }
    }
    for new in missing.iter().rev() {
        match std::fs::create_dir(new) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        if let Some(parent) = new.parent() {
            sync_dir(parent)?;
            steps.push(|| {
                let relative = parent.strip_prefix(root).unwrap_or(parent);
                DurableStep::DirSynced(relative.to_string_lossy().into_owned())
            });
        }
    }
    Ok(())
}

/// Creates `local` (which must not exist), writes `bytes`, fsyncs it and checks its size;
/// returns its metadata. Adds it to `created` once it exists.
fn write_new_file(
    root: &FsPath,
    local: &FsPath,
    bytes: &[u8],
    created: &mut Vec<PathBuf>,
    steps: &StepLog,
) -> Result<std::fs::Metadata> {
    use std::io::Write;
    let err = |e| io_error(local, e);
    let open = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(local)
    };
    let mut file = match open() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = local.parent() {
                create_dirs_durably(root, dir, steps).map_err(err)?;
            }
            open()
        }
        other => other,
    }
    .map_err(err)?;
    created.push(local.to_path_buf());
    file.write_all(bytes).map_err(err)?;
    file.sync_all().map_err(err)?;
    let metadata = file.metadata().map_err(err)?;
    if metadata.len() != bytes.len() as u64 {
        return Err(CatalogError::corrupt(
            local.display().to_string(),
            format!(
                "wrote {} bytes but the file holds {}",
                bytes.len(),
                metadata.len()
            ),
        ));
    }
    Ok(metadata)
}

/// A local file's listing entry exactly as `object_store`'s `LocalFileSystem` lists it (its
/// ETag is made of the inode, the modification time in microseconds and the size), so the
/// identities cache can compare it with later listings.
fn local_meta(metadata: &std::fs::Metadata, location: Path) -> ObjectMeta {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(metadata);
    #[cfg(not(unix))]
    let inode = 0u64;
    let modified = metadata
        .modified()
        .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
    let micros = modified
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    let size = metadata.len();
    ObjectMeta {
        location,
        last_modified: modified.into(),
        size,
        e_tag: Some(format!("\"{inode:x}-{micros:x}-{size:x}\"")),
        version: None,
    }
}

async fn sync_path(path: PathBuf, dir: bool) -> Result<()> {
    blocking_io(path, move |path| {
        let file = if dir {
            std::fs::File::open(path)?
        } else {
            std::fs::OpenOptions::new().write(true).open(path)?
        };
        file.sync_all()
    })
    .await
}

/// Runs blocking file-system work on `path` off the async threads; errors name the path.
async fn blocking_io<T: Send + 'static>(
    path: PathBuf,
    work: impl FnOnce(&FsPath) -> std::io::Result<T> + Send + 'static,
) -> Result<T> {
    let shown = path.display().to_string();
    let io_error = |source| CatalogError::Io {
        path: shown.clone(),
        source,
    };
    tokio::task::spawn_blocking(move || work(&path))
        .await
        .map_err(|e| io_error(std::io::Error::other(e)))?
        .map_err(io_error)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn a_new_local_file_has_the_entry_a_listing_gives_and_its_directories_are_synced() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::local(dir.path(), false).unwrap();
        storage.record_durable_steps();
        let path = Path::from("data/open_interest/X.BINANCE/a.parquet.tmp");
        let metas = storage
            .write_new_files(vec![(path.clone(), Bytes::from_static(b"0123456789"))])
            .await
            .unwrap();
        assert_eq!(metas, vec![storage.head(&path).await.unwrap()]);
        assert_eq!(metas[0].size, 10);
        // The three new directories' entries, then the file; the file's own entry is left to
        // the rename that publishes it.
        assert_eq!(
            storage.durable_steps(),
            vec![
                DurableStep::DirSynced(String::new()),
                DurableStep::DirSynced("data".into()),
                DurableStep::DirSynced("data/open_interest".into()),
                DurableStep::FileSynced(path.as_ref().into()),
            ]
        );
        // A name that exists is refused, and the file is left as it was.
        let again = storage
            .write_new_files(vec![(path.clone(), Bytes::from_static(b"x"))])
            .await;
        assert!(again.is_err());
        assert_eq!(storage.head(&path).await.unwrap().size, 10);
    }

    #[tokio::test]
    async fn renames_sync_each_directory_once_after_all_of_them() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::local(dir.path(), false).unwrap();
        let files: Vec<(Path, Bytes)> = ["d/a.tmp", "d/b.tmp"]
            .into_iter()
            .map(|p| (Path::from(p), Bytes::from_static(b"x")))
            .collect();
        storage.write_new_files(files).await.unwrap();
        storage.record_durable_steps();
        let moves = vec![
            (Path::from("d/a.tmp"), Path::from("d/a")),
            (Path::from("d/b.tmp"), Path::from("d/b")),
        ];
        storage.rename_files(moves, true).await.unwrap();
        assert_eq!(
            storage.durable_steps(),
            vec![
                DurableStep::Renamed("d/a.tmp".into(), "d/a".into()),
                DurableStep::Renamed("d/b.tmp".into(), "d/b".into()),
                DurableStep::DirSynced("d".into()),
            ]
        );
        // A failed rename says how many were done before it; nothing is synced then.
        let moves = vec![
            (Path::from("d/a"), Path::from("d/c")),
            (Path::from("d/missing"), Path::from("d/e")),
        ];
        let (done, _) = storage.rename_files(moves, true).await.unwrap_err();
        assert_eq!(done, 1);
        assert_eq!(storage.durable_steps().len(), 4);
    }
}
