//! The identities a writer has read back, kept while their files are unchanged.
//!
//! A write of records with a venue identity (liquidations) looks for an earlier delivery of
//! each row in the dataset's files from [`CatalogRecord::earliest_delivery_ns`] on: for a
//! liquidation, every file of the last five minutes. A process that writes every second
//! (`stream-liquidations --store`, the daemon's spool drains) would read each of those files
//! back on every write, so the cost of a write grew with the number of files in the window.
//! This cache reads each file once: it keeps, per dataset, the identities of the files the last
//! search looked in, stamped with the file's size, modification time and ETag. A file whose
//! stamp changed (compacted, merged, replaced) is read again; a file that left the window or
//! the dataset is forgotten. Of a file it keeps only the rows a write can still be looking for:
//! those stored from the search's earliest delivery on. A compacted file of the day's first
//! hours meets the window at its end, and holding all its identities made a daemon's memory
//! grow with the day's liquidations; a later search that looks further back (late rows, a
//! replay) reads the file again. So the cache holds about one window of identities per dataset.
//! Each identity is held as its 128-bit SipHash-1-3 fingerprint (16 bytes instead of an enum with
//! a heap string): two distinct liquidations of one dataset's five minutes would have to share
//! all 128 bits to be taken for one, a chance below 10^-20 even for a billion identities.
//!
//! [`CatalogRecord::earliest_delivery_ns`]: crate::record::CatalogRecord::earliest_delivery_ns

use std::collections::HashMap;

use object_store::ObjectMeta;
use object_store::path::Path;

use crate::DataFile;
use crate::record::RecordIdentity;

/// What tells a file's versions apart: a file rewritten under the same name has another size,
/// or another ETag (a content hash on object stores; inode, time and size on a local disk), or,
/// where one answer has no ETag (some S3-compatible servers list without them), another
/// modification time to the second: a HEAD and a listing of one S3 object give the time at
/// different precisions.
#[derive(Debug, Clone)]
struct Stamp {
    size: u64,
    last_modified: chrono::DateTime<chrono::Utc>,
    e_tag: Option<String>,
}

impl Stamp {
    fn of(meta: &ObjectMeta) -> Stamp {
        Stamp {
            size: meta.size,
            last_modified: meta.last_modified,
            e_tag: meta.e_tag.clone(),
        }
    }
}

impl PartialEq for Stamp {
    fn eq(&self, other: &Stamp) -> bool {
        self.size == other.size
            && match (&self.e_tag, &other.e_tag) {
                (Some(a), Some(b)) => a == b,
                _ => self.last_modified.timestamp() == other.last_modified.timestamp(),
            }
    }
}

/// The identities one file holds from `from_ns` on.
#[derive(Debug)]
struct HeldFile {
    /// The file's stamp when read.
    stamp: Stamp,
    /// The fingerprints are those of the file's rows with a `ts_init` from this on (0: all).
    from_ns: u64,
    prints: Vec<u128>,
}

/// The identities stored in the searched files of one dataset.
#[derive(Debug, Default)]
pub(crate) struct DatasetIdentities {
    /// Per file: what was read of it.
    files: HashMap<Path, HeldFile>,
    /// Every fingerprint of `files`, with how many of them hold it (foldhash: every row of
    /// every write is looked up here).
    stored: HashMap<u128, u32, foldhash::fast::RandomState>,
}

impl DatasetIdentities {
    /// Forgets every file not in `searched` (by location and stamp) or held only from after
    /// `since_ns`, and returns those of `searched` it does not hold: the files the caller must
    /// read and [`add`](Self::add) from `since_ns` on.
    pub(crate) fn retain_unchanged<'a>(
        &mut self,
        searched: &[&'a DataFile],
        since_ns: u64,
    ) -> Vec<&'a DataFile> {
        let wanted: HashMap<&Path, Stamp> = searched
            .iter()
            .map(|f| (&f.meta.location, Stamp::of(&f.meta)))
            .collect();
        let stale: Vec<Path> = self
            .files
            .iter()
            .filter(|(path, held)| wanted.get(path) != Some(&held.stamp) || held.from_ns > since_ns)
            .map(|(path, _)| path.clone())
            .collect();
        for path in stale {
            self.forget(&path);
        }
        self.shrink_if_sparse();
        searched
            .iter()
            .filter(|f| !self.files.contains_key(&f.meta.location))
            .copied()
            .collect()
    }

    /// Records the identities of the rows of `meta`'s file with a `ts_init` from `from_ns` on
    /// (0: of all its rows).
    pub(crate) fn add(
        &mut self,
        meta: &ObjectMeta,
        from_ns: u64,
        identities: impl Iterator<Item = u128>,
    ) {
        self.forget(&meta.location);
        let prints: Vec<u128> = identities.collect();
        for print in &prints {
            *self.stored.entry(*print).or_default() += 1;
        }
        let held = HeldFile {
            stamp: Stamp::of(meta),
            from_ns,
            prints,
        };
        self.files.insert(meta.location.clone(), held);
    }

    /// Whether a searched file holds `identity`.
    pub(crate) fn contains(&self, identity: &RecordIdentity<'_>) -> bool {
        self.stored.contains_key(&identity.fingerprint())
    }

    /// Whether no file is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// How many distinct identities are held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.stored.len()
    }

    /// Gives memory back after a burst: a set emptied to a quarter of its table is rehashed
    /// into a table twice its size.
    fn shrink_if_sparse(&mut self) {
        const SMALLEST: usize = 1024;
        if self.stored.capacity() > SMALLEST && self.stored.len() < self.stored.capacity() / 4 {
            self.stored.shrink_to((self.stored.len() * 2).max(SMALLEST));
        }
    }

    fn forget(&mut self, path: &Path) {
        let Some(HeldFile { prints, .. }) = self.files.remove(path) else {
            return;
        };
        for print in prints {
            if let Some(count) = self.stored.get_mut(&print) {
                *count -= 1;
                if *count == 0 {
                    self.stored.remove(&print);
                }
            }
        }
    }
}

/// [`DatasetIdentities`] of every dataset a writer searched, by dataset directory.
#[derive(Debug, Default)]
pub(crate) struct IdentityCache {
    datasets: std::sync::Mutex<HashMap<Path, DatasetIdentities>>,
}

impl IdentityCache {
    /// Takes the dataset's entry out (empty when none): the caller, holding the write lock,
    /// works on it across awaits and [`put`](Self::put)s it back.
    pub(crate) fn take(&self, dataset: &Path) -> DatasetIdentities {
        self.lock().remove(dataset).unwrap_or_default()
    }

    /// Puts a dataset's entry back (dropped when it holds no file).
    pub(crate) fn put(&self, dataset: Path, entry: DatasetIdentities) {
        if !entry.is_empty() {
            self.lock().insert(dataset, entry);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Path, DatasetIdentities>> {
        // A panic while holding this lock leaves a map that is still consistent.
        self.datasets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, size: u64) -> DataFile {
        DataFile {
            meta: ObjectMeta {
                location: Path::from(name),
                last_modified: chrono::DateTime::from_timestamp(1_700_000_000, 0)
                    .unwrap_or_default(),
                size,
                e_tag: None,
                version: None,
            },
            range: None,
        }
    }

    fn names(files: &[&DataFile]) -> Vec<String> {
        files.iter().map(|f| f.meta.location.to_string()).collect()
    }

    fn ids(values: &[&str]) -> impl Iterator<Item = u128> {
        values
            .iter()
            .map(|v| RecordIdentity::Trade(v).fingerprint())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn a_file_is_read_once_while_unchanged() {
        let mut entry = DatasetIdentities::default();
        let a = file("d/a.parquet", 10);
        let b = file("d/b.parquet", 10);
        assert_eq!(entry.retain_unchanged(&[&a], 0).len(), 1);
        entry.add(&a.meta, 0, ids(&["1", "2"]));
        let to_read = entry.retain_unchanged(&[&a, &b], 0);
        assert_eq!(names(&to_read), ["d/b.parquet"]);
        entry.add(&b.meta, 0, ids(&["2", "3"]));
        assert!(entry.contains(&RecordIdentity::Trade("1")));
        assert!(entry.contains(&RecordIdentity::Trade("3")));
        assert!(entry.retain_unchanged(&[&a, &b], 0).is_empty());
    }

    #[test]
    fn a_changed_or_gone_file_is_forgotten() {
        let mut entry = DatasetIdentities::default();
        let a = file("d/a.parquet", 10);
        let b = file("d/b.parquet", 10);
        entry.retain_unchanged(&[&a, &b], 0);
        entry.add(&a.meta, 0, ids(&["1", "2"]));
        entry.add(&b.meta, 0, ids(&["2", "3"]));
        // b left the window: "3" is no longer known, "2" still is (a holds it).
        let to_read = entry.retain_unchanged(&[&a], 0);
        assert!(to_read.is_empty());
        assert!(!entry.contains(&RecordIdentity::Trade("3")));
        assert!(entry.contains(&RecordIdentity::Trade("2")));
        // a rewritten under its name (another size): read again.
        let a2 = file("d/a.parquet", 11);
        assert_eq!(names(&entry.retain_unchanged(&[&a2], 0)), ["d/a.parquet"]);
        assert!(!entry.contains(&RecordIdentity::Trade("1")));
        assert!(entry.is_empty());
    }

    #[test]
    fn a_file_held_from_later_is_read_again_for_an_earlier_search() {
        let mut entry = DatasetIdentities::default();
        let a = file("d/a.parquet", 10);
        assert_eq!(entry.retain_unchanged(&[&a], 500).len(), 1);
        entry.add(&a.meta, 500, ids(&["late"]));
        // As far back, or less: held.
        assert!(entry.retain_unchanged(&[&a], 500).is_empty());
        assert!(entry.retain_unchanged(&[&a], 900).is_empty());
        assert!(entry.contains(&RecordIdentity::Trade("late")));
        // Further back: what is held does not cover it, so the file is read again.
        assert_eq!(names(&entry.retain_unchanged(&[&a], 499)), ["d/a.parquet"]);
        assert!(!entry.contains(&RecordIdentity::Trade("late")));
        entry.add(&a.meta, 499, ids(&["early", "late"]));
        assert_eq!(entry.retain_unchanged(&[&a], 0).len(), 1);
    }

    #[test]
    fn a_set_emptied_by_forgetting_gives_its_table_back() {
        let mut entry = DatasetIdentities::default();
        let big = file("d/big.parquet", 10);
        let small = file("d/small.parquet", 10);
        entry.add(&big.meta, 0, (0..100_000u128).map(|i| i << 64));
        entry.add(&small.meta, 0, (0..10u128).map(|i| i + 1));
        let full = entry.stored.capacity();
        assert!(full >= 100_000);
        entry.retain_unchanged(&[&small], 0);
        assert_eq!(entry.len(), 10);
        assert!(
            entry.stored.capacity() < full / 10,
            "{}",
            entry.stored.capacity()
        );
        // A set in use keeps its table.
        entry.add(&big.meta, 0, (0..100_000u128).map(|i| i << 64));
        let full = entry.stored.capacity();
        entry.retain_unchanged(&[&small, &big], 0);
        assert_eq!(entry.stored.capacity(), full);
    }

    #[test]
    fn stamps_compare_etags_where_both_have_one_else_whole_seconds() {
        let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
        let stamp = |ms: i64, e_tag: Option<&str>| Stamp {
            size: 10,
            last_modified: at(ms),
            e_tag: e_tag.map(str::to_string),
        };
        // A HEAD (whole seconds, an ETag) and a listing (milliseconds, none) of one object.
        assert_eq!(stamp(1_000, Some("\"a\"")), stamp(1_495, None));
        assert_ne!(stamp(1_000, Some("\"a\"")), stamp(2_000, None));
        // Same size and time, other content.
        assert_ne!(stamp(1_000, Some("\"a\"")), stamp(1_000, Some("\"b\"")));
        assert_eq!(stamp(1_000, Some("\"a\"")), stamp(9_000, Some("\"a\"")));
    }

    #[test]
    fn entries_are_kept_per_dataset_and_empty_ones_dropped() {
        let cache = IdentityCache::default();
        let mut entry = cache.take(&Path::from("d"));
        let a = file("d/a.parquet", 10);
        entry.add(&a.meta, 0, ids(&["1"]));
        cache.put(Path::from("d"), entry);
        assert!(cache.take(&Path::from("e")).is_empty());
        let entry = cache.take(&Path::from("d"));
        assert!(entry.contains(&RecordIdentity::Trade("1")));
        cache.put(Path::from("d"), DatasetIdentities::default());
        assert!(cache.take(&Path::from("d")).is_empty());
    }
}
