//! [`HyperliquidFetcher`]: the [`Fetcher`] of Hyperliquid, composing the pure request
//! builders, parsers and pager of [`crate::http`] over a [`Transport`].
//!
//! What it sends:
//!
//! | call | requests |
//! |---|---|
//! | [`Fetcher::instruments`] | one `meta` of the main dex |
//! | [`Fetcher::current_open_interest`], [`Fetcher::current_funding`] | one `metaAndAssetCtxs` per dex among the instruments asked for (the main dex, `xyz` for `xyz:TSLA`, …), concurrently |
//! | [`Fetcher::open_interest_history`] | none: Hyperliquid keeps no open-interest history |
//! | [`Fetcher::funding_history`] | `fundingHistory` pages, oldest first; plus one `meta` of the coin's dex when no row came back, to tell an unknown coin from an empty range |
//! | [`Fetcher::bars`] | one `meta` of the coin's dex for the precision (once per fetcher), then `candleSnapshot` pages, oldest first (trade bars only; the newest 5000 candles exist) |
//!
//! Current funding comes from `metaAndAssetCtxs`, not `predictedFundings`: one call gives the
//! funding of every asset of a dex together with its mark price and open interest, it covers
//! builder dexes (`predictedFundings` covers the main dex only), and the predicted `HlPerp`
//! rate is the same hourly rate for the same next hour. [`crate::hl_predicted_fundings`] parses
//! `predictedFundings` for callers that want it.

use std::collections::HashMap;
use std::sync::Arc;

use ccxt_model::{
    BarInterval, BarPrice, FundingRate, Instrument, OpenInterest, Precision, Venue, time::now_ns,
};
use ccxt_venue::bars::{BarRules, Clock, PrecisionCache, bar_stream, open_range};
use ccxt_venue::{
    BarStream, FetchError, Fetcher, FundingSnapshot, HttpRequest, HttpResponse, InstrumentInfo,
    OiPeriod, OpenInterestSnapshot, PageStream, SymbolResult, Transport, error_stream, paginate,
};
use futures::StreamExt;
use futures::future::join_all;
use futures::stream;

use crate::http::candles::{BAR_INTERVALS, CANDLES_KEPT, CandlePaginator};
use crate::http::models::{AssetCtx, AssetMeta};
use crate::http::paginate::FundingHistoryPaginator;
use crate::http::parse::{self, DexAssets};
use crate::http::requests::{self, dex_of};

const VENUE: Venue = crate::VENUE;

/// What [`Fetcher::open_interest_history`] answers, as [`FetchError::Unsupported`].
pub const OI_HISTORY_UNSUPPORTED: &str =
    "open interest history (Hyperliquid keeps none; collect it live with the daemon)";

/// Fetches open interest and funding from Hyperliquid's `POST /info`.
///
/// Current values carry no venue timestamp: `ts_event = ts_init =` the time the response
/// arrived. Builder-dex (HIP-3) coins (`xyz:TSLA`) are served whenever they are asked for;
/// [`Fetcher::instruments`] lists the main dex only (see [`HyperliquidFetcher::dex_instruments`]).
#[derive(Clone)]
pub struct HyperliquidFetcher {
    transport: Arc<dyn Transport>,
    precisions: PrecisionCache,
    clock: Clock,
}

impl std::fmt::Debug for HyperliquidFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperliquidFetcher").finish_non_exhaustive()
    }
}

impl HyperliquidFetcher {
    /// A fetcher sending through `transport`, which must point at a Hyperliquid REST root
    /// ([`crate::DEFAULT_REST_URL`]) and enforce [`crate::rate_limits`].
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        HyperliquidFetcher {
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

    /// Every perpetual of one dex (`""` = the main dex, `"xyz"` = a builder dex), with its
    /// status and precision. A dex that does not exist lists nothing.
    pub async fn dex_instruments(&self, dex: &str) -> Result<Vec<InstrumentInfo>, FetchError> {
        let response = self.send(requests::meta(dex)).await?;
        let listed = parse::instrument_infos(&parse::parse_meta(&response)?, dex);
        self.precisions.store(&listed);
        Ok(listed)
    }

    async fn precision(&self, instrument: &Instrument) -> Result<Precision, FetchError> {
        let dex = dex_of(&instrument.native);
        self.precisions
            .lookup(VENUE, &instrument.native, "meta", self.dex_instruments(dex))
            .await
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        self.transport.send(request).await
    }

    /// `metaAndAssetCtxs` of `dex`, and when it arrived.
    async fn dex_assets(&self, dex: &str) -> (Result<DexAssets, FetchError>, u64) {
        let response = self.send(requests::meta_and_asset_ctxs(dex)).await;
        let received_ns = now_ns();
        let assets = response.and_then(|r| parse::parse_dex_assets(&r, dex));
        if let Err(e) = &assets {
            tracing::debug!(dex, error = %e, "hyperliquid metaAndAssetCtxs failed");
        }
        (assets, received_ns)
    }

    /// One `metaAndAssetCtxs` per dex among `instruments`, then `convert` per instrument. A
    /// failed dex call fails that dex's instruments only; an unlisted coin fails alone.
    async fn per_instrument<T, F>(
        &self,
        instruments: &[Instrument],
        convert: F,
    ) -> Vec<SymbolResult<T>>
    where
        F: Fn(&Instrument, &AssetMeta, &AssetCtx, u64) -> Result<T, FetchError> + Send + Sync,
    {
        let mut dexes: Vec<&str> = Vec::new();
        for instrument in instruments.iter().filter(|i| i.venue == VENUE) {
            let dex = dex_of(&instrument.native);
            if !dexes.contains(&dex) {
                dexes.push(dex);
            }
        }
        let answers = join_all(dexes.iter().map(|dex| self.dex_assets(dex))).await;
        let by_dex: HashMap<&str, (Result<DexAssets, FetchError>, u64)> =
            dexes.into_iter().zip(answers).collect();

        instruments
            .iter()
            .map(|instrument| {
                let result = match by_dex.get(dex_of(&instrument.native)) {
                    Some((assets, received_ns)) if instrument.venue == VENUE => assets
                        .as_ref()
                        .map_err(Clone::clone)
                        .and_then(|assets| assets.get(&instrument.native))
                        .and_then(|(meta, ctx)| convert(instrument, meta, ctx, *received_ns)),
                    _ => Err(not_on_venue(instrument)),
                };
                (instrument.clone(), result)
            })
            .collect()
    }

    /// Whether the coin's dex lists it: `None` if that cannot be found out.
    async fn coin_listed(&self, instrument: &Instrument) -> Option<bool> {
        let dex = dex_of(&instrument.native);
        match self.dex_instruments(dex).await {
            Ok(infos) => Some(
                infos
                    .iter()
                    .any(|i| i.instrument.native == instrument.native),
            ),
            Err(e) => {
                tracing::debug!(coin = %instrument.native, error = %e, "cannot check whether a hyperliquid coin is listed");
                None
            }
        }
    }
}

/// The error for an instrument of another venue.
fn not_on_venue(instrument: &Instrument) -> FetchError {
    FetchError::unknown_symbol(VENUE, &instrument.native)
}

/// Where [`Fetcher::funding_history`] is in its stream.
enum HistoryState<'a> {
    /// Passing pages on; `rows` counted so far.
    Paging {
        pages: PageStream<'a, FundingRate>,
        rows: usize,
    },
    /// Finished.
    Done,
}

#[async_trait::async_trait]
impl Fetcher for HyperliquidFetcher {
    fn venue(&self) -> Venue {
        VENUE
    }

    /// The perpetuals of the main dex: delisted ones marked so, funding hourly for all.
    /// Builder dexes are not listed (that would take a call per dex); their coins are fetched
    /// when asked for by name (`xyz:TSLA`).
    async fn instruments(&self) -> Result<Vec<InstrumentInfo>, FetchError> {
        self.dex_instruments("").await
    }

    /// `openInterest` (coins) and `openInterest × markPx` (USD, `None` without a mark price),
    /// stamped with the receive time. Delisted coins are returned too (their open interest is
    /// still a fact, usually 0).
    async fn current_open_interest(
        &self,
        instruments: &[Instrument],
    ) -> Vec<SymbolResult<OpenInterestSnapshot>> {
        self.per_instrument(instruments, |instrument, _, ctx, received_ns| {
            parse::open_interest(instrument, ctx, received_ns)
        })
        .await
    }

    /// The current hourly rate (exact), charged at the next full UTC hour, with the mark
    /// price, stamped with the receive time. Delisted coins are [`FetchError::Unsupported`].
    async fn current_funding(
        &self,
        instruments: &[Instrument],
    ) -> Vec<SymbolResult<FundingSnapshot>> {
        self.per_instrument(instruments, parse::funding_snapshot)
            .await
    }

    /// Always exactly one [`FetchError::Unsupported`]: Hyperliquid keeps no open-interest
    /// history. Nothing is sent.
    fn open_interest_history<'a>(
        &'a self,
        _instrument: &'a Instrument,
        _period: OiPeriod,
        _start_ns: u64,
        _end_ns: u64,
    ) -> PageStream<'a, OpenInterest> {
        error_stream(FetchError::Unsupported {
            venue: VENUE,
            what: OI_HISTORY_UNSUPPORTED.to_string(),
        })
    }

    /// Settled hourly rates in `[start_ns, end_ns]`, oldest first, one page per response. If
    /// no row comes back at all, or the first page is an HTTP error answer (the venue's
    /// answer to an unknown coin is not documented), the coin's dex is asked whether it lists
    /// the coin, and [`FetchError::UnknownSymbol`] ends the stream if it does not.
    fn funding_history<'a>(
        &'a self,
        instrument: &'a Instrument,
        start_ns: u64,
        end_ns: u64,
    ) -> PageStream<'a, FundingRate> {
        if instrument.venue != VENUE {
            return error_stream(not_on_venue(instrument));
        }
        let paginator = FundingHistoryPaginator::new(instrument.clone(), start_ns, end_ns);
        if paginator.is_empty_range() {
            return stream::empty().boxed();
        }
        let pages = paginate(self.transport.as_ref(), paginator);
        stream::unfold(
            HistoryState::Paging { pages, rows: 0 },
            move |state| async move {
                let HistoryState::Paging { mut pages, rows } = state else {
                    return None;
                };
                let unknown = |listed: Option<bool>| listed == Some(false);
                match pages.next().await {
                    Some(Ok(page)) => {
                        let rows = rows + page.len();
                        Some((Ok(page), HistoryState::Paging { pages, rows }))
                    }
                    Some(Err(e)) => {
                        let e = if rows == 0
                            && matches!(e, FetchError::Venue { .. } | FetchError::Http { .. })
                            && unknown(self.coin_listed(instrument).await)
                        {
                            not_on_venue(instrument)
                        } else {
                            e
                        };
                        Some((Err(e), HistoryState::Done))
                    }
                    None if rows == 0 && unknown(self.coin_listed(instrument).await) => {
                        Some((Err(not_on_venue(instrument)), HistoryState::Done))
                    }
                    None => None,
                }
            },
        )
        .boxed()
    }

    /// Trade bars only: Hyperliquid has no mark-price candles.
    fn bar_intervals(&self, price: BarPrice) -> &'static [BarInterval] {
        match price {
            BarPrice::Last => BAR_INTERVALS,
            BarPrice::Mark => &[],
        }
    }

    /// Only the newest 5000 candles of every interval exist.
    fn bar_history_limit(&self, interval: BarInterval) -> Option<u32> {
        let _ = interval;
        Some(CANDLES_KEPT)
    }

    fn bars<'a>(
        &'a self,
        instrument: &'a Instrument,
        interval: BarInterval,
        price: BarPrice,
        start_ns: u64,
        end_ns: u64,
    ) -> BarStream<'a> {
        if instrument.venue != VENUE {
            return stream::iter([Err(not_on_venue(instrument))]).boxed();
        }
        if !self.bar_intervals(price).contains(&interval) {
            let what = match price {
                BarPrice::Mark => "mark-price bars (Hyperliquid has no mark-price candles)".into(),
                BarPrice::Last => format!("{interval} bars (Hyperliquid has no 6-hour candles)"),
            };
            return stream::iter([Err(FetchError::Unsupported { venue: VENUE, what })]).boxed();
        }
        let Some((first, last)) = open_range(interval, start_ns, end_ns) else {
            return stream::empty().boxed();
        };
        bar_stream(self.precision(instrument), move |precision| {
            let rules = BarRules::new(
                VENUE,
                instrument,
                (interval, price),
                precision,
                (start_ns, end_ns),
            );
            let pages = CandlePaginator::new(rules, first, last, self.clock.clone());
            paginate(self.transport.as_ref(), pages)
        })
    }
}
