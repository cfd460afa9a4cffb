//! Pure parsers and subscribe frames of the Binance market streams: liquidations
//! (`forceOrder`) and live funding (`markPrice`).

use ccxt_model::{FundingRate, Liquidation, LiquidationSource, PositionSide, Venue};
use ccxt_venue::convert::{decimal, ms_to_ns};
use ccxt_venue::{FetchError, FundingSnapshot};
use serde::de::DeserializeOwned;

use super::messages::{ForceOrderEvent, MarkPriceUpdate};
use crate::http::models::OneOrMany;
use crate::http::parse::instrument;

const VENUE: Venue = Venue::Binance;

/// The stream of every symbol's liquidations.
pub const ALL_FORCE_ORDERS_STREAM: &str = "!forceOrder@arr";

/// The liquidation stream of one symbol (`btcusdt@forceOrder`; stream names are lowercase).
pub fn force_order_stream(symbol: &str) -> String {
    format!("{}@forceOrder", symbol.to_ascii_lowercase())
}

/// The frame that subscribes to `streams` on an open connection; Binance acknowledges with
/// `{"result": null, "id": id}`.
pub fn subscribe_frame(streams: &[String], id: u64) -> serde_json::Value {
    serde_json::json!({ "method": "SUBSCRIBE", "params": streams, "id": id })
}

/// Decodes a raw-stream payload or the `data` of a combined-stream wrapper.
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
    let what = "forceOrder";
    let event: ForceOrderEvent = decode(what, bytes)?;
    let o = event.order;
    let bad = |detail: &str| FetchError::malformed(VENUE, what, detail);
    let symbol = o
        .symbol
        .as_deref()
        .ok_or_else(|| bad("s (symbol) is missing"))?;
    let instrument =
        instrument(symbol).ok_or_else(|| bad(&format!("symbol '{symbol}' cannot be named")))?;
    let order_side = o.side.clone().ok_or_else(|| bad("S (side) is missing"))?;
    let side = match order_side.as_str() {
        "SELL" => PositionSide::Long,
        "BUY" => PositionSide::Short,
        other => return Err(bad(&format!("side '{other}' is neither BUY nor SELL"))),
    };
    let quantity = o
        .filled
        .filter(|q| *q > 0.0)
        .or(o.quantity)
        .ok_or_else(|| bad("z and q (quantity) are missing"))?;
    let price = o
        .average_price
        .filter(|p| *p > 0.0)
        .or(o.price)
        .ok_or_else(|| bad("ap and p (price) are missing"))?;
    let time = o
        .trade_time
        .or(event.event_time)
        .ok_or_else(|| bad("T and E (time) are missing"))?;
    Ok(Liquidation {
        instrument_id: instrument.id,
        side,
        order_side,
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
            instrument_id: instrument.id,
            rate,
            interval_minutes,
            next_funding_ns: Some(ms_to_ns(next)),
            ts_event: ms_to_ns(time),
            ts_init,
        },
        mark_price: update.mark_price,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("../../../../../../shared/fixtures/binance/", $name))
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
        assert_eq!(snap.mark_price, Some(11794.15));
        assert_eq!(arr[0].funding_rate.as_deref(), Some("0.00030000"));
        let no_rate = r#"{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"1","r":"","T":2}"#;
        let update = &parse_mark_price(no_rate.as_bytes()).expect("parses")[0];
        assert!(mark_price_snapshot(update, None, 0).is_err());
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
