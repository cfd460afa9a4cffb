//! Next-page logic of the Binance history endpoints: pure [`Paginator`]s that
//! [`ccxt_venue::paginate`] drives.
//!
//! Both endpoints answer ascending, so both page forward in time:
//!
//! * **Open-interest history** (`/futures/data/openInterestHist`) is asked for in windows that
//!   hold at most [`OI_HIST_LIMIT`] buckets (`[from, from + 499 periods]`), so the answer is the
//!   whole window whichever end Binance would cut from. The next window starts one period after
//!   the last bucket received (or just after the window when it was empty: a gap, or a symbol
//!   listed later). Binance keeps only the last 30 days: see [`clamp_to_retention`].
//! * **Funding history** (`/fapi/v1/fundingRate`) is asked for from `startTime` to the end;
//!   Binance answers the first [`FUNDING_RATE_LIMIT`] rates from `startTime` (both bounds
//!   inclusive). The next page starts 1 ms after the last `fundingTime`; a short page ends it.
//!
//! Rows earlier than the request's `startTime` (an overlap, should the venue ignore it) are
//! dropped, and rows repeated within a page are kept once, so pages never repeat a row.

use ccxt_model::time::{NANOS_PER_DAY, NANOS_PER_SECOND};
use ccxt_model::{FundingRate, Instrument, OpenInterest};
use ccxt_venue::convert::{ms_range, ms_to_ns};
use ccxt_venue::{FetchError, HttpRequest, HttpResponse, OiPeriod, Page, Paginator};

use super::parse::{parse_funding_rate_history, parse_open_interest_hist, settled_funding};
use super::requests::{self, FUNDING_RATE_LIMIT, OI_HIST_LIMIT};

/// How much open-interest history Binance keeps: "only the data of the latest 30 days".
pub const OI_HISTORY_RETENTION_NS: u64 = 30 * NANOS_PER_DAY;

/// How far inside the 30 days a clamped start is put, so that a request sent a little later
/// (rate-limit waits, retries) or a venue clock a little ahead still asks for a time Binance has.
pub const RETENTION_MARGIN_NS: u64 = 5 * 60 * NANOS_PER_SECOND;

/// The start an open-interest history request can use at `now_ns`: `start_ns`, or the
/// retention cutoff (`now − 30 days + margin`) when `start_ns` is older. The second value is the
/// cutoff when the start was clamped, so the caller can say so.
pub fn clamp_to_retention(start_ns: u64, now_ns: u64) -> (u64, Option<u64>) {
    let cutoff = now_ns.saturating_sub(OI_HISTORY_RETENTION_NS) + RETENTION_MARGIN_NS;
    if start_ns < cutoff {
        (cutoff, Some(cutoff))
    } else {
        (start_ns, None)
    }
}

/// A millisecond query parameter of one of our own requests.
fn param_ms(request: &HttpRequest, key: &str) -> Result<u64, FetchError> {
    request
        .param_value(key)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            FetchError::malformed(
                crate::VENUE,
                request.endpoint,
                format!("request has no {key}"),
            )
        })
}

/// Pages of `/futures/data/openInterestHist` for one symbol and period, oldest first.
#[derive(Debug, Clone)]
pub struct OpenInterestHistPaginator {
    instrument: Instrument,
    period: OiPeriod,
    start_ns: u64,
    end_ns: u64,
    start_ms: u64,
    end_ms: u64,
}

impl OpenInterestHistPaginator {
    /// Open interest of `instrument` in `[start_ns, end_ns]`; `None` when the range is empty.
    /// Clamp `start_ns` with [`clamp_to_retention`] first.
    pub fn new(
        instrument: Instrument,
        period: OiPeriod,
        start_ns: u64,
        end_ns: u64,
    ) -> Option<Self> {
        let (start_ms, end_ms) = ms_range(start_ns, end_ns)?;
        Some(OpenInterestHistPaginator {
            instrument,
            period,
            start_ns,
            end_ns,
            start_ms,
            end_ms,
        })
    }

    fn period_ms(&self) -> u64 {
        self.period.nanos() / 1_000_000
    }

    /// The request for the window that starts at `from_ms` and holds at most
    /// [`OI_HIST_LIMIT`] buckets.
    fn window(&self, from_ms: u64) -> HttpRequest {
        let span = (u64::from(OI_HIST_LIMIT) - 1) * self.period_ms();
        let to_ms = from_ms.saturating_add(span).min(self.end_ms);
        requests::open_interest_hist(&self.instrument.native, self.period, from_ms, to_ms)
    }
}

impl Paginator for OpenInterestHistPaginator {
    type Row = OpenInterest;

    fn first(&self) -> HttpRequest {
        self.window(self.start_ms)
    }

    fn parse(
        &self,
        request: &HttpRequest,
        response: &HttpResponse,
    ) -> Result<Page<OpenInterest>, FetchError> {
        let mut rows = parse_open_interest_hist(request, response, &self.instrument)?;
        let from_ns = ms_to_ns(param_ms(request, "startTime")?);
        let to_ms = param_ms(request, "endTime")?;
        rows.retain(|r| r.ts_event >= from_ns.max(self.start_ns) && r.ts_event <= self.end_ns);
        rows.sort_by_key(|r| r.ts_event);
        rows.dedup_by_key(|r| r.ts_event);
        let next_from = match rows.last() {
            Some(last) => last.ts_event / 1_000_000 + self.period_ms(),
            None => to_ms + 1,
        };
        let next = (next_from <= self.end_ms).then(|| self.window(next_from));
        Ok(Page { rows, next })
    }
}

/// Pages of `/fapi/v1/fundingRate` (settled rates) for one symbol, oldest first.
///
/// Intervals come from the spacing of consecutive funding times (see
/// [`settled_funding`]); the first row of a later page is
/// measured against the last row of the page before, which is the request's `startTime − 1`.
#[derive(Debug, Clone)]
pub struct FundingRatePaginator {
    instrument: Instrument,
    start_ns: u64,
    end_ns: u64,
    start_ms: u64,
    end_ms: u64,
}

impl FundingRatePaginator {
    /// Settled rates of `instrument` in `[start_ns, end_ns]`; `None` when the range is empty.
    pub fn new(instrument: Instrument, start_ns: u64, end_ns: u64) -> Option<Self> {
        let (start_ms, end_ms) = ms_range(start_ns, end_ns)?;
        Some(FundingRatePaginator {
            instrument,
            start_ns,
            end_ns,
            start_ms,
            end_ms,
        })
    }

    fn request(&self, from_ms: u64) -> HttpRequest {
        requests::funding_rate_history(&self.instrument.native, from_ms, self.end_ms)
    }
}

impl Paginator for FundingRatePaginator {
    type Row = FundingRate;

    fn first(&self) -> HttpRequest {
        self.request(self.start_ms)
    }

    fn parse(
        &self,
        request: &HttpRequest,
        response: &HttpResponse,
    ) -> Result<Page<FundingRate>, FetchError> {
        let mut rates = parse_funding_rate_history(request, response)?;
        let received = rates.len();
        let from_ms = param_ms(request, "startTime")?;
        rates.retain(|r| {
            let ns = ms_to_ns(r.time_ms);
            r.time_ms >= from_ms && ns >= self.start_ns && ns <= self.end_ns
        });
        rates.sort_by_key(|r| r.time_ms);
        rates.dedup_by_key(|r| r.time_ms);
        // Pages after the first start 1 ms after the previous page's last funding time.
        let previous = (from_ms > self.start_ms).then(|| from_ms - 1);
        let rows = settled_funding(&self.instrument, &rates, previous);
        let next = match rates.last() {
            Some(last) if received >= FUNDING_RATE_LIMIT as usize && last.time_ms < self.end_ms => {
                Some(self.request(last.time_ms + 1))
            }
            _ => None,
        };
        Ok(Page { rows, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse::instrument;

    const MIN: u64 = 60_000;
    const H: u64 = 60 * MIN;
    const DAY_MS: u64 = 24 * H;
    /// 2025-01-01T00:00:00Z in ms.
    const T0: u64 = 1_735_689_600_000;

    fn btc() -> Instrument {
        instrument("BTCUSDT").expect("valid")
    }

    fn json(body: String) -> HttpResponse {
        HttpResponse {
            status: 200,
            body: body.into_bytes().into(),
        }
    }

    fn oi_rows(times: impl IntoIterator<Item = u64>) -> HttpResponse {
        let rows: Vec<String> = times
            .into_iter()
            .map(|t| {
                format!(
                    r#"{{"symbol":"BTCUSDT","sumOpenInterest":"{}","sumOpenInterestValue":"1","timestamp":{t}}}"#,
                    t / 1000 % 1000
                )
            })
            .collect();
        json(format!("[{}]", rows.join(",")))
    }

    fn funding_rows(times: impl IntoIterator<Item = u64>) -> HttpResponse {
        let rows: Vec<String> = times
            .into_iter()
            .map(|t| format!(r#"{{"symbol":"BTCUSDT","fundingRate":"0.0001","fundingTime":{t}}}"#))
            .collect();
        json(format!("[{}]", rows.join(",")))
    }

    fn window(r: &HttpRequest) -> (u64, u64) {
        let p = |k| {
            r.param_value(k)
                .and_then(|v| v.parse().ok())
                .unwrap_or(u64::MAX)
        };
        (p("startTime"), p("endTime"))
    }

    #[test]
    fn retention_clamps_old_starts_to_the_cutoff_with_a_margin() {
        let now = ms_to_ns(T0 + 40 * DAY_MS);
        let cutoff = now - OI_HISTORY_RETENTION_NS + RETENTION_MARGIN_NS;
        assert_eq!(
            clamp_to_retention(ms_to_ns(T0), now),
            (cutoff, Some(cutoff))
        );
        assert_eq!(clamp_to_retention(cutoff - 1, now), (cutoff, Some(cutoff)));
        assert_eq!(clamp_to_retention(cutoff, now), (cutoff, None));
        let recent = now - NANOS_PER_DAY;
        assert_eq!(clamp_to_retention(recent, now), (recent, None));
        // A clock before 30 days after the epoch never underflows.
        assert_eq!(clamp_to_retention(0, 1).0, RETENTION_MARGIN_NS);
    }

    #[test]
    fn oi_windows_hold_at_most_500_buckets_and_move_forward() {
        let p = OpenInterestHistPaginator::new(
            btc(),
            OiPeriod::M5,
            ms_to_ns(T0),
            ms_to_ns(T0 + 3 * DAY_MS),
        )
        .expect("non-empty");
        let first = p.first();
        assert_eq!(window(&first), (T0, T0 + 499 * 5 * MIN));
        assert_eq!(first.param_value("period"), Some("5m"));
        assert_eq!(first.param_value("limit"), Some("500"));

        // A full window: the next starts one period after its last bucket.
        let full = oi_rows((0..500).map(|i| T0 + i * 5 * MIN));
        let page = p.parse(&first, &full).expect("parses");
        assert_eq!(page.rows.len(), 500);
        let second = page.next.expect("more to come");
        assert_eq!(
            window(&second),
            (T0 + 500 * 5 * MIN, T0 + 3 * DAY_MS),
            "cut at the end"
        );

        // The last window is cut at the end, and the page after it does not exist.
        let last_from = T0 + 3 * DAY_MS - 10 * MIN;
        let last = p.window(last_from);
        assert_eq!(window(&last), (last_from, T0 + 3 * DAY_MS));
        let page = p
            .parse(
                &last,
                &oi_rows([last_from, last_from + 5 * MIN, last_from + 10 * MIN]),
            )
            .expect("parses");
        assert_eq!(page.rows.len(), 3);
        assert_eq!(page.next, None);
    }

    #[test]
    fn oi_rows_are_de_duplicated_at_overlaps_and_kept_in_range() {
        let p = OpenInterestHistPaginator::new(
            btc(),
            OiPeriod::H1,
            ms_to_ns(T0 + H),
            ms_to_ns(T0 + 5 * H),
        )
        .expect("non-empty");
        let request = p.window(T0 + 3 * H);
        // The venue repeats the previous page's last bucket, sends one twice, unsorted, and one
        // past the end.
        let page = p
            .parse(
                &request,
                &oi_rows([T0 + 4 * H, T0 + 2 * H, T0 + 3 * H, T0 + 4 * H, T0 + 6 * H]),
            )
            .expect("parses");
        let times: Vec<u64> = page.rows.iter().map(|r| r.ts_event).collect();
        assert_eq!(times, vec![ms_to_ns(T0 + 3 * H), ms_to_ns(T0 + 4 * H)]);
        assert!(page.rows.iter().all(|r| r.ts_init == r.ts_event));
        // Next after 4 h is 5 h, which is still in range.
        assert_eq!(window(&page.next.expect("one more")).0, T0 + 5 * H);
    }

    #[test]
    fn oi_empty_windows_skip_ahead_and_partial_windows_re_ask_the_rest() {
        let p = OpenInterestHistPaginator::new(
            btc(),
            OiPeriod::M5,
            ms_to_ns(T0),
            ms_to_ns(T0 + 10 * DAY_MS),
        )
        .expect("non-empty");
        let first = p.first();
        let (_, to) = window(&first);
        let page = p.parse(&first, &oi_rows([])).expect("parses");
        assert!(page.rows.is_empty());
        assert_eq!(window(&page.next.expect("skip ahead")).0, to + 1);
        // Only the first 10 buckets of a window came back: ask again from the 11th.
        let page = p
            .parse(&first, &oi_rows((0..10).map(|i| T0 + i * 5 * MIN)))
            .expect("parses");
        assert_eq!(window(&page.next.expect("the rest")).0, T0 + 10 * 5 * MIN);
    }

    #[test]
    fn oi_ranges_in_nanoseconds_round_inwards() {
        assert!(OpenInterestHistPaginator::new(btc(), OiPeriod::M5, 10, 5).is_none());
        assert!(OpenInterestHistPaginator::new(btc(), OiPeriod::M5, 1, 999_999).is_none());
        let p =
            OpenInterestHistPaginator::new(btc(), OiPeriod::D1, 1, 2_999_999).expect("1 ms..2 ms");
        assert_eq!(window(&p.first()), (1, 2));
    }

    #[test]
    fn funding_pages_forward_from_the_last_time_plus_one_ms() {
        let end = T0 + 2000 * 8 * H;
        let p = FundingRatePaginator::new(btc(), ms_to_ns(T0), ms_to_ns(end)).expect("non-empty");
        let first = p.first();
        assert_eq!(window(&first), (T0, end));
        assert_eq!(first.param_value("limit"), Some("1000"));
        let page = p
            .parse(&first, &funding_rows((0..1000).map(|i| T0 + i * 8 * H)))
            .expect("parses");
        assert_eq!(page.rows.len(), 1000);
        assert!(page.rows.iter().all(|r| r.next_funding_ns.is_none()));
        let second = page.next.expect("a full page asks for more");
        let last = T0 + 999 * 8 * H;
        assert_eq!(window(&second), (last + 1, end));
        // The second page's first rate is measured against the first page's last (4 h later).
        let page = p
            .parse(&second, &funding_rows([last + 4 * H, last + 8 * H]))
            .expect("parses");
        let intervals: Vec<_> = page.rows.iter().map(|r| r.interval_minutes).collect();
        assert_eq!(intervals, vec![Some(240), Some(240)]);
        assert_eq!(page.next, None, "a short page is the last");
    }

    #[test]
    fn funding_stops_on_empty_pages_and_past_the_end_and_drops_overlaps() {
        let p = FundingRatePaginator::new(btc(), ms_to_ns(T0), ms_to_ns(T0 + 999 * 8 * H))
            .expect("non-empty");
        let first = p.first();
        let page = p.parse(&first, &funding_rows([])).expect("parses");
        assert_eq!((page.rows.len(), page.next), (0, None));
        // A full page whose last rate is at the end: nothing after it to ask for.
        let page = p
            .parse(&first, &funding_rows((0..1000).map(|i| T0 + i * 8 * H)))
            .expect("parses");
        assert_eq!(page.rows.len(), 1000);
        assert_eq!(page.next, None, "nothing after the end to ask for");
        // A later page that repeats rows before its startTime keeps only the new ones.
        let later = p.request(T0 + 8 * H + 1);
        let page = p
            .parse(
                &later,
                &funding_rows([T0, T0 + 8 * H, T0 + 16 * H, T0 + 16 * H]),
            )
            .expect("parses");
        let times: Vec<u64> = page.rows.iter().map(|r| r.ts_event).collect();
        assert_eq!(times, vec![ms_to_ns(T0 + 16 * H)]);
        assert_eq!(page.rows[0].interval_minutes, Some(480));
    }
}
