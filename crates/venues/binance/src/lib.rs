//! binance connector.
