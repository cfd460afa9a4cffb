//! The merging, atomic writer.
//!
//! A write of rows for one instrument:
//! 1. sorts them by `ts_init` and drops identical records;
//! 2. reads the existing files whose name interval meets the rows' interval (a shared endpoint
//!    counts) and merges them in, again dropping identical records; if nothing new remains, it
//!    stops here, so re-writing data already stored costs one directory listing and a read;
//! 3. splits the result at partition boundaries (UTC days; months for funding) and, for each part, writes `<final>.<uuid>.tmp`,
//!    fsyncs it and re-reads its footer to check the row count;
//! 4. renames each temporary file to its final `<start>_<end>.parquet` name and fsyncs the
//!    directory;
//! 5. deletes the replaced files that were not overwritten by a rename.
//!
//! A crash before step 4 leaves temporary files that NautilusTrader ignores (they do not end in
//! `.parquet`); a crash during 4 or 5 leaves new files overlapping old ones, all readable.
//! [`Catalog::recover`] deletes the temporaries and merges overlaps, after which every row is
//! there exactly once.

use std::collections::{BTreeMap, HashSet};

use ccxt_model::InstrumentId;
use object_store::path::Path;

use crate::error::{CatalogError, Result};
use crate::record::CatalogRecord;
use crate::{Catalog, DataFile, dataset_dir, intersects, naming, parquet_io, sort_and_dedup};

/// Suffix of temporary files.
pub(crate) const TEMP_SUFFIX: &str = ".tmp";

/// What a write did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteReport {
    /// Rows handed to the write.
    pub rows_in: usize,
    /// Rows that were not in the catalog before.
    pub rows_added: usize,
    /// Rows dropped because an identical record was already stored or given twice.
    pub duplicates: usize,
    /// Files written.
    pub files_written: usize,
    /// Existing files merged into the new ones and removed.
    pub files_replaced: usize,
}

impl WriteReport {
    pub(crate) fn add(&mut self, other: WriteReport) {
        self.rows_in += other.rows_in;
        self.rows_added += other.rows_added;
        self.duplicates += other.duplicates;
        self.files_written += other.files_written;
        self.files_replaced += other.files_replaced;
    }
}

/// Where [`Catalog::write_with_crash`] stops, to test crash safety.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// After the temporary files are written and synced, before any rename.
    BeforeRename,
    /// After the first temporary file is renamed into place.
    AfterFirstRename,
    /// After all renames, before the replaced files are deleted.
    BeforeDelete,
}

impl Catalog {
    /// Stores `rows` (any instruments, any order), merging with what is stored.
    pub async fn write<T: CatalogRecord>(&self, rows: Vec<T>) -> Result<WriteReport> {
        self.write_inner(rows, None).await
    }

    /// Like [`Catalog::write`] but stops dead at `point`, leaving the files as a crash would.
    #[doc(hidden)]
    pub async fn write_with_crash<T: CatalogRecord>(
        &self,
        rows: Vec<T>,
        point: CrashPoint,
    ) -> Result<WriteReport> {
        self.write_inner(rows, Some(point)).await
    }

    async fn write_inner<T: CatalogRecord>(
        &self,
        rows: Vec<T>,
        crash: Option<CrashPoint>,
    ) -> Result<WriteReport> {
        let mut by_instrument: BTreeMap<InstrumentId, Vec<T>> = BTreeMap::new();
        for row in rows {
            by_instrument.entry(row.dataset()).or_default().push(row);
        }
        let _guard = self.lock().await?;
        let mut report = WriteReport::default();
        for (id, rows) in by_instrument {
            report.add(self.write_dataset(&id, rows, crash).await?);
        }
        Ok(report)
    }

    async fn write_dataset<T: CatalogRecord>(
        &self,
        id: &InstrumentId,
        mut rows: Vec<T>,
        crash: Option<CrashPoint>,
    ) -> Result<WriteReport> {
        let rows_in = rows.len();
        let mut duplicates = sort_and_dedup(&mut rows);
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return Ok(WriteReport::default());
        };
        let range = (first.ts_init(), last.ts_init());
        let listing = self.list_dataset(T::KIND, id).await?;
        let mut overlapping: Vec<DataFile> = Vec::new();
        let mut merged = Vec::new();
        for file in listing.files {
            if !file.range.is_some_and(|r| intersects(r, range)) {
                continue;
            }
            // A file that is not usable data is moved to the quarantine, not merged.
            if let Some(rows) = self.read_or_quarantine::<T>(&file, id).await? {
                merged.extend(rows);
                overlapping.push(file);
            }
        }
        let existing = merged.len();
        merged.append(&mut rows);
        duplicates += sort_and_dedup(&mut merged);
        let rows_added = merged.len().saturating_sub(existing);
        if rows_added == 0 {
            return Ok(WriteReport {
                rows_in,
                duplicates,
                ..WriteReport::default()
            });
        }
        let files_written = self.replace_files(id, &merged, &overlapping, crash).await?;
        tracing::debug!(
            instrument = %id,
            kind = %T::KIND,
            rows_added,
            files_written,
            files_replaced = overlapping.len(),
            "catalog write"
        );
        Ok(WriteReport {
            rows_in,
            rows_added,
            duplicates,
            files_written,
            files_replaced: overlapping.len(),
        })
    }

    /// Replaces `replaced` with files holding `rows` (sorted, de-duplicated, non-empty), one
    /// per partition (UTC day or month), following the protocol in the module docs. Returns the files written.
    pub(crate) async fn replace_files<T: CatalogRecord>(
        &self,
        id: &InstrumentId,
        rows: &[T],
        replaced: &[DataFile],
        crash: Option<CrashPoint>,
    ) -> Result<usize> {
        let dir = dataset_dir(T::KIND, id);
        let mut staged: Vec<(Path, Path)> = Vec::new();
        let part = |r: &T| T::PARTITION.start_of(r.ts_init());
        for chunk in rows.chunk_by(|a, b| part(a) == part(b)) {
            let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
                continue;
            };
            let name = naming::file_name(first.ts_init(), last.ts_init());
            let final_path = dir.clone().join(name.as_str());
            let temp_path = dir.clone().join(format!(
                "{name}.{}{TEMP_SUFFIX}",
                uuid::Uuid::new_v4().simple()
            ));
            if let Err(e) = self.stage(chunk, id, &temp_path).await {
                self.discard(&staged).await;
                return Err(e);
            }
            staged.push((temp_path, final_path));
        }
        if crash == Some(CrashPoint::BeforeRename) {
            return Err(CatalogError::SimulatedCrash(CrashPoint::BeforeRename));
        }
        for (i, (temp, final_path)) in staged.iter().enumerate() {
            if let Err(e) = self.storage.rename_durable(temp, final_path).await {
                self.discard(&staged[i..]).await;
                return Err(e);
            }
            if i == 0 && crash == Some(CrashPoint::AfterFirstRename) {
                return Err(CatalogError::SimulatedCrash(CrashPoint::AfterFirstRename));
            }
        }
        if crash == Some(CrashPoint::BeforeDelete) {
            return Err(CatalogError::SimulatedCrash(CrashPoint::BeforeDelete));
        }
        let written: HashSet<&Path> = staged.iter().map(|(_, f)| f).collect();
        for file in replaced {
            if !written.contains(&file.meta.location) {
                self.storage.delete(&file.meta.location).await?;
            }
        }
        if !replaced.is_empty() {
            self.storage.sync_dir_of(&dir.clone().join("x")).await?;
        }
        Ok(staged.len())
    }

    /// Writes one temporary file and checks its footer holds every row.
    async fn stage<T: CatalogRecord>(
        &self,
        rows: &[T],
        id: &InstrumentId,
        temp: &Path,
    ) -> Result<()> {
        let shown = self.storage.display_path(temp);
        let bytes = parquet_io::encode(rows, id, &shown)?;
        self.storage.put_durable(temp, bytes).await?;
        let meta = self.storage.head(temp).await?;
        let footer = parquet_io::read_footer(&self.storage, &meta).await?;
        let found = footer.file_metadata().num_rows();
        if found != rows.len() as i64 {
            self.storage.delete(temp).await?;
            return Err(CatalogError::RowCountMismatch {
                path: shown,
                expected: rows.len(),
                found,
            });
        }
        Ok(())
    }

    /// Best-effort removal of temporary files after a failed write.
    async fn discard(&self, staged: &[(Path, Path)]) {
        for (temp, _) in staged {
            if let Err(e) = self.storage.delete(temp).await {
                tracing::warn!(error = %e, "could not remove a temporary file; the next start removes it");
            }
        }
    }
}
