//! Binance USDⓈ-M market streams: payload structs and pure parsers for liquidations
//! (`forceOrder`) and live funding (`markPrice`). The socket loop that uses them lives in the
//! transport.

pub mod messages;
pub mod parse;
