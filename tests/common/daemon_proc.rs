//! A `ccxt-cli daemon start` child process for the end-to-end tests: its `/healthz` and
//! `/metrics` over plain HTTP on loopback, polling for conditions, SIGTERM and kill -9.
//! (Included with `#[path]` by the test files that run daemons.)
#![allow(dead_code)] // each test file uses what it needs

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub use crate::common::http_get;

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running daemon: its process, metrics port and stderr log file.
pub struct Running {
    child: std::sync::Mutex<Child>,
    /// The port of `/healthz` and `/metrics`.
    pub port: u16,
    stderr: PathBuf,
}

/// Starts `cmd` (a `daemon start` command listening on `port`), stderr to `dir/<name>.stderr`.
pub fn start(mut cmd: Command, dir: &Path, port: u16, name: &str) -> Running {
    let stderr = dir.join(format!("{name}.stderr"));
    let file = std::fs::File::create(&stderr).unwrap();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::from(file))
        .spawn()
        .unwrap();
    Running {
        child: std::sync::Mutex::new(child),
        port,
        stderr,
    }
}

impl Running {
    /// Everything the daemon logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The exit code (-1 for a signal), if it has exited.
    pub fn exited(&self) -> Option<i32> {
        self.child
            .lock()
            .unwrap()
            .try_wait()
            .unwrap()
            .map(|s| s.code().unwrap_or(-1))
    }

    fn pid(&self) -> u32 {
        self.child.lock().unwrap().id()
    }

    /// SIGTERM, then waits up to 15 s; the exit code and the log.
    pub async fn terminate(self) -> (Option<i32>, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.lock().unwrap().try_wait().unwrap() {
                return (status.code(), self.log());
            }
            if Instant::now() > deadline {
                let _ = self.child.lock().unwrap().kill();
                panic!("the daemon did not stop within 15 s:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// kill -9, and waits for it.
    pub fn kill_9(self) -> String {
        let mut child = self.child.lock().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        drop(child);
        self.log()
    }

    /// GET `path` on the metrics port: status (0 when nothing answers) and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let port = self.port;
        let path = path.to_string();
        tokio::task::spawn_blocking(move || http_get(port, &path))
            .await
            .unwrap()
    }

    /// Waits until `/healthz` answers `status` with a body `wanted` accepts; the body.
    pub async fn wait_health_where(
        &self,
        status: u16,
        within: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        let mut last = (0, String::new());
        while Instant::now() < deadline {
            if let Some(code) = self.exited() {
                panic!(
                    "the daemon exited ({code}) while waiting for /healthz {status}:\n{}",
                    self.log()
                );
            }
            last = self.get("/healthz").await;
            if last.0 == status
                && let Ok(body) = serde_json::from_str::<Value>(&last.1)
                && wanted(&body)
            {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!(
            "/healthz never answered {status} as expected; last {} {}\n{}",
            last.0,
            last.1,
            self.log()
        );
    }

    /// The value of a metric series (name and labels exactly as rendered), 0 when absent.
    pub async fn metric(&self, series: &str) -> f64 {
        metric_value(&self.get("/metrics").await.1, series)
    }

    /// Waits until `check` holds for the `/metrics` text.
    pub async fn wait_metrics(&self, what: &str, within: Duration, check: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + within;
        let mut body = String::new();
        while Instant::now() < deadline {
            if let Some(code) = self.exited() {
                panic!(
                    "the daemon exited ({code}) while waiting for {what}:\n{}",
                    self.log()
                );
            }
            body = self.get("/metrics").await.1;
            if check(&body) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let ours: Vec<&str> = body.lines().filter(|l| l.starts_with("ccxt_")).collect();
        panic!(
            "timed out waiting for {what}; metrics:\n{}\nlog:\n{}",
            ours.join("\n"),
            self.log()
        );
    }
}

/// A test that fails does not leave its daemons running.
impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(child) = self.child.get_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The value of `series` in Prometheus text, 0 when absent.
pub fn metric_value(body: &str, series: &str) -> f64 {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            (name == series).then(|| value.parse::<f64>().ok())?
        })
        .unwrap_or(0.0)
}

/// Sum of every series of `family` whose labels contain `filter`.
pub fn metric_sum(body: &str, family: &str, filter: &str) -> f64 {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{family}{{")) || l.starts_with(&format!("{family} ")))
        .filter(|l| l.contains(filter))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// Polls `check` every 250 ms until it holds; panics naming `what` after `within`.
pub async fn wait_for(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("timed out waiting for {what}");
}
