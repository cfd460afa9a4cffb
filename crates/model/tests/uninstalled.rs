//! Before any venue is installed, look-ups fail with a clear error instead of panicking.

use ccxt_model::{Instrument, SymbolInput, Venue, venue};

#[test]
fn nothing_installed_means_a_clear_error() {
    assert!(venue::all().is_empty());
    let err = "binance".parse::<Venue>().unwrap_err().to_string();
    assert!(err.contains("no venues are registered"), "{err}");
    let err = SymbolInput::parse("BTCUSDT").unwrap_err().to_string();
    assert!(err.contains("no venues are registered"), "{err}");
    let err = Instrument::from_id("BTCUSDT-PERP.BINANCE")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no venues are registered"), "{err}");
}
