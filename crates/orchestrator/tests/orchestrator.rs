//! The orchestrator with fake venues: isolation of failures, streaming to the catalog, skipping
//! stored ranges.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ccxt_catalog::{Catalog, CatalogError};
use ccxt_model::{FundingRate, Instrument, OpenInterest, SymbolInput, Venue};
use ccxt_orchestrator::{
    Batch, CatalogPlanner, CatalogSink, FullRange, Job, NoProgress, Plan, RangePlanner, RunOptions,
    Sink, UnitError, VenueTarget, run,
};
use ccxt_venue::{
    FetchError, Fetcher, FundingSnapshot, InstrumentInfo, OiPeriod, OpenInterestSnapshot,
    PageStream, SnapshotPrices, SymbolResult,
};
use futures::StreamExt;

const T0: u64 = 1_735_689_600_000_000_000;

/// A venue with 5-minute OI for every instrument except `BAD`, served in pages of 100.
struct FakeVenue {
    venue: Venue,
    requests: AtomicUsize,
    fail: bool,
}

#[async_trait::async_trait]
impl Fetcher for FakeVenue {
    fn venue(&self) -> Venue {
        self.venue
    }
    async fn instruments(&self) -> Result<Vec<InstrumentInfo>, FetchError> {
        Ok(Vec::new())
    }
    async fn current_open_interest(
        &self,
        instruments: &[Instrument],
    ) -> Vec<SymbolResult<OpenInterestSnapshot>> {
        instruments
            .iter()
            .map(|i| {
                let r = if i.native.starts_with("BAD") {
                    Err(FetchError::UnknownSymbol {
                        venue: self.venue,
                        symbol: i.native.clone(),
                    })
                } else {
                    Ok(OpenInterestSnapshot {
                        open_interest: OpenInterest {
                            instrument_id: i.id.clone(),
                            open_interest: 1.0,
                            open_interest_value: None,
                            ts_event: T0,
                            ts_init: T0 + 1,
                        },
                        prices: SnapshotPrices::default(),
                    })
                };
                (i.clone(), r)
            })
            .collect()
    }
    async fn current_funding(&self, _: &[Instrument]) -> Vec<SymbolResult<FundingSnapshot>> {
        Vec::new()
    }
    fn open_interest_history<'a>(
        &'a self,
        instrument: &'a Instrument,
        period: OiPeriod,
        start: u64,
        end: u64,
    ) -> PageStream<'a, OpenInterest> {
        if self.fail {
            return futures::stream::iter([Err(FetchError::Unreachable {
                venue: self.venue,
                detail: "down".into(),
            })])
            .boxed();
        }
        let first = start.div_ceil(period.nanos()) * period.nanos();
        let times: Vec<u64> = (0..)
            .map(|k| first + k * period.nanos())
            .take_while(|t| *t <= end)
            .collect();
        let pages: Vec<Result<Vec<OpenInterest>, FetchError>> = times
            .chunks(100)
            .map(|chunk| {
                self.requests.fetch_add(1, Ordering::Relaxed);
                Ok(chunk
                    .iter()
                    .map(|t| OpenInterest {
                        instrument_id: instrument.id.clone(),
                        open_interest: (*t % 977) as f64,
                        open_interest_value: None,
                        ts_event: *t,
                        ts_init: *t,
                    })
                    .collect())
            })
            .collect();
        futures::stream::iter(pages).boxed()
    }
    fn funding_history<'a>(
        &'a self,
        _: &'a Instrument,
        _: u64,
        _: u64,
    ) -> PageStream<'a, FundingRate> {
        futures::stream::empty().boxed()
    }
}

fn instrument(s: &str, v: Venue) -> Instrument {
    SymbolInput::parse(s).unwrap().resolve(v).unwrap()
}

fn fake(venue: Venue, fail: bool) -> Arc<FakeVenue> {
    Arc::new(FakeVenue {
        venue,
        requests: AtomicUsize::new(0),
        fail,
    })
}

#[tokio::test]
async fn one_failing_venue_or_symbol_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let (catalog, _) = Catalog::open_writable(dir.path().to_str().unwrap())
        .await
        .unwrap();
    let catalog = Arc::new(catalog);
    let targets = vec![
        VenueTarget {
            fetcher: fake(ccxt_registry::venue("binance"), false),
            instruments: vec![
                instrument("BTCUSDT", ccxt_registry::venue("binance")),
                instrument("BADUSDT", ccxt_registry::venue("binance")),
            ],
        },
        VenueTarget {
            fetcher: fake(ccxt_registry::venue("bybit"), false),
            instruments: vec![instrument("BTCUSDT", ccxt_registry::venue("bybit"))],
        },
    ];
    let mut sink = CatalogSink::new(catalog.clone(), 10_000);
    let outcomes = run(
        targets,
        Job::CurrentOpenInterest,
        Arc::new(FullRange),
        &mut sink,
        &NoProgress,
        RunOptions::default(),
    )
    .await;
    assert_eq!(outcomes.len(), 3);
    assert_eq!(
        (
            outcomes[0].rows,
            outcomes[0].stored,
            outcomes[0].error.is_none()
        ),
        (1, 1, true)
    );
    assert!(
        outcomes[1]
            .error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("no perpetual 'BADUSDT'")
    );
    assert_eq!((outcomes[2].rows, outcomes[2].stored), (1, 1));
}

#[tokio::test]
async fn history_streams_to_the_catalog_and_a_rerun_fetches_only_what_is_new() {
    let dir = tempfile::tempdir().unwrap();
    let (catalog, _) = Catalog::open_writable(dir.path().to_str().unwrap())
        .await
        .unwrap();
    let catalog = Arc::new(catalog);
    let venue = fake(ccxt_registry::venue("binance"), false);
    let down = fake(ccxt_registry::venue("bybit"), true);
    let targets = vec![
        VenueTarget {
            fetcher: venue.clone(),
            instruments: vec![
                instrument("BTCUSDT", ccxt_registry::venue("binance")),
                instrument("ETHUSDT", ccxt_registry::venue("binance")),
            ],
        },
        VenueTarget {
            fetcher: down.clone(),
            instruments: vec![instrument("BTCUSDT", ccxt_registry::venue("bybit"))],
        },
    ];
    let end = T0 + 3 * 86_400_000_000_000 - 1;
    let job = Job::OpenInterestHistory {
        period: OiPeriod::M5,
        start: T0,
        end,
    };
    let planner = Arc::new(CatalogPlanner::new(catalog.clone()));
    let mut sink = CatalogSink::new(catalog.clone(), 250);
    let outcomes = run(
        targets.clone(),
        job,
        planner.clone(),
        &mut sink,
        &NoProgress,
        RunOptions::default(),
    )
    .await;
    assert_eq!((outcomes[0].rows, outcomes[0].stored), (864, 864));
    assert_eq!((outcomes[1].rows, outcomes[1].stored), (864, 864));
    assert!(
        outcomes[2]
            .error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("cannot reach bybit"),
        "{:?}",
        outcomes[2]
    );
    let requests = venue.requests.load(Ordering::Relaxed);
    assert_eq!(requests, 18);

    // Same backfill again: nothing to fetch, nothing added.
    let outcomes = run(
        targets.clone(),
        job,
        planner.clone(),
        &mut sink,
        &NoProgress,
        RunOptions::default(),
    )
    .await;
    assert_eq!(
        venue.requests.load(Ordering::Relaxed),
        requests,
        "no request for stored ranges"
    );
    assert_eq!(
        (
            outcomes[0].rows,
            outcomes[0].stored,
            outcomes[0].skipped.len()
        ),
        (0, 0, 1)
    );

    // A longer range fetches only the new day.
    let job = Job::OpenInterestHistory {
        period: OiPeriod::M5,
        start: T0,
        end: end + 86_400_000_000_000,
    };
    let outcomes = run(
        targets,
        job,
        planner,
        &mut sink,
        &NoProgress,
        RunOptions::default(),
    )
    .await;
    assert_eq!((outcomes[0].rows, outcomes[0].stored), (288, 288));
    let stored = catalog
        .query::<OpenInterest>(&ccxt_catalog::Query {
            instruments: vec![instrument("BTCUSDT", ccxt_registry::venue("binance")).id],
            start: 0,
            end: u64::MAX,
            limit: None,
        })
        .await
        .unwrap()
        .0;
    assert_eq!(stored.len(), 4 * 288);
}

/// A planner whose catalog is broken in a way no quarantine fixes.
struct BrokenCatalog;

#[async_trait::async_trait]
impl RangePlanner for BrokenCatalog {
    async fn plan(&self, _: &Instrument, _: Job, _: u64, _: u64) -> Result<Plan, CatalogError> {
        Err(CatalogError::Corrupt {
            path: "/c/data/custom_open_interest/X/f.parquet".into(),
            reason: "bad footer".into(),
        })
    }
}

#[tokio::test]
async fn a_catalog_failure_is_the_catalogs_error_never_the_venues() {
    let venue = fake(ccxt_registry::venue("bybit"), false);
    let targets = vec![VenueTarget {
        fetcher: venue.clone(),
        instruments: vec![instrument("BTCUSDT", ccxt_registry::venue("bybit"))],
    }];
    let job = Job::OpenInterestHistory {
        period: OiPeriod::M5,
        start: T0,
        end: T0 + 86_400_000_000_000 - 1,
    };
    let dir = tempfile::tempdir().unwrap();
    let (catalog, _) = Catalog::open_writable(dir.path().to_str().unwrap())
        .await
        .unwrap();
    let mut sink = CatalogSink::new(Arc::new(catalog), 250);
    let outcomes = run(
        targets,
        job,
        Arc::new(BrokenCatalog),
        &mut sink,
        &NoProgress,
        RunOptions::default(),
    )
    .await;
    let error = outcomes[0].error.as_ref().unwrap();
    assert!(matches!(error, UnitError::Catalog(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        "catalog file '/c/data/custom_open_interest/X/f.parquet' is corrupt: bad footer"
    );
    assert_eq!(venue.requests.load(Ordering::Relaxed), 0, "nothing fetched");
}

#[tokio::test]
async fn a_bad_stored_file_is_moved_aside_and_its_day_fetched_again() {
    let dir = tempfile::tempdir().unwrap();
    let (catalog, _) = Catalog::open_writable(dir.path().to_str().unwrap())
        .await
        .unwrap();
    let catalog = Arc::new(catalog);
    let venue = fake(ccxt_registry::venue("binance"), false);
    let targets = vec![VenueTarget {
        fetcher: venue.clone(),
        instruments: vec![instrument("BTCUSDT", ccxt_registry::venue("binance"))],
    }];
    let job = Job::OpenInterestHistory {
        period: OiPeriod::M5,
        start: T0,
        end: T0 + 3 * 86_400_000_000_000 - 1,
    };
    let planner = Arc::new(CatalogPlanner::new(catalog.clone()));
    let mut sink = CatalogSink::new(catalog.clone(), 250);
    let first = run(
        targets.clone(),
        job,
        planner.clone(),
        &mut sink,
        &NoProgress,
        RunOptions::default(),
    )
    .await;
    assert_eq!(first[0].stored, 864);
    let data = dir
        .path()
        .join("data/custom_open_interest/BTCUSDT-PERP.BINANCE");
    let mut files: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    std::fs::write(&files[1], b"").unwrap();
    let outcome = run(
        targets,
        job,
        planner,
        &mut sink,
        &NoProgress,
        RunOptions::default(),
    )
    .await
    .remove(0);
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    // Pages were stored 300 rows at a time, so day 2 is in two files: the first one (its
    // first hour, 12 rows) was damaged; the whole day is fetched again, those 12 are new.
    assert_eq!((outcome.rows, outcome.stored), (288, 12));
    assert_eq!(outcome.quarantined.len(), 1);
    assert_eq!(
        outcome.quarantined[0].path,
        files[1]
            .canonicalize()
            .unwrap_or(files[1].clone())
            .display()
            .to_string()
    );
    assert_eq!(outcome.skipped.len(), 2, "{:?}", outcome.skipped);
}

/// Five days of 5-minute rows of `instrument`, in pages of 100: oldest first, or newest first
/// (each page newest first too, as Bybit sends them).
fn five_days_of_pages(instrument: &Instrument, newest_first: bool) -> Vec<Vec<OpenInterest>> {
    let step = 300_000_000_000;
    let mut rows: Vec<OpenInterest> = (0..5 * 288)
        .map(|k| OpenInterest {
            instrument_id: instrument.id.clone(),
            open_interest: k as f64,
            open_interest_value: None,
            ts_event: T0 + k * step,
            ts_init: T0 + k * step,
        })
        .collect();
    if newest_first {
        rows.reverse();
    }
    rows.chunks(100).map(<[OpenInterest]>::to_vec).collect()
}

#[tokio::test]
async fn a_long_backfill_is_written_whole_days_at_a_time_as_pages_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let (catalog, _) = Catalog::open_writable(dir.path().to_str().unwrap())
        .await
        .unwrap();
    let catalog = Arc::new(catalog);
    let day = 86_400_000_000_000;
    let stored_days = |rows: &[OpenInterest]| {
        let mut per_day = std::collections::BTreeMap::<u64, usize>::new();
        for r in rows {
            *per_day.entry((r.ts_init - T0) / day).or_default() += 1;
        }
        per_day
    };
    for (symbol, newest_first) in [("BTCUSDT", false), ("ETHUSDT", true)] {
        let instrument = instrument(symbol, ccxt_registry::venue("bybit"));
        let query = ccxt_catalog::Query {
            instruments: vec![instrument.id.clone()],
            start: T0,
            end: T0 + 5 * day,
            limit: None,
        };
        // Settled days are written once 600 rows are buffered (the CLI uses 2,000).
        let mut sink = CatalogSink::new(catalog.clone(), 600);
        let (mut received, mut stored) = (0, 0);
        for page in five_days_of_pages(&instrument, newest_first) {
            let page_day = (page[0].ts_init - T0) / day;
            received += page.len();
            let held = received - stored;
            stored += sink
                .accept(&instrument, Batch::OpenInterest(page))
                .await
                .unwrap();
            let passed_days = if newest_first { 4 - page_day } else { page_day };
            if held >= 600 {
                assert!(
                    stored >= passed_days as usize * 288,
                    "{symbol}: page of day {page_day}: the days passed are written"
                );
            }
            assert!(
                received - stored < 600,
                "{symbol}: {} rows held",
                received - stored
            );
            // Only whole days are ever in the catalog: no day is written in pieces (each piece
            // a file to read back and rewrite when the rest of its day arrives).
            let (rows, _) = catalog.query::<OpenInterest>(&query).await.unwrap();
            assert_eq!(rows.len(), stored, "{symbol}");
            assert!(
                stored_days(&rows).values().all(|n| *n == 288),
                "{symbol}: page of day {page_day}: {:?}",
                stored_days(&rows)
            );
        }
        assert!(stored > 0, "{symbol}: written while the pages arrived");
        stored += sink.finish_instrument(&instrument).await.unwrap();
        assert_eq!((received, stored), (5 * 288, 5 * 288), "{symbol}");
        // Every row once, one file per day.
        let (rows, stats) = catalog.query::<OpenInterest>(&query).await.unwrap();
        assert_eq!(rows.len(), 5 * 288, "{symbol}");
        assert!(rows.windows(2).all(|w| w[0].ts_init < w[1].ts_init));
        assert_eq!(stats.files_listed, 5, "{symbol}");
    }
}
