//! Paging through `fundingHistory`.
//!
//! Hyperliquid returns the settled funding of a coin oldest first, at most
//! [`FUNDING_HISTORY_PAGE_LIMIT`] rows per response, and says: "to query larger ranges, use
//! the last returned timestamp as the next startTime". Both `startTime` and `endTime` are
//! inclusive, so the next page starts one millisecond after the last row. Paging stops when a
//! response is empty, shorter than a full page, or reaches `endTime`.
//!
//! Rows outside the requested range, rows before the page's `startTime` (an overlap with the
//! previous page) and repeated times are dropped, so every funding is yielded once.

use ccxt_model::{FundingRate, Instrument};
use ccxt_venue::convert::NANOS_PER_MILLI;
use ccxt_venue::{FetchError, HttpRequest, HttpResponse, Page, Paginator};

use crate::http::parse::{parse_funding_history, settled_funding};
use crate::http::requests::{FUNDING_HISTORY_PAGE_LIMIT, funding_history};

/// The pager of one `fundingHistory` query: one coin, an inclusive time range.
#[derive(Debug, Clone, PartialEq)]
pub struct FundingHistoryPaginator {
    instrument: Instrument,
    start_ms: u64,
    end_ms: u64,
}

impl FundingHistoryPaginator {
    /// Settled funding of `instrument` in `[start_ns, end_ns]` (UNIX ns, inclusive). The venue
    /// works in milliseconds: the range asked for is the whole milliseconds inside it.
    pub fn new(instrument: Instrument, start_ns: u64, end_ns: u64) -> Self {
        FundingHistoryPaginator {
            instrument,
            start_ms: start_ns.div_ceil(NANOS_PER_MILLI),
            end_ms: end_ns / NANOS_PER_MILLI,
        }
    }

    /// Whether the range holds no whole millisecond (start after end), so there is nothing
    /// to ask for.
    pub fn is_empty_range(&self) -> bool {
        self.start_ms > self.end_ms
    }

    /// The page request starting at `start_ms`.
    fn request(&self, start_ms: u64) -> HttpRequest {
        funding_history(&self.instrument.native, start_ms, self.end_ms)
    }
}

impl Paginator for FundingHistoryPaginator {
    type Row = FundingRate;

    fn first(&self) -> HttpRequest {
        self.request(self.start_ms)
    }

    fn parse(
        &self,
        request: &HttpRequest,
        response: &HttpResponse,
    ) -> Result<Page<FundingRate>, FetchError> {
        let entries = parse_funding_history(response)?;
        let page_start = request
            .body
            .as_ref()
            .and_then(|body| body.get("startTime"))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(self.start_ms);

        let mut rows = Vec::with_capacity(entries.len());
        let mut last_ms = None::<u64>;
        for entry in &entries {
            let rate = settled_funding(&self.instrument, entry)?;
            let ms = rate.ts_event / NANOS_PER_MILLI;
            last_ms = last_ms.max(Some(ms));
            if (page_start..=self.end_ms).contains(&ms) {
                rows.push(rate);
            }
        }
        rows.sort_by_key(|r| r.ts_event);
        rows.dedup_by_key(|r| r.ts_event);

        let next = match last_ms {
            None => None,
            Some(_) if entries.len() < FUNDING_HISTORY_PAGE_LIMIT => None,
            Some(last) if last >= self.end_ms => None,
            Some(last) if last < page_start => {
                return Err(FetchError::malformed(
                    crate::VENUE,
                    "fundingHistory",
                    format!(
                        "a full page of {} ended at {last}, before its startTime {page_start}",
                        self.instrument.native
                    ),
                ));
            }
            Some(last) => Some(self.request(last + 1)),
        };
        Ok(Page { rows, next })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::http::parse::instrument_for_coin;

    const HOUR_MS: u64 = 3_600_000;
    const START_MS: u64 = 1_735_689_600_000; // 2025-01-01T00:00:00Z

    fn pager(start_ms: u64, end_ms: u64) -> FundingHistoryPaginator {
        FundingHistoryPaginator::new(
            instrument_for_coin("BTC").unwrap(),
            start_ms * NANOS_PER_MILLI,
            end_ms * NANOS_PER_MILLI,
        )
    }

    fn rows(times: impl IntoIterator<Item = u64>) -> HttpResponse {
        let rows: Vec<_> = times
            .into_iter()
            .map(|t| json!({"coin": "BTC", "fundingRate": "0.0000125", "premium": "0.0001", "time": t}))
            .collect();
        HttpResponse {
            status: 200,
            body: serde_json::to_vec(&rows).unwrap().into(),
        }
    }

    fn start_time(request: &HttpRequest) -> u64 {
        request.body.as_ref().unwrap()["startTime"]
            .as_u64()
            .unwrap()
    }

    fn times(page: &Page<FundingRate>) -> Vec<u64> {
        page.rows
            .iter()
            .map(|r| r.ts_event / NANOS_PER_MILLI)
            .collect()
    }

    #[test]
    fn first_request_covers_the_whole_milliseconds_of_the_range() {
        let p = FundingHistoryPaginator::new(
            instrument_for_coin("xyz:TSLA").unwrap(),
            START_MS * NANOS_PER_MILLI + 1,
            (START_MS + HOUR_MS) * NANOS_PER_MILLI + 999_999,
        );
        assert_eq!(
            p.first().body,
            Some(json!({"type": "fundingHistory", "coin": "xyz:TSLA",
                        "startTime": START_MS + 1, "endTime": START_MS + HOUR_MS}))
        );
        assert_eq!(p.first().costs, vec![("ip", 45)]);
        assert!(!p.is_empty_range());
        let within_one_ms = FundingHistoryPaginator::new(
            instrument_for_coin("BTC").unwrap(),
            START_MS * NANOS_PER_MILLI + 1,
            START_MS * NANOS_PER_MILLI + 2,
        );
        assert!(within_one_ms.is_empty_range());
    }

    #[test]
    fn a_full_page_continues_forward_one_ms_after_its_last_row() {
        let p = pager(START_MS, START_MS + 1000 * HOUR_MS);
        let first = p.first();
        let page = p
            .parse(&first, &rows((0..500).map(|i| START_MS + i * HOUR_MS)))
            .unwrap();
        assert_eq!(page.rows.len(), 500);
        assert!(times(&page).windows(2).all(|w| w[0] < w[1]), "ascending");
        let next = page.next.unwrap();
        assert_eq!(start_time(&next), START_MS + 499 * HOUR_MS + 1);
        assert_eq!(
            next.body.as_ref().unwrap()["endTime"],
            json!(START_MS + 1000 * HOUR_MS)
        );
        assert_eq!(page.rows[0].rate.to_string(), "0.0000125");
        assert_eq!(page.rows[0].next_funding_ns, None);
    }

    #[test]
    fn a_short_page_or_an_empty_page_ends_the_query() {
        let p = pager(START_MS, START_MS + 1000 * HOUR_MS);
        let short = p
            .parse(&p.first(), &rows((0..499).map(|i| START_MS + i * HOUR_MS)))
            .unwrap();
        assert_eq!(short.rows.len(), 499);
        assert_eq!(short.next, None);
        let empty = p.parse(&p.first(), &rows([])).unwrap();
        assert_eq!((empty.rows.len(), empty.next), (0, None));
        let null = HttpResponse {
            status: 200,
            body: "null".into(),
        };
        assert_eq!(p.parse(&p.first(), &null).unwrap().next, None);
    }

    #[test]
    fn a_full_page_reaching_the_end_time_stops_and_rows_past_it_are_dropped() {
        let end = START_MS + 300 * HOUR_MS;
        let p = pager(START_MS, end);
        let page = p
            .parse(&p.first(), &rows((0..500).map(|i| START_MS + i * HOUR_MS)))
            .unwrap();
        assert_eq!(page.rows.len(), 301);
        assert_eq!(*times(&page).last().unwrap(), end);
        assert_eq!(page.next, None);
    }

    #[test]
    fn overlaps_with_the_previous_page_and_repeats_are_dropped() {
        let p = pager(START_MS, START_MS + 2000 * HOUR_MS);
        let second = p.request(START_MS + 499 * HOUR_MS + 1);
        // The venue repeats the last row of the previous page, a row twice, and answers out
        // of order.
        let mut times_sent: Vec<u64> = (499..999).map(|i| START_MS + i * HOUR_MS).collect();
        times_sent[1] = times_sent[2];
        times_sent.swap(5, 6);
        let page = p.parse(&second, &rows(times_sent)).unwrap();
        let got = times(&page);
        assert_eq!(got.first(), Some(&(START_MS + 501 * HOUR_MS)));
        assert!(got.windows(2).all(|w| w[0] < w[1]), "ascending, no repeats");
        assert_eq!(got.len(), 498);
        assert_eq!(
            start_time(&page.next.unwrap()),
            START_MS + 998 * HOUR_MS + 1
        );
    }

    #[test]
    fn more_than_a_page_counts_as_full() {
        let p = pager(START_MS, START_MS + 2000 * HOUR_MS);
        let page = p
            .parse(&p.first(), &rows((0..600).map(|i| START_MS + i * HOUR_MS)))
            .unwrap();
        assert_eq!(page.rows.len(), 600);
        assert_eq!(
            start_time(&page.next.unwrap()),
            START_MS + 599 * HOUR_MS + 1
        );
    }

    #[test]
    fn a_full_page_that_does_not_advance_is_an_error() {
        let p = pager(START_MS, START_MS + 2000 * HOUR_MS);
        let later = p.request(START_MS + 1000 * HOUR_MS);
        let e = p
            .parse(&later, &rows((0..500).map(|i| START_MS + i * HOUR_MS)))
            .unwrap_err();
        assert!(matches!(e, FetchError::Malformed { .. }), "{e}");
    }

    #[test]
    fn error_answers_and_bad_rows_fail_the_page() {
        let p = pager(START_MS, START_MS + HOUR_MS);
        let e = p
            .parse(
                &p.first(),
                &HttpResponse {
                    status: 422,
                    body: "Failed to deserialize".into(),
                },
            )
            .unwrap_err();
        assert!(matches!(e, FetchError::Venue { .. }));
        let bad = HttpResponse {
            status: 200,
            body: r#"[{"coin":"BTC","fundingRate":"zero","time":1735689600000}]"#.into(),
        };
        assert!(matches!(
            p.parse(&p.first(), &bad),
            Err(FetchError::Malformed { .. })
        ));
    }
}
