//! The shutdown sequence (the contract is on [`super`]): no new jobs, jobs in flight get their
//! grace while the streams close, then what the streams sent is stored and the spool drained
//! within the budget left.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::JOB_FINISH_GRACE;
use super::shared::{Shared, StreamSlot};

/// The background tasks a run started, stopped at the end.
pub(super) struct Tasks {
    /// Stores what the streams deliver.
    pub(super) consumer: JoinHandle<()>,
    /// Stops the consumer once the streams are closed.
    pub(super) consumer_stop: CancellationToken,
    /// Spool sync and flush.
    pub(super) flusher: JoinHandle<()>,
    /// The state-file heartbeat.
    pub(super) heartbeat: JoinHandle<()>,
}

/// What the final drain did.
pub(super) struct Drained {
    /// Rows in the spool when the drain started.
    pub(super) pending: usize,
    /// Whether the drain finished.
    pub(super) drained: bool,
}

/// Stops everything; the final drain gets what is left until `deadline`.
pub(super) async fn stop(
    shared: &Arc<Shared>,
    scheduler: tokio_cron_scheduler::JobScheduler,
    tasks: Tasks,
    watchdog: JoinHandle<()>,
    deadline: Instant,
) -> Drained {
    tracing::info!("stopping: no new jobs; finishing what is in flight");
    stop_jobs_and_streams(shared, scheduler).await;
    tasks.consumer_stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(1), tasks.consumer).await;
    tasks.flusher.abort();
    tasks.heartbeat.abort();
    watchdog.abort();
    final_drain(shared, deadline.saturating_duration_since(Instant::now())).await
}

/// Stops the scheduler; jobs get their grace while the streams close (cancelled with the same
/// token).
async fn stop_jobs_and_streams(
    shared: &Arc<Shared>,
    mut scheduler: tokio_cron_scheduler::JobScheduler,
) {
    let _ = tokio::time::timeout(Duration::from_secs(1), scheduler.shutdown()).await;
    shared.cancel.cancel();
    shared.tracker.close();
    let slots: Vec<StreamSlot> = std::mem::take(&mut *shared.streams.lock().await)
        .into_values()
        .collect();
    let streams_closed = futures::future::join_all(slots.into_iter().map(|slot| {
        slot.cancel.cancel();
        slot.handle.join()
    }));
    let _ = tokio::join!(
        tokio::time::timeout(
            JOB_FINISH_GRACE + Duration::from_millis(500),
            shared.tracker.wait()
        ),
        tokio::time::timeout(Duration::from_secs(3), streams_closed),
    );
}

/// Moves what is left in the spool into the catalog, or leaves it durable for the next start.
async fn final_drain(shared: &Shared, left: Duration) -> Drained {
    let store = &shared.store;
    store.sync().await;
    let pending = store.pending_rows().await;
    let drained = match tokio::time::timeout(left, store.drain_all()).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "the last rows stay in the spool; the next start stores them");
            false
        }
        Err(_) => {
            tracing::warn!(
                "out of time: the last rows stay in the spool; the next start stores them"
            );
            false
        }
    };
    Drained { pending, drained }
}
