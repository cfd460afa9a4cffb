//! The daemon in-process with a scripted venue: with `--all`, a new listing joins the snapshots
//! and a delisted instrument stops, at the next instrument refresh; the snapshot that runs
//! every second on a cron schedule keeps running; a clean stop drains the spool.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ccxt_catalog::{Catalog, Query};
use ccxt_daemon::{DaemonSettings, FlushPolicy, MetricsSettings, ScheduleOverrides, VenueRuntime};
use ccxt_model::time::now_ns;
use ccxt_model::{FundingRate, Instrument, OpenInterest, Venue};
use ccxt_venue::{
    FetchError, Fetcher, FundingSnapshot, InstrumentInfo, InstrumentStatus, OiPeriod,
    OpenInterestSnapshot, PageStream, SnapshotPrices, SymbolResult, error_stream,
};

/// Lists `BTCUSDT` and `ETHUSDT` first; from phase 1 on, `ETHUSDT` is settling and `SOLUSDT`
/// is new.
struct ScriptedVenue {
    phase: Arc<AtomicUsize>,
}

fn inst(native: &str) -> Instrument {
    ccxt_registry::install().unwrap();
    Instrument::from_id(&format!("{}-PERP.BINANCE", native)).unwrap()
}

#[async_trait::async_trait]
impl Fetcher for ScriptedVenue {
    fn venue(&self) -> Venue {
        ccxt_registry::venue("binance")
    }

    async fn instruments(&self) -> Result<Vec<InstrumentInfo>, FetchError> {
        let info = |native: &str, status| InstrumentInfo {
            instrument: inst(native),
            status,
            funding_interval_minutes: Some(480),
            precision: None,
        };
        Ok(if self.phase.load(Ordering::SeqCst) == 0 {
            vec![
                info("BTCUSDT", InstrumentStatus::Trading),
                info("ETHUSDT", InstrumentStatus::Trading),
            ]
        } else {
            vec![
                info("BTCUSDT", InstrumentStatus::Trading),
                info("ETHUSDT", InstrumentStatus::Delisted),
                info("SOLUSDT", InstrumentStatus::Trading),
            ]
        })
    }

    async fn current_open_interest(
        &self,
        instruments: &[Instrument],
    ) -> Vec<SymbolResult<OpenInterestSnapshot>> {
        let now = now_ns();
        instruments
            .iter()
            .map(|i| {
                (
                    i.clone(),
                    Ok(OpenInterestSnapshot {
                        open_interest: OpenInterest {
                            instrument_id: i.id.clone(),
                            open_interest: 1.0,
                            open_interest_value: None,
                            ts_event: now - 1_000,
                            ts_init: now,
                        },
                        prices: SnapshotPrices::default(),
                    }),
                )
            })
            .collect()
    }

    async fn current_funding(
        &self,
        instruments: &[Instrument],
    ) -> Vec<SymbolResult<FundingSnapshot>> {
        instruments
            .iter()
            .map(|i| {
                (
                    i.clone(),
                    Err(FetchError::Unsupported {
                        venue: ccxt_registry::venue("binance"),
                        what: "funding".into(),
                    }),
                )
            })
            .collect()
    }

    fn open_interest_history<'a>(
        &'a self,
        _: &'a Instrument,
        _: OiPeriod,
        _: u64,
        _: u64,
    ) -> PageStream<'a, OpenInterest> {
        error_stream(FetchError::Unsupported {
            venue: ccxt_registry::venue("binance"),
            what: "history".into(),
        })
    }

    fn funding_history<'a>(
        &'a self,
        _: &'a Instrument,
        _: u64,
        _: u64,
    ) -> PageStream<'a, FundingRate> {
        error_stream(FetchError::Unsupported {
            venue: ccxt_registry::venue("binance"),
            what: "history".into(),
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_listings_join_and_delisted_instruments_stop_at_the_next_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("catalog");
    let (catalog, _) = Catalog::open_writable(root.to_str().unwrap())
        .await
        .unwrap();
    let catalog = Arc::new(catalog);
    let mut settings = DaemonSettings::default();
    settings.schedule.open_interest = Some("* * * * * *".into());
    settings.schedule.instruments = Some("*/2 * * * * *".into());
    for off in [
        &mut settings.schedule.funding,
        &mut settings.schedule.funding_history,
        &mut settings.schedule.open_interest_history,
        &mut settings.schedule.compaction,
    ] {
        *off = Some("off".into());
    }
    let config = settings
        .validate(
            &MetricsSettings {
                address: Some("off".into()),
            },
            &ScheduleOverrides::default(),
        )
        .unwrap();
    let phase = Arc::new(AtomicUsize::new(0));
    let venue = VenueRuntime {
        venue: ccxt_registry::venue("binance"),
        fetcher: Arc::new(ScriptedVenue {
            phase: phase.clone(),
        }),
        transport: None,
        source: None,
        symbols: Vec::new(),
        all: true,
        oi_history: false,
        bars: Vec::new(),
    };
    let plan = ccxt_daemon::DaemonPlan {
        venues: vec![venue],
        catalog: catalog.clone(),
        spool_dir: root.join(".spool").join("daemon"),
        state_dir: root.clone(),
        config,
        flush: FlushPolicy {
            sync_every: Duration::from_millis(50),
            flush_rows: 1_000,
            flush_every: Duration::from_secs(1),
            hold: None,
            ..FlushPolicy::default()
        },
    };
    let switch_at = Arc::new(std::sync::Mutex::new(0u64));
    let switch = switch_at.clone();
    let script = async move {
        tokio::time::sleep(Duration::from_millis(3500)).await;
        phase.store(1, Ordering::SeqCst);
        *switch.lock().unwrap() = now_ns();
        tokio::time::sleep(Duration::from_millis(5000)).await;
    };
    let summary = ccxt_daemon::run(plan, script).await.unwrap();
    assert!(summary.drained);
    let switched = *switch_at.lock().unwrap();
    let rows = |native: &str| {
        let catalog = catalog.clone();
        let id = inst(native).id;
        async move {
            let q = Query {
                instruments: vec![id],
                start: 0,
                end: u64::MAX,
                limit: None,
            };
            catalog.query::<OpenInterest>(&q).await.unwrap().0
        }
    };
    let btc = rows("BTCUSDT").await;
    let eth = rows("ETHUSDT").await;
    let sol = rows("SOLUSDT").await;
    // BTC all along, one snapshot a second (the cron schedule kept firing).
    assert!(btc.len() >= 6, "{}", btc.len());
    // ETH before the delisting was seen (and at most until the next refresh, 2 s later).
    assert!(!eth.is_empty());
    assert!(
        eth.iter().all(|r| r.ts_init < switched + 3_000_000_000),
        "ETH kept going"
    );
    // SOL once the refresh listed it.
    assert!(!sol.is_empty(), "SOL never joined");
    assert!(sol.iter().all(|r| r.ts_init > switched));
}
