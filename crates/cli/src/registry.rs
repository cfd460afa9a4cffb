//! The venues this binary knows. Adding a venue: one connector crate and one line in [`REGISTRY`].

use std::sync::Arc;
use std::time::Duration;

use ccxt_model::Venue;
use ccxt_transport::{HttpTransport, TransportConfig, TransportStats};
use ccxt_venue::{Fetcher, RateLimitSpec, Transport};

use crate::settings::VenueSettings;

/// What the binary needs to know of a venue connector.
pub struct VenueEntry {
    /// The venue.
    pub venue: Venue,
    /// Production REST root.
    pub default_rest_url: &'static str,
    /// Production WebSocket root.
    pub default_ws_url: &'static str,
    /// Its rate limits.
    pub rate_limits: fn() -> RateLimitSpec,
    /// Builds its fetcher over a transport.
    pub connect: fn(Arc<dyn Transport>) -> Arc<dyn Fetcher>,
    /// Whether it serves open-interest history (the daemon refills downtime from it).
    pub oi_history: bool,
}

/// Every venue, one line each.
pub static REGISTRY: [VenueEntry; 3] = [
    VenueEntry {
        venue: Venue::Binance,
        default_rest_url: ccxt_binance::DEFAULT_REST_URL,
        default_ws_url: ccxt_binance::DEFAULT_WS_URL,
        rate_limits: ccxt_binance::rate_limits,
        connect: |t| Arc::new(ccxt_binance::BinanceFetcher::new(t)),
        oi_history: true,
    },
    VenueEntry {
        venue: Venue::Bybit,
        default_rest_url: ccxt_bybit::DEFAULT_REST_URL,
        default_ws_url: ccxt_bybit::DEFAULT_WS_URL,
        rate_limits: ccxt_bybit::rate_limits,
        connect: |t| Arc::new(ccxt_bybit::BybitFetcher::new(t)),
        oi_history: true,
    },
    VenueEntry {
        venue: Venue::Hyperliquid,
        default_rest_url: ccxt_hyperliquid::DEFAULT_REST_URL,
        default_ws_url: ccxt_hyperliquid::DEFAULT_WS_URL,
        rate_limits: ccxt_hyperliquid::rate_limits,
        connect: |t| Arc::new(ccxt_hyperliquid::HyperliquidFetcher::new(t)),
        oi_history: false,
    },
];

/// A connected venue: its fetcher and the transport's counters.
pub struct Connected {
    /// The fetcher.
    pub fetcher: Arc<dyn Fetcher>,
    /// What the transport did.
    pub stats: Arc<TransportStats>,
}

fn entry(venue: Venue) -> &'static VenueEntry {
    // Every Venue has exactly one entry (checked by a test).
    REGISTRY
        .iter()
        .find(|e| e.venue == venue)
        .unwrap_or(&REGISTRY[0])
}

fn secs(
    key: &str,
    venue: Venue,
    value: Option<f64>,
    default: Duration,
    errors: &mut Vec<String>,
) -> Duration {
    match value {
        None => default,
        Some(v) if v.is_finite() && v > 0.0 && v < 1e7 => Duration::from_secs_f64(v),
        Some(v) => {
            errors.push(format!(
                "venues.{venue}.{key} must be a positive number of seconds, got {v}"
            ));
            default
        }
    }
}

/// The transport configuration of `venue`, or every problem with its settings.
pub fn transport_config(
    venue: Venue,
    settings: &VenueSettings,
) -> Result<TransportConfig, Vec<String>> {
    let e = entry(venue);
    let mut config = TransportConfig::new(
        venue,
        settings
            .rest_url
            .clone()
            .unwrap_or_else(|| e.default_rest_url.to_string()),
    );
    let mut errors = Vec::new();
    config.request_timeout = secs(
        "timeout_secs",
        venue,
        settings.timeout_secs,
        config.request_timeout,
        &mut errors,
    );
    config.ban_wait = secs(
        "ban_wait_secs",
        venue,
        settings.ban_wait_secs,
        config.ban_wait,
        &mut errors,
    );
    config.max_wait = secs(
        "max_wait_secs",
        venue,
        settings.max_wait_secs,
        config.max_wait,
        &mut errors,
    );
    if let Some(f) = settings.budget_fraction {
        if f > 0.0 && f <= 1.0 {
            config.budget_fraction = f;
        } else {
            errors.push(format!(
                "venues.{venue}.budget_fraction must be in (0, 1], got {f}"
            ));
        }
    }
    if let Some(on) = settings.rate_limits {
        config.rate_limited = on;
    }
    if let Some(n) = settings.max_retries {
        if n <= 20 {
            config.max_retries = n;
        } else {
            errors.push(format!(
                "venues.{venue}.max_retries must be at most 20, got {n}"
            ));
        }
    }
    let url = config.rest_url.as_str();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        errors.push(format!(
            "venues.{venue}.rest_url must start with http:// or https://, got '{}'",
            ccxt_transport::redact_url(url)
        ));
    }
    if let Some(ws) = &settings.ws_url
        && !(ws.starts_with("ws://") || ws.starts_with("wss://"))
    {
        errors.push(format!(
            "venues.{venue}.ws_url must start with ws:// or wss://, got '{}'",
            ccxt_transport::redact_url(ws)
        ));
    }
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(errors)
    }
}

/// Connects `venue` with `settings`.
pub fn connect(venue: Venue, settings: &VenueSettings) -> Result<Connected, Vec<String>> {
    let transport = transport(venue, settings)?;
    let stats = transport.stats();
    let fetcher = (entry(venue).connect)(transport);
    Ok(Connected { fetcher, stats })
}

/// The rate-limited transport of `venue`.
pub fn transport(
    venue: Venue,
    settings: &VenueSettings,
) -> Result<Arc<HttpTransport>, Vec<String>> {
    let config = transport_config(venue, settings)?;
    HttpTransport::new(config, (entry(venue).rate_limits)())
        .map(Arc::new)
        .map_err(|e| vec![e])
}

/// Whether `venue` serves open-interest history.
pub fn has_oi_history(venue: Venue) -> bool {
    entry(venue).oi_history
}

/// Builds `venue`'s fetcher over an existing transport.
pub fn fetcher(venue: Venue, transport: Arc<HttpTransport>) -> Arc<dyn Fetcher> {
    (entry(venue).connect)(transport)
}

/// The WebSocket root of `venue`: the configured one or the production default.
pub fn ws_url(venue: Venue, settings: &VenueSettings) -> String {
    settings
        .ws_url
        .clone()
        .unwrap_or_else(|| entry(venue).default_ws_url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_venue_has_one_entry() {
        for venue in Venue::ALL {
            assert_eq!(
                REGISTRY.iter().filter(|e| e.venue == venue).count(),
                1,
                "{venue}"
            );
            assert_eq!(entry(venue).venue, venue);
        }
    }

    #[test]
    fn bad_settings_are_all_reported() {
        let bad = VenueSettings {
            rest_url: Some("ftp://x".into()),
            ws_url: Some("http://x".into()),
            timeout_secs: Some(-1.0),
            budget_fraction: Some(2.0),
            rate_limits: None,
            max_retries: Some(99),
            ban_wait_secs: None,
            max_wait_secs: None,
            ws_rotate_secs: None,
            liquidators: None,
            poll_interval_secs: None,
        };
        let errors = transport_config(Venue::Bybit, &bad).unwrap_err();
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(errors.iter().all(|e| e.starts_with("venues.bybit.")));
    }
}
