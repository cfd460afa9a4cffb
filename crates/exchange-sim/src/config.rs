//! Simulator settings: address, data universe, clock, rate limits, liquidation feeds and
//! WebSocket rules, and the faults in force at start. The binary's flags map one to one onto
//! these fields.

use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::faults::Faults;
use crate::ws::WsConfig;

/// Everything [`crate::start`] needs. `SimConfig::default()` is a realistic simulator on
/// `127.0.0.1:0` (a free port) with 20 symbols, 400 days of history, the real clock, and the
/// venues' documented rate limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    /// Address to bind. Port 0 picks a free port; read it back with [`crate::SimHandle::addr`].
    pub listen: SocketAddr,
    /// Number of base assets per venue (BTC, ETH, SOL, XRP, DOGE, 1000PEPE/kPEPE, then
    /// S0007, S0008, …). Each venue adds a few fixed extra instruments (delisted, pre-launch,
    /// delivery contracts) on top.
    pub symbols: usize,
    /// Seed of every generated value. Same seed, same data.
    pub seed: u64,
    /// Days of history before the clock's start day (funding, Bybit open interest, candles of
    /// the majors). Binance open-interest history is limited to the last 30 days and
    /// Hyperliquid candles to the newest 5000 per interval, as on the real venues.
    pub history_days: u32,
    /// A fixed clock (Unix ms) for deterministic tests; `None` follows real time. Can be changed
    /// at run time with `POST /__sim/clock`; the listing (launch, delisting and delivery dates)
    /// stays anchored on the day the simulator started with.
    pub now_ms: Option<u64>,
    /// Rate limits.
    pub limits: LimitsConfig,
    /// Faults in force from the start (changeable at run time).
    pub faults: Faults,
    /// Liquidation feeds, WebSocket rules and WebSocket faults.
    #[serde(default)]
    pub ws: WsConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            symbols: 20,
            seed: 1,
            history_days: 400,
            now_ms: None,
            limits: LimitsConfig::default(),
            faults: Faults::default(),
            ws: WsConfig::default(),
        }
    }
}

/// How request budgets are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowMode {
    /// As each venue does it: Binance counts per calendar minute (and 5-minute block for the
    /// funding pool), resetting on the boundary like `X-MBX-USED-WEIGHT-1M`; Bybit and
    /// Hyperliquid, whose docs do not say, use the stricter sliding window.
    #[default]
    Venue,
    /// Every pool counts per fixed block aligned to the Unix epoch.
    Fixed,
    /// Every pool counts over the sliding window ending now (strictest: any burst over the
    /// budget inside any window is refused).
    Sliding,
}

impl FromStr for WindowMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "venue" => Ok(WindowMode::Venue),
            "fixed" => Ok(WindowMode::Fixed),
            "sliding" => Ok(WindowMode::Sliding),
            _ => Err(format!(
                "invalid window mode '{s}': expected venue, fixed or sliding"
            )),
        }
    }
}

/// Rate limits per venue. All clients of the simulator share them, as if they came from one IP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitsConfig {
    /// Enforce the limits. When off, weights are still counted (stats, Binance's used-weight
    /// header) but nothing is refused.
    pub enabled: bool,
    /// Fixed or sliding windows.
    pub window: WindowMode,
    /// Binance request weight per minute (2400). Exceeding it: HTTP 429 with `Retry-After`.
    pub binance_weight_per_minute: u32,
    /// Binance pool shared by `fundingRate` and `fundingInfo`, per 5 minutes (500).
    pub binance_funding_per_5min: u32,
    /// How long a Binance ban (HTTP 418) lasts, in seconds (real bans scale from 2 minutes).
    pub binance_ban_secs: u64,
    /// Requests Binance still answers with 429 inside a `Retry-After` window before it bans
    /// with 418 (allows for requests already in flight). 0 = the first one bans.
    pub binance_ban_grace: u32,
    /// Bybit requests per 5 seconds (600). Exceeding it: HTTP 403 "access too frequent" and a ban.
    pub bybit_requests_per_5s: u32,
    /// How long a Bybit ban lasts, in seconds (the docs say at least 10 minutes).
    pub bybit_ban_secs: u64,
    /// Hyperliquid weight per minute (1200): 20 per `/info` call plus 1 per 20 funding rows.
    /// Exceeding it: HTTP 429.
    pub hyperliquid_weight_per_minute: u32,
    /// OKX: one budget for every endpoint, requests per 2 s, instead of the documented
    /// per-endpoint budgets (20 for instruments and open interest, 10 for funding and open
    /// interest history, 40 for candles, 20 for the other candle endpoints). `None`: the
    /// documented ones. Exceeding it: HTTP 429 with code 50011.
    #[serde(default)]
    pub okx_requests_per_2s: Option<u32>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            enabled: true,
            window: WindowMode::Venue,
            binance_weight_per_minute: 2400,
            binance_funding_per_5min: 500,
            binance_ban_secs: 120,
            binance_ban_grace: 5,
            bybit_requests_per_5s: 600,
            bybit_ban_secs: 600,
            hyperliquid_weight_per_minute: 1200,
            okx_requests_per_2s: None,
        }
    }
}
