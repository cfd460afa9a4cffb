//! The [`Fetcher`] trait: what every venue connector can fetch.

use ccxt_model::{FundingRate, Instrument, OpenInterest, Venue};
use futures::stream::BoxStream;

use crate::{FetchError, OiPeriod};

/// Pages of rows as they arrive, oldest or newest first as the venue pages; each page is a
/// `Vec` so callers store it before asking for the next (memory stays bounded).
pub type PageStream<'a, T> = BoxStream<'a, Result<Vec<T>, FetchError>>;

/// The outcome for one instrument of a bulk fetch.
pub type SymbolResult<T> = (Instrument, Result<T, FetchError>);

/// Whether an instrument can be traded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstrumentStatus {
    /// Trading.
    Trading,
    /// Listed but not trading yet (pre-launch).
    PreLaunch,
    /// Halted, settling, delisted or closed: no new data.
    Delisted,
    /// Any other venue status, kept verbatim.
    Other(String),
}

/// A perpetual listed on a venue.
#[derive(Debug, Clone, PartialEq)]
pub struct InstrumentInfo {
    /// The instrument.
    pub instrument: Instrument,
    /// Its status.
    pub status: InstrumentStatus,
    /// Funding interval in minutes, when the venue lists it.
    pub funding_interval_minutes: Option<u16>,
}

/// A live funding snapshot: the estimate for the next funding, with the mark price if given.
#[derive(Debug, Clone, PartialEq)]
pub struct FundingSnapshot {
    /// The rate, its interval and the next funding time (`next_funding_ns` is set).
    pub funding: FundingRate,
    /// Mark price at the snapshot, when the venue reports it.
    pub mark_price: Option<f64>,
}

/// Fetches open interest and funding from one venue.
///
/// Timestamps: for current values `ts_event` is the venue's time (or the receive time when the
/// venue gives none, as Hyperliquid) and `ts_init` the receive time; for history
/// `ts_init == ts_event`.
#[async_trait::async_trait]
pub trait Fetcher: Send + Sync {
    /// The venue.
    fn venue(&self) -> Venue;

    /// Every perpetual the venue lists, with its status.
    async fn instruments(&self) -> Result<Vec<InstrumentInfo>, FetchError>;

    /// Current open interest of each instrument (one bulk call where the venue has one).
    async fn current_open_interest(
        &self,
        instruments: &[Instrument],
    ) -> Vec<SymbolResult<OpenInterest>>;

    /// Current funding of each instrument: rate, interval, next funding time, mark price.
    async fn current_funding(
        &self,
        instruments: &[Instrument],
    ) -> Vec<SymbolResult<FundingSnapshot>>;

    /// Open-interest history in `[start_ns, end_ns]`, page by page. Venues without history
    /// yield one [`FetchError::Unsupported`].
    fn open_interest_history<'a>(
        &'a self,
        instrument: &'a Instrument,
        period: OiPeriod,
        start_ns: u64,
        end_ns: u64,
    ) -> PageStream<'a, OpenInterest>;

    /// Settled funding rates in `[start_ns, end_ns]`, page by page.
    fn funding_history<'a>(
        &'a self,
        instrument: &'a Instrument,
        start_ns: u64,
        end_ns: u64,
    ) -> PageStream<'a, FundingRate>;
}
