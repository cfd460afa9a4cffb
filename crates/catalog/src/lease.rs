//! The write lock of a catalog on an object store: a lease object on the store itself.
//!
//! `.ccxt-pipeline/lock-<scope>` (`lock-catalog`, `lock-shard-<i>-of-<n>`) holds
//! `{holder, pid, host, lease_expires_ms}`. It is created with `PutMode::Create` (conditional
//! create), renewed every lease/3 by a background task with `PutMode::Update` (a CAS on its
//! ETag), and deleted on release. A lease whose `lease_expires_ms` has passed (its holder died)
//! is taken over by the same CAS. A renewal that finds the lease replaced, or that cannot renew
//! before it expires, marks it lost: every write then fails with
//! [`CatalogError::LeaseLost`], so two writers never write at once.
//!
//! Scopes follow [`LockScope`]: after taking its own lease a writer lists the others and, if a
//! live one conflicts, releases its own and is refused ([`CatalogError::Locked`]). Taking
//! first and checking second means of two conflicting writers starting at once at least one
//! sees the other. All decisions read time from the injected [`LeaseClock`].

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{PutMode, UpdateVersion};
use serde_json::json;

use crate::error::{CatalogError, Result};
use crate::options::{LeaseClock, LockScope, StorageOptions};
use crate::storage::Storage;

/// The directory of lease objects under the catalog root.
pub const LEASE_DIR: &str = ".ccxt-pipeline";

/// What a lease object says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LeaseBody {
    holder: String,
    pid: u32,
    host: String,
    lease_expires_ms: u64,
}

impl LeaseBody {
    fn to_bytes(&self) -> Bytes {
        Bytes::from(
            json!({
                "holder": self.holder,
                "pid": self.pid,
                "host": self.host,
                "lease_expires_ms": self.lease_expires_ms,
            })
            .to_string(),
        )
    }

    /// `None` for bytes that are not a lease (treated as expired: a torn or foreign object).
    fn parse(bytes: &[u8]) -> Option<LeaseBody> {
        let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        Some(LeaseBody {
            holder: v.get("holder")?.as_str()?.to_string(),
            pid: u32::try_from(v.get("pid")?.as_u64()?).ok()?,
            host: v.get("host")?.as_str()?.to_string(),
            lease_expires_ms: v.get("lease_expires_ms")?.as_u64()?,
        })
    }
}

/// The state of a held lease.
#[derive(Debug)]
struct Held {
    version: UpdateVersion,
    expires_ms: u64,
    /// Why it was lost, once it is.
    lost: Option<String>,
    released: bool,
}

/// A lease this process holds on an object store.
#[derive(Debug)]
pub struct Lease {
    storage: Storage,
    path: Path,
    body: LeaseBody,
    length_ms: u64,
    clock: LeaseClock,
    held: Mutex<Held>,
    /// The renewal task, stopped on release.
    renewer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Whether it is still registered in [`HELD_HERE`].
    registered: std::sync::atomic::AtomicBool,
}

/// The leases this process holds (by shown path): a lease object naming this process (pid and
/// host) that is not in here was left by a catalog this process dropped, whose background
/// release has not run yet; it is taken over at once instead of waiting for its expiry.
static HELD_HERE: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn held_here(key: &str) -> bool {
    HELD_HERE
        .lock()
        .is_ok_and(|held| held.iter().any(|k| k == key))
}

fn set_held_here(key: &str, held: bool) {
    if let Ok(mut keys) = HELD_HERE.lock() {
        if held {
            keys.push(key.to_string());
        } else if let Some(i) = keys.iter().position(|k| k == key) {
            keys.swap_remove(i);
        }
    }
}

/// The name of this machine, for lease bodies and refusals.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn lease_path(scope: LockScope) -> Path {
    Path::from(LEASE_DIR).join(format!("lock-{}", scope.lock_name()))
}

impl Lease {
    /// Takes the lease of `scope` as `holder`, or fails with [`CatalogError::Locked`] naming a
    /// live conflicting holder. Starts the renewal task (every lease/3).
    pub async fn acquire(
        storage: &Storage,
        holder: &str,
        scope: LockScope,
        options: &StorageOptions,
    ) -> Result<Arc<Lease>> {
        let clock = options.lease_clock();
        let length_ms = u64::try_from(options.lease_length().as_millis()).unwrap_or(u64::MAX);
        let path = lease_path(scope);
        let body = LeaseBody {
            holder: holder.to_string(),
            pid: std::process::id(),
            host: host_name(),
            lease_expires_ms: clock.now_ms().saturating_add(length_ms),
        };
        let version = take(storage, &path, &body, scope, &clock).await?;
        set_held_here(&storage.identity_of(&path), true);
        let lease = Arc::new(Lease {
            storage: storage.clone(),
            path,
            body: body.clone(),
            length_ms,
            clock,
            held: Mutex::new(Held {
                version,
                expires_ms: body.lease_expires_ms,
                lost: None,
                released: false,
            }),
            renewer: Mutex::new(None),
            registered: std::sync::atomic::AtomicBool::new(true),
        });
        // Taken first, checked second.
        if let Err(refused) = lease.check_others(scope).await {
            lease.release().await;
            return Err(refused);
        }
        let every = Duration::from_millis((length_ms / 3).max(1));
        let weak = Arc::downgrade(&lease);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(lease) = weak.upgrade() else { return };
                if !lease.renew().await {
                    return;
                }
            }
        });
        if let Ok(mut renewer) = lease.renewer.lock() {
            *renewer = Some(task);
        }
        Ok(lease)
    }

    /// Refuses if a live lease of another scope conflicts with `scope`.
    async fn check_others(&self, scope: LockScope) -> Result<()> {
        let now = self.clock.now_ms();
        for meta in self.storage.list_files(&Path::from(LEASE_DIR)).await? {
            let Some(other) = meta
                .location
                .filename()
                .and_then(|n| n.strip_prefix("lock-"))
                .and_then(LockScope::from_lock_name)
            else {
                continue;
            };
            if other == scope || !scope.conflicts_with(other) {
                continue;
            }
            let bytes = match self.storage.get_versioned(&meta.location).await {
                Ok((bytes, _)) => bytes,
                // Released meanwhile.
                Err(CatalogError::Storage {
                    source: object_store::Error::NotFound { .. },
                    ..
                }) => continue,
                Err(e) => return Err(e),
            };
            if let Some(body) = LeaseBody::parse(&bytes)
                && body.lease_expires_ms > now
                && !left_by_this_process(&self.storage, &meta.location, &body)
            {
                return Err(locked(&self.storage, &body, other));
            }
        }
        Ok(())
    }

    /// Renews the lease now (the background task calls this every lease/3). Returns whether it
    /// is still held.
    pub async fn renew(&self) -> bool {
        let (version, expires_ms) = match self.held.lock() {
            Ok(held) if held.lost.is_none() && !held.released => {
                (held.version.clone(), held.expires_ms)
            }
            _ => return false,
        };
        let now = self.clock.now_ms();
        if now >= expires_ms {
            self.mark_lost("it expired before it could be renewed".into());
            return false;
        }
        let body = LeaseBody {
            lease_expires_ms: now.saturating_add(self.length_ms),
            ..self.body.clone()
        };
        match self
            .storage
            .put_opts(&self.path, body.to_bytes(), PutMode::Update(version))
            .await
        {
            Ok(result) => {
                if let Ok(mut held) = self.held.lock() {
                    held.version = UpdateVersion::from(result);
                    held.expires_ms = body.lease_expires_ms;
                }
                true
            }
            Err(CatalogError::Storage {
                source:
                    object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. },
                ..
            }) => {
                self.mark_lost("another writer took it over".into());
                false
            }
            Err(e) => {
                // The store is unreachable: keep trying until the lease runs out.
                tracing::warn!(error = %e, "could not renew the catalog's write lease; retrying");
                if self.clock.now_ms() >= expires_ms {
                    self.mark_lost(format!("it could not be renewed before it expired: {e}"));
                    return false;
                }
                true
            }
        }
    }

    fn mark_lost(&self, reason: String) {
        tracing::error!(lease = %self.storage.display_path(&self.path), %reason, "lost the catalog's write lease; writes stop");
        if let Ok(mut held) = self.held.lock()
            && held.lost.is_none()
        {
            held.lost = Some(reason);
        }
    }

    /// `Ok` while the lease is held and not past its expiry by this clock;
    /// [`CatalogError::LeaseLost`] otherwise.
    pub fn check(&self) -> Result<()> {
        let lost = |reason: String| CatalogError::LeaseLost {
            root: self.storage.display_root().to_string(),
            reason,
        };
        let held = self
            .held
            .lock()
            .map_err(|_| lost("its state is poisoned".into()))?;
        if let Some(reason) = &held.lost {
            return Err(lost(reason.clone()));
        }
        if held.released {
            return Err(lost("it was released".into()));
        }
        if self.clock.now_ms() >= held.expires_ms {
            return Err(lost("it expired without being renewed".into()));
        }
        Ok(())
    }

    /// Stops renewing and deletes the lease object if it is still ours (a CAS-checked delete is
    /// not generally available: the object is deleted only when its version is still ours).
    pub async fn release(&self) {
        if let Ok(mut renewer) = self.renewer.lock()
            && let Some(task) = renewer.take()
        {
            task.abort();
        }
        let version = match self.held.lock() {
            Ok(mut held) if !held.released => {
                held.released = true;
                self.unregister();
                (held.lost.is_none()).then(|| held.version.clone())
            }
            _ => None,
        };
        let Some(version) = version else { return };
        // Still ours? Then delete it; a lease someone took over is left alone.
        if let Ok((_, current)) = self.storage.get_versioned(&self.path).await
            && current.e_tag == version.e_tag
            && let Err(e) = self.storage.delete(&self.path).await
        {
            tracing::warn!(error = %e, "could not delete the catalog's write lease; it expires on its own");
        }
    }

    /// Removes it from [`HELD_HERE`], once.
    fn unregister(&self) {
        if self
            .registered
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            set_held_here(&self.storage.identity_of(&self.path), false);
        }
    }

    /// Releases it from a synchronous context (a dropped catalog). On a multi-threaded
    /// runtime (the CLI's) it waits for the deletion, so a process that drops its catalog and
    /// exits leaves no lease behind; on a current-thread runtime the deletion is spawned;
    /// outside a runtime the lease simply expires.
    pub fn release_in_background(self: &Arc<Self>) {
        // No longer ours from now on, even before the deletion runs.
        self.unregister();
        let lease = self.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                // Not `handle.block_on`: this thread may be inside the runtime's own
                // `block_on` already. The other workers drive the I/O meanwhile. Bounded:
                // when the drop happens while the runtime shuts down (a task still holding
                // the catalog is dropped at exit) nothing drives the I/O any more, and an
                // unbounded wait would hang the process; the lease then expires on its own.
                let (done, gave_up) = std::sync::mpsc::channel::<()>();
                let deadline = futures::channel::oneshot::channel::<()>();
                let (fire, expired) = deadline;
                std::thread::spawn(move || {
                    if gave_up.recv_timeout(RELEASE_WAIT).is_err() {
                        let _ = fire.send(());
                    }
                });
                tokio::task::block_in_place(|| {
                    futures::executor::block_on(futures::future::select(
                        Box::pin(lease.release()),
                        expired,
                    ))
                });
                let _ = done.send(());
            }
            Ok(handle) => {
                handle.spawn(async move { lease.release().await });
            }
            Err(_) => {
                if let Ok(mut renewer) = lease.renewer.lock()
                    && let Some(task) = renewer.take()
                {
                    task.abort();
                }
            }
        }
    }
}

/// How long a dropped catalog waits for its lease's deletion (see
/// [`Lease::release_in_background`]).
const RELEASE_WAIT: Duration = Duration::from_secs(3);

/// Creates the lease object, or takes over an expired one by CAS. Returns its version.
async fn take(
    storage: &Storage,
    path: &Path,
    body: &LeaseBody,
    scope: LockScope,
    clock: &LeaseClock,
) -> Result<UpdateVersion> {
    // A few rounds: the object may vanish or change between our reads and writes.
    for _ in 0..5 {
        match storage.put_create(path, body.to_bytes()).await {
            Ok(version) => return Ok(version),
            Err(CatalogError::Storage {
                source: object_store::Error::AlreadyExists { .. },
                ..
            }) => {}
            Err(e) => return Err(e),
        }
        let (bytes, version) = match storage.get_versioned(path).await {
            Ok(found) => found,
            Err(CatalogError::Storage {
                source: object_store::Error::NotFound { .. },
                ..
            }) => continue,
            Err(e) => return Err(e),
        };
        let current = LeaseBody::parse(&bytes);
        if let Some(current) = &current
            && current.lease_expires_ms > clock.now_ms()
            && !left_by_this_process(storage, path, current)
        {
            return Err(locked(storage, current, scope));
        }
        tracing::warn!(
            lease = %storage.display_path(path),
            previous = ?current.as_ref().map(|c| (&c.holder, c.pid, &c.host)),
            "taking over an expired catalog write lease (its holder stopped without releasing it)"
        );
        match storage
            .put_opts(path, body.to_bytes(), PutMode::Update(version))
            .await
        {
            Ok(result) => return Ok(UpdateVersion::from(result)),
            Err(CatalogError::Storage {
                source:
                    object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. },
                ..
            }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(CatalogError::LeaseLost {
        root: storage.display_root().to_string(),
        reason: "the lease object kept changing while taking it; another writer is starting".into(),
    })
}

/// Whether `body` names this process (pid and host) but this process holds no such lease: a
/// catalog it dropped left it.
fn left_by_this_process(storage: &Storage, path: &Path, body: &LeaseBody) -> bool {
    body.pid == std::process::id()
        && body.host == host_name()
        && !held_here(&storage.identity_of(path))
}

fn locked(storage: &Storage, body: &LeaseBody, scope: LockScope) -> CatalogError {
    CatalogError::Locked {
        root: storage.display_root().to_string(),
        holder: body.holder.clone(),
        pid: body.pid.to_string(),
        host: Some(body.host.clone()),
        scope: scope.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_body_round_trips_and_garbage_is_no_lease() {
        let body = LeaseBody {
            holder: "daemon".into(),
            pid: 42,
            host: "pod-0".into(),
            lease_expires_ms: 1_000,
        };
        assert_eq!(LeaseBody::parse(&body.to_bytes()), Some(body));
        assert_eq!(LeaseBody::parse(b"{\"holder\":1}"), None);
        assert_eq!(LeaseBody::parse(b"not json"), None);
    }
}
