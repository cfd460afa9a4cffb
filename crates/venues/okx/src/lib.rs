//! OKX v5 perpetual swaps (`instType=SWAP`, `BTC-USDT-SWAP`): the fourth venue.
//!
//! [`OkxFetcher`] composes the pure parts below over a [`ccxt_venue::Transport`] into a
//! [`ccxt_venue::Fetcher`]; [`liquidations`] plugs the `liquidation-orders` channel into the
//! generic socket loop; [`symbol`] is OKX's symbol grammar; [`DESCRIPTOR`] is what the CLI's
//! registry lists.
//!
//! Pure parts, tested on captured payloads (`fixtures/`, provenance in `fixtures/SOURCES.md`)
//! and against the simulator's OKX endpoints, without a network:
//!
//! * [`http::models`]: serde structs of every payload (instruments, open interest, rubik OI
//!   history, current funding, funding history, candles), tolerant of numbers as strings or
//!   JSON numbers, missing, null or `""` fields, unknown fields, and 7- or 9-field candle rows;
//! * [`http::requests`]: builders of every request ([`ccxt_venue::HttpRequest`]) with its
//!   rate-limit pool ([`rate_limits`]);
//! * [`http::parse`]: envelopes into plain structs keyed by `instId` (instruments with precision,
//!   contract value, listing state and category; open interest in contracts, coins and USD;
//!   exact funding rates with next funding time and interval; settled funding rows; candles),
//!   and OKX error envelopes into [`http::parse::OkxError`] whose
//!   [`into_fetch_error`](http::parse::OkxError::into_fetch_error) gives the
//!   [`ccxt_venue::FetchError`] kind once the caller names the venue;
//! * [`http::paginate`]: the paging arithmetic (funding history `after`/`before` cursors, the
//!   rubik endpoint's 1,440-row window, candle paging and the recent/history switch,
//!   newest-first to ascending);
//! * [`websocket`]: the `liquidation-orders` subscribe frame, the text `ping`, and the
//!   classification of every frame of a `/ws/v5/public` connection (liquidations with the
//!   liquidated position derived from the order side, acks, error events, notices, `pong`).

pub mod fetcher;
pub mod http;
pub mod liquidations;
mod pages;
pub mod symbol;
pub mod websocket;

use std::sync::Arc;
use std::time::Duration;

use ccxt_venue::liquidations::{FeedKind, FeedSettings, Keepalive, LiquidationFeed};
use ccxt_venue::{Fetcher, PoolSpec, RateLimitSpec, Transport, VenueDescriptor};

pub use fetcher::OkxFetcher;
pub use symbol::VENUE;

pub use http::requests::{
    POOL_CANDLES, POOL_FUNDING, POOL_FUNDING_HISTORY, POOL_HISTORY_CANDLES, POOL_INSTRUMENTS,
    POOL_MARK_CANDLES, POOL_OI_HISTORY, POOL_OPEN_INTEREST,
};

/// The REST root of OKX (production).
pub const DEFAULT_REST_URL: &str = "https://www.okx.com";

/// The public WebSocket (`liquidation-orders`, `funding-rate`, `open-interest`).
pub const DEFAULT_WS_URL: &str = "wss://ws.okx.com:8443/ws/v5/public";

/// OKX's public rate limits, one pool per endpoint, each "N requests per 2 seconds" as the
/// docs state them. Some are keyed on IP + `instId` by the venue; a transport with one bucket
/// per pool counts them per IP, which is stricter than the venue (never too fast). Excess is
/// HTTP 429 with code 50011; no ban status is documented.
pub fn rate_limits() -> RateLimitSpec {
    let two_s = Duration::from_secs(2);
    let pool = |name, capacity| PoolSpec {
        name,
        capacity,
        window: two_s,
    };
    RateLimitSpec {
        pools: vec![
            pool(POOL_INSTRUMENTS, 20),
            pool(POOL_OPEN_INTEREST, 20),
            pool(POOL_FUNDING, 10),
            pool(POOL_FUNDING_HISTORY, 10),
            pool(POOL_OI_HISTORY, 10),
            pool(POOL_CANDLES, 40),
            pool(POOL_HISTORY_CANDLES, 20),
            pool(POOL_MARK_CANDLES, 20),
        ],
        used_weight_header: None,
        ban_status: None,
    }
}

/// OKX perpetual swaps, as the layers above see them (one line in the CLI's registry).
pub static DESCRIPTOR: OkxDescriptor = OkxDescriptor;

/// The [`VenueDescriptor`] of OKX.
#[derive(Debug, Clone, Copy)]
pub struct OkxDescriptor;

impl VenueDescriptor for OkxDescriptor {
    fn venue(&self) -> ccxt_model::Venue {
        VENUE
    }

    fn title(&self) -> &'static str {
        "OKX perpetual swaps"
    }

    fn default_rest_url(&self) -> &'static str {
        DEFAULT_REST_URL
    }

    fn default_ws_url(&self) -> &'static str {
        DEFAULT_WS_URL
    }

    fn rate_limits(&self) -> RateLimitSpec {
        rate_limits()
    }

    fn connect(&self, transport: Arc<dyn Transport>) -> Arc<dyn Fetcher> {
        Arc::new(OkxFetcher::new(transport))
    }

    fn oi_history_help(&self) -> Option<&'static str> {
        Some("OKX keeps only the latest 1,440 rows per period")
    }

    fn liquidation_help(&self) -> &'static str {
        "OKX liquidation-orders (every swap on one socket; a sample)"
    }

    fn oi_history(&self) -> bool {
        true
    }

    fn liquidation_kind(&self) -> FeedKind {
        FeedKind::AllMarketSocket
    }

    fn keepalive(&self) -> Keepalive {
        liquidations::KEEPALIVE
    }

    fn liquidation_feed(&self, settings: FeedSettings) -> Result<Arc<dyn LiquidationFeed>, String> {
        Ok(Arc::new(liquidations::OkxFeed::new(settings.transport)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_spends_a_declared_pool() {
        let spec = rate_limits();
        let names: Vec<&str> = spec.pools.iter().map(|p| p.name).collect();
        for r in http::requests::all_examples() {
            for (pool, w) in &r.costs {
                assert!(
                    names.contains(pool),
                    "{} spends unknown pool {pool}",
                    r.endpoint
                );
                assert_eq!(*w, 1);
            }
        }
        assert!(
            spec.pools
                .iter()
                .all(|p| p.window == Duration::from_secs(2))
        );
        assert_eq!(spec.ban_status, None);
    }
}
