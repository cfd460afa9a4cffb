//! The venues ccxt-pipeline collects from.

use std::fmt;
use std::str::FromStr;

/// A derivatives venue. Adding a venue means one variant here and one connector crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Venue {
    /// Binance USDⓈ-M futures (perpetual contracts).
    Binance,
    /// Bybit v5, category `linear` (USDT and USDC perpetuals).
    Bybit,
    /// Hyperliquid perpetuals, including builder-deployed (HIP-3) dexes.
    Hyperliquid,
    /// OKX v5 perpetual swaps (`BTC-USDT-SWAP`). TEMP glue until the descriptor-based venue
    /// identity replaces this enum.
    Okx,
}

impl Venue {
    /// Every venue, in the order used for sorting output.
    pub const ALL: [Venue; 4] = [Venue::Binance, Venue::Bybit, Venue::Hyperliquid, Venue::Okx];

    /// The lowercase name users type (`-e binance`) and that the output shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Venue::Binance => "binance",
            Venue::Bybit => "bybit",
            Venue::Hyperliquid => "hyperliquid",
            Venue::Okx => "okx",
        }
    }

    /// The venue part of a NautilusTrader instrument id (`BTCUSDT-PERP.BINANCE`).
    pub fn nautilus_venue(self) -> &'static str {
        match self {
            Venue::Binance => "BINANCE",
            Venue::Bybit => "BYBIT",
            Venue::Hyperliquid => "HYPERLIQUID",
            Venue::Okx => "OKX",
        }
    }

    /// The venue whose NautilusTrader venue code is `code` (`BINANCE`, `BYBIT`, `HYPERLIQUID`).
    pub fn from_nautilus_venue(code: &str) -> Option<Venue> {
        Venue::ALL
            .into_iter()
            .find(|v| v.nautilus_venue().eq_ignore_ascii_case(code))
    }
}

impl fmt::Display for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a venue name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown venue '{0}': valid venues are binance, bybit, hyperliquid, okx")]
pub struct UnknownVenue(pub String);

impl FromStr for Venue {
    type Err = UnknownVenue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Venue::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownVenue(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_case_insensitively() {
        assert_eq!("Binance".parse::<Venue>(), Ok(Venue::Binance));
        assert_eq!(" bybit ".parse::<Venue>(), Ok(Venue::Bybit));
        assert_eq!("HYPERLIQUID".parse::<Venue>(), Ok(Venue::Hyperliquid));
        assert_eq!("OKX".parse::<Venue>(), Ok(Venue::Okx));
        let err = "kraken".parse::<Venue>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown venue 'kraken': valid venues are binance, bybit, hyperliquid, okx"
        );
    }

    #[test]
    fn nautilus_codes_round_trip() {
        for v in Venue::ALL {
            assert_eq!(Venue::from_nautilus_venue(v.nautilus_venue()), Some(v));
        }
        assert_eq!(Venue::from_nautilus_venue("KRAKEN"), None);
    }
}
