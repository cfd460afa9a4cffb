//! What every venue's bar fetch shares: the range of candle opens a close range asks for,
//! venue candles made into checked [`Bar`]s (the forming candle dropped, prices and volumes
//! rounded to the instrument's precision, failures reported), the clock that tells closed
//! candles from the forming one, and the per-fetcher cache of instrument precisions.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use ccxt_model::time::{format_iso, now_ns};
use ccxt_model::{Bar, BarInterval, BarPrice, BarType, Instrument, Precision, Venue};
use futures::StreamExt;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::{BarPage, BarStream, FetchError, InstrumentInfo, PageStream, RejectedBar};

/// One row of a bar fetch: a checked bar, or a bar the venue sent that fails the rules.
pub type BarRow = Result<Bar, RejectedBar>;

/// One venue candle as parsed, before rounding and checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Candle {
    /// Open time, UNIX ms.
    pub open_ms: u64,
    /// Open price.
    pub open: Decimal,
    /// High price.
    pub high: Decimal,
    /// Low price.
    pub low: Decimal,
    /// Close (or, for the forming candle, latest) price.
    pub close: Decimal,
    /// Base volume (zero for mark candles).
    pub volume: Decimal,
}

/// The clock that tells the still-forming candle (close after now) from closed ones: the
/// system clock, or a fixed or test-supplied one (a simulator with a pinned clock).
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(now_ns))
    }

    /// A clock that always says `ns`.
    pub fn fixed(ns: u64) -> Clock {
        Clock(Arc::new(move || ns))
    }

    /// A clock that asks `f`.
    pub fn from_fn(f: impl Fn() -> u64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(f))
    }

    /// Now, UNIX ns.
    pub fn now_ns(&self) -> u64 {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// The opens `(first, last)`, UNIX ns, of the bars of `interval` whose close lies in
/// `[start_ns, end_ns]`; `None` when no bar closes there.
pub fn open_range(interval: BarInterval, start_ns: u64, end_ns: u64) -> Option<(u64, u64)> {
    if start_ns > end_ns {
        return None;
    }
    // The first bar closing at or after start opens at floor(start − 1).
    let first = interval.floor(start_ns.saturating_sub(1));
    let first = if interval.close_of(first) < start_ns {
        interval.close_of(first)
    } else {
        first
    };
    // The last bar closing at or before end is the one closing at floor(end).
    let last_close = interval.floor(end_ns);
    if last_close == 0 {
        return None;
    }
    let last = interval.open_of(last_close);
    (first <= last && interval.close_of(last) <= end_ns).then_some((first, last))
}

/// How many bars of `interval` open in `[first_open, last_open]` (both on the grid).
pub fn bar_count(interval: BarInterval, first_open: u64, last_open: u64) -> u64 {
    if first_open > last_open {
        return 0;
    }
    match interval.fixed_ns() {
        Some(len) => (last_open - first_open) / len + 1,
        None => {
            let mut n = 0;
            let mut t = first_open;
            while t <= last_open {
                n += 1;
                t = interval.close_of(t);
            }
            n
        }
    }
}

/// How long after its close a candle counts as final (5 s). Binance and Hyperliquid give no
/// venue time with their candles, so the forming candle is told by the local clock: a clock
/// running a few seconds ahead of the venue's, or a venue still booking the last trades of the
/// interval, would otherwise let the forming candle through as closed. A candle closing within
/// this margin is left for the next fetch.
pub const CLOSE_SETTLE_NS: u64 = 5_000_000_000;

/// Turns venue candles of one bar type into [`BarRow`]s.
#[derive(Debug, Clone)]
pub struct BarRules {
    /// The venue (for logs).
    pub venue: Venue,
    /// The venue-native symbol (for logs).
    pub symbol: String,
    /// What the bars are.
    pub bar_type: BarType,
    /// The instrument's precision.
    pub precision: Precision,
    /// Bars closing before this are not returned.
    pub start_ns: u64,
    /// Bars closing after this are not returned.
    pub end_ns: u64,
}

impl BarRules {
    /// The rules for `instrument`'s `interval` bars of `price` on `venue`, closing in
    /// `[start_ns, end_ns]`.
    pub fn new(
        venue: Venue,
        instrument: &Instrument,
        (interval, price): (BarInterval, BarPrice),
        precision: Precision,
        (start_ns, end_ns): (u64, u64),
    ) -> BarRules {
        BarRules {
            venue,
            symbol: instrument.native.clone(),
            bar_type: BarType::new(instrument.id.clone(), interval, price),
            precision,
            start_ns,
            end_ns,
        }
    }

    /// The rows of `candles` received at `now_ns`: a candle that has not closed
    /// [`CLOSE_SETTLE_NS`] before then (the forming one) is dropped, as is one whose close is
    /// outside `[start_ns, end_ns]`; the
    /// others are rounded to the precision (half away from zero) and checked. A candle off
    /// the interval's grid or failing [`Bar::check`] becomes a rejected row and a warning.
    pub fn rows(&self, candles: &[Candle], now_ns: u64) -> Vec<BarRow> {
        let interval = self.bar_type.interval;
        candles
            .iter()
            .filter_map(|c| {
                let open_ns = crate::convert::ms_to_ns(c.open_ms);
                let close_ns = interval.close_of(interval.floor(open_ns));
                let settled = close_ns.saturating_add(CLOSE_SETTLE_NS) <= now_ns;
                if !settled || close_ns < self.start_ns || close_ns > self.end_ns {
                    return None;
                }
                let row = self.bar(c, open_ns);
                if let Err(rejected) = &row {
                    tracing::warn!(
                        venue = %self.venue,
                        symbol = %self.symbol,
                        bar_type = %self.bar_type,
                        open = %format_iso(rejected.open_ns),
                        problem = %rejected.problem,
                        "bar rejected"
                    );
                }
                Some(row)
            })
            .collect()
    }

    fn bar(&self, c: &Candle, open_ns: u64) -> BarRow {
        let interval = self.bar_type.interval;
        let price = |d: Decimal| round(d, self.precision.price);
        // A candle off the grid keeps its own (wrong) close so the check names it.
        let ts = if interval.is_open(open_ns) {
            interval.close_of(open_ns)
        } else {
            open_ns
        };
        let bar = Bar {
            bar_type: self.bar_type.clone(),
            open: price(c.open),
            high: price(c.high),
            low: price(c.low),
            close: price(c.close),
            volume: round(c.volume, self.precision.size),
            precision: self.precision,
            ts_event: ts,
            ts_init: ts,
        };
        match bar.check() {
            Ok(()) => Ok(bar),
            Err(problem) => Err(RejectedBar { open_ns, problem }),
        }
    }
}

/// `d` rounded to `dp` decimals (half away from zero), with exactly `dp` decimals.
pub fn round(d: Decimal, dp: u8) -> Decimal {
    let mut r = d.round_dp_with_strategy(u32::from(dp), RoundingStrategy::MidpointAwayFromZero);
    r.rescale(u32::from(dp));
    r
}

/// One page of rows as a [`BarPage`]: bars oldest first, each open once.
pub fn bar_page(rows: Vec<BarRow>) -> BarPage {
    let mut page = BarPage::default();
    for row in rows {
        match row {
            Ok(bar) => page.bars.push(bar),
            Err(rejected) => page.rejected.push(rejected),
        }
    }
    page.bars.sort_by_key(|b| b.ts_event);
    page.bars.dedup_by_key(|b| b.ts_event);
    page
}

/// A bar stream that first finds the precision (`precision`), then runs the pages `pages`
/// makes with it, each as a [`BarPage`]; a failed lookup is the stream's one error.
pub fn bar_stream<'a, F, P>(precision: F, pages: P) -> BarStream<'a>
where
    F: Future<Output = Result<Precision, FetchError>> + Send + 'a,
    P: FnOnce(Precision) -> PageStream<'a, BarRow> + Send + 'a,
{
    // The lookup yields once, so `pages` is called at most once.
    let mut pages = Some(pages);
    futures::stream::once(precision)
        .flat_map(move |found| match (found, pages.take()) {
            (Ok(p), Some(pages)) => pages(p).map(|page| page.map(bar_page)).boxed(),
            (Ok(_), None) => futures::stream::empty().boxed(),
            (Err(e), _) => futures::stream::iter([Err(e)]).boxed(),
        })
        .boxed()
}

/// The precisions of a venue's instruments by native symbol, filled when the fetcher lists
/// instruments; shared by clones of the fetcher. Lookups that miss at the same time (a
/// backfill of many symbols) list the instruments once between them.
#[derive(Debug, Clone, Default)]
pub struct PrecisionCache {
    known: Arc<Mutex<HashMap<String, Option<Precision>>>>,
    listing: Arc<futures::lock::Mutex<()>>,
}

impl PrecisionCache {
    /// Remembers the precision of every instrument of `list`.
    pub fn store(&self, list: &[InstrumentInfo]) {
        let mut map = self.known.lock().unwrap_or_else(|e| e.into_inner());
        for info in list {
            map.insert(info.instrument.native.clone(), info.precision);
        }
    }

    /// The precision of `native`: `None` when not known, `Some(None)` when listed without
    /// tick or lot size.
    pub fn get(&self, native: &str) -> Option<Option<Precision>> {
        let map = self.known.lock().unwrap_or_else(|e| e.into_inner());
        map.get(native).copied()
    }

    /// The precision of `native`, listing the instruments with `list` once if it is not
    /// known yet: an instrument the venue does not list is [`FetchError::UnknownSymbol`],
    /// one listed without tick or lot size [`FetchError::Malformed`] (of `listing`).
    pub async fn lookup<F>(
        &self,
        venue: Venue,
        native: &str,
        listing: &str,
        list: F,
    ) -> Result<Precision, FetchError>
    where
        F: Future<Output = Result<Vec<InstrumentInfo>, FetchError>>,
    {
        let found = match self.get(native) {
            Some(found) => found,
            None => {
                // One listing at a time: whoever waited finds what the first one stored.
                let _listing = self.listing.lock().await;
                match self.get(native) {
                    Some(found) => found,
                    None => {
                        self.store(&list.await?);
                        self.get(native)
                            .ok_or_else(|| FetchError::unknown_symbol(venue, native))?
                    }
                }
            }
        };
        found.ok_or_else(|| {
            FetchError::malformed(
                venue,
                listing,
                format!("no tick or lot size for {native}: its bars cannot be given a precision"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use ccxt_model::{BarPrice, BarProblem, InstrumentId};

    use super::*;

    const MIN: u64 = 60_000_000_000;
    /// 2025-01-01T00:00:00Z.
    const T0: u64 = 1_735_689_600_000_000_000;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn rules(interval: BarInterval, start_ns: u64, end_ns: u64) -> BarRules {
        BarRules {
            venue: ccxt_registry::venue("binance"),
            symbol: "BTCUSDT".into(),
            bar_type: BarType::new(
                InstrumentId::new_unchecked("BTCUSDT-PERP.BINANCE"),
                interval,
                BarPrice::Last,
            ),
            precision: Precision { price: 1, size: 3 },
            start_ns,
            end_ns,
        }
    }

    fn candle(open_ns: u64, o: &str, h: &str, l: &str, c: &str, v: &str) -> Candle {
        Candle {
            open_ms: open_ns / 1_000_000,
            open: d(o),
            high: d(h),
            low: d(l),
            close: d(c),
            volume: d(v),
        }
    }

    #[test]
    fn close_ranges_map_to_open_ranges() {
        let m1 = BarInterval::M1;
        // Closes in [T0, T0+10m] → opens T0−1m … T0+9m.
        assert_eq!(
            open_range(m1, T0, T0 + 10 * MIN),
            Some((T0 - MIN, T0 + 9 * MIN))
        );
        // Mid-minute bounds round inwards.
        assert_eq!(
            open_range(m1, T0 + 1, T0 + 10 * MIN - 1),
            Some((T0, T0 + 8 * MIN))
        );
        assert_eq!(open_range(m1, T0 + 1, T0 + MIN - 1), None);
        assert_eq!(open_range(m1, T0 + 5, T0), None);
        assert_eq!(bar_count(m1, T0 - MIN, T0 + 9 * MIN), 11);
        let (a, b) = open_range(BarInterval::Month1, T0, T0 + 365 * 1440 * MIN).unwrap();
        assert_eq!(
            bar_count(BarInterval::Month1, a, b),
            13,
            "Dec 2024 … Dec 2025"
        );
        assert_eq!(a, BarInterval::Month1.floor(T0 - 1));
    }

    #[test]
    fn candles_become_rounded_checked_bars_the_forming_one_dropped() {
        let r = rules(BarInterval::M1, T0, T0 + 10 * MIN);
        let candles = [
            candle(T0 - 2 * MIN, "1", "1", "1", "1", "1"), // closes before the start
            candle(T0 - MIN, "100.04", "100.26", "99.95", "100.15", "1.23456"),
            candle(T0, "100", "99", "101", "100", "1"), // high < low
            candle(T0 + MIN, "100", "101", "99", "100", "1"), // forming at now
        ];
        let rows = r.rows(&candles, T0 + MIN + 30_000_000_000);
        assert_eq!(rows.len(), 2);
        let bar = rows[0].as_ref().unwrap();
        assert_eq!(
            (bar.open, bar.high, bar.low, bar.close, bar.volume),
            (d("100.0"), d("100.3"), d("100.0"), d("100.2"), d("1.235"))
        );
        assert_eq!(bar.open.to_string(), "100.0");
        assert_eq!((bar.ts_event, bar.ts_init), (T0, T0));
        let rejected = rows[1].as_ref().unwrap_err();
        assert_eq!(rejected.open_ns, T0);
        assert!(matches!(
            rejected.problem,
            BarProblem::PricesOutOfOrder { .. }
        ));
        let page = bar_page(rows);
        assert_eq!((page.bars.len(), page.rejected.len()), (1, 1));
        // Off the grid: rejected, named.
        let rows = r.rows(
            &[candle(T0 + 30_000_000_000, "1", "1", "1", "1", "1")],
            u64::MAX,
        );
        assert!(matches!(
            rows[0].as_ref().unwrap_err().problem,
            BarProblem::OffGrid { .. }
        ));
    }

    #[tokio::test]
    async fn concurrent_misses_list_the_instruments_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let cache = PrecisionCache::default();
        let listed = Arc::new(AtomicUsize::new(0));
        let info = |native: &str| InstrumentInfo {
            instrument: ccxt_model::Instrument::from_native(
                ccxt_registry::venue("binance"),
                native,
            ),
            status: crate::InstrumentStatus::Trading,
            funding_interval_minutes: None,
            precision: Some(Precision { price: 1, size: 3 }),
        };
        let lookups = ["BTCUSDT", "ETHUSDT", "BTCUSDT", "SOLUSDT"].map(|native| {
            let (cache, listed) = (cache.clone(), listed.clone());
            let list = vec![info("BTCUSDT"), info("ETHUSDT"), info("SOLUSDT")];
            async move {
                let listing = async move {
                    listed.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    Ok(list)
                };
                cache
                    .lookup(
                        ccxt_registry::venue("binance"),
                        native,
                        "exchangeInfo",
                        listing,
                    )
                    .await
            }
        });
        let found = futures::future::join_all(lookups).await;
        assert!(
            found
                .iter()
                .all(|p| *p == Ok(Precision { price: 1, size: 3 }))
        );
        assert_eq!(
            listed.load(Ordering::SeqCst),
            1,
            "one listing for four lookups"
        );
        let unknown = cache
            .lookup(
                ccxt_registry::venue("binance"),
                "FOOUSDT",
                "exchangeInfo",
                async { Ok(Vec::new()) },
            )
            .await;
        assert!(matches!(unknown, Err(FetchError::UnknownSymbol { .. })));
    }
}
