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
            .separator("__"),
    );
    let built = builder
        .build()
        .map_err(|e| UsageError(format!("invalid configuration: {e}")))?;
    built
        .try_deserialize()
        .map_err(|e| UsageError(format!("invalid configuration: {e}")))
}

/// The catalog location: `--catalog`, then `CCXT_CATALOG_PATH`/the config file, then `./catalog`.
pub fn catalog_location(global: &GlobalArgs, file: &FileSettings) -> String {
    global
        .catalog
        .clone()
        .or_else(|| file.catalog_path.clone())
        .unwrap_or_else(|| DEFAULT_CATALOG.to_string())
}

/// Starts logging to stderr: `--log-level`, then `CCXT_LOG_LEVEL`, then `RUST_LOG`, then `warn`.
pub fn init_logging(global: &GlobalArgs, file: &FileSettings) -> Result<(), UsageError> {
    use tracing_subscriber::EnvFilter;
    let directive = global
        .log_level
        .clone()
        .or_else(|| file.log_level.clone())
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "warn".to_string());
    let filter = EnvFilter::try_new(&directive).map_err(|_| {
        UsageError(format!(
            "invalid log level '{directive}': use error, warn, info, debug or trace"
        ))
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    match global.log_format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    }
    .map_err(|e| UsageError(format!("cannot start logging: {e}")))
}
