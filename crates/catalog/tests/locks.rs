//! Write-lock scopes: one writer per catalog, or one per shard.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use ccxt_catalog::{Catalog, CatalogError, DatasetFilter, LockScope};
use ccxt_model::{OpenInterest, RecordKind};
use common::backend::Backend;
use common::*;

fn shard(index: u32, count: u32) -> LockScope {
    LockScope::Shard { index, count }
}

async fn open(b: &Backend, holder: &str, scope: LockScope) -> Result<Catalog, CatalogError> {
    b.open_writable_as(holder, scope).await.map(|(c, _)| c)
}

fn refused_by(err: CatalogError, holder: &str) {
    match err {
        CatalogError::Locked { holder: h, .. } => assert_eq!(h, holder),
        other => panic!("expected Locked by {holder}, got {other}"),
    }
}

async fn scopes_exclude_each_other_as_documented(b: Backend) {
    let location = &b;
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
    s0.close().await;
    s1.close().await;
    let whole = open(location, "whole", LockScope::Catalog).await.unwrap();
    refused_by(
        open(location, "shard zero", shard(0, 2)).await.unwrap_err(),
        "whole",
    );
    whole.close().await;
    // A refused shard of another count left nothing behind that blocks the next one.
    open(location, "three", shard(2, 3)).await.unwrap();
}

async fn an_invalid_shard_is_refused_with_what_is_valid(b: Backend) {
    let err = open(&b, "x", shard(4, 4)).await.unwrap_err();
    assert!(err.to_string().contains("0..count"), "{err}");
}

async fn recovery_of_a_shard_touches_only_the_datasets_it_owns(b: Backend) {
    let location = b.location.as_str();
    const MINE: &str = "BTCUSDT-PERP.BINANCE";
    const THEIRS: &str = "ETHUSDT-PERP.BINANCE";
    {
        let (catalog, _) = b.open_writable().await;
        catalog.write(oi_days(MINE, 1, 1)).await.unwrap();
        catalog.write(oi_days(THEIRS, 1, 1)).await.unwrap();
        catalog.close().await;
    }
    // In-flight temporaries of both datasets, and a duplicate of each dataset's file (the
    // overlap a crash before the deletes leaves).
    for id in [MINE, THEIRS] {
        let data = b.dir().join("data/custom_open_interest").join(id);
        std::fs::write(data.join("x.parquet.0123.tmp"), b"partial").unwrap();
        let file = parquet_files(&data).remove(0);
        let name = file.file_name().unwrap().to_str().unwrap();
        let (start, end) = ccxt_catalog::naming::parse_file_name(name).unwrap();
        let wider = ccxt_catalog::naming::file_name(start, end + 1);
        // Same rows under a name one ns wider: overlapping, every row twice.
        std::fs::copy(&file, data.join(wider)).unwrap();
    }
    let owns: DatasetFilter =
        Arc::new(|kind, id| kind == RecordKind::OpenInterest && id.as_str() == MINE);
    let (catalog, report) =
        Catalog::open_writable_as(location, &b.options, "shard", shard(0, 2), Some(owns))
            .await
            .unwrap();
    assert_eq!((report.temp_files_removed, report.overlaps_merged), (1, 1));
    let theirs = b.dir().join("data/custom_open_interest").join(THEIRS);
    assert!(
        theirs.join("x.parquet.0123.tmp").exists(),
        "another shard's temporary file kept"
    );
    assert_eq!(
        parquet_files(&theirs).len(),
        2,
        "another shard's files untouched"
    );
    let mine: Vec<OpenInterest> = read_all(&catalog, &[MINE]).await;
    assert_eq!(mine, oi_days(MINE, 1, 1));
    // Compaction of the shard leaves the other dataset alone too.
    let compacted = catalog.compact().await.unwrap();
    assert_eq!(compacted.datasets, 1);
    assert_eq!(parquet_files(&theirs).len(), 2);
}

backends!(
    scopes_exclude_each_other_as_documented,
    an_invalid_shard_is_refused_with_what_is_valid,
    recovery_of_a_shard_touches_only_the_datasets_it_owns,
);
