//! Counters of what a transport did, for summaries, benchmarks and (later) metrics.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters; cheap to update from many tasks.
#[derive(Debug, Default)]
pub struct TransportStats {
    requests: AtomicU64,
    retries: AtomicU64,
    network_errors: AtomicU64,
    rate_limit_waits: AtomicU64,
    status_2xx: AtomicU64,
    status_4xx: AtomicU64,
    status_5xx: AtomicU64,
    status_429: AtomicU64,
    status_418: AtomicU64,
    status_403: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TransportStatsSnapshot {
    /// Attempts sent (retries included).
    pub requests: u64,
    /// Retries after transient failures.
    pub retries: u64,
    /// Attempts that failed without a response.
    pub network_errors: u64,
    /// Pauses after 429/418/ban.
    pub rate_limit_waits: u64,
    /// 2xx responses.
    pub status_2xx: u64,
    /// 4xx responses (all, including 429/418/403).
    pub status_4xx: u64,
    /// 5xx responses.
    pub status_5xx: u64,
    /// 429 responses.
    pub status_429: u64,
    /// 418 responses.
    pub status_418: u64,
    /// 403 responses.
    pub status_403: u64,
}

impl TransportStats {
    pub(crate) fn record_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn record_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn record_network_error(&self) {
        self.network_errors.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn record_rate_limit_wait(&self) {
        self.rate_limit_waits.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn record_status(&self, status: u16) {
        let counter = match status {
            200..=299 => &self.status_2xx,
            400..=499 => &self.status_4xx,
            _ => &self.status_5xx,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        match status {
            429 => self.status_429.fetch_add(1, Ordering::Relaxed),
            418 => self.status_418.fetch_add(1, Ordering::Relaxed),
            403 => self.status_403.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }

    /// The counters now.
    pub fn snapshot(&self) -> TransportStatsSnapshot {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TransportStatsSnapshot {
            requests: l(&self.requests),
            retries: l(&self.retries),
            network_errors: l(&self.network_errors),
            rate_limit_waits: l(&self.rate_limit_waits),
            status_2xx: l(&self.status_2xx),
            status_4xx: l(&self.status_4xx),
            status_5xx: l(&self.status_5xx),
            status_429: l(&self.status_429),
            status_418: l(&self.status_418),
            status_403: l(&self.status_403),
        }
    }
}
