//! End-to-end: the real `ccxt-cli` binary against the exchange simulator on 127.0.0.1.
#![allow(clippy::unwrap_used, missing_docs)]

use std::process::Output;

use assert_cmd::Command;
use exchange_sim::{Faults, SimConfig, SimHandle, Venue as SimVenue};
use serde_json::Value;

mod common;

const MINUTE_MS: u64 = 60_000;
const HOUR_MS: u64 = 60 * MINUTE_MS;
const DAY_MS: u64 = 24 * HOUR_MS;

/// The simulator with its data clock pinned ([`common::sim_now_ms`]): history ranges are
/// given relative to that instant, with both ends explicit, so nothing here depends on the
/// time of day the suite runs at.
async fn sim(mut config: SimConfig) -> SimHandle {
    config.now_ms = Some(common::sim_now_ms());
    exchange_sim::start(config).await.unwrap()
}

fn no_limits() -> SimConfig {
    let mut config = SimConfig::default();
    config.limits.enabled = false;
    config
}

/// The binary pointed at the simulator, with a clean environment.
fn cli(sim: &SimHandle) -> Command {
    let mut cmd = Command::cargo_bin("ccxt-cli").unwrap();
    for (key, _) in std::env::vars() {
        if key.starts_with("CCXT_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    for venue in ["BINANCE", "BYBIT", "HYPERLIQUID", "OKX"] {
        cmd.env(format!("CCXT_VENUES__{venue}__REST_URL"), sim.url());
    }
    cmd.env("CCXT_VENUES__BYBIT__BAN_WAIT_SECS", "1");
    cmd
}

/// Runs the binary off the async threads (the simulator runs on them).
async fn run(mut cmd: Command, args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || cmd.args(&args).output().unwrap())
        .await
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Vec<Value> {
    serde_json::from_slice::<Value>(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
        .as_array()
        .unwrap()
        .clone()
}

/// A history range of `days` ending at the simulator's pinned now: `(from_ms, to_ms)`.
fn last_days(sim: &SimHandle, days: u64) -> (u64, u64) {
    let to = sim.now_ms();
    (to - days * DAY_MS, to)
}

/// The buckets of `step` ms that start at or after `from` and are complete at `to`: what a
/// venue serves for that range.
fn complete_buckets(from: u64, to: u64, step: u64) -> u64 {
    (to / step).saturating_sub(from.div_ceil(step))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_open_interest_and_funding_in_every_format() {
    let sim = sim(no_limits()).await;
    let oi = run(
        cli(&sim),
        &[
            "fetch-oi",
            "BTCUSDT-PERP",
            "ETHUSDT-PERP",
            "--format",
            "json",
        ],
    )
    .await;
    assert!(oi.status.success(), "{}", stderr(&oi));
    let rows = json(&oi);
    assert_eq!(rows.len(), 8, "2 symbols x 4 venues");
    for venue in ["binance", "bybit", "hyperliquid", "okx"] {
        assert_eq!(rows.iter().filter(|r| r["venue"] == venue).count(), 2);
    }
    assert!(
        rows.iter()
            .all(|r| r["open_interest"].as_f64().unwrap() > 0.0
                && r["open_interest_value"].as_f64().unwrap() > 0.0)
    );

    let ndjson = run(
        cli(&sim),
        &[
            "fetch-oi",
            "BTCUSDT-PERP",
            "ETHUSDT-PERP",
            "--format",
            "ndjson",
        ],
    )
    .await;
    assert_eq!(stdout(&ndjson).lines().count(), 8);
    let csv = run(
        cli(&sim),
        &[
            "fetch-oi",
            "BTCUSDT-PERP",
            "ETHUSDT-PERP",
            "--format",
            "csv",
        ],
    )
    .await;
    assert_eq!(stdout(&csv).lines().count(), 9, "header + 8");
    assert!(stdout(&csv).starts_with("timestamp,venue,symbol,open_interest,open_interest_value,"));
    let table = run(cli(&sim), &["fetch-oi", "BTCUSDT-PERP", "ETHUSDT-PERP"]).await;
    assert!(
        stdout(&table).contains("┆ hyperliquid ┆ ETH "),
        "{}",
        stdout(&table)
    );

    let funding = run(
        cli(&sim),
        &[
            "fetch-funding",
            "BTCUSDT-PERP",
            "ETHUSDT-PERP",
            "kPEPE",
            "--format",
            "json",
        ],
    )
    .await;
    // The simulator lists no PEPE-USDT-SWAP (what 1000PEPE is on OKX): that one fails.
    assert!(
        stderr(&funding).contains("failed: okx PEPE-USDT-SWAP: okx has no perpetual"),
        "{}",
        stderr(&funding)
    );
    let rows = json(&funding);
    assert_eq!(rows.len(), 11, "3 symbols x 4 venues, but OKX's PEPE");
    for r in &rows {
        assert_eq!(r["kind"], "estimate");
        assert!(
            r["rate"].as_str().unwrap().parse::<f64>().is_ok(),
            "rate is an exact decimal string"
        );
        assert!(r["next_funding_time"].as_str().is_some(), "{r}");
        if r["venue"] == "okx" {
            // OKX's funding answer carries no prices.
            assert!(r["mark_price"].as_str().is_none(), "{r}");
            continue;
        }
        for price in ["mark_price", "index_price"] {
            let text = r[price]
                .as_str()
                .unwrap_or_else(|| panic!("{price} in {r}"));
            assert!(
                text.parse::<f64>().is_ok_and(|p| p > 0.0),
                "{price} is an exact decimal string: {r}"
            );
        }
    }
    let hl = rows
        .iter()
        .find(|r| r["venue"] == "hyperliquid" && r["symbol"] == "kPEPE")
        .unwrap();
    assert_eq!(hl["interval"], "1h");
    let okx = rows
        .iter()
        .find(|r| r["venue"] == "okx" && r["symbol"] == "ETH-USDT-SWAP")
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert!(okx["interval"].as_str().is_some(), "{okx}");
    let one = run(
        cli(&sim),
        &[
            "fetch-funding",
            "BTCUSDT-PERP",
            "-e",
            "binance",
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(json(&one).len(), 1, "a single record is still an array");
}

/// The mark and index prices of printed funding snapshots, by venue.
fn snapshot_prices(rows: &[Value]) -> Vec<(String, f64, f64)> {
    let price = |r: &Value, key: &str| r[key].as_str().unwrap().parse::<f64>().unwrap();
    let mut prices: Vec<_> = rows
        .iter()
        .filter(|r| r["mark_price"].is_string())
        .map(|r| {
            let venue = r["venue"].as_str().unwrap().to_string();
            (venue, price(r, "mark_price"), price(r, "index_price"))
        })
        .collect();
    prices.sort_by(|a, b| a.0.cmp(&b.0));
    prices
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_mark_and_index_prices_are_stored_and_read_back_exactly() {
    let sim = sim(no_limits()).await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().to_str().unwrap();
    let printed = run(
        cli(&sim),
        &["fetch-funding", "BTCUSDT-PERP", "--format", "json"],
    )
    .await;
    assert!(printed.status.success(), "{}", stderr(&printed));
    let printed = json(&printed);
    assert_eq!(printed.len(), 4, "one snapshot per venue");
    let printed = snapshot_prices(&printed);
    assert_eq!(printed.len(), 3, "prices from every venue but OKX");

    let stored = run(
        cli(&sim),
        &[
            "fetch-funding",
            "BTCUSDT-PERP",
            "--store",
            "--catalog",
            catalog,
        ],
    )
    .await;
    assert!(stored.status.success(), "{}", stderr(&stored));
    assert!(
        stderr(&stored).contains("4 new rows (and 6 mark/index prices) stored"),
        "{}",
        stderr(&stored)
    );

    // The simulator's clock is pinned, so the stored snapshot quotes what was printed.
    let query = |kind: &'static str| {
        let cmd = cli(&sim);
        async move {
            let out = run(
                cmd,
                &[
                    "query",
                    kind,
                    "BTCUSDT-PERP",
                    "--format",
                    "json",
                    "--catalog",
                    catalog,
                ],
            )
            .await;
            assert!(out.status.success(), "{}", stderr(&out));
            json(&out)
        }
    };
    let marks = query("mark").await;
    let indexes = query("index").await;
    assert_eq!(
        (marks.len(), indexes.len()),
        (3, 3),
        "{marks:?} {indexes:?}"
    );
    for (venue, mark, index) in &printed {
        let stored = |rows: &[Value], key: &str| {
            let row = rows.iter().find(|r| r["venue"] == venue.as_str()).unwrap();
            row[key].as_str().unwrap().parse::<f64>().unwrap()
        };
        assert_eq!(stored(&marks, "mark_price"), *mark, "{venue} mark");
        assert_eq!(stored(&indexes, "index_price"), *index, "{venue} index");
    }

    // The open-interest snapshot carries them too: the same prices, quoted again.
    let oi = run(
        cli(&sim),
        &["fetch-oi", "BTCUSDT-PERP", "--store", "--catalog", catalog],
    )
    .await;
    assert!(oi.status.success(), "{}", stderr(&oi));
    assert!(stderr(&oi).contains("4 new rows (and "), "{}", stderr(&oi));
    let info = run(
        cli(&sim),
        &["catalog", "info", "--catalog", catalog, "--format", "json"],
    )
    .await;
    assert!(info.status.success(), "{}", stderr(&info));
    let text = stdout(&info);
    let rows: Vec<Value> = serde_json::from_str(&text).unwrap();
    for kind in ["mark", "index"] {
        let counts: Vec<(&str, u64)> = rows
            .iter()
            .filter(|r| r["type"] == kind)
            .map(|r| (r["venue"].as_str().unwrap(), r["rows"].as_u64().unwrap()))
            .collect();
        // Binance and Bybit quote the simulator's pinned time in both answers: one price per
        // venue time is stored. Hyperliquid's answers carry no time, so each is its own.
        assert_eq!(
            counts,
            [("binance", 1), ("bybit", 1), ("hyperliquid", 2)],
            "{kind}: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_stored_reads_back_the_same_and_a_rerun_adds_nothing() {
    let sim = sim(no_limits()).await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().to_str().unwrap();
    let (from_ms, to_ms) = last_days(&sim, 3);
    let (from, to) = (common::iso_ms(from_ms), common::iso_ms(to_ms));
    let args = [
        "fetch-oi",
        "BTCUSDT-PERP",
        "-e",
        "binance",
        "-e",
        "bybit",
        "-e",
        "okx",
        "--from",
        &from,
        "--to",
        &to,
        "--period",
        "1h",
    ];

    let printed = run(cli(&sim), &[&args[..], &["--format", "json"]].concat()).await;
    assert!(printed.status.success(), "{}", stderr(&printed));
    let printed = json(&printed);
    let hours = complete_buckets(from_ms, to_ms, HOUR_MS);
    for venue in ["binance", "bybit", "okx"] {
        let rows = printed.iter().filter(|r| r["venue"] == venue).count() as u64;
        assert_eq!(
            rows, hours,
            "{venue}: every complete hour of {from} .. {to}"
        );
    }

    let stored = run(
        cli(&sim),
        &[
            &args[..],
            &["--store", "--catalog", catalog, "--format", "json"],
        ]
        .concat(),
    )
    .await;
    assert!(stored.status.success(), "{}", stderr(&stored));
    let summary = json(&stored);
    let added: u64 = summary.iter().map(|s| s["added"].as_u64().unwrap()).sum();
    assert_eq!(added as usize, printed.len());

    let query = run(
        cli(&sim),
        &[
            "query",
            "oi",
            "BTCUSDT-PERP",
            "--from",
            &from,
            "--to",
            &to,
            "--format",
            "json",
            "--catalog",
            catalog,
        ],
    )
    .await;
    let queried = json(&query);
    let key = |r: &Value| {
        (
            r["ts_event"].as_u64().unwrap(),
            r["venue"].as_str().unwrap().to_string(),
            r["open_interest"].as_f64().unwrap().to_bits(),
        )
    };
    let mut a: Vec<_> = printed.iter().map(key).collect();
    let mut b: Vec<_> = queried.iter().map(key).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b, "query returns exactly what fetch printed");

    let again = run(
        cli(&sim),
        &[
            &args[..],
            &["--store", "--catalog", catalog, "--format", "json"],
        ]
        .concat(),
    )
    .await;
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        json(&again)
            .iter()
            .all(|s| s["added"] == 0 && s["status"] == "up to date"),
        "{}",
        stdout(&again)
    );

    // Settled funding history, three venues.
    let (from_ms, to_ms) = last_days(&sim, 20);
    let funding = run(
        cli(&sim),
        &[
            "fetch-funding",
            "BTCUSDT-PERP",
            "--from",
            &common::iso_ms(from_ms),
            "--to",
            &common::iso_ms(to_ms),
            "--store",
            "--catalog",
            catalog,
            "--format",
            "json",
        ],
    )
    .await;
    assert!(funding.status.success(), "{}", stderr(&funding));
    let summary = json(&funding);
    let added: u64 = summary.iter().map(|s| s["added"].as_u64().unwrap()).sum();
    let query = run(
        cli(&sim),
        &[
            "query",
            "funding",
            "BTCUSDT-PERP",
            "--format",
            "json",
            "--catalog",
            catalog,
        ],
    )
    .await;
    let rows = json(&query);
    assert_eq!(rows.len() as u64, added);
    assert!(rows.iter().all(|r| r["kind"] == "settled"));
    assert!(
        rows.iter()
            .any(|r| r["venue"] == "binance" && r["interval"] == "8h")
    );
    assert!(
        rows.iter()
            .any(|r| r["venue"] == "hyperliquid" && r["interval"] == "1h")
    );
    // OKX: every 8 h settlement of the 20 days, each with its interval.
    let okx: Vec<_> = rows.iter().filter(|r| r["venue"] == "okx").collect();
    assert_eq!(
        okx.len() as u64,
        complete_buckets(from_ms, to_ms, 8 * HOUR_MS) + 1
    );
    assert!(okx.iter().all(|r| r["interval"] == "8h"), "{okx:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyperliquid_oi_history_is_skipped_unless_asked_for_by_name() {
    let sim = sim(no_limits()).await;
    let (from_ms, to_ms) = last_days(&sim, 1);
    let (from, to) = (common::iso_ms(from_ms), common::iso_ms(to_ms));
    let all = run(
        cli(&sim),
        &[
            "fetch-oi", "BTC", "--from", &from, "--to", &to, "--format", "csv",
        ],
    )
    .await;
    assert_eq!(all.status.code(), Some(0), "{}", stderr(&all));
    assert!(
        stderr(&all).contains(
            "skipped: hyperliquid BTC: hyperliquid does not provide open interest history"
        ),
        "{}",
        stderr(&all)
    );
    let named = run(
        cli(&sim),
        &[
            "fetch-oi",
            "BTC",
            "-e",
            "hyperliquid",
            "--from",
            &from,
            "--to",
            &to,
        ],
    )
    .await;
    assert_eq!(named.status.code(), Some(1), "{}", stderr(&named));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gives_clear_errors_and_meaningful_exit_codes() {
    let sim = sim(no_limits()).await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().to_str().unwrap();

    // Unknown on one venue: the rest is stored, exit 1.
    let o = run(
        cli(&sim),
        &[
            "fetch-oi",
            "BTCUSDT-PERP",
            "NOPEUSDT-PERP",
            "-e",
            "binance",
            "--store",
            "--catalog",
            catalog,
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("failed: binance NOPEUSDT: binance has no perpetual 'NOPEUSDT'"),
        "{}",
        stderr(&o)
    );
    let q = run(
        cli(&sim),
        &[
            "query",
            "oi",
            "BTCUSDT-PERP",
            "--catalog",
            catalog,
            "--format",
            "csv",
        ],
    )
    .await;
    assert_eq!(
        stdout(&q).lines().count(),
        2,
        "BTCUSDT stored: {}",
        stdout(&q)
    );

    for (args, message) in [
        (
            vec!["fetch-oi", "BTCUSDT-PERP", "-e", "kraken"],
            "invalid value 'kraken'",
        ),
        (
            vec![
                "fetch-oi",
                "BTCUSDT-PERP",
                "--from",
                "2025-01-01",
                "--period",
                "7m",
            ],
            "valid periods are 5m, 15m, 30m, 1h, 4h, 1d",
        ),
        (
            vec![
                "fetch-oi",
                "BTCUSDT-PERP",
                "--from",
                "2025-02-01",
                "--to",
                "2025-01-01",
            ],
            "is before --from",
        ),
        (
            vec!["fetch-funding", "BTCUSDT-PERP", "--to", "2025-01-01"],
            "--from",
        ),
        (vec!["fetch-funding"], "at least one SYMBOL"),
        (vec!["fetch-funding", "BTC/USD:BTC"], "accepted forms"),
        (
            vec!["fetch-funding", "xyz:TSLA", "-e", "bybit"],
            "exist only on hyperliquid",
        ),
    ] {
        let o = run(cli(&sim), &args).await;
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
    }

    // Bad configuration: every problem at once, exit 2, nothing sent.
    let before = sim.stats().venue("binance").requests;
    let mut bad = cli(&sim);
    bad.env("CCXT_VENUES__BINANCE__BUDGET_FRACTION", "3")
        .env("CCXT_VENUES__BYBIT__REST_URL", "ftp://x");
    let o = run(bad, &["fetch-oi", "BTCUSDT-PERP"]).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("venues.binance.budget_fraction")
            && stderr(&o).contains("venues.bybit.rest_url"),
        "{}",
        stderr(&o)
    );
    assert_eq!(sim.stats().venue("binance").requests, before);

    // A venue answering garbage: that venue fails clearly, the others deliver, no panic.
    sim.set_faults(Faults {
        malformed: true,
        venues: vec![SimVenue::Bybit],
        ..Faults::default()
    });
    let o = run(
        cli(&sim),
        &["fetch-oi", "BTCUSDT-PERP", "--format", "ndjson"],
    )
    .await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("failed: bybit BTCUSDT: malformed"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("panicked"));
    assert_eq!(
        stdout(&o).lines().count(),
        3,
        "binance, hyperliquid and okx rows"
    );

    // A venue that is down: retried, then reported; the others deliver.
    sim.set_faults(Faults {
        venue_down: vec![SimVenue::Hyperliquid],
        ..Faults::default()
    });
    let mut one_retry = cli(&sim);
    one_retry.env("CCXT_VENUES__HYPERLIQUID__MAX_RETRIES", "1");
    let o = run(
        one_retry,
        &["fetch-funding", "BTCUSDT-PERP", "--format", "ndjson"],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("failed: hyperliquid BTC: cannot reach hyperliquid"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stdout(&o).lines().count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_stay_within_the_venue_budget_and_numbers_as_strings_parse() {
    let mut config = SimConfig::default();
    config.limits.bybit_requests_per_5s = 50;
    config.limits.window = exchange_sim::WindowMode::Sliding;
    config.faults = Faults {
        number_format: exchange_sim::NumberFormat::Strings,
        ..Faults::default()
    };
    let sim = sim(config).await;
    let mut cmd = cli(&sim);
    // Bybit's real budget is 600 per 5 s; tell ours the simulator's (lower) one through the fraction:
    // 600 x 0.8 would be 480, so scale to 50 x 0.8 = 40 per 5 s.
    cmd.env(
        "CCXT_VENUES__BYBIT__BUDGET_FRACTION",
        format!("{}", 40.0 / 600.0),
    );
    let symbols = [
        "BTCUSDT",
        "ETHUSDT",
        "SOLUSDT",
        "XRPUSDT",
        "DOGEUSDT",
        "1000PEPEUSDT",
    ];
    let mut args = vec![
        "fetch-oi", "-e", "bybit", "--period", "5m", "--format", "csv",
    ];
    // Five days of 5-minute buckets: Bybit serves 200 a page, newest first, so each symbol
    // takes ceil(buckets / 200) pages; more requests in all than one window's budget.
    let (from_ms, to_ms) = last_days(&sim, 5);
    let (from, to) = (common::iso_ms(from_ms), common::iso_ms(to_ms));
    args.extend(["--from", &from, "--to", &to]);
    args.extend(symbols);
    let o = run(cmd, &args).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let stats = sim.stats().venue("bybit");
    let pages = complete_buckets(from_ms, to_ms, 5 * MINUTE_MS).div_ceil(200);
    let expected = symbols.len() as u64 * pages;
    assert!(
        expected > 40,
        "the range must need more than one window's budget"
    );
    assert_eq!(
        stats.requests,
        expected,
        "{} pages of 5-minute buckets for each of {} symbols, {from} .. {to}",
        pages,
        symbols.len()
    );
    assert_eq!(stats.forbidden_403, 0, "never banned");
    let pool = stats.pools.values().next().unwrap();
    assert!(
        pool.max_sliding_window <= 40,
        "{} requests in one 5 s window, budget 40",
        pool.max_sliding_window
    );
}

#[test]
fn the_pinned_clock_is_a_time_of_day_yesterday_or_a_recent_instant() {
    // The wall clock just after midnight at a month's end: yesterday is 2026-02-28.
    let now_ms = 1_772_323_200_000 + 3_000; // 2026-03-01T00:00:03Z
    let pinned = |setting: Option<&str>| common::sim_now_from(setting, now_ms * 1_000_000);
    let yesterday = now_ms - 3_000 - DAY_MS;
    assert_eq!(common::iso_ms(yesterday), "2026-02-28T00:00:00Z");
    assert_eq!(pinned(None), yesterday + 5 * HOUR_MS + 50 * MINUTE_MS);
    assert_eq!(pinned(Some("23:59:50")), yesterday + DAY_MS - 10_000);
    assert_eq!(pinned(Some(" 00:10 ")), yesterday + 10 * MINUTE_MS);
    assert_eq!(
        pinned(Some("2026-02-20T12:30:00Z")),
        yesterday - 8 * DAY_MS + 750 * MINUTE_MS
    );
    for bad in [
        "5:50",
        "25h",
        "24:00",
        "2026-01-01T00:00:00Z",
        "2026-03-02T00:00:00Z",
    ] {
        let refused = std::panic::catch_unwind(|| pinned(Some(bad)));
        assert!(refused.is_err(), "'{bad}' accepted");
    }
}
