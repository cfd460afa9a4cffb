//! End-to-end: `ccxt-cli catalog verify` on the demo catalog (clean except what the demo
//! deliberately lacks) and on a copy of it with one planted problem of each kind, which verify
//! finds, each one and nothing else; `--repair` merges what merging repairs; exit codes.
//!
//! Every range is explicit or taken from the data, so nothing depends on the wall clock.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{Array, Float64Array, RecordBatch};
use arrow_schema::Schema;
use exchange_sim::{SimConfig, SimHandle};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

mod common;

/// 2025-01-02T03:00:00Z, when the demo's Binance liquidation stream has a recorded gap.
const GAP_BINANCE: u64 = 1_735_786_800_000_000_000;
const FIVE_MIN: u64 = 300_000_000_000;

fn demo(dir: &Path) {
    let out = common::clean_cli()
        .args(["catalog", "demo"])
        .arg(dir)
        .args(["--days", "3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

fn verify(catalog: &Path, extra: &[&str]) -> Output {
    common::clean_cli()
        .args(["catalog", "verify", "--format", "json", "--catalog"])
        .arg(catalog)
        .args(extra)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn findings(o: &Output) -> Vec<Value> {
    serde_json::from_slice::<Value>(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} {}", String::from_utf8_lossy(&o.stdout), stderr(o)))
        .as_array()
        .unwrap()
        .clone()
}

/// (kind, instrument) of each finding.
fn kinds(found: &[Value]) -> BTreeSet<(String, String)> {
    found
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["instrument"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// What the demo catalog deliberately lacks: two hours of Hyperliquid BTC trade bars (a
/// venue's hole, unexplained) and one recorded stream gap per venue.
fn demo_findings() -> BTreeSet<(String, String)> {
    [
        ("hole", "BTC-USD-PERP.HYPERLIQUID-1-HOUR-LAST-EXTERNAL"),
        ("stream-gap", "BINANCE"),
        ("stream-gap", "BYBIT"),
        ("stream-gap", "HYPERLIQUID"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

/// The only file of a dataset directory whose name starts with `prefix`.
fn file_of(catalog: &Path, dir: &str, prefix: &str) -> PathBuf {
    let listing = std::fs::read_dir(catalog.join("data").join(dir)).unwrap_or_else(|e| {
        let all: Vec<String> = walk(&catalog.join("data"));
        panic!("{dir}: {e}; the catalog holds {all:#?}")
    });
    let mut found: Vec<PathBuf> = listing
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    assert_eq!(found.len(), 1, "{dir} {prefix}");
    found.pop().unwrap()
}

/// The largest file of a dataset directory.
fn biggest_file(catalog: &Path, dir: &str) -> PathBuf {
    let all = walk(&catalog.join("data").join(dir));
    let path = all
        .iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap_or_else(|| panic!("{dir}: nothing stored; {:#?}", walk(&catalog.join("data"))));
    PathBuf::from(path)
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

/// The file's schema (with its metadata) and its rows, one single-row batch each.
fn rows(path: &Path) -> (Arc<Schema>, Vec<RecordBatch>) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let schema = builder.schema().clone();
    let mut out = Vec::new();
    for batch in builder.build().unwrap() {
        let batch = batch.unwrap().with_schema(schema.clone()).unwrap();
        for i in 0..batch.num_rows() {
            out.push(batch.slice(i, 1));
        }
    }
    (schema, out)
}

/// Writes `rows` under `schema` to `path`, in the order given.
fn write(path: &Path, schema: Arc<Schema>, rows: &[RecordBatch]) {
    let mut writer =
        ArrowWriter::try_new(File::create(path).unwrap(), schema.clone(), None).unwrap();
    for row in rows {
        writer
            .write(&RecordBatch::try_new(schema.clone(), row.columns().to_vec()).unwrap())
            .unwrap();
    }
    writer.close().unwrap();
}

fn ts_init(row: &RecordBatch) -> u64 {
    row.column_by_name("ts_init")
        .unwrap()
        .as_primitive::<UInt64Type>()
        .value(0)
}

/// `row` with column `name` replaced by `column`.
fn with_column(row: &RecordBatch, name: &str, column: Arc<dyn Array>) -> RecordBatch {
    let index = row.schema().index_of(name).unwrap();
    let mut columns = row.columns().to_vec();
    columns[index] = column;
    RecordBatch::try_new(row.schema(), columns).unwrap()
}

/// The file name of a file holding rows from `start` to `end` (UNIX ns).
fn name(start: u64, end: u64) -> String {
    let iso = |ns: u64| {
        let t = ccxt_model::time::format_iso(ns - ns % 1_000_000_000);
        // 2025-01-01T00:00:00Z -> 2025-01-01T00-00-00-nnnnnnnnnZ
        format!(
            "{}-{:09}Z",
            t.trim_end_matches('Z').replace(':', "-"),
            ns % 1_000_000_000
        )
    };
    format!("{}_{}.parquet", iso(start), iso(end))
}

/// Plants one problem of each kind into a demo catalog; returns what verify must find
/// besides the demo's own findings.
fn plant(catalog: &Path) -> BTreeSet<(String, String)> {
    let mut expected = BTreeSet::new();
    let mut expect = |kind: &str, instrument: &str| {
        expected.insert((kind.to_string(), instrument.to_string()));
    };

    // A duplicate row within a file.
    let path = file_of(
        catalog,
        "custom_liquidation/BTCUSDT-PERP.BINANCE",
        "2025-01-01",
    );
    let (schema, mut r) = rows(&path);
    r.insert(5, r[5].clone());
    write(&path, schema, &r);
    expect("duplicate", "BTCUSDT-PERP.BINANCE");

    // Overlapping files: one day split in two, the second named from the first's last row.
    let dir = "custom_open_interest/ETHUSDT-LINEAR.BYBIT";
    let path = file_of(catalog, dir, "2025-01-01");
    let (schema, r) = rows(&path);
    std::fs::remove_file(&path).unwrap();
    let (a, b) = r.split_at(100);
    let dir_path = catalog.join("data").join(dir);
    write(
        &dir_path.join(name(ts_init(&a[0]), ts_init(&a[99]))),
        schema.clone(),
        a,
    );
    write(
        &dir_path.join(name(ts_init(&a[99]), ts_init(b.last().unwrap()))),
        schema,
        b,
    );
    expect("overlap", "ETHUSDT-LINEAR.BYBIT");

    // An unsorted file.
    let path = file_of(
        catalog,
        "mark_price_update/ETHUSDT-PERP.BINANCE",
        "2025-01-02",
    );
    let (schema, mut r) = rows(&path);
    r.swap(10, 11);
    write(&path, schema, &r);
    expect("unsorted", "ETHUSDT-PERP.BINANCE");

    // A bar whose high is its low.
    let dir = "bar/BTCUSDT-PERP.BINANCE-1-HOUR-LAST-EXTERNAL";
    let path = file_of(catalog, dir, "2025-01-01");
    let (schema, mut r) = rows(&path);
    let low = r[5].column_by_name("low").unwrap().clone();
    r[5] = with_column(&r[5], "high", low);
    write(&path, schema, &r);
    expect("bad-bar", "BTCUSDT-PERP.BINANCE-1-HOUR-LAST-EXTERNAL");

    // Zero open interest.
    let path = file_of(
        catalog,
        "custom_open_interest/BTCUSDT-PERP.BINANCE",
        "2025-01-01",
    );
    let (schema, mut r) = rows(&path);
    r[100] = with_column(
        &r[100],
        "open_interest",
        Arc::new(Float64Array::from(vec![0.0])),
    );
    write(&path, schema, &r);
    expect("non-positive-oi", "BTCUSDT-PERP.BINANCE");

    // An outlier: ten times the open interest.
    let path = file_of(
        catalog,
        "custom_open_interest/ETH-USD-PERP.HYPERLIQUID",
        "2025-01-02",
    );
    let (schema, mut r) = rows(&path);
    let oi = r[50]
        .column_by_name("open_interest")
        .unwrap()
        .as_primitive::<arrow_array::types::Float64Type>()
        .value(0);
    r[50] = with_column(
        &r[50],
        "open_interest",
        Arc::new(Float64Array::from(vec![oi * 10.0])),
    );
    write(&path, schema, &r);
    expect("outlier", "ETH-USD-PERP.HYPERLIQUID");

    // A file without the schema metadata NautilusTrader needs.
    let path = file_of(
        catalog,
        "index_price_update/ETHUSDT-LINEAR.BYBIT",
        "2025-01-03",
    );
    let (schema, r) = rows(&path);
    let bare = Arc::new(Schema::new(schema.fields().clone()));
    write(&path, bare, &r);
    expect("missing-metadata", "ETHUSDT-LINEAR.BYBIT");

    // Rows outside the interval the file name claims: the last row is past the name's end.
    let dir = "custom_liquidation/ETHUSDT-PERP.BINANCE";
    let path = file_of(catalog, dir, "2025-01-01");
    let (_, r) = rows(&path);
    let narrower = name(ts_init(&r[0]), ts_init(&r[r.len() - 2]));
    std::fs::rename(&path, catalog.join("data").join(dir).join(narrower)).unwrap();
    expect("outside-file", "ETHUSDT-PERP.BINANCE");

    // A temporary file of an interrupted write, and a Parquet file not named by us (a copy of
    // a real file: its rows duplicate the original's, so it is a duplicate too).
    let dir = catalog.join("data/custom_open_interest/ETH-USD-PERP.HYPERLIQUID");
    std::fs::write(
        dir.join("2025-01-05T00-00-00-000000000Z_2025-01-05T00-00-00-000000000Z.parquet.1.tmp"),
        b"half",
    )
    .unwrap();
    expect("temp-file", "ETH-USD-PERP.HYPERLIQUID");
    let dir = catalog.join("data/mark_price_update/BTCUSDT-LINEAR.BYBIT");
    let original = file_of(
        catalog,
        "mark_price_update/BTCUSDT-LINEAR.BYBIT",
        "2025-01-03",
    );
    std::fs::copy(&original, dir.join("part-0.parquet")).unwrap();
    expect("foreign-name", "BTCUSDT-LINEAR.BYBIT");
    expect("duplicate", "BTCUSDT-LINEAR.BYBIT");

    // A corrupt file.
    std::fs::write(
        catalog
            .join("data/custom_liquidation/ETHUSDT-LINEAR.BYBIT")
            .join("2025-02-01T00-00-00-000000000Z_2025-02-01T01-00-00-000000000Z.parquet"),
        b"not parquet at all",
    )
    .unwrap();
    expect("corrupt-file", "ETHUSDT-LINEAR.BYBIT");

    // An unexplained hole: one settled funding time removed.
    let path = file_of(
        catalog,
        "funding_rate_update/BTCUSDT-LINEAR.BYBIT",
        "2025-01-01",
    );
    let (schema, mut r) = rows(&path);
    let settled_at = GAP_BINANCE + 5 * 3_600_000_000_000; // 2025-01-02T08:00:00Z
    let before = r.len();
    r.retain(|row| {
        !(ts_init(row) == settled_at && row.column_by_name("next_funding_ns").unwrap().is_null(0))
    });
    assert_eq!(r.len(), before - 1);
    write(&path, schema, &r);
    expect("hole", "BTCUSDT-LINEAR.BYBIT");

    // A hole during Binance's recorded stream gap: explained.
    let path = file_of(
        catalog,
        "custom_open_interest/BTCUSDT-PERP.BINANCE",
        "2025-01-02",
    );
    let (schema, mut r) = rows(&path);
    let before = r.len();
    r.retain(|row| !(GAP_BINANCE - FIVE_MIN..=GAP_BINANCE + FIVE_MIN).contains(&ts_init(row)));
    assert_eq!(r.len(), before - 3);
    write(&path, schema, &r);
    expect("explained-hole", "BTCUSDT-PERP.BINANCE");
    expected
}

#[test]
fn the_demo_catalog_lacks_only_what_it_means_to() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path());
    let out = verify(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let found = findings(&out);
    assert_eq!(kinds(&found), demo_findings());
    assert_eq!(found.len(), 4);
    let hole = found.iter().find(|f| f["kind"] == "hole").unwrap();
    assert_eq!(hole["from"], "2025-01-02T06:00:00Z");
    assert_eq!(hole["to"], "2025-01-02T08:00:00Z");
    assert!(hole["detail"].as_str().unwrap().contains("2 bar(s)"));
    assert!(
        stderr(&out).contains("4 finding(s): 1 hole, 3 stream-gap"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn planted_problems_are_each_found_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path());
    let mut expected = plant(dir.path());
    expected.extend(demo_findings());
    let out = verify(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let found = findings(&out);
    assert_eq!(kinds(&found), expected, "{found:#?}");
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    let of = |kind: &str| found.iter().find(|f| f["kind"] == kind).unwrap();
    assert!(
        of("corrupt-file")["file"]
            .as_str()
            .unwrap()
            .starts_with("2025-02-01T00-00-00")
    );
    assert!(
        of("missing-metadata")["detail"]
            .as_str()
            .unwrap()
            .contains("instrument_id, price_precision")
    );
    assert!(
        of("explained-hole")["detail"]
            .as_str()
            .unwrap()
            .contains("!forceOrder@arr")
    );
    assert!(
        of("hole")["detail"].as_str().is_some(),
        "the planted funding hole and the demo's bar hole"
    );
    let funding_hole = found
        .iter()
        .find(|f| f["kind"] == "hole" && f["instrument"] == "BTCUSDT-LINEAR.BYBIT")
        .unwrap();
    assert_eq!(funding_hole["from"], "2025-01-02T08:00:00Z");
    assert_eq!(funding_hole["to"], "2025-01-02T08:00:00Z");

    // Every format carries the same findings.
    for format in ["table", "ndjson", "csv"] {
        let out = common::clean_cli()
            .args(["catalog", "verify", "--format", format, "--catalog"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let text = String::from_utf8_lossy(&out.stdout);
        for (kind, _) in &expected {
            assert!(text.contains(kind.as_str()), "{format}: {kind}");
        }
    }
}

#[test]
fn a_clean_range_exits_zero_and_bad_flags_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path());
    let out = verify(
        dir.path(),
        &[
            "ETHUSDT-PERP",
            "-e",
            "binance",
            "--from",
            "2025-01-01",
            "--to",
            "2025-01-01",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(findings(&out).is_empty());
    assert!(stderr(&out).contains("no problem found"));
    // Completeness only inside the range: the third day holds no hole and no stream gap ...
    let out = verify(dir.path(), &["-e", "hyperliquid", "--from", "2025-01-03"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // ... and a range past the data's end is a hole at the end of every history series.
    let out = verify(
        dir.path(),
        &[
            "BTCUSDT-PERP",
            "-e",
            "bybit",
            "--from",
            "2025-01-03",
            "--to",
            "2025-01-04",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let found = findings(&out);
    assert!(found.iter().all(|f| f["kind"] == "hole"), "{found:#?}");
    let series: BTreeSet<&str> = found
        .iter()
        .map(|f| f["dataset"].as_str().unwrap())
        .collect();
    assert_eq!(
        series,
        ["bars", "funding", "oi"].into_iter().collect(),
        "{found:#?}"
    );
    for f in &found {
        assert_eq!(f["to"].as_str().unwrap()[..10], *"2025-01-04", "{f}");
    }
    // Only Hyperliquid: its bar hole and its stream gap.
    let out = verify(dir.path(), &["-e", "hyperliquid"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(kinds(&findings(&out)).len(), 2);
    for (bad, one_line) in [
        (&["--from", "yesterday-ish"][..], true),
        (&["--from", "2025-01-02", "--to", "2025-01-01"], true),
        (&["ETHUSDT-PERP", "-e", "nowhere"], false),
        (&["--outlier-k=-1"], false),
        (&["--outlier-window", "1"], false),
        (&["--format", "xml"], false),
    ] {
        let out = verify(dir.path(), bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
        if one_line {
            assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
        }
    }
}

/// The simulator with its clock pinned (yesterday, at a fixed time of day: the venues keep
/// only recent history, counted back from now, see `common::sim_now_ms`).
async fn sim() -> SimHandle {
    let mut config = SimConfig {
        symbols: 6,
        now_ms: Some(common::sim_now_ms()),
        ..SimConfig::default()
    };
    config.limits.enabled = false;
    exchange_sim::start(config).await.unwrap()
}

/// Runs the binary against `sim`, off the async threads (the simulator runs on them).
async fn run_against(sim: &SimHandle, args: Vec<String>) -> Output {
    let mut cmd = common::cli_against(sim);
    cmd.args(args);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn args(list: &[&str], catalog: &Path) -> Vec<String> {
    list.iter()
        .map(|s| s.to_string())
        .chain(["--catalog".to_string(), catalog.display().to_string()])
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repair_merges_and_refills_what_the_venue_serves() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path();
    // Two days ending a day before the simulator's clock.
    const DAY_MS: u64 = 86_400_000;
    let now = common::sim_now_ms();
    let (from, to) = (
        common::iso_ms(now - 3 * DAY_MS),
        common::iso_ms(now - DAY_MS),
    );
    let range = ["--from", &from, "--to", &to, "--store"];
    for fetch in [
        &[
            "fetch-oi",
            "BTCUSDT-PERP",
            "-e",
            "binance",
            "--period",
            "5m",
        ][..],
        &["fetch-funding", "BTCUSDT-PERP", "-e", "bybit"],
        &[
            "fetch-bars",
            "BTCUSDT-PERP",
            "-e",
            "hyperliquid",
            "--interval",
            "1h",
        ],
    ] {
        let out = run_against(&sim, args(&[fetch, &range[..]].concat(), catalog)).await;
        assert!(out.status.success(), "{fetch:?}: {}", stderr(&out));
    }
    let out = run_against(
        &sim,
        args(&["catalog", "verify", "--format", "json"], catalog),
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Holes in each history, a duplicate and an overlap.
    let oi_dir = "custom_open_interest/BTCUSDT-PERP.BINANCE";
    let path = biggest_file(catalog, oi_dir);
    let (schema, mut r) = rows(&path);
    r.drain(40..46);
    let (a, b) = r.split_at(100);
    std::fs::remove_file(&path).unwrap();
    let dir_path = catalog.join("data").join(oi_dir);
    write(
        &dir_path.join(name(ts_init(&a[0]), ts_init(&a[99]))),
        schema.clone(),
        a,
    );
    write(
        &dir_path.join(name(ts_init(&a[99]), ts_init(b.last().unwrap()))),
        schema,
        b,
    );
    let path = biggest_file(catalog, "funding_rate_update/BTCUSDT-LINEAR.BYBIT");
    let (schema, mut r) = rows(&path);
    let settled: Vec<usize> = (0..r.len())
        .filter(|i| r[*i].column_by_name("next_funding_ns").unwrap().is_null(0))
        .collect();
    assert!(settled.len() >= 6, "{}", settled.len());
    r.remove(settled[3]);
    write(&path, schema, &r);
    let bars_dir = "bar/BTC-USD-PERP.HYPERLIQUID-1-HOUR-LAST-EXTERNAL";
    let path = biggest_file(catalog, bars_dir);
    let (schema, mut r) = rows(&path);
    r.drain(20..23);
    r.insert(30, r[30].clone());
    write(&path, schema, &r);

    let out = run_against(
        &sim,
        args(&["catalog", "verify", "--format", "json"], catalog),
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let planted = kinds(&findings(&out));
    let expected: BTreeSet<(String, String)> = [
        ("hole", "BTCUSDT-PERP.BINANCE"),
        ("overlap", "BTCUSDT-PERP.BINANCE"),
        ("hole", "BTCUSDT-LINEAR.BYBIT"),
        ("hole", "BTC-USD-PERP.HYPERLIQUID-1-HOUR-LAST-EXTERNAL"),
        ("duplicate", "BTC-USD-PERP.HYPERLIQUID-1-HOUR-LAST-EXTERNAL"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(planted, expected);

    let out = run_against(
        &sim,
        args(
            &["catalog", "verify", "--repair", "--format", "json"],
            catalog,
        ),
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{} {}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    assert!(findings(&out).is_empty());
    assert!(
        stderr(&out).contains("asked the venues for 3 hole(s)"),
        "{}",
        stderr(&out)
    );
    let out = run_against(
        &sim,
        args(&["catalog", "verify", "--format", "json"], catalog),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
