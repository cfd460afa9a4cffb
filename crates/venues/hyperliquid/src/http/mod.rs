//! The REST side: every market-data request is `POST /info` with a JSON body `{"type": ...}`.
//!
//! [`requests`] builds the requests, [`models`] holds the payload structs, [`parse`] turns
//! responses into records and typed errors, [`paginate`] pages through `fundingHistory`,
//! [`candles`] through `candleSnapshot`. All
//! pure; [`crate::HyperliquidFetcher`] sends them.

pub mod candles;
pub mod models;
pub mod paginate;
pub mod parse;
pub mod requests;
