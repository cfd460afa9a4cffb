//! Every metric the daemon exports, named in one place.
//!
//! Events (rows written, job runs, write errors) are counted where they happen through the
//! `metrics` facade; counters that other crates keep (transport, streams) and gauges of the
//! moment (ages, headroom, spool size, RSS) are copied in by [`refresh`] right before each
//! `/metrics` scrape, so they are never stale.

use ccxt_model::{RecordKind, Venue};
use ccxt_stream::VenueCounters;
use ccxt_transport::{BudgetHeadroom, TransportStatsSnapshot};
use metrics::{counter, gauge};

use crate::config::JobKind;

/// The `kind` label of a record kind.
pub fn kind_label(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::OpenInterest => "open_interest",
        RecordKind::FundingRate => "funding_rate",
        RecordKind::Liquidation => "liquidation",
        RecordKind::Bar => "bar",
        RecordKind::MarkPrice => "mark_price",
        RecordKind::IndexPrice => "index_price",
        RecordKind::Gap => "gap",
    }
}

/// Rows stored in the catalog.
pub fn rows_written(kind: RecordKind, venue: Venue, n: u64) {
    counter!("ccxt_rows_written_total", "kind" => kind_label(kind), "venue" => venue.as_str())
        .increment(n);
}

/// Bars the `bars` job stored in the catalog.
pub fn bars_stored(venue: Venue, n: u64) {
    counter!("ccxt_bars_stored_total", "venue" => venue.as_str()).increment(n);
}

/// Bars a venue sent that failed the sanity rules (not stored; each is logged).
pub fn bars_rejected(venue: Venue, n: u64) {
    counter!("ccxt_bars_rejected_total", "venue" => venue.as_str()).increment(n);
}

/// A catalog write failed (rows stay in the spool).
pub fn catalog_write_error() {
    counter!("ccxt_catalog_write_errors_total").increment(1);
}

/// Whether the last catalog write succeeded.
pub fn catalog_writable(ok: bool) {
    gauge!("ccxt_catalog_writable").set(if ok { 1.0 } else { 0.0 });
}

/// A spool append or sync failed (rows stay in memory).
pub fn spool_write_error() {
    counter!("ccxt_spool_write_errors_total").increment(1);
}

/// Whether the spool takes rows (0: rows since the last good sync are in memory only).
pub fn spool_writable(ok: bool) {
    gauge!("ccxt_spool_writable").set(if ok { 1.0 } else { 0.0 });
}

/// Rows dropped because neither spool nor memory could hold them.
pub fn rows_dropped(n: u64) {
    counter!("ccxt_rows_dropped_total").increment(n);
}

/// Spool size on disk and rows waiting in memory.
pub fn spool_gauges(bytes: u64, memory_rows: usize) {
    gauge!("ccxt_spool_bytes").set(bytes as f64);
    gauge!("ccxt_spool_memory_rows").set(memory_rows as f64);
}

/// Rows waiting in the spool for the catalog, and whether the spool has reached
/// `spool.max_bytes` (new rows then wait in memory).
pub fn spool_rows(rows: usize, full: bool) {
    gauge!("ccxt_spool_rows").set(rows as f64);
    gauge!("ccxt_spool_full").set(if full { 1.0 } else { 0.0 });
}

/// What the daemon collects, known at start: every counter an alert may watch is exported
/// at 0 for these label values before anything happens, so `increase(...) > 0` sees the first
/// incident (a counter that appears at 1 has no increase).
pub struct KnownSeries {
    /// `(kind, venue)` pairs that rows are written for.
    pub rows: Vec<(RecordKind, Venue)>,
    /// `(job, venue)` pairs that run (`None`: catalog-wide).
    pub jobs: Vec<(JobKind, Option<Venue>)>,
    /// Venues with a REST transport.
    pub http_venues: Vec<Venue>,
    /// Venues with a liquidation stream.
    pub stream_venues: Vec<Venue>,
    /// Venues the `bars` job collects from.
    pub bar_venues: Vec<Venue>,
}

/// Exports every counter at 0 for the label values in `known` (a counter already counting
/// keeps its value), and the store's gauges at their healthy values.
pub fn export_initial(known: &KnownSeries) {
    counter!("ccxt_catalog_write_errors_total").increment(0);
    counter!("ccxt_spool_write_errors_total").increment(0);
    counter!("ccxt_rows_dropped_total").increment(0);
    gauge!("ccxt_spool_memory_rows").increment(0.0);
    gauge!("ccxt_spool_rows").increment(0.0);
    gauge!("ccxt_spool_full").increment(0.0);
    for (kind, venue) in &known.rows {
        counter!("ccxt_rows_written_total", "kind" => kind_label(*kind), "venue" => venue.as_str())
            .increment(0);
    }
    for (job, venue) in &known.jobs {
        for result in ["ok", "error", "skipped"] {
            counter!("ccxt_job_runs_total", "job" => job.as_str(), "venue" => scope(*venue), "result" => result)
                .increment(0);
        }
    }
    for venue in &known.http_venues {
        let v = venue.as_str();
        for name in [
            "ccxt_http_requests_total",
            "ccxt_http_retries_total",
            "ccxt_http_network_errors_total",
            "ccxt_http_rate_limit_waits_total",
        ] {
            counter!(name, "venue" => v).increment(0);
        }
        for status in HTTP_STATUSES {
            counter!("ccxt_http_responses_total", "venue" => v, "status" => status).increment(0);
        }
    }
    for venue in &known.bar_venues {
        counter!("ccxt_bars_stored_total", "venue" => venue.as_str()).increment(0);
        counter!("ccxt_bars_rejected_total", "venue" => venue.as_str()).increment(0);
    }
    for venue in &known.stream_venues {
        let v = venue.as_str();
        for name in [
            "ccxt_stream_connects_total",
            "ccxt_stream_reconnects_total",
            "ccxt_stream_gaps_total",
            "ccxt_stream_malformed_total",
            "ccxt_stream_liquidations_total",
        ] {
            counter!(name, "venue" => v).increment(0);
        }
        gauge!("ccxt_stream_gap_seconds_total", "venue" => v).increment(0.0);
    }
}

/// The `status` label values of `ccxt_http_responses_total`.
const HTTP_STATUSES: [&str; 6] = ["2xx", "4xx", "5xx", "429", "418", "403"];

/// How a job run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunResult {
    /// Done.
    Ok,
    /// Failed (retried at the next run).
    Error,
    /// Not started: the previous run was still going.
    Skipped,
}

fn scope(venue: Option<Venue>) -> &'static str {
    venue.map_or("all", Venue::as_str)
}

/// A job run ended.
pub fn job_run(job: JobKind, venue: Option<Venue>, result: RunResult, seconds: f64) {
    let result_label = match result {
        RunResult::Ok => "ok",
        RunResult::Error => "error",
        RunResult::Skipped => "skipped",
    };
    counter!("ccxt_job_runs_total", "job" => job.as_str(), "venue" => scope(venue), "result" => result_label)
        .increment(1);
    if result != RunResult::Skipped {
        gauge!("ccxt_job_duration_seconds", "job" => job.as_str(), "venue" => scope(venue))
            .set(seconds);
    }
}

/// A job succeeded at `unix_secs`.
pub fn job_success(job: JobKind, venue: Option<Venue>, unix_secs: f64) {
    gauge!("ccxt_job_last_success_timestamp_seconds", "job" => job.as_str(), "venue" => scope(venue))
        .set(unix_secs);
}

/// Which shard this daemon is (`ccxt_shard_index`, 0-based) of how many (`ccxt_shard_count`;
/// 0 of 1 when not sharded).
pub fn shard(index: u32, count: u32) {
    gauge!("ccxt_shard_index").set(f64::from(index));
    gauge!("ccxt_shard_count").set(f64::from(count));
}

/// Rows that were not stored because another shard owns their dataset (gap records of a
/// venue whose gap dataset belongs to another shard).
pub fn rows_not_owned(kind: RecordKind, n: u64) {
    counter!("ccxt_rows_not_owned_total", "kind" => kind_label(kind)).increment(n);
}

/// Instruments collected on a venue.
pub fn instruments(venue: Venue, n: usize) {
    gauge!("ccxt_instruments", "venue" => venue.as_str()).set(n as f64);
}

/// What one venue's transport and streams report, copied in before a scrape.
pub struct VenueObservation {
    /// The venue.
    pub venue: Venue,
    /// REST counters.
    pub transport: Option<TransportStatsSnapshot>,
    /// Rate budgets.
    pub headroom: Vec<BudgetHeadroom>,
    /// Stream counters (summed over restarts), if the venue streams.
    pub stream: Option<VenueCounters>,
}

/// Copies live counters and gauges in before a scrape.
pub fn refresh(venues: &[VenueObservation], now_ns: u64, started_ns: u64, healthy: bool) {
    for o in venues {
        let v = o.venue.as_str();
        if let Some(t) = &o.transport {
            counter!("ccxt_http_requests_total", "venue" => v).absolute(t.requests);
            counter!("ccxt_http_retries_total", "venue" => v).absolute(t.retries);
            counter!("ccxt_http_network_errors_total", "venue" => v).absolute(t.network_errors);
            counter!("ccxt_http_rate_limit_waits_total", "venue" => v).absolute(t.rate_limit_waits);
            for (status, n) in [
                ("2xx", t.status_2xx),
                ("4xx", t.status_4xx),
                ("5xx", t.status_5xx),
                ("429", t.status_429),
                ("418", t.status_418),
                ("403", t.status_403),
            ] {
                counter!("ccxt_http_responses_total", "venue" => v, "status" => status).absolute(n);
            }
        }
        for h in &o.headroom {
            gauge!("ccxt_budget_headroom_ratio", "venue" => v, "pool" => h.pool)
                .set(h.fraction_left());
            gauge!("ccxt_budget_headroom_weight", "venue" => v, "pool" => h.pool)
                .set(f64::from(h.headroom()));
        }
        if let Some(s) = &o.stream {
            counter!("ccxt_stream_connects_total", "venue" => v).absolute(s.connects);
            counter!("ccxt_stream_reconnects_total", "venue" => v).absolute(s.reconnects);
            counter!("ccxt_stream_gaps_total", "venue" => v).absolute(s.gaps);
            gauge!("ccxt_stream_gap_seconds_total", "venue" => v).set(s.gap_ns as f64 / 1e9);
            counter!("ccxt_stream_malformed_total", "venue" => v).absolute(s.malformed);
            counter!("ccxt_stream_liquidations_total", "venue" => v).absolute(s.liquidations);
            let age = match s.last_frame_age_ns(now_ns) {
                Some(age) => age as f64 / 1e9,
                None => now_ns.saturating_sub(started_ns) as f64 / 1e9,
            };
            gauge!("ccxt_stream_last_message_age_seconds", "venue" => v).set(age);
        }
    }
    if let Some(rss) = resident_memory_bytes() {
        gauge!("ccxt_process_resident_memory_bytes").set(rss as f64);
    }
    gauge!("ccxt_uptime_seconds").set(now_ns.saturating_sub(started_ns) as f64 / 1e9);
    gauge!("ccxt_healthy").set(if healthy { 1.0 } else { 0.0 });
}

/// The process's resident set size, from `/proc/self/status` (Linux).
pub fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
