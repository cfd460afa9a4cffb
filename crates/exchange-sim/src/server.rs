//! The HTTP server: routing, the gate every venue request passes (stats, fault switches, rate
//! limits, body faults, Binance's used-weight header), the `/__sim/*` admin endpoints, and
//! the listener whose connections can be reset on purpose.
//!
//! Dropping a connection: axum always answers, so the listener wraps each TCP stream in
//! [`SimIo`] with a kill flag, handed to handlers through `ConnectInfo`. To drop a request the
//! gate sets the flag and returns a throw-away response; hyper's first write of that response
//! then fails, so not a byte of it leaves, and the stream is closed with `SO_LINGER` 0: the
//! client sees a connection reset (no response, no partial body).
//!
//! Admin endpoints (never rate limited, never faulted, not counted):
//! * `GET /__sim/stats[?log=false]` — [`StatsSnapshot`] as JSON.
//! * `POST /__sim/reset` — clears stats, rate-limit windows and bans, and the WebSocket
//!   counters and sent logs (faults, clock, open connections and Hyperliquid fills stay).
//! * `GET|POST /__sim/faults` — the [`Faults`] in force; a POST replaces them all.
//! * `GET|POST /__sim/clock` — `{"now_ms": 1767225600000}` fixes the data clock, `null` follows
//!   real time.
//! * `GET /__sim/symbols` — every instrument per venue with its status and funding interval.
//! * `GET /__sim/health` — `ok`.
//! * `GET|POST /__sim/ws/faults` — the WebSocket faults per venue ([`WsFaultSet`]); a POST
//!   ([`WsFaultsUpdate`]) replaces the faults of the venues it names and fires their one-shot
//!   actions.
//! * `GET /__sim/ws/sent?venue=binance[&conn=ID][&skip=N][&limit=N]` — the liquidations sent
//!   (`{"venue","kept","dropped","events":[SentLiquidation…]}`), oldest first.
//!
//! WebSocket endpoints (`/market/ws…`, `/market/stream`, `/v5/public/linear`, `/ws`,
//! `/ws/v5/public`) bypass
//! the request gate: no HTTP rate limit or HTTP fault applies to them except `venue_down`.
//! Once upgraded, a connection's [`SimIo`] follows the frames it writes so that the
//! `no_pong` and `half_open` faults can drop frames the WebSocket library would send by itself
//! (see `ws::filter`).

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::{IncomingStream, Listener};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::SimConfig;
use crate::data::{Status, Universe};
use crate::faults::{FaultState, Faults, Injection, apply_body_faults};
use crate::limits::{Limiter, PoolId, Verdict};
use crate::stats::{LogEntry, Stats, StatsSnapshot};
use crate::ws::filter::{Cursor, Fate, WsIoFlags, run as filter_run};
use crate::ws::{
    SentLiquidation, WsFaultSet, WsFaults, WsFaultsUpdate, WsHub, binance_combined, binance_raw,
    binance_raw_root, bybit_linear, hyperliquid_ws, okx_public,
};
use crate::{Venue, binance, bybit, hyperliquid, okx};

/// Largest request body read (Hyperliquid `/info`).
const MAX_BODY: usize = 1 << 20;

/// Wall-clock Unix milliseconds.
pub(crate) fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Locks, ignoring poisoning (a panicked request must not take the simulator down).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The data clock: fixed, or real time.
#[derive(Debug)]
pub(crate) struct Clock {
    fixed: AtomicU64,
}

impl Clock {
    const REAL: u64 = u64::MAX;

    fn new(fixed: Option<u64>) -> Clock {
        Clock {
            fixed: AtomicU64::new(fixed.unwrap_or(Self::REAL)),
        }
    }

    /// The simulated now, Unix ms.
    pub fn now_ms(&self) -> u64 {
        match self.fixed.load(Ordering::Relaxed) {
            Self::REAL => wall_ms(),
            t => t,
        }
    }

    fn set(&self, fixed: Option<u64>) {
        let value = fixed.map_or(Self::REAL, |t| t.min(Self::REAL - 1));
        self.fixed.store(value, Ordering::Relaxed);
    }

    fn fixed(&self) -> Option<u64> {
        match self.fixed.load(Ordering::Relaxed) {
            Self::REAL => None,
            t => Some(t),
        }
    }
}

/// State shared by all handlers.
#[derive(Debug)]
pub(crate) struct AppState {
    /// The instruments and their data.
    pub universe: Universe,
    /// The data clock.
    pub clock: Clock,
    /// Binance `rateLimits` in exchangeInfo.
    pub binance_weight_limit: u32,
    /// The seed of all generated data.
    pub seed: u64,
    /// WebSocket connections, liquidation feeds and their logs.
    pub ws: WsHub,
    limiter: Mutex<Limiter>,
    /// The HTTP faults.
    pub faults: Mutex<FaultState>,
    stats: Mutex<Stats>,
}

impl AppState {
    fn new(config: &SimConfig) -> AppState {
        let clock = Clock::new(config.now_ms);
        let universe = Universe::new(
            config.seed,
            config.symbols,
            config.history_days,
            clock.now_ms(),
        );
        AppState {
            ws: WsHub::new(&config.ws, &universe),
            universe,
            clock,
            binance_weight_limit: config.limits.binance_weight_per_minute,
            seed: config.seed,
            limiter: Mutex::new(Limiter::new(&config.limits)),
            faults: Mutex::new(FaultState::new(config.faults.clone(), config.seed)),
            stats: Mutex::new(Stats::new(wall_ms())),
        }
    }

    fn snapshot(&self, with_log: bool) -> StatsSnapshot {
        let limiter = lock(&self.limiter).clone();
        let mut snapshot = lock(&self.stats).snapshot(&limiter, with_log);
        snapshot.ws = self.ws.stats();
        snapshot
    }

    fn reset(&self) {
        lock(&self.limiter).reset();
        *lock(&self.stats) = Stats::new(wall_ms());
        self.ws.reset();
    }
}

/// Weight a Hyperliquid handler charges after answering (1 per 20 funding rows).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExtraWeight(pub u32);

/// Query parameters in order (first occurrence wins; empty values count as absent).
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// Parses the query string; `Err` carries the reason.
    pub fn from_uri(uri: &Uri) -> Result<Params, String> {
        Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map(|Query(v)| Params(v))
            .map_err(|e| e.body_text())
    }

    /// The value of `key`, if given and not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// Which venue a path belongs to, and the endpoint name used in stats and fault lists.
fn classify(path: &str) -> Option<(Venue, String)> {
    if path.starts_with("/fapi/") || path.starts_with("/futures/") {
        let name = path.rsplit('/').next().unwrap_or_default();
        Some((Venue::Binance, name.to_string()))
    } else if path.starts_with("/v5/public/") {
        // WebSocket streams.
        None
    } else if let Some(rest) = path.strip_prefix("/v5/") {
        let name = rest.strip_prefix("market/").unwrap_or(rest);
        Some((Venue::Bybit, name.to_string()))
    } else if let Some(rest) = path.strip_prefix("/api/v5/") {
        let name = rest.rsplit('/').next().unwrap_or_default();
        Some((Venue::Okx, name.to_string()))
    } else if path == "/info" || path.starts_with("/info/") {
        Some((Venue::Hyperliquid, "info".to_string()))
    } else {
        None
    }
}

/// What a request costs in each budget (Binance klines by their `limit`).
fn costs(venue: Venue, endpoint: &str, uri: &Uri) -> Vec<(PoolId, u32)> {
    match venue {
        Venue::Binance if endpoint == "klines" || endpoint == "markPriceKlines" => {
            let limit = Params::from_uri(uri)
                .ok()
                .and_then(|p| p.get("limit").and_then(|l| l.parse().ok()));
            vec![(PoolId::BinanceWeight, binance::kline_weight(limit))]
        }
        Venue::Binance if endpoint == "fundingRate" || endpoint == "fundingInfo" => {
            vec![(PoolId::BinanceFunding, 1)]
        }
        Venue::Binance => vec![(PoolId::BinanceWeight, 1)],
        Venue::Bybit => vec![(PoolId::Bybit, 1)],
        Venue::Hyperliquid => vec![(PoolId::Hyperliquid, 20)],
        Venue::Okx => vec![(PoolId::Okx, 1)],
    }
}

/// A venue's body for an injected 5xx.
fn server_error(venue: Venue, status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    match (venue, status) {
        (Venue::Binance, 500) => (
            code,
            Json(json!({"code": -1000, "msg": "An unknown error occurred while processing the request."})),
        )
            .into_response(),
        (Venue::Binance, 503) => (
            code,
            Json(json!({"code": -1001, "msg": "Internal error; unable to process your request. Please try again."})),
        )
            .into_response(),
        (Venue::Okx, 500) => (
            code,
            Json(json!({"code": "50026", "msg": "System error. Try again later", "data": []})),
        )
            .into_response(),
        (Venue::Okx, 503) => (
            code,
            Json(json!({"code": "50001", "msg": "Service temporarily unavailable. Try again later", "data": []})),
        )
            .into_response(),
        _ => {
            let reason = code.canonical_reason().unwrap_or("Error");
            (
                code,
                [(header::CONTENT_TYPE, "text/html")],
                format!(
                    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
                ),
            )
                .into_response()
        }
    }
}

/// The limiter's refusal as the venue sends it.
fn refusal(venue: Venue, verdict: Verdict, pool: Option<(u32, u64)>, now: u64) -> Response {
    let retry = |s: u64| {
        [(
            header::RETRY_AFTER,
            HeaderValue::from_str(&s.to_string()).unwrap_or(HeaderValue::from_static("1")),
        )]
    };
    match verdict {
        Verdict::Allow => StatusCode::OK.into_response(),
        Verdict::TooMany { retry_after_s } if venue == Venue::Binance => {
            let s = retry_after_s.unwrap_or(1);
            let (cap, window) = pool.unwrap_or((2400, 60_000));
            let window = if window >= 300_000 { "5 MINUTE" } else { "1 MINUTE" };
            (
                StatusCode::TOO_MANY_REQUESTS,
                retry(s),
                Json(json!({
                    "code": -1003,
                    "msg": format!("Too many requests; current limit of IP(127.0.0.1) request weight is {cap} per {window}. Please use WebSocket Streams for live updates to avoid bans."),
                })),
            )
                .into_response()
        }
        Verdict::TooMany { .. } if venue == Venue::Okx => (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"msg": "Too Many Requests", "code": "50011"})),
        )
            .into_response(),
        Verdict::TooMany { retry_after_s } => {
            let mut r = (StatusCode::TOO_MANY_REQUESTS, "429 Too Many Requests").into_response();
            if let Some(s) = retry_after_s
                && let Ok(v) = HeaderValue::from_str(&s.to_string())
            {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Verdict::Banned { retry_after_s } => (
            StatusCode::IM_A_TEAPOT,
            retry(retry_after_s),
            Json(json!({
                "code": -1003,
                "msg": format!("Way too many requests; IP(127.0.0.1) banned until {}. Please use WebSocket Streams for live updates to avoid bans.", now + retry_after_s * 1000),
            })),
        )
            .into_response(),
        Verdict::Forbidden => (StatusCode::FORBIDDEN, "access too frequent").into_response(),
    }
}

/// Resets the connection carrying `req` (see the module docs).
fn drop_connection(req: &Request) -> Response {
    match req.extensions().get::<ConnectInfo<ConnHandle>>() {
        Some(ConnectInfo(conn)) => {
            conn.kill.store(true, Ordering::SeqCst);
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "exchange-sim: connection drop needs the simulator's own listener",
        )
            .into_response(),
    }
}

/// Binance's `X-MBX-USED-WEIGHT-1M`: weight used in the current window of the weight pool.
fn add_used_weight(st: &AppState, response: &mut Response) {
    let used = lock(&st.limiter).used(PoolId::BinanceWeight, wall_ms());
    if let Ok(v) = HeaderValue::from_str(&used.to_string()) {
        response.headers_mut().insert("x-mbx-used-weight-1m", v);
    }
}

/// Every request passes here; venue requests get counted, faulted, rate limited.
async fn gate(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let Some((venue, mut endpoint)) = classify(req.uri().path()) else {
        return next.run(req).await;
    };
    let t = wall_ms();
    let mut req = req;
    if venue == Venue::Hyperliquid {
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
            Ok(b) => b,
            Err(_) => Bytes::new(),
        };
        endpoint = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
            .filter(|t| hyperliquid::KNOWN_TYPES.contains(&t.as_str()))
            .unwrap_or_else(|| "invalid".to_string());
        req = Request::from_parts(parts, Body::from(bytes));
    }
    let plan = lock(&st.faults).plan(venue);
    if plan.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(plan.latency_ms)).await;
    }
    let mut entry = LogEntry {
        t_ms: t,
        venue,
        endpoint: endpoint.clone(),
        status: 0,
        weight: 0,
        injected: false,
    };
    if let Some(injection) = plan.inject {
        entry.injected = true;
        let response = match injection {
            Injection::Reset => drop_connection(&req),
            Injection::Status(s) => {
                entry.status = s;
                let mut response = server_error(venue, s);
                if venue == Venue::Binance {
                    add_used_weight(&st, &mut response);
                }
                response
            }
        };
        tracing::debug!(%venue, %endpoint, ?injection, "fault injected");
        lock(&st.stats).record(entry);
        return response;
    }

    let costs = costs(venue, &endpoint, req.uri());
    entry.weight = costs.iter().map(|&(_, w)| w).sum();
    let now = wall_ms();
    let okx_key = (venue == Venue::Okx).then(|| okx::limit_key(&endpoint, req.uri()));
    let (verdict, refused_pool) = {
        let mut limiter = lock(&st.limiter);
        let verdict = match &okx_key {
            Some(key) => limiter.admit_okx(&endpoint, key, now),
            None => limiter.admit(venue, &costs, now),
        };
        let pool = costs.first().map(|&(p, _)| limiter.pool_spec(p));
        (verdict, pool)
    };
    {
        let mut stats = lock(&st.stats);
        for &(pool, w) in &costs {
            stats.offer(pool, now, w);
        }
    }
    let mut response = if verdict == Verdict::Allow {
        let response = next.run(req).await;
        if let Some(&ExtraWeight(w)) = response.extensions().get::<ExtraWeight>() {
            let now = wall_ms();
            lock(&st.limiter).charge(PoolId::Hyperliquid, w, now);
            lock(&st.stats).offer(PoolId::Hyperliquid, now, w);
            entry.weight += w;
        }
        if response.status().is_success() && plan.body.any() {
            let (parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let bytes = apply_body_faults(bytes, venue, &endpoint, plan.body);
            let mut response = Response::from_parts(parts, Body::from(bytes));
            response.headers_mut().remove(header::CONTENT_LENGTH);
            response
        } else {
            response
        }
    } else {
        tracing::debug!(%venue, %endpoint, ?verdict, "rate limited");
        refusal(venue, verdict, refused_pool, now)
    };
    if venue == Venue::Binance {
        add_used_weight(&st, &mut response);
    }
    entry.status = response.status().as_u16();
    lock(&st.stats).record(entry);
    response
}

#[derive(Debug, Deserialize)]
struct StatsQuery {
    log: Option<bool>,
}

async fn get_stats(
    State(st): State<Arc<AppState>>,
    q: Result<Query<StatsQuery>, axum::extract::rejection::QueryRejection>,
) -> Json<StatsSnapshot> {
    let with_log = q.ok().and_then(|Query(q)| q.log).unwrap_or(true);
    Json(st.snapshot(with_log))
}

async fn post_reset(State(st): State<Arc<AppState>>) -> Json<serde_json::Value> {
    st.reset();
    Json(json!({"reset": true}))
}

async fn get_faults(State(st): State<Arc<AppState>>) -> Json<Faults> {
    Json(lock(&st.faults).faults.clone())
}

async fn post_faults(
    State(st): State<Arc<AppState>>,
    body: Result<Json<Faults>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(faults)) => match faults.validate() {
            Ok(()) => {
                lock(&st.faults).faults = faults.clone();
                Json(faults).into_response()
            }
            Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
        },
        Err(e) => (StatusCode::BAD_REQUEST, e.body_text()).into_response(),
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct ClockBody {
    now_ms: Option<u64>,
}

async fn get_clock(State(st): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(json!({"now_ms": st.clock.now_ms(), "fixed": st.clock.fixed().is_some()}))
}

async fn post_clock(
    State(st): State<Arc<AppState>>,
    body: Result<Json<ClockBody>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(c)) => {
            st.clock.set(c.now_ms);
            get_clock(State(st)).await.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.body_text()).into_response(),
    }
}

async fn get_symbols(State(st): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let list = |book: &crate::data::Book| -> Vec<serde_json::Value> {
        book.list
            .iter()
            .map(|i| {
                json!({
                    "symbol": i.symbol,
                    "status": match i.status {
                        Status::Trading => "trading",
                        Status::PreLaunch => "prelaunch",
                        Status::Delisted { .. } => "delisted",
                    },
                    "perpetual": i.is_perpetual(),
                    "funding_interval_hours": i.funding_hours,
                    "launch_ms": i.launch_ms,
                })
            })
            .collect()
    };
    let u = &st.universe;
    Json(json!({
        "binance": list(&u.binance),
        "bybit": list(&u.bybit),
        "hyperliquid": list(&u.hl_main),
        "hyperliquid_xyz": list(&u.hl_xyz),
        "okx": list(&u.okx),
    }))
}

async fn get_ws_faults(State(st): State<Arc<AppState>>) -> Json<WsFaultSet> {
    Json(st.ws.faults())
}

async fn post_ws_faults(
    State(st): State<Arc<AppState>>,
    body: Result<Json<WsFaultsUpdate>, JsonRejection>,
) -> Response {
    let update = match body {
        Ok(Json(u)) => u,
        Err(e) => return (StatusCode::BAD_REQUEST, e.body_text()).into_response(),
    };
    let entries = update.entries();
    let errors: Vec<String> = entries
        .iter()
        .filter_map(|(v, f)| f.validate().err().map(|e| format!("{v}: {e}")))
        .collect();
    if !errors.is_empty() {
        return (StatusCode::BAD_REQUEST, errors.join("\n")).into_response();
    }
    for (venue, faults) in &entries {
        st.ws.set_faults(*venue, faults);
    }
    Json(st.ws.faults()).into_response()
}

#[derive(Debug, Deserialize)]
struct SentQuery {
    venue: Venue,
    conn: Option<u64>,
    skip: Option<usize>,
    limit: Option<usize>,
}

async fn get_ws_sent(
    State(st): State<Arc<AppState>>,
    q: Result<Query<SentQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return (
            StatusCode::BAD_REQUEST,
            "expected ?venue=binance|bybit|hyperliquid|okx[&conn=ID][&skip=N][&limit=N]",
        )
            .into_response();
    };
    let (kept, dropped) = {
        let log = st.ws.log(q.venue);
        (log.len(), log.dropped())
    };
    let events = st.ws.sent(
        q.venue,
        q.skip.unwrap_or(0),
        q.limit.unwrap_or(usize::MAX),
        q.conn,
    );
    Json(json!({"venue": q.venue, "kept": kept, "dropped": dropped, "events": events}))
        .into_response()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

/// The router with every venue endpoint and the admin endpoints.
fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/fapi/v1/openInterest", get(binance::open_interest))
        .route(
            "/futures/data/openInterestHist",
            get(binance::open_interest_hist),
        )
        .route("/fapi/v1/premiumIndex", get(binance::premium_index))
        .route("/fapi/v1/fundingRate", get(binance::funding_rate))
        .route("/fapi/v1/fundingInfo", get(binance::funding_info))
        .route("/fapi/v1/exchangeInfo", get(binance::exchange_info))
        .route("/fapi/v1/klines", get(binance::klines))
        .route("/fapi/v1/markPriceKlines", get(binance::mark_price_klines))
        .route("/v5/market/tickers", get(bybit::tickers))
        .route("/v5/market/open-interest", get(bybit::open_interest))
        .route("/v5/market/funding/history", get(bybit::funding_history))
        .route("/v5/market/instruments-info", get(bybit::instruments_info))
        .route("/v5/market/kline", get(bybit::kline))
        .route("/v5/market/mark-price-kline", get(bybit::mark_price_kline))
        .route("/info", post(hyperliquid::info))
        .route("/api/v5/public/instruments", get(okx::instruments))
        .route("/api/v5/public/open-interest", get(okx::open_interest))
        .route("/api/v5/public/funding-rate", get(okx::funding_rate))
        .route(
            "/api/v5/public/funding-rate-history",
            get(okx::funding_rate_history),
        )
        .route(
            "/api/v5/rubik/stat/contracts/open-interest-history",
            get(okx::open_interest_history),
        )
        .route("/api/v5/market/candles", get(okx::candles))
        .route("/api/v5/market/history-candles", get(okx::history_candles))
        .route(
            "/api/v5/market/mark-price-candles",
            get(okx::mark_price_candles),
        )
        .route(
            "/api/v5/market/history-mark-price-candles",
            get(okx::history_mark_price_candles),
        )
        .route("/api/v5/{*rest}", get(okx::not_found).post(okx::not_found))
        .route("/__sim/stats", get(get_stats))
        .route("/__sim/reset", post(post_reset))
        .route("/__sim/faults", get(get_faults).post(post_faults))
        .route("/__sim/clock", get(get_clock).post(post_clock))
        .route("/__sim/symbols", get(get_symbols))
        .route("/__sim/health", get(|| async { "ok" }))
        .route("/__sim/ws/faults", get(get_ws_faults).post(post_ws_faults))
        .route("/__sim/ws/sent", get(get_ws_sent))
        .route("/market/ws", get(binance_raw_root))
        .route("/market/ws/{*streams}", get(binance_raw))
        .route("/market/stream", get(binance_combined))
        .route("/v5/public/linear", get(bybit_linear))
        .route("/ws", get(hyperliquid_ws))
        .route("/ws/v5/public", get(okx_public))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state)
}

/// A TCP stream whose connection can be reset from a handler and, once it carries
/// WebSocket frames, can drop outgoing pong frames or every frame (`ws::filter`).
#[derive(Debug)]
pub(crate) struct SimIo {
    stream: TcpStream,
    kill: Arc<AtomicBool>,
    lingering: bool,
    ws: Arc<WsIoFlags>,
    cursor: Cursor,
}

impl SimIo {
    fn killed(&mut self) -> bool {
        let killed = self.kill.load(Ordering::SeqCst);
        if killed && !self.lingering {
            // RST on close instead of FIN: the client sees "connection reset".
            let _ = self.stream.set_zero_linger();
            self.lingering = true;
        }
        killed
    }
}

fn reset_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "exchange-sim dropped the connection",
    )
}

impl AsyncRead for SimIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.killed() {
            return Poll::Ready(Err(reset_error()));
        }
        if buf.is_empty() || !self.ws.framing.load(Ordering::Relaxed) {
            return Pin::new(&mut self.stream).poll_write(cx, buf);
        }
        let fate = Fate {
            drop_pongs: self.ws.drop_pongs.load(Ordering::Relaxed),
            silent: self.ws.silent.load(Ordering::Relaxed),
        };
        let (len, dropped, after) = filter_run(self.cursor, buf, fate);
        if dropped {
            // Swallowed: reported written, nothing leaves.
            self.cursor = after;
            return Poll::Ready(Ok(len));
        }
        match Pin::new(&mut self.stream).poll_write(cx, &buf[..len]) {
            Poll::Ready(Ok(n)) if n > 0 => {
                let (_, _, after) = filter_run(self.cursor, &buf[..n], fate);
                self.cursor = after;
                Poll::Ready(Ok(n))
            }
            other => other,
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.killed() {
            return Poll::Ready(Err(reset_error()));
        }
        if self.ws.framing.load(Ordering::Relaxed) {
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &**b);
            return self.poll_write(cx, first);
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The simulator's listener: plain TCP, each stream wrapped in [`SimIo`].
#[derive(Debug)]
pub(crate) struct SimListener {
    inner: TcpListener,
}

impl Listener for SimListener {
    type Io = SimIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (SimIo, SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let io = SimIo {
                        stream,
                        kill: Arc::new(AtomicBool::new(false)),
                        lingering: false,
                        ws: Arc::new(WsIoFlags::default()),
                        cursor: Cursor::default(),
                    };
                    return (io, addr);
                }
                Err(e) => {
                    // Too many open files and the like: wait, as axum's own listener does.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// Per-connection info handed to handlers: the kill switch and WebSocket switches of its
/// [`SimIo`].
#[derive(Debug, Clone)]
pub(crate) struct ConnHandle {
    /// Reset the connection at its next read or write.
    pub kill: Arc<AtomicBool>,
    /// The outgoing-frame filter's switches.
    pub ws: Arc<WsIoFlags>,
}

impl Connected<IncomingStream<'_, SimListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, SimListener>) -> Self {
        ConnHandle {
            kill: stream.io().kill.clone(),
            ws: stream.io().ws.clone(),
        }
    }
}

/// A running simulator. Shuts down when dropped, or with [`SimHandle::shutdown`].
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    generators: Vec<JoinHandle<()>>,
}

/// Starts a simulator on `config.listen` and returns once it accepts connections.
///
/// Errors: the address cannot be bound, or the initial faults or WebSocket settings are out
/// of range (`InvalidInput`).
pub async fn start(config: SimConfig) -> io::Result<SimHandle> {
    config
        .faults
        .validate()
        .and_then(|()| config.ws.validate())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(AppState::new(&config));
    let app = router(state.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(
            SimListener { inner: listener },
            app.into_make_service_with_connect_info::<ConnHandle>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        })
        .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "exchange-sim server stopped");
        }
    });
    let generators = Venue::ALL
        .into_iter()
        .map(|v| tokio::spawn(crate::ws::generator::run(state.clone(), v)))
        .collect();
    tracing::info!(%addr, symbols = config.symbols, seed = config.seed, "exchange-sim listening");
    Ok(SimHandle {
        addr,
        state,
        stop: Some(stop),
        task: Some(task),
        generators,
    })
}

impl SimHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL for all three venues, e.g. `http://127.0.0.1:40123` (no trailing slash).
    pub fn url(&self) -> String {
        let ip = if self.addr.ip().is_unspecified() {
            Ipv4Addr::LOCALHOST.into()
        } else {
            self.addr.ip()
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// Counts so far, with the request log.
    pub fn stats(&self) -> StatsSnapshot {
        self.state.snapshot(true)
    }

    /// Replaces the faults in force. `error_rate` is clamped to `[0, 1]` and `latency_ms` to
    /// 10 minutes.
    pub fn set_faults(&self, faults: Faults) {
        let mut faults = faults;
        faults.error_rate = if faults.error_rate.is_nan() {
            0.0
        } else {
            faults.error_rate.clamp(0.0, 1.0)
        };
        faults.latency_ms = faults.latency_ms.min(600_000);
        lock(&self.state.faults).faults = faults;
    }

    /// The faults in force (with `fail_next_n` counted down).
    pub fn faults(&self) -> Faults {
        lock(&self.state.faults).faults.clone()
    }

    /// Clears stats, rate-limit windows and bans, and the WebSocket counters and sent logs
    /// (open connections and their subscriptions are still counted).
    pub fn reset(&self) {
        self.state.reset();
    }

    /// Fixes the data clock at `now_ms`, or follows real time with `None`.
    pub fn set_now_ms(&self, now_ms: Option<u64>) {
        self.state.clock.set(now_ms);
    }

    /// The data clock's now, Unix ms.
    pub fn now_ms(&self) -> u64 {
        self.state.clock.now_ms()
    }

    /// Replaces the WebSocket faults of `venue` and fires its one-shot actions
    /// (`server_close`, `tcp_drop`) on the connections open now.
    ///
    /// Errors: a value out of range (the message names it); nothing changes then.
    pub fn set_ws_faults(&self, venue: Venue, faults: WsFaults) -> Result<(), String> {
        faults.validate()?;
        self.state.ws.set_faults(venue, &faults);
        Ok(())
    }

    /// The WebSocket faults in force (one-shot actions always read `false`).
    pub fn ws_faults(&self) -> WsFaultSet {
        self.state.ws.faults()
    }

    /// The liquidations sent on `venue`, oldest first: the latest
    /// [`crate::WsConfig::sent_log_capacity`] (older ones are counted by
    /// [`SimHandle::sent_liquidations_dropped`]).
    pub fn sent_liquidations(&self, venue: Venue) -> Vec<SentLiquidation> {
        self.state.ws.sent(venue, 0, usize::MAX, None)
    }

    /// Sent-log entries of `venue` no longer kept.
    pub fn sent_liquidations_dropped(&self, venue: Venue) -> u64 {
        self.state.ws.log(venue).dropped()
    }

    /// Changes the liquidation rate of `venue` (per second, clamped to `[0, 10^7]`).
    pub fn set_liquidation_rate(&self, venue: Venue, per_sec: f64) {
        self.state.ws.set_rate(venue, per_sec);
    }

    /// The liquidation rate of `venue` now.
    pub fn liquidation_rate(&self, venue: Venue) -> f64 {
        self.state.ws.rate(venue)
    }

    /// WebSocket base URL, e.g. `ws://127.0.0.1:40123`: Binance `…/market/ws`, Bybit
    /// `…/v5/public/linear`, Hyperliquid `…/ws`.
    pub fn ws_url(&self) -> String {
        self.url().replacen("http://", "ws://", 1)
    }

    /// Stops accepting, closes the WebSocket connections, lets requests in progress finish
    /// (up to 5 s), and returns.
    pub async fn shutdown(mut self) {
        self.state.ws.shutdown();
        for g in self.generators.drain(..) {
            g.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.state.ws.shutdown();
        for g in self.generators.drain(..) {
            g.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
