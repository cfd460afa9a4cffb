//! The one WebSocket loop every venue runs: one task (`WsTask`) per connection slot.
//!
//! ```text
//!          ┌──────────── backoff (full jitter; reset after stable_after up) ◄──────────┐
//!          ▼                                                                           │
//!   connect ─► send subscribe frames (paced) ─► every ack within ack_timeout? ── no ──►│ SubscriptionRejected
//!                                                   │ yes                              │
//!                                   close the open gap (Gap event), Connected          │
//!                                                   ▼                                  │
//!   session: read frames ─► classify ─► de-duplicate ─► Liquidations / Malformed       │
//!            every heartbeat: app ping (Bybit, Hyperliquid)                            │
//!            no frame for 2 × heartbeat, close frame, error, EOF ──► Disconnected ─────┘ (gap opens at the last frame)
//!            rotate_after: open + subscribe a successor, both deliver for rotation_overlap, close the old one
//!   while down longer than fallback_after and the protocol has a fallback: poll it
//!   cancel: close politely, no gap
//! ```
//!
//! Keep-alive. Any frame — data, pong, ping — proves the connection alive. Bybit and
//! Hyperliquid get an application ping every heartbeat and answer it, so a quiet liquidation
//! channel still shows frames. Binance pings *us* every 3 minutes; tungstenite queues the pong
//! by itself and sends it as we keep reading, so Binance's heartbeat is 3 minutes and its
//! watchdog 6. We send no unsolicited pongs: they would keep Binance's side of the connection
//! alive, which the automatic answers already do, but draw no frame back, so they cannot tell
//! us anything about a half-open socket.
//!
//! Gaps. A lost connection opens a gap at its last frame (a frame is the last proof the
//! stream was flowing); the gap closes when the next connection is fully subscribed. If the
//! very first connection fails, the gap starts when the task started (or, resuming after
//! downtime, at the moment the stream was last covered). If a fallback poller
//! ran meanwhile, it re-read the gap from its start and the gap shrinks to what it did not
//! cover. A planned rotation is no gap (the successor is subscribed before the old connection
//! closes), and neither is a shutdown; a gap still open at shutdown is recorded up to then.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ccxt_model::time::now_ns;
use ccxt_model::{Gap, Liquidation};
use futures::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::config::WsSettings;
use crate::dedupe::{RecentSet, new_origin};
use crate::emit::Emitter;
use crate::poll::PollTask;
use ccxt_venue::liquidations::{Inbound, WsProtocol};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The most frames read in one go before their liquidations are handed on (see
/// `WsTask::on_frames`).
const MAX_BATCH: usize = 512;

/// How long a polite close waits for the venue's close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a connection could not be opened and subscribed.
#[derive(Debug, thiserror::Error)]
enum OpenError {
    #[error("cannot connect to {url}: {detail}")]
    Connect { url: String, detail: String },
    #[error("connecting to {url} timed out after {after:?}")]
    ConnectTimeout { url: String, after: Duration },
    #[error("subscription rejected: {0}")]
    Rejected(String),
    #[error("subscription rejected: no acknowledgement within {0:?}")]
    AckTimeout(Duration),
    #[error("connection lost while subscribing: {0}")]
    Lost(String),
    #[error("cancelled")]
    Cancelled,
}

impl OpenError {
    /// The refusal message, when the venue refused (or ignored) the subscription.
    fn refusal(&self) -> Option<String> {
        match self {
            OpenError::Rejected(message) => Some(message.clone()),
            OpenError::AckTimeout(after) => Some(format!("no acknowledgement within {after:?}")),
            _ => None,
        }
    }
}

/// An open, subscribed connection.
struct Connection {
    /// Origin id for de-duplication: what this connection delivers is not a duplicate of
    /// itself.
    origin: u64,
    socket: Socket,
    last_frame: Instant,
    last_frame_ns: u64,
    next_ping: Instant,
    pings: u64,
}

/// A connection just subscribed, with what it delivered while the acknowledgements came in.
struct Subscribed {
    conn: Connection,
    early: Vec<Inbound>,
}

/// What one read step of a connection produced.
enum Step {
    Message(Option<Result<Message, WsError>>),
    /// No frame for 2 × heartbeat.
    Silent,
    PingDue,
}

impl Connection {
    fn touch(&mut self) {
        self.last_frame = Instant::now();
        self.last_frame_ns = now_ns();
    }

    /// The next thing that happens on this connection. Cancel-safe: it only reads and waits.
    /// A frame already waiting always wins over the watchdog, so a task that was busy (say,
    /// waiting for room in the event channel) does not mistake its own delay for silence.
    async fn step(&mut self, heartbeat: Duration, pings: bool) -> Step {
        let watchdog = self.last_frame + heartbeat.saturating_mul(2);
        tokio::select! {
            biased;
            message = self.socket.next() => Step::Message(message),
            () = sleep_until(watchdog) => Step::Silent,
            () = sleep_until(self.next_ping), if pings => Step::PingDue,
        }
    }
}

async fn step_opt(conn: &mut Option<Connection>, heartbeat: Duration, pings: bool) -> Step {
    match conn {
        Some(conn) => conn.step(heartbeat, pings).await,
        None => std::future::pending().await,
    }
}

async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

type Opening = Pin<Box<dyn Future<Output = Result<Subscribed, OpenError>> + Send>>;

async fn opening_opt(opening: &mut Option<Opening>) -> Result<Subscribed, OpenError> {
    match opening {
        Some(future) => future.as_mut().await,
        None => std::future::pending().await,
    }
}

/// A frame read from a socket, classified.
enum Frame {
    Inbound(Inbound),
    /// A WebSocket ping or pong (tungstenite answers pings itself).
    Control,
    /// The connection is over.
    Closed(String),
}

fn read_frame(protocol: &dyn WsProtocol, message: Option<Result<Message, WsError>>) -> Frame {
    match message {
        Some(Ok(Message::Text(text))) => Frame::Inbound(protocol.classify(text.as_str(), now_ns())),
        Some(Ok(Message::Binary(bytes))) => match std::str::from_utf8(&bytes) {
            Ok(text) => Frame::Inbound(protocol.classify(text, now_ns())),
            Err(_) => Frame::Inbound(Inbound::Malformed(format!(
                "binary frame of {} bytes that is not UTF-8 text",
                bytes.len()
            ))),
        },
        Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => Frame::Control,
        Some(Ok(Message::Close(frame))) => Frame::Closed(match frame {
            Some(frame) if frame.reason.is_empty() => {
                format!("server closed the connection ({})", u16::from(frame.code))
            }
            Some(frame) => format!(
                "server closed the connection ({} {})",
                u16::from(frame.code),
                frame.reason
            ),
            None => "server closed the connection".to_string(),
        }),
        Some(Err(e)) => Frame::Closed(format!("connection error: {e}")),
        None => Frame::Closed("connection ended without a close frame".to_string()),
    }
}

/// Opens a connection, sends the subscribe frames (paced by the protocol's send interval) and
/// waits for every acknowledgement. Owns everything it uses, so it can run beside a live
/// connection during a rotation.
async fn open(
    protocol: Arc<dyn WsProtocol>,
    settings: WsSettings,
    cancel: CancellationToken,
) -> Result<Subscribed, OpenError> {
    let mut socket = connect(protocol.as_ref(), &settings, &cancel).await?;
    let frames = protocol.subscribe_frames();
    if let Err(e) = subscribe(&mut socket, &frames, protocol.as_ref(), &settings, &cancel).await {
        if matches!(e, OpenError::Cancelled) {
            close_politely(socket).await;
        }
        return Err(e);
    }
    let (early, last_frame, last_frame_ns) = match await_acks(
        &mut socket,
        frames.len(),
        protocol.as_ref(),
        &settings,
        &cancel,
    )
    .await
    {
        Ok(acked) => acked,
        Err((error, close)) => {
            if close {
                close_politely(socket).await;
            }
            return Err(error);
        }
    };
    Ok(Subscribed {
        conn: Connection {
            origin: new_origin(),
            socket,
            last_frame,
            last_frame_ns,
            next_ping: Instant::now() + settings.heartbeat,
            pings: 0,
        },
        early,
    })
}

/// Opens the socket within the acknowledgement timeout.
async fn connect(
    protocol: &dyn WsProtocol,
    settings: &WsSettings,
    cancel: &CancellationToken,
) -> Result<Socket, OpenError> {
    let url = protocol.url(&settings.root_url);
    // What errors, logs and gap reasons show: no credentials.
    let shown = ccxt_transport::redact_url(&url);
    let connect = tokio::time::timeout(
        settings.ack_timeout,
        // Nagle off: our frames are small and rare (subscriptions, pings), never worth
        // holding back.
        tokio_tungstenite::connect_async_with_config(url.as_str(), None, true),
    );
    tokio::select! {
        () = cancel.cancelled() => Err(OpenError::Cancelled),
        result = connect => match result {
            Err(_) => Err(OpenError::ConnectTimeout { url: shown, after: settings.ack_timeout }),
            Ok(Err(e)) => Err(OpenError::Connect {
                url: shown,
                detail: ccxt_transport::redact_urls_in(&e.to_string()),
            }),
            Ok(Ok((socket, _response))) => Ok(socket),
        },
    }
}

/// Sends the subscribe frames, paced by the protocol's send interval. `Cancelled` asks the
/// caller to close politely.
async fn subscribe(
    socket: &mut Socket,
    frames: &[String],
    protocol: &dyn WsProtocol,
    settings: &WsSettings,
    cancel: &CancellationToken,
) -> Result<(), OpenError> {
    let interval = protocol.send_interval();
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 && !interval.is_zero() {
            tokio::select! {
                () = cancel.cancelled() => return Err(OpenError::Cancelled),
                () = tokio::time::sleep(interval) => {}
            }
        }
        let sent = tokio::time::timeout(
            settings.ack_timeout,
            socket.send(Message::text(frame.as_str())),
        )
        .await;
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(OpenError::Lost(format!(
                    "cannot send the subscription: {e}"
                )));
            }
            Err(_) => return Err(OpenError::Lost("sending the subscription timed out".into())),
        }
    }
    Ok(())
}

/// What arrived before every subscription was acknowledged, and when the last frame came.
type Acked = (Vec<Inbound>, Instant, u64);

/// Waits for `pending` acknowledgements within the timeout, keeping the data that comes
/// first. On failure, the error and whether the socket should be closed politely.
async fn await_acks(
    socket: &mut Socket,
    mut pending: usize,
    protocol: &dyn WsProtocol,
    settings: &WsSettings,
    cancel: &CancellationToken,
) -> Result<Acked, (OpenError, bool)> {
    let deadline = Instant::now() + settings.ack_timeout;
    let mut early = Vec::new();
    let (mut last_frame, mut last_frame_ns) = (Instant::now(), now_ns());
    while pending > 0 {
        let message = tokio::select! {
            () = cancel.cancelled() => return Err((OpenError::Cancelled, true)),
            () = sleep_until(deadline) => {
                return Err((OpenError::AckTimeout(settings.ack_timeout), true));
            }
            message = socket.next() => message,
        };
        match read_frame(protocol, message) {
            Frame::Closed(reason) => return Err((OpenError::Lost(reason), false)),
            Frame::Control => {}
            Frame::Inbound(Inbound::Ack) => pending -= 1,
            Frame::Inbound(Inbound::Rejected(message)) => {
                return Err((OpenError::Rejected(message), true));
            }
            Frame::Inbound(inbound @ (Inbound::Liquidations(_) | Inbound::Malformed(_))) => {
                early.push(inbound);
            }
            Frame::Inbound(Inbound::Pong | Inbound::Other) => {}
        }
        (last_frame, last_frame_ns) = (Instant::now(), now_ns());
    }
    Ok((early, last_frame, last_frame_ns))
}

/// Sends a close frame and waits (briefly) for the venue's.
async fn close_politely(mut socket: Socket) {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        if socket.close(Some(frame)).await.is_ok() {
            while let Some(Ok(_)) = socket.next().await {}
        }
    })
    .await;
}

/// How a session ended.
enum End {
    /// Cancelled, or the consumer is gone: stop without a gap.
    Stopped,
    /// The connection was lost.
    Lost { reason: String, last_frame_ns: u64 },
}

/// What handling a frame asks of the session.
enum Flow {
    Continue,
    Stop,
    Lost(String),
}

/// What one event of a session asks of it.
enum After {
    Continue,
    /// Stop without a gap: close the current connection (and the successor, if asked).
    Stop {
        close_next: bool,
    },
    /// The connection was lost (no successor to take over).
    Lost(String),
}

/// A session's rotation: the successor being opened or in its overlap, and when to rotate.
struct Rotation {
    /// The subscribed successor, during the overlap.
    next: Option<Connection>,
    /// The successor being opened.
    opening: Option<Opening>,
    /// When to open a successor.
    rotate_at: Option<Instant>,
    /// When the overlap ends.
    overlap_until: Option<Instant>,
    /// Retries of a failed successor.
    backoff: Backoff,
}

/// A gap that opened and has not closed yet.
struct OpenGap {
    start_ns: u64,
    reason: String,
}

/// A fallback poller running while the socket is down.
struct Fallback {
    handover: oneshot::Sender<u64>,
    task: JoinHandle<u64>,
}

impl Fallback {
    /// Stops the poller after a last poll up to `at_ns`; returns up to when it covered.
    async fn hand_over(self, at_ns: u64) -> Option<u64> {
        let _ = self.handover.send(at_ns);
        self.task.await.ok()
    }
}

/// What a [`WsTask`] carries from one connection attempt to the next.
struct Slot {
    /// When the task started (the start of a gap before the first connection).
    started_ns: u64,
    /// The gap the next subscription closes.
    open_gap: Option<OpenGap>,
    /// Since when the socket is down, until the fallback is started.
    down_since: Option<Instant>,
    /// The fallback poller, while it runs.
    fallback: Option<Fallback>,
    /// Whether a connection was subscribed before (a reconnect, then).
    connected_before: bool,
    /// Rows already delivered, across connections.
    dedupe: RecentSet,
}

/// The task that keeps one connection slot subscribed.
pub(crate) struct WsTask {
    pub(crate) protocol: Arc<dyn WsProtocol>,
    pub(crate) settings: WsSettings,
    pub(crate) out: Emitter,
    pub(crate) cancel: CancellationToken,
    /// The stream was not covered since this moment, for this reason (the collector was not
    /// running): the gap is open from the start and closes when the first connection is
    /// subscribed.
    pub(crate) resume: Option<crate::Resume>,
}

impl WsTask {
    /// Runs until cancelled (or until the consumer is gone).
    pub(crate) async fn run(self) {
        let started_ns = now_ns();
        let mut backoff = Backoff::new(self.settings.backoff_min, self.settings.backoff_max);
        let mut slot = Slot {
            started_ns,
            open_gap: self.resume.as_ref().map(|r| OpenGap {
                start_ns: r.since_ns.min(started_ns),
                reason: r.reason.clone(),
            }),
            down_since: None,
            fallback: None,
            connected_before: false,
            dedupe: RecentSet::default(),
        };
        loop {
            let attempt = open(
                self.protocol.clone(),
                self.settings.clone(),
                self.cancel.clone(),
            )
            .await;
            let go_on = match attempt {
                Ok(subscribed) => self.serve(subscribed, &mut slot, &mut backoff).await,
                Err(OpenError::Cancelled) => false,
                Err(error) => self.failed_to_open(error, &mut slot).await,
            };
            if !go_on || !self.wait_to_retry(&mut backoff, &mut slot).await {
                break;
            }
        }
        self.finish(slot).await;
    }

    /// Records the gap a subscribed connection closes, then reads it until it is lost; whether
    /// to try again.
    async fn serve(&self, subscribed: Subscribed, slot: &mut Slot, backoff: &mut Backoff) -> bool {
        let venue = self.protocol.venue();
        let stream = self.protocol.stream();
        let subscribed_ns = now_ns();
        let covered = match slot.fallback.take() {
            Some(f) => f.hand_over(subscribed_ns).await,
            None => None,
        };
        if let Some(gap) = slot.open_gap.take() {
            let start_ns = covered.map_or(gap.start_ns, |c| c.max(gap.start_ns));
            if start_ns < subscribed_ns && !self.gap(start_ns, subscribed_ns, gap.reason).await {
                return false;
            }
        }
        if !self
            .out
            .connected(venue, stream, slot.connected_before)
            .await
        {
            return false;
        }
        slot.connected_before = true;
        let session_start = Instant::now();
        match self.session(subscribed, &mut slot.dedupe).await {
            End::Stopped => false,
            End::Lost {
                reason,
                last_frame_ns,
            } => {
                if session_start.elapsed() >= self.settings.stable_after {
                    backoff.reset();
                }
                if !self.out.disconnected(venue, stream, &reason).await {
                    return false;
                }
                slot.open_gap = Some(OpenGap {
                    start_ns: last_frame_ns,
                    reason,
                });
                slot.down_since = Some(Instant::now());
                true
            }
        }
    }

    /// Reports a failed attempt and opens the gap if none is open; whether to try again.
    async fn failed_to_open(&self, error: OpenError, slot: &mut Slot) -> bool {
        let venue = self.protocol.venue();
        let stream = self.protocol.stream();
        match error.refusal() {
            Some(message) => {
                if !self.out.rejected(venue, stream, &message).await {
                    return false;
                }
            }
            None => {
                tracing::warn!(%venue, %stream, %error, "liquidation stream cannot connect; retrying with backoff");
            }
        }
        slot.open_gap.get_or_insert_with(|| OpenGap {
            start_ns: slot.started_ns,
            reason: error.to_string(),
        });
        slot.down_since.get_or_insert_with(Instant::now);
        true
    }

    /// Waits before the next attempt, starting the fallback when it is due; false if
    /// cancelled.
    async fn wait_to_retry(&self, backoff: &mut Backoff, slot: &mut Slot) -> bool {
        let wake = Instant::now() + backoff.next_delay();
        loop {
            let fallback_due = match (
                &slot.fallback,
                self.settings.fallback_after,
                slot.down_since,
            ) {
                (None, Some(after), Some(since)) => Some(since + after),
                _ => None,
            };
            if let Some(due) = fallback_due
                && due <= Instant::now()
            {
                let from_ns = slot
                    .open_gap
                    .as_ref()
                    .map_or(slot.started_ns, |g| g.start_ns);
                slot.fallback = self.start_fallback(from_ns);
                slot.down_since = None; // started (or none to start): do not ask again
                continue;
            }
            let until = fallback_due.map_or(wake, |due| due.min(wake));
            tokio::select! {
                () = self.cancel.cancelled() => return false,
                () = sleep_until(until) => {}
            }
            if Instant::now() >= wake {
                return true;
            }
        }
    }

    /// Shutdown: the fallback sees the same cancellation and stops; what of a gap still open
    /// it did not cover is recorded up to now (that time was not covered).
    async fn finish(&self, mut slot: Slot) {
        let covered = match slot.fallback.take() {
            Some(f) => f.task.await.ok(),
            None => None,
        };
        if let Some(gap) = slot.open_gap.take() {
            let start_ns = covered.map_or(gap.start_ns, |c| c.max(gap.start_ns));
            let end_ns = now_ns();
            if start_ns < end_ns {
                self.gap(start_ns, end_ns, gap.reason).await;
            }
        }
    }

    async fn gap(&self, start_ns: u64, end_ns: u64, reason: String) -> bool {
        self.out
            .gap(Gap {
                venue: self.protocol.venue(),
                stream: self.protocol.stream().to_string(),
                start_ns,
                end_ns,
                reason,
                ts_init: now_ns(),
            })
            .await
    }

    fn start_fallback(&self, from_ns: u64) -> Option<Fallback> {
        let poller = self.protocol.fallback()?;
        tracing::warn!(
            venue = %self.protocol.venue(),
            stream = %self.protocol.stream(),
            fallback = %poller.stream(),
            "socket down too long; polling the REST fallback"
        );
        let (handover, rx) = oneshot::channel();
        let task = PollTask {
            poller,
            out: self.out.clone(),
            cancel: self.cancel.clone(),
            dedupe: Arc::new(Mutex::new(RecentSet::default())),
            known: Arc::default(),
        };
        Some(Fallback {
            handover,
            task: tokio::spawn(task.run(from_ns, Some(rx))),
        })
    }

    /// Reads a subscribed connection (and, during a rotation, its successor) until it is lost
    /// or the task is cancelled.
    async fn session(&self, subscribed: Subscribed, dedupe: &mut RecentSet) -> End {
        let heartbeat = self.settings.heartbeat;
        let pings = self.protocol.ping_frame(0).is_some();
        let Subscribed {
            conn: mut current,
            early,
        } = subscribed;
        self.out.frame(self.protocol.venue(), current.last_frame_ns);
        for inbound in early {
            if let Flow::Stop = self.on_inbound(current.origin, inbound, dedupe).await {
                close_politely(current.socket).await;
                return End::Stopped;
            }
        }
        let mut rot = Rotation {
            next: None,
            opening: None,
            rotate_at: self.settings.rotate_after.map(|d| Instant::now() + d),
            overlap_until: None,
            backoff: Backoff::new(self.settings.backoff_min, self.settings.backoff_max),
        };
        loop {
            // Unbiased: during a rotation overlap neither connection starves the other.
            let after = tokio::select! {
                () = self.cancel.cancelled() => After::Stop { close_next: true },
                step = current.step(heartbeat, pings) => {
                    self.on_current(&mut current, step, &mut rot, dedupe).await
                }
                step = step_opt(&mut rot.next, heartbeat, pings) => {
                    self.on_successor(step, &mut rot, dedupe).await
                }
                result = opening_opt(&mut rot.opening) => {
                    self.on_opened(result, &mut rot, dedupe).await
                }
                () = sleep_opt(rot.overlap_until) => self.on_overlap_over(&mut current, &mut rot),
                () = sleep_opt(rot.rotate_at), if rot.opening.is_none() && rot.next.is_none() => {
                    self.on_rotate(&mut rot)
                }
            };
            match after {
                After::Continue => {}
                After::Stop { close_next } => {
                    drop(rot.opening.take());
                    if close_next && let Some(n) = rot.next.take() {
                        close_politely(n.socket).await;
                    }
                    close_politely(current.socket).await;
                    return End::Stopped;
                }
                After::Lost(reason) => {
                    drop(rot.opening.take());
                    return End::Lost {
                        reason,
                        last_frame_ns: current.last_frame_ns,
                    };
                }
            }
        }
    }

    /// A step of the current connection. Lost during a rotation overlap, the successor (already
    /// subscribed) simply takes over.
    async fn on_current(
        &self,
        current: &mut Connection,
        step: Step,
        rot: &mut Rotation,
        dedupe: &mut RecentSet,
    ) -> After {
        match self.on_step(current, step, dedupe).await {
            Flow::Continue => After::Continue,
            Flow::Stop => After::Stop { close_next: false },
            Flow::Lost(reason) => match rot.next.take() {
                Some(successor) => {
                    let (venue, stream) = (self.protocol.venue(), self.protocol.stream());
                    tracing::info!(%venue, %stream, %reason, "connection lost during rotation; successor takes over");
                    *current = successor;
                    rot.overlap_until = None;
                    self.out.rotated(venue, stream);
                    rot.rotate_at = self.settings.rotate_after.map(|d| Instant::now() + d);
                    After::Continue
                }
                None => After::Lost(reason),
            },
        }
    }

    /// A step of the rotation successor. Lost in the overlap: the old connection stays and the
    /// rotation is tried again later.
    async fn on_successor(&self, step: Step, rot: &mut Rotation, dedupe: &mut RecentSet) -> After {
        let Some(successor) = rot.next.as_mut() else {
            return After::Continue;
        };
        match self.on_step(successor, step, dedupe).await {
            Flow::Continue => After::Continue,
            Flow::Stop => After::Stop { close_next: true },
            Flow::Lost(reason) => {
                let (venue, stream) = (self.protocol.venue(), self.protocol.stream());
                tracing::warn!(%venue, %stream, %reason, "rotation successor lost; keeping the current connection");
                rot.next = None;
                rot.overlap_until = None;
                rot.rotate_at = Some(Instant::now() + rot.backoff.next_delay());
                After::Continue
            }
        }
    }

    /// Rotation is due: open the successor beside the current connection.
    fn on_rotate(&self, rot: &mut Rotation) -> After {
        rot.rotate_at = None;
        let (venue, stream) = (self.protocol.venue(), self.protocol.stream());
        tracing::info!(%venue, %stream, "rotating connection: opening its successor");
        rot.opening = Some(Box::pin(open(
            self.protocol.clone(),
            self.settings.clone(),
            self.cancel.clone(),
        )));
        After::Continue
    }

    /// The successor is subscribed (both deliver until the overlap is over), or failed to open
    /// (retried with backoff).
    async fn on_opened(
        &self,
        result: Result<Subscribed, OpenError>,
        rot: &mut Rotation,
        dedupe: &mut RecentSet,
    ) -> After {
        rot.opening = None;
        match result {
            Ok(Subscribed { conn, early }) => {
                self.out.frame(self.protocol.venue(), conn.last_frame_ns);
                let origin = conn.origin;
                rot.next = Some(conn);
                rot.overlap_until = Some(Instant::now() + self.settings.rotation_overlap);
                for inbound in early {
                    if let Flow::Stop = self.on_inbound(origin, inbound, dedupe).await {
                        return After::Stop { close_next: false };
                    }
                }
                After::Continue
            }
            Err(OpenError::Cancelled) => After::Stop { close_next: false },
            Err(error) => {
                let (venue, stream) = (self.protocol.venue(), self.protocol.stream());
                let retry = rot.backoff.next_delay();
                tracing::warn!(%venue, %stream, %error, retry_in = ?retry, "rotation successor failed; keeping the current connection");
                rot.rotate_at = Some(Instant::now() + retry);
                After::Continue
            }
        }
    }

    /// The overlap is over: the successor replaces the current connection, which is closed.
    fn on_overlap_over(&self, current: &mut Connection, rot: &mut Rotation) -> After {
        rot.overlap_until = None;
        if let Some(successor) = rot.next.take() {
            let old = std::mem::replace(current, successor);
            tokio::spawn(close_politely(old.socket));
            self.out
                .rotated(self.protocol.venue(), self.protocol.stream());
            rot.backoff.reset();
            rot.rotate_at = self.settings.rotate_after.map(|d| Instant::now() + d);
        }
        After::Continue
    }

    /// Handles one step of a connection: a frame, silence, or a ping that is due.
    async fn on_step(&self, conn: &mut Connection, step: Step, dedupe: &mut RecentSet) -> Flow {
        match step {
            Step::Silent => Flow::Lost(format!(
                "no frame for {:?} (2 × heartbeat)",
                self.settings.heartbeat.saturating_mul(2)
            )),
            Step::PingDue => {
                conn.pings += 1;
                conn.next_ping = Instant::now() + self.settings.heartbeat;
                match self.protocol.ping_frame(conn.pings) {
                    // Bounded: a send blocked on a dead peer must not stall the watchdog.
                    Some(ping) => {
                        let sent = tokio::time::timeout(
                            self.settings.heartbeat,
                            conn.socket.send(Message::text(ping)),
                        )
                        .await;
                        match sent {
                            Ok(Ok(())) => Flow::Continue,
                            Ok(Err(e)) => Flow::Lost(format!("cannot send a ping: {e}")),
                            Err(_) => Flow::Lost("sending a ping timed out".to_string()),
                        }
                    }
                    None => Flow::Continue,
                }
            }
            Step::Message(message) => self.on_frames(conn, message, dedupe).await,
        }
    }

    /// Handles a frame and every further frame the connection already holds (at most
    /// [`MAX_BATCH`]): their liquidations go out as one event, in order, so a busy stream costs
    /// one wake-up of the consumer per batch instead of one per frame. Anything else (a
    /// malformed frame, a refusal, the end of the connection) first sends what was gathered.
    async fn on_frames(
        &self,
        conn: &mut Connection,
        message: Option<Result<Message, WsError>>,
        dedupe: &mut RecentSet,
    ) -> Flow {
        let venue = self.protocol.venue();
        let mut batch: Vec<Liquidation> = Vec::new();
        let mut frame = read_frame(self.protocol.as_ref(), message);
        let mut frames = 0usize;
        loop {
            frames += 1;
            match frame {
                Frame::Inbound(Inbound::Liquidations(rows)) => {
                    conn.touch();
                    if batch.is_empty() {
                        batch = rows;
                    } else {
                        batch.extend(rows);
                    }
                }
                Frame::Control => conn.touch(),
                Frame::Inbound(Inbound::Ack | Inbound::Pong | Inbound::Other) => conn.touch(),
                other => {
                    self.out.frame(venue, conn.last_frame_ns);
                    if !batch.is_empty()
                        && let Flow::Stop = self
                            .on_inbound(conn.origin, Inbound::Liquidations(batch), dedupe)
                            .await
                    {
                        return Flow::Stop;
                    }
                    return match other {
                        Frame::Closed(reason) => Flow::Lost(reason),
                        Frame::Inbound(inbound) => {
                            conn.touch();
                            self.out.frame(venue, conn.last_frame_ns);
                            self.on_inbound(conn.origin, inbound, dedupe).await
                        }
                        Frame::Control => Flow::Continue,
                    };
                }
            }
            if frames >= MAX_BATCH {
                break;
            }
            // A frame already read from the socket (or in its buffer) is taken now; when
            // none is ready, the session's select waits for the next one as usual.
            match conn.socket.next().now_or_never() {
                Some(message) => frame = read_frame(self.protocol.as_ref(), message),
                None => break,
            }
        }
        self.out.frame(venue, conn.last_frame_ns);
        if batch.is_empty() {
            return Flow::Continue;
        }
        self.on_inbound(conn.origin, Inbound::Liquidations(batch), dedupe)
            .await
    }

    /// Handles one classified frame from the connection `origin`.
    async fn on_inbound(&self, origin: u64, inbound: Inbound, dedupe: &mut RecentSet) -> Flow {
        let venue = self.protocol.venue();
        let delivered = match inbound {
            Inbound::Liquidations(rows) => {
                let (rows, dropped) = dedupe.filter(rows, origin);
                self.out.duplicates(venue, dropped);
                self.out.liquidations(venue, rows).await
            }
            Inbound::Malformed(detail) => {
                self.out
                    .malformed(venue, self.protocol.stream(), detail)
                    .await
            }
            Inbound::Rejected(message) => {
                // A refusal after the subscription (e.g. of a later request): resubscribe.
                if !self
                    .out
                    .rejected(venue, self.protocol.stream(), &message)
                    .await
                {
                    return Flow::Stop;
                }
                return Flow::Lost(format!("subscription rejected: {message}"));
            }
            Inbound::Ack | Inbound::Pong | Inbound::Other => true,
        };
        if delivered {
            Flow::Continue
        } else {
            Flow::Stop
        }
    }
}
