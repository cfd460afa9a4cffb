//! The one polling loop: runs a [`LiquidationPoller`] every interval (one `PollTask` each).
//!
//! Each poll reads the window from the last covered moment (less a 10 s overlap, for fills
//! that show up late) to now, so consecutive windows overlap a little and the overlap is
//! de-duplicated. A failed poll is logged and counted, and the next tick simply reads from the
//! same last covered moment: the failed stretch is re-read, nothing is lost. Only when polls
//! have failed for longer than the poller's catch-up depth is the part that can no longer be
//! re-read recorded as a [`Gap`].
//!
//! At a shutdown a standalone loop makes one last poll (within [`FINAL_POLL_TIMEOUT`]) up to
//! the moment of the shutdown, so the fills of the last seconds before a clean stop are
//! delivered too; if that poll fails, what it did not cover is recorded as a gap.
//!
//! A loop can start from an earlier moment with a reason ([`PollTask::run_resuming`]): after
//! downtime it re-reads what the venue still serves, and records as a gap, with that reason,
//! only the part older than its catch-up depth.
//!
//! As a WebSocket fallback the loop also takes a hand-over: when the socket is back it makes a
//! last poll up to the moment of the hand-over and returns how far it covered, so the socket
//! loop records only what neither covered.

use std::sync::Arc;
use std::time::Duration;

use ccxt_model::Gap;
use ccxt_model::time::now_ns;
use tokio::sync::{Mutex, oneshot};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use std::collections::HashSet;

use crate::dedupe::{LiquidationKey, RecentSet, new_origin};
use crate::emit::Emitter;
use ccxt_venue::liquidations::LiquidationPoller;

/// How much each poll window reaches back before the last covered moment.
pub const POLL_OVERLAP: Duration = Duration::from_secs(10);

/// How long the last poll at a shutdown may take.
pub const FINAL_POLL_TIMEOUT: Duration = Duration::from_secs(2);

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The task that polls one [`LiquidationPoller`].
pub(crate) struct PollTask {
    pub(crate) poller: Arc<dyn LiquidationPoller>,
    pub(crate) out: Emitter,
    pub(crate) cancel: CancellationToken,
    /// Shared by the pollers of one source, so a trade seen by two of them (the liquidated
    /// user's fill and the counterparty's) is delivered once.
    pub(crate) dedupe: Arc<Mutex<RecentSet>>,
    /// Liquidations stored already (by an earlier run): not delivered again when re-read.
    pub(crate) known: Arc<HashSet<LiquidationKey>>,
}

impl PollTask {
    /// Polls from `from_ns` on, the first time at once, until cancelled or handed over;
    /// returns up to when it covered.
    ///
    /// Standalone (no hand-over), a shutdown while polls are failing records the stretch not
    /// covered up to the shutdown as a gap; as a fallback, the socket loop records it.
    pub(crate) async fn run(self, from_ns: u64, handover: Option<oneshot::Receiver<u64>>) -> u64 {
        self.run_inner(from_ns, handover, None).await
    }

    /// Standalone, from `from_ns`, a moment before now that was not covered because of `why`
    /// (e.g. the collector was not running): the first poll re-reads as much of it as the
    /// venue serves, and the older part is recorded as a gap with `why` as its reason.
    pub(crate) async fn run_resuming(self, from_ns: u64, why: String) -> u64 {
        self.run_inner(from_ns, None, Some(why)).await
    }

    async fn run_inner(
        self,
        from_ns: u64,
        handover: Option<oneshot::Receiver<u64>>,
        mut last_error: Option<String>,
    ) -> u64 {
        let standalone = handover.is_none();
        let mut covered = from_ns;
        let mut handover = handover;
        let mut next_tick = Instant::now();
        loop {
            let handed_over = tokio::select! {
                biased;
                () = self.cancel.cancelled() => {
                    if !standalone {
                        return covered; // the socket loop records what was not covered
                    }
                    // One last poll, so the fills of the last moments before the stop are
                    // not left behind.
                    let end_ns = now_ns();
                    let last = self.poll_once(covered, end_ns, &mut last_error, false);
                    match tokio::time::timeout(FINAL_POLL_TIMEOUT, last).await {
                        Ok(Some(c)) => covered = c,
                        Ok(None) => return covered, // the consumer is gone
                        Err(_) => {
                            last_error = Some(format!(
                                "the last poll at shutdown took longer than {FINAL_POLL_TIMEOUT:?}"
                            ));
                        }
                    }
                    if let Some(why) = last_error
                        && covered < end_ns
                    {
                        self.gap(covered, end_ns, why).await;
                    }
                    return covered;
                }
                at = async {
                    match handover.as_mut() {
                        Some(rx) => rx.await.ok(),
                        None => std::future::pending().await,
                    }
                } => match at {
                    Some(at) => Some(at),
                    None => return covered, // the socket task is gone
                },
                () = sleep_until(next_tick) => None,
            };
            if handed_over.is_some() {
                handover = None; // a receiver must not be polled again once it answered
            }
            let end_ns = handed_over.unwrap_or_else(now_ns);
            next_tick = Instant::now() + self.poller.interval();
            match self.poll_once(covered, end_ns, &mut last_error, true).await {
                Some(c) => covered = c,
                None => continue, // cancelled (handled above) or the consumer is gone
            }
            if handed_over.is_some() {
                return covered;
            }
        }
    }

    async fn gap(&self, start_ns: u64, end_ns: u64, reason: String) -> bool {
        let gap = Gap {
            venue: self.poller.venue(),
            stream: self.poller.stream().to_string(),
            start_ns,
            end_ns,
            reason,
            ts_init: now_ns(),
        };
        self.out.gap(gap).await
    }

    /// One poll of `[covered - overlap, end_ns]` (reaching back at most the catch-up depth);
    /// the new covered moment, or `None` when the task must stop. A `cancellable` poll is
    /// abandoned when the task is cancelled; the last one at a shutdown is not.
    async fn poll_once(
        &self,
        mut covered: u64,
        end_ns: u64,
        last_error: &mut Option<String>,
        cancellable: bool,
    ) -> Option<u64> {
        let venue = self.poller.venue();
        let stream = self.poller.stream();
        let earliest = end_ns.saturating_sub(nanos(self.poller.max_catch_up()));
        let start_ns = covered.max(earliest).saturating_sub(nanos(POLL_OVERLAP));
        let result = tokio::select! {
            () = self.cancel.cancelled(), if cancellable => return None,
            result = self.poller.poll(start_ns, end_ns) => result,
        };
        match result {
            Ok(polled) => {
                // What failed polls left further back than this poll could reach is lost.
                if covered < earliest {
                    let why = last_error.as_deref().unwrap_or("polls failed");
                    if !self
                        .gap(covered, earliest, format!("{why}; too long ago to re-read"))
                        .await
                    {
                        return None;
                    }
                    covered = earliest;
                }
                *last_error = None;
                self.out.polled(venue, now_ns());
                for detail in polled.malformed {
                    if !self.out.malformed(venue, stream, detail).await {
                        return None;
                    }
                }
                let mut rows = polled.rows;
                let before = rows.len();
                if !self.known.is_empty() {
                    rows.retain(|r| !self.known.contains(&LiquidationKey::of(r)));
                }
                let stored_before = before - rows.len();
                let (rows, dropped) = self.dedupe.lock().await.filter(rows, new_origin());
                let dropped = dropped + stored_before;
                self.out.duplicates(venue, dropped);
                if !self.out.liquidations(venue, rows).await {
                    return None;
                }
                Some(polled.covered_until_ns.min(end_ns).max(covered))
            }
            Err(error) => {
                let error = error.to_string();
                self.out.poll_failed(venue, stream, &error);
                *last_error = Some(format!("poll failed: {error}"));
                Some(covered)
            }
        }
    }
}
