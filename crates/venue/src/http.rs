//! HTTP requests and responses as plain values, the [`Transport`] that sends them, and the
//! rate-limit description each venue gives the transport.

use std::time::Duration;

use bytes::Bytes;

use ccxt_model::Venue;

use crate::FetchError;

/// GET or POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    /// GET with a query string.
    Get,
    /// POST with a JSON body.
    Post,
}

/// A request a venue wants sent; built by pure functions, sent by the transport.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    /// GET or POST.
    pub method: HttpMethod,
    /// Path below the venue's REST root, e.g. `/fapi/v1/openInterest`.
    pub path: String,
    /// Query parameters, in order.
    pub query: Vec<(String, String)>,
    /// JSON body for POST.
    pub body: Option<serde_json::Value>,
    /// Budget this request spends: (pool name from the venue's [`RateLimitSpec`], weight).
    pub costs: Vec<(&'static str, u32)>,
    /// A short name for logs and metrics (`openInterestHist`).
    pub endpoint: &'static str,
}

impl HttpRequest {
    /// A GET of `path` costing `weight` in `pool`.
    pub fn get(endpoint: &'static str, path: &str, pool: &'static str, weight: u32) -> HttpRequest {
        HttpRequest {
            method: HttpMethod::Get,
            path: path.to_string(),
            query: Vec::new(),
            body: None,
            costs: vec![(pool, weight)],
            endpoint,
        }
    }

    /// A POST of a JSON `body` to `path` costing `weight` in `pool`.
    pub fn post(
        endpoint: &'static str,
        path: &str,
        body: serde_json::Value,
        pool: &'static str,
        weight: u32,
    ) -> HttpRequest {
        HttpRequest {
            method: HttpMethod::Post,
            path: path.to_string(),
            query: Vec::new(),
            body: Some(body),
            costs: vec![(pool, weight)],
            endpoint,
        }
    }

    /// Adds a query parameter.
    pub fn param(mut self, key: &str, value: impl ToString) -> HttpRequest {
        self.query.push((key.to_string(), value.to_string()));
        self
    }

    /// The value of a query parameter.
    pub fn param_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A response the transport hands back: any 2xx, and 4xx statuses that are not rate limits (the
/// venue parser turns those into typed errors).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: Bytes,
}

/// Sends requests to one venue: rate limiting, retries and timeouts happen inside.
#[async_trait::async_trait]
pub trait Transport: Send + Sync {
    /// Sends `request` and returns the response, or the error left after retrying.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, FetchError>;
}

/// A transport that sends nothing: every request fails as [`FetchError::Unreachable`]. For
/// asking a fetcher what it serves (its bar intervals) where no network is wanted, as the
/// CLI's help does.
#[derive(Debug, Clone, Copy)]
pub struct Offline(pub Venue);

#[async_trait::async_trait]
impl Transport for Offline {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        Err(FetchError::Unreachable {
            venue: self.0,
            detail: format!("offline: {} was not sent", request.path),
        })
    }
}

/// One rate-limit budget of a venue, e.g. Binance's 2400 weight per minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSpec {
    /// Name requests refer to in [`HttpRequest::costs`].
    pub name: &'static str,
    /// Weight allowed per window.
    pub capacity: u32,
    /// The window.
    pub window: Duration,
}

/// A header in which the venue reports the weight already used in a pool (Binance's
/// `X-MBX-USED-WEIGHT-1M`), so the transport can slow down before the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedWeightHeader {
    /// Header name (case-insensitive).
    pub header: &'static str,
    /// The pool it reports on.
    pub pool: &'static str,
}

/// How a venue limits requests: pure data the transport enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSpec {
    /// The budgets.
    pub pools: Vec<PoolSpec>,
    /// Where the venue reports used weight, if it does.
    pub used_weight_header: Option<UsedWeightHeader>,
    /// The HTTP status with which the venue bans an IP for a while (Bybit: 403), if any.
    pub ban_status: Option<u16>,
}
