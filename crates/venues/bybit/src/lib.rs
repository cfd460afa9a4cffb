//! Bybit v5 linear perpetuals connector (`category=linear`: USDT and USDC perpetuals).
//!
//! Pure parts, tested on captured payloads without a network:
//!
//! * [`http::requests`] builds every request (path, parameters, rate-limit pool and weight);
//! * [`http::models`] holds the payload structs, tolerant of numbers as strings, missing and
//!   null fields and unknown fields;
//! * [`http::parse`] turns envelopes into model records or typed [`ccxt_venue::FetchError`]s;
//! * [`http::paginate`] holds the next-page logic of the list endpoints;
//! * [`websocket`] parses the liquidation and ticker topics;
//! * [`rate_limits`] describes Bybit's budget for the transport.
//!
//! [`BybitFetcher`] composes them over a [`ccxt_venue::Transport`] into a
//! [`ccxt_venue::Fetcher`].

pub mod fetcher;
pub mod http;
pub mod liquidations;
pub mod symbol;
pub mod websocket;

use ccxt_venue::VenueDescriptor;
use ccxt_venue::liquidations::{FeedKind, FeedSettings, Keepalive, LiquidationFeed};

use std::time::Duration;

use ccxt_venue::{PoolSpec, RateLimitSpec};

pub use fetcher::BybitFetcher;
pub use http::requests::POOL_IP;
pub use symbol::VENUE;

/// The REST root of Bybit v5 (mainnet).
pub const DEFAULT_REST_URL: &str = "https://api.bybit.com";

/// The public WebSocket of linear contracts (`allLiquidation.*`, `tickers.*`).
pub const DEFAULT_WS_URL: &str = "wss://stream.bybit.com/v5/public/linear";

/// Bybit rate limits: 600 requests per 5 seconds per IP. Exceeding it gets HTTP 403 and a ban
/// of at least 10 minutes; Bybit reports no used weight.
pub fn rate_limits() -> RateLimitSpec {
    RateLimitSpec {
        pools: vec![PoolSpec {
            name: POOL_IP,
            capacity: 600,
            window: Duration::from_secs(5),
        }],
        used_weight_header: None,
        ban_status: Some(403),
    }
}

/// Bybit v5 linear, as the layers above see it (one line in the CLI's registry).
pub static DESCRIPTOR: BybitDescriptor = BybitDescriptor;

/// The [`VenueDescriptor`] of Bybit.
#[derive(Debug, Clone, Copy)]
pub struct BybitDescriptor;

impl VenueDescriptor for BybitDescriptor {
    fn venue(&self) -> ccxt_model::Venue {
        crate::VENUE
    }

    fn title(&self) -> &'static str {
        "Bybit linear perpetuals"
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

    fn connect(
        &self,
        transport: std::sync::Arc<dyn ccxt_venue::Transport>,
    ) -> std::sync::Arc<dyn ccxt_venue::Fetcher> {
        std::sync::Arc::new(BybitFetcher::new(transport))
    }

    fn oi_history_help(&self) -> Option<&'static str> {
        None
    }

    fn liquidation_help(&self) -> &'static str {
        "Bybit allLiquidation.<SYMBOL>"
    }

    fn oi_history(&self) -> bool {
        true
    }

    fn liquidation_kind(&self) -> FeedKind {
        FeedKind::PerSymbolSocket
    }

    fn keepalive(&self) -> Keepalive {
        liquidations::KEEPALIVE
    }

    fn liquidation_feed(
        &self,
        _settings: FeedSettings,
    ) -> Result<std::sync::Arc<dyn LiquidationFeed>, String> {
        Ok(std::sync::Arc::new(liquidations::BybitFeed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_ip_pool_and_a_403_ban() {
        let spec = rate_limits();
        assert_eq!(spec.pools.len(), 1);
        assert_eq!(
            (
                spec.pools[0].name,
                spec.pools[0].capacity,
                spec.pools[0].window
            ),
            ("ip", 600, Duration::from_secs(5))
        );
        assert_eq!(
            (spec.used_weight_header, spec.ban_status),
            (None, Some(403))
        );
    }
}
