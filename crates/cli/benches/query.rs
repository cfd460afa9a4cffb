//! Query benchmark: the real `ccxt-cli query --every`/`--by-asset` on a generated catalog.
//! Prints figures; asserts nothing about speed.
//!
//! `cargo bench -p ccxt-cli --bench query` (`-- --assets 5 --days 3` for a quick run): a
//! catalog of `--assets` (default 125) base assets listed on every installed venue (125 × 4 =
//! 500 instruments) × `--days` (default 30) days of 5-minute open interest (288 rows a day,
//! one file per day) and settled funding (every 8 hours; every hour where the venue's id is
//! Hyperliquid's, as the venues do), then:
//! `query oi --all --by-asset --every 1h`, `query funding --all --by-asset --every 1h`,
//! `query oi --all --every 1h` over the whole range, and a one-day `query oi` of every
//! instrument (no bucketing).
//!
//! For each run: rows read, wall time, rows/s, the CLI's CPU seconds and peak RSS (read from
//! /proc while it runs). Peak RSS should grow with the buckets (assets × hours), not with the
//! rows read: the bucketed query reads one instrument-day at a time.
//!
//! Then, when a Python with duckdb is found (`CCXT_BENCH_PYTHON`, else the CI venv
//! `target/ci-venv/bin/python`), DuckDB does the same `oi --by-asset --every 1h` aggregation on
//! the same files (`query_duckdb.py`), measured the same way (DuckDB uses every core).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use ccxt_catalog::Catalog;
use ccxt_model::time::{NANOS_PER_DAY, NANOS_PER_SECOND};
use ccxt_model::{FundingRate, InstrumentId, OpenInterest, SymbolInput};
use rust_decimal::Decimal;

mod common;
use common::{Figures, arg, measure, run_cli};

/// 2025-01-01T00:00:00Z.
const START_NS: u64 = 1_735_689_600 * NANOS_PER_SECOND;

/// The instruments: asset `SYM<k>` (USDT) on every installed venue, named by its grammar.
fn instruments(assets: usize) -> Vec<(InstrumentId, u16)> {
    if let Err(e) = ccxt_registry::install() {
        eprintln!("cannot install the venues: {e}");
        std::process::exit(1);
    }
    let mut out = Vec::new();
    for k in 0..assets {
        let symbol = match SymbolInput::parse(&format!("SYM{k}USDT")) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("bad generated symbol: {e}");
                std::process::exit(1);
            }
        };
        for venue in ccxt_model::venue::all() {
            if let Ok(i) = symbol.resolve(*venue) {
                // Hourly funding where the native symbol is a bare coin (Hyperliquid's form).
                let minutes = if i.native == format!("SYM{k}") {
                    60
                } else {
                    480
                };
                out.push((i.id, minutes));
            }
        }
    }
    out
}

/// Writes the catalog: per instrument and day, 288 open-interest rows and the day's settled
/// funding rates.
async fn generate(root: &Path, ids: &[(InstrumentId, u16)], days: u64) -> (u64, u64) {
    let catalog = match Catalog::open_writable(&root.display().to_string()).await {
        Ok((c, _)) => c,
        Err(e) => {
            eprintln!("cannot create the catalog: {e}");
            std::process::exit(1);
        }
    };
    let (mut oi_rows, mut funding_rows) = (0, 0);
    for (i, (id, minutes)) in ids.iter().enumerate() {
        for day in 0..days {
            let day_start = START_NS + day * NANOS_PER_DAY;
            let oi: Vec<OpenInterest> = (0..288u64)
                .map(|k| {
                    let t = day_start + k * 300 * NANOS_PER_SECOND;
                    OpenInterest {
                        instrument_id: id.clone(),
                        open_interest: 1000.0 + (i as f64) + (k as f64) * 0.001,
                        open_interest_value: Some(1.0e7 + k as f64),
                        ts_event: t,
                        ts_init: t,
                    }
                })
                .collect();
            let step = u64::from(*minutes) * 60 * NANOS_PER_SECOND;
            let funding: Vec<FundingRate> = (0..NANOS_PER_DAY / step)
                .map(|k| {
                    let t = day_start + k * step;
                    FundingRate {
                        instrument_id: id.clone(),
                        rate: Decimal::new(10_000 + (k as i64) * 7 + i as i64, 8),
                        interval_minutes: Some(*minutes),
                        next_funding_ns: None,
                        ts_event: t,
                        ts_init: t,
                    }
                })
                .collect();
            oi_rows += oi.len() as u64;
            funding_rows += funding.len() as u64;
            if let Err(e) = catalog.write(oi).await {
                eprintln!("write failed: {e}");
                std::process::exit(1);
            }
            if let Err(e) = catalog.write(funding).await {
                eprintln!("write failed: {e}");
                std::process::exit(1);
            }
        }
    }
    (oi_rows, funding_rows)
}

fn main() {
    let assets = arg("--assets", 125.0) as usize;
    let days = arg("--days", 30.0) as u64;
    let work = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("no temp dir: {e}");
            std::process::exit(1);
        }
    };
    let root = work.path().join("catalog");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("no runtime: {e}");
            std::process::exit(1);
        }
    };
    let ids = instruments(assets);
    let started = Instant::now();
    let (oi_rows, funding_rows) = runtime.block_on(generate(&root, &ids, days));
    println!(
        "catalog: {} instruments ({assets} assets) x {days} days: {oi_rows} oi rows, {funding_rows} funding rows, written in {:.1} s",
        ids.len(),
        started.elapsed().as_secs_f64()
    );
    let to = ccxt_model::time::format_iso(START_NS + days * NANOS_PER_DAY - 1);
    let cat = root.display().to_string();
    println!(
        "{:<40} {:>10} {:>9} {:>12} {:>8} {:>13}",
        "query", "rows read", "wall s", "rows/s", "cpu s", "peak RSS MiB"
    );
    let one_day = oi_rows / days.max(1);
    for (name, args, rows) in [
        (
            "oi --all --by-asset --every 1h",
            vec!["oi", "--all", "--by-asset", "--every", "1h"],
            oi_rows,
        ),
        (
            "funding --all --by-asset --every 1h",
            vec!["funding", "--all", "--by-asset", "--every", "1h"],
            funding_rows,
        ),
        (
            "oi --all --every 1h",
            vec!["oi", "--all", "--every", "1h"],
            oi_rows,
        ),
        (
            "oi, every instrument, one day",
            vec!["oi", "--from", "2025-01-02", "--to", "2025-01-02"],
            one_day,
        ),
    ] {
        let mut full = vec!["query"];
        full.extend(args.iter().copied());
        if !full.contains(&"2025-01-02") {
            full.extend(["--from", "2025-01-01", "--to", &to]);
        }
        full.extend(["--format", "csv", "--catalog", &cat]);
        let f = run_cli(&full);
        if !f.ok {
            eprintln!("{name} failed: {}", f.stderr.trim());
            std::process::exit(1);
        }
        print_row(name, rows, &f);
    }
    duckdb_peer(&cat, START_NS + days * NANOS_PER_DAY - 1, oi_rows);
}

fn print_row(name: &str, rows: u64, f: &Figures) {
    println!(
        "{:<40} {:>10} {:>9.2} {:>12.0} {:>8.2} {:>13.1}",
        name,
        rows,
        f.wall.as_secs_f64(),
        rows as f64 / f.wall.as_secs_f64(),
        f.cpu_s,
        f.peak_rss_mib,
    );
}

/// DuckDB's run of `oi --all --by-asset --every 1h` on the same files, when a Python with
/// duckdb is found; otherwise a line saying how to get one.
fn duckdb_peer(catalog: &str, end_ns: u64, oi_rows: u64) {
    let python = std::env::var("CCXT_BENCH_PYTHON").unwrap_or_else(|_| {
        let target = std::env::var("CARGO_TARGET_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target").to_string());
        format!("{target}/ci-venv/bin/python")
    });
    let has_duckdb = Command::new(&python)
        .args(["-c", "import duckdb"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_duckdb {
        println!(
            "duckdb: skipped (no Python with duckdb at {python}; set CCXT_BENCH_PYTHON or run .ci/run once)"
        );
        return;
    }
    let mut cmd = Command::new(&python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/query_duckdb.py"
    ))
    .arg(catalog)
    .arg(START_NS.to_string())
    .arg(end_ns.to_string());
    let f = measure(cmd);
    if !f.ok {
        eprintln!("duckdb failed: {}", f.stderr.trim());
        return;
    }
    print_row("duckdb: oi by asset, every 1h", oi_rows, &f);
}
