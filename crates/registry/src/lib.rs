//! The venues this build knows: the one place that lists them. Adding a venue: one connector
//! crate (with its [`VenueDescriptor`] and [`ccxt_model::VenueGrammar`]) and one line in
//! [`REGISTRY`] (plus its dependency in this crate's `Cargo.toml`).
//!
//! Everything above the venue crates asks the descriptor (URLs, rate limits, the fetcher,
//! capabilities, the liquidation feed) or the installed venue list
//! ([`ccxt_model::venue::all`]), which [`install`] fills from here.

use ccxt_model::Venue;
use ccxt_model::venue::InstallError;
use ccxt_venue::VenueDescriptor;

/// Every venue, one line each, in display order.
pub static REGISTRY: [&dyn VenueDescriptor; 4] = [
    &ccxt_binance::DESCRIPTOR,
    &ccxt_bybit::DESCRIPTOR,
    &ccxt_hyperliquid::DESCRIPTOR,
    &ccxt_okx::DESCRIPTOR,
];

/// Every venue, in the registry's (display) order.
pub fn venues() -> Vec<Venue> {
    REGISTRY.iter().map(|d| d.venue()).collect()
}

/// Installs the registry's venues into [`ccxt_model::venue`], so that venue names, symbols
/// and instrument ids can be read. Call it first thing; later calls do nothing.
pub fn install() -> Result<(), InstallError> {
    ccxt_model::venue::install(&venues())
}

/// The descriptor of `venue`, if the registry lists it.
pub fn descriptor(venue: Venue) -> Option<&'static dyn VenueDescriptor> {
    REGISTRY.iter().copied().find(|d| d.venue() == venue)
}

/// For tests: installs the registry ([`install`]) and returns the venue named `name`.
///
/// # Panics
/// When the registry cannot be installed or lists no such venue (a mistake in the test).
pub fn venue(name: &str) -> Venue {
    install().expect("the registry's venues install");
    name.parse()
        .unwrap_or_else(|e| panic!("test asked for an unknown venue: {e}"))
}

/// For tests: installs the registry ([`install`]) and returns the installed venues.
///
/// # Panics
/// When a different venue list was installed first (a mistake in the test).
pub fn all() -> &'static [Venue] {
    install().expect("the registry's venues install");
    ccxt_model::venue::all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_venue_has_one_entry_and_the_order_is_alphabetical() {
        install().unwrap();
        let all = ccxt_model::venue::all();
        assert_eq!(all, venues().as_slice());
        for venue in all {
            assert_eq!(
                REGISTRY.iter().filter(|d| d.venue() == *venue).count(),
                1,
                "{venue}"
            );
            assert_eq!(descriptor(*venue).map(|d| d.venue()), Some(*venue));
        }
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(install(), Ok(()), "idempotent");
        assert_eq!(venue("Bybit"), ccxt_bybit::VENUE);
    }

    #[test]
    fn help_texts_are_one_line_phrases_naming_their_venue() {
        install().unwrap();
        for d in REGISTRY {
            let name = d.venue().to_string();
            let texts = [Some(d.liquidation_help()), d.oi_history_help()];
            for text in texts.into_iter().flatten() {
                assert!(!text.contains('\n') && !text.ends_with('.'), "{text}");
                assert!(
                    text.to_lowercase().starts_with(&format!("{name} ")),
                    "{text}"
                );
            }
            // Every request of the offline fetcher fails; asking what it serves needs none.
            let fetcher = d.offline_fetcher();
            assert_eq!(fetcher.venue(), d.venue());
        }
    }
}
