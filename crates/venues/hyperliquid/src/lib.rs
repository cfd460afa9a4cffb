//! Hyperliquid perpetuals connector.
//!
//! Hyperliquid serves all market data from one endpoint, `POST /info`, with a JSON body
//! `{"type": ...}`. This crate is made of pure parts and one thin I/O layer:
//!
//! | module | owns |
//! |---|---|
//! | [`http::models`] | serde structs of the `/info` payloads, tolerant of strings vs numbers and null fields |
//! | [`http::requests`] | request builders (`meta`, `metaAndAssetCtxs`, `fundingHistory`, `predictedFundings`, …) with their rate-limit weight |
//! | [`http::parse`] | response → records, and response → typed [`FetchError`](ccxt_venue::FetchError) |
//! | [`http::paginate`] | the forward pager of `fundingHistory` |
//! | [`websocket`] | messages of the WebSocket API (pong, subscription acks, user fills with liquidations) |
//! | [`fetcher`] | [`HyperliquidFetcher`], the [`ccxt_venue::Fetcher`] composing the above over a [`ccxt_venue::Transport`] |
//!
//! Venue facts this crate relies on:
//!
//! * Funding is charged every hour on the hour for every asset, so the interval is always
//!   [`FUNDING_INTERVAL_MINUTES`] and the next funding time is the next full UTC hour.
//! * Coins are named `BTC`, `kPEPE` (1000-unit contracts) and, on builder-deployed (HIP-3) dexes,
//!   `dex:COIN` (`xyz:TSLA`). Every `/info` market-data call answers for one dex; the main dex
//!   is the default (no `dex` in the body).
//! * `metaAndAssetCtxs` gives open interest (in coins), funding and mark price of every asset of
//!   a dex at once, with no timestamp: current values are stamped with the receive time.
//! * There is no open-interest history endpoint.

pub mod fetcher;
pub mod http;
pub mod liquidations;
pub mod symbol;
pub mod websocket;

use ccxt_venue::VenueDescriptor;
use ccxt_venue::liquidations::{FeedKind, FeedSettings, Keepalive, LiquidationFeed};

/// Hyperliquid perpetuals, as the layers above see it (one line in the CLI's registry).
pub static DESCRIPTOR: HyperliquidDescriptor = HyperliquidDescriptor;

/// The [`VenueDescriptor`] of Hyperliquid.
#[derive(Debug, Clone, Copy)]
pub struct HyperliquidDescriptor;

impl VenueDescriptor for HyperliquidDescriptor {
    fn venue(&self) -> ccxt_model::Venue {
        crate::VENUE
    }

    fn title(&self) -> &'static str {
        "Hyperliquid perpetuals"
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
        std::sync::Arc::new(HyperliquidFetcher::new(transport))
    }

    fn oi_history_help(&self) -> Option<&'static str> {
        Some("Hyperliquid keeps none")
    }

    fn liquidation_help(&self) -> &'static str {
        "Hyperliquid by polling the fills of the liquidator vault (backstop liquidations only; liquidations executed through the order book are not public)"
    }

    fn oi_history(&self) -> bool {
        false
    }

    fn liquidation_kind(&self) -> FeedKind {
        FeedKind::Poll
    }

    fn keepalive(&self) -> Keepalive {
        Keepalive::default()
    }

    fn liquidation_feed(
        &self,
        settings: FeedSettings,
    ) -> Result<std::sync::Arc<dyn LiquidationFeed>, String> {
        let feed = liquidations::UserFillsFeed::from_settings(settings)?;
        Ok(std::sync::Arc::new(feed))
    }
}

#[cfg(test)]
mod fixtures;

use std::time::Duration;

use ccxt_venue::{PoolSpec, RateLimitSpec};

pub use fetcher::HyperliquidFetcher;
pub use http::paginate::FundingHistoryPaginator;
pub use http::parse::{HlPredictedFunding, hl_predicted_fundings};
pub use symbol::VENUE;

/// The REST root (mainnet). All market data is `POST {DEFAULT_REST_URL}/info`.
pub const DEFAULT_REST_URL: &str = "https://api.hyperliquid.xyz";

/// The WebSocket endpoint (mainnet).
pub const DEFAULT_WS_URL: &str = "wss://api.hyperliquid.xyz/ws";

/// The name of the one rate-limit pool: Hyperliquid limits REST weight per IP.
pub const RATE_LIMIT_POOL: &str = "ip";

/// Funding interval of every Hyperliquid perpetual, in minutes ("the funding cap and funding
/// interval do not depend on the asset").
pub const FUNDING_INTERVAL_MINUTES: u16 = 60;

/// How Hyperliquid limits REST requests: an aggregated weight of 1200 per minute per IP.
///
/// Hyperliquid reports no used weight in a header and documents no ban status; exceeding the
/// limit answers HTTP 429.
pub fn rate_limits() -> RateLimitSpec {
    RateLimitSpec {
        pools: vec![PoolSpec {
            name: RATE_LIMIT_POOL,
            capacity: 1200,
            window: Duration::from_secs(60),
        }],
        used_weight_header: None,
        ban_status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_are_one_ip_pool_without_headers() {
        let spec = rate_limits();
        assert_eq!(spec.pools.len(), 1);
        assert_eq!(spec.pools[0].name, "ip");
        assert_eq!(spec.pools[0].capacity, 1200);
        assert_eq!(spec.pools[0].window, Duration::from_secs(60));
        assert_eq!(spec.used_weight_header, None);
        assert_eq!(spec.ban_status, None);
    }
}
