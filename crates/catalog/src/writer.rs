//! The merging, atomic writer.
//!
//! A write of rows for one instrument:
//! 1. sorts them by `ts_init` and drops identical records;
//! 2. for records with a venue identity (liquidations: trade id, or the event's venue fields),
//!    drops rows whose identity is stored already in a file *outside* the rows' interval: a
//!    liquidation re-read after a restart has a later `ts_init` than its first delivery, which
//!    may sit in an earlier day's file. The files searched are those from the earliest moment
//!    a first delivery can have been received ([`CatalogRecord::earliest_delivery_ns`]) on;
//!    the row stored first is kept. The writer keeps the identities of the files it searched
//!    while they are unchanged (`identities`), so a process writing every second reads each
//!    file of that window back once, not on every write;
//! 3. reads the existing files whose name interval meets the rows' interval (a shared endpoint
//!    counts) and merges them in, again dropping identical records (and same-identity ones);
//!    if nothing new remains, it stops here, so re-writing data already stored costs one
//!    directory listing and a read;
//! 4. splits the result at partition boundaries (UTC days; months for funding) and, for each
//!    part, checks the row count in the encoded file's footer, writes `<final>.<uuid>.tmp`,
//!    fsyncs it and checks its size on disk (on a local disk, all the parts in one pass off
//!    the async threads);
//! 5. renames each temporary file to its final `<start>_<end>.parquet` name, then fsyncs the
//!    directory once for all of them;
//! 6. deletes the replaced files that were not overwritten by a rename, and fsyncs the
//!    directory again.
//!
//! A crash before step 4 leaves temporary files that NautilusTrader ignores (they do not end in
//! `.parquet`); a crash during 4 or 5 leaves new files overlapping old ones, all readable.
//! [`Catalog::recover`] deletes the temporaries and merges overlaps, after which every row is
//! there exactly once.
//!
//! On an object store (no rename) steps 4 and 5 become: encode each part and verify its row
//! count from the encoded footer in memory, then PUT it whole under its final name (a
//! conditional create when the name is new, an atomic overwrite when it replaces a file of the
//! same name) and HEAD it to check its size; no temporary object is ever written. Step 6 is the
//! same: replaced files go only after every new one exists. The crash points map to: before the
//! first PUT, after the first PUT, before the deletes.

use std::collections::{BTreeMap, HashSet};

use ccxt_model::InstrumentId;
use object_store::ObjectMeta;
use object_store::path::Path;

use crate::error::{CatalogError, Result};
use crate::identities::DatasetIdentities;
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
    /// Rows dropped because an identical record (or one with the same venue identity) was
    /// already stored or given twice.
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

/// A file a write put in place: its listing entry and the range of the written rows it holds.
pub(crate) struct WrittenFile {
    meta: ObjectMeta,
    rows: std::ops::Range<usize>,
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
        if rows.is_empty() {
            // Nothing to write: not even the write lock is taken.
            return Ok(WriteReport::default());
        }
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
        let since = earliest_delivery(&rows);
        let listing = self.list_dataset(T::KIND, id).await?;
        let (candidates, others): (Vec<DataFile>, Vec<DataFile>) = listing
            .files
            .into_iter()
            .partition(|f| f.range.is_some_and(|r| intersects(r, range)));
        duplicates += self
            .drop_stored_elsewhere(id, &mut rows, &others, since)
            .await?;
        if rows.is_empty() {
            return Ok(WriteReport {
                rows_in,
                duplicates,
                ..WriteReport::default()
            });
        }
        let mut overlapping: Vec<DataFile> = Vec::new();
        let mut merged = Vec::new();
        for file in candidates {
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
        let written = self
            .replace_files_listed(id, &merged, &overlapping, crash)
            .await?;
        self.remember_identities(id, &merged, &written, since);
        let files_written = written.len();
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

    /// Drops the rows whose [identity](CatalogRecord::identity) is stored already in one of
    /// `files` (the dataset's files outside the rows' own interval) by a first delivery of
    /// them: a row of `ts_init` from `since`, the rows' [`earliest_delivery`], on.
    /// Returns how many were dropped. Records without an identity are left alone.
    async fn drop_stored_elsewhere<T: CatalogRecord>(
        &self,
        id: &InstrumentId,
        rows: &mut Vec<T>,
        files: &[DataFile],
        since: u64,
    ) -> Result<usize> {
        if rows.iter().all(|r| r.identity().is_none()) {
            return Ok(0);
        }
        let until = rows
            .iter()
            .map(T::latest_delivery_ns)
            .max()
            .unwrap_or(u64::MAX);
        let searched: Vec<&DataFile> = files
            .iter()
            .filter(|f| f.range.is_some_and(|r| intersects(r, (since, until))))
            .collect();
        let dataset = dataset_dir(T::KIND, id);
        let mut stored = self.recent_identities.take(&dataset);
        let dropped = self
            .search_files::<T>(id, &mut stored, &searched, since)
            .await;
        let dropped = dropped.map(|()| {
            let before = rows.len();
            rows.retain(|r| r.identity().is_none_or(|i| !stored.contains(&i)));
            before - rows.len()
        });
        self.recent_identities.put(dataset, stored);
        dropped
    }

    /// Adds the identities of the files just written to the writer's cache, so the next write
    /// that searches them does not read them back: of a file that begins before `since` (the
    /// written rows merged into an earlier file), those from `since` on, as a search would.
    fn remember_identities<T: CatalogRecord>(
        &self,
        id: &InstrumentId,
        rows: &[T],
        written: &[WrittenFile],
        since: u64,
    ) {
        // Only records a later write searches for outside its own interval (liquidations)
        // are worth remembering: bars and prices are only looked for in the files their own
        // interval meets, which that write reads anyway.
        let searched_later = rows
            .first()
            .is_some_and(|r| r.identity().is_some() && r.latest_delivery_ns() > r.ts_init());
        if !searched_later {
            return;
        }
        let dataset = dataset_dir(T::KIND, id);
        let mut stored = self.recent_identities.take(&dataset);
        for file in written {
            let rows = &rows[file.rows.clone()];
            let from = match rows.first() {
                Some(first) if first.ts_init() < since => since,
                _ => 0,
            };
            stored.add(&file.meta, from, identities_from(rows, from));
        }
        self.recent_identities.put(dataset, stored);
    }

    /// Brings `stored` up to the identities of the `searched` files' rows from `since` on,
    /// reading only the files it does not hold unchanged that far back.
    async fn search_files<T: CatalogRecord>(
        &self,
        id: &InstrumentId,
        stored: &mut DatasetIdentities,
        searched: &[&DataFile],
        since: u64,
    ) -> Result<()> {
        for file in stored.retain_unchanged(searched, since) {
            // A file that is not usable data is moved to the quarantine, not trusted.
            if let Some(file_rows) = self.read_or_quarantine::<T>(file, id).await? {
                stored.add(&file.meta, since, identities_from(&file_rows, since));
            }
        }
        Ok(())
    }

    /// Replaces `replaced` with files holding `rows` (sorted, de-duplicated, non-empty), one
    /// per partition (UTC day, month or year; more where [`CatalogRecord::splits_file`] says so), following the protocol in the module docs. Returns how many files were written.
    pub(crate) async fn replace_files<T: CatalogRecord>(
        &self,
        id: &InstrumentId,
        rows: &[T],
        replaced: &[DataFile],
        crash: Option<CrashPoint>,
    ) -> Result<usize> {
        Ok(self
            .replace_files_listed(id, rows, replaced, crash)
            .await?
            .len())
    }

    /// [`Catalog::replace_files`], returning each file written as a listing would show it,
    /// with the rows it holds.
    async fn replace_files_listed<T: CatalogRecord>(
        &self,
        id: &InstrumentId,
        rows: &[T],
        replaced: &[DataFile],
        crash: Option<CrashPoint>,
    ) -> Result<Vec<WrittenFile>> {
        if self.storage.is_object_store() {
            return self.replace_objects(id, rows, replaced, crash).await;
        }
        let dir = dataset_dir(T::KIND, id);
        let mut staged: Vec<(Path, Path)> = Vec::new();
        let mut encoded: Vec<(Path, bytes::Bytes)> = Vec::new();
        let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
        let partition = T::partition(id);
        let part = |r: &T| partition.start_of(r.ts_init());
        let mut offset = 0;
        for chunk in rows.chunk_by(|a, b| part(a) == part(b) && !T::splits_file(a, b)) {
            let range = offset..offset + chunk.len();
            offset = range.end;
            let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
                continue;
            };
            let name = naming::file_name(first.ts_init(), last.ts_init());
            let final_path = dir.clone().join(name.as_str());
            let temp_path = dir.clone().join(format!(
                "{name}.{}{TEMP_SUFFIX}",
                uuid::Uuid::new_v4().simple()
            ));
            let shown = self.storage.display_path(&temp_path);
            encoded.push((temp_path.clone(), self.encode_checked(chunk, id, &shown)?));
            staged.push((temp_path, final_path));
            ranges.push(range);
        }
        // Every file's data is durable before any is renamed into place.
        let metas = self.storage.write_new_files(encoded).await?;
        // A rename keeps the size, time and inode the listing's ETag is made of.
        let files: Vec<WrittenFile> = metas
            .into_iter()
            .zip(&staged)
            .zip(ranges)
            .map(|((meta, (_, final_path)), rows)| WrittenFile {
                meta: ObjectMeta {
                    location: final_path.clone(),
                    ..meta
                },
                rows,
            })
            .collect();
        if crash == Some(CrashPoint::BeforeRename) {
            return Err(CatalogError::SimulatedCrash(CrashPoint::BeforeRename));
        }
        if let Err(e) = self.check_writable() {
            self.discard(&staged).await;
            return Err(e);
        }
        // All renames, then one fsync of the directory before anything is deleted or the
        // write returns (a crash in between leaves temporaries or overlaps, as above).
        let (moves, sync) = match crash {
            Some(CrashPoint::AfterFirstRename) => (staged[..staged.len().min(1)].to_vec(), false),
            _ => (staged.clone(), true),
        };
        if let Err((renamed, e)) = self.storage.rename_files(moves, sync).await {
            self.discard(&staged[renamed..]).await;
            return Err(*e);
        }
        if crash == Some(CrashPoint::AfterFirstRename) {
            return Err(CatalogError::SimulatedCrash(CrashPoint::AfterFirstRename));
        }
        if crash == Some(CrashPoint::BeforeDelete) {
            return Err(CatalogError::SimulatedCrash(CrashPoint::BeforeDelete));
        }
        let written: HashSet<&Path> = staged.iter().map(|(_, f)| f).collect();
        for file in replaced {
            if !written.contains(&file.meta.location) {
                self.check_writable()?;
                self.storage.delete(&file.meta.location).await?;
            }
        }
        if !replaced.is_empty() {
            self.storage.sync_dir_of(&dir.clone().join("x")).await?;
        }
        Ok(files)
    }

    /// [`Catalog::replace_files`] on an object store, which has no rename: each new file is
    /// encoded and its row count verified from the encoded footer in memory, then PUT whole
    /// under its final name (a conditional create when the name is new; an atomic overwrite
    /// when it replaces a file of the same name), then HEAD checks its size. Replaced files are
    /// deleted only after every new one exists, so no moment has rows missing; a crash leaves
    /// overlaps (duplicates), which [`Catalog::recover`] merges. No temporary object is ever
    /// written. The crash points map to: before the first PUT, after the first PUT, before
    /// the deletes.
    async fn replace_objects<T: CatalogRecord>(
        &self,
        id: &InstrumentId,
        rows: &[T],
        replaced: &[DataFile],
        crash: Option<CrashPoint>,
    ) -> Result<Vec<WrittenFile>> {
        let dir = dataset_dir(T::KIND, id);
        let existing: HashSet<&Path> = replaced.iter().map(|f| &f.meta.location).collect();
        let partition = T::partition(id);
        let part = |r: &T| partition.start_of(r.ts_init());
        let mut encoded: Vec<(Path, bytes::Bytes, std::ops::Range<usize>)> = Vec::new();
        let mut offset = 0;
        for chunk in rows.chunk_by(|a, b| part(a) == part(b) && !T::splits_file(a, b)) {
            let range = offset..offset + chunk.len();
            offset = range.end;
            let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
                continue;
            };
            let final_path = dir
                .clone()
                .join(naming::file_name(first.ts_init(), last.ts_init()).as_str());
            let shown = self.storage.display_path(&final_path);
            let bytes = self.encode_checked(chunk, id, &shown)?;
            encoded.push((final_path, bytes, range));
        }
        if crash == Some(CrashPoint::BeforeRename) {
            return Err(CatalogError::SimulatedCrash(CrashPoint::BeforeRename));
        }
        let mut files: Vec<WrittenFile> = Vec::new();
        for (i, (path, bytes, range)) in encoded.iter().enumerate() {
            self.check_writable()?;
            let size = bytes.len() as u64;
            if existing.contains(path) {
                self.storage
                    .put_opts(path, bytes.clone(), object_store::PutMode::Overwrite)
                    .await?;
            } else {
                self.storage.put_create(path, bytes.clone()).await?;
            }
            let meta = self.storage.head(path).await?;
            if meta.size != size {
                return Err(CatalogError::corrupt(
                    self.storage.display_path(path),
                    format!("uploaded {size} bytes but the store holds {}", meta.size),
                ));
            }
            files.push(WrittenFile {
                meta,
                rows: range.clone(),
            });
            if i == 0 && crash == Some(CrashPoint::AfterFirstRename) {
                return Err(CatalogError::SimulatedCrash(CrashPoint::AfterFirstRename));
            }
        }
        if crash == Some(CrashPoint::BeforeDelete) {
            return Err(CatalogError::SimulatedCrash(CrashPoint::BeforeDelete));
        }
        let written: HashSet<&Path> = encoded.iter().map(|(p, _, _)| p).collect();
        for file in replaced {
            if !written.contains(&file.meta.location) {
                self.check_writable()?;
                self.storage.delete(&file.meta.location).await?;
            }
        }
        Ok(files)
    }

    /// Encodes rows of one file and checks that the encoded footer holds every row.
    fn encode_checked<T: CatalogRecord>(
        &self,
        rows: &[T],
        id: &InstrumentId,
        shown: &str,
    ) -> Result<bytes::Bytes> {
        let bytes = parquet_io::encode(rows, id, shown, self.compress(rows.len()))?;
        let found = parquet_io::footer_rows_in_memory(&bytes, shown)?;
        if found != rows.len() as i64 {
            return Err(CatalogError::RowCountMismatch {
                path: shown.to_string(),
                expected: rows.len(),
                found,
            });
        }
        Ok(bytes)
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

/// The earliest `ts_init` an earlier delivery of one of `rows` can have been stored with
/// ([`CatalogRecord::earliest_delivery_ns`]).
fn earliest_delivery<T: CatalogRecord>(rows: &[T]) -> u64 {
    rows.iter().map(T::earliest_delivery_ns).min().unwrap_or(0)
}

/// The identity fingerprints of the rows of `rows` stored from `from_ns` on.
fn identities_from<T: CatalogRecord>(rows: &[T], from_ns: u64) -> impl Iterator<Item = u128> {
    rows.iter()
        .filter(move |r| r.ts_init() >= from_ns)
        .filter_map(|r| r.identity().map(|i| i.fingerprint()))
}

#[cfg(test)]
mod tests {
    use ccxt_model::{Liquidation, LiquidationSource, PositionSide};

    use super::*;
    use crate::Storage;

    /// 2025-01-01T00:00:00Z.
    const DAY: u64 = 1_735_689_600_000_000_000;
    const SEC: u64 = 1_000_000_000;

    fn liq(id: &str, tid: Option<&str>, ts_event: u64, ts_init: u64) -> Liquidation {
        Liquidation {
            instrument_id: InstrumentId::new_unchecked(id),
            side: PositionSide::Long,
            order_side: "A".into(),
            quantity: 1.5,
            price: 94_000.5,
            value: 141_000.75,
            source: LiquidationSource::Poll,
            method: Some("backstop".into()),
            trade_id: tid.map(str::to_string),
            ts_event,
            ts_init,
        }
    }

    async fn all(catalog: &Catalog, id: &str) -> Vec<Liquidation> {
        let query = crate::Query {
            instruments: vec![InstrumentId::new_unchecked(id)],
            start: 0,
            end: u64::MAX,
            limit: None,
        };
        catalog.query::<Liquidation>(&query).await.unwrap().0
    }

    #[tokio::test]
    async fn only_liquidation_identities_are_remembered_after_a_write() {
        use ccxt_model::MarkPrice;
        const BY: &str = "BTCUSDT-LINEAR.BYBIT";
        let catalog = Catalog::from_storage(Storage::in_memory());
        let id = InstrumentId::new_unchecked(BY);
        let marks: Vec<MarkPrice> = (0..3)
            .map(|i| MarkPrice {
                instrument_id: id.clone(),
                value: rust_decimal::Decimal::new(94_000 + i, 0),
                ts_event: DAY + i as u64 * SEC,
                ts_init: DAY + i as u64 * SEC + 1,
            })
            .collect();
        catalog.write(marks).await.unwrap();
        // A price backfill of days of rows must not leave their fingerprints in memory.
        let prices = dataset_dir(MarkPrice::KIND, &id);
        assert!(catalog.recent_identities.take(&prices).is_empty());
        catalog
            .write(vec![liq(BY, None, DAY, DAY + 1)])
            .await
            .unwrap();
        let liquidations = dataset_dir(Liquidation::KIND, &id);
        assert!(!catalog.recent_identities.take(&liquidations).is_empty());
    }

    #[tokio::test]
    async fn a_search_holds_the_identities_of_its_window_not_of_the_whole_file() {
        const HL: &str = "BTC-USD-PERP.HYPERLIQUID";
        let catalog = Catalog::from_storage(Storage::in_memory());
        let dataset = dataset_dir(Liquidation::KIND, &InstrumentId::new_unchecked(HL));
        // A morning in one file (as compacted): a liquidation every 10 s for six hours.
        let tid = |i: u64| format!("m{i}");
        let morning: Vec<Liquidation> = (0..2_160)
            .map(|i| {
                liq(
                    HL,
                    Some(&tid(i)),
                    DAY + i * 10 * SEC,
                    DAY + i * 10 * SEC + SEC,
                )
            })
            .collect();
        let end = DAY + 2_159 * 10 * SEC + SEC;
        catalog.write(morning).await.unwrap();
        // Another process (or the file compacted since): nothing is held.
        catalog.recent_identities.take(&dataset);
        // A new liquidation 10 s later: the file meets its window at its end.
        let report = catalog
            .write(vec![liq(HL, Some("new"), end + 10 * SEC, end + 11 * SEC)])
            .await
            .unwrap();
        assert_eq!(report.rows_added, 1);
        let held = catalog.recent_identities.take(&dataset);
        // The morning's rows from 5 minutes before the new one's event on (30), and it.
        assert_eq!(held.len(), 31, "held the morning's identities");
        catalog.recent_identities.put(dataset.clone(), held);
        // A replay of an hour-old liquidation looks further back: still found, not stored again.
        let replay = liq(HL, Some(&tid(1_800)), DAY + 18_000 * SEC, end + 20 * SEC);
        let report = catalog.write(vec![replay]).await.unwrap();
        assert_eq!((report.rows_added, report.duplicates), (0, 1));
        assert_eq!(all(&catalog, HL).await.len(), 2_161);
    }

    #[tokio::test]
    async fn a_re_read_liquidation_is_stored_once_even_in_the_next_days_file() {
        const HL: &str = "BTC-USD-PERP.HYPERLIQUID";
        const BY: &str = "BTCUSDT-LINEAR.BYBIT";
        let catalog = Catalog::from_storage(Storage::in_memory());
        // First deliveries, received 5 s before midnight.
        let first = vec![
            liq(HL, Some("7"), DAY - 6 * SEC, DAY - 5 * SEC),
            liq(BY, None, DAY - 6 * SEC, DAY - 5 * SEC),
        ];
        let report = catalog.write(first.clone()).await.unwrap();
        assert_eq!(report.rows_added, 2);
        // After a restart the same events come again, received after midnight (the next day's
        // file), together with a new one; within the batch one of them even twice.
        let again = vec![
            liq(HL, Some("7"), DAY - 6 * SEC, DAY + 20 * SEC),
            liq(HL, Some("7"), DAY - 6 * SEC, DAY + 21 * SEC),
            liq(HL, Some("8"), DAY + 10 * SEC, DAY + 20 * SEC),
            liq(BY, None, DAY - 6 * SEC, DAY + 20 * SEC),
        ];
        let report = catalog.write(again.clone()).await.unwrap();
        assert_eq!((report.rows_added, report.duplicates), (1, 3));
        assert_eq!(
            all(&catalog, HL).await,
            vec![first[0].clone(), again[2].clone()],
            "the row stored first is kept"
        );
        assert_eq!(all(&catalog, BY).await, vec![first[1].clone()]);
        // Same again: nothing changes.
        let report = catalog.write(again).await.unwrap();
        assert_eq!((report.rows_added, report.files_written), (0, 0));
    }

    #[tokio::test]
    async fn a_late_replay_of_an_earlier_delivery_adds_nothing() {
        const HL: &str = "ETH-USD-PERP.HYPERLIQUID";
        let catalog = Catalog::from_storage(Storage::in_memory());
        // The re-read is stored first (another command's spool still held the first delivery).
        catalog
            .write(vec![liq(HL, Some("9"), DAY, DAY + 40 * SEC)])
            .await
            .unwrap();
        let report = catalog
            .write(vec![liq(HL, Some("9"), DAY, DAY + SEC)])
            .await
            .unwrap();
        assert_eq!((report.rows_added, report.duplicates), (0, 1));
        assert_eq!(all(&catalog, HL).await.len(), 1);
    }

    #[tokio::test]
    async fn different_events_are_not_merged() {
        const BY: &str = "ETHUSDT-LINEAR.BYBIT";
        let catalog = Catalog::from_storage(Storage::in_memory());
        let a = liq(BY, None, DAY, DAY + SEC);
        let rows = vec![
            a.clone(),
            Liquidation {
                quantity: 2.0,
                ..a.clone()
            },
            Liquidation {
                ts_event: DAY + 1,
                ..a.clone()
            },
            Liquidation {
                side: PositionSide::Short,
                ..a.clone()
            },
            Liquidation {
                price: 1.0,
                ..a.clone()
            },
        ];
        assert_eq!(catalog.write(rows).await.unwrap().rows_added, 5);
    }

    #[tokio::test]
    async fn a_second_writer_is_refused_naming_the_holder_until_the_first_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let location = dir.path().to_str().unwrap();
        let (first, _) = Catalog::open_writable_by(location, "daemon").await.unwrap();
        let err = Catalog::open_writable_by(location, "stream-liquidations")
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, CatalogError::Locked { .. }), "{message}");
        assert!(
            message.contains(&format!("another daemon (pid {})", std::process::id())),
            "{message}"
        );
        // A read-only open needs no lock.
        let reader = Catalog::open(location).unwrap();
        assert!(reader.info().await.unwrap().is_empty());
        // The holder writes as often as it likes (its own writes do not wait for its lock).
        first
            .write(vec![liq("BTC-USD-PERP.HYPERLIQUID", Some("1"), DAY, DAY)])
            .await
            .unwrap();
        let mut compact = Catalog::open(location).unwrap();
        assert!(compact.lock_for_run("catalog compact").is_err());
        drop(first);
        // Released with its holder (the OS releases it even on kill -9).
        compact.lock_for_run("catalog compact").unwrap();
        compact.lock_for_run("catalog compact").unwrap();
        assert!(
            Catalog::open_writable_by(location, "fetch-oi")
                .await
                .unwrap_err()
                .to_string()
                .contains("another catalog compact (pid")
        );
    }

    #[tokio::test]
    async fn compaction_drops_identity_duplicates_an_older_catalog_holds() {
        const HL: &str = "SOL-USD-PERP.HYPERLIQUID";
        let catalog = Catalog::from_storage(Storage::in_memory());
        let id = InstrumentId::new_unchecked(HL);
        // As written before liquidations had an identity: the same trade twice, in two files
        // of one day, differing only in `ts_init`.
        let first = liq(HL, Some("3"), DAY, DAY + SEC);
        let again = liq(HL, Some("3"), DAY, DAY + 9 * SEC);
        catalog
            .replace_files(&id, std::slice::from_ref(&first), &[], None)
            .await
            .unwrap();
        catalog
            .replace_files(&id, std::slice::from_ref(&again), &[], None)
            .await
            .unwrap();
        assert_eq!(all(&catalog, HL).await.len(), 2);
        catalog.compact().await.unwrap();
        assert_eq!(all(&catalog, HL).await, vec![first]);
    }
}
