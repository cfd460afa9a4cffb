//! Binance USDⓈ-M liquidations: `!forceOrder@arr` or `<symbol>@forceOrder` on the market
//! root's `/ws` endpoint, subscribed with `SUBSCRIBE` frames acknowledged by
//! `{"result":null,"id":N}`. No application ping: the server pings every 3 minutes.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::websocket::parse::{
    ALL_FORCE_ORDERS_STREAM, MAX_MESSAGES_PER_SECOND, MAX_STREAMS_PER_CONNECTION, MarketMessage,
    connection_url, force_order_stream, parse_market_text, shard_streams, subscribe_frame,
};
use ccxt_model::{Instrument, InstrumentId, Venue};

use ccxt_venue::liquidations::label;
use ccxt_venue::liquidations::{
    FeedKind, FeedTasks, Inbound, Keepalive, LiquidationFeed, WsProtocol,
};

/// The longest symbol list Binance streams per symbol (two connections); longer lists use the
/// all-market stream, filtered.
pub const PER_SYMBOL_MAX: usize = 2 * MAX_STREAMS_PER_CONNECTION;

/// One Binance liquidation connection.
#[derive(Debug)]
pub struct BinanceLiquidations {
    streams: Vec<String>,
    label: String,
    /// Client-side filter of the all-market stream.
    only: Option<HashSet<InstrumentId>>,
}

impl BinanceLiquidations {
    fn new(streams: Vec<String>, only: Option<HashSet<InstrumentId>>) -> BinanceLiquidations {
        let label = label(&streams, "streams");
        BinanceLiquidations {
            streams,
            label,
            only,
        }
    }
}

/// The connections for `symbols`: `None`, every symbol on `!forceOrder@arr`; up to
/// [`PER_SYMBOL_MAX`] symbols, one `<symbol>@forceOrder` stream each (at most 200 per
/// connection); a longer list, the all-market stream filtered to the list.
pub fn connections(symbols: Option<&[Instrument]>) -> Vec<Arc<dyn WsProtocol>> {
    let all_market = |only| -> Vec<Arc<dyn WsProtocol>> {
        vec![Arc::new(BinanceLiquidations::new(
            vec![ALL_FORCE_ORDERS_STREAM.to_string()],
            only,
        ))]
    };
    let list: Vec<&Instrument> = match symbols {
        None => return all_market(None),
        Some(list) => list.iter().filter(|i| i.venue == crate::VENUE).collect(),
    };
    if list.len() > PER_SYMBOL_MAX {
        return all_market(Some(list.iter().map(|i| i.id.clone()).collect()));
    }
    let mut streams: Vec<String> = list.iter().map(|i| force_order_stream(&i.native)).collect();
    streams.sort();
    streams.dedup();
    shard_streams(&streams, MAX_STREAMS_PER_CONNECTION)
        .into_iter()
        .map(|shard| Arc::new(BinanceLiquidations::new(shard, None)) as Arc<dyn WsProtocol>)
        .collect()
}

impl WsProtocol for BinanceLiquidations {
    fn venue(&self) -> Venue {
        crate::VENUE
    }

    fn stream(&self) -> &str {
        &self.label
    }

    fn url(&self, root: &str) -> String {
        connection_url(root)
    }

    fn subscribe_frames(&self) -> Vec<String> {
        vec![subscribe_frame(&self.streams, 1).to_string()]
    }

    /// Half of Binance's 10 messages per second, leaving room for the pongs.
    fn send_interval(&self) -> Duration {
        Duration::from_millis(2000 / u64::from(MAX_MESSAGES_PER_SECOND))
    }

    fn ping_frame(&self, _seq: u64) -> Option<String> {
        None
    }

    fn classify(&self, text: &str, ts_init: u64) -> Inbound {
        match parse_market_text(text, ts_init) {
            Ok(MarketMessage::Liquidation(row)) => {
                let wanted = self
                    .only
                    .as_ref()
                    .is_none_or(|only| only.contains(&row.instrument_id));
                Inbound::Liquidations(if wanted { vec![row] } else { Vec::new() })
            }
            Ok(MarketMessage::SubscribeAck { .. }) => Inbound::Ack,
            Ok(MarketMessage::Error { code, message, .. }) => {
                Inbound::Rejected(format!("{message} (code {code})"))
            }
            Ok(MarketMessage::Other) => Inbound::Other,
            Err(e) => Inbound::Malformed(e.to_string()),
        }
    }
}

/// Binance's keep-alive: the server pings every 3 minutes (no client pings) and ends
/// connections at 24 h, so they are rotated at 23 h.
pub const KEEPALIVE: Keepalive = Keepalive {
    heartbeat: Duration::from_secs(crate::websocket::parse::SERVER_PING_INTERVAL_SECS),
    rotation: Some(Duration::from_secs(23 * 3600)),
};

/// Binance USDⓈ-M `forceOrder` streams (a sample: the latest liquidation per symbol per
/// second): every symbol on one `!forceOrder@arr` connection, or the listed ones (see
/// [`connections`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct BinanceFeed;

impl LiquidationFeed for BinanceFeed {
    fn venue(&self) -> Venue {
        crate::VENUE
    }

    fn kind(&self) -> FeedKind {
        FeedKind::AllMarketSocket
    }

    fn keepalive(&self) -> Keepalive {
        KEEPALIVE
    }

    fn problems(&self, symbols: Option<&[Instrument]>) -> Vec<String> {
        match symbols {
            Some([]) => vec!["binance: the symbol list is empty (None means every symbol)".into()],
            _ => Vec::new(),
        }
    }

    fn tasks(&self, symbols: Option<&[Instrument]>) -> FeedTasks {
        FeedTasks::Sockets(connections(symbols))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instruments(n: usize) -> Vec<Instrument> {
        (0..n)
            .map(|i| Instrument::from_native(crate::VENUE, format!("S{i:03}USDT")))
            .collect()
    }

    #[test]
    fn none_is_the_all_market_stream() {
        let c = connections(None);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].stream(), "!forceOrder@arr");
        assert_eq!(
            c[0].subscribe_frames(),
            [r#"{"id":1,"method":"SUBSCRIBE","params":["!forceOrder@arr"]}"#]
        );
        assert_eq!(
            c[0].url("wss://fstream.binance.com/market"),
            "wss://fstream.binance.com/market/ws"
        );
        assert_eq!(c[0].ping_frame(1), None);
        assert!(c[0].send_interval() >= Duration::from_millis(100));
    }

    #[test]
    fn lists_are_sharded_by_200_streams_and_long_lists_filter_the_all_market_stream() {
        let c = connections(Some(&instruments(350)));
        assert_eq!(c.len(), 2);
        assert!(
            c[0].stream().ends_with("(200 streams)"),
            "{}",
            c[0].stream()
        );
        assert!(c[1].stream().ends_with("(150 streams)"));
        let long = instruments(PER_SYMBOL_MAX + 1);
        let c = connections(Some(&long));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].stream(), "!forceOrder@arr");
        let row = |symbol: &str| {
            format!(
                r#"{{"e":"forceOrder","E":2,"o":{{"s":"{symbol}","S":"SELL","q":"1","p":"10","ap":"10","z":"1","T":1}}}}"#
            )
        };
        assert!(
            matches!(c[0].classify(&row("S000USDT"), 0), Inbound::Liquidations(r) if r.len() == 1)
        );
        assert_eq!(
            c[0].classify(&row("ZZZUSDT"), 0),
            Inbound::Liquidations(vec![]),
            "filtered out"
        );
    }

    #[test]
    fn acks_refusals_and_garbage_are_classified() {
        let c = &connections(None)[0];
        assert_eq!(c.classify(r#"{"result":null,"id":1}"#, 0), Inbound::Ack);
        assert_eq!(
            c.classify(r#"{"error":{"code":2,"msg":"Invalid request"},"id":1}"#, 0),
            Inbound::Rejected("Invalid request (code 2)".into())
        );
        assert!(matches!(c.classify("{", 0), Inbound::Malformed(_)));
        assert_eq!(c.classify(r#"{"e":"markPriceUpdate"}"#, 0), Inbound::Other);
    }
}
