//! The seams between the generic loops and the venues.
//!
//! * [`WsProtocol`]: everything venue-specific about one WebSocket connection, as pure
//!   functions — URL, subscribe frames, application ping, and the classification of each text
//!   frame ([`Inbound`]). The one socket loop ([`crate::ws`]) does all the I/O: connect,
//!   subscribe and check the acknowledgements, keep alive, watch for silence, reconnect with
//!   backoff, rotate, record gaps.
//! * [`LiquidationPoller`]: a REST source of liquidations over a time window. The one polling
//!   loop ([`crate::poll`]) runs it on a timer, re-reads after failures and de-duplicates.
//!   Hyperliquid's `userFillsByTime` is one; a WebSocket protocol may offer one as its
//!   fallback ([`WsProtocol::fallback`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ccxt_model::{Liquidation, Venue};
use ccxt_venue::FetchError;

/// One text frame from the venue, classified by [`WsProtocol::classify`].
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// Liquidations (possibly none, e.g. all filtered out).
    Liquidations(Vec<Liquidation>),
    /// The acknowledgement of one subscribe frame.
    Ack,
    /// The venue refused a subscription, with its message.
    Rejected(String),
    /// The answer to an application ping.
    Pong,
    /// Anything else the venue sends that needs no action.
    Other,
    /// A frame that could not be read: skipped and counted.
    Malformed(String),
}

/// What is venue-specific about one liquidation WebSocket connection. Pure: no I/O.
pub trait WsProtocol: Send + Sync + fmt::Debug {
    /// The venue.
    fn venue(&self) -> Venue;

    /// The label of this connection's streams in events, gaps and logs
    /// (`!forceOrder@arr`, `allLiquidation.BTCUSDT,…`).
    fn stream(&self) -> &str;

    /// The URL to open, given the venue's root from [`crate::WsSettings::root_url`].
    fn url(&self, root: &str) -> String;

    /// The frames that subscribe, in order; each is answered by exactly one acknowledgement
    /// ([`Inbound::Ack`]) or refusal. None when the URL subscribes by itself.
    fn subscribe_frames(&self) -> Vec<String>;

    /// The least time between two frames sent on one connection (the venue's message rate;
    /// Binance allows 10 per second).
    fn send_interval(&self) -> Duration {
        Duration::ZERO
    }

    /// The application-level ping, sent every heartbeat; `seq` counts pings on the
    /// connection. `None` when the venue pings the client instead (Binance): WebSocket pings
    /// are answered automatically.
    fn ping_frame(&self, seq: u64) -> Option<String>;

    /// Classifies a text frame received at `ts_init` (UNIX ns, the rows' `ts_init`).
    fn classify(&self, text: &str, ts_init: u64) -> Inbound;

    /// A REST source to poll while the socket cannot be established for longer than
    /// [`crate::WsSettings::fallback_after`]. `None` (the default) for every venue today:
    /// Binance retired `allForceOrders` in 2021 and Bybit has no REST liquidation endpoint.
    fn fallback(&self) -> Option<Arc<dyn LiquidationPoller>> {
        None
    }
}

/// The result of one poll.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Polled {
    /// The liquidations found (duplicates of earlier polls are dropped by the loop).
    pub rows: Vec<Liquidation>,
    /// Up to when the window was really read, UNIX ns: the window's end, or less when the
    /// venue's answer was cut short (the rest is read at the next poll).
    pub covered_until_ns: u64,
    /// Items that could not be read, skipped.
    pub malformed: Vec<String>,
}

/// A REST source of liquidations.
#[async_trait::async_trait]
pub trait LiquidationPoller: Send + Sync + fmt::Debug {
    /// The venue.
    fn venue(&self) -> Venue;

    /// The label in events, gaps and logs (`userFillsByTime 0x2e3d…`).
    fn stream(&self) -> &str;

    /// Time between polls.
    fn interval(&self) -> Duration;

    /// How far back a poll may reach to re-read after failed polls; older time is a gap.
    fn max_catch_up(&self) -> Duration;

    /// The liquidations whose venue time lies in `[start_ns, end_ns]`. An error is retried at
    /// the next tick (the transport has already retried transient failures).
    async fn poll(&self, start_ns: u64, end_ns: u64) -> Result<Polled, FetchError>;
}
