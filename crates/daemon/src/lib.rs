//! The 24/7 collector behind `ccxt-cli daemon start`.
//!
//! ```text
//!            tokio-cron-scheduler (cron expressions, UTC)
//!                 │ fire(job) ── skipped with a warning if the venue's previous run is going
//!                 ▼
//!   jobs per venue: open_interest · funding (snapshots → Store)
//!                   funding_history · open_interest_history (top-ups → catalog, TopUpPlanner)
//!                   instruments (universe; restarts a per-symbol stream)   compaction (catalog)
//!   streams per venue: ccxt_stream (liquidations, gaps) ──► Store
//!   Store: spool (fsync every sync interval) ──► catalog (every flush interval; retried)
//!   Health + metrics ◄── job outcomes, stream and transport counters ──► axum /healthz /metrics
//!   state file: heartbeat ──► downtime at the next start (refilled or recorded as gaps)
//! ```
//!
//! Module map: [`config`] (raw → validated settings, every problem at once), [`schedule`]
//! (cron parsing and periods), [`runtime`] (the run loop and jobs), [`topup`] (history since
//! the last stored row), [`store`] (spool in front of the catalog), [`health`], [`metrics`],
//! `http`, [`state`] (heartbeat file).

pub mod config;
pub mod health;
mod http;
pub mod metrics;
pub mod runtime;
pub mod schedule;
pub mod state;
pub mod store;
pub mod topup;

pub use config::{
    BackfillSettings, DaemonConfig, DaemonSettings, HealthSettings, JobKind, MetricsSettings,
    ScheduleOverrides, ScheduleSettings,
};
pub use http::prometheus;
pub use runtime::{DaemonError, DaemonPlan, RunSummary, VenueRuntime, run};
pub use store::FlushPolicy;
