//! One rate-limit budget: a `governor` limiter shaped so that no window of the venue's length
//! sees more than our share, plus a hold driven by the venue's own used-weight reports.

use std::num::NonZeroU32;
use std::sync::Mutex;
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
        }
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
            }
            left -= step;
        }
    }

    /// The venue says `used` weight is spent in its current window. At or above our share, hold
    /// the pool until the window (aligned to the clock, as Binance's minute is) rolls over.
    pub fn observe_used(&self, used: u32) {
        if used < self.share {
            return;
        }
        let window_ms = self.window.as_millis().max(1);
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let left_ms = window_ms - now_ms % window_ms + 50;
        let until = Instant::now() + Duration::from_millis(left_ms as u64);
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
}
