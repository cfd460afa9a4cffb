//! Settings from the config file and the environment, and the choices made from them.
//!
//! Precedence, highest first: command-line flags, `CCXT_*` environment variables (prefix `CCXT_`,
//! nested keys joined with `__`, e.g. `CCXT_VENUES__BINANCE__REST_URL`), the config file, built-in
//! defaults. The config file is `--config FILE`, else `$CCXT_CONFIG`, else the first that exists of
//! `./ccxt-pipeline.toml`, `$XDG_CONFIG_HOME/ccxt-pipeline/config.toml` (`~/.config/…` when
//! `XDG_CONFIG_HOME` is unset) and `/etc/ccxt-pipeline/config.toml`. `config/default.toml`
//! documents every key.
//!
//! Loading is raw -> checked: the file and the environment become one tree of values, each with
//! its [`Source`]; the tree is deserialized into [`FileSettings`] with every unknown key (derived
//! from the serde structs, not a list) and every value of the wrong type collected; then
//! [`check`] runs every validator the commands use, so a command refuses a bad file before it
//! sends a single request, listing every problem at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::cli::{GlobalArgs, LogFormat};

/// The catalog used when nothing else names one.
pub const DEFAULT_CATALOG: &str = "./catalog";

/// The documented defaults, shown by `config show` as the `default` layer. A unit test checks
/// that they are what the code uses when a key is not set.
pub const DEFAULTS_TOML: &str = include_str!("../../../config/default.toml");

/// `CCXT_*` environment variables that are not config keys: the config file's path, and the
/// switch of the allocator settings (read before any config is).
const NOT_KEYS: &[&str] = &["CCXT_CONFIG", crate::malloc::SWITCH];

/// Keys of the config file. Unknown keys are problems (see [`load`]).
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
    /// `[storage]`: how an object-store catalog (`s3://…`) is reached.
    pub storage: StorageSettings,
}

/// `[storage]`: the object store behind an `s3://`, `gs://` or `az://` catalog. Credentials are
/// never set here: they come from the provider's standard chain (environment, profile,
/// instance role) and are never logged.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct StorageSettings {
    /// An S3-compatible endpoint instead of AWS (MinIO, R2, Ceph): `https://host:port`.
    pub endpoint: Option<String>,
    /// The bucket's region (S3), e.g. `eu-central-1`.
    pub region: Option<String>,
    /// Allow plain `http://` (implied by an `http://` endpoint; for `AWS_ENDPOINT_URL`).
    pub allow_http: Option<bool>,
}

/// [`StorageSettings`], checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageConfig {
    /// The endpoint, if not the provider's own.
    pub endpoint: Option<String>,
    /// The region, if set.
    pub region: Option<String>,
    /// Whether `http://` is allowed.
    pub allow_http: bool,
}

impl StorageConfig {
    /// The catalog's storage options (credentials stay with the provider's chain).
    pub fn options(&self) -> ccxt_catalog::StorageOptions {
        ccxt_catalog::StorageOptions {
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            allow_http: self.allow_http,
            ..ccxt_catalog::StorageOptions::default()
        }
    }
}

impl FileSettings {
    /// The storage options every command opens the catalog with (problems with `[storage]`
    /// are reported by [`check`] before any command runs).
    pub fn storage_options(&self) -> ccxt_catalog::StorageOptions {
        self.storage
            .validate()
            .map(|c| c.options())
            .unwrap_or_default()
    }
}

impl StorageSettings {
    /// The checked settings, or every problem.
    pub fn validate(&self) -> Result<StorageConfig, Vec<String>> {
        let mut problems = Vec::new();
        let allow_http = self.allow_http.unwrap_or(false);
        let endpoint = self
            .endpoint
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty());
        if let Some(endpoint) = endpoint {
            match reqwest::Url::parse(endpoint) {
                // A plain http:// endpoint allows http by itself (a local server).
                Ok(url) if matches!(url.scheme(), "https" | "http") && url.host().is_some() => {}
                _ => problems.push(format!(
                    "storage.endpoint must be http(s)://HOST[:PORT], got '{}'",
                    ccxt_transport::redact_url(endpoint)
                )),
            }
        }
        let region = self
            .region
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if let Some(region) = region
            && !region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            problems.push(format!(
                "storage.region must be a region name such as eu-central-1, got '{region}'"
            ));
        }
        if problems.is_empty() {
            Ok(StorageConfig {
                endpoint: endpoint.map(str::to_string),
                region: region.map(str::to_string),
                allow_http,
            })
        } else {
            Err(problems)
        }
    }
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
    /// The spool's local directory (also the state files'): default `<catalog>/.spool` for a
    /// local catalog, `$XDG_STATE_HOME/ccxt-pipeline/<catalog>` for an object store.
    pub dir: Option<PathBuf>,
    /// The most bytes the spool holds while the catalog cannot be written; beyond it rows wait
    /// in memory (then are dropped, with an error).
    pub max_bytes: Option<u64>,
    /// The daemon leaves a dataset's rows in the spool while it has fewer than `hold_rows`
    /// waiting, for at most this many seconds (0: every flush writes everything).
    pub hold_secs: Option<u64>,
    /// Datasets with at least this many rows waiting are written at every flush.
    pub hold_rows: Option<usize>,
}

impl SpoolSettings {
    /// The validated hold policy (`None` when `hold_secs` is 0), or every problem.
    fn hold(
        &self,
        default: ccxt_daemon::HoldPolicy,
    ) -> Result<Option<ccxt_daemon::HoldPolicy>, Vec<String>> {
        let mut problems = Vec::new();
        let mut hold = default;
        if let Some(secs) = self.hold_secs {
            if secs <= 86_400 {
                hold.max_age = std::time::Duration::from_secs(secs);
            } else {
                problems.push(format!(
                    "spool.hold_secs must be between 0 (off) and 86400 seconds, got {secs}"
                ));
            }
        }
        if let Some(rows) = self.hold_rows {
            if rows >= 1 {
                hold.below_rows = rows;
            } else {
                problems.push("spool.hold_rows must be at least 1".into());
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok((!hold.max_age.is_zero()).then_some(hold))
    }

    /// The validated flush policy, or every problem.
    pub fn policy(&self) -> Result<ccxt_daemon::FlushPolicy, Vec<String>> {
        let mut problems = Vec::new();
        let mut policy = ccxt_daemon::FlushPolicy::default();
        if let Some(ms) = self.sync_millis {
            if (10..=60_000).contains(&ms) {
                policy.sync_every = std::time::Duration::from_millis(ms);
            } else {
                problems.push(format!(
                    "spool.sync_millis must be between 10 and 60000, got {ms}"
                ));
            }
        }
        if let Some(rows) = self.flush_rows {
            if rows >= 1 {
                policy.flush_rows = rows;
            } else {
                problems.push("spool.flush_rows must be at least 1".into());
            }
        }
        if let Some(secs) = self.flush_secs {
            if secs.is_finite() && (0.1..=86_400.0).contains(&secs) {
                policy.flush_every = std::time::Duration::from_secs_f64(secs);
            } else {
                problems.push(format!(
                    "spool.flush_secs must be between 0.1 and 86400 seconds, got {secs}"
                ));
            }
        }
        if let Some(bytes) = self.max_bytes {
            if (1..=MAX_SPOOL_BYTES).contains(&bytes) {
                policy.max_bytes = bytes;
            } else {
                problems.push(format!(
                    "spool.max_bytes must be between 1 and {MAX_SPOOL_BYTES} bytes, got {bytes}"
                ));
            }
        }
        if let Some(dir) = &self.dir
            && dir.as_os_str().is_empty()
        {
            problems.push("spool.dir must name a directory, got ''".into());
        }
        match self.hold(policy.hold.unwrap_or_default()) {
            Ok(hold) => policy.hold = hold,
            Err(mut more) => problems.append(&mut more),
        }
        if problems.is_empty() {
            Ok(policy)
        } else {
            Err(problems)
        }
    }
}

/// The largest `spool.max_bytes` (1 PiB).
const MAX_SPOOL_BYTES: u64 = 1 << 50;

/// `[venues.<name>]`: one section per venue of the registry ([`crate::registry::REGISTRY`]);
/// a section of any other name is an unknown key.
#[derive(Debug, Default)]
pub struct VenuesSettings(BTreeMap<ccxt_model::Venue, VenueSettings>);

impl VenuesSettings {
    /// The settings of `venue` (all unset when it has no section).
    pub fn get(&self, venue: ccxt_model::Venue) -> &VenueSettings {
        static UNSET: VenueSettings = VenueSettings::UNSET;
        self.0.get(&venue).unwrap_or(&UNSET)
    }
}

impl<'de> Deserialize<'de> for VenuesSettings {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Sections;
        impl<'de> serde::de::Visitor<'de> for Sections {
            type Value = VenuesSettings;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a table with one table per venue")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<VenuesSettings, A::Error> {
                let mut sections = BTreeMap::new();
                while let Some(name) = map.next_key::<String>()? {
                    let known = crate::registry::REGISTRY
                        .iter()
                        .map(|d| d.venue())
                        .find(|v| v.as_str() == name);
                    match known {
                        Some(venue) => {
                            sections.insert(venue, map.next_value::<VenueSettings>()?);
                        }
                        // Reported as an unknown key by the loader.
                        None => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(VenuesSettings(sections))
            }
        }
        deserializer.deserialize_map(Sections)
    }
}

/// How to reach one venue; unset keys take the defaults in `config/default.toml`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct VenueSettings {
    /// REST root (the simulator: `http://127.0.0.1:9100`).
    pub rest_url: Option<String>,
    /// WebSocket root.
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
    /// Hyperliquid: the liquidator vault addresses whose fills are polled (a list, or one
    /// comma-separated string as the environment gives it).
    #[serde(deserialize_with = "ccxt_daemon::config::optional_string_list")]
    pub liquidators: Option<Vec<String>>,
    /// Hyperliquid: seconds between polls of the liquidator fills.
    pub poll_interval_secs: Option<f64>,
}

impl VenueSettings {
    /// Every key unset.
    pub const UNSET: VenueSettings = VenueSettings {
        rest_url: None,
        ws_url: None,
        timeout_secs: None,
        budget_fraction: None,
        rate_limits: None,
        max_retries: None,
        ban_wait_secs: None,
        max_wait_secs: None,
        ws_rotate_secs: None,
        liquidators: None,
        poll_interval_secs: None,
    };
}

/// Where a setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The built-in default (as documented in `config/default.toml`).
    Default,
    /// The config file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(&'static str),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(var) => write!(f, "env {var}"),
            Source::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// The config file in use and how it was found.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// Its path.
    pub path: PathBuf,
    /// `--config`, `CCXT_CONFIG` or `search path`.
    pub found_by: &'static str,
}

/// Values by dotted key (`venues.binance.rest_url`), each with where it came from. Tables are
/// not values: only their leaves (scalars and arrays) are.
type Leaves = BTreeMap<String, (Value, Source)>;

/// The settings as loaded, with every problem found while reading them.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The settings (keys with problems are left at their defaults).
    pub settings: FileSettings,
    /// The config file, if one was used.
    pub file: Option<ConfigFile>,
    /// Unreadable file, unknown keys, values of the wrong type.
    pub problems: Vec<String>,
    /// Every value set by the file or the environment.
    leaves: Leaves,
}

impl Loaded {
    /// Every effective value: the documented defaults overlaid with the file, the environment
    /// and the flags, sorted by key, with its source.
    pub fn effective(&self, global: &GlobalArgs, catalog_flag: Option<&str>) -> Leaves {
        let mut leaves = Leaves::new();
        if let Ok(defaults) = DEFAULTS_TOML.parse::<toml::Table>()
            && let Ok(Value::Object(map)) = serde_json::to_value(defaults)
        {
            flatten("", &Value::Object(map), &Source::Default, &mut leaves);
        }
        for (key, (value, source)) in &self.leaves {
            overlay(&mut leaves, key, value.clone(), source.clone());
        }
        let flags = [
            (
                "catalog_path",
                "--catalog",
                catalog_flag.map(str::to_string),
            ),
            ("log_level", "--log-level", global.log_level.clone()),
            (
                "log_format",
                "--log-format",
                global.log_format.map(|f| match f {
                    LogFormat::Human => "human".to_string(),
                    LogFormat::Json => "json".to_string(),
                }),
            ),
        ];
        let spool_dir = (
            "spool.dir",
            "--spool-dir",
            global.spool_dir.as_ref().map(|d| d.display().to_string()),
        );
        for (key, flag, value) in flags.into_iter().chain([spool_dir]) {
            if let Some(value) = value {
                overlay(&mut leaves, key, Value::String(value), Source::Flag(flag));
            }
        }
        leaves
    }

    /// Where the value at `key` came from, if the file or the environment set it.
    fn source_of(&self, key: &str) -> Option<&Source> {
        self.leaves.get(key).map(|(_, s)| s).or_else(|| {
            // A table key: its first leaf tells.
            let prefix = format!("{key}.");
            self.leaves
                .range(prefix.clone()..)
                .next()
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|(_, (_, s))| s)
        })
    }

    /// " (in 'FILE')" or " (from CCXT_VAR)" for a problem at `key`.
    fn origin(&self, key: &str) -> String {
        match self.source_of(key) {
            Some(Source::File(path)) => format!(" in '{}'", path.display()),
            Some(Source::Env(var)) => format!(" from {var}"),
            _ => String::new(),
        }
    }
}

/// Finds the config file: `--config`, then `$CCXT_CONFIG` (both must exist), then the first of
/// [`search_path`] that exists.
pub fn find_config(flag: Option<&Path>) -> Result<Option<ConfigFile>, String> {
    let given = match (flag, std::env::var_os("CCXT_CONFIG")) {
        (Some(path), _) => Some((path.to_path_buf(), "--config")),
        (None, Some(path)) if !path.is_empty() => Some((PathBuf::from(path), "CCXT_CONFIG")),
        _ => None,
    };
    if let Some((path, found_by)) = given {
        if !path.is_file() {
            let what = if path.exists() {
                "is not a regular file"
            } else {
                "does not exist"
            };
            return Err(format!(
                "config file '{}' {what} (given by {found_by})",
                path.display()
            ));
        }
        return Ok(Some(ConfigFile { path, found_by }));
    }
    Ok(search_path()
        .into_iter()
        .find(|p| p.is_file())
        .map(|path| ConfigFile {
            path: std::path::absolute(&path).unwrap_or(path),
            found_by: "search path",
        }))
}

/// Where a config file is looked for when neither `--config` nor `CCXT_CONFIG` names one.
pub fn search_path() -> Vec<PathBuf> {
    let mut paths = vec![PathBuf::from("ccxt-pipeline.toml")];
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        });
    if let Some(dir) = xdg {
        paths.push(dir.join("ccxt-pipeline").join("config.toml"));
    }
    paths.push(PathBuf::from("/etc/ccxt-pipeline/config.toml"));
    paths
}

/// Loads the config file (if any) overlaid with the `CCXT_*` environment. Never fails: what is
/// wrong is in [`Loaded::problems`], every problem at once.
pub fn load(flag: Option<&Path>) -> Loaded {
    let mut loaded = Loaded::default();
    match find_config(flag) {
        Ok(file) => loaded.file = file,
        Err(e) => loaded.problems.push(e),
    }
    if let Some(file) = &loaded.file {
        match file_leaves(&file.path) {
            Ok(leaves) => loaded.leaves = leaves,
            Err(e) => loaded.problems.push(e),
        }
    }
    let (env, problems) =
        env_leaves(std::env::vars_os().filter_map(|(k, v)| {
            Some((k.into_string().ok()?, v.into_string().unwrap_or_default()))
        }));
    loaded.problems.extend(problems);
    for (key, (value, source)) in env {
        overlay(&mut loaded.leaves, &key, value, source);
    }
    let (settings, problems) = deserialize(&loaded);
    loaded.settings = settings;
    loaded.problems.extend(problems);
    loaded
}

/// The file's values.
fn file_leaves(path: &Path) -> Result<Leaves, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file '{}': {e}", path.display()))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let at = e
            .span()
            .map(|span| {
                let line = text[..span.start.min(text.len())].lines().count().max(1);
                format!(" line {line}")
            })
            .unwrap_or_default();
        format!(
            "config file '{}'{at}: {} (it must be TOML)",
            path.display(),
            e.message().trim()
        )
    })?;
    let value = serde_json::to_value(table)
        .map_err(|e| format!("config file '{}': {e}", path.display()))?;
    let mut leaves = Leaves::new();
    flatten("", &value, &Source::File(path.to_path_buf()), &mut leaves);
    Ok(leaves)
}

/// The values of `CCXT_*` variables (but not `CCXT_CONFIG`): `CCXT_A__B_C=v` sets `a.b_c`.
/// `true`/`false` and numbers are typed; everything else is a string (a list key takes a
/// comma-separated string).
fn env_leaves(vars: impl Iterator<Item = (String, String)>) -> (Leaves, Vec<String>) {
    let mut leaves = Leaves::new();
    let mut problems = Vec::new();
    for (var, text) in vars {
        let Some(rest) = var.strip_prefix("CCXT_") else {
            continue;
        };
        if NOT_KEYS.contains(&var.as_str()) {
            continue;
        }
        let parts: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if parts.iter().any(String::is_empty) {
            problems.push(format!(
                "environment variable {var}: not a config key (nested keys are joined with __, e.g. CCXT_VENUES__BINANCE__REST_URL)"
            ));
            continue;
        }
        let value = if let Ok(b) = text.trim().parse::<bool>() {
            Value::Bool(b)
        } else if let Ok(i) = text.trim().parse::<i64>() {
            Value::from(i)
        } else if let Some(f) = text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(serde_json::Number::from_f64)
        {
            Value::Number(f)
        } else {
            Value::String(text)
        };
        leaves.insert(parts.join("."), (value, Source::Env(var)));
    }
    (leaves, problems)
}

/// Every leaf of `value` under `prefix`.
fn flatten(prefix: &str, value: &Value, source: &Source, leaves: &mut Leaves) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                let key = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&key, value, source, leaves);
            }
        }
        leaf => {
            leaves.insert(prefix.to_string(), (leaf.clone(), source.clone()));
        }
    }
}

/// Sets `key`, replacing what it shadows: leaves under it and a leaf above it.
fn overlay(leaves: &mut Leaves, key: &str, value: Value, source: Source) {
    let below = format!("{key}.");
    leaves.retain(|k, _| !k.starts_with(&below) && !key.starts_with(&format!("{k}.")));
    leaves.insert(key.to_string(), (value, source));
}

/// The nested tree of `leaves`.
fn tree(leaves: &Leaves) -> Value {
    let mut root = Map::new();
    for (key, (value, _)) in leaves {
        let mut parts: Vec<&str> = key.split('.').collect();
        let last = parts.pop().unwrap_or_default();
        let mut node = &mut root;
        for part in parts {
            let entry = node
                .entry(part.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            let Value::Object(map) = entry else {
                unreachable!("just made an object")
            };
            node = map;
        }
        node.insert(last.to_string(), value.clone());
    }
    Value::Object(root)
}

/// Removes the value at the dotted `key` from `tree`; false if there is none.
fn remove(tree: &mut Value, key: &str) -> bool {
    let mut parts: Vec<&str> = key.split('.').collect();
    let Some(last) = parts.pop() else {
        return false;
    };
    let mut node = tree;
    for part in parts {
        match node.get_mut(part) {
            Some(next) => node = next,
            None => return false,
        }
    }
    node.as_object_mut().and_then(|m| m.remove(last)).is_some()
}

/// Deserializes the settings, collecting every unknown key and every value of the wrong type
/// (such a value is dropped and the default used, so one bad value hides nothing else).
fn deserialize(loaded: &Loaded) -> (FileSettings, Vec<String>) {
    let mut tree = tree(&loaded.leaves);
    let mut problems = Vec::new();
    // Each pass removes one bad value; the number of leaves bounds the passes.
    for _ in 0..=loaded.leaves.len() {
        let mut unknown = Vec::new();
        let result: Result<FileSettings, _> = serde_path_to_error::deserialize(
            serde_ignored::Deserializer::new(&tree, &mut |path: serde_ignored::Path| {
                unknown.push(
                    path.to_string()
                        .split('.')
                        .filter(|p| *p != "?")
                        .collect::<Vec<_>>()
                        .join("."),
                )
            }),
        );
        match result {
            Ok(settings) => {
                problems.extend(unknown.into_iter().map(|key| {
                    format!(
                        "unknown key '{key}'{} (config/default.toml lists every key)",
                        loaded.origin(&key)
                    )
                }));
                return (settings, problems);
            }
            Err(e) => {
                let key = e.path().to_string();
                problems.push(format!("{key}{}: {}", loaded.origin(&key), e.inner()));
                if !remove(&mut tree, &key) {
                    break;
                }
            }
        }
    }
    (FileSettings::default(), problems)
}

/// Every problem with the values of `settings`, found by the validators the commands use
/// (venues, streams, spool, daemon, metrics). `overrides` are the daemon's schedule flags.
pub fn check(settings: &FileSettings, overrides: &ccxt_daemon::ScheduleOverrides) -> Vec<String> {
    let mut problems = Vec::new();
    for venue in crate::registry::venues() {
        let vs = settings.venues.get(venue);
        if let Err(e) = crate::registry::transport_config(venue, vs) {
            problems.extend(e);
        }
        if let Err(e) = crate::registry::liquidation_source(venue, vs, Some(Vec::new())) {
            problems.extend(e);
        }
    }
    if let Err(e) = settings.spool.policy() {
        problems.extend(e);
    }
    if let Err(e) = settings.storage.validate() {
        problems.extend(e);
    }
    if let Err(e) = settings.daemon.validate(&settings.metrics, overrides) {
        problems.extend(e);
    }
    for symbol in &settings.daemon.symbols {
        if let Err(e) = ccxt_model::SymbolInput::parse(symbol) {
            problems.push(format!("daemon.symbols: {e}"));
        }
    }
    distinct_redacted(problems)
}

/// `problems` ready to print: without repeats, in order, and with the credentials of any URL
/// they quote hidden (a problem may quote a value, and secrets are never printed).
pub fn distinct_redacted(problems: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    problems
        .into_iter()
        .map(|p| ccxt_transport::redact_urls_in(&p))
        .filter(|p| seen.insert(p.clone()))
        .collect()
}

/// Whether `location` names an object store (`s3://`, `gs://`, `az://`, …) rather than a
/// local directory (a path or `file://`).
pub fn is_object_store(location: &str) -> bool {
    location.contains("://") && !location.starts_with("file://")
}

/// Where a storing command keeps what must be on local disk: the write-ahead spool and the
/// state files (daemon heartbeat, stream heartbeat). Never in an object store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalDirs {
    /// The spool's root: each command spools under its own sub-directory (`daemon`,
    /// `liquidations`).
    pub spool: PathBuf,
    /// The root of the state files (`.daemon/state.json`, `.stream/state.json`).
    pub state: PathBuf,
}

impl LocalDirs {
    /// `--spool-dir`, then `spool.dir`; else `<catalog>/.spool` (state files in the catalog
    /// root, as always) for a local catalog, and for an object store a directory of its own
    /// under `$XDG_STATE_HOME/ccxt-pipeline/` (`~/.local/state/…` when unset).
    pub fn resolve(
        location: &str,
        flag: Option<&Path>,
        configured: Option<&Path>,
    ) -> Result<LocalDirs, String> {
        if let Some(dir) = flag.or(configured) {
            return Ok(LocalDirs {
                spool: dir.to_path_buf(),
                state: dir.to_path_buf(),
            });
        }
        if !is_object_store(location) {
            let root = PathBuf::from(location.strip_prefix("file://").unwrap_or(location));
            return Ok(LocalDirs {
                spool: root.join(".spool"),
                state: root,
            });
        }
        let base = std::env::var_os("XDG_STATE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".local").join("state"))
            })
            .ok_or_else(|| {
                format!(
                    "the catalog '{location}' is an object store and the spool must be on local disk, but neither XDG_STATE_HOME nor HOME is set: give --spool-dir DIR or spool.dir"
                )
            })?;
        let dir = base.join("ccxt-pipeline").join(sanitized(location));
        Ok(LocalDirs {
            spool: dir.clone(),
            state: dir,
        })
    }

    /// The same directories, one level down for shard `shard` of several
    /// (`shard-<i>-of-<n>`), so shards sharing a directory never drain each other's spool.
    pub fn for_shard(&self, shard: ccxt_daemon::Shard) -> LocalDirs {
        if !shard.is_sharded() {
            return self.clone();
        }
        let sub = format!("shard-{}-of-{}", shard.index, shard.count);
        LocalDirs {
            spool: self.spool.join(&sub),
            state: self.state.join(".shards").join(&sub),
        }
    }
}

/// A directory name for a catalog location: its letters and digits, `-` for the rest, and a
/// short stable hash of the whole so two locations never share a directory
/// (`s3://bucket/prefix` -> `s3-bucket-prefix-3f2a9c1e`).
fn sanitized(location: &str) -> String {
    let mut name = String::new();
    for c in location.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            name.push(c);
        } else if !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name.trim_matches('-');
    let short: String = name.chars().take(80).collect();
    let hash = ccxt_daemon::shard::stable_hash(location) as u32;
    format!("{short}-{hash:08x}")
}

/// The catalog location: `--catalog`, then `CCXT_CATALOG_PATH`/the config file, then `./catalog`.
pub fn catalog_location(flag: Option<&str>, file: &FileSettings) -> String {
    flag.map(str::to_string)
        .or_else(|| file.catalog_path.clone())
        .unwrap_or_else(|| DEFAULT_CATALOG.to_string())
}

/// The levels a log filter may use.
const LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];

/// Checks a log filter: a level (`error`, `warn`, `info`, `debug`, `trace`, `off`) or
/// comma-separated directives `LEVEL` / `TARGET=LEVEL` (`info,ccxt_stream=debug`). A bare word
/// that is not a level is refused (the `tracing` syntax would take it as a target and mute
/// everything else).
pub fn parse_log_filter(text: &str) -> Result<tracing_subscriber::EnvFilter, String> {
    let invalid = |what: &str| {
        format!(
            "invalid log level '{text}'{what}: use error, warn, info, debug, trace or off, or directives such as info,ccxt_stream=debug"
        )
    };
    let is_level = |s: &str| LEVELS.contains(&s.trim().to_ascii_lowercase().as_str());
    let is_target = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'))
    };
    let directives: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    if directives.is_empty() {
        return Err(invalid(""));
    }
    for directive in &directives {
        let ok = match directive.split_once('=') {
            None => is_level(directive),
            Some((target, level)) => is_target(target.trim()) && is_level(level),
        };
        if !ok {
            return Err(if directives.len() > 1 {
                invalid(&format!(" ('{directive}')"))
            } else {
                invalid("")
            });
        }
    }
    tracing_subscriber::EnvFilter::try_new(directives.join(",")).map_err(|_| invalid(""))
}

/// What logging is set up with.
pub struct LogSetup {
    filter: tracing_subscriber::EnvFilter,
    format: LogFormat,
}

/// The log level and format: `--log-level`, then `CCXT_LOG_LEVEL`/`log_level`, then `RUST_LOG`,
/// then `default_level` (`warn` for commands, `info` for the daemon); every problem at once.
pub fn log_setup(
    global: &GlobalArgs,
    loaded: &Loaded,
    default_level: &str,
) -> Result<LogSetup, Vec<String>> {
    let mut problems = Vec::new();
    let (directive, source) = match (&global.log_level, &loaded.settings.log_level) {
        (Some(level), _) => (level.clone(), " (--log-level)".to_string()),
        (None, Some(level)) => (
            level.clone(),
            format!(" (log_level{})", loaded.origin("log_level")),
        ),
        (None, None) => match std::env::var("RUST_LOG") {
            Ok(level) if !level.trim().is_empty() => (level, " (RUST_LOG)".to_string()),
            _ => (default_level.to_string(), String::new()),
        },
    };
    let filter = match parse_log_filter(&directive) {
        Ok(f) => Some(f),
        Err(e) => {
            problems.push(format!("{e}{source}"));
            None
        }
    };
    let format = match (global.log_format, loaded.settings.log_format.as_deref()) {
        (Some(format), _) => format,
        (None, None) => LogFormat::Human,
        (None, Some(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "human" => LogFormat::Human,
            "json" => LogFormat::Json,
            _ => {
                problems.push(format!(
                    "invalid log_format '{text}'{}: use human or json",
                    loaded.origin("log_format")
                ));
                LogFormat::Human
            }
        },
    };
    match filter {
        Some(filter) if problems.is_empty() => Ok(LogSetup { filter, format }),
        _ => Err(problems),
    }
}

impl LogSetup {
    /// Starts logging to stderr.
    pub fn init(self) -> Result<(), String> {
        let builder = tracing_subscriber::fmt()
            .with_env_filter(self.filter)
            .with_writer(std::io::stderr)
            .with_ansi(crate::terminal::log_ansi_now())
            .with_target(false);
        match self.format {
            LogFormat::Human => builder.try_init(),
            LogFormat::Json => builder.json().try_init(),
        }
        .map_err(|e| format!("cannot start logging: {e}"))
    }
}

/// Whether a key names a secret (its value is never shown).
fn secret_key(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key).to_ascii_lowercase();
    [
        "secret",
        "key",
        "token",
        "password",
        "passphrase",
        "credential",
    ]
    .iter()
    .any(|w| last.contains(w))
}

/// `value` with secrets hidden: the whole value under a secret-looking key, the user info and
/// secret-looking query values of URLs (`https://user:pass@host` -> `https://***@host`).
pub fn redact(key: &str, value: &Value) -> Value {
    if secret_key(key) {
        return Value::String("***".into());
    }
    match value {
        Value::String(s) => Value::String(ccxt_transport::redact_url(s)),
        Value::Array(items) => Value::Array(items.iter().map(|v| redact(key, v)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> (Leaves, Vec<String>) {
        env_leaves(
            vars.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
                .into_iter(),
        )
    }

    fn loaded_from(toml: &str, vars: &[(&str, &str)]) -> Loaded {
        ccxt_registry::install().unwrap();
        let mut loaded = Loaded::default();
        let value = serde_json::to_value(toml.parse::<toml::Table>().unwrap()).unwrap();
        flatten(
            "",
            &value,
            &Source::File(PathBuf::from("test.toml")),
            &mut loaded.leaves,
        );
        let (env, problems) = env(vars);
        assert!(problems.is_empty(), "{problems:?}");
        for (k, (v, s)) in env {
            overlay(&mut loaded.leaves, &k, v, s);
        }
        let (settings, problems) = deserialize(&loaded);
        loaded.settings = settings;
        loaded.problems = problems;
        loaded
    }

    #[test]
    fn every_unknown_key_and_bad_type_is_reported_with_its_origin() {
        let loaded = loaded_from(
            "catalog_pathh = 'x'\n[venues.binance]\nrest_urll = 'http://x'\ntimeout_secs = 'slow'\n[daemon]\nsymbolz = []\nall = 'yes'\n[venues.kraken]\nrest_url = 'http://k'\n",
            &[
                ("CCXT_VENUES__BINANCE__RESTURL", "http://y"),
                ("CCXT_SPOOL__FLUSH_ROWS", "many"),
                ("CCXT_CONFIG", "ignored.toml"),
                ("CCXT_MALLOC_TUNING", "off"),
                ("CCXT_METRICS__ADDRESS", "off"),
                ("HOME", "/root"),
            ],
        );
        let text = loaded.problems.join("\n");
        for needle in [
            "unknown key 'catalog_pathh' in 'test.toml'",
            "unknown key 'venues.binance.rest_urll' in 'test.toml'",
            "unknown key 'venues.binance.resturl' from CCXT_VENUES__BINANCE__RESTURL",
            "unknown key 'daemon.symbolz'",
            "unknown key 'venues.kraken'",
            "venues.binance.timeout_secs in 'test.toml': invalid type",
            "daemon.all in 'test.toml': invalid type",
            "spool.flush_rows from CCXT_SPOOL__FLUSH_ROWS: invalid type",
        ] {
            assert!(text.contains(needle), "{needle} missing in:\n{text}");
        }
        assert_eq!(loaded.problems.len(), 8, "{text}");
        assert_eq!(loaded.settings.metrics.address.as_deref(), Some("off"));
    }

    #[test]
    fn environment_lists_are_comma_separated_and_override_the_file() {
        let loaded = loaded_from(
            "[daemon]\nsymbols = ['SOLUSDT-PERP']\n[venues.hyperliquid]\nliquidators = ['0xa']\n",
            &[
                ("CCXT_DAEMON__SYMBOLS", "BTCUSDT-PERP,ETHUSDT-PERP"),
                ("CCXT_VENUES__BINANCE__TIMEOUT_SECS", "2.5"),
                ("CCXT_VENUES__BINANCE__RATE_LIMITS", "false"),
            ],
        );
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        let s = &loaded.settings;
        assert_eq!(s.daemon.symbols, ["BTCUSDT-PERP", "ETHUSDT-PERP"]);
        assert_eq!(
            s.venues
                .get(ccxt_registry::venue("hyperliquid"))
                .liquidators
                .as_deref(),
            Some(&["0xa".to_string()][..])
        );
        assert_eq!(
            s.venues.get(ccxt_registry::venue("binance")).timeout_secs,
            Some(2.5)
        );
        assert_eq!(
            s.venues.get(ccxt_registry::venue("binance")).rate_limits,
            Some(false)
        );
    }

    #[test]
    fn log_filters_accept_levels_and_directives_only() {
        for ok in [
            "info",
            "DEBUG",
            "off",
            "info,ccxt_stream=debug",
            "warn,ccxt_catalog::writer=trace",
        ] {
            assert!(parse_log_filter(ok).is_ok(), "{ok}");
        }
        for bad in [
            "loud",
            "debgu",
            "",
            "info,loud",
            "ccxt_stream=loud",
            "=debug",
        ] {
            let e = parse_log_filter(bad).unwrap_err();
            assert!(e.contains("error, warn, info, debug, trace or off"), "{e}");
        }
    }

    #[test]
    fn secrets_and_url_credentials_are_redacted() {
        assert_eq!(
            redact(
                "venues.binance.rest_url",
                &Value::from("https://u:p@host:1/x")
            ),
            Value::from("https://***@host:1/x")
        );
        assert_eq!(
            redact("venues.binance.api_secret", &Value::from("s3cr3t")),
            Value::from("***")
        );
        assert_eq!(
            redact("venues.binance.rest_url", &Value::from("https://host/a@b")),
            Value::from("https://host/a@b")
        );
    }

    #[test]
    fn problems_never_show_url_credentials() {
        let problems = distinct_redacted(vec![
            "venues.bybit.rest_url must start with http:// or https://, got 'ftp://u:secret@h/x'"
                .into(),
            "a 'https://h/a@b' and https://k:v@h2".into(),
            "venues.bybit.rest_url must start with http:// or https://, got 'ftp://u:other@h/x'"
                .into(),
        ]);
        assert_eq!(
            problems,
            [
                "venues.bybit.rest_url must start with http:// or https://, got 'ftp://***@h/x'",
                "a 'https://h/a@b' and https://***@h2",
            ]
        );
    }

    /// `config/default.toml` documents the defaults: loading it must change nothing.
    #[test]
    fn the_documented_defaults_are_the_built_in_ones() {
        let documented = loaded_from(DEFAULTS_TOML, &[]);
        assert!(documented.problems.is_empty(), "{:?}", documented.problems);
        let none = FileSettings::default();
        let overrides = ccxt_daemon::ScheduleOverrides::default();
        for venue in ccxt_registry::all().iter().copied() {
            let a = crate::registry::transport_config(venue, documented.settings.venues.get(venue));
            let b = crate::registry::transport_config(venue, none.venues.get(venue));
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "{venue}");
            let a = crate::registry::liquidation_source(
                venue,
                documented.settings.venues.get(venue),
                None,
            )
            .map(|s| format!("{s:?}"));
            let b = crate::registry::liquidation_source(venue, none.venues.get(venue), None)
                .map(|s| format!("{s:?}"));
            assert_eq!(a, b, "{venue}");
        }
        assert_eq!(
            format!("{:?}", documented.settings.spool.policy()),
            format!("{:?}", none.spool.policy())
        );
        let a = documented
            .settings
            .daemon
            .validate(&documented.settings.metrics, &overrides);
        let b = none.daemon.validate(&none.metrics, &overrides);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert_eq!(
            documented.settings.catalog_path.as_deref(),
            Some(DEFAULT_CATALOG)
        );
    }

    #[test]
    fn local_dirs_stay_beside_a_local_catalog_and_go_to_the_state_home_for_an_object_store() {
        let local = LocalDirs::resolve("/data/catalog", None, None).unwrap();
        assert_eq!(local.spool, PathBuf::from("/data/catalog/.spool"));
        assert_eq!(local.state, PathBuf::from("/data/catalog"));
        let file = LocalDirs::resolve("file:///data/catalog", None, None).unwrap();
        assert_eq!(file, local);
        let given = LocalDirs::resolve("s3://b/p", Some(Path::new("/var/spool/x")), None).unwrap();
        assert_eq!(given.spool, PathBuf::from("/var/spool/x"));
        let configured =
            LocalDirs::resolve("/data/catalog", None, Some(Path::new("/var/spool/y"))).unwrap();
        assert_eq!(configured.state, PathBuf::from("/var/spool/y"));
        assert_eq!(
            sanitized("s3://bucket/prefix"),
            format!(
                "s3-bucket-prefix-{:08x}",
                ccxt_daemon::shard::stable_hash("s3://bucket/prefix") as u32
            )
        );
        assert_ne!(sanitized("s3://a/b"), sanitized("s3://a_b"));
        let shard = ccxt_daemon::Shard { index: 1, count: 3 };
        let sharded = local.for_shard(shard);
        assert_eq!(
            sharded.spool,
            PathBuf::from("/data/catalog/.spool/shard-1-of-3")
        );
        assert_eq!(
            sharded.state,
            PathBuf::from("/data/catalog/.shards/shard-1-of-3")
        );
        assert_eq!(local.for_shard(ccxt_daemon::Shard::WHOLE), local);
    }

    #[test]
    fn storage_and_spool_settings_are_checked() {
        let loaded = loaded_from(
            "[storage]\nendpoint = 'http://127.0.0.1:9000'\nregion = 'eu central'\n[spool]\nmax_bytes = 0\n",
            &[],
        );
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        let problems = check(&loaded.settings, &ccxt_daemon::ScheduleOverrides::default());
        let text = problems.join("\n");
        assert!(!text.contains("storage.endpoint"), "{text}");
        assert!(
            text.contains("storage.region must be a region name"),
            "{text}"
        );
        assert!(
            text.contains("spool.max_bytes must be between 1 and"),
            "{text}"
        );
        let loaded = loaded_from("[spool]\nhold_secs = 90000\nhold_rows = 0\n", &[]);
        let text = check(&loaded.settings, &ccxt_daemon::ScheduleOverrides::default()).join("\n");
        assert!(
            text.contains("spool.hold_secs must be between 0 (off) and 86400 seconds, got 90000"),
            "{text}"
        );
        assert!(
            text.contains("spool.hold_rows must be at least 1"),
            "{text}"
        );
        let off = loaded_from("[spool]\nhold_secs = 0\n", &[]);
        assert_eq!(off.settings.spool.policy().unwrap().hold, None);
        let held = loaded_from("", &[("CCXT_SPOOL__HOLD_ROWS", "7")]);
        let hold = held.settings.spool.policy().unwrap().hold.unwrap();
        assert_eq!(
            (hold.below_rows, hold.max_age),
            (7, std::time::Duration::from_secs(900))
        );
        let loaded = loaded_from(
            "[storage]\nendpoint = 'http://127.0.0.1:9000'\nallow_http = true\n[spool]\nmax_bytes = 4096\n",
            &[("CCXT_STORAGE__REGION", "us-east-1")],
        );
        let storage = loaded.settings.storage.validate().unwrap();
        assert_eq!(storage.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(storage.region.as_deref(), Some("us-east-1"));
        assert!(storage.allow_http);
        assert_eq!(loaded.settings.spool.policy().unwrap().max_bytes, 4096);
    }
}
