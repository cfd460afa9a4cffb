//! Symbols as users type them, and the instruments they name on each venue.
//!
//! Users type one of four forms (see [`ACCEPTED_SYMBOL_FORMS`]); [`SymbolInput::parse`] reads
//! it and [`SymbolInput::resolve`] maps it to a venue's native symbol and to the
//! NautilusTrader instrument id under which the catalog stores its data:
//!
//! | typed | Binance | Bybit | Hyperliquid |
//! |---|---|---|---|
//! | `BTCUSDT-PERP`, `BTCUSDT`, `BTC/USDT:USDT` | `BTCUSDT` / `BTCUSDT-PERP.BINANCE` | `BTCUSDT` / `BTCUSDT-LINEAR.BYBIT` | `BTC` / `BTC-USD-PERP.HYPERLIQUID` |
//! | `BTCUSDC-PERP`, `BTC/USDC:USDC` | `BTCUSDC` / `BTCUSDC-PERP.BINANCE` | `BTCPERP` / `BTCPERP-LINEAR.BYBIT` | `BTC` / `BTC-USD-PERP.HYPERLIQUID` |
//! | `BTC` (a Hyperliquid coin) | `BTCUSDT` | `BTCUSDT` | `BTC` |
//! | `1000PEPEUSDT-PERP`, `kPEPE` | `1000PEPEUSDT` | `1000PEPEUSDT` | `kPEPE` / `kPEPE-USD-PERP.HYPERLIQUID` |
//! | `xyz:TSLA` (Hyperliquid builder dex) | – | – | `xyz:TSLA` / `xyz_TSLA-USD-PERP.HYPERLIQUID` |
//!
//! OKX (TEMP glue, the grammar is `ccxt_okx::symbol`'s): `BTCUSDT-PERP`, `BTC/USDT:USDT` and the
//! native `BTC-USDT-SWAP` name `BTC-USDT-SWAP` / `BTC-USDT-SWAP.OKX`; `1000PEPEUSDT-PERP` names
//! `PEPE-USDT-SWAP` (OKX lists the coin, not the 1000-unit contract).
//!
//! Hyperliquid's builder-deployed (HIP-3) perpetuals are named `dex:COIN`. A `:` in a
//! directory name breaks NautilusTrader 1.221's query path, so the instrument id replaces it
//! with `_` (`xyz:TSLA` → `xyz_TSLA-USD-PERP.HYPERLIQUID`). Neither dex names nor coin names
//! contain `_`, so the mapping is reversible.

use std::fmt;
use std::sync::Arc;

use crate::Venue;

/// What the error for a malformed symbol lists as valid input.
pub const ACCEPTED_SYMBOL_FORMS: &str = "accepted forms: BTCUSDT-PERP, a venue symbol \
(BTCUSDT, Hyperliquid BTC or xyz:TSLA), a ccxt symbol (BTC/USDT:USDT, BTC/USDC:USDC) or a \
NautilusTrader id (BTCUSDT-PERP.BINANCE, BTCUSDT-LINEAR.BYBIT, BTC-USD-PERP.HYPERLIQUID, \
BTC-USDT-SWAP.OKX)";

/// A NautilusTrader instrument id such as `BTCUSDT-PERP.BINANCE`.
///
/// Cheap to clone (shared string): every stored row carries one.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstrumentId(Arc<str>);

impl InstrumentId {
    /// Wraps `id` without checking it. Use [`Instrument::from_id`] to check an id is one of ours.
    pub fn new_unchecked(id: impl Into<Arc<str>>) -> Self {
        InstrumentId(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstrumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for InstrumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InstrumentId({})", self.0)
    }
}

/// A perpetual contract on one venue: its native symbol and its NautilusTrader id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instrument {
    /// The venue that lists it.
    pub venue: Venue,
    /// The venue's own symbol (`BTCUSDT`, Hyperliquid `BTC` or `xyz:TSLA`).
    pub native: String,
    /// The NautilusTrader instrument id; the catalog's directory name.
    pub id: InstrumentId,
}

impl Instrument {
    /// The instrument a venue lists under its own symbol `native` (`BTCUSDT`, `BTC`, `xyz:TSLA`),
    /// as read from the venue's instrument list.
    pub fn from_native(venue: Venue, native: impl Into<String>) -> Self {
        Instrument::new(venue, native.into())
    }

    fn new(venue: Venue, native: String) -> Self {
        let symbol = match venue {
            Venue::Binance => format!("{native}-PERP"),
            Venue::Bybit => format!("{native}-LINEAR"),
            Venue::Hyperliquid => format!("{}-USD-PERP", native.replace(':', "_")),
            Venue::Okx => native.clone(),
        };
        let id = InstrumentId::new_unchecked(format!("{symbol}.{}", venue.nautilus_venue()));
        Instrument { venue, native, id }
    }

    /// Reads a NautilusTrader instrument id of one of our venues (`BTCUSDT-PERP.BINANCE`,
    /// `BTCUSDT-LINEAR.BYBIT`, `BTC-USD-PERP.HYPERLIQUID`, `xyz_TSLA-USD-PERP.HYPERLIQUID`).
    pub fn from_id(id: &str) -> Result<Instrument, SymbolError> {
        let malformed = |reason: &str| SymbolError::Malformed {
            input: id.to_string(),
            reason: reason.to_string(),
        };
        let (symbol, code) = id
            .rsplit_once('.')
            .ok_or_else(|| malformed("an instrument id looks like BTCUSDT-PERP.BINANCE"))?;
        let venue = Venue::from_nautilus_venue(code).ok_or_else(|| {
            malformed("the venue after '.' must be BINANCE, BYBIT, HYPERLIQUID or OKX")
        })?;
        let native = match venue {
            Venue::Binance => symbol
                .to_ascii_uppercase()
                .strip_suffix("-PERP")
                .filter(|n| is_upper_alnum(n))
                .map(str::to_string)
                .ok_or_else(|| malformed("Binance ids look like BTCUSDT-PERP.BINANCE"))?,
            Venue::Bybit => symbol
                .to_ascii_uppercase()
                .strip_suffix("-LINEAR")
                .filter(|n| is_upper_alnum(n))
                .map(str::to_string)
                .ok_or_else(|| malformed("Bybit ids look like BTCUSDT-LINEAR.BYBIT"))?,
            Venue::Hyperliquid => {
                let coin = symbol
                    .strip_suffix("-USD-PERP")
                    .or_else(|| symbol.strip_suffix("-usd-perp"))
                    .ok_or_else(|| {
                        malformed("Hyperliquid ids look like BTC-USD-PERP.HYPERLIQUID")
                    })?;
                match coin.split_once(['_', ':']) {
                    Some((dex, coin)) if is_dex(dex) && is_alnum(coin) => format!("{dex}:{coin}"),
                    None if is_alnum(coin) => coin.to_string(),
                    _ => {
                        return Err(malformed(
                            "the coin must be letters and digits, or dex_COIN",
                        ));
                    }
                }
            }
            Venue::Okx => okx_parse_native(symbol)
                .map(|(base, quote)| format!("{base}-{}-SWAP", quote.as_str()))
                .ok_or_else(|| malformed("OKX ids look like BTC-USDT-SWAP.OKX"))?,
        };
        Ok(Instrument::new(venue, native))
    }
}

impl fmt::Display for Instrument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id.as_str())
    }
}

/// Why a symbol could not be read or mapped to a venue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SymbolError {
    /// The text is not one of the accepted forms.
    #[error("invalid symbol '{input}': {reason}; {ACCEPTED_SYMBOL_FORMS}")]
    Malformed {
        /// What the user typed.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The symbol is well formed but names nothing on this venue.
    #[error("symbol '{input}' has no {venue} instrument: {reason}")]
    NotOnVenue {
        /// What the user typed.
        input: String,
        /// The venue asked for.
        venue: Venue,
        /// Why it does not exist there.
        reason: String,
    },
}

/// The quote (and settlement) currency of a linear perpetual.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Quote {
    Usdt,
    Usdc,
}

impl Quote {
    fn as_str(self) -> &'static str {
        match self {
            Quote::Usdt => "USDT",
            Quote::Usdc => "USDC",
        }
    }

    fn parse(s: &str) -> Option<Quote> {
        match s.to_ascii_uppercase().as_str() {
            "USDT" => Some(Quote::Usdt),
            "USDC" => Some(Quote::Usdc),
            _ => None,
        }
    }
}

/// A symbol as the user typed it, read but not yet mapped to a venue.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SymbolInput {
    typed: String,
    kind: InputKind,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum InputKind {
    /// A base asset with an optional quote: the same market on every venue.
    Market { base: String, quote: Option<Quote> },
    /// A Hyperliquid builder-deployed perpetual `dex:COIN`.
    HyperliquidDex { dex: String, coin: String },
    /// A NautilusTrader instrument id, which names one venue.
    Pinned(Instrument),
}

impl SymbolInput {
    /// Reads one of the [`ACCEPTED_SYMBOL_FORMS`].
    pub fn parse(typed: &str) -> Result<SymbolInput, SymbolError> {
        let s = typed.trim();
        let malformed = |reason: &str| SymbolError::Malformed {
            input: typed.to_string(),
            reason: reason.to_string(),
        };
        if s.is_empty() {
            return Err(malformed("it is empty"));
        }
        if s.len() > 64 {
            return Err(malformed("it is longer than 64 characters"));
        }
        let kind = if s.contains('.') {
            InputKind::Pinned(Instrument::from_id(s).map_err(|e| match e {
                SymbolError::Malformed { reason, .. } => malformed(&reason),
                other => other,
            })?)
        } else if let Some((base, rest)) = s.split_once('/') {
            let (quote, settle) = rest.split_once(':').ok_or_else(|| {
                malformed(
                    "a ccxt symbol without ':SETTLE' is spot; perpetuals look like BTC/USDT:USDT",
                )
            })?;
            let quote = Quote::parse(quote)
                .ok_or_else(|| malformed("the ccxt quote must be USDT or USDC"))?;
            if Quote::parse(settle) != Some(quote) {
                return Err(malformed(
                    "only linear perpetuals settled in their quote currency are collected (BTC/USDT:USDT)",
                ));
            }
            match base.split_once('-') {
                // ccxt writes Hyperliquid builder-dex markets as DEX-COIN/USDC:USDC.
                Some((dex, coin)) if is_alnum(dex) && is_alnum(coin) => InputKind::HyperliquidDex {
                    dex: dex.to_ascii_lowercase(),
                    coin: coin.to_string(),
                },
                _ => InputKind::Market {
                    base: market_base(base)
                        .ok_or_else(|| malformed("the base currency must be letters and digits"))?,
                    quote: Some(quote),
                },
            }
        } else if let Some((dex, coin)) = s.split_once(':') {
            if !is_dex(dex) || !is_alnum(coin) {
                return Err(malformed(
                    "Hyperliquid builder-dex symbols look like xyz:TSLA (lowercase dex, then the coin)",
                ));
            }
            InputKind::HyperliquidDex {
                dex: dex.to_string(),
                coin: coin.to_string(),
            }
        } else if let Some((base, quote)) = okx_parse_native(s) {
            // OKX's native form BTC-USDT-SWAP (TEMP glue).
            InputKind::Market {
                base,
                quote: Some(quote),
            }
        } else if s.to_ascii_uppercase().ends_with("-SWAP") {
            return Err(malformed(
                "OKX swaps look like BTC-USDT-SWAP or BTC-USDC-SWAP (coin-margined (inverse) swaps are not collected)",
            ));
        } else if let Some(stem) = s.to_ascii_uppercase().strip_suffix("-PERP") {
            let (base, quote) = split_quote(stem).ok_or_else(|| {
                malformed("the -PERP form needs a USDT or USDC quote, like BTCUSDT-PERP")
            })?;
            InputKind::Market {
                base,
                quote: Some(quote),
            }
        } else if let Some(coin) = s.strip_prefix('k').filter(|c| is_upper_alnum(c)) {
            // Hyperliquid's k-coins are its 1000-unit contracts (kPEPE = 1000PEPE elsewhere).
            InputKind::Market {
                base: format!("1000{coin}"),
                quote: None,
            }
        } else {
            let upper = s.to_ascii_uppercase();
            if !is_upper_alnum(&upper) {
                return Err(malformed(
                    "it contains characters other than letters and digits",
                ));
            }
            if let Some((base, quote)) = split_quote(&upper) {
                InputKind::Market {
                    base,
                    quote: Some(quote),
                }
            } else if let Some(base) = upper.strip_suffix("PERP").filter(|b| !b.is_empty()) {
                // Bybit names its USDC perpetuals BTCPERP.
                InputKind::Market {
                    base: base.to_string(),
                    quote: Some(Quote::Usdc),
                }
            } else if upper.len() > 3 && upper.ends_with("USD") {
                return Err(malformed(
                    "coin-margined (inverse) contracts are not collected; use BTCUSDT or BTC/USDT:USDT",
                ));
            } else {
                InputKind::Market {
                    base: upper,
                    quote: None,
                }
            }
        };
        Ok(SymbolInput {
            typed: typed.to_string(),
            kind,
        })
    }

    /// The text the user typed.
    pub fn typed(&self) -> &str {
        &self.typed
    }

    /// The venue a NautilusTrader id names, if the user typed one.
    pub fn pinned_venue(&self) -> Option<Venue> {
        match &self.kind {
            InputKind::Pinned(instrument) => Some(instrument.venue),
            InputKind::HyperliquidDex { .. } => Some(Venue::Hyperliquid),
            InputKind::Market { .. } => None,
        }
    }

    /// The instrument this symbol names on `venue`.
    pub fn resolve(&self, venue: Venue) -> Result<Instrument, SymbolError> {
        let not_on = |reason: String| SymbolError::NotOnVenue {
            input: self.typed.clone(),
            venue,
            reason,
        };
        match &self.kind {
            InputKind::Market { base, quote } => {
                let quote = quote.unwrap_or(Quote::Usdt);
                let native = match (venue, quote) {
                    (Venue::Binance, q) => format!("{base}{}", q.as_str()),
                    (Venue::Bybit, Quote::Usdt) => format!("{base}USDT"),
                    (Venue::Bybit, Quote::Usdc) => format!("{base}PERP"),
                    (Venue::Hyperliquid, _) => hyperliquid_coin(base),
                    (Venue::Okx, q) => format!("{}-{}-SWAP", okx_base(base), q.as_str()),
                };
                Ok(Instrument::new(venue, native))
            }
            InputKind::HyperliquidDex { dex, coin } => match venue {
                Venue::Hyperliquid => Ok(Instrument::new(venue, format!("{dex}:{coin}"))),
                _ => Err(not_on(
                    "builder-dex symbols (dex:COIN) exist only on hyperliquid".into(),
                )),
            },
            InputKind::Pinned(instrument) if instrument.venue == venue => Ok(instrument.clone()),
            InputKind::Pinned(instrument) => Err(not_on(format!(
                "it is a {} instrument id",
                instrument.venue
            ))),
        }
    }
}

/// Splits `BTCUSDT` into (`BTC`, USDT).
fn split_quote(upper: &str) -> Option<(String, Quote)> {
    [Quote::Usdt, Quote::Usdc].into_iter().find_map(|q| {
        upper
            .strip_suffix(q.as_str())
            .filter(|base| !base.is_empty() && is_upper_alnum(base))
            .map(|base| (base.to_string(), q))
    })
}

/// The canonical base asset of a ccxt base (`BTC`, `1000PEPE`; Hyperliquid's `kPEPE` → `1000PEPE`).
fn market_base(base: &str) -> Option<String> {
    if let Some(coin) = base.strip_prefix('k').filter(|c| is_upper_alnum(c)) {
        return Some(format!("1000{coin}"));
    }
    let upper = base.to_ascii_uppercase();
    is_upper_alnum(&upper).then_some(upper)
}

/// Hyperliquid's coin for a base asset: `1000PEPE` → `kPEPE`, otherwise unchanged.
fn hyperliquid_coin(base: &str) -> String {
    match base.strip_prefix("1000") {
        Some(rest) if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_uppercase()) => {
            format!("k{rest}")
        }
        _ => base.to_string(),
    }
}

/// OKX's base for a canonical base (`1000PEPE` → `PEPE`): TEMP glue, a copy of
/// `ccxt_okx::symbol::okx_base`.
fn okx_base(base: &str) -> &str {
    match base.strip_prefix("1000") {
        Some(rest) if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_uppercase()) => rest,
        _ => base,
    }
}

/// OKX's native linear swap `BTC-USDT-SWAP` as (base, quote): TEMP glue, a copy of
/// `ccxt_okx::symbol::parse_native`.
fn okx_parse_native(s: &str) -> Option<(String, Quote)> {
    let upper = s.trim().to_ascii_uppercase();
    let (base, quote) = upper.strip_suffix("-SWAP")?.split_once('-')?;
    (is_upper_alnum(base))
        .then_some(())
        .and(Quote::parse(quote))
        .map(|q| (base.to_string(), q))
}

fn is_alnum(s: &str) -> bool {
    !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn is_upper_alnum(s: &str) -> bool {
    is_alnum(s) && !s.bytes().any(|b| b.is_ascii_lowercase())
}

fn is_dex(s: &str) -> bool {
    is_alnum(s) && !s.bytes().any(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(typed: &str) -> Vec<String> {
        let input = SymbolInput::parse(typed).unwrap();
        Venue::ALL
            .into_iter()
            .map(|v| match input.resolve(v) {
                Ok(i) => format!("{}={}", i.native, i.id),
                Err(_) => "-".to_string(),
            })
            .collect()
    }

    #[test]
    fn seed_native_and_ccxt_forms_name_the_same_instruments() {
        let expected = [
            "BTCUSDT=BTCUSDT-PERP.BINANCE",
            "BTCUSDT=BTCUSDT-LINEAR.BYBIT",
            "BTC=BTC-USD-PERP.HYPERLIQUID",
            "BTC-USDT-SWAP=BTC-USDT-SWAP.OKX",
        ];
        for typed in [
            "BTCUSDT-PERP",
            "BTC-USDT-SWAP",
            "btcusdt-perp",
            "BTCUSDT",
            "BTC/USDT:USDT",
            "BTC",
            " BTCUSDT ",
        ] {
            assert_eq!(ids(typed), expected, "{typed}");
        }
    }

    #[test]
    fn usdc_markets_map_to_each_venues_usdc_contract() {
        let expected = [
            "BTCUSDC=BTCUSDC-PERP.BINANCE",
            "BTCPERP=BTCPERP-LINEAR.BYBIT",
            "BTC=BTC-USD-PERP.HYPERLIQUID",
            "BTC-USDC-SWAP=BTC-USDC-SWAP.OKX",
        ];
        for typed in [
            "BTC/USDC:USDC",
            "BTCUSDC-PERP",
            "BTCUSDC",
            "BTCPERP",
            "btc-usdc-swap",
        ] {
            assert_eq!(ids(typed), expected, "{typed}");
        }
    }

    #[test]
    fn thousand_unit_contracts_map_to_hyperliquid_k_coins() {
        let expected = [
            "1000PEPEUSDT=1000PEPEUSDT-PERP.BINANCE",
            "1000PEPEUSDT=1000PEPEUSDT-LINEAR.BYBIT",
            "kPEPE=kPEPE-USD-PERP.HYPERLIQUID",
            "PEPE-USDT-SWAP=PEPE-USDT-SWAP.OKX",
        ];
        for typed in [
            "1000PEPEUSDT-PERP",
            "kPEPE",
            "1000PEPEUSDT",
            "kPEPE/USDT:USDT",
        ] {
            assert_eq!(ids(typed), expected, "{typed}");
        }
    }

    #[test]
    fn builder_dex_symbols_get_a_colon_free_id_and_only_exist_on_hyperliquid() {
        assert_eq!(
            ids("xyz:TSLA"),
            ["-", "-", "xyz:TSLA=xyz_TSLA-USD-PERP.HYPERLIQUID", "-"]
        );
        assert_eq!(ids("XYZ-TSLA/USDC:USDC"), ids("xyz:TSLA"));
        let input = SymbolInput::parse("xyz:TSLA").unwrap();
        assert_eq!(input.pinned_venue(), Some(Venue::Hyperliquid));
        let err = input.resolve(Venue::Binance).unwrap_err().to_string();
        assert!(err.contains("exist only on hyperliquid"), "{err}");
    }

    #[test]
    fn nautilus_ids_pin_their_venue_and_round_trip() {
        for id in [
            "BTCUSDT-PERP.BINANCE",
            "BTCUSDT-LINEAR.BYBIT",
            "BTC-USD-PERP.HYPERLIQUID",
            "xyz_TSLA-USD-PERP.HYPERLIQUID",
            "kPEPE-USD-PERP.HYPERLIQUID",
            "BTC-USDT-SWAP.OKX",
        ] {
            let input = SymbolInput::parse(id).unwrap();
            let venue = input.pinned_venue().unwrap();
            let instrument = input.resolve(venue).unwrap();
            assert_eq!(instrument.id.as_str(), id);
            assert_eq!(Instrument::from_id(id).unwrap(), instrument);
            let other = Venue::ALL.into_iter().find(|v| *v != venue).unwrap();
            assert!(matches!(
                input.resolve(other),
                Err(SymbolError::NotOnVenue { .. })
            ));
        }
        assert_eq!(
            Instrument::from_id("xyz_TSLA-USD-PERP.HYPERLIQUID")
                .unwrap()
                .native,
            "xyz:TSLA"
        );
    }

    #[test]
    fn malformed_symbols_list_the_accepted_forms() {
        for (typed, why) in [
            ("", "empty"),
            ("BTC-PERP", "USDT or USDC quote"),
            ("BTC/USDT", "spot"),
            ("BTC/USD:BTC", "USDT or USDC"),
            ("BTC/USDT:USDC", "settled in their quote"),
            ("BTC USDT", "letters and digits"),
            ("BTCUSD", "inverse"),
            ("BTCUSDT.KRAKEN", "BINANCE, BYBIT, HYPERLIQUID or OKX"),
            ("BTCUSDT-PERP.OKX", "BTC-USDT-SWAP.OKX"),
            ("BTC-USD-SWAP", "inverse"),
            ("BTCUSDT.BINANCE", "BTCUSDT-PERP.BINANCE"),
            ("XYZ:tsla", "builder-dex"),
            ("ETH€", "letters and digits"),
        ] {
            let err = SymbolInput::parse(typed).unwrap_err().to_string();
            assert!(err.contains(why), "{typed}: {err}");
            assert!(err.contains("accepted forms"), "{typed}: {err}");
            assert!(!err.contains('\n'));
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            let _ = SymbolInput::parse(&s).map(|i| Venue::ALL.map(|v| i.resolve(v)));
            let _ = Instrument::from_id(&s);
        }

        #[test]
        fn every_resolved_id_reads_back(base in "[A-Z][A-Z0-9]{0,9}", usdc in proptest::bool::ANY) {
            let typed = format!("{base}{}-PERP", if usdc { "USDC" } else { "USDT" });
            let input = SymbolInput::parse(&typed).unwrap();
            for v in Venue::ALL {
                let instrument = input.resolve(v).unwrap();
                proptest::prop_assert_eq!(Instrument::from_id(instrument.id.as_str()).unwrap(), instrument);
            }
        }
    }
}
