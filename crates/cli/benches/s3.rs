//! Object-store request figures: prints figures, asserts nothing.
//!
//! `cargo bench -p ccxt-cli --bench s3` (`-- --symbols 150 --minutes 15`): the venue simulator
//! (in-process, rate limits off, 2 liquidations/s per venue) lists `--symbols` perpetuals on
//! each of the four venues (150 x 4 = about 600 instruments) and `ccxt-cli daemon start --all`
//! writes them to the in-process S3 server (`ccxt-s3-sim`) with the default schedules. After
//! the start (backfill) is stored, the S3 requests are counted by method over a window of
//! `--minutes` wall-clock minutes and extrapolated to an hour, then priced at AWS S3 Standard
//! list prices.
//!
//! How the hour is extrapolated (printed with the figures):
//! * every job whose period divides the window runs the same number of times in any window
//!   of that length, whatever the clock says when it starts: with 15 minutes, 3 open-interest,
//!   3 funding and 3 bars snapshots, 1 open-interest history top-up and 15 spool flushes. The
//!   requests of those runs, x 60 / minutes, are the hour's;
//! * the hourly jobs (funding history, instruments, compaction) are moved to run once inside
//!   the window, at a minute of their own; the requests from just before each run is due to
//!   the moment its run is counted (sampled every 100 ms) are counted once per hour, not
//!   multiplied. Compaction also runs just before the window (the window opens when it is
//!   done), so the window's run merges only what `span` minutes stored; in an hour it would
//!   merge 60 / span times as many files, so its GET and DELETE requests (one per merged file)
//!   are multiplied by that, its PUT, LIST and HEAD requests are not;
//! * the lease renewals of the writer's lock happen on their own timer and are inside the
//!   first part;
//! * the start's backfill is not counted (and is shortened to an hour of history and bars).

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ccxt_s3_sim::S3Sim;
use exchange_sim::{SimConfig, VenueRates};

mod common;
use common::arg;
use common::http_get;

/// AWS S3 Standard list prices, US East (N. Virginia), from <https://aws.amazon.com/s3/pricing/>
/// (Storage: first 50 TB / month; Requests & data retrievals): USD.
mod price {
    /// PUT, COPY, POST, LIST requests, per 1,000.
    pub const PUT_COPY_POST_LIST_PER_1000: f64 = 0.005;
    /// GET, SELECT and all other requests (HEAD included), per 1,000.
    pub const GET_AND_OTHER_PER_1000: f64 = 0.0004;
    /// DELETE (and CANCEL) requests are free.
    pub const DELETE_PER_1000: f64 = 0.0;
    /// Storage, per GB-month (first 50 TB).
    pub const STORAGE_PER_GB_MONTH: f64 = 0.023;
}

/// Hours in a month, as AWS bills them (730).
const HOURS_PER_MONTH: f64 = 730.0;

/// Sum of every sample of `family` whose labels contain `filter`.
fn sum(body: &str, family: &str, filter: &str) -> f64 {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{family}{{")) || l.starts_with(&format!("{family} ")))
        .filter(|l| l.contains(filter))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// Requests by method.
type Counts = BTreeMap<String, f64>;

fn counts(s3: &S3Sim) -> Counts {
    let r = s3.requests();
    [
        ("PUT", r.put),
        ("COPY", r.copy),
        ("POST", r.post),
        ("LIST", r.list),
        ("GET", r.get),
        ("HEAD", r.head),
        ("DELETE", r.delete),
    ]
    .into_iter()
    .map(|(method, n)| (method.to_string(), n as f64))
    .collect()
}

fn minus(a: &Counts, b: &Counts) -> Counts {
    a.iter()
        .map(|(k, v)| (k.clone(), v - b.get(k).copied().unwrap_or(0.0)))
        .collect()
}

fn add_scaled(into: &mut Counts, from: &Counts, factor: impl Fn(&str) -> f64) {
    for (k, v) in from {
        *into.entry(k.clone()).or_insert(0.0) += v * factor(k);
    }
}

/// Runs of `job` (any venue, any result) so far.
fn runs(metrics: &str, job: &str) -> f64 {
    sum(metrics, "ccxt_job_runs_total", &format!("job=\"{job}\""))
}

/// Bytes of every file below `root` (the objects of a prefix, on the S3 server's disk).
fn bytes_below(root: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

fn cost_per_1000(method: &str) -> f64 {
    match method {
        "PUT" | "POST" | "COPY" | "LIST" => price::PUT_COPY_POST_LIST_PER_1000,
        "DELETE" => price::DELETE_PER_1000,
        _ => price::GET_AND_OTHER_PER_1000,
    }
}

/// Cron of a job that runs once, at `minute` past the hour (second 40: away from the
/// snapshots at seconds 0, 10 and 20).
fn at_minute(minutes: &[u64]) -> String {
    let list: Vec<String> = minutes.iter().map(|m| (m % 60).to_string()).collect();
    format!("40 {} * * * *", list.join(","))
}

#[tokio::main]
async fn main() {
    let symbols = arg("--symbols", 150.0) as usize;
    let window_min = arg("--minutes", 15.0).max(5.0) as u64;
    let mut config = SimConfig {
        symbols,
        ..SimConfig::default()
    };
    config.limits.enabled = false;
    config.ws.liquidations_per_sec = VenueRates::all(2.0);
    let sim = exchange_sim::start(config).await.expect("simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let s3 = S3Sim::start(&dir.path().join("s3"))
        .await
        .expect("S3 server");
    let catalog = s3.url("catalog");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");

    // The start (backfill of ~600 instruments) gets `--startup-minutes`; then compaction merges
    // what it stored, and the window opens once that compaction is done. Inside the window the
    // hourly jobs run once each, at minutes of their own, and compaction once more near its
    // end (it then merges what the window's first `span_min` minutes stored).
    let startup_min = arg("--startup-minutes", 4.0) as u64;
    let now_min = ccxt_model::time::now_ns() / 60_000_000_000;
    let pre_compaction_min = now_min + startup_min;
    let window_start_min = pre_compaction_min + 1;
    let funding_history_min = window_start_min + 1;
    let instruments_min = window_start_min + 2;
    let compaction_min = window_start_min + window_min - 4;
    let span_min = compaction_min - pre_compaction_min;
    let compaction = at_minute(&[pre_compaction_min, compaction_min]);
    let funding_history = at_minute(&[funding_history_min]);
    let instruments = at_minute(&[instruments_min]);
    // When each hourly job is due inside the window, Unix ns (second 40 of its minute).
    let due_ns = |minute: u64| minute * 60_000_000_000 + 40_000_000_000;
    let due: BTreeMap<&str, u64> = BTreeMap::from([
        ("funding_history", due_ns(funding_history_min)),
        ("instruments", due_ns(instruments_min)),
        ("compaction", due_ns(compaction_min)),
    ]);

    let http = sim.url();
    let ws = http.replacen("http://", "ws://", 1);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ccxt-cli"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CCXT_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    for venue in ["BINANCE", "BYBIT", "HYPERLIQUID", "OKX"] {
        cmd.env(format!("CCXT_VENUES__{venue}__REST_URL"), &http)
            .env(format!("CCXT_VENUES__{venue}__RATE_LIMITS"), "false");
    }
    let log_path = dir.path().join("daemon.log");
    cmd.envs(s3.env())
        .env("CCXT_STORAGE__ALLOW_HTTP", "true")
        .env("CCXT_VENUES__BINANCE__WS_URL", format!("{ws}/market"))
        .env(
            "CCXT_VENUES__BYBIT__WS_URL",
            format!("{ws}/v5/public/linear"),
        )
        .env("CCXT_VENUES__HYPERLIQUID__WS_URL", format!("{ws}/ws"))
        .env("CCXT_VENUES__OKX__WS_URL", format!("{ws}/ws/v5/public"))
        .env("CCXT_CATALOG_PATH", &catalog)
        .env("CCXT_SPOOL__DIR", dir.path().join("spool"))
        .env("CCXT_METRICS__ADDRESS", format!("127.0.0.1:{port}"))
        .env("CCXT_DAEMON__SCHEDULE__COMPACTION", &compaction)
        .env("CCXT_DAEMON__SCHEDULE__FUNDING_HISTORY", &funding_history)
        .env("CCXT_DAEMON__SCHEDULE__INSTRUMENTS", &instruments)
        // The start's backfill is not counted: keep it short (1 hour of history and bars).
        .env("CCXT_DAEMON__BACKFILL__OI_HISTORY_DAYS", "0.05")
        .env("CCXT_DAEMON__BACKFILL__FUNDING_HISTORY_DAYS", "0.05")
        .env("CCXT_DAEMON__BACKFILL__BARS_DAYS", "0.05")
        .env("CCXT_LOG_LEVEL", "warn")
        .args([
            "daemon",
            "start",
            "--all",
            "-e",
            "binance",
            "-e",
            "bybit",
            "-e",
            "hyperliquid",
            "-e",
            "okx",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(&log_path).expect("log file"),
        ));
    println!(
        "s3 requests: {symbols} symbols x 4 venues, default schedules except the hourly jobs \
         (moved into the window), a window of {window_min} min after a {startup_min}-min start"
    );
    let mut child = cmd.spawn().expect("ccxt-cli");

    // The window opens once the compaction of the start's files is done.
    let first_compaction_deadline = Instant::now()
        + Duration::from_nanos(
            (window_start_min * 60_000_000_000).saturating_sub(ccxt_model::time::now_ns()),
        )
        + Duration::from_secs(600);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            println!(
                "the daemon exited early ({status}); log:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
            return;
        }
        let (_, metrics) = http_get(port, "/metrics");
        if runs(&metrics, "compaction") >= 1.0 {
            break;
        }
        if Instant::now() > first_compaction_deadline {
            println!(
                "the first compaction did not run (the start took longer than \
                 --startup-minutes: give it more); log: {}",
                log_path.display()
            );
            let _ = child.kill();
            let _ = child.wait();
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, metrics) = http_get(port, "/metrics");
    let instruments_n = sum(&metrics, "ccxt_instruments", "");
    let at_start = counts(&s3);
    let bytes_at_start = bytes_below(&s3.local_path("catalog"));
    let started = Instant::now();
    let window = Duration::from_secs(window_min * 60);
    // Each hourly job's requests: from a sample taken just before it is due (second 39) to
    // the sample that sees its run counted. (A spool flush that falls in between is counted
    // with it: at most one flush per job run.)
    let mut last_runs: BTreeMap<&str, f64> = due.keys().map(|j| (*j, runs(&metrics, j))).collect();
    let mut before: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut in_job: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut last_print = Instant::now();
    while started.elapsed() < window {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now_ns = ccxt_model::time::now_ns();
        let now = counts(&s3);
        for (job, at) in &due {
            if now_ns + 1_000_000_000 >= *at && !before.contains_key(job) {
                before.insert(job, now.clone());
            }
        }
        let (_, metrics) = http_get(port, "/metrics");
        for job in due.keys() {
            let r = runs(&metrics, job);
            if r > last_runs[job] {
                last_runs.insert(job, r);
                if let Some(b) = before.get(job) {
                    in_job.insert(job, minus(&now, b));
                }
            }
        }
        if last_print.elapsed() > Duration::from_secs(60) {
            last_print = Instant::now();
            let so_far = minus(&now, &at_start);
            println!(
                "  t={:>4.1} min  {}",
                started.elapsed().as_secs_f64() / 60.0,
                so_far
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.0}"))
                    .collect::<Vec<_>>()
                    .join("  ")
            );
        }
    }
    let in_window = minus(&counts(&s3), &at_start);
    let bytes_added = bytes_below(&s3.local_path("catalog")).saturating_sub(bytes_at_start);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();

    // The hour: the window without the hourly jobs, x 60 / minutes; plus each hourly job once
    // (compaction's per-file requests x 60 / minutes).
    let scale = 60.0 / window_min as f64;
    let mut hourly_total = Counts::new();
    for c in in_job.values() {
        add_scaled(&mut hourly_total, c, |_| 1.0);
    }
    let rest = minus(&in_window, &hourly_total);
    let mut per_hour = Counts::new();
    add_scaled(&mut per_hour, &rest, |_| scale);
    for (job, c) in &in_job {
        add_scaled(&mut per_hour, c, |method| {
            if *job == "compaction" && matches!(method, "GET" | "DELETE") {
                60.0 / span_min as f64
            } else {
                1.0
            }
        });
    }
    println!("---");
    println!(
        "instruments collected: {instruments_n:.0}; window {window_min} min; hourly jobs' runs \
         seen: {}",
        in_job.keys().copied().collect::<Vec<_>>().join(", ")
    );
    println!(
        "{:<8} {:>12} {:>14} {:>14} {:>12}",
        "method", "in window", "of which hourly", "per hour", "USD/month"
    );
    let mut monthly_requests = 0.0;
    for (method, n) in &per_hour {
        let usd = n * HOURS_PER_MONTH / 1000.0 * cost_per_1000(method);
        monthly_requests += usd;
        println!(
            "{method:<8} {:>12.0} {:>14.0} {:>14.0} {:>12.2}",
            in_window.get(method).copied().unwrap_or(0.0),
            hourly_total.get(method).copied().unwrap_or(0.0),
            n,
            usd
        );
    }
    let gb_per_month = bytes_added as f64 * scale * HOURS_PER_MONTH / 1e9;
    println!(
        "requests: {:.0} per hour, USD {monthly_requests:.2} per month \
         (PUT/COPY/POST/LIST ${}/1000, GET/HEAD ${}/1000, DELETE free)",
        per_hour.values().sum::<f64>(),
        price::PUT_COPY_POST_LIST_PER_1000,
        price::GET_AND_OTHER_PER_1000
    );
    println!(
        "storage: {:.1} MB of objects added in the window (an upper bound: the files flushed since \
         the window's compaction are not merged yet) -> {gb_per_month:.2} GB per month of data, \
         USD {:.2} per month for each month kept (${}/GB-month)",
        bytes_added as f64 / 1e6,
        gb_per_month * price::STORAGE_PER_GB_MONTH,
        price::STORAGE_PER_GB_MONTH
    );
    sim.shutdown().await;
}
