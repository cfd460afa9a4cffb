//! Where catalog files live: an `object_store` backend, plus the durability steps a local
//! directory needs (fsync of files and directories) and a cross-process write lock.
//!
//! Everything the catalog does to files goes through [`Storage`], so the same code can later
//! write `s3://bucket/prefix`. Only local directories are enabled today.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};

use crate::error::{CatalogError, Result};
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
}

/// Held while a process writes to the catalog; dropping it releases the lock.
#[derive(Debug)]
pub struct WriteLock {
    _files: Vec<std::fs::File>,
}

impl WriteLock {
    /// A guard that holds no file lock (the caller holds one already, or needs none).
    pub(crate) fn none() -> WriteLock {
        WriteLock { _files: Vec::new() }
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
        })
    }

    /// An in-memory store, for tests of the storage-independent logic.
    pub fn in_memory() -> Storage {
        Storage {
            store: Arc::new(InMemory::new()),
            local_root: None,
            display: "memory://".into(),
            object_store: false,
        }
    }

    /// Opens a location given by a user with default [`StorageOptions`].
    pub fn from_location(location: &str, create: bool) -> Result<Storage> {
        Storage::from_location_with(location, create, &StorageOptions::default())
    }

    /// Opens a location given by a user: a local path or a `file://` URL.
    pub fn from_location_with(
        location: &str,
        create: bool,
        _options: &StorageOptions,
    ) -> Result<Storage> {
        if let Some(path) = location.strip_prefix("file://") {
            return Storage::local(FsPath::new(path), create);
        }
        if let Some((scheme, _)) = location.split_once("://") {
            return Err(CatalogError::InvalidLocation {
                location: location.into(),
                reason: format!(
                    "'{scheme}://' catalogs are not supported yet; use a local directory or file:// path"
                ),
            });
        }
        Storage::local(FsPath::new(location), create)
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
            None => format!("{}{}", self.display, path),
        }
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
        match self.store.rename_if_not_exists(from, to).await {
            Ok(()) => {}
            Err(object_store::Error::AlreadyExists { .. }) => return Ok(false),
            Err(e) => return Err(CatalogError::storage(self.display_path(from), e)),
        }
        self.sync_dir_of(to).await?;
        self.sync_dir_of(from).await?;
        Ok(true)
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

    /// Takes the catalog's write lock, waiting for another process that holds it. In-memory
    /// stores need no cross-process lock.
    pub async fn lock(&self) -> Result<WriteLock> {
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
        Ok(WriteLock { _files: vec![file] })
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
            return Ok(WriteLock { _files: vec![main] });
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
