//! Binance USDⓈ-M futures connector.
//!
//! Pure parts, tested on captured payloads without a network:
//!
//! * [`http::requests`] builds every request (path, parameters, rate-limit pool and weight);
//! * [`http::models`] holds the payload structs, tolerant of numbers as strings, missing and
//!   null fields and unknown fields;
//! * [`http::parse`] turns bodies into model records or typed [`ccxt_venue::FetchError`]s;
//! * [`http::paginate`] holds the next-page logic of the history endpoints;
//! * [`websocket`] parses the liquidation and mark-price streams;
//! * [`rate_limits`] describes Binance's budgets for the transport.
//!
//! [`BinanceFetcher`] composes them over a [`ccxt_venue::Transport`] into a
//! [`ccxt_venue::Fetcher`].

pub mod fetcher;
pub mod http;
pub mod liquidations;
pub mod symbol;
pub mod websocket;

use ccxt_venue::VenueDescriptor;
use ccxt_venue::liquidations::{FeedKind, FeedSettings, Keepalive, LiquidationFeed};

use std::time::Duration;

use ccxt_venue::{PoolSpec, RateLimitSpec, UsedWeightHeader};

pub use fetcher::BinanceFetcher;
pub use http::requests::{POOL_FUNDING, POOL_IP};
pub use symbol::VENUE;

/// The REST root of Binance USDⓈ-M futures (the `/futures/data` endpoints live there too).
pub const DEFAULT_REST_URL: &str = "https://fapi.binance.com";

/// The market-data WebSocket root (`@forceOrder`, `@markPrice`), in use since the 2026 URL
/// split; append `/ws/<stream>` or `/stream?streams=a/b`.
pub const DEFAULT_WS_URL: &str = "wss://fstream.binance.com/market";

/// Binance USDⓈ-M rate limits: request weight 2400 per minute per IP (reported in
/// `X-MBX-USED-WEIGHT-1M`), and 500 requests per 5 minutes shared by `fundingRate` and
/// `fundingInfo`. Bans come as 418/429 with `Retry-After`, which the transport handles; there is
/// no separate ban status.
pub fn rate_limits() -> RateLimitSpec {
    RateLimitSpec {
        pools: vec![
            PoolSpec {
                name: POOL_IP,
                capacity: 2400,
                window: Duration::from_secs(60),
            },
            PoolSpec {
                name: POOL_FUNDING,
                capacity: 500,
                window: Duration::from_secs(300),
            },
        ],
        used_weight_header: Some(UsedWeightHeader {
            header: "X-MBX-USED-WEIGHT-1M",
            pool: POOL_IP,
        }),
        ban_status: None,
    }
}

/// Binance USDⓈ-M, as the layers above see it (one line in the CLI's registry).
pub static DESCRIPTOR: BinanceDescriptor = BinanceDescriptor;

/// The [`VenueDescriptor`] of Binance.
#[derive(Debug, Clone, Copy)]
pub struct BinanceDescriptor;

impl VenueDescriptor for BinanceDescriptor {
    fn venue(&self) -> ccxt_model::Venue {
        crate::VENUE
    }

    fn title(&self) -> &'static str {
        "Binance USD-M futures"
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
        std::sync::Arc::new(BinanceFetcher::new(transport))
    }

    fn oi_history_help(&self) -> Option<&'static str> {
        Some("Binance keeps only the last 30 days")
    }

    fn liquidation_help(&self) -> &'static str {
        "Binance !forceOrder@arr / <symbol>@forceOrder (the venue sends at most one liquidation per symbol per second: a sample)"
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

    fn liquidation_feed(
        &self,
        _settings: FeedSettings,
    ) -> Result<std::sync::Arc<dyn LiquidationFeed>, String> {
        Ok(std::sync::Arc::new(liquidations::BinanceFeed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_spends_from_a_declared_pool() {
        let spec = rate_limits();
        let pools: Vec<&str> = spec.pools.iter().map(|p| p.name).collect();
        assert_eq!(pools, ["ip", "funding"]);
        assert_eq!(spec.used_weight_header.as_ref().map(|h| h.pool), Some("ip"));
        assert_eq!(spec.ban_status, None);
        for request in [
            http::requests::exchange_info(),
            http::requests::funding_info(),
            http::requests::premium_index_all(),
            http::requests::open_interest("BTCUSDT"),
            http::requests::open_interest_hist("BTCUSDT", ccxt_venue::OiPeriod::M5, 0, 1),
            http::requests::funding_rate_history("BTCUSDT", 0, 1),
        ] {
            for (pool, weight) in &request.costs {
                assert!(
                    pools.contains(pool),
                    "{} spends from unknown pool {pool}",
                    request.path
                );
                assert!(*weight >= 1);
            }
        }
    }
}
