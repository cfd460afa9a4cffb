//! Hyperliquid's identity and symbol grammar.
//!
//! | typed | native / instrument id |
//! |---|---|
//! | `BTCUSDT-PERP`, `BTCUSDT`, `BTC`, `BTC/USDT:USDT`, `BTC/USDC:USDC` | `BTC` / `BTC-USD-PERP.HYPERLIQUID` |
//! | `1000PEPEUSDT-PERP`, `kPEPE`, `kPEPE/USDT:USDT` | `kPEPE` / `kPEPE-USD-PERP.HYPERLIQUID` |
//! | `xyz:TSLA`, ccxt `XYZ-TSLA/USDC:USDC` (builder dex) | `xyz:TSLA` / `xyz_TSLA-USD-PERP.HYPERLIQUID` |
//!
//! Hyperliquid's builder-deployed (HIP-3) perpetuals are named `dex:COIN`; they exist only on
//! Hyperliquid, so such a symbol names this venue. A `:` in a directory name breaks
//! NautilusTrader 1.221's query path, so the instrument id replaces it with `_` (`xyz:TSLA` →
//! `xyz_TSLA-USD-PERP.HYPERLIQUID`). Neither dex names nor coin names contain `_`, so the
//! mapping is reversible. Its `k` coins are 1000-unit contracts (`kPEPE` = `1000PEPE`
//! elsewhere).

use ccxt_model::{Market, NativeForm, Venue, VenueGrammar, is_alnum, is_upper_alnum};

/// Hyperliquid perpetuals, including builder-deployed (HIP-3) dexes.
pub const VENUE: Venue = Venue::new(&HyperliquidGrammar);

/// Hyperliquid's [`VenueGrammar`]: native `BTC`, `kPEPE`, `xyz:TSLA`, id
/// `BTC-USD-PERP.HYPERLIQUID`.
#[derive(Debug, Clone, Copy)]
pub struct HyperliquidGrammar;

const ELSEWHERE: &str = "builder-dex symbols (dex:COIN) exist only on hyperliquid";

impl VenueGrammar for HyperliquidGrammar {
    fn name(&self) -> &'static str {
        "hyperliquid"
    }

    fn nautilus_venue(&self) -> &'static str {
        "HYPERLIQUID"
    }

    fn id_symbol(&self, native: &str) -> String {
        format!("{}-USD-PERP", native.replace(':', "_"))
    }

    fn native_of_id(&self, symbol: &str) -> Result<String, String> {
        let coin = symbol
            .strip_suffix("-USD-PERP")
            .or_else(|| symbol.strip_suffix("-usd-perp"))
            .ok_or_else(|| "Hyperliquid ids look like BTC-USD-PERP.HYPERLIQUID".to_string())?;
        match coin.split_once(['_', ':']) {
            Some((dex, coin)) if is_dex(dex) && is_alnum(coin) => Ok(format!("{dex}:{coin}")),
            None if is_alnum(coin) => Ok(coin.to_string()),
            _ => Err("the coin must be letters and digits, or dex_COIN".to_string()),
        }
    }

    fn market_native(&self, market: &Market) -> Result<String, String> {
        Ok(coin(&market.base))
    }

    fn native_examples(&self) -> &'static str {
        "Hyperliquid BTC or xyz:TSLA"
    }

    fn recognise(&self, typed: &str) -> Option<Result<NativeForm, String>> {
        if let Some((dex, coin)) = typed.split_once(':') {
            return Some(if is_dex(dex) && is_alnum(coin) {
                Ok(dex_market(dex, coin))
            } else {
                Err(
                    "Hyperliquid builder-dex symbols look like xyz:TSLA (lowercase dex, then the coin)"
                        .to_string(),
                )
            });
        }
        k_coin(typed).map(Ok)
    }

    fn recognise_ccxt_base(&self, base: &str) -> Option<NativeForm> {
        match base.split_once('-') {
            // ccxt writes Hyperliquid builder-dex markets as DEX-COIN/USDC:USDC.
            Some((dex, coin)) if is_alnum(dex) && is_alnum(coin) => {
                Some(dex_market(&dex.to_ascii_lowercase(), coin))
            }
            _ => k_coin(base),
        }
    }
}

/// `kPEPE` (a 1000-unit contract) as the market `1000PEPE`.
fn k_coin(s: &str) -> Option<NativeForm> {
    let coin = s.strip_prefix('k').filter(|c| is_upper_alnum(c))?;
    Some(NativeForm::Market {
        base: format!("1000{coin}"),
        quote: None,
    })
}

fn dex_market(dex: &str, coin: &str) -> NativeForm {
    NativeForm::Listed {
        native: format!("{dex}:{coin}"),
        elsewhere: ELSEWHERE.to_string(),
    }
}

/// Hyperliquid's coin for a base asset: `1000PEPE` → `kPEPE`, otherwise unchanged.
fn coin(base: &str) -> String {
    match base.strip_prefix("1000") {
        Some(rest) if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_uppercase()) => {
            format!("k{rest}")
        }
        _ => base.to_string(),
    }
}

fn is_dex(s: &str) -> bool {
    is_alnum(s) && !s.bytes().any(|b| b.is_ascii_uppercase())
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
    fn markets_map_to_coins_and_k_coins() {
        for typed in ["BTCUSDT-PERP", "BTC", "BTC/USDT:USDT", "BTC/USDC:USDC"] {
            assert_eq!(resolve(typed), "BTC=BTC-USD-PERP.HYPERLIQUID", "{typed}");
        }
        for typed in [
            "1000PEPEUSDT-PERP",
            "kPEPE",
            "1000PEPEUSDT",
            "kPEPE/USDT:USDT",
        ] {
            assert_eq!(
                resolve(typed),
                "kPEPE=kPEPE-USD-PERP.HYPERLIQUID",
                "{typed}"
            );
        }
    }

    #[test]
    fn builder_dex_symbols_get_a_colon_free_id() {
        assert_eq!(
            resolve("xyz:TSLA"),
            "xyz:TSLA=xyz_TSLA-USD-PERP.HYPERLIQUID"
        );
        assert_eq!(resolve("XYZ-TSLA/USDC:USDC"), resolve("xyz:TSLA"));
        let input = SymbolInput::parse("xyz:TSLA").unwrap();
        assert_eq!(input.pinned_venue(), Some(VENUE));
        let i = Instrument::from_id("xyz_TSLA-USD-PERP.HYPERLIQUID").unwrap();
        assert_eq!(i.native, "xyz:TSLA");
        let err = SymbolInput::parse("XYZ:tsla").unwrap_err().to_string();
        assert!(err.contains("builder-dex"), "{err}");
        assert!(Instrument::from_native_checked(VENUE, "BAD-NAME").is_none());
    }
}
