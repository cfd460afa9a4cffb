//! systemd integration (`Type=notify`, `WatchdogSec=`): `READY=1` once the daemon collects,
//! `WATCHDOG=1` only while it makes progress, `STOPPING=1` when it begins to stop.
//!
//! Messages go to `$NOTIFY_SOCKET` (the `sd-notify` crate); the watchdog interval is
//! `$WATCHDOG_USEC` (honoured only if `$WATCHDOG_PID` is unset or this process). With neither
//! set (not under systemd) nothing is sent.
//!
//! Progress means: the scheduler ticks (an internal job fires every second), the writer loop
//! syncs the spool, and no drain into the catalog has been in flight too long. Each is
//! stamped in [`Progress`]; the watchdog loop pings every quarter of the interval while every
//! stamp is younger than half of it, so a daemon whose scheduler or writer hangs stops pinging
//! and systemd restarts it (`Restart=always`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

/// When the scheduler and the writer last made progress (monotonic).
#[derive(Debug)]
pub struct Progress {
    origin: Instant,
    /// Milliseconds since `origin` (+1, so 0 means "never").
    scheduler_ms: AtomicU64,
    writer_ms: AtomicU64,
    /// When the drain in flight started; 0: none in flight.
    drain_since_ms: AtomicU64,
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Progress {
    /// Everything counts as having made progress now.
    pub fn new() -> Progress {
        Progress {
            origin: Instant::now(),
            scheduler_ms: AtomicU64::new(1),
            writer_ms: AtomicU64::new(1),
            drain_since_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64 + 1
    }

    /// The scheduler fired a job.
    pub fn scheduler_ticked(&self) {
        self.scheduler_ms.store(self.now_ms(), Ordering::Release);
    }

    /// The writer loop synced the spool.
    pub fn writer_ticked(&self) {
        self.writer_ms.store(self.now_ms(), Ordering::Release);
    }

    /// A drain into the catalog started.
    pub fn drain_started(&self) {
        self.drain_since_ms.store(self.now_ms(), Ordering::Release);
    }

    /// The drain ended (stored or failed: both are progress).
    pub fn drain_finished(&self) {
        self.drain_since_ms.store(0, Ordering::Release);
    }

    /// What has made no progress for longer than `limit`, if anything.
    pub fn stalled(&self, limit: Duration) -> Option<String> {
        self.stalled_at(self.now_ms(), limit.as_millis() as u64)
    }

    fn stalled_at(&self, now_ms: u64, limit_ms: u64) -> Option<String> {
        let age = |stamp: u64| now_ms.saturating_sub(stamp);
        let scheduler = age(self.scheduler_ms.load(Ordering::Acquire));
        if scheduler > limit_ms {
            return Some(format!("the scheduler has not ticked for {scheduler} ms"));
        }
        let writer = age(self.writer_ms.load(Ordering::Acquire));
        if writer > limit_ms {
            return Some(format!("the spool writer has not synced for {writer} ms"));
        }
        let drain = self.drain_since_ms.load(Ordering::Acquire);
        if drain > 0 && age(drain) > limit_ms {
            return Some(format!(
                "a catalog write has been in flight for {} ms",
                age(drain)
            ));
        }
        None
    }
}

/// Sends state changes to systemd, if the daemon runs under it.
#[derive(Debug, Default)]
pub struct Notifier {
    target: Option<Target>,
    watchdog: Option<Duration>,
}

/// Where notifications go.
#[derive(Debug)]
enum Target {
    /// `$NOTIFY_SOCKET`, through `sd-notify` (abstract sockets included).
    Environment,
    /// A datagram socket at this path (tests, drills).
    Socket(std::path::PathBuf),
}

impl Notifier {
    /// From `$NOTIFY_SOCKET` and `$WATCHDOG_USEC` / `$WATCHDOG_PID`; silent when unset.
    pub fn from_env() -> Notifier {
        let enabled = std::env::var_os("NOTIFY_SOCKET").is_some_and(|s| !s.is_empty());
        Notifier {
            target: enabled.then_some(Target::Environment),
            watchdog: if enabled {
                sd_notify::watchdog_enabled().filter(|d| !d.is_zero())
            } else {
                None
            },
        }
    }

    /// Sends nothing.
    pub fn disabled() -> Notifier {
        Notifier::default()
    }

    /// Sends to the datagram socket at `path`, as systemd's `$NOTIFY_SOCKET` would be, with
    /// `watchdog` as `$WATCHDOG_USEC` would set it (for tests and drills without systemd).
    pub fn to_socket(path: impl Into<std::path::PathBuf>, watchdog: Option<Duration>) -> Notifier {
        Notifier {
            target: Some(Target::Socket(path.into())),
            watchdog: watchdog.filter(|d| !d.is_zero()),
        }
    }

    /// The watchdog interval systemd asked for, if any.
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }

    fn send(&self, states: &[NotifyState<'_>]) {
        let sent = match &self.target {
            None => return,
            Some(Target::Environment) => sd_notify::notify(states),
            Some(Target::Socket(path)) => {
                let message: String = states.iter().map(|s| format!("{s}\n")).collect();
                std::os::unix::net::UnixDatagram::unbound()
                    .and_then(|socket| socket.send_to(message.as_bytes(), path))
                    .map(|_| ())
            }
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, "cannot notify systemd ($NOTIFY_SOCKET)");
        }
    }

    /// Start-up is done: the daemon collects.
    pub fn ready(&self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// The daemon begins to stop.
    pub fn stopping(&self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }

    fn ping(&self) {
        self.send(&[NotifyState::Watchdog]);
    }
}

/// Pings the watchdog every quarter of its interval while everything makes progress within
/// half of it; returns at once if systemd set no watchdog.
pub(crate) async fn watchdog_loop(
    notifier: std::sync::Arc<Notifier>,
    progress: std::sync::Arc<Progress>,
    cancel: CancellationToken,
) {
    let Some(interval) = notifier.watchdog() else {
        return;
    };
    let limit = interval / 2;
    let mut tick = tokio::time::interval((interval / 4).max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stalled_logged = AtomicBool::new(false);
    tracing::info!(
        interval_ms = interval.as_millis() as u64,
        "pinging the systemd watchdog while the scheduler and the writer make progress"
    );
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = cancel.cancelled() => return,
        }
        match progress.stalled(limit) {
            None => {
                if stalled_logged.swap(false, Ordering::AcqRel) {
                    tracing::info!("progress again; pinging the systemd watchdog");
                }
                notifier.ping();
            }
            Some(why) => {
                if !stalled_logged.swap(true, Ordering::AcqRel) {
                    tracing::error!(%why, "not pinging the systemd watchdog: systemd restarts the daemon if this lasts");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_stall_is_named_and_progress_clears_it() {
        let progress = Progress::new();
        let at = |ms: u64, p: &Progress| p.stalled_at(ms, 1_000);
        // Stamped at creation (1): fresh until 1 s later.
        assert_eq!(at(1_000, &progress), None);
        assert!(at(1_500, &progress).is_some_and(|w| w.contains("scheduler")));
        progress.scheduler_ms.store(1_400, Ordering::Release);
        assert!(at(1_500, &progress).is_some_and(|w| w.contains("spool writer")));
        progress.writer_ms.store(1_400, Ordering::Release);
        assert_eq!(at(1_500, &progress), None);
        // A drain in flight for longer than the limit is a stall; a finished one is not.
        progress.drain_since_ms.store(300, Ordering::Release);
        assert!(at(1_500, &progress).is_some_and(|w| w.contains("catalog write")));
        progress.drain_finished();
        assert_eq!(at(1_500, &progress), None);
    }

    #[test]
    fn nothing_is_sent_without_notify_socket() {
        let notifier = Notifier::disabled();
        assert_eq!(notifier.watchdog(), None);
        notifier.ready("collecting");
        notifier.stopping();
    }
}
