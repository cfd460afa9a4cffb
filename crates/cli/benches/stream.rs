//! Streaming benchmark: prints figures, asserts nothing about speed.
//!
//! `cargo bench -p ccxt-cli --bench stream` (`-- --rate 20000 --secs 20 --step-secs 8
//! --ceiling-from 20000 --ceiling-max 640000`; `--no-ceiling` skips part 3, `--parse-only`
//! parts 2 and 3):
//! 1. parse-only, one core: messages/s of each venue's liquidation parser (Binance
//!    `forceOrder`, Bybit `allLiquidation`, OKX `liquidation-orders` with the contract
//!    conversion, Hyperliquid `userFillsByTime` fills) on real payload shapes;
//! 2. end to end: the simulator runs in its own process (the `exchange-sim` binary, built
//!    first if needed) and pushes liquidations at `--rate` per second on Binance, Bybit and
//!    OKX; `ccxt-cli stream-liquidations --all --store --quiet` runs for `--secs`: liquidations
//!    stored vs sent (loss) per venue, sustained liquidations/s, CPU seconds per million (of
//!    ccxt-cli alone, and of the simulator), peak RSS;
//! 3. the no-loss ceiling per venue: one venue at a time, the rate doubles from
//!    `--ceiling-from` (each step a fresh simulator and a `--step-secs` run) until a step
//!    loses a liquidation or reaches `--ceiling-max`; then the rate halfway between the last
//!    clean and the first lossy step is tried once. The highest rate with 0 missing is
//!    printed. (OKX's sizes are contracts: the sent quantities are turned into coins with the
//!    simulator's `ctVal` before they are compared.)
//!
//! `CCXT_CLI_BIN=/path/to/ccxt-cli` runs parts 2 and 3 with another build of the binary (a
//! before and an after under the same load). `--runs N` repeats part 2 N times.
//!
//! Each run writes its own catalog under `target/bench-stream/`, and the catalogs are deleted
//! only when the bench ends (and what a killed bench left, when the next one starts): ext4
//! without a journal does not reuse an inode for up to five minutes after its file was
//! deleted, so deleting one run's thousands of files just before the next run made that run's
//! file creations scan past them (a third of its CPU in the kernel, in `recently_deleted`).
//! A collector deletes next to nothing while it streams.
//!
//! Completeness is judged over the steady part of each run: every liquidation the simulator
//! sent between 1 s after the start and 1 s before the end must be stored.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

mod common;
use common::{arg, measure, proc_sample};

const BINANCE: &[u8] = br#"{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.014","p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014","T":1568014460893}}"#;
const BYBIT: &[u8] = br#"{"topic":"allLiquidation.ROSEUSDT","type":"snapshot","ts":1739502303204,"data":[{"T":1739502302929,"s":"ROSEUSDT","S":"Sell","v":"20000","p":"0.04499"},{"T":1739502302930,"s":"ROSEUSDT","S":"Buy","v":"1000","p":"0.04500"}]}"#;
const OKX: &str = r#"{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0","bkPx":"0.0040","ccy":"","posSide":"short","side":"buy","sz":"2","ts":"1692266434010"}],"instFamily":"IOST-USDT","instId":"IOST-USDT-SWAP","instType":"SWAP","uly":"IOST-USDT"}]}"#;
const OKX_INSTRUMENTS: &str = r#"{"code":"0","msg":"","data":[{"instType":"SWAP","instId":"IOST-USDT-SWAP","ctVal":"1000","ctMult":"1","ctType":"linear","settleCcy":"USDT","tickSz":"0.0001","lotSz":"1","state":"live"}]}"#;
/// One `userFillsByTime` fill of the liquidator vault (a backstop takeover), as Hyperliquid
/// sends it; the page holds 100 of them.
const HL_FILL: &str = r#"{"coin":"ETH","px":"2011.2","sz":"0.0497","side":"B","time":1700000000000,"startPosition":"1.5","dir":"Open Long","closedPnl":"0.0","hash":"0x0000000000000000000000000000000000000000000000000000000000000000","oid":123,"crossed":true,"fee":"0.0","tid":TID,"liquidation":{"liquidatedUser":"0x1234567890abcdef1234567890abcdef12345678","markPx":"2011.0","method":"backstop"},"feeToken":"USDC"}"#;
const HL_USER: &str = "0x2e3d94f0562703b25c83308a05046ddaf9a8dd14";

/// Runs `parse` `n` times, prints messages/s and liquidations read.
fn rate_of(label: &str, n: u64, mut parse: impl FnMut(u64) -> usize) {
    let t = Instant::now();
    let mut rows = 0usize;
    for i in 0..n {
        rows += parse(i);
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "parse-only {label}: {:.0} messages/s = {:.0} liquidations/s ({rows} liquidations)",
        n as f64 / s,
        rows as f64 / s
    );
}

fn parse_only() {
    use ccxt_venue::liquidations::{Inbound, WsProtocol};
    let n = 1_000_000u64;
    let binance = &ccxt_binance::liquidations::connections(None)[0];
    let binance_text = std::str::from_utf8(BINANCE).unwrap_or_default();
    rate_of("binance forceOrder (classify)", n, |i| {
        match binance.classify(binance_text, i) {
            Inbound::Liquidations(l) => l.len(),
            _ => 0,
        }
    });
    rate_of("bybit allLiquidation, 2 per frame", n, |i| {
        match ccxt_bybit::websocket::parse::parse_public_message(BYBIT, i) {
            Ok(ccxt_bybit::websocket::parse::PublicMessage::Liquidations(l)) => l.len(),
            _ => 0,
        }
    });
    let contracts = ccxt_okx::fetcher::ContractTable::default();
    if let Ok((swaps, _)) =
        ccxt_okx::http::parse::parse_instruments(200, OKX_INSTRUMENTS.as_bytes())
    {
        contracts.store(&swaps);
    }
    let okx = ccxt_okx::liquidations::OkxLiquidations::new(None, contracts);
    rate_of(
        "okx liquidation-orders, contracts to coins (classify)",
        n,
        |i| match okx.classify(OKX, i) {
            Inbound::Liquidations(l) => l.len(),
            _ => 0,
        },
    );
    let page = format!(
        "[{}]",
        (0..100)
            .map(|i| HL_FILL.replace("TID", &(1_000_000 + i).to_string()))
            .collect::<Vec<_>>()
            .join(",")
    );
    let pages = n / 100;
    let t = Instant::now();
    let mut rows = 0usize;
    for i in 0..pages {
        use ccxt_hyperliquid::websocket::parse::{fill_page_liquidations, parse_fills};
        if let Ok(fills) = parse_fills(page.as_bytes()) {
            let mut seen = HashSet::new();
            rows += fill_page_liquidations(
                &fills,
                HL_USER,
                ccxt_model::LiquidationSource::Poll,
                i,
                &mut seen,
            )
            .rows
            .len();
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "parse-only hyperliquid userFillsByTime, 100 fills per page: {:.0} fills/s ({rows} liquidations)",
        (pages * 100) as f64 / s
    );
}

/// OKX's contract values by `instId`, as the simulator at `url` lists them.
async fn okx_contract_values(
    url: &str,
) -> std::collections::HashMap<String, rust_decimal::Decimal> {
    let config = ccxt_transport::TransportConfig::new(ccxt_okx::VENUE, url.to_string());
    let Ok(transport) = ccxt_transport::HttpTransport::new(config, ccxt_okx::rate_limits()) else {
        return Default::default();
    };
    ccxt_okx::OkxFetcher::new(std::sync::Arc::new(transport))
        .swaps()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| Some((s.inst_id, s.contract_value?)))
        .collect()
}

/// The `exchange-sim` binary next to the built `ccxt-cli`, built first if needed (same
/// profile: `cargo bench` builds into `target/release`).
fn simulator_binary() -> PathBuf {
    let cli = Path::new(env!("CARGO_BIN_EXE_ccxt-cli"));
    let sim = cli.with_file_name("exchange-sim");
    let release = cli.parent().and_then(Path::file_name) == Some("release".as_ref());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args([
        "build",
        "-p",
        "exchange-sim",
        "--bin",
        "exchange-sim",
        "--manifest-path",
    ]);
    build.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml"));
    if release {
        build.arg("--release");
    }
    match build.status() {
        Ok(s) if s.success() && sim.exists() => sim,
        _ => {
            eprintln!("cannot build the simulator ({})", sim.display());
            std::process::exit(1);
        }
    }
}

/// The simulator in its own process, killed when dropped.
struct Simulator {
    child: Child,
    url: String,
}

impl Simulator {
    /// Starts `exchange-sim` on a free port with `rates` (venue, liquidations/s; every other
    /// venue 0) and a sent log that holds `log` entries per venue.
    fn start(binary: &Path, rates: &[(&str, f64)], log: usize) -> Simulator {
        let mut cmd = Command::new(binary);
        cmd.args(["--listen", "127.0.0.1:0", "--symbols", "50", "--no-limits"])
            .args(["--liquidations-per-sec", "0"])
            .args(["--sent-log-capacity", &log.to_string()]);
        for (venue, rate) in rates {
            cmd.args(["--liquidations-per-sec", &format!("{venue}={rate}")]);
        }
        let mut child = match cmd
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("cannot start {}: {e}", binary.display());
                std::process::exit(1);
            }
        };
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let Some(url) = line
            .trim()
            .strip_prefix("listening on ")
            .map(str::to_string)
        else {
            let _ = child.kill();
            eprintln!("the simulator said {line:?}, not its address");
            std::process::exit(1);
        };
        Simulator { child, url }
    }

    /// CPU seconds the simulator used so far.
    fn cpu_s(&self) -> f64 {
        proc_sample(self.child.id()).map_or(0.0, |(_, cpu)| cpu)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the simulator sent, as the bench compares it.
#[derive(serde::Deserialize)]
struct SentPage {
    kept: usize,
    dropped: usize,
    events: Vec<Sent>,
}

#[derive(serde::Deserialize)]
struct Sent {
    symbol: String,
    time_ms: u64,
    qty: String,
    malformed: bool,
    sent_ms: u64,
}

/// Identity of a liquidation in the comparison: venue, native symbol, venue ms, quantity bits.
type Key = (String, String, u64, u64);

/// The liquidations `venue` sent in `[from_ms, to_ms]` that a run must have stored.
async fn sent_keys(
    http: &reqwest::Client,
    url: &str,
    venue: &str,
    window: (u64, u64),
    ct_vals: &HashMap<String, rust_decimal::Decimal>,
) -> HashSet<Key> {
    let mut keys = HashSet::new();
    let mut skip = 0usize;
    loop {
        let page = format!("{url}/__sim/ws/sent?venue={venue}&skip={skip}&limit=200000");
        let Ok(answer) = http.get(&page).send().await else {
            break;
        };
        let Ok(body) = answer.bytes().await else {
            break;
        };
        let Ok(page) = serde_json::from_slice::<SentPage>(&body) else {
            break;
        };
        if skip == 0 && page.dropped > 0 {
            println!(
                "  (the simulator's sent log of {venue} overflowed: {} of {} entries dropped)",
                page.dropped,
                page.kept + page.dropped
            );
        }
        skip += page.events.len();
        let done = page.events.is_empty() || skip >= page.kept;
        for e in page.events {
            // OKX's channel carries inverse swaps too, which are not collected.
            let collected = venue != "okx" || ccxt_okx::symbol::parse_native(&e.symbol).is_some();
            if !collected || e.malformed || e.sent_ms < window.0 || e.sent_ms > window.1 {
                continue;
            }
            let q: f64 = match (venue, ct_vals.get(&e.symbol)) {
                ("okx", Some(v)) => {
                    use rust_decimal::prelude::ToPrimitive;
                    e.qty
                        .parse::<rust_decimal::Decimal>()
                        .ok()
                        .and_then(|q| (q * v).to_f64())
                        .unwrap_or(f64::NAN)
                }
                _ => e.qty.parse().unwrap_or(f64::NAN),
            };
            keys.insert((venue.to_string(), e.symbol, e.time_ms, q.to_bits()));
        }
        if done {
            break;
        }
    }
    keys
}

/// Stored liquidations of the catalog at `root`, counted by identity.
async fn stored_keys(root: &Path) -> Option<HashMap<Key, usize>> {
    let catalog = ccxt_catalog::Catalog::open(&root.to_string_lossy()).ok()?;
    let ids = catalog
        .instruments(ccxt_model::RecordKind::Liquidation)
        .await
        .unwrap_or_default();
    let query = ccxt_catalog::Query {
        instruments: ids,
        start: 0,
        end: u64::MAX,
        limit: None,
    };
    let rows = catalog
        .query::<ccxt_model::Liquidation>(&query)
        .await
        .map(|r| r.0)
        .unwrap_or_default();
    let mut stored = HashMap::new();
    for r in &rows {
        let Ok(i) = ccxt_model::Instrument::from_id(r.instrument_id.as_str()) else {
            continue;
        };
        *stored
            .entry((
                i.venue.as_str().to_string(),
                i.native,
                r.ts_event / 1_000_000,
                r.quantity.to_bits(),
            ))
            .or_insert(0usize) += 1;
    }
    Some(stored)
}

/// One venue's outcome of a run.
struct VenueOutcome {
    venue: &'static str,
    stored: usize,
    sent: usize,
    missing: usize,
}

/// One run: a fresh simulator pushing `rate`/s on each of `venues`, `ccxt-cli
/// stream-liquidations --all --store --quiet` on them for `secs`.
struct Run {
    venues: Vec<VenueOutcome>,
    stored_total: usize,
    cpu_s: f64,
    sim_cpu_s: f64,
    rss_mib: f64,
    wall_s: f64,
    stderr: String,
}

impl Run {
    fn missing(&self) -> usize {
        self.venues.iter().map(|v| v.missing).sum()
    }
}

/// Where the runs' catalogs go (one directory each, deleted when the bench ends).
fn catalogs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-stream")
}

/// A fresh catalog directory for the next run.
fn next_catalog() -> PathBuf {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    catalogs_dir().join(format!("run-{n}"))
}

async fn run(sim_binary: &Path, venues: &[&'static str], rate: f64, secs: f64) -> Run {
    let log = ((rate * (secs + 5.0)) as usize).max(100_000);
    let rates: Vec<(&str, f64)> = venues.iter().map(|v| (*v, rate)).collect();
    let sim = Simulator::start(sim_binary, &rates, log);
    let root = next_catalog();
    let ws = sim.url.replacen("http://", "ws://", 1);
    let bin =
        std::env::var_os("CCXT_CLI_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_ccxt-cli").into());
    let mut cmd = Command::new(bin);
    for (key, _) in std::env::vars() {
        if key.starts_with("CCXT_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.env("CCXT_VENUES__BINANCE__REST_URL", &sim.url)
        .env("CCXT_VENUES__BYBIT__REST_URL", &sim.url)
        .env("CCXT_VENUES__OKX__REST_URL", &sim.url)
        .env("CCXT_VENUES__OKX__WS_URL", format!("{ws}/ws/v5/public"))
        .env("CCXT_VENUES__BINANCE__WS_URL", format!("{ws}/market"))
        .env(
            "CCXT_VENUES__BYBIT__WS_URL",
            format!("{ws}/v5/public/linear"),
        )
        .args(["stream-liquidations", "--all"]);
    for v in venues {
        cmd.args(["-e", v]);
    }
    cmd.args(["--store", "--quiet", "--duration"])
        .arg(format!("{secs}s"))
        .arg("--catalog")
        .arg(&root);
    let sim_cpu_before = sim.cpu_s();
    let started_ms = ccxt_model::time::now_ns() / 1_000_000;
    let figures = tokio::task::spawn_blocking(move || measure(cmd))
        .await
        .unwrap_or_else(|_| std::process::exit(1));
    let sim_cpu_s = sim.cpu_s() - sim_cpu_before;
    let window = (
        started_ms + 1_000,
        started_ms + (secs * 1000.0) as u64 - 1_000,
    );
    let http = reqwest::Client::new();
    let ct_vals = okx_contract_values(&sim.url).await;
    let stored = stored_keys(&root).await.unwrap_or_else(|| {
        eprintln!("cannot open the catalog; ccxt-cli said: {}", figures.stderr);
        std::process::exit(1);
    });
    let mut outcomes = Vec::new();
    for venue in venues {
        let sent = sent_keys(&http, &sim.url, venue, window, &ct_vals).await;
        let missing = sent.iter().filter(|k| !stored.contains_key(*k)).count();
        let stored_n = stored
            .iter()
            .filter(|(k, _)| k.0 == *venue)
            .map(|(_, n)| n)
            .sum();
        outcomes.push(VenueOutcome {
            venue,
            stored: stored_n,
            sent: sent.len(),
            missing,
        });
    }
    Run {
        stored_total: stored.values().sum(),
        venues: outcomes,
        cpu_s: figures.cpu_s,
        sim_cpu_s,
        rss_mib: figures.peak_rss_mib,
        wall_s: figures.wall.as_secs_f64(),
        stderr: figures.stderr,
    }
}

/// The highest rate of `venue` alone with nothing missing: doubling from `from` until a loss
/// or `max`, then once halfway between the last clean and the first lossy rate.
async fn ceiling(sim_binary: &Path, venue: &'static str, from: f64, max: f64, secs: f64) {
    let mut clean: Option<(f64, Run)> = None;
    let mut lossy: Option<(f64, usize)> = None;
    let mut rate = from;
    let step = |rate: f64, r: &Run| {
        let v = &r.venues[0];
        println!(
            "  {venue} at {rate:.0}/s: {} stored, of {} sent in the steady window {} missing; ccxt-cli {:.2} CPU s per million, simulator {:.1} CPU s",
            v.stored,
            v.sent,
            v.missing,
            r.cpu_s * 1e6 / r.stored_total.max(1) as f64,
            r.sim_cpu_s
        );
    };
    while rate <= max {
        let r = run(sim_binary, &[venue], rate, secs).await;
        step(rate, &r);
        if r.missing() > 0 || r.venues[0].sent == 0 {
            lossy = Some((rate, r.missing()));
            break;
        }
        clean = Some((rate, r));
        rate *= 2.0;
    }
    if let (Some((low, _)), Some((high, _))) = (&clean, &lossy) {
        let mid = (low + high) / 2.0;
        let r = run(sim_binary, &[venue], mid, secs).await;
        step(mid, &r);
        if r.missing() == 0 && r.venues[0].sent > 0 {
            clean = Some((mid, r));
        }
    }
    match (clean, lossy) {
        (Some((rate, _)), Some(_)) => {
            println!("ceiling {venue}: {rate:.0} liquidations/s with 0 missing")
        }
        (Some((rate, _)), None) => println!(
            "ceiling {venue}: at least {rate:.0} liquidations/s with 0 missing (--ceiling-max reached)"
        ),
        (None, _) => {
            println!("ceiling {venue}: below {from:.0} liquidations/s (loss at the first step)")
        }
    }
}

#[tokio::main]
async fn main() {
    // Instrument ids are read against the registry's venues.
    ccxt_registry::install().expect("the registry's venues install");
    // The bench's own HTTP client (the simulator's sent log) needs rustls's provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    parse_only();
    if std::env::args().any(|a| a == "--parse-only") {
        return;
    }
    // What an interrupted bench left (deleted now, before the first run, not between runs).
    let _ = std::fs::remove_dir_all(catalogs_dir());
    end_to_end().await;
    let _ = std::fs::remove_dir_all(catalogs_dir());
}

/// Parts 2 and 3.
async fn end_to_end() {
    let rate = arg("--rate", 20_000.0);
    let secs = arg("--secs", 20.0);
    let runs = arg("--runs", 1.0).max(1.0) as usize;
    let sim_binary = simulator_binary();
    let venues = ["binance", "bybit", "okx"];
    for _ in 0..runs {
        end_to_end_run(&sim_binary, &venues, rate, secs).await;
    }
    if std::env::args().any(|a| a == "--no-ceiling") {
        return;
    }
    let from = arg("--ceiling-from", 20_000.0);
    let max = arg("--ceiling-max", 640_000.0);
    let step_secs = arg("--step-secs", 8.0);
    println!("no-loss ceiling per venue ({step_secs:.0} s per step, one venue at a time):");
    for venue in venues {
        ceiling(&sim_binary, venue, from, max, step_secs).await;
    }
}

/// One run of part 2, printed.
async fn end_to_end_run(sim_binary: &Path, venues: &[&'static str], rate: f64, secs: f64) {
    let r = run(sim_binary, venues, rate, secs).await;
    for v in &r.venues {
        println!(
            "  {}: {} stored ({:.0}/s), of {} sent in the steady window {} missing",
            v.venue,
            v.stored,
            v.stored as f64 / secs,
            v.sent,
            v.missing
        );
    }
    println!(
        "stream --store, Binance+Bybit+OKX at {rate:.0}/s each for {secs:.0} s, simulator in its own process: {} stored ({:.0} liquidations/s sustained); {} missing; ccxt-cli CPU {:.1} s = {:.2} CPU s per million, peak RSS {:.0} MiB (wall {:.1} s); simulator CPU {:.1} s",
        r.stored_total,
        r.stored_total as f64 / secs,
        r.missing(),
        r.cpu_s,
        r.cpu_s * 1e6 / r.stored_total.max(1) as f64,
        r.rss_mib,
        r.wall_s,
        r.sim_cpu_s,
    );
    if !r.stderr.contains("stored") {
        println!("ccxt-cli said: {}", r.stderr);
    }
}
