//! Export benchmark: the real `ccxt-cli export` on a generated catalog. Prints figures; asserts
//! nothing about speed.
//!
//! `cargo bench -p ccxt-cli --bench export` (`-- --instruments 20 --days 3` for a quick run):
//! a catalog of `--instruments` (default 100) Binance instruments × `--days` (default 30) days of
//! 5-minute open interest (288 rows a day, one file per day) and mark prices (one a minute,
//! 8 decimals), then `export oi --all` and `export mark --all` to one Parquet file, `export oi
//! --all --partition` and `export mark --all --format csv`.
//!
//! For each run: rows, wall time, rows/s, the CLI's CPU seconds and peak RSS (read from /proc
//! while it runs), bytes written. Peak RSS should not grow with `--days`: the export holds one
//! instrument-day at a time.

use std::path::Path;
use std::time::Instant;

use ccxt_catalog::Catalog;
use ccxt_model::time::{NANOS_PER_DAY, NANOS_PER_SECOND};
use ccxt_model::{InstrumentId, MarkPrice, OpenInterest};
use rust_decimal::Decimal;

mod common;
use common::{arg, run_cli};

/// 2025-01-01T00:00:00Z.
const START_NS: u64 = 1_735_689_600 * NANOS_PER_SECOND;

/// Writes the catalog: per instrument and day, 288 open-interest rows and 1440 mark prices.
async fn generate(root: &Path, instruments: usize, days: u64) -> (u64, u64) {
    let catalog = match Catalog::open_writable(&root.display().to_string()).await {
        Ok((c, _)) => c,
        Err(e) => {
            eprintln!("cannot create the catalog: {e}");
            std::process::exit(1);
        }
    };
    let (mut oi_rows, mut mark_rows) = (0, 0);
    for i in 0..instruments {
        let id = InstrumentId::new_unchecked(format!("SYM{i}USDT-PERP.BINANCE"));
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
            let marks: Vec<MarkPrice> = (0..1440u64)
                .map(|k| {
                    let t = day_start + k * 60 * NANOS_PER_SECOND;
                    let cents = 9_400_000_000_000i64 + (k as i64) * 12_345 + i as i64;
                    MarkPrice {
                        instrument_id: id.clone(),
                        value: Decimal::new(cents, 8),
                        ts_event: t,
                        ts_init: t + 85_000_000,
                    }
                })
                .collect();
            oi_rows += oi.len() as u64;
            mark_rows += marks.len() as u64;
            if let Err(e) = catalog.write(oi).await {
                eprintln!("write failed: {e}");
                std::process::exit(1);
            }
            if let Err(e) = catalog.write(marks).await {
                eprintln!("write failed: {e}");
                std::process::exit(1);
            }
        }
    }
    (oi_rows, mark_rows)
}

fn dir_bytes(path: &Path) -> u64 {
    if path.is_file() {
        return path.metadata().map(|m| m.len()).unwrap_or(0);
    }
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| dir_bytes(&e.path())).sum())
        .unwrap_or(0)
}

fn main() {
    let instruments = arg("--instruments", 100.0) as usize;
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
    let started = Instant::now();
    let (oi_rows, mark_rows) = runtime.block_on(generate(&root, instruments, days));
    println!(
        "catalog: {instruments} instruments x {days} days: {oi_rows} oi rows, {mark_rows} mark rows, {:.1} MiB, written in {:.1} s",
        dir_bytes(&root) as f64 / 1048576.0,
        started.elapsed().as_secs_f64()
    );
    let to = ccxt_model::time::format_iso(START_NS + days * NANOS_PER_DAY - 1);
    let cat = root.display().to_string();
    println!(
        "{:<34} {:>10} {:>9} {:>12} {:>8} {:>13} {:>10}",
        "export", "rows", "wall s", "rows/s", "cpu s", "peak RSS MiB", "MiB out"
    );
    for (name, what, rows, extra) in [
        ("oi --all (parquet)", "oi", oi_rows, &[][..]),
        ("oi --all --partition", "oi", oi_rows, &["--partition"][..]),
        ("mark --all (parquet, decimal)", "mark", mark_rows, &[][..]),
        ("mark --all --float", "mark", mark_rows, &["--float"][..]),
        (
            "mark --all --format csv",
            "mark",
            mark_rows,
            &["--format", "csv"][..],
        ),
    ] {
        let out = work.path().join(format!(
            "out-{}",
            name.replace([' ', '-', '(', ')', ','], "")
        ));
        let out_s = out.display().to_string();
        let mut args = vec![
            "export",
            what,
            "--all",
            "--from",
            "2025-01-01",
            "--to",
            &to,
            "--catalog",
            &cat,
            "--out",
            &out_s,
        ];
        args.extend_from_slice(extra);
        let f = run_cli(&args);
        if !f.ok {
            eprintln!("{name} failed: {}", f.stderr.trim());
            std::process::exit(1);
        }
        println!(
            "{:<34} {:>10} {:>9.2} {:>12.0} {:>8.2} {:>13.1} {:>10.1}",
            name,
            rows,
            f.wall.as_secs_f64(),
            rows as f64 / f.wall.as_secs_f64(),
            f.cpu_s,
            f.peak_rss_mib,
            dir_bytes(&out) as f64 / 1048576.0,
        );
    }
}
