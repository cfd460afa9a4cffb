//! Price data in NautilusTrader's own built-in layouts (`crates/serialization/src/arrow/{bar,
//! mark_price,index_price}.rs`, identical in 1.221 and 1.231). NautilusTrader reads these
//! columns **by position**, so their order is part of the format:
//!
//! * `bar/<BAR_TYPE>/`: `open, high, low, close, volume` FixedSizeBinary(16), `ts_event`,
//!   `ts_init` uint64; schema metadata `bar_type`, `instrument_id`, `price_precision`,
//!   `size_precision` (one precision per file, from the rows' [`Precision`]).
//! * `mark_price_update/<instrument_id>/` and `index_price_update/<instrument_id>/`: `value`
//!   FixedSizeBinary(16), `ts_event`, `ts_init`; metadata `instrument_id`, `price_precision` =
//!   [`MARK_INDEX_PRECISION`] (more if a value of the file needs more decimals).
//!
//! FixedSizeBinary(16) is NautilusTrader's high-precision fixed point (the official Linux and
//! macOS wheels): the little-endian i128 `value × 10^16`, always a whole multiple of
//! `10^(16 − precision)`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::FixedSizeBinaryBuilder;
use arrow_array::{Array, ArrayRef, FixedSizeBinaryArray, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use ccxt_model::{
    Bar, BarInterval, BarType, IndexPrice, InstrumentId, MARK_INDEX_PRECISION, MarkPrice,
    Precision, RecordKind,
};
use rust_decimal::Decimal;

use crate::record::{
    CatalogRecord, Columns, MAX_CLOCK_SKEW_NS, Partition, RecordIdentity, ts_fields, u64_array,
};

/// NautilusTrader's `FIXED_PRECISION` in high-precision builds: raws are `value × 10^16`.
pub const FIXED_PRECISION: u8 = 16;

/// Width of a FixedSizeBinary price or quantity column.
const RAW_BYTES: i32 = 16;

fn pow10(exp: u32) -> i128 {
    10i128.pow(exp)
}

/// The NautilusTrader raw of `value` at `precision` decimals: `value × 10^16` as an i128.
/// Fails if `value` has more decimals than `precision` (the caller chose the precision, a
/// silent rounding would change data), if `precision` exceeds 16, or on overflow.
pub fn to_raw(value: Decimal, precision: u8) -> Result<i128, String> {
    if precision > FIXED_PRECISION {
        return Err(format!(
            "precision {precision} is above NautilusTrader's {FIXED_PRECISION}"
        ));
    }
    let value = value.normalize();
    if value.scale() > u32::from(precision) {
        return Err(format!(
            "{value} has more than {precision} decimals (the file's precision)"
        ));
    }
    value
        .mantissa()
        .checked_mul(pow10(u32::from(FIXED_PRECISION) - value.scale()))
        .ok_or_else(|| format!("{value} is too large for a 16-byte fixed-point value"))
}

/// The value of a NautilusTrader raw at `precision` decimals (the scale of the result), exact:
/// a raw that is not a multiple of `10^(16 − precision)` keeps its extra decimals.
pub fn from_raw(raw: i128, precision: u8) -> Result<Decimal, String> {
    if precision > FIXED_PRECISION {
        return Err(format!(
            "precision {precision} is above NautilusTrader's {FIXED_PRECISION}"
        ));
    }
    let unit = pow10(u32::from(FIXED_PRECISION - precision));
    let (mantissa, scale) = if raw % unit == 0 {
        (raw / unit, u32::from(precision))
    } else {
        (raw, u32::from(FIXED_PRECISION))
    };
    Decimal::try_from_i128_with_scale(mantissa, scale)
        .map_err(|_| format!("raw value {raw} is out of the decimal range"))
}

fn raw_field(name: &str) -> Field {
    Field::new(name, DataType::FixedSizeBinary(RAW_BYTES), false)
}

fn raw_array(values: &[Decimal], precision: u8, what: &str) -> Result<ArrayRef, ArrowError> {
    let mut b = FixedSizeBinaryBuilder::with_capacity(values.len(), RAW_BYTES);
    for v in values {
        let raw = to_raw(*v, precision)
            .map_err(|e| ArrowError::InvalidArgumentError(format!("{what}: {e}")))?;
        b.append_value(raw.to_le_bytes())?;
    }
    Ok(Arc::new(b.finish()))
}

impl Columns<'_> {
    /// A FixedSizeBinary(16) column of NautilusTrader raws, decoded at `precision`.
    fn raws(&self, name: &str, precision: u8) -> Result<Vec<Decimal>, String> {
        let col = self.get(name)?;
        if col.data_type() != &DataType::FixedSizeBinary(RAW_BYTES) {
            return Err(Self::wrong(name, col.data_type(), "fixed_size_binary[16]"));
        }
        if col.null_count() > 0 {
            return Err(format!("column '{name}' has nulls"));
        }
        let Some(array) = col.as_any().downcast_ref::<FixedSizeBinaryArray>() else {
            return Err(Self::wrong(name, col.data_type(), "fixed_size_binary[16]"));
        };
        array
            .iter()
            .map(|v| {
                let bytes: [u8; 16] = v
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| format!("column '{name}' holds a value that is not 16 bytes"))?;
                from_raw(i128::from_le_bytes(bytes), precision)
                    .map_err(|e| format!("column '{name}': {e}"))
            })
            .collect()
    }

    /// The columns must be exactly `names`, in this order: NautilusTrader reads built-in
    /// types by position.
    fn exactly(&self, names: &[&str]) -> Result<(), String> {
        let got: Vec<&str> = self
            .batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        if got != names {
            return Err(format!(
                "columns are [{}], NautilusTrader reads [{}] by position",
                got.join(", "),
                names.join(", ")
            ));
        }
        Ok(())
    }

    /// A schema metadata value that must be there.
    fn metadata(&self, key: &str) -> Result<&str, String> {
        self.batch
            .schema_ref()
            .metadata()
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("schema metadata '{key}' is missing"))
    }

    /// A precision from the schema metadata (`"0"` … `"16"`).
    fn precision(&self, key: &str) -> Result<u8, String> {
        let text = self.metadata(key)?;
        match text.parse::<u8>() {
            Ok(p) if p <= FIXED_PRECISION => Ok(p),
            _ => Err(format!(
                "schema metadata '{key}' is '{text}', not a precision from 0 to {FIXED_PRECISION}"
            )),
        }
    }

    /// The `instrument_id` metadata, when present, must name `expected`.
    fn check_instrument_metadata(&self, expected: &str, dir: &str) -> Result<(), String> {
        match self.batch.schema_ref().metadata().get("instrument_id") {
            Some(meta) if meta != expected => Err(format!(
                "schema metadata instrument_id '{meta}' in the directory of '{dir}'"
            )),
            _ => Ok(()),
        }
    }
}

const BAR_COLUMNS: [&str; 7] = [
    "open", "high", "low", "close", "volume", "ts_event", "ts_init",
];
const PRICE_COLUMNS: [&str; 3] = ["value", "ts_event", "ts_init"];

/// The partition of a bar dataset: day files up to 15-minute bars (at most 1440 rows), month
/// files from 30-minute to 12-hour bars (at most 1488), year files for daily, weekly and
/// monthly bars (at most 366). An unreadable dataset name gets day files.
pub fn bar_partition(interval: BarInterval) -> Partition {
    match interval {
        BarInterval::M1 | BarInterval::M3 | BarInterval::M5 | BarInterval::M15 => Partition::Day,
        BarInterval::M30
        | BarInterval::H1
        | BarInterval::H2
        | BarInterval::H4
        | BarInterval::H6
        | BarInterval::H8
        | BarInterval::H12 => Partition::Month,
        BarInterval::D1 | BarInterval::W1 | BarInterval::Month1 => Partition::Year,
    }
}

/// The dataset (identifier directory) of a bar type: its NautilusTrader string.
pub fn bar_dataset(bar_type: &BarType) -> InstrumentId {
    InstrumentId::new_unchecked(bar_type.to_string())
}

fn bar_metadata(id: &InstrumentId, precision: Option<Precision>) -> HashMap<String, String> {
    let mut metadata = HashMap::from([("bar_type".to_string(), id.to_string())]);
    if let Ok(bar_type) = id.as_str().parse::<BarType>() {
        metadata.insert(
            "instrument_id".to_string(),
            bar_type.instrument_id.to_string(),
        );
    }
    if let Some(p) = precision {
        metadata.insert("price_precision".to_string(), p.price.to_string());
        metadata.insert("size_precision".to_string(), p.size.to_string());
    }
    metadata
}

fn bar_fields() -> Vec<Field> {
    let [ts_event, ts_init] = ts_fields();
    vec![
        raw_field("open"),
        raw_field("high"),
        raw_field("low"),
        raw_field("close"),
        raw_field("volume"),
        ts_event,
        ts_init,
    ]
}

/// Bars: `data/bar/<BAR_TYPE>/`. One bar per bar type and close time
/// ([`RecordIdentity::Time`]): a re-fetched bar is not stored twice, the one stored first
/// stays. Files split where the precision changes, so each carries one precision.
impl CatalogRecord for Bar {
    const KIND: RecordKind = RecordKind::Bar;

    fn partition(dataset: &InstrumentId) -> Partition {
        dataset
            .as_str()
            .parse::<BarType>()
            .map_or(Partition::Day, |t| bar_partition(t.interval))
    }
    fn splits_file(prev: &Self, next: &Self) -> bool {
        prev.precision != next.precision
    }
    fn dataset(&self) -> InstrumentId {
        bar_dataset(&self.bar_type)
    }
    fn ts_event(&self) -> u64 {
        self.ts_event
    }
    fn ts_init(&self) -> u64 {
        self.ts_init
    }
    fn identity(&self) -> Option<RecordIdentity<'_>> {
        Some(RecordIdentity::Time(self.ts_event))
    }
    fn latest_delivery_ns(&self) -> u64 {
        self.ts_init
    }

    fn schema(id: &InstrumentId) -> SchemaRef {
        Arc::new(Schema::new_with_metadata(
            bar_fields(),
            bar_metadata(id, None),
        ))
    }

    fn to_batch(rows: &[Self], id: &InstrumentId) -> Result<RecordBatch, ArrowError> {
        let precision = rows
            .first()
            .map_or(Precision { price: 0, size: 0 }, |r| r.precision);
        if let Some(other) = rows.iter().find(|r| r.precision != precision) {
            return Err(ArrowError::InvalidArgumentError(format!(
                "bars of precision {:?} and {:?} in one file",
                precision, other.precision
            )));
        }
        if let Some(other) = rows.iter().find(|r| r.dataset() != *id) {
            return Err(ArrowError::InvalidArgumentError(format!(
                "a {} bar in the directory of {id}",
                other.bar_type
            )));
        }
        let schema = Arc::new(Schema::new_with_metadata(
            bar_fields(),
            bar_metadata(id, Some(precision)),
        ));
        let column = |f: fn(&Bar) -> Decimal| rows.iter().map(f).collect::<Vec<_>>();
        let p = precision.price;
        RecordBatch::try_new(
            schema,
            vec![
                raw_array(&column(|r| r.open), p, "open")?,
                raw_array(&column(|r| r.high), p, "high")?,
                raw_array(&column(|r| r.low), p, "low")?,
                raw_array(&column(|r| r.close), p, "close")?,
                raw_array(&column(|r| r.volume), precision.size, "volume")?,
                u64_array(rows.iter().map(|r| r.ts_event)),
                u64_array(rows.iter().map(|r| r.ts_init)),
            ],
        )
    }

    fn from_batch(batch: &RecordBatch, id: &InstrumentId) -> Result<Vec<Self>, String> {
        let c = Columns { batch };
        let bar_type: BarType = id
            .as_str()
            .parse()
            .map_err(|e| format!("its directory is not a bar type: {e}"))?;
        let meta = c.metadata("bar_type")?;
        if meta != id.as_str() {
            return Err(format!(
                "schema metadata bar_type '{meta}' in the directory of '{id}'"
            ));
        }
        c.check_instrument_metadata(bar_type.instrument_id.as_str(), id.as_str())?;
        let precision = Precision {
            price: c.precision("price_precision")?,
            size: c.precision("size_precision")?,
        };
        c.exactly(&BAR_COLUMNS)?;
        let open = c.raws("open", precision.price)?;
        let high = c.raws("high", precision.price)?;
        let low = c.raws("low", precision.price)?;
        let close = c.raws("close", precision.price)?;
        let volume = c.raws("volume", precision.size)?;
        let ts_event = c.ts("ts_event")?;
        let ts_init = c.ts("ts_init")?;
        Ok((0..batch.num_rows())
            .map(|i| Bar {
                bar_type: bar_type.clone(),
                open: open[i],
                high: high[i],
                low: low[i],
                close: close[i],
                volume: volume[i],
                precision,
                ts_event: ts_event[i],
                ts_init: ts_init[i],
            })
            .collect())
    }
}

/// The precision a file of mark or index prices is written with: [`MARK_INDEX_PRECISION`], or
/// more if one of its values has more decimals (at most 16, NautilusTrader's limit).
pub fn price_file_precision<'a>(values: impl Iterator<Item = &'a Decimal>) -> u8 {
    values
        .map(|v| u8::try_from(v.normalize().scale()).unwrap_or(u8::MAX))
        .fold(MARK_INDEX_PRECISION, u8::max)
}

fn price_schema(id: &InstrumentId, precision: Option<u8>) -> SchemaRef {
    let [ts_event, ts_init] = ts_fields();
    let mut metadata = HashMap::from([("instrument_id".to_string(), id.to_string())]);
    if let Some(p) = precision {
        metadata.insert("price_precision".to_string(), p.to_string());
    }
    Arc::new(Schema::new_with_metadata(
        vec![raw_field("value"), ts_event, ts_init],
        metadata,
    ))
}

fn price_batch(
    values: &[Decimal],
    ts: impl Iterator<Item = (u64, u64)> + Clone,
    id: &InstrumentId,
) -> Result<RecordBatch, ArrowError> {
    let precision = price_file_precision(values.iter());
    RecordBatch::try_new(
        price_schema(id, Some(precision)),
        vec![
            raw_array(values, precision, "value")?,
            u64_array(ts.clone().map(|t| t.0)),
            u64_array(ts.map(|t| t.1)),
        ],
    )
}

/// Decodes a mark or index price batch: `(value, ts_event, ts_init)` per row.
fn price_rows(batch: &RecordBatch, id: &InstrumentId) -> Result<Vec<(Decimal, u64, u64)>, String> {
    let c = Columns { batch };
    let meta = c.metadata("instrument_id")?;
    if meta != id.as_str() {
        return Err(format!(
            "schema metadata instrument_id '{meta}' in the directory of '{id}'"
        ));
    }
    let precision = c.precision("price_precision")?;
    c.exactly(&PRICE_COLUMNS)?;
    let value = c.raws("value", precision)?;
    let ts_event = c.ts("ts_event")?;
    let ts_init = c.ts("ts_init")?;
    Ok((0..batch.num_rows())
        .map(|i| (value[i], ts_event[i], ts_init[i]))
        .collect())
}

/// Mark prices: `data/mark_price_update/<instrument_id>/`, NautilusTrader's MarkPriceUpdate.
impl CatalogRecord for MarkPrice {
    const KIND: RecordKind = RecordKind::MarkPrice;

    fn dataset(&self) -> InstrumentId {
        self.instrument_id.clone()
    }
    fn ts_event(&self) -> u64 {
        self.ts_event
    }
    fn ts_init(&self) -> u64 {
        self.ts_init
    }
    /// One price per venue time: the OI and the funding snapshot of one venue answer (or two
    /// requests within the venue's update interval) quote the same price at the same time, and
    /// it is stored once.
    fn identity(&self) -> Option<RecordIdentity<'_>> {
        Some(RecordIdentity::Time(self.ts_event))
    }
    fn earliest_delivery_ns(&self) -> u64 {
        self.ts_event.saturating_sub(MAX_CLOCK_SKEW_NS)
    }
    fn latest_delivery_ns(&self) -> u64 {
        self.ts_init
    }

    fn schema(id: &InstrumentId) -> SchemaRef {
        price_schema(id, None)
    }

    fn to_batch(rows: &[Self], id: &InstrumentId) -> Result<RecordBatch, ArrowError> {
        let values: Vec<Decimal> = rows.iter().map(|r| r.value).collect();
        price_batch(&values, rows.iter().map(|r| (r.ts_event, r.ts_init)), id)
    }

    fn from_batch(batch: &RecordBatch, id: &InstrumentId) -> Result<Vec<Self>, String> {
        Ok(price_rows(batch, id)?
            .into_iter()
            .map(|(value, ts_event, ts_init)| MarkPrice {
                instrument_id: id.clone(),
                value,
                ts_event,
                ts_init,
            })
            .collect())
    }
}

/// Index prices: `data/index_price_update/<instrument_id>/`, NautilusTrader's
/// IndexPriceUpdate (which its catalog cannot read back: `python/ccxt_pipeline_nautilus.py`
/// makes it readable).
impl CatalogRecord for IndexPrice {
    const KIND: RecordKind = RecordKind::IndexPrice;

    fn dataset(&self) -> InstrumentId {
        self.instrument_id.clone()
    }
    fn ts_event(&self) -> u64 {
        self.ts_event
    }
    fn ts_init(&self) -> u64 {
        self.ts_init
    }
    /// One price per venue time: the OI and the funding snapshot of one venue answer (or two
    /// requests within the venue's update interval) quote the same price at the same time, and
    /// it is stored once.
    fn identity(&self) -> Option<RecordIdentity<'_>> {
        Some(RecordIdentity::Time(self.ts_event))
    }
    fn earliest_delivery_ns(&self) -> u64 {
        self.ts_event.saturating_sub(MAX_CLOCK_SKEW_NS)
    }
    fn latest_delivery_ns(&self) -> u64 {
        self.ts_init
    }

    fn schema(id: &InstrumentId) -> SchemaRef {
        price_schema(id, None)
    }

    fn to_batch(rows: &[Self], id: &InstrumentId) -> Result<RecordBatch, ArrowError> {
        let values: Vec<Decimal> = rows.iter().map(|r| r.value).collect();
        price_batch(&values, rows.iter().map(|r| (r.ts_event, r.ts_init)), id)
    }

    fn from_batch(batch: &RecordBatch, id: &InstrumentId) -> Result<Vec<Self>, String> {
        Ok(price_rows(batch, id)?
            .into_iter()
            .map(|(value, ts_event, ts_init)| IndexPrice {
                instrument_id: id.clone(),
                value,
                ts_event,
                ts_init,
            })
            .collect())
    }
}

/// A run of consecutive bars of the grid that are not stored: `count` bars, the first opening
/// at `open_ns`, the last closing at `close_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingBars {
    /// Open of the first missing bar, UNIX ns.
    pub open_ns: u64,
    /// Close of the last missing bar, UNIX ns.
    pub close_ns: u64,
    /// How many bars are missing.
    pub count: u64,
}

/// How many bars of `interval` close in `[first_close, last_close]` (both on the grid).
pub fn grid_bars(interval: BarInterval, first_close: u64, last_close: u64) -> u64 {
    if last_close < first_close {
        return 0;
    }
    if let Some(len) = interval.fixed_ns() {
        return (last_close - first_close) / len + 1;
    }
    let mut count = 0;
    let mut close = first_close;
    while close <= last_close {
        count += 1;
        let next = interval.close_of(close);
        if next <= close {
            break;
        }
        close = next;
    }
    count
}

/// The runs of missing bars of `interval` among the bars that lie wholly in `[start, end]`
/// (opening at or after `start`, closing at or before `end`), given the closes (`ts_event`)
/// of the stored bars, sorted ascending. Stored closes off the grid are ignored.
pub fn missing_bars(
    interval: BarInterval,
    stored_closes: &[u64],
    start: u64,
    end: u64,
) -> Vec<MissingBars> {
    let mut out: Vec<MissingBars> = Vec::new();
    let mut open = interval.floor(start);
    if open < start {
        open = interval.close_of(open);
    }
    let mut stored = stored_closes.iter().copied().peekable();
    loop {
        let close = interval.close_of(open);
        if close > end || close <= open {
            break;
        }
        while stored.next_if(|c| *c < close).is_some() {}
        if stored.next_if_eq(&close).is_none() {
            match out.last_mut() {
                Some(run) if run.close_ns == open => {
                    run.close_ns = close;
                    run.count += 1;
                }
                _ => out.push(MissingBars {
                    open_ns: open,
                    close_ns: close,
                    count: 1,
                }),
            }
        }
        open = close;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn raws_are_value_times_ten_to_the_sixteen() {
        // The reference example: 37000.1 at precision 1 is 370001·10^15.
        assert_eq!(to_raw(d("37000.1"), 1), Ok(370_001 * 10i128.pow(15)));
        assert_eq!(to_raw(d("37000.10"), 1), Ok(370_001 * 10i128.pow(15)));
        assert_eq!(to_raw(d("-0.00042931"), 8), Ok(-42_931 * 10i128.pow(8)));
        assert_eq!(to_raw(d("0"), 0), Ok(0));
        assert!(
            to_raw(d("1.05"), 1)
                .unwrap_err()
                .contains("more than 1 decimals")
        );
        assert!(to_raw(d("1"), 17).is_err());
        // PRICE_MAX-sized values fit.
        assert!(to_raw(d("17014118346046.123"), 3).is_ok());
        for (text, p) in [("100.5", 1), ("0.00000001", 8), ("65000", 0), ("-3.25", 4)] {
            let raw = to_raw(d(text), p).unwrap();
            let back = from_raw(raw, p).unwrap();
            assert_eq!(back, d(text));
            assert_eq!(back.scale(), u32::from(p), "{text}");
        }
        // A raw that is not a multiple of 10^(16-p) keeps its decimals.
        assert_eq!(from_raw(123, 2).unwrap(), d("0.0000000000000123"));
    }

    #[test]
    fn bar_files_are_partitioned_by_interval() {
        assert_eq!(bar_partition(BarInterval::M15), Partition::Day);
        assert_eq!(bar_partition(BarInterval::M30), Partition::Month);
        assert_eq!(bar_partition(BarInterval::H12), Partition::Month);
        assert_eq!(bar_partition(BarInterval::D1), Partition::Year);
        assert_eq!(bar_partition(BarInterval::Month1), Partition::Year);
        let id = InstrumentId::new_unchecked("BTCUSDT-PERP.BINANCE-1-WEEK-LAST-EXTERNAL");
        assert_eq!(Bar::partition(&id), Partition::Year);
    }

    #[test]
    fn missing_bars_are_the_grid_minus_the_stored_closes() {
        const H: u64 = 3_600_000_000_000;
        let t0 = 1_735_689_600_000_000_000; // 2025-01-01T00:00Z
        let closes: Vec<u64> = [1, 2, 5, 6, 9].iter().map(|i| t0 + i * H).collect();
        // Bars of 00:00..10:00: closes 1..=10; missing 3,4 (one run), 7,8 and 10.
        let runs = missing_bars(BarInterval::H1, &closes, t0, t0 + 10 * H);
        assert_eq!(
            runs,
            vec![
                MissingBars {
                    open_ns: t0 + 2 * H,
                    close_ns: t0 + 4 * H,
                    count: 2
                },
                MissingBars {
                    open_ns: t0 + 6 * H,
                    close_ns: t0 + 8 * H,
                    count: 2
                },
                MissingBars {
                    open_ns: t0 + 9 * H,
                    close_ns: t0 + 10 * H,
                    count: 1
                },
            ]
        );
        // A start inside a bar skips that bar; an end inside one leaves it out.
        assert_eq!(
            missing_bars(BarInterval::H1, &closes, t0 + 1, t0 + 3 * H + 1),
            vec![MissingBars {
                open_ns: t0 + 2 * H,
                close_ns: t0 + 3 * H,
                count: 1
            }]
        );
        assert!(missing_bars(BarInterval::H1, &closes, t0, t0 + 2 * H).is_empty());
        assert_eq!(grid_bars(BarInterval::H1, t0 + H, t0 + 10 * H), 10);
        assert_eq!(grid_bars(BarInterval::H1, t0 + H, t0 + H), 1);
        // Calendar months: Feb 2025 missing between Jan and Mar.
        let feb1 = t0 + 31 * 24 * H;
        let mar1 = feb1 + 28 * 24 * H;
        let apr1 = mar1 + 31 * 24 * H;
        assert_eq!(
            missing_bars(BarInterval::Month1, &[feb1, apr1], t0, apr1),
            vec![MissingBars {
                open_ns: feb1,
                close_ns: mar1,
                count: 1
            }]
        );
        assert_eq!(grid_bars(BarInterval::Month1, feb1, apr1), 3);
    }

    #[test]
    fn mark_files_take_eight_decimals_or_more_when_needed() {
        assert_eq!(price_file_precision([d("65000.1")].iter()), 8);
        assert_eq!(
            price_file_precision([d("1.5"), d("0.0000000012")].iter()),
            10
        );
        assert_eq!(price_file_precision([d("2.10000000000")].iter()), 8);
    }
}
