//! The simulator speaks enough S3 for the catalog: conditional puts, listings, counters,
//! faults, stop and restart with the same data.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use ccxt_catalog::{CatalogError, Storage};
use ccxt_s3_sim::{Fault, S3Sim};
use object_store::path::Path;
use object_store::{PutMode, UpdateVersion};

fn is_storage_error(e: &CatalogError, what: fn(&object_store::Error) -> bool) -> bool {
    matches!(e, CatalogError::Storage { source, .. } if what(source))
}

#[tokio::test]
async fn conditional_puts_are_atomic_and_requests_are_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = S3Sim::start(tmp.path()).await.unwrap();
    let storage = Storage::from_location_with(&sim.url("p"), true, &sim.options()).unwrap();
    let path = Path::from("a/b.txt");
    let first = storage
        .put_create(&path, Bytes::from_static(b"one"))
        .await
        .unwrap();
    let err = storage
        .put_create(&path, Bytes::from_static(b"two"))
        .await
        .unwrap_err();
    assert!(
        is_storage_error(&err, |e| matches!(
            e,
            object_store::Error::AlreadyExists { .. }
        )),
        "{err}"
    );
    // CAS: the first version updates once; the stale version is refused.
    let v1: UpdateVersion = first;
    storage
        .put_opts(
            &path,
            Bytes::from_static(b"three"),
            PutMode::Update(v1.clone()),
        )
        .await
        .unwrap();
    let err = storage
        .put_opts(&path, Bytes::from_static(b"four"), PutMode::Update(v1))
        .await
        .unwrap_err();
    assert!(
        is_storage_error(&err, |e| matches!(
            e,
            object_store::Error::Precondition { .. }
        )),
        "{err}"
    );
    let (bytes, _) = storage.get_versioned(&path).await.unwrap();
    assert_eq!(&bytes[..], b"three");
    assert_eq!(
        std::fs::read(sim.local_path("p/a/b.txt")).unwrap(),
        b"three",
        "objects are plain files under the root"
    );
    assert_eq!(storage.list_files(&Path::from("a")).await.unwrap().len(), 1);
    storage.delete(&path).await.unwrap();
    let counts = sim.requests();
    // The refused create reads the object once (to tell our own retried create from
    // another's); object_store deletes through S3's batch delete (a POST).
    assert_eq!(
        (
            counts.put,
            counts.get,
            counts.list,
            counts.delete + counts.post
        ),
        (4, 2, 1, 1),
        "{counts:?}"
    );
}

#[tokio::test]
async fn a_store_that_is_down_answers_503_then_comes_back_with_its_data() {
    let tmp = tempfile::tempdir().unwrap();
    let mut sim = S3Sim::start(tmp.path()).await.unwrap();
    let mut options = sim.options();
    options.lease = Some(std::time::Duration::from_secs(4)); // short retries
    let storage = Storage::from_location_with(&sim.url("p"), true, &options).unwrap();
    let path = Path::from("x");
    storage
        .put_create(&path, Bytes::from_static(b"kept"))
        .await
        .unwrap();
    sim.set_fault(Fault::Unavailable);
    assert!(storage.head(&path).await.is_err());
    sim.set_fault(Fault::None);
    sim.stop();
    assert!(!sim.is_running());
    assert!(storage.head(&path).await.is_err());
    sim.restart().await.unwrap();
    assert_eq!(storage.head(&path).await.unwrap().size, 4);
}
