//! Daemon soak benchmark: prints figures, asserts nothing about speed.
//!
//! `cargo bench -p ccxt-cli --bench daemon` (`-- --symbols 200 --minutes 10 --sample-secs 30
//! --liquidations-per-sec 5`): the simulator (in-process, venue rate limits on) lists `--symbols`
//! perpetuals on each of the three venues and pushes `--liquidations-per-sec` liquidations a
//! second on each (a higher rate makes memory that grows with the rows stored show sooner); `ccxt-cli daemon start --all` runs with the default
//! schedules (OI and funding every 5 minutes, top-ups, instrument refresh, the startup
//! backfill) for `--minutes`. Every sample prints RSS (with its anonymous and file-backed parts), CPU% over the interval and rows written;
//! the end prints RSS at 10 minutes vs at the end (a leak shows as growth), average CPU%,
//! requests and rate-limit answers per venue, and how long SIGTERM took. CPU is also sampled
//! every 10 s: the end prints the peak 10 s CPU% (a compaction spike shows there), the peak
//! after the startup backfill (from minute 5 on), and RSS min/max from minute 5 on (flat or
//! growing). `CCXT_BENCH_DAEMON_BIN=/path/to/ccxt-cli` runs another build of the binary (to
//! measure a before and an after side by side under the same load). The daemon sets glibc's
//! allocator up itself (`MALLOC_ARENA_MAX=2`, `MALLOC_MMAP_THRESHOLD_=131072`,
//! `MALLOC_TRIM_THRESHOLD_=262144`, as deploy/ sets them); set one of them, or
//! `CCXT_MALLOC_TUNING=off`, in the bench's environment to measure something else.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use exchange_sim::{SimConfig, VenueRates};

mod common;
use common::http_get;
use common::{arg, proc_sample};

/// One `/proc/<pid>/status` field in MiB (`VmRSS:`, `RssAnon:`, `RssFile:`).
fn status_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Current RSS of `pid`, MiB.
fn rss_mib(pid: u32) -> Option<f64> {
    status_mib(pid, "VmRSS:")
}

/// Sum of every sample of `family` (all label sets) in Prometheus text.
fn sum(body: &str, family: &str, filter: &str) -> f64 {
    body.lines()
        .filter(|l| l.starts_with(family) && l.contains(filter))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

#[tokio::main]
async fn main() {
    let symbols = arg("--symbols", 200.0) as usize;
    let minutes = arg("--minutes", 10.0);
    let sample = Duration::from_secs_f64(arg("--sample-secs", 30.0).max(1.0));
    let liquidations_per_sec = arg("--liquidations-per-sec", 5.0).max(0.0);
    let mut config = SimConfig {
        symbols,
        ..SimConfig::default()
    };
    config.ws.liquidations_per_sec = VenueRates::all(liquidations_per_sec);
    let sim = exchange_sim::start(config).await.expect("simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let http = sim.url();
    let ws = http.replacen("http://", "ws://", 1);
    let bin = std::env::var("CCXT_BENCH_DAEMON_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_ccxt-cli").to_string());
    let mut cmd = Command::new(&bin);
    for (key, _) in std::env::vars() {
        if key.starts_with("CCXT_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    for venue in ["BINANCE", "BYBIT", "HYPERLIQUID", "OKX"] {
        cmd.env(format!("CCXT_VENUES__{venue}__REST_URL"), &http);
    }
    let log_path = dir.path().join("daemon.log");
    cmd.env("CCXT_VENUES__BINANCE__WS_URL", format!("{ws}/market"))
        .env(
            "CCXT_VENUES__BYBIT__WS_URL",
            format!("{ws}/v5/public/linear"),
        )
        .env("CCXT_VENUES__HYPERLIQUID__WS_URL", format!("{ws}/ws"))
        .env("CCXT_VENUES__OKX__WS_URL", format!("{ws}/ws/v5/public"))
        .env("CCXT_CATALOG_PATH", dir.path().join("catalog"))
        .env("CCXT_METRICS__ADDRESS", format!("127.0.0.1:{port}"))
        .env("CCXT_LOG_LEVEL", "warn")
        .args(["daemon", "start", "--all"])
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(&log_path).expect("log file"),
        ));
    let mut child = cmd.spawn().expect("ccxt-cli");
    let pid = child.id();
    println!(
        "daemon soak: {symbols} symbols x 3 venues, default schedules, {liquidations_per_sec} liquidations/s per venue, {minutes} minutes, sample every {:?}",
        sample
    );
    println!(
        "{:>7}  {:>9}  {:>6}  {:>6}  {:>6}  {:>10}  {:>8}  {:>8}  {:>6}",
        "t_min", "rss_mib", "anon", "file", "cpu%", "rows", "requests", "instr", "health"
    );
    let started = Instant::now();
    let end = started + Duration::from_secs_f64(minutes * 60.0);
    let tick = Duration::from_secs(10).min(sample);
    let (mut last_t, mut last_cpu) = (0.0f64, 0.0f64);
    let (mut print_t, mut print_cpu) = (0.0f64, 0.0f64);
    let mut rss_at_10 = None;
    let mut cpu_total = 0.0;
    let mut rss_max: f64 = 0.0;
    let mut last_rss = 0.0;
    let (mut peak, mut peak_at) = (0.0f64, 0.0f64);
    let (mut peak_steady, mut peak_steady_at) = (0.0f64, 0.0f64);
    let (mut rss_steady_min, mut rss_steady_max) = (f64::MAX, 0.0f64);
    let (mut cpu_at_5, mut t_at_5) = (None, 0.0);
    while Instant::now() < end {
        tokio::time::sleep(tick.min(end.saturating_duration_since(Instant::now()))).await;
        let t = started.elapsed().as_secs_f64();
        let Some((_, cpu)) = proc_sample(pid) else {
            println!("the daemon exited early; log: {}", log_path.display());
            break;
        };
        let rss = rss_mib(pid).unwrap_or(0.0);
        let tick_pct = 100.0 * (cpu - last_cpu) / (t - last_t).max(1e-9);
        if tick_pct > peak {
            (peak, peak_at) = (tick_pct, t);
        }
        if t >= 300.0 {
            if cpu_at_5.is_none() {
                (cpu_at_5, t_at_5) = (Some(cpu), t);
            }
            if tick_pct > peak_steady {
                (peak_steady, peak_steady_at) = (tick_pct, t);
            }
            rss_steady_min = rss_steady_min.min(rss);
            rss_steady_max = rss_steady_max.max(rss);
        }
        (last_t, last_cpu) = (t, cpu);
        if rss_at_10.is_none() && t >= 600.0 {
            rss_at_10 = Some(rss);
        }
        rss_max = rss_max.max(rss);
        last_rss = rss;
        cpu_total = cpu;
        if t - print_t + 0.5 < sample.as_secs_f64() && Instant::now() < end {
            continue;
        }
        let cpu_pct = 100.0 * (cpu - print_cpu) / (t - print_t).max(1e-9);
        let (_, metrics) = http_get(port, "/metrics");
        let (health, _) = http_get(port, "/healthz");
        println!(
            "{:>7.1}  {:>9.1}  {:>6.1}  {:>6.1}  {:>6.1}  {:>10.0}  {:>8.0}  {:>8.0}  {:>6}",
            t / 60.0,
            rss,
            status_mib(pid, "RssAnon:").unwrap_or(0.0),
            status_mib(pid, "RssFile:").unwrap_or(0.0),
            cpu_pct,
            sum(&metrics, "ccxt_rows_written_total", ""),
            sum(&metrics, "ccxt_http_requests_total", ""),
            sum(&metrics, "ccxt_instruments", ""),
            health
        );
        (print_t, print_cpu) = (t, cpu);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (_, metrics) = http_get(port, "/metrics");
    let stop = Instant::now();
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let status = child.wait().expect("wait");
    let shutdown = stop.elapsed();
    println!("---");
    println!(
        "average CPU {:.1}% of one core over {:.1} min; RSS max {:.1} MiB, at the end {:.1} MiB{}",
        100.0 * cpu_total / elapsed,
        elapsed / 60.0,
        rss_max,
        last_rss,
        match rss_at_10 {
            Some(r) => format!(
                ", at 10 min {r:.1} MiB (growth after 10 min: {:+.1} MiB)",
                last_rss - r
            ),
            None => String::new(),
        }
    );
    println!(
        "peak 10 s CPU {peak:.1}% (at {:.1} min); from minute 5 on: average {}, peak 10 s {peak_steady:.1}% (at {:.1} min), RSS {:.1}..{:.1} MiB",
        peak_at / 60.0,
        match cpu_at_5 {
            Some(c) if last_t > t_at_5 =>
                format!("{:.2}%", 100.0 * (last_cpu - c) / (last_t - t_at_5)),
            _ => "n/a".into(),
        },
        peak_steady_at / 60.0,
        if rss_steady_min == f64::MAX {
            0.0
        } else {
            rss_steady_min
        },
        rss_steady_max,
    );
    for venue in ["binance", "bybit", "hyperliquid"] {
        let v = format!("venue=\"{venue}\"");
        println!(
            "{venue:<12} requests {:>7.0}  429/418/403 {:>3.0}  rows {:>9.0}  liquidations {:>7.0}  reconnects {:>3.0}",
            sum(&metrics, "ccxt_http_requests_total", &v),
            sum(
                &metrics,
                "ccxt_http_responses_total",
                &format!("{v},status=\"429\"")
            ) + sum(
                &metrics,
                "ccxt_http_responses_total",
                &format!("{v},status=\"418\"")
            ) + sum(
                &metrics,
                "ccxt_http_responses_total",
                &format!("{v},status=\"403\"")
            ),
            sum(&metrics, "ccxt_rows_written_total", &v),
            sum(&metrics, "ccxt_stream_liquidations_total", &v),
            sum(&metrics, "ccxt_stream_reconnects_total", &v),
        );
    }
    println!(
        "SIGTERM: exit {:?} after {:.2} s",
        status.code(),
        shutdown.as_secs_f64()
    );
    let warnings = std::fs::read_to_string(&log_path).unwrap_or_default();
    let lines = warnings.lines().count();
    println!(
        "{lines} warning/error log lines (log: {})",
        log_path.display()
    );
    for line in warnings.lines().take(5) {
        println!("  {line}");
    }
    sim.shutdown().await;
}
