//! Where fetched rows go: the catalog (buffered, merged, idempotent) or anything else.

use std::collections::HashMap;
use std::sync::Arc;

use ccxt_catalog::CatalogRecord;
use ccxt_catalog::{Catalog, CatalogError};
use ccxt_model::{Bar, FundingRate, IndexPrice, Instrument, InstrumentId, MarkPrice, OpenInterest};
use ccxt_venue::SnapshotPrices;

use crate::Batch;

/// Why a sink could not take rows.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SinkError {
    /// The catalog could not be written (or a file it had to merge with could not be read).
    #[error(transparent)]
    Catalog(Arc<CatalogError>),
    /// Anything else, e.g. stdout failed.
    #[error("{0}")]
    Output(String),
}

impl From<CatalogError> for SinkError {
    fn from(e: CatalogError) -> SinkError {
        SinkError::Catalog(Arc::new(e))
    }
}

/// Receives batches as they arrive.
#[async_trait::async_trait]
pub trait Sink: Send {
    /// Takes a batch; returns rows newly stored now (0 if buffered or not storing).
    async fn accept(&mut self, instrument: &Instrument, batch: Batch) -> Result<usize, SinkError>;
    /// The instrument is done: flush anything buffered; returns rows newly stored.
    async fn finish_instrument(&mut self, instrument: &Instrument) -> Result<usize, SinkError>;
}

/// Stores batches in the catalog as they arrive, whole partitions (UTC days, or months for
/// funding) at a time, so a long backfill neither writes one small file per page nor holds the
/// whole range in memory.
///
/// Pages of one instrument arrive in time order (oldest or newest first), so the buffered rows
/// outside the partitions of the latest batch's first and last row can get no more rows from
/// later pages: they are settled. Once an instrument buffers `flush_rows` rows, its settled
/// rows are written in one write (one file per partition; fewer, larger writes than one per
/// day); when none are settled (one partition holds them all), everything buffered is
/// written. So an instrument holds at most about `flush_rows` rows plus two partitions, and
/// the rest when it finishes. Rows that arrive later for a written partition (pages out of
/// order) are merged into its file by the catalog: nothing is lost or stored twice either
/// way. The mark and index prices that live snapshots carry are stored beside their rows
/// (`mark_price_update`, `index_price_update`).
pub struct CatalogSink {
    catalog: Arc<Catalog>,
    flush_rows: usize,
    open_interest: HashMap<InstrumentId, Vec<OpenInterest>>,
    funding: HashMap<InstrumentId, Vec<FundingRate>>,
    bars: HashMap<InstrumentId, Vec<Bar>>,
    marks: HashMap<InstrumentId, Vec<MarkPrice>>,
    indexes: HashMap<InstrumentId, Vec<IndexPrice>>,
    prices_added: usize,
}

impl CatalogSink {
    /// A sink writing to `catalog`.
    pub fn new(catalog: Arc<Catalog>, flush_rows: usize) -> CatalogSink {
        CatalogSink {
            catalog,
            flush_rows: flush_rows.max(1),
            open_interest: HashMap::new(),
            funding: HashMap::new(),
            bars: HashMap::new(),
            marks: HashMap::new(),
            indexes: HashMap::new(),
            prices_added: 0,
        }
    }

    /// Mark and index prices newly stored so far (not counted in the rows `accept` reports).
    pub fn prices_added(&self) -> usize {
        self.prices_added
    }

    fn keep_prices(&mut self, id: &InstrumentId, prices: impl IntoIterator<Item = SnapshotPrices>) {
        for p in prices {
            if let Some(mark) = p.mark {
                self.marks.entry(id.clone()).or_default().push(mark);
            }
            if let Some(index) = p.index {
                self.indexes.entry(id.clone()).or_default().push(index);
            }
        }
    }

    async fn flush(&mut self, id: &InstrumentId) -> Result<usize, SinkError> {
        let added = write_some(&self.catalog, self.open_interest.remove(id)).await?
            + write_some(&self.catalog, self.funding.remove(id)).await?
            + write_some(&self.catalog, self.bars.remove(id)).await?;
        self.prices_added += write_some(&self.catalog, self.marks.remove(id)).await?
            + write_some(&self.catalog, self.indexes.remove(id)).await?;
        Ok(added)
    }
}

/// Writes the rows of `buffer` that lie outside the partitions of `edges` (the first and last
/// `ts_init` of the batch just added, if it was of this kind) and keeps the others, or writes
/// them all when every row lies inside; the rows new to the catalog.
async fn write_settled<T: CatalogRecord>(
    catalog: &Catalog,
    id: &InstrumentId,
    buffer: Option<&mut Vec<T>>,
    edges: Option<(u64, u64)>,
) -> Result<usize, SinkError> {
    let (Some(buffer), Some((first, last))) = (buffer, edges) else {
        return Ok(0);
    };
    let partition = T::partition(id);
    let open = [partition.start_of(first), partition.start_of(last)];
    let is_open = |r: &T| open.contains(&partition.start_of(r.ts_init()));
    let rows = if buffer.iter().all(is_open) {
        std::mem::take(buffer)
    } else {
        let (settled, kept): (Vec<T>, Vec<T>) = std::mem::take(buffer)
            .into_iter()
            .partition(|r| !is_open(r));
        *buffer = kept;
        settled
    };
    Ok(catalog.write(rows).await?.rows_added)
}

/// Adds a page's rows to an instrument's buffer, growing it by exactly the page: a buffer of
/// `flush_rows` rows then holds at most one page more, where doubling held up to twice that
/// (the copies cost a few hundred kilobytes per flush). An empty buffer takes the page's own
/// allocation.
fn append<T>(buffer: &mut Vec<T>, rows: Vec<T>) {
    if buffer.is_empty() {
        *buffer = rows;
    } else {
        buffer.reserve_exact(rows.len());
        buffer.extend(rows);
    }
}

/// The first and last `ts_init` of `rows`, in arrival order.
fn edges<T: CatalogRecord>(rows: &[T]) -> Option<(u64, u64)> {
    Some((rows.first()?.ts_init(), rows.last()?.ts_init()))
}

/// Writes `rows` (none: nothing); the rows new to the catalog.
async fn write_some<T: CatalogRecord>(
    catalog: &Catalog,
    rows: Option<Vec<T>>,
) -> Result<usize, SinkError> {
    Ok(catalog.write(rows.unwrap_or_default()).await?.rows_added)
}

#[async_trait::async_trait]
impl Sink for CatalogSink {
    async fn accept(&mut self, instrument: &Instrument, batch: Batch) -> Result<usize, SinkError> {
        let id = &instrument.id;
        let (buffered, oi_edges, funding_edges, bar_edges) = match batch {
            Batch::OpenInterest(rows) => {
                let edges = edges(&rows);
                let buffer = self.open_interest.entry(id.clone()).or_default();
                append(buffer, rows);
                (buffer.len(), edges, None, None)
            }
            Batch::OpenInterestSnapshots(rows) => {
                let (rows, prices): (Vec<_>, Vec<_>) = rows
                    .into_iter()
                    .map(|s| (s.open_interest, s.prices))
                    .unzip();
                self.keep_prices(id, prices);
                let edges = edges(&rows);
                let buffer = self.open_interest.entry(id.clone()).or_default();
                append(buffer, rows);
                (buffer.len(), edges, None, None)
            }
            Batch::FundingSnapshots(rows) => {
                let (rows, prices): (Vec<_>, Vec<_>) =
                    rows.into_iter().map(|s| (s.funding, s.prices)).unzip();
                self.keep_prices(id, prices);
                let edges = edges(&rows);
                let buffer = self.funding.entry(id.clone()).or_default();
                append(buffer, rows);
                (buffer.len(), None, edges, None)
            }
            Batch::FundingRates(rows) => {
                let edges = edges(&rows);
                let buffer = self.funding.entry(id.clone()).or_default();
                append(buffer, rows);
                (buffer.len(), None, edges, None)
            }
            Batch::Bars(rows) => {
                let edges = edges(&rows);
                let buffer = self.bars.entry(id.clone()).or_default();
                append(buffer, rows);
                (buffer.len(), None, None, edges)
            }
        };
        if buffered < self.flush_rows {
            return Ok(0);
        }
        let catalog = &self.catalog;
        let added = write_settled(catalog, id, self.open_interest.get_mut(id), oi_edges).await?
            + write_settled(catalog, id, self.funding.get_mut(id), funding_edges).await?
            + write_settled(catalog, id, self.bars.get_mut(id), bar_edges).await?;
        self.prices_added += write_some(catalog, self.marks.remove(id)).await?
            + write_some(catalog, self.indexes.remove(id)).await?;
        Ok(added)
    }

    async fn finish_instrument(&mut self, instrument: &Instrument) -> Result<usize, SinkError> {
        self.flush(&instrument.id).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_buffer_grows_by_the_pages_it_gets_not_by_doubling() {
        let mut buffer: Vec<u64> = Vec::new();
        for page in 0..5u64 {
            append(&mut buffer, (page * 500..(page + 1) * 500).collect());
        }
        assert_eq!(buffer, (0..2500).collect::<Vec<u64>>());
        // Doubling would have left room for 4000 rows.
        assert!(buffer.capacity() <= 2500, "{}", buffer.capacity());
    }
}
