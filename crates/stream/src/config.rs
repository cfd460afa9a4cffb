//! What to stream: [`SourceConfig`] per venue, [`WsSettings`] per WebSocket source, and
//! [`validate`], which reports every problem of a set of sources at once.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ccxt_model::{Instrument, Venue};

use ccxt_venue::liquidations::{FeedKind, Keepalive, LiquidationFeed, WsProtocol};

/// How a WebSocket source connects, keeps alive, reconnects and rotates.
///
/// Every venue uses the same generic loop; only these numbers differ
/// ([`WsSettings::with_keepalive`] takes each venue's from its descriptor).
#[derive(Clone, PartialEq)]
pub struct WsSettings {
    /// The venue's WebSocket root, e.g. `wss://fstream.binance.com/market`,
    /// `wss://stream.bybit.com/v5/public/linear` (the venue adds the path it needs).
    pub root_url: String,
    /// The shortest wait before a reconnect (250 ms).
    pub backoff_min: Duration,
    /// The longest wait before a reconnect (30 s); waits double from `backoff_min` up to this,
    /// each drawn at random below its ceiling (full jitter).
    pub backoff_max: Duration,
    /// A connection that stayed up this long resets the backoff to `backoff_min` (60 s), so a
    /// venue that drops a healthy connection now and then is rejoined at once, while one that
    /// fails again right away is backed off.
    pub stable_after: Duration,
    /// The keep-alive period: venues with an application ping (Bybit, Hyperliquid) are pinged
    /// this often; for Binance, which pings us every 3 minutes, it is that period. A connection
    /// that receives no frame at all — data, pong or ping — for **2 × heartbeat** is dead
    /// (half-open sockets never report it) and is replaced.
    pub heartbeat: Duration,
    /// Planned rotation: replace each connection after this long (Binance ends connections
    /// after 24 h). The new connection is opened and subscribed before the old one is closed,
    /// so nothing is lost; `None` keeps connections as long as they live.
    pub rotate_after: Option<Duration>,
    /// How long old and new connection both deliver during a rotation; duplicates are
    /// dropped. Longer than the venue's push period (Binance 1 s, Bybit 0.5 s).
    pub rotation_overlap: Duration,
    /// The longest wait for the connection handshake, and then for the acknowledgement of
    /// every subscription; no acknowledgement in time counts as a refusal.
    pub ack_timeout: Duration,
    /// When the socket cannot be established for this long and the source has a REST
    /// fallback, poll it until the socket is back. `None`: never. (No venue of ours has a
    /// REST liquidation feed today; see [`crate::LiquidationPoller`].)
    pub fallback_after: Option<Duration>,
}

impl fmt::Debug for WsSettings {
    /// Every field, the URL without credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsSettings")
            .field("root_url", &ccxt_transport::redact_url(&self.root_url))
            .field("backoff_min", &self.backoff_min)
            .field("backoff_max", &self.backoff_max)
            .field("stable_after", &self.stable_after)
            .field("heartbeat", &self.heartbeat)
            .field("rotate_after", &self.rotate_after)
            .field("rotation_overlap", &self.rotation_overlap)
            .field("ack_timeout", &self.ack_timeout)
            .field("fallback_after", &self.fallback_after)
            .finish()
    }
}

impl WsSettings {
    /// Settings on `root_url` with a venue's keep-alive and rotation (its descriptor's
    /// [`Keepalive`]); `rotate_after` replaces the venue's rotation when given. Backoff
    /// 250 ms – 30 s, reset after 60 s up; acknowledgements within 10 s; overlap 3 s; no
    /// fallback.
    pub fn with_keepalive(
        keepalive: Keepalive,
        root_url: impl Into<String>,
        rotate_after: Option<Duration>,
    ) -> WsSettings {
        WsSettings {
            heartbeat: keepalive.heartbeat,
            rotate_after: rotate_after.or(keepalive.rotation),
            ..WsSettings::new(root_url)
        }
    }

    /// Generic settings on `root_url`: backoff 250 ms – 30 s reset after 60 s, heartbeat 30 s,
    /// no rotation (overlap 3 s when set), acknowledgements within 10 s, no fallback.
    pub fn new(root_url: impl Into<String>) -> WsSettings {
        WsSettings {
            root_url: root_url.into(),
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            stable_after: Duration::from_secs(60),
            heartbeat: Duration::from_secs(30),
            rotate_after: None,
            rotation_overlap: Duration::from_secs(3),
            ack_timeout: Duration::from_secs(10),
            fallback_after: None,
        }
    }

    /// The settings with unusable values replaced by the defaults of [`WsSettings::new`]
    /// (zero durations, `backoff_max` below `backoff_min`, a rotation not longer than its
    /// overlap), so a bad configuration cannot turn into a reconnect storm.
    pub(crate) fn sanitized(&self) -> WsSettings {
        let defaults = WsSettings::new(self.root_url.clone());
        let or_default = |value: Duration, default: Duration| {
            if value.is_zero() { default } else { value }
        };
        let backoff_min = or_default(self.backoff_min, defaults.backoff_min);
        let rotation_overlap = self.rotation_overlap;
        WsSettings {
            backoff_min,
            backoff_max: self.backoff_max.max(backoff_min),
            heartbeat: or_default(self.heartbeat, defaults.heartbeat),
            ack_timeout: or_default(self.ack_timeout, defaults.ack_timeout),
            rotate_after: self.rotate_after.filter(|r| *r > rotation_overlap),
            ..self.clone()
        }
    }

    fn problems(&self, source: &str, out: &mut Vec<String>) {
        let mut bad = |what: String| out.push(format!("{source}: {what}"));
        if !(self.root_url.starts_with("ws://") || self.root_url.starts_with("wss://")) {
            bad(format!(
                "root_url '{}' must start with ws:// or wss://",
                ccxt_transport::redact_url(&self.root_url)
            ));
        }
        for (name, value) in [
            ("backoff_min", self.backoff_min),
            ("heartbeat", self.heartbeat),
            ("ack_timeout", self.ack_timeout),
        ] {
            if value.is_zero() {
                bad(format!("{name} must be more than 0"));
            }
        }
        if self.backoff_max < self.backoff_min {
            bad(format!(
                "backoff_max ({:?}) is below backoff_min ({:?})",
                self.backoff_max, self.backoff_min
            ));
        }
        if let Some(rotate) = self.rotate_after
            && rotate <= self.rotation_overlap
        {
            bad(format!(
                "rotate_after ({rotate:?}) must be longer than rotation_overlap ({:?})",
                self.rotation_overlap
            ));
        }
    }
}

/// One liquidation source.
#[derive(Clone)]
pub enum SourceConfig {
    /// A venue's liquidation feed, built by its venue crate's descriptor: WebSocket
    /// connections or pollers for `symbols` (`None`: every symbol; a per-symbol feed needs a
    /// list).
    Feed {
        /// Connection settings: needed by socket feeds, `None` for polling ones.
        ws: Option<WsSettings>,
        /// The venue's feed.
        feed: Arc<dyn LiquidationFeed>,
        /// The symbols, or `None` for all.
        symbols: Option<Vec<Instrument>>,
    },
    /// Any other WebSocket source: one [`WsProtocol`] per connection, run by the same loop.
    /// This is how the tests drive the loop.
    Custom {
        /// Connection settings.
        ws: WsSettings,
        /// One protocol per connection.
        connections: Vec<Arc<dyn WsProtocol>>,
    },
}

impl SourceConfig {
    /// The venues this source streams.
    pub fn venues(&self) -> Vec<Venue> {
        match self {
            SourceConfig::Feed { feed, .. } => vec![feed.venue()],
            SourceConfig::Custom { connections, .. } => {
                let mut venues: Vec<Venue> = connections.iter().map(|c| c.venue()).collect();
                venues.sort();
                venues.dedup();
                venues
            }
        }
    }

    /// How the venue's feed delivers (`None` for custom sockets).
    pub fn feed_kind(&self) -> Option<FeedKind> {
        match self {
            SourceConfig::Feed { feed, .. } => Some(feed.kind()),
            SourceConfig::Custom { .. } => None,
        }
    }

    /// How far back the source re-reads what it missed ([`LiquidationFeed::catch_up`]);
    /// `None` when nothing missed can be read again.
    pub fn catch_up(&self) -> Option<Duration> {
        match self {
            SourceConfig::Feed { feed, .. } => feed.catch_up(),
            SourceConfig::Custom { .. } => None,
        }
    }

    /// The feed's own problems for `symbols` (see [`LiquidationFeed::problems`]); none for
    /// custom sockets.
    pub fn feed_problems(&self, symbols: Option<&[Instrument]>) -> Vec<String> {
        match self {
            SourceConfig::Feed { feed, .. } => feed.problems(symbols),
            SourceConfig::Custom { .. } => Vec::new(),
        }
    }

    /// The same source for another symbol list.
    pub fn with_symbols(&self, symbols: Option<Vec<Instrument>>) -> SourceConfig {
        match self {
            SourceConfig::Feed { ws, feed, .. } => SourceConfig::Feed {
                ws: ws.clone(),
                feed: feed.clone(),
                symbols,
            },
            other => other.clone(),
        }
    }
}

impl fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceConfig::Feed { ws, feed, symbols } => f
                .debug_struct("Feed")
                .field("feed", feed)
                .field("ws", ws)
                .field("symbols", &symbols.as_ref().map(Vec::len))
                .finish(),
            SourceConfig::Custom { ws, connections } => f
                .debug_struct("Custom")
                .field("ws", ws)
                .field("connections", &connections.len())
                .finish(),
        }
    }
}

/// Every problem of a set of sources.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid stream configuration: {}", .0.join("; "))]
pub struct ConfigError(pub Vec<String>);

/// Checks `sources` and reports every problem at once: bad URLs and durations, empty lists,
/// instruments of another venue, malformed addresses. [`crate::spawn`] runs what it can of an
/// invalid configuration (logging each problem), so call this first to refuse one.
pub fn validate(sources: &[SourceConfig]) -> Result<(), ConfigError> {
    let mut problems = Vec::new();
    for source in sources {
        match source {
            SourceConfig::Feed { ws, feed, symbols } => {
                let venue = feed.venue();
                match ws {
                    Some(ws) => ws.problems(venue.as_str(), &mut problems),
                    None if feed.kind().is_socket() => {
                        problems.push(format!("{venue}: no WebSocket settings"));
                    }
                    None => {}
                }
                problems.extend(feed.problems(symbols.as_deref()));
                if let Some(list) = symbols {
                    foreign(venue, list, &mut problems);
                }
            }
            SourceConfig::Custom { ws, connections } => {
                ws.problems("custom", &mut problems);
                if connections.is_empty() {
                    problems.push("custom: no connections".into());
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError(problems))
    }
}

fn foreign(venue: Venue, list: &[Instrument], problems: &mut Vec<String>) {
    for instrument in list.iter().filter(|i| i.venue != venue) {
        problems.push(format!(
            "{venue}: {instrument} is an instrument of another venue"
        ));
    }
}

#[cfg(test)]
mod tests {
    use ccxt_binance::liquidations::BinanceFeed;
    use ccxt_bybit::liquidations::BybitFeed;
    use ccxt_hyperliquid::liquidations::UserFillsFeed;
    use ccxt_venue::testing::FakeTransport;

    use super::*;

    #[test]
    fn venue_settings_carry_each_venues_keepalive_and_rotation() {
        let b = WsSettings::with_keepalive(
            ccxt_binance::liquidations::KEEPALIVE,
            "wss://fstream.binance.com/market",
            None,
        );
        assert_eq!(b.heartbeat, Duration::from_secs(180));
        assert_eq!(b.rotate_after, Some(Duration::from_secs(23 * 3600)));
        let b = WsSettings::with_keepalive(
            ccxt_binance::liquidations::KEEPALIVE,
            "wss://x",
            Some(Duration::from_secs(60)),
        );
        assert_eq!(b.rotate_after, Some(Duration::from_secs(60)));
        let y = WsSettings::with_keepalive(
            ccxt_bybit::liquidations::KEEPALIVE,
            String::from("wss://y"),
            None,
        );
        assert_eq!(
            (y.heartbeat, y.rotate_after),
            (Duration::from_secs(20), None)
        );
        assert_eq!(y.backoff_min, Duration::from_millis(250));
        assert_eq!(y.backoff_max, Duration::from_secs(30));
        assert_eq!(y.stable_after, Duration::from_secs(60));
        assert_eq!(y.fallback_after, None);
        assert_eq!(
            ccxt_hyperliquid::liquidations::catch_up(Duration::from_secs(5)),
            Duration::from_secs(1800)
        );
        assert_eq!(
            ccxt_hyperliquid::liquidations::catch_up(Duration::ZERO),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn validation_reports_every_problem_at_once() {
        let mut ws = WsSettings::new("https://not-a-socket");
        ws.heartbeat = Duration::ZERO;
        ws.backoff_max = Duration::from_millis(1);
        ws.rotate_after = Some(Duration::from_secs(1));
        let btc_bybit = Instrument::from_native(ccxt_registry::venue("bybit"), "BTCUSDT");
        let sources = vec![
            SourceConfig::Feed {
                ws: Some(ws.clone()),
                feed: Arc::new(BinanceFeed),
                symbols: Some(vec![btc_bybit.clone()]),
            },
            SourceConfig::Feed {
                ws: Some(WsSettings::new("wss://ok")),
                feed: Arc::new(BybitFeed),
                symbols: Some(vec![]),
            },
            SourceConfig::Feed {
                ws: None,
                feed: Arc::new(UserFillsFeed {
                    transport: Arc::new(FakeTransport::new()),
                    addresses: vec!["0x12".into()],
                    interval: Duration::ZERO,
                }),
                symbols: Some(vec![btc_bybit]),
            },
            SourceConfig::Custom {
                ws: WsSettings::new("ws://ok"),
                connections: vec![],
            },
        ];
        let ConfigError(problems) = validate(&sources).unwrap_err();
        let text = problems.join("\n");
        for expected in [
            "binance: root_url 'https://not-a-socket'",
            "binance: heartbeat must be more than 0",
            "binance: backoff_max",
            "binance: rotate_after",
            "binance: BTCUSDT-LINEAR.BYBIT is an instrument of another venue",
            "bybit: no symbols",
            "hyperliquid: '0x12' is not an address",
            "hyperliquid: the poll interval",
            "hyperliquid: BTCUSDT-LINEAR.BYBIT",
            "custom: no connections",
        ] {
            assert!(text.contains(expected), "{expected} missing in\n{text}");
        }
        assert_eq!(problems.len(), 10, "{text}");
        assert!(
            validate(&[SourceConfig::Feed {
                ws: Some(WsSettings::with_keepalive(
                    ccxt_binance::liquidations::KEEPALIVE,
                    "wss://fstream.binance.com/market",
                    None
                )),
                feed: Arc::new(BinanceFeed),
                symbols: None
            }])
            .is_ok()
        );
        assert!(ccxt_hyperliquid::liquidations::is_address(
            "0x2e3d94f0562703b25c83308a05046ddaf9a8dd14"
        ));
        let fixed = ws.sanitized();
        assert_eq!(fixed.heartbeat, Duration::from_secs(30));
        assert_eq!(fixed.backoff_max, fixed.backoff_min);
        assert_eq!(fixed.rotate_after, None);
        let good = WsSettings::with_keepalive(ccxt_bybit::liquidations::KEEPALIVE, "wss://x", None);
        assert_eq!(good.sanitized(), good);
    }
}
