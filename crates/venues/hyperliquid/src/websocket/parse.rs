//! Text frames → [`WsMessage`], and fills that belong to a liquidation → [`Liquidation`]s
//! ([`fill_liquidation`]).

use std::collections::HashSet;

use ccxt_model::InstrumentId;
use ccxt_model::{Liquidation, LiquidationSource, PositionSide};
use ccxt_venue::FetchError;
use ccxt_venue::borrowed::{
    BadScalar, InstrumentCache, RawValue, Text, f64_of, f64_of_str, u64_of,
};
use ccxt_venue::convert::ms_to_ns_checked;
use serde::Deserialize;
use serde_json::Value;

use crate::websocket::messages::{SubscriptionResponse, UserEvent, UserFills, WsFill, WsMessage};

const WHAT: &str = "websocket message";

#[derive(Deserialize)]
struct Envelope {
    channel: String,
    #[serde(default)]
    data: Option<Value>,
}

/// Reads one text frame. A frame that is not `{"channel": …}`, or whose known channel carries
/// data of the wrong shape, is [`FetchError::Malformed`]; unknown channels are
/// [`WsMessage::Other`].
pub fn parse_ws_message(text: &str) -> Result<WsMessage, FetchError> {
    let malformed = |e: serde_json::Error| FetchError::malformed(crate::VENUE, WHAT, e);
    let Envelope { channel, data } = serde_json::from_str(text).map_err(malformed)?;
    let data_of = |data: Option<Value>| data.unwrap_or(Value::Null);
    Ok(match channel.as_str() {
        "pong" => WsMessage::Pong,
        "subscriptionResponse" => WsMessage::SubscriptionResponse(
            SubscriptionResponse::deserialize(data_of(data)).map_err(malformed)?,
        ),
        "user" => WsMessage::User(UserEvent::deserialize(data_of(data)).map_err(malformed)?),
        "userFills" => {
            WsMessage::UserFills(UserFills::deserialize(data_of(data)).map_err(malformed)?)
        }
        "error" => WsMessage::Error(match data {
            Some(Value::String(text)) => text,
            Some(other) => other.to_string(),
            None => "(no message)".to_string(),
        }),
        _ => WsMessage::Other { channel, data },
    })
}

/// The liquidation a fill of `watched_user` took part in, received at `ts_init`; `Ok(None)`
/// when the fill has no `liquidation` block.
///
/// Which position was liquidated follows from whose fill it is:
///
/// * the liquidated user's own fill (`liquidation.liquidatedUser` is `watched_user`, or is
///   absent): the fill *is* the liquidation order, so `side` `A` (sold) liquidated a long and
///   `B` (bought) a short — `A` + `dir` `Close Long` is the documented long liquidation;
/// * a counterparty's fill (`liquidatedUser` is someone else, e.g. a maker on the book or the
///   liquidator vault taking over the position in a backstop liquidation): the liquidation
///   order took the other side, so `A` liquidated a **short** and `B` a long. The fixture
///   `ws_user_fill_liquidation.json` is such a fill: a maker's `A`/`Open Short` against
///   `0x3608…`, whose short was bought back.
///
/// [`Liquidation::order_side`] is the liquidation order's side in Hyperliquid's letters (`A`
/// for a long, `B` for a short liquidation), whoever's fill it came from, so both sides of one
/// trade give the same row. `method` is the block's `market`/`backstop`, `trade_id` the `tid`
/// (the same on both sides of a trade, which is what de-duplicates them), quantity `sz`, price
/// `px`, `ts_event` the fill `time`.
pub fn fill_liquidation(
    fill: &WsFill,
    watched_user: &str,
    source: LiquidationSource,
    ts_init: u64,
) -> Result<Option<Liquidation>, FetchError> {
    let Some(block) = &fill.liquidation else {
        return Ok(None);
    };
    let facts = FillFacts {
        coin: &fill.coin,
        side: &fill.side,
        sz: fill.sz,
        px: fill.px,
        time: fill.time,
        tid: fill.tid,
        liquidated_user: block.liquidated_user.as_deref(),
        method: block.method.as_deref(),
    };
    liquidation_of(
        &facts,
        watched_user,
        source,
        ts_init,
        &mut CoinIds::default(),
    )
    .map(Some)
}

/// The instrument id of the last coin named: the fills of a page mostly come in runs of one
/// coin, and this spares them a look-up in [`INSTRUMENTS`] each.
#[derive(Default)]
struct CoinIds<'a> {
    last: Option<(&'a str, InstrumentId)>,
}

impl<'a> CoinIds<'a> {
    /// The id of `coin`, `None` when it cannot be named.
    fn id(&mut self, coin: &'a str) -> Option<InstrumentId> {
        if let Some((last, id)) = &self.last
            && *last == coin
        {
            return Some(id.clone());
        }
        let id = INSTRUMENTS.id(coin)?;
        self.last = Some((coin, id.clone()));
        Some(id)
    }
}

/// What [`fill_liquidation`] reads of a fill.
struct FillFacts<'a> {
    coin: &'a str,
    side: &'a str,
    sz: Option<f64>,
    px: Option<f64>,
    time: Option<u64>,
    tid: Option<u64>,
    liquidated_user: Option<&'a str>,
    method: Option<&'a str>,
}

/// The instrument names of Hyperliquid coins, computed once per coin.
static INSTRUMENTS: InstrumentCache = InstrumentCache::new(crate::VENUE);

fn bad_fill(detail: &dyn std::fmt::Display) -> FetchError {
    FetchError::malformed(crate::VENUE, "liquidation fill", detail)
}

fn liquidation_of<'a>(
    fill: &FillFacts<'a>,
    watched_user: &str,
    source: LiquidationSource,
    ts_init: u64,
    ids: &mut CoinIds<'a>,
) -> Result<Liquidation, FetchError> {
    let own = fill
        .liquidated_user
        .is_none_or(|user| user.eq_ignore_ascii_case(watched_user));
    let fill_sold = match fill.side {
        "A" => true,
        "B" => false,
        other => {
            return Err(bad_fill(&format_args!("side '{other}' is neither A nor B")));
        }
    };
    // The liquidation order sold exactly when the fill is its own and sold, or a
    // counterparty's that bought.
    let order_sold = fill_sold == own;
    let (side, order_side) = if order_sold {
        (PositionSide::Long, "A")
    } else {
        (PositionSide::Short, "B")
    };
    let instrument_id = ids
        .id(fill.coin)
        .ok_or_else(|| bad_fill(&format_args!("coin '{}' cannot be named", fill.coin)))?;
    let quantity = fill.sz.ok_or_else(|| bad_fill(&"sz (size) is missing"))?;
    let price = fill.px.ok_or_else(|| bad_fill(&"px (price) is missing"))?;
    let time = fill.time.ok_or_else(|| bad_fill(&"time is missing"))?;
    let ts_event = ms_to_ns_checked(time)
        .ok_or_else(|| bad_fill(&format_args!("time {time} is out of range")))?;
    Ok(Liquidation {
        instrument_id,
        side,
        order_side: order_side.to_string(),
        quantity,
        price,
        value: quantity * price,
        source,
        method: fill.method.map(str::to_string),
        trade_id: fill
            .tid
            .map(|tid| itoa::Buffer::new().format(tid).to_owned()),
        ts_event,
        ts_init,
    })
}

/// A fill borrowed from the page it came in: the hot path of the liquidation poll (see
/// [`WsFill`] for the fields). Nothing but the fields read is looked at, numbers stay raw
/// until a fill turns out to be a liquidation.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FillRef<'a> {
    /// The coin.
    #[serde(default, borrow)]
    pub coin: Option<Text<'a>>,
    /// Fill price.
    #[serde(default, borrow)]
    pub px: Option<&'a RawValue>,
    /// Fill size in coins.
    #[serde(default, borrow)]
    pub sz: Option<&'a RawValue>,
    /// `B` or `A`.
    #[serde(default, borrow)]
    pub side: Option<Text<'a>>,
    /// Fill time, UNIX ms.
    #[serde(default, borrow)]
    pub time: Option<&'a RawValue>,
    /// The trade id.
    #[serde(default, borrow)]
    pub tid: Option<&'a RawValue>,
    /// The liquidation block, when the fill belongs to one.
    #[serde(default, borrow)]
    pub liquidation: Option<FillLiquidationRef<'a>>,
}

/// The liquidation block of a [`FillRef`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FillLiquidationRef<'a> {
    /// The user whose position was liquidated.
    #[serde(default, borrow)]
    pub liquidated_user: Option<Text<'a>>,
    /// `market` or `backstop`.
    #[serde(default, borrow)]
    pub method: Option<Text<'a>>,
}

/// A fill of a clean page: every value read a plain JSON string, `time` and `tid` JSON
/// whole numbers (as Hyperliquid sends them), borrowed; anything else fails the page's
/// one-pass read (see [`parse_fills`]).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FillStr<'a> {
    #[serde(default, borrow)]
    coin: Option<&'a str>,
    #[serde(default, borrow)]
    px: Option<&'a str>,
    #[serde(default, borrow)]
    sz: Option<&'a str>,
    #[serde(default, borrow)]
    side: Option<&'a str>,
    #[serde(default)]
    time: Option<u64>,
    #[serde(default)]
    tid: Option<u64>,
    #[serde(default, borrow)]
    liquidation: Option<LiquidationStr<'a>>,
}

/// The liquidation block of a [`FillStr`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LiquidationStr<'a> {
    #[serde(default, borrow)]
    liquidated_user: Option<&'a str>,
    #[serde(default, borrow)]
    method: Option<&'a str>,
}

/// A `userFills`/`userFillsByTime` page of fills, borrowed from its body ([`parse_fills`]).
#[derive(Debug)]
pub struct Fills<'a>(FillsOf<'a>);

/// How a page was read.
#[derive(Debug)]
enum FillsOf<'a> {
    /// In one pass, every value as Hyperliquid sends it ([`FillStr`]).
    Plain(Vec<FillStr<'a>>),
    /// Field by field, numbers kept raw ([`FillRef`]): a page with a surprise in it.
    Tolerant(Vec<FillRef<'a>>),
}

impl Fills<'_> {
    /// How many fills the page holds.
    pub fn len(&self) -> usize {
        match &self.0 {
            FillsOf::Plain(fills) => fills.len(),
            FillsOf::Tolerant(fills) => fills.len(),
        }
    }

    /// Whether the page holds no fill.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads a `userFills`/`userFillsByTime` array of fills, borrowing from `body`: in one pass
/// when every value is as Hyperliquid sends it (strings, whole-number `time` and `tid`), else
/// again with every number kept raw ([`FillRef`]), so a number sent as a JSON number or a
/// string is read exactly from its text and a bad fill is skipped alone.
pub fn parse_fills(body: &[u8]) -> Result<Fills<'_>, serde_json::Error> {
    let Ok(text) = std::str::from_utf8(body) else {
        return serde_json::from_slice(body).map(|f| Fills(FillsOf::Tolerant(f)));
    };
    if let Ok(fills) = serde_json::from_str(text) {
        return Ok(Fills(FillsOf::Plain(fills)));
    }
    serde_json::from_str(text).map(|f| Fills(FillsOf::Tolerant(f)))
}

/// The liquidations of one page of fills.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FillPage {
    /// The liquidations, in page order, each trade id once.
    pub rows: Vec<Liquidation>,
    /// Liquidation fills that could not be read, skipped.
    pub malformed: Vec<String>,
    /// The newest fill time of the page (any fill), ms.
    pub last_ms: Option<u64>,
}

/// What [`fill_page_liquidations`] reads of a fill, however the page was read.
trait PageFill<'a> {
    /// The fill time.
    fn time(&self) -> Result<Option<u64>, BadScalar>;
    /// The trade id.
    fn tid(&self) -> Result<Option<u64>, BadScalar>;
    /// Whether the fill has a liquidation block.
    fn is_liquidation(&self) -> bool;
    /// The facts of a fill with a liquidation block.
    fn facts(
        &self,
        time: Result<Option<u64>, BadScalar>,
        tid: Option<u64>,
    ) -> Result<FillFacts<'a>, FetchError>;
}

impl<'a, 'b: 'a> PageFill<'a> for &'a FillRef<'b> {
    fn time(&self) -> Result<Option<u64>, BadScalar> {
        u64_of(self.time)
    }

    fn tid(&self) -> Result<Option<u64>, BadScalar> {
        u64_of(self.tid)
    }

    fn is_liquidation(&self) -> bool {
        self.liquidation.is_some()
    }

    fn facts(
        &self,
        time: Result<Option<u64>, BadScalar>,
        tid: Option<u64>,
    ) -> Result<FillFacts<'a>, FetchError> {
        let Some(block) = &self.liquidation else {
            return Err(bad_fill(&"no liquidation block"));
        };
        fill_ref_facts(self, block, time, tid)
    }
}

impl<'a, 'b: 'a> PageFill<'a> for &'a FillStr<'b> {
    fn time(&self) -> Result<Option<u64>, BadScalar> {
        Ok(self.time)
    }

    fn tid(&self) -> Result<Option<u64>, BadScalar> {
        Ok(self.tid)
    }

    fn is_liquidation(&self) -> bool {
        self.liquidation.is_some()
    }

    fn facts(
        &self,
        time: Result<Option<u64>, BadScalar>,
        tid: Option<u64>,
    ) -> Result<FillFacts<'a>, FetchError> {
        let Some(block) = &self.liquidation else {
            return Err(bad_fill(&"no liquidation block"));
        };
        let number = |field: &str, e: BadScalar| bad_fill(&format_args!("{field}: {e}"));
        Ok(FillFacts {
            coin: self.coin.ok_or_else(|| bad_fill(&"coin is missing"))?,
            side: self.side.ok_or_else(|| bad_fill(&"side is missing"))?,
            sz: f64_of_str(self.sz).map_err(|e| number("sz", e))?,
            px: f64_of_str(self.px).map_err(|e| number("px", e))?,
            time: time.map_err(|e| number("time", e))?,
            tid,
            liquidated_user: block.liquidated_user,
            method: block.method,
        })
    }
}

/// The liquidations of `fills` ([`fill_liquidation`]'s rule), skipping trade ids already in
/// `seen` (and adding the new ones).
pub fn fill_page_liquidations(
    fills: &Fills,
    watched_user: &str,
    source: LiquidationSource,
    ts_init: u64,
    seen: &mut HashSet<u64>,
) -> FillPage {
    match &fills.0 {
        FillsOf::Plain(fills) => page_liquidations(fills, watched_user, source, ts_init, seen),
        FillsOf::Tolerant(fills) => page_liquidations(fills, watched_user, source, ts_init, seen),
    }
}

/// [`fill_page_liquidations`] of a page read one way or the other.
fn page_liquidations<'a, F>(
    fills: &'a [F],
    watched_user: &str,
    source: LiquidationSource,
    ts_init: u64,
    seen: &mut HashSet<u64>,
) -> FillPage
where
    &'a F: PageFill<'a>,
{
    let mut page = FillPage::default();
    let mut ids = CoinIds::default();
    seen.reserve(fills.len());
    for (i, fill) in fills.iter().enumerate() {
        let time = fill.time();
        if let Ok(Some(t)) = time {
            page.last_ms = page.last_ms.max(Some(t));
        }
        let tid = match fill.tid() {
            Ok(tid) => tid,
            Err(e) => {
                page.malformed
                    .push(bad_fill(&format_args!("tid: {e}")).to_string());
                continue;
            }
        };
        if let Some(tid) = tid
            && !seen.insert(tid)
        {
            continue;
        }
        if !fill.is_liquidation() {
            continue;
        }
        match fill
            .facts(time, tid)
            .and_then(|facts| liquidation_of(&facts, watched_user, source, ts_init, &mut ids))
        {
            Ok(row) => {
                if page.rows.is_empty() {
                    // Liquidations come in bursts: room for more of the page at once.
                    page.rows.reserve((fills.len() - i).min(128));
                }
                page.rows.push(row)
            }
            Err(e) => page.malformed.push(e.to_string()),
        }
    }
    page
}

fn fill_ref_facts<'a>(
    fill: &'a FillRef,
    block: &'a FillLiquidationRef,
    time: Result<Option<u64>, BadScalar>,
    tid: Option<u64>,
) -> Result<FillFacts<'a>, FetchError> {
    let number = |field: &str, e: BadScalar| bad_fill(&format_args!("{field}: {e}"));
    Ok(FillFacts {
        coin: fill
            .coin
            .as_ref()
            .ok_or_else(|| bad_fill(&"coin is missing"))?
            .as_str(),
        side: fill
            .side
            .as_ref()
            .ok_or_else(|| bad_fill(&"side is missing"))?
            .as_str(),
        sz: f64_of(fill.sz).map_err(|e| number("sz", e))?,
        px: f64_of(fill.px).map_err(|e| number("px", e))?,
        time: time.map_err(|e| number("time", e))?,
        tid,
        liquidated_user: block.liquidated_user.as_ref().map(Text::as_str),
        method: block.method.as_ref().map(Text::as_str),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fixtures;
    use crate::websocket::messages::{ping_frame, subscribe_frame};

    #[test]
    fn pong_fixture() {
        assert_eq!(
            parse_ws_message(fixtures::WS_PONG).unwrap(),
            WsMessage::Pong
        );
        assert_eq!(ping_frame(), json!({"method": "ping"}));
    }

    #[test]
    fn subscription_response_fixture_echoes_the_subscription() {
        let WsMessage::SubscriptionResponse(ack) =
            parse_ws_message(fixtures::WS_SUBSCRIPTION_RESPONSE).unwrap()
        else {
            panic!("not an ack");
        };
        assert_eq!(ack.method, "subscribe");
        assert_eq!(ack.subscription, json!({"type": "trades", "coin": "SOL"}));
        assert_eq!(
            subscribe_frame(ack.subscription),
            json!({"method": "subscribe", "subscription": {"type": "trades", "coin": "SOL"}})
        );
    }

    #[test]
    fn user_fill_fixture_carries_the_liquidation() {
        let WsMessage::User(event) = parse_ws_message(fixtures::WS_USER_FILL_LIQUIDATION).unwrap()
        else {
            panic!("not a user event");
        };
        assert_eq!(event.fills.len(), 1);
        let fill = &event.fills[0];
        assert_eq!(
            (fill.coin.as_str(), fill.side.as_str(), fill.dir.as_deref()),
            ("BTC", "A", Some("Open Short"))
        );
        assert_eq!((fill.px, fill.sz), (Some(66653.0), Some(0.001)));
        assert_eq!(
            (fill.time, fill.tid),
            (Some(1_781_528_065_899), Some(745_210_434_703_679))
        );
        assert_eq!(fill.start_position, Some(-0.0213));
        let liquidation = fill.liquidation.as_ref().unwrap();
        assert_eq!(liquidation.method.as_deref(), Some("market"));
        assert_eq!(liquidation.mark_px, Some(66607.0));
        assert_eq!(
            liquidation.liquidated_user.as_deref(),
            Some("0x360878d351f05975e25f1807a27895e1e5e004fb")
        );
    }

    fn fixture_fill() -> WsFill {
        let WsMessage::User(mut event) =
            parse_ws_message(fixtures::WS_USER_FILL_LIQUIDATION).unwrap()
        else {
            panic!("not a user event");
        };
        event.fills.remove(0)
    }

    const LIQUIDATED: &str = "0x360878d351f05975e25f1807a27895e1e5e004fb";
    const MAKER: &str = "0x1111111111111111111111111111111111111111";

    #[test]
    fn borrowed_fill_pages_read_like_fill_liquidation_and_skip_garbage() {
        // The fixture's fill, read both ways, gives the same row.
        let fixture: Value = serde_json::from_str(fixtures::WS_USER_FILL_LIQUIDATION).unwrap();
        let fills_json = fixture["data"]["fills"].to_string();
        for cut in 0..fills_json.len() {
            let _ = parse_fills(&fills_json.as_bytes()[..cut]);
        }
        let fills = parse_fills(fills_json.as_bytes()).expect("an array of fills");
        let mut seen = HashSet::new();
        let page = fill_page_liquidations(&fills, MAKER, LiquidationSource::Poll, 9, &mut seen);
        let expected = fill_liquidation(&fixture_fill(), MAKER, LiquidationSource::Poll, 9)
            .unwrap()
            .expect("a liquidation fill");
        assert_eq!(page.rows, [expected]);
        assert!(page.malformed.is_empty());
        // The same trade id again (the next page's boundary) is not delivered twice.
        let again = fill_page_liquidations(&fills, MAKER, LiquidationSource::Poll, 9, &mut seen);
        assert!(again.rows.is_empty());
        // Numbers as numbers, unknown fields, fills without a block; bad ones are skipped
        // and named, the rest of the page is kept.
        let body = br#"[
            {"coin":"ETH","px":2000.5,"sz":"0.5","side":"A","time":1700000000000,"tid":1,"liquidation":{"method":"backstop"},"new":[1]},
            {"coin":"ETH","px":"1","sz":"1","side":"B","time":1700000000005,"tid":2},
            {"coin":"ETH","px":"x","sz":"1","side":"B","time":1,"tid":3,"liquidation":{}},
            {"coin":"ETH","px":"1","sz":"1","side":"Q","time":1,"tid":4,"liquidation":{}},
            {"px":"1","sz":"1","side":"B","time":1,"tid":5,"liquidation":{}},
            {"coin":"ETH","px":"1","sz":"1","side":"B","time":1,"tid":-6,"liquidation":{}}]"#;
        let fills = parse_fills(body).expect("an array of fills");
        let page = fill_page_liquidations(
            &fills,
            HLP_LIQUIDATOR_FOR_TESTS,
            LiquidationSource::Poll,
            0,
            &mut HashSet::new(),
        );
        assert_eq!(page.rows.len(), 1);
        let row = &page.rows[0];
        assert_eq!(
            (
                row.side,
                row.quantity,
                row.price,
                row.method.as_deref(),
                row.trade_id.as_deref()
            ),
            (PositionSide::Long, 0.5, 2000.5, Some("backstop"), Some("1"))
        );
        assert_eq!(page.last_ms, Some(1_700_000_000_005));
        assert_eq!(page.malformed.len(), 4, "{:?}", page.malformed);
        assert!(page.malformed[0].contains("px: 'x' is not a number"));
        assert!(page.malformed[1].contains("neither A nor B"));
        assert!(page.malformed[2].contains("coin is missing"));
        assert!(page.malformed[3].contains("tid: '-6' is not a whole number"));
        assert!(parse_fills(br#"{"error":"x"}"#).is_err());
    }

    #[test]
    fn a_clean_page_is_read_in_one_pass_and_a_surprise_field_by_field() {
        let fill = |tid: &str, extra: &str| {
            format!(
                r#"{{"coin":"ETH","px":"2011.2","sz":" 0.0497","side":"B","time":1700000000000,"startPosition":"1.5","dir":"Open Long","closedPnl":"0.0","hash":"0x00","oid":123,"crossed":true,"fee":"0.0","tid":{tid},"liquidation":{{"liquidatedUser":"0x1234","markPx":"2011.0","method":"backstop"}},"feeToken":"USDC"{extra}}}"#
            )
        };
        let read = |body: &str| {
            let fills = parse_fills(body.as_bytes()).expect("an array of fills");
            let plain = matches!(fills.0, FillsOf::Plain(_));
            let page = fill_page_liquidations(
                &fills,
                HLP_LIQUIDATOR_FOR_TESTS,
                LiquidationSource::Poll,
                0,
                &mut HashSet::new(),
            );
            (plain, page)
        };
        let clean = format!(
            "[{},{},{},{}]",
            fill("1", ""),
            fill("2", r#","new":{"a":[1,null]}"#),
            fill("2", ""),
            r#"{"coin":"BTC","px":"x","sz":"1","side":"A","time":5,"tid":3,"liquidation":{}}"#
        );
        let (plain, page) = read(&clean);
        assert!(plain, "read in one pass");
        assert_eq!(page.rows.len(), 2, "the repeated trade id once");
        assert_eq!(page.malformed.len(), 1, "{:?}", page.malformed);
        assert!(page.malformed[0].contains("px: 'x' is not a number"));
        assert_eq!(page.last_ms, Some(1_700_000_000_000));
        let row = &page.rows[1];
        assert_eq!(
            (row.side, row.quantity, row.price, row.method.as_deref()),
            (PositionSide::Long, 0.0497, 2011.2, Some("backstop"))
        );
        assert_eq!(row.trade_id.as_deref(), Some("2"));
        // The same fills with surprises (a number as a string, a whole float, an escape) are
        // read field by field, to the same rows.
        for odd in [r#""1""#, "1.0", "1"] {
            let mut body = clean.replacen(r#""tid":1,"#, &format!(r#""tid":{odd},"#), 1);
            if odd == "1" {
                body = body.replacen(r#""coin":"ETH""#, r#""coin":"\u0045TH""#, 1);
            }
            let (plain, again) = read(&body);
            assert!(!plain, "{body}");
            assert_eq!(again.rows, page.rows, "{body}");
            assert_eq!(again.malformed, page.malformed);
        }
        // Garbage is still an error, and no prefix panics.
        assert!(parse_fills(b"[1,2]").is_err());
        assert!(parse_fills(b"\xff[]").is_err());
        for cut in 0..clean.len() {
            let _ = parse_fills(&clean.as_bytes()[..cut]);
        }
    }

    const HLP_LIQUIDATOR_FOR_TESTS: &str = "0x2e3d94f0562703b25c83308a05046ddaf9a8dd14";

    #[test]
    fn fixture_fill_is_a_counterparty_of_a_short_liquidation() {
        // A maker sold (A, Open Short) into the liquidation order of 0x3608…: that order
        // bought, so 0x3608…'s SHORT was liquidated.
        let fill = fixture_fill();
        let liq = fill_liquidation(&fill, MAKER, LiquidationSource::Poll, 9)
            .unwrap()
            .expect("a liquidation fill");
        assert_eq!(liq.instrument_id.as_str(), "BTC-USD-PERP.HYPERLIQUID");
        assert_eq!(
            (liq.side, liq.order_side.as_str()),
            (PositionSide::Short, "B")
        );
        assert_eq!((liq.quantity, liq.price), (0.001, 66653.0));
        assert!((liq.value - 66.653).abs() < 1e-9);
        assert_eq!(liq.method.as_deref(), Some("market"));
        assert_eq!(liq.trade_id.as_deref(), Some("745210434703679"));
        assert_eq!(liq.source, LiquidationSource::Poll);
        assert_eq!((liq.ts_event, liq.ts_init), (1_781_528_065_899_000_000, 9));
    }

    #[test]
    fn side_rule_covers_own_and_counterparty_fills() {
        let mut fill = fixture_fill();
        let side = |fill: &WsFill, user: &str| {
            fill_liquidation(fill, user, LiquidationSource::Ws, 0)
                .unwrap()
                .map(|l| (l.side, l.order_side))
        };
        // The liquidated user's own fill: A (sold) = long liquidated.
        fill.dir = Some("Close Long".into());
        assert_eq!(
            side(&fill, LIQUIDATED),
            Some((PositionSide::Long, "A".into()))
        );
        // Case does not matter in addresses.
        assert_eq!(
            side(&fill, &LIQUIDATED.to_ascii_uppercase()),
            Some((PositionSide::Long, "A".into()))
        );
        // The counterparty of that trade bought: the same long liquidation, same row.
        fill.side = "B".into();
        assert_eq!(side(&fill, MAKER), Some((PositionSide::Long, "A".into())));
        // liquidatedUser absent: read as the user's own fill.
        fill.liquidation.as_mut().unwrap().liquidated_user = None;
        assert_eq!(side(&fill, MAKER), Some((PositionSide::Short, "B".into())));
        // No liquidation block: not a liquidation.
        fill.liquidation = None;
        assert_eq!(side(&fill, MAKER), None);
        // A side that is neither A nor B is malformed.
        let mut odd = fixture_fill();
        odd.side = "X".into();
        assert!(fill_liquidation(&odd, MAKER, LiquidationSource::Ws, 0).is_err());
        let mut no_size = fixture_fill();
        no_size.sz = None;
        assert!(fill_liquidation(&no_size, MAKER, LiquidationSource::Ws, 0).is_err());
    }

    #[test]
    fn user_fills_and_error_channels() {
        let text = format!(
            r#"{{"channel":"userFills","data":{{"isSnapshot":true,"user":"{MAKER}","fills":[{}]}}}}"#,
            serde_json::to_string(
                &serde_json::from_str::<Value>(fixtures::WS_USER_FILL_LIQUIDATION).unwrap()["data"]
                    ["fills"][0]
            )
            .unwrap()
        );
        let WsMessage::UserFills(fills) = parse_ws_message(&text).unwrap() else {
            panic!("not userFills");
        };
        assert_eq!(fills.is_snapshot, Some(true));
        assert_eq!(fills.user.as_deref(), Some(MAKER));
        assert_eq!(fills.fills, vec![fixture_fill()]);
        assert_eq!(
            parse_ws_message(r#"{"channel":"error","data":"Invalid subscription"}"#).unwrap(),
            WsMessage::Error("Invalid subscription".into())
        );
        assert_eq!(
            crate::websocket::messages::user_fills_subscription(MAKER),
            json!({"type": "userFills", "user": MAKER})
        );
    }

    #[test]
    fn other_channels_are_kept_and_garbage_is_malformed() {
        let other = parse_ws_message(r#"{"channel":"trades","data":[{"coin":"SOL"}]}"#).unwrap();
        assert!(matches!(other, WsMessage::Other { ref channel, .. } if channel == "trades"));
        let no_fills = parse_ws_message(r#"{"channel":"user","data":{"funding":{"coin":"BTC"}}}"#);
        assert_eq!(no_fills.unwrap(), WsMessage::User(UserEvent::default()));
        for bad in [
            "Websocket connection established.",
            "{}",
            r#"{"channel":"user","data":{"fills":[{"px":"1"}]}}"#,
        ] {
            assert!(
                matches!(parse_ws_message(bad), Err(FetchError::Malformed { .. })),
                "{bad}"
            );
        }
    }
}
