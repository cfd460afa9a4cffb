//! Price data in the catalog: bars, mark prices and index prices in NautilusTrader's built-in
//! layouts, stored and read back exactly, partitioned by bar interval, never duplicated, and
//! files whose metadata does not fit their directory refused by name.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_array::builder::{FixedSizeBinaryBuilder, UInt64Builder};
use arrow_schema::{DataType, Field, Schema};
use ccxt_catalog::price::bar_dataset;
use ccxt_catalog::{Catalog, CatalogRecord, Partition, Query};
use ccxt_model::time::NANOS_PER_DAY;
use ccxt_model::{
    Bar, BarInterval, BarPrice, BarType, IndexPrice, InstrumentId, MarkPrice, Precision,
};
use common::backend::Backend;
use common::*;
use rust_decimal::Decimal;

const BIN: &str = "BTCUSDT-PERP.BINANCE";
const HL: &str = "BTC-USD-PERP.HYPERLIQUID";
const MIN: u64 = 60_000_000_000;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn bar_type(instrument: &str, interval: BarInterval, price: BarPrice) -> BarType {
    BarType::new(InstrumentId::new_unchecked(instrument), interval, price)
}

/// A consistent bar opening at `open_ns`, prices derived from `i`.
fn bar(bt: &BarType, open_ns: u64, i: u64, precision: Precision) -> Bar {
    let base = Decimal::new(9_400_000 + (i as i64 * 37) % 5_000, 1); // 94000.0 + …
    let close = bt.interval.close_of(open_ns);
    Bar {
        bar_type: bt.clone(),
        open: base,
        high: base + d("12.5"),
        low: base - d("7.3"),
        close: base + d("0.1"),
        volume: if bt.price == BarPrice::Mark {
            Decimal::ZERO
        } else {
            Decimal::new(12_345 + i as i64, 3)
        },
        precision,
        ts_event: close,
        ts_init: close,
    }
}

fn bars(bt: &BarType, first_open: u64, n: u64, precision: Precision) -> Vec<Bar> {
    let mut out = Vec::new();
    let mut open = first_open;
    for i in 0..n {
        out.push(bar(bt, open, i, precision));
        open = bt.interval.close_of(open);
    }
    out
}

async fn writable(b: &Backend) -> Catalog {
    b.open_writable().await.0
}

fn files_of(root: &Path, class: &str, dataset: &str) -> Vec<PathBuf> {
    let dir = root.join("data").join(class).join(dataset);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

fn file_names(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .map(|f| f.file_name().unwrap().to_str().unwrap().to_string())
        .collect()
}

/// The Arrow schema (columns and metadata) of a Parquet file.
fn schema_of(path: &Path) -> arrow_schema::SchemaRef {
    let file = std::fs::File::open(path).unwrap();
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .schema()
        .clone()
}

fn first_batch(path: &Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap();
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
}

async fn query_all<T: CatalogRecord>(catalog: &Catalog, datasets: &[InstrumentId]) -> Vec<T> {
    let query = Query {
        instruments: datasets.to_vec(),
        start: 0,
        end: u64::MAX,
        limit: None,
    };
    catalog.query::<T>(&query).await.unwrap().0
}

async fn bars_round_trip_exactly_in_nautilus_layout(b: Backend) {
    let catalog = writable(&b).await;
    let last = bar_type(BIN, BarInterval::M1, BarPrice::Last);
    let mark = bar_type(HL, BarInterval::H1, BarPrice::Mark);
    let p_bin = Precision { price: 1, size: 3 };
    let p_hl = Precision { price: 1, size: 5 };
    let mut rows = bars(&last, DAY0, 90, p_bin);
    rows.extend(bars(&mark, DAY0, 30, p_hl));
    let report = catalog.write(rows.clone()).await.unwrap();
    assert_eq!(report.rows_added, 120);

    let back: Vec<Bar> = query_all(&catalog, &[bar_dataset(&last)]).await;
    assert_eq!(back, rows[..90]);
    // Decimals come back with the file's precision, as NautilusTrader shows them.
    assert_eq!(back[0].open.to_string(), "940000.0");
    assert_eq!(back[0].volume.to_string(), "12.345");
    assert!(back.iter().all(|b| b.precision == p_bin));
    let back: Vec<Bar> = query_all(&catalog, &[bar_dataset(&mark)]).await;
    assert_eq!(back, rows[90..]);
    assert_eq!(back[0].volume.to_string(), "0.00000");

    // On disk: data/bar/<BAR_TYPE>/, NautilusTrader's columns in order, metadata strings.
    let files = files_of(
        b.dir(),
        "bar",
        "BTCUSDT-PERP.BINANCE-1-MINUTE-LAST-EXTERNAL",
    );
    assert_eq!(
        file_names(&files),
        ["2025-01-01T00-01-00-000000000Z_2025-01-01T01-30-00-000000000Z.parquet"]
    );
    let schema = schema_of(&files[0]);
    let columns: Vec<(&str, &DataType)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), f.data_type()))
        .collect();
    let fsb = DataType::FixedSizeBinary(16);
    assert_eq!(
        columns,
        [
            ("open", &fsb),
            ("high", &fsb),
            ("low", &fsb),
            ("close", &fsb),
            ("volume", &fsb),
            ("ts_event", &DataType::UInt64),
            ("ts_init", &DataType::UInt64),
        ]
    );
    let meta = schema.metadata();
    assert_eq!(
        meta["bar_type"],
        "BTCUSDT-PERP.BINANCE-1-MINUTE-LAST-EXTERNAL"
    );
    assert_eq!(meta["instrument_id"], BIN);
    assert_eq!(meta["price_precision"], "1");
    assert_eq!(meta["size_precision"], "3");
    // The raw of 940000.0 is 9400000·10^15, little-endian i128.
    let batch = first_batch(&files[0]);
    let open = batch
        .column(0)
        .as_any()
        .downcast_ref::<arrow_array::FixedSizeBinaryArray>()
        .unwrap()
        .value(0)
        .to_vec();
    assert_eq!(open, (9_400_000i128 * 10i128.pow(15)).to_le_bytes());
    assert_eq!(
        schema_of(
            &files_of(
                b.dir(),
                "bar",
                "BTC-USD-PERP.HYPERLIQUID-1-HOUR-MARK-EXTERNAL"
            )[0]
        )
        .metadata()["size_precision"],
        "5"
    );
    assert_layout(b.dir());
}

async fn mark_and_index_prices_round_trip_with_eight_decimals(b: Backend) {
    let catalog = writable(&b).await;
    let marks: Vec<MarkPrice> = ["94012.34567890", "94013.1", "94011"]
        .iter()
        .enumerate()
        .map(|(i, v)| MarkPrice {
            instrument_id: id(BIN),
            value: d(v),
            ts_event: DAY0 + i as u64 * 1_000_000_000,
            ts_init: DAY0 + i as u64 * 1_000_000_000 + 40_000_000,
        })
        .collect();
    let index: Vec<IndexPrice> = marks
        .iter()
        .map(|m| IndexPrice {
            instrument_id: id(HL),
            value: m.value - d("1.5"),
            ts_event: m.ts_event,
            ts_init: m.ts_init,
        })
        .collect();
    catalog.write(marks.clone()).await.unwrap();
    catalog.write(index.clone()).await.unwrap();

    let back: Vec<MarkPrice> = query_all(&catalog, &[id(BIN)]).await;
    assert_eq!(back, marks);
    let shown: Vec<String> = back.iter().map(|m| m.value.to_string()).collect();
    assert_eq!(
        shown,
        ["94012.34567890", "94013.10000000", "94011.00000000"]
    );
    let back: Vec<IndexPrice> = query_all(&catalog, &[id(HL)]).await;
    assert_eq!(back, index);

    for (class, dataset) in [("mark_price_update", BIN), ("index_price_update", HL)] {
        let files = files_of(b.dir(), class, dataset);
        assert_eq!(files.len(), 1, "{class}");
        let schema = schema_of(&files[0]);
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["value", "ts_event", "ts_init"]);
        assert_eq!(schema.field(0).data_type(), &DataType::FixedSizeBinary(16));
        assert_eq!(schema.metadata()["instrument_id"], dataset);
        assert_eq!(schema.metadata()["price_precision"], "8");
    }

    // A value that needs more decimals raises the file's precision instead of being rounded.
    let fine = MarkPrice {
        instrument_id: id(BIN),
        value: d("0.0000012345"),
        ts_event: DAY0 + 10 * NANOS_PER_DAY,
        ts_init: DAY0 + 10 * NANOS_PER_DAY,
    };
    catalog.write(vec![fine.clone()]).await.unwrap();
    let back: Vec<MarkPrice> = query_all(&catalog, &[id(BIN)]).await;
    assert_eq!(back.last(), Some(&fine));
    let files = files_of(b.dir(), "mark_price_update", BIN);
    assert_eq!(schema_of(&files[1]).metadata()["price_precision"], "10");
    assert_layout(b.dir());
}

async fn a_price_quoted_again_at_the_same_venue_time_is_stored_once(b: Backend) {
    let catalog = writable(&b).await;
    let mark = |ts_event: u64, ts_init: u64| MarkPrice {
        instrument_id: id(BIN),
        value: d("94012.5"),
        ts_event,
        ts_init,
    };
    // The funding snapshot, then the OI snapshot of the same venue quote a second later.
    let first = mark(DAY0, DAY0 + 40_000_000);
    assert_eq!(
        catalog.write(vec![first.clone()]).await.unwrap().rows_added,
        1
    );
    let again = mark(DAY0, DAY0 + 1_040_000_000);
    assert_eq!(
        catalog.write(vec![again.clone()]).await.unwrap().rows_added,
        0
    );
    // Both in one write, and across midnight (received after the day's file ends).
    let late = mark(DAY0 + NANOS_PER_DAY - 1, DAY0 + NANOS_PER_DAY + 5);
    let late_again = mark(
        DAY0 + NANOS_PER_DAY - 1,
        DAY0 + NANOS_PER_DAY - 1 + 2_000_000,
    );
    let report = catalog.write(vec![late.clone(), late_again]).await.unwrap();
    assert_eq!(report.rows_added, 1);
    // A new venue time is a new price, even with the same value.
    let next = mark(DAY0 + 1_000_000_000, DAY0 + 1_040_000_000);
    assert_eq!(
        catalog.write(vec![next.clone()]).await.unwrap().rows_added,
        1
    );
    let back: Vec<MarkPrice> = query_all(&catalog, &[id(BIN)]).await;
    let times: Vec<(u64, u64)> = back.iter().map(|m| (m.ts_event, m.ts_init)).collect();
    let mut expected = [first, next, late];
    expected.sort_by_key(|m| m.ts_init);
    let want: Vec<(u64, u64)> = expected.iter().map(|m| (m.ts_event, m.ts_init)).collect();
    assert_eq!(times, want, "the first delivery of each venue time stays");
}

async fn bar_files_are_days_months_or_years_by_interval(b: Backend) {
    let catalog = writable(&b).await;
    let p = Precision { price: 1, size: 3 };
    // 1-minute bars across midnight: two day files (the 00:00 close belongs to the new day).
    let m1 = bar_type(BIN, BarInterval::M1, BarPrice::Last);
    catalog
        .write(bars(&m1, DAY0 + NANOS_PER_DAY - 3 * MIN, 5, p))
        .await
        .unwrap();
    assert_eq!(
        file_names(&files_of(b.dir(), "bar", &m1.to_string())),
        [
            "2025-01-01T23-58-00-000000000Z_2025-01-01T23-59-00-000000000Z.parquet",
            "2025-01-02T00-00-00-000000000Z_2025-01-02T00-02-00-000000000Z.parquet",
        ]
    );
    // 4-hour bars over 40 days: one file per month.
    let h4 = bar_type(BIN, BarInterval::H4, BarPrice::Last);
    catalog.write(bars(&h4, DAY0, 6 * 40, p)).await.unwrap();
    assert_eq!(files_of(b.dir(), "bar", &h4.to_string()).len(), 2);
    // Monthly bars opening January 2024 to November 2025, stamped at their close: the
    // December 2024 bar closes on 2025-01-01, so it is in the 2025 file.
    let mo = bar_type(BIN, BarInterval::Month1, BarPrice::Last);
    let jan_2024 = 1_704_067_200 * 1_000_000_000; // 2024-01-01T00:00Z
    let monthly = bars(&mo, jan_2024, 23, p);
    catalog.write(monthly.clone()).await.unwrap();
    assert_eq!(
        file_names(&files_of(b.dir(), "bar", &mo.to_string())),
        [
            "2024-02-01T00-00-00-000000000Z_2024-12-01T00-00-00-000000000Z.parquet",
            "2025-01-01T00-00-00-000000000Z_2025-12-01T00-00-00-000000000Z.parquet",
        ]
    );
    assert_eq!(
        query_all::<Bar>(&catalog, &[bar_dataset(&mo)]).await,
        monthly
    );
    // Weekly bars: the week of Monday 2024-12-30 closes on Monday 2025-01-06, in 2025.
    let w1 = bar_type(BIN, BarInterval::W1, BarPrice::Last);
    let dec_23 = BarInterval::W1.floor(DAY0 - 8 * NANOS_PER_DAY);
    let weekly = bars(&w1, dec_23, 3, p);
    catalog.write(weekly.clone()).await.unwrap();
    assert_eq!(
        file_names(&files_of(b.dir(), "bar", &w1.to_string())),
        [
            "2024-12-30T00-00-00-000000000Z_2024-12-30T00-00-00-000000000Z.parquet",
            "2025-01-06T00-00-00-000000000Z_2025-01-13T00-00-00-000000000Z.parquet",
        ]
    );
    assert_eq!(
        query_all::<Bar>(&catalog, &[bar_dataset(&w1)]).await,
        weekly
    );
    // Compaction keeps that layout.
    catalog.compact().await.unwrap();
    assert_eq!(files_of(b.dir(), "bar", &w1.to_string()).len(), 2);
    assert_eq!(files_of(b.dir(), "bar", &mo.to_string()).len(), 2);
    assert_layout(b.dir());
}

async fn re_fetched_bars_are_stored_once_and_the_first_stays(b: Backend) {
    let catalog = writable(&b).await;
    let p = Precision { price: 1, size: 3 };
    let h1 = bar_type(BIN, BarInterval::H1, BarPrice::Last);
    let first = bars(&h1, DAY0, 48, p);
    catalog.write(first.clone()).await.unwrap();
    // The same again, and an overlapping window whose shared bars differ (a venue that revised
    // its volume) plus 24 new ones.
    let report = catalog.write(first.clone()).await.unwrap();
    assert_eq!((report.rows_added, report.files_written), (0, 0));
    let mut overlap = bars(&h1, DAY0 + 24 * 60 * MIN, 48, p);
    for b in &mut overlap {
        b.volume += d("1");
    }
    let report = catalog.write(overlap.clone()).await.unwrap();
    assert_eq!((report.rows_added, report.duplicates), (24, 24));
    let back: Vec<Bar> = query_all(&catalog, &[bar_dataset(&h1)]).await;
    assert_eq!(back.len(), 72);
    assert_eq!(back[..48], first[..]);
    assert_eq!(back[48..], overlap[24..]);
    let closes: Vec<u64> = back.iter().map(|b| b.ts_event).collect();
    assert!(closes.windows(2).all(|w| w[0] < w[1]));
    assert_layout(b.dir());
}

async fn a_precision_change_starts_a_new_file(b: Backend) {
    let catalog = writable(&b).await;
    let m1 = bar_type(BIN, BarInterval::M1, BarPrice::Last);
    let mut rows = bars(&m1, DAY0, 10, Precision { price: 1, size: 3 });
    let mut finer = bars(&m1, DAY0 + 10 * MIN, 10, Precision { price: 2, size: 3 });
    finer[0].close = d("94000.25");
    finer[0].high = finer[0].high.max(finer[0].close);
    rows.append(&mut finer);
    catalog.write(rows.clone()).await.unwrap();
    let files = files_of(b.dir(), "bar", &m1.to_string());
    assert_eq!(files.len(), 2);
    assert_eq!(schema_of(&files[0]).metadata()["price_precision"], "1");
    assert_eq!(schema_of(&files[1]).metadata()["price_precision"], "2");
    assert_eq!(query_all::<Bar>(&catalog, &[bar_dataset(&m1)]).await, rows);
    // Compaction leaves the two files of that day alone, and merges small files of one
    // precision.
    let report = catalog.compact().await.unwrap();
    assert_eq!(report.datasets_compacted, 0, "{report:?}");
    let more = bars(&m1, DAY0 + 20 * MIN, 5, Precision { price: 2, size: 3 });
    catalog.write(more.clone()).await.unwrap();
    let report = catalog.compact().await.unwrap();
    assert_eq!(
        (report.files_before, report.files_after),
        (3, 2),
        "{report:?}"
    );
    let files = files_of(b.dir(), "bar", &m1.to_string());
    assert_eq!(files.len(), 2);
    rows.extend(more);
    assert_eq!(query_all::<Bar>(&catalog, &[bar_dataset(&m1)]).await, rows);
    assert_layout(b.dir());
}

/// A bar file written by hand with the given metadata.
fn bar_file_with(path: &Path, metadata: HashMap<String, String>) {
    let fsb = |v: i128| {
        let mut b = FixedSizeBinaryBuilder::new(16);
        b.append_value(v.to_le_bytes()).unwrap();
        Arc::new(b.finish()) as arrow_array::ArrayRef
    };
    let ts = |v: u64| {
        let mut b = UInt64Builder::new();
        b.append_value(v);
        Arc::new(b.finish()) as arrow_array::ArrayRef
    };
    let mut fields: Vec<Field> = ["open", "high", "low", "close", "volume"]
        .iter()
        .map(|n| Field::new(*n, DataType::FixedSizeBinary(16), false))
        .collect();
    fields.push(Field::new("ts_event", DataType::UInt64, false));
    fields.push(Field::new("ts_init", DataType::UInt64, false));
    let schema = Arc::new(Schema::new_with_metadata(fields, metadata));
    let raw = 100 * 10i128.pow(16);
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            fsb(raw),
            fsb(raw),
            fsb(raw),
            fsb(raw),
            fsb(raw),
            ts(DAY0 + MIN),
            ts(DAY0 + MIN),
        ],
    )
    .unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None)
            .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

async fn a_bar_file_whose_metadata_does_not_fit_is_refused_by_name_and_quarantined_by_writers(
    first: Backend,
) {
    let kind = first.kind;
    drop(first);
    let m1 = bar_type(BIN, BarInterval::M1, BarPrice::Last);
    let meta = |bar_type: &str, with_precision: bool| {
        let mut m = HashMap::from([
            ("bar_type".to_string(), bar_type.to_string()),
            ("instrument_id".to_string(), BIN.to_string()),
        ]);
        if with_precision {
            m.insert("price_precision".into(), "1".into());
            m.insert("size_precision".into(), "3".into());
        }
        m
    };
    let cases = [
        (
            meta("BTCUSDT-PERP.BINANCE-5-MINUTE-LAST-EXTERNAL", true),
            "schema metadata bar_type 'BTCUSDT-PERP.BINANCE-5-MINUTE-LAST-EXTERNAL' in the directory of 'BTCUSDT-PERP.BINANCE-1-MINUTE-LAST-EXTERNAL'",
        ),
        (
            meta(&m1.to_string(), false),
            "schema metadata 'price_precision' is missing",
        ),
    ];
    for (metadata, reason) in cases {
        let b = Backend::new(kind).await;
        let catalog = writable(&b).await;
        let path = b
            .dir()
            .join("data/bar")
            .join(m1.to_string())
            .join("2025-01-01T00-01-00-000000000Z_2025-01-01T00-01-00-000000000Z.parquet");
        bar_file_with(&path, metadata);
        let query = Query {
            instruments: vec![bar_dataset(&m1)],
            start: 0,
            end: u64::MAX,
            limit: None,
        };
        let err = catalog.query::<Bar>(&query).await.unwrap_err();
        let message = err.to_string();
        assert!(err.is_bad_file(), "{message}");
        assert!(message.contains(&b.shown(&path)), "{message}");
        assert!(message.contains(reason), "{message}");
        // `catalog info` lists it as a problem of the dataset.
        let info = catalog.info().await.unwrap();
        assert_eq!(info.len(), 1);
        assert_eq!(info[0].rows, 0);
        assert!(
            info[0].problems[0].contains(reason),
            "{:?}",
            info[0].problems
        );
        // A write over its time moves it to the quarantine and stores the new bar.
        let good = bars(&m1, DAY0, 1, Precision { price: 1, size: 3 });
        catalog.write(good.clone()).await.unwrap();
        assert_eq!(catalog.quarantined().len(), 1);
        assert_eq!(catalog.quarantined()[0].path, b.shown(&path));
        assert_eq!(catalog.quarantine_contents().await.unwrap().len(), 1);
        assert_eq!(query_all::<Bar>(&catalog, &[bar_dataset(&m1)]).await, good);
    }
}

#[test]
fn bar_partitions_follow_the_interval() {
    for (interval, partition) in [
        (BarInterval::M1, Partition::Day),
        (BarInterval::M15, Partition::Day),
        (BarInterval::M30, Partition::Month),
        (BarInterval::H12, Partition::Month),
        (BarInterval::D1, Partition::Year),
        (BarInterval::W1, Partition::Year),
        (BarInterval::Month1, Partition::Year),
    ] {
        let bt = bar_type(BIN, interval, BarPrice::Last);
        assert_eq!(Bar::partition(&bar_dataset(&bt)), partition, "{interval}");
    }
}

async fn a_mark_price_file_in_another_instruments_directory_is_refused_by_name(b: Backend) {
    let catalog = writable(&b).await;
    let mark = MarkPrice {
        instrument_id: id(BIN),
        value: d("94000.5"),
        ts_event: DAY0,
        ts_init: DAY0,
    };
    catalog.write(vec![mark]).await.unwrap();
    let file = files_of(b.dir(), "mark_price_update", BIN).remove(0);
    let moved = b
        .dir()
        .join("data/mark_price_update")
        .join(HL)
        .join(file.file_name().unwrap());
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::copy(&file, &moved).unwrap();
    let query = Query {
        instruments: vec![id(HL)],
        start: 0,
        end: u64::MAX,
        limit: None,
    };
    let err = catalog.query::<MarkPrice>(&query).await.unwrap_err();
    let message = err.to_string();
    assert!(err.is_bad_file(), "{message}");
    assert!(message.contains(&b.shown(&moved)), "{message}");
    assert!(
        message.contains(&format!(
            "schema metadata instrument_id '{BIN}' in the directory of '{HL}'"
        )),
        "{message}"
    );
    // The index reader refuses it too: the record kind in the footer is not its own.
    let index_dir = b.dir().join("data/index_price_update").join(BIN);
    std::fs::create_dir_all(&index_dir).unwrap();
    std::fs::copy(&file, index_dir.join(file.file_name().unwrap())).unwrap();
    let query = Query {
        instruments: vec![id(BIN)],
        ..query
    };
    let err = catalog.query::<IndexPrice>(&query).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("it holds mark_price_update records"),
        "{err}"
    );
}

async fn missing_bars_are_exactly_the_planted_holes_across_files(b: Backend) {
    use ccxt_catalog::price::{MissingBars, grid_bars, missing_bars};
    let catalog = writable(&b).await;
    let m1 = bar_type(BIN, BarInterval::M1, BarPrice::Last);
    // 1-minute bars from 23:00 on day 1 to 01:00 on day 2 (two day files), with holes planted
    // at 23:10-23:13 (3 bars), the last bar of day 1 (23:59-00:00) and 00:30.
    let mut all = bars(
        &m1,
        DAY0 + 23 * 60 * MIN,
        120,
        Precision { price: 1, size: 3 },
    );
    let planted = [(70, 73), (119, 120), (150, 151)];
    let first_open = DAY0 + 23 * 60 * MIN;
    all.retain(|b| {
        let i = (b.open_ns() - first_open) / MIN + 60;
        !planted.iter().any(|(a, z)| (*a..*z).contains(&i))
    });
    catalog.write(all.clone()).await.unwrap();
    let stored: Vec<Bar> = query_all(&catalog, &[bar_dataset(&m1)]).await;
    let closes: Vec<u64> = stored.iter().map(|b| b.ts_event).collect();
    let start = first_open;
    let end = first_open + 120 * MIN;
    let runs = missing_bars(BarInterval::M1, &closes, start, end);
    let at = |i: u64| first_open + (i - 60) * MIN;
    assert_eq!(
        runs,
        planted
            .iter()
            .map(|(a, z)| MissingBars {
                open_ns: at(*a),
                close_ns: at(*z),
                count: z - a,
            })
            .collect::<Vec<_>>()
    );
    // catalog info counts them from names and footers alone.
    let info = catalog.info().await.unwrap();
    assert_eq!(info[0].missing_bars, Some(5));
    assert_eq!(
        grid_bars(BarInterval::M1, closes[0], *closes.last().unwrap()),
        stored.len() as u64 + 5
    );
}

backends!(
    a_bar_file_whose_metadata_does_not_fit_is_refused_by_name_and_quarantined_by_writers,
    missing_bars_are_exactly_the_planted_holes_across_files,
    bars_round_trip_exactly_in_nautilus_layout,
    mark_and_index_prices_round_trip_with_eight_decimals,
    a_price_quoted_again_at_the_same_venue_time_is_stored_once,
    bar_files_are_days_months_or_years_by_interval,
    re_fetched_bars_are_stored_once_and_the_first_stays,
    a_precision_change_starts_a_new_file,
    a_mark_price_file_in_another_instruments_directory_is_refused_by_name,
);
