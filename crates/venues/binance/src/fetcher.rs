//! [`BinanceFetcher`]: the [`Fetcher`] for Binance USDⓈ-M, composing the pure request builders,
//! parsers and paginators over a [`Transport`]. All I/O goes through the transport.

use std::collections::HashMap;
use std::sync::Arc;

use ccxt_model::time::{format_iso, now_ns};
use ccxt_model::{BarInterval, BarPrice, FundingRate, Instrument, OpenInterest, Precision, Venue};
use ccxt_venue::bars::{BarRules, Clock, PrecisionCache, bar_stream, open_range};
use ccxt_venue::funding::fill_missing_intervals;
use ccxt_venue::{
    BarStream, FetchError, Fetcher, FundingSnapshot, HttpRequest, HttpResponse, InstrumentInfo,
    OiPeriod, OpenInterestSnapshot, PageStream, SymbolResult, Transport, bulk_results,
    error_stream, foreign_instrument, paginate,
};
use futures::StreamExt;

use crate::http::klines::{BAR_INTERVALS, KlinePaginator};
use crate::http::models::PremiumIndex;
use crate::http::paginate::{FundingRatePaginator, OpenInterestHistPaginator, clamp_to_retention};
use crate::http::parse::{self, FundingIntervals};
use crate::http::requests;

const VENUE: Venue = crate::VENUE;

/// How many per-symbol open-interest requests are in flight at once (the transport paces them).
pub const OPEN_INTEREST_CONCURRENCY: usize = 8;

/// Fetches open interest and funding from Binance USDⓈ-M futures.
///
/// * Current open interest: one `openInterest` call per symbol plus one `premiumIndex` call for
///   all mark prices (value = open interest × mark price).
/// * Current funding: one `premiumIndex` call and one `fundingInfo` call for all symbols.
/// * Open-interest history: the last 30 days only; an older start is moved to the cutoff with a
///   warning.
/// * Funding history: intervals from the spacing of funding times, else `fundingInfo`.
/// * Bars: `klines` / `markPriceKlines` pages forward by `startTime`, 1000 a page (see
///   [`crate::http::klines`]), every interval of [`BarInterval::ALL`] for both prices, with
///   the precision of `exchangeInfo` (listed once per fetcher, or when an instrument is not
///   known yet).
#[derive(Clone)]
pub struct BinanceFetcher {
    transport: Arc<dyn Transport>,
    precisions: PrecisionCache,
    clock: Clock,
}

impl std::fmt::Debug for BinanceFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinanceFetcher").finish_non_exhaustive()
    }
}

impl BinanceFetcher {
    /// A fetcher sending through `transport` (built with [`crate::rate_limits`] and
    /// [`crate::DEFAULT_REST_URL`]).
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        BinanceFetcher {
            transport,
            precisions: PrecisionCache::default(),
            clock: Clock::system(),
        }
    }

    /// The same fetcher telling closed candles from the forming one by `clock` instead of the
    /// system clock (a simulator with a pinned clock).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    async fn precision(&self, instrument: &Instrument) -> Result<Precision, FetchError> {
        self.precisions
            .lookup(
                VENUE,
                &instrument.native,
                "exchangeInfo",
                self.instruments(),
            )
            .await
    }

    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, FetchError> {
        self.transport.send(request.clone()).await
    }

    async fn funding_intervals(&self) -> Result<FundingIntervals, FetchError> {
        let request = requests::funding_info();
        let response = self.send(&request).await?;
        parse::parse_funding_info(&request, &response)
    }

    async fn premium_index(&self) -> Result<(HashMap<String, PremiumIndex>, u64), FetchError> {
        let request = requests::premium_index_all();
        let response = self.send(&request).await?;
        let ts_init = now_ns();
        Ok((parse::parse_premium_index(&request, &response)?, ts_init))
    }

    async fn open_interest_of(
        &self,
        instrument: &Instrument,
        mark_price: Option<f64>,
    ) -> Result<OpenInterest, FetchError> {
        if let Some(e) = foreign_instrument(VENUE, instrument) {
            return Err(e);
        }
        let request = requests::open_interest(&instrument.native);
        let response = self.send(&request).await?;
        let ts_init = now_ns();
        parse::parse_open_interest(&request, &response, instrument, mark_price, ts_init)
    }

    /// One instrument's current open interest, with the prices of its `premiumIndex` entry
    /// (`None` when that call failed: the open interest is still reported, without a value).
    async fn open_interest_entry(
        &self,
        instrument: &Instrument,
        premium: Option<(&PremiumIndex, u64)>,
    ) -> SymbolResult<OpenInterestSnapshot> {
        let prices = premium
            .map(|(p, ts_init)| parse::premium_prices(instrument, p, ts_init))
            .unwrap_or_default();
        let result = self
            .open_interest_of(instrument, prices.mark_f64())
            .await
            .map(|open_interest| OpenInterestSnapshot {
                open_interest,
                prices,
            });
        (instrument.clone(), result)
    }

    /// The interval for funding rows whose spacing did not tell: the `fundingInfo` value, or
    /// `None` if that call fails.
    async fn fallback_interval(&self, instrument: &Instrument) -> Option<u16> {
        match self.funding_intervals().await {
            Ok(intervals) => Some(parse::funding_interval(&intervals, &instrument.native)),
            Err(error) => {
                tracing::warn!(symbol = %instrument.native, %error, "binance fundingInfo failed; funding intervals left unknown");
                None
            }
        }
    }
}

#[async_trait::async_trait]
impl Fetcher for BinanceFetcher {
    fn venue(&self) -> Venue {
        VENUE
    }

    async fn instruments(&self) -> Result<Vec<InstrumentInfo>, FetchError> {
        let request = requests::exchange_info();
        let response = self.send(&request).await?;
        let info = parse::parse_exchange_info(&request, &response)?;
        let intervals = self.funding_intervals().await?;
        let (listed, skipped) = parse::instruments(&info, &intervals);
        if !skipped.is_empty() {
            tracing::warn!(symbols = ?skipped, "binance perpetuals skipped: their symbols cannot be named as instrument ids");
        }
        self.precisions.store(&listed);
        Ok(listed)
    }

    async fn current_open_interest(
        &self,
        instruments: &[Instrument],
    ) -> Vec<SymbolResult<OpenInterestSnapshot>> {
        let (marks, marks_at) = if instruments
            .iter()
            .any(|i| foreign_instrument(VENUE, i).is_none())
        {
            match self.premium_index().await {
                Ok(answer) => answer,
                Err(error) => {
                    tracing::warn!(%error, "binance premiumIndex failed; open-interest values and prices left empty");
                    (HashMap::new(), 0)
                }
            }
        } else {
            (HashMap::new(), 0)
        };
        // Futures made up front (not polled yet): a closure returning an async block trips
        // async-trait's lifetime inference.
        let pending: Vec<_> = instruments
            .iter()
            .map(|instrument| {
                let premium = marks.get(&instrument.native).map(|p| (p, marks_at));
                self.open_interest_entry(instrument, premium)
            })
            .collect();
        futures::stream::iter(pending)
            .buffered(OPEN_INTEREST_CONCURRENCY)
            .collect()
            .await
    }

    async fn current_funding(
        &self,
        instruments: &[Instrument],
    ) -> Vec<SymbolResult<FundingSnapshot>> {
        let premium = if instruments
            .iter()
            .any(|i| foreign_instrument(VENUE, i).is_none())
        {
            self.premium_index().await
        } else {
            // Nothing of ours to ask for: every instrument gets its own error below.
            Ok((HashMap::new(), 0))
        };
        let intervals = match &premium {
            Ok((all, _)) if !all.is_empty() => match self.funding_intervals().await {
                Ok(intervals) => Some(intervals),
                Err(error) => {
                    tracing::warn!(%error, "binance fundingInfo failed; funding intervals left unknown");
                    None
                }
            },
            _ => None,
        };
        bulk_results(
            VENUE,
            instruments,
            &premium,
            |instrument, (all, ts_init)| {
                let p = all
                    .get(&instrument.native)
                    .ok_or_else(|| FetchError::unknown_symbol(VENUE, &instrument.native))?;
                let interval = intervals
                    .as_ref()
                    .map(|m| parse::funding_interval(m, &instrument.native));
                parse::funding_snapshot(instrument, p, interval, *ts_init)
            },
        )
    }

    fn open_interest_history<'a>(
        &'a self,
        instrument: &'a Instrument,
        period: OiPeriod,
        start_ns: u64,
        end_ns: u64,
    ) -> PageStream<'a, OpenInterest> {
        if let Some(e) = foreign_instrument(VENUE, instrument) {
            return error_stream(e);
        }
        let now = now_ns();
        let (start, cutoff) = clamp_to_retention(start_ns, now);
        if let Some(cutoff) = cutoff {
            tracing::warn!(
                symbol = %instrument.native,
                requested_start = %format_iso(start_ns),
                cutoff = %format_iso(cutoff),
                "binance keeps only the last 30 days of open-interest history; fetching from the cutoff, older buckets are skipped"
            );
        }
        // No bucket exists after now: windows past it would all come back empty.
        let end = end_ns.min(now);
        match OpenInterestHistPaginator::new(instrument.clone(), period, start, end) {
            Some(paginator) => paginate(self.transport.as_ref(), paginator),
            None => futures::stream::empty().boxed(),
        }
    }

    fn funding_history<'a>(
        &'a self,
        instrument: &'a Instrument,
        start_ns: u64,
        end_ns: u64,
    ) -> PageStream<'a, FundingRate> {
        if let Some(e) = foreign_instrument(VENUE, instrument) {
            return error_stream(e);
        }
        let Some(paginator) = FundingRatePaginator::new(instrument.clone(), start_ns, end_ns)
        else {
            return futures::stream::empty().boxed();
        };
        let pages = paginate(self.transport.as_ref(), paginator);
        // Rows whose interval the spacing did not give get the fundingInfo value, asked for
        // once and only if needed.
        fill_missing_intervals(pages, move || self.fallback_interval(instrument))
    }

    fn bar_intervals(&self, price: BarPrice) -> &'static [BarInterval] {
        let _ = price;
        BAR_INTERVALS
    }

    fn bars<'a>(
        &'a self,
        instrument: &'a Instrument,
        interval: BarInterval,
        price: BarPrice,
        start_ns: u64,
        end_ns: u64,
    ) -> BarStream<'a> {
        if let Some(e) = foreign_instrument(VENUE, instrument) {
            return futures::stream::iter([Err(e)]).boxed();
        }
        let Some((first, last)) = open_range(interval, start_ns, end_ns) else {
            return futures::stream::empty().boxed();
        };
        bar_stream(self.precision(instrument), move |precision| {
            let rules = BarRules::new(
                VENUE,
                instrument,
                (interval, price),
                precision,
                (start_ns, end_ns),
            );
            let pages = KlinePaginator::new(rules, price, first, last, self.clock.clone());
            paginate(self.transport.as_ref(), pages)
        })
    }
}
