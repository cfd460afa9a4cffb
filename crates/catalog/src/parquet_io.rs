//! Encoding rows to Parquet bytes and reading them back with row-group pruning.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use bytes::Bytes;
use ccxt_model::InstrumentId;
use futures::TryStreamExt;
use object_store::ObjectMeta;
use parquet::arrow::{ArrowWriter, parquet_to_arrow_schema};
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

/// Files of fewer rows may be written uncompressed ([`crate::Catalog::write_small_files_uncompressed`]).
pub(crate) const COMPRESS_FROM_ROWS: usize = 256;

/// zstd level 3 when `compress`, else none. `shown` names the file in an error.
fn compression(compress: bool, shown: &str) -> Result<Compression> {
    if !compress {
        return Ok(Compression::UNCOMPRESSED);
    }
    let level = ZstdLevel::try_new(3).map_err(|e| CatalogError::Encode {
        path: shown.to_string(),
        reason: e.to_string(),
    })?;
    Ok(Compression::ZSTD(level))
}

/// Encodes sorted rows of one instrument as a Parquet file, zstd-compressed if `compress`.
pub(crate) fn encode<T: CatalogRecord>(
    rows: &[T],
    id: &InstrumentId,
    shown: &str,
    compress: bool,
) -> Result<Bytes> {
    let err = |e: &dyn std::fmt::Display| CatalogError::Encode {
        path: shown.to_string(),
        reason: e.to_string(),
    };
    let batch = T::to_batch(rows, id).map_err(|e| err(&e))?;
    let props = WriterProperties::builder()
        .set_compression(compression(compress, shown)?)
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

/// A Parquet read error as a catalog error: the storage failing is a storage error (the file
/// may be fine); anything else means the bytes are not a readable Parquet file.
fn read_error(storage: &Storage, meta: &ObjectMeta, e: ParquetError) -> CatalogError {
    let shown = storage.display_path(&meta.location);
    match e {
        ParquetError::External(inner) => match inner.downcast::<object_store::Error>() {
            Ok(source) => CatalogError::storage(shown, *source),
            Err(other) => CatalogError::corrupt(shown, other),
        },
        ParquetError::EOF(_) if meta.size == 0 => {
            CatalogError::corrupt(shown, "the file is empty (0 bytes)")
        }
        e => {
            let detail = e.to_string();
            let detail = detail.strip_prefix("Parquet error: ").unwrap_or(&detail);
            CatalogError::corrupt(shown, format!("not a readable Parquet file: {detail}"))
        }
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
        .map_err(|e| read_error(storage, meta, e))?;
    check_version(&footer, &shown)?;
    Ok(footer)
}

fn footer_value<'a>(footer: &'a ParquetMetaData, key: &str) -> Option<&'a str> {
    footer
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == key))
        .and_then(|k| k.value.as_deref())
}

fn check_version(footer: &ParquetMetaData, shown: &str) -> Result<()> {
    match footer_value(footer, KEY_SCHEMA_VERSION).map(str::parse::<u32>) {
        None => Ok(()), // written by another tool (e.g. NautilusTrader's consolidate)
        Some(Ok(v)) if v <= SCHEMA_VERSION => Ok(()),
        Some(Ok(version)) => Err(CatalogError::NewerVersion {
            path: shown.to_string(),
            version,
            supported: SCHEMA_VERSION,
        }),
        Some(Err(_)) => Err(CatalogError::corrupt(
            shown,
            format!("unreadable footer key {KEY_SCHEMA_VERSION}"),
        )),
    }
}

/// Checks that a file's footer describes `T` records of `id`'s directory: the record kind our
/// writer notes in the footer, and every column `T` needs, with a type it reads. Another
/// schema or record kind is a [`CatalogError::Foreign`].
pub(crate) fn check_schema<T: CatalogRecord>(
    footer: &ParquetMetaData,
    id: &InstrumentId,
    shown: &str,
) -> Result<()> {
    let expected = crate::naming::class_dir(T::KIND);
    let foreign = |reason: String| CatalogError::Foreign {
        path: shown.to_string(),
        expected,
        reason,
    };
    if let Some(record) = footer_value(footer, KEY_RECORD)
        && record != expected
    {
        return Err(foreign(format!("it holds {record} records")));
    }
    let file = footer.file_metadata();
    let schema = parquet_to_arrow_schema(file.schema_descr(), file.key_value_metadata())
        .map_err(|e| CatalogError::corrupt(shown, format!("unreadable schema: {e}")))?;
    check_arrow_schema::<T>(Arc::new(schema), id, shown)
}

/// The column check of [`check_schema`] on an Arrow schema: decoding no rows of it checks each
/// column's presence and type exactly as reading rows does.
fn check_arrow_schema<T: CatalogRecord>(
    schema: SchemaRef,
    id: &InstrumentId,
    shown: &str,
) -> Result<()> {
    T::from_batch(&RecordBatch::new_empty(schema), id).map_err(|reason| CatalogError::Foreign {
        path: shown.to_string(),
        expected: crate::naming::class_dir(T::KIND),
        reason,
    })?;
    Ok(())
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
        .map_err(|e| read_error(storage, meta, e))?;
    check_version(builder.metadata(), &shown)?;
    if let Some(record) = footer_value(builder.metadata(), KEY_RECORD)
        && record != crate::naming::class_dir(T::KIND)
    {
        return Err(CatalogError::Foreign {
            path: shown,
            expected: crate::naming::class_dir(T::KIND),
            reason: format!("it holds {record} records"),
        });
    }
    // The decoded batches lose the schema metadata (NautilusTrader's precision, bar type);
    // they are decoded under the file's full schema.
    let schema = builder.schema().clone();
    check_arrow_schema::<T>(schema.clone(), id, &shown)?;
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
    while let Some(batch) = stream
        .try_next()
        .await
        .map_err(|e| read_error(storage, meta, e))?
    {
        let batch = batch.with_schema(schema.clone()).map_err(|e| corrupt(&e))?;
        let decoded = T::from_batch(&batch, id).map_err(|e| corrupt(&e))?;
        rows.extend(
            decoded
                .into_iter()
                .filter(|r| (start..=end).contains(&r.ts_init())),
        );
    }
    Ok((rows, counts))
}

/// The row count in the footer of encoded Parquet `bytes` (read in memory, before upload).
pub(crate) fn footer_rows_in_memory(bytes: &Bytes, shown: &str) -> Result<i64> {
    let footer = ParquetMetaDataReader::new()
        .parse_and_finish(bytes)
        .map_err(|e| CatalogError::corrupt(shown, format!("encoded bytes unreadable: {e}")))?;
    Ok(footer.file_metadata().num_rows())
}
