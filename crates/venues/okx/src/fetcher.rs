//! [`OkxFetcher`]: the [`Fetcher`] for OKX perpetual swaps, composing the request builders,
//! parsers and paginators over a [`Transport`]. All I/O goes through the transport.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ccxt_model::time::{format_iso, now_ns};
use ccxt_model::{BarInterval, BarPrice, FundingRate, Instrument, OpenInterest, Precision, Venue};
use ccxt_venue::bars::{BarRules, Clock, PrecisionCache, bar_stream, open_range};
use ccxt_venue::convert::{ms_range, ms_to_ns};
use ccxt_venue::funding::fill_missing_intervals;
use ccxt_venue::{
    BarStream, FetchError, Fetcher, FundingSnapshot, HttpRequest, HttpResponse, InstrumentInfo,
    OiPeriod, OpenInterestSnapshot, PageStream, SnapshotPrices, SymbolResult, bulk_results,
    error_stream, foreign_instrument, paginate,
};
use futures::StreamExt;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::http::paginate::{bar_name, rubik_period_name};
use crate::http::parse::{self, SwapInstrument};
use crate::http::requests;
use crate::pages::{CandlePages, FundingHistoryPages, OiHistoryPages, Reached, fetch_error};

const VENUE: Venue = crate::symbol::VENUE;

/// The bar intervals OKX serves over REST, trade and mark alike (UTC-aligned `6Hutc`,
/// `12Hutc`, `1Dutc`, `1Wutc`, `1Mutc` for the longer ones); no 8-hour candles.
pub const BAR_INTERVALS: &[BarInterval] = &[
    BarInterval::M1,
    BarInterval::M3,
    BarInterval::M5,
    BarInterval::M15,
    BarInterval::M30,
    BarInterval::H1,
    BarInterval::H2,
    BarInterval::H4,
    BarInterval::H6,
    BarInterval::H12,
    BarInterval::D1,
    BarInterval::W1,
    BarInterval::Month1,
];

/// OKX's `bar` for one of [`BAR_INTERVALS`]; `None` for 8 h.
pub fn bar_of(interval: BarInterval) -> Option<&'static str> {
    match interval {
        BarInterval::Month1 => Some("1Mutc"),
        BarInterval::H8 => None,
        other => bar_name(other.fixed_ns()? / 1_000_000),
    }
}

/// What the fetcher needs to know of a listed swap: contract value and kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contract {
    /// Coins per contract (`ctVal × ctMult`); USD for inverse swaps.
    pub value: Decimal,
    /// Coin-margined (inverse) swap.
    pub inverse: bool,
}

/// Whether a listed swap is in the collected universe: a USDT- or USDC-margined linear swap
/// on a crypto asset (stock perpetuals, pre-market, inverse and USD-margined swaps are not;
/// a pre-open row, which carries no fields yet, is judged by its `instId`).
pub fn in_universe(swap: &SwapInstrument) -> bool {
    let named = crate::symbol::parse_native(&swap.inst_id).is_some();
    match swap.category {
        parse::SwapCategory::StockPerpetual | parse::SwapCategory::PreMarket => false,
        _ if swap.status == ccxt_venue::InstrumentStatus::PreLaunch => named,
        _ => {
            named
                && !swap.inverse
                && swap
                    .settle_ccy
                    .as_deref()
                    .is_some_and(|s| crate::symbol::QUOTES.contains(&s))
        }
    }
}

/// The precision of a swap's stored figures: prices on `tickSz`, sizes in coins on
/// `lotSz × ctVal` (BTC-USDT-SWAP: lot 0.01 × 0.01 BTC → 4 decimals).
pub fn coin_precision(swap: &SwapInstrument) -> Option<Precision> {
    let tick = swap.tick_size?;
    let step = swap.lot_size?.checked_mul(swap.contract_value?)?;
    Some(Precision {
        price: Precision::decimals_of(tick),
        size: Precision::decimals_of(step),
    })
}

/// The listing status OKX's fields say: `expTime` set on a live swap is an announced
/// delisting, still trading until then.
fn info(swap: &SwapInstrument) -> InstrumentInfo {
    InstrumentInfo {
        instrument: Instrument::from_native(VENUE, swap.inst_id.clone()),
        status: swap.status.clone(),
        funding_interval_minutes: None,
        precision: coin_precision(swap),
    }
}

/// Contract values by `instId`, shared by clones of the fetcher (and by the liquidation
/// feed), filled whenever the instruments are listed.
#[derive(Debug, Clone, Default)]
pub struct ContractTable(Arc<Contracts>);

/// The shared part of a [`ContractTable`].
#[derive(Debug, Default)]
struct Contracts {
    map: Mutex<Option<HashMap<String, Contract>>>,
    /// How many times the table was stored (0: never).
    generation: AtomicU64,
}

impl ContractTable {
    /// Replaces the table with the contracts of `swaps`.
    pub fn store(&self, swaps: &[SwapInstrument]) {
        let map = swaps
            .iter()
            .filter_map(|s| {
                Some((
                    s.inst_id.clone(),
                    Contract {
                        value: s.contract_value?,
                        inverse: s.inverse,
                    },
                ))
            })
            .collect();
        *self.0.map.lock().unwrap_or_else(|e| e.into_inner()) = Some(map);
        self.0.generation.fetch_add(1, Ordering::Release);
    }

    /// How many times the table was stored (0: never): an answer of [`ContractTable::get`]
    /// stays true as long as this does not change.
    pub fn generation(&self) -> u64 {
        self.0.generation.load(Ordering::Acquire)
    }

    /// Whether the table was filled.
    pub fn is_loaded(&self) -> bool {
        self.0
            .map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// The contract of `inst_id`: `None` when the table is not filled yet, `Some(None)` when
    /// the swap is not listed (or listed without a contract value).
    pub fn get(&self, inst_id: &str) -> Option<Option<Contract>> {
        let table = self.0.map.lock().unwrap_or_else(|e| e.into_inner());
        table.as_ref().map(|m| m.get(inst_id).copied())
    }
}

/// Fetches open interest, funding and bars from OKX (`instType=SWAP`).
///
/// * Instruments: `public/instruments?instType=SWAP`, one call; only USDT- and USDC-margined
///   linear crypto swaps are listed ([`in_universe`]). Listing state: `live`/`post_only`
///   trading, `preopen` pre-launch, `suspend` and others verbatim; an announced delisting is
///   in `expTime` and a delisted swap drops out of the list.
/// * Current open interest: ONE `public/open-interest?instType=SWAP` call for every swap;
///   coins are OKX's `oiCcy` (else contracts × `ctVal`), USD value `oiUsd`. No mark or index
///   price (OKX's answer carries none).
/// * Current funding: ONE `public/funding-rate?instId=ANY` call: the predicted rate for
///   `fundingTime`, exact; interval `nextFundingTime − fundingTime`.
/// * Open-interest history: rubik, 100 rows a page backwards; OKX keeps only the latest 1,440
///   rows per period: older buckets are named in a warning, not fetched.
/// * Funding history: 400 rows a page backwards by `after`; OKX keeps about 3 months.
/// * Bars: `candles` (latest 1,440) then `history-candles`, trade and mark, 300/100 a page;
///   the forming candle (`confirm` "0") never comes out.
#[derive(Clone)]
pub struct OkxFetcher {
    transport: Arc<dyn Transport>,
    precisions: PrecisionCache,
    contracts: ContractTable,
    clock: Clock,
}

use ccxt_venue::Transport;

impl std::fmt::Debug for OkxFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OkxFetcher").finish_non_exhaustive()
    }
}

/// A bulk endpoint's parser: rows and the reasons rows were skipped.
type RowsParser<T> = fn(u16, &[u8]) -> Result<(Vec<T>, Vec<String>), parse::OkxError>;

/// Passes `pages` on; once they end, warns (once) if OKX ran out before `start_ms`.
fn note_depth<'a, T: Send + 'a>(
    pages: PageStream<'a, T>,
    reached: Reached,
    what: String,
    start_ms: u64,
) -> PageStream<'a, T> {
    let note = futures::stream::once(async move {
        if let Some(oldest) = reached.ran_out_at() {
            tracing::warn!(
                venue = "okx",
                requested_start = %format_iso(ms_to_ns(start_ms)),
                oldest = %format_iso(ms_to_ns(oldest)),
                "{what}; the part before the oldest row OKX served is skipped"
            );
        }
    })
    .filter_map(|()| futures::future::ready(None));
    pages.chain(note).boxed()
}

impl OkxFetcher {
    /// A fetcher sending through `transport` (built with [`crate::rate_limits`] and
    /// [`crate::DEFAULT_REST_URL`]).
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        OkxFetcher {
            transport,
            precisions: PrecisionCache::default(),
            contracts: ContractTable::default(),
            clock: Clock::system(),
        }
    }

    /// The same fetcher judging candles without a `confirm` flag by `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The same fetcher filling `contracts` (shared with a liquidation feed) instead of its own.
    pub fn with_contracts(mut self, contracts: ContractTable) -> Self {
        self.contracts = contracts;
        self
    }

    /// The contract table the fetcher fills when it lists instruments.
    pub fn contracts(&self) -> ContractTable {
        self.contracts.clone()
    }

    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, FetchError> {
        self.transport.send(request.clone()).await
    }

    /// Every listed swap (all categories), filling the contract and precision tables.
    pub async fn swaps(&self) -> Result<Vec<SwapInstrument>, FetchError> {
        let request = requests::instruments();
        let response = self.send(&request).await?;
        let (swaps, skipped) = parse::parse_instruments(response.status, &response.body)
            .map_err(|e| e.into_fetch_error(VENUE, None))?;
        if !skipped.is_empty() {
            tracing::warn!(skipped = ?skipped, "okx instruments skipped: malformed");
        }
        self.contracts.store(&swaps);
        Ok(swaps)
    }

    async fn contract(&self, inst_id: &str) -> Option<Contract> {
        if !self.contracts.is_loaded()
            && let Err(error) = self.swaps().await
        {
            tracing::warn!(%error, "okx instruments failed; contract values unknown");
        }
        self.contracts.get(inst_id).flatten()
    }

    async fn precision(&self, instrument: &Instrument) -> Result<Precision, FetchError> {
        self.precisions
            .lookup(VENUE, &instrument.native, "instruments", self.instruments())
            .await
    }

    /// One bulk call, if any instrument is ours, with its receive time.
    async fn bulk<T>(
        &self,
        instruments: &[Instrument],
        request: HttpRequest,
        parse: RowsParser<T>,
        key: fn(&T) -> &str,
    ) -> Result<(HashMap<String, T>, u64), FetchError> {
        if instruments
            .iter()
            .all(|i| foreign_instrument(VENUE, i).is_some())
        {
            return Ok((HashMap::new(), 0));
        }
        let response = self.send(&request).await?;
        let ts_init = now_ns();
        let (rows, skipped) =
            parse(response.status, &response.body).map_err(|e| e.into_fetch_error(VENUE, None))?;
        if !skipped.is_empty() {
            tracing::warn!(endpoint = request.endpoint, skipped = ?skipped, "okx rows skipped: malformed");
        }
        let by_id = rows.into_iter().map(|r| (key(&r).to_string(), r)).collect();
        Ok((by_id, ts_init))
    }

    /// The interval of the current funding of `instrument` (for history rows whose spacing
    /// did not tell), or `None` if that call fails or does not list it.
    async fn fallback_interval(&self, instrument: &Instrument) -> Option<u16> {
        let request = requests::funding_rate(Some(&instrument.native));
        let found = match self.send(&request).await {
            Ok(response) => parse::parse_funding_rates(response.status, &response.body)
                .map_err(|e| fetch_error(e, &instrument.native)),
            Err(e) => Err(e),
        };
        match found {
            Ok((rows, _)) => rows
                .iter()
                .find(|r| r.inst_id == instrument.native)
                .and_then(|r| r.interval_ms)
                .and_then(|ms| u16::try_from(ms / 60_000).ok()),
            Err(error) => {
                tracing::warn!(symbol = %instrument.native, %error, "okx funding-rate failed; funding intervals left unknown");
                None
            }
        }
    }
}

/// The open-interest snapshot of one row.
fn oi_snapshot(
    instrument: &Instrument,
    row: &parse::OpenInterest,
    contract: Option<Contract>,
    ts_init: u64,
) -> Result<OpenInterestSnapshot, FetchError> {
    let coins = row
        .coins
        .or_else(|| contract.and_then(|c| row.contracts.checked_mul(c.value)))
        .and_then(|c| c.to_f64())
        .ok_or_else(|| {
            FetchError::malformed(
                VENUE,
                "open-interest",
                format!("{}: no oiCcy and no contract value", row.inst_id),
            )
        })?;
    Ok(OpenInterestSnapshot {
        open_interest: OpenInterest {
            instrument_id: instrument.id.clone(),
            open_interest: coins,
            open_interest_value: row.usd.and_then(|u| u.to_f64()),
            ts_event: ms_to_ns(row.ts_ms),
            ts_init,
        },
        prices: SnapshotPrices::default(),
    })
}

/// The funding snapshot of one row.
fn funding_snapshot(
    instrument: &Instrument,
    row: &parse::FundingRate,
    ts_init: u64,
) -> Result<FundingSnapshot, FetchError> {
    let missing = |what: &str| {
        FetchError::malformed(VENUE, "funding-rate", format!("{}: no {what}", row.inst_id))
    };
    let rate = row.predicted_rate.ok_or_else(|| missing("fundingRate"))?;
    let next = row.funding_time_ms.ok_or_else(|| missing("fundingTime"))?;
    Ok(FundingSnapshot {
        funding: FundingRate {
            instrument_id: instrument.id.clone(),
            rate,
            interval_minutes: row
                .interval_ms
                .and_then(|ms| u16::try_from(ms / 60_000).ok()),
            next_funding_ns: Some(ms_to_ns(next)),
            ts_event: row.ts_ms.map(ms_to_ns).unwrap_or(ts_init),
            ts_init,
        },
        prices: SnapshotPrices::default(),
    })
}

#[async_trait::async_trait]
impl Fetcher for OkxFetcher {
    fn venue(&self) -> Venue {
        VENUE
    }

    async fn instruments(&self) -> Result<Vec<InstrumentInfo>, FetchError> {
        let swaps = self.swaps().await?;
        let listed: Vec<InstrumentInfo> =
            swaps.iter().filter(|s| in_universe(s)).map(info).collect();
        self.precisions.store(&listed);
        Ok(listed)
    }

    async fn current_open_interest(
        &self,
        instruments: &[Instrument],
    ) -> Vec<SymbolResult<OpenInterestSnapshot>> {
        let bulk = self
            .bulk(
                instruments,
                requests::open_interest(None),
                parse::parse_open_interest,
                |r| r.inst_id.as_str(),
            )
            .await;
        // Contract values only for rows without oiCcy (older answers).
        let mut contracts = HashMap::new();
        if let Ok((rows, _)) = &bulk {
            for i in instruments {
                if rows.get(&i.native).is_some_and(|r| r.coins.is_none()) {
                    contracts.insert(i.native.clone(), self.contract(&i.native).await);
                }
            }
        }
        bulk_results(VENUE, instruments, &bulk, |instrument, (rows, ts_init)| {
            let row = rows
                .get(&instrument.native)
                .ok_or_else(|| FetchError::unknown_symbol(VENUE, &instrument.native))?;
            let contract = contracts.get(&instrument.native).copied().flatten();
            oi_snapshot(instrument, row, contract, *ts_init)
        })
    }

    async fn current_funding(
        &self,
        instruments: &[Instrument],
    ) -> Vec<SymbolResult<FundingSnapshot>> {
        let bulk = self
            .bulk(
                instruments,
                requests::funding_rate(None),
                parse::parse_funding_rates,
                |r| r.inst_id.as_str(),
            )
            .await;
        bulk_results(VENUE, instruments, &bulk, |instrument, (rows, ts_init)| {
            let row = rows
                .get(&instrument.native)
                .ok_or_else(|| FetchError::unknown_symbol(VENUE, &instrument.native))?;
            funding_snapshot(instrument, row, *ts_init)
        })
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
        let Some(name) = rubik_period_name(period.nanos() / 1_000_000) else {
            return error_stream(FetchError::Unsupported {
                venue: VENUE,
                what: format!("{period} open-interest history"),
            });
        };
        let Some((start_ms, end_ms)) = ms_range(start_ns, end_ns) else {
            return futures::stream::empty().boxed();
        };
        let pages = futures::stream::once(async move {
            let contract = self.contract(&instrument.native).await;
            let (pages, reached) = OiHistoryPages::new(
                instrument.clone(),
                name,
                (start_ms, end_ms),
                contract.map(|c| c.value),
            );
            let what = format!(
                "okx keeps only the latest 1,440 {period} open-interest rows of {}",
                instrument.native
            );
            note_depth(
                paginate(self.transport.as_ref(), pages),
                reached,
                what,
                start_ms,
            )
        })
        .flatten();
        pages.boxed()
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
        let Some((start_ms, end_ms)) = ms_range(start_ns, end_ns) else {
            return futures::stream::empty().boxed();
        };
        let (pages, reached) = FundingHistoryPages::new(instrument.clone(), start_ms, end_ms);
        let what = format!(
            "okx keeps only about 3 months of funding history of {}",
            instrument.native
        );
        let pages = note_depth(
            paginate(self.transport.as_ref(), pages),
            reached,
            what,
            start_ms,
        );
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
        let Some(bar) = bar_of(interval) else {
            return futures::stream::iter([Err(FetchError::Unsupported {
                venue: VENUE,
                what: format!("{interval} bars (OKX has no 8-hour candles)"),
            })])
            .boxed();
        };
        let Some((first, last)) = open_range(interval, start_ns, end_ns) else {
            return futures::stream::empty().boxed();
        };
        let precision = async move {
            let precision = self.precision(instrument).await?;
            Ok((precision, self.contract(&instrument.native).await))
        };
        let pages = move |(precision, contract): (Precision, Option<Contract>)| {
            let rules = BarRules::new(
                VENUE,
                instrument,
                (interval, price),
                precision,
                (start_ns, end_ns),
            );
            let pages = CandlePages::new(
                rules,
                price,
                bar,
                (first, last),
                contract.map(|c| c.value),
                self.clock.clone(),
            );
            paginate(self.transport.as_ref(), pages)
        };
        bar_stream_with(precision, pages)
    }
}

/// [`bar_stream`] with a lookup that yields more than the precision.
fn bar_stream_with<'a, F, X, P>(lookup: F, pages: P) -> BarStream<'a>
where
    F: std::future::Future<Output = Result<(Precision, X), FetchError>> + Send + 'a,
    X: Send + 'a,
    P: FnOnce((Precision, X)) -> PageStream<'a, ccxt_venue::bars::BarRow> + Send + 'a,
{
    let slot: Arc<Mutex<Option<X>>> = Arc::new(Mutex::new(None));
    let put = slot.clone();
    let precision = async move {
        let (precision, extra) = lookup.await?;
        *put.lock().unwrap_or_else(|e| e.into_inner()) = Some(extra);
        Ok(precision)
    };
    bar_stream(precision, move |precision| {
        match slot.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(extra) => pages((precision, extra)),
            None => futures::stream::empty().boxed(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_named_as_okx_names_them() {
        let names: Vec<_> = BAR_INTERVALS.iter().filter_map(|i| bar_of(*i)).collect();
        assert_eq!(
            names,
            [
                "1m", "3m", "5m", "15m", "30m", "1H", "2H", "4H", "6Hutc", "12Hutc", "1Dutc",
                "1Wutc", "1Mutc"
            ]
        );
        assert_eq!(bar_of(BarInterval::H8), None);
    }
}
