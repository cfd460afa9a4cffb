//! Reconnect delays: exponential backoff with full jitter, reset after a stable connection.
//!
//! The n-th consecutive failure waits a uniformly random time in `[min, ceiling_n]`, where
//! `ceiling_n = min(max, min · 2ⁿ)`: the whole range is randomised ("full jitter"), so many
//! clients cut off together do not come back in step, and the floor `min` keeps a failing
//! venue from being hammered. A connection that stayed up for `stable_after` resets the
//! sequence (see [`crate::WsSettings::stable_after`]).

use std::time::Duration;

/// The delay sequence of one reconnecting connection.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
    rng: fastrand::Rng,
}

impl Backoff {
    /// Delays from `min` up to at most `max` (a `max` below `min` is read as `min`).
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff::with_rng(min, max, fastrand::Rng::new())
    }

    /// The same with a seeded random generator, for reproducible tests.
    pub fn with_seed(min: Duration, max: Duration, seed: u64) -> Backoff {
        Backoff::with_rng(min, max, fastrand::Rng::with_seed(seed))
    }

    fn with_rng(min: Duration, max: Duration, rng: fastrand::Rng) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            failures: 0,
            rng,
        }
    }

    /// The largest delay the next call to [`Backoff::next_delay`] can return.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.failures.min(31)).unwrap_or(u32::MAX);
        self.min.saturating_mul(factor).min(self.max)
    }

    /// The delay before the next attempt; each call raises the ceiling for the next.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.failures = self.failures.saturating_add(1);
        let (low, high) = (self.min.as_nanos(), ceiling.as_nanos());
        if high <= low {
            return ceiling;
        }
        let span = u64::try_from(high - low).unwrap_or(u64::MAX);
        self.min + Duration::from_nanos(self.rng.u64(0..=span))
    }

    /// Starts over from `min` (after a stable connection).
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn ceilings_double_from_min_to_max() {
        let mut b = Backoff::with_seed(250 * MS, 30_000 * MS, 1);
        let mut ceilings = Vec::new();
        for _ in 0..10 {
            ceilings.push(b.ceiling().as_millis());
            b.next_delay();
        }
        assert_eq!(
            ceilings,
            [250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        for _ in 0..100 {
            b.next_delay();
        }
        assert_eq!(b.ceiling(), 30_000 * MS, "no overflow after many failures");
    }

    #[test]
    fn delays_are_jittered_over_the_whole_range() {
        let mut b = Backoff::with_seed(100 * MS, 10_000 * MS, 7);
        for _ in 0..7 {
            b.next_delay();
        }
        // Ceiling is now 10 s: draws spread over [100 ms, 10 s].
        let draws: Vec<Duration> = (0..200)
            .map(|_| {
                let mut c = b.clone();
                c.rng = fastrand::Rng::with_seed(b.rng.u64(..));
                c.next_delay()
            })
            .collect();
        assert!(draws.iter().all(|d| (100 * MS..=10_000 * MS).contains(d)));
        assert!(draws.iter().any(|d| *d < 2_000 * MS), "low values occur");
        assert!(draws.iter().any(|d| *d > 8_000 * MS), "high values occur");
        let first = Backoff::with_seed(100 * MS, 10_000 * MS, 3).next_delay();
        assert_eq!(first, 100 * MS, "the first delay is the floor");
    }

    #[test]
    fn reset_starts_over_and_bad_bounds_are_tolerated() {
        let mut b = Backoff::with_seed(10 * MS, 1_000 * MS, 5);
        for _ in 0..5 {
            b.next_delay();
        }
        assert_eq!(b.ceiling(), 320 * MS);
        b.reset();
        assert_eq!(b.ceiling(), 10 * MS);
        assert_eq!(b.next_delay(), 10 * MS);
        let mut inverted = Backoff::with_seed(50 * MS, 10 * MS, 5);
        assert_eq!(inverted.next_delay(), 50 * MS);
        assert_eq!(inverted.next_delay(), 50 * MS);
    }
}
