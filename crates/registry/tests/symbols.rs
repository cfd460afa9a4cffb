//! The symbol forms of the registry's venues together: every typed form names the same market on
//! each venue (moved from ccxt-model, which no longer knows the venues).

use ccxt_model::{Instrument, SymbolError, SymbolInput, Venue};

fn all() -> &'static [Venue] {
    ccxt_registry::all()
}

fn ids(typed: &str) -> Vec<String> {
    all();
    let Ok(input) = SymbolInput::parse(typed) else {
        return vec!["malformed".to_string()];
    };
    all()
        .iter()
        .map(|v| match input.resolve(*v) {
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
        "BTC-USDT-SWAP",
        "BTCUSDT-PERP",
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
        "BTC-USDC-SWAP",
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
    assert_eq!(input.pinned_venue(), Some(ccxt_hyperliquid::VENUE));
    let err = input.resolve(ccxt_binance::VENUE).unwrap_err().to_string();
    assert!(err.contains("exist only on hyperliquid"), "{err}");
}

#[test]
fn nautilus_ids_pin_their_venue_and_round_trip() {
    all();
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
        let other = all().iter().copied().find(|v| *v != venue).unwrap();
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
    all();
    for (typed, why) in [
        ("", "empty"),
        ("BTC-PERP", "USDT or USDC quote"),
        ("BTC/USDT", "spot"),
        ("BTC/USD:BTC", "USDT or USDC"),
        ("BTC/USDT:USDC", "settled in their quote"),
        ("BTC USDT", "letters and digits"),
        ("BTCUSD", "inverse"),
        ("BTCUSDT.KRAKEN", "BINANCE, BYBIT, HYPERLIQUID or OKX"),
        ("BTCUSDT.OKX", "OKX ids look like BTC-USDT-SWAP.OKX"),
        ("BTC-USD-SWAP", "USDT- or USDC-margined"),
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
        all();
        let _ = SymbolInput::parse(&s).map(|i| all().iter().map(|v| i.resolve(*v)).collect::<Vec<_>>());
        let _ = Instrument::from_id(&s);
    }

    #[test]
    fn every_resolved_id_reads_back(base in "[A-Z][A-Z0-9]{0,9}", usdc in proptest::bool::ANY) {
        all();
        let typed = format!("{base}{}-PERP", if usdc { "USDC" } else { "USDT" });
        let input = SymbolInput::parse(&typed).unwrap();
        for v in all() {
            let instrument = input.resolve(*v).unwrap();
            proptest::prop_assert_eq!(Instrument::from_id(instrument.id.as_str()).unwrap(), instrument);
        }
    }
}

#[test]
fn the_accepted_forms_list_every_venue() {
    all();
    assert_eq!(
        ccxt_model::accepted_symbol_forms(),
        "accepted forms: BTCUSDT-PERP, a venue symbol (BTCUSDT, Hyperliquid BTC or xyz:TSLA, OKX \
BTC-USDT-SWAP), a ccxt symbol (BTC/USDT:USDT, BTC/USDC:USDC) or a NautilusTrader id \
(BTCUSDT-PERP.BINANCE, BTCUSDT-LINEAR.BYBIT, BTC-USD-PERP.HYPERLIQUID, BTC-USDT-SWAP.OKX)"
    );
    let err = "kraken".parse::<Venue>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown venue 'kraken': valid venues are binance, bybit, hyperliquid, okx"
    );
}
