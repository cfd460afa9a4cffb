//! End-to-end, operating the daemon: `daemon health` probes the configured address and says
//! why it is unhealthy; every counter an alert rule watches is exported at 0 from the start;
//! systemd notifications (READY, WATCHDOG only while the writer makes progress, STOPPING); a
//! full disk (a real 2 MiB tmpfs, where this process may mount one) turns `/healthz` 503 and
//! the rows are stored once space returns. (The injected-fault variant of the last one, which
//! runs everywhere, is `crates/daemon/tests/write_faults.rs`.)
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use exchange_sim::{DownMode, Faults, SimConfig, SimHandle, Venue as SimVenue};
use serde_json::Value;

mod common;
use common::http_get;

async fn sim() -> SimHandle {
    let mut config = SimConfig {
        symbols: 3,
        ..SimConfig::default()
    };
    config.limits.enabled = false;
    config.ws.liquidations_per_sec = exchange_sim::VenueRates::all(5.0);
    exchange_sim::start(config).await.unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `daemon start` on Binance BTCUSDT against `sim`: snapshots every second, no history
/// top-ups or compaction, the spool flushed every half second.
fn daemon(sim: &SimHandle, catalog: &Path, port: u16) -> Command {
    let mut cmd = common::cli_against(sim);
    cmd.env("CCXT_CATALOG_PATH", catalog)
        .env("CCXT_METRICS__ADDRESS", format!("127.0.0.1:{port}"))
        .env("CCXT_DAEMON__SCHEDULE__OPEN_INTEREST", "* * * * * *")
        .env("CCXT_DAEMON__SCHEDULE__FUNDING", "*/2 * * * * *")
        .env("CCXT_DAEMON__SCHEDULE__FUNDING_HISTORY", "off")
        .env("CCXT_DAEMON__SCHEDULE__OPEN_INTEREST_HISTORY", "off")
        .env("CCXT_DAEMON__SCHEDULE__INSTRUMENTS", "off")
        .env("CCXT_DAEMON__SCHEDULE__COMPACTION", "off")
        .env("CCXT_DAEMON__HEALTH__STREAM_STALE_SECS", "30")
        .env("CCXT_DAEMON__HEALTH__JOB_GRACE_SECS", "2")
        .env("CCXT_SPOOL__FLUSH_SECS", "0.5")
        .env("CCXT_SPOOL__HOLD_SECS", "0")
        .env("CCXT_LOG_LEVEL", "info")
        .args(["daemon", "start", "-e", "binance", "-s", "BTCUSDT-PERP"]);
    cmd
}

struct Running {
    child: Child,
    port: u16,
    stderr: PathBuf,
}

fn start(mut cmd: Command, dir: &Path, port: u16) -> Running {
    let stderr = dir.join("daemon.stderr");
    let file = std::fs::File::create(&stderr).unwrap();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::from(file))
        .spawn()
        .unwrap();
    Running {
        child,
        port,
        stderr,
    }
}

impl Running {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// SIGTERM; the exit code and the log.
    async fn terminate(mut self) -> (Option<i32>, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), self.log());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the daemon did not stop:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let port = self.port;
        let path = path.to_string();
        tokio::task::spawn_blocking(move || http_get(port, &path))
            .await
            .unwrap()
    }

    /// Waits until `/healthz` answers `status`; the body.
    async fn wait_health(&self, status: u16, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        let mut last = (0, String::new());
        while Instant::now() < deadline {
            last = self.get("/healthz").await;
            if last.0 == status {
                return serde_json::from_str(&last.1).unwrap();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "/healthz never answered {status}; last {} {}\n{}",
            last.0,
            last.1,
            self.log()
        );
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of a series (name with labels as rendered), `None` when absent.
fn series(body: &str, name: &str) -> Option<f64> {
    body.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (series, value) = l.rsplit_once(' ')?;
        (series == name).then(|| value.parse::<f64>().ok())?
    })
}

async fn wait_for(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn run_cli(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_probes_the_address_daemon_start_uses_and_says_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let health = |env: &[(&str, String)], args: &[&str]| {
        let mut cmd = common::clean_cli();
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.args(["daemon", "health"]).args(args);
        cmd
    };

    // Metrics off: nothing to probe, exit 2 saying so.
    let out = run_cli(health(&[("CCXT_METRICS__ADDRESS", "off".into())], &[])).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("\"off\""),
        "{}",
        text(&out.stderr)
    );
    // An invalid address in the config file: exit 2 naming the key.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[metrics]\naddress = \"everywhere\"\n").unwrap();
    let out = run_cli(health(&[], &["-c", bad.to_str().unwrap()])).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("metrics.address"));
    // A bad --url: exit 2.
    let out = run_cli(health(&[], &["--url", "ftp://x"])).await;
    assert_eq!(out.status.code(), Some(2));
    // Nobody listening at the configured address: exit 1, one line saying so.
    let nobody = free_port();
    let out = run_cli(health(
        &[("CCXT_METRICS__ADDRESS", format!("127.0.0.1:{nobody}"))],
        &[],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot reach") && stderr.contains(&nobody.to_string()),
        "{stderr}"
    );

    // A daemon on a port other than 9464: found through the same config as `daemon start`.
    let sim = sim().await;
    let catalog = dir.path().join("catalog");
    let port = free_port();
    let d = start(daemon(&sim, &catalog, port), dir.path(), port);
    d.wait_health(200, Duration::from_secs(30)).await;
    let address = format!("127.0.0.1:{port}");
    let out = run_cli(health(&[("CCXT_METRICS__ADDRESS", address.clone())], &[])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["status"], "ok");
    let file = dir.path().join("config.toml");
    std::fs::write(&file, format!("[metrics]\naddress = \"{address}\"\n")).unwrap();
    let out = run_cli(health(&[], &["-c", file.to_str().unwrap()])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // The venue goes down: the jobs turn stale; exit 1 naming them.
    sim.set_faults(Faults {
        venue_down: vec![SimVenue::Binance],
        venue_down_mode: DownMode::Unavailable,
        ..Faults::default()
    });
    d.wait_health(503, Duration::from_secs(30)).await;
    let out = run_cli(health(&[("CCXT_METRICS__ADDRESS", address)], &[])).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("answered 503") && stderr.contains("on binance stale"),
        "{stderr}"
    );
    sim.set_faults(Faults::default());
    let (code, log) = d.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    sim.shutdown().await;
}

/// Metric names in the shipped alert rules.
fn alerted_metrics() -> BTreeSet<String> {
    let rules = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/prometheus/alerts.yml"),
    )
    .unwrap();
    let mut names = BTreeSet::new();
    for line in rules.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let mut rest = line;
        while let Some(i) = rest.find("ccxt_") {
            let name: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[i + name.len()..];
            names.insert(name);
        }
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_counter_an_alert_watches_is_exported_at_zero_from_the_start() {
    let alerted = alerted_metrics();
    let counters: Vec<&String> = alerted.iter().filter(|n| n.ends_with("_total")).collect();
    for expected in [
        "ccxt_catalog_write_errors_total",
        "ccxt_rows_dropped_total",
        "ccxt_spool_write_errors_total",
        "ccxt_stream_reconnects_total",
        "ccxt_rows_written_total",
    ] {
        assert!(alerted.contains(expected), "{expected} not alerted on");
    }
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    let port = free_port();
    let mut cmd = daemon(&sim, &catalog, port);
    // All three venues.
    cmd.args(["-e", "bybit", "-e", "hyperliquid"]);
    let d = start(cmd, dir.path(), port);
    // The first answer of /metrics, right after start.
    let mut body = String::new();
    wait_for("the first /metrics", Duration::from_secs(30), async || {
        let (status, text) = d.get("/metrics").await;
        body = text;
        status == 200
    })
    .await;
    for name in &counters {
        assert!(
            body.lines()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))),
            "{name} (used by an alert) missing at start:\n{body}"
        );
    }
    // Nothing failed yet: the error counters are there at 0.
    for name in [
        "ccxt_catalog_write_errors_total",
        "ccxt_rows_dropped_total",
        "ccxt_spool_write_errors_total",
    ] {
        assert_eq!(series(&body, name), Some(0.0), "{name}:\n{body}");
    }
    for gauge in ["ccxt_catalog_writable", "ccxt_spool_writable"] {
        assert_eq!(series(&body, gauge), Some(1.0), "{gauge}:\n{body}");
    }
    // Every label combination known at start: each venue, kind and job result.
    for venue in ["binance", "bybit", "hyperliquid"] {
        for name in [
            format!("ccxt_stream_reconnects_total{{venue=\"{venue}\"}}"),
            format!("ccxt_http_responses_total{{venue=\"{venue}\",status=\"5xx\"}}"),
            format!(
                "ccxt_job_runs_total{{job=\"open_interest\",venue=\"{venue}\",result=\"error\"}}"
            ),
        ] {
            assert!(series(&body, &name).is_some(), "{name} missing:\n{body}");
        }
        for kind in ["open_interest", "funding_rate", "liquidation", "gap"] {
            let name = format!("ccxt_rows_written_total{{kind=\"{kind}\",venue=\"{venue}\"}}");
            assert!(series(&body, &name).is_some(), "{name} missing:\n{body}");
        }
    }
    let (code, log) = d.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    sim.shutdown().await;
}

/// A unix datagram socket standing in for systemd: every message received, with its time.
struct FakeSystemd {
    messages: Arc<Mutex<Vec<(Instant, String)>>>,
    path: PathBuf,
}

impl FakeSystemd {
    fn bind(dir: &Path) -> FakeSystemd {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_gets_ready_watchdog_pings_and_stopping_through_notify_socket() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    let systemd = FakeSystemd::bind(dir.path());
    let port = free_port();
    let mut cmd = daemon(&sim, &catalog, port);
    // A 2 s watchdog: pings every 0.5 s while every progress stamp is younger than 1 s.
    cmd.env("NOTIFY_SOCKET", &systemd.path)
        .env("WATCHDOG_USEC", "2000000");
    let d = start(cmd, dir.path(), port);
    wait_for("READY=1", Duration::from_secs(30), async || {
        systemd.count("READY=1") == 1
    })
    .await;
    wait_for("watchdog pings", Duration::from_secs(20), async || {
        systemd.count("WATCHDOG=1") >= 3
    })
    .await;

    // Stalls (a hung catalog write) and the pings stopping are tested in-process with an
    // injected stall: crates/daemon/tests/write_faults.rs. The daemon holds the catalog's
    // write lock for its whole run, so no other process can stall its writer here.
    let (code, log) = d.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(systemd.count("STOPPING=1"), 1, "{log}");
    sim.shutdown().await;
}

/// A 2 MiB tmpfs mounted over a directory, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
            .arg(dir)
            .output()
            .ok()?;
        out.status.success().then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system holding `path` until it is full.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let block = vec![0xA5u8; 64 * 1024];
    loop {
        if file.write_all(&block).is_err() {
            break;
        }
    }
    // The last partial block may still fit in smaller pieces.
    let small = vec![0xA5u8; 512];
    while file.write_all(&small).is_ok() {}
    let _ = file.sync_all();
}

fn query_oi(catalog: &Path) -> Vec<Value> {
    let out = common::clean_cli()
        .args([
            "query",
            "oi",
            "BTCUSDT-PERP",
            "-e",
            "binance",
            "--catalog",
            catalog.to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_tmpfs_turns_healthz_503_and_the_rows_are_stored_once_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("small");
    let Some(_tmpfs) = Tmpfs::mount(&mount) else {
        eprintln!(
            "skipped: cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN); \
             crates/daemon/tests/write_faults.rs covers the same with injected faults"
        );
        return;
    };
    let sim = sim().await;
    let catalog = mount.join("catalog");
    let port = free_port();
    let d = start(daemon(&sim, &catalog, port), dir.path(), port);
    let ok_runs = "ccxt_job_runs_total{job=\"open_interest\",venue=\"binance\",result=\"ok\"}";
    wait_for("snapshots stored", Duration::from_secs(30), async || {
        let body = d.get("/metrics").await.1;
        series(
            &body,
            "ccxt_rows_written_total{kind=\"open_interest\",venue=\"binance\"}",
        )
        .unwrap_or(0.0)
            > 0.0
    })
    .await;

    // The disk fills up.
    let filler = mount.join("filler");
    fill(&filler);
    let full_at = ccxt_model::time::now_ns();
    let failing = d.wait_health(503, Duration::from_secs(30)).await;
    assert_eq!(failing["status"], "failing", "{failing}");
    let faults = failing["faults"].as_array().unwrap();
    assert!(
        faults
            .iter()
            .any(|f| f["error"].as_str().unwrap().contains("No space left")),
        "{failing}"
    );
    // Snapshots go on while the disk is full; the metrics say what fails.
    let runs_at_full = series(&d.get("/metrics").await.1, ok_runs).unwrap_or(0.0);
    wait_for(
        "write errors counted while snapshots go on",
        Duration::from_secs(30),
        async || {
            let body = d.get("/metrics").await.1;
            let errors = series(&body, "ccxt_catalog_write_errors_total").unwrap_or(0.0)
                + series(&body, "ccxt_spool_write_errors_total").unwrap_or(0.0);
            errors > 0.0
                && (series(&body, "ccxt_catalog_writable") == Some(0.0)
                    || series(&body, "ccxt_spool_writable") == Some(0.0))
                && series(&body, ok_runs).unwrap_or(0.0) >= runs_at_full + 3.0
        },
    )
    .await;
    let taken_while_full = series(&d.get("/metrics").await.1, ok_runs).unwrap_or(0.0);

    // Space returns: healthy again, and every snapshot taken while full is stored, once.
    std::fs::remove_file(&filler).unwrap();
    let freed_at = ccxt_model::time::now_ns();
    d.wait_health(200, Duration::from_secs(30)).await;
    let (code, log) = d.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("No space left"), "{log}");
    let oi = query_oi(&catalog);
    let snapshots: Vec<&Value> = oi
        .iter()
        .filter(|r| r["ts_event"] != r["ts_init"])
        .collect();
    let while_full = snapshots
        .iter()
        .filter(|r| {
            let t = r["ts_init"].as_u64().unwrap();
            t >= full_at && t < freed_at
        })
        .count();
    assert!(
        while_full as f64 >= taken_while_full - runs_at_full,
        "{while_full} stored of {} taken while the disk was full",
        taken_while_full - runs_at_full
    );
    assert!(
        snapshots.len() as f64 >= taken_while_full,
        "{} snapshots stored of {taken_while_full} taken",
        snapshots.len()
    );
    let unique: BTreeSet<String> = oi.iter().map(Value::to_string).collect();
    assert_eq!(unique.len(), oi.len(), "duplicates stored");
    sim.shutdown().await;
}
