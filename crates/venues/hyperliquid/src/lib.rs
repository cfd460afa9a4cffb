//! hyperliquid connector.
