//! Binance's identity and symbol grammar.
//!
//! | typed | native / instrument id |
//! |---|---|
//! | `BTCUSDT-PERP`, `BTCUSDT`, `BTC`, `BTC/USDT:USDT` | `BTCUSDT` / `BTCUSDT-PERP.BINANCE` |
//! | `BTCUSDC-PERP`, `BTC/USDC:USDC` | `BTCUSDC` / `BTCUSDC-PERP.BINANCE` |
//! | `1000PEPEUSDT-PERP`, Hyperliquid `kPEPE` | `1000PEPEUSDT` / `1000PEPEUSDT-PERP.BINANCE` |

use ccxt_model::{Market, Venue, VenueGrammar, is_upper_alnum};

/// Binance USDⓈ-M futures.
pub const VENUE: Venue = Venue::new(&BinanceGrammar);

/// Binance's [`VenueGrammar`]: native `BTCUSDT`, id `BTCUSDT-PERP.BINANCE`.
#[derive(Debug, Clone, Copy)]
pub struct BinanceGrammar;

impl VenueGrammar for BinanceGrammar {
    fn name(&self) -> &'static str {
        "binance"
    }

    fn nautilus_venue(&self) -> &'static str {
        "BINANCE"
    }

    fn id_symbol(&self, native: &str) -> String {
        format!("{native}-PERP")
    }

    fn native_of_id(&self, symbol: &str) -> Result<String, String> {
        symbol
            .to_ascii_uppercase()
            .strip_suffix("-PERP")
            .filter(|n| is_upper_alnum(n))
            .map(str::to_string)
            .ok_or_else(|| "Binance ids look like BTCUSDT-PERP.BINANCE".to_string())
    }

    fn market_native(&self, market: &Market) -> Result<String, String> {
        Ok(format!("{}{}", market.base, market.quote.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use ccxt_model::{Instrument, SymbolInput};

    use super::*;

    fn resolve(typed: &str) -> String {
        ccxt_model::venue::install(&[VENUE]).unwrap();
        let i = SymbolInput::parse(typed).unwrap().resolve(VENUE).unwrap();
        format!("{}={}", i.native, i.id)
    }

    #[test]
    fn symbols_map_to_usdt_and_usdc_contracts() {
        for typed in [
            "BTCUSDT-PERP",
            "btcusdt-perp",
            "BTCUSDT",
            "BTC/USDT:USDT",
            "BTC",
        ] {
            assert_eq!(resolve(typed), "BTCUSDT=BTCUSDT-PERP.BINANCE", "{typed}");
        }
        for typed in ["BTC/USDC:USDC", "BTCUSDC-PERP", "BTCUSDC"] {
            assert_eq!(resolve(typed), "BTCUSDC=BTCUSDC-PERP.BINANCE", "{typed}");
        }
        assert_eq!(
            resolve("1000PEPEUSDT-PERP"),
            "1000PEPEUSDT=1000PEPEUSDT-PERP.BINANCE"
        );
    }

    #[test]
    fn ids_read_back() {
        ccxt_model::venue::install(&[VENUE]).unwrap();
        let i = Instrument::from_id("BTCUSDT-PERP.BINANCE").unwrap();
        assert_eq!((i.venue, i.native.as_str()), (VENUE, "BTCUSDT"));
        let err = Instrument::from_id("BTCUSDT.BINANCE")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Binance ids look like BTCUSDT-PERP.BINANCE"),
            "{err}"
        );
        assert!(Instrument::from_native_checked(VENUE, "btcusdt").is_none());
        assert!(Instrument::from_native_checked(VENUE, "币安人生USDT").is_none());
        assert!(Instrument::from_native_checked(VENUE, "").is_none());
    }
}
