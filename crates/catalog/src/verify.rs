//! `ccxt-cli catalog verify`: integrity and completeness checks of stored datasets, and the
//! merge repair of duplicates, overlaps and unsorted files.
//!
//! Integrity, per dataset directory: corrupt or foreign files, temporary files, file names not
//! in our form, overlapping files, rows not sorted by `ts_init` within a file, rows outside the
//! interval their file name claims, duplicate rows (the same record, or the same venue
//! identity, stored twice: within a file or across files), bars failing [`Bar::check`], open
//! interest that is zero or negative, outliers (see [`OutlierRule`]) and the schema metadata
//! NautilusTrader needs.
//!
//! Completeness, over `[start, end]` (default: each dataset's own first..last row): missing
//! bars of the interval grid, settled funding times missing at the instrument's interval, and
//! open-interest rows missing at the dataset's period (history buckets and live snapshots
//! separately; the period is the median spacing of the rows). A hole that intersects a stream
//! gap recorded for the venue is reported as explained; recorded stream gaps in the range are
//! listed as well (the liquidations of that time were not collected).

use std::collections::{HashMap, HashSet};

use ccxt_model::{
    Bar, BarType, FundingKind, FundingRate, Gap, IndexPrice, InstrumentId, Liquidation, MarkPrice,
    OpenInterest, RecordKind, Venue,
};
use parquet::arrow::parquet_to_arrow_schema;
use rust_decimal::prelude::ToPrimitive;

use crate::error::Result;
use crate::record::CatalogRecord;
use crate::{Catalog, DataFile, intersects, parquet_io, sort_and_dedup};

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingKind {
    /// A file that cannot be read, or holds another schema.
    CorruptFile,
    /// A temporary file left by an interrupted write.
    TempFile,
    /// A Parquet file whose name is not `<start>_<end>.parquet`.
    ForeignName,
    /// Files of one dataset whose intervals overlap.
    Overlap,
    /// Rows of a file not sorted by `ts_init`.
    Unsorted,
    /// Rows outside the interval their file's name claims.
    OutsideFile,
    /// The same record (or venue identity) stored more than once.
    Duplicate,
    /// A bar failing the sanity rules.
    BadBar,
    /// Open interest that is zero or negative.
    NonPositiveOi,
    /// A value far beyond its neighbours.
    Outlier,
    /// Schema metadata NautilusTrader needs is missing.
    MissingMetadata,
    /// Expected rows missing, with no recorded stream gap to explain them.
    Hole,
    /// Expected rows missing during a recorded stream gap.
    ExplainedHole,
    /// A recorded stream gap: the venue's stream was not collected then.
    StreamGap,
}

impl FindingKind {
    /// The kebab-case name shown in the output.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::CorruptFile => "corrupt-file",
            FindingKind::TempFile => "temp-file",
            FindingKind::ForeignName => "foreign-name",
            FindingKind::Overlap => "overlap",
            FindingKind::Unsorted => "unsorted",
            FindingKind::OutsideFile => "outside-file",
            FindingKind::Duplicate => "duplicate",
            FindingKind::BadBar => "bad-bar",
            FindingKind::NonPositiveOi => "non-positive-oi",
            FindingKind::Outlier => "outlier",
            FindingKind::MissingMetadata => "missing-metadata",
            FindingKind::Hole => "hole",
            FindingKind::ExplainedHole => "explained-hole",
            FindingKind::StreamGap => "stream-gap",
        }
    }

    /// Whether `--repair` merges it away (by rewriting the dataset's files).
    pub fn merge_repairs(self) -> bool {
        matches!(
            self,
            FindingKind::Overlap
                | FindingKind::Unsorted
                | FindingKind::OutsideFile
                | FindingKind::Duplicate
        )
    }
}

/// Which venue history could refill a hole (what `--repair` asks the venue for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refill {
    /// The bars of the dataset's bar type.
    Bars,
    /// Settled funding history.
    Funding,
    /// Open-interest history at this bucket period (ns).
    OpenInterestHistory {
        /// The bucket period, ns.
        period_ns: u64,
    },
}

/// One problem found.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// What it is.
    pub kind: FindingKind,
    /// The dataset's record kind.
    pub dataset: RecordKind,
    /// The dataset directory: an instrument id, a bar type, or a venue for stream gaps.
    pub instrument: InstrumentId,
    /// The file it is in, by name, if it is about one file.
    pub file: Option<String>,
    /// Start of the time it concerns, UNIX ns.
    pub from: Option<u64>,
    /// End of the time it concerns, UNIX ns.
    pub to: Option<u64>,
    /// What exactly.
    pub detail: String,
    /// Holes only: the venue history that could refill it; `None` when none can (live
    /// snapshots are not served after the fact).
    pub refill: Option<Refill>,
}

/// The outlier rule: a value is an outlier when it differs from the median `m` of its
/// `window` neighbours on each side (fewer at the ends, at least 4 in all) by more than
/// `k` times their scaled median absolute deviation (1.4826·MAD) **and** by more than
/// `min_jump` of `|m|`. Applied to open interest, bar closes, mark and index prices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutlierRule {
    /// Neighbours looked at on each side.
    pub window: usize,
    /// How many robust deviations away counts as an outlier.
    pub k: f64,
    /// The smallest relative distance from the median that counts (0.2 = 20%).
    pub min_jump: f64,
}

impl Default for OutlierRule {
    fn default() -> Self {
        OutlierRule {
            window: 5,
            k: 10.0,
            min_jump: 0.2,
        }
    }
}

/// What to verify.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions {
    /// Check only rows from here (UNIX ns, inclusive); `None`: each dataset's first row.
    pub start: Option<u64>,
    /// Check only rows up to here (UNIX ns, inclusive); `None`: each dataset's last row.
    pub end: Option<u64>,
    /// The outlier rule.
    pub outliers: OutlierRule,
}

/// What the merge repair did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MergeRepair {
    /// Datasets whose files were rewritten.
    pub datasets: usize,
    /// Files replaced.
    pub files_before: usize,
    /// Files written.
    pub files_after: usize,
    /// Duplicate rows dropped.
    pub duplicates_removed: usize,
}

/// The venue a dataset directory belongs to.
pub fn dataset_venue(kind: RecordKind, dir: &InstrumentId) -> Option<Venue> {
    let id = match kind {
        RecordKind::Gap => return Venue::from_nautilus_venue(dir.as_str()),
        RecordKind::Bar => dir.as_str().parse::<BarType>().ok()?.instrument_id,
        _ => dir.clone(),
    };
    Venue::from_nautilus_venue(id.as_str().rsplit('.').next()?)
}

/// The instrument a dataset directory holds (`None` for stream gaps, which are per venue).
pub fn dataset_instrument(kind: RecordKind, dir: &InstrumentId) -> Option<InstrumentId> {
    match kind {
        RecordKind::Gap => None,
        RecordKind::Bar => Some(dir.as_str().parse::<BarType>().ok()?.instrument_id),
        _ => Some(dir.clone()),
    }
}

/// The schema metadata keys NautilusTrader needs in each class directory's files
/// (`nautilus-catalog.md` §2.2; custom data classes need none).
pub fn required_metadata(kind: RecordKind) -> &'static [&'static str] {
    match kind {
        RecordKind::Bar => &[
            "bar_type",
            "instrument_id",
            "price_precision",
            "size_precision",
        ],
        RecordKind::MarkPrice | RecordKind::IndexPrice => &["instrument_id", "price_precision"],
        RecordKind::FundingRate => &["instrument_id"],
        RecordKind::OpenInterest | RecordKind::Liquidation | RecordKind::Gap => &[],
    }
}

/// Per-kind rules of the checks.
trait Verified: CatalogRecord {
    /// A sanity problem of one row.
    fn row_problem(&self) -> Option<(FindingKind, String)> {
        None
    }
    /// The value the outlier rule looks at.
    fn outlier_value(&self) -> Option<f64> {
        None
    }
    /// The holes of the dataset within `[start, end]` (sorted rows; `explicit` says which
    /// ends were given): `(from, to, detail)`.
    fn holes(rows: &[Self], dir: &InstrumentId, range: Range) -> Vec<HoleSpan> {
        let _ = (rows, dir, range);
        Vec::new()
    }
}

/// A hole: first and last missing time, what is missing, and what could refill it.
type HoleSpan = (u64, u64, String, Option<Refill>);

/// The range completeness looks at, and which ends the user gave.
#[derive(Debug, Clone, Copy)]
struct Range {
    start: Option<u64>,
    end: Option<u64>,
}

impl Verified for OpenInterest {
    fn row_problem(&self) -> Option<(FindingKind, String)> {
        (self.open_interest <= 0.0 || self.open_interest.is_nan()).then(|| {
            (
                FindingKind::NonPositiveOi,
                format!("open interest {}", self.open_interest),
            )
        })
    }
    fn outlier_value(&self) -> Option<f64> {
        // A zero or negative figure is reported as such, not again as an outlier.
        (self.open_interest > 0.0).then_some(self.open_interest)
    }
    fn holes(rows: &[Self], _: &InstrumentId, range: Range) -> Vec<HoleSpan> {
        // History buckets (ts_init == ts_event) and live snapshots are two series.
        let mut out = Vec::new();
        for (history, what) in [(true, "history bucket"), (false, "snapshot")] {
            let times: Vec<u64> = rows
                .iter()
                .filter(|r| (r.ts_init == r.ts_event) == history)
                .map(|r| r.ts_event)
                .collect();
            out.extend(cadence_holes(&times, range, what, history));
        }
        out.sort_by_key(|h| h.0);
        out
    }
}

impl Verified for FundingRate {
    fn holes(rows: &[Self], _: &InstrumentId, range: Range) -> Vec<HoleSpan> {
        let settled: Vec<&FundingRate> = rows
            .iter()
            .filter(|r| r.kind() == FundingKind::Settled)
            .collect();
        let mut out = Vec::new();
        let step = |r: &FundingRate| u64::from(r.interval_minutes.unwrap_or(0)) * 60_000_000_000;
        let hole = |from: u64, to: u64, step: u64, out: &mut Vec<HoleSpan>| {
            let missing = (to - from) / step + 1;
            out.push((
                from,
                to,
                format!(
                    "{missing} settled funding time(s) missing (every {} min)",
                    step / 60_000_000_000
                ),
                Some(Refill::Funding),
            ));
        };
        if let (Some(first), Some(start)) = (settled.first(), range.start) {
            let s = step(first);
            if s > 0 && first.ts_event >= start.saturating_add(s) {
                let from = first.ts_event - (first.ts_event - start) / s * s;
                hole(from, first.ts_event - s, s, &mut out);
            }
        }
        for pair in settled.windows(2) {
            let s = step(pair[0]);
            if s > 0 && pair[1].ts_event > pair[0].ts_event + s + s / 2 {
                hole(pair[0].ts_event + s, pair[1].ts_event - s, s, &mut out);
            }
        }
        if let (Some(last), Some(end)) = (settled.last(), range.end) {
            let s = step(last);
            if s > 0 && end >= last.ts_event.saturating_add(s) {
                let to = last.ts_event + (end - last.ts_event) / s * s;
                hole(last.ts_event + s, to, s, &mut out);
            }
        }
        out
    }
}

impl Verified for Liquidation {}
impl Verified for Gap {}

impl Verified for Bar {
    fn row_problem(&self) -> Option<(FindingKind, String)> {
        self.check()
            .err()
            .map(|e| (FindingKind::BadBar, e.to_string()))
    }
    fn outlier_value(&self) -> Option<f64> {
        self.close.to_f64()
    }
    fn holes(rows: &[Self], dir: &InstrumentId, range: Range) -> Vec<HoleSpan> {
        let Ok(bar_type) = dir.as_str().parse::<BarType>() else {
            return Vec::new();
        };
        let interval = bar_type.interval;
        let closes: Vec<u64> = rows.iter().map(|b| b.ts_event).collect();
        let start = match (range.start, closes.first()) {
            (Some(s), _) => s,
            (None, Some(first)) => interval.open_of(*first),
            (None, None) => return Vec::new(),
        };
        let end = match (range.end, closes.last()) {
            (Some(e), _) => e,
            (None, Some(last)) => *last,
            (None, None) => return Vec::new(),
        };
        crate::price::missing_bars(interval, &closes, start, end)
            .into_iter()
            .map(|run| {
                (
                    run.open_ns,
                    run.close_ns,
                    format!("{} bar(s) of {interval} missing", run.count),
                    Some(Refill::Bars),
                )
            })
            .collect()
    }
}

impl Verified for MarkPrice {
    fn outlier_value(&self) -> Option<f64> {
        self.value.to_f64()
    }
}

impl Verified for IndexPrice {
    fn outlier_value(&self) -> Option<f64> {
        self.value.to_f64()
    }
}

/// Holes in a series expected at a regular period: the period is the median spacing of
/// `times`; a spacing longer than 1.5 periods is a hole of the times in between. With explicit
/// ends, the stretches before the first and after the last row count too. History series can
/// be refilled from the venue's history at that period; live snapshots cannot.
fn cadence_holes(times: &[u64], range: Range, what: &str, history: bool) -> Vec<HoleSpan> {
    let mut spacings: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    spacings.retain(|s| *s > 0);
    if spacings.is_empty() {
        return Vec::new();
    }
    spacings.sort_unstable();
    let period = spacings[spacings.len() / 2];
    let limit = period + period / 2;
    let mut out = Vec::new();
    let mut push = |from: u64, to: u64| {
        let missing = (to - from) / period + 1;
        out.push((
            from,
            to,
            format!(
                "about {missing} {what}(s) missing (median spacing {} s)",
                period / 1_000_000_000
            ),
            history.then_some(Refill::OpenInterestHistory { period_ns: period }),
        ));
    };
    if let (Some(first), Some(start)) = (times.first(), range.start)
        && *first > start.saturating_add(limit)
    {
        push(start, first - period);
    }
    for w in times.windows(2) {
        if w[1] - w[0] > limit {
            push(w[0] + period, w[1] - period);
        }
    }
    if let (Some(last), Some(end)) = (times.last(), range.end)
        && end > last.saturating_add(limit)
    {
        push(last + period, end);
    }
    out
}

/// The indexes of `values` that break the outlier rule.
fn outliers(values: &[f64], rule: OutlierRule) -> Vec<(usize, f64)> {
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let lo = i.saturating_sub(rule.window);
        let hi = (i + rule.window + 1).min(values.len());
        let mut around: Vec<f64> = values[lo..hi]
            .iter()
            .enumerate()
            .filter(|(j, x)| lo + j != i && x.is_finite())
            .map(|(_, x)| *x)
            .collect();
        if around.len() < 4 {
            continue;
        }
        let m = median(&mut around);
        let mut deviations: Vec<f64> = around.iter().map(|x| (x - m).abs()).collect();
        let mad = median(&mut deviations) * 1.4826;
        let distance = (v - m).abs();
        if distance > rule.k * mad && distance > rule.min_jump * m.abs() {
            out.push((i, m));
        }
    }
    out
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn fmt_ts(ns: u64) -> String {
    ccxt_model::time::format_iso(ns)
}

impl Catalog {
    /// Verifies every dataset that `include` accepts (by record kind and dataset directory);
    /// stream gaps of the venues of the included datasets are read to explain holes.
    pub async fn verify(
        &self,
        options: &VerifyOptions,
        include: impl Fn(RecordKind, &InstrumentId) -> bool,
    ) -> Result<Vec<Finding>> {
        let gaps = self.recorded_gaps(options).await?;
        let mut findings = Vec::new();
        let mut venues: HashSet<Venue> = HashSet::new();
        for kind in RecordKind::ALL {
            for dir in self.instruments(kind).await? {
                if !include(kind, &dir) {
                    continue;
                }
                if let Some(v) = dataset_venue(kind, &dir) {
                    venues.insert(v);
                }
                self.verify_kind(kind, &dir, options, &gaps, &mut findings)
                    .await?;
            }
        }
        for gap in gaps.iter().filter(|g| venues.contains(&g.venue)) {
            findings.push(Finding {
                kind: FindingKind::StreamGap,
                dataset: RecordKind::Gap,
                instrument: InstrumentId::new_unchecked(gap.venue.nautilus_venue()),
                file: None,
                from: Some(gap.start_ns),
                to: Some(gap.end_ns),
                detail: format!("{} not collected: {}", gap.stream, gap.reason),
                refill: None,
            });
        }
        Ok(findings)
    }

    /// Every recorded stream gap intersecting the options' range.
    async fn recorded_gaps(&self, options: &VerifyOptions) -> Result<Vec<Gap>> {
        let mut out = Vec::new();
        let wanted = (options.start.unwrap_or(0), options.end.unwrap_or(u64::MAX));
        for dir in self.instruments(RecordKind::Gap).await? {
            let listing = self.list_dataset(RecordKind::Gap, &dir).await?;
            for file in listing.files.iter().chain(&listing.foreign) {
                if let Ok(rows) = self.read_checked::<Gap>(file, &dir, 0, u64::MAX).await? {
                    out.extend(
                        rows.into_iter()
                            .filter(|g| intersects((g.start_ns, g.end_ns), wanted)),
                    );
                }
            }
        }
        sort_and_dedup(&mut out);
        out.sort_by_key(|g| (g.start_ns, g.venue));
        Ok(out)
    }

    async fn verify_kind(
        &self,
        kind: RecordKind,
        dir: &InstrumentId,
        options: &VerifyOptions,
        gaps: &[Gap],
        out: &mut Vec<Finding>,
    ) -> Result<()> {
        match kind {
            RecordKind::OpenInterest => {
                self.verify_dataset::<OpenInterest>(dir, options, gaps, out)
                    .await
            }
            RecordKind::FundingRate => {
                self.verify_dataset::<FundingRate>(dir, options, gaps, out)
                    .await
            }
            RecordKind::Liquidation => {
                self.verify_dataset::<Liquidation>(dir, options, gaps, out)
                    .await
            }
            RecordKind::Bar => self.verify_dataset::<Bar>(dir, options, gaps, out).await,
            RecordKind::MarkPrice => {
                self.verify_dataset::<MarkPrice>(dir, options, gaps, out)
                    .await
            }
            RecordKind::IndexPrice => {
                self.verify_dataset::<IndexPrice>(dir, options, gaps, out)
                    .await
            }
            RecordKind::Gap => self.verify_dataset::<Gap>(dir, options, gaps, out).await,
        }
    }

    async fn verify_dataset<T: Verified>(
        &self,
        dir: &InstrumentId,
        options: &VerifyOptions,
        gaps: &[Gap],
        out: &mut Vec<Finding>,
    ) -> Result<()> {
        let finding = |kind: FindingKind,
                       file: Option<String>,
                       from: Option<u64>,
                       to: Option<u64>,
                       detail: String| Finding {
            kind,
            dataset: T::KIND,
            instrument: dir.clone(),
            file,
            from,
            to,
            detail,
            refill: None,
        };
        let (start, end) = (options.start.unwrap_or(0), options.end.unwrap_or(u64::MAX));
        let listing = self.list_dataset(T::KIND, dir).await?;
        for temp in &listing.temps {
            let name = temp.location.filename().unwrap_or_default().to_string();
            out.push(finding(
                FindingKind::TempFile,
                Some(name),
                None,
                None,
                "temporary file of an interrupted write".into(),
            ));
        }
        for file in &listing.foreign {
            out.push(finding(
                FindingKind::ForeignName,
                Some(file_name(file)),
                None,
                None,
                "file name not in <start>_<end>.parquet form".into(),
            ));
        }
        for group in crate::maintenance::overlap_groups(&listing.files) {
            let in_range: Vec<&DataFile> = group
                .iter()
                .filter(|f| f.range.is_some_and(|r| intersects(r, (start, end))))
                .collect();
            if in_range.is_empty() {
                continue;
            }
            let names: Vec<String> = group.iter().map(file_name).collect();
            let from = group.iter().filter_map(|f| f.range).map(|r| r.0).min();
            let to = group.iter().filter_map(|f| f.range).map(|r| r.1).max();
            out.push(finding(
                FindingKind::Overlap,
                names.first().cloned(),
                from,
                to,
                format!("{} files overlap: {}", names.len(), names.join(", ")),
            ));
        }
        // Every row of the files in range, tagged with its file.
        let mut rows: Vec<(usize, T)> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let files = listing
            .files
            .iter()
            .filter(|f| f.range.is_some_and(|r| intersects(r, (start, end))))
            .chain(&listing.foreign);
        for file in files {
            let name = file_name(file);
            let found = match self.read_checked::<T>(file, dir, 0, u64::MAX).await? {
                Ok(found) => found,
                Err(bad) => {
                    // Our readers need the metadata too: say what is missing rather than
                    // only that the file cannot be read.
                    if self.check_metadata::<T>(file, &name, dir, out).await? {
                        continue;
                    }
                    out.push(finding(
                        FindingKind::CorruptFile,
                        Some(name),
                        file.range.map(|r| r.0),
                        file.range.map(|r| r.1),
                        bad.short(),
                    ));
                    continue;
                }
            };
            self.check_metadata::<T>(file, &name, dir, out).await?;
            if let Some(w) = found
                .windows(2)
                .position(|w| w[1].ts_init() < w[0].ts_init())
            {
                out.push(finding(
                    FindingKind::Unsorted,
                    Some(name.clone()),
                    found.first().map(|r| r.ts_init()),
                    found.last().map(|r| r.ts_init()),
                    format!(
                        "rows not sorted by ts_init: row {} ({}) comes after {}",
                        w + 2,
                        fmt_ts(found[w + 1].ts_init()),
                        fmt_ts(found[w].ts_init())
                    ),
                ));
            }
            if let Some((lo, hi)) = file.range {
                let outside: Vec<u64> = found
                    .iter()
                    .map(|r| r.ts_init())
                    .filter(|t| !(lo..=hi).contains(t))
                    .collect();
                if let (Some(a), Some(b)) = (outside.iter().min(), outside.iter().max()) {
                    out.push(finding(
                        FindingKind::OutsideFile,
                        Some(name.clone()),
                        Some(*a),
                        Some(*b),
                        format!(
                            "{} row(s) outside the file name's {} .. {}",
                            outside.len(),
                            fmt_ts(lo),
                            fmt_ts(hi)
                        ),
                    ));
                }
            }
            let index = names.len();
            names.push(name);
            rows.extend(found.into_iter().map(|r| (index, r)));
        }
        rows.retain(|(_, r)| (start..=end).contains(&r.ts_init()));
        rows.sort_by_key(|(i, r)| (r.ts_init(), *i));
        duplicates(&rows, &names, &mut |file, from, to, detail| {
            out.push(finding(
                FindingKind::Duplicate,
                Some(file),
                Some(from),
                Some(to),
                detail,
            ));
        });
        for (i, row) in &rows {
            if let Some((kind, detail)) = row.row_problem() {
                out.push(finding(
                    kind,
                    Some(names[*i].clone()),
                    Some(row.ts_init()),
                    Some(row.ts_init()),
                    detail,
                ));
            }
        }
        let mut unique: Vec<T> = rows.iter().map(|(_, r)| r.clone()).collect();
        sort_and_dedup(&mut unique);
        let valued: Vec<(usize, f64)> = rows
            .iter()
            .enumerate()
            .filter_map(|(i, (_, r))| r.outlier_value().map(|v| (i, v)))
            .collect();
        let values: Vec<f64> = valued.iter().map(|(_, v)| *v).collect();
        for (at, m) in outliers(&values, options.outliers) {
            let (file, row) = &rows[valued[at].0];
            out.push(finding(
                FindingKind::Outlier,
                Some(names[*file].clone()),
                Some(row.ts_init()),
                Some(row.ts_init()),
                format!(
                    "value {} against a median of {m} of its neighbours",
                    values[at]
                ),
            ));
        }
        let venue = dataset_venue(T::KIND, dir);
        let range = Range {
            start: options.start,
            end: options.end,
        };
        for (from, to, detail, refill) in T::holes(&unique, dir, range) {
            let explained = gaps
                .iter()
                .find(|g| Some(g.venue) == venue && intersects((g.start_ns, g.end_ns), (from, to)));
            let (kind, detail) = match explained {
                Some(g) => (
                    FindingKind::ExplainedHole,
                    format!(
                        "{detail}; during the recorded gap of {} ({})",
                        g.stream, g.reason
                    ),
                ),
                None => (FindingKind::Hole, detail),
            };
            out.push(Finding {
                refill,
                ..finding(kind, None, Some(from), Some(to), detail)
            });
        }
        Ok(())
    }

    /// A finding if `file`'s schema lacks metadata NautilusTrader needs; whether there was
    /// one. A file whose footer cannot be read has none (it is a corrupt file).
    async fn check_metadata<T: CatalogRecord>(
        &self,
        file: &DataFile,
        name: &str,
        dir: &InstrumentId,
        out: &mut Vec<Finding>,
    ) -> Result<bool> {
        let required = required_metadata(T::KIND);
        if required.is_empty() {
            return Ok(false);
        }
        let footer = match parquet_io::read_footer(&self.storage, &file.meta).await {
            Ok(footer) => footer,
            Err(e) if e.is_bad_file() => return Ok(false),
            Err(e) => return Err(e),
        };
        let meta = footer.file_metadata();
        let present: HashMap<String, String> =
            match parquet_to_arrow_schema(meta.schema_descr(), meta.key_value_metadata()) {
                Ok(schema) => schema.metadata().clone().into(),
                Err(_) => HashMap::new(),
            };
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|k| !present.contains_key(*k))
            .collect();
        if missing.is_empty() {
            return Ok(false);
        }
        {
            out.push(Finding {
                kind: FindingKind::MissingMetadata,
                dataset: T::KIND,
                instrument: dir.clone(),
                file: Some(name.to_string()),
                from: file.range.map(|r| r.0),
                to: file.range.map(|r| r.1),
                detail: format!(
                    "schema metadata lacks {} (NautilusTrader needs {})",
                    missing.join(", "),
                    required.join(", ")
                ),
                refill: None,
            });
        }
        Ok(true)
    }

    /// Rewrites each dataset that `include` accepts and that holds overlapping files, unsorted
    /// files, rows outside their file's interval or duplicate rows: all its rows are read,
    /// sorted and de-duplicated and written again by the catalog's atomic replace (under the
    /// write lock), so every row is stored exactly once, sorted, in disjoint files.
    pub async fn repair_merge(
        &self,
        targets: &[(RecordKind, InstrumentId)],
    ) -> Result<MergeRepair> {
        let _guard = self.lock().await?;
        let mut report = MergeRepair::default();
        for (kind, dir) in targets {
            match kind {
                RecordKind::OpenInterest => {
                    self.merge_dataset::<OpenInterest>(dir, &mut report).await
                }
                RecordKind::FundingRate => {
                    self.merge_dataset::<FundingRate>(dir, &mut report).await
                }
                RecordKind::Liquidation => {
                    self.merge_dataset::<Liquidation>(dir, &mut report).await
                }
                RecordKind::Bar => self.merge_dataset::<Bar>(dir, &mut report).await,
                RecordKind::MarkPrice => self.merge_dataset::<MarkPrice>(dir, &mut report).await,
                RecordKind::IndexPrice => self.merge_dataset::<IndexPrice>(dir, &mut report).await,
                RecordKind::Gap => self.merge_dataset::<Gap>(dir, &mut report).await,
            }?;
        }
        Ok(report)
    }

    async fn merge_dataset<T: CatalogRecord>(
        &self,
        dir: &InstrumentId,
        report: &mut MergeRepair,
    ) -> Result<()> {
        let listing = self.list_dataset(T::KIND, dir).await?;
        let files: Vec<DataFile> = listing.files.clone();
        let (mut rows, read, _) = self.read_group::<T>(files, dir).await?;
        report.duplicates_removed += sort_and_dedup(&mut rows);
        report.files_before += read.len();
        if !rows.is_empty() {
            report.files_after += self.replace_files(dir, &rows, &read, None).await?;
        }
        report.datasets += 1;
        Ok(())
    }
}

/// Reports duplicates among `rows` (sorted by `ts_init`, tagged with their file index): the
/// same venue identity anywhere in the dataset, or an identical row at the same `ts_init`.
/// One report per file holding later copies: `(file, first ts, last ts, detail)`.
fn duplicates<T: CatalogRecord>(
    rows: &[(usize, T)],
    names: &[String],
    report: &mut dyn FnMut(String, u64, u64, String),
) {
    // file of the copy -> (first copy's file, count, from, to)
    let mut per_file: HashMap<(usize, usize), (u64, u64, u64)> = HashMap::new();
    let mut identities: HashMap<crate::RecordIdentity, usize> = HashMap::new();
    let mut run_start = 0;
    for (i, (file, row)) in rows.iter().enumerate() {
        let first = match row.identity() {
            Some(identity) => match identities.get(&identity) {
                Some(f) => Some(*f),
                None => {
                    identities.insert(identity, *file);
                    None
                }
            },
            None => {
                if rows[run_start].1.ts_init() != row.ts_init() {
                    run_start = i;
                }
                rows[run_start..i]
                    .iter()
                    .find(|(_, r)| r == row)
                    .map(|(f, _)| *f)
            }
        };
        if let Some(first) = first {
            let t = row.ts_init();
            let e = per_file.entry((*file, first)).or_insert((0, t, t));
            e.0 += 1;
            e.1 = e.1.min(t);
            e.2 = e.2.max(t);
        }
    }
    let mut keys: Vec<_> = per_file.into_iter().collect();
    keys.sort_by_key(|((f, g), _)| (*f, *g));
    for ((file, first), (count, from, to)) in keys {
        let detail = if file == first {
            format!("{count} row(s) stored twice in this file")
        } else {
            format!("{count} row(s) also stored in {}", names[first])
        };
        report(names[file].clone(), from, to, detail);
    }
}

fn file_name(file: &DataFile) -> String {
    file.meta
        .location
        .filename()
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spike_is_an_outlier_and_a_trend_is_not() {
        let rule = OutlierRule::default();
        let trend: Vec<f64> = (0..40).map(|i| 100.0 + f64::from(i)).collect();
        assert!(outliers(&trend, rule).is_empty());
        let mut spiked = trend.clone();
        spiked[20] = 1000.0;
        assert_eq!(outliers(&spiked, rule).len(), 1);
        assert_eq!(outliers(&spiked, rule)[0].0, 20);
        // A step (a level shift) is not an outlier.
        let step: Vec<f64> = (0..40)
            .map(|i| if i < 20 { 100.0 } else { 200.0 })
            .collect();
        assert!(outliers(&step, rule).is_empty());
    }

    #[test]
    fn cadence_holes_use_the_median_spacing() {
        let s = 1_000_000_000;
        let times: Vec<u64> = [0, 60, 120, 180, 420, 480, 540]
            .iter()
            .map(|t| t * s)
            .collect();
        let open = Range {
            start: None,
            end: None,
        };
        let holes = cadence_holes(&times, open, "snapshot", false);
        assert_eq!(holes.len(), 1);
        assert_eq!((holes[0].0, holes[0].1), (240 * s, 360 * s));
        assert!(holes[0].2.contains("about 3 snapshot"), "{}", holes[0].2);
    }
}
