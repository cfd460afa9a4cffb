//! History top-ups: fetch from the last stored history row to now, so downtime is refilled
//! and a steady state costs one small request per symbol.
//!
//! The last stored row is read from the catalog once per (instrument, kind) and then kept in
//! memory, advanced after every successful top-up. A symbol with nothing stored starts at the
//! configured depth. A top-up that failed part-way does not advance, so the next run asks again
//! from the same point (what was stored is de-duplicated).
//!
//! Bars are refilled from the last stored bar even when it is older than the configured depth
//! (a long downtime), as long as it lies within [`BAR_REFILL_LOOKBACK`]: what the venue still
//! keeps of the downtime is fetched completely.
//!
//! A catalog file met on that first read that is not usable data (unreadable, another schema)
//! is moved to the quarantine (as every writing command does, see `ccxt_catalog::BadFile`) and
//! its time is fetched again; it never counts as stored and never fails the job.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ccxt_catalog::{BadFile, Catalog, CatalogError};
use ccxt_model::{BarInterval, BarPrice, Instrument, InstrumentId};
use ccxt_orchestrator::{Job, Plan, RangePlanner};

/// Which history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum History {
    /// Open-interest buckets.
    OpenInterest,
    /// Settled funding.
    Funding,
    /// Bars of one interval and price.
    Bars(BarInterval, BarPrice),
}

impl History {
    /// The history a job reads, if it reads one.
    pub fn of(job: Job) -> Option<History> {
        match job {
            Job::OpenInterestHistory { .. } => Some(History::OpenInterest),
            Job::FundingHistory { .. } => Some(History::Funding),
            Job::Bars {
                interval, price, ..
            } => Some(History::Bars(interval, price)),
            Job::CurrentOpenInterest | Job::CurrentFunding => None,
        }
    }
}

/// How far back the last stored bar is looked for (30 days): downtime up to this long is
/// refilled from the last stored bar; a series with nothing stored in it starts at the
/// configured depth.
pub const BAR_REFILL_LOOKBACK_NS: u64 = 30 * 86_400_000_000_000;

/// Plans "since the last stored history row".
pub struct TopUpPlanner {
    catalog: Arc<Catalog>,
    last: Mutex<HashMap<(InstrumentId, History), u64>>,
}

impl TopUpPlanner {
    /// A planner over `catalog`.
    pub fn new(catalog: Arc<Catalog>) -> TopUpPlanner {
        TopUpPlanner {
            catalog,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Records that history of `id` is stored up to `ts` (only moves forward).
    pub fn advance(&self, id: &InstrumentId, history: History, ts: u64) {
        if let Ok(mut last) = self.last.lock() {
            let entry = last.entry((id.clone(), history)).or_insert(ts);
            *entry = (*entry).max(ts);
        }
    }

    fn cached(&self, id: &InstrumentId, history: History) -> Option<u64> {
        self.last.lock().ok()?.get(&(id.clone(), history)).copied()
    }

    /// The last stored history row, and the files met that were not usable data (moved to
    /// the quarantine; their time is to be fetched again). Read from the catalog once, then
    /// kept in memory.
    async fn last_stored(
        &self,
        instrument: &Instrument,
        job: Job,
        start: u64,
        end: u64,
    ) -> Result<(Option<u64>, Vec<BadFile>), CatalogError> {
        let Some(history) = History::of(job) else {
            return Ok((None, Vec::new()));
        };
        if let Some(ts) = self.cached(&instrument.id, history) {
            return Ok((Some(ts), Vec::new()));
        }
        let look_from = match history {
            History::Bars(..) => start.min(end.saturating_sub(BAR_REFILL_LOOKBACK_NS)),
            _ => start,
        };
        let stored =
            ccxt_orchestrator::stored_history(&self.catalog, instrument, job, look_from, end)
                .await?;
        let last = stored.bounds.map(|(_, hi)| hi);
        if let Some(ts) = last {
            self.advance(&instrument.id, history, ts);
        }
        Ok((last, stored.bad_files))
    }
}

#[async_trait::async_trait]
impl RangePlanner for TopUpPlanner {
    async fn plan(
        &self,
        instrument: &Instrument,
        job: Job,
        start: u64,
        end: u64,
    ) -> Result<Plan, CatalogError> {
        let (last, bad_files) = self.last_stored(instrument, job, start, end).await?;
        // Bars stored before `start` (a downtime longer than the depth): refill from there.
        let start = match (History::of(job), last) {
            (Some(History::Bars(..)), Some(ts)) if ts < start => ts,
            _ => start,
        };
        let holes: Vec<(u64, u64)> = bad_files.iter().filter_map(|b| b.span).collect();
        // Everything up to the last stored row counts as stored, except the time of files
        // moved to the quarantine.
        let stored = last
            .filter(|&ts| ts >= start)
            .map(|ts| (start, ts.min(end)));
        let mut plan = ccxt_orchestrator::split(start, end, stored, &holes);
        plan.bad_files = bad_files;
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccxt_catalog::Storage;
    use ccxt_model::OpenInterest;
    use ccxt_venue::OiPeriod;

    const MIN5: u64 = 300_000_000_000;

    fn inst() -> Instrument {
        ccxt_registry::install().unwrap();
        Instrument::from_id("BTCUSDT-PERP.BINANCE").unwrap()
    }

    #[tokio::test]
    async fn top_ups_start_after_the_last_stored_history_row() {
        let catalog = Arc::new(Catalog::from_storage(Storage::in_memory()));
        let planner = TopUpPlanner::new(catalog.clone());
        let job = Job::OpenInterestHistory {
            period: OiPeriod::M5,
            start: 0,
            end: 0,
        };
        let t0 = 1_767_225_600_000_000_000u64;
        // Nothing stored: the whole depth.
        let plan = planner
            .plan(&inst(), job, t0, t0 + 10 * MIN5)
            .await
            .unwrap();
        assert_eq!(plan.fetch, [(t0, t0 + 10 * MIN5)]);
        // A history row and a later snapshot: only the history row counts.
        let row = |ts: u64, init: u64| OpenInterest {
            instrument_id: inst().id,
            open_interest: 1.0,
            open_interest_value: None,
            ts_event: ts,
            ts_init: init,
        };
        catalog
            .write(vec![
                row(t0 + 3 * MIN5, t0 + 3 * MIN5),
                row(t0 + 4 * MIN5 + 7, t0 + 4 * MIN5 + 9),
            ])
            .await
            .unwrap();
        let fresh = TopUpPlanner::new(catalog.clone());
        let plan = fresh.plan(&inst(), job, t0, t0 + 10 * MIN5).await.unwrap();
        assert_eq!(plan.fetch, [(t0 + 3 * MIN5 + 1, t0 + 10 * MIN5)]);
        // Advanced in memory after a top-up; never backwards.
        fresh.advance(&inst().id, History::OpenInterest, t0 + 9 * MIN5);
        fresh.advance(&inst().id, History::OpenInterest, t0 + MIN5);
        let plan = fresh.plan(&inst(), job, t0, t0 + 10 * MIN5).await.unwrap();
        assert_eq!(plan.fetch, [(t0 + 9 * MIN5 + 1, t0 + 10 * MIN5)]);
        let plan = fresh.plan(&inst(), job, t0, t0 + 9 * MIN5).await.unwrap();
        assert!(plan.fetch.is_empty());
    }

    #[tokio::test]
    async fn bars_are_refilled_from_the_last_stored_bar_even_before_the_depth() {
        use ccxt_model::{Bar, BarType, Precision};
        const MIN: u64 = 60_000_000_000;
        let catalog = Arc::new(Catalog::from_storage(Storage::in_memory()));
        let t0 = 1_767_225_600_000_000_000u64;
        let bar = |close: u64| Bar {
            bar_type: BarType::new(inst().id, BarInterval::M1, BarPrice::Last),
            open: 100.into(),
            high: 101.into(),
            low: 99.into(),
            close: 100.into(),
            volume: 1.into(),
            precision: Precision { price: 1, size: 3 },
            ts_event: close,
            ts_init: close,
        };
        catalog
            .write((1..=10).map(|k| bar(t0 + k * MIN)).collect::<Vec<_>>())
            .await
            .unwrap();
        let job = |start, end| Job::Bars {
            interval: BarInterval::M1,
            price: BarPrice::Last,
            start,
            end,
        };
        // A downtime longer than the depth: the depth starts after the last stored bar, and
        // the refill starts right after that bar all the same.
        let (start, end) = (t0 + 100 * MIN, t0 + 130 * MIN);
        let planner = TopUpPlanner::new(catalog.clone());
        let plan = planner
            .plan(&inst(), job(start, end), start, end)
            .await
            .unwrap();
        assert_eq!(plan.fetch, [(t0 + 10 * MIN + 1, end)]);
        // Mark bars are another series: nothing stored, the depth.
        let mark = Job::Bars {
            interval: BarInterval::M1,
            price: BarPrice::Mark,
            start,
            end,
        };
        let plan = planner.plan(&inst(), mark, start, end).await.unwrap();
        assert_eq!(plan.fetch, [(start, end)]);
        // Beyond the look-back: the depth.
        let far = t0 + BAR_REFILL_LOOKBACK_NS + 20 * MIN;
        let plan = TopUpPlanner::new(catalog)
            .plan(&inst(), job(far, far + MIN), far, far + MIN)
            .await
            .unwrap();
        assert_eq!(plan.fetch, [(far, far + MIN)]);
    }

    #[tokio::test]
    async fn unusable_files_are_moved_aside_and_their_days_topped_up_again() {
        const DAY: u64 = 86_400_000_000_000;
        let t0 = 1_767_225_600_000_000_000u64; // 2026-01-01, a UTC midnight
        let end = t0 + 3 * DAY - 1;
        let job = Job::OpenInterestHistory {
            period: OiPeriod::M5,
            start: 0,
            end: 0,
        };
        for victim in [1, 2] {
            let dir = tempfile::tempdir().unwrap();
            let (catalog, _) = Catalog::open_writable(dir.path().to_str().unwrap())
                .await
                .unwrap();
            let rows: Vec<OpenInterest> = (0..3 * DAY / MIN5)
                .map(|i| OpenInterest {
                    instrument_id: inst().id,
                    open_interest: 1.0,
                    open_interest_value: None,
                    ts_event: t0 + i * MIN5,
                    ts_init: t0 + i * MIN5,
                })
                .collect();
            catalog.write(rows).await.unwrap();
            let data = dir
                .path()
                .join("data/custom_open_interest/BTCUSDT-PERP.BINANCE");
            let mut files: Vec<_> = std::fs::read_dir(&data)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            std::fs::write(&files[victim], b"garbage").unwrap();

            let planner = TopUpPlanner::new(Arc::new(catalog));
            let plan = planner.plan(&inst(), job, t0, end).await.unwrap();
            let day = t0 + victim as u64 * DAY;
            let expected = if victim == 2 {
                // The latest day was bad: the top-up starts after the day before it.
                vec![(day - MIN5 + 1, end)]
            } else {
                // A bad day in the middle is fetched again, then the tail.
                vec![(day, day + DAY - 1), (end + 2 - MIN5, end)]
            };
            assert_eq!(plan.fetch, expected, "victim {victim}");
            assert_eq!(plan.bad_files.len(), 1);
            assert!(!files[victim].exists());
            assert!(dir.path().join(".quarantine").exists());
        }
    }
}
