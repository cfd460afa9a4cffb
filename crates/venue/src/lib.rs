//! The interface every venue connector implements, and the values that cross it.
//!
//! A venue crate (binance, bybit, hyperliquid) is made of pure parts — request builders,
//! parsers, next-page logic, a [`RateLimitSpec`] — plus a [`Fetcher`] implementation that
//! composes them over a [`Transport`]. The transport (rate-limited, retrying HTTP) lives in its
//! own crate and knows nothing about venues; the orchestrator and the CLI know venues only
//! through [`Fetcher`] and [`VenueDescriptor`] (identity, URLs, rate limits, capabilities, the
//! liquidation feed). Adding a venue means one new crate and one registry line.
//!
//! What the connectors share lives here too: [`bars`] (venue candles to checked bars, close
//! ranges to open ranges, the precision cache), [`convert`] (milliseconds to nanoseconds, exact
//! decimals, native symbols to instruments, error-body text), [`funding`] (funding intervals
//! from the spacing of funding times, and their fallback), [`tolerant`] (serde helpers for
//! venue payloads), the per-instrument helpers [`bulk_results`], [`foreign_instrument`] and
//! [`error_stream`], [`testing::FakeTransport`] for connector tests, and [`liquidations`]: the
//! seams ([`liquidations::WsProtocol`], [`liquidations::LiquidationPoller`]) through which each
//! venue crate plugs its liquidation source into the generic loops of `ccxt-stream`.

pub mod bars;
pub mod borrowed;
pub mod convert;
mod descriptor;
mod error;
mod fetcher;
pub mod funding;
mod http;
pub mod liquidations;
mod paginate;
mod period;
pub mod testing;
pub mod tolerant;

pub use descriptor::VenueDescriptor;
pub use error::{ErrorClass, FetchError};
pub use fetcher::{
    BarPage, BarStream, Fetcher, FundingSnapshot, InstrumentInfo, InstrumentStatus,
    OpenInterestSnapshot, PageStream, RejectedBar, SnapshotPrices, SymbolResult, bulk_results,
    error_stream, foreign_instrument,
};
pub use http::{
    HttpMethod, HttpRequest, HttpResponse, Offline, PoolSpec, RateLimitSpec, Transport,
    UsedWeightHeader,
};
pub use paginate::{Page, Paginator, paginate};
pub use period::OiPeriod;
