//! Counters of the streams, per venue: lock-free atomics written by the stream tasks and read
//! at any time through [`StreamStats::snapshot`] (health checks, metrics, the end-of-run summary).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ccxt_model::Venue;

/// The counters of one venue. All counts are since [`crate::spawn`].
#[derive(Debug, Default)]
pub struct VenueStats {
    /// Connections opened and fully subscribed (the first one and every reconnect; not
    /// rotations).
    pub connects: AtomicU64,
    /// Connections opened and subscribed again after a loss.
    pub reconnects: AtomicU64,
    /// Connections lost (each is followed by a gap and a reconnect).
    pub disconnects: AtomicU64,
    /// Planned rotations completed (new connection subscribed, old one closed).
    pub rotations: AtomicU64,
    /// Subscriptions refused or not acknowledged in time.
    pub rejections: AtomicU64,
    /// Gaps recorded.
    pub gaps: AtomicU64,
    /// Total length of the recorded gaps, ns.
    pub gap_ns: AtomicU64,
    /// Malformed messages skipped.
    pub malformed: AtomicU64,
    /// Liquidations delivered.
    pub liquidations: AtomicU64,
    /// Liquidations dropped as duplicates (rotation overlaps, overlapping poll windows).
    pub duplicates: AtomicU64,
    /// Polls that succeeded.
    pub polls: AtomicU64,
    /// Polls that failed (retried at the next tick).
    pub poll_errors: AtomicU64,
    /// When the last frame of any connection of this venue arrived (or the last poll
    /// succeeded), UNIX ns; 0 before the first.
    pub last_frame_ns: AtomicU64,
}

/// A copy of a venue's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VenueCounters {
    /// See [`VenueStats::connects`].
    pub connects: u64,
    /// See [`VenueStats::reconnects`].
    pub reconnects: u64,
    /// See [`VenueStats::disconnects`].
    pub disconnects: u64,
    /// See [`VenueStats::rotations`].
    pub rotations: u64,
    /// See [`VenueStats::rejections`].
    pub rejections: u64,
    /// See [`VenueStats::gaps`].
    pub gaps: u64,
    /// See [`VenueStats::gap_ns`].
    pub gap_ns: u64,
    /// See [`VenueStats::malformed`].
    pub malformed: u64,
    /// See [`VenueStats::liquidations`].
    pub liquidations: u64,
    /// See [`VenueStats::duplicates`].
    pub duplicates: u64,
    /// See [`VenueStats::polls`].
    pub polls: u64,
    /// See [`VenueStats::poll_errors`].
    pub poll_errors: u64,
    /// See [`VenueStats::last_frame_ns`].
    pub last_frame_ns: u64,
}

impl VenueCounters {
    /// Adds `other` into these counters (the counters of a stream that replaced another carry
    /// the old one's on); the last frame is the later of the two.
    pub fn add(&mut self, other: &VenueCounters) {
        self.connects += other.connects;
        self.reconnects += other.reconnects;
        self.disconnects += other.disconnects;
        self.rotations += other.rotations;
        self.rejections += other.rejections;
        self.gaps += other.gaps;
        self.gap_ns += other.gap_ns;
        self.malformed += other.malformed;
        self.liquidations += other.liquidations;
        self.duplicates += other.duplicates;
        self.polls += other.polls;
        self.poll_errors += other.poll_errors;
        self.last_frame_ns = self.last_frame_ns.max(other.last_frame_ns);
    }

    /// How long ago the last frame arrived, ns, as of `now_ns`; `None` before the first.
    pub fn last_frame_age_ns(&self, now_ns: u64) -> Option<u64> {
        (self.last_frame_ns > 0).then(|| now_ns.saturating_sub(self.last_frame_ns))
    }
}

impl VenueStats {
    fn snapshot(&self) -> VenueCounters {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        VenueCounters {
            connects: get(&self.connects),
            reconnects: get(&self.reconnects),
            disconnects: get(&self.disconnects),
            rotations: get(&self.rotations),
            rejections: get(&self.rejections),
            gaps: get(&self.gaps),
            gap_ns: get(&self.gap_ns),
            malformed: get(&self.malformed),
            liquidations: get(&self.liquidations),
            duplicates: get(&self.duplicates),
            polls: get(&self.polls),
            poll_errors: get(&self.poll_errors),
            last_frame_ns: get(&self.last_frame_ns),
        }
    }
}

/// The counters of every venue (created at first use).
#[derive(Debug, Default)]
pub struct StreamStats {
    venues: std::sync::RwLock<BTreeMap<Venue, Arc<VenueStats>>>,
}

impl StreamStats {
    /// The counters of `venue`.
    pub fn venue(&self, venue: Venue) -> Arc<VenueStats> {
        let known = self
            .venues
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&venue)
            .cloned();
        match known {
            Some(stats) => stats,
            None => self
                .venues
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(venue)
                .or_default()
                .clone(),
        }
    }

    /// A copy of the counters of every installed venue (zeros for venues not seen yet) and of
    /// any other venue seen.
    pub fn snapshot(&self) -> BTreeMap<Venue, VenueCounters> {
        let mut out: BTreeMap<Venue, VenueCounters> = self
            .venues
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(v, stats)| (*v, stats.snapshot()))
            .collect();
        for venue in ccxt_model::venue::all() {
            out.entry(*venue).or_default();
        }
        out
    }
}

/// Adds `n` to a counter.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Moves a timestamp forward (never back).
pub(crate) fn advance(stamp: &AtomicU64, ns: u64) {
    stamp.fetch_max(ns, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_copy_each_venue_and_ages_read_from_the_last_frame() {
        let stats = StreamStats::default();
        add(&stats.venue(ccxt_registry::venue("bybit")).reconnects, 2);
        advance(
            &stats.venue(ccxt_registry::venue("bybit")).last_frame_ns,
            10,
        );
        advance(&stats.venue(ccxt_registry::venue("bybit")).last_frame_ns, 5);
        let snap = stats.snapshot();
        assert_eq!(snap.len(), ccxt_registry::all().len());
        assert_eq!(snap[&ccxt_registry::venue("bybit")].reconnects, 2);
        assert_eq!(
            snap[&ccxt_registry::venue("bybit")].last_frame_ns,
            10,
            "never moves back"
        );
        assert_eq!(
            snap[&ccxt_registry::venue("bybit")].last_frame_age_ns(25),
            Some(15)
        );
        assert_eq!(
            snap[&ccxt_registry::venue("binance")],
            VenueCounters::default()
        );
        assert_eq!(
            snap[&ccxt_registry::venue("binance")].last_frame_age_ns(25),
            None
        );
    }
}
