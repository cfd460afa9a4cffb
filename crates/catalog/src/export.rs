//! Reading the catalog for export: a day-by-day scan in bounded memory, and the flat, typed
//! Arrow layout exported files get.
//!
//! * [`DayScan`] walks the datasets UTC day by UTC day (of `ts_init`, as queries select) and
//!   hands out one dataset's rows of one day at a time, reading only the files whose names
//!   overlap that day and only the row groups whose `ts_init` statistics do: memory holds one
//!   dataset-day, however long the range.
//! * [`ExportRecord`] turns rows into the export layout: `ts_event`, `ts_init` as
//!   `timestamp[ns, UTC]`, then `venue` (left out of partitioned files, whose path carries it),
//!   `symbol` (the venue's own), `instrument_id`, then the record's fields, with exact prices and
//!   rates as `decimal128(38, scale)` or, with [`Numbers::Float`], `float64`.

use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int32Builder, StringBuilder};
use arrow_array::{ArrayRef, Decimal128Array, RecordBatch, TimestampNanosecondArray};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use ccxt_model::time::{NANOS_PER_DAY, utc_day_start};
use ccxt_model::{
    Bar, FundingRate, IndexPrice, Instrument, InstrumentId, Liquidation, MarkPrice, OpenInterest,
};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::error::CatalogError;
use crate::record::CatalogRecord;
use crate::{Catalog, DataFile, intersects, parquet_io, sort_and_dedup};

/// Why rows cannot be put in the export layout.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A time past 2262-04-11, which `timestamp[ns]` (signed 64-bit) cannot hold.
    #[error("{column} {ns} ns of {instrument} is past 2262, beyond timestamp[ns]")]
    Timestamp {
        /// The column.
        column: &'static str,
        /// The value, UNIX ns.
        ns: u64,
        /// The instrument.
        instrument: String,
    },
    /// A decimal with more decimals than its column's scale, or too large for 38 digits.
    #[error("{column} {value} of {instrument} does not fit decimal(38, {scale})")]
    Decimal {
        /// The column.
        column: &'static str,
        /// The value.
        value: Decimal,
        /// The column's scale.
        scale: u8,
        /// The instrument.
        instrument: String,
    },
    /// Arrow refused the columns (a bug: the layout is fixed here).
    #[error("cannot build the export batch: {0}")]
    Arrow(#[from] ArrowError),
}

/// How exact numbers (rates, prices, volumes) are exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbers {
    /// `decimal128(38, scale)`: exact.
    Decimal,
    /// `float64`: what most analysis code wants; the nearest double.
    Float,
}

/// The decimals the decimal columns of an export need: the most any exported row has.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Scales {
    /// Prices and rates.
    pub price: u8,
    /// Sizes (bar volume).
    pub size: u8,
}

impl Scales {
    /// The larger of each.
    pub fn max(self, other: Scales) -> Scales {
        Scales {
            price: self.price.max(other.price),
            size: self.size.max(other.size),
        }
    }
}

/// The options of one export's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Decimals or floats.
    pub numbers: Numbers,
    /// The decimal columns' scales (ignored with [`Numbers::Float`]).
    pub scales: Scales,
    /// Whether the `venue` column is written (not in Hive-partitioned files: the path has it).
    pub venue_column: bool,
}

/// A record kind that can be exported.
pub trait ExportRecord: CatalogRecord {
    /// The instrument the row is about (for bars, the bar type's instrument).
    fn instrument(&self) -> &InstrumentId;
    /// The decimals this row's exact numbers have (none by default).
    fn scales(&self) -> Scales {
        Scales::default()
    }
    /// The decimals every row of a file has at most, from the file's schema metadata (the
    /// precision NautilusTrader's fixed-point columns are stored with), for kinds that store
    /// one; `None` (the default): only the rows tell.
    fn scales_from_metadata(metadata: &arrow_schema::Metadata) -> Option<Scales> {
        let _ = metadata;
        None
    }
    /// The fields after the common ones.
    fn value_fields(layout: &Layout) -> Vec<Field>;
    /// The columns of [`ExportRecord::value_fields`] for `rows`.
    fn value_columns(rows: &[Self], layout: &Layout) -> Result<Vec<ArrayRef>, ExportError>;
}

/// The schema of exported `T` rows.
pub fn export_schema<T: ExportRecord>(layout: &Layout) -> SchemaRef {
    let ts = || DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    let mut fields = vec![
        Field::new("ts_event", ts(), false),
        Field::new("ts_init", ts(), false),
    ];
    if layout.venue_column {
        fields.push(Field::new("venue", DataType::Utf8, false));
    }
    fields.push(Field::new("symbol", DataType::Utf8, false));
    fields.push(Field::new("instrument_id", DataType::Utf8, false));
    fields.extend(T::value_fields(layout));
    Arc::new(Schema::new(fields))
}

/// The venue (`binance`) and the venue's own symbol (`BTCUSDT`, Hyperliquid `BTC`) of an
/// instrument id, as `query` shows them; an id of no known venue keeps its parts
/// (`BTC-PERP.OTHER` → `other`, `BTC-PERP`).
pub fn venue_and_symbol(id: &InstrumentId) -> (String, String) {
    match Instrument::from_id(id.as_str()) {
        Ok(i) => (i.venue.to_string(), i.native),
        Err(_) => match id.as_str().rsplit_once('.') {
            Some((symbol, venue)) => (venue.to_lowercase(), symbol.to_string()),
            None => (String::new(), id.to_string()),
        },
    }
}

/// Rows of one instrument in the export layout.
pub fn export_batch<T: ExportRecord>(
    rows: &[T],
    instrument: &InstrumentId,
    layout: &Layout,
) -> Result<RecordBatch, ExportError> {
    let (venue, symbol) = venue_and_symbol(instrument);
    let times = |column: &'static str, get: fn(&T) -> u64| -> Result<ArrayRef, ExportError> {
        let values = rows
            .iter()
            .map(|r| timestamp(get(r), column, instrument))
            .collect::<Result<Vec<i64>, _>>()?;
        Ok(Arc::new(
            TimestampNanosecondArray::from(values).with_timezone("UTC"),
        ))
    };
    let text = |value: &str| -> ArrayRef {
        let mut b = StringBuilder::with_capacity(rows.len(), rows.len() * value.len());
        for _ in rows {
            b.append_value(value);
        }
        Arc::new(b.finish())
    };
    let mut columns = vec![
        times("ts_event", |r| r.ts_event())?,
        times("ts_init", |r| r.ts_init())?,
    ];
    if layout.venue_column {
        columns.push(text(&venue));
    }
    columns.push(text(&symbol));
    columns.push(text(instrument.as_str()));
    columns.extend(T::value_columns(rows, layout)?);
    Ok(RecordBatch::try_new(export_schema::<T>(layout), columns)?)
}

fn timestamp(ns: u64, column: &'static str, instrument: &InstrumentId) -> Result<i64, ExportError> {
    i64::try_from(ns).map_err(|_| ExportError::Timestamp {
        column,
        ns,
        instrument: instrument.to_string(),
    })
}

/// A `timestamp[ns, UTC]` field.
fn ts_field(name: &str, nullable: bool) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
        nullable,
    )
}

/// A field of exact numbers: `decimal128(38, scale)` or `float64`.
fn number_field(name: &str, layout: &Layout, scale: u8, nullable: bool) -> Field {
    let data_type = match layout.numbers {
        Numbers::Decimal => DataType::Decimal128(38, scale as i8),
        Numbers::Float => DataType::Float64,
    };
    Field::new(name, data_type, nullable)
}

/// A column of exact numbers at `scale` (decimals) or as the nearest doubles.
fn number_column<T: ExportRecord>(
    rows: &[T],
    column: &'static str,
    layout: &Layout,
    scale: u8,
    get: impl Fn(&T) -> Decimal,
) -> Result<ArrayRef, ExportError> {
    match layout.numbers {
        Numbers::Float => {
            let mut b = Float64Builder::with_capacity(rows.len());
            for r in rows {
                b.append_option(get(r).to_f64());
            }
            Ok(Arc::new(b.finish()))
        }
        Numbers::Decimal => {
            let values = rows
                .iter()
                .map(|r| {
                    let value = get(r);
                    unscaled(value, scale).ok_or_else(|| ExportError::Decimal {
                        column,
                        value,
                        scale,
                        instrument: r.instrument().to_string(),
                    })
                })
                .collect::<Result<Vec<i128>, _>>()?;
            Ok(Arc::new(
                Decimal128Array::from(values).with_precision_and_scale(38, scale as i8)?,
            ))
        }
    }
}

/// `value × 10^scale` as an integer, if exact and within 38 digits.
fn unscaled(value: Decimal, scale: u8) -> Option<i128> {
    let have = value.scale();
    let want = u32::from(scale);
    if have > want {
        return None;
    }
    let n = value
        .mantissa()
        .checked_mul(10i128.checked_pow(want - have)?)?;
    (n.unsigned_abs() < 10u128.pow(38)).then_some(n)
}

fn f64_column(values: impl Iterator<Item = Option<f64>>) -> ArrayRef {
    let mut b = Float64Builder::new();
    b.extend(values);
    Arc::new(b.finish())
}

fn string_column<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    let mut b = StringBuilder::new();
    b.extend(values);
    Arc::new(b.finish())
}

/// Decimals of a decimal's written form (`0.00010000` → 8).
fn decimals(value: &Decimal) -> u8 {
    u8::try_from(value.scale()).unwrap_or(u8::MAX)
}

impl ExportRecord for OpenInterest {
    fn instrument(&self) -> &InstrumentId {
        &self.instrument_id
    }
    fn value_fields(_: &Layout) -> Vec<Field> {
        vec![
            Field::new("open_interest", DataType::Float64, false),
            Field::new("open_interest_value", DataType::Float64, true),
        ]
    }
    fn value_columns(rows: &[Self], _: &Layout) -> Result<Vec<ArrayRef>, ExportError> {
        Ok(vec![
            f64_column(rows.iter().map(|r| Some(r.open_interest))),
            f64_column(rows.iter().map(|r| r.open_interest_value)),
        ])
    }
}

/// Funding: `rate` exact, `interval_minutes` (int32, null if unknown), `kind` (`settled` or
/// `estimate`), `next_funding_time` (the charge an estimate is for; null for settled rates).
impl ExportRecord for FundingRate {
    fn instrument(&self) -> &InstrumentId {
        &self.instrument_id
    }
    fn scales(&self) -> Scales {
        Scales {
            price: decimals(&self.rate),
            size: 0,
        }
    }
    fn value_fields(layout: &Layout) -> Vec<Field> {
        vec![
            number_field("rate", layout, layout.scales.price, false),
            Field::new("interval_minutes", DataType::Int32, true),
            Field::new("kind", DataType::Utf8, false),
            ts_field("next_funding_time", true),
        ]
    }
    fn value_columns(rows: &[Self], layout: &Layout) -> Result<Vec<ArrayRef>, ExportError> {
        let rate = number_column(rows, "rate", layout, layout.scales.price, |r| r.rate)?;
        let mut interval = Int32Builder::with_capacity(rows.len());
        interval.extend(rows.iter().map(|r| r.interval_minutes.map(i32::from)));
        let kind = string_column(rows.iter().map(|r| {
            Some(if r.next_funding_ns.is_some() {
                "estimate"
            } else {
                "settled"
            })
        }));
        let next = rows
            .iter()
            .map(|r| {
                r.next_funding_ns
                    .map(|ns| timestamp(ns, "next_funding_time", &r.instrument_id))
                    .transpose()
            })
            .collect::<Result<Vec<Option<i64>>, _>>()?;
        Ok(vec![
            rate,
            Arc::new(interval.finish()),
            kind,
            Arc::new(TimestampNanosecondArray::from(next).with_timezone("UTC")),
        ])
    }
}

/// Liquidations as stored: `side` (the position liquidated), `order_side`, `quantity`,
/// `price`, `value` (float64, as stored), `source`, `method`, `trade_id`.
impl ExportRecord for Liquidation {
    fn instrument(&self) -> &InstrumentId {
        &self.instrument_id
    }
    fn value_fields(_: &Layout) -> Vec<Field> {
        vec![
            Field::new("side", DataType::Utf8, false),
            Field::new("order_side", DataType::Utf8, false),
            Field::new("quantity", DataType::Float64, false),
            Field::new("price", DataType::Float64, false),
            Field::new("value", DataType::Float64, false),
            Field::new("source", DataType::Utf8, false),
            Field::new("method", DataType::Utf8, true),
            Field::new("trade_id", DataType::Utf8, true),
        ]
    }
    fn value_columns(rows: &[Self], _: &Layout) -> Result<Vec<ArrayRef>, ExportError> {
        Ok(vec![
            string_column(rows.iter().map(|r| Some(r.side.as_str()))),
            string_column(rows.iter().map(|r| Some(r.order_side.as_str()))),
            f64_column(rows.iter().map(|r| Some(r.quantity))),
            f64_column(rows.iter().map(|r| Some(r.price))),
            f64_column(rows.iter().map(|r| Some(r.value))),
            string_column(rows.iter().map(|r| Some(r.source.as_str()))),
            string_column(rows.iter().map(|r| r.method.as_deref())),
            string_column(rows.iter().map(|r| r.trade_id.as_deref())),
        ])
    }
}

/// Bars: `bar_type`, `interval` (`1h`), `price_type` (`last`/`mark`), `open_time`, then
/// `open`, `high`, `low`, `close` at the price scale and `volume` at the size scale.
impl ExportRecord for Bar {
    fn instrument(&self) -> &InstrumentId {
        &self.bar_type.instrument_id
    }
    fn scales(&self) -> Scales {
        let price = [&self.open, &self.high, &self.low, &self.close]
            .into_iter()
            .map(decimals)
            .fold(self.precision.price, u8::max);
        Scales {
            price,
            size: decimals(&self.volume).max(self.precision.size),
        }
    }
    fn scales_from_metadata(metadata: &arrow_schema::Metadata) -> Option<Scales> {
        Some(Scales {
            price: metadata.get("price_precision")?.parse().ok()?,
            size: metadata.get("size_precision")?.parse().ok()?,
        })
    }
    fn value_fields(layout: &Layout) -> Vec<Field> {
        let mut fields = vec![
            Field::new("bar_type", DataType::Utf8, false),
            Field::new("interval", DataType::Utf8, false),
            Field::new("price_type", DataType::Utf8, false),
            ts_field("open_time", false),
        ];
        for name in ["open", "high", "low", "close"] {
            fields.push(number_field(name, layout, layout.scales.price, false));
        }
        fields.push(number_field("volume", layout, layout.scales.size, false));
        fields
    }
    fn value_columns(rows: &[Self], layout: &Layout) -> Result<Vec<ArrayRef>, ExportError> {
        let bar_types: Vec<String> = rows.iter().map(|b| b.bar_type.to_string()).collect();
        let open_time = rows
            .iter()
            .map(|b| timestamp(b.open_ns(), "open_time", &b.bar_type.instrument_id))
            .collect::<Result<Vec<i64>, _>>()?;
        let price = |column, get: fn(&Bar) -> Decimal| {
            number_column(rows, column, layout, layout.scales.price, get)
        };
        Ok(vec![
            string_column(bar_types.iter().map(|s| Some(s.as_str()))),
            string_column(rows.iter().map(|b| Some(b.bar_type.interval.as_str()))),
            string_column(rows.iter().map(|b| Some(b.bar_type.price.as_str()))),
            Arc::new(TimestampNanosecondArray::from(open_time).with_timezone("UTC")),
            price("open", |b| b.open)?,
            price("high", |b| b.high)?,
            price("low", |b| b.low)?,
            price("close", |b| b.close)?,
            number_column(rows, "volume", layout, layout.scales.size, |b| b.volume)?,
        ])
    }
}

macro_rules! export_price {
    ($record:ty, $column:literal) => {
        #[doc = concat!("`", $column, "` at the price scale.")]
        impl ExportRecord for $record {
            fn instrument(&self) -> &InstrumentId {
                &self.instrument_id
            }
            fn scales(&self) -> Scales {
                Scales {
                    price: decimals(&self.value),
                    size: 0,
                }
            }
            fn scales_from_metadata(metadata: &arrow_schema::Metadata) -> Option<Scales> {
                Some(Scales {
                    price: metadata.get("price_precision")?.parse().ok()?,
                    size: 0,
                })
            }
            fn value_fields(layout: &Layout) -> Vec<Field> {
                vec![number_field($column, layout, layout.scales.price, false)]
            }
            fn value_columns(rows: &[Self], layout: &Layout) -> Result<Vec<ArrayRef>, ExportError> {
                Ok(vec![number_column(
                    rows,
                    $column,
                    layout,
                    layout.scales.price,
                    |r| r.value,
                )?])
            }
        }
    };
}

export_price!(MarkPrice, "mark_price");
export_price!(IndexPrice, "index_price");

/// One dataset's rows of one UTC day (of `ts_init`), sorted by `ts_init`.
#[derive(Debug)]
pub struct DayChunk<T> {
    /// The start of the day, UNIX ns.
    pub day: u64,
    /// The dataset (instrument id, or bar type for bars).
    pub dataset: InstrumentId,
    /// The rows.
    pub rows: Vec<T>,
}

/// How much a scan read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanStats {
    /// Distinct catalog files read.
    pub files_read: usize,
    /// Row groups decoded (a file spanning several days is read once per day, its row groups
    /// pruned by statistics).
    pub row_groups_read: usize,
    /// Rows handed out.
    pub rows: u64,
}

struct ScanDataset {
    id: InstrumentId,
    /// Every file with its `ts_init` range, sorted by start.
    files: Vec<(DataFile, (u64, u64))>,
    /// Whether files overlap (a crash left them in a catalog opened read-only, or a file not
    /// named by us): each day's rows are then de-duplicated.
    overlaps: bool,
    /// Files ending before the current day are never needed again.
    first: usize,
}

/// A day-by-day scan of datasets of `T` between two `ts_init` bounds (inclusive), in bounded
/// memory: see the [module docs](self).
pub struct DayScan<'a, T> {
    catalog: &'a Catalog,
    datasets: Vec<ScanDataset>,
    start: u64,
    end: u64,
    /// The day being read and the dataset next in it.
    day: u64,
    last_day: u64,
    next: usize,
    read: std::collections::HashSet<String>,
    stats: ScanStats,
    _rows: std::marker::PhantomData<T>,
}

impl<'a, T: CatalogRecord> DayScan<'a, T> {
    /// Lists the datasets (by file name; a file not named by us is read once for its range).
    pub async fn open(
        catalog: &'a Catalog,
        datasets: &[InstrumentId],
        start: u64,
        end: u64,
    ) -> Result<DayScan<'a, T>, CatalogError> {
        let mut scan = Vec::new();
        let (mut first, mut last) = (u64::MAX, 0);
        for id in datasets {
            let listing = catalog.list_dataset(T::KIND, id).await?;
            let mut files: Vec<(DataFile, (u64, u64))> = Vec::new();
            for file in listing.files {
                if let Some(range) = file.range
                    && intersects(range, (start, end))
                {
                    files.push((file, range));
                }
            }
            let named_overlap = files.windows(2).any(|w| intersects(w[0].1, w[1].1));
            let foreign = !listing.foreign.is_empty();
            for file in listing.foreign {
                let (rows, _) =
                    parquet_io::read_rows::<T>(&catalog.storage, &file.meta, id, start, end)
                        .await?;
                let lo = rows.iter().map(T::ts_init).min();
                let hi = rows.iter().map(T::ts_init).max();
                if let (Some(lo), Some(hi)) = (lo, hi) {
                    files.push((file, (lo, hi)));
                }
            }
            files.sort_by_key(|(_, range)| *range);
            for (_, (lo, hi)) in &files {
                first = first.min(*lo);
                last = last.max(*hi);
            }
            if !files.is_empty() {
                scan.push(ScanDataset {
                    id: id.clone(),
                    files,
                    overlaps: named_overlap || foreign,
                    first: 0,
                });
            }
        }
        let (day, last_day) = if first <= last {
            (
                utc_day_start(first.max(start)),
                utc_day_start(last.min(end)),
            )
        } else {
            (1, 0) // nothing to read
        };
        Ok(DayScan {
            catalog,
            datasets: scan,
            start,
            end,
            day,
            last_day,
            next: 0,
            read: std::collections::HashSet::new(),
            stats: ScanStats::default(),
            _rows: std::marker::PhantomData,
        })
    }

    /// How many UTC days the scan covers (from the first to the last day with data).
    pub fn days(&self) -> u64 {
        if self.day > self.last_day {
            0
        } else {
            (self.last_day - self.day) / NANOS_PER_DAY + 1
        }
    }

    /// The decimals the rows of the scan have at most, from the files' schema metadata alone
    /// (see [`ExportRecord::scales_from_metadata`]); `None` when a file does not say (or is not
    /// named by us), and the rows must tell.
    pub async fn stored_scales(&self) -> Result<Option<Scales>, CatalogError>
    where
        T: ExportRecord,
    {
        let mut scales = Scales::default();
        for dataset in &self.datasets {
            if dataset.overlaps {
                return Ok(None);
            }
            for (file, _) in &dataset.files {
                let footer = parquet_io::read_footer(&self.catalog.storage, &file.meta).await?;
                let meta = footer.file_metadata();
                let shown = self.catalog.storage.display_path(&file.meta.location);
                let schema = parquet::arrow::parquet_to_arrow_schema(
                    meta.schema_descr(),
                    meta.key_value_metadata(),
                )
                .map_err(|e| CatalogError::corrupt(shown, format!("unreadable schema: {e}")))?;
                match T::scales_from_metadata(schema.metadata()) {
                    Some(s) => scales = scales.max(s),
                    None => return Ok(None),
                }
            }
        }
        Ok(Some(scales))
    }

    /// How much has been read so far.
    pub fn stats(&self) -> ScanStats {
        self.stats
    }

    /// The next dataset-day with rows, in day order, then dataset order; `None` at the end.
    /// A catalog file that is not usable data is an error naming it.
    pub async fn next_chunk(&mut self) -> Result<Option<DayChunk<T>>, CatalogError> {
        while self.day <= self.last_day {
            if self.next >= self.datasets.len() {
                self.next = 0;
                self.day = self.day.saturating_add(NANOS_PER_DAY);
                if self.day == u64::MAX {
                    break;
                }
                continue;
            }
            let index = self.next;
            self.next += 1;
            let from = self.day.max(self.start);
            let to = self.day.saturating_add(NANOS_PER_DAY - 1).min(self.end);
            let rows = self.read_day(index, from, to).await?;
            if !rows.is_empty() {
                self.stats.rows += rows.len() as u64;
                return Ok(Some(DayChunk {
                    day: self.day,
                    dataset: self.datasets[index].id.clone(),
                    rows,
                }));
            }
        }
        Ok(None)
    }

    async fn read_day(&mut self, index: usize, from: u64, to: u64) -> Result<Vec<T>, CatalogError> {
        let dataset = &mut self.datasets[index];
        while dataset
            .files
            .get(dataset.first)
            .is_some_and(|(_, (_, hi))| *hi < from && !dataset.overlaps)
        {
            dataset.first += 1;
        }
        let mut rows = Vec::new();
        for (file, range) in &dataset.files[dataset.first..] {
            if range.0 > to {
                break;
            }
            if !intersects(*range, (from, to)) {
                continue;
            }
            let (mut found, counts) = parquet_io::read_rows::<T>(
                &self.catalog.storage,
                &file.meta,
                &dataset.id,
                from,
                to,
            )
            .await?;
            self.stats.row_groups_read += counts.read;
            if self.read.insert(file.meta.location.to_string()) {
                self.stats.files_read += 1;
            }
            rows.append(&mut found);
        }
        if dataset.overlaps {
            sort_and_dedup(&mut rows);
        } else {
            rows.sort_by_key(T::ts_init);
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn decimals_scale_up_exactly_or_not_at_all() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(unscaled(d("0.0001"), 8), Some(10_000));
        assert_eq!(unscaled(d("-0.0000125"), 7), Some(-125));
        assert_eq!(unscaled(d("95441.1"), 1), Some(954_411));
        assert_eq!(
            unscaled(d("0.00000001"), 7),
            None,
            "more decimals than the scale"
        );
        assert_eq!(
            unscaled(d("79228162514264337593543950335"), 10),
            None,
            "beyond 38 digits"
        );
        assert_eq!(
            decimals(&d("0.00010000")),
            8,
            "trailing zeros count: the stored digits"
        );
    }

    #[test]
    fn unknown_venues_keep_their_parts() {
        ccxt_registry::install().expect("the registry installs");
        let id = |s: &str| InstrumentId::new_unchecked(s);
        assert_eq!(
            venue_and_symbol(&id("BTCUSDT-PERP.BINANCE")),
            ("binance".to_string(), "BTCUSDT".to_string())
        );
        assert_eq!(
            venue_and_symbol(&id("BTC-PERP.NOWHERE")),
            ("nowhere".to_string(), "BTC-PERP".to_string())
        );
    }

    #[test]
    fn float_and_decimal_layouts_differ_only_in_number_types() {
        let layout = |numbers| Layout {
            numbers,
            scales: Scales { price: 8, size: 0 },
            venue_column: true,
        };
        let dec = export_schema::<FundingRate>(&layout(Numbers::Decimal));
        let flt = export_schema::<FundingRate>(&layout(Numbers::Float));
        assert_eq!(
            dec.field_with_name("rate").unwrap().data_type(),
            &DataType::Decimal128(38, 8)
        );
        assert_eq!(
            flt.field_with_name("rate").unwrap().data_type(),
            &DataType::Float64
        );
        let names = |s: &SchemaRef| {
            s.fields()
                .iter()
                .map(|f| f.name().clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&dec), names(&flt));
        let partitioned = export_schema::<FundingRate>(&Layout {
            venue_column: false,
            ..layout(Numbers::Decimal)
        });
        assert!(partitioned.field_with_name("venue").is_err());
    }
}
