//! Symbols as users type them, and the instruments they name on each venue.
//!
//! Users type one of four forms (see [`accepted_symbol_forms`]); [`SymbolInput::parse`] reads
//! it and [`SymbolInput::resolve`] maps it to a venue's native symbol and to the
//! NautilusTrader instrument id under which the catalog stores its data. The generic forms
//! (`BTCUSDT-PERP`, `BTCUSDT`, `BTC`, ccxt `BTC/USDT:USDT`, NautilusTrader ids) are read here;
//! each venue's [`VenueGrammar`](crate::VenueGrammar) maps them to its symbols and recognises
//! its own forms (the table of each venue's forms is in the README and in each venue crate).

use std::fmt;
use std::sync::Arc;

use crate::Venue;
use crate::venue;

/// What the error for a malformed symbol lists as valid input, with the installed venues'
/// examples: "accepted forms: BTCUSDT-PERP, a venue symbol (BTCUSDT, Hyperliquid BTC or
/// xyz:TSLA), a ccxt symbol (…) or a NautilusTrader id (BTCUSDT-PERP.BINANCE, …)".
pub fn accepted_symbol_forms() -> String {
    let venues = venue::all();
    let mut natives = vec!["BTCUSDT"];
    natives.extend(
        venues
            .iter()
            .map(|v| v.grammar().native_examples())
            .filter(|e| !e.is_empty()),
    );
    let btc = Market {
        base: "BTC".to_string(),
        quote: Quote::Usdt,
    };
    let ids: Vec<String> = venues
        .iter()
        .filter_map(|v| {
            let native = v.grammar().market_native(&btc).ok()?;
            Some(format!(
                "{}.{}",
                v.grammar().id_symbol(&native),
                v.nautilus_venue()
            ))
        })
        .collect();
    let ids = if ids.is_empty() {
        "none: no venues are registered".to_string()
    } else {
        ids.join(", ")
    };
    format!(
        "accepted forms: BTCUSDT-PERP, a venue symbol ({}), a ccxt symbol (BTC/USDT:USDT, \
BTC/USDC:USDC) or a NautilusTrader id ({ids})",
        natives.join(", ")
    )
}

/// `a, b or c`.
fn or_list<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [rest @ .., last] => format!(
            "{} or {}",
            rest.iter()
                .map(AsRef::as_ref)
                .collect::<Vec<_>>()
                .join(", "),
            last.as_ref()
        ),
    }
}

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

    /// The installed venue named after the last `.` (`BINANCE` in `BTCUSDT-PERP.BINANCE`),
    /// without reading the symbol before it (see [`Instrument::from_id`] for that) and without
    /// allocating.
    pub fn venue(&self) -> Option<Venue> {
        let (_, code) = self.0.rsplit_once('.')?;
        Venue::from_nautilus_venue(code)
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

    /// The instrument `venue` lists as `native`, if it can be named in the catalog: its
    /// instrument id must read back to the same native symbol (so `btcusdt`, `BTC-26DEC25` or
    /// symbols with characters other than ASCII letters and digits give `None`).
    pub fn from_native_checked(venue: Venue, native: &str) -> Option<Self> {
        let instrument = Instrument::new(venue, native.to_string());
        let symbol = venue.grammar().id_symbol(native);
        let back = venue.grammar().native_of_id(&symbol).ok()?;
        (back == native).then_some(instrument)
    }

    fn new(venue: Venue, native: String) -> Self {
        let symbol = venue.grammar().id_symbol(&native);
        let id = InstrumentId::new_unchecked(format!("{symbol}.{}", venue.nautilus_venue()));
        Instrument { venue, native, id }
    }

    /// Reads a NautilusTrader instrument id of one of the installed venues
    /// (`BTCUSDT-PERP.BINANCE`, `BTC-USD-PERP.HYPERLIQUID`, …).
    pub fn from_id(id: &str) -> Result<Instrument, SymbolError> {
        let malformed = |reason: &str| SymbolError::Malformed {
            input: id.to_string(),
            reason: reason.to_string(),
        };
        let (symbol, code) = id
            .rsplit_once('.')
            .ok_or_else(|| malformed(&format!("an instrument id looks like {}", example_id())))?;
        let venue = Venue::from_nautilus_venue(code).ok_or_else(|| {
            let codes: Vec<&str> = venue::all().iter().map(|v| v.nautilus_venue()).collect();
            if codes.is_empty() {
                malformed("no venues are registered")
            } else {
                malformed(&format!("the venue after '.' must be {}", or_list(&codes)))
            }
        })?;
        let native = venue
            .grammar()
            .native_of_id(symbol)
            .map_err(|reason| malformed(&reason))?;
        Ok(Instrument::new(venue, native))
    }
}

/// The first installed venue's id of BTC/USDT (`BTCUSDT-PERP.BINANCE`).
fn example_id() -> String {
    let btc = Market {
        base: "BTC".to_string(),
        quote: Quote::Usdt,
    };
    venue::all()
        .iter()
        .find_map(|v| {
            let native = v.grammar().market_native(&btc).ok()?;
            Some(format!(
                "{}.{}",
                v.grammar().id_symbol(&native),
                v.nautilus_venue()
            ))
        })
        .unwrap_or_else(|| "SYMBOL.VENUE".to_string())
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
    #[error("invalid symbol '{input}': {reason}; {}", accepted_symbol_forms())]
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
pub enum Quote {
    /// Tether.
    Usdt,
    /// USD Coin.
    Usdc,
}

impl Quote {
    /// `USDT` or `USDC`.
    pub fn as_str(self) -> &'static str {
        match self {
            Quote::Usdt => "USDT",
            Quote::Usdc => "USDC",
        }
    }

    /// Reads `usdt`/`USDC` (any case).
    pub fn parse(s: &str) -> Option<Quote> {
        match s.to_ascii_uppercase().as_str() {
            "USDT" => Some(Quote::Usdt),
            "USDC" => Some(Quote::Usdc),
            _ => None,
        }
    }
}

/// A canonical market: a base asset (`BTC`, `1000PEPE` for 1000-unit contracts) and the quote
/// of its linear perpetual. The same market on every venue.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Market {
    /// The upper-case base asset (`BTC`, `1000PEPE`).
    pub base: String,
    /// The quote (and settlement) currency; USDT when the user typed none.
    pub quote: Quote,
}

/// A venue's own symbol form, as a [`VenueGrammar`](crate::VenueGrammar) recognises it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NativeForm {
    /// A market every venue may list (Hyperliquid `kPEPE` = `1000PEPE`, Bybit `BTCPERP` =
    /// BTC/USDC); `quote: None` when the form does not say.
    Market {
        /// The upper-case base asset.
        base: String,
        /// The quote, if the form names one.
        quote: Option<Quote>,
    },
    /// An instrument only the recognising venue lists (Hyperliquid `xyz:TSLA`).
    Listed {
        /// Its native symbol.
        native: String,
        /// Why other venues have no such instrument ("builder-dex symbols (dex:COIN) exist
        /// only on hyperliquid").
        elsewhere: String,
    },
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
    /// An instrument of one venue (a NautilusTrader id, or a venue-only form), and why other
    /// venues have none.
    Pinned {
        instrument: Instrument,
        elsewhere: String,
    },
}

impl InputKind {
    fn of_form(venue: Venue, form: NativeForm) -> InputKind {
        match form {
            NativeForm::Market { base, quote } => InputKind::Market { base, quote },
            NativeForm::Listed { native, elsewhere } => InputKind::Pinned {
                instrument: Instrument::new(venue, native),
                elsewhere,
            },
        }
    }
}

/// The first installed venue's answer to `ask`, with the venue.
fn first_venue<T>(ask: impl Fn(&dyn crate::VenueGrammar) -> Option<T>) -> Option<(Venue, T)> {
    venue::all()
        .iter()
        .find_map(|v| ask(v.grammar()).map(|t| (*v, t)))
}

impl SymbolInput {
    /// Reads one of the [`accepted_symbol_forms`].
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
        if venue::all().is_empty() {
            return Err(malformed("no venues are registered"));
        }
        let kind = if s.contains('.') {
            let instrument = Instrument::from_id(s).map_err(|e| match e {
                SymbolError::Malformed { reason, .. } => malformed(&reason),
                other => other,
            })?;
            let elsewhere = format!("it is a {} instrument id", instrument.venue);
            InputKind::Pinned {
                instrument,
                elsewhere,
            }
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
            match first_venue(|g| g.recognise_ccxt_base(base)) {
                Some((_, NativeForm::Market { base, .. })) => InputKind::Market {
                    base,
                    quote: Some(quote),
                },
                Some((venue, form)) => InputKind::of_form(venue, form),
                None => {
                    let upper = base.to_ascii_uppercase();
                    if !is_upper_alnum(&upper) {
                        return Err(malformed("the base currency must be letters and digits"));
                    }
                    InputKind::Market {
                        base: upper,
                        quote: Some(quote),
                    }
                }
            }
        } else if let Some((venue, form)) = first_venue(|g| g.recognise(s)) {
            InputKind::of_form(venue, form.map_err(|reason| malformed(&reason))?)
        } else if let Some(stem) = s.to_ascii_uppercase().strip_suffix("-PERP") {
            let (base, quote) = split_quote(stem).ok_or_else(|| {
                malformed("the -PERP form needs a USDT or USDC quote, like BTCUSDT-PERP")
            })?;
            InputKind::Market {
                base,
                quote: Some(quote),
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
            } else if let Some((venue, form)) = first_venue(|g| g.recognise_unquoted(&upper)) {
                InputKind::of_form(venue, form)
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

    /// The venue the symbol names, if it names one (a NautilusTrader id, a venue-only form).
    pub fn pinned_venue(&self) -> Option<Venue> {
        match &self.kind {
            InputKind::Pinned { instrument, .. } => Some(instrument.venue),
            InputKind::Market { .. } => None,
        }
    }

    /// The base asset of a market symbol (`BTC` for `BTCUSDT`, Hyperliquid `BTC` and
    /// `BTC-USDT-SWAP`; `1000PEPE` for `1000PEPEUSDT` and Hyperliquid `kPEPE`); `None` for a
    /// symbol of one venue only (a NautilusTrader id, `xyz:TSLA`).
    pub fn base(&self) -> Option<&str> {
        match &self.kind {
            InputKind::Market { base, .. } => Some(base),
            InputKind::Pinned { .. } => None,
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
                let market = Market {
                    base: base.clone(),
                    quote: quote.unwrap_or(Quote::Usdt),
                };
                let native = venue.grammar().market_native(&market).map_err(not_on)?;
                Ok(Instrument::new(venue, native))
            }
            InputKind::Pinned { instrument, .. } if instrument.venue == venue => {
                Ok(instrument.clone())
            }
            InputKind::Pinned { elsewhere, .. } => Err(not_on(elsewhere.clone())),
        }
    }
}

/// Splits `BTCUSDT` into (`BTC`, USDT).
pub fn split_quote(upper: &str) -> Option<(String, Quote)> {
    [Quote::Usdt, Quote::Usdc].into_iter().find_map(|q| {
        upper
            .strip_suffix(q.as_str())
            .filter(|base| !base.is_empty() && is_upper_alnum(base))
            .map(|base| (base.to_string(), q))
    })
}

/// Whether `s` is 1 to 40 ASCII letters and digits.
pub fn is_alnum(s: &str) -> bool {
    !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// [`is_alnum`] without lower-case letters.
pub fn is_upper_alnum(s: &str) -> bool {
    is_alnum(s) && !s.bytes().any(|b| b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ALPHA, BETA, install_test_venues};

    fn ids(typed: &str) -> Vec<String> {
        install_test_venues();
        let input = SymbolInput::parse(typed).unwrap();
        venue::all()
            .iter()
            .map(|v| match input.resolve(*v) {
                Ok(i) => format!("{}={}", i.native, i.id),
                Err(_) => "-".to_string(),
            })
            .collect()
    }

    #[test]
    fn generic_forms_name_the_same_market_on_every_venue() {
        let expected = ["BTCUSDT=BTCUSDT-PERP.ALPHA", "BTC=BTC-USD.BETA"];
        for typed in [
            "BTCUSDT-PERP",
            "btcusdt-perp",
            "BTCUSDT",
            "BTC/USDT:USDT",
            "BTC",
            " BTCUSDT ",
        ] {
            assert_eq!(ids(typed), expected, "{typed}");
        }
        assert_eq!(
            ids("ETH/USDC:USDC"),
            ["ETHUSDC=ETHUSDC-PERP.ALPHA", "ETH=ETH-USD.BETA"]
        );
    }

    #[test]
    fn venue_forms_come_from_the_grammars() {
        // BETA's own form `b~COIN`, unquoted `COINX` (= USDC) and ccxt base `B-COIN`.
        assert_eq!(ids("b~TSLA"), ["-", "b~TSLA=b~TSLA-USD.BETA"]);
        assert_eq!(ids("B-TSLA/USDC:USDC"), ids("b~TSLA"));
        assert_eq!(
            ids("ETHX"),
            ["ETHUSDC=ETHUSDC-PERP.ALPHA", "ETH=ETH-USD.BETA"]
        );
        let input = SymbolInput::parse("b~TSLA").unwrap();
        assert_eq!(input.pinned_venue(), Some(BETA));
        let err = input.resolve(ALPHA).unwrap_err().to_string();
        assert_eq!(err, "symbol 'b~TSLA' has no alpha instrument: only on beta");
        let err = SymbolInput::parse("b~").unwrap_err().to_string();
        assert!(err.contains("beta symbols look like b~COIN"), "{err}");
    }

    #[test]
    fn nautilus_ids_pin_their_venue_and_round_trip() {
        for id in ["BTCUSDT-PERP.ALPHA", "BTC-USD.BETA", "b~TSLA-USD.BETA"] {
            let input = SymbolInput::parse(id).unwrap();
            let venue = input.pinned_venue().unwrap();
            let instrument = input.resolve(venue).unwrap();
            assert_eq!(instrument.id.as_str(), id);
            assert_eq!(Instrument::from_id(id).unwrap(), instrument);
            let other = venue::all().iter().copied().find(|v| *v != venue).unwrap();
            let err = input.resolve(other).unwrap_err().to_string();
            assert!(
                err.ends_with(&format!("it is a {venue} instrument id")),
                "{err}"
            );
        }
    }

    #[test]
    fn checked_natives_read_back() {
        install_test_venues();
        assert!(Instrument::from_native_checked(ALPHA, "BTCUSDT").is_some());
        assert_eq!(Instrument::from_native_checked(ALPHA, "btcusdt"), None);
        assert_eq!(Instrument::from_native_checked(ALPHA, "BTC-26DEC25"), None);
    }

    #[test]
    fn malformed_symbols_list_the_accepted_forms_of_the_installed_venues() {
        install_test_venues();
        for (typed, why) in [
            ("", "empty"),
            ("BTC-PERP", "USDT or USDC quote"),
            ("BTC/USDT", "spot"),
            ("BTC/USD:BTC", "USDT or USDC"),
            ("BTC/USDT:USDC", "settled in their quote"),
            ("BTC USDT", "letters and digits"),
            ("BTCUSD", "inverse"),
            ("BTCUSDT.OKX", "the venue after '.' must be ALPHA or BETA"),
            ("BTCUSDT.ALPHA", "alpha ids look like BTCUSDT-PERP.ALPHA"),
            ("ETH€", "letters and digits"),
        ] {
            let err = SymbolInput::parse(typed).unwrap_err().to_string();
            assert!(err.contains(why), "{typed}: {err}");
            assert!(
                err.ends_with(
                    "accepted forms: BTCUSDT-PERP, a venue symbol (BTCUSDT, beta b~TSLA), a ccxt \
symbol (BTC/USDT:USDT, BTC/USDC:USDC) or a NautilusTrader id (BTCUSDT-PERP.ALPHA, BTC-USD.BETA)"
                ),
                "{typed}: {err}"
            );
            assert!(!err.contains('\n'));
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            install_test_venues();
            let _ = SymbolInput::parse(&s).map(|i| venue::all().iter().map(|v| i.resolve(*v)).collect::<Vec<_>>());
            let _ = Instrument::from_id(&s);
        }

        #[test]
        fn every_resolved_id_reads_back(base in "[A-Z][A-Z0-9]{0,9}", usdc in proptest::bool::ANY) {
            install_test_venues();
            let typed = format!("{base}{}-PERP", if usdc { "USDC" } else { "USDT" });
            let input = SymbolInput::parse(&typed).unwrap();
            for v in venue::all() {
                let instrument = input.resolve(*v).unwrap();
                proptest::prop_assert_eq!(Instrument::from_id(instrument.id.as_str()).unwrap(), instrument);
            }
        }
    }
}
