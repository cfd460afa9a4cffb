//! Bybit's identity and symbol grammar.
//!
//! | typed | native / instrument id |
//! |---|---|
//! | `BTCUSDT-PERP`, `BTCUSDT`, `BTC`, `BTC/USDT:USDT` | `BTCUSDT` / `BTCUSDT-LINEAR.BYBIT` |
//! | `BTCUSDC-PERP`, `BTC/USDC:USDC`, `BTCPERP` | `BTCPERP` / `BTCPERP-LINEAR.BYBIT` |
//! | `1000PEPEUSDT-PERP`, Hyperliquid `kPEPE` | `1000PEPEUSDT` / `1000PEPEUSDT-LINEAR.BYBIT` |

use ccxt_model::{Market, NativeForm, Quote, Venue, VenueGrammar, is_upper_alnum};

/// Bybit v5 linear perpetuals.
pub const VENUE: Venue = Venue::new(&BybitGrammar);

/// Bybit's [`VenueGrammar`]: native `BTCUSDT` (USDC perpetuals `BTCPERP`), id
/// `BTCUSDT-LINEAR.BYBIT`.
#[derive(Debug, Clone, Copy)]
pub struct BybitGrammar;

impl VenueGrammar for BybitGrammar {
    fn name(&self) -> &'static str {
        "bybit"
    }

    fn nautilus_venue(&self) -> &'static str {
        "BYBIT"
    }

    fn id_symbol(&self, native: &str) -> String {
        format!("{native}-LINEAR")
    }

    fn native_of_id(&self, symbol: &str) -> Result<String, String> {
        symbol
            .to_ascii_uppercase()
            .strip_suffix("-LINEAR")
            .filter(|n| is_upper_alnum(n))
            .map(str::to_string)
            .ok_or_else(|| "Bybit ids look like BTCUSDT-LINEAR.BYBIT".to_string())
    }

    fn market_native(&self, market: &Market) -> Result<String, String> {
        Ok(match market.quote {
            Quote::Usdt => format!("{}USDT", market.base),
            Quote::Usdc => format!("{}PERP", market.base),
        })
    }

    /// Bybit names its USDC perpetuals `BTCPERP`.
    fn recognise_unquoted(&self, upper: &str) -> Option<NativeForm> {
        let base = upper.strip_suffix("PERP").filter(|b| !b.is_empty())?;
        Some(NativeForm::Market {
            base: base.to_string(),
            quote: Some(Quote::Usdc),
        })
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
    fn usdc_markets_map_to_perp_contracts() {
        for typed in ["BTCUSDT-PERP", "BTCUSDT", "BTC/USDT:USDT", "BTC"] {
            assert_eq!(resolve(typed), "BTCUSDT=BTCUSDT-LINEAR.BYBIT", "{typed}");
        }
        for typed in ["BTC/USDC:USDC", "BTCUSDC-PERP", "BTCUSDC", "BTCPERP"] {
            assert_eq!(resolve(typed), "BTCPERP=BTCPERP-LINEAR.BYBIT", "{typed}");
        }
    }

    #[test]
    fn ids_read_back() {
        ccxt_model::venue::install(&[VENUE]).unwrap();
        let i = Instrument::from_id("BTCPERP-LINEAR.BYBIT").unwrap();
        assert_eq!((i.venue, i.native.as_str()), (VENUE, "BTCPERP"));
        let err = Instrument::from_id("BTCUSDT-PERP.BYBIT")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Bybit ids look like BTCUSDT-LINEAR.BYBIT"),
            "{err}"
        );
        assert!(Instrument::from_native_checked(VENUE, "BTC-26DEC25").is_none());
    }
}
