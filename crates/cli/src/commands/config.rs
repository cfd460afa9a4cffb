//! `ccxt-cli config show`: the effective configuration and where each value came from.

use std::process::ExitCode;

use serde_json::Value;

use crate::ConfigProblems;
use crate::cli::{ConfigShowArgs, GlobalArgs};
use crate::output::{Column, Rows, Value as Cell};
use crate::settings::{Loaded, redact};

/// Prints every effective value (defaults, file, environment, flags merged) with its source,
/// secrets redacted; then the problems, if any (exit 2).
pub fn show(
    loaded: &Loaded,
    global: &GlobalArgs,
    args: &ConfigShowArgs,
    problems: Vec<String>,
) -> anyhow::Result<ExitCode> {
    match &loaded.file {
        Some(f) => eprintln!("config file: {} ({})", f.path.display(), f.found_by),
        None => eprintln!(
            "config file: none (looked for {})",
            crate::settings::search_path()
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
    let columns = ["key", "value", "source"]
        .into_iter()
        .map(|name| Column {
            name,
            in_table: true,
        })
        .collect();
    let rows = loaded
        .effective(global, args.catalog.catalog.as_deref())
        .into_iter()
        .map(|(key, (value, source))| {
            let shown = toml_text(&redact(&key, &value));
            vec![
                Cell::Text(key),
                Cell::Text(shown),
                Cell::Text(source.to_string()),
            ]
        })
        .collect();
    super::print(args.format, &Rows { columns, rows })?;
    if problems.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(ConfigProblems(problems).into())
    }
}

/// A value as it would be written in the TOML file.
fn toml_text(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(toml_text).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}
