//! Bybit v5 linear liquidations: `allLiquidation.{SYMBOL}` topics on the public linear root,
//! sharded by the 21,000-character `args` limit, subscribed with one `subscribe` frame per
//! connection (acknowledged with `"success":true`), kept alive with `{"op":"ping"}`.

use std::sync::Arc;

use crate::websocket::parse::{
    MAX_ARGS_CHARS, PublicMessage, all_liquidation_topic, parse_public_text, ping_frame,
    shard_topics, subscribe_frame,
};
use ccxt_model::{Instrument, Venue};

use ccxt_venue::liquidations::label;
use ccxt_venue::liquidations::{
    FeedKind, FeedTasks, Inbound, Keepalive, LiquidationFeed, WsProtocol,
};

/// One Bybit liquidation connection.
#[derive(Debug)]
pub struct BybitLiquidations {
    topics: Vec<String>,
    label: String,
}

/// The connections for `symbols`, each within Bybit's `args` limit.
pub fn connections(symbols: &[Instrument]) -> Vec<Arc<dyn WsProtocol>> {
    let mut topics: Vec<String> = symbols
        .iter()
        .filter(|i| i.venue == crate::VENUE)
        .map(|i| all_liquidation_topic(&i.native))
        .collect();
    topics.sort();
    topics.dedup();
    shard_topics(&topics, MAX_ARGS_CHARS)
        .into_iter()
        .map(|topics| {
            let label = label(&topics, "topics");
            Arc::new(BybitLiquidations { topics, label }) as Arc<dyn WsProtocol>
        })
        .collect()
}

impl WsProtocol for BybitLiquidations {
    fn venue(&self) -> Venue {
        crate::VENUE
    }

    fn stream(&self) -> &str {
        &self.label
    }

    fn url(&self, root: &str) -> String {
        root.to_string()
    }

    fn subscribe_frames(&self) -> Vec<String> {
        vec![subscribe_frame(&self.topics, "1").to_string()]
    }

    fn ping_frame(&self, seq: u64) -> Option<String> {
        Some(ping_frame(&seq.to_string()).to_string())
    }

    fn classify(&self, text: &str, ts_init: u64) -> Inbound {
        match parse_public_text(text, ts_init) {
            Ok(PublicMessage::Liquidations(rows)) => Inbound::Liquidations(rows),
            Ok(PublicMessage::SubscribeAck) => Inbound::Ack,
            Ok(PublicMessage::SubscribeRejected { message }) => Inbound::Rejected(message),
            Ok(PublicMessage::Pong) => Inbound::Pong,
            Ok(PublicMessage::Other) => Inbound::Other,
            Err(e) => Inbound::Malformed(e.to_string()),
        }
    }
}

/// Bybit's keep-alive: `{"op":"ping"}` every 20 s, as Bybit recommends; no rotation.
pub const KEEPALIVE: Keepalive = Keepalive {
    heartbeat: std::time::Duration::from_secs(crate::websocket::parse::PING_INTERVAL_SECS),
    rotation: None,
};

/// Bybit v5 linear `allLiquidation.{SYMBOL}` topics (every liquidation, pushed every 500 ms).
/// There is no all-market topic: one topic per symbol, sharded so that each connection's
/// `args` stay within 21,000 characters (Bybit's limit).
#[derive(Debug, Clone, Copy, Default)]
pub struct BybitFeed;

impl LiquidationFeed for BybitFeed {
    fn venue(&self) -> Venue {
        crate::VENUE
    }

    fn kind(&self) -> FeedKind {
        FeedKind::PerSymbolSocket
    }

    fn keepalive(&self) -> Keepalive {
        KEEPALIVE
    }

    fn problems(&self, symbols: Option<&[Instrument]>) -> Vec<String> {
        match symbols {
            None | Some([]) => vec!["bybit: no symbols (Bybit has no all-market topic)".into()],
            Some(_) => Vec::new(),
        }
    }

    fn tasks(&self, symbols: Option<&[Instrument]>) -> FeedTasks {
        FeedTasks::Sockets(connections(symbols.unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_sharded_by_args_length() {
        let symbols: Vec<Instrument> = (0..1500)
            .map(|i| Instrument::from_native(crate::VENUE, format!("SYMBOL{i:04}USDT")))
            .collect();
        let c = connections(&symbols);
        assert_eq!(c.len(), 3, "1500 × 32 characters need three connections");
        for connection in &c {
            let frame: serde_json::Value =
                serde_json::from_str(&connection.subscribe_frames()[0]).expect("json");
            assert!(frame["args"].to_string().len() <= MAX_ARGS_CHARS);
        }
        assert_eq!(
            c[0].url("wss://stream.bybit.com/v5/public/linear"),
            "wss://stream.bybit.com/v5/public/linear"
        );
        assert_eq!(
            c[0].ping_frame(3).as_deref(),
            Some(r#"{"op":"ping","req_id":"3"}"#)
        );
        assert!(c[0].stream().starts_with("allLiquidation.SYMBOL0000USDT,…"));
    }

    #[test]
    fn acks_pongs_refusals_and_garbage_are_classified() {
        let c = &connections(&[Instrument::from_native(crate::VENUE, "BTCUSDT")])[0];
        assert_eq!(c.stream(), "allLiquidation.BTCUSDT");
        assert_eq!(
            c.classify(
                r#"{"success":true,"ret_msg":"","conn_id":"x","op":"subscribe"}"#,
                0
            ),
            Inbound::Ack
        );
        assert_eq!(
            c.classify(r#"{"success":true,"ret_msg":"pong","op":"ping"}"#, 0),
            Inbound::Pong
        );
        assert_eq!(
            c.classify(
                r#"{"success":false,"ret_msg":"Invalid topic","op":"subscribe"}"#,
                0
            ),
            Inbound::Rejected("Invalid topic".into())
        );
        assert!(matches!(c.classify("nope", 0), Inbound::Malformed(_)));
    }
}
