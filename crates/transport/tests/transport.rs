//! The transport against an in-process HTTP server on 127.0.0.1: rate limits, retries, budgets.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use ccxt_transport::{HttpTransport, TransportConfig};
use ccxt_venue::{FetchError, HttpRequest, PoolSpec, RateLimitSpec, Transport, UsedWeightHeader};

/// What the test server does for request number `n` (0-based).
type Script = Arc<dyn Fn(usize) -> (StatusCode, Vec<(&'static str, String)>) + Send + Sync>;

struct Server {
    url: String,
    hits: Arc<Mutex<Vec<Instant>>>,
}

async fn serve(script: Script) -> Server {
    let hits: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let h = hits.clone();
    let app = Router::new().route(
        "/x",
        get(move || {
            let h = h.clone();
            let script = script.clone();
            async move {
                let n = {
                    let mut hits = h.lock().unwrap();
                    hits.push(Instant::now());
                    hits.len() - 1
                };
                let (status, headers) = script(n);
                let mut map = HeaderMap::new();
                for (k, v) in headers {
                    map.insert(k, v.parse().unwrap());
                }
                (status, map, "{\"ok\":true}").into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server { url, hits }
}

fn spec(capacity: u32, window: Duration) -> RateLimitSpec {
    RateLimitSpec {
        pools: vec![PoolSpec {
            name: "ip",
            capacity,
            window,
        }],
        used_weight_header: Some(UsedWeightHeader {
            header: "x-used-weight",
            pool: "ip",
        }),
        ban_status: Some(403),
    }
}

fn transport(
    url: &str,
    spec: RateLimitSpec,
    tweak: impl FnOnce(&mut TransportConfig),
) -> HttpTransport {
    let mut config = TransportConfig::new(ccxt_registry::venue("binance"), url);
    config.retry_min_delay = Duration::from_millis(20);
    config.retry_max_delay = Duration::from_millis(100);
    config.ban_wait = Duration::from_millis(400);
    tweak(&mut config);
    HttpTransport::new(config, spec).unwrap()
}

fn req() -> HttpRequest {
    HttpRequest::get("x", "/x", "ip", 1)
}

#[tokio::test]
async fn retry_after_on_429_is_obeyed_then_the_request_succeeds() {
    let server = serve(Arc::new(|n| match n {
        0 => (
            StatusCode::TOO_MANY_REQUESTS,
            vec![("retry-after", "1".into())],
        ),
        _ => (StatusCode::OK, vec![]),
    }))
    .await;
    let t = transport(&server.url, spec(1000, Duration::from_secs(60)), |_| {});
    let response = t.send(req()).await.unwrap();
    assert_eq!(response.status, 200);
    let hits = server.hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 2);
    assert!(
        hits[1] - hits[0] >= Duration::from_millis(950),
        "waited {:?}",
        hits[1] - hits[0]
    );
    assert_eq!(t.stats().snapshot().status_429, 1);
}

#[tokio::test]
async fn a_418_ban_longer_than_we_wait_fails_at_once_with_the_venues_words() {
    let server = serve(Arc::new(|_| {
        (
            StatusCode::IM_A_TEAPOT,
            vec![("retry-after", "7200".into())],
        )
    }))
    .await;
    let t = transport(&server.url, spec(1000, Duration::from_secs(60)), |_| {});
    let err = t.send(req()).await.unwrap_err();
    assert!(
        matches!(err, FetchError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(7200)),
        "{err}"
    );
    assert!(err.to_string().contains("HTTP 418"), "{err}");
    assert_eq!(server.hits.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_client_errors_are_not() {
    let server = serve(Arc::new(|n| {
        if n < 2 {
            (StatusCode::SERVICE_UNAVAILABLE, vec![])
        } else {
            (StatusCode::OK, vec![])
        }
    }))
    .await;
    let t = transport(&server.url, spec(1000, Duration::from_secs(60)), |_| {});
    assert_eq!(t.send(req()).await.unwrap().status, 200);
    assert_eq!(server.hits.lock().unwrap().len(), 3);
    assert_eq!(t.stats().snapshot().retries, 2);

    let bad = serve(Arc::new(|_| (StatusCode::BAD_REQUEST, vec![]))).await;
    let t = transport(&bad.url, spec(1000, Duration::from_secs(60)), |_| {});
    assert_eq!(
        t.send(req()).await.unwrap().status,
        400,
        "4xx goes back to the venue parser"
    );
    assert_eq!(bad.hits.lock().unwrap().len(), 1, "never retried");

    let down = serve(Arc::new(|_| (StatusCode::BAD_GATEWAY, vec![]))).await;
    let t = transport(&down.url, spec(1000, Duration::from_secs(60)), |c| {
        c.max_retries = 2
    });
    let err = t.send(req()).await.unwrap_err();
    assert!(matches!(err, FetchError::Http { status: 502, .. }), "{err}");
    assert_eq!(down.hits.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn an_ip_ban_status_pauses_for_the_ban_time() {
    let server = serve(Arc::new(|n| {
        if n == 0 {
            (StatusCode::FORBIDDEN, vec![])
        } else {
            (StatusCode::OK, vec![])
        }
    }))
    .await;
    let t = transport(&server.url, spec(1000, Duration::from_secs(60)), |_| {});
    assert_eq!(t.send(req()).await.unwrap().status, 200);
    let hits = server.hits.lock().unwrap().clone();
    assert!(
        hits[1] - hits[0] >= Duration::from_millis(380),
        "{:?}",
        hits[1] - hits[0]
    );
}

#[tokio::test]
async fn a_closed_port_is_unreachable_after_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let t = transport(&url, spec(1000, Duration::from_secs(60)), |c| {
        c.max_retries = 1
    });
    let err = t.send(req()).await.unwrap_err();
    assert!(matches!(err, FetchError::Unreachable { .. }), "{err}");
    assert_eq!(t.stats().snapshot().network_errors, 2);
}

/// The most requests any window of `window` length saw.
fn max_in_window(hits: &[Instant], window: Duration) -> usize {
    (0..hits.len())
        .map(|i| {
            hits[i..]
                .iter()
                .take_while(|h| **h - hits[i] < window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn concurrent_requests_never_exceed_our_share_of_any_window() {
    let server = serve(Arc::new(|_| (StatusCode::OK, vec![]))).await;
    // Venue: 40 per second; we use half: 20 per second.
    let t = Arc::new(transport(
        &server.url,
        spec(40, Duration::from_secs(1)),
        |c| c.budget_fraction = 0.5,
    ));
    let started = Instant::now();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let t = t.clone();
            tokio::spawn(async move { t.send(req()).await.unwrap() })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let hits = server.hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 50);
    let worst = max_in_window(&hits, Duration::from_secs(1));
    assert!(worst <= 20, "{worst} requests in one second, share is 20");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "50 requests at 20/s take over 2 s"
    );
}

#[tokio::test]
async fn the_venues_used_weight_report_holds_us_until_its_window_rolls() {
    let server = serve(Arc::new(|n| {
        if n == 0 {
            (StatusCode::OK, vec![("x-used-weight", "999".into())])
        } else {
            (StatusCode::OK, vec![("x-used-weight", "1".into())])
        }
    }))
    .await;
    let t = transport(&server.url, spec(100, Duration::from_secs(1)), |_| {});
    t.send(req()).await.unwrap();
    t.send(req()).await.unwrap();
    let hits = server.hits.lock().unwrap().clone();
    // The second request waits for the next whole second of the clock.
    let epoch_ms = |i: Instant| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i128
            - (Instant::now() - i).as_millis() as i128
    };
    assert_ne!(
        epoch_ms(hits[0]) / 1000,
        epoch_ms(hits[1]) / 1000,
        "second request in the same window"
    );
}

#[test]
fn bad_config_is_refused_with_the_key_named() {
    let err = HttpTransport::new(
        {
            let mut c = TransportConfig::new(ccxt_registry::venue("bybit"), "ftp://x");
            c.budget_fraction = 0.5;
            c
        },
        spec(1, Duration::from_secs(1)),
    )
    .unwrap_err();
    assert!(err.contains("venues.bybit.rest_url"), "{err}");
    let err = HttpTransport::new(
        {
            let mut c = TransportConfig::new(ccxt_registry::venue("bybit"), "http://x");
            c.budget_fraction = 1.5;
            c
        },
        spec(1, Duration::from_secs(1)),
    )
    .unwrap_err();
    assert!(err.contains("venues.bybit.budget_fraction"), "{err}");
}

#[tokio::test]
async fn budget_headroom_reports_each_pool_sorted_with_the_venues_used_weight() {
    let server = serve(Arc::new(|_| {
        (StatusCode::OK, vec![("x-used-weight", "30".into())])
    }))
    .await;
    // An hour-long window, so the venue's report stays current while the test runs.
    let mut spec = spec(100, Duration::from_secs(3600));
    spec.pools.push(PoolSpec {
        name: "funding",
        capacity: 500,
        window: Duration::from_secs(300),
    });
    let t = transport(&server.url, spec, |c| c.budget_fraction = 0.5);
    let fresh = t.budget_headroom();
    let pools: Vec<_> = fresh.iter().map(|h| h.pool).collect();
    assert_eq!(pools, ["funding", "ip"]);
    assert!(
        fresh
            .iter()
            .all(|h| h.headroom() == h.share && h.venue_used.is_none())
    );
    assert_eq!(fresh[0].window, Duration::from_secs(300));

    t.send(req()).await.unwrap();
    let after = t.budget_headroom();
    assert_eq!(after[0].headroom(), 250, "the funding pool is untouched");
    let ip = &after[1];
    assert_eq!((ip.share, ip.spent, ip.venue_used), (50, 1, Some(30)));
    assert_eq!(ip.headroom(), 20);
    assert_eq!(ip.fraction_left(), 0.4);
}

#[test]
fn budget_headroom_is_empty_with_rate_limits_off() {
    let t = transport(
        "http://127.0.0.1:1",
        spec(100, Duration::from_secs(60)),
        |c| c.rate_limited = false,
    );
    assert!(t.budget_headroom().is_empty());
}

#[test]
fn with_rate_limits_off_no_request_is_warned_about_as_naming_an_unknown_pool() {
    // Limits off: no budgets, and the warning about that was given once at build time; every
    // request used to warn "unknown budget pool" again (one log line per page of a backfill).
    let off = transport(
        "http://127.0.0.1:1",
        spec(100, Duration::from_secs(60)),
        |c| c.rate_limited = false,
    );
    assert!(off.unknown_pools(&req()).is_empty());
    // Limits on: a pool the venue's spec does not have is still named.
    let on = transport(
        "http://127.0.0.1:1",
        spec(100, Duration::from_secs(60)),
        |_| {},
    );
    assert!(on.unknown_pools(&req()).is_empty());
    let odd = HttpRequest::get("x", "/x", "uid", 1);
    assert_eq!(on.unknown_pools(&odd), vec!["uid"]);
}
