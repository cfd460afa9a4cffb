//! The storage a test runs against: a local directory, or a prefix of a bucket on the S3
//! simulator (objects land as plain files under the simulator's root, so `dir()` works for
//! both). `backends!(test_a, test_b)` runs each `async fn test_x(b: Backend)` on both.

use std::path::{Path, PathBuf};

use ccxt_catalog::{Catalog, LockScope, RecoveryReport, StorageOptions};
use ccxt_s3_sim::S3Sim;

/// Which storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A local directory.
    Local,
    /// A prefix on the S3 simulator.
    S3,
}

/// A catalog location for one test.
pub struct Backend {
    pub kind: Kind,
    pub location: String,
    pub options: StorageOptions,
    dir: PathBuf,
    pub sim: Option<S3Sim>,
    _tmp: tempfile::TempDir,
}

impl Backend {
    pub async fn new(kind: Kind) -> Backend {
        let tmp = tempfile::tempdir().unwrap();
        match kind {
            Kind::Local => Backend {
                kind,
                location: tmp.path().to_str().unwrap().to_string(),
                options: StorageOptions::default(),
                dir: tmp.path().to_path_buf(),
                sim: None,
                _tmp: tmp,
            },
            Kind::S3 => {
                let sim = S3Sim::start(&tmp.path().join("s3")).await.unwrap();
                let prefix = "team/catalog";
                Backend {
                    kind,
                    location: sim.url(prefix),
                    options: sim.options(),
                    dir: sim.local_path(prefix),
                    sim: Some(sim),
                    _tmp: tmp,
                }
            }
        }
    }

    /// Where the catalog's files are on disk (the simulator's copy for S3).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How the catalog shows a file of `dir()` in messages.
    pub fn shown(&self, path: &Path) -> String {
        match self.kind {
            Kind::Local => path.display().to_string(),
            Kind::S3 => format!(
                "{}/{}",
                self.location,
                path.strip_prefix(&self.dir).unwrap().display()
            ),
        }
    }

    pub async fn open_writable(&self) -> (Catalog, RecoveryReport) {
        self.open_writable_as("writer", LockScope::Catalog)
            .await
            .unwrap()
    }

    pub async fn open_writable_as(
        &self,
        holder: &str,
        scope: LockScope,
    ) -> ccxt_catalog::Result<(Catalog, RecoveryReport)> {
        Catalog::open_writable_as(&self.location, &self.options, holder, scope, None).await
    }

    pub fn open(&self) -> Catalog {
        Catalog::open_with(&self.location, &self.options).unwrap()
    }

    pub fn sim(&self) -> &S3Sim {
        self.sim.as_ref().unwrap()
    }
}

/// Runs each listed `async fn NAME(b: Backend)` against the local disk and the S3 simulator:
/// tests `NAME::local` and `NAME::s3`.
#[macro_export]
macro_rules! backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn local() {
                    super::$name($crate::common::backend::Backend::new(
                        $crate::common::backend::Kind::Local,
                    ).await).await;
                }
                #[tokio::test]
                async fn s3() {
                    super::$name($crate::common::backend::Backend::new(
                        $crate::common::backend::Kind::S3,
                    ).await).await;
                }
            }
        )*
    };
}
