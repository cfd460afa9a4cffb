//! End-to-end: catalogs holding files that are not usable data (random bytes, empty files,
//! Parquet of another schema). Storing commands move them to `<catalog>/.quarantine` and fetch
//! their time again; `catalog info` lists them and goes on; `query` fails naming them; catalog
//! trouble is never reported as the venue's.
//!
//! The simulator's clock is pinned and every range is explicit, so nothing depends on the
//! wall clock.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Output;

use exchange_sim::{SimConfig, SimHandle};
use serde_json::Value;

mod common;

/// 2025-01-10T00:00:00Z: the simulator's fixed clock, well after the fetched days.
const SIM_NOW_MS: u64 = 1_736_467_200_000;
const BYBIT_OI: &str = "data/custom_open_interest/BTCUSDT-LINEAR.BYBIT";

async fn sim() -> SimHandle {
    let mut config = SimConfig {
        symbols: 6,
        now_ms: Some(SIM_NOW_MS),
        ..SimConfig::default()
    };
    config.limits.enabled = false;
    exchange_sim::start(config).await.unwrap()
}

/// Runs the binary off the async threads (the simulator runs on them).
async fn run(sim: &SimHandle, args: &[&str]) -> Output {
    let mut cmd = common::cli_against(sim);
    cmd.args(args);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Vec<Value> {
    serde_json::from_slice::<Value>(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
        .as_array()
        .unwrap()
        .clone()
}

/// Hourly Bybit open interest for 2025-01-01..=03 (72 rows, one file per day), stored.
async fn store(sim: &SimHandle, catalog: &Path) -> Output {
    run(
        sim,
        &[
            "fetch-oi",
            "BTCUSDT-PERP",
            "-e",
            "bybit",
            "--from",
            "2025-01-01",
            "--to",
            "2025-01-03",
            "--period",
            "1h",
            "--store",
            "--format",
            "json",
            "--catalog",
            catalog.to_str().unwrap(),
        ],
    )
    .await
}

/// The rows stored, read back with `query`.
async fn stored_rows(sim: &SimHandle, catalog: &Path) -> usize {
    let out = run(
        sim,
        &[
            "query",
            "oi",
            "BTCUSDT-PERP",
            "-e",
            "bybit",
            "--from",
            "2025-01-01",
            "--to",
            "2025-01-03",
            "--format",
            "json",
            "--catalog",
            catalog.to_str().unwrap(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    json(&out).len()
}

fn day_files(catalog: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(catalog.join(BYBIT_OI))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

fn quarantined(catalog: &Path) -> Vec<PathBuf> {
    let dir = catalog.join(".quarantine").join(BYBIT_OI);
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../catalog.example")
}

/// A readable Parquet file of another kind: a liquidation file of the example catalog.
fn liquidation_file() -> Vec<u8> {
    let dir = example().join("data/custom_liquidation/BTCUSDT-PERP.BINANCE");
    let file = std::fs::read_dir(dir).unwrap().next().unwrap().unwrap();
    std::fs::read(file.path()).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_middle_day_file_is_quarantined_and_its_day_fetched_again() {
    let sim = sim().await;
    let random: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    for (what, bytes) in [
        ("random bytes", random),
        ("empty", Vec::new()),
        ("foreign schema", liquidation_file()),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let catalog = dir.path();
        let first = store(&sim, catalog).await;
        assert!(first.status.success(), "{what}: {}", stderr(&first));
        assert_eq!(json(&first)[0]["added"], 72, "{what}");
        let files = day_files(catalog);
        assert_eq!(files.len(), 3, "{what}: one file per day");
        let victim = files[1].clone();
        std::fs::write(&victim, &bytes).unwrap();

        let again = store(&sim, catalog).await;
        let err = stderr(&again);
        assert!(again.status.success(), "{what}: {err}");
        let summary = &json(&again)[0];
        assert_eq!(
            summary["added"], 24,
            "{what}: the day is fetched again: {summary}"
        );
        let status = summary["status"].as_str().unwrap();
        assert!(
            status.contains("1 unusable file(s) quarantined"),
            "{what}: {status}"
        );
        let name = victim.file_name().unwrap().to_str().unwrap();
        let line = err
            .lines()
            .find(|l| l.starts_with("quarantined: catalog file '") && l.contains(name))
            .unwrap_or_else(|| panic!("{what}: no line names {name}: {err}"));
        assert!(line.contains("; moved to '"), "{what}: {line}");
        assert!(
            err.contains("1 unusable catalog file(s) moved to"),
            "{what}: {err}"
        );
        // Kept, byte for byte, outside data/ where NautilusTrader never looks.
        let moved = quarantined(catalog);
        assert_eq!(moved.len(), 1, "{what}: {moved:?}");
        assert!(
            moved[0]
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(victim.file_name().unwrap().to_str().unwrap()),
            "{what}: {moved:?}"
        );
        assert_eq!(std::fs::read(&moved[0]).unwrap(), bytes, "{what}");
        assert_eq!(stored_rows(&sim, catalog).await, 72, "{what}");

        // Repaired: a third run has nothing to do.
        let third = store(&sim, catalog).await;
        assert!(third.status.success(), "{what}: {}", stderr(&third));
        assert_eq!(json(&third)[0]["status"], "up to date", "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_latest_file_is_named_as_the_catalogs_problem_not_the_venues() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path();
    assert!(store(&sim, catalog).await.status.success());
    let latest = day_files(catalog)[2].clone();
    std::fs::write(&latest, b"PAR1 this is not a parquet file").unwrap();
    let out = store(&sim, catalog).await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("rejected the request"), "{err}");
    let name = latest.file_name().unwrap().to_str().unwrap();
    let line = err
        .lines()
        .find(|l| l.starts_with("quarantined: catalog file '") && l.contains(name))
        .unwrap_or_else(|| panic!("no line names {name}: {err}"));
    assert!(line.contains("is corrupt: "), "{line}");
    assert_eq!(json(&out)[0]["added"], 24);
    assert_eq!(stored_rows(&sim, catalog).await, 72);
}

/// Rewrites the footer value of `ccxt_pipeline.schema_version` from 1 to 9 in place.
fn bump_schema_version(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let key = b"ccxt_pipeline.schema_version";
    let at = bytes.windows(key.len()).rposition(|w| w == key).unwrap() + key.len();
    let one = at + bytes[at..].iter().position(|b| *b == b'1').unwrap();
    bytes[one] = b'9';
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_file_that_cannot_be_read_fails_as_the_catalogs_error() {
    // Written by a newer ccxt-pipeline: valid data, refused (never moved), and the failure is
    // the catalog's.
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path();
    assert!(store(&sim, catalog).await.status.success());
    let latest = day_files(catalog)[2].clone();
    bump_schema_version(&latest);
    let out = store(&sim, catalog).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("rejected the request"), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("failed: bybit BTCUSDT: catalog file '"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains(latest.file_name().unwrap().to_str().unwrap())
            && line.contains("newer ccxt-pipeline"),
        "{line}"
    );
    assert!(latest.exists());
    assert!(quarantined(catalog).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_info_lists_corrupt_and_foreign_files_and_query_names_them() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path();
    copy_dir(&example(), catalog);
    let btc = catalog.join("data/custom_open_interest/BTCUSDT-PERP.BINANCE");
    let corrupt = std::fs::read_dir(&btc)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&corrupt, b"").unwrap();
    let eth = catalog.join("data/custom_open_interest/ETHUSDT-PERP.BINANCE");
    let foreign = eth.join("2025-01-05T00-00-00-000000000Z_2025-01-05T01-00-00-000000000Z.parquet");
    std::fs::write(&foreign, liquidation_file()).unwrap();

    let out = run(
        &sim,
        &[
            "catalog",
            "info",
            "--format",
            "json",
            "--catalog",
            catalog.to_str().unwrap(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let datasets = json(&out);
    let of = |kind: &str, id: &str| {
        datasets
            .iter()
            .find(|d| d["type"] == kind && d["instrument_id"] == id)
            .unwrap_or_else(|| panic!("{kind} {id} missing: {datasets:?}"))
            .clone()
    };
    let btc_info = of("oi", "BTCUSDT-PERP.BINANCE");
    let problems = btc_info["problems"].as_str().unwrap();
    assert!(
        problems.contains(corrupt.file_name().unwrap().to_str().unwrap())
            && problems.contains("is corrupt"),
        "{problems}"
    );
    let eth_info = of("oi", "ETHUSDT-PERP.BINANCE");
    let problems = eth_info["problems"].as_str().unwrap();
    assert!(
        problems.contains(foreign.file_name().unwrap().to_str().unwrap())
            && problems.contains("not a custom_open_interest file"),
        "{problems}"
    );
    // The foreign file's rows are not counted; the good datasets are all listed, clean.
    assert_eq!(eth_info["rows"], of("oi", "ETHUSDT-LINEAR.BYBIT")["rows"]);
    let clean = datasets
        .iter()
        .filter(|d| d["problems"].as_str() == Some(""))
        .count();
    assert_eq!(clean, datasets.len() - 2, "{datasets:?}");
    assert!(
        stderr(&out).contains("2 problem(s) listed"),
        "{}",
        stderr(&out)
    );
    // Read-only: nothing moved.
    assert!(corrupt.exists() && foreign.exists());
    assert!(!catalog.join(".quarantine").exists());

    let query = run(
        &sim,
        &[
            "query",
            "oi",
            "ETHUSDT-PERP",
            "-e",
            "binance",
            "--from",
            "2025-01-01",
            "--catalog",
            catalog.to_str().unwrap(),
        ],
    )
    .await;
    let err = stderr(&query);
    assert_eq!(query.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: catalog file '")
            && err.contains(foreign.file_name().unwrap().to_str().unwrap())
            && err.contains(
                "is not a custom_open_interest file: it holds custom_liquidation records"
            )
            && err.contains("catalog info"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}
