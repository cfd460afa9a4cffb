//! Files that are not usable data (random bytes, empty, another schema) in a dataset
//! directory: readers report them, writers move them to `<catalog>/.quarantine`, never delete
//! them, and history planners never count them as stored.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use ccxt_catalog::{BadFiles, Catalog, CatalogError, FileProblem};
use ccxt_model::time::{NANOS_PER_DAY, NANOS_PER_SECOND};
use ccxt_model::{Liquidation, LiquidationSource, OpenInterest, PositionSide};
use common::backend::Backend;
use common::*;

const BIN: &str = "BTCUSDT-PERP.BINANCE";
const BYB: &str = "BTCUSDT-LINEAR.BYBIT";

async fn three_days(b: &Backend) -> Catalog {
    let (catalog, _) = b.open_writable().await;
    catalog.write(oi_days(BIN, 1, 3)).await.unwrap();
    catalog
}

fn dataset_files(root: &Path, class: &str, id: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("data").join(class).join(id))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

fn quarantine_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root.join(".quarantine"), &mut out);
    out
}

fn liquidation(ts: u64) -> Liquidation {
    Liquidation {
        instrument_id: id(BIN),
        side: PositionSide::Long,
        order_side: "SELL".into(),
        quantity: 1.0,
        price: 100.0,
        value: 100.0,
        source: LiquidationSource::Ws,
        method: None,
        trade_id: None,
        ts_event: ts,
        ts_init: ts,
    }
}

/// A readable Parquet file of another kind (a liquidation file of our own writer).
async fn liquidation_file_bytes() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let (catalog, _) = Catalog::open_writable(dir.path().to_str().unwrap())
        .await
        .unwrap();
    catalog
        .write(vec![liquidation(DAY0 + 5 * NANOS_PER_SECOND)])
        .await
        .unwrap();
    let file = &dataset_files(dir.path(), "custom_liquidation", BIN)[0];
    std::fs::read(file).unwrap()
}

enum Damage {
    RandomBytes,
    Empty,
    ForeignSchema,
}

async fn damage(victim: &Path, how: Damage) -> Vec<u8> {
    let bytes = match how {
        // Deterministic "random" bytes.
        Damage::RandomBytes => (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect(),
        Damage::Empty => Vec::new(),
        Damage::ForeignSchema => liquidation_file_bytes().await,
    };
    std::fs::write(victim, &bytes).unwrap();
    bytes
}

async fn a_bad_middle_day_is_moved_aside_never_counted_and_its_day_is_to_be_fetched_again(
    first: Backend,
) {
    let kind = first.kind;
    drop(first);
    for how in [Damage::RandomBytes, Damage::Empty, Damage::ForeignSchema] {
        let b = Backend::new(kind).await;
        let catalog = three_days(&b).await;
        let files = dataset_files(b.dir(), "custom_open_interest", BIN);
        assert_eq!(files.len(), 3);
        let victim = files[1].clone();
        let bytes = damage(&victim, how).await;
        let day2 = DAY0 + NANOS_PER_DAY;
        let bin = id(BIN);
        let history = |on_bad| {
            catalog.stored_history::<OpenInterest>(
                &bin,
                DAY0,
                DAY0 + 3 * NANOS_PER_DAY - 1,
                |r| r.ts_init == r.ts_event,
                on_bad,
            )
        };

        // Read-only: reported, left where it is; the read-only bound lookup names it.
        let reported = history(BadFiles::Report).await.unwrap();
        assert_eq!(reported.bad_files.len(), 1);
        assert!(victim.exists());
        let err = catalog
            .stored_bounds::<OpenInterest>(&id(BIN), 0, u64::MAX, |_| true)
            .await
            .unwrap_err();
        assert!(err.is_bad_file(), "{err}");
        assert!(
            err.to_string()
                .starts_with(&format!("catalog file '{}'", b.shown(&victim))),
            "{err}"
        );

        // Writing: moved to the quarantine, byte for byte; never counted as stored.
        let stored = history(BadFiles::Quarantine).await.unwrap();
        assert_eq!(
            stored.bounds,
            Some((DAY0, DAY0 + 3 * NANOS_PER_DAY - 300 * NANOS_PER_SECOND))
        );
        assert_eq!(stored.bad_files.len(), 1);
        let bad = &stored.bad_files[0];
        assert_eq!(bad.span, Some((day2, day2 + NANOS_PER_DAY - 1)));
        assert_eq!(bad.path, b.shown(&victim));
        assert!(!victim.exists());
        let moved = quarantine_files(b.dir());
        assert_eq!(moved.len(), 1, "{moved:?}");
        let relative = moved[0].strip_prefix(b.dir()).unwrap();
        let expected_prefix = format!(
            ".quarantine/data/custom_open_interest/{BIN}/{}.",
            victim.file_name().unwrap().to_str().unwrap()
        );
        assert!(
            relative.to_str().unwrap().starts_with(&expected_prefix),
            "{}",
            relative.display()
        );
        assert_eq!(std::fs::read(&moved[0]).unwrap(), bytes);
        assert_eq!(
            bad.quarantined_to.as_deref(),
            Some(b.shown(&moved[0]).as_str())
        );
        assert_eq!(catalog.quarantined(), stored.bad_files);
        match (&bad.problem, bytes.is_empty()) {
            (FileProblem::Corrupt(reason), true) => assert!(reason.contains("empty"), "{reason}"),
            (FileProblem::Corrupt(_), false) => {}
            (FileProblem::Foreign { expected, reason }, _) => {
                assert_eq!(*expected, "custom_open_interest");
                assert!(reason.contains("custom_liquidation"), "{reason}");
            }
        }
        // What remains reads cleanly.
        assert_eq!(
            read_all::<OpenInterest>(&catalog, &[BIN]).await.len(),
            2 * 288
        );
    }
}

async fn a_bad_latest_file_is_moved_aside_and_the_bounds_end_before_it(b: Backend) {
    let catalog = three_days(&b).await;
    let files = dataset_files(b.dir(), "custom_open_interest", BIN);
    damage(&files[2], Damage::RandomBytes).await;
    let stored = catalog
        .stored_history::<OpenInterest>(
            &id(BIN),
            DAY0,
            DAY0 + 3 * NANOS_PER_DAY - 1,
            |_| true,
            BadFiles::Quarantine,
        )
        .await
        .unwrap();
    assert_eq!(
        stored.bounds,
        Some((DAY0, DAY0 + 2 * NANOS_PER_DAY - 300 * NANOS_PER_SECOND))
    );
    assert_eq!(stored.bad_files.len(), 1);
    assert_eq!(quarantine_files(b.dir()).len(), 1);
}

async fn a_write_over_a_bad_file_moves_it_aside_and_stores_the_rows(b: Backend) {
    let catalog = three_days(&b).await;
    let files = dataset_files(b.dir(), "custom_open_interest", BIN);
    damage(&files[1], Damage::RandomBytes).await;
    let report = catalog.write(oi_days(BIN, 2, 2)).await.unwrap();
    assert_eq!(report.rows_added, 288);
    assert_eq!(catalog.quarantined().len(), 1);
    assert_eq!(quarantine_files(b.dir()).len(), 1);
    assert_eq!(
        read_all::<OpenInterest>(&catalog, &[BIN]).await.len(),
        3 * 288
    );
    assert_layout(b.dir());
}

async fn compaction_moves_a_bad_file_aside_and_compacts_the_rest(b: Backend) {
    let (catalog, _) = b.open_writable().await;
    // Three separate files within day 1.
    let rows = oi_days(BIN, 1, 1);
    catalog.write(rows[..90].to_vec()).await.unwrap();
    catalog.write(rows[100..190].to_vec()).await.unwrap();
    catalog.write(rows[200..].to_vec()).await.unwrap();
    let files = dataset_files(b.dir(), "custom_open_interest", BIN);
    assert_eq!(files.len(), 3);
    damage(&files[1], Damage::Empty).await;
    let report = catalog.compact().await.unwrap();
    assert_eq!(report.files_quarantined, 1);
    assert_eq!((report.files_before, report.files_after), (2, 1));
    assert_eq!(quarantine_files(b.dir()).len(), 1);
    assert_eq!(
        read_all::<OpenInterest>(&catalog, &[BIN]).await.len(),
        90 + 88
    );
    assert_layout(b.dir());
}

async fn info_lists_corrupt_and_foreign_files_as_problems_and_goes_on(b: Backend) {
    let (catalog, _) = b.open_writable().await;
    catalog.write(oi_days(BIN, 1, 3)).await.unwrap();
    catalog.write(oi_days(BYB, 1, 3)).await.unwrap();
    catalog
        .write(oi_days("ETHUSDT-PERP.BINANCE", 1, 1))
        .await
        .unwrap();
    let bin = dataset_files(b.dir(), "custom_open_interest", BIN);
    damage(&bin[0], Damage::RandomBytes).await;
    // A liquidation file in Bybit's open-interest directory, under a name of its own.
    let foreign = b
        .dir()
        .join("data/custom_open_interest")
        .join(BYB)
        .join("2025-01-05T00-00-00-000000000Z_2025-01-05T00-00-05-000000000Z.parquet");
    damage(&foreign, Damage::ForeignSchema).await;

    let info = catalog.info().await.unwrap();
    let of = |id: &str| {
        info.iter()
            .find(|d| d.instrument_id.as_str() == id)
            .unwrap()
            .clone()
    };
    let (bin, byb, eth) = (of(BIN), of(BYB), of("ETHUSDT-PERP.BINANCE"));
    assert_eq!((bin.rows, bin.files, bin.problems.len()), (2 * 288, 3, 1));
    assert!(bin.problems[0].contains("is corrupt"), "{:?}", bin.problems);
    assert_eq!(
        bin.first_ts,
        Some(DAY0 + NANOS_PER_DAY),
        "only usable files"
    );
    assert_eq!((byb.rows, byb.files, byb.problems.len()), (3 * 288, 4, 1));
    assert!(
        byb.problems[0].contains("not a custom_open_interest file")
            && byb.problems[0].contains("custom_liquidation"),
        "{:?}",
        byb.problems
    );
    assert_eq!(
        byb.last_ts,
        Some(DAY0 + 3 * NANOS_PER_DAY - 300 * NANOS_PER_SECOND)
    );
    assert_eq!((eth.rows, eth.problems.len()), (288, 0));
    // Reading is not writing: nothing moved.
    assert!(quarantine_files(b.dir()).is_empty());

    // A query meeting the foreign file fails naming it.
    let err = catalog
        .query::<OpenInterest>(&all(&[BYB]))
        .await
        .unwrap_err();
    assert!(matches!(err, CatalogError::Foreign { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(foreign.file_name().unwrap().to_str().unwrap())
    );
}

/// Rewrites the footer value of `ccxt_pipeline.schema_version` from 1 to 9 in place.
fn bump_schema_version(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let key = b"ccxt_pipeline.schema_version";
    let at = bytes.windows(key.len()).rposition(|w| w == key).unwrap() + key.len();
    let one = at + bytes[at..].iter().position(|b| *b == b'1').unwrap();
    bytes[one] = b'9';
    std::fs::write(path, bytes).unwrap();
}

async fn a_file_of_a_newer_version_is_refused_never_moved(b: Backend) {
    let catalog = three_days(&b).await;
    let files = dataset_files(b.dir(), "custom_open_interest", BIN);
    bump_schema_version(&files[2]);
    let err = catalog
        .stored_history::<OpenInterest>(&id(BIN), 0, u64::MAX, |_| true, BadFiles::Quarantine)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CatalogError::NewerVersion { version: 9, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade ccxt-cli"), "{err}");
    assert!(files[2].exists());
    assert!(quarantine_files(b.dir()).is_empty());
    let info = catalog.info().await.unwrap();
    assert!(
        info[0].problems[0].contains("newer ccxt-pipeline"),
        "{:?}",
        info[0].problems
    );
}

backends!(
    a_bad_middle_day_is_moved_aside_never_counted_and_its_day_is_to_be_fetched_again,
    a_bad_latest_file_is_moved_aside_and_the_bounds_end_before_it,
    a_write_over_a_bad_file_moves_it_aside_and_stores_the_rows,
    a_file_of_a_newer_version_is_refused_never_moved,
    compaction_moves_a_bad_file_aside_and_compacts_the_rest,
    info_lists_corrupt_and_foreign_files_as_problems_and_goes_on,
);
