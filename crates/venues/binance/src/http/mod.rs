//! Binance USDⓈ-M REST: payload structs, request builders, parsers and next-page logic, all
//! pure.

pub mod klines;
pub mod models;
pub mod paginate;
pub mod parse;
pub mod requests;
