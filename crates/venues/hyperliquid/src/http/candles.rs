//! Hyperliquid candles: `POST /info {"type":"candleSnapshot","req":{coin, interval, startTime,
//! endTime}}`, the tolerant parser and the forward paginator. Trade candles only: Hyperliquid
//! has no mark-price candles.
//!
//! * The answer is every candle overlapping `[startTime, endTime]`, ascending, as objects
//!   `{"t": open ms, "T": close ms − 1, "s": coin, "i": interval, "o", "c", "h", "l", "v":
//!   decimal strings, "n": trades}`; numbers may also come as JSON numbers, times as strings,
//!   unknown keys are ignored. The last element is the still-forming candle.
//! * Only the newest 5000 candles per coin and interval exist ([`CANDLES_KEPT`]): older ones
//!   cannot be fetched from anywhere.
//! * Both times are sent, `startTime ≥ 0`; the next page starts at the last candle's close
//!   (`t` + interval). A page that is empty, reaches the end, or ends with the forming candle
//!   is the last.
//! * Weight 20 plus 1 per 60 candles returned; the request is charged for the candles it can
//!   return (at most 5000: 103).

use ccxt_model::{BarInterval, Venue};
use ccxt_venue::bars::{BarRow, BarRules, Candle, Clock, bar_count};
use ccxt_venue::borrowed::{RawValue, decimal_of, u64_of};
use ccxt_venue::convert::{NANOS_PER_MILLI, ms_to_ns};
use ccxt_venue::{FetchError, HttpRequest, HttpResponse, Page, Paginator};
use serde::Deserialize;
use serde_json::json;

use super::parse::parse_json;
use super::requests::{INFO_PATH, INFO_WEIGHT};
use crate::RATE_LIMIT_POOL;

const VENUE: Venue = crate::VENUE;

/// How many of the newest candles per coin and interval Hyperliquid keeps.
pub const CANDLES_KEPT: u32 = 5000;

/// The intervals of [`BarInterval::ALL`] Hyperliquid offers: all but 6 hours.
pub const BAR_INTERVALS: &[BarInterval] = &[
    BarInterval::M1,
    BarInterval::M3,
    BarInterval::M5,
    BarInterval::M15,
    BarInterval::M30,
    BarInterval::H1,
    BarInterval::H2,
    BarInterval::H4,
    BarInterval::H8,
    BarInterval::H12,
    BarInterval::D1,
    BarInterval::W1,
    BarInterval::Month1,
];

/// The weight of a `candleSnapshot` that can return `candles` candles: 20 + 1 per 60.
pub fn candle_weight(candles: u64) -> u32 {
    INFO_WEIGHT + u32::try_from(candles.min(u64::from(CANDLES_KEPT)) / 60).unwrap_or(0)
}

/// `{"type":"candleSnapshot","req":{"coin":…,"interval":…,"startTime":…,"endTime":…}}`,
/// charged for `expected` candles.
pub fn candle_snapshot(
    coin: &str,
    interval: BarInterval,
    start_ms: u64,
    end_ms: u64,
    expected: u64,
) -> HttpRequest {
    HttpRequest::post(
        "candleSnapshot",
        INFO_PATH,
        json!({"type": "candleSnapshot", "req": {
            "coin": coin,
            "interval": interval.as_str(),
            "startTime": start_ms,
            "endTime": end_ms,
        }}),
        RATE_LIMIT_POOL,
        candle_weight(expected),
    )
}

/// One candle of a `candleSnapshot` answer, its fields borrowed as sent (unknown keys ignored).
#[derive(Deserialize)]
struct CandleItem<'a> {
    #[serde(default, borrow)]
    t: Option<&'a RawValue>,
    #[serde(default, borrow)]
    o: Option<&'a RawValue>,
    #[serde(default, borrow)]
    h: Option<&'a RawValue>,
    #[serde(default, borrow)]
    l: Option<&'a RawValue>,
    #[serde(default, borrow)]
    c: Option<&'a RawValue>,
    #[serde(default, borrow)]
    v: Option<&'a RawValue>,
}

/// Parses a `candleSnapshot` answer into candles, as sent (ascending). Each field is read
/// from its text (exact decimals) with no `serde_json::Value` built: the daemon's bars job
/// reads one of these per coin and series every few minutes.
pub fn parse_candles(response: &HttpResponse) -> Result<Vec<Candle>, FetchError> {
    let items: Vec<&RawValue> = parse_json(response, "candleSnapshot")?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            candle(item).ok_or_else(|| {
                FetchError::malformed(
                    VENUE,
                    "candleSnapshot",
                    format!(
                        "candle {i} lacks t, o, h, l, c or v: {}",
                        ccxt_venue::convert::truncate(item.get(), 160)
                    ),
                )
            })
        })
        .collect()
}

fn candle(item: &RawValue) -> Option<Candle> {
    let item: CandleItem = serde_json::from_str(item.get()).ok()?;
    let dec = |v: Option<&RawValue>| decimal_of(v).ok().flatten();
    Some(Candle {
        open_ms: u64_of(item.t).ok().flatten()?,
        open: dec(item.o)?,
        high: dec(item.h)?,
        low: dec(item.l)?,
        close: dec(item.c)?,
        volume: dec(item.v)?,
    })
}

/// The body value of `key` in a `candleSnapshot` request.
fn req_ms(request: &HttpRequest, key: &str) -> Option<u64> {
    request.body.as_ref()?.get("req")?.get(key)?.as_u64()
}

/// Pages of one coin's candles, oldest first, forward by `startTime`.
#[derive(Debug, Clone)]
pub struct CandlePaginator {
    rules: BarRules,
    first_open_ms: u64,
    last_open_ms: u64,
    clock: Clock,
}

impl CandlePaginator {
    /// Candles opening in `[first_open_ns, last_open_ns]` (see
    /// [`ccxt_venue::bars::open_range`]), made into rows by `rules` at `clock`'s now.
    pub fn new(
        rules: BarRules,
        first_open_ns: u64,
        last_open_ns: u64,
        clock: Clock,
    ) -> CandlePaginator {
        CandlePaginator {
            rules,
            first_open_ms: first_open_ns / NANOS_PER_MILLI,
            last_open_ms: last_open_ns / NANOS_PER_MILLI,
            clock,
        }
    }

    fn request(&self, from_ms: u64) -> HttpRequest {
        let interval = self.rules.bar_type.interval;
        let expected = bar_count(interval, ms_to_ns(from_ms), ms_to_ns(self.last_open_ms));
        candle_snapshot(
            &self.rules.symbol,
            interval,
            from_ms,
            self.last_open_ms,
            expected,
        )
    }
}

impl Paginator for CandlePaginator {
    type Row = BarRow;

    fn first(&self) -> HttpRequest {
        self.request(self.first_open_ms)
    }

    fn parse(
        &self,
        request: &HttpRequest,
        response: &HttpResponse,
    ) -> Result<Page<BarRow>, FetchError> {
        let mut candles = parse_candles(response)?;
        let now = self.clock.now_ns();
        let from_ms = req_ms(request, "startTime").unwrap_or(self.first_open_ms);
        let interval = self.rules.bar_type.interval;
        let last = candles.iter().map(|c| c.open_ms).max();
        candles.retain(|c| c.open_ms >= from_ms && c.open_ms <= self.last_open_ms);
        candles.sort_by_key(|c| c.open_ms);
        candles.dedup_by_key(|c| c.open_ms);
        let rows = self.rules.rows(&candles, now);
        let next = match last {
            Some(last) if last >= from_ms => {
                let next_ns = interval.close_of(interval.floor(ms_to_ns(last)));
                let next_ms = next_ns / NANOS_PER_MILLI;
                // Nothing exists after the forming candle.
                (next_ns <= now && next_ms <= self.last_open_ms).then(|| self.request(next_ms))
            }
            _ => None,
        };
        Ok(Page { rows, next })
    }
}

#[cfg(test)]
mod tests {
    use ccxt_model::{BarPrice, BarProblem, BarType, Precision};
    use ccxt_venue::testing::response;
    use rust_decimal::Decimal;

    use super::*;
    use crate::fixtures;
    use crate::http::parse::instrument_for_coin;

    const HOUR: u64 = 3_600_000;

    fn rules(coin: &str, interval: BarInterval, precision: Precision) -> BarRules {
        let inst = instrument_for_coin(coin).expect("valid");
        BarRules {
            venue: VENUE,
            symbol: inst.native.clone(),
            bar_type: BarType::new(inst.id, interval, BarPrice::Last),
            precision,
            start_ns: 0,
            end_ns: u64::MAX,
        }
    }

    fn d(s: &str) -> Decimal {
        s.parse().expect("decimal")
    }

    #[test]
    fn requests_send_both_times_and_weigh_by_candles() {
        let r = candle_snapshot("BTC", BarInterval::M15, 0, 99, 5000);
        assert_eq!(
            r.body,
            Some(
                json!({"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "15m", "startTime": 0, "endTime": 99}})
            )
        );
        assert_eq!(r.costs, vec![(RATE_LIMIT_POOL, 103)]);
        assert_eq!(candle_weight(59), 20);
        assert_eq!(candle_weight(1_000_000), 103);
        let names: Vec<_> = BAR_INTERVALS.iter().map(|i| i.as_str()).collect();
        assert_eq!(
            names,
            [
                "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "1d", "1w", "1M"
            ]
        );
    }

    #[test]
    fn the_mainnet_capture_keeps_closed_candles_only() {
        let candles = parse_candles(&response(200, fixtures::CANDLE_SNAPSHOT)).expect("parses");
        assert_eq!(candles.len(), 24);
        assert_eq!(candles[0].open_ms, 1684699200000);
        assert_eq!(candles[0].volume, d("520665683.0"));
        // Recorded before the last candle closed (its T is after the request's endTime):
        // received at the request's endTime, 23 candles are closed.
        let received = ms_to_ns(1684784807000);
        let p = Precision { price: 6, size: 0 };
        let rows = rules("kPEPE", BarInterval::H1, p).rows(&candles, received);
        assert_eq!(rows.len(), 23);
        let first = rows[0].as_ref().expect("valid");
        assert_eq!(
            (first.open, first.high, first.low, first.close, first.volume),
            (
                d("0.001601"),
                d("0.001616"),
                d("0.001601"),
                d("0.001604"),
                d("520665683")
            )
        );
        assert_eq!(
            first.ts_event,
            ms_to_ns(1684699200000 + HOUR),
            "stamped at close"
        );
        assert_eq!(
            first.volume.to_string(),
            "520665683",
            "the trailing .0 goes"
        );

        let docs = parse_candles(&response(200, fixtures::CANDLE_SNAPSHOT_DOCS)).expect("parses");
        let rows =
            rules("BTC", BarInterval::M15, Precision { price: 1, size: 5 }).rows(&docs, u64::MAX);
        let bar = rows[0].as_ref().expect("valid");
        assert_eq!((bar.close, bar.volume), (d("29258.0"), d("0.98639")));
    }

    #[test]
    fn candles_are_read_tolerantly() {
        let body = r#"[{"t":"1681923600000","T":1681924499999,"s":"BTC","i":"15m","o":29295,"c":"29258.0 ","h":29309.5,"l":"29250","v":"0.98639","n":189,"new":{"x":1}},
                      {"t":1681924500000,"o":"1","c":"1","h":"1","l":"1","v":"0"}]"#;
        let candles = parse_candles(&response(200, body)).expect("parses");
        assert_eq!(candles[0].open_ms, 1681923600000);
        assert_eq!(
            (candles[0].open, candles[0].high),
            (d("29295"), d("29309.5"))
        );
        for bad in [
            r#"[{"t":1,"o":"1","c":"1","h":"1","l":"1"}]"#,
            r#"[{"t":1,"o":"x","c":"1","h":"1","l":"1","v":"1"}]"#,
            r#"{"t":1}"#,
            "[{",
        ] {
            assert!(parse_candles(&response(200, bad)).is_err(), "{bad}");
        }
        assert!(matches!(
            parse_candles(&response(422, "Failed to deserialize the JSON body")),
            Err(FetchError::Venue { .. })
        ));
    }

    fn page(opens: impl IntoIterator<Item = u64>) -> HttpResponse {
        let items: Vec<String> = opens
            .into_iter()
            .map(|t| format!(r#"{{"t":{t},"T":{},"s":"BTC","i":"1h","o":"100.0","c":"100.5","h":"101.0","l":"99.0","v":"1.5","n":3}}"#, t + HOUR - 1))
            .collect();
        response(200, format!("[{}]", items.join(",")))
    }

    #[test]
    fn pages_move_forward_from_the_last_close_and_stop_at_the_forming_candle() {
        let t0 = 1_735_689_600_000;
        let p = CandlePaginator::new(
            rules("BTC", BarInterval::H1, Precision { price: 1, size: 5 }),
            ms_to_ns(t0),
            ms_to_ns(t0 + 9999 * HOUR),
            // Just past the settle margin after the 6000th hour closed.
            Clock::fixed(ms_to_ns(t0 + 6000 * HOUR + 5_000)),
        );
        let first = p.first();
        assert_eq!(req_ms(&first, "startTime"), Some(t0));
        assert_eq!(req_ms(&first, "endTime"), Some(t0 + 9999 * HOUR));
        assert_eq!(first.costs, vec![(RATE_LIMIT_POOL, 103)]);
        // A venue that sent only 500: ask again from the last close.
        let pg = p
            .parse(&first, &page((0..500).map(|i| t0 + i * HOUR)))
            .expect("parses");
        assert_eq!(pg.rows.len(), 500);
        let second = pg.next.expect("more");
        assert_eq!(req_ms(&second, "startTime"), Some(t0 + 500 * HOUR));
        // The page that ends with the forming candle (6000 h) is the last; the forming one
        // is dropped.
        let pg = p
            .parse(&second, &page((500..=6000).map(|i| t0 + i * HOUR)))
            .expect("parses");
        assert_eq!((pg.rows.len(), pg.next), (5500, None));
        // Empty: done.
        let pg = p.parse(&second, &page([])).expect("parses");
        assert_eq!((pg.rows.len(), pg.next), (0, None));
        // high < low: rejected.
        let bad = response(
            200,
            format!(r#"[{{"t":{t0},"o":"100","c":"100","h":"99","l":"101","v":"1"}}]"#),
        );
        let pg = p.parse(&first, &bad).expect("parses");
        assert!(matches!(
            pg.rows[0].as_ref().unwrap_err().problem,
            BarProblem::PricesOutOfOrder { .. }
        ));
    }
}
