//! [`BybitFetcher`]: the [`Fetcher`] for Bybit v5 linear perpetuals, composing the pure request
//! builders, parsers and paginators over a [`Transport`]. All I/O goes through the transport.

use std::sync::Arc;

use ccxt_model::time::now_ns;
use ccxt_model::{BarInterval, BarPrice, FundingRate, Instrument, OpenInterest, Precision, Venue};
use ccxt_venue::bars::{BarRules, Clock, PrecisionCache, bar_stream, open_range};
use ccxt_venue::convert::ms_to_ns;
use ccxt_venue::funding::fill_missing_intervals;
use ccxt_venue::{
    BarStream, FetchError, Fetcher, FundingSnapshot, HttpRequest, HttpResponse, InstrumentInfo,
    OiPeriod, OpenInterestSnapshot, PageStream, SymbolResult, Transport, bulk_results,
    error_stream, foreign_instrument, paginate,
};
use futures::{StreamExt, TryStreamExt};

use crate::http::klines::{BAR_INTERVALS, KlinePaginator};
use crate::http::paginate::{
    FundingHistoryPaginator, InstrumentsPaginator, OpenInterestPaginator, Watermark,
};
use crate::http::parse::{self, Tickers};
use crate::http::requests;

const VENUE: Venue = crate::VENUE;

/// Fetches open interest and funding from Bybit v5 (`category=linear`, perpetuals only).
///
/// * Instruments: the default listing and the `PreLaunch` listing, each paged by cursor.
/// * Current open interest and funding: one `tickers` call for all symbols.
/// * Open-interest history: cursor pages, newest first; no USD value (Bybit gives none).
/// * Funding history: pages backwards by `endTime`; intervals from the spacing of funding
///   times, else `instruments-info`.
/// * Bars: `kline` / `mark-price-kline` pages backwards by `end`, 1000 a page, newest page
///   first (see [`crate::http::klines`]), every interval of [`BarInterval::ALL`] but 8 h, with
///   the precision of `instruments-info` (listed once per fetcher, or when an instrument is
///   not known yet).
#[derive(Clone)]
pub struct BybitFetcher {
    transport: Arc<dyn Transport>,
    precisions: PrecisionCache,
    clock: Clock,
}

impl std::fmt::Debug for BybitFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BybitFetcher").finish_non_exhaustive()
    }
}

/// Runs a newest-first history through a [`Watermark`], so no row is yielded twice.
fn once_each<'a, T: Send + 'a>(pages: PageStream<'a, T>, ts: fn(&T) -> u64) -> PageStream<'a, T> {
    pages
        .scan(Watermark::default(), move |mark, page| {
            let page = page.map(|mut rows| {
                mark.retain_older(&mut rows, ts);
                rows
            });
            futures::future::ready(Some(page))
        })
        .boxed()
}

impl BybitFetcher {
    /// A fetcher sending through `transport` (built with [`crate::rate_limits`] and
    /// [`crate::DEFAULT_REST_URL`]).
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        BybitFetcher {
            transport,
            precisions: PrecisionCache::default(),
            clock: Clock::system(),
        }
    }

    /// The same fetcher telling closed candles from the forming one by `clock` (and Bybit's
    /// `time`, whichever is earlier) instead of the system clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    async fn precision(&self, instrument: &Instrument) -> Result<Precision, FetchError> {
        self.precisions
            .lookup(
                VENUE,
                &instrument.native,
                "instruments-info",
                self.instruments(),
            )
            .await
    }

    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, FetchError> {
        self.transport.send(request.clone()).await
    }

    /// One `tickers` call, if any instrument is ours, with its receive time.
    async fn tickers(&self, instruments: &[Instrument]) -> Result<(Tickers, u64), FetchError> {
        if instruments
            .iter()
            .all(|i| foreign_instrument(VENUE, i).is_some())
        {
            // Nothing to ask for: every instrument gets its own error.
            return Ok((
                Tickers {
                    time_ms: 0,
                    by_symbol: Default::default(),
                },
                0,
            ));
        }
        let request = requests::tickers();
        let response = self.send(&request).await?;
        let ts_init = now_ns();
        Ok((parse::parse_tickers(&request, &response)?, ts_init))
    }

    /// Applies `convert` to each instrument's ticker; a symbol without a ticker is unknown.
    fn per_symbol<T>(
        instruments: &[Instrument],
        tickers: &Result<(Tickers, u64), FetchError>,
        convert: impl Fn(&Instrument, &crate::http::models::Ticker, u64, u64) -> Result<T, FetchError>,
    ) -> Vec<SymbolResult<T>> {
        bulk_results(
            VENUE,
            instruments,
            tickers,
            |instrument, (tickers, ts_init)| {
                let ticker = tickers
                    .by_symbol
                    .get(&instrument.native)
                    .ok_or_else(|| FetchError::unknown_symbol(VENUE, &instrument.native))?;
                convert(instrument, ticker, ms_to_ns(tickers.time_ms), *ts_init)
            },
        )
    }

    /// The interval for funding rows whose spacing did not tell: `instruments-info`'s
    /// `fundingInterval`, or `None` if that call fails or does not list the symbol.
    async fn fallback_interval(&self, instrument: &Instrument) -> Option<u16> {
        let request = requests::instrument_info(&instrument.native);
        let result = match self.send(&request).await {
            Ok(response) => {
                parse::parse_instrument_interval(&request, &response, &instrument.native)
            }
            Err(e) => Err(e),
        };
        result.unwrap_or_else(|error| {
            tracing::warn!(symbol = %instrument.native, %error, "bybit instruments-info failed; funding intervals left unknown");
            None
        })
    }
}

#[async_trait::async_trait]
impl Fetcher for BybitFetcher {
    fn venue(&self) -> Venue {
        VENUE
    }

    async fn instruments(&self) -> Result<Vec<InstrumentInfo>, FetchError> {
        let transport = self.transport.as_ref();
        let mut items: Vec<_> = paginate(transport, InstrumentsPaginator::trading())
            .try_concat()
            .await?;
        let pre_launch: Vec<_> = paginate(transport, InstrumentsPaginator::pre_launch())
            .try_concat()
            .await?;
        items.extend(pre_launch);
        let (listed, skipped) = parse::instruments(&items);
        if !skipped.is_empty() {
            tracing::warn!(symbols = ?skipped, "bybit perpetuals skipped: their symbols cannot be named as instrument ids");
        }
        self.precisions.store(&listed);
        Ok(listed)
    }

    async fn current_open_interest(
        &self,
        instruments: &[Instrument],
    ) -> Vec<SymbolResult<OpenInterestSnapshot>> {
        let tickers = self.tickers(instruments).await;
        Self::per_symbol(instruments, &tickers, parse::ticker_open_interest)
    }

    async fn current_funding(
        &self,
        instruments: &[Instrument],
    ) -> Vec<SymbolResult<FundingSnapshot>> {
        let tickers = self.tickers(instruments).await;
        Self::per_symbol(instruments, &tickers, parse::ticker_funding)
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
        match OpenInterestPaginator::new(instrument.clone(), period, start_ns, end_ns) {
            Some(paginator) => {
                once_each(paginate(self.transport.as_ref(), paginator), |r| r.ts_event)
            }
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
        let Some(paginator) = FundingHistoryPaginator::new(instrument.clone(), start_ns, end_ns)
        else {
            return futures::stream::empty().boxed();
        };
        let pages = once_each(paginate(self.transport.as_ref(), paginator), |r| r.ts_event);
        // Rows whose interval the spacing did not give get the instruments-info value, asked
        // for once and only if needed.
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
        if !BAR_INTERVALS.contains(&interval) {
            return futures::stream::iter([Err(FetchError::Unsupported {
                venue: VENUE,
                what: format!("{interval} bars (Bybit has no 8-hour candles)"),
            })])
            .boxed();
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
            match KlinePaginator::new(rules, price, first, last, self.clock.clone()) {
                Some(pages) => paginate(self.transport.as_ref(), pages),
                None => futures::stream::empty().boxed(),
            }
        })
    }
}
