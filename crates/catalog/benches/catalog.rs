//! Catalog benchmark: prints figures, asserts nothing about speed.
//!
//! `cargo bench -p ccxt-catalog` (or `-- --instruments 50 --days 5` for a quick run):
//! 1. writes 10 million open-interest rows across 500 instruments and 30 days (20,000 rows per
//!    instrument, one write per instrument like a backfill, one file per instrument-day):
//!    rows/s, bytes/row, files, peak RSS;
//! 2. queries one instrument-day from that 500 × 30 catalog: wall time (first and median of
//!    50), files listed and opened.
//!
//! The catalog is left in `target/bench-catalog` (or `--dir`) so pyarrow and DuckDB can be
//! timed on the same files (`crates/catalog/benches/compare.py`).

use std::time::{Duration, Instant};

use ccxt_catalog::{Catalog, Query};
use ccxt_model::time::{NANOS_PER_DAY, NANOS_PER_SECOND};
use ccxt_model::{InstrumentId, OpenInterest};

const DAY0: u64 = 1_735_689_600 * NANOS_PER_SECOND;

struct Args {
    instruments: u64,
    days: u64,
    rows_per_instrument: u64,
    dir: std::path::PathBuf,
}

fn args() -> Args {
    let mut a = Args {
        instruments: 500,
        days: 30,
        rows_per_instrument: 20_000,
        dir: std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/bench-catalog"),
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--instruments" => a.instruments = value.parse().unwrap_or(a.instruments),
            "--days" => a.days = value.parse().unwrap_or(a.days),
            "--rows" => a.rows_per_instrument = value.parse().unwrap_or(a.rows_per_instrument),
            "--dir" => a.dir = value.into(),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}

fn cpu_seconds() -> f64 {
    // utime + stime from /proc/self/stat, in clock ticks (100 Hz on Linux).
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let fields: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(f64::NAN)
}

fn instrument(i: u64) -> InstrumentId {
    InstrumentId::new_unchecked(format!("SYM{i:04}USDT-PERP.BINANCE"))
}

fn dir_bytes(path: &std::path::Path) -> (u64, u64) {
    let mut bytes = 0;
    let mut files = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                files += 1;
                bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    (files, bytes)
}

#[tokio::main]
async fn main() {
    let a = args();
    let _ = std::fs::remove_dir_all(&a.dir);
    let location = a.dir.to_string_lossy().to_string();
    let (catalog, _) = match Catalog::open_writable(&location).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot open {location}: {e}");
            std::process::exit(1);
        }
    };
    let total = a.instruments * a.rows_per_instrument;
    let step = a.days * NANOS_PER_DAY / a.rows_per_instrument;
    println!(
        "write: {} rows = {} instruments x {} rows over {} days (one row every {:.1} s)",
        total,
        a.instruments,
        a.rows_per_instrument,
        a.days,
        step as f64 / 1e9
    );
    let cpu0 = cpu_seconds();
    let started = Instant::now();
    let mut encode_time = Duration::ZERO;
    for i in 0..a.instruments {
        let id = instrument(i);
        let t = Instant::now();
        let rows: Vec<OpenInterest> = (0..a.rows_per_instrument)
            .map(|k| {
                let ts = DAY0 + k * step;
                let oi = 50_000.0 + ((i * 7919 + k * 104_729) % 100_000) as f64 / 1000.0;
                OpenInterest {
                    instrument_id: id.clone(),
                    open_interest: oi,
                    open_interest_value: Some(oi * 94_000.5),
                    ts_event: ts,
                    ts_init: ts,
                }
            })
            .collect();
        encode_time += t.elapsed();
        if let Err(e) = catalog.write(rows).await {
            eprintln!("write failed: {e}");
            std::process::exit(1);
        }
    }
    let elapsed = started.elapsed();
    let cpu = cpu_seconds() - cpu0;
    let (files, bytes) = dir_bytes(&a.dir);
    println!(
        "write: {:.1} s wall, {:.1} s CPU, {:.0} rows/s, {} files, {:.1} MiB, {:.2} bytes/row, peak RSS {:.0} MiB (row generation {:.2} s included)",
        elapsed.as_secs_f64(),
        cpu,
        total as f64 / elapsed.as_secs_f64(),
        files,
        bytes as f64 / 1_048_576.0,
        bytes as f64 / total as f64,
        peak_rss_mib(),
        encode_time.as_secs_f64(),
    );

    // Query one instrument-day from a freshly opened catalog.
    let reader = match Catalog::open(&location) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot reopen {location}: {e}");
            std::process::exit(1);
        }
    };
    let day = DAY0 + (a.days / 2) * NANOS_PER_DAY;
    let query = Query {
        instruments: vec![instrument(a.instruments / 2)],
        start: day,
        end: day + NANOS_PER_DAY - 1,
        limit: None,
    };
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..51 {
        let t = Instant::now();
        match reader.query::<OpenInterest>(&query).await {
            Ok(r) => last = Some(r),
            Err(e) => {
                eprintln!("query failed: {e}");
                std::process::exit(1);
            }
        }
        times.push(t.elapsed());
    }
    let first = times[0];
    let mut rest = times[1..].to_vec();
    rest.sort();
    if let Some((rows, stats)) = last {
        println!(
            "query one instrument-day of {} x {}: {} rows, first {:.2} ms, median {:.2} ms, p90 {:.2} ms; files listed {}, opened {}, row groups read {}",
            a.instruments,
            a.days,
            rows.len(),
            first.as_secs_f64() * 1e3,
            rest[rest.len() / 2].as_secs_f64() * 1e3,
            rest[rest.len() * 9 / 10].as_secs_f64() * 1e3,
            stats.files_listed,
            stats.files_opened,
            stats.row_groups_read,
        );
    }
    println!("catalog left at {location}");
}
