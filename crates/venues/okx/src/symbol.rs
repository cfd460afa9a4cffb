//! OKX's symbol grammar, as plain functions.
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
    let upper = s.trim().to_ascii_uppercase();
    let stem = upper.strip_suffix(SWAP_SUFFIX)?;
    let (base, quote) = stem.split_once('-')?;
    let base_ok =
        !base.is_empty() && base.len() <= 40 && base.bytes().all(|b| b.is_ascii_alphanumeric());
    (base_ok && QUOTES.contains(&quote)).then(|| (base.to_string(), quote.to_string()))
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
        }
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
}
