//! The write lock of a catalog on an object store: a lease object on the store, with a pinned
//! clock for every decision.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ccxt_catalog::{Catalog, CatalogError, LeaseClock, LockScope, StorageOptions};
use ccxt_model::OpenInterest;
use ccxt_s3_sim::{Fault, S3Sim};
use common::*;

const ID: &str = "BTCUSDT-PERP.BINANCE";
/// 2026-01-01T00:00:00Z in ms: the pinned time every clock starts at.
const T0: u64 = 1_767_225_600_000;
const LEASE: Duration = Duration::from_secs(60);

struct Clock(Arc<AtomicU64>);

impl Clock {
    fn at(ms: u64) -> Clock {
        Clock(Arc::new(AtomicU64::new(ms)))
    }
    fn set(&self, ms: u64) {
        self.0.store(ms, Ordering::SeqCst);
    }
    fn lease_clock(&self) -> LeaseClock {
        let now = self.0.clone();
        LeaseClock::new(move || now.load(Ordering::SeqCst))
    }
}

struct Store {
    sim: S3Sim,
    location: String,
    _tmp: tempfile::TempDir,
}

async fn store() -> Store {
    let tmp = tempfile::tempdir().unwrap();
    let sim = S3Sim::start(tmp.path()).await.unwrap();
    let location = sim.url("leased");
    Store {
        sim,
        location,
        _tmp: tmp,
    }
}

impl Store {
    fn options(&self, clock: &Clock) -> StorageOptions {
        StorageOptions {
            lease: Some(LEASE),
            clock: Some(clock.lease_clock()),
            ..self.sim.options()
        }
    }

    async fn open(
        &self,
        clock: &Clock,
        holder: &str,
        scope: LockScope,
    ) -> Result<Catalog, CatalogError> {
        Catalog::open_writable_as(&self.location, &self.options(clock), holder, scope, None)
            .await
            .map(|(catalog, _)| catalog)
    }

    fn lease_object(&self, name: &str) -> serde_json::Value {
        let bytes = std::fs::read(
            self.sim
                .local_path(&format!("leased/.ccxt-pipeline/{name}")),
        )
        .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }
}

fn shard(index: u32, count: u32) -> LockScope {
    LockScope::Shard { index, count }
}

#[tokio::test]
async fn a_second_writer_is_refused_naming_the_holder_pid_and_host() {
    let s = store().await;
    let clock = Clock::at(T0);
    let first = s.open(&clock, "daemon", LockScope::Catalog).await.unwrap();
    let lease = s.lease_object("lock-catalog");
    assert_eq!(lease["holder"], "daemon");
    assert_eq!(lease["pid"], std::process::id());
    assert_eq!(lease["lease_expires_ms"], T0 + 60_000);
    let err = s
        .open(&clock, "stream-liquidations", LockScope::Catalog)
        .await
        .unwrap_err();
    let CatalogError::Locked {
        holder, pid, host, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(holder, "daemon");
    assert_eq!(pid, &std::process::id().to_string());
    assert!(host.is_some());
    assert!(err.to_string().contains("on host"), "{err}");
    // Released on close: the next writer gets it at once, without waiting for the expiry.
    first.close().await;
    assert!(
        !s.sim
            .local_path("leased/.ccxt-pipeline/lock-catalog")
            .exists()
    );
    s.open(&clock, "stream-liquidations", LockScope::Catalog)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_its_old_holder_stops_writing() {
    let s = store().await;
    let old_clock = Clock::at(T0);
    let old = s
        .open(&old_clock, "daemon", LockScope::Catalog)
        .await
        .unwrap();
    old.write(oi_days(ID, 1, 1)).await.unwrap();

    // Before the expiry by the newcomer's clock: refused.
    let new_clock = Clock::at(T0 + 59_999);
    let err = s
        .open(&new_clock, "new", LockScope::Catalog)
        .await
        .unwrap_err();
    assert!(matches!(err, CatalogError::Locked { .. }), "{err}");

    // After it (the old holder stopped renewing, as a hung or dead process): taken over.
    new_clock.set(T0 + 60_001);
    let new = s.open(&new_clock, "new", LockScope::Catalog).await.unwrap();
    assert_eq!(s.lease_object("lock-catalog")["holder"], "new");

    // The old holder's next renewal finds the lease replaced: it is lost and writes stop.
    assert!(!old.renew_lease_now().await);
    let err = old.write(oi_days(ID, 2, 2)).await.unwrap_err();
    assert!(matches!(err, CatalogError::LeaseLost { .. }), "{err}");
    assert!(
        err.to_string().contains("another writer took it over"),
        "{err}"
    );
    // The new holder renews and writes; its lease is untouched by the old one.
    assert!(new.renew_lease_now().await);
    new.write(oi_days(ID, 2, 2)).await.unwrap();
    let rows: Vec<OpenInterest> = read_all(&new, &[ID]).await;
    assert_eq!(rows, oi_days(ID, 1, 2));
    // Closing the old catalog does not delete the new holder's lease.
    old.close().await;
    assert_eq!(s.lease_object("lock-catalog")["holder"], "new");
}

#[tokio::test]
async fn a_lease_that_cannot_be_renewed_before_it_expires_is_lost() {
    let s = store().await;
    let clock = Clock::at(T0);
    let catalog = s.open(&clock, "daemon", LockScope::Catalog).await.unwrap();
    // The store goes away: renewals fail but the lease still runs.
    s.sim.set_fault(Fault::Unavailable);
    clock.set(T0 + 20_000);
    assert!(
        catalog.renew_lease_now().await,
        "still held until it expires"
    );
    catalog.check_writable().unwrap();
    // Past the expiry with no renewal: lost, even once the store is back.
    clock.set(T0 + 60_000);
    assert!(!catalog.renew_lease_now().await);
    s.sim.set_fault(Fault::None);
    let err = catalog.write(oi_days(ID, 1, 1)).await.unwrap_err();
    assert!(matches!(err, CatalogError::LeaseLost { .. }), "{err}");
    assert!(
        !catalog.renew_lease_now().await,
        "a lost lease is never renewed"
    );
}

#[tokio::test]
async fn a_renewal_moves_the_expiry_forward() {
    let s = store().await;
    let clock = Clock::at(T0);
    let catalog = s.open(&clock, "daemon", LockScope::Catalog).await.unwrap();
    clock.set(T0 + 30_000);
    assert!(catalog.renew_lease_now().await);
    assert_eq!(
        s.lease_object("lock-catalog")["lease_expires_ms"],
        T0 + 90_000
    );
    // Still ours at T0 + 80 s thanks to the renewal.
    clock.set(T0 + 80_000);
    catalog.write(oi_days(ID, 1, 1)).await.unwrap();
}

#[tokio::test]
async fn shards_of_one_count_coexist_and_exclude_everyone_else() {
    let s = store().await;
    let clock = Clock::at(T0);
    let s0 = s.open(&clock, "shard-0", shard(0, 2)).await.unwrap();
    let s1 = s.open(&clock, "shard-1", shard(1, 2)).await.unwrap();
    for (scope, holder) in [
        (shard(0, 2), "shard-0"),
        (LockScope::Catalog, "shard-0"),
        (shard(2, 3), "shard-0"),
    ] {
        let err = s.open(&clock, "late", scope).await.unwrap_err();
        let CatalogError::Locked { holder: h, .. } = &err else {
            panic!("{scope:?}: {err}")
        };
        assert_eq!(h, holder, "{scope:?}");
    }
    // A refused writer leaves no lease behind.
    assert!(
        !s.sim
            .local_path("leased/.ccxt-pipeline/lock-catalog")
            .exists()
    );
    assert!(
        !s.sim
            .local_path("leased/.ccxt-pipeline/lock-shard-2-of-3")
            .exists()
    );
    // Both shards write to one catalog.
    s0.write(oi_days("AUSDT-PERP.BINANCE", 1, 1)).await.unwrap();
    s1.write(oi_days("BUSDT-PERP.BINANCE", 1, 1)).await.unwrap();
    s0.close().await;
    s1.close().await;
    let whole = s.open(&clock, "compact", LockScope::Catalog).await.unwrap();
    assert_eq!(whole.info().await.unwrap().len(), 2);
    let err = s.open(&clock, "shard-0", shard(0, 2)).await.unwrap_err();
    assert!(matches!(err, CatalogError::Locked { .. }), "{err}");
}

#[tokio::test]
async fn a_catalog_dropped_by_this_process_does_not_lock_out_the_next_open() {
    let s = store().await;
    let clock = Clock::at(T0);
    let first = s.open(&clock, "first", LockScope::Catalog).await.unwrap();
    drop(first); // released in the background, maybe not yet
    s.open(&clock, "second", LockScope::Catalog).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_catalog_on_a_multi_threaded_runtime_deletes_its_lease_at_once() {
    let s = store().await;
    let clock = Clock::at(T0);
    let catalog = s.open(&clock, "cli", LockScope::Catalog).await.unwrap();
    let lease = s.sim.local_path("leased/.ccxt-pipeline/lock-catalog");
    assert!(lease.exists());
    drop(catalog);
    assert!(!lease.exists(), "deleted before drop returned");
}

/// The CLI drops its catalog inside `Runtime::block_on` on the main thread.
#[test]
fn dropping_a_catalog_inside_runtime_block_on_deletes_its_lease() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let s = store().await;
        let clock = Clock::at(T0);
        let catalog = s.open(&clock, "cli", LockScope::Catalog).await.unwrap();
        let lease = s.sim.local_path("leased/.ccxt-pipeline/lock-catalog");
        drop(catalog);
        assert!(!lease.exists());
    });
}

#[tokio::test]
async fn an_unreachable_store_is_one_line_naming_the_location() {
    let mut s = store().await;
    let clock = Clock::at(T0);
    let mut options = s.options(&clock);
    options.lease = Some(Duration::from_secs(4)); // short client retries
    s.sim.stop();
    let err = Catalog::open_writable_as(&s.location, &options, "x", LockScope::Catalog, None)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, CatalogError::Storage { .. }), "{message}");
    assert!(message.contains(&s.location), "{message}");
    assert!(!message.contains('\n'), "{message}");
    assert!(!message.contains(ccxt_s3_sim::SECRET_KEY), "{message}");
}

#[tokio::test]
async fn a_catalog_on_s3_never_shows_its_secret_key() {
    let s = store().await;
    let clock = Clock::at(T0);
    let catalog = s.open(&clock, "daemon", LockScope::Catalog).await.unwrap();
    let shown = format!("{catalog:?} {:?}", s.options(&clock));
    assert!(!shown.contains(ccxt_s3_sim::SECRET_KEY), "{shown}");
}
