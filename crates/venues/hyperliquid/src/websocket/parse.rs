//! Text frames → [`WsMessage`].

use ccxt_model::Venue;
use ccxt_venue::FetchError;
use serde::Deserialize;
use serde_json::Value;

use crate::websocket::messages::{SubscriptionResponse, UserEvent, WsMessage};

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
    let malformed = |e: serde_json::Error| FetchError::malformed(Venue::Hyperliquid, WHAT, e);
    let Envelope { channel, data } = serde_json::from_str(text).map_err(malformed)?;
    let data_of = |data: Option<Value>| data.unwrap_or(Value::Null);
    Ok(match channel.as_str() {
        "pong" => WsMessage::Pong,
        "subscriptionResponse" => WsMessage::SubscriptionResponse(
            SubscriptionResponse::deserialize(data_of(data)).map_err(malformed)?,
        ),
        "user" => WsMessage::User(UserEvent::deserialize(data_of(data)).map_err(malformed)?),
        _ => WsMessage::Other { channel, data },
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
