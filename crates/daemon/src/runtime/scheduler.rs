//! Firing jobs: one run per venue the job applies to, skipped while the previous run goes,
//! timed, given a grace period at shutdown, and recorded.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use ccxt_model::Venue;
use ccxt_model::time::now_ns;

use super::jobs::run_job;
use super::shared::{Shared, VenueState, applies};
use super::{DaemonError, JOB_FINISH_GRACE};
use crate::config::JobKind;
use crate::metrics::{self as m, RunResult};
use crate::notify::Progress;

/// Starts `job` on every venue it applies to, skipping (with a warning) those whose previous
/// run is still going.
pub(super) fn fire(shared: &Arc<Shared>, job: JobKind) {
    if shared.cancel.is_cancelled() {
        return;
    }
    if job == JobKind::Compaction {
        if shared.compaction_running.swap(true, Ordering::AcqRel) {
            tracing::warn!(job = %job, "previous run still going; this run is skipped");
            m::job_run(job, None, RunResult::Skipped, 0.0);
            return;
        }
        let shared = shared.clone();
        shared.tracker.clone().spawn(async move {
            run_guarded(&shared, job, None).await;
            shared.compaction_running.store(false, Ordering::Release);
        });
        return;
    }
    for (venue, state) in &shared.venues {
        if !applies(job, state) {
            continue;
        }
        let Some(flag) = state.running.get(&job) else {
            continue;
        };
        if flag.swap(true, Ordering::AcqRel) {
            tracing::warn!(job = %job, %venue, "previous run still going; this run is skipped");
            m::job_run(job, Some(*venue), RunResult::Skipped, 0.0);
            continue;
        }
        let shared = shared.clone();
        let state = state.clone();
        shared.tracker.clone().spawn(async move {
            run_guarded(&shared, job, Some(&state)).await;
            if let Some(flag) = state.running.get(&job) {
                flag.store(false, Ordering::Release);
            }
        });
    }
}

/// One run: time it, give it a grace period at shutdown, record the outcome.
async fn run_guarded(shared: &Arc<Shared>, job: JobKind, state: Option<&Arc<VenueState>>) {
    let venue = state.map(|s| s.rt.venue);
    let started = Instant::now();
    let work = run_job(shared, job, state);
    tokio::pin!(work);
    let result = tokio::select! {
        r = &mut work => Some(r),
        () = shared.cancel.cancelled() => {
            tokio::time::timeout(JOB_FINISH_GRACE, &mut work).await.ok()
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let venue_label = venue.map_or("all", Venue::as_str);
    match result {
        Some(Ok(summary)) => {
            let now = now_ns();
            shared.health.success(job, venue, now);
            m::job_success(job, venue, now as f64 / 1e9);
            m::job_run(job, venue, RunResult::Ok, seconds);
            tracing::info!(job = %job, venue = venue_label, seconds = format!("{seconds:.2}"), "{summary}");
        }
        Some(Err(error)) => {
            m::job_run(job, venue, RunResult::Error, seconds);
            tracing::warn!(job = %job, venue = venue_label, %error, "job failed; the next run retries");
        }
        None => {
            tracing::warn!(job = %job, venue = venue_label, "job cancelled by the shutdown");
        }
    }
}

/// The schedule: every configured job on its cron expression, plus a liveness tick every
/// second as proof of life for the watchdog.
pub(super) async fn start(
    shared: &Arc<Shared>,
    progress: &Arc<Progress>,
) -> Result<tokio_cron_scheduler::JobScheduler, DaemonError> {
    let scheduler = tokio_cron_scheduler::JobScheduler::new()
        .await
        .map_err(|e| DaemonError::Scheduler(e.to_string()))?;
    for (job, schedule) in &shared.config.jobs {
        let job = *job;
        let shared_for_job = shared.clone();
        let cron = tokio_cron_scheduler::Job::new_async(schedule.expression(), move |_, _| {
            let shared = shared_for_job.clone();
            Box::pin(async move { fire(&shared, job) })
        })
        .map_err(|e| DaemonError::Scheduler(format!("{job}: {e}")))?;
        scheduler
            .add(cron)
            .await
            .map_err(|e| DaemonError::Scheduler(format!("{job}: {e}")))?;
        tracing::info!(job = %job, schedule = %schedule.expression(), "scheduled");
    }
    let ticks = progress.clone();
    let liveness = tokio_cron_scheduler::Job::new("* * * * * *", move |_, _| {
        ticks.scheduler_ticked();
    })
    .map_err(|e| DaemonError::Scheduler(format!("liveness tick: {e}")))?;
    scheduler
        .add(liveness)
        .await
        .map_err(|e| DaemonError::Scheduler(format!("liveness tick: {e}")))?;
    scheduler
        .start()
        .await
        .map_err(|e| DaemonError::Scheduler(e.to_string()))?;
    Ok(scheduler)
}

/// A first run of every venue job now: snapshots at once, and the history top-ups refill
/// whatever happened since the last stored row.
pub(super) fn fire_first_runs(shared: &Arc<Shared>) {
    for job in [
        JobKind::OpenInterest,
        JobKind::Funding,
        JobKind::FundingHistory,
        JobKind::OpenInterestHistory,
        JobKind::Bars,
    ] {
        if shared.config.schedule(job).is_some() {
            fire(shared, job);
        }
    }
}
