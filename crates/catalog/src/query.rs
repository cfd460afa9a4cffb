//! Reading rows back: prune files by name, then row groups by `ts_init` statistics.

use ccxt_model::InstrumentId;

use crate::error::Result;
use crate::record::CatalogRecord;
use crate::{Catalog, DataFile, intersects, parquet_io, sort_and_dedup};

/// Which rows a query returns when there are more than wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The earliest N rows.
    First(usize),
    /// The latest N rows (still returned oldest first).
    Last(usize),
}

/// A query over one record kind.
#[derive(Debug, Clone)]
pub struct Query {
    /// Instruments to read; ties in time are ordered by their position here.
    pub instruments: Vec<InstrumentId>,
    /// First `ts_init` wanted, inclusive.
    pub start: u64,
    /// Last `ts_init` wanted, inclusive.
    pub end: u64,
    /// How many rows at most.
    pub limit: Option<Limit>,
}

/// How much work a query did; the pruning tests and benchmarks read it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct QueryStats {
    /// Parquet files found in the instruments' directories.
    pub files_listed: usize,
    /// Files whose footer was read (the rest were pruned by name).
    pub files_opened: usize,
    /// Row groups decoded.
    pub row_groups_read: usize,
    /// Row groups skipped by statistics.
    pub row_groups_skipped: usize,
    /// Whether overlapping files (left by a crash in a read-only catalog) had to be de-duplicated.
    pub overlaps: bool,
}

impl Catalog {
    /// Rows of `T` matching `query`, sorted by `ts_init`, then instrument order.
    pub async fn query<T: CatalogRecord>(&self, query: &Query) -> Result<(Vec<T>, QueryStats)> {
        let mut stats = QueryStats::default();
        let mut tagged: Vec<(usize, T)> = Vec::new();
        for (index, id) in query.instruments.iter().enumerate() {
            let rows = self.query_instrument::<T>(id, query, &mut stats).await?;
            tagged.extend(rows.into_iter().map(|r| (index, r)));
        }
        tagged.sort_by_key(|(index, r)| (r.ts_init(), *index));
        let mut rows: Vec<T> = tagged.into_iter().map(|(_, r)| r).collect();
        match query.limit {
            Some(Limit::First(n)) => rows.truncate(n),
            Some(Limit::Last(n)) if rows.len() > n => {
                rows.drain(..rows.len() - n);
            }
            _ => {}
        }
        Ok((rows, stats))
    }

    async fn query_instrument<T: CatalogRecord>(
        &self,
        id: &InstrumentId,
        query: &Query,
        stats: &mut QueryStats,
    ) -> Result<Vec<T>> {
        let listing = self.list_dataset(T::KIND, id).await?;
        stats.files_listed += listing.files.len() + listing.foreign.len();
        let wanted = (query.start, query.end);
        let mut files: Vec<&DataFile> = listing
            .files
            .iter()
            .filter(|f| f.range.is_some_and(|r| intersects(r, wanted)))
            .collect();
        // Files not named by us cannot be pruned by name: read them, like NautilusTrader does.
        let overlaps = !listing.foreign.is_empty()
            || files.windows(2).any(
                |w| matches!((w[0].range, w[1].range), (Some(a), Some(b)) if intersects(a, b)),
            );
        stats.overlaps |= overlaps;
        if matches!(query.limit, Some(Limit::Last(_))) {
            files.reverse();
        }
        files.extend(listing.foreign.iter());
        let want = match query.limit {
            Some(Limit::First(n) | Limit::Last(n)) => n,
            None => usize::MAX,
        };
        let mut rows: Vec<T> = Vec::new();
        for file in files {
            if !overlaps && rows.len() >= want {
                break; // disjoint files: the rows already read are all nearer the wanted end
            }
            stats.files_opened += 1;
            let (mut found, counts) =
                parquet_io::read_rows::<T>(&self.storage, &file.meta, id, query.start, query.end)
                    .await?;
            stats.row_groups_read += counts.read;
            stats.row_groups_skipped += counts.skipped;
            if let Some(Limit::Last(n)) = query.limit
                && !overlaps
                && found.len() > n
            {
                found.drain(..found.len() - n);
            }
            rows.append(&mut found);
        }
        if overlaps {
            let dropped = sort_and_dedup(&mut rows);
            if dropped > 0 {
                tracing::warn!(
                    instrument = %id,
                    dropped,
                    "overlapping catalog files held duplicate rows; open the catalog for writing (any storing command) to repair it"
                );
            }
        } else {
            rows.sort_by_key(|r| r.ts_init());
        }
        Ok(rows)
    }
}

impl Catalog {
    /// The first and last `ts_init` in `[start, end]` of the stored rows of `id` that `keep`
    /// accepts (e.g. history rows, `ts_init == ts_event`), reading only files from each end
    /// until one such row is found. `None` if there is none. A file in the range that is not
    /// usable data is an error naming it (writers use [`Catalog::stored_history`] with
    /// [`crate::BadFiles::Quarantine`] instead).
    pub async fn stored_bounds<T: CatalogRecord>(
        &self,
        id: &InstrumentId,
        start: u64,
        end: u64,
        keep: impl Fn(&T) -> bool,
    ) -> Result<Option<(u64, u64)>> {
        let stored = self
            .stored_history(id, start, end, keep, crate::BadFiles::Report)
            .await?;
        match stored.bad_files.into_iter().next() {
            Some(bad) => Err(bad.into()),
            None => Ok(stored.bounds),
        }
    }
}
