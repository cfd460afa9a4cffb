//! Object-store benchmark on the local S3 simulator (`ccxt-s3-sim`): prints figures, asserts
//! nothing about speed.
//!
//! `cargo bench -p ccxt-catalog --bench object_store` (flags after `--`, or env vars):
//! 1. write: the same open-interest rows (`--write-instruments` × `--write-days` days of
//!    5-minute rows, one write per instrument-day like the daemon's flushes) to a local
//!    directory and to the S3 simulator: rows/s each, and the S3 requests per write;
//! 2. open + info: a catalog of `--instruments` × `--days` (default 600 × 30) one-day OI files
//!    on the simulator, generated once on local disk and placed in the simulator's directory
//!    directly: time to open it and run `catalog info` (one LIST per dataset, one ranged GET
//!    per footer), and the requests that took. `CCXT_BENCH_INSTRUMENTS` / `CCXT_BENCH_DAYS`
//!    override the size.

use std::path::Path;
use std::time::Instant;

use ccxt_catalog::Catalog;
use ccxt_model::time::{NANOS_PER_DAY, NANOS_PER_SECOND};
use ccxt_model::{InstrumentId, OpenInterest};
use ccxt_s3_sim::{RequestCounts, S3Sim};

const DAY0: u64 = 1_735_689_600 * NANOS_PER_SECOND;

struct Args {
    write_instruments: u64,
    write_days: u64,
    instruments: u64,
    days: u64,
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn args() -> Args {
    let mut a = Args {
        write_instruments: env_or("CCXT_BENCH_WRITE_INSTRUMENTS", 50),
        write_days: env_or("CCXT_BENCH_WRITE_DAYS", 2),
        instruments: env_or("CCXT_BENCH_INSTRUMENTS", 600),
        days: env_or("CCXT_BENCH_DAYS", 30),
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let value = argv.get(i + 1).and_then(|v| v.parse().ok());
        let slot = match argv[i].as_str() {
            "--write-instruments" => &mut a.write_instruments,
            "--write-days" => &mut a.write_days,
            "--instruments" => &mut a.instruments,
            "--days" => &mut a.days,
            _ => {
                i += 1;
                continue;
            }
        };
        if let Some(v) = value {
            *slot = v;
        }
        i += 2;
    }
    a
}

fn instrument(i: u64) -> InstrumentId {
    InstrumentId::new_unchecked(format!("SYM{i:04}USDT-PERP.BINANCE"))
}

/// One day of 5-minute open interest for instrument `i`.
fn day_rows(i: u64, day: u64) -> Vec<OpenInterest> {
    let id = instrument(i);
    (0..288u64)
        .map(|k| {
            let ts = DAY0 + day * NANOS_PER_DAY + k * 300 * NANOS_PER_SECOND;
            let oi = 50_000.0 + ((i * 7919 + k * 104_729) % 100_000) as f64 / 1000.0;
            OpenInterest {
                instrument_id: id.clone(),
                open_interest: oi,
                open_interest_value: Some(oi * 94_000.5),
                ts_event: ts,
                ts_init: ts,
            }
        })
        .collect()
}

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("{what}: {e}");
    std::process::exit(1);
}

fn diff(a: RequestCounts, b: RequestCounts) -> RequestCounts {
    RequestCounts {
        get: b.get - a.get,
        put: b.put - a.put,
        head: b.head - a.head,
        list: b.list - a.list,
        delete: b.delete - a.delete,
        copy: b.copy - a.copy,
        post: b.post - a.post,
    }
}

/// Writes the bench rows through `catalog`, one write per instrument-day. Returns rows/s.
async fn write_all(catalog: &Catalog, a: &Args) -> (u64, f64) {
    let started = Instant::now();
    let mut rows_written = 0;
    for day in 0..a.write_days {
        for i in 0..a.write_instruments {
            let rows = day_rows(i, day);
            rows_written += rows.len() as u64;
            if let Err(e) = catalog.write(rows).await {
                fail("write failed", e);
            }
        }
    }
    (
        rows_written,
        rows_written as f64 / started.elapsed().as_secs_f64(),
    )
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if entry.path().extension().is_some_and(|e| e == "parquet") {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let a = args();
    let tmp = tempfile::tempdir().unwrap_or_else(|e| fail("tempdir", e));
    let sim = S3Sim::start(&tmp.path().join("s3"))
        .await
        .unwrap_or_else(|e| fail("cannot start the S3 simulator", e));

    // 1. The same rows to the local disk and to S3.
    let writes = a.write_instruments * a.write_days;
    println!(
        "write: {} instruments x {} days of 5-minute OI ({} writes of 288 rows)",
        a.write_instruments, a.write_days, writes
    );
    let local_dir = tmp.path().join("local");
    let (local, _) = Catalog::open_writable(&local_dir.to_string_lossy())
        .await
        .unwrap_or_else(|e| fail("open local", e));
    let (rows, local_rate) = write_all(&local, &a).await;
    println!("write local disk: {rows} rows, {local_rate:.0} rows/s");
    let options = sim.options();
    let (remote, _) = Catalog::open_writable_as(
        &sim.url("bench-write"),
        &options,
        "bench",
        ccxt_catalog::LockScope::Catalog,
        None,
    )
    .await
    .unwrap_or_else(|e| fail("open s3", e));
    let before = sim.requests();
    let (rows, s3_rate) = write_all(&remote, &a).await;
    let used = diff(before, sim.requests());
    println!(
        "write S3 sim:     {rows} rows, {s3_rate:.0} rows/s ({:.0}% of local); per write of one instrument-day: {:.2} PUT, {:.2} GET, {:.2} HEAD, {:.2} LIST, {:.2} DELETE+POST",
        100.0 * s3_rate / local_rate,
        used.put as f64 / writes as f64,
        used.get as f64 / writes as f64,
        used.head as f64 / writes as f64,
        used.list as f64 / writes as f64,
        (used.delete + used.post) as f64 / writes as f64,
    );
    remote.close().await;

    // 2. Open + info of instruments x days on S3, files generated on local disk first.
    let files = a.instruments * a.days;
    println!(
        "open+info: {} instruments x {} days = {} files of 288 rows",
        a.instruments, a.days, files
    );
    let t = Instant::now();
    let gen_dir = tmp.path().join("gen");
    {
        let (generator, _) = Catalog::open_writable(&gen_dir.to_string_lossy())
            .await
            .unwrap_or_else(|e| fail("open generator", e));
        for i in 0..a.instruments {
            let mut rows = Vec::with_capacity(288 * a.days as usize);
            for day in 0..a.days {
                rows.extend(day_rows(i, day));
            }
            if let Err(e) = generator.write(rows).await {
                fail("generate", e);
            }
        }
    }
    copy_tree(&gen_dir, &sim.local_path("bench-info")).unwrap_or_else(|e| fail("copy", e));
    println!("generated in {:.1} s", t.elapsed().as_secs_f64());
    let before = sim.requests();
    let t = Instant::now();
    let reader =
        Catalog::open_with(&sim.url("bench-info"), &options).unwrap_or_else(|e| fail("open", e));
    let opened = t.elapsed();
    let info = reader.info().await.unwrap_or_else(|e| fail("info", e));
    let total = t.elapsed();
    let used = diff(before, sim.requests());
    let rows: u64 = info.iter().map(|d| d.rows).sum();
    println!(
        "open S3 {:.2} ms; info {:.2} s for {} datasets, {} rows ({} LIST, {} GET, {} HEAD requests)",
        opened.as_secs_f64() * 1e3,
        total.as_secs_f64(),
        info.len(),
        rows,
        used.list,
        used.get,
        used.head,
    );
}
