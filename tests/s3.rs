//! End-to-end on S3: `ccxt-cli` against the venue simulator, writing to the in-process
//! S3-compatible server (`ccxt-s3-sim`) on loopback.
//!
//! * `fetch-oi --store`, `fetch-funding --store` and `stream-liquidations --store` to `s3://`:
//!   `query` and `catalog info` on the bucket equal the same commands on a local directory
//!   (the fetches), every liquidation the simulator sent stored once (the stream);
//! * the daemon writing to `s3://` with its spool on local disk: the store goes away for a
//!   while (every request fails) and comes back; `/healthz` says so meanwhile, and afterwards
//!   every liquidation sent and every snapshot taken is stored, once;
//! * two shards (`--shard 0/2`, `--shard 1/2`) on one bucket, a second copy of one refused, and
//!   a restart of one: together they collect every instrument, none twice.
//!
//! Nothing here waits a fixed time to assert on: every wait polls for a condition with a
//! generous timeout.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use ccxt_s3_sim::{Fault, S3Sim};
use exchange_sim::{SimConfig, SimHandle, Venue as SimVenue};
use serde_json::Value;

mod common;
#[path = "common/daemon_proc.rs"]
mod daemon_proc;

use daemon_proc::{free_port, metric_sum, metric_value, start, wait_for};

/// The venue simulator with rate limits off and `per_sec` liquidations a second per venue.
async fn venue_sim(symbols: usize, now_ms: Option<u64>, per_sec: f64) -> SimHandle {
    let mut config = SimConfig {
        symbols,
        now_ms,
        ..SimConfig::default()
    };
    config.limits.enabled = false;
    config.ws.liquidations_per_sec = exchange_sim::VenueRates::all(per_sec);
    exchange_sim::start(config).await.unwrap()
}

/// `ccxt-cli` against `sim` with the S3 server's endpoint and credentials. (The CLI's settings
/// refuse a plain-http endpoint unless `storage.allow_http` is set, which `S3Sim::env` leaves
/// out.)
fn cli(sim: &SimHandle, s3: &S3Sim) -> Command {
    let mut cmd = common::cli_against(sim);
    cmd.envs(s3.env()).env("CCXT_STORAGE__ALLOW_HTTP", "true");
    cmd
}

async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Runs `cmd`, asserting exit 0; stdout.
async fn run_ok(cmd: Command) -> String {
    let what = format!("{cmd:?}");
    let out = output(cmd).await;
    assert!(
        out.status.success(),
        "{what} exited {:?}:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `query <args> --format json --catalog <catalog>` rows (with the S3 environment).
async fn query(sim: &SimHandle, s3: &S3Sim, catalog: &str, args: &[&str]) -> Vec<Value> {
    let mut cmd = cli(sim, s3);
    cmd.arg("query")
        .args(args)
        .args(["--format", "json", "--catalog", catalog]);
    let stdout = run_ok(cmd).await;
    if stdout.trim().is_empty() {
        return Vec::new();
    }
    serde_json::from_str(&stdout).unwrap()
}

/// `catalog info --format json` rows without the byte sizes (object and file sizes are the
/// same Parquet, but that is not what is compared).
async fn info(sim: &SimHandle, s3: &S3Sim, catalog: &str) -> Vec<Value> {
    let mut cmd = cli(sim, s3);
    cmd.args(["catalog", "info", "--format", "json", "--catalog", catalog]);
    let mut rows: Vec<Value> = serde_json::from_str(&run_ok(cmd).await).unwrap();
    for row in &mut rows {
        if let Some(map) = row.as_object_mut() {
            map.remove("bytes");
        }
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_store_on_s3_reads_back_equal_to_a_local_directory() {
    let now_ms = common::sim_now_ms();
    let sim = venue_sim(4, Some(now_ms), 0.0).await;
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Sim::start(&dir.path().join("s3")).await.unwrap();
    let local = dir.path().join("local").to_str().unwrap().to_string();
    let bucket = s3.url("fetched");
    let from = common::iso_ms(now_ms - 6 * 3_600_000);
    let to = common::iso_ms(now_ms - 3_600_000);
    let symbols = ["BTCUSDT-PERP", "ETHUSDT-PERP"];
    for catalog in [&local, &bucket] {
        for command in ["fetch-oi", "fetch-funding"] {
            let mut cmd = cli(&sim, &s3);
            cmd.arg(command).args(symbols).args([
                "--from",
                &from,
                "--to",
                &to,
                "--store",
                "--catalog",
                catalog,
            ]);
            if command == "fetch-oi" {
                cmd.args([
                    "--period", "15m", "-e", "binance", "-e", "bybit", "-e", "okx",
                ]);
            }
            run_ok(cmd).await;
        }
    }
    assert!(
        s3.requests().put > 0,
        "nothing was written to the S3 server"
    );
    for kind in ["oi", "funding"] {
        let args = [kind, "--all", "--from", &from, "--to", &to];
        let on_disk = query(&sim, &s3, &local, &args).await;
        let in_bucket = query(&sim, &s3, &bucket, &args).await;
        assert!(!on_disk.is_empty(), "{kind}: nothing stored");
        assert_eq!(
            in_bucket, on_disk,
            "{kind}: the bucket differs from the disk"
        );
    }
    let on_disk = info(&sim, &s3, &local).await;
    assert!(on_disk.len() >= 10, "{on_disk:?}");
    assert_eq!(info(&sim, &s3, &bucket).await, on_disk);

    // The same fetch again stores nothing new on either.
    let mut cmd = cli(&sim, &s3);
    cmd.args([
        "fetch-oi",
        "BTCUSDT-PERP",
        "-e",
        "binance",
        "--period",
        "15m",
    ])
    .args([
        "--from",
        &from,
        "--to",
        &to,
        "--store",
        "--catalog",
        &bucket,
    ]);
    let again = output(cmd).await;
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains(" 0 new rows"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(info(&sim, &s3, &bucket).await, on_disk);
    sim.shutdown().await;
}

/// The identity of a liquidation: venue, symbol, venue time (ms), quantity.
type Key = (String, String, u64, String);

/// Each stored liquidation of BTCUSDT/ETHUSDT on Binance and Bybit, with how often it is stored.
async fn stored_liquidations(sim: &SimHandle, s3: &S3Sim, catalog: &str) -> HashMap<Key, usize> {
    let mut counts = HashMap::new();
    for row in query(
        sim,
        s3,
        catalog,
        &[
            "liquidations",
            "BTCUSDT-PERP",
            "ETHUSDT-PERP",
            "-e",
            "binance",
            "-e",
            "bybit",
        ],
    )
    .await
    {
        let key = (
            row["venue"].as_str().unwrap().to_string(),
            row["symbol"].as_str().unwrap().to_string(),
            row["ts_event"].as_u64().unwrap() / 1_000_000,
            format!("{}", row["quantity"].as_f64().unwrap()),
        );
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

/// The liquidations the simulator sent for BTCUSDT/ETHUSDT on Binance and Bybit from
/// `from_ms` to `until_ms` (sent time), once each.
fn sent_liquidations(sim: &SimHandle, from_ms: u64, until_ms: u64) -> Vec<Key> {
    let mut keys: Vec<Key> = [SimVenue::Binance, SimVenue::Bybit]
        .into_iter()
        .flat_map(|venue| {
            sim.sent_liquidations(venue)
                .into_iter()
                .filter(move |e| {
                    !e.malformed
                        && e.sent_ms >= from_ms
                        && e.sent_ms <= until_ms
                        && ["BTCUSDT", "ETHUSDT"].contains(&e.symbol.as_str())
                })
                .map(move |e| {
                    let q: f64 = e.qty.parse().unwrap();
                    (
                        venue.as_str().to_string(),
                        e.symbol.clone(),
                        e.time_ms,
                        format!("{q}"),
                    )
                })
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

fn assert_once(stored: &HashMap<Key, usize>, sent: &[Key], what: &str) {
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
        "{what}: stored twice, e.g. {:?}",
        doubled.first()
    );
}

fn now_ms() -> u64 {
    ccxt_model::time::now_ns() / 1_000_000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_liquidations_store_on_s3_has_every_liquidation_once() {
    let sim = venue_sim(4, None, 20.0).await;
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Sim::start(&dir.path().join("s3")).await.unwrap();
    let bucket = s3.url("streamed");
    let started = now_ms();
    let mut cmd = cli(&sim, &s3);
    cmd.args(["stream-liquidations", "BTCUSDT-PERP", "ETHUSDT-PERP"])
        .args([
            "-e",
            "binance",
            "-e",
            "bybit",
            "--store",
            "--duration",
            "3s",
        ])
        .args(["--spool-dir", dir.path().join("spool").to_str().unwrap()])
        .args(["--catalog", &bucket]);
    let stderr = {
        let out = output(cmd).await;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        stderr
    };
    let stopped = now_ms();
    assert!(stderr.contains("stopped (duration reached)"), "{stderr}");
    let stored = stored_liquidations(&sim, &s3, &bucket).await;
    assert_once(
        &stored,
        &sent_liquidations(&sim, started, stopped - 700),
        "stream-liquidations --store to s3://",
    );
    sim.shutdown().await;
}

/// `daemon start` against `sim`, writing to `catalog` with its spool in `spool`, with short
/// schedules; `/healthz` and `/metrics` on `port`.
fn daemon(sim: &SimHandle, s3: &S3Sim, catalog: &str, spool: &Path, port: u16) -> Command {
    let mut cmd = cli(sim, s3);
    cmd.env("CCXT_VENUES__HYPERLIQUID__POLL_INTERVAL_SECS", "2")
        .env("CCXT_CATALOG_PATH", catalog)
        .env("CCXT_SPOOL__DIR", spool)
        .env("CCXT_METRICS__ADDRESS", format!("127.0.0.1:{port}"))
        .env("CCXT_DAEMON__SCHEDULE__OPEN_INTEREST", "*/2 * * * * *")
        .env("CCXT_DAEMON__SCHEDULE__FUNDING", "1/2 * * * * *")
        .env("CCXT_DAEMON__SCHEDULE__FUNDING_HISTORY", "*/5 * * * * *")
        .env("CCXT_DAEMON__SCHEDULE__OPEN_INTEREST_HISTORY", "off")
        .env("CCXT_DAEMON__SCHEDULE__INSTRUMENTS", "off")
        .env("CCXT_DAEMON__SCHEDULE__COMPACTION", "*/10 * * * * *")
        .env("CCXT_DAEMON__SCHEDULE__BARS", "off")
        .env("CCXT_DAEMON__BACKFILL__FUNDING_HISTORY_DAYS", "1")
        .env("CCXT_DAEMON__HEALTH__STREAM_STALE_SECS", "5")
        .env("CCXT_DAEMON__HEALTH__JOB_GRACE_SECS", "3")
        .env("CCXT_SPOOL__FLUSH_SECS", "1")
        .env("CCXT_SPOOL__HOLD_SECS", "0")
        .env("CCXT_LOG_LEVEL", "info")
        .args(["daemon", "start"]);
    cmd
}

const OI_OK: &str = "ccxt_job_runs_total{job=\"open_interest\",venue=\"binance\",result=\"ok\"}";

/// Snapshot rows (`ts_event != ts_init`: taken live) of `symbol` on `venue`, as (ts_init, row).
async fn snapshots(
    sim: &SimHandle,
    s3: &S3Sim,
    catalog: &str,
    symbol: &str,
    venue: &str,
) -> Vec<Value> {
    query(sim, s3, catalog, &["oi", symbol, "-e", venue])
        .await
        .into_iter()
        .filter(|r| r["ts_event"] != r["ts_init"])
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_on_s3_waits_out_an_unreachable_store_and_stores_everything_once() {
    let sim = venue_sim(3, None, 10.0).await;
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Sim::start(&dir.path().join("s3")).await.unwrap();
    let bucket = s3.url("daemon");
    let port = free_port();
    let mut cmd = daemon(&sim, &s3, &bucket, &dir.path().join("spool"), port);
    cmd.args(["-s", "BTCUSDT-PERP", "-s", "ETHUSDT-PERP"])
        .args(["-e", "binance", "-e", "bybit"]);
    let d = start(cmd, dir.path(), port, "daemon");
    d.wait_health_where(200, Duration::from_secs(60), |_| true)
        .await;
    d.wait_metrics("rows stored in the bucket", Duration::from_secs(30), |m| {
        metric_value(
            m,
            "ccxt_rows_written_total{kind=\"open_interest\",venue=\"binance\"}",
        ) > 0.0
            && ["binance", "bybit"].iter().all(|venue| {
                metric_value(
                    m,
                    &format!("ccxt_rows_written_total{{kind=\"liquidation\",venue=\"{venue}\"}}"),
                ) > 0.0
            })
    })
    .await;
    // Both liquidation streams deliver from here on (what was sent before they subscribed
    // never reached the daemon, however loaded the machine).
    let streaming = now_ms();

    // The store goes away: every request fails.
    s3.set_fault(Fault::Unavailable);
    let down_ns = ccxt_model::time::now_ns();
    let health = d
        .wait_health_where(503, Duration::from_secs(30), |h| {
            h["faults"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f["kind"] == "catalog"))
        })
        .await;
    let runs_when_down = d.metric(OI_OK).await;
    d.wait_metrics(
        "snapshots taken and rows waiting in the spool while the store is down",
        Duration::from_secs(30),
        |m| {
            metric_value(m, "ccxt_catalog_writable") == 0.0
                && metric_value(m, "ccxt_spool_bytes") > 0.0
                && metric_value(m, OI_OK) >= runs_when_down + 2.0
                && metric_sum(m, "ccxt_rows_dropped_total", "") == 0.0
        },
    )
    .await;
    let taken_while_down = d.metric(OI_OK).await - runs_when_down;

    // Back: the spool drains, /healthz turns 200 again.
    s3.set_fault(Fault::None);
    let up_ns = ccxt_model::time::now_ns();
    d.wait_metrics("the catalog writable again", Duration::from_secs(60), |m| {
        metric_value(m, "ccxt_catalog_writable") == 1.0
    })
    .await;
    d.wait_health_where(200, Duration::from_secs(60), |_| true)
        .await;
    // The streams stop at SIGTERM: what is sent while the daemon drains is not received.
    let stopped = now_ms();
    let (code, log) = d.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(
        !log.contains(ccxt_s3_sim::SECRET_KEY),
        "a secret in the log:\n{log}"
    );

    // Every snapshot taken while the store was down is stored, and nothing twice.
    for venue in ["binance", "bybit"] {
        let rows = snapshots(&sim, &s3, &bucket, "BTCUSDT-PERP", venue).await;
        let unique: BTreeSet<String> = rows.iter().map(Value::to_string).collect();
        assert_eq!(unique.len(), rows.len(), "{venue}: snapshots stored twice");
        let during = rows
            .iter()
            .filter(|r| {
                let t = r["ts_init"].as_u64().unwrap();
                t >= down_ns && t < up_ns
            })
            .count();
        if venue == "binance" {
            assert!(
                during as f64 >= taken_while_down,
                "{during} snapshots stored of {taken_while_down} taken while the store was down \
                 (health then: {health})"
            );
        }
    }
    // Every liquidation sent (but the last moments before the stop) is stored, once.
    let stored = stored_liquidations(&sim, &s3, &bucket).await;
    assert_once(
        &stored,
        &sent_liquidations(&sim, streaming, stopped - 700),
        "daemon across a store outage",
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_and_a_restart_collect_every_instrument_once() {
    let sim = venue_sim(5, None, 5.0).await;
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Sim::start(&dir.path().join("s3")).await.unwrap();
    let bucket = s3.url("sharded");
    let symbols = [
        "BTCUSDT-PERP",
        "ETHUSDT-PERP",
        "SOLUSDT-PERP",
        "XRPUSDT-PERP",
        "DOGEUSDT-PERP",
    ];
    let shard = |i: u32, name: &str, port: u16| {
        let spool = dir.path().join(format!("spool-{i}"));
        let mut cmd = daemon(&sim, &s3, &bucket, &spool, port);
        for s in symbols {
            cmd.args(["-s", s]);
        }
        cmd.args(["--shard", &format!("{i}/2")]);
        start(cmd, dir.path(), port, name)
    };
    let (port0, port1) = (free_port(), free_port());
    let started_ns = ccxt_model::time::now_ns();
    let first = shard(0, "shard-0", port0);
    let second = shard(1, "shard-1", port1);
    let snapshot_rows =
        |m: &str| metric_sum(m, "ccxt_rows_written_total", "kind=\"open_interest\"");
    for d in [&first, &second] {
        d.wait_metrics("the shard stores snapshots", Duration::from_secs(60), |m| {
            snapshot_rows(m) > 0.0
        })
        .await;
    }

    // A second copy of shard 1 (another spool, as on another machine) is refused: the lease on
    // the store belongs to the first.
    let port_dup = free_port();
    let mut cmd = daemon(&sim, &s3, &bucket, &dir.path().join("spool-dup"), port_dup);
    cmd.args(["-s", "BTCUSDT-PERP", "--shard", "1/2"]);
    let dup = start(cmd, dir.path(), port_dup, "shard-1-copy");
    wait_for(
        "the second copy of shard 1 to exit",
        Duration::from_secs(60),
        async || dup.exited().is_some(),
    )
    .await;
    assert_eq!(dup.exited(), Some(1), "{}", dup.log());

    // Restart shard 1 (SIGTERM, as a rolling update does) on the same spool. A clean stop
    // deletes the shard's lease on the store, so the new process takes it at once instead of
    // waiting for it to expire.
    let (code, log) = second.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    let stopped_ns = ccxt_model::time::now_ns();
    // Down for a few cron ticks at least (shard 0 goes on meanwhile).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let restarted_ns = ccxt_model::time::now_ns();
    let second = shard(1, "shard-1-again", port1);
    let mut refused = false;
    wait_for(
        "the restarted shard 1 to answer or exit",
        Duration::from_secs(30),
        async || {
            refused = second.exited().is_some();
            refused || second.get("/healthz").await.0 != 0
        },
    )
    .await;
    assert!(
        !refused,
        "the restarted shard 1 was refused: its clean stop left the lease behind:\n{}",
        second.log()
    );
    second
        .wait_health_where(200, Duration::from_secs(60), |_| true)
        .await;
    let after_restart = snapshot_rows(&second.get("/metrics").await.1);
    second
        .wait_metrics(
            "the restarted shard stores snapshots",
            Duration::from_secs(30),
            |m| snapshot_rows(m) > after_restart,
        )
        .await;
    for d in [first, second] {
        let (code, log) = d.terminate().await;
        assert_eq!(code, Some(0), "{log}");
    }

    // Together: every instrument of the universe, each snapshot once.
    let rows = query(&sim, &s3, &bucket, &["oi", "--all", "--from", "2000-01-01"]).await;
    // (The open-interest history job is off: every row is a snapshot. Hyperliquid's carry
    // the receive time as their venue time.)
    let snapshots: Vec<&Value> = rows.iter().collect();
    let mut per_instrument: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in &snapshots {
        per_instrument
            .entry(r["instrument_id"].as_str().unwrap().to_string())
            .or_default()
            .push(r["ts_init"].as_u64().unwrap());
    }
    let venues: BTreeSet<&str> = per_instrument
        .keys()
        .map(|i| i.rsplit_once('.').unwrap().1)
        .collect();
    assert_eq!(
        venues,
        BTreeSet::from(["BINANCE", "BYBIT", "HYPERLIQUID", "OKX"]),
        "{per_instrument:?}"
    );
    assert_eq!(
        per_instrument.len(),
        symbols.len() * 4,
        "not every instrument collected: {:?}",
        per_instrument.keys()
    );
    // Split for real: while shard 1 was down, shard 0's instruments went on and shard 1's
    // stopped; both sets are non-empty.
    let down = (stopped_ns + 2_000_000_000)..restarted_ns;
    let (of_0, of_1): (Vec<&String>, Vec<&String>) = per_instrument
        .keys()
        .partition(|i| per_instrument[*i].iter().any(|t| down.contains(t)));
    assert!(
        !of_0.is_empty() && !of_1.is_empty(),
        "shard 0 collected {of_0:?} while shard 1 was down, leaving {of_1:?}"
    );
    // None twice: both shards snapshot on the same cron ticks (every 2 s), so an instrument
    // collected by both would show two rows in one tick. (A process's start snapshot may share
    // a tick with its first scheduled one: the ticks just after each start are left out.)
    let after_a_start = |t: u64| {
        [started_ns, restarted_ns]
            .iter()
            .any(|s| t >= *s && t < s + 4_000_000_000)
    };
    // (Hyperliquid's snapshots are stamped when its poll answers, not on the tick: left out.)
    for (instrument, times) in per_instrument
        .iter()
        .filter(|(i, _)| !i.ends_with(".HYPERLIQUID"))
    {
        let mut ticks: BTreeMap<u64, usize> = BTreeMap::new();
        for t in times.iter().filter(|t| !after_a_start(**t)) {
            *ticks.entry(t / 2_000_000_000).or_default() += 1;
        }
        let twice: Vec<_> = ticks.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            twice.is_empty(),
            "{instrument}: two rows in one cron tick {twice:?}: {times:?}"
        );
    }
    sim.shutdown().await;
}
