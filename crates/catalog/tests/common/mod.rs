//! Row generators and checks shared by the catalog tests.
#![allow(dead_code, clippy::unwrap_used)]

pub mod backend;

use std::path::Path;

use ccxt_catalog::naming::parse_file_name;
use ccxt_catalog::{Catalog, CatalogRecord, Query};
use ccxt_model::time::{NANOS_PER_DAY, NANOS_PER_SECOND};
use ccxt_model::{InstrumentId, OpenInterest};

/// 2025-01-01T00:00:00Z.
pub const DAY0: u64 = 1_735_689_600 * NANOS_PER_SECOND;

pub fn id(s: &str) -> InstrumentId {
    InstrumentId::new_unchecked(s)
}

/// 5-minute open interest for days `first..=last` (day 1 = 2025-01-01), values derived from time.
pub fn oi_days(instrument: &str, first: u64, last: u64) -> Vec<OpenInterest> {
    let mut rows = Vec::new();
    for day in first..=last {
        for i in 0..288 {
            let ts = DAY0 + (day - 1) * NANOS_PER_DAY + i * 300 * NANOS_PER_SECOND;
            rows.push(OpenInterest {
                instrument_id: id(instrument),
                open_interest: (ts / NANOS_PER_SECOND % 100_000) as f64 / 8.0,
                open_interest_value: if i % 7 == 0 {
                    None
                } else {
                    Some(ts as f64 / 1e9)
                },
                ts_event: ts,
                ts_init: ts,
            });
        }
    }
    rows
}

pub fn all(ids: &[&str]) -> Query {
    Query {
        instruments: ids.iter().map(|s| id(s)).collect(),
        start: 0,
        end: u64::MAX,
        limit: None,
    }
}

pub async fn read_all<T: CatalogRecord>(catalog: &Catalog, ids: &[&str]) -> Vec<T> {
    catalog.query::<T>(&all(ids)).await.unwrap().0
}

/// Checks the on-disk invariants NautilusTrader relies on, for every dataset directory:
/// names parse, content lies exactly in the name's range, rows sorted, no two files overlap
/// (a shared endpoint counts), each file within one partition (UTC day; month for funding;
/// by interval for bars), no temporary files.
pub fn assert_layout(root: &Path) {
    let data = root.join("data");
    if !data.exists() {
        return;
    }
    for class in std::fs::read_dir(&data).unwrap() {
        for dataset in std::fs::read_dir(class.unwrap().path()).unwrap() {
            let dataset = dataset.unwrap().path();
            let mut ranges = Vec::new();
            for file in std::fs::read_dir(&dataset).unwrap() {
                let path = file.unwrap().path();
                let name = path.file_name().unwrap().to_str().unwrap().to_string();
                assert!(name.ends_with(".parquet"), "stray file {}", path.display());
                let (start, end) =
                    parse_file_name(&name).unwrap_or_else(|| panic!("bad name {name}"));
                let class_name = path.to_string_lossy().to_string();
                let dataset_name = dataset.file_name().unwrap().to_str().unwrap();
                let partition = if class_name.contains("/data/bar/") {
                    <ccxt_model::Bar as CatalogRecord>::partition(&id(dataset_name))
                } else if class_name.contains("funding_rate_update") {
                    ccxt_catalog::Partition::Month
                } else {
                    ccxt_catalog::Partition::Day
                };
                assert_eq!(
                    partition.start_of(start),
                    partition.start_of(end),
                    "{name} spans partitions"
                );
                let ts = ts_init_column(&path);
                assert!(!ts.is_empty(), "{name} is empty");
                assert!(ts.windows(2).all(|w| w[0] <= w[1]), "{name} not sorted");
                assert_eq!((ts[0], *ts.last().unwrap()), (start, end), "{name} range");
                ranges.push((start, end));
            }
            ranges.sort();
            for w in ranges.windows(2) {
                assert!(w[0].1 < w[1].0, "overlap in {}: {:?}", dataset.display(), w);
            }
        }
    }
}

pub fn ts_init_column(path: &Path) -> Vec<u64> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::UInt64Type;
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let col = batch.column_by_name("ts_init").unwrap();
        out.extend(col.as_primitive::<UInt64Type>().values().iter().copied());
    }
    out
}

pub fn parquet_files(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
