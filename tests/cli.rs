//! End-to-end tests of the `ccxt-cli` binary: real processes, real output, real exit codes.
//! The snapshots in `tests/snapshots/` are what a user sees on `catalog.example`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};

use assert_cmd::Command;
use predicates::prelude::*;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../catalog.example")
}

/// The binary with a clean environment (no CCXT_* or RUST_LOG leaking in from the caller).
fn cli() -> Command {
    let mut cmd = Command::cargo_bin("ccxt-cli").unwrap();
    for (key, _) in std::env::vars() {
        if key.starts_with("CCXT_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn run_ok(args: &[&str]) -> String {
    let out = cli()
        .args(args)
        .arg("--catalog")
        .arg(example())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
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

#[test]
fn readme_first_command_prints_funding_from_the_example_catalog() {
    let out = run_ok(&["query", "funding", "BTCUSDT-PERP", "-n", "12"]);
    insta::assert_snapshot!("query_funding_table", out);
}

#[test]
fn query_oi_json_from_a_time_with_a_limit() {
    let out = run_ok(&[
        "query",
        "oi",
        "ETHUSDT-PERP",
        "-e",
        "bybit",
        "--from",
        "2025-01-02",
        "-n",
        "3",
        "--format",
        "json",
    ]);
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(parsed.as_array().unwrap().len(), 3);
    assert_eq!(parsed[0]["timestamp"], "2025-01-02T00:00:00Z");
    insta::assert_snapshot!("query_oi_json", out);
}

#[test]
fn query_liquidations_ndjson_and_csv_over_an_inclusive_range() {
    let args = [
        "query",
        "liquidations",
        "BTC/USDT:USDT",
        "--from",
        "2025-01-01T00:00:00Z",
        "--to",
        "2025-01-01T01:00:00Z",
    ];
    let ndjson = run_ok(&[&args[..], &["--format", "ndjson"]].concat());
    for line in ndjson.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(["LONG", "SHORT"].contains(&v["side"].as_str().unwrap()));
    }
    insta::assert_snapshot!("query_liquidations_ndjson", ndjson);
    let csv = run_ok(&[&args[..], &["--format", "csv"]].concat());
    assert_eq!(
        csv.lines().count(),
        ndjson.lines().count() + 1,
        "header plus the same rows"
    );
    insta::assert_snapshot!("query_liquidations_csv", csv);
}

#[test]
fn query_latest_rows_as_a_table_with_right_aligned_numbers() {
    let out = run_ok(&["query", "liquidations", "ETHUSDT-PERP", "-n", "4"]);
    insta::assert_snapshot!("query_liquidations_table", out);
    let out = run_ok(&[
        "query",
        "oi",
        "BTC",
        "-e",
        "hyperliquid",
        "-e",
        "binance",
        "-n",
        "4",
    ]);
    insta::assert_snapshot!("query_oi_table_two_venues", out);
}

#[test]
fn every_symbol_form_reads_the_same_rows() {
    let base = run_ok(&["query", "oi", "BTCUSDT-PERP", "-n", "6", "--format", "csv"]);
    for form in ["BTCUSDT", "btcusdt-perp", "BTC/USDT:USDT", "BTC"] {
        assert_eq!(
            run_ok(&["query", "oi", form, "-n", "6", "--format", "csv"]),
            base,
            "{form}"
        );
    }
    let pinned = run_ok(&[
        "query",
        "oi",
        "BTC-USD-PERP.HYPERLIQUID",
        "-n",
        "2",
        "--format",
        "csv",
    ]);
    assert!(
        pinned
            .lines()
            .skip(1)
            .all(|l| l.contains(",hyperliquid,BTC,")),
        "{pinned}"
    );
}

#[test]
fn catalog_info_lists_every_dataset() {
    let out = run_ok(&["catalog", "info"]);
    insta::assert_snapshot!("catalog_info", out);
    let json: serde_json::Value =
        serde_json::from_str(&run_ok(&["catalog", "info", "--format", "json"])).unwrap();
    assert_eq!(
        json.as_array().unwrap().len(),
        43,
        "5 kinds x 2 symbols x 3 venues, 1h last bars of 6 and mark bars of 4 instruments, and gaps of 3 venues"
    );
    let bars: Vec<&serde_json::Value> = json
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["type"] == "bars")
        .collect();
    assert_eq!(bars.len(), 10);
    for d in bars {
        let hl_btc = d["instrument_id"] == "BTC-USD-PERP.HYPERLIQUID-1-HOUR-LAST-EXTERNAL";
        assert_eq!(d["rows"], if hl_btc { 70 } else { 72 }, "{d}");
        assert_eq!(d["missing"], if hl_btc { 2 } else { 0 }, "{d}");
        assert!(d["series"] == "1h last" || d["series"] == "1h mark", "{d}");
    }
}

#[test]
fn a_one_day_query_opens_one_file_per_venue() {
    cli()
        .args([
            "query",
            "oi",
            "BTCUSDT-PERP",
            "--from",
            "2025-01-02",
            "--to",
            "2025-01-02",
            "--format",
            "csv",
            "--log-level",
            "debug",
        ])
        .arg("--catalog")
        .arg(example())
        .assert()
        .success()
        .stdout(predicate::str::contains("2025-01-02T23:55:00Z"))
        .stdout(predicate::str::contains("2025-01-01T").not())
        .stderr(predicate::str::contains("files_listed=9 files_opened=3"));
}

#[test]
fn a_one_day_all_instrument_query_opens_only_that_days_files() {
    // 6 instruments x 3 daily files: the window's day is one file per instrument.
    cli()
        .args([
            "query",
            "oi",
            "--from",
            "2025-01-02",
            "--to",
            "2025-01-02",
            "--format",
            "csv",
            "--log-level",
            "debug",
        ])
        .arg("--catalog")
        .arg(example())
        .assert()
        .success()
        .stdout(predicate::str::contains(",hyperliquid,ETH,"))
        .stdout(predicate::str::contains(",bybit,BTCUSDT,"))
        .stdout(predicate::str::contains("2025-01-01T").not())
        .stderr(predicate::str::contains("files_listed=18 files_opened=6"));
    // The same pruning when summing up: buckets read day by day, only that day's files.
    cli()
        .args([
            "query",
            "oi",
            "--from",
            "2025-01-02",
            "--to",
            "2025-01-02",
            "--by-asset",
            "--every",
            "1h",
            "--format",
            "csv",
            "--log-level",
            "debug",
        ])
        .arg("--catalog")
        .arg(example())
        .assert()
        .success()
        .stdout(predicate::str::contains("2025-01-02T23:00:00Z,BTC,"))
        .stdout(predicate::str::contains("2025-01-01T").not())
        .stderr(predicate::str::contains("rows=1728 files_read=6"));
}

#[test]
fn query_reads_several_symbols_or_every_instrument() {
    let two = run_ok(&[
        "query",
        "oi",
        "BTC",
        "ETHUSDT-PERP",
        "-e",
        "binance",
        "--from",
        "2025-01-02",
        "-n",
        "4",
        "--format",
        "csv",
    ]);
    let symbols: Vec<&str> = two
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap())
        .collect();
    assert_eq!(
        symbols,
        ["BTCUSDT", "ETHUSDT", "BTCUSDT", "ETHUSDT"],
        "{two}"
    );
    let all = run_ok(&["query", "oi", "--all", "-n", "6", "--format", "csv"]);
    let mut venues: Vec<String> = all
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            format!("{} {}", f[1], f[2])
        })
        .collect();
    venues.sort();
    assert_eq!(
        venues,
        [
            "binance BTCUSDT",
            "binance ETHUSDT",
            "bybit BTCUSDT",
            "bybit ETHUSDT",
            "hyperliquid BTC",
            "hyperliquid ETH"
        ]
    );
    let bybit = run_ok(&[
        "query", "oi", "--all", "-e", "bybit", "-n", "6", "--format", "csv",
    ]);
    assert!(
        bybit.lines().skip(1).all(|l| l.contains(",bybit,")),
        "{bybit}"
    );
}

#[test]
fn no_rows_is_success_with_a_note() {
    cli()
        .args(["query", "funding", "DOGEUSDT-PERP"])
        .arg("--catalog")
        .arg(example())
        .assert()
        .code(0)
        .stdout("")
        .stderr(predicate::str::contains(
            "no funding rows for DOGEUSDT-PERP on binance, bybit, hyperliquid",
        ));
    cli()
        .args(["query", "funding", "DOGEUSDT-PERP", "--format", "json"])
        .arg("--catalog")
        .arg(example())
        .assert()
        .code(0)
        .stdout("[]\n");
}

#[test]
fn usage_errors_exit_2_with_one_line_that_says_what_is_valid() {
    let cases: [(&[&str], &str); 13] = [
        (&["query", "oi", "BTC-PERP"], "accepted forms"),
        (
            &["query", "oi", "BTCUSDT-PERP", "--from", "yesterday"],
            "--from: invalid time 'yesterday'",
        ),
        (
            &[
                "query",
                "oi",
                "BTCUSDT-PERP",
                "--from",
                "2025-01-03",
                "--to",
                "2025-01-02",
            ],
            "--to (2025-01-02T23:59:59.999999999Z) is before --from (2025-01-03T00:00:00Z)",
        ),
        (
            &["query", "oi", "BTCUSDT-PERP", "-e", "kraken"],
            "invalid value 'kraken'",
        ),
        (
            &["query", "oi", "BTCUSDT-PERP", "-n", "0"],
            "invalid value '0'",
        ),
        (
            &["query", "oi", "xyz:TSLA", "-e", "binance"],
            "exist only on hyperliquid",
        ),
        (
            &["query", "volume", "BTCUSDT-PERP"],
            "invalid value 'volume'",
        ),
        (
            &["query", "oi", "BTCUSDT-PERP", "--format", "xml"],
            "invalid value 'xml'",
        ),
        (
            &["query", "bars", "BTCUSDT-PERP", "--interval", "3d"],
            "unknown bar interval '3d': valid intervals are 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 1w 1M",
        ),
        (
            &[
                "query",
                "bars",
                "BTCUSDT-PERP",
                "--interval",
                "1h",
                "--price",
                "index",
            ],
            "unknown bar price 'index': valid prices are last, mark",
        ),
        (
            &["query", "bars", "BTCUSDT-PERP"],
            "query bars needs --interval: one of 1m 3m",
        ),
        (
            &["query", "mark", "BTCUSDT-PERP", "--interval", "1h"],
            "--interval is for `query bars` only, not `query mark`",
        ),
        (
            &["query", "oi", "BTCUSDT-PERP", "--gaps"],
            "--gaps is for `query bars` only",
        ),
    ];
    for (args, message) in cases {
        let out = cli()
            .args(args)
            .arg("--catalog")
            .arg(example())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_missing_catalog_is_a_usage_error() {
    cli()
        .args([
            "query",
            "oi",
            "BTCUSDT-PERP",
            "--catalog",
            "/nonexistent/catalog",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no catalog at '/nonexistent/catalog'",
        ));
}

#[test]
fn a_corrupt_file_fails_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&example(), dir.path());
    let dataset = dir
        .path()
        .join("data/custom_open_interest/BTCUSDT-PERP.BINANCE");
    let victim = std::fs::read_dir(&dataset)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&victim, b"PAR1 garbage").unwrap();
    cli()
        .args(["query", "oi", "BTCUSDT-PERP", "--from", "2025-01-01"])
        .arg("--catalog")
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            victim.file_name().unwrap().to_str().unwrap(),
        ))
        .stderr(predicate::str::contains("is corrupt"))
        .stderr(predicate::str::contains("error: catalog file '"));
}

#[test]
fn a_closed_pipe_ends_quietly_with_exit_0() {
    // Like `ccxt-cli query ... | head -1`: the reader goes away after one line.
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin!("ccxt-cli"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CCXT_") || key == "RUST_LOG" {
            child.env_remove(key);
        }
    }
    let mut child = child
        .args([
            "query",
            "oi",
            "BTCUSDT-PERP",
            "--format",
            "ndjson",
            "--catalog",
        ])
        .arg(example())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status:?} {stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn the_catalog_comes_from_the_flag_then_the_environment_then_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ccxt.toml");
    std::fs::write(
        &config,
        format!("catalog_path = {:?}\n", example().to_str().unwrap()),
    )
    .unwrap();
    let from_config = cli()
        .args(["query", "oi", "BTCUSDT-PERP", "-n", "1", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        from_config.status.success(),
        "{}",
        String::from_utf8_lossy(&from_config.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&from_config.stdout).lines().count(),
        5
    );
    cli()
        .args(["query", "oi", "BTCUSDT-PERP", "-n", "1"])
        .env("CCXT_CONFIG", &config)
        .env("CCXT_CATALOG_PATH", "/nonexistent/from-env")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/from-env"));
    cli()
        .args([
            "query",
            "oi",
            "BTCUSDT-PERP",
            "-n",
            "1",
            "--catalog",
            "/nonexistent/from-flag",
        ])
        .env("CCXT_CATALOG_PATH", "/nonexistent/from-env")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/from-flag"));
    std::fs::write(&config, "catalog_path = [").unwrap();
    cli()
        .args(["query", "oi", "BTCUSDT-PERP", "--config"])
        .arg(&config)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid configuration"));
}

#[test]
fn demo_refuses_a_non_empty_directory_and_compact_keeps_every_row() {
    let dir = tempfile::tempdir().unwrap();
    cli()
        .args(["catalog", "demo"])
        .arg(dir.path())
        .arg("--days")
        .arg("1")
        .assert()
        .success();
    cli()
        .args(["catalog", "demo"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not empty"));
    let info = |p: &Path| {
        let out = cli()
            .args(["catalog", "info", "--format", "csv", "--catalog"])
            .arg(p)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let before = info(dir.path());
    cli()
        .args(["catalog", "compact", "--catalog"])
        .arg(dir.path())
        .assert()
        .success()
        .stderr(predicate::str::contains("compacted 0 of 43 datasets"));
    assert_eq!(info(dir.path()), before);
}

#[test]
fn help_shows_examples() {
    cli()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Examples:"));
    cli()
        .args(["query", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ccxt-cli query funding BTCUSDT-PERP",
        ));
}

#[test]
fn the_documented_default_config_loads() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/default.toml");
    cli()
        .args(["catalog", "info", "--format", "csv", "--config"])
        .arg(&config)
        .arg("--catalog")
        .arg(example())
        .assert()
        .success();
}

#[test]
fn the_documented_default_config_is_what_the_daemon_uses_without_one() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/default.toml");
    let with_file = cli()
        .args(["daemon", "validate", "-s", "BTCUSDT-PERP", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        with_file.status.success(),
        "{}",
        String::from_utf8_lossy(&with_file.stderr)
    );
    let without = cli()
        .args(["daemon", "validate", "-s", "BTCUSDT-PERP"])
        .output()
        .unwrap();
    assert!(without.status.success());
    // Same schedules, venues and address; only the catalog line may differ.
    let body = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .skip(1)
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(body(&with_file), body(&without));
    assert!(
        body(&without)
            .iter()
            .any(|l| l.contains("\"0 */5 * * * *\""))
    );
}

#[test]
fn the_deploy_example_config_is_valid() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/systemd/config.toml");
    let out = cli()
        .args(["daemon", "validate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn query_gaps_lists_stream_gaps_per_venue() {
    let out = run_ok(&["query", "gaps", "--format", "csv"]);
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .contains(",binance,!forceOrder@arr,"),
        "{out}"
    );
    let bybit = run_ok(&["query", "gaps", "-e", "bybit", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&bybit).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["seconds"], 5.25);
    cli()
        .args(["query", "oi", "--catalog"])
        .arg(example())
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "query oi needs a SYMBOL, --all, or a time window (--from/--to)",
        ));
}

#[test]
fn query_bars_shows_ohlcv_at_the_instruments_precision() {
    let out = run_ok(&[
        "query",
        "bars",
        "BTCUSDT-PERP",
        "--interval",
        "1h",
        "--from",
        "2025-01-02T00:00:00Z",
        "-n",
        "2",
    ]);
    insta::assert_snapshot!("query_bars_table", out);
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    assert!(
        readme.contains(out.trim_end()),
        "README's `query bars` example differs from:\n{out}"
    );
    let csv = run_ok(&[
        "query",
        "bars",
        "ETHUSDT-PERP",
        "--interval",
        "1h",
        "--price",
        "mark",
        "-e",
        "bybit",
        "--from",
        "2025-01-01",
        "-n",
        "2",
        "--format",
        "csv",
    ]);
    insta::assert_snapshot!("query_bars_mark_csv", csv);
    // Every bar of the example is on the grid, stamped at its close, with high >= open/close >= low.
    let json: serde_json::Value = serde_json::from_str(&run_ok(&[
        "query",
        "bars",
        "BTCUSDT-PERP",
        "--interval",
        "1h",
        "--format",
        "json",
    ]))
    .unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 72 + 72 + 70);
    for r in rows {
        let n = |k: &str| r[k].as_str().unwrap().parse::<f64>().unwrap();
        assert!(n("low") <= n("open") && n("open") <= n("high"), "{r}");
        assert!(n("low") <= n("close") && n("close") <= n("high"), "{r}");
        let close = r["ts_event"].as_u64().unwrap();
        assert_eq!(close % 3_600_000_000_000, 0, "{r}");
        assert_eq!(r["ts_init"].as_u64(), Some(close));
    }
    // Hyperliquid has no mark candles: no rows, a note, success.
    cli()
        .args([
            "query",
            "bars",
            "BTC",
            "--interval",
            "1h",
            "--price",
            "mark",
        ])
        .args(["-e", "hyperliquid", "--catalog"])
        .arg(example())
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains(
            "no bars rows for 1h mark BTC on hyperliquid",
        ));
}

#[test]
fn query_mark_and_index_print_exact_decimals() {
    let json = run_ok(&[
        "query",
        "mark",
        "BTCUSDT-PERP",
        "--from",
        "2025-01-01",
        "-n",
        "3",
        "--format",
        "json",
    ]);
    insta::assert_snapshot!("query_mark_json", json);
    let table = run_ok(&[
        "query",
        "index",
        "ETHUSDT-PERP",
        "-e",
        "bybit",
        "-e",
        "hyperliquid",
        "-n",
        "4",
    ]);
    insta::assert_snapshot!("query_index_table", table);
}

#[test]
fn query_bars_gaps_lists_exactly_the_missing_bars() {
    // The example misses Hyperliquid's BTC bars of 2025-01-02 06:00 and 07:00.
    let csv = run_ok(&[
        "query",
        "bars",
        "BTCUSDT-PERP",
        "--interval",
        "1h",
        "--gaps",
        "--format",
        "csv",
    ]);
    assert_eq!(
        csv,
        "from,to,venue,symbol,interval,price,missing_bars,bar_type,from_ns,to_ns\n\
         2025-01-02T06:00:00Z,2025-01-02T08:00:00Z,hyperliquid,BTC,1h,last,2,BTC-USD-PERP.HYPERLIQUID-1-HOUR-LAST-EXTERNAL,1735797600000000000,1735804800000000000\n"
    );
    // With an explicit range, the grid runs over all of it: the hours before the first and
    // after the last stored bar are missing too.
    let csv = run_ok(&[
        "query",
        "bars",
        "ETHUSDT-PERP",
        "--interval",
        "1h",
        "-e",
        "binance",
        "--gaps",
        "--from",
        "2024-12-31T22:00:00Z",
        "--to",
        "2025-01-04T02:00:00Z",
        "--format",
        "csv",
    ]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1]
            .starts_with("2024-12-31T22:00:00Z,2025-01-01T00:00:00Z,binance,ETHUSDT,1h,last,2,"),
        "{csv}"
    );
    assert!(
        lines[2]
            .starts_with("2025-01-04T00:00:00Z,2025-01-04T02:00:00Z,binance,ETHUSDT,1h,last,2,"),
        "{csv}"
    );
    // A complete series: nothing missing, a note, success.
    cli()
        .args([
            "query",
            "bars",
            "BTCUSDT-PERP",
            "--interval",
            "1h",
            "-e",
            "bybit",
            "--gaps",
        ])
        .arg("--catalog")
        .arg(example())
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains("no missing bars"));
}

fn json_rows(args: &[&str]) -> Vec<serde_json::Value> {
    let out = run_ok(&[args, &["--format", "json"]].concat());
    serde_json::from_str::<serde_json::Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn dec(v: &serde_json::Value) -> rust_decimal::Decimal {
    v.as_str().unwrap().parse().unwrap()
}

#[test]
fn query_every_views_on_the_example_catalog() {
    let views: [(&str, &[&str]); 7] = [
        (
            "query_every_oi_table",
            &["query", "oi", "BTC", "--every", "1d"],
        ),
        (
            "query_every_funding_csv",
            &[
                "query", "funding", "--all", "--every", "1d", "--format", "csv",
            ],
        ),
        (
            "query_every_liquidations_json",
            &[
                "query",
                "liquidations",
                "ETH",
                "--every",
                "12h",
                "--to",
                "2025-01-01",
                "--format",
                "json",
            ],
        ),
        (
            "query_every_bars_table",
            &["query", "bars", "BTC", "--interval", "1h", "--every", "1d"],
        ),
        (
            "query_every_mark_ndjson",
            &[
                "query", "mark", "ETH", "--every", "1d", "--format", "ndjson",
            ],
        ),
        (
            "query_by_asset_oi_table",
            &["query", "oi", "--all", "--by-asset", "--every", "1d"],
        ),
        (
            "query_by_asset_funding_csv",
            &[
                "query",
                "funding",
                "--all",
                "--by-asset",
                "--every",
                "1d",
                "--format",
                "csv",
            ],
        ),
    ];
    for (name, args) in views {
        insta::assert_snapshot!(name, run_ok(args));
    }
    insta::assert_snapshot!(
        "query_by_asset_liquidations_json",
        run_ok(&[
            "query",
            "liquidations",
            "--from",
            "2025-01-02",
            "--to",
            "2025-01-02",
            "--by-asset",
            "--every",
            "1d",
            "--format",
            "json"
        ])
    );
}

#[test]
fn by_asset_open_interest_is_the_sum_of_each_venues_last_snapshot() {
    // The last snapshots of 2025-01-01 (23:55), read without aggregating.
    let last = json_rows(&[
        "query",
        "oi",
        "BTC",
        "--to",
        "2025-01-01T23:59:59Z",
        "-n",
        "3",
    ]);
    assert!(
        last.iter()
            .all(|r| r["timestamp"] == "2025-01-01T23:55:00Z")
    );
    let coins: f64 = last
        .iter()
        .map(|r| r["open_interest"].as_f64().unwrap())
        .sum();
    let binance = last.iter().find(|r| r["venue"] == "binance").unwrap()["open_interest"]
        .as_f64()
        .unwrap();
    // By hand: 83806.912 (binance) + 50349.241 (bybit) + 26454.037 (hyperliquid) = 160610.19.
    assert!((coins - 160_610.19).abs() < 1e-6, "{coins}");
    let day1 = json_rows(&[
        "query",
        "oi",
        "--all",
        "--by-asset",
        "--every",
        "1d",
        "--to",
        "2025-01-01",
    ]);
    let btc = day1.iter().find(|r| r["asset"] == "BTC").unwrap();
    assert_eq!(btc["bucket"], "2025-01-01T00:00:00Z");
    assert!((btc["open_interest"].as_f64().unwrap() - coins).abs() < 1e-6);
    let share = btc["binance_share"].as_f64().unwrap();
    assert!((share - binance / coins).abs() < 1e-6, "{share}");
    assert!(btc["okx_share"].is_null());
}

#[test]
fn by_asset_funding_is_annualised_by_each_venues_interval() {
    let settled = |symbol: &str, venue: &str| -> Vec<rust_decimal::Decimal> {
        json_rows(&[
            "query",
            "funding",
            symbol,
            "-e",
            venue,
            "--from",
            "2025-01-01",
            "--to",
            "2025-01-01",
        ])
        .iter()
        .filter(|r| r["kind"] == "settled")
        .map(|r| dec(&r["rate"]))
        .collect()
    };
    let binance = settled("BTC", "binance");
    let hyperliquid = settled("BTC", "hyperliquid");
    assert_eq!((binance.len(), hyperliquid.len()), (3, 24));
    // mean × settlements a year: 8h → 1095, 1h → 8760; a full day's mean × these is sum × 365.
    let year = rust_decimal::Decimal::from(365);
    let binance_apr = binance.iter().sum::<rust_decimal::Decimal>() * year;
    let hyperliquid_apr = hyperliquid.iter().sum::<rust_decimal::Decimal>() * year;
    // By hand: 0.0002917 × 365 = 0.1064705 and 0.00029376 × 365 = 0.1072224.
    assert_eq!(binance_apr.normalize().to_string(), "0.1064705");
    assert_eq!(hyperliquid_apr.normalize().to_string(), "0.1072224");
    let rows = json_rows(&[
        "query",
        "funding",
        "BTC",
        "--by-asset",
        "--every",
        "1d",
        "--to",
        "2025-01-01",
    ]);
    assert_eq!(rows.len(), 1);
    assert_eq!(dec(&rows[0]["binance_apr"]), binance_apr);
    assert_eq!(dec(&rows[0]["hyperliquid_apr"]), hyperliquid_apr);
    let bybit = dec(&rows[0]["bybit_apr"]);
    let all = [binance_apr, hyperliquid_apr, bybit];
    let spread = *all.iter().max().unwrap() - *all.iter().min().unwrap();
    assert_eq!(dec(&rows[0]["spread"]), spread);
}

#[test]
fn every_sums_liquidations_by_side_and_rebuilds_bars() {
    let raw = json_rows(&[
        "query",
        "liquidations",
        "BTCUSDT-PERP",
        "-e",
        "bybit",
        "--from",
        "2025-01-02",
        "--to",
        "2025-01-02",
    ]);
    let side = |s: &'static str| raw.iter().filter(move |r| r["side"] == s);
    let long_value: f64 = side("LONG").map(|r| r["value"].as_f64().unwrap()).sum();
    let rows = json_rows(&[
        "query",
        "liquidations",
        "BTCUSDT-PERP",
        "-e",
        "bybit",
        "--every",
        "1d",
        "--from",
        "2025-01-02",
        "--to",
        "2025-01-02",
    ]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["count"], raw.len());
    assert_eq!(rows[0]["long_count"], side("LONG").count());
    assert_eq!(rows[0]["short_count"], side("SHORT").count());
    assert!((rows[0]["long_value"].as_f64().unwrap() - long_value).abs() < 1e-3);
    let asset = json_rows(&[
        "query",
        "liquidations",
        "BTC",
        "--by-asset",
        "--every",
        "1d",
        "--from",
        "2025-01-02",
        "--to",
        "2025-01-02",
    ]);
    assert_eq!(asset[0]["bybit_long_value"], rows[0]["long_value"]);

    let hourly = json_rows(&[
        "query",
        "bars",
        "BTCUSDT-PERP",
        "-e",
        "binance",
        "--interval",
        "1h",
        "--from",
        "2025-01-02T00:00:01Z",
        "--to",
        "2025-01-03T00:00:00Z",
    ]);
    assert_eq!(hourly.len(), 24, "the bars that open on 2025-01-02");
    let daily = json_rows(&[
        "query",
        "bars",
        "BTCUSDT-PERP",
        "-e",
        "binance",
        "--interval",
        "1h",
        "--every",
        "1d",
        "--from",
        "2025-01-02T00:00:01Z",
        "--to",
        "2025-01-03T00:00:00Z",
    ]);
    assert_eq!(daily.len(), 1);
    let d = &daily[0];
    assert_eq!(d["bucket"], "2025-01-02T00:00:00Z");
    assert_eq!(d["bars"], 24);
    assert_eq!(d["open"], hourly[0]["open"]);
    assert_eq!(d["close"], hourly[23]["close"]);
    let max = hourly.iter().map(|b| dec(&b["high"])).max().unwrap();
    let min = hourly.iter().map(|b| dec(&b["low"])).min().unwrap();
    let volume: rust_decimal::Decimal = hourly.iter().map(|b| dec(&b["volume"])).sum();
    assert_eq!((dec(&d["high"]), dec(&d["low"])), (max, min));
    assert_eq!(dec(&d["volume"]), volume);
}

#[test]
fn every_and_by_asset_usage_errors_exit_2_with_one_line() {
    let cases: [(&[&str], &str); 6] = [
        (
            &["query", "oi", "BTC", "--every", "3d"],
            "unknown bar interval '3d'",
        ),
        (
            &["query", "bars", "BTC", "--interval", "1h", "--every", "1m"],
            "--every 1m is not a multiple of the stored 1h bars",
        ),
        (
            &["query", "funding"],
            "query funding needs a SYMBOL, --all, or a time window (--from/--to)",
        ),
        (
            &["query", "mark", "BTC", "--every", "1h", "--by-asset"],
            "--by-asset is for oi, funding and liquidations, not `query mark`",
        ),
        (
            &["query", "oi", "BTC", "--by-asset"],
            "--by-asset needs --every (the bucket length)",
        ),
        (
            &["query", "gaps", "--every", "1h"],
            "--every is for oi, funding, liquidations, bars, mark and index",
        ),
    ];
    for (args, message) in cases {
        let out = cli()
            .args(args)
            .arg("--catalog")
            .arg(example())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        // The message is one line (clap adds its "For more information" hint below).
        assert!(
            stderr.lines().next().unwrap().contains(message),
            "{args:?}: {stderr}"
        );
    }
}
