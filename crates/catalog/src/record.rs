//! How each record kind is laid out in Parquet, column by column.
//!
//! * `funding_rate_update`: NautilusTrader's built-in FundingRateUpdate layout (>= 1.226):
//!   `rate` binary (the decimal as a JSON string, `"0.0001"` with the quotes), `interval`
//!   uint16 nullable (minutes), `next_funding_ns` uint64 nullable, `ts_event`, `ts_init` uint64;
//!   the instrument id is the schema metadata key `instrument_id`, not a column.
//! * `custom_open_interest` and `custom_liquidation`: exactly the fields of the
//!   `@customdataclass` classes `OpenInterest` and `Liquidation` in
//!   `python/ccxt_pipeline_nautilus.py`, plus `ts_event`/`ts_init` uint64. NautilusTrader
//!   matches these columns by name and rejects any extra one, so the two must change together.

use std::collections::HashMap;
use std::hash::Hash;
use std::str::FromStr;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, Float64Builder, StringBuilder, UInt16Builder, UInt64Builder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, UInt16Type, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use ccxt_model::{
    FundingRate, Gap, InstrumentId, Liquidation, LiquidationSource, OpenInterest, PositionSide,
    RecordKind, Venue,
};
use rust_decimal::Decimal;
use siphasher::sip128::{Hasher128, SipHasher13};

/// How much time one file of a dataset covers at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    /// One UTC day: dense data (open interest, liquidations).
    Day,
    /// One UTC month: sparse data (funding is charged 3 to 24 times a day; 30-minute to
    /// 12-hour bars).
    Month,
    /// One UTC year: daily, weekly and monthly bars (one row per day at most).
    Year,
}

impl Partition {
    /// The start (UNIX ns) of the partition that contains `ns`.
    pub fn start_of(self, ns: u64) -> u64 {
        use chrono::Datelike;
        let day = ccxt_model::time::utc_day_start(ns);
        let secs = (day / 1_000_000_000) as i64;
        let Some(dt) = chrono::DateTime::from_timestamp(secs, 0) else {
            return day;
        };
        let days_back = match self {
            Partition::Day => 0,
            Partition::Month => dt.day0(),
            Partition::Year => dt.ordinal0(),
        };
        day - u64::from(days_back) * ccxt_model::time::NANOS_PER_DAY
    }

    /// The start (UNIX ns) of the partition after the one that contains `ns` (saturating at
    /// the end of time).
    pub fn next_start(self, ns: u64) -> u64 {
        let start = self.start_of(ns);
        let day = ccxt_model::time::NANOS_PER_DAY;
        // A month is at most 31 days, a year at most 366: this far on lies in the next one.
        let ahead = match self {
            Partition::Day => return start.saturating_add(day),
            Partition::Month => 32 * day,
            Partition::Year => 367 * day,
        };
        match start.checked_add(ahead) {
            Some(t) => self.start_of(t),
            None => u64::MAX,
        }
    }

    /// `day`, `month` or `year`.
    pub fn as_str(self) -> &'static str {
        match self {
            Partition::Day => "day",
            Partition::Month => "month",
            Partition::Year => "year",
        }
    }
}

/// What identifies a record at its venue, for records that can be delivered twice with
/// different receive times (see [`CatalogRecord::identity`]). Compared within one dataset
/// (one instrument), so the instrument is not part of it. It borrows from the record: a write
/// takes the identity of every liquidation it stores, and allocating a copy of the venue's
/// strings for each was a few percent of a stream's CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordIdentity<'a> {
    /// The venue's own trade id (Hyperliquid `tid`).
    Trade(&'a str),
    /// No id on the wire (Binance `forceOrder`, Bybit `allLiquidation`): the venue's fields of
    /// the event, which the venue sends identically on every delivery.
    Event {
        /// The position liquidated.
        side: PositionSide,
        /// The venue's raw order side.
        order_side: &'a str,
        /// Quantity, as the bits of the `f64`.
        quantity: u64,
        /// Price, as the bits of the `f64`.
        price: u64,
        /// Venue time, UNIX ns.
        ts_event: u64,
    },
    /// Records of which a dataset holds one per venue time: bars, identified by their bar type
    /// (the dataset) and `ts_event` (the close), and mark and index prices, one per venue
    /// quote time. A re-fetched bar is the same bar.
    Time(u64),
}

impl RecordIdentity<'_> {
    /// The identity's 128-bit SipHash-1-3 fingerprint: what the catalog keeps of it. Two
    /// distinct identities of one dataset would have to share all 128 bits to be taken for
    /// one, a chance below 10^-20 even among a billion identities.
    pub fn fingerprint(&self) -> u128 {
        let mut hasher = SipHasher13::new();
        self.hash(&mut hasher);
        hasher.finish128().as_u128()
    }
}

/// How far a venue's clock may run ahead of ours: an earlier delivery of an event with venue
/// time `t` was received no earlier than `t` minus this (5 minutes).
pub const MAX_CLOCK_SKEW_NS: u64 = 300_000_000_000;

/// A record the catalog can store.
pub trait CatalogRecord: Clone + PartialEq + Send + Sync + 'static {
    /// Which kind it is (selects the class directory).
    const KIND: RecordKind;
    /// How much time one file covers at most, for kinds where it is the same for every
    /// dataset; [`CatalogRecord::partition`] is what the catalog uses.
    const PARTITION: Partition = Partition::Day;
    /// How much time one file of `dataset` covers at most (default [`Self::PARTITION`]; bars
    /// choose by their interval).
    fn partition(dataset: &InstrumentId) -> Partition {
        let _ = dataset;
        Self::PARTITION
    }
    /// Whether `next` must start a new file although it lies in the same partition as
    /// `prev` (rows are sorted): bars of another precision, since a file carries one precision
    /// in its metadata. Default: never.
    fn splits_file(prev: &Self, next: &Self) -> bool {
        let _ = (prev, next);
        false
    }
    /// The identifier directory it belongs in: the instrument id, or for gaps the venue
    /// (`BINANCE`).
    fn dataset(&self) -> InstrumentId;
    /// Venue time, UNIX ns.
    fn ts_event(&self) -> u64;
    /// Receive time, UNIX ns: files are named, sorted and queried by it.
    fn ts_init(&self) -> u64;
    /// The record's identity at the venue, when one event can be delivered twice with
    /// different receive times (a liquidation re-read after a restart). Rows of one dataset
    /// with the same identity are one record: the catalog keeps the one stored first and drops
    /// the others, across files and days. `None` (the default): a record is identified by all
    /// its fields, so only identical rows are duplicates.
    fn identity(&self) -> Option<RecordIdentity<'_>> {
        None
    }
    /// The earliest `ts_init` an earlier delivery of this record can have been stored with:
    /// where a write looks for it. Only used for records with an [`identity`](Self::identity).
    fn earliest_delivery_ns(&self) -> u64 {
        self.ts_init()
    }
    /// The latest `ts_init` an earlier delivery of this record can have been stored with
    /// (default: any time). Only used for records with an [`identity`](Self::identity); bars,
    /// identified by their `ts_init`, say `ts_init`, so no file outside a write's own interval
    /// is searched for them.
    fn latest_delivery_ns(&self) -> u64 {
        u64::MAX
    }
    /// The Arrow schema of the files of `instrument_id` (for kinds whose metadata depends on
    /// the rows, e.g. precision, without that metadata: [`CatalogRecord::to_batch`] adds it).
    fn schema(instrument_id: &InstrumentId) -> SchemaRef;
    /// Encodes rows of one instrument.
    fn to_batch(rows: &[Self], instrument_id: &InstrumentId) -> Result<RecordBatch, ArrowError>;
    /// Decodes a batch read from a file of `instrument_id`'s directory.
    fn from_batch(batch: &RecordBatch, instrument_id: &InstrumentId) -> Result<Vec<Self>, String>;
}

pub(crate) fn ts_fields() -> [Field; 2] {
    [
        Field::new("ts_event", DataType::UInt64, false),
        Field::new("ts_init", DataType::UInt64, false),
    ]
}

pub(crate) fn u64_array(values: impl Iterator<Item = u64>) -> ArrayRef {
    let mut b = UInt64Builder::new();
    b.extend(values.map(Some));
    Arc::new(b.finish())
}

fn string_array<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    let mut b = StringBuilder::new();
    b.extend(values);
    Arc::new(b.finish())
}

fn f64_array(values: impl Iterator<Item = Option<f64>>) -> ArrayRef {
    let mut b = Float64Builder::new();
    b.extend(values);
    Arc::new(b.finish())
}

/// Typed access to a batch's columns by name, with errors that say which column is wrong.
pub(crate) struct Columns<'a> {
    pub(crate) batch: &'a RecordBatch,
}

impl<'a> Columns<'a> {
    pub(crate) fn get(&self, name: &str) -> Result<&'a ArrayRef, String> {
        let idx = self
            .batch
            .schema_ref()
            .index_of(name)
            .map_err(|_| format!("missing column '{name}'"))?;
        Ok(self.batch.column(idx))
    }

    pub(crate) fn wrong(name: &str, got: &DataType, want: &str) -> String {
        format!("column '{name}' has type {got}, expected {want}")
    }

    /// A timestamp column: uint64, or int64 as NautilusTrader's own custom-data writer uses.
    pub(crate) fn ts(&self, name: &str) -> Result<Vec<u64>, String> {
        let col = self.get(name)?;
        if col.null_count() > 0 {
            return Err(format!("column '{name}' has nulls"));
        }
        match col.data_type() {
            DataType::UInt64 => Ok(col.as_primitive::<UInt64Type>().values().to_vec()),
            DataType::Int64 => col
                .as_primitive::<Int64Type>()
                .values()
                .iter()
                .map(|v| {
                    u64::try_from(*v).map_err(|_| format!("column '{name}' has a negative time"))
                })
                .collect(),
            other => Err(Self::wrong(name, other, "uint64")),
        }
    }

    fn opt_u64(&self, name: &str) -> Result<Vec<Option<u64>>, String> {
        let col = self.get(name)?;
        match col.data_type() {
            DataType::UInt64 => Ok(col.as_primitive::<UInt64Type>().iter().collect()),
            other => Err(Self::wrong(name, other, "uint64")),
        }
    }

    fn opt_u16(&self, name: &str) -> Result<Vec<Option<u16>>, String> {
        let col = self.get(name)?;
        match col.data_type() {
            DataType::UInt16 => Ok(col.as_primitive::<UInt16Type>().iter().collect()),
            other => Err(Self::wrong(name, other, "uint16")),
        }
    }

    fn opt_f64(&self, name: &str) -> Result<Vec<Option<f64>>, String> {
        let col = self.get(name)?;
        match col.data_type() {
            DataType::Float64 => Ok(col.as_primitive::<Float64Type>().iter().collect()),
            other => Err(Self::wrong(name, other, "float64")),
        }
    }

    fn f64(&self, name: &str) -> Result<Vec<f64>, String> {
        self.opt_f64(name)?
            .into_iter()
            .map(|v| v.ok_or_else(|| format!("column '{name}' has nulls")))
            .collect()
    }

    fn opt_str(&self, name: &str) -> Result<Vec<Option<&'a str>>, String> {
        let col = self.get(name)?;
        match col.data_type() {
            DataType::Utf8 => Ok(col.as_string::<i32>().iter().collect()),
            DataType::LargeUtf8 => Ok(col.as_string::<i64>().iter().collect()),
            other => Err(Self::wrong(name, other, "utf8")),
        }
    }

    fn str(&self, name: &str) -> Result<Vec<&'a str>, String> {
        self.opt_str(name)?
            .into_iter()
            .map(|v| v.ok_or_else(|| format!("column '{name}' has nulls")))
            .collect()
    }

    fn binary(&self, name: &str) -> Result<Vec<&'a [u8]>, String> {
        let col = self.get(name)?;
        let values: Vec<Option<&[u8]>> = match col.data_type() {
            DataType::Binary => col.as_binary::<i32>().iter().collect(),
            DataType::LargeBinary => col.as_binary::<i64>().iter().collect(),
            other => return Err(Self::wrong(name, other, "binary")),
        };
        values
            .into_iter()
            .map(|v| v.ok_or_else(|| format!("column '{name}' has nulls")))
            .collect()
    }

    /// The instrument id column must name the directory's instrument on every row.
    fn check_instrument(&self, expected: &InstrumentId) -> Result<(), String> {
        for id in self.str("instrument_id")? {
            if id != expected.as_str() {
                return Err(format!(
                    "row for instrument '{id}' in the directory of '{expected}'"
                ));
            }
        }
        Ok(())
    }
}

impl CatalogRecord for OpenInterest {
    const KIND: RecordKind = RecordKind::OpenInterest;

    fn dataset(&self) -> InstrumentId {
        self.instrument_id.clone()
    }
    fn ts_event(&self) -> u64 {
        self.ts_event
    }
    fn ts_init(&self) -> u64 {
        self.ts_init
    }

    fn schema(_: &InstrumentId) -> SchemaRef {
        let [ts_event, ts_init] = ts_fields();
        Arc::new(Schema::new(vec![
            Field::new("instrument_id", DataType::Utf8, false),
            Field::new("open_interest", DataType::Float64, false),
            Field::new("open_interest_value", DataType::Float64, true),
            ts_event,
            ts_init,
        ]))
    }

    fn to_batch(rows: &[Self], id: &InstrumentId) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(
            Self::schema(id),
            vec![
                string_array(rows.iter().map(|_| Some(id.as_str()))),
                f64_array(rows.iter().map(|r| Some(r.open_interest))),
                f64_array(rows.iter().map(|r| r.open_interest_value)),
                u64_array(rows.iter().map(|r| r.ts_event)),
                u64_array(rows.iter().map(|r| r.ts_init)),
            ],
        )
    }

    fn from_batch(batch: &RecordBatch, id: &InstrumentId) -> Result<Vec<Self>, String> {
        let c = Columns { batch };
        c.check_instrument(id)?;
        let oi = c.f64("open_interest")?;
        let value = c.opt_f64("open_interest_value")?;
        let ts_event = c.ts("ts_event")?;
        let ts_init = c.ts("ts_init")?;
        Ok((0..batch.num_rows())
            .map(|i| OpenInterest {
                instrument_id: id.clone(),
                open_interest: oi[i],
                open_interest_value: value[i],
                ts_event: ts_event[i],
                ts_init: ts_init[i],
            })
            .collect())
    }
}

/// Encodes a rate the way NautilusTrader's FundingRateUpdate serializer does (msgspec JSON of
/// the Decimal's string form): the bytes `"0.0001"`, quotes included.
pub fn encode_rate(rate: &Decimal) -> Vec<u8> {
    format!("\"{rate}\"").into_bytes()
}

/// Reads a rate written by [`encode_rate`] (or a bare decimal string).
pub fn decode_rate(bytes: &[u8]) -> Result<Decimal, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "rate is not UTF-8".to_string())?;
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    Decimal::from_str(inner)
        .or_else(|_| Decimal::from_scientific(inner))
        .map_err(|e| format!("rate {text:?} is not a decimal: {e}"))
}

impl CatalogRecord for FundingRate {
    const KIND: RecordKind = RecordKind::FundingRate;
    const PARTITION: Partition = Partition::Month;

    fn dataset(&self) -> InstrumentId {
        self.instrument_id.clone()
    }
    fn ts_event(&self) -> u64 {
        self.ts_event
    }
    fn ts_init(&self) -> u64 {
        self.ts_init
    }

    fn schema(id: &InstrumentId) -> SchemaRef {
        let [ts_event, ts_init] = ts_fields();
        let metadata = HashMap::from([("instrument_id".to_string(), id.to_string())]);
        Arc::new(Schema::new_with_metadata(
            vec![
                Field::new("rate", DataType::Binary, false),
                Field::new("interval", DataType::UInt16, true),
                Field::new("next_funding_ns", DataType::UInt64, true),
                ts_event,
                ts_init,
            ],
            metadata,
        ))
    }

    fn to_batch(rows: &[Self], id: &InstrumentId) -> Result<RecordBatch, ArrowError> {
        let mut rate = BinaryBuilder::new();
        let mut interval = UInt16Builder::new();
        let mut next = UInt64Builder::new();
        for r in rows {
            rate.append_value(encode_rate(&r.rate));
            interval.append_option(r.interval_minutes);
            next.append_option(r.next_funding_ns);
        }
        RecordBatch::try_new(
            Self::schema(id),
            vec![
                Arc::new(rate.finish()),
                Arc::new(interval.finish()),
                Arc::new(next.finish()),
                u64_array(rows.iter().map(|r| r.ts_event)),
                u64_array(rows.iter().map(|r| r.ts_init)),
            ],
        )
    }

    fn from_batch(batch: &RecordBatch, id: &InstrumentId) -> Result<Vec<Self>, String> {
        let c = Columns { batch };
        if let Some(meta) = batch.schema_ref().metadata().get("instrument_id")
            && meta != id.as_str()
        {
            return Err(format!(
                "metadata instrument_id '{meta}' in the directory of '{id}'"
            ));
        }
        let rates = c.binary("rate")?;
        // `interval` arrived in NautilusTrader 1.226; older files lack it.
        let interval = match c.get("interval") {
            Ok(_) => c.opt_u16("interval")?,
            Err(_) => vec![None; batch.num_rows()],
        };
        let next = c.opt_u64("next_funding_ns")?;
        let ts_event = c.ts("ts_event")?;
        let ts_init = c.ts("ts_init")?;
        (0..batch.num_rows())
            .map(|i| {
                Ok(FundingRate {
                    instrument_id: id.clone(),
                    rate: decode_rate(rates[i])?,
                    interval_minutes: interval[i],
                    next_funding_ns: next[i],
                    ts_event: ts_event[i],
                    ts_init: ts_init[i],
                })
            })
            .collect()
    }
}

/// A liquidation is identified by the venue's trade id where the venue gives one
/// (Hyperliquid), else by the event's venue fields: side, order side, quantity, price and venue
/// time. Never by `ts_init`, `source` or `method`, which are ours.
impl CatalogRecord for Liquidation {
    const KIND: RecordKind = RecordKind::Liquidation;

    fn dataset(&self) -> InstrumentId {
        self.instrument_id.clone()
    }
    fn ts_event(&self) -> u64 {
        self.ts_event
    }
    fn ts_init(&self) -> u64 {
        self.ts_init
    }
    fn identity(&self) -> Option<RecordIdentity<'_>> {
        Some(match &self.trade_id {
            Some(tid) => RecordIdentity::Trade(tid),
            None => RecordIdentity::Event {
                side: self.side,
                order_side: &self.order_side,
                quantity: self.quantity.to_bits(),
                price: self.price.to_bits(),
                ts_event: self.ts_event,
            },
        })
    }
    fn earliest_delivery_ns(&self) -> u64 {
        self.ts_event
            .min(self.ts_init)
            .saturating_sub(MAX_CLOCK_SKEW_NS)
    }

    fn schema(_: &InstrumentId) -> SchemaRef {
        let [ts_event, ts_init] = ts_fields();
        Arc::new(Schema::new(vec![
            Field::new("instrument_id", DataType::Utf8, false),
            Field::new("side", DataType::Utf8, false),
            Field::new("order_side", DataType::Utf8, false),
            Field::new("quantity", DataType::Float64, false),
            Field::new("price", DataType::Float64, false),
            Field::new("value", DataType::Float64, false),
            Field::new("source", DataType::Utf8, false),
            Field::new("method", DataType::Utf8, true),
            Field::new("trade_id", DataType::Utf8, true),
            ts_event,
            ts_init,
        ]))
    }

    fn to_batch(rows: &[Self], id: &InstrumentId) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(
            Self::schema(id),
            vec![
                string_array(rows.iter().map(|_| Some(id.as_str()))),
                string_array(rows.iter().map(|r| Some(r.side.as_str()))),
                string_array(rows.iter().map(|r| Some(r.order_side.as_str()))),
                f64_array(rows.iter().map(|r| Some(r.quantity))),
                f64_array(rows.iter().map(|r| Some(r.price))),
                f64_array(rows.iter().map(|r| Some(r.value))),
                string_array(rows.iter().map(|r| Some(r.source.as_str()))),
                string_array(rows.iter().map(|r| r.method.as_deref())),
                string_array(rows.iter().map(|r| r.trade_id.as_deref())),
                u64_array(rows.iter().map(|r| r.ts_event)),
                u64_array(rows.iter().map(|r| r.ts_init)),
            ],
        )
    }

    fn from_batch(batch: &RecordBatch, id: &InstrumentId) -> Result<Vec<Self>, String> {
        let c = Columns { batch };
        c.check_instrument(id)?;
        let side = c.str("side")?;
        let order_side = c.str("order_side")?;
        let quantity = c.f64("quantity")?;
        let price = c.f64("price")?;
        let value = c.f64("value")?;
        let source = c.str("source")?;
        let method = c.opt_str("method")?;
        let trade_id = c.opt_str("trade_id")?;
        let ts_event = c.ts("ts_event")?;
        let ts_init = c.ts("ts_init")?;
        (0..batch.num_rows())
            .map(|i| {
                Ok(Liquidation {
                    instrument_id: id.clone(),
                    side: PositionSide::parse(side[i])
                        .ok_or_else(|| format!("side {:?} is not LONG or SHORT", side[i]))?,
                    order_side: order_side[i].to_string(),
                    quantity: quantity[i],
                    price: price[i],
                    value: value[i],
                    source: LiquidationSource::parse(source[i])
                        .ok_or_else(|| format!("source {:?} is not ws or poll", source[i]))?,
                    method: method[i].map(str::to_string),
                    trade_id: trade_id[i].map(str::to_string),
                    ts_event: ts_event[i],
                    ts_init: ts_init[i],
                })
            })
            .collect()
    }
}

/// Gaps: `data/custom_stream_gap/<VENUE>/…`, one directory per venue (gaps belong to streams,
/// which may cover many instruments). Columns are the fields of the `StreamGap` class in
/// `python/ccxt_pipeline_nautilus.py`: `venue`, `stream`, `gap_start_ns`, `gap_end_ns`,
/// `reason`, then `ts_event` (= gap start) and `ts_init` (when it was recorded).
impl CatalogRecord for Gap {
    const KIND: RecordKind = RecordKind::Gap;
    const PARTITION: Partition = Partition::Month;

    fn dataset(&self) -> InstrumentId {
        InstrumentId::new_unchecked(self.venue.nautilus_venue())
    }
    fn ts_event(&self) -> u64 {
        self.start_ns
    }
    fn ts_init(&self) -> u64 {
        self.ts_init
    }

    fn schema(_: &InstrumentId) -> SchemaRef {
        let [ts_event, ts_init] = ts_fields();
        Arc::new(Schema::new(vec![
            Field::new("venue", DataType::Utf8, false),
            Field::new("stream", DataType::Utf8, false),
            Field::new("gap_start_ns", DataType::UInt64, false),
            Field::new("gap_end_ns", DataType::UInt64, false),
            Field::new("reason", DataType::Utf8, false),
            ts_event,
            ts_init,
        ]))
    }

    fn to_batch(rows: &[Self], id: &InstrumentId) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(
            Self::schema(id),
            vec![
                string_array(rows.iter().map(|r| Some(r.venue.as_str()))),
                string_array(rows.iter().map(|r| Some(r.stream.as_str()))),
                u64_array(rows.iter().map(|r| r.start_ns)),
                u64_array(rows.iter().map(|r| r.end_ns)),
                string_array(rows.iter().map(|r| Some(r.reason.as_str()))),
                u64_array(rows.iter().map(|r| r.start_ns)),
                u64_array(rows.iter().map(|r| r.ts_init)),
            ],
        )
    }

    fn from_batch(batch: &RecordBatch, _: &InstrumentId) -> Result<Vec<Self>, String> {
        let c = Columns { batch };
        let venue = c.str("venue")?;
        let stream = c.str("stream")?;
        let start = c.ts("gap_start_ns")?;
        let end = c.ts("gap_end_ns")?;
        let reason = c.str("reason")?;
        let ts_init = c.ts("ts_init")?;
        (0..batch.num_rows())
            .map(|i| {
                Ok(Gap {
                    venue: venue[i].parse::<Venue>().map_err(|e| e.to_string())?,
                    stream: stream[i].to_string(),
                    start_ns: start[i],
                    end_ns: end[i],
                    reason: reason[i].to_string(),
                    ts_init: ts_init[i],
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_start_at_utc_day_and_month_boundaries() {
        let jan15 = 1_736_899_200_000_000_000 + 3_600_000_000_000; // 2025-01-15T01:00Z
        assert_eq!(Partition::Day.start_of(jan15), 1_736_899_200_000_000_000);
        assert_eq!(Partition::Month.start_of(jan15), 1_735_689_600_000_000_000);
        assert_eq!(Partition::Month.start_of(0), 0);
        assert_eq!(
            Partition::Month.start_of(u64::MAX),
            Partition::Month.start_of(u64::MAX - 1)
        );
    }

    #[test]
    fn rates_are_stored_as_json_strings_and_keep_their_scale() {
        let rate = Decimal::from_str("0.00010000").unwrap();
        assert_eq!(encode_rate(&rate), b"\"0.00010000\"");
        assert_eq!(
            decode_rate(b"\"0.00010000\"").unwrap().to_string(),
            "0.00010000"
        );
        assert_eq!(
            decode_rate(b"-0.0000125").unwrap().to_string(),
            "-0.0000125"
        );
        assert_eq!(
            decode_rate(b"\"1e-4\"").unwrap(),
            Decimal::from_str("0.0001").unwrap()
        );
        assert!(decode_rate(b"\"abc\"").is_err());
    }
}
