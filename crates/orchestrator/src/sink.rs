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

/// Stores batches in the catalog, buffering up to `flush_rows` per instrument so a long
/// backfill writes whole days instead of one small file per page. The mark and index prices
/// that live snapshots carry are stored beside their rows (`mark_price_update`,
/// `index_price_update`).
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
        let buffered = match batch {
            Batch::OpenInterest(rows) => {
                let buffer = self.open_interest.entry(id.clone()).or_default();
                buffer.extend(rows);
                buffer.len()
            }
            Batch::OpenInterestSnapshots(rows) => {
                let (rows, prices): (Vec<_>, Vec<_>) = rows
                    .into_iter()
                    .map(|s| (s.open_interest, s.prices))
                    .unzip();
                self.keep_prices(id, prices);
                let buffer = self.open_interest.entry(id.clone()).or_default();
                buffer.extend(rows);
                buffer.len()
            }
            Batch::FundingSnapshots(rows) => {
                let (rows, prices): (Vec<_>, Vec<_>) =
                    rows.into_iter().map(|s| (s.funding, s.prices)).unzip();
                self.keep_prices(id, prices);
                let buffer = self.funding.entry(id.clone()).or_default();
                buffer.extend(rows);
                buffer.len()
            }
            Batch::FundingRates(rows) => {
                let buffer = self.funding.entry(id.clone()).or_default();
                buffer.extend(rows);
                buffer.len()
            }
            Batch::Bars(rows) => {
                let buffer = self.bars.entry(id.clone()).or_default();
                buffer.extend(rows);
                buffer.len()
            }
        };
        if buffered >= self.flush_rows {
            self.flush(id).await
        } else {
            Ok(0)
        }
    }

    async fn finish_instrument(&mut self, instrument: &Instrument) -> Result<usize, SinkError> {
        self.flush(&instrument.id).await
    }
}
