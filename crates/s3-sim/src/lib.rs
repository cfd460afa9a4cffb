//! A local S3-compatible object store on loopback for tests, CI and benches.
//!
//! Built on `s3s` (the S3 protocol, SigV4 with fixed test keys) and `s3s-fs` (objects as plain
//! files under `<root>/<bucket>/<key>`, so a test can look at what was written with
//! `std::fs`). On top of them, at the HTTP layer:
//! * every request is counted by kind ([`RequestCounts`]: GET, PUT, HEAD, LIST, DELETE, COPY,
//!   POST);
//! * a fault switch ([`Fault`]): answer `503 Service Unavailable` to everything (a store that
//!   is down) or delay every answer;
//! * conditional puts (`If-None-Match: *`, `If-Match: <etag>`) are serialized by a mutex so
//!   the check and the write are atomic, as on a real store;
//! * [`S3Sim::stop`] and [`S3Sim::restart`] take the server away and bring it back on the same
//!   port with the same data.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ccxt_catalog::{AccessKey, StorageOptions};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

mod compat;

/// The access key the simulator accepts.
pub const ACCESS_KEY: &str = "ccxt-test-access-key";
/// The secret key the simulator accepts (a test key, not a secret).
pub const SECRET_KEY: &str = "ccxt-test-secret-key";
/// The region the simulator reports.
pub const REGION: &str = "us-east-1";
/// The bucket [`S3Sim::start`] creates.
pub const BUCKET: &str = "catalog";

/// What can go wrong starting the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The data directory or the bucket directory could not be created.
    #[error("cannot prepare the S3 simulator's data directory '{path}': {source}")]
    Root {
        /// The directory.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The object store backend refused the root.
    #[error("cannot serve '{path}' as an S3 store: {reason}")]
    Backend {
        /// The directory.
        path: String,
        /// Why.
        reason: String,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Result alias of this crate.
pub type Result<T, E = SimError> = std::result::Result<T, E>;

/// How the simulator misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Answers normally.
    #[default]
    None,
    /// Answers `503 Service Unavailable` to every request, as a store that is down.
    Unavailable,
    /// Delays every answer by this long (a slow store).
    Delay(Duration),
}

/// Requests served, by kind, counted at the HTTP layer (including refused ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// Object downloads (`GET` of a key, including ranged reads).
    pub get: u64,
    /// Object uploads (`PUT` without a copy source; multipart parts included).
    pub put: u64,
    /// `HEAD` requests.
    pub head: u64,
    /// Listings (`GET` of a bucket).
    pub list: u64,
    /// `DELETE` requests.
    pub delete: u64,
    /// Server-side copies (`PUT` with `x-amz-copy-source`).
    pub copy: u64,
    /// `POST` requests (multipart create/complete, batch delete).
    pub post: u64,
}

impl RequestCounts {
    /// Every request.
    pub fn total(&self) -> u64 {
        self.get + self.put + self.head + self.list + self.delete + self.copy + self.post
    }
}

#[derive(Default)]
struct Counters {
    get: AtomicU64,
    put: AtomicU64,
    head: AtomicU64,
    list: AtomicU64,
    delete: AtomicU64,
    copy: AtomicU64,
    post: AtomicU64,
}

/// State shared by the server tasks.
struct Shared {
    service: S3Service,
    counters: Counters,
    fault: Mutex<Fault>,
    /// Serializes conditional puts so check-and-write is atomic.
    conditional: tokio::sync::Mutex<()>,
}

/// A running (or stopped) simulator.
pub struct S3Sim {
    root: PathBuf,
    addr: SocketAddr,
    shared: Arc<Shared>,
    running: Option<CancellationToken>,
}

impl std::fmt::Debug for S3Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Sim")
            .field("root", &self.root)
            .field("addr", &self.addr)
            .field("running", &self.running.is_some())
            .finish_non_exhaustive()
    }
}

impl S3Sim {
    /// Starts a simulator on `127.0.0.1:<free port>` storing objects under `root`, with the
    /// bucket [`BUCKET`].
    pub async fn start(root: &Path) -> Result<S3Sim> {
        S3Sim::start_on(root, "127.0.0.1:0", BUCKET).await
    }

    /// Starts a simulator on `addr` (e.g. `127.0.0.1:9000`) with the bucket `bucket`.
    pub async fn start_on(root: &Path, addr: &str, bucket: &str) -> Result<S3Sim> {
        let root_error = |source| SimError::Root {
            path: root.display().to_string(),
            source,
        };
        std::fs::create_dir_all(root.join(bucket)).map_err(root_error)?;
        let root = root.canonicalize().map_err(root_error)?;
        let fs = s3s_fs::FileSystem::new(&root).map_err(|e| SimError::Backend {
            path: root.display().to_string(),
            reason: format!("{e:?}"),
        })?;
        let mut builder = S3ServiceBuilder::new(compat::Compat(fs));
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let shared = Arc::new(Shared {
            service: builder.build(),
            counters: Counters::default(),
            fault: Mutex::new(Fault::None),
            conditional: tokio::sync::Mutex::new(()),
        });
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SimError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let mut sim = S3Sim {
            root,
            addr,
            shared,
            running: None,
        };
        sim.serve(listener);
        Ok(sim)
    }

    fn serve(&mut self, listener: TcpListener) {
        let token = CancellationToken::new();
        tokio::spawn(accept_loop(listener, self.shared.clone(), token.clone()));
        self.running = Some(token);
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The directory objects are stored under (`<root>/<bucket>/<key>`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the object `key` of [`BUCKET`] lies on disk: `url(prefix)`'s objects are under
    /// `local_path(prefix)`.
    pub fn local_path(&self, key: &str) -> PathBuf {
        self.root.join(BUCKET).join(key)
    }

    /// `s3://catalog/<prefix>`.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{BUCKET}/{}", prefix.trim_matches('/'))
    }

    /// Storage options pointing the catalog at this simulator, with its test keys.
    pub fn options(&self) -> StorageOptions {
        StorageOptions {
            endpoint: Some(self.endpoint()),
            region: Some(REGION.into()),
            allow_http: true,
            access_key: Some(AccessKey {
                id: ACCESS_KEY.into(),
                secret: SECRET_KEY.into(),
            }),
            ..StorageOptions::default()
        }
    }

    /// Everything a child `ccxt-cli` needs to use this simulator: test keys, region and the
    /// endpoint (`CCXT_STORAGE__ENDPOINT` and `AWS_ENDPOINT_URL`), plain http allowed.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_DEFAULT_REGION", REGION.to_string()),
            ("CCXT_STORAGE__ENDPOINT", self.endpoint()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Switches the fault mode.
    pub fn set_fault(&self, fault: Fault) {
        if let Ok(mut f) = self.shared.fault.lock() {
            *f = fault;
        }
    }

    /// Requests served so far.
    pub fn requests(&self) -> RequestCounts {
        let c = &self.shared.counters;
        let read = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RequestCounts {
            get: read(&c.get),
            put: read(&c.put),
            head: read(&c.head),
            list: read(&c.list),
            delete: read(&c.delete),
            copy: read(&c.copy),
            post: read(&c.post),
        }
    }

    /// Stops listening and closes every open connection; the data stays. Clients see
    /// connection errors until [`S3Sim::restart`].
    pub fn stop(&mut self) {
        if let Some(token) = self.running.take() {
            token.cancel();
        }
    }

    /// Listens again on the same port, serving the same data.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop();
        let listener = bind_retrying(self.addr).await?;
        self.serve(listener);
        Ok(())
    }

    /// Whether it is serving.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }
}

impl Drop for S3Sim {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Binds `addr`, retrying briefly while the old listener's socket is being closed.
async fn bind_retrying(addr: SocketAddr) -> Result<TcpListener> {
    let mut last = None;
    for _ in 0..50 {
        match TcpListener::bind(addr).await {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(SimError::Bind {
        addr: addr.to_string(),
        source: last.unwrap_or_else(|| std::io::Error::other("bind failed")),
    })
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, token: CancellationToken) {
    let server = ConnBuilder::new(TokioExecutor::new());
    loop {
        let socket = tokio::select! {
            () = token.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => socket,
                Err(e) => {
                    tracing::warn!(error = %e, "s3-sim: accept failed");
                    continue;
                }
            },
        };
        // Without it, small answers wait for the client's delayed ACK (~40 ms each).
        let _ = socket.set_nodelay(true);
        let shared = shared.clone();
        let service = hyper::service::service_fn(move |req| handle(shared.clone(), req));
        let conn = server
            .serve_connection(TokioIo::new(socket), service)
            .into_owned();
        let token = token.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = token.cancelled() => {}
                _ = conn => {}
            }
        });
    }
}

/// The kind of a request, for the counters.
fn count(counters: &Counters, req: &http::Request<hyper::body::Incoming>) {
    let path = req.uri().path().trim_start_matches('/');
    // Path-style: `/<bucket>` or `/<bucket>/` is the bucket itself; a key follows otherwise.
    let is_bucket = !path.trim_end_matches('/').contains('/');
    let counter = match *req.method() {
        http::Method::GET if is_bucket => &counters.list,
        http::Method::GET => &counters.get,
        http::Method::PUT if req.headers().contains_key("x-amz-copy-source") => &counters.copy,
        http::Method::PUT => &counters.put,
        http::Method::HEAD => &counters.head,
        http::Method::DELETE => &counters.delete,
        _ => &counters.post,
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

async fn handle(
    shared: Arc<Shared>,
    req: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<s3s::Body>, s3s::HttpError> {
    count(&shared.counters, &req);
    let fault = shared.fault.lock().map(|f| *f).unwrap_or_default();
    match fault {
        Fault::None => {}
        Fault::Unavailable => return Ok(unavailable()),
        Fault::Delay(by) => tokio::time::sleep(by).await,
    }
    let conditional = req.method() == http::Method::PUT
        && (req.headers().contains_key(http::header::IF_NONE_MATCH)
            || req.headers().contains_key(http::header::IF_MATCH));
    let req = req.map(s3s::Body::from);
    if conditional {
        let _one_at_a_time = shared.conditional.lock().await;
        shared.service.call(req).await
    } else {
        shared.service.call(req).await
    }
}

fn unavailable() -> http::Response<s3s::Body> {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>ServiceUnavailable</Code><Message>the S3 simulator is set to be unavailable</Message></Error>";
    let mut response = http::Response::new(s3s::Body::from(body.to_string()));
    *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
    response
}
