//! Which parts of a requested history range still need fetching.

use std::sync::Arc;

use ccxt_catalog::Catalog;
use ccxt_model::{FundingRate, Instrument, OpenInterest};

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
}

/// Decides what of `[start, end]` to fetch for an instrument.
#[async_trait::async_trait]
pub trait RangePlanner: Send + Sync {
    /// The plan for `job` on `instrument`.
    async fn plan(
        &self,
        instrument: &Instrument,
        job: Job,
        start: u64,
        end: u64,
    ) -> Result<Plan, String>;
}

/// Fetches everything asked for.
pub struct FullRange;

#[async_trait::async_trait]
impl RangePlanner for FullRange {
    async fn plan(&self, _: &Instrument, _: Job, start: u64, end: u64) -> Result<Plan, String> {
        Ok(Plan {
            fetch: vec![(start, end)],
            ..Plan::default()
        })
    }
}

/// Skips what the catalog already holds: history rows (`ts_init == ts_event`) between the first
/// and last stored ones count as stored, so a re-run of the same backfill fetches nothing but
/// the ends that are new. Holes inside the stored span are not looked for here.
pub struct CatalogPlanner {
    catalog: Arc<Catalog>,
}

impl CatalogPlanner {
    /// A planner reading `catalog`.
    pub fn new(catalog: Arc<Catalog>) -> CatalogPlanner {
        CatalogPlanner { catalog }
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
    ) -> Result<Plan, String> {
        let id = &instrument.id;
        let bounds = match job {
            Job::OpenInterestHistory { period, .. } => {
                self.catalog
                    .stored_bounds::<OpenInterest>(id, start, end, |r| {
                        r.ts_init == r.ts_event && r.ts_event % period.nanos() == 0
                    })
                    .await
            }
            Job::FundingHistory { .. } => {
                self.catalog
                    .stored_bounds::<FundingRate>(id, start, end, |r| r.next_funding_ns.is_none())
                    .await
            }
            _ => Ok(None),
        }
        .map_err(|e| e.to_string())?;
        Ok(split(start, end, bounds))
    }
}

/// The parts of `[start, end]` outside the stored `bounds`.
fn split(start: u64, end: u64, bounds: Option<(u64, u64)>) -> Plan {
    let Some((lo, hi)) = bounds else {
        return Plan {
            fetch: vec![(start, end)],
            ..Plan::default()
        };
    };
    let mut plan = Plan::default();
    if start < lo {
        plan.fetch.push((start, lo - 1));
    }
    plan.skipped.push((lo.max(start), hi.min(end)));
    if hi < end {
        plan.fetch.push((hi + 1, end));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_unstored_ends_are_fetched() {
        assert_eq!(split(0, 100, None).fetch, [(0, 100)]);
        let p = split(0, 100, Some((10, 50)));
        assert_eq!(
            (p.fetch, p.skipped),
            (vec![(0, 9), (51, 100)], vec![(10, 50)])
        );
        let p = split(10, 50, Some((10, 50)));
        assert!(p.fetch.is_empty());
        let p = split(20, 100, Some((0, 60)));
        assert_eq!(p.fetch, [(61, 100)]);
    }
}
