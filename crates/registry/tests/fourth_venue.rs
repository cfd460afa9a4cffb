//! A fourth venue plugs into the symbol grammar without any change to ccxt-model: a made-up
//! OKX-like grammar (native `BTC-USDT-SWAP`, ids `BTC-USDT-SWAP.OKX`) installed next to the
//! registry's venues. (Its own test binary: the installed list is per process.)

use ccxt_model::{
    Instrument, Market, NativeForm, Quote, SymbolInput, Venue, VenueGrammar, is_upper_alnum,
};

struct SwapGrammar;

impl VenueGrammar for SwapGrammar {
    fn name(&self) -> &'static str {
        "okx"
    }

    fn nautilus_venue(&self) -> &'static str {
        "OKX"
    }

    fn id_symbol(&self, native: &str) -> String {
        native.to_string()
    }

    fn native_of_id(&self, symbol: &str) -> Result<String, String> {
        parse_swap(symbol)
            .map(|_| symbol.to_string())
            .ok_or_else(|| "OKX ids look like BTC-USDT-SWAP.OKX".to_string())
    }

    fn market_native(&self, market: &Market) -> Result<String, String> {
        match market.quote {
            Quote::Usdt => Ok(format!("{}-USDT-SWAP", market.base)),
            Quote::Usdc => Err("only USDT-margined swaps are collected".to_string()),
        }
    }

    fn native_examples(&self) -> &'static str {
        "OKX BTC-USDT-SWAP"
    }

    fn recognise(&self, typed: &str) -> Option<Result<NativeForm, String>> {
        let upper = typed.to_ascii_uppercase();
        upper.ends_with("-SWAP").then(|| {
            parse_swap(&upper)
                .map(|(base, quote)| NativeForm::Market {
                    base,
                    quote: Some(quote),
                })
                .ok_or_else(|| "OKX swaps look like BTC-USDT-SWAP".to_string())
        })
    }
}

fn parse_swap(symbol: &str) -> Option<(String, Quote)> {
    let mut parts = symbol.split('-');
    let (base, quote, swap) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && swap == "SWAP" && is_upper_alnum(base))
        .then_some(())
        .and_then(|()| Quote::parse(quote).map(|q| (base.to_string(), q)))
}

const OKX: Venue = Venue::new(&SwapGrammar);

fn install() -> &'static [Venue] {
    let mut venues = ccxt_registry::venues();
    venues.push(OKX);
    ccxt_model::venue::install(&venues).expect("installs");
    ccxt_model::venue::all()
}

#[test]
fn a_fourth_grammar_reads_its_own_forms_and_maps_the_generic_ones() {
    let all = install();
    assert_eq!(all.len(), 4);
    assert!(all.windows(2).all(|w| w[0] < w[1]), "okx sorts last");
    assert_eq!("OKX".parse::<Venue>(), Ok(OKX));
    for typed in [
        "BTCUSDT-PERP",
        "BTC/USDT:USDT",
        "BTC",
        "btc-usdt-swap",
        "BTC-USDT-SWAP.OKX",
    ] {
        let input = SymbolInput::parse(typed).unwrap();
        let i = input.resolve(OKX).unwrap();
        assert_eq!(
            (i.native.as_str(), i.id.as_str()),
            ("BTC-USDT-SWAP", "BTC-USDT-SWAP.OKX")
        );
    }
    // The native OKX form is a market, so it names the same market on the other venues.
    let input = SymbolInput::parse("ETH-USDT-SWAP").unwrap();
    assert_eq!(
        input.resolve(ccxt_binance::VENUE).unwrap().native,
        "ETHUSDT"
    );
    assert_eq!(Instrument::from_id("ETH-USDT-SWAP.OKX").unwrap().venue, OKX);
    let err = SymbolInput::parse("BTC/USDC:USDC")
        .unwrap()
        .resolve(OKX)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "symbol 'BTC/USDC:USDC' has no okx instrument: only USDT-margined swaps are collected"
    );
}

#[test]
fn the_error_texts_list_the_fourth_venue() {
    install();
    let err = SymbolInput::parse("BTCUSDT.KRAKEN")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the venue after '.' must be BINANCE, BYBIT, HYPERLIQUID or OKX"),
        "{err}"
    );
    assert!(
        err.ends_with(
            "a venue symbol (BTCUSDT, Hyperliquid BTC or xyz:TSLA, OKX BTC-USDT-SWAP), a ccxt \
symbol (BTC/USDT:USDT, BTC/USDC:USDC) or a NautilusTrader id (BTCUSDT-PERP.BINANCE, \
BTCUSDT-LINEAR.BYBIT, BTC-USD-PERP.HYPERLIQUID, BTC-USDT-SWAP.OKX)"
        ),
        "{err}"
    );
    let err = SymbolInput::parse("BTC-USDT-SWAPX")
        .unwrap_err()
        .to_string();
    assert!(err.contains("letters and digits"), "{err}");
    let err = SymbolInput::parse("BTC-EUR-SWAP").unwrap_err().to_string();
    assert!(err.contains("OKX swaps look like BTC-USDT-SWAP"), "{err}");
    let err = "kraken".parse::<Venue>().unwrap_err().to_string();
    assert_eq!(
        err,
        "unknown venue 'kraken': valid venues are binance, bybit, hyperliquid, okx"
    );
}
