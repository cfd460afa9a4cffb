//! The `compaction` job: a slice of the catalog's datasets per run, in turn, so the catalog is
//! compacted in many short runs instead of one long one (a CPU spike, and the catalog's write
//! lock held throughout).

use std::sync::atomic::{AtomicU32, Ordering};

use ccxt_catalog::DatasetSlice;
use ccxt_model::time::{NANOS_PER_SECOND, now_ns};

use super::shared::Shared;

/// Which slice of the datasets the next compaction run takes.
pub(super) struct CompactionCycle {
    slices: u32,
    next: AtomicU32,
}

impl CompactionCycle {
    /// A cycle of `slices` runs (at least 1) that starts, at `now_ns`, with the slice of the
    /// hour `now_ns` falls in: with a run every `60 / slices` minutes the slices keep to the
    /// same minutes of the hour across restarts.
    pub(super) fn new(slices: u32, now_ns: u64) -> CompactionCycle {
        let slices = slices.max(1);
        let second_of_hour = (now_ns / NANOS_PER_SECOND) % 3600;
        let first = second_of_hour * u64::from(slices) / 3600;
        CompactionCycle {
            slices,
            next: AtomicU32::new(u32::try_from(first).unwrap_or(0)),
        }
    }

    /// The slice of this run; the following run takes the one after it.
    pub(super) fn next_slice(&self) -> DatasetSlice {
        let index = self
            .next
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |i| {
                Some((i + 1) % self.slices)
            })
            .unwrap_or(0);
        DatasetSlice::new(index, self.slices).unwrap_or(DatasetSlice::WHOLE)
    }
}

/// One `compaction` run (the whole catalog, not per venue): the next slice of the datasets,
/// their ended partitions into one file each, the current day or month in tiers, so an hour
/// of appends does not rewrite the month's file.
pub(super) async fn compact(shared: &Shared) -> Result<String, String> {
    let slice = shared.compaction.next_slice();
    let catalog = shared.store.catalog();
    match catalog.compact_appending_slice(now_ns(), slice).await {
        Ok(report) => Ok(format!("compacted slice {slice}: {report:?}")),
        Err(e) => {
            let message = format!("compaction of slice {slice} failed: {e}");
            shared.store.catalog_write_failed(&message).await;
            Err(message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR0: u64 = 1_735_689_600 * NANOS_PER_SECOND; // 2025-01-01T00:00:00Z

    fn indices(cycle: &CompactionCycle, runs: usize) -> Vec<u32> {
        (0..runs).map(|_| cycle.next_slice().index()).collect()
    }

    #[test]
    fn runs_take_the_slices_in_turn_from_the_one_of_the_hour() {
        // Started at 00:07: twelve slices of five minutes, the second one first.
        let cycle = CompactionCycle::new(12, HOUR0 + 7 * 60 * NANOS_PER_SECOND);
        let runs = indices(&cycle, 24);
        assert_eq!(runs[..12], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0]);
        assert_eq!(runs[..12], runs[12..], "then round again");
        // Started at 23:59:59 (the hour's last slice), and with one slice: every dataset.
        let cycle = CompactionCycle::new(12, HOUR0 - NANOS_PER_SECOND);
        assert_eq!(indices(&cycle, 2), [11, 0]);
        let whole = CompactionCycle::new(1, HOUR0 + 1234 * NANOS_PER_SECOND);
        assert!(
            (0..3).all(|_| whole.next_slice() == DatasetSlice::WHOLE),
            "one slice is the whole catalog"
        );
    }
}
