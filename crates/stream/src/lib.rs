//! Liquidation streams: one generic reconnecting WebSocket loop for every venue, one generic
//! polling loop, and the venues' pure pieces plugged into them.
//!
//! ```text
//!  SourceConfig::Feed ─► LiquidationFeed::tasks ─┬─ Sockets: WsProtocol per connection ─┬─► ws::WsTask (one per connection)
//!   (the venue crate's feed,                     │  (URL, subscribe frames, ping,        │   connect · subscribe · ack check
//!    from its VenueDescriptor)                   │   classify; pure)                     │   watchdog · backoff · rotation · gaps
//!  SourceConfig::Custom ─────────────────────────┼───────────────────────────────────────┘
//!                                                └─ Polls: LiquidationPoller per account ───► poll::PollTask (one per account)
//!                                                                                       │
//!                      StreamEvent (Liquidations, Gap, Connected, …) ◄── emit::Emitter ─┘ (logs + StreamStats)
//! ```
//!
//! [`spawn`] starts one task per connection or polled address and returns a [`StreamHandle`].
//! Everything venue-specific lives in the venue crates, plugged in through the seams of
//! [`ccxt_venue::liquidations`] (each venue crate's `liquidations` module); the
//! I/O lives in two loops here, [`ws`] and [`poll`], whose module docs state the behaviour:
//! backoff with full jitter, acknowledgement checks, the liveness watchdog, planned rotation
//! with overlap and de-duplication, gap records, REST fallback, polite shutdown.
//!
//! # Shutdown contract
//!
//! Cancelling the token stops every task promptly: sockets are closed with a close frame
//! (waiting at most 1 s for the venue's), polls in flight are abandoned, and
//! [`StreamHandle::join`] returns once all tasks are done. A clean shutdown records no gap; a
//! gap that was already open (the venue was down) is recorded up to the shutdown. Once
//! cancelled, events are only sent if the channel has room, so a consumer may stop reading
//! and join without deadlock. If the consumer drops the receiver, the tasks stop too.

mod backoff;
mod config;
mod dedupe;
mod emit;
mod event;
pub mod heartbeat;
pub mod poll;
mod stats;
pub mod ws;

use std::sync::Arc;

use ccxt_model::Venue;
use ccxt_model::time::now_ns;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use backoff::Backoff;
pub use ccxt_venue::liquidations::{
    FeedKind, FeedTasks, Inbound, Keepalive, LiquidationFeed, LiquidationPoller, Polled, WsProtocol,
};
pub use config::{ConfigError, SourceConfig, WsSettings, validate};
pub use dedupe::{LiquidationKey, RecentSet};
pub use event::StreamEvent;
pub use stats::{StreamStats, VenueCounters, VenueStats};

use crate::emit::Emitter;
use crate::poll::PollTask;
use crate::ws::WsTask;

/// The running streams.
#[derive(Debug)]
pub struct StreamHandle {
    tasks: Vec<JoinHandle<()>>,
    stats: Arc<StreamStats>,
}

impl StreamHandle {
    /// Waits until every task has stopped (after the cancellation token is cancelled, or the
    /// event receiver dropped). A task that panicked is logged.
    pub async fn join(self) {
        for task in self.tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "liquidation stream task failed");
            }
        }
    }

    /// The live counters, per venue.
    pub fn stats(&self) -> Arc<StreamStats> {
        self.stats.clone()
    }

    /// How many tasks run: one per WebSocket connection slot and per polled address.
    pub fn tasks(&self) -> usize {
        self.tasks.len()
    }
}

/// Starts every source; events go to `events` until `cancel` is cancelled.
///
/// One task per WebSocket connection (Binance and Bybit lists are sharded over several) and
/// one per polled Hyperliquid address. Must be called inside a tokio runtime. An invalid
/// configuration is not refused here: each problem [`validate`] finds is logged and the rest
/// runs (instruments of another venue and malformed addresses are skipped, unusable
/// durations replaced by defaults); call [`validate`] first to refuse it.
pub fn spawn(
    sources: Vec<SourceConfig>,
    events: mpsc::Sender<StreamEvent>,
    cancel: CancellationToken,
) -> StreamHandle {
    spawn_from(sources, events, cancel, None)
}

/// Like [`spawn`], but polled sources (Hyperliquid) start reading at `poll_from_ns` instead of
/// now: a collector restarting after downtime refills what the venue still serves. The poll
/// loop records as a gap only the part older than its catch-up depth
/// ([`LiquidationFeed::catch_up`]).
pub fn spawn_from(
    sources: Vec<SourceConfig>,
    events: mpsc::Sender<StreamEvent>,
    cancel: CancellationToken,
    poll_from_ns: Option<u64>,
) -> StreamHandle {
    let start = match poll_from_ns {
        Some(from) => Start::PollFrom(from),
        None => Start::Now,
    };
    spawn_inner(sources, events, cancel, |_| start.clone())
}

/// Where a venue's stream picks up after downtime: the moment it was last covered (e.g. the
/// last heartbeat of the collector that ran it) and why it was not covered since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// The last moment covered, UNIX ns.
    pub since_ns: u64,
    /// Why it was not covered since (the gap's reason): `stream-liquidations not running (stopped)`.
    pub reason: String,
    /// Liquidations of the venue stored already from about `since_ns` on (the keys): a polled
    /// source re-reading its downtime does not deliver them again.
    pub known: Vec<LiquidationKey>,
}

/// Like [`spawn`], resuming the venues in `resume` after downtime, each as its source allows:
/// a WebSocket stream records the downtime as a gap (per connection, as `reason`) from
/// `since_ns` to the moment its first connection is subscribed; a polled source (Hyperliquid)
/// re-reads from `since_ns` as far back as the venue serves and records only the older part
/// as a gap. Venues not in `resume` start now, with no gap.
pub fn spawn_resuming(
    sources: Vec<SourceConfig>,
    events: mpsc::Sender<StreamEvent>,
    cancel: CancellationToken,
    resume: &std::collections::BTreeMap<Venue, Resume>,
) -> StreamHandle {
    spawn_inner(sources, events, cancel, |venue| match resume.get(&venue) {
        Some(r) => Start::Resume(r.clone()),
        None => Start::Now,
    })
}

/// How one venue's tasks start.
#[derive(Debug, Clone)]
enum Start {
    Now,
    /// Polls start reading here (no gap for what is older than the catch-up depth beyond the
    /// poll loop's own); sockets start now.
    PollFrom(u64),
    Resume(Resume),
}

fn spawn_inner(
    sources: Vec<SourceConfig>,
    events: mpsc::Sender<StreamEvent>,
    cancel: CancellationToken,
    start_of: impl Fn(Venue) -> Start,
) -> StreamHandle {
    if let Err(ConfigError(problems)) = validate(&sources) {
        for problem in problems {
            tracing::error!(%problem, "liquidation stream configuration problem");
        }
    }
    let stats = Arc::new(StreamStats::default());
    // A child token: cancelled by the caller, or by the emitter when the consumer is gone.
    let stop = cancel.child_token();
    let out = Emitter::new(events, stats.clone(), stop.clone());
    let mut tasks = Vec::new();
    let mut socket = |ws: &WsSettings, protocol: Arc<dyn WsProtocol>| {
        let resume = match start_of(protocol.venue()) {
            Start::Resume(r) => Some(r),
            Start::Now | Start::PollFrom(_) => None,
        };
        let task = WsTask {
            protocol,
            settings: ws.sanitized(),
            out: out.clone(),
            cancel: stop.clone(),
            resume,
        };
        tasks.push(tokio::spawn(task.run()));
    };
    let mut pollers: Vec<PollTask> = Vec::new();
    for source in sources {
        let (ws, connections) = match source {
            SourceConfig::Custom { ws, connections } => (ws, connections),
            SourceConfig::Feed { ws, feed, symbols } => match feed.tasks(symbols.as_deref()) {
                FeedTasks::Sockets(connections) => match ws {
                    Some(ws) => (ws, connections),
                    None => continue, // reported by validate
                },
                FeedTasks::Polls(polls) => {
                    // The pollers of one feed share their de-duplication.
                    let dedupe = Arc::new(Mutex::new(RecentSet::default()));
                    let known: Arc<std::collections::HashSet<LiquidationKey>> =
                        Arc::new(match start_of(feed.venue()) {
                            Start::Resume(r) => r.known.into_iter().collect(),
                            Start::Now | Start::PollFrom(_) => Default::default(),
                        });
                    pollers.extend(polls.into_iter().map(|poller| PollTask {
                        poller,
                        out: out.clone(),
                        cancel: stop.clone(),
                        dedupe: dedupe.clone(),
                        known: known.clone(),
                    }));
                    continue;
                }
            },
        };
        for protocol in connections {
            socket(&ws, protocol);
        }
    }
    for poller in pollers {
        let now = now_ns();
        let start = start_of(poller.poller.venue());
        tasks.push(tokio::spawn(async move {
            match start {
                Start::Now => poller.run(now, None).await,
                Start::PollFrom(from) => poller.run(from.min(now), None).await,
                Start::Resume(r) => poller.run_resuming(r.since_ns.min(now), r.reason).await,
            };
        }));
    }
    StreamHandle { tasks, stats }
}
