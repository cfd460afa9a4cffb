//! Queries: time filters, limits, pruning by file name and row-group statistics, bad files.
#![allow(clippy::unwrap_used)]

mod common;

use ccxt_catalog::{Catalog, CatalogError, Limit, Query};
use ccxt_model::time::{NANOS_PER_DAY, NANOS_PER_SECOND};
use ccxt_model::{Liquidation, LiquidationSource, OpenInterest, PositionSide};
use common::backend::Backend;
use common::*;

const BIN: &str = "BTCUSDT-PERP.BINANCE";
const BYB: &str = "BTCUSDT-LINEAR.BYBIT";

async fn ten_days(b: &Backend) -> Catalog {
    let (catalog, _) = b.open_writable().await;
    catalog.write(oi_days(BIN, 1, 10)).await.unwrap();
    catalog.write(oi_days(BYB, 1, 10)).await.unwrap();
    catalog
}

fn q(ids: &[&str], start: u64, end: u64, limit: Option<Limit>) -> Query {
    Query {
        instruments: ids.iter().map(|s| id(s)).collect(),
        start,
        end,
        limit,
    }
}

async fn a_one_day_query_opens_only_that_days_file(b: Backend) {
    let catalog = ten_days(&b).await;
    let day4 = DAY0 + 3 * NANOS_PER_DAY;
    let (rows, stats) = catalog
        .query::<OpenInterest>(&q(&[BIN], day4, day4 + NANOS_PER_DAY - 1, None))
        .await
        .unwrap();
    assert_eq!(rows.len(), 288);
    assert_eq!((stats.files_listed, stats.files_opened), (10, 1));
    assert!(
        rows.iter()
            .all(|r| (day4..day4 + NANOS_PER_DAY).contains(&r.ts_init))
    );
}

async fn bounds_are_inclusive_and_ties_order_by_instrument(b: Backend) {
    let catalog = ten_days(&b).await;
    let t = DAY0 + 300 * NANOS_PER_SECOND;
    let (rows, _) = catalog
        .query::<OpenInterest>(&q(&[BIN, BYB], t, t + 300 * NANOS_PER_SECOND, None))
        .await
        .unwrap();
    let got: Vec<(u64, &str)> = rows
        .iter()
        .map(|r| (r.ts_init, r.instrument_id.as_str()))
        .collect();
    let t2 = t + 300 * NANOS_PER_SECOND;
    assert_eq!(got, [(t, BIN), (t, BYB), (t2, BIN), (t2, BYB)]);
    // Reversing the instrument order reverses ties.
    let (rows, _) = catalog
        .query::<OpenInterest>(&q(&[BYB, BIN], t, t, None))
        .await
        .unwrap();
    assert_eq!(rows[0].instrument_id.as_str(), BYB);
}

async fn limits_take_the_first_or_the_latest_rows_and_stop_reading_early(b: Backend) {
    let catalog = ten_days(&b).await;
    let (rows, stats) = catalog
        .query::<OpenInterest>(&q(&[BIN], 0, u64::MAX, Some(Limit::Last(3))))
        .await
        .unwrap();
    let last = DAY0 + 10 * NANOS_PER_DAY - 300 * NANOS_PER_SECOND;
    assert_eq!(
        rows.iter().map(|r| r.ts_init).collect::<Vec<_>>(),
        [
            last - 600 * NANOS_PER_SECOND,
            last - 300 * NANOS_PER_SECOND,
            last
        ]
    );
    assert_eq!(stats.files_opened, 1, "only the newest file is read");

    let (rows, stats) = catalog
        .query::<OpenInterest>(&q(&[BIN, BYB], DAY0, u64::MAX, Some(Limit::First(3))))
        .await
        .unwrap();
    let got: Vec<(u64, &str)> = rows
        .iter()
        .map(|r| (r.ts_init, r.instrument_id.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (DAY0, BIN),
            (DAY0, BYB),
            (DAY0 + 300 * NANOS_PER_SECOND, BIN)
        ]
    );
    assert_eq!(stats.files_opened, 2);
}

async fn row_group_statistics_skip_what_the_range_excludes(b: Backend) {
    let (catalog, _) = b.open_writable().await;
    // 20,000 liquidations in one day: four row groups of 5,000.
    let rows: Vec<Liquidation> = (0..20_000u64)
        .map(|i| Liquidation {
            instrument_id: id(BIN),
            side: PositionSide::Long,
            order_side: "SELL".into(),
            quantity: 1.0,
            price: 2.0,
            value: 2.0,
            source: LiquidationSource::Ws,
            method: None,
            trade_id: None,
            ts_event: DAY0 + i * 4 * NANOS_PER_SECOND,
            ts_init: DAY0 + i * 4 * NANOS_PER_SECOND,
        })
        .collect();
    catalog.write(rows).await.unwrap();
    let from = DAY0 + 100 * NANOS_PER_SECOND;
    let (got, stats) = catalog
        .query::<Liquidation>(&q(&[BIN], from, from + 3600 * NANOS_PER_SECOND, None))
        .await
        .unwrap();
    assert_eq!(got.len(), 901);
    assert_eq!(
        (
            stats.files_opened,
            stats.row_groups_read,
            stats.row_groups_skipped
        ),
        (1, 1, 3)
    );
}

async fn a_corrupt_file_is_an_error_naming_the_file(b: Backend) {
    let catalog = ten_days(&b).await;
    let victim = parquet_files(b.dir())
        .into_iter()
        .find(|p| p.to_str().unwrap().contains(BIN))
        .unwrap();
    let len = std::fs::metadata(&victim).unwrap().len();
    let bytes = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &bytes[..(len as usize) / 2]).unwrap(); // truncated, like a torn copy
    let err = catalog
        .query::<OpenInterest>(&all(&[BIN]))
        .await
        .unwrap_err();
    assert!(matches!(err, CatalogError::Corrupt { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(victim.file_name().unwrap().to_str().unwrap()),
        "{message}"
    );
    assert!(
        message.starts_with(&format!("catalog file '{}", b.shown(&victim))),
        "{message}"
    );
    assert!(message.contains("is corrupt"), "{message}");

    // `catalog info` lists it as a problem and goes on.
    std::fs::write(&victim, b"not parquet at all").unwrap();
    let info = catalog.info().await.unwrap();
    let name = victim.file_name().unwrap().to_str().unwrap();
    let bin = info
        .iter()
        .find(|d| d.instrument_id.as_str() == BIN)
        .unwrap();
    assert!(
        bin.problems
            .iter()
            .any(|p| p.contains(name) && p.contains("corrupt")),
        "{:?}",
        bin.problems
    );
}

async fn a_file_of_the_wrong_kind_is_an_error_not_garbage(b: Backend) {
    let catalog = ten_days(&b).await;
    let oi_file = parquet_files(b.dir())
        .into_iter()
        .find(|p| p.to_str().unwrap().contains(BIN))
        .unwrap();
    let target = b.dir().join("data/custom_liquidation").join(BIN);
    std::fs::create_dir_all(&target).unwrap();
    std::fs::copy(&oi_file, target.join(oi_file.file_name().unwrap())).unwrap();
    let err = catalog
        .query::<Liquidation>(&all(&[BIN]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is not a custom_liquidation file: it holds custom_open_interest records"),
        "{err}"
    );
}

#[tokio::test]
async fn missing_catalog_and_missing_data_are_told_apart() {
    let err = Catalog::open("/nonexistent/catalog").unwrap_err();
    assert!(matches!(err, CatalogError::NotFound(_)));
    assert!(err.to_string().contains("--catalog"), "{err}");
    let err = Catalog::open("ftp://bucket/prefix")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not a supported scheme") && err.contains("s3://BUCKET/PREFIX"),
        "{err}"
    );
    let err = Catalog::open("s3:///prefix").unwrap_err().to_string();
    assert!(err.contains("the bucket is missing"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let catalog = Catalog::open(empty.path().to_str().unwrap()).unwrap();
    let (rows, _) = catalog.query::<OpenInterest>(&all(&[BIN])).await.unwrap();
    assert!(rows.is_empty());
}

backends!(
    a_one_day_query_opens_only_that_days_file,
    bounds_are_inclusive_and_ties_order_by_instrument,
    limits_take_the_first_or_the_latest_rows_and_stop_reading_early,
    a_corrupt_file_is_an_error_naming_the_file,
    a_file_of_the_wrong_kind_is_an_error_not_garbage,
    row_group_statistics_skip_what_the_range_excludes,
);
