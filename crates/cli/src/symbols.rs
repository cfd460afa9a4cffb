//! From the symbols and venues a user typed to the instruments to work on.

use ccxt_model::{Instrument, SymbolError, SymbolInput, Venue};

use crate::UsageError;
use crate::cli::VenueArg;

/// The instruments to read: the symbol on each selected venue (all venues by default; venues
/// where the symbol cannot exist are skipped unless asked for by name).
pub fn resolve(symbol: &SymbolInput, venues: &[VenueArg]) -> Result<Vec<Instrument>, UsageError> {
    let explicit: Vec<Venue> = venues.iter().map(|v| Venue::from(*v)).collect();
    let mut out = Vec::new();
    for venue in Venue::ALL {
        if !explicit.is_empty() && !explicit.contains(&venue) {
            continue;
        }
        match symbol.resolve(venue) {
            Ok(instrument) => out.push(instrument),
            Err(e @ SymbolError::Malformed { .. }) => return Err(UsageError(e.to_string())),
            Err(e) if !explicit.is_empty() => return Err(UsageError(e.to_string())),
            Err(_) => {}
        }
    }
    if out.is_empty() {
        let venue = symbol
            .pinned_venue()
            .map(|v| v.as_str())
            .unwrap_or("another venue");
        return Err(UsageError(format!(
            "symbol '{}' names a {venue} instrument, but -e selects only other venues",
            symbol.typed().trim()
        )));
    }
    Ok(out)
}
