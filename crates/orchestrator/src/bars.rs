//! What a bar fetch asks the venue for: ranges of bar closes on the interval's grid, never the
//! still-forming bar, and never what the venue no longer keeps (Hyperliquid serves only its
//! newest 5000 candles of each interval; what is older is named in a note instead).

use ccxt_model::BarInterval;
use ccxt_model::time::format_iso;

use crate::Plan;

/// The closes of `interval` bars in `[start, end]` as a closed range of grid points, ending at
/// the last bar closed at `now`; `None` when no bar closes in it.
pub fn closes_in(interval: BarInterval, start: u64, end: u64, now: u64) -> Option<(u64, u64)> {
    // Closes are bar opens of the next bar, so they lie on the grid.
    let first = if interval.is_open(start) {
        start
    } else {
        interval.close_of(interval.floor(start))
    };
    let last = interval.floor(end.min(now));
    (first <= last && last > 0).then_some((first, last))
}

/// The close of the `n`-th newest closed bar at `now` (`n` = 1: the last closed bar).
pub fn nth_newest_close(interval: BarInterval, n: u32, now: u64) -> u64 {
    let mut close = interval.floor(now);
    match interval.fixed_ns() {
        Some(len) => close.saturating_sub(len.saturating_mul(u64::from(n.saturating_sub(1)))),
        None => {
            for _ in 1..n {
                if close == 0 {
                    break;
                }
                close = interval.open_of(close);
            }
            close
        }
    }
}

/// The oldest bar close a venue that keeps only its newest `limit` candles still serves at
/// `now`. The still-forming candle counts among them, so the oldest kept one opens
/// `limit − 1` bars before the current one.
pub fn oldest_kept_close(interval: BarInterval, limit: u32, now: u64) -> u64 {
    // The forming bar opens at floor(now) and is the newest; the oldest kept one closes
    // `limit − 2` bars before floor(now).
    nth_newest_close(interval, limit.saturating_sub(1), now)
}

/// Puts every range of `plan.fetch` on `interval`'s grid (closes only, nothing closing after
/// `now`), dropping those in which no bar closes.
pub fn to_grid(plan: &mut Plan, interval: BarInterval, now: u64) {
    plan.fetch = plan
        .fetch
        .iter()
        .filter_map(|&(a, b)| closes_in(interval, a, b, now))
        .collect();
}

/// Cuts from `plan.fetch` what closes before `oldest` (the venue no longer has it) and adds a
/// note naming exactly that span.
pub fn drop_unkept(plan: &mut Plan, interval: BarInterval, limit: u32, oldest: u64, venue: &str) {
    let mut lost: Option<(u64, u64)> = None;
    let mut kept = Vec::with_capacity(plan.fetch.len());
    for &(a, b) in &plan.fetch {
        if a < oldest {
            let gone_to = b.min(interval.open_of(oldest));
            lost = Some(match lost {
                Some((lo, hi)) => (lo.min(a), hi.max(gone_to)),
                None => (a, gone_to),
            });
        }
        if b >= oldest {
            kept.push((a.max(oldest), b));
        }
    }
    plan.fetch = kept;
    if let Some((lo, hi)) = lost {
        plan.notes.push(format!(
            "{venue} keeps only its newest {limit} {interval} candles: the bars closing {} to {} cannot be fetched (the venue no longer has them; the oldest it serves closes {})",
            format_iso(lo),
            format_iso(hi),
            format_iso(oldest),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000_000_000;
    // 2026-01-01T00:00:00Z.
    const T0: u64 = 1_767_225_600_000_000_000;

    #[test]
    fn ranges_become_closes_on_the_grid_and_never_the_forming_bar() {
        let m1 = BarInterval::M1;
        // Already on the grid: unchanged.
        assert_eq!(
            closes_in(m1, T0, T0 + 10 * MIN, u64::MAX),
            Some((T0, T0 + 10 * MIN))
        );
        // Off the grid: the first close at or after start, the last at or before end.
        assert_eq!(
            closes_in(m1, T0 + 1, T0 + 10 * MIN - 1, u64::MAX),
            Some((T0 + MIN, T0 + 9 * MIN))
        );
        // Ends at now: the forming bar (closing after now) is not asked for.
        assert_eq!(
            closes_in(m1, T0, T0 + 60 * MIN, T0 + 5 * MIN + 30_000_000_000),
            Some((T0, T0 + 5 * MIN))
        );
        // Nothing closes inside.
        assert_eq!(closes_in(m1, T0 + 1, T0 + MIN - 1, u64::MAX), None);
        let h1 = BarInterval::H1;
        assert_eq!(
            closes_in(h1, T0 + MIN, T0 + 180 * MIN, u64::MAX),
            Some((T0 + 60 * MIN, T0 + 180 * MIN))
        );
    }

    #[test]
    fn the_newest_bars_are_counted_back_from_the_last_closed_one() {
        let now = T0 + 10 * MIN + 5;
        assert_eq!(nth_newest_close(BarInterval::M1, 1, now), T0 + 10 * MIN);
        assert_eq!(nth_newest_close(BarInterval::M1, 100, now), T0 - 89 * MIN);
        // Months by the calendar: 2026-01-01 is the last closed month's close in January.
        let month = nth_newest_close(BarInterval::Month1, 3, now);
        assert_eq!(format_iso(month), "2025-11-01T00:00:00Z");
        // A venue keeping 5000 candles (the forming one included) serves 4999 closed ones.
        let oldest = oldest_kept_close(BarInterval::M1, 5000, now);
        assert_eq!(oldest, T0 + 10 * MIN - 4998 * MIN);
        let closed = (T0 + 10 * MIN - oldest) / MIN + 1;
        assert_eq!(closed, 4999);
    }

    #[test]
    fn what_the_venue_no_longer_keeps_is_cut_and_named() {
        let m1 = BarInterval::M1;
        let oldest = T0 + 100 * MIN;
        let mut plan = Plan {
            fetch: vec![(T0, T0 + 50 * MIN), (T0 + 90 * MIN, T0 + 200 * MIN)],
            ..Plan::default()
        };
        drop_unkept(&mut plan, m1, 5000, oldest, "hyperliquid");
        assert_eq!(plan.fetch, [(oldest, T0 + 200 * MIN)]);
        assert_eq!(plan.notes.len(), 1);
        let note = &plan.notes[0];
        assert!(
            note.contains("newest 5000 1m candles")
                && note.contains(&format!(
                    "closing {} to {}",
                    format_iso(T0),
                    format_iso(oldest - MIN)
                )),
            "{note}"
        );
        // Nothing too old: no note.
        let mut plan = Plan {
            fetch: vec![(oldest, oldest + MIN)],
            ..Plan::default()
        };
        drop_unkept(&mut plan, m1, 5000, oldest, "hyperliquid");
        assert!(plan.notes.is_empty());
        assert_eq!(plan.fetch, [(oldest, oldest + MIN)]);
    }
}
