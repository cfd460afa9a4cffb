//! Pure parsers and frames of the Bybit public linear stream, the connection facts a socket
//! loop needs (ping period, the per-connection `args` limit and sharding by it) and the
//! classifier of every message a liquidation connection receives ([`parse_public_message`]).

use ccxt_model::{Liquidation, LiquidationSource, PositionSide, Venue};
use ccxt_venue::FetchError;
use ccxt_venue::convert::ms_to_ns;
use serde::Deserialize;

use ccxt_venue::borrowed::{
    BadScalar, InstrumentCache, RawValue, Text, f64_of, f64_of_str, u64_of,
};

#[cfg(doc)]
use super::messages::AllLiquidation;
use super::messages::{ControlMessage, LegacyLiquidation, TopicMessage};
use crate::http::models::Ticker;

const VENUE: Venue = crate::VENUE;

/// How often to send [`ping_frame`] (Bybit recommends every 20 s).
pub const PING_INTERVAL_SECS: u64 = 20;

/// The most characters the `args` of one public connection may add up to ("for one public
/// connection, you cannot have length of 'args' array over 21,000 characters").
pub const MAX_ARGS_CHARS: usize = 21_000;

/// The characters `topics` take as a JSON `args` array (`["a","b"]`: brackets, quotes and
/// commas included), the conservative reading of Bybit's limit.
pub fn args_chars(topics: &[String]) -> usize {
    // Topics are plain ASCII names; quotes and commas add 3 per topic, brackets 2 (an empty
    // array is `[]`, 2 characters).
    2 + topics.iter().map(|t| t.len() + 3).sum::<usize>() - usize::from(!topics.is_empty())
}

/// Splits `topics` into groups whose [`args_chars`] stay within `max_chars`, in order: one
/// group per connection. A topic longer than `max_chars` on its own gets a group of its own
/// (Bybit will refuse it, and says so).
pub fn shard_topics(topics: &[String], max_chars: usize) -> Vec<Vec<String>> {
    let mut shards: Vec<Vec<String>> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut chars = 2; // `[]`
    for topic in topics {
        let extra = topic.len() + 2 + usize::from(!current.is_empty());
        if !current.is_empty() && chars + extra > max_chars {
            shards.push(std::mem::take(&mut current));
            chars = 2;
        }
        chars += topic.len() + 2 + usize::from(!current.is_empty());
        current.push(topic.clone());
    }
    if !current.is_empty() {
        shards.push(current);
    }
    shards
}

/// What a public connection carrying liquidation topics receives, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum PublicMessage {
    /// An `allLiquidation` message (possibly empty).
    Liquidations(Vec<Liquidation>),
    /// `{"op":"subscribe","success":true,…}`: a subscribe frame was accepted.
    SubscribeAck,
    /// `{"op":"subscribe","success":false,"ret_msg":"…"}`: a subscribe frame was refused.
    SubscribeRejected {
        /// Bybit's `ret_msg`.
        message: String,
    },
    /// The answer to [`ping_frame`] (`"op":"ping"` with `ret_msg` `pong`, or `"op":"pong"`).
    Pong,
    /// Anything else: another topic, an answer to another operation.
    Other,
}

/// Classifies one text frame of a public connection. Only a frame that is not JSON, or an
/// `allLiquidation` message that cannot be read, is an error ([`FetchError::Malformed`]).
///
/// One borrowing pass over the frame (no `serde_json::Value`): the keys that tell the kinds
/// apart, with `data` kept raw until it is read as liquidations.
///
/// Bytes that are UTF-8 are read by [`parse_public_text`].
pub fn parse_public_message(bytes: &[u8], ts_init: u64) -> Result<PublicMessage, FetchError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_public_text(text, ts_init),
        Err(_) => classify(decode::<Frame>(WHAT, bytes)?, ts_init),
    }
}

/// What a frame of a public connection is called in errors.
const WHAT: &str = "public stream message";

/// [`parse_public_message`] on a text frame (its UTF-8 is not checked again). A liquidation
/// frame is read in one pass with its `data` typed; a frame that does not read so is read
/// again with `data` raw.
pub fn parse_public_text(text: &str, ts_init: u64) -> Result<PublicMessage, FetchError> {
    if let Ok(frame) = serde_json::from_str::<Frame<Vec<LiquidationStr>>>(text) {
        return classify(frame, ts_init);
    }
    classify(
        serde_json::from_str::<Frame>(text).map_err(|e| FetchError::malformed(VENUE, WHAT, e))?,
        ts_init,
    )
}

/// Classifies a read frame.
fn classify<'a, D: DataField<'a>>(
    frame: Frame<'a, D>,
    ts_init: u64,
) -> Result<PublicMessage, FetchError> {
    if let Some(topic) = &frame.topic {
        return Ok(if topic.as_str().starts_with("allLiquidation.") {
            PublicMessage::Liquidations(all_liquidation_rows(frame.data, frame.ts, ts_init)?)
        } else {
            PublicMessage::Other
        });
    }
    let Some(op) = &frame.op else {
        return Ok(PublicMessage::Other);
    };
    let ret_msg = frame.ret_msg.as_ref().map(Text::as_str);
    Ok(match op.as_str() {
        "subscribe" if frame.success == Some(true) => PublicMessage::SubscribeAck,
        "subscribe" => PublicMessage::SubscribeRejected {
            message: ret_msg
                .filter(|m| !m.is_empty())
                .unwrap_or("subscription refused (no message)")
                .to_string(),
        },
        "pong" => PublicMessage::Pong,
        "ping" if ret_msg == Some("pong") => PublicMessage::Pong,
        _ => PublicMessage::Other,
    })
}

/// The keys of a public-stream frame the classifier looks at, borrowed from the frame. `D` is
/// how `data` is read: raw (`&RawValue`, read when needed) or as liquidations with the frame
/// (`Vec<LiquidationStr>`, the one-pass hot path of [`parse_public_text`]).
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "D: Deserialize<'de>"))]
struct Frame<'a, D = &'a RawValue> {
    #[serde(default, borrow)]
    topic: Option<Text<'a>>,
    #[serde(default, borrow)]
    op: Option<Text<'a>>,
    #[serde(default)]
    success: Option<bool>,
    #[serde(default, borrow)]
    ret_msg: Option<Text<'a>>,
    #[serde(default, borrow)]
    ts: Option<&'a RawValue>,
    #[serde(default)]
    data: Option<D>,
}

/// The `data` of a frame, raw or already read as liquidations.
trait DataField<'a> {
    /// How one liquidation was read.
    type Item: Item;
    /// The liquidations: an array of them (or one).
    fn items(self) -> Result<Vec<Self::Item>, serde_json::Error>;
}

impl<'a> DataField<'a> for &'a RawValue {
    type Item = LiquidationRef<'a>;

    fn items(self) -> Result<Vec<LiquidationRef<'a>>, serde_json::Error> {
        if self.get().starts_with('[') {
            serde_json::from_str(self.get())
        } else {
            Ok(vec![serde_json::from_str(self.get())?])
        }
    }
}

impl<'a> DataField<'a> for Vec<LiquidationStr<'a>> {
    type Item = LiquidationStr<'a>;

    fn items(self) -> Result<Vec<LiquidationStr<'a>>, serde_json::Error> {
        Ok(self)
    }
}

/// What is read of one liquidation, however it was read.
trait Item {
    /// `s`.
    fn symbol(&self) -> Option<&str>;
    /// `S`.
    fn side(&self) -> Option<&str>;
    /// `v`.
    fn size(&self) -> Result<Option<f64>, BadScalar>;
    /// `p`.
    fn price(&self) -> Result<Option<f64>, BadScalar>;
    /// `T`.
    fn time(&self) -> Result<Option<u64>, BadScalar>;
}

impl Item for LiquidationRef<'_> {
    fn symbol(&self) -> Option<&str> {
        self.symbol.as_ref().map(Text::as_str)
    }

    fn side(&self) -> Option<&str> {
        self.side.as_ref().map(Text::as_str)
    }

    fn size(&self) -> Result<Option<f64>, BadScalar> {
        f64_of(self.size)
    }

    fn price(&self) -> Result<Option<f64>, BadScalar> {
        f64_of(self.price)
    }

    fn time(&self) -> Result<Option<u64>, BadScalar> {
        u64_of(self.time)
    }
}

/// One liquidation of `allLiquidation` as Bybit sends it: `T` a whole JSON number, the rest
/// plain strings, borrowed (the one-pass hot path; anything else fails it, and the frame is
/// read again with [`LiquidationRef`]).
#[derive(Debug, Deserialize)]
struct LiquidationStr<'a> {
    #[serde(rename = "T", default)]
    time: Option<u64>,
    #[serde(rename = "s", default, borrow)]
    symbol: Option<&'a str>,
    #[serde(rename = "S", default, borrow)]
    side: Option<&'a str>,
    #[serde(rename = "v", default, borrow)]
    size: Option<&'a str>,
    #[serde(rename = "p", default, borrow)]
    price: Option<&'a str>,
}

impl Item for LiquidationStr<'_> {
    fn symbol(&self) -> Option<&str> {
        self.symbol
    }

    fn side(&self) -> Option<&str> {
        self.side
    }

    fn size(&self) -> Result<Option<f64>, BadScalar> {
        f64_of_str(self.size)
    }

    fn price(&self) -> Result<Option<f64>, BadScalar> {
        f64_of_str(self.price)
    }

    fn time(&self) -> Result<Option<u64>, BadScalar> {
        Ok(self.time)
    }
}

/// One liquidation of `allLiquidation`, borrowed (see [`AllLiquidation`] for the fields).
#[derive(Debug, Deserialize)]
struct LiquidationRef<'a> {
    #[serde(rename = "T", default, borrow)]
    time: Option<&'a RawValue>,
    #[serde(rename = "s", default, borrow)]
    symbol: Option<Text<'a>>,
    #[serde(rename = "S", default, borrow)]
    side: Option<Text<'a>>,
    #[serde(rename = "v", default, borrow)]
    size: Option<&'a RawValue>,
    #[serde(rename = "p", default, borrow)]
    price: Option<&'a RawValue>,
}

/// The instrument names of Bybit symbols, computed once per symbol.
static INSTRUMENTS: InstrumentCache = InstrumentCache::new(VENUE);

/// The liquidations of an `allLiquidation` frame: `data` is an array of them (or one); `ts`
/// is the frame's time.
fn all_liquidation_rows<'a, D: DataField<'a>>(
    data: Option<D>,
    ts: Option<&'a RawValue>,
    ts_init: u64,
) -> Result<Vec<Liquidation>, FetchError> {
    let what = "allLiquidation";
    let bad = |detail: &dyn std::fmt::Display| FetchError::malformed(VENUE, what, detail);
    let data = data.ok_or_else(|| bad(&"data is missing"))?;
    let items = data.items().map_err(|e| bad(&e))?;
    let number = |field: &str, e: BadScalar| bad(&format_args!("{field}: {e}"));
    let mut rows = Vec::with_capacity(items.len());
    let mut last: Option<(&str, ccxt_model::InstrumentId)> = None;
    for l in &items {
        let symbol = l.symbol().ok_or_else(|| bad(&"s (symbol) is missing"))?;
        // The liquidations of a frame are mostly of one symbol: named once.
        let instrument_id = match &last {
            Some((named, id)) if *named == symbol => id.clone(),
            _ => {
                let id = INSTRUMENTS
                    .id(symbol)
                    .ok_or_else(|| bad(&format_args!("symbol '{symbol}' cannot be named")))?;
                last = Some((symbol, id.clone()));
                id
            }
        };
        let (side, order_side) = match l.side() {
            Some("Buy") => (PositionSide::Long, "Buy"),
            Some("Sell") => (PositionSide::Short, "Sell"),
            Some(other) => {
                return Err(bad(&format_args!("side '{other}' is neither Buy nor Sell")));
            }
            None => return Err(bad(&"S (side) is missing")),
        };
        let quantity = l
            .size()
            .map_err(|e| number("v", e))?
            .ok_or_else(|| bad(&"v (size) is missing"))?;
        let price = l
            .price()
            .map_err(|e| number("p", e))?
            .ok_or_else(|| bad(&"p (price) is missing"))?;
        let time = match l.time().map_err(|e| number("T", e))? {
            Some(t) => t,
            None => u64_of(ts)
                .map_err(|e| number("ts", e))?
                .ok_or_else(|| bad(&"T (time) is missing"))?,
        };
        rows.push(Liquidation {
            instrument_id,
            side,
            order_side: order_side.to_string(),
            quantity,
            price,
            value: quantity * price,
            source: LiquidationSource::Ws,
            method: None,
            trade_id: None,
            ts_event: ms_to_ns(time),
            ts_init,
        });
    }
    Ok(rows)
}

/// The liquidation topic of one symbol (`allLiquidation.BTCUSDT`).
pub fn all_liquidation_topic(symbol: &str) -> String {
    format!("allLiquidation.{symbol}")
}

/// The ticker topic of one symbol (`tickers.BTCUSDT`).
pub fn ticker_topic(symbol: &str) -> String {
    format!("tickers.{symbol}")
}

/// The frame that subscribes to `topics`.
pub fn subscribe_frame(topics: &[String], req_id: &str) -> serde_json::Value {
    serde_json::json!({ "req_id": req_id, "op": "subscribe", "args": topics })
}

/// The application-level ping.
pub fn ping_frame(req_id: &str) -> serde_json::Value {
    serde_json::json!({ "req_id": req_id, "op": "ping" })
}

fn decode<'a, T: Deserialize<'a>>(what: &str, bytes: &'a [u8]) -> Result<T, FetchError> {
    serde_json::from_slice(bytes).map_err(|e| FetchError::malformed(VENUE, what, e))
}

/// Parses an `allLiquidation` message into liquidations received at `ts_init`. `S` = `Buy`
/// means a long position was liquidated; the price is the bankruptcy price; value = size ×
/// price.
pub fn parse_all_liquidation(bytes: &[u8], ts_init: u64) -> Result<Vec<Liquidation>, FetchError> {
    let frame: Frame = decode("allLiquidation", bytes)?;
    all_liquidation_rows(frame.data, frame.ts, ts_init)
}

/// Parses a deprecated `liquidation.{symbol}` message (model only; see [`LegacyLiquidation`]).
pub fn parse_legacy_liquidation(
    bytes: &[u8],
) -> Result<TopicMessage<LegacyLiquidation>, FetchError> {
    decode("liquidation", bytes)
}

/// Parses a `tickers.{symbol}` message. A `snapshot` converts with
/// [`ticker_open_interest`](crate::http::parse::ticker_open_interest) /
/// [`ticker_funding`](crate::http::parse::ticker_funding) (`ts` is the event time); a `delta`
/// must first be merged into the last snapshot.
pub fn parse_ticker(bytes: &[u8]) -> Result<TopicMessage<Ticker>, FetchError> {
    decode("tickers", bytes)
}

/// Parses the answer to a `subscribe` or `ping` frame.
pub fn parse_control(bytes: &[u8]) -> Result<ControlMessage, FetchError> {
    decode("control", bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse::{instrument, ticker_funding, ticker_open_interest};

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/", $name))
        };
    }

    #[test]
    fn typed_parser_tolerates_shapes_and_rejects_garbage_without_panicking() {
        let frame = br#"{"topic":"allLiquidation.ROSEUSDT","type":"snapshot","ts":1739502303204,"data":[{"T":1739502302929,"s":"ROSEUSDT","S":"Sell","v":"20000","p":"0.04499"}]}"#;
        for cut in 0..frame.len() {
            let _ = parse_public_message(&frame[..cut], 0);
        }
        // One object instead of an array, numbers as numbers, no T (the message's ts),
        // unknown fields.
        let one = br#"{"topic":"allLiquidation.ETHUSDT","ts":"5","extra":[{}],"data":{"s":"ETHUSDT","S":"Buy","v":1.5,"p":3000,"new":null}}"#;
        let Ok(PublicMessage::Liquidations(rows)) = parse_public_message(one, 2) else {
            panic!("one object");
        };
        assert_eq!(
            (
                rows.len(),
                rows[0].side,
                rows[0].quantity,
                rows[0].value,
                rows[0].ts_event
            ),
            (1, PositionSide::Long, 1.5, 4500.0, 5_000_000)
        );
        for (bad, says) in [
            (&br#"{"topic":"allLiquidation.X","data":[{"s":"ETHUSDT","S":"Buy","v":"x","p":"1","T":1}]}"#[..], "v: 'x' is not a number"),
            (br#"{"topic":"allLiquidation.X","data":[{"s":"ETHUSDT","S":"Buy","v":"1","p":"1"}]}"#, "T (time) is missing"),
            (br#"{"topic":"allLiquidation.X","data":[{"s":"ETHUSDT","S":"Hold","v":"1","p":"1","T":1}]}"#, "neither Buy nor Sell"),
            (br#"{"topic":"allLiquidation.X"}"#, "data is missing"),
            (br#"{"topic":"allLiquidation.X","data":[5]}"#, "invalid type"),
        ] {
            match parse_public_message(bad, 0) {
                Err(e @ FetchError::Malformed { .. }) => assert!(e.to_string().contains(says), "{e}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_liquidation_frame_is_read_in_one_typed_pass_and_a_surprise_again_raw() {
        let frame = fixture!("ws_all_liquidation.json");
        let typed: Frame<Vec<LiquidationStr>> =
            serde_json::from_str(frame).expect("one typed pass");
        assert_eq!(typed.data.map(|d| d.len()), Some(1));
        let raw = serde_json::from_str::<Frame>(frame).map(|f| classify(f, 3));
        assert_eq!(raw.ok(), Some(parse_public_text(frame, 3)));
        assert_eq!(
            parse_public_message(frame.as_bytes(), 3),
            parse_public_text(frame, 3)
        );
        // One object instead of an array fails the typed pass and reads raw.
        let one = r#"{"topic":"allLiquidation.ETHUSDT","ts":5,"data":{"s":"ETHUSDT","S":"Buy","v":"1","p":"2","T":1}}"#;
        assert!(serde_json::from_str::<Frame<Vec<LiquidationStr>>>(one).is_err());
        // Numbers as strings (or sizes as numbers) fail it too and read raw, to the same rows.
        let clean = r#"{"topic":"allLiquidation.ETHUSDT","ts":5,"data":[{"s":"ETHUSDT","S":"Buy","v":"1.5","p":"3000","T":1},{"s":"ETHUSDT","S":"Sell","v":" 2","p":"3001","T":2}]}"#;
        assert!(serde_json::from_str::<Frame<Vec<LiquidationStr>>>(clean).is_ok());
        let rows = parse_public_text(clean, 0);
        for odd in [
            clean.replace(r#""T":1"#, r#""T":"1""#),
            clean.replace(r#""v":"1.5""#, "\"v\":1.5"),
            clean.replace(r#""p":"3000""#, r#""p":"3\u0030\u0030\u0030""#),
        ] {
            assert!(
                serde_json::from_str::<Frame<Vec<LiquidationStr>>>(&odd).is_err(),
                "{odd}"
            );
            assert_eq!(parse_public_text(&odd, 0), rows, "{odd}");
        }
        let Ok(PublicMessage::Liquidations(rows)) = rows else {
            panic!("{rows:?}");
        };
        assert_eq!(
            rows.iter()
                .map(|r| (r.side, r.order_side.as_str(), r.quantity, r.price))
                .collect::<Vec<_>>(),
            [
                (PositionSide::Long, "Buy", 1.5, 3000.0),
                (PositionSide::Short, "Sell", 2.0, 3001.0)
            ]
        );
        assert!(matches!(
            parse_public_text(one, 0),
            Ok(PublicMessage::Liquidations(rows)) if rows.len() == 1
        ));
        // A control frame reads either way.
        assert_eq!(
            parse_public_text(r#"{"op":"pong","success":true}"#, 0),
            Ok(PublicMessage::Pong)
        );
    }

    #[test]
    fn all_liquidation_fixture_is_a_short_liquidation() {
        let liqs = parse_all_liquidation(fixture!("ws_all_liquidation.json").as_bytes(), 3)
            .expect("parses");
        assert_eq!(liqs.len(), 1);
        let l = &liqs[0];
        assert_eq!(l.instrument_id.as_str(), "ROSEUSDT-LINEAR.BYBIT");
        assert_eq!(
            (l.side, l.order_side.as_str()),
            (PositionSide::Short, "Sell")
        );
        assert_eq!((l.quantity, l.price), (20000.0, 0.04499));
        assert!((l.value - 899.8).abs() < 1e-9);
        assert_eq!(
            (l.ts_event, l.ts_init, l.source),
            (1_739_502_302_929_000_000, 3, LiquidationSource::Ws)
        );
    }

    #[test]
    fn all_liquidation_variants_buy_numbers_object_and_bad_side() {
        let body = r#"{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":"5","data":{"T":"4","s":"BTCUSDT","S":"Buy","v":0.5,"p":100}}"#;
        let liqs = parse_all_liquidation(body.as_bytes(), 0).expect("parses");
        assert_eq!(
            (liqs[0].side, liqs[0].value, liqs[0].ts_event),
            (PositionSide::Long, 50.0, 4_000_000)
        );
        let bad = r#"{"topic":"allLiquidation.BTCUSDT","data":[{"T":1,"s":"BTCUSDT","S":"Long","v":"1","p":"1"}]}"#;
        assert!(
            parse_all_liquidation(bad.as_bytes(), 0)
                .unwrap_err()
                .to_string()
                .contains("'Long'")
        );
        let empty = r#"{"topic":"allLiquidation.BTCUSDT","data":[]}"#;
        assert_eq!(parse_all_liquidation(empty.as_bytes(), 0), Ok(vec![]));
    }

    #[test]
    fn legacy_liquidation_fixture_reads_as_a_model() {
        let m = parse_legacy_liquidation(fixture!("ws_liquidation_deprecated.json").as_bytes())
            .expect("parses");
        assert_eq!(m.topic.as_deref(), Some("liquidation.BTCUSDT"));
        assert_eq!(m.data.updated_time, Some(1703485237953));
        assert_eq!(
            (m.data.side.as_deref(), m.data.size, m.data.price),
            (Some("Sell"), Some(0.003), Some(43511.7))
        );
        let table_spelling = r#"{"topic":"liquidation.BTCUSDT","data":{"updateTime":7,"symbol":"BTCUSDT","side":"Buy","size":"1","price":"2"}}"#;
        assert_eq!(
            parse_legacy_liquidation(table_spelling.as_bytes())
                .expect("parses")
                .data
                .updated_time,
            Some(7)
        );
    }

    #[test]
    fn ticker_snapshot_fixture_converts_like_rest_tickers() {
        let m =
            parse_ticker(fixture!("ws_ticker_linear_snapshot.json").as_bytes()).expect("parses");
        assert_eq!(
            (m.kind.as_deref(), m.cs),
            (Some("snapshot"), Some(9532239429))
        );
        let btc = instrument("BTCUSDT").expect("valid");
        let ts = ms_to_ns(m.ts.expect("ts"));
        let oi = ticker_open_interest(&btc, &m.data, ts, ts)
            .expect("oi")
            .open_interest;
        assert_eq!(
            (oi.open_interest, oi.open_interest_value),
            (492373.72, Some(32824881841.75))
        );
        let f = ticker_funding(&btc, &m.data, ts, ts).expect("funding");
        assert_eq!(f.funding.rate.to_string(), "-0.005");
        assert_eq!(
            (f.funding.interval_minutes, f.funding.next_funding_ns),
            (Some(480), Some(1_760_342_400_000_000_000))
        );
        assert_eq!(f.funding.ts_event, 1_760_325_052_630_000_000);
        // A delta carries only what changed.
        let delta = r#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","openInterest":"1"},"cs":1,"ts":2}"#;
        let m = parse_ticker(delta.as_bytes()).expect("parses");
        assert_eq!(
            (m.data.open_interest, m.data.funding_rate.as_deref()),
            (Some(1.0), None)
        );
    }

    #[test]
    fn control_fixtures_pong_and_subscribe_ack() {
        let pong = parse_control(fixture!("ws_pong_linear.json").as_bytes()).expect("parses");
        assert_eq!(
            (pong.op.as_deref(), pong.ret_msg.as_deref(), pong.success),
            (Some("ping"), Some("pong"), Some(true))
        );
        let ack =
            parse_control(fixture!("ws_subscribe_ack_linear.json").as_bytes()).expect("parses");
        assert_eq!(
            (ack.op.as_deref(), ack.success),
            (Some("subscribe"), Some(true))
        );
        assert_eq!(
            ack.conn_id.as_deref(),
            Some("3cd84cb1-4d06-4a05-930a-2efe5fc70f0f")
        );
    }

    #[test]
    fn side_mapping_buy_liquidates_a_long_sell_a_short() {
        // Per the allLiquidation docs `S` is the side of the *position*: `Buy` = a long was
        // liquidated (the opposite of Binance, whose `S` is the liquidation order's side).
        let message = |side: &str| {
            format!(
                r#"{{"topic":"allLiquidation.BTCUSDT","ts":2,"data":[{{"T":1,"s":"BTCUSDT","S":"{side}","v":"1","p":"10"}}]}}"#
            )
        };
        let buy = parse_all_liquidation(message("Buy").as_bytes(), 0).expect("parses");
        let sell = parse_all_liquidation(message("Sell").as_bytes(), 0).expect("parses");
        assert_eq!(
            (buy[0].side, buy[0].order_side.as_str()),
            (PositionSide::Long, "Buy")
        );
        assert_eq!(
            (sell[0].side, sell[0].order_side.as_str()),
            (PositionSide::Short, "Sell")
        );
    }

    #[test]
    fn public_messages_are_classified() {
        let fixture = fixture!("ws_all_liquidation.json");
        assert_eq!(
            parse_public_message(fixture.as_bytes(), 3),
            parse_all_liquidation(fixture.as_bytes(), 3).map(PublicMessage::Liquidations)
        );
        assert_eq!(
            parse_public_message(fixture!("ws_subscribe_ack_linear.json").as_bytes(), 0),
            Ok(PublicMessage::SubscribeAck)
        );
        assert_eq!(
            parse_public_message(fixture!("ws_pong_linear.json").as_bytes(), 0),
            Ok(PublicMessage::Pong)
        );
        assert_eq!(
            parse_public_message(br#"{"op":"pong","args":["1"],"conn_id":"x"}"#, 0),
            Ok(PublicMessage::Pong)
        );
        assert_eq!(
            parse_public_message(
                br#"{"success":false,"ret_msg":"Invalid topic :allLiquidation.NOPE","conn_id":"x","req_id":"1","op":"subscribe"}"#,
                0
            ),
            Ok(PublicMessage::SubscribeRejected {
                message: "Invalid topic :allLiquidation.NOPE".into()
            })
        );
        assert_eq!(
            parse_public_message(fixture!("ws_ticker_linear_snapshot.json").as_bytes(), 0),
            Ok(PublicMessage::Other)
        );
        for bad in [
            &b"]"[..],
            br#"{"topic":"allLiquidation.BTCUSDT","data":[{"S":"Buy"}]}"#,
        ] {
            assert!(matches!(
                parse_public_message(bad, 0),
                Err(FetchError::Malformed { .. })
            ));
        }
    }

    #[test]
    fn shards_keep_args_within_the_character_limit() {
        let topics: Vec<String> = (0..2000)
            .map(|i| all_liquidation_topic(&format!("SYMBOL{i:04}USDT")))
            .collect();
        assert_eq!(
            args_chars(&topics[..2]),
            serde_json::to_string(&topics[..2]).expect("json").len()
        );
        assert_eq!(args_chars(&[]), 2);
        let shards = shard_topics(&topics, MAX_ARGS_CHARS);
        assert!(shards.len() > 1);
        for shard in &shards {
            let json = serde_json::to_string(shard).expect("json").len();
            assert!(json <= MAX_ARGS_CHARS, "{json}");
            assert_eq!(args_chars(shard), json);
        }
        // Full shards are really full: one more topic would not fit.
        let first = &shards[0];
        let mut more = first.clone();
        more.push(shards[1][0].clone());
        assert!(args_chars(&more) > MAX_ARGS_CHARS);
        assert_eq!(shards.concat(), topics, "order kept, nothing lost");
        assert!(shard_topics(&[], MAX_ARGS_CHARS).is_empty());
        let long = vec!["x".repeat(50), "y".into()];
        assert_eq!(
            shard_topics(&long, 10).len(),
            2,
            "an oversized topic goes alone"
        );
    }

    #[test]
    fn topics_and_frames() {
        let frame = subscribe_frame(
            &[all_liquidation_topic("BTCUSDT"), ticker_topic("BTCUSDT")],
            "1",
        );
        assert_eq!(
            frame.to_string(),
            r#"{"args":["allLiquidation.BTCUSDT","tickers.BTCUSDT"],"op":"subscribe","req_id":"1"}"#
        );
        assert_eq!(
            ping_frame("100001").to_string(),
            r#"{"op":"ping","req_id":"100001"}"#
        );
    }
}
