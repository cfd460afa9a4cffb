//! Crash safety: a write stopped dead at each step of the commit protocol leaves a catalog
//! that reads, and the next writable open repairs it with no row lost or duplicated.
//!
//! With `CCXT_CRASH_CATALOGS=DIR`, the crashed and the recovered catalogs are copied to
//! `DIR/<step>-crashed` and `DIR/<step>-recovered` so CI can have NautilusTrader read them.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use ccxt_catalog::{CatalogError, CrashPoint};
use ccxt_model::OpenInterest;
use common::backend::{Backend, Kind};
use common::*;

const ID: &str = "BTCUSDT-PERP.BINANCE";

/// What is stored before the crash: days 3 to 5, but day 3 lacks its first hour and day 4 its
/// last hour, so the interrupted write of days 1 to 4 renames day 3 and 4 files to new names
/// and must delete the old ones.
fn stored() -> Vec<OpenInterest> {
    let mut rows = oi_days(ID, 3, 5);
    rows.drain(288 + 276..288 + 288);
    rows.drain(..12);
    rows
}

fn union(a: Vec<OpenInterest>, b: Vec<OpenInterest>) -> Vec<OpenInterest> {
    let mut all = [a, b].concat();
    all.sort_by_key(|r| r.ts_init);
    all.dedup();
    all
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn export(root: &Path, name: &str) {
    if let Some(dir) = std::env::var_os("CCXT_CRASH_CATALOGS") {
        let target = Path::new(&dir).join(name);
        let _ = std::fs::remove_dir_all(&target);
        copy_dir(root, &target);
    }
}

async fn crash_then_recover(b: Backend, point: CrashPoint) {
    // Local catalogs export as `<step>-…`, S3 ones as `s3-<step>-…`.
    let tag = match b.kind {
        Kind::Local => format!("{point:?}"),
        Kind::S3 => format!("s3-{point:?}"),
    };
    {
        let (catalog, _) = b.open_writable().await;
        catalog.write(stored()).await.unwrap();
        let err = catalog
            .write_with_crash(oi_days(ID, 1, 4), point)
            .await
            .unwrap_err();
        assert!(matches!(err, CatalogError::SimulatedCrash(p) if p == point));
    }
    export(b.dir(), &format!("{tag}-crashed"));

    // Still readable before any repair: nothing lost that was stored before the crash.
    let reader = b.open();
    let rows: Vec<OpenInterest> = read_all(&reader, &[ID]).await;
    let before_crash = stored();
    assert!(
        before_crash.iter().all(|r| rows.contains(r)),
        "{point:?}: rows lost"
    );
    assert!(rows.windows(2).all(|w| w[0].ts_init <= w[1].ts_init));

    // The next writable open repairs it.
    let (catalog, report) = b.open_writable().await;
    // An object store gets no temporary files: only the overlap a crash before the deletes
    // leaves needs repair there.
    let expect_repair = b.kind == Kind::Local || point == CrashPoint::BeforeDelete;
    assert_eq!(
        report.repaired_anything(),
        expect_repair,
        "{point:?}: {report:?}"
    );
    let rows: Vec<OpenInterest> = read_all(&catalog, &[ID]).await;
    let expected = match point {
        // Nothing renamed into place: the interrupted write never happened.
        CrashPoint::BeforeRename => stored(),
        // Day 1 (the first file renamed) made it; the rest of the write did not.
        CrashPoint::AfterFirstRename => union(oi_days(ID, 1, 1), stored()),
        CrashPoint::BeforeDelete => oi_days(ID, 1, 5),
    };
    assert_eq!(rows, expected, "{point:?}: exactly once after recovery");
    assert_layout(b.dir());
    export(b.dir(), &format!("{tag}-recovered"));

    // Retrying the interrupted write completes it.
    catalog.write(oi_days(ID, 1, 4)).await.unwrap();
    let rows: Vec<OpenInterest> = read_all(&catalog, &[ID]).await;
    assert_eq!(rows, oi_days(ID, 1, 5));
    assert_layout(b.dir());
}

/// Local: temporaries written, none renamed. S3: every file encoded and verified, none PUT.
async fn crash_between_temp_write_and_rename(b: Backend) {
    crash_then_recover(b, CrashPoint::BeforeRename).await;
}

/// Local: the first temporary renamed into place. S3: the first object PUT.
async fn crash_between_two_renames(b: Backend) {
    crash_then_recover(b, CrashPoint::AfterFirstRename).await;
}

/// Every new file in place, the replaced ones not yet deleted.
async fn crash_between_rename_and_removal_of_replaced_files(b: Backend) {
    crash_then_recover(b, CrashPoint::BeforeDelete).await;
}

async fn a_read_only_open_of_a_crashed_catalog_shows_no_duplicates(b: Backend) {
    let (catalog, _) = b.open_writable().await;
    catalog.write(stored()).await.unwrap();
    let _ = catalog
        .write_with_crash(oi_days(ID, 1, 4), CrashPoint::BeforeDelete)
        .await;
    let reader = b.open();
    let (rows, stats) = reader.query::<OpenInterest>(&all(&[ID])).await.unwrap();
    assert!(stats.overlaps);
    assert_eq!(rows, oi_days(ID, 1, 5));
    let info = reader.info().await.unwrap();
    assert!(
        info[0].problems.iter().any(|p| p.contains("overlapping")),
        "{:?}",
        info[0].problems
    );
}

backends!(
    crash_between_temp_write_and_rename,
    crash_between_two_renames,
    crash_between_rename_and_removal_of_replaced_files,
    a_read_only_open_of_a_crashed_catalog_shows_no_duplicates,
);

/// The commit order on a local disk, for a write of four day files that replaces two: every
/// new file's data is synced before the first rename; the directory is synced once, after the
/// last rename and before the first replaced file is deleted; and once more after the deletes,
/// before the write returns.
#[tokio::test]
async fn a_local_write_syncs_its_files_then_renames_then_syncs_the_directory_once() {
    use ccxt_catalog::DurableStep;
    let b = Backend::new(Kind::Local).await;
    let (catalog, _) = b.open_writable().await;
    catalog.write(stored()).await.unwrap();
    catalog.storage().record_durable_steps();
    let report = catalog.write(oi_days(ID, 1, 4)).await.unwrap();
    assert_eq!((report.files_written, report.files_replaced), (4, 2));
    let steps = catalog.storage().durable_steps();
    let kinds: Vec<&str> = steps
        .iter()
        .map(|s| match s {
            DurableStep::FileSynced(_) => "file synced",
            DurableStep::Renamed(..) => "renamed",
            DurableStep::DirSynced(_) => "directory synced",
            DurableStep::Deleted(_) => "deleted",
        })
        .collect();
    let mut expected = vec!["file synced"; 4];
    expected.extend(["renamed"; 4]);
    expected.extend(["directory synced", "deleted", "deleted", "directory synced"]);
    assert_eq!(kinds, expected, "{steps:#?}");
    // Each rename publishes a file synced before, in the dataset's directory.
    let dataset = "data/custom_open_interest/BTCUSDT-PERP.BINANCE";
    for (i, step) in steps[4..8].iter().enumerate() {
        let DurableStep::Renamed(from, to) = step else {
            unreachable!()
        };
        assert_eq!(steps[i], DurableStep::FileSynced(from.clone()));
        assert!(
            from.ends_with(".tmp") && to.ends_with(".parquet"),
            "{step:?}"
        );
        assert!(to.starts_with(dataset), "{to}");
    }
    assert_eq!(steps[8], DurableStep::DirSynced(dataset.into()));
    let rows: Vec<OpenInterest> = read_all(&catalog, &[ID]).await;
    assert_eq!(rows, oi_days(ID, 1, 5));
}
