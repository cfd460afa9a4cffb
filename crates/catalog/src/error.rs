//! Errors of the catalog. Every message names the file or location involved.

/// What can go wrong reading or writing a catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The catalog root does not exist (reading needs an existing catalog).
    #[error(
        "no catalog at '{0}': the directory does not exist (pass --catalog PATH or set CCXT_CATALOG_PATH)"
    )]
    NotFound(String),
    /// The location is not a supported catalog location.
    #[error("cannot use '{location}' as a catalog: {reason}")]
    InvalidLocation {
        /// What was given.
        location: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// The storage backend failed on a path.
    #[error("storage error on '{path}': {source}")]
    Storage {
        /// The file or directory involved.
        path: String,
        /// The backend's error.
        #[source]
        source: object_store::Error,
    },
    /// A local file operation (fsync, lock) failed.
    #[error("i/o error on '{path}': {source}")]
    Io {
        /// The file or directory involved.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A catalog file could not be read: not Parquet, empty, truncated, or its data does not
    /// decode. A local problem of the catalog, never the venue's.
    #[error("catalog file '{path}' is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A readable Parquet file that does not hold the records of the directory it sits in
    /// (another schema, or another record kind).
    #[error("catalog file '{path}' is not a {expected} file: {reason}")]
    Foreign {
        /// The file.
        path: String,
        /// The class directory whose records it should hold (`custom_open_interest`, ...).
        expected: &'static str,
        /// What does not match.
        reason: String,
    },
    /// A file written by a newer ccxt-pipeline: valid data this version cannot read. It is
    /// refused, never misread and never moved aside.
    #[error(
        "catalog file '{path}' was written with schema version {version} by a newer ccxt-pipeline (this one reads up to {supported}); upgrade ccxt-cli"
    )]
    NewerVersion {
        /// The file.
        path: String,
        /// The version in its footer.
        version: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// Encoding rows to Parquet failed.
    #[error("cannot encode rows for '{path}': {reason}")]
    Encode {
        /// The file being written.
        path: String,
        /// The encoder's error.
        reason: String,
    },
    /// A written file did not hold the rows we wrote: never silent, the write is undone.
    #[error("row count mismatch in '{path}': wrote {expected} rows but its footer says {found}")]
    RowCountMismatch {
        /// The file.
        path: String,
        /// Rows we wrote.
        expected: usize,
        /// Rows the footer reports.
        found: i64,
    },
    /// Another process holds the catalog's write lock (or a lock its scope conflicts with).
    #[error(
        "catalog '{root}' is in use: another {holder} (pid {pid}{}) is writing to it{}; stop it first or use another --catalog",
        host.as_deref().map(|h| format!(" on host {h}")).unwrap_or_default(),
        scope_note(scope)
    )]
    Locked {
        /// The catalog root.
        root: String,
        /// What holds it, as it named itself (`daemon`, `stream-liquidations`, …).
        holder: String,
        /// Its process id, as it wrote it into the lock (`unknown` if unreadable).
        pid: String,
        /// The host it runs on (object stores, where writers may run on other machines).
        host: Option<String>,
        /// What the live lock covers (`the whole catalog`, `shard 1/4`).
        scope: String,
    },
    /// A shard scope outside `0..count`.
    #[error(
        "invalid shard {index}/{count}: the index must be in 0..count and count at least 1 (e.g. 0/4 … 3/4)"
    )]
    InvalidShard {
        /// The index given.
        index: u32,
        /// The count given.
        count: u32,
    },
    /// This writer's lease on an object store was lost (taken over after it expired, or it
    /// could not be renewed in time): it must not write any more.
    #[error(
        "lost the write lease on catalog '{root}' ({reason}); stopped writing so two writers never write at once: restart to take the lock again"
    )]
    LeaseLost {
        /// The catalog root.
        root: String,
        /// Why.
        reason: String,
    },
    /// A crash was simulated by a test (see `Catalog::write_with_crash`).
    #[error("simulated crash at {0:?}")]
    SimulatedCrash(crate::CrashPoint),
}

/// ` as shard 1/4` for a shard's lock; nothing for the whole catalog's.
fn scope_note(scope: &str) -> String {
    if scope.starts_with("shard") {
        format!(" as {scope}")
    } else {
        String::new()
    }
}

impl CatalogError {
    pub(crate) fn storage(path: impl Into<String>, source: object_store::Error) -> Self {
        CatalogError::Storage {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(path: impl Into<String>, reason: impl ToString) -> Self {
        CatalogError::Corrupt {
            path: path.into(),
            reason: reason.to_string(),
        }
    }
}

impl CatalogError {
    /// Whether this error says a file is unusable as data of its dataset (corrupt or foreign):
    /// what writing commands move to the quarantine. Storage errors, newer-version files and
    /// everything else are not.
    pub fn is_bad_file(&self) -> bool {
        matches!(
            self,
            CatalogError::Corrupt { .. } | CatalogError::Foreign { .. }
        )
    }
}

/// Result alias of this crate.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;
