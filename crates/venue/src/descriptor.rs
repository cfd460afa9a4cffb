//! [`VenueDescriptor`]: what a venue crate says about itself, so that everything above the
//! venue crates (the CLI, the daemon, the stream) works with any venue without naming it.
//! Each venue crate has one static value implementing it (`ccxt_binance::DESCRIPTOR`, …);
//! `ccxt-registry` lists them, one line each. The venue's identity and symbol grammar are its
//! [`ccxt_model::VenueGrammar`], behind the [`Venue`] handle [`VenueDescriptor::venue`] returns.

use std::sync::Arc;

use ccxt_model::Venue;

use crate::liquidations::{FeedKind, FeedSettings, Keepalive, LiquidationFeed};
use crate::{Fetcher, Offline, RateLimitSpec, Transport};

/// A venue, as its crate describes it.
pub trait VenueDescriptor: Send + Sync + 'static {
    /// The venue: the handle to its [`ccxt_model::VenueGrammar`] (the crate's `VENUE`).
    fn venue(&self) -> Venue;

    /// What it is, in a few words (`-e` help): "Binance USD-M futures".
    fn title(&self) -> &'static str;

    /// The production REST root.
    fn default_rest_url(&self) -> &'static str;

    /// The production WebSocket root.
    fn default_ws_url(&self) -> &'static str;

    /// Its rate-limit pools.
    fn rate_limits(&self) -> RateLimitSpec;

    /// Its [`Fetcher`] over a transport.
    fn connect(&self, transport: Arc<dyn Transport>) -> Arc<dyn Fetcher>;

    /// Its [`Fetcher`] without a network, to ask what it serves ([`Fetcher::bar_intervals`],
    /// [`Fetcher::bar_history_limit`]); every request fails ([`Offline`]).
    fn offline_fetcher(&self) -> Arc<dyn Fetcher> {
        self.connect(Arc::new(Offline(self.venue())))
    }

    /// How deep its open-interest history goes, one phrase naming the venue, for the CLI's
    /// help ("Binance keeps only the last 30 days"); `None` when it keeps all of it.
    fn oi_history_help(&self) -> Option<&'static str>;

    /// Its liquidation source, one phrase naming the venue and what the source misses, for
    /// the CLI's help ("Bybit allLiquidation.<SYMBOL>").
    fn liquidation_help(&self) -> &'static str;

    /// Whether it serves open-interest history (the daemon refills downtime from it; without
    /// it, a downtime is an open-interest gap).
    fn oi_history(&self) -> bool;

    /// How it delivers liquidations.
    fn liquidation_kind(&self) -> FeedKind;

    /// Its WebSocket keep-alive and rotation.
    fn keepalive(&self) -> Keepalive {
        Keepalive::default()
    }

    /// Its liquidation source, configured; a one-line problem if the settings cannot make one
    /// (a polling feed without its transport).
    fn liquidation_feed(&self, settings: FeedSettings) -> Result<Arc<dyn LiquidationFeed>, String>;
}
