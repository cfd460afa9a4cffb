//! Where catalog files live: an `object_store` backend, plus the durability steps a local
//! directory needs (fsync of files and directories) and a cross-process write lock.
//!
//! Everything the catalog does to files goes through [`Storage`], so the same code writes a
//! local directory and an object store (`s3://`, `gs://`, `az://`; see the `cloud` module).
//! What differs is kept here: local disks fsync and rename and lock with `flock`; object
//! stores have no rename (conditional creates, copy-then-delete for the quarantine) and lock
//! with a lease object (the `lease` module).

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

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
        }
        Ok(())
    }

    /// Renames `from` to `to` (atomic on local disks, replacing `to`) and syncs the directory.
    pub async fn rename_durable(&self, from: &Path, to: &Path) -> Result<()> {
        self.store
            .rename(from, to)
            .await
            .map_err(|e| CatalogError::storage(self.display_path(to), e))?;
        self.sync_dir_of(to).await
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
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(CatalogError::storage(self.display_path(path), e)),
        }
    }

    /// Makes directory entries (renames, deletions) in the directory of `path` durable.
    pub async fn sync_dir_of(&self, path: &Path) -> Result<()> {
        match self
            .local_file(path)
            .and_then(|f| f.parent().map(FsPath::to_path_buf))
        {
            Some(dir) => sync_path(dir, true).await,
            None => Ok(()),
        }
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
