//! Settings from the config file and the environment, and the choices made from them.
//!
//! Precedence, highest first: command-line flags, `CCXT_*` environment variables (the `config`
//! crate with prefix `CCXT` and separator `__`, e.g. `CCXT_CATALOG_PATH`), the config file
//! (`--config FILE` or `$CCXT_CONFIG`), built-in defaults. `config/default.toml` documents every key.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::UsageError;
use crate::cli::{GlobalArgs, LogFormat};

/// The catalog used when nothing else names one.
pub const DEFAULT_CATALOG: &str = "./catalog";

/// Keys of the config file that this version reads. Keys for later features are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FileSettings {
    /// Catalog root directory.
    pub catalog_path: Option<String>,
    /// Log level.
    pub log_level: Option<String>,
    /// Per-venue connection settings.
    pub venues: VenuesSettings,
    /// The write-ahead spool of streamed rows.
    pub spool: SpoolSettings,
    /// Log format: `human` or `json`.
    pub log_format: Option<String>,
    /// `[daemon]`: what the daemon collects and when.
    pub daemon: ccxt_daemon::DaemonSettings,
    /// `[metrics]`: the health and metrics endpoint.
    pub metrics: ccxt_daemon::MetricsSettings,
}

/// `[spool]`: how streamed rows reach the catalog.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct SpoolSettings {
    /// fsync the spool this often, milliseconds (a kill -9 loses at most this window).
    pub sync_millis: Option<u64>,
    /// Move the spool into the catalog after this many rows...
    pub flush_rows: Option<usize>,
    /// ...or after this many seconds, whichever comes first.
    pub flush_secs: Option<f64>,
}

/// `[venues.binance]`, `[venues.bybit]`, `[venues.hyperliquid]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VenuesSettings {
    /// Binance USD-M.
    pub binance: VenueSettings,
    /// Bybit linear.
    pub bybit: VenueSettings,
    /// Hyperliquid.
    pub hyperliquid: VenueSettings,
}

impl VenuesSettings {
    /// The settings of `venue`.
    pub fn get(&self, venue: ccxt_model::Venue) -> &VenueSettings {
        match venue {
            ccxt_model::Venue::Binance => &self.binance,
            ccxt_model::Venue::Bybit => &self.bybit,
            ccxt_model::Venue::Hyperliquid => &self.hyperliquid,
        }
    }
}

/// How to reach one venue; unset keys take the defaults in `config/default.toml`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct VenueSettings {
    /// REST root (the simulator: `http://127.0.0.1:9100`).
    pub rest_url: Option<String>,
    /// WebSocket root (used by streaming, a later release).
    pub ws_url: Option<String>,
    /// Timeout of one request, seconds.
    pub timeout_secs: Option<f64>,
    /// Share of the venue's rate budget to use, in (0, 1].
    pub budget_fraction: Option<f64>,
    /// `false` turns our rate limiting off: only for the simulator with `--no-limits`.
    pub rate_limits: Option<bool>,
    /// Retries of transient failures.
    pub max_retries: Option<usize>,
    /// How long to pause after an IP ban (Bybit 403), seconds.
    pub ban_wait_secs: Option<f64>,
    /// The longest wait a venue may ask for before a request gives up, seconds.
    pub max_wait_secs: Option<f64>,
    /// Planned WebSocket rotation, seconds (Binance closes connections after 24 h).
    pub ws_rotate_secs: Option<f64>,
    /// Hyperliquid: the liquidator vault addresses whose fills are polled.
    pub liquidators: Option<Vec<String>>,
    /// Hyperliquid: seconds between polls of the liquidator fills.
    pub poll_interval_secs: Option<f64>,
}

/// Loads the config file (if any) overlaid with `CCXT_*` environment variables.
pub fn load(config: Option<&Path>) -> Result<FileSettings, UsageError> {
    let config = config
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("CCXT_CONFIG").map(PathBuf::from));
    let mut builder = config::Config::builder();
    if let Some(path) = &config {
        if !path.is_file() {
            return Err(UsageError(format!(
                "config file '{}' does not exist (given by --config or CCXT_CONFIG)",
                path.display()
            )));
        }
        builder =
            builder.add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml));
    }
    builder = builder.add_source(
        config::Environment::with_prefix("CCXT")
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("daemon.symbols")
            .with_list_parse_key("daemon.venues")
            .with_list_parse_key("venues.hyperliquid.liquidators"),
    );
    let built = builder
        .build()
        .map_err(|e| UsageError(format!("invalid configuration: {e}")))?;
    built
        .try_deserialize()
        .map_err(|e| UsageError(format!("invalid configuration: {e}")))
}

/// Keys of the config file this version does not know (typos, or keys of another version), as
/// `section.key` paths. `[daemon]` and `[metrics]` refuse unknown keys when they are read; this
/// covers the rest, for `daemon validate` and `daemon start`.
pub fn unknown_keys(config: Option<&Path>) -> Vec<String> {
    let Some(path) = config
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("CCXT_CONFIG").map(PathBuf::from))
    else {
        return Vec::new();
    };
    let Ok(value) = config::Config::builder()
        .add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml))
        .build()
        .and_then(|c| c.try_deserialize::<serde_json::Value>())
    else {
        return Vec::new(); // load() reports an unreadable file
    };
    const TOP: &[&str] = &[
        "catalog_path",
        "log_level",
        "log_format",
        "venues",
        "spool",
        "daemon",
        "metrics",
    ];
    const VENUE: &[&str] = &[
        "rest_url",
        "ws_url",
        "timeout_secs",
        "budget_fraction",
        "rate_limits",
        "max_retries",
        "ban_wait_secs",
        "max_wait_secs",
        "ws_rotate_secs",
        "liquidators",
        "poll_interval_secs",
    ];
    const SPOOL: &[&str] = &["sync_millis", "flush_rows", "flush_secs"];
    let mut unknown = Vec::new();
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    for key in keys(&value) {
        if !TOP.contains(&key.as_str()) {
            unknown.push(key.clone());
        }
    }
    for key in keys(&value["spool"]) {
        if !SPOOL.contains(&key.as_str()) {
            unknown.push(format!("spool.{key}"));
        }
    }
    for venue in keys(&value["venues"]) {
        if !["binance", "bybit", "hyperliquid"].contains(&venue.as_str()) {
            unknown.push(format!("venues.{venue}"));
            continue;
        }
        for key in keys(&value["venues"][&venue]) {
            if !VENUE.contains(&key.as_str()) {
                unknown.push(format!("venues.{venue}.{key}"));
            }
        }
    }
    unknown
        .into_iter()
        .map(|k| {
            format!(
                "unknown key '{k}' in '{}' (config/default.toml lists every key)",
                path.display()
            )
        })
        .collect()
}

/// The catalog location: `--catalog`, then `CCXT_CATALOG_PATH`/the config file, then `./catalog`.
pub fn catalog_location(global: &GlobalArgs, file: &FileSettings) -> String {
    global
        .catalog
        .clone()
        .or_else(|| file.catalog_path.clone())
        .unwrap_or_else(|| DEFAULT_CATALOG.to_string())
}

/// Starts logging to stderr: `--log-level`, then `CCXT_LOG_LEVEL`, then `RUST_LOG`, then
/// `default_level` (`warn` for commands, `info` for the daemon).
pub fn init_logging(
    global: &GlobalArgs,
    file: &FileSettings,
    default_level: &str,
) -> Result<(), UsageError> {
    use tracing_subscriber::EnvFilter;
    let directive = global
        .log_level
        .clone()
        .or_else(|| file.log_level.clone())
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| default_level.to_string());
    let filter = EnvFilter::try_new(&directive).map_err(|_| {
        UsageError(format!(
            "invalid log level '{directive}': use error, warn, info, debug or trace"
        ))
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(crate::terminal::log_ansi_now())
        .with_target(false);
    let format = match (global.log_format, file.log_format.as_deref()) {
        (Some(format), _) => format,
        (None, None) => LogFormat::Human,
        (None, Some(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "human" => LogFormat::Human,
            "json" => LogFormat::Json,
            _ => {
                return Err(UsageError(format!(
                    "invalid log_format '{text}' (config file or CCXT_LOG_FORMAT): use human or json"
                )));
            }
        },
    };
    match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    }
    .map_err(|e| UsageError(format!("cannot start logging: {e}")))
}
