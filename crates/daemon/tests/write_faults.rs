//! The daemon in-process with injected write faults (a full disk where none can be mounted):
//! a failing catalog, then a failing spool too, turn `/healthz` 503 naming the cause and
//! whether the rows are durable, raise the metrics, and once the writes succeed again every
//! row is stored exactly once and `/healthz` is 200 again.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ccxt_catalog::{Catalog, Query};
use ccxt_daemon::{
    DaemonSettings, FlushPolicy, MetricsSettings, RunHooks, ScheduleOverrides, VenueRuntime,
    WriteFaults,
};
use ccxt_model::time::now_ns;
use ccxt_model::{FundingRate, Instrument, OpenInterest, Venue};
use ccxt_venue::{
    FetchError, Fetcher, FundingSnapshot, InstrumentInfo, InstrumentStatus, OiPeriod,
    OpenInterestSnapshot, PageStream, SnapshotPrices, SymbolResult, error_stream,
};
use serde_json::Value;

/// One BTCUSDT open-interest snapshot per call; remembers the `ts_init` of each.
struct Snapshots {
    taken: Arc<Mutex<Vec<u64>>>,
}

fn btc() -> Instrument {
    ccxt_registry::install().unwrap();
    Instrument::from_id("BTCUSDT-PERP.BINANCE").unwrap()
}

fn unsupported<T>() -> Result<T, FetchError> {
    Err(FetchError::Unsupported {
        venue: ccxt_registry::venue("binance"),
        what: "not scripted".into(),
    })
}

#[async_trait::async_trait]
impl Fetcher for Snapshots {
    fn venue(&self) -> Venue {
        ccxt_registry::venue("binance")
    }

    async fn instruments(&self) -> Result<Vec<InstrumentInfo>, FetchError> {
        Ok(vec![InstrumentInfo {
            instrument: btc(),
            status: InstrumentStatus::Trading,
            funding_interval_minutes: Some(480),
            precision: None,
        }])
    }

    async fn current_open_interest(
        &self,
        instruments: &[Instrument],
    ) -> Vec<SymbolResult<OpenInterestSnapshot>> {
        let now = now_ns();
        self.taken.lock().unwrap().push(now);
        instruments
            .iter()
            .map(|i| {
                (
                    i.clone(),
                    Ok(OpenInterestSnapshot {
                        open_interest: OpenInterest {
                            instrument_id: i.id.clone(),
                            open_interest: 1.0,
                            open_interest_value: None,
                            ts_event: now - 1_000,
                            ts_init: now,
                        },
                        prices: SnapshotPrices::default(),
                    }),
                )
            })
            .collect()
    }

    async fn current_funding(
        &self,
        instruments: &[Instrument],
    ) -> Vec<SymbolResult<FundingSnapshot>> {
        instruments
            .iter()
            .map(|i| (i.clone(), unsupported()))
            .collect()
    }

    fn open_interest_history<'a>(
        &'a self,
        _: &'a Instrument,
        _: OiPeriod,
        _: u64,
        _: u64,
    ) -> PageStream<'a, OpenInterest> {
        error_stream(FetchError::Unsupported {
            venue: ccxt_registry::venue("binance"),
            what: "history".into(),
        })
    }

    fn funding_history<'a>(
        &'a self,
        _: &'a Instrument,
        _: u64,
        _: u64,
    ) -> PageStream<'a, FundingRate> {
        error_stream(FetchError::Unsupported {
            venue: ccxt_registry::venue("binance"),
            what: "history".into(),
        })
    }
}

fn http_get(port: u16, path: &str) -> (u16, String) {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    );
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

async fn get(port: u16, path: &str) -> (u16, String) {
    let path = path.to_string();
    tokio::task::spawn_blocking(move || http_get(port, &path))
        .await
        .unwrap()
}

fn metric(body: &str, name: &str) -> Option<f64> {
    body.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (series, value) = l.rsplit_once(' ')?;
        (series == name).then(|| value.parse::<f64>().ok())?
    })
}

/// Waits until `/healthz` and `/metrics` satisfy `check`; the health body.
async fn wait_until(
    port: u16,
    what: &str,
    mut check: impl FnMut(u16, &Value, &str) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = (0, Value::Null, String::new());
    while Instant::now() < deadline {
        let (status, body) = get(port, "/healthz").await;
        let health: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let metrics = get(port, "/metrics").await.1;
        if check(status, &health, &metrics) {
            return health;
        }
        last = (status, health, metrics);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "timed out waiting for {what}; last /healthz {} {}\n{}",
        last.0, last.1, last.2
    );
}

fn fault<'a>(health: &'a Value, kind: &str) -> Option<&'a Value> {
    health["faults"]
        .as_array()?
        .iter()
        .find(|f| f["kind"] == kind)
}

/// The daemon in-process on a fresh catalog with one Binance symbol and an open-interest
/// snapshot every second (everything else off), until `stop` is sent.
struct Running {
    port: u16,
    catalog: Arc<Catalog>,
    taken: Arc<Mutex<Vec<u64>>>,
    stop: tokio::sync::oneshot::Sender<()>,
    daemon: tokio::task::JoinHandle<Result<ccxt_daemon::RunSummary, ccxt_daemon::DaemonError>>,
    _dir: tempfile::TempDir,
}

async fn start(hooks: RunHooks) -> Running {
    start_bounded(hooks, FlushPolicy::default().max_bytes).await
}

/// [`start`] with the spool bounded to `max_bytes`.
async fn start_bounded(hooks: RunHooks, max_bytes: u64) -> Running {
    start_on(hooks, max_bytes, None).await
}

/// [`start_bounded`] on `catalog` (opened for writing), or a fresh local one.
async fn start_on(hooks: RunHooks, max_bytes: u64, catalog: Option<Catalog>) -> Running {
    ccxt_daemon::prometheus().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("catalog");
    let catalog = match catalog {
        Some(catalog) => catalog,
        None => {
            Catalog::open_writable(root.to_str().unwrap())
                .await
                .unwrap()
                .0
        }
    };
    let catalog = Arc::new(catalog);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut settings = DaemonSettings::default();
    settings.schedule.open_interest = Some("* * * * * *".into());
    for off in [
        &mut settings.schedule.funding,
        &mut settings.schedule.funding_history,
        &mut settings.schedule.open_interest_history,
        &mut settings.schedule.instruments,
        &mut settings.schedule.compaction,
    ] {
        *off = Some("off".into());
    }
    settings.health.job_grace_secs = Some(30.0);
    let config = settings
        .validate(
            &MetricsSettings {
                address: Some(format!("127.0.0.1:{port}")),
            },
            &ScheduleOverrides::default(),
        )
        .unwrap();
    let taken = Arc::new(Mutex::new(Vec::new()));
    let plan = ccxt_daemon::DaemonPlan {
        venues: vec![VenueRuntime {
            venue: ccxt_registry::venue("binance"),
            fetcher: Arc::new(Snapshots {
                taken: taken.clone(),
            }),
            transport: None,
            source: None,
            symbols: vec![btc()],
            all: false,
            oi_history: false,
            bars: Vec::new(),
        }],
        catalog: catalog.clone(),
        spool_dir: root.join(".spool").join("daemon"),
        state_dir: root.clone(),
        config,
        flush: FlushPolicy {
            sync_every: Duration::from_millis(50),
            flush_rows: 1_000,
            flush_every: Duration::from_millis(300),
            max_bytes,
            hold: None,
        },
    };
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn(ccxt_daemon::run_with(plan, hooks, async move {
        let _ = stop_rx.await;
    }));
    Running {
        port,
        catalog,
        taken,
        stop,
        daemon,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_faults_turn_healthz_503_and_every_row_is_stored_once_when_they_clear() {
    let faults = Arc::new(WriteFaults::default());
    let hooks = RunHooks {
        faults: faults.clone(),
        ..RunHooks::default()
    };
    let Running {
        port,
        catalog,
        taken,
        stop: stop_tx,
        daemon,
        _dir,
    } = start(hooks).await;

    let written = "ccxt_rows_written_total{kind=\"open_interest\",venue=\"binance\"}";
    wait_until(port, "healthy with rows stored", |status, _, m| {
        status == 200 && metric(m, written).unwrap_or(0.0) > 0.0
    })
    .await;

    // The catalog fails (e.g. its disk is full): 503 naming it; the rows are durable in the
    // spool.
    faults.fail_catalog(true);
    let health = wait_until(port, "a catalog fault", |status, h, m| {
        status == 503
            && fault(h, "catalog").is_some()
            && metric(m, "ccxt_catalog_writable") == Some(0.0)
            && metric(m, "ccxt_catalog_write_errors_total").unwrap_or(0.0) > 0.0
    })
    .await;
    assert_eq!(health["status"], "failing", "{health}");
    let catalog_fault = fault(&health, "catalog").unwrap();
    assert_eq!(catalog_fault["durable"], true, "{health}");
    assert!(
        catalog_fault["error"]
            .as_str()
            .unwrap()
            .contains("no space left"),
        "{health}"
    );

    // The spool fails too: rows wait in memory, and /healthz says they are not durable.
    faults.fail_spool(true);
    let health = wait_until(port, "a spool fault", |status, h, m| {
        status == 503
            && fault(h, "spool").is_some_and(|f| f["rows_in_memory"].as_u64() > Some(0))
            && metric(m, "ccxt_spool_writable") == Some(0.0)
            && metric(m, "ccxt_spool_write_errors_total").unwrap_or(0.0) > 0.0
            && metric(m, "ccxt_spool_memory_rows").unwrap_or(0.0) > 0.0
    })
    .await;
    assert_eq!(fault(&health, "spool").unwrap()["durable"], false);
    assert_eq!(fault(&health, "catalog").unwrap()["durable"], false);

    // The catalog comes back first: the rows held in memory go straight into it; the spool
    // is still reported.
    faults.fail_catalog(false);
    wait_until(port, "the held rows stored directly", |status, h, m| {
        status == 503
            && fault(h, "catalog").is_none()
            && fault(h, "spool").is_some()
            && metric(m, "ccxt_catalog_writable") == Some(1.0)
    })
    .await;

    // Everything writable again: healthy.
    faults.fail_spool(false);
    wait_until(port, "healthy again", |status, _, m| {
        status == 200
            && metric(m, "ccxt_spool_writable") == Some(1.0)
            && metric(m, "ccxt_spool_memory_rows") == Some(0.0)
    })
    .await;
    let taken_before_stop: BTreeSet<u64> = taken.lock().unwrap().iter().copied().collect();
    stop_tx.send(()).unwrap();
    let summary = daemon.await.unwrap().unwrap();
    assert!(summary.drained);

    let stored = catalog
        .query::<OpenInterest>(&Query {
            instruments: vec![btc().id],
            start: 0,
            end: u64::MAX,
            limit: None,
        })
        .await
        .unwrap()
        .0;
    let stored_ts: BTreeSet<u64> = stored.iter().map(|r| r.ts_init).collect();
    assert_eq!(stored_ts.len(), stored.len(), "rows stored twice");
    let missing: Vec<&u64> = taken_before_stop.difference(&stored_ts).collect();
    assert!(
        missing.is_empty(),
        "{} of {} snapshots lost, e.g. {:?}",
        missing.len(),
        taken_before_stop.len(),
        missing.first()
    );
}

/// The rows a catalog holds for BTCUSDT, checked to be each stored once, and the snapshots
/// taken that are missing from it.
async fn stored_once(catalog: &Catalog, taken: &BTreeSet<u64>) -> (usize, Vec<u64>) {
    let stored = catalog
        .query::<OpenInterest>(&Query {
            instruments: vec![btc().id],
            start: 0,
            end: u64::MAX,
            limit: None,
        })
        .await
        .unwrap()
        .0;
    let stored_ts: BTreeSet<u64> = stored.iter().map(|r| r.ts_init).collect();
    assert_eq!(stored_ts.len(), stored.len(), "rows stored twice");
    (
        stored.len(),
        taken.difference(&stored_ts).copied().collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_catalog_keeps_rows_in_the_spool_then_stores_each_once() {
    let faults = Arc::new(WriteFaults::default());
    let hooks = RunHooks {
        faults: faults.clone(),
        ..RunHooks::default()
    };
    let running = start(hooks).await;
    let port = running.port;
    let written = "ccxt_rows_written_total{kind=\"open_interest\",venue=\"binance\"}";
    wait_until(port, "healthy with rows stored", |status, _, m| {
        status == 200 && metric(m, written).unwrap_or(0.0) > 0.0
    })
    .await;
    // The store goes away for a while: rows pile up in the spool, counted and named.
    faults.fail_catalog(true);
    let health = wait_until(port, "rows waiting in the spool", |status, h, m| {
        status == 503
            && fault(h, "catalog").is_some_and(|f| f["rows_in_spool"].as_u64() >= Some(3))
            && metric(m, "ccxt_spool_rows").unwrap_or(0.0) >= 3.0
    })
    .await;
    let catalog_fault = fault(&health, "catalog").unwrap();
    let note = catalog_fault["note"].as_str().unwrap();
    assert!(
        note.starts_with("catalog unreachable since ")
            && note.contains(" rows waiting in the spool"),
        "{health}"
    );
    assert_eq!(catalog_fault["durable"], true, "{health}");
    assert_eq!(catalog_fault["rows_in_memory"], 0, "{health}");
    // Back: everything waiting is stored, once.
    faults.fail_catalog(false);
    wait_until(port, "healthy with the spool empty", |status, _, m| {
        status == 200 && metric(m, "ccxt_spool_rows") == Some(0.0)
    })
    .await;
    let taken: BTreeSet<u64> = running.taken.lock().unwrap().iter().copied().collect();
    running.stop.send(()).unwrap();
    assert!(running.daemon.await.unwrap().unwrap().drained);
    let (stored, missing) = stored_once(&running.catalog, &taken).await;
    assert!(
        missing.is_empty(),
        "{} of {} lost",
        missing.len(),
        taken.len()
    );
    assert!(stored >= taken.len(), "{stored}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_sends_new_rows_to_memory_and_nothing_is_lost_when_the_catalog_returns() {
    let faults = Arc::new(WriteFaults::default());
    let hooks = RunHooks {
        faults: faults.clone(),
        ..RunHooks::default()
    };
    // One snapshot line fills it.
    let running = start_bounded(hooks, 64).await;
    let port = running.port;
    faults.fail_catalog(true);
    let health = wait_until(port, "a full spool", |status, h, m| {
        status == 503
            && fault(h, "catalog").is_some_and(|f| f["rows_in_memory"].as_u64() >= Some(2))
            && metric(m, "ccxt_spool_full") == Some(1.0)
            && metric(m, "ccxt_spool_memory_rows").unwrap_or(0.0) >= 2.0
    })
    .await;
    let catalog_fault = fault(&health, "catalog").unwrap();
    assert_eq!(catalog_fault["durable"], false, "{health}");
    let note = catalog_fault["note"].as_str().unwrap();
    assert!(note.contains("the spool is full"), "{health}");
    assert!(note.contains("spool.max_bytes 64 bytes"), "{health}");
    // The spool stays within a line or two of its bound while the catalog is away.
    let spool = running.catalog.storage().display_root().to_string();
    let spool_bytes: u64 = std::fs::read_dir(std::path::Path::new(&spool).join(".spool/daemon"))
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    assert!(spool_bytes < 64 + 2 * 400, "{spool_bytes}");
    faults.fail_catalog(false);
    wait_until(port, "healthy and nothing in memory", |status, _, m| {
        status == 200
            && metric(m, "ccxt_spool_memory_rows") == Some(0.0)
            && metric(m, "ccxt_rows_dropped_total") == Some(0.0)
    })
    .await;
    let taken: BTreeSet<u64> = running.taken.lock().unwrap().iter().copied().collect();
    running.stop.send(()).unwrap();
    assert!(running.daemon.await.unwrap().unwrap().drained);
    let (_, missing) = stored_once(&running.catalog, &taken).await;
    assert!(
        missing.is_empty(),
        "{} of {} lost",
        missing.len(),
        taken.len()
    );
}

/// The object store goes away for a while (503 to everything) and comes back: the rows wait in
/// the local spool, `/healthz` says the catalog is unreachable with how many rows wait, and
/// then every row is stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_store_that_goes_away_and_comes_back_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = ccxt_s3_sim::S3Sim::start(tmp.path()).await.unwrap();
    let (catalog, _) = Catalog::open_writable_as(
        &sim.url("away"),
        &sim.options(),
        "daemon",
        ccxt_catalog::LockScope::Catalog,
        None,
    )
    .await
    .unwrap();
    let running = start_on(
        RunHooks::default(),
        FlushPolicy::default().max_bytes,
        Some(catalog),
    )
    .await;
    let port = running.port;
    let written = "ccxt_rows_written_total{kind=\"open_interest\",venue=\"binance\"}";
    wait_until(port, "healthy with rows stored", |status, _, m| {
        status == 200 && metric(m, written).unwrap_or(0.0) > 0.0
    })
    .await;
    sim.set_fault(ccxt_s3_sim::Fault::Unavailable);
    let health = wait_until(port, "the store unreachable", |status, h, _| {
        status == 503 && fault(h, "catalog").is_some_and(|f| f["rows_in_spool"].as_u64() >= Some(2))
    })
    .await;
    let note = fault(&health, "catalog").unwrap()["note"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(note.starts_with("catalog unreachable since "), "{health}");
    sim.set_fault(ccxt_s3_sim::Fault::None);
    wait_until(port, "healthy with the spool stored", |status, h, _| {
        status == 200 && h["faults"].as_array().is_some_and(Vec::is_empty)
    })
    .await;
    let taken: BTreeSet<u64> = running.taken.lock().unwrap().iter().copied().collect();
    running.stop.send(()).unwrap();
    let summary = running.daemon.await.unwrap().unwrap();
    assert!(summary.drained && summary.lease_lost.is_none());
    let (_, missing) = stored_once(&running.catalog, &taken).await;
    assert!(
        missing.is_empty(),
        "{} of {} lost",
        missing.len(),
        taken.len()
    );
}

/// A daemon whose write lease on an object store is taken over (it hung past the lease) stops
/// by itself, saying why, so its supervisor restarts it; it writes nothing after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_that_loses_its_lease_stops_and_says_why() {
    use std::sync::atomic::{AtomicU64, Ordering};
    const T0: u64 = 1_767_225_600_000;
    let tmp = tempfile::tempdir().unwrap();
    let sim = ccxt_s3_sim::S3Sim::start(tmp.path()).await.unwrap();
    let location = sim.url("leased");
    let now = Arc::new(AtomicU64::new(T0));
    let clock = now.clone();
    let options = ccxt_catalog::StorageOptions {
        lease: Some(Duration::from_secs(3)),
        clock: Some(ccxt_catalog::LeaseClock::new(move || {
            clock.load(Ordering::SeqCst)
        })),
        ..sim.options()
    };
    let open = |holder: &'static str| {
        let options = options.clone();
        let location = location.clone();
        async move {
            Catalog::open_writable_as(
                &location,
                &options,
                holder,
                ccxt_catalog::LockScope::Catalog,
                None,
            )
            .await
        }
    };
    let (catalog, _) = open("daemon").await.unwrap();
    let running = start_on(
        RunHooks::default(),
        FlushPolicy::default().max_bytes,
        Some(catalog),
    )
    .await;
    wait_until(running.port, "healthy", |status, _, _| status == 200).await;
    // The daemon hung past its lease (as the pinned clock says): another writer takes over.
    now.store(T0 + 3_001, Ordering::SeqCst);
    let (other, _) = open("other").await.unwrap();
    let summary = tokio::time::timeout(Duration::from_secs(30), running.daemon)
        .await
        .expect("the daemon stops by itself")
        .unwrap()
        .unwrap();
    let reason = summary.lease_lost.expect("the lost lease is reported");
    assert!(reason.contains("lost the write lease"), "{reason}");
    // The new holder writes; the old one never wrote after losing the lease.
    assert!(other.check_writable().is_ok());
    drop(running.stop);
}

/// A unix datagram socket standing in for systemd: every message received, with its time.
struct FakeSystemd {
    messages: Arc<Mutex<Vec<(Instant, String)>>>,
    path: std::path::PathBuf,
}

impl FakeSystemd {
    fn bind(dir: &std::path::Path) -> FakeSystemd {
        let path = dir.join("notify.sock");
        let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let sink = messages.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                sink.lock().unwrap().push((Instant::now(), text));
            }
        });
        FakeSystemd { messages, path }
    }

    fn count(&self, line: &str) -> usize {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, m)| m.lines().any(|l| l == line))
            .count()
    }

    fn last(&self, line: &str) -> Option<Instant> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, m)| m.lines().any(|l| l == line))
            .map(|(t, _)| *t)
            .next_back()
    }
}

/// Polls `done` every 50 ms for up to `limit`; panics naming `what` if it never holds.
async fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_gets_ready_watchdog_pings_only_while_the_writer_progresses_and_stopping() {
    let socket_dir = tempfile::tempdir().unwrap();
    let systemd = FakeSystemd::bind(socket_dir.path());
    let faults = Arc::new(WriteFaults::default());
    // A 2 s watchdog: pings every 0.5 s while every progress stamp is younger than 1 s.
    let hooks = RunHooks {
        notifier: ccxt_daemon::Notifier::to_socket(&systemd.path, Some(Duration::from_secs(2))),
        faults: faults.clone(),
    };
    let running = start(hooks).await;
    wait_for("READY=1", Duration::from_secs(30), || {
        systemd.count("READY=1") == 1
    })
    .await;
    wait_for("watchdog pings", Duration::from_secs(20), || {
        systemd.count("WATCHDOG=1") >= 3
    })
    .await;

    // The catalog write hangs (a hung disk): snapshots every second keep a drain due, it
    // never finishes, and the pings stop: 3 s (six ping periods) go by without one.
    faults.stall_catalog(true);
    let mut quiet_since = Instant::now();
    wait_for(
        "the watchdog pings to stop",
        Duration::from_secs(30),
        || {
            if let Some(last) = systemd.last("WATCHDOG=1")
                && last > quiet_since
            {
                quiet_since = last;
            }
            quiet_since.elapsed() > Duration::from_secs(3)
        },
    )
    .await;

    // Progress again: the pings resume.
    let before = systemd.count("WATCHDOG=1");
    faults.stall_catalog(false);
    wait_for("pings to resume", Duration::from_secs(20), || {
        systemd.count("WATCHDOG=1") > before
    })
    .await;

    running.stop.send(()).unwrap();
    let summary = running.daemon.await.unwrap().unwrap();
    assert!(summary.drained);
    wait_for("STOPPING=1", Duration::from_secs(5), || {
        systemd.count("STOPPING=1") == 1
    })
    .await;
}
