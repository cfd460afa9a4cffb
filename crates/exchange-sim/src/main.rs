//! `exchange-sim`: runs the exchange simulator until Ctrl+C / SIGTERM. The first line on
//! stdout is `listening on http://ADDR`, so scripts can read the port; logs go to stderr.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use exchange_sim::{DownMode, Faults, LimitsConfig, NumberFormat, SimConfig, Venue, WindowMode};

const EXAMPLES: &str = "\
Examples:
  exchange-sim                                     # 127.0.0.1:9100, 20 symbols
  exchange-sim --listen 127.0.0.1:0 --symbols 600  # free port, 600 symbols
  exchange-sim --now-ms 1767225600000 --seed 7     # fixed clock: same answers
  exchange-sim --no-limits --latency-ms 50         # no limits, 50 ms answers
  exchange-sim --bybit-ban-secs 2 --binance-ban-secs 2 --binance-weight-limit 100
  exchange-sim --error-rate 0.05 --fault-venue bybit   # 5% 5xx, Bybit only
  exchange-sim --venue-down hyperliquid --venue-down-mode unavailable

Endpoints (one port for all venues):
  Binance  GET /fapi/v1/openInterest /futures/data/openInterestHist
           GET /fapi/v1/premiumIndex /fapi/v1/fundingRate /fapi/v1/fundingInfo
           GET /fapi/v1/exchangeInfo
  Bybit    GET /v5/market/tickers /v5/market/open-interest
           GET /v5/market/funding/history /v5/market/instruments-info
  Hyperliquid  POST /info {\"type\": \"meta\"|\"metaAndAssetCtxs\"|\"fundingHistory\"|
               \"predictedFundings\"|\"perpDexs\"|\"userFillsByTime\"}
  Admin    GET /__sim/stats[?log=false]  POST /__sim/reset
           GET|POST /__sim/faults  GET|POST /__sim/clock
           GET /__sim/symbols  GET /__sim/health

The first stdout line is `listening on http://ADDR`; logs go to stderr.

Change faults at run time (a POST replaces all faults; {} clears them):
  curl -X POST localhost:9100/__sim/faults -H 'content-type: application/json' \\
       -d '{\"fail_next_n\":3,\"venues\":[\"binance\"]}'
  Fields: latency_ms, fail_next_n, error_rate, malformed, drop_connection,
  number_format (native|numbers|strings), omit_optional, venue_down [venues],
  venue_down_mode (reset|unavailable), venues [venues the others apply to].";

/// Loopback simulator of the Binance USD-M, Bybit v5 linear and Hyperliquid market-data APIs
/// (real paths, parameters, shapes, paging and limits), with seeded data, rate limits and
/// fault switches.
#[derive(Debug, Parser)]
#[command(name = "exchange-sim", version, after_help = EXAMPLES)]
struct Cli {
    /// Address to listen on (port 0: any free port; the chosen one is printed).
    #[arg(long, default_value = "127.0.0.1:9100", value_name = "ADDR")]
    listen: SocketAddr,

    /// Number of base assets: BTC, ETH, SOL, XRP, DOGE, 1000PEPE (kPEPE), then S0007, S0008, …
    #[arg(long, default_value_t = 20, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=5000))]
    symbols: u32,

    /// Seed of all generated data.
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Days of history before the start day (funding, Bybit open interest).
    #[arg(long, default_value_t = 400, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=3650))]
    history_days: u32,

    /// Fix the data clock at this Unix time in ms (default: real time).
    #[arg(long, value_name = "MS")]
    now_ms: Option<u64>,

    /// Turn rate limits off (weights are still counted and reported).
    #[arg(long)]
    no_limits: bool,

    /// How budgets are counted: venue (Binance fixed minutes, others sliding), fixed, sliding.
    #[arg(long, default_value = "venue", value_name = "MODE")]
    rate_window: WindowMode,

    /// Binance request weight per minute.
    #[arg(long, default_value_t = 2400, value_name = "WEIGHT")]
    binance_weight_limit: u32,

    /// Binance fundingRate + fundingInfo requests per 5 minutes.
    #[arg(long, default_value_t = 500, value_name = "N")]
    binance_funding_limit: u32,

    /// Length of a Binance IP ban (HTTP 418), seconds.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    binance_ban_secs: u64,

    /// Requests Binance still answers with 429 inside a Retry-After window before banning.
    #[arg(long, default_value_t = 5, value_name = "N")]
    binance_ban_grace: u32,

    /// Bybit requests per 5 seconds.
    #[arg(long, default_value_t = 600, value_name = "N")]
    bybit_limit: u32,

    /// Length of a Bybit IP ban (HTTP 403), seconds.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    bybit_ban_secs: u64,

    /// Hyperliquid weight per minute.
    #[arg(long, default_value_t = 1200, value_name = "WEIGHT")]
    hyperliquid_weight_limit: u32,

    /// Fault: delay every venue answer by this many ms.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    latency_ms: u64,

    /// Fault: the next N venue requests get HTTP 503.
    #[arg(long, default_value_t = 0, value_name = "N")]
    fail_next_n: u32,

    /// Fault: fraction (0..1) of venue requests answered with 500/502/503/504.
    #[arg(long, default_value_t = 0.0, value_name = "FRACTION")]
    error_rate: f64,

    /// Fault: cut successful bodies in half (invalid JSON).
    #[arg(long)]
    malformed: bool,

    /// Fault: reset every connection that carries a venue request, without a response.
    #[arg(long)]
    drop_connection: bool,

    /// Fault: number encoding in bodies: native, numbers (numeric strings → numbers), strings (numbers → strings).
    #[arg(long, default_value = "native", value_name = "FORMAT", value_parser = parse_number_format)]
    number_format: NumberFormat,

    /// Fault: leave optional fields out of bodies.
    #[arg(long)]
    omit_optional: bool,

    /// Fault: this venue is down (repeatable): binance, bybit, hyperliquid.
    #[arg(long, value_name = "VENUE")]
    venue_down: Vec<Venue>,

    /// How a down venue fails: reset (connection reset) or unavailable (HTTP 503).
    #[arg(long, default_value = "reset", value_name = "MODE", value_parser = parse_down_mode)]
    venue_down_mode: DownMode,

    /// Apply the faults above (except --venue-down) only to this venue (repeatable; default all).
    #[arg(long, value_name = "VENUE")]
    fault_venue: Vec<Venue>,

    /// Log level on stderr (error, warn, info, debug, trace) or a tracing filter.
    #[arg(long, default_value = "info", value_name = "LEVEL")]
    log_level: String,
}

fn parse_number_format(s: &str) -> Result<NumberFormat, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "native" => Ok(NumberFormat::Native),
        "numbers" => Ok(NumberFormat::Numbers),
        "strings" => Ok(NumberFormat::Strings),
        _ => Err(format!(
            "invalid number format '{s}': expected native, numbers or strings"
        )),
    }
}

fn parse_down_mode(s: &str) -> Result<DownMode, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "reset" => Ok(DownMode::Reset),
        "unavailable" | "503" => Ok(DownMode::Unavailable),
        _ => Err(format!(
            "invalid venue-down mode '{s}': expected reset or unavailable"
        )),
    }
}

impl Cli {
    fn config(self) -> SimConfig {
        SimConfig {
            listen: self.listen,
            symbols: self.symbols as usize,
            seed: self.seed,
            history_days: self.history_days,
            now_ms: self.now_ms,
            limits: LimitsConfig {
                enabled: !self.no_limits,
                window: self.rate_window,
                binance_weight_per_minute: self.binance_weight_limit,
                binance_funding_per_5min: self.binance_funding_limit,
                binance_ban_secs: self.binance_ban_secs,
                binance_ban_grace: self.binance_ban_grace,
                bybit_requests_per_5s: self.bybit_limit,
                bybit_ban_secs: self.bybit_ban_secs,
                hyperliquid_weight_per_minute: self.hyperliquid_weight_limit,
            },
            faults: Faults {
                latency_ms: self.latency_ms,
                fail_next_n: self.fail_next_n,
                error_rate: self.error_rate,
                malformed: self.malformed,
                drop_connection: self.drop_connection,
                number_format: self.number_format,
                omit_optional: self.omit_optional,
                venue_down: self.venue_down,
                venue_down_mode: self.venue_down_mode,
                venues: self.fault_venue,
            },
        }
    }
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let sim = match exchange_sim::start(cli.config()).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("exchange-sim: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {}", sim.url());
    let _ = out.flush();
    drop(out);
    wait_for_stop().await;
    sim.shutdown().await;
    ExitCode::SUCCESS
}
