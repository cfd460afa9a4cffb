//! Files a dataset directory holds that are not usable data: unreadable (random bytes, empty,
//! truncated, undecodable pages) or foreign (readable Parquet of another schema or record
//! kind).
//!
//! Readers (`query`, `catalog info`) report them and never count them as data. Writers
//! (`fetch-* --store`, `catalog compact`, the daemon) move each to the quarantine,
//! `<catalog>/.quarantine/<its path under the root>.<UTC time>` (see
//! [`naming::QUARANTINE_DIR`]), never deleting it, log it at ERROR, and the history planners
//! fetch the time it covered again. A file written by a newer ccxt-pipeline is valid data this
//! build cannot read: it is refused with an error, never moved.

use ccxt_model::{InstrumentId, RecordKind};
use object_store::path::Path;

use crate::error::{CatalogError, Result};
use crate::record::{CatalogRecord, Partition};
use crate::{Catalog, DataFile, intersects, naming, parquet_io};

/// What is wrong with a file of a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileProblem {
    /// Not a readable Parquet file (empty, random bytes, truncated) or its data does not decode.
    Corrupt(String),
    /// Readable Parquet, but not records of its directory: another schema or record kind.
    Foreign {
        /// The class directory whose records it should hold.
        expected: &'static str,
        /// What does not match.
        reason: String,
    },
}

/// A file of a dataset that cannot be used as its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFile {
    /// The dataset's record kind.
    pub kind: RecordKind,
    /// The dataset (instrument id, or venue for gaps).
    pub dataset: InstrumentId,
    /// The file, as shown in messages (the absolute path for local catalogs).
    pub path: String,
    /// What is wrong with it.
    pub problem: FileProblem,
    /// The closed `ts_init` interval its name claims; `None` for names not in our form.
    pub range: Option<(u64, u64)>,
    /// The whole partitions (UTC days; months for funding; by interval for bars) that `range` lies in: the time to
    /// fetch again once the file is moved aside.
    pub span: Option<(u64, u64)>,
    /// Where it was moved, if a writing command moved it to the quarantine.
    pub quarantined_to: Option<String>,
    location: Path,
}

impl std::fmt::Display for BadFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.problem {
            FileProblem::Corrupt(reason) => {
                write!(f, "catalog file '{}' is corrupt: {reason}", self.path)?
            }
            FileProblem::Foreign { expected, reason } => write!(
                f,
                "catalog file '{}' is not a {expected} file: {reason}",
                self.path
            )?,
        }
        if let Some(to) = &self.quarantined_to {
            write!(f, "; moved to '{to}'")?;
        }
        Ok(())
    }
}

impl BadFile {
    fn new<T: CatalogRecord>(
        file: &DataFile,
        id: &InstrumentId,
        error: CatalogError,
    ) -> std::result::Result<BadFile, CatalogError> {
        let (path, problem) = match error {
            CatalogError::Corrupt { path, reason } => (path, FileProblem::Corrupt(reason)),
            CatalogError::Foreign {
                path,
                expected,
                reason,
            } => (path, FileProblem::Foreign { expected, reason }),
            other => return Err(other),
        };
        Ok(BadFile {
            kind: T::KIND,
            dataset: id.clone(),
            path,
            problem,
            range: file.range,
            span: file.range.map(|r| partition_span(T::partition(id), r)),
            quarantined_to: None,
            location: file.meta.location.clone(),
        })
    }

    /// The file's name, without its directory.
    pub fn file_name(&self) -> &str {
        self.location.filename().unwrap_or_default()
    }

    /// The problem in a few words, without the path: for `catalog info`'s problems column.
    pub fn short(&self) -> String {
        let what = match &self.problem {
            FileProblem::Corrupt(reason) => format!("corrupt: {reason}"),
            FileProblem::Foreign { expected, reason } => {
                format!("not a {expected} file: {reason}")
            }
        };
        format!("{} is {what}", self.file_name())
    }
}

impl From<BadFile> for CatalogError {
    fn from(bad: BadFile) -> CatalogError {
        match bad.problem {
            FileProblem::Corrupt(reason) => CatalogError::Corrupt {
                path: bad.path,
                reason,
            },
            FileProblem::Foreign { expected, reason } => CatalogError::Foreign {
                path: bad.path,
                expected,
                reason,
            },
        }
    }
}

/// The first and last ns of the partitions `range` lies in.
fn partition_span(partition: Partition, range: (u64, u64)) -> (u64, u64) {
    let start = partition.start_of(range.0);
    let next = partition.next_start(range.1);
    (start, next.saturating_sub(1).max(range.1))
}

/// How a reader treats a file it cannot use as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadFiles {
    /// Report it and leave it where it is (read-only callers).
    Report,
    /// Move it to the quarantine (writing callers; takes the catalog's write lock).
    Quarantine,
}

/// What the catalog holds of one dataset's history in a time range: what a history planner
/// needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredHistory {
    /// The first and last `ts_init` of the rows the planner's filter keeps, in the usable files.
    pub bounds: Option<(u64, u64)>,
    /// Files met in the range that are not usable data: never counted in `bounds`, and moved
    /// to the quarantine with [`BadFiles::Quarantine`]. Their `span` is to be fetched again.
    pub bad_files: Vec<BadFile>,
}

impl Catalog {
    /// Checks that `file` is a readable Parquet file holding `T` records of `id` (footer and
    /// schema; data pages are not decoded): `Ok(Ok(rows in its footer))`, or `Ok(Err(_))`
    /// naming what is wrong with it. `Err` is for failures that say nothing about the file
    /// (storage errors, a file written by a newer ccxt-pipeline).
    pub(crate) async fn check_file<T: CatalogRecord>(
        &self,
        file: &DataFile,
        id: &InstrumentId,
    ) -> Result<std::result::Result<u64, BadFile>> {
        let shown = self.storage.display_path(&file.meta.location);
        let checked = match parquet_io::read_footer(&self.storage, &file.meta).await {
            Ok(footer) => parquet_io::check_schema::<T>(&footer, id, &shown)
                .map(|()| u64::try_from(footer.file_metadata().num_rows()).unwrap_or(0)),
            Err(e) => Err(e),
        };
        match checked {
            Ok(rows) => Ok(Ok(rows)),
            Err(e) if e.is_bad_file() => BadFile::new::<T>(file, id, e).map(Err),
            Err(e) => Err(e),
        }
    }

    /// The rows of `file` in `[start, end]`, or what makes it unusable.
    pub(crate) async fn read_checked<T: CatalogRecord>(
        &self,
        file: &DataFile,
        id: &InstrumentId,
        start: u64,
        end: u64,
    ) -> Result<std::result::Result<Vec<T>, BadFile>> {
        match parquet_io::read_rows::<T>(&self.storage, &file.meta, id, start, end).await {
            Ok((rows, _)) => Ok(Ok(rows)),
            Err(e) if e.is_bad_file() => BadFile::new::<T>(file, id, e).map(Err),
            Err(e) => Err(e),
        }
    }

    /// Every row of `file`, or `None` after moving it to the quarantine because it is not
    /// usable. The caller holds the write lock.
    pub(crate) async fn read_or_quarantine<T: CatalogRecord>(
        &self,
        file: &DataFile,
        id: &InstrumentId,
    ) -> Result<Option<Vec<T>>> {
        match self.read_checked::<T>(file, id, 0, u64::MAX).await? {
            Ok(rows) => Ok(Some(rows)),
            // Another writer's dataset: refused, never moved.
            Err(bad) if !self.owns(T::KIND, id) => Err(bad.into()),
            Err(bad) => {
                self.move_to_quarantine(bad).await?;
                Ok(None)
            }
        }
    }

    /// Moves a bad file to `<root>/.quarantine/<its path>.<UTC time>` (never replacing
    /// anything there), logs it and remembers it for [`Catalog::quarantined`]. The caller holds
    /// the write lock.
    pub(crate) async fn move_to_quarantine(&self, mut bad: BadFile) -> Result<BadFile> {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let base = format!("{}/{}.{stamp}", naming::QUARANTINE_DIR, bad.location);
        self.check_writable()?;
        let mut attempt = 1;
        let target = loop {
            let candidate = if attempt == 1 {
                Path::from(base.as_str())
            } else {
                Path::from(format!("{base}-{attempt}"))
            };
            if self
                .storage
                .rename_no_replace(&bad.location, &candidate)
                .await?
            {
                break candidate;
            }
            attempt += 1;
            if attempt > 1000 {
                return Err(CatalogError::Io {
                    path: self.storage.display_path(&Path::from(base.as_str())),
                    source: std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "every quarantine name for this file and second is taken",
                    ),
                });
            }
        };
        bad.quarantined_to = Some(self.storage.display_path(&target));
        tracing::error!(
            file = %bad.path,
            problem = %bad.short(),
            moved_to = bad.quarantined_to.as_deref().unwrap_or_default(),
            "moved a catalog file that is not usable data to the quarantine; the time it covered is fetched again where the venue still serves it"
        );
        if let Ok(mut moved) = self.quarantined.lock() {
            moved.push(bad.clone());
        }
        Ok(bad)
    }

    /// The files this process moved to the quarantine so far, oldest first.
    pub fn quarantined(&self) -> Vec<BadFile> {
        self.quarantined
            .lock()
            .map(|moved| moved.clone())
            .unwrap_or_default()
    }

    /// The files in the quarantine directory (moved there by any process), as shown paths.
    pub async fn quarantine_contents(&self) -> Result<Vec<String>> {
        let files = self
            .storage
            .list_recursive(&Path::from(naming::QUARANTINE_DIR))
            .await?;
        Ok(files
            .iter()
            .map(|f| self.storage.display_path(&f.location))
            .collect())
    }

    /// What is stored of `id`'s history in `[start, end]`: the first and last `ts_init` of the
    /// rows `keep` accepts (e.g. history rows, `ts_init == ts_event`), and the files in the
    /// range that are not usable data.
    ///
    /// Every file whose name meets the range (and every file not named by us) has its footer
    /// and schema checked; only the files at each end are read until a kept row is found. With
    /// [`BadFiles::Quarantine`] the bad files are moved to the quarantine; either way they never
    /// count as stored.
    pub async fn stored_history<T: CatalogRecord>(
        &self,
        id: &InstrumentId,
        start: u64,
        end: u64,
        keep: impl Fn(&T) -> bool,
        on_bad: BadFiles,
    ) -> Result<StoredHistory> {
        // Another writer's dataset is only reported, never moved.
        let on_bad = if self.owns(T::KIND, id) {
            on_bad
        } else {
            BadFiles::Report
        };
        let _guard = match on_bad {
            BadFiles::Quarantine => Some(self.lock().await?),
            BadFiles::Report => None,
        };
        let listing = self.list_dataset(T::KIND, id).await?;
        let mut bad = Vec::new();
        let mut files: Vec<&DataFile> = Vec::new();
        for file in &listing.files {
            if !file.range.is_some_and(|r| intersects(r, (start, end))) {
                continue;
            }
            match self.check_file::<T>(file, id).await? {
                Ok(_) => files.push(file),
                Err(b) => bad.push(b),
            }
        }
        for file in &listing.foreign {
            if let Err(b) = self.check_file::<T>(file, id).await? {
                bad.push(b);
            }
        }
        let mut first = None;
        while let Some(file) = files.first().copied() {
            match self.read_checked::<T>(file, id, start, end).await? {
                Ok(rows) => {
                    first = rows.iter().filter(|r| keep(r)).map(|r| r.ts_init()).min();
                    if first.is_some() {
                        break;
                    }
                }
                Err(b) => bad.push(b),
            }
            files.remove(0);
        }
        let mut bounds = None;
        if let Some(first) = first {
            while let Some(file) = files.last().copied() {
                match self.read_checked::<T>(file, id, start, end).await? {
                    Ok(rows) => {
                        if let Some(last) =
                            rows.iter().filter(|r| keep(r)).map(|r| r.ts_init()).max()
                        {
                            bounds = Some((first, last));
                            break;
                        }
                    }
                    Err(b) => bad.push(b),
                }
                files.pop();
            }
            // The first file held a kept row, so the loop above found one at the latest there.
            bounds = bounds.or(Some((first, first)));
        }
        if on_bad == BadFiles::Quarantine {
            let mut moved = Vec::with_capacity(bad.len());
            for b in bad {
                moved.push(self.move_to_quarantine(b).await?);
            }
            bad = moved;
        }
        Ok(StoredHistory {
            bounds,
            bad_files: bad,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = ccxt_model::time::NANOS_PER_DAY;
    // 2025-01-01T00:00:00Z
    const JAN1: u64 = 1_735_689_600_000_000_000;

    #[test]
    fn a_bad_file_is_fetched_again_by_whole_partitions() {
        assert_eq!(
            partition_span(
                Partition::Day,
                (JAN1 + 3_600_000_000_000, JAN1 + 7_200_000_000_000)
            ),
            (JAN1, JAN1 + DAY - 1)
        );
        // January has 31 days; February 2025 28.
        let feb1 = JAN1 + 31 * DAY;
        assert_eq!(
            partition_span(Partition::Month, (JAN1 + 5 * DAY, JAN1 + 20 * DAY)),
            (JAN1, feb1 - 1)
        );
        assert_eq!(
            partition_span(Partition::Month, (feb1 + DAY, feb1 + 2 * DAY)),
            (feb1, feb1 + 28 * DAY - 1)
        );
    }
}
