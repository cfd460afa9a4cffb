//! Hyperliquid liquidations by polling `POST /info {"type":"userFillsByTime"}` for each
//! watched address (typically the liquidator vaults): Hyperliquid has no public liquidation
//! feed, but every fill that belongs to a liquidation carries a `liquidation` block. The fill →
//! liquidation rule (whose side was liquidated) is
//! [`ccxt_hyperliquid::websocket::parse::fill_liquidation`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ccxt_hyperliquid::http::parse::parse_json;
use ccxt_hyperliquid::http::requests::{FILLS_PAGE_LIMIT, user_fills_by_time};
use ccxt_hyperliquid::websocket::messages::WsFill;
use ccxt_hyperliquid::websocket::parse::fill_liquidation;
use ccxt_model::time::now_ns;
use ccxt_model::{Instrument, InstrumentId, LiquidationSource, Venue};
use ccxt_venue::convert::{ms_range, ms_to_ns};
use ccxt_venue::{FetchError, Transport};

use crate::config::hyperliquid_catch_up;
use crate::protocol::{LiquidationPoller, Polled};

/// The most pages one poll reads; the rest is read at the next poll.
const MAX_PAGES: usize = 5;

/// Polls the fills of one address.
pub(crate) struct UserFillsPoller {
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
    pub(crate) fn new(
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
        Venue::Hyperliquid
    }

    fn stream(&self) -> &str {
        &self.label
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn max_catch_up(&self) -> Duration {
        hyperliquid_catch_up(self.interval)
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
            let fills: Vec<WsFill> = parse_json(&response, "userFillsByTime")?;
            let full = fills.len() >= FILLS_PAGE_LIMIT;
            let last_ms = fills.iter().filter_map(|f| f.time).max();
            for fill in &fills {
                if let Some(tid) = fill.tid
                    && !seen.insert(tid)
                {
                    continue;
                }
                match fill_liquidation(fill, &self.address, LiquidationSource::Poll, ts_init) {
                    Ok(Some(row))
                        if self
                            .only
                            .as_ref()
                            .is_none_or(|only| only.contains(&row.instrument_id)) =>
                    {
                        polled.rows.push(row);
                    }
                    Ok(_) => {}
                    Err(e) => polled.malformed.push(e.to_string()),
                }
            }
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
            vec![("ip", ccxt_hyperliquid::http::requests::USER_FILLS_WEIGHT)]
        );
    }
}
