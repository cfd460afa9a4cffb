//! The liquidation streams: started (and restarted for a changed universe) per venue, and
//! what they deliver stored.

use std::sync::Arc;
use std::time::Duration;

use ccxt_model::time::now_ns;
use ccxt_model::{Gap, Venue};
use ccxt_stream::{FeedKind, SourceConfig, StreamEvent, VenueCounters};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::shared::{Shared, StreamSlot, VenueState};
use crate::store::Store;

/// Starts (or restarts) `venue`'s liquidation stream with its current universe.
pub(super) async fn start_stream(shared: &Arc<Shared>, venue: Venue, poll_from: Option<u64>) {
    let Some(state) = shared.venues.get(&venue) else {
        return;
    };
    let Some(source) = source_now(state, venue).await else {
        return;
    };
    if shared.cancel.is_cancelled() {
        return;
    }
    let mut streams = shared.streams.lock().await;
    if shared.cancel.is_cancelled() {
        return; // the shutdown took the streams while this waited
    }
    let restart_at = now_ns();
    let base = match streams.remove(&venue) {
        Some(old) => close_replaced(old, venue).await,
        None => VenueCounters::default(),
    };
    let cancel = shared.cancel.child_token();
    let handle = ccxt_stream::spawn_from(
        vec![source],
        shared.events.clone(),
        cancel.clone(),
        poll_from,
    );
    if base.connects > 0 {
        // The stream was replaced: what passed between closing the old and subscribing the
        // new connection is recorded.
        tokio::spawn(record_resubscribe_gap(
            shared.store.clone(),
            handle.stats(),
            cancel.clone(),
            venue,
            restart_at,
        ));
    }
    streams.insert(
        venue,
        StreamSlot {
            handle,
            cancel,
            base,
        },
    );
}

/// The venue's source with its current universe; `None` if it has no source, or if it
/// subscribes per symbol and the universe is not known yet.
async fn source_now(state: &VenueState, venue: Venue) -> Option<SourceConfig> {
    let template = state.rt.source.as_ref()?;
    let universe = state.universe.read().await.clone();
    let source = match (template.feed_kind(), universe) {
        (Some(FeedKind::PerSymbolSocket), None) => {
            tracing::info!(%venue, "liquidation stream waits for the instrument list");
            return None;
        }
        // This shard's symbols (its part of the universe).
        (Some(FeedKind::PerSymbolSocket), Some(u)) => template.with_symbols(Some(u)),
        // A whole-market feed or a poll runs on the one shard that owns the venue and stores
        // every named symbol's liquidations (every symbol's with --all).
        (Some(_), _) => template.with_symbols(if state.rt.all {
            None
        } else {
            Some(state.rt.symbols.clone())
        }),
        (None, _) => template.clone(),
    };
    Some(source)
}

/// Closes a replaced stream; its final counts, carried over to the new stream.
async fn close_replaced(old: StreamSlot, venue: Venue) -> VenueCounters {
    old.cancel.cancel();
    let stats = old.handle.stats();
    let _ = tokio::time::timeout(Duration::from_secs(3), old.handle.join()).await;
    let mut base = old.base;
    if let Some(live) = stats.snapshot().get(&venue) {
        base.add(live);
    }
    base
}

/// Waits (up to 30 s) for the new stream to connect and records the time since `restart_at`
/// as a gap.
async fn record_resubscribe_gap(
    store: Arc<Store>,
    stats: Arc<ccxt_stream::StreamStats>,
    stop: CancellationToken,
    venue: Venue,
    restart_at: u64,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline && !stop.is_cancelled() {
        if stats.snapshot().get(&venue).is_some_and(|c| c.connects > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    store
        .gap(Gap {
            venue,
            stream: "liquidations".into(),
            start_ns: restart_at,
            end_ns: now_ns(),
            reason: "resubscribed for a changed instrument list".into(),
            ts_init: now_ns(),
        })
        .await;
}

pub(super) async fn consume_events(
    mut rx: mpsc::Receiver<StreamEvent>,
    store: Arc<Store>,
    stop: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            e = rx.recv() => e,
            () = stop.cancelled() => {
                // The streams are closed: take what they sent last.
                while let Ok(event) = rx.try_recv() {
                    handle_event(event, &store).await;
                }
                return;
            }
        };
        match event {
            Some(event) => handle_event(event, &store).await,
            None => return,
        }
    }
}

/// Stores what the streams deliver. (The streams log and count every event where it happens.)
async fn handle_event(event: StreamEvent, store: &Store) {
    match event {
        StreamEvent::Liquidations { rows, .. } => store.liquidations(rows).await,
        StreamEvent::Gap(gap) => store.gap(gap).await,
        StreamEvent::Connected { .. }
        | StreamEvent::Disconnected { .. }
        | StreamEvent::SubscriptionRejected { .. }
        | StreamEvent::Malformed { .. } => {}
    }
}
