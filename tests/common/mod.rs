//! Shared by the end-to-end tests that run `ccxt-cli` against the simulator.
#![allow(dead_code)] // each test file uses what it needs

use std::io::{Read, Write};
use std::process::Command;

use exchange_sim::SimHandle;

/// `ccxt-cli` with a clean environment (no `CCXT_*` or `RUST_LOG` of the caller) and every
/// venue's REST and WebSocket root pointed at `sim`.
pub fn cli_against(sim: &SimHandle) -> Command {
    let mut cmd = clean_cli();
    let http = sim.url();
    let ws = http.replacen("http://", "ws://", 1);
    for venue in ["BINANCE", "BYBIT", "HYPERLIQUID", "OKX"] {
        cmd.env(format!("CCXT_VENUES__{venue}__REST_URL"), &http);
    }
    cmd.env("CCXT_VENUES__BINANCE__WS_URL", format!("{ws}/market"))
        .env(
            "CCXT_VENUES__BYBIT__WS_URL",
            format!("{ws}/v5/public/linear"),
        )
        .env("CCXT_VENUES__HYPERLIQUID__WS_URL", format!("{ws}/ws"))
        .env("CCXT_VENUES__OKX__WS_URL", format!("{ws}/ws/v5/public"))
        .env("CCXT_VENUES__OKX__WS_URL", format!("{ws}/ws/v5/public"));
    cmd
}

/// `ccxt-cli` with no `CCXT_*` or `RUST_LOG` of the caller.
pub fn clean_cli() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ccxt-cli"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CCXT_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// The environment variable that moves [`sim_now_ms`]: a time of day (`05:50`, `23:59:50`) on
/// yesterday's UTC date, or a whole instant (`2026-11-20T23:59:50Z`) from the last 25 days.
pub const SIM_NOW_VAR: &str = "CCXT_TEST_SIM_NOW";

/// The time of day [`sim_now_ms`] pins by default (the hour at which the suite once failed).
pub const DEFAULT_SIM_TIME_OF_DAY: &str = "05:50:00";

/// The instant (Unix ms) the tests that read history pin the simulator's data clock to, so
/// that what they fetch, and what they expect, does not depend on when the suite runs: every
/// range is given with an explicit `--from` and `--to` relative to it.
///
/// The date is yesterday (UTC), not a fixed one, because the CLI takes "now" from the wall
/// clock as the real venues do: Binance keeps 30 days of open-interest history counted back
/// from now, and `--to` is clamped to now. So the pinned instant must be recent and in the
/// past. Expectations are derived from the range and never from the date; the time of day is
/// fixed ([`DEFAULT_SIM_TIME_OF_DAY`]) unless [`SIM_NOW_VAR`] sets another, which is how the
/// suite is run at several times of day (README, Development).
pub fn sim_now_ms() -> u64 {
    let setting = std::env::var(SIM_NOW_VAR).ok();
    sim_now_from(setting.as_deref(), ccxt_model::time::now_ns())
}

/// [`sim_now_ms`] for a given setting (`None`: the default time of day) when the wall clock
/// reads `now` (Unix ns).
pub fn sim_now_from(setting: Option<&str>, now: u64) -> u64 {
    use ccxt_model::time::{Bound, NANOS_PER_DAY, format_iso, parse_time, utc_day_start};
    let setting = setting
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_SIM_TIME_OF_DAY);
    let instant = if setting.contains('T') {
        setting.to_string()
    } else {
        let parts: Vec<&str> = setting.split(':').collect();
        let valid = matches!(parts.len(), 2 | 3)
            && parts
                .iter()
                .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()));
        assert!(
            valid,
            "{SIM_NOW_VAR}='{setting}': give a time of day (HH:MM or HH:MM:SS) or an instant (2026-11-20T23:59:50Z)"
        );
        let seconds = if parts.len() == 2 { ":00" } else { "" };
        let yesterday = &format_iso(utc_day_start(now) - NANOS_PER_DAY)[..10];
        format!("{yesterday}T{setting}{seconds}Z")
    };
    let ns = parse_time(&instant, Bound::Start)
        .unwrap_or_else(|e| panic!("{SIM_NOW_VAR}='{setting}': {e}"));
    assert!(
        ns < now && now - ns < 25 * NANOS_PER_DAY,
        "{SIM_NOW_VAR}='{setting}' is {}: it must lie in the last 25 days (Binance's 30-day open-interest window, counted from the wall clock, must cover the tests' ranges)",
        format_iso(ns)
    );
    ns / 1_000_000
}

/// A Unix-ms instant as typed on the command line (`2026-01-10T05:50:00Z`).
pub fn iso_ms(ms: u64) -> String {
    ccxt_model::time::format_iso(ms * 1_000_000)
}

/// A blocking HTTP/1.1 GET on loopback: status (0 when nothing answers) and body.
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
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
