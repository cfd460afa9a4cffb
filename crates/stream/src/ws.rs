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

use ccxt_model::Gap;
use ccxt_model::time::now_ns;
use futures::{SinkExt, StreamExt};
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
use crate::protocol::{Inbound, WsProtocol};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

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
    let url = protocol.url(&settings.root_url);
    // What errors, logs and gap reasons show: no credentials.
    let shown = ccxt_transport::redact_url(&url);
    let connect = tokio::time::timeout(
        settings.ack_timeout,
        // Nagle off: our frames are small and rare (subscriptions, pings), never worth
        // holding back.
        tokio_tungstenite::connect_async_with_config(url.as_str(), None, true),
    );
    let mut socket = tokio::select! {
        () = cancel.cancelled() => return Err(OpenError::Cancelled),
        result = connect => match result {
            Err(_) => return Err(OpenError::ConnectTimeout { url: shown, after: settings.ack_timeout }),
            Ok(Err(e)) => return Err(OpenError::Connect {
                url: shown,
                detail: ccxt_transport::redact_urls_in(&e.to_string()),
            }),
            Ok(Ok((socket, _response))) => socket,
        },
    };
    let frames = protocol.subscribe_frames();
    let interval = protocol.send_interval();
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 && !interval.is_zero() {
            tokio::select! {
                () = cancel.cancelled() => {
                    close_politely(socket).await;
                    return Err(OpenError::Cancelled);
                }
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
    let mut pending = frames.len();
    let deadline = Instant::now() + settings.ack_timeout;
    let mut early = Vec::new();
    let (mut last_frame, mut last_frame_ns) = (Instant::now(), now_ns());
    while pending > 0 {
        let message = tokio::select! {
            () = cancel.cancelled() => {
                close_politely(socket).await;
                return Err(OpenError::Cancelled);
            }
            () = sleep_until(deadline) => {
                close_politely(socket).await;
                return Err(OpenError::AckTimeout(settings.ack_timeout));
            }
            message = socket.next() => message,
        };
        match read_frame(protocol.as_ref(), message) {
            Frame::Closed(reason) => return Err(OpenError::Lost(reason)),
            Frame::Control => {}
            Frame::Inbound(Inbound::Ack) => pending -= 1,
            Frame::Inbound(Inbound::Rejected(message)) => {
                close_politely(socket).await;
                return Err(OpenError::Rejected(message));
            }
            Frame::Inbound(inbound @ (Inbound::Liquidations(_) | Inbound::Malformed(_))) => {
                early.push(inbound);
            }
            Frame::Inbound(Inbound::Pong | Inbound::Other) => {}
        }
        (last_frame, last_frame_ns) = (Instant::now(), now_ns());
    }
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
        let venue = self.protocol.venue();
        let stream = self.protocol.stream().to_string();
        let started_ns = now_ns();
        let mut backoff = Backoff::new(self.settings.backoff_min, self.settings.backoff_max);
        let mut open_gap: Option<OpenGap> = self.resume.as_ref().map(|r| OpenGap {
            start_ns: r.since_ns.min(started_ns),
            reason: r.reason.clone(),
        });
        let mut down_since: Option<Instant> = None;
        let mut fallback: Option<Fallback> = None;
        let mut connected_before = false;
        let mut dedupe = RecentSet::default();
        'attempts: loop {
            let attempt = open(
                self.protocol.clone(),
                self.settings.clone(),
                self.cancel.clone(),
            )
            .await;
            match attempt {
                Ok(subscribed) => {
                    let subscribed_ns = now_ns();
                    let covered = match fallback.take() {
                        Some(f) => f.hand_over(subscribed_ns).await,
                        None => None,
                    };
                    if let Some(gap) = open_gap.take() {
                        let start_ns = covered.map_or(gap.start_ns, |c| c.max(gap.start_ns));
                        if start_ns < subscribed_ns
                            && !self.gap(start_ns, subscribed_ns, gap.reason).await
                        {
                            break 'attempts;
                        }
                    }
                    if !self.out.connected(venue, &stream, connected_before).await {
                        break 'attempts;
                    }
                    connected_before = true;
                    let session_start = Instant::now();
                    match self.session(subscribed, &mut dedupe).await {
                        End::Stopped => break 'attempts,
                        End::Lost {
                            reason,
                            last_frame_ns,
                        } => {
                            if session_start.elapsed() >= self.settings.stable_after {
                                backoff.reset();
                            }
                            if !self.out.disconnected(venue, &stream, &reason).await {
                                break 'attempts;
                            }
                            open_gap = Some(OpenGap {
                                start_ns: last_frame_ns,
                                reason,
                            });
                            down_since = Some(Instant::now());
                        }
                    }
                }
                Err(OpenError::Cancelled) => break 'attempts,
                Err(error) => {
                    match error.refusal() {
                        Some(message) => {
                            if !self.out.rejected(venue, &stream, &message).await {
                                break 'attempts;
                            }
                        }
                        None => {
                            tracing::warn!(%venue, %stream, %error, "liquidation stream cannot connect; retrying with backoff");
                        }
                    }
                    open_gap.get_or_insert_with(|| OpenGap {
                        start_ns: started_ns,
                        reason: error.to_string(),
                    });
                    down_since.get_or_insert_with(Instant::now);
                }
            }
            // Wait before the next attempt; start the fallback when it is due.
            let wake = Instant::now() + backoff.next_delay();
            loop {
                let fallback_due = match (&fallback, self.settings.fallback_after, down_since) {
                    (None, Some(after), Some(since)) => Some(since + after),
                    _ => None,
                };
                if let Some(due) = fallback_due
                    && due <= Instant::now()
                {
                    let from_ns = open_gap.as_ref().map_or(started_ns, |g| g.start_ns);
                    fallback = self.start_fallback(from_ns);
                    down_since = None; // started (or none to start): do not ask again
                    continue;
                }
                let until = fallback_due.map_or(wake, |due| due.min(wake));
                tokio::select! {
                    () = self.cancel.cancelled() => break 'attempts,
                    () = sleep_until(until) => {}
                }
                if Instant::now() >= wake {
                    break;
                }
            }
        }
        // Shutdown: the fallback sees the same cancellation and stops; what of a gap still
        // open it did not cover is recorded up to now (that time was not covered).
        let covered = match fallback.take() {
            Some(f) => f.task.await.ok(),
            None => None,
        };
        if let Some(gap) = open_gap.take() {
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
        let venue = self.protocol.venue();
        let stream = self.protocol.stream();
        let heartbeat = self.settings.heartbeat;
        let pings = self.protocol.ping_frame(0).is_some();
        let Subscribed {
            conn: mut current,
            early,
        } = subscribed;
        self.out.frame(venue, current.last_frame_ns);
        for inbound in early {
            if let Flow::Stop = self.on_inbound(current.origin, inbound, dedupe).await {
                close_politely(current.socket).await;
                return End::Stopped;
            }
        }
        let mut next: Option<Connection> = None;
        let mut opening: Option<Opening> = None;
        let mut rotate_at = self.settings.rotate_after.map(|d| Instant::now() + d);
        let mut overlap_until: Option<Instant> = None;
        let mut rotation_backoff =
            Backoff::new(self.settings.backoff_min, self.settings.backoff_max);
        enum Which {
            Cancel,
            Current(Step),
            Next(Step),
            Opened(Result<Box<Subscribed>, OpenError>),
            Rotate,
            OverlapOver,
        }
        loop {
            // Unbiased: during a rotation overlap neither connection starves the other.
            let which = tokio::select! {
                () = self.cancel.cancelled() => Which::Cancel,
                step = current.step(heartbeat, pings) => Which::Current(step),
                step = step_opt(&mut next, heartbeat, pings) => Which::Next(step),
                result = opening_opt(&mut opening) => Which::Opened(result.map(Box::new)),
                () = sleep_opt(overlap_until) => Which::OverlapOver,
                () = sleep_opt(rotate_at), if opening.is_none() && next.is_none() => Which::Rotate,
            };
            match which {
                Which::Cancel => {
                    drop(opening.take());
                    if let Some(n) = next.take() {
                        close_politely(n.socket).await;
                    }
                    close_politely(current.socket).await;
                    return End::Stopped;
                }
                Which::Current(step) => {
                    let flow = self.on_step(&mut current, step, dedupe).await;
                    match flow {
                        Flow::Continue => {}
                        Flow::Stop => {
                            close_politely(current.socket).await;
                            return End::Stopped;
                        }
                        Flow::Lost(reason) => match next.take() {
                            // Lost during a rotation overlap: the successor is already
                            // subscribed, so it simply takes over.
                            Some(successor) => {
                                tracing::info!(%venue, %stream, %reason, "connection lost during rotation; successor takes over");
                                current = successor;
                                overlap_until = None;
                                self.out.rotated(venue, stream);
                                rotate_at = self.settings.rotate_after.map(|d| Instant::now() + d);
                            }
                            None => {
                                drop(opening.take());
                                return End::Lost {
                                    reason,
                                    last_frame_ns: current.last_frame_ns,
                                };
                            }
                        },
                    }
                }
                Which::Next(step) => {
                    let Some(successor) = next.as_mut() else {
                        continue;
                    };
                    match self.on_step(successor, step, dedupe).await {
                        Flow::Continue => {}
                        Flow::Stop => {
                            if let Some(n) = next.take() {
                                close_politely(n.socket).await;
                            }
                            close_politely(current.socket).await;
                            return End::Stopped;
                        }
                        Flow::Lost(reason) => {
                            // The successor died in the overlap: keep the old connection and
                            // try the rotation again later.
                            tracing::warn!(%venue, %stream, %reason, "rotation successor lost; keeping the current connection");
                            next = None;
                            overlap_until = None;
                            rotate_at = Some(Instant::now() + rotation_backoff.next_delay());
                        }
                    }
                }
                Which::Rotate => {
                    rotate_at = None;
                    tracing::info!(%venue, %stream, "rotating connection: opening its successor");
                    opening = Some(Box::pin(open(
                        self.protocol.clone(),
                        self.settings.clone(),
                        self.cancel.clone(),
                    )));
                }
                Which::Opened(result) => {
                    opening = None;
                    match result {
                        Ok(subscribed) => {
                            let Subscribed { conn, early } = *subscribed;
                            self.out.frame(venue, conn.last_frame_ns);
                            let origin = conn.origin;
                            next = Some(conn);
                            overlap_until = Some(Instant::now() + self.settings.rotation_overlap);
                            for inbound in early {
                                if let Flow::Stop = self.on_inbound(origin, inbound, dedupe).await {
                                    close_politely(current.socket).await;
                                    return End::Stopped;
                                }
                            }
                        }
                        Err(OpenError::Cancelled) => {
                            close_politely(current.socket).await;
                            return End::Stopped;
                        }
                        Err(error) => {
                            let retry = rotation_backoff.next_delay();
                            tracing::warn!(%venue, %stream, %error, retry_in = ?retry, "rotation successor failed; keeping the current connection");
                            rotate_at = Some(Instant::now() + retry);
                        }
                    }
                }
                Which::OverlapOver => {
                    overlap_until = None;
                    if let Some(successor) = next.take() {
                        let old = std::mem::replace(&mut current, successor);
                        tokio::spawn(close_politely(old.socket));
                        self.out.rotated(venue, stream);
                        rotation_backoff.reset();
                        rotate_at = self.settings.rotate_after.map(|d| Instant::now() + d);
                    }
                }
            }
        }
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
            Step::Message(message) => match read_frame(self.protocol.as_ref(), message) {
                Frame::Closed(reason) => Flow::Lost(reason),
                Frame::Control => {
                    conn.touch();
                    self.out.frame(self.protocol.venue(), conn.last_frame_ns);
                    Flow::Continue
                }
                Frame::Inbound(inbound) => {
                    conn.touch();
                    self.out.frame(self.protocol.venue(), conn.last_frame_ns);
                    self.on_inbound(conn.origin, inbound, dedupe).await
                }
            },
        }
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
