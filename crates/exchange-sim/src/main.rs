//! `exchange-sim`: runs the exchange simulator until Ctrl+C / SIGTERM. The first line on
//! stdout is `listening on http://ADDR`, so scripts can read the port; logs go to stderr.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use exchange_sim::{
    DownMode, Faults, HLP_LIQUIDATOR, LimitsConfig, NumberFormat, SimConfig, Venue, VenueRates,
    WindowMode, WsConfig, WsFaultSet,
};

const EXAMPLES: &str = "\
Examples:
  exchange-sim                                     # 127.0.0.1:9100, 20 symbols
  exchange-sim --listen 127.0.0.1:0 --symbols 600  # free port, 600 symbols
  exchange-sim --now-ms 1767225600000 --seed 7     # fixed clock: same answers
  exchange-sim --no-limits --latency-ms 50         # no limits, 50 ms answers
  exchange-sim --bybit-ban-secs 2 --binance-ban-secs 2 --binance-weight-limit 100
  exchange-sim --error-rate 0.05 --fault-venue bybit   # 5% 5xx, Bybit only
  exchange-sim --venue-down hyperliquid --venue-down-mode unavailable
  exchange-sim --liquidations-per-sec 200000 --liquidations-per-sec hyperliquid=50
  exchange-sim --ws-rotate-after-secs binance=30 --ws-malformed-rate 0.01

Endpoints (one port for all venues):
  Binance  GET /fapi/v1/openInterest /futures/data/openInterestHist
           GET /fapi/v1/premiumIndex /fapi/v1/fundingRate /fapi/v1/fundingInfo
           GET /fapi/v1/exchangeInfo /fapi/v1/klines /fapi/v1/markPriceKlines
  Bybit    GET /v5/market/tickers /v5/market/open-interest
           GET /v5/market/funding/history /v5/market/instruments-info
           GET /v5/market/kline /v5/market/mark-price-kline
  OKX      GET /api/v5/public/instruments /api/v5/public/open-interest
           GET /api/v5/public/funding-rate /api/v5/public/funding-rate-history
           GET /api/v5/rubik/stat/contracts/open-interest-history
           GET /api/v5/market/candles /api/v5/market/history-candles
           GET /api/v5/market/mark-price-candles /api/v5/market/history-mark-price-candles
  Hyperliquid  POST /info {\"type\": \"meta\"|\"metaAndAssetCtxs\"|\"fundingHistory\"|
               \"predictedFundings\"|\"perpDexs\"|\"userFills\"|\"userFillsByTime\"|
               \"candleSnapshot\"}
  WebSocket (liquidations)
           Binance  ws://ADDR/market/ws/!forceOrder@arr   ws://ADDR/market/ws/btcusdt@forceOrder
                    ws://ADDR/market/stream?streams=a/b   ws://ADDR/market/ws (SUBSCRIBE later)
           Bybit    ws://ADDR/v5/public/linear  {\"op\":\"subscribe\",\"args\":[\"allLiquidation.BTCUSDT\"]}
           OKX      ws://ADDR/ws/v5/public  {\"op\":\"subscribe\",\"args\":[{\"channel\":\"liquidation-orders\",\"instType\":\"SWAP\"}]}
           Hyperliquid  ws://ADDR/ws (protocol only: acks and pongs; liquidations are the
                    liquidator vault's fills: POST /info {\"type\":\"userFillsByTime\",
                    \"user\":\"0x2e3d94f0562703b25c83308a05046ddaf9a8dd14\",\"startTime\":MS})
  Admin    GET /__sim/stats[?log=false]  POST /__sim/reset
           GET|POST /__sim/faults  GET|POST /__sim/clock
           GET /__sim/symbols  GET /__sim/health
           GET|POST /__sim/ws/faults  GET /__sim/ws/sent?venue=V[&conn=ID][&skip=N][&limit=N]

The first stdout line is `listening on http://ADDR`; logs go to stderr.

Change faults at run time (a POST replaces all faults; {} clears them):
  curl -X POST localhost:9100/__sim/faults -H 'content-type: application/json' \\
       -d '{\"fail_next_n\":3,\"venues\":[\"binance\"]}'
  Fields: latency_ms, fail_next_n, error_rate, malformed, drop_connection,
  number_format (native|numbers|strings), omit_optional, venue_down [venues],
  venue_down_mode (reset|unavailable), venues [venues the others apply to],
  kline_hole_rate (0..1: candles missing), kline_invalid_rate (0..1: candles with high < low).

WebSocket faults per venue (a POST replaces the venues it names; {\"bybit\":{}} clears Bybit):
  curl -X POST localhost:9100/__sim/ws/faults -H 'content-type: application/json' \\
       -d '{\"binance\":{\"server_close\":true},\"bybit\":{\"half_open\":true}}'
  Fields: server_close, tcp_drop (one-shot, on the connections open now), half_open, no_pong,
  refuse_subscribe, malformed_rate (0..1), rotate_after_secs (null = never), pause_data.";

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

    /// OKX: one budget per 2 s for every endpoint instead of the documented per-endpoint ones.
    #[arg(long, value_name = "N")]
    okx_limit: Option<u32>,

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

    /// Fault: fraction (0..1) of candles missing from the kline endpoints (seeded holes).
    #[arg(long, default_value_t = 0.0, value_name = "FRACTION")]
    kline_hole_rate: f64,

    /// Fault: fraction (0..1) of candles the kline endpoints send with high < low (seeded).
    #[arg(long, default_value_t = 0.0, value_name = "FRACTION")]
    kline_invalid_rate: f64,

    /// Fault: this venue is down (repeatable): binance, bybit, hyperliquid, okx.
    #[arg(long, value_name = "VENUE")]
    venue_down: Vec<Venue>,

    /// How a down venue fails: reset (connection reset) or unavailable (HTTP 503).
    #[arg(long, default_value = "reset", value_name = "MODE", value_parser = parse_down_mode)]
    venue_down_mode: DownMode,

    /// Apply the faults above (except --venue-down) only to this venue (repeatable; default all).
    #[arg(long, value_name = "VENUE")]
    fault_venue: Vec<Venue>,

    /// Liquidations per second: N for every venue, or VENUE=N (repeatable; default 2 each).
    /// Hundreds of thousands per second are fine (generated in batches).
    #[arg(long, value_name = "[VENUE=]N", value_parser = parse_venue_number)]
    liquidations_per_sec: Vec<(Option<Venue>, f64)>,

    /// Sent-log entries kept per venue (the latest; older ones are only counted).
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    sent_log_capacity: usize,

    /// Binance: send per symbol only the latest liquidation of each second, as the real
    /// streams do (default: every liquidation).
    #[arg(long)]
    binance_sample_1s: bool,

    /// Binance: seconds between the server's WebSocket pings.
    #[arg(long, default_value_t = 180.0, value_name = "SECS")]
    binance_ping_secs: f64,

    /// Binance: close a connection whose oldest unanswered ping is this old.
    #[arg(long, default_value_t = 600.0, value_name = "SECS")]
    binance_pong_timeout_secs: f64,

    /// Binance: streams per connection.
    #[arg(long, default_value_t = 200, value_name = "N")]
    binance_max_streams: usize,

    /// Binance: incoming messages per second and connection before it is closed (0 = no limit).
    #[arg(long, default_value_t = 10, value_name = "N")]
    binance_max_incoming_per_sec: u32,

    /// Bybit: push interval; each window's liquidations go out as one frame per symbol.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    bybit_push_ms: u64,

    /// Bybit: close a connection after this long without a client ping and without data.
    #[arg(long, default_value_t = 600.0, value_name = "SECS")]
    bybit_idle_secs: f64,

    /// Bybit: total length of the subscribed args per connection.
    #[arg(long, default_value_t = 21_000, value_name = "CHARS")]
    bybit_max_args_chars: usize,

    /// OKX: close a connection that has had nothing sent to it for this long (code 4004).
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    okx_idle_secs: f64,

    /// Hyperliquid: close a connection not heard from for this long.
    #[arg(long, default_value_t = 60.0, value_name = "SECS")]
    hyperliquid_idle_secs: f64,

    /// Hyperliquid: a liquidator vault address whose fills are liquidation takeovers
    /// (repeatable; default the HLP liquidator 0x2e3d94f0562703b25c83308a05046ddaf9a8dd14).
    #[arg(long, value_name = "ADDR")]
    hyperliquid_liquidator: Vec<String>,

    /// Hyperliquid: fills per liquidator that userFills/userFillsByTime still return.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    hyperliquid_fills_available: usize,

    /// WebSocket fault: keep connections open but send nothing (VENUE or all; repeatable).
    #[arg(long, value_name = "VENUE|all", value_parser = parse_venue_or_all)]
    ws_half_open: Vec<Option<Venue>>,

    /// WebSocket fault: answer no ping (application or WebSocket), data still flows.
    #[arg(long, value_name = "VENUE|all", value_parser = parse_venue_or_all)]
    ws_no_pong: Vec<Option<Venue>>,

    /// WebSocket fault: reject every subscription request.
    #[arg(long, value_name = "VENUE|all", value_parser = parse_venue_or_all)]
    ws_refuse_subscribe: Vec<Option<Venue>>,

    /// WebSocket fault: generate no liquidations.
    #[arg(long, value_name = "VENUE|all", value_parser = parse_venue_or_all)]
    ws_pause_data: Vec<Option<Venue>>,

    /// WebSocket fault: fraction (0..1) of data frames replaced by garbage: F for every venue
    /// or VENUE=F (repeatable).
    #[arg(long, value_name = "[VENUE=]F", value_parser = parse_venue_number)]
    ws_malformed_rate: Vec<(Option<Venue>, f64)>,

    /// WebSocket fault: close each connection this many seconds after it opened: SECS for
    /// every venue or VENUE=SECS (repeatable).
    #[arg(long, value_name = "[VENUE=]SECS", value_parser = parse_venue_number)]
    ws_rotate_after_secs: Vec<(Option<Venue>, f64)>,

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

/// `binance`, `bybit`, `hyperliquid`, `okx`, or `all` (`None`).
fn parse_venue_or_all(s: &str) -> Result<Option<Venue>, String> {
    if s.trim().eq_ignore_ascii_case("all") {
        Ok(None)
    } else {
        s.parse().map(Some)
    }
}

/// `N` (every venue) or `VENUE=N`.
fn parse_venue_number(s: &str) -> Result<(Option<Venue>, f64), String> {
    let (venue, number) = match s.split_once('=') {
        Some((v, n)) => (parse_venue_or_all(v)?, n),
        None => (None, s),
    };
    let n: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("invalid number '{number}'"))?;
    if !n.is_finite() || n < 0.0 {
        return Err(format!("'{number}' must be a number of at least 0"));
    }
    Ok((venue, n))
}

/// The venues a selection names.
fn venues(sel: Option<Venue>) -> Vec<Venue> {
    sel.map_or_else(|| Venue::ALL.to_vec(), |v| vec![v])
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
    fn ws_config(&self) -> WsConfig {
        let mut rates = VenueRates::default();
        for &(sel, n) in &self.liquidations_per_sec {
            for v in venues(sel) {
                rates.set(v, n);
            }
        }
        let mut faults = WsFaultSet::default();
        let switches = [
            (&self.ws_half_open, 0),
            (&self.ws_no_pong, 1),
            (&self.ws_refuse_subscribe, 2),
            (&self.ws_pause_data, 3),
        ];
        for (sels, which) in switches {
            for v in sels.iter().flat_map(|&s| venues(s)) {
                let f = faults.get_mut(v);
                match which {
                    0 => f.half_open = true,
                    1 => f.no_pong = true,
                    2 => f.refuse_subscribe = true,
                    _ => f.pause_data = true,
                }
            }
        }
        for &(sel, x) in &self.ws_malformed_rate {
            for v in venues(sel) {
                faults.get_mut(v).malformed_rate = x;
            }
        }
        for &(sel, x) in &self.ws_rotate_after_secs {
            for v in venues(sel) {
                faults.get_mut(v).rotate_after_secs = Some(x);
            }
        }
        WsConfig {
            liquidations_per_sec: rates,
            sent_log_capacity: self.sent_log_capacity,
            binance_sample_1s: self.binance_sample_1s,
            binance_ping_secs: self.binance_ping_secs,
            binance_pong_timeout_secs: self.binance_pong_timeout_secs,
            binance_max_streams: self.binance_max_streams,
            binance_max_incoming_per_sec: self.binance_max_incoming_per_sec,
            bybit_push_ms: self.bybit_push_ms,
            bybit_idle_secs: self.bybit_idle_secs,
            bybit_max_args_chars: self.bybit_max_args_chars,
            hyperliquid_idle_secs: self.hyperliquid_idle_secs,
            okx_idle_secs: self.okx_idle_secs,
            hyperliquid_max_subscriptions: WsConfig::default().hyperliquid_max_subscriptions,
            hyperliquid_liquidators: if self.hyperliquid_liquidator.is_empty() {
                vec![HLP_LIQUIDATOR.to_string()]
            } else {
                self.hyperliquid_liquidator.clone()
            },
            hyperliquid_fills_available: self.hyperliquid_fills_available,
            faults,
        }
    }

    fn config(self) -> SimConfig {
        let ws = self.ws_config();
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
                okx_requests_per_2s: self.okx_limit,
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
                kline_hole_rate: self.kline_hole_rate,
                kline_invalid_rate: self.kline_invalid_rate,
            },
            ws,
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
