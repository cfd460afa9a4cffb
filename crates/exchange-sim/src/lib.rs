//! Exchange simulator: one loopback HTTP server that answers like the Binance USD-M futures,
//! Bybit v5 (linear), Hyperliquid `/info` and OKX v5 (`SWAP`) endpoints ccxt-pipeline uses — real paths,
//! parameters, response shapes, pagination semantics, limits and error bodies — with
//! deterministic seeded data, enforced rate limits and fault switches, so the real `ccxt-cli`
//! can be tested and benchmarked without the internet.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use exchange_sim::{Faults, SimConfig, start};
//!
//! let sim = start(SimConfig { symbols: 50, now_ms: Some(1_767_225_600_000), ..SimConfig::default() }).await?;
//! let url = sim.url(); // http://127.0.0.1:PORT — Binance, Bybit and Hyperliquid paths all live here
//! sim.set_faults(Faults { fail_next_n: 2, ..Faults::default() });
//! // ... run the client against `url` ...
//! let stats = sim.stats();
//! assert_eq!(stats.venue("binance").rate_limited_429, 0);
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Liquidations and WebSockets
//!
//! The same port serves the venues' liquidation sources, in their real message shapes (see
//! [`ws`] for every frame):
//!
//! * Binance `ws://…/market/ws/!forceOrder@arr`, `…/market/ws/<symbol>@forceOrder`,
//!   `…/market/stream?streams=a/b`, live `SUBSCRIBE`; server pings, pong timeout, 200 streams.
//! * Bybit `ws://…/v5/public/linear`, `allLiquidation.<SYMBOL>`, batched per 500 ms; `op: ping`,
//!   idle timeout, 21 000 characters of args.
//! * Hyperliquid `ws://…/ws` (acks and pongs only: there is no public liquidation channel) and
//!   `POST /info {"type":"userFillsByTime","user":"0x2e3d…"}`: the fills of the liquidator
//!   vault ([`HLP_LIQUIDATOR`]).
//! * OKX `ws://…/ws/v5/public`, `{"op":"subscribe","args":[{"channel":"liquidation-orders",
//!   "instType":"SWAP"}]}` (every swap), text `ping`/`pong`, idle close 4004.
//!
//! A seeded generator creates liquidations at [`WsConfig::liquidations_per_sec`] (default 2
//! per venue, hundreds of thousands per second possible). The simulator logs exactly what it
//! sent ([`SimHandle::sent_liquidations`], `GET /__sim/ws/sent`), counts connections, frames
//! and pings ([`StatsSnapshot::ws`]), and can break connections on purpose
//! ([`WsFaults`]: `server_close`, `tcp_drop`, `half_open`, `no_pong`, `refuse_subscribe`,
//! `malformed_rate`, `rotate_after_secs`, `pause_data`; at start in [`WsConfig::faults`], at run
//! time with [`SimHandle::set_ws_faults`] or `POST /__sim/ws/faults`).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use exchange_sim::{SimConfig, Venue, VenueRates, WsFaults, start};
//!
//! let mut config = SimConfig::default();
//! config.ws.liquidations_per_sec = VenueRates::all(500.0);
//! config.ws.binance_ping_secs = 0.5; // shrink the venue's timers for a test
//! let sim = start(config).await?;
//! let url = format!("{}/market/stream?streams=!forceOrder@arr", sim.ws_url());
//! // ... connect the client to `url`, let it run ...
//! sim.set_ws_faults(Venue::Binance, WsFaults { tcp_drop: true, ..WsFaults::default() })
//!     .map_err(std::io::Error::other)?;
//! // ... the client reconnects ...
//! let sent = sim.sent_liquidations(Venue::Binance); // compare with what the client stored
//! # let _ = (url, sent);
//! # Ok(()) }
//! ```
//!
//! Module map: [`config`] (settings), `data` (the seeded universe and pure value functions),
//! `klines` (candle grids and seeded OHLCV for the kline endpoints),
//! `binance`, `bybit`, `hyperliquid`, `okx` (the venue handlers), `limits` (rate limits), [`faults`]
//! (fault switches), [`stats`] (request accounting), [`ws`] (liquidation feeds, WebSocket
//! protocols and faults), `server` (routing, the gate every venue request passes, admin
//! endpoints, the listener that can drop connections).

mod binance;
mod bybit;
pub mod config;
mod data;
pub mod faults;
mod format;
mod hyperliquid;
mod klines;
mod limits;
mod okx;
mod server;
pub mod stats;
pub mod ws;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use config::{LimitsConfig, SimConfig, WindowMode};
pub use faults::{DownMode, Faults, NumberFormat};
pub use server::{SimHandle, start};
pub use stats::{LogEntry, PoolStats, StatsSnapshot, VenueStats};
pub use ws::{
    HLP_LIQUIDATOR, PositionSide, SentLiquidation, VenueRates, WsConfig, WsFaultSet, WsFaults,
    WsFaultsUpdate, WsStats,
};

/// A simulated venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Venue {
    /// Binance USD-M futures (`/fapi/*`, `/futures/data/*`).
    Binance,
    /// Bybit v5 (`/v5/*`).
    Bybit,
    /// Hyperliquid (`POST /info`).
    Hyperliquid,
    /// OKX v5 (`/api/v5/*`, `/ws/v5/public`).
    Okx,
}

impl Venue {
    /// Every venue, in a fixed order.
    pub const ALL: [Venue; 4] = [Venue::Binance, Venue::Bybit, Venue::Hyperliquid, Venue::Okx];

    /// Lowercase name: `binance`, `bybit`, `hyperliquid`, `okx`.
    pub fn as_str(self) -> &'static str {
        match self {
            Venue::Binance => "binance",
            Venue::Bybit => "bybit",
            Venue::Hyperliquid => "hyperliquid",
            Venue::Okx => "okx",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Venue::Binance => 0,
            Venue::Bybit => 1,
            Venue::Hyperliquid => 2,
            Venue::Okx => 3,
        }
    }
}

impl fmt::Display for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Venue {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Venue::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown venue '{s}': expected binance, bybit, hyperliquid or okx")
            })
    }
}
