//! End-to-end: `ccxt-cli stream-liquidations` against the simulator's WebSocket endpoints.
//! Completeness is checked against the simulator's log of exactly what it sent.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::HashMap;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use exchange_sim::{SimConfig, SimHandle, Venue as SimVenue, WsFaults};
use serde_json::Value;

mod common;

async fn sim(per_sec: f64) -> SimHandle {
    let mut config = SimConfig::default();
    config.limits.enabled = false;
    config.ws.liquidations_per_sec = exchange_sim::VenueRates::all(per_sec);
    exchange_sim::start(config).await.unwrap()
}

fn command(sim: &SimHandle) -> Command {
    let mut cmd = common::cli_against(sim);
    cmd.env("CCXT_VENUES__HYPERLIQUID__POLL_INTERVAL_SECS", "0.5");
    cmd
}

async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Wall-clock now, Unix ms. Live streams run in real time: the simulator's liquidation feeds
/// follow the real clock here and completeness is checked against its log of what it sent up
/// to a wall-clock instant, never against a fixed count, so the time of day does not matter
/// (a run across midnight only splits the rows into two day files).
fn now_ms() -> u64 {
    ccxt_model::time::now_ns() / 1_000_000
}

/// The identity of a liquidation: venue, symbol, venue time (ms), quantity. (Not the price:
/// Binance's message carries the order price `p` and the average fill price `ap`; we store `ap`.)
type Key = (String, String, u64, String);

/// Each stored liquidation's key, with how often it is stored.
async fn stored(catalog: &str) -> HashMap<Key, usize> {
    let mut counts = HashMap::new();
    for symbol in ["BTCUSDT-PERP", "ETHUSDT-PERP"] {
        let mut cmd = common::clean_cli();
        cmd.args([
            "query",
            "liquidations",
            symbol,
            "--format",
            "ndjson",
            "--catalog",
            catalog,
        ]);
        let out = output(cmd).await;
        assert!(
            out.status.success(),
            "query failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            let key = (
                v["venue"].as_str().unwrap().to_string(),
                v["symbol"].as_str().unwrap().to_string(),
                v["ts_event"].as_u64().unwrap() / 1_000_000,
                format!("{}", v["quantity"].as_f64().unwrap()),
            );
            *counts.entry(key).or_insert(0) += 1;
        }
    }
    counts
}

/// OKX's contract values (`ctVal × ctMult`) by `instId`, as the simulator lists them.
async fn okx_contract_values(sim: &SimHandle) -> HashMap<String, rust_decimal::Decimal> {
    let config = ccxt_transport::TransportConfig::new(ccxt_okx::VENUE, sim.url());
    let transport = ccxt_transport::HttpTransport::new(config, ccxt_okx::rate_limits()).unwrap();
    let fetcher = ccxt_okx::OkxFetcher::new(std::sync::Arc::new(transport));
    fetcher
        .swaps()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|s| Some((s.inst_id, s.contract_value?)))
        .collect()
}

/// The events the simulator sent on `venue` for BTCUSDT/ETHUSDT up to `until_ms`, once each.
fn sent(sim: &SimHandle, venue: SimVenue, until_ms: u64) -> Vec<Key> {
    sent_okx(sim, venue, until_ms, &HashMap::new())
}

/// [`sent`], OKX's contracts turned into coins with `ct_vals` (stored quantities are coins).
fn sent_okx(
    sim: &SimHandle,
    venue: SimVenue,
    until_ms: u64,
    ct_vals: &HashMap<String, rust_decimal::Decimal>,
) -> Vec<Key> {
    use rust_decimal::prelude::ToPrimitive;
    let name = venue.as_str();
    let ours = ["BTCUSDT", "ETHUSDT", "BTC-USDT-SWAP", "ETH-USDT-SWAP"];
    let mut keys: Vec<_> = sim
        .sent_liquidations(venue)
        .into_iter()
        .filter(|e| !e.malformed && e.sent_ms <= until_ms && ours.contains(&e.symbol.as_str()))
        .map(|e| {
            let q: f64 = match ct_vals.get(&e.symbol) {
                Some(ct_val) => (e.qty.parse::<rust_decimal::Decimal>().unwrap() * ct_val)
                    .to_f64()
                    .unwrap(),
                None => e.qty.parse().unwrap(),
            };
            (
                name.to_string(),
                e.symbol.clone(),
                e.time_ms,
                format!("{q}"),
            )
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

fn assert_complete(stored: &HashMap<Key, usize>, sent: &[Key], what: &str) {
    assert!(!sent.is_empty(), "{what}: the simulator sent nothing");
    let missing: Vec<_> = sent.iter().filter(|k| !stored.contains_key(*k)).collect();
    assert!(
        missing.is_empty(),
        "{what}: {} of {} sent liquidations missing, e.g. {:?}",
        missing.len(),
        sent.len(),
        missing.first()
    );
    let doubled: Vec<_> = stored.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        doubled.is_empty(),
        "{what}: duplicates stored, e.g. {:?}",
        doubled.first()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_store_for_a_duration_then_query_has_every_liquidation_once() {
    let sim = sim(40.0).await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().to_str().unwrap().to_string();
    let mut cmd = command(&sim);
    // Rotate the Binance connection every 1.5 s: rotations must lose and duplicate nothing.
    cmd.env("CCXT_VENUES__BINANCE__WS_ROTATE_SECS", "1.5");
    cmd.args([
        "stream-liquidations",
        "BTCUSDT-PERP",
        "ETHUSDT-PERP",
        "--store",
        "--duration",
        "5s",
        "--format",
        "ndjson",
        "--catalog",
        &catalog,
    ]);
    let out = output(cmd).await;
    let stopped = now_ms();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("stopped (duration reached)"), "{stderr}");
    let printed = String::from_utf8_lossy(&out.stdout).lines().count();
    assert!(printed > 50, "{printed} printed");
    let stored = stored(&catalog).await;
    let mut all_sent = sent(&sim, SimVenue::Binance, stopped - 700);
    all_sent.extend(sent(&sim, SimVenue::Bybit, stopped - 700));
    let ct_vals = okx_contract_values(&sim).await;
    all_sent.extend(sent_okx(&sim, SimVenue::Okx, stopped - 700, &ct_vals));
    assert!(all_sent.iter().any(|k| k.0 == "okx"));
    assert_complete(&stored, &all_sent, "binance (rotating) + bybit + okx");
    assert!(
        stored.keys().any(|k| k.0 == "hyperliquid"),
        "Hyperliquid polled liquidations are stored: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_closes_and_dropped_connections_reconnect_and_are_recorded_as_gaps() {
    let sim = sim(40.0).await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().to_str().unwrap().to_string();
    let mut cmd = command(&sim);
    cmd.args([
        "stream-liquidations",
        "BTCUSDT-PERP",
        "ETHUSDT-PERP",
        "-e",
        "binance",
        "-e",
        "bybit",
        "-e",
        "okx",
        "--store",
        "--quiet",
        "--duration",
        "6s",
        "--catalog",
        &catalog,
    ]);
    let child = spawn(cmd);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sim.set_ws_faults(
        SimVenue::Bybit,
        WsFaults {
            server_close: true,
            ..WsFaults::default()
        },
    )
    .unwrap();
    sim.set_ws_faults(
        SimVenue::Okx,
        WsFaults {
            server_close: true,
            ..WsFaults::default()
        },
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sim.set_ws_faults(
        SimVenue::Binance,
        WsFaults {
            tcp_drop: true,
            ..WsFaults::default()
        },
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(out.stdout.is_empty(), "--quiet prints no liquidation");

    let mut cmd = common::clean_cli();
    cmd.args(["query", "gaps", "--format", "json", "--catalog", &catalog]);
    let gaps: Value = serde_json::from_slice(&output(cmd).await.stdout).unwrap();
    let gaps = gaps.as_array().unwrap();
    for venue in ["binance", "bybit", "okx"] {
        let g = gaps
            .iter()
            .find(|g| g["venue"] == venue)
            .unwrap_or_else(|| panic!("no {venue} gap in {gaps:?}"));
        assert!(g["seconds"].as_f64().unwrap() < 5.0, "{g}");
    }
    // Nothing stored twice across the reconnects.
    let stored = stored(&catalog).await;
    assert!(stored.values().all(|n| *n == 1));
    assert!(stderr.contains("gaps"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_then_restart_stores_everything_sent_before_the_last_sync_window_exactly_once() {
    let sim = sim(60.0).await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().to_str().unwrap().to_string();
    let args = [
        "stream-liquidations",
        "BTCUSDT-PERP",
        "ETHUSDT-PERP",
        "-e",
        "binance",
        "-e",
        "bybit",
        "--store",
        "--quiet",
        "--catalog",
        &catalog,
    ];
    let mut cmd = command(&sim);
    // Rows stay in the spool (no periodic move to Parquet): only the 200 ms fsync protects them.
    cmd.env("CCXT_SPOOL__FLUSH_SECS", "3600")
        .env("CCXT_SPOOL__SYNC_MILLIS", "200");
    cmd.args(args);
    let mut child = spawn(cmd);
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let killed = now_ms();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    sim.set_liquidation_rate(SimVenue::Binance, 0.0);
    sim.set_liquidation_rate(SimVenue::Bybit, 0.0);

    // Restart: the spool of the killed run is moved into the catalog first.
    let mut cmd = command(&sim);
    cmd.args(args).args(["--duration", "1s"]);
    let out = output(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("from the spool of an earlier run"),
        "{stderr}"
    );

    let stored = stored(&catalog).await;
    // The last sync window (200 ms) plus the time between the simulator's send and our append.
    let mut before_kill = sent(&sim, SimVenue::Binance, killed - 600);
    before_kill.extend(sent(&sim, SimVenue::Bybit, killed - 600));
    assert_complete(&stored, &before_kill, "after kill -9 and restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flushes_everything_prints_a_summary_and_exits_0() {
    let sim = sim(40.0).await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().to_str().unwrap().to_string();
    let mut cmd = command(&sim);
    // No periodic move to Parquet: only the shutdown path can store the rows.
    cmd.env("CCXT_SPOOL__FLUSH_SECS", "3600");
    cmd.args([
        "stream-liquidations",
        "BTCUSDT-PERP",
        "-e",
        "bybit",
        "--store",
        "--quiet",
        "--catalog",
        &catalog,
    ]);
    let child = spawn(cmd);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopped (signal received)"), "{stderr}");
    let stored = stored(&catalog).await;
    assert!(
        stored.keys().filter(|k| k.0 == "bybit").count() > 10,
        "{stderr}"
    );
    assert!(
        !dir.path()
            .join(".spool/liquidations")
            .read_dir()
            .unwrap()
            .any(|e| e.unwrap().path().extension().is_some_and(|x| x == "spool")),
        "spool drained"
    );
}

/// `--spool-dir` puts the spool and the heartbeat file there, not in the catalog (which may
/// be an object store); what is streamed is stored all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spool_and_heartbeat_go_to_the_spool_dir() {
    let sim = sim(40.0).await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    let spool = dir.path().join("local-spool");
    let mut cmd = command(&sim);
    cmd.env("CCXT_SPOOL__FLUSH_SECS", "3600");
    cmd.args([
        "stream-liquidations",
        "BTCUSDT-PERP",
        "-e",
        "bybit",
        "--store",
        "--quiet",
        "--spool-dir",
        spool.to_str().unwrap(),
        "--catalog",
        catalog.to_str().unwrap(),
    ]);
    let child = spawn(cmd);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(spool.join("liquidations").is_dir());
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(spool.join(".stream/state.json").is_file(), "{stderr}");
    assert!(!catalog.join(".spool").exists() && !catalog.join(".stream").exists());
    let stored = stored(catalog.to_str().unwrap()).await;
    assert!(stored.keys().any(|k| k.0 == "bybit"), "{stderr}");
}
