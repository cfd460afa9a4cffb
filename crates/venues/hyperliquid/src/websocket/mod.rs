//! The WebSocket side ([`crate::DEFAULT_WS_URL`]): message structs and their pure parser, and
//! the frames a client sends. Nothing here does I/O; the generic socket loop (`ccxt-stream`) sends
//! [`messages::ping_frame`] well within the server's 60-second idle timeout and hands each
//! text frame to [`parse::parse_ws_message`].
//!
//! Hyperliquid has no public liquidation feed: liquidations appear only on the fills of the
//! users involved ([`messages::WsFill::liquidation`]), including the counterparties' fills.

pub mod messages;
pub mod parse;
