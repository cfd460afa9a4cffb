//! Writer behaviour: merging, de-duplication, layout, metadata, compaction.
#![allow(clippy::unwrap_used)]

mod common;

use ccxt_catalog::{
    Catalog, DatasetSlice, KEY_RECORD, KEY_SCHEMA_VERSION, SCHEMA_VERSION, Storage,
};
use ccxt_model::time::{NANOS_PER_DAY, NANOS_PER_SECOND};
use ccxt_model::{FundingRate, InstrumentId, OpenInterest, RecordKind};
use common::backend::Backend;
use common::*;

async fn merge_days_3_to_5_then_1_to_4_gives_one_consistent_set(b: Backend) {
    let (catalog, _) = b.open_writable().await;
    let first = catalog
        .write(oi_days("BTCUSDT-PERP.BINANCE", 3, 5))
        .await
        .unwrap();
    assert_eq!((first.rows_added, first.files_written), (864, 3));

    let second = catalog
        .write(oi_days("BTCUSDT-PERP.BINANCE", 1, 4))
        .await
        .unwrap();
    // Days 1 and 2 are new; days 3 and 4 were already there.
    assert_eq!(second.rows_in, 1152);
    assert_eq!(second.rows_added, 576);
    assert_eq!(second.duplicates, 576);
    assert_eq!(second.files_replaced, 2);

    let rows: Vec<OpenInterest> = read_all(&catalog, &["BTCUSDT-PERP.BINANCE"]).await;
    assert_eq!(
        rows,
        oi_days("BTCUSDT-PERP.BINANCE", 1, 5),
        "every row once, in order"
    );
    assert_layout(b.dir());
    assert_eq!(parquet_files(b.dir()).len(), 5, "one file per day");
}

async fn rewriting_stored_rows_adds_and_rewrites_nothing(b: Backend) {
    let (catalog, _) = b.open_writable().await;
    catalog
        .write(oi_days("ETHUSDT-PERP.BINANCE", 1, 2))
        .await
        .unwrap();
    let before: Vec<_> = parquet_files(b.dir())
        .into_iter()
        .map(|p| std::fs::metadata(&p).unwrap().modified().unwrap())
        .collect();
    let again = catalog
        .write(oi_days("ETHUSDT-PERP.BINANCE", 1, 2))
        .await
        .unwrap();
    assert_eq!(
        (again.rows_added, again.files_written, again.duplicates),
        (0, 0, 576)
    );
    let after: Vec<_> = parquet_files(b.dir())
        .into_iter()
        .map(|p| std::fs::metadata(&p).unwrap().modified().unwrap())
        .collect();
    assert_eq!(before, after, "no file rewritten");
}

async fn distinct_rows_at_the_same_time_are_kept_identical_ones_dropped(b: Backend) {
    let (catalog, _) = b.open_writable().await;
    let mut rows = oi_days("BTCUSDT-LINEAR.BYBIT", 1, 1);
    rows.truncate(3);
    let mut twin = rows[1].clone();
    twin.open_interest += 1.0; // same time, different value: a different record
    rows.push(twin.clone());
    rows.push(rows[0].clone()); // identical: dropped
    let report = catalog.write(rows).await.unwrap();
    assert_eq!((report.rows_added, report.duplicates), (4, 1));
    let stored: Vec<OpenInterest> = read_all(&catalog, &["BTCUSDT-LINEAR.BYBIT"]).await;
    assert_eq!(stored.len(), 4);
    assert!(stored.contains(&twin));
    // A row sharing only the last file's end timestamp is merged, never a second overlapping file.
    let mut edge = stored[3].clone();
    edge.open_interest = -5.0;
    catalog.write(vec![edge]).await.unwrap();
    assert_layout(b.dir());
    assert_eq!(parquet_files(b.dir()).len(), 1);
}

async fn files_carry_nautilus_metadata_schema_version_and_statistics(b: Backend) {
    let (catalog, _) = b.open_writable().await;
    let rate = FundingRate {
        instrument_id: id("BTCUSDT-PERP.BINANCE"),
        rate: "0.00010000".parse().unwrap(),
        interval_minutes: Some(480),
        next_funding_ns: None,
        ts_event: DAY0,
        ts_init: DAY0,
    };
    catalog.write(vec![rate]).await.unwrap();
    let path = b
        .dir()
        .join("data/funding_rate_update/BTCUSDT-PERP.BINANCE/2025-01-01T00-00-00-000000000Z_2025-01-01T00-00-00-000000000Z.parquet");
    let reader =
        parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&path).unwrap())
            .unwrap();
    use parquet::file::reader::FileReader;
    let meta = reader.metadata();
    let kv: std::collections::HashMap<_, _> = meta
        .file_metadata()
        .key_value_metadata()
        .unwrap()
        .iter()
        .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
        .collect();
    assert_eq!(kv[KEY_SCHEMA_VERSION], SCHEMA_VERSION.to_string());
    assert_eq!(kv[KEY_RECORD], "funding_rate_update");
    assert!(kv.contains_key("ARROW:schema"));
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&path).unwrap(),
    )
    .unwrap();
    let schema = builder.schema();
    assert_eq!(schema.metadata()["instrument_id"], "BTCUSDT-PERP.BINANCE");
    let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        ["rate", "interval", "next_funding_ns", "ts_event", "ts_init"]
    );
    let batch = builder.build().unwrap().next().unwrap().unwrap();
    use arrow_array::cast::AsArray;
    assert_eq!(
        batch.column(0).as_binary::<i32>().value(0),
        b"\"0.00010000\""
    );
    let rg = meta.row_group(0);
    assert!(rg.column(4).statistics().is_some(), "ts_init statistics");
    assert_eq!(
        rg.column(0).compression(),
        parquet::basic::Compression::ZSTD(Default::default())
    );
}

async fn compaction_merges_small_files_into_one_per_day(b: Backend) {
    let (catalog, _) = b.open_writable().await;
    let rows = oi_days("SOLUSDT-PERP.BINANCE", 1, 2);
    for chunk in rows.chunks(48) {
        catalog.write(chunk.to_vec()).await.unwrap(); // like streaming flushes
    }
    assert_eq!(parquet_files(b.dir()).len(), 12);
    let report = catalog.compact().await.unwrap();
    assert_eq!(
        (
            report.files_before,
            report.files_after,
            report.rows_rewritten
        ),
        (12, 2, 576)
    );
    assert_layout(b.dir());
    let stored: Vec<OpenInterest> = read_all(&catalog, &["SOLUSDT-PERP.BINANCE"]).await;
    assert_eq!(stored, rows);
    let again = catalog.compact().await.unwrap();
    assert_eq!(again.datasets_compacted, 0, "compaction is idempotent");
}

#[tokio::test]
async fn the_same_code_runs_on_an_object_store_without_a_file_system() {
    let catalog = Catalog::from_storage(Storage::in_memory());
    catalog
        .write(oi_days("BTC-USD-PERP.HYPERLIQUID", 3, 5))
        .await
        .unwrap();
    catalog
        .write(oi_days("BTC-USD-PERP.HYPERLIQUID", 1, 4))
        .await
        .unwrap();
    let rows: Vec<OpenInterest> = read_all(&catalog, &["BTC-USD-PERP.HYPERLIQUID"]).await;
    assert_eq!(rows, oi_days("BTC-USD-PERP.HYPERLIQUID", 1, 5));
    let info = catalog.info().await.unwrap();
    assert_eq!((info.len(), info[0].files, info[0].rows), (1, 5, 1440));
}

async fn a_write_spanning_many_instruments_groups_them(b: Backend) {
    let (catalog, _) = b.open_writable().await;
    let mut rows = oi_days("AUSDT-PERP.BINANCE", 1, 1);
    rows.extend(oi_days("BUSDT-PERP.BINANCE", 1, 1));
    rows.reverse(); // any order in, sorted out
    let report = catalog.write(rows).await.unwrap();
    assert_eq!((report.rows_added, report.files_written), (576, 2));
    assert_layout(b.dir());
    let info = catalog.info().await.unwrap();
    assert_eq!(info.len(), 2);
    assert!(
        info.iter()
            .all(|d| d.rows == 288 && d.first_ts == Some(DAY0) && d.problems.is_empty())
    );
    assert_eq!(info[0].last_ts, Some(DAY0 + 287 * 300 * NANOS_PER_SECOND));
}

async fn sparse_funding_is_stored_one_file_per_month(b: Backend) {
    let (catalog, _) = b.open_writable().await;
    // Every 8 h for 90 days from 2025-01-01: January, February, March.
    let rows: Vec<FundingRate> = (0..270u64)
        .map(|i| {
            let ts = DAY0 + i * 8 * 3600 * NANOS_PER_SECOND;
            FundingRate {
                instrument_id: id("BTCUSDT-PERP.BINANCE"),
                rate: rust_decimal::Decimal::new(i as i64, 8),
                interval_minutes: Some(480),
                next_funding_ns: None,
                ts_event: ts,
                ts_init: ts,
            }
        })
        .collect();
    catalog.write(rows).await.unwrap();
    assert_layout(b.dir());
    let names: Vec<String> = parquet_files(b.dir())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy()[..7].to_string())
        .collect();
    assert_eq!(names, ["2025-01", "2025-02", "2025-03"]);
}

/// Names of the dataset's files, sorted.
fn file_names(b: &Backend) -> Vec<String> {
    let mut names: Vec<String> = parquet_files(b.dir())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn appending_compaction_merges_an_open_day_in_tiers_and_an_ended_one_whole(b: Backend) {
    let (catalog, _) = b.open_writable().await;
    let instrument = "XRPUSDT-PERP.BINANCE";
    let rows = oi_days(instrument, 1, 2);
    let (day1, day2) = rows.split_at(288);
    // Day 1: four flushes of six hours. Day 2: twelve hours in one file, then an hour of
    // single-row flushes, as the daemon writes them.
    for chunk in day1.chunks(72) {
        catalog.write(chunk.to_vec()).await.unwrap();
    }
    catalog.write(day2[..144].to_vec()).await.unwrap();
    for row in &day2[144..156] {
        catalog.write(vec![row.clone()]).await.unwrap();
    }
    let base = parquet_files(b.dir())
        .into_iter()
        .find(|p| p.to_string_lossy().contains("2025-01-02T00-00-00"))
        .unwrap();
    let base_bytes = std::fs::read(&base).unwrap();
    // "Now" is 13:00 on day 2: day 1 has ended, day 2 is open.
    let now = DAY0 + NANOS_PER_DAY + 13 * 3600 * NANOS_PER_SECOND;
    let report = catalog.compact_appending(now).await.unwrap();
    assert_eq!(
        (
            report.files_before,
            report.files_after,
            report.rows_rewritten
        ),
        (4 + 12, 1 + 1, 288 + 12),
        "day 1 merged whole, the hour of day 2 merged into one file, its first half left alone"
    );
    assert_eq!(
        file_names(&b),
        [
            "2025-01-01T00-00-00-000000000Z_2025-01-01T23-55-00-000000000Z.parquet",
            "2025-01-02T00-00-00-000000000Z_2025-01-02T11-55-00-000000000Z.parquet",
            "2025-01-02T12-00-00-000000000Z_2025-01-02T12-55-00-000000000Z.parquet",
        ]
    );
    assert_eq!(std::fs::read(&base).unwrap(), base_bytes, "not rewritten");
    // Another hour: the new files and the hour before them span as long, so they are merged;
    // the twelve-hour file is still left alone.
    for row in &day2[156..168] {
        catalog.write(vec![row.clone()]).await.unwrap();
    }
    let report = catalog
        .compact_appending(now + 3600 * NANOS_PER_SECOND)
        .await
        .unwrap();
    assert_eq!((report.files_before, report.files_after), (13, 1));
    assert_eq!(
        file_names(&b)[1..],
        [
            "2025-01-02T00-00-00-000000000Z_2025-01-02T11-55-00-000000000Z.parquet",
            "2025-01-02T12-00-00-000000000Z_2025-01-02T13-55-00-000000000Z.parquet",
        ]
    );
    assert_eq!(std::fs::read(&base).unwrap(), base_bytes, "not rewritten");
    let again = catalog
        .compact_appending(now + 3600 * NANOS_PER_SECOND)
        .await
        .unwrap();
    assert_eq!(again.datasets_compacted, 0, "nothing left to merge");
    // Once day 2 has ended it is merged into one file.
    let report = catalog
        .compact_appending(DAY0 + 2 * NANOS_PER_DAY)
        .await
        .unwrap();
    assert_eq!((report.files_before, report.files_after), (2, 1));
    assert_eq!(file_names(&b).len(), 2, "one file per ended day");
    assert_layout(b.dir());
    let stored: Vec<OpenInterest> = read_all(&catalog, &[instrument]).await;
    assert_eq!(
        stored,
        [day1, &day2[..168]].concat(),
        "every row once, in order"
    );
}

async fn small_files_are_written_uncompressed_day_files_with_zstd(b: Backend) {
    use ccxt_model::{Liquidation, LiquidationSource, PositionSide};
    use parquet::basic::Compression;
    let (catalog, _) = b.open_writable().await;
    catalog.write_small_files_uncompressed(true);
    // Liquidations, whose string columns of many distinct values (trade ids) are compressed
    // in files of 256 rows or more: 300 on day 1 (one a minute), then one on day 2.
    let liquidation = |ts: u64| Liquidation {
        instrument_id: id("ADAUSDT-PERP.BINANCE"),
        side: PositionSide::Long,
        order_side: "SELL".into(),
        quantity: 1.5,
        price: 0.75,
        value: 1.125,
        source: LiquidationSource::Ws,
        method: None,
        trade_id: Some(format!("t{ts}")),
        ts_event: ts,
        ts_init: ts,
    };
    let mut rows: Vec<Liquidation> = (0..300)
        .map(|i| liquidation(DAY0 + i * 60 * NANOS_PER_SECOND))
        .collect();
    rows.push(liquidation(DAY0 + NANOS_PER_DAY + NANOS_PER_SECOND));
    catalog.write(rows[..300].to_vec()).await.unwrap();
    catalog.write(rows[300..].to_vec()).await.unwrap();
    let compression = |day: &str| {
        let path = parquet_files(b.dir())
            .into_iter()
            .find(|p| p.to_string_lossy().contains(day))
            .unwrap();
        let reader =
            parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&path).unwrap())
                .unwrap();
        use parquet::file::reader::FileReader;
        let meta = reader.metadata().clone();
        let group = meta.row_group(0).clone();
        (0..group.num_columns())
            .map(|c| {
                let column = group.column(c);
                (
                    column.column_descr().name().to_string(),
                    column.compression(),
                )
            })
            .collect::<Vec<_>>()
    };
    let day1 = compression("2025-01-01T");
    assert!(
        day1.iter()
            .any(|(n, c)| n == "trade_id" && matches!(c, Compression::ZSTD(_))),
        "trade_id: {day1:?}"
    );
    let day2 = compression("2025-01-02T");
    assert!(
        day2.iter().all(|(_, c)| *c == Compression::UNCOMPRESSED),
        "{day2:?}"
    );
    let stored: Vec<Liquidation> = read_all(&catalog, &["ADAUSDT-PERP.BINANCE"]).await;
    assert_eq!(stored, rows);
}

async fn compacting_slice_by_slice_compacts_each_dataset_once_and_the_whole_catalog(b: Backend) {
    let (catalog, _) = b.open_writable().await;
    let ids: Vec<String> = (0..12).map(|i| format!("C{i}USDT-PERP.BINANCE")).collect();
    for id in &ids {
        // Day 1 in four flushes: an ended partition of four files.
        for chunk in oi_days(id, 1, 1).chunks(72) {
            catalog.write(chunk.to_vec()).await.unwrap();
        }
    }
    let count = 4;
    let slices: Vec<DatasetSlice> = (0..count)
        .map(|i| DatasetSlice::new(i, count).unwrap())
        .collect();
    let now = DAY0 + 2 * NANOS_PER_DAY;
    let mut compacted = Vec::new();
    for slice in &slices {
        let members: Vec<&String> = ids
            .iter()
            .filter(|id| {
                slice.contains(
                    RecordKind::OpenInterest,
                    &InstrumentId::new_unchecked(id.as_str()),
                )
            })
            .collect();
        assert!(
            members.len() < ids.len(),
            "slice {slice} holds every dataset"
        );
        let report = catalog.compact_appending_slice(now, *slice).await.unwrap();
        assert_eq!(
            (
                report.datasets,
                report.datasets_compacted,
                report.files_before,
                report.files_after
            ),
            (
                members.len(),
                members.len(),
                4 * members.len(),
                members.len()
            ),
            "slice {slice} compacts its own datasets and no other"
        );
        // The datasets of this slice are one file each now; those of slices not yet run are
        // still four.
        for id in &ids {
            let files = parquet_files(b.dir())
                .into_iter()
                .filter(|p| p.to_string_lossy().contains(id.as_str()))
                .count();
            let done = members.contains(&id) || compacted.contains(id);
            assert_eq!(files, if done { 1 } else { 4 }, "{id} after slice {slice}");
        }
        compacted.extend(members.into_iter().cloned());
    }
    compacted.sort();
    let mut all = ids.clone();
    all.sort();
    assert_eq!(
        compacted, all,
        "the slices together are every dataset, each once"
    );
    let again = catalog.compact_appending(now).await.unwrap();
    assert_eq!(
        again.datasets_compacted, 0,
        "nothing left for a whole compaction"
    );
    assert_layout(b.dir());
    for id in &ids {
        let stored: Vec<OpenInterest> = read_all(&catalog, &[id.as_str()]).await;
        assert_eq!(stored, oi_days(id, 1, 1), "{id}: every row once, in order");
    }
}

#[test]
fn a_dataset_slice_is_checked_and_fixed_per_dataset() {
    assert_eq!(DatasetSlice::new(4, 4), None);
    assert_eq!(DatasetSlice::new(0, 0), None);
    let id = InstrumentId::new_unchecked("BTCUSDT-PERP.BINANCE");
    let whole = DatasetSlice::WHOLE;
    assert!(whole.contains(RecordKind::OpenInterest, &id));
    let in_slices = |kind| {
        (0..16)
            .filter(|i| DatasetSlice::new(*i, 16).unwrap().contains(kind, &id))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        in_slices(RecordKind::OpenInterest).len(),
        1,
        "in exactly one slice"
    );
    // 400 datasets spread over 4 slices, none far from a quarter.
    let mut sizes = [0; 4];
    for i in 0..400 {
        let id = InstrumentId::new_unchecked(format!("S{i}USDT-PERP.BYBIT"));
        for (n, size) in sizes.iter_mut().enumerate() {
            let slice = DatasetSlice::new(n as u32, 4).unwrap();
            if slice.contains(RecordKind::Liquidation, &id) {
                *size += 1;
            }
        }
    }
    assert_eq!(
        sizes.iter().sum::<i32>(),
        400,
        "each dataset in one slice: {sizes:?}"
    );
    assert!(sizes.iter().all(|n| (60..=140).contains(n)), "{sizes:?}");
}

backends!(
    compacting_slice_by_slice_compacts_each_dataset_once_and_the_whole_catalog,
    appending_compaction_merges_an_open_day_in_tiers_and_an_ended_one_whole,
    small_files_are_written_uncompressed_day_files_with_zstd,
    merge_days_3_to_5_then_1_to_4_gives_one_consistent_set,
    rewriting_stored_rows_adds_and_rewrites_nothing,
    distinct_rows_at_the_same_time_are_kept_identical_ones_dropped,
    files_carry_nautilus_metadata_schema_version_and_statistics,
    compaction_merges_small_files_into_one_per_day,
    a_write_spanning_many_instruments_groups_them,
    sparse_funding_is_stored_one_file_per_month,
);
