//! Where fetched rows go: the catalog (buffered, merged, idempotent) or anything else.

use std::collections::HashMap;
use std::sync::Arc;

use ccxt_catalog::{Catalog, CatalogError};
use ccxt_model::{Bar, FundingRate, Instrument, InstrumentId, OpenInterest};

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
/// backfill writes whole days instead of one small file per page.
pub struct CatalogSink {
    catalog: Arc<Catalog>,
    flush_rows: usize,
    open_interest: HashMap<InstrumentId, Vec<OpenInterest>>,
    funding: HashMap<InstrumentId, Vec<FundingRate>>,
    bars: HashMap<InstrumentId, Vec<Bar>>,
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
        }
    }

    async fn flush(&mut self, id: &InstrumentId) -> Result<usize, SinkError> {
        let mut added = 0;
        if let Some(rows) = self.open_interest.remove(id).filter(|r| !r.is_empty()) {
            added += self
                .catalog
                .write(rows)
                .await
                .map_err(SinkError::from)?
                .rows_added;
        }
        if let Some(rows) = self.funding.remove(id).filter(|r| !r.is_empty()) {
            added += self
                .catalog
                .write(rows)
                .await
                .map_err(SinkError::from)?
                .rows_added;
        }
        if let Some(rows) = self.bars.remove(id).filter(|r| !r.is_empty()) {
            added += self
                .catalog
                .write(rows)
                .await
                .map_err(SinkError::from)?
                .rows_added;
        }
        Ok(added)
    }
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
            Batch::FundingSnapshots(rows) => {
                let buffer = self.funding.entry(id.clone()).or_default();
                buffer.extend(rows.into_iter().map(|s| s.funding));
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
