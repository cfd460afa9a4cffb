//! Shared by the end-to-end tests that run `ccxt-cli` against the simulator.
#![allow(dead_code)] // each test file uses what it needs

use std::process::Command;

use exchange_sim::SimHandle;

/// `ccxt-cli` with a clean environment (no `CCXT_*` or `RUST_LOG` of the caller) and every
/// venue's REST and WebSocket root pointed at `sim`.
pub fn cli_against(sim: &SimHandle) -> Command {
    let mut cmd = clean_cli();
    let http = sim.url();
    let ws = http.replacen("http://", "ws://", 1);
    for venue in ["BINANCE", "BYBIT", "HYPERLIQUID"] {
        cmd.env(format!("CCXT_VENUES__{venue}__REST_URL"), &http);
    }
    cmd.env("CCXT_VENUES__BINANCE__WS_URL", format!("{ws}/market"))
        .env(
            "CCXT_VENUES__BYBIT__WS_URL",
            format!("{ws}/v5/public/linear"),
        )
        .env("CCXT_VENUES__HYPERLIQUID__WS_URL", format!("{ws}/ws"));
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
