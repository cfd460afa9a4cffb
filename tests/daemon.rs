//! End-to-end: `ccxt-cli daemon` against the simulator, as a real process: collection on all
//! venues with short cron periods, SIGTERM, kill -9 and restart, a venue down at start, health
//! turning stale and fresh, Prometheus text, overrun skips, an unwritable catalog, validation.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use exchange_sim::{DownMode, Faults, SimConfig, SimHandle, Venue as SimVenue, WsFaults};
use serde_json::Value;

mod common;
use common::http_get;

/// The simulator for a daemon. Unlike the fetch tests, the daemon runs on a real-time cron
/// scheduler and asks for history up to its own wall-clock now, so the simulator's data clock
/// follows real time here (`None`), or starts a fixed span back and is then released. No
/// assertion counts rows or requests from a fixed figure: each is derived from the range
/// actually covered (the first and last stored bucket, the wall clock when checked) or from
/// what the simulator logged as sent, so neither the time of day nor a run across midnight
/// (rows then fall into two day files) changes what is expected.
async fn sim(symbols: usize, now_ms: Option<u64>) -> SimHandle {
    let mut config = SimConfig {
        symbols,
        now_ms,
        ..SimConfig::default()
    };
    config.limits.enabled = false;
    config.ws.liquidations_per_sec = exchange_sim::VenueRates::all(5.0);
    exchange_sim::start(config).await.unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The daemon command against `sim`, with short schedules, writing to `catalog`.
fn daemon(sim: &SimHandle, catalog: &Path, port: u16) -> Command {
    let mut cmd = common::cli_against(sim);
    cmd
        // Hyperliquid's budget (960 weight/min at 0.8) leaves room for the top-ups at one
        // 20-weight poll every 2 s.
        .env("CCXT_VENUES__HYPERLIQUID__POLL_INTERVAL_SECS", "2")
        // Quick reconnects after a venue comes back.
        .env("CCXT_VENUES__BYBIT__MAX_RETRIES", "1")
        .env("CCXT_CATALOG_PATH", catalog)
        .env("CCXT_METRICS__ADDRESS", format!("127.0.0.1:{port}"))
        .env("CCXT_DAEMON__SCHEDULE__OPEN_INTEREST", "*/2 * * * * *")
        .env("CCXT_DAEMON__SCHEDULE__FUNDING", "1/2 * * * * *")
        .env("CCXT_DAEMON__SCHEDULE__FUNDING_HISTORY", "*/5 * * * * *")
        .env(
            "CCXT_DAEMON__SCHEDULE__OPEN_INTEREST_HISTORY",
            "*/5 * * * * *",
        )
        .env("CCXT_DAEMON__SCHEDULE__INSTRUMENTS", "*/10 * * * * *")
        .env("CCXT_DAEMON__SCHEDULE__COMPACTION", "*/15 * * * * *")
        .env("CCXT_DAEMON__BACKFILL__OI_HISTORY_DAYS", "0.1")
        .env("CCXT_DAEMON__BACKFILL__FUNDING_HISTORY_DAYS", "2")
        .env("CCXT_DAEMON__HEALTH__STREAM_STALE_SECS", "3")
        .env("CCXT_DAEMON__HEALTH__JOB_GRACE_SECS", "2")
        .env("CCXT_SPOOL__FLUSH_SECS", "1")
        .env("CCXT_SPOOL__HOLD_SECS", "0")
        .env("CCXT_LOG_LEVEL", "info");
    cmd.args(["daemon", "start"]);
    cmd
}

struct Running {
    child: Child,
    port: u16,
    stderr: PathBuf,
}

fn start(mut cmd: Command, dir: &Path, port: u16, name: &str) -> Running {
    let stderr = dir.join(format!("{name}.stderr"));
    let file = std::fs::File::create(&stderr).unwrap();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::from(file))
        .spawn()
        .unwrap();
    Running {
        child,
        port,
        stderr,
    }
}

impl Running {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGTERM; the exit code and how long it took.
    async fn terminate(mut self) -> (Option<i32>, Duration, String) {
        self.signal("-TERM");
        let started = Instant::now();
        let deadline = started + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), started.elapsed(), self.log());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the daemon did not stop within 15 s:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let port = self.port;
        let path = path.to_string();
        tokio::task::spawn_blocking(move || http_get(port, &path))
            .await
            .unwrap()
    }

    /// Waits until `/healthz` answers `status`; the body.
    async fn wait_health(&self, status: u16, within: Duration) -> Value {
        self.wait_health_where(status, within, |_| true).await
    }

    /// Waits until `/healthz` answers `status` with a body that `wanted` accepts (a job that
    /// runs late on a loaded machine may turn it 503 for another reason first); the body.
    async fn wait_health_where(
        &self,
        status: u16,
        within: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        let mut last = (0, String::new());
        while Instant::now() < deadline {
            last = self.get("/healthz").await;
            if last.0 == status {
                let body: Value = serde_json::from_str(&last.1).unwrap();
                if wanted(&body) {
                    return body;
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!(
            "/healthz never answered {status} as expected; last {} {}\n{}",
            last.0,
            last.1,
            self.log()
        );
    }

    /// The value of a metric line (name with labels exactly as rendered), 0 when absent.
    async fn metric(&self, series: &str) -> f64 {
        let (_, body) = self.get("/metrics").await;
        metric_value(&body, series)
    }
}

fn metric_value(body: &str, series: &str) -> f64 {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            (name == series).then(|| value.parse::<f64>().ok())?
        })
        .unwrap_or(0.0)
}

async fn wait_for(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("timed out waiting for {what}");
}

fn cli(args: &[&str]) -> Output {
    common::clean_cli().args(args).output().unwrap()
}

/// `query … --format json` rows.
fn query(catalog: &Path, args: &[&str]) -> Vec<Value> {
    let catalog = catalog.to_str().unwrap();
    let mut all = vec!["query"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--catalog", catalog, "--format", "json"]);
    let out = cli(&all);
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if out.stdout.is_empty() {
        return Vec::new();
    }
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap_or_default()
}

fn venues_of(rows: &[Value]) -> BTreeSet<String> {
    rows.iter()
        .map(|r| r["venue"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn spool_segments(catalog: &Path) -> usize {
    std::fs::read_dir(catalog.join(".spool").join("daemon"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "spool"))
                .count()
        })
        .unwrap_or(0)
}

/// Every line of the Prometheus text is a comment, blank, or `name{labels} number`.
fn assert_prometheus_text(body: &str) {
    let mut samples = 0;
    for line in body.lines() {
        if line.is_empty() || line.starts_with("# TYPE ") || line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line: {line}"));
        assert!(value.parse::<f64>().is_ok(), "bad value in: {line}");
        let name = series.split('{').next().unwrap();
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in: {line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "bad labels in: {line}"
            );
        }
        samples += 1;
    }
    assert!(samples > 0, "no samples in:\n{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collects_all_venues_serves_health_and_metrics_and_stops_cleanly_on_sigterm() {
    let sim = sim(6, None).await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    let port = free_port();
    let mut cmd = daemon(&sim, &catalog, port);
    cmd.args([
        "-s",
        "BTCUSDT-PERP",
        "-s",
        "ETHUSDT-PERP",
        "-s",
        "SOLUSDT-PERP",
    ]);
    let d = start(cmd, dir.path(), port, "run");

    // Everything fresh once the streams are up and every job has run.
    d.wait_health(200, Duration::from_secs(30)).await;
    // The daemon re-executed itself (same pid) with glibc's allocator tuned for a flat RSS.
    let environ = std::fs::read(format!("/proc/{}/environ", d.child.id())).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    for setting in [
        "MALLOC_ARENA_MAX=2",
        "MALLOC_MMAP_THRESHOLD_=131072",
        "MALLOC_TRIM_THRESHOLD_=262144",
    ] {
        assert!(
            environ.split('\0').any(|v| v == setting),
            "{setting} in {environ}"
        );
    }
    wait_for(
        "liquidations on all four venues",
        Duration::from_secs(30),
        async || {
            ["binance", "bybit", "hyperliquid", "okx"].iter().all(|v| {
                metric_value(
                    &http_get(port, "/metrics").1,
                    &format!("ccxt_rows_written_total{{kind=\"liquidation\",venue=\"{v}\"}}"),
                ) > 0.0
            })
        },
    )
    .await;

    // A second daemon on the same catalog is refused (it would share the spool).
    let second_port = free_port();
    let mut second = daemon(&sim, &catalog, second_port);
    second.args(["-s", "BTCUSDT-PERP"]);
    let out = tokio::task::spawn_blocking(move || second.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another daemon (pid"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // /metrics: valid Prometheus text with every family the issue names.
    let (status, body) = d.get("/metrics").await;
    assert_eq!(status, 200);
    assert_prometheus_text(&body);
    for family in [
        "ccxt_rows_written_total",
        "ccxt_http_requests_total",
        "ccxt_http_responses_total",
        "ccxt_budget_headroom_ratio",
        "ccxt_stream_reconnects_total",
        "ccxt_stream_gap_seconds_total",
        "ccxt_stream_last_message_age_seconds",
        "ccxt_job_last_success_timestamp_seconds",
        "ccxt_spool_bytes",
        "ccxt_process_resident_memory_bytes",
    ] {
        assert!(
            body.contains(&format!("{family}{{")) || body.contains(&format!("{family} ")),
            "{family} missing:\n{body}"
        );
    }
    // Every kind is written on every venue (OKX's snapshot answers carry no mark or index
    // price): snapshots wait in the spool, so some kinds first arrive with a history backfill,
    // which on a loaded machine can finish after the streams are up.
    let series = |kind: &str, venue: &str| {
        format!("ccxt_rows_written_total{{kind=\"{kind}\",venue=\"{venue}\"}}")
    };
    let kinds = ["open_interest", "funding_rate", "mark_price", "index_price"];
    let venues = ["binance", "bybit", "hyperliquid", "okx"];
    let expected = |kind: &str, venue: &str| venue != "okx" || !kind.ends_with("_price");
    wait_for(
        "rows of every kind on every venue",
        Duration::from_secs(60),
        async || {
            let body = http_get(port, "/metrics").1;
            kinds.iter().all(|k| {
                venues
                    .iter()
                    .all(|v| !expected(k, v) || metric_value(&body, &series(k, v)) > 0.0)
            })
        },
    )
    .await;
    let body = d.get("/metrics").await.1;
    for kind in kinds {
        for venue in venues {
            assert_eq!(
                metric_value(&body, &series(kind, venue)) > 0.0,
                expected(kind, venue),
                "{}:\n{body}",
                series(kind, venue)
            );
        }
    }

    // A silent stream turns /healthz 503 naming it, and 200 again once frames flow.
    sim.set_ws_faults(
        SimVenue::Bybit,
        WsFaults {
            half_open: true,
            ..WsFaults::default()
        },
    )
    .unwrap();
    let names = |health: &Value| -> Vec<(String, String)> {
        health["stale"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["kind"].as_str().unwrap().into(),
                    s["venue"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    let bybit_stream = ("stream".to_string(), "bybit".to_string());
    // Fails (panics with the last body) unless a 503 names the silent Bybit stream in time.
    d.wait_health_where(503, Duration::from_secs(15), |h| {
        names(h).contains(&bybit_stream)
    })
    .await;
    sim.set_ws_faults(SimVenue::Bybit, WsFaults::default())
        .unwrap();
    d.wait_health(200, Duration::from_secs(60)).await;

    // SIGTERM: exit 0 within 10 s, nothing left in the spool.
    let stop_ms = ccxt_model::time::now_ns() / 1_000_000;
    let (code, took, log) = d.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(spool_segments(&catalog), 0, "spool not flushed:\n{log}");
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(catalog.join(".daemon/state.json")).unwrap())
            .unwrap();
    assert_eq!(state["clean_stop"], true);

    // `query` shows each kind for each venue.
    for symbol in ["BTCUSDT-PERP", "ETHUSDT-PERP"] {
        let oi = query(&catalog, &["oi", symbol]);
        assert_eq!(venues_of(&oi).len(), 4, "{symbol} oi");
        let funding = query(&catalog, &["funding", symbol]);
        assert_eq!(venues_of(&funding).len(), 4, "{symbol} funding");
        // The snapshots' mark and index prices, on every venue but OKX (its answers have none).
        for kind in ["mark", "index"] {
            let prices = query(&catalog, &[kind, symbol]);
            assert_eq!(venues_of(&prices).len(), 3, "{symbol} {kind}: {prices:?}");
        }
    }
    let liquidations = query(&catalog, &["liquidations", "BTCUSDT-PERP"]);
    assert!(!liquidations.is_empty());
    // Every Bybit liquidation the simulator sent for our symbols until 2 s before the stop is
    // stored, exactly once.
    let mut keys: BTreeMap<(String, u64, String), usize> = BTreeMap::new();
    for symbol in ["BTCUSDT-PERP", "ETHUSDT-PERP", "SOLUSDT-PERP"] {
        for row in query(&catalog, &["liquidations", symbol, "-e", "bybit"]) {
            let key = (
                row["symbol"].as_str().unwrap().to_string(),
                row["ts_event"].as_u64().unwrap() / 1_000_000,
                format!("{}", row["quantity"].as_f64().unwrap()),
            );
            *keys.entry(key).or_insert(0) += 1;
        }
    }
    let sent: BTreeSet<(String, u64, String)> = sim
        .sent_liquidations(SimVenue::Bybit)
        .into_iter()
        .filter(|e| !e.malformed && e.sent_ms + 2000 <= stop_ms)
        .filter(|e| ["BTCUSDT", "ETHUSDT", "SOLUSDT"].contains(&e.symbol.as_str()))
        .map(|e| {
            (
                e.symbol.clone(),
                e.time_ms,
                format!("{}", e.qty.parse::<f64>().unwrap()),
            )
        })
        .collect();
    assert!(!sent.is_empty());
    let missing: Vec<_> = sent.iter().filter(|k| !keys.contains_key(*k)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} missing, e.g. {:?}",
        missing.len(),
        sent.len(),
        missing.first()
    );
    assert!(keys.values().all(|n| *n == 1), "duplicates stored");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_then_restart_refills_history_records_gaps_and_stores_nothing_twice() {
    // The simulator's clock starts 40 minutes back, so the first run's history ends there;
    // the restart finds the venue's clock at now: the "downtime" has history to refill.
    let start_ms = ccxt_model::time::now_ns() / 1_000_000 - 40 * 60_000;
    let sim = sim(4, Some(start_ms)).await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    let port = free_port();
    let args = ["-s", "BTCUSDT-PERP", "-s", "ETHUSDT-PERP"];
    let mut cmd = daemon(&sim, &catalog, port);
    cmd.args(args);
    let d = start(cmd, dir.path(), port, "first");
    wait_for(
        "history and liquidations stored",
        Duration::from_secs(40),
        async || {
            let body = http_get(port, "/metrics").1;
            metric_value(
                &body,
                "ccxt_rows_written_total{kind=\"open_interest\",venue=\"binance\"}",
            ) > 0.0
                && metric_value(
                    &body,
                    "ccxt_rows_written_total{kind=\"liquidation\",venue=\"bybit\"}",
                ) > 0.0
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    d.kill_9();
    let history_before = oi_history(&catalog, "binance");
    let last_before = *history_before.last().unwrap();
    assert!(
        last_before <= start_ms * 1_000_000,
        "history beyond the venue's clock"
    );

    sim.set_now_ms(None);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let mut cmd = daemon(&sim, &catalog, port);
    cmd.args(args);
    let d = start(cmd, dir.path(), port, "second");
    d.wait_health(200, Duration::from_secs(40)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (code, _, log) = d.terminate().await;
    assert_eq!(code, Some(0), "{log}");

    // Refilled: every 5-minute bucket from the first stored one to the last complete one
    // (derived from the stored range and the wall clock, whatever the time of day).
    let five = 300_000_000_000u64;
    let now = ccxt_model::time::now_ns();
    for venue in ["binance", "bybit", "okx"] {
        let history = oi_history(&catalog, venue);
        let unique: BTreeSet<u64> = history.iter().copied().collect();
        assert_eq!(
            unique.len(),
            history.len(),
            "{venue}: duplicate history rows"
        );
        let first = history[0];
        let last = *history.last().unwrap();
        assert!(
            last >= (now / five - 2) * five,
            "{venue}: not refilled up to now ({last})"
        );
        assert!(last > last_before, "{venue}: nothing refilled");
        let expected = (last - first) / five + 1;
        assert_eq!(
            history.len() as u64,
            expected,
            "{venue}: holes in the history"
        );
    }
    // Recorded where nothing can refill it.
    let gaps = query(&catalog, &["gaps"]);
    let downtime: Vec<&Value> = gaps
        .iter()
        .filter(|g| {
            g["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("crashed or killed")
        })
        .collect();
    let streams: BTreeSet<(String, String)> = downtime
        .iter()
        .map(|g| {
            (
                g["venue"].as_str().unwrap().into(),
                g["stream"].as_str().unwrap().into(),
            )
        })
        .collect();
    for expected in [
        ("binance", "liquidations"),
        ("bybit", "liquidations"),
        ("okx", "liquidations"),
        ("hyperliquid", "open_interest"),
    ] {
        assert!(
            streams.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} missing in {gaps:?}"
        );
    }
    // Nothing stored twice: liquidations replayed from the spool are identical records.
    for venue in ["binance", "bybit", "hyperliquid", "okx"] {
        let rows = query(&catalog, &["liquidations", "BTCUSDT-PERP", "-e", venue]);
        let keys: BTreeSet<String> = rows.iter().map(Value::to_string).collect();
        assert_eq!(keys.len(), rows.len(), "{venue}: duplicate liquidations");
    }
    // CI reads this catalog with NautilusTrader.
    if let Ok(dest) = std::env::var("CCXT_DAEMON_CATALOG") {
        copy_dir(&catalog.join("data"), &Path::new(&dest).join("data"));
    }
    sim.shutdown().await;
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().filter_map(Result::ok) {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Stored OI history rows (ts_event == ts_init) of BTCUSDT on `venue`, ns.
fn oi_history(catalog: &Path, venue: &str) -> Vec<u64> {
    let rows = query(catalog, &["oi", "BTCUSDT-PERP", "-e", venue]);
    let mut out: Vec<u64> = rows
        .iter()
        .filter(|r| r["ts_event"] == r["ts_init"])
        .filter_map(|r| {
            let t = r["ts_event"].as_u64()?;
            (t % 300_000_000_000 == 0).then_some(t)
        })
        .collect();
    out.sort_unstable();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_venue_down_at_start_does_not_stop_the_others_and_recovers() {
    let sim = sim(4, None).await;
    sim.set_faults(Faults {
        venue_down: vec![SimVenue::Bybit],
        venue_down_mode: DownMode::Unavailable,
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    let port = free_port();
    let mut cmd = daemon(&sim, &catalog, port);
    cmd.args(["-s", "BTCUSDT-PERP"]);
    let d = start(cmd, dir.path(), port, "run");
    let series =
        |v: &str| format!("ccxt_rows_written_total{{kind=\"open_interest\",venue=\"{v}\"}}");
    wait_for(
        "binance and hyperliquid collect",
        Duration::from_secs(30),
        async || {
            let body = http_get(port, "/metrics").1;
            metric_value(&body, &series("binance")) > 0.0
                && metric_value(&body, &series("hyperliquid")) > 0.0
        },
    )
    .await;
    assert_eq!(d.metric(&series("bybit")).await, 0.0);
    let stale = d.wait_health(503, Duration::from_secs(20)).await;
    assert!(
        stale["stale"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["venue"] == "bybit"),
        "only bybit is stale: {stale}"
    );
    sim.set_faults(Faults::default());
    wait_for("bybit recovers", Duration::from_secs(40), async || {
        metric_value(&http_get(port, "/metrics").1, &series("bybit")) > 0.0
    })
    .await;
    d.wait_health(200, Duration::from_secs(60)).await;
    let (code, _, log) = d.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("job failed; the next run retries"), "{log}");
    let oi = query(&catalog, &["oi", "BTCUSDT-PERP"]);
    assert_eq!(venues_of(&oi).len(), 4);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overrunning_job_is_skipped_and_the_next_run_happens() {
    let sim = sim(3, None).await;
    // Every answer takes 2.5 s; the snapshot runs every second.
    sim.set_faults(Faults {
        latency_ms: 2500,
        venues: vec![SimVenue::Binance],
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    let port = free_port();
    let mut cmd = daemon(&sim, &catalog, port);
    cmd.env("CCXT_DAEMON__SCHEDULE__OPEN_INTEREST", "* * * * * *")
        // A malloc setting of the user's own: kept, and the daemon adds none of its own.
        .env("MALLOC_ARENA_MAX", "4")
        .args(["-s", "BTCUSDT-PERP", "-e", "binance"]);
    let d = start(cmd, dir.path(), port, "run");
    let ok = "ccxt_job_runs_total{job=\"open_interest\",venue=\"binance\",result=\"ok\"}";
    let skipped = "ccxt_job_runs_total{job=\"open_interest\",venue=\"binance\",result=\"skipped\"}";
    wait_for(
        "skips and at least two completed runs",
        Duration::from_secs(40),
        async || {
            let body = http_get(port, "/metrics").1;
            metric_value(&body, ok) >= 2.0 && metric_value(&body, skipped) >= 2.0
        },
    )
    .await;
    let (code, _, log) = d.terminate().await;
    assert_eq!(code, Some(0));
    assert!(
        log.contains("previous run still going; this run is skipped"),
        "{log}"
    );
    assert!(
        log.contains("glibc malloc settings: MALLOC_ARENA_MAX=4\n"),
        "the user's setting, and only it: {log}"
    );
    sim.shutdown().await;
}

const OI_OK: &str = "ccxt_job_runs_total{job=\"open_interest\",venue=\"binance\",result=\"ok\"}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_catalog_keeps_rows_in_the_spool_and_stores_them_later() {
    let sim = sim(3, None).await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    // The BTCUSDT Binance OI dataset directory is taken by a file: every write there fails
    // (even as root), like a full disk would.
    let blocked = catalog.join("data/custom_open_interest/BTCUSDT-PERP.BINANCE");
    std::fs::create_dir_all(blocked.parent().unwrap()).unwrap();
    std::fs::write(&blocked, b"not a directory").unwrap();
    let port = free_port();
    let mut cmd = daemon(&sim, &catalog, port);
    cmd.env("CCXT_DAEMON__SCHEDULE__OPEN_INTEREST_HISTORY", "off")
        .args(["-s", "BTCUSDT-PERP", "-e", "binance"]);
    let d = start(cmd, dir.path(), port, "run");
    wait_for(
        "write errors counted",
        Duration::from_secs(30),
        async || {
            let body = http_get(port, "/metrics").1;
            metric_value(&body, "ccxt_catalog_write_errors_total") >= 2.0
                && metric_value(&body, "ccxt_catalog_writable") == 0.0
                && metric_value(&body, "ccxt_spool_bytes") > 0.0
                && metric_value(&body, OI_OK) >= 2.0
        },
    )
    .await;
    let taken_while_blocked = d.metric(OI_OK).await;
    let unblocked_ns = ccxt_model::time::now_ns();
    std::fs::remove_file(&blocked).unwrap();
    wait_for(
        "the catalog is writable again",
        Duration::from_secs(30),
        async || metric_value(&http_get(port, "/metrics").1, "ccxt_catalog_writable") == 1.0,
    )
    .await;
    let (code, _, log) = d.terminate().await;
    assert_eq!(code, Some(0));
    assert!(log.contains("cannot write the catalog"), "{log}");
    // Every snapshot taken while blocked is there, once.
    let oi = query(&catalog, &["oi", "BTCUSDT-PERP", "-e", "binance"]);
    let snapshots = oi
        .iter()
        .filter(|r| r["ts_event"] != r["ts_init"])
        .filter(|r| r["ts_init"].as_u64().unwrap() < unblocked_ns)
        .count();
    assert!(
        snapshots as f64 >= taken_while_blocked,
        "{snapshots} stored of {taken_while_blocked} taken: {oi:?}"
    );
    let unique: BTreeSet<String> = oi.iter().map(Value::to_string).collect();
    assert_eq!(unique.len(), oi.len());
    // No temporary files left behind.
    let leftovers: Vec<_> = walk(&catalog.join("data"))
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    sim.shutdown().await;
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn invalid_configuration_lists_every_problem_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        r#"
catalog_path = "CATALOG"
catalog_paht = "typo"
[metrics]
address = "everywhere"
[daemon]
symbols = ["BTCUSDT-PERP"]
[daemon.schedule]
open_interest = "*/5 * * * *"
compaction = "0 99 * * * *"
[daemon.health]
stream_stale_secs = -1
[spool]
flush_secs = 0
[venues.binance]
rest_url = "ftp://example"
rest_ur = "http://typo"
"#
        .replace("CATALOG", dir.path().join("catalog").to_str().unwrap()),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    for command in ["validate", "start"] {
        let out = cli(&["daemon", command, "-c", config, "--oi-interval", "7"]);
        assert_eq!(out.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        for needle in [
            "--oi-interval 7",
            "daemon.schedule.compaction",
            "daemon.health.stream_stale_secs",
            "metrics.address",
            "spool.flush_secs",
            "venues.binance.rest_url",
            "unknown key 'catalog_paht'",
            "unknown key 'venues.binance.rest_ur'",
        ] {
            assert!(
                stderr.contains(needle),
                "{command}: '{needle}' missing in:\n{stderr}"
            );
        }
        assert!(stderr.contains("8 problems"), "{stderr}");
    }
    assert!(
        !dir.path().join("catalog").exists(),
        "start must not create anything"
    );

    // A valid configuration says what would run.
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[daemon]\nsymbols = [\"BTCUSDT-PERP\"]\n[metrics]\naddress = \"off\"\n",
    )
    .unwrap();
    let out = cli(&["daemon", "validate", "-c", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("configuration is valid") && stdout.contains("open_interest"),
        "{stdout}"
    );

    // Nothing to collect, an unknown key, a bad symbol: each a clear exit 2.
    let out = cli(&[
        "daemon",
        "validate",
        "-c",
        good.to_str().unwrap(),
        "-e",
        "bybit",
        "-s",
        "xyz:TSLA",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, "[daemon]\nsymbol = [\"BTC\"]\n").unwrap();
    let out = cli(&["daemon", "validate", "-c", typo.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("symbol"));
    let out = cli(&[
        "daemon",
        "health",
        "--url",
        &format!("http://127.0.0.1:{}/healthz", free_port()),
    ]);
    assert_eq!(out.status.code(), Some(1));
}

/// Rows of `kind` (`oi`, `funding`, `liquidations`) for every instrument, as JSON.
fn all_rows(catalog: &Path, kind: &str) -> Vec<Value> {
    query(catalog, &[kind, "--all"])
}

/// `(instrument_id, ts_init)` of each row.
fn id_and_init(row: &Value) -> (String, u64) {
    (
        row["instrument_id"].as_str().unwrap().to_string(),
        row["ts_init"].as_u64().unwrap(),
    )
}

/// Two daemons `--shard 0/2` and `--shard 1/2` with `--all` on one catalog, each stopped and
/// restarted once while the other runs. Each dataset must be written by its owner only: no
/// snapshot (and no liquidation of a per-symbol feed) lands in it while its owner is down,
/// though the other shard runs then; together they cover every instrument; a second `0/2`
/// and a non-sharded daemon are refused while the shards run; and the liquidations sent
/// while both run are stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_cover_the_universe_exactly_once_and_keep_other_writers_out() {
    use ccxt_daemon::shard::{instrument_shard, venue_shard};
    ccxt_registry::install().unwrap();
    let sim = sim(6, None).await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    let sharded = |shard: &str, port: u16| {
        let mut cmd = daemon(&sim, &catalog, port);
        cmd.args(["--all", "--shard", shard]);
        cmd
    };
    let ports = [free_port(), free_port()];
    let s0 = start(
        sharded("0/2", ports[0]),
        dir.path(),
        ports[0],
        "shard0-first",
    );
    let s1 = start(
        sharded("1/2", ports[1]),
        dir.path(),
        ports[1],
        "shard1-first",
    );
    let health = s0.wait_health(200, Duration::from_secs(60)).await;
    assert_eq!(health["shard"], "0/2", "{health}");
    let health = s1.wait_health(200, Duration::from_secs(60)).await;
    assert_eq!(health["shard"], "1/2", "{health}");
    let metrics = s1.get("/metrics").await.1;
    assert_eq!(metric_value(&metrics, "ccxt_shard_index"), 1.0);
    assert_eq!(metric_value(&metrics, "ccxt_shard_count"), 2.0);
    assert!(s0.log().contains("shard 0/2"), "{}", s0.log());

    // A second 0/2, and a daemon for the whole catalog, are refused while the shards run.
    let third = sharded("0/2", free_port());
    let mut whole = daemon(&sim, &catalog, free_port());
    whole.arg("--all");
    for (mut cmd, expected) in [
        (third, "another daemon (pid"),
        (whole, "another daemon (pid"),
    ] {
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(expected) && stderr.contains("is writing to it as shard 0/2"),
            "{stderr}"
        );
    }

    // Each shard down for a while, then back, while the other runs.
    let mut down = [(0u64, 0u64); 2];
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (code, _, log) = s0.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    down[0].0 = ccxt_model::time::now_ns();
    tokio::time::sleep(Duration::from_secs(8)).await;
    down[0].1 = ccxt_model::time::now_ns();
    let s0 = start(
        sharded("0/2", ports[0]),
        dir.path(),
        ports[0],
        "shard0-second",
    );
    s0.wait_health(200, Duration::from_secs(60)).await;
    let (code, _, log) = s1.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    down[1].0 = ccxt_model::time::now_ns();
    tokio::time::sleep(Duration::from_secs(8)).await;
    down[1].1 = ccxt_model::time::now_ns();
    let s1 = start(
        sharded("1/2", ports[1]),
        dir.path(),
        ports[1],
        "shard1-second",
    );
    s1.wait_health(200, Duration::from_secs(60)).await;
    // Both run: every liquidation sent from here on is stored once.
    let both_from_ms = ccxt_model::time::now_ns() / 1_000_000 + 2_000;
    // Each shard owns some instruments of every venue; a shard that just turned healthy may
    // not have published every venue's count yet (a loaded machine), so wait for all of them.
    let instruments: Vec<f64> = {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (m0, m1) = (s0.get("/metrics").await.1, s1.get("/metrics").await.1);
            let counts: Vec<(f64, f64)> = ["binance", "bybit", "hyperliquid", "okx"]
                .iter()
                .map(|v| {
                    let series = format!("ccxt_instruments{{venue=\"{v}\"}}");
                    (metric_value(&m0, &series), metric_value(&m1, &series))
                })
                .collect();
            let published = counts.iter().all(|(a, b)| *a > 0.0 && *b > 0.0);
            if published || std::time::Instant::now() > deadline {
                break counts.iter().map(|(a, b)| a + b).collect();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::sleep(Duration::from_secs(6)).await;
    let stop_ms = ccxt_model::time::now_ns() / 1_000_000;
    for d in [s0, s1] {
        let (code, _, log) = d.terminate().await;
        assert_eq!(code, Some(0), "{log}");
    }

    let owner = |id: &str| {
        let i = ccxt_model::Instrument::from_id(id).unwrap();
        instrument_shard(i.venue, &i.native, 2) as usize
    };
    let inside = |t: u64, window: (u64, u64)| window.0 < t && t < window.1;
    // Snapshots: open interest (ts_event != ts_init) and live funding estimates.
    let snapshots: Vec<(String, u64)> = all_rows(&catalog, "oi")
        .iter()
        .filter(|r| r["ts_event"] != r["ts_init"])
        .map(id_and_init)
        .chain(
            all_rows(&catalog, "funding")
                .iter()
                .filter(|r| r["kind"] == "estimate")
                .map(id_and_init),
        )
        .collect();
    let mut datasets: BTreeMap<String, [usize; 2]> = BTreeMap::new();
    for (id, ts_init) in &snapshots {
        let seen = datasets.entry(id.clone()).or_default();
        for (shard, window) in down.iter().enumerate() {
            if inside(*ts_init, *window) {
                seen[shard] += 1;
            }
        }
    }
    // The other shard wrote its own datasets all the while (so it had every chance to write
    // these): the windows prove something.
    let mut written_while_other_down = [0usize; 2];
    for (id, in_down) in &datasets {
        let own = owner(id);
        assert_eq!(
            in_down[own], 0,
            "{id} (shard {own}) has rows from while its shard was down: written by the other"
        );
        written_while_other_down[own] += in_down[1 - own];
    }
    assert!(
        written_while_other_down.iter().all(|n| *n > 0),
        "{written_while_other_down:?}"
    );
    // Together they cover the universe: each venue's instruments, split between the two.
    for (v, expected) in ["binance", "bybit", "hyperliquid", "okx"]
        .iter()
        .zip(&instruments)
    {
        let covered = datasets
            .keys()
            .filter(|id| ccxt_model::Instrument::from_id(id).unwrap().venue.as_str() == *v)
            .collect::<Vec<_>>();
        assert!(*expected >= 6.0, "{v}: {expected}");
        assert_eq!(covered.len() as f64, *expected, "{v}: {covered:?}");
        let per_shard = covered.iter().filter(|id| owner(id) == 0).count();
        assert!(
            per_shard > 0 && per_shard < covered.len(),
            "{v}: one shard has it all"
        );
    }
    // Liquidations: a per-symbol feed's datasets by instrument owner, a whole-market feed's by
    // venue owner; none from while that owner was down.
    let liquidations = all_rows(&catalog, "liquidations");
    assert!(!liquidations.is_empty());
    for row in &liquidations {
        let (id, ts_init) = id_and_init(row);
        let i = ccxt_model::Instrument::from_id(&id).unwrap();
        let own = if i.venue.as_str() == "bybit" {
            owner(&id)
        } else {
            venue_shard(i.venue, 2) as usize
        };
        assert!(
            !inside(ts_init, down[own]),
            "{id}: a liquidation from while shard {own} was down"
        );
    }
    for (venue, sim_venue) in [("binance", SimVenue::Binance), ("bybit", SimVenue::Bybit)] {
        let mut keys: BTreeMap<(String, u64, String), usize> = BTreeMap::new();
        for row in liquidations.iter().filter(|r| r["venue"] == venue) {
            let key = (
                row["symbol"].as_str().unwrap().to_string(),
                row["ts_event"].as_u64().unwrap() / 1_000_000,
                format!("{}", row["quantity"].as_f64().unwrap()),
            );
            *keys.entry(key).or_insert(0) += 1;
        }
        assert!(keys.values().all(|n| *n == 1), "{venue}: duplicates stored");
        let sent: Vec<(String, u64, String)> = sim
            .sent_liquidations(sim_venue)
            .into_iter()
            .filter(|e| !e.malformed && e.sent_ms >= both_from_ms && e.sent_ms + 2000 <= stop_ms)
            .map(|e| {
                (
                    e.symbol.clone(),
                    e.time_ms,
                    format!("{}", e.qty.parse::<f64>().unwrap()),
                )
            })
            .collect();
        assert!(!sent.is_empty(), "{venue}: nothing sent");
        let missing: Vec<_> = sent.iter().filter(|k| !keys.contains_key(*k)).collect();
        assert!(
            missing.is_empty(),
            "{venue}: {} of {} missing, e.g. {:?}",
            missing.len(),
            sent.len(),
            missing.first()
        );
    }
    // One catalog for the readers.
    let out = cli(&[
        "catalog",
        "info",
        "--catalog",
        catalog.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let oi_datasets: BTreeSet<String> = info
        .iter()
        .filter(|d| d["type"] == "oi")
        .map(|d| d["instrument_id"].as_str().unwrap().to_string())
        .collect();
    let oi_written: BTreeSet<String> = snapshots
        .iter()
        .filter(|(id, _)| !id.is_empty())
        .map(|(id, _)| id.clone())
        .collect();
    assert!(oi_datasets.is_superset(&oi_written), "{info:?}");
    sim.shutdown().await;
}

/// `--shard`, `daemon.shard`, `[storage]` and `[spool]` problems are listed with the others
/// (exit 2); an object-store catalog is accepted by the daemon, its spool and state file on
/// local disk under `$XDG_STATE_HOME` (one directory per shard), or in `--spool-dir`.
#[test]
fn shard_storage_and_spool_settings_are_validated_and_the_spool_stays_local() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "[daemon]\nsymbols = [\"BTCUSDT-PERP\"]\nshard = \"2/2\"\n[metrics]\naddress = \"off\"\n\
         [storage]\nendpoint = \"ftp://minio\"\n[spool]\nmax_bytes = 0\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let out = cli(&["daemon", "validate", "-c", config]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "daemon.shard: invalid shard '2/2': the index must be below the count (use i/n with 0 <= i < n and n >= 1",
        "storage.endpoint must be http(s)://HOST[:PORT], got 'ftp://minio'",
        "spool.max_bytes must be between 1 and",
        "3 problems",
    ] {
        assert!(stderr.contains(needle), "'{needle}' missing in:\n{stderr}");
    }
    // The flag wins over the file, and is checked the same way.
    let out = cli(&["daemon", "validate", "-c", config, "--shard", "1/0"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--shard: invalid shard '1/0'"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[daemon]\nsymbols = [\"BTCUSDT-PERP\"]\n[metrics]\naddress = \"off\"\n",
    )
    .unwrap();
    let state_home = dir.path().join("state");
    let validate = |extra: &[&str]| {
        let mut cmd = common::clean_cli();
        cmd.env("XDG_STATE_HOME", &state_home)
            .args(["daemon", "validate", "-c", good.to_str().unwrap()])
            .args(extra);
        let out = cmd.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let stdout = validate(&["--catalog", "s3://bucket/prefix", "--shard", "1/3"]);
    let expected = state_home.join("ccxt-pipeline");
    assert!(stdout.contains("shard 1/3"), "{stdout}");
    let spool_line = stdout.lines().find(|l| l.contains("spool ")).unwrap();
    assert!(
        spool_line.contains(&format!("{}/s3-bucket-prefix-", expected.display()))
            && spool_line.contains("/shard-1-of-3/daemon"),
        "{stdout}"
    );
    let stdout = validate(&[
        "--catalog",
        "s3://bucket/prefix",
        "--spool-dir",
        "/var/tmp/sp",
    ]);
    assert!(
        stdout.contains("spool /var/tmp/sp/daemon (state file /var/tmp/sp/.daemon/state.json)"),
        "{stdout}"
    );
    let local = dir.path().join("catalog");
    let stdout = validate(&["--catalog", local.to_str().unwrap()]);
    assert!(
        stdout.contains(&format!(
            "spool {}/.spool/daemon (state file {}/.daemon/state.json)",
            local.display(),
            local.display()
        )),
        "{stdout}"
    );
}
