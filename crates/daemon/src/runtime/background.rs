//! The background loops: spool sync and flush, and the state-file heartbeat.

use std::sync::Arc;

use ccxt_model::time::now_ns;
use tokio_util::sync::CancellationToken;

use super::HEARTBEAT;
use crate::notify::Progress;
use crate::state::{DaemonState, StateFile};
use crate::store::Store;

/// Syncs the spool every `sync_every` and starts a drain when one is due. Drains run in their
/// own task, so a slow catalog write never holds up the syncs (the durability window).
pub(super) async fn flush_loop(
    store: Arc<Store>,
    progress: Arc<Progress>,
    cancel: CancellationToken,
) {
    let policy = store.policy();
    let mut sync_tick = tokio::time::interval(policy.sync_every);
    sync_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_flush = tokio::time::Instant::now();
    let mut drain: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        tokio::select! {
            _ = sync_tick.tick() => {}
            () = cancel.cancelled() => return,
        }
        store.sync().await;
        progress.writer_ticked();
        let due = last_flush.elapsed() >= policy.flush_every
            || store.pending_rows().await >= policy.flush_rows;
        if due && drain.as_ref().is_none_or(|d| d.is_finished()) {
            last_flush = tokio::time::Instant::now();
            let store = store.clone();
            let progress = progress.clone();
            drain = Some(tokio::spawn(async move {
                progress.drain_started();
                if let Ok(report) = store.drain().await
                    && report.segments > 0
                {
                    tracing::debug!(rows_added = report.written.rows_added, "spool flushed");
                }
                progress.drain_finished();
            }));
        }
    }
}

pub(super) async fn heartbeat_loop(file: StateFile, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = cancel.cancelled() => return,
        }
        let state = DaemonState {
            last_alive_ns: now_ns(),
            clean_stop: false,
        };
        let file = file.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Err(e) = file.write(state) {
                tracing::warn!(error = %e, "cannot write the daemon state file");
            }
        })
        .await;
    }
}
