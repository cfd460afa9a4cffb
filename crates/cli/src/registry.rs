//! The CLI's side of the venue registry: the venues are listed once, in `ccxt-registry`
//! ([`ccxt_registry::REGISTRY`]); this module builds transports, fetchers and liquidation
//! sources from their descriptors and the user's settings.
//!
//! Everything here asks the descriptor: URLs, rate limits, the fetcher, capabilities, and the
//! liquidation feed.

use std::sync::Arc;
use std::time::Duration;

use ccxt_model::Venue;
use ccxt_stream::{FeedKind, SourceConfig, WsSettings};
use ccxt_transport::{HttpTransport, TransportConfig, TransportStats};
use ccxt_venue::liquidations::FeedSettings;
use ccxt_venue::{Fetcher, VenueDescriptor};

use crate::settings::VenueSettings;

pub use ccxt_registry::REGISTRY;

/// A connected venue: its fetcher and the transport's counters.
pub struct Connected {
    /// The fetcher.
    pub fetcher: Arc<dyn Fetcher>,
    /// What the transport did.
    pub stats: Arc<TransportStats>,
}

/// Every venue, in the registry's (display) order.
pub fn venues() -> Vec<Venue> {
    ccxt_registry::venues()
}

/// The descriptor of `venue`.
pub fn descriptor(venue: Venue) -> &'static dyn VenueDescriptor {
    // Every installed venue comes from the registry, so has an entry (checked by a test).
    ccxt_registry::descriptor(venue).unwrap_or(REGISTRY[0])
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
    let mut config = TransportConfig::new(
        venue,
        settings
            .rest_url
            .clone()
            .unwrap_or_else(|| descriptor(venue).default_rest_url().to_string()),
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
    let fetcher = descriptor(venue).connect(transport);
    Ok(Connected { fetcher, stats })
}

/// The rate-limited transport of `venue`.
pub fn transport(
    venue: Venue,
    settings: &VenueSettings,
) -> Result<Arc<HttpTransport>, Vec<String>> {
    let config = transport_config(venue, settings)?;
    HttpTransport::new(config, descriptor(venue).rate_limits())
        .map(Arc::new)
        .map_err(|e| vec![e])
}

/// Whether `venue` serves open-interest history.
pub fn has_oi_history(venue: Venue) -> bool {
    descriptor(venue).oi_history()
}

/// Builds `venue`'s fetcher over an existing transport.
pub fn fetcher(venue: Venue, transport: Arc<HttpTransport>) -> Arc<dyn Fetcher> {
    descriptor(venue).connect(transport)
}

/// The WebSocket root of `venue`: the configured one or the production default.
pub fn ws_url(venue: Venue, settings: &VenueSettings) -> String {
    settings
        .ws_url
        .clone()
        .unwrap_or_else(|| descriptor(venue).default_ws_url().to_string())
}

/// How `venue` delivers liquidations.
pub fn liquidation_kind(venue: Venue) -> FeedKind {
    descriptor(venue).liquidation_kind()
}

/// The liquidation source of `venue` from its settings, for `symbols` (`None`: every symbol;
/// a per-symbol feed needs a list, so `None` there means none yet). Every problem is returned.
pub fn liquidation_source(
    venue: Venue,
    vs: &VenueSettings,
    symbols: Option<Vec<ccxt_model::Instrument>>,
) -> Result<SourceConfig, Vec<String>> {
    let d = descriptor(venue);
    let mut problems = Vec::new();
    let rotate = match vs.ws_rotate_secs {
        Some(secs) if secs.is_finite() && secs > 0.0 && secs < 1e7 => {
            Some(Duration::from_secs_f64(secs))
        }
        Some(secs) => {
            problems.push(format!(
                "venues.{venue}.ws_rotate_secs must be a positive number of seconds, got {secs}"
            ));
            None
        }
        None => None,
    };
    let poll_interval = match vs.poll_interval_secs {
        None => Duration::from_secs(5),
        Some(secs) if secs.is_finite() && (0.2..=3600.0).contains(&secs) => {
            Duration::from_secs_f64(secs)
        }
        Some(secs) => {
            problems.push(format!(
                "venues.{venue}.poll_interval_secs must be between 0.2 and 3600 seconds, got {secs}"
            ));
            Duration::from_secs(5)
        }
    };
    let kind = d.liquidation_kind();
    let ws = kind.is_socket().then(|| {
        let mut ws = WsSettings::with_keepalive(d.keepalive(), ws_url(venue, vs), rotate);
        if let Some(rotate) = rotate {
            // Old and new connections overlap for a third of a short rotation period, 3 s at
            // most.
            ws.rotation_overlap = ws.rotation_overlap.min(rotate / 3);
        }
        ws
    });
    // A polling feed needs the REST transport (whose settings are checked then); a socket
    // feed gets it when the settings make one (OKX reads its contract values with it).
    let transport: Option<Arc<dyn ccxt_venue::Transport>> = if kind == FeedKind::Poll {
        match transport(venue, vs) {
            Ok(t) => Some(t),
            Err(errors) => {
                problems.extend(errors);
                return Err(problems);
            }
        }
    } else {
        transport(venue, vs)
            .ok()
            .map(|t| t as Arc<dyn ccxt_venue::Transport>)
    };
    let feed = d.liquidation_feed(FeedSettings {
        transport,
        accounts: vs.liquidators.clone(),
        poll_interval,
    });
    match feed {
        Ok(feed) if problems.is_empty() => Ok(SourceConfig::Feed { ws, feed, symbols }),
        Ok(_) => Err(problems),
        Err(problem) => {
            problems.push(problem);
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_venue_has_one_entry() {
        for venue in ccxt_registry::all().iter().copied() {
            assert_eq!(
                REGISTRY.iter().filter(|d| d.venue() == venue).count(),
                1,
                "{venue}"
            );
            assert_eq!(descriptor(venue).venue(), venue);
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
        let errors = transport_config(ccxt_registry::venue("bybit"), &bad).unwrap_err();
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(errors.iter().all(|e| e.starts_with("venues.bybit.")));
    }
}
