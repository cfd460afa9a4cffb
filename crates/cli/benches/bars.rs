//! Bars benchmark: the real `ccxt-cli fetch-bars` against the in-process exchange simulator.
//! Prints figures; asserts nothing about speed.
//!
//! `cargo bench -p ccxt-cli --bench bars` (`-- --symbols 2 --days 3` for a quick run): 1-minute
//! trade bars of every trading perpetual of a 10-asset simulator (11 per venue: the simulator
//! adds a fixed extra one) × 30 days on Binance and Bybit, `--store`, first with the venue
//! limits off (simulator `limits.enabled = false`, ours `rate_limits = false`), then on (the
//! venues' real budgets; we use 80 % of each).
//!
//! For each run: bars stored, requests, wall time, bars/s, the CLI's CPU seconds and peak RSS
//! (read from /proc while it runs), and the catalog's bytes per bar.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ccxt_model::time::{NANOS_PER_DAY, format_iso, now_ns, utc_day_start};
use exchange_sim::{SimConfig, SimHandle};

mod common;
use common::proc_sample;

struct Figures {
    wall: Duration,
    cpu_s: f64,
    peak_rss_mib: f64,
    stdout: String,
    stderr: String,
    ok: bool,
}

fn run_cli(sim: &SimHandle, catalog: &str, args: &[String], limited: bool) -> Figures {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ccxt-cli"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CCXT_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    for venue in ["BINANCE", "BYBIT", "HYPERLIQUID", "OKX"] {
        cmd.env(format!("CCXT_VENUES__{venue}__REST_URL"), sim.url());
        cmd.env(
            format!("CCXT_VENUES__{venue}__RATE_LIMITS"),
            limited.to_string(),
        );
    }
    cmd.args(args)
        .arg("--store")
        .arg("--format")
        .arg("csv")
        .arg("--catalog")
        .arg(catalog);
    let started = Instant::now();
    let mut child = match cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot start ccxt-cli: {e}");
            std::process::exit(1);
        }
    };
    let pid = child.id();
    // Drain stderr on a thread so a chatty run never blocks on a full pipe.
    let stderr_pipe = child.stderr.take();
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = stderr_pipe {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
        }
        text
    });
    let (mut rss, mut cpu) = (0.0, 0.0);
    let status = loop {
        if let Some((r, c)) = proc_sample(pid) {
            rss = f64::max(rss, r);
            cpu = c;
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                eprintln!("wait failed: {e}");
                std::process::exit(1);
            }
        }
    };
    let wall = started.elapsed();
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut out, &mut stdout);
    }
    Figures {
        wall,
        cpu_s: cpu,
        peak_rss_mib: rss,
        stdout,
        stderr: stderr_reader.join().unwrap_or_default(),
        ok: status.success(),
    }
}

/// Bars added and (venue, symbol) pairs, from the `--store` summary (CSV column `added`).
fn added(stdout: &str) -> (u64, usize) {
    let mut lines = stdout.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let Some(col) = header.iter().position(|h| *h == "added") else {
        return (0, 0);
    };
    let added: Vec<u64> = lines
        .filter_map(|l| l.split(',').nth(col)?.parse::<u64>().ok())
        .collect();
    (added.iter().sum(), added.len())
}

/// Bytes of every file under `dir`.
fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => bytes_under(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

fn requests(sim: &SimHandle) -> u64 {
    let stats = sim.stats();
    ["binance", "bybit"]
        .iter()
        .map(|v| stats.venue(v).requests)
        .sum()
}

fn report(name: &str, f: &Figures, (bars, pairs): (u64, usize), requests: u64, catalog: &Path) {
    let secs = f.wall.as_secs_f64();
    let bytes = bytes_under(&catalog.join("data").join("bar"));
    println!(
        "{name}: {bars} bars stored for {pairs} (venue, symbol) pairs, {requests} requests in {secs:.1} s: {:.0} bars/s, {:.1} requests/s; ccxt-cli CPU {:.1} s, peak RSS {:.0} MiB; catalog {:.1} MiB, {:.1} bytes per bar{}",
        bars as f64 / secs,
        requests as f64 / secs,
        f.cpu_s,
        f.peak_rss_mib,
        bytes as f64 / 1_048_576.0,
        bytes as f64 / bars.max(1) as f64,
        if f.ok {
            String::new()
        } else {
            format!(
                " (exit code non-zero: some fetches failed)\n{}",
                f.stderr.lines().take(5).collect::<Vec<_>>().join("\n")
            )
        }
    );
}

fn flag(name: &str, default: u64) -> u64 {
    std::env::args()
        .skip_while(|a| a != name)
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn simulator(symbols: usize, limited: bool) -> SimHandle {
    let mut config = SimConfig {
        symbols,
        ..SimConfig::default()
    };
    config.limits.enabled = limited;
    match exchange_sim::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot start the simulator: {e}");
            std::process::exit(1);
        }
    }
}

#[tokio::main]
async fn main() {
    let symbols = flag("--symbols", 10) as usize;
    let days = flag("--days", 30);
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-bars");
    let _ = std::fs::remove_dir_all(&root);
    // Whole UTC days ending at the last midnight: the same bar count whenever it runs. Bars
    // are stamped at their close and both ends are inclusive: the first bar of the first day
    // closes at 00:01.
    let to = utc_day_start(now_ns());
    let from = to - days * NANOS_PER_DAY + 60_000_000_000;
    let args: Vec<String> = [
        "fetch-bars",
        "--all",
        "-e",
        "binance",
        "-e",
        "bybit",
        "--interval",
        "1m",
        "--from",
        &format_iso(from),
        "--to",
        &format_iso(to),
    ]
    .map(String::from)
    .to_vec();
    // `--all`: the simulator's trading perpetuals, `symbols` base assets plus its fixed extras.
    println!(
        "1-minute trade bars, every trading perpetual of a {symbols}-asset simulator x {days} days x Binance and Bybit ({} bars per symbol)",
        days * 1440
    );
    for (name, limited) in [("limits off", false), ("limits ON", true)] {
        let sim = simulator(symbols, limited).await;
        let catalog = root.join(if limited { "limited" } else { "unlimited" });
        let catalog_text = catalog.to_string_lossy().to_string();
        let sim_ref = &sim;
        let f = tokio::task::block_in_place(|| run_cli(sim_ref, &catalog_text, &args, limited));
        report(
            &format!("fetch-bars --store, {name}"),
            &f,
            added(&f.stdout),
            requests(&sim),
            &catalog,
        );
        if limited {
            let stats = sim.stats();
            for venue in ["binance", "bybit"] {
                let v = stats.venue(venue);
                for (pool, p) in &v.pools {
                    let busiest = p.max_sliding_window.max(p.max_fixed_window);
                    println!(
                        "  {venue} pool {pool}: busiest window {busiest} of {} per {} s = {:.0} % of the venue budget; 429: {}, 418: {}, 403: {}",
                        p.capacity,
                        p.window_ms / 1000,
                        100.0 * busiest as f64 / f64::from(p.capacity.max(1)),
                        v.rate_limited_429,
                        v.banned_418,
                        v.forbidden_403
                    );
                }
            }
        }
        sim.shutdown().await;
    }
}
