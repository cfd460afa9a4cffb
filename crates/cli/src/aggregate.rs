//! `query --every` and `query --by-asset`: stored rows summed up per time bucket, per
//! instrument or per base asset across venues.
//!
//! A bucket is `[start, start + every)` on the UTC grid of [`BarInterval::floor`]. Each dataset
//! buckets on one timestamp: open interest, mark, index, funding and liquidations on
//! `ts_event` (the venue's time of the value, the funding time, the liquidation time); bars on
//! their open (`ts_event` is the close), so a bucket holds the bars that lie wholly inside it.
//! Only buckets with at least one row are listed.

use std::collections::{BTreeMap, HashMap};

use ccxt_model::time::format_iso;
use ccxt_model::{
    Bar, BarInterval, FundingKind, FundingRate, IndexPrice, Instrument, InstrumentId, Liquidation,
    MarkPrice, OpenInterest, PositionSide, SymbolInput, Venue, format_interval,
};
use rust_decimal::Decimal;

use crate::UsageError;
use crate::output::{Column, Rows, Value};

fn col(name: &'static str) -> Column {
    Column {
        name,
        in_table: true,
    }
}

fn machine(name: &'static str) -> Column {
    Column {
        name,
        in_table: false,
    }
}

/// A column named after a venue (`binance_share`). The few names a run needs live until it
/// ends, as every other column name does.
fn venue_col(venue: Venue, what: &str) -> Column {
    col(Box::leak(format!("{venue}_{what}").into_boxed_str()))
}

/// Venue and native symbol of an instrument id (the id itself when it is not one of ours).
fn venue_symbol(id: &InstrumentId) -> (String, String) {
    match Instrument::from_id(id.as_str()) {
        Ok(i) => (i.venue.as_str().to_string(), i.native),
        Err(_) => (String::new(), id.to_string()),
    }
}

/// The leading columns of a per-instrument bucket row.
fn bucket_head(bucket: u64, id: &InstrumentId) -> Vec<Value> {
    let (venue, symbol) = venue_symbol(id);
    vec![
        Value::Text(format_iso(bucket)),
        Value::Text(venue),
        Value::Text(symbol),
    ]
}

fn bucket_tail(bucket: u64, id: &InstrumentId) -> [Value; 2] {
    [Value::Text(id.to_string()), Value::Int(bucket)]
}

const BUCKET_TAIL: [Column; 2] = [
    Column {
        name: "instrument_id",
        in_table: false,
    },
    Column {
        name: "bucket_ns",
        in_table: false,
    },
];

fn opt_f64(v: Option<f64>) -> Value {
    v.map_or(Value::Null, Value::Float)
}

/// A stored float as the decimal it prints as (`0.1`, not `0.1000000000000000055…`), so sums
/// of many carry no binary noise (`14.681`, not `14.681000000000001`). Not finite: zero.
fn exact(f: f64) -> Decimal {
    f.to_string().parse().unwrap_or_default()
}

/// A sum of floats, summed exactly, as a float.
fn float(d: Decimal) -> Value {
    Value::Float(rust_decimal::prelude::ToPrimitive::to_f64(&d).unwrap_or(f64::NAN))
}

fn decimal(d: Decimal) -> Value {
    Value::Decimal(d.normalize().to_string())
}

/// What `--every` lists: one row per instrument and bucket, or with `--by-asset` one per
/// base asset and bucket, with one column per venue.
#[derive(Debug, Clone)]
pub enum View {
    /// Per instrument.
    Instruments,
    /// Per base asset across these venues (the columns).
    Assets(Vec<Venue>),
}

/// Rows of one record kind summed up into buckets as they are read, one dataset-day at a time,
/// so memory holds the buckets, never the rows of the whole range.
pub trait Aggregate<T> {
    /// Adds rows (of one dataset, in `ts_init` order).
    fn add(&mut self, rows: &[T]);
    /// The buckets as rows, by bucket, then instrument id or asset.
    fn finish(self) -> Rows;
}

/// The buckets of one kind being filled: `S` holds, per (bucket, instrument), what the kind
/// keeps.
#[derive(Debug)]
pub struct Buckets<S> {
    every: BarInterval,
    view: View,
    state: BTreeMap<(u64, InstrumentId), S>,
}

impl<S> Buckets<S> {
    /// Empty buckets of length `every`.
    pub fn new(every: BarInterval, view: View) -> Self {
        Buckets {
            every,
            view,
            state: BTreeMap::new(),
        }
    }
}

/// The latest value (by `ts_event`, then storage order) of one instrument in one bucket.
#[derive(Debug, Clone)]
pub struct Last<V> {
    ts_event: u64,
    value: V,
    samples: u64,
}

impl<V> Buckets<Last<V>> {
    fn add_last<R>(
        &mut self,
        rows: &[R],
        key: impl Fn(&R) -> (&InstrumentId, u64),
        value: impl Fn(&R) -> V,
    ) {
        for row in rows {
            let (id, ts) = key(row);
            let entry = self
                .state
                .entry((self.every.floor(ts), id.clone()))
                .or_insert_with(|| Last {
                    ts_event: ts,
                    value: value(row),
                    samples: 0,
                });
            entry.samples += 1;
            if ts >= entry.ts_event {
                entry.ts_event = ts;
                entry.value = value(row);
            }
        }
    }
}

/// Open interest in coins and USD.
type Oi = (f64, Option<f64>);

impl Aggregate<OpenInterest> for Buckets<Last<Oi>> {
    fn add(&mut self, rows: &[OpenInterest]) {
        self.add_last(
            rows,
            |r| (&r.instrument_id, r.ts_event),
            |r| (r.open_interest, r.open_interest_value),
        );
    }

    fn finish(self) -> Rows {
        match &self.view {
            View::Instruments => oi_every(&self.state),
            View::Assets(venues) => oi_by_asset(&self.state, venues),
        }
    }
}

/// `--every` open interest: the last snapshot of each instrument in each bucket.
fn oi_every(last: &BTreeMap<(u64, InstrumentId), Last<Oi>>) -> Rows {
    let mut columns = vec![
        col("bucket"),
        col("venue"),
        col("symbol"),
        col("open_interest"),
        col("open_interest_value"),
        col("samples"),
        machine("last_at"),
    ];
    columns.extend(BUCKET_TAIL);
    let rows = last
        .iter()
        .map(|((bucket, id), l)| {
            let mut v = bucket_head(*bucket, id);
            v.push(Value::Float(l.value.0));
            v.push(opt_f64(l.value.1));
            v.push(Value::Int(l.samples));
            v.push(Value::Text(format_iso(l.ts_event)));
            v.extend(bucket_tail(*bucket, id));
            v
        })
        .collect();
    Rows { columns, rows }
}

impl Aggregate<MarkPrice> for Buckets<Last<Decimal>> {
    fn add(&mut self, rows: &[MarkPrice]) {
        self.add_last(rows, |r| (&r.instrument_id, r.ts_event), |r| r.value);
    }

    fn finish(self) -> Rows {
        price_every("mark_price", &self.state)
    }
}

impl Aggregate<IndexPrice> for Buckets<Last<Decimal>> {
    fn add(&mut self, rows: &[IndexPrice]) {
        self.add_last(rows, |r| (&r.instrument_id, r.ts_event), |r| r.value);
    }

    fn finish(self) -> Rows {
        price_every("index_price", &self.state)
    }
}

/// `--every` mark or index prices (`name` is the value column): the last price of each
/// instrument in each bucket, exact.
fn price_every(name: &'static str, last: &BTreeMap<(u64, InstrumentId), Last<Decimal>>) -> Rows {
    let mut columns = vec![
        col("bucket"),
        col("venue"),
        col("symbol"),
        col(name),
        col("samples"),
        machine("last_at"),
    ];
    columns.extend(BUCKET_TAIL);
    let rows = last
        .iter()
        .map(|((bucket, id), l)| {
            let mut v = bucket_head(*bucket, id);
            v.push(Value::Decimal(l.value.to_string()));
            v.push(Value::Int(l.samples));
            v.push(Value::Text(format_iso(l.ts_event)));
            v.extend(bucket_tail(*bucket, id));
            v
        })
        .collect();
    Rows { columns, rows }
}

/// The settled funding of one instrument in one bucket.
#[derive(Debug, Clone, Default)]
pub struct Settled {
    count: u64,
    sum: Decimal,
    last: Decimal,
    last_ts: u64,
    interval_minutes: Option<u16>,
}

impl Aggregate<FundingRate> for Buckets<Settled> {
    fn add(&mut self, rows: &[FundingRate]) {
        for r in rows.iter().filter(|r| r.kind() == FundingKind::Settled) {
            let s = self
                .state
                .entry((self.every.floor(r.ts_event), r.instrument_id.clone()))
                .or_default();
            s.count += 1;
            s.sum += r.rate;
            if s.count == 1 || r.ts_event >= s.last_ts {
                s.last = r.rate;
                s.last_ts = r.ts_event;
                s.interval_minutes = r.interval_minutes.or(s.interval_minutes);
            }
        }
    }

    fn finish(self) -> Rows {
        match &self.view {
            View::Instruments => funding_every(&self.state),
            View::Assets(venues) => funding_by_asset(&self.state, venues),
        }
    }
}

/// `--every` funding: the settled rates of each instrument in each bucket (estimates are left
/// out): how many, their sum (what a position paid over the bucket) and the last one.
fn funding_every(settled: &BTreeMap<(u64, InstrumentId), Settled>) -> Rows {
    let mut columns = vec![
        col("bucket"),
        col("venue"),
        col("symbol"),
        col("settlements"),
        col("rate_sum"),
        col("last_rate"),
        col("interval"),
    ];
    columns.extend(BUCKET_TAIL);
    let rows = settled
        .iter()
        .map(|((bucket, id), s)| {
            let mut v = bucket_head(*bucket, id);
            v.push(Value::Int(s.count));
            v.push(decimal(s.sum));
            v.push(decimal(s.last));
            v.push(
                s.interval_minutes
                    .map_or(Value::Null, |m| Value::Text(format_interval(m))),
            );
            v.extend(bucket_tail(*bucket, id));
            v
        })
        .collect();
    Rows { columns, rows }
}

/// Liquidations of one group in one bucket, split by the side of the liquidated position.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sides {
    long_count: u64,
    short_count: u64,
    long_quantity: Decimal,
    short_quantity: Decimal,
    long_value: Decimal,
    short_value: Decimal,
}

impl Sides {
    fn add(&mut self, r: &Liquidation) {
        match r.side {
            PositionSide::Long => {
                self.long_count += 1;
                self.long_quantity += exact(r.quantity);
                self.long_value += exact(r.value);
            }
            PositionSide::Short => {
                self.short_count += 1;
                self.short_quantity += exact(r.quantity);
                self.short_value += exact(r.value);
            }
        }
    }

    fn merge(&mut self, other: &Sides) {
        self.long_count += other.long_count;
        self.short_count += other.short_count;
        self.long_quantity += other.long_quantity;
        self.short_quantity += other.short_quantity;
        self.long_value += other.long_value;
        self.short_value += other.short_value;
    }

    const COLUMNS: [&'static str; 7] = [
        "count",
        "long_count",
        "short_count",
        "long_quantity",
        "short_quantity",
        "long_value",
        "short_value",
    ];

    fn values(&self) -> [Value; 7] {
        [
            Value::Int(self.long_count + self.short_count),
            Value::Int(self.long_count),
            Value::Int(self.short_count),
            float(self.long_quantity),
            float(self.short_quantity),
            float(self.long_value),
            float(self.short_value),
        ]
    }
}

impl Aggregate<Liquidation> for Buckets<Sides> {
    fn add(&mut self, rows: &[Liquidation]) {
        for r in rows {
            self.state
                .entry((self.every.floor(r.ts_event), r.instrument_id.clone()))
                .or_default()
                .add(r);
        }
    }

    fn finish(self) -> Rows {
        match &self.view {
            View::Instruments => liquidations_every(&self.state),
            View::Assets(venues) => liquidations_by_asset(&self.state, venues),
        }
    }
}

/// `--every` liquidations: per instrument and bucket, counts, base quantities and USD values
/// of liquidated longs and shorts.
fn liquidations_every(groups: &BTreeMap<(u64, InstrumentId), Sides>) -> Rows {
    let mut columns = vec![col("bucket"), col("venue"), col("symbol")];
    columns.extend(Sides::COLUMNS.map(col));
    columns.extend(BUCKET_TAIL);
    let rows = groups
        .iter()
        .map(|((bucket, id), s)| {
            let mut v = bucket_head(*bucket, id);
            v.extend(s.values());
            v.extend(bucket_tail(*bucket, id));
            v
        })
        .collect();
    Rows { columns, rows }
}

/// Refuses `--every` buckets that are not made of whole `stored` bars (`--every 1m` on 1h
/// bars, `--every 1w` on monthly bars).
pub fn check_multiple(every: BarInterval, stored: BarInterval) -> Result<(), UsageError> {
    let day = BarInterval::D1.fixed_ns().unwrap_or(u64::MAX);
    let fits = match (every.fixed_ns(), stored.fixed_ns()) {
        _ if every == stored => true,
        (Some(e), Some(s)) => e.is_multiple_of(s),
        // A month starts at midnight: any bar that divides a day tiles it.
        (None, Some(s)) => day.is_multiple_of(s),
        (_, None) => false,
    };
    if fits {
        Ok(())
    } else {
        Err(UsageError(format!(
            "--every {every} is not a multiple of the stored {stored} bars: use {stored} or a longer interval made of whole {stored} bars"
        )))
    }
}

/// OHLCV of the bars of one bar type in one bucket (keyed by the bar type's dataset id).
#[derive(Debug, Clone)]
pub struct Ohlcv {
    instrument_id: InstrumentId,
    price: &'static str,
    open: (u64, Decimal),
    high: Decimal,
    low: Decimal,
    close: (u64, Decimal),
    volume: Decimal,
    bars: u64,
}

impl Aggregate<Bar> for Buckets<Ohlcv> {
    fn add(&mut self, rows: &[Bar]) {
        for b in rows {
            let open_ns = b.open_ns();
            let key = (
                self.every.floor(open_ns),
                InstrumentId::new_unchecked(b.bar_type.to_string()),
            );
            let o = self.state.entry(key).or_insert_with(|| Ohlcv {
                instrument_id: b.bar_type.instrument_id.clone(),
                price: b.bar_type.price.as_str(),
                open: (open_ns, b.open),
                high: b.high,
                low: b.low,
                close: (open_ns, b.close),
                volume: Decimal::ZERO,
                bars: 0,
            });
            if open_ns < o.open.0 {
                o.open = (open_ns, b.open);
            }
            if open_ns >= o.close.0 {
                o.close = (open_ns, b.close);
            }
            o.high = o.high.max(b.high);
            o.low = o.low.min(b.low);
            o.volume += b.volume;
            o.bars += 1;
        }
    }

    /// Per bar type and bucket (by each bar's open): the open of the first bar, the highest
    /// high, the lowest low, the close of the last, the volume summed, and how many bars there
    /// were (fewer than the bucket holds: bars are missing).
    fn finish(self) -> Rows {
        let mut columns = vec![
            col("bucket"),
            col("venue"),
            col("symbol"),
            col("interval"),
            col("price"),
            col("open"),
            col("high"),
            col("low"),
            col("close"),
            col("volume"),
            col("bars"),
            machine("bar_type"),
        ];
        columns.extend(BUCKET_TAIL);
        let rows = self
            .state
            .iter()
            .map(|((bucket, bar_type), o)| {
                let mut v = bucket_head(*bucket, &o.instrument_id);
                v.push(Value::Text(self.every.as_str().into()));
                v.push(Value::Text(o.price.into()));
                for d in [o.open.1, o.high, o.low, o.close.1, o.volume] {
                    v.push(Value::Decimal(d.to_string()));
                }
                v.push(Value::Int(o.bars));
                v.push(Value::Text(bar_type.to_string()));
                v.extend(bucket_tail(*bucket, &o.instrument_id));
                v
            })
            .collect();
        Rows { columns, rows }
    }
}

/// The base asset an instrument trades and its venue: the market its native symbol reads as
/// (`BTC` for Binance/Bybit `BTCUSDT` and `BTCUSDC`, Hyperliquid `BTC`, OKX `BTC-USDT-SWAP`;
/// `1000PEPE` for `1000PEPEUSDT` and Hyperliquid `kPEPE`, but `PEPE` for OKX `PEPE-USDT-SWAP`,
/// whose units are single coins), checked to name the same instrument back on its venue.
/// A symbol of one venue only (`xyz:TSLA`) is its own asset.
pub fn asset_of(id: &InstrumentId) -> Option<(Venue, String)> {
    let instrument = Instrument::from_id(id.as_str()).ok()?;
    let base = SymbolInput::parse(&instrument.native).ok().and_then(|s| {
        let same = s
            .resolve(instrument.venue)
            .is_ok_and(|i| i.id == instrument.id);
        s.base().filter(|_| same).map(str::to_string)
    });
    Some((instrument.venue, base.unwrap_or(instrument.native)))
}

/// Groups keyed by (bucket, asset), each holding per-venue accumulators.
type AssetGroups<A> = BTreeMap<(u64, String), BTreeMap<Venue, A>>;

/// Per-instrument buckets regrouped by (bucket, asset) and venue with `merge`.
fn by_asset<S, A: Default>(
    state: &BTreeMap<(u64, InstrumentId), S>,
    mut merge: impl FnMut(&mut A, &S),
) -> AssetGroups<A> {
    let mut groups: AssetGroups<A> = BTreeMap::new();
    // Each instrument's asset once, not once per bucket.
    let mut assets: HashMap<&InstrumentId, Option<(Venue, String)>> = HashMap::new();
    for ((bucket, id), s) in state {
        let Some((venue, asset)) = assets.entry(id).or_insert_with(|| asset_of(id)).clone() else {
            continue;
        };
        let acc = groups
            .entry((*bucket, asset))
            .or_default()
            .entry(venue)
            .or_default();
        merge(acc, s);
    }
    groups
}

fn asset_head(bucket: u64, asset: &str) -> Vec<Value> {
    vec![Value::Text(format_iso(bucket)), Value::Text(asset.into())]
}

/// Coins and USD of one venue's instruments of an asset (USD `None` once one has none).
#[derive(Debug, Clone, Copy)]
struct OiSum(Decimal, Option<Decimal>);

impl Default for OiSum {
    fn default() -> Self {
        OiSum(Decimal::ZERO, Some(Decimal::ZERO))
    }
}

/// `--by-asset` open interest: per asset and bucket, the sum over its instruments of each
/// one's last snapshot in the bucket, in coins and USD, and each venue's share of the coins.
/// The USD total is empty when an instrument's snapshot has no USD value.
fn oi_by_asset(last: &BTreeMap<(u64, InstrumentId), Last<Oi>>, venues: &[Venue]) -> Rows {
    let groups = by_asset(last, |acc: &mut OiSum, l: &Last<Oi>| {
        acc.0 += exact(l.value.0);
        acc.1 = acc.1.zip(l.value.1).map(|(a, b)| a + exact(b));
    });
    let mut columns = vec![
        col("bucket"),
        col("asset"),
        col("open_interest"),
        col("open_interest_value"),
    ];
    columns.extend(venues.iter().map(|v| venue_col(*v, "share")));
    let rows = groups
        .iter()
        .map(|((bucket, asset), per_venue)| {
            let coins: Decimal = per_venue.values().map(|a| a.0).sum();
            let usd = per_venue
                .values()
                .try_fold(Decimal::ZERO, |sum, a| a.1.map(|v| sum + v));
            let mut v = asset_head(*bucket, asset);
            v.push(float(coins));
            v.push(usd.map_or(Value::Null, float));
            for venue in venues {
                v.push(match per_venue.get(venue) {
                    Some(a) if coins > Decimal::ZERO => float((a.0 / coins).round_dp(6)),
                    _ => Value::Null,
                });
            }
            v
        })
        .collect();
    Rows { columns, rows }
}

/// Minutes in a 365-day year.
const MINUTES_PER_YEAR: u32 = 365 * 24 * 60;

/// A venue's settled funding annualised: the mean settled rate in the bucket × the
/// settlements a year at the venue's interval (rate × 365 × 24h / interval).
fn annualised(settled: &[Settled]) -> Option<Decimal> {
    let mut sum = Decimal::ZERO;
    let mut count = 0u64;
    for s in settled {
        let minutes = s.interval_minutes.filter(|m| *m > 0)?;
        let per_year = Decimal::from(MINUTES_PER_YEAR) / Decimal::from(minutes);
        sum += s.sum * per_year;
        count += s.count;
    }
    (count > 0).then(|| sum / Decimal::from(count))
}

/// `--by-asset` funding: per asset and bucket, each venue's settled rate annualised by its
/// own interval (a venue with several instruments of the asset, USDT and USDC, gives the mean
/// of their settlements), and the spread between the highest and lowest venue.
fn funding_by_asset(settled: &BTreeMap<(u64, InstrumentId), Settled>, venues: &[Venue]) -> Rows {
    let groups = by_asset(settled, |acc: &mut Vec<Settled>, s: &Settled| {
        acc.push(s.clone())
    });
    let mut columns = vec![col("bucket"), col("asset")];
    columns.extend(venues.iter().map(|v| venue_col(*v, "apr")));
    columns.push(col("spread"));
    let rows = groups
        .iter()
        .map(|((bucket, asset), per_venue)| {
            let aprs: Vec<Option<Decimal>> = venues
                .iter()
                .map(|venue| per_venue.get(venue).and_then(|s| annualised(s)))
                .collect();
            let known: Vec<Decimal> = aprs.iter().flatten().copied().collect();
            let spread = match (known.iter().max(), known.iter().min()) {
                (Some(max), Some(min)) if known.len() > 1 => decimal(*max - *min),
                _ => Value::Null,
            };
            let mut v = asset_head(*bucket, asset);
            v.extend(aprs.into_iter().map(|a| a.map_or(Value::Null, decimal)));
            v.push(spread);
            v
        })
        .collect();
    Rows { columns, rows }
}

/// `--by-asset` liquidations: per asset and bucket, the totals by side, and each venue's
/// liquidated long and short USD value.
fn liquidations_by_asset(groups: &BTreeMap<(u64, InstrumentId), Sides>, venues: &[Venue]) -> Rows {
    let groups = by_asset(groups, |acc: &mut Sides, s: &Sides| acc.merge(s));
    let mut columns = vec![col("bucket"), col("asset")];
    columns.extend(Sides::COLUMNS.map(col));
    for venue in venues {
        columns.push(venue_col(*venue, "long_value"));
        columns.push(venue_col(*venue, "short_value"));
    }
    let rows = groups
        .iter()
        .map(|((bucket, asset), per_venue)| {
            let mut total = Sides::default();
            for s in per_venue.values() {
                total.merge(s);
            }
            let mut v = asset_head(*bucket, asset);
            v.extend(total.values());
            for venue in venues {
                let s = per_venue.get(venue);
                v.push(s.map_or(Value::Null, |s| float(s.long_value)));
                v.push(s.map_or(Value::Null, |s| float(s.short_value)));
            }
            v
        })
        .collect();
    Rows { columns, rows }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn asset(id: &str) -> String {
        ccxt_registry::install().unwrap();
        asset_of(&InstrumentId::new_unchecked(id)).unwrap().1
    }

    #[test]
    fn one_asset_across_venues_and_quotes() {
        for id in [
            "BTCUSDT-PERP.BINANCE",
            "BTCUSDC-PERP.BINANCE",
            "BTCUSDT-LINEAR.BYBIT",
            "BTC-USD-PERP.HYPERLIQUID",
            "BTC-USDT-SWAP.OKX",
            "BTC-USDC-SWAP.OKX",
        ] {
            assert_eq!(asset(id), "BTC", "{id}");
        }
        // 1000-unit contracts: Binance 1000PEPE and Hyperliquid kPEPE are the same unit; OKX
        // lists single PEPE, kept apart rather than mixed with per-1000 sizes.
        assert_eq!(asset("1000PEPEUSDT-PERP.BINANCE"), "1000PEPE");
        assert_eq!(asset("kPEPE-USD-PERP.HYPERLIQUID"), "1000PEPE");
        assert_eq!(asset("PEPE-USDT-SWAP.OKX"), "PEPE");
        assert_eq!(asset("xyz_TSLA-USD-PERP.HYPERLIQUID"), "xyz:TSLA");
    }

    #[test]
    fn bars_aggregate_only_into_whole_multiples() {
        use BarInterval::*;
        for (every, stored) in [(H1, H1), (D1, H1), (H4, M15), (W1, D1), (Month1, H1)] {
            assert!(check_multiple(every, stored).is_ok(), "{every} of {stored}");
        }
        for (every, stored) in [(M1, H1), (H2, H4), (W1, Month1), (Month1, W1)] {
            assert!(
                check_multiple(every, stored).is_err(),
                "{every} of {stored}"
            );
        }
    }

    #[test]
    fn buckets_are_half_open_on_the_utc_grid() {
        let hour = BarInterval::H1.fixed_ns().unwrap();
        let id = InstrumentId::new_unchecked("BTCUSDT-PERP.BINANCE");
        let oi = |ts: u64, v: f64| OpenInterest {
            instrument_id: id.clone(),
            open_interest: v,
            open_interest_value: None,
            ts_event: ts,
            ts_init: ts,
        };
        // 00:00 and 00:59:59.999 are in the first bucket, 01:00 starts the next.
        let rows = [oi(0, 1.0), oi(hour - 1, 2.0), oi(hour, 3.0)];
        let mut buckets = Buckets::<Last<Oi>>::new(BarInterval::H1, View::Instruments);
        buckets.add(&rows);
        let out = buckets.finish();
        let values: Vec<(Value, Value)> = out
            .rows
            .iter()
            .map(|r| (r[3].clone(), r[5].clone()))
            .collect();
        assert_eq!(
            values,
            [
                (Value::Float(2.0), Value::Int(2)),
                (Value::Float(3.0), Value::Int(1))
            ]
        );
    }
}
