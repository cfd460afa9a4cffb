//! Fetch benchmark: the real `ccxt-cli` binary against the in-process exchange simulator.
//! Prints figures; asserts nothing about speed.
//!
//! `cargo bench -p ccxt-cli --bench fetch` (`-- --symbols 20` for a quick run):
//! 1. limits off (simulator `--no-limits`, ours `rate_limits = false`): settled funding, 1 year, every symbol on Binance and Bybit, `--store`;
//! 2. limits off: 30 days of 5-minute open interest, every symbol on Binance and Bybit, `--store`;
//! 3. limits on (the venues' real budgets): 2 days of 5-minute OI for every symbol on Binance and
//!    Bybit: the share of each venue budget used in its busiest window, and 429/418/403 counts.
//!
//! Each run is repeated for OKX alone (`-e okx --all`): it keeps about 3 months of funding and
//! the latest 1,440 rows of 5-minute open interest (5 days), so its ranges are cut there.
//!
//! For each run: rows stored, wall time, records/s, requests/s, the CLI's CPU seconds and peak RSS
//! (read from /proc while it runs).

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
    ok: bool,
}

fn run_cli(sim: &SimHandle, catalog: &str, args: &[String], limited: bool) -> Figures {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ccxt-cli"));
    for venue in ["BINANCE", "BYBIT", "HYPERLIQUID", "OKX"] {
        cmd.env(format!("CCXT_VENUES__{venue}__REST_URL"), sim.url());
        cmd.env(
            format!("CCXT_VENUES__{venue}__RATE_LIMITS"),
            limited.to_string(),
        );
    }
    cmd.env_remove("RUST_LOG").env_remove("CCXT_LOG_LEVEL");
    cmd.args(args)
        .arg("--store")
        .arg("--format")
        .arg("csv")
        .arg("--catalog")
        .arg(catalog);
    let started = Instant::now();
    let mut child = match cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot start ccxt-cli: {e}");
            std::process::exit(1);
        }
    };
    let pid = child.id();
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
        ok: status.success(),
    }
}

/// Rows added, from the `--store` summary (CSV column `added`).
fn added(stdout: &str) -> u64 {
    let mut lines = stdout.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let Some(col) = header.iter().position(|h| *h == "added") else {
        return 0;
    };
    lines
        .filter_map(|l| l.split(',').nth(col)?.parse::<u64>().ok())
        .sum()
}

fn report(name: &str, f: &Figures, rows: u64, requests: u64) {
    let secs = f.wall.as_secs_f64();
    println!(
        "{name}: {rows} rows stored, {requests} requests in {secs:.1} s: {:.0} records/s, {:.0} requests/s; ccxt-cli CPU {:.1} s, peak RSS {:.0} MiB{}",
        rows as f64 / secs,
        requests as f64 / secs,
        f.cpu_s,
        f.peak_rss_mib,
        if f.ok {
            ""
        } else {
            " (exit code non-zero: some fetches failed)"
        }
    );
}

fn requests(sim: &SimHandle) -> u64 {
    let stats = sim.stats();
    ["binance", "bybit", "hyperliquid", "okx"]
        .iter()
        .map(|v| stats.venue(v).requests)
        .sum()
}

#[tokio::main]
async fn main() {
    let symbols = std::env::args()
        .skip_while(|a| a != "--symbols")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(200usize);
    let root =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-fetch");
    let _ = std::fs::remove_dir_all(&root);
    let day = |d: u64| format_iso(utc_day_start(now_ns() - d * NANOS_PER_DAY))[..10].to_string();

    let mut config = SimConfig {
        symbols,
        ..SimConfig::default()
    };
    config.limits.enabled = false;
    let sim = match exchange_sim::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot start the simulator: {e}");
            std::process::exit(1);
        }
    };
    println!("simulator: {symbols} symbols per venue at {}", sim.url());
    let sets: [(&str, Vec<String>); 2] = [
        (
            "Binance+Bybit",
            ["-e", "binance", "-e", "bybit", "--all"]
                .map(String::from)
                .to_vec(),
        ),
        ("OKX", ["-e", "okx", "--all"].map(String::from).to_vec()),
    ];
    for (name, venues) in &sets {
        let catalog = root
            .join(format!("funding-{name}"))
            .to_string_lossy()
            .to_string();
        let args: Vec<String> = ["fetch-funding".to_string()]
            .into_iter()
            .chain(venues.clone())
            .chain(["--from".into(), day(365)])
            .collect();
        let sim_ref = &sim;
        let f = tokio::task::block_in_place(|| run_cli(sim_ref, &catalog, &args, false));
        report(
            &format!("funding history, 1 year, {name}, limits off"),
            &f,
            added(&f.stdout),
            requests(&sim),
        );
        sim.reset();

        let catalog = root
            .join(format!("oi-{name}"))
            .to_string_lossy()
            .to_string();
        let args: Vec<String> = ["fetch-oi".to_string()]
            .into_iter()
            .chain(venues.clone())
            .chain(["--from".into(), day(30), "--period".into(), "5m".into()])
            .collect();
        let f = tokio::task::block_in_place(|| run_cli(sim_ref, &catalog, &args, false));
        report(
            &format!("OI history, 30 days of 5m, {name}, limits off"),
            &f,
            added(&f.stdout),
            requests(&sim),
        );
        sim.reset();
    }
    sim.shutdown().await;

    // Limits on: the venues' real budgets; we use 80 % of each.
    for (name, venues) in sets {
        let config = SimConfig {
            symbols,
            ..SimConfig::default()
        };
        let sim = match exchange_sim::start(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("cannot start the simulator: {e}");
                std::process::exit(1);
            }
        };
        let catalog = root
            .join(format!("limited-{name}"))
            .to_string_lossy()
            .to_string();
        let args: Vec<String> = ["fetch-oi".to_string()]
            .into_iter()
            .chain(venues)
            .chain(["--from".into(), day(2), "--period".into(), "5m".into()])
            .collect();
        let sim_ref = &sim;
        let f = tokio::task::block_in_place(|| run_cli(sim_ref, &catalog, &args, true));
        report(
            &format!("OI history, 2 days of 5m, {name}, limits ON"),
            &f,
            added(&f.stdout),
            requests(&sim),
        );
        let stats = sim.stats();
        for venue in ["binance", "bybit", "okx"] {
            let v = stats.venue(venue);
            if v.requests == 0 {
                continue;
            }
            for (pool, p) in &v.pools {
                println!(
                    "  {venue} pool {pool}: busiest window {} of {} per {} s = {:.0} % of the venue budget; 429: {}, 418: {}, 403: {}",
                    p.max_sliding_window.max(p.max_fixed_window),
                    p.capacity,
                    p.window_ms / 1000,
                    100.0 * p.max_sliding_window.max(p.max_fixed_window) as f64
                        / f64::from(p.capacity.max(1)),
                    v.rate_limited_429,
                    v.banned_418,
                    v.forbidden_403
                );
            }
        }
        sim.shutdown().await;
    }
}
