//! OKX's identity and symbol grammar ([`VENUE`], [`OkxGrammar`]) and the plain functions it is
//! made of.
//!
//! | form | example |
//! |---|---|
//! | native `instId` (USDT- or USDC-margined linear swap) | `BTC-USDT-SWAP`, `BTC-USDC-SWAP` |
//! | canonical market (base + quote) | `BTCUSDT-PERP`, `BTC/USDT:USDT` → `BTC` + `USDT` → `BTC-USDT-SWAP` |
//! | NautilusTrader instrument id (as its OKX adapter spells it) | `BTC-USDT-SWAP.OKX` |
//!
//! NautilusTrader's OKX adapter uses the raw `instId` as the symbol and `OKX` as the venue
//! (`InstrumentId::from("BTC-USDT-SWAP.OKX")`), so data stored here lines up with data its own
//! adapter writes.
//!
//! **1000-unit markets.** Binance and Bybit list some small coins per 1000 (`1000PEPEUSDT`,
//! priced per 1000 PEPE); OKX lists them per coin (`PEPE-USDT-SWAP`, `ctVal` 10,000,000 PEPE,
//! priced per PEPE). `1000PEPEUSDT-PERP` names the *market* (PEPE against USDT), so on OKX it
//! resolves to `PEPE-USDT-SWAP`, as it resolves to `kPEPE` on Hyperliquid: the rows stored
//! under `PEPE-USDT-SWAP.OKX` are OKX's own, priced per PEPE and sized in PEPE, never mixed
//! with Binance's per-1000 prices (each instrument id has its own directory). The rule: a base
//! `1000X` where `X` is only letters drops the `1000` (`1000SATS` → `SATS`); other bases are
//! unchanged (`1INCH` stays `1INCH`).

use ccxt_model::{Market, NativeForm, Quote, Venue, VenueGrammar};

/// OKX perpetual swaps.
pub const VENUE: Venue = Venue::new(&OkxGrammar);

/// OKX's [`VenueGrammar`]: native `BTC-USDT-SWAP`, id `BTC-USDT-SWAP.OKX`.
#[derive(Debug, Clone, Copy)]
pub struct OkxGrammar;

impl VenueGrammar for OkxGrammar {
    fn name(&self) -> &'static str {
        "okx"
    }

    fn nautilus_venue(&self) -> &'static str {
        NAUTILUS_VENUE
    }

    /// NautilusTrader's OKX adapter uses the `instId` itself as the symbol.
    fn id_symbol(&self, native: &str) -> String {
        native.to_string()
    }

    fn native_of_id(&self, symbol: &str) -> Result<String, String> {
        parse_native(symbol)
            .map(|(base, quote)| format!("{base}-{quote}{SWAP_SUFFIX}"))
            .ok_or_else(|| "OKX ids look like BTC-USDT-SWAP.OKX".to_string())
    }

    fn market_native(&self, market: &Market) -> Result<String, String> {
        Ok(native_symbol(&market.base, market.quote.as_str()))
    }

    fn native_examples(&self) -> &'static str {
        "OKX BTC-USDT-SWAP"
    }

    /// `BTC-USDT-SWAP` (any case) is the BTC/USDT market; another `…-SWAP` (the inverse
    /// `BTC-USD-SWAP`) is refused with what is collected.
    fn recognise(&self, typed: &str) -> Option<Result<NativeForm, String>> {
        if !typed.trim().to_ascii_uppercase().ends_with(SWAP_SUFFIX) {
            return None;
        }
        Some(
            parse_native(typed)
                .and_then(|(base, quote)| Some((base, Quote::parse(&quote)?)))
                .map(|(base, quote)| NativeForm::Market {
                    base,
                    quote: Some(quote),
                })
                .ok_or_else(|| {
                    "OKX swaps collected are USDT- or USDC-margined, like BTC-USDT-SWAP".to_string()
                }),
        )
    }
}

/// OKX's NautilusTrader venue code.
pub const NAUTILUS_VENUE: &str = "OKX";

/// The suffix of a perpetual swap's `instId`.
pub const SWAP_SUFFIX: &str = "-SWAP";

/// The quotes (= settlement currencies) of the linear swaps collected.
pub const QUOTES: [&str; 2] = ["USDT", "USDC"];

/// OKX's base currency for a canonical base asset: `1000PEPE` → `PEPE`, otherwise unchanged.
pub fn okx_base(base: &str) -> &str {
    match base.strip_prefix("1000") {
        Some(rest) if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_uppercase()) => rest,
        _ => base,
    }
}

/// The `instId` of the linear swap of canonical `base` against `quote` (`USDT`/`USDC`):
/// (`BTC`, `USDT`) → `BTC-USDT-SWAP`; (`1000PEPE`, `USDT`) → `PEPE-USDT-SWAP`.
pub fn native_symbol(base: &str, quote: &str) -> String {
    format!("{}-{quote}{SWAP_SUFFIX}", okx_base(base))
}

/// Reads a native linear-swap `instId` (`BTC-USDT-SWAP`, case-insensitive) into (base, quote),
/// upper-case; `None` for anything else (inverse `BTC-USD-SWAP`, futures, spot, `BTCUSDT`).
pub fn parse_native(s: &str) -> Option<(String, String)> {
    let (base, quote) = native_parts(s)?;
    Some((base.to_ascii_uppercase(), quote.to_string()))
}

/// Whether `s` is a native linear-swap `instId` [`parse_native`] reads (nothing allocated:
/// the liquidation stream asks this for every liquidation).
pub fn is_native(s: &str) -> bool {
    native_parts(s).is_some()
}

/// The base (as sent) and the quote of a native linear-swap `instId`, trimmed, compared
/// without regard to case.
fn native_parts(s: &str) -> Option<(&str, &'static str)> {
    let s = s.trim();
    let stem_len = s.len().checked_sub(SWAP_SUFFIX.len())?;
    if !s.get(stem_len..)?.eq_ignore_ascii_case(SWAP_SUFFIX) {
        return None;
    }
    let (base, quote) = s.get(..stem_len)?.split_once('-')?;
    let base_ok =
        !base.is_empty() && base.len() <= 40 && base.bytes().all(|b| b.is_ascii_alphanumeric());
    let quote = QUOTES.iter().find(|q| q.eq_ignore_ascii_case(quote))?;
    base_ok.then_some((base, quote))
}

/// The NautilusTrader instrument id of `inst_id`: `BTC-USDT-SWAP` → `BTC-USDT-SWAP.OKX`.
pub fn nautilus_id(inst_id: &str) -> String {
    format!("{inst_id}.{NAUTILUS_VENUE}")
}

/// The native `instId` of a NautilusTrader id (`BTC-USDT-SWAP.OKX` → `BTC-USDT-SWAP`), or
/// `None` when it is not an OKX linear-swap id.
pub fn native_of_id(id: &str) -> Option<String> {
    let (symbol, venue) = id.rsplit_once('.')?;
    if !venue.eq_ignore_ascii_case(NAUTILUS_VENUE) {
        return None;
    }
    let (base, quote) = parse_native(symbol)?;
    Some(format!("{base}-{quote}{SWAP_SUFFIX}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_markets_map_to_swaps() {
        assert_eq!(native_symbol("BTC", "USDT"), "BTC-USDT-SWAP");
        assert_eq!(native_symbol("ETH", "USDC"), "ETH-USDC-SWAP");
        assert_eq!(native_symbol("1000PEPE", "USDT"), "PEPE-USDT-SWAP");
        assert_eq!(native_symbol("1000SATS", "USDT"), "SATS-USDT-SWAP");
        assert_eq!(native_symbol("1INCH", "USDT"), "1INCH-USDT-SWAP");
        assert_eq!(native_symbol("1000", "USDT"), "1000-USDT-SWAP");
        assert_eq!(native_symbol("1000X2", "USDT"), "1000X2-USDT-SWAP");
    }

    #[test]
    fn native_forms_are_recognised() {
        let bq = |b: &str, q: &str| Some((b.to_string(), q.to_string()));
        assert_eq!(parse_native("BTC-USDT-SWAP"), bq("BTC", "USDT"));
        assert_eq!(parse_native("btc-usdc-swap"), bq("BTC", "USDC"));
        assert_eq!(parse_native("1INCH-USDT-SWAP"), bq("1INCH", "USDT"));
        for not in [
            "BTC-USD-SWAP",
            "BTC-USD_UM-SWAP",
            "BTC-USDT-250328",
            "BTC-USDT",
            "BTCUSDT",
            "-USDT-SWAP",
            "B C-USDT-SWAP",
            "BTC-USDT-SWAP-SWAP",
        ] {
            assert_eq!(parse_native(not), None, "{not}");
            assert!(!is_native(not), "{not}");
        }
        for yes in ["BTC-USDT-SWAP", " eth-Usdc-swap ", "1INCH-USDT-SWAP"] {
            assert!(is_native(yes), "{yes}");
        }
        assert!(!is_native("ÉTH-USDT-SWAP"));
        assert!(!is_native("-SWAP"));
    }

    #[test]
    fn nautilus_ids_round_trip() {
        assert_eq!(nautilus_id("BTC-USDT-SWAP"), "BTC-USDT-SWAP.OKX");
        assert_eq!(
            native_of_id("BTC-USDT-SWAP.OKX").as_deref(),
            Some("BTC-USDT-SWAP")
        );
        assert_eq!(
            native_of_id("eth-usdc-swap.okx").as_deref(),
            Some("ETH-USDC-SWAP")
        );
        assert_eq!(native_of_id("BTCUSDT-PERP.BINANCE"), None);
        assert_eq!(native_of_id("BTC-USD-SWAP.OKX"), None);
        assert_eq!(native_of_id("BTCUSDT-PERP.OKX"), None);
    }

    #[test]
    fn the_grammar_reads_every_form() {
        use ccxt_model::{Instrument, SymbolInput};
        ccxt_registry::install().expect("installs");
        let resolve = |typed: &str| {
            let i = SymbolInput::parse(typed).unwrap().resolve(VENUE).unwrap();
            format!("{}={}", i.native, i.id)
        };
        for typed in [
            "BTCUSDT-PERP",
            "BTCUSDT",
            "BTC/USDT:USDT",
            "BTC",
            "btc-usdt-swap",
        ] {
            assert_eq!(resolve(typed), "BTC-USDT-SWAP=BTC-USDT-SWAP.OKX", "{typed}");
        }
        for typed in ["BTCUSDC-PERP", "BTC/USDC:USDC", "BTC-USDC-SWAP"] {
            assert_eq!(resolve(typed), "BTC-USDC-SWAP=BTC-USDC-SWAP.OKX", "{typed}");
        }
        assert_eq!(
            resolve("1000PEPEUSDT-PERP"),
            "PEPE-USDT-SWAP=PEPE-USDT-SWAP.OKX"
        );
        assert_eq!(
            resolve("BTC-USDT-SWAP.OKX"),
            "BTC-USDT-SWAP=BTC-USDT-SWAP.OKX"
        );
        let err = SymbolInput::parse("BTC-USD-SWAP").unwrap_err().to_string();
        assert!(
            err.contains("USDT- or USDC-margined, like BTC-USDT-SWAP"),
            "{err}"
        );
        let err = Instrument::from_id("BTCUSDT-PERP.OKX")
            .unwrap_err()
            .to_string();
        assert!(err.contains("OKX ids look like BTC-USDT-SWAP.OKX"), "{err}");
    }
}
