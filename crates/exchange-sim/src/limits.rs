//! Rate limits as the venues enforce them, shared by all clients (one simulated IP):
//!
//! * Binance: 2400 weight per minute and a separate 500-per-5-minutes pool for `fundingRate` /
//!   `fundingInfo`. Over budget → HTTP 429 with `Retry-After` (seconds until the window frees
//!   enough). Requests that keep coming inside that `Retry-After` window get 429 again up to
//!   [`LimitsConfig::binance_ban_grace`] times, then HTTP 418 and a ban of
//!   [`LimitsConfig::binance_ban_secs`] (every request during the ban: 418 with the remaining
//!   seconds in `Retry-After`).
//! * Bybit: 600 requests per 5 s. Over budget → HTTP 403 "access too frequent" and a ban of
//!   [`LimitsConfig::bybit_ban_secs`] during which every request gets 403.
//! * Hyperliquid: 1200 weight per minute (20 per `/info` call, plus 1 per 20 funding rows
//!   returned, charged after the answer). Over budget → HTTP 429, no `Retry-After` (none is
//!   documented).
//!
//! * OKX: each endpoint its own budget per 2 s, keyed as the venue documents it (IP, IP +
//!   `instId`, IP + `instType`; see [`okx_limit`]); a bulk request without `instId` is counted
//!   in a bucket of its own (how OKX counts those is not documented). Over budget → HTTP 429
//!   `{"msg":"Too Many Requests","code":"50011"}` (the captured body), no `Retry-After`.
//!   [`LimitsConfig::okx_requests_per_2s`] replaces every endpoint's budget (for tests).
//!
//! Refused requests are not charged. Windows are measured on the wall clock, never on the
//! simulated data clock.

use std::collections::{HashMap, VecDeque};

use crate::Venue;
use crate::config::{LimitsConfig, WindowMode};

/// A budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PoolId {
    /// Binance request weight per minute.
    BinanceWeight,
    /// Binance `fundingRate` + `fundingInfo` per 5 minutes.
    BinanceFunding,
    /// Bybit requests per 5 seconds.
    Bybit,
    /// Hyperliquid weight per minute.
    Hyperliquid,
    /// OKX: every request, for stats only (the budgets are per endpoint and key).
    Okx,
}

impl PoolId {
    /// Every pool.
    pub const ALL: [PoolId; 5] = [
        PoolId::BinanceWeight,
        PoolId::BinanceFunding,
        PoolId::Bybit,
        PoolId::Hyperliquid,
        PoolId::Okx,
    ];

    fn index(self) -> usize {
        match self {
            PoolId::BinanceWeight => 0,
            PoolId::BinanceFunding => 1,
            PoolId::Bybit => 2,
            PoolId::Hyperliquid => 3,
            PoolId::Okx => 4,
        }
    }

    /// The venue the pool belongs to.
    pub fn venue(self) -> Venue {
        match self {
            PoolId::BinanceWeight | PoolId::BinanceFunding => Venue::Binance,
            PoolId::Bybit => Venue::Bybit,
            PoolId::Hyperliquid => Venue::Hyperliquid,
            PoolId::Okx => Venue::Okx,
        }
    }

    /// Name in stats.
    pub fn name(self) -> &'static str {
        match self {
            PoolId::BinanceWeight => "weight",
            PoolId::BinanceFunding => "funding",
            PoolId::Bybit => "requests",
            PoolId::Hyperliquid => "weight",
            PoolId::Okx => "requests",
        }
    }
}

/// What the limiter says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Go ahead (already charged).
    Allow,
    /// HTTP 429, with `Retry-After` seconds if the venue sends it.
    TooMany {
        /// Seconds.
        retry_after_s: Option<u64>,
    },
    /// Binance HTTP 418: banned for this many more seconds.
    Banned {
        /// Seconds.
        retry_after_s: u64,
    },
    /// Bybit HTTP 403 "access too frequent".
    Forbidden,
}

/// One budget's window of charged requests.
#[derive(Debug, Clone)]
pub(crate) struct Pool {
    /// Weight allowed per window.
    pub capacity: u32,
    /// The window.
    pub window_ms: u64,
    fixed: bool,
    entries: VecDeque<(u64, u32)>,
    limited_until: u64,
    grace_used: u32,
}

impl Pool {
    fn new(capacity: u32, window_ms: u64, fixed: bool) -> Pool {
        Pool {
            capacity,
            window_ms,
            fixed,
            entries: VecDeque::new(),
            limited_until: 0,
            grace_used: 0,
        }
    }

    /// Entries at or after this time count at `now`.
    fn window_start(&self, now: u64) -> u64 {
        if self.fixed {
            now / self.window_ms * self.window_ms
        } else {
            now.saturating_sub(self.window_ms - 1)
        }
    }

    fn used(&mut self, now: u64) -> u32 {
        let from = self.window_start(now);
        while self.entries.front().is_some_and(|&(t, _)| t < from) {
            self.entries.pop_front();
        }
        self.entries.iter().map(|&(_, w)| w).sum()
    }

    /// Milliseconds until `weight` more fits.
    fn wait_ms(&mut self, now: u64, weight: u32) -> u64 {
        let used = self.used(now);
        if self.fixed {
            return self.window_start(now) + self.window_ms - now;
        }
        let need = (used + weight).saturating_sub(self.capacity);
        let mut freed = 0u32;
        for &(t, w) in &self.entries {
            freed += w;
            if freed >= need {
                return (t + self.window_ms).saturating_sub(now).max(1);
            }
        }
        self.window_ms
    }

    fn charge(&mut self, now: u64, weight: u32) {
        if weight > 0 {
            self.entries.push_back((now, weight));
        }
    }
}

/// OKX's documented budget per 2 s of an endpoint (the last path segment) and what it is
/// keyed on besides the IP: `(requests, Some(param))` for "IP + instId" / "IP + instType".
pub(crate) fn okx_limit(endpoint: &str) -> (u32, Option<&'static str>) {
    match endpoint {
        "instruments" => (20, Some("instType")),
        "open-interest" => (20, Some("instId")),
        "funding-rate" | "funding-rate-history" | "open-interest-history" => (10, Some("instId")),
        "candles" => (40, None),
        "history-candles" | "mark-price-candles" | "history-mark-price-candles" => (20, None),
        _ => (20, None),
    }
}

/// OKX's window: 2 s.
const OKX_WINDOW_MS: u64 = 2_000;

fn secs(ms: u64) -> u64 {
    ms.div_ceil(1000).max(1)
}

/// All pools and bans.
#[derive(Debug, Clone)]
pub(crate) struct Limiter {
    cfg: LimitsConfig,
    pools: Vec<Pool>,
    binance_banned_until: u64,
    bybit_banned_until: u64,
    okx: HashMap<(String, String), Pool>,
    okx_fixed: bool,
}

impl Limiter {
    /// Fresh windows from the settings.
    pub fn new(cfg: &LimitsConfig) -> Limiter {
        let (bn_fixed, other_fixed) = match cfg.window {
            WindowMode::Venue => (true, false),
            WindowMode::Fixed => (true, true),
            WindowMode::Sliding => (false, false),
        };
        Limiter {
            cfg: cfg.clone(),
            pools: vec![
                Pool::new(cfg.binance_weight_per_minute, 60_000, bn_fixed),
                Pool::new(cfg.binance_funding_per_5min, 300_000, bn_fixed),
                Pool::new(cfg.bybit_requests_per_5s, 5_000, other_fixed),
                Pool::new(cfg.hyperliquid_weight_per_minute, 60_000, other_fixed),
                Pool::new(u32::MAX, OKX_WINDOW_MS, other_fixed),
            ],
            binance_banned_until: 0,
            bybit_banned_until: 0,
            okx: HashMap::new(),
            okx_fixed: other_fixed,
        }
    }

    /// Clears windows and bans.
    pub fn reset(&mut self) {
        *self = Limiter::new(&self.cfg.clone());
    }

    fn pool(&mut self, id: PoolId) -> &mut Pool {
        &mut self.pools[id.index()]
    }

    /// (capacity, window) of a pool.
    pub fn pool_spec(&self, id: PoolId) -> (u32, u64) {
        let p = &self.pools[id.index()];
        (p.capacity, p.window_ms)
    }

    /// Weight used in the pool's current window.
    pub fn used(&mut self, id: PoolId, now: u64) -> u32 {
        self.pool(id).used(now)
    }

    /// Charges weight learnt after answering (Hyperliquid's per-row weight).
    pub fn charge(&mut self, id: PoolId, weight: u32, now: u64) {
        self.pool(id).charge(now, weight);
    }

    /// Decides on an OKX request to `endpoint` whose bucket key (the `instId`/`instType` the
    /// endpoint is keyed on, `""` when not keyed) is `key`, and charges it if allowed.
    pub fn admit_okx(&mut self, endpoint: &str, key: &str, now: u64) -> Verdict {
        let capacity = self
            .cfg
            .okx_requests_per_2s
            .unwrap_or_else(|| okx_limit(endpoint).0);
        let fixed = self.okx_fixed;
        let pool = self
            .okx
            .entry((endpoint.to_string(), key.to_string()))
            .or_insert_with(|| Pool::new(capacity, OKX_WINDOW_MS, fixed));
        if self.cfg.enabled && pool.used(now) + 1 > pool.capacity {
            return Verdict::TooMany {
                retry_after_s: None,
            };
        }
        pool.charge(now, 1);
        self.pool(PoolId::Okx).charge(now, 1);
        Verdict::Allow
    }

    /// Decides on a request costing `costs` and charges it if allowed.
    pub fn admit(&mut self, venue: Venue, costs: &[(PoolId, u32)], now: u64) -> Verdict {
        if !self.cfg.enabled {
            for &(id, w) in costs {
                self.pool(id).charge(now, w);
            }
            return Verdict::Allow;
        }
        match venue {
            Venue::Binance => {
                if self.binance_banned_until > now {
                    return Verdict::Banned {
                        retry_after_s: secs(self.binance_banned_until - now),
                    };
                }
                let grace = self.cfg.binance_ban_grace;
                let ban_ms = self.cfg.binance_ban_secs.saturating_mul(1000);
                for &(id, w) in costs.iter().filter(|(_, w)| *w > 0) {
                    let pool = self.pool(id);
                    if pool.limited_until > now {
                        pool.grace_used += 1;
                        if pool.grace_used > grace {
                            self.binance_banned_until = now.saturating_add(ban_ms);
                            return Verdict::Banned {
                                retry_after_s: secs(ban_ms),
                            };
                        }
                        return Verdict::TooMany {
                            retry_after_s: Some(secs(pool.limited_until - now)),
                        };
                    }
                    if pool.used(now) + w > pool.capacity {
                        let wait = pool.wait_ms(now, w);
                        pool.limited_until = now + wait;
                        pool.grace_used = 0;
                        return Verdict::TooMany {
                            retry_after_s: Some(secs(wait)),
                        };
                    }
                }
            }
            Venue::Bybit => {
                if self.bybit_banned_until > now {
                    return Verdict::Forbidden;
                }
                let ban_ms = self.cfg.bybit_ban_secs.saturating_mul(1000);
                for &(id, w) in costs.iter().filter(|(_, w)| *w > 0) {
                    let pool = self.pool(id);
                    if pool.used(now) + w > pool.capacity {
                        self.bybit_banned_until = now.saturating_add(ban_ms);
                        return Verdict::Forbidden;
                    }
                }
            }
            Venue::Hyperliquid | Venue::Okx => {
                for &(id, w) in costs.iter().filter(|(_, w)| *w > 0) {
                    let pool = self.pool(id);
                    if pool.used(now) + w > pool.capacity {
                        return Verdict::TooMany {
                            retry_after_s: None,
                        };
                    }
                }
            }
        }
        for &(id, w) in costs {
            self.pool(id).charge(now, w);
        }
        Verdict::Allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn okx_counts_per_endpoint_and_instrument() {
        let mut l = Limiter::new(&LimitsConfig::default());
        let t = 1_000_000;
        for _ in 0..10 {
            assert_eq!(
                l.admit_okx("funding-rate-history", "BTC-USDT-SWAP", t),
                Verdict::Allow
            );
        }
        assert_eq!(
            l.admit_okx("funding-rate-history", "BTC-USDT-SWAP", t + 1),
            Verdict::TooMany {
                retry_after_s: None
            }
        );
        // Another instrument, another endpoint: their own budgets.
        assert_eq!(
            l.admit_okx("funding-rate-history", "ETH-USDT-SWAP", t + 1),
            Verdict::Allow
        );
        assert_eq!(l.admit_okx("open-interest", "", t + 1), Verdict::Allow);
        // The 2 s window frees.
        assert_eq!(
            l.admit_okx("funding-rate-history", "BTC-USDT-SWAP", t + 2_000),
            Verdict::Allow
        );
        for _ in 0..40 {
            assert_eq!(l.admit_okx("candles", "", t), Verdict::Allow);
        }
        assert!(matches!(
            l.admit_okx("candles", "", t),
            Verdict::TooMany { .. }
        ));
    }

    fn cfg() -> LimitsConfig {
        LimitsConfig {
            binance_weight_per_minute: 3,
            binance_ban_grace: 1,
            bybit_requests_per_5s: 2,
            bybit_ban_secs: 2,
            hyperliquid_weight_per_minute: 40,
            ..LimitsConfig::default()
        }
    }

    #[test]
    fn binance_429_then_418() {
        let mut l = Limiter::new(&cfg());
        let c = [(PoolId::BinanceWeight, 1)];
        let t0 = 60_000 * 1000 + 10_000; // 10 s into a minute
        for _ in 0..3 {
            assert_eq!(l.admit(Venue::Binance, &c, t0), Verdict::Allow);
        }
        assert_eq!(
            l.admit(Venue::Binance, &c, t0),
            Verdict::TooMany {
                retry_after_s: Some(50)
            }
        );
        assert!(matches!(
            l.admit(Venue::Binance, &c, t0 + 1),
            Verdict::TooMany { .. }
        ));
        assert_eq!(
            l.admit(Venue::Binance, &c, t0 + 2),
            Verdict::Banned { retry_after_s: 120 }
        );
        assert!(matches!(
            l.admit(Venue::Binance, &c, t0 + 100_000),
            Verdict::Banned { .. }
        ));
        assert_eq!(l.admit(Venue::Binance, &c, t0 + 130_000), Verdict::Allow);
    }

    #[test]
    fn sliding_window_frees_in_order() {
        let mut l = Limiter::new(&LimitsConfig {
            window: WindowMode::Sliding,
            ..cfg()
        });
        let c = [(PoolId::BinanceWeight, 1)];
        for t in [0, 10_000, 20_000] {
            assert_eq!(l.admit(Venue::Binance, &c, 1_000_000 + t), Verdict::Allow);
        }
        assert_eq!(
            l.admit(Venue::Binance, &c, 1_030_000),
            Verdict::TooMany {
                retry_after_s: Some(30)
            }
        );
    }

    #[test]
    fn bybit_bans_and_hyperliquid_refuses() {
        let mut l = Limiter::new(&cfg());
        let c = [(PoolId::Bybit, 1)];
        assert_eq!(l.admit(Venue::Bybit, &c, 1000), Verdict::Allow);
        assert_eq!(l.admit(Venue::Bybit, &c, 1001), Verdict::Allow);
        assert_eq!(l.admit(Venue::Bybit, &c, 1002), Verdict::Forbidden);
        assert_eq!(l.admit(Venue::Bybit, &c, 2900), Verdict::Forbidden);
        assert_eq!(l.admit(Venue::Bybit, &c, 7000), Verdict::Allow);
        let h = [(PoolId::Hyperliquid, 20)];
        assert_eq!(l.admit(Venue::Hyperliquid, &h, 0), Verdict::Allow);
        assert_eq!(l.admit(Venue::Hyperliquid, &h, 1), Verdict::Allow);
        assert_eq!(
            l.admit(Venue::Hyperliquid, &h, 2),
            Verdict::TooMany {
                retry_after_s: None
            }
        );
    }
}
