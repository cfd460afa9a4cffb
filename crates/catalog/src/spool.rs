//! The write-ahead spool in front of the catalog for streamed and polled data.
//!
//! The spool carries liquidations and gaps from the streams, and the open-interest, funding-rate,
//! mark-price and index-price snapshots a daemon takes, so neither a `kill -9` nor a full disk
//! loses a row that was appended and synced before it.
//!
//! Streams deliver rows one by one, far too often to write a Parquet file each time. Rows are
//! appended to a spool segment (`<dir>/<n>.spool`, one JSON object per line), synced to disk in
//! batches ([`Spool::sync`], e.g. every 200 ms), and moved into the catalog at size/time
//! thresholds and at shutdown ([`Spool::drain_into`]). A segment is deleted only after the
//! catalog write that holds its rows has been verified.
//!
//! Crash safety: `kill -9` loses at most the rows appended since the last sync. On the next
//! start, [`Spool::open`] finds the leftover segments and [`Spool::drain_into`] writes them. A
//! crash after the catalog write but before the segment was deleted replays rows that are
//! stored already; every row carries its own `ts_init`, so they are identical records and the
//! catalog's de-duplication stores them exactly once. A torn last line (a crash mid-append) is
//! skipped with a warning.
//!
//! A failed drain (the catalog write fails, e.g. the disk is full) keeps the segment it was
//! working on and every later one; rows appended after the failure go to a new segment, and the
//! next drain retries them all in order.
//!
//! Line formats (compact JSON, one object per line; `null` or a missing key is `None`):
//!
//! ```text
//! {"k":"liq","id":..,"side":..,"os":..,"q":f64,"p":f64,"v":f64,"src":..,"m":..,"tid":..,"te":u64,"ti":u64}
//! {"k":"gap","venue":..,"stream":..,"from":u64,"to":u64,"reason":..,"ti":u64}
//! {"k":"oi","id":..,"oi":f64,"v":f64|null,"te":u64,"ti":u64}
//! {"k":"fr","id":..,"r":"<decimal, exact digits>","iv":u16|null,"nf":u64|null,"te":u64,"ti":u64}
//! {"k":"mk","id":..,"p":"<decimal, exact digits>","te":u64,"ti":u64}
//! {"k":"ix","id":..,"p":"<decimal, exact digits>","te":u64,"ti":u64}
//! ```
//!
//! Floats are written by serde_json (shortest round-trip form) and read back bit for bit; a
//! non-finite float, which JSON cannot hold, is written as the string `"NaN"`, `"inf"` or
//! `"-inf"`. The funding rate and the mark and index prices travel as decimal strings, so their
//! digits and scale survive.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use ccxt_model::{
    FundingRate, Gap, IndexPrice, InstrumentId, Liquidation, LiquidationSource, MarkPrice,
    OpenInterest, PositionSide, RecordKind, Venue,
};
use rust_decimal::Decimal;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::error::{CatalogError, Result};
use crate::{Catalog, CatalogRecord, WriteReport};

/// An open spool directory with one segment being appended to.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    next_segment: u64,
    current: Option<Segment>,
    /// The line being encoded, reused from append to append (a stream appends every row).
    line: Vec<u8>,
}

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    writer: BufWriter<File>,
    rows: usize,
    dirty: bool,
    /// An append failed part-way, so the file (or the buffer) may end in a partial line; the
    /// next append starts with a newline so that fragment stays a line of its own (skipped).
    torn: bool,
    /// The rows of this segment as appended, while every append went through whole: a drain
    /// in this process stores these instead of parsing the file back. `None` after a failed
    /// append (the file then decides what the segment holds).
    mirror: Option<SegmentRows>,
}

/// What a drain moved into the catalog.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    /// Segments written to the catalog and removed.
    pub segments: usize,
    /// Liquidation rows read from them.
    pub liquidations: usize,
    /// Gap rows read from them.
    pub gaps: usize,
    /// Open-interest rows read from them.
    pub open_interest: usize,
    /// Funding-rate rows read from them.
    pub funding: usize,
    /// Mark-price rows read from them.
    pub mark_prices: usize,
    /// Index-price rows read from them.
    pub index_prices: usize,
    /// Lines that could not be read (torn by a crash) and were skipped.
    pub skipped_lines: usize,
    /// Liquidations that were not in the catalog before (the rest were stored already: a
    /// replay, or a re-read of the same event).
    pub liquidations_added: usize,
    /// Gaps that were not in the catalog before.
    pub gaps_added: usize,
    /// What the catalog writes did (every kind together).
    pub written: WriteReport,
    /// Rows read but held back for a later drain ([`Sealed::drain_holding`]); counted in the
    /// per-kind figures above too.
    pub held: usize,
}

impl DrainReport {
    /// Adds up two reports (e.g. every drain of a run).
    pub fn add(&mut self, other: &DrainReport) {
        self.segments += other.segments;
        self.liquidations += other.liquidations;
        self.gaps += other.gaps;
        self.open_interest += other.open_interest;
        self.funding += other.funding;
        self.mark_prices += other.mark_prices;
        self.index_prices += other.index_prices;
        self.skipped_lines += other.skipped_lines;
        self.liquidations_added += other.liquidations_added;
        self.gaps_added += other.gaps_added;
        self.written.add(other.written);
        self.held += other.held;
    }
}

fn io_error(path: &Path, source: std::io::Error) -> CatalogError {
    CatalogError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Spool {
    /// Opens (creating) the spool directory. Segments left by an earlier run stay on disk for
    /// [`Spool::drain_into`]; new rows go to a new segment.
    pub fn open(dir: &Path) -> Result<Spool> {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let next_segment = Spool::segments_in(dir)?
            .iter()
            .filter_map(|p| p.file_stem()?.to_str()?.parse::<u64>().ok())
            .max()
            .map_or(0, |n| n + 1);
        Ok(Spool {
            dir: dir.to_path_buf(),
            next_segment,
            current: None,
            line: Vec::with_capacity(256),
        })
    }

    fn segments_in(dir: &Path) -> Result<Vec<PathBuf>> {
        let mut segments: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| io_error(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "spool"))
            .collect();
        segments.sort_by_key(|p| p.file_stem().and_then(|s| s.to_str()?.parse::<u64>().ok()));
        Ok(segments)
    }

    /// Rows appended but not yet drained (the current segment only).
    pub fn pending_rows(&self) -> usize {
        self.current.as_ref().map_or(0, |s| s.rows)
    }

    /// Segment files on disk (drained or not, including the one being appended to), for
    /// metrics. One directory listing; 0 if the directory cannot be read.
    pub fn segments(&self) -> usize {
        Spool::segments_in(&self.dir).map_or(0, |s| s.len())
    }

    /// Bytes of all segments on disk, for metrics.
    pub fn size_bytes(&self) -> u64 {
        Spool::segments_in(&self.dir)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    fn segment(&mut self) -> Result<&mut Segment> {
        if self.current.is_none() {
            let path = self.dir.join(format!("{:012}.spool", self.next_segment));
            self.next_segment += 1;
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| io_error(&path, e))?;
            self.current = Some(Segment {
                path,
                writer: BufWriter::new(file),
                rows: 0,
                dirty: false,
                torn: false,
                mirror: Some(SegmentRows::default()),
            });
        }
        self.current
            .as_mut()
            .ok_or_else(|| io_error(&self.dir, std::io::Error::other("no spool segment")))
    }

    fn append_line<T: serde::Serialize>(&mut self, line: &T) -> Result<()> {
        let mut bytes = std::mem::take(&mut self.line);
        bytes.clear();
        let appended = self.append_encoded(line, &mut bytes);
        self.line = bytes;
        appended
    }

    /// [`Spool::append_line`], encoding into `bytes` (empty).
    fn append_encoded<T: serde::Serialize>(&mut self, line: &T, bytes: &mut Vec<u8>) -> Result<()> {
        let segment = self.segment()?;
        // The whole line goes to the writer in one call, so a failure (a full disk) leaves at
        // most one partial line behind, which `torn` fences off.
        if segment.torn {
            bytes.push(b'\n');
        }
        serde_json::to_writer(&mut *bytes, line)
            .map_err(|e| io_error(&segment.path, std::io::Error::other(e)))?;
        bytes.push(b'\n');
        segment.dirty = true;
        if let Err(e) = segment.writer.write_all(bytes) {
            segment.torn = true;
            segment.mirror = None;
            return Err(io_error(&segment.path, e));
        }
        segment.torn = false;
        segment.rows += 1;
        Ok(())
    }

    /// Keeps `row` in the current segment's mirror (after its line was appended).
    fn mirror(&mut self, keep: impl FnOnce(&mut SegmentRows)) {
        if let Some(mirror) = self.current.as_mut().and_then(|s| s.mirror.as_mut()) {
            keep(mirror);
        }
    }

    /// Appends liquidations (buffered; durable after the next [`Spool::sync`]).
    pub fn append_liquidations(&mut self, rows: &[Liquidation]) -> Result<()> {
        for row in rows {
            self.append_line(&LiquidationLine::of(row))?;
            self.mirror(|m| m.liquidations.push(row.clone()));
        }
        Ok(())
    }

    /// Appends a gap (buffered; durable after the next [`Spool::sync`]).
    pub fn append_gap(&mut self, gap: &Gap) -> Result<()> {
        self.append_line(&gap_json(gap))?;
        self.mirror(|m| m.gaps.push(gap.clone()));
        Ok(())
    }

    /// Appends open-interest snapshots (buffered; durable after the next [`Spool::sync`]).
    pub fn append_open_interest(&mut self, rows: &[OpenInterest]) -> Result<()> {
        for row in rows {
            self.append_line(&open_interest_json(row))?;
            self.mirror(|m| m.open_interest.push(row.clone()));
        }
        Ok(())
    }

    /// Appends funding rates (buffered; durable after the next [`Spool::sync`]).
    pub fn append_funding(&mut self, rows: &[FundingRate]) -> Result<()> {
        for row in rows {
            self.append_line(&funding_json(row))?;
            self.mirror(|m| m.funding.push(row.clone()));
        }
        Ok(())
    }

    /// Appends mark prices (buffered; durable after the next [`Spool::sync`]).
    pub fn append_mark_prices(&mut self, rows: &[MarkPrice]) -> Result<()> {
        for row in rows {
            self.append_line(&price_json(
                "mk",
                &row.instrument_id,
                &row.value,
                row.ts_event,
                row.ts_init,
            ))?;
            self.mirror(|m| m.mark_prices.push(row.clone()));
        }
        Ok(())
    }

    /// Appends index prices (buffered; durable after the next [`Spool::sync`]).
    pub fn append_index_prices(&mut self, rows: &[IndexPrice]) -> Result<()> {
        for row in rows {
            self.append_line(&price_json(
                "ix",
                &row.instrument_id,
                &row.value,
                row.ts_event,
                row.ts_init,
            ))?;
            self.mirror(|m| m.index_prices.push(row.clone()));
        }
        Ok(())
    }

    /// Makes everything appended so far durable: flush and fdatasync.
    pub fn sync(&mut self) -> Result<()> {
        if let Some(segment) = self.current.as_mut().filter(|s| s.dirty) {
            segment
                .writer
                .flush()
                .map_err(|e| io_error(&segment.path, e))?;
            segment
                .writer
                .get_ref()
                .sync_data()
                .map_err(|e| io_error(&segment.path, e))?;
            segment.dirty = false;
        }
        Ok(())
    }

    /// Closes the current segment (synced) and moves every segment on disk into `catalog`,
    /// oldest first, deleting each one after all its rows (liquidations, gaps, open interest,
    /// funding, mark and index prices) are stored. New appends start a new segment.
    ///
    /// On an error the segment being written and all later ones stay on disk for the next
    /// drain (segments before it were stored and removed); rows appended afterwards go to a
    /// new segment. A retry replays identical records, which the catalog stores once.
    pub async fn drain_into(&mut self, catalog: &Catalog) -> Result<DrainReport> {
        let sealed = self.seal()?;
        sealed.drain_into(catalog).await
    }

    /// Closes the current segment (synced) and returns every segment on disk, for
    /// [`Sealed::drain_into`]. New appends go to a new segment, so a caller can keep appending
    /// (e.g. from live streams) while the sealed segments are written to the catalog.
    pub fn seal(&mut self) -> Result<Sealed> {
        // If the sync fails (a full disk), the segment stays open with its rows still buffered.
        self.sync()?;
        let mirror = self.current.take().and_then(|s| Some((s.path, s.mirror?)));
        Ok(Sealed {
            dir: self.dir.clone(),
            segments: Spool::segments_in(&self.dir)?,
            mirror,
        })
    }
}

/// Segments closed by [`Spool::seal`], waiting to be moved into the catalog.
#[derive(Debug)]
pub struct Sealed {
    dir: PathBuf,
    segments: Vec<PathBuf>,
    /// The rows of the segment just closed, as this process appended them (synced, every
    /// append whole): stored without reading the file back. Earlier segments (an earlier run's,
    /// or one a failed drain left) are read from disk.
    mirror: Option<(PathBuf, SegmentRows)>,
}

impl Sealed {
    /// Moves the sealed segments into `catalog` in order, deleting each one after its rows are
    /// stored. On a failure the failed segment and the later ones stay on disk for the next
    /// drain (replayed rows are identical records, stored once).
    pub async fn drain_into(self, catalog: &Catalog) -> Result<DrainReport> {
        self.drain_holding(catalog, None, &mut WriteAll).await
    }

    /// [`Sealed::drain_into`], but the rows of datasets `hold` says are too few and too young
    /// to be worth a file of their own are handed to `keep` instead of the catalog. `keep`
    /// must make them durable again (append them to the spool and sync it): it runs before
    /// the segment that held them is deleted, so a crash at any point leaves every row in a
    /// segment (at worst in two, and a replay stores identical records once). If `keep`
    /// fails, the segment stays on disk for the next drain.
    pub async fn drain_holding(
        mut self,
        catalog: &Catalog,
        hold: Option<Hold>,
        keep: &mut impl KeepHeld,
    ) -> Result<DrainReport> {
        let mut report = DrainReport::default();
        for path in &self.segments {
            let rows = match self.mirror.take_if(|(mirrored, _)| mirrored == path) {
                Some((_, rows)) => rows,
                None => read_segment(path)?,
            };
            let (rows, held) = match &hold {
                Some(hold) => hold.split(rows),
                None => (rows, Held::default()),
            };
            report.liquidations += rows.liquidations.len();
            report.gaps += rows.gaps.len();
            report.open_interest += rows.open_interest.len();
            report.funding += rows.funding.len();
            report.mark_prices += rows.mark_prices.len();
            report.index_prices += rows.index_prices.len();
            report.skipped_lines += rows.skipped;
            let liquidations = catalog.write(rows.liquidations).await?;
            report.liquidations_added += liquidations.rows_added;
            report.written.add(liquidations);
            let gaps = catalog.write(rows.gaps).await?;
            report.gaps_added += gaps.rows_added;
            report.written.add(gaps);
            report.written.add(catalog.write(rows.open_interest).await?);
            report.written.add(catalog.write(rows.funding).await?);
            report.written.add(catalog.write(rows.mark_prices).await?);
            report.written.add(catalog.write(rows.index_prices).await?);
            if !held.is_empty() {
                report.held += held.len();
                keep.keep(held).await.map_err(|e| io_error(path, e))?;
            }
            std::fs::remove_file(path).map_err(|e| io_error(path, e))?;
            report.segments += 1;
        }
        if report.segments > 0
            && let Ok(dir) = File::open(&self.dir)
        {
            let _ = dir.sync_all();
        }
        Ok(report)
    }
}

/// When a drain leaves a dataset's rows in the spool for a later one: while the dataset has
/// fewer than `below_rows` rows waiting and the oldest of them was received less than
/// `max_age_ns` before `now_ns`. A process that appends a row or two per instrument per minute
/// (a daemon's snapshots and trickling liquidations) then writes one file per instrument every
/// `max_age_ns` instead of one per drain: fewer, larger files, and a fraction of the CPU.
/// Gaps are never held.
///
/// Each dataset's rows are due at an age between half of `max_age_ns` and all of it, picked by
/// a stable hash of its kind and instrument: the hundreds of datasets one snapshot job fills
/// at once are then written over several drains, not all in the same one (a CPU and I/O
/// spike every `max_age_ns`). No row waits longer than `max_age_ns` (plus one drain interval).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    /// Datasets with at least this many rows waiting are written at once.
    pub below_rows: usize,
    /// Rows are held at most this long after they were received (`ts_init`).
    pub max_age_ns: u64,
    /// The time the ages are taken at (UNIX ns).
    pub now_ns: u64,
}

impl Hold {
    /// The age at which the held rows of one dataset are written: between half of
    /// `max_age_ns` and all of it, the same for a dataset from drain to drain and run to run.
    pub fn due_age_ns(&self, kind: RecordKind, dataset: &InstrumentId) -> u64 {
        let hash = crate::maintenance::dataset_hash(kind, dataset);
        let half = self.max_age_ns / 2;
        // hash / 2^64 is a fraction in [0, 1): the share of the other half to wait too.
        let extra = (u128::from(half) * u128::from(hash)) >> 64;
        half + u64::try_from(extra).unwrap_or(half)
    }

    /// Splits a segment's rows into those to write now and those to hold.
    fn split(&self, mut rows: SegmentRows) -> (SegmentRows, Held) {
        let held = Held {
            liquidations: self.hold_back(&mut rows.liquidations),
            open_interest: self.hold_back(&mut rows.open_interest),
            funding: self.hold_back(&mut rows.funding),
            mark_prices: self.hold_back(&mut rows.mark_prices),
            index_prices: self.hold_back(&mut rows.index_prices),
        };
        (rows, held)
    }

    /// Moves the rows of the datasets to hold out of `rows`, and returns them.
    fn hold_back<T: CatalogRecord>(&self, rows: &mut Vec<T>) -> Vec<T> {
        let mut waiting: HashMap<InstrumentId, (usize, u64)> = HashMap::new();
        for row in rows.iter() {
            let entry = waiting.entry(row.dataset()).or_insert((0, u64::MAX));
            entry.0 += 1;
            entry.1 = entry.1.min(row.ts_init());
        }
        let hold: HashSet<InstrumentId> = waiting
            .into_iter()
            .filter(|(id, (n, oldest))| {
                let young = self.now_ns.saturating_sub(self.due_age_ns(T::KIND, id));
                *n < self.below_rows && *oldest > young
            })
            .map(|(id, _)| id)
            .collect();
        if hold.is_empty() {
            return Vec::new();
        }
        let (held, written): (Vec<T>, Vec<T>) = std::mem::take(rows)
            .into_iter()
            .partition(|r| hold.contains(&r.dataset()));
        *rows = written;
        held
    }
}

/// Where [`Sealed::drain_holding`] puts the rows it held back: it must make them durable
/// again (append them to the spool and sync it).
pub trait KeepHeld: Send {
    /// Keeps `held`; an error fails the drain and keeps the segment.
    fn keep(&mut self, held: Held) -> impl Future<Output = std::io::Result<()>> + Send;
}

/// The [`KeepHeld`] of a drain that holds nothing back.
struct WriteAll;

impl KeepHeld for WriteAll {
    async fn keep(&mut self, held: Held) -> std::io::Result<()> {
        Err(std::io::Error::other(format!(
            "{} rows held by a drain that holds none",
            held.len()
        )))
    }
}

/// Rows a drain held back ([`Sealed::drain_holding`]), to be appended to the spool again.
#[derive(Debug, Default)]
pub struct Held {
    /// Liquidations.
    pub liquidations: Vec<Liquidation>,
    /// Open-interest snapshots.
    pub open_interest: Vec<OpenInterest>,
    /// Funding rates.
    pub funding: Vec<FundingRate>,
    /// Mark prices.
    pub mark_prices: Vec<MarkPrice>,
    /// Index prices.
    pub index_prices: Vec<IndexPrice>,
}

impl Held {
    /// Rows held, of every kind.
    pub fn len(&self) -> usize {
        self.liquidations.len()
            + self.open_interest.len()
            + self.funding.len()
            + self.mark_prices.len()
            + self.index_prices.len()
    }

    /// Whether nothing was held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A float as JSON: a number when finite (serde_json round-trips it exactly), else a string.
fn float_json(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else if x.is_nan() {
        json!("NaN")
    } else if x > 0.0 {
        json!("inf")
    } else {
        json!("-inf")
    }
}

/// A liquidation line, serialized straight from the row (no `serde_json::Value` in between):
/// the same JSON as the other lines' `json!` maps, key for key.
#[derive(serde::Serialize)]
struct LiquidationLine<'a> {
    k: &'static str,
    id: &'a str,
    side: &'static str,
    os: &'a str,
    #[serde(serialize_with = "float_ser")]
    q: f64,
    #[serde(serialize_with = "float_ser")]
    p: f64,
    #[serde(serialize_with = "float_ser")]
    v: f64,
    src: &'static str,
    m: Option<&'a str>,
    tid: Option<&'a str>,
    te: u64,
    ti: u64,
}

impl<'a> LiquidationLine<'a> {
    fn of(r: &'a Liquidation) -> LiquidationLine<'a> {
        LiquidationLine {
            k: "liq",
            id: r.instrument_id.as_str(),
            side: r.side.as_str(),
            os: &r.order_side,
            q: r.quantity,
            p: r.price,
            v: r.value,
            src: r.source.as_str(),
            m: r.method.as_deref(),
            tid: r.trade_id.as_deref(),
            te: r.ts_event,
            ti: r.ts_init,
        }
    }
}

/// [`float_json`] as a serializer: a finite float as a number, else its name as a string.
fn float_ser<S: serde::Serializer>(x: &f64, s: S) -> std::result::Result<S::Ok, S::Error> {
    if x.is_finite() {
        s.serialize_f64(*x)
    } else if x.is_nan() {
        s.serialize_str("NaN")
    } else if *x > 0.0 {
        s.serialize_str("inf")
    } else {
        s.serialize_str("-inf")
    }
}

fn gap_json(g: &Gap) -> Value {
    json!({
        "k": "gap",
        "venue": g.venue.as_str(),
        "stream": g.stream,
        "from": g.start_ns,
        "to": g.end_ns,
        "reason": g.reason,
        "ti": g.ts_init,
    })
}

fn open_interest_json(r: &OpenInterest) -> Value {
    json!({
        "k": "oi",
        "id": r.instrument_id.as_str(),
        "oi": float_json(r.open_interest),
        "v": r.open_interest_value.map(float_json),
        "te": r.ts_event,
        "ti": r.ts_init,
    })
}

fn funding_json(r: &FundingRate) -> Value {
    json!({
        "k": "fr",
        "id": r.instrument_id.as_str(),
        "r": r.rate.to_string(),
        "iv": r.interval_minutes,
        "nf": r.next_funding_ns,
        "te": r.ts_event,
        "ti": r.ts_init,
    })
}

/// A mark or index price line: the price as its decimal string, so digits and scale survive.
fn price_json(
    kind: &str,
    id: &InstrumentId,
    value: &Decimal,
    ts_event: u64,
    ts_init: u64,
) -> Value {
    json!({
        "k": kind,
        "id": id.as_str(),
        "p": value.to_string(),
        "te": ts_event,
        "ti": ts_init,
    })
}

enum Line {
    Liquidation(Liquidation),
    Gap(Gap),
    OpenInterest(OpenInterest),
    Funding(FundingRate),
    Mark(MarkPrice),
    Index(IndexPrice),
}

/// Every key a spool line may have, kept raw and borrowed from the line: one pass of a typed
/// parser, no `serde_json::Value` (a spool holds up to 50,000 lines between two drains).
#[derive(serde::Deserialize)]
struct LineRef<'a> {
    #[serde(default, borrow)]
    k: Option<&'a RawValue>,
    #[serde(default, borrow)]
    id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    side: Option<&'a RawValue>,
    #[serde(default, borrow)]
    os: Option<&'a RawValue>,
    #[serde(default, borrow)]
    q: Option<&'a RawValue>,
    #[serde(default, borrow)]
    p: Option<&'a RawValue>,
    #[serde(default, borrow)]
    v: Option<&'a RawValue>,
    #[serde(default, borrow)]
    src: Option<&'a RawValue>,
    #[serde(default, borrow)]
    m: Option<&'a RawValue>,
    #[serde(default, borrow)]
    tid: Option<&'a RawValue>,
    #[serde(default, borrow)]
    te: Option<&'a RawValue>,
    #[serde(default, borrow)]
    ti: Option<&'a RawValue>,
    #[serde(default, borrow)]
    venue: Option<&'a RawValue>,
    #[serde(default, borrow)]
    stream: Option<&'a RawValue>,
    #[serde(default, borrow)]
    from: Option<&'a RawValue>,
    #[serde(default, borrow)]
    to: Option<&'a RawValue>,
    #[serde(default, borrow)]
    reason: Option<&'a RawValue>,
    #[serde(default, borrow)]
    oi: Option<&'a RawValue>,
    #[serde(default, borrow)]
    r: Option<&'a RawValue>,
    #[serde(default, borrow)]
    iv: Option<&'a RawValue>,
    #[serde(default, borrow)]
    nf: Option<&'a RawValue>,
}

/// A JSON string's text (borrowed unless escaped); `None` for anything else.
fn raw_str(raw: Option<&RawValue>) -> Option<std::borrow::Cow<'_, str>> {
    let json = raw?.get();
    if !json.starts_with('"') {
        return None;
    }
    if json.contains('\\') {
        serde_json::from_str::<String>(json).ok().map(Into::into)
    } else {
        json.get(1..json.len() - 1).map(Into::into)
    }
}

/// A whole non-negative JSON number (as `Value::as_u64` reads it); `None` for anything else.
fn raw_u64(raw: Option<&RawValue>) -> Option<u64> {
    raw?.get().parse().ok()
}

/// What [`float_ser`] wrote: a number (read exactly from its text) or `"NaN"`/`"inf"`/`"-inf"`.
fn raw_float(raw: &RawValue) -> Option<f64> {
    let json = raw.get();
    match json.as_bytes().first()? {
        b'-' | b'0'..=b'9' => json.parse().ok(),
        _ => match raw_str(Some(raw))?.as_ref() {
            "NaN" => Some(f64::NAN),
            "inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            _ => None,
        },
    }
}

fn parse_line(text: &str) -> Option<Line> {
    let v: LineRef = serde_json::from_str(text).ok()?;
    let str_of = |raw| raw_str(raw);
    let f64_of = |raw: Option<&RawValue>| raw_float(raw?);
    let opt = |raw| raw_str(raw).map(std::borrow::Cow::into_owned);
    let id = |raw| str_of(raw).map(|s| InstrumentId::new_unchecked(s.as_ref()));
    // An optional value: missing or null is `Some(None)`; present but unreadable is `None`
    // (the line is damaged and skipped rather than read with a field silently dropped).
    fn optional<'a, T>(
        v: Option<&'a RawValue>,
        read: impl FnOnce(&'a RawValue) -> Option<T>,
    ) -> Option<Option<T>> {
        match v {
            None => Some(None),
            Some(x) if x.get() == "null" => Some(None),
            Some(x) => read(x).map(Some),
        }
    }
    match str_of(v.k)?.as_ref() {
        "liq" => Some(Line::Liquidation(Liquidation {
            instrument_id: id(v.id)?,
            side: PositionSide::parse(&str_of(v.side)?)?,
            order_side: opt(v.os)?,
            quantity: f64_of(v.q)?,
            price: f64_of(v.p)?,
            value: f64_of(v.v)?,
            source: LiquidationSource::parse(&str_of(v.src)?)?,
            method: opt(v.m),
            trade_id: opt(v.tid),
            ts_event: raw_u64(v.te)?,
            ts_init: raw_u64(v.ti)?,
        })),
        "gap" => Some(Line::Gap(Gap {
            venue: str_of(v.venue)?.parse::<Venue>().ok()?,
            stream: opt(v.stream)?,
            start_ns: raw_u64(v.from)?,
            end_ns: raw_u64(v.to)?,
            reason: opt(v.reason)?,
            ts_init: raw_u64(v.ti)?,
        })),
        "oi" => Some(Line::OpenInterest(OpenInterest {
            instrument_id: id(v.id)?,
            open_interest: f64_of(v.oi)?,
            open_interest_value: optional(v.v, raw_float)?,
            ts_event: raw_u64(v.te)?,
            ts_init: raw_u64(v.ti)?,
        })),
        "fr" => Some(Line::Funding(FundingRate {
            instrument_id: id(v.id)?,
            rate: str_of(v.r)?.parse::<Decimal>().ok()?,
            interval_minutes: optional(v.iv, |x| u16::try_from(raw_u64(Some(x))?).ok())?,
            next_funding_ns: optional(v.nf, |x| raw_u64(Some(x)))?,
            ts_event: raw_u64(v.te)?,
            ts_init: raw_u64(v.ti)?,
        })),
        "mk" => Some(Line::Mark(MarkPrice {
            instrument_id: id(v.id)?,
            value: str_of(v.p)?.parse::<Decimal>().ok()?,
            ts_event: raw_u64(v.te)?,
            ts_init: raw_u64(v.ti)?,
        })),
        "ix" => Some(Line::Index(IndexPrice {
            instrument_id: id(v.id)?,
            value: str_of(v.p)?.parse::<Decimal>().ok()?,
            ts_event: raw_u64(v.te)?,
            ts_init: raw_u64(v.ti)?,
        })),
        _ => None,
    }
}

/// The rows of one segment, by kind.
#[derive(Debug, Default)]
struct SegmentRows {
    liquidations: Vec<Liquidation>,
    gaps: Vec<Gap>,
    open_interest: Vec<OpenInterest>,
    funding: Vec<FundingRate>,
    mark_prices: Vec<MarkPrice>,
    index_prices: Vec<IndexPrice>,
    /// Lines that could not be read.
    skipped: usize,
}

/// Reads one segment; unreadable lines (a torn tail after a crash) are counted and skipped.
fn read_segment(path: &Path) -> Result<SegmentRows> {
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    let mut rows = SegmentRows::default();
    for line in BufReader::new(file).split(b'\n') {
        let line = line.map_err(|e| io_error(path, e))?;
        if line.is_empty() {
            continue;
        }
        match std::str::from_utf8(&line).ok().and_then(parse_line) {
            Some(Line::Liquidation(l)) => rows.liquidations.push(l),
            Some(Line::Gap(g)) => rows.gaps.push(g),
            Some(Line::OpenInterest(o)) => rows.open_interest.push(o),
            Some(Line::Funding(f)) => rows.funding.push(f),
            Some(Line::Mark(m)) => rows.mark_prices.push(m),
            Some(Line::Index(i)) => rows.index_prices.push(i),
            None => rows.skipped += 1,
        }
    }
    if rows.skipped > 0 {
        tracing::warn!(segment = %path.display(), skipped = rows.skipped, "skipped unreadable spool lines (torn by a crash)");
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Storage;

    fn liq(i: u64) -> Liquidation {
        Liquidation {
            instrument_id: InstrumentId::new_unchecked("BTCUSDT-PERP.BINANCE"),
            side: if i.is_multiple_of(2) {
                PositionSide::Long
            } else {
                PositionSide::Short
            },
            order_side: "SELL".into(),
            quantity: 0.1 + i as f64 / 7.0,
            price: 94_000.123_456_789,
            value: 1e-300,
            source: LiquidationSource::Ws,
            method: i.is_multiple_of(3).then(|| "backstop".to_string()),
            trade_id: None,
            ts_event: 1_735_689_600_000_000_000 + i,
            ts_init: 1_735_689_600_000_000_000 + i + 5,
        }
    }

    #[test]
    fn lines_of_earlier_versions_read_with_the_typed_reader() {
        // Keys in `json!`'s sorted order, whole numbers as integers, escapes, unknown keys.
        let line = r#"{"extra":[1,{"a":null}],"id":"BTCUSDT-PERP.BINANCE","k":"liq","m":null,"os":"S\u0045LL","p":94000,"q":2,"side":"SHORT","src":"poll","te":5,"ti":6,"tid":"7","v":"inf"}"#;
        let Some(Line::Liquidation(l)) = parse_line(line) else {
            panic!("{line}");
        };
        assert_eq!(
            (l.order_side.as_str(), l.quantity, l.price, l.value),
            ("SELL", 2.0, 94_000.0, f64::INFINITY)
        );
        assert_eq!(
            (
                l.side,
                l.source,
                l.method,
                l.trade_id.as_deref(),
                l.ts_event,
                l.ts_init
            ),
            (
                PositionSide::Short,
                LiquidationSource::Poll,
                None,
                Some("7"),
                5,
                6
            )
        );
        // A damaged value skips the line; so does a negative or fractional time.
        for bad in [
            r#"{"k":"liq","id":"X","side":"LONG","os":"S","q":"x","p":1,"v":1,"src":"ws","te":1,"ti":1}"#,
            r#"{"k":"liq","id":"X","side":"LONG","os":"S","q":1,"p":1,"v":1,"src":"ws","te":-1,"ti":1}"#,
            r#"{"k":"liq","id":"X","side":"LONG","os":"S","q":1,"p":1,"v":1,"src":"ws","te":1.5,"ti":1}"#,
            r#"{"k":"oi","id":"X","oi":1,"v":"x","te":1,"ti":1}"#,
            r#"{"k":"liq","id":"X""#,
        ] {
            assert!(parse_line(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn liquidation_lines_are_the_documented_json_and_read_back_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path()).unwrap();
        let mut odd = liq(3);
        odd.quantity = f64::NAN;
        odd.price = f64::INFINITY;
        odd.value = f64::NEG_INFINITY;
        odd.trade_id = Some("12\"34".into());
        odd.order_side = "A\u{e9}".into();
        let rows = vec![liq(0), liq(1), odd];
        spool.append_liquidations(&rows).unwrap();
        spool.sync().unwrap();
        let segment = Spool::segments_in(dir.path()).unwrap()[0].clone();
        let text = std::fs::read_to_string(&segment).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let first: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(
            first,
            json!({"k":"liq","id":"BTCUSDT-PERP.BINANCE","side":"LONG","os":"SELL",
                   "q":0.1,"p":94_000.123_456_789,"v":1e-300,"src":"ws","m":"backstop",
                   "tid":null,"te":1_735_689_600_000_000_000u64,"ti":1_735_689_600_000_000_005u64})
        );
        let third: Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(
            (&third["q"], &third["p"], &third["v"], &third["tid"]),
            (
                &json!("NaN"),
                &json!("inf"),
                &json!("-inf"),
                &json!("12\"34")
            )
        );
        for (line, row) in lines.iter().zip(&rows) {
            let Some(Line::Liquidation(back)) = parse_line(line) else {
                panic!("{line}");
            };
            assert_eq!(back.instrument_id, row.instrument_id);
            assert_eq!(
                (back.side, &back.order_side, back.source),
                (row.side, &row.order_side, row.source)
            );
            for (a, b) in [
                (back.quantity, row.quantity),
                (back.price, row.price),
                (back.value, row.value),
            ] {
                assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
            }
            assert_eq!(
                (&back.method, &back.trade_id, back.ts_event, back.ts_init),
                (&row.method, &row.trade_id, row.ts_event, row.ts_init)
            );
        }
    }

    #[tokio::test]
    async fn rows_survive_the_spool_exactly_and_replays_store_them_once() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::from_storage(Storage::in_memory());
        let mut spool = Spool::open(dir.path()).unwrap();
        let rows: Vec<Liquidation> = (0..100).map(liq).collect();
        spool.append_liquidations(&rows).unwrap();
        let gap = Gap {
            venue: ccxt_registry::venue("bybit"),
            stream: "allLiquidation.BTCUSDT".into(),
            start_ns: 1,
            end_ns: 2,
            reason: "server closed".into(),
            ts_init: 3,
        };
        spool.append_gap(&gap).unwrap();
        spool.sync().unwrap();
        // A crash after the catalog write but before the segment is deleted: copy it aside.
        let segment = Spool::segments_in(dir.path()).unwrap()[0].clone();
        let copy = std::fs::read(&segment).unwrap();
        let report = spool.drain_into(&catalog).await.unwrap();
        assert_eq!(
            (report.segments, report.liquidations, report.gaps),
            (1, 100, 1)
        );
        assert_eq!(report.written.rows_added, 101);
        std::fs::write(&segment, &copy).unwrap();
        // Torn tail, as from kill -9 mid-append.
        let mut f = OpenOptions::new().append(true).open(&segment).unwrap();
        f.write_all(b"{\"k\":\"liq\",\"id\":\"BTC").unwrap();
        let mut spool = Spool::open(dir.path()).unwrap();
        let report = spool.drain_into(&catalog).await.unwrap();
        assert_eq!((report.liquidations, report.skipped_lines), (100, 1));
        assert_eq!(
            report.written.rows_added, 0,
            "replayed rows are stored once"
        );
        let query = crate::Query {
            instruments: vec![InstrumentId::new_unchecked("BTCUSDT-PERP.BINANCE")],
            start: 0,
            end: u64::MAX,
            limit: None,
        };
        let (stored, _) = catalog.query::<Liquidation>(&query).await.unwrap();
        assert_eq!(stored, rows, "every field, bit for bit");
        assert!(Spool::segments_in(dir.path()).unwrap().is_empty());
    }

    const T0: u64 = 1_735_689_600_000_000_000;

    fn oi(i: u64) -> OpenInterest {
        OpenInterest {
            instrument_id: InstrumentId::new_unchecked("BTCUSDT-PERP.BINANCE"),
            open_interest: 81_234.567 + i as f64 / 3.0,
            open_interest_value: (!i.is_multiple_of(2)).then(|| 7.654_321e9 + i as f64 / 7.0),
            ts_event: T0 + i * 60_000_000_000,
            ts_init: T0 + i * 60_000_000_000 + 123_456,
        }
    }

    fn fr(i: u64, rate: &str) -> FundingRate {
        FundingRate {
            instrument_id: InstrumentId::new_unchecked("ETHUSDT-PERP.BYBIT"),
            rate: rate.parse().unwrap(),
            interval_minutes: (!i.is_multiple_of(2)).then_some(480),
            next_funding_ns: i.is_multiple_of(3).then_some(T0 + 8 * 3_600_000_000_000),
            ts_event: T0 + i * 1_000_000_000,
            ts_init: T0 + i * 1_000_000_000 + 7,
        }
    }

    fn assert_same_oi(a: &[OpenInterest], b: &[OpenInterest]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert_eq!(x.instrument_id, y.instrument_id);
            assert_eq!(x.open_interest.to_bits(), y.open_interest.to_bits());
            assert_eq!(
                x.open_interest_value.map(f64::to_bits),
                y.open_interest_value.map(f64::to_bits)
            );
            assert_eq!((x.ts_event, x.ts_init), (y.ts_event, y.ts_init));
        }
    }

    fn assert_same_funding(a: &[FundingRate], b: &[FundingRate]) {
        assert_eq!(a, b);
        for (x, y) in a.iter().zip(b) {
            assert_eq!(
                x.rate.to_string(),
                y.rate.to_string(),
                "exact digits and scale"
            );
        }
    }

    fn query_all(id: &str) -> crate::Query {
        crate::Query {
            instruments: vec![InstrumentId::new_unchecked(id)],
            start: 0,
            end: u64::MAX,
            limit: None,
        }
    }

    #[tokio::test]
    async fn mark_and_index_prices_go_through_the_spool_exactly_and_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path()).unwrap();
        let id = InstrumentId::new_unchecked("BTCUSDT-PERP.BINANCE");
        let marks: Vec<MarkPrice> = ["94012.34567891", "94013.10", "0.0000012345"]
            .iter()
            .enumerate()
            .map(|(i, v)| MarkPrice {
                instrument_id: id.clone(),
                value: v.parse().unwrap(),
                ts_event: T0 + i as u64,
                ts_init: T0 + i as u64 + 85,
            })
            .collect();
        let index: Vec<IndexPrice> = marks
            .iter()
            .map(|m| IndexPrice {
                instrument_id: id.clone(),
                value: m.value,
                ts_event: m.ts_event,
                ts_init: m.ts_init,
            })
            .collect();
        spool.append_mark_prices(&marks).unwrap();
        spool.append_index_prices(&index).unwrap();
        spool.sync().unwrap();
        let segment = Spool::segments_in(dir.path()).unwrap()[0].clone();
        let kept = std::fs::read(&segment).unwrap();
        let rows = read_segment(&segment).unwrap();
        assert_eq!(
            (rows.mark_prices.clone(), rows.index_prices.clone()),
            (marks.clone(), index.clone())
        );
        assert_eq!(
            rows.mark_prices[1].value.to_string(),
            "94013.10",
            "digits and scale"
        );
        let catalog = Catalog::from_storage(crate::Storage::in_memory());
        let report = spool.drain_into(&catalog).await.unwrap();
        assert_eq!((report.mark_prices, report.index_prices), (3, 3));
        assert_eq!(report.written.rows_added, 6);
        // A crash after the catalog write but before the segment was removed replays it.
        std::fs::write(&segment, kept).unwrap();
        let report = Spool::open(dir.path())
            .unwrap()
            .drain_into(&catalog)
            .await
            .unwrap();
        assert_eq!(report.written.rows_added, 0);
        let (stored, _) = catalog
            .query::<MarkPrice>(&query_all(id.as_str()))
            .await
            .unwrap();
        assert_eq!(stored, marks);
        let (stored, _) = catalog
            .query::<IndexPrice>(&query_all(id.as_str()))
            .await
            .unwrap();
        assert_eq!(stored, index);
    }

    #[test]
    fn open_interest_and_funding_round_trip_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path()).unwrap();
        let mut ois: Vec<OpenInterest> = (0..10).map(oi).collect();
        ois.push(OpenInterest {
            open_interest: 1e-300,
            open_interest_value: Some(-0.0),
            ..oi(10)
        });
        ois.push(OpenInterest {
            open_interest: f64::MAX,
            open_interest_value: Some(f64::NAN),
            ..oi(11)
        });
        ois.push(OpenInterest {
            open_interest: f64::INFINITY,
            open_interest_value: Some(f64::NEG_INFINITY),
            ..oi(12)
        });
        let rates = [
            "-0.000012345678901234",
            "0.0001",
            "0.00010000",
            "0",
            "-0.75",
            "0.0000000000000000000000000001",
            "79228162514264337593543950335",
        ];
        let funding: Vec<FundingRate> = rates
            .iter()
            .enumerate()
            .map(|(i, r)| fr(i as u64, r))
            .collect();
        spool.append_open_interest(&ois).unwrap();
        spool.append_funding(&funding).unwrap();
        assert_eq!(spool.pending_rows(), ois.len() + funding.len());
        spool.sync().unwrap();
        assert_eq!(spool.segments(), 1);
        let rows = read_segment(&Spool::segments_in(dir.path()).unwrap()[0]).unwrap();
        assert_eq!(rows.skipped, 0);
        assert!(rows.liquidations.is_empty() && rows.gaps.is_empty());
        assert_same_oi(&rows.open_interest, &ois);
        assert_same_funding(&rows.funding, &funding);
        assert!(funding.iter().any(|f| f.interval_minutes.is_none()));
        assert!(funding.iter().any(|f| f.next_funding_ns.is_none()));
        assert!(ois.iter().any(|o| o.open_interest_value.is_none()));
    }

    #[test]
    fn missing_optional_keys_read_as_none_and_bad_values_are_skipped() {
        let lines = [
            r#"{"k":"oi","id":"X-PERP.BINANCE","oi":1.5,"te":1,"ti":2}"#,
            r#"{"k":"oi","id":"X-PERP.BINANCE","oi":1.5,"v":null,"te":1,"ti":2}"#,
            r#"{"k":"fr","id":"X-PERP.BINANCE","r":"-0.000012345678901234","te":1,"ti":2}"#,
            r#"{"k":"fr","id":"X-PERP.BINANCE","r":"0.0001","iv":null,"nf":null,"te":1,"ti":2}"#,
        ];
        for line in &lines[..2] {
            let Some(Line::OpenInterest(o)) = parse_line(line) else {
                panic!("{line}")
            };
            assert_eq!(o.open_interest_value, None);
            assert_eq!((o.open_interest, o.ts_event, o.ts_init), (1.5, 1, 2));
        }
        for line in &lines[2..] {
            let Some(Line::Funding(f)) = parse_line(line) else {
                panic!("{line}")
            };
            assert_eq!((f.interval_minutes, f.next_funding_ns), (None, None));
        }
        let Some(Line::Funding(f)) = parse_line(lines[2]) else {
            unreachable!()
        };
        assert_eq!(f.rate.to_string(), "-0.000012345678901234");
        for bad in [
            r#"{"k":"fr","id":"X","r":"0.0001","iv":70000,"te":1,"ti":2}"#,
            r#"{"k":"fr","id":"X","r":0.0001,"te":1,"ti":2}"#,
            r#"{"k":"fr","id":"X","r":"abc","te":1,"ti":2}"#,
            r#"{"k":"fr","id":"X","r":"0.0001","nf":"soon","te":1,"ti":2}"#,
            r#"{"k":"oi","id":"X","oi":null,"te":1,"ti":2}"#,
            r#"{"k":"oi","id":"X","oi":1.0,"v":"lots","te":1,"ti":2}"#,
            r#"{"k":"oi","id":"X","oi":1.0,"te":1}"#,
        ] {
            assert!(parse_line(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_failed_append_cannot_swallow_the_next_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path()).unwrap();
        spool.append_open_interest(&[oi(0)]).unwrap();
        // What a write that failed part-way (a full disk) leaves behind.
        let segment = spool.current.as_mut().unwrap();
        segment
            .writer
            .write_all(b"{\"k\":\"oi\",\"id\":\"BTC")
            .unwrap();
        segment.torn = true;
        spool.append_open_interest(&[oi(1)]).unwrap();
        spool.sync().unwrap();
        let rows = read_segment(&Spool::segments_in(dir.path()).unwrap()[0]).unwrap();
        assert_same_oi(&rows.open_interest, &[oi(0), oi(1)]);
        assert_eq!(rows.skipped, 1);
    }

    #[tokio::test]
    async fn a_drain_stores_what_this_process_appended_without_reading_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::from_storage(Storage::in_memory());
        let id = "BTCUSDT-PERP.BINANCE";
        // A segment an earlier run left (no copy in memory): read from its file.
        let mut earlier = Spool::open(dir.path()).unwrap();
        earlier.append_open_interest(&[oi(0)]).unwrap();
        earlier.sync().unwrap();
        drop(earlier);
        let mut spool = Spool::open(dir.path()).unwrap();
        spool.append_open_interest(&[oi(1), oi(2)]).unwrap();
        spool.sync().unwrap();
        // Garble this run's synced segment: only the rows kept in memory can be stored.
        let segments = Spool::segments_in(dir.path()).unwrap();
        std::fs::write(&segments[1], b"garbage\n").unwrap();
        let report = spool.drain_into(&catalog).await.unwrap();
        assert_eq!((report.segments, report.open_interest), (2, 3));
        assert_eq!(report.skipped_lines, 0);
        let (stored, _) = catalog.query::<OpenInterest>(&query_all(id)).await.unwrap();
        assert_same_oi(&stored, &[oi(0), oi(1), oi(2)]);
        // A failed append drops the copy in memory: the file then says what the segment holds.
        spool.append_open_interest(&[oi(3)]).unwrap();
        let segment = spool.current.as_mut().unwrap();
        segment
            .writer
            .write_all(b"{\"k\":\"oi\",\"id\":\"BTC")
            .unwrap();
        segment.torn = true;
        segment.mirror = None;
        spool.append_open_interest(&[oi(4)]).unwrap();
        let report = spool.drain_into(&catalog).await.unwrap();
        assert_eq!((report.open_interest, report.skipped_lines), (2, 1));
    }

    #[test]
    fn datasets_filled_together_are_due_at_spread_ages_never_past_the_longest() {
        const MINUTE: u64 = 60_000_000_000;
        let max_age_ns = 15 * MINUTE;
        // One snapshot job: a row for each of 300 instruments, all received at T0.
        let rows: Vec<OpenInterest> = (0..300)
            .map(|i| {
                let mut row = oi(0);
                row.instrument_id = InstrumentId::new_unchecked(format!("S{i}USDT-PERP.BINANCE"));
                row.ts_init = T0;
                row
            })
            .collect();
        let held_at = |minutes: u64| {
            let hold = Hold {
                below_rows: 100,
                max_age_ns,
                now_ns: T0 + minutes * MINUTE,
            };
            hold.hold_back(&mut rows.clone()).len()
        };
        let held: Vec<usize> = [7, 9, 11, 13, 15].into_iter().map(held_at).collect();
        // Nothing is due before half the longest age, everything at the longest...
        assert_eq!((held[0], held[4]), (300, 0), "{held:?}");
        // ...and in between, each drain writes a share, not everything at once.
        assert!(held.windows(2).all(|w| w[0] > w[1]), "{held:?}");
        let most_in_one_drain = held.windows(2).map(|w| w[0] - w[1]).max().unwrap();
        assert!(most_in_one_drain < 150, "{held:?}");
        // A dataset's due age is stable, and differs between kinds of the same instrument.
        let hold = Hold {
            below_rows: 100,
            max_age_ns,
            now_ns: T0,
        };
        let id = InstrumentId::new_unchecked("BTCUSDT-PERP.BINANCE");
        let due = |kind| hold.due_age_ns(kind, &id);
        assert_eq!(due(RecordKind::OpenInterest), due(RecordKind::OpenInterest));
        let kinds = [
            RecordKind::OpenInterest,
            RecordKind::FundingRate,
            RecordKind::MarkPrice,
            RecordKind::IndexPrice,
            RecordKind::Liquidation,
        ];
        let ages: HashSet<u64> = kinds.into_iter().map(due).collect();
        assert!(ages.len() > 1, "{ages:?}");
        assert!(
            ages.iter()
                .all(|a| (max_age_ns / 2..=max_age_ns).contains(a))
        );
    }

    #[tokio::test]
    async fn a_drain_holds_few_young_rows_and_hands_them_back_before_deleting_the_segment() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::from_storage(Storage::in_memory());
        let other = |mut o: OpenInterest, id: &str| {
            o.instrument_id = InstrumentId::new_unchecked(id);
            o
        };
        // BTC: one young snapshot (held); ETH: three (written: not below 3); SOL: one
        // received long ago (written: too old to hold); a young liquidation (held); a gap.
        let btc = oi(10);
        let eth: Vec<OpenInterest> = (8..11)
            .map(|i| other(oi(i), "ETHUSDT-PERP.BINANCE"))
            .collect();
        let sol = other(oi(0), "SOLUSDT-PERP.BINANCE");
        let mut liquidation = liq(1);
        liquidation.ts_init = btc.ts_init;
        let mut spool = Spool::open(dir.path()).unwrap();
        spool
            .append_open_interest(&[btc.clone(), sol.clone()])
            .unwrap();
        spool.append_open_interest(&eth).unwrap();
        spool
            .append_liquidations(std::slice::from_ref(&liquidation))
            .unwrap();
        let gap = Gap {
            venue: ccxt_registry::venue("binance"),
            stream: "forceOrder".into(),
            start_ns: 1,
            end_ns: 2,
            reason: "reconnect".into(),
            ts_init: btc.ts_init,
        };
        spool.append_gap(&gap).unwrap();
        let hold = Hold {
            below_rows: 3,
            max_age_ns: 5 * 60_000_000_000,
            now_ns: btc.ts_init + 60_000_000_000,
        };
        let segment = Spool::segments_in(dir.path()).unwrap()[0].clone();
        struct Collect {
            segment: PathBuf,
            kept: Vec<Held>,
            fail: bool,
        }
        impl KeepHeld for Collect {
            async fn keep(&mut self, held: Held) -> std::io::Result<()> {
                // The segment is still there when the held rows are handed back.
                assert!(self.segment.exists());
                if self.fail {
                    return Err(std::io::Error::other("no space left on device"));
                }
                self.kept.push(held);
                Ok(())
            }
        }
        let mut collect = Collect {
            segment: segment.clone(),
            kept: Vec::new(),
            fail: false,
        };
        let report = spool
            .seal()
            .unwrap()
            .drain_holding(&catalog, Some(hold), &mut collect)
            .await
            .unwrap();
        assert_eq!((report.held, report.written.rows_added), (2, 5));
        assert!(!segment.exists());
        let held = collect.kept.pop().unwrap();
        assert_same_oi(&held.open_interest, std::slice::from_ref(&btc));
        assert_eq!(held.liquidations, vec![liquidation]);
        let stored = |id: &'static str| {
            let catalog = &catalog;
            async move {
                catalog
                    .query::<OpenInterest>(&query_all(id))
                    .await
                    .unwrap()
                    .0
            }
        };
        assert!(stored("BTCUSDT-PERP.BINANCE").await.is_empty());
        assert_same_oi(&stored("ETHUSDT-PERP.BINANCE").await, &eth);
        assert_same_oi(&stored("SOLUSDT-PERP.BINANCE").await, &[sol]);
        // A keep that fails leaves the segment for the next drain, which stores it all once.
        spool
            .append_open_interest(std::slice::from_ref(&btc))
            .unwrap();
        let mut failing = Collect {
            segment: Spool::segments_in(dir.path()).unwrap()[0].clone(),
            kept: Vec::new(),
            fail: true,
        };
        let err = spool
            .seal()
            .unwrap()
            .drain_holding(&catalog, Some(hold), &mut failing)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no space left"), "{err}");
        let report = spool.drain_into(&catalog).await.unwrap();
        assert_eq!(
            (report.segments, report.held, report.written.rows_added),
            (1, 0, 1)
        );
        assert_same_oi(&stored("BTCUSDT-PERP.BINANCE").await, &[btc]);
    }

    #[tokio::test]
    async fn mixed_segments_drain_and_replays_store_nothing_new() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::from_storage(Storage::in_memory());
        let mut spool = Spool::open(dir.path()).unwrap();
        let liqs: Vec<Liquidation> = (0..5).map(liq).collect();
        let ois: Vec<OpenInterest> = (0..6).map(oi).collect();
        let funding: Vec<FundingRate> = (0..4)
            .map(|i| {
                fr(
                    i,
                    if i == 0 {
                        "-0.000012345678901234"
                    } else {
                        "0.00010"
                    },
                )
            })
            .collect();
        let gap = Gap {
            venue: ccxt_registry::venue("binance"),
            stream: "!forceOrder@arr".into(),
            start_ns: 10,
            end_ns: 20,
            reason: "server closed".into(),
            ts_init: 21,
        };
        spool.append_liquidations(&liqs[..2]).unwrap();
        spool.append_open_interest(&ois[..3]).unwrap();
        spool.append_funding(&funding[..2]).unwrap();
        spool.append_gap(&gap).unwrap();
        spool.sync().unwrap();
        let first = Spool::segments_in(dir.path()).unwrap()[0].clone();
        let copy = std::fs::read(&first).unwrap();
        // Close the first segment by reopening: the second run appends to a new one.
        drop(spool);
        let mut spool = Spool::open(dir.path()).unwrap();
        spool.append_funding(&funding[2..]).unwrap();
        spool.append_open_interest(&ois[3..]).unwrap();
        spool.append_liquidations(&liqs[2..]).unwrap();
        assert_eq!(spool.segments(), 2);
        let report = spool.drain_into(&catalog).await.unwrap();
        assert_eq!(
            (
                report.segments,
                report.liquidations,
                report.gaps,
                report.open_interest,
                report.funding,
                report.skipped_lines
            ),
            (2, 5, 1, 6, 4, 0)
        );
        assert_eq!(report.written.rows_added, 16);
        assert_eq!(spool.segments(), 0);
        assert_eq!(spool.pending_rows(), 0);

        // A crash after the catalog write but before the delete: the segment comes back.
        std::fs::write(&first, &copy).unwrap();
        let mut spool = Spool::open(dir.path()).unwrap();
        let report = spool.drain_into(&catalog).await.unwrap();
        assert_eq!(
            (report.segments, report.open_interest, report.funding),
            (1, 3, 2)
        );
        assert_eq!(report.written.rows_added, 0, "a replay stores nothing new");
        assert_eq!(report.written.duplicates, 8);

        let (stored, _) = catalog
            .query::<OpenInterest>(&query_all("BTCUSDT-PERP.BINANCE"))
            .await
            .unwrap();
        assert_same_oi(&stored, &ois);
        let (stored, _) = catalog
            .query::<FundingRate>(&query_all("ETHUSDT-PERP.BYBIT"))
            .await
            .unwrap();
        assert_same_funding(&stored, &funding);
        let (stored, _) = catalog
            .query::<Liquidation>(&query_all("BTCUSDT-PERP.BINANCE"))
            .await
            .unwrap();
        assert_eq!(stored, liqs);
    }

    #[tokio::test]
    async fn a_failed_drain_keeps_its_segment_and_later_rows() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("catalog");
        let (catalog, _) = Catalog::open_writable(root.to_str().unwrap())
            .await
            .unwrap();
        let mut spool = Spool::open(&dir.path().join("spool")).unwrap();
        // A regular file where the open-interest dataset directory must go: writes there fail,
        // even for root.
        let blocker = root
            .join(crate::naming::DATA_DIR)
            .join(crate::naming::class_dir(
                ccxt_model::RecordKind::OpenInterest,
            ))
            .join("BTCUSDT-PERP.BINANCE");
        std::fs::create_dir_all(blocker.parent().unwrap()).unwrap();
        std::fs::write(&blocker, b"not a directory").unwrap();

        let ois: Vec<OpenInterest> = (0..4).map(oi).collect();
        let funding: Vec<FundingRate> = (0..2).map(|i| fr(i, "0.0001")).collect();
        spool.append_liquidations(&[liq(0)]).unwrap();
        spool.append_open_interest(&ois[..2]).unwrap();
        spool.append_funding(&funding).unwrap();
        let err = spool.drain_into(&catalog).await.unwrap_err();
        assert!(
            err.to_string().contains("BTCUSDT-PERP.BINANCE"),
            "fails on the blocked dataset: {err}"
        );
        assert_eq!(spool.segments(), 1, "the failed segment is kept");
        assert_eq!(spool.pending_rows(), 0);

        // Rows that arrive after the failure go to a new segment.
        spool.append_open_interest(&ois[2..]).unwrap();
        assert_eq!(spool.pending_rows(), 2);
        assert!(spool.drain_into(&catalog).await.is_err());
        assert_eq!(spool.segments(), 2);

        std::fs::remove_file(&blocker).unwrap();
        let report = spool.drain_into(&catalog).await.unwrap();
        assert_eq!(
            (
                report.segments,
                report.liquidations,
                report.open_interest,
                report.funding
            ),
            (2, 1, 4, 2)
        );
        // The liquidation was stored by the first, failed drain; its replay is a duplicate.
        assert_eq!(report.written.rows_added, 6);
        assert_eq!(report.written.duplicates, 1);
        assert_eq!(spool.segments(), 0);
        let (stored, _) = catalog
            .query::<OpenInterest>(&query_all("BTCUSDT-PERP.BINANCE"))
            .await
            .unwrap();
        assert_same_oi(&stored, &ois);
        let (stored, _) = catalog
            .query::<FundingRate>(&query_all("ETHUSDT-PERP.BYBIT"))
            .await
            .unwrap();
        assert_same_funding(&stored, &funding);
    }
}
