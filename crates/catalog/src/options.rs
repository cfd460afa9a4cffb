//! How a catalog location is opened: storage options (endpoint override, region, lease length,
//! the clock lease decisions use) and the scope of a writer's lock.

use std::sync::Arc;
use std::time::Duration;

use ccxt_model::{InstrumentId, RecordKind};

use crate::error::{CatalogError, Result};

/// Options for opening a catalog on an object store. `Default` means "the provider's standard
/// chain": credentials, region and endpoint from the environment, profile files or instance
/// role. `Debug` is safe to log: it never shows a secret key.
#[derive(Debug, Clone, Default)]
pub struct StorageOptions {
    /// Endpoint override for S3-compatible stores (MinIO, R2, Ceph): `http://127.0.0.1:9000`.
    pub endpoint: Option<String>,
    /// Region (S3); the provider's chain / `AWS_REGION` when None.
    pub region: Option<String>,
    /// Allow plain http endpoints (also implied by an `http://` endpoint).
    pub allow_http: bool,
    /// Length of the write lease on object stores; [`DEFAULT_LEASE`] when None.
    pub lease: Option<Duration>,
    /// The clock lease decisions use (tests pin it); the system clock when None.
    pub clock: Option<LeaseClock>,
    /// Static S3 keys, overriding the provider's chain (tests and simulators; users keep keys
    /// in the environment or profile files). `Debug` shows the key id only.
    pub access_key: Option<AccessKey>,
}

/// A static S3 access key pair.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// The access key id.
    pub id: String,
    /// The secret key: never shown.
    pub secret: String,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The default length of a writer's lease on an object store.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// A clock in milliseconds since the Unix epoch, for lease decisions (expiry, takeover).
#[derive(Clone)]
pub struct LeaseClock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl LeaseClock {
    /// A clock reading `now_ms`.
    pub fn new(now_ms: impl Fn() -> u64 + Send + Sync + 'static) -> LeaseClock {
        LeaseClock(Arc::new(now_ms))
    }

    /// The system clock.
    pub fn system() -> LeaseClock {
        LeaseClock::new(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                .unwrap_or(0)
        })
    }

    /// Now, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        (self.0)()
    }
}

impl std::fmt::Debug for LeaseClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LeaseClock({} ms)", self.now_ms())
    }
}

impl StorageOptions {
    /// The lease length to use.
    pub fn lease_length(&self) -> Duration {
        self.lease.unwrap_or(DEFAULT_LEASE)
    }

    /// The clock to use for lease decisions.
    pub fn lease_clock(&self) -> LeaseClock {
        self.clock.clone().unwrap_or_else(LeaseClock::system)
    }
}

/// What a writer locks: the whole catalog, or one shard of it.
///
/// `Catalog` excludes every other writer (any live shard lock refuses it); `Shard { i, n }`
/// excludes the same shard and a `Catalog` writer, and refuses a live shard lock with another
/// `n`; different shards of the same `n` coexist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockScope {
    /// The whole catalog.
    Catalog,
    /// Shard `index` of `count` (index in `0..count`).
    Shard {
        /// This shard, in `0..count`.
        index: u32,
        /// How many shards share the catalog.
        count: u32,
    },
}

impl LockScope {
    /// Checks `index < count` and `count >= 1`.
    pub fn validate(self) -> Result<LockScope> {
        match self {
            LockScope::Shard { index, count } if count == 0 || index >= count => {
                Err(CatalogError::InvalidShard { index, count })
            }
            scope => Ok(scope),
        }
    }

    /// The name of this scope's lock (file suffix on disk, lease object on a store):
    /// `catalog` or `shard-<i>-of-<n>`.
    pub fn lock_name(self) -> String {
        match self {
            LockScope::Catalog => "catalog".into(),
            LockScope::Shard { index, count } => format!("shard-{index}-of-{count}"),
        }
    }

    /// Reads a lock name back (`catalog`, `shard-<i>-of-<n>`).
    pub fn from_lock_name(name: &str) -> Option<LockScope> {
        if name == "catalog" {
            return Some(LockScope::Catalog);
        }
        let (index, count) = name.strip_prefix("shard-")?.split_once("-of-")?;
        Some(LockScope::Shard {
            index: index.parse().ok()?,
            count: count.parse().ok()?,
        })
    }

    /// Whether a live lock of `other` refuses a writer of `self`.
    pub fn conflicts_with(self, other: LockScope) -> bool {
        match (self, other) {
            (LockScope::Catalog, _) | (_, LockScope::Catalog) => true,
            (
                LockScope::Shard { index, count },
                LockScope::Shard {
                    index: other_index,
                    count: other_count,
                },
            ) => count != other_count || index == other_index,
        }
    }
}

impl std::fmt::Display for LockScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockScope::Catalog => f.write_str("the whole catalog"),
            LockScope::Shard { index, count } => write!(f, "shard {index}/{count}"),
        }
    }
}

/// Which datasets a writer owns: recovery, compaction and quarantine of a writer opened with
/// a filter touch only the datasets it accepts.
pub type DatasetFilter = Arc<dyn Fn(RecordKind, &InstrumentId) -> bool + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_conflict_as_documented() {
        let shard = |index, count| LockScope::Shard { index, count };
        assert!(LockScope::Catalog.conflicts_with(shard(0, 2)));
        assert!(shard(0, 2).conflicts_with(LockScope::Catalog));
        assert!(LockScope::Catalog.conflicts_with(LockScope::Catalog));
        assert!(shard(1, 2).conflicts_with(shard(1, 2)));
        assert!(shard(1, 2).conflicts_with(shard(0, 3)));
        assert!(!shard(1, 2).conflicts_with(shard(0, 2)));
        for scope in [LockScope::Catalog, shard(3, 8)] {
            assert_eq!(LockScope::from_lock_name(&scope.lock_name()), Some(scope));
        }
        assert!(shard(2, 2).validate().is_err());
        assert!(shard(0, 0).validate().is_err());
        assert!(shard(1, 2).validate().is_ok());
    }

    #[test]
    fn options_never_show_a_secret() {
        let options = StorageOptions {
            access_key: Some(AccessKey {
                id: "AKID".into(),
                secret: "very-secret".into(),
            }),
            ..StorageOptions::default()
        };
        let shown = format!("{options:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
    }
}
