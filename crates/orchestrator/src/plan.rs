//! Which parts of a requested history range still need fetching.

use std::sync::Arc;

use ccxt_catalog::price::bar_dataset;
use ccxt_catalog::{BadFile, BadFiles, Catalog, CatalogError, StoredHistory};
use ccxt_model::{Bar, BarType, FundingRate, Instrument, OpenInterest};

use crate::Job;

/// What to fetch of a requested range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Sub-ranges to fetch, in order.
    pub fetch: Vec<(u64, u64)>,
    /// Sub-ranges skipped because they are stored.
    pub skipped: Vec<(u64, u64)>,
    /// Notes for the summary.
    pub notes: Vec<String>,
    /// Catalog files in the range that were not usable data and were moved to the quarantine;
    /// the time they covered is in `fetch`.
    pub bad_files: Vec<BadFile>,
}

/// Decides what of `[start, end]` to fetch for an instrument.
#[async_trait::async_trait]
pub trait RangePlanner: Send + Sync {
    /// The plan for `job` on `instrument`. An error is the catalog's, never the venue's.
    async fn plan(
        &self,
        instrument: &Instrument,
        job: Job,
        start: u64,
        end: u64,
    ) -> Result<Plan, CatalogError>;
}

/// Fetches everything asked for.
pub struct FullRange;

#[async_trait::async_trait]
impl RangePlanner for FullRange {
    async fn plan(
        &self,
        _: &Instrument,
        _: Job,
        start: u64,
        end: u64,
    ) -> Result<Plan, CatalogError> {
        Ok(Plan {
            fetch: vec![(start, end)],
            ..Plan::default()
        })
    }
}

/// Skips what the catalog already holds: history rows (`ts_init == ts_event`; for bars, the
/// stored bars of that bar type) between the first and last stored ones count as stored, so a re-run of the same backfill fetches nothing but
/// the ends that are new. Holes inside the stored span are not looked for here, except the
/// time of files that are not usable data (unreadable, another schema): those are moved to the
/// quarantine and their partitions fetched again.
pub struct CatalogPlanner {
    catalog: Arc<Catalog>,
}

impl CatalogPlanner {
    /// A planner reading `catalog`.
    pub fn new(catalog: Arc<Catalog>) -> CatalogPlanner {
        CatalogPlanner { catalog }
    }
}

/// What the catalog holds of `instrument`'s history for `job` in `[start, end]`, after moving
/// files that are not usable data to the quarantine. Shared by the planners of the CLI and the
/// daemon.
pub async fn stored_history(
    catalog: &Catalog,
    instrument: &Instrument,
    job: Job,
    start: u64,
    end: u64,
) -> Result<StoredHistory, CatalogError> {
    let id = &instrument.id;
    match job {
        Job::OpenInterestHistory { period, .. } => {
            catalog
                .stored_history::<OpenInterest>(
                    id,
                    start,
                    end,
                    |r| r.ts_init == r.ts_event && r.ts_event % period.nanos() == 0,
                    BadFiles::Quarantine,
                )
                .await
        }
        Job::FundingHistory { .. } => {
            catalog
                .stored_history::<FundingRate>(
                    id,
                    start,
                    end,
                    |r| r.next_funding_ns.is_none(),
                    BadFiles::Quarantine,
                )
                .await
        }
        Job::Bars {
            interval, price, ..
        } => {
            // Every stored bar is history (stamped at its close); one dataset per bar type.
            let bar_type = BarType::new(id.clone(), interval, price);
            catalog
                .stored_history::<Bar>(
                    &bar_dataset(&bar_type),
                    start,
                    end,
                    |_| true,
                    BadFiles::Quarantine,
                )
                .await
        }
        _ => Ok(StoredHistory::default()),
    }
}

#[async_trait::async_trait]
impl RangePlanner for CatalogPlanner {
    async fn plan(
        &self,
        instrument: &Instrument,
        job: Job,
        start: u64,
        end: u64,
    ) -> Result<Plan, CatalogError> {
        let stored = stored_history(&self.catalog, instrument, job, start, end).await?;
        let holes: Vec<(u64, u64)> = stored.bad_files.iter().filter_map(|b| b.span).collect();
        let mut plan = split(start, end, stored.bounds, &holes);
        plan.bad_files = stored.bad_files;
        Ok(plan)
    }
}

/// The parts of `[start, end]` outside the stored `bounds`, plus the `holes` (time whose
/// files were moved aside) inside it.
pub fn split(start: u64, end: u64, bounds: Option<(u64, u64)>, holes: &[(u64, u64)]) -> Plan {
    let mut fetch = Vec::new();
    match bounds {
        None => fetch.push((start, end)),
        Some((lo, hi)) => {
            if start < lo {
                fetch.push((start, lo - 1));
            }
            if hi < end {
                fetch.push((hi + 1, end));
            }
        }
    }
    fetch.extend(
        holes
            .iter()
            .map(|&(a, b)| (a.max(start), b.min(end)))
            .filter(|(a, b)| a <= b),
    );
    let fetch = merge(fetch);
    let mut plan = Plan::default();
    if let Some((lo, hi)) = bounds {
        // The stored span minus what is fetched.
        let mut from = Some(lo.max(start));
        let to = hi.min(end);
        for &(a, b) in &fetch {
            let Some(f) = from else { break };
            if b < f || a > to {
                continue;
            }
            if a > f {
                plan.skipped.push((f, a - 1));
            }
            from = b.checked_add(1);
        }
        if let Some(f) = from
            && f <= to
        {
            plan.skipped.push((f, to));
        }
    }
    plan.fetch = fetch;
    plan
}

/// Sorted, with overlapping or adjacent intervals joined.
fn merge(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_unstored_ends_are_fetched() {
        assert_eq!(split(0, 100, None, &[]).fetch, [(0, 100)]);
        let p = split(0, 100, Some((10, 50)), &[]);
        assert_eq!(
            (p.fetch, p.skipped),
            (vec![(0, 9), (51, 100)], vec![(10, 50)])
        );
        let p = split(10, 50, Some((10, 50)), &[]);
        assert!(p.fetch.is_empty());
        assert_eq!(p.skipped, [(10, 50)]);
        let p = split(20, 100, Some((0, 60)), &[]);
        assert_eq!(p.fetch, [(61, 100)]);
    }

    #[test]
    fn the_time_of_quarantined_files_is_fetched_again() {
        // A hole in the middle of the stored span.
        let p = split(0, 100, Some((0, 100)), &[(40, 59)]);
        assert_eq!(
            (p.fetch, p.skipped),
            (vec![(40, 59)], vec![(0, 39), (60, 100)])
        );
        // Holes are clamped to the range and joined with the ends.
        let p = split(10, 100, Some((10, 70)), &[(0, 19), (60, 80)]);
        assert_eq!(
            (p.fetch, p.skipped),
            (vec![(10, 19), (60, 100)], vec![(20, 59)])
        );
    }
}
