//! The history paginators of the [`crate::OkxFetcher`]: funding history, rubik open-interest
//! history and candles, each walking backwards from the end of the range with OKX's exclusive
//! cursors (`after`/`end` = "older than"), newest page first, each page oldest first.
//!
//! OKX keeps only part of each history (funding: about 3 months; rubik: the latest 1,440
//! rows per period; `candles`: the latest 1,440, `history-candles` the rest). No answer carries
//! the venue's clock, so the paginators do not guess the cutoff from a clock: a page shorter
//! than the limit means the venue has nothing older, and [`Reached`] tells the fetcher how far
//! back the venue went so it can name what OKX no longer keeps.

use std::sync::{Arc, Mutex};

use ccxt_model::{BarPrice, FundingRate, Instrument, OpenInterest, Venue};
use ccxt_venue::bars::{BarRow, BarRules, Candle as BarCandle, Clock};
use ccxt_venue::convert::{NANOS_PER_MILLI, ms_to_ns};
use ccxt_venue::funding::{SettledRate, interval_from_spacing, settled};
use ccxt_venue::{FetchError, HttpRequest, HttpResponse, Page, Paginator};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::http::paginate::{first_cursor, next_cursor};
use crate::http::parse::{
    OkxError, parse_candles, parse_funding_history, parse_open_interest_history,
};
use crate::http::requests::{
    self, CANDLES_LIMIT, CandleKind, FUNDING_HISTORY_LIMIT, MARK_CANDLES_LIMIT, OI_HISTORY_LIMIT,
};

const VENUE: Venue = crate::symbol::VENUE;

/// The oldest venue time (ms) a history reached when the venue ran out of rows before the
/// start of the range; shared between a paginator and its fetcher.
#[derive(Debug, Clone, Default)]
pub struct Reached(Arc<Mutex<Option<u64>>>);

impl Reached {
    fn set(&self, oldest_ms: u64) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(oldest_ms);
    }

    /// The oldest time (ms) OKX served when it had nothing older than it and the range asked
    /// for more; `None` when the range was covered (or the walk did not end yet).
    pub fn ran_out_at(&self) -> Option<u64> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An OKX error as the fetcher reports it, naming `inst_id`.
pub fn fetch_error(e: OkxError, inst_id: &str) -> FetchError {
    e.into_fetch_error(VENUE, Some(inst_id))
}

fn log_skipped(what: &str, inst_id: &str, skipped: &[String]) {
    if !skipped.is_empty() {
        tracing::warn!(venue = "okx", endpoint = what, symbol = inst_id, skipped = ?skipped, "okx rows skipped: malformed");
    }
}

fn cursor(request: &HttpRequest, key: &str) -> Option<u64> {
    request.param_value(key).and_then(|v| v.parse().ok())
}

/// The next page: older than the oldest row, unless the page was short (the venue has
/// nothing older) or the start is reached. A short page before the start is recorded.
fn walk_back(
    times: &[u64],
    asked: u64,
    limit: u32,
    start_ms: u64,
    reached: &Reached,
) -> Option<u64> {
    let oldest = times.iter().copied().min();
    let short = times.len() < limit as usize;
    if short {
        match oldest {
            Some(o) if o > start_ms => reached.set(o),
            None if asked > start_ms => reached.set(asked),
            _ => {}
        }
        return None;
    }
    next_cursor(times, asked, start_ms)
}

/// Settled funding of one swap, `[start_ms, end_ms]` on `fundingTime`, 400 a page.
#[derive(Debug, Clone)]
pub struct FundingHistoryPages {
    instrument: Instrument,
    start_ms: u64,
    end_ms: u64,
    reached: Reached,
}

impl FundingHistoryPages {
    /// The walk, and where it ran out.
    pub fn new(instrument: Instrument, start_ms: u64, end_ms: u64) -> (Self, Reached) {
        let reached = Reached::default();
        let pages = FundingHistoryPages {
            instrument,
            start_ms,
            end_ms,
            reached: reached.clone(),
        };
        (pages, reached)
    }
}

impl Paginator for FundingHistoryPages {
    type Row = FundingRate;

    fn first(&self) -> HttpRequest {
        requests::funding_rate_history(&self.instrument.native, Some(first_cursor(self.end_ms)))
    }

    fn parse(
        &self,
        request: &HttpRequest,
        response: &HttpResponse,
    ) -> Result<Page<FundingRate>, FetchError> {
        let native = &self.instrument.native;
        let (mut rows, skipped) = parse_funding_history(response.status, &response.body)
            .map_err(|e| fetch_error(e, native))?;
        log_skipped(request.endpoint, native, &skipped);
        let asked = cursor(request, "after").unwrap_or(u64::MAX);
        let times: Vec<u64> = rows.iter().map(|r| r.funding_time_ms).collect();
        let next = walk_back(
            &times,
            asked,
            FUNDING_HISTORY_LIMIT,
            self.start_ms,
            &self.reached,
        )
        .map(|after| requests::funding_rate_history(native, Some(after)));
        rows.retain(|r| r.inst_id == *native && r.funding_time_ms < asked);
        rows.sort_by_key(|r| r.funding_time_ms);
        rows.dedup_by_key(|r| r.funding_time_ms);
        let mut out = Vec::with_capacity(rows.len());
        let mut previous: Option<u64> = None;
        for r in &rows {
            let interval = previous.and_then(|p| interval_from_spacing(p, r.funding_time_ms));
            previous = Some(r.funding_time_ms);
            if (self.start_ms..=self.end_ms).contains(&r.funding_time_ms) {
                let rate = SettledRate {
                    time_ms: r.funding_time_ms,
                    rate: r.rate,
                };
                out.push(settled(&self.instrument, &rate, interval));
            }
        }
        Ok(Page { rows: out, next })
    }
}

/// Rubik open-interest history of one swap, `[start_ms, end_ms]`, 100 a page.
#[derive(Debug, Clone)]
pub struct OiHistoryPages {
    instrument: Instrument,
    period: &'static str,
    start_ms: u64,
    end_ms: u64,
    contract_value: Option<Decimal>,
    reached: Reached,
}

impl OiHistoryPages {
    /// The walk for rubik `period` (`5m`, `1H`, `1Dutc`), and where it ran out.
    /// `contract_value` converts contracts to coins for rows without `oiCcy`.
    pub fn new(
        instrument: Instrument,
        period: &'static str,
        (start_ms, end_ms): (u64, u64),
        contract_value: Option<Decimal>,
    ) -> (Self, Reached) {
        let reached = Reached::default();
        let pages = OiHistoryPages {
            instrument,
            period,
            start_ms,
            end_ms,
            contract_value,
            reached: reached.clone(),
        };
        (pages, reached)
    }
}

impl Paginator for OiHistoryPages {
    type Row = OpenInterest;

    fn first(&self) -> HttpRequest {
        requests::open_interest_history(
            &self.instrument.native,
            self.period,
            Some(first_cursor(self.end_ms)),
        )
    }

    fn parse(
        &self,
        request: &HttpRequest,
        response: &HttpResponse,
    ) -> Result<Page<OpenInterest>, FetchError> {
        let native = &self.instrument.native;
        let (mut rows, mut skipped) = parse_open_interest_history(response.status, &response.body)
            .map_err(|e| fetch_error(e, native))?;
        let asked = cursor(request, "end").unwrap_or(u64::MAX);
        let times: Vec<u64> = rows.iter().map(|r| r.ts_ms).collect();
        let next = walk_back(
            &times,
            asked,
            OI_HISTORY_LIMIT,
            self.start_ms,
            &self.reached,
        )
        .map(|end| requests::open_interest_history(native, self.period, Some(end)));
        rows.retain(|r| r.ts_ms < asked && (self.start_ms..=self.end_ms).contains(&r.ts_ms));
        rows.sort_by_key(|r| r.ts_ms);
        rows.dedup_by_key(|r| r.ts_ms);
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let coins = r
                .coins
                .or_else(|| self.contract_value.and_then(|v| r.contracts.checked_mul(v)));
            let Some(coins) = coins.and_then(|c| c.to_f64()) else {
                skipped.push(format!("{}: no oiCcy and no contract value", r.ts_ms));
                continue;
            };
            let ts = ms_to_ns(r.ts_ms);
            out.push(OpenInterest {
                instrument_id: self.instrument.id.clone(),
                open_interest: coins,
                open_interest_value: r.usd.and_then(|u| u.to_f64()),
                ts_event: ts,
                ts_init: ts,
            });
        }
        log_skipped(request.endpoint, native, &skipped);
        Ok(Page { rows: out, next })
    }
}

/// Candles of one swap opening in `[first_open, last_open]`: `candles` (the latest 1,440)
/// first, then `history-candles` from where the recent endpoint ran out; mark candles the
/// same with the mark-price endpoints.
#[derive(Debug, Clone)]
pub struct CandlePages {
    rules: BarRules,
    kind: CandleKind,
    bar: &'static str,
    first_open_ms: u64,
    last_open_ms: u64,
    contract_value: Option<Decimal>,
    clock: Clock,
}

impl CandlePages {
    /// The walk for OKX bar `bar` (`1m`, `1H`, `1Dutc`) of `price`, made into rows by `rules`;
    /// `contract_value` converts contract volume to coins when a row lacks `volCcy`.
    pub fn new(
        rules: BarRules,
        price: BarPrice,
        bar: &'static str,
        (first_open_ns, last_open_ns): (u64, u64),
        contract_value: Option<Decimal>,
        clock: Clock,
    ) -> CandlePages {
        CandlePages {
            rules,
            kind: match price {
                BarPrice::Last => CandleKind::Trade,
                BarPrice::Mark => CandleKind::Mark,
            },
            bar,
            first_open_ms: first_open_ns / NANOS_PER_MILLI,
            last_open_ms: last_open_ns / NANOS_PER_MILLI,
            contract_value,
            clock,
        }
    }

    fn limit(&self) -> u32 {
        match self.kind {
            CandleKind::Trade => CANDLES_LIMIT,
            CandleKind::Mark => MARK_CANDLES_LIMIT,
        }
    }

    fn request(&self, history: bool, after_ms: u64) -> HttpRequest {
        requests::candles(
            self.kind,
            history,
            &self.rules.symbol,
            self.bar,
            Some(after_ms),
        )
    }
}

/// Whether `request` is one of the history (`history-…`) candle endpoints.
fn is_history(request: &HttpRequest) -> bool {
    request.endpoint.starts_with("history-")
}

impl Paginator for CandlePages {
    type Row = BarRow;

    fn first(&self) -> HttpRequest {
        self.request(false, first_cursor(self.last_open_ms))
    }

    fn parse(
        &self,
        request: &HttpRequest,
        response: &HttpResponse,
    ) -> Result<Page<BarRow>, FetchError> {
        let native = &self.rules.symbol;
        let (candles, skipped) = parse_candles(response.status, &response.body, self.kind)
            .map_err(|e| fetch_error(e, native))?;
        log_skipped(request.endpoint, native, &skipped);
        let asked = cursor(request, "after").unwrap_or(u64::MAX);
        let times: Vec<u64> = candles.iter().map(|c| c.open_ms).collect();
        let history = is_history(request);
        let oldest = times.iter().copied().min();
        let next = if times.len() >= self.limit() as usize {
            next_cursor(&times, asked, self.first_open_ms).map(|after| self.request(history, after))
        } else if !history && oldest.unwrap_or(asked) > self.first_open_ms {
            // The recent endpoint keeps 1,440 candles: the rest comes from history.
            Some(self.request(true, oldest.unwrap_or(asked)))
        } else {
            None
        };
        // The forming candle says `confirm` "0": never a bar. Rows with the flag need no
        // clock; 7-field rows without it are judged by the clock.
        let all_flagged = candles.iter().all(|c| c.confirmed.is_some());
        let mut bars: Vec<BarCandle> = candles
            .into_iter()
            .filter(|c| c.confirmed != Some(false))
            .filter(|c| c.open_ms < asked && c.open_ms >= self.first_open_ms)
            .filter(|c| c.open_ms <= self.last_open_ms)
            .map(|c| BarCandle {
                open_ms: c.open_ms,
                open: c.open,
                high: c.high,
                low: c.low,
                close: c.close,
                volume: match self.kind {
                    CandleKind::Trade => c
                        .volume_coins
                        .or_else(|| {
                            self.contract_value
                                .zip(c.volume_contracts)
                                .and_then(|(v, n)| n.checked_mul(v))
                        })
                        .unwrap_or_default(),
                    CandleKind::Mark => Decimal::ZERO,
                },
            })
            .collect();
        bars.sort_by_key(|c| c.open_ms);
        bars.dedup_by_key(|c| c.open_ms);
        let now = if all_flagged {
            u64::MAX
        } else {
            self.clock.now_ns()
        };
        Ok(Page {
            rows: self.rules.rows(&bars, now),
            next,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_page_ends_the_walk_and_says_how_far_it_went() {
        let reached = Reached::default();
        assert_eq!(walk_back(&[500, 400], 600, 2, 100, &reached), Some(400));
        assert_eq!(reached.ran_out_at(), None);
        assert_eq!(walk_back(&[500], 600, 2, 100, &reached), None);
        assert_eq!(reached.ran_out_at(), Some(500));
        let reached = Reached::default();
        assert_eq!(walk_back(&[100], 600, 2, 100, &reached), None);
        assert_eq!(reached.ran_out_at(), None, "the start was reached");
        assert_eq!(walk_back(&[], 600, 2, 100, &reached), None);
        assert_eq!(reached.ran_out_at(), Some(600));
    }
}
