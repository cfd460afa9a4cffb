//! The write-ahead spool in front of the catalog for streamed data.
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

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use ccxt_model::{Gap, InstrumentId, Liquidation, LiquidationSource, PositionSide, Venue};
use serde_json::{Value, json};

use crate::error::{CatalogError, Result};
use crate::{Catalog, WriteReport};

/// An open spool directory with one segment being appended to.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    next_segment: u64,
    current: Option<Segment>,
}

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    writer: BufWriter<File>,
    rows: usize,
    dirty: bool,
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
    /// Lines that could not be read (torn by a crash) and were skipped.
    pub skipped_lines: usize,
    /// What the catalog writes did.
    pub written: WriteReport,
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
            });
        }
        self.current
            .as_mut()
            .ok_or_else(|| io_error(&self.dir, std::io::Error::other("no spool segment")))
    }

    fn append_line(&mut self, line: Value) -> Result<()> {
        let segment = self.segment()?;
        let path = segment.path.clone();
        serde_json::to_writer(&mut segment.writer, &line)
            .map_err(|e| io_error(&path, std::io::Error::other(e)))?;
        segment
            .writer
            .write_all(b"\n")
            .map_err(|e| io_error(&path, e))?;
        segment.rows += 1;
        segment.dirty = true;
        Ok(())
    }

    /// Appends liquidations (buffered; durable after the next [`Spool::sync`]).
    pub fn append_liquidations(&mut self, rows: &[Liquidation]) -> Result<()> {
        for row in rows {
            self.append_line(liquidation_json(row))?;
        }
        Ok(())
    }

    /// Appends a gap (buffered; durable after the next [`Spool::sync`]).
    pub fn append_gap(&mut self, gap: &Gap) -> Result<()> {
        self.append_line(gap_json(gap))
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
    /// deleting each one after its rows are stored. New appends start a new segment.
    pub async fn drain_into(&mut self, catalog: &Catalog) -> Result<DrainReport> {
        self.sync()?;
        self.current = None;
        let mut report = DrainReport::default();
        for path in Spool::segments_in(&self.dir)? {
            let (liquidations, gaps, skipped) = read_segment(&path)?;
            report.liquidations += liquidations.len();
            report.gaps += gaps.len();
            report.skipped_lines += skipped;
            report.written.add(catalog.write(liquidations).await?);
            report.written.add(catalog.write(gaps).await?);
            std::fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
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

fn liquidation_json(r: &Liquidation) -> Value {
    json!({
        "k": "liq",
        "id": r.instrument_id.as_str(),
        "side": r.side.as_str(),
        "os": r.order_side,
        "q": r.quantity,
        "p": r.price,
        "v": r.value,
        "src": r.source.as_str(),
        "m": r.method,
        "tid": r.trade_id,
        "te": r.ts_event,
        "ti": r.ts_init,
    })
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

enum Line {
    Liquidation(Liquidation),
    Gap(Gap),
}

fn parse_line(text: &str) -> Option<Line> {
    let v: Value = serde_json::from_str(text).ok()?;
    let str_of = |k: &str| v.get(k).and_then(Value::as_str);
    let u64_of = |k: &str| v.get(k).and_then(Value::as_u64);
    let f64_of = |k: &str| v.get(k).and_then(Value::as_f64);
    let opt = |k: &str| str_of(k).map(str::to_string);
    match str_of("k")? {
        "liq" => Some(Line::Liquidation(Liquidation {
            instrument_id: InstrumentId::new_unchecked(str_of("id")?),
            side: PositionSide::parse(str_of("side")?)?,
            order_side: str_of("os")?.to_string(),
            quantity: f64_of("q")?,
            price: f64_of("p")?,
            value: f64_of("v")?,
            source: LiquidationSource::parse(str_of("src")?)?,
            method: opt("m"),
            trade_id: opt("tid"),
            ts_event: u64_of("te")?,
            ts_init: u64_of("ti")?,
        })),
        "gap" => Some(Line::Gap(Gap {
            venue: str_of("venue")?.parse::<Venue>().ok()?,
            stream: str_of("stream")?.to_string(),
            start_ns: u64_of("from")?,
            end_ns: u64_of("to")?,
            reason: str_of("reason")?.to_string(),
            ts_init: u64_of("ti")?,
        })),
        _ => None,
    }
}

/// Reads one segment; unreadable lines (a torn tail after a crash) are counted and skipped.
fn read_segment(path: &Path) -> Result<(Vec<Liquidation>, Vec<Gap>, usize)> {
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    let (mut liquidations, mut gaps, mut skipped) = (Vec::new(), Vec::new(), 0);
    for line in BufReader::new(file).split(b'\n') {
        let line = line.map_err(|e| io_error(path, e))?;
        if line.is_empty() {
            continue;
        }
        match std::str::from_utf8(&line).ok().and_then(parse_line) {
            Some(Line::Liquidation(l)) => liquidations.push(l),
            Some(Line::Gap(g)) => gaps.push(g),
            None => skipped += 1,
        }
    }
    if skipped > 0 {
        tracing::warn!(segment = %path.display(), skipped, "skipped unreadable spool lines (torn by a crash)");
    }
    Ok((liquidations, gaps, skipped))
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

    #[tokio::test]
    async fn rows_survive_the_spool_exactly_and_replays_store_them_once() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::from_storage(Storage::in_memory());
        let mut spool = Spool::open(dir.path()).unwrap();
        let rows: Vec<Liquidation> = (0..100).map(liq).collect();
        spool.append_liquidations(&rows).unwrap();
        let gap = Gap {
            venue: Venue::Bybit,
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
}
