//! `ccxt-cli export DATA [SYMBOL...|--all] --out PATH`: flat, typed files for pandas, polars,
//! DuckDB and Spark, streamed day by day (see [`ccxt_catalog::export`]).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, DecimalType, Float64Type, Int32Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, SchemaRef, TimeUnit};
use ccxt_catalog::export::{
    DayScan, ExportRecord, Layout, Numbers, Scales, export_batch, export_schema, venue_and_symbol,
};
use ccxt_catalog::price::bar_dataset;
use ccxt_catalog::{Catalog, CatalogError};
use ccxt_model::time::{NANOS_PER_DAY, format_iso, utc_day_start};
use ccxt_model::{
    Bar, BarPrice, BarType, FundingRate, IndexPrice, InstrumentId, Liquidation, MarkPrice,
    OpenInterest, RecordKind,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::UsageError;
use crate::cli::{ExportArgs, ExportFormat};
use crate::inputs::{resolve, selected_venues, time_range};

/// Rows per Parquet row group at most (a row group also ends with each UTC day).
const MAX_ROWS_PER_GROUP: usize = 1_000_000;

/// Runs `export`.
pub async fn run(
    location: &str,
    options: &ccxt_catalog::StorageOptions,
    args: ExportArgs,
) -> anyhow::Result<ExitCode> {
    let kind = RecordKind::from(args.data);
    check_flags(kind, &args)?;
    let (start, end) = time_range(args.from.as_deref(), args.to.as_deref())?;
    let target = Target::plan(&args)?;
    let catalog = Catalog::open_with(location, options)?;
    let datasets = datasets(&catalog, kind, &args).await?;
    let job = Job {
        catalog: &catalog,
        datasets: &datasets,
        start,
        end,
        numbers: if args.float {
            Numbers::Float
        } else {
            Numbers::Decimal
        },
        format: args.format,
        partition: args.partition,
        location,
    };
    let summary = match kind {
        RecordKind::OpenInterest => job.run::<OpenInterest>(&target).await,
        RecordKind::FundingRate => job.run::<FundingRate>(&target).await,
        RecordKind::Liquidation => job.run::<Liquidation>(&target).await,
        RecordKind::Bar => job.run::<Bar>(&target).await,
        RecordKind::MarkPrice => job.run::<MarkPrice>(&target).await,
        RecordKind::IndexPrice => job.run::<IndexPrice>(&target).await,
        RecordKind::Gap => Err(UsageError("gaps cannot be exported".into()).into()),
    };
    let summary = match summary {
        Ok(s) => s,
        Err(e) => {
            target.discard();
            return Err(e);
        }
    };
    target.commit(args.force)?;
    if summary.rows == 0 {
        eprintln!(
            "no {kind} rows for {} datasets between {} and {} in catalog '{location}'",
            datasets.len(),
            format_iso(start),
            format_iso(end),
        );
    }
    eprintln!(
        "exported {} {kind} rows of {} datasets ({} catalog files read) to {}: {} file{}, {} bytes",
        summary.rows,
        summary.datasets,
        summary.files_read,
        target.shown(),
        summary.files_written,
        if summary.files_written == 1 { "" } else { "s" },
        summary.bytes,
    );
    Ok(ExitCode::SUCCESS)
}

/// Flags that only make sense together, refused otherwise so a typo is not ignored.
fn check_flags(kind: RecordKind, args: &ExportArgs) -> Result<(), UsageError> {
    if kind == RecordKind::Bar {
        if args.interval.is_none() {
            return Err(UsageError(
                "export bars needs --interval: one of 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 1w 1M, e.g. ccxt-cli export bars BTCUSDT-PERP --interval 1h --out bars.parquet".into(),
            ));
        }
    } else {
        for (given, flag) in [
            (args.interval.is_some(), "--interval"),
            (args.price.is_some(), "--price"),
        ] {
            if given {
                return Err(UsageError(format!(
                    "{flag} is for `export bars` only, not `export {kind}`"
                )));
            }
        }
    }
    if args.symbols.is_empty() && !args.all {
        return Err(UsageError(format!(
            "export {kind} needs SYMBOL... or --all, e.g. ccxt-cli export {} BTCUSDT-PERP --out out.parquet",
            export_word(kind)
        )));
    }
    if is_stdout(&args.out) {
        if args.format != ExportFormat::Csv || args.partition {
            return Err(UsageError(
                "--out - (stdout) is for --format csv without --partition; give a file name for Parquet".into(),
            ));
        }
    } else if args.out.as_os_str().is_empty() {
        return Err(UsageError(
            "--out is empty: give a file or directory".into(),
        ));
    }
    Ok(())
}

/// The word `export` takes for a kind.
fn export_word(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::OpenInterest => "oi",
        RecordKind::FundingRate => "funding",
        RecordKind::Liquidation => "liquidations",
        RecordKind::Bar => "bars",
        RecordKind::MarkPrice => "mark",
        RecordKind::IndexPrice => "index",
        RecordKind::Gap => "gaps",
    }
}

fn is_stdout(out: &Path) -> bool {
    out.as_os_str() == "-"
}

/// The datasets to read: the symbols on the selected venues (bars: their bar type), or with
/// `--all` every dataset directory of the kind on those venues. In order, without repeats.
async fn datasets(
    catalog: &Catalog,
    kind: RecordKind,
    args: &ExportArgs,
) -> anyhow::Result<Vec<InstrumentId>> {
    let bar_spec = args
        .interval
        .map(|i| (i, args.price.unwrap_or(BarPrice::Last)));
    let mut out: Vec<InstrumentId> = Vec::new();
    if args.all {
        let venues: Vec<String> = selected_venues(&args.venues)
            .iter()
            .map(|v| v.to_string())
            .collect();
        for id in catalog.instruments(kind).await? {
            let instrument = match bar_spec {
                Some((interval, price)) => match id.as_str().parse::<BarType>() {
                    Ok(t) if t.interval == interval && t.price == price => t.instrument_id,
                    _ => continue,
                },
                None => id.clone(),
            };
            let (venue, _) = venue_and_symbol(&instrument);
            if args.venues.is_empty() || venues.contains(&venue) {
                out.push(id);
            }
        }
        return Ok(out);
    }
    for symbol in &args.symbols {
        for instrument in resolve(symbol, &args.venues)? {
            let id = match bar_spec {
                Some((interval, price)) => {
                    bar_dataset(&BarType::new(instrument.id, interval, price))
                }
                None => instrument.id,
            };
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    Ok(out)
}

/// Where the output goes: a file or a directory tree, written under a temporary name beside it
/// and renamed into place when complete; or stdout.
enum Target {
    Stdout,
    Path {
        /// The name asked for.
        out: PathBuf,
        /// Where it is written meanwhile.
        temp: PathBuf,
    },
}

impl Target {
    fn plan(args: &ExportArgs) -> Result<Target, UsageError> {
        if is_stdout(&args.out) {
            return Ok(Target::Stdout);
        }
        let out = args.out.clone();
        if out.symlink_metadata().is_ok() && !args.force {
            return Err(UsageError(format!(
                "--out '{}' exists; pass --force to replace it",
                out.display()
            )));
        }
        let name = out
            .file_name()
            .ok_or_else(|| {
                UsageError(format!(
                    "--out '{}' is not a file or directory name",
                    out.display()
                ))
            })?
            .to_string_lossy()
            .into_owned();
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !parent.is_dir() {
            return Err(UsageError(format!(
                "--out '{}': directory '{}' does not exist",
                out.display(),
                parent.display()
            )));
        }
        let temp = parent.join(format!(".{name}.export-{}.tmp", std::process::id()));
        Ok(Target::Path { out, temp })
    }

    fn shown(&self) -> String {
        match self {
            Target::Stdout => "stdout".into(),
            Target::Path { out, .. } => format!("'{}'", out.display()),
        }
    }

    /// Removes what a failed export wrote.
    fn discard(&self) {
        if let Target::Path { temp, .. } = self {
            let _ = std::fs::remove_dir_all(temp).or_else(|_| std::fs::remove_file(temp));
        }
    }

    /// Moves the finished output into place (replacing an existing one only with `force`).
    fn commit(&self, force: bool) -> anyhow::Result<()> {
        let Target::Path { out, temp } = self else {
            return Ok(());
        };
        let result = (|| -> anyhow::Result<()> {
            if out.symlink_metadata().is_ok() {
                if !force {
                    anyhow::bail!(UsageError(format!(
                        "--out '{}' appeared during the export; pass --force to replace it",
                        out.display()
                    )));
                }
                if out.is_dir() || temp.is_dir() {
                    // A rename cannot replace a directory: move the old one aside first.
                    let old = temp.with_extension("old");
                    std::fs::rename(out, &old)
                        .with_context(|| format!("cannot move '{}' aside", out.display()))?;
                    std::fs::rename(temp, out)
                        .with_context(|| format!("cannot rename to '{}'", out.display()))?;
                    let _ = std::fs::remove_dir_all(&old).or_else(|_| std::fs::remove_file(&old));
                    return Ok(());
                }
            }
            std::fs::rename(temp, out)
                .with_context(|| format!("cannot rename to '{}'", out.display()))
        })();
        if result.is_err() {
            self.discard();
        }
        result
    }
}

/// What an export did.
#[derive(Debug, Default)]
struct Summary {
    rows: u64,
    datasets: usize,
    files_read: usize,
    files_written: usize,
    bytes: u64,
}

/// One export.
struct Job<'a> {
    catalog: &'a Catalog,
    datasets: &'a [InstrumentId],
    start: u64,
    end: u64,
    numbers: Numbers,
    format: ExportFormat,
    partition: bool,
    location: &'a str,
}

impl Job<'_> {
    async fn run<T: ExportRecord>(&self, target: &Target) -> anyhow::Result<Summary> {
        let hint = |e: CatalogError| super::query::bad_file_hint(e, self.location);
        let mut layout = Layout {
            numbers: self.numbers,
            scales: Scales::default(),
            venue_column: !self.partition,
        };
        layout.scales = self.scales::<T>(&layout).await.map_err(hint)?;
        let schema = export_schema::<T>(&layout);
        let mut scan = DayScan::<T>::open(self.catalog, self.datasets, self.start, self.end)
            .await
            .map_err(hint)?;
        let progress = Progress::new(scan.days());
        let mut out = match (target, self.partition) {
            (Target::Stdout, _) => Output::Single(Sink::csv(Box::new(std::io::stdout()), &schema)?),
            (Target::Path { temp, .. }, false) => {
                Output::Single(Sink::create(temp, self.format, &schema)?)
            }
            (Target::Path { temp, .. }, true) => {
                std::fs::create_dir(temp)
                    .with_context(|| format!("cannot create '{}'", temp.display()))?;
                Output::Tree(Tree::new(temp.clone(), self.format, schema.clone()))
            }
        };
        let mut day = None;
        let mut datasets = std::collections::HashSet::new();
        while let Some(chunk) = scan.next_chunk().await.map_err(hint)? {
            if day != Some(chunk.day) {
                if let Some(done) = day {
                    out.day_done(done)?;
                    progress.advance((chunk.day - done) / NANOS_PER_DAY);
                }
                day = Some(chunk.day);
            }
            datasets.insert(chunk.dataset.clone());
            let instrument = chunk.rows[0].instrument().clone();
            out.write(&chunk.rows, &instrument, &layout)?;
        }
        progress.finish();
        let (files_written, bytes) = out.finish()?;
        let stats = scan.stats();
        Ok(Summary {
            rows: stats.rows,
            datasets: datasets.len(),
            files_read: stats.files_read,
            files_written,
            bytes,
        })
    }

    /// The decimal scales the rows need (none for floats): from the files' metadata where it
    /// says (bars, mark and index prices), else a first pass over the rows (funding rates).
    async fn scales<T: ExportRecord>(&self, layout: &Layout) -> Result<Scales, CatalogError> {
        let has_decimals = export_schema::<T>(layout)
            .fields()
            .iter()
            .any(|f| matches!(f.data_type(), DataType::Decimal128(..)));
        let mut scales = Scales::default();
        if self.numbers == Numbers::Float || !has_decimals {
            return Ok(scales);
        }
        let mut scan =
            DayScan::<T>::open(self.catalog, self.datasets, self.start, self.end).await?;
        // Fixed-point files say their precision in their metadata: no need to read the rows.
        if let Some(stored) = scan.stored_scales().await? {
            return Ok(stored);
        }
        while let Some(chunk) = scan.next_chunk().await? {
            for row in &chunk.rows {
                scales = scales.max(row.scales());
            }
        }
        Ok(scales)
    }
}

/// One file or a partition tree.
enum Output {
    Single(Sink),
    Tree(Tree),
}

impl Output {
    fn write<T: ExportRecord>(
        &mut self,
        rows: &[T],
        instrument: &InstrumentId,
        layout: &Layout,
    ) -> anyhow::Result<()> {
        match self {
            Output::Single(sink) => sink.write(&export_batch(rows, instrument, layout)?),
            Output::Tree(tree) => tree.write(rows, instrument, layout),
        }
    }

    /// The UTC day `day` (of `ts_init`) is complete.
    fn day_done(&mut self, day: u64) -> anyhow::Result<()> {
        match self {
            Output::Single(sink) => sink.end_group(),
            Output::Tree(tree) => tree.day_done(day),
        }
    }

    /// Files written and their bytes.
    fn finish(self) -> anyhow::Result<(usize, u64)> {
        match self {
            Output::Single(sink) => Ok((1, sink.finish()?)),
            Output::Tree(tree) => tree.finish(),
        }
    }
}

/// One output file being written.
enum Sink {
    Parquet(Box<ArrowWriter<File>>),
    Csv(Box<csv::Writer<Counting<Box<dyn Write>>>>),
}

impl Sink {
    fn create(path: &Path, format: ExportFormat, schema: &SchemaRef) -> anyhow::Result<Sink> {
        let file =
            File::create(path).with_context(|| format!("cannot create '{}'", path.display()))?;
        match format {
            ExportFormat::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
                    .set_max_row_group_row_count(Some(MAX_ROWS_PER_GROUP))
                    .build();
                Ok(Sink::Parquet(Box::new(ArrowWriter::try_new(
                    file,
                    schema.clone(),
                    Some(props),
                )?)))
            }
            ExportFormat::Csv => Sink::csv(Box::new(BufWriter::new(file)), schema),
        }
    }

    fn csv(out: Box<dyn Write>, schema: &SchemaRef) -> anyhow::Result<Sink> {
        let mut writer = csv::Writer::from_writer(Counting {
            inner: out,
            bytes: 0,
        });
        writer
            .write_record(schema.fields().iter().map(|f| f.name()))
            .map_err(csv_error)?;
        Ok(Sink::Csv(Box::new(writer)))
    }

    fn write(&mut self, batch: &RecordBatch) -> anyhow::Result<()> {
        match self {
            Sink::Parquet(w) => w.write(batch)?,
            Sink::Csv(w) => {
                let mut record = Vec::with_capacity(batch.num_columns());
                for row in 0..batch.num_rows() {
                    record.clear();
                    for column in batch.columns() {
                        record.push(csv_field(column.as_ref(), row)?);
                    }
                    w.write_record(&record).map_err(csv_error)?;
                }
            }
        }
        Ok(())
    }

    /// Ends the Parquet row group (a group per UTC day at least).
    fn end_group(&mut self) -> anyhow::Result<()> {
        if let Sink::Parquet(w) = self {
            w.flush()?;
        }
        Ok(())
    }

    /// Closes the file (synced to disk); returns its size.
    fn finish(self) -> anyhow::Result<u64> {
        match self {
            Sink::Parquet(w) => {
                let file = w.into_inner()?;
                file.sync_all()?;
                Ok(file.metadata()?.len())
            }
            Sink::Csv(w) => {
                let mut counting = w.into_inner().map_err(|e| e.into_error())?;
                // into_inner flushed the CSV buffer; now the writer's own.
                counting.flush()?;
                Ok(counting.bytes)
            }
        }
    }
}

/// A CSV error; an I/O error stays one, so a closed pipe (`| head`) ends the export quietly.
fn csv_error(e: csv::Error) -> anyhow::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io.into(),
        other => anyhow::anyhow!("cannot write CSV: {other:?}"),
    }
}

/// A writer that counts what passes through.
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// One CSV field: times in RFC 3339 UTC with nine decimals, decimals with their scale's
/// digits, floats in their shortest exact form, null as empty.
fn csv_field(column: &dyn Array, row: usize) -> anyhow::Result<String> {
    if column.is_null(row) {
        return Ok(String::new());
    }
    Ok(match column.data_type() {
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            let ns = column
                .as_primitive::<arrow_array::types::TimestampNanosecondType>()
                .value(row);
            chrono::DateTime::from_timestamp_nanos(ns)
                .format("%Y-%m-%dT%H:%M:%S%.9fZ")
                .to_string()
        }
        DataType::Decimal128(precision, scale) => Decimal128Type::format_decimal(
            column.as_primitive::<Decimal128Type>().value(row),
            *precision,
            *scale,
        ),
        DataType::Float64 => column.as_primitive::<Float64Type>().value(row).to_string(),
        DataType::Int32 => column.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Utf8 => column.as_string::<i32>().value(row).to_string(),
        other => anyhow::bail!("no CSV form for column type {other}"),
    })
}

/// A Hive-style tree `venue=<venue>/date=<YYYY-MM-DD>/part-<n>.<ext>`, partitioned by the
/// UTC date of `ts_event`. A partition's file stays open while rows can still come for it:
/// rows arrive by day of `ts_init`, and `ts_event` may lie a little earlier (received after
/// midnight); a row later than that for a closed partition goes to its next part file.
struct Tree {
    root: PathBuf,
    format: ExportFormat,
    schema: SchemaRef,
    open: BTreeMap<(String, u64), Sink>,
    parts: BTreeMap<(String, u64), usize>,
    files: usize,
    bytes: u64,
}

impl Tree {
    fn new(root: PathBuf, format: ExportFormat, schema: SchemaRef) -> Tree {
        Tree {
            root,
            format,
            schema,
            open: BTreeMap::new(),
            parts: BTreeMap::new(),
            files: 0,
            bytes: 0,
        }
    }

    fn write<T: ExportRecord>(
        &mut self,
        rows: &[T],
        instrument: &InstrumentId,
        layout: &Layout,
    ) -> anyhow::Result<()> {
        let (venue, _) = venue_and_symbol(instrument);
        let mut by_date: BTreeMap<u64, Vec<T>> = BTreeMap::new();
        for row in rows {
            by_date
                .entry(utc_day_start(row.ts_event()))
                .or_default()
                .push(row.clone());
        }
        for (date, rows) in by_date {
            let key = (venue.clone(), date);
            if !self.open.contains_key(&key) {
                let part = self.parts.entry(key.clone()).or_insert(0);
                let dir = self
                    .root
                    .join(format!("venue={venue}"))
                    .join(format!("date={}", &format_iso(date)[..10]));
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create '{}'", dir.display()))?;
                let file = dir.join(format!("part-{part}.{}", self.format.extension()));
                *part += 1;
                let sink = Sink::create(&file, self.format, &self.schema)?;
                self.open.insert(key.clone(), sink);
            }
            if let Some(sink) = self.open.get_mut(&key) {
                sink.write(&export_batch(&rows, instrument, layout)?)?;
            }
        }
        Ok(())
    }

    /// Closes the partitions of dates before `day`: rows of later `ts_init` days rarely
    /// belong to them.
    fn day_done(&mut self, day: u64) -> anyhow::Result<()> {
        let closing: Vec<(String, u64)> = self
            .open
            .keys()
            .filter(|(_, date)| *date < day)
            .cloned()
            .collect();
        for key in closing {
            if let Some(sink) = self.open.remove(&key) {
                self.bytes += sink.finish()?;
                self.files += 1;
            }
        }
        for sink in self.open.values_mut() {
            sink.end_group()?;
        }
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<(usize, u64)> {
        for (_, sink) in std::mem::take(&mut self.open) {
            self.bytes += sink.finish()?;
            self.files += 1;
        }
        Ok((self.files, self.bytes))
    }
}

/// A progress bar of days on stderr, only when stderr is a terminal.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(days: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(days);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} days · ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        });
        Progress { bar }
    }

    fn advance(&self, days: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(days);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
