//! End-to-end integrity of stored liquidations against the simulator: every liquidation stored
//! once by its venue identity across kill -9 and restarts, every restart recorded as a gap,
//! the summary agrees with the catalog, one writer per catalog, no credentials in messages.
//! Losses are measured against the simulator's log of exactly what it sent.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::HashMap;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use exchange_sim::{SimConfig, SimHandle, Venue as SimVenue};
use serde_json::Value;

mod common;

async fn sim(per_sec: f64) -> SimHandle {
    let mut config = SimConfig::default();
    config.limits.enabled = false;
    config.ws.liquidations_per_sec = exchange_sim::VenueRates::all(per_sec);
    exchange_sim::start(config).await.unwrap()
}

fn command(sim: &SimHandle, poll_secs: &str) -> Command {
    let mut cmd = common::cli_against(sim);
    cmd.env("CCXT_VENUES__HYPERLIQUID__POLL_INTERVAL_SECS", poll_secs);
    cmd
}

async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn spawn_quiet(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn now_ms() -> u64 {
    ccxt_model::time::now_ns() / 1_000_000
}

const MS: u64 = 1_000_000;

/// Every line of `ccxt-cli <args> --format ndjson --catalog <catalog>`.
async fn ndjson(catalog: &str, args: &[&str]) -> Vec<Value> {
    let mut cmd = common::clean_cli();
    cmd.args(args)
        .args(["--format", "ndjson", "--catalog", catalog]);
    let out = output(cmd).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Stored liquidations of BTC and ETH on every venue.
async fn liquidations(catalog: &str) -> Vec<Value> {
    let mut rows = ndjson(catalog, &["query", "liquidations", "BTCUSDT-PERP"]).await;
    rows.extend(ndjson(catalog, &["query", "liquidations", "ETHUSDT-PERP"]).await);
    rows
}

/// A stored liquidation's identity at its venue: Hyperliquid's trade id, else the event's
/// venue fields.
fn identity(v: &Value) -> (String, String) {
    let venue = v["venue"].as_str().unwrap().to_string();
    let key = match v["trade_id"].as_str() {
        Some(tid) => format!("tid {tid}"),
        None => format!(
            "{} {} {} {} {}",
            v["symbol"], v["ts_event"], v["side"], v["quantity"], v["price"]
        ),
    };
    (venue, key)
}

/// Per venue: how many stored rows repeat an identity stored already.
fn duplicates(rows: &[Value]) -> HashMap<String, usize> {
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for row in rows {
        *seen.entry(identity(row)).or_default() += 1;
    }
    let mut out: HashMap<String, usize> = HashMap::new();
    for ((venue, _), n) in seen {
        *out.entry(venue).or_default() += n - 1;
    }
    out
}

/// The key the simulator's log and a stored row share: venue, symbol, venue time (ms),
/// quantity.
type Key = (String, String, u64, String);

fn stored_key(v: &Value) -> Key {
    (
        v["venue"].as_str().unwrap().to_string(),
        v["symbol"].as_str().unwrap().to_string(),
        v["ts_event"].as_u64().unwrap() / MS,
        format!("{}", v["quantity"].as_f64().unwrap()),
    )
}

fn venue_name(venue: SimVenue) -> &'static str {
    venue.as_str()
}

/// What the simulator sent of BTC and ETH on `venue` up to `until_ms`: key and sent time,
/// once per event.
fn sent(sim: &SimHandle, venue: SimVenue, until_ms: u64) -> Vec<(Key, u64)> {
    let mut by_id: HashMap<u64, (Key, u64)> = HashMap::new();
    for e in sim.sent_liquidations(venue) {
        let ours = ["BTCUSDT", "ETHUSDT", "BTC", "ETH"].contains(&e.symbol.as_str());
        if e.malformed || !ours || e.sent_ms > until_ms {
            continue;
        }
        let q: f64 = e.qty.parse().unwrap();
        let key = (
            venue_name(venue).to_string(),
            e.symbol.clone(),
            e.time_ms,
            format!("{q}"),
        );
        let entry = by_id.entry(e.id).or_insert((key, e.sent_ms));
        entry.1 = entry.1.min(e.sent_ms);
    }
    by_id.into_values().collect()
}

/// Stored gaps: venue, start and end (ms), reason.
async fn gaps(catalog: &str) -> Vec<(String, u64, u64, String)> {
    ndjson(catalog, &["query", "gaps"])
        .await
        .iter()
        .map(|g| {
            (
                g["venue"].as_str().unwrap().to_string(),
                g["gap_start_ns"].as_u64().unwrap() / MS,
                g["gap_end_ns"].as_u64().unwrap() / MS,
                g["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_restart_loop_on_all_venues_stores_each_liquidation_once_and_records_every_restart()
 {
    let sim = sim(20.0).await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().to_str().unwrap().to_string();
    let args = [
        "stream-liquidations",
        "BTCUSDT-PERP",
        "ETHUSDT-PERP",
        "--store",
        "--quiet",
        "--catalog",
        &catalog,
    ];
    let run = || {
        let mut cmd = command(&sim, "0.5");
        cmd.env("CCXT_SPOOL__FLUSH_SECS", "1")
            .env("CCXT_SPOOL__SYNC_MILLIS", "200")
            .args(args);
        cmd
    };
    // (started, killed) of each run.
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for i in 0..5u64 {
        let started = now_ms();
        let mut child = spawn_quiet(run());
        tokio::time::sleep(Duration::from_millis(1500 + 300 * i)).await;
        let killed = now_ms();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        runs.push((started, killed));
    }
    // A last, clean run stores everything.
    let final_start = now_ms();
    let mut cmd = run();
    cmd.args(["--duration", "2s"]);
    let out = output(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    let final_cancel = final_start + 2000; // the run stopped no earlier than this
    runs.push((final_start, final_cancel));

    let rows = liquidations(&catalog).await;
    let stored: HashMap<Key, usize> = rows.iter().fold(HashMap::new(), |mut m, r| {
        *m.entry(stored_key(r)).or_default() += 1;
        m
    });
    let dups = duplicates(&rows);
    let gaps = gaps(&catalog).await;
    let mut report = Vec::new();
    for venue in [SimVenue::Binance, SimVenue::Bybit, SimVenue::Hyperliquid] {
        let name = venue_name(venue);
        let venue_gaps: Vec<_> = gaps.iter().filter(|g| g.0 == name).collect();
        // Every restart (after a kill) is recorded: a gap from no later than the kill to no
        // earlier than the next start. Hyperliquid re-reads its downtime instead.
        let mut restarts_recorded = 0;
        for pair in runs.windows(2) {
            let (killed, next_start) = (pair[0].1, pair[1].0);
            if venue_gaps
                .iter()
                .any(|g| g.1 <= killed && g.2 >= next_start && g.3.contains("not running"))
            {
                restarts_recorded += 1;
            }
        }
        let sent = sent(&sim, venue, final_cancel);
        let lost: Vec<&(Key, u64)> = sent
            .iter()
            .filter(|(k, _)| !stored.contains_key(k))
            .collect();
        // A loss is only allowed inside a recorded gap (a kill -9 loses what was not synced
        // yet; the gap starts at the last sync), with 300 ms for the trip to us.
        let unexplained: Vec<_> = lost
            .iter()
            .filter(|(_, sent_ms)| {
                !venue_gaps
                    .iter()
                    .any(|g| g.1.saturating_sub(300) <= *sent_ms && *sent_ms <= g.2)
            })
            .collect();
        let line = format!(
            "{name}: sent {}, stored {}, lost {} ({} outside recorded gaps), duplicates {}, restarts recorded as gaps {restarts_recorded} of {}, gaps {}",
            sent.len(),
            rows.iter().filter(|r| r["venue"] == name).count(),
            lost.len(),
            unexplained.len(),
            dups.get(name).copied().unwrap_or(0),
            runs.len() - 1,
            venue_gaps.len()
        );
        eprintln!("{line}");
        assert!(!sent.is_empty(), "{line}");
        assert_eq!(dups.get(name).copied().unwrap_or(0), 0, "{line}");
        assert!(unexplained.is_empty(), "{line}: e.g. {:?}", unexplained[0]);
        if venue == SimVenue::Hyperliquid {
            assert!(lost.is_empty(), "{line}: fills are re-read after a restart");
            assert!(venue_gaps.is_empty(), "{line}: {venue_gaps:?}");
        } else {
            assert_eq!(restarts_recorded, runs.len() - 1, "{line}: {venue_gaps:?}");
        }
        report.push(line);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_polls_once_more_and_a_clean_restart_stores_nothing_twice() {
    let sim = sim(20.0).await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().to_str().unwrap().to_string();
    // One poll at the start, the next one 30 s later: only the last poll at the stop can
    // read the fills of this run.
    let run = || {
        let mut cmd = command(&sim, "30");
        cmd.args([
            "stream-liquidations",
            "BTCUSDT-PERP",
            "ETHUSDT-PERP",
            "-e",
            "hyperliquid",
            "--store",
            "--quiet",
            "--duration",
            "2s",
            "--catalog",
            &catalog,
        ]);
        cmd
    };
    let mut stored_before = 0;
    for _ in 0..2 {
        let started = now_ms();
        let out = output(run()).await;
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{stderr}");
        let rows = liquidations(&catalog).await;
        // The restart re-reads the first run's fills but delivers only new ones: what it
        // reports received is what it added.
        let received: usize = stderr
            .lines()
            .find(|l| l.trim_start().starts_with("hyperliquid"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or_else(|| panic!("{stderr}"));
        assert_eq!(received, rows.len() - stored_before, "{stderr}");
        stored_before = rows.len();
        let stored: HashMap<Key, usize> = rows.iter().fold(HashMap::new(), |mut m, r| {
            *m.entry(stored_key(r)).or_default() += 1;
            m
        });
        let sent = sent(&sim, SimVenue::Hyperliquid, started + 2000);
        let lost = sent.iter().filter(|(k, _)| !stored.contains_key(k)).count();
        assert!(sent.len() > 10, "{}", sent.len());
        assert_eq!(lost, 0, "every fill up to the stop is stored");
        assert_eq!(duplicates(&rows).get("hyperliquid").copied(), Some(0));
    }
    assert!(
        gaps(&catalog).await.is_empty(),
        "a re-read downtime is no gap"
    );
}

/// `stored N new liquidations and M gaps` from the summary.
fn summary_counts(stderr: &str) -> (usize, usize) {
    let line = stderr
        .lines()
        .find(|l| l.trim_start().starts_with("stored "))
        .unwrap_or_else(|| panic!("no summary in {stderr}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    (words[1].parse().unwrap(), words[5].parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_counts_what_the_run_added_to_the_catalog() {
    let sim = sim(30.0).await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().to_str().unwrap().to_string();
    let run = || {
        let mut cmd = command(&sim, "0.5");
        // Several moves into Parquet during the run, not only the last one.
        cmd.env("CCXT_SPOOL__FLUSH_SECS", "0.4").args([
            "stream-liquidations",
            "BTCUSDT-PERP",
            "ETHUSDT-PERP",
            "--store",
            "--quiet",
            "--duration",
            "3s",
            "--catalog",
            &catalog,
        ]);
        cmd
    };
    let mut before = (0, 0);
    for _ in 0..2 {
        let out = output(run()).await;
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{stderr}");
        let (liqs, gaps_added) = summary_counts(&stderr);
        let now = (
            liquidations(&catalog).await.len(),
            gaps(&catalog).await.len(),
        );
        assert_eq!(
            (liqs, gaps_added),
            (now.0 - before.0, now.1 - before.1),
            "{stderr}"
        );
        before = now;
    }
    assert!(before.0 > 50, "{before:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_writer_takes_the_catalog_lock_and_a_killed_holder_leaves_none() {
    let sim = sim(5.0).await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().to_str().unwrap().to_string();
    let stream = |extra: &[&str]| {
        let mut cmd = command(&sim, "0.5");
        cmd.args([
            "stream-liquidations",
            "BTCUSDT-PERP",
            "-e",
            "bybit",
            "--store",
            "--quiet",
            "--catalog",
            &catalog,
        ])
        .args(extra);
        cmd
    };
    let mut holder = spawn_quiet(stream(&[]));
    let pid = holder.id();
    // Wait until it holds the lock (its heartbeat file exists).
    let heartbeat = dir.path().join(".stream").join("state.json");
    for _ in 0..200 {
        if heartbeat.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(heartbeat.exists());
    let refused = format!("another stream-liquidations (pid {pid}) is writing to it");
    let mut fetch = command(&sim, "0.5");
    fetch.args([
        "fetch-oi",
        "BTCUSDT-PERP",
        "-e",
        "bybit",
        "--store",
        "--catalog",
        &catalog,
    ]);
    let mut compact = common::clean_cli();
    compact.args(["catalog", "compact", "--catalog", &catalog]);
    for (what, cmd) in [
        ("stream", stream(&["--duration", "1s"])),
        ("fetch", fetch),
        ("compact", compact),
    ] {
        let out = output(cmd).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert!(stderr.contains(&refused), "{what}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{what}: {stderr}");
    }
    // Readers need no lock.
    ndjson(&catalog, &["query", "gaps"]).await;
    holder.kill().unwrap(); // SIGKILL: the OS releases the lock
    holder.wait().unwrap();
    let out = output(stream(&["--duration", "1s"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The daemon holds the same lock: streaming into its catalog is refused.
    let mut daemon = command(&sim, "2");
    daemon
        .env("CCXT_METRICS__ADDRESS", "off")
        .env("CCXT_CATALOG_PATH", &catalog)
        .args(["daemon", "start", "-s", "BTCUSDT-PERP", "-e", "bybit"]);
    let mut daemon = spawn_quiet(daemon);
    let lock = dir.path().join(".ccxt-pipeline.lock");
    let holder = format!("{} daemon", daemon.id());
    for _ in 0..400 {
        if std::fs::read_to_string(&lock).is_ok_and(|t| t.trim() == holder) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let out = output(stream(&["--duration", "1s"])).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("another daemon (pid {})", daemon.id())),
        "{stderr}"
    );
    daemon.kill().unwrap();
    daemon.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_a_websocket_url_never_reach_logs_errors_or_gaps() {
    let sim = sim(1.0).await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().to_str().unwrap().to_string();
    let mut cmd = command(&sim, "0.5");
    cmd.env(
        "CCXT_VENUES__BYBIT__WS_URL",
        "ws://u:s3cretWSERR@127.0.0.1:1/v5/public/linear?token=t0kenWSERR",
    )
    .args([
        "stream-liquidations",
        "BTCUSDT-PERP",
        "-e",
        "bybit",
        "--store",
        "--quiet",
        "--duration",
        "2s",
        "--log-level",
        "debug",
        "--catalog",
        &catalog,
    ]);
    let out = output(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("ws://***@127.0.0.1:1/v5/public/linear?token=***"),
        "{stderr}"
    );
    let gaps = gaps(&catalog).await;
    assert!(!gaps.is_empty());
    let everything = format!("{stderr}{gaps:?}");
    assert!(!everything.contains("s3cretWSERR"), "{everything}");
    assert!(!everything.contains("t0kenWSERR"), "{everything}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_stores_re_read_liquidations_once_across_restarts() {
    let sim = sim(20.0).await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().to_str().unwrap().to_string();
    for round in 0..3 {
        let mut cmd = command(&sim, "0.5");
        cmd.env("CCXT_METRICS__ADDRESS", "off")
            .env("CCXT_CATALOG_PATH", &catalog)
            .env("CCXT_SPOOL__FLUSH_SECS", "1")
            .args(["daemon", "start", "-s", "BTCUSDT-PERP", "-e", "hyperliquid"]);
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let pid = child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "round {round}: {stderr}");
    }
    let rows = ndjson(&catalog, &["query", "liquidations", "BTCUSDT-PERP"]).await;
    assert!(rows.len() > 20, "{}", rows.len());
    assert_eq!(duplicates(&rows).get("hyperliquid").copied(), Some(0));
}
