//! End-to-end: `ccxt-cli export` on `catalog.example` and on a catalog the CLI writes. The
//! exported files are read back in Rust (types, exact values against `query`, row groups per
//! day, the partition tree) and, where a Python with pyarrow, polars and DuckDB is found
//! (`CCXT_TEST_PYTHON`, else `target/ci-venv/bin/python` as `.ci/run` makes it), by those.
//!
//! Every range is explicit; nothing depends on the wall clock.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::str::FromStr;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, TimestampNanosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rust_decimal::Decimal;
use serde_json::Value;

mod common;

const FROM: &str = "2025-01-01";
const TO: &str = "2025-01-03";

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../catalog.example")
}

fn run(args: &[&str]) -> Output {
    common::clean_cli().args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "failed: {}", stderr(&o));
    o
}

/// `export` of catalog.example over its three days, with `extra` flags.
fn export(catalog: &Path, what: &[&str], out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["export"];
    args.extend_from_slice(what);
    args.extend([
        "--from",
        FROM,
        "--to",
        TO,
        "--catalog",
        catalog.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    args.extend_from_slice(extra);
    run(&args)
}

fn read(path: &Path) -> (Vec<RecordBatch>, usize) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let groups = builder.metadata().num_row_groups();
    let batches = builder.build().unwrap().map(Result::unwrap).collect();
    (batches, groups)
}

fn utc_ns() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// The rows of `query KIND SYMBOL --format json` over the range.
fn query(kind: &str, symbol: &str, extra: &[&str]) -> Vec<Value> {
    let catalog = example();
    let mut args = vec![
        "query",
        kind,
        symbol,
        "--from",
        FROM,
        "--to",
        TO,
        "--format",
        "json",
        "--catalog",
        catalog.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = ok(run(&args));
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Column `name` of every row as text: decimals as exact `Decimal`s (normalized), times as
/// ns, strings as they are.
fn column(batches: &[RecordBatch], name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for batch in batches {
        let col = batch.column_by_name(name).unwrap();
        for i in 0..col.len() {
            if col.is_null(i) {
                out.push("null".into());
                continue;
            }
            out.push(match col.data_type() {
                DataType::Decimal128(_, scale) => {
                    let raw = col.as_primitive::<Decimal128Type>().value(i);
                    Decimal::from_i128_with_scale(raw, *scale as u32)
                        .normalize()
                        .to_string()
                }
                DataType::Timestamp(..) => col
                    .as_primitive::<TimestampNanosecondType>()
                    .value(i)
                    .to_string(),
                DataType::Utf8 => col.as_string::<i32>().value(i).to_string(),
                other => panic!("{name}: {other}"),
            });
        }
    }
    out
}

fn normalized(v: &Value) -> String {
    match v {
        Value::String(s) => Decimal::from_str(s)
            .map(|d| d.normalize().to_string())
            .unwrap_or_else(|_| s.clone()),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// (export args, query kind, query args, value columns compared with query's fields).
type Case<'a> = (&'a [&'a str], &'a str, &'a [&'a str], &'a [&'a str]);

/// Each dataset: exported over all instruments, the columns are typed as documented and the
/// rows of each instrument are exactly the rows `query` prints for it.
#[test]
fn every_dataset_exports_exact_typed_columns() {
    let dir = tempfile::tempdir().unwrap();
    // (export args, query args, value columns compared with query's fields of the same name)
    let cases: [Case; 6] = [
        (&["oi", "--all"], "oi", &[], &[]),
        (&["funding", "--all"], "funding", &[], &["rate", "kind"]),
        (
            &["liquidations", "--all"],
            "liquidations",
            &[],
            &["side", "order_side"],
        ),
        (
            &["bars", "--all", "--interval", "1h"],
            "bars",
            &["--interval", "1h"],
            &["open", "high", "low", "close", "volume", "bar_type"],
        ),
        (&["mark", "--all"], "mark", &[], &["mark_price"]),
        (&["index", "--all"], "index", &[], &["index_price"]),
    ];
    for (what, kind, query_extra, compared) in cases {
        let out = dir.path().join(format!("{kind}.parquet"));
        let done = ok(export(&example(), what, &out, &[]));
        assert!(done.stdout.is_empty(), "nothing on stdout");
        let summary = stderr(&done);
        assert!(summary.starts_with("exported "), "{summary}");
        let (batches, _) = read(&out);
        let schema = batches[0].schema();
        for (name, ty) in [
            ("ts_event", utc_ns()),
            ("ts_init", utc_ns()),
            ("venue", DataType::Utf8),
            ("symbol", DataType::Utf8),
            ("instrument_id", DataType::Utf8),
        ] {
            assert_eq!(
                schema.field_with_name(name).unwrap().data_type(),
                &ty,
                "{kind} {name}"
            );
        }
        for name in compared {
            let ty = schema.field_with_name(name).unwrap().data_type().clone();
            let decimal = [
                "rate",
                "open",
                "high",
                "low",
                "close",
                "volume",
                "mark_price",
                "index_price",
            ]
            .contains(name);
            assert_eq!(
                matches!(ty, DataType::Decimal128(38, _)),
                decimal,
                "{kind} {name}: {ty}"
            );
        }
        let ids = column(&batches, "instrument_id");
        let venues = column(&batches, "venue");
        let symbols = column(&batches, "symbol");
        let ts_event = column(&batches, "ts_event");
        let ts_init = column(&batches, "ts_init");
        let values: Vec<Vec<String>> = compared.iter().map(|c| column(&batches, c)).collect();
        // Per instrument, exported rows in order.
        let mut exported: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
        for i in 0..ids.len() {
            let mut row = vec![
                venues[i].clone(),
                symbols[i].clone(),
                ts_event[i].clone(),
                ts_init[i].clone(),
            ];
            row.extend(values.iter().map(|v| v[i].clone()));
            exported.entry(ids[i].clone()).or_default().push(row);
        }
        assert_eq!(exported.len(), 6, "{kind}: six instruments");
        let mut total = 0;
        for (id, rows) in &exported {
            let queried = query(kind, id, query_extra);
            let want: Vec<Vec<String>> = queried
                .iter()
                .map(|q| {
                    let mut row = vec![
                        q["venue"].as_str().unwrap().to_string(),
                        q["symbol"].as_str().unwrap().to_string(),
                        q["ts_event"].to_string(),
                        q["ts_init"].to_string(),
                    ];
                    row.extend(compared.iter().map(|c| normalized(&q[*c])));
                    row
                })
                .collect();
            assert_eq!(rows, &want, "{kind} {id}");
            total += rows.len();
        }
        assert_eq!(total, ids.len());
        assert!(summary.contains(&format!("exported {total} ")), "{summary}");
    }
}

/// Funding: the rate is a decimal at the scale of the longest stored rate (8 decimals in
/// catalog.example), estimates carry their next funding time, settled rates none.
#[test]
fn funding_rates_are_decimals_with_kind_and_next_funding_time() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.parquet");
    ok(export(
        &example(),
        &["funding", "BTCUSDT-PERP", "-e", "binance"],
        &out,
        &[],
    ));
    let (batches, _) = read(&out);
    let schema = batches[0].schema();
    assert_eq!(
        schema.field_with_name("rate").unwrap().data_type(),
        &DataType::Decimal128(38, 8)
    );
    assert_eq!(
        schema
            .field_with_name("interval_minutes")
            .unwrap()
            .data_type(),
        &DataType::Int32
    );
    assert_eq!(
        schema
            .field_with_name("next_funding_time")
            .unwrap()
            .data_type(),
        &utc_ns()
    );
    let kind = column(&batches, "kind");
    let next = column(&batches, "next_funding_time");
    let rate = column(&batches, "rate");
    assert_eq!(kind.last().unwrap(), "estimate");
    assert_eq!(next.last().unwrap(), "1735977600000000000");
    assert_eq!(rate.last().unwrap(), "0.00008915");
    assert_eq!(rate[0], "0.00010886");
    for (k, n) in kind.iter().zip(&next) {
        assert_eq!(k == "settled", n == "null");
    }

    // --float: the same rates as float64.
    let floats = dir.path().join("f64.parquet");
    ok(export(
        &example(),
        &["funding", "BTCUSDT-PERP", "-e", "binance"],
        &floats,
        &["--float"],
    ));
    let (batches, _) = read(&floats);
    let col = batches[0].column_by_name("rate").unwrap();
    assert_eq!(col.data_type(), &DataType::Float64);
    assert_eq!(
        col.as_primitive::<arrow_array::types::Float64Type>()
            .value(0),
        0.00010886
    );
}

/// CSV: the same columns, times in RFC 3339 UTC with nanoseconds, decimals' exact digits; to
/// stdout with `--out -`.
#[test]
fn csv_has_rfc3339_times_and_exact_decimals() {
    let catalog = example();
    let o = ok(run(&[
        "export",
        "funding",
        "BTCUSDT-PERP",
        "-e",
        "binance",
        "--from",
        FROM,
        "--to",
        TO,
        "--format",
        "csv",
        "--out",
        "-",
        "--catalog",
        catalog.to_str().unwrap(),
    ]));
    let text = String::from_utf8(o.stdout.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "ts_event,ts_init,venue,symbol,instrument_id,rate,interval_minutes,kind,next_funding_time"
    );
    assert_eq!(
        lines[1],
        "2025-01-01T00:00:00.000000000Z,2025-01-01T00:00:00.000000000Z,binance,BTCUSDT,BTCUSDT-PERP.BINANCE,0.00010886,480,settled,"
    );
    let last = lines.last().unwrap();
    assert!(
        last.starts_with("2025-01-03T23:59:59.000000000Z,2025-01-03T23:59:59.085000000Z,binance,")
            && last.ends_with(",0.00008915,480,estimate,2025-01-04T08:00:00.000000000Z"),
        "{last}"
    );
    assert!(stderr(&o).contains("to stdout"), "{}", stderr(&o));

    // Into a file: the same text.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.csv");
    ok(export(
        &catalog,
        &["funding", "BTCUSDT-PERP", "-e", "binance"],
        &out,
        &["--format", "csv"],
    ));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
}

/// A multi-day export ends a row group with every UTC day (of ts_init), so the writer holds one
/// day at most, and no row group spans two days.
#[test]
fn row_groups_end_with_each_day() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("oi.parquet");
    ok(export(&example(), &["oi", "--all"], &out, &[]));
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&out).unwrap()).unwrap();
    let groups = builder.metadata().num_row_groups();
    assert_eq!(groups, 3, "one row group per day of three");
    for g in 0..groups {
        let batches: Vec<RecordBatch> =
            ParquetRecordBatchReaderBuilder::try_new(File::open(&out).unwrap())
                .unwrap()
                .with_row_groups(vec![g])
                .build()
                .unwrap()
                .map(Result::unwrap)
                .collect();
        let days: std::collections::BTreeSet<u64> = column(&batches, "ts_init")
            .iter()
            .map(|t| t.parse::<u64>().unwrap() / 86_400_000_000_000)
            .collect();
        assert_eq!(days.len(), 1, "row group {g} spans days {days:?}");
    }
}

/// `--partition`: venue=…/date=… directories by the UTC date of ts_event, files without the
/// venue column, together holding exactly the rows of the single-file export.
#[test]
fn partition_tree_is_hive_style() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("liq");
    let single = dir.path().join("liq.parquet");
    ok(export(
        &example(),
        &["liquidations", "--all"],
        &tree,
        &["--partition"],
    ));
    ok(export(&example(), &["liquidations", "--all"], &single, &[]));
    let (batches, _) = read(&single);
    let mut want: BTreeMap<(String, String), usize> = BTreeMap::new();
    let venues = column(&batches, "venue");
    for (venue, ts) in venues.iter().zip(column(&batches, "ts_event")) {
        let secs = ts.parse::<i64>().unwrap() / 1_000_000_000;
        let date = chrono::DateTime::from_timestamp(secs, 0)
            .unwrap()
            .format("%Y-%m-%d")
            .to_string();
        *want.entry((venue.clone(), date)).or_default() += 1;
    }
    let mut got: BTreeMap<(String, String), usize> = BTreeMap::new();
    for venue_dir in std::fs::read_dir(&tree).unwrap() {
        let venue_dir = venue_dir.unwrap().path();
        let venue = venue_dir
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .strip_prefix("venue=")
            .unwrap()
            .to_string();
        for date_dir in std::fs::read_dir(&venue_dir).unwrap() {
            let date_dir = date_dir.unwrap().path();
            let date = date_dir
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .strip_prefix("date=")
                .unwrap()
                .to_string();
            let names: Vec<String> = std::fs::read_dir(&date_dir)
                .unwrap()
                .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(names, ["part-0.parquet"], "{}", date_dir.display());
            let (batches, _) = read(&date_dir.join("part-0.parquet"));
            assert!(
                batches[0].schema().field_with_name("venue").is_err(),
                "venue is in the path only"
            );
            let n: usize = batches.iter().map(RecordBatch::num_rows).sum();
            got.insert((venue.clone(), date), n);
        }
    }
    assert_eq!(got, want);
    assert_eq!(want.len(), 9, "three venues, three days");
}

/// Usage errors exit 2 with one line and leave no output; an existing --out is kept unless
/// --force; a corrupt catalog file fails with exit 1, naming it, and leaves no output file.
#[test]
fn errors_are_one_line_and_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.parquet");
    let catalog = example();
    let cat = catalog.to_str().unwrap();
    let o = out.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["export", "gaps", "--all", "--out", o, "--catalog", cat],
            "invalid value 'gaps'",
        ),
        (
            vec!["export", "funding", "--out", o, "--catalog", cat],
            "needs SYMBOL... or --all",
        ),
        (
            vec![
                "export",
                "funding",
                "--all",
                "--from",
                "2025-01-03",
                "--to",
                "2025-01-01",
                "--out",
                o,
                "--catalog",
                cat,
            ],
            "is before --from",
        ),
        (
            vec![
                "export",
                "funding",
                "--all",
                "--from",
                "yesterday-ish",
                "--out",
                o,
                "--catalog",
                cat,
            ],
            "--from",
        ),
        (
            vec!["export", "bars", "--all", "--out", o, "--catalog", cat],
            "needs --interval",
        ),
        (
            vec![
                "export",
                "oi",
                "--all",
                "--interval",
                "1h",
                "--out",
                o,
                "--catalog",
                cat,
            ],
            "--interval is for `export bars` only",
        ),
        (
            vec!["export", "oi", "--all", "--out", "-", "--catalog", cat],
            "--out - (stdout) is for --format csv",
        ),
        (
            vec![
                "export",
                "oi",
                "--all",
                "--out",
                o,
                "--catalog",
                "/nonexistent/catalog",
            ],
            "/nonexistent/catalog",
        ),
        (
            vec![
                "export",
                "oi",
                "--all",
                "--out",
                "/nonexistent/dir/x.parquet",
                "--catalog",
                cat,
            ],
            "does not exist",
        ),
    ] {
        let r = run(&args);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {}", stderr(&r));
        assert!(stderr(&r).contains(needle), "{args:?}: {}", stderr(&r));
        assert!(!out.exists(), "{args:?} left {}", out.display());
    }

    // An existing --out is refused, untouched; --force replaces it.
    std::fs::write(&out, b"keep me").unwrap();
    let r = export(&catalog, &["oi", "--all"], &out, &[]);
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    assert!(
        stderr(&r).contains("exists; pass --force"),
        "{}",
        stderr(&r)
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    ok(export(&catalog, &["oi", "--all"], &out, &["--force"]));
    assert_eq!(
        read(&out)
            .0
            .iter()
            .map(RecordBatch::num_rows)
            .sum::<usize>(),
        5184
    );
    // A partition tree replaces a file with --force, and a tree replaces a tree.
    ok(export(
        &catalog,
        &["oi", "--all"],
        &out,
        &["--force", "--partition"],
    ));
    assert!(out.join("venue=binance").is_dir());
    ok(export(
        &catalog,
        &["mark", "--all"],
        &out,
        &["--force", "--partition"],
    ));
    assert!(out.join("venue=binance").is_dir());

    // A corrupt file in the range: exit 1 naming it; no output, no temporary file left.
    let broken = dir.path().join("broken");
    copy_dir(&catalog, &broken);
    let bad = broken.join("data/custom_open_interest/BTCUSDT-PERP.BINANCE");
    let victim = std::fs::read_dir(&bad)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&victim, b"not parquet").unwrap();
    let out2 = dir.path().join("y.parquet");
    let r = export(&broken, &["oi", "--all"], &out2, &[]);
    assert_eq!(r.status.code(), Some(1), "{}", stderr(&r));
    let err = stderr(&r);
    assert!(
        err.contains(victim.file_name().unwrap().to_str().unwrap()) && err.contains("corrupt"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!out2.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A catalog the CLI writes (`catalog demo`, then compacted): every dataset exports as many
/// rows as `catalog info` counts.
#[test]
fn a_catalog_written_by_the_cli_exports_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("cat");
    let cat = catalog.to_str().unwrap();
    ok(run(&["catalog", "demo", cat, "--days", "2"]));
    ok(run(&["catalog", "compact", "--catalog", cat]));
    let info = ok(run(&[
        "catalog",
        "info",
        "--catalog",
        cat,
        "--format",
        "json",
    ]));
    let info: Vec<Value> = serde_json::from_slice(&info.stdout).unwrap();
    let rows_of = |ty: &str, series: Option<&str>| -> u64 {
        info.iter()
            .filter(|d| d["type"] == ty && series.is_none_or(|s| d["series"] == s))
            .map(|d| d["rows"].as_u64().unwrap())
            .sum()
    };
    for (what, ty, series) in [
        (&["oi", "--all"][..], "oi", None),
        (&["funding", "--all"][..], "funding", None),
        (&["liquidations", "--all"][..], "liquidations", None),
        (
            &["bars", "--all", "--interval", "1h", "--price", "mark"][..],
            "bars",
            Some("1h mark"),
        ),
        (&["mark", "--all"][..], "mark", None),
        (&["index", "--all"][..], "index", None),
    ] {
        let out = dir.path().join(format!("{ty}.parquet"));
        let mut args = vec!["export"];
        args.extend_from_slice(what);
        args.extend(["--catalog", cat, "--out", out.to_str().unwrap()]);
        ok(run(&args));
        let n: usize = read(&out).0.iter().map(RecordBatch::num_rows).sum();
        assert_eq!(n as u64, rows_of(ty, series), "{ty}");
        assert!(n > 0, "{ty}");
    }
}

/// The Python that reads exports: `CCXT_TEST_PYTHON`, else the CI venv (`ci-venv` in
/// `$CARGO_TARGET_DIR`, as `.ci/run` sets it for the copy it tests, or in `target/`), if it has
/// pyarrow, polars and duckdb.
fn python() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("CCXT_TEST_PYTHON") {
        candidates.push(p.into());
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(Path::new(&target).join("ci-venv/bin/python"));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ci-venv/bin/python"));
    candidates.into_iter().find(|candidate| {
        std::process::Command::new(candidate)
            .args(["-c", "import pyarrow, polars, duckdb"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// pyarrow, DuckDB and polars read the export: exact types and values, and the partition
/// columns of the Hive tree.
#[test]
fn python_readers_read_the_export() {
    let Some(python) = python() else {
        eprintln!(
            "SKIPPED: no Python with pyarrow, polars and duckdb (set CCXT_TEST_PYTHON or run .ci/run once)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    ok(export(
        &example(),
        &["funding", "--all"],
        &dir.path().join("funding.parquet"),
        &[],
    ));
    ok(export(
        &example(),
        &["bars", "BTCUSDT-PERP", "--interval", "1h"],
        &dir.path().join("bars.parquet"),
        &[],
    ));
    ok(export(
        &example(),
        &["liquidations", "--all"],
        &dir.path().join("liq"),
        &["--partition"],
    ));
    let script = r#"
import decimal, pyarrow.parquet as pq, pyarrow.dataset as ds, duckdb, polars as pl
f = pq.read_table("funding.parquet")
assert str(f.schema.field("ts_event").type) == "timestamp[ns, tz=UTC]", f.schema
assert str(f.schema.field("rate").type) == "decimal128(38, 8)", f.schema
rows = [r for r in f.to_pylist() if r["instrument_id"] == "BTCUSDT-PERP.BINANCE"]
assert rows[0]["rate"] == decimal.Decimal("0.00010886"), rows[0]
assert rows[-1]["kind"] == "estimate" and str(rows[-1]["next_funding_time"]) == "2025-01-04 08:00:00+00:00", rows[-1]
b = pq.read_table("bars.parquet").to_pylist()
first = [r for r in b if r["venue"] == "binance" and str(r["ts_event"]) == "2025-01-02 00:00:00+00:00"][0]
assert (first["open"], first["close"]) == (decimal.Decimal("95800.0"), decimal.Decimal("95441.1")), first
assert first["volume"] == decimal.Decimal("162.222"), first
n = duckdb.sql("SELECT count(*) FROM 'funding.parquet' WHERE ts_event >= TIMESTAMPTZ '2025-01-03 00:00:00+00'").fetchall()[0][0]
assert n == sum(1 for r in f.to_pylist() if str(r["ts_event"]) >= "2025-01-03"), n
hive = duckdb.sql("SELECT venue, count(*) FROM read_parquet('liq/*/*/*.parquet', hive_partitioning = true) GROUP BY ALL ORDER BY 1").fetchall()
pa_rows = ds.dataset("liq", format="parquet", partitioning="hive").to_table()
assert pa_rows.num_rows == sum(c for _, c in hive) == 650, (hive, pa_rows.num_rows)
pl_rows = pl.scan_parquet("liq/**/*.parquet", hive_partitioning=True).group_by("venue").len().sort("venue").collect().rows()
assert pl_rows == hive, (pl_rows, hive)
print("ok")
"#;
    let o = std::process::Command::new(&python)
        .args(["-c", script])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
}

/// `--partition` files rows by the date of `ts_event`, also when they were received (`ts_init`)
/// after midnight; a row received long after its partition was closed goes to a second part.
#[test]
fn partitions_follow_ts_event_across_midnight() {
    use ccxt_model::{FundingRate, InstrumentId};
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("cat");
    let id = InstrumentId::new_unchecked("BTCUSDT-PERP.BINANCE");
    let at = |iso: &str| ccxt_model::time::parse_time(iso, ccxt_model::time::Bound::Start).unwrap();
    let rate = |ts_event: &str, ts_init: &str, r: &str| FundingRate {
        instrument_id: id.clone(),
        rate: Decimal::from_str(r).unwrap(),
        interval_minutes: Some(480),
        next_funding_ns: None,
        ts_event: at(ts_event),
        ts_init: at(ts_init),
    };
    let rows = vec![
        rate("2025-01-01T23:59:59Z", "2025-01-02T00:00:00.5Z", "0.0001"),
        rate("2025-01-02T08:00:00Z", "2025-01-02T08:00:00Z", "0.00012"),
        rate("2025-01-01T12:00:00Z", "2025-01-03T00:10:00Z", "-0.0000125"),
    ];
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let (cat, _) = ccxt_catalog::Catalog::open_writable(catalog.to_str().unwrap())
            .await
            .unwrap();
        cat.write(rows).await.unwrap();
    });
    let tree = dir.path().join("tree");
    ok(export(
        &catalog,
        &["funding", "--all"],
        &tree,
        &["--partition", "--format", "csv"],
    ));
    let read_csv = |p: &str| -> Vec<String> {
        let text = std::fs::read_to_string(tree.join(p)).unwrap();
        text.lines()
            .skip(1)
            .map(|l| l.split(',').nth(4).unwrap().to_string())
            .collect()
    };
    // The scale is the longest rate's (7 decimals): exact digits, padded.
    assert_eq!(
        read_csv("venue=binance/date=2025-01-01/part-0.csv"),
        ["0.0001000"]
    );
    assert_eq!(
        read_csv("venue=binance/date=2025-01-02/part-0.csv"),
        ["0.0001200"]
    );
    assert_eq!(
        read_csv("venue=binance/date=2025-01-01/part-1.csv"),
        ["-0.0000125"]
    );
    let files: usize = ["date=2025-01-01", "date=2025-01-02"]
        .iter()
        .map(|d| {
            std::fs::read_dir(tree.join("venue=binance").join(d))
                .unwrap()
                .count()
        })
        .sum();
    assert_eq!(files, 3);
}
