//! Bybit v5 public linear stream: payload structs, pure parsers and frames for liquidations
//! (`allLiquidation`) and tickers. The socket loop that uses them is `ccxt-stream`'s.

pub mod messages;
pub mod parse;
