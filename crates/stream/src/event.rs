//! What the streams report: [`StreamEvent`].

use ccxt_model::{Gap, Liquidation, Venue};

/// One thing that happened on a stream, in the order it happened on that stream.
///
/// Every event is also logged and counted (in [`crate::StreamStats`]) where it is emitted, so a
/// consumer may ignore the kinds it does not need.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// Liquidations, as received (a WebSocket message, or one poll).
    ///
    /// `ts_init` of each row is the local receive time. Rows are de-duplicated: across the
    /// overlap of a planned rotation (by content), and across polls (by trade id), so each
    /// liquidation is delivered once.
    Liquidations {
        /// The venue.
        venue: Venue,
        /// The rows, never empty.
        rows: Vec<Liquidation>,
    },
    /// A stretch of time a stream did not cover: from the last frame received before a
    /// disconnect (or the start, if the first connection failed) to the moment the new
    /// connection was subscribed; or polls that failed for longer than can be re-read.
    /// Planned rotations and a clean shutdown are not gaps.
    Gap(Gap),
    /// A connection was opened and all its subscriptions acknowledged.
    Connected {
        /// The venue.
        venue: Venue,
        /// The stream label (as in [`ccxt_model::Gap::stream`]).
        stream: String,
    },
    /// A connection was lost; a reconnect follows after a backoff.
    Disconnected {
        /// The venue.
        venue: Venue,
        /// The stream label.
        stream: String,
        /// Why (`server closed the connection (1000 …)`, `no frame for 6 s`, …).
        reason: String,
    },
    /// The venue refused a subscription, or did not acknowledge it in time. The connection is
    /// closed and retried with backoff, so a refusal is never a silent hang.
    SubscriptionRejected {
        /// The venue.
        venue: Venue,
        /// The stream label.
        stream: String,
        /// The venue's message, or `no acknowledgement within …`.
        message: String,
    },
    /// A message that could not be read; it was skipped and the stream goes on.
    Malformed {
        /// The venue.
        venue: Venue,
        /// The stream label.
        stream: String,
        /// What is wrong with it.
        detail: String,
    },
}
