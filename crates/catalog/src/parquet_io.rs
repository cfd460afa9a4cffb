//! Encoding rows to Parquet bytes and reading them back with row-group pruning.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, SchemaRef};
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
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaDataReader;
use parquet::file::metadata::{KeyValue, ParquetMetaData};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};
use parquet::file::statistics::Statistics;
use parquet::schema::types::ColumnPath;

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

/// Columns of nanosecond times. Sorted (`ts_init`) or nearly so (`ts_event`), and for history
/// on a regular grid, they take a few bits a row delta-encoded, where a dictionary or plain
/// values take eight bytes before compression; the deltas are not worth compressing, so these
/// columns get no compression (and no zstd context is created for them).
const TIME_COLUMNS: [&str; 2] = ["ts_event", "ts_init"];

/// The instrument id, the same in every row of a file: a one-entry dictionary and runs of the
/// same index, nothing left to compress.
const INSTRUMENT_COLUMN: &str = "instrument_id";

/// Sets how one column is encoded and compressed:
/// - the time columns: `DELTA_BINARY_PACKED`, no dictionary, uncompressed;
/// - the instrument id: a dictionary, uncompressed;
/// - floating-point columns: plain values, no dictionary, uncompressed. Prices and amounts with
///   many significant digits repeat too rarely for a dictionary to pay, and zstd takes a fifth
///   off them at best, for a compression and a decompression context created per column chunk
///   (most of the CPU a small file's encoding costs);
/// - string columns of at most [`FEW_DISTINCT`] distinct values in the file (a liquidation's
///   side, order side, source and method; a trade id column that is all null): a dictionary,
///   uncompressed. Their values are a few bits a row of dictionary indices, mostly in runs,
///   and a zstd context pair per column chunk cost a stream's small liquidation files more
///   CPU than anything else in their encoding;
/// - anything else (other strings, small integers): the file's default, a dictionary where it
///   pays, compressed if the file is.
///
/// The 600 open-interest day files of the ccxt comparison's backfill (10 symbols × 30 days ×
/// Binance and Bybit) take 17.5 bytes a row this way, 29.8 with every column
/// dictionary-encoded and zstd-compressed, and a file encodes in less than half the time: no
/// column of it needs a zstd context. NautilusTrader (1.221, 1.231) reads these encodings.
fn column_layout(
    props: WriterPropertiesBuilder,
    field: &Field,
    values: &ArrayRef,
) -> WriterPropertiesBuilder {
    let name = field.name().as_str();
    let column = ColumnPath::from(name);
    if TIME_COLUMNS.contains(&name) {
        props
            .set_column_dictionary_enabled(column.clone(), false)
            .set_column_encoding(column.clone(), Encoding::DELTA_BINARY_PACKED)
            .set_column_compression(column, Compression::UNCOMPRESSED)
    } else if name == INSTRUMENT_COLUMN {
        props.set_column_compression(column, Compression::UNCOMPRESSED)
    } else if matches!(field.data_type(), DataType::Float64 | DataType::Float32) {
        props
            .set_column_dictionary_enabled(column.clone(), false)
            .set_column_compression(column, Compression::UNCOMPRESSED)
    } else if few_distinct_strings(values) {
        props
            .set_column_dictionary_enabled(column.clone(), true)
            .set_column_compression(column, Compression::UNCOMPRESSED)
    } else {
        props
    }
}

/// String columns with at most this many distinct values are left uncompressed.
const FEW_DISTINCT: usize = 16;

/// Whether `values` is a string column of at most [`FEW_DISTINCT`] distinct values (nulls
/// not counted). Stops at the first value past that.
fn few_distinct_strings(values: &ArrayRef) -> bool {
    let Some(strings) = values.as_string_opt::<i32>() else {
        return false;
    };
    let mut seen: Vec<&str> = Vec::with_capacity(FEW_DISTINCT);
    for value in strings.iter().flatten() {
        if !seen.contains(&value) {
            if seen.len() == FEW_DISTINCT {
                return false;
            }
            seen.push(value);
        }
    }
    true
}

/// Encodes sorted rows of one instrument as a Parquet file, zstd-compressed if `compress`
/// (column by column as [`column_layout`] says).
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
    let mut props = WriterProperties::builder()
        .set_compression(compression(compress, shown)?)
        .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_key_value_metadata(Some(vec![
            KeyValue::new(KEY_SCHEMA_VERSION.to_string(), SCHEMA_VERSION.to_string()),
            KeyValue::new(
                KEY_RECORD.to_string(),
                crate::naming::class_dir(T::KIND).to_string(),
            ),
        ]));
    for (field, values) in batch.schema_ref().fields().iter().zip(batch.columns()) {
        props = column_layout(props, field, values);
    }
    let props = props.build();
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ccxt_model::{Liquidation, LiquidationSource, OpenInterest, PositionSide};
    use parquet::file::metadata::ColumnChunkMetaData;

    use super::*;

    /// 2025-01-01T00:00:00Z.
    const DAY: u64 = 1_735_689_600_000_000_000;

    fn footer(bytes: &Bytes) -> ParquetMetaData {
        ParquetMetaDataReader::new()
            .parse_and_finish(bytes)
            .unwrap()
    }

    fn column<'a>(footer: &'a ParquetMetaData, name: &str) -> &'a ColumnChunkMetaData {
        let group = footer.row_group(0);
        let i = (0..group.num_columns())
            .find(|&i| group.column(i).column_descr().name() == name)
            .unwrap();
        group.column(i)
    }

    /// The first record batch of an encoded file.
    fn first_batch(bytes: Bytes) -> RecordBatch {
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap()
            .build()
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
    }

    #[test]
    fn an_open_interest_file_needs_no_zstd_context_and_its_times_are_delta_encoded() {
        let id = InstrumentId::new_unchecked("BTCUSDT-PERP.BINANCE");
        let rows: Vec<OpenInterest> = (0..288u64)
            .map(|i| OpenInterest {
                instrument_id: id.clone(),
                open_interest: 81_234.567_890_12 + i as f64 * 0.131,
                open_interest_value: (i % 7 != 0).then_some(7.6e9 + i as f64 * 1234.5678),
                ts_event: DAY + i * 300_000_000_000,
                ts_init: DAY + i * 300_000_000_000,
            })
            .collect();
        let bytes = encode(&rows, &id, "test", true).unwrap();
        let footer = footer(&bytes);
        for name in [
            "instrument_id",
            "open_interest",
            "open_interest_value",
            "ts_event",
        ] {
            assert_eq!(
                column(&footer, name).compression(),
                Compression::UNCOMPRESSED,
                "{name}"
            );
        }
        for name in ["ts_event", "ts_init"] {
            let encodings: Vec<Encoding> = column(&footer, name).encodings().collect();
            assert!(
                encodings.contains(&Encoding::DELTA_BINARY_PACKED),
                "{name}: {encodings:?}"
            );
        }
        // A regular grid of times costs next to nothing: the whole file stays small.
        assert!(bytes.len() < 288 * 24, "{} bytes", bytes.len());
        // And it reads back exactly.
        let batch = first_batch(bytes);
        assert_eq!(OpenInterest::from_batch(&batch, &id).unwrap(), rows);
    }

    #[test]
    fn strings_of_many_values_are_compressed_and_of_few_values_are_not() {
        let id = InstrumentId::new_unchecked("BTCUSDT-PERP.BINANCE");
        let rows: Vec<Liquidation> = (0..300u64)
            .map(|i| Liquidation {
                instrument_id: id.clone(),
                side: if i % 3 == 0 {
                    PositionSide::Long
                } else {
                    PositionSide::Short
                },
                order_side: if i % 3 == 0 { "SELL" } else { "BUY" }.into(),
                quantity: 0.5,
                price: 94_000.5,
                value: 47_000.25,
                source: LiquidationSource::Poll,
                method: None,
                trade_id: Some(format!("trade-{i}")),
                ts_event: DAY + i,
                ts_init: DAY + i,
            })
            .collect();
        let bytes = encode(&rows, &id, "test", true).unwrap();
        let footer = footer(&bytes);
        assert!(matches!(
            column(&footer, "trade_id").compression(),
            Compression::ZSTD(_)
        ));
        // Two sides, one source, no method: dictionary indices, no zstd context.
        for name in ["price", "side", "order_side", "source", "method"] {
            assert_eq!(
                column(&footer, name).compression(),
                Compression::UNCOMPRESSED,
                "{name}"
            );
        }
        let encodings: Vec<Encoding> = column(&footer, "side").encodings().collect();
        assert!(
            encodings.contains(&Encoding::RLE_DICTIONARY),
            "{encodings:?}"
        );
        // Seventeen distinct values are too many: compressed.
        let mut many = rows.clone();
        for (i, row) in many.iter_mut().enumerate() {
            row.order_side = format!("side-{}", i % 17);
        }
        let footer = self::footer(&encode(&many, &id, "test", true).unwrap());
        assert!(matches!(
            column(&footer, "order_side").compression(),
            Compression::ZSTD(_)
        ));
        // And the file reads back exactly.
        let batch = first_batch(bytes);
        assert_eq!(Liquidation::from_batch(&batch, &id).unwrap(), rows);
    }
}
