//! Hyperliquid liquidations by polling `POST /info {"type":"userFillsByTime"}` for each
//! watched address (typically the liquidator vaults): Hyperliquid has no public liquidation
//! feed, but every fill that belongs to a liquidation carries a `liquidation` block. The fill →
//! liquidation rule (whose side was liquidated) is
//! [`ccxt_hyperliquid::websocket::parse::fill_liquidation`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ccxt_hyperliquid::RATE_LIMIT_POOL;
use ccxt_hyperliquid::http::parse::parse_json;
use ccxt_hyperliquid::http::requests::{INFO_PATH, INFO_WEIGHT};
use ccxt_hyperliquid::websocket::messages::WsFill;
use ccxt_hyperliquid::websocket::parse::fill_liquidation;
use ccxt_model::time::now_ns;
use ccxt_model::{Instrument, InstrumentId, LiquidationSource, Venue};
use ccxt_venue::convert::{ms_range, ms_to_ns};
use ccxt_venue::{FetchError, HttpRequest, Transport};
use serde_json::json;

use crate::config::hyperliquid_catch_up;
use crate::protocol::{LiquidationPoller, Polled};

/// The most fills one `userFillsByTime` response holds.
pub(crate) const FILLS_PAGE_LIMIT: usize = 2000;

/// The most pages one poll reads; the rest is read at the next poll.
const MAX_PAGES: usize = 5;

/// `{"type":"userFillsByTime","user":…,"startTime":…,"endTime":…}`: the fills of `user` from
/// `start_ms` to `end_ms` (inclusive, UNIX ms), oldest first, at most [`FILLS_PAGE_LIMIT`].
/// Weight: 20, plus 1 per 20 fills returned; charged for a full page.
///
/// (A request builder belongs in `ccxt_hyperliquid::http::requests`; it lives here until that
/// crate takes it.)
pub(crate) fn user_fills_by_time(user: &str, start_ms: u64, end_ms: u64) -> HttpRequest {
    HttpRequest::post(
        "userFillsByTime",
        INFO_PATH,
        json!({
            "type": "userFillsByTime",
            "user": user,
            "startTime": start_ms,
            "endTime": end_ms,
            "aggregateByTime": false
        }),
        RATE_LIMIT_POOL,
        POLL_WEIGHT,
    )
}

/// Weight charged up front per poll: the base 20 plus the extra for a typical answer (up to 100
/// fills: 1 per 20). Charging the worst case (2000 fills: 120) would cap polling at 8 per minute
/// on an 80 % budget; a rare long answer costs more than charged, which the 20 % headroom absorbs.
pub(crate) const POLL_WEIGHT: u32 = INFO_WEIGHT + 5;

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
        assert_eq!(r.costs, vec![("ip", POLL_WEIGHT)]);
    }
}
