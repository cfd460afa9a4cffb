//! Next-page logic of the Bybit list endpoints: pure [`Paginator`]s that
//! [`ccxt_venue::paginate`] drives.
//!
//! * **Instruments** (`instruments-info`) page by `nextPageCursor` until it is `""` or null.
//! * **Open-interest history** (`open-interest`) answers newest first within
//!   `[startTime, endTime]` and pages by cursor; we stop when the cursor ends, a page is empty,
//!   or a page reaches back to the start.
//! * **Funding history** (`funding/history`) has no cursor and answers the 200 rates up to
//!   `endTime`, newest first. We page backwards with `endTime` only (documented behaviour;
//!   `startTime` alone is an error). Each page after the first asks up to and *including* the
//!   oldest rate of the page before, and that rate is yielded by the later page: so every rate
//!   is yielded once, next to the rate before it, and its interval is measured exactly (see
//!   [`FundingHistoryPaginator`]).
//!
//! Rows outside the requested range are dropped and rows repeated within a page kept once.
//! Cursor pages cannot see what earlier pages held, so the fetcher also runs every history
//! stream through a [`Watermark`], which drops rows a later page repeats.

use ccxt_model::{FundingRate, Instrument, OpenInterest};
use ccxt_venue::convert::ms_range;
use ccxt_venue::funding::{interval_from_spacing, settled};
use ccxt_venue::{FetchError, HttpRequest, HttpResponse, OiPeriod, Page, Paginator};

use super::models::InstrumentItem;
use super::parse::{parse_funding_history, parse_instruments_page, parse_open_interest_page};
use super::requests::{self, FUNDING_HISTORY_LIMIT};

/// Pages of `instruments-info`, all contract types (filter with
/// [`instruments`](super::parse::instruments)).
#[derive(Debug, Clone)]
pub struct InstrumentsPaginator {
    status: Option<&'static str>,
}

impl InstrumentsPaginator {
    /// The default listing (`Trading` only).
    pub fn trading() -> Self {
        InstrumentsPaginator { status: None }
    }

    /// The listing of pre-market perpetuals (`status=PreLaunch`).
    pub fn pre_launch() -> Self {
        InstrumentsPaginator {
            status: Some("PreLaunch"),
        }
    }
}

impl Paginator for InstrumentsPaginator {
    type Row = InstrumentItem;

    fn first(&self) -> HttpRequest {
        requests::instruments_info(self.status, None)
    }

    fn parse(
        &self,
        request: &HttpRequest,
        response: &HttpResponse,
    ) -> Result<Page<InstrumentItem>, FetchError> {
        let (rows, cursor) = parse_instruments_page(request, response)?;
        let next = match cursor {
            Some(cursor) if !rows.is_empty() => {
                Some(requests::instruments_info(self.status, Some(&cursor)))
            }
            _ => None,
        };
        Ok(Page { rows, next })
    }
}

/// Pages of `open-interest` for one symbol and period, newest first.
#[derive(Debug, Clone)]
pub struct OpenInterestPaginator {
    instrument: Instrument,
    period: OiPeriod,
    start_ns: u64,
    end_ns: u64,
    start_ms: u64,
    end_ms: u64,
}

impl OpenInterestPaginator {
    /// Open interest of `instrument` in `[start_ns, end_ns]`; `None` when the range is empty.
    pub fn new(
        instrument: Instrument,
        period: OiPeriod,
        start_ns: u64,
        end_ns: u64,
    ) -> Option<Self> {
        let (start_ms, end_ms) = ms_range(start_ns, end_ns)?;
        Some(OpenInterestPaginator {
            instrument,
            period,
            start_ns,
            end_ns,
            start_ms,
            end_ms,
        })
    }

    fn request(&self, cursor: Option<&str>) -> HttpRequest {
        requests::open_interest(
            &self.instrument.native,
            self.period,
            self.start_ms,
            self.end_ms,
            cursor,
        )
    }
}

impl Paginator for OpenInterestPaginator {
    type Row = OpenInterest;

    fn first(&self) -> HttpRequest {
        self.request(None)
    }

    fn parse(
        &self,
        request: &HttpRequest,
        response: &HttpResponse,
    ) -> Result<Page<OpenInterest>, FetchError> {
        let (mut rows, cursor) = parse_open_interest_page(request, response, &self.instrument)?;
        let oldest = rows.iter().map(|r| r.ts_event).min();
        rows.retain(|r| r.ts_event >= self.start_ns && r.ts_event <= self.end_ns);
        rows.sort_by_key(|r| r.ts_event);
        rows.dedup_by_key(|r| r.ts_event);
        let next = match (cursor, oldest) {
            (Some(cursor), Some(oldest)) if oldest > self.start_ns => {
                Some(self.request(Some(&cursor)))
            }
            _ => None,
        };
        Ok(Page { rows, next })
    }
}

/// Pages of `funding/history` for one symbol, newest first, as settled rates.
///
/// The interval of a rate is the spacing to the rate before it (the period over which it
/// accrued). A page therefore yields the rates whose predecessor it holds, and leaves its oldest
/// rate to the next page, which asks up to and including that rate's time. Only the oldest rate
/// of the whole history (the listing, or a page that reaches before the start) has no
/// predecessor; it takes the spacing to the rate after it, or `None` if it is alone (the fetcher
/// then fills in the interval from `instruments-info`).
#[derive(Debug, Clone)]
pub struct FundingHistoryPaginator {
    instrument: Instrument,
    start_ms: u64,
    end_ms: u64,
}

impl FundingHistoryPaginator {
    /// Settled rates of `instrument` in `[start_ns, end_ns]`; `None` when the range is empty.
    pub fn new(instrument: Instrument, start_ns: u64, end_ns: u64) -> Option<Self> {
        let (start_ms, end_ms) = ms_range(start_ns, end_ns)?;
        Some(FundingHistoryPaginator {
            instrument,
            start_ms,
            end_ms,
        })
    }

    fn request(&self, end_ms: u64) -> HttpRequest {
        requests::funding_history(&self.instrument.native, end_ms)
    }
}

impl Paginator for FundingHistoryPaginator {
    type Row = FundingRate;

    fn first(&self) -> HttpRequest {
        self.request(self.end_ms)
    }

    fn parse(
        &self,
        request: &HttpRequest,
        response: &HttpResponse,
    ) -> Result<Page<FundingRate>, FetchError> {
        let mut rates = parse_funding_history(request, response)?;
        let received = rates.len();
        let until_ms = request
            .param_value("endTime")
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| {
                FetchError::malformed(crate::VENUE, request.endpoint, "request has no endTime")
            })?;
        rates.retain(|r| r.time_ms <= until_ms);
        rates.sort_by_key(|r| std::cmp::Reverse(r.time_ms));
        rates.dedup_by_key(|r| r.time_ms);
        let Some(oldest) = rates.last().map(|r| r.time_ms) else {
            return Ok(Page {
                rows: Vec::new(),
                next: None,
            });
        };
        // The last page: history ends here (short page), it reaches before the start, or the
        // venue did not go back any further.
        let last_page = received < FUNDING_HISTORY_LIMIT as usize
            || oldest < self.start_ms
            || oldest >= until_ms;
        let mut rows = Vec::with_capacity(rates.len());
        for (i, rate) in rates.iter().enumerate() {
            let interval = match rates.get(i + 1) {
                Some(before) => interval_from_spacing(before.time_ms, rate.time_ms),
                // The oldest rate of a page: the next page yields it, next to its predecessor.
                None if !last_page => break,
                None => i
                    .checked_sub(1)
                    .and_then(|j| interval_from_spacing(rate.time_ms, rates[j].time_ms)),
            };
            if rate.time_ms >= self.start_ms && rate.time_ms <= self.end_ms {
                rows.push(settled(&self.instrument, rate, interval));
            }
        }
        rows.reverse();
        let next = (!last_page).then(|| self.request(oldest));
        Ok(Page { rows, next })
    }
}

/// The oldest row a newest-first history has yielded so far, to drop rows a later page repeats
/// (cursor pages cannot tell).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Watermark {
    oldest_ns: Option<u64>,
}

impl Watermark {
    /// Keeps only the rows older than everything yielded before, and remembers the oldest kept.
    pub fn retain_older<T>(&mut self, rows: &mut Vec<T>, ts: impl Fn(&T) -> u64) {
        if let Some(oldest) = self.oldest_ns {
            rows.retain(|r| ts(r) < oldest);
        }
        if let Some(min) = rows.iter().map(&ts).min() {
            self.oldest_ns = Some(self.oldest_ns.map_or(min, |o| o.min(min)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccxt_venue::convert::ms_to_ns as ns;

    use crate::http::parse::instrument;

    const H: u64 = 3_600_000;
    const T0: u64 = 1_735_689_600_000;

    fn btc() -> Instrument {
        instrument("BTCUSDT").expect("valid")
    }

    fn envelope(list: Vec<String>, cursor: &str) -> HttpResponse {
        let body = format!(
            r#"{{"retCode":0,"retMsg":"OK","result":{{"category":"linear","list":[{}],"nextPageCursor":{cursor}}},"retExtInfo":{{}},"time":1}}"#,
            list.join(",")
        );
        HttpResponse {
            status: 200,
            body: body.into_bytes().into(),
        }
    }

    fn oi_page(times: &[u64], cursor: &str) -> HttpResponse {
        envelope(
            times
                .iter()
                .map(|t| format!(r#"{{"openInterest":"{}","timestamp":"{t}"}}"#, t % 1000 + 1))
                .collect(),
            cursor,
        )
    }

    fn funding_page(times: &[u64]) -> HttpResponse {
        envelope(
            times
                .iter()
                .map(|t| format!(r#"{{"symbol":"BTCUSDT","fundingRate":"0.0001","fundingRateTimestamp":"{t}"}}"#))
                .collect(),
            "null",
        )
    }

    fn times<T>(rows: &[T], ts: impl Fn(&T) -> u64) -> Vec<u64> {
        rows.iter().map(|r| ts(r) / 1_000_000).collect()
    }

    #[test]
    fn instruments_follow_the_cursor_and_stop_on_empty_or_null() {
        let p = InstrumentsPaginator::pre_launch();
        let first = p.first();
        assert_eq!(first.param_value("status"), Some("PreLaunch"));
        let item = r#"{"symbol":"BIOUSDT","contractType":"LinearPerpetual","status":"PreLaunch"}"#
            .to_string();
        let page = p
            .parse(&first, &envelope(vec![item.clone()], r#""abc%3D1""#))
            .expect("parses");
        let next = page.next.expect("cursor given");
        assert_eq!(
            (next.param_value("cursor"), next.param_value("status")),
            (Some("abc%3D1"), Some("PreLaunch"))
        );
        for end in [r#""""#, "null"] {
            let page = p
                .parse(&next, &envelope(vec![item.clone()], end))
                .expect("parses");
            assert_eq!(page.next, None, "{end}");
        }
        let page = p
            .parse(&next, &envelope(vec![], r#""more""#))
            .expect("parses");
        assert_eq!(page.next, None, "an empty page ends it even with a cursor");
        assert_eq!(
            InstrumentsPaginator::trading()
                .first()
                .param_value("status"),
            None
        );
    }

    #[test]
    fn open_interest_follows_the_cursor_backwards_until_the_start() {
        let p = OpenInterestPaginator::new(btc(), OiPeriod::H1, ns(T0), ns(T0 + 10 * H))
            .expect("range");
        let first = p.first();
        assert_eq!(
            (first.param_value("startTime"), first.param_value("endTime")),
            (Some("1735689600000"), Some("1735725600000"))
        );
        assert_eq!(first.param_value("cursor"), None);
        // Newest first: 10 h .. 6 h, and a cursor.
        let page = p
            .parse(
                &first,
                &oi_page(
                    &[T0 + 10 * H, T0 + 9 * H, T0 + 8 * H, T0 + 7 * H, T0 + 6 * H],
                    r#""c1""#,
                ),
            )
            .expect("parses");
        assert_eq!(
            times(&page.rows, |r| r.ts_event),
            [T0 + 6 * H, T0 + 7 * H, T0 + 8 * H, T0 + 9 * H, T0 + 10 * H]
        );
        let second = page.next.expect("cursor and not at the start yet");
        assert_eq!(second.param_value("cursor"), Some("c1"));
        assert_eq!(
            second.param_value("startTime"),
            first.param_value("startTime"),
            "same range, next cursor"
        );
        // Reaching the start ends it even though Bybit hands out another cursor.
        let page = p
            .parse(
                &second,
                &oi_page(&[T0 + 5 * H, T0 + H, T0, T0 - H], r#""c2""#),
            )
            .expect("parses");
        assert_eq!(
            times(&page.rows, |r| r.ts_event),
            [T0, T0 + H, T0 + 5 * H],
            "rows before the start dropped"
        );
        assert_eq!(page.next, None);
    }

    #[test]
    fn open_interest_stops_on_empty_pages_and_empty_or_null_cursors() {
        let p = OpenInterestPaginator::new(btc(), OiPeriod::H1, ns(T0), ns(T0 + 10 * H))
            .expect("range");
        let first = p.first();
        assert_eq!(
            p.parse(&first, &oi_page(&[], r#""c""#))
                .expect("parses")
                .next,
            None
        );
        assert_eq!(
            p.parse(&first, &oi_page(&[T0 + 5 * H], r#""""#))
                .expect("parses")
                .next,
            None
        );
        assert_eq!(
            p.parse(&first, &oi_page(&[T0 + 5 * H], "null"))
                .expect("parses")
                .next,
            None
        );
        let page = p
            .parse(
                &first,
                &oi_page(&[T0 + 5 * H, T0 + 5 * H, T0 + 11 * H], r#""c""#),
            )
            .expect("parses");
        assert_eq!(
            times(&page.rows, |r| r.ts_event),
            [T0 + 5 * H],
            "repeat and out-of-range rows dropped"
        );
    }

    #[test]
    fn watermark_drops_rows_a_later_page_repeats() {
        let mut mark = Watermark::default();
        let mut page1 = vec![5u64, 4, 3];
        mark.retain_older(&mut page1, |t| *t);
        assert_eq!(page1, [5, 4, 3]);
        let mut page2 = vec![3u64, 2, 1];
        mark.retain_older(&mut page2, |t| *t);
        assert_eq!(page2, [2, 1], "the overlap at 3 is dropped");
        let mut empty: Vec<u64> = vec![];
        mark.retain_older(&mut empty, |t| *t);
        let mut page3 = vec![1u64, 0];
        mark.retain_older(&mut page3, |t| *t);
        assert_eq!(page3, [0]);
    }

    #[test]
    fn funding_pages_backwards_overlapping_one_rate_each_yielded_once() {
        let p = FundingHistoryPaginator::new(btc(), ns(T0), ns(T0 + 500 * 8 * H)).expect("range");
        let first = p.first();
        assert_eq!(
            first.param_value("endTime"),
            Some((T0 + 500 * 8 * H).to_string().as_str())
        );
        assert_eq!(first.param_value("startTime"), None);
        // 200 rates, newest first: 500 .. 301 (× 8 h).
        let page1: Vec<u64> = (301..=500).rev().map(|i| T0 + i * 8 * H).collect();
        let page = p.parse(&first, &funding_page(&page1)).expect("parses");
        assert_eq!(page.rows.len(), 199, "the oldest waits for the next page");
        assert_eq!(page.rows[0].ts_event, ns(T0 + 302 * 8 * H));
        assert!(
            page.rows
                .iter()
                .all(|r| r.interval_minutes == Some(480) && r.next_funding_ns.is_none())
        );
        let second = page.next.expect("full page");
        assert_eq!(
            second.param_value("endTime"),
            Some((T0 + 301 * 8 * H).to_string().as_str())
        );
        // The next page starts with that rate; the interval changed from 4 h to 8 h at it.
        let page2: Vec<u64> = std::iter::once(T0 + 301 * 8 * H)
            .chain((0..199).map(|i| T0 + 300 * 8 * H - 4 * H * i))
            .collect();
        let page = p.parse(&second, &funding_page(&page2)).expect("parses");
        let newest = page.rows.last().expect("rows");
        assert_eq!(
            (newest.ts_event, newest.interval_minutes),
            (ns(T0 + 301 * 8 * H), Some(480))
        );
        assert_eq!(page.rows[page.rows.len() - 2].interval_minutes, Some(240));
        assert!(page.next.is_some());
    }

    #[test]
    fn funding_last_page_short_or_before_start_yields_everything_in_range() {
        let p = FundingHistoryPaginator::new(btc(), ns(T0 + 8 * H), ns(T0 + 100 * 8 * H))
            .expect("range");
        // A short page: the listing. Its oldest rate takes the next spacing.
        let page = p
            .parse(
                &p.first(),
                &funding_page(&[T0 + 24 * H, T0 + 16 * H, T0 + 12 * H]),
            )
            .expect("parses");
        assert_eq!(
            times(&page.rows, |r| r.ts_event),
            [T0 + 12 * H, T0 + 16 * H, T0 + 24 * H]
        );
        let intervals: Vec<_> = page.rows.iter().map(|r| r.interval_minutes).collect();
        assert_eq!(intervals, [Some(240), Some(240), Some(480)]);
        assert_eq!(page.next, None);
        // A full page reaching before the start: rows before the start dropped, no next page.
        let full: Vec<u64> = (0..200).map(|i| T0 + 100 * 8 * H - i * 4 * H).collect();
        let page = p.parse(&p.first(), &funding_page(&full)).expect("parses");
        assert_eq!(page.next, None);
        assert_eq!(page.rows.first().map(|r| r.ts_event), Some(ns(T0 + 8 * H)));
        assert_eq!(
            page.rows[0].interval_minutes,
            Some(240),
            "measured against the row before the start"
        );
        // A single rate alone: unknown interval, for the fetcher to fill.
        let page = p
            .parse(&p.first(), &funding_page(&[T0 + 80 * H]))
            .expect("parses");
        assert_eq!(page.rows[0].interval_minutes, None);
        // An empty page ends it.
        let page = p.parse(&p.first(), &funding_page(&[])).expect("parses");
        assert_eq!((page.rows.len(), page.next), (0, None));
    }

    #[test]
    fn funding_full_page_ending_exactly_at_the_start_asks_once_more_for_its_predecessor() {
        let start = T0;
        let p =
            FundingHistoryPaginator::new(btc(), ns(start), ns(start + 199 * 8 * H)).expect("range");
        let full: Vec<u64> = (0..200).rev().map(|i| start + i * 8 * H).collect();
        let page = p.parse(&p.first(), &funding_page(&full)).expect("parses");
        assert_eq!(page.rows.len(), 199);
        let next = page
            .next
            .expect("the rate at the start still needs its predecessor");
        let page = p
            .parse(&next, &funding_page(&[start, start - 8 * H]))
            .expect("parses");
        assert_eq!(times(&page.rows, |r| r.ts_event), [start]);
        assert_eq!(page.rows[0].interval_minutes, Some(480));
        assert_eq!(page.next, None);
    }

    #[test]
    fn funding_rows_after_the_requested_end_time_are_dropped() {
        let p = FundingHistoryPaginator::new(btc(), ns(T0), ns(T0 + 10 * 8 * H)).expect("range");
        let request = p.request(T0 + 5 * 8 * H);
        let page = p
            .parse(
                &request,
                &funding_page(&[
                    T0 + 6 * 8 * H,
                    T0 + 5 * 8 * H,
                    T0 + 4 * 8 * H,
                    T0 + 4 * 8 * H,
                ]),
            )
            .expect("parses");
        assert_eq!(
            times(&page.rows, |r| r.ts_event),
            [T0 + 4 * 8 * H, T0 + 5 * 8 * H]
        );
    }
}
