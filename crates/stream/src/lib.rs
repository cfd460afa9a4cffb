//! Liquidation streams.
