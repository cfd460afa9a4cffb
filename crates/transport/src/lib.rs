//! The HTTP transport every venue connector sends its requests through.
//!
//! * **Budgets**: one weight budget per pool of the venue's [`RateLimitSpec`] (Binance's 2400
//!   weight/min and its separate funding pool, Bybit's 600 requests/5 s, Hyperliquid's 1200
//!   weight/min), enforced with `governor`. Only a configurable fraction of each budget is used
//!   (default 80 %), and the budget is shaped so that no window of the venue's length ever sees
//!   more than that fraction, even from a standing start.
//! * **Venue feedback**: a used-weight header (Binance `X-MBX-USED-WEIGHT-1M`) above our share
//!   holds the pool until the venue's window rolls over, so other processes on the same IP
//!   cannot push us into a ban.
//! * **Headroom**: [`HttpTransport::budget_headroom`] reports, per pool, our share, the weight
//!   we spent in the trailing window and the venue's last report, for a metrics gauge.
//! * **Rate limits**: 429 and 418 pause the whole venue for `Retry-After`; the venue's ban
//!   status (Bybit 403 "access too frequent") pauses it for the configured ban time (10 min),
//!   logged plainly. A wait longer than `max_wait` is not sat out: the request fails with
//!   [`FetchError::RateLimited`].
//! * **Retries**: 5xx, 408, timeouts, connection failures and truncated bodies are retried with
//!   jittered exponential backoff (`backon`: a capped, doubling ceiling plus a random share of it). Other 4xx are never retried: the
//!   response goes back to the venue's parser, which turns it into a typed error.

mod budget;
mod redact;
mod stats;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use backon::BackoffBuilder;
use bytes::Bytes;
use ccxt_model::Venue;
use ccxt_venue::convert::snippet;
use ccxt_venue::{FetchError, HttpMethod, HttpRequest, HttpResponse, RateLimitSpec, Transport};
use tokio::time::Instant;

pub use budget::{Budget, BudgetHeadroom};
pub use redact::{redact_url, redact_urls_in};
pub use stats::{TransportStats, TransportStatsSnapshot};

/// How to reach one venue and how hard to push it.
#[derive(Debug, Clone, PartialEq)]
pub struct TransportConfig {
    /// The venue (for messages).
    pub venue: Venue,
    /// REST root, e.g. `https://fapi.binance.com` or `http://127.0.0.1:9100` for the simulator.
    pub rest_url: String,
    /// Timeout of one request, connect to last byte.
    pub request_timeout: Duration,
    /// Timeout of establishing a connection.
    pub connect_timeout: Duration,
    /// Share of each venue budget we may use, in (0, 1].
    pub budget_fraction: f64,
    /// Whether to enforce the budgets at all. Only for a simulator with its limits off
    /// (benchmarks); against a real venue this invites a ban.
    pub rate_limited: bool,
    /// Retries after the first attempt for transient failures.
    pub max_retries: usize,
    /// First backoff delay.
    pub retry_min_delay: Duration,
    /// Largest backoff delay.
    pub retry_max_delay: Duration,
    /// How long to wait after the venue's ban status (Bybit 403).
    pub ban_wait: Duration,
    /// The longest `Retry-After` or ban we sit out; longer ones fail the request.
    pub max_wait: Duration,
}

impl TransportConfig {
    /// Defaults for `venue` at `rest_url`.
    pub fn new(venue: Venue, rest_url: impl Into<String>) -> Self {
        TransportConfig {
            venue,
            rest_url: rest_url.into(),
            request_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            budget_fraction: 0.8,
            rate_limited: true,
            max_retries: 5,
            retry_min_delay: Duration::from_millis(250),
            retry_max_delay: Duration::from_secs(30),
            ban_wait: Duration::from_secs(600),
            max_wait: Duration::from_secs(900),
        }
    }
}

/// The transport of one venue. Cheap to share (`Arc`); all budgets are per instance, so use one
/// per venue and process.
#[derive(Debug)]
pub struct HttpTransport {
    config: TransportConfig,
    spec: RateLimitSpec,
    client: reqwest::Client,
    budgets: HashMap<&'static str, Budget>,
    /// Venue-wide pause after 429/418/ban.
    paused_until: tokio::sync::Mutex<Option<Instant>>,
    stats: Arc<TransportStats>,
}

/// Installs rustls' `ring` crypto provider for the process (no OpenSSL anywhere, so static
/// builds work). Idempotent; [`HttpTransport::new`] calls it, and `main` calls it first thing.
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl HttpTransport {
    /// Builds the transport. Fails on an invalid URL or fraction, with a message naming the key.
    pub fn new(config: TransportConfig, spec: RateLimitSpec) -> Result<HttpTransport, String> {
        if !(config.budget_fraction > 0.0 && config.budget_fraction <= 1.0) {
            return Err(format!(
                "venues.{}.budget_fraction must be in (0, 1], got {}",
                config.venue, config.budget_fraction
            ));
        }
        let url = config.rest_url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "venues.{}.rest_url must start with http:// or https://, got '{}'",
                config.venue,
                redact_url(&config.rest_url)
            ));
        }
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("ccxt-pipeline/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let budgets = if config.rate_limited {
            spec.pools
                .iter()
                .map(|pool| (pool.name, Budget::new(pool, config.budget_fraction)))
                .collect()
        } else {
            tracing::warn!(venue = %config.venue, "rate limits are off for this venue (venues.{}.rate_limits = false): use this only against a simulator", config.venue);
            HashMap::new()
        };
        Ok(HttpTransport {
            config,
            spec,
            client,
            budgets,
            paused_until: tokio::sync::Mutex::new(None),
            stats: Arc::new(TransportStats::default()),
        })
    }

    /// Counters of what this transport did.
    pub fn stats(&self) -> Arc<TransportStats> {
        self.stats.clone()
    }

    /// How much of each pool's budget is left, sorted by pool name (for a "budget headroom per
    /// venue" gauge). Empty when rate limiting is off, as there are no budgets then.
    pub fn budget_headroom(&self) -> Vec<BudgetHeadroom> {
        let mut headroom: Vec<BudgetHeadroom> =
            self.budgets.values().map(Budget::headroom).collect();
        headroom.sort_by_key(|h| h.pool);
        headroom
    }

    /// The configuration.
    pub fn config(&self) -> &TransportConfig {
        &self.config
    }

    fn venue(&self) -> Venue {
        self.config.venue
    }

    async fn wait_for_pause(&self) {
        let until = *self.paused_until.lock().await;
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }

    async fn pause(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut paused = self.paused_until.lock().await;
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }

    async fn acquire(&self, request: &HttpRequest) {
        for pool in self.unknown_pools(request) {
            tracing::warn!(venue = %self.venue(), pool, endpoint = request.endpoint, "request names an unknown budget pool; not rate limited");
        }
        for (pool, weight) in &request.costs {
            if let Some(budget) = self.budgets.get(pool) {
                budget.acquire(*weight).await;
            }
        }
    }

    /// The pools `request` names that this transport has no budget for, and so cannot hold it
    /// to (each one is logged as a warning when the request is sent). Always empty with rate
    /// limits off: there is nothing to enforce, and that was said once when the transport was
    /// built, not again for every request.
    pub fn unknown_pools<'a>(&self, request: &'a HttpRequest) -> Vec<&'a str> {
        if !self.config.rate_limited {
            return Vec::new();
        }
        request
            .costs
            .iter()
            .map(|(pool, _)| *pool)
            .filter(|pool| !self.budgets.contains_key(pool))
            .collect()
    }

    /// One attempt: status, headers of interest and the body.
    async fn execute(
        &self,
        request: &HttpRequest,
    ) -> Result<(u16, reqwest::header::HeaderMap, Bytes), reqwest::Error> {
        let url = format!(
            "{}{}",
            self.config.rest_url.trim_end_matches('/'),
            request.path
        );
        let builder = match request.method {
            HttpMethod::Get => self.client.get(&url).query(&request.query),
            HttpMethod::Post => {
                let body = request.body.clone().unwrap_or(serde_json::Value::Null);
                self.client
                    .post(&url)
                    .query(&request.query)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string())
            }
        };
        let response = builder.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await?;
        Ok((status, headers, body))
    }

    fn observe_used_weight(&self, headers: &reqwest::header::HeaderMap) {
        let Some(spec) = &self.spec.used_weight_header else {
            return;
        };
        let Some(used) = headers
            .get(spec.header)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u32>().ok())
        else {
            return;
        };
        if let Some(budget) = self.budgets.get(spec.pool) {
            budget.observe_used(used);
        }
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

#[async_trait::async_trait]
impl Transport for HttpTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        let venue = self.venue();
        let mut backoff = backon::ExponentialBuilder::default()
            .with_min_delay(self.config.retry_min_delay)
            .with_max_delay(self.config.retry_max_delay)
            .with_jitter()
            .with_max_times(self.config.max_retries)
            .build();
        let mut rate_limit_waits = 0usize;
        loop {
            self.wait_for_pause().await;
            self.acquire(&request).await;
            self.stats.record_request();
            let outcome = self.execute(&request).await;
            let failure = match outcome {
                Ok((status, headers, body)) => {
                    self.observe_used_weight(&headers);
                    self.stats.record_status(status);
                    let is_ban = self.spec.ban_status == Some(status);
                    if (200..300).contains(&status) {
                        return Ok(HttpResponse { status, body });
                    }
                    if status == 429 || status == 418 || is_ban {
                        let wait = if is_ban {
                            self.config.ban_wait
                        } else {
                            retry_after(&headers).unwrap_or_else(|| {
                                Duration::from_secs(1 << rate_limit_waits.min(6))
                            })
                        };
                        let detail = format!(
                            "HTTP {status} on {} ({}), the venue asks to wait {:.1} s",
                            request.endpoint,
                            snippet(&body),
                            wait.as_secs_f64()
                        );
                        if wait > self.config.max_wait
                            || rate_limit_waits >= self.config.max_retries
                        {
                            return Err(FetchError::RateLimited {
                                venue,
                                detail,
                                retry_after: Some(wait),
                            });
                        }
                        if is_ban {
                            tracing::error!(%venue, status, wait_s = wait.as_secs(), endpoint = request.endpoint, "the venue banned this IP for sending too many requests; pausing all requests to it");
                        } else {
                            tracing::warn!(%venue, status, wait_s = wait.as_secs_f64(), endpoint = request.endpoint, "rate limited by the venue; pausing as asked");
                        }
                        self.stats.record_rate_limit_wait();
                        rate_limit_waits += 1;
                        self.pause(wait).await;
                        continue;
                    }
                    if status >= 500 || status == 408 {
                        FetchError::Http {
                            venue,
                            status,
                            body: snippet(&body),
                        }
                    } else {
                        // 4xx caused by the request: the venue parser reads the error body.
                        return Ok(HttpResponse { status, body });
                    }
                }
                Err(e) => {
                    self.stats.record_network_error();
                    FetchError::Unreachable {
                        venue,
                        detail: redact_urls_in(&error_chain(&e)),
                    }
                }
            };
            match backoff.next() {
                Some(delay) => {
                    tracing::warn!(%venue, endpoint = request.endpoint, error = %failure, retry_in_ms = delay.as_millis() as u64, "transient failure; retrying");
                    self.stats.record_retry();
                    tokio::time::sleep(delay).await;
                }
                None => return Err(failure),
            }
        }
    }
}

/// An error with its causes on one line, each cause only if its text adds something (reqwest
/// hides the useful part in `source`). For logs, health reports and one-line messages.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
