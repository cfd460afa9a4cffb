//! The [`Fetcher`] trait: what every venue connector can fetch.

use ccxt_model::{
    Bar, BarInterval, BarPrice, BarProblem, FundingRate, IndexPrice, Instrument, InstrumentId,
    MarkPrice, OpenInterest, Precision, Venue,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::{FetchError, OiPeriod};

/// Pages of rows as they arrive, oldest or newest first as the venue pages; each page is a
/// `Vec` so callers store it before asking for the next (memory stays bounded).
pub type PageStream<'a, T> = BoxStream<'a, Result<Vec<T>, FetchError>>;

/// Pages of bars as they arrive ([`Fetcher::bars`]).
pub type BarStream<'a> = BoxStream<'a, Result<BarPage, FetchError>>;

/// One page of a bar fetch: the closed bars that passed [`Bar::check`] (oldest first) and the
/// ones that did not, which are never stored but reported and counted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BarPage {
    /// Closed, checked bars, oldest first.
    pub bars: Vec<Bar>,
    /// Bars the venue sent that fail the sanity rules.
    pub rejected: Vec<RejectedBar>,
}

/// A bar the venue sent that is not stored, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedBar {
    /// The bar's open, UNIX ns.
    pub open_ns: u64,
    /// What is wrong with it.
    pub problem: BarProblem,
}

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
    /// Price and size decimals from the venue's tick and lot sizes, when it lists them.
    pub precision: Option<Precision>,
}

/// The mark and index price a live snapshot carried (stored as NautilusTrader's
/// `MarkPriceUpdate` and `IndexPriceUpdate`), each exactly as the venue's decimal text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SnapshotPrices {
    /// The venue's mark price.
    pub mark: Option<MarkPrice>,
    /// The venue's index (Hyperliquid: oracle) price.
    pub index: Option<IndexPrice>,
}

impl SnapshotPrices {
    /// The prices of `instrument_id` quoted at `ts_event` and received at `ts_init`; a price
    /// the venue did not send (or sent as zero, as for a contract not trading) is `None`.
    pub fn new(
        instrument_id: &InstrumentId,
        mark: Option<Decimal>,
        index: Option<Decimal>,
        ts_event: u64,
        ts_init: u64,
    ) -> SnapshotPrices {
        let positive = |d: Option<Decimal>| d.filter(|d| *d > Decimal::ZERO);
        SnapshotPrices {
            mark: positive(mark).map(|value| MarkPrice {
                instrument_id: instrument_id.clone(),
                value,
                ts_event,
                ts_init,
            }),
            index: positive(index).map(|value| IndexPrice {
                instrument_id: instrument_id.clone(),
                value,
                ts_event,
                ts_init,
            }),
        }
    }

    /// The mark price as a float, for figures derived from it (an open-interest value).
    pub fn mark_f64(&self) -> Option<f64> {
        self.mark.as_ref().and_then(|m| m.value.to_f64())
    }

    /// How many prices there are (0 to 2).
    pub fn len(&self) -> usize {
        usize::from(self.mark.is_some()) + usize::from(self.index.is_some())
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A live funding snapshot: the estimate for the next funding, with the prices it carried.
#[derive(Debug, Clone, PartialEq)]
pub struct FundingSnapshot {
    /// The rate, its interval and the next funding time (`next_funding_ns` is set).
    pub funding: FundingRate,
    /// Mark and index price at the snapshot, when the venue reports them.
    pub prices: SnapshotPrices,
}

/// A live open-interest snapshot, with the prices the same answer carried.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenInterestSnapshot {
    /// The open interest.
    pub open_interest: OpenInterest,
    /// Mark and index price at the snapshot, when the venue reports them.
    pub prices: SnapshotPrices,
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

    /// Current open interest of each instrument (one bulk call where the venue has one), with
    /// the mark and index prices the venue's answers carried.
    async fn current_open_interest(
        &self,
        instruments: &[Instrument],
    ) -> Vec<SymbolResult<OpenInterestSnapshot>>;

    /// Current funding of each instrument: rate, interval, next funding time, mark and index
    /// price.
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

    /// The bar intervals the venue serves for `price` (empty: no bars of that price).
    fn bar_intervals(&self, price: BarPrice) -> &'static [BarInterval] {
        let _ = price;
        &[]
    }

    /// How many of the newest bars of `interval` the venue keeps (Hyperliquid: 5000); `None`
    /// when it keeps them since listing. Older bars cannot be fetched from anywhere.
    fn bar_history_limit(&self, interval: BarInterval) -> Option<u32> {
        let _ = interval;
        None
    }

    /// Closed bars whose close (`ts_event`) lies in `[start_ns, end_ns]`, oldest first within
    /// each page (pages may come newest page first, as Bybit pages), with the instrument's
    /// precision, each checked ([`Bar::check`]): failures come in [`BarPage::rejected`]. The
    /// still-forming candle the venue includes never comes out. An interval or price the venue
    /// does not serve yields one [`FetchError::Unsupported`].
    fn bars<'a>(
        &'a self,
        instrument: &'a Instrument,
        interval: BarInterval,
        price: BarPrice,
        start_ns: u64,
        end_ns: u64,
    ) -> BarStream<'a> {
        let _ = (interval, start_ns, end_ns);
        futures::stream::iter([Err(FetchError::Unsupported {
            venue: self.venue(),
            what: format!("{} bars of {}", price, instrument.id),
        })])
        .boxed()
    }
}

/// A page stream that yields `error` and ends: the answer of a history call that cannot start
/// (an instrument of another venue, data the venue does not keep).
pub fn error_stream<'a, T: Send + 'a>(error: FetchError) -> PageStream<'a, T> {
    futures::stream::iter([Err(error)]).boxed()
}

/// The error for an instrument of another venue handed to `venue`'s fetcher
/// ([`FetchError::Unsupported`]); `None` when the instrument is `venue`'s.
pub fn foreign_instrument(venue: Venue, instrument: &Instrument) -> Option<FetchError> {
    (instrument.venue != venue).then(|| FetchError::Unsupported {
        venue,
        what: format!("{} (an instrument of {})", instrument.id, instrument.venue),
    })
}

/// One result per instrument, in input order, from one bulk answer of `venue` (a call that
/// answers for every symbol at once): an instrument of another venue gets
/// [`foreign_instrument`]'s error, every other one the bulk call's error if it failed, or else
/// what `convert` makes of the answer for it.
pub fn bulk_results<B, T>(
    venue: Venue,
    instruments: &[Instrument],
    bulk: &Result<B, FetchError>,
    convert: impl Fn(&Instrument, &B) -> Result<T, FetchError>,
) -> Vec<SymbolResult<T>> {
    instruments
        .iter()
        .map(|instrument| {
            let result = match (foreign_instrument(venue, instrument), bulk) {
                (Some(e), _) => Err(e),
                (None, Err(e)) => Err(e.clone()),
                (None, Ok(answer)) => convert(instrument, answer),
            };
            (instrument.clone(), result)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(id: &str) -> Instrument {
        ccxt_registry::install().expect("installs");
        Instrument::from_id(id).expect("valid id")
    }

    #[test]
    fn foreign_instruments_are_unsupported() {
        assert_eq!(
            foreign_instrument(
                ccxt_registry::venue("binance"),
                &inst("BTCUSDT-PERP.BINANCE")
            ),
            None
        );
        let e = foreign_instrument(
            ccxt_registry::venue("binance"),
            &inst("BTCUSDT-LINEAR.BYBIT"),
        );
        assert_eq!(
            e.map(|e| e.to_string()),
            Some("binance does not provide BTCUSDT-LINEAR.BYBIT (an instrument of bybit)".into())
        );
    }

    #[test]
    fn bulk_results_keep_the_input_order_and_fail_per_instrument() {
        let asked = [
            inst("BTCUSDT-PERP.BINANCE"),
            inst("BTC-USD-PERP.HYPERLIQUID"),
            inst("ETHUSDT-PERP.BINANCE"),
        ];
        let answer: Result<Vec<&str>, FetchError> = Ok(vec!["BTCUSDT"]);
        let results = bulk_results(
            ccxt_registry::venue("binance"),
            &asked,
            &answer,
            |i, listed| {
                if listed.contains(&i.native.as_str()) {
                    Ok(i.native.len())
                } else {
                    Err(FetchError::unknown_symbol(
                        ccxt_registry::venue("binance"),
                        &i.native,
                    ))
                }
            },
        );
        let got: Vec<_> = results
            .iter()
            .map(|(i, r)| (i.native.as_str(), r.clone()))
            .collect();
        assert_eq!(got[0], ("BTCUSDT", Ok(7)));
        assert!(matches!(
            got[1],
            ("BTC", Err(FetchError::Unsupported { .. }))
        ));
        assert_eq!(
            got[2],
            (
                "ETHUSDT",
                Err(FetchError::UnknownSymbol {
                    venue: ccxt_registry::venue("binance"),
                    symbol: "ETHUSDT".into()
                })
            )
        );

        let failed: Result<Vec<&str>, FetchError> = Err(FetchError::Cancelled);
        let results = bulk_results(ccxt_registry::venue("binance"), &asked, &failed, |_, _| {
            Ok(())
        });
        assert_eq!(results[0].1, Err(FetchError::Cancelled));
        assert!(matches!(results[1].1, Err(FetchError::Unsupported { .. })));
        assert_eq!(results[2].1, Err(FetchError::Cancelled));
    }

    #[test]
    fn an_error_stream_is_one_error() {
        let pages: Vec<Result<Vec<u8>, FetchError>> =
            futures::executor::block_on(error_stream(FetchError::Cancelled).collect());
        assert_eq!(pages, [Err(FetchError::Cancelled)]);
    }
}
