//! Backfills side by side: `ccxt-cli` and ccxt 4.5.90 (Python, async; `ccxt_peer.py`) on the same
//! workload and the same in-process simulator. Prints figures; asserts nothing about speed.
//!
//! `cargo bench -p ccxt-cli --bench compare` (`-- --symbols 10 --days 29`, `-- --no-limited` to
//! skip the limits-on run):
//! 1. limits off (simulator without limits, ours `rate_limits = false`, ccxt's limiter off):
//!    5-minute open-interest history, then settled funding history, `--symbols` symbols ×
//!    `--days` whole days (ending at today's 00:00 UTC, both ends included) × Binance and Bybit;
//!    ccxt-cli stores into a fresh catalog (`--store`), ccxt counts the rows;
//! 2. limits on (the venues' budgets in the simulator, ours at 80 %, ccxt with its own limiter):
//!    the same open-interest history; wall time and the 429/418/403 each side received.
//!
//! For each side: rows, requests, CPU seconds (user + system), wall time and peak RSS (from
//! /proc while it runs), then the ratios ccxt-cli / ccxt.
//!
//! `CCXT_CLI_BIN=path` measures another build of ccxt-cli (e.g. a copy of the previous one)
//! instead of the one cargo built.
//!
//! The Python with ccxt: `$CCXT_PEER_PYTHON`, else the venv `target/ccxt-venv` (created with
//! `python3 -m venv` and `pip install ccxt==4.5.90` when missing). Where that cannot be had (no
//! python3, pip cannot reach its index), the ccxt side is skipped with a message saying why.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ccxt_model::time::{NANOS_PER_DAY, format_iso, now_ns, utc_day_start};
use exchange_sim::{SimConfig, SimHandle};

mod common;
use common::{arg, proc_sample};

/// The ccxt version the comparison is made with.
const CCXT_VERSION: &str = "4.5.90";

/// What one measured run did.
struct Side {
    wall: Duration,
    cpu_s: f64,
    rss_mib: f64,
    rows: u64,
    requests: u64,
    throttled: u64,
    ok: bool,
    note: String,
}

/// Runs `cmd`, sampling its CPU and peak RSS until it exits; stdout and stderr are returned.
fn measure(mut cmd: Command) -> (Duration, f64, f64, bool, String, String) {
    let started = Instant::now();
    let mut child = match cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot start {:?}: {e}", cmd.get_program());
            std::process::exit(1);
        }
    };
    let pid = child.id();
    let pipe = |p: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = p {
                let _ = p.read_to_string(&mut text);
            }
            text
        })
    };
    let out = pipe(child.stdout.take().map(|p| Box::new(p) as _));
    let err = pipe(child.stderr.take().map(|p| Box::new(p) as _));
    let (mut rss, mut cpu) = (0.0, 0.0);
    let status = loop {
        if let Some((r, c)) = proc_sample(pid) {
            rss = f64::max(rss, r);
            cpu = c;
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                eprintln!("wait failed: {e}");
                std::process::exit(1);
            }
        }
    };
    (
        started.elapsed(),
        cpu,
        rss,
        status.success(),
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    )
}

/// Requests the simulator received and the 429/418/403 it sent, Binance and Bybit together.
fn sim_counts(sim: &SimHandle) -> (u64, u64) {
    let stats = sim.stats();
    ["binance", "bybit"].iter().fold((0, 0), |(r, t), v| {
        let v = stats.venue(v);
        (
            r + v.requests,
            t + v.rate_limited_429 + v.banned_418 + v.forbidden_403,
        )
    })
}

/// Sum of the `rows` column of ccxt-cli's CSV `--store` summary.
fn summary_rows(stdout: &str) -> u64 {
    let mut lines = stdout.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let Some(col) = header.iter().position(|h| *h == "rows") else {
        return 0;
    };
    lines
        .filter_map(|l| l.split(',').nth(col)?.parse::<u64>().ok())
        .sum()
}

struct Workload<'a> {
    kind: &'a str,
    symbols: &'a [String],
    from_ns: u64,
    to_ns: u64,
    limited: bool,
}

fn run_ccxt_cli(sim: &SimHandle, catalog: &Path, w: &Workload) -> Side {
    let bin =
        std::env::var_os("CCXT_CLI_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_ccxt-cli").into());
    let mut cmd = Command::new(bin);
    for (key, _) in std::env::vars() {
        if key.starts_with("CCXT_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    for venue in ["BINANCE", "BYBIT"] {
        cmd.env(format!("CCXT_VENUES__{venue}__REST_URL"), sim.url());
        cmd.env(
            format!("CCXT_VENUES__{venue}__RATE_LIMITS"),
            w.limited.to_string(),
        );
    }
    let command = if w.kind == "oi" {
        "fetch-oi"
    } else {
        "fetch-funding"
    };
    cmd.arg(command)
        .args(w.symbols)
        .args(["-e", "binance", "-e", "bybit", "--from"])
        .arg(format_iso(w.from_ns))
        .arg("--to")
        .arg(format_iso(w.to_ns));
    if w.kind == "oi" {
        cmd.args(["--period", "5m"]);
    }
    cmd.args(["--store", "--format", "csv", "--catalog"])
        .arg(catalog);
    sim.reset();
    let (wall, cpu_s, rss_mib, ok, stdout, stderr) = measure(cmd);
    let (requests, throttled) = sim_counts(sim);
    Side {
        wall,
        cpu_s,
        rss_mib,
        rows: summary_rows(&stdout),
        requests,
        throttled,
        ok,
        note: if ok {
            String::new()
        } else {
            stderr.lines().last().unwrap_or_default().to_string()
        },
    }
}

fn run_ccxt(python: &Path, sim: &SimHandle, w: &Workload) -> Side {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/ccxt_peer.py");
    let mut cmd = Command::new(python);
    cmd.arg(script)
        .args(["--url", sim.url().as_str(), "--kind", w.kind, "--symbols"])
        .arg(w.symbols.join(","))
        .arg("--from-ms")
        .arg((w.from_ns / 1_000_000).to_string())
        .arg("--to-ms")
        .arg((w.to_ns / 1_000_000).to_string());
    if w.limited {
        cmd.arg("--limits");
    }
    sim.reset();
    let (wall, cpu_s, rss_mib, ok, stdout, stderr) = measure(cmd);
    let (requests, throttled) = sim_counts(sim);
    let report: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_default();
    let errors = report["errors"].as_array().map_or(0, Vec::len);
    Side {
        wall,
        cpu_s,
        rss_mib,
        rows: report["rows"].as_u64().unwrap_or(0),
        requests,
        throttled,
        ok,
        note: match (errors, ok) {
            (0, true) => String::new(),
            (0, false) => stderr.lines().last().unwrap_or_default().to_string(),
            (n, _) => format!(
                "{n} error(s), first: {}",
                report["errors"][0].as_str().unwrap_or_default()
            ),
        },
    }
}

fn print_side(name: &str, s: &Side) {
    println!(
        "  {name:<9} {:>8} rows {:>6} requests  CPU {:>6.2} s  wall {:>6.1} s  peak RSS {:>5.0} MiB  429/418/403: {}{}",
        s.rows,
        s.requests,
        s.cpu_s,
        s.wall.as_secs_f64(),
        s.rss_mib,
        s.throttled,
        match (s.ok, s.note.is_empty()) {
            (true, true) => String::new(),
            (false, true) => "  (exit code non-zero)".to_string(),
            (_, false) => format!("  ({})", s.note),
        }
    );
}

fn print_ratios(ours: &Side, peer: &Side) {
    let r = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    println!(
        "  ccxt-cli / ccxt: CPU {:.3} (1/{:.1}), wall {:.3} (1/{:.1}), peak RSS {:.3} (1/{:.1}); rows {}",
        r(ours.cpu_s, peer.cpu_s),
        r(peer.cpu_s, ours.cpu_s),
        r(ours.wall.as_secs_f64(), peer.wall.as_secs_f64()),
        r(peer.wall.as_secs_f64(), ours.wall.as_secs_f64()),
        r(ours.rss_mib, peer.rss_mib),
        r(peer.rss_mib, ours.rss_mib),
        if ours.rows == peer.rows {
            "equal".to_string()
        } else {
            format!("DIFFER ({} vs {})", ours.rows, peer.rows)
        }
    );
}

/// Whether `python` imports ccxt at [`CCXT_VERSION`].
fn has_ccxt(python: &Path) -> bool {
    Command::new(python)
        .args([
            "-c",
            "import ccxt, sys; sys.exit(ccxt.__version__ != sys.argv[1])",
        ])
        .arg(CCXT_VERSION)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The Python to run the peer with, or why there is none.
fn ccxt_python() -> Result<PathBuf, String> {
    if let Some(python) = std::env::var_os("CCXT_PEER_PYTHON") {
        let python = PathBuf::from(python);
        return if has_ccxt(&python) {
            Ok(python)
        } else {
            Err(format!(
                "CCXT_PEER_PYTHON={} has no ccxt {CCXT_VERSION}",
                python.display()
            ))
        };
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ccxt-venv");
    let python = venv.join("bin/python");
    if has_ccxt(&python) {
        return Ok(python);
    }
    println!(
        "creating {} with ccxt=={CCXT_VERSION} (once)…",
        venv.display()
    );
    let created = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if !created.success() {
        return Err(format!("python3 -m venv {} failed", venv.display()));
    }
    let pip = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", &format!("ccxt=={CCXT_VERSION}")])
        .status()
        .map_err(|e| format!("cannot run pip: {e}"))?;
    if !pip.success() || !has_ccxt(&python) {
        return Err(format!(
            "pip could not install ccxt=={CCXT_VERSION} (is its package index reachable?)"
        ));
    }
    Ok(python)
}

/// The first `n` USDT perpetuals trading on both Binance and Bybit in the simulator, in ccxt's
/// unified form (`BTC/USDT:USDT`), which ccxt-cli reads too.
async fn common_symbols(sim: &SimHandle, n: usize) -> Vec<String> {
    let listing: serde_json::Value = match reqwest::get(format!("{}/__sim/symbols", sim.url()))
        .await
        .and_then(|r| r.error_for_status())
    {
        Ok(r) => serde_json::from_str(&r.text().await.unwrap_or_default()).unwrap_or_default(),
        Err(e) => {
            eprintln!("cannot read the simulator's listing: {e}");
            std::process::exit(1);
        }
    };
    let trading = |venue: &str| -> Vec<String> {
        listing[venue]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| i["status"] == "trading" && i["perpetual"] == true)
            .filter_map(|i| i["symbol"].as_str().map(str::to_string))
            .collect()
    };
    let bybit = trading("bybit");
    trading("binance")
        .into_iter()
        .filter(|s| bybit.contains(s))
        .filter_map(|s| Some(format!("{}/USDT:USDT", s.strip_suffix("USDT")?)))
        .take(n)
        .collect()
}

async fn start_sim(symbols: usize, limits: bool) -> SimHandle {
    let mut config = SimConfig {
        symbols,
        ..SimConfig::default()
    };
    config.limits.enabled = limits;
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
    ccxt_transport::install_crypto_provider();
    let n = arg("--symbols", 10.0) as usize;
    let days = arg("--days", 29.0) as u64;
    let limited_run = !std::env::args().any(|a| a == "--no-limited");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-compare");
    // The previous run's catalogs are moved aside now and deleted after this run's
    // measurements: deleting hundreds of files just before a measured run made ext4 pass over
    // their freshly freed inodes on every file the run created (`recently_deleted`, for about
    // 30 s), which cost ccxt-cli up to half again its CPU.
    let previous = root.with_extension("previous");
    if root.exists() && !previous.exists() {
        let _ = std::fs::rename(&root, &previous);
    }
    let _ = std::fs::remove_dir_all(&root);
    let python = match tokio::task::block_in_place(ccxt_python) {
        Ok(p) => Some(p),
        Err(why) => {
            println!("ccxt side skipped: {why}; only ccxt-cli is measured");
            None
        }
    };
    let to_ns = utc_day_start(now_ns());
    let from_ns = to_ns - days * NANOS_PER_DAY;

    let sim = start_sim(n, false).await;
    let symbols = common_symbols(&sim, n).await;
    println!(
        "{} symbols × {days} days ({} to {}, both included) × Binance and Bybit; simulator at {}",
        symbols.len(),
        format_iso(from_ns),
        format_iso(to_ns),
        sim.url()
    );
    let mut runs = vec![("oi", false), ("funding", false)];
    if limited_run {
        runs.push(("oi", true));
    }
    let mut sim = Some(sim);
    for (kind, limited) in runs {
        if limited && sim.is_some() {
            if let Some(s) = sim.take() {
                s.shutdown().await;
            }
            sim = Some(start_sim(n, true).await);
        }
        let Some(sim_ref) = sim.as_ref() else {
            break;
        };
        let w = Workload {
            kind,
            symbols: &symbols,
            from_ns,
            to_ns,
            limited,
        };
        println!(
            "{} history{}:",
            if kind == "oi" {
                "5-minute open-interest"
            } else {
                "settled funding"
            },
            if limited {
                ", limits ON (venue budgets; ccxt-cli at 80 %, ccxt with its own limiter)"
            } else {
                ", limits off"
            }
        );
        let catalog = root.join(format!("{kind}-{}", if limited { "on" } else { "off" }));
        let ours = tokio::task::block_in_place(|| run_ccxt_cli(sim_ref, &catalog, &w));
        print_side("ccxt-cli", &ours);
        if let Some(python) = &python {
            let peer = tokio::task::block_in_place(|| run_ccxt(python, sim_ref, &w));
            print_side(&format!("ccxt {CCXT_VERSION}"), &peer);
            print_ratios(&ours, &peer);
        }
    }
    if let Some(s) = sim {
        s.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&previous);
}
