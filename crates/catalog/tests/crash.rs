//! Crash safety: a write stopped dead at each step of the commit protocol leaves a catalog
//! that reads, and the next writable open repairs it with no row lost or duplicated.
//!
//! With `CCXT_CRASH_CATALOGS=DIR`, the crashed and the recovered catalogs are copied to
//! `DIR/<step>-crashed` and `DIR/<step>-recovered` so CI can have NautilusTrader read them.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use ccxt_catalog::{Catalog, CatalogError, CrashPoint};
use ccxt_model::OpenInterest;
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

async fn crash_then_recover(point: CrashPoint) {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().to_str().unwrap().to_string();
    {
        let (catalog, _) = Catalog::open_writable(&location).await.unwrap();
        catalog.write(stored()).await.unwrap();
        let err = catalog
            .write_with_crash(oi_days(ID, 1, 4), point)
            .await
            .unwrap_err();
        assert!(matches!(err, CatalogError::SimulatedCrash(p) if p == point));
    }
    export(dir.path(), &format!("{point:?}-crashed"));

    // Still readable before any repair: nothing lost that was stored before the crash.
    let reader = Catalog::open(&location).unwrap();
    let rows: Vec<OpenInterest> = read_all(&reader, &[ID]).await;
    let before_crash = stored();
    assert!(
        before_crash.iter().all(|r| rows.contains(r)),
        "{point:?}: rows lost"
    );
    assert!(rows.windows(2).all(|w| w[0].ts_init <= w[1].ts_init));

    // The next writable open repairs it.
    let (catalog, report) = Catalog::open_writable(&location).await.unwrap();
    assert!(report.repaired_anything(), "{point:?}: nothing repaired");
    let rows: Vec<OpenInterest> = read_all(&catalog, &[ID]).await;
    let expected = match point {
        // Nothing renamed into place: the interrupted write never happened.
        CrashPoint::BeforeRename => stored(),
        // Day 1 (the first file renamed) made it; the rest of the write did not.
        CrashPoint::AfterFirstRename => union(oi_days(ID, 1, 1), stored()),
        CrashPoint::BeforeDelete => oi_days(ID, 1, 5),
    };
    assert_eq!(rows, expected, "{point:?}: exactly once after recovery");
    assert_layout(dir.path());
    export(dir.path(), &format!("{point:?}-recovered"));

    // Retrying the interrupted write completes it.
    catalog.write(oi_days(ID, 1, 4)).await.unwrap();
    let rows: Vec<OpenInterest> = read_all(&catalog, &[ID]).await;
    assert_eq!(rows, oi_days(ID, 1, 5));
    assert_layout(dir.path());
}

#[tokio::test]
async fn crash_between_temp_write_and_rename() {
    crash_then_recover(CrashPoint::BeforeRename).await;
}

#[tokio::test]
async fn crash_between_two_renames() {
    crash_then_recover(CrashPoint::AfterFirstRename).await;
}

#[tokio::test]
async fn crash_between_rename_and_removal_of_replaced_files() {
    crash_then_recover(CrashPoint::BeforeDelete).await;
}

#[tokio::test]
async fn a_read_only_open_of_a_crashed_catalog_shows_no_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().to_str().unwrap();
    let (catalog, _) = Catalog::open_writable(location).await.unwrap();
    catalog.write(stored()).await.unwrap();
    let _ = catalog
        .write_with_crash(oi_days(ID, 1, 4), CrashPoint::BeforeDelete)
        .await;
    let reader = Catalog::open(location).unwrap();
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
