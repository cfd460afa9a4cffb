//! Streaming benchmark: prints figures, asserts nothing about speed.
//!
//! `cargo bench -p ccxt-cli --bench stream` (`-- --rate 20000 --secs 20`):
//! 1. parse-only: messages/s of each venue's liquidation parser on real payload shapes;
//! 2. the simulator (in-process) pushes liquidations at `--rate` per second on Binance, on
//!    Bybit and on OKX; `ccxt-cli stream-liquidations --all --store --quiet` runs for `--secs`:
//!    liquidations stored vs sent (loss) per venue, sustained liquidations/s, CPU seconds per
//!    million, peak RSS. (OKX's sizes are contracts: the sent quantities are turned into coins
//!    with the simulator's `ctVal` before they are compared.)

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use exchange_sim::{SimConfig, Venue as SimVenue, VenueRates};

mod common;
use common::{arg, proc_sample};

fn parse_only() {
    let binance = br#"{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.014","p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014","T":1568014460893}}"#;
    let bybit = br#"{"topic":"allLiquidation.ROSEUSDT","type":"snapshot","ts":1739502303204,"data":[{"T":1739502302929,"s":"ROSEUSDT","S":"Sell","v":"20000","p":"0.04499"},{"T":1739502302930,"s":"ROSEUSDT","S":"Buy","v":"1000","p":"0.04500"}]}"#;
    let n = 300_000u64;
    let t = Instant::now();
    let mut rows = 0usize;
    for i in 0..n {
        if let Ok(ccxt_binance::websocket::parse::MarketMessage::Liquidation(l)) =
            ccxt_binance::websocket::parse::parse_market_message(binance, i)
        {
            rows += usize::from(l.quantity > 0.0);
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "parse-only binance forceOrder: {:.0} messages/s ({rows} liquidations)",
        n as f64 / s
    );
    let t = Instant::now();
    let mut rows = 0usize;
    for i in 0..n {
        if let Ok(ccxt_bybit::websocket::parse::PublicMessage::Liquidations(l)) =
            ccxt_bybit::websocket::parse::parse_public_message(bybit, i)
        {
            rows += l.len();
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "parse-only bybit allLiquidation (2 per frame): {:.0} messages/s ({rows} liquidations)",
        n as f64 / s
    );
    let okx = r#"{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0","bkPx":"0.0040","ccy":"","posSide":"short","side":"buy","sz":"2","ts":"1692266434010"}],"instFamily":"IOST-USDT","instId":"IOST-USDT-SWAP","instType":"SWAP","uly":"IOST-USDT"}]}"#;
    let instruments = r#"{"code":"0","msg":"","data":[{"instType":"SWAP","instId":"IOST-USDT-SWAP","ctVal":"1000","ctMult":"1","ctType":"linear","settleCcy":"USDT","tickSz":"0.0001","lotSz":"1","state":"live"}]}"#;
    let contracts = ccxt_okx::fetcher::ContractTable::default();
    if let Ok((swaps, _)) = ccxt_okx::http::parse::parse_instruments(200, instruments.as_bytes()) {
        contracts.store(&swaps);
    }
    let protocol = ccxt_okx::liquidations::OkxLiquidations::new(None, contracts);
    let t = Instant::now();
    let mut rows = 0usize;
    for i in 0..n {
        use ccxt_venue::liquidations::{Inbound, WsProtocol};
        if let Inbound::Liquidations(l) = protocol.classify(okx, i) {
            rows += l.len();
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "parse-only okx liquidation-orders (contracts to coins): {:.0} messages/s ({rows} liquidations)",
        n as f64 / s
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

#[tokio::main]
async fn main() {
    // Instrument ids are read against the registry's venues.
    ccxt_registry::install().expect("the registry's venues install");
    parse_only();
    let rate = arg("--rate", 20_000.0);
    let secs = arg("--secs", 20.0);
    let mut config = SimConfig {
        symbols: 50,
        ..SimConfig::default()
    };
    config.limits.enabled = false;
    config.ws.liquidations_per_sec = VenueRates {
        binance: rate,
        bybit: rate,
        hyperliquid: 0.0,
        okx: rate,
    };
    config.ws.sent_log_capacity = 5_000_000;
    let sim = match exchange_sim::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot start the simulator: {e}");
            std::process::exit(1);
        }
    };
    let root =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-stream");
    let _ = std::fs::remove_dir_all(&root);
    let http = sim.url();
    let ws = http.replacen("http://", "ws://", 1);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ccxt-cli"));
    cmd.env_remove("RUST_LOG")
        .env("CCXT_VENUES__BINANCE__REST_URL", &http)
        .env("CCXT_VENUES__BYBIT__REST_URL", &http)
        .env("CCXT_VENUES__OKX__REST_URL", &http)
        .env("CCXT_VENUES__OKX__WS_URL", format!("{ws}/ws/v5/public"))
        .env("CCXT_VENUES__BINANCE__WS_URL", format!("{ws}/market"))
        .env(
            "CCXT_VENUES__BYBIT__WS_URL",
            format!("{ws}/v5/public/linear"),
        )
        .args([
            "stream-liquidations",
            "--all",
            "-e",
            "binance",
            "-e",
            "bybit",
            "-e",
            "okx",
            "--store",
            "--quiet",
            "--duration",
        ])
        .arg(format!("{secs}s"))
        .arg("--catalog")
        .arg(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let started_ms = ccxt_model::time::now_ns() / 1_000_000;
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot start ccxt-cli: {e}");
            std::process::exit(1);
        }
    };
    let pid = child.id();
    let (mut rss, mut cpu) = (0.0f64, 0.0f64);
    loop {
        if let Some((r, c)) = proc_sample(pid) {
            rss = rss.max(r);
            cpu = c;
        }
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(_) => break,
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    // Completeness over the steady part of the run: every liquidation the simulator sent between
    // 1 s after start and 1 s before the end must be stored (exactly once).
    let from_ms = started_ms + 1_000;
    let to_ms = started_ms + (secs * 1000.0) as u64 - 1_000;
    let ct_vals = okx_contract_values(&sim.url()).await;
    let mut sent = std::collections::HashSet::new();
    for venue in [SimVenue::Binance, SimVenue::Bybit, SimVenue::Okx] {
        for e in sim.sent_liquidations(venue) {
            // OKX's channel carries inverse swaps too, which are not collected.
            let collected =
                venue != SimVenue::Okx || ccxt_okx::symbol::parse_native(&e.symbol).is_some();
            if collected && !e.malformed && e.sent_ms >= from_ms && e.sent_ms <= to_ms {
                let q: f64 = match (venue, ct_vals.get(&e.symbol)) {
                    (SimVenue::Okx, Some(v)) => {
                        use rust_decimal::prelude::ToPrimitive;
                        e.qty
                            .parse::<rust_decimal::Decimal>()
                            .ok()
                            .and_then(|q| (q * v).to_f64())
                            .unwrap_or(f64::NAN)
                    }
                    _ => e.qty.parse().unwrap_or(f64::NAN),
                };
                sent.insert((
                    format!("{venue:?}").to_lowercase(),
                    e.symbol.clone(),
                    e.time_ms,
                    q.to_bits(),
                ));
            }
        }
    }
    let catalog = match ccxt_catalog::Catalog::open(&root.to_string_lossy()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot open the catalog: {e}; ccxt-cli said: {stderr}");
            std::process::exit(1);
        }
    };
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
    let stored_total = rows.len();
    let mut stored = std::collections::HashMap::new();
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
    let missing = sent.iter().filter(|k| !stored.contains_key(*k)).count();
    for venue in ["binance", "bybit", "okx"] {
        let of_venue = |k: &&(String, String, u64, u64)| k.0 == venue;
        let sent_n = sent.iter().filter(of_venue).count();
        let missing_n = sent
            .iter()
            .filter(of_venue)
            .filter(|k| !stored.contains_key(*k))
            .count();
        let stored_n: usize = stored
            .iter()
            .filter(|(k, _)| k.0 == venue)
            .map(|(_, n)| n)
            .sum();
        println!(
            "  {venue}: {stored_n} stored ({:.0}/s), of {sent_n} sent in the steady window {missing_n} missing",
            stored_n as f64 / secs
        );
    }
    println!(
        "stream --store, Binance+Bybit+OKX at {rate:.0}/s each for {secs:.0} s: {stored_total} stored ({:.0} liquidations/s sustained); of {} sent in the steady window {missing} missing; ccxt-cli CPU {cpu:.1} s = {:.2} CPU s per million, peak RSS {rss:.0} MiB (wall {wall:.1} s)",
        stored_total as f64 / secs,
        sent.len(),
        cpu * 1e6 / (stored_total.max(1)) as f64,
    );
    if !stderr.contains("stored") {
        println!("ccxt-cli said: {stderr}");
    }
    sim.shutdown().await;
}
