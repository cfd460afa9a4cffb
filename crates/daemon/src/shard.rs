//! Sharded collectors: which instruments, streams and catalog datasets one daemon of `n` owns.
//!
//! `daemon.shard = "i/n"` (or `--shard i/n`, `CCXT_DAEMON__SHARD`) runs shard `i` of `n`
//! (0-based, as the pod ordinals of a Kubernetes StatefulSet). Ownership is decided by a
//! stable hash, never by a list, so every shard decides alone and the same way:
//!
//! * an **instrument** belongs to shard `fnv1a64("<venue>:<native symbol>") % n`, e.g.
//!   `binance:BTCUSDT` (the venue's lower-case name and its own symbol). That shard takes its
//!   open-interest and funding snapshots and histories, its bars and its mark and index
//!   prices, and, where the venue subscribes to liquidations per symbol
//!   ([`FeedKind::PerSymbolSocket`]), its liquidation subscription;
//! * a **venue** belongs to shard `fnv1a64("<venue>") % n`. That shard runs the venue's
//!   liquidation feed when it is one for the whole market ([`FeedKind::AllMarketSocket`]) or
//!   a poll ([`FeedKind::Poll`]), and stores that feed's liquidations for every instrument of
//!   the venue; it also owns the venue's stream-gap dataset (`custom_stream_gap/<VENUE>`).
//!
//! The hash is FNV-1a 64 over the UTF-8 bytes (offset basis `0xcbf29ce484222325`, prime
//! `0x100000001b3`), defined byte by byte, so it is the same on every platform and in every
//! version; a test pins the shard of fixed keys. Changing `n` re-deals the instruments: every
//! shard must then be restarted with the new `n`.

use std::collections::BTreeSet;
use std::hash::Hasher;
use std::sync::Arc;

use ccxt_model::{BarType, Instrument, InstrumentId, RecordKind, Venue};
use ccxt_stream::FeedKind;

/// Shard `index` of `count` (0 ≤ index < count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    /// This collector's shard, 0-based.
    pub index: u32,
    /// How many shards collect together.
    pub count: u32,
}

/// Why a shard could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid shard '{given}': {reason} (use i/n with 0 <= i < n and n >= 1, e.g. 0/2 or 1/2)")]
pub struct ShardError {
    /// The text given.
    pub given: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl std::str::FromStr for Shard {
    type Err = ShardError;

    /// `i/n`, e.g. `0/3`.
    fn from_str(text: &str) -> Result<Shard, ShardError> {
        let error = |reason| ShardError {
            given: text.to_string(),
            reason,
        };
        let (i, n) = text.trim().split_once('/').ok_or_else(|| error("no '/'"))?;
        let index: u32 = i
            .trim()
            .parse()
            .map_err(|_| error("the index is not a whole number"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| error("the count is not a whole number"))?;
        if count == 0 {
            return Err(error("the count must be at least 1"));
        }
        if index >= count {
            return Err(error("the index must be below the count"));
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// FNV-1a 64 of `text`'s UTF-8 bytes: the stable hash behind every ownership decision.
pub fn stable_hash(text: &str) -> u64 {
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(text.as_bytes());
    hasher.finish()
}

/// The shard (of `count`) an instrument belongs to: `fnv1a64("<venue>:<native>") % count`.
pub fn instrument_shard(venue: Venue, native: &str, count: u32) -> u32 {
    (stable_hash(&format!("{}:{native}", venue.as_str())) % u64::from(count.max(1))) as u32
}

/// The shard (of `count`) a venue's whole-market feeds and its gap dataset belong to:
/// `fnv1a64("<venue>") % count`.
pub fn venue_shard(venue: Venue, count: u32) -> u32 {
    (stable_hash(venue.as_str()) % u64::from(count.max(1))) as u32
}

impl Shard {
    /// One collector for everything (no sharding).
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Whether this is one shard of several.
    pub fn is_sharded(&self) -> bool {
        self.count > 1
    }

    /// Whether this shard collects `instrument`'s snapshots, histories, bars and prices.
    pub fn owns_instrument(&self, instrument: &Instrument) -> bool {
        instrument_shard(instrument.venue, &instrument.native, self.count) == self.index
    }

    /// Whether this shard runs `venue`'s whole-market liquidation feed and owns its gaps.
    pub fn owns_venue(&self, venue: Venue) -> bool {
        venue_shard(venue, self.count) == self.index
    }

    /// Whether this shard runs `venue`'s liquidation feed of kind `feed`, for at least some
    /// of its instruments: every shard subscribes its own symbols on a per-symbol feed, one
    /// shard runs a whole-market feed or a poll.
    pub fn runs_feed(&self, venue: Venue, feed: FeedKind) -> bool {
        match feed {
            FeedKind::PerSymbolSocket => true,
            FeedKind::AllMarketSocket | FeedKind::Poll => self.owns_venue(venue),
        }
    }
}

/// Which catalog datasets one shard writes: exactly what it collects, so its recovery,
/// compaction and quarantine stay inside its own datasets.
#[derive(Debug, Clone)]
pub struct Ownership {
    shard: Shard,
    /// Venues whose liquidations are subscribed per symbol (split between shards).
    per_symbol: BTreeSet<Venue>,
}

impl Ownership {
    /// The datasets `shard` owns, given each venue's liquidation feed kind (venues without a
    /// feed are treated as whole-market ones: their liquidations, if any, belong to one shard).
    pub fn new(shard: Shard, feeds: impl IntoIterator<Item = (Venue, FeedKind)>) -> Ownership {
        Ownership {
            shard,
            per_symbol: feeds
                .into_iter()
                .filter(|(_, f)| *f == FeedKind::PerSymbolSocket)
                .map(|(v, _)| v)
                .collect(),
        }
    }

    /// The shard.
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// Whether this shard collects (and stores) `instrument`'s snapshots, histories and bars.
    pub fn owns_instrument(&self, instrument: &Instrument) -> bool {
        self.shard.owns_instrument(instrument)
    }

    /// Whether this shard stores `instrument`'s liquidations.
    pub fn owns_liquidations(&self, instrument: &Instrument) -> bool {
        if self.per_symbol.contains(&instrument.venue) {
            self.shard.owns_instrument(instrument)
        } else {
            self.shard.owns_venue(instrument.venue)
        }
    }

    /// Whether this shard writes the dataset `id` of `kind` (an instrument id; a bar type for
    /// bars; a venue code such as `BINANCE` for gaps). A dataset it cannot attribute belongs
    /// to no shard of several (to the only one when not sharded).
    pub fn owns(&self, kind: RecordKind, id: &InstrumentId) -> bool {
        if !self.shard.is_sharded() {
            return true;
        }
        let instrument = |id: &str| Instrument::from_id(id).ok();
        match kind {
            RecordKind::Gap => {
                Venue::from_nautilus_venue(id.as_str()).is_some_and(|v| self.shard.owns_venue(v))
            }
            RecordKind::Liquidation => {
                instrument(id.as_str()).is_some_and(|i| self.owns_liquidations(&i))
            }
            RecordKind::Bar => id
                .as_str()
                .parse::<BarType>()
                .ok()
                .and_then(|b| instrument(b.instrument_id.as_str()))
                .is_some_and(|i| self.owns_instrument(&i)),
            RecordKind::OpenInterest
            | RecordKind::FundingRate
            | RecordKind::MarkPrice
            | RecordKind::IndexPrice => {
                instrument(id.as_str()).is_some_and(|i| self.owns_instrument(&i))
            }
        }
    }

    /// [`Ownership::owns`] as a shareable predicate (what the catalog's sharded writer takes).
    pub fn predicate(&self) -> crate::store::Owns {
        let me = self.clone();
        Arc::new(move |kind, id| me.owns(kind, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn venue(name: &str) -> Venue {
        ccxt_registry::install().unwrap();
        ccxt_registry::venue(name)
    }

    #[test]
    fn shards_parse_and_refuse_what_is_not_i_of_n() {
        assert_eq!("0/1".parse::<Shard>(), Ok(Shard::WHOLE));
        assert_eq!(" 2/3 ".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        for (bad, reason) in [
            ("3/3", "the index must be below the count"),
            ("0/0", "the count must be at least 1"),
            ("1", "no '/'"),
            ("-1/2", "the index is not a whole number"),
            ("a/2", "the index is not a whole number"),
            ("1/x", "the count is not a whole number"),
        ] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert_eq!(e.reason, reason, "{bad}");
            assert!(e.to_string().contains("0 <= i < n"), "{e}");
        }
    }

    /// The hash is part of the contract: shards of one deployment may run different builds.
    /// These numbers must never change.
    #[test]
    fn the_hash_and_the_shard_of_fixed_keys_never_change() {
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(stable_hash("binance:BTCUSDT"), 0xf612_561a_cdde_eda0);
        let shards = |native: &str, v: &str| {
            (1..=5)
                .map(|n| instrument_shard(venue(v), native, n))
                .collect::<Vec<_>>()
        };
        assert_eq!(shards("BTCUSDT", "binance"), [0, 0, 0, 0, 0]);
        assert_eq!(shards("ETHUSDT", "binance"), [0, 0, 0, 0, 2]);
        assert_eq!(shards("ETHUSDT", "bybit"), [0, 0, 1, 2, 2]);
        assert_eq!(shards("BTCUSDT", "bybit"), [0, 0, 2, 2, 2]);
        assert_eq!(shards("BTC-USDT-SWAP", "okx"), [0, 1, 1, 1, 2]);
        assert_eq!(shards("ETH", "hyperliquid"), [0, 0, 2, 0, 0]);
        let venues = |v: &str| {
            (1..=5)
                .map(|n| venue_shard(venue(v), n))
                .collect::<Vec<_>>()
        };
        assert_eq!(venues("binance"), [0, 1, 1, 1, 1]);
        assert_eq!(venues("bybit"), [0, 1, 0, 3, 4]);
        assert_eq!(venues("hyperliquid"), [0, 1, 0, 1, 0]);
        assert_eq!(venues("okx"), [0, 1, 2, 1, 4]);
    }

    #[test]
    fn every_instrument_and_dataset_belongs_to_exactly_one_shard_for_n_1_to_5() {
        let binance = venue("binance");
        let bybit = venue("bybit");
        let feeds = [
            (binance, FeedKind::AllMarketSocket),
            (bybit, FeedKind::PerSymbolSocket),
        ];
        let instruments: Vec<Instrument> = (0..200)
            .flat_map(|i| {
                [
                    Instrument::from_native(binance, format!("C{i}USDT")),
                    Instrument::from_native(bybit, format!("C{i}USDT")),
                ]
            })
            .collect();
        for n in 1..=5 {
            let owners: Vec<Ownership> = (0..n)
                .map(|i| Ownership::new(Shard { index: i, count: n }, feeds))
                .collect();
            for instrument in &instruments {
                let count = |f: &dyn Fn(&Ownership) -> bool| owners.iter().filter(|o| f(o)).count();
                assert_eq!(count(&|o| o.owns_instrument(instrument)), 1);
                assert_eq!(count(&|o| o.owns_liquidations(instrument)), 1);
                for kind in [
                    RecordKind::OpenInterest,
                    RecordKind::FundingRate,
                    RecordKind::Liquidation,
                    RecordKind::MarkPrice,
                    RecordKind::IndexPrice,
                ] {
                    assert_eq!(
                        count(&|o| o.owns(kind, &instrument.id)),
                        1,
                        "{kind:?} n={n}"
                    );
                }
                let bar_type = format!("{}-1-MINUTE-LAST-EXTERNAL", instrument.id.as_str());
                let bar = InstrumentId::new_unchecked(bar_type);
                assert_eq!(count(&|o| o.owns(RecordKind::Bar, &bar)), 1);
                // Snapshot and bar datasets of one instrument are in one shard.
                let owner = owners.iter().position(|o| o.owns_instrument(instrument));
                assert_eq!(
                    owner,
                    owners.iter().position(|o| o.owns(RecordKind::Bar, &bar))
                );
            }
            for v in [binance, bybit] {
                let gaps = InstrumentId::new_unchecked(v.nautilus_venue());
                let owning = owners.iter().filter(|o| o.owns(RecordKind::Gap, &gaps));
                assert_eq!(owning.count(), 1, "{v} n={n}");
            }
            // The whole-market feed runs on one shard; every shard subscribes per symbol.
            let running = |v, f| owners.iter().filter(|o| o.shard().runs_feed(v, f)).count();
            assert_eq!(running(binance, FeedKind::AllMarketSocket), 1);
            assert_eq!(running(bybit, FeedKind::PerSymbolSocket), n as usize);
        }
        // Unattributable datasets belong to no shard of several, to the only one otherwise.
        let junk = InstrumentId::new_unchecked("not-an-instrument");
        assert!(
            !Ownership::new(Shard { index: 0, count: 2 }, feeds)
                .owns(RecordKind::OpenInterest, &junk)
        );
        assert!(Ownership::new(Shard::WHOLE, feeds).owns(RecordKind::OpenInterest, &junk));
    }
}
