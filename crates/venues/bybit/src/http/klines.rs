//! Bybit v5 linear candles: `GET /v5/market/kline` (trade) and
//! `GET /v5/market/mark-price-kline` (mark), their requests, the tolerant row parser and the
//! backward paginator.
//!
//! * Rows are arrays of strings, **newest first**: `[start, open, high, low, close, volume,
//!   turnover]` for trades, `[start, open, high, low, close]` for marks. Numbers may also come
//!   as JSON numbers; extra trailing fields are ignored.
//! * The first row is the still-forming candle. It is dropped by the clock, or by the
//!   envelope's `time` (the venue's now) when that is earlier.
//! * Both bounds are inclusive on the candle start. Paging walks backwards: `start` = the
//!   first open wanted, `end` = the previous page's oldest open − 1 ms, `limit` 1000 (the
//!   maximum; the default is 200); each page is reversed to oldest first, rows at or after a
//!   page's `end` + 1 (a repeat of the page before) are dropped, and a page with fewer rows
//!   than the limit is the last. Every request costs one of the 600 per 5 s of the IP pool.

use ccxt_model::{BarInterval, BarPrice, Venue};
use ccxt_venue::bars::{BarRow, BarRules, Candle, Clock};
use ccxt_venue::convert::{NANOS_PER_MILLI, ms_to_ns};
use ccxt_venue::tolerant::{value_decimal, value_u64};
use ccxt_venue::{FetchError, HttpRequest, HttpResponse, Page, Paginator};
use rust_decimal::Decimal;

use super::models::{Envelope, ListResult};
use super::parse::decode;
use super::requests::{CATEGORY, POOL_IP};

const VENUE: Venue = crate::VENUE;

/// Rows per page (the maximum).
pub const KLINE_LIMIT: u32 = 1000;

/// The intervals of [`BarInterval::ALL`] Bybit offers: all but 8 hours.
pub const BAR_INTERVALS: &[BarInterval] = &[
    BarInterval::M1,
    BarInterval::M3,
    BarInterval::M5,
    BarInterval::M15,
    BarInterval::M30,
    BarInterval::H1,
    BarInterval::H2,
    BarInterval::H4,
    BarInterval::H6,
    BarInterval::H12,
    BarInterval::D1,
    BarInterval::W1,
    BarInterval::Month1,
];

/// Bybit's `interval` for one of [`BAR_INTERVALS`] (minutes, `D`, `W`, `M`); `None` for 8 h.
pub fn interval_name(interval: BarInterval) -> Option<&'static str> {
    Some(match interval {
        BarInterval::M1 => "1",
        BarInterval::M3 => "3",
        BarInterval::M5 => "5",
        BarInterval::M15 => "15",
        BarInterval::M30 => "30",
        BarInterval::H1 => "60",
        BarInterval::H2 => "120",
        BarInterval::H4 => "240",
        BarInterval::H6 => "360",
        BarInterval::H8 => return None,
        BarInterval::H12 => "720",
        BarInterval::D1 => "D",
        BarInterval::W1 => "W",
        BarInterval::Month1 => "M",
    })
}

/// `GET /v5/market/kline` (or `mark-price-kline`) of `symbol`: the newest [`KLINE_LIMIT`]
/// candles starting in `[start_ms, end_ms]`. `interval` must be one of [`BAR_INTERVALS`].
pub fn kline(
    symbol: &str,
    interval: &'static str,
    price: BarPrice,
    start_ms: u64,
    end_ms: u64,
) -> HttpRequest {
    let (endpoint, path) = match price {
        BarPrice::Last => ("kline", "/v5/market/kline"),
        BarPrice::Mark => ("mark-price-kline", "/v5/market/mark-price-kline"),
    };
    HttpRequest::get(endpoint, path, POOL_IP, 1)
        .param("category", CATEGORY)
        .param("symbol", symbol)
        .param("interval", interval)
        .param("start", start_ms)
        .param("end", end_ms)
        .param("limit", KLINE_LIMIT)
}

/// Parses a kline or mark-price-kline answer: its candles as sent (newest first; mark
/// candles get volume 0) and the envelope's `time` (ms), if any.
pub fn parse_kline(
    request: &HttpRequest,
    response: &HttpResponse,
    price: BarPrice,
) -> Result<(Vec<Candle>, Option<u64>), FetchError> {
    let envelope: Envelope<ListResult<Vec<serde_json::Value>>> = decode(request, response)?;
    if let Some(category) = envelope.result.category.as_deref()
        && !category.is_empty()
        && category != CATEGORY
    {
        return Err(FetchError::malformed(
            VENUE,
            request.endpoint,
            format!("category is '{category}', expected '{CATEGORY}'"),
        ));
    }
    let candles = envelope
        .result
        .list
        .iter()
        .enumerate()
        .map(|(i, row)| {
            candle(row, price).ok_or_else(|| {
                let text = serde_json::Value::Array(row.clone()).to_string();
                FetchError::malformed(
                    VENUE,
                    request.endpoint,
                    format!(
                        "row {i} is not [start, open, high, low, close, …]: {}",
                        ccxt_venue::convert::truncate(&text, 120)
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((candles, envelope.time))
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

/// Pages of one symbol's candles, newest page first, each oldest first.
#[derive(Debug, Clone)]
pub struct KlinePaginator {
    rules: BarRules,
    price: BarPrice,
    interval: &'static str,
    first_open_ms: u64,
    last_open_ms: u64,
    clock: Clock,
}

impl KlinePaginator {
    /// Candles opening in `[first_open_ns, last_open_ns]` (see
    /// [`ccxt_venue::bars::open_range`]), made into rows by `rules`; `None` for an interval
    /// Bybit does not offer.
    pub fn new(
        rules: BarRules,
        price: BarPrice,
        first_open_ns: u64,
        last_open_ns: u64,
        clock: Clock,
    ) -> Option<KlinePaginator> {
        Some(KlinePaginator {
            interval: interval_name(rules.bar_type.interval)?,
            rules,
            price,
            first_open_ms: first_open_ns / NANOS_PER_MILLI,
            last_open_ms: last_open_ns / NANOS_PER_MILLI,
            clock,
        })
    }

    fn request(&self, end_ms: u64) -> HttpRequest {
        kline(
            &self.rules.symbol,
            self.interval,
            self.price,
            self.first_open_ms,
            end_ms,
        )
    }
}

impl Paginator for KlinePaginator {
    type Row = BarRow;

    fn first(&self) -> HttpRequest {
        self.request(self.last_open_ms)
    }

    fn parse(
        &self,
        request: &HttpRequest,
        response: &HttpResponse,
    ) -> Result<Page<BarRow>, FetchError> {
        let (mut candles, venue_ms) = parse_kline(request, response, self.price)?;
        let received = candles.len();
        let end_ms: u64 = request
            .param_value("end")
            .and_then(|v| v.parse().ok())
            .unwrap_or(self.last_open_ms);
        let oldest = candles.iter().map(|c| c.open_ms).min();
        // Oldest first, each open once, nothing after this page's end (a repeat of the page
        // before) or before the first open wanted.
        candles.retain(|c| c.open_ms <= end_ms && c.open_ms >= self.first_open_ms);
        candles.sort_by_key(|c| c.open_ms);
        candles.dedup_by_key(|c| c.open_ms);
        let now = match venue_ms {
            Some(ms) => self.clock.now_ns().min(ms_to_ns(ms)),
            None => self.clock.now_ns(),
        };
        let rows = self.rules.rows(&candles, now);
        let next = match oldest {
            Some(oldest)
                if received >= KLINE_LIMIT as usize
                    && oldest > self.first_open_ms
                    && oldest <= end_ms =>
            {
                Some(self.request(oldest - 1))
            }
            _ => None,
        };
        Ok(Page { rows, next })
    }
}

#[cfg(test)]
mod tests {
    use ccxt_model::{BarType, Precision};
    use ccxt_venue::testing::response;

    use super::*;
    use crate::http::parse::instrument;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/", $name))
        };
    }

    const MIN: u64 = 60_000;
    const DAY: u64 = 1440 * MIN;

    fn rules(interval: BarInterval, price: BarPrice) -> BarRules {
        let btc = instrument("BTCUSDT").expect("valid");
        BarRules {
            venue: VENUE,
            symbol: btc.native.clone(),
            bar_type: BarType::new(btc.id, interval, price),
            precision: Precision { price: 1, size: 3 },
            start_ns: 0,
            end_ns: u64::MAX,
        }
    }

    fn d(s: &str) -> Decimal {
        s.parse().expect("decimal")
    }

    #[test]
    fn intervals_are_spelled_as_bybit_spells_them() {
        let names: Vec<_> = BAR_INTERVALS
            .iter()
            .filter_map(|i| interval_name(*i))
            .collect();
        assert_eq!(
            names,
            [
                "1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M"
            ]
        );
        assert_eq!(interval_name(BarInterval::H8), None);
        let r = kline("BTCUSDT", "D", BarPrice::Mark, 1, 2);
        assert_eq!(r.path, "/v5/market/mark-price-kline");
        assert_eq!(
            ccxt_venue::testing::query(&r),
            vec![
                ("category", "linear"),
                ("symbol", "BTCUSDT"),
                ("interval", "D"),
                ("start", "1"),
                ("end", "2"),
                ("limit", "1000")
            ]
        );
        assert_eq!(r.costs, vec![(POOL_IP, 1)]);
    }

    #[test]
    fn the_linear_capture_drops_its_forming_first_row_by_the_venue_time() {
        let r = kline("BTCUSDT", "D", BarPrice::Last, 0, u64::MAX);
        let body = fixture!("kline_linear_testnet_nautilus.json");
        let (candles, time) =
            parse_kline(&r, &response(200, body), BarPrice::Last).expect("parses");
        assert_eq!(time, Some(1694674505073));
        assert_eq!(candles[0].open_ms, 1694649600000, "newest first");
        assert_eq!(candles[0].volume, d("11185.573"));
        let p = KlinePaginator::new(
            rules(BarInterval::D1, BarPrice::Last),
            BarPrice::Last,
            0,
            u64::MAX,
            Clock::fixed(u64::MAX),
        )
        .expect("D");
        // The system clock is far ahead; the envelope's time says the first candle is forming.
        let page = p.parse(&r, &response(200, body)).expect("parses");
        let bars: Vec<_> = page
            .rows
            .iter()
            .map(|r| r.as_ref().expect("valid"))
            .collect();
        assert_eq!(bars.len(), candles.len() - 1);
        assert!(
            bars.windows(2)
                .all(|w| w[0].ts_event + DAY * 1_000_000 == w[1].ts_event)
        );
        let newest = bars.last().expect("one");
        assert_eq!(
            newest.ts_event,
            ms_to_ns(1694649600000),
            "closes when the forming one opens"
        );
        assert_eq!(
            (
                newest.open,
                newest.high,
                newest.low,
                newest.close,
                newest.volume
            ),
            (
                d("25828.3"),
                d("34343.0"),
                d("25752.4"),
                d("26210.0"),
                d("76565.946")
            )
        );
        assert_eq!(page.next, None, "a short page is the last");
    }

    #[test]
    fn mark_rows_have_five_fields_and_numbers_may_be_numbers() {
        let r = kline("BTCUSDT", "15", BarPrice::Mark, 0, u64::MAX);
        let (candles, _) = parse_kline(
            &r,
            &response(200, fixture!("mark-price-kline.json")),
            BarPrice::Mark,
        )
        .expect("parses");
        assert_eq!(
            candles,
            vec![Candle {
                open_ms: 1670608800000,
                open: d("17164.16"),
                high: d("17164.16"),
                low: d("17121.5"),
                close: d("17131.64"),
                volume: Decimal::ZERO,
            }]
        );
        let body = r#"{"retCode":"0","retMsg":"OK","time":1,"result":{"category":"linear","list":[
            [1670608800000, 17164.16, "17164.16 ", "17121.5", "17131.64", "9", "9", "extra"]]}}"#;
        let (candles, _) = parse_kline(&r, &response(200, body), BarPrice::Last).expect("parses");
        assert_eq!(candles[0].volume, d("9"));
        // A trade row without its volume, a non-number, another category: malformed.
        let body = fixture!("mark-price-kline.json");
        assert!(parse_kline(&r, &response(200, body), BarPrice::Last).is_err());
        for bad in [
            r#"{"retCode":0,"result":{"list":[["x","1","1","1","1"]]}}"#,
            r#"{"retCode":0,"result":{"category":"inverse","list":[]}}"#,
            r#"{"retCode":0,"result":{"list":{}}}"#,
        ] {
            assert!(
                parse_kline(&r, &response(200, bad), BarPrice::Mark).is_err(),
                "{bad}"
            );
        }
        let err = parse_kline(
            &r,
            &response(
                200,
                r#"{"retCode":10001,"retMsg":"params error: symbol invalid","result":{}}"#,
            ),
            BarPrice::Mark,
        )
        .unwrap_err();
        assert!(matches!(err, FetchError::UnknownSymbol { .. }), "{err}");
    }

    fn page(opens: impl DoubleEndedIterator<Item = u64>) -> HttpResponse {
        let rows: Vec<String> = opens
            .rev()
            .map(|t| format!(r#"["{t}","100.0","101.0","99.0","100.5","1.5","150"]"#))
            .collect();
        response(
            200,
            format!(
                r#"{{"retCode":0,"retMsg":"OK","result":{{"category":"linear","list":[{}]}},"time":9999999999999}}"#,
                rows.join(",")
            ),
        )
    }

    #[test]
    fn pages_walk_backwards_from_the_oldest_open_and_never_repeat() {
        let t0 = 1_735_689_600_000;
        let last = t0 + 2499 * MIN;
        let p = KlinePaginator::new(
            rules(BarInterval::M1, BarPrice::Last),
            BarPrice::Last,
            ms_to_ns(t0),
            ms_to_ns(last),
            Clock::fixed(u64::MAX),
        )
        .expect("1");
        let first = p.first();
        assert_eq!(
            (first.param_value("start"), first.param_value("end")),
            (
                Some(t0.to_string().as_str()),
                Some(last.to_string().as_str())
            )
        );
        let pg = p
            .parse(&first, &page((1500..2500).map(|i| t0 + i * MIN)))
            .expect("parses");
        let opens: Vec<u64> = pg
            .rows
            .iter()
            .map(|r| r.as_ref().expect("ok").open_ns())
            .collect();
        assert_eq!(
            opens.first(),
            Some(&ms_to_ns(t0 + 1500 * MIN)),
            "oldest first"
        );
        let second = pg.next.expect("more");
        assert_eq!(
            second.param_value("end"),
            Some((t0 + 1500 * MIN - 1).to_string().as_str())
        );
        // A venue that repeats the newest row of the page before: dropped.
        let pg = p
            .parse(&second, &page((500..1501).map(|i| t0 + i * MIN)))
            .expect("parses");
        assert_eq!(pg.rows.len(), 1000);
        let third = pg.next.expect("more");
        let pg = p
            .parse(&third, &page((0..500).map(|i| t0 + i * MIN)))
            .expect("parses");
        assert_eq!((pg.rows.len(), pg.next), (500, None));
        // A full page that reaches the first open is the last too.
        let pg = p
            .parse(&third, &page((0..1000).map(|i| t0 + i * MIN)))
            .expect("parses");
        assert_eq!(pg.next, None);
    }
}
