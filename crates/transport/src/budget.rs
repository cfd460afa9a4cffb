//! One rate-limit budget: a `governor` limiter shaped so that no window of the venue's length
//! sees more than our share, plus a hold driven by the venue's own used-weight reports.
//!
//! The budget also keeps what it needs to report its headroom ([`BudgetHeadroom`]): the weight
//! it granted over the trailing window and the venue's last used-weight report.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ccxt_venue::PoolSpec;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

/// A weight budget for one pool.
#[derive(Debug)]
pub struct Budget {
    name: &'static str,
    limiter: DefaultDirectRateLimiter,
    /// Our share of the venue's capacity per window.
    share: u32,
    /// Largest weight one acquisition may take at once.
    burst: u32,
    window: Duration,
    /// Set when the venue reports more used weight than our share: wait for its window to roll.
    hold_until: Mutex<Option<Instant>>,
    /// Weight granted, with when, over the trailing window (older entries are pruned on every
    /// acquire and read, so this holds at most one window's grants).
    granted: Mutex<VecDeque<(Instant, u32)>>,
    /// The venue's last used-weight report, while its window is current.
    venue_used: Mutex<Option<VenueUsed>>,
}

/// A used-weight report of the venue, valid until its (clock-aligned) window ends.
#[derive(Debug, Clone, Copy)]
struct VenueUsed {
    used: u32,
    /// Index of the venue window (Unix time / window) the report belongs to.
    window_index: u128,
    /// When that window ends.
    expires: Instant,
}

/// How much of one pool's budget is left: a snapshot for metrics (a "budget headroom" gauge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetHeadroom {
    /// The pool's name, as in the venue's `RateLimitSpec`.
    pub pool: &'static str,
    /// Our share of the pool per window.
    pub share: u32,
    /// Weight we acquired in the trailing window.
    pub spent: u32,
    /// The venue's last reported used weight, if it reported one in its current window. It
    /// counts every client on our IP, not only this transport.
    pub venue_used: Option<u32>,
    /// The pool's window.
    pub window: Duration,
}

impl BudgetHeadroom {
    /// Weight still available this window: the share minus the larger of what we spent and what
    /// the venue reports used, never below zero.
    pub fn headroom(&self) -> u32 {
        let used = self.spent.max(self.venue_used.unwrap_or(0));
        self.share.saturating_sub(used)
    }

    /// [`headroom`](Self::headroom) as a fraction of the share, in `[0, 1]` (0 for an empty
    /// share).
    pub fn fraction_left(&self) -> f64 {
        if self.share == 0 {
            return 0.0;
        }
        (f64::from(self.headroom()) / f64::from(self.share)).clamp(0.0, 1.0)
    }
}

/// Locks `mutex`, carrying on after a panic elsewhere (the guarded data has no invariants a
/// panic could break).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Budget {
    /// A budget using `fraction` of `pool`.
    ///
    /// GCRA allows a burst and then a steady rate; over any window W the most it lets through is
    /// `burst + rate × W`. With `burst` = 10 % of the share and the rest spread evenly over the
    /// window, that sum is exactly the share, so a fixed or sliding venue window is never exceeded.
    pub fn new(pool: &PoolSpec, fraction: f64) -> Budget {
        let share = ((f64::from(pool.capacity) * fraction).floor() as u32).max(1);
        let burst = (share / 10).max(1).min(share);
        let steady = share.saturating_sub(burst).max(1);
        let period = pool.window / steady;
        let quota = Quota::with_period(period.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        Budget {
            name: pool.name,
            limiter: RateLimiter::direct(quota),
            share,
            burst,
            window: pool.window,
            hold_until: Mutex::new(None),
            granted: Mutex::new(VecDeque::new()),
            venue_used: Mutex::new(None),
        }
    }

    /// The pool's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Our share per window.
    pub fn share(&self) -> u32 {
        self.share
    }

    /// Waits until `weight` may be spent.
    pub async fn acquire(&self, weight: u32) {
        let hold = self.hold_until.lock().ok().and_then(|h| *h);
        if let Some(until) = hold {
            tokio::time::sleep_until(until).await;
        }
        let mut left = weight;
        while left > 0 {
            let step = left.min(self.burst);
            if let Some(n) = NonZeroU32::new(step) {
                // `step <= burst`, so this cannot fail with InsufficientCapacity.
                let _ = self.limiter.until_n_ready(n).await;
                self.record_granted(step);
            }
            left -= step;
        }
    }

    /// Notes `weight` granted now and forgets grants older than the window.
    fn record_granted(&self, weight: u32) {
        let now = Instant::now();
        let mut granted = lock(&self.granted);
        self.prune(&mut granted, now);
        match granted.back_mut() {
            Some((at, w)) if *at == now => *w = w.saturating_add(weight),
            _ => granted.push_back((now, weight)),
        }
    }

    /// Drops grants that left the trailing window ending at `now`.
    fn prune(&self, granted: &mut VecDeque<(Instant, u32)>, now: Instant) {
        while granted
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) >= self.window)
        {
            granted.pop_front();
        }
    }

    /// How much of this budget is left now.
    pub fn headroom(&self) -> BudgetHeadroom {
        let now = Instant::now();
        let spent = {
            let mut granted = lock(&self.granted);
            self.prune(&mut granted, now);
            granted
                .iter()
                .fold(0u32, |sum, (_, w)| sum.saturating_add(*w))
        };
        let venue_used = {
            let mut report = lock(&self.venue_used);
            if report.is_some_and(|r| now >= r.expires) {
                *report = None;
            }
            report.map(|r| r.used)
        };
        BudgetHeadroom {
            pool: self.name,
            share: self.share,
            spent,
            venue_used,
            window: self.window,
        }
    }

    /// The venue says `used` weight is spent in its current window. At or above our share, hold
    /// the pool until the window (aligned to the clock, as Binance's minute is) rolls over.
    ///
    /// The report is also kept for [`headroom`](Self::headroom) until the venue's window ends.
    pub fn observe_used(&self, used: u32) {
        let window_ms = self.window.as_millis().max(1);
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let now = Instant::now();
        let window_left = Duration::from_millis((window_ms - now_ms % window_ms) as u64);
        self.record_venue_used(VenueUsed {
            used,
            window_index: now_ms / window_ms,
            expires: now + window_left,
        });
        if used < self.share {
            return;
        }
        let left_ms = window_left.as_millis() + 50;
        let until = now + Duration::from_millis(left_ms as u64);
        if let Ok(mut hold) = self.hold_until.lock()
            && hold.is_none_or(|h| h < until)
        {
            tracing::warn!(
                pool = self.name,
                used,
                share = self.share,
                wait_ms = left_ms as u64,
                "venue reports our share of its budget used; holding requests until its window rolls over"
            );
            *hold = Some(until);
        }
    }

    /// Keeps the venue's report. Within one venue window the count only grows, so a smaller
    /// report for the same window (a response that arrived late) does not replace a larger one.
    fn record_venue_used(&self, report: VenueUsed) {
        let now = Instant::now();
        let mut last = lock(&self.venue_used);
        let keep_last = last.is_some_and(|l| {
            now < l.expires && l.window_index == report.window_index && l.used > report.used
        });
        if !keep_last {
            *last = Some(report);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(capacity: u32, window: Duration) -> PoolSpec {
        PoolSpec {
            name: "ip",
            capacity,
            window,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn acquired_weight_lowers_the_headroom_until_it_leaves_the_window() {
        // Share 800, burst 80: the acquisitions below never wait on the limiter.
        let budget = Budget::new(&pool(1000, Duration::from_secs(60)), 0.8);
        let fresh = budget.headroom();
        assert_eq!((fresh.share, fresh.spent, fresh.venue_used), (800, 0, None));
        assert_eq!(fresh.headroom(), 800);
        assert_eq!(fresh.fraction_left(), 1.0);

        budget.acquire(50).await;
        let h = budget.headroom();
        assert_eq!((h.spent, h.headroom()), (50, 750));
        assert_eq!(h.fraction_left(), 750.0 / 800.0);

        tokio::time::advance(Duration::from_secs(30)).await;
        budget.acquire(20).await;
        assert_eq!(budget.headroom().spent, 70);

        // The first 50 leave the trailing window, the 20 are still in it.
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(budget.headroom().spent, 20);

        tokio::time::advance(Duration::from_secs(30)).await;
        let h = budget.headroom();
        assert_eq!((h.spent, h.headroom()), (0, 800));
        assert_eq!(h.fraction_left(), 1.0);
        assert!(budget.granted.lock().is_ok_and(|g| g.is_empty()));
    }

    #[tokio::test(start_paused = true)]
    async fn the_venues_report_counts_while_its_window_is_current() {
        // An hour-long window, so the reports below all fall in the same venue window.
        let budget = Budget::new(&pool(1000, Duration::from_secs(3600)), 0.8);
        budget.acquire(10).await;
        budget.observe_used(300);
        let h = budget.headroom();
        assert_eq!((h.spent, h.venue_used, h.headroom()), (10, Some(300), 500));

        // A late, smaller report of the same window does not lower the count.
        budget.observe_used(200);
        assert_eq!(budget.headroom().venue_used, Some(300));
        budget.observe_used(400);
        assert_eq!(budget.headroom().venue_used, Some(400));

        // The larger of what we spent and what the venue reports counts.
        budget.acquire(60).await;
        let h = budget.headroom();
        assert_eq!((h.spent, h.venue_used, h.headroom()), (70, Some(400), 400));

        // Once the venue's window has rolled over, the report no longer counts.
        tokio::time::advance(Duration::from_secs(3601)).await;
        let h = budget.headroom();
        assert_eq!((h.spent, h.venue_used, h.headroom()), (0, None, 800));
    }

    #[tokio::test(start_paused = true)]
    async fn a_report_below_what_we_spent_does_not_raise_the_headroom() {
        let budget = Budget::new(&pool(1000, Duration::from_secs(3600)), 0.8);
        budget.acquire(60).await;
        budget.observe_used(5);
        let h = budget.headroom();
        assert_eq!((h.spent, h.venue_used, h.headroom()), (60, Some(5), 740));
    }

    #[tokio::test(start_paused = true)]
    async fn a_report_above_our_share_leaves_no_headroom() {
        let budget = Budget::new(&pool(100, Duration::from_secs(3600)), 0.5);
        budget.observe_used(90);
        let h = budget.headroom();
        assert_eq!((h.share, h.venue_used), (50, Some(90)));
        assert_eq!(h.headroom(), 0);
        assert_eq!(h.fraction_left(), 0.0);
    }

    #[test]
    fn an_empty_share_has_no_fraction_left() {
        let h = BudgetHeadroom {
            pool: "ip",
            share: 0,
            spent: 0,
            venue_used: None,
            window: Duration::from_secs(1),
        };
        assert_eq!((h.headroom(), h.fraction_left()), (0, 0.0));
    }
}
