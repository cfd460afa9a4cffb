//! The bars job with a fake venue: pages stored as they come, rejected bars counted and noted,
//! intervals the venue does not offer reported as unsupported, re-runs that fetch nothing
//! stored, and a venue's history limit turned into a note naming the span it no longer has.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use ccxt_catalog::Catalog;
use ccxt_model::time::{format_iso, now_ns};
use ccxt_model::{
    Bar, BarInterval, BarPrice, BarProblem, BarType, FundingRate, Instrument, OpenInterest,
    Precision, SymbolInput, Venue,
};
use ccxt_orchestrator::{
    CatalogPlanner, CatalogSink, FullRange, Job, NoProgress, RunOptions, VenueTarget, run,
};
use ccxt_venue::{
    BarPage, BarStream, FetchError, Fetcher, FundingSnapshot, InstrumentInfo, OiPeriod,
    OpenInterestSnapshot, PageStream, RejectedBar, SymbolResult,
};
use futures::StreamExt;

const MIN: u64 = 60_000_000_000;

/// A venue with trade bars of 1m and 1h, pages of 100, every bar whose open minute is a
/// multiple of 7 invalid (rejected); optionally keeping only its newest `limit` candles.
struct FakeBars {
    requests: AtomicUsize,
    /// Every `[start, end]` asked for.
    asked: Mutex<Vec<(u64, u64)>>,
    limit: Option<u32>,
}

impl FakeBars {
    fn new(limit: Option<u32>) -> Arc<FakeBars> {
        Arc::new(FakeBars {
            requests: AtomicUsize::new(0),
            asked: Mutex::new(Vec::new()),
            limit,
        })
    }
}

fn bar(instrument: &Instrument, interval: BarInterval, close: u64) -> Bar {
    let base = rust_decimal::Decimal::from(100 + (close / MIN) % 50);
    Bar {
        bar_type: BarType::new(instrument.id.clone(), interval, BarPrice::Last),
        open: base,
        high: base + rust_decimal::Decimal::ONE,
        low: base - rust_decimal::Decimal::ONE,
        close: base,
        volume: rust_decimal::Decimal::from(3),
        precision: Precision { price: 1, size: 3 },
        ts_event: close,
        ts_init: close,
    }
}

#[async_trait::async_trait]
impl Fetcher for FakeBars {
    fn venue(&self) -> Venue {
        ccxt_registry::venue("binance")
    }
    async fn instruments(&self) -> Result<Vec<InstrumentInfo>, FetchError> {
        Ok(Vec::new())
    }
    async fn current_open_interest(
        &self,
        _: &[Instrument],
    ) -> Vec<SymbolResult<OpenInterestSnapshot>> {
        Vec::new()
    }
    async fn current_funding(&self, _: &[Instrument]) -> Vec<SymbolResult<FundingSnapshot>> {
        Vec::new()
    }
    fn open_interest_history<'a>(
        &'a self,
        _: &'a Instrument,
        _: OiPeriod,
        _: u64,
        _: u64,
    ) -> PageStream<'a, OpenInterest> {
        futures::stream::empty().boxed()
    }
    fn funding_history<'a>(
        &'a self,
        _: &'a Instrument,
        _: u64,
        _: u64,
    ) -> PageStream<'a, FundingRate> {
        futures::stream::empty().boxed()
    }
    fn bar_intervals(&self, price: BarPrice) -> &'static [BarInterval] {
        match price {
            BarPrice::Last => &[BarInterval::M1, BarInterval::H1],
            BarPrice::Mark => &[],
        }
    }
    fn bar_history_limit(&self, _: BarInterval) -> Option<u32> {
        self.limit
    }
    fn bars<'a>(
        &'a self,
        instrument: &'a Instrument,
        interval: BarInterval,
        _: BarPrice,
        start_ns: u64,
        end_ns: u64,
    ) -> BarStream<'a> {
        self.asked.lock().unwrap().push((start_ns, end_ns));
        let len = interval.fixed_ns().unwrap();
        let closes: Vec<u64> = (start_ns.div_ceil(len)..=end_ns / len)
            .map(|k| k * len)
            .collect();
        let pages: Vec<Result<BarPage, FetchError>> = closes
            .chunks(100)
            .map(|chunk| {
                self.requests.fetch_add(1, Ordering::Relaxed);
                let mut page = BarPage::default();
                for &close in chunk {
                    let b = bar(instrument, interval, close);
                    if (close / len).is_multiple_of(7) {
                        page.rejected.push(RejectedBar {
                            open_ns: b.open_ns(),
                            problem: BarProblem::NegativeVolume(
                                rust_decimal::Decimal::NEGATIVE_ONE,
                            ),
                        });
                    } else {
                        page.bars.push(b);
                    }
                }
                Ok(page)
            })
            .collect();
        futures::stream::iter(pages).boxed()
    }
}

fn btc() -> Instrument {
    ccxt_registry::install().unwrap();
    SymbolInput::parse("BTCUSDT")
        .unwrap()
        .resolve(ccxt_registry::venue("binance"))
        .unwrap()
}

fn rejected_in(start: u64, end: u64, len: u64) -> usize {
    (start.div_ceil(len)..=end / len)
        .filter(|k| k.is_multiple_of(7))
        .count()
}

#[tokio::test]
async fn bars_are_stored_as_they_come_rejected_ones_counted_and_reruns_fetch_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (catalog, _) = Catalog::open_writable(dir.path().to_str().unwrap())
        .await
        .unwrap();
    let catalog = Arc::new(catalog);
    let venue = FakeBars::new(None);
    let targets = vec![VenueTarget {
        fetcher: venue.clone(),
        instruments: vec![btc()],
    }];
    // Ten hours of 1-minute bars ending at a fixed past time, 2025-01-02 13:59 UTC, the start
    // off the grid. Fixed, because the expectations depend on it: the fake venue rejects every
    // 7th close, and when the last close is one of them the stored range ends short of `end`,
    // so a re-run rightly asks for that tail again (with `now`, one minute in seven failed).
    let end = 1_735_826_340 * 1_000_000_000;
    assert_ne!(
        (end / MIN) % 7,
        0,
        "the last close must not be a rejected one"
    );
    let start = end - 600 * MIN + 30_000_000_000;
    let job = Job::Bars {
        interval: BarInterval::M1,
        price: BarPrice::Last,
        start,
        end,
    };
    let planner = Arc::new(CatalogPlanner::new(catalog.clone()));
    let mut sink = CatalogSink::new(catalog.clone(), 250);
    let outcome = run(
        targets.clone(),
        job,
        planner.clone(),
        &mut sink,
        &NoProgress,
        RunOptions::default(),
    )
    .await
    .remove(0);
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    // The first close on the grid after the start: 600 closes in all.
    let rejected = rejected_in(start, end, MIN);
    assert_eq!(outcome.rejected, rejected);
    assert_eq!(
        (outcome.rows, outcome.stored),
        (600 - rejected, 600 - rejected)
    );
    assert_eq!(venue.requests.load(Ordering::Relaxed), 6);
    assert_eq!(
        venue.asked.lock().unwrap()[0],
        (start + 30_000_000_000, end)
    );
    assert!(
        outcome
            .notes
            .iter()
            .any(|n| n.contains("rejected: negative volume -1")),
        "{:?}",
        outcome.notes
    );
    assert!(
        outcome
            .notes
            .iter()
            .any(|n| n == &format!("{rejected} bars rejected in all (not stored; each is logged)")),
        "{:?}",
        outcome.notes
    );
    // Stored in the bar type's dataset.
    assert!(
        dir.path()
            .join("data/bar/BTCUSDT-PERP.BINANCE-1-MINUTE-LAST-EXTERNAL")
            .is_dir()
    );

    // The same range again: not one request.
    let again = run(
        targets.clone(),
        job,
        planner.clone(),
        &mut sink,
        &NoProgress,
        RunOptions::default(),
    )
    .await
    .remove(0);
    assert_eq!(
        venue.requests.load(Ordering::Relaxed),
        6,
        "a re-run asked again"
    );
    assert_eq!((again.rows, again.stored, again.skipped.len()), (0, 0, 1));

    // Ten minutes more: only those.
    let longer = Job::Bars {
        interval: BarInterval::M1,
        price: BarPrice::Last,
        start,
        end: end + 10 * MIN,
    };
    let more = run(
        targets,
        longer,
        planner,
        &mut sink,
        &NoProgress,
        RunOptions::default(),
    )
    .await
    .remove(0);
    assert_eq!(
        venue.asked.lock().unwrap().last(),
        Some(&(end + MIN, end + 10 * MIN))
    );
    let rejected = rejected_in(end + MIN, end + 10 * MIN, MIN);
    assert_eq!(more.stored, 10 - rejected);
}

#[tokio::test]
async fn the_forming_bar_is_never_asked_for_and_unsupported_series_are_said() {
    let venue = FakeBars::new(None);
    let targets = vec![VenueTarget {
        fetcher: venue.clone(),
        instruments: vec![btc()],
    }];
    let now = now_ns();
    let job = Job::Bars {
        interval: BarInterval::H1,
        price: BarPrice::Last,
        start: now - 5 * 60 * MIN,
        end: now + 60 * MIN,
    };
    let dir = tempfile::tempdir().unwrap();
    let (catalog, _) = Catalog::open_writable(dir.path().to_str().unwrap())
        .await
        .unwrap();
    let mut sink = CatalogSink::new(Arc::new(catalog), 250);
    let outcome = run(
        targets.clone(),
        job,
        Arc::new(FullRange),
        &mut sink,
        &NoProgress,
        RunOptions::default(),
    )
    .await
    .remove(0);
    let (_, last_asked) = venue.asked.lock().unwrap()[0];
    assert!(last_asked <= now, "asked for a bar closing after now");
    assert_eq!(last_asked, BarInterval::H1.floor(now));
    assert!(outcome.time_range.unwrap().1 <= now);

    for (interval, price) in [
        (BarInterval::M5, BarPrice::Last),
        (BarInterval::M1, BarPrice::Mark),
    ] {
        let job = Job::Bars {
            interval,
            price,
            start: now - 60 * MIN,
            end: now,
        };
        let outcome = run(
            targets.clone(),
            job,
            Arc::new(FullRange),
            &mut sink,
            &NoProgress,
            RunOptions::default(),
        )
        .await
        .remove(0);
        assert_eq!(
            outcome.unsupported.as_deref(),
            Some(format!("binance does not provide {interval} {price} bars").as_str())
        );
        assert!(outcome.error.is_none());
    }
    assert_eq!(venue.asked.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn what_the_venue_no_longer_keeps_is_named_not_asked_for() {
    let venue = FakeBars::new(Some(5000));
    let targets = vec![VenueTarget {
        fetcher: venue.clone(),
        instruments: vec![btc()],
    }];
    let now = now_ns();
    let last_closed = BarInterval::M1.floor(now);
    // 5000 candles kept, the forming one among them: 4999 closed ones.
    let oldest = last_closed - 4998 * MIN;
    let start = last_closed - 6000 * MIN;
    let job = Job::Bars {
        interval: BarInterval::M1,
        price: BarPrice::Last,
        start,
        end: last_closed,
    };
    let dir = tempfile::tempdir().unwrap();
    let (catalog, _) = Catalog::open_writable(dir.path().to_str().unwrap())
        .await
        .unwrap();
    let mut sink = CatalogSink::new(Arc::new(catalog), 10_000);
    let outcome = run(
        targets,
        job,
        Arc::new(FullRange),
        &mut sink,
        &NoProgress,
        RunOptions::default(),
    )
    .await
    .remove(0);
    let asked = venue.asked.lock().unwrap().clone();
    // The minute may turn during the test: the cut follows the orchestrator's now.
    assert!(
        asked[0].0 == oldest || asked[0].0 == oldest + MIN,
        "{asked:?}"
    );
    let note = outcome
        .notes
        .iter()
        .find(|n| n.contains("keeps only its newest 5000 1m candles"))
        .unwrap();
    assert!(
        note.contains(&format!(
            "the bars closing {} to {} cannot be fetched",
            format_iso(start),
            format_iso(asked[0].0 - MIN)
        )),
        "{note}"
    );
}
