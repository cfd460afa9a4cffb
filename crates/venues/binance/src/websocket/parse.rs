//! Pure parsers and subscribe frames of the Binance market streams: liquidations
//! (`forceOrder`) and live funding (`markPrice`), plus the connection facts a socket loop
//! needs (URL, shard size, message rate, server ping period, lifetime) and the classifier of
//! every message a liquidation connection receives ([`parse_market_message`]).

use ccxt_model::{FundingRate, Liquidation, LiquidationSource, PositionSide, Venue};
use ccxt_venue::borrowed::{
    BadScalar, InstrumentCache, RawValue, Text, f64_of, null_flag, scalar_text, u64_of,
};
use ccxt_venue::convert::{decimal, ms_to_ns};
use ccxt_venue::{FetchError, FundingSnapshot, SnapshotPrices};
use serde::Deserialize;
use serde::de::DeserializeOwned;

#[cfg(doc)]
use super::messages::ForceOrder;
use super::messages::MarkPriceUpdate;
use crate::http::models::OneOrMany;
use crate::http::parse::instrument;

const VENUE: Venue = crate::VENUE;

/// The stream of every symbol's liquidations.
pub const ALL_FORCE_ORDERS_STREAM: &str = "!forceOrder@arr";

/// The most streams one connection may carry ("a single connection can listen to a maximum of
/// 200 streams").
pub const MAX_STREAMS_PER_CONNECTION: usize = 200;

/// The most messages a client may send on one connection per second (subscribe frames, pings
/// and pongs count); more gets the connection dropped, and repeatedly an IP ban.
pub const MAX_MESSAGES_PER_SECOND: u32 = 10;

/// How often the server sends a WebSocket ping frame; it drops a connection that sends no pong
/// within 10 minutes.
pub const SERVER_PING_INTERVAL_SECS: u64 = 180;

/// How long the server keeps a connection: "a single connection is only valid for 24 hours".
pub const CONNECTION_LIFETIME_SECS: u64 = 24 * 3600;

/// The URL of a raw-stream connection on a market-stream root (`wss://fstream.binance.com/market`
/// → `wss://fstream.binance.com/market/ws`); streams are then added with [`subscribe_frame`].
pub fn connection_url(root: &str) -> String {
    format!("{}/ws", root.trim_end_matches('/'))
}

/// Splits `streams` into groups of at most `max_per_connection` (at least 1), in order: one
/// group per connection. Binance allows [`MAX_STREAMS_PER_CONNECTION`].
pub fn shard_streams(streams: &[String], max_per_connection: usize) -> Vec<Vec<String>> {
    streams
        .chunks(max_per_connection.max(1))
        .map(<[String]>::to_vec)
        .collect()
}

/// The liquidation stream of one symbol (`btcusdt@forceOrder`; stream names are lowercase).
pub fn force_order_stream(symbol: &str) -> String {
    format!("{}@forceOrder", symbol.to_ascii_lowercase())
}

/// The frame that subscribes to `streams` on an open connection; Binance acknowledges with
/// `{"result": null, "id": id}`.
pub fn subscribe_frame(streams: &[String], id: u64) -> serde_json::Value {
    serde_json::json!({ "method": "SUBSCRIBE", "params": streams, "id": id })
}

/// Decodes a raw-stream payload or the `data` of a combined-stream wrapper (mark prices).
fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, FetchError> {
    let mut value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| FetchError::malformed(VENUE, what, e))?;
    if value.get("stream").is_some()
        && let Some(data) = value.get_mut("data")
    {
        value = data.take();
    }
    serde_json::from_value(value).map_err(|e| FetchError::malformed(VENUE, what, e))
}

/// Parses a `forceOrder` event into a liquidation received at `ts_init`.
///
/// `S` is the liquidation order's side: `SELL` means a long was liquidated. The quantity is
/// the filled quantity `z` (the original `q` if nothing is reported filled), the price the
/// average fill price `ap` (the order price `p` if absent), `ts_event` the trade time `T`.
pub fn parse_force_order(bytes: &[u8], ts_init: u64) -> Result<Liquidation, FetchError> {
    let mut frame: Frame =
        serde_json::from_slice(bytes).map_err(|e| FetchError::malformed(VENUE, FORCE_ORDER, e))?;
    if frame.stream.is_some()
        && let Some(data) = frame.data
    {
        frame = serde_json::from_str(data.get())
            .map_err(|e| FetchError::malformed(VENUE, FORCE_ORDER, e))?;
    }
    force_order_liquidation(frame.o, frame.event_time, ts_init)
}

const FORCE_ORDER: &str = "forceOrder";

/// Every key a market-stream frame may carry that the classifier looks at, borrowed from the
/// frame (one pass, no `serde_json::Value`); the order `o` and a combined stream's `data`
/// stay raw until they are needed.
///
/// `O` is how the order `o` is read: raw (`&RawValue`, read when needed) or typed with the
/// frame ([`OrderRef`], the one-pass hot path of [`parse_market_text`]).
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "O: Deserialize<'de>"))]
struct Frame<'a, O = &'a RawValue> {
    #[serde(default, borrow)]
    e: Option<Text<'a>>,
    #[serde(rename = "E", default, borrow)]
    event_time: Option<&'a RawValue>,
    #[serde(default)]
    o: Option<O>,
    #[serde(default, borrow)]
    stream: Option<&'a RawValue>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
    #[serde(default, borrow)]
    id: Option<&'a RawValue>,
    #[serde(default, deserialize_with = "null_flag")]
    result: Option<bool>,
    #[serde(default, borrow)]
    error: Option<&'a RawValue>,
    #[serde(default, borrow)]
    code: Option<&'a RawValue>,
    #[serde(default, borrow)]
    msg: Option<&'a RawValue>,
}

/// The order of a `forceOrder` event, borrowed (see [`ForceOrder`] for the fields).
#[derive(Debug, Deserialize)]
struct OrderRef<'a> {
    #[serde(rename = "s", default, borrow)]
    symbol: Option<Text<'a>>,
    #[serde(rename = "S", default, borrow)]
    side: Option<Text<'a>>,
    #[serde(rename = "q", default, borrow)]
    quantity: Option<&'a RawValue>,
    #[serde(rename = "p", default, borrow)]
    price: Option<&'a RawValue>,
    #[serde(rename = "ap", default, borrow)]
    average_price: Option<&'a RawValue>,
    #[serde(rename = "z", default, borrow)]
    filled: Option<&'a RawValue>,
    #[serde(rename = "T", default, borrow)]
    trade_time: Option<&'a RawValue>,
}

/// The order of a frame, raw or already read.
trait OrderField<'a> {
    /// The order, read.
    fn read(self) -> Result<OrderRef<'a>, serde_json::Error>;
}

impl<'a> OrderField<'a> for &'a RawValue {
    fn read(self) -> Result<OrderRef<'a>, serde_json::Error> {
        serde_json::from_str(self.get())
    }
}

impl<'a> OrderField<'a> for OrderRef<'a> {
    fn read(self) -> Result<OrderRef<'a>, serde_json::Error> {
        Ok(self)
    }
}

/// The code and message of an error answer.
#[derive(Debug, Deserialize)]
struct ErrorRef<'a> {
    #[serde(default, borrow)]
    code: Option<&'a RawValue>,
    #[serde(default, borrow)]
    msg: Option<&'a RawValue>,
}

/// What a market-stream connection carrying liquidation streams receives, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum MarketMessage {
    /// A `forceOrder` event (raw or in a combined-stream wrapper).
    Liquidation(Liquidation),
    /// `{"result": null, "id": N}`: the SUBSCRIBE frame with id `N` was accepted.
    SubscribeAck {
        /// The id of the accepted frame.
        id: u64,
    },
    /// An error answer, `{"error": {"code": 2, "msg": "…"}, "id": N}` or
    /// `{"code": 2, "msg": "…", "id": N}`: the frame with id `N` was refused.
    Error {
        /// The id of the refused frame, when the server names it.
        id: Option<u64>,
        /// Binance's error code, as text.
        code: String,
        /// Binance's message.
        message: String,
    },
    /// Anything else: another stream's event, the answer to a request other than SUBSCRIBE.
    Other,
}

/// Classifies one text frame of a liquidation connection. Only a frame that is not JSON, or a
/// `forceOrder` event that cannot be read, is an error ([`FetchError::Malformed`]).
///
/// Bytes that are UTF-8 are read by [`parse_market_text`].
pub fn parse_market_message(bytes: &[u8], ts_init: u64) -> Result<MarketMessage, FetchError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_market_text(text, ts_init),
        Err(_) => classify(
            serde_json::from_slice::<Frame>(bytes)
                .map_err(|e| FetchError::malformed(VENUE, WHAT, e))?,
            ts_init,
        ),
    }
}

/// What a frame of a liquidation connection is called in errors.
const WHAT: &str = "market stream message";

/// [`parse_market_message`] on a text frame (its UTF-8 is not checked again). One borrowing
/// pass reads the keys that tell the kinds apart and the order with them; a frame whose order
/// has a surprise in it is read again with the order raw, so the error names what is wrong.
pub fn parse_market_text(text: &str, ts_init: u64) -> Result<MarketMessage, FetchError> {
    if let Ok(frame) = serde_json::from_str::<Frame<OrderRef>>(text) {
        return classify(frame, ts_init);
    }
    classify(
        serde_json::from_str::<Frame>(text).map_err(|e| FetchError::malformed(VENUE, WHAT, e))?,
        ts_init,
    )
}

/// Classifies a read frame.
fn classify<'a, O: OrderField<'a>>(
    frame: Frame<'a, O>,
    ts_init: u64,
) -> Result<MarketMessage, FetchError> {
    let what = WHAT;
    // A non-integer id is no id (as before: only a whole number names a frame).
    let id = u64_of(frame.id).ok().flatten();
    if let Some((code, message)) = error_of(&frame) {
        return Ok(MarketMessage::Error { id, code, message });
    }
    if let (Some(id), Some(null)) = (id, frame.result) {
        return Ok(if null {
            MarketMessage::SubscribeAck { id }
        } else {
            MarketMessage::Other
        });
    }
    if frame.stream.is_some()
        && let Some(data) = frame.data
    {
        if let Ok(inner) = serde_json::from_str::<Frame<OrderRef>>(data.get()) {
            return event(inner, ts_init);
        }
        return match serde_json::from_str::<Frame>(data.get()) {
            Ok(inner) => event(inner, ts_init),
            // A `data` that is not an object carries no event.
            Err(_) if !data.get().starts_with('{') => Ok(MarketMessage::Other),
            Err(e) => Err(FetchError::malformed(VENUE, what, e)),
        };
    }
    event(frame, ts_init)
}

/// The `forceOrder` event of a frame (raw or out of its wrapper), or `Other`.
fn event<'a, O: OrderField<'a>>(
    frame: Frame<'a, O>,
    ts_init: u64,
) -> Result<MarketMessage, FetchError> {
    if frame.e.as_ref().map(Text::as_str) != Some(FORCE_ORDER) {
        return Ok(MarketMessage::Other);
    }
    force_order_liquidation(frame.o, frame.event_time, ts_init).map(MarketMessage::Liquidation)
}

/// The (code, message) of an error answer, if `frame` is one: an `error` object, or `code`
/// and `msg` side by side. A code is kept as sent (`2`, `"-1121"`).
fn error_of<O>(frame: &Frame<'_, O>) -> Option<(String, String)> {
    let (code, msg) = match frame.error {
        Some(error) if error.get().starts_with('{') => {
            let body: ErrorRef = serde_json::from_str(error.get()).ok()?;
            (body.code, body.msg)
        }
        _ if frame.code.is_some() && frame.msg.is_some() => (frame.code, frame.msg),
        _ => return None,
    };
    let code = match code {
        Some(raw) => match scalar_text(Some(raw)) {
            Ok(Some(text)) if raw.get().starts_with('"') => text.into_owned(),
            _ => raw.get().to_string(),
        },
        None => "?".to_string(),
    };
    let message = msg
        .filter(|m| m.get().starts_with('"'))
        .and_then(|m| serde_json::from_str::<String>(m.get()).ok())
        .unwrap_or_else(|| "(no message)".to_string());
    Some((code, message))
}

/// The instrument names of Binance symbols, computed once per symbol.
static INSTRUMENTS: InstrumentCache = InstrumentCache::new(VENUE);

/// The liquidation of the order `o` of a `forceOrder` event sent at `event_time`.
fn force_order_liquidation<'a, O: OrderField<'a>>(
    o: Option<O>,
    event_time: Option<&'a RawValue>,
    ts_init: u64,
) -> Result<Liquidation, FetchError> {
    let what = FORCE_ORDER;
    let bad = |detail: &dyn std::fmt::Display| FetchError::malformed(VENUE, what, detail);
    let number = |field: &str, e: BadScalar| bad(&format_args!("{field}: {e}"));
    let o = o.ok_or_else(|| bad(&"o (the order) is missing"))?;
    let o: OrderRef = o.read().map_err(|e| bad(&e))?;
    let symbol = o
        .symbol
        .as_ref()
        .ok_or_else(|| bad(&"s (symbol) is missing"))?
        .as_str();
    let instrument_id = INSTRUMENTS
        .id(symbol)
        .ok_or_else(|| bad(&format_args!("symbol '{symbol}' cannot be named")))?;
    let order_side = o.side.ok_or_else(|| bad(&"S (side) is missing"))?;
    let side = match order_side.as_str() {
        "SELL" => PositionSide::Long,
        "BUY" => PositionSide::Short,
        other => {
            return Err(bad(&format_args!("side '{other}' is neither BUY nor SELL")));
        }
    };
    let filled = f64_of(o.filled).map_err(|e| number("z", e))?;
    let original = f64_of(o.quantity).map_err(|e| number("q", e))?;
    let quantity = filled
        .filter(|q| *q > 0.0)
        .or(original)
        .ok_or_else(|| bad(&"z and q (quantity) are missing"))?;
    let average = f64_of(o.average_price).map_err(|e| number("ap", e))?;
    let limit = f64_of(o.price).map_err(|e| number("p", e))?;
    let price = average
        .filter(|p| *p > 0.0)
        .or(limit)
        .ok_or_else(|| bad(&"ap and p (price) are missing"))?;
    let time = match u64_of(o.trade_time).map_err(|e| number("T", e))? {
        Some(t) => t,
        None => u64_of(event_time)
            .map_err(|e| number("E", e))?
            .ok_or_else(|| bad(&"T and E (time) are missing"))?,
    };
    Ok(Liquidation {
        instrument_id,
        side,
        order_side: order_side.0.into_owned(),
        quantity,
        price,
        value: quantity * price,
        source: LiquidationSource::Ws,
        method: None,
        trade_id: None,
        ts_event: ms_to_ns(time),
        ts_init,
    })
}

/// Parses a `markPrice` event: one object (`<symbol>@markPrice`) or an array
/// (`!markPrice@arr`).
pub fn parse_mark_price(bytes: &[u8]) -> Result<Vec<MarkPriceUpdate>, FetchError> {
    decode::<OneOrMany<MarkPriceUpdate>>("markPriceUpdate", bytes).map(OneOrMany::into_vec)
}

/// The funding estimate a mark-price update carries. The stream does not carry the funding
/// interval; pass the one from `fundingInfo`.
pub fn mark_price_snapshot(
    update: &MarkPriceUpdate,
    interval_minutes: Option<u16>,
    ts_init: u64,
) -> Result<FundingSnapshot, FetchError> {
    let bad = |detail: &str| FetchError::malformed(VENUE, "markPriceUpdate", detail);
    let symbol = update
        .symbol
        .as_deref()
        .ok_or_else(|| bad("s (symbol) is missing"))?;
    let instrument =
        instrument(symbol).ok_or_else(|| bad(&format!("symbol '{symbol}' cannot be named")))?;
    let text = update
        .funding_rate
        .as_deref()
        .ok_or_else(|| bad("r (funding rate) is missing"))?;
    let rate = decimal(text).ok_or_else(|| bad(&format!("r '{text}' is not a decimal")))?;
    let next = update
        .next_funding_time
        .filter(|t| *t > 0)
        .ok_or_else(|| bad("T (next funding time) is missing"))?;
    let time = update
        .event_time
        .ok_or_else(|| bad("E (event time) is missing"))?;
    Ok(FundingSnapshot {
        funding: FundingRate {
            instrument_id: instrument.id.clone(),
            rate,
            interval_minutes,
            next_funding_ns: Some(ms_to_ns(next)),
            ts_event: ms_to_ns(time),
            ts_init,
        },
        prices: SnapshotPrices::new(
            &instrument.id,
            update.mark_price,
            update.index_price,
            ms_to_ns(time),
            ts_init,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/", $name))
        };
    }

    #[test]
    fn force_order_fixture_is_a_long_liquidation() {
        let liq = parse_force_order(fixture!("ws_force_order.json").as_bytes(), 5).expect("parses");
        assert_eq!(liq.instrument_id.as_str(), "BTCUSDT-PERP.BINANCE");
        assert_eq!(liq.side, PositionSide::Long);
        assert_eq!(liq.order_side, "SELL");
        assert_eq!((liq.quantity, liq.price), (0.014, 9910.0));
        assert!((liq.value - 138.74).abs() < 1e-9);
        assert_eq!(liq.source, LiquidationSource::Ws);
        assert_eq!((liq.ts_event, liq.ts_init), (1_568_014_460_893_000_000, 5));
    }

    #[test]
    fn a_force_order_is_read_in_one_typed_pass_and_a_surprise_again_raw() {
        let frame = fixture!("ws_force_order.json");
        let typed: Frame<OrderRef> = serde_json::from_str(frame).expect("one typed pass");
        assert!(typed.o.is_some_and(|o| o.symbol.is_some()));
        let raw = serde_json::from_str::<Frame>(frame).map(|f| classify(f, 5));
        assert_eq!(raw.ok(), Some(parse_market_text(frame, 5)));
        assert_eq!(
            parse_market_message(frame.as_bytes(), 5),
            parse_market_text(frame, 5)
        );
        let combined = format!(r#"{{"stream":"btcusdt@forceOrder","data":{frame}}}"#);
        assert_eq!(parse_market_text(&combined, 5), parse_market_text(frame, 5));
        // An order of the wrong shape fails the typed pass; the raw read names the problem.
        let bad = r#"{"e":"forceOrder","E":1,"o":{"s":["BTCUSDT"],"S":"SELL","q":"1","p":"1"}}"#;
        assert!(serde_json::from_str::<Frame<OrderRef>>(bad).is_err());
        let e = parse_market_text(bad, 0).unwrap_err().to_string();
        assert!(
            e.contains("forceOrder") && e.contains("invalid type"),
            "{e}"
        );
        // Another event whose `o` is no order is still just another event.
        let other = r#"{"e":"somethingElse","o":[1,2]}"#;
        assert_eq!(parse_market_text(other, 0), Ok(MarketMessage::Other));
    }

    #[test]
    fn force_order_variants_combined_numbers_unfilled_and_bad_side() {
        let combined = format!(
            r#"{{"stream":"btcusdt@forceOrder","data":{}}}"#,
            fixture!("ws_force_order.json")
        );
        assert_eq!(
            parse_force_order(combined.as_bytes(), 5),
            parse_force_order(fixture!("ws_force_order.json").as_bytes(), 5)
        );
        let numbers = r#"{"e":"forceOrder","E":2,"o":{"s":"ETHUSDT","S":"BUY","q":2,"p":10,"ap":0,"z":0,"T":1}}"#;
        let liq = parse_force_order(numbers.as_bytes(), 0).expect("parses");
        assert_eq!(
            (liq.side, liq.quantity, liq.price, liq.ts_event),
            (PositionSide::Short, 2.0, 10.0, 1_000_000)
        );
        let bad = r#"{"o":{"s":"ETHUSDT","S":"HOLD","q":"1","p":"1","T":1}}"#;
        assert!(
            parse_force_order(bad.as_bytes(), 0)
                .unwrap_err()
                .to_string()
                .contains("HOLD")
        );
    }

    #[test]
    fn mark_price_fixtures_single_and_array() {
        let one = parse_mark_price(fixture!("ws_mark_price.json").as_bytes()).expect("parses");
        let arr = parse_mark_price(fixture!("ws_mark_price_arr.json").as_bytes()).expect("parses");
        assert_eq!((one.len(), arr.len()), (1, 1));
        let snap = mark_price_snapshot(&one[0], Some(480), 9).expect("snapshot");
        assert_eq!(snap.funding.rate.to_string(), "0.00038167");
        assert_eq!(
            snap.funding.next_funding_ns,
            Some(1_562_306_400_000_000_000)
        );
        assert_eq!(snap.funding.ts_event, 1_562_305_380_000_000_000);
        let prices = &snap.prices;
        assert_eq!(
            prices.mark.as_ref().map(|m| m.value.to_string()),
            Some("11794.15000000".into())
        );
        assert_eq!(
            prices.index.as_ref().map(|i| i.value.to_string()),
            Some("11784.62659091".into())
        );
        assert_eq!(
            prices.mark.as_ref().map(|m| (m.ts_event, m.ts_init)),
            Some((1_562_305_380_000_000_000, 9))
        );
        assert_eq!(arr[0].funding_rate.as_deref(), Some("0.00030000"));
        let no_rate = r#"{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"1","r":"","T":2}"#;
        let update = &parse_mark_price(no_rate.as_bytes()).expect("parses")[0];
        assert!(mark_price_snapshot(update, None, 0).is_err());
    }

    #[test]
    fn side_mapping_sell_liquidates_a_long_buy_a_short() {
        // `S` is the side of the liquidation order: the venue sells a long position away and
        // buys a short one back.
        let event = |side: &str| {
            format!(
                r#"{{"e":"forceOrder","E":2,"o":{{"s":"BTCUSDT","S":"{side}","q":"1","p":"10","ap":"10","z":"1","T":1}}}}"#
            )
        };
        let sell = parse_force_order(event("SELL").as_bytes(), 0).expect("parses");
        let buy = parse_force_order(event("BUY").as_bytes(), 0).expect("parses");
        assert_eq!(
            (sell.side, sell.order_side.as_str()),
            (PositionSide::Long, "SELL")
        );
        assert_eq!(
            (buy.side, buy.order_side.as_str()),
            (PositionSide::Short, "BUY")
        );
    }

    #[test]
    fn market_messages_are_classified() {
        let fixture = fixture!("ws_force_order.json");
        assert_eq!(
            parse_market_message(fixture.as_bytes(), 5),
            parse_force_order(fixture.as_bytes(), 5).map(MarketMessage::Liquidation)
        );
        let combined = format!(r#"{{"stream":"!forceOrder@arr","data":{fixture}}}"#);
        assert!(matches!(
            parse_market_message(combined.as_bytes(), 5),
            Ok(MarketMessage::Liquidation(_))
        ));
        assert_eq!(
            parse_market_message(br#"{"result":null,"id":7}"#, 0),
            Ok(MarketMessage::SubscribeAck { id: 7 })
        );
        assert_eq!(
            parse_market_message(br#"{"result":["btcusdt@forceOrder"],"id":8}"#, 0),
            Ok(MarketMessage::Other)
        );
        assert_eq!(
            parse_market_message(
                br#"{"error":{"code":2,"msg":"Invalid request: unknown stream"},"id":3}"#,
                0
            ),
            Ok(MarketMessage::Error {
                id: Some(3),
                code: "2".into(),
                message: "Invalid request: unknown stream".into()
            })
        );
        assert_eq!(
            parse_market_message(br#"{"code":1,"msg":"Invalid value type","id":4}"#, 0),
            Ok(MarketMessage::Error {
                id: Some(4),
                code: "1".into(),
                message: "Invalid value type".into()
            })
        );
        let mark = fixture!("ws_mark_price.json");
        assert_eq!(
            parse_market_message(mark.as_bytes(), 0),
            Ok(MarketMessage::Other)
        );
        for bad in [
            &b"not json"[..],
            br#"{"e":"forceOrder","E":1,"o":{"S":"SELL"}}"#,
        ] {
            assert!(matches!(
                parse_market_message(bad, 0),
                Err(FetchError::Malformed { .. })
            ));
        }
    }

    #[test]
    fn typed_parser_tolerates_shapes_and_rejects_garbage_without_panicking() {
        let fixture = fixture!("ws_force_order.json").as_bytes();
        // Every cut of a frame is classified or refused, never a panic.
        for cut in 0..fixture.len() {
            let _ = parse_market_message(&fixture[..cut], 0);
        }
        // Unknown fields ignored, numbers as numbers or strings, "" and null as missing,
        // escapes in strings.
        let tolerant = r#"{"x":{"y":[1,"o"]},"e":"forceOrder","E":"2","o":{"s":"BTC\u0055SDT","S":"SELL","q":0.5,"p":"10","ap":"","z":null,"T":"7","new":true}}"#;
        let Ok(MarketMessage::Liquidation(liq)) = parse_market_message(tolerant.as_bytes(), 1)
        else {
            panic!("{tolerant}");
        };
        assert_eq!(liq.instrument_id.as_str(), "BTCUSDT-PERP.BINANCE");
        assert_eq!(
            (liq.quantity, liq.price, liq.ts_event),
            (0.5, 10.0, 7_000_000)
        );
        // No T: the event time.
        let no_t = r#"{"e":"forceOrder","E":9,"o":{"s":"ETHUSDT","S":"BUY","q":"1","p":"2"}}"#;
        assert!(matches!(
            parse_market_message(no_t.as_bytes(), 0),
            Ok(MarketMessage::Liquidation(l)) if l.ts_event == 9_000_000
        ));
        // Malformed: a bad number names its field, a missing or odd order is refused.
        for (bad, says) in [
            (
                r#"{"e":"forceOrder","o":{"s":"ETHUSDT","S":"BUY","q":"abc","p":"2","T":1}}"#,
                "q: 'abc' is not a number",
            ),
            (
                r#"{"e":"forceOrder","o":{"s":"ETHUSDT","S":"BUY","q":"1","p":[2],"T":1}}"#,
                "p: [2] is not a number or a string",
            ),
            (
                r#"{"e":"forceOrder","o":{"s":"ETHUSDT","S":"BUY","q":"1","p":"2","T":-1}}"#,
                "T: '-1' is not a whole number",
            ),
            (r#"{"e":"forceOrder","E":1}"#, "o (the order) is missing"),
            (r#"{"e":"forceOrder","o":5}"#, "invalid type"),
            (
                r#"{"e":"forceOrder","o":{"s":"btc usdt","S":"BUY","q":"1","p":"2","T":1}}"#,
                "cannot be named",
            ),
        ] {
            match parse_market_message(bad.as_bytes(), 0) {
                Err(e @ FetchError::Malformed { .. }) => {
                    assert!(e.to_string().contains(says), "{bad}: {e}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        // A combined wrapper whose data is no event carries nothing.
        assert_eq!(
            parse_market_message(br#"{"stream":"x","data":5}"#, 0),
            Ok(MarketMessage::Other)
        );
    }

    #[test]
    fn connection_url_and_shards() {
        assert_eq!(
            connection_url("wss://fstream.binance.com/market"),
            "wss://fstream.binance.com/market/ws"
        );
        assert_eq!(
            connection_url("ws://127.0.0.1:9/market/"),
            "ws://127.0.0.1:9/market/ws"
        );
        let streams: Vec<String> = (0..450)
            .map(|i| force_order_stream(&format!("S{i}USDT")))
            .collect();
        let shards = shard_streams(&streams, MAX_STREAMS_PER_CONNECTION);
        let sizes: Vec<usize> = shards.iter().map(Vec::len).collect();
        assert_eq!(sizes, [200, 200, 50]);
        assert_eq!(shards.concat(), streams, "order kept, nothing lost");
        assert!(shard_streams(&[], 200).is_empty());
        assert_eq!(
            shard_streams(&streams[..3], 0).len(),
            3,
            "a zero limit means one each"
        );
    }

    #[test]
    fn stream_names_and_subscribe_frames() {
        assert_eq!(force_order_stream("BTCUSDT"), "btcusdt@forceOrder");
        let frame = subscribe_frame(
            &[
                force_order_stream("BTCUSDT"),
                ALL_FORCE_ORDERS_STREAM.into(),
            ],
            1,
        );
        assert_eq!(
            frame.to_string(),
            r#"{"id":1,"method":"SUBSCRIBE","params":["btcusdt@forceOrder","!forceOrder@arr"]}"#
        );
    }
}
