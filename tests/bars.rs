//! End-to-end: bars from the venues into the catalog. `ccxt-cli fetch-bars` against the
//! simulator (printed and stored on each venue, store → query equality, re-runs that fetch
//! nothing stored, the still-forming candle never stored, invalid bars rejected and reported,
//! what a venue does not offer or no longer keeps), and the daemon's `bars` job refilling a
//! kill -9 downtime with every 1-minute bar present exactly once.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use exchange_sim::{Faults, SimConfig, SimHandle};
use serde_json::Value;

mod common;

const MINUTE_MS: u64 = 60_000;
const HOUR_MS: u64 = 60 * MINUTE_MS;
const DAY_MS: u64 = 24 * HOUR_MS;
const VENUES: [&str; 4] = ["binance", "bybit", "hyperliquid", "okx"];

/// The simulator with its data clock pinned ([`common::sim_now_ms`]) and no rate limits:
/// every history range below is given relative to that instant with both ends explicit.
async fn pinned_sim() -> SimHandle {
    let mut config = SimConfig {
        now_ms: Some(common::sim_now_ms()),
        ..SimConfig::default()
    };
    config.limits.enabled = false;
    exchange_sim::start(config).await.unwrap()
}

/// The simulator following the real clock (the daemon and the forming candle need the venue's
/// now to be ours).
async fn live_sim() -> SimHandle {
    let mut config = SimConfig::default();
    config.limits.enabled = false;
    exchange_sim::start(config).await.unwrap()
}

fn cli(sim: &SimHandle) -> Command {
    let mut cmd = common::cli_against(sim);
    cmd.env("CCXT_VENUES__BYBIT__BAN_WAIT_SECS", "1");
    cmd
}

/// Runs the binary off the async threads (the simulator runs on them).
async fn run(mut cmd: Command, args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || cmd.args(&args).output().unwrap())
        .await
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Vec<Value> {
    if o.stdout.is_empty() {
        return Vec::new();
    }
    serde_json::from_slice::<Vec<Value>>(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(o), stderr(o)))
}

fn requests(sim: &SimHandle, venue: &str) -> u64 {
    sim.stats().venue(venue).requests
}

/// Requests to the venue's kline endpoints only (a run also lists instruments for precision).
fn kline_requests(sim: &SimHandle, venue: &str) -> u64 {
    sim.stats()
        .venue(venue)
        .endpoints
        .iter()
        .filter(|(e, _)| {
            let e = e.to_ascii_lowercase();
            e.contains("kline") || e.contains("candle")
        })
        .map(|(_, n)| n)
        .sum()
}

/// `ts_event` of each row, in ns.
fn closes(rows: &[Value]) -> Vec<u64> {
    rows.iter()
        .map(|r| r["ts_event"].as_u64().unwrap())
        .collect()
}

/// `(from, to)` as typed, for bars closing in `[to − hours, to]` with `to` on the hour grid
/// below the simulator's pinned now: exactly `hours` bars of 1 h close in `(from, to]`.
fn hours_back(sim: &SimHandle, hours: u64) -> (u64, u64) {
    let to = sim.now_ms() / HOUR_MS * HOUR_MS;
    (to - hours * HOUR_MS + 1, to)
}

fn iso(ms: u64) -> String {
    // Millisecond precision keeps `from` just after a close (format_iso drops sub-seconds).
    ms.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_venue_prints_and_stores_bars_and_query_reads_the_same() {
    let sim = pinned_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().to_str().unwrap();
    let (from, to) = hours_back(&sim, 30);
    for venue in VENUES {
        let args = [
            "fetch-bars",
            "BTCUSDT-PERP",
            "-e",
            venue,
            "--interval",
            "1h",
            "--from",
            &iso(from),
            "--to",
            &iso(to),
        ];
        let printed = run(cli(&sim), &[&args[..], &["--format", "json"]].concat()).await;
        assert!(printed.status.success(), "{venue}: {}", stderr(&printed));
        let rows = json(&printed);
        // 30 closes: from (to − 29 h) to `to`, one per hour, ascending, each stamped at close.
        let expected: Vec<u64> = (0..30)
            .map(|k| (to - (29 - k) * HOUR_MS) * 1_000_000)
            .collect();
        assert_eq!(closes(&rows), expected, "{venue}");
        for r in &rows {
            assert_eq!(r["venue"], venue);
            assert_eq!(r["interval"], "1h");
            assert_eq!(r["price"], "last");
            assert_eq!(r["ts_event"], r["ts_init"]);
            let (o, h, l, c): (f64, f64, f64, f64) = (
                r["open"].as_str().unwrap().parse().unwrap(),
                r["high"].as_str().unwrap().parse().unwrap(),
                r["low"].as_str().unwrap().parse().unwrap(),
                r["close"].as_str().unwrap().parse().unwrap(),
            );
            assert!(l <= o.min(c) && h >= o.max(c), "{venue}: {r}");
        }
        // Table and CSV print the same rows.
        let csv = run(cli(&sim), &[&args[..], &["--format", "csv"]].concat()).await;
        assert_eq!(stdout(&csv).lines().count(), 31, "header + 30");
        assert!(stdout(&csv).starts_with("timestamp,venue,symbol,interval,price,open_time,"));

        let stored = run(
            cli(&sim),
            &[
                &args[..],
                &["--store", "--format", "json", "--catalog", catalog],
            ]
            .concat(),
        )
        .await;
        assert!(stored.status.success(), "{venue}: {}", stderr(&stored));
        let summary = json(&stored);
        assert_eq!(summary.len(), 1);
        assert_eq!(summary[0]["rows"], 30, "{venue}: {summary:?}");
        assert_eq!(summary[0]["added"], 30, "{venue}: {summary:?}");
        assert_eq!(summary[0]["rejected"], 0, "{venue}: {summary:?}");
        assert!(
            stderr(&stored).contains("30 new rows stored"),
            "{}",
            stderr(&stored)
        );

        // Store → query: the same rows, field for field.
        let queried = run(
            cli(&sim),
            &[
                "query",
                "bars",
                "BTCUSDT-PERP",
                "-e",
                venue,
                "--interval",
                "1h",
                "--from",
                &iso(from),
                "--to",
                &iso(to),
                "--format",
                "json",
                "--catalog",
                catalog,
            ],
        )
        .await;
        assert!(queried.status.success(), "{}", stderr(&queried));
        assert_eq!(
            json(&queried),
            rows,
            "{venue}: query differs from the fetch"
        );
    }
    // One dataset per venue, named by the bar type.
    let bar_dirs: Vec<String> = std::fs::read_dir(dir.path().join("data").join("bar"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "BTCUSDT-PERP.BINANCE-1-HOUR-LAST-EXTERNAL",
        "BTCUSDT-LINEAR.BYBIT-1-HOUR-LAST-EXTERNAL",
        "BTC-USD-PERP.HYPERLIQUID-1-HOUR-LAST-EXTERNAL",
    ] {
        assert!(bar_dirs.iter().any(|d| d == expected), "{bar_dirs:?}");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_fetches_nothing_stored_and_an_extension_only_the_new_bars() {
    let sim = pinned_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().to_str().unwrap();
    // 47 hours first, ending an hour before the last closed one; then that hour more.
    let (from, to) = hours_back(&sim, 48);
    let store = |from: u64, to: u64, price: &'static str| {
        let (from, to) = (iso(from), iso(to));
        let catalog = catalog.to_string();
        let cmd = cli(&sim);
        async move {
            let args = [
                "fetch-bars",
                "BTCUSDT-PERP",
                "ETHUSDT-PERP",
                "-e",
                "binance",
                "-e",
                "bybit",
                "--interval",
                "15m",
                "--price",
                price,
                "--from",
                &from,
                "--to",
                &to,
                "--store",
                "--format",
                "json",
                "--catalog",
                &catalog,
            ];
            run(cmd, &args).await
        }
    };
    for price in ["last", "mark"] {
        let first = store(from, to - HOUR_MS, price).await;
        assert!(first.status.success(), "{}", stderr(&first));
        let added: u64 = json(&first)
            .iter()
            .map(|r| r["added"].as_u64().unwrap())
            .sum();
        assert_eq!(
            added,
            2 * 2 * 47 * 4,
            "{price}: 47 h of 15m, 2 symbols, 2 venues"
        );

        // The same range again: not one request, nothing added, "up to date".
        let before: Vec<u64> = ["binance", "bybit"].map(|v| requests(&sim, v)).to_vec();
        let again = store(from, to - HOUR_MS, price).await;
        assert!(again.status.success(), "{}", stderr(&again));
        let after: Vec<u64> = ["binance", "bybit"].map(|v| requests(&sim, v)).to_vec();
        assert_eq!(after, before, "{price}: a re-run sent requests");
        let klines_before: Vec<u64> = ["binance", "bybit"]
            .map(|v| kline_requests(&sim, v))
            .to_vec();
        for row in json(&again) {
            assert_eq!(row["added"], 0, "{row}");
            assert_eq!(row["status"], "up to date", "{row}");
        }

        // An hour more at the end: only those 4 bars per (venue, symbol), one request each.
        let later = store(from, to, price).await;
        assert!(later.status.success(), "{}", stderr(&later));
        let rows = json(&later);
        assert!(rows.iter().all(|r| r["added"] == 4), "{rows:?}");
        let klines_after: Vec<u64> = ["binance", "bybit"]
            .map(|v| kline_requests(&sim, v))
            .to_vec();
        assert_eq!(
            klines_after
                .iter()
                .zip(&klines_before)
                .map(|(a, b)| a - b)
                .collect::<Vec<_>>(),
            [2, 2],
            "{price}: one kline request per symbol for the extension"
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_bars_are_rejected_counted_reported_and_never_stored() {
    let sim = pinned_sim().await;
    sim.set_faults(Faults {
        kline_invalid_rate: 0.2,
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().to_str().unwrap();
    let (from, to) = hours_back(&sim, 100);
    for venue in VENUES {
        let out = run(
            cli(&sim),
            &[
                "fetch-bars",
                "BTCUSDT-PERP",
                "-e",
                venue,
                "--interval",
                "1h",
                "--from",
                &iso(from),
                "--to",
                &iso(to),
                "--store",
                "--format",
                "json",
                "--catalog",
                catalog,
            ],
        )
        .await;
        // Rejected bars are the venue's data problem: reported, not a failure of the fetch.
        assert!(out.status.success(), "{venue}: {}", stderr(&out));
        let summary = json(&out);
        let rejected = summary[0]["rejected"].as_u64().unwrap();
        let added = summary[0]["added"].as_u64().unwrap();
        assert!(rejected > 0, "{venue}: nothing rejected at a 20 % rate");
        assert_eq!(added + rejected, 100, "{venue}: {summary:?}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("note: {venue} "))
                && err.contains("rejected: prices out of order"),
            "{venue}: {err}"
        );
        // The stored bars are all valid, and the rejected ones are missing.
        let q = run(
            cli(&sim),
            &[
                "query",
                "bars",
                "BTCUSDT-PERP",
                "-e",
                venue,
                "--interval",
                "1h",
                "--format",
                "json",
                "--catalog",
                catalog,
            ],
        )
        .await;
        let rows = json(&q);
        assert_eq!(rows.len() as u64, added, "{venue}");
        for r in &rows {
            let h: f64 = r["high"].as_str().unwrap().parse().unwrap();
            let l: f64 = r["low"].as_str().unwrap().parse().unwrap();
            assert!(h >= l, "{venue}: invalid bar stored: {r}");
        }
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forming_candle_is_never_printed_or_stored() {
    // The venue's clock is ours here: the candle forming at the venue is the one we see forming.
    let sim = live_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().to_str().unwrap();
    for venue in VENUES {
        let started = ccxt_model::time::now_ns();
        let out = run(
            cli(&sim),
            &[
                "fetch-bars",
                "BTCUSDT-PERP",
                "-e",
                venue,
                "--interval",
                "1m",
                "--store",
                "--catalog",
                catalog,
            ],
        )
        .await;
        let ended = ccxt_model::time::now_ns();
        assert!(out.status.success(), "{venue}: {}", stderr(&out));
        let q = run(
            cli(&sim),
            &[
                "query",
                "bars",
                "BTCUSDT-PERP",
                "-e",
                venue,
                "--interval",
                "1m",
                "--format",
                "json",
                "--catalog",
                catalog,
            ],
        )
        .await;
        let times = closes(&json(&q));
        let last = *times.last().unwrap();
        // Every stored bar had closed when it was fetched; the last closed one is there.
        assert!(
            last <= ended,
            "{venue}: a bar closing after the fetch was stored"
        );
        let minute = 60_000_000_000;
        assert!(
            last >= started / minute * minute - minute,
            "{venue}: the last closed bar is missing"
        );
        // Without --from: the last 100 closed bars (fewer only if a minute turned meanwhile).
        assert!(
            (99..=101).contains(&times.len()),
            "{venue}: {}",
            times.len()
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_venue_does_not_offer_or_no_longer_keeps_is_said() {
    let sim = pinned_sim().await;
    let now = sim.now_ms() / HOUR_MS * HOUR_MS;
    let (from, to) = (now - 6 * HOUR_MS * 24, now);
    let (from, to) = (iso(from), iso(to));
    let base = ["fetch-bars", "BTCUSDT-PERP", "--from", &from, "--to", &to];

    // 6h: Hyperliquid has none. Default venues: skipped with a note, exit 0.
    let out = run(
        cli(&sim),
        &[&base[..], &["--interval", "6h", "--format", "json"]].concat(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("skipped: hyperliquid BTC: hyperliquid does not provide 6h last bars"),
        "{}",
        stderr(&out)
    );
    let rows = json(&out);
    assert!(rows.iter().all(|r| r["venue"] != "hyperliquid"));
    assert!(rows.iter().any(|r| r["venue"] == "bybit"));
    // Named with -e: a failure, exit 1.
    for (interval, price, venue) in [
        ("6h", "last", "hyperliquid"),
        ("1h", "mark", "hyperliquid"),
        ("8h", "last", "bybit"),
    ] {
        let out = run(
            cli(&sim),
            &[
                &base[..],
                &["-e", venue, "--interval", interval, "--price", price],
            ]
            .concat(),
        )
        .await;
        assert_eq!(
            out.status.code(),
            Some(1),
            "{venue} {interval} {price}: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains(&format!("failed: {venue} ")),
            "{}",
            stderr(&out)
        );
    }

    // Hyperliquid keeps the newest 5000 candles: 1h bars from 300 to 250 days back are gone.
    // Nothing is asked for; a note names the span exactly.
    let before = requests(&sim, "hyperliquid");
    let old_from = now - 300 * DAY_MS;
    let old_to = now - 250 * DAY_MS;
    let out = run(
        cli(&sim),
        &[
            "fetch-bars",
            "BTC",
            "-e",
            "hyperliquid",
            "--interval",
            "1h",
            "--from",
            &iso(old_from),
            "--to",
            &iso(old_to),
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(json(&out).is_empty());
    let fmt = |ms: u64| ccxt_model::time::format_iso(ms * 1_000_000);
    let note = format!(
        "hyperliquid keeps only its newest 5000 1h candles: the bars closing {} to {} cannot be fetched",
        fmt(old_from),
        fmt(old_to)
    );
    assert!(
        stderr(&out).contains(&note),
        "{}\nwanted: {note}",
        stderr(&out)
    );
    assert_eq!(
        requests(&sim, "hyperliquid"),
        before,
        "asked for what is gone"
    );

    // Bad interval or price: one line, exit 2, before any request.
    let total = |sim: &SimHandle| VENUES.iter().map(|v| requests(sim, v)).sum::<u64>();
    let before = total(&sim);
    for (flag, value, wanted) in [
        (
            "--interval",
            "3d",
            "--interval: unknown bar interval '3d': valid intervals are 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 1w 1M",
        ),
        (
            "--price",
            "index",
            "--price: unknown bar price 'index': valid prices are last, mark",
        ),
    ] {
        let mut args = vec!["fetch-bars", "BTCUSDT-PERP", "--interval", "1h"];
        if flag == "--interval" {
            args[3] = value;
        } else {
            args.extend([flag, value]);
        }
        let out = run(cli(&sim), &args).await;
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert_eq!(stderr(&out), format!("error: {wanted}\n"));
    }
    assert_eq!(total(&sim), before);
    sim.shutdown().await;
}

// --- the daemon's bars job -----------------------------------------------------------------

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn daemon(sim: &SimHandle, catalog: &Path, port: u16) -> Command {
    let mut cmd = common::cli_against(sim);
    cmd.env("CCXT_CATALOG_PATH", catalog)
        .env("CCXT_METRICS__ADDRESS", format!("127.0.0.1:{port}"))
        .env("CCXT_DAEMON__SCHEDULE__BARS", "*/2 * * * * *")
        .env("CCXT_DAEMON__BARS__SERIES", "1m:last,1m:mark")
        // 20 minutes of bars for a series with nothing stored.
        .env("CCXT_DAEMON__BACKFILL__BARS_DAYS", "0.0139")
        // Fewer requests; settled funding stays on (CI's NautilusTrader check loads both
        // funding kinds from this catalog).
        .env("CCXT_DAEMON__SCHEDULE__OPEN_INTEREST_HISTORY", "off")
        .env("CCXT_DAEMON__BACKFILL__FUNDING_HISTORY_DAYS", "1")
        .env("CCXT_VENUES__HYPERLIQUID__POLL_INTERVAL_SECS", "2")
        .env("CCXT_SPOOL__FLUSH_SECS", "1")
        .env("CCXT_SPOOL__HOLD_SECS", "0")
        .env("CCXT_LOG_LEVEL", "info")
        .args([
            "daemon",
            "start",
            "-s",
            "BTCUSDT-PERP",
            "-s",
            "ETHUSDT-PERP",
        ]);
    cmd
}

fn spawn(mut cmd: Command, dir: &Path, name: &str) -> Child {
    let log = std::fs::File::create(dir.join(format!("{name}.stderr"))).unwrap();
    cmd.stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap()
}

fn metric(port: u16, series: &str) -> f64 {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return 0.0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    );
    let mut body = String::new();
    let _ = stream.read_to_string(&mut body);
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            (name == series).then(|| value.parse::<f64>().ok())?
        })
        .unwrap_or(0.0)
}

async fn wait_for(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The stored bars of one bar type, by close (ns): how many times each is stored.
fn stored_bars(sim: &SimHandle, catalog: &Path, venue: &str, price: &str) -> BTreeMap<u64, usize> {
    let out = cli(sim)
        .args([
            "query",
            "bars",
            "BTCUSDT-PERP",
            "-e",
            venue,
            "--interval",
            "1m",
            "--price",
            price,
            "--format",
            "json",
            "--catalog",
            catalog.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let mut counts = BTreeMap::new();
    for close in closes(&json(&out)) {
        *counts.entry(close).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_refills_a_kill_9_downtime_with_every_1m_bar_exactly_once() {
    // The venue's clock is ours: the daemon asks for bars up to its own now, and the downtime
    // is real minutes in which bars close at the venue with nobody collecting.
    let sim = live_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    let port = free_port();
    let mut first = spawn(daemon(&sim, &catalog, port), dir.path(), "first");
    wait_for(
        "bars stored on every venue",
        Duration::from_secs(60),
        || {
            VENUES
                .iter()
                .all(|v| metric(port, &format!("ccxt_bars_stored_total{{venue=\"{v}\"}}")) > 0.0)
        },
    )
    .await;
    assert_eq!(
        metric(port, "ccxt_bars_rejected_total{venue=\"binance\"}"),
        0.0
    );
    first.kill().unwrap();
    first.wait().unwrap();
    let killed_at = ccxt_model::time::now_ns();
    let before = stored_bars(&sim, &catalog, "binance", "last");
    // Two and a bit minutes down: at least two bars close with nobody collecting.
    tokio::time::sleep(Duration::from_secs(130)).await;

    let port = free_port();
    let mut second = spawn(daemon(&sim, &catalog, port), dir.path(), "second");
    let restarted_at = ccxt_model::time::now_ns();
    wait_for("the downtime refilled", Duration::from_secs(60), || {
        metric(port, "ccxt_bars_stored_total{venue=\"bybit\"}") > 0.0
            && metric(port, "ccxt_bars_stored_total{venue=\"binance\"}") > 0.0
            && metric(port, "ccxt_bars_stored_total{venue=\"hyperliquid\"}") > 0.0
            && metric(port, "ccxt_bars_stored_total{venue=\"okx\"}") > 0.0
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .unwrap();
    let status = second.wait().unwrap();
    let log = std::fs::read_to_string(dir.path().join("second.stderr")).unwrap_or_default();
    assert_eq!(status.code(), Some(0), "{log}");

    let minute = 60_000_000_000u64;
    for (venue, price) in [
        ("binance", "last"),
        ("binance", "mark"),
        ("bybit", "last"),
        ("bybit", "mark"),
        ("hyperliquid", "last"),
        ("okx", "last"),
        ("okx", "mark"),
    ] {
        let bars = stored_bars(&sim, &catalog, venue, price);
        let (first, last) = (
            *bars.keys().next().unwrap(),
            *bars.keys().next_back().unwrap(),
        );
        // Every 1-minute bar from the first stored to the last, each exactly once.
        assert!(
            bars.values().all(|n| *n == 1),
            "{venue} {price}: stored twice"
        );
        assert_eq!(
            bars.len() as u64,
            (last - first) / minute + 1,
            "{venue} {price}: holes between {first} and {last}"
        );
        // The downtime is covered: bars closing between the kill and the restart are there,
        // and the collection reached the restart.
        assert!(
            bars.keys().any(|t| *t > killed_at && *t < restarted_at),
            "{venue} {price}: nothing from the downtime"
        );
        assert!(
            last >= restarted_at / minute * minute - minute,
            "{venue} {price}"
        );
    }
    assert!(!before.is_empty());
    // CI reads this catalog with NautilusTrader.
    if let Ok(dest) = std::env::var("CCXT_DAEMON_BARS_CATALOG") {
        copy_dir(&catalog.join("data"), &Path::new(&dest).join("data"));
    }
    sim.shutdown().await;
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().filter_map(Result::ok) {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_validate_checks_the_bar_series_and_reports_every_problem_at_once() {
    let sim = pinned_sim().await;
    let validate = |envs: &[(&str, &str)]| {
        let mut cmd = common::cli_against(&sim);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.args(["daemon", "validate"]);
        cmd
    };
    // The default series: 1m trade and mark bars, mark left out on Hyperliquid (not an error).
    let out = run(validate(&[]), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("bars binance     1m:last, 1m:mark"), "{text}");
    assert!(text.contains("bars bybit       1m:last, 1m:mark"), "{text}");
    assert!(
        text.contains("bars hyperliquid 1m:last (1m:mark not offered: left out)"),
        "{text}"
    );

    // An unknown interval, an interval a venue does not offer, mark bars on Hyperliquid, and a
    // common series no selected venue offers: all at once, exit 2.
    let out = run(
        validate(&[
            ("CCXT_DAEMON__BARS__SERIES", "1m,3d,6h:last"),
            ("CCXT_DAEMON__BARS__BYBIT", "8h"),
            ("CCXT_DAEMON__BARS__BINANCE", "1h:mark"),
            ("CCXT_DAEMON__BARS__HYPERLIQUID", "1m:mark,1h"),
        ]),
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    for problem in [
        "daemon.bars.series: '3d': unknown bar interval '3d'",
        "daemon.bars.bybit: bybit does not offer 8h last bars",
        "daemon.bars.hyperliquid: hyperliquid does not offer 1m mark bars",
    ] {
        assert!(err.contains(problem), "{problem} missing in:\n{err}");
    }
    assert!(!err.contains("daemon.bars.binance"), "{err}");
    // Every venue has its own list: the common one is not used, so 6h is nobody's problem.
    assert!(!err.contains("6h last"), "{err}");
    let out = run(
        validate(&[("CCXT_DAEMON__BARS__SERIES", "6h")]),
        &["-e", "hyperliquid"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "daemon.bars.series: 6h last bars are offered by none of the selected venues (hyperliquid)"
        ),
        "{}",
        stderr(&out)
    );
    sim.shutdown().await;
}
