//! Candles (klines) for the three venues' kline endpoints: a grid of candle opens per interval
//! (UTC minutes and hours, days, Mondays, calendar months), and seeded, deterministic OHLCV per
//! (instrument, interval, open) that is internally consistent (`low ≤ open, close ≤ high`,
//! positive prices, volume ≥ 0), with prices on the instrument's tick and volumes on its lot
//! size, mark candles a few basis points from the trade candles, and the still-forming candle
//! at the clock's now (its close is the latest price, its volume the part traded so far).
//!
//! Two fault switches act here ([`crate::Faults::kline_hole_rate`],
//! [`crate::Faults::kline_invalid_rate`]): a seeded share of candles is missing (a hole in the
//! venue's answer) or comes with its high and low swapped (`high < low`), the same candles on
//! every request.

use crate::data::{DAY, Instrument, MINUTE, Universe, hash_str, mix, unit};
use crate::format::civil;

// Stream tags, apart from `data`'s.
const T_MINUTE: u64 = 31;
const T_HIGH: u64 = 32;
const T_LOW: u64 = 33;
const T_VOLUME: u64 = 34;
const T_MARK: u64 = 35;
const T_HOLE: u64 = 36;
const T_INVALID: u64 = 37;
const T_TRADES: u64 = 38;

/// A candle interval: a fixed length in minutes, or a calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Span {
    /// A fixed number of minutes; weeks (10 080) start on Mondays.
    Minutes(u64),
    /// A calendar month, UTC.
    Month,
}

const WEEK_MINUTES: u64 = 7 * 1440;

impl Span {
    /// Binance / Hyperliquid spelling: `1m` … `1M`. `hyperliquid` leaves out `6h`.
    pub fn from_binance(s: &str, hyperliquid: bool) -> Option<Span> {
        let minutes = match s {
            "1m" => 1,
            "3m" => 3,
            "5m" => 5,
            "15m" => 15,
            "30m" => 30,
            "1h" => 60,
            "2h" => 120,
            "4h" => 240,
            "6h" if !hyperliquid => 360,
            "8h" => 480,
            "12h" => 720,
            "1d" => 1440,
            "3d" => 3 * 1440,
            "1w" => WEEK_MINUTES,
            "1M" => return Some(Span::Month),
            _ => return None,
        };
        Some(Span::Minutes(minutes))
    }

    /// Bybit spelling: `1 3 5 15 30 60 120 240 360 720 D W M`.
    pub fn from_bybit(s: &str) -> Option<Span> {
        let minutes = match s {
            "1" | "3" | "5" | "15" | "30" | "60" | "120" | "240" | "360" | "720" => {
                s.parse().ok()?
            }
            "D" => 1440,
            "W" => WEEK_MINUTES,
            "M" => return Some(Span::Month),
            _ => return None,
        };
        Some(Span::Minutes(minutes))
    }

    fn minutes_len(self) -> u64 {
        match self {
            Span::Minutes(m) => m,
            Span::Month => 30 * 1440,
        }
    }

    /// The open of the candle containing `t` (ms).
    pub fn floor(self, t: u64) -> u64 {
        match self {
            Span::Month => month_start(t),
            Span::Minutes(WEEK_MINUTES) => {
                // 1970-01-01 was a Thursday; Mondays are 4 days later on the week grid.
                let offset = 4 * DAY;
                let week = 7 * DAY;
                if t < offset {
                    0
                } else {
                    t - (t - offset) % week
                }
            }
            Span::Minutes(m) => t - t % (m * MINUTE),
        }
    }

    /// The open of the candle after the one opening at `open`.
    pub fn next(self, open: u64) -> u64 {
        match self {
            Span::Month => month_start(month_start(open) + 32 * DAY),
            Span::Minutes(m) => open.saturating_add(m * MINUTE),
        }
    }

    /// The open of the candle before the one opening at `open` (0 at the epoch).
    pub fn prev(self, open: u64) -> u64 {
        match self {
            Span::Month => month_start(open.saturating_sub(1)),
            Span::Minutes(m) => open.saturating_sub(m * MINUTE),
        }
    }
}

/// Days since the epoch of a civil date (Howard Hinnant's days-from-civil).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn month_start(t: u64) -> u64 {
    let (y, m, _) = civil(t);
    u64::try_from(days_from_civil(y, m, 1)).unwrap_or(0) * DAY
}

/// Which candles of one instrument and interval exist at `now`: from the candle containing the
/// listing up to the forming candle (the one containing the data end), and on Hyperliquid only
/// the newest 5000.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Series<'a> {
    pub universe: &'a Universe,
    pub inst: &'a Instrument,
    pub span: Span,
    /// Open of the first candle that exists.
    pub first: u64,
    /// Open of the forming candle (the last one).
    pub last: u64,
    /// The clock's now, ms (the forming candle's close and volume depend on it).
    pub now: u64,
    /// Fault rates in force for this request.
    pub hole_rate: f64,
    /// Share of candles with `high < low`.
    pub invalid_rate: f64,
    key: u64,
}

/// One candle, as text in the venue's number style.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Candle {
    pub open_ms: u64,
    /// Close time (the next candle's open).
    pub close_ms: u64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    /// Base volume (0 for marks).
    pub volume: f64,
    /// Number of trades.
    pub trades: u64,
}

impl<'a> Series<'a> {
    /// The series of `inst` on `span` at `now`; `newest` caps it to the newest N candles.
    pub fn new(
        universe: &'a Universe,
        inst: &'a Instrument,
        span: Span,
        now: u64,
        newest: Option<u64>,
        (hole_rate, invalid_rate): (f64, f64),
    ) -> Series<'a> {
        let last = span.floor(inst.data_end(now));
        let mut first = span.floor(inst.launch_ms).min(last);
        if let Some(n) = newest {
            let mut cut = last;
            for _ in 1..n.max(1) {
                if cut <= first {
                    break;
                }
                cut = span.prev(cut);
            }
            first = first.max(cut);
        }
        let key = mix(inst.key, hash_str(&format!("{span:?}")));
        Series {
            universe,
            inst,
            span,
            first,
            last,
            now,
            hole_rate,
            invalid_rate,
            key,
        }
    }

    /// Whether a candle opens at `open` (on the grid, in range, not a planted hole).
    pub fn exists(&self, open: u64) -> bool {
        open >= self.first
            && open <= self.last
            && !(self.hole_rate > 0.0 && unit(mix(mix(self.key, T_HOLE), open)) < self.hole_rate)
    }

    /// Opens of existing candles with `lo ≤ open ≤ hi`, ascending, at most `limit`: the first
    /// ones (`from_start`) or the last ones.
    pub fn opens(&self, lo: u64, hi: u64, limit: usize, from_start: bool) -> Vec<u64> {
        let from = lo.max(self.first);
        let lo = match self.span.floor(from) {
            on_grid if on_grid == from => on_grid,
            before => self.span.next(before),
        };
        let hi = hi.min(self.last);
        let mut out = Vec::new();
        if lo > hi || limit == 0 {
            return out;
        }
        if from_start {
            let mut t = lo;
            while t <= hi && out.len() < limit {
                if self.exists(t) {
                    out.push(t);
                }
                t = self.span.next(t);
            }
        } else {
            let mut t = self.span.floor(hi);
            loop {
                if t < lo || out.len() >= limit {
                    break;
                }
                if self.exists(t) {
                    out.push(t);
                }
                if t == 0 {
                    break;
                }
                t = self.span.prev(t);
            }
            out.reverse();
        }
        out
    }

    /// The trade price at minute resolution: the data's 5-minute price with minute noise.
    fn price_at(&self, t: u64) -> f64 {
        let m = t / MINUTE;
        let noise = 0.0008 * (unit(mix(mix(self.inst.key, T_MINUTE), m)) - 0.5);
        self.universe.price(self.inst, t) * (1.0 + noise)
    }

    /// The trade candle opening at `open` (which must exist).
    pub fn trade(&self, open: u64) -> Candle {
        let close_ms = self.span.next(open);
        let forming = close_ms > self.now;
        let end = if forming {
            self.now.max(open)
        } else {
            close_ms
        };
        let o = self.price_at(open);
        let c = self.price_at(end.saturating_sub(1).max(open));
        let minutes = self.span.minutes_len() as f64;
        let swing = (0.0012 * minutes.sqrt()).min(0.25);
        let h = o.max(c) * (1.0 + swing * unit(mix(mix(self.key, T_HIGH), open)));
        let l = o.min(c) * (1.0 - swing * unit(mix(mix(self.key, T_LOW), open)));
        let a = self.universe.asset(self.inst);
        let per_minute = a.oi_usd / a.price * self.inst.oi_scale * 0.0004;
        let done = if forming {
            (end - open) as f64 / (close_ms - open) as f64
        } else {
            1.0
        };
        let volume = per_minute * minutes * done * (0.5 + unit(mix(mix(self.key, T_VOLUME), open)));
        let trades = ((minutes * done * 40.0) * (0.5 + unit(mix(mix(self.key, T_TRADES), open))))
            .round() as u64;
        let (h, l) = if self.invalid(open) { (l, h) } else { (h, l) };
        Candle {
            open_ms: open,
            close_ms,
            open: o,
            high: h,
            low: l,
            close: c,
            volume,
            trades,
        }
    }

    /// The mark candle opening at `open`: the trade candle's prices moved by a few basis
    /// points (each a little differently, the order kept), no volume.
    pub fn mark(&self, open: u64) -> Candle {
        let t = self.trade(open);
        let f = |i: u64| 1.0 + 0.0003 * (unit(mix(mix(self.key, T_MARK + i), open)) - 0.5);
        let (o, c) = (t.open * f(1), t.close * f(2));
        let (mut h, mut l) = (
            t.high.max(t.low) * f(3).max(1.0),
            t.low.min(t.high) * f(4).min(1.0),
        );
        h = h.max(o).max(c);
        l = l.min(o).min(c);
        let (h, l) = if self.invalid(open) { (l, h) } else { (h, l) };
        Candle {
            open: o,
            high: h,
            low: l,
            close: c,
            volume: 0.0,
            trades: 0,
            ..t
        }
    }

    fn invalid(&self, open: u64) -> bool {
        self.invalid_rate > 0.0 && unit(mix(mix(self.key, T_INVALID), open)) < self.invalid_rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_767_225_600_000 + 12 * 3_600_000 + 7 * MINUTE + 30_000; // 2026-01-01T12:07:30Z

    #[test]
    fn grids_are_utc_mondays_and_months() {
        assert_eq!(Span::Month.floor(NOW), 1_767_225_600_000);
        assert_eq!(Span::Month.next(1_767_225_600_000), 1_769_904_000_000); // 2026-02-01
        assert_eq!(Span::Month.prev(1_767_225_600_000), 1_764_547_200_000); // 2025-12-01
        // 2026-01-01 is a Thursday: the week began on Monday 2025-12-29.
        assert_eq!(
            Span::Minutes(WEEK_MINUTES).floor(NOW),
            1_767_225_600_000 - 3 * DAY
        );
        assert_eq!(Span::from_bybit("D"), Some(Span::Minutes(1440)));
        assert_eq!(Span::from_binance("6h", true), None);
        assert_eq!(Span::from_bybit("480"), None);
    }

    #[test]
    fn candles_are_consistent_and_the_last_is_forming() {
        let u = Universe::new(1, 8, 30, NOW);
        let inst = &u.binance.list[0];
        for span in [Span::Minutes(1), Span::Minutes(60), Span::Month] {
            let s = Series::new(&u, inst, span, NOW, None, (0.0, 0.0));
            let opens = s.opens(0, u64::MAX, 50, false);
            assert_eq!(opens.last(), Some(&span.floor(NOW)));
            for open in opens {
                for c in [s.trade(open), s.mark(open)] {
                    assert!(c.low > 0.0 && c.low <= c.open.min(c.close), "{c:?}");
                    assert!(c.high >= c.open.max(c.close), "{c:?}");
                    assert!(c.volume >= 0.0);
                }
                let (t, m) = (s.trade(open), s.mark(open));
                assert!((m.close / t.close - 1.0).abs() < 0.001);
            }
        }
        let s = Series::new(&u, inst, Span::Minutes(1), NOW, Some(5000), (0.0, 0.0));
        assert_eq!(s.opens(0, u64::MAX, 10_000, true).len(), 5000);
    }

    #[test]
    fn holes_and_invalid_candles_are_seeded() {
        let u = Universe::new(1, 8, 30, NOW);
        let inst = &u.binance.list[0];
        let s = Series::new(&u, inst, Span::Minutes(1), NOW, None, (0.1, 0.1));
        let opens = s.opens(NOW - 1000 * MINUTE, NOW, 2000, true);
        assert!(opens.len() > 850 && opens.len() < 950, "{}", opens.len());
        let bad = opens
            .iter()
            .filter(|&&o| s.trade(o).high < s.trade(o).low)
            .count();
        assert!(bad > 50 && bad < 150, "{bad}");
        assert_eq!(opens, s.opens(NOW - 1000 * MINUTE, NOW, 2000, true));
    }
}
