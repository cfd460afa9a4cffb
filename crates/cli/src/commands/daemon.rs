//! `ccxt-cli daemon start | validate | health`.
//!
//! `start` and `validate` share one path: flags and the config file become a [`Prepared`]
//! daemon with every problem collected (never the first one only); `validate` prints the
//! verdict, `start` runs it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ccxt_catalog::{Catalog, LockScope, StorageOptions};
use ccxt_daemon::{
    BarSeries, BarsConfig, DaemonConfig, DaemonPlan, FlushPolicy, JobKind, ScheduleOverrides,
    VenueRuntime,
};
use ccxt_model::{SymbolInput, Venue};
use ccxt_stream::FeedKind;

use crate::ConfigProblems;
use crate::cli::{DaemonArgs, DaemonCommand, HealthArgs};
use crate::inputs::symbols_on;
use crate::registry;
use crate::settings::{FileSettings, Loaded, LocalDirs};

/// The symbols the daemon collects when neither symbols nor `--all` are given.
pub const DEFAULT_SYMBOLS: [&str; 2] = ["BTCUSDT-PERP", "ETHUSDT-PERP"];

/// Runs a `daemon` subcommand. `problems` are those already found in the configuration; they
/// are listed together with the daemon's own.
pub async fn run(
    location: &str,
    dirs: &LocalDirs,
    loaded: &Loaded,
    command: DaemonCommand,
    problems: Vec<String>,
) -> anyhow::Result<ExitCode> {
    let settings = &loaded.settings;
    let prepare = |args: &DaemonArgs| match prepare(dirs, settings, args) {
        Ok(p) if problems.is_empty() => Ok(p),
        Ok(_) => Err(ConfigProblems(problems.clone())),
        Err(own) => Err(ConfigProblems(crate::settings::distinct_redacted(
            problems.iter().cloned().chain(own).collect(),
        ))),
    };
    match command {
        DaemonCommand::Validate(args) => {
            let prepared = prepare(&args)?;
            println!("{}", prepared.describe(location));
            Ok(ExitCode::SUCCESS)
        }
        DaemonCommand::Start(args) => {
            let prepared = prepare(&args)?;
            for stranded in stranded_spools(&dirs.spool, prepared.config.shard) {
                tracing::warn!(
                    spool = %stranded.display(),
                    "a spool of another shard layout holds rows no running shard will store: start that shard once with its old --shard (or no --shard) to store them"
                );
            }
            // Handlers first: a signal during start-up is a clean stop, not a kill.
            let signals = Signals::register()?;
            tracing::info!(
                catalog = location,
                config = loaded
                    .file
                    .as_ref()
                    .map(|f| f.path.display().to_string())
                    .unwrap_or_else(|| "none".into()),
                "starting: {}",
                prepared.what()
            );
            start(location, &settings.storage_options(), prepared, signals).await
        }
        DaemonCommand::Health(args) => {
            if !problems.is_empty() {
                return Err(ConfigProblems(problems).into());
            }
            health(&settings.metrics, &args).await
        }
    }
}

/// A daemon ready to start.
struct Prepared {
    venues: Vec<VenueRuntime>,
    config: DaemonConfig,
    flush: FlushPolicy,
    /// The spool and state directories of this daemon (its shard's).
    dirs: LocalDirs,
    /// No symbols and no `--all` were given: [`DEFAULT_SYMBOLS`] are collected.
    default_symbols: bool,
    /// Per venue, the bar series of the common list it does not offer (left out).
    bars_left_out: Vec<(Venue, Vec<BarSeries>)>,
}

impl Prepared {
    /// What is collected, in one line.
    fn what(&self) -> String {
        let venues: Vec<&str> = self.venues.iter().map(|v| v.venue.as_str()).collect();
        let symbols = if self.default_symbols {
            format!(
                "no symbols given: collecting the defaults {} (give -s SYMBOL, daemon.symbols or --all to choose)",
                DEFAULT_SYMBOLS.join(" and ")
            )
        } else if self.venues.iter().any(|v| v.all) {
            "every trading perpetual".to_string()
        } else {
            let n: usize = self.venues.iter().map(|v| v.symbols.len()).sum();
            format!("{n} instrument(s)")
        };
        let shard = self.config.shard;
        if shard.is_sharded() {
            return format!(
                "{symbols} on {}, shard {shard}: this daemon collects only the instruments and liquidation feeds its shard owns",
                venues.join(", ")
            );
        }
        format!("{symbols} on {}", venues.join(", "))
    }

    fn describe(&self, location: &str) -> String {
        let mut lines = vec![format!("configuration is valid; catalog '{location}'")];
        if self.config.shard.is_sharded() {
            lines.push(format!(
                "  shard {} (instruments by FNV-1a hash of venue:symbol; whole-market liquidation feeds by venue)",
                self.config.shard
            ));
        }
        lines.push(format!(
            "  spool {} (state file {})",
            self.dirs.spool.join("daemon").display(),
            ccxt_daemon::state::StateFile::in_dir(&self.dirs.state)
                .path()
                .display()
        ));
        if self.default_symbols {
            lines.push(format!("  {}", self.what()));
        }
        for v in &self.venues {
            let symbols = if v.all {
                format!("every trading perpetual (+{} named)", v.symbols.len())
            } else {
                v.symbols
                    .iter()
                    .map(|i| i.native.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            lines.push(format!("  {:<12} {symbols}", v.venue.as_str()));
        }
        if self.config.schedule(JobKind::Bars).is_some() {
            for v in &self.venues {
                let list = |series: &[BarSeries]| {
                    series
                        .iter()
                        .map(BarSeries::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let mut line = format!(
                    "  bars {:<11} {}",
                    v.venue.as_str(),
                    if v.bars.is_empty() {
                        "none".to_string()
                    } else {
                        list(&v.bars)
                    }
                );
                if let Some((_, left)) = self.bars_left_out.iter().find(|(x, _)| *x == v.venue)
                    && !left.is_empty()
                {
                    line.push_str(&format!(" ({} not offered: left out)", list(left)));
                }
                lines.push(line);
            }
        }
        for (job, schedule) in &self.config.jobs {
            lines.push(format!(
                "  job {:<22} \"{}\" (every {:?} at most)",
                job.as_str(),
                schedule.expression(),
                schedule.period()
            ));
        }
        lines.push(match self.config.metrics_address {
            Some(a) => format!("  /healthz and /metrics on http://{a}"),
            None => "  /healthz and /metrics off".to_string(),
        });
        lines.join("\n")
    }
}

/// Validates everything `daemon start` needs and builds each venue's runtime, or returns
/// every problem at once.
fn prepare(
    dirs: &LocalDirs,
    settings: &FileSettings,
    args: &DaemonArgs,
) -> Result<Prepared, Vec<String>> {
    let mut problems = Vec::new();
    let d = &settings.daemon;
    let overrides = ScheduleOverrides {
        oi_interval_minutes: args.oi_interval,
        funding_interval_minutes: args.funding_interval,
        shard: args.shard.clone(),
    };
    let config = match d.validate(&settings.metrics, &overrides) {
        Ok(c) => Some(c),
        Err(errors) => {
            problems.extend(errors);
            None
        }
    };
    let selection = Selection::of(settings, args, &mut problems);
    let flush = match settings.spool.policy() {
        Ok(policy) => policy,
        Err(errors) => {
            problems.extend(errors);
            FlushPolicy::default()
        }
    };
    let bar_config = d.bar_series();
    let mut runtimes = Vec::new();
    let mut bars_left_out = Vec::new();
    for venue in &selection.venues {
        if let Some((runtime, left_out)) =
            venue_runtime(*venue, settings, &selection, &bar_config, &mut problems)
        {
            runtimes.push(runtime);
            bars_left_out.push((*venue, left_out));
        }
    }
    check_common_bars(&bar_config, &runtimes, &mut problems);
    if runtimes.is_empty() && problems.is_empty() {
        problems.push(
            "no venue to collect from: the symbols exist on none of the selected venues".into(),
        );
    }
    match config {
        Some(config) if problems.is_empty() => Ok(Prepared {
            venues: runtimes,
            dirs: dirs.for_shard(config.shard),
            config,
            flush,
            default_symbols: selection.default_symbols,
            bars_left_out,
        }),
        _ => Err(problems),
    }
}

/// The symbols and venues a `daemon start` collects.
struct Selection {
    /// Symbols: the flags, else the config file, else [`DEFAULT_SYMBOLS`].
    symbols: Vec<SymbolInput>,
    /// Venues: the flags, else the config file, else all.
    venues: Vec<Venue>,
    /// Whether venues were named (a symbol missing on one is then an error).
    venue_named: bool,
    /// Every trading perpetual as well.
    all: bool,
    /// Whether the default symbols are used.
    default_symbols: bool,
}

impl Selection {
    fn of(settings: &FileSettings, args: &DaemonArgs, problems: &mut Vec<String>) -> Selection {
        let d = &settings.daemon;
        let mut symbols: Vec<SymbolInput> = args.symbols.clone();
        if symbols.is_empty() {
            for text in &d.symbols {
                match SymbolInput::parse(text) {
                    Ok(s) => symbols.push(s),
                    Err(e) => problems.push(format!("daemon.symbols: {e}")),
                }
            }
        }
        let named: Vec<Venue> = if !args.venues.is_empty() {
            args.venues.iter().map(|v| Venue::from(*v)).collect()
        } else {
            d.venues
                .iter()
                .filter_map(|v| v.parse::<Venue>().ok())
                .collect()
        };
        let venues: Vec<Venue> = registry::venues()
            .into_iter()
            .filter(|v| named.is_empty() || named.contains(v))
            .collect();
        let all = args.all || d.all;
        let default_symbols = symbols.is_empty() && !all && d.symbols.is_empty();
        if default_symbols {
            for text in DEFAULT_SYMBOLS {
                match SymbolInput::parse(text) {
                    Ok(s) => symbols.push(s),
                    Err(e) => problems.push(format!("default symbol {text}: {e}")),
                }
            }
        }
        Selection {
            symbols,
            venues,
            venue_named: !named.is_empty(),
            all,
            default_symbols,
        }
    }
}

/// One venue's runtime and the bar series left out because it does not offer them; `None`
/// if the venue has nothing to collect or has problems (added to `problems`).
fn venue_runtime(
    venue: Venue,
    settings: &FileSettings,
    selection: &Selection,
    bar_config: &BarsConfig,
    problems: &mut Vec<String>,
) -> Option<(VenueRuntime, Vec<BarSeries>)> {
    let vs = settings.venues.get(venue);
    let all = selection.all;
    let instruments = symbols_on(venue, &selection.symbols, selection.venue_named)
        .map_err(|e| problems.push(e.0))
        .ok()?;
    if instruments.is_empty() && !all {
        return None;
    }
    let transport = registry::transport(venue, vs)
        .map_err(|errors| problems.extend(errors))
        .ok()?;
    let stream_symbols = (!all).then(|| instruments.clone());
    let source = registry::liquidation_source(venue, vs, stream_symbols)
        .map_err(|errors| problems.extend(errors))
        .ok()?;
    // Under --all a per-symbol feed has no list yet (it is filled at start): its empty list
    // is no problem then.
    let waits_for_list = all && source.feed_kind() == Some(FeedKind::PerSymbolSocket);
    let pending = if waits_for_list {
        source.feed_problems(None)
    } else {
        Vec::new()
    };
    if let Err(e) = ccxt_stream::validate(std::slice::from_ref(&source)) {
        problems.extend(e.0.into_iter().filter(|p| !pending.contains(p)));
    }
    let fetcher = registry::fetcher(venue, transport.clone());
    let bars = bar_config.for_venue(venue, |s| {
        fetcher.bar_intervals(s.price).contains(&s.interval)
    });
    problems.extend(bars.problems);
    let runtime = VenueRuntime {
        venue,
        fetcher,
        transport: Some(transport),
        source: Some(source),
        symbols: instruments,
        all,
        oi_history: registry::has_oi_history(venue),
        bars: bars.series,
    };
    Some((runtime, bars.left_out))
}

/// A series of the common list that no selected venue offers was asked for in vain.
fn check_common_bars(
    bar_config: &BarsConfig,
    runtimes: &[VenueRuntime],
    problems: &mut Vec<String>,
) {
    if !bar_config.series_set {
        return;
    }
    let own_list = |v: Venue| bar_config.per_venue.iter().any(|(x, _)| *x == v);
    let common: Vec<&VenueRuntime> = runtimes.iter().filter(|r| !own_list(r.venue)).collect();
    for series in &bar_config.series {
        let offered = common.iter().any(|r| r.bars.contains(series));
        if !common.is_empty() && !offered {
            problems.push(format!(
                "daemon.bars.series: {} {} bars are offered by none of the selected venues ({})",
                series.interval,
                series.price,
                common
                    .iter()
                    .map(|r| r.venue.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
}

/// Daemon spools under `spool_root` that hold segments but belong to another shard layout
/// than `shard` (another `n`, or sharded vs not): rows a crashed daemon left before `n`
/// changed, which only a daemon of that layout drains.
fn stranded_spools(spool_root: &std::path::Path, shard: ccxt_daemon::Shard) -> Vec<PathBuf> {
    let has_segments = |dir: &std::path::Path| {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.path().extension().is_some_and(|x| x == "spool"))
        })
    };
    let mut out = Vec::new();
    let whole = spool_root.join("daemon");
    if shard.is_sharded() && has_segments(&whole) {
        out.push(whole);
    }
    let Ok(entries) = std::fs::read_dir(spool_root) else {
        return out;
    };
    let mut shards: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let count: u32 = name
                .strip_prefix("shard-")?
                .split_once("-of-")?
                .1
                .parse()
                .ok()?;
            (!shard.is_sharded() || count != shard.count).then(|| e.path().join("daemon"))
        })
        .filter(|dir| has_segments(dir))
        .collect();
    shards.sort();
    out.extend(shards);
    out
}

/// SIGINT and SIGTERM, registered before anything starts.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn register() -> anyhow::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => tracing::info!("SIGTERM received"),
            _ = self.int.recv() => tracing::info!("SIGINT received"),
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn start(
    location: &str,
    options: &StorageOptions,
    prepared: Prepared,
    signals: Signals,
) -> anyhow::Result<ExitCode> {
    let shard = prepared.config.shard;
    tracing::info!("glibc malloc settings: {}", crate::malloc::in_effect());
    // A shard locks its own scope and owns only its datasets: its recovery, compaction and
    // quarantine never touch another shard's files.
    // The lock's message names the scope (`… is writing to it as shard 1/3`).
    let (scope, owns) = if shard.is_sharded() {
        let ownership = ccxt_daemon::ownership(shard, &prepared.venues);
        (
            LockScope::Shard {
                index: shard.index,
                count: shard.count,
            },
            Some(ownership.predicate()),
        )
    } else {
        (LockScope::Catalog, None)
    };
    let (catalog, recovered) =
        Catalog::open_writable_as(location, options, "daemon", scope, owns).await?;
    if recovered.repaired_anything() {
        tracing::warn!(
            ?recovered,
            "repaired what an interrupted write left in the catalog"
        );
    }
    if prepared.config.metrics_address.is_some() {
        ccxt_daemon::prometheus();
    }
    let catalog = Arc::new(catalog);
    let plan = DaemonPlan {
        venues: prepared.venues,
        catalog: catalog.clone(),
        spool_dir: prepared.dirs.spool.join("daemon"),
        state_dir: prepared.dirs.state,
        config: prepared.config,
        flush: prepared.flush,
    };
    let summary = ccxt_daemon::run(plan, signals.wait()).await?;
    // Release the write lock now (on an object store: delete the lease, so the next start
    // need not wait for it to expire).
    match Arc::try_unwrap(catalog) {
        Ok(catalog) => catalog.close().await,
        // A task that has not dropped its handle yet: the lease goes now all the same, and
        // that task can no longer write.
        Err(catalog) => catalog.release_lease().await,
    }
    if let Some(reason) = summary.lease_lost {
        anyhow::bail!(
            "stopped: {reason}; {}",
            if summary.drained {
                "everything was stored before the lease was lost"
            } else {
                "the last rows wait in the spool for the next start"
            }
        );
    }
    tracing::info!(
        uptime_secs = summary.uptime.as_secs(),
        shutdown_ms = summary.shutdown.as_millis() as u64,
        last_rows = summary.final_drain_rows,
        flushed = summary.drained,
        "stopped"
    );
    eprintln!(
        "stopped after {:.0} s; shutdown took {:.1} s; {}",
        summary.uptime.as_secs_f64(),
        summary.shutdown.as_secs_f64(),
        if summary.drained {
            "everything is stored".to_string()
        } else {
            "the last rows wait in the spool for the next start".to_string()
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// `daemon health`: GET the daemon's `/healthz` (at `metrics.address`, or `--url`), print the
/// body, exit 0 on 200, 1 on anything else (with one line saying why).
async fn health(
    metrics: &ccxt_daemon::MetricsSettings,
    args: &HealthArgs,
) -> anyhow::Result<ExitCode> {
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout < 3600.0) {
        return Err(crate::UsageError(format!(
            "--timeout must be a positive number of seconds below 3600, got {}",
            args.timeout
        ))
        .into());
    }
    let url = health_url(metrics, args.url.as_deref()).map_err(crate::UsageError)?;
    let shown = ccxt_transport::redact_url(url.as_str());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs_f64(args.timeout))
        .no_proxy()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {e}"))?;
    let response = match client.get(url.clone()).send().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "unhealthy: cannot reach {shown}: {}",
                ccxt_transport::error_chain(&e)
            );
            return Ok(ExitCode::from(1));
        }
    };
    let status = response.status();
    let body = match response.text().await {
        Ok(body) => body,
        Err(e) => {
            eprintln!(
                "unhealthy: {shown} answered {status} but the body could not be read: {}",
                ccxt_transport::error_chain(&e)
            );
            return Ok(ExitCode::from(1));
        }
    };
    println!("{}", body.trim());
    if status == reqwest::StatusCode::OK {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "unhealthy: {shown} answered {}{}",
        status.as_u16(),
        unhealthy_reasons(&body)
            .map(|r| format!(": {r}"))
            .unwrap_or_default()
    );
    Ok(ExitCode::from(1))
}

/// `--url` if given (checked), else `/healthz` at the configured listen address.
fn health_url(
    metrics: &ccxt_daemon::MetricsSettings,
    url: Option<&str>,
) -> Result<reqwest::Url, String> {
    if let Some(url) = url.map(str::trim) {
        return match reqwest::Url::parse(url) {
            Ok(u) if u.scheme() == "http" && u.host().is_some() => Ok(u),
            _ => Err(format!(
                "--url must be http://HOST:PORT/PATH (e.g. http://127.0.0.1:9464/healthz), got '{}'",
                ccxt_transport::redact_url(url)
            )),
        };
    }
    let Some(address) = metrics.listen_address()? else {
        return Err(
            "the daemon's /healthz is off (metrics.address = \"off\"), so there is nothing to probe: \
             set metrics.address (or CCXT_METRICS__ADDRESS) to IP:PORT, or pass --url"
                .into(),
        );
    };
    // A daemon listening on every interface is reached on loopback.
    let host = match address.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        }
        ip => ip,
    };
    let probe = std::net::SocketAddr::new(host, address.port());
    reqwest::Url::parse(&format!("http://{probe}/healthz"))
        .map_err(|e| format!("metrics.address '{address}' gives no URL: {e}"))
}

/// What a 503 body names: write faults first, then stale jobs and streams.
fn unhealthy_reasons(body: &str) -> Option<String> {
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    let mut reasons = Vec::new();
    for fault in json["faults"].as_array().into_iter().flatten() {
        reasons.push(format!(
            "{} write failing ({}){}",
            fault["kind"].as_str().unwrap_or("?"),
            fault["error"].as_str().unwrap_or("?"),
            if fault["durable"] == false {
                ", rows not durable"
            } else {
                ""
            }
        ));
    }
    for stale in json["stale"].as_array().into_iter().flatten() {
        reasons.push(format!(
            "{} {} on {} stale ({:.0} s > {:.0} s)",
            stale["kind"].as_str().unwrap_or("?"),
            stale["name"].as_str().unwrap_or("?"),
            stale["venue"].as_str().unwrap_or("?"),
            stale["age_secs"].as_f64().unwrap_or(0.0),
            stale["limit_secs"].as_f64().unwrap_or(0.0),
        ));
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(address: Option<&str>) -> ccxt_daemon::MetricsSettings {
        ccxt_daemon::MetricsSettings {
            address: address.map(str::to_string),
        }
    }

    #[test]
    fn health_probes_the_listen_address_on_loopback_when_it_is_every_interface() {
        let url = |a| health_url(&metrics(a), None).map(|u| u.to_string());
        assert_eq!(url(None).unwrap(), "http://127.0.0.1:9464/healthz");
        assert_eq!(
            url(Some("0.0.0.0:9500")).unwrap(),
            "http://127.0.0.1:9500/healthz"
        );
        assert_eq!(url(Some("[::]:9500")).unwrap(), "http://[::1]:9500/healthz");
        assert_eq!(
            url(Some("10.1.2.3:9464")).unwrap(),
            "http://10.1.2.3:9464/healthz"
        );
        assert!(url(Some("off")).unwrap_err().contains("\"off\""));
        assert!(
            url(Some("nowhere"))
                .unwrap_err()
                .contains("metrics.address")
        );
        // --url wins over the config; it must be http with a host.
        let given = health_url(&metrics(Some("off")), Some("http://127.0.0.1:1/healthz"));
        assert_eq!(given.unwrap().as_str(), "http://127.0.0.1:1/healthz");
        assert!(health_url(&metrics(None), Some("https://x/healthz")).is_err());
    }

    #[test]
    fn spools_of_another_shard_layout_with_rows_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let segment = |sub: &str| {
            let d = root.join(sub).join("daemon");
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("000000000001.spool"), "{}\n").unwrap();
        };
        segment("shard-0-of-2");
        segment("shard-1-of-3");
        std::fs::create_dir_all(root.join("shard-2-of-3/daemon")).unwrap(); // empty: drained
        let shard = |index, count| ccxt_daemon::Shard { index, count };
        assert_eq!(
            stranded_spools(root, shard(0, 3)),
            [root.join("shard-0-of-2/daemon")]
        );
        assert_eq!(
            stranded_spools(root, shard(1, 2)),
            [root.join("shard-1-of-3/daemon")]
        );
        std::fs::create_dir_all(root.join("daemon")).unwrap();
        std::fs::write(root.join("daemon/000000000004.spool"), "{}\n").unwrap();
        assert_eq!(
            stranded_spools(root, ccxt_daemon::Shard::WHOLE),
            [
                root.join("shard-0-of-2/daemon"),
                root.join("shard-1-of-3/daemon")
            ]
        );
        assert_eq!(
            stranded_spools(root, shard(0, 2)),
            [root.join("daemon"), root.join("shard-1-of-3/daemon")]
        );
    }

    #[test]
    fn an_unhealthy_answer_is_summed_up_in_one_line() {
        let body = r#"{"status":"failing","stale":[{"kind":"job","name":"open_interest","venue":"binance","age_secs":70.2,"limit_secs":62.0}],"faults":[{"kind":"spool","error":"No space left on device (os error 28)","durable":false}]}"#;
        let line = unhealthy_reasons(body).unwrap();
        assert_eq!(
            line,
            "spool write failing (No space left on device (os error 28)), rows not durable; \
             job open_interest on binance stale (70 s > 62 s)"
        );
        assert_eq!(unhealthy_reasons("not json"), None);
    }
}
