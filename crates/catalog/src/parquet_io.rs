//! Encoding rows to Parquet bytes and reading them back with row-group pruning.

use std::sync::Arc;

use bytes::Bytes;
use ccxt_model::InstrumentId;
use futures::TryStreamExt;
use object_store::ObjectMeta;
use parquet::arrow::ArrowWriter;
use std::ops::Range;

use futures::FutureExt;
use futures::future::BoxFuture;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaDataReader;
use parquet::file::metadata::{KeyValue, ParquetMetaData};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::statistics::Statistics;

use crate::error::{CatalogError, Result};
use crate::record::CatalogRecord;
use crate::storage::Storage;

/// The version of our column layout, written into every file's footer.
pub const SCHEMA_VERSION: u32 = 1;
/// Footer key holding [`SCHEMA_VERSION`].
pub const KEY_SCHEMA_VERSION: &str = "ccxt_pipeline.schema_version";
/// Footer key naming the record kind.
pub const KEY_RECORD: &str = "ccxt_pipeline.record";

/// NautilusTrader's own row-group size.
const ROWS_PER_GROUP: usize = 5000;

/// Encodes sorted rows of one instrument as a Parquet file.
pub(crate) fn encode<T: CatalogRecord>(
    rows: &[T],
    id: &InstrumentId,
    shown: &str,
) -> Result<Bytes> {
    let err = |e: &dyn std::fmt::Display| CatalogError::Encode {
        path: shown.to_string(),
        reason: e.to_string(),
    };
    let batch = T::to_batch(rows, id).map_err(|e| err(&e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).map_err(|e| err(&e))?,
        ))
        .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_key_value_metadata(Some(vec![
            KeyValue::new(KEY_SCHEMA_VERSION.to_string(), SCHEMA_VERSION.to_string()),
            KeyValue::new(
                KEY_RECORD.to_string(),
                crate::naming::class_dir(T::KIND).to_string(),
            ),
        ]))
        .build();
    let mut writer = ArrowWriter::try_new(
        Vec::with_capacity(rows.len() * 24),
        batch.schema(),
        Some(props),
    )
    .map_err(|e| err(&e))?;
    writer.write(&batch).map_err(|e| err(&e))?;
    let buffer = writer.into_inner().map_err(|e| err(&e))?;
    Ok(Bytes::from(buffer))
}

/// Reads byte ranges of one catalog file through the storage backend.
#[derive(Debug, Clone)]
struct FileReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
}

fn reader(storage: &Storage, meta: &ObjectMeta) -> FileReader {
    FileReader {
        store: storage.store(),
        path: meta.location.clone(),
        size: meta.size,
    }
}

fn external(e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileReader for FileReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_metadata_options(options.map(|o| o.metadata_options().clone()))
                // Our footers are small: one read of the tail usually gets all of it.
                .with_prefetch_hint(Some(16 * 1024))
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// Reads a file's footer.
pub(crate) async fn read_footer(
    storage: &Storage,
    meta: &ObjectMeta,
) -> Result<Arc<ParquetMetaData>> {
    let shown = storage.display_path(&meta.location);
    let footer = reader(storage, meta)
        .get_metadata(None)
        .await
        .map_err(|e| CatalogError::corrupt(&shown, e))?;
    check_version(&footer, &shown)?;
    Ok(footer)
}

fn check_version(footer: &ParquetMetaData, shown: &str) -> Result<()> {
    let version = footer
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == KEY_SCHEMA_VERSION))
        .and_then(|k| k.value.as_deref());
    match version.map(str::parse::<u32>) {
        None => Ok(()), // written by another tool (e.g. NautilusTrader's consolidate)
        Some(Ok(v)) if v <= SCHEMA_VERSION => Ok(()),
        Some(Ok(v)) => Err(CatalogError::corrupt(
            shown,
            format!(
                "written with schema version {v} by a newer ccxt-pipeline (this one reads up to {SCHEMA_VERSION}); upgrade ccxt-cli"
            ),
        )),
        Some(Err(_)) => Err(CatalogError::corrupt(shown, "unreadable schema version")),
    }
}

/// How much of a file a read touched.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RowGroupCounts {
    /// Row groups decoded.
    pub read: usize,
    /// Row groups skipped by their `ts_init` statistics.
    pub skipped: usize,
}

/// Reads the rows of one file whose `ts_init` lies in `[start, end]`, skipping row groups
/// whose statistics exclude the range.
pub(crate) async fn read_rows<T: CatalogRecord>(
    storage: &Storage,
    meta: &ObjectMeta,
    id: &InstrumentId,
    start: u64,
    end: u64,
) -> Result<(Vec<T>, RowGroupCounts)> {
    let shown = storage.display_path(&meta.location);
    let corrupt = |e: &dyn std::fmt::Display| CatalogError::corrupt(&shown, e);
    let builder = ParquetRecordBatchStreamBuilder::new(reader(storage, meta))
        .await
        .map_err(|e| corrupt(&e))?;
    check_version(builder.metadata(), &shown)?;
    let ts_col = builder
        .parquet_schema()
        .columns()
        .iter()
        .position(|c| c.name() == "ts_init")
        .ok_or_else(|| corrupt(&"missing column 'ts_init'"))?;
    let mut counts = RowGroupCounts::default();
    let keep: Vec<usize> = builder
        .metadata()
        .row_groups()
        .iter()
        .enumerate()
        .filter(|(_, rg)| {
            let overlaps = match rg.column(ts_col).statistics() {
                Some(Statistics::Int64(s)) => match (s.min_opt(), s.max_opt()) {
                    (Some(lo), Some(hi)) => (*lo as u64) <= end && start <= (*hi as u64),
                    _ => true,
                },
                _ => true,
            };
            if overlaps {
                counts.read += 1;
            } else {
                counts.skipped += 1;
            }
            overlaps
        })
        .map(|(i, _)| i)
        .collect();
    let mut rows = Vec::new();
    if keep.is_empty() {
        return Ok((rows, counts));
    }
    let mut stream = builder
        .with_row_groups(keep)
        .build()
        .map_err(|e| corrupt(&e))?;
    while let Some(batch) = stream.try_next().await.map_err(|e| corrupt(&e))? {
        let decoded = T::from_batch(&batch, id).map_err(|e| corrupt(&e))?;
        rows.extend(
            decoded
                .into_iter()
                .filter(|r| (start..=end).contains(&r.ts_init())),
        );
    }
    Ok((rows, counts))
}
