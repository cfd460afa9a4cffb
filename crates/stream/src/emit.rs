//! Every observable event goes out through [`Emitter`]: logged, counted and sent in one
//! place, so logs, [`crate::StreamStats`] and the event channel always agree.
//!
//! Log levels follow what an operator must do: ERROR for a refused subscription (data is
//! lost until someone fixes the configuration), WARN for gaps, disconnects, malformed
//! messages and failed polls (data may be lost, the stream recovers by itself), INFO for
//! connects and rotations.

use std::sync::Arc;

use ccxt_model::time::format_iso;
use ccxt_model::{Gap, Liquidation, Venue};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::StreamEvent;
use crate::stats::{StreamStats, add, advance};

/// Sends events to the consumer, with logs and counters.
#[derive(Debug, Clone)]
pub(crate) struct Emitter {
    tx: mpsc::Sender<StreamEvent>,
    stats: Arc<StreamStats>,
    /// Cancelled on shutdown; cancelled here when the consumer is gone, which stops every
    /// task (nobody listens any more).
    stop: CancellationToken,
}

impl Emitter {
    pub(crate) fn new(
        tx: mpsc::Sender<StreamEvent>,
        stats: Arc<StreamStats>,
        stop: CancellationToken,
    ) -> Emitter {
        Emitter { tx, stats, stop }
    }

    /// Sends `event`; false when the consumer is gone. Before shutdown this waits for room in
    /// the channel (back-pressure); once shutdown began it only sends if there is room, so a
    /// consumer that stops reading to join the tasks cannot deadlock them.
    async fn send(&self, event: StreamEvent) -> bool {
        if !self.stop.is_cancelled() {
            tokio::select! {
                biased;
                permit = self.tx.reserve() => {
                    return match permit {
                        Ok(permit) => {
                            permit.send(event);
                            true
                        }
                        Err(_) => {
                            self.stop.cancel();
                            false
                        }
                    };
                }
                () = self.stop.cancelled() => {}
            }
        }
        match self.tx.try_send(event) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(event)) => {
                tracing::warn!(?event, "event dropped at shutdown: the channel is full");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// A frame (or successful poll) of `venue` arrived at `ns`.
    pub(crate) fn frame(&self, venue: Venue, ns: u64) {
        advance(&self.stats.venue(venue).last_frame_ns, ns);
    }

    pub(crate) async fn liquidations(&self, venue: Venue, rows: Vec<Liquidation>) -> bool {
        if rows.is_empty() {
            return true;
        }
        add(&self.stats.venue(venue).liquidations, rows.len() as u64);
        self.send(StreamEvent::Liquidations { venue, rows }).await
    }

    pub(crate) fn duplicates(&self, venue: Venue, n: usize) {
        if n > 0 {
            add(&self.stats.venue(venue).duplicates, n as u64);
            tracing::debug!(%venue, duplicates = n, "duplicate liquidations dropped");
        }
    }

    pub(crate) async fn gap(&self, gap: Gap) -> bool {
        let stats = self.stats.venue(gap.venue);
        add(&stats.gaps, 1);
        add(&stats.gap_ns, gap.duration_ns());
        tracing::warn!(
            venue = %gap.venue,
            stream = %gap.stream,
            from = %format_iso(gap.start_ns),
            to = %format_iso(gap.end_ns),
            seconds = gap.duration_ns() as f64 / 1e9,
            reason = %gap.reason,
            "gap in liquidation stream"
        );
        self.send(StreamEvent::Gap(gap)).await
    }

    pub(crate) async fn connected(&self, venue: Venue, stream: &str, reconnect: bool) -> bool {
        let stats = self.stats.venue(venue);
        add(&stats.connects, 1);
        if reconnect {
            add(&stats.reconnects, 1);
        }
        tracing::info!(%venue, %stream, reconnect, "liquidation stream subscribed");
        self.send(StreamEvent::Connected {
            venue,
            stream: stream.to_string(),
        })
        .await
    }

    pub(crate) async fn disconnected(&self, venue: Venue, stream: &str, reason: &str) -> bool {
        add(&self.stats.venue(venue).disconnects, 1);
        tracing::warn!(%venue, %stream, %reason, "liquidation stream disconnected; reconnecting");
        self.send(StreamEvent::Disconnected {
            venue,
            stream: stream.to_string(),
            reason: reason.to_string(),
        })
        .await
    }

    pub(crate) async fn rejected(&self, venue: Venue, stream: &str, message: &str) -> bool {
        add(&self.stats.venue(venue).rejections, 1);
        tracing::error!(
            %venue,
            %stream,
            %message,
            "liquidation subscription rejected; retrying with backoff"
        );
        self.send(StreamEvent::SubscriptionRejected {
            venue,
            stream: stream.to_string(),
            message: message.to_string(),
        })
        .await
    }

    pub(crate) async fn malformed(&self, venue: Venue, stream: &str, detail: String) -> bool {
        add(&self.stats.venue(venue).malformed, 1);
        tracing::warn!(%venue, %stream, %detail, "malformed liquidation message skipped");
        self.send(StreamEvent::Malformed {
            venue,
            stream: stream.to_string(),
            detail,
        })
        .await
    }

    pub(crate) fn rotated(&self, venue: Venue, stream: &str) {
        add(&self.stats.venue(venue).rotations, 1);
        tracing::info!(%venue, %stream, "liquidation connection rotated");
    }

    pub(crate) fn polled(&self, venue: Venue, ns: u64) {
        add(&self.stats.venue(venue).polls, 1);
        self.frame(venue, ns);
    }

    pub(crate) fn poll_failed(&self, venue: Venue, stream: &str, error: &str) {
        add(&self.stats.venue(venue).poll_errors, 1);
        tracing::warn!(%venue, %stream, %error, "liquidation poll failed; retrying next tick");
    }
}
