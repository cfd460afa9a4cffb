//! The daemon's settings in two steps: [`DaemonSettings`] as read from the config file
//! (`[daemon]`, `[metrics]`; every field optional) and [`DaemonConfig`], validated, with every
//! problem reported at once by [`DaemonSettings::validate`].
//!
//! The settings structs accept unknown keys so that the loader (`ccxt-cli`'s settings) can
//! collect every unknown key of the whole file at once (with `serde_ignored`) instead of
//! stopping at the first.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use ccxt_model::{BarInterval, BarPrice, Venue};
use ccxt_venue::OiPeriod;
use serde::Deserialize;

use crate::schedule::{Schedule, interval_cron};
use crate::shard::Shard;

/// The scheduled jobs. Each runs per venue; a run still going when its next time comes is
/// skipped with a warning, never stacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobKind {
    /// Current open interest of every symbol (bulk endpoints where the venue has them).
    OpenInterest,
    /// Current funding: the live rate, its interval and the next funding time.
    Funding,
    /// Settled funding since the last stored one.
    FundingHistory,
    /// Open-interest history since the last stored bucket: refills downtime (Binance, Bybit).
    OpenInterestHistory,
    /// The venue's instrument list: new listings join `--all`, delisted ones stop.
    Instruments,
    /// Catalog compaction (one run for the whole catalog, not per venue).
    Compaction,
    /// Closed bars of each configured series since the last stored bar: refills downtime as
    /// far as the venue keeps bars (Hyperliquid: its newest 5000 candles).
    Bars,
}

impl JobKind {
    /// Every job, in the order they are registered.
    pub const ALL: [JobKind; 7] = [
        JobKind::OpenInterest,
        JobKind::Funding,
        JobKind::FundingHistory,
        JobKind::OpenInterestHistory,
        JobKind::Instruments,
        JobKind::Compaction,
        JobKind::Bars,
    ];

    /// The name in the config (`daemon.schedule.<name>`), logs, metrics and `/healthz`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::OpenInterest => "open_interest",
            JobKind::Funding => "funding",
            JobKind::FundingHistory => "funding_history",
            JobKind::OpenInterestHistory => "open_interest_history",
            JobKind::Instruments => "instruments",
            JobKind::Compaction => "compaction",
            JobKind::Bars => "bars",
        }
    }

    /// The default schedule (six-field cron, seconds first, UTC).
    pub fn default_cron(self) -> &'static str {
        match self {
            // Every 5 minutes at second 0 / 10, so the two snapshots do not collide.
            JobKind::OpenInterest => "0 */5 * * * *",
            JobKind::Funding => "10 */5 * * * *",
            // Funding settles on the hour (1 h, 4 h, 8 h intervals): read it a minute later.
            JobKind::FundingHistory => "0 1 * * * *",
            // Venues publish the 5-minute OI bucket shortly after it closes.
            JobKind::OpenInterestHistory => "30 2/15 * * * *",
            JobKind::Instruments => "0 17 * * * *",
            // Hourly: snapshots write a small file per flush; this keeps a partition to a few.
            JobKind::Compaction => "0 4/5 * * * *",
            // Every 15 minutes (minute 1, 16, 31, 46; away from the 5-minute snapshots), 20 s
            // after the bars close: one small request per series and symbol fetches the bars
            // closed since the last stored one, stored as one small file per series. Every
            // 5 minutes made three times the requests and files (1,208 of each per run at
            // 600 instruments and the two default series) for bars that are 10 minutes fresher.
            JobKind::Bars => "20 1/15 * * * *",
        }
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A list of strings given as a list (`["a", "b"]`) or as one comma-separated string (`"a,b"`, as
/// environment variables give lists). Empty items are dropped.
pub fn string_list<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Text(String),
    }
    let split = |text: &str| -> Vec<String> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    Ok(match Either::deserialize(deserializer) {
        Ok(Either::List(items)) => items,
        Ok(Either::Text(text)) => split(&text),
        Err(_) => {
            return Err(serde::de::Error::custom(
                "expected a list of strings or one comma-separated string",
            ));
        }
    })
}

/// [`string_list`] for an optional key.
pub fn optional_string_list<'de, D>(deserializer: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    string_list(deserializer).map(Some)
}

/// `[daemon]`: what `ccxt-cli daemon start` collects and when. Flags override `symbols`,
/// `venues`, `all` and the two snapshot schedules.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct DaemonSettings {
    /// Symbols to collect (any form `fetch-oi` takes), used when no `-s` is given; empty and
    /// no `all`: BTCUSDT-PERP and ETHUSDT-PERP. A list, or one comma-separated string.
    #[serde(deserialize_with = "string_list")]
    pub symbols: Vec<String>,
    /// Venues to collect from (`binance`, `bybit`, …); empty: every installed venue. A list, or
    /// one comma-separated string.
    #[serde(deserialize_with = "string_list")]
    pub venues: Vec<String>,
    /// Every trading perpetual of the selected venues (kept current by the `instruments` job).
    pub all: bool,
    /// Bucket of the open-interest history top-up: `5m` (default), `15m`, `30m`, `1h`, …
    pub oi_period: Option<String>,
    /// `[daemon.schedule]`: one cron expression per job, or `"off"`.
    pub schedule: ScheduleSettings,
    /// `[daemon.backfill]`: how far back to fetch when nothing is stored yet.
    pub backfill: BackfillSettings,
    /// `[daemon.health]`: when `/healthz` calls a stream or job stale.
    pub health: HealthSettings,
    /// `[daemon.bars]`: which bar series the `bars` job collects.
    pub bars: BarsSettings,
    /// `i/n`: collect only shard `i` of `n` (0-based) of the instruments and streams, beside
    /// `n - 1` other daemons writing to the same catalog (see [`crate::shard`]). Unset: all.
    pub shard: Option<String>,
    /// Each `compaction` run compacts the next of this many fixed slices of the catalog's
    /// datasets, so every dataset is compacted once every this many runs (default 12: with the
    /// default run every 5 minutes, once an hour, in twelve short runs).
    pub compaction_slices: Option<i64>,
}

/// `[daemon.bars]`: the bar series the `bars` job collects, each `INTERVAL` (trade bars) or
/// `INTERVAL:PRICE` (`1m:last`, `1h:mark`). Intervals: `1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d
/// 1w 1M`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct BarsSettings {
    /// The series of every venue (default `1m:last` and `1m:mark`); a series a venue does not
    /// offer is left out on that venue (mark bars and 6h on Hyperliquid, 8h on Bybit). A list,
    /// or one comma-separated string.
    #[serde(deserialize_with = "optional_string_list")]
    pub series: Option<Vec<String>>,
    /// Per venue name (`daemon.bars.binance = [...]`): that venue's series instead of
    /// `series`; each must be offered by the venue. Keys must name installed venues.
    #[serde(flatten)]
    pub venues: BTreeMap<String, StringList>,
}

/// A list of strings, or one comma-separated string (see [`string_list`]).
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct StringList(#[serde(deserialize_with = "string_list")] pub Vec<String>);

/// One series of bars: an interval and a price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BarSeries {
    /// The interval.
    pub interval: BarInterval,
    /// Trade or mark price.
    pub price: BarPrice,
}

impl std::fmt::Display for BarSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.interval, self.price)
    }
}

impl std::str::FromStr for BarSeries {
    type Err = ccxt_model::BarError;

    /// `1m` (trade bars), `1m:last` or `1m:mark`.
    fn from_str(s: &str) -> Result<BarSeries, ccxt_model::BarError> {
        let (interval, price) = match s.trim().split_once(':') {
            Some((i, p)) => (i.parse()?, p.parse()?),
            None => (s.parse()?, BarPrice::Last),
        };
        Ok(BarSeries { interval, price })
    }
}

/// The default bar series: 1-minute trade and mark bars.
pub const DEFAULT_BAR_SERIES: [BarSeries; 2] = [
    BarSeries {
        interval: BarInterval::M1,
        price: BarPrice::Last,
    },
    BarSeries {
        interval: BarInterval::M1,
        price: BarPrice::Mark,
    },
];

/// The bar series, validated (syntax only: what each venue offers is its connector's to say,
/// see [`BarsConfig::for_venue`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarsConfig {
    /// `daemon.bars.series` (or the default), in order, without repeats.
    pub series: Vec<BarSeries>,
    /// Whether `series` differs from the default (a series no selected venue offers is then a
    /// problem; the default adapts to the venues silently).
    pub series_set: bool,
    /// Per-venue lists (`daemon.bars.<venue>`): every entry must be offered by the venue.
    pub per_venue: Vec<(Venue, Vec<BarSeries>)>,
}

impl Default for BarsConfig {
    fn default() -> Self {
        BarsConfig {
            series: DEFAULT_BAR_SERIES.to_vec(),
            series_set: false,
            per_venue: Vec::new(),
        }
    }
}

/// What one venue collects of the configured bar series.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VenueBars {
    /// The series collected.
    pub series: Vec<BarSeries>,
    /// Series of the common list the venue does not offer: left out (say so, not an error).
    pub left_out: Vec<BarSeries>,
    /// Series named for this venue (`daemon.bars.<venue>`) that it does not offer: problems.
    pub problems: Vec<String>,
}

impl BarsConfig {
    /// The series `venue` collects, given what it offers (`offers(series)`).
    pub fn for_venue(&self, venue: Venue, offers: impl Fn(BarSeries) -> bool) -> VenueBars {
        let mut out = VenueBars::default();
        match self.per_venue.iter().find(|(v, _)| *v == venue) {
            Some((_, list)) => {
                for series in list {
                    if offers(*series) {
                        out.series.push(*series);
                    } else {
                        out.problems.push(format!(
                            "daemon.bars.{venue}: {venue} does not offer {} {} bars",
                            series.interval, series.price
                        ));
                    }
                }
            }
            None => {
                for series in &self.series {
                    if offers(*series) {
                        out.series.push(*series);
                    } else {
                        out.left_out.push(*series);
                    }
                }
            }
        }
        out
    }
}

fn bar_series_list(key: &str, items: &[String], problems: &mut Vec<String>) -> Vec<BarSeries> {
    let mut out: Vec<BarSeries> = Vec::new();
    for item in items {
        match item.parse::<BarSeries>() {
            Ok(s) if !out.contains(&s) => out.push(s),
            Ok(_) => {}
            Err(e) => problems.push(format!(
                "{key}: '{item}': {e} (a series is INTERVAL or INTERVAL:PRICE, e.g. 1m or 1h:mark)"
            )),
        }
    }
    out
}

impl BarsSettings {
    fn validate(&self, problems: &mut Vec<String>) -> BarsConfig {
        let mut config = BarsConfig::default();
        if let Some(list) = &self.series {
            config.series = bar_series_list("daemon.bars.series", list, problems);
            config.series_set = config.series != DEFAULT_BAR_SERIES;
        }
        for (name, list) in &self.venues {
            let key = format!("daemon.bars.{name}");
            match name.parse::<Venue>() {
                Ok(venue) => config
                    .per_venue
                    .push((venue, bar_series_list(&key, &list.0, problems))),
                Err(e) => problems.push(format!(
                    "{key}: unknown venue '{name}' (valid: {})",
                    e.valid
                )),
            }
        }
        config.per_venue.sort_by_key(|(venue, _)| *venue);
        config
    }
}

/// `[daemon.schedule]`: six-field cron expressions (`sec min hour day month weekday`, UTC),
/// or `"off"` to disable a job.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ScheduleSettings {
    /// Open-interest snapshots (default every 5 minutes at second 0).
    pub open_interest: Option<String>,
    /// Funding snapshots (default every 5 minutes at second 10).
    pub funding: Option<String>,
    /// Settled funding top-up (default hourly at minute 1).
    pub funding_history: Option<String>,
    /// Open-interest history top-up (default every 15 minutes from minute 2, second 30).
    pub open_interest_history: Option<String>,
    /// Instrument refresh (default hourly at minute 17).
    pub instruments: Option<String>,
    /// Catalog compaction, a slice of the datasets per run (default every 5 minutes from
    /// minute 4; see [`DaemonSettings::compaction_slices`]).
    pub compaction: Option<String>,
    /// Bars since the last stored one (default every 5 minutes at second 20).
    pub bars: Option<String>,
}

impl ScheduleSettings {
    fn get(&self, job: JobKind) -> Option<&str> {
        match job {
            JobKind::OpenInterest => self.open_interest.as_deref(),
            JobKind::Funding => self.funding.as_deref(),
            JobKind::FundingHistory => self.funding_history.as_deref(),
            JobKind::OpenInterestHistory => self.open_interest_history.as_deref(),
            JobKind::Instruments => self.instruments.as_deref(),
            JobKind::Compaction => self.compaction.as_deref(),
            JobKind::Bars => self.bars.as_deref(),
        }
    }
}

/// `[daemon.backfill]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct BackfillSettings {
    /// Days of open-interest history fetched for a symbol with none stored (default 1; Binance
    /// keeps 30).
    pub oi_history_days: Option<f64>,
    /// Days of settled funding fetched for a symbol with none stored (default 7).
    pub funding_history_days: Option<f64>,
    /// Days of bars fetched for a series with none stored (default 1; Hyperliquid keeps its
    /// newest 5000 candles only, about 3.5 days of 1-minute bars).
    pub bars_days: Option<f64>,
}

/// `[daemon.health]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct HealthSettings {
    /// A liquidation stream with no frame for this long is stale, seconds (default 400: Binance
    /// pings every 3 minutes, so a quiet market is not mistaken for a dead socket).
    pub stream_stale_secs: Option<f64>,
    /// A job is stale when its last success is older than two periods plus this, seconds
    /// (default 60).
    pub job_grace_secs: Option<f64>,
}

/// `[metrics]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct MetricsSettings {
    /// Where `/healthz` and `/metrics` listen (default `127.0.0.1:9464`); `"off"` disables.
    pub address: Option<String>,
}

impl MetricsSettings {
    /// The listen address (`None`: `"off"`), or what is wrong with it. `daemon start` listens
    /// there and `daemon health` probes it.
    pub fn listen_address(&self) -> Result<Option<SocketAddr>, String> {
        match self.address.as_deref().map(str::trim) {
            Some(a) if a.eq_ignore_ascii_case("off") || a.is_empty() => Ok(None),
            other => {
                let text = other.unwrap_or(DEFAULT_METRICS_ADDRESS);
                text.parse::<SocketAddr>().map(Some).map_err(|_| {
                    format!(
                        "metrics.address must be IP:PORT (e.g. 127.0.0.1:9464) or \"off\", got '{text}'"
                    )
                })
            }
        }
    }
}

/// Flag values that override the file.
#[derive(Debug, Default, Clone)]
pub struct ScheduleOverrides {
    /// `--oi-interval MIN`.
    pub oi_interval_minutes: Option<u32>,
    /// `--funding-interval MIN`.
    pub funding_interval_minutes: Option<u32>,
    /// `--shard i/n` (overrides `daemon.shard`).
    pub shard: Option<String>,
}

/// The validated settings.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Enabled jobs and their schedules.
    pub jobs: Vec<(JobKind, Schedule)>,
    /// Bucket of the OI history top-up.
    pub oi_period: OiPeriod,
    /// Depth of the first OI history fetch.
    pub oi_history_depth: Duration,
    /// Depth of the first settled-funding fetch.
    pub funding_history_depth: Duration,
    /// The bar series of the `bars` job.
    pub bars: BarsConfig,
    /// Depth of the first fetch of a bar series.
    pub bars_depth: Duration,
    /// Stream staleness limit.
    pub stream_stale: Duration,
    /// Grace added to two job periods.
    pub job_grace: Duration,
    /// Listen address of `/healthz` and `/metrics`, if on.
    pub metrics_address: Option<SocketAddr>,
    /// Which shard this daemon collects ([`Shard::WHOLE`] when not sharded).
    pub shard: Shard,
    /// Of how many slices of the datasets each compaction run takes one.
    pub compaction_slices: u32,
}

impl DaemonConfig {
    /// The schedule of `job`, if enabled.
    pub fn schedule(&self, job: JobKind) -> Option<&Schedule> {
        self.jobs.iter().find(|(k, _)| *k == job).map(|(_, s)| s)
    }
}

/// How many slices of the datasets the compaction runs take in turn, by default: with a run
/// every 5 minutes, each dataset is compacted once an hour.
pub const DEFAULT_COMPACTION_SLICES: u32 = 12;

/// The most compaction slices (a run every minute, each dataset once a day).
pub const MAX_COMPACTION_SLICES: u32 = 1440;

/// The default metrics address.
pub const DEFAULT_METRICS_ADDRESS: &str = "127.0.0.1:9464";

fn positive_secs(
    key: &str,
    value: Option<f64>,
    default: f64,
    max: f64,
    problems: &mut Vec<String>,
) -> Duration {
    match value {
        None => Duration::from_secs_f64(default),
        Some(v) if v.is_finite() && v > 0.0 && v <= max => Duration::from_secs_f64(v),
        Some(v) => {
            problems.push(format!("{key} must be a number in (0, {max}], got {v}"));
            Duration::from_secs_f64(default)
        }
    }
}

impl DaemonSettings {
    /// The bar series as far as they can be read (bad entries left out; [`validate`](Self::validate)
    /// reports them): what each venue offers is checked against this even when other settings
    /// are invalid, so every problem is reported at once.
    pub fn bar_series(&self) -> BarsConfig {
        self.bars.validate(&mut Vec::new())
    }

    /// Checks everything and returns the validated config, or every problem found.
    pub fn validate(
        &self,
        metrics: &MetricsSettings,
        overrides: &ScheduleOverrides,
    ) -> Result<DaemonConfig, Vec<String>> {
        let mut problems = Vec::new();
        let jobs = self.validate_jobs(overrides, &mut problems);
        let oi_period = match self.oi_period.as_deref() {
            None => OiPeriod::M5,
            Some(text) => match text.parse::<OiPeriod>() {
                Ok(p) => p,
                Err(e) => {
                    problems.push(format!("daemon.oi_period: {e}"));
                    OiPeriod::M5
                }
            },
        };
        let depths = self.backfill.validate(&mut problems);
        let bars = self.bars.validate(&mut problems);
        let (stream_stale, job_grace) = self.health.validate(&mut problems);
        let metrics_address = metrics.listen_address().unwrap_or_else(|problem| {
            problems.push(problem);
            None
        });
        let shard = self.shard(overrides).unwrap_or_else(|problem| {
            problems.push(problem);
            Shard::WHOLE
        });
        let compaction_slices = self.compaction_slices().unwrap_or_else(|problem| {
            problems.push(problem);
            DEFAULT_COMPACTION_SLICES
        });
        for venue in &self.venues {
            if let Err(e) = venue.parse::<Venue>() {
                problems.push(format!(
                    "daemon.venues: unknown venue '{venue}' (valid: {})",
                    e.valid
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(DaemonConfig {
            jobs,
            oi_period,
            oi_history_depth: depths.oi_history,
            funding_history_depth: depths.funding_history,
            bars,
            bars_depth: depths.bars,
            stream_stale,
            job_grace,
            metrics_address,
            shard,
            compaction_slices,
        })
    }

    /// `daemon.compaction_slices`, or what is wrong with it.
    fn compaction_slices(&self) -> Result<u32, String> {
        match self.compaction_slices {
            None => Ok(DEFAULT_COMPACTION_SLICES),
            Some(n) => u32::try_from(n)
                .ok()
                .filter(|n| (1..=MAX_COMPACTION_SLICES).contains(n))
                .ok_or_else(|| {
                    format!(
                        "daemon.compaction_slices must be a whole number from 1 to \
                         {MAX_COMPACTION_SLICES}, got {n}"
                    )
                }),
        }
    }

    /// The shard: `--shard`, else `daemon.shard`, else the whole universe.
    fn shard(&self, overrides: &ScheduleOverrides) -> Result<Shard, String> {
        match (&overrides.shard, &self.shard) {
            (Some(text), _) => text.parse().map_err(|e| format!("--shard: {e}")),
            (None, Some(text)) => text.parse().map_err(|e| format!("daemon.shard: {e}")),
            (None, None) => Ok(Shard::WHOLE),
        }
    }

    /// Each job's schedule (the `--oi-interval`/`--funding-interval` flags win over the
    /// settings); jobs set to "off" are left out.
    fn validate_jobs(
        &self,
        overrides: &ScheduleOverrides,
        problems: &mut Vec<String>,
    ) -> Vec<(JobKind, Schedule)> {
        let mut jobs = Vec::new();
        for job in JobKind::ALL {
            let key = format!("daemon.schedule.{job}");
            let from_flag = match job {
                JobKind::OpenInterest => {
                    overrides.oi_interval_minutes.map(|m| ("--oi-interval", m))
                }
                JobKind::Funding => overrides
                    .funding_interval_minutes
                    .map(|m| ("--funding-interval", m)),
                _ => None,
            };
            let expression = match from_flag {
                Some((flag, minutes)) => match interval_cron(minutes, job == JobKind::Funding) {
                    Ok(cron) => cron,
                    Err(e) => {
                        problems.push(format!("{flag} {minutes}: {e}"));
                        continue;
                    }
                },
                None => self
                    .schedule
                    .get(job)
                    .unwrap_or(job.default_cron())
                    .trim()
                    .to_string(),
            };
            if expression.eq_ignore_ascii_case("off") {
                continue;
            }
            match Schedule::parse(&expression) {
                Ok(schedule) => jobs.push((job, schedule)),
                Err(e) => problems.push(format!("{key}: {e}")),
            }
        }
        jobs
    }
}

/// How far back the top-ups reach, validated.
struct Depths {
    oi_history: Duration,
    funding_history: Duration,
    bars: Duration,
}

const DAY_SECS: f64 = 86_400.0;

impl BackfillSettings {
    fn validate(&self, problems: &mut Vec<String>) -> Depths {
        let day = DAY_SECS;
        let oi_history = positive_secs(
            "daemon.backfill.oi_history_days",
            self.oi_history_days.map(|d| d * day),
            day,
            3650.0 * day,
            problems,
        );
        let funding_history = positive_secs(
            "daemon.backfill.funding_history_days",
            self.funding_history_days.map(|d| d * day),
            7.0 * day,
            3650.0 * day,
            problems,
        );
        let bars = positive_secs(
            "daemon.backfill.bars_days",
            self.bars_days.map(|d| d * day),
            day,
            3650.0 * day,
            problems,
        );
        Depths {
            oi_history,
            funding_history,
            bars,
        }
    }
}

impl HealthSettings {
    /// The stream staleness limit and the job grace.
    fn validate(&self, problems: &mut Vec<String>) -> (Duration, Duration) {
        let day = DAY_SECS;
        let stream_stale = positive_secs(
            "daemon.health.stream_stale_secs",
            self.stream_stale_secs,
            400.0,
            7.0 * day,
            problems,
        );
        let job_grace = match self.job_grace_secs {
            None => Duration::from_secs(60),
            Some(v) if v.is_finite() && (0.0..=7.0 * day).contains(&v) => {
                Duration::from_secs_f64(v)
            }
            Some(v) => {
                problems.push(format!(
                    "daemon.health.job_grace_secs must be a number in [0, 604800], got {v}"
                ));
                Duration::from_secs(60)
            }
        };
        (stream_stale, job_grace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(toml_like: impl FnOnce(&mut DaemonSettings)) -> DaemonSettings {
        ccxt_registry::install().expect("installs");
        let mut s = DaemonSettings::default();
        toml_like(&mut s);
        s
    }

    #[test]
    fn defaults_enable_every_job_and_listen_on_loopback() {
        let config = DaemonSettings::default()
            .validate(&MetricsSettings::default(), &ScheduleOverrides::default())
            .unwrap();
        assert_eq!(config.jobs.len(), JobKind::ALL.len());
        assert_eq!(
            config.metrics_address,
            Some("127.0.0.1:9464".parse().unwrap())
        );
        assert_eq!(config.oi_period, OiPeriod::M5);
        assert_eq!(
            config.schedule(JobKind::OpenInterest).unwrap().period(),
            Duration::from_secs(300)
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let s = settings(|s| {
            s.schedule.open_interest = Some("every five minutes".into());
            s.schedule.compaction = Some("0 61 * * * *".into());
            s.oi_period = Some("7m".into());
            s.backfill.oi_history_days = Some(-1.0);
            s.health.stream_stale_secs = Some(f64::NAN);
            s.venues = vec!["kraken".into()];
        });
        let metrics = MetricsSettings {
            address: Some("localhost".into()),
        };
        let problems = s
            .validate(&metrics, &ScheduleOverrides::default())
            .unwrap_err();
        let text = problems.join("\n");
        for key in [
            "daemon.schedule.open_interest",
            "daemon.schedule.compaction",
            "daemon.oi_period",
            "daemon.backfill.oi_history_days",
            "daemon.health.stream_stale_secs",
            "metrics.address",
            "kraken",
        ] {
            assert!(text.contains(key), "{key} missing in:\n{text}");
        }
        assert_eq!(problems.len(), 7, "{text}");
    }

    #[test]
    fn bar_series_are_checked_and_every_bad_one_reported() {
        let s = settings(|s| {
            s.bars.series = Some(vec!["1m".into(), "1h:mark".into(), "3d".into()]);
            s.bars.venues.insert(
                "hyperliquid".into(),
                StringList(vec!["5m:last".into(), "1m:index".into()]),
            );
            s.backfill.bars_days = Some(0.0);
        });
        let problems = s
            .validate(&MetricsSettings::default(), &ScheduleOverrides::default())
            .unwrap_err();
        let text = problems.join("\n");
        assert_eq!(problems.len(), 3, "{text}");
        assert!(
            text.contains("daemon.bars.series: '3d': unknown bar interval"),
            "{text}"
        );
        assert!(
            text.contains("daemon.bars.hyperliquid: '1m:index': unknown bar price"),
            "{text}"
        );
        assert!(text.contains("daemon.backfill.bars_days"), "{text}");

        let config = DaemonSettings::default()
            .validate(&MetricsSettings::default(), &ScheduleOverrides::default())
            .unwrap();
        assert_eq!(config.bars.series, DEFAULT_BAR_SERIES);
        assert_eq!(
            config.schedule(JobKind::Bars).unwrap().period(),
            Duration::from_secs(900)
        );
        // The common list adapts to the venue; a venue's own list must be offered by it.
        let trade_only = |s: BarSeries| s.price == BarPrice::Last;
        let hl = config
            .bars
            .for_venue(ccxt_registry::venue("hyperliquid"), trade_only);
        assert_eq!(hl.series, [DEFAULT_BAR_SERIES[0]]);
        assert_eq!(hl.left_out, [DEFAULT_BAR_SERIES[1]]);
        assert!(hl.problems.is_empty());
        let own = BarsConfig {
            per_venue: vec![(
                ccxt_registry::venue("hyperliquid"),
                DEFAULT_BAR_SERIES.to_vec(),
            )],
            ..BarsConfig::default()
        };
        let hl = own.for_venue(ccxt_registry::venue("hyperliquid"), trade_only);
        assert_eq!(
            hl.problems,
            ["daemon.bars.hyperliquid: hyperliquid does not offer 1m mark bars"]
        );
        assert_eq!(
            "1M:MARK".parse::<BarSeries>().unwrap().to_string(),
            "1M:mark"
        );
    }

    #[test]
    fn per_venue_bar_lists_are_keyed_by_installed_venue_names() {
        ccxt_registry::install().expect("installs");
        let s: DaemonSettings = serde_json::from_value(serde_json::json!({
            "bars": {"series": "1m", "bybit": "1h, 4h:mark", "kraken": ["1m"]}
        }))
        .unwrap();
        assert_eq!(s.bars.series.as_deref(), Some(&["1m".to_string()][..]));
        assert_eq!(s.bars.venues["bybit"].0, ["1h", "4h:mark"]);
        let problems = s
            .validate(&MetricsSettings::default(), &ScheduleOverrides::default())
            .unwrap_err();
        assert_eq!(
            problems,
            [format!(
                "daemon.bars.kraken: unknown venue 'kraken' (valid: {})",
                ccxt_model::venue::valid_names()
            )]
        );
        let mut s = s;
        s.bars.venues.remove("kraken");
        let config = s
            .validate(&MetricsSettings::default(), &ScheduleOverrides::default())
            .unwrap();
        let bybit = ccxt_registry::venue("bybit");
        assert_eq!(config.bars.per_venue.len(), 1);
        assert_eq!(config.bars.per_venue[0].0, bybit);
        assert_eq!(
            config.bars.for_venue(bybit, |_| true).series,
            [
                "1h".parse::<BarSeries>().unwrap(),
                "4h:mark".parse().unwrap()
            ]
        );
    }

    #[test]
    fn lists_come_as_lists_or_comma_separated_strings() {
        let parse = |v: serde_json::Value| serde_json::from_value::<DaemonSettings>(v);
        let list = parse(serde_json::json!({"symbols": ["BTCUSDT-PERP", "ETH"]})).unwrap();
        assert_eq!(list.symbols, ["BTCUSDT-PERP", "ETH"]);
        let text = parse(serde_json::json!({"venues": "binance, bybit,"})).unwrap();
        assert_eq!(text.venues, ["binance", "bybit"]);
        let err = parse(serde_json::json!({"symbols": 5})).unwrap_err();
        assert!(err.to_string().contains("comma-separated"), "{err}");
    }

    #[test]
    fn jobs_can_be_turned_off_and_flags_override_the_file() {
        let s = settings(|s| {
            s.schedule.compaction = Some("off".into());
            s.schedule.open_interest = Some("0 0 * * * *".into());
        });
        let overrides = ScheduleOverrides {
            oi_interval_minutes: Some(15),
            funding_interval_minutes: None,
            shard: None,
        };
        let config = s
            .validate(
                &MetricsSettings {
                    address: Some("off".into()),
                },
                &overrides,
            )
            .unwrap();
        assert!(config.schedule(JobKind::Compaction).is_none());
        assert_eq!(config.metrics_address, None);
        let oi = config.schedule(JobKind::OpenInterest).unwrap();
        assert_eq!(oi.expression(), "0 */15 * * * *");
        let bad = ScheduleOverrides {
            oi_interval_minutes: Some(7),
            funding_interval_minutes: Some(0),
            shard: None,
        };
        let problems = s.validate(&MetricsSettings::default(), &bad).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("--oi-interval 7"), "{problems:?}");
    }

    #[test]
    fn compaction_slices_default_to_twelve_runs_every_five_minutes_and_are_checked() {
        let metrics = MetricsSettings {
            address: Some("off".into()),
        };
        let none = ScheduleOverrides::default();
        let config = settings(|_| {}).validate(&metrics, &none).unwrap();
        assert_eq!(config.compaction_slices, 12);
        let compaction = config.schedule(JobKind::Compaction).unwrap();
        assert_eq!(compaction.expression(), "0 4/5 * * * *");
        assert_eq!(
            compaction.period(),
            Duration::from_secs(300),
            "twelve slices of five minutes: every dataset once an hour"
        );
        let s = settings(|s| s.compaction_slices = Some(1));
        assert_eq!(s.validate(&metrics, &none).unwrap().compaction_slices, 1);
        for bad in [0, -3, 1441, i64::MAX] {
            let s = settings(|s| {
                s.compaction_slices = Some(bad);
                s.oi_period = Some("7m".into());
            });
            let problems = s.validate(&metrics, &none).unwrap_err();
            assert_eq!(problems.len(), 2, "every problem at once: {problems:?}");
            assert!(
                problems.contains(&format!(
                    "daemon.compaction_slices must be a whole number from 1 to 1440, got {bad}"
                )),
                "{problems:?}"
            );
        }
    }

    #[test]
    fn the_shard_comes_from_the_flag_then_the_file_and_is_checked() {
        let metrics = MetricsSettings {
            address: Some("off".into()),
        };
        let none = ScheduleOverrides::default();
        let s = settings(|_| {});
        assert_eq!(s.validate(&metrics, &none).unwrap().shard, Shard::WHOLE);
        let s = settings(|s| s.shard = Some("1/3".into()));
        assert_eq!(
            s.validate(&metrics, &none).unwrap().shard,
            Shard { index: 1, count: 3 }
        );
        let flag = ScheduleOverrides {
            shard: Some("0/2".into()),
            ..ScheduleOverrides::default()
        };
        assert_eq!(
            s.validate(&metrics, &flag).unwrap().shard,
            Shard { index: 0, count: 2 }
        );
        let bad = settings(|s| s.shard = Some("2/2".into()));
        let problems = bad.validate(&metrics, &none).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with(
                "daemon.shard: invalid shard '2/2': the index must be below the count (use i/n"
            ),
            "{problems:?}"
        );
        let flag = ScheduleOverrides {
            shard: Some("1/0".into()),
            ..ScheduleOverrides::default()
        };
        let problems = s.validate(&metrics, &flag).unwrap_err();
        assert!(
            problems[0].starts_with("--shard: invalid shard '1/0'"),
            "{problems:?}"
        );
    }
}
