//! The liquidation seams between the venue crates and the generic loops of `ccxt-stream`.
//!
//! * [`WsProtocol`]: everything venue-specific about one WebSocket connection, as pure
//!   functions — URL, subscribe frames, application ping, and the classification of each text
//!   frame ([`Inbound`]). The one socket loop (`ccxt_stream::ws`) does all the I/O: connect,
//!   subscribe and check the acknowledgements, keep alive, watch for silence, reconnect with
//!   backoff, rotate, record gaps.
//! * [`LiquidationPoller`]: a REST source of liquidations over a time window. The one polling
//!   loop (`ccxt_stream::poll`) runs it on a timer, re-reads after failures and de-duplicates.
//!   Hyperliquid's `userFillsByTime` is one; a WebSocket protocol may offer one as its
//!   fallback ([`WsProtocol::fallback`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::FetchError;
use ccxt_model::{Instrument, Liquidation, Venue};

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

    /// The URL to open, given the venue's root from `ccxt_stream::WsSettings::root_url`.
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
    /// `ccxt_stream::WsSettings::fallback_after`. `None` (the default) for every venue today:
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

/// A readable label for many streams: all of them when few, else first, last and count.
pub fn label(streams: &[String], unit: &str) -> String {
    match streams {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a},{b}"),
        [first, .., last] => format!("{first},…,{last} ({} {unit})", streams.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_stay_short() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(label(&s(&["a"]), "streams"), "a");
        assert_eq!(label(&s(&["a", "b"]), "streams"), "a,b");
        assert_eq!(label(&s(&["a", "b", "c"]), "topics"), "a,…,c (3 topics)");
    }
}

/// How a venue delivers liquidations, as its crate declares it. Everything above the venue
/// crates (the stream command, the daemon) decides by this, never by the venue's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    /// A WebSocket stream that covers every symbol at once (filtered to a list when one is
    /// given): Binance's `!forceOrder@arr`.
    AllMarketSocket,
    /// WebSocket topics per symbol, with no all-market topic (Bybit): the stream needs the
    /// symbol list, and a changed list means resubscribing.
    PerSymbolSocket,
    /// REST polling (Hyperliquid's liquidator fills): after a downtime it re-reads up to
    /// [`LiquidationFeed::catch_up`].
    Poll,
}

impl FeedKind {
    /// Whether the feed is a WebSocket one (its [`Keepalive`] and URL apply).
    pub fn is_socket(self) -> bool {
        !matches!(self, FeedKind::Poll)
    }
}

/// A venue's WebSocket keep-alive and rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// How often the client pings (or, when the venue pings, the venue's period); a
    /// connection silent for twice this is replaced.
    pub heartbeat: Duration,
    /// Planned rotation (the venue ends connections after a fixed time), or none.
    pub rotation: Option<Duration>,
}

impl Default for Keepalive {
    /// A 30 s heartbeat, no rotation.
    fn default() -> Keepalive {
        Keepalive {
            heartbeat: Duration::from_secs(30),
            rotation: None,
        }
    }
}

/// The tasks a feed runs for a symbol list.
#[derive(Debug)]
pub enum FeedTasks {
    /// One [`WsProtocol`] per WebSocket connection.
    Sockets(Vec<Arc<dyn WsProtocol>>),
    /// One [`LiquidationPoller`] per polled account; they share de-duplication.
    Polls(Vec<Arc<dyn LiquidationPoller>>),
}

/// A venue's liquidation source, configured (built by the venue crate's descriptor).
pub trait LiquidationFeed: Send + Sync + fmt::Debug {
    /// The venue.
    fn venue(&self) -> Venue;

    /// How it delivers.
    fn kind(&self) -> FeedKind;

    /// The WebSocket keep-alive and rotation (socket feeds).
    fn keepalive(&self) -> Keepalive {
        Keepalive::default()
    }

    /// Every problem of this feed for `symbols` (`None`: every symbol), each starting with
    /// the venue's name. (Instruments of another venue are checked by the stream.)
    fn problems(&self, symbols: Option<&[Instrument]>) -> Vec<String>;

    /// The connections or pollers for `symbols` (`None`: every symbol).
    fn tasks(&self, symbols: Option<&[Instrument]>) -> FeedTasks;

    /// How far back a polling feed re-reads after failed polls or a downtime; `None` when
    /// nothing missed can be read again (sockets).
    fn catch_up(&self) -> Option<Duration> {
        None
    }
}

/// What a venue's descriptor needs to build its [`LiquidationFeed`] from the configuration.
#[derive(Clone)]
pub struct FeedSettings {
    /// The venue's rate-limited REST transport: always given to polling feeds, and to socket
    /// feeds when the settings make one (OKX reads its contract values with it).
    pub transport: Option<Arc<dyn crate::Transport>>,
    /// The accounts whose fills are polled (`venues.<name>.liquidators`); `None`: the venue's
    /// default.
    pub accounts: Option<Vec<String>>,
    /// Time between polls (polling feeds).
    pub poll_interval: Duration,
}

impl fmt::Debug for FeedSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeedSettings")
            .field("accounts", &self.accounts)
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}
