//! The 24/7 collector behind `ccxt-cli daemon start`.
//!
//! ```text
//!            tokio-cron-scheduler (cron expressions, UTC)
//!                 │ fire(job) ── skipped with a warning if the venue's previous run is going
//!                 ▼
//!   jobs per venue: open_interest · funding (snapshots → Store)
//!                   funding_history · open_interest_history · bars (top-ups → catalog, TopUpPlanner)
//!                   instruments (universe; restarts a per-symbol stream)   compaction (catalog)
//!   streams per venue: ccxt_stream (liquidations, gaps) ──► Store
//!   Store: spool (fsync every sync interval) ──► catalog (every flush interval; retried)
//!   Health + metrics ◄── job outcomes, stream and transport counters, write faults ──► axum /healthz /metrics
//!   systemd: READY=1, WATCHDOG=1 while the scheduler and the writer make progress, STOPPING=1
//!   state file: heartbeat ──► downtime at the next start (refilled or recorded as gaps)
//! ```
//!
//! Module map: [`config`] (raw → validated settings, every problem at once), [`schedule`]
//! (cron parsing and periods), [`runtime`] (the run loop and jobs), [`topup`] (history since
//! the last stored row), `bars` (the bars job), [`store`] (spool in front of the catalog), [`health`], [`metrics`],
//! `http`, [`notify`] (systemd readiness and watchdog), [`state`] (heartbeat file).

mod bars;
pub mod config;
pub mod health;
mod http;
pub mod metrics;
pub mod notify;
pub mod runtime;
pub mod schedule;
pub mod shard;
pub mod state;
pub mod store;
pub mod topup;

pub use config::{
    BackfillSettings, BarSeries, BarsConfig, BarsSettings, DaemonConfig, DaemonSettings,
    HealthSettings, JobKind, MetricsSettings, ScheduleOverrides, ScheduleSettings, StringList,
    VenueBars,
};
pub use http::prometheus;
pub use notify::Notifier;
pub use runtime::{
    DaemonError, DaemonPlan, RunHooks, RunSummary, VenueRuntime, ownership, run, run_with,
};
pub use shard::{Ownership, Shard};
pub use store::{DEFAULT_FLUSH_ROWS, FlushPolicy, HoldPolicy, WriteFaults};
