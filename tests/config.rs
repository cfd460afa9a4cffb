//! End-to-end tests of configuration loading and flag validation: the real binary, the exchange
//! simulator on 127.0.0.1 (with a pinned clock) wherever a request could happen, and the
//! simulator's counters to prove that a configuration error stops a command before any request.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use exchange_sim::{SimConfig, SimHandle};
use serde_json::Value;

/// 2025-01-03T00:00:00Z: the simulator's clock, so nothing depends on today's date.
const NOW_MS: u64 = 1_735_862_400_000;

async fn sim() -> SimHandle {
    let mut config = SimConfig::default();
    config.limits.enabled = false;
    config.now_ms = Some(NOW_MS);
    exchange_sim::start(config).await.unwrap()
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../catalog.example")
}

/// Confines the config search path to `home`: the working directory and `XDG_CONFIG_HOME`
/// are inside it, so no file of the machine running the tests is picked up.
fn isolated(mut cmd: Command, home: &Path) -> Command {
    let xdg = home.join("xdg");
    std::fs::create_dir_all(&xdg).unwrap();
    cmd.current_dir(home)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", xdg);
    cmd
}

/// The binary with a clean environment and an isolated search path.
fn cli(home: &Path) -> Command {
    isolated(common::clean_cli(), home)
}

/// The binary pointed at `sim` (REST and WebSocket roots in the environment).
fn cli_sim(sim: &SimHandle, home: &Path) -> Command {
    isolated(common::cli_against(sim), home)
}

/// Runs off the async threads (the simulator runs on them).
async fn run(mut cmd: Command, args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || cmd.args(&args).output().unwrap())
        .await
        .unwrap()
}

fn run_sync(mut cmd: Command, args: &[&str]) -> Output {
    cmd.args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn assert_code(o: &Output, code: i32, what: &str) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{what}\nstdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
}

/// No REST request and no WebSocket connection reached the simulator.
fn assert_untouched(sim: &SimHandle, what: &str) {
    let stats = sim.stats();
    for venue in ["binance", "bybit", "hyperliquid"] {
        assert_eq!(
            stats.venue(venue).requests,
            0,
            "{what}: {venue} got requests"
        );
        assert_eq!(
            stats.ws(venue).connections_opened,
            0,
            "{what}: {venue} got a WebSocket connection"
        );
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

// Item: invalid log levels are usage errors (exit 2) naming the valid values.
#[test]
fn an_invalid_log_level_is_a_usage_error_wherever_it_comes_from() {
    let home = tempfile::tempdir().unwrap();
    let example = example();
    let example = example.to_str().unwrap();
    let info = ["catalog", "info", "--catalog", example];
    let valid = "error, warn, info, debug, trace or off";
    for level in ["loud", "debgu", "info,loud"] {
        let out = run_sync(
            cli(home.path()),
            &[&info[..], &["--log-level", level]].concat(),
        );
        assert_code(&out, 2, level);
        assert!(stderr(&out).contains(valid), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("'{level}'")),
            "{}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty(), "nothing runs: {}", stdout(&out));
    }
    let mut env = cli(home.path());
    env.env("CCXT_LOG_LEVEL", "loud");
    let out = run_sync(env, &info);
    assert_code(&out, 2, "CCXT_LOG_LEVEL");
    assert!(stderr(&out).contains("CCXT_LOG_LEVEL"), "{}", stderr(&out));
    assert!(stderr(&out).contains(valid), "{}", stderr(&out));

    let file = write(home.path(), "loud.toml", "log_level = \"loud\"\n");
    let file = file.to_str().unwrap();
    let out = run_sync(cli(home.path()), &[&info[..], &["-c", file]].concat());
    assert_code(&out, 2, "log_level in the file");
    assert!(stderr(&out).contains(valid), "{}", stderr(&out));
    let out = run_sync(
        cli(home.path()),
        &["daemon", "validate", "-s", "BTCUSDT-PERP", "-c", file],
    );
    assert_code(&out, 2, "daemon validate");
    assert!(stderr(&out).contains("'loud'"), "{}", stderr(&out));

    // Levels and target=level directives are fine.
    for level in ["debug", "WARN", "off", "info,ccxt_catalog=debug"] {
        let out = run_sync(
            cli(home.path()),
            &[&info[..], &["--log-level", level]].concat(),
        );
        assert_code(&out, 0, level);
    }
}

// Item: `daemon validate` reports unknown keys together with every other problem.
#[test]
fn daemon_validate_lists_an_unknown_key_with_every_other_problem() {
    let home = tempfile::tempdir().unwrap();
    let file = write(
        home.path(),
        "typo.toml",
        "[daemon]\nsymbolz = [\"BTCUSDT-PERP\"]\noi_period = \"7m\"\n[daemon.schedule]\nfunding = \"never\"\n[metrics]\naddress = \"everywhere\"\n[venues.bybit]\ntimeout_secs = \"slow\"\n",
    );
    let out = run_sync(
        cli(home.path()),
        &["daemon", "validate", "-c", file.to_str().unwrap()],
    );
    assert_code(&out, 2, "daemon validate");
    let err = stderr(&out);
    for needle in [
        "unknown key 'daemon.symbolz'",
        "daemon.oi_period",
        "daemon.schedule.funding",
        "metrics.address",
        "venues.bybit.timeout_secs",
        "5 problems",
    ] {
        assert!(err.contains(needle), "'{needle}' missing in:\n{err}");
    }
}

// Item: every command validates the whole config file and the CCXT_* environment before any
// request; typos are exit 2 with every problem listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_and_environment_typos_stop_every_command_before_any_request() {
    let sim = sim().await;
    let home = tempfile::tempdir().unwrap();
    let catalog = home.path().join("catalog");
    let catalog = catalog.to_str().unwrap();
    let venue_typo = write(
        home.path(),
        "venue.toml",
        "[venues.binance]\nrest_urll = \"http://127.0.0.1:9\"\n",
    );
    let top_typo = write(home.path(), "top.toml", "catalog_pathh = \"/tmp/x\"\n");
    let fetch = [
        "fetch-funding",
        "BTCUSDT-PERP",
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-02",
    ];
    for (file, key) in [
        (&venue_typo, "venues.binance.rest_urll"),
        (&top_typo, "catalog_pathh"),
    ] {
        let file = file.to_str().unwrap();
        let out = run(
            cli_sim(&sim, home.path()),
            &[&fetch[..], &["-c", file]].concat(),
        )
        .await;
        assert_code(&out, 2, key);
        assert!(
            stderr(&out).contains(&format!("unknown key '{key}' in '{file}'")),
            "{}",
            stderr(&out)
        );
        assert_untouched(&sim, key);
    }

    // An unknown CCXT_* variable, a file typo and an invalid value: all three at once, for every
    // command, writing nothing and asking nothing.
    let bad_value = write(
        home.path(),
        "bad.toml",
        "rest_url = \"misplaced\"\n[venues.bybit]\nbudget_fraction = 3\n",
    );
    let bad_value = bad_value.to_str().unwrap();
    let commands: Vec<Vec<&str>> = vec![
        fetch.to_vec(),
        vec!["fetch-oi", "BTCUSDT-PERP"],
        vec!["fetch-oi", "--all", "--store", "--catalog", catalog],
        vec!["stream-liquidations", "BTCUSDT-PERP", "--duration", "5s"],
        vec!["query", "oi", "BTCUSDT-PERP", "--catalog", catalog],
        vec!["catalog", "info", "--catalog", catalog],
        vec!["daemon", "start", "--all", "--catalog", catalog],
        vec!["daemon", "validate"],
    ];
    for args in commands {
        let mut cmd = cli_sim(&sim, home.path());
        cmd.env("CCXT_VENUES__BINANCE__RESTURL", "http://127.0.0.1:9")
            .env("CCXT_METRICS__ADDRESS", "off");
        let out = run(cmd, &[&args[..], &["--config", bad_value]].concat()).await;
        let what = args.join(" ");
        assert_code(&out, 2, &what);
        let err = stderr(&out);
        for needle in [
            "unknown key 'venues.binance.resturl' from CCXT_VENUES__BINANCE__RESTURL",
            "unknown key 'rest_url' in",
            "venues.bybit.budget_fraction must be in (0, 1], got 3",
            "3 problems",
        ] {
            assert!(
                err.contains(needle),
                "{what}: '{needle}' missing in:\n{err}"
            );
        }
        assert_untouched(&sim, &what);
    }
    assert!(!Path::new(catalog).exists(), "nothing may be created");

    // The same settings spelled right reach the simulator (the typos were the only problem).
    let good = write(
        home.path(),
        "good.toml",
        &format!("[venues.binance]\nrest_url = \"{}\"\n", sim.url()),
    );
    let out = run(
        cli_sim(&sim, home.path()),
        &[&fetch[..], &["-e", "binance", "-c", good.to_str().unwrap()]].concat(),
    )
    .await;
    assert_code(&out, 0, "valid config");
    assert!(sim.stats().venue("binance").requests > 0);
    sim.shutdown().await;
}

// Item: the config search path and `config show` with sources and redaction.
#[test]
fn the_config_file_is_searched_for_and_config_show_says_where_each_value_came_from() {
    let home = tempfile::tempdir().unwrap();
    let example = example();
    let example = example.to_str().unwrap();
    let show = |cmd: Command, extra: &[&str]| -> (Vec<Value>, String) {
        let out = run_sync(
            cmd,
            &[&["config", "show", "--format", "json"][..], extra].concat(),
        );
        assert_code(&out, 0, "config show");
        let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
        (rows.as_array().unwrap().clone(), stderr(&out))
    };
    let row = |rows: &[Value], key: &str| -> (String, String) {
        let r = rows
            .iter()
            .find(|r| r["key"] == key)
            .unwrap_or_else(|| panic!("{key} missing: {rows:?}"));
        (
            r["value"].as_str().unwrap().to_string(),
            r["source"].as_str().unwrap().to_string(),
        )
    };

    // Nothing anywhere: the documented defaults.
    let (rows, err) = show(cli(home.path()), &[]);
    assert!(err.contains("config file: none"), "{err}");
    assert_eq!(
        row(&rows, "catalog_path"),
        ("\"./catalog\"".into(), "default".into())
    );
    // The venue root documented in config/default.toml (read from the file: no venue host is
    // named in the tests).
    let documented: toml::Table = toml::from_str(include_str!("../config/default.toml")).unwrap();
    let binance_root = documented["venues"]["binance"]["rest_url"]
        .as_str()
        .unwrap();
    assert_eq!(
        row(&rows, "venues.binance.rest_url"),
        (format!("\"{binance_root}\""), "default".into())
    );

    // $XDG_CONFIG_HOME/ccxt-pipeline/config.toml, then ./ccxt-pipeline.toml before it.
    let xdg = write(
        home.path(),
        "xdg/ccxt-pipeline/config.toml",
        &format!(
            "catalog_path = {example:?}\n[venues.bybit]\nrest_url = \"http://user:hunter2@127.0.0.1:9/\"\n"
        ),
    );
    let (rows, err) = show(cli(home.path()), &[]);
    assert!(err.contains(&xdg.display().to_string()), "{err}");
    let from_xdg = format!("file {}", xdg.display());
    assert_eq!(
        row(&rows, "catalog_path"),
        (format!("{example:?}"), from_xdg.clone())
    );
    let (url, source) = row(&rows, "venues.bybit.rest_url");
    assert_eq!(url, "\"http://***@127.0.0.1:9/\"");
    assert_eq!(source, from_xdg);
    assert!(!rows.iter().any(|r| r.to_string().contains("hunter2")));
    // The file found is the one every command uses.
    let out = run_sync(
        cli(home.path()),
        &["query", "oi", "BTCUSDT-PERP", "-n", "1"],
    );
    assert_code(&out, 0, "query with the catalog from the found file");

    let local = write(home.path(), "ccxt-pipeline.toml", "log_format = \"json\"\n");
    let (rows, _) = show(cli(home.path()), &[]);
    let (_, source) = row(&rows, "log_format");
    assert!(source.ends_with("ccxt-pipeline.toml"), "{source}");
    assert_eq!(
        row(&rows, "catalog_path").1,
        "default",
        "only one file is read"
    );

    // CCXT_CONFIG beats the search path, --config beats CCXT_CONFIG; env and flags beat files.
    let named = write(home.path(), "named.toml", "log_level = \"info\"\n");
    let mut cmd = cli(home.path());
    cmd.env("CCXT_CONFIG", &named)
        .env("CCXT_METRICS__ADDRESS", "off")
        .env("CCXT_LOG_LEVEL", "debug");
    let (rows, err) = show(cmd, &["--catalog", example]);
    assert!(err.contains("named.toml (CCXT_CONFIG)"), "{err}");
    assert_eq!(
        row(&rows, "metrics.address"),
        ("\"off\"".into(), "env CCXT_METRICS__ADDRESS".into())
    );
    assert_eq!(
        row(&rows, "log_level"),
        ("\"debug\"".into(), "env CCXT_LOG_LEVEL".into())
    );
    assert_eq!(row(&rows, "catalog_path").1, "flag --catalog");
    assert_eq!(row(&rows, "log_format").1, "default");
    let mut cmd = cli(home.path());
    cmd.env("CCXT_CONFIG", &named);
    let (rows, _) = show(cmd, &["--config", local.to_str().unwrap()]);
    assert_eq!(row(&rows, "log_format").0, "\"json\"");
    assert_eq!(row(&rows, "log_level").1, "default");

    // A missing named file is an error, not a silent fallback.
    let mut cmd = cli(home.path());
    cmd.env("CCXT_CONFIG", home.path().join("absent.toml"));
    let out = run_sync(cmd, &["catalog", "info", "--catalog", example]);
    assert_code(&out, 2, "missing CCXT_CONFIG");
    assert!(stderr(&out).contains("absent.toml"), "{}", stderr(&out));
}

// Item: flags a command ignores are not offered.
#[test]
fn catalog_is_offered_only_by_commands_that_use_it() {
    let home = tempfile::tempdir().unwrap();
    let help = |args: &[&str]| {
        let out = run_sync(cli(home.path()), &[args, &["--help"]].concat());
        assert_code(&out, 0, &args.join(" "));
        stdout(&out)
    };
    for args in [&["catalog", "demo"][..], &["daemon", "health"]] {
        let text = help(args);
        assert!(!text.contains("--catalog"), "{args:?}:\n{text}");
        assert!(text.contains("--config"), "{args:?}:\n{text}");
    }
    for args in [
        &["query"][..],
        &["fetch-oi"],
        &["fetch-funding"],
        &["stream-liquidations"],
        &["catalog", "info"],
        &["catalog", "compact"],
        &["daemon", "start"],
        &["daemon", "validate"],
        &["config", "show"],
    ] {
        let text = help(args);
        assert!(text.contains("--catalog"), "{args:?}:\n{text}");
    }
    let demo = home.path().join("demo");
    let out = run_sync(
        cli(home.path()),
        &["catalog", "demo", demo.to_str().unwrap(), "--catalog", "x"],
    );
    assert_code(&out, 2, "catalog demo --catalog");
    assert!(!demo.exists());
    let out = run_sync(cli(home.path()), &["daemon", "health", "--catalog", "x"]);
    assert_code(&out, 2, "daemon health --catalog");
}

// Item: `daemon start` without symbols or --all collects BTCUSDT-PERP and ETHUSDT-PERP on every
// venue, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_collects_the_default_symbols_when_none_are_given() {
    let home = tempfile::tempdir().unwrap();
    let out = run_sync(cli(home.path()), &["daemon", "validate"]);
    assert_code(&out, 0, "daemon validate without symbols");
    let text = stdout(&out);
    assert!(
        text.contains("no symbols given: collecting the defaults BTCUSDT-PERP and ETHUSDT-PERP"),
        "{text}"
    );
    for venue in ["binance ", "bybit ", "hyperliquid "] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(venue))
            .unwrap_or_else(|| panic!("{venue} missing:\n{text}"));
        assert!(line.contains("BTC") && line.contains("ETH"), "{line}");
    }

    // The first log line of `daemon start` says it too.
    let sim = sim().await;
    let mut cmd = cli_sim(&sim, home.path());
    cmd.env("CCXT_METRICS__ADDRESS", "off")
        .env("CCXT_CATALOG_PATH", home.path().join("catalog"))
        .arg("daemon")
        .arg("start")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let first = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stderr).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(
        first.contains("no symbols given: collecting the defaults BTCUSDT-PERP and ETHUSDT-PERP")
            && first.contains("binance, bybit, hyperliquid"),
        "first line: {first}"
    );
    sim.shutdown().await;
}

// Item: flags that only apply to history are refused without --from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_flags_without_from_are_refused_before_any_request() {
    let sim = sim().await;
    let home = tempfile::tempdir().unwrap();
    for args in [
        &["fetch-oi", "BTCUSDT-PERP", "--period", "5m"][..],
        &["fetch-oi", "BTCUSDT-PERP", "--to", "2025-01-02"],
        &["fetch-funding", "BTCUSDT-PERP", "--to", "2025-01-02"],
    ] {
        let out = run(cli_sim(&sim, home.path()), args).await;
        assert_code(&out, 2, &args.join(" "));
        assert!(stderr(&out).contains("--from"), "{}", stderr(&out));
        assert_untouched(&sim, &args.join(" "));
    }
    // With --from the period is used.
    let out = run(
        cli_sim(&sim, home.path()),
        &[
            "fetch-oi",
            "BTCUSDT-PERP",
            "-e",
            "bybit",
            "--period",
            "4h",
            "--from",
            "2025-01-02",
            "--to",
            "2025-01-02T12:00:00Z",
            "--format",
            "json",
        ],
    )
    .await;
    assert_code(&out, 0, "fetch-oi --period 4h --from");
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let times: Vec<u64> = rows
        .iter()
        .map(|r| r["ts_event"].as_u64().unwrap())
        .collect();
    assert!(times.len() >= 2, "{rows:?}");
    let four_hours = 4 * 3600 * 1_000_000_000;
    assert!(
        times.windows(2).all(|w| w[1] - w[0] == four_hours),
        "4h buckets: {times:?}"
    );
    sim.shutdown().await;
}

// Item: a catalog path that is a plain file is one message and exit 2 for every command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_path_that_is_a_file_is_one_usage_error_everywhere() {
    let sim = sim().await;
    let home = tempfile::tempdir().unwrap();
    let file = write(home.path(), "not-a-dir", "x");
    let path = file.to_str().unwrap();
    let commands: Vec<Vec<&str>> = vec![
        vec!["fetch-funding", "BTCUSDT-PERP", "-e", "bybit", "--store"],
        vec![
            "stream-liquidations",
            "BTCUSDT-PERP",
            "--store",
            "--duration",
            "1s",
        ],
        vec!["query", "oi", "BTCUSDT-PERP"],
        vec!["catalog", "info"],
        vec!["catalog", "compact"],
        vec!["daemon", "start", "-s", "BTCUSDT-PERP"],
    ];
    for args in commands {
        let mut cmd = cli_sim(&sim, home.path());
        cmd.env("CCXT_METRICS__ADDRESS", "off");
        let out = run(cmd, &[&args[..], &["--catalog", path]].concat()).await;
        let what = args.join(" ");
        assert_code(&out, 2, &what);
        assert!(
            stderr(&out).contains("it is a file, not a directory"),
            "{what}: {}",
            stderr(&out)
        );
        assert!(
            !stderr(&out).contains("os error"),
            "{what}: {}",
            stderr(&out)
        );
    }
    let out = run(cli(home.path()), &["catalog", "demo", path]).await;
    assert_code(&out, 2, "catalog demo");
    assert!(
        stderr(&out).contains("it is a file, not a directory"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
    sim.shutdown().await;
}
