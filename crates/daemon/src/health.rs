//! Freshness of every job and stream, and the store's write failures, for `/healthz`.
//!
//! A job is stale when its last success (or, before the first one, the daemon's start) is
//! older than two of its periods plus the grace; a stream when its last frame (or the start)
//! is older than `stream_stale`. A failing catalog or spool write ([`WriteFault`]) makes the
//! report unhealthy until the writes succeed again. Pure: [`Health::report`] takes the time,
//! the stream ages and the write faults.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use ccxt_model::Venue;
use ccxt_model::time::format_iso;
use serde::Serialize;

use crate::config::JobKind;

/// One stale item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stale {
    /// `job` or `stream`.
    pub kind: &'static str,
    /// Job name, or `liquidations` for a stream.
    pub name: String,
    /// Venue (`all` for catalog-wide jobs).
    pub venue: String,
    /// Last success / last frame, ISO 8601, if there was one.
    pub last: Option<String>,
    /// Seconds since then (or since the start).
    pub age_secs: f64,
    /// The limit that was exceeded, seconds.
    pub limit_secs: f64,
}

/// A write that keeps failing: the catalog (rows wait in the spool) or the spool (rows wait
/// in memory, not durable).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WriteFault {
    /// `catalog` or `spool`.
    pub kind: &'static str,
    /// The latest error, e.g. `No space left on device (os error 28)` with the path.
    pub error: String,
    /// When the writes started failing, ISO 8601.
    pub since: String,
    /// Whether the rows not yet in the catalog are on disk (in the spool).
    pub durable: bool,
    /// Rows held in memory because the spool could not take them (or was full).
    pub rows_in_memory: usize,
    /// Rows waiting in the spool (on disk) for the catalog.
    pub rows_in_spool: usize,
    /// What it means for the rows, e.g. `catalog unreachable since …, 120 rows waiting in the
    /// spool; …`.
    pub note: String,
}

/// The `/healthz` answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    /// `ok`, `stale` (a job or stream is late) or `failing` (a write fails; it wins over
    /// `stale`).
    pub status: &'static str,
    /// When checked.
    pub checked_at: String,
    /// Jobs and streams watched.
    pub watched: usize,
    /// What is stale.
    pub stale: Vec<Stale>,
    /// Writes that fail.
    pub faults: Vec<WriteFault>,
    /// The shard this daemon collects (`1/3`), when sharded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
}

impl HealthReport {
    /// Whether everything is fresh and every write succeeds.
    pub fn ok(&self) -> bool {
        self.stale.is_empty() && self.faults.is_empty()
    }
}

#[derive(Debug, Clone)]
struct JobEntry {
    limit: Duration,
    last_success_ns: Option<u64>,
}

/// Last successes of the jobs.
#[derive(Debug)]
pub struct Health {
    started_ns: u64,
    stream_stale: Duration,
    jobs: Mutex<BTreeMap<(JobKind, Option<Venue>), JobEntry>>,
}

impl Health {
    /// Nothing watched yet; the clock of "never succeeded" starts at `started_ns`.
    pub fn new(started_ns: u64, stream_stale: Duration) -> Health {
        Health {
            started_ns,
            stream_stale,
            jobs: Mutex::new(BTreeMap::new()),
        }
    }

    /// When the daemon started, UNIX ns.
    pub fn started_ns(&self) -> u64 {
        self.started_ns
    }

    /// Watches `job` on `venue` (`None`: catalog-wide): stale after `limit` without success.
    pub fn watch(&self, job: JobKind, venue: Option<Venue>, limit: Duration) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.entry((job, venue)).or_insert(JobEntry {
                limit,
                last_success_ns: None,
            });
        }
    }

    /// Stops watching `job` on `venue`.
    pub fn unwatch(&self, job: JobKind, venue: Option<Venue>) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.remove(&(job, venue));
        }
    }

    /// `job` on `venue` succeeded at `now_ns`.
    pub fn success(&self, job: JobKind, venue: Option<Venue>, now_ns: u64) {
        if let Ok(mut jobs) = self.jobs.lock()
            && let Some(entry) = jobs.get_mut(&(job, venue))
        {
            entry.last_success_ns = Some(now_ns);
        }
    }

    /// The report at `now_ns`, given each streaming venue's last frame time (0: none yet) and
    /// the store's write faults.
    pub fn report(
        &self,
        now_ns: u64,
        streams: &BTreeMap<Venue, u64>,
        faults: Vec<WriteFault>,
    ) -> HealthReport {
        let mut stale = Vec::new();
        let age = |since: Option<u64>| {
            now_ns.saturating_sub(since.unwrap_or(self.started_ns)) as f64 / 1e9
        };
        let jobs = self.jobs.lock().map(|j| j.clone()).unwrap_or_default();
        for ((job, venue), entry) in &jobs {
            let age_secs = age(entry.last_success_ns);
            if age_secs > entry.limit.as_secs_f64() {
                stale.push(Stale {
                    kind: "job",
                    name: job.as_str().to_string(),
                    venue: venue.map_or("all", Venue::as_str).to_string(),
                    last: entry.last_success_ns.map(format_iso),
                    age_secs,
                    limit_secs: entry.limit.as_secs_f64(),
                });
            }
        }
        for (venue, last) in streams {
            let last = (*last > 0).then_some(*last);
            let age_secs = age(last);
            if age_secs > self.stream_stale.as_secs_f64() {
                stale.push(Stale {
                    kind: "stream",
                    name: "liquidations".into(),
                    venue: venue.as_str().to_string(),
                    last: last.map(format_iso),
                    age_secs,
                    limit_secs: self.stream_stale.as_secs_f64(),
                });
            }
        }
        let status = if !faults.is_empty() {
            "failing"
        } else if !stale.is_empty() {
            "stale"
        } else {
            "ok"
        };
        HealthReport {
            status,
            checked_at: format_iso(now_ns),
            watched: jobs.len() + streams.len(),
            stale,
            faults,
            shard: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn jobs_and_streams_turn_stale_and_fresh_again() {
        let start = 1_000 * S;
        let health = Health::new(start, Duration::from_secs(10));
        health.watch(
            JobKind::OpenInterest,
            Some(ccxt_registry::venue("bybit")),
            Duration::from_secs(60),
        );
        health.watch(JobKind::Compaction, None, Duration::from_secs(3600));
        let mut streams = BTreeMap::from([(ccxt_registry::venue("binance"), 0)]);
        // Just started: nothing is stale yet.
        assert!(health.report(start + 5 * S, &streams, Vec::new()).ok());
        // No frame 11 s after the start: the stream is stale; the job not yet.
        let r = health.report(start + 11 * S, &streams, Vec::new());
        assert_eq!(r.status, "stale");
        assert_eq!(r.stale.len(), 1);
        assert_eq!(
            (r.stale[0].kind, r.stale[0].venue.as_str()),
            ("stream", "binance")
        );
        streams.insert(ccxt_registry::venue("binance"), start + 10 * S);
        assert!(health.report(start + 11 * S, &streams, Vec::new()).ok());
        // The job never succeeded within its limit.
        let r = health.report(start + 61 * S, &BTreeMap::new(), Vec::new());
        assert_eq!(r.stale.len(), 1);
        assert_eq!(r.stale[0].name, "open_interest");
        assert_eq!(r.stale[0].last, None);
        health.success(
            JobKind::OpenInterest,
            Some(ccxt_registry::venue("bybit")),
            start + 61 * S,
        );
        assert!(
            health
                .report(start + 62 * S, &BTreeMap::new(), Vec::new())
                .ok()
        );
        let json =
            serde_json::to_value(health.report(start + 200 * S, &BTreeMap::new(), Vec::new()))
                .unwrap();
        assert_eq!(json["status"], "stale");
        assert_eq!(json["stale"][0]["venue"], "bybit");
        health.unwatch(JobKind::OpenInterest, Some(ccxt_registry::venue("bybit")));
        assert!(
            health
                .report(start + 200 * S, &BTreeMap::new(), Vec::new())
                .ok()
        );
    }

    #[test]
    fn a_write_fault_makes_the_report_failing_and_names_the_cause() {
        let start = 1_000 * S;
        let health = Health::new(start, Duration::from_secs(10));
        let fault = WriteFault {
            kind: "spool",
            error: "No space left on device (os error 28)".into(),
            since: format_iso(start),
            durable: false,
            rows_in_memory: 3,
            rows_in_spool: 0,
            note: "held in memory".into(),
        };
        let report = health.report(start + S, &BTreeMap::new(), vec![fault]);
        assert!(!report.ok());
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["status"], "failing");
        assert_eq!(json["faults"][0]["kind"], "spool");
        assert_eq!(json["faults"][0]["durable"], false);
        assert!(
            json["faults"][0]["error"]
                .as_str()
                .unwrap()
                .contains("No space left")
        );
    }
}
