//! bybit connector.
