//! The venues ccxt-pipeline collects from.
//!
//! This crate names no venue. Each venue crate describes its identity and symbol grammar with a
//! [`VenueGrammar`] and exports a [`Venue`] handle to it (`ccxt_binance::VENUE`, …); the binary
//! installs the venues it was built with once at start-up ([`install`]), and name look-ups
//! ([`Venue::from_str`], [`crate::Instrument::from_id`], [`crate::SymbolInput::parse`]) search
//! the installed list ([`all`]).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::OnceLock;

use crate::symbol::{Market, NativeForm};

/// What a venue crate says about its identity and the symbols it lists.
///
/// The generic symbol forms (`BTCUSDT-PERP`, `BTCUSDT`, `BTC`, ccxt `BTC/USDT:USDT`,
/// NautilusTrader ids) are read by [`crate::SymbolInput::parse`]; a grammar maps them to the
/// venue's native symbols and ids, and recognises the venue's own forms the generic parser
/// cannot know.
pub trait VenueGrammar: Send + Sync + 'static {
    /// The lowercase name users type (`-e binance`) and that the output shows.
    fn name(&self) -> &'static str;

    /// The venue part of a NautilusTrader instrument id (`BINANCE` in `BTCUSDT-PERP.BINANCE`).
    fn nautilus_venue(&self) -> &'static str;

    /// The symbol part of the instrument id of native symbol `native` (`BTCUSDT` →
    /// `BTCUSDT-PERP`).
    fn id_symbol(&self, native: &str) -> String;

    /// The native symbol of an id's symbol part (`BTCUSDT-PERP` → `BTCUSDT`), or a one-line
    /// reason ("Binance ids look like BTCUSDT-PERP.BINANCE").
    fn native_of_id(&self, symbol: &str) -> Result<String, String>;

    /// The native symbol `market` names on this venue, or why it names nothing there.
    fn market_native(&self, market: &Market) -> Result<String, String>;

    /// Examples of its own native forms for the list of accepted forms ("Hyperliquid BTC or
    /// xyz:TSLA"); empty when its symbols look like the generic `BTCUSDT`.
    fn native_examples(&self) -> &'static str {
        ""
    }

    /// One of the venue's own forms, tried before the generic forms on a typed symbol that is
    /// neither an instrument id nor a ccxt symbol (Hyperliquid `kPEPE`, `xyz:TSLA`). `None`: not
    /// this venue's form; `Some(Err(reason))`: the venue's form, malformed.
    fn recognise(&self, _typed: &str) -> Option<Result<NativeForm, String>> {
        None
    }

    /// One of the venue's own forms among upper-case symbols without a USDT/USDC quote suffix,
    /// tried after the generic forms (Bybit `BTCPERP` = the USDC perpetual).
    fn recognise_unquoted(&self, _upper: &str) -> Option<NativeForm> {
        None
    }

    /// The venue's own reading of the base of a ccxt symbol (Hyperliquid `kPEPE`, its
    /// builder-dex markets `XYZ-TSLA`); a [`NativeForm::Market`] takes the ccxt quote.
    fn recognise_ccxt_base(&self, _base: &str) -> Option<NativeForm> {
        None
    }
}

/// A derivatives venue: a cheap handle to its crate's [`VenueGrammar`].
///
/// Equality, order and hashing go by [`Venue::as_str`], so venues sort alphabetically.
#[derive(Clone, Copy)]
pub struct Venue(&'static dyn VenueGrammar);

impl Venue {
    /// The handle of `grammar` (each venue crate has one: `pub const VENUE: Venue`).
    pub const fn new(grammar: &'static dyn VenueGrammar) -> Venue {
        Venue(grammar)
    }

    /// The lowercase name users type (`-e binance`) and that the output shows.
    pub fn as_str(self) -> &'static str {
        self.0.name()
    }

    /// The venue part of a NautilusTrader instrument id (`BTCUSDT-PERP.BINANCE`).
    pub fn nautilus_venue(self) -> &'static str {
        self.0.nautilus_venue()
    }

    /// Its symbol grammar.
    pub fn grammar(self) -> &'static dyn VenueGrammar {
        self.0
    }

    /// The installed venue whose NautilusTrader venue code is `code` (`BINANCE`, `BYBIT`, …).
    pub fn from_nautilus_venue(code: &str) -> Option<Venue> {
        all()
            .iter()
            .copied()
            .find(|v| v.nautilus_venue().eq_ignore_ascii_case(code))
    }
}

impl PartialEq for Venue {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Venue {}

impl PartialOrd for Venue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Venue {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Venue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Venue {
    /// `Binance`: the name with a capital first letter.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.as_str();
        let mut chars = name.chars();
        if let Some(first) = chars.next() {
            write!(f, "{}{}", first.to_ascii_uppercase(), chars.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Display for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

static INSTALLED: OnceLock<Vec<Venue>> = OnceLock::new();

/// Why [`install`] refused a list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstallError {
    /// A different list was installed first.
    #[error("venues already installed ({installed}); cannot install {asked}")]
    AlreadyInstalled {
        /// The installed names.
        installed: String,
        /// The names asked for.
        asked: String,
    },
    /// Two venues share a name or a NautilusTrader venue code.
    #[error("venue '{0}' is listed twice (by name or NautilusTrader code)")]
    Duplicate(String),
}

/// Installs the venues name look-ups search, in display order. The first call wins; later
/// calls with the same list succeed and do nothing.
pub fn install(venues: &[Venue]) -> Result<(), InstallError> {
    for (i, v) in venues.iter().enumerate() {
        if venues[..i]
            .iter()
            .any(|w| w == v || w.nautilus_venue().eq_ignore_ascii_case(v.nautilus_venue()))
        {
            return Err(InstallError::Duplicate(v.as_str().to_string()));
        }
    }
    let installed = INSTALLED.get_or_init(|| venues.to_vec());
    if installed.as_slice() == venues {
        Ok(())
    } else {
        Err(InstallError::AlreadyInstalled {
            installed: names(installed),
            asked: names(venues),
        })
    }
}

/// The installed venues, in install order (empty before [`install`]).
pub fn all() -> &'static [Venue] {
    INSTALLED.get().map_or(&[], Vec::as_slice)
}

/// `binance, bybit, hyperliquid`: the installed names, for error messages.
pub fn valid_names() -> String {
    names(all())
}

fn names(venues: &[Venue]) -> String {
    if venues.is_empty() {
        return "none (no venues are registered)".to_string();
    }
    venues
        .iter()
        .map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The error for a venue name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown venue '{name}': valid venues are {valid}")]
pub struct UnknownVenue {
    /// What was asked for.
    pub name: String,
    /// The installed names.
    pub valid: String,
}

impl UnknownVenue {
    /// The error for `name`, listing the installed venues.
    pub fn new(name: impl Into<String>) -> UnknownVenue {
        UnknownVenue {
            name: name.into(),
            valid: valid_names(),
        }
    }
}

impl FromStr for Venue {
    type Err = UnknownVenue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        all()
            .iter()
            .copied()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownVenue::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ALPHA, BETA, install_test_venues};

    #[test]
    fn parses_installed_names_case_insensitively() {
        install_test_venues();
        assert_eq!("Alpha".parse::<Venue>(), Ok(ALPHA));
        assert_eq!(" beta ".parse::<Venue>(), Ok(BETA));
        let err = "okx".parse::<Venue>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown venue 'okx': valid venues are alpha, beta"
        );
    }

    #[test]
    fn nautilus_codes_round_trip() {
        install_test_venues();
        for v in all() {
            assert_eq!(Venue::from_nautilus_venue(v.nautilus_venue()), Some(*v));
        }
        assert_eq!(Venue::from_nautilus_venue("OKX"), None);
    }

    #[test]
    fn handles_compare_by_name_and_install_is_idempotent() {
        install_test_venues();
        assert!(ALPHA < BETA);
        assert_eq!(format!("{ALPHA:?} {BETA}"), "Alpha beta");
        assert_eq!(install(&[ALPHA, BETA]), Ok(()));
        assert!(matches!(
            install(&[BETA]),
            Err(InstallError::AlreadyInstalled { .. })
        ));
        assert!(matches!(
            install(&[ALPHA, ALPHA]),
            Err(InstallError::Duplicate(_))
        ));
    }
}
