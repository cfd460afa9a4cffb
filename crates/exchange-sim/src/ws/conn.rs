//! What every simulated WebSocket connection shares, whatever the venue: its id and counters,
//! the faults it follows (watched, so a change takes effect at once), the one-shot actions
//! (`server_close`, `tcp_drop`), rotation, garbage frames, and the ways a connection ends.
//!
//! `no_pong` and `half_open` also act below the WebSocket library, which answers pings by
//! itself: the connection's socket filter ([`crate::ws::filter`]) drops the pong frames (or,
//! when half open, every frame) on their way out.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::Venue;
use crate::data::{mix, unit};
use crate::faults::DownMode;
use crate::server::{AppState, ConnHandle, lock};
use crate::ws::log::{CloseReason, add, sub};
use crate::ws::{Control, WsFaults};

/// How long a closing connection waits for the client's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// How a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The server sends a close frame with this code and reason, then waits for the reply.
    Close(CloseReason, u16, &'static str),
    /// The server resets the TCP connection (no close frame).
    Drop,
    /// The client closed (its close frame is answered) or went away.
    Client(CloseReason),
}

/// Answers a WebSocket handshake to a venue that is down (`venue_down` of the HTTP faults),
/// as the HTTP requests to it are answered: reset, or HTTP 503.
pub(crate) fn refuse_if_down(st: &AppState, venue: Venue, conn: &ConnHandle) -> Option<Response> {
    let (down, mode) = {
        let faults = lock(&st.faults);
        (
            faults.faults.venue_down.contains(&venue),
            faults.faults.venue_down_mode,
        )
    };
    if !down {
        return None;
    }
    if mode == DownMode::Reset {
        conn.kill.store(true, Ordering::SeqCst);
    }
    Some((StatusCode::SERVICE_UNAVAILABLE, "venue down").into_response())
}

/// The first half of a frame: invalid JSON, as a broken frame would be.
pub(crate) fn garble(text: &str) -> String {
    let mut cut = text.len() / 2;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text[..cut].to_string()
}

/// Sleeps until `deadline`, forever without one.
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The earliest of some deadlines.
pub(crate) fn earliest(deadlines: &[Option<Instant>]) -> Option<Instant> {
    deadlines.iter().flatten().min().copied()
}

/// One connection's shared state.
#[derive(Debug)]
pub(crate) struct Cx {
    /// The server state.
    pub st: Arc<AppState>,
    /// The venue.
    pub venue: Venue,
    /// Connection id (in the sent log).
    pub id: u64,
    /// When it opened.
    pub opened: Instant,
    /// The venue's faults now.
    pub faults: WsFaults,
    io: ConnHandle,
    ctl: watch::Receiver<Control>,
    close_epoch: u64,
    drop_epoch: u64,
    draws: u64,
    subs: u64,
    /// Set once the end is counted.
    reason: Option<CloseReason>,
}

impl Cx {
    /// A new connection of `venue` on the socket behind `io`.
    pub fn new(st: Arc<AppState>, venue: Venue, io: ConnHandle) -> Cx {
        let id = st.ws.next_conn_id();
        let counters = st.ws.counters(venue);
        add(&counters.opened, 1);
        add(&counters.current, 1);
        io.ws.framing.store(true, Ordering::SeqCst);
        let mut ctl = st.ws.subscribe_control();
        let (faults, close_epoch, drop_epoch) = {
            let c = ctl.borrow_and_update();
            (
                c.faults.get(venue).clone(),
                c.close_epoch[venue.index()],
                c.drop_epoch[venue.index()],
            )
        };
        let cx = Cx {
            st,
            venue,
            id,
            opened: Instant::now(),
            faults,
            io,
            ctl,
            close_epoch,
            drop_epoch,
            draws: 0,
            subs: 0,
            reason: None,
        };
        cx.apply_io();
        tracing::debug!(venue = %venue, conn = id, "websocket opened");
        cx
    }

    fn apply_io(&self) {
        let half_open = self.faults.half_open;
        self.io
            .ws
            .drop_pongs
            .store(half_open || self.faults.no_pong, Ordering::SeqCst);
        self.io.ws.silent.store(half_open, Ordering::SeqCst);
    }

    /// Waits for a change of the faults; returns how the connection must end, if it must.
    pub async fn control_changed(&mut self) -> Option<End> {
        if self.ctl.changed().await.is_err() {
            return Some(End::Close(CloseReason::Shutdown, 1001, "server shutdown"));
        }
        let (shutdown, faults, close_epoch, drop_epoch) = {
            let c = self.ctl.borrow_and_update();
            (
                c.shutdown,
                c.faults.get(self.venue).clone(),
                c.close_epoch[self.venue.index()],
                c.drop_epoch[self.venue.index()],
            )
        };
        self.faults = faults;
        self.apply_io();
        if shutdown {
            return Some(End::Close(CloseReason::Shutdown, 1001, "server shutdown"));
        }
        if drop_epoch != self.drop_epoch {
            self.drop_epoch = drop_epoch;
            return Some(End::Drop);
        }
        if close_epoch != self.close_epoch {
            self.close_epoch = close_epoch;
            return Some(End::Close(CloseReason::ServerClose, 1001, "going away"));
        }
        None
    }

    /// When `rotate_after_secs` ends this connection.
    pub fn rotate_deadline(&self) -> Option<Instant> {
        self.faults
            .rotate_after_secs
            .map(|s| self.opened + Duration::from_secs_f64(s))
    }

    /// Nothing may leave the server.
    pub fn half_open(&self) -> bool {
        self.faults.half_open
    }

    /// Pings are not answered.
    pub fn no_pong(&self) -> bool {
        self.faults.no_pong || self.faults.half_open
    }

    /// Whether the next frame is replaced by garbage (seeded per connection).
    pub fn draw_malformed(&mut self) -> bool {
        let rate = self.faults.malformed_rate;
        if rate <= 0.0 {
            return false;
        }
        self.draws += 1;
        unit(mix(mix(self.st.seed ^ 0x3A1F, self.id), self.draws)) < rate
    }

    /// Sends a reply (ack, error, pong) unless half open; Hyperliquid replies may be garbled.
    /// `Err` when the client is gone.
    pub async fn reply(&mut self, socket: &mut WebSocket, text: String) -> Result<(), ()> {
        if self.half_open() {
            return Ok(());
        }
        let st = self.st.clone();
        let counters = st.ws.counters(self.venue);
        let text = if self.venue == Venue::Hyperliquid && self.draw_malformed() {
            add(&counters.malformed_frames, 1);
            garble(&text)
        } else {
            text
        };
        add(&counters.frames_sent, 1);
        socket
            .send(Message::Text(text.into()))
            .await
            .map_err(|_| ())
    }

    /// A WebSocket ping frame arrived (the library answers it unless `no_pong`).
    pub fn saw_ping(&self) {
        let counters = self.st.ws.counters(self.venue);
        add(&counters.pings_received, 1);
        if !self.no_pong() {
            add(&counters.pongs_sent, 1);
        }
    }

    /// The connection holds `n` subscriptions now.
    pub fn set_subscriptions(&mut self, n: u64) {
        let counters = self.st.ws.counters(self.venue);
        if n > self.subs {
            add(&counters.subscriptions, n - self.subs);
        } else {
            sub(&counters.subscriptions, self.subs - n);
        }
        self.subs = n;
    }

    /// Counts the end of the connection once, when it is decided (before any close
    /// handshake), so stats read right after a client saw the close are complete.
    fn record_end(&mut self, reason: CloseReason) {
        if self.reason.is_some() {
            return;
        }
        self.reason = Some(reason);
        let st = self.st.clone();
        let counters = st.ws.counters(self.venue);
        counters.closed_for(reason);
        self.set_subscriptions(0);
    }

    /// Ends the connection as `end` says.
    pub async fn finish(mut self, mut socket: WebSocket, end: End) {
        match end {
            End::Drop => {
                self.record_end(CloseReason::TcpDrop);
                self.io.kill.store(true, Ordering::SeqCst);
                // The next write sees the kill flag, sets SO_LINGER 0 and fails; dropping the
                // socket then resets the connection.
                let _ = socket.send(Message::Ping(Default::default())).await;
            }
            End::Close(reason, code, text) => {
                self.record_end(reason);
                let frame = CloseFrame {
                    code,
                    reason: text.into(),
                };
                if socket.send(Message::Close(Some(frame))).await.is_ok() {
                    let _ = tokio::time::timeout(CLOSE_WAIT, async {
                        while let Some(Ok(_)) = socket.recv().await {}
                    })
                    .await;
                }
            }
            End::Client(reason) => {
                self.record_end(reason);
                // Reading on sends the close reply the library queued.
                let _ = tokio::time::timeout(CLOSE_WAIT, async {
                    while let Some(Ok(_)) = socket.recv().await {}
                })
                .await;
            }
        }
        tracing::debug!(venue = %self.venue, conn = self.id, ?end, "websocket ended");
    }
}

impl Drop for Cx {
    fn drop(&mut self) {
        self.record_end(CloseReason::ClientGone);
    }
}

/// Maps a received message to the end of the connection, if it is a close or an error.
pub(crate) fn client_end(msg: &Option<Result<Message, axum::Error>>) -> Option<End> {
    match msg {
        None | Some(Err(_)) => Some(End::Client(CloseReason::ClientGone)),
        Some(Ok(Message::Close(_))) => Some(End::Client(CloseReason::ClientClose)),
        Some(Ok(_)) => None,
    }
}
