//! Request accounting, so tests can check what a client did: requests per venue, endpoint and
//! status, rate-limit answers sent (429/418/403), injected faults, and for every budget the
//! weight offered to it per window — the largest sum in any fixed window and in any sliding
//! window — plus a log of every venue request, and the WebSocket counts per venue
//! ([`crate::WsStats`]: connections, subscriptions, frames, pings and pongs, liquidations).
//! Served as JSON by `GET /__sim/stats`
//! (`?log=false` leaves the log out) and returned by [`crate::SimHandle::stats`].
//!
//! Times are wall-clock Unix milliseconds (the simulated data clock may be fixed).

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::Venue;
use crate::limits::{Limiter, PoolId};
use crate::ws::WsStats;

/// Log and trace entries kept (the oldest are dropped beyond this).
const MAX_ENTRIES: usize = 200_000;

/// Everything counted since start or the last reset.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Wall-clock ms when counting started.
    pub since_ms: u64,
    /// Per venue (`binance`, `bybit`, `hyperliquid`).
    pub venues: BTreeMap<Venue, VenueStats>,
    /// Every venue request in arrival order (the latest 200 000); empty if left out.
    pub log: Vec<LogEntry>,
    /// Log entries dropped because the log was full.
    pub log_dropped: u64,
    /// WebSocket counts per venue.
    #[serde(default)]
    pub ws: BTreeMap<Venue, WsStats>,
}

impl StatsSnapshot {
    /// The counts of one venue (`"binance"`, …); zeros for an unknown name.
    pub fn venue(&self, name: &str) -> VenueStats {
        name.parse::<Venue>()
            .ok()
            .and_then(|v| self.venues.get(&v).cloned())
            .unwrap_or_default()
    }

    /// The WebSocket counts of one venue (`"binance"`, …); zeros for an unknown name.
    pub fn ws(&self, name: &str) -> WsStats {
        name.parse::<Venue>()
            .ok()
            .and_then(|v| self.ws.get(&v).cloned())
            .unwrap_or_default()
    }
}

/// Counts of one venue.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VenueStats {
    /// Requests received (all, including refused and faulted ones).
    pub requests: u64,
    /// Requests per endpoint (`openInterestHist`, `open-interest`, `fundingHistory`, …).
    pub endpoints: BTreeMap<String, u64>,
    /// Responses per HTTP status (0 = connection dropped without a response).
    pub statuses: BTreeMap<u16, u64>,
    /// HTTP 429 sent by the rate limiter.
    pub rate_limited_429: u64,
    /// HTTP 418 (Binance ban) sent.
    pub banned_418: u64,
    /// HTTP 403 (Bybit ban) sent.
    pub forbidden_403: u64,
    /// Requests answered by a fault switch instead of the venue.
    pub faults_injected: u64,
    /// Per budget (`weight`, `funding`, `requests`).
    pub pools: BTreeMap<String, PoolStats>,
}

/// The weight offered to one budget: every request that got past the fault switches, whether
/// the limiter then allowed it or not.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PoolStats {
    /// Budget per window.
    pub capacity: u32,
    /// Window length.
    pub window_ms: u64,
    /// Weight offered in total.
    pub total: u64,
    /// Largest weight offered within one fixed window (aligned to the Unix epoch).
    pub max_fixed_window: u64,
    /// Largest weight offered within any window of `window_ms` (sliding).
    pub max_sliding_window: u64,
}

/// One venue request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Wall-clock ms when it arrived.
    pub t_ms: u64,
    /// The venue.
    pub venue: Venue,
    /// The endpoint.
    pub endpoint: String,
    /// HTTP status sent, 0 if the connection was dropped.
    pub status: u16,
    /// Weight offered to the venue's budgets (0 when a fault answered first).
    pub weight: u32,
    /// Whether a fault switch answered.
    pub injected: bool,
}

/// The live counters.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stats {
    since_ms: u64,
    venues: BTreeMap<Venue, VenueStats>,
    traces: [VecDeque<(u64, u32)>; 5],
    log: VecDeque<LogEntry>,
    log_dropped: u64,
}

impl Stats {
    /// Empty, counting from `now`.
    pub fn new(now: u64) -> Stats {
        Stats {
            since_ms: now,
            ..Stats::default()
        }
    }

    /// Weight offered to a budget at `t`.
    pub fn offer(&mut self, pool: PoolId, t: u64, weight: u32) {
        if weight == 0 {
            return;
        }
        let trace = &mut self.traces[PoolId::ALL.iter().position(|p| *p == pool).unwrap_or(0)];
        if trace.len() >= MAX_ENTRIES {
            trace.pop_front();
        }
        trace.push_back((t, weight));
    }

    /// A finished request.
    pub fn record(&mut self, entry: LogEntry) {
        let v = self.venues.entry(entry.venue).or_default();
        v.requests += 1;
        *v.endpoints.entry(entry.endpoint.clone()).or_default() += 1;
        *v.statuses.entry(entry.status).or_default() += 1;
        if entry.injected {
            v.faults_injected += 1;
        } else {
            match entry.status {
                429 => v.rate_limited_429 += 1,
                418 => v.banned_418 += 1,
                403 => v.forbidden_403 += 1,
                _ => {}
            }
        }
        if self.log.len() >= MAX_ENTRIES {
            self.log.pop_front();
            self.log_dropped += 1;
        }
        self.log.push_back(entry);
    }

    /// A copy for readers; pool maxima computed now.
    pub fn snapshot(&self, limiter: &Limiter, with_log: bool) -> StatsSnapshot {
        let mut venues = self.venues.clone();
        for v in Venue::ALL {
            venues.entry(v).or_default();
        }
        for (i, pool) in PoolId::ALL.iter().enumerate() {
            let (capacity, window_ms) = limiter.pool_spec(*pool);
            let trace = &self.traces[i];
            let (max_fixed_window, max_sliding_window) = maxima(trace, window_ms);
            if let Some(v) = venues.get_mut(&pool.venue()) {
                v.pools.insert(
                    pool.name().to_string(),
                    PoolStats {
                        capacity,
                        window_ms,
                        total: trace.iter().map(|&(_, w)| u64::from(w)).sum(),
                        max_fixed_window,
                        max_sliding_window,
                    },
                );
            }
        }
        StatsSnapshot {
            since_ms: self.since_ms,
            venues,
            log: if with_log {
                self.log.iter().cloned().collect()
            } else {
                Vec::new()
            },
            log_dropped: self.log_dropped,
            ws: BTreeMap::new(),
        }
    }
}

/// (largest sum in a fixed window, largest sum in a sliding window) of time-ordered weights.
fn maxima(trace: &VecDeque<(u64, u32)>, window_ms: u64) -> (u64, u64) {
    let window_ms = window_ms.max(1);
    let (mut fixed, mut cur, mut cur_window) = (0u64, 0u64, u64::MAX);
    for &(t, w) in trace {
        if t / window_ms != cur_window {
            cur_window = t / window_ms;
            cur = 0;
        }
        cur += u64::from(w);
        fixed = fixed.max(cur);
    }
    let (mut sliding, mut sum, mut j) = (0u64, 0u64, 0usize);
    for i in 0..trace.len() {
        let (t, w) = trace[i];
        sum += u64::from(w);
        while j < i && trace[j].0 + window_ms <= t {
            sum -= u64::from(trace[j].1);
            j += 1;
        }
        sliding = sliding.max(sum);
    }
    (fixed, sliding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_and_sliding_maxima() {
        let trace: VecDeque<(u64, u32)> = [(50, 1), (90, 2), (110, 3), (149, 1), (260, 5)]
            .into_iter()
            .collect();
        // Fixed windows of 100: [0,100) = 3, [100,200) = 4, [200,300) = 5.
        // Sliding: (49, 149] = 7 is the largest.
        assert_eq!(maxima(&trace, 100), (5, 7));
    }
}
