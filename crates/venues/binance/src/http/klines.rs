//! Binance USDⓈ-M candles: `GET /fapi/v1/klines` (trade) and `GET /fapi/v1/markPriceKlines`
//! (mark), their requests and weights, the tolerant row parser and the forward paginator.
//!
//! * Rows are 12-element arrays, ascending by open time: `[open time, open, high, low, close,
//!   volume, close time, quote volume, trades, taker buy base, taker buy quote, ignore]`;
//!   mark rows keep the 12 fields with zeros (the docs print `"0 "` with white space). Times
//!   may come as numbers or strings, prices as strings or numbers; rows with more fields are
//!   read, rows with fewer than the six we use are malformed.
//! * The last row is the still-forming candle; [`BarRules`] drops it by the clock.
//! * Paging: forward by `startTime` (open time ≥ `startTime`, ≤ `endTime`), at most
//!   [`KLINES_LIMIT`] rows a page, the next page from the last open + 1 ms; a page with fewer
//!   rows than asked for is the last.
//! * Page size 1000, not the documented maximum 1500: the weight goes by `limit` (`[1,100)` → 1,
//!   `[100,500)` → 2, `[500,1000]` → 5, more → 10), so 1000 rows cost 5 and 1500 cost 10 —
//!   200 rows per weight instead of 150, a third more bars per minute of the 2400 budget; CCXT
//!   also caps futures klines at 1000. A range shorter than a page asks for just the bars it
//!   holds, which costs less still.

use ccxt_model::{BarInterval, BarPrice, Venue};
use ccxt_venue::bars::{BarRow, BarRules, Candle, Clock, bar_count};
use ccxt_venue::convert::{NANOS_PER_MILLI, ms_to_ns};
use ccxt_venue::tolerant::{value_decimal, value_u64};
use ccxt_venue::{FetchError, HttpRequest, HttpResponse, Page, Paginator};
use rust_decimal::Decimal;

use super::parse::check_response;
use super::requests::POOL_IP;

const VENUE: Venue = crate::VENUE;

/// Rows asked for per page (see the module docs for why not 1500).
pub const KLINES_LIMIT: u32 = 1000;

/// Every interval of [`BarInterval::ALL`]: Binance offers them all (and `3d`, left out).
pub const BAR_INTERVALS: &[BarInterval] = &BarInterval::ALL;

/// The request weight of a kline request asking for `limit` rows.
pub fn kline_weight(limit: u32) -> u32 {
    match limit {
        0..100 => 1,
        100..500 => 2,
        500..=1000 => 5,
        _ => 10,
    }
}

/// `GET /fapi/v1/klines` (or `markPriceKlines` for [`BarPrice::Mark`]) of `symbol`: candles
/// opening in `[start_ms, end_ms]`, the first `limit`, weighted by `limit`.
pub fn klines(
    symbol: &str,
    interval: BarInterval,
    price: BarPrice,
    start_ms: u64,
    end_ms: u64,
    limit: u32,
) -> HttpRequest {
    let (endpoint, path) = match price {
        BarPrice::Last => ("klines", "/fapi/v1/klines"),
        BarPrice::Mark => ("markPriceKlines", "/fapi/v1/markPriceKlines"),
    };
    HttpRequest::get(endpoint, path, POOL_IP, kline_weight(limit))
        .param("symbol", symbol)
        .param("interval", interval.as_str())
        .param("startTime", start_ms)
        .param("endTime", end_ms)
        .param("limit", limit)
}

/// Parses a kline or mark kline answer into candles (mark candles get volume 0).
pub fn parse_klines(
    request: &HttpRequest,
    response: &HttpResponse,
    price: BarPrice,
) -> Result<Vec<Candle>, FetchError> {
    let body = check_response(request, response)?;
    let rows: Vec<Vec<serde_json::Value>> = serde_json::from_slice(body)
        .map_err(|e| FetchError::malformed(VENUE, request.endpoint, e))?;
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            candle(row, price).ok_or_else(|| {
                let text = serde_json::Value::Array(row.clone()).to_string();
                FetchError::malformed(
                    VENUE,
                    request.endpoint,
                    format!(
                        "row {i} is not [open time, open, high, low, close, volume, …]: {}",
                        ccxt_venue::convert::truncate(&text, 120)
                    ),
                )
            })
        })
        .collect()
}

fn candle(row: &[serde_json::Value], price: BarPrice) -> Option<Candle> {
    let dec = |i: usize| row.get(i).and_then(value_decimal);
    Some(Candle {
        open_ms: row.first().and_then(value_u64)?,
        open: dec(1)?,
        high: dec(2)?,
        low: dec(3)?,
        close: dec(4)?,
        volume: match price {
            BarPrice::Last => dec(5)?,
            BarPrice::Mark => Decimal::ZERO,
        },
    })
}

/// Pages of one symbol's candles, oldest first, forward by `startTime`.
#[derive(Debug, Clone)]
pub struct KlinePaginator {
    rules: BarRules,
    price: BarPrice,
    first_open_ms: u64,
    last_open_ms: u64,
    clock: Clock,
}

impl KlinePaginator {
    /// Candles opening in `[first_open_ns, last_open_ns]` (grid opens, see
    /// [`ccxt_venue::bars::open_range`]), made into rows by `rules` at `clock`'s now.
    pub fn new(
        rules: BarRules,
        price: BarPrice,
        first_open_ns: u64,
        last_open_ns: u64,
        clock: Clock,
    ) -> KlinePaginator {
        KlinePaginator {
            rules,
            price,
            first_open_ms: first_open_ns / NANOS_PER_MILLI,
            last_open_ms: last_open_ns / NANOS_PER_MILLI,
            clock,
        }
    }

    fn interval(&self) -> BarInterval {
        self.rules.bar_type.interval
    }

    /// The request for the page starting at `from_ms`: as many rows as are left, at most
    /// [`KLINES_LIMIT`].
    fn request(&self, from_ms: u64) -> HttpRequest {
        let interval = self.interval();
        // The first grid open at or after `from_ms` (which is a last open + 1 ms after the
        // first page).
        let from = ms_to_ns(from_ms);
        let next_open = match interval.floor(from) {
            open if open == from => open,
            open => interval.close_of(open),
        };
        let left = bar_count(interval, next_open, ms_to_ns(self.last_open_ms));
        let limit = u32::try_from(left)
            .unwrap_or(KLINES_LIMIT)
            .clamp(1, KLINES_LIMIT);
        klines(
            &self.rules.symbol,
            interval,
            self.price,
            from_ms,
            self.last_open_ms,
            limit,
        )
    }
}

impl Paginator for KlinePaginator {
    type Row = BarRow;

    fn first(&self) -> HttpRequest {
        self.request(self.first_open_ms)
    }

    fn parse(
        &self,
        request: &HttpRequest,
        response: &HttpResponse,
    ) -> Result<Page<BarRow>, FetchError> {
        let candles = parse_klines(request, response, self.price)?;
        let now = self.clock.now_ns();
        let asked: usize = request
            .param_value("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(KLINES_LIMIT as usize);
        let from_ms: u64 = request
            .param_value("startTime")
            .and_then(|v| v.parse().ok())
            .unwrap_or(self.first_open_ms);
        // Rows before this page's start (should the venue send them) belong to the page
        // before; rows after the end are not ours.
        let ours: Vec<Candle> = candles
            .iter()
            .filter(|c| c.open_ms >= from_ms && c.open_ms <= self.last_open_ms)
            .cloned()
            .collect();
        let rows = self.rules.rows(&ours, now);
        let last = candles.iter().map(|c| c.open_ms).max();
        let next = match last {
            Some(last) if candles.len() >= asked && last < self.last_open_ms && last >= from_ms => {
                Some(self.request(last + 1))
            }
            _ => None,
        };
        Ok(Page { rows, next })
    }
}

#[cfg(test)]
mod tests {
    use ccxt_model::{BarProblem, BarType, Precision};
    use ccxt_venue::testing::response;

    use super::*;
    use crate::http::parse::instrument;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/", $name))
        };
    }

    const MIN: u64 = 60_000;

    fn rules(interval: BarInterval, price: BarPrice, precision: Precision) -> BarRules {
        let btc = instrument("BTCUSDT").expect("valid");
        BarRules {
            venue: VENUE,
            symbol: btc.native.clone(),
            bar_type: BarType::new(btc.id, interval, price),
            precision,
            start_ns: 0,
            end_ns: u64::MAX,
        }
    }

    fn d(s: &str) -> Decimal {
        s.parse().expect("decimal")
    }

    #[test]
    fn requests_carry_the_window_and_weigh_by_limit() {
        let r = klines("BTCUSDT", BarInterval::H1, BarPrice::Last, 1, 2, 1000);
        assert_eq!(r.path, "/fapi/v1/klines");
        assert_eq!(
            ccxt_venue::testing::query(&r),
            vec![
                ("symbol", "BTCUSDT"),
                ("interval", "1h"),
                ("startTime", "1"),
                ("endTime", "2"),
                ("limit", "1000")
            ]
        );
        assert_eq!(r.costs, vec![(POOL_IP, 5)]);
        let r = klines("BTCUSDT", BarInterval::Month1, BarPrice::Mark, 1, 2, 99);
        assert_eq!(
            (r.path.as_str(), r.param_value("interval"), r.costs.clone()),
            ("/fapi/v1/markPriceKlines", Some("1M"), vec![(POOL_IP, 1)])
        );
        let weights: Vec<u32> = [1, 99, 100, 499, 500, 1000, 1001, 1500]
            .into_iter()
            .map(kline_weight)
            .collect();
        assert_eq!(weights, [1, 1, 2, 2, 5, 5, 10, 10]);
    }

    #[test]
    fn the_docs_capture_parses_and_its_forming_candle_is_dropped() {
        let request = klines("BTCUSDT", BarInterval::W1, BarPrice::Last, 0, u64::MAX, 500);
        let candles = parse_klines(
            &request,
            &response(200, fixture!("klines.json")),
            BarPrice::Last,
        )
        .expect("parses");
        assert_eq!(
            candles,
            vec![Candle {
                open_ms: 1499040000000,
                open: d("0.01634790"),
                high: d("0.80000000"),
                low: d("0.01575800"),
                close: d("0.01577100"),
                volume: d("148976.11427815"),
            }]
        );
        // The docs' sample row (a 2017 spot week, close time 1499644799999) is on the UTC
        // Monday grid; received before its close it is the forming candle.
        let p = Precision { price: 8, size: 8 };
        let r = rules(BarInterval::W1, BarPrice::Last, p);
        let close_ns = ms_to_ns(1_499_644_800_000);
        let settled = close_ns + ccxt_venue::bars::CLOSE_SETTLE_NS;
        assert!(
            r.rows(&candles, close_ns - 1).is_empty(),
            "forming: dropped"
        );
        assert!(
            r.rows(&candles, settled - 1).is_empty(),
            "just closed, by a clock that may run ahead: left for the next fetch"
        );
        let rows = r.rows(&candles, settled);
        let bar = rows[0].as_ref().expect("closed and valid");
        assert_eq!((bar.ts_event, bar.ts_init), (close_ns, close_ns));
        assert_eq!(bar.volume, d("148976.11427815"));
    }

    #[test]
    fn mark_rows_round_to_the_tick_and_carry_no_volume() {
        let request = klines("BTCUSDT", BarInterval::M1, BarPrice::Mark, 0, u64::MAX, 500);
        let body = fixture!("markPriceKlines.json");
        let candles = parse_klines(&request, &response(200, body), BarPrice::Mark).expect("parses");
        let rows = rules(
            BarInterval::M1,
            BarPrice::Mark,
            Precision { price: 1, size: 3 },
        )
        .rows(&candles, u64::MAX);
        let bar = rows[0].as_ref().expect("valid");
        assert_eq!(
            (bar.open, bar.high, bar.low, bar.close, bar.volume),
            (
                d("9653.3"),
                d("9654.6"),
                d("9653.1"),
                d("9653.1"),
                d("0.000")
            )
        );
        assert_eq!(bar.ts_event, ms_to_ns(1591256520000));
    }

    #[test]
    fn rows_are_read_tolerantly() {
        let request = klines("BTCUSDT", BarInterval::M1, BarPrice::Mark, 0, u64::MAX, 500);
        // Numbers as strings, prices as numbers, "0 " with white space, fewer and more fields.
        let body = r#"[
            ["1591256460000", 9653.2, "9654.5", "9653.0 ", "9653.1", "0 ", 1591256519999],
            [1591256520000, "9653.1", "9655", "9652", "9654", "0", 1591256579999, "0", 60, "0", "0", "0", "extra", {"x": 1}],
            [1591256580000, "1", "1", "1", "1"]
        ]"#;
        let candles = parse_klines(&request, &response(200, body), BarPrice::Mark).expect("parses");
        assert_eq!(candles.len(), 3);
        assert_eq!(candles[0].open_ms, 1591256460000);
        assert_eq!(candles[0].low, d("9653.0"));
        // A trade row needs its volume.
        let err = parse_klines(&request, &response(200, body), BarPrice::Last).unwrap_err();
        assert!(err.to_string().contains("row 2"), "{err}");
        for bad in [
            r#"{"a":1}"#,
            r#"[[1,"x","1","1","1","1"]]"#,
            r#"[["1"]]"#,
            "[1,2",
        ] {
            assert!(
                parse_klines(&request, &response(200, bad), BarPrice::Mark).is_err(),
                "{bad}"
            );
        }
        let err = parse_klines(
            &request,
            &response(400, r#"{"code":-1121,"msg":"Invalid symbol."}"#),
            BarPrice::Last,
        )
        .unwrap_err();
        assert!(matches!(err, FetchError::UnknownSymbol { .. }));
    }

    fn page(opens: impl IntoIterator<Item = u64>) -> HttpResponse {
        let rows: Vec<String> = opens
            .into_iter()
            .map(|t| {
                format!(
                    r#"[{t},"100.0","101.0","99.0","100.5","1.5",{},"0",1,"0","0","0"]"#,
                    t + MIN - 1
                )
            })
            .collect();
        response(200, format!("[{}]", rows.join(",")))
    }

    #[test]
    fn pages_move_forward_from_the_last_open_and_stop_short_or_at_the_end() {
        // 2025-01-01T00:00Z.
        let t0 = 1_735_689_600_000;
        let n = 2500;
        let p = KlinePaginator::new(
            rules(
                BarInterval::M1,
                BarPrice::Last,
                Precision { price: 1, size: 3 },
            ),
            BarPrice::Last,
            ms_to_ns(t0),
            ms_to_ns(t0 + (n - 1) * MIN),
            Clock::fixed(u64::MAX),
        );
        let first = p.first();
        assert_eq!(first.param_value("limit"), Some("1000"));
        assert_eq!(
            first.param_value("startTime"),
            Some(t0.to_string().as_str())
        );
        let pg = p
            .parse(&first, &page((0..1000).map(|i| t0 + i * MIN)))
            .expect("parses");
        assert_eq!(pg.rows.len(), 1000);
        let second = pg.next.expect("more");
        assert_eq!(
            second.param_value("startTime"),
            Some((t0 + 999 * MIN + 1).to_string().as_str())
        );
        // The rest: 1500 bars left, the page asks for 1000; the third for 500 (weight 5).
        let pg = p
            .parse(&second, &page((1000..2000).map(|i| t0 + i * MIN)))
            .expect("parses");
        let third = pg.next.expect("more");
        assert_eq!(third.param_value("limit"), Some("500"));
        let pg = p
            .parse(&third, &page((2000..2500).map(|i| t0 + i * MIN)))
            .expect("parses");
        assert_eq!((pg.rows.len(), pg.next), (500, None), "the end reached");
        // A short page (a hole at the end, or nothing yet) ends it; a repeated row is dropped.
        let pg = p
            .parse(&second, &page([t0 + 999 * MIN, t0 + 1000 * MIN]))
            .expect("parses");
        assert_eq!((pg.rows.len(), pg.next), (1, None));
        // Rows with high < low are rejected, named by their open.
        let bad = response(
            200,
            format!(r#"[[{t0},"100.0","99.0","101.0","100.5","1.5",0]]"#),
        );
        let pg = p.parse(&first, &bad).expect("parses");
        let rejected = pg.rows[0].as_ref().unwrap_err();
        assert_eq!(rejected.open_ns, ms_to_ns(t0));
        assert!(matches!(
            rejected.problem,
            BarProblem::PricesOutOfOrder { .. }
        ));
    }
}
