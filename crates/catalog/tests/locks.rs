//! Write-lock scopes: one writer per catalog, or one per shard.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use ccxt_catalog::{Catalog, CatalogError, DatasetFilter, LockScope, StorageOptions};
use ccxt_model::{OpenInterest, RecordKind};
use common::*;

fn shard(index: u32, count: u32) -> LockScope {
    LockScope::Shard { index, count }
}

async fn open(location: &str, holder: &str, scope: LockScope) -> Result<Catalog, CatalogError> {
    Catalog::open_writable_as(location, &StorageOptions::default(), holder, scope, None)
        .await
        .map(|(c, _)| c)
}

fn refused_by(err: CatalogError, holder: &str) {
    match err {
        CatalogError::Locked { holder: h, .. } => assert_eq!(h, holder),
        other => panic!("expected Locked by {holder}, got {other}"),
    }
}

#[tokio::test]
async fn scopes_exclude_each_other_as_documented_on_a_local_disk() {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().to_str().unwrap();
    let s0 = open(location, "shard zero", shard(0, 2)).await.unwrap();
    let s1 = open(location, "shard one", shard(1, 2)).await.unwrap();
    refused_by(
        open(location, "again", shard(0, 2)).await.unwrap_err(),
        "shard zero",
    );
    let err = open(location, "three", shard(2, 3)).await.unwrap_err();
    assert!(matches!(err, CatalogError::Locked { .. }), "{err}");
    let err = open(location, "whole", LockScope::Catalog)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("shard"), "{err}");
    drop((s0, s1));
    let whole = open(location, "whole", LockScope::Catalog).await.unwrap();
    refused_by(
        open(location, "shard zero", shard(0, 2)).await.unwrap_err(),
        "whole",
    );
    drop(whole);
    // A refused shard of another count left nothing behind that blocks the next one.
    open(location, "three", shard(2, 3)).await.unwrap();
}

#[tokio::test]
async fn an_invalid_shard_is_refused_with_what_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let err = open(dir.path().to_str().unwrap(), "x", shard(4, 4))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("0..count"), "{err}");
}

#[tokio::test]
async fn recovery_of_a_shard_touches_only_the_datasets_it_owns() {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().to_str().unwrap();
    const MINE: &str = "BTCUSDT-PERP.BINANCE";
    const THEIRS: &str = "ETHUSDT-PERP.BINANCE";
    {
        let (catalog, _) = Catalog::open_writable(location).await.unwrap();
        catalog.write(oi_days(MINE, 1, 1)).await.unwrap();
        catalog.write(oi_days(THEIRS, 1, 1)).await.unwrap();
    }
    // In-flight temporaries of both datasets.
    for id in [MINE, THEIRS] {
        let data = dir.path().join("data/custom_open_interest").join(id);
        std::fs::write(data.join("x.parquet.0123.tmp"), b"partial").unwrap();
    }
    let owns: DatasetFilter =
        Arc::new(|kind, id| kind == RecordKind::OpenInterest && id.as_str() == MINE);
    let (catalog, report) = Catalog::open_writable_as(
        location,
        &StorageOptions::default(),
        "shard",
        shard(0, 2),
        Some(owns),
    )
    .await
    .unwrap();
    assert_eq!(report.temp_files_removed, 1);
    let theirs = dir.path().join("data/custom_open_interest").join(THEIRS);
    assert!(
        theirs.join("x.parquet.0123.tmp").exists(),
        "another shard's temporary file kept"
    );
    let rows: Vec<OpenInterest> = read_all(&catalog, &[MINE, THEIRS]).await;
    assert_eq!(rows.len(), 2 * 288);
}
