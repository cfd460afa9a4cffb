//! Keeping a catalog healthy: crash recovery, compaction of small files, and the inventory
//! behind `ccxt-cli catalog info`.

use ccxt_model::{
    Bar, BarType, FundingRate, Gap, IndexPrice, InstrumentId, Liquidation, MarkPrice, OpenInterest,
    RecordKind,
};

use crate::error::{CatalogError, Result};
use crate::record::{CatalogRecord, Partition};
use crate::{BadFile, Catalog, DataFile, intersects, sort_and_dedup};

/// What [`Catalog::recover`] repaired.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Temporary files of interrupted writes that were removed.
    pub temp_files_removed: usize,
    /// Groups of overlapping files that were merged into disjoint ones.
    pub overlaps_merged: usize,
    /// Duplicate rows dropped while merging them.
    pub duplicates_removed: usize,
    /// Files met while merging that were not usable data, moved to the quarantine.
    pub files_quarantined: usize,
}

impl RecoveryReport {
    /// Whether anything was repaired.
    pub fn repaired_anything(&self) -> bool {
        *self != RecoveryReport::default()
    }
}

/// One of `count` fixed slices of a catalog's datasets, for compacting a catalog a slice at a
/// time ([`Catalog::compact_appending_slice`]): a dataset (kind × instrument) is in slice
/// `stable_hash(kind, instrument) % count`, the same in every run and every process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetSlice {
    index: u32,
    count: u32,
}

impl DatasetSlice {
    /// Every dataset.
    pub const WHOLE: DatasetSlice = DatasetSlice { index: 0, count: 1 };

    /// Slice `index` of `count` (0-based), or `None` unless `index < count`.
    pub fn new(index: u32, count: u32) -> Option<DatasetSlice> {
        (index < count).then_some(DatasetSlice { index, count })
    }

    /// Which slice this is (0-based).
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Of how many.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Whether the dataset `kind` × `id` is in this slice.
    pub fn contains(&self, kind: RecordKind, id: &InstrumentId) -> bool {
        self.count == 1 || dataset_hash(kind, id) % u64::from(self.count) == u64::from(self.index)
    }
}

impl std::fmt::Display for DatasetSlice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A stable 64-bit hash of a dataset (SipHash-1-3 with zero keys of its kind and instrument):
/// the same in every run, so what is derived from it (a compaction slice, the spool's hold-back
/// age) is fixed per dataset.
pub(crate) fn dataset_hash(kind: RecordKind, id: &InstrumentId) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = siphasher::sip::SipHasher13::new();
    kind.hash(&mut hasher);
    id.as_str().hash(&mut hasher);
    hasher.finish()
}

/// What one compaction run covers.
#[derive(Debug, Clone, Copy)]
struct CompactRun {
    /// `Some(now)`: partitions still open at `now` are merged in tiers only.
    open_after: Option<u64>,
    /// The datasets it looks at (within those the writer owns).
    slice: DatasetSlice,
}

/// What [`Catalog::compact`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CompactReport {
    /// Datasets (kind × instrument) looked at.
    pub datasets: usize,
    /// Datasets that had files merged.
    pub datasets_compacted: usize,
    /// Files before compaction in the compacted datasets.
    pub files_before: usize,
    /// Files after compaction in the compacted datasets.
    pub files_after: usize,
    /// Rows rewritten.
    pub rows_rewritten: usize,
    /// Files met while merging that were not usable data, moved to the quarantine.
    pub files_quarantined: usize,
}

/// One dataset of the catalog, as `catalog info` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetInfo {
    /// Record kind.
    pub kind: RecordKind,
    /// Instrument (the directory name).
    pub instrument_id: InstrumentId,
    /// Parquet files.
    pub files: usize,
    /// Rows, from the footers of the usable files.
    pub rows: u64,
    /// Bytes on disk.
    pub bytes: u64,
    /// First `ts_init`, from the names of the usable files.
    pub first_ts: Option<u64>,
    /// Last `ts_init`, from the names of the usable files.
    pub last_ts: Option<u64>,
    /// Anything that needs attention: overlaps, leftovers, foreign file names, and every file
    /// that is not usable data (unreadable, another schema), which counts for no rows.
    pub problems: Vec<String>,
    /// Bars only: the bar type (the directory name read as one), `None` for other kinds and
    /// for bar directories whose name is not a bar type.
    pub bar_type: Option<BarType>,
    /// Bars only: how many bars of the interval grid between the first and the last stored bar
    /// are not stored (grid bars minus rows; see `query bars --gaps` for where).
    pub missing_bars: Option<u64>,
}

impl Catalog {
    /// Repairs what interrupted writes left: removes temporary files and merges overlapping
    /// files (dropping identical rows), so every row is stored exactly once.
    pub async fn recover(&self) -> Result<RecoveryReport> {
        let _guard = self.lock().await?;
        let mut report = RecoveryReport::default();
        self.recover_kind::<OpenInterest>(&mut report).await?;
        self.recover_kind::<FundingRate>(&mut report).await?;
        self.recover_kind::<Liquidation>(&mut report).await?;
        self.recover_kind::<Bar>(&mut report).await?;
        self.recover_kind::<MarkPrice>(&mut report).await?;
        self.recover_kind::<IndexPrice>(&mut report).await?;
        self.recover_kind::<Gap>(&mut report).await?;
        if report.repaired_anything() {
            tracing::warn!(
                temp_files_removed = report.temp_files_removed,
                overlaps_merged = report.overlaps_merged,
                duplicates_removed = report.duplicates_removed,
                files_quarantined = report.files_quarantined,
                catalog = self.storage.display_root(),
                "repaired the catalog after an interrupted write"
            );
        }
        Ok(report)
    }

    async fn recover_kind<T: CatalogRecord>(&self, report: &mut RecoveryReport) -> Result<()> {
        for id in self.instruments(T::KIND).await? {
            if !self.owns(T::KIND, &id) {
                continue;
            }
            let listing = self.list_dataset(T::KIND, &id).await?;
            for temp in &listing.temps {
                self.check_writable()?;
                self.storage.delete(&temp.location).await?;
                report.temp_files_removed += 1;
            }
            for group in overlap_groups(&listing.files) {
                let (mut rows, group, quarantined) = self.read_group::<T>(group, &id).await?;
                report.files_quarantined += quarantined;
                report.duplicates_removed += sort_and_dedup(&mut rows);
                report.overlaps_merged += 1;
                if !rows.is_empty() {
                    self.replace_files(&id, &rows, &group, None).await?;
                }
            }
        }
        Ok(())
    }

    /// Merges the files of each dataset that lie within one partition (UTC day; month for
    /// funding) into one file per partition.
    /// Streaming writes many small files; this is what keeps queries fast.
    pub async fn compact(&self) -> Result<CompactReport> {
        self.compact_with(None, DatasetSlice::WHOLE).await
    }

    /// Compaction for a process that keeps appending (the daemon): partitions that ended by
    /// `now_ns` are merged into one file each, as [`Catalog::compact`] does, but the files of a
    /// partition still open (the current UTC day or month) are merged in tiers
    /// (see `open_partition_runs`): only a run of trailing files that together span at least as
    /// long as the file before them is merged, so a month file is not rewritten for an hour
    /// of new rows. An open partition then holds a few files of decreasing size (about
    /// log2 of its appends), each row is rewritten a few times in the partition's life instead
    /// of at every run, and the partition is merged into one file once, after it ends.
    pub async fn compact_appending(&self, now_ns: u64) -> Result<CompactReport> {
        self.compact_with(Some(now_ns), DatasetSlice::WHOLE).await
    }

    /// [`Catalog::compact_appending`] of the datasets in `slice` only: running each of the
    /// `slice.count()` slices once compacts the whole catalog, in as many short runs (and
    /// short holds of the write lock) instead of one long one.
    pub async fn compact_appending_slice(
        &self,
        now_ns: u64,
        slice: DatasetSlice,
    ) -> Result<CompactReport> {
        self.compact_with(Some(now_ns), slice).await
    }

    async fn compact_with(
        &self,
        open_after: Option<u64>,
        slice: DatasetSlice,
    ) -> Result<CompactReport> {
        let _guard = self.lock().await?;
        let mut report = CompactReport::default();
        let run = CompactRun { open_after, slice };
        self.compact_kind::<OpenInterest>(&mut report, run).await?;
        self.compact_kind::<FundingRate>(&mut report, run).await?;
        self.compact_kind::<Liquidation>(&mut report, run).await?;
        self.compact_kind::<Bar>(&mut report, run).await?;
        self.compact_kind::<MarkPrice>(&mut report, run).await?;
        self.compact_kind::<IndexPrice>(&mut report, run).await?;
        self.compact_kind::<Gap>(&mut report, run).await?;
        Ok(report)
    }

    async fn compact_kind<T: CatalogRecord>(
        &self,
        report: &mut CompactReport,
        CompactRun { open_after, slice }: CompactRun,
    ) -> Result<()> {
        for id in self.instruments(T::KIND).await? {
            if !self.owns(T::KIND, &id) || !slice.contains(T::KIND, &id) {
                continue;
            }
            report.datasets += 1;
            let listing = self.list_dataset(T::KIND, &id).await?;
            let mut before = 0;
            let mut after = 0;
            let partition = T::partition(&id);
            for group in partition_groups(&listing.files, partition) {
                let group = match (open_after, group.first().and_then(|f| f.range)) {
                    (Some(now), Some((start, _))) if partition.next_start(start) > now => {
                        match open_partition_runs(&group) {
                            Some(run) => run,
                            None => continue,
                        }
                    }
                    _ => group,
                };
                let (mut rows, group, quarantined) = self.read_group::<T>(group, &id).await?;
                report.files_quarantined += quarantined;
                let dropped = sort_and_dedup(&mut rows);
                // Files of one partition that must stay apart (bars of two precisions) and hold
                // no duplicate are as compact as they get: rewriting them would change nothing.
                let files_needed = rows
                    .chunk_by(|a, b| {
                        partition.start_of(a.ts_init()) == partition.start_of(b.ts_init())
                            && !T::splits_file(a, b)
                    })
                    .count();
                if quarantined == 0 && dropped == 0 && files_needed >= group.len() {
                    continue;
                }
                before += group.len();
                report.rows_rewritten += rows.len();
                if !rows.is_empty() {
                    after += self.replace_files(&id, &rows, &group, None).await?;
                }
            }
            if before > 0 {
                tracing::info!(instrument = %id, kind = %T::KIND, files_before = before, files_after = after, "compacted");
                report.datasets_compacted += 1;
                report.files_before += before;
                report.files_after += after;
            }
        }
        Ok(())
    }

    /// Reads every file of `group`, moving the ones that are not usable data to the quarantine
    /// (the caller holds the write lock). Returns the rows, the files read and how many were
    /// moved.
    pub(crate) async fn read_group<T: CatalogRecord>(
        &self,
        group: Vec<DataFile>,
        id: &InstrumentId,
    ) -> Result<(Vec<T>, Vec<DataFile>, usize)> {
        let mut rows = Vec::new();
        let mut read = Vec::with_capacity(group.len());
        let mut quarantined = 0;
        for file in group {
            match self.read_or_quarantine::<T>(&file, id).await? {
                Some(found) => {
                    rows.extend(found);
                    read.push(file);
                }
                None => quarantined += 1,
            }
        }
        Ok((rows, read, quarantined))
    }

    /// Every dataset with its size and time range. A file that cannot be read, or holds
    /// another schema, is listed under the dataset's problems and counts for no rows; it never
    /// stops the inventory.
    pub async fn info(&self) -> Result<Vec<DatasetInfo>> {
        let mut out = Vec::new();
        for kind in RecordKind::ALL {
            for id in self.instruments(kind).await? {
                let listing = self.list_dataset(kind, &id).await?;
                let mut info = DatasetInfo {
                    kind,
                    instrument_id: id.clone(),
                    files: listing.files.len() + listing.foreign.len(),
                    rows: 0,
                    bytes: 0,
                    first_ts: None,
                    last_ts: None,
                    problems: Vec::new(),
                    bar_type: None,
                    missing_bars: None,
                };
                for file in listing.files.iter().chain(&listing.foreign) {
                    info.bytes += file.meta.size;
                    let name = file.meta.location.filename().unwrap_or_default();
                    match self.check_file_of_kind(kind, file, &id).await {
                        Ok(Ok(rows)) => {
                            info.rows += rows;
                            if let Some((start, end)) = file.range {
                                info.first_ts = Some(info.first_ts.map_or(start, |t| t.min(start)));
                                info.last_ts = Some(info.last_ts.map_or(end, |t| t.max(end)));
                            }
                        }
                        Ok(Err(bad)) => info.problems.push(bad.short()),
                        Err(CatalogError::NewerVersion { version, .. }) => info.problems.push(format!(
                            "{name} was written with schema version {version} by a newer ccxt-pipeline"
                        )),
                        Err(e) => info.problems.push(format!("{name} cannot be read: {e}")),
                    }
                }
                if !overlap_groups(&listing.files).is_empty() {
                    info.problems.push("overlapping files (an interrupted write; the next storing command repairs it)".into());
                }
                if !listing.temps.is_empty() {
                    info.problems.push(format!(
                        "{} temporary file(s) of an interrupted write",
                        listing.temps.len()
                    ));
                }
                for f in &listing.foreign {
                    info.problems.push(format!(
                        "file name not in <start>_<end>.parquet form: {}",
                        f.meta.location.filename().unwrap_or_default()
                    ));
                }
                if kind == RecordKind::Bar {
                    info.bar_type = id.as_str().parse::<BarType>().ok();
                    info.missing_bars = missing_bar_count(&info);
                }
                out.push(info);
            }
        }
        Ok(out)
    }
}

impl Catalog {
    /// [`Catalog::check_file`] for a kind known at run time.
    async fn check_file_of_kind(
        &self,
        kind: RecordKind,
        file: &DataFile,
        id: &InstrumentId,
    ) -> Result<std::result::Result<u64, BadFile>> {
        match kind {
            RecordKind::OpenInterest => self.check_file::<OpenInterest>(file, id).await,
            RecordKind::FundingRate => self.check_file::<FundingRate>(file, id).await,
            RecordKind::Liquidation => self.check_file::<Liquidation>(file, id).await,
            RecordKind::Bar => self.check_file::<Bar>(file, id).await,
            RecordKind::MarkPrice => self.check_file::<MarkPrice>(file, id).await,
            RecordKind::IndexPrice => self.check_file::<IndexPrice>(file, id).await,
            RecordKind::Gap => self.check_file::<Gap>(file, id).await,
        }
    }
}

/// Grid bars between the first and last stored close minus the rows: bars are unique per close
/// and on the grid, so this is the number of missing bars, from file names and footers only.
fn missing_bar_count(info: &DatasetInfo) -> Option<u64> {
    let interval = info.bar_type.as_ref()?.interval;
    let (first, last) = (info.first_ts?, info.last_ts?);
    Some(crate::price::grid_bars(interval, first, last).saturating_sub(info.rows))
}

/// Groups of two or more files whose intervals overlap (directly or through each other).
pub(crate) fn overlap_groups(files: &[DataFile]) -> Vec<Vec<DataFile>> {
    let mut groups: Vec<Vec<DataFile>> = Vec::new();
    let mut current: Vec<DataFile> = Vec::new();
    let mut current_end = 0;
    for file in files {
        let Some(range) = file.range else { continue };
        if !current.is_empty() && intersects((range.0, range.0), (0, current_end)) {
            current_end = current_end.max(range.1);
            current.push(file.clone());
            continue;
        }
        if current.len() > 1 {
            groups.push(std::mem::take(&mut current));
        }
        current = vec![file.clone()];
        current_end = range.1;
    }
    if current.len() > 1 {
        groups.push(current);
    }
    groups
}

/// The files of a still-open partition worth merging now (size tiers): the longest run of
/// trailing files, grown backwards while the file before it spans no more time than the run
/// (from its first row to its last), if that run has two files or more. Time spanned stands
/// for rows, as appends come at a steady pace (file sizes would not: a small file is mostly
/// footer). New small files are merged into one, and that one merged with the file before it
/// once the files after it span as long; so each file spans about twice the time of the next,
/// an open partition holds about log2 of its appends, and each row is rewritten about as often.
pub(crate) fn open_partition_runs(group: &[DataFile]) -> Option<Vec<DataFile>> {
    let span = |f: &DataFile| f.range.map_or(0, |(start, end)| end.saturating_sub(start));
    let end = group.last()?.range?.1;
    let mut first = group.len().checked_sub(1)?;
    while first > 0 {
        let run_start = group[first].range.map_or(end, |r| r.0);
        if span(&group[first - 1]) > end.saturating_sub(run_start) {
            break;
        }
        first -= 1;
    }
    (group.len() - first >= 2).then(|| group[first..].to_vec())
}

/// Groups of two or more files lying within the same partition (UTC day or month).
fn partition_groups(files: &[DataFile], partition: Partition) -> Vec<Vec<DataFile>> {
    let of = |file: &DataFile| -> Option<u64> {
        let (start, end) = file.range?;
        let p = partition.start_of(start);
        (p == partition.start_of(end)).then_some(p)
    };
    let mut groups: Vec<Vec<DataFile>> = Vec::new();
    for chunk in files.chunk_by(|a, b| of(a).is_some() && of(a) == of(b)) {
        if chunk.len() > 1 && of(&chunk[0]).is_some() {
            groups.push(chunk.to_vec());
        }
    }
    groups
}
