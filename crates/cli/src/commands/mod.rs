//! One module per subcommand.

pub mod catalog;
pub mod config;
pub mod daemon;
pub mod export;
pub mod fetch;
pub mod query;
pub mod stream;

use std::io::{BufWriter, Write};

use crate::cli::OutputFormat;
use crate::output::{self, Rows};

/// Prints rows to stdout, buffered; a closed pipe surfaces as a `BrokenPipe` error that `main`
/// turns into a quiet exit 0.
pub fn print(format: OutputFormat, rows: &Rows) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    output::write(&mut out, format, rows)?;
    out.flush()?;
    Ok(())
}
