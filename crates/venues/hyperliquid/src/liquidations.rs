//! Hyperliquid liquidations by polling `POST /info {"type":"userFillsByTime"}` for each
//! watched address (typically the liquidator vaults): Hyperliquid has no public liquidation
//! feed, but every fill that belongs to a liquidation carries a `liquidation` block. The fill →
//! liquidation rule (whose side was liquidated) is
//! [`crate::websocket::parse::fill_liquidation`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::http::parse::parse_json;
use crate::http::requests::{FILLS_PAGE_LIMIT, user_fills_by_time};
use crate::websocket::parse::{fill_page_liquidations, parse_fills};
use ccxt_model::time::now_ns;
use ccxt_model::{Instrument, InstrumentId, LiquidationSource, Venue};
use ccxt_venue::convert::{ms_range, ms_to_ns};
use ccxt_venue::{FetchError, Transport};

use ccxt_venue::liquidations::{
    FeedKind, FeedSettings, FeedTasks, LiquidationFeed, LiquidationPoller, Polled,
};

/// How far back a Hyperliquid poll re-reads after failed polls: 360 intervals (30 min at 5 s),
/// at least 1 s. Failures for longer leave the older part as a gap. The bound keeps one
/// catch-up request within what Hyperliquid serves (its 10,000 most recent fills).
pub fn catch_up(interval: Duration) -> Duration {
    interval.saturating_mul(360).max(Duration::from_secs(1))
}

/// The most pages one poll reads; the rest is read at the next poll.
const MAX_PAGES: usize = 5;

/// Polls the fills of one address.
pub struct UserFillsPoller {
    transport: Arc<dyn Transport>,
    address: String,
    label: String,
    interval: Duration,
    only: Option<HashSet<InstrumentId>>,
}

impl std::fmt::Debug for UserFillsPoller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserFillsPoller")
            .field("address", &self.address)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl UserFillsPoller {
    /// A poller of `address`'s fills every `interval`, of `symbols` only (or every coin).
    pub fn new(
        transport: Arc<dyn Transport>,
        address: &str,
        interval: Duration,
        symbols: Option<&[Instrument]>,
    ) -> UserFillsPoller {
        UserFillsPoller {
            transport,
            address: address.to_string(),
            label: format!("userFillsByTime {address}"),
            interval,
            only: symbols.map(|list| list.iter().map(|i| i.id.clone()).collect()),
        }
    }
}

#[async_trait::async_trait]
impl LiquidationPoller for UserFillsPoller {
    fn venue(&self) -> Venue {
        crate::VENUE
    }

    fn stream(&self) -> &str {
        &self.label
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn max_catch_up(&self) -> Duration {
        catch_up(self.interval)
    }

    async fn poll(&self, start_ns: u64, end_ns: u64) -> Result<Polled, FetchError> {
        let Some((mut start_ms, end_ms)) = ms_range(start_ns, end_ns) else {
            return Ok(Polled {
                covered_until_ns: end_ns,
                ..Polled::default()
            });
        };
        let mut polled = Polled::default();
        // Pages overlap on their boundary millisecond: drop repeats within this poll.
        let mut seen = HashSet::new();
        for _ in 0..MAX_PAGES {
            let response = self
                .transport
                .send(user_fills_by_time(&self.address, start_ms, end_ms))
                .await?;
            let ts_init = now_ns();
            let fills = match parse_fills(&response.body) {
                Ok(fills) if (200..300).contains(&response.status) => fills,
                // An error answer, or a body that is not an array of fills: say which.
                typed => {
                    parse_json::<Vec<serde::de::IgnoredAny>>(&response, "userFillsByTime")?;
                    let detail = typed.err().map_or("".to_string(), |e| e.to_string());
                    return Err(FetchError::malformed(
                        crate::VENUE,
                        "userFillsByTime",
                        detail,
                    ));
                }
            };
            let full = fills.len() >= FILLS_PAGE_LIMIT;
            let page = fill_page_liquidations(
                &fills,
                &self.address,
                LiquidationSource::Poll,
                ts_init,
                &mut seen,
            );
            let last_ms = page.last_ms;
            polled.malformed.extend(page.malformed);
            polled.rows.extend(page.rows.into_iter().filter(|row| {
                self.only
                    .as_ref()
                    .is_none_or(|only| only.contains(&row.instrument_id))
            }));
            match last_ms {
                Some(last) if full && last > start_ms => start_ms = last,
                _ => {
                    polled.covered_until_ns = end_ns;
                    return Ok(polled);
                }
            }
        }
        // Still full pages after MAX_PAGES: covered up to the last fill read.
        polled.covered_until_ns = ms_to_ns(start_ms);
        Ok(polled)
    }
}

/// The default Hyperliquid liquidator vault ("HLP Liquidator").
pub const HLP_LIQUIDATOR: &str = "0x2e3d94f0562703b25c83308a05046ddaf9a8dd14";

/// Hyperliquid has no public liquidation feed: liquidations show up on the fills of the
/// users involved. This polls `POST /info {"type":"userFillsByTime"}` for each address
/// (typically the liquidator vaults) every `interval`; fills with a `liquidation` block
/// become liquidations (method `market`/`backstop`, source `poll`, trade id = `tid`), each
/// delivered once. Windows overlap the previous one by 10 s; a failed poll is retried at
/// the next tick from the last covered moment, so a short outage loses nothing; what lies
/// beyond the catch-up depth ([`catch_up`]) is recorded as a gap.
#[derive(Clone)]
pub struct UserFillsFeed {
    /// The Hyperliquid REST transport (rate limited).
    pub transport: Arc<dyn Transport>,
    /// The users whose fills are polled (`0x` and 40 hex digits).
    pub addresses: Vec<String>,
    /// Time between polls.
    pub interval: Duration,
}

impl UserFillsFeed {
    /// The feed the configuration asks for: its accounts, else [`HLP_LIQUIDATOR`].
    pub fn from_settings(settings: FeedSettings) -> Result<UserFillsFeed, String> {
        let transport = settings.transport.ok_or_else(|| {
            "hyperliquid: polling the liquidator fills needs the REST transport".to_string()
        })?;
        Ok(UserFillsFeed {
            transport,
            addresses: settings
                .accounts
                .unwrap_or_else(|| vec![HLP_LIQUIDATOR.to_string()]),
            interval: settings.poll_interval,
        })
    }
}

impl std::fmt::Debug for UserFillsFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserFillsFeed")
            .field("addresses", &self.addresses)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl LiquidationFeed for UserFillsFeed {
    fn venue(&self) -> Venue {
        crate::VENUE
    }

    fn kind(&self) -> FeedKind {
        FeedKind::Poll
    }

    fn problems(&self, _symbols: Option<&[Instrument]>) -> Vec<String> {
        let mut problems = Vec::new();
        if self.addresses.is_empty() {
            problems.push("hyperliquid: no addresses to poll".into());
        }
        for address in &self.addresses {
            if !is_address(address) {
                problems.push(format!(
                    "hyperliquid: '{address}' is not an address (0x and 40 hex digits)"
                ));
            }
        }
        if self.interval.is_zero() {
            problems.push("hyperliquid: the poll interval must be more than 0".into());
        }
        problems
    }

    fn tasks(&self, symbols: Option<&[Instrument]>) -> FeedTasks {
        let interval = self.interval.max(Duration::from_millis(1));
        FeedTasks::Polls(
            self.addresses
                .iter()
                .filter(|a| is_address(a))
                .map(|address| {
                    Arc::new(UserFillsPoller::new(
                        self.transport.clone(),
                        address,
                        interval,
                        symbols,
                    )) as Arc<dyn LiquidationPoller>
                })
                .collect(),
        )
    }

    fn catch_up(&self) -> Option<Duration> {
        Some(catch_up(self.interval))
    }
}

/// `0x` and 40 hex digits.
pub fn is_address(text: &str) -> bool {
    text.strip_prefix("0x")
        .is_some_and(|hex| hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use ccxt_venue::HttpMethod;
    use serde_json::json;

    use super::*;

    #[test]
    fn request_asks_for_the_window_and_charges_a_full_page() {
        let r = user_fills_by_time("0xabc", 1, 2);
        assert_eq!((r.method, r.path.as_str()), (HttpMethod::Post, "/info"));
        assert_eq!(
            r.body,
            Some(
                json!({"type":"userFillsByTime","user":"0xabc","startTime":1,"endTime":2,"aggregateByTime":false})
            )
        );
        assert_eq!(
            r.costs,
            vec![("ip", crate::http::requests::USER_FILLS_WEIGHT)]
        );
    }
}
