//! Liquidation feeds over WebSocket (Binance, Bybit) and REST (Hyperliquid), with scripted
//! connection faults, on the simulator's one port.
//!
//! | venue | endpoint | what it does |
//! |---|---|---|
//! | Binance | `GET /market/ws/<stream>[/<stream>…]`, `GET /market/ws` | raw streams: `!forceOrder@arr` (every symbol), `<symbol>@forceOrder` (lowercase); live `SUBSCRIBE`/`UNSUBSCRIBE`/`LIST_SUBSCRIPTIONS`/`SET_PROPERTY`/`GET_PROPERTY` |
//! | Binance | `GET /market/stream?streams=a/b/c` | combined streams: each payload wrapped `{"stream":"<name>","data":<payload>}` |
//! | Bybit | `GET /v5/public/linear` | `{"op":"subscribe","args":["allLiquidation.BTCUSDT"]}`, `{"op":"ping"}`; one frame per symbol and 500 ms window |
//! | OKX | `GET /ws/v5/public` | `{"op":"subscribe","args":[{"channel":"liquidation-orders","instType":"SWAP"}]}` (every swap), text `ping` → `pong`; one frame per instrument and 100 ms tick |
//! | Hyperliquid | `GET /ws` | subscriptions acknowledged (`subscriptionResponse`), `{"method":"ping"}` → `{"channel":"pong"}`; no data (there is no public liquidation channel) |
//! | Hyperliquid | `POST /info {"type":"userFillsByTime",…}` | fills of the liquidator vault(s), see [`crate::WsConfig::hyperliquid_liquidators`] |
//!
//! Module map: `gen` (the seeded liquidation generator and the Hyperliquid fill book), `log`
//! (the sent log and the WebSocket counters), `conn` (what every connection shares: faults,
//! timers, closing), `binance`, `bybit`, `hyperliquid`, `okx` (the protocols), `filter` (the
//! outgoing-frame filter behind `no_pong` and `half_open`).
//!
//! Every event has a unique id: Binance and Bybit carry no id on the wire, so the simulator
//! numbers its events per venue (1, 2, …) and keeps (symbol, `T`, quantity) unique per venue,
//! so any natural key holding these (e.g. symbol, time, side, quantity, price) is unique too
//! (on a clash the quantity is raised by one lot; checked among the first 4096 events of a
//! symbol within one millisecond); Hyperliquid's id is the fill's `tid`. Event times follow
//! the data clock: with a fixed clock ([`crate::SimConfig::now_ms`]) every event has the same
//! time.

mod binance;
mod bybit;
mod conn;
pub(crate) mod filter;
pub(crate) mod generator;
mod hyperliquid;
mod log;
mod okx;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

use crate::Venue;
use crate::data::Universe;
use crate::server::lock;

pub(crate) use binance::{binance_combined, binance_raw, binance_raw_root};
pub(crate) use bybit::bybit_linear;
pub(crate) use generator::{Batch, HlBook, SymTable};
pub(crate) use hyperliquid::hyperliquid_ws;
pub(crate) use log::{Counters, SentLog};
pub(crate) use okx::okx_public;

/// The Hyperliquid liquidator vault ("HLP Liquidator"), a component of the HLP vault that
/// takes over positions in backstop liquidations.
pub const HLP_LIQUIDATOR: &str = "0x2e3d94f0562703b25c83308a05046ddaf9a8dd14";

/// Batches kept for a slow connection before it misses some (see [`WsStats::lagged_batches`]).
const FEED_CAPACITY: usize = 64;

/// Liquidations per second, per venue.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VenueRates {
    /// Binance (`forceOrder` events before any 1 s sampling).
    pub binance: f64,
    /// Bybit (`allLiquidation` entries).
    pub bybit: f64,
    /// Hyperliquid (liquidation fills of the liquidator vaults).
    pub hyperliquid: f64,
    /// OKX (`liquidation-orders` details).
    pub okx: f64,
}

impl Default for VenueRates {
    fn default() -> Self {
        VenueRates::all(2.0)
    }
}

impl VenueRates {
    /// The same rate on every venue.
    pub fn all(per_sec: f64) -> VenueRates {
        VenueRates {
            binance: per_sec,
            bybit: per_sec,
            hyperliquid: per_sec,
            okx: per_sec,
        }
    }

    /// The rate of one venue.
    pub fn get(&self, venue: Venue) -> f64 {
        match venue {
            Venue::Binance => self.binance,
            Venue::Bybit => self.bybit,
            Venue::Hyperliquid => self.hyperliquid,
            Venue::Okx => self.okx,
        }
    }

    /// Sets the rate of one venue.
    pub fn set(&mut self, venue: Venue, per_sec: f64) {
        match venue {
            Venue::Binance => self.binance = per_sec,
            Venue::Bybit => self.bybit = per_sec,
            Venue::Hyperliquid => self.hyperliquid = per_sec,
            Venue::Okx => self.okx = per_sec,
        }
    }
}

/// Liquidation feeds and the venues' WebSocket rules. Defaults are the venues' documented
/// values; tests shrink the timers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WsConfig {
    /// Liquidations generated per second and venue (default 2 each). Generated lazily in
    /// batches (every 100 ms; Bybit every [`Self::bybit_push_ms`]), so hundreds of thousands
    /// per second are possible. Changeable at run time with
    /// [`crate::SimHandle::set_liquidation_rate`].
    pub liquidations_per_sec: VenueRates,
    /// Sent-log entries kept per venue (the latest); older ones are only counted.
    pub sent_log_capacity: usize,
    /// Binance sends, per symbol, only the latest liquidation of each 1 s window, as the real
    /// streams do ("only the latest one liquidation order within 1000ms will be pushed"). Off
    /// by default so every generated event reaches every subscriber.
    pub binance_sample_1s: bool,
    /// Binance sends a WebSocket ping this often (3 minutes).
    pub binance_ping_secs: f64,
    /// Binance closes a connection whose oldest unanswered ping is this old (10 minutes).
    pub binance_pong_timeout_secs: f64,
    /// Streams one Binance connection may hold (200).
    pub binance_max_streams: usize,
    /// Incoming messages (text, ping, pong frames) per second a Binance connection may send
    /// before it is closed (10); 0 = no limit.
    pub binance_max_incoming_per_sec: u32,
    /// Bybit's push interval: the liquidations of each window go out as one frame per symbol
    /// (500 ms).
    pub bybit_push_ms: u64,
    /// Bybit closes a connection after this long without a client ping and without data sent
    /// (10 minutes).
    pub bybit_idle_secs: f64,
    /// Total length of the `args` one Bybit connection may subscribe to (21 000 characters).
    pub bybit_max_args_chars: usize,
    /// Hyperliquid closes a connection it has not heard from for this long (60 s).
    pub hyperliquid_idle_secs: f64,
    /// OKX closes a connection that has had nothing sent to it (no data, no reply, no `pong`)
    /// for this long (30 s, close code 4004).
    pub okx_idle_secs: f64,
    /// Subscriptions one Hyperliquid connection may hold (1000, the venue's per-IP limit).
    pub hyperliquid_max_subscriptions: usize,
    /// Addresses whose fills are liquidation takeovers (default [`HLP_LIQUIDATOR`]); every
    /// generated Hyperliquid liquidation goes to one of them (seeded).
    pub hyperliquid_liquidators: Vec<String>,
    /// Fills per liquidator that `userFills`/`userFillsByTime` can still return (the venue
    /// keeps "only the 10000 most recent fills").
    pub hyperliquid_fills_available: usize,
    /// WebSocket faults in force from the start.
    pub faults: WsFaultSet,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            liquidations_per_sec: VenueRates::default(),
            sent_log_capacity: 1_000_000,
            binance_sample_1s: false,
            binance_ping_secs: 180.0,
            binance_pong_timeout_secs: 600.0,
            binance_max_streams: 200,
            binance_max_incoming_per_sec: 10,
            bybit_push_ms: 500,
            bybit_idle_secs: 600.0,
            bybit_max_args_chars: 21_000,
            hyperliquid_idle_secs: 60.0,
            okx_idle_secs: 30.0,
            hyperliquid_max_subscriptions: 1000,
            hyperliquid_liquidators: vec![HLP_LIQUIDATOR.to_string()],
            hyperliquid_fills_available: 10_000,
            faults: WsFaultSet::default(),
        }
    }
}

impl WsConfig {
    /// Checks ranges; every problem is reported, one per line.
    pub fn validate(&self) -> Result<(), String> {
        let mut errors = Vec::new();
        for venue in Venue::ALL {
            let r = self.liquidations_per_sec.get(venue);
            if !(r.is_finite() && (0.0..=10_000_000.0).contains(&r)) {
                errors.push(format!(
                    "liquidations_per_sec for {venue} must be between 0 and 10000000, got {r}"
                ));
            }
        }
        let secs = [
            ("binance_ping_secs", self.binance_ping_secs),
            ("binance_pong_timeout_secs", self.binance_pong_timeout_secs),
            ("bybit_idle_secs", self.bybit_idle_secs),
            ("hyperliquid_idle_secs", self.hyperliquid_idle_secs),
            ("okx_idle_secs", self.okx_idle_secs),
        ];
        for (name, v) in secs {
            if !(v.is_finite() && v > 0.0 && v <= 1e7) {
                errors.push(format!(
                    "{name} must be a positive number of seconds, got {v}"
                ));
            }
        }
        if self.bybit_push_ms == 0 || self.bybit_push_ms > 60_000 {
            errors.push(format!(
                "bybit_push_ms must be between 1 and 60000, got {}",
                self.bybit_push_ms
            ));
        }
        if self.hyperliquid_liquidators.is_empty() {
            errors.push("hyperliquid_liquidators must name at least one address".into());
        }
        for a in &self.hyperliquid_liquidators {
            let hex = a.strip_prefix("0x").unwrap_or("");
            if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                errors.push(format!(
                    "hyperliquid liquidator '{a}' is not an address (0x and 40 hex digits)"
                ));
            }
        }
        for venue in Venue::ALL {
            if let Err(e) = self.faults.get(venue).validate() {
                errors.push(format!("{venue}: {e}"));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("\n"))
        }
    }
}

/// WebSocket faults of one venue. `WsFaults::default()` is no fault.
///
/// `server_close` and `tcp_drop` are one-shot actions on the connections open at the moment
/// they are set (they are never stored: reading the faults back shows `false`); the others
/// are states that last until cleared.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WsFaults {
    /// Send a close frame (1001 "going away") to every open connection now.
    pub server_close: bool,
    /// Drop every open connection now, without a close frame (TCP reset).
    pub tcp_drop: bool,
    /// Keep connections open but send nothing at all: no data, no replies, no pings, no
    /// WebSocket pongs. Requests are still read (and ignored).
    pub half_open: bool,
    /// Answer no ping: neither application pings (Bybit `op: ping`, Hyperliquid
    /// `method: ping`, OKX text `ping`) nor WebSocket ping frames. Data keeps flowing.
    pub no_pong: bool,
    /// Reject every subscription request with the venue's error answer.
    pub refuse_subscribe: bool,
    /// Fraction in `[0, 1]` of data frames replaced by garbage (the first half of the frame's
    /// JSON). Hyperliquid sends no data frames, so there it applies to its replies.
    pub malformed_rate: f64,
    /// Close each connection (close frame 1000) this many seconds after it opened, like
    /// Binance's 24 h limit. `None`: never.
    pub rotate_after_secs: Option<f64>,
    /// Generate no liquidations (nothing to send, no Hyperliquid fills).
    pub pause_data: bool,
}

impl WsFaults {
    /// Checks ranges; the message names the bad field.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.malformed_rate) {
            return Err(format!(
                "malformed_rate must be between 0 and 1, got {}",
                self.malformed_rate
            ));
        }
        if let Some(s) = self.rotate_after_secs
            && !(s.is_finite() && s > 0.0 && s <= 1e7)
        {
            return Err(format!(
                "rotate_after_secs must be a positive number of seconds, got {s}"
            ));
        }
        Ok(())
    }

    /// The state faults only (one-shot actions cleared).
    fn state(&self) -> WsFaults {
        WsFaults {
            server_close: false,
            tcp_drop: false,
            ..self.clone()
        }
    }
}

/// The WebSocket faults of every venue: the JSON of `GET /__sim/ws/faults`.
///
/// ```json
/// {"binance": {"server_close": false, "tcp_drop": false, "half_open": false, "no_pong": false,
///              "refuse_subscribe": false, "malformed_rate": 0.0, "rotate_after_secs": null,
///              "pause_data": false},
///  "bybit": {…}, "hyperliquid": {…}}
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WsFaultSet {
    /// Binance.
    pub binance: WsFaults,
    /// Bybit.
    pub bybit: WsFaults,
    /// Hyperliquid.
    pub hyperliquid: WsFaults,
    /// OKX.
    pub okx: WsFaults,
}

impl WsFaultSet {
    /// The faults of one venue.
    pub fn get(&self, venue: Venue) -> &WsFaults {
        match venue {
            Venue::Binance => &self.binance,
            Venue::Bybit => &self.bybit,
            Venue::Hyperliquid => &self.hyperliquid,
            Venue::Okx => &self.okx,
        }
    }

    /// The faults of one venue, to change.
    pub fn get_mut(&mut self, venue: Venue) -> &mut WsFaults {
        match venue {
            Venue::Binance => &mut self.binance,
            Venue::Bybit => &mut self.bybit,
            Venue::Hyperliquid => &mut self.hyperliquid,
            Venue::Okx => &mut self.okx,
        }
    }
}

/// The body of `POST /__sim/ws/faults`: the venues named are replaced (absent fields take
/// their defaults, so `{"bybit": {}}` clears Bybit's faults); the others keep theirs.
///
/// ```json
/// {"binance": {"server_close": true}, "bybit": {"half_open": true, "malformed_rate": 0.1}}
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WsFaultsUpdate {
    /// New Binance faults.
    pub binance: Option<WsFaults>,
    /// New Bybit faults.
    pub bybit: Option<WsFaults>,
    /// New Hyperliquid faults.
    pub hyperliquid: Option<WsFaults>,
    /// New OKX faults.
    pub okx: Option<WsFaults>,
}

impl WsFaultsUpdate {
    /// The venues named, with their new faults.
    pub fn entries(&self) -> Vec<(Venue, WsFaults)> {
        [
            (Venue::Binance, &self.binance),
            (Venue::Bybit, &self.bybit),
            (Venue::Hyperliquid, &self.hyperliquid),
            (Venue::Okx, &self.okx),
        ]
        .into_iter()
        .filter_map(|(v, f)| f.clone().map(|f| (v, f)))
        .collect()
    }
}

/// The side of the position that was liquidated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PositionSide {
    /// A long position (Binance order side `SELL`, Bybit `S` = `Buy`, Hyperliquid liquidator
    /// fill side `B`).
    Long,
    /// A short position (Binance `BUY`, Bybit `Sell`, Hyperliquid `A`).
    Short,
}

/// One liquidation event as the simulator sent it: one entry per event and connection (an
/// event sent on two streams of one connection, or to two connections, has two entries).
/// Hyperliquid events are logged once, when generated (`conn_id` is `None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentLiquidation {
    /// The venue.
    pub venue: Venue,
    /// Binance, Bybit: the event's number on its venue (1, 2, …); Hyperliquid: the fill's `tid`.
    pub id: u64,
    /// Native symbol (`BTCUSDT`, `kPEPE`).
    pub symbol: String,
    /// Event time, Unix ms: Binance `o.T`, Bybit `T`, Hyperliquid `time`.
    pub time_ms: u64,
    /// The position liquidated.
    pub side: PositionSide,
    /// The side as the venue writes it: Binance `SELL`/`BUY`, Bybit `Buy`/`Sell`,
    /// Hyperliquid `B`/`A`, OKX order side `sell`/`buy`.
    pub venue_side: String,
    /// Quantity as sent: Binance `o.q`, Bybit `v`, Hyperliquid `sz`, OKX `sz` (contracts).
    pub qty: String,
    /// Price as sent: Binance `o.p` (order price), Bybit `p` (bankruptcy price), Hyperliquid
    /// `px`, OKX `bkPx`.
    pub price: String,
    /// The stream it went out on: `!forceOrder@arr`, `btcusdt@forceOrder`,
    /// `allLiquidation.BTCUSDT`, `userFillsByTime`, OKX `liquidation-orders:SWAP`.
    pub stream: String,
    /// The connection it was sent on (see [`WsStats`]); `None` for Hyperliquid.
    pub conn_id: Option<u64>,
    /// Whether its frame was replaced by garbage (`malformed_rate`).
    pub malformed: bool,
    /// Wall-clock Unix ms when it was handed to the connection.
    pub sent_ms: u64,
}

/// WebSocket counts of one venue, in [`crate::StatsSnapshot::ws`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WsStats {
    /// Connections accepted.
    pub connections_opened: u64,
    /// Connections ended (any reason).
    pub connections_closed: u64,
    /// Connections open now (not cleared by a reset).
    pub connections_current: u64,
    /// Subscriptions (streams, topics) held by open connections now (not cleared by a reset).
    pub subscriptions: u64,
    /// Subscription requests received.
    pub subscribe_requests: u64,
    /// Subscription requests refused (wholly or partly).
    pub subscribe_rejected: u64,
    /// Text frames sent (data and replies).
    pub frames_sent: u64,
    /// Data frames sent (liquidations), including malformed ones.
    pub data_frames_sent: u64,
    /// Frames replaced by garbage.
    pub malformed_frames: u64,
    /// Text frames received.
    pub messages_received: u64,
    /// WebSocket pings the server sent (Binance).
    pub pings_sent: u64,
    /// Pongs the server received (WebSocket pong frames).
    pub pongs_received: u64,
    /// Pings received: WebSocket ping frames and application pings.
    pub pings_received: u64,
    /// Pongs the server sent: WebSocket pongs and application pongs.
    pub pongs_sent: u64,
    /// Liquidations generated.
    pub liquidations_generated: u64,
    /// Sent-log entries written (one per event and connection; Hyperliquid: per fill).
    pub liquidations_sent: u64,
    /// Binance liquidations generated but not sent because of the 1 s sampling.
    pub liquidations_sampled_out: u64,
    /// Batches of events a slow connection missed.
    pub lagged_batches: u64,
    /// Connections ended, by reason: `client_close`, `client_gone`, `server_close`,
    /// `tcp_drop`, `rotate`, `idle_timeout`, `pong_timeout`, `too_many_messages`, `shutdown`.
    pub closes: std::collections::BTreeMap<String, u64>,
}

/// What the connection tasks watch: the faults in force, one-shot action counters and
/// shutdown.
#[derive(Debug, Clone, Default)]
pub(crate) struct Control {
    pub faults: WsFaultSet,
    pub close_epoch: [u64; 4],
    pub drop_epoch: [u64; 4],
    pub shutdown: bool,
}

/// The shared WebSocket state, part of the server's state.
#[derive(Debug)]
pub(crate) struct WsHub {
    /// Settings (faults at start are in `ctl`).
    pub config: WsConfig,
    ctl: watch::Sender<Control>,
    feeds: [broadcast::Sender<Arc<Batch>>; 3],
    /// Symbols each venue generates liquidations for.
    pub tables: [Arc<SymTable>; 4],
    logs: [std::sync::Mutex<SentLog>; 4],
    /// Counters per venue.
    pub counters: [Counters; 4],
    /// The fills of Hyperliquid's liquidator vaults.
    pub hl_book: std::sync::Mutex<HlBook>,
    next_conn: AtomicU64,
    rates: [AtomicU64; 4],
}

impl WsHub {
    /// Builds the hub for `universe`.
    pub fn new(config: &WsConfig, universe: &Universe) -> WsHub {
        let control = Control {
            faults: WsFaultSet {
                binance: config.faults.binance.state(),
                bybit: config.faults.bybit.state(),
                hyperliquid: config.faults.hyperliquid.state(),
                okx: config.faults.okx.state(),
            },
            ..Control::default()
        };
        let (ctl, _) = watch::channel(control);
        let capacity = config.sent_log_capacity;
        WsHub {
            ctl,
            feeds: [
                broadcast::channel(FEED_CAPACITY).0,
                broadcast::channel(FEED_CAPACITY).0,
                broadcast::channel(FEED_CAPACITY).0,
            ],
            tables: Venue::ALL.map(|v| Arc::new(SymTable::new(universe, v))),
            logs: Venue::ALL.map(|_| std::sync::Mutex::new(SentLog::new(capacity))),
            counters: Venue::ALL.map(|_| Counters::default()),
            hl_book: std::sync::Mutex::new(HlBook::new(
                &config.hyperliquid_liquidators,
                config.hyperliquid_fills_available,
            )),
            next_conn: AtomicU64::new(1),
            rates: Venue::ALL.map(|v| AtomicU64::new(config.liquidations_per_sec.get(v).to_bits())),
            config: config.clone(),
        }
    }

    /// The symbols of a venue.
    pub fn table(&self, venue: Venue) -> &Arc<SymTable> {
        &self.tables[venue.index()]
    }

    /// Counters of a venue.
    pub fn counters(&self, venue: Venue) -> &Counters {
        &self.counters[venue.index()]
    }

    /// A new connection id.
    pub fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Liquidations per second now.
    pub fn rate(&self, venue: Venue) -> f64 {
        f64::from_bits(self.rates[venue.index()].load(Ordering::Relaxed))
    }

    /// Changes the rate (clamped to `[0, 10^7]`).
    pub fn set_rate(&self, venue: Venue, per_sec: f64) {
        let r = if per_sec.is_finite() {
            per_sec.clamp(0.0, 10_000_000.0)
        } else {
            0.0
        };
        self.rates[venue.index()].store(r.to_bits(), Ordering::Relaxed);
    }

    /// The watch every connection follows.
    pub fn subscribe_control(&self) -> watch::Receiver<Control> {
        self.ctl.subscribe()
    }

    /// The faults in force.
    pub fn faults(&self) -> WsFaultSet {
        self.ctl.borrow().faults.clone()
    }

    /// Whether data generation is paused on `venue`.
    pub fn paused(&self, venue: Venue) -> bool {
        self.ctl.borrow().faults.get(venue).pause_data
    }

    /// Replaces a venue's state faults and fires its one-shot actions.
    pub fn set_faults(&self, venue: Venue, faults: &WsFaults) {
        self.ctl.send_modify(|c| {
            *c.faults.get_mut(venue) = faults.state();
            if faults.server_close {
                c.close_epoch[venue.index()] += 1;
            }
            if faults.tcp_drop {
                c.drop_epoch[venue.index()] += 1;
            }
        });
    }

    /// Tells every connection to close (server shutdown).
    pub fn shutdown(&self) {
        self.ctl.send_modify(|c| c.shutdown = true);
    }

    /// The feed of a streaming venue (Binance, Bybit, OKX).
    pub fn feed(&self, venue: Venue) -> Option<&broadcast::Sender<Arc<Batch>>> {
        match venue {
            Venue::Binance => Some(&self.feeds[0]),
            Venue::Bybit => Some(&self.feeds[1]),
            Venue::Okx => Some(&self.feeds[2]),
            Venue::Hyperliquid => None,
        }
    }

    /// The sent log of a venue.
    pub fn log(&self, venue: Venue) -> std::sync::MutexGuard<'_, SentLog> {
        lock(&self.logs[venue.index()])
    }

    /// The sent log as public entries: `skip` oldest kept entries left out, at most `limit`,
    /// only `conn` if given.
    pub fn sent(
        &self,
        venue: Venue,
        skip: usize,
        limit: usize,
        conn: Option<u64>,
    ) -> Vec<SentLiquidation> {
        let table = self.table(venue).clone();
        self.log(venue).entries(venue, &table, skip, limit, conn)
    }

    /// Counts of every venue.
    pub fn stats(&self) -> std::collections::BTreeMap<Venue, WsStats> {
        Venue::ALL
            .into_iter()
            .map(|v| (v, self.counters(v).snapshot()))
            .collect()
    }

    /// Clears counters (not the current connections and subscriptions) and the sent logs.
    pub fn reset(&self) {
        for v in Venue::ALL {
            self.counters(v).reset();
            self.log(v).clear();
        }
    }
}
