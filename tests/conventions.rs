//! CLI conventions, end to end: shell completions, man pages, `--version` with the commit,
//! colour and table width by terminal (`NO_COLOR`; piped tables never wrap), CSV and durations.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../catalog.example")
}

fn bin() -> PathBuf {
    PathBuf::from(assert_cmd::cargo::cargo_bin!("ccxt-cli"))
}

/// The binary with a clean environment (no CCXT_*, RUST_LOG, NO_COLOR or COLUMNS from the caller).
fn cli() -> Command {
    let mut cmd = Command::new(bin());
    for (key, _) in std::env::vars() {
        if key.starts_with("CCXT_") || ["RUST_LOG", "NO_COLOR", "COLUMNS"].contains(&key.as_str()) {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn stdout_of(args: &[&str]) -> String {
    let out = cli().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

// --- completions -------------------------------------------------------------------------

#[test]
fn completions_for_every_shell_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let script = stdout_of(&["completions", shell]);
        assert!(script.len() > 1000, "{shell}: {} bytes", script.len());
        for word in [
            "ccxt-cli",
            "stream-liquidations",
            "fetch-oi",
            "query",
            "daemon",
        ] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    // Flags and their values complete too.
    let bash = stdout_of(&["completions", "bash"]);
    assert!(bash.contains("--catalog") && bash.contains("hyperliquid"));
}

#[test]
fn completions_need_no_configuration() {
    // Generated at install time: a broken config in the environment does not matter.
    let out = cli()
        .args(["completions", "bash"])
        .env("CCXT_CONFIG", "/nonexistent/config.toml")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_unknown_shell_is_a_usage_error_naming_the_valid_ones() {
    let out = cli().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("'tcsh'"), "{stderr}");
    for shell in ["bash", "zsh", "fish", "powershell"] {
        assert!(stderr.contains(shell), "{stderr}");
    }
    assert!(out.stdout.is_empty());
}

// --- man pages ---------------------------------------------------------------------------

/// The first roff request after the `Aq` string definition clap_mangen starts with.
fn first_request(page: &str) -> &str {
    page.lines()
        .find(|l| !l.starts_with(".ie") && !l.starts_with(".el") && !l.starts_with(".\\\""))
        .unwrap_or("")
}

/// `groff -man` warnings about the page, if groff is installed.
fn groff_warnings(page: &[u8]) -> Option<String> {
    use std::io::Write;
    let mut child = StdCommand::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take().unwrap().write_all(page).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    Some(String::from_utf8(out.stderr).unwrap())
}

#[test]
fn the_man_page_is_roff_with_every_command() {
    let page = stdout_of(&["man"]);
    let th = first_request(&page);
    assert!(th.starts_with(".TH ccxt-cli 1 "), "{th}");
    assert!(
        th.contains(env!("CLI_BUILD_COMMIT")),
        "the page names the build: {th}"
    );
    for section in [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH DESCRIPTION",
        ".SH OPTIONS",
        ".SH SUBCOMMANDS",
    ] {
        assert!(page.contains(section), "{section} missing");
    }
    for command in ["stream\\-liquidations", "fetch\\-oi", "completions"] {
        assert!(page.contains(command), "{command} missing");
    }
    if let Some(warnings) = groff_warnings(page.as_bytes()) {
        assert_eq!(warnings, "", "groff warns about the page");
    }
    let start = stdout_of(&["man", "daemon", "start"]);
    assert!(first_request(&start).starts_with(".TH ccxt-cli-daemon-start 1 "));
    assert!(start.contains("\\-\\-oi\\-interval"));
}

// The venue paragraphs of the help are built from the registry, and the man pages show them
// as `--help` does.
#[test]
fn help_and_man_pages_describe_every_registry_venue() {
    let help = stdout_of(&["fetch-bars", "--help"]);
    let man = stdout_of(&["man", "fetch-bars"]);
    let root_help = stdout_of(&["--help"]);
    let root_man = stdout_of(&["man"]);
    let flat = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    for descriptor in ccxt_registry::REGISTRY {
        let name = descriptor.venue().to_string();
        let row = format!("  {name} ");
        assert!(
            help.lines()
                .any(|l| l.starts_with(&row) && l.contains(", last")),
            "no interval row for {name}:\n{help}"
        );
        assert!(
            man.lines()
                .any(|l| l.starts_with(&row) && l.contains(", last")),
            "no interval row for {name} in the man page:\n{man}"
        );
        let title = descriptor.title();
        assert!(flat(&root_help).contains(title), "{title}:\n{root_help}");
        assert!(
            flat(&root_man).contains(&title.replace('-', "\\-")),
            "{title}:\n{root_man}"
        );
    }
}

#[test]
fn man_out_writes_one_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("man1");
    let out = cli().args(["man", "--out"]).arg(&target).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut pages: Vec<String> = std::fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    pages.sort();
    for page in [
        "ccxt-cli.1",
        "ccxt-cli-query.1",
        "ccxt-cli-stream-liquidations.1",
        "ccxt-cli-catalog-compact.1",
        "ccxt-cli-daemon-start.1",
        "ccxt-cli-completions.1",
        "ccxt-cli-man.1",
    ] {
        assert!(pages.contains(&page.to_string()), "{page} not in {pages:?}");
    }
    assert!(!pages.iter().any(|p| p.contains("help")), "{pages:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!("wrote {} man pages", pages.len())),
        "{stderr}"
    );
    for page in &pages {
        let text = std::fs::read_to_string(target.join(page)).unwrap();
        assert!(first_request(&text).starts_with(".TH "), "{page}");
    }
}

#[test]
fn an_unknown_man_page_is_a_usage_error() {
    let out = cli().args(["man", "daemon", "stop"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr.trim_end(),
        "error: 'ccxt-cli daemon' has no subcommand 'stop': use one of start, validate, health"
    );
}

// --- version -----------------------------------------------------------------------------

#[test]
fn version_names_the_commit_it_was_built_from() {
    let version = stdout_of(&["--version"]);
    let commit = env!("CLI_BUILD_COMMIT");
    assert_eq!(
        version.trim_end(),
        format!("ccxt-cli {} (commit {commit})", env!("CARGO_PKG_VERSION"))
    );
    // Subcommands report the same.
    assert_eq!(
        stdout_of(&["query", "--version"]),
        version.replace("ccxt-cli", "ccxt-cli-query")
    );
    match env!("CLI_BUILD_COMMIT_SOURCE") {
        "git" => {
            let hash = commit.trim_end_matches("-dirty");
            assert!(
                hash.len() >= 7 && hash.chars().all(|c| c.is_ascii_hexdigit()),
                "{commit}"
            );
            // The hash is HEAD's (the build script reruns when HEAD moves).
            let head = StdCommand::new("git")
                .args(["rev-parse", "HEAD"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .unwrap();
            let head = String::from_utf8(head.stdout).unwrap();
            assert!(head.starts_with(hash), "built from {hash}, HEAD is {head}");
        }
        "env" => assert!(!commit.is_empty()),
        source => assert_eq!((source, commit), ("unknown", "unknown")),
    }
}

// --- tables and colour by terminal -------------------------------------------------------

/// Runs `args` in a pseudo-terminal of `cols` columns (util-linux `script`), with `env`;
/// `None` when `script` is not available.
fn in_terminal(cols: u16, env: &[(&str, &str)], args: &[&str]) -> Option<String> {
    let quoted: Vec<String> = std::iter::once(bin().display().to_string())
        .chain(args.iter().map(|a| a.to_string()))
        .map(|a| format!("'{a}'"))
        .collect();
    let shell = format!("stty cols {cols} rows 50; exec {}", quoted.join(" "));
    let mut cmd = StdCommand::new("script");
    cmd.args(["-qec", &shell, "/dev/null"]);
    for (key, _) in std::env::vars() {
        if key.starts_with("CCXT_") || ["RUST_LOG", "NO_COLOR", "COLUMNS"].contains(&key.as_str()) {
            cmd.env_remove(key);
        }
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    Some(String::from_utf8(out.stdout).unwrap().replace("\r\n", "\n"))
}

fn query_args(catalog: &Path) -> Vec<String> {
    [
        "query",
        "liquidations",
        "BTCUSDT-PERP",
        "-n",
        "4",
        "--catalog",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([catalog.display().to_string()])
    .collect()
}

#[test]
fn a_piped_table_is_never_wrapped_whatever_columns_says() {
    let args = query_args(&example());
    let out = cli().args(&args).env("COLUMNS", "40").output().unwrap();
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    // Border, header, separator, 4 rows, border: one line per row, wider than 40.
    assert_eq!(table.lines().count(), 8, "{table}");
    assert!(table.lines().all(|l| l.chars().count() > 100), "{table}");
    assert!(table.contains("2025-01-03T"), "{table}");
}

#[test]
fn a_table_on_a_terminal_fits_its_width() {
    let args = query_args(&example());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let Some(out) = in_terminal(72, &[], &args) else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    let lines: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    assert!(lines.len() > 8, "cells wrapped:\n{out}");
    for line in &lines {
        assert!(
            line.chars().count() <= 72,
            "wider than the terminal: {line}"
        );
    }
    // Numbers are never split across lines: each one of the rows appears whole.
    let csv_args: Vec<&str> = args.iter().copied().chain(["--format", "csv"]).collect();
    let text = stdout_of(&csv_args);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let numeric =
        ["quantity", "price", "value"].map(|name| header.iter().position(|h| h == name).unwrap());
    for record in reader.records() {
        let record = record.unwrap();
        for i in numeric {
            assert!(out.contains(&record[i]), "{} split:\n{out}", &record[i]);
        }
    }
}

#[test]
fn logs_are_coloured_on_a_terminal_unless_no_color_is_set() {
    let args = query_args(&example());
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.splice(0..0, ["--log-level", "debug"]);
    let Some(coloured) = in_terminal(200, &[], &args) else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    assert!(coloured.contains("DEBUG"), "{coloured}");
    assert!(
        coloured.contains("\x1b["),
        "colour on a terminal: {coloured:?}"
    );

    let plain = in_terminal(200, &[("NO_COLOR", "1")], &args).unwrap();
    assert!(plain.contains("DEBUG"), "{plain}");
    assert!(
        !plain.contains('\x1b'),
        "NO_COLOR=1 means no escape codes: {plain:?}"
    );

    // An empty NO_COLOR does not disable colour (no-color.org).
    let empty = in_terminal(200, &[("NO_COLOR", "")], &args).unwrap();
    assert!(empty.contains("\x1b["), "{empty:?}");

    // Into a pipe: never colour.
    let out = cli().args(&args).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("DEBUG") && !stderr.contains('\x1b'),
        "{stderr:?}"
    );
}

// --- CSV and durations -------------------------------------------------------------------

#[test]
fn csv_output_reads_back_with_a_csv_reader() {
    let text = stdout_of(&[
        "query",
        "liquidations",
        "BTCUSDT-PERP",
        "--format",
        "csv",
        "--catalog",
        example().to_str().unwrap(),
    ]);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    assert_eq!(&header[0], "timestamp");
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), text.lines().count() - 1);
    assert!(records.iter().all(|r| r.len() == header.len()));
}

#[test]
fn a_bad_duration_is_one_line_naming_valid_examples_exit_2() {
    for bad in ["90", "15x", "0s", "soon"] {
        // Nothing may leave loopback even if the duration were accepted: port 9 is closed.
        let mut cmd = cli();
        for venue in ["BINANCE", "BYBIT", "HYPERLIQUID", "OKX"] {
            cmd.env(
                format!("CCXT_VENUES__{venue}__REST_URL"),
                "http://127.0.0.1:9",
            )
            .env(format!("CCXT_VENUES__{venue}__WS_URL"), "ws://127.0.0.1:9");
        }
        let out = cmd
            .args(["stream-liquidations", "BTCUSDT-PERP", "--duration", bad])
            .timeout(std::time::Duration::from_secs(30))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        let first = stderr.lines().next().unwrap();
        assert!(
            first.starts_with("error: invalid value")
                && first.contains(&format!("'{bad}'"))
                && first.contains("e.g. 90s, 15m, 2h, 1d or 1h30m"),
            "{bad}: {stderr}"
        );
    }
}
