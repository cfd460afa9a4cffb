//! Binance USDⓈ-M market streams: payload structs and pure parsers for liquidations
//! (`forceOrder`) and live funding (`markPrice`), and the connection facts a socket loop needs.
//! The socket loop that uses them is `ccxt-stream`'s.

pub mod messages;
pub mod parse;
