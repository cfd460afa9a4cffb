//! Downtime since the last run: refilled where a venue lets us re-read, else recorded as gaps.

use std::time::Duration;

use ccxt_model::time::format_iso;
use ccxt_model::{Gap, Venue};
use ccxt_stream::SourceConfig;

use super::shared::Shared;
use crate::config::JobKind;
use crate::state::DaemonState;

/// Records the downtime since the last heartbeat; returns where a polling feed should start
/// (it can re-read up to its catch-up depth).
pub(super) async fn record(
    shared: &Shared,
    previous: Option<DaemonState>,
    now: u64,
) -> Option<u64> {
    let previous = previous?;
    let from = previous.last_alive_ns;
    if now <= from + 1_000_000_000 {
        return None;
    }
    let why = if previous.clean_stop {
        "collector not running (stopped)"
    } else {
        "collector not running (crashed or killed)"
    };
    tracing::warn!(from = %format_iso(from), to = %format_iso(now), "{why}: refilling what the venues keep, recording the rest as gaps");
    let down = Downtime { from, now, why };
    let mut poll_from = None;
    for (venue, state) in &shared.venues {
        if let Some(source) = &state.rt.source {
            let (gap, resume) = liquidation_downtime(&down, *venue, source);
            if resume.is_some() {
                poll_from = resume;
            }
            if let Some(gap) = gap {
                shared.store.gap(gap).await;
            }
        }
        if !state.rt.oi_history && shared.config.schedule(JobKind::OpenInterest).is_some() {
            let reason = format!("{why}; {venue} keeps no open-interest history");
            shared
                .store
                .gap(down.gap(*venue, "open_interest", from, now, reason))
                .await;
        }
    }
    poll_from
}

/// The time the collector was not running.
#[derive(Clone, Copy)]
struct Downtime {
    /// The last heartbeat.
    from: u64,
    /// This start.
    now: u64,
    /// Why nothing was collected (a stop or a crash).
    why: &'static str,
}

impl Downtime {
    fn gap(&self, venue: Venue, stream: &str, start_ns: u64, end_ns: u64, reason: String) -> Gap {
        Gap {
            venue,
            stream: stream.to_string(),
            start_ns,
            end_ns,
            reason,
            ts_init: self.now,
        }
    }
}

/// The liquidations a venue's source cannot serve afterwards, as a gap, and where polling
/// resumes if the source can re-read (a polling feed, up to its catch-up depth).
fn liquidation_downtime(
    down: &Downtime,
    venue: Venue,
    source: &SourceConfig,
) -> (Option<Gap>, Option<u64>) {
    let Downtime { from, now, why } = *down;
    match source.catch_up() {
        Some(catch_up) => {
            // What was missed can be re-read up to the catch-up depth (with a margin).
            let depth = catch_up.saturating_sub(Duration::from_secs(30));
            let earliest = now.saturating_sub(depth.as_nanos() as u64);
            let start = from.max(earliest);
            let gap = (from < start).then(|| {
                let reason = format!("{why}; older than what {venue} lets us re-read");
                down.gap(venue, "liquidations", from, start, reason)
            });
            (gap, Some(start))
        }
        None => {
            let reason = format!("{why}; {venue} serves no liquidation history");
            (
                Some(down.gap(venue, "liquidations", from, now, reason)),
                None,
            )
        }
    }
}
