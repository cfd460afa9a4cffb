//! The OKX public WebSocket (`/ws/v5/public`): the `liquidation-orders` subscription, the
//! text heartbeat, and the classifier of every frame a liquidation connection receives
//! ([`parse_public_message`]).
//!
//! One subscription `{"channel":"liquidation-orders","instType":"SWAP"}` carries every swap
//! (filter by `instId`). A push is `{"arg":{…},"data":[{"instId",…,"details":[…]}]}`; each
//! detail is one liquidation: `side` is the liquidation **order** side, so `sell` closed a
//! LONG and `buy` a SHORT, as on Binance; `posSide` (`long`/`short`/`net`) is kept and a
//! disagreement is flagged. Sizes are contracts: coins = `sz × ctVal × ctMult` (inverse: USD
//! value / `bkPx`).

use std::borrow::Cow;

use ccxt_model::PositionSide;
use ccxt_venue::borrowed::{
    BadScalar, RawValue, Text, decimal_of, decimal_of_str, u64_of, u64_of_str,
};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

#[cfg(doc)]
use crate::http::models::LiquidationItem;
use crate::http::parse::{FundingRate, OpenInterest, funding_rate_rows, open_interest_rows};

/// The channel.
pub const LIQUIDATION_CHANNEL: &str = "liquidation-orders";

/// The heartbeat the client sends when it has received nothing for a while (a text frame).
pub const PING: &str = "ping";

/// The server's answer to [`PING`].
pub const PONG: &str = "pong";

/// Send [`PING`] after this many seconds without a message (OKX closes after 30 s without
/// data; NautilusTrader uses 20, ccxt 18).
pub const PING_INTERVAL_SECS: u64 = 20;

/// The server closes a connection that has had no data for this long (close code 4004).
pub const SERVER_IDLE_SECS: u64 = 30;

/// `{"id":…,"op":"subscribe","args":[{"channel":"liquidation-orders","instType":"SWAP"}]}`.
pub fn subscribe_frame(id: Option<&str>) -> Value {
    let mut v = json!({
        "op": "subscribe",
        "args": [{"channel": LIQUIDATION_CHANNEL, "instType": "SWAP"}],
    });
    if let Some(id) = id {
        v["id"] = json!(id);
    }
    v
}

/// One liquidation of a push.
#[derive(Debug, Clone, PartialEq)]
pub struct OkxLiquidation {
    /// `BTC-USDT-SWAP` (from the enclosing `data[]` item).
    pub inst_id: String,
    /// `SWAP`, `FUTURES` (the usual values are not allocated).
    pub inst_type: Option<Cow<'static, str>>,
    /// The position liquidated: `sell` → long, `buy` → short.
    pub side: PositionSide,
    /// The order side as sent (`sell`/`buy`).
    pub order_side: &'static str,
    /// `posSide` as sent (`long`, `short`, `net`; these are not allocated).
    pub pos_side: Option<Cow<'static, str>>,
    /// `posSide` names the other position than `side` implies (log and count it).
    pub pos_side_disagrees: bool,
    /// Size in contracts (`sz`).
    pub contracts: Decimal,
    /// Liquidation (bankruptcy) price (`bkPx`).
    pub price: Decimal,
    /// Bankruptcy loss (`bkLoss`).
    pub bk_loss: Option<Decimal>,
    /// Liquidation time, ms.
    pub ts_ms: u64,
}

impl OkxLiquidation {
    /// Coins liquidated, given the instrument's contract value (`ctVal × ctMult`): linear
    /// contracts × value; inverse (`inverse`) contracts × USD value / price.
    pub fn coins(&self, contract_value: Decimal, inverse: bool) -> Option<Decimal> {
        self.borrowed().coins(contract_value, inverse)
    }

    /// The liquidation, borrowed.
    pub fn borrowed(&self) -> LiquidationRef<'_> {
        LiquidationRef {
            inst_id: &self.inst_id,
            inst_type: self.inst_type.as_deref(),
            side: self.side,
            order_side: self.order_side,
            pos_side: self.pos_side.as_deref(),
            pos_side_disagrees: self.pos_side_disagrees,
            contracts: self.contracts,
            price: self.price,
            bk_loss: self.bk_loss,
            ts_ms: self.ts_ms,
        }
    }
}

/// One liquidation of a push, borrowed from the frame (see [`OkxLiquidation`]): what the
/// one-pass read of [`read_liquidation_push`] gives, nothing allocated.
#[derive(Debug, Clone, PartialEq)]
pub struct LiquidationRef<'a> {
    /// `BTC-USDT-SWAP`.
    pub inst_id: &'a str,
    /// `SWAP`, `FUTURES`.
    pub inst_type: Option<&'a str>,
    /// The position liquidated: `sell` → long, `buy` → short.
    pub side: PositionSide,
    /// The order side as sent (`sell`/`buy`).
    pub order_side: &'static str,
    /// `posSide` as sent.
    pub pos_side: Option<&'a str>,
    /// `posSide` names the other position than `side` implies.
    pub pos_side_disagrees: bool,
    /// Size in contracts (`sz`).
    pub contracts: Decimal,
    /// Liquidation (bankruptcy) price (`bkPx`).
    pub price: Decimal,
    /// Bankruptcy loss (`bkLoss`).
    pub bk_loss: Option<Decimal>,
    /// Liquidation time, ms.
    pub ts_ms: u64,
}

impl LiquidationRef<'_> {
    /// See [`OkxLiquidation::coins`].
    pub fn coins(&self, contract_value: Decimal, inverse: bool) -> Option<Decimal> {
        let v = self.contracts.checked_mul(contract_value)?;
        if inverse {
            v.checked_div(Some(self.price).filter(|p| !p.is_zero())?)
        } else {
            Some(v)
        }
    }

    /// The owned liquidation (the usual `instType` and `posSide` are not allocated).
    pub fn to_owned(&self) -> OkxLiquidation {
        OkxLiquidation {
            inst_id: self.inst_id.to_string(),
            inst_type: self
                .inst_type
                .map(|t| known(Cow::Borrowed(t), &["SWAP", "FUTURES"])),
            side: self.side,
            order_side: self.order_side,
            pos_side: self
                .pos_side
                .map(|p| known(Cow::Borrowed(p), &["long", "short", "net"])),
            pos_side_disagrees: self.pos_side_disagrees,
            contracts: self.contracts,
            price: self.price,
            bk_loss: self.bk_loss,
            ts_ms: self.ts_ms,
        }
    }
}

/// What a `/ws/v5/public` connection receives, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum PublicMessage {
    /// A `liquidation-orders` push: the details read, and one reason per detail skipped.
    Liquidations {
        /// The liquidations, in the order sent.
        liquidations: Vec<OkxLiquidation>,
        /// Details that could not be read (log and count).
        skipped: Vec<String>,
    },
    /// `funding-rate` push rows.
    FundingRates(Vec<FundingRate>),
    /// `open-interest` push rows.
    OpenInterest(Vec<OpenInterest>),
    /// `{"event":"subscribe","arg":{…}}`.
    SubscribeAck {
        /// The channel acknowledged.
        channel: String,
        /// Echoed `id`, if the request had one.
        id: Option<String>,
    },
    /// `{"event":"error","code":"60018","msg":"…"}`: a request was refused.
    Error {
        /// OKX's code (`60012`, `60018`, …).
        code: String,
        /// OKX's message.
        msg: String,
        /// The `id` of the request it answers, if any.
        id: Option<String>,
    },
    /// `{"event":"notice","code":"64008",…}`: the server will close soon; reconnect.
    Notice {
        /// OKX's code.
        code: String,
        /// OKX's message.
        msg: String,
    },
    /// The text `pong`.
    Pong,
    /// Anything else (unsubscribe acks, other channels).
    Other,
}

/// A frame that is not JSON (and not `pong`), or a push whose `data` is not an array.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("malformed OKX WebSocket frame: {detail}")]
pub struct MalformedFrame {
    /// What is wrong.
    pub detail: String,
}

/// A string's text or a number's literal (codes and ids come either way); `None` otherwise.
fn text(raw: Option<&RawValue>) -> Option<String> {
    let json = raw?.get();
    match json.as_bytes().first()? {
        b'"' => serde_json::from_str(json).ok(),
        b'-' | b'0'..=b'9' => Some(json.to_string()),
        _ => None,
    }
}

/// The keys of a frame the classifier looks at, borrowed from the frame (one pass, no
/// `serde_json::Value`); `arg` and `data` stay raw until they are needed.
#[derive(Debug, Deserialize)]
struct Frame<'a> {
    #[serde(default, borrow)]
    event: Option<&'a RawValue>,
    #[serde(default, borrow)]
    arg: Option<&'a RawValue>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
    #[serde(default, borrow)]
    code: Option<&'a RawValue>,
    #[serde(default, borrow)]
    msg: Option<&'a RawValue>,
    #[serde(default, borrow)]
    id: Option<&'a RawValue>,
}

/// The channel of a frame's `arg`.
#[derive(Debug, Deserialize)]
struct ArgRef<'a> {
    #[serde(default, borrow)]
    channel: Option<&'a RawValue>,
}

/// One `data[]` item of a liquidation push, borrowed (see [`LiquidationItem`]), with its
/// details as `D`: raw (`&RawValue`, read one by one so a bad detail is skipped alone; the
/// path of a push [`read_liquidation_push`] could not read whole).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemRef<'a, D> {
    #[serde(default, borrow)]
    inst_id: Option<Text<'a>>,
    #[serde(default, borrow)]
    inst_type: Option<Text<'a>>,
    #[serde(default = "Vec::new")]
    details: Vec<D>,
}

/// One detail of a liquidation item, borrowed (see
/// [`LiquidationDetail`](crate::http::models::LiquidationDetail)).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DetailRef<'a> {
    #[serde(default, borrow)]
    side: Option<Text<'a>>,
    #[serde(default, borrow)]
    pos_side: Option<Text<'a>>,
    #[serde(default, borrow)]
    sz: Option<&'a RawValue>,
    #[serde(default, borrow)]
    bk_px: Option<&'a RawValue>,
    #[serde(default, borrow)]
    bk_loss: Option<&'a RawValue>,
    #[serde(default, borrow)]
    ts: Option<&'a RawValue>,
}

/// Classifies one frame of a public connection (bytes; a text frame is better read by
/// [`parse_public_text`], which does not check its UTF-8 again).
pub fn parse_public_message(frame: &[u8]) -> Result<PublicMessage, MalformedFrame> {
    match std::str::from_utf8(frame) {
        Ok(text) => parse_public_text(text),
        Err(_) => classify_frame(serde_json::from_slice(frame).map_err(malformed)?),
    }
}

/// Classifies one text frame of a public connection. A liquidation push is read in one pass
/// ([`read_liquidation_push`]); anything else, or a push with a surprise in it, by [`Frame`].
pub fn parse_public_text(frame: &str) -> Result<PublicMessage, MalformedFrame> {
    if frame.trim_ascii() == PONG {
        return Ok(PublicMessage::Pong);
    }
    if let Some(push) = read_liquidation_push(frame) {
        return Ok(PublicMessage::Liquidations {
            liquidations: push
                .liquidations
                .iter()
                .map(LiquidationRef::to_owned)
                .collect(),
            skipped: push.skipped,
        });
    }
    classify_frame(serde_json::from_str(frame).map_err(malformed)?)
}

/// The liquidations of a push read in one pass, borrowed from the frame, and one reason per
/// detail (or item) skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiquidationPush<'a> {
    /// The liquidations, in the order sent.
    pub liquidations: Vec<LiquidationRef<'a>>,
    /// Details that could not be read (log and count).
    pub skipped: Vec<String>,
}

/// A `liquidation-orders` push read in ONE pass over the frame, straight into its rows and
/// borrowing from it (the hot path: no `serde_json::Value`, no raw values read twice, no
/// intermediate vectors of items). `None` when the frame is anything else, or a push with a
/// surprise in it (a value that is not a plain string, an item that is not an object, an
/// escaped key, an `event`, a repeated key): [`parse_public_text`] then reads it item by item
/// and detail by detail, so a bad detail is skipped alone and numbers sent as JSON numbers are
/// read exactly from their text.
///
/// Values that are strings but not what they should be (`"sz":"x"`, `"side":"hold"`) do not
/// need the slow read: that detail is skipped alone, with its reason, here too.
pub fn read_liquidation_push(frame: &str) -> Option<LiquidationPush<'_>> {
    let mut de = serde_json::Deserializer::from_str(frame);
    let push = PushSeed.deserialize(&mut de).ok()?;
    de.end().ok()?;
    push
}

/// Reads a whole frame for [`read_liquidation_push`]: `Some` for a liquidation push.
struct PushSeed;

impl<'de> DeserializeSeed<'de> for PushSeed {
    type Value = Option<LiquidationPush<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PushSeed {
    type Value = Option<LiquidationPush<'de>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an OKX push")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut push = LiquidationPush::default();
        let (mut liquidation_channel, mut data, mut event) = (false, false, false);
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "event" => event |= map.next_value::<Option<IgnoredAny>>()?.is_some(),
                "arg" => {
                    let arg = map.next_value::<Option<ArgStr>>()?;
                    liquidation_channel = arg.and_then(|a| a.channel) == Some(LIQUIDATION_CHANNEL);
                }
                "data" if data => return Err(de::Error::duplicate_field("data")),
                "data" => {
                    map.next_value_seed(DataSeed(&mut push))?;
                    data = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((liquidation_channel && data && !event).then_some(push))
    }
}

/// The channel of a frame's `arg`, borrowed.
#[derive(Debug, Deserialize)]
struct ArgStr<'a> {
    #[serde(default, borrow)]
    channel: Option<&'a str>,
}

/// Reads a push's `data` array into the rows of a [`LiquidationPush`].
struct DataSeed<'s, 'de>(&'s mut LiquidationPush<'de>);

impl<'de> DeserializeSeed<'de> for DataSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for DataSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of liquidation items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // The details of the item being read: they may come before its `instId`.
        let mut details = Vec::new();
        while seq
            .next_element_seed(ItemSeed {
                push: &mut *self.0,
                details: &mut details,
            })?
            .is_some()
        {}
        Ok(())
    }
}

/// Reads one `data[]` item into the rows of a [`LiquidationPush`].
struct ItemSeed<'s, 'de> {
    push: &'s mut LiquidationPush<'de>,
    details: &'s mut Vec<DetailStr<'de>>,
}

impl<'de> DeserializeSeed<'de> for ItemSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a liquidation item")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.details.clear();
        let (mut inst_id, mut inst_type, mut details) = (None, None, false);
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "instId" => inst_id = map.next_value::<Option<&'de str>>()?,
                "instType" => inst_type = map.next_value::<Option<&'de str>>()?,
                "details" if details => return Err(de::Error::duplicate_field("details")),
                "details" => {
                    map.next_value_seed(DetailsSeed(&mut *self.details))?;
                    details = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let Some(inst_id) = inst_id else {
            self.push.skipped.push("item without instId".into());
            return Ok(());
        };
        for d in self.details.drain(..) {
            match read_detail_str(inst_id, inst_type, d) {
                Ok(l) => self.push.liquidations.push(l),
                Err(reason) => self.push.skipped.push(reason),
            }
        }
        Ok(())
    }
}

/// Reads an item's `details` array.
struct DetailsSeed<'s, 'de>(&'s mut Vec<DetailStr<'de>>);

impl<'de> DeserializeSeed<'de> for DetailsSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for DetailsSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of liquidation details")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(d) = seq.next_element()? {
            self.0.push(d);
        }
        Ok(())
    }
}

/// One detail of a clean push: every value read is a plain JSON string (or `null`), borrowed;
/// anything else fails the one-pass read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DetailStr<'a> {
    #[serde(default, borrow)]
    side: Option<&'a str>,
    #[serde(default, borrow)]
    pos_side: Option<&'a str>,
    #[serde(default, borrow)]
    sz: Option<&'a str>,
    #[serde(default, borrow)]
    bk_px: Option<&'a str>,
    #[serde(default, borrow)]
    bk_loss: Option<&'a str>,
    #[serde(default, borrow)]
    ts: Option<&'a str>,
}

/// One detail read by [`read_liquidation_push`], of the item of `inst_id`, or why it is
/// skipped.
fn read_detail_str<'a>(
    inst_id: &'a str,
    inst_type: Option<&'a str>,
    d: DetailStr<'a>,
) -> Result<LiquidationRef<'a>, String> {
    liquidation_of(
        inst_id,
        inst_type,
        d.side,
        d.pos_side,
        [
            decimal_of_str(d.sz),
            decimal_of_str(d.bk_px),
            decimal_of_str(d.bk_loss),
        ],
        u64_of_str(d.ts),
    )
}

/// A liquidation of the item of `inst_id` from its detail's values, or why it is skipped.
fn liquidation_of<'a>(
    inst_id: &'a str,
    inst_type: Option<&'a str>,
    side: Option<&str>,
    pos_side: Option<&'a str>,
    [sz, bk_px, bk_loss]: [Result<Option<Decimal>, BadScalar>; 3],
    ts: Result<Option<u64>, BadScalar>,
) -> Result<LiquidationRef<'a>, String> {
    let (side, order_side) = match side {
        Some("sell") => (PositionSide::Long, "sell"),
        Some("buy") => (PositionSide::Short, "buy"),
        other => return Err(format!("{inst_id}: side {other:?}")),
    };
    let number = |field: &str, n: Result<Option<Decimal>, BadScalar>| {
        n.map_err(|e| format!("{inst_id}: {field}: {e}"))
    };
    let (contracts, price, bk_loss) = (
        number("sz", sz)?,
        number("bkPx", bk_px)?,
        number("bkLoss", bk_loss)?,
    );
    let ts = ts.map_err(|e| format!("{inst_id}: ts: {e}"))?;
    let (Some(contracts), Some(price), Some(ts_ms)) = (contracts, price, ts) else {
        return Err(format!("{inst_id}: missing sz, bkPx or ts"));
    };
    let pos_side_disagrees = matches!(
        (side, pos_side),
        (PositionSide::Long, Some("short")) | (PositionSide::Short, Some("long"))
    );
    Ok(LiquidationRef {
        inst_id,
        inst_type,
        side,
        order_side,
        pos_side,
        pos_side_disagrees,
        contracts,
        price,
        bk_loss,
        ts_ms,
    })
}

/// A [`MalformedFrame`] of a JSON error.
fn malformed(e: serde_json::Error) -> MalformedFrame {
    MalformedFrame {
        detail: e.to_string(),
    }
}

/// Classifies a frame read by [`Frame`] (every frame but a clean liquidation push).
fn classify_frame(f: Frame<'_>) -> Result<PublicMessage, MalformedFrame> {
    let channel = || {
        f.arg
            .filter(|a| a.get().starts_with('{'))
            .and_then(|a| serde_json::from_str::<ArgRef>(a.get()).ok())
            .and_then(|a| text(a.channel))
            .unwrap_or_default()
    };
    if let Some(event) = f.event.filter(|e| e.get().starts_with('"')) {
        let event: String = serde_json::from_str(event.get()).map_err(malformed)?;
        return Ok(match event.as_str() {
            "subscribe" => PublicMessage::SubscribeAck {
                channel: channel(),
                id: text(f.id),
            },
            "error" => PublicMessage::Error {
                code: text(f.code).unwrap_or_default(),
                msg: text(f.msg).unwrap_or_default(),
                id: text(f.id),
            },
            "notice" => PublicMessage::Notice {
                code: text(f.code).unwrap_or_default(),
                msg: text(f.msg).unwrap_or_default(),
            },
            _ => PublicMessage::Other,
        });
    }
    let channel = channel();
    let Some(data) = f.data else {
        return Ok(PublicMessage::Other);
    };
    if !data.get().starts_with('[') {
        return Err(MalformedFrame {
            detail: format!("{channel} push whose data is not an array"),
        });
    }
    let rows = || serde_json::from_str::<Vec<Value>>(data.get()).map_err(malformed);
    Ok(match channel.as_str() {
        LIQUIDATION_CHANNEL => {
            let items: Vec<&RawValue> = serde_json::from_str(data.get()).map_err(malformed)?;
            let (liquidations, skipped) = liquidation_details(&items);
            PublicMessage::Liquidations {
                liquidations,
                skipped,
            }
        }
        "funding-rate" => PublicMessage::FundingRates(funding_rate_rows(rows()?).0),
        "open-interest" => PublicMessage::OpenInterest(open_interest_rows(rows()?).0),
        _ => PublicMessage::Other,
    })
}

/// The liquidations of a push's `data` (every item, every detail), and the details skipped.
pub fn liquidation_items(data: Vec<Value>) -> (Vec<OkxLiquidation>, Vec<String>) {
    let raw: Vec<Box<RawValue>> = data
        .iter()
        .filter_map(|v| serde_json::value::to_raw_value(v).ok())
        .collect();
    let items: Vec<&RawValue> = raw.iter().map(AsRef::as_ref).collect();
    liquidation_details(&items)
}

/// `text` as one of the `usual` static strings when it is one (nothing allocated), else owned.
fn known(text: Cow<'_, str>, usual: &[&'static str]) -> Cow<'static, str> {
    match usual.iter().find(|u| **u == text) {
        Some(u) => Cow::Borrowed(u),
        None => Cow::Owned(text.into_owned()),
    }
}

/// [`liquidation_items`] on the raw items of a frame, each item and detail read on its own
/// (the path of a push [`read_liquidation_push`] could not read whole).
fn liquidation_details(items: &[&RawValue]) -> (Vec<OkxLiquidation>, Vec<String>) {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for raw in items {
        let item: ItemRef<&RawValue> = match serde_json::from_str(raw.get()) {
            Ok(i) => i,
            Err(e) => {
                skipped.push(format!("unreadable item: {e}"));
                continue;
            }
        };
        let Some(inst_id) = item.inst_id else {
            skipped.push("item without instId".into());
            continue;
        };
        let inst_id = inst_id.as_str();
        let inst_type = item.inst_type.map(|t| known(t.0, &["SWAP", "FUTURES"]));
        for raw in item.details {
            match detail(inst_id, &inst_type, raw) {
                Ok(l) => out.push(l),
                Err(reason) => skipped.push(reason),
            }
        }
    }
    (out, skipped)
}

/// One raw detail of the item of `inst_id`, or why it is skipped.
fn detail(
    inst_id: &str,
    inst_type: &Option<Cow<'static, str>>,
    raw: &RawValue,
) -> Result<OkxLiquidation, String> {
    let d: DetailRef = serde_json::from_str(raw.get())
        .map_err(|e| format!("{inst_id}: unreadable detail: {e}"))?;
    read_detail(inst_id, inst_type, d)
}

/// One read detail of the item of `inst_id`, or why it is skipped.
fn read_detail(
    inst_id: &str,
    inst_type: &Option<Cow<'static, str>>,
    d: DetailRef<'_>,
) -> Result<OkxLiquidation, String> {
    let side = d.side.as_ref().map(Text::as_str);
    let pos_side = d.pos_side.as_ref().map(Text::as_str);
    liquidation_of(
        inst_id,
        inst_type.as_deref(),
        side,
        pos_side,
        [decimal_of(d.sz), decimal_of(d.bk_px), decimal_of(d.bk_loss)],
        u64_of(d.ts),
    )
    .map(|l| l.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap_or_default()
    }

    fn parse(s: &str) -> PublicMessage {
        parse_public_message(s.as_bytes()).unwrap_or(PublicMessage::Other)
    }

    #[test]
    fn frames() {
        assert_eq!(
            subscribe_frame(Some("1512")),
            json!({"id": "1512", "op": "subscribe", "args": [{"channel": "liquidation-orders", "instType": "SWAP"}]})
        );
        assert!(subscribe_frame(None).get("id").is_none());
        assert_eq!(PING, "ping");
        const { assert!(PING_INTERVAL_SECS < SERVER_IDLE_SECS) };
    }

    #[test]
    fn swap_liquidation_capture() {
        let m = parse(include_str!(
            "../../fixtures/ws_liquidation_orders_swap_docs.json"
        ));
        let PublicMessage::Liquidations {
            liquidations,
            skipped,
        } = m
        else {
            panic!("{m:?}");
        };
        assert!(skipped.is_empty());
        assert_eq!(
            liquidations,
            [OkxLiquidation {
                inst_id: "IOST-USDT-SWAP".into(),
                inst_type: Some("SWAP".into()),
                side: PositionSide::Short,
                order_side: "buy",
                pos_side: Some("short".into()),
                pos_side_disagrees: false,
                contracts: d("13"),
                price: d("0.007831"),
                bk_loss: Some(d("0")),
                ts_ms: 1_692_266_434_010,
            }]
        );
        // IOST-USDT-SWAP ctVal is 1000 IOST.
        assert_eq!(liquidations[0].coins(d("1000"), false), Some(d("13000")));
    }

    #[test]
    fn futures_capture_and_rest_detail_rows() {
        let m = parse(include_str!(
            "../../fixtures/ws_liquidation_orders_futures_tardis.json"
        ));
        let PublicMessage::Liquidations { liquidations, .. } = m else {
            panic!("{m:?}");
        };
        assert_eq!(liquidations[0].inst_id, "XRP-USD-230929");
        assert_eq!(liquidations[0].inst_type.as_deref(), Some("FUTURES"));
        // Inverse: 39 contracts of 10 USD at 0.55205.
        let coins = liquidations[0].coins(d("10"), true).unwrap_or_default();
        assert!((coins - d("706.4577")).abs() < d("0.001"), "{coins}");
        // The tardis-generated REST rows: tardis's channel name, so not a liquidation push;
        // its detail rows read with an instId from the envelope's arg.
        let v: Value = serde_json::from_str(include_str!(
            "../../fixtures/rest_liquidation_details_tardis_generated.json"
        ))
        .unwrap_or_default();
        assert_eq!(parse(&v.to_string()), PublicMessage::Other);
        let item = json!([{"instId": v["arg"]["instId"], "details": v["data"]}]);
        let (rows, skipped) = liquidation_items(item.as_array().cloned().unwrap_or_default());
        assert!(skipped.is_empty());
        assert_eq!(
            (rows[0].side, rows[0].contracts, rows[0].price),
            (PositionSide::Short, d("12"), d("51886.2"))
        );
    }

    #[test]
    fn several_items_and_details_bad_ones_skipped() {
        let m = parse(
            r#"{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[
            {"instId":"BTC-USDT-SWAP","details":[
                {"side":"sell","posSide":"long","sz":"1.5","bkPx":"90000.1","ts":"1"},
                {"side":"sell","posSide":"short","sz":"2","bkPx":"90000","ts":2},
                {"side":"hold","sz":"1","bkPx":"1","ts":"3"},
                {"side":"buy","posSide":"net","sz":"","bkPx":"1","ts":"4"}]},
            {"details":[{"side":"buy","sz":"1","bkPx":"1","ts":"5"}]},
            {"instId":"ETH-USDT-SWAP","details":[{"side":"buy","posSide":"net","sz":3,"bkPx":3000,"ts":"6"}]}]}"#,
        );
        let PublicMessage::Liquidations {
            liquidations,
            skipped,
        } = m
        else {
            panic!("{m:?}");
        };
        assert_eq!(liquidations.len(), 3);
        assert_eq!(liquidations[0].side, PositionSide::Long);
        assert!(!liquidations[0].pos_side_disagrees);
        assert!(liquidations[1].pos_side_disagrees);
        assert_eq!(liquidations[2].inst_id, "ETH-USDT-SWAP");
        assert_eq!(liquidations[2].side, PositionSide::Short);
        assert_eq!(liquidations[2].contracts, d("3"));
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert_eq!(liquidations[0].coins(d("0.01"), false), Some(d("0.015")));
    }

    #[test]
    fn typed_parser_tolerates_shapes_and_skips_garbage_without_panicking() {
        let frame = include_str!("../../fixtures/ws_liquidation_orders_swap_docs.json");
        for cut in 0..frame.len() {
            let _ = parse_public_message(&frame.as_bytes()[..cut]);
        }
        let m = parse(
            r#"{"extra":{"a":[1]},"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[
            5,
            {"instId":"BTC-USDT-SWAP","details":[
                {"side":"sell","sz":"x","bkPx":"1","ts":"1"},
                {"side":"sell","sz":"1","bkPx":"1","ts":"-3"},
                {"side":"buy","posSide":"short","sz":0.25,"bkPx":"90000.5","bkLoss":"","ts":1.7e3,"new":[]}]}]}"#,
        );
        let PublicMessage::Liquidations {
            liquidations,
            skipped,
        } = m
        else {
            panic!("{m:?}");
        };
        assert_eq!(liquidations.len(), 1);
        assert_eq!(
            (
                liquidations[0].contracts,
                liquidations[0].price,
                liquidations[0].ts_ms
            ),
            (d("0.25"), d("90000.5"), 1700)
        );
        assert_eq!(liquidations[0].bk_loss, None);
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert!(skipped[0].starts_with("unreadable item"), "{skipped:?}");
        assert!(
            skipped[1].contains("sz: 'x' is not a decimal"),
            "{skipped:?}"
        );
        assert!(
            skipped[2].contains("ts: '-3' is not a whole number"),
            "{skipped:?}"
        );
        // The old entry point reads the same.
        let item = json!({"instId":"ETH-USDT-SWAP","details":[{"side":"buy","sz":"2","bkPx":"3","ts":"4"}]});
        let (rows, skipped) = liquidation_items(vec![item]);
        assert!(skipped.is_empty());
        assert_eq!((rows[0].contracts, rows[0].ts_ms), (d("2"), 4));
    }

    #[test]
    fn a_clean_push_is_read_in_one_typed_pass_and_a_surprise_detail_by_detail() {
        let frame = include_str!("../../fixtures/ws_liquidation_orders_swap_docs.json");
        let typed = read_liquidation_push(frame).expect("one typed pass");
        assert_eq!(typed.liquidations.len(), 1);
        assert!(typed.skipped.is_empty());
        // The one-pass read and the item-by-item read agree.
        let slow = serde_json::from_str::<Frame>(frame).map(classify_frame);
        assert_eq!(slow.ok(), Some(parse_public_text(frame)));
        let PublicMessage::Liquidations { liquidations, .. } = parse(frame) else {
            panic!("{frame}");
        };
        // The usual side, posSide and instType are not allocated.
        assert_eq!(liquidations[0].order_side, "buy");
        assert!(matches!(
            liquidations[0].pos_side,
            Some(Cow::Borrowed("short"))
        ));
        assert!(matches!(
            liquidations[0].inst_type,
            Some(Cow::Borrowed("SWAP"))
        ));
        // An unusual one is kept as sent.
        let odd = r#"{"arg":{"channel":"liquidation-orders"},"data":[{"instId":"BTC-USDT-SWAP","instType":"SPOT2","details":[{"side":"buy","posSide":"both","sz":"1","bkPx":"2","ts":"3"}]}]}"#;
        let PublicMessage::Liquidations { liquidations, .. } = parse(odd) else {
            panic!("{odd}");
        };
        assert_eq!(liquidations[0].pos_side.as_deref(), Some("both"));
        assert_eq!(liquidations[0].inst_type.as_deref(), Some("SPOT2"));
        // A detail of the wrong shape fails the typed pass; the fallback skips it alone.
        let bad = r#"{"arg":{"channel":"liquidation-orders"},"data":[{"instId":"BTC-USDT-SWAP","details":[{"side":["x"],"sz":"1","bkPx":"1","ts":"1"},{"side":"buy","sz":"1","bkPx":"2","ts":"3"}]}]}"#;
        assert_eq!(read_liquidation_push(bad), None);
        let PublicMessage::Liquidations {
            liquidations,
            skipped,
        } = parse(bad)
        else {
            panic!("{bad}");
        };
        assert_eq!((liquidations.len(), skipped.len()), (1, 1), "{skipped:?}");
        assert!(skipped[0].contains("unreadable detail"), "{skipped:?}");
        // Bytes and text read the same.
        assert_eq!(parse_public_message(bad.as_bytes()), parse_public_text(bad));
        // Data that is not an array is still an error.
        assert!(
            parse_public_text(r#"{"arg":{"channel":"liquidation-orders"},"data":{}}"#).is_err()
        );
    }

    #[test]
    fn the_one_pass_read_agrees_with_the_detail_by_detail_read_and_gives_up_on_surprises() {
        let slow = |frame: &str| {
            serde_json::from_str::<Frame>(frame)
                .map_err(malformed)
                .and_then(classify_frame)
        };
        let push = r#"{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[
            {"details":[{"bkLoss":"0","bkPx":"0.0040","ccy":"","posSide":"short","side":"buy","sz":"2","ts":"1692266434010"},
                        {"bkPx":" 1.5 ","posSide":"short","side":"sell","sz":"3","ts":"1692266434011"},
                        {"side":"hold","sz":"1","bkPx":"1","ts":"3"},
                        {"side":"sell","sz":"x","bkPx":"1","ts":"4"},
                        {"side":"sell","sz":"1","bkPx":"1","ts":"-5"},
                        {"side":"sell","sz":"","bkPx":"1","ts":"6"},
                        {"side":"sell","sz":"1","bkPx":"1","ts":"7","bkLoss":null,"posSide":null,"new":{"a":[1,"b"]}}],
             "instFamily":"IOST-USDT","instId":"IOST-USDT-SWAP","instType":"SWAP","uly":"IOST-USDT"},
            {"details":[{"side":"buy","sz":"1","bkPx":"1","ts":"8"}]},
            {"instId":"ETH-USDT-SWAP","details":[]},
            {"instId":"BTC-USDT-SWAP","instType":"FUTURES","details":[{"side":"buy","sz":"0.25","bkPx":"90000.5","ts":"9"}]}],
            "extra":[{"x":null}]}"#;
        let fast = read_liquidation_push(push).expect("a clean push");
        assert_eq!(fast.liquidations.len(), 4);
        assert_eq!(fast.skipped.len(), 5, "{:?}", fast.skipped);
        assert!(fast.skipped[0].contains(r#"side Some("hold")"#));
        assert!(fast.skipped[1].contains("sz: 'x' is not a decimal"));
        assert!(fast.skipped[2].contains("ts: '-5' is not a whole number"));
        assert!(fast.skipped[3].contains("missing sz, bkPx or ts"));
        assert_eq!(fast.skipped[4], "item without instId");
        assert_eq!(fast.liquidations[1].price, d("1.5"));
        assert!(fast.liquidations[1].pos_side_disagrees);
        assert_eq!(
            (fast.liquidations[2].bk_loss, fast.liquidations[2].pos_side),
            (None, None)
        );
        assert_eq!(fast.liquidations[3].inst_type, Some("FUTURES"));
        // Exactly what the item-by-item read gives.
        let owned: Vec<OkxLiquidation> = fast
            .liquidations
            .iter()
            .map(LiquidationRef::to_owned)
            .collect();
        assert_eq!(
            slow(push),
            Ok(PublicMessage::Liquidations {
                liquidations: owned,
                skipped: fast.skipped.clone()
            })
        );
        assert_eq!(parse_public_text(push), slow(push));
        // Surprises leave the push to the slow read, which reads them exactly.
        let surprises = [
            // numbers as JSON numbers
            r#"{"arg":{"channel":"liquidation-orders"},"data":[{"instId":"A-USDT-SWAP","details":[{"side":"buy","sz":0.1,"bkPx":"2","ts":3}]}]}"#,
            // an escaped string
            r#"{"arg":{"channel":"liquidation-orders"},"data":[{"instId":"A-USDT-SWAP","details":[{"side":"b\u0075y","sz":"1","bkPx":"2","ts":"3"}]}]}"#,
            // an item that is not an object
            r#"{"arg":{"channel":"liquidation-orders"},"data":[7,{"instId":"A-USDT-SWAP","details":[{"side":"buy","sz":"1","bkPx":"2","ts":"3"}]}]}"#,
            // a repeated data
            r#"{"arg":{"channel":"liquidation-orders"},"data":[],"data":[{"instId":"A-USDT-SWAP","details":[{"side":"buy","sz":"1","bkPx":"2","ts":"3"}]}]}"#,
            // details that are not an array
            r#"{"arg":{"channel":"liquidation-orders"},"data":[{"instId":"A-USDT-SWAP","details":{"side":"buy"}}]}"#,
        ];
        for frame in surprises {
            assert_eq!(read_liquidation_push(frame), None, "{frame}");
            assert_eq!(parse_public_text(frame), slow(frame), "{frame}");
        }
        let PublicMessage::Liquidations { liquidations, .. } = parse(surprises[0]) else {
            panic!("{}", surprises[0]);
        };
        assert_eq!(
            (liquidations[0].contracts, liquidations[0].ts_ms),
            (d("0.1"), 3)
        );
        let PublicMessage::Liquidations { liquidations, .. } = parse(surprises[1]) else {
            panic!("{}", surprises[1]);
        };
        assert_eq!(liquidations[0].order_side, "buy");
        // Not liquidation pushes at all.
        for frame in [
            r#"{"event":"subscribe","arg":{"channel":"liquidation-orders"},"data":[]}"#,
            r#"{"arg":{"channel":"funding-rate"},"data":[{"instId":"BTC-USDT-SWAP"}]}"#,
            r#"{"arg":{"channel":"liquidation-orders"}}"#,
            r#"{"arg":{"channel":"liquidation-orders"},"data":null}"#,
            r#"{"data":[],"arg":{"channel":"liquidation-orders"}} x"#,
            "pong",
            "[]",
        ] {
            assert_eq!(read_liquidation_push(frame), None, "{frame}");
        }
        // data before arg is fine.
        let late_arg = r#"{"data":[{"instId":"A-USDT-SWAP","details":[{"side":"buy","sz":"1","bkPx":"2","ts":"3"}]}],"arg":{"channel":"liquidation-orders"}}"#;
        assert_eq!(
            read_liquidation_push(late_arg).map(|p| p.liquidations.len()),
            Some(1)
        );
        // Every prefix of a push: no panic, and never a partial push.
        for cut in 0..push.len() {
            assert_eq!(read_liquidation_push(&push[..cut]), None);
        }
    }

    #[test]
    fn acks_errors_notices_pong_and_garbage() {
        assert_eq!(
            parse(include_str!("../../fixtures/ws_subscribe_ack_docs.json")),
            PublicMessage::SubscribeAck {
                channel: "funding-rate".into(),
                id: Some("1512".into())
            }
        );
        assert_eq!(
            parse(include_str!(
                "../../fixtures/ws_subscribe_ack_2022_cryptofeed.json"
            )),
            PublicMessage::SubscribeAck {
                channel: "tickers".into(),
                id: None
            }
        );
        let e = parse(include_str!("../../fixtures/ws_error_60012_docs.json"));
        assert!(
            matches!(&e, PublicMessage::Error { code, id: Some(id), msg } if code == "60012" && id == "1512" && msg.starts_with("Invalid request")),
            "{e:?}"
        );
        let e = parse(include_str!(
            "../../fixtures/ws_error_60018_cryptofeed_issue612.json"
        ));
        assert!(
            matches!(&e, PublicMessage::Error { code, id: None, .. } if code == "60018"),
            "{e:?}"
        );
        let n = parse(include_str!("../../fixtures/ws_notice_64008_docs.json"));
        assert!(
            matches!(&n, PublicMessage::Notice { code, .. } if code == "64008"),
            "{n:?}"
        );
        assert_eq!(parse("pong"), PublicMessage::Pong);
        assert!(parse_public_message(b"{\"arg\":{\"channel\":\"liquidation-or").is_err());
        assert!(
            parse_public_message(br#"{"arg":{"channel":"liquidation-orders"},"data":{}}"#).is_err()
        );
        assert_eq!(
            parse(r#"{"event":"unsubscribe","arg":{}}"#),
            PublicMessage::Other
        );
    }

    #[test]
    fn funding_and_open_interest_pushes() {
        let m = parse(include_str!("../../fixtures/ws_funding_rate_docs.json"));
        let PublicMessage::FundingRates(rows) = m else {
            panic!("{m:?}");
        };
        assert_eq!(rows[0].interval_ms, Some(8 * 3_600_000));
        assert_eq!(rows[0].predicted_rate, Some(d("0.0001875391284828")));
        let m = parse(include_str!(
            "../../fixtures/ws_funding_rate_xperp_2026_tardis.json"
        ));
        let PublicMessage::FundingRates(rows) = m else {
            panic!("{m:?}");
        };
        assert_eq!(rows[0].inst_type.as_deref(), Some("FUTURES"));
        assert_eq!(rows[0].settled_rate, Some(d("-0.0001996513270201")));
        let m = parse(include_str!(
            "../../fixtures/ws_funding_rate_no_rate_2021_tardis.json"
        ));
        let PublicMessage::FundingRates(rows) = m else {
            panic!("{m:?}");
        };
        assert_eq!((rows[0].predicted_rate, rows[0].ts_ms), (None, None));
        assert_eq!(rows[0].interval_ms, None);
        let m = parse(include_str!("../../fixtures/ws_open_interest_docs.json"));
        let PublicMessage::OpenInterest(rows) = m else {
            panic!("{m:?}");
        };
        assert_eq!(rows[0].contracts, d("2216113.01000000309"), "exact");
        assert_eq!(rows[0].usd, Some(d("1939251795.54769270396321")));
        let m = parse(include_str!(
            "../../fixtures/ws_open_interest_2021_tardis.json"
        ));
        let PublicMessage::OpenInterest(rows) = m else {
            panic!("{m:?}");
        };
        assert_eq!((rows[0].usd, rows[0].coins), (None, Some(d("644195"))));
    }
}
