//! The paging arithmetic of OKX's history endpoints, as pure functions.
//!
//! Every history endpoint here answers **newest first** and pages backwards with an exclusive
//! upper cursor: funding history `after` (rows with `fundingTime < after`), rubik OI history
//! `end` (rows with `ts < end`), candles `after` (candles opening before `after`). To read
//! `[start, end]` (inclusive, ms): ask with cursor `end + 1`, then with the oldest time of each
//! page, until a page is empty or reaches back to `start` ([`next_cursor`]); keep the rows in
//! range ([`in_range`]) and sort ascending ([`ascending`]).

/// Rows the rubik OI-history endpoint keeps per period ("can retrieve the latest 1,440 data
/// entries").
pub const RUBIK_MAX_ROWS: u64 = 1440;

/// Candles the recent candle endpoints (`candles`, `mark-price-candles`) keep per bar.
pub const RECENT_CANDLES: u64 = 1440;

/// Days of history the funding-history endpoint serves ("up to three months").
pub const FUNDING_HISTORY_DAYS: u64 = 92;

const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// The first cursor for a range ending at `end_ms` inclusive (cursors are exclusive).
pub fn first_cursor(end_ms: u64) -> u64 {
    end_ms.saturating_add(1)
}

/// The cursor of the page after one whose times are `times` (any order), or `None` when done:
/// the page is empty, reaches `start_ms`, or did not move back (a venue repeating itself).
pub fn next_cursor(times: &[u64], cursor: u64, start_ms: u64) -> Option<u64> {
    let oldest = times.iter().copied().min()?;
    (oldest > start_ms && oldest < cursor).then_some(oldest)
}

/// Whether `t` is in `[start_ms, end_ms]`.
pub fn in_range(t: u64, start_ms: u64, end_ms: u64) -> bool {
    (start_ms..=end_ms).contains(&t)
}

/// Sorts rows ascending by `time` and drops repeated times (pages may overlap).
pub fn ascending<T>(mut rows: Vec<T>, time: impl Fn(&T) -> u64) -> Vec<T> {
    rows.sort_by_key(|r| time(r));
    rows.dedup_by_key(|r| time(r));
    rows
}

/// OKX's rubik period name of a period length (UTC-aligned names for days), `None` if OKX has
/// no such period: `5m 15m 30m 1H 2H 4H 6Hutc 12Hutc 1Dutc`.
pub fn rubik_period_name(period_ms: u64) -> Option<&'static str> {
    Some(match period_ms {
        p if p == 5 * MINUTE => "5m",
        p if p == 15 * MINUTE => "15m",
        p if p == 30 * MINUTE => "30m",
        HOUR => "1H",
        p if p == 2 * HOUR => "2H",
        p if p == 4 * HOUR => "4H",
        p if p == 6 * HOUR => "6Hutc",
        p if p == 12 * HOUR => "12Hutc",
        DAY => "1Dutc",
        _ => return None,
    })
}

/// The oldest period start the rubik endpoint still serves at `now_ms` for `period_ms`
/// (UTC-aligned periods): the 1,440th completed period back.
pub fn rubik_oldest_ms(now_ms: u64, period_ms: u64) -> u64 {
    if period_ms == 0 {
        return now_ms;
    }
    let last_complete_start = (now_ms / period_ms).saturating_sub(1) * period_ms;
    last_complete_start.saturating_sub((RUBIK_MAX_ROWS - 1) * period_ms)
}

/// A requested start clamped to what rubik can serve: `(start, truncated)` where `truncated`
/// says the range asked for reaches further back than the venue keeps (say so to the user, as
/// for Binance's 30 days).
pub fn rubik_clamp_start(start_ms: u64, now_ms: u64, period_ms: u64) -> (u64, bool) {
    let oldest = rubik_oldest_ms(now_ms, period_ms);
    if start_ms < oldest {
        (oldest, true)
    } else {
        (start_ms, false)
    }
}

/// The oldest funding time the funding-history endpoint serves at `now_ms`.
pub fn funding_oldest_ms(now_ms: u64) -> u64 {
    now_ms.saturating_sub(FUNDING_HISTORY_DAYS * DAY)
}

/// OKX's candle bar name of a bar length (UTC-aligned for 6 h and longer), `None` if OKX has
/// none: `1m 3m 5m 15m 30m 1H 2H 4H 6Hutc 12Hutc 1Dutc 1Wutc`.
pub fn bar_name(bar_ms: u64) -> Option<&'static str> {
    Some(match bar_ms {
        MINUTE => "1m",
        p if p == 3 * MINUTE => "3m",
        p if p == 5 * MINUTE => "5m",
        p if p == 15 * MINUTE => "15m",
        p if p == 30 * MINUTE => "30m",
        HOUR => "1H",
        p if p == 2 * HOUR => "2H",
        p if p == 4 * HOUR => "4H",
        p if p == 6 * HOUR => "6Hutc",
        p if p == 12 * HOUR => "12Hutc",
        DAY => "1Dutc",
        p if p == 7 * DAY => "1Wutc",
        _ => return None,
    })
}

/// Whether candles opening at or after `start_ms` need the history endpoint at `now_ms`: the
/// recent endpoint keeps only the latest 1,440 candles (the forming one included), so a start
/// older than 1,439 bars before the forming candle is beyond it (as ccxt switches).
pub fn needs_history_candles(start_ms: u64, now_ms: u64, bar_ms: u64) -> bool {
    if bar_ms == 0 {
        return true;
    }
    let forming = now_ms / bar_ms * bar_ms;
    start_ms < forming.saturating_sub((RECENT_CANDLES - 1) * bar_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_walk_back_and_stop() {
        assert_eq!(first_cursor(1000), 1001);
        assert_eq!(next_cursor(&[900, 800, 700], 1001, 0), Some(700));
        assert_eq!(next_cursor(&[], 1001, 0), None);
        assert_eq!(next_cursor(&[700], 1001, 700), None, "reached start");
        assert_eq!(next_cursor(&[1001], 1001, 0), None, "did not move");
        assert!(in_range(5, 5, 6) && !in_range(7, 5, 6));
        let rows = ascending(vec![3u64, 1, 2, 2], |r| *r);
        assert_eq!(rows, [1, 2, 3]);
    }

    #[test]
    fn rubik_window_is_1440_completed_periods() {
        let now = 1_767_225_600_000 + 7 * MINUTE;
        assert_eq!(rubik_period_name(HOUR), Some("1H"));
        assert_eq!(rubik_period_name(DAY), Some("1Dutc"));
        assert_eq!(rubik_period_name(7 * MINUTE), None);
        let oldest = rubik_oldest_ms(now, HOUR);
        assert_eq!(oldest, 1_767_225_600_000 - HOUR - 1439 * HOUR);
        assert_eq!(rubik_clamp_start(0, now, HOUR), (oldest, true));
        assert_eq!(rubik_clamp_start(oldest, now, HOUR), (oldest, false));
        // About 5 days at 5 minutes: the forming period is not served.
        assert_eq!(
            now - rubik_oldest_ms(now, 5 * MINUTE),
            1439 * 5 * MINUTE + 7 * MINUTE
        );
        assert_eq!(funding_oldest_ms(100 * DAY), 8 * DAY);
    }

    #[test]
    fn candles_switch_to_history_beyond_1440() {
        let now = 1_767_225_600_000 + 7 * MINUTE;
        assert_eq!(bar_name(HOUR), Some("1H"));
        assert_eq!(bar_name(DAY), Some("1Dutc"));
        assert_eq!(bar_name(8 * HOUR), None);
        assert!(!needs_history_candles(now - 1439 * MINUTE, now, MINUTE));
        assert!(needs_history_candles(now - 1440 * MINUTE, now, MINUTE));
    }
}
