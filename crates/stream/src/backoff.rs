//! Reconnect delays: exponential backoff with full jitter, reset after a stable connection.
//!
//! The n-th consecutive failure waits a uniformly random time in `[min, ceiling_n]`, where
//! `ceiling_n = min(max, min · 2ⁿ)`: the whole range is randomised ("full jitter"), so many
//! clients cut off together do not come back in step, and the floor `min` keeps a failing
//! venue from being hammered. A connection that stayed up for `stable_after` resets the
//! sequence (see [`crate::WsSettings::stable_after`]).
//!
//! The sequence comes from `backon` (the backoff crate the HTTP transport uses too): its
//! [`ExponentialBuilder`] yields the doubling, capped ceilings. Its own jitter adds a random
//! fraction `r ∈ [0, 1)` of the ceiling on top (`ceiling · (1 + r)`, up to twice `max`), so
//! that draw is taken from a jittered twin of the same sequence and spread over
//! `[min, ceiling]` instead: `min + (ceiling − min) · r`.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// The delay sequence of one reconnecting connection.
#[derive(Debug)]
pub struct Backoff {
    builder: ExponentialBuilder,
    min: Duration,
    seed: Option<u64>,
    /// How many times the sequence started over (varies the seed of a seeded sequence).
    resets: u64,
    /// The ceilings `min · 2ⁿ` capped at `max`, without jitter.
    ceilings: ExponentialBackoff,
    /// The same sequence with backon's jitter, read only for its random fraction.
    jittered: ExponentialBackoff,
    /// The ceiling of the next delay (taken from `ceilings` one step ahead).
    next_ceiling: Duration,
}

impl Backoff {
    /// Delays from `min` up to at most `max` (a `max` below `min` is read as `min`).
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff::build(min, max, None)
    }

    /// The same with a seeded random generator, for reproducible tests.
    pub fn with_seed(min: Duration, max: Duration, seed: u64) -> Backoff {
        Backoff::build(min, max, Some(seed))
    }

    fn build(min: Duration, max: Duration, seed: Option<u64>) -> Backoff {
        let builder = ExponentialBuilder::new()
            .with_min_delay(min)
            .with_max_delay(max.max(min))
            .with_factor(2.0)
            .without_max_times();
        let (ceilings, jittered, next_ceiling) = Backoff::sequences(builder, min, seed);
        Backoff {
            builder,
            min,
            seed,
            resets: 0,
            ceilings,
            jittered,
            next_ceiling,
        }
    }

    fn sequences(
        builder: ExponentialBuilder,
        min: Duration,
        seed: Option<u64>,
    ) -> (ExponentialBackoff, ExponentialBackoff, Duration) {
        let mut ceilings = builder.build();
        let jitter = builder.with_jitter();
        let jittered = match seed {
            Some(seed) => jitter.with_jitter_seed(seed).build(),
            None => jitter.build(),
        };
        // Without max_times the sequence never ends; `min` is its first value anyway.
        let next_ceiling = ceilings.next().unwrap_or(min);
        (ceilings, jittered, next_ceiling)
    }

    /// The largest delay the next call to [`Backoff::next_delay`] can return.
    pub fn ceiling(&self) -> Duration {
        self.next_ceiling
    }

    /// The delay before the next attempt; each call raises the ceiling for the next.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.next_ceiling;
        self.next_ceiling = self.ceilings.next().unwrap_or(ceiling);
        // backon returns `ceiling · (1 + r)`; recover r and spread it over [min, ceiling].
        let fraction = match self.jittered.next() {
            Some(jittered) if !ceiling.is_zero() => {
                (jittered.saturating_sub(ceiling).as_secs_f64() / ceiling.as_secs_f64())
                    .clamp(0.0, 1.0)
            }
            _ => 0.0,
        };
        let span = ceiling.saturating_sub(self.min);
        (self.min + span.mul_f64(fraction)).min(ceiling.max(self.min))
    }

    /// Starts over from `min` (after a stable connection).
    pub fn reset(&mut self) {
        self.resets = self.resets.wrapping_add(1);
        let seed = self.seed.map(|s| s.wrapping_add(self.resets));
        let (ceilings, jittered, next_ceiling) = Backoff::sequences(self.builder, self.min, seed);
        self.ceilings = ceilings;
        self.jittered = jittered;
        self.next_ceiling = next_ceiling;
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
        let mut b = Backoff::with_seed(250 * MS, 16_000 * MS, 7);
        assert_eq!(b.next_delay(), 250 * MS, "the first delay is the floor");
        for _ in 0..6 {
            b.next_delay();
        }
        // Ceiling is now 16 s: draws spread over [250 ms, 16 s] (full jitter), never above.
        let draws: Vec<Duration> = (0..200).map(|_| b.next_delay()).collect();
        assert!(
            draws.iter().all(|d| (250 * MS..=16_000 * MS).contains(d)),
            "{draws:?}"
        );
        assert!(draws.iter().any(|d| *d < 3_000 * MS), "low values occur");
        assert!(draws.iter().any(|d| *d > 13_000 * MS), "high values occur");
        let distinct: std::collections::BTreeSet<_> = draws.iter().collect();
        assert!(distinct.len() > 150, "draws are random, not a fixed value");
    }

    #[test]
    fn seeded_sequences_repeat() {
        let run = |seed| {
            let mut b = Backoff::with_seed(250 * MS, 30_000 * MS, seed);
            (0..20).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(run(11), run(11));
        assert_ne!(run(11), run(12));
    }

    #[test]
    fn reset_starts_over_and_bad_bounds_are_tolerated() {
        let mut b = Backoff::with_seed(125 * MS, 10_000 * MS, 5);
        for _ in 0..5 {
            b.next_delay();
        }
        assert_eq!(b.ceiling(), 4_000 * MS);
        b.reset();
        assert_eq!(b.ceiling(), 125 * MS);
        assert_eq!(b.next_delay(), 125 * MS);
        assert_eq!(b.ceiling(), 250 * MS);
        let mut inverted = Backoff::with_seed(50 * MS, 10 * MS, 5);
        assert_eq!(inverted.next_delay(), 50 * MS);
        assert_eq!(inverted.next_delay(), 50 * MS);
        assert_eq!(inverted.ceiling(), 50 * MS);
    }
}
