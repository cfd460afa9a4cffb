//! De-duplication of liquidations in a bounded set of recently seen keys.
//!
//! Two places deliver the same liquidation twice: the overlap of a planned rotation (old and
//! new connection both push it) and overlapping poll windows. Each delivery carries an
//! *origin* — the connection, or the poll request, it came from. A key seen before from a
//! **different** origin is a duplicate; the same key again from the **same** origin is a
//! second, genuine liquidation (a venue never sends one event twice on one connection, but two
//! equal liquidations in the same millisecond do happen).
//!
//! Memory is bounded: the set keeps the last `capacity` keys and forgets the oldest first, and
//! it forgets keys whose venue time is more than [`HORIZON_NS`] older than the newest one seen.
//! What can arrive twice is a rotation overlap of a few seconds or the overlap of two poll
//! windows (seconds, plus fills reported late), so the horizon is generous; measuring it in
//! venue time, not wall time, means a long outage forgets nothing (no new rows, no eviction).
//! In steady state the set holds the last 10 minutes of liquidations, not `capacity` keys.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};

use ccxt_model::{Liquidation, PositionSide};
use foldhash::fast::RandomState;
use siphasher::sip128::{Hasher128, SipHasher13};

/// How many keys a [`RecentSet`] keeps by default.
pub const DEFAULT_CAPACITY: usize = 16_384;

/// Keys whose venue time is this much older than the newest seen are forgotten (10 minutes).
pub const HORIZON_NS: u64 = 600_000_000_000;

/// What identifies a liquidation: the venue's trade id when it gives one (Hyperliquid `tid`),
/// else its content — instrument (which names the venue), side, quantity, price and venue time
/// (never the receive time, which differs between two deliveries).
///
/// Kept as the 128-bit SipHash-1-3 fingerprint of those fields (16 bytes, hashed from the
/// row's own fields without copying them): every row of every stream is looked up here, and
/// a key holding copies of the instrument and trade id cost an allocation per row and a
/// string comparison per lookup. Two distinct liquidations would have to share all 128 bits
/// to be taken for one another, a chance below 10^-20 even among the billion liquidations of
/// years of streaming (the set itself holds minutes of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LiquidationKey(u128);

/// The fields a [`LiquidationKey`] is made of, as hashed.
#[derive(Hash)]
enum KeyFields<'a> {
    Trade(&'a str, &'a str),
    Content {
        instrument: &'a str,
        side: PositionSide,
        quantity: u64,
        price: u64,
        ts_event: u64,
    },
}

impl LiquidationKey {
    /// The key of `row`.
    pub fn of(row: &Liquidation) -> LiquidationKey {
        let instrument = row.instrument_id.as_str();
        let fields = match &row.trade_id {
            Some(tid) => KeyFields::Trade(instrument, tid),
            None => KeyFields::Content {
                instrument,
                side: row.side,
                quantity: row.quantity.to_bits(),
                price: row.price.to_bits(),
                ts_event: row.ts_event,
            },
        };
        let mut hasher = SipHasher13::new();
        fields.hash(&mut hasher);
        LiquidationKey(hasher.finish128().as_u128())
    }
}

/// A fresh origin id, unique in the process: one per connection, one per poll request.
pub fn new_origin() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The last `capacity` keys seen, with the origin that first delivered each.
#[derive(Debug)]
pub struct RecentSet {
    capacity: usize,
    /// Hashed with foldhash (seeded per process): every row of every stream is looked up,
    /// inserted and later evicted here.
    origins: HashMap<LiquidationKey, u64, RandomState>,
    /// Keys in arrival order, with their venue time.
    order: VecDeque<(u64, LiquidationKey)>,
    /// The newest venue time seen.
    newest_ns: u64,
}

impl Default for RecentSet {
    fn default() -> Self {
        RecentSet::new(DEFAULT_CAPACITY)
    }
}

impl RecentSet {
    /// A set that keeps at most `capacity` keys (at least 1).
    pub fn new(capacity: usize) -> RecentSet {
        RecentSet {
            capacity: capacity.max(1),
            origins: HashMap::default(),
            order: VecDeque::new(),
            newest_ns: 0,
        }
    }

    /// Whether `key` from `origin` is new (remembering it), or a duplicate of a delivery from
    /// another origin.
    pub fn admit(&mut self, key: LiquidationKey, origin: u64) -> bool {
        let ts = self.newest_ns;
        self.admit_at(key, ts, origin)
    }

    /// [`RecentSet::admit`] for a key with venue time `ts_event_ns`.
    pub fn admit_at(&mut self, key: LiquidationKey, ts_event_ns: u64, origin: u64) -> bool {
        match self.origins.get(&key) {
            Some(first) => *first == origin,
            None => {
                self.newest_ns = self.newest_ns.max(ts_event_ns);
                let cutoff = self.newest_ns.saturating_sub(HORIZON_NS);
                while let Some((ts, _)) = self.order.front() {
                    if self.order.len() < self.capacity && *ts >= cutoff {
                        break;
                    }
                    if let Some((_, oldest)) = self.order.pop_front() {
                        self.origins.remove(&oldest);
                    }
                }
                self.origins.insert(key, origin);
                self.order.push_back((ts_event_ns, key));
                true
            }
        }
    }

    /// Keeps the rows of `rows` that are new; returns them and how many were dropped.
    pub fn filter(&mut self, rows: Vec<Liquidation>, origin: u64) -> (Vec<Liquidation>, usize) {
        let before = rows.len();
        let kept: Vec<Liquidation> = rows
            .into_iter()
            .filter(|row| self.admit_at(LiquidationKey::of(row), row.ts_event, origin))
            .collect();
        let dropped = before - kept.len();
        (kept, dropped)
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use ccxt_model::{InstrumentId, LiquidationSource};

    use super::*;

    fn row(qty: f64, ts_event: u64, ts_init: u64, tid: Option<&str>) -> Liquidation {
        Liquidation {
            instrument_id: InstrumentId::new_unchecked("BTCUSDT-PERP.BINANCE"),
            side: PositionSide::Long,
            order_side: "SELL".into(),
            quantity: qty,
            price: 100.0,
            value: qty * 100.0,
            source: LiquidationSource::Ws,
            method: None,
            trade_id: tid.map(str::to_string),
            ts_event,
            ts_init,
        }
    }

    #[test]
    fn another_origin_is_a_duplicate_the_same_origin_is_not() {
        let mut set = RecentSet::new(10);
        let (a, b) = (new_origin(), new_origin());
        assert_ne!(a, b);
        let (kept, dropped) = set.filter(vec![row(1.0, 5, 100, None)], a);
        assert_eq!((kept.len(), dropped), (1, 0));
        // The new connection of a rotation delivers it again, received later: dropped.
        let (kept, dropped) = set.filter(vec![row(1.0, 5, 200, None)], b);
        assert_eq!((kept.len(), dropped), (0, 1));
        // The same connection sends an equal one again: a second liquidation, kept.
        let (kept, _) = set.filter(vec![row(1.0, 5, 300, None)], a);
        assert_eq!(kept.len(), 1);
        // Different content passes.
        assert_eq!(set.filter(vec![row(2.0, 5, 1, None)], b).0.len(), 1);
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn trade_ids_identify_rows_whatever_the_content() {
        let mut set = RecentSet::new(10);
        let (a, b) = (new_origin(), new_origin());
        assert_eq!(set.filter(vec![row(1.0, 5, 1, Some("7"))], a).0.len(), 1);
        assert_eq!(set.filter(vec![row(1.5, 6, 2, Some("7"))], b).1, 1);
        assert_eq!(set.filter(vec![row(1.0, 5, 1, Some("8"))], b).0.len(), 1);
    }

    #[test]
    fn keys_tell_instruments_trade_ids_and_contents_apart() {
        let key = |id: &str, qty: f64, ts: u64, tid: Option<&str>| {
            let mut r = row(qty, ts, 0, tid);
            r.instrument_id = InstrumentId::new_unchecked(id);
            LiquidationKey::of(&r)
        };
        let btc = "BTCUSDT-PERP.BINANCE";
        assert_eq!(key(btc, 1.0, 5, None), key(btc, 1.0, 5, None));
        assert_ne!(
            key(btc, 1.0, 5, None),
            key("ETHUSDT-PERP.BINANCE", 1.0, 5, None)
        );
        assert_ne!(key(btc, 1.0, 5, None), key(btc, 1.5, 5, None));
        assert_ne!(key(btc, 1.0, 5, None), key(btc, 1.0, 6, None));
        let mut short = row(1.0, 5, 0, None);
        short.side = PositionSide::Short;
        assert_ne!(key(btc, 1.0, 5, None), LiquidationKey::of(&short));
        // A trade id is the key, whatever the content; not across instruments.
        assert_eq!(key(btc, 1.0, 5, Some("7")), key(btc, 2.0, 9, Some("7")));
        assert_ne!(
            key(btc, 1.0, 5, Some("7")),
            key("ETHUSDT-PERP.BINANCE", 1.0, 5, Some("7"))
        );
        assert_ne!(key(btc, 1.0, 5, Some("7")), key(btc, 1.0, 5, Some("8")));
        assert_ne!(key(btc, 1.0, 5, Some("7")), key(btc, 1.0, 5, None));
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_is_forgotten() {
        let mut set = RecentSet::new(3);
        let (a, b) = (new_origin(), new_origin());
        for ts in 0..5 {
            set.admit(LiquidationKey::of(&row(1.0, ts, 0, None)), a);
        }
        assert_eq!(set.len(), 3);
        assert!(
            set.admit(LiquidationKey::of(&row(1.0, 0, 0, None)), b),
            "forgotten, so new again"
        );
        assert!(!set.admit(LiquidationKey::of(&row(1.0, 4, 0, None)), b));
        assert!(RecentSet::default().is_empty());
    }

    #[test]
    fn keys_older_than_the_horizon_in_venue_time_are_forgotten() {
        let mut set = RecentSet::new(1_000_000);
        let key = |i: u64| {
            let mut fill = row(1.0, 0, 0, Some(&i.to_string()));
            fill.instrument_id = InstrumentId::new_unchecked("BTC-USD-PERP.HYPERLIQUID");
            LiquidationKey::of(&fill)
        };
        let t0 = 1_700_000_000_000_000_000u64;
        assert!(set.admit_at(key(0), t0, 1));
        // However long nothing new arrives (an outage), nothing is forgotten.
        assert!(!set.admit_at(key(0), t0, 2), "still a duplicate");
        // One minute of liquidations every 100 ms: all kept.
        for i in 1..=600 {
            assert!(set.admit_at(key(i), t0 + i * 100_000_000, 1));
        }
        assert_eq!(set.len(), 601);
        // Eleven minutes later the first ones are gone; memory follows the rate, not the cap.
        assert!(set.admit_at(key(10_000), t0 + 700_000_000_000, 1));
        assert_eq!(set.len(), 1);
        assert!(set.admit_at(key(0), t0 + 700_000_000_001, 2), "forgotten");
    }
}
